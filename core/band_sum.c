/* band_sum.c — summing band lines per (card version, band). */
#include "band_sum.h"

#include <string.h>

void band_sum_init(band_sum *s)
{
    s->n = 0;
}

/* Index of (version, band) in s, or where it belongs (*found 0). */
static int band_sum_find(const band_sum *s, uint32_t version, int band, int *found)
{
    int i = 0;

    while (i < s->n && (s->lines[i].version < version ||
                        (s->lines[i].version == version && s->lines[i].band < band)))
        i++;
    *found = i < s->n && s->lines[i].version == version && s->lines[i].band == band;
    return i;
}

vs_status band_sum_add(band_sum *s, const money_card *card, const money_line *lines, int n)
{
    band_sum copy = *s; /* all or nothing */

    for (int k = 0; k < n; k++) {
        const money_line *l = &lines[k];
        band_sum_line *t;
        int found, i;

        if (l->band < 1 || l->band > card->n_bands)
            return VS_INVALID_ARGUMENT;
        i = band_sum_find(&copy, card->version, l->band, &found);
        if (!found) {
            if (copy.n == BAND_SUM_MAX)
                return VS_RESOURCE_EXHAUSTED;
            memmove(&copy.lines[i + 1], &copy.lines[i],
                    (size_t)(copy.n - i) * sizeof copy.lines[0]);
            copy.n++;
            t = &copy.lines[i];
            memset(t, 0, sizeof *t);
            t->version = card->version;
            t->band = l->band;
            t->first_ordinal = card->bands[l->band - 1].first_ordinal;
            t->last_ordinal = l->band < card->n_bands ? card->bands[l->band].first_ordinal - 1 : 0;
            t->price_milli = l->price_milli;
        }
        t = &copy.lines[i];
        if (__builtin_add_overflow(t->units, l->units, &t->units) ||
            __builtin_add_overflow(t->amount_milli, l->amount_milli, &t->amount_milli))
            return VS_OUT_OF_RANGE;
    }
    *s = copy;
    return VS_OK;
}

int64_t band_sum_total_milli(const band_sum *s)
{
    int64_t total = 0;

    for (int i = 0; i < s->n; i++)
        total += s->lines[i].amount_milli;
    return total;
}
