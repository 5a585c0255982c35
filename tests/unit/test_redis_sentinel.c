/* test_redis_sentinel.c — the sentinel list (common/redis.c, redis_sentinel_primary): without
 * VS_REDIS_SENTINELS nothing changes; an entry that is not HOST:PORT is a bad setting named in the
 * error, with the address untouched; sentinels that do not answer are UNAVAILABLE, the address kept
 * (the connect then tries the last one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "redis.h"

static redis_addr addr(void)
{
    redis_addr a;

    memset(&a, 0, sizeof a);
    strcpy(a.host, "127.0.0.1");
    a.port = 6379;
    return a;
}

static void test_no_setting_changes_nothing(void **state)
{
    redis_addr a = addr();
    char err[256];

    (void)state;
    unsetenv("VS_REDIS_SENTINELS");
    assert_int_equal(redis_sentinels_configured(), 0);
    assert_int_equal(redis_sentinel_primary(&a, err, sizeof err), VS_OK);
    assert_int_equal(a.port, 6379);
}

static void test_malformed_entry_is_a_bad_setting(void **state)
{
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:0", ":26379", "127.0.0.1:x",
                                      "127.0.0.1:70000"};
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redis_addr a = addr();

        setenv("VS_REDIS_SENTINELS", bad[i], 1);
        assert_int_equal(redis_sentinel_primary(&a, err, sizeof err), VS_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "VS_REDIS_SENTINELS"));
        assert_int_equal(a.port, 6379);
    }
}

static void test_no_sentinel_answering_is_unavailable(void **state)
{
    redis_addr a = addr();
    char err[256];

    (void)state;
    /* port 1 on loopback: nothing listens, the connect is refused at once */
    setenv("VS_REDIS_SENTINELS", "127.0.0.1:1,127.0.0.1:1", 1);
    assert_int_equal(redis_sentinels_configured(), 1);
    assert_int_equal(redis_sentinel_primary(&a, err, sizeof err), VS_UNAVAILABLE);
    assert_non_null(strstr(err, "none of the 2 sentinels"));
    assert_int_equal(a.port, 6379);
    assert_string_equal(a.host, "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_setting_changes_nothing),
        cmocka_unit_test(test_malformed_entry_is_a_bad_setting),
        cmocka_unit_test(test_no_sentinel_answering_is_unavailable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
