/* read_model_table.h — the read model's in-memory tables (read_model_table.c): the videos table
 * and one settled day's rows, with their indexes and lookups. Pure memory: no database, no
 * snapshot, no thread. The loader (read_model_load.c) builds them; the snapshots and lookups of
 * read_model.c read them. The public side of the read model is in reads.h.
 *
 * A table is immutable once published and reference-counted on its own, so a new snapshot (one
 * day added or replaced) shares everything else with the previous one. Dense video indexes are
 * the videos' load order; a videos table only ever grows by appending, so a day's index stays
 * valid in every later table. */
#ifndef VS_READ_MODEL_TABLE_H
#define VS_READ_MODEL_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "window.h"

/* One video's settled figures of a day: its video_daily_stats row and its settlement_daily row,
 * checked at load to agree (views = views_after − views_before, likewise ads; total = video + ad;
 * the band lines of its card add up to the stored exact values), so only what a reply needs is
 * kept and the rest is derived exactly. */
typedef struct model_row {
    int64_t views_before, ad_views_before; /* lifetime counts at the end of the previous day */
    int64_t views, ad_views, watch_s;      /* the day's */
    int64_t video_won, ad_won;
    uint32_t version; /* rate card */
    uint32_t video;   /* dense index */
} model_row;

typedef struct model_day {
    atomic_int refs;
    business_date day;
    uint64_t version; /* settled_snapshot_version of the completion it was loaded under */
    uint32_t n_index; /* videos the index covers (the table's size at load) */
    int32_t *index;   /* [n_index]: row of the video, -1 for none */
    model_row *rows;
    size_t n_rows;
    size_t bytes;
} model_day;

typedef struct model_videos {
    atomic_int refs;
    size_t n;
    uint64_t *id;         /* by dense index */
    uint64_t *creator;    /* by dense index */
    uint32_t *title_off;  /* by dense index, into titles (NUL-terminated) */
    uint32_t *by_id;      /* dense indexes ordered by id */
    uint32_t *by_creator; /* dense indexes ordered by (creator, id) */
    char *titles;
    size_t titles_len;
    uint64_t max_id;
    size_t bytes;
} model_videos;

/* A videos table being built: the table (one reference, owned by the builder until handed on)
 * and the room its arrays have. */
typedef struct model_videos_build {
    model_videos *v;
    size_t cap, titles_cap;
} model_videos_build;

/* Reference counting; *_put(NULL) is a no-op. */
void model_day_put(model_day *d);
void model_videos_put(model_videos *v);

/* Starts b as a new, unindexed table holding old's videos (old may be NULL). On failure b->v may
 * hold a partial table: release it with model_videos_put(b->v). */
vs_status model_videos_begin(const model_videos *old, model_videos_build *b);

/* Appends one video (title of len bytes, copied). VS_RESOURCE_EXHAUSTED when out of memory or the
 * titles would pass 4 GiB; b is unchanged then. */
vs_status model_videos_append(model_videos_build *b, uint64_t id, uint64_t creator,
                              const char *title, size_t len);

/* Builds the by_id and by_creator orders and the byte count of v (after its arrays are filled).
 * The loader thread only: the orders are sorted with a process-wide qsort context. */
vs_status model_videos_index(model_videos *v);

/* Dense index of video id in v, or -1. */
int64_t model_video_find(const model_videos *v, uint64_t id);

/* The range [*first, *end) of v->by_creator holding creator's videos (empty when none). */
void model_creator_range(const model_videos *v, uint64_t creator, size_t *first, size_t *end);

/* The row of dense video idx on day d, or NULL (d may be NULL). */
const model_row *model_row_of(const model_day *d, uint32_t idx);

#endif
