/* coord_finance.c — closing months and invalidating traffic (docs/rules.md "Months close",
 * "Invalid traffic"), admin calls on the coordinator's BatchService.
 *
 * Both change what settlement means for days the batch has already settled, so they live next to
 * the job repository: closing freezes a month's statement lines once every day of it with play
 * rows is settled; an invalidation marks play rows and queues the first settled day they touch
 * again, forced, which recomputes it and every later day (merge_ledger.c books the differences). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "coord_service.h"
#include "db.h"
#include "log.h"
#include "text.h"

/* The ledger's kind for a month closed (vs.v1.LedgerKind MONTH_CLOSED). */
#define LEDGER_MONTH_CLOSED 4

/* Videos listed per invalidation in a reply (the rest are counted in rows_marked). */
#define FINANCE_VIDEOS_MAX 1000

/* "YYYY-MM" → the month's first and last day. */
static vs_status finance_month(const char *text, business_date *first, business_date *last)
{
    char day[11];
    int y, m, d;

    if (strlen(text) != 7 || text[4] != '-')
        return VS_INVALID_ARGUMENT;
    snprintf(day, sizeof day, "%s-01", text);
    if (window_parse(day, first) != VS_OK)
        return VS_INVALID_ARGUMENT;
    window_to_civil(*first, &y, &m, &d);
    *last = (m == 12 ? window_from_civil(y + 1, 1, 1) : window_from_civil(y, m + 1, 1)) - 1;
    return VS_OK;
}

static void finance_rollback(MYSQL *db)
{
    char ignored[128];

    db_exec(db, "ROLLBACK", ignored, sizeof ignored);
}

/* The month's close record, if it has one (locked for the rest of the transaction). */
static vs_status close_load(MYSQL *db, const char *first, Vs__V1__MonthClose *out, char *by,
                            size_t by_len, char *err, size_t errlen)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_NOT_FOUND;

    snprintf(sql, sizeof sql,
             "SELECT closed_by, closed_ms, videos, total_won FROM month_close WHERE month = '%s'"
             " FOR UPDATE",
             first);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "month_close: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        snprintf(by, by_len, "%s", row[0]);
        out->closed_by = by;
        out->closed_unix_ms = strtoll(row[1], NULL, 10);
        out->videos = strtoll(row[2], NULL, 10);
        out->total_won = strtoll(row[3], NULL, 10);
        rc = VS_OK;
    }
    mysql_free_result(res);
    return rc;
}

/* FAILED_PRECONDITION when a day of [first, last] has play rows but no completed settlement. The
 * month's jobs are locked first, so no forced re-run of one of its days is queued meanwhile. */
static vs_status close_check_days(MYSQL *db, const char *month, const char *first, const char *last,
                                  char *err, size_t errlen)
{
    char sql[768], missing[11];
    vs_status rc;

    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM (SELECT id FROM batch_job WHERE name = '%s' AND business_date"
             " BETWEEN '%s' AND '%s' FOR UPDATE) j",
             BATCH_JOB_DAILY, first, last);
    if ((rc = db_exec(db, sql, err, errlen)) != VS_OK ||
        (rc = job_first_unsettled(db, BATCH_JOB_DAILY, first, last, missing, err, errlen)) !=
            VS_OK ||
        missing[0] == '\0')
        return rc;
    snprintf(err, errlen,
             "month: %s cannot be closed: %s has play rows but no completed settlement (run or"
             " finish `vsctl batch run --date %s` first)",
             month, missing, missing);
    return VS_FAILED_PRECONDITION;
}

