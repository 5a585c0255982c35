/* test_playback_rules.c — docs/rules.md "Playback", "Views" and "Ads": credited ranges, ad breaks,
 * resume positions, the repeat rule's window, claim keys and outcomes, and the validation of
 * titles, durations, positions and event ids. */
#include "coretest.h"

#include <string.h>

#include "playback_rules.h"

static char err[256];

static void test_ad_positions_every_300s_below_duration(void **state)
{
    int32_t ads[8];

    assert_int_equal(playback_ad_positions(300, ads, 8), 0); /* no pre-roll, 300 is not < 300 */
    assert_int_equal(playback_ad_positions(301, ads, 8), 1);
    assert_int_equal(ads[0], 300);
    assert_int_equal(playback_ad_positions(600, ads, 8), 1);
    assert_int_equal(playback_ad_positions(1000, ads, 8), 3);
    assert_int_equal(ads[0], 300);
    assert_int_equal(ads[1], 600);
    assert_int_equal(ads[2], 900);
    assert_int_equal(playback_ad_positions(86400, NULL, 0), 287); /* 300 .. 86100 */
    assert_int_equal(PLAYBACK_MAX_ADS, 287);
}

static void test_credit_is_claim_when_elapsed_allows(void **state)
{
    playback_credit c;

    playback_credit_range(0, 700, 800 * 1000, &c);
    assert_int_equal(c.from_s, 0);
    assert_int_equal(c.to_s, 700);
    assert_int_equal(c.watch_s, 700);
}

static void test_credit_capped_at_elapsed_plus_5s(void **state)
{
    playback_credit c;

    /* 0 -> 700 claimed 10 s after Play: 15 s credited */
    playback_credit_range(0, 700, 10 * 1000, &c);
    assert_int_equal(c.from_s, 0);
    assert_int_equal(c.to_s, 15);
    assert_int_equal(c.watch_s, 15);
    /* partial seconds of elapsed time do not count */
    playback_credit_range(100, 700, 10999, &c);
    assert_int_equal(c.to_s, 115);
    /* a clock stepped back counts as no elapsed time: only the 5 s grace */
    playback_credit_range(100, 700, -5000, &c);
    assert_int_equal(c.watch_s, 5);
}

static void test_backward_seek_credits_nothing(void **state)
{
    playback_credit c;

    playback_credit_range(500, 100, 3600 * 1000, &c);
    assert_int_equal(c.from_s, 500);
    assert_int_equal(c.to_s, 500);
    assert_int_equal(c.watch_s, 0);
    playback_credit_range(500, 500, 3600 * 1000, &c);
    assert_int_equal(c.watch_s, 0);
}

/* A wall clock stepped 10 minutes forward between Play and Pause, 4 s of real time apart: one
 * process saw both, so the steady clock's 4 s bound the credit: 9 s, no ad (not 609 s and 2 ads).
 */
static void test_wall_clock_step_forward_credits_steady_time_only(void **state)
{
    int32_t ads[8];
    playback_credit c;
    int64_t elapsed = playback_elapsed_ms(1000000, 1000000 + 604000, 1, 50000, 54000);

    assert_int_equal(elapsed, 4000);
    playback_credit_range(0, 700, elapsed, &c);
    assert_int_equal(c.to_s, 9);
    assert_int_equal(c.watch_s, 9);
    assert_int_equal(playback_ads_in_range(1000, c.from_s, c.to_s, ads, 8), 0);
}

/* Without a step the two clocks agree; the wall clock's time is the elapsed time. */
static void test_elapsed_is_wall_time_when_clocks_agree(void **state)
{
    assert_int_equal(playback_elapsed_ms(1000000, 1800000, 1, 50000, 850000), 800000);
}

/* A Play another process received (or this one before a restart): only the wall clock is known. */
static void test_elapsed_is_wall_time_without_the_plays_steady_instant(void **state)
{
    assert_int_equal(playback_elapsed_ms(1000000, 1604000, 0, 0, 4000), 604000);
}

/* A wall clock stepped back: the smaller (negative) wall time, which credits as 0 s. */
static void test_wall_clock_step_back_credits_as_zero_elapsed(void **state)
{
    playback_credit c;
    int64_t elapsed = playback_elapsed_ms(1000000, 1000000 - 596000, 1, 50000, 54000);

    assert_int_equal(elapsed, -596000);
    playback_credit_range(0, 700, elapsed, &c);
    assert_int_equal(c.watch_s, 5);
}

