/* merge_period.c — a merged day into its week and month: video_period_stats and their top-N lists.
 *
 * Incremental: the day's change is its new figures minus the ones it had before (nothing on a
 * first settlement), per video. Only the videos whose figures changed are read and rewritten in
 * the rollup, and the lists are re-ranked from their current entries plus those videos. That
 * gives the lists a full ranking would give as long as no ranked value went down: every video
 * outside a full list then still ranks below all of that list, and a list that is not full
 * already holds every video of its scope with a value above 0. A re-run that lowers a value (its
 * day lost rows) ranks the whole period instead. A re-run with unchanged data writes nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "merge_common.h"

/* The period being merged and the videos the day changed in it. */
typedef struct period_run {
    merge_ctx *m;
    int kind;
    char start[11];
    vmap_entry *changed; /* sorted by video id: v = the change (PV_DAYS..PV_AD_WON), PV_CREATOR */
    vmap_entry *after;   /* the same videos' rollup rows after the change */
    size_t n;
    int lowered; /* a ranked value (views, watch seconds) of some video went down */
    char *sql;   /* room for one statement with an IN list of MERGE_IN_BATCH ids */
} period_run;

#define PERIOD_SQL_BYTES (MERGE_IN_BATCH * 22 + 512)

/* Appends "id,id,..." of ids[0..n) to sql at len; returns the new length. */
static size_t period_ids(char *sql, size_t len, const vmap_entry *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sql[len++] = ',';
        len += (size_t)bulk_fmt_u64(sql + len, rows[i].video_id);
    }
    sql[len] = '\0';
    return len;
}

static vmap_entry *period_find(const period_run *p, uint64_t video_id)
{
    size_t lo = 0, hi = p->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p->changed[mid].video_id < video_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n && p->changed[lo].video_id == video_id ? &p->after[lo] : NULL;
}

/* The change per video: new figures − old ones; videos whose figures are all unchanged drop out. */
static vs_status period_changes(period_run *p, const vmap *old, vmap *delta)
{
    merge_ctx *m = p->m;
    vmap_entry *sorted;

    for (size_t i = 0; i < old->capacity; i++) {
        const vmap_entry *o = &old->slots[i];
        vmap_entry *e;

        if (o->video_id == 0)
            continue;
        if ((e = vmap_upsert(delta, o->video_id)) == NULL)
            return merge_oom(m);
        for (int k = PV_DAYS; k < PV_FIGURES; k++)
            e->v[k] -= o->v[k];
        e->v[PV_CREATOR] = o->v[PV_CREATOR];
    }
    for (size_t i = 0; i < m->n; i++) {
        const merge_video *v = &m->videos[i];
        vmap_entry *e = vmap_upsert(delta, v->video_id);

        if (e == NULL)
            return merge_oom(m);
        e->v[PV_DAYS] += 1;
        e->v[PV_VIEWS] += v->views;
        e->v[PV_WATCH] += v->watch_s;
        e->v[PV_ADS] += v->ad_views;
        e->v[PV_VIDEO_WON] += v->video_won;
        e->v[PV_AD_WON] += v->ad_won;
        e->v[PV_CREATOR] = (int64_t)v->creator_id;
    }
    sorted = vmap_sorted(delta);
    p->n = 0;
    for (size_t i = 0; i < delta->count; i++) {
        int changed = 0;

        for (int k = PV_DAYS; k < PV_FIGURES; k++)
            changed |= sorted[i].v[k] != 0;
        if (changed)
            sorted[p->n++] = sorted[i];
        p->lowered |= sorted[i].v[PV_VIEWS] < 0 || sorted[i].v[PV_WATCH] < 0;
    }
    p->changed = sorted;
    if ((p->after = calloc(p->n + 1, sizeof *p->after)) == NULL)
        return merge_oom(m);
    return VS_OK;
}

