/* main.c — vsd: the User and Streaming services over nng REQ/REP.
 *
 * Configuration comes from the environment (the stack's env file is imported, see config.h) and
 * flags, flags winning. vsd starts even if MariaDB or Redis is down: RPC threads connect lazily,
 * and Health reports what is unreachable. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users/auth.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "reads/reads.h"
#include "redis.h"
#include "users/revocation.h"
#include "play/streaming.h"
#include "users/users.h"
#include "vsd.h"
#include "vsd_metrics.h"
#include "window.h"

static const char vsd_usage[] =
    "usage: vsd [options]\n"
    "\n"
    "Serves vs.v1.UserService and vs.v1.StreamingService over nng REQ/REP.\n"
    "\n"
    "options (environment variable in brackets; the stack's env file is read first):\n"
    "  -u, --url URL          listen URL, repeatable; tcp://host:port, tls+tcp://host:port\n"
    "                         or ipc:///path [VS_URL, comma-separated; default\n"
    "                         tcp://127.0.0.1:7400]\n"
    "  [VS_TLS_CERT, VS_TLS_KEY]  PEM certificate (signed by the deployment's CA, naming the\n"
    "                         host clients dial) and its key (mode 0600), presented on\n"
    "                         tls+tcp:// URLs; clients verify it against their VS_TLS_CA\n"
    "  -t, --threads N        RPC threads, each with its own DB/Redis connections\n"
    "                         for calls that need a connection [VS_THREADS; default 64]\n"
    "  [VS_RPC_SLOTS]         requests in service at once [default 4 per thread]\n"
    "  [VS_RPC_INLINE]        on|off: run reads, Play, Pause and Health in nng's callback\n"
    "                         when they need no connection [default on; docs/protocol.md]\n"
    "  [VS_LISTEN_CHECK_MS]   how often each listener is checked to still accept connections\n"
    "                         (nng 1.5.2 can stop accepting; it is then listened again)\n"
    "                         [default 500; 0: never]\n"
    "      --max-message N    largest request accepted, bytes [VS_MAX_MESSAGE; default 16384]\n"
    "  [VS_RPC_MAX_CONNECTIONS]  connections open at once [default 1000]\n"
    "  [VS_RPC_MAX_CONNECTIONS_PER_ADDRESS]  from one TCP peer address [default 64]\n"
    "  [VS_RPC_IDLE_TIMEOUT_MS]  a connection without a complete request for this long is\n"
    "                         closed (clients reconnect) [default 60000]\n"
    "      --db-primary URL   mysql://user:pass@host:port/db [VS_DB_PRIMARY]\n"
    "      --db-replica URL   [VS_DB_REPLICA; default: the primary]\n"
    "      --redis ADDR       redis://host:port [VS_REDIS; default redis://127.0.0.1:7409]\n"
    "  [VS_DB_IO_TIMEOUT_S]   seconds a statement on the primary may take before vsd gives\n"
    "                         up on it and its connection [default 5; docs/stack.md]\n"
    "      --metrics ADDR     serve Prometheus metrics on GET http://ADDR/metrics: PORT (on\n"
    "                         127.0.0.1), HOST:PORT or [IPv6]:PORT [VS_METRICS_ADDR;\n"
    "                         default: off; docs/operations.md]\n"
    "  -h, --help             this text\n"
    "  -V, --version          print the version\n"
    "\n"
    "tokens and passwords (environment only; docs/users.md):\n"
    "  VS_JWT_SECRET_FILE     HS256 key file, mode 0600, >= 32 bytes (the stack writes one)\n"
    "  VS_JWT_SECRET          the key itself, instead of the file\n"
    "  VS_JWT_SECRET_PREVIOUS_FILE, VS_JWT_SECRET_PREVIOUS  the secret before a rotation, by\n"
    "                         the same rules: tokens it signed are accepted until they expire,\n"
    "                         new tokens are signed with the current one [default: none]\n"
    "  VS_TOKEN_TTL_S         token lifetime [default 3600]\n"
    "  VS_PWHASH_OPSLIMIT, VS_PWHASH_MEMLIMIT  argon2id t and m [defaults 2, 19 MiB; minimums]\n"
    "  VS_HASH_CONCURRENCY    password hashes at once [default 2]\n"
    "  VS_AUTH_REVOCATION_PUSH  1|0: revocations pushed into memory over Redis [default 1]\n"
    "\n"
    "reads (environment only; docs/reads.md):\n"
    "  VS_READ_ROUTING        replica|primary [default replica, with fallback to the primary]\n"
    "  VS_REPLICA_MAX_LAG_MS  replica lag bound [default 1000]\n"
    "  VS_READ_MODEL          on|off: settled days answered from memory [default on]\n"
    "  VS_READ_MODEL_DAYS     the newest settled days held in memory [default 120]\n"
    "\n"
    "plays (environment only; docs/streaming.md):\n"
    "  VS_VIEW_REPEAT_WINDOW_S  the view-repeat window, seconds [default 30]\n"
    "  VS_PLAY_COMMITTERS     commit lanes [default 1]\n"
    "  VS_PLAY_MAX_BATCH      events committed in one round at most [default 512]\n"
    "  VS_PLAY_KNOWN_PAIRS    known watch-position rows a lane keeps [default 65536; 0: none]\n"
    "  VS_PLAY_CLOCK_PAIRS    pairs the playback clock remembers [default 262144]\n";

static int vsd_thread_init(int index, void **ctx)
{
    vsd_thread *w = calloc(1, sizeof *w);
    char err[256];

    if (w == NULL)
        return -1;
    w->index = index;
    /* a failed first connect is fine: redis_command reconnects on use */
    if (redis_open(vsd_cfg.redis, 1000, &w->redis, err, sizeof err) != VS_OK && w->redis == NULL) {
        log_error("thread %d: %s", index, err);
        free(w);
        return -1;
    }
    *ctx = w;
    return 0;
}

