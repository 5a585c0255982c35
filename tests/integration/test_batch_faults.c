/* test_batch_faults.c — crashes during a job (batch.md): a worker SIGKILLed inside a partition,
 * the coordinator SIGKILLed mid-job and restarted. Either way the job completes with tables
 * identical to a fault-free run.
 *
 * To kill "mid-partition" deterministically, the test holds an uncommitted batch_partial_chunk row
 * with the key a worker is about to write: the worker has read its rows and marked the partition
 * done inside its transaction, and waits on that row lock when it is killed. */
#include "batch_harness.h"

#define DAY1 "2013-07-01"
#define DAY2 "2013-07-02"

static bh h;
static MYSQL *db, *root;
static pid_t coord;
static vs_client *client;
static char baseline[1024];
static const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=6000", "VS_BATCH_LEASE_MS=3000",
                                  "VS_BATCH_INFLIGHT=4", NULL};

static int group_setup(void **state)
{
    pid_t worker;

    bh_setup(&h, "faults");
    bh_gen("--rows 120000 --days 2 --videos 80 --users 800 --seed 3 --start " DAY1);
    db = ts_db_primary();
    root = bh_root_db(&h);
    coord = bh_start_coordinator(&h, coord_env);
    client = bh_client(&h);
    worker = bh_start_worker(&h, 2, "baseline", NULL);
    bh_settle(client, DAY1, 0);
    bh_settle(client, DAY2, 0);
    ts_stop(worker);
    bh_digest(db, baseline, sizeof baseline);
    return 0;
}

static int group_teardown(void **state)
{
    vs_client_close(client);
    ts_stop(coord);
    mysql_close(db);
    mysql_close(root);
    bh_teardown(&h);
    return 0;
}

/* Holds (uncommitted, on db) a partial chunk row for each partition from `from` on, so a worker
 * committing one of them blocks. */
static void block_partitions(uint64_t job, int from)
{
    int64_t parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                           (unsigned long long)job);

    assert_true(parts > from + 2);
    bh_exec(db, "START TRANSACTION");
    for (int p = from; p < parts; p++)
        bh_exec(db,
                "INSERT INTO batch_partial_chunk (job_id, part, chunk, videos, data) VALUES"
                " (%llu, %d, 0, 0, '')",
                (unsigned long long)job, p);
}

static uint64_t day2_job(void)
{
    return (uint64_t)bh_int(db, "SELECT id FROM batch_job WHERE business_date = '" DAY2 "'");
}

/* Waits until n worker threads are blocked writing their partials. */
static void wait_for_blocked_writers(int n)
{
    for (int64_t t0 = ts_mono_ms(); bh_chunk_writers(&h, root) < n; usleep(20 * 1000))
        assert_true(ts_mono_ms() - t0 < 60000);
}

/* A worker killed while committing a partition: its transaction dies with it, the lease expires,
 * another worker takes the partition, and the tables equal the fault-free run's. */
static void test_worker_killed_mid_partition_job_completes_identically(void **state)
{
    char after[1024];
    pid_t victim, rescuer;
    uint64_t job = bh_start(client, DAY1, 1);

    bh_wait_state(client, job, VS_JOB_RUNNING); /* no worker yet: partitions wait */
    block_partitions(job, 0);
    victim = bh_start_worker(&h, 1, "victim", NULL);
    wait_for_blocked_writers(1);
    bh_kill(victim);
    bh_exec(db, "ROLLBACK");
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND"
                            " state = 3",
                            (unsigned long long)job),
                     0);
    rescuer = bh_start_worker(&h, 2, "rescuer", NULL);
    assert_int_equal(bh_wait(client, job, 300), VS_JOB_COMPLETED);
    /* the killed worker's partition was leased again */
    assert_true(bh_int(db, "SELECT MAX(attempt) FROM batch_partition WHERE job_id = %llu",
                       (unsigned long long)job) >= 2);
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND"
                            " worker LIKE 'victim%%'",
                            (unsigned long long)job),
                     0);
    /* the forced day 1 re-queued day 2, which follows it */
    assert_int_equal(bh_wait(client, day2_job(), 300), VS_JOB_COMPLETED);
    ts_stop(rescuer);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* The coordinator killed with some partitions done and others in workers' hands, then restarted:
 * it resumes from the job repository (partitions fixed, leases honoured) and the tables equal the
 * fault-free run's. */
static void test_coordinator_killed_and_restarted_mid_job_completes_identically(void **state)
{
    char after[1024];
    pid_t worker;
    uint64_t job = bh_start(client, DAY1, 1);
    int64_t parts, done;

    bh_wait_state(client, job, VS_JOB_RUNNING);
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    block_partitions(job, (int)(parts / 2));
    worker = bh_start_worker(&h, 2, "steady", NULL);
    wait_for_blocked_writers(2); /* both threads hold a partition of the second half */
    done = bh_int(db, "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND state = 3",
                  (unsigned long long)job);
    assert_true(done >= 1 && done < parts);
    bh_kill(coord);
    assert_int_equal(
        bh_int(db, "SELECT state FROM batch_job WHERE id = %llu", (unsigned long long)job),
        VS_JOB_RUNNING);
    bh_exec(db, "ROLLBACK");
    coord = bh_start_coordinator(&h, coord_env);
    assert_int_equal(bh_wait(client, job, 300), VS_JOB_COMPLETED);
    assert_int_equal(bh_wait(client, day2_job(), 300), VS_JOB_COMPLETED);
    /* the partitions were never re-cut: the same count, each done once */
    assert_int_equal(bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                            (unsigned long long)job),
                     parts);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY1 "'"));
    ts_stop(worker);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_killed_mid_partition_job_completes_identically),
        cmocka_unit_test(test_coordinator_killed_and_restarted_mid_job_completes_identically),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
