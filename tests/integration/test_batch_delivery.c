/* test_batch_delivery.c — PUSH/PULL delivers at most once per send, but a task can still reach two
 * workers (a re-issue, a duplicate) and a worker can finish after its lease was given away
 * (docs/batch.md): a partition commits once, under the current lease epoch, and the tables come out
 * identical to a fault-free run. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <sys/socket.h>

#include "batch_harness.h"
#include "clock.h"

#define DAY1 "2014-09-01"
#define DAY2 "2014-09-02"

static bh h;
static MYSQL *db, *root;
static vs_client *client;
static char baseline[1024];

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=8000", NULL};
    pid_t coord, worker;

    bh_setup(&h, "delivery");
    bh_gen("--rows 80000 --days 2 --videos 60 --users 600 --seed 9 --start " DAY1);
    db = ts_db_primary();
    root = bh_root_db(&h);
    coord = bh_start_coordinator(&h, coord_env);
    client = bh_client(&h);
    worker = bh_start_worker(&h, 2, "baseline", NULL);
    bh_settle(client, DAY1, 0);
    bh_settle(client, DAY2, 0);
    ts_stop(worker);
    ts_stop(coord);
    vs_client_close(client);
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

static uint64_t day2_job(void)
{
    return (uint64_t)bh_int(db, "SELECT id FROM batch_job WHERE business_date = '" DAY2 "'");
}

/* Sessions of the test's database running `prefix...` (as root sees them). */
static int64_t sessions_running(const char *prefix)
{
    return bh_int(root,
                  "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '%s' AND"
                  " INFO LIKE '%s%%'",
                  h.db, prefix);
}

static void wait_sessions(const char *prefix, int n)
{
    for (int64_t t0 = ts_mono_ms(); sessions_running(prefix) < n; usleep(20 * 1000))
        assert_true(ts_mono_ms() - t0 < 60000);
}

/* The task the coordinator leased for partition `part`, rebuilt from the job repository, packed
 * into buf. */
static size_t leased_task(uint64_t job, unsigned part, uint8_t *buf)
{
    Vs__V1__PartitionTask task = VS__V1__PARTITION_TASK__INIT;
    char gtid[1100] = "", err[256];

    task.job_id = job;
    task.part = part;
    task.first_id = (uint64_t)bh_int(db,
                                     "SELECT first_id FROM batch_partition WHERE job_id = %llu"
                                     " AND part = %u",
                                     (unsigned long long)job, part);
    task.last_id = (uint64_t)bh_int(db,
                                    "SELECT last_id FROM batch_partition WHERE job_id = %llu"
                                    " AND part = %u",
                                    (unsigned long long)job, part);
    task.lease_epoch = (uint64_t)bh_int(db,
                                        "SELECT lease_epoch FROM batch_partition WHERE job_id"
                                        " = %llu AND part = %u AND state = 2",
                                        (unsigned long long)job, part);
    assert_true(task.lease_epoch > 0);
    task.lease_deadline_unix_ms = clock_now_ms() + 60000;
    assert_int_equal(db_query_text(db,
                                   "SELECT primary_gtid FROM batch_job WHERE id = (SELECT"
                                   " MAX(id) FROM batch_job WHERE business_date = '" DAY1 "')",
                                   gtid, sizeof gtid, err, sizeof err),
                     VS_OK);
    task.primary_gtid = gtid;
    task.business_date = (char *)DAY1;
    return vs__v1__partition_task__pack(&task, buf);
}

/* The coordinator's task for partition 0 reaches a second worker twice while the first worker is
 * committing it: one commit, two results that committed nothing, identical tables. */
