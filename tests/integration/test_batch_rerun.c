/* test_batch_rerun.c — the job instance rules (docs/rules.md "Settling a day", docs/batch.md):
 * days settle in order, a completed day is refused unless forced, a forced re-run recomputes the
 * day and every later completed day and ends with identical tables when nothing changed, and
 * bad requests are refused naming the field. The cases run in order on one data set. */
#include <pthread.h>
#include <time.h>

#include "batch_harness.h"

#define DAY1 "2012-06-04"
#define DAY2 "2012-06-05"
#define DAY3 "2012-06-06"
#define DAY4 "2012-06-07" /* no play rows */

static bh h;
static MYSQL *db;
static pid_t coord, worker;
static vs_client *client;

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=5000", NULL};

    bh_setup(&h, "rerun");
    bh_gen("--rows 60000 --days 3 --videos 50 --users 500 --seed 5 --start " DAY1);
    db = ts_db_primary();
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

static int start_status(const char *date, int force, vs_call_status *st)
{
    vs_batch_job *job = NULL;
    int rc = vs_batch_start(client, date, force, &job, st);

    vs_batch_job_free(job);
    return rc;
}

/* Cumulative counts of a day depend on every earlier day: day 2 waits for day 1. */
static void test_day_with_unsettled_earlier_day_refused(void **state)
{
    vs_call_status st;

    assert_int_equal(start_status(DAY2, 0, &st), VS_FAILED_PRECONDITION);
    assert_non_null(strstr(st.message, "date: "));
    assert_non_null(strstr(st.message, DAY1));
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job"), 0);
}

/* A completed day is final: running it again is FAILED_PRECONDITION and changes nothing. */
static void test_completed_day_rerun_refused(void **state)
{
    vs_call_status st;
    char before[1024], after[1024];

    bh_settle(client, DAY1, 0);
    bh_digest(db, before, sizeof before);
    assert_int_equal(start_status(DAY1, 0, &st), VS_FAILED_PRECONDITION);
    assert_non_null(strstr(st.message, "already completed"));
    bh_digest(db, after, sizeof after);
    assert_string_equal(before, after);
    assert_int_equal(bh_int(db, "SELECT attempt FROM batch_job WHERE business_date = '" DAY1 "'"),
                     1);
}

/* The outcome of an asynchronous GetJob with wait_ms. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, code, state;
} waited = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void wait_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    pthread_mutex_lock(&waited.lock);
    waited.code = code;
    waited.state = reply != NULL ? (int)((Vs__V1__Job *)reply)->state : 0;
    waited.done = 1;
    pthread_cond_signal(&waited.cond);
    pthread_mutex_unlock(&waited.lock);
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
}

/* StartJob of a queued or running day returns that job instead of a second one. */
static void test_start_while_running_returns_the_same_job(void **state)
{
    vs_batch_job *a = NULL, *b = NULL;
    vs_call_status st;

    ts_stop(worker); /* nobody takes the partitions: the job stays running */
    assert_int_equal(vs_batch_start(client, DAY2, 0, &a, &st), VS_OK);
    assert_int_equal(vs_batch_start(client, DAY2, 0, &b, &st), VS_OK);
    assert_int_equal(vs_batch_job_id(a), vs_batch_job_id(b));
    assert_int_equal(vs_batch_job_attempt(b), 1);
    /* progress while it waits for workers: partitions fixed, none done, the row estimate covers
     * the day (the id span is an upper bound) */
    bh_wait_state(client, vs_batch_job_id(a), VS_JOB_RUNNING);
    vs_batch_job_free(b);
    assert_int_equal(vs_batch_get(client, vs_batch_job_id(a), &b, &st), VS_OK);
    assert_int_equal(vs_batch_job_state(b), VS_JOB_RUNNING);
    assert_int_equal(vs_batch_job_partitions_total(b),
                     bh_int(db, "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)vs_batch_job_id(a)));
    assert_true(vs_batch_job_partitions_total(b) > 1);
    assert_int_equal(vs_batch_job_partitions_done(b), 0);
    assert_int_equal(vs_batch_job_rows_done(b), 0);
    assert_true(vs_batch_job_rows_total(b) >=
                bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY2 "'"));
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE business_date = '" DAY2 "'"),
                     1);
    /* GetJob with wait_ms: no end in sight, so the reply comes after the wait, still running */
    vs_batch_job_free(b);
    assert_int_equal(vs_batch_wait(client, vs_batch_job_id(a), 300, &b, &st), VS_OK);
    assert_int_equal(vs_batch_job_state(b), VS_JOB_RUNNING);
    vs_batch_job_free(b);
    assert_int_equal(vs_batch_wait(client, vs_batch_job_id(a), 30001, &b, &st),
                     VS_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "wait_ms: "));
    /* asked with wait_ms while no worker runs, only a coordinator that waits for the job's end
     * can answer with the completed job */
    {
        Vs__V1__GetJobRequest req = VS__V1__GET_JOB_REQUEST__INIT;

        req.id = vs_batch_job_id(a);
        req.wait_ms = 8000;
        assert_int_equal(vs_client_call_named_async(client, &vs__v1__batch_service__descriptor,
                                                    "GetJob", &req.base, wait_done, NULL),
                         VS_OK);
        usleep(300 * 1000); /* the call reaches the coordinator before a worker exists */
        worker = bh_start_worker(&h, 2, "worker", NULL);
        pthread_mutex_lock(&waited.lock);
        while (!waited.done)
            pthread_cond_wait(&waited.cond, &waited.lock);
        pthread_mutex_unlock(&waited.lock);
        assert_int_equal(waited.code, VS_OK);
        assert_int_equal(waited.state, VS_JOB_COMPLETED);
    }
    b = NULL;
    assert_int_equal(vs_batch_get(client, vs_batch_job_id(a), &b, &st), VS_OK);
    assert_int_equal(vs_batch_job_state(b), VS_JOB_COMPLETED);
    vs_batch_job_free(a);
    vs_batch_job_free(b);
}

