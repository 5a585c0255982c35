/* bench_play.c — vs-bench-play: sustained Play (+ some Pause) load on vsd from N callers over
 * C connections (vs_client handles: one by default, shared by all callers), with latency
 * percentiles, and a check that every acknowledged call is a committed play_log row.
 *
 * It signs up a creator and a viewer (UserService), creates the videos, then each caller keeps
 * one call in flight through libvsclient's asynchronous calls: Play, and every --pause-every-th
 * time a Pause right after it, each started from the previous call's done function (so N calls
 * are outstanding at all times without a thread per caller). Each caller owns its videos, so its
 * Play/Pause pairs never interleave with another caller's. See docs/benchmarks.md for the
 * figures and how they were taken. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vs/client.h>
#include <vs/streaming.h>

#include "config.h"
#include "db.h"
#include "grow.h"

#define BENCH_PASSWORD "bench-play-password-1"
#define BENCH_MAX_URLS 16

typedef struct bench_opts {
    const char *url;
    int threads;
    int connections;
    int duration_s;
    int warmup_s;
    int videos;
    int pause_every;
    int verify;
    int affinity; /* a caller's calls go to one of the URLs only (by caller), not spread */
} bench_opts;

/* One caller: its state is touched only by its own call in flight (from the done functions). */
typedef struct bench_caller {
    int index;
    vs_client *client;
    const bench_opts *opts;
    const uint64_t *videos;
    atomic_int *phase; /* 0 warm-up, 1 measuring, 2 stop */
    unsigned seed;
    int64_t iteration;
    /* the Play (and its Pause) in flight */
    uint64_t video;
    int call_phase; /* the phase when the Play started: the Pause counts in the same one */
    int64_t t0_us;
    int64_t *lat_us; /* Play latencies while measuring */
    size_t n_lat, cap_lat;
    int64_t plays, pauses, ok_calls;
    int64_t acked_all; /* every phase: the rows play_log must hold */
    int64_t errors[VS_UNAUTHENTICATED + 2];
    struct bench_callers *all;
} bench_caller;

/* The callers still running, for main to wait on. */
typedef struct bench_callers {
    pthread_mutex_t lock;
    pthread_cond_t retired;
    int running;
} bench_callers;

static int64_t bench_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Counts a finished call (a Play's latency is recorded by its done first) and frees its reply. */
static void bench_count(bench_caller *t, int code, ProtobufCMessage *reply)
{
    t->acked_all += code == VS_OK;
    if (t->call_phase == 1) {
        if (code == VS_OK)
            t->ok_calls++;
        else
            t->errors[code >= 0 && code <= VS_UNAUTHENTICATED ? code : VS_UNAUTHENTICATED + 1]++;
    }
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
}

static void bench_retire(bench_caller *t)
{
    pthread_mutex_lock(&t->all->lock);
    if (--t->all->running == 0)
        pthread_cond_signal(&t->all->retired);
    pthread_mutex_unlock(&t->all->lock);
}

static void bench_pause_done(void *arg, int code, ProtobufCMessage *reply,
                             const vs_call_status *st);
static void bench_play_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st);

/* Starts t's next Play, or retires t when the run is over (or a call cannot start). */
static void bench_next(bench_caller *t)
{
    int per_caller = t->opts->videos / t->opts->threads;
    Vs__V1__PlayRequest req = VS__V1__PLAY_REQUEST__INIT;
    char event_id[33];

    t->call_phase = atomic_load(t->phase);
    if (t->call_phase == 2) {
        bench_retire(t);
        return;
    }
    t->video = t->videos[t->index + t->opts->threads * (int)(rand_r(&t->seed) % per_caller)];
    vs_event_id(event_id);
    req.video_id = t->video;
    req.event_id = event_id;
    t->t0_us = bench_mono_us();
    if (vs_client_call_named_async(t->client, &vs__v1__streaming_service__descriptor, "Play",
                                   &req.base, bench_play_done, t) != VS_OK)
        bench_retire(t);
}

