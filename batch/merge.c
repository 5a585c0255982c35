/* merge.c — a finished job's partials → daily stats, lifetime counts, settlement (docs/rules.md),
 * week/month rollups and top-N, written in one transaction with the job's completion.
 *
 * Nothing here reads play_log: the partials (one row per partition and video) are summed by the
 * server in primary-key order, the rest is per-video arithmetic in memory. Re-running the merge of
 * a day writes only the rows that differ (merge_day.c), and the week/month rollups are adjusted by
 * the difference between the day's old and new figures (merge_period.c), so a re-run with unchanged
 * data writes nothing and leaves every table identical. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "db.h"
#include "merge_common.h"
#include "money.h"
#include "partial.h"

/* Notes how long the step that just ended took (merge_stats.steps, for the log). */
static void merge_mark(merge_ctx *m, const char *step)
{
    size_t len = strlen(m->stats->steps);
    int64_t now = clock_mono_ms();

    snprintf(m->stats->steps + len, sizeof m->stats->steps - len, "%s%s %" PRId64 " ms",
             len ? ", " : "", step, now - m->mark_ms);
    m->mark_ms = now;
}

/* The day's per-video sums over all partitions, in video id order: every chunk of every
 * partition is folded into one map (memory bounded by videos, not by partitions or rows). */
