/* redis.c — reconnecting hiredis wrapper. */
#include "redis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"

static struct {
    metrics_counter connects[2]; /* [0] opened, [1] failed */
    metrics_counter errors[2];   /* [0] the connection failed, [1] an error reply */
} redis_metrics;

void redis_metrics_collect(struct metrics_text *t, void *arg)
{
    static const char *const outcomes[] = {"ok", "error"}, *const kinds[] = {"connection", "reply"};

    (void)arg;
    metrics_write_counters(t, "vs_redis_connects_total",
                           "Redis connections opened (ok) or that failed to open (error): each "
                           "connection's first, then a reconnect after every failure.",
                           "outcome", outcomes, redis_metrics.connects, 2);
    metrics_write_counters(t, "vs_redis_errors_total",
                           "Redis errors: commands that failed on the connection after one "
                           "reconnect (connection), error replies such as LOADING (reply).",
                           "kind", kinds, redis_metrics.errors, 2);
}

struct redis_conn {
    redisContext *ctx;
    redis_addr addr;
    int timeout_ms;
};

/* How long one sentinel may take to answer where the primary is. */
#define REDIS_SENTINEL_TIMEOUT_MS 300

/* Asks the sentinel at host:port for the primary of name: 0 and *a's host and port set, or -1. */
static int redis_sentinel_ask(const char *host, int port, const char *name, redis_addr *a)
{
    struct timeval tv = {0, REDIS_SENTINEL_TIMEOUT_MS * 1000};
    redisContext *ctx = redisConnectWithTimeout(host, port, tv);
    redisReply *reply = NULL;
    int rc = -1;

    if (ctx != NULL && !ctx->err && redisSetTimeout(ctx, tv) == REDIS_OK)
        reply = redisCommand(ctx, "SENTINEL get-master-addr-by-name %s", name);
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING &&
        strlen(reply->element[0]->str) < sizeof a->host) {
        long p = strtol(reply->element[1]->str, NULL, 10);

        if (p > 0 && p <= 65535) {
            snprintf(a->host, sizeof a->host, "%s", reply->element[0]->str);
            a->port = (int)p;
            rc = 0;
        }
    }
    if (reply != NULL)
        freeReplyObject(reply);
    if (ctx != NULL)
        redisFree(ctx);
    return rc;
}

int redis_sentinels_configured(void)
{
    return config_get("VS_REDIS_SENTINELS", NULL) != NULL;
}

vs_status redis_sentinel_primary(redis_addr *a, char *err, size_t errlen)
{
    const char *list = config_get("VS_REDIS_SENTINELS", NULL);
    const char *name = config_get("VS_REDIS_MASTER_NAME", "vs");
    char copy[1024], *save = NULL;
    int asked = 0;

    if (list == NULL)
        return VS_OK;
    if (strlen(list) >= sizeof copy) {
        snprintf(err, errlen, "VS_REDIS_SENTINELS is too long");
        return VS_INVALID_ARGUMENT;
    }
    snprintf(copy, sizeof copy, "%s", list);
    for (char *s = strtok_r(copy, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(s, ':'), *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;

        if (colon == NULL || colon == s || *end != '\0' || port <= 0 || port > 65535) {
            snprintf(err, errlen, "VS_REDIS_SENTINELS: \"%s\" is not HOST:PORT", s);
            return VS_INVALID_ARGUMENT;
        }
        *colon = '\0';
        asked++;
        if (redis_sentinel_ask(s, (int)port, name, a) == 0)
            return VS_OK;
    }
    snprintf(err, errlen,
             "redis: none of the %d sentinels (VS_REDIS_SENTINELS) named the primary %s", asked,
             name);
    return VS_UNAVAILABLE;
}

/* With sentinels, the server connected to must be the primary: a demoted one (a replica now) is
 * refused, so that the next connect asks the sentinels again. */
static vs_status redis_check_primary(redis_conn *r, char *err, size_t errlen)
{
    redisReply *reply = redisCommand(r->ctx, "ROLE");
    vs_status rc = VS_OK;

    if (reply == NULL) {
        snprintf(err, errlen, "redis %s:%d: %s", r->addr.host, r->addr.port, r->ctx->errstr);
        return VS_UNAVAILABLE;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, "master") != 0) {
        snprintf(err, errlen,
                 "redis %s:%d: not the primary (ROLE %s); the sentinels have not "
                 "named its successor yet",
                 r->addr.host, r->addr.port,
                 reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                         reply->element[0]->type == REDIS_REPLY_STRING
                     ? reply->element[0]->str
                     : "?");
        rc = VS_UNAVAILABLE;
    }
    freeReplyObject(reply);
    return rc;
}

/* A reply that says the server is no longer the primary: drop the context, so that the next
 * command reconnects through the sentinels. */
