/* revocation_push.c — the process's set of revoked jtis, and the subscriber that keeps it
 * complete: one thread per vsd, with its own Redis connection, SUBSCRIBEd to REVOCATION_CHANNEL,
 * where every Logout PUBLISHes "<jti> <exp>". It knows nothing of checks or Logout
 * (revocation.c uses it, never the other way round).
 *
 * The set (revocation_push.h) answers for a jti it does not hold only while the subscription is
 * live. On every (re)connect the thread SUBSCRIBEs, waits for the confirmation, THEN adds the
 * primary's revocations — so whatever was published before the subscription existed was committed
 * before the reload read the table — and only then marks the state live. An error, EOF, or no reply
 * to a PING (sent after PUSH_PING_MS of silence) within PUSH_DEAD_MS marks it not live at once, and
 * the thread reconnects with backoff; meanwhile checks take revocation.c's Redis/primary path.
 *
 * A check also declines to answer while anything that arrived on the subscription is not yet
 * applied (in the socket, in hiredis's buffer, or being applied), so a revocation that has reached
 * this process's socket is never missed; revocation_revoke makes sure it has before Logout replies.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "revocation_push.h"
#include "bgthread.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "redis.h"
#include "token.h"
#include "vsd.h"

#define PUSH_PING_MS 1000      /* idle this long: PING the subscription */
#define PUSH_DEAD_MS 3000      /* no reply to that PING this long: the connection is dead */
#define PUSH_BACKOFF_MIN_MS 50 /* first reconnect delay, doubled up to the max */
#define PUSH_BACKOFF_MAX_MS 2000
#define PUSH_PRUNE_EVERY_MS 10000

static struct {
    int enabled;
    redis_addr redis;    /* where to subscribe, and the password */
    bgthread subscriber; /* push_main; waits on its socket and the thread's wake fd */
    /* (epoch << 1) | live: every change bumps the epoch, so a check that read it before and after
     * its lookup knows whether the subscription stayed live (and the same) all along */
    _Atomic uint64_t state;
    atomic_int fd;        /* the subscriber socket while live, else -1 */
    atomic_int busy;      /* 1 while something that arrived is being (or waits to be) applied */
    pthread_mutex_t lock; /* guards waiters */
    pthread_cond_t cond;
    revocation_waiter *waiters;
    MYSQL *db; /* the thread's own primary connection, for reloads */
} push = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* The set is process-wide: every RPC thread checks it, and it outlives no one (made on first
 * use, freed with the process). */
static revoked_set *revoked_jtis;
static pthread_once_t revoked_once = PTHREAD_ONCE_INIT;

static void revoked_make(void)
{
    if (revoked_set_new(&revoked_jtis) != VS_OK) {
        log_error("out of memory for the revoked token set");
        abort();
    }
}

revoked_set *revocation_set(void)
{
    pthread_once(&revoked_once, revoked_make);
    return revoked_jtis;
}

vs_status revocation_reload(MYSQL *db, size_t *n_out, char *err, size_t errlen)
{
    char sql[160];
    MYSQL_RES *res;
    MYSQL_ROW row;
    int64_t oldest = clock_now_ms() / 1000 - TOKEN_SKEW_S;
    size_t n = 0;
    vs_status rc = VS_OK;

    snprintf(sql, sizeof sql,
             "SELECT jti, expires_unix FROM auth_revoked_token WHERE expires_unix >= %" PRId64,
             oldest);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "reading auth_revoked_token: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    while ((row = mysql_fetch_row(res)) != NULL && rc == VS_OK) {
        if (row[0] == NULL || row[1] == NULL)
            continue;
        /* a malformed row (INVALID_ARGUMENT) protects nothing; running out of memory must fail */
        if (revoked_set_add(revocation_set(), row[0], strtoll(row[1], NULL, 10)) ==
            VS_RESOURCE_EXHAUSTED) {
            snprintf(err, errlen, "out of memory reloading revocations");
            rc = VS_RESOURCE_EXHAUSTED;
        }
        n++;
    }
    mysql_free_result(res);
    revoked_set_prune(revocation_set(), oldest);
    if (n_out != NULL)
        *n_out = n;
    return rc;
}

