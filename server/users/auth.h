/* auth.h — access tokens: the one verification function every authenticated method uses.
 *
 * Tokens are JWT HS256 (libjwt 1.10) with sub (user id), jti, iat, exp, iss and a "role" claim.
 * libjwt alone is unsafe (empty key skips the signature, any HS alg is accepted, exp is never
 * checked), so auth_require() checks all of that itself (common/token.h has the stateless rules):
 *   - exactly HS256, signature valid with the configured secret (>= 32 bytes, checked at start-up);
 *   - exp present and exp >= now - 60 s; nbf, if present, <= now + 60 s;
 *   - jti not revoked (Logout); revocations survive a Redis restart. In the steady state this is
 *     an in-memory lookup kept complete by a Redis subscriber thread (revocation.h), no
 *     Redis or DB round trip.
 * Every failure is VS_UNAUTHENTICATED with one generic message (AUTH_GENERIC_MESSAGE); the only
 * other outcome is VS_UNAVAILABLE when neither Redis nor the primary can say whether the token
 * was revoked (fail closed, retryable). docs/users.md explains the revocation design. */
#ifndef VS_AUTH_H
#define VS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "rpc_server.h"
#include "status.h"
#include "token_auth.h"
#include "vsd.h"

#define AUTH_GENERIC_MESSAGE TOKEN_REFUSED_MESSAGE

typedef struct auth_principal {
    uint64_t user_id;
    int role; /* vs.v1.Role at the time the token was issued: 1 viewer, 2 creator, 3 admin */
    char jti[64];
    int64_t exp_unix; /* seconds */
} auth_principal;

/* Loads the secret (VS_JWT_SECRET or the file named by VS_JWT_SECRET_FILE) and token settings.
 * Refuses (VS_FAILED_PRECONDITION, err says why) a secret shorter than 32 bytes. Call once from
 * main before serving.
 *   VS_JWT_SECRET       the key itself, used byte for byte; set-but-empty is refused, not ignored
 *   VS_JWT_SECRET_FILE  used when VS_JWT_SECRET is unset: the file's bytes as-is (tools/stack
 *                       writes 64 hex characters, which are the key; they are not hex-decoded),
 *                       minus trailing whitespace; must not be readable by group or others
 *   VS_JWT_SECRET_PREVIOUS(_FILE)  the secret before a rotation, by the same rules: tokens it
 *                       signed are still accepted until they expire; new tokens are always
 *                       signed with the current secret (token_auth.h)
 *   VS_TOKEN_TTL_S      token lifetime, default 3600, 60..86400 */
vs_status auth_init(char *err, size_t errlen);

/* Logs how often the token cache answered and frees it (after the server stopped). */
void auth_fini(void);

/* Verifies the call's bearer token (call->worker is a vsd_thread). On failure the call is already
 * marked with rpc_fail(VS_UNAUTHENTICATED, ...) and the handler only has to call closure(NULL). */
vs_status auth_require(rpc_call *call, auth_principal *out);

/* auth_require with flags; AUTH_ALLOW_REVOKED accepts a revoked but otherwise valid token (only
 * Logout uses it, so that a retried Logout succeeds instead of failing on its own revocation). */
#define AUTH_ALLOW_REVOKED 1
vs_status auth_check(rpc_call *call, int flags, auth_principal *out);

/* Issues a token for user_id/role; token_out is malloc'd (caller frees). */
vs_status auth_issue(uint64_t user_id, int role, char **token_out, int64_t *exp_unix_out);

#endif
