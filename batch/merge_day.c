/* merge_day.c — the merged day's own rows: video_daily_stats, video_cumulative and
 * settlement_daily.
 *
 * A first settlement loads them. A re-run reads the rows the day has and writes only what differs:
 * a video whose figures, lifetime counts, amounts and rate card are all unchanged keeps its rows,
 * a changed or new one has them replaced, and one without play rows any more loses them. A re-run
 * with unchanged data writes nothing here (and merge.c then keeps the day's top-N lists too). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "merge_common.h"

#define DAY_SQL_BYTES (MERGE_IN_BATCH * 22 + 512)

/* 1 when a stored row set (the columns of one joined row, in the order selected below) is exactly
 * what the day's new figures for v would write. */
static int day_row_same(const merge_video *v, uint32_t card, MYSQL_ROW row)
{
    const int64_t after = v->views_before + v->views, ad_after = v->ad_views_before + v->ad_views;
    const int64_t want[] = {(int64_t)v->creator_id,
                            v->views,
                            v->watch_s,
                            v->ad_views,
                            after,
                            ad_after,
                            (int64_t)v->creator_id,
                            (int64_t)card,
                            v->views_before,
                            after,
                            v->ad_views_before,
                            ad_after,
                            v->video_exact_milli,
                            v->ad_exact_milli,
                            v->video_won,
                            v->ad_won,
                            v->video_won + v->ad_won};

    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        if (row[k + 1] == NULL || strtoll(row[k + 1], NULL, 10) != want[k])
            return 0;
    }
    return 1;
}

/* The day's previous figures from its daily stats and settlement rows, whatever the state of its
 * other tables (day_compare reads them itself when the three tables agree). */
static vs_status day_read_old(merge_ctx *m, vmap *old)
{
    char sql[512];
    MYSQL_RES *res;
    MYSQL_ROW row;

    snprintf(
        sql, sizeof sql,
        "SELECT d.video_id, d.views, d.watch_s, d.ad_views, COALESCE(s.video_won, 0),"
        " COALESCE(s.ad_won, 0), d.creator_id FROM video_daily_stats d LEFT JOIN settlement_daily s"
        " ON s.video_id = d.video_id AND s.day = d.day WHERE d.day = '%s'",
        m->job->date_text);
    if (mysql_query(m->db, sql) != 0 || (res = mysql_use_result(m->db)) == NULL)
        return merge_sql_error(m, "video_daily_stats");
    while ((row = mysql_fetch_row(res)) != NULL) {
        vmap_entry *e = vmap_upsert(old, strtoull(row[0], NULL, 10));

        if (e == NULL)
            break;
        e->v[PV_DAYS] = 1;
        for (int k = PV_VIEWS; k <= PV_CREATOR; k++)
            e->v[k] = strtoll(row[k], NULL, 10);
    }
    mysql_free_result(res);
    if (row != NULL || mysql_errno(m->db) != 0) {
        snprintf(m->err, m->errlen, "video_daily_stats: %s",
                 row != NULL ? "out of memory" : mysql_error(m->db));
        return row != NULL ? VS_RESOURCE_EXHAUSTED : db_status_from_errno(mysql_errno(m->db));
    }
    return VS_OK;
}

/* Marks the videos whose rows are already as they would be written (v->same), collects into
 * *gone the ids of videos that have rows but no play rows any more, and puts the day's previous
 * figures into old (views, watch, ads, video won, ad won, creator; one read of the day's rows for
 * both). *complete = 0 when the three tables disagree about the day (then everything is rewritten,
 * and old is read from the daily stats and settlement rows alone). */
