/* stmt.h — one-shot prepared statements for queries that carry user input (emails, names,
 * hashes): values are bound, never spliced into SQL text.
 *
 * stmt_run() prepares sql, binds params, executes, and fetches at most the first row into cols.
 * String columns are copied into caller buffers (truncated to cap - 1 bytes, NUL-terminated). */
#ifndef VS_STMT_H
#define VS_STMT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum stmt_type { STMT_U64, STMT_I64, STMT_STR } stmt_type;

typedef struct stmt_value {
    stmt_type type;
    uint64_t u64;
    int64_t i64;
    const char *str; /* param: NUL-terminated text */
    char *buf;       /* column: destination of a STMT_STR column */
    size_t cap;
    int is_null; /* column: set when SQL NULL */
} stmt_value;

#define STMT_PARAM_U64(v) ((stmt_value){.type = STMT_U64, .u64 = (v)})
#define STMT_PARAM_I64(v) ((stmt_value){.type = STMT_I64, .i64 = (v)})
#define STMT_PARAM_STR(s) ((stmt_value){.type = STMT_STR, .str = (s)})
#define STMT_COL_U64 ((stmt_value){.type = STMT_U64})
#define STMT_COL_I64 ((stmt_value){.type = STMT_I64})
#define STMT_COL_STR(b, n) ((stmt_value){.type = STMT_STR, .buf = (b), .cap = (n)})

typedef struct stmt_result {
    int found;         /* a row was fetched into cols */
    uint64_t affected; /* matched rows for UPDATE (CLIENT_FOUND_ROWS), inserted for INSERT */
    uint64_t insert_id;
} stmt_result;

/* Runs sql on db. Errors map through db_status_from_errno (duplicate key → ALREADY_EXISTS, lost
 * connection → UNAVAILABLE); err has the server's text. out may be NULL. */
vs_status stmt_run(MYSQL *db, const char *sql, const stmt_value *params, int n_params,
                   stmt_value *cols, int n_cols, stmt_result *out, char *err, size_t errlen);

#endif