static void vsd_thread_fini(void *ctx)
{
    vsd_thread *w = ctx;

    read_exec_thread_fini(w);
    vsd_db_reset(w, VSD_PRIMARY);
    vsd_db_reset(w, VSD_REPLICA);
    redis_close(w->redis);
    free(w);
}

/* The methods that run in nng's callback when they need no connection (rpc_server.h): the reads
 * of settled data, Play and Pause (answered by the commit lane) and Health. Everything else would
 * ask for a connection at once, so it goes straight to an RPC thread. */
static int vsd_may_run_inline(const char *service, const char *method)
{
    static const char *const streaming[] = {"Health",        "Play",         "Pause",
                                            "GetVideoStats", "GetTopVideos", "GetSettlement"};

    if (strcmp(service, "vs.v1.StreamingService") != 0)
        return 0;
    for (size_t i = 0; i < sizeof streaming / sizeof streaming[0]; i++)
        if (strcmp(method, streaming[i]) == 0)
            return 1;
    return 0;
}

static int vsd_inline_init(void **ctx)
{
    vsd_thread *w = calloc(1, sizeof *w);

    if (w == NULL)
        return -1;
    w->index = -1;
    w->is_inline = 1;
    *ctx = w;
    return 0;
}

static int vsd_inline_blocked(void *ctx)
{
    vsd_thread *w = ctx;
    int blocked = w->blocked;

    w->blocked = 0;
    return blocked;
}

/* The vsd process: its parts in start order (vsd_parts), how many have started, and what the RPC
 * server is made from. main holds the one value; vsd_stop stops what started, in reverse. */
typedef struct vsd {
    rpc_server_config rpc_cfg;
    ProtobufCService *services[2];
    rpc_server *server;
    const char *metrics_addr; /* NULL: no metrics endpoint */
    metrics_http *metrics;
    size_t n_started;
} vsd;

/* One part of vsd. start fails with err set; main then exits with exit_code. */
typedef struct vsd_part {
    vs_status (*start)(vsd *v, char *err, size_t errlen);
    void (*stop)(vsd *v);
    int exit_code;
} vsd_part;

/* Adapters from the parts' own start/stop to vsd_part. The parts keep their state in file-scope
 * statics: RPC handlers on any thread, inline ones included, reach them without a handle, and
 * there is one of each per process. Only main starts and stops them, here, in this order. */
