/* db_stmt.c — binding values to prepared statements; the one-shot run: bind, execute, fetch one
 * row, close. */
#include "db_stmt.h"

#include <stdio.h>
#include <string.h>

#include "db.h"

#define DB_STMT_MAX 8

static void db_bind_int(MYSQL_BIND *b, enum enum_field_types type, void *v, int is_unsigned)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = type;
    b->buffer = v;
    b->is_unsigned = (my_bool)is_unsigned;
}

void db_bind_u64(MYSQL_BIND *b, uint64_t *v)
{
    db_bind_int(b, MYSQL_TYPE_LONGLONG, v, 1);
}

void db_bind_i64(MYSQL_BIND *b, int64_t *v)
{
    db_bind_int(b, MYSQL_TYPE_LONGLONG, v, 0);
}

void db_bind_u32(MYSQL_BIND *b, uint32_t *v)
{
    db_bind_int(b, MYSQL_TYPE_LONG, v, 1);
}

void db_bind_i32(MYSQL_BIND *b, int32_t *v)
{
    db_bind_int(b, MYSQL_TYPE_LONG, v, 0);
}

void db_bind_i8(MYSQL_BIND *b, int8_t *v)
{
    db_bind_int(b, MYSQL_TYPE_TINY, v, 0);
}

void db_bind_date(MYSQL_BIND *b, MYSQL_TIME *t, business_date d)
{
    int y, m, day;

    window_to_civil(d, &y, &m, &day);
    memset(t, 0, sizeof *t);
    t->year = (unsigned)y;
    t->month = (unsigned)m;
    t->day = (unsigned)day;
    t->time_type = MYSQL_TIMESTAMP_DATE;
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_DATE;
    b->buffer = t;
}

void db_bind_text(MYSQL_BIND *b, char *buf, size_t cap, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = buf;
    b->buffer_length = (unsigned long)cap;
    b->length = len;
}

void db_bind_blob(MYSQL_BIND *b, void *buf, unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = MYSQL_TYPE_BLOB;
    b->buffer = buf;
    b->buffer_length = *len;
    b->length = len;
}

void db_bind_flags(MYSQL_BIND *b, my_bool *is_null, my_bool *error)
{
    b->is_null = is_null;
    b->error = error;
}

static vs_status db_stmt_error(MYSQL_STMT *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", mysql_stmt_error(st));
    return db_status_from_errno(mysql_stmt_errno(st));
}

vs_status db_stmt_run(MYSQL *db, const char *sql, const db_stmt_value *params, int n_params,
                      db_stmt_value *cols, int n_cols, db_stmt_result *out, char *err,
                      size_t errlen)
{
    MYSQL_BIND pb[DB_STMT_MAX], cb[DB_STMT_MAX];
    unsigned long plen[DB_STMT_MAX], clen[DB_STMT_MAX];
    my_bool cnull[DB_STMT_MAX], cerr[DB_STMT_MAX];
    db_stmt_result local = {0};
    MYSQL_STMT *st;
    vs_status rc = VS_OK;
    int fetched;

    if (out == NULL)
        out = &local;
    memset(out, 0, sizeof *out);
    if (n_params > DB_STMT_MAX || n_cols > DB_STMT_MAX) {
        snprintf(err, errlen, "db_stmt_run: too many values");
        return VS_INTERNAL;
    }
    st = mysql_stmt_init(db);
    if (st == NULL) {
        snprintf(err, errlen, "%s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = db_stmt_error(st, err, errlen);
        goto out;
    }
    for (int i = 0; i < n_params; i++) {
        const db_stmt_value *p = &params[i];

        /* the library only reads parameters: binding them needs no writable copy */
        if (p->type == DB_STMT_STR) {
            plen[i] = strlen(p->str);
            db_bind_text(&pb[i], (char *)p->str, plen[i], &plen[i]);
        } else if (p->type == DB_STMT_U64) {
            db_bind_u64(&pb[i], (uint64_t *)&p->u64);
        } else {
            db_bind_i64(&pb[i], (int64_t *)&p->i64);
        }
    }
    if ((n_params > 0 && mysql_stmt_bind_param(st, pb) != 0) || mysql_stmt_execute(st) != 0) {
        rc = db_stmt_error(st, err, errlen);
        goto out;
    }
    out->affected = (uint64_t)mysql_stmt_affected_rows(st);
    out->insert_id = (uint64_t)mysql_stmt_insert_id(st);
    if (n_cols == 0 || mysql_stmt_field_count(st) == 0)
        goto out;
    for (int i = 0; i < n_cols; i++) {
        db_stmt_value *c = &cols[i];

        if (c->type == DB_STMT_STR)
            db_bind_text(&cb[i], c->buf, c->cap > 0 ? c->cap - 1 : 0, &clen[i]);
        else if (c->type == DB_STMT_U64)
            db_bind_u64(&cb[i], &c->u64);
        else
            db_bind_i64(&cb[i], &c->i64);
        cb[i].length = &clen[i];
        db_bind_flags(&cb[i], &cnull[i], &cerr[i]);
    }
    if (mysql_stmt_bind_result(st, cb) != 0) {
        rc = db_stmt_error(st, err, errlen);
        goto out;
    }
    fetched = mysql_stmt_fetch(st);
    if (fetched == 1) {
        rc = db_stmt_error(st, err, errlen);
        goto out;
    }
    if (fetched == 0 || fetched == MYSQL_DATA_TRUNCATED) {
        out->found = 1;
        for (int i = 0; i < n_cols; i++) {
            cols[i].is_null = cnull[i];
            if (cols[i].type == DB_STMT_STR && cols[i].cap > 0) {
                size_t n = clen[i] < cols[i].cap - 1 ? clen[i] : cols[i].cap - 1;
                cols[i].buf[cnull[i] ? 0 : n] = '\0';
            }
        }
    }
out:
    mysql_stmt_close(st);
    return rc;
}
