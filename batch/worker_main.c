/* worker_main.c — vs-worker: PULL partition tasks, aggregate their play_log rows, PUSH results.
 *
 * N threads, each with its own PULL and PUSH sockets dialled to the coordinator's task and result
 * URLs and its own MariaDB connections, so threads share nothing but the configuration. Several
 * worker processes, here or on other hosts, may dial the same coordinator. */
#include <getopt.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics_http.h"
#include "partial.h"
#include "worker.h"

static volatile sig_atomic_t worker_stopping;

/* Moves when something suggests the network to the coordinator's host failed: a task that failed,
 * or a link found without a connection. Every worker thread then dials its task and result links
 * afresh when it is next idle, since a connection the network cut can linger in nng 1.5.2 as a
 * pipe that never delivers again (batch_link_redial). */
static atomic_uint worker_net_trouble;

/* What the threads did, for the metrics endpoint (docs/operations.md): counted per task. */
enum { TASK_COMMITTED, TASK_SUPERSEDED, TASK_FAILED, TASK_EXPIRED, TASK_OUTCOMES };
static struct {
    metrics_counter tasks[TASK_OUTCOMES];
    metrics_counter rows;         /* play_log rows read */
    metrics_counter read_from[2]; /* tasks whose rows came from the replica, the primary */
    metrics_gauge busy;           /* threads processing a task */
    metrics_histogram scan_ms, commit_ms;
} worker_metrics = {.scan_ms = METRICS_HISTOGRAM(metrics_bounds_batch_ms),
                    .commit_ms = METRICS_HISTOGRAM(metrics_bounds_batch_ms)};

static void worker_metrics_collect(metrics_text *t, void *arg)
{
    static const char *const outcomes[] = {"committed", "superseded", "failed", "expired"};
    static const char *const servers[] = {"replica", "primary"};

    (void)arg;
    metrics_write_counters(t, "vs_worker_tasks_total",
                           "Partition tasks by outcome: committed under the task's lease, "
                           "superseded (the lease had moved on: nothing written), failed (an "
                           "error), expired (the lease ran out before the task started).",
                           "outcome", outcomes, worker_metrics.tasks, TASK_OUTCOMES);
    metrics_write_one(t, "vs_worker_rows_scanned_total", METRICS_COUNTER,
                      "play_log rows read by partition scans.",
                      (int64_t)metrics_counter_get(&worker_metrics.rows), 0);
    metrics_write_counters(t, "vs_worker_scans_total",
                           "Partition scans by the server they read (primary: the replica had "
                           "not reached the job's position in time, or is unreachable).",
                           "server", servers, worker_metrics.read_from, 2);
    metrics_write_one(t, "vs_worker_busy_threads", METRICS_GAUGE,
                      "Worker threads processing a task now.",
                      metrics_gauge_get(&worker_metrics.busy), 0);
    metrics_write_histogram(t, "vs_worker_scan_duration_seconds",
                            "Seconds to read and aggregate one partition's rows.",
                            &worker_metrics.scan_ms, 3);
    metrics_write_histogram(t, "vs_worker_commit_duration_seconds",
                            "Seconds to commit one partition's partials on the primary.",
                            &worker_metrics.commit_ms, 3);
}

/* Counts what became of one task that was processed. */
static void worker_count(vs_status rc, const worker_outcome *out)
{
    metrics_inc(&worker_metrics.tasks[rc != VS_OK      ? TASK_FAILED
                                      : out->committed ? TASK_COMMITTED
                                                       : TASK_SUPERSEDED]);
    metrics_add(&worker_metrics.rows, (uint64_t)(out->rows > 0 ? out->rows : 0));
    if (out->rows > 0 || out->committed) {
        metrics_inc(&worker_metrics.read_from[out->from_replica ? 0 : 1]);
        metrics_observe(&worker_metrics.scan_ms, out->scan_ms);
    }
    if (out->committed)
        metrics_observe(&worker_metrics.commit_ms, out->commit_ms);
}

static void worker_on_signal(int sig)
{
    worker_stopping = 1;
}