int revocation_push_enabled(void)
{
    return push.enabled;
}

int revocation_push_live(void)
{
    return (int)(atomic_load(&push.state) & 1);
}

/* Marks the subscription live on fd, or not live (fd -1). Waiters wake up to notice. */
static void push_set_live(int fd)
{
    uint64_t s = atomic_load(&push.state);

    if (fd >= 0) {
        atomic_store(&push.fd, fd);
        atomic_store(&push.state, ((s >> 1) + 1) << 1 | 1);
    } else {
        /* not live first: a check that raced with this sees the epoch change before the fd
         * number can be reused by anything else */
        atomic_store(&push.state, ((s >> 1) + 1) << 1);
        atomic_store(&push.fd, -1);
    }
    pthread_mutex_lock(&push.lock);
    pthread_cond_broadcast(&push.cond);
    pthread_mutex_unlock(&push.lock);
}

int revocation_push_lookup(const char *jti, int *revoked)
{
    uint64_t before = atomic_load(&push.state);
    struct pollfd p = {.events = POLLIN};

    if (!(before & 1) || (p.fd = atomic_load(&push.fd)) < 0)
        return 0;
    /* socket first, then busy: the thread sets busy before it reads the socket, so data this
     * poll no longer sees is either applied or still marked busy */
    if (poll(&p, 1, 0) != 0 || atomic_load(&push.busy))
        return 0;
    *revoked = revoked_set_contains(revocation_set(), jti);
    return atomic_load(&push.state) == before;
}

void revocation_push_expect(revocation_waiter *w, const char *jti)
{
    snprintf(w->jti, sizeof w->jti, "%s", jti);
    w->arrived = 0;
    pthread_mutex_lock(&push.lock);
    w->next = push.waiters;
    push.waiters = w;
    pthread_mutex_unlock(&push.lock);
}

int revocation_push_await(revocation_waiter *w, int timeout_ms)
{
    struct timespec until;
    int arrived;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    until.tv_sec += timeout_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&push.lock);
    while (!w->arrived && (atomic_load(&push.state) & 1))
        if (pthread_cond_timedwait(&push.cond, &push.lock, &until) == ETIMEDOUT)
            break;
    arrived = w->arrived;
    for (revocation_waiter **pp = &push.waiters; *pp != NULL; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&push.lock);
    return arrived;
}

/* Applies one reply read from the subscription: a published "<jti> <exp>" joins the set and
 * wakes the Logout waiting for it; confirmations and PING replies carry nothing to apply. */
static void push_apply(const redisReply *r)
{
    const char *payload;
    char jti[TOKEN_JTI_LEN + 1], *end = NULL;
    long long exp = 0;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
        return;
    payload = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
    jti[0] = '\0';
    if (strlen(payload) > TOKEN_JTI_LEN + 1 && payload[TOKEN_JTI_LEN] == ' ') {
        memcpy(jti, payload, TOKEN_JTI_LEN);
        jti[TOKEN_JTI_LEN] = '\0';
        errno = 0;
        exp = strtoll(payload + TOKEN_JTI_LEN + 1, &end, 10);
        if (errno != 0 || *end != '\0')
            exp = 0;
    }
    if (exp <= 0 || revoked_set_add(revocation_set(), jti, exp) != VS_OK) {
        log_warn("revocations: ignored a malformed message on %s", REVOCATION_CHANNEL);
        return;
    }
    pthread_mutex_lock(&push.lock);
    for (revocation_waiter *w = push.waiters; w != NULL; w = w->next)
        if (strcmp(w->jti, jti) == 0)
            w->arrived = 1;
    pthread_cond_broadcast(&push.cond);
    pthread_mutex_unlock(&push.lock);
}