static void test_ads_counted_in_credited_range_only(void **state)
{
    int32_t ads[8];
    playback_credit c;

    playback_credit_range(0, 700, 800 * 1000, &c);
    assert_int_equal(playback_ads_in_range(1000, c.from_s, c.to_s, ads, 8), 2);
    assert_int_equal(ads[0], 300);
    assert_int_equal(ads[1], 600);
    playback_credit_range(250, 299, 800 * 1000, &c);
    assert_int_equal(playback_ads_in_range(1000, c.from_s, c.to_s, ads, 8), 0);
    playback_credit_range(0, 700, 10 * 1000, &c);
    assert_int_equal(playback_ads_in_range(1000, c.from_s, c.to_s, ads, 8), 0);
}

static void test_ad_at_start_excluded_at_end_included(void **state)
{
    int32_t ads[8];

    /* p0 < ad <= end */
    assert_int_equal(playback_ads_in_range(1000, 300, 600, ads, 8), 1);
    assert_int_equal(ads[0], 600);
    assert_int_equal(playback_ads_in_range(1000, 299, 300, ads, 8), 1);
    assert_int_equal(ads[0], 300);
    assert_int_equal(playback_ads_in_range(1000, 300, 599, ads, 8), 0);
    /* a break at the very end of the video is not a break */
    assert_int_equal(playback_ads_in_range(600, 0, 600, ads, 8), 1);
}

static void test_resume_position_zero_when_none_or_at_end(void **state)
{
    assert_int_equal(playback_resume_position(0, 0, 1000), 0);
    assert_int_equal(playback_resume_position(1, 420, 1000), 420);
    assert_int_equal(playback_resume_position(1, 1000, 1000), 0);
    assert_int_equal(playback_resume_position(1, 0, 1000), 0);
}

static void test_title_1_to_200_chars_of_utf8(void **state)
{
    char title[1024];

    assert_int_equal(playback_check_title("a", err, sizeof err), VS_OK);
    assert_int_equal(playback_check_title("", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "title"));
    /* 200 three-byte characters (600 bytes) are fine, 201 are not */
    title[0] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(title, "\xEC\x98\x81"); /* U+C601 */
    assert_int_equal(playback_utf8_chars(title), 200);
    assert_int_equal(playback_check_title(title, err, sizeof err), VS_OK);
    strcat(title, "x");
    assert_int_equal(playback_check_title(title, err, sizeof err), VS_INVALID_ARGUMENT);
    memset(title, 'x', 200);
    title[200] = '\0';
    assert_int_equal(playback_check_title(title, err, sizeof err), VS_OK);
}

static void test_title_invalid_utf8_refused(void **state)
{
    static const char *const bad[] = {
        "\xC0\xAF",         /* overlong '/' */
        "\xE0\x80\xAF",     /* overlong */
        "\xED\xA0\x80",     /* UTF-16 surrogate U+D800 */
        "\xF4\x90\x80\x80", /* U+110000 */
        "abc\xE2\x82",      /* truncated */
        "\x80",             /* lone continuation */
        "\xFF",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(playback_utf8_chars(bad[i]), -1);
        assert_int_equal(playback_check_title(bad[i], err, sizeof err), VS_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "UTF-8"));
    }
    assert_int_equal(playback_utf8_chars("\xF0\x9F\x8E\xAC"), 1); /* U+1F3AC */
}

