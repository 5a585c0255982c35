/* read_exec.c — running the read path's queries: per-thread prepared statements, a reusable row
 * arena, the replica → primary fallback, the admin re-check and the rate-card cache.
 *
 * Each request is one plain SELECT by primary key or key range (no UNION, no subquery): the video
 * or user row LEFT JOINed to the period's figures, so an unknown subject is an empty result and a
 * subject without figures is one row of NULLs (the one grouping query, READ_Q_TOP_SETTLED, runs
 * only while a forced re-run has re-opened days of the period). Which days are settled comes from
 * the snapshot of batch_job that the routing monitor keeps of the same server (settled_snapshot.c);
 * only when the snapshot is of the other server is the settled mask queried, before the figures. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_stmt.h"
#include "clock.h"
#include "db.h"
#include "grow.h"
#include "log.h"
#include "money_card.h"
#include "reads.h"

typedef struct read_query_def {
    const char *sql;
    int n_params;
    int n_ints;   /* leading integer columns */
    int has_text; /* one text column after them */
} read_query_def;

/* The settlement columns shared by the two settlement queries (see SC_* in query_settlement.c). */
#define READ_SETTLE_COLS                                                                           \
    "COALESCE(DATEDIFF(s.day, ?), -1), CAST(COALESCE(s.video_id, 0) AS SIGNED), "                  \
    "COALESCE(s.rate_card_version, 0), COALESCE(s.views_before, 0), COALESCE(s.views_after, 0), "  \
    "COALESCE(s.ad_views_before, 0), COALESCE(s.ad_views_after, 0), "                              \
    "COALESCE(s.video_exact_milli, 0), COALESCE(s.ad_exact_milli, 0), COALESCE(s.video_won, 0), "  \
    "COALESCE(s.ad_won, 0), COALESCE(s.total_won, 0)"

static const read_query_def read_queries[READ_Q_COUNT] = {
    /* first, first, last, video id → creator_id, day offset (-1: none), views, watch_s, ad_views */
    [READ_Q_VIDEO_STATS] =
        {"SELECT CAST(v.creator_id AS SIGNED), COALESCE(DATEDIFF(d.day, ?), -1), "
         "COALESCE(d.views, 0), COALESCE(d.watch_s, 0), COALESCE(d.ad_views, 0) "
         "FROM videos v LEFT JOIN video_daily_stats d ON d.video_id = v.id "
         "AND d.day BETWEEN ? AND ? WHERE v.id = ?",
         4, 5, 0},
    /* period kind, period start, metric, creator (0 all), limit →
     * rank, video_id, value, creator_id, title */
    [READ_Q_TOP] = {"SELECT t.rank_no, CAST(t.video_id AS SIGNED), t.value, "
                    "CAST(COALESCE(v.creator_id, 0) AS SIGNED), COALESCE(v.title, '') "
                    "FROM video_top t LEFT JOIN videos v ON v.id = t.video_id "
                    "WHERE t.period_kind = ? AND t.period_start = ? AND t.metric = ? "
                    "AND t.creator_id = ? ORDER BY t.rank_no LIMIT ?",
                    5, 4, 1},
    /* first, first, last, video id → creator_id, settlement columns, title */
    [READ_Q_SETTLE_VIDEO] = {"SELECT CAST(v.creator_id AS SIGNED), " READ_SETTLE_COLS ", v.title "
                             "FROM videos v LEFT JOIN settlement_daily s ON s.video_id = v.id "
                             "AND s.day BETWEEN ? AND ? WHERE v.id = ?",
                             4, 13, 1},
    /* first, first, last, creator id → user id, settlement columns, title */
    [READ_Q_SETTLE_CREATOR] = {"SELECT CAST(u.id AS SIGNED), " READ_SETTLE_COLS
                               ", COALESCE(v.title, '') FROM users u "
                               "LEFT JOIN settlement_daily s ON s.creator_id = u.id "
                               "AND s.day BETWEEN ? AND ? "
                               "LEFT JOIN videos v ON v.id = s.video_id WHERE u.id = ?",
                               4, 13, 1},
    /* user id → role */
    [READ_Q_USER_ROLE] = {"SELECT role FROM users WHERE id = ?", 1, 1, 0},
    /* first, first, first, last → bit i set when day first + i has a completed settlement job;
     * bit i set when a forced re-run re-opened day first + i and has not completed it again */
    [READ_Q_SETTLED_MASK] = {"SELECT CAST(COALESCE(BIT_OR(IF(state = 4, "
                             "1 << DATEDIFF(business_date, ?), 0)), 0) AS SIGNED), "
                             "CAST(COALESCE(BIT_OR(IF(state <> 4 AND forced <> 0, "
                             "1 << DATEDIFF(business_date, ?), 0)), 0) AS SIGNED) "
                             "FROM batch_job WHERE name = 'daily-settlement' "
                             "AND business_date BETWEEN ? AND ?",
                             4, 2, 0},
    /* metric (1 views, 2 watch_s), first, last, settled mask, first, creator (0 all), creator,
     * limit → video_id, value, creator_id, title: the top list summed over the settled days only
     * (a forced re-run in progress), ranked by core/topn_rank.c like the batch's lists (no zero
     * values, ties by video id) */
    [READ_Q_TOP_SETTLED] = {"SELECT CAST(d.video_id AS SIGNED), "
                            "CAST(SUM(IF(? = 1, d.views, d.watch_s)) AS SIGNED) AS value, "
                            "CAST(COALESCE(v.creator_id, 0) AS SIGNED), COALESCE(v.title, '') "
                            "FROM video_daily_stats d LEFT JOIN videos v ON v.id = d.video_id "
                            "WHERE d.day BETWEEN ? AND ? AND ((? >> DATEDIFF(d.day, ?)) & 1) = 1 "
                            "AND (? = 0 OR d.creator_id = ?) "
                            "GROUP BY d.video_id, v.creator_id, v.title HAVING value > 0 "
                            "ORDER BY value DESC, d.video_id LIMIT ?",
                            8, 3, 1},
};

