/* test_batch_incremental.c — the week and month rollups and their top-N lists are kept
 * incrementally (each day adds its change to them); they must equal a full recomputation.
 *
 * Nine days over two weeks and two months are settled in order; then the data changes under
 * settled days and forced re-runs recompute them: rows added to one day (values only go up: the
 * lists are re-ranked from their entries plus the changed videos), rows removed from another
 * (values go down: the whole period is ranked), one video losing the only day it had in a week
 * (its rollup row goes), and a re-run with unchanged data. Every table is then compared with a
 * settlement of all nine days from empty tables (queued at once: a range StartJob), and the rollups
 * with SQL over the daily rows. */
#include "batch_harness.h"
#include "window.h"

#define D1 "2010-03-25" /* Thursday; its week starts 2010-03-22 */
#define D2 "2010-03-26"
#define D3 "2010-03-27"
#define D5 "2010-03-29" /* Monday: a new week */
#define WEEK2 "2010-03-29"
#define DAYS 9 /* to 2010-04-02: a new month */

static bh h;
static MYSQL *db;
static pid_t coord, worker;
static vs_client *client;
static uint64_t lonely; /* a video whose only day in the second week is D5 */

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=9000", NULL};

    bh_setup(&h, "incremental");
    /* 3,000 videos of 3 creators, ~1.7 rows per video and day: every list is full, and a day
     * leaves a sixth of the videos unchanged (they stay ranked by their list entries) */
    bh_gen("--rows 45000 --days 9 --videos 3000 --users 900 --creators 3 --seed 17 --start " D1);
    db = ts_db_primary();
    lonely = (uint64_t)bh_int(db, "SELECT MIN(video_id) FROM play_log WHERE day = '" D5 "'");
    bh_exec(db,
            "DELETE FROM play_log WHERE video_id = %llu AND day >= '" WEEK2 "' AND day <> '" D5 "'",
            (unsigned long long)lonely);
    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    client = bh_client(&h);
    return 0;
}

static int group_teardown(void **state)
{
    vs_client_close(client);
    ts_stop(worker);
    ts_stop(coord);
    mysql_close(db);
    bh_teardown(&h);
    return 0;
}

static void day_text(int i, char out[11])
{
    business_date d;

    assert_int_equal(window_parse(D1, &d), VS_OK);
    window_format(d + i, out);
}

/* Settles the nine days in order (each waits for the last). */
static void settle_all(void)
{
    for (int i = 0; i < DAYS; i++) {
        char d[11];

        day_text(i, d);
        bh_settle(client, d, 0);
    }
}

/* The nine days queued at once (one StartJob with to_date), run back to back in date order. */
static void settle_range(void)
{
    char last[11];
    vs_batch_job *job = NULL;
    vs_call_status st;

    day_text(DAYS - 1, last);
    assert_int_equal(vs_batch_start_range(client, D1, last, 0, &job, &st), VS_OK);
    assert_string_equal(vs_batch_job_date(job), last);
    assert_int_equal(bh_wait(client, vs_batch_job_id(job), 120), VS_JOB_COMPLETED);
    vs_batch_job_free(job);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE state = 4 AND attempt = 1"),
                     DAYS);
    /* merged in date order; a day's scan may overlap the merge of the day before it only */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date WHERE b.finished_ms <"
                                " a.finished_ms"),
                     0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date + INTERVAL 1 DAY WHERE"
                                " b.started_ms < a.finished_ms"),
                     0);
}

/* A forced re-run of date and of every later day it re-queues; asserts all completed. */
static void rerun_from(const char *date)
{
    bh_settle(client, date, 1);
    for (int64_t t0 = ts_mono_ms();
         bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE state IN (1, 2, 3)") > 0;) {
        if (ts_mono_ms() - t0 > 120000)
            fail_msg("the re-run of %s did not finish within 120 s", date);
        usleep(50 * 1000);
    }
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE state <> 4"), 0);
}

/* Rollup rows that differ from SQL over the daily rows, both ways (0 when they agree). */
static int64_t rollups_off_sql(void)
{
    static const char expected[] =
        "SELECT %d AS period_kind, %s AS period_start, d.video_id, d.creator_id, COUNT(*) AS days,"
        " SUM(d.views) AS views, SUM(d.watch_s) AS watch_s, SUM(d.ad_views) AS ad_views,"
        " SUM(s.video_won) AS video_won, SUM(s.ad_won) AS ad_won, SUM(s.total_won) AS total_won"
        " FROM video_daily_stats d JOIN settlement_daily s USING (video_id, day)"
        " GROUP BY 1, 2, d.video_id, d.creator_id";
    char week[1024], month[1024];

    snprintf(week, sizeof week, expected, 2, "d.day - INTERVAL WEEKDAY(d.day) DAY");
    snprintf(month, sizeof month, expected, 3, "d.day - INTERVAL (DAYOFMONTH(d.day) - 1) DAY");
    return bh_int(
        db,
        "SELECT COUNT(*) FROM ((SELECT * FROM video_period_stats EXCEPT (%s UNION ALL %s))"
        " UNION ALL ((%s UNION ALL %s) EXCEPT SELECT * FROM video_period_stats)) x",
        week, month, week, month);
}