static void test_task_delivered_twice_commits_once(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=8000", "VS_BATCH_LEASE_MS=60000", NULL};
    char task_url[256], result_url[256], env_task[300], env_result[300], after[1024];
    const char *dup_env[] = {env_task, env_result, NULL};
    nng_socket push, pull;
    pid_t coord, first, second;
    uint8_t buf[2048];
    size_t len;
    uint64_t job;
    int64_t parts;

    coord = bh_start_coordinator(&h, coord_env);
    client = bh_client(&h);
    job = bh_start(client, DAY1, 1);
    bh_wait_state(client, job, VS_JOB_RUNNING);
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    /* hold partition 0's first chunk key: the worker that commits it waits for us */
    bh_exec(db, "START TRANSACTION");
    bh_exec(db,
            "INSERT INTO batch_partial_chunk (job_id, part, chunk, videos, data) VALUES"
            " (%llu, 0, 0, 0, '')",
            (unsigned long long)job);
    first = bh_start_worker(&h, 1, "first", NULL);
    wait_sessions("INSERT INTO batch_partial_chunk", 1);

    /* a second worker on sockets of our own gets the very same task, twice */
    ts_ipc_url("dup-tasks", task_url, sizeof task_url);
    ts_ipc_url("dup-results", result_url, sizeof result_url);
    assert_int_equal(nng_push0_open(&push), 0);
    assert_int_equal(nng_pull0_open(&pull), 0);
    assert_int_equal(nng_listen(push, task_url, NULL, 0), 0);
    assert_int_equal(nng_listen(pull, result_url, NULL, 0), 0);
    nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, 120000);
    snprintf(env_task, sizeof env_task, "VS_TASK_URL=%s", task_url);
    snprintf(env_result, sizeof env_result, "VS_RESULT_URL=%s", result_url);
    second = bh_start_worker(&h, 1, "second", dup_env);
    len = leased_task(job, 0, buf);
    assert_int_equal(nng_send(push, buf, len, 0), 0);
    assert_int_equal(nng_send(push, buf, len, 0), 0);
    /* the duplicate has read the partition and waits on the first worker's claim of it */
    wait_sessions("UPDATE batch_partition SET state = 3", 1);
    bh_exec(db, "ROLLBACK");

    for (int copy = 0; copy < 2;) {
        Vs__V1__PartitionResult *res;
        void *msg;

        assert_int_equal(nng_recv(pull, &msg, &len, NNG_FLAG_ALLOC), 0);
        res = vs__v1__partition_result__unpack(NULL, len, msg);
        nng_free(msg, len);
        assert_non_null(res);
        assert_int_equal(res->part, 0);
        if (res->accepted) { /* the acknowledgement that the worker took the task */
            vs__v1__partition_result__free_unpacked(res, NULL);
            continue;
        }
        copy++;
        assert_false(res->committed);
        assert_non_null(strstr(res->error, "nothing committed"));
        vs__v1__partition_result__free_unpacked(res, NULL);
    }
    assert_int_equal(bh_wait(client, job, 300), VS_JOB_COMPLETED);
    assert_int_equal(bh_wait(client, day2_job(), 300), VS_JOB_COMPLETED);
    /* partition 0 was committed once, by the worker the coordinator leased it to */
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND"
                            " part = 0 AND worker LIKE 'first/%%' AND attempt = 1",
                            (unsigned long long)job),
                     1);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY1 "'"));
    assert_int_equal(bh_int(db, "SELECT partitions_done FROM batch_job WHERE id = %llu",
                            (unsigned long long)job),
                     parts);
    ts_stop(first);
    ts_stop(second);
    nng_close(push);
    nng_close(pull);
    vs_client_close(client);
    ts_stop(coord);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* A worker that hangs longer than its lease (stopped with SIGSTOP while it waits for a replica
 * that never answers, so it cannot renew the lease either) finishes after its partition was
 * leased to someone else: its late commit changes nothing. */
static void test_late_result_from_expired_lease_changes_nothing(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=8000", "VS_BATCH_LEASE_MS=1500", NULL};
    char replica[300], after[1024];
    const char *late_env[] = {replica, NULL};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t addr_len = sizeof addr;
    int hung = socket(AF_INET, SOCK_STREAM, 0);
    pid_t coord, late, healthy;
    uint64_t job;

    /* a "replica" that accepts connections and never says hello */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(hung, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(hung, 64), 0);
    assert_int_equal(getsockname(hung, (struct sockaddr *)&addr, &addr_len), 0);
    snprintf(replica, sizeof replica, "VS_DB_REPLICA=mysql://vs:x@127.0.0.1:%d/%s",
             ntohs(addr.sin_port), h.db);

    coord = bh_start_coordinator(&h, coord_env);
    client = bh_client(&h);
    job = bh_start(client, DAY1, 1);
    bh_wait_state(client, job, VS_JOB_RUNNING);
    late = bh_start_worker(&h, 1, "late", late_env);
    /* it has taken a task when it connects to the "replica" */
    assert_int_equal(poll(&(struct pollfd){.fd = hung, .events = POLLIN}, 1, 60000), 1);
    kill(late, SIGSTOP);
    /* partition 0's first lease ran out with only the late worker around: it was re-issued */
    for (int64_t t0 = ts_mono_ms(); bh_int(db,
                                           "SELECT attempt FROM batch_partition WHERE job_id"
                                           " = %llu AND part = 0",
                                           (unsigned long long)job) < 2;
         usleep(20 * 1000))
        assert_true(ts_mono_ms() - t0 < 60000);
    kill(late, SIGCONT);
    healthy = bh_start_worker(&h, 2, "healthy", NULL);
    assert_int_equal(bh_wait(client, job, 300), VS_JOB_COMPLETED);
    assert_int_equal(bh_wait(client, day2_job(), 300), VS_JOB_COMPLETED);
    /* the late worker did finish a partition under a lease that had expired meanwhile, and
     * committed nothing (which partition depends on what it dequeued first: a task whose lease had
     * already run out is skipped unread) */
    for (int64_t t0 = ts_mono_ms();
         ts_sh("grep -q -E 'late/0: job %llu part [0-9]+ ids .*superseded or partition already"
               " done: nothing committed' '%s/late.log'",
               (unsigned long long)job, h.logs) != 0;
         usleep(100 * 1000))
        assert_true(ts_mono_ms() - t0 < 60000);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY1 "'"));
    ts_stop(late);
    ts_stop(healthy);
    vs_client_close(client);
    ts_stop(coord);
    close(hung);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_delivered_twice_commits_once),
        cmocka_unit_test(test_late_result_from_expired_lease_changes_nothing),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
