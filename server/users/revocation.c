/* revocation.c — revoked token ids: durable in MariaDB, pushed to every vsd through Redis
 * pub/sub, and correct across a Redis restart that lost the last second of its AOF.
 *
 * The primary's auth_revoked_token is the truth. Logout writes it, adds the jti to this process's
 * set, then in one MULTI/EXEC SETs auth:revoked:<jti> (EX until exp + skew) and PUBLISHes it on
 * REVOCATION_CHANNEL, whose subscriber (revocation_push.c) adds it to every vsd's set.
 *
 * A check: the set holds it → revoked. Else, while the subscription is live and fully applied,
 * the set's "no" is the answer — no I/O at all (the steady state). Else the pre-push path: ask
 * Redis, pipelined with CLIENT GETNAME on the thread's connection. A connection without vsd's
 * name is new — possibly to a Redis that restarted and lost revocations — so the check names it
 * and then reloads the set from the primary, a reload that begins after the connection existed;
 * every connection to a restarted Redis is new, so any revocation Redis lost was committed before
 * such a reload. When Redis is unreachable, the primary is asked directly.
 *
 * A reload needs a complete copy of auth_revoked_token, not necessarily the primary's: when the
 * primary cannot be reached it reads the replica, once the replica has applied every transaction it
 * had received when asked. With semi-synchronous replication a Logout's row has reached the replica
 * before its Redis SET is made, so any SET a restarted Redis lost was received — and is then
 * applied — before such a reload reads. A replica that cannot show that within
 * REVOCATION_REPLICA_WAIT_S fails the reload, and the check fails closed as before. */
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revocation.h"

#include "clock.h"
#include "db.h"
#include "gtid.h"
#include "log.h"
#include "revocation_push.h"
#include "token.h"
#include "token_auth.h"

#define REVOCATION_REDIS_NAME "vsd-auth"
#define REVOCATION_REDIS_KEY "auth:revoked:"
#define REVOCATION_LOGOUT_WAIT_MS 200 /* longest a Logout waits for its PUBLISH to come back */
/* longest a reload from the replica waits for it to apply what it has received */
#define REVOCATION_REPLICA_WAIT_S 1

/* Serialises reloads on the Redis path; revocation_reload_started_us is when the last one began. */
static pthread_mutex_t revocation_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t revocation_reload_started_us = -1;

/* One statement (vsd_db_work); res receives its stored result when it returns rows. */
typedef struct revocation_statement {
    const char *sql;
    MYSQL_RES **res;
} revocation_statement;

static vs_status auth_statement_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    revocation_statement *st = arg;
    MYSQL_RES *r;

    if (mysql_query(db, st->sql) != 0 ||
        ((r = mysql_store_result(db)) == NULL && mysql_field_count(db) != 0)) {
        snprintf(err, errlen, "primary: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if (st->res != NULL)
        *st->res = r;
    else if (r != NULL)
        mysql_free_result(r);
    return VS_OK;
}

/* Runs sql on the thread's primary (vsd_db_run: once more on a fresh connection when the kept one
 * was lost; every statement here is a read or an INSERT IGNORE / DELETE, safe to repeat). *res
 * gets the stored result when the statement returns rows (caller frees). */
static vs_status revocation_primary_query(vsd_thread *w, const char *sql, MYSQL_RES **res,
                                          char *err, size_t errlen)
{
    revocation_statement st = {sql, res};

    if (res != NULL)
        *res = NULL;
    return vsd_db_run(w, VSD_PRIMARY, auth_statement_work, &st, err, errlen);
}

/* The reload as vsd_db_work: arg counts the revocations read. */
static vs_status revocation_reload_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    return revocation_reload(db, arg, err, errlen);
}

/* The GTID position the replica db has received (SHOW SLAVE STATUS's Gtid_IO_Pos: whole
 * transactions only) into pos; "" when it replicates from nothing (a promoted server).
 * VS_INTERNAL when it does not fit. */
