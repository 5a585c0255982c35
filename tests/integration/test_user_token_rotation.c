/* test_user_token_rotation.c — rotating the token secret without logging everyone out
 * (docs/users.md "Rotating the secret", docs/operations.md): vsd restarted with a new
 * VS_JWT_SECRET and VS_JWT_SECRET_PREVIOUS (or _FILE) set to the old one still accepts tokens the
 * old secret signed, and revokes them as before; without the previous secret they are refused;
 * every token a vsd issues is signed with its current secret alone; a previous secret vsd cannot
 * use (shorter than 32 bytes, a file others can read) stops it from starting, naming the setting.
 *
 * The fixture's vsd is restarted with each configuration (same URL, database and Redis). */
#include "user_fixture.h"

#include <sys/stat.h>

#include "token.h"

#define GENERIC "missing, invalid, expired or revoked access token"
#define OLD_SECRET UF_SECRET
#define NEW_SECRET "rotated-secret-fedcba9876543210fedcba9876543210"

static char previous_file[600]; /* OLD_SECRET in a 0600 file */

static int setup(void **state)
{
    int fd;

    if (uf_setup("rotation", NULL) != 0)
        return -1;
    snprintf(previous_file, sizeof previous_file, "%s/rotation-%d.previous",
             getenv("VS_TEST_HOME") ? getenv("VS_TEST_HOME") : "/tmp", (int)getpid());
    fd = open(previous_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, OLD_SECRET "\n", strlen(OLD_SECRET) + 1) < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    unlink(previous_file);
    return uf_teardown(state);
}

/* Stops the fixture's vsd and starts it again on the same URL with extra settings after the
 * fixture's (VS_JWT_SECRET=OLD_SECRET unless extra sets it again). */
static void restart_vsd(const char *const *extra)
{
    const char *env[24];

    assert_int_equal(ts_stop(uf.vsd), 0);
    uf_vsd_env(env, 24, extra);
    uf.vsd = ts_start_vsd(uf.url, env);
    assert_true(uf.vsd > 0);
}

/* A new account logged in on the running vsd: its token (free) and, if id is not NULL, its id. */
static char *login_new_account(const char *label, uint64_t *id)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token;
    uint64_t user;

    uf_email(label, email, sizeof email);
    user = uf_signup(c, email);
    token = uf_login(c, email);
    vs_client_close(c);
    if (id != NULL)
        *id = user;
    return token;
}

static void assert_refused(const char *token)
{
    char msg[256];

    assert_int_equal(uf_me_with(token, msg, sizeof msg), VS_UNAUTHENTICATED);
    assert_string_equal(msg, GENERIC);
}

static void test_old_token_works_after_restart_with_new_secret_and_previous_old(void **state)
{
    const char *rotated[] = {"VS_JWT_SECRET=" NEW_SECRET, "VS_JWT_SECRET_PREVIOUS=" OLD_SECRET,
                             NULL};
    vs_client *c;
    vs_call_status st;
    char *old_token;

    restart_vsd(NULL);
    old_token = login_new_account("rotation-old", NULL);
    assert_int_equal(uf_me_with(old_token, NULL, 0), VS_OK);
    restart_vsd(rotated);
    assert_int_equal(uf_me_with(old_token, NULL, 0), VS_OK);
    /* revocation is unchanged: logging the old token out refuses it from then on */
    c = ts_client(uf.url, 10000);
    vs_client_set_token(c, old_token);
    assert_int_equal(vs_user_logout(c, &st), VS_OK);
    vs_client_close(c);
    assert_refused(old_token);
    free(old_token);
}

static void test_old_token_refused_after_restart_without_previous(void **state)
{
    const char *new_only[] = {"VS_JWT_SECRET=" NEW_SECRET, NULL};
    char *old_token, *new_token;

    /* nothing the restarted vsd inherits names a previous secret */
    assert_null(getenv("VS_JWT_SECRET_PREVIOUS"));
    assert_null(getenv("VS_JWT_SECRET_PREVIOUS_FILE"));
    restart_vsd(NULL);
    old_token = login_new_account("rotation-unset", NULL);
    assert_int_equal(uf_me_with(old_token, NULL, 0), VS_OK);
    restart_vsd(new_only);
    assert_refused(old_token);
    new_token = login_new_account("rotation-unset-new", NULL);
    assert_int_equal(uf_me_with(new_token, NULL, 0), VS_OK);
    free(old_token);
    free(new_token);
}