/* Applies every complete reply hiredis has buffered; then busy stays set only while part of a
 * reply is still buffered. VS_UNAVAILABLE when the stream is corrupt. */
static vs_status push_drain(redisContext *ctx)
{
    void *reply;

    for (;;) {
        if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK)
            return VS_UNAVAILABLE;
        if (reply == NULL)
            break;
        push_apply(reply);
        freeReplyObject(reply);
    }
    /* hiredis leaves ridx at 0 after a call that found nothing: a reply is only under way once
     * its first type byte has been read */
    atomic_store(&push.busy, ctx->reader->pos < ctx->reader->len ||
                                 (ctx->reader->ridx >= 0 && ctx->reader->rstack[0].type >= 0));
    return VS_OK;
}

/* Adds the primary's revocations to the set on the thread's own connection (opened on demand,
 * dropped after an error). */
static vs_status push_reload(size_t *n, char *err, size_t errlen)
{
    vs_status rc;

    if (push.db == NULL &&
        (rc = db_connect_io(vsd_cfg.db_primary, 2, 5, &push.db, err, errlen)) != VS_OK)
        return rc;
    rc = revocation_reload(push.db, n, err, errlen);
    if (rc != VS_OK) {
        mysql_close(push.db);
        push.db = NULL;
    }
    return rc;
}

/* Names the connection (CLIENT LIST shows which vsd it is), then SUBSCRIBEs and waits for the
 * confirmation. */
static int push_subscribe(redisContext *ctx, const char *name)
{
    redisReply *r = redisCommand(ctx, "CLIENT SETNAME %s", name);
    int ok = r != NULL && r->type == REDIS_REPLY_STATUS;

    if (r != NULL)
        freeReplyObject(r);
    if (!ok)
        return 0;
    r = redisCommand(ctx, "SUBSCRIBE %s", REVOCATION_CHANNEL);
    ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
         r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "subscribe") == 0;
    if (r != NULL)
        freeReplyObject(r);
    return ok;
}

/* Sends a PING on the subscription (its reply is read by the main loop). */
static int push_ping(redisContext *ctx)
{
    int done = 0;

    if (redisAppendCommand(ctx, "PING") != REDIS_OK)
        return 0;
    while (!done)
        if (redisBufferWrite(ctx, &done) != REDIS_OK)
            return 0;
    return 1;
}

/* One connection's life: connect, subscribe, reload, live until it fails or vsd stops. Returns 1
 * when it got as far as live (the caller then restarts its backoff). */
