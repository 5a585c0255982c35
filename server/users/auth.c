/* auth.c — the token secret and lifetime, issuing tokens, and auth_require() for every
 * authenticated method. Revocation lives in revocation.c. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "revocation.h"
#include "token.h"
#include "token_auth.h"
#include "token_cache.h"

/* Set once by auth_init before the server starts; read-only afterwards. */
static struct {
    token_secrets secrets; /* signs with the current one; the previous one only verifies */
    int64_t ttl_s;
    token_cache *tokens; /* verified tokens by their text (VS_TOKEN_CACHE slots) */
} auth_cfg;

vs_status auth_init(char *err, size_t errlen)
{
    int64_t cache_slots;
    token_keys keys;
    char previous[128] = "";
    vs_status rc;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return VS_INTERNAL;
    }
    rc = config_get_int("VS_TOKEN_TTL_S", 3600, 60, 86400, &auth_cfg.ttl_s, err, errlen);
    if (rc == VS_OK)
        rc = config_get_int("VS_TOKEN_CACHE", 4096, 0, 1 << 20, &cache_slots, err, errlen);
    if (rc != VS_OK)
        return rc;
    if ((rc = token_secrets_load(&auth_cfg.secrets, err, errlen)) != VS_OK)
        return rc;
    keys = token_secrets_keys(&auth_cfg.secrets);
    auth_cfg.tokens = token_cache_new_keys(&keys, (size_t)cache_slots);
    if (auth_cfg.tokens == NULL) {
        snprintf(err, errlen, "out of memory for the token cache");
        return VS_RESOURCE_EXHAUSTED;
    }
    if (keys.previous != NULL)
        snprintf(previous, sizeof previous,
                 ", tokens signed with the previous %zu-byte secret from %s still accepted",
                 keys.previous_len, auth_cfg.secrets.previous_source);
    log_info("tokens: HS256, %zu-byte secret from %s%s, lifetime %lld s, %lld verified tokens "
             "remembered",
             keys.current_len, auth_cfg.secrets.current_source, previous, (long long)auth_cfg.ttl_s,
             (long long)cache_slots);
    return VS_OK;
}

void auth_fini(void)
{
    uint64_t hits, misses;

    if (auth_cfg.tokens == NULL)
        return;
    token_cache_counts(auth_cfg.tokens, &hits, &misses);
    log_info("tokens: %llu calls answered from the token cache, %llu verified",
             (unsigned long long)hits, (unsigned long long)misses);
    token_cache_free(auth_cfg.tokens);
    auth_cfg.tokens = NULL;
}

vs_status auth_issue(uint64_t user_id, int role, char **token_out, int64_t *exp_unix_out)
{
    token_claims claims = {0};

    claims.user_id = user_id;
    claims.role = role;
    claims.iat = clock_now_ms() / 1000;
    claims.exp = claims.iat + auth_cfg.ttl_s;
    token_new_jti(claims.jti);
    *exp_unix_out = claims.exp;
    return token_sign(auth_cfg.secrets.current, auth_cfg.secrets.current_len, &claims, token_out);
}

vs_status auth_check(rpc_call *call, int flags, auth_principal *out)
{
    token_claims claims;
    char why[256], err[256];
    int revoked = 0;
    vs_status rc;

    memset(out, 0, sizeof *out);
    rc = token_cache_verify(auth_cfg.tokens, rpc_bearer(call), clock_now_ms() / 1000, &claims, why,
                            sizeof why);
    if (rc != VS_OK) {
        log_debug("%s: token refused: %s", call->method, why);
        rpc_fail(call, VS_UNAUTHENTICATED, AUTH_GENERIC_MESSAGE);
        return VS_UNAUTHENTICATED;
    }
    rc = revocation_check(call->worker, claims.jti, &revoked, err, sizeof err);
    if (rc != VS_OK) {
        vsd_thread *w = call->worker;
        if (!w->blocked) /* else the call is run again on an RPC thread: nothing to report */
            log_warn("%s: cannot check revocation of a token: %s", call->method, err);
        rpc_fail(call, VS_UNAVAILABLE, "cannot check the access token now; retry");
        return VS_UNAVAILABLE;
    }
    if (revoked && !(flags & AUTH_ALLOW_REVOKED)) {
        log_debug("%s: token refused: revoked", call->method);
        rpc_fail(call, VS_UNAUTHENTICATED, AUTH_GENERIC_MESSAGE);
        return VS_UNAUTHENTICATED;
    }
    out->user_id = claims.user_id;
    out->role = claims.role;
    memcpy(out->jti, claims.jti, sizeof claims.jti);
    out->exp_unix = claims.exp;
    return VS_OK;
}

vs_status auth_require(rpc_call *call, auth_principal *out)
{
    return auth_check(call, 0, out);
}