static vs_status vsd_tokens_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return auth_init(err, errlen); /* refuses a weak token secret */
}

static void vsd_tokens_stop(vsd *v)
{
    (void)v;
    auth_fini();
}

static vs_status vsd_accounts_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return users_init(err, errlen); /* refuses password hashing below the minimum */
}

static vs_status vsd_mariadb_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    if (mysql_library_init(0, NULL, NULL) != 0) {
        snprintf(err, errlen, "cannot initialise the MariaDB client library");
        return VS_INTERNAL;
    }
    return VS_OK;
}

static void vsd_mariadb_stop(vsd *v)
{
    (void)v;
    mysql_library_end();
}

static vs_status vsd_streaming_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return streaming_init(err, errlen);
}

static void vsd_streaming_stop(vsd *v)
{
    (void)v;
    streaming_fini();
}

static vs_status vsd_read_route_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return read_route_start(err, errlen);
}

static void vsd_read_route_stop(vsd *v)
{
    (void)v;
    read_route_stop();
}

static vs_status vsd_read_model_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return read_model_start(err, errlen);
}

static void vsd_read_model_stop(vsd *v)
{
    (void)v;
    read_model_stop();
}

static vs_status vsd_revocations_start(vsd *v, char *err, size_t errlen)
{
    (void)v;
    return revocation_start(err, errlen);
}

static void vsd_revocations_stop(vsd *v)
{
    (void)v;
    revocation_stop();
}

static vs_status vsd_rpc_start(vsd *v, char *err, size_t errlen)
{
    vsd_started_mono_ms = clock_mono_ms();
    v->services[0] = vsd_user_service();
    v->services[1] = vsd_streaming_service();
    return rpc_server_start(&v->rpc_cfg, v->services, 2, &v->server, err, errlen);
}

static void vsd_rpc_stop(vsd *v)
{
    rpc_server_stop(v->server);
    v->server = NULL;
}

/* The metrics endpoint reads every part, the RPC server included: it starts after them all and
 * stops first. */
static vs_status vsd_metrics_part_start(vsd *v, char *err, size_t errlen)
{
    vs_status rc;

    if (v->metrics_addr == NULL)
        return VS_OK;
    if ((rc = vsd_metrics_start(v->metrics_addr, v->server, &v->metrics, err, errlen)) == VS_OK)
        log_info("metrics on http://%s/metrics", metrics_http_address(v->metrics));
    return rc;
}

static void vsd_metrics_part_stop(vsd *v)
{
    metrics_http_stop(v->metrics);
    v->metrics = NULL;
}

/* Start order: what a later part uses starts earlier. The MariaDB client library comes before
 * any thread that connects; the RPC server comes last, once everything it serves is ready. */
static const vsd_part vsd_parts[] = {
    {vsd_tokens_start, vsd_tokens_stop, 2},
    {vsd_accounts_start, NULL, 2},
    {vsd_mariadb_start, vsd_mariadb_stop, 1},
    {vsd_streaming_start, vsd_streaming_stop, 2},
    {vsd_read_route_start, vsd_read_route_stop, 2},
    {vsd_read_model_start, vsd_read_model_stop, 2},
    {vsd_revocations_start, vsd_revocations_stop, 2},
    {vsd_rpc_start, vsd_rpc_stop, 1},
    {vsd_metrics_part_start, vsd_metrics_part_stop, 1},
};

/* Stops every part that started, in reverse. */
static void vsd_stop(vsd *v)
{
    while (v->n_started > 0) {
        const vsd_part *part = &vsd_parts[--v->n_started];

        if (part->stop != NULL)
            part->stop(v);
    }
}

/* Starts the parts in order; on a failure stops those already started and returns the exit
 * status (err says why), else 0. */
static int vsd_start(vsd *v, char *err, size_t errlen)
{
    for (v->n_started = 0; v->n_started < sizeof vsd_parts / sizeof vsd_parts[0]; v->n_started++) {
        const vsd_part *part = &vsd_parts[v->n_started];

        if (part->start(v, err, errlen) != VS_OK) {
            vsd_stop(v);
            return part->exit_code;
        }
    }
    return 0;
}

