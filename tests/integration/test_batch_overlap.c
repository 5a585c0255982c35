/* test_batch_overlap.c — a day's prepare and scan overlap the merge of the day before it
 * (batch.md, "How a job runs"), and nothing else changes: a day is merged only once the day before
 * it has committed (its lifetime counts start from that day's), at most two days are in flight,
 * a failed merge keeps the next day from merging, and a coordinator killed with two days in flight
 * resumes both, the earlier first.
 *
 * To hold a merge deterministically, the test inserts (and does not commit) the close record of
 * the days' month: a merge reads that record with a share lock (merge_ledger.c), so it waits with
 * its day's rows written but uncommitted, in state MERGING, until the test rolls back. */
#include "batch_harness.h"

#define DAY1 "2014-03-03" /* a Monday */
#define DAY4 "2014-03-06"
#define MONTH "2014-03-01"
#define DAYS 4

static const char *const days[DAYS] = {DAY1, "2014-03-04", "2014-03-05", DAY4};

static bh h;
static MYSQL *db;
static pid_t coord, worker;
static vs_client *client;
static char baseline[1024]; /* the tables after settling the days one at a time */
static MYSQL *holder;       /* holds the month's merges (hold_merges), NULL when not */
static const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=6000", "VS_BATCH_LEASE_MS=5000", NULL};

static int group_setup(void **state)
{
    bh_setup(&h, "overlap");
    /* the log of an earlier run has lines with the same job ids: this run's only */
    assert_int_equal(ts_sh(": > '%s/coordinator.log'", h.logs), 0);
    bh_gen("--rows 160000 --days 4 --videos 120 --users 1500 --seed 23 --start " DAY1);
    db = ts_db_primary();
    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    client = bh_client(&h);
    for (int i = 0; i < DAYS; i++)
        bh_settle(client, days[i], 0);
    bh_digest(db, baseline, sizeof baseline);
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

/* Every settled figure and job gone: the next settlement is a first one (the ledger, which
 * refuses deletes, only grows). */
static void reset_tables(void)
{
    static const char *const tables[] = {
        "batch_partial_chunk", "batch_partition",  "batch_job",        "video_top",
        "video_period_stats",  "settlement_daily", "video_cumulative", "video_daily_stats"};

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        bh_exec(db, "DELETE FROM %s", tables[i]);
}

/* Queues DAY1..DAY4 as one range (force: a re-run of DAY1 and the days after it); the last job. */
static uint64_t start_range(int force)
{
    vs_batch_job *job = NULL;
    vs_call_status st;
    uint64_t id;

    if (vs_batch_start_range(client, DAY1, DAY4, force, &job, &st) != VS_OK)
        fail_msg("StartJob %s..%s: %s: %s", DAY1, DAY4, vs_status_name(st.code), st.message);
    assert_string_equal(vs_batch_job_date(job), DAY4);
    id = vs_batch_job_id(job);
    vs_batch_job_free(job);
    return id;
}

static int64_t job_of(int day)
{
    return bh_int(db, "SELECT id FROM batch_job WHERE business_date = '%s'", days[day]);
}

static int64_t job_int(int day, const char *column)
{
    return bh_int(db, "SELECT %s FROM batch_job WHERE business_date = '%s'", column, days[day]);
}

/* Waits (at most 120 s) until the coordinator's log has a line with text. */
static void wait_for_log(const char *text)
{
    for (int64_t t0 = ts_mono_ms(); !bh_log_has(&h, "coordinator", text); usleep(50 * 1000))
        if (ts_mono_ms() - t0 > 120000)
            fail_msg("the coordinator never logged \"%s\"", text);
}

/* Waits (at most 120 s) until the SQL's integer is want. */
static void wait_for_int(int64_t want, const char *sql)
{
    for (int64_t t0 = ts_mono_ms(); bh_int(db, "%s", sql) != want; usleep(50 * 1000))
        if (ts_mono_ms() - t0 > 120000)
            fail_msg("%s: still not %lld after 120 s", sql, (long long)want);
}

/* Holds every merge of the month at its ledger step (header comment) until release_merges. */
static void hold_merges(void)
{
    holder = ts_db_primary();
    bh_exec(holder, "START TRANSACTION");
    bh_exec(holder,
            "INSERT INTO month_close (month, closed_by, closed_ms, videos, total_won) VALUES"
            " ('" MONTH "', 'test_batch_overlap', 0, 0, 0)");
}

static void release_merges(void)
{
    bh_exec(holder, "ROLLBACK");
    mysql_close(holder);
    holder = NULL;
}

/* After each test, also a failed one: no merge held, no failure injected (else the next tests,
 * and the database's removal, would wait on them). */
static int test_teardown(void **state)
{
    MYSQL *root = bh_root_db(&h);

    if (holder != NULL)
        release_merges();
    bh_exec(root, "DROP TRIGGER IF EXISTS overlap_fail");
    mysql_close(root);
    return 0;
}

/* The merge of day i is under way (MERGING) and waiting on the held close record. */
static void wait_until_merge_held(int day)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT state FROM batch_job WHERE business_date = '%s'", days[day]);
    wait_for_int(VS_JOB_MERGING, sql);
}

