/* query_statement.c — StreamingService.GetStatement: a creator's (or every creator's) monthly
 * statement (docs/rules.md, "Months, statements and adjustments"; docs/reads.md, "Statements and
 * the ledger"). GetLedger is in query_ledger.c.
 *
 * A statement of month M is one line per (creator, video) plus the adjustment lines booked in M
 * (ledger kind 3, booked_month = M's first day). While M is open it is an ESTIMATE read from the
 * month rollup (video_period_stats, period kind 3), which changes as days are settled or re-run;
 * once M is closed (a month_close row) it is FINAL and read from the frozen statement_line rows.
 * The reply is paged with cursors (lines by creator and video, then adjustments by ledger id), and
 * its sums cover the whole statement: everything one request reads comes from one snapshot
 * (read_sql_run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "query.h"
#include "read_sql.h"
#include "text.h"

#define STATEMENT_LIMIT_DEFAULT 1000
#define STATEMENT_LIMIT_MAX 5000

/* Parses a month "YYYY-MM" into its first and last day; INVALID_ARGUMENT naming month. */
static int statement_month(rpc_call *call, const char *text, business_date *first,
                           business_date *last)
{
    char day[16], quoted[48];
    int y, m, d;

    if (text == NULL || *text == '\0') {
        rpc_fail(call, VS_INVALID_ARGUMENT, "month: required, as YYYY-MM");
        return 0;
    }
    snprintf(day, sizeof day, "%.7s-01", text);
    if (strlen(text) != 7 || window_parse(day, first) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "month: %s is not a month YYYY-MM",
                 text_quote(quoted, sizeof quoted, text, strlen(text)));
        return 0;
    }
    window_period_range(WINDOW_MONTH, *first, first, last);
    if (*first < window_from_civil(1973, 1, 1) || *last > window_from_civil(9999, 10, 31)) {
        window_to_civil(*first, &y, &m, &d);
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "month: %04d-%02d is outside the accepted months 1973-01..9999-10", y, m);
        return 0;
    }
    return 1;
}

typedef struct statement_req {
    /* the request, checked */
    business_date first, last;
    uint64_t creator; /* 0: every creator */
    uint64_t after_creator, after_video, after_adjustment;
    /* the answer; reset by statement_work at each attempt */
    int user_known;
    int closed;
    int64_t closed_ms;
    const char *closed_by;
    int64_t days_settled;
    int64_t lines_won, adjustments_won;
    Vs__V1__StatementLine *lines;
    size_t n_lines, lines_cap;
    Vs__V1__AdjustmentLine *adjustments;
    size_t n_adjustments, adjustments_cap;
    read_sql_page page; /* lines and adjustments together */
    read_sql_pool pool;
    char dates[STATEMENT_LIMIT_MAX][11]; /* the adjustments' corrected days */
} statement_req;

static void statement_reset(statement_req *s)
{
    read_sql_pool_free(&s->pool);
    s->user_known = s->closed = 0;
    s->closed_ms = s->days_settled = s->lines_won = s->adjustments_won = 0;
    s->closed_by = "";
    s->n_lines = s->n_adjustments = 0;
    s->page = (read_sql_page){.limit = s->page.limit};
}

enum { SL_CREATOR, SL_VIDEO, SL_VIEWS, SL_ADS, SL_VIDEO_WON, SL_AD_WON, SL_TOTAL, SL_TITLE, SL_N };

