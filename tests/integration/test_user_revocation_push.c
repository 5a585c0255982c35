/* test_user_revocation_push.c — revocations pushed to every vsd (docs/users.md, "Pushed
 * revocations"): a Logout on one vsd is refused by another on the very next call; a vsd whose
 * subscription is live checks tokens without any Redis round trip, while one running with
 * VS_AUTH_REVOCATION_PUSH=0 makes one per call (the control that shows the counter counts).
 *
 * Three vsd processes on the test stack: A (the user fixture's), B (push on), C (push off). */
#include "revocation_fixture.h"

#include <vs/stats.h>

#define ROUNDS 50
#define CALLS 200

static struct {
    char url_b[512], url_c[512];
    pid_t vsd_b, vsd_c;
    redis_conn *redis;
} rp;

static int setup(void **state)
{
    static const char *const push_off[] = {"VS_AUTH_REVOCATION_PUSH=0", NULL};

    if (uf_setup("revoke-push-a", NULL) != 0)
        return -1;
    rp.vsd_b = rf_start_vsd("revoke-push-b", NULL, rp.url_b, sizeof rp.url_b);
    rp.vsd_c = rf_start_vsd("revoke-push-c", push_off, rp.url_c, sizeof rp.url_c);
    rp.redis = rf_redis();
    rf_wait_push_live(rp.redis, uf.vsd);
    rf_wait_push_live(rp.redis, rp.vsd_b);
    return 0;
}

static int teardown(void **state)
{
    ts_stop(rp.vsd_b);
    ts_stop(rp.vsd_c);
    redis_close(rp.redis);
    return uf_teardown(state);
}

/* Logout waits until its PUBLISH has been written to every subscriber, and a check declines to
 * answer from memory while anything unapplied sits in its subscriber socket: so B refuses the
 * token on the first call after A's Logout returned, every time. */
static void test_logout_on_one_vsd_is_refused_by_another_on_the_next_call(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128];

    uf_email("push-next", email, sizeof email);
    uf_signup(c, email);
    for (int i = 0; i < ROUNDS; i++) {
        char *token = uf_login(c, email);

        if (rf_me_at(rp.url_b, token) != VS_OK)
            fail_msg("round %d: B refused the token before the log-out", i);
        assert_int_equal(rf_logout_at(uf.url, token), VS_OK);
        if (rf_me_at(rp.url_b, token) != VS_UNAUTHENTICATED)
            fail_msg("round %d of %d: B accepted a token A had revoked", i, ROUNDS);
        assert_int_equal(rf_me_at(uf.url, token), VS_UNAUTHENTICATED);
        free(token);
    }
    vs_client_close(c);
}

/* A vsd without the subscription still learns of the revocation, through Redis. */
static void test_logout_is_refused_by_a_vsd_checking_through_redis(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128];

    uf_email("push-off", email, sizeof email);
    uf_signup(c, email);
    for (int i = 0; i < 10; i++) {
        char *token = uf_login(c, email);

        assert_int_equal(rf_me_at(rp.url_c, token), VS_OK);
        assert_int_equal(rf_logout_at(rp.url_b, token), VS_OK);
        assert_int_equal(rf_me_at(rp.url_c, token), VS_UNAUTHENTICATED);
        assert_int_equal(rf_me_at(uf.url, token), VS_UNAUTHENTICATED);
        free(token);
    }
    vs_client_close(c);
}

/* CALLS authenticated calls on url with one client; how many revocation round trips Redis
 * counted meanwhile (other vsds on the shared stack may add a few). */
static int64_t round_trips_for_calls(const char *url, const char *token)
{
    vs_client *c = ts_client(url, 10000);
    int64_t before = rf_check_round_trips(rp.redis);

    vs_client_set_token(c, token);
    for (int i = 0; i < CALLS; i++) {
        vs_user *u = NULL;
        vs_call_status st;
        assert_int_equal(vs_user_me(c, &u, &st), VS_OK);
        vs_user_free(u);
    }
    vs_client_close(c);
    return rf_check_round_trips(rp.redis) - before;
}

static void test_live_subscription_checks_tokens_without_a_redis_round_trip(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], *token;
    int64_t push_on, push_off;

    uf_email("push-cost", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    push_off = round_trips_for_calls(rp.url_c, token);
    push_on = round_trips_for_calls(rp.url_b, token);
    /* the control: a vsd that checks through Redis makes one EXISTS per call */
    print_message("revocation round trips for %d calls: push off %lld, push on %lld\n", CALLS,
                  (long long)push_off, (long long)push_on);
    if (push_off < CALLS)
        fail_msg("push off: %lld round trips for %d calls, want >= %d", (long long)push_off, CALLS,
                 CALLS);
    /* the subscription live: none of its own (a margin for other tests' vsds on the stack) */
    if (push_on >= CALLS / 4)
        fail_msg("push on: %lld round trips for %d calls, want < %d", (long long)push_on, CALLS,
                 CALLS / 4);
    free(token);
    vs_client_close(c);
}

/* GetTopVideos with token on url (a read: vsd may run it inline in nng's callback): the status. */
static int top_videos_at(const char *url, const char *token)
{
    vs_client *c = ts_client(url, 10000);
    Vs__V1__TopVideos *top = NULL;
    vs_call_status st = {0};
    int rc;

    vs_client_set_token(c, token);
    rc = vs_top_videos(c, VS__V1__PERIOD__DAY, "2026-01-05", VS__V1__METRIC__VIEWS,
                       VS__V1__SCOPE__MINE, 5, &top, &st);
    if (top != NULL)
        protobuf_c_message_free_unpacked(&top->base, NULL);
    vs_client_close(c);
    return rc;
}

/* Reads may run inline in nng's callback, where there is no Redis connection: with the
 * subscription live (B) the check needs none; without it (C) the check asks for one and the call
 * is run again on a worker thread. Either way: accepted before the log-out, refused after. */
static void test_reads_check_tokens_with_and_without_push(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    const char *urls[] = {rp.url_b, rp.url_c};
    char email[128], *token;

    uf_email("push-inline", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    for (int i = 0; i < 2; i++) {
        int rc = top_videos_at(urls[i], token);
        if (rc == VS_UNAUTHENTICATED || rc == VS_UNAVAILABLE || rc < 0)
            fail_msg("%s: valid token: %s", i ? "C" : "B", vs_status_name(rc));
    }
    assert_int_equal(rf_logout_at(uf.url, token), VS_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(top_videos_at(urls[i], token), VS_UNAUTHENTICATED);
    free(token);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logout_on_one_vsd_is_refused_by_another_on_the_next_call),
        cmocka_unit_test(test_logout_is_refused_by_a_vsd_checking_through_redis),
        cmocka_unit_test(test_live_subscription_checks_tokens_without_a_redis_round_trip),
        cmocka_unit_test(test_reads_check_tokens_with_and_without_push),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