/* Freezes the month's lines and records the close (in the caller's transaction). */
static vs_status close_write(MYSQL *db, const char *first, const char *by, Vs__V1__MonthClose *out,
                             char *err, size_t errlen)
{
    char sql[768];
    int64_t now = clock_now_ms();
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc;

    snprintf(sql, sizeof sql,
             "INSERT INTO statement_line (month, creator_id, video_id, views, ad_views, video_won,"
             " ad_won, total_won) SELECT period_start, creator_id, video_id, views, ad_views,"
             " video_won, ad_won, total_won FROM video_period_stats WHERE period_kind = %d AND"
             " period_start = '%s'",
             WINDOW_MONTH, first);
    if ((rc = db_exec(db, sql, err, errlen)) != VS_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), COALESCE(SUM(total_won), 0) FROM statement_line WHERE month = '%s'",
             first);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "statement_line: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        out->videos = strtoll(row[0], NULL, 10);
        out->total_won = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(res);
    out->closed_unix_ms = now;
    snprintf(sql, sizeof sql,
             "INSERT INTO month_close (month, closed_by, closed_ms, videos, total_won) VALUES"
             " ('%s', '%s', %" PRId64 ", %" PRId64 ", %" PRId64 ")",
             first, by, now, out->videos, out->total_won);
    if ((rc = db_exec(db, sql, err, errlen)) != VS_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "INSERT INTO ledger (kind, actor, reason, day, booked_month, at_ms) VALUES (%d, '%s',"
             " 'month closed: %" PRId64 " statement lines, %" PRId64 " won', '%s', '%s', %" PRId64
             ")",
             LEDGER_MONTH_CLOSED, by, out->videos, out->total_won, first, first, now);
    return db_exec(db, sql, err, errlen);
}

void coord_close_month(Vs__V1__BatchService_Service *s, const Vs__V1__CloseMonthRequest *in,
                       Vs__V1__MonthClose_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__MonthClose resp = VS__V1__MONTH_CLOSE__INIT;
    business_date first, last, today = window_day_of(clock_now_ms());
    char first_text[11], last_text[11], by[97], quoted[64], err[1024];
    uint64_t admin = 0;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, &admin) != VS_OK)
        goto fail;
    if (finance_month(in->month, &first, &last) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "month: expected YYYY-MM, got %s",
                 text_quote(quoted, sizeof quoted, in->month, strlen(in->month)));
        goto fail;
    }
    if (last >= today) {
        rpc_fail(call, VS_FAILED_PRECONDITION,
                 "month: %s is not over yet in the business time zone (its last day is not past)",
                 in->month);
        goto fail;
    }
    window_format(first, first_text);
    window_format(last, last_text);
    resp.month = in->month;
    if ((rc = db_exec(db, "START TRANSACTION", err, sizeof err)) != VS_OK)
        goto db_fail;
    rc = close_load(db, first_text, &resp, by, sizeof by, err, sizeof err);
    if (rc == VS_OK) {
        /* closed before (a retry, or a second operator): the first close stands */
        finance_rollback(db);
        resp.already_closed = 1;
        closure(&resp, data);
        return;
    }
    snprintf(by, sizeof by, "operator %" PRIu64, admin);
    resp.closed_by = by;
    if (rc != VS_NOT_FOUND ||
        (rc = close_check_days(db, in->month, first_text, last_text, err, sizeof err)) != VS_OK ||
        (rc = close_write(db, first_text, by, &resp, err, sizeof err)) != VS_OK ||
        (rc = db_exec(db, "COMMIT", err, sizeof err)) != VS_OK) {
        finance_rollback(db);
        goto db_fail;
    }
    log_info("CloseMonth %s by %s: %" PRId64 " statement lines, %" PRId64 " won", in->month, by,
             resp.videos, resp.total_won);
    closure(&resp, data);
    return;
db_fail:
    rpc_fail(call, rc, "%s", err);
fail:
    closure(NULL, data);
}

/* --- invalid traffic --- */

typedef struct invalidation_args {
    uint64_t viewer_id, video_id;
    business_date from, to;
    char from_text[11], to_text[11];
} invalidation_args;