#define READ_MAX_PARAMS 8
#define READ_TEXT_MAX 1024 /* a title is at most 200 characters, 800 bytes of utf8mb4 */
#define READ_CARD_CACHE 32
#define READ_ROLE_CACHE_MS 1000
#define READ_ROLE_SLOTS 256

typedef struct read_thread {
    MYSQL_STMT *stmt[2][READ_Q_COUNT]; /* [vsd_db_role][query], prepared on first use */
    read_row *rows;                    /* the row arena, reused by every read_run */
    size_t rows_cap;
    size_t *text_off; /* per row: offset of its text in text, during a fetch */
    char *text;
    size_t text_len, text_cap;
    size_t n_pushed; /* rows added with read_arena_push since read_arena_reset */
    /* a card pair loaded while the process-wide cache was full: [0] video, [1] ad */
    money_card spare[2];
} read_thread;

/* Admin re-checks and rate cards are process-wide, not per RPC thread: requests run on many threads
 * (inline ones have no connections at all), and a value one thread read from the database is
 * good for all of them. */
static struct {
    pthread_mutex_t lock;
    struct {
        uint64_t user;
        int role;
        int64_t checked_ms;
    } slots[READ_ROLE_SLOTS];
} read_roles = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Append-only: entries [0, n) are complete and never change, so readers need no lock. */
static struct {
    pthread_mutex_t lock;
    atomic_int n;
    money_card pairs[READ_CARD_CACHE][2]; /* [i][0] video, [i][1] ad */
} read_cards = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Drops the thread's statements on the role's connection: vsd_db_reset calls it (through
 * w->conn_dropping) just before it closes that connection. */
static void read_exec_conn_dropped(vsd_thread *w, vsd_db_role role)
{
    read_thread *rw = w->reads;

    if (rw == NULL)
        return;
    for (int q = 0; q < READ_Q_COUNT; q++) {
        if (rw->stmt[role][q] != NULL) {
            mysql_stmt_close(rw->stmt[role][q]);
            rw->stmt[role][q] = NULL;
        }
    }
}

