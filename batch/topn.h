/* topn.h — the video_top rows of a period: the ranking rule (core/topn_rank.h) applied over all
 * videos and per creator, written in the bulk-load row format. */
#ifndef VS_BATCH_TOPN_H
#define VS_BATCH_TOPN_H

#include <stddef.h>
#include <stdint.h>
#include "bulk.h"
#include "topn_rank.h"

/* Appends the video_top rows (period_kind, period_start, metric, creator_id, rank_no, video_id,
 * value) of items to out: the global ranking (creator_id 0) and one per creator, at most
 * TOPN_MAX ranks each. Only items with value > 0 are ranked. items is reordered. With creators
 * (n_creators ids, sorted ascending) only those creators' lists are written besides the list over
 * all videos; NULL writes every creator's. */
void topn_rows(topn_item *items, size_t n, int period_kind, const char *period_start, int metric,
               const uint64_t *creators, size_t n_creators, bulk_buf *out);

#endif