/* The request's fields, checked: INVALID_ARGUMENT / FAILED_PRECONDITION naming the field. */
static vs_status invalidation_check(rpc_call *call, const Vs__V1__InvalidateTrafficRequest *in,
                                    invalidation_args *a)
{
    business_date today = window_day_of(clock_now_ms());
    char quoted[64];

    a->viewer_id = in->viewer_id;
    a->video_id = in->video_id;
    if (in->viewer_id == 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "viewer_id: required");
        return VS_INVALID_ARGUMENT;
    }
    if (window_parse(in->from_date, &a->from) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "from_date: expected YYYY-MM-DD, got %s",
                 text_quote(quoted, sizeof quoted, in->from_date, strlen(in->from_date)));
        return VS_INVALID_ARGUMENT;
    }
    if (window_parse(in->to_date, &a->to) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "to_date: expected YYYY-MM-DD, got %s",
                 text_quote(quoted, sizeof quoted, in->to_date, strlen(in->to_date)));
        return VS_INVALID_ARGUMENT;
    }
    if (a->to < a->from || a->to - a->from > 365) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "to_date: must be from from_date (%s) to 365 days after it, got %s", in->from_date,
                 in->to_date);
        return VS_INVALID_ARGUMENT;
    }
    if (a->to >= today) {
        rpc_fail(call, VS_FAILED_PRECONDITION,
                 "to_date: %s is not over yet in the business time zone (invalidate days that are)",
                 in->to_date);
        return VS_FAILED_PRECONDITION;
    }
    if (in->reason[0] == '\0' || strlen(in->reason) > JOB_REASON_MAX - 40) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "reason: required, at most %d bytes, got %zu",
                 JOB_REASON_MAX - 40, strlen(in->reason));
        return VS_INVALID_ARGUMENT;
    }
    window_format(a->from, a->from_text);
    window_format(a->to, a->to_text);
    return VS_OK;
}

/* NOT_FOUND naming the field when the viewer (or the video) does not exist. */
static vs_status invalidation_subjects(MYSQL *db, const invalidation_args *a, char *err,
                                       size_t errlen)
{
    char sql[160];
    int64_t n = 0;
    vs_status rc;

    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM users WHERE id = %" PRIu64, a->viewer_id);
    if ((rc = db_query_int(db, sql, &n, err, errlen)) != VS_OK)
        return rc;
    if (n == 0) {
        snprintf(err, errlen, "viewer_id: user %" PRIu64 " does not exist", a->viewer_id);
        return VS_NOT_FOUND;
    }
    if (a->video_id == 0)
        return VS_OK;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM videos WHERE id = %" PRIu64, a->video_id);
    if ((rc = db_query_int(db, sql, &n, err, errlen)) != VS_OK)
        return rc;
    if (n == 0) {
        snprintf(err, errlen, "video_id: video %" PRIu64 " does not exist", a->video_id);
        return VS_NOT_FOUND;
    }
    return VS_OK;
}

/* Marks the rows (in the caller's transaction) and records them per video; *rows = rows newly
 * marked. */
static vs_status invalidation_mark(MYSQL *db, const invalidation_args *a, uint32_t id,
                                   int64_t *rows, char *err, size_t errlen)
{
    char sql[768], video[48] = "";
    vs_status rc;

    if (a->video_id != 0)
        snprintf(video, sizeof video, " AND video_id = %" PRIu64, a->video_id);
    snprintf(sql, sizeof sql,
             "UPDATE play_log SET invalid_id = %u WHERE day BETWEEN '%s' AND '%s' AND"
             " viewer_id = %" PRIu64 "%s AND invalid_id = 0",
             id, a->from_text, a->to_text, a->viewer_id, video);
    if ((rc = db_exec(db, sql, err, errlen)) != VS_OK)
        return rc;
    *rows = (int64_t)mysql_affected_rows(db);
    if (*rows == 0)
        return VS_OK;
    snprintf(sql, sizeof sql,
             "INSERT INTO traffic_invalidation_video (invalidation_id, video_id, play_rows)"
             " SELECT %u, video_id, COUNT(*) FROM play_log WHERE day BETWEEN '%s' AND '%s' AND"
             " viewer_id = %" PRIu64 "%s AND invalid_id = %u GROUP BY video_id",
             id, a->from_text, a->to_text, a->viewer_id, video, id);
    if ((rc = db_exec(db, sql, err, errlen)) != VS_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "UPDATE traffic_invalidation SET rows_marked = %" PRId64 " WHERE id = %u", *rows, id);
    return db_exec(db, sql, err, errlen);
}