/* Sends the result of a task, or (out == NULL) its acknowledgement: this thread took it. */
static void worker_send_result(nng_socket push, const worker_thread *t,
                               const Vs__V1__PartitionTask *task, const worker_outcome *out)
{
    Vs__V1__PartitionResult res = VS__V1__PARTITION_RESULT__INIT;
    uint8_t buf[1024];
    size_t len;
    int rv;

    res.job_id = task->job_id;
    res.part = task->part;
    res.lease_epoch = task->lease_epoch;
    res.worker = (char *)t->name;
    if (out != NULL) {
        res.committed = out->committed;
        res.rows = out->rows;
        res.error = (char *)out->error;
    } else {
        res.accepted = 1;
    }
    if (vs__v1__partition_result__get_packed_size(&res) > sizeof buf)
        res.error = (char *)"error message too long";
    len = vs__v1__partition_result__pack(&res, buf);
    /* the coordinator also polls the job repository, so a result lost here only delays it; an
     * acknowledgement never waits (without it the lease lasts until it expires or is renewed) */
    if ((rv = nng_send(push, buf, len, out == NULL ? NNG_FLAG_NONBLOCK : 0)) != 0)
        log_warn("%s: %s of job %" PRIu64 " part %u not sent: %s", t->name,
                 out == NULL ? "acknowledgement" : "result", task->job_id, task->part,
                 nng_strerror(rv));
}

static void *worker_thread_main(void *arg)
{
    worker_thread *t = arg;
    batch_link tasks, results, *links[2] = {&tasks, &results};
    nng_socket pull, push;
    unsigned trouble_seen;
    char err[512];

    if (batch_link_open(&tasks, nng_pull0_open, t->cfg->task_url, err, sizeof err) != VS_OK) {
        log_error("%s: %s", t->name, err);
        worker_stopping = 1;
        return NULL;
    }
    if (batch_link_open(&results, nng_push0_open, t->cfg->result_url, err, sizeof err) != VS_OK) {
        log_error("%s: %s", t->name, err);
        worker_stopping = 1;
        batch_link_close(&tasks);
        return NULL;
    }
    pull = tasks.sock;
    push = results.sock;
    trouble_seen = atomic_load(&worker_net_trouble);
    nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, 250);
    nng_socket_set_ms(push, NNG_OPT_SENDTIMEO, 5000);
    while (!worker_stopping) {
        Vs__V1__PartitionTask *task;
        worker_outcome out;
        void *msg;
        size_t len;
        int64_t started;
        vs_status rc;
        int rv = nng_recv(pull, &msg, &len, NNG_FLAG_ALLOC);

        if (rv == NNG_ETIMEDOUT) {
            unsigned trouble = atomic_load(&worker_net_trouble);

            if (trouble != trouble_seen) {
                trouble_seen = trouble;
                batch_link_redial(&tasks);
                batch_link_redial(&results);
                log_info("%s: dialling %s and %s afresh after a failure", t->name, tasks.url,
                         results.url);
                continue;
            }
            for (int i = 0; i < 2; i++)
                if (batch_link_check(links[i])) {
                    log_warn("%s: no connection to %s for %d ms: dialling it afresh", t->name,
                             links[i]->url, BATCH_REDIAL_MS);
                    trouble_seen = atomic_fetch_add(&worker_net_trouble, 1) + 1;
                }
            continue;
        }
        if (rv != 0) {
            log_error("%s: receive: %s", t->name, nng_strerror(rv));
            break;
        }
        task = vs__v1__partition_task__unpack(NULL, len, msg);
        nng_free(msg, len);
        if (task == NULL) {
            log_warn("%s: undecodable task (%zu bytes) ignored", t->name, len);
            continue;
        }
        /* a task that waited past its lease has been or will be issued again: skip it */
        if (task->lease_deadline_unix_ms != 0 && clock_now_ms() > task->lease_deadline_unix_ms) {
            memset(&out, 0, sizeof out);
            snprintf(out.error, sizeof out.error, "lease expired before the task was started");
            log_info("%s: job %" PRIu64 " part %u epoch %" PRIu64 ": %s", t->name, task->job_id,
                     task->part, task->lease_epoch, out.error);
            metrics_inc(&worker_metrics.tasks[TASK_EXPIRED]);
            worker_send_result(push, t, task, &out);
            vs__v1__partition_task__free_unpacked(task, NULL);
            continue;
        }
        worker_send_result(push, t, task, NULL);
        worker_lease_hold(t->leases, t->index, task);
        started = clock_mono_ms();
        metrics_gauge_add(&worker_metrics.busy, 1);
        rc = worker_process(t, task, &out);
        metrics_gauge_add(&worker_metrics.busy, -1);
        worker_count(rc, &out);
        worker_lease_release(t->leases, t->index);
        if (rc != VS_OK) {
            log_error("%s: job %" PRIu64 " part %u: %s: %s", t->name, task->job_id, task->part,
                      status_name(rc), out.error);
            atomic_fetch_add(&worker_net_trouble, 1);
        } else
            log_info("%s: job %" PRIu64 " part %u ids %" PRIu64 "..%" PRIu64 ": %" PRId64
                     " rows, %" PRId64 " videos from the %s in %" PRId64 " ms (scan %" PRId64
                     ", commit %" PRId64 "), %s",
                     t->name, task->job_id, task->part, task->first_id, task->last_id, out.rows,
                     out.videos, out.from_replica ? "replica" : "primary",
                     clock_mono_ms() - started, out.scan_ms, out.commit_ms,
                     out.committed ? "committed" : out.error);
        worker_send_result(push, t, task, &out);
        vs__v1__partition_task__free_unpacked(task, NULL);
    }
    batch_link_close(&results);
    batch_link_close(&tasks);
    return NULL;
}

