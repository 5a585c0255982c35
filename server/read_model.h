/* read_model.h — internals shared by read_model.c (snapshots, lookups, the loader thread) and
 * read_model_load.c (reading one settled day). The public side is in reads.h.
 *
 * A model snapshot is immutable once published: a videos table and the loaded days, each
 * reference-counted on its own, so a new snapshot (one day added or replaced) shares everything
 * else with the previous one. Dense video indexes are the videos' load order; a table only ever
 * grows by appending, so a day's index stays valid in every later table. */
#ifndef VS_READ_MODEL_H
#define VS_READ_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "reads.h"

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
    uint64_t version; /* read_batch_version of the completion it was loaded under */
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

typedef struct model_snap {
    atomic_int refs;
    model_videos *videos;
    size_t n_days;
    model_day **days; /* ordered by day */
} model_snap;

/* Reference counting; *_put(NULL) is a no-op. */
void model_day_put(model_day *d);
void model_videos_put(model_videos *v);

/* Dense index of video id in v, or -1. */
int64_t model_video_find(const model_videos *v, uint64_t id);

/* Builds the by_id and by_creator orders and the byte count of v (after its arrays are filled). */
vs_status model_videos_index(model_videos *v);

/* Loads day (expected completion identity version) from db in one consistent transaction, with the
 * videos table extended by the videos that appeared since *videos (which it then replaces with a
 * new reference; on failure *videos is unchanged). *out is NULL (VS_OK) when the day no longer
 * has that identity or its rows do not pass the checks (logged): the SQL path answers it then.
 * Errors are connection or SQL errors (err says which). */
vs_status model_load_day(MYSQL *db, business_date day, uint64_t version, model_videos **videos,
                         model_day **out, char *err, size_t errlen);

#endif
