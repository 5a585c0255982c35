/* token_auth.h — what every process that accepts vs access tokens shares with vsd, so that a
 * token is judged the same everywhere: the signing secrets (read by the same rules) and the
 * durable revocation record on the primary. The stateless checks are token_verify (token.h).
 * vsd adds its pushed revocation set and Redis in front of the primary (server/auth*.c). */
#ifndef VS_TOKEN_AUTH_H
#define VS_TOKEN_AUTH_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "token.h"

/* The one reply to every refused token: the reason goes to the log only. */
#define TOKEN_REFUSED_MESSAGE "missing, invalid, expired or revoked access token"

#define TOKEN_SECRET_MAX 4096

/* The token secrets of a process: the current one signs and verifies, the previous one (during a
 * rotation) only verifies. */
typedef struct token_secrets {
    uint8_t current[TOKEN_SECRET_MAX];
    size_t current_len;
    const char *current_source; /* the setting it came from: "VS_JWT_SECRET" or "..._FILE" */
    uint8_t previous[TOKEN_SECRET_MAX];
    size_t previous_len; /* 0: no previous secret */
    const char *previous_source;
} token_secrets;

/* Loads the secrets into s:
 *   VS_JWT_SECRET       the current key itself, byte for byte; set-but-empty is refused, not
 *                       ignored
 *   VS_JWT_SECRET_FILE  used when VS_JWT_SECRET is unset: the file's bytes as-is minus trailing
 *                       whitespace; refused unless a regular file others cannot read
 *   VS_JWT_SECRET_PREVIOUS, VS_JWT_SECRET_PREVIOUS_FILE
 *                       the previous key, by the same rules; optional (unset: none)
 * VS_FAILED_PRECONDITION (err names the setting and says why) without a current secret or with
 * either one shorter than TOKEN_KEY_MIN bytes; s then holds no key. */
vs_status token_secrets_load(token_secrets *s, char *err, size_t errlen);

/* The keys to verify with, pointing into s. */
token_keys token_secrets_keys(const token_secrets *s);

/* Whether jti (32 hex digits, from a verified token) is in auth_revoked_token — the truth that
 * Logout writes first. db is a primary connection; its errors are returned (VS_UNAVAILABLE when
 * it is gone, and the caller may reconnect and ask again). */
vs_status token_revoked_on_primary(MYSQL *db, const char *jti, int *revoked, char *err,
                                   size_t errlen);

#endif
