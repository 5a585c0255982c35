/* test_batch_oracle.c — the settlement batch against independent oracles (rules.md, batch.md).
 *
 * Generated data (tools/gen: 300,000 rows over 3 days, 300 videos) plus a burst of day-1 rows for
 * one video, appended after day 3, so that the video crosses the 100,000th-view and ad-view bands
 * and day 1's id range encloses days 2 and 3 (ids of a day are not contiguous). Three days are
 * settled by a coordinator and two worker processes in small partitions; then each table is
 * compared with SQL over play_log and with F(n) computed here, independently of core/money.c. */
#include "batch_harness.h"

#define DAY1 "2010-03-30" /* Tuesday; the ISO week starts 2010-03-29 */
#define DAY2 "2010-03-31"
#define DAY3 "2010-04-01" /* a new month, same week */

static bh h;
static MYSQL *db;
static uint64_t viral_video;

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=7919", "VS_BATCH_LEASE_MS=60000", NULL};
    pid_t coord, w1, w2;
    vs_client *c;

    bh_setup(&h, "oracle");
    bh_gen("--rows 300000 --days 3 --videos 300 --users 3000 --seed 11 --start " DAY1);
    db = ts_db_primary();
    viral_video =
        (uint64_t)bh_int(db, "SELECT video_id FROM play_log WHERE day = '" DAY1 "'"
                             " GROUP BY video_id ORDER BY COUNT(*) DESC, video_id LIMIT 1");
    /* 99,990 more counted views and 99,990 ad views on day 1, with ids after day 3's */
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " view_counted) SELECT CONCAT('oracle-play-', seq), 1, %llu, 9000000 + seq, '" DAY1
            "', 0, 1 FROM seq_1_to_99990",
            (unsigned long long)viral_video);
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " position_s, credited_to_s, watch_s, ad_views) SELECT CONCAT('oracle-pause-', seq),"
            " 2, %llu, 9000000 + seq, '" DAY1 "', 0, 3000, 3000, 3000, 10 FROM seq_1_to_9999",
            (unsigned long long)viral_video);

    coord = bh_start_coordinator(&h, coord_env);
    w1 = bh_start_worker(&h, 2, "worker-a", NULL);
    w2 = bh_start_worker(&h, 1, "worker-b", NULL);
    c = bh_client(&h);
    bh_settle(c, DAY1, 0);
    bh_settle(c, DAY2, 0);
    bh_settle(c, DAY3, 0);
    vs_client_close(c);
    ts_stop(w1);
    ts_stop(w2);
    ts_stop(coord);
    return 0;
}

static int group_teardown(void **state)
{
    mysql_close(db);
    bh_teardown(&h);
    return 0;
}

/* video_daily_stats = SELECT SUM(...) FROM play_log GROUP BY video_id, day, row for row. */
static void test_daily_stats_equal_sql_group_by(void **state)
{
    int64_t groups = bh_int(db, "SELECT COUNT(*) FROM (SELECT 1 FROM play_log GROUP BY video_id,"
                                " day) g");

    assert_true(groups > 600);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats"), groups);
    assert_int_equal(
        bh_int(db, "SELECT COUNT(*) FROM (SELECT video_id, day, SUM(view_counted) v,"
                   " SUM(watch_s) w, SUM(ad_views) a FROM play_log GROUP BY video_id, day) p"
                   " LEFT JOIN video_daily_stats d USING (video_id, day)"
                   " WHERE d.video_id IS NULL OR d.views <> p.v OR d.watch_s <> p.w"
                   " OR d.ad_views <> p.a"),
        0);
    /* the creator is the video's */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats d JOIN videos v"
                                " ON v.id = d.video_id WHERE d.creator_id <> v.creator_id"),
                     0);
}

/* video_cumulative = running sums of the daily counts. */
static void test_cumulative_is_running_sum_of_days(void **state)
{
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM (SELECT video_id, day, SUM(v) OVER w AS lv,"
                            " SUM(a) OVER w AS la FROM (SELECT video_id, day, SUM(view_counted) v,"
                            " SUM(ad_views) a FROM play_log GROUP BY video_id, day) d"
                            " WINDOW w AS (PARTITION BY video_id ORDER BY day)) o"
                            " LEFT JOIN video_cumulative c USING (video_id, day)"
                            " WHERE c.video_id IS NULL OR c.views_lifetime <> o.lv"
                            " OR c.ad_views_lifetime <> o.la"),
                     0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_cumulative"),
                     bh_int(db, "SELECT COUNT(*) FROM video_daily_stats"));
}

