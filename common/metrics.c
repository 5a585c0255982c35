/* metrics.c — histogram recording and the text exposition (metrics.h). */
#include "metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t metrics_bounds_request_us[16] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
const int64_t metrics_bounds_batch_ms[16] = {
    10,   25,    50,    100,   250,    500,    1000,   2500,
    5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000,
};
const int64_t metrics_bounds_size[11] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

void metrics_observe(metrics_histogram *h, int64_t value)
{
    int i = 0, n = h->n_bounds < METRICS_MAX_BOUNDS ? h->n_bounds : METRICS_MAX_BOUNDS;

    if (value < 0)
        value = 0;
    while (i < n && value > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void metrics_text_init(metrics_text *t, size_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max;
}

void metrics_text_free(metrics_text *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Room for need more bytes (and a NUL); 0 when the text is or becomes failed. */
static int text_reserve(metrics_text *t, size_t need)
{
    size_t cap;
    char *grown;

    if (t->failed)
        return 0;
    if (t->len + need + 1 <= t->cap)
        return 1;
    if (t->len + need + 1 > t->max) {
        t->failed = 1;
        return 0;
    }
    cap = t->cap ? t->cap : 4096;
    while (cap < t->len + need + 1)
        cap *= 2;
    if (cap > t->max)
        cap = t->max;
    grown = realloc(t->buf, cap);
    if (grown == NULL) {
        t->failed = 1;
        return 0;
    }
    t->buf = grown;
    t->cap = cap;
    return 1;
}

static void text_put(metrics_text *t, const char *s, size_t n)
{
    if (!text_reserve(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_puts(metrics_text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* s with the exposition format's escapes: backslash and newline always, the double quote in
 * label values (quote = 1) only. */
static void text_escaped(metrics_text *t, const char *s, int quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            text_put(t, "\\\\", 2);
        else if (*s == '\n')
            text_put(t, "\\n", 2);
        else if (*s == '"' && quote)
            text_put(t, "\\\"", 2);
        else
            text_put(t, s, 1);
    }
}

/* Only in assert(): unused, and so marked, when NDEBUG drops the asserts (Release). */
static int __attribute__((unused)) name_valid(const char *s)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return 0;
    return 1;
}

void metrics_family(metrics_text *t, const char *name, metrics_type type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};

    assert(name_valid(name));
    text_puts(t, "# HELP ");
    text_puts(t, name);
    text_puts(t, " ");
    text_escaped(t, help, 0);
    text_puts(t, "\n# TYPE ");
    text_puts(t, name);
    text_puts(t, " ");
    text_puts(t, types[type]);
    text_puts(t, "\n");
}

/* name{labels[,extra]} — extra (may be NULL) is one more label, for histogram buckets. */
static void text_series(metrics_text *t, const char *name, const char *suffix,
                        const metrics_label *labels, size_t n, const metrics_label *extra)
{
    assert(name_valid(name));
    text_puts(t, name);
    text_puts(t, suffix);
    if (n == 0 && extra == NULL)
        return;
    text_puts(t, "{");
    for (size_t i = 0; i < n + (extra != NULL); i++) {
        const metrics_label *l = i < n ? &labels[i] : extra;

        assert(name_valid(l->name));
        if (i > 0)
            text_puts(t, ",");
        text_puts(t, l->name);
        text_puts(t, "=\"");
        text_escaped(t, l->value, 1);
        text_puts(t, "\"");
    }
    text_puts(t, "}");
}

/* value / 10^digits as a decimal without trailing zeros: 1500 with 6 digits is "0.0015". */
static void format_scaled(char *out, size_t outlen, int64_t value, int digits)
{
    uint64_t mag = value < 0 ? 0 - (uint64_t)value : (uint64_t)value, scale = 1, whole, frac;
    char fracs[24];
    int len;

    for (int i = 0; i < digits; i++)
        scale *= 10;
    whole = mag / scale;
    frac = mag % scale;
    if (frac == 0) {
        snprintf(out, outlen, "%s%" PRIu64, value < 0 ? "-" : "", whole);
        return;
    }
    len = snprintf(fracs, sizeof fracs, "%0*" PRIu64, digits, frac);
    while (len > 0 && fracs[len - 1] == '0')
        fracs[--len] = '\0';
    snprintf(out, outlen, "%s%" PRIu64 ".%s", value < 0 ? "-" : "", whole, fracs);
}

void metrics_sample(metrics_text *t, const char *name, const metrics_label *labels, size_t n,
                    int64_t value, int digits)
{
    char text[48];

    format_scaled(text, sizeof text, value, digits);
    text_series(t, name, "", labels, n, NULL);
    text_puts(t, " ");
    text_puts(t, text);
    text_puts(t, "\n");
}

void metrics_sample_u64(metrics_text *t, const char *name, const metrics_label *labels, size_t n,
                        uint64_t value)
{
    char text[24];

    snprintf(text, sizeof text, "%" PRIu64, value);
    text_series(t, name, "", labels, n, NULL);
    text_puts(t, " ");
    text_puts(t, text);
    text_puts(t, "\n");
}

void metrics_sample_histogram(metrics_text *t, const char *name, const metrics_label *labels,
                              size_t n, const metrics_histogram *h, int digits)
{
    metrics_histogram *m = (metrics_histogram *)h;
    int nb = h->n_bounds < METRICS_MAX_BOUNDS ? h->n_bounds : METRICS_MAX_BOUNDS;
    uint64_t cumulative = 0;
    char le[48], text[24];

    for (int i = 0; i <= nb; i++) {
        metrics_label bucket = {"le", "+Inf"};

        cumulative += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
        if (i < nb) {
            format_scaled(le, sizeof le, h->bounds[i], digits);
            bucket.value = le;
        }
        snprintf(text, sizeof text, " %" PRIu64 "\n", cumulative);
        text_series(t, name, "_bucket", labels, n, &bucket);
        text_puts(t, text);
    }
    format_scaled(le, sizeof le, atomic_load_explicit(&m->sum, memory_order_relaxed), digits);
    text_series(t, name, "_sum", labels, n, NULL);
    text_puts(t, " ");
    text_puts(t, le);
    text_puts(t, "\n");
    snprintf(text, sizeof text, " %" PRIu64 "\n", cumulative);
    text_series(t, name, "_count", labels, n, NULL);
    text_puts(t, text);
}

void metrics_write_one(metrics_text *t, const char *name, metrics_type type, const char *help,
                       int64_t value, int digits)
{
    metrics_family(t, name, type, help);
    metrics_sample(t, name, NULL, 0, value, digits);
}

void metrics_write_counters(metrics_text *t, const char *name, const char *help, const char *label,
                            const char *const *values, const metrics_counter *counters, size_t n)
{
    metrics_family(t, name, METRICS_COUNTER, help);
    for (size_t i = 0; i < n; i++) {
        metrics_label l = {label, values[i]};

        metrics_sample_u64(t, name, &l, 1, metrics_counter_get(&counters[i]));
    }
}

void metrics_write_histogram(metrics_text *t, const char *name, const char *help,
                             const metrics_histogram *h, int digits)
{
    metrics_family(t, name, METRICS_HISTOGRAM, help);
    metrics_sample_histogram(t, name, NULL, 0, h, digits);
}
