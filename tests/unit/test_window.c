/* test_window.c — business days, ISO weeks and months (docs/rules.md "Days, weeks, months"). */
#include "testsupport.h"

#include "window.h"

static int setup_seoul(void **state)
{
    char err[128];

    return window_init("Asia/Seoul", err, sizeof err) == VS_OK ? 0 : -1;
}

static business_date d(const char *text)
{
    business_date out = 0;

    assert_int_equal(window_parse(text, &out), VS_OK);
    return out;
}

static void test_civil_round_trip(void **state)
{
    char buf[11];

    assert_int_equal(window_from_civil(1970, 1, 1), 0);
    window_format(window_from_civil(2026, 11, 24), buf);
    assert_string_equal(buf, "2026-11-24");
    window_format(d("2024-02-29") + 1, buf);
    assert_string_equal(buf, "2024-03-01");
}

static void test_parse_rejects_bad_dates(void **state)
{
    business_date out;

    assert_int_equal(window_parse("2026-02-29", &out), VS_INVALID_ARGUMENT);
    assert_int_equal(window_parse("2026-13-01", &out), VS_INVALID_ARGUMENT);
    assert_int_equal(window_parse("2026-1-01", &out), VS_INVALID_ARGUMENT);
    assert_int_equal(window_parse("2026-01-01x", &out), VS_INVALID_ARGUMENT);
    assert_int_equal(window_parse("", &out), VS_INVALID_ARGUMENT);
    assert_int_equal(window_parse(NULL, &out), VS_INVALID_ARGUMENT);
}

/* 23:59:59 and 00:00:00 Seoul time (UTC+9) are different business days. */
static void test_seoul_midnight_splits_days(void **state)
{
    /* 2026-11-24 00:00:00 KST = 2026-11-23 15:00:00 UTC */
    int64_t midnight_ms = ((int64_t)window_from_civil(2026, 11, 23) * 86400 + 15 * 3600) * 1000;

    assert_int_equal(window_day_of(midnight_ms), d("2026-11-24"));
    assert_int_equal(window_day_of(midnight_ms - 1000), d("2026-11-23"));
    assert_int_equal(window_day_start_ms(d("2026-11-24")), midnight_ms);
}

static void test_unknown_zone_refused(void **state)
{
    char err[128];

    assert_int_equal(window_init("Mars/Olympus_Mons", err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(window_init("Asia/Seoul", err, sizeof err), VS_OK);
}

static void test_iso_week_is_monday_to_sunday(void **state)
{
    business_date first, last;

    assert_int_equal(window_weekday(d("2026-11-23")), 1); /* a Monday */
    assert_int_equal(window_weekday(d("2026-11-29")), 7);
    window_period_range(WINDOW_WEEK, d("2026-11-29"), &first, &last);
    assert_int_equal(first, d("2026-11-23"));
    assert_int_equal(last, d("2026-11-29"));
    /* a week spanning a year boundary */
    window_period_range(WINDOW_WEEK, d("2027-01-01"), &first, &last);
    assert_int_equal(first, d("2026-12-28"));
    assert_int_equal(last, d("2027-01-03"));
}

static void test_month_is_calendar_month(void **state)
{
    business_date first, last;

    window_period_range(WINDOW_MONTH, d("2024-02-10"), &first, &last);
    assert_int_equal(first, d("2024-02-01"));
    assert_int_equal(last, d("2024-02-29"));
    window_period_range(WINDOW_MONTH, d("2026-12-31"), &first, &last);
    assert_int_equal(first, d("2026-12-01"));
    assert_int_equal(last, d("2026-12-31"));
    window_period_range(WINDOW_DAY, d("2026-12-31"), &first, &last);
    assert_int_equal(first, last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_parse_rejects_bad_dates),
        cmocka_unit_test(test_seoul_midnight_splits_days),
        cmocka_unit_test(test_unknown_zone_refused),
        cmocka_unit_test(test_iso_week_is_monday_to_sunday),
        cmocka_unit_test(test_month_is_calendar_month),
    };
    return cmocka_run_group_tests(tests, setup_seoul, NULL);
}
