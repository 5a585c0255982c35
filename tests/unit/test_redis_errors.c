/* test_redis_errors.c — which Redis error replies a caller may retry (common/redis.c): a Redis that
 * cannot serve now but will is UNAVAILABLE, any other error reply is INTERNAL. */
#include "testsupport.h"

#include <string.h>

#include "redis.h"

/* The error replies of a Redis that is restarting, busy, or a replica: retry later. */
static void test_not_now_replies_are_unavailable(void **state)
{
    static const char *const replies[] = {
        "LOADING Redis is loading the dataset in memory",
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "READONLY You can't write against a read only replica.",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down",
        "NOREPLICAS Not enough good replicas to write.",
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
        "to disk.",
        "OOM command not allowed when used memory > 'maxmemory'.",
        "LOADING",
    };

    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        const char *meaning = NULL;

        assert_int_equal(redis_error_status(replies[i], &meaning), VS_UNAVAILABLE);
        assert_non_null(meaning);
    }
}

/* Errors that are our bug or misconfiguration: no retry will help. */
static void test_other_replies_are_internal(void **state)
{
    static const char *const replies[] = {
        "ERR syntax error",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "NOSCRIPT No matching script. Please use EVAL.",
        "NOAUTH Authentication required.",
        "BUSYKEY Target key name already exists.", /* a word starting with BUSY is not BUSY */
        "LOADINGX not a Redis reply",
        "loading lower case is not the Redis word",
        "",
    };

    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        const char *meaning = "set";

        assert_int_equal(redis_error_status(replies[i], &meaning), VS_INTERNAL);
        assert_null(meaning);
    }
    assert_int_equal(redis_error_status(NULL, NULL), VS_INTERNAL);
}

/* redis_reply_status: a non-error reply is OK; an error reply's message names what Redis said. */
static void test_reply_status_names_the_reply(void **state)
{
    redisReply loading = {.type = REDIS_REPLY_ERROR,
                          .str = "LOADING Redis is loading the dataset in memory"};
    redisReply syntax = {.type = REDIS_REPLY_ERROR, .str = "ERR syntax error"};
    redisReply nil = {.type = REDIS_REPLY_NIL};
    char err[128] = "";

    assert_int_equal(redis_reply_status(&nil, err, sizeof err), VS_OK);
    assert_string_equal(err, "");
    assert_int_equal(redis_reply_status(&loading, err, sizeof err), VS_UNAVAILABLE);
    assert_string_equal(err, "redis: LOADING: Redis is loading its data set");
    assert_int_equal(redis_reply_status(&syntax, err, sizeof err), VS_INTERNAL);
    assert_string_equal(err, "redis: ERR syntax error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_now_replies_are_unavailable),
        cmocka_unit_test(test_other_replies_are_internal),
        cmocka_unit_test(test_reply_status_names_the_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
