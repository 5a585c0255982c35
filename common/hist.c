/* hist.c — log-linear latency histogram. */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
}

static int hist_index(int64_t v)
{
    int e, idx;

    if (v < HIST_EXACT)
        return (int)v;
    e = 63 - __builtin_clzll((unsigned long long)v); /* 2^e <= v < 2^(e+1), e >= 7 */
    if (e > HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    idx = HIST_EXACT + (e - 7) * (1 << HIST_SUB_BITS) +
          (int)((v >> (e - HIST_SUB_BITS)) & ((1 << HIST_SUB_BITS) - 1));
    return idx;
}

/* The largest value that falls in bucket i. */
static int64_t hist_upper(int i)
{
    int e, sub;

    if (i < HIST_EXACT)
        return i;
    e = (i - HIST_EXACT) / (1 << HIST_SUB_BITS) + 7;
    sub = (i - HIST_EXACT) % (1 << HIST_SUB_BITS);
    return ((INT64_C(1) << e) | ((int64_t)sub << (e - HIST_SUB_BITS))) +
           (INT64_C(1) << (e - HIST_SUB_BITS)) - 1;
}

void hist_record(hist *h, int64_t v)
{
    if (v < 0)
        v = 0;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
    h->buckets[hist_index(v)]++;
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

int64_t hist_quantile(const hist *h, double q)
{
    int64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    rank = (int64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            int64_t up = hist_upper(i);
            /* the last bucket also holds everything beyond 2^HIST_MAX_EXP */
            return up < h->max && i < HIST_BUCKETS - 1 ? up : h->max;
        }
    }
    return h->max;
}
