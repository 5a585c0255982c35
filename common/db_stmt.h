/* db_stmt.h — binding values to prepared statements, shared by vsd and the batch.
 *
 * Two levels:
 *   - db_bind_*: fill one MYSQL_BIND for a value the caller keeps (a parameter or a result
 *     column). A caller that keeps its statement and streams rows (the batch scan) binds once
 *     with these and fetches as it likes; the fetch itself is untouched.
 *   - db_stmt_run: a one-shot statement for queries that carry user input (emails, names,
 *     hashes): prepares sql, binds params, executes, and fetches at most the first row into
 *     cols. String columns are copied into caller buffers (truncated to cap - 1 bytes,
 *     NUL-terminated). Values are bound, never spliced into SQL text. */
#ifndef VS_DB_STMT_H
#define VS_DB_STMT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "window.h"

/* Each fills *b (cleared first) to bind *v; the storage must live until the statement has been
 * executed (parameters) or fetched (columns). Integer binds are the column's own width, so the
 * client copies values without conversion. */
void db_bind_u64(MYSQL_BIND *b, uint64_t *v);
void db_bind_i64(MYSQL_BIND *b, int64_t *v);
void db_bind_u32(MYSQL_BIND *b, uint32_t *v);
void db_bind_i32(MYSQL_BIND *b, int32_t *v);
void db_bind_i8(MYSQL_BIND *b, int8_t *v);
/* Text of *len bytes at buf (a parameter), or a column copied into buf (cap bytes) with its full
 * length in *len. */
void db_bind_text(MYSQL_BIND *b, char *buf, size_t cap, unsigned long *len);
/* Bytes of *len at buf, as a BLOB parameter; *len may change between executions. */
void db_bind_blob(MYSQL_BIND *b, void *buf, unsigned long *len);
/* Business date d as a DATE parameter, held in *t (which must live as long as the bind). */
void db_bind_date(MYSQL_BIND *b, MYSQL_TIME *t, business_date d);
/* A column's NULL and truncation flags (after db_bind_*; both may be NULL). */
void db_bind_flags(MYSQL_BIND *b, my_bool *is_null, my_bool *error);

typedef enum db_stmt_type { DB_STMT_U64, DB_STMT_I64, DB_STMT_STR } db_stmt_type;

typedef struct db_stmt_value {
    db_stmt_type type;
    uint64_t u64;
    int64_t i64;
    const char *str; /* param: NUL-terminated text */
    char *buf;       /* column: destination of a DB_STMT_STR column */
    size_t cap;
    int is_null; /* column: set when SQL NULL */
} db_stmt_value;

#define DB_STMT_PARAM_U64(v) ((db_stmt_value){.type = DB_STMT_U64, .u64 = (v)})
#define DB_STMT_PARAM_I64(v) ((db_stmt_value){.type = DB_STMT_I64, .i64 = (v)})
#define DB_STMT_PARAM_STR(s) ((db_stmt_value){.type = DB_STMT_STR, .str = (s)})
#define DB_STMT_COL_U64 ((db_stmt_value){.type = DB_STMT_U64})
#define DB_STMT_COL_I64 ((db_stmt_value){.type = DB_STMT_I64})
#define DB_STMT_COL_STR(b, n) ((db_stmt_value){.type = DB_STMT_STR, .buf = (b), .cap = (n)})

typedef struct db_stmt_result {
    int found;         /* a row was fetched into cols */
    uint64_t affected; /* matched rows for UPDATE (CLIENT_FOUND_ROWS), inserted for INSERT */
    uint64_t insert_id;
} db_stmt_result;

/* Runs sql on db. Errors map through db_status_from_errno (duplicate key → ALREADY_EXISTS, lost
 * connection → UNAVAILABLE); err has the server's text. out may be NULL. */
vs_status db_stmt_run(MYSQL *db, const char *sql, const db_stmt_value *params, int n_params,
                      db_stmt_value *cols, int n_cols, db_stmt_result *out, char *err,
                      size_t errlen);

#endif