/* Queues the first settled day among the marked ones again, forced: it and every later settled
 * day are recomputed. *rerun = that day, or -1 when no marked day is settled yet (it will be
 * settled with the marks). FAILED_PRECONDITION while a settlement of one of those days runs. */
static vs_status invalidation_rerun(MYSQL *db, const invalidation_args *a, uint32_t id,
                                    const char *by, const char *reason, business_date *rerun,
                                    char *err, size_t errlen)
{
    char sql[768], day[32] = "", why[JOB_REASON_MAX + 1];
    int64_t busy = 0;
    business_date d;
    job_row job;
    vs_status rc;

    *rerun = -1;
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM batch_job WHERE name = '%s' AND business_date >= '%s' AND"
             " state IN (%d, %d)",
             BATCH_JOB_DAILY, a->from_text, JOB_RUNNING, JOB_MERGING);
    if ((rc = db_query_int(db, sql, &busy, err, errlen)) != VS_OK)
        return rc;
    if (busy > 0) {
        snprintf(err, errlen,
                 "from_date: a settlement of a day from %s on is running; invalidate when it has"
                 " finished (`vsctl batch list`)",
                 a->from_text);
        return VS_FAILED_PRECONDITION;
    }
    snprintf(sql, sizeof sql,
             "SELECT MIN(j.business_date) FROM batch_job j WHERE j.name = '%s' AND j.state = %d"
             " AND j.business_date BETWEEN '%s' AND '%s' AND EXISTS (SELECT 1 FROM play_log p"
             " WHERE p.day = j.business_date AND p.viewer_id = %" PRIu64 " AND p.invalid_id = %u)",
             BATCH_JOB_DAILY, JOB_COMPLETED, a->from_text, a->to_text, a->viewer_id, id);
    rc = db_query_text(db, sql, day, sizeof day, err, errlen);
    if (rc == VS_NOT_FOUND || (rc == VS_OK && day[0] == '\0'))
        return VS_OK;
    if (rc != VS_OK || (rc = window_parse(day, &d)) != VS_OK)
        return rc;
    snprintf(why, sizeof why, "invalid traffic #%u: %s", id, reason);
    if ((rc = job_start(db, BATCH_JOB_DAILY, d, 1, by, why, &job, err, errlen)) == VS_OK)
        *rerun = d;
    return rc;
}

/* The invalidation's record as a reply: its row and its videos (at most FINANCE_VIDEOS_MAX). The
 * strings and arrays are allocated; invalidation_free releases them. */
