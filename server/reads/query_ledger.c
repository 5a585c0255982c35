/* query_ledger.c — StreamingService.GetLedger: the money ledger's entries of one video or one
 * creator, optionally over a range of days (docs/rules.md, "The ledger"; docs/reads.md,
 * "Statements and the ledger").
 *
 * The ledger is append-only: an entry per change to a video's money (a day settled, re-run or
 * adjusted; a month closed). The reply is paged by entry id, and its sums cover every entry of
 * the selection, read in the same snapshot as the page (read_sql_run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "query.h"
#include "read_sql.h"
#include "text.h"

#define LEDGER_LIMIT_DEFAULT 1000
#define LEDGER_LIMIT_MAX 5000
#define LEDGER_KIND_MAX 4 /* vs.v1.LedgerKind MONTH_CLOSED */

/* An optional day of the range (dflt when empty); INVALID_ARGUMENT naming field. */
static int ledger_day(rpc_call *call, const char *field, const char *text, business_date dflt,
                      business_date *out)
{
    char quoted[48], err[160];

    if (text == NULL || *text == '\0') {
        *out = dflt;
        return 1;
    }
    if (window_parse(text, out) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s: %s is not a calendar date YYYY-MM-DD (1970..9999)",
                 field, text_quote(quoted, sizeof quoted, text, strlen(text)));
        return 0;
    }
    if (window_check_accepted(field, *out, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        return 0;
    }
    return 1;
}

typedef struct ledger_req {
    /* the request, checked */
    uint64_t video_id, creator_id;
    business_date from, to;
    uint64_t after_id;
    const auth_principal *who;
    int is_admin;
    /* the answer; reset by ledger_work at each attempt */
    int64_t owner; /* video_id: its creator, -1 unknown; creator_id: 1 known, -1 unknown */
    int64_t video_won, ad_won, total_won;
    Vs__V1__LedgerEntry *entries;
    size_t cap;
    read_sql_page page; /* page.n entries */
    read_sql_pool pool;
    char dates[LEDGER_LIMIT_MAX][2][11]; /* each entry's day and booked month */
} ledger_req;

enum {
    LE_ID,
    LE_KIND,
    LE_JOB,
    LE_DAY,
    LE_BOOKED,
    LE_VIDEO,
    LE_CREATOR,
    LE_CARD,
    LE_VIEWS,
    LE_ADS,
    LE_VIDEO_WON,
    LE_AD_WON,
    LE_TOTAL,
    LE_AT,
    LE_ACTOR,
    LE_REASON,
    LE_N
};

static int ledger_row(void *arg, const read_sql_col *c)
{
    ledger_req *l = arg;
    Vs__V1__LedgerEntry *e;
    char(*dates)[11];

    if (read_sql_page_full(&l->page))
        return 0;
    if (grow_array(&l->entries, &l->cap, l->page.n + 1, sizeof *l->entries, 64, l->page.limit) !=
        VS_OK)
        return -1;
    e = &l->entries[l->page.n];
    dates = l->dates[l->page.n];
    vs__v1__ledger_entry__init(e);
    e->id = (uint64_t)c[LE_ID].i64;
    e->kind = c[LE_KIND].i64 >= 1 && c[LE_KIND].i64 <= LEDGER_KIND_MAX
                  ? (Vs__V1__LedgerKind)c[LE_KIND].i64
                  : VS__V1__LEDGER_KIND__LEDGER_KIND_UNSPECIFIED;
    e->job_id = (uint64_t)c[LE_JOB].i64;
    window_format(c[LE_DAY].date, dates[0]);
    window_format(c[LE_BOOKED].date, dates[1]);
    dates[1][7] = '\0'; /* YYYY-MM */
    e->date = dates[0];
    e->booked_month = dates[1];
    e->video_id = (uint64_t)c[LE_VIDEO].i64;
    e->creator_id = (uint64_t)c[LE_CREATOR].i64;
    e->rate_card_version = (uint32_t)c[LE_CARD].i64;
    e->views = c[LE_VIEWS].i64;
    e->ad_views = c[LE_ADS].i64;
    e->video_won = c[LE_VIDEO_WON].i64;
    e->ad_won = c[LE_AD_WON].i64;
    e->total_won = c[LE_TOTAL].i64;
    e->at_unix_ms = c[LE_AT].i64;
    if ((e->actor = read_sql_pool_text(&l->pool, c[LE_ACTOR].text, c[LE_ACTOR].len)) == NULL ||
        (e->reason = read_sql_pool_text(&l->pool, c[LE_REASON].text, c[LE_REASON].len)) == NULL)
        return -1;
    return read_sql_page_take(&l->page, protobuf_c_message_get_packed_size(&e->base));
}