/* settlement_daily = docs/rules.md computed here from lifetime counts taken from play_log. */
static void test_settlement_equals_independent_section4(void **state)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    int64_t rows = 0, crossings = 0;

    assert_int_equal(
        mysql_query(db,
                    "SELECT o.vb, o.va, o.ab, o.aa, s.views_before, s.views_after,"
                    " s.ad_views_before, s.ad_views_after, s.video_won, s.ad_won, s.total_won,"
                    " s.video_exact_milli, s.ad_exact_milli, s.rate_card_version"
                    " FROM (SELECT video_id, day, SUM(v) OVER w - v AS vb, SUM(v) OVER w AS va,"
                    " SUM(a) OVER w - a AS ab, SUM(a) OVER w AS aa FROM (SELECT video_id, day,"
                    " SUM(view_counted) v, SUM(ad_views) a FROM play_log GROUP BY video_id, day) d"
                    " WINDOW w AS (PARTITION BY video_id ORDER BY day)) o"
                    " LEFT JOIN settlement_daily s USING (video_id, day)"),
        0);
    res = mysql_store_result(db);
    assert_non_null(res);
    while ((row = mysql_fetch_row(res)) != NULL) {
        int64_t vb = atoll(row[0]), va = atoll(row[1]), ab = atoll(row[2]), aa = atoll(row[3]);
        int64_t video_won =
            bh_default_card_value_milli(va, 0) / 1000 - bh_default_card_value_milli(vb, 0) / 1000;
        int64_t ad_won =
            bh_default_card_value_milli(aa, 1) / 1000 - bh_default_card_value_milli(ab, 1) / 1000;

        assert_non_null(row[4]); /* a settlement row for every video and day with play rows */
        assert_int_equal(atoll(row[4]), vb);
        assert_int_equal(atoll(row[5]), va);
        assert_int_equal(atoll(row[6]), ab);
        assert_int_equal(atoll(row[7]), aa);
        assert_int_equal(atoll(row[8]), video_won);
        assert_int_equal(atoll(row[9]), ad_won);
        assert_int_equal(atoll(row[10]), video_won + ad_won);
        assert_int_equal(atoll(row[11]),
                         bh_default_card_value_milli(va, 0) - bh_default_card_value_milli(vb, 0));
        assert_int_equal(atoll(row[12]),
                         bh_default_card_value_milli(aa, 1) - bh_default_card_value_milli(ab, 1));
        assert_int_equal(atoll(row[13]), 1);
        if ((vb < 100000 && va >= 100000) || (ab < 100000 && aa >= 100000))
            crossings++;
        rows++;
    }
    mysql_free_result(res);
    assert_int_equal(rows, bh_int(db, "SELECT COUNT(*) FROM settlement_daily"));
    /* the burst of day 1 made the viral video cross the 100,000th view and ad view */
    assert_true(crossings >= 1);
    assert_true(bh_int(db,
                       "SELECT views_after FROM settlement_daily WHERE video_id = %llu AND"
                       " day = '" DAY2 "'",
                       (unsigned long long)viral_video) >= 100000);
}

