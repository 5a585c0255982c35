/* test_metrics_batch.c — vs-coordinator's and vs-worker's Prometheus endpoints
 * (docs/operations.md, Metrics): both scrapes are valid exposition text, and one settlement job
 * moves them by exactly what it did: the workers committed one task per partition and read every
 * row of the day once, the repository holds one more completed job, StartJob was one call. */
#include "batch_harness.h"

#include "scrape.h"

#define DAY "2012-03-05"
#define ROWS 1000

static bh h;
static MYSQL *db;
static pid_t coord = -1, workers[2] = {-1, -1};
static int coord_port, worker_ports[2];

static int group_setup(void **state)
{
    static char coord_addr[64], worker_addr[2][64];
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=150", "VS_BATCH_SCHEDULE=off", coord_addr,
                               NULL};

    bh_setup(&h, "metrics");
    db = ts_db_primary();
    bh_exec(db, "INSERT INTO videos (creator_id, title, duration_s) VALUES (77, 'm', 3600)");
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " view_counted) SELECT CONCAT('m-', seq), 1, %llu, 5000 + seq, '%s', 0, 1"
            " FROM seq_1_to_%d",
            (unsigned long long)mysql_insert_id(db), DAY, ROWS);
    coord_port = ts_free_tcp_port();
    snprintf(coord_addr, sizeof coord_addr, "VS_COORD_METRICS_ADDR=127.0.0.1:%d", coord_port);
    coord = bh_start_coordinator(&h, coord_env);
    for (int i = 0; i < 2; i++) {
        const char *env[] = {worker_addr[i], NULL};

        worker_ports[i] = ts_free_tcp_port();
        snprintf(worker_addr[i], sizeof worker_addr[i], "VS_WORKER_METRICS_ADDR=%d",
                 worker_ports[i]);
        workers[i] = bh_start_worker(&h, 2, i ? "worker-b" : "worker-a", env);
    }
    return 0;
}

static int group_teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        ts_stop(workers[i]);
    ts_stop(coord);
    mysql_close(db);
    bh_teardown(&h);
    return 0;
}

/* A worker's endpoint listens as soon as the process runs: wait for it (no assertion on time:
 * ts_http refuses until then). */
static char *scrape_when_up(int port)
{
    for (int i = 0; i < 400 && ts_http("GET", port, "/metrics", NULL, NULL) < 0; i++)
        usleep(25 * 1000);
    return ts_scrape(port);
}

static double sum_workers(char *const *scrapes, const char *name, const char *labels)
{
    return ts_metric(scrapes[0], name, labels) + ts_metric(scrapes[1], name, labels);
}