static vs_status revocation_replica_received(MYSQL *db, char *pos, size_t len, char *err,
                                             size_t errlen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;

    pos[0] = '\0';
    if (mysql_query(db, "SHOW SLAVE STATUS") != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "replica: SHOW SLAVE STATUS: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        const MYSQL_FIELD *f = mysql_fetch_fields(res);

        for (unsigned i = 0; i < mysql_num_fields(res); i++)
            if (strcmp(f[i].name, "Gtid_IO_Pos") == 0 && row[i] != NULL &&
                (size_t)snprintf(pos, len, "%s", row[i]) >= len) {
                snprintf(err, errlen, "replica: Gtid_IO_Pos longer than %zu bytes", len - 1);
                mysql_free_result(res);
                return VS_INTERNAL;
            }
    }
    mysql_free_result(res);
    return VS_OK;
}

/* The reload from the replica as vsd_db_work, once it has applied what it had received. */
static vs_status revocation_replica_reload_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    char received[2048], sql[2100];
    int64_t waited = -1;
    vs_status rc;

    if ((rc = revocation_replica_received(db, received, sizeof received, err, errlen)) != VS_OK)
        return rc;
    if (received[0] != '\0') {
        if (!gtid_valid(received)) {
            snprintf(err, errlen, "replica: unexpected Gtid_IO_Pos \"%.64s\"", received);
            return VS_INTERNAL;
        }
        snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %d)", received,
                 REVOCATION_REPLICA_WAIT_S);
        if ((rc = db_query_int(db, sql, &waited, err, errlen)) != VS_OK)
            return rc;
        if (waited != 0) {
            snprintf(err, errlen,
                     "replica: has not applied what it received (%.100s) within %d s, so it may "
                     "lack revocations",
                     received, REVOCATION_REPLICA_WAIT_S);
            return VS_FAILED_PRECONDITION;
        }
    }
    return revocation_reload(db, arg, err, errlen);
}

/* Adds the primary's revocations to the set (on the thread's primary; when that cannot be
 * reached, from the thread's replica once it has applied what it received), unless a reload that
 * began after observed_us (just after the caller named its new Redis connection) already did. */
static vs_status revocation_reload_since(vsd_thread *w, int64_t observed_us, char *err,
                                         size_t errlen)
{
    char primary_err[256];
    const char *from = "the primary";
    int64_t started;
    size_t n = 0;
    vs_status rc = VS_OK;

    pthread_mutex_lock(&revocation_reload_lock);
    if (revocation_reload_started_us > observed_us)
        goto out;
    started = clock_mono_us();
    rc = vsd_db_run(w, VSD_PRIMARY, revocation_reload_work, &n, err, errlen);
    if (rc == VS_UNAVAILABLE && strcmp(vsd_cfg.db_replica, vsd_cfg.db_primary) != 0) {
        snprintf(primary_err, sizeof primary_err, "%s", err);
        n = 0;
        rc = vsd_db_run(w, VSD_REPLICA, revocation_replica_reload_work, &n, err, errlen);
        if (rc != VS_OK) {
            log_warn("thread %d: revocations: neither the primary (%s) nor the replica (%s) can "
                     "be read",
                     w->index, primary_err, err);
            goto out;
        }
        from = "the replica (the primary is unreachable)";
    }
    if (rc != VS_OK)
        goto out;
    revocation_reload_started_us = started;
    log_info("thread %d: new Redis connection: reloaded %zu revoked token(s) from %s", w->index, n,
             from);
out:
    pthread_mutex_unlock(&revocation_reload_lock);
    return rc;
}

/* The primary's answer, for when Redis cannot give one. */
static vs_status revocation_revoked_in_db(vsd_thread *w, const char *jti, int *revoked, char *err,
                                          size_t errlen)
{
    vs_status rc = VS_UNAVAILABLE;

    /* a stale connection (the primary restarted) is reopened once */
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL *db = vsd_db(w, VSD_PRIMARY, &rc, err, errlen);

        if (db == NULL)
            return rc;
        rc = token_revoked_on_primary(db, jti, revoked, err, errlen);
        if (rc != VS_UNAVAILABLE)
            return rc;
        vsd_db_reset(w, VSD_PRIMARY);
    }
    return rc;
}

/* CLIENT SETNAME on the thread's connection; 1 when Redis accepted it. */
static int revocation_redis_name(vsd_thread *w, const char *name, char *err, size_t errlen)
{
    redisReply *reply = NULL;
    int ok;

    if (redis_command(vsd_redis(w), &reply, err, errlen, "CLIENT SETNAME %s", name) != VS_OK)
        return 0;
    ok = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    return ok;
}

