/* auth_revocation.c — revoked token ids: durable in MariaDB, fast through Redis, and correct
 * across a Redis restart that lost the last second of its AOF.
 *
 * The primary's auth_revoked_token is the truth; Logout writes it before answering, then SETs
 * auth:revoked:<jti> in Redis (EX until exp + skew). A check asks Redis, pipelined with CLIENT
 * GETNAME on the same connection. A connection without vsd's name is new — possibly to a Redis
 * that restarted and lost revocations — so the check names it and then reloads the process's copy
 * of the table (a sorted array of jtis) from the primary, a reload that begins after the
 * connection existed. Every connection to a restarted Redis is new, so any revocation Redis lost
 * was committed before such a reload, and the copy is consulted before Redis on every check. Steady
 * state: one Redis round trip and a binary search per authenticated call, no DB read. When Redis is
 * unreachable, the primary is asked directly. */
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "token.h"

#define AUTH_REDIS_NAME "vsd-auth"
#define AUTH_REDIS_KEY "auth:revoked:"

typedef char auth_jti[TOKEN_JTI_LEN + 1];

/* The process's reloaded copy of the unexpired revocations, sorted for bsearch. */
static pthread_rwlock_t auth_set_lock = PTHREAD_RWLOCK_INITIALIZER;
static auth_jti *auth_set;
static size_t auth_set_len;
/* Serialises reloads; auth_reload_started_us is when the last successful one began. */
static pthread_mutex_t auth_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t auth_reload_started_us = -1;

static int auth_jti_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int auth_set_contains(const char *jti)
{
    int found;

    pthread_rwlock_rdlock(&auth_set_lock);
    found = auth_set_len > 0 &&
            bsearch(jti, auth_set, auth_set_len, sizeof *auth_set, auth_jti_cmp) != NULL;
    pthread_rwlock_unlock(&auth_set_lock);
    return found;
}

/* Runs sql on the worker's primary, reconnecting once if the connection went stale. *res gets
 * the stored result when the statement returns rows (caller frees). */
static vs_status auth_primary_query(vsd_worker *w, const char *sql, MYSQL_RES **res, char *err,
                                    size_t errlen)
{
    vs_status rc = VS_UNAVAILABLE;

    if (res != NULL)
        *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL *db = vsd_db(w, VSD_PRIMARY, &rc, err, errlen);

        if (db == NULL)
            return rc;
        if (mysql_query(db, sql) == 0) {
            MYSQL_RES *r = mysql_store_result(db);
            if (r == NULL && mysql_field_count(db) != 0) {
                snprintf(err, errlen, "%s", mysql_error(db));
                return db_status_from_errno(mysql_errno(db));
            }
            if (res != NULL)
                *res = r;
            else if (r != NULL)
                mysql_free_result(r);
            return VS_OK;
        }
        snprintf(err, errlen, "primary: %s", mysql_error(db));
        rc = db_status_from_errno(mysql_errno(db));
        if (rc != VS_UNAVAILABLE)
            return rc;
        vsd_db_reset(w, VSD_PRIMARY);
    }
    return rc;
}

/* Replaces the process's set with the primary's unexpired revocations, unless a reload that
 * began after observed_us (just after the caller named its new Redis connection) already did. */
static vs_status auth_reload(vsd_worker *w, int64_t observed_us, char *err, size_t errlen)
{
    char sql[160];
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    auth_jti *fresh = NULL, *old;
    size_t n = 0;
    int64_t started;
    vs_status rc = VS_OK;

    pthread_mutex_lock(&auth_reload_lock);
    if (auth_reload_started_us > observed_us)
        goto out;
    started = clock_mono_us();
    snprintf(sql, sizeof sql, "SELECT jti FROM auth_revoked_token WHERE expires_unix >= %" PRId64,
             clock_now_ms() / 1000 - TOKEN_SKEW_S);
    rc = auth_primary_query(w, sql, &res, err, errlen);
    if (rc != VS_OK)
        goto out;
    fresh = malloc((mysql_num_rows(res) + 1) * sizeof *fresh);
    if (fresh == NULL) {
        snprintf(err, errlen, "out of memory reloading revocations");
        rc = VS_RESOURCE_EXHAUSTED;
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL)
        if (row[0] != NULL && strlen(row[0]) == TOKEN_JTI_LEN)
            memcpy(fresh[n++], row[0], sizeof *fresh);
    qsort(fresh, n, sizeof *fresh, auth_jti_cmp);
    pthread_rwlock_wrlock(&auth_set_lock);
    old = auth_set;
    auth_set = fresh;
    auth_set_len = n;
    pthread_rwlock_unlock(&auth_set_lock);
    free(old);
    auth_reload_started_us = started;
    log_info("worker %d: new Redis connection: reloaded %zu revoked token(s) from the primary",
             w->index, n);
out:
    pthread_mutex_unlock(&auth_reload_lock);
    if (res != NULL)
        mysql_free_result(res);
    return rc;
}

