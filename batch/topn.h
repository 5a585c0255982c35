/* topn.h — ranking videos for the video_top table: by value descending, ties by video id
 * ascending, over all videos and per creator, at most TOPN_MAX ranks per scope. */
#ifndef VS_BATCH_TOPN_H
#define VS_BATCH_TOPN_H

#include <stddef.h>
#include <stdint.h>
#include "bulk.h"

#define TOPN_MAX 100

typedef struct topn_item {
    uint64_t video_id, creator_id;
    int64_t value;
} topn_item;

/* Appends the video_top rows (period_kind, period_start, metric, creator_id, rank_no, video_id,
 * value) of items to out: the global ranking (creator_id 0) and one per creator. Only items with
 * value > 0 are ranked. items is reordered. */
void topn_rows(topn_item *items, size_t n, int period_kind, const char *period_start, int metric,
               bulk_buf *out);

#endif
