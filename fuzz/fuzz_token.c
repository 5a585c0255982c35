/* fuzz_token.c — access-token verification (token_verify, common/token.c; token_cache_verify,
 * common/token_cache.c) with the fixed key FUZZ_TOKEN_KEY at the fixed time FUZZ_NOW_S.
 *
 * The first input byte picks how the rest becomes a token:
 *   even: the rest is the token text itself (a forged or mangled token, as a client sends it);
 *   odd:  the rest is "<header JSON>\0<claims JSON>": both are base64url-encoded and signed with
 *         the fixed key, so the header and claims rules are reached with a valid signature.
 *
 * Invariants: a refused token leaves the claims all zero and says why; an accepted one has claims
 * inside the rules (user id > 0, role 1..3, jti 32 lowercase hex digits, exp and nbf within the
 * skew of now), a header whose alg is exactly "HS256" and claims with iss "vs" and sub the user id
 * in decimal (both decoded here, independently of libjwt), is refused under another key, once
 * expired, and with any one character changed; signing its claims again gives a token that verifies
 * to the same claims; the cache gives the same verdict and claims as token_verify, on a first call
 * and on a remembered one. */
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "token.h"
#include "token_cache.h"

#define KEY ((const uint8_t *)FUZZ_TOKEN_KEY)
#define KEYLEN (sizeof FUZZ_TOKEN_KEY - 1)

static token_cache *fuzz_cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (sodium_init() < 0)
        abort();
    fuzz_cache = token_cache_new(KEY, KEYLEN, 64);
    if (fuzz_cache == NULL)
        abort();
    return 0;
}

/* base64url(header) "." base64url(claims) "." base64url(HMAC-SHA256 over the two). */
static char *fuzz_signed_token(const uint8_t *header, size_t hlen, const uint8_t *claims,
                               size_t clen)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t cap = sodium_base64_encoded_len(hlen, v) + sodium_base64_encoded_len(clen, v) +
                 sodium_base64_encoded_len(crypto_auth_hmacsha256_BYTES, v) + 2;
    char *tok = malloc(cap);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t n;

    if (tok == NULL)
        abort();
    sodium_bin2base64(tok, cap, header, hlen, v);
    n = strlen(tok);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, cap - n, claims, clen, v);
    n += strlen(tok + n);
    crypto_auth_hmacsha256_init(&st, KEY, KEYLEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, n);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[n++] = '.';
    sodium_bin2base64(tok + n, cap - n, mac, sizeof mac, v);
    return tok;
}

