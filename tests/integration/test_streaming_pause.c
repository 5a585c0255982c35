/* test_streaming_pause.c — docs/rules.md "Playback" and "Ads" through Play/Pause against real
 * MariaDB and Redis: resume positions, the credited range [p0, p0 + min(p1 - p0, elapsed + 5)],
 * ad views per break inside it, and bad input that must change nothing. Elapsed time is made
 * with vsd's injectable clock (VS_TEST_CLOCK_FILE), so nothing here waits. */
#include "streaming_fixture.h"

static sf_user creator, viewer;

static int setup(void **state)
{
    if (sf_setup("pause", NULL) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    return 0;
}

static int teardown(void **state)
{
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

/* Play (must resume at 0), advance the clock, Pause at p1. */
static Vs__V1__PauseResponse *play_then_pause(sf_user *u, uint64_t video, int64_t elapsed_ms,
                                              int32_t p1)
{
    Vs__V1__PlayResponse *play = sf_play(u, video, NULL);

    sf_free(play);
    sf_clock_advance(elapsed_ms);
    return sf_pause(u, video, p1, NULL);
}

static void test_resume_position_returned(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *r = sf_play(&viewer, video, NULL);

    assert_int_equal(r->resume_position_s, 0); /* nothing saved yet */
    sf_free(r);
    sf_clock_advance(200 * 1000);
    sf_free(sf_pause(&viewer, video, 120, NULL));
    r = sf_play(&viewer, video, NULL);
    assert_int_equal(r->resume_position_s, 120);
    sf_free(r);
    /* watched to the end: the next Play starts over */
    sf_clock_advance(1000 * 1000);
    sf_free(sf_pause(&viewer, video, 1000, NULL));
    r = sf_play(&viewer, video, NULL);
    assert_int_equal(r->resume_position_s, 0);
    sf_free(r);
}

static void test_ads_0_to_700_with_elapsed_time_two_ad_views(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = play_then_pause(&viewer, video, 800 * 1000, 700);

    assert_int_equal(p->credited_from_s, 0);
    assert_int_equal(p->credited_to_s, 700);
    assert_int_equal(p->watch_s, 700);
    assert_int_equal(p->ad_views, 2); /* breaks at 300 and 600 */
    sf_free(p);
    assert_int_equal(
        sf_db_int("SELECT ad_views FROM play_log WHERE kind=2 AND video_id=%" PRIu64, video), 2);
    assert_int_equal(
        sf_db_int("SELECT watch_s FROM play_log WHERE kind=2 AND video_id=%" PRIu64, video), 700);
}

static void test_ads_250_to_299_none(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p;

    /* get to 250 first */
    sf_free(play_then_pause(&viewer, video, 300 * 1000, 250));
    p = play_then_pause(&viewer, video, 100 * 1000, 299);
    assert_int_equal(p->credited_from_s, 250);
    assert_int_equal(p->credited_to_s, 299);
    assert_int_equal(p->watch_s, 49);
    assert_int_equal(p->ad_views, 0);
    sf_free(p);
}

static void test_claim_700s_10s_after_play_credits_15s_no_ads(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = play_then_pause(&viewer, video, 10 * 1000, 700);

    assert_int_equal(p->credited_from_s, 0);
    assert_int_equal(p->credited_to_s, 15);
    assert_int_equal(p->watch_s, 15);
    assert_int_equal(p->ad_views, 0);
    sf_free(p);
    /* the position sent is stored: the next Play resumes there */
    {
        Vs__V1__PlayResponse *r = sf_play(&viewer, video, NULL);

        assert_int_equal(r->resume_position_s, 700);
        sf_free(r);
    }
}

static void test_backward_seek_credits_nothing(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p;

    sf_free(play_then_pause(&viewer, video, 600 * 1000, 500));
    p = play_then_pause(&viewer, video, 600 * 1000, 100);
    assert_int_equal(p->credited_from_s, 500);
    assert_int_equal(p->credited_to_s, 500);
    assert_int_equal(p->watch_s, 0);
    assert_int_equal(p->ad_views, 0);
    sf_free(p);
}

static void test_own_video_ads_not_counted(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = play_then_pause(&creator, video, 800 * 1000, 700);

    assert_int_equal(p->watch_s, 700);
    assert_int_equal(p->ad_views, 0);
    sf_free(p);
}

/* The 30 s repeat rule per (viewer, video, ad position): the same breaks again at once count 0. */
static void test_ad_repeat_within_window_not_counted(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = play_then_pause(&viewer, video, 800 * 1000, 700);

    assert_int_equal(p->ad_views, 2);
    sf_free(p);
    sf_free(play_then_pause(&viewer, video, 1000 * 1000, 1000)); /* to the end: restart at 0 */
    p = play_then_pause(&viewer, video, 800 * 1000, 700);
    assert_int_equal(p->watch_s, 700);
    assert_int_equal(p->ad_views, 0);
    sf_free(p);
}

static void test_bad_positions_change_nothing(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    int32_t bad[] = {-1, 1001, INT32_MAX, INT32_MIN};
    int64_t rows, started;
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;

    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(1000 * 1000);
    rows = sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video);
    started = sf_db_int("SELECT play_started_ms FROM watch_position WHERE video_id=%" PRIu64
                        " AND viewer_id=%" PRIu64,
                        video, viewer.id);
    assert_true(started > 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vs_pause(viewer.client, video, bad[i], NULL, &p, &st),
                         VS_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, "position_s"));
        assert_null(p);
    }
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video),
                     rows);
    assert_int_equal(sf_db_int("SELECT play_started_ms FROM watch_position WHERE video_id=%" PRIu64
                               " AND viewer_id=%" PRIu64,
                               video, viewer.id),
                     started);
    assert_int_equal(sf_db_int("SELECT position_s FROM watch_position WHERE video_id=%" PRIu64
                               " AND viewer_id=%" PRIu64,
                               video, viewer.id),
                     0);
    /* the playback is still open: a good Pause now works */
    p = sf_pause(&viewer, video, 1000, NULL);
    assert_int_equal(p->watch_s, 1000);
    sf_free(p);
}