static vs_status day_compare(merge_ctx *m, vmap *old, uint64_t **gone, size_t *n_gone,
                             int *complete)
{
    char sql[1536];
    const char *d = m->job->date_text;
    int64_t counts[3] = {0, 0, 0};
    size_t joined = 0, cap = 0;
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    *gone = NULL;
    *n_gone = 0;
    *complete = 0;
    snprintf(sql, sizeof sql,
             "SELECT (SELECT COUNT(*) FROM video_daily_stats WHERE day = '%s'),"
             " (SELECT COUNT(*) FROM video_cumulative WHERE day = '%s'),"
             " (SELECT COUNT(*) FROM settlement_daily WHERE day = '%s')",
             d, d, d);
    if (mysql_query(m->db, sql) != 0 || (res = mysql_store_result(m->db)) == NULL)
        return merge_sql_error(m, "the day's rows");
    if ((row = mysql_fetch_row(res)) != NULL)
        for (int k = 0; k < 3; k++)
            counts[k] = strtoll(row[k], NULL, 10);
    mysql_free_result(res);
    if (counts[0] == 0)
        return VS_OK; /* a first settlement: nothing before */
    if (counts[0] != counts[1] || counts[0] != counts[2])
        return day_read_old(m, old); /* tables that disagree: rewrite the day */
    snprintf(sql, sizeof sql,
             "SELECT d.video_id, d.creator_id, d.views, d.watch_s, d.ad_views,"
             " c.views_lifetime, c.ad_views_lifetime, s.creator_id, s.rate_card_version,"
             " s.views_before, s.views_after, s.ad_views_before, s.ad_views_after,"
             " s.video_exact_milli, s.ad_exact_milli, s.video_won, s.ad_won, s.total_won"
             " FROM video_daily_stats d JOIN video_cumulative c ON c.video_id = d.video_id AND"
             " c.day = d.day JOIN settlement_daily s ON s.video_id = d.video_id AND s.day = d.day"
             " WHERE d.day = '%s'",
             d);
    if (mysql_query(m->db, sql) != 0 || (res = mysql_use_result(m->db)) == NULL)
        return merge_sql_error(m, "the day's rows");
    while (rc == VS_OK && (row = mysql_fetch_row(res)) != NULL) {
        uint64_t id = strtoull(row[0], NULL, 10);
        merge_video *v = merge_find(m, id);
        vmap_entry *e = vmap_upsert(old, id);

        if (e == NULL) {
            rc = merge_oom(m);
            break;
        }
        e->v[PV_DAYS] = 1;
        e->v[PV_VIEWS] = strtoll(row[2], NULL, 10);
        e->v[PV_WATCH] = strtoll(row[3], NULL, 10);
        e->v[PV_ADS] = strtoll(row[4], NULL, 10);
        e->v[PV_VIDEO_WON] = strtoll(row[15], NULL, 10);
        e->v[PV_AD_WON] = strtoll(row[16], NULL, 10);
        e->v[PV_CREATOR] = strtoll(row[1], NULL, 10);
        joined++;
        if (v != NULL) {
            v->same = day_row_same(v, m->job->rate_card_version, row);
            continue;
        }
        if (*n_gone == cap) {
            uint64_t *grown = realloc(*gone, (cap = cap ? cap * 2 : 256) * sizeof **gone);

            if (grown == NULL) {
                rc = merge_oom(m);
                break;
            }
            *gone = grown;
        }
        (*gone)[(*n_gone)++] = id;
    }
    if (rc == VS_OK && mysql_errno(m->db) != 0)
        rc = merge_sql_error(m, "the day's rows");
    mysql_free_result(res);
    *complete = rc == VS_OK && (int64_t)joined == counts[0];
    if (rc == VS_OK && !*complete) {
        for (size_t i = 0; i < m->n; i++)
            m->videos[i].same = 0;
        vmap_clear(old);
        rc = day_read_old(m, old);
    }
    return rc;
}

/* Removes the rows of the videos in ids[0..n) from the day's three tables. */
static vs_status day_delete(merge_ctx *m, const uint64_t *ids, size_t n)
{
    static const char *const tables[] = {"video_daily_stats", "video_cumulative",
                                         "settlement_daily"};
    char *sql = malloc(DAY_SQL_BYTES);
    vs_status rc = VS_OK;

    if (sql == NULL)
        return merge_oom(m);
    for (size_t from = 0; from < n && rc == VS_OK; from += MERGE_IN_BATCH) {
        size_t k = n - from < MERGE_IN_BATCH ? n - from : MERGE_IN_BATCH;

        for (int t = 0; t < 3 && rc == VS_OK; t++) {
            size_t len = (size_t)sprintf(sql, "DELETE FROM %s WHERE day = '%s' AND video_id IN (",
                                         tables[t], m->job->date_text);

            for (size_t i = 0; i < k; i++) {
                if (i > 0)
                    sql[len++] = ',';
                len += (size_t)bulk_fmt_u64(sql + len, ids[from + i]);
            }
            memcpy(sql + len, ")", 2);
            rc = db_exec(m->db, sql, m->err, m->errlen);
        }
    }
    free(sql);
    return rc;
}

