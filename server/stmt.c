/* stmt.c — bind, execute, fetch one row, close. */
#include "stmt.h"

#include <stdio.h>
#include <string.h>

#include "db.h"

#define STMT_MAX 8

static vs_status stmt_error(MYSQL_STMT *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", mysql_stmt_error(st));
    return db_status_from_errno(mysql_stmt_errno(st));
}

vs_status stmt_run(MYSQL *db, const char *sql, const stmt_value *params, int n_params,
                   stmt_value *cols, int n_cols, stmt_result *out, char *err, size_t errlen)
{
    MYSQL_BIND pb[STMT_MAX], cb[STMT_MAX];
    unsigned long plen[STMT_MAX], clen[STMT_MAX];
    my_bool cnull[STMT_MAX], cerr[STMT_MAX];
    stmt_result local = {0};
    MYSQL_STMT *st;
    vs_status rc = VS_OK;
    int fetched;

    if (out == NULL)
        out = &local;
    memset(out, 0, sizeof *out);
    if (n_params > STMT_MAX || n_cols > STMT_MAX) {
        snprintf(err, errlen, "stmt_run: too many values");
        return VS_INTERNAL;
    }
    st = mysql_stmt_init(db);
    if (st == NULL) {
        snprintf(err, errlen, "%s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = stmt_error(st, err, errlen);
        goto out;
    }
    memset(pb, 0, sizeof pb);
    for (int i = 0; i < n_params; i++) {
        const stmt_value *p = &params[i];

        if (p->type == STMT_STR) {
            plen[i] = strlen(p->str);
            pb[i].buffer_type = MYSQL_TYPE_STRING;
            pb[i].buffer = (void *)p->str;
            pb[i].buffer_length = plen[i];
            pb[i].length = &plen[i];
        } else {
            pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            pb[i].buffer = p->type == STMT_U64 ? (void *)&p->u64 : (void *)&p->i64;
            pb[i].is_unsigned = p->type == STMT_U64;
        }
    }
    if ((n_params > 0 && mysql_stmt_bind_param(st, pb) != 0) || mysql_stmt_execute(st) != 0) {
        rc = stmt_error(st, err, errlen);
        goto out;
    }
    out->affected = (uint64_t)mysql_stmt_affected_rows(st);
    out->insert_id = (uint64_t)mysql_stmt_insert_id(st);
    if (n_cols == 0 || mysql_stmt_field_count(st) == 0)
        goto out;
    memset(cb, 0, sizeof cb);
    for (int i = 0; i < n_cols; i++) {
        stmt_value *c = &cols[i];

        cb[i].is_null = &cnull[i];
        cb[i].error = &cerr[i];
        cb[i].length = &clen[i];
        if (c->type == STMT_STR) {
            cb[i].buffer_type = MYSQL_TYPE_STRING;
            cb[i].buffer = c->buf;
            cb[i].buffer_length = c->cap > 0 ? c->cap - 1 : 0;
        } else {
            cb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            cb[i].buffer = c->type == STMT_U64 ? (void *)&c->u64 : (void *)&c->i64;
            cb[i].is_unsigned = c->type == STMT_U64;
        }
    }
    if (mysql_stmt_bind_result(st, cb) != 0) {
        rc = stmt_error(st, err, errlen);
        goto out;
    }
    fetched = mysql_stmt_fetch(st);
    if (fetched == 1) {
        rc = stmt_error(st, err, errlen);
        goto out;
    }
    if (fetched == 0 || fetched == MYSQL_DATA_TRUNCATED) {
        out->found = 1;
        for (int i = 0; i < n_cols; i++) {
            cols[i].is_null = cnull[i];
            if (cols[i].type == STMT_STR && cols[i].cap > 0) {
                size_t n = clen[i] < cols[i].cap - 1 ? clen[i] : cols[i].cap - 1;
                cols[i].buf[cnull[i] ? 0 : n] = '\0';
            }
        }
    }
out:
    mysql_stmt_close(st);
    return rc;
}