/* Whose entries: the video's creator (or that the creator exists). */
static vs_status ledger_owner(MYSQL *db, ledger_req *l, char *err, size_t errlen)
{
    read_sql_param p[1] = {READ_SQL_P_INT(l->video_id ? l->video_id : l->creator_id)};
    read_sql_col c[1];
    vs_status rc;

    memset(c, 0, sizeof c);
    c[0].type = READ_SQL_INT;
    c[0].i64 = -1; /* kept when there is no row */
    rc = read_sql_query(db,
                        l->video_id ? "SELECT CAST(creator_id AS SIGNED) FROM videos WHERE id = ?"
                                    : "SELECT 1 FROM users WHERE id = ?",
                        p, 1, c, 1, NULL, NULL, err, errlen);
    l->owner = c[0].i64;
    return rc;
}

static vs_status ledger_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    ledger_req *l = arg;
    const char *by = l->video_id ? "video_id" : "creator_id";
    char sql[768];
    read_sql_param p[5];
    read_sql_col c[LE_N];
    vs_status rc;

    read_sql_pool_free(&l->pool);
    l->page = (read_sql_page){.limit = l->page.limit};
    l->video_won = l->ad_won = l->total_won = 0;
    if ((rc = ledger_owner(db, l, err, errlen)) != VS_OK || l->owner < 0 ||
        (l->video_id && (uint64_t)l->owner != l->who->user_id && !l->is_admin))
        return rc; /* the handler says NOT_FOUND or PERMISSION_DENIED */
    p[0] = READ_SQL_P_INT(l->video_id ? l->video_id : l->creator_id);
    p[1] = READ_SQL_P_DATE(l->from);
    p[2] = READ_SQL_P_DATE(l->to);
    snprintf(sql, sizeof sql,
             "SELECT CAST(COALESCE(SUM(video_won), 0) AS SIGNED), "
             "CAST(COALESCE(SUM(ad_won), 0) AS SIGNED), CAST(COALESCE(SUM(total_won), 0) AS "
             "SIGNED) FROM ledger WHERE %s = ? AND day BETWEEN ? AND ?",
             by);
    memset(c, 0, sizeof c);
    read_sql_cols(c, 3, -1, -1);
    if ((rc = read_sql_query(db, sql, p, 3, c, 3, NULL, NULL, err, errlen)) != VS_OK)
        return rc;
    l->video_won = c[0].i64;
    l->ad_won = c[1].i64;
    l->total_won = c[2].i64;
    p[3] = READ_SQL_P_INT(l->after_id);
    p[4] = READ_SQL_P_INT(l->page.limit + 1); /* one more: whether there is a next page */
    snprintf(sql, sizeof sql,
             "SELECT CAST(id AS SIGNED), kind, CAST(job_id AS SIGNED), day, booked_month, "
             "CAST(video_id AS SIGNED), CAST(creator_id AS SIGNED), rate_card_version, views, "
             "ad_views, video_won, ad_won, total_won, at_ms, actor, reason FROM ledger "
             "WHERE %s = ? AND day BETWEEN ? AND ? AND id > ? ORDER BY id LIMIT ?",
             by);
    memset(c, 0, sizeof c);
    read_sql_cols(c, LE_N, -1, -1);
    c[LE_DAY].type = c[LE_BOOKED].type = READ_SQL_DATE;
    c[LE_ACTOR].type = c[LE_REASON].type = READ_SQL_TEXT;
    return read_sql_query(db, sql, p, 5, c, LE_N, ledger_row, l, err, errlen);
}

