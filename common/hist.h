/* hist.h — a latency histogram for load tools: log-linear buckets (exact below 128, then 64
 * sub-buckets per power of two, so any recorded value is reported within 1/64 ≈ 1.6% above it),
 * fixed size, no allocation, mergeable. One per thread, merged at the end. Pure code. */
#ifndef VS_HIST_H
#define VS_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_EXACT 128  /* values below are their own bucket */
#define HIST_MAX_EXP 46 /* values up to 2^46 (about 2.2 years in microseconds) */
#define HIST_BUCKETS (HIST_EXACT + (HIST_MAX_EXP - 7 + 1) * (1 << HIST_SUB_BITS))

typedef struct hist {
    int64_t count;
    int64_t sum;
    int64_t min, max; /* exact */
    int64_t buckets[HIST_BUCKETS];
} hist;

void hist_init(hist *h);

/* Records one value (negative counts as 0; beyond 2^46 lands in the last bucket, max stays exact).
 */
void hist_record(hist *h, int64_t value);

/* Adds src's counts into dst. */
void hist_merge(hist *dst, const hist *src);

/* The value at quantile q (0 < q <= 1): the upper bound of the bucket holding the ceil(q·count)-th
 * smallest value, capped at the exact max (so it is never below the true quantile, and at most
 * 1/64 above it). 0 when empty. */
int64_t hist_quantile(const hist *h, double q);

#endif
