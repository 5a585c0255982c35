/* topn_rank.c — ordering videos for a top-N list. */
#include "topn_rank.h"

#include <stdlib.h>

int topn_before(const topn_item *a, const topn_item *b)
{
    if (a->value != b->value)
        return a->value > b->value;
    return a->video_id < b->video_id;
}

static int topn_cmp(const void *a, const void *b)
{
    return topn_before(a, b) ? -1 : topn_before(b, a) ? 1 : 0;
}

static int topn_cmp_by_creator(const void *a, const void *b)
{
    const topn_item *x = a, *y = b;

    if (x->creator_id != y->creator_id)
        return x->creator_id < y->creator_id ? -1 : 1;
    return topn_cmp(a, b);
}

size_t topn_rank(topn_item *items, size_t n)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        if (items[i].value > 0)
            items[m++] = items[i];
    }
    qsort(items, m, sizeof *items, topn_cmp);
    return m;
}

void topn_rank_by_creator(topn_item *items, size_t n)
{
    qsort(items, n, sizeof *items, topn_cmp_by_creator);
}

int topn_limit(uint32_t requested, uint32_t *n)
{
    uint32_t want = requested ? requested : TOPN_DEFAULT;

    if (want > TOPN_MAX)
        return 0;
    *n = want;
    return 1;
}