/* after = the changed videos' current rollup rows + the change. */
static vs_status period_apply(period_run *p)
{
    merge_ctx *m = p->m;

    for (size_t i = 0; i < p->n; i++) {
        p->after[i] = p->changed[i];
        p->after[i].v[PV_CREATOR] = p->changed[i].v[PV_CREATOR];
    }
    for (size_t start = 0; start < p->n; start += MERGE_IN_BATCH) {
        size_t n = p->n - start < MERGE_IN_BATCH ? p->n - start : MERGE_IN_BATCH;
        size_t len = (size_t)snprintf(p->sql, PERIOD_SQL_BYTES,
                                      "SELECT video_id, days, views, watch_s, ad_views, video_won,"
                                      " ad_won FROM video_period_stats WHERE period_kind = %d AND"
                                      " period_start = '%s' AND video_id IN (",
                                      p->kind, p->start);
        MYSQL_RES *res;
        MYSQL_ROW row;

        len = period_ids(p->sql, len, p->changed + start, n);
        memcpy(p->sql + len, ")", 2);
        if (mysql_query(m->db, p->sql) != 0 || (res = mysql_store_result(m->db)) == NULL)
            return merge_sql_error(m, "video_period_stats");
        while ((row = mysql_fetch_row(res)) != NULL) {
            vmap_entry *e = period_find(p, strtoull(row[0], NULL, 10));

            for (int k = PV_DAYS; e != NULL && k < PV_FIGURES; k++)
                e->v[k] += strtoll(row[k + 1], NULL, 10);
        }
        mysql_free_result(res);
    }
    return VS_OK;
}

/* Rewrites the changed videos' rollup rows: replaced, or deleted when no day is left. */
static vs_status period_write(period_run *p)
{
    merge_ctx *m = p->m;
    vs_status rc;
    size_t gone = 0;

    for (size_t i = 0; i < p->n; i++) {
        const vmap_entry *a = &p->after[i];

        if (a->v[PV_DAYS] <= 0) {
            for (int k = PV_DAYS; k < PV_FIGURES; k++) {
                if (a->v[k] != 0) {
                    snprintf(m->err, m->errlen,
                             "video %" PRIu64 ": its %s rollup would keep figures on no day",
                             a->video_id, p->kind == WINDOW_WEEK ? "week" : "month");
                    return VS_DATA_LOSS;
                }
            }
            gone++;
            continue;
        }
        bulk_buf_i64(&m->buf, p->kind);
        bulk_buf_str(&m->buf, p->start);
        bulk_buf_u64(&m->buf, a->video_id);
        bulk_buf_u64(&m->buf, (uint64_t)a->v[PV_CREATOR]);
        for (int k = PV_DAYS; k < PV_FIGURES; k++)
            bulk_buf_i64(&m->buf, a->v[k]);
        bulk_buf_i64(&m->buf, a->v[PV_VIDEO_WON] + a->v[PV_AD_WON]);
        bulk_buf_end_row(&m->buf);
    }
    if ((rc = bulk_buf_replace(m->db, &m->buf, "video_period_stats",
                               "period_kind, period_start, video_id, creator_id, days, views,"
                               " watch_s, ad_views, video_won, ad_won, total_won",
                               NULL, m->err, m->errlen)) != VS_OK)
        return rc;
    /* a re-run whose day lost all of a video's rows: its row goes when no day is left */
    for (size_t i = 0; i < p->n && gone > 0;) {
        size_t len = (size_t)snprintf(p->sql, PERIOD_SQL_BYTES,
                                      "DELETE FROM video_period_stats WHERE period_kind = %d AND"
                                      " period_start = '%s' AND video_id IN (",
                                      p->kind, p->start);
        size_t listed = 0;

        for (; i < p->n && listed < MERGE_IN_BATCH; i++) {
            if (p->after[i].v[PV_DAYS] > 0)
                continue;
            if (listed++ > 0)
                p->sql[len++] = ',';
            len += (size_t)bulk_fmt_u64(p->sql + len, p->after[i].video_id);
        }
        memcpy(p->sql + len, ")", 2);
        gone -= listed;
        if ((rc = db_exec(m->db, p->sql, m->err, m->errlen)) != VS_OK)
            return rc;
    }
    return VS_OK;
}