/* The line the scheduler logs once a scanned day waits for the merge before it. */
static void wait_until_scanned_and_waiting(int day)
{
    char text[160];

    snprintf(text, sizeof text, "job %lld %s: all partitions in; its merge waits for job %lld",
             (long long)job_of(day), days[day], (long long)job_of(day - 1));
    wait_for_log(text);
}

/* Days were merged in date order, and a day started only once the day two before it had
 * finished: at most two days in flight. */
static void assert_merged_in_order(void)
{
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE state <> 4"), 0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date WHERE b.finished_ms <"
                                " a.finished_ms"),
                     0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date + INTERVAL 1 DAY WHERE"
                                " b.started_ms < a.finished_ms"),
                     0);
}

/* settlement_daily = the rules computed here from lifetime counts summed from play_log. */
static void assert_settlement_follows_the_rules(void)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    int64_t rows = 0;

    assert_int_equal(
        mysql_query(db,
                    "SELECT o.vb, o.va, o.ab, o.aa, s.views_before, s.views_after,"
                    " s.ad_views_before, s.ad_views_after, s.video_won, s.ad_won"
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

        assert_non_null(row[4]);
        assert_int_equal(atoll(row[4]), vb);
        assert_int_equal(atoll(row[5]), va);
        assert_int_equal(atoll(row[6]), ab);
        assert_int_equal(atoll(row[7]), aa);
        assert_int_equal(atoll(row[8]), bh_default_card_value_milli(va, 0) / 1000 -
                                            bh_default_card_value_milli(vb, 0) / 1000);
        assert_int_equal(atoll(row[9]), bh_default_card_value_milli(aa, 1) / 1000 -
                                            bh_default_card_value_milli(ab, 1) / 1000);
        rows++;
    }
    mysql_free_result(res);
    assert_true(rows > 3 * 100); /* most videos have rows on most days */
    assert_int_equal(rows, bh_int(db, "SELECT COUNT(*) FROM settlement_daily"));
}

/* A range from empty tables: the days' scans overlap their predecessors' merges, and the tables
 * equal settling the days one at a time, and the rules. */
static void test_range_equals_day_by_day_and_the_rules(void **state)
{
    char after[1024];

    reset_tables();
    assert_int_equal(bh_wait(client, start_range(0), 300), VS_JOB_COMPLETED);
    assert_merged_in_order();
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
    assert_settlement_follows_the_rules();
}

/* A forced re-run of the first day re-queues the later ones; they run again, identically. */
static void test_forced_rerun_of_the_first_day_is_identical(void **state)
{
    char after[1024];
    uint64_t first = bh_start(client, DAY1, 1);

    assert_int_equal(bh_wait(client, first, 300), VS_JOB_COMPLETED);
    assert_int_equal(bh_wait(client, (uint64_t)job_of(DAYS - 1), 300), VS_JOB_COMPLETED);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE attempt = 2"), DAYS);
    assert_merged_in_order();
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* While day 1's merge is held, day 2 is prepared and scanned to its last partition, and waits;
 * day 3 is not started (two days in flight at most). Released, everything completes identically. */
static void test_next_day_is_scanned_while_the_day_before_merges(void **state)
{
    char after[1024], text[128];
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    int seen = 0;

    reset_tables();
    hold_merges();
    start_range(0);
    wait_until_merge_held(0);
    wait_until_scanned_and_waiting(1);
    snprintf(text, sizeof text, "job %lld %s: prepared while %s merges", (long long)job_of(1),
             days[1], DAY1);
    assert_true(bh_log_has(&h, "coordinator", text));
    /* the repository: day 1 merging, day 2 scanned to the end but not merged, day 3 not begun */
    assert_int_equal(job_int(0, "state"), VS_JOB_MERGING);
    assert_int_equal(job_int(1, "state"), VS_JOB_RUNNING);
    assert_true(job_int(1, "partitions_total") > 3);
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %lld AND"
                            " state = 3",
                            (long long)job_of(1)),
                     job_int(1, "partitions_total"));
    assert_int_equal(job_int(1, "partitions_done"), job_int(1, "partitions_total"));
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats"), 0);
    assert_int_equal(job_int(2, "state"), VS_JOB_PENDING);
    assert_int_equal(job_int(2, "partitions_total"), 0);
    /* and ListJobs (vsctl batch list) says so */
    assert_int_equal(vs_batch_list(client, 10, &list, &st), VS_OK);
    for (size_t i = 0; i < vs_batch_jobs_count(list); i++) {
        const vs_batch_job *j = vs_batch_jobs_at(list, i);
        int want = strcmp(vs_batch_job_date(j), DAY1) == 0      ? VS_JOB_MERGING
                   : strcmp(vs_batch_job_date(j), days[1]) == 0 ? VS_JOB_RUNNING
                                                                : VS_JOB_PENDING;

        assert_int_equal(vs_batch_job_state(j), want);
        seen++;
    }
    vs_batch_jobs_free(list);
    assert_int_equal(seen, DAYS);

    release_merges();
    assert_int_equal(bh_wait(client, (uint64_t)job_of(DAYS - 1), 300), VS_JOB_COMPLETED);
    assert_merged_in_order();
    /* day 2 started before day 1 finished: the overlap, in the repository's own timestamps */
    assert_true(job_int(1, "started_ms") < job_int(0, "finished_ms"));
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* Day 1's merge fails after day 2 was scanned: day 2 is not merged (its partials stay) and fails
 * as a day after a failed one does; the days after it too. Queued again once the cause is gone,
 * they complete identically. */
