/* test_streaming_clock_steps.c — a step of the server's wall clock between a Play and its Pause
 * (NTP, an operator, a VM resumed) must not credit time nobody watched: when the same vsd received
 * both, the credited range is bounded by the time its monotonic clock saw pass, + 5 s; the step is
 * counted in Health. The steps are made with vsd's injectable clock (common/clock.h: a step of the
 * wall clock alone, unlike the time the other tests make pass). */
#include "streaming_fixture.h"

static sf_user creator, viewer;

static int setup(void **state)
{
    if (sf_setup("clock-steps", NULL) != 0)
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

/* vsd's Health: how many wall-clock steps it has seen, and the latest one's size. */
static void health_clock_steps(uint64_t *steps, int64_t *last_step_ms)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;

    req.shallow = 1;
    if (vs_client_call_named(viewer.client, &vs__v1__streaming_service__descriptor, "Health",
                             &req.base, (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    *steps = resp->clock_steps;
    *last_step_ms = resp->clock_last_step_ms;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* 0 -> 700 of a 1000 s video with the wall clock stepped 10 minutes forward in between: only the
 * real time (well under a minute here) + 5 s is credited, and no ad break (300, 600) is reached. */
static void test_wall_clock_step_forward_between_play_and_pause_credits_real_time_only(void **state)
{
    uint64_t video = sf_video(&creator, 1000), steps_before, steps_after;
    int64_t last_step_ms, play_sent_ms, real_elapsed_s;
    Vs__V1__PauseResponse *pause;

    health_clock_steps(&steps_before, &last_step_ms);
    play_sent_ms = ts_mono_ms();
    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_step(600 * 1000);
    pause = sf_pause(&viewer, video, 700, NULL);
    /* vsd received both calls within this span of real time */
    real_elapsed_s = (ts_mono_ms() - play_sent_ms) / 1000;

    assert_int_equal(pause->credited_from_s, 0);
    if (pause->watch_s < 5 || pause->watch_s > real_elapsed_s + 5)
        fail_msg("credited %d s for %lld s of real time (allowed 5 to %lld s)", pause->watch_s,
                 (long long)real_elapsed_s, (long long)real_elapsed_s + 5);
    assert_int_equal(pause->credited_to_s, pause->watch_s);
    assert_int_equal(pause->ad_views, 0);
    assert_int_equal(
        sf_db_int("SELECT watch_s FROM play_log WHERE kind=2 AND video_id=%" PRIu64, video),
        pause->watch_s);
    assert_int_equal(
        sf_db_int("SELECT ad_views FROM play_log WHERE kind=2 AND video_id=%" PRIu64, video), 0);
    sf_free(pause);

    health_clock_steps(&steps_after, &last_step_ms);
    assert_int_equal(steps_after, steps_before + 1);
    if (last_step_ms < 599 * 1000 || last_step_ms > 601 * 1000)
        fail_msg("Health: latest step %lld ms, expected +600,000 ms", (long long)last_step_ms);
}

/* Time that really passes is no step: 800 s later, 0 -> 700 is credited in full with 2 ads. */
static void test_time_passing_is_not_a_step_and_is_credited(void **state)
{
    uint64_t video = sf_video(&creator, 1000), steps_before, steps_after;
    int64_t last_step_ms;
    Vs__V1__PauseResponse *pause;

    health_clock_steps(&steps_before, &last_step_ms);
    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(800 * 1000);
    pause = sf_pause(&viewer, video, 700, NULL);
    assert_int_equal(pause->watch_s, 700);
    assert_int_equal(pause->ad_views, 2);
    sf_free(pause);
    health_clock_steps(&steps_after, &last_step_ms);
    assert_int_equal(steps_after, steps_before);
}

/* A step back is counted too (and credits at most the grace, as any clock that went back). */
static void test_wall_clock_step_back_is_counted(void **state)
{
    uint64_t video = sf_video(&creator, 1000), steps_before, steps_after;
    int64_t last_step_ms;
    Vs__V1__PauseResponse *pause;

    health_clock_steps(&steps_before, &last_step_ms);
    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_step(-120 * 1000);
    pause = sf_pause(&viewer, video, 700, NULL);
    assert_int_equal(pause->watch_s, 5);
    assert_int_equal(pause->ad_views, 0);
    sf_free(pause);
    health_clock_steps(&steps_after, &last_step_ms);
    assert_int_equal(steps_after, steps_before + 1);
    if (last_step_ms > -119 * 1000 || last_step_ms < -121 * 1000)
        fail_msg("Health: latest step %lld ms, expected -120,000 ms", (long long)last_step_ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_wall_clock_step_forward_between_play_and_pause_credits_real_time_only),
        cmocka_unit_test(test_time_passing_is_not_a_step_and_is_credited),
        cmocka_unit_test(test_wall_clock_step_back_is_counted),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