static void redis_forget_demoted(redis_conn *r, const redisReply *reply)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && redis_sentinels_configured() &&
        strncmp(reply->str, "READONLY", 8) == 0 && r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

vs_status redis_auth(redisContext *ctx, const redis_addr *a, char *err, size_t errlen)
{
    redisReply *reply;
    vs_status rc = VS_OK;

    if (a->password[0] == '\0')
        return VS_OK;
    if (a->user[0] != '\0')
        reply = redisCommand(ctx, "AUTH %s %s", a->user, a->password);
    else
        reply = redisCommand(ctx, "AUTH %s", a->password);
    if (reply == NULL) {
        snprintf(err, errlen, "redis %s:%d: AUTH: %s", a->host, a->port, ctx->errstr);
        return VS_UNAVAILABLE;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* a wrong password is configuration, not a passing failure; the reply text (WRONGPASS
         * ..., or "ERR AUTH <password> called without any password configured") names which */
        snprintf(err, errlen,
                 "redis %s:%d: the password was refused (%s); check VS_REDIS"
                 " (redis://:PASSWORD@host:port) or VS_REDIS_PASSWORD_FILE",
                 a->host, a->port, reply->str);
        rc = VS_UNAUTHENTICATED;
    }
    freeReplyObject(reply);
    return rc;
}

static vs_status redis_connect_once(redis_conn *r, char *err, size_t errlen)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    vs_status rc;

    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    /* with sentinels, where the primary is now (kept as it was when none answers) */
    if (redis_sentinels_configured() &&
        redis_sentinel_primary(&r->addr, err, errlen) == VS_INVALID_ARGUMENT)
        return VS_INVALID_ARGUMENT;
    r->ctx = redisConnectWithTimeout(r->addr.host, r->addr.port, tv);
    if (r->ctx == NULL || r->ctx->err) {
        snprintf(err, errlen, "redis %s:%d: %s", r->addr.host, r->addr.port,
                 r->ctx ? r->ctx->errstr : "out of memory");
        if (r->ctx != NULL) {
            redisFree(r->ctx);
            r->ctx = NULL;
        }
        return VS_UNAVAILABLE;
    }
    /* hiredis 0.14's connect timeout does not cover commands, and a context is dead after a
     * timeout: every new context needs the command timeout again, or a stalled Redis would block
     * its thread for good */
    if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: cannot set the command timeout: %s", r->addr.host,
                 r->addr.port, r->ctx->errstr);
        redisFree(r->ctx);
        r->ctx = NULL;
        return VS_UNAVAILABLE;
    }
    /* every new context authenticates: a reconnect after a restart or a timeout too */
    if ((rc = redis_auth(r->ctx, &r->addr, err, errlen)) != VS_OK ||
        (redis_sentinels_configured() && (rc = redis_check_primary(r, err, errlen)) != VS_OK)) {
        redisFree(r->ctx);
        r->ctx = NULL;
        return rc;
    }
    return VS_OK;
}

static vs_status redis_connect(redis_conn *r, char *err, size_t errlen)
{
    vs_status rc = redis_connect_once(r, err, errlen);

    metrics_inc(&redis_metrics.connects[rc == VS_OK ? 0 : 1]);
    return rc;
}

