/* test_user_tokens.c — token verification through a real vsd: forged, tampered,
 * expired, premature and revoked tokens are all UNAUTHENTICATED with one generic message; vsd
 * refuses to start with a missing, empty or short secret; a logged-out token is refused every
 * time. The test vsd signs with UF_SECRET, so "signed with the real key" means exactly that. */
#include "user_fixture.h"

#include <fcntl.h>
#include <jwt.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define GENERIC "missing, invalid, expired or revoked access token"
#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static uint64_t user_id; /* a real account, so a well-formed token names someone */

static int setup(void **state)
{
    vs_client *c;
    char email[128];

    if (uf_setup("tokens", NULL) != 0)
        return -1;
    c = ts_client(uf.url, 10000);
    uf_email("tokens", email, sizeof email);
    user_id = uf_signup(c, email);
    vs_client_close(c);
    return sodium_init() < 0 ? -1 : 0;
}

/* Sleeps to just after a second boundary, so a token built from time(NULL) and checked by vsd
 * within a few milliseconds sees the same second there. */
static void align_to_second(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    usleep((useconds_t)((1000000000L - ts.tv_nsec) / 1000 + 20000));
}

static void b64url(const char *in, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, (const unsigned char *)in, strlen(in),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload with an HMAC-SHA256 signature under the server's real secret. */
static char *forge(const char *header, const char *payload)
{
    char h[512], p[1024], sig[64], *out = malloc(2048);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    b64url(header, h, sizeof h);
    b64url(payload, p, sizeof p);
    snprintf(out, 2048, "%s.%s", h, p);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)UF_SECRET, strlen(UF_SECRET));
    crypto_auth_hmacsha256_update(&st, (unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(out, ".");
    strcat(out, sig);
    return out;
}

/* Claims for user_id with a fresh jti; extra is appended inside the object. */
static void claims(char *out, size_t outlen, int with_exp, long long exp, const char *extra)
{
    char jti[33], expfield[48] = "";
    unsigned char raw[16];

    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(jti, sizeof jti, raw, sizeof raw);
    if (with_exp)
        snprintf(expfield, sizeof expfield, ",\"exp\":%lld", exp);
    snprintf(out, outlen,
             "{\"iss\":\"vs\",\"sub\":\"%" PRIu64 "\",\"jti\":\"%s\",\"iat\":%lld%s,\"role\":1%s}",
             user_id, jti, (long long)time(NULL), expfield, extra ? extra : "");
}

static char *libjwt_token(jwt_alg_t alg)
{
    jwt_t *jwt = NULL;
    char sub[24], *text;

    snprintf(sub, sizeof sub, "%" PRIu64, user_id);
    assert_int_equal(jwt_new(&jwt), 0);
    jwt_add_grant(jwt, "iss", "vs");
    jwt_add_grant(jwt, "sub", sub);
    jwt_add_grant(jwt, "jti", "0123456789abcdef0123456789abcdef");
    jwt_add_grant_int(jwt, "iat", (long)time(NULL));
    jwt_add_grant_int(jwt, "exp", (long)time(NULL) + 3600);
    jwt_add_grant_int(jwt, "role", 3);
    assert_int_equal(jwt_set_alg(jwt, alg,
                                 alg == JWT_ALG_NONE ? NULL : (const unsigned char *)UF_SECRET,
                                 alg == JWT_ALG_NONE ? 0 : (int)strlen(UF_SECRET)),
                     0);
    text = jwt_encode_str(jwt);
    jwt_free(jwt);
    return text;
}

/* Me with token must be refused with the generic message. */
static void assert_refused(const char *what, const char *token)
{
    char msg[256];
    int rc = uf_me_with(token, msg, sizeof msg);

    if (rc != VS_UNAUTHENTICATED || strcmp(msg, GENERIC) != 0)
        fail_msg("%s: got %s \"%s\"", what, vs_status_name(rc), msg);
}

static void test_forged_hs256_with_the_real_key_is_accepted_control(void **state)
{
    char payload[512], *token;

    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, NULL);
    token = forge(HS256_HEADER, payload);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_OK);
    free(token);
}

static void test_alg_none_is_unauthenticated(void **state)
{
    char payload[512], *token = libjwt_token(JWT_ALG_NONE), *forged;

    assert_refused("alg none (libjwt)", token);
    free(token);
    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, NULL);
    forged = forge("{\"alg\":\"none\"}", payload); /* even carrying a valid HS256 MAC */
    assert_refused("alg none with MAC", forged);
    free(forged);
}

static void test_hs384_and_hs512_signed_with_the_real_key_are_unauthenticated(void **state)
{
    char *t384 = libjwt_token(JWT_ALG_HS384), *t512 = libjwt_token(JWT_ALG_HS512);

    assert_refused("HS384", t384);
    assert_refused("HS512", t512);
    free(t384);
    free(t512);
}

