/* test_batch_worked.c — the worked checks of docs/rules.md through the whole batch: play_log
 * rows in, settlement_daily and video_period_stats out.
 *
 *   video A: 550,000 views on Monday            → 605,000 won
 *            +600,000 on Tuesday (→ 1,150,000)   → 810,000 won that day
 *   video B: 99,000 views on Sunday, then 990, 13 and 7 in the week: daily amounts telescope to
 *            floor(F(100,010)/1000) − floor(F(99,000)/1000) = 1,011 won, one more than rounding
 *            each day down on its own would pay
 *   video C: 99,999 ad views on Sunday, 2 more on Monday: the 100,000th ad view is priced 12 won */
#include "batch_harness.h"

#include "money.h"
#include "money_card.h"

#define SUN "2011-05-01"
#define MON "2011-05-02"
#define TUE "2011-05-03"
#define WED "2011-05-04"

static bh h;
static MYSQL *db;
static uint64_t video_a, video_b, video_c;

static uint64_t make_video(const char *title)
{
    bh_exec(db, "INSERT INTO videos (creator_id, title, duration_s) VALUES (424242, '%s', 3600)",
            title);
    return (uint64_t)mysql_insert_id(db);
}

/* n counted views (Play rows) of video on day. */
static void add_views(uint64_t video, const char *day, int n)
{
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " view_counted) SELECT CONCAT('w-%llu-%s-v-', seq), 1, %llu, 1000000 + seq, '%s', 0, 1"
            " FROM seq_1_to_%d",
            (unsigned long long)video, day, (unsigned long long)video, day, n);
}

/* ads ad views of video on day, as Pause rows of 10 ad views and one with the rest. */
static void add_ad_views(uint64_t video, const char *day, int ads)
{
    if (ads >= 10)
        bh_exec(db,
                "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
                " position_s, credited_to_s, watch_s, ad_views) SELECT CONCAT('w-%llu-%s-a-', seq),"
                " 2, %llu, 2000000 + seq, '%s', 0, 3001, 3001, 3001, 10 FROM seq_1_to_%d",
                (unsigned long long)video, day, (unsigned long long)video, day, ads / 10);
    if (ads % 10)
        bh_exec(db,
                "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
                " position_s, credited_to_s, watch_s, ad_views) VALUES ('w-%llu-%s-a-rest', 2,"
                " %llu, 3000000, '%s', 0, 3001, 3001, 3001, %d)",
                (unsigned long long)video, day, (unsigned long long)video, day, ads % 10);
}

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=200000", NULL};
    pid_t coord, worker;
    vs_client *c;

    bh_setup(&h, "worked");
    db = ts_db_primary();
    video_a = make_video("A");
    video_b = make_video("B");
    video_c = make_video("C");
    add_views(video_b, SUN, 99000);
    add_ad_views(video_c, SUN, 99999);
    add_views(video_a, MON, 550000);
    add_views(video_b, MON, 990);
    add_ad_views(video_c, MON, 2);
    add_views(video_a, TUE, 600000);
    add_views(video_b, TUE, 13);
    add_views(video_b, WED, 7);

    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    c = bh_client(&h);
    bh_settle(c, SUN, 0);
    bh_settle(c, MON, 0);
    bh_settle(c, TUE, 0);
    bh_settle(c, WED, 0);
    vs_client_close(c);
    ts_stop(worker);
    ts_stop(coord);
    return 0;
}

static int group_teardown(void **state)
{
    mysql_close(db);
    bh_teardown(&h);
    return 0;
}

static int64_t settled(const char *column, uint64_t video, const char *day)
{
    return bh_int(db, "SELECT %s FROM settlement_daily WHERE video_id = %llu AND day = '%s'",
                  column, (unsigned long long)video, day);
}

/* The band lines of a settlement row, from its lifetime counts and card, sum to its exact value. */
static void assert_lines_sum_to_exact(uint64_t video, const char *day)
{
    money_card card;
    money_line lines[MONEY_MAX_BANDS];
    char err[256];
    int n = 0;
    int64_t sum = 0;

    assert_int_equal(money_card_load(db, (uint32_t)settled("rate_card_version", video, day),
                                     MONEY_VIDEO, &card, err, sizeof err),
                     VS_OK);
    assert_int_equal(money_band_lines(&card, settled("views_before", video, day),
                                      settled("views_after", video, day), lines, &n),
                     VS_OK);
    for (int i = 0; i < n; i++)
        sum += lines[i].amount_milli;
    assert_int_equal(sum, settled("video_exact_milli", video, day));
}

/* docs/rules.md: F(550,000) = 99,999×1 + 400,000×1.1 + 50,001×1.3 = 605,000.3 → 605,000 won. */
static void test_550000_lifetime_views_settle_605000_won(void **state)
{
    assert_int_equal(settled("views_before", video_a, MON), 0);
    assert_int_equal(settled("views_after", video_a, MON), 550000);
    assert_int_equal(settled("video_exact_milli", video_a, MON), 605000300);
    assert_int_equal(settled("video_won", video_a, MON), 605000);
    assert_int_equal(settled("total_won", video_a, MON), 605000);
    assert_lines_sum_to_exact(video_a, MON);
}