static vs_status merge_read_partials(merge_ctx *m)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    vmap sums;
    vmap_entry *sorted;
    vs_status rc = VS_OK;

    if (vmap_init(&sums, 1 << 17, 0) != VS_OK) {
        snprintf(m->err, m->errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    snprintf(sql, sizeof sql,
             "SELECT videos, data FROM batch_partial_chunk WHERE job_id = %" PRIu64, m->job->id);
    if (mysql_query(m->db, sql) != 0 || (res = mysql_use_result(m->db)) == NULL) {
        rc = merge_sql_error(m, "batch_partial_chunk");
        goto out;
    }
    while (rc == VS_OK && (row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        size_t videos = strtoul(row[0], NULL, 10);

        if (len[1] != videos * PARTIAL_RECORD_BYTES) {
            snprintf(m->err, m->errlen, "batch_partial_chunk: %lu bytes for %zu videos", len[1],
                     videos);
            rc = VS_DATA_LOSS;
            break;
        }
        for (size_t i = 0; i < videos; i++) {
            int64_t values[PARTIAL_VALUES];
            uint64_t video_id;
            vmap_entry *e;

            partial_decode((const uint8_t *)row[1] + i * PARTIAL_RECORD_BYTES, &video_id, values);
            if (video_id == 0 || (e = vmap_upsert(&sums, video_id)) == NULL) {
                snprintf(m->err, m->errlen, "batch_partial_chunk: %s",
                         video_id == 0 ? "video id 0" : "out of memory");
                rc = video_id == 0 ? VS_DATA_LOSS : VS_RESOURCE_EXHAUSTED;
                break;
            }
            for (int k = 0; k < PARTIAL_VALUES; k++)
                e->v[k] += values[k];
        }
    }
    if (rc == VS_OK && mysql_errno(m->db) != 0)
        rc = merge_sql_error(m, "batch_partial_chunk");
    mysql_free_result(res);
    if (rc != VS_OK)
        goto out;
    m->videos = calloc(sums.count + 1, sizeof *m->videos);
    if (m->videos == NULL) {
        snprintf(m->err, m->errlen, "out of memory for %zu videos", sums.count);
        rc = VS_RESOURCE_EXHAUSTED;
        goto out;
    }
    sorted = vmap_sorted(&sums);
    for (size_t i = 0; i < sums.count; i++) {
        merge_video *v = &m->videos[i];

        v->video_id = sorted[i].video_id;
        v->views = sorted[i].v[0];
        v->watch_s = sorted[i].v[1];
        v->ad_views = sorted[i].v[2];
        m->rows += sorted[i].v[3];
    }
    m->n = sums.count;
out:
    vmap_free(&sums);
    return rc;
}

/* Creators, and lifetime counts at the end of the latest earlier day, in batches of video ids.
 * video_cumulative is sparse; MAX(day) per video is a loose index scan of its primary key. */
static vs_status merge_read_context(merge_ctx *m)
{
    char *sql = malloc(MERGE_IN_BATCH * 24 + 1024), *ids = malloc(MERGE_IN_BATCH * 24);
    vs_status rc = VS_OK;

    if (sql == NULL || ids == NULL) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(m->err, m->errlen, "out of memory");
        goto out;
    }
    for (size_t start = 0; start < m->n && rc == VS_OK; start += MERGE_IN_BATCH) {
        size_t end = start + MERGE_IN_BATCH < m->n ? start + MERGE_IN_BATCH : m->n, len = 0;

        for (size_t i = start; i < end; i++) {
            if (i > start)
                ids[len++] = ',';
            len += (size_t)bulk_fmt_u64(ids + len, m->videos[i].video_id);
        }
        ids[len] = '\0';
        for (int q = 0; q < 2 && rc == VS_OK; q++) {
            MYSQL_RES *res;
            MYSQL_ROW row;

            if (q == 0)
                sprintf(sql, "SELECT id, creator_id, 0 FROM videos WHERE id IN (%s)", ids);
            else
                sprintf(sql,
                        "SELECT c.video_id, c.views_lifetime, c.ad_views_lifetime"
                        " FROM video_cumulative c JOIN (SELECT video_id, MAX(day) AS day"
                        " FROM video_cumulative WHERE video_id IN (%s) AND day < '%s'"
                        " GROUP BY video_id) l ON l.video_id = c.video_id AND l.day = c.day",
                        ids, m->job->date_text);
            if (mysql_query(m->db, sql) != 0 || (res = mysql_store_result(m->db)) == NULL) {
                rc = merge_sql_error(m, q == 0 ? "videos" : "video_cumulative");
                break;
            }
            while ((row = mysql_fetch_row(res)) != NULL) {
                merge_video *v = merge_find(m, strtoull(row[0], NULL, 10));

                if (v == NULL)
                    continue;
                if (q == 0) {
                    v->creator_id = strtoull(row[1], NULL, 10);
                } else {
                    v->views_before = strtoll(row[1], NULL, 10);
                    v->ad_views_before = strtoll(row[2], NULL, 10);
                }
            }
            mysql_free_result(res);
        }
    }
out:
    free(sql);
    free(ids);
    return rc;
}

/* rules.md: the day earns floor(F(cum_d)/1000) − floor(F(cum_{d−1})/1000) for views and ads. */
static vs_status merge_settle(merge_ctx *m)
{
    vs_status rc;

    if ((rc = money_card_load(m->db, m->job->rate_card_version, MONEY_VIDEO, &m->video_card, m->err,
                              m->errlen)) != VS_OK ||
        (rc = money_card_load(m->db, m->job->rate_card_version, MONEY_AD, &m->ad_card, m->err,
                              m->errlen)) != VS_OK)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        merge_video *v = &m->videos[i];

        rc = money_amount(&m->video_card, v->views_before, v->views_before + v->views,
                          &v->video_won, &v->video_exact_milli);
        if (rc == VS_OK)
            rc = money_amount(&m->ad_card, v->ad_views_before, v->ad_views_before + v->ad_views,
                              &v->ad_won, &v->ad_exact_milli);
        if (rc != VS_OK) {
            snprintf(m->err, m->errlen,
                     "video %" PRIu64 ": lifetime counts %" PRId64 "+%" PRId64 " / %" PRId64
                     "+%" PRId64 " cannot be priced",
                     v->video_id, v->views_before, v->views, v->ad_views_before, v->ad_views);
            return rc;
        }
    }
    return VS_OK;
}

/* The day's top-N lists, from the day's figures. */
static vs_status merge_write_day_top(merge_ctx *m)
{
    vs_status rc = merge_items_reserve(m, m->n);

    for (int metric = 1; metric <= 2 && rc == VS_OK; metric++) {
        for (size_t i = 0; i < m->n; i++) {
            m->items[i].video_id = m->videos[i].video_id;
            m->items[i].creator_id = m->videos[i].creator_id;
            m->items[i].value = metric == 1 ? m->videos[i].views : m->videos[i].watch_s;
        }
        rc = merge_write_top(m, WINDOW_DAY, m->job->date_text, metric, m->n, NULL, 0);
    }
    return rc;
}

