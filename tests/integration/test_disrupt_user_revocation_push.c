/* test_disrupt_user_revocation_push.c — pushed revocations across a Redis crash: a Logout made
 * while Redis is down (so nothing could be published, and the log-out itself answers UNAVAILABLE
 * but is durable in the primary) is refused by every other vsd — while Redis is down (their
 * subscription is not live, they ask the primary), and after Redis is back with the key lost
 * from its AOF: B (push on) from the reload its subscriber makes before going live again, C (push
 * off) from the reload of a new Redis connection. Disrupts the shared stack: runs serially. */
#include "revocation_fixture.h"

#include <signal.h>

static struct {
    char url_b[512], url_c[512];
    pid_t vsd_b, vsd_c;
    redis_conn *redis;
} rd;

static int setup(void **state)
{
    static const char *const push_off[] = {"VS_AUTH_REVOCATION_PUSH=0", NULL};

    if (uf_setup("revoke-push-down-a", NULL) != 0)
        return -1;
    rd.vsd_b = rf_start_vsd("revoke-push-down-b", NULL, rd.url_b, sizeof rd.url_b);
    rd.vsd_c = rf_start_vsd("revoke-push-down-c", push_off, rd.url_c, sizeof rd.url_c);
    rd.redis = rf_redis();
    return 0;
}

/* The jti of the user's only revocation, from the primary. */
static void revoked_jti(uint64_t user_id, char *out, size_t outlen)
{
    char sql[200];
    MYSQL_RES *res;
    MYSQL_ROW row;

    snprintf(sql, sizeof sql, "SELECT jti FROM auth_revoked_token WHERE user_id = %" PRIu64,
             user_id);
    assert_int_equal(mysql_query(uf.db, sql), 0);
    res = mysql_store_result(uf.db);
    assert_int_equal(mysql_num_rows(res), 1);
    row = mysql_fetch_row(res);
    snprintf(out, outlen, "%s", row[0]);
    mysql_free_result(res);
}

static void test_revocation_made_while_redis_was_down_is_refused_by_every_vsd(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], jti[64], del[128], *revoked, *live;
    redisReply *reply = NULL;
    char err[256];
    uint64_t id;
    pid_t before;

    rf_wait_push_live(rd.redis, rd.vsd_b);
    uf_email("push-down", email, sizeof email);
    id = uf_signup(c, email);
    live = uf_login(c, email);
    revoked = uf_login(c, email);
    assert_int_equal(rf_me_at(rd.url_b, revoked), VS_OK);
    assert_int_equal(rf_me_at(rd.url_c, revoked), VS_OK);

    before = ts_stack_pid("redis/redis");
    ts_kill_redis();
    /* durable in the primary, but neither SET nor PUBLISHed: "retry the log-out" */
    assert_int_equal(rf_logout_at(uf.url, revoked), VS_UNAVAILABLE);
    assert_int_equal(rf_me_at(rd.url_b, revoked), VS_UNAUTHENTICATED);
    assert_int_equal(rf_me_at(rd.url_c, revoked), VS_UNAUTHENTICATED);
    assert_int_equal(rf_me_at(rd.url_b, live), VS_OK);
    assert_int_equal(rf_me_at(rd.url_c, live), VS_OK);

    ts_restart_redis(before);
    /* whatever a retry or an old AOF might have left: Redis has no key for this token */
    revoked_jti(id, jti, sizeof jti);
    snprintf(del, sizeof del, "auth:revoked:%s", jti);
    assert_int_equal(redis_command(rd.redis, &reply, err, sizeof err, "DEL %s", del), VS_OK);
    freeReplyObject(reply);
    /* B's subscriber is back: its set answers alone, and has the token from its reload */
    rf_wait_push_live(rd.redis, rd.vsd_b);
    assert_int_equal(rf_me_at(rd.url_b, revoked), VS_UNAUTHENTICATED);
    assert_int_equal(rf_me_at(rd.url_c, revoked), VS_UNAUTHENTICATED);
    assert_int_equal(rf_me_at(uf.url, revoked), VS_UNAUTHENTICATED);
    assert_int_equal(rf_me_at(rd.url_b, live), VS_OK);
    assert_int_equal(rf_me_at(rd.url_c, live), VS_OK);
    free(revoked);
    free(live);
    vs_client_close(c);
}

/* whatever happened above, leave the shared stack running for the tests after this one */
static int teardown(void **state)
{
    ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"), VS_SOURCE_DIR);
    ts_stop(rd.vsd_b);
    ts_stop(rd.vsd_c);
    redis_close(rd.redis);
    return uf_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revocation_made_while_redis_was_down_is_refused_by_every_vsd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
