/* bulk.h — fast bulk inserts: LOAD DATA LOCAL INFILE fed from memory, never from a file.
 *
 * MariaDB's fastest insert path is LOAD DATA; the "file" here is a callback that the client library
 * pulls from while the server inserts, so a producer can generate rows on the fly (tools/gen) or
 * from a buffer (bulk_buf). Rows are tab-separated text, one per line, \N for NULL; bulk_buf
 * escapes what needs escaping. The statement runs in the connection's current transaction, so a
 * load inside BEGIN ... COMMIT is atomic with the rest of it. */
#ifndef VS_BULK_H
#define VS_BULK_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

/* A producer: writes up to cap bytes of row text into buf and returns how many (0 = end of data),
 * or -1 to abort the load (the statement then fails). */
typedef long (*bulk_fill_fn)(void *ctx, char *buf, size_t cap);

/* Runs LOAD DATA LOCAL INFILE into table (column list cols, e.g. "video_id, views") reading the
 * rows that fill produces. *rows (may be NULL) receives the affected row count. */
vs_status bulk_load(MYSQL *db, const char *table, const char *cols, bulk_fill_fn fill, void *ctx,
                    int64_t *rows, char *err, size_t errlen);

/* A growing text buffer of rows, capped (bulk_buf_* fail with VS_RESOURCE_EXHAUSTED beyond cap).
 * Zero-initialise, set cap, append rows, bulk_buf_load, bulk_buf_free. */
typedef struct bulk_buf {
    char *data;
    size_t len, alloc, cap;
    int64_t rows;
    int row_fields; /* fields appended to the current row */
    int failed;     /* an append hit the cap or ran out of memory */
} bulk_buf;

void bulk_buf_i64(bulk_buf *b, int64_t v);
void bulk_buf_u64(bulk_buf *b, uint64_t v);
void bulk_buf_str(bulk_buf *b, const char *s); /* escapes \t \n \\ */
void bulk_buf_null(bulk_buf *b);
void bulk_buf_end_row(bulk_buf *b);

/* Loads the buffered rows into table (nothing to do when empty), then empties the buffer. */
vs_status bulk_buf_load(MYSQL *db, bulk_buf *b, const char *table, const char *cols, int64_t *rows,
                        char *err, size_t errlen);
/* As bulk_buf_load, but a row whose key exists replaces the existing row (LOAD DATA ... REPLACE).
 */
vs_status bulk_buf_replace(MYSQL *db, bulk_buf *b, const char *table, const char *cols,
                           int64_t *rows, char *err, size_t errlen);
void bulk_buf_free(bulk_buf *b);

/* Writes the decimal digits of v into out (room for 21 bytes) and returns the length: the hot
 * path of row producers, several times faster than snprintf. */
int bulk_fmt_u64(char *out, uint64_t v);

#endif
