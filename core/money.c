/* money.c — F(n), daily amounts and band lines over a rate card (pure integer code). */
#include "money.h"

#include <stdio.h>
#include <string.h>

void money_card_default(money_kind kind, money_card *out)
{
    static const int64_t starts[4] = {1, 100000, 500000, 1000000};
    static const int64_t video_milli[4] = {1000, 1100, 1300, 1500};
    static const int64_t ad_milli[4] = {10000, 12000, 15000, 20000};

    memset(out, 0, sizeof *out);
    out->version = 1;
    out->kind = kind;
    out->n_bands = 4;
    for (int b = 0; b < 4; b++) {
        out->bands[b].first_ordinal = starts[b];
        out->bands[b].price_milli = kind == MONEY_AD ? ad_milli[b] : video_milli[b];
    }
}

vs_status money_card_check(const money_card *card, char *err, size_t errlen)
{
    if (card->n_bands < 1 || card->n_bands > MONEY_MAX_BANDS) {
        snprintf(err, errlen, "rate card %u: %d bands (1..%d allowed)", card->version,
                 card->n_bands, MONEY_MAX_BANDS);
        return VS_INVALID_ARGUMENT;
    }
    if (card->bands[0].first_ordinal != 1) {
        snprintf(err, errlen, "rate card %u: band 1 starts at %lld, not at the 1st view",
                 card->version, (long long)card->bands[0].first_ordinal);
        return VS_INVALID_ARGUMENT;
    }
    for (int b = 0; b < card->n_bands; b++) {
        const money_band *band = &card->bands[b];

        if (b > 0 && band->first_ordinal <= card->bands[b - 1].first_ordinal) {
            snprintf(err, errlen, "rate card %u: band %d starts at %lld, not after band %d",
                     card->version, b + 1, (long long)band->first_ordinal, b);
            return VS_INVALID_ARGUMENT;
        }
        if (band->first_ordinal > MONEY_MAX_ORDINAL) {
            snprintf(err, errlen, "rate card %u: band %d starts beyond %lld", card->version, b + 1,
                     (long long)MONEY_MAX_ORDINAL);
            return VS_INVALID_ARGUMENT;
        }
        if (band->price_milli < 0 || band->price_milli > MONEY_MAX_PRICE_MILLI) {
            snprintf(err, errlen, "rate card %u: band %d price %lld milli-won out of 0..%lld",
                     card->version, b + 1, (long long)band->price_milli,
                     (long long)MONEY_MAX_PRICE_MILLI);
            return VS_INVALID_ARGUMENT;
        }
    }
    return VS_OK;
}

/* Last ordinal of band b (inclusive); INT64_MAX for the open last band. */
static int64_t money_band_last(const money_card *card, int b)
{
    return b + 1 < card->n_bands ? card->bands[b + 1].first_ordinal - 1 : INT64_MAX;
}

vs_status money_band_lines(const money_card *card, int64_t before, int64_t after,
                           money_line lines[MONEY_MAX_BANDS], int *n_lines)
{
    *n_lines = 0;
    if (before < 0 || after < before || after > MONEY_MAX_ORDINAL)
        return VS_OUT_OF_RANGE;
    /* The interval is ordinals before+1 .. after; clip it to each band. */
    for (int b = 0; b < card->n_bands && before < after; b++) {
        int64_t lo = card->bands[b].first_ordinal;
        int64_t hi = money_band_last(card, b);
        int64_t from = before + 1 > lo ? before + 1 : lo;
        int64_t to = after < hi ? after : hi;
        money_line *line;
        int64_t amount;

        if (from > to)
            continue;
        line = &lines[(*n_lines)++];
        line->band = b + 1;
        line->first_ordinal = from;
        line->last_ordinal = to;
        line->units = to - from + 1;
        line->price_milli = card->bands[b].price_milli;
        /* cannot overflow for a checked card (see MONEY_MAX_ORDINAL); checked all the same */
        if (__builtin_mul_overflow(line->units, line->price_milli, &amount))
            return VS_OUT_OF_RANGE;
        line->amount_milli = amount;
    }
    return VS_OK;
}

vs_status money_value_milli(const money_card *card, int64_t n, int64_t *out)
{
    money_line lines[MONEY_MAX_BANDS];
    int n_lines;
    int64_t sum = 0;
    vs_status rc;

    *out = 0;
    rc = money_band_lines(card, 0, n, lines, &n_lines);
    if (rc != VS_OK)
        return rc;
    for (int i = 0; i < n_lines; i++) {
        if (__builtin_add_overflow(sum, lines[i].amount_milli, &sum))
            return VS_OUT_OF_RANGE;
    }
    *out = sum;
    return VS_OK;
}

vs_status money_amount(const money_card *card, int64_t before, int64_t after, int64_t *won,
                       int64_t *exact_milli)
{
    int64_t f_before, f_after;
    vs_status rc;

    *won = 0;
    if (exact_milli != NULL)
        *exact_milli = 0;
    if (after < before)
        return VS_OUT_OF_RANGE;
    rc = money_value_milli(card, before, &f_before);
    if (rc == VS_OK)
        rc = money_value_milli(card, after, &f_after);
    if (rc != VS_OK)
        return rc;
    /* F >= 0, so C division truncates exactly as floor does */
    *won = f_after / 1000 - f_before / 1000;
    if (exact_milli != NULL)
        *exact_milli = f_after - f_before;
    return VS_OK;
}