static void test_one_job_moves_the_batch_metrics_exactly(void **state)
{
    char *coord_before, *coord_after, *before[2], *after[2];
    const char *why;
    vs_client *c = bh_client(&h);
    uint64_t job;
    int64_t parts;

    coord_before = scrape_when_up(coord_port);
    for (int i = 0; i < 2; i++)
        before[i] = scrape_when_up(worker_ports[i]);
    job = bh_settle(c, DAY, 0);
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    assert_true(parts >= 2); /* 1000 ids over spans of 150 */
    coord_after = ts_scrape(coord_port);
    for (int i = 0; i < 2; i++) {
        after[i] = ts_scrape(worker_ports[i]);
        if ((why = ts_metrics_check(after[i])) != NULL)
            fail_msg("worker %d: %s", i, why);
    }
    if ((why = ts_metrics_check(coord_after)) != NULL)
        fail_msg("coordinator: %s", why);

    /* the workers: one committed task per partition, every row of the day read once */
    assert_true(sum_workers(after, "vs_worker_tasks_total", "outcome=\"committed\"") -
                    sum_workers(before, "vs_worker_tasks_total", "outcome=\"committed\"") ==
                parts);
    assert_true(sum_workers(after, "vs_worker_rows_scanned_total", NULL) -
                    sum_workers(before, "vs_worker_rows_scanned_total", NULL) ==
                ROWS);
    assert_true(sum_workers(after, "vs_worker_scan_duration_seconds_count", NULL) -
                    sum_workers(before, "vs_worker_scan_duration_seconds_count", NULL) ==
                parts);
    assert_true(sum_workers(after, "vs_worker_scans_total", "server=\"replica\"") +
                    sum_workers(after, "vs_worker_scans_total", "server=\"primary\"") ==
                parts);
    assert_true(sum_workers(after, "vs_worker_tasks_total", "outcome=\"failed\"") == 0);
    assert_true(sum_workers(after, "vs_worker_busy_threads", NULL) == 0);
    assert_true(ts_metric_present(after[0], "vs_mariadb_errors_total"));
    assert_true(ts_metric_present(after[0], "process_resident_memory_bytes"));

    /* the coordinator: the repository read at scrape time, one StartJob, no lease expired */
    assert_true(ts_metric(coord_after, "vs_batch_repository_up", NULL) == 1);
    assert_true(ts_metric(coord_after, "vs_batch_jobs", "state=\"completed\"") ==
                ts_metric(coord_before, "vs_batch_jobs", "state=\"completed\"") + 1);
    assert_true(ts_metric(coord_after, "vs_batch_jobs", "state=\"running\"") == 0);
    assert_true(ts_metric(coord_after, "vs_rpc_requests_total",
                          "method=\"/vs.v1.BatchService/StartJob\",code=\"OK\"") ==
                ts_metric(coord_before, "vs_rpc_requests_total",
                          "method=\"/vs.v1.BatchService/StartJob\",code=\"OK\"") +
                    1);
    assert_true(ts_metric(coord_after, "vs_batch_lease_expiries_total", NULL) == 0);
    assert_true(ts_metric(coord_after, "vs_batch_task_connections", NULL) == 4); /* 2 × 2 */
    assert_true(ts_metric_present(coord_after, "vs_batch_merge_duration_seconds_bucket"));
    /* what the scheduler counts: every partition done once, every row, one merge */
#define COORD_MOVED(name, labels)                                                                  \
    (ts_metric(coord_after, name, labels) - ts_metric(coord_before, name, labels))
    assert_true(COORD_MOVED("vs_batch_partitions_done_total", NULL) == parts);
    assert_true(COORD_MOVED("vs_batch_partitions_leased_total", NULL) >= parts);
    assert_true(COORD_MOVED("vs_batch_rows_aggregated_total", NULL) == ROWS);
    assert_true(COORD_MOVED("vs_batch_jobs_finished_total", "outcome=\"completed\"") == 1);
    assert_true(COORD_MOVED("vs_batch_jobs_finished_total", "outcome=\"failed\"") == 0);
    assert_true(COORD_MOVED("vs_batch_merge_duration_seconds_count", NULL) == 1);
#undef COORD_MOVED
    assert_true(ts_metric_present(coord_after, "vs_batch_partitions_reissued_total"));
    free(coord_before);
    free(coord_after);
    for (int i = 0; i < 2; i++) {
        free(before[i]);
        free(after[i]);
    }
    vs_client_close(c);
}

/* A coordinator whose repository is unreachable still answers, saying so, without job counts. */
static void test_unreachable_repository_is_reported_not_hidden(void **state)
{
    char addr[64], *body;
    const char *env[] = {"VS_DB_PRIMARY=mysql://vs:x@127.0.0.1:1/none", "VS_BATCH_SCHEDULE=off",
                         addr, NULL};
    int port = ts_free_tcp_port();
    pid_t pid;

    /* a second coordinator of the same sockets would clash: it gets its own */
    ts_ipc_url("coord2", h.coord_url, sizeof h.coord_url);
    setenv("VS_COORD_URL", h.coord_url, 1);
    ts_ipc_url("tasks2", h.task_url, sizeof h.task_url);
    setenv("VS_TASK_URL", h.task_url, 1);
    ts_ipc_url("results2", h.result_url, sizeof h.result_url);
    setenv("VS_RESULT_URL", h.result_url, 1);
    snprintf(addr, sizeof addr, "VS_COORD_METRICS_ADDR=%d", port);
    pid = bh_start_coordinator(&h, env);
    body = ts_scrape(port);
    assert_null(ts_metrics_check(body));
    assert_true(ts_metric(body, "vs_batch_repository_up", NULL) == 0);
    assert_false(ts_metric_present(body, "vs_batch_jobs"));
    assert_true(ts_metric(body, "vs_mariadb_connects_total", "outcome=\"error\"") >= 1);
    free(body);
    assert_int_equal(ts_stop(pid), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_job_moves_the_batch_metrics_exactly),
        cmocka_unit_test(test_unreachable_repository_is_reported_not_hidden),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
