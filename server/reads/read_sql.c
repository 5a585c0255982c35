/* read_sql.c — the read path's ad-hoc queries: one snapshot transaction on the routed server,
 * rows fetched into bound columns, and reply text made valid UTF-8 (read_sql.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_stmt.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "read_sql.h"
#include "reads.h"
#include "text.h"

/* Status of a statement error; connection-level client errors are VS_UNAVAILABLE (as read_exec.c
 * maps them), so vsd_db_run retries them and read_sql_run falls back to the primary. */
static vs_status read_sql_status(unsigned int e)
{
    vs_status rc = db_status_from_errno(e);

    return rc == VS_INTERNAL && e >= 2000 && e < 3000 ? VS_UNAVAILABLE : rc;
}

static void read_sql_bind_params(const read_sql_param *params, int n, MYSQL_BIND *pb,
                                 MYSQL_TIME *dates)
{
    memset(pb, 0, (size_t)n * sizeof *pb);
    for (int i = 0; i < n; i++) {
        if (params[i].type == READ_SQL_DATE) {
            db_bind_date(&pb[i], &dates[i], params[i].date);
        } else {
            pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            pb[i].buffer = (void *)&params[i].i64;
        }
    }
}

static void read_sql_bind_cols(read_sql_col *cols, int n, MYSQL_BIND *cb)
{
    memset(cb, 0, (size_t)n * sizeof *cb);
    for (int c = 0; c < n; c++) {
        read_sql_col *col = &cols[c];

        if (col->type == READ_SQL_TEXT) {
            cb[c].buffer_type = MYSQL_TYPE_STRING;
            cb[c].buffer = col->text;
            cb[c].buffer_length = sizeof col->text;
            cb[c].length = &col->raw_len;
        } else if (col->type == READ_SQL_DATE) {
            cb[c].buffer_type = MYSQL_TYPE_DATE;
            cb[c].buffer = &col->tm;
        } else {
            cb[c].buffer_type = MYSQL_TYPE_LONGLONG;
            cb[c].buffer = &col->i64;
        }
        cb[c].is_null = &col->is_null;
        cb[c].error = &col->error;
    }
}

/* Turns the fetched buffers of one row into values (NULL → 0, "" or the epoch day). */
static void read_sql_row_values(read_sql_col *cols, int n)
{
    for (int c = 0; c < n; c++) {
        read_sql_col *col = &cols[c];

        if (col->type == READ_SQL_TEXT) {
            col->len = col->is_null ? 0 : col->raw_len;
            if (col->len >= sizeof col->text)
                col->len = sizeof col->text - 1; /* longer than any column it reads */
            col->text[col->len] = '\0';
        } else if (col->type == READ_SQL_DATE) {
            col->date = col->is_null ? 0
                                     : window_from_civil((int)col->tm.year, (int)col->tm.month,
                                                         (int)col->tm.day);
        } else if (col->is_null) {
            col->i64 = 0;
        }
    }
}

vs_status read_sql_query(MYSQL *db, const char *sql, const read_sql_param *params, int n_params,
                         read_sql_col *cols, int n_cols, read_sql_row_fn row, void *arg, char *err,
                         size_t errlen)
{
    MYSQL_BIND pb[READ_SQL_MAX_PARAMS], cb[READ_SQL_MAX_COLS];
    MYSQL_TIME dates[READ_SQL_MAX_PARAMS];
    MYSQL_STMT *st;
    vs_status rc = VS_OK;
    int f;

    if (n_params > READ_SQL_MAX_PARAMS || n_cols > READ_SQL_MAX_COLS) {
        snprintf(err, errlen, "query with %d parameters and %d columns: too many", n_params,
                 n_cols);
        return VS_INTERNAL;
    }
    if ((st = mysql_stmt_init(db)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    read_sql_bind_params(params, n_params, pb, dates);
    read_sql_bind_cols(cols, n_cols, cb);
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0)
        goto stmt_error;
    if (mysql_stmt_param_count(st) != (unsigned long)n_params ||
        mysql_stmt_field_count(st) != (unsigned int)n_cols) {
        snprintf(err, errlen, "query takes %lu parameters and returns %u columns, not %d and %d",
                 mysql_stmt_param_count(st), mysql_stmt_field_count(st), n_params, n_cols);
        mysql_stmt_close(st);
        return VS_INTERNAL;
    }
    if ((n_params > 0 && mysql_stmt_bind_param(st, pb) != 0) || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, cb) != 0)
        goto stmt_error;
    while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
        int next;

        read_sql_row_values(cols, n_cols);
        if (row == NULL)
            continue;
        if ((next = row(arg, cols)) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = VS_RESOURCE_EXHAUSTED;
        }
        if (next <= 0)
            break;
    }
    if (f != 0 && f != MYSQL_DATA_TRUNCATED && f != MYSQL_NO_DATA)
        goto stmt_error;
    mysql_stmt_close(st); /* also discards the rows a stopped fetch left */
    return rc;

stmt_error:
    rc = read_sql_status(mysql_stmt_errno(st));
    snprintf(err, errlen, "%s", mysql_stmt_error(st));
    mysql_stmt_close(st);
    return rc;
}

typedef struct read_sql_tx {
    vsd_thread *w;
    vsd_db_role role;
    vsd_db_work work;
    void *arg;
} read_sql_tx;

