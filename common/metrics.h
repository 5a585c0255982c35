/* metrics.h — counters, gauges and histograms for Prometheus, and their text exposition
 * (format 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * The metric values are plain structs of atomics, zero-initialised, that a module keeps next to
 * what it measures (usually a file-scope static or a field of its state): no registry, nothing to
 * start or stop. Updating one is a relaxed atomic add — no lock, no allocation — so they are fine
 * on hot paths. Values are integers in the unit the code measures (microseconds, bytes, rows);
 * rendering scales them to Prometheus's base units (seconds, bytes) by a power of ten.
 *
 * Rendering is pull-based: a process's metrics endpoint (metrics_http.h) calls one collector per
 * part, and each collector writes its families into a metrics_text — a bounded buffer — with the
 * functions below, which write the HELP and TYPE lines, escape label values and help texts, and
 * spell histograms as cumulative `_bucket{le=...}` samples plus `_sum` and `_count`. Label sets
 * are fixed by the code (a label's values come from a table, never from a peer). */
#ifndef VS_METRICS_H
#define VS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics_counter {
    atomic_uint_fast64_t value;
} metrics_counter;

typedef struct metrics_gauge {
    atomic_int_fast64_t value;
} metrics_gauge;

#define METRICS_MAX_BOUNDS 24

/* Buckets with fixed upper bounds (ascending, in the recorded unit; a value equal to a bound
 * falls in that bound's bucket) plus one for everything above the last. counts[] are per bucket;
 * rendering makes them cumulative, and takes _count as their total, so +Inf equals _count in
 * every scrape. Declare with METRICS_HISTOGRAM(bounds). */
typedef struct metrics_histogram {
    const int64_t *bounds;
    int n_bounds; /* at most METRICS_MAX_BOUNDS */
    atomic_uint_fast64_t counts[METRICS_MAX_BOUNDS + 1];
    atomic_int_fast64_t sum;
} metrics_histogram;

#define METRICS_HISTOGRAM(b)                                                                       \
    {                                                                                              \
        .bounds = (b), .n_bounds = (int)(sizeof(b) / sizeof((b)[0]))                               \
    }

/* Bucket bounds shared by the programs: durations in microseconds from 100 µs to 10 s (requests,
 * commit rounds), durations in milliseconds from 10 ms to 30 min (batch scans and merges), and
 * sizes from 1 to 1024 (events in a round). */
extern const int64_t metrics_bounds_request_us[16];
extern const int64_t metrics_bounds_batch_ms[16];
extern const int64_t metrics_bounds_size[11];

static inline void metrics_add(metrics_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

static inline void metrics_inc(metrics_counter *c)
{
    metrics_add(c, 1);
}

static inline uint64_t metrics_counter_get(const metrics_counter *c)
{
    return atomic_load_explicit(&((metrics_counter *)c)->value, memory_order_relaxed);
}

static inline void metrics_set(metrics_gauge *g, int64_t v)
{
    atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

static inline void metrics_gauge_add(metrics_gauge *g, int64_t d)
{
    atomic_fetch_add_explicit(&g->value, d, memory_order_relaxed);
}

static inline int64_t metrics_gauge_get(const metrics_gauge *g)
{
    return atomic_load_explicit(&((metrics_gauge *)g)->value, memory_order_relaxed);
}

/* Records one value (a negative one counts as 0). */
void metrics_observe(metrics_histogram *h, int64_t value);

/* ---- text exposition ---- */

typedef enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type;

typedef struct metrics_label {
    const char *name, *value;
} metrics_label;

/* The text being rendered: grows up to max bytes. Past that (or out of memory) it is failed:
 * further writes are dropped, and the scrape answers 500 rather than a cut-off body. */
typedef struct metrics_text {
    char *buf;
    size_t len, cap, max;
    int failed;
} metrics_text;

void metrics_text_init(metrics_text *t, size_t max);
void metrics_text_free(metrics_text *t);

/* The HELP and TYPE lines of family name. Names and label names are the code's constants;
 * they must match [a-zA-Z_:][a-zA-Z0-9_:]* (asserted). */
void metrics_family(metrics_text *t, const char *name, metrics_type type, const char *help);

/* One sample `name{labels} value`: value / 10^digits, written exactly (digits 6 renders
 * microseconds as seconds, 0 a plain integer). n may be 0 (labels then unused). */
void metrics_sample(metrics_text *t, const char *name, const metrics_label *labels, size_t n,
                    int64_t value, int digits);
void metrics_sample_u64(metrics_text *t, const char *name, const metrics_label *labels, size_t n,
                        uint64_t value);

/* The samples of histogram h: name_bucket{labels,le="..."} for each bound and +Inf, name_sum
 * and name_count; bounds and sum divided by 10^digits. */
void metrics_sample_histogram(metrics_text *t, const char *name, const metrics_label *labels,
                              size_t n, const metrics_histogram *h, int digits);

/* A family with one unlabelled sample. */
void metrics_write_one(metrics_text *t, const char *name, metrics_type type, const char *help,
                       int64_t value, int digits);

/* A counter family with one label whose values are values[0..n): counters[i] is values[i]'s. */
void metrics_write_counters(metrics_text *t, const char *name, const char *help, const char *label,
                            const char *const *values, const metrics_counter *counters, size_t n);

/* A histogram family without labels. */
void metrics_write_histogram(metrics_text *t, const char *name, const char *help,
                             const metrics_histogram *h, int digits);

/* ---- the process (metrics_process.c) ---- */

/* The standard process_* families of the calling process, from /proc: resident memory, virtual
 * memory, CPU seconds, open and maximum file descriptors, start time. */
void metrics_process_collect(metrics_text *t);

#endif