vs_status merge_job(MYSQL *db, const job_row *job, merge_stats *stats, char *err, size_t errlen)
{
    merge_ctx m = {.db = db, .job = job, .err = err, .errlen = errlen, .stats = stats};
    vmap old = {0};
    vs_status rc;

    memset(stats, 0, sizeof *stats);
    m.mark_ms = clock_mono_ms();
    m.buf.cap = (size_t)1 << 31;
    if ((rc = db_exec(db, "START TRANSACTION", err, errlen)) != VS_OK)
        return rc;
    if ((rc = merge_read_partials(&m)) != VS_OK)
        goto out;
    {
        char sql[160];
        int64_t partition_rows = -1;

        /* every partition's rows are in the partials exactly once, or the job must not finish */
        snprintf(sql, sizeof sql,
                 "SELECT COALESCE(SUM(rows_read), 0) FROM batch_partition WHERE job_id = %" PRIu64,
                 job->id);
        if ((rc = db_query_int(db, sql, &partition_rows, err, errlen)) != VS_OK)
            goto out;
        if (partition_rows != m.rows) {
            snprintf(err, errlen,
                     "partials cover %" PRId64 " play rows but the partitions read %" PRId64,
                     m.rows, partition_rows);
            rc = VS_DATA_LOSS;
            goto out;
        }
    }
    merge_mark(&m, "partials");
    if ((rc = merge_read_context(&m)) != VS_OK || (rc = merge_settle(&m)) != VS_OK)
        goto out;
    if ((rc = vmap_init(&old, 1024, 0)) != VS_OK)
        goto out;
    merge_mark(&m, "lifetime+settle");
    {
        size_t changed;
        char step[64];

        if ((rc = merge_write_day(&m, &old, &changed)) != VS_OK)
            goto out;
        snprintf(step, sizeof step, "day rows (%zu videos changed)", changed);
        merge_mark(&m, step);
        /* the day's lists depend on its figures alone: unchanged figures, unchanged lists */
        if (changed > 0 && (rc = merge_write_day_top(&m)) != VS_OK)
            goto out;
        merge_mark(&m, "day top");
    }
    {
        size_t entries;
        char step[64];

        if ((rc = merge_write_ledger(&m, &old, &entries)) != VS_OK)
            goto out;
        snprintf(step, sizeof step, "ledger (%zu entries)", entries);
        merge_mark(&m, step);
    }
    for (int k = 0; k < 2; k++) {
        merge_period_info info;
        char step[96];

        if ((rc = merge_period(&m, k == 0 ? WINDOW_WEEK : WINDOW_MONTH, &old, &info)) != VS_OK)
            goto out;
        snprintf(step, sizeof step, "%s (%zu videos changed, top %s)", k == 0 ? "week" : "month",
                 info.changed, info.full_top ? "full" : "incremental");
        merge_mark(&m, step);
    }
    rc = merge_exec(&m,
                    "UPDATE batch_job SET state = %d, videos = %zu, rows_total = rows_done,"
                    " error = '', finished_ms = %" PRId64 ", updated_ms = %" PRId64
                    " WHERE id = %" PRIu64 " AND state = %d",
                    JOB_COMPLETED, m.n, clock_now_ms(), clock_now_ms(), job->id, JOB_MERGING);
    if (rc == VS_OK && mysql_affected_rows(db) != 1) {
        snprintf(err, errlen, "job %" PRIu64 " is no longer merging", job->id);
        rc = VS_ABORTED;
    }
    if (rc == VS_OK)
        rc = db_exec(db, "COMMIT", err, errlen);
    merge_mark(&m, "commit");
    stats->videos = (int64_t)m.n;
out:
    if (rc != VS_OK) {
        char ignored[128];

        db_exec(db, "ROLLBACK", ignored, sizeof ignored);
    }
    vmap_free(&old);
    free(m.videos);
    free(m.items);
    bulk_buf_free(&m.buf);
    return rc;
}