static void test_failed_merge_leaves_the_next_day_unmerged(void **state)
{
    char after[1024];
    MYSQL *root = bh_root_db(&h);

    reset_tables();
    bh_exec(root, "CREATE TRIGGER overlap_fail BEFORE UPDATE ON batch_job FOR EACH ROW"
                  " BEGIN IF NEW.state = 4 AND NEW.business_date = '" DAY1 "' THEN"
                  " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected merge failure';"
                  " END IF; END");
    hold_merges();
    start_range(0);
    wait_until_merge_held(0);
    wait_until_scanned_and_waiting(1);
    release_merges();
    assert_int_equal(bh_wait(client, (uint64_t)job_of(DAYS - 1), 300), VS_JOB_FAILED);

    assert_int_equal(job_int(0, "state"), VS_JOB_FAILED);
    assert_true(bh_int(db, "SELECT error LIKE '%%injected merge failure%%' FROM batch_job"
                           " WHERE business_date = '" DAY1 "'"));
    assert_int_equal(job_int(1, "state"), VS_JOB_FAILED);
    assert_true(bh_int(db,
                       "SELECT error LIKE '%%the earlier day " DAY1 "%%' FROM batch_job"
                       " WHERE business_date = '%s'",
                       days[1]));
    /* day 2 was scanned but never merged: no rows of it, its partials kept */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats"), 0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM settlement_daily"), 0);
    assert_int_equal(job_int(1, "partitions_done"), job_int(1, "partitions_total"));
    assert_true(bh_int(db, "SELECT COUNT(*) FROM batch_partial_chunk WHERE job_id = %lld",
                       (long long)job_of(1)) > 0);
    for (int i = 2; i < DAYS; i++)
        assert_int_equal(job_int(i, "state"), VS_JOB_FAILED);

    bh_exec(root, "DROP TRIGGER overlap_fail");
    mysql_close(root);
    assert_int_equal(bh_wait(client, start_range(0), 300), VS_JOB_COMPLETED);
    assert_merged_in_order();
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* The coordinator SIGKILLed with day 1 merging and day 2 scanning: restarted, it merges day 1
 * first, resumes day 2 on its partitions (not prepared again), and the tables are identical. */
static void test_coordinator_killed_with_two_days_in_flight(void **state)
{
    char after[1024], text[128];
    int64_t started2, parts2;

    reset_tables();
    hold_merges();
    start_range(0);
    wait_until_merge_held(0);
    snprintf(text, sizeof text, "job %lld %s: prepared while %s merges", (long long)job_of(1),
             days[1], DAY1);
    wait_for_log(text);
    started2 = job_int(1, "started_ms");
    parts2 = job_int(1, "partitions_total");
    bh_kill(coord);
    assert_int_equal(job_int(0, "state"), VS_JOB_MERGING);
    assert_int_equal(job_int(1, "state"), VS_JOB_RUNNING);
    release_merges(); /* the killed merge's transaction is rolled back */
    coord = bh_start_coordinator(&h, coord_env);
    assert_int_equal(bh_wait(client, (uint64_t)job_of(DAYS - 1), 300), VS_JOB_COMPLETED);
    assert_merged_in_order();
    /* day 2 resumed: the same partitions, not cut again, each row read once */
    assert_int_equal(job_int(1, "started_ms"), started2);
    assert_int_equal(job_int(1, "partitions_total"), parts2);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %lld",
                            (long long)job_of(1)),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '%s'", days[1]));
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_range_equals_day_by_day_and_the_rules, test_teardown),
        cmocka_unit_test_teardown(test_forced_rerun_of_the_first_day_is_identical, test_teardown),
        cmocka_unit_test_teardown(test_next_day_is_scanned_while_the_day_before_merges,
                                  test_teardown),
        cmocka_unit_test_teardown(test_failed_merge_leaves_the_next_day_unmerged, test_teardown),
        cmocka_unit_test_teardown(test_coordinator_killed_with_two_days_in_flight, test_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