static int period_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* A top-N candidate: its value of the metric being ranked, and its creator when known. */
static vs_status period_candidate(merge_ctx *m, vmap *cand, uint64_t video_id, uint64_t creator,
                                  int64_t value)
{
    vmap_entry *e = vmap_upsert(cand, video_id);

    if (e == NULL)
        return merge_oom(m);
    e->v[0] = value;
    if (creator != 0)
        e->v[1] = (int64_t)creator;
    return VS_OK;
}

/* One metric's lists, re-ranked from their entries (all videos, and the changed videos'
 * creators) plus the changed videos at their new values. */
static vs_status period_top_incremental(period_run *p, int metric, const uint64_t *creators,
                                        size_t n_creators)
{
    merge_ctx *m = p->m;
    int col = metric == 1 ? PV_VIEWS : PV_WATCH;
    vmap cand;
    vmap_entry *sorted;
    vs_status rc;

    if ((rc = vmap_init(&cand, p->n + n_creators + 256, 0)) != VS_OK)
        return merge_oom(m);
    /* the scopes' current entries first (list order), creator 0 = the list over all videos */
    for (size_t start = 0; (start == 0 || start < n_creators) && rc == VS_OK;
         start += MERGE_IN_BATCH) {
        size_t n = n_creators - start < MERGE_IN_BATCH ? n_creators - start : MERGE_IN_BATCH;
        size_t len = (size_t)snprintf(p->sql, PERIOD_SQL_BYTES,
                                      "SELECT creator_id, video_id, value FROM video_top WHERE"
                                      " period_kind = %d AND period_start = '%s' AND metric = %d"
                                      " AND creator_id IN (%s",
                                      p->kind, p->start, metric, start == 0 ? "0" : "");
        MYSQL_RES *res;
        MYSQL_ROW row;

        for (size_t i = 0; i < n; i++) {
            if (start == 0 || i > 0)
                p->sql[len++] = ',';
            len += (size_t)bulk_fmt_u64(p->sql + len, creators[start + i]);
        }
        memcpy(p->sql + len, ")", 2);
        if (mysql_query(m->db, p->sql) != 0 || (res = mysql_store_result(m->db)) == NULL) {
            rc = merge_sql_error(m, "video_top");
            break;
        }
        while (rc == VS_OK && (row = mysql_fetch_row(res)) != NULL)
            rc = period_candidate(m, &cand, strtoull(row[1], NULL, 10), strtoull(row[0], NULL, 10),
                                  strtoll(row[2], NULL, 10));
        mysql_free_result(res);
    }
    /* then the changed videos at their values after the day */
    for (size_t i = 0; i < p->n && rc == VS_OK; i++)
        rc = period_candidate(m, &cand, p->after[i].video_id, (uint64_t)p->after[i].v[PV_CREATOR],
                              p->after[i].v[PV_DAYS] > 0 ? p->after[i].v[col] : 0);
    if (rc == VS_OK)
        rc = merge_items_reserve(m, cand.count);
    if (rc == VS_OK) {
        sorted = vmap_sorted(&cand);
        for (size_t i = 0; i < cand.count; i++) {
            m->items[i].video_id = sorted[i].video_id;
            m->items[i].creator_id = (uint64_t)sorted[i].v[1];
            m->items[i].value = sorted[i].v[0];
        }
        rc = merge_write_top(m, p->kind, p->start, metric, cand.count, creators, n_creators);
    }
    vmap_free(&cand);
    return rc;
}

/* Both metrics' lists from every video of the period, read back after period_write (used when
 * a ranked value went down). */
