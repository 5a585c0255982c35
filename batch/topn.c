/* topn.c — video_top rows from per-video values. */
#include "topn.h"

static void topn_row(bulk_buf *out, int period_kind, const char *period_start, int metric,
                     uint64_t scope, int rank, const topn_item *item)
{
    bulk_buf_i64(out, period_kind);
    bulk_buf_str(out, period_start);
    bulk_buf_i64(out, metric);
    bulk_buf_u64(out, scope);
    bulk_buf_i64(out, rank);
    bulk_buf_u64(out, item->video_id);
    bulk_buf_i64(out, item->value);
    bulk_buf_end_row(out);
}

/* 1 when creator is one of creators[0..n) (sorted ascending). */
static int topn_listed(uint64_t creator, const uint64_t *creators, size_t n)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (creators[mid] < creator)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && creators[lo] == creator;
}

void topn_rows(topn_item *items, size_t n, int period_kind, const char *period_start, int metric,
               const uint64_t *creators, size_t n_creators, bulk_buf *out)
{
    size_t m = topn_rank(items, n);

    for (size_t i = 0; i < m && i < TOPN_MAX; i++)
        topn_row(out, period_kind, period_start, metric, 0, (int)i + 1, &items[i]);
    topn_rank_by_creator(items, m);
    for (size_t i = 0, rank = 0; i < m; i++) {
        rank = i > 0 && items[i].creator_id == items[i - 1].creator_id ? rank + 1 : 1;
        /* creator 0 stands for "all videos": a video without a known creator is only ranked there
         */
        if (items[i].creator_id != 0 && rank <= TOPN_MAX &&
            (creators == NULL || topn_listed(items[i].creator_id, creators, n_creators)))
            topn_row(out, period_kind, period_start, metric, items[i].creator_id, (int)rank,
                     &items[i]);
    }
}
