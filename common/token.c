/* token.c — HS256 JWT access tokens: libjwt for the format, libsodium for the MAC check. */
#include "token.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAC_LEN crypto_auth_hmacsha256_BYTES

void token_new_jti(char out[TOKEN_JTI_LEN + 1])
{
    unsigned char raw[TOKEN_JTI_LEN / 2];

    if (sodium_init() < 0)
        abort(); /* no usable randomness: nothing safe to do */
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, TOKEN_JTI_LEN + 1, raw, sizeof raw);
}

static int token_is_jti(const char *s)
{
    if (s == NULL || strlen(s) != TOKEN_JTI_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

vs_status token_sign(const uint8_t *key, size_t keylen, const token_claims *claims, char **out)
{
    jwt_t *jwt = NULL;
    char sub[24];
    vs_status rc = VS_INVALID_ARGUMENT;

    *out = NULL;
    if (keylen < TOKEN_KEY_MIN || keylen > INT32_MAX || claims->user_id == 0 ||
        !token_is_jti(claims->jti) || claims->exp <= claims->iat)
        return VS_INVALID_ARGUMENT;
    snprintf(sub, sizeof sub, "%" PRIu64, claims->user_id);
    if (jwt_new(&jwt) != 0)
        return VS_RESOURCE_EXHAUSTED;
    if (jwt_add_grant(jwt, "iss", TOKEN_ISSUER) != 0 || jwt_add_grant(jwt, "sub", sub) != 0 ||
        jwt_add_grant(jwt, "jti", claims->jti) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)claims->iat) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)claims->exp) != 0 ||
        jwt_add_grant_int(jwt, "role", claims->role) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen) != 0)
        goto out;
    *out = jwt_encode_str(jwt);
    rc = *out != NULL ? VS_OK : VS_RESOURCE_EXHAUSTED;
out:
    jwt_free(jwt);
    return rc;
}

/* Constant-time check of the HS256 signature over token[0..dot2) (header "." payload). */
static int token_mac_ok(const char *token, size_t dot2, const char *sig, const uint8_t *key,
                        size_t keylen)
{
    unsigned char want[TOKEN_MAC_LEN], got[TOKEN_MAC_LEN + 1];
    crypto_auth_hmacsha256_state st;
    size_t got_len = 0;
    const char *end = NULL;
    int ok;

    if (sodium_base642bin(got, sizeof got, sig, strlen(sig), NULL, &got_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end == NULL || *end != '\0' || got_len != TOKEN_MAC_LEN)
        return 0;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, dot2);
    crypto_auth_hmacsha256_final(&st, want);
    ok = sodium_memcmp(want, got, TOKEN_MAC_LEN) == 0;
    sodium_memzero(&st, sizeof st);
    return ok;
}

/* An integer claim; -1 when absent, -2 when present but not a JSON integer. */
static int token_int_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);

    if (v == NULL)
        return -1;
    if (!json_is_integer(v))
        return -2;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

vs_status token_check_times(const token_claims *claims, int64_t now_s, char *err, size_t errlen)
{
    if (claims->exp < now_s - TOKEN_SKEW_S) {
        snprintf(err, errlen, "expired %lld s ago", (long long)(now_s - claims->exp));
        return VS_UNAUTHENTICATED;
    }
    if (claims->nbf != 0 && claims->nbf > now_s + TOKEN_SKEW_S) {
        snprintf(err, errlen, "not valid for another %lld s", (long long)(claims->nbf - now_s));
        return VS_UNAUTHENTICATED;
    }
    return VS_OK;
}

/* Checks the decoded claims (see token.h, step 4). */
static vs_status token_check_claims(json_t *claims, int64_t now_s, token_claims *out, char *err,
                                    size_t errlen)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    int64_t nbf = 0, role = 0;
    char *end;
    unsigned long long uid;

    if (iss == NULL || strcmp(iss, TOKEN_ISSUER) != 0) {
        snprintf(err, errlen, "iss missing or not \"%s\"", TOKEN_ISSUER);
        return VS_UNAUTHENTICATED;
    }
    if (sub == NULL || sub[0] < '1' || sub[0] > '9' || strlen(sub) > 20) {
        snprintf(err, errlen, "sub missing or not a user id");
        return VS_UNAUTHENTICATED;
    }
    errno = 0;
    uid = strtoull(sub, &end, 10);
    if (errno != 0 || *end != '\0' || uid == 0) {
        snprintf(err, errlen, "sub is not a user id");
        return VS_UNAUTHENTICATED;
    }
    if (!token_is_jti(jti)) {
        snprintf(err, errlen, "jti missing or malformed");
        return VS_UNAUTHENTICATED;
    }
    if (token_int_claim(claims, "exp", &out->exp) != 0) {
        snprintf(err, errlen, "exp missing or not an integer");
        return VS_UNAUTHENTICATED;
    }
    switch (token_int_claim(claims, "nbf", &nbf)) {
    case -2:
        snprintf(err, errlen, "nbf not an integer");
        return VS_UNAUTHENTICATED;
    case 0:
        out->nbf = nbf;
        break;
    default:
        out->nbf = 0;
        break;
    }
    if (token_check_times(out, now_s, err, errlen) != VS_OK)
        return VS_UNAUTHENTICATED;
    if (token_int_claim(claims, "iat", &out->iat) != 0) {
        snprintf(err, errlen, "iat missing or not an integer");
        return VS_UNAUTHENTICATED;
    }
    if (token_int_claim(claims, "role", &role) != 0 || role < 1 || role > 3) {
        snprintf(err, errlen, "role missing or out of range");
        return VS_UNAUTHENTICATED;
    }
    out->user_id = uid;
    out->role = (int)role;
    memcpy(out->jti, jti, TOKEN_JTI_LEN + 1);
    return VS_OK;
}