static void test_incremental_rollups_equal_a_full_recomputation(void **state)
{
    char incremental[1024], full[1024];
    uint64_t top_week2;

    settle_all();
    assert_int_equal(rollups_off_sql(), 0);
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '" WEEK2 "' AND video_id = %llu AND days = 1",
                            (unsigned long long)lonely),
                     1);

    /* values go up: late rows of D3 for every seventh video, three times the watch time */
    bh_exec(db, "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
                " watch_s, ad_views, view_counted) SELECT CONCAT('late-', id), kind, video_id,"
                " viewer_id, day, received_at_ms, watch_s * 3, ad_views, view_counted FROM play_log"
                " WHERE day = '" D3 "' AND video_id %% 7 = 0");
    rerun_from(D3);
    assert_int_equal(rollups_off_sql(), 0);
    assert_true(bh_log_has(&h, "coordinator", "top incremental"));

    /* values go down: D5 loses the second week's leading video, a third of its other rows and
     * the lonely video's only rows of the week */
    top_week2 = (uint64_t)bh_int(db, "SELECT video_id FROM video_top WHERE period_kind = 2 AND"
                                     " period_start = '" WEEK2 "' AND metric = 1 AND creator_id = 0"
                                     " AND rank_no = 1");
    bh_exec(db,
            "DELETE FROM play_log WHERE day = '" D5
            "' AND (video_id IN (%llu, %llu) OR id %% 3 = 0)",
            (unsigned long long)top_week2, (unsigned long long)lonely);
    rerun_from(D5);
    assert_int_equal(rollups_off_sql(), 0);
    assert_true(bh_log_has(&h, "coordinator", "top full"));
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '" WEEK2 "' AND video_id = %llu",
                            (unsigned long long)lonely),
                     0);

    /* nothing changed: the re-run keeps every table as it is */
    bh_digest(db, incremental, sizeof incremental);
    rerun_from(D2);
    bh_digest(db, full, sizeof full);
    assert_string_equal(incremental, full);

    /* the same data settled from empty tables, the nine days queued at once */
    bh_exec(db, "DELETE FROM batch_partial_chunk");
    bh_exec(db, "DELETE FROM batch_partition");
    bh_exec(db, "DELETE FROM batch_job");
    bh_exec(db, "DELETE FROM video_top");
    bh_exec(db, "DELETE FROM video_period_stats");
    bh_exec(db, "DELETE FROM settlement_daily");
    bh_exec(db, "DELETE FROM video_cumulative");
    bh_exec(db, "DELETE FROM video_daily_stats");
    settle_range();
    bh_digest(db, full, sizeof full);
    assert_string_equal(incremental, full);
}

/* A range StartJob with a bad end is refused naming to_date, and queues nothing. */
static void test_range_refusals_name_to_date(void **state)
{
    static const struct {
        const char *from, *to, *says;
        int code;
    } cases[] = {
        {D3, D2, "to_date: must be from date", VS_INVALID_ARGUMENT},
        {D1, "2011-03-26", "to_date: must be from date", VS_INVALID_ARGUMENT},
        {D1, "2010-13-01", "to_date: expected a business date", VS_INVALID_ARGUMENT},
        {D1, "9999-01-01", "to_date: must be from date", VS_INVALID_ARGUMENT},
        {"2099-01-01", "2099-01-02", "is not over yet", VS_FAILED_PRECONDITION},
    };
    int64_t before = bh_int(db, "SELECT COUNT(*) + COALESCE(SUM(attempt), 0) FROM batch_job");

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vs_batch_job *job = NULL;
        vs_call_status st;

        assert_int_equal(vs_batch_start_range(client, cases[i].from, cases[i].to, 1, &job, &st),
                         cases[i].code);
        if (strstr(st.message, cases[i].says) == NULL)
            fail_msg("%s..%s: %s", cases[i].from, cases[i].to, st.message);
        vs_batch_job_free(job);
    }
    assert_int_equal(bh_int(db, "SELECT COUNT(*) + COALESCE(SUM(attempt), 0) FROM batch_job"),
                     before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_incremental_rollups_equal_a_full_recomputation),
        cmocka_unit_test(test_range_refusals_name_to_date),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
