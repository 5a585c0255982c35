/* bulk.c — LOAD DATA LOCAL INFILE from a producer callback or a memory buffer. */
#include "bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db.h"
#include "grow.h"

typedef struct bulk_source {
    bulk_fill_fn fill;
    void *ctx;
    int aborted;
} bulk_source;

static int bulk_infile_init(void **ptr, const char *filename, void *userdata)
{
    *ptr = userdata;
    return 0;
}

static int bulk_infile_read(void *ptr, char *buf, unsigned int len)
{
    bulk_source *src = ptr;
    long n = src->fill(src->ctx, buf, len);

    if (n < 0) {
        src->aborted = 1;
        return -1;
    }
    return (int)n;
}

static void bulk_infile_end(void *ptr)
{
}

static int bulk_infile_error(void *ptr, char *msg, unsigned int len)
{
    snprintf(msg, len, "bulk load aborted by its producer");
    return 2000; /* CR_UNKNOWN_ERROR */
}

/* With LOCAL the server downgrades row errors (duplicates, bad values) to warnings because it
 * cannot stop the transfer; a bulk load here must be exact, so any warning is an error. */
static vs_status bulk_check_warnings(MYSQL *db, char *err, size_t errlen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_INTERNAL;
    unsigned warnings = mysql_warning_count(db);

    if (warnings == 0)
        return VS_OK;
    snprintf(err, errlen, "bulk load: %u warning(s)", warnings);
    if (mysql_query(db, "SHOW WARNINGS LIMIT 1") != 0 || (res = mysql_store_result(db)) == NULL)
        return rc;
    if ((row = mysql_fetch_row(res)) != NULL && row[1] != NULL && row[2] != NULL) {
        unsigned code = (unsigned)strtoul(row[1], NULL, 10);

        rc = code == 1062 ? VS_ALREADY_EXISTS : VS_INVALID_ARGUMENT;
        snprintf(err, errlen, "bulk load: %u warning(s), first: %s", warnings, row[2]);
    }
    mysql_free_result(res);
    return rc;
}

/* LOAD DATA with `mode` "" (a duplicate key is an error) or "REPLACE " (it replaces the row). */
static vs_status bulk_load_mode(MYSQL *db, const char *mode, const char *table, const char *cols,
                                bulk_fill_fn fill, void *ctx, int64_t *rows, char *err,
                                size_t errlen)
{
    bulk_source src = {fill, ctx, 0};
    char sql[1024];
    vs_status rc = VS_OK;

    if (rows != NULL)
        *rows = 0;
    snprintf(sql, sizeof sql,
             "LOAD DATA LOCAL INFILE 'vs-bulk' %sINTO TABLE %s CHARACTER SET utf8mb4 (%s)", mode,
             table, cols);
    mysql_set_local_infile_handler(db, bulk_infile_init, bulk_infile_read, bulk_infile_end,
                                   bulk_infile_error, &src);
    if (mysql_query(db, sql) != 0) {
        snprintf(err, errlen, "%s: %s", table, mysql_error(db));
        rc = src.aborted ? VS_ABORTED : db_status_from_errno(mysql_errno(db));
        goto out;
    }
    if (rows != NULL)
        *rows = (int64_t)mysql_affected_rows(db);
    rc = bulk_check_warnings(db, err, errlen);
out:
    mysql_set_local_infile_default(db);
    return rc;
}

vs_status bulk_load(MYSQL *db, const char *table, const char *cols, bulk_fill_fn fill, void *ctx,
                    int64_t *rows, char *err, size_t errlen)
{
    return bulk_load_mode(db, "", table, cols, fill, ctx, rows, err, errlen);
}

/* Makes room for n more bytes; marks the buffer failed beyond its cap. */
static int bulk_buf_reserve(bulk_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (grow_array(&b->data, &b->alloc, b->len + n, 1, 65536, b->cap ? b->cap : SIZE_MAX) !=
        VS_OK) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

int bulk_fmt_u64(char *out, uint64_t v)
{
    char tmp[21];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Appends a field separator unless the row is empty so far. */
static void bulk_buf_sep(bulk_buf *b)
{
    if (b->row_fields++ > 0)
        b->data[b->len++] = '\t';
}

void bulk_buf_u64(bulk_buf *b, uint64_t v)
{
    if (bulk_buf_reserve(b, 24) != 0)
        return;
    bulk_buf_sep(b);
    b->len += (size_t)bulk_fmt_u64(b->data + b->len, v);
}

void bulk_buf_i64(bulk_buf *b, int64_t v)
{
    if (bulk_buf_reserve(b, 24) != 0)
        return;
    bulk_buf_sep(b);
    if (v < 0) {
        b->data[b->len++] = '-';
        b->len += (size_t)bulk_fmt_u64(b->data + b->len, -(uint64_t)v);
    } else {
        b->len += (size_t)bulk_fmt_u64(b->data + b->len, (uint64_t)v);
    }
}

void bulk_buf_str(bulk_buf *b, const char *s)
{
    size_t n = strlen(s);

    if (bulk_buf_reserve(b, 2 * n + 2) != 0)
        return;
    bulk_buf_sep(b);
    for (; *s; s++) {
        char c = *s;

        if (c == '\t' || c == '\n' || c == '\\') {
            b->data[b->len++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : '\\';
        }
        b->data[b->len++] = c;
    }
}

void bulk_buf_null(bulk_buf *b)
{
    if (bulk_buf_reserve(b, 4) != 0)
        return;
    bulk_buf_sep(b);
    memcpy(b->data + b->len, "\\N", 2);
    b->len += 2;
}

void bulk_buf_end_row(bulk_buf *b)
{
    if (bulk_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = '\n';
    b->rows++;
    b->row_fields = 0;
}

typedef struct bulk_buf_reader {
    const bulk_buf *buf;
    size_t off;
} bulk_buf_reader;

static long bulk_buf_fill(void *ctx, char *out, size_t cap)
{
    bulk_buf_reader *r = ctx;
    size_t n = r->buf->len - r->off;

    if (n > cap)
        n = cap;
    memcpy(out, r->buf->data + r->off, n);
    r->off += n;
    return (long)n;
}

static vs_status bulk_buf_load_mode(MYSQL *db, const char *mode, bulk_buf *b, const char *table,
                                    const char *cols, int64_t *rows, char *err, size_t errlen)
{
    bulk_buf_reader reader = {b, 0};
    vs_status rc = VS_OK;

    if (rows != NULL)
        *rows = 0;
    if (b->failed) {
        snprintf(err, errlen, "%s: bulk buffer exceeded its %zu-byte cap", table, b->cap);
        rc = VS_RESOURCE_EXHAUSTED;
    } else if (b->rows > 0) {
        rc = bulk_load_mode(db, mode, table, cols, bulk_buf_fill, &reader, rows, err, errlen);
    }
    b->len = 0;
    b->rows = 0;
    b->row_fields = 0;
    b->failed = 0;
    return rc;
}

vs_status bulk_buf_load(MYSQL *db, bulk_buf *b, const char *table, const char *cols, int64_t *rows,
                        char *err, size_t errlen)
{
    return bulk_buf_load_mode(db, "", b, table, cols, rows, err, errlen);
}

vs_status bulk_buf_replace(MYSQL *db, bulk_buf *b, const char *table, const char *cols,
                           int64_t *rows, char *err, size_t errlen)
{
    return bulk_buf_load_mode(db, "REPLACE ", b, table, cols, rows, err, errlen);
}

void bulk_buf_free(bulk_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
