/* throttle.c — per-source call counters in Redis. */
#include "throttle.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

/* INCR, and the expiry when the counter has none (it is new, or lost it somehow): one atomic
 * step, so no counter outlives its window. Returns {count, milliseconds left}. */
static const char throttle_script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "local ttl = redis.call('PTTL', KEYS[1]) "
    "if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end "
    "return {n, ttl}";

vs_status throttle_rule_load(throttle_rule *rule, const char *kind, const char *prefix,
                             int64_t limit, int64_t window_s, char *err, size_t errlen)
{
    char key[64];
    vs_status rc;

    snprintf(rule->kind, sizeof rule->kind, "%s", kind);
    snprintf(key, sizeof key, "%s_PER_SOURCE", prefix);
    rc = config_get_int(key, limit, 0, 1000000, &rule->limit, err, errlen);
    if (rc != VS_OK)
        return rc;
    snprintf(key, sizeof key, "%s_WINDOW_S", prefix);
    return config_get_int(key, window_s, 1, 86400, &rule->window_s, err, errlen);
}

vs_status throttle_take(redis_conn *redis, const throttle_rule *rule, const char *source,
                        int64_t *retry_after_s, char *err, size_t errlen)
{
    char key[160];
    redisReply *reply = NULL;
    vs_status rc;

    *retry_after_s = 0;
    if (rule->limit == 0)
        return VS_OK;
    snprintf(key, sizeof key, THROTTLE_KEY_PREFIX "%s:%s", rule->kind, source);
    rc = redis_command(redis, &reply, err, errlen, "EVAL %s 1 %s %lld", throttle_script, key,
                       (long long)rule->window_s * 1000);
    if (rc != VS_OK)
        return rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis: unexpected reply to the throttle script%s%s",
                 reply->type == REDIS_REPLY_ERROR ? ": " : "",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "");
        freeReplyObject(reply);
        return VS_UNAVAILABLE;
    }
    if (reply->element[0]->integer > rule->limit) {
        *retry_after_s = (reply->element[1]->integer + 999) / 1000;
        if (*retry_after_s < 1)
            *retry_after_s = 1;
        rc = VS_RESOURCE_EXHAUSTED;
    }
    freeReplyObject(reply);
    return rc;
}