static void bench_play_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    bench_caller *t = arg;
    Vs__V1__PauseRequest req = VS__V1__PAUSE_REQUEST__INIT;
    char event_id[33];

    (void)st;
    if (t->call_phase == 1) {
        /* out of memory: the sample is lost, not the run */
        if (grow_array(&t->lat_us, &t->cap_lat, t->n_lat + 1, sizeof *t->lat_us, 65536, SIZE_MAX) ==
            VS_OK)
            t->lat_us[t->n_lat++] = bench_mono_us() - t->t0_us;
        t->plays++;
    }
    bench_count(t, code, reply);
    if (code != VS_OK || t->opts->pause_every <= 0 || ++t->iteration % t->opts->pause_every != 0) {
        bench_next(t);
        return;
    }
    vs_event_id(event_id);
    req.video_id = t->video;
    req.position_s = (int32_t)(rand_r(&t->seed) % 600);
    req.event_id = event_id;
    if (vs_client_call_named_async(t->client, &vs__v1__streaming_service__descriptor, "Pause",
                                   &req.base, bench_pause_done, t) != VS_OK)
        bench_retire(t);
}

static void bench_pause_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    bench_caller *t = arg;

    (void)st;
    t->pauses += t->call_phase == 1;
    bench_count(t, code, reply);
    bench_next(t);
}

/* Signs up email (ignoring "already exists") and logs in; sets the token on each of the n
 * clients. */
static int bench_login(vs_client *const *clients, int n, const char *email, uint64_t *user_id)
{
    Vs__V1__SignUpRequest up = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__LoginRequest in = VS__V1__LOGIN_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    Vs__V1__LoginResponse *login;
    vs_call_status st;
    vs_client *c = clients[0];

    up.email = (char *)email;
    up.password = BENCH_PASSWORD;
    up.display_name = "bench";
    if (vs_client_call_named(c, &vs__v1__user_service__descriptor, "SignUp", &up.base, &reply,
                             &st) != VS_OK &&
        st.code != VS_ALREADY_EXISTS) {
        fprintf(stderr, "vs-bench-play: SignUp %s: %s: %s\n", email, vs_status_name(st.code),
                st.message);
        return -1;
    }
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    in.email = (char *)email;
    in.password = BENCH_PASSWORD;
    if (vs_client_call_named(c, &vs__v1__user_service__descriptor, "Login", &in.base, &reply,
                             &st) != VS_OK) {
        fprintf(stderr, "vs-bench-play: Login %s: %s: %s\n", email, vs_status_name(st.code),
                st.message);
        return -1;
    }
    login = (Vs__V1__LoginResponse *)reply;
    for (int i = 0; i < n; i++)
        vs_client_set_token(clients[i], login->access_token);
    *user_id = login->user_id;
    protobuf_c_message_free_unpacked(reply, NULL);
    return 0;
}