static int push_session(bgthread *t)
{
    struct timeval tv = {1, 0};
    redisContext *ctx;
    int64_t ping_sent_ms = -1, next_prune_ms = clock_mono_ms() + PUSH_PRUNE_EVERY_MS;
    char err[256], name[64];
    size_t n = 0;
    int was_live = 0;

    /* with Sentinel, subscribe where the primary is now (a no-op without VS_REDIS_SENTINELS) */
    if (redis_sentinel_primary(&push.redis, err, sizeof err) != VS_OK)
        log_debug("revocations: %s", err);
    ctx = redisConnectWithTimeout(push.redis.host, push.redis.port, tv);

    snprintf(name, sizeof name, "vsd-auth-push:%d", (int)getpid());

    if (ctx == NULL || ctx->err) {
        log_debug("revocations: redis %s:%d: %s", push.redis.host, push.redis.port,
                  ctx ? ctx->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(ctx, tv);
    if (redis_auth(ctx, &push.redis, err, sizeof err) != VS_OK) {
        log_warn("revocations: %s", err);
        goto out;
    }
    if (!push_subscribe(ctx, name)) {
        log_warn("revocations: SUBSCRIBE %s failed: %s", REVOCATION_CHANNEL,
                 ctx->err ? ctx->errstr : "unexpected reply");
        goto out;
    }
    if (push_reload(&n, err, sizeof err) != VS_OK) {
        log_warn("revocations: cannot reload from the primary, staying on Redis checks: %s", err);
        goto out;
    }
    atomic_store(&push.busy, 1); /* messages buffered with the confirmation, if any */
    if (push_drain(ctx) != VS_OK)
        goto out;
    push_set_live(ctx->fd);
    was_live = 1;
    /* a first PING at once: CLIENT LIST then shows cmd=ping, which tells an observer (the tests)
     * that this vsd's subscription went live */
    if (!push_ping(ctx))
        goto lost;
    ping_sent_ms = clock_mono_ms();
    log_info("revocations: subscribed to %s, %zu from the primary: checks need no round trip",
             REVOCATION_CHANNEL, n);
    while (!bgthread_stopping(t)) {
        struct pollfd p[2] = {{.fd = ctx->fd, .events = POLLIN},
                              {.fd = bgthread_wake_fd(t), .events = POLLIN}};
        int ready = poll(p, 2, PUSH_PING_MS);
        int64_t now = clock_mono_ms();

        if (ready < 0 && errno != EINTR)
            break;
        if (ready > 0 && p[0].revents != 0) {
            atomic_store(&push.busy, 1);
            if (redisBufferRead(ctx) != REDIS_OK || push_drain(ctx) != VS_OK)
                break;
            ping_sent_ms = -1; /* anything that arrives proves the connection */
        } else if (ready == 0 && ping_sent_ms >= 0 && now - ping_sent_ms >= PUSH_DEAD_MS) {
            snprintf(ctx->errstr, sizeof ctx->errstr, "no reply to PING in %d ms", PUSH_DEAD_MS);
            break;
        } else if (ready == 0 && ping_sent_ms < 0) {
            if (!push_ping(ctx))
                break;
            ping_sent_ms = now;
        }
        if (now >= next_prune_ms) {
            revoked_set_prune(revocation_set(), clock_now_ms() / 1000 - TOKEN_SKEW_S);
            next_prune_ms = now + PUSH_PRUNE_EVERY_MS;
        }
    }
lost:
    if (!bgthread_stopping(t))
        log_warn("revocations: subscription lost (%s); checks ask Redis until it is back",
                 ctx->err ? ctx->errstr : "poll failed");
out:
    push_set_live(-1);
    atomic_store(&push.busy, 0);
    if (ctx != NULL)
        redisFree(ctx);
    return was_live;
}

/* The subscriber thread: sessions, with a growing rest after each lost one, until vsd stops. */
static void push_main(bgthread *t, void *arg)
{
    int backoff_ms = PUSH_BACKOFF_MIN_MS;

    (void)arg;
    while (!bgthread_stopping(t)) {
        if (push_session(t))
            backoff_ms = PUSH_BACKOFF_MIN_MS;
        if (bgthread_wait(t, backoff_ms))
            break;
        backoff_ms = backoff_ms * 2 > PUSH_BACKOFF_MAX_MS ? PUSH_BACKOFF_MAX_MS : backoff_ms * 2;
    }
    if (push.db != NULL)
        mysql_close(push.db);
    push.db = NULL;
}

vs_status revocation_push_start(char *err, size_t errlen)
{
    int64_t on;
    vs_status rc;

    (void)revocation_set();
    rc = config_get_int("VS_AUTH_REVOCATION_PUSH", 1, 0, 1, &on, err, errlen);
    if (rc != VS_OK)
        return rc;
    if (!on) {
        log_info("revocations: VS_AUTH_REVOCATION_PUSH=0: every check asks Redis");
        return VS_OK;
    }
    if ((rc = redis_parse_url(vsd_cfg.redis, &push.redis, err, errlen)) != VS_OK)
        return rc;
    push.enabled = 1;
    if ((rc = bgthread_start(&push.subscriber, "vsd-revocations", push_main, NULL, err, errlen)) !=
        VS_OK)
        push.enabled = 0;
    return rc;
}

void revocation_push_stop(void)
{
    bgthread_stop(&push.subscriber);
}
