/* test_user_accounts.c — UserService against the real stack: sign-up rules, argon2id
 * hashes with the production parameters, log-in replies that do not reveal whether an account
 * exists, Me, and the operator's `vsctl admin grant`. */
#include "user_fixture.h"

#include <sys/wait.h>

static int setup(void **state)
{
    return uf_setup("users", NULL);
}

static void test_signup_login_me_round_trip(void **state)
{
    char email[128], upper[160];
    vs_client *c = ts_client(uf.url, 10000);
    vs_user *me = NULL;
    vs_call_status st;
    uint64_t id, login_id = 0;
    int64_t exp = 0;
    char *token = NULL;

    uf_email("roundtrip", email, sizeof email);
    id = uf_signup(c, email);
    assert_true(id > 0);
    /* the email is normalised: a log-in with other case and spaces finds the account */
    snprintf(upper, sizeof upper, "  %s ", email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(vs_user_login(c, upper, UF_PASSWORD, &token, &exp, &login_id, &st), VS_OK);
    assert_int_equal(login_id, id);
    /* default lifetime 1 h (VS_TOKEN_TTL_S unset) */
    assert_true(exp >= uf_now_s() + 3600 - 5 && exp <= uf_now_s() + 3600);
    assert_int_equal(vs_user_me(c, &me, &st), VS_OK);
    assert_int_equal(vs_user_id(me), id);
    assert_string_equal(vs_user_email(me), email);
    assert_string_equal(vs_user_display_name(me), "Test User");
    assert_int_equal(vs_user_role(me), VS_ROLE_VIEWER);
    assert_true(vs_user_created_unix(me) > 1700000000);
    vs_user_free(me);
    free(token);
    vs_client_close(c);
}

static void test_signup_invalid_fields_name_the_field_and_store_nothing(void **state)
{
    static const struct {
        const char *email, *password, *name, *field;
    } cases[] = {
        {"not-an-email", UF_PASSWORD, "N", "email: "},
        {"", UF_PASSWORD, "N", "email: "},
        {"ok@users.test", "short7!", "N", "password: "},
        {"ok@users.test", UF_PASSWORD, "", "display_name: "},
        {"ok@users.test", UF_PASSWORD, "bad \xc0\xaf utf8", "display_name: "},
        {"ok@users.test", UF_PASSWORD,
         "0123456789012345678901234567890123456789012345678901234567890123X", "display_name: "},
    };
    vs_client *c = ts_client(uf.url, 10000);
    char big[1100];
    vs_call_status st;
    int64_t n = -1;
    char err[256];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(
            vs_user_signup(c, cases[i].email, cases[i].password, cases[i].name, NULL, &st),
            VS_INVALID_ARGUMENT);
        if (strncmp(st.message, cases[i].field, strlen(cases[i].field)) != 0)
            fail_msg("case %zu: \"%s\" does not name %s", i, st.message, cases[i].field);
    }
    memset(big, 'p', 1025);
    big[1025] = '\0';
    assert_int_equal(vs_user_signup(c, "ok@users.test", big, "N", NULL, &st), VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "password: ", 10) == 0);
    assert_int_equal(db_query_int(uf.db, "SELECT COUNT(*) FROM users WHERE email='ok@users.test'",
                                  &n, err, sizeof err),
                     VS_OK);
    assert_int_equal(n, 0);
    vs_client_close(c);
}

static void test_password_of_1024_bytes_accepted(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], pw[1025];
    vs_call_status st;

    uf_email("longpw", email, sizeof email);
    memset(pw, 'q', 1024);
    pw[1024] = '\0';
    assert_int_equal(vs_user_signup(c, email, pw, "Long", NULL, &st), VS_OK);
    assert_int_equal(vs_user_login(c, email, pw, NULL, NULL, NULL, &st), VS_OK);
    vs_client_close(c);
}

static void test_existing_email_is_already_exists_whatever_its_case(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], shouted[128];
    vs_call_status st;

    uf_email("dup", email, sizeof email);
    uf_signup(c, email);
    assert_int_equal(vs_user_signup(c, email, "another password", "Other", NULL, &st),
                     VS_ALREADY_EXISTS);
    assert_true(strncmp(st.message, "email: ", 7) == 0);
    snprintf(shouted, sizeof shouted, "%s", email);
    shouted[0] = (char)(shouted[0] - 'a' + 'A');
    assert_int_equal(vs_user_signup(c, shouted, "another password", "Other", NULL, &st),
                     VS_ALREADY_EXISTS);
    vs_client_close(c);
}

static void test_stored_hashes_start_with_argon2id(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], sql[256], hash[256], err[256];

    uf_email("hash", email, sizeof email);
    uf_signup(c, email);
    snprintf(sql, sizeof sql, "SELECT password_hash FROM users WHERE email='%s'", email);
    assert_int_equal(db_query_text(uf.db, sql, hash, sizeof hash, err, sizeof err), VS_OK);
    assert_true(strncmp(hash, "$argon2id$", 10) == 0);
    assert_null(strstr(hash, UF_PASSWORD));
    vs_client_close(c);
}

