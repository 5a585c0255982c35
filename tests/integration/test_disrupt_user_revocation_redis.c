/* test_disrupt_user_revocation_redis.c — revocation survives a Redis crash: Redis is
 * killed with SIGKILL right after the log-outs (inside its 1 s AOF fsync window), revoked tokens
 * stay refused while it is down, and after the stack restarts it — even with the revocation keys
 * gone from Redis, as an AOF that lost its last second would leave them — while tokens that were
 * never revoked keep working throughout. Disrupts the shared stack: runs serially. */
#include "user_fixture.h"

#include <signal.h>

#define N_REVOKED 5

static int setup(void **state)
{
    return uf_setup("revoke-redis", NULL);
}

static int redis_port(void)
{
    const char *url = getenv("VS_REDIS"), *colon = url ? strrchr(url, ':') : NULL;

    return colon ? atoi(colon + 1) : -1;
}

/* Deletes the Redis copies of every revocation of user_id (the worst an AOF loss can do). */
static void forget_in_redis(uint64_t user_id)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    int n = 0;

    snprintf(sql, sizeof sql, "SELECT jti FROM auth_revoked_token WHERE user_id = %" PRIu64,
             user_id);
    assert_int_equal(mysql_query(uf.db, sql), 0);
    res = mysql_store_result(uf.db);
    while ((row = mysql_fetch_row(res)) != NULL) {
        assert_int_equal(
            ts_sh("redis-cli -p %d DEL auth:revoked:%s >/dev/null", redis_port(), row[0]), 0);
        n++;
    }
    mysql_free_result(res);
    assert_int_equal(n, N_REVOKED);
}

static void assert_all(char **tokens, int n, int want, const char *when)
{
    for (int i = 0; i < n; i++) {
        int rc = uf_me_with(tokens[i], NULL, 0);
        if (rc != want)
            fail_msg("%s: token %d: %s, want %s", when, i, vs_status_name(rc),
                     vs_status_name(want));
    }
}

static void test_revocation_survives_redis_kill_9_and_restart(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *revoked[N_REVOKED], *live;
    vs_call_status st;
    uint64_t id;
    pid_t before;

    uf_email("crash", email, sizeof email);
    id = uf_signup(c, email);
    live = uf_login(c, email);
    for (int i = 0; i < N_REVOKED; i++)
        revoked[i] = uf_login(c, email);
    assert_all(revoked, N_REVOKED, VS_OK, "before logout");
    for (int i = 0; i < N_REVOKED; i++) {
        vs_client_set_token(c, revoked[i]);
        assert_int_equal(vs_user_logout(c, &st), VS_OK);
    }
    before = ts_stack_pid("redis/redis");
    ts_kill_redis(); /* within a second of the last SET: the AOF may not have it */

    assert_all(revoked, N_REVOKED, VS_UNAUTHENTICATED, "Redis down");
    assert_int_equal(uf_me_with(live, NULL, 0), VS_OK);

    ts_restart_redis(before);
    forget_in_redis(id);
    assert_all(revoked, N_REVOKED, VS_UNAUTHENTICATED, "after restart, keys lost");
    assert_int_equal(uf_me_with(live, NULL, 0), VS_OK);
    /* long-lived connections too: each vsd worker reconnected and reloaded */
    for (int i = 0; i < 20; i++) {
        vs_user *me = NULL;
        vs_client_set_token(c, revoked[i % N_REVOKED]);
        assert_int_equal(vs_user_me(c, &me, &st), VS_UNAUTHENTICATED);
    }
    for (int i = 0; i < N_REVOKED; i++)
        free(revoked[i]);
    free(live);
    vs_client_close(c);
}

/* Logging out while Redis is down cannot reach Redis (UNAVAILABLE: "retry"), but the primary
 * already holds the revocation, so the token is refused at once and after Redis returns. */
static void test_logout_while_redis_is_down_still_revokes(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token;
    vs_call_status st;
    pid_t before = ts_stack_pid("redis/redis");

    uf_email("down", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    ts_kill_redis();
    assert_int_equal(vs_user_logout(c, &st), VS_UNAVAILABLE);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_UNAUTHENTICATED);
    ts_restart_redis(before);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_UNAUTHENTICATED);
    /* the retried log-out now completes */
    vs_client_set_token(c, token);
    assert_int_equal(vs_user_logout(c, &st), VS_OK);
    free(token);
    vs_client_close(c);
}

/* whatever happened above, leave the shared stack running for the tests after this one */
static int teardown(void **state)
{
    ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"), VS_SOURCE_DIR);
    return uf_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revocation_survives_redis_kill_9_and_restart),
        cmocka_unit_test(test_logout_while_redis_is_down_still_revokes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