/* The primary's answer, for when Redis cannot give one. */
static vs_status auth_revoked_in_db(vsd_worker *w, const char *jti, int *revoked, char *err,
                                    size_t errlen)
{
    char sql[128];
    MYSQL_RES *res = NULL;
    vs_status rc;

    /* jti passed token_verify: exactly 32 hex digits, safe to embed */
    snprintf(sql, sizeof sql, "SELECT 1 FROM auth_revoked_token WHERE jti = '%s'", jti);
    rc = auth_primary_query(w, sql, &res, err, errlen);
    if (rc == VS_OK)
        *revoked = mysql_num_rows(res) > 0;
    if (res != NULL)
        mysql_free_result(res);
    return rc;
}

/* CLIENT SETNAME on the worker's connection; 1 when Redis accepted it. */
static int auth_redis_name(vsd_worker *w, const char *name, char *err, size_t errlen)
{
    redisReply *reply = NULL;
    int ok;

    if (redis_command(vsd_redis(w), &reply, err, errlen, "CLIENT SETNAME %s", name) != VS_OK)
        return 0;
    ok = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    return ok;
}

vs_status auth_is_revoked(vsd_worker *w, const char *jti, int *revoked, char *err, size_t errlen)
{
    char key[sizeof AUTH_REDIS_KEY + TOKEN_JTI_LEN];
    const char *argv_name[] = {"CLIENT", "GETNAME"}, *argv_exists[] = {"EXISTS", key};
    const char **argv[] = {argv_name, argv_exists};
    const size_t len_name[] = {6, 7};
    size_t len_exists[] = {6, 0};
    const size_t *argvlen[] = {len_name, len_exists};
    const int argc[] = {2, 2};

    *revoked = 0;
    if (auth_set_contains(jti)) {
        *revoked = 1;
        return VS_OK;
    }
    snprintf(key, sizeof key, "%s%s", AUTH_REDIS_KEY, jti);
    len_exists[1] = strlen(key);
    /* the second attempt runs on a fresh connection if the first found it dead */
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *replies[2] = {NULL, NULL};
        int ours;
        int64_t observed;

        if (redis_pipeline(vsd_redis(w), 2, argc, argv, argvlen, replies, err, errlen) != VS_OK)
            continue;
        ours =
            replies[0]->type == REDIS_REPLY_STRING && strcmp(replies[0]->str, AUTH_REDIS_NAME) == 0;
        *revoked = replies[1]->type == REDIS_REPLY_INTEGER && replies[1]->integer == 1;
        freeReplyObject(replies[0]);
        freeReplyObject(replies[1]);
        if (*revoked || ours)
            return VS_OK;
        /* A connection we have not vetted: Redis may have restarted without our latest writes.
         * Name it first, then reload: whichever connection the name lands on (redis_command may
         * reconnect) existed before the reload began, so the reload covers whatever it lost. */
        if (!auth_redis_name(w, AUTH_REDIS_NAME, err, errlen))
            break;
        observed = clock_mono_us();
        if (auth_reload(w, observed, err, errlen) != VS_OK) {
            auth_redis_name(w, AUTH_REDIS_NAME "-unvetted", err, errlen);
            break;
        }
        *revoked = auth_set_contains(jti);
        return VS_OK;
    }
    return auth_revoked_in_db(w, jti, revoked, err, errlen);
}

vs_status auth_revoke(vsd_worker *w, const auth_principal *p, char *err, size_t errlen)
{
    char sql[256];
    redisReply *reply = NULL;
    int64_t now_s = clock_now_ms() / 1000, ttl = p->exp_unix + TOKEN_SKEW_S - now_s + 1;
    vs_status rc;

    snprintf(sql, sizeof sql,
             "INSERT IGNORE INTO auth_revoked_token (jti, user_id, expires_unix) "
             "VALUES ('%s', %" PRIu64 ", %" PRId64 ")",
             p->jti, p->user_id, p->exp_unix);
    rc = auth_primary_query(w, sql, NULL, err, errlen);
    if (rc != VS_OK)
        return rc == VS_UNAVAILABLE ? rc : VS_INTERNAL;
    rc = redis_command(vsd_redis(w), &reply, err, errlen, "SET %s%s 1 EX %lld", AUTH_REDIS_KEY,
                       p->jti, (long long)(ttl > 0 ? ttl : 1));
    if (rc == VS_OK && reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", reply->str);
        rc = VS_UNAVAILABLE;
    }
    if (reply != NULL)
        freeReplyObject(reply);
    if (rc != VS_OK)
        return VS_UNAVAILABLE;
    /* housekeeping, now and then: rows of long-expired tokens protect nothing */
    if (randombytes_uniform(64) == 0) {
        snprintf(sql, sizeof sql,
                 "DELETE FROM auth_revoked_token WHERE expires_unix < %" PRId64 " LIMIT 1000",
                 now_s - 3600);
        if (auth_primary_query(w, sql, NULL, err, errlen) != VS_OK)
            log_warn("revocation housekeeping: %s", err);
    }
    return VS_OK;
}