/* rules.md: lifetime 550,000 → 1,150,000 in one day earns 1,415,000 − 605,000 = 810,000 won. */
static void test_550000_to_1150000_in_one_day_earns_810000_won(void **state)
{
    assert_int_equal(settled("views_before", video_a, TUE), 550000);
    assert_int_equal(settled("views_after", video_a, TUE), 1150000);
    assert_int_equal(settled("video_won", video_a, TUE), 810000);
    assert_int_equal(settled("video_exact_milli", video_a, TUE), 1415000500 - 605000300);
    assert_int_equal(settled("rate_card_version", video_a, TUE), 1);
    assert_lines_sum_to_exact(video_a, TUE);
    /* lifetime counts carried into video_cumulative */
    assert_int_equal(bh_int(db,
                            "SELECT views_lifetime FROM video_cumulative WHERE video_id = %llu"
                            " AND day = '" TUE "'",
                            (unsigned long long)video_a),
                     1150000);
}

/* A week's daily amounts sum to floor(F(end)/1000) − floor(F(before the week)/1000) exactly. */
static void test_week_of_daily_amounts_telescopes(void **state)
{
    /* F(99,000) = 99,000,000; F(100,010) = 99,999,000 + 11 × 1,100 = 100,011,100 (milli-won) */
    const int64_t week_won = 100011100 / 1000 - 99000000 / 1000;

    assert_int_equal(settled("views_before", video_b, MON), 99000);
    assert_int_equal(settled("video_won", video_b, MON), 990);
    assert_int_equal(settled("video_won", video_b, TUE), 13); /* 13.4 won exact */
    assert_int_equal(settled("video_won", video_b, WED), 8);  /* 7.7 won + the carried 0.4 */
    assert_int_equal(settled("video_exact_milli", video_b, WED), 7700);
    assert_int_equal(week_won, 1011);
    assert_int_equal(bh_int(db,
                            "SELECT SUM(video_won) FROM settlement_daily WHERE video_id = %llu"
                            " AND day BETWEEN '" MON "' AND '2011-05-08'",
                            (unsigned long long)video_b),
                     week_won);
    /* the week rollup (Monday start) says the same; Sunday belongs to the previous week */
    assert_int_equal(bh_int(db,
                            "SELECT video_won FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '" MON "' AND video_id = %llu",
                            (unsigned long long)video_b),
                     week_won);
    assert_int_equal(bh_int(db,
                            "SELECT days FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '" MON "' AND video_id = %llu",
                            (unsigned long long)video_b),
                     3);
    assert_int_equal(bh_int(db,
                            "SELECT video_won FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '2011-04-25' AND video_id = %llu",
                            (unsigned long long)video_b),
                     99000);
    /* and the month (May) holds all four days of A and B */
    assert_int_equal(bh_int(db,
                            "SELECT video_won FROM video_period_stats WHERE period_kind = 3 AND"
                            " period_start = '2011-05-01' AND video_id = %llu",
                            (unsigned long long)video_a),
                     605000 + 810000);
    assert_int_equal(bh_int(db,
                            "SELECT video_won FROM video_period_stats WHERE period_kind = 3 AND"
                            " period_start = '2011-05-01' AND video_id = %llu",
                            (unsigned long long)video_b),
                     100011);
}

/* The ad card: 99,999 ad views at 10 won, then the 100,000th and 100,001st at 12 won. */
static void test_ad_card_prices_the_100000th_ad_view_at_12_won(void **state)
{
    assert_int_equal(settled("ad_views_after", video_c, SUN), 99999);
    assert_int_equal(settled("ad_won", video_c, SUN), 999990);
    assert_int_equal(settled("ad_views_before", video_c, MON), 99999);
    assert_int_equal(settled("ad_views_after", video_c, MON), 100001);
    assert_int_equal(settled("ad_won", video_c, MON), 24);
    assert_int_equal(settled("ad_exact_milli", video_c, MON), 24000);
    assert_int_equal(settled("total_won", video_c, MON), settled("video_won", video_c, MON) + 24);
    assert_int_equal(bh_int(db,
                            "SELECT ad_won FROM video_period_stats WHERE period_kind = 3 AND"
                            " period_start = '2011-05-01' AND video_id = %llu",
                            (unsigned long long)video_c),
                     999990 + 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_550000_lifetime_views_settle_605000_won),
        cmocka_unit_test(test_550000_to_1150000_in_one_day_earns_810000_won),
        cmocka_unit_test(test_week_of_daily_amounts_telescopes),
        cmocka_unit_test(test_ad_card_prices_the_100000th_ad_view_at_12_won),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
