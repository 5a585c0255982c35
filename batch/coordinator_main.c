/* coordinator_main.c — vs-coordinator: the settlement batch's coordinator (job repository,
 * partition leases, PUSH tasks / PULL results, merge), with BatchService on a REP control socket.
 */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "config.h"
#include "coord_service.h"
#include "coordinator.h"
#include "db.h"
#include "log.h"
#include "metrics_http.h"

static const char usage[] =
    "usage: vs-coordinator [--help] [--version]\n"
    "\n"
    "Coordinates the daily settlement batch: splits a business day's play_log into partitions,\n"
    "leases them to vs-worker processes over nng PUSH/PULL and merges their results. Serves\n"
    "BatchService (StartJob, GetJob, ListJobs, Health) for `vsctl batch`.\n"
    "\n"
    "Environment (or the stack's env file):\n"
    "  VS_COORD_URL              control socket (REP)       [tcp://127.0.0.1:7401]\n"
    "  VS_TASK_URL               tasks to workers (PUSH)    [tcp://127.0.0.1:7402]\n"
    "  VS_RESULT_URL             results from workers (PULL) [tcp://127.0.0.1:7403]\n"
    "  VS_DB_PRIMARY             the job repository and the data\n"
    "  VS_JWT_SECRET(_FILE)      vsd's token secret: BatchService needs an admin's token\n"
    "  VS_JWT_SECRET_PREVIOUS(_FILE)\n"
    "                            vsd's previous secret during a rotation: tokens it signed\n"
    "                            are accepted until they expire [none]\n"
    "  VS_TZ                     business time zone         [Asia/Seoul]\n"
    "  VS_COORD_THREADS          control socket threads     [2]\n"
    "  VS_BATCH_LEASE_MS         partition lease            [60000]\n"
    "  VS_BATCH_PARTITION_IDS    play_log ids per partition [2000000]\n"
    "  VS_BATCH_MAX_PARTITIONS   partitions per job at most [4096]\n"
    "  VS_BATCH_INFLIGHT         partitions leased at once  [4]\n"
    "  VS_BATCH_MAX_ATTEMPTS     leases per partition before the job fails [10]\n"
    "  VS_BATCH_SCHEDULE         on: settle each business day by itself once it has closed\n"
    "                            (catching up missed days in order); off: only StartJob [on]\n"
    "  VS_BATCH_SCHEDULE_GRACE_S seconds after a day's end before the schedule settles it [600]\n"
    "  VS_COORD_METRICS_ADDR     serve Prometheus metrics on GET http://ADDR/metrics: PORT\n"
    "                            (on 127.0.0.1), HOST:PORT or [IPv6]:PORT [off]\n"
    "  VS_TLS_CA, VS_TLS_CERT, VS_TLS_KEY\n"
    "                            PEM files: the deployment's CA, this coordinator's certificate\n"
    "                            and its key (mode 0600), for tls+tcp:// URLs. The task and\n"
    "                            result sockets then admit only workers whose certificate the\n"
    "                            CA signed (mutual TLS); the control socket presents the\n"
    "                            certificate to vsctl, which verifies it against the CA.\n";

typedef struct coord_setting {
    const char *key;
    int64_t fallback, min, max;
    int64_t *target;
} coord_setting;

static void *coord_scheduler(void *arg)
{
    void **args = arg;
    coord *c = args[0];

    coord_run(c, *(nng_socket *)args[1], *(nng_socket *)args[2]);
    return NULL;
}