/* A day without play rows settles too (nothing to partition), so later days can follow it. */
static void test_day_without_play_rows_completes_empty(void **state)
{
    bh_settle(client, DAY3, 0);
    bh_settle(client, DAY4, 0);
    assert_int_equal(
        bh_int(db, "SELECT partitions_total FROM batch_job WHERE business_date = '" DAY4 "'"), 0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats WHERE day = '" DAY4 "'"),
                     0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_top WHERE period_kind = 1 AND"
                                " period_start = '" DAY4 "'"),
                     0);
}

/* force on day 1 recomputes days 1..4 and, with the same play_log, every table is identical. */
static void test_forced_rerun_recomputes_later_days_with_identical_tables(void **state)
{
    char before[1024], after[1024];
    uint64_t day1;
    int64_t day4_job;

    bh_digest(db, before, sizeof before);
    day1 = bh_start(client, DAY1, 1);
    assert_int_equal(bh_wait(client, day1, 300), VS_JOB_COMPLETED);
    day4_job = bh_int(db, "SELECT id FROM batch_job WHERE business_date = '" DAY4 "'");
    assert_int_equal(bh_wait(client, (uint64_t)day4_job, 300), VS_JOB_COMPLETED);
    /* every later completed day ran again, in order: merged in date order, and a day started
     * (its scan overlaps the merge of the day before it) only once the day two before finished */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE attempt = 2 AND state = 4"),
                     4);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date WHERE b.finished_ms <"
                                " a.finished_ms"),
                     0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date + INTERVAL 1 DAY WHERE"
                                " b.started_ms < a.finished_ms"),
                     0);
    bh_digest(db, after, sizeof after);
    assert_string_equal(before, after);
}

/* Rows added to day 2 after it was settled are picked up by a forced re-run, and day 3's lifetime
 * counts and money move with them. */
static void test_forced_rerun_picks_up_late_rows_and_shifts_later_days(void **state)
{
    uint64_t video = (uint64_t)bh_int(db, "SELECT MIN(video_id) FROM play_log");
    int64_t day3_before = bh_int(db,
                                 "SELECT views_before FROM settlement_daily WHERE video_id = %llu"
                                 " AND day = '" DAY3 "'",
                                 (unsigned long long)video);

    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " view_counted) SELECT CONCAT('late-', seq), 1, %llu, 800000 + seq, '" DAY2 "', 0, 1"
            " FROM seq_1_to_25",
            (unsigned long long)video);
    bh_settle(client, DAY2, 1);
    assert_int_equal(bh_wait(client,
                             (uint64_t)bh_int(db, "SELECT id FROM batch_job WHERE business_date ="
                                                  " '" DAY4 "'"),
                             300),
                     VS_JOB_COMPLETED);
    assert_int_equal(bh_int(db,
                            "SELECT views FROM video_daily_stats WHERE video_id = %llu AND day ="
                            " '" DAY2 "'",
                            (unsigned long long)video),
                     bh_int(db,
                            "SELECT SUM(view_counted) FROM play_log WHERE video_id = %llu AND day"
                            " = '" DAY2 "'",
                            (unsigned long long)video));
    assert_int_equal(bh_int(db,
                            "SELECT views_before FROM settlement_daily WHERE video_id = %llu AND"
                            " day = '" DAY3 "'",
                            (unsigned long long)video),
                     day3_before + 25);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM (SELECT video_id, day, SUM(v) OVER w AS lv"
                                " FROM (SELECT video_id, day, SUM(view_counted) v FROM play_log"
                                " GROUP BY video_id, day) d WINDOW w AS (PARTITION BY video_id"
                                " ORDER BY day)) o LEFT JOIN video_cumulative c USING (video_id,"
                                " day) WHERE c.views_lifetime IS NULL OR c.views_lifetime <> o.lv"),
                     0);
    /* the week rollup moved by exactly the 25 views */
    assert_int_equal(bh_int(db,
                            "SELECT views FROM video_period_stats WHERE period_kind = 2 AND"
                            " period_start = '" DAY1 "' AND video_id = %llu",
                            (unsigned long long)video),
                     bh_int(db, "SELECT SUM(view_counted) FROM play_log WHERE video_id = %llu",
                            (unsigned long long)video));
}