/* A vsd without the test overrides hashes at no less than m=19 MiB, t=2, p=1 (docs/users.md). */
static void test_production_defaults_meet_the_minimum(void **state)
{
    char url[512], email[128], sql[256], hash[256], err[256];
    const char *env[] = {"VS_JWT_SECRET=" UF_SECRET, "VS_PWHASH_INSECURE_TEST_PARAMS=",
                         "VS_PWHASH_OPSLIMIT=", "VS_PWHASH_MEMLIMIT=", NULL};
    unsigned m = 0, t = 0, p = 0;
    vs_client *c;
    pid_t pid;

    ts_ipc_url("users-defaults", url, sizeof url);
    pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    c = ts_client(url, 20000);
    uf_email("defaults", email, sizeof email);
    uf_signup(c, email);
    snprintf(sql, sizeof sql, "SELECT password_hash FROM users WHERE email='%s'", email);
    assert_int_equal(db_query_text(uf.db, sql, hash, sizeof hash, err, sizeof err), VS_OK);
    assert_int_equal(sscanf(hash, "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &p), 3);
    assert_true(m >= 19 * 1024); /* KiB */
    assert_true(t >= 2);
    assert_int_equal(p, 1);
    vs_client_close(c);
    ts_stop(pid);
}

/* Same request id, same reply bytes: nothing distinguishes "no such account" from "wrong
 * password" (code, message, payload). Both go through a real argon2id verification. */
static void test_unknown_email_and_wrong_password_replies_are_byte_identical(void **state)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    vs_client *c = ts_client(uf.url, 10000);
    char known[128], unknown[128];
    uint8_t *a, *b;
    size_t alen, blen;
    Vs__V1__ResponseEnvelope *env;

    uf_email("known", known, sizeof known);
    uf_email("unknown", unknown, sizeof unknown);
    uf_signup(c, known);
    req.password = "wrong password";
    req.email = known;
    a = uf_raw_call("/vs.v1.UserService/Login", &req.base, NULL, &alen);
    req.email = unknown;
    b = uf_raw_call("/vs.v1.UserService/Login", &req.base, NULL, &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    env = vs__v1__response_envelope__unpack(NULL, alen, a);
    assert_non_null(env);
    assert_int_equal(env->code, VS_UNAUTHENTICATED);
    assert_string_equal(env->message, "invalid email or password");
    assert_int_equal(env->payload.len, 0);
    vs__v1__response_envelope__free_unpacked(env, NULL);
    free(a);
    free(b);
    vs_client_close(c);
}

/* Login and Me read the primary (the replica may lag); see test_disrupt_user_replica_stopped.c
 * for the lag itself. Here: the operator grant, without any admin, shows in Me at once. */
static void test_vsctl_admin_grant_sets_role_without_an_admin(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token;
    vs_user *me = NULL;
    vs_call_status st;

    uf_email("operator", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    assert_int_equal(ts_sh("%s admin grant --email %s --role admin >/dev/null",
                           ts_program("client/vsctl"), email),
                     0);
    assert_int_equal(vs_user_me(c, &me, &st), VS_OK);
    assert_int_equal(vs_user_role(me), VS_ROLE_ADMIN);
    vs_user_free(me);
    assert_int_equal(ts_sh("%s admin grant --email %s --role viewer >/dev/null",
                           ts_program("client/vsctl"), email),
                     0);
    assert_int_equal(vs_user_me(c, &me, &st), VS_OK);
    assert_int_equal(vs_user_role(me), VS_ROLE_VIEWER);
    vs_user_free(me);
    /* unknown email: exit 1; unknown role: usage, exit 2 */
    assert_int_equal(ts_sh("%s admin grant --email nobody-%d@users.test --role admin 2>/dev/null",
                           ts_program("client/vsctl"), (int)getpid()),
                     1);
    assert_int_equal(ts_sh("%s admin grant --email %s --role root 2>/dev/null",
                           ts_program("client/vsctl"), email),
                     2);
    free(token);
    vs_client_close(c);
}

static void test_me_without_token_is_unauthenticated(void **state)
{
    char msg[256];

    assert_int_equal(uf_me_with(NULL, msg, sizeof msg), VS_UNAUTHENTICATED);
    assert_string_equal(msg, "missing, invalid, expired or revoked access token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_login_me_round_trip),
        cmocka_unit_test(test_signup_invalid_fields_name_the_field_and_store_nothing),
        cmocka_unit_test(test_password_of_1024_bytes_accepted),
        cmocka_unit_test(test_existing_email_is_already_exists_whatever_its_case),
        cmocka_unit_test(test_stored_hashes_start_with_argon2id),
        cmocka_unit_test(test_production_defaults_meet_the_minimum),
        cmocka_unit_test(test_unknown_email_and_wrong_password_replies_are_byte_identical),
        cmocka_unit_test(test_vsctl_admin_grant_sets_role_without_an_admin),
        cmocka_unit_test(test_me_without_token_is_unauthenticated),
    };
    return cmocka_run_group_tests(tests, setup, uf_teardown);
}