int main(int argc, char **argv)
{
    static coord c;
    int64_t threads = 2, grace_s = 600;
    coord_setting settings[] = {
        {"VS_COORD_THREADS", 2, 1, 64, &threads},
        {"VS_BATCH_LEASE_MS", 60000, 100, 86400000, &c.cfg.lease_ms},
        {"VS_BATCH_PARTITION_IDS", 2000000, 1, INT64_C(1000000000000), &c.cfg.partition_ids},
        {"VS_BATCH_MAX_PARTITIONS", 4096, 1, 1000000, &c.cfg.max_partitions},
        {"VS_BATCH_INFLIGHT", 4, 1, 10000, &c.cfg.inflight},
        {"VS_BATCH_MAX_ATTEMPTS", 10, 1, 1000, &c.cfg.max_attempts},
        {"VS_BATCH_SCHEDULE_GRACE_S", 600, 0, 7 * 86400, &grace_s},
    };
    const char *schedule;
    nng_socket push = NNG_SOCKET_INITIALIZER, pull = NNG_SOCKET_INITIALIZER;
    rpc_server *server = NULL;
    metrics_http *metrics = NULL;
    coord_scrape scrape = {.c = &c};
    const char *metrics_addr;
    pthread_t scheduler;
    void *args[3] = {&c, &push, &pull};
    sigset_t sigs;
    char err[512];
    int sig;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("vs-coordinator %s\n", VS_VERSION);
        return 0;
    }
    if (argc != 1) {
        fputs(usage, stderr);
        return 2;
    }
    log_init("vs-coordinator");
    config_load();
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (config_get_int(settings[i].key, settings[i].fallback, settings[i].min, settings[i].max,
                           settings[i].target, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vs-coordinator: %s\n", err);
            return 2;
        }
    }
    c.cfg.rpc_threads = (int)threads;
    c.cfg.schedule_grace_ms = grace_s * 1000;
    schedule = config_get("VS_BATCH_SCHEDULE", "on");
    if (strcmp(schedule, "on") != 0 && strcmp(schedule, "off") != 0) {
        fprintf(stderr, "vs-coordinator: VS_BATCH_SCHEDULE: expected on or off, got \"%.40s\"\n",
                schedule);
        return 2;
    }
    c.cfg.schedule = strcmp(schedule, "on") == 0;
    c.cfg.control_url = config_get("VS_COORD_URL", "tcp://127.0.0.1:7401");
    c.cfg.task_url = config_get("VS_TASK_URL", "tcp://127.0.0.1:7402");
    c.cfg.result_url = config_get("VS_RESULT_URL", "tcp://127.0.0.1:7403");
    c.cfg.primary_url = config_get("VS_DB_PRIMARY", NULL);
    if (c.cfg.primary_url == NULL) {
        fprintf(stderr, "vs-coordinator: VS_DB_PRIMARY is not set (no stack env file found)\n");
        return 2;
    }
    if (window_init(config_get("VS_TZ", "Asia/Seoul"), err, sizeof err) != VS_OK) {
        fprintf(stderr, "vs-coordinator: VS_TZ: %s\n", err);
        return 2;
    }
    metrics_addr = config_get("VS_COORD_METRICS_ADDR", NULL);
    if (metrics_addr != NULL) {
        struct sockaddr_storage where;
        socklen_t wherelen;

        if (metrics_http_parse_addr(metrics_addr, &where, &wherelen, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vs-coordinator: VS_COORD_METRICS_ADDR: %s\n", err);
            return 2;
        }
    }
    coord_metrics_init(&c.metrics);
    /* BatchService is for admins only: without the tokens' secret, nobody could call it */
    if (coord_auth_init(err, sizeof err) != VS_OK) {
        fprintf(stderr, "vs-coordinator: %s\n", err);
        return 2;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    mysql_library_init(0, NULL, NULL);
    pthread_mutex_init(&c.progress.lock, NULL);
    pthread_cond_init(&c.progress.wake, NULL);
    pthread_cond_init(&c.progress.finished, NULL);
    pthread_mutex_init(&c.pipes.lock, NULL);

    if (batch_socket(nng_push0_open, c.cfg.task_url, 1, coord_on_task_pipe, &c, &push, err,
                     sizeof err) != VS_OK ||
        batch_socket(nng_pull0_open, c.cfg.result_url, 1, coord_on_result_pipe, &c, &pull, err,
                     sizeof err) != VS_OK ||
        coord_service_start(&c, &server, err, sizeof err) != VS_OK) {
        log_error("cannot start: %s", err);
        nng_close(push);
        nng_close(pull);
        return 1;
    }
    if (metrics_addr != NULL) {
        const metrics_source sources[] = {{rpc_server_metrics_collect, server},
                                          {coord_metrics_collect, &scrape},
                                          {db_metrics_collect, NULL}};

        if (metrics_http_start(metrics_addr, sources, sizeof sources / sizeof sources[0], &metrics,
                               err, sizeof err) != VS_OK) {
            log_error("cannot start: VS_COORD_METRICS_ADDR: %s", err);
            rpc_server_stop(server);
            nng_close(push);
            nng_close(pull);
            return 1;
        }
        log_info("metrics on http://%s/metrics", metrics_http_address(metrics));
    }
    log_info("control on %s, tasks on %s, results on %s (lease %lld ms, %lld ids per partition, "
             "%lld in flight)",
             c.cfg.control_url, c.cfg.task_url, c.cfg.result_url, (long long)c.cfg.lease_ms,
             (long long)c.cfg.partition_ids, (long long)c.cfg.inflight);
    if (c.cfg.schedule)
        log_info("schedule on: each business day is settled %lld s after it closes",
                 (long long)grace_s);
    else
        log_info("schedule off: jobs start only by StartJob");
    pthread_create(&scheduler, NULL, coord_scheduler, args);
    sigwait(&sigs, &sig);
    log_info("signal %d: stopping", sig);
    metrics_http_stop(metrics); /* it reads everything below */
    coord_scrape_fini(&scrape);
    c.stopping = 1;
    coord_wake(&c);
    pthread_join(scheduler, NULL);
    rpc_server_stop(server);
    nng_close(push);
    nng_close(pull);
    mysql_library_end();
    return 0;
}