static void test_rs256_header_is_unauthenticated(void **state)
{
    char payload[512], *token;

    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, NULL);
    token = forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload);
    assert_refused("RS256", token);
    free(token);
}

static void test_tampered_payload_is_unauthenticated(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], payload[512], p64[1024], evil[2048], *token, *dot1, *dot2;

    uf_email("tamper", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_OK);
    /* the real header and signature around a payload that claims admin for another user */
    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, NULL);
    b64url(payload, p64, sizeof p64);
    dot1 = strchr(token, '.');
    dot2 = strchr(dot1 + 1, '.');
    snprintf(evil, sizeof evil, "%.*s%s%s", (int)(dot1 - token + 1), token, p64, dot2);
    assert_refused("tampered payload", evil);
    /* one flipped signature character */
    snprintf(evil, sizeof evil, "%s", token);
    evil[strlen(evil) - 2] = evil[strlen(evil) - 2] == 'A' ? 'B' : 'A';
    assert_refused("tampered signature", evil);
    free(token);
    vs_client_close(c);
}

static void test_exp_61s_in_the_past_is_unauthenticated(void **state)
{
    char payload[512], *old, *recent;

    align_to_second();
    claims(payload, sizeof payload, 1, (long long)time(NULL) - 61, NULL);
    old = forge(HS256_HEADER, payload);
    assert_refused("exp now-61", old);
    claims(payload, sizeof payload, 1, (long long)time(NULL) - 55, NULL);
    recent = forge(HS256_HEADER, payload);
    assert_int_equal(uf_me_with(recent, NULL, 0), VS_OK); /* within the 60 s skew */
    free(old);
    free(recent);
}

static void test_nbf_61s_in_the_future_is_unauthenticated(void **state)
{
    char payload[512], nbf[64], *early, *soon;

    align_to_second();
    snprintf(nbf, sizeof nbf, ",\"nbf\":%lld", (long long)time(NULL) + 61);
    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, nbf);
    early = forge(HS256_HEADER, payload);
    assert_refused("nbf now+61", early);
    snprintf(nbf, sizeof nbf, ",\"nbf\":%lld", (long long)time(NULL) + 55);
    claims(payload, sizeof payload, 1, (long long)time(NULL) + 3600, nbf);
    soon = forge(HS256_HEADER, payload);
    assert_int_equal(uf_me_with(soon, NULL, 0), VS_OK);
    free(early);
    free(soon);
}

static void test_token_without_exp_is_unauthenticated(void **state)
{
    char payload[512], *token;

    claims(payload, sizeof payload, 0, 0, NULL);
    token = forge(HS256_HEADER, payload);
    assert_refused("no exp", token);
    free(token);
}

/* The server's own clock decides: a token lives VS_TOKEN_TTL_S (3600) plus the 60 s skew. */
static void test_issued_token_expires_after_its_lifetime_plus_skew(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token;

    uf_email("expiry", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    uf_clock_set((3600 + 50) * 1000LL);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_OK);
    uf_clock_set((3600 + 62) * 1000LL);
    assert_refused("expired by the server clock", token);
    uf_clock_set(0);
    free(token);
    vs_client_close(c);
}

static void test_revoked_token_is_unauthenticated_100_times_out_of_100(void **state)
{
    vs_client *c = ts_client(uf.url, 10000), *other = ts_client(uf.url, 10000);
    char email[128], what[64];
    vs_call_status st;
    vs_user *me = NULL;

    uf_email("revoke", email, sizeof email);
    uf_signup(c, email);
    for (int i = 0; i < 100; i++) {
        char *token = uf_login(c, email);

        assert_int_equal(uf_me_with(token, NULL, 0), VS_OK);
        assert_int_equal(vs_user_logout(c, &st), VS_OK);
        /* reused on a fresh connection and on a long-lived one (other workers, other conns) */
        snprintf(what, sizeof what, "reuse %d after logout", i);
        assert_refused(what, token);
        vs_client_set_token(other, token);
        assert_int_equal(vs_user_me(other, &me, &st), VS_UNAUTHENTICATED);
        free(token);
    }
    vs_client_close(other);
    vs_client_close(c);
}

