/* test_token.c — the stateless token rules (common/token.h, docs/users.md): exactly HS256 with the
 * real key, exp required and not older than now - 60 s, nbf not later than now + 60 s, iss "vs".
 * Tokens are forged here by hand (libsodium MACs, libjwt for HS384/HS512) the way an attacker
 * would. Revocation is tested against the real stack in tests/integration/test_user_tokens.c. */
#include "testsupport.h"

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

#define NOW 1800000000LL

static const uint8_t key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
#define KEYLEN 64

static void b64url(const char *in, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, (const unsigned char *)in, strlen(in),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload signed with HMAC-SHA256 under k (whatever the header claims). */
static char *forge(const char *header, const char *payload, const uint8_t *k, size_t klen)
{
    char h[512], p[1024], *out = malloc(2048), sig[64];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    b64url(header, h, sizeof h);
    b64url(payload, p, sizeof p);
    snprintf(out, 2048, "%s.%s", h, p);
    crypto_auth_hmacsha256_init(&st, k, klen);
    crypto_auth_hmacsha256_update(&st, (unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(out, ".");
    strcat(out, sig);
    return out;
}

static char *claims_json(long long exp, const char *extra)
{
    char *out = malloc(512);

    snprintf(out, 512,
             "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
             "\"iat\":%lld,\"exp\":%lld,\"role\":1%s}",
             NOW - 10, exp, extra ? extra : "");
    return out;
}

static vs_status verify(const char *token)
{
    token_claims c;
    char err[256];

    return token_verify(token, key, KEYLEN, NOW, &c, err, sizeof err);
}

/* A token signed by libjwt with alg and key (NULL for none), with our usual claims. */
static char *libjwt_token(jwt_alg_t alg, const uint8_t *k, int klen)
{
    jwt_t *jwt = NULL;
    char *text;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grant(jwt, "iss", "vs"), 0);
    assert_int_equal(jwt_add_grant(jwt, "sub", "42"), 0);
    assert_int_equal(jwt_add_grant(jwt, "jti", "00112233445566778899aabbccddeeff"), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "iat", NOW - 10), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "exp", NOW + 3600), 0);
    assert_int_equal(jwt_add_grant_int(jwt, "role", 3), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, k, klen), 0);
    text = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(text);
    return text;
}

static void test_issued_token_round_trips(void **state)
{
    token_claims in = {.user_id = 77, .role = 2, .iat = NOW, .exp = NOW + 3600}, out;
    char *token = NULL, err[256];

    token_new_jti(in.jti);
    assert_int_equal(strlen(in.jti), TOKEN_JTI_LEN);
    assert_int_equal(token_sign(key, KEYLEN, &in, &token), VS_OK);
    assert_int_equal(token_verify(token, key, KEYLEN, NOW, &out, err, sizeof err), VS_OK);
    assert_int_equal(out.user_id, 77);
    assert_int_equal(out.role, 2);
    assert_int_equal(out.exp, NOW + 3600);
    assert_string_equal(out.jti, in.jti);
    free(token);
}

static void test_alg_none_refused(void **state)
{
    char *token = libjwt_token(JWT_ALG_NONE, NULL, 0);

    assert_int_equal(verify(token), VS_UNAUTHENTICATED);
    free(token);
}

static void test_hs384_signed_with_the_real_key_refused(void **state)
{
    char *token = libjwt_token(JWT_ALG_HS384, key, KEYLEN);

    assert_int_equal(verify(token), VS_UNAUTHENTICATED);
    free(token);
}

static void test_hs512_signed_with_the_real_key_refused(void **state)
{
    char *token = libjwt_token(JWT_ALG_HS512, key, KEYLEN);

    assert_int_equal(verify(token), VS_UNAUTHENTICATED);
    free(token);
}

static void test_rs256_header_refused_even_with_a_valid_hs256_mac(void **state)
{
    char *payload = claims_json(NOW + 3600, NULL);
    char *token = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, key, KEYLEN);

    assert_int_equal(verify(token), VS_UNAUTHENTICATED);
    free(token);
    free(payload);
}

