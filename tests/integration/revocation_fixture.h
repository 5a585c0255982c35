/* revocation_fixture.h — helpers for the tests of pushed revocations (test_user_revocation_push,
 * test_disrupt_user_revocation_push): more vsd processes on the same stack, a call on a chosen
 * vsd, Redis's own command counters, and whether a vsd's revocation subscription is live.
 *
 * A vsd names its subscriber connection "vsd-auth-push:<pid>" and PINGs it as soon as the
 * subscription is live (after the reload from the primary), so CLIENT LIST showing that name
 * with cmd=ping means: that vsd answers checks from memory. Header-only, like user_fixture.h. */
#ifndef VS_REVOCATION_FIXTURE_H
#define VS_REVOCATION_FIXTURE_H

#include "user_fixture.h"

#include "redis.h"

/* Starts another vsd on the stack with the user fixture's settings plus extra (may be NULL);
 * url receives its ipc:// URL. Returns the pid (asserts it started). */
static inline pid_t rf_start_vsd(const char *name, const char *const *extra, char *url,
                                 size_t urllen)
{
    const char *env[24];
    pid_t pid;

    ts_ipc_url(name, url, urllen);
    uf_vsd_env(env, 24, extra);
    pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    return pid;
}

/* Me with token on vsd url (fresh connection): the status code. */
static inline int rf_me_at(const char *url, const char *token)
{
    vs_client *c = ts_client(url, 10000);
    vs_user *u = NULL;
    vs_call_status st = {0};
    int rc;

    vs_client_set_token(c, token);
    rc = vs_user_me(c, &u, &st);
    vs_user_free(u);
    vs_client_close(c);
    return rc;
}

/* Logout of token on vsd url: the status code. */
static inline int rf_logout_at(const char *url, const char *token)
{
    vs_client *c = ts_client(url, 10000);
    vs_call_status st = {0};
    int rc;

    vs_client_set_token(c, token);
    rc = vs_user_logout(c, &st);
    vs_client_close(c);
    return rc;
}

/* A connection to the stack's Redis (reconnects by itself after a restart). */
static inline redis_conn *rf_redis(void)
{
    redis_conn *r = NULL;
    char err[256];

    if (redis_open(getenv("VS_REDIS"), 2000, &r, err, sizeof err) != VS_OK && r == NULL)
        fail_msg("redis: %s", err);
    return r;
}

/* The text of a Redis command's reply (status or string), malloc'd. command: words separated
 * by single spaces. */
static inline char *rf_redis_text(redis_conn *r, const char *command)
{
    redisReply *reply = NULL;
    char err[256], words[256], *text, *save = NULL;
    const char *argv[8];
    size_t argvlen[8];
    int argc = 0;

    snprintf(words, sizeof words, "%s", command);
    for (char *w = strtok_r(words, " ", &save); w != NULL && argc < 8;
         w = strtok_r(NULL, " ", &save)) {
        argv[argc] = w;
        argvlen[argc++] = strlen(w);
    }
    if (redis_command_argv(r, &reply, err, sizeof err, argc, argv, argvlen) != VS_OK)
        fail_msg("redis %s: %s", command, err);
    if (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS)
        fail_msg("redis %s: unexpected reply (%s)", command,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "not text");
    text = strdup(reply->str);
    freeReplyObject(reply);
    return text;
}

/* How many times Redis has run command (as INFO commandstats names it, e.g. "exists",
 * "client|getname") since it started. */
static inline int64_t rf_redis_calls(redis_conn *r, const char *command)
{
    char *info = rf_redis_text(r, "INFO commandstats"), needle[96], *at;
    int64_t calls = 0;

    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", command);
    at = strstr(info, needle);
    if (at != NULL)
        calls = strtoll(at + strlen(needle), NULL, 10);
    free(info);
    return calls;
}

/* The Redis commands a revocation check makes when it cannot answer from memory. */
static inline int64_t rf_check_round_trips(redis_conn *r)
{
    return rf_redis_calls(r, "exists") + rf_redis_calls(r, "client|getname");
}

/* Waits (at most 20 s) until vsd pid's revocation subscription is live; asserts it got there. */
static inline void rf_wait_push_live(redis_conn *r, pid_t pid)
{
    char name[64];

    snprintf(name, sizeof name, "name=vsd-auth-push:%d ", (int)pid);
    for (int i = 0; i < 2000; i++) {
        char *list = rf_redis_text(r, "CLIENT LIST TYPE pubsub"), *line = strstr(list, name);
        int live = 0;

        if (line != NULL) {
            char *eol = strchr(line, '\n');
            if (eol != NULL)
                *eol = '\0';
            live = strstr(line, " cmd=ping ") != NULL;
        }
        free(list);
        if (live)
            return;
        usleep(10000);
    }
    fail_msg("vsd %d: revocation subscription not live after 20 s", (int)pid);
}

#endif