/* Week and month rollups are the sums of their settled days. */
static void test_week_and_month_rollups_are_sums_of_days(void **state)
{
    static const struct {
        int kind;
        const char *start, *first, *last;
    } periods[] = {{2, "2010-03-29", DAY1, DAY3},
                   {3, "2010-03-01", DAY1, DAY2},
                   {3, "2010-04-01", DAY3, DAY3}};

    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        int64_t videos = bh_int(db,
                                "SELECT COUNT(DISTINCT video_id) FROM video_daily_stats"
                                " WHERE day BETWEEN '%s' AND '%s'",
                                periods[i].first, periods[i].last);

        assert_true(videos > 0);
        assert_int_equal(bh_int(db,
                                "SELECT COUNT(*) FROM video_period_stats WHERE period_kind = %d"
                                " AND period_start = '%s'",
                                periods[i].kind, periods[i].start),
                         videos);
        assert_int_equal(
            bh_int(db,
                   "SELECT COUNT(*) FROM (SELECT d.video_id, COUNT(*) n, SUM(d.views) v,"
                   " SUM(d.watch_s) w, SUM(d.ad_views) a, SUM(s.video_won) vw, SUM(s.ad_won) aw,"
                   " SUM(s.total_won) tw FROM video_daily_stats d JOIN settlement_daily s"
                   " USING (video_id, day) WHERE d.day BETWEEN '%s' AND '%s' GROUP BY d.video_id) o"
                   " LEFT JOIN video_period_stats p ON p.period_kind = %d AND p.period_start = '%s'"
                   " AND p.video_id = o.video_id WHERE p.video_id IS NULL OR p.days <> o.n"
                   " OR p.views <> o.v OR p.watch_s <> o.w OR p.ad_views <> o.a"
                   " OR p.video_won <> o.vw OR p.ad_won <> o.aw OR p.total_won <> o.tw",
                   periods[i].first, periods[i].last, periods[i].kind, periods[i].start),
            0);
    }
}

/* video_top = a ranking computed by SQL from play_log: value descending, ties by video id, top 100
 * of all videos and of each creator, values > 0 only. */
static void test_top_n_matches_sql_ranking_with_ties_by_video_id(void **state)
{
    static const struct {
        int kind;
        const char *start, *first, *last;
    } periods[] = {{1, DAY1, DAY1, DAY1},
                   {1, DAY3, DAY3, DAY3},
                   {2, "2010-03-29", DAY1, DAY3},
                   {3, "2010-03-01", DAY1, DAY2}};

    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        for (int metric = 1; metric <= 2; metric++) {
            const char *col = metric == 1 ? "view_counted" : "watch_s";
            char ranked[1400];

            snprintf(ranked, sizeof ranked,
                     "SELECT scope, video_id, value, ROW_NUMBER() OVER (PARTITION BY scope"
                     " ORDER BY value DESC, video_id) AS r FROM (SELECT 0 AS scope, p.video_id,"
                     " SUM(p.%s) AS value FROM play_log p WHERE p.day BETWEEN '%s' AND '%s'"
                     " GROUP BY p.video_id UNION ALL SELECT v.creator_id, p.video_id, SUM(p.%s)"
                     " FROM play_log p JOIN videos v ON v.id = p.video_id WHERE p.day BETWEEN"
                     " '%s' AND '%s' GROUP BY v.creator_id, p.video_id) x WHERE value > 0",
                     col, periods[i].first, periods[i].last, col, periods[i].first,
                     periods[i].last);
            assert_int_equal(bh_int(db,
                                    "SELECT COUNT(*) FROM (%s) o WHERE o.r <= 100 AND NOT EXISTS"
                                    " (SELECT 1 FROM video_top t WHERE t.period_kind = %d AND"
                                    " t.period_start = '%s' AND t.metric = %d AND t.creator_id ="
                                    " o.scope AND t.rank_no = o.r AND t.video_id = o.video_id AND"
                                    " t.value = o.value)",
                                    ranked, periods[i].kind, periods[i].start, metric),
                             0);
            assert_int_equal(bh_int(db,
                                    "SELECT COUNT(*) FROM video_top WHERE period_kind = %d AND"
                                    " period_start = '%s' AND metric = %d",
                                    periods[i].kind, periods[i].start, metric),
                             bh_int(db, "SELECT COUNT(*) FROM (%s) o WHERE o.r <= 100", ranked));
        }
    }
    /* the rankings really contain ties, broken by the lower video id first */
    assert_true(bh_int(db, "SELECT COUNT(*) FROM video_top a JOIN video_top b ON"
                           " b.period_kind = a.period_kind AND b.period_start = a.period_start"
                           " AND b.metric = a.metric AND b.creator_id = a.creator_id AND"
                           " b.rank_no = a.rank_no + 1 AND b.value = a.value"
                           " AND b.video_id > a.video_id") > 0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_top a JOIN video_top b ON"
                                " b.period_kind = a.period_kind AND b.period_start ="
                                " a.period_start AND b.metric = a.metric AND b.creator_id ="
                                " a.creator_id AND b.rank_no = a.rank_no + 1 AND (b.value >"
                                " a.value OR (b.value = a.value AND b.video_id < a.video_id))"),
                     0);
}