static void test_logout_is_idempotent_for_a_retried_call(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token, sql[256], err[256];
    vs_call_status st;
    int64_t rows = 0;

    uf_email("relogout", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    assert_int_equal(vs_user_logout(c, &st), VS_OK);
    vs_client_set_token(c, token); /* as a resent request would carry it */
    assert_int_equal(vs_user_logout(c, &st), VS_OK);
    /* exactly one durable revocation row for the token */
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM auth_revoked_token WHERE user_id = (SELECT id FROM users WHERE "
             "email = '%s')",
             email);
    assert_int_equal(db_query_int(uf.db, sql, &rows, err, sizeof err), VS_OK);
    assert_int_equal(rows, 1);
    free(token);
    vs_client_close(c);
}

static void test_vsd_refuses_to_start_without_a_32_byte_secret(void **state)
{
    static const char *const no_file[] = {"VS_JWT_SECRET_FILE", NULL};
    char out[4096], path[600], empty_env[700], loose_env[700];
    const char *empty[] = {"VS_JWT_SECRET=", NULL};
    const char *short_secret[] = {"VS_JWT_SECRET=0123456789abcdef0123456789abcde", NULL};
    const char *neither[] = {"VS_ENV_FILE=/dev/null", NULL};
    const char *empty_file[] = {empty_env, NULL}, *loose_file[] = {loose_env, NULL};
    int fd;

    assert_int_equal(uf_run_vsd_expecting_exit(empty, no_file, out, sizeof out), 2);
    assert_non_null(strstr(out, "at least 32"));
    assert_int_equal(uf_run_vsd_expecting_exit(short_secret, no_file, out, sizeof out), 2);
    assert_non_null(strstr(out, "is 31 bytes; at least 32"));
    assert_int_equal(uf_run_vsd_expecting_exit(neither, no_file, out, sizeof out), 2);
    assert_non_null(strstr(out, "no token secret"));
    /* an empty secret file (the stack's, truncated) */
    snprintf(path, sizeof path, "%s/empty-%d.secret", getenv("VS_TEST_HOME"), (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    snprintf(empty_env, sizeof empty_env, "VS_JWT_SECRET_FILE=%s", path);
    assert_int_equal(uf_run_vsd_expecting_exit(
                         empty_file, (const char *const[]){"VS_JWT_SECRET", NULL}, out, sizeof out),
                     2);
    assert_non_null(strstr(out, "is 0 bytes; at least 32"));
    /* a good secret in a file others can read */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, UF_SECRET, strlen(UF_SECRET)), (ssize_t)strlen(UF_SECRET));
    close(fd);
    chmod(path, 0644);
    snprintf(loose_env, sizeof loose_env, "VS_JWT_SECRET_FILE=%s", path);
    assert_int_equal(uf_run_vsd_expecting_exit(
                         loose_file, (const char *const[]){"VS_JWT_SECRET", NULL}, out, sizeof out),
                     2);
    assert_non_null(strstr(out, "chmod 600"));
    unlink(path);
}

/* VS_TOKEN_TTL_S is honoured: a vsd configured for 120 s issues tokens that live 120 s. */
static void test_token_lifetime_is_configurable(void **state)
{
    const char *extra[] = {"VS_TOKEN_TTL_S=120", NULL}, *env[24];
    vs_client *c;
    char url[512], email[128];
    vs_call_status st;
    int64_t exp = 0, before;
    pid_t pid;

    ts_ipc_url("tokens-ttl", url, sizeof url);
    uf_vsd_env(env, 24, extra);
    pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    c = ts_client(url, 10000);
    uf_email("ttl", email, sizeof email);
    uf_signup(c, email);
    before = (int64_t)time(NULL);
    assert_int_equal(vs_user_login(c, email, UF_PASSWORD, NULL, &exp, NULL, &st), VS_OK);
    assert_true(exp >= before + 120 && exp <= (int64_t)time(NULL) + 120);
    vs_client_close(c);
    ts_stop(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_hs256_with_the_real_key_is_accepted_control),
        cmocka_unit_test(test_alg_none_is_unauthenticated),
        cmocka_unit_test(test_hs384_and_hs512_signed_with_the_real_key_are_unauthenticated),
        cmocka_unit_test(test_rs256_header_is_unauthenticated),
        cmocka_unit_test(test_tampered_payload_is_unauthenticated),
        cmocka_unit_test(test_exp_61s_in_the_past_is_unauthenticated),
        cmocka_unit_test(test_nbf_61s_in_the_future_is_unauthenticated),
        cmocka_unit_test(test_token_without_exp_is_unauthenticated),
        cmocka_unit_test(test_issued_token_expires_after_its_lifetime_plus_skew),
        cmocka_unit_test(test_revoked_token_is_unauthenticated_100_times_out_of_100),
        cmocka_unit_test(test_logout_is_idempotent_for_a_retried_call),
        cmocka_unit_test(test_vsd_refuses_to_start_without_a_32_byte_secret),
        cmocka_unit_test(test_token_lifetime_is_configurable),
    };
    return cmocka_run_group_tests(tests, setup, uf_teardown);
}
