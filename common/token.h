/* token.h — access tokens as JWT HS256: signing and the stateless half of verification (pure: no
 * I/O, the time is a parameter, so every rule is unit-tested directly).
 *
 * libjwt 1.10 alone is unsafe: an empty key skips the signature, any algorithm the header names is
 * accepted (including "none"), exp/nbf are never checked, and its HMAC comparison is strcmp (not
 * constant time, CVE-2024-25189). token_verify() therefore:
 *   1. refuses keys shorter than TOKEN_KEY_MIN and tokens longer than TOKEN_MAX_LEN;
 *   2. recomputes HMAC-SHA256 over "header.payload" with libsodium and compares it in constant
 *      time before libjwt sees the token (so libjwt's strcmp only ever compares equal strings);
 *      during a secret rotation, under the current key and then the previous one (token_keys);
 *   3. requires the header's alg to be exactly "HS256" (decoded here: libjwt ignores case), then
 *      decodes with libjwt and requires libjwt's idea of the algorithm to be HS256 too;
 *   4. requires iss == "vs", sub a positive decimal user id, jti 32 lowercase hex digits, iat and
 *      exp integers, role 1..3; refuses exp < now - TOKEN_SKEW_S and (if present) nbf > now +
 *      TOKEN_SKEW_S.
 * Revocation (jti) is the caller's business: see server/users/auth.c. */
#ifndef VS_TOKEN_H
#define VS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define TOKEN_ISSUER "vs"
#define TOKEN_KEY_MIN 32   /* bytes of HMAC key */
#define TOKEN_SKEW_S 60    /* clock skew tolerated on exp and nbf */
#define TOKEN_MAX_LEN 2048 /* ours are about 250 bytes */
#define TOKEN_JTI_LEN 32   /* hex digits (128 random bits) */

typedef struct token_claims {
    uint64_t user_id; /* sub */
    int role;         /* vs.v1.Role at issue time */
    char jti[TOKEN_JTI_LEN + 1];
    int64_t iat; /* seconds since the Unix epoch */
    int64_t exp;
    int64_t nbf; /* 0 when the token has none */
} token_claims;

/* Signs claims as an HS256 JWT with iss "vs" (jti must already be TOKEN_JTI_LEN hex digits).
 * *out is malloc'd; the caller frees it. VS_INVALID_ARGUMENT for a short key or bad claims. */
vs_status token_sign(const uint8_t *key, size_t keylen, const token_claims *claims, char **out);

/* A fresh random jti (TOKEN_JTI_LEN lowercase hex digits and a NUL). */
void token_new_jti(char out[TOKEN_JTI_LEN + 1]);

/* The time rules of step 4 alone, for claims verified earlier (token_cache.h): VS_OK while exp
 * and nbf allow now_s, else VS_UNAUTHENTICATED with the reason in err. */
vs_status token_check_times(const token_claims *claims, int64_t now_s, char *err, size_t errlen);

/* Verifies token against key at now_s (see above). VS_OK fills *out; any failure is
 * VS_UNAUTHENTICATED with the precise reason in err, for logs only (never for the client). */
vs_status token_verify(const char *token, const uint8_t *key, size_t keylen, int64_t now_s,
                       token_claims *out, char *err, size_t errlen);

/* The keys a server verifies with: the current one, which signs every token it issues, and while
 * the secret is being rotated the previous one, which only verifies — so a token issued before the
 * rotation keeps working until it expires, and no token is ever signed with it again. */
typedef struct token_keys {
    const uint8_t *current;
    size_t current_len;
    const uint8_t *previous; /* NULL: no rotation under way */
    size_t previous_len;
} token_keys;

/* token_verify under keys: the signature may be the current key's or the previous key's; every
 * other rule is the same whichever key signed. A key shorter than TOKEN_KEY_MIN refuses every
 * token. */
vs_status token_verify_keys(const char *token, const token_keys *keys, int64_t now_s,
                            token_claims *out, char *err, size_t errlen);

#endif
