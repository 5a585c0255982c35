/* coord_metrics.c — vs-coordinator's metrics (coord_metrics.h). */
#include "coord_metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "batch.h"
#include "coordinator.h"
#include "db.h"
#include "log.h"

/* The scrape's statements on the repository: a second to connect, two for the query. */
#define COORD_SCRAPE_CONNECT_S 1
#define COORD_SCRAPE_IO_S 2

void coord_metrics_init(coord_metrics *m)
{
    m->merge_ms = (metrics_histogram)METRICS_HISTOGRAM(metrics_bounds_batch_ms);
}

void coord_scrape_fini(coord_scrape *s)
{
    if (s->db != NULL)
        mysql_close(s->db);
    s->db = NULL;
}

/* batch_job's rows by state into jobs[JOB_PENDING..JOB_FAILED]; 0 when the repository cannot be
 * read now (the connection is dropped and reopened at the next scrape). */
static int coord_jobs_by_state(coord_scrape *s, int64_t jobs[JOB_FAILED + 1])
{
    char err[256];
    MYSQL_RES *res;
    MYSQL_ROW row;

    if (s->db == NULL && db_connect_io(s->c->cfg.primary_url, COORD_SCRAPE_CONNECT_S,
                                       COORD_SCRAPE_IO_S, &s->db, err, sizeof err) != VS_OK) {
        log_warn("metrics: job repository unreachable: %s", err);
        return 0;
    }
    if (mysql_query(s->db, "SELECT state, COUNT(*) FROM batch_job GROUP BY state") != 0 ||
        (res = mysql_store_result(s->db)) == NULL) {
        db_status_from_errno(mysql_errno(s->db));
        log_warn("metrics: batch_job not read: %s", mysql_error(s->db));
        coord_scrape_fini(s);
        return 0;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        int state = atoi(row[0]);

        if (state >= JOB_PENDING && state <= JOB_FAILED)
            jobs[state] = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(res);
    return 1;
}

void coord_metrics_collect(metrics_text *t, void *arg)
{
    static const char *const states[] = {"pending", "running", "merging", "completed", "failed"};
    static const char *const reasons[] = {"lease_expired", "connection_closed", "worker_failed"};
    static const char *const outcomes[] = {"completed", "failed"};
    coord_scrape *s = arg;
    coord *c = s->c;
    coord_metrics *m = &c->metrics;
    int64_t jobs[JOB_FAILED + 1] = {0}, rows_per_s, job_id;
    int up = coord_jobs_by_state(s, jobs);

    metrics_write_one(t, "vs_batch_repository_up", METRICS_GAUGE,
                      "1 when this scrape read the job repository (batch_job) on the primary.", up,
                      0);
    metrics_family(t, "vs_batch_jobs", METRICS_GAUGE,
                   "Settlement jobs in the repository by state, read at scrape time (absent "
                   "while the repository cannot be read).");
    for (int st = JOB_PENDING; up && st <= JOB_FAILED; st++) {
        metrics_label l = {"state", states[st - JOB_PENDING]};

        metrics_sample(t, "vs_batch_jobs", &l, 1, jobs[st], 0);
    }
    pthread_mutex_lock(&c->progress.lock);
    job_id = (int64_t)c->progress.job_id;
    rows_per_s = c->progress.rows_per_s;
    pthread_mutex_unlock(&c->progress.lock);
    metrics_write_one(t, "vs_batch_running_job_id", METRICS_GAUGE,
                      "Id of the job the scheduler is running, 0 when none.", job_id, 0);
    metrics_write_one(t, "vs_batch_rows_per_second", METRICS_GAUGE,
                      "Rows per second the running job's partitions have been aggregated at "
                      "since it started running (0 when none runs).",
                      rows_per_s, 0);
    metrics_write_one(t, "vs_batch_rows_aggregated_total", METRICS_COUNTER,
                      "play_log rows of partitions found done.",
                      (int64_t)metrics_counter_get(&m->rows_aggregated), 0);
    metrics_write_one(t, "vs_batch_partitions_leased_total", METRICS_COUNTER,
                      "Partition tasks pushed to workers under a fresh lease.",
                      (int64_t)metrics_counter_get(&m->partitions_leased), 0);
    metrics_write_one(t, "vs_batch_partitions_done_total", METRICS_COUNTER,
                      "Partitions found done (committed by a worker under its lease).",
                      (int64_t)metrics_counter_get(&m->partitions_done), 0);
    metrics_write_counters(t, "vs_batch_partitions_reissued_total",
                           "Leased partitions put back to be leased again, by why.", "reason",
                           reasons, m->reissued, COORD_REISSUE_REASONS);
    metrics_write_one(t, "vs_batch_lease_expiries_total", METRICS_COUNTER,
                      "Partition leases that expired in the repository without a result.",
                      (int64_t)metrics_counter_get(&m->lease_expiries), 0);
    metrics_write_one(t, "vs_batch_results_rejected_total", METRICS_COUNTER,
                      "Result messages that changed nothing (not the running job, a stale "
                      "epoch, not from the lease's connection, undecodable).",
                      (int64_t)__atomic_load_n(&c->rejected_results, __ATOMIC_RELAXED), 0);
    metrics_write_counters(t, "vs_batch_jobs_finished_total",
                           "Jobs this coordinator ran to an end, by outcome.", "outcome", outcomes,
                           m->jobs_finished, 2);
    metrics_write_histogram(t, "vs_batch_merge_duration_seconds",
                            "Seconds of one job's merge (one transaction on the primary).",
                            &m->merge_ms, 3);
    metrics_write_one(t, "vs_batch_task_connections", METRICS_GAUGE,
                      "Worker connections to the task socket.",
                      __atomic_load_n(&c->task_peers, __ATOMIC_RELAXED), 0);
}