static vs_status invalidation_load(MYSQL *db, uint32_t id, Vs__V1__Invalidation *out, char *err,
                                   size_t errlen)
{
    char sql[512];
    MYSQL_RES *res;
    MYSQL_ROW row;
    size_t n = 0;

    snprintf(sql, sizeof sql,
             "SELECT viewer_id, video_id, from_day, to_day, reason, actor, created_ms,"
             " rows_marked, COALESCE(rerun_from, '') FROM traffic_invalidation WHERE id = %u",
             id);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        goto sql_error;
    if ((row = mysql_fetch_row(res)) != NULL) {
        out->id = id;
        out->viewer_id = strtoull(row[0], NULL, 10);
        out->video_id = strtoull(row[1], NULL, 10);
        out->from_date = strdup(row[2]);
        out->to_date = strdup(row[3]);
        out->reason = strdup(row[4]);
        out->actor = strdup(row[5]);
        out->created_unix_ms = strtoll(row[6], NULL, 10);
        out->rows_marked = strtoll(row[7], NULL, 10);
        out->rerun_from_date = strdup(row[8]);
    }
    mysql_free_result(res);
    if (row == NULL) {
        snprintf(err, errlen, "invalidation %u does not exist", id);
        return VS_NOT_FOUND;
    }
    snprintf(sql, sizeof sql,
             "SELECT video_id, play_rows FROM traffic_invalidation_video WHERE invalidation_id = %u"
             " ORDER BY video_id LIMIT %d",
             id, FINANCE_VIDEOS_MAX);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        goto sql_error;
    out->videos = calloc(mysql_num_rows(res) + 1, sizeof *out->videos);
    while (out->videos != NULL && (row = mysql_fetch_row(res)) != NULL) {
        Vs__V1__InvalidatedVideo *v = malloc(sizeof *v);

        if (v == NULL)
            break;
        vs__v1__invalidated_video__init(v);
        v->video_id = strtoull(row[0], NULL, 10);
        v->rows = strtoll(row[1], NULL, 10);
        out->videos[n++] = v;
    }
    out->n_videos = n;
    mysql_free_result(res);
    return VS_OK;
sql_error:
    snprintf(err, errlen, "traffic_invalidation: %s", mysql_error(db));
    return db_status_from_errno(mysql_errno(db));
}

static void invalidation_free(Vs__V1__Invalidation *inv)
{
    char **texts[] = {&inv->from_date, &inv->to_date, &inv->reason, &inv->actor,
                      &inv->rerun_from_date};

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (*texts[i] != protobuf_c_empty_string)
            free(*texts[i]);
    for (size_t i = 0; i < inv->n_videos; i++)
        free(inv->videos[i]);
    free(inv->videos);
}

/* Records the invalidation, marks its rows and queues the re-run, all or nothing. *id = 0 when
 * no row needed marking (then nothing is recorded). */
static vs_status invalidation_make(MYSQL *db, const invalidation_args *a, const char *by,
                                   const char *reason, uint32_t *id, char *err, size_t errlen)
{
    char sql[1024], quoted[2 * JOB_REASON_MAX + 1], rerun_text[11];
    business_date rerun;
    int64_t rows = 0;
    vs_status rc;

    *id = 0;
    mysql_real_escape_string(db, quoted, reason, (unsigned long)strlen(reason));
    snprintf(sql, sizeof sql,
             "INSERT INTO traffic_invalidation (viewer_id, video_id, from_day, to_day, reason,"
             " actor, created_ms) VALUES (%" PRIu64 ", %" PRIu64
             ", '%s', '%s', '%s', '%s', %" PRId64 ")",
             a->viewer_id, a->video_id, a->from_text, a->to_text, quoted, by, clock_now_ms());
    if ((rc = db_exec(db, "START TRANSACTION", err, errlen)) != VS_OK ||
        (rc = db_exec(db, sql, err, errlen)) != VS_OK)
        goto rollback;
    *id = (uint32_t)mysql_insert_id(db);
    if ((rc = invalidation_mark(db, a, *id, &rows, err, errlen)) != VS_OK)
        goto rollback;
    if (rows == 0) {
        /* every such row was marked before: nothing changes, nothing is recorded */
        *id = 0;
        finance_rollback(db);
        return VS_OK;
    }
    if ((rc = invalidation_rerun(db, a, *id, by, reason, &rerun, err, errlen)) != VS_OK)
        goto rollback;
    if (rerun >= 0) {
        window_format(rerun, rerun_text);
        snprintf(sql, sizeof sql, "UPDATE traffic_invalidation SET rerun_from = '%s' WHERE id = %u",
                 rerun_text, *id);
        if ((rc = db_exec(db, sql, err, errlen)) != VS_OK)
            goto rollback;
    }
    if ((rc = db_exec(db, "COMMIT", err, errlen)) == VS_OK)
        return VS_OK;
rollback:
    *id = 0;
    finance_rollback(db);
    return rc;
}

