/* test_disrupt_streaming_redis.c — Play and Pause while Redis is down. Views cannot be counted
 * honestly without the atomic repeat check, and a playback's events must be recorded in the order
 * they happened, so every call that would record something fails UNAVAILABLE and stores nothing
 * (no play_log row, no position change) — also the calls that claim nothing in Redis (a creator's
 * Play of their own video, a Pause with no ad in its credited range). Once Redis is back, the
 * same event ids succeed and count once. Kills the test stack's Redis with SIGKILL, so it runs
 * serially. */
#include <signal.h>

#include "streaming_fixture.h"

static sf_user creator, viewer;

static int setup(void **state)
{
    if (sf_setup("stream-redis", NULL) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    return 0;
}

/* whatever happened, leave the shared stack running for the tests after this one */
static int teardown(void **state)
{
    ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"), VS_SOURCE_DIR);
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

static void test_play_and_pause_unavailable_without_redis_store_nothing(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *play = NULL;
    Vs__V1__PauseResponse *pause = NULL;
    char play_id[33], pause_id[33];
    vs_call_status st;
    int64_t rows;

    /* an open playback at 0, so that a Pause has something to end */
    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(800 * 1000);
    rows = sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video);
    vs_event_id(play_id);
    vs_event_id(pause_id);

    ts_kill_redis();
    assert_int_equal(vs_pause(viewer.client, video, 700, pause_id, &pause, &st), VS_UNAVAILABLE);
    assert_null(pause);
    assert_int_equal(vs_play(viewer.client, video, play_id, &play, &st), VS_UNAVAILABLE);
    assert_null(play);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video),
                     rows);
    assert_true(sf_db_int("SELECT play_started_ms FROM watch_position WHERE video_id=%" PRIu64
                          " AND viewer_id=%" PRIu64,
                          video, viewer.id) > 0);

    assert_int_equal(ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"),
                           VS_SOURCE_DIR),
                     0);
    /* the retries with the same event ids now go through, once */
    pause = sf_pause(&viewer, video, 700, pause_id);
    assert_int_equal(pause->watch_s, 700);
    assert_int_equal(pause->ad_views, 2);
    sf_free(pause);
    play = sf_play(&viewer, video, play_id);
    assert_int_equal(play->resume_position_s, 700);
    sf_free(play);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video),
                     rows + 2);
}

/* The calls that need no claim fail the same way: one rule while Redis is down, whatever the call.
 */
static void test_calls_claiming_nothing_also_unavailable_without_redis_store_nothing(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *play = NULL;
    Vs__V1__PauseResponse *pause = NULL;
    char own_play_id[33], pause_id[33];
    vs_call_status st;
    int64_t rows;

    /* the viewer's playback from 0; its Pause at 100 credits 0-100: no ad break (300) inside */
    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(200 * 1000);
    rows = sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video);
    vs_event_id(own_play_id);
    vs_event_id(pause_id);

    ts_kill_redis();
    assert_int_equal(vs_pause(viewer.client, video, 100, pause_id, &pause, &st), VS_UNAVAILABLE);
    assert_null(pause);
    assert_non_null(strstr(st.message, "Redis is unreachable"));
    assert_int_equal(vs_play(creator.client, video, own_play_id, &play, &st), VS_UNAVAILABLE);
    assert_null(play);
    assert_non_null(strstr(st.message, "Redis is unreachable"));
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video),
                     rows);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM watch_position WHERE video_id=%" PRIu64
                               " AND viewer_id=%" PRIu64,
                               video, creator.id),
                     0);
    assert_true(sf_db_int("SELECT play_started_ms FROM watch_position WHERE video_id=%" PRIu64
                          " AND viewer_id=%" PRIu64,
                          video, viewer.id) > 0);

    assert_int_equal(ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"),
                           VS_SOURCE_DIR),
                     0);
    pause = sf_pause(&viewer, video, 100, pause_id);
    assert_int_equal(pause->watch_s, 100);
    assert_int_equal(pause->ad_views, 0);
    sf_free(pause);
    play = sf_play(&creator, video, own_play_id);
    assert_false(play->view_counted);
    assert_int_equal(play->reason, VS__V1__NOT_COUNTED_REASON__OWN_VIDEO);
    sf_free(play);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video),
                     rows + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_play_and_pause_unavailable_without_redis_store_nothing),
        cmocka_unit_test(test_calls_claiming_nothing_also_unavailable_without_redis_store_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