static int statement_line_row(void *arg, const read_sql_col *c)
{
    statement_req *s = arg;
    Vs__V1__StatementLine *l;

    if (read_sql_page_full(&s->page))
        return 0;
    if (grow_array(&s->lines, &s->lines_cap, s->n_lines + 1, sizeof *s->lines, 64, s->page.limit) !=
        VS_OK)
        return -1;
    l = &s->lines[s->n_lines];
    vs__v1__statement_line__init(l);
    l->creator_id = (uint64_t)c[SL_CREATOR].i64;
    l->video_id = (uint64_t)c[SL_VIDEO].i64;
    l->views = c[SL_VIEWS].i64;
    l->ad_views = c[SL_ADS].i64;
    l->video_won = c[SL_VIDEO_WON].i64;
    l->ad_won = c[SL_AD_WON].i64;
    l->total_won = c[SL_TOTAL].i64;
    if ((l->title = read_sql_pool_text(&s->pool, c[SL_TITLE].text, c[SL_TITLE].len)) == NULL)
        return -1;
    if (!read_sql_page_take(&s->page, protobuf_c_message_get_packed_size(&l->base)))
        return 0;
    s->n_lines++;
    return 1;
}

enum {
    SA_ID,
    SA_CREATOR,
    SA_VIDEO,
    SA_DAY,
    SA_JOB,
    SA_VIEWS,
    SA_ADS,
    SA_VIDEO_WON,
    SA_AD_WON,
    SA_TOTAL,
    SA_REASON,
    SA_N
};

static int statement_adjustment_row(void *arg, const read_sql_col *c)
{
    statement_req *s = arg;
    Vs__V1__AdjustmentLine *a;

    if (read_sql_page_full(&s->page))
        return 0;
    if (grow_array(&s->adjustments, &s->adjustments_cap, s->n_adjustments + 1,
                   sizeof *s->adjustments, 16, s->page.limit) != VS_OK)
        return -1;
    a = &s->adjustments[s->n_adjustments];
    vs__v1__adjustment_line__init(a);
    a->ledger_id = (uint64_t)c[SA_ID].i64;
    a->creator_id = (uint64_t)c[SA_CREATOR].i64;
    a->video_id = (uint64_t)c[SA_VIDEO].i64;
    window_format(c[SA_DAY].date, s->dates[s->n_adjustments]);
    a->corrected_date = s->dates[s->n_adjustments];
    a->job_id = (uint64_t)c[SA_JOB].i64;
    a->views = c[SA_VIEWS].i64;
    a->ad_views = c[SA_ADS].i64;
    a->video_won = c[SA_VIDEO_WON].i64;
    a->ad_won = c[SA_AD_WON].i64;
    a->total_won = c[SA_TOTAL].i64;
    if ((a->reason = read_sql_pool_text(&s->pool, c[SA_REASON].text, c[SA_REASON].len)) == NULL)
        return -1;
    if (!read_sql_page_take(&s->page, protobuf_c_message_get_packed_size(&a->base)))
        return 0;
    s->n_adjustments++;
    return 1;
}