/* Checks GetLedger's fields and, for creator_id, the caller's right; fills l. */
static int ledger_check(rpc_call *call, const Vs__V1__GetLedgerRequest *in,
                        const auth_principal *who, int is_admin, ledger_req *l)
{
    if (in->video_id == 0 && in->creator_id == 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "video_id: give video_id or creator_id");
        return 0;
    }
    if (in->video_id != 0 && in->creator_id != 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "creator_id: give video_id or creator_id, not both (a video has one creator)");
        return 0;
    }
    if (!ledger_day(call, "from_date", in->from_date, window_from_civil(1970, 1, 1), &l->from) ||
        !ledger_day(call, "to_date", in->to_date, window_from_civil(9999, 12, 31), &l->to) ||
        !read_sql_page_limit(call, in->limit, LEDGER_LIMIT_DEFAULT, LEDGER_LIMIT_MAX, "entries",
                             &l->page))
        return 0;
    if (l->from > l->to) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "to_date: %s is before from_date %s", in->to_date,
                 in->from_date);
        return 0;
    }
    if (in->creator_id != 0 && in->creator_id != who->user_id && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "creator_id: another creator's ledger needs the admin role");
        return 0;
    }
    l->video_id = in->video_id;
    l->creator_id = in->creator_id;
    l->after_id = in->after_id;
    l->who = who;
    l->is_admin = is_admin;
    return 1;
}

void streaming_get_ledger(Vs__V1__StreamingService_Service *service,
                          const Vs__V1__GetLedgerRequest *in, Vs__V1__Ledger_Closure closure,
                          void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__Ledger out = VS__V1__LEDGER__INIT;
    ledger_req *l = calloc(1, sizeof *l);
    void **entries = NULL;
    char err[256];
    auth_principal who;
    vsd_db_role served_by;
    int is_admin;
    vs_status rc;

    (void)service;
    if (l == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto fail;
    }
    if (read_caller(call, &who, &is_admin) != VS_OK || !ledger_check(call, in, &who, is_admin, l))
        goto fail;
    rc = read_sql_run(call->worker, ledger_work, l, &served_by, err, sizeof err);
    /* a video or user unknown to the replica may be a moment old (read-your-writes) */
    if (rc == VS_OK && l->owner < 0 && served_by == VSD_REPLICA)
        rc = read_sql_run_on(call->worker, VSD_PRIMARY, ledger_work, l, err, sizeof err);
    if (rc != VS_OK) {
        read_fail(call, rc, "reading the ledger", err);
        goto fail;
    }
    if (l->video_id != 0 &&
        query_video_access(call, l->video_id, l->owner, &who, is_admin) != VS_OK)
        goto fail;
    if (l->video_id == 0 && l->owner < 0) {
        rpc_fail(call, VS_NOT_FOUND, "creator_id: no user %llu", (unsigned long long)l->creator_id);
        goto fail;
    }
    if ((entries = read_sql_ptrs(l->entries, l->page.n, sizeof *l->entries)) == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory building the reply");
        goto fail;
    }
    out.n_entries = l->page.n;
    out.entries = (Vs__V1__LedgerEntry **)entries;
    out.more = l->page.more;
    if (l->page.more)
        out.next_after_id = l->page.n ? l->entries[l->page.n - 1].id : l->after_id;
    out.video_won = l->video_won;
    out.ad_won = l->ad_won;
    out.total_won = l->total_won;
    closure(&out, closure_data);
    goto done;
fail:
    closure(NULL, closure_data);
done:
    free(entries);
    if (l != NULL) {
        read_sql_pool_free(&l->pool);
        free(l->entries);
        free(l);
    }
}
