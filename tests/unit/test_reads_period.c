/* test_reads_period.c — the read path's pure parts: which days a request covers (docs/rules.md
 * "Days, weeks, months"), how a partly settled period is described, GTID position comparison for
 * the replica lag, and the summation of band lines over days (docs/batch.md). */
#include "testsupport.h"

#include <stdio.h>
#include <string.h>

#include "band_sum.h"
#include "gtid.h"
#include "money.h"
#include "period.h"

static business_date d(const char *text)
{
    business_date out = 0;

    assert_int_equal(window_parse(text, &out), VS_OK);
    return out;
}

static void test_week_of_a_date_is_its_iso_monday_to_sunday(void **state)
{
    period_range r;
    char err[128];

    /* 2026-11-26 is a Thursday */
    assert_int_equal(period_resolve(2, "2026-11-26", &r, err, sizeof err), VS_OK);
    assert_int_equal(r.kind, WINDOW_WEEK);
    assert_int_equal(r.first, d("2026-11-23"));
    assert_int_equal(r.last, d("2026-11-29"));
    assert_int_equal(r.days, 7);
}

static void test_month_and_day_periods(void **state)
{
    period_range r;
    char err[128];

    assert_int_equal(period_resolve(3, "2024-02-10", &r, err, sizeof err), VS_OK);
    assert_int_equal(r.first, d("2024-02-01"));
    assert_int_equal(r.days, 29);
    assert_int_equal(period_resolve(1, "2026-12-31", &r, err, sizeof err), VS_OK);
    assert_int_equal(r.first, d("2026-12-31"));
    assert_int_equal(r.days, 1);
}