static read_thread *read_thread_of(vsd_thread *w)
{
    if (w->reads == NULL) {
        w->reads = calloc(1, sizeof(read_thread));
        if (w->reads != NULL)
            w->conn_dropping = read_exec_conn_dropped;
    }
    return w->reads;
}

void read_exec_thread_fini(vsd_thread *w)
{
    read_thread *rw = w->reads;

    if (rw == NULL)
        return;
    read_exec_conn_dropped(w, VSD_PRIMARY);
    read_exec_conn_dropped(w, VSD_REPLICA);
    free(rw->rows);
    free(rw->text_off);
    free(rw->text);
    free(rw);
    w->reads = NULL;
    w->conn_dropping = NULL;
}

void read_fail(rpc_call *call, vs_status rc, const char *what, const char *err)
{
    rpc_fail(call, rc, "%s: %s", what, err);
}

/* Room for one more row and len more text bytes in the arena. */
static vs_status read_arena_reserve(read_thread *rw, size_t n_rows, size_t len)
{
    if (n_rows >= rw->rows_cap) {
        /* two arrays of one capacity */
        size_t cap;
        read_row *rows;
        size_t *offs;

        if (grow_capacity(rw->rows_cap, n_rows + 1, 64, SIZE_MAX / sizeof *rows, &cap) != VS_OK)
            return VS_RESOURCE_EXHAUSTED;
        rows = realloc(rw->rows, cap * sizeof *rows);
        offs = rows ? realloc(rw->text_off, cap * sizeof *offs) : NULL;
        if (rows != NULL)
            rw->rows = rows;
        if (offs == NULL)
            return VS_RESOURCE_EXHAUSTED;
        rw->text_off = offs;
        rw->rows_cap = cap;
    }
    return grow_array(&rw->text, &rw->text_cap, rw->text_len + len + 1, 1, 16384, SIZE_MAX);
}

void read_arena_reset(vsd_thread *w)
{
    read_thread *rw = read_thread_of(w);

    if (rw != NULL) {
        rw->n_pushed = 0;
        rw->text_len = 0;
    }
}

read_row *read_arena_push(vsd_thread *w, const char *text)
{
    read_thread *rw = read_thread_of(w);
    size_t len = strlen(text);
    read_row *row;

    if (rw == NULL || rw->n_pushed == READ_MAX_ROWS ||
        read_arena_reserve(rw, rw->n_pushed, len) != VS_OK)
        return NULL;
    row = &rw->rows[rw->n_pushed];
    memset(row, 0, sizeof *row);
    rw->text_off[rw->n_pushed++] = rw->text_len;
    memcpy(rw->text + rw->text_len, text, len + 1);
    rw->text_len += len + 1;
    return row;
}

void read_arena_result(vsd_thread *w, vsd_db_role role, read_result *out)
{
    read_thread *rw = w->reads;

    for (size_t i = 0; i < rw->n_pushed; i++)
        rw->rows[i].text = rw->text + rw->text_off[i];
    out->rows = rw->rows;
    out->n_rows = rw->n_pushed;
    out->served_by = role;
}

/* Status of a statement error; connection-level failures are VS_UNAVAILABLE. */
static vs_status read_stmt_status(unsigned int e)
{
    vs_status rc = db_status_from_errno(e);

    return rc == VS_INTERNAL && e >= 2000 && e < 3000 ? VS_UNAVAILABLE : rc;
}