static void test_pause_without_play_failed_precondition(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;

    assert_int_equal(vs_pause(viewer.client, video, 10, NULL, &p, &st), VS_FAILED_PRECONDITION);
    assert_null(p);
    /* a playback is ended by its Pause: a second Pause has nothing to end */
    sf_free(play_then_pause(&viewer, video, 20 * 1000, 10));
    assert_int_equal(vs_pause(viewer.client, video, 20, NULL, &p, &st), VS_FAILED_PRECONDITION);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 2);
}

static void test_unknown_video_not_found(void **state)
{
    Vs__V1__PlayResponse *r = NULL;
    vs_call_status st;

    assert_int_equal(vs_play(viewer.client, 999999999, NULL, &r, &st), VS_NOT_FOUND);
    assert_non_null(strstr(st.message, "video_id"));
    assert_int_equal(vs_play(viewer.client, 0, NULL, &r, &st), VS_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_position_returned),
        cmocka_unit_test(test_ads_0_to_700_with_elapsed_time_two_ad_views),
        cmocka_unit_test(test_ads_250_to_299_none),
        cmocka_unit_test(test_claim_700s_10s_after_play_credits_15s_no_ads),
        cmocka_unit_test(test_backward_seek_credits_nothing),
        cmocka_unit_test(test_own_video_ads_not_counted),
        cmocka_unit_test(test_ad_repeat_within_window_not_counted),
        cmocka_unit_test(test_bad_positions_change_nothing),
        cmocka_unit_test(test_pause_without_play_failed_precondition),
        cmocka_unit_test(test_unknown_video_not_found),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