/* Loads (or, on a re-run, replaces) the rows of the videos not marked same. */
static vs_status day_load(merge_ctx *m, int replace)
{
    const char *d = m->job->date_text;
    vs_status (*load)(MYSQL *, bulk_buf *, const char *, const char *, int64_t *, char *, size_t) =
        replace ? bulk_buf_replace : bulk_buf_load;
    vs_status rc;

    for (size_t i = 0; i < m->n; i++) {
        const merge_video *v = &m->videos[i];

        if (v->same)
            continue;
        bulk_buf_u64(&m->buf, v->video_id);
        bulk_buf_str(&m->buf, d);
        bulk_buf_u64(&m->buf, v->creator_id);
        bulk_buf_i64(&m->buf, v->views);
        bulk_buf_i64(&m->buf, v->watch_s);
        bulk_buf_i64(&m->buf, v->ad_views);
        bulk_buf_end_row(&m->buf);
    }
    if ((rc = load(m->db, &m->buf, "video_daily_stats",
                   "video_id, day, creator_id, views, watch_s, ad_views", NULL, m->err,
                   m->errlen)) != VS_OK)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        const merge_video *v = &m->videos[i];

        if (v->same)
            continue;
        bulk_buf_u64(&m->buf, v->video_id);
        bulk_buf_str(&m->buf, d);
        bulk_buf_i64(&m->buf, v->views_before + v->views);
        bulk_buf_i64(&m->buf, v->ad_views_before + v->ad_views);
        bulk_buf_end_row(&m->buf);
    }
    if ((rc = load(m->db, &m->buf, "video_cumulative",
                   "video_id, day, views_lifetime, ad_views_lifetime", NULL, m->err, m->errlen)) !=
        VS_OK)
        return rc;
    for (size_t i = 0; i < m->n; i++) {
        const merge_video *v = &m->videos[i];

        if (v->same)
            continue;
        bulk_buf_u64(&m->buf, v->video_id);
        bulk_buf_str(&m->buf, d);
        bulk_buf_u64(&m->buf, v->creator_id);
        bulk_buf_u64(&m->buf, m->job->rate_card_version);
        bulk_buf_i64(&m->buf, v->views_before);
        bulk_buf_i64(&m->buf, v->views_before + v->views);
        bulk_buf_i64(&m->buf, v->ad_views_before);
        bulk_buf_i64(&m->buf, v->ad_views_before + v->ad_views);
        bulk_buf_i64(&m->buf, v->video_exact_milli);
        bulk_buf_i64(&m->buf, v->ad_exact_milli);
        bulk_buf_i64(&m->buf, v->video_won);
        bulk_buf_i64(&m->buf, v->ad_won);
        bulk_buf_i64(&m->buf, v->video_won + v->ad_won);
        bulk_buf_end_row(&m->buf);
    }
    return load(m->db, &m->buf, "settlement_daily",
                "video_id, day, creator_id, rate_card_version, views_before, views_after,"
                " ad_views_before, ad_views_after, video_exact_milli, ad_exact_milli,"
                " video_won, ad_won, total_won",
                NULL, m->err, m->errlen);
}

vs_status merge_write_day(merge_ctx *m, vmap *old, size_t *changed)
{
    const char *d = m->job->date_text;
    uint64_t *gone = NULL;
    size_t n_gone = 0;
    int complete;
    vs_status rc;

    *changed = m->n;
    if ((rc = day_compare(m, old, &gone, &n_gone, &complete)) != VS_OK)
        goto out;
    if (!complete) {
        /* a first settlement (or tables that disagree): the day's rows, whole */
        if ((rc = merge_exec(m, "DELETE FROM video_daily_stats WHERE day = '%s'", d)) != VS_OK ||
            (rc = merge_exec(m, "DELETE FROM video_cumulative WHERE day = '%s'", d)) != VS_OK ||
            (rc = merge_exec(m, "DELETE FROM settlement_daily WHERE day = '%s'", d)) != VS_OK)
            goto out;
        rc = day_load(m, 0);
        goto out;
    }
    *changed = n_gone;
    for (size_t i = 0; i < m->n; i++)
        *changed += !m->videos[i].same;
    if ((rc = day_delete(m, gone, n_gone)) == VS_OK)
        rc = day_load(m, 1);
out:
    free(gone);
    return rc;
}
