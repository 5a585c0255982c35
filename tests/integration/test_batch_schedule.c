/* test_batch_schedule.c — the coordinator settles each business day by itself (docs/batch.md,
 * "The schedule"), driven by the injectable clock (VS_TEST_CLOCK_FILE, shared by the coordinators
 * and the worker): a day is settled once it has closed in the business time zone (Asia/Seoul) and
 * the grace period has passed, exactly once; a coordinator that was down over three midnights
 * catches up three days, one job each, in date order; a second coordinator started by mistake
 * adds no job. The cases run in order on one data set. */
#include "batch_harness.h"
#include "window.h"

#define DAY1 "2015-03-02" /* Monday */
#define DAY2 "2015-03-03"
#define DAY4 "2015-03-05"
#define DAY5 "2015-03-06"
#define GRACE_S 60 /* VS_BATCH_SCHEDULE_GRACE_S below */

static bh h;
static MYSQL *db;
static pid_t coord, worker;
static vs_client *client;
static char clock_file[600], clock_env[640];
static const char *const coord_env[] = {"VS_BATCH_SCHEDULE=on", "VS_BATCH_SCHEDULE_GRACE_S=60",
                                        "VS_BATCH_PARTITION_IDS=20000", clock_env, NULL};

/* Sets the processes' wall clock to `seconds` after the start (00:00 in Seoul) of `date`. */
static void clock_at(const char *date, int64_t seconds)
{
    business_date d;
    FILE *f;
    int64_t target, real = clock_now_ms(); /* this process has no test clock: the real one */

    assert_int_equal(window_parse(date, &d), VS_OK);
    target = window_day_start_ms(d) + seconds * 1000;
    f = fopen(clock_file, "w");
    assert_non_null(f);
    fprintf(f, "0 %lld\n", (long long)(target - real));
    fclose(f);
    usleep(100 * 1000); /* the file is re-read at most every 5 ms */
}

static int64_t jobs(const char *where)
{
    return bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE %s", where);
}

/* Waits until no job is queued or running (at most 60 s). */
static void wait_idle(void)
{
    for (int64_t t0 = ts_mono_ms(); jobs("state IN (1, 2, 3)") > 0;) {
        if (ts_mono_ms() - t0 > 60000)
            fail_msg("jobs still queued or running after 60 s");
        usleep(50 * 1000);
    }
}

static int group_setup(void **state)
{
    const char *worker_env[] = {clock_env, NULL};
    char err[256];

    assert_int_equal(window_init("Asia/Seoul", err, sizeof err), VS_OK);
    bh_setup(&h, "schedule");
    bh_gen("--rows 25000 --days 5 --videos 40 --users 300 --seed 23 --start " DAY1);
    db = ts_db_primary();
    snprintf(clock_file, sizeof clock_file, "%s/clock", h.logs);
    snprintf(clock_env, sizeof clock_env, "VS_TEST_CLOCK_FILE=%s", clock_file);
    clock_at(DAY1, 23 * 3600); /* the first day has not closed yet */
    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", worker_env);
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

/* Before the day has closed, and within the grace period after, nothing is queued; ListJobs
 * says when the day is due. */
static void test_open_day_and_grace_period_queue_nothing(void **state)
{
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    const char *next_date;
    int64_t next_ms;
    business_date d2;

    sleep(2);
    assert_int_equal(jobs("1"), 0);
    assert_int_equal(vs_batch_list(client, 10, &list, &st), VS_OK);
    assert_int_equal(vs_batch_jobs_schedule(list, &next_date, &next_ms), 1);
    assert_string_equal(next_date, DAY1);
    assert_int_equal(window_parse(DAY2, &d2), VS_OK);
    assert_int_equal(next_ms, window_day_start_ms(d2) + GRACE_S * 1000);
    vs_batch_jobs_free(list);

    clock_at(DAY2, GRACE_S - 20); /* closed, but inside the grace period */
    sleep(2);
    assert_int_equal(jobs("1"), 0);
}

/* Once the grace period has passed: exactly one job, the schedule's, and it completes. */
static void test_closed_day_gets_exactly_one_job(void **state)
{
    clock_at(DAY2, GRACE_S + 10);
    for (int64_t t0 = ts_mono_ms(); jobs("1") == 0;) {
        if (ts_mono_ms() - t0 > 10000)
            fail_msg("no job 10 s after the day closed");
        usleep(50 * 1000);
    }
    wait_idle();
    sleep(2); /* the schedule keeps ticking: still one job */
    assert_int_equal(jobs("1"), 1);
    assert_int_equal(jobs("business_date = '" DAY1 "' AND state = 4 AND started_by = 'schedule'"),
                     1);
    assert_true(bh_log_has(&h, "coordinator", "schedule: " DAY1 " has closed"));
}

/* A coordinator down over three midnights: on restart, three jobs in date order, one each. */
static void test_downtime_over_three_midnights_catches_up_in_order(void **state)
{
    assert_int_equal(ts_stop(coord), 0);
    clock_at(DAY5, GRACE_S + 10); /* days 2, 3 and 4 have closed meanwhile */
    coord = bh_start_coordinator(&h, coord_env);
    for (int64_t t0 = ts_mono_ms(); jobs("state = 4") < 4;) {
        if (ts_mono_ms() - t0 > 60000)
            fail_msg("%lld of 4 days settled after 60 s", (long long)jobs("state = 4"));
        usleep(50 * 1000);
    }
    wait_idle();
    sleep(2);
    assert_int_equal(jobs("1"), 4);
    assert_int_equal(jobs("started_by = 'schedule' AND attempt = 1"), 4);
    /* in date order: job ids ascend with the date, each queued after the one before completed */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job a JOIN batch_job b ON"
                                " b.business_date > a.business_date WHERE b.id < a.id OR"
                                " b.created_ms < a.finished_ms"),
                     0);
    assert_int_equal(jobs("business_date = '" DAY5 "'"), 0); /* not closed yet */
}