/* The pre-push check (subscription not live): Redis, vetting new connections, else the primary. */
static vs_status revocation_check_in_redis(vsd_thread *w, const char *jti, int *revoked, char *err,
                                           size_t errlen)
{
    char key[sizeof REVOCATION_REDIS_KEY + TOKEN_JTI_LEN];
    const char *argv_name[] = {"CLIENT", "GETNAME"}, *argv_exists[] = {"EXISTS", key};
    const char **argv[] = {argv_name, argv_exists};
    const size_t len_name[] = {6, 7};
    size_t len_exists[] = {6, 0};
    const size_t *argvlen[] = {len_name, len_exists};
    const int argc[] = {2, 2};

    /* an inline context has no connections: asking marked it blocked, and the call is run again
     * on an RPC thread, where this path can do its I/O */
    if (vsd_redis(w) == NULL) {
        snprintf(err, errlen, "no Redis connection on an inline context");
        return VS_UNAVAILABLE;
    }
    snprintf(key, sizeof key, "%s%s", REVOCATION_REDIS_KEY, jti);
    len_exists[1] = strlen(key);
    /* the second attempt runs on a fresh connection if the first found it dead */
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *replies[2] = {NULL, NULL};
        int ours;
        int64_t observed;

        if (redis_pipeline(vsd_redis(w), 2, argc, argv, argvlen, replies, err, errlen) != VS_OK)
            continue;
        ours = replies[0]->type == REDIS_REPLY_STRING &&
               strcmp(replies[0]->str, REVOCATION_REDIS_NAME) == 0;
        *revoked = replies[1]->type == REDIS_REPLY_INTEGER && replies[1]->integer == 1;
        freeReplyObject(replies[0]);
        freeReplyObject(replies[1]);
        if (*revoked || ours)
            return VS_OK;
        /* A connection we have not vetted: Redis may have restarted without our latest writes.
         * Name it first, then reload: whichever connection the name lands on (redis_command may
         * reconnect) existed before the reload began, so the reload covers whatever it lost. */
        if (!revocation_redis_name(w, REVOCATION_REDIS_NAME, err, errlen))
            break;
        observed = clock_mono_us();
        if (revocation_reload_since(w, observed, err, errlen) != VS_OK) {
            revocation_redis_name(w, REVOCATION_REDIS_NAME "-unvetted", err, errlen);
            break;
        }
        *revoked = revoked_set_contains(revocation_set(), jti);
        return VS_OK;
    }
    return revocation_revoked_in_db(w, jti, revoked, err, errlen);
}

vs_status revocation_check(vsd_thread *w, const char *jti, int *revoked, char *err, size_t errlen)
{
    *revoked = 0;
    /* the steady state: one lookup in the set, no vsd_redis()/vsd_db(), so an inline caller
     * stays inline */
    if (revocation_push_lookup(jti, revoked))
        return VS_OK;
    /* not live: the set still knows this process's own and reloaded revocations */
    if (revoked_set_contains(revocation_set(), jti)) {
        *revoked = 1;
        return VS_OK;
    }
    return revocation_check_in_redis(w, jti, revoked, err, errlen);
}

/* In one MULTI/EXEC, so that both or neither happen: SET the Redis copy (for vsds checking
 * through Redis) and PUBLISH the jti to every vsd's subscriber. Retried once on a fresh
 * connection; running it twice changes nothing. */