/* Splits a comma-separated VS_URL into vsd_cfg.urls (the copy lives for the process). */
static int vsd_add_env_urls(const char *list)
{
    char *copy = strdup(list), *save = NULL;

    for (char *u = strtok_r(copy, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        if (vsd_cfg.n_urls == VSD_MAX_URLS)
            return -1;
        vsd_cfg.urls[vsd_cfg.n_urls++] = u;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},         {"threads", required_argument, NULL, 't'},
        {"max-message", required_argument, NULL, 'm'}, {"db-primary", required_argument, NULL, 'P'},
        {"db-replica", required_argument, NULL, 'R'},  {"redis", required_argument, NULL, 'r'},
        {"metrics", required_argument, NULL, 'M'},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},           {NULL, 0, NULL, 0}};
    vsd v = {0};
    char err[512];
    int64_t threads, max_message, slots, listen_check_ms, db_io_timeout_s, max_conns, max_per_addr,
        idle_ms;
    const char *inline_mode;
    int vsd_inline;
    const char *flag_threads = NULL, *flag_max = NULL;
    sigset_t sigs;
    int opt, sig, status;

    log_init("vsd");
    config_load();
    while ((opt = getopt_long(argc, argv, "u:t:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            if (vsd_cfg.n_urls == VSD_MAX_URLS) {
                fprintf(stderr, "vsd: at most %d --url\n", VSD_MAX_URLS);
                return 2;
            }
            vsd_cfg.urls[vsd_cfg.n_urls++] = optarg;
            break;
        case 't':
            flag_threads = optarg;
            break;
        case 'm':
            flag_max = optarg;
            break;
        case 'P':
            setenv("VS_DB_PRIMARY", optarg, 1);
            break;
        case 'R':
            setenv("VS_DB_REPLICA", optarg, 1);
            break;
        case 'r':
            setenv("VS_REDIS", optarg, 1);
            break;
        case 'M':
            setenv("VS_METRICS_ADDR", optarg, 1);
            break;
        case 'h':
            fputs(vsd_usage, stdout);
            return 0;
        case 'V':
            printf("vsd %s\n", VS_VERSION);
            return 0;
        default:
            fputs(vsd_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsd: unexpected argument \"%s\"\n%s", argv[optind], vsd_usage);
        return 2;
    }
    if (flag_threads != NULL)
        setenv("VS_THREADS", flag_threads, 1);
    if (flag_max != NULL)
        setenv("VS_MAX_MESSAGE", flag_max, 1);
    if (config_get_int("VS_THREADS", 64, 1, 1024, &threads, err, sizeof err) != VS_OK ||
        config_get_int("VS_MAX_MESSAGE", RPC_DEFAULT_MAX_MESSAGE, 1024, 1 << 30, &max_message, err,
                       sizeof err) != VS_OK ||
        config_get_int("VS_RPC_MAX_CONNECTIONS", RPC_DEFAULT_MAX_CONNECTIONS, 1, 1 << 20,
                       &max_conns, err, sizeof err) != VS_OK ||
        config_get_int("VS_RPC_MAX_CONNECTIONS_PER_ADDRESS", RPC_DEFAULT_MAX_PER_ADDRESS, 1,
                       1 << 20, &max_per_addr, err, sizeof err) != VS_OK ||
        config_get_int("VS_RPC_IDLE_TIMEOUT_MS", RPC_DEFAULT_IDLE_TIMEOUT_MS, 100, 86400000,
                       &idle_ms, err, sizeof err) != VS_OK ||
        config_get_int("VS_RPC_SLOTS", 0, 0, 65536, &slots, err, sizeof err) != VS_OK ||
        config_get_int("VS_LISTEN_CHECK_MS", 500, 0, 3600000, &listen_check_ms, err, sizeof err) !=
            VS_OK ||
        config_get_int("VS_DB_IO_TIMEOUT_S", 5, 1, 3600, &db_io_timeout_s, err, sizeof err) !=
            VS_OK) {
        fprintf(stderr, "vsd: %s\n", err);
        return 2;
    }
    if (vsd_cfg.n_urls == 0 && vsd_add_env_urls(config_get("VS_URL", "tcp://127.0.0.1:7400"))) {
        fprintf(stderr, "vsd: at most %d URLs in VS_URL\n", VSD_MAX_URLS);
        return 2;
    }
    inline_mode = config_get("VS_RPC_INLINE", "on");
    if (strcmp(inline_mode, "on") != 0 && strcmp(inline_mode, "off") != 0) {
        fprintf(stderr, "vsd: VS_RPC_INLINE must be on or off, not \"%s\"\n", inline_mode);
        return 2;
    }
    vsd_inline = strcmp(inline_mode, "on") == 0;
    vsd_cfg.threads = (int)threads;
    vsd_cfg.max_message = (size_t)max_message;
    vsd_cfg.db_io_timeout_s = (int)db_io_timeout_s;
    vsd_cfg.db_primary = config_get("VS_DB_PRIMARY", NULL);
    vsd_cfg.db_replica = config_get("VS_DB_REPLICA", vsd_cfg.db_primary);
    vsd_cfg.redis = config_get("VS_REDIS", "redis://127.0.0.1:7409");
    vsd_cfg.tz = config_get("VS_TZ", "Asia/Seoul");
    if (window_init(vsd_cfg.tz, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsd: VS_TZ: %s\n", err);
        return 2;
    }
    if (vsd_cfg.db_primary == NULL) {
        fprintf(stderr,
                "vsd: VS_DB_PRIMARY is not set (run tools/stack up, or pass --db-primary)\n");
        return 2;
    }
    v.metrics_addr = config_get("VS_METRICS_ADDR", NULL);
    if (v.metrics_addr != NULL) {
        struct sockaddr_storage where;
        socklen_t wherelen;

        if (metrics_http_parse_addr(v.metrics_addr, &where, &wherelen, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vsd: VS_METRICS_ADDR / --metrics: %s\n", err);
            return 2;
        }
    }
    {
        db_url parsed;
        if (db_url_parse(vsd_cfg.db_primary, &parsed, err, sizeof err) != VS_OK ||
            db_url_parse(vsd_cfg.db_replica, &parsed, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vsd: %s\n", err);
            return 2;
        }
    }

    /* handle termination signals synchronously in main; every thread started below inherits
     * the mask */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    v.rpc_cfg.urls = vsd_cfg.urls;
    v.rpc_cfg.n_urls = vsd_cfg.n_urls;
    v.rpc_cfg.threads = vsd_cfg.threads;
    v.rpc_cfg.max_message = vsd_cfg.max_message;
    v.rpc_cfg.max_connections = (int)max_conns;
    v.rpc_cfg.max_connections_per_address = (int)max_per_addr;
    v.rpc_cfg.idle_timeout_ms = (int)idle_ms;
    v.rpc_cfg.name = "vsd";
    v.rpc_cfg.worker_init = vsd_thread_init;
    v.rpc_cfg.worker_fini = vsd_thread_fini;
    v.rpc_cfg.slots = (int)slots;
    v.rpc_cfg.listen_check_ms = listen_check_ms == 0 ? -1 : (int)listen_check_ms;
    if (vsd_inline) {
        v.rpc_cfg.may_run_inline = vsd_may_run_inline;
        v.rpc_cfg.inline_init = vsd_inline_init;
        v.rpc_cfg.inline_blocked = vsd_inline_blocked;
    }
    if ((status = vsd_start(&v, err, sizeof err)) != 0) {
        fprintf(stderr, "vsd: %s\n", err);
        return status;
    }
    for (int i = 0; i < vsd_cfg.n_urls; i++)
        log_info("listening on %s (%d threads, max message %zu bytes)", vsd_cfg.urls[i],
                 vsd_cfg.threads, vsd_cfg.max_message);
    sigwait(&sigs, &sig);
    log_info("signal %d: shutting down after %llu requests", sig,
             (unsigned long long)rpc_server_requests(v.server));
    vsd_stop(&v);
    return 0;
}
