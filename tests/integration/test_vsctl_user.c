/* test_vsctl_user.c — `vsctl user ...` end to end: passwords from standard input only
 * (never argv), the token kept in $XDG_CONFIG_HOME/vs/token with mode 0600, --json on every
 * command, and a logged-out token refused even when put back by hand. */
#include "user_fixture.h"

#include <jansson.h>
#include <sys/stat.h>

static char xdg[600], token_path[700], out_path[700];

static int setup(void **state)
{
    if (uf_setup("vsctl-user", NULL) != 0)
        return -1;
    snprintf(xdg, sizeof xdg, "%s/xdg-%d", getenv("VS_TEST_HOME"), (int)getpid());
    snprintf(token_path, sizeof token_path, "%s/vs/token", xdg);
    snprintf(out_path, sizeof out_path, "%s.out", xdg);
    return 0;
}

static int teardown(void **state)
{
    ts_sh("rm -rf '%s' '%s'", xdg, out_path);
    return uf_teardown(state);
}

/* Runs vsctl with args (a shell fragment) against the fixture's vsd, stdout to out_path. */
static int vsctl(const char *stdin_text, const char *args)
{
    return ts_sh("printf '%s' | XDG_CONFIG_HOME='%s' %s --url '%s' %s >'%s'",
                 stdin_text ? stdin_text : "", xdg, ts_program("client/vsctl"), uf.url, args,
                 out_path);
}

static json_t *output_json(void)
{
    json_error_t e;
    json_t *j = json_load_file(out_path, 0, &e);

    if (j == NULL)
        fail_msg("vsctl output is not JSON: %s", e.text);
    return j;
}

static void test_signup_login_whoami_logout_with_json(void **state)
{
    char email[128], args[512], saved[4096];
    struct stat st;
    json_t *j;
    FILE *f;
    size_t n;
    json_int_t id;

    uf_email("cli", email, sizeof email);
    snprintf(args, sizeof args, "--json user signup --email %s --name 'Cli User' --password-stdin",
             email);
    assert_int_equal(vsctl(UF_PASSWORD "\\n", args), 0);
    j = output_json();
    id = json_integer_value(json_object_get(j, "user_id"));
    assert_true(id > 0);
    json_decref(j);

    snprintf(args, sizeof args, "user login --email %s --password-stdin --json", email);
    assert_int_equal(vsctl(UF_PASSWORD "\\n", args), 0);
    j = output_json();
    assert_int_equal(json_integer_value(json_object_get(j, "user_id")), id);
    assert_string_equal(json_string_value(json_object_get(j, "token_file")), token_path);
    json_decref(j);
    assert_int_equal(stat(token_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f = fopen(token_path, "r");
    n = fread(saved, 1, sizeof saved - 1, f);
    saved[n] = '\0';
    fclose(f);
    assert_int_equal(uf_me_with(saved, NULL, 0), VS_OK);

    assert_int_equal(vsctl(NULL, "--json user whoami"), 0);
    j = output_json();
    assert_int_equal(json_integer_value(json_object_get(j, "id")), id);
    assert_string_equal(json_string_value(json_object_get(j, "email")), email);
    assert_string_equal(json_string_value(json_object_get(j, "display_name")), "Cli User");
    assert_string_equal(json_string_value(json_object_get(j, "role")), "viewer");
    json_decref(j);

    assert_int_equal(vsctl(NULL, "user logout --json"), 0);
    j = output_json();
    assert_true(json_is_true(json_object_get(j, "revoked")));
    json_decref(j);
    assert_int_not_equal(stat(token_path, &st), 0); /* forgotten */

    /* the same token put back by hand is refused: it was revoked, not just deleted */
    f = fopen(token_path, "w");
    fputs(saved, f);
    fclose(f);
    chmod(token_path, 0600);
    assert_int_equal(vsctl(NULL, "--json user whoami"), 1);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "status")),
                        "UNAUTHENTICATED");
    json_decref(j);
    unlink(token_path);
}

static void test_password_is_never_an_argument(void **state)
{
    char email[128], args[512];

    uf_email("argv", email, sizeof email);
    snprintf(args, sizeof args, "user signup --email %s --password " UF_PASSWORD " 2>/dev/null",
             email);
    assert_int_equal(vsctl(NULL, args), 2);
    snprintf(args, sizeof args, "user login --email %s --password=" UF_PASSWORD " 2>/dev/null",
             email);
    assert_int_equal(vsctl(NULL, args), 2);
}

static void test_wrong_password_exit_1_with_generic_json_error(void **state)
{
    char email[128], args[512];
    json_t *j, *err;

    uf_email("cli-wrong", email, sizeof email);
    snprintf(args, sizeof args, "user signup --email %s --password-stdin", email);
    assert_int_equal(vsctl(UF_PASSWORD "\\n", args), 0);
    snprintf(args, sizeof args, "--json user login --email %s --password-stdin", email);
    assert_int_equal(vsctl("not the password\\n", args), 1);
    j = output_json();
    err = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(err, "status")), "UNAUTHENTICATED");
    assert_string_equal(json_string_value(json_object_get(err, "message")),
                        "invalid email or password");
    json_decref(j);
}

static void test_token_file_readable_by_others_is_not_used(void **state)
{
    char email[128], args[512];
    struct stat st;

    uf_email("cli-perm", email, sizeof email);
    snprintf(args, sizeof args, "user signup --email %s --password-stdin", email);
    assert_int_equal(vsctl(UF_PASSWORD "\\n", args), 0);
    snprintf(args, sizeof args, "user login --email %s --password-stdin", email);
    assert_int_equal(vsctl(UF_PASSWORD "\\n", args), 0);
    assert_int_equal(vsctl(NULL, "user whoami"), 0);
    chmod(token_path, 0644);
    assert_int_equal(vsctl(NULL, "user whoami 2>/dev/null"), 1);
    assert_int_equal(stat(token_path, &st), 0);
    unlink(token_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_login_whoami_logout_with_json),
        cmocka_unit_test(test_password_is_never_an_argument),
        cmocka_unit_test(test_wrong_password_exit_1_with_generic_json_error),
        cmocka_unit_test(test_token_file_readable_by_others_is_not_used),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