static vs_status period_top_full(period_run *p)
{
    merge_ctx *m = p->m;
    MYSQL_RES *res;
    MYSQL_ROW row;
    vmap all;
    vmap_entry *sorted;
    vs_status rc = VS_OK;

    snprintf(p->sql, PERIOD_SQL_BYTES,
             "SELECT video_id, creator_id, views, watch_s FROM video_period_stats WHERE"
             " period_kind = %d AND period_start = '%s'",
             p->kind, p->start);
    if (mysql_query(m->db, p->sql) != 0 || (res = mysql_store_result(m->db)) == NULL)
        return merge_sql_error(m, "video_period_stats");
    if (vmap_init(&all, (size_t)mysql_num_rows(res) + 1, 0) != VS_OK) {
        mysql_free_result(res);
        return merge_oom(m);
    }
    while (rc == VS_OK && (row = mysql_fetch_row(res)) != NULL) {
        vmap_entry *e = vmap_upsert(&all, strtoull(row[0], NULL, 10));

        if (e == NULL)
            rc = merge_oom(m);
        for (int k = 0; e != NULL && k < 3; k++)
            e->v[k] = strtoll(row[k + 1], NULL, 10);
    }
    mysql_free_result(res);
    if (rc == VS_OK)
        rc = merge_items_reserve(m, all.count);
    sorted = rc == VS_OK ? vmap_sorted(&all) : NULL;
    for (int metric = 1; metric <= 2 && rc == VS_OK; metric++) {
        for (size_t i = 0; i < all.count; i++) {
            m->items[i].video_id = sorted[i].video_id;
            m->items[i].creator_id = (uint64_t)sorted[i].v[0];
            m->items[i].value = sorted[i].v[metric];
        }
        rc = merge_write_top(m, p->kind, p->start, metric, all.count, NULL, 0);
    }
    vmap_free(&all);
    return rc;
}

/* The period's lists after the change: incrementally unless a ranked value went down. */
static vs_status period_top(period_run *p)
{
    merge_ctx *m = p->m;
    uint64_t *creators;
    size_t n_creators = 0;
    vs_status rc = VS_OK;

    if (p->lowered)
        return period_top_full(p);
    if ((creators = malloc((p->n + 1) * sizeof *creators)) == NULL)
        return merge_oom(m);
    for (size_t i = 0; i < p->n; i++) {
        if (p->after[i].v[PV_CREATOR] != 0)
            creators[n_creators++] = (uint64_t)p->after[i].v[PV_CREATOR];
    }
    qsort(creators, n_creators, sizeof *creators, period_u64_cmp);
    {
        size_t u = 0;

        for (size_t i = 0; i < n_creators; i++) {
            if (u == 0 || creators[u - 1] != creators[i])
                creators[u++] = creators[i];
        }
        n_creators = u;
    }
    for (int metric = 1; metric <= 2 && rc == VS_OK; metric++)
        rc = period_top_incremental(p, metric, creators, n_creators);
    free(creators);
    return rc;
}

vs_status merge_period(merge_ctx *m, window_period kind, const vmap *old, merge_period_info *info)
{
    period_run p = {.m = m, .kind = (int)kind};
    business_date first, last;
    vmap delta;
    vs_status rc;

    window_period_range(kind, m->job->day, &first, &last);
    window_format(first, p.start);
    if ((rc = vmap_init(&delta, m->n + old->count, 0)) != VS_OK)
        return merge_oom(m);
    if ((p.sql = malloc(PERIOD_SQL_BYTES)) == NULL) {
        rc = merge_oom(m);
        goto out;
    }
    if ((rc = period_changes(&p, old, &delta)) != VS_OK || p.n == 0 ||
        (rc = period_apply(&p)) != VS_OK || (rc = period_write(&p)) != VS_OK)
        goto out;
    rc = period_top(&p);
out:
    info->changed = p.n;
    info->full_top = p.lowered;
    free(p.sql);
    free(p.after);
    vmap_free(&delta);
    return rc;
}