/* The month's close record, settled days and whether the creator exists. */
static vs_status statement_head(MYSQL *db, statement_req *s, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT (SELECT COUNT(*) FROM users WHERE id = ?), "
        "(SELECT COUNT(*) FROM batch_job WHERE name = 'daily-settlement' AND state = 4 "
        "AND business_date BETWEEN ? AND ?), "
        "(SELECT COUNT(*) FROM month_close WHERE month = ?), "
        "(SELECT closed_ms FROM month_close WHERE month = ?), "
        "(SELECT closed_by FROM month_close WHERE month = ?)";
    read_sql_param p[6] = {READ_SQL_P_INT(s->creator), READ_SQL_P_DATE(s->first),
                           READ_SQL_P_DATE(s->last),   READ_SQL_P_DATE(s->first),
                           READ_SQL_P_DATE(s->first),  READ_SQL_P_DATE(s->first)};
    read_sql_col c[5];
    vs_status rc;

    memset(c, 0, sizeof c);
    read_sql_cols(c, 5, 4, -1);
    if ((rc = read_sql_query(db, sql, p, 6, c, 5, NULL, NULL, err, errlen)) != VS_OK)
        return rc;
    s->user_known = s->creator == 0 || c[0].i64 > 0;
    s->days_settled = c[1].i64;
    s->closed = c[2].i64 > 0;
    s->closed_ms = c[3].i64;
    if ((s->closed_by = read_sql_pool_text(&s->pool, c[4].text, c[4].len)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    return VS_OK;
}

/* The sums over the whole statement: its lines and its adjustments. */
static vs_status statement_sums(MYSQL *db, statement_req *s, char *err, size_t errlen)
{
    const char *lines;
    char sql[1024];
    read_sql_param p[4];
    read_sql_col c[2];
    int n = 0;
    vs_status rc;

    if (s->closed)
        lines = s->creator ? "SELECT SUM(total_won) FROM statement_line WHERE month = ? "
                             "AND creator_id = ?"
                           : "SELECT SUM(total_won) FROM statement_line WHERE month = ?";
    else
        lines = s->creator ? "SELECT SUM(p.total_won) FROM videos v JOIN video_period_stats p "
                             "ON p.period_kind = 3 AND p.period_start = ? AND p.video_id = v.id "
                             "WHERE v.creator_id = ?"
                           : "SELECT SUM(total_won) FROM video_period_stats "
                             "WHERE period_kind = 3 AND period_start = ?";
    snprintf(sql, sizeof sql,
             "SELECT CAST(COALESCE((%s), 0) AS SIGNED), CAST(COALESCE((SELECT SUM(total_won) "
             "FROM ledger WHERE booked_month = ? AND kind = 3%s), 0) AS SIGNED)",
             lines, s->creator ? " AND creator_id = ?" : "");
    p[n++] = READ_SQL_P_DATE(s->first);
    if (s->creator)
        p[n++] = READ_SQL_P_INT(s->creator);
    p[n++] = READ_SQL_P_DATE(s->first);
    if (s->creator)
        p[n++] = READ_SQL_P_INT(s->creator);
    memset(c, 0, sizeof c);
    read_sql_cols(c, 2, -1, -1);
    if ((rc = read_sql_query(db, sql, p, n, c, 2, NULL, NULL, err, errlen)) != VS_OK)
        return rc;
    s->lines_won = c[0].i64;
    s->adjustments_won = c[1].i64;
    return VS_OK;
}

/* This page's lines after the cursor (creator, video), by creator then video. */
static vs_status statement_lines(MYSQL *db, statement_req *s, char *err, size_t errlen)
{
    static const char *const sql[2][2] = {
        /* [closed][all creators] */
        {"SELECT CAST(v.creator_id AS SIGNED), CAST(v.id AS SIGNED), p.views, p.ad_views, "
         "p.video_won, p.ad_won, p.total_won, v.title FROM videos v JOIN video_period_stats p "
         "ON p.period_kind = 3 AND p.period_start = ? AND p.video_id = v.id "
         "WHERE v.creator_id = ? AND v.id > ? ORDER BY v.id LIMIT ?",
         "SELECT CAST(p.creator_id AS SIGNED), CAST(p.video_id AS SIGNED), p.views, p.ad_views, "
         "p.video_won, p.ad_won, p.total_won, COALESCE(v.title, '') FROM video_period_stats p "
         "LEFT JOIN videos v ON v.id = p.video_id WHERE p.period_kind = 3 AND p.period_start = ? "
         "AND (p.creator_id > ? OR (p.creator_id = ? AND p.video_id > ?)) "
         "ORDER BY p.creator_id, p.video_id LIMIT ?"},
        {"SELECT CAST(s.creator_id AS SIGNED), CAST(s.video_id AS SIGNED), s.views, s.ad_views, "
         "s.video_won, s.ad_won, s.total_won, COALESCE(v.title, '') FROM statement_line s "
         "LEFT JOIN videos v ON v.id = s.video_id WHERE s.month = ? AND s.creator_id = ? "
         "AND s.video_id > ? ORDER BY s.video_id LIMIT ?",
         "SELECT CAST(s.creator_id AS SIGNED), CAST(s.video_id AS SIGNED), s.views, s.ad_views, "
         "s.video_won, s.ad_won, s.total_won, COALESCE(v.title, '') FROM statement_line s "
         "LEFT JOIN videos v ON v.id = s.video_id WHERE s.month = ? "
         "AND (s.creator_id > ? OR (s.creator_id = ? AND s.video_id > ?)) "
         "ORDER BY s.creator_id, s.video_id LIMIT ?"}};
    read_sql_param p[5];
    read_sql_col c[SL_N];
    int n = 0;

    p[n++] = READ_SQL_P_DATE(s->first);
    if (s->creator) {
        /* the cursor within this creator's lines: none past it, all before it */
        if (s->after_creator > s->creator)
            return VS_OK;
        p[n++] = READ_SQL_P_INT(s->creator);
        p[n++] = READ_SQL_P_INT(s->after_creator == s->creator ? s->after_video : 0);
    } else {
        p[n++] = READ_SQL_P_INT(s->after_creator);
        p[n++] = READ_SQL_P_INT(s->after_creator);
        p[n++] = READ_SQL_P_INT(s->after_video);
    }
    p[n++] = READ_SQL_P_INT(s->page.limit + 1); /* one more: whether the page ends early */
    memset(c, 0, sizeof c);
    read_sql_cols(c, SL_N, SL_TITLE, -1);
    return read_sql_query(db, sql[s->closed][s->creator == 0], p, n, c, SL_N, statement_line_row, s,
                          err, errlen);
}

/* This page's adjustment lines after the cursor, by ledger id. */
static vs_status statement_adjustments(MYSQL *db, statement_req *s, char *err, size_t errlen)
{
    char sql[512];
    read_sql_param p[4];
    read_sql_col c[SA_N];
    int n = 0;

    snprintf(sql, sizeof sql,
             "SELECT CAST(id AS SIGNED), CAST(creator_id AS SIGNED), CAST(video_id AS SIGNED), "
             "day, CAST(job_id AS SIGNED), views, ad_views, video_won, ad_won, total_won, reason "
             "FROM ledger WHERE booked_month = ? AND kind = 3%s AND id > ? ORDER BY id LIMIT ?",
             s->creator ? " AND creator_id = ?" : "");
    p[n++] = READ_SQL_P_DATE(s->first);
    if (s->creator)
        p[n++] = READ_SQL_P_INT(s->creator);
    p[n++] = READ_SQL_P_INT(s->after_adjustment);
    /* the lines may have filled the page: one row then still tells whether there is more */
    p[n++] = READ_SQL_P_INT(s->page.limit - s->page.n + 1);
    memset(c, 0, sizeof c);
    read_sql_cols(c, SA_N, SA_REASON, SA_DAY);
    return read_sql_query(db, sql, p, n, c, SA_N, statement_adjustment_row, s, err, errlen);
}

/* One attempt (read_sql_run): everything from one snapshot. */
static vs_status statement_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    statement_req *s = arg;
    vs_status rc;

    statement_reset(s);
    if ((rc = statement_head(db, s, err, errlen)) != VS_OK || !s->user_known)
        return rc;
    if ((rc = statement_sums(db, s, err, errlen)) != VS_OK)
        return rc;
    /* lines first; a cursor into the adjustments means the lines are done */
    if (s->after_adjustment == 0 && (rc = statement_lines(db, s, err, errlen)) != VS_OK)
        return rc;
    if (!s->page.more)
        rc = statement_adjustments(db, s, err, errlen);
    return rc;
}

/* Checks GetStatement's fields and the caller's right to the statement; fills s. */
static int statement_check(rpc_call *call, const Vs__V1__GetStatementRequest *in,
                           const auth_principal *who, int is_admin, statement_req *s)
{
    if (!statement_month(call, in->month, &s->first, &s->last) ||
        !read_sql_page_limit(call, in->limit, STATEMENT_LIMIT_DEFAULT, STATEMENT_LIMIT_MAX, "lines",
                             &s->page))
        return 0;
    if (in->all_creators && in->creator_id != 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "all_creators: give creator_id or all_creators, not both");
        return 0;
    }
    if (in->all_creators && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "all_creators: every creator's statement needs the admin role");
        return 0;
    }
    s->creator = in->all_creators ? 0 : in->creator_id ? in->creator_id : who->user_id;
    if (!in->all_creators && s->creator != who->user_id && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "creator_id: another creator's statement needs the admin role");
        return 0;
    }
    s->after_creator = in->after_creator_id;
    s->after_video = in->after_video_id;
    s->after_adjustment = in->after_adjustment_id;
    return 1;
}