/* With the previous secret in a file (VS_JWT_SECRET_PREVIOUS_FILE): old tokens verify, and a new
 * log-in's token verifies under the new secret alone, not under the old one. */
static void test_new_login_is_signed_with_the_new_secret_only(void **state)
{
    char file_env[700];
    const char *rotated[] = {"VS_JWT_SECRET=" NEW_SECRET, file_env, NULL};
    char *old_token, *new_token, err[256];
    token_claims claims;
    uint64_t id;

    snprintf(file_env, sizeof file_env, "VS_JWT_SECRET_PREVIOUS_FILE=%s", previous_file);
    restart_vsd(NULL);
    old_token = login_new_account("rotation-file-old", NULL);
    restart_vsd(rotated);
    assert_int_equal(uf_me_with(old_token, NULL, 0), VS_OK);
    new_token = login_new_account("rotation-file-new", &id);
    assert_int_equal(uf_me_with(new_token, NULL, 0), VS_OK);
    assert_int_equal(token_verify(new_token, (const uint8_t *)NEW_SECRET, strlen(NEW_SECRET),
                                  uf_now_s(), &claims, err, sizeof err),
                     VS_OK);
    assert_int_equal(claims.user_id, id);
    assert_int_equal(token_verify(new_token, (const uint8_t *)OLD_SECRET, strlen(OLD_SECRET),
                                  uf_now_s(), &claims, err, sizeof err),
                     VS_UNAUTHENTICATED);
    assert_string_equal(err, "bad signature");
    free(old_token);
    free(new_token);
}

static void test_vsd_refuses_a_previous_secret_it_cannot_use(void **state)
{
    char out[4096], path[700], short_env[800], loose_env[800];
    const char *short_value[] = {"VS_JWT_SECRET=" NEW_SECRET,
                                 "VS_JWT_SECRET_PREVIOUS=0123456789abcdef0123456789abcde", NULL};
    const char *short_file[] = {"VS_JWT_SECRET=" NEW_SECRET, short_env, NULL};
    const char *loose_file[] = {"VS_JWT_SECRET=" NEW_SECRET, loose_env, NULL};
    int fd;

    assert_int_equal(uf_run_vsd_expecting_exit(short_value, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "VS_JWT_SECRET_PREVIOUS is 31 bytes; at least 32"));
    snprintf(path, sizeof path, "%s.short", previous_file);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, "0123456789\n", 11), 11);
    close(fd);
    snprintf(short_env, sizeof short_env, "VS_JWT_SECRET_PREVIOUS_FILE=%s", path);
    assert_int_equal(uf_run_vsd_expecting_exit(short_file, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "VS_JWT_SECRET_PREVIOUS_FILE"));
    assert_non_null(strstr(out, "is 10 bytes; at least 32"));
    unlink(path);
    /* the old secret itself, in a file others can read */
    assert_int_equal(chmod(previous_file, 0640), 0);
    snprintf(loose_env, sizeof loose_env, "VS_JWT_SECRET_PREVIOUS_FILE=%s", previous_file);
    assert_int_equal(uf_run_vsd_expecting_exit(loose_file, NULL, out, sizeof out), 2);
    assert_non_null(strstr(out, "VS_JWT_SECRET_PREVIOUS_FILE"));
    assert_non_null(strstr(out, "chmod 600"));
    assert_int_equal(chmod(previous_file, 0600), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_token_works_after_restart_with_new_secret_and_previous_old),
        cmocka_unit_test(test_old_token_refused_after_restart_without_previous),
        cmocka_unit_test(test_new_login_is_signed_with_the_new_secret_only),
        cmocka_unit_test(test_vsd_refuses_a_previous_secret_it_cannot_use),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