static vs_status revocation_redis_revoke(vsd_thread *w, const revocation_token *p, int64_t ttl,
                                         char *err, size_t errlen)
{
    char key[sizeof REVOCATION_REDIS_KEY + REVOCATION_JTI_MAX], ttl_text[24],
        message[REVOCATION_JTI_MAX + 24];
    const char *argv_multi[] = {"MULTI"}, *argv_exec[] = {"EXEC"};
    const char *argv_set[] = {"SET", key, "1", "EX", ttl_text};
    const char *argv_pub[] = {"PUBLISH", REVOCATION_CHANNEL, message};
    const char **argv[] = {argv_multi, argv_set, argv_pub, argv_exec};
    const int argc[] = {1, 5, 3, 1};
    size_t len_set[5], len_pub[3];
    const size_t len_multi[] = {5}, len_exec[] = {4};
    const size_t *argvlen[] = {len_multi, len_set, len_pub, len_exec};
    vs_status rc = VS_UNAVAILABLE;

    snprintf(key, sizeof key, "%s%s", REVOCATION_REDIS_KEY, p->jti);
    snprintf(ttl_text, sizeof ttl_text, "%lld", (long long)(ttl > 0 ? ttl : 1));
    snprintf(message, sizeof message, "%s %lld", p->jti, (long long)p->exp_unix);
    for (int i = 0; i < 5; i++)
        len_set[i] = strlen(argv_set[i]);
    for (int i = 0; i < 3; i++)
        len_pub[i] = strlen(argv_pub[i]);
    for (int attempt = 0; attempt < 2 && rc != VS_OK; attempt++) {
        redisReply *replies[4] = {NULL, NULL, NULL, NULL};
        const redisReply *exec;

        if (redis_pipeline(vsd_redis(w), 4, argc, argv, argvlen, replies, err, errlen) != VS_OK)
            continue;
        exec = replies[3];
        if (exec->type == REDIS_REPLY_ARRAY && exec->elements == 2 &&
            exec->element[0]->type == REDIS_REPLY_STATUS &&
            exec->element[1]->type == REDIS_REPLY_INTEGER)
            rc = VS_OK;
        else
            snprintf(err, errlen, "redis: MULTI/EXEC of SET + PUBLISH: %s",
                     exec->type == REDIS_REPLY_ERROR ? exec->str : "unexpected reply");
        for (int i = 0; i < 4; i++)
            freeReplyObject(replies[i]);
        if (rc != VS_OK)
            break; /* Redis answered: a fresh connection would not do better */
    }
    return rc;
}

vs_status revocation_revoke(vsd_thread *w, const revocation_token *p, char *err, size_t errlen)
{
    char sql[256];
    redisReply *reply = NULL;
    revocation_waiter own;
    int live;
    int64_t now_s = clock_now_ms() / 1000, ttl = p->exp_unix + TOKEN_SKEW_S - now_s + 1;
    vs_status rc;

    snprintf(sql, sizeof sql,
             "INSERT IGNORE INTO auth_revoked_token (jti, user_id, expires_unix) "
             "VALUES ('%s', %" PRIu64 ", %" PRId64 ")",
             p->jti, p->user_id, p->exp_unix);
    rc = revocation_primary_query(w, sql, NULL, err, errlen);
    if (rc != VS_OK)
        return rc == VS_UNAVAILABLE ? rc : VS_INTERNAL;
    /* durable now: this process refuses the token from here on, whatever happens below */
    if (revoked_set_add(revocation_set(), p->jti, p->exp_unix) != VS_OK)
        log_warn("revoke: could not add a revocation to the process's set");
    revocation_push_expect(&own, p->jti);
    rc = revocation_redis_revoke(w, p, ttl, err, errlen);
    if (rc != VS_OK) {
        revocation_push_await(&own, 0);
        return VS_UNAVAILABLE;
    }
    /* Redis writes a PUBLISH to every subscriber in the same pass of its event loop: once ours
     * has it, the others' have been sent too. The PING after it is answered only after that pass
     * has finished, so every subscriber socket on this host holds the message before we reply. */
    live = revocation_push_live();
    if (!revocation_push_await(&own, REVOCATION_LOGOUT_WAIT_MS) && live)
        log_warn("revoke: own PUBLISH not back through the subscriber within %d ms",
                 REVOCATION_LOGOUT_WAIT_MS);
    if (redis_command(vsd_redis(w), &reply, err, errlen, "PING") == VS_OK)
        freeReplyObject(reply);
    /* housekeeping, now and then: rows of long-expired tokens protect nothing */
    if (randombytes_uniform(64) == 0) {
        snprintf(sql, sizeof sql,
                 "DELETE FROM auth_revoked_token WHERE expires_unix < %" PRId64 " LIMIT 1000",
                 now_s - 3600);
        if (revocation_primary_query(w, sql, NULL, err, errlen) != VS_OK)
            log_warn("revocation housekeeping: %s", err);
    }
    return VS_OK;
}

vs_status revocation_start(char *err, size_t errlen)
{
    return revocation_push_start(err, errlen);
}

void revocation_stop(void)
{
    revocation_push_stop();
}
