/* coord_auth.c — who may call BatchService: an admin, judged exactly as vsd judges tokens.
 *
 * The token is checked with token_verify_keys (signature, algorithm, issuer, claims, exp and nbf)
 * under the same secrets as vsd's (token_secrets_load: the current one and, during a rotation, the
 * previous one), then its jti against the primary's auth_revoked_token — the record every Logout
 * writes first, and the one vsd itself falls back to.
 * The admin role is the token's role claim and, as for vsd's admin reads, the account's current
 * role on the primary: a demoted admin's token no longer runs the batch. There is no operator
 * role (roles are viewer, creator, admin), so every method but Health needs an admin. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "coord_service.h"
#include "db.h"
#include "log.h"
#include "token.h"
#include "token_auth.h"

#define COORD_ROLE_ADMIN 3

static struct {
    token_secrets secrets;
    token_keys keys; /* the current secret and, during a rotation, the previous one */
} coord_auth;

vs_status coord_auth_init(char *err, size_t errlen)
{
    vs_status rc;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return VS_INTERNAL;
    }
    if ((rc = token_secrets_load(&coord_auth.secrets, err, errlen)) != VS_OK)
        return rc;
    coord_auth.keys = token_secrets_keys(&coord_auth.secrets);
    if (coord_auth.keys.previous != NULL)
        log_info("BatchService needs an admin token (HS256, %zu-byte secret from %s; the "
                 "previous %zu-byte secret from %s still accepted)",
                 coord_auth.keys.current_len, coord_auth.secrets.current_source,
                 coord_auth.keys.previous_len, coord_auth.secrets.previous_source);
    else
        log_info("BatchService needs an admin token (HS256, %zu-byte secret from %s)",
                 coord_auth.keys.current_len, coord_auth.secrets.current_source);
    return VS_OK;
}

static const char *coord_role_name(int role)
{
    return role == 1 ? "viewer" : role == 2 ? "creator" : role == 3 ? "admin" : "none";
}

vs_status coord_require_admin(rpc_call *call, MYSQL *db, uint64_t *admin_id)
{
    const char *bearer = rpc_bearer(call);
    token_claims claims;
    char why[256], sql[128];
    int64_t role = 0;
    int revoked = 0;
    vs_status rc;

    if (bearer == NULL || bearer[0] == '\0') {
        rpc_fail(call, VS_UNAUTHENTICATED,
                 "%s: BatchService needs an admin's access token (log in as an admin)",
                 TOKEN_REFUSED_MESSAGE);
        return VS_UNAUTHENTICATED;
    }
    rc = token_verify_keys(bearer, &coord_auth.keys, clock_now_ms() / 1000, &claims, why,
                           sizeof why);
    if (rc == VS_OK) {
        rc = token_revoked_on_primary(db, claims.jti, &revoked, why, sizeof why);
        if (rc != VS_OK) {
            log_warn("%s: cannot check revocation of a token: %s", call->method, why);
            rpc_fail(call, VS_UNAVAILABLE, "cannot check the access token now; retry");
            return VS_UNAVAILABLE;
        }
        if (revoked) {
            snprintf(why, sizeof why, "revoked");
            rc = VS_UNAUTHENTICATED;
        }
    }
    if (rc != VS_OK) {
        log_info("%s: token refused: %s", call->method, why);
        rpc_fail(call, VS_UNAUTHENTICATED, "%s", TOKEN_REFUSED_MESSAGE);
        return VS_UNAUTHENTICATED;
    }
    if (claims.role == COORD_ROLE_ADMIN) {
        snprintf(sql, sizeof sql, "SELECT role FROM users WHERE id = %" PRIu64, claims.user_id);
        rc = db_query_int(db, sql, &role, why, sizeof why);
        if (rc != VS_OK && rc != VS_NOT_FOUND) {
            rpc_fail(call, rc, "checking the admin role: %s", why);
            return rc;
        }
    }
    if (claims.role != COORD_ROLE_ADMIN || role != COORD_ROLE_ADMIN) {
        log_info("%s: user %" PRIu64 " (token role %s, account role %s) refused", call->method,
                 claims.user_id, coord_role_name(claims.role), coord_role_name((int)role));
        if (claims.role != COORD_ROLE_ADMIN)
            rpc_fail(call, VS_PERMISSION_DENIED,
                     "BatchService needs the admin role; this token is a %s's (log in as an "
                     "admin)",
                     coord_role_name(claims.role));
        else
            rpc_fail(call, VS_PERMISSION_DENIED,
                     "BatchService needs the admin role; this token's account is no longer an "
                     "admin (now %s)",
                     coord_role_name((int)role));
        return VS_PERMISSION_DENIED;
    }
    log_debug("%s: admin %" PRIu64, call->method, claims.user_id);
    if (admin_id != NULL)
        *admin_id = claims.user_id;
    return VS_OK;
}
