/* merge_common.c — what the merge's steps share (merge.c, merge_day.c, merge_period.c): SQL
 * errors, a video of the merged day by id, bulk loads, and the writing of ranked top-N lists. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "merge_common.h"

vs_status merge_sql_error(merge_ctx *m, const char *what)
{
    snprintf(m->err, m->errlen, "%s: %s", what, mysql_error(m->db));
    return db_status_from_errno(mysql_errno(m->db));
}

vs_status merge_oom(merge_ctx *m)
{
    snprintf(m->err, m->errlen, "out of memory");
    return VS_RESOURCE_EXHAUSTED;
}

vs_status merge_items_reserve(merge_ctx *m, size_t n)
{
    topn_item *items;

    if (n <= m->items_cap && m->items != NULL)
        return VS_OK;
    if ((items = realloc(m->items, (n + 1) * sizeof *items)) == NULL)
        return merge_oom(m);
    m->items = items;
    m->items_cap = n;
    return VS_OK;
}

merge_video *merge_find(merge_ctx *m, uint64_t video_id)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->videos[mid].video_id < video_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n && m->videos[lo].video_id == video_id ? &m->videos[lo] : NULL;
}

vs_status merge_exec(merge_ctx *m, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return db_exec(m->db, sql, m->err, m->errlen);
}

vs_status merge_load(merge_ctx *m, const char *table, const char *cols)
{
    return bulk_buf_load(m->db, &m->buf, table, cols, NULL, m->err, m->errlen);
}

vs_status merge_write_top(merge_ctx *m, int period_kind, const char *start, int metric, size_t n,
                          const uint64_t *creators, size_t n_creators)
{
    static const char cols[] = "period_kind, period_start, metric, creator_id, rank_no, video_id,"
                               " value";
    char *sql;
    size_t len;
    vs_status rc;

    if (creators == NULL) {
        /* every list of the period */
        if ((rc = merge_exec(m,
                             "DELETE FROM video_top WHERE period_kind = %d AND period_start = '%s'"
                             " AND metric = %d",
                             period_kind, start, metric)) != VS_OK)
            return rc;
        topn_rows(m->items, n, period_kind, start, metric, NULL, 0, &m->buf);
        return merge_load(m, "video_top", cols);
    }
    if ((sql = malloc(MERGE_IN_BATCH * 22 + 512)) == NULL)
        return merge_oom(m);
    /* the list over all videos (creator 0) and the given creators' lists */
    rc = VS_OK;
    for (size_t from = 0; (from == 0 || from < n_creators) && rc == VS_OK; from += MERGE_IN_BATCH) {
        size_t k = n_creators - from < MERGE_IN_BATCH ? n_creators - from : MERGE_IN_BATCH;

        len = (size_t)sprintf(sql,
                              "DELETE FROM video_top WHERE period_kind = %d AND period_start = '%s'"
                              " AND metric = %d AND creator_id IN (%s",
                              period_kind, start, metric, from == 0 ? "0" : "");
        for (size_t i = 0; i < k; i++) {
            if (from == 0 || i > 0)
                sql[len++] = ',';
            len += (size_t)bulk_fmt_u64(sql + len, creators[from + i]);
        }
        memcpy(sql + len, ")", 2);
        rc = db_exec(m->db, sql, m->err, m->errlen);
    }
    free(sql);
    if (rc != VS_OK)
        return rc;
    topn_rows(m->items, n, period_kind, start, metric, creators, n_creators, &m->buf);
    return merge_load(m, "video_top", cols);
}