/* The JOSE header's alg, decoded by us: exactly "HS256" (libjwt matches alg names ignoring case).
 */
static int token_header_ok(const char *token, size_t header_len)
{
    unsigned char raw[512];
    size_t raw_len = 0;
    const char *end = NULL;
    json_t *header;
    int ok;

    if (sodium_base642bin(raw, sizeof raw - 1, token, header_len, NULL, &raw_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != token + header_len)
        return 0;
    header = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    ok = json_is_object(header) && json_string_value(json_object_get(header, "alg")) != NULL &&
         strcmp(json_string_value(json_object_get(header, "alg")), "HS256") == 0;
    json_decref(header);
    return ok;
}

static int token_key_ok(const uint8_t *key, size_t keylen)
{
    return key != NULL && keylen >= TOKEN_KEY_MIN && keylen <= INT32_MAX;
}

vs_status token_verify(const char *token, const uint8_t *key, size_t keylen, int64_t now_s,
                       token_claims *out, char *err, size_t errlen)
{
    const token_keys keys = {.current = key, .current_len = keylen};

    return token_verify_keys(token, &keys, now_s, out, err, errlen);
}

vs_status token_verify_keys(const char *token, const token_keys *keys, int64_t now_s,
                            token_claims *out, char *err, size_t errlen)
{
    const char *dot1, *dot2;
    const uint8_t *key;
    size_t len, keylen;
    jwt_t *jwt = NULL;
    char *claims_text = NULL;
    json_t *claims = NULL;
    vs_status rc = VS_UNAUTHENTICATED;

    memset(out, 0, sizeof *out);
    if (!token_key_ok(keys->current, keys->current_len) ||
        (keys->previous != NULL && !token_key_ok(keys->previous, keys->previous_len))) {
        snprintf(err, errlen, "server key shorter than %d bytes", TOKEN_KEY_MIN);
        return VS_UNAUTHENTICATED;
    }
    len = token ? strlen(token) : 0;
    if (len == 0 || len > TOKEN_MAX_LEN) {
        snprintf(err, errlen, len ? "token too long" : "no token");
        return VS_UNAUTHENTICATED;
    }
    dot1 = strchr(token, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || dot1 == token || dot2 == dot1 + 1 ||
        strchr(dot2 + 1, '.') != NULL) {
        snprintf(err, errlen, "not a compact JWS");
        return VS_UNAUTHENTICATED;
    }
    /* the key that signed it, if either did: libjwt below decodes under that one */
    key = keys->current;
    keylen = keys->current_len;
    if (!token_mac_ok(token, (size_t)(dot2 - token), dot2 + 1, key, keylen)) {
        key = keys->previous;
        keylen = keys->previous_len;
        if (key == NULL || !token_mac_ok(token, (size_t)(dot2 - token), dot2 + 1, key, keylen)) {
            snprintf(err, errlen, "bad signature");
            return VS_UNAUTHENTICATED;
        }
    }
    if (!token_header_ok(token, (size_t)(dot1 - token))) {
        snprintf(err, errlen, "header alg is not exactly HS256");
        return VS_UNAUTHENTICATED;
    }
    if (jwt_decode(&jwt, token, key, (int)keylen) != 0 || jwt == NULL) {
        snprintf(err, errlen, "libjwt refused the token");
        goto out;
    }
    /* the MAC above is HMAC-SHA256; a header naming anything else (none, HS512, RS256) is a
     * token we did not issue, whatever libjwt made of it */
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        const char *alg = jwt_alg_str(jwt_get_alg(jwt));
        snprintf(err, errlen, "alg is %s, not HS256", alg ? alg : "unknown");
        goto out;
    }
    claims_text = jwt_get_grants_json(jwt, NULL);
    claims = claims_text ? json_loads(claims_text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(claims)) {
        snprintf(err, errlen, "claims are not a JSON object");
        goto out;
    }
    rc = token_check_claims(claims, now_s, out, err, errlen);
out:
    if (rc != VS_OK)
        memset(out, 0, sizeof *out);
    json_decref(claims);
    free(claims_text);
    jwt_free(jwt);
    return rc;
}