void streaming_get_statement(Vs__V1__StreamingService_Service *service,
                             const Vs__V1__GetStatementRequest *in,
                             Vs__V1__Statement_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__Statement out = VS__V1__STATEMENT__INIT;
    statement_req *s = calloc(1, sizeof *s);
    void **lines = NULL, **adjustments = NULL;
    char err[256], month[11];
    auth_principal who;
    vsd_db_role served_by;
    int is_admin;
    vs_status rc;

    (void)service;
    if (s == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto fail;
    }
    if (read_caller(call, &who, &is_admin) != VS_OK ||
        !statement_check(call, in, &who, is_admin, s))
        goto fail;
    rc = read_sql_run(call->worker, statement_work, s, &served_by, err, sizeof err);
    /* a creator unknown to the replica may have signed up a moment ago (read-your-writes) */
    if (rc == VS_OK && !s->user_known && served_by == VSD_REPLICA)
        rc = read_sql_run_on(call->worker, VSD_PRIMARY, statement_work, s, err, sizeof err);
    if (rc != VS_OK) {
        read_fail(call, rc, "reading the statement", err);
        goto fail;
    }
    if (!s->user_known) {
        rpc_fail(call, VS_NOT_FOUND, "creator_id: no user %llu", (unsigned long long)s->creator);
        goto fail;
    }
    lines = read_sql_ptrs(s->lines, s->n_lines, sizeof *s->lines);
    adjustments = read_sql_ptrs(s->adjustments, s->n_adjustments, sizeof *s->adjustments);
    if (lines == NULL || adjustments == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory building the reply");
        goto fail;
    }
    window_format(s->first, month);
    month[7] = '\0';
    out.month = month;
    out.creator_id = s->creator;
    out.state = s->closed ? VS__V1__STATEMENT_STATE__FINAL : VS__V1__STATEMENT_STATE__ESTIMATE;
    out.n_lines = s->n_lines;
    out.lines = (Vs__V1__StatementLine **)lines;
    out.n_adjustments = s->n_adjustments;
    out.adjustments = (Vs__V1__AdjustmentLine **)adjustments;
    out.lines_won = s->lines_won;
    out.adjustments_won = s->adjustments_won;
    out.total_won = s->lines_won + s->adjustments_won;
    if (s->closed) {
        out.closed_by = (char *)s->closed_by;
        out.closed_unix_ms = s->closed_ms;
    }
    if (s->page.more) {
        out.more = 1;
        out.next_after_creator_id =
            s->n_lines ? s->lines[s->n_lines - 1].creator_id : s->after_creator;
        out.next_after_video_id = s->n_lines ? s->lines[s->n_lines - 1].video_id : s->after_video;
        out.next_after_adjustment_id =
            s->n_adjustments ? s->adjustments[s->n_adjustments - 1].ledger_id : s->after_adjustment;
    }
    out.days_settled = (uint32_t)s->days_settled;
    out.days_total = (uint32_t)(s->last - s->first + 1);
    closure(&out, closure_data);
    goto done;
fail:
    closure(NULL, closure_data);
done:
    free(lines);
    free(adjustments);
    if (s != NULL) {
        read_sql_pool_free(&s->pool);
        free(s->lines);
        free(s->adjustments);
        free(s);
    }
}
