/* throttle.h — per-source limits on the calls that create rows and cost a password hash
 * (SignUp, Login): at most `limit` calls of one kind from one source in a window of `window_s`
 * seconds, counted in Redis so that every vsd shares the count.
 *
 * A fixed window per (kind, source): the first call creates the counter
 * throttle:<kind>:<source> with the window as its expiry; calls past the limit are refused until
 * it expires, and told how long that is. INCR and the expiry are one EVAL, so a counter never
 * lives without an expiry. */
#ifndef VS_THROTTLE_H
#define VS_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "status.h"

#define THROTTLE_KEY_PREFIX "throttle:"

typedef struct throttle_rule {
    char kind[16];    /* "signup", "login": part of the Redis key */
    int64_t limit;    /* calls per window per source; 0 = no limit */
    int64_t window_s; /* 1 .. 86400 */
} throttle_rule;

/* Reads a rule from the environment: <prefix>_PER_SOURCE (0 .. 1,000,000) and
 * <prefix>_WINDOW_S, with the given defaults. VS_INVALID_ARGUMENT naming the key otherwise. */
vs_status throttle_rule_load(throttle_rule *rule, const char *kind, const char *prefix,
                             int64_t limit, int64_t window_s, char *err, size_t errlen);

/* Counts one call of rule's kind from source. VS_OK: within the limit (always, for a rule with
 * no limit). VS_RESOURCE_EXHAUSTED: over it; *retry_after_s (>= 1) is when the window ends.
 * VS_UNAVAILABLE: Redis could not count (err says why); the caller decides. */
vs_status throttle_take(redis_conn *redis, const throttle_rule *rule, const char *source,
                        int64_t *retry_after_s, char *err, size_t errlen);

#endif
