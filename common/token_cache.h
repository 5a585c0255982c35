/* token_cache.h — verified access tokens remembered by their exact text.
 *
 * A client sends the same token on every call until it expires, and verifying one (HMAC, base64,
 * JSON) costs more CPU than the rest of a cached read. The cache belongs to one set of keys (the
 * current one and, during a rotation, the previous one): a token verified under them is
 * remembered byte for byte, and the same text later gets the same claims
 * back with only the time rules (exp, nbf) checked again — nothing else about a token can change
 * while its text does not. A text that differs in any byte (a forged or altered token) is verified
 * from scratch, and only tokens that verify are remembered. Revocation (jti) is checked by the
 * caller on every call, as before (server/users/auth.c).
 *
 * Direct-mapped by a keyed hash of the text (a colliding token replaces the one in its slot),
 * with striped locks; safe to use from any thread. */
#ifndef VS_TOKEN_CACHE_H
#define VS_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "token.h"

typedef struct token_cache token_cache;

/* A cache of `slots` tokens (0: none are remembered, every call verifies) for keys, whose bytes
 * are copied. NULL when out of memory. */
token_cache *token_cache_new_keys(const token_keys *keys, size_t slots);

/* token_cache_new_keys with key as the current key and no previous one. */
token_cache *token_cache_new(const uint8_t *key, size_t keylen, size_t slots);
void token_cache_free(token_cache *c);

/* token_verify_keys(token, keys, ...) with memory (see above). */
vs_status token_cache_verify(token_cache *c, const char *token, int64_t now_s, token_claims *out,
                             char *err, size_t errlen);

/* Calls answered from memory and calls that verified the token, since the cache was made. */
void token_cache_counts(token_cache *c, uint64_t *hits, uint64_t *misses);

#endif
