/* test_streaming_repeat_default.c — docs/rules.md "Views": without VS_VIEW_REPEAT_WINDOW_S a
 * counted view holds its (viewer, video) for 30 s. The other streaming suites shorten the window
 * to 2 s so they can wait it out; this one starts vsd with the default and reads the claim's
 * remaining lifetime in Redis instead of waiting 30 s. */
#include "redis.h"
#include "streaming_fixture.h"

#define DEFAULT_WINDOW_MS 30000

static sf_user creator, viewer;
static redis_conn *redis; /* the test's own connection to the stack's Redis */

static int setup(void **state)
{
    char err[256];

    unsetenv("VS_VIEW_REPEAT_WINDOW_S"); /* the default, whatever the caller's environment says */
    if (sf_setup("repeat-default", NULL) != 0)
        return -1;
    if (redis_open(getenv("VS_REDIS"), 20000, &redis, err, sizeof err) != VS_OK) {
        fprintf(stderr, "redis: %s\n", err);
        return -1;
    }
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    return 0;
}

static int teardown(void **state)
{
    redis_close(redis);
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

/* A counted Play's claim `view:{video}:{viewer}` holds the Play's event id and expires 30 s after
 * it was set: its PTTL is at most 30,000 ms and at least 30,000 ms less the time from sending the
 * Play to reading the PTTL (the claim was set in between). */
static void test_counted_view_claims_the_pair_for_30s_by_default(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    const char *event_id = "repeat-default-view-1";
    Vs__V1__PlayResponse *r;
    redisReply *reply = NULL;
    char key[96], err[256], claimed_by[64] = "";
    int64_t sent, read, ttl_ms = -3; /* -3: no integer reply (PTTL: -2 no key, -1 no expiry) */

    snprintf(key, sizeof key, "view:%" PRIu64 ":%" PRIu64, video, viewer.id);
    sent = ts_mono_ms();
    r = sf_play(&viewer, video, event_id);
    assert_true(r->view_counted);
    sf_free(r);
    assert_int_equal(redis_command(redis, &reply, err, sizeof err, "PTTL %s", key), VS_OK);
    read = ts_mono_ms();
    if (reply->type == REDIS_REPLY_INTEGER)
        ttl_ms = reply->integer;
    freeReplyObject(reply);
    assert_int_equal(redis_command(redis, &reply, err, sizeof err, "GET %s", key), VS_OK);
    if (reply->type == REDIS_REPLY_STRING)
        snprintf(claimed_by, sizeof claimed_by, "%s", reply->str);
    freeReplyObject(reply);
    fprintf(stderr, "claim PTTL %lld ms, %lld ms after the Play was sent\n", (long long)ttl_ms,
            (long long)(read - sent));
    assert_string_equal(claimed_by, event_id);
    assert_true(ttl_ms <= DEFAULT_WINDOW_MS);
    assert_true(ttl_ms >= DEFAULT_WINDOW_MS - (read - sent) - 1); /* PTTL rounds down */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counted_view_claims_the_pair_for_30s_by_default),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