/* A second coordinator started by mistake waits for the repository: the next day still gets one
 * job, and an operator's StartJob of a scheduled day returns that same job. */
static void test_second_coordinator_adds_no_job(void **state)
{
    bh other = h;
    char urls[3][300];
    const char *env[8] = {urls[0], urls[1], urls[2]};
    pid_t second;

    ts_ipc_url("coord", other.coord_url, sizeof other.coord_url);
    ts_ipc_url("tasks", other.task_url, sizeof other.task_url);
    ts_ipc_url("results", other.result_url, sizeof other.result_url);
    snprintf(urls[0], sizeof urls[0], "VS_COORD_URL=%s", other.coord_url);
    snprintf(urls[1], sizeof urls[1], "VS_TASK_URL=%s", other.task_url);
    snprintf(urls[2], sizeof urls[2], "VS_RESULT_URL=%s", other.result_url);
    for (size_t i = 0; coord_env[i] != NULL; i++)
        env[3 + i] = coord_env[i];
    second = bh_start_coordinator(&other, env);
    clock_at(DAY5, 86400 + GRACE_S + 10);
    for (int64_t t0 = ts_mono_ms(); jobs("business_date = '" DAY5 "' AND state = 4") == 0;) {
        if (ts_mono_ms() - t0 > 30000)
            fail_msg(DAY5 " not settled 30 s after it closed");
        usleep(50 * 1000);
    }
    sleep(2);
    assert_int_equal(jobs("1"), 5);
    assert_int_equal(jobs("business_date = '" DAY5 "'"), 1);
    assert_true(bh_log_has(&other, "coordinator", "another coordinator holds the job repository"));
    /* StartJob of a completed scheduled day is refused as usual, naming the job */
    {
        vs_batch_job *job = NULL;
        vs_call_status st;

        assert_int_equal(vs_batch_start(client, DAY4, 0, &job, &st), VS_FAILED_PRECONDITION);
        assert_non_null(strstr(st.message, "already completed"));
        vs_batch_job_free(job);
    }
    assert_int_equal(ts_stop(second), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_day_and_grace_period_queue_nothing),
        cmocka_unit_test(test_closed_day_gets_exactly_one_job),
        cmocka_unit_test(test_downtime_over_three_midnights_catches_up_in_order),
        cmocka_unit_test(test_second_coordinator_adds_no_job),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
