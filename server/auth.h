/* auth.h — access tokens: the one verification function every authenticated method uses.
 *
 * Tokens are JWT HS256 (libjwt 1.10) with sub (user id), jti, iat, exp, iss and a "role" claim.
 * libjwt alone is unsafe (empty key skips the signature, any HS alg is accepted, exp is never
 * checked), so auth_require() checks all of that itself:
 *   - exactly HS256, signature valid with the configured secret (>= 32 bytes, checked at start-up);
 *   - exp present and exp >= now - 60 s; nbf, if present, <= now + 60 s;
 *   - jti not revoked (Logout); revocations survive a Redis restart.
 * Every failure is VS_UNAUTHENTICATED with one generic message. */
#ifndef VS_AUTH_H
#define VS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "rpc_server.h"
#include "status.h"

typedef struct auth_principal {
    uint64_t user_id;
    int role;        /* vs.v1.Role at the time the token was issued: 1 viewer, 2 creator, 3 admin */
    char jti[64];
    int64_t exp_unix; /* seconds */
} auth_principal;

/* Loads the secret (VS_JWT_SECRET or the file named by VS_JWT_SECRET_FILE) and token settings.
 * Refuses (VS_FAILED_PRECONDITION, err says why) a secret shorter than 32 bytes. Call once from
 * main before serving. */
vs_status auth_init(char *err, size_t errlen);

/* Verifies the call's bearer token (call->worker is a vsd_worker). On failure the call is already
 * marked with rpc_fail(VS_UNAUTHENTICATED, ...) and the handler only has to call closure(NULL). */
vs_status auth_require(rpc_call *call, auth_principal *out);

/* Issues a token for user_id/role; token_out is malloc'd (caller frees). */
vs_status auth_issue(uint64_t user_id, int role, char **token_out, int64_t *exp_unix_out);

#endif