static const char bench_usage[] =
    "usage: vs-bench-play [--url URL] [--threads N] [--connections C] [--duration S] [--warmup S]\n"
    "                     [--videos N] [--pause-every K] [--no-verify] [--affinity]\n"
    "\n"
    "Hammers StreamingService.Play (and Pause after every K-th Play per caller) from N callers\n"
    "(each one call in flight, asynchronous) spread over C vs_client connections (caller i on\n"
    "connection i mod C) for S seconds after a warm-up, then prints calls/s, errors by status and\n"
    "Play latency percentiles, and checks that play_log holds exactly one row per acknowledged\n"
    "call (needs VS_DB_PRIMARY, e.g. from the stack's env file).\n"
    "With several URLs (URL1,URL2,...) each connection dials them all and spreads its calls over\n"
    "them; --affinity instead gives every URL its own C connections and sends caller i's calls to\n"
    "URL i mod (URLs) only, as a balancer hashing on the viewer would: each (viewer, video) pair\n"
    "then has one vsd.\n"
    "defaults: --url $VS_URL --threads 32 --connections 1 --duration 30 --warmup 3 --videos 256\n"
    "          --pause-every 10\n";

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"connections", required_argument, NULL, 'c'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"warmup", required_argument, NULL, 'w'},
                                             {"videos", required_argument, NULL, 'v'},
                                             {"pause-every", required_argument, NULL, 'p'},
                                             {"no-verify", no_argument, NULL, 'n'},
                                             {"affinity", no_argument, NULL, 'a'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bench_opts o = {.threads = 32,
                    .connections = 1,
                    .duration_s = 30,
                    .warmup_s = 3,
                    .videos = 256,
                    .pause_every = 10,
                    .verify = 1};
    vs_client_options copts = {.timeout_ms = 30000};
    bench_caller *th;
    bench_callers callers = {.running = 0};
    atomic_int phase = 0;
    uint64_t *videos, creator_id, viewer_id;
    vs_client **clients, *client = NULL;
    char *urls[BENCH_MAX_URLS];
    int n_urls = 1;
    vs_call_status st;
    char email[128];
    int64_t plays = 0, pauses = 0, ok = 0, errors[VS_UNAUTHENTICATED + 2] = {0}, *all, n_all = 0;
    int64_t t_start, t_end, rows = 0;
    int opt;

    config_load();
    o.url = config_get("VS_URL", "tcp://127.0.0.1:7400");
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int64_t v = 0;

        if (optarg != NULL && config_parse_int(optarg, 0, 1000000, &v) != 0 && opt != 'u') {
            fprintf(stderr, "vs-bench-play: bad number \"%s\"\n", optarg);
            return 2;
        }
        switch (opt) {
        case 'u':
            o.url = optarg;
            break;
        case 't':
            o.threads = (int)(v > 0 ? v : 1);
            break;
        case 'c':
            o.connections = (int)(v > 0 ? v : 1);
            break;
        case 'd':
            o.duration_s = (int)(v > 0 ? v : 1);
            break;
        case 'w':
            o.warmup_s = (int)v;
            break;
        case 'v':
            o.videos = (int)v;
            break;
        case 'p':
            o.pause_every = (int)v;
            break;
        case 'n':
            o.verify = 0;
            break;
        case 'a':
            o.affinity = 1;
            break;
        case 'h':
            fputs(bench_usage, stdout);
            return 0;
        default:
            fputs(bench_usage, stderr);
            return 2;
        }
    }
    if (o.videos < o.threads)
        o.videos = o.threads;
    if (o.connections > o.threads)
        o.connections = o.threads;
    if (o.affinity) {
        /* one URL per entry of urls[], C connections each */
        char *list = strdup(o.url), *save = NULL;

        n_urls = 0;
        for (char *u = strtok_r(list, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save))
            urls[n_urls++] = u;
        if (n_urls == 0 || n_urls > BENCH_MAX_URLS) {
            fprintf(stderr, "vs-bench-play: --affinity: 1 to %d URLs, got \"%s\"\n", BENCH_MAX_URLS,
                    o.url);
            return 2;
        }
    }
    clients = calloc((size_t)(o.connections * n_urls), sizeof *clients);
    for (int i = 0; i < o.connections * n_urls; i++) {
        const char *url = o.affinity ? urls[i % n_urls] : o.url;

        if (vs_client_open(url, &copts, &clients[i], &st) != VS_OK) {
            fprintf(stderr, "vs-bench-play: %s: %s\n", url, st.message);
            return 1;
        }
    }
    client = clients[0];
    snprintf(email, sizeof email, "bench-creator-%d-%ld@bench.test", (int)getpid(),
             (long)time(NULL));
    if (bench_login(clients, 1, email, &creator_id) != 0)
        return 1;
    videos = calloc((size_t)o.videos, sizeof *videos);
    for (int i = 0; i < o.videos; i++) {
        Vs__V1__Video *v = NULL;

        if (vs_video_create(client, "bench video", 3600, NULL, &v, &st) != VS_OK) {
            fprintf(stderr, "vs-bench-play: CreateVideo: %s: %s\n", vs_status_name(st.code),
                    st.message);
            return 1;
        }
        videos[i] = v->id;
        protobuf_c_message_free_unpacked(&v->base, NULL);
    }
    snprintf(email, sizeof email, "bench-viewer-%d-%ld@bench.test", (int)getpid(),
             (long)time(NULL));
    if (bench_login(clients, o.connections * n_urls, email, &viewer_id) != 0)
        return 1;

    th = calloc((size_t)o.threads, sizeof *th);
    pthread_mutex_init(&callers.lock, NULL);
    pthread_cond_init(&callers.retired, NULL);
    callers.running = o.threads;
    for (int i = 0; i < o.threads; i++) {
        th[i] = (bench_caller){.index = i,
                               /* affinity: URL i mod n, then one of its connections */
                               .client = clients[i % (o.connections * n_urls)],
                               .opts = &o,
                               .videos = videos,
                               .phase = &phase,
                               .seed = (unsigned)i * 7919u + 1,
                               .all = &callers};
        bench_next(&th[i]);
    }
    sleep((unsigned)o.warmup_s);
    t_start = bench_mono_us();
    atomic_store(&phase, 1);
    sleep((unsigned)o.duration_s);
    atomic_store(&phase, 2);
    t_end = bench_mono_us();
    /* each caller retires after its call in flight: then every count is final */
    pthread_mutex_lock(&callers.lock);
    while (callers.running > 0)
        pthread_cond_wait(&callers.retired, &callers.lock);
    pthread_mutex_unlock(&callers.lock);
    for (int i = 0; i < o.threads; i++) {
        plays += th[i].plays;
        pauses += th[i].pauses;
        ok += th[i].ok_calls;
        n_all += (int64_t)th[i].n_lat;
        for (int k = 0; k <= VS_UNAUTHENTICATED + 1; k++)
            errors[k] += th[i].errors[k];
    }
    all = malloc((size_t)(n_all ? n_all : 1) * sizeof *all);
    n_all = 0;
    for (int i = 0; i < o.threads; i++) {
        memcpy(all + n_all, th[i].lat_us, th[i].n_lat * sizeof *all);
        n_all += (int64_t)th[i].n_lat;
        free(th[i].lat_us);
    }
    qsort(all, (size_t)n_all, sizeof *all, bench_cmp_i64);
    {
        double secs = (double)(t_end - t_start) / 1e6;
#define PCT(p) (n_all ? all[(int64_t)((double)(n_all - 1) * (p))] / 1000.0 : 0.0)
        printf("vs-bench-play: %d callers on %d connection%s, %s, %d videos, Pause after every %d "
               "Play\n",
               o.threads, o.connections, o.connections == 1 ? "" : "s", o.url, o.videos,
               o.pause_every);
        printf("measured %.1f s (after %d s warm-up): %" PRId64 " Play, %" PRId64 " Pause\n", secs,
               o.warmup_s, plays, pauses);
        printf("throughput: %.0f Play/s, %.0f calls/s\n", (double)plays / secs,
               (double)(plays + pauses) / secs);
        printf("Play latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", PCT(0.50),
               PCT(0.90), PCT(0.99), PCT(0.999), n_all ? all[n_all - 1] / 1000.0 : 0.0);
        printf("errors:");
        for (int k = 0; k <= VS_UNAUTHENTICATED + 1; k++)
            if (errors[k] != 0)
                printf(" %s=%" PRId64, k <= VS_UNAUTHENTICATED ? vs_status_name(k) : "OTHER",
                       errors[k]);
        printf("%s\n", plays + pauses == ok ? " none" : "");
#undef PCT
    }
    free(all);
    if (o.verify) {
        /* every acknowledged call, warm-up included, must be exactly one committed row */
        MYSQL *db = NULL;
        char err[256], sql[160];
        int64_t acked = 0;

        for (int i = 0; i < o.threads; i++)
            acked += th[i].acked_all;
        if (db_connect(config_get("VS_DB_PRIMARY", ""), 5, &db, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vs-bench-play: verify: %s\n", err);
            return 1;
        }
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM play_log WHERE viewer_id=%" PRIu64,
                 viewer_id);
        if (db_query_int(db, sql, &rows, err, sizeof err) != VS_OK) {
            fprintf(stderr, "vs-bench-play: verify: %s\n", err);
            return 1;
        }
        mysql_close(db);
        printf("verify: %" PRId64 " calls acknowledged (warm-up included), %" PRId64
               " play_log rows: %s\n",
               acked, rows,
               acked == rows ? "every acknowledged call is one committed row" : "MISMATCH");
        if (acked != rows)
            return 1;
    }
    for (int i = 0; i < o.connections; i++)
        vs_client_close(clients[i]);
    free(clients);
    pthread_cond_destroy(&callers.retired);
    pthread_mutex_destroy(&callers.lock);
    free(th);
    free(videos);
    return 0;
}
