/* test_redis_url.c — the Redis address and its password (common/redis.c redis_parse_url):
 * redis://[[user]:password@]host:port, or the password from VS_REDIS_PASSWORD_FILE; a bad address
 * or an unreadable password file is INVALID_ARGUMENT naming it, never showing the password. */
#include "testsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis.h"

static void test_password_in_url_is_parsed_and_decoded(void **state)
{
    redis_addr a;
    char err[256];

    unsetenv("VS_REDIS_PASSWORD_FILE");
    assert_int_equal(redis_parse_url("redis://:s3cr%40t@10.0.0.1:7409", &a, err, sizeof err),
                     VS_OK);
    assert_string_equal(a.host, "10.0.0.1");
    assert_int_equal(a.port, 7409);
    assert_string_equal(a.user, "");
    assert_string_equal(a.password, "s3cr@t");
    assert_int_equal(redis_parse_url("redis://vs:pw@h:1", &a, err, sizeof err), VS_OK);
    assert_string_equal(a.user, "vs");
    assert_string_equal(a.password, "pw");
    assert_string_equal(a.host, "h");
    assert_int_equal(redis_parse_url("127.0.0.1:6380", &a, err, sizeof err), VS_OK);
    assert_string_equal(a.password, "");
    assert_int_equal(a.port, 6380);
}

static void test_password_file_used_when_url_has_none(void **state)
{
    char path[] = "/tmp/vs-redis-pw-XXXXXX", err[256];
    int fd = mkstemp(path);
    redis_addr a;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\n", 10), 10);
    close(fd);
    setenv("VS_REDIS_PASSWORD_FILE", path, 1);
    assert_int_equal(redis_parse_url("redis://h:1", &a, err, sizeof err), VS_OK);
    assert_string_equal(a.password, "from-file");
    /* a password in the URL wins */
    assert_int_equal(redis_parse_url("redis://:inline@h:1", &a, err, sizeof err), VS_OK);
    assert_string_equal(a.password, "inline");
    unlink(path);
    assert_int_equal(redis_parse_url("redis://h:1", &a, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "VS_REDIS_PASSWORD_FILE"));
    assert_non_null(strstr(err, path));
    unsetenv("VS_REDIS_PASSWORD_FILE");
}

static void test_bad_address_names_it_without_the_password(void **state)
{
    redis_addr a;
    char err[256];

    unsetenv("VS_REDIS_PASSWORD_FILE");
    assert_int_equal(redis_parse_url("redis://:hunter2@h:0", &a, err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "is not host:port"));
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(redis_parse_url("redis://hunter2@h:1", &a, err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "[user]:password"));
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(redis_parse_url("", &a, err, sizeof err), VS_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_in_url_is_parsed_and_decoded),
        cmocka_unit_test(test_password_file_used_when_url_has_none),
        cmocka_unit_test(test_bad_address_names_it_without_the_password),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