/* One attempt: the snapshot transaction around the caller's work. A transaction that cannot be
 * ended leaves the connection unusable for the next request, so it is dropped. */
static vs_status read_sql_tx_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    read_sql_tx *tx = arg;
    char end_err[256];
    vs_status rc;

    if ((rc = db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err, errlen)) !=
        VS_OK)
        return rc;
    rc = tx->work(db, tx->arg, err, errlen);
    if (rc == VS_OK) {
        rc = db_exec(db, "COMMIT", err, errlen);
    } else if (rc != VS_UNAVAILABLE && db_exec(db, "ROLLBACK", end_err, sizeof end_err) != VS_OK) {
        log_warn("thread %d: ending a read transaction failed, dropping the connection: %s",
                 tx->w->index, end_err);
        vsd_db_reset(tx->w, tx->role);
    }
    return rc;
}

vs_status read_sql_run_on(vsd_thread *w, vsd_db_role role, vsd_db_work work, void *arg, char *err,
                          size_t errlen)
{
    read_sql_tx tx = {w, role, work, arg};

    return vsd_db_run(w, role, read_sql_tx_work, &tx, err, errlen);
}

vs_status read_sql_run(vsd_thread *w, vsd_db_work work, void *arg, vsd_db_role *served_by,
                       char *err, size_t errlen)
{
    int fallback = 0;
    vsd_db_role role = read_route_role(&fallback);
    vs_status rc = read_sql_run_on(w, role, work, arg, err, errlen);

    /* an inline context has no connections: the call is run again on an RPC thread */
    if (w->is_inline)
        return rc;
    if (rc == VS_UNAVAILABLE && role == VSD_REPLICA) {
        log_warn("thread %d: replica read failed, retrying on the primary: %s", w->index, err);
        read_route_replica_failed();
        fallback = 1;
        role = VSD_PRIMARY;
        rc = read_sql_run_on(w, role, work, arg, err, errlen);
    }
    if (rc == VS_OK && fallback)
        read_route_count_fallback();
    if (served_by != NULL)
        *served_by = role;
    return rc;
}

void read_sql_cols(read_sql_col *cols, int n, int text_col, int date_col)
{
    for (int i = 0; i < n; i++)
        cols[i].type = i == text_col ? READ_SQL_TEXT : i == date_col ? READ_SQL_DATE : READ_SQL_INT;
}

int read_sql_page_limit(rpc_call *call, uint32_t asked, uint32_t dflt, uint32_t max,
                        const char *items, read_sql_page *page)
{
    if (asked > max) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most %u %s per page (got %u)", max, items,
                 asked);
        return 0;
    }
    page->limit = asked ? asked : dflt;
    return 1;
}

int read_sql_page_full(read_sql_page *page)
{
    if (page->n < page->limit)
        return 0;
    page->more = 1;
    return 1;
}

int read_sql_page_take(read_sql_page *page, size_t size)
{
    size += 8; /* the item's tag and length in the reply */
    if (page->bytes + size > READ_SQL_PAGE_BYTES) {
        page->more = 1;
        return 0;
    }
    page->bytes += size;
    page->n++;
    return 1;
}

void **read_sql_ptrs(void *items, size_t n, size_t elem)
{
    void **p = malloc((n ? n : 1) * sizeof *p);

    for (size_t i = 0; p != NULL && i < n; i++)
        p[i] = (char *)items + i * elem;
    return p;
}

#define READ_SQL_CHUNK 65536
#define READ_SQL_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

struct read_sql_chunk {
    struct read_sql_chunk *next;
    size_t used, cap;
    char data[];
};

/* Room for n bytes that stay put. */
static char *read_sql_pool_room(read_sql_pool *pool, size_t n)
{
    struct read_sql_chunk *c = pool->head;

    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > READ_SQL_CHUNK ? n : READ_SQL_CHUNK;

        if ((c = malloc(sizeof *c + cap)) == NULL)
            return NULL;
        c->next = pool->head;
        c->used = 0;
        c->cap = cap;
        pool->head = c;
    }
    c->used += n;
    pool->bytes += n;
    return c->data + c->used - n;
}

char *read_sql_pool_text(read_sql_pool *pool, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out, *p;
    size_t n;
    uint32_t cp;

    if (text_utf8_valid(s, len) && memchr(s, '\0', len) == NULL) {
        if ((out = read_sql_pool_room(pool, len + 1)) == NULL)
            return NULL;
        memcpy(out, s, len);
        out[len] = '\0';
        return out;
    }
    /* at worst every byte becomes the three bytes of U+FFFD */
    if (len > (SIZE_MAX - 1) / 3 || (out = read_sql_pool_room(pool, 3 * len + 1)) == NULL)
        return NULL;
    p = out;
    for (size_t i = 0; i < len; i += n) {
        n = text_utf8_decode(u + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            memcpy(p, READ_SQL_REPLACEMENT, 3);
            p += 3;
            n = 1;
        } else {
            memcpy(p, s + i, n);
            p += n;
        }
    }
    *p = '\0';
    return out;
}

void read_sql_pool_free(read_sql_pool *pool)
{
    while (pool->head != NULL) {
        struct read_sql_chunk *next = pool->head->next;

        free(pool->head);
        pool->head = next;
    }
    pool->bytes = 0;
}