/* Partitions tile each day's id range; rows at the first and last id of every partition are
 * counted exactly once. */
static void test_partition_boundaries_count_rows_exactly_once(void **state)
{
    int64_t boundary_rows = 0;

    for (int d = 0; d < 3; d++) {
        const char *day = d == 0 ? DAY1 : d == 1 ? DAY2 : DAY3;
        int64_t job = bh_int(db, "SELECT id FROM batch_job WHERE business_date = '%s'", day);

        assert_true(bh_int(db, "SELECT COUNT(*) FROM batch_partition WHERE job_id = %lld",
                           (long long)job) > 5);
        /* first starts at the day's first id, last ends at its last, no gaps, no overlaps */
        assert_int_equal(bh_int(db, "SELECT MIN(first_id) FROM batch_partition WHERE job_id = %lld",
                                (long long)job),
                         bh_int(db, "SELECT MIN(id) FROM play_log WHERE day = '%s'", day));
        assert_int_equal(bh_int(db, "SELECT MAX(last_id) FROM batch_partition WHERE job_id = %lld",
                                (long long)job),
                         bh_int(db, "SELECT MAX(id) FROM play_log WHERE day = '%s'", day));
        assert_int_equal(bh_int(db,
                                "SELECT COUNT(*) FROM batch_partition a JOIN batch_partition b ON"
                                " b.job_id = a.job_id AND b.part = a.part + 1 WHERE a.job_id ="
                                " %lld AND b.first_id <> a.last_id + 1",
                                (long long)job),
                         0);
        /* every partition read exactly the day's rows of its range */
        assert_int_equal(bh_int(db,
                                "SELECT COUNT(*) FROM batch_partition p WHERE p.job_id = %lld AND"
                                " p.rows_read <> (SELECT COUNT(*) FROM play_log l WHERE l.id"
                                " BETWEEN p.first_id AND p.last_id AND l.day = '%s')",
                                (long long)job, day),
                         0);
        assert_int_equal(bh_int(db,
                                "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %lld",
                                (long long)job),
                         bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '%s'", day));
        boundary_rows += bh_int(db,
                                "SELECT COUNT(*) FROM batch_partition p JOIN play_log l ON"
                                " (l.id = p.first_id OR l.id = p.last_id) AND l.day = '%s'"
                                " WHERE p.job_id = %lld",
                                day, (long long)job);
    }
    /* the boundaries did fall on real rows of the day, so the checks above covered them */
    assert_true(boundary_rows > 10);
    /* day 1's range encloses days 2 and 3: its partitions skipped their rows */
    assert_true(bh_int(db,
                       "SELECT COUNT(*) FROM play_log l JOIN batch_job j ON j.business_date ="
                       " '" DAY1 "' WHERE l.id BETWEEN j.first_id AND j.last_id AND l.day <> '" DAY1
                       "'") > 100000);
}

/* The job repository says what happened: completed, every partition done, rows counted. */
static void test_jobs_record_partitions_rows_and_gtid(void **state)
{
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE state = 4 AND"
                                " partitions_done = partitions_total AND rows_done = rows_total"
                                " AND primary_gtid <> '' AND rate_card_version = 1"),
                     3);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_done) FROM batch_job"),
                     bh_int(db, "SELECT COUNT(*) FROM play_log"));
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_partition WHERE state <> 3"), 0);
    /* spent partials are removed */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_partial_chunk"), 0);
    /* both worker processes took part */
    assert_int_equal(bh_int(db, "SELECT COUNT(DISTINCT SUBSTRING_INDEX(worker, '/', 1))"
                                " FROM batch_partition"),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_stats_equal_sql_group_by),
        cmocka_unit_test(test_cumulative_is_running_sum_of_days),
        cmocka_unit_test(test_settlement_equals_independent_section4),
        cmocka_unit_test(test_week_and_month_rollups_are_sums_of_days),
        cmocka_unit_test(test_top_n_matches_sql_ranking_with_ties_by_video_id),
        cmocka_unit_test(test_partition_boundaries_count_rows_exactly_once),
        cmocka_unit_test(test_jobs_record_partitions_rows_and_gtid),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