/* Copies [from, to) into dst (size dstlen) with %XX decoding; -1 when it does not fit. */
static int redis_url_copy(char *dst, size_t dstlen, const char *from, const char *to)
{
    size_t n = 0;

    for (const char *p = from; p < to; p++) {
        char c = *p;

        if (c == '%' && to - p >= 3) {
            char hex[3] = {p[1], p[2], 0};
            c = (char)strtol(hex, NULL, 16);
            p += 2;
        }
        if (n + 1 >= dstlen)
            return -1;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return 0;
}

/* The first line of VS_REDIS_PASSWORD_FILE into a->password, when that is set. */
static vs_status redis_password_file(redis_addr *a, char *err, size_t errlen)
{
    const char *path = config_get("VS_REDIS_PASSWORD_FILE", NULL);
    FILE *f;
    size_t n;

    if (path == NULL)
        return VS_OK;
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "VS_REDIS_PASSWORD_FILE: cannot read %s: %s", path, strerror(errno));
        return VS_INVALID_ARGUMENT;
    }
    if (fgets(a->password, sizeof a->password, f) == NULL)
        a->password[0] = '\0';
    fclose(f);
    n = strcspn(a->password, "\r\n");
    a->password[n] = '\0';
    if (n == 0) {
        snprintf(err, errlen, "VS_REDIS_PASSWORD_FILE: %s holds no password", path);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status redis_parse_url(const char *url, redis_addr *out, char *err, size_t errlen)
{
    const char *p = url, *at, *colon;

    memset(out, 0, sizeof *out);
    if (url == NULL || *url == '\0') {
        snprintf(err, errlen, "redis address is empty");
        return VS_INVALID_ARGUMENT;
    }
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    at = strrchr(p, '@');
    if (at != NULL) {
        const char *sep = memchr(p, ':', (size_t)(at - p));
        if (sep == NULL || redis_url_copy(out->user, sizeof out->user, p, sep) != 0 ||
            redis_url_copy(out->password, sizeof out->password, sep + 1, at) != 0) {
            snprintf(err, errlen,
                     "redis address: the part before @ must be [user]:password (at most %zu bytes)",
                     sizeof out->password - 1);
            return VS_INVALID_ARGUMENT;
        }
        p = at + 1;
    }
    colon = strrchr(p, ':');
    if (colon == NULL) {
        snprintf(out->host, sizeof out->host, "%s", p);
        out->port = 6379;
    } else {
        snprintf(out->host, sizeof out->host, "%.*s", (int)(colon - p), p);
        out->port = atoi(colon + 1);
    }
    if (out->port <= 0 || out->port > 65535 || out->host[0] == '\0') {
        snprintf(err, errlen, "redis address \"%s%s\" is not host:port", at ? "...@" : "",
                 at ? at + 1 : url);
        return VS_INVALID_ARGUMENT;
    }
    if (out->password[0] == '\0')
        return redis_password_file(out, err, errlen);
    return VS_OK;
}

vs_status redis_parse_address(const char *url, char *host, size_t hostlen, int *port, char *err,
                              size_t errlen)
{
    redis_addr a;
    vs_status rc = redis_parse_url(url, &a, err, errlen);

    if (rc == VS_OK) {
        snprintf(host, hostlen, "%s", a.host);
        *port = a.port;
    }
    return rc;
}

vs_status redis_open(const char *url, int timeout_ms, redis_conn **out, char *err, size_t errlen)
{
    redis_conn *r;
    vs_status rc;

    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    if ((rc = redis_parse_url(url, &r->addr, err, errlen)) != VS_OK) {
        free(r);
        return rc;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    *out = r;
    return redis_connect(r, err, errlen);
}

/* The error replies that mean "not now, later": the one place that decides which Redis errors a
 * caller may retry. Matched on the reply's first word (BUSY is not BUSYKEY). */
static const struct redis_error_kind {
    const char *word;
    const char *meaning;
} redis_retryable[] = {
    {"LOADING", "Redis is loading its data set"},
    {"BUSY", "Redis is busy running a script"},
    {"MASTERDOWN", "Redis is a replica that has lost its primary"},
    {"READONLY", "Redis is a read-only replica"},
    {"TRYAGAIN", "Redis asks to try again"},
    {"CLUSTERDOWN", "the Redis cluster is down"},
    {"NOREPLICAS", "Redis has too few replicas to accept writes"},
    {"MISCONF", "Redis cannot write to its disk"},
    {"OOM", "Redis is out of memory"},
};

vs_status redis_error_status(const char *error_text, const char **meaning)
{
    const char *text = error_text != NULL ? error_text : "";
    size_t word = strcspn(text, " ");

    for (size_t i = 0; i < sizeof redis_retryable / sizeof redis_retryable[0]; i++)
        if (strlen(redis_retryable[i].word) == word &&
            strncmp(text, redis_retryable[i].word, word) == 0) {
            if (meaning != NULL)
                *meaning = redis_retryable[i].meaning;
            return VS_UNAVAILABLE;
        }
    if (meaning != NULL)
        *meaning = NULL;
    return VS_INTERNAL;
}

vs_status redis_reply_status(const redisReply *reply, char *err, size_t errlen)
{
    const char *meaning;
    vs_status rc;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR)
        return VS_OK;
    metrics_inc(&redis_metrics.errors[1]);
    rc = redis_error_status(reply->str, &meaning);
    if (strncmp(reply->str, "NOAUTH", 6) == 0)
        snprintf(err, errlen,
                 "redis: NOAUTH: Redis requires a password; set VS_REDIS to"
                 " redis://:PASSWORD@host:port or VS_REDIS_PASSWORD_FILE");
    else if (meaning != NULL)
        snprintf(err, errlen, "redis: %.*s: %s", (int)strcspn(reply->str, " "), reply->str,
                 meaning);
    else
        snprintf(err, errlen, "redis: %s", reply->str);
    return rc;
}

void redis_close(redis_conn *r)
{
    if (r == NULL)
        return;
    if (r->ctx != NULL)
        redisFree(r->ctx);
    free(r);
}

/* A NULL connection (a thread that may not do I/O has none) fails every command at once. */
static vs_status redis_absent(char *err, size_t errlen)
{
    snprintf(err, errlen, "redis: no connection on this thread");
    return VS_UNAVAILABLE;
}

vs_status redis_command_argv(redis_conn *r, redisReply **reply, char *err, size_t errlen, int argc,
                             const char **argv, const size_t *argvlen)
{
    *reply = NULL;
    if (r == NULL)
        return redis_absent(err, errlen);
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((r->ctx == NULL || r->ctx->err) && redis_connect(r, err, errlen) != VS_OK)
            continue;
        *reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
        if (*reply != NULL) {
            redis_forget_demoted(r, *reply);
            return VS_OK;
        }
        snprintf(err, errlen, "redis: %s", r->ctx->errstr);
    }
    metrics_inc(&redis_metrics.errors[0]);
    return VS_UNAVAILABLE;
}