void coord_invalidate_traffic(Vs__V1__BatchService_Service *s,
                              const Vs__V1__InvalidateTrafficRequest *in,
                              Vs__V1__Invalidation_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__Invalidation resp = VS__V1__INVALIDATION__INIT;
    invalidation_args a;
    char err[1024], by[64];
    uint64_t admin = 0;
    uint32_t id;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, &admin) != VS_OK ||
        invalidation_check(call, in, &a) != VS_OK)
        goto fail;
    snprintf(by, sizeof by, "operator %" PRIu64, admin);
    if ((rc = invalidation_subjects(db, &a, err, sizeof err)) != VS_OK ||
        (rc = invalidation_make(db, &a, by, in->reason, &id, err, sizeof err)) != VS_OK)
        goto db_fail;
    if (id == 0) {
        /* nothing newly marked (a retry, or rows already invalid): an empty record says so */
        resp.viewer_id = a.viewer_id;
        resp.video_id = a.video_id;
        resp.from_date = a.from_text;
        resp.to_date = a.to_text;
        resp.reason = in->reason;
        closure(&resp, data);
        return;
    }
    coord_wake(coord_service_coord());
    rc = invalidation_load(db, id, &resp, err, sizeof err);
    if (rc == VS_OK) {
        log_info("InvalidateTraffic #%u by %s: viewer %" PRIu64 ", %" PRId64
                 " play rows marked, re-run from %s",
                 id, by, a.viewer_id, resp.rows_marked,
                 resp.rerun_from_date[0] ? resp.rerun_from_date : "(none settled)");
        closure(&resp, data);
    }
    invalidation_free(&resp);
    if (rc == VS_OK)
        return;
db_fail:
    rpc_fail(call, rc, "%s", err);
fail:
    closure(NULL, data);
}

void coord_list_invalidations(Vs__V1__BatchService_Service *s,
                              const Vs__V1__ListInvalidationsRequest *in,
                              Vs__V1__ListInvalidationsResponse_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__ListInvalidationsResponse resp = VS__V1__LIST_INVALIDATIONS_RESPONSE__INIT;
    uint32_t limit = in->limit ? in->limit : 20, ids[1000];
    Vs__V1__Invalidation *items = NULL, **ptrs = NULL;
    char sql[128], err[512];
    size_t n = 0;
    MYSQL_RES *res;
    MYSQL_ROW row;
    MYSQL *db;
    vs_status rc = VS_OK;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, NULL) != VS_OK)
        goto fail;
    if (limit > 1000) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most 1000, got %u", limit);
        goto fail;
    }
    snprintf(sql, sizeof sql, "SELECT id FROM traffic_invalidation ORDER BY id DESC LIMIT %u",
             limit);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        rpc_fail(call, db_status_from_errno(mysql_errno(db)), "traffic_invalidation: %s",
                 mysql_error(db));
        goto fail;
    }
    while (n < limit && (row = mysql_fetch_row(res)) != NULL)
        ids[n++] = (uint32_t)strtoul(row[0], NULL, 10);
    mysql_free_result(res);
    items = calloc(n + 1, sizeof *items);
    ptrs = calloc(n + 1, sizeof *ptrs);
    if (items == NULL || ptrs == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto out_fail;
    }
    for (size_t i = 0; i < n && rc == VS_OK; i++) {
        vs__v1__invalidation__init(&items[i]);
        rc = invalidation_load(db, ids[i], &items[i], err, sizeof err);
        ptrs[i] = &items[i];
    }
    if (rc != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto out_fail;
    }
    resp.n_invalidations = n;
    resp.invalidations = ptrs;
    closure(&resp, data);
    goto out;
out_fail:
    closure(NULL, data);
out:
    for (size_t i = 0; items != NULL && i < n; i++)
        invalidation_free(&items[i]);
    free(items);
    free(ptrs);
    return;
fail:
    closure(NULL, data);
}