static void test_bad_period_names_the_period_field(void **state)
{
    period_range r;
    char err[128];

    assert_int_equal(period_resolve(0, "2026-11-26", &r, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(strncmp(err, "period:", 7) == 0);
    assert_int_equal(period_resolve(4, "2026-11-26", &r, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(strncmp(err, "period:", 7) == 0);
}

static void test_bad_date_names_the_date_field(void **state)
{
    static const char *const bad[] = {"", "2026-02-30", "26-11-26", "2026-11-26T00:00",
                                      "1969-12-31"};
    period_range r;
    char err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(period_resolve(1, bad[i], &r, err, sizeof err), VS_INVALID_ARGUMENT);
        assert_true(strncmp(err, "date:", 5) == 0);
    }
    assert_int_equal(period_resolve(2, NULL, &r, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(strncmp(err, "date:", 5) == 0);
}

/* A request's date must be an accepted one, so its whole period is: the week of 9999-12-31 is
 * refused rather than answered as 9999-12-27..0000-01-02. */
static void test_date_outside_the_accepted_range_names_the_date_field(void **state)
{
    static const struct {
        int period;
        const char *date;
    } bad[] = {{2, "9999-12-31"},
               {1, "9999-12-31"},
               {3, "9999-11-01"},
               {1, "1972-12-31"},
               {2, "1970-01-01"}};
    period_range r;
    char err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[128];

        snprintf(want, sizeof want, "date: %s is outside the accepted dates %s..%s", bad[i].date,
                 WINDOW_FIRST_ACCEPTED, WINDOW_LAST_ACCEPTED);
        assert_int_equal(period_resolve(bad[i].period, bad[i].date, &r, err, sizeof err),
                         VS_INVALID_ARGUMENT);
        assert_string_equal(err, want);
    }
    /* the last accepted week and the first accepted month, whole */
    assert_int_equal(period_resolve(2, "9999-10-31", &r, err, sizeof err), VS_OK);
    assert_int_equal(r.first, d("9999-10-25"));
    assert_int_equal(r.last, d("9999-10-31"));
    assert_int_equal(period_resolve(3, "1973-01-17", &r, err, sizeof err), VS_OK);
    assert_int_equal(r.first, d("1973-01-01"));
    assert_int_equal(r.days, 31);
}

static void test_period_complete_only_when_every_day_settled(void **state)
{
    period_range r;
    period_settlement ps;
    char err[128];

    assert_int_equal(period_resolve(2, "2026-11-23", &r, err, sizeof err), VS_OK);
    period_describe(&r, 0x7f, &ps);
    assert_true(ps.complete);
    assert_int_equal(ps.days_settled, 7);
    assert_string_equal(ps.status, "settled");
    /* bits beyond the period do not count */
    period_describe(&r, 0x3f | (UINT64_C(1) << 9), &ps);
    assert_false(ps.complete);
    assert_int_equal(ps.days_settled, 6);
}

static void test_partial_week_names_first_unsettled_day(void **state)
{
    period_range r;
    period_settlement ps;
    char err[128];

    assert_int_equal(period_resolve(2, "2026-11-23", &r, err, sizeof err), VS_OK);
    period_describe(&r, 0x07, &ps); /* Monday..Wednesday */
    assert_false(ps.complete);
    assert_int_equal(ps.days_settled, 3);
    assert_non_null(strstr(ps.status, "partial: 3 of 7 days settled"));
    assert_non_null(strstr(ps.status, "2026-11-26"));
}

static void test_unsettled_day_is_not_settled(void **state)
{
    period_range r;
    period_settlement ps;
    char err[128];

    assert_int_equal(period_resolve(1, "2026-11-23", &r, err, sizeof err), VS_OK);
    period_describe(&r, 0, &ps);
    assert_false(ps.complete);
    assert_int_equal(ps.days_settled, 0);
    assert_true(strncmp(ps.status, "not settled", 11) == 0);
    assert_non_null(strstr(ps.status, "2026-11-23"));
}

static void test_gtid_reached_per_domain(void **state)
{
    assert_int_equal(gtid_reached("0-1-42", "0-1-42"), 1);
    assert_int_equal(gtid_reached("0-1-43", "0-1-42"), 1);
    assert_int_equal(gtid_reached("0-1-41", "0-1-42"), 0);
    /* a second domain must be reached too; a missing domain is sequence 0 */
    assert_int_equal(gtid_reached("0-1-50,1-1-7", "0-1-42,1-1-8"), 0);
    assert_int_equal(gtid_reached("1-1-9, 0-1-50", "0-1-42,1-1-8"), 1);
    assert_int_equal(gtid_reached("0-1-50", "0-1-42,1-1-8"), 0);
    /* after a failover the server id differs: only the sequence counts */
    assert_int_equal(gtid_reached("0-2-100", "0-1-99"), 1);
    assert_int_equal(gtid_reached("", ""), 1);
    assert_int_equal(gtid_reached("0-1-1", ""), 1);
    assert_int_equal(gtid_reached("", "0-1-1"), 0);
}

static void test_gtid_malformed_is_an_error(void **state)
{
    assert_int_equal(gtid_reached("0-1", "0-1-1"), -1);
    assert_int_equal(gtid_reached("0-1-1", "x-1-1"), -1);
    assert_int_equal(gtid_reached("0-1-1;", "0-1-1"), -1);
    assert_int_equal(gtid_reached(NULL, "0-1-1"), -1);
}

/* what may be quoted into SQL: a position list and nothing else */
static void test_gtid_valid_text(void **state)
{
    assert_true(gtid_valid(""));
    assert_true(gtid_valid("0-1-42"));
    assert_true(gtid_valid("0-1-50, 1-1-7"));
    assert_false(gtid_valid("0-1"));
    assert_false(gtid_valid("0-1-1'); DROP TABLE x; --"));
    assert_false(gtid_valid("0-1-1,x"));
    assert_false(gtid_valid(NULL));
}

/* Band lines of days with lifetime intervals (0, 550000] and (550000, 1150000] on the default card:
 * summed per band, they are the lines of (0, 1150000] and add up to F(1,150,000). */
static void test_band_sum_of_days_equals_lines_of_whole_interval(void **state)
{
    money_card card;
    money_line lines[MONEY_MAX_BANDS], whole[MONEY_MAX_BANDS];
    band_sum s;
    int n, n_whole;
    int64_t f;

    money_card_default(MONEY_VIDEO, &card);
    band_sum_init(&s);
    assert_int_equal(money_band_lines(&card, 0, 550000, lines, &n), VS_OK);
    assert_int_equal(band_sum_add(&s, &card, lines, n), VS_OK);
    assert_int_equal(money_band_lines(&card, 550000, 1150000, lines, &n), VS_OK);
    assert_int_equal(band_sum_add(&s, &card, lines, n), VS_OK);
    assert_int_equal(money_band_lines(&card, 0, 1150000, whole, &n_whole), VS_OK);
    assert_int_equal(s.n, n_whole);
    for (int i = 0; i < n_whole; i++) {
        assert_int_equal(s.lines[i].band, whole[i].band);
        assert_int_equal(s.lines[i].units, whole[i].units);
        assert_int_equal(s.lines[i].amount_milli, whole[i].amount_milli);
    }
    assert_int_equal(money_value_milli(&card, 1150000, &f), VS_OK);
    assert_int_equal(band_sum_total_milli(&s), f);
    /* 1,415,000 won for the first 1,150,000 views (docs/rules.md worked check) */
    assert_int_equal(f / 1000, 1415000);
    /* band 2 is ordinals 100,000..499,999 at 1.1 won */
    assert_int_equal(s.lines[1].first_ordinal, 100000);
    assert_int_equal(s.lines[1].last_ordinal, 499999);
    assert_int_equal(s.lines[1].price_milli, 1100);
    assert_int_equal(s.lines[3].last_ordinal, 0); /* the last band is open */
}

static void test_band_sum_keeps_card_versions_apart(void **state)
{
    money_card v1, v2;
    money_line lines[MONEY_MAX_BANDS];
    band_sum s;
    int n;

    money_card_default(MONEY_AD, &v1);
    v2 = v1;
    v2.version = 2;
    v2.bands[0].price_milli = 11000;
    band_sum_init(&s);
    assert_int_equal(money_band_lines(&v2, 10, 20, lines, &n), VS_OK);
    assert_int_equal(band_sum_add(&s, &v2, lines, n), VS_OK);
    assert_int_equal(money_band_lines(&v1, 0, 10, lines, &n), VS_OK);
    assert_int_equal(band_sum_add(&s, &v1, lines, n), VS_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.lines[0].version, 1);
    assert_int_equal(s.lines[0].amount_milli, 10 * 10000);
    assert_int_equal(s.lines[1].version, 2);
    assert_int_equal(s.lines[1].amount_milli, 10 * 11000);
    assert_int_equal(band_sum_total_milli(&s), 10 * 10000 + 10 * 11000);
}

static void test_band_sum_refuses_overflow_unchanged(void **state)
{
    money_card card;
    money_line line = {.band = 1, .units = 1, .price_milli = 1000, .amount_milli = INT64_MAX};
    band_sum s;

    money_card_default(MONEY_VIDEO, &card);
    band_sum_init(&s);
    assert_int_equal(band_sum_add(&s, &card, &line, 1), VS_OK);
    line.amount_milli = 1;
    assert_int_equal(band_sum_add(&s, &card, &line, 1), VS_OUT_OF_RANGE);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.lines[0].amount_milli, INT64_MAX);
    assert_int_equal(s.lines[0].units, 1);
    line.band = 9; /* the default card has 4 bands */
    assert_int_equal(band_sum_add(&s, &card, &line, 1), VS_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_week_of_a_date_is_its_iso_monday_to_sunday),
        cmocka_unit_test(test_month_and_day_periods),
        cmocka_unit_test(test_bad_period_names_the_period_field),
        cmocka_unit_test(test_bad_date_names_the_date_field),
        cmocka_unit_test(test_date_outside_the_accepted_range_names_the_date_field),
        cmocka_unit_test(test_period_complete_only_when_every_day_settled),
        cmocka_unit_test(test_partial_week_names_first_unsettled_day),
        cmocka_unit_test(test_unsettled_day_is_not_settled),
        cmocka_unit_test(test_gtid_reached_per_domain),
        cmocka_unit_test(test_gtid_malformed_is_an_error),
        cmocka_unit_test(test_gtid_valid_text),
        cmocka_unit_test(test_band_sum_of_days_equals_lines_of_whole_interval),
        cmocka_unit_test(test_band_sum_keeps_card_versions_apart),
        cmocka_unit_test(test_band_sum_refuses_overflow_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