static void test_duration_1s_to_24h(void **state)
{
    assert_int_equal(playback_check_duration(0, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "duration_s"));
    assert_int_equal(playback_check_duration(1, err, sizeof err), VS_OK);
    assert_int_equal(playback_check_duration(24 * 3600, err, sizeof err), VS_OK);
    assert_int_equal(playback_check_duration(24 * 3600 + 1, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(playback_check_duration(-1, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_position_within_0_to_duration(void **state)
{
    assert_int_equal(playback_check_position(-1, 1000, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "position_s"));
    assert_int_equal(playback_check_position(0, 1000, err, sizeof err), VS_OK);
    assert_int_equal(playback_check_position(1000, 1000, err, sizeof err), VS_OK);
    assert_int_equal(playback_check_position(1001, 1000, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_event_id_1_to_64_bytes(void **state)
{
    char id[80];

    assert_int_equal(playback_check_event_id("", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "event_id"));
    memset(id, 'e', 64);
    id[64] = '\0';
    assert_int_equal(playback_check_event_id(id, err, sizeof err), VS_OK);
    id[64] = 'e';
    id[65] = '\0';
    assert_int_equal(playback_check_event_id(id, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_repeat_window_is_30s(void **state)
{
    assert_int_equal(PLAYBACK_REPEAT_WINDOW_S, 30);
}

static void test_claim_keys_name_video_viewer_and_ad_position(void **state)
{
    char key[PLAYBACK_CLAIM_KEY_MAX];

    playback_view_claim_key(7, 42, key, sizeof key);
    assert_string_equal(key, "view:7:42");
    playback_ad_claim_key(7, 42, 300, key, sizeof key);
    assert_string_equal(key, "ad:7:42:300");
    /* the longest ids and position fit */
    playback_ad_claim_key(UINT64_MAX, UINT64_MAX, PLAYBACK_DURATION_MAX_S, key, sizeof key);
    assert_string_equal(key, "ad:18446744073709551615:18446744073709551615:86400");
}

static void test_claim_free_counts(void **state)
{
    assert_int_equal(playback_claim_outcome(0, NULL, "e1"), PLAYBACK_COUNTED);
}

static void test_claim_held_by_the_same_event_counts(void **state)
{
    /* a retried event whose first attempt claimed the key but did not commit */
    assert_int_equal(playback_claim_outcome(0, "e1", "e1"), PLAYBACK_COUNTED);
}

static void test_claim_held_by_another_event_is_repeat(void **state)
{
    assert_int_equal(playback_claim_outcome(0, "e0", "e1"), PLAYBACK_REPEAT);
    assert_int_equal(playback_claim_outcome(0, "e1x", "e1"), PLAYBACK_REPEAT);
}

static void test_own_video_never_counts(void **state)
{
    assert_int_equal(playback_claim_outcome(1, NULL, "e1"), PLAYBACK_OWN_VIDEO);
    assert_int_equal(playback_claim_outcome(1, "e0", "e1"), PLAYBACK_OWN_VIDEO);
    /* the numbers are the wire's NotCountedReason */
    assert_int_equal(PLAYBACK_COUNTED, 0);
    assert_int_equal(PLAYBACK_OWN_VIDEO, 1);
    assert_int_equal(PLAYBACK_REPEAT, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ad_positions_every_300s_below_duration),
        cmocka_unit_test(test_credit_is_claim_when_elapsed_allows),
        cmocka_unit_test(test_credit_capped_at_elapsed_plus_5s),
        cmocka_unit_test(test_backward_seek_credits_nothing),
        cmocka_unit_test(test_wall_clock_step_forward_credits_steady_time_only),
        cmocka_unit_test(test_elapsed_is_wall_time_when_clocks_agree),
        cmocka_unit_test(test_elapsed_is_wall_time_without_the_plays_steady_instant),
        cmocka_unit_test(test_wall_clock_step_back_credits_as_zero_elapsed),
        cmocka_unit_test(test_ads_counted_in_credited_range_only),
        cmocka_unit_test(test_ad_at_start_excluded_at_end_included),
        cmocka_unit_test(test_resume_position_zero_when_none_or_at_end),
        cmocka_unit_test(test_title_1_to_200_chars_of_utf8),
        cmocka_unit_test(test_title_invalid_utf8_refused),
        cmocka_unit_test(test_duration_1s_to_24h),
        cmocka_unit_test(test_position_within_0_to_duration),
        cmocka_unit_test(test_event_id_1_to_64_bytes),
        cmocka_unit_test(test_repeat_window_is_30s),
        cmocka_unit_test(test_claim_keys_name_video_viewer_and_ad_position),
        cmocka_unit_test(test_claim_free_counts),
        cmocka_unit_test(test_claim_held_by_the_same_event_counts),
        cmocka_unit_test(test_claim_held_by_another_event_is_repeat),
        cmocka_unit_test(test_own_video_never_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
