/* gen_rows.c — vs-gen's day generator: the play_log rows of one business day as text lines for
 * LOAD DATA, Zipf popularity, sessions of a Play row usually followed by a Pause, own-video plays
 * and repeats within 30 s (gen.c explains the data set). No I/O but the progress line. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bulk.h"
#include "clock.h"
#include "gen.h"

static uint64_t gen_splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n). The modulo bias is below 2^-40 for the sizes used here. */
uint64_t gen_below(uint64_t *state, uint64_t n)
{
    return gen_splitmix(state) % n;
}

/* Percent chance: 1 with probability pct/100. */
static int gen_chance(uint64_t *state, unsigned pct)
{
    return gen_below(state, 100) < pct;
}

/* Popularity rank by inverse CDF (binary search); rank 0 is the most popular. */
static uint32_t gen_zipf(gen_day *g)
{
    uint64_t total = g->zipf_cdf[g->args->videos - 1];
    uint64_t x = gen_below(&g->rng, total);
    uint32_t lo = 0, hi = (uint32_t)g->args->videos - 1;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (g->zipf_cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Appends "s\t" fields without printf: the hot path. */
static char *gen_put_u64(char *p, uint64_t v)
{
    p += bulk_fmt_u64(p, v);
    *p++ = '\t';
    return p;
}

static char *gen_put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    p[n] = '\t';
    return p + n + 1;
}

/* The event id prefix of a data set's day: "g", 8 hex digits of a hash of the arguments that shape
 * the data, 5 hex digits of the business date; the row's 10-digit sequence number follows. Short
 * ids keep play_log's unique index (and the binlog) small; ids grow within a day, so the index is
 * appended to, not scattered. */
void gen_tag(const gen_args *a, business_date day, char *out, size_t outlen)
{
    const int64_t shape[4] = {a->seed, a->videos, a->users, a->creators};
    uint32_t h = 2166136261u; /* FNV-1a */

    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 8; b++) {
            h ^= (uint8_t)((uint64_t)shape[i] >> (8 * b));
            h *= 16777619u;
        }
    }
    snprintf(out, outlen, "g%08x%05x", h, (unsigned)day & 0xfffff);
}

/* Writes the next row of the day into out (room for 256 bytes); returns its length. */
static int gen_next_row(gen_day *g, char *out)
{
    const gen_video *v;
    int64_t seq = g->next_row++;
    int kind, position, from = 0, to = 0, watch = 0, ads = 0, counted = 0, reason = 0;
    char *p = out;
    char seqtext[24];
    int n;

    if (g->pause_pending) {
        v = &g->videos[g->video];
        kind = 2;
        from = g->p0;
        to = g->credited_to;
        position = to;
        watch = to - from;
        ads = g->ads;
        g->pause_pending = 0;
    } else {
        int repeat = g->have_prev && gen_chance(&g->rng, 5);

        kind = 1;
        if (repeat) {
            g->video = g->prev_video;
            g->viewer = g->prev_viewer;
        } else {
            g->video = g->rank_video[gen_zipf(g)];
            g->viewer = g->user_ids[gen_below(&g->rng, (uint64_t)g->args->users)];
        }
        v = &g->videos[g->video];
        if (!repeat && gen_chance(&g->rng, 1))
            g->viewer = v->creator_id;
        if (g->viewer == v->creator_id)
            reason = 1; /* OWN_VIDEO */
        else if (repeat)
            reason = 2; /* REPEAT: the same viewer within 30 s */
        counted = reason == 0;
        g->p0 = gen_chance(&g->rng, 70) ? 0 : (int)gen_below(&g->rng, (uint64_t)v->duration_s);
        position = g->p0;
        {
            int room = v->duration_s - g->p0;
            int most = room < 1800 ? room : 1800;
            int end = g->p0 + (int)gen_below(&g->rng, (uint64_t)most + 1);
            int last_ad = end < v->duration_s ? end : v->duration_s - 1;

            g->credited_to = end;
            /* ad positions 300, 600, ... < duration inside (p0, end]; not for owner or repeat */
            g->ads = reason == 0 && last_ad > g->p0 ? last_ad / 300 - g->p0 / 300 : 0;
        }
        g->pause_pending = g->next_row < g->rows_day && gen_chance(&g->rng, 90);
        g->prev_video = g->video;
        g->prev_viewer = g->viewer;
        g->have_prev = 1;
    }
    /* event id: the day's tag and the row's 10-digit sequence number */
    memcpy(p, g->tag, g->tag_len);
    p += g->tag_len;
    n = bulk_fmt_u64(seqtext, (uint64_t)seq);
    memset(p, '0', (size_t)(10 - n));
    p = gen_put_str(p + 10 - n, seqtext, (size_t)n);
    p = gen_put_u64(p, (uint64_t)kind);
    p = gen_put_u64(p, v->id);
    p = gen_put_u64(p, g->viewer);
    p = gen_put_str(p, g->day_text, 10);
    p = gen_put_u64(p, (uint64_t)(g->day_start_ms + seq * 86400000 / g->rows_day));
    p = gen_put_u64(p, (uint64_t)position);
    p = gen_put_u64(p, (uint64_t)from);
    p = gen_put_u64(p, (uint64_t)to);
    p = gen_put_u64(p, (uint64_t)watch);
    p = gen_put_u64(p, (uint64_t)ads);
    p = gen_put_u64(p, (uint64_t)counted);
    p = gen_put_u64(p, (uint64_t)reason);
    p[-1] = '\n';
    return (int)(p - out);
}

#define GEN_BAR_WIDTH 30

void gen_progress(gen_day *g, int final)
{
    int64_t now = clock_mono_ms();
    int64_t done = *g->rows_loaded + g->next_row;
    int64_t elapsed = now - g->started_ms;
    int64_t rate = elapsed > 0 ? done * 1000 / elapsed : 0;
    int64_t eta = rate > 0 ? (g->rows_all - done) / rate : 0;

    char bar[GEN_BAR_WIDTH + 1];
    int filled = g->rows_all > 0 ? (int)(done * GEN_BAR_WIDTH / g->rows_all) : GEN_BAR_WIDTH;

    if (!final && now - g->last_report_ms < (g->tty ? 500 : 5000))
        return;
    g->last_report_ms = now;
    for (int i = 0; i < GEN_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[GEN_BAR_WIDTH] = '\0';
    fprintf(stderr,
            "%sgen: [%s] %3d%% %s %" PRId64 "/%" PRId64 " rows, %" PRId64 " rows/s, ETA %" PRId64
            "s%s",
            g->tty ? "\r" : "", bar, g->rows_all > 0 ? (int)(done * 100 / g->rows_all) : 100,
            g->day_text, done, g->rows_all, rate, eta, g->tty && !final ? "   " : "\n");
}

/* bulk_fill_fn: whole rows until the chunk ends or the buffer is full. */
long gen_fill(void *ctx, char *buf, size_t cap)
{
    gen_day *g = ctx;
    size_t len = 0;

    if (g->pending_len > 0) {
        if ((size_t)g->pending_len > cap)
            return -1;
        memcpy(buf, g->pending, (size_t)g->pending_len);
        len = (size_t)g->pending_len;
        g->pending_len = 0;
    }
    while (g->next_row < g->chunk_end) {
        int n = gen_next_row(g, g->pending);

        if (len + (size_t)n > cap) {
            g->pending_len = n;
            break;
        }
        memcpy(buf + len, g->pending, (size_t)n);
        len += (size_t)n;
    }
    gen_progress(g, 0);
    return (long)len;
}