static const char worker_usage[] =
    "usage: vs-worker [--threads N] [--name NAME] [--metrics ADDR] [--help] [--version]\n"
    "\n"
    "Processes play_log partitions handed out by vs-coordinator over nng PUSH/PULL.\n"
    "\n"
    "  --threads N   worker threads, each with its own sockets and DB connections\n"
    "                [VS_BATCH_WORKER_THREADS, default 2]\n"
    "  --name NAME   identity recorded on the partitions it completes [default host:pid]\n"
    "  --metrics ADDR  serve Prometheus metrics on GET http://ADDR/metrics: PORT (on\n"
    "                127.0.0.1), HOST:PORT or [IPv6]:PORT [VS_WORKER_METRICS_ADDR; off]\n"
    "\n"
    "Environment (or the stack's env file): VS_TASK_URL, VS_RESULT_URL (the coordinator's),\n"
    "VS_DB_PRIMARY, VS_DB_REPLICA, VS_BATCH_REPLICA_WAIT_MS (how long to wait for the replica\n"
    "to catch up with the job's GTID position before reading the primary; default 3000).\n"
    "tls+tcp:// task and result URLs are mutual TLS: VS_TLS_CA (PEM file of the deployment's\n"
    "CA, the coordinator is verified against it), VS_TLS_CERT and VS_TLS_KEY (this worker's\n"
    "certificate, signed by that CA, and its key, mode 0600) are then required.\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'}, {"name", required_argument, NULL, 'n'},
        {"metrics", required_argument, NULL, 'M'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
    worker_config cfg = {0};
    worker_leases leases = {0};
    worker_thread *threads = NULL;
    metrics_http *metrics = NULL;
    const char *metrics_addr;
    pthread_t *tids = NULL;
    char err[512], host[64], name[128];
    int64_t n_threads = 0, wait_ms;
    const char *threads_arg = NULL;
    struct sigaction sa;
    int opt, exit_code = 1;

    while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            threads_arg = optarg;
            break;
        case 'n':
            cfg.name = optarg;
            break;
        case 'M':
            setenv("VS_WORKER_METRICS_ADDR", optarg, 1);
            break;
        case 'h':
            fputs(worker_usage, stdout);
            return 0;
        case 'V':
            printf("vs-worker %s\n", VS_VERSION);
            return 0;
        default:
            fputs(worker_usage, stderr);
            return 2;
        }
    }
    log_init("vs-worker");
    config_load();
    if (threads_arg != NULL ? config_parse_int(threads_arg, 1, 64, &n_threads) != 0
                            : config_get_int("VS_BATCH_WORKER_THREADS", 2, 1, 64, &n_threads, err,
                                             sizeof err) != VS_OK) {
        fprintf(stderr, "vs-worker: --threads / VS_BATCH_WORKER_THREADS: expected 1..64\n");
        return 2;
    }
    if (config_get_int("VS_BATCH_REPLICA_WAIT_MS", 3000, 0, 3600000, &wait_ms, err, sizeof err) !=
        VS_OK) {
        fprintf(stderr, "vs-worker: %s\n", err);
        return 2;
    }
    metrics_addr = config_get("VS_WORKER_METRICS_ADDR", NULL);
    if (metrics_addr != NULL) {
        struct sockaddr_storage where;
        socklen_t wherelen;

        if (metrics_http_parse_addr(metrics_addr, &where, &wherelen, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vs-worker: --metrics / VS_WORKER_METRICS_ADDR: %s\n", err);
            return 2;
        }
    }
    cfg.threads = (int)n_threads;
    cfg.replica_wait_ms = wait_ms;
    cfg.task_url = config_get("VS_TASK_URL", "tcp://127.0.0.1:7402");
    cfg.result_url = config_get("VS_RESULT_URL", "tcp://127.0.0.1:7403");
    cfg.primary_url = config_get("VS_DB_PRIMARY", NULL);
    cfg.replica_url = config_get("VS_DB_REPLICA", NULL);
    if (cfg.primary_url == NULL) {
        fprintf(stderr, "vs-worker: VS_DB_PRIMARY is not set (no stack env file found)\n");
        return 2;
    }
    if (batch_socket_check(cfg.task_url, 0, err, sizeof err) != VS_OK ||
        batch_socket_check(cfg.result_url, 0, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vs-worker: %s\n", err);
        return 2;
    }
    if (cfg.name == NULL) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        snprintf(name, sizeof name, "%s:%d", host, (int)getpid());
        cfg.name = name;
    }
    mysql_library_init(0, NULL, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = worker_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    threads = calloc((size_t)cfg.threads, sizeof *threads);
    tids = calloc((size_t)cfg.threads, sizeof *tids);
    if (threads == NULL || tids == NULL)
        goto out;
    if (worker_leases_start(&leases, &cfg, cfg.threads, err, sizeof err) != VS_OK) {
        log_error("%s", err);
        goto out;
    }
    for (int i = 0; i < cfg.threads; i++) {
        threads[i].cfg = &cfg;
        threads[i].leases = &leases;
        threads[i].index = i;
        snprintf(threads[i].name, sizeof threads[i].name, "%s/%d", cfg.name, i);
        threads[i].chunk = malloc((size_t)PARTIAL_CHUNK_VIDEOS * PARTIAL_RECORD_BYTES);
        if (threads[i].chunk == NULL || vmap_init(&threads[i].videos, 1 << 16, 0) != VS_OK)
            goto out;
    }
    if (metrics_addr != NULL) {
        const metrics_source sources[] = {{worker_metrics_collect, NULL},
                                          {db_metrics_collect, NULL}};

        if (metrics_http_start(metrics_addr, sources, 2, &metrics, err, sizeof err) != VS_OK) {
            log_error("VS_WORKER_METRICS_ADDR: %s", err);
            goto out;
        }
        log_info("metrics on http://%s/metrics", metrics_http_address(metrics));
    }
    log_info("%d thread(s) pulling tasks from %s, results to %s", cfg.threads, cfg.task_url,
             cfg.result_url);
    for (int i = 0; i < cfg.threads; i++)
        pthread_create(&tids[i], NULL, worker_thread_main, &threads[i]);
    for (int i = 0; i < cfg.threads; i++)
        pthread_join(tids[i], NULL);
    log_info("stopped");
    exit_code = 0;
out:
    metrics_http_stop(metrics);
    worker_leases_stop(&leases);
    for (int i = 0; threads != NULL && i < cfg.threads; i++)
        worker_thread_close(&threads[i]);
    free(threads);
    free(tids);
    mysql_library_end();
    return exit_code;
}
