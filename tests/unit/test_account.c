/* test_account.c — account field rules (docs/users.md): email normalised and validated, password
 * 8..1024 bytes, display name 1..64 characters of valid UTF-8, errors naming the field. */
#include "testsupport.h"

#include <string.h>

#include "account.h"

static vs_status norm(const char *in, char out[ACCOUNT_EMAIL_MAX + 1], char *err, size_t errlen)
{
    return account_normalize_email(in, out, ACCOUNT_EMAIL_MAX + 1, err, errlen);
}

static void test_email_is_trimmed_and_lower_cased(void **state)
{
    char out[ACCOUNT_EMAIL_MAX + 1], err[128];

    assert_int_equal(norm("  Alice.Smith+Video@Example.COM \t\n", out, err, sizeof err), VS_OK);
    assert_string_equal(out, "alice.smith+video@example.com");
    assert_int_equal(norm("o'brien@sub.example.co.kr", out, err, sizeof err), VS_OK);
    assert_string_equal(out, "o'brien@sub.example.co.kr");
}

static void test_malformed_email_is_invalid_argument_naming_email(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "a@@b.com",
        "a@b@c.com",
        "a b@example.com",
        "alice@example",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a@example..com",
        "a@1.2.3.4",
        "\"q\"@example.com",
        "caf\xc3\xa9@example.com",
        "a(b)@example.com",
        "a@example.com.",
    };
    char out[ACCOUNT_EMAIL_MAX + 1], err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (norm(bad[i], out, err, sizeof err) != VS_INVALID_ARGUMENT)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(strncmp(err, "email: ", 7) == 0);
    }
}

static void test_email_length_limits(void **state)
{
    char in[400], out[ACCOUNT_EMAIL_MAX + 1], err[128];

    /* 64-character local part is the maximum, 65 is refused */
    memset(in, 'a', 64);
    strcpy(in + 64, "@example.com");
    assert_int_equal(norm(in, out, err, sizeof err), VS_OK);
    memset(in, 'a', 65);
    strcpy(in + 65, "@example.com");
    assert_int_equal(norm(in, out, err, sizeof err), VS_INVALID_ARGUMENT);
    /* 254 characters in all is the maximum */
    memset(in, 0, sizeof in);
    strcpy(in, "a@");
    while (strlen(in) + 50 <= 254 - 4) {
        memset(in + strlen(in), 'x', 49);
        strcat(in, ".");
    }
    while (strlen(in) < 254 - 4)
        strcat(in, "y");
    strcat(in, ".com");
    assert_int_equal(strlen(in), 254);
    assert_int_equal(norm(in, out, err, sizeof err), VS_OK);
    memmove(in + 1, in, strlen(in) + 1);
    assert_int_equal(strlen(in), 255);
    assert_int_equal(norm(in, out, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_password_is_8_to_1024_bytes(void **state)
{
    char pw[1100], err[128];

    memset(pw, 'p', sizeof pw);
    assert_int_equal(account_check_password(pw, 7, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(strncmp(err, "password: ", 10) == 0);
    assert_int_equal(account_check_password(pw, 8, err, sizeof err), VS_OK);
    assert_int_equal(account_check_password(pw, 1024, err, sizeof err), VS_OK);
    assert_int_equal(account_check_password(pw, 1025, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_display_name_counts_characters_not_bytes(void **state)
{
    char name[64 * 4 + 8] = "", err[128];

    /* 64 Hangul syllables (3 bytes each) are 64 characters: allowed; 65 are not */
    for (int i = 0; i < 64; i++)
        strcat(name, "\xea\xb0\x80");
    assert_int_equal(account_utf8_length(name, strlen(name)), 64);
    assert_int_equal(account_check_display_name(name, err, sizeof err), VS_OK);
    strcat(name, "\xea\xb0\x80");
    assert_int_equal(account_check_display_name(name, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(strncmp(err, "display_name: ", 14) == 0);
    /* 4-byte characters (emoji) count as one each */
    assert_int_equal(account_check_display_name("\xf0\x9f\x8e\xac", err, sizeof err), VS_OK);
    assert_int_equal(account_check_display_name("A", err, sizeof err), VS_OK);
}

static void test_display_name_must_be_valid_utf8(void **state)
{
    static const char *const bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* invalid lead */
        "abc\x80",          /* stray continuation */
        "\xe2\x82",         /* truncated */
        "\xff",
    };
    char err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(account_utf8_length(bad[i], strlen(bad[i])), -1);
        assert_int_equal(account_check_display_name(bad[i], err, sizeof err), VS_INVALID_ARGUMENT);
        assert_true(strncmp(err, "display_name: ", 14) == 0);
    }
}

static void test_display_name_empty_blank_or_control_refused(void **state)
{
    char err[128];

    assert_int_equal(account_check_display_name("", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(account_check_display_name("   ", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(account_check_display_name("a\nb", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(account_check_display_name("a\xc2\x85", err, sizeof err),
                     VS_INVALID_ARGUMENT); /* U+0085, a C1 control */
}

static void test_role_names_round_trip(void **state)
{
    assert_int_equal(account_role_parse("viewer"), ACCOUNT_ROLE_VIEWER);
    assert_int_equal(account_role_parse("creator"), ACCOUNT_ROLE_CREATOR);
    assert_int_equal(account_role_parse("admin"), ACCOUNT_ROLE_ADMIN);
    assert_int_equal(account_role_parse("root"), -1);
    assert_string_equal(account_role_name(ACCOUNT_ROLE_ADMIN), "admin");
    assert_int_equal(ACCOUNT_ROLE_VIEWER, VS__V1__ROLE__VIEWER);
    assert_int_equal(ACCOUNT_ROLE_CREATOR, VS__V1__ROLE__CREATOR);
    assert_int_equal(ACCOUNT_ROLE_ADMIN, VS__V1__ROLE__ADMIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_is_trimmed_and_lower_cased),
        cmocka_unit_test(test_malformed_email_is_invalid_argument_naming_email),
        cmocka_unit_test(test_email_length_limits),
        cmocka_unit_test(test_password_is_8_to_1024_bytes),
        cmocka_unit_test(test_display_name_counts_characters_not_bytes),
        cmocka_unit_test(test_display_name_must_be_valid_utf8),
        cmocka_unit_test(test_display_name_empty_blank_or_control_refused),
        cmocka_unit_test(test_role_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
