/* read_sql.h — the read path's ad-hoc queries (statements and the ledger, query_statement.c and
 * query_ledger.c):
 * several SELECTs that must see one moment, run in a read-only consistent-snapshot transaction on
 * the server reads go to, with the same replica → primary fallback as read_run (reads.h), and
 * their rows fetched into bound columns one at a time. The prepared-statement table of
 * read_exec.c serves the hot single-statement reads; these reads are rarer and several statements
 * long, so they prepare their statements per request.
 *
 * Text that leaves through a reply is copied into a read_sql_pool, which makes it valid UTF-8
 * (an invalid byte becomes U+FFFD): a reply with a string that is not UTF-8 would be refused whole
 * by a strict client. */
#ifndef VS_READ_SQL_H
#define VS_READ_SQL_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "vsd.h"
#include "window.h"

typedef enum read_sql_type { READ_SQL_INT, READ_SQL_DATE, READ_SQL_TEXT } read_sql_type;

/* A parameter: an integer or a business date. */
typedef struct read_sql_param {
    read_sql_type type;
    int64_t i64;
    business_date date;
} read_sql_param;

#define READ_SQL_P_INT(x) ((read_sql_param){.type = READ_SQL_INT, .i64 = (int64_t)(x)})
#define READ_SQL_P_DATE(d) ((read_sql_param){.type = READ_SQL_DATE, .date = (d)})

/* The longest text column: 300 characters of utf8mb4 (a reason), and some. */
#define READ_SQL_TEXT_MAX 1280

/* A result column: the caller sets type, read_sql_query fills the value of each row. NULL reads
 * as 0, the date 0 (1970-01-01) or "". Text longer than READ_SQL_TEXT_MAX - 1 bytes is cut. */
typedef struct read_sql_col {
    read_sql_type type;
    int64_t i64;
    business_date date;
    char text[READ_SQL_TEXT_MAX]; /* NUL-terminated */
    size_t len;
    /* private: bind storage */
    MYSQL_TIME tm;
    unsigned long raw_len;
    my_bool is_null, error;
} read_sql_col;

#define READ_SQL_MAX_PARAMS 8
#define READ_SQL_MAX_COLS 16

/* Called for each row: 1 for the next one, 0 to stop (the rest is discarded), -1 when out of
 * memory (the query then fails VS_RESOURCE_EXHAUSTED). */
typedef int (*read_sql_row_fn)(void *arg, const read_sql_col *cols);

/* Prepares sql on db, binds params, executes it and calls row for every row (cols[0..n_cols)
 * hold it; row may be NULL for a query of at most one row: it is left in cols, which keep
 * what they held when there is none). Errors: the status of the server's error (VS_UNAVAILABLE for
 * a lost connection, which is what vsd_db_run repeats), err saying why. */
vs_status read_sql_query(MYSQL *db, const char *sql, const read_sql_param *params, int n_params,
                         read_sql_col *cols, int n_cols, read_sql_row_fn row, void *arg, char *err,
                         size_t errlen);

/* Runs work(db, arg) inside START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY on the server
 * reads go to (read_route_role); a replica that fails (VS_UNAVAILABLE) is flagged and work runs
 * again on the primary. work may run more than once (a lost connection is retried, vsd_db_run),
 * so it must start from a clean state each time. *served_by (may be NULL) gets the server that
 * answered. */
vs_status read_sql_run(vsd_thread *w, vsd_db_work work, void *arg, vsd_db_role *served_by,
                       char *err, size_t errlen);

/* read_sql_run on role's server, without routing or fallback (the read-your-writes double check
 * of a subject the replica does not know yet). */
vs_status read_sql_run_on(vsd_thread *w, vsd_db_role role, vsd_db_work work, void *arg, char *err,
                          size_t errlen);

/* Sets cols[0..n) to integer columns, but text_col to text and date_col to a date (-1: none). */
void read_sql_cols(read_sql_col *cols, int n, int text_col, int date_col);

/* A page of a paged reply: at most limit items, and their encoded size under READ_SQL_PAGE_BYTES
 * (long titles or reasons), so a reply stays below libvsclient's default 1 MiB reply limit
 * whatever limit was asked for. */
#define READ_SQL_PAGE_BYTES (768 * 1024)

typedef struct read_sql_page {
    uint32_t limit;
    size_t n;     /* items taken */
    size_t bytes; /* their encoded size, about */
    int more;     /* an item was left for the next page */
} read_sql_page;

/* The page's limit from a request's: 0 = dflt; above max the call is marked failed
 * (INVALID_ARGUMENT "limit: at most MAX <items> per page") and 0 is returned, else 1. */
int read_sql_page_limit(rpc_call *call, uint32_t asked, uint32_t dflt, uint32_t max,
                        const char *items, read_sql_page *page);

/* 1 (and more set) when the page holds limit items already. */
int read_sql_page_full(read_sql_page *page);

/* Takes one more item of size encoded bytes: 1, or 0 (and more set) when it would make the page
 * pass READ_SQL_PAGE_BYTES. */
int read_sql_page_take(read_sql_page *page, size_t size);

/* A pointer array over items[0..n) of elem bytes for a reply's repeated field (at least one
 * slot); NULL when out of memory. The caller frees it. */
void **read_sql_ptrs(void *items, size_t n, size_t elem);

/* Reply text: copies that stay put until read_sql_pool_free (chunks that never move). */
typedef struct read_sql_pool {
    struct read_sql_chunk *head;
    size_t bytes; /* copied so far */
} read_sql_pool;

/* A NUL-terminated copy of s[0..len) that is valid UTF-8 (each byte that is not part of a valid
 * sequence, and a NUL, becomes U+FFFD); NULL when out of memory. */
char *read_sql_pool_text(read_sql_pool *pool, const char *s, size_t len);

void read_sql_pool_free(read_sql_pool *pool);

#endif