static int fuzz_is_jti(const char *s)
{
    if (strlen(s) != TOKEN_JTI_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int fuzz_same_claims(const token_claims *a, const token_claims *b)
{
    return a->user_id == b->user_id && a->role == b->role && strcmp(a->jti, b->jti) == 0 &&
           a->iat == b->iat && a->exp == b->exp && a->nbf == b->nbf;
}

/* The JSON object in the base64url part of token that starts at part and ends at '.' or the end;
 * NULL when it is none. Read as token.c reads the header (all its bytes), or with as_c_string as
 * libjwt reads the claims (up to the first NUL byte: a token we signed never holds one). */
static json_t *fuzz_part_json(const char *part, int as_c_string)
{
    const char *dot = strchr(part, '.');
    size_t len = dot ? (size_t)(dot - part) : strlen(part), raw_len = 0;
    char *raw = malloc(len + 1);
    json_t *j = NULL;

    if (raw == NULL)
        abort();
    if (sodium_base642bin((unsigned char *)raw, len, part, len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
        raw[raw_len] = '\0';
        j = as_c_string ? json_loads(raw, 0, NULL) : json_loadb(raw, raw_len, 0, NULL);
    }
    free(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* What token.h promises of an accepted token's header and claims, decoded here. */
static void fuzz_accepted_json(const char *token, const token_claims *c)
{
    json_t *header = fuzz_part_json(token, 0), *claims = fuzz_part_json(strchr(token, '.') + 1, 1);
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    char uid[24];

    snprintf(uid, sizeof uid, "%" PRIu64, c->user_id);
    FUZZ_CHECK(alg != NULL && strcmp(alg, "HS256") == 0, "accepted with alg %s",
               alg ? alg : "(none)");
    FUZZ_CHECK(iss != NULL && strcmp(iss, "vs") == 0, "accepted with iss %s", iss ? iss : "(none)");
    FUZZ_CHECK(sub != NULL && strcmp(sub, uid) == 0, "accepted sub %s as user %s",
               sub ? sub : "(none)", uid);
    json_decref(header);
    json_decref(claims);
}

static void fuzz_accepted(const char *token, const token_claims *c)
{
    static const uint8_t other[] = "another-key-0123456789abcdef-0123456789";
    token_claims again, zero = {0};
    char err[256], *copy, *resigned = NULL;
    size_t len = strlen(token);

    FUZZ_CHECK(c->user_id > 0, "user id 0 accepted");
    FUZZ_CHECK(c->role >= 1 && c->role <= 3, "role %d accepted", c->role);
    FUZZ_CHECK(fuzz_is_jti(c->jti), "jti \"%s\" accepted", c->jti);
    FUZZ_CHECK(c->exp >= FUZZ_NOW_S - TOKEN_SKEW_S, "expired token accepted (exp %lld)",
               (long long)c->exp);
    FUZZ_CHECK(c->nbf == 0 || c->nbf <= FUZZ_NOW_S + TOKEN_SKEW_S, "future token accepted");
    FUZZ_CHECK(len <= TOKEN_MAX_LEN, "token of %zu bytes accepted", len);
    fuzz_accepted_json(token, c);

    FUZZ_CHECK(token_verify(token, other, sizeof other - 1, FUZZ_NOW_S, &again, err, sizeof err) !=
                       VS_OK &&
                   memcmp(&again, &zero, sizeof zero) == 0,
               "accepted under another key");
    if (c->exp < INT64_MAX - TOKEN_SKEW_S - 1)
        FUZZ_CHECK(token_verify(token, KEY, KEYLEN, c->exp + TOKEN_SKEW_S + 1, &again, err,
                                sizeof err) != VS_OK,
                   "accepted once expired");

    /* one character changed: position and replacement from the token's own length */
    copy = strdup(token);
    if (copy == NULL)
        abort();
    for (size_t i = 0; i < len; i += 1 + len / 7) {
        char was = copy[i];

        copy[i] = was == 'A' ? 'B' : 'A';
        FUZZ_CHECK(token_verify(copy, KEY, KEYLEN, FUZZ_NOW_S, &again, err, sizeof err) != VS_OK,
                   "accepted with byte %zu changed from '%c'", i, was);
        copy[i] = was;
    }
    free(copy);

    /* our own signer agrees (it does not write nbf, and refuses exp <= iat) */
    if (c->nbf == 0 && c->exp > c->iat) {
        FUZZ_CHECK(token_sign(KEY, KEYLEN, c, &resigned) == VS_OK,
                   "claims accepted but unsignable");
        FUZZ_CHECK(token_verify(resigned, KEY, KEYLEN, FUZZ_NOW_S, &again, err, sizeof err) ==
                           VS_OK &&
                       fuzz_same_claims(c, &again),
                   "re-signed token verifies differently: %s", err);
        free(resigned);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    token_claims claims, cached, zero = {0};
    char err[256] = "", cache_err[256];
    char *token;
    vs_status rc;

    if (size == 0)
        return 0;
    if (data[0] & 1) {
        const uint8_t *sep = memchr(data + 1, '\0', size - 1);
        size_t hlen = sep ? (size_t)(sep - data - 1) : size - 1;

        token = sep ? fuzz_signed_token(data + 1, hlen, sep + 1, size - 2 - hlen)
                    : fuzz_signed_token(data + 1, hlen, (const uint8_t *)"", 0);
    } else {
        token = malloc(size);
        if (token == NULL)
            abort();
        memcpy(token, data + 1, size - 1);
        token[size - 1] = '\0';
    }
    rc = token_verify(token, KEY, KEYLEN, FUZZ_NOW_S, &claims, err, sizeof err);
    if (rc == VS_OK) {
        fuzz_accepted(token, &claims);
    } else {
        FUZZ_CHECK(rc == VS_UNAUTHENTICATED, "refused with status %d", (int)rc);
        FUZZ_CHECK(err[0] != '\0', "refused without a reason");
        FUZZ_CHECK(memcmp(&claims, &zero, sizeof zero) == 0, "refused token left claims");
    }
    for (int round = 0; round < 2; round++) {
        vs_status crc =
            token_cache_verify(fuzz_cache, token, FUZZ_NOW_S, &cached, cache_err, sizeof cache_err);

        FUZZ_CHECK(crc == rc, "cache says %d, token_verify %d (round %d)", (int)crc, (int)rc,
                   round);
        FUZZ_CHECK(rc != VS_OK || fuzz_same_claims(&claims, &cached), "cache changed the claims");
    }
    free(token);
    return 0;
}