/* Runs q once on role's connection, collecting rows into the arena. */
static vs_status read_exec(vsd_thread *w, read_thread *rw, vsd_db_role role, read_query q,
                           const read_param *params, int n_params, read_result *out, char *err,
                           size_t errlen)
{
    const read_query_def *def = &read_queries[q];
    MYSQL_BIND pb[READ_MAX_PARAMS], cb[READ_MAX_COLS + 1];
    MYSQL_TIME dates[READ_MAX_PARAMS];
    int64_t ints[READ_MAX_COLS];
    my_bool nulls[READ_MAX_COLS + 1], errors[READ_MAX_COLS + 1];
    char text[READ_TEXT_MAX];
    unsigned long text_len = 0;
    MYSQL_STMT *st;
    MYSQL *db;
    vs_status rc = VS_OK;
    int f;

    out->n_rows = 0;
    rw->text_len = 0;
    if ((db = vsd_db(w, role, &rc, err, errlen)) == NULL)
        return rc;
    if (n_params != def->n_params) {
        snprintf(err, errlen, "query %d takes %d parameters, got %d", (int)q, def->n_params,
                 n_params);
        return VS_INTERNAL;
    }
    if ((st = rw->stmt[role][q]) == NULL) {
        if ((st = mysql_stmt_init(db)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return VS_RESOURCE_EXHAUSTED;
        }
        if (mysql_stmt_prepare(st, def->sql, (unsigned long)strlen(def->sql)) != 0)
            goto stmt_error;
        rw->stmt[role][q] = st;
    }
    memset(pb, 0, sizeof pb);
    for (int i = 0; i < n_params; i++) {
        if (params[i].is_date) {
            db_bind_date(&pb[i], &dates[i], params[i].date);
        } else {
            pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            pb[i].buffer = (void *)&params[i].i64;
        }
    }
    memset(cb, 0, sizeof cb);
    for (int c = 0; c < def->n_ints; c++) {
        cb[c].buffer_type = MYSQL_TYPE_LONGLONG;
        cb[c].buffer = &ints[c];
        cb[c].is_null = &nulls[c];
        cb[c].error = &errors[c];
    }
    if (def->has_text) {
        f = def->n_ints;
        cb[f].buffer_type = MYSQL_TYPE_STRING;
        cb[f].buffer = text;
        cb[f].buffer_length = sizeof text;
        cb[f].length = &text_len;
        cb[f].is_null = &nulls[f];
        cb[f].error = &errors[f];
    }
    if (mysql_stmt_bind_param(st, pb) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, cb) != 0)
        goto stmt_error;
    while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
        size_t len = def->has_text && !nulls[def->n_ints] ? text_len : 0;
        read_row *row;

        if (len >= sizeof text)
            len = sizeof text - 1; /* cannot happen for a 200-character title */
        if (out->n_rows == READ_MAX_ROWS || read_arena_reserve(rw, out->n_rows, len) != VS_OK) {
            snprintf(err, errlen, "more than %zu rows (or out of memory)", out->n_rows);
            mysql_stmt_free_result(st);
            mysql_stmt_reset(st);
            return VS_RESOURCE_EXHAUSTED;
        }
        row = &rw->rows[out->n_rows];
        for (int c = 0; c < def->n_ints; c++)
            row->v[c] = nulls[c] ? 0 : ints[c];
        rw->text_off[out->n_rows] = rw->text_len;
        memcpy(rw->text + rw->text_len, text, len);
        rw->text_len += len;
        rw->text[rw->text_len++] = '\0';
        out->n_rows++;
    }
    if (f != MYSQL_NO_DATA)
        goto stmt_error;
    mysql_stmt_free_result(st);
    for (size_t i = 0; i < out->n_rows; i++)
        rw->rows[i].text = def->has_text ? rw->text + rw->text_off[i] : "";
    out->rows = rw->rows;
    out->served_by = role;
    return VS_OK;

stmt_error:
    rc = read_stmt_status(mysql_stmt_errno(st));
    snprintf(err, errlen, "%s: %s", role == VSD_PRIMARY ? "primary" : "replica",
             mysql_stmt_error(st));
    if (rw->stmt[role][q] == st)
        rw->stmt[role][q] = NULL;
    mysql_stmt_close(st);
    if (rc == VS_UNAVAILABLE)
        vsd_db_reset(w, role);
    return rc;
}

