/* test_money.c — settlement arithmetic (docs/rules.md "Settlement"): F(n) over marginal bands by
 * lifetime ordinal, daily amounts that telescope, band lines that sum to the exact value. */
#include "coretest.h"

#include <string.h>

#include "money.h"

static money_card video_card, ad_card;

static int setup_cards(void **state)
{
    money_card_default(MONEY_VIDEO, &video_card);
    money_card_default(MONEY_AD, &ad_card);
    return 0;
}

static int64_t F(const money_card *card, int64_t n)
{
    int64_t v = -1;

    assert_int_equal(money_value_milli(card, n, &v), VS_OK);
    return v;
}

static int64_t amount(const money_card *card, int64_t before, int64_t after)
{
    int64_t won = -1;

    assert_int_equal(money_amount(card, before, after, &won, NULL), VS_OK);
    return won;
}

static void test_default_card_is_valid(void **state)
{
    char err[128];

    assert_int_equal(money_card_check(&video_card, err, sizeof err), VS_OK);
    assert_int_equal(money_card_check(&ad_card, err, sizeof err), VS_OK);
}

/* The k-th view is priced by the band containing k: views 1..99,999 at 1.0 won, the 100,000th at
 * 1.1 won. */
static void test_band_applies_to_lifetime_ordinal(void **state)
{
    assert_int_equal(F(&video_card, 0), 0);
    assert_int_equal(F(&video_card, 1), 1000);
    assert_int_equal(F(&video_card, 99999), 99999000);
    assert_int_equal(F(&video_card, 100000), 99999000 + 1100);
    assert_int_equal(F(&video_card, 499999), 99999000 + 400000 * INT64_C(1100));
    assert_int_equal(F(&video_card, 500000), 99999000 + 440000000 + 1300);
    assert_int_equal(F(&video_card, 1000000), 99999000 + 440000000 + 500000 * INT64_C(1300) + 1500);
}

/* docs/rules.md: F(550,000) = 99,999×1 + 400,000×1.1 + 50,001×1.3 = 605,000.3 → 605,000 won. */
static void test_550000_views_are_worth_605000_won(void **state)
{
    assert_int_equal(F(&video_card, 550000), 605000300);
    assert_int_equal(amount(&video_card, 0, 550000), 605000);
}

/* rules.md: lifetime 550,000 → 1,150,000 in one day earns 1,415,000 − 605,000 = 810,000 won. */
static void test_550000_to_1150000_in_one_day_earns_810000_won(void **state)
{
    int64_t won, exact;

    assert_int_equal(F(&video_card, 1150000), 1415000500);
    assert_int_equal(money_amount(&video_card, 550000, 1150000, &won, &exact), VS_OK);
    assert_int_equal(won, 810000);
    assert_int_equal(exact, 1415000500 - 605000300);
}

