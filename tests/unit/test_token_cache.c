/* test_token_cache.c — common/token_cache.h: a verified token is answered from memory only for
 * the exact same text, with exp and nbf checked again at every call; anything else (an altered
 * signature or payload, an expired or not-yet-valid token, another key) is verified from scratch
 * and refused as token_verify refuses it. */
#include "testsupport.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token_cache.h"

#define NOW 1800000000LL

static const uint8_t key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
#define KEYLEN 64

static char *sign(uint64_t user_id, int64_t exp)
{
    token_claims c = {.user_id = user_id, .role = 1, .iat = NOW - 10, .exp = exp};
    char *token = NULL;

    token_new_jti(c.jti);
    assert_int_equal(token_sign(key, KEYLEN, &c, &token), VS_OK);
    return token;
}

/* A token with an nbf claim (token_sign writes none), signed by hand under key. */
static char *sign_with_nbf(int64_t nbf)
{
    char payload[512], h64[128], p64[768], sig64[64], *out = malloc(1024);
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    snprintf(payload, sizeof payload,
             "{\"iss\":\"vs\",\"sub\":\"7\",\"role\":1,\"jti\":"
             "\"0123456789abcdef0123456789abcdef\",\"iat\":%lld,\"exp\":%lld,\"nbf\":%lld}",
             NOW - 10, NOW + 3600, (long long)nbf);
    sodium_bin2base64(h64, sizeof h64, (const unsigned char *)header, strlen(header),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(p64, sizeof p64, (const unsigned char *)payload, strlen(payload),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, 1024, "%s.%s", h64, p64);
    crypto_auth_hmacsha256_init(&st, key, KEYLEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(sig64, sizeof sig64, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(out, ".");
    strcat(out, sig64);
    return out;
}

static vs_status check(token_cache *c, const char *token, int64_t now, token_claims *out)
{
    char err[256];

    return token_cache_verify(c, token, now, out, err, sizeof err);
}

static void test_same_text_answered_from_memory(void **state)
{
    token_cache *c = token_cache_new(key, KEYLEN, 64);
    char *t = sign(42, NOW + 3600);
    token_claims a, b;
    uint64_t hits, misses;

    assert_int_equal(check(c, t, NOW, &a), VS_OK);
    assert_int_equal(check(c, t, NOW + 1, &b), VS_OK);
    assert_int_equal(check(c, t, NOW + 2, &b), VS_OK);
    token_cache_counts(c, &hits, &misses);
    assert_int_equal(misses, 1);
    assert_int_equal(hits, 2);
    assert_int_equal(b.user_id, 42);
    assert_int_equal(b.role, 1);
    assert_string_equal(b.jti, a.jti);
    assert_int_equal(b.exp, NOW + 3600);
    free(t);
    token_cache_free(c);
}

static void test_expired_refused_even_when_remembered(void **state)
{
    token_cache *c = token_cache_new(key, KEYLEN, 64);
    char *t = sign(7, NOW + 100);
    token_claims out;

    assert_int_equal(check(c, t, NOW, &out), VS_OK);
    /* exp + the 60 s skew is the last second it is good for */
    assert_int_equal(check(c, t, NOW + 160, &out), VS_OK);
    assert_int_equal(check(c, t, NOW + 161, &out), VS_UNAUTHENTICATED);
    assert_int_equal(out.user_id, 0); /* nothing of the refused token is handed out */
    free(t);
    token_cache_free(c);
}

static void test_not_yet_valid_refused_even_when_remembered(void **state)
{
    token_cache *c = token_cache_new(key, KEYLEN, 64);
    char *t = sign_with_nbf(NOW + 30);
    token_claims out;
    uint64_t hits, misses;

    assert_int_equal(check(c, t, NOW, &out), VS_OK); /* within the skew */
    assert_int_equal(out.nbf, NOW + 30);
    assert_int_equal(check(c, t, NOW - 30, &out), VS_OK); /* nbf - 60 s skew */
    assert_int_equal(check(c, t, NOW - 31, &out), VS_UNAUTHENTICATED);
    token_cache_counts(c, &hits, &misses);
    assert_int_equal(hits, 1);
    free(t);
    token_cache_free(c);
}

/* Flipping one character of a remembered token: the signature no longer matches. */
static void test_altered_text_verified_from_scratch(void **state)
{
    token_cache *c = token_cache_new(key, KEYLEN, 64);
    char *t = sign(9, NOW + 3600);
    char *sig_changed = strdup(t), *payload_changed = strdup(t);
    char *dot = strchr(payload_changed, '.');
    size_t last = strlen(sig_changed) - 1;
    token_claims out;
    uint64_t hits, misses;

    sig_changed[last] = sig_changed[last] == 'A' ? 'B' : 'A';
    dot[3] = dot[3] == 'x' ? 'y' : 'x';
    assert_int_equal(check(c, t, NOW, &out), VS_OK);
    assert_int_equal(check(c, sig_changed, NOW, &out), VS_UNAUTHENTICATED);
    assert_int_equal(check(c, payload_changed, NOW, &out), VS_UNAUTHENTICATED);
    /* and the good one is still remembered */
    assert_int_equal(check(c, t, NOW, &out), VS_OK);
    token_cache_counts(c, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 3);
    free(t);
    free(sig_changed);
    free(payload_changed);
    token_cache_free(c);
}

static void test_other_key_refused(void **state)
{
    static const uint8_t other[] =
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    token_cache *mine = token_cache_new(key, KEYLEN, 64), *theirs = token_cache_new(other, 64, 64);
    char *t = sign(5, NOW + 3600);
    token_claims out;

    assert_int_equal(check(mine, t, NOW, &out), VS_OK);
    assert_int_equal(check(theirs, t, NOW, &out), VS_UNAUTHENTICATED);
    free(t);
    token_cache_free(mine);
    token_cache_free(theirs);
}

/* Slots 0: nothing remembered, every call verifies; and garbage is refused either way. */
static void test_without_slots_and_garbage(void **state)
{
    token_cache *c = token_cache_new(key, KEYLEN, 0);
    char *t = sign(3, NOW + 3600);
    token_claims out;
    uint64_t hits, misses;

    assert_int_equal(check(c, t, NOW, &out), VS_OK);
    assert_int_equal(check(c, t, NOW, &out), VS_OK);
    assert_int_equal(check(c, "", NOW, &out), VS_UNAUTHENTICATED);
    assert_int_equal(check(c, NULL, NOW, &out), VS_UNAUTHENTICATED);
    assert_int_equal(check(c, "a.b.c", NOW, &out), VS_UNAUTHENTICATED);
    token_cache_counts(c, &hits, &misses);
    assert_int_equal(hits, 0);
    free(t);
    token_cache_free(c);
}

/* Many tokens through few slots from several threads: every answer is the right user's. */
typedef struct worker_arg {
    token_cache *c;
    char **tokens;
    int n, wrong;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    token_claims out;

    for (int round = 0; round < 200; round++)
        for (int i = 0; i < a->n; i++)
            if (check(a->c, a->tokens[i], NOW, &out) != VS_OK || out.user_id != (uint64_t)i + 1)
                a->wrong++;
    return NULL;
}

static void test_concurrent_colliding(void **state)
{
    enum { N = 24, THREADS = 4 };
    token_cache *c = token_cache_new(key, KEYLEN, 8);
    char *tokens[N];
    pthread_t th[THREADS];
    worker_arg args[THREADS];

    for (int i = 0; i < N; i++)
        tokens[i] = sign((uint64_t)i + 1, NOW + 3600);
    for (int t = 0; t < THREADS; t++) {
        args[t] = (worker_arg){c, tokens, N, 0};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].wrong, 0);
    }
    for (int i = 0; i < N; i++)
        free(tokens[i]);
    token_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_text_answered_from_memory),
        cmocka_unit_test(test_expired_refused_even_when_remembered),
        cmocka_unit_test(test_not_yet_valid_refused_even_when_remembered),
        cmocka_unit_test(test_altered_text_verified_from_scratch),
        cmocka_unit_test(test_other_key_refused),
        cmocka_unit_test(test_without_slots_and_garbage),
        cmocka_unit_test(test_concurrent_colliding),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