/* Bad requests are refused with the field named, and create nothing. */
static void test_bad_requests_name_the_field(void **state)
{
    Vs__V1__StartJobRequest req = VS__V1__START_JOB_REQUEST__INIT;
    Vs__V1__GetJobRequest get = VS__V1__GET_JOB_REQUEST__INIT;
    Vs__V1__ListJobsRequest list = VS__V1__LIST_JOBS_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    vs_batch_job *job = NULL;
    vs_call_status st;
    int64_t jobs = bh_int(db, "SELECT COUNT(*) FROM batch_job");
    char today[11];
    time_t now = time(NULL) + 9 * 3600; /* Asia/Seoul has no DST: UTC+9 */

    assert_int_equal(start_status("2012-13-01", 0, &st), VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "date:", 5) == 0);
    assert_int_equal(start_status("", 0, &st), VS_INVALID_ARGUMENT);
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
    assert_int_equal(start_status(today, 0, &st), VS_FAILED_PRECONDITION);
    assert_non_null(strstr(st.message, "not over yet"));
    req.job = (char *)"weekly-settlement";
    req.date = (char *)DAY1;
    assert_int_equal(vs_client_call_named(client, &vs__v1__batch_service__descriptor, "StartJob",
                                          &req.base, &out, &st),
                     VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "job:", 4) == 0);
    assert_int_equal(vs_client_call_named(client, &vs__v1__batch_service__descriptor, "GetJob",
                                          &get.base, &out, &st),
                     VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "id:", 3) == 0);
    assert_int_equal(vs_batch_get(client, 987654321, &job, &st), VS_NOT_FOUND);
    list.limit = 5000;
    assert_int_equal(vs_client_call_named(client, &vs__v1__batch_service__descriptor, "ListJobs",
                                          &list.base, &out, &st),
                     VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "limit:", 6) == 0);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job"), jobs);
}

/* vsctl batch: list and status read the repository; run of a completed day exits 1. */
static void test_vsctl_batch_commands(void **state)
{
    const char *vsctl = ts_program("client/vsctl");
    char out[700];

    snprintf(out, sizeof out, "%s/vsctl.out", h.logs);
    assert_int_equal(ts_sh("'%s' batch list > '%s'", vsctl, out), 0);
    assert_int_equal(ts_sh("grep -c completed '%s' | grep -qx 4", out), 0);
    assert_int_equal(ts_sh("'%s' --json batch status > '%s'", vsctl, out), 0);
    assert_int_equal(ts_sh("grep -q '\"date\": \"" DAY4 "\"' '%s' && grep -q '\"state\":"
                           " \"completed\"' '%s'",
                           out, out),
                     0);
    assert_int_equal(ts_sh("'%s' batch run --date " DAY1 " 2> '%s'", vsctl, out), 1);
    assert_int_equal(ts_sh("grep -q FAILED_PRECONDITION '%s'", out), 0);
    assert_int_equal(ts_sh("'%s' batch run --date " DAY1 " --force --wait > '%s'", vsctl, out), 0);
    assert_int_equal(ts_sh("grep -q 'completed (attempt 3)' '%s'", out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_with_unsettled_earlier_day_refused),
        cmocka_unit_test(test_completed_day_rerun_refused),
        cmocka_unit_test(test_start_while_running_returns_the_same_job),
        cmocka_unit_test(test_day_without_play_rows_completes_empty),
        cmocka_unit_test(test_forced_rerun_recomputes_later_days_with_identical_tables),
        cmocka_unit_test(test_forced_rerun_picks_up_late_rows_and_shifts_later_days),
        cmocka_unit_test(test_bad_requests_name_the_field),
        cmocka_unit_test(test_vsctl_batch_commands),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