/* One query on role's server; a connection lost during it (server restarted) is reopened and the
 * query run once more — not after a timeout (vsd_db_timed_out), which would double the wait. */
static vs_status read_query_on(vsd_thread *w, vsd_db_role role, read_query q,
                               const read_param *params, int n_params, read_result *out, char *err,
                               size_t errlen)
{
    read_thread *rw = read_thread_of(w);
    int64_t t0;
    vs_status rc;

    if (rw == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    t0 = clock_mono_ms();
    rc = read_exec(w, rw, role, q, params, n_params, out, err, errlen);
    if (rc == VS_UNAVAILABLE && !vsd_db_timed_out(role, t0))
        rc = read_exec(w, rw, role, q, params, n_params, out, err, errlen);
    return rc;
}

vs_status read_run_on(vsd_thread *w, vsd_db_role role, const period_range *r, read_query q,
                      const read_param *params, int n_params, read_result *out,
                      read_settled *settled, char *err, size_t errlen)
{
    read_param p[4];
    read_result res;
    vs_status rc;

    /* the settled days first: the figures read afterwards are at least as new (reads.h) */
    if (r != NULL && !settled_snapshot_lookup(role, r, settled)) {
        p[0] = READ_DATE(r->first);
        p[1] = READ_DATE(r->first);
        p[2] = READ_DATE(r->first);
        p[3] = READ_DATE(r->last);
        if ((rc = read_query_on(w, role, READ_Q_SETTLED_MASK, p, 4, &res, err, errlen)) != VS_OK)
            return rc;
        settled->mask = res.n_rows > 0 ? (uint64_t)res.rows[0].v[0] : 0;
        settled->reopened = res.n_rows > 0 ? (uint64_t)res.rows[0].v[1] : 0;
        settled->signature = 0;
        settled->from_snapshot = 0;
    }
    return read_query_on(w, role, q, params, n_params, out, err, errlen);
}

vs_status read_run(vsd_thread *w, const period_range *r, read_query q, const read_param *params,
                   int n_params, read_result *out, read_settled *settled, char *err, size_t errlen)
{
    int fallback = 0;
    vsd_db_role role = read_route_role(&fallback);
    vs_status rc = read_run_on(w, role, r, q, params, n_params, out, settled, err, errlen);

    /* an inline context has no connections at all: the call is re-run on an RPC thread, and
     * the replica has not failed */
    if (w->is_inline)
        return rc;
    if (rc == VS_UNAVAILABLE && role == VSD_REPLICA) {
        log_warn("thread %d: replica read failed, retrying on the primary: %s", w->index, err);
        read_route_replica_failed();
        fallback = 1;
        rc = read_run_on(w, VSD_PRIMARY, r, q, params, n_params, out, settled, err, errlen);
    } else if (rc == VS_UNAVAILABLE && fallback && read_route_replica_answers()) {
        /* the read went to the primary only because the replica lagged, and the primary does not
         * answer (died a moment ago: the monitor moves the reads back at its next round) */
        log_warn("thread %d: primary read failed, retrying on the replica: %s", w->index, err);
        fallback = 0;
        rc = read_run_on(w, VSD_REPLICA, r, q, params, n_params, out, settled, err, errlen);
    }
    if (rc == VS_OK && fallback)
        read_route_count_fallback();
    return rc;
}

vs_status read_caller(rpc_call *call, auth_principal *who, int *is_admin)
{
    vsd_thread *w = call->worker;
    read_result res;
    read_param p[1];
    char err[256];
    int64_t now = clock_mono_ms();
    size_t slot;
    int role = -1;
    vs_status rc;

    *is_admin = 0;
    if ((rc = auth_require(call, who)) != VS_OK)
        return rc;
    if (who->role != 3)
        return VS_OK;
    slot = (size_t)(who->user_id % READ_ROLE_SLOTS);
    pthread_mutex_lock(&read_roles.lock);
    if (read_roles.slots[slot].user == who->user_id &&
        now - read_roles.slots[slot].checked_ms < READ_ROLE_CACHE_MS)
        role = read_roles.slots[slot].role;
    pthread_mutex_unlock(&read_roles.lock);
    if (role < 0) {
        p[0] = READ_INT(who->user_id);
        if ((rc = read_run(w, NULL, READ_Q_USER_ROLE, p, 1, &res, NULL, err, sizeof err)) !=
            VS_OK) {
            read_fail(call, rc, "checking the admin role", err);
            return rc;
        }
        role = res.n_rows > 0 ? (int)res.rows[0].v[0] : 0;
        pthread_mutex_lock(&read_roles.lock);
        read_roles.slots[slot].user = who->user_id;
        read_roles.slots[slot].role = role;
        read_roles.slots[slot].checked_ms = now;
        pthread_mutex_unlock(&read_roles.lock);
    }
    *is_admin = role == 3;
    return VS_OK;
}

const money_card *read_card_find(uint32_t version, money_kind kind)
{
    int n = atomic_load_explicit(&read_cards.n, memory_order_acquire);

    for (int i = 0; i < n; i++)
        if (read_cards.pairs[i][0].version == version)
            return &read_cards.pairs[i][kind == MONEY_AD];
    return NULL;
}

void read_card_publish(const money_card pair[2])
{
    int n;

    pthread_mutex_lock(&read_cards.lock);
    n = atomic_load_explicit(&read_cards.n, memory_order_relaxed);
    if (read_card_find(pair[0].version, MONEY_VIDEO) == NULL && n < READ_CARD_CACHE) {
        memcpy(read_cards.pairs[n], pair, sizeof read_cards.pairs[n]);
        atomic_store_explicit(&read_cards.n, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&read_cards.lock);
}

/* Loads both cards of version from role's server into loaded[2], checked. */
static vs_status read_card_load_on(vsd_thread *w, vsd_db_role role, uint32_t version,
                                   money_card loaded[2], char *err, size_t errlen)
{
    MYSQL *db;
    vs_status rc;

    if ((db = vsd_db(w, role, &rc, err, errlen)) == NULL)
        return rc;
    if ((rc = money_card_load(db, version, MONEY_VIDEO, &loaded[0], err, errlen)) != VS_OK ||
        (rc = money_card_load(db, version, MONEY_AD, &loaded[1], err, errlen)) != VS_OK ||
        (rc = money_card_check(&loaded[0], err, errlen)) != VS_OK ||
        (rc = money_card_check(&loaded[1], err, errlen)) != VS_OK) {
        if (rc == VS_UNAVAILABLE)
            vsd_db_reset(w, role);
        return rc == VS_INVALID_ARGUMENT ? VS_DATA_LOSS : rc;
    }
    return VS_OK;
}

vs_status read_card(vsd_thread *w, uint32_t version, money_kind kind, const money_card **out,
                    char *err, size_t errlen)
{
    read_thread *rw = read_thread_of(w);
    money_card loaded[2];
    vsd_db_role role = read_route_role(NULL);
    vs_status rc;

    if ((*out = read_card_find(version, kind)) != NULL)
        return VS_OK;
    if (rw == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    rc = read_card_load_on(w, role, version, loaded, err, errlen);
    /* like read_run: a replica that fails before the monitor notices must not fail the read */
    if (rc == VS_UNAVAILABLE && role == VSD_REPLICA && !w->is_inline) {
        log_warn("thread %d: rate card %u unreadable on the replica, retrying on the primary: %s",
                 w->index, version, err);
        read_route_replica_failed();
        if ((rc = read_card_load_on(w, VSD_PRIMARY, version, loaded, err, errlen)) == VS_OK)
            read_route_count_fallback();
    }
    if (rc != VS_OK)
        return rc;
    read_card_publish(loaded);
    if ((*out = read_card_find(version, kind)) != NULL)
        return VS_OK;
    /* the cache is full (never with the handful of versions that exist): keep it here */
    memcpy(rw->spare, loaded, sizeof loaded);
    *out = &rw->spare[kind == MONEY_AD];
    return VS_OK;
}
