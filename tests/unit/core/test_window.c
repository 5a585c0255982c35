/* test_window.c — business days, ISO weeks and months (docs/rules.md "Days, weeks, months"). */
#include "coretest.h"

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

/* Every period of one day: whether it is accepted, and if so that its day, week and month are. */
static void check_periods_of(business_date day, business_date lo, business_date hi)
{
    int accepted;
    business_date first, last;
    char err[128];

    accepted = window_check_accepted("date", day, err, sizeof err) == VS_OK;
    assert_int_equal(accepted, day >= lo && day <= hi);
    for (int p = WINDOW_DAY; accepted && p <= WINDOW_MONTH; p++) {
        window_period_range((window_period)p, day, &first, &last);
        if (first < lo || last > hi)
            fail_msg("period %d of day %d: %d..%d leaves %d..%d", p, day, first, last, lo, hi);
    }
}

/* The accepted dates are whole weeks and whole months: the day, week and month of every accepted
 * date near either end lie inside the range (a period in the middle cannot reach an end). */
static void test_every_period_of_an_accepted_date_is_accepted(void **state)
{
    business_date lo = d(WINDOW_FIRST_ACCEPTED), hi = d(WINDOW_LAST_ACCEPTED);

    assert_int_equal(window_weekday(lo), 1);
    assert_int_equal(window_weekday(hi), 7);
    for (business_date day = lo - 400; day <= lo + 400; day++)
        check_periods_of(day, lo, hi);
    for (business_date day = hi - 400; day <= d("9999-12-31"); day++)
        check_periods_of(day, lo, hi);
}

/* Outside the range: INVALID_ARGUMENT naming the field and the range. The week of 9999-12-31
 * would be 9999-12-27..10000-01-02, and 1970-01-01 is a Thursday of a week begun in 1969. */
static void test_dates_outside_the_range_are_refused_naming_the_field(void **state)
{
    char err[128];

    assert_int_equal(window_check_accepted("date", d("9999-12-31"), err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_string_equal(err,
                        "date: 9999-12-31 is outside the accepted dates 1973-01-01..9999-10-31");
    assert_int_equal(window_check_accepted("--date", d("9999-11-01"), err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_string_equal(err,
                        "--date: 9999-11-01 is outside the accepted dates 1973-01-01..9999-10-31");
    assert_int_equal(window_check_accepted("date", d("1970-01-01"), err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_int_equal(window_check_accepted("date", d("1972-12-31"), err, sizeof err),
                     VS_INVALID_ARGUMENT);
    assert_int_equal(window_check_accepted("date", d("1973-01-01"), err, sizeof err), VS_OK);
    assert_int_equal(window_check_accepted("date", d("9999-10-31"), err, sizeof err), VS_OK);
    assert_int_equal(window_check_accepted("date", d("2026-12-06"), err, sizeof err), VS_OK);
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
        cmocka_unit_test(test_every_period_of_an_accepted_date_is_accepted),
        cmocka_unit_test(test_dates_outside_the_range_are_refused_naming_the_field),
    };
    return cmocka_run_group_tests(tests, setup_seoul, NULL);
}
