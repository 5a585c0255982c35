/* token_auth.h — what every process that accepts vs access tokens shares with vsd, so that a
 * token is judged the same everywhere: the signing secret (read by the same rules) and the
 * durable revocation record on the primary. The stateless checks are token_verify (token.h).
 * vsd adds its pushed revocation set and Redis in front of the primary (server/auth*.c). */
#ifndef VS_TOKEN_AUTH_H
#define VS_TOKEN_AUTH_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The one reply to every refused token: the reason goes to the log only. */
#define TOKEN_REFUSED_MESSAGE "missing, invalid, expired or revoked access token"

#define TOKEN_SECRET_MAX 4096

/* Loads the HMAC secret into key (TOKEN_SECRET_MAX bytes):
 *   VS_JWT_SECRET       the key itself, byte for byte; set-but-empty is refused, not ignored
 *   VS_JWT_SECRET_FILE  used when VS_JWT_SECRET is unset: the file's bytes as-is minus trailing
 *                       whitespace; refused unless a regular file others cannot read
 * *source names where it came from ("VS_JWT_SECRET" or the file's path). VS_FAILED_PRECONDITION
 * (err says why) without a secret or with one shorter than TOKEN_KEY_MIN bytes. */
vs_status token_secret_load(uint8_t key[TOKEN_SECRET_MAX], size_t *keylen, const char **source,
                            char *err, size_t errlen);

/* Whether jti (32 hex digits, from a verified token) is in auth_revoked_token — the truth that
 * Logout writes first. db is a primary connection; its errors are returned (VS_UNAVAILABLE when
 * it is gone, and the caller may reconnect and ask again). */
vs_status token_revoked_on_primary(MYSQL *db, const char *jti, int *revoked, char *err,
                                   size_t errlen);

#endif