vs_status redis_command(redis_conn *r, redisReply **reply, char *err, size_t errlen,
                        const char *fmt, ...)
{
    va_list ap;

    *reply = NULL;
    if (r == NULL)
        return redis_absent(err, errlen);
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((r->ctx == NULL || r->ctx->err) && redis_connect(r, err, errlen) != VS_OK)
            continue;
        va_start(ap, fmt);
        *reply = redisvCommand(r->ctx, fmt, ap);
        va_end(ap);
        if (*reply != NULL) {
            redis_forget_demoted(r, *reply);
            return VS_OK;
        }
        snprintf(err, errlen, "redis: %s", r->ctx->errstr);
    }
    metrics_inc(&redis_metrics.errors[0]);
    return VS_UNAVAILABLE;
}

vs_status redis_pipeline(redis_conn *r, int n, const int *argc, const char ***argv,
                         const size_t **argvlen, redisReply **replies, char *err, size_t errlen)
{
    int got = 0;

    if (r == NULL)
        return redis_absent(err, errlen);
    if ((r->ctx == NULL || r->ctx->err) && redis_connect(r, err, errlen) != VS_OK) {
        metrics_inc(&redis_metrics.errors[0]);
        return VS_UNAVAILABLE;
    }
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(r->ctx, argc[i], argv[i], argvlen[i]) != REDIS_OK)
            goto fail;
    for (got = 0; got < n; got++) {
        void *reply;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK)
            goto fail;
        replies[got] = reply;
    }
    for (int i = 0; i < n && r->ctx != NULL; i++)
        redis_forget_demoted(r, replies[i]);
    return VS_OK;
fail:
    snprintf(err, errlen, "redis: %s", r->ctx->errstr);
    metrics_inc(&redis_metrics.errors[0]);
    for (int i = 0; i < got; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    return VS_UNAVAILABLE;
}

int redis_cmds_init(redis_cmds *c, size_t max_cmds, int max_args)
{
    size_t slots = max_cmds * (size_t)max_args;

    memset(c, 0, sizeof *c);
    c->max_cmds = (int)max_cmds;
    c->max_args = max_args;
    c->argc = malloc(max_cmds * sizeof *c->argc + 1);
    c->argv = malloc(max_cmds * sizeof *c->argv + 1);
    c->argvlen = malloc(max_cmds * sizeof *c->argvlen + 1);
    c->args = malloc(slots * sizeof *c->args + 1);
    c->lens = malloc(slots * sizeof *c->lens + 1);
    c->replies = calloc(max_cmds + 1, sizeof *c->replies);
    return c->argc && c->argv && c->argvlen && c->args && c->lens && c->replies;
}

void redis_cmds_add(redis_cmds *c, int argc, const char *const *args)
{
    const char **a = &c->args[(size_t)c->n * (size_t)c->max_args];
    size_t *l = &c->lens[(size_t)c->n * (size_t)c->max_args];

    if (c->n == c->max_cmds || argc > c->max_args)
        return;
    for (int k = 0; k < argc; k++) {
        a[k] = args[k];
        l[k] = strlen(args[k]);
    }
    c->argc[c->n] = argc;
    c->argv[c->n] = a;
    c->argvlen[c->n] = l;
    c->n++;
}

vs_status redis_cmds_run(redis_conn *r, redis_cmds *c, char *err, size_t errlen)
{
    if (c->n == 0)
        return VS_OK;
    return redis_pipeline(r, c->n, c->argc, c->argv, c->argvlen, c->replies, err, errlen);
}

void redis_cmds_free(redis_cmds *c)
{
    for (int i = 0; c->replies != NULL && i < c->n; i++)
        if (c->replies[i] != NULL)
            freeReplyObject(c->replies[i]);
    free(c->argc);
    free(c->argv);
    free(c->argvlen);
    free(c->args);
    free(c->lens);
    free(c->replies);
    memset(c, 0, sizeof *c);
}