/* the HMAC-SHA256 check passes; only "exactly HS256 after decoding" stands in the way */
static void test_header_not_hs256_refused_even_with_a_valid_hs256_mac(void **state)
{
    static const char *const headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"HS512\"}",
                                          "{\"alg\":\"HS384\"}", "{\"alg\":\"hs256\"}", "{}"};
    char *payload = claims_json(NOW + 3600, NULL);

    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = forge(headers[i], payload, key, KEYLEN);
        if (verify(token) != VS_UNAUTHENTICATED)
            fail_msg("accepted header %s", headers[i]);
        free(token);
    }
    free(payload);
}

static void test_tampered_payload_refused(void **state)
{
    char *payload = claims_json(NOW + 3600, NULL), *token, *evil, p[1024];
    char *dot1, *dot2;

    token = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key, KEYLEN);
    assert_int_equal(verify(token), VS_OK);
    /* same header and signature, payload claiming to be admin */
    evil = malloc(2048);
    dot1 = strchr(token, '.');
    dot2 = strchr(dot1 + 1, '.');
    b64url("{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
           "\"iat\":1799999990,\"exp\":1800003600,\"role\":3}",
           p, sizeof p);
    snprintf(evil, 2048, "%.*s%s%s", (int)(dot1 - token + 1), token, p, dot2);
    assert_int_equal(verify(evil), VS_UNAUTHENTICATED);
    free(evil);
    free(token);
    free(payload);
}

static void test_exp_61s_in_the_past_refused_60s_accepted(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *p61 = claims_json(NOW - 61, NULL), *p60 = claims_json(NOW - 60, NULL);
    char *t61 = forge(header, p61, key, KEYLEN), *t60 = forge(header, p60, key, KEYLEN);

    assert_int_equal(verify(t61), VS_UNAUTHENTICATED);
    assert_int_equal(verify(t60), VS_OK);
    free(t61);
    free(t60);
    free(p61);
    free(p60);
}

static void test_nbf_61s_in_the_future_refused_60s_accepted(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char extra61[64], extra60[64];

    snprintf(extra61, sizeof extra61, ",\"nbf\":%lld", NOW + 61);
    snprintf(extra60, sizeof extra60, ",\"nbf\":%lld", NOW + 60);
    char *p61 = claims_json(NOW + 3600, extra61), *p60 = claims_json(NOW + 3600, extra60);
    char *t61 = forge(header, p61, key, KEYLEN), *t60 = forge(header, p60, key, KEYLEN);

    assert_int_equal(verify(t61), VS_UNAUTHENTICATED);
    assert_int_equal(verify(t60), VS_OK);
    free(t61);
    free(t60);
    free(p61);
    free(p60);
}

static void test_missing_or_non_integer_exp_refused(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char *const payloads[] = {
        "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1799999990,\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1799999990,\"exp\":\"1800003600\",\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1799999990,\"exp\":1800003600.5,\"role\":1}",
    };

    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *token = forge(header, payloads[i], key, KEYLEN);
        if (verify(token) != VS_UNAUTHENTICATED)
            fail_msg("accepted %s", payloads[i]);
        free(token);
    }
}

static void test_wrong_issuer_subject_jti_or_role_refused(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char *const payloads[] = {
        "{\"iss\":\"other\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1,\"exp\":1800003600,\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"0\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1,\"exp\":1800003600,\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"42x\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1,\"exp\":1800003600,\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"x' OR 1=1 -- \","
        "\"iat\":1,\"exp\":1800003600,\"role\":1}",
        "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"00112233445566778899aabbccddeeff\","
        "\"iat\":1,\"exp\":1800003600,\"role\":9}",
    };

    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *token = forge(header, payloads[i], key, KEYLEN);
        if (verify(token) != VS_UNAUTHENTICATED)
            fail_msg("accepted %s", payloads[i]);
        free(token);
    }
}

static void test_other_key_or_short_key_refused(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const uint8_t other[] = "fedcba9876543210fedcba9876543210";
    char *payload = claims_json(NOW + 3600, NULL), *token;
    token_claims c;
    char err[256];

    token = forge(header, payload, other, 32);
    assert_int_equal(verify(token), VS_UNAUTHENTICATED);
    free(token);
    /* a key under 32 bytes is refused outright, even for a token it signed */
    token = forge(header, payload, key, 31);
    assert_int_equal(token_verify(token, key, 31, NOW, &c, err, sizeof err), VS_UNAUTHENTICATED);
    free(token);
    token = forge(header, payload, (const uint8_t *)"", 0);
    assert_int_equal(token_verify(token, (const uint8_t *)"", 0, NOW, &c, err, sizeof err),
                     VS_UNAUTHENTICATED);
    free(token);
    free(payload);
}