/* The band lines of a day sum to the exact value the whole-won amount was truncated from. */
static void test_band_lines_sum_to_exact_value(void **state)
{
    money_line lines[MONEY_MAX_BANDS];
    int n = 0;
    int64_t sum = 0;

    assert_int_equal(money_band_lines(&video_card, 550000, 1150000, lines, &n), VS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(lines[0].band, 3);
    assert_int_equal(lines[0].first_ordinal, 550001);
    assert_int_equal(lines[0].last_ordinal, 999999);
    assert_int_equal(lines[0].units, 449999);
    assert_int_equal(lines[0].amount_milli, 449999 * INT64_C(1300));
    assert_int_equal(lines[1].band, 4);
    assert_int_equal(lines[1].units, 150001);
    assert_int_equal(lines[1].amount_milli, 150001 * INT64_C(1500));
    for (int i = 0; i < n; i++)
        sum += lines[i].amount_milli;
    assert_int_equal(sum, F(&video_card, 1150000) - F(&video_card, 550000));

    /* 0 → 550,000 touches three bands: 99,999 + 400,000 + 50,001 views */
    assert_int_equal(money_band_lines(&video_card, 0, 550000, lines, &n), VS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(lines[0].units, 99999);
    assert_int_equal(lines[1].units, 400000);
    assert_int_equal(lines[2].units, 50001);
}

/* A day with no new views earns nothing and has no lines. */
static void test_day_without_views_earns_nothing(void **state)
{
    money_line lines[MONEY_MAX_BANDS];
    int n = -1;

    assert_int_equal(amount(&video_card, 550000, 550000), 0);
    assert_int_equal(money_band_lines(&video_card, 550000, 550000, lines, &n), VS_OK);
    assert_int_equal(n, 0);
}

/* A week's daily amounts sum to floor(F(end)/1000) − floor(F(start)/1000) exactly, although each
 * day truncates its own fraction of a won. */
static void test_week_of_daily_amounts_telescopes(void **state)
{
    /* lifetime views at the end of the day before the week, then at the end of each day */
    const int64_t cum[8] = {99990, 100003, 100010, 250017, 499999, 500001, 550000, 1150000};
    int64_t week = 0, truncated_days = 0;

    for (int d = 1; d < 8; d++) {
        int64_t exact;
        int64_t won;

        assert_int_equal(money_amount(&video_card, cum[d - 1], cum[d], &won, &exact), VS_OK);
        week += won;
        if (exact % 1000 != 0)
            truncated_days++;
    }
    assert_int_equal(week, F(&video_card, 1150000) / 1000 - F(&video_card, 99990) / 1000);
    /* the days really do carry fractions, so per-day rounding would have drifted */
    assert_true(truncated_days > 0);
}

/* The ad card: 10/12/15/20 won per ad view by lifetime ad-view ordinal, telescoping likewise. */
static void test_ad_card_prices_by_lifetime_ad_views(void **state)
{
    const int64_t cum[5] = {0, 99999, 100001, 600000, 1000002};
    int64_t sum = 0;

    assert_int_equal(F(&ad_card, 99999), 99999 * INT64_C(10000));
    assert_int_equal(amount(&ad_card, 0, 99999), 999990);
    assert_int_equal(amount(&ad_card, 99999, 100001), 24);
    /* 99,999×10 + 400,000×12 + 100,001×15 = 7,290,005 won */
    assert_int_equal(amount(&ad_card, 0, 600000), 999990 + 4800000 + 1500015);
    for (int d = 1; d < 5; d++)
        sum += amount(&ad_card, cum[d - 1], cum[d]);
    /* + 399,999×15 + 3×20 beyond 600,000 */
    assert_int_equal(sum, 999990 + 4800000 + 1500015 + 399999 * 15 + 3 * 20);
    assert_int_equal(sum, F(&ad_card, 1000002) / 1000);
}

static void test_bad_cards_and_counts_refused(void **state)
{
    money_card card = video_card;
    char err[128];
    int64_t v;

    card.bands[0].first_ordinal = 2;
    assert_int_equal(money_card_check(&card, err, sizeof err), VS_INVALID_ARGUMENT);
    card = video_card;
    card.bands[2].first_ordinal = card.bands[1].first_ordinal;
    assert_int_equal(money_card_check(&card, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "band 3"));
    card = video_card;
    card.bands[1].price_milli = -1;
    assert_int_equal(money_card_check(&card, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(money_value_milli(&video_card, -1, &v), VS_OUT_OF_RANGE);
    assert_int_equal(money_value_milli(&video_card, MONEY_MAX_ORDINAL + 1, &v), VS_OUT_OF_RANGE);
    assert_int_equal(money_amount(&video_card, 10, 9, &v, NULL), VS_OUT_OF_RANGE);
}

/* The largest allowed lifetime count is priced without overflow. */
static void test_largest_lifetime_count_does_not_overflow(void **state)
{
    int64_t v = 0;

    assert_int_equal(money_value_milli(&ad_card, MONEY_MAX_ORDINAL, &v), VS_OK);
    assert_true(v > 0);
    assert_int_equal(v - F(&ad_card, 999999), (MONEY_MAX_ORDINAL - 999999) * INT64_C(20000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_card_is_valid),
        cmocka_unit_test(test_band_applies_to_lifetime_ordinal),
        cmocka_unit_test(test_550000_views_are_worth_605000_won),
        cmocka_unit_test(test_550000_to_1150000_in_one_day_earns_810000_won),
        cmocka_unit_test(test_band_lines_sum_to_exact_value),
        cmocka_unit_test(test_day_without_views_earns_nothing),
        cmocka_unit_test(test_week_of_daily_amounts_telescopes),
        cmocka_unit_test(test_ad_card_prices_by_lifetime_ad_views),
        cmocka_unit_test(test_bad_cards_and_counts_refused),
        cmocka_unit_test(test_largest_lifetime_count_does_not_overflow),
    };

    return cmocka_run_group_tests(tests, setup_cards, NULL);
}
