/* test_batch_leases.c — partition leases (docs/batch.md "Leases"): a worker that dies loses its
 * partitions at once, not when their leases run out; a worker that is alive but slow keeps its
 * partition by renewing the lease.
 *
 * A killed worker is caught mid-commit the way test_batch_faults.c does it (the test holds the
 * partial chunk rows the worker is about to write). A slow worker is one whose partition scan
 * waits behind the test's LOCK TABLES play_log WRITE (it reads the primary). */
#include "batch_harness.h"

#define DAY1 "2014-05-01"
#define DAY2 "2014-05-02"

static bh h;
static MYSQL *db, *root;
static char baseline[1024];

static int group_setup(void **state)
{
    const char *env[] = {"VS_BATCH_PARTITION_IDS=6000", NULL};
    pid_t coord, worker;
    vs_client *client;

    bh_setup(&h, "leases");
    bh_gen("--rows 60000 --days 2 --videos 60 --users 600 --seed 5 --start " DAY1);
    db = ts_db_primary();
    root = bh_root_db(&h);
    coord = bh_start_coordinator(&h, env);
    client = bh_client(&h);
    worker = bh_start_worker(&h, 2, "baseline", NULL);
    bh_settle(client, DAY1, 0);
    bh_settle(client, DAY2, 0);
    ts_stop(worker);
    vs_client_close(client);
    ts_stop(coord);
    bh_digest(db, baseline, sizeof baseline);
    return 0;
}

static int group_teardown(void **state)
{
    mysql_close(db);
    mysql_close(root);
    bh_teardown(&h);
    return 0;
}

static int64_t job_count(uint64_t job, const char *condition)
{
    return bh_int(db, "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND %s",
                  (unsigned long long)job, condition);
}

/* Waits until n sessions of the test's database run a statement starting with `statement` in a
 * state starting with `state` (as root sees them). */
static void wait_for_sessions(const char *statement, const char *state, int n)
{
    for (int64_t t0 = ts_mono_ms();; usleep(20 * 1000)) {
        if (bh_int(root,
                   "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '%s' AND"
                   " INFO LIKE '%s%%' AND STATE LIKE '%s%%'",
                   h.db, statement, state) >= n)
            return;
        if (ts_mono_ms() - t0 > 60000)
            fail_msg("no %d session(s) running %s in state %s", n, statement, state);
    }
}

/* The day-1 re-run and the day-2 re-run it queues end with the fault-free run's tables. */
static void assert_days_settled_as_baseline(vs_client *client)
{
    char after[1024];

    assert_int_equal(bh_wait(client,
                             (uint64_t)bh_int(db, "SELECT id FROM batch_job WHERE"
                                                  " business_date = '" DAY2 "'"),
                             300),
                     VS_JOB_COMPLETED);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* kill -9 of a worker holding partitions, with the default 60 s lease: the coordinator sees its
 * connections close and re-issues its partitions at once, so the job completes within 10 s and
 * its tables equal a clean run's. */
static void test_killed_worker_partitions_are_reissued_without_waiting_for_the_lease(void **state)
{
    const char *env[] = {"VS_BATCH_PARTITION_IDS=6000", "VS_BATCH_LEASE_MS=60000",
                         "VS_BATCH_INFLIGHT=4", NULL};
    pid_t coord = bh_start_coordinator(&h, env), victim, rescuer;
    vs_client *client = bh_client(&h);
    uint64_t job = bh_start(client, DAY1, 1);
    int64_t parts;

    bh_wait_state(client, job, VS_JOB_RUNNING); /* no worker yet: partitions wait */
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    assert_true(parts > 4);
    /* hold the partial chunk row of every partition: a worker committing one waits for us */
    bh_exec(db, "START TRANSACTION");
    for (int p = 0; p < parts; p++)
        bh_exec(db,
                "INSERT INTO batch_partial_chunk (job_id, part, chunk, videos, data) VALUES"
                " (%llu, %d, 0, 0, '')",
                (unsigned long long)job, p);
    victim = bh_start_worker(&h, 2, "victim", NULL);
    wait_for_sessions("INSERT INTO batch_partial_chunk", "", 2);
    assert_true(job_count(job, "state = 2") >= 2); /* two being committed, maybe more queued */
    bh_kill(victim);
    bh_exec(db, "ROLLBACK");
    rescuer = bh_start_worker(&h, 2, "rescuer", NULL);
    /* the bound this rule states; the lease alone would take 60 s */
    assert_int_equal(bh_wait(client, job, 10), VS_JOB_COMPLETED);
    assert_true(bh_log_has(&h, "coordinator", "re-issuing"));
    assert_int_equal(job_count(job, "worker LIKE 'victim%'"), 0);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY1 "'"));
    assert_days_settled_as_baseline(client);
    ts_stop(rescuer);
    vs_client_close(client);
    ts_stop(coord);
}

/* A worker whose partition takes four times the lease (its scan waits behind a table lock)
 * renews the lease meanwhile: the partition is never leased to anyone else. */
static void test_slow_live_worker_renews_its_lease_and_keeps_the_partition(void **state)
{
    const char *env[] = {"VS_BATCH_PARTITION_IDS=6000", "VS_BATCH_LEASE_MS=600",
                         "VS_BATCH_INFLIGHT=1", NULL};
    const char *primary_only[] = {"VS_DB_REPLICA=", NULL};
    pid_t coord = bh_start_coordinator(&h, env), worker;
    vs_client *client = bh_client(&h);
    MYSQL *locker = ts_db_primary();
    uint64_t job = bh_start(client, DAY1, 1);

    bh_wait_state(client, job, VS_JOB_RUNNING);
    bh_exec(locker, "LOCK TABLES play_log WRITE");
    worker = bh_start_worker(&h, 1, "slow", primary_only);
    wait_for_sessions("SELECT video_id", "Waiting for table", 1);
    usleep(4 * 600 * 1000); /* four leases' time with the partition in the worker's hands */
    assert_int_equal(job_count(job, "state = 2 AND attempt = 1"), 1);
    bh_exec(locker, "UNLOCK TABLES");
    assert_int_equal(bh_wait(client, job, 300), VS_JOB_COMPLETED);
    /* one lease per partition, every one committed by the slow worker */
    assert_int_equal(bh_int(db, "SELECT MAX(attempt) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     1);
    assert_int_equal(job_count(job, "worker NOT LIKE 'slow%'"), 0);
    assert_false(bh_log_has(&h, "coordinator", "expired; re-issuing"));
    assert_days_settled_as_baseline(client);
    mysql_close(locker);
    ts_stop(worker);
    vs_client_close(client);
    ts_stop(coord);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_worker_partitions_are_reissued_without_waiting_for_the_lease),
        cmocka_unit_test(test_slow_live_worker_renews_its_lease_and_keeps_the_partition),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
