/* merge_common.h — what merge.c (the day), merge_day.c (its rows) and merge_period.c (its week and
 * month) share: the merge's state and the helpers of merge_common.c. Not for other files. */
#ifndef VS_BATCH_MERGE_COMMON_H
#define VS_BATCH_MERGE_COMMON_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "bulk.h"
#include "coordinator.h"
#include "money_card.h"
#include "topn.h"
#include "vmap.h"
#include "window.h"

/* One video's figures for the merged day (sorted by video id in merge_ctx.videos). */
typedef struct merge_video {
    uint64_t video_id, creator_id;
    int64_t views, watch_s, ad_views;
    int64_t views_before, ad_views_before;
    int64_t video_won, ad_won, video_exact_milli, ad_exact_milli;
    int same; /* a re-run: the day's stored rows of this video are already these (merge_day.c) */
} merge_video;

typedef struct merge_ctx {
    MYSQL *db;
    const job_row *job;
    merge_video *videos; /* sorted by video id */
    size_t n;
    int64_t rows; /* play_log rows the partials cover */
    money_card video_card, ad_card;
    bulk_buf buf;
    topn_item *items; /* room for items_cap top-N candidates */
    size_t items_cap;
    char *err;
    size_t errlen;
    merge_stats *stats;
    int64_t mark_ms; /* end of the previous step, for stats->steps */
} merge_ctx;

/* Column numbers of per-video figures held in a vmap: a week/month rollup row, or a day's
 * figures (PV_DAYS = 1) to add to or take out of one. */
enum {
    PV_DAYS,
    PV_VIEWS,
    PV_WATCH,
    PV_ADS,
    PV_VIDEO_WON,
    PV_AD_WON,
    PV_CREATOR,
    PV_FIGURES = PV_CREATOR
};

/* Ids per IN (...) list of a batched lookup. */
#define MERGE_IN_BATCH 1000

vs_status merge_sql_error(merge_ctx *m, const char *what);
vs_status merge_oom(merge_ctx *m);
vs_status merge_exec(merge_ctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
vs_status merge_load(merge_ctx *m, const char *table, const char *cols);

/* The merged day's video with this id (m->videos is sorted), or NULL. */
merge_video *merge_find(merge_ctx *m, uint64_t video_id);

/* Makes room for n top-N candidates in m->items. */
vs_status merge_items_reserve(merge_ctx *m, size_t n);

/* Replaces the top-N lists of one period by the ranking of m->items[0..n) for `metric` (the
 * items' values must be that metric's): the list over all videos and, for creators (sorted
 * ascending; NULL = every creator among the items), each creator's list. */
vs_status merge_write_top(merge_ctx *m, int period_kind, const char *start, int metric, size_t n,
                          const uint64_t *creators, size_t n_creators);

/* Writes the day's rows of video_daily_stats, video_cumulative and settlement_daily: all of them
 * on a first settlement, only those that differ on a re-run (merge_day.c). Before writing, it
 * puts the figures the day had into old (empty on a first settlement), for the rollups and the
 * ledger. *changed = the videos whose rows were written or removed. */
vs_status merge_write_day(merge_ctx *m, vmap *old, size_t *changed);

/* The week or month of the job's day: adds the day's new figures and takes out `old` (the figures
 * the day had before this run: empty on a first settlement), writing only the videos whose
 * figures changed and re-ranking the period's top-N lists (merge_period.c). */
typedef struct merge_period_info {
    size_t changed; /* videos whose figures in the period changed */
    int full_top;   /* the lists were ranked from the whole period (a value went down) */
} merge_period_info;
vs_status merge_period(merge_ctx *m, window_period kind, const vmap *old, merge_period_info *info);

/* Appends the day's ledger entries: per video, the new figures minus `old` (merge_ledger.c); in a
 * closed month they are adjustments booked in the first open month after it. *entries = how
 * many. */
vs_status merge_write_ledger(merge_ctx *m, const vmap *old, size_t *entries);

#endif