/* During a rotation (token_keys): a token signed with the previous key verifies, with the same
 * rules as under the current key (an expired one is refused, alg none is refused); a key that is
 * neither is refused, and a previous key under 32 bytes refuses every token. */
static void test_previous_key_verifies_with_the_same_rules(void **state)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const uint8_t previous[] = "fedcba9876543210fedcba9876543210";
    static const uint8_t other[] = "00000000000000000000000000000000";
    const token_keys rotating = {key, KEYLEN, previous, 32},
                     short_previous = {key, KEYLEN, previous, 31};
    char *payload = claims_json(NOW + 3600, NULL), *expired = claims_json(NOW - 61, NULL);
    char *by_previous = forge(header, payload, previous, 32);
    char *by_current = forge(header, payload, key, KEYLEN);
    char *by_other = forge(header, payload, other, 32);
    char *expired_by_previous = forge(header, expired, previous, 32);
    char *none_by_previous = forge("{\"alg\":\"none\"}", payload, previous, 32);
    token_claims c;
    char err[256];

    assert_int_equal(token_verify_keys(by_previous, &rotating, NOW, &c, err, sizeof err), VS_OK);
    assert_int_equal(c.user_id, 42);
    assert_int_equal(token_verify_keys(by_current, &rotating, NOW, &c, err, sizeof err), VS_OK);
    assert_int_equal(verify(by_previous), VS_UNAUTHENTICATED); /* no rotation: refused */
    assert_int_equal(token_verify_keys(by_other, &rotating, NOW, &c, err, sizeof err),
                     VS_UNAUTHENTICATED);
    assert_string_equal(err, "bad signature");
    assert_int_equal(token_verify_keys(expired_by_previous, &rotating, NOW, &c, err, sizeof err),
                     VS_UNAUTHENTICATED);
    assert_non_null(strstr(err, "expired"));
    assert_int_equal(token_verify_keys(none_by_previous, &rotating, NOW, &c, err, sizeof err),
                     VS_UNAUTHENTICATED);
    assert_int_equal(token_verify_keys(by_current, &short_previous, NOW, &c, err, sizeof err),
                     VS_UNAUTHENTICATED);
    free(by_previous);
    free(by_current);
    free(by_other);
    free(expired_by_previous);
    free(none_by_previous);
    free(expired);
    free(payload);
}

static void test_malformed_tokens_refused(void **state)
{
    char big[TOKEN_MAX_LEN + 2];
    char *payload = claims_json(NOW + 3600, NULL);
    char *good = forge("{\"alg\":\"HS256\"}", payload, key, KEYLEN), twice[4096];

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(""), VS_UNAUTHENTICATED);
    assert_int_equal(verify("a.b"), VS_UNAUTHENTICATED);
    assert_int_equal(verify("a.b.c.d"), VS_UNAUTHENTICATED);
    assert_int_equal(verify(".."), VS_UNAUTHENTICATED);
    assert_int_equal(verify(big), VS_UNAUTHENTICATED);
    snprintf(twice, sizeof twice, "%s=", good); /* padding is not base64url */
    assert_int_equal(verify(twice), VS_UNAUTHENTICATED);
    assert_int_equal(verify(good), VS_OK);
    free(good);
    free(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_token_round_trips),
        cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_hs384_signed_with_the_real_key_refused),
        cmocka_unit_test(test_hs512_signed_with_the_real_key_refused),
        cmocka_unit_test(test_rs256_header_refused_even_with_a_valid_hs256_mac),
        cmocka_unit_test(test_header_not_hs256_refused_even_with_a_valid_hs256_mac),
        cmocka_unit_test(test_tampered_payload_refused),
        cmocka_unit_test(test_exp_61s_in_the_past_refused_60s_accepted),
        cmocka_unit_test(test_nbf_61s_in_the_future_refused_60s_accepted),
        cmocka_unit_test(test_missing_or_non_integer_exp_refused),
        cmocka_unit_test(test_wrong_issuer_subject_jti_or_role_refused),
        cmocka_unit_test(test_other_key_or_short_key_refused),
        cmocka_unit_test(test_previous_key_verifies_with_the_same_rules),
        cmocka_unit_test(test_malformed_tokens_refused),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
