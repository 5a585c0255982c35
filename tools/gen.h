/* gen.h — vs-gen's day generator (gen_rows.c) and what vs-gen's loader (gen.c) shares with it.
 * The rows are a function of the arguments alone: the same arguments give the same rows. */
#ifndef VS_TOOLS_GEN_H
#define VS_TOOLS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

typedef struct gen_args {
    int64_t rows, days, videos, users, creators, seed, chunk;
    business_date start;
    int have_start;
} gen_args;

typedef struct gen_video {
    uint64_t id;
    uint64_t creator_id;
    int duration_s;
} gen_video;

/* The generator of one business day's rows. */
typedef struct gen_day {
    const gen_args *args;
    const gen_video *videos;
    const uint64_t *user_ids;
    const uint64_t *zipf_cdf;   /* cumulative integer weights by popularity rank */
    const uint32_t *rank_video; /* popularity rank -> index into videos */
    uint64_t rng;
    business_date day;
    char day_text[11];
    char tag[32]; /* event id prefix: g<data set hash, 8 hex><business date, 5 hex> */
    size_t tag_len;
    int64_t day_start_ms;
    int64_t rows_day, next_row, chunk_end;
    /* the session in progress: its Pause row is still to come */
    int pause_pending;
    uint32_t video, prev_video;
    uint64_t viewer, prev_viewer;
    int p0, credited_to, ads, have_prev;
    /* a row that did not fit the last buffer */
    char pending[256];
    int pending_len;
    /* progress */
    int64_t *rows_loaded;
    int64_t rows_all, started_ms, last_report_ms;
    int tty;
} gen_day;

/* Uniform in [0, n) from the splitmix64 state. */
uint64_t gen_below(uint64_t *state, uint64_t n);

/* The event id prefix of the data set's day (room for 32 bytes in out). */
void gen_tag(const gen_args *a, business_date day, char *out, size_t outlen);

/* Prints the progress bar line (at most every 0.5 s on a terminal, 5 s otherwise; always when
 * final). */
void gen_progress(gen_day *g, int final);

/* bulk_fill_fn: the day's next whole rows until the chunk ends or the buffer (cap bytes) is full;
 * returns the bytes written, -1 when a row cannot fit an empty buffer. */
long gen_fill(void *ctx, char *buf, size_t cap);

#endif
