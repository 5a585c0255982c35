/* vsbench.c — load tool for vsd's protocol (a JMeter replacement): closed-loop or open-loop
 * load of one scenario (vsbench_ops.c) through one vs_client's asynchronous calls, with a warm-up,
 * latency percentiles and errors by status code.
 *
 * Closed loop: --concurrency callers each keep one operation in flight: its done function records
 * the latency and starts that caller's next one, so N requests are outstanding at all times with
 * no thread per caller (the work runs on nng's callback threads). Open loop (--rate R): request i
 * is due at start + i/R whatever happened to the previous ones; one scheduler thread sleeps until
 * the next is due, lends it an idle caller and starts it, and its latency is counted from the *due*
 * time. A server that stalls for a second therefore shows a second of latency on every request
 * that fell due meanwhile, instead of hiding it by sending less (coordinated omission). The callers
 * bound the requests in flight; when all are busy, later requests start late and that lateness is
 * counted too. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include <vs/user.h>

#include "config.h"
#include "hist.h"
#include "vsbench_ops.h"
#include "window.h"

#define VSBENCH_CODES (VS_UNAUTHENTICATED + 1)

struct vsbench_run;

/* One caller: keeps one operation in flight at a time, driven from the done functions of its
 * asynchronous calls (closed loop), or lent one due request at a time by the scheduler (open loop).
 * Only the operation in flight touches it, so it needs no lock. */
typedef struct vsbench_caller {
    vsbench_op op; /* its operations; op.done is vsbench_op_done */
    struct vsbench_run *run;
    int64_t start_ns; /* the operation in flight: when it started (closed loop) or was due (open) */
    struct vsbench_caller *next_idle; /* open loop: the scheduler's list of idle callers */
    /* results of the measured window */
    hist lat;
    int64_t by_code[VSBENCH_CODES];
    int64_t other_codes;
} vsbench_caller;

static const char vsbench_usage[] =
    "usage: vsbench [options] SCENARIO\n"
    "\n"
    "scenarios: read (GetVideoStats/GetTopVideos/GetSettlement mix), play (Play+Pause pairs),\n"
    "           mixed (a play pair for --play-share percent of requests, else a read),\n"
    "           login (one account: vsd refuses more than 5 log-ins of an email in flight at\n"
    "           once with RESOURCE_EXHAUSTED, so use -c 5 or less; all log-ins come from one\n"
    "           address: give the vsd under test VS_LOGIN_PER_SOURCE=0), health (shallow Health:\n"
    "           transport cost)\n"
    "\n"
    "load:\n"
    "  --url URL            vsd [VS_URL; the stack's env file is read]\n"
    "  -c, --concurrency N  callers (closed loop) or senders (open loop) [16; open loop 64]\n"
    "  -r, --rate R         open loop at R requests/s (default: closed loop)\n"
    "  -w, --warmup S       seconds of load before measuring [2]\n"
    "  -d, --duration S     seconds measured [10]\n"
    "  -n, --requests N     measure N requests instead (open loop: N/R seconds)\n"
    "  --timeout MS         per-call deadline [10000]\n"
    "  --json               one JSON object instead of text\n"
    "data (read, play, mixed):\n"
    "  --first-video ID --videos N   video ids used [1, 100000]\n"
    "  --from YYYY-MM-DD --days N    days with batch output (read) [2026-10-01, 30]\n"
    "  --mine               read: top-N over the caller's videos (default: all; needs admin)\n"
    "  --mix S:T:P          read: weights of GetVideoStats, GetTopVideos, GetSettlement [4:3:3]\n"
    "  --pause-at S         play: Pause position in seconds [30]\n"
    "  --play-share PCT     mixed: percent of requests that are Play+Pause pairs [50]\n"
    "play, mixed: plays_acked counts every Play answered OK, warm-up included (its Pause may\n"
    "have failed), to compare with play_log\n"
    "credentials (read, play, mixed, login):\n"
    "  --email E            log in as E; password from $VSBENCH_PASSWORD or --password-stdin\n"
    "  --password-stdin     read the password from the first line of standard input\n"
    "  --token-file PATH    or use a saved token (e.g. vsctl's ~/.config/vs/token)\n";

typedef struct vsbench_run {
    vsbench_opts opts;
    vs_client *client;
    int64_t t0_ns;                    /* start of the warm-up */
    int64_t measure_ns;               /* start of the measured window */
    int64_t end_ns;                   /* end of the measured window (by duration) */
    int64_t interval_ns;              /* open loop: between due times */
    atomic_int_fast64_t measured;     /* requests started inside the window */
    atomic_int_fast64_t last_done_ns; /* latest completion inside the window */
    pthread_mutex_t lock;             /* guards busy and idle */
    pthread_cond_t changed;           /* a caller became idle or retired */
    int busy;             /* callers with an operation in flight (closed: not retired) */
    vsbench_caller *idle; /* open loop: callers free to take the next due request */
} vsbench_run;

static int64_t vsbench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void vsbench_sleep_until(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

/* Records one outcome if the request belongs to the measured window (due/start time in it). */
static void vsbench_record(vsbench_run *run, vsbench_caller *c, int64_t start_ns, int64_t done_ns,
                           int rc)
{
    int64_t last;

    if (start_ns < run->measure_ns)
        return;
    hist_record(&c->lat, (done_ns - start_ns) / 1000);
    if (rc >= 0 && rc < VSBENCH_CODES)
        c->by_code[rc]++;
    else
        c->other_codes++;
    last = atomic_load(&run->last_done_ns);
    while (done_ns > last && !atomic_compare_exchange_weak(&run->last_done_ns, &last, done_ns))
        ;
}

/* Whether a request starting (or due) at ns is still wanted, counting it when measured. */
static int vsbench_want(vsbench_run *run, int64_t ns)
{
    if (ns >= run->end_ns)
        return 0;
    if (ns < run->measure_ns || run->opts.requests == 0)
        return 1;
    return atomic_fetch_add(&run->measured, 1) < run->opts.requests;
}

/* Closed loop: starts c's next operation, or retires c once no more are wanted. Runs on the main
 * thread for the first operation and then from the done functions. */
static void vsbench_closed_next(vsbench_caller *c)
{
    vsbench_run *run = c->run;

    for (;;) {
        int64_t start = vsbench_now_ns();
        int rc;

        if (!vsbench_want(run, start))
            break;
        c->start_ns = start;
        if ((rc = vsbench_op_start(&c->op)) == VS_OK)
            return;
        vsbench_record(run, c, start, vsbench_now_ns(), rc); /* could not even start */
    }
    pthread_mutex_lock(&run->lock);
    if (--run->busy == 0)
        pthread_cond_signal(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

/* Open loop: c is free for the next due request. */
static void vsbench_open_release(vsbench_caller *c)
{
    vsbench_run *run = c->run;

    pthread_mutex_lock(&run->lock);
    c->next_idle = run->idle;
    run->idle = c;
    run->busy--;
    pthread_cond_signal(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

/* The done function of every caller's operations (vsbench_op_done_fn). */
static void vsbench_op_done(vsbench_op *op, int rc)
{
    vsbench_caller *c = (vsbench_caller *)((char *)op - offsetof(vsbench_caller, op));
    vsbench_run *run = c->run;

    vsbench_record(run, c, c->start_ns, vsbench_now_ns(), rc);
    if (run->opts.rate > 0)
        vsbench_open_release(c);
    else
        vsbench_closed_next(c);
}

/* Open loop sender (the main thread): every request goes out on an idle caller as soon as its due
 * time has passed, waiting for a caller when all are busy; its latency counts from the due time
 * regardless. The sender wakes at most once per VSBENCH_TICK_NS and then sends everything due:
 * waking once per request would cost the machine a thread wake-up per request (about a third of
 * the load generator's CPU at 20,000 requests/s) for no gain in accuracy, since a request sent up
 * to one tick late has that delay counted in its latency. */
#define VSBENCH_TICK_NS 100000

static void vsbench_open(vsbench_run *run)
{
    prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within ~1 µs of the time asked, not the default 50 */
    for (int64_t slot = 0;; slot++) {
        int64_t due = run->t0_ns + slot * run->interval_ns;
        vsbench_caller *c;
        int rc;

        if (!vsbench_want(run, due))
            break;
        if (due > vsbench_now_ns()) {
            int64_t tick =
                ((due - run->t0_ns + VSBENCH_TICK_NS - 1) / VSBENCH_TICK_NS) * VSBENCH_TICK_NS;

            vsbench_sleep_until(run->t0_ns + tick); /* the first tick at or after due */
        }
        pthread_mutex_lock(&run->lock);
        while (run->idle == NULL)
            pthread_cond_wait(&run->changed, &run->lock);
        c = run->idle;
        run->idle = c->next_idle;
        run->busy++;
        pthread_mutex_unlock(&run->lock);
        c->start_ns = due;
        if ((rc = vsbench_op_start(&c->op)) != VS_OK) {
            vsbench_record(run, c, due, vsbench_now_ns(), rc);
            vsbench_open_release(c);
        }
    }
}

/* Logs in (or loads a saved token) so calls carry a token; 0 on success. */
static int vsbench_credentials(vsbench_run *run, int password_stdin, const char *token_file)
{
    static char password[1100];
    vs_call_status st;

    if (token_file != NULL) {
        char token[4096];
        FILE *f = fopen(token_file, "r");
        size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;

        if (f != NULL)
            fclose(f);
        while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' '))
            n--;
        token[n] = '\0';
        if (n == 0) {
            fprintf(stderr, "vsbench: --token-file %s: no token in it\n", token_file);
            return -1;
        }
        vs_client_set_token(run->client, token);
        sodium_memzero(token, sizeof token);
        if (strcmp(run->opts.scenario, "login") != 0)
            return 0;
    }
    if (run->opts.email == NULL) {
        if (strcmp(run->opts.scenario, "health") == 0 || token_file != NULL)
            return 0;
        fprintf(stderr, "vsbench: %s needs --email (or --token-file)\n", run->opts.scenario);
        return -1;
    }
    if (password_stdin) {
        if (fgets(password, sizeof password, stdin) == NULL) {
            fprintf(stderr, "vsbench: --password-stdin: no line on standard input\n");
            return -1;
        }
        password[strcspn(password, "\r\n")] = '\0';
    } else if (getenv("VSBENCH_PASSWORD") != NULL) {
        snprintf(password, sizeof password, "%s", getenv("VSBENCH_PASSWORD"));
    } else {
        fprintf(stderr, "vsbench: no password: set VSBENCH_PASSWORD or use --password-stdin\n");
        return -1;
    }
    run->opts.password = password;
    if (vs_user_login(run->client, run->opts.email, password, NULL, NULL, NULL, &st) != VS_OK) {
        fprintf(stderr, "vsbench: login as %s: %s: %s\n", run->opts.email, vs_status_name(st.code),
                st.message);
        return -1;
    }
    return 0;
}

static void vsbench_report(const vsbench_run *run, const hist *lat, const int64_t *by_code,
                           int64_t other, int64_t plays_acked, double seconds)
{
    static const double qs[] = {0.50, 0.90, 0.95, 0.99, 0.999};
    static const char *const qn[] = {"p50", "p90", "p95", "p99", "p99.9"};
    int plays = strcmp(run->opts.scenario, "play") == 0 || strcmp(run->opts.scenario, "mixed") == 0;
    int64_t ok = by_code[VS_OK], errors = lat->count - ok;
    double tput = seconds > 0 ? (double)lat->count / seconds : 0;

    if (run->opts.json) {
        json_t *codes = json_object(), *ms = json_object();

        for (int c = 1; c < VSBENCH_CODES; c++)
            if (by_code[c] > 0)
                json_object_set_new(codes, vs_status_name(c), json_integer(by_code[c]));
        if (other > 0)
            json_object_set_new(codes, "OTHER", json_integer(other));
        for (size_t i = 0; i < 5; i++)
            json_object_set_new(ms, qn[i], json_real((double)hist_quantile(lat, qs[i]) / 1000.0));
        json_object_set_new(ms, "max", json_real((double)lat->max / 1000.0));
        json_object_set_new(
            ms, "mean",
            json_real(lat->count ? (double)lat->sum / (double)lat->count / 1000.0 : 0.0));
        json_t *o = json_pack(
            "{s:s,s:s,s:f,s:i,s:f,s:f,s:I,s:I,s:I,s:o,s:f,s:o}", "scenario", run->opts.scenario,
            "mode", run->opts.rate > 0 ? "open" : "closed", "rate", run->opts.rate, "concurrency",
            run->opts.concurrency, "warmup_s", run->opts.warmup_s, "measured_s", seconds,
            "requests", (json_int_t)lat->count, "ok", (json_int_t)ok, "errors", (json_int_t)errors,
            "errors_by_status", codes, "throughput_rps", tput, "latency_ms", ms);
        if (plays)
            json_object_set_new(o, "plays_acked", json_integer(plays_acked));
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        puts(text);
        free(text);
        json_decref(o);
        return;
    }
    if (run->opts.rate > 0)
        printf("vsbench %s: open loop at %.0f req/s, %d senders, warm-up %.1f s, measured %.2f s\n",
               run->opts.scenario, run->opts.rate, run->opts.concurrency, run->opts.warmup_s,
               seconds);
    else
        printf("vsbench %s: closed loop, %d callers, warm-up %.1f s, measured %.2f s\n",
               run->opts.scenario, run->opts.concurrency, run->opts.warmup_s, seconds);
    if (strcmp(run->opts.scenario, "play") == 0)
        printf("(a play request is a Play and its Pause: two calls, one latency)\n");
    printf("requests    %" PRId64 " (ok %" PRId64 ", errors %" PRId64 ")\n", lat->count, ok,
           errors);
    for (int c = 1; c < VSBENCH_CODES; c++)
        if (by_code[c] > 0)
            printf("  %-20s %" PRId64 "\n", vs_status_name(c), by_code[c]);
    if (other > 0)
        printf("  %-20s %" PRId64 "\n", "OTHER", other);
    if (plays)
        printf("plays acked %" PRId64 " (warm-up included)\n", plays_acked);
    printf("throughput  %.1f req/s\n", tput);
    printf("latency ms ");
    for (size_t i = 0; i < 5; i++)
        printf(" %s %.3f ", qn[i], (double)hist_quantile(lat, qs[i]) / 1000.0);
    printf(" max %.3f  mean %.3f\n", (double)lat->max / 1000.0,
           lat->count ? (double)lat->sum / (double)lat->count / 1000.0 : 0.0);
}

static int vsbench_parse(int argc, char **argv, vsbench_run *run, int *password_stdin,
                         const char **token_file)
{
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"concurrency", required_argument, NULL, 'c'},
                                             {"rate", required_argument, NULL, 'r'},
                                             {"warmup", required_argument, NULL, 'w'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"requests", required_argument, NULL, 'n'},
                                             {"timeout", required_argument, NULL, 'T'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"first-video", required_argument, NULL, 'F'},
                                             {"videos", required_argument, NULL, 'V'},
                                             {"from", required_argument, NULL, 'D'},
                                             {"days", required_argument, NULL, 'N'},
                                             {"mine", no_argument, NULL, 'm'},
                                             {"pause-at", required_argument, NULL, 'P'},
                                             {"email", required_argument, NULL, 'e'},
                                             {"password-stdin", no_argument, NULL, 'S'},
                                             {"token-file", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"mix", required_argument, NULL, 'M'},
                                             {"play-share", required_argument, NULL, 'p'},
                                             {NULL, 0, NULL, 0}};
    vsbench_opts *o = &run->opts;
    int64_t v;
    int opt;

    o->url = config_get("VS_URL", "tcp://127.0.0.1:7400");
    o->warmup_s = 2;
    o->duration_s = 10;
    o->timeout_ms = 10000;
    o->video_first = 1;
    o->video_count = 100000;
    o->first_day = window_from_civil(2026, 10, 1);
    o->days = 30;
    o->pause_at_s = 30;
    o->mix[0] = 4;
    o->mix[1] = 3;
    o->mix[2] = 3;
    o->play_pct = 50;
    while ((opt = getopt_long(argc, argv, "c:r:w:d:n:h", longopts, NULL)) != -1) {
        double d = 0;
        char *end = NULL;

        if (opt == 'r' || opt == 'w' || opt == 'd') {
            d = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || d < 0 || d > 1e9) {
                fprintf(stderr, "vsbench: -%c: expected a number, got \"%s\"\n", opt, optarg);
                return -1;
            }
        } else if (opt == 'p') {
            if (config_parse_int(optarg, 0, 100, &v) != 0) {
                fprintf(stderr, "vsbench: --play-share: expected a percent 0..100, got \"%s\"\n",
                        optarg);
                return -1;
            }
        } else if (strchr("cnTFVNP", opt) != NULL) {
            if (config_parse_int(optarg, opt == 'P' ? 0 : 1, INT32_MAX, &v) != 0) {
                fprintf(stderr, "vsbench: option -%c: expected a positive integer, got \"%s\"\n",
                        opt, optarg);
                return -1;
            }
        }
        switch (opt) {
        case 'u':
            o->url = optarg;
            break;
        case 'c':
            o->concurrency = (int)v;
            break;
        case 'r':
            o->rate = d;
            break;
        case 'w':
            o->warmup_s = d;
            break;
        case 'd':
            o->duration_s = d;
            break;
        case 'n':
            o->requests = v;
            break;
        case 'T':
            o->timeout_ms = (int)v;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'F':
            o->video_first = (uint64_t)v;
            break;
        case 'V':
            o->video_count = (uint64_t)v;
            break;
        case 'N':
            o->days = (int)v;
            break;
        case 'P':
            o->pause_at_s = (int)v;
            break;
        case 'm':
            o->mine = 1;
            break;
        case 'p':
            o->play_pct = (int)v;
            break;
        case 'e':
            o->email = optarg;
            break;
        case 'S':
            *password_stdin = 1;
            break;
        case 't':
            *token_file = optarg;
            break;
        case 'D':
            if (window_parse(optarg, &o->first_day) != VS_OK) {
                fprintf(stderr, "vsbench: --from: expected YYYY-MM-DD, got \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'M':
            if (sscanf(optarg, "%d:%d:%d", &o->mix[0], &o->mix[1], &o->mix[2]) != 3 ||
                o->mix[0] < 0 || o->mix[1] < 0 || o->mix[2] < 0 ||
                o->mix[0] + o->mix[1] + o->mix[2] == 0) {
                fprintf(stderr, "vsbench: --mix: expected S:T:P weights like 4:3:3\n");
                return -1;
            }
            break;
        case 'h':
            fputs(vsbench_usage, stdout);
            exit(0);
        default:
            fputs(vsbench_usage, stderr);
            return -1;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "vsbench: expected one SCENARIO\n%s", vsbench_usage);
        return -1;
    }
    o->scenario = argv[optind];
    if (vsbench_scenario_check(o->scenario) != 0)
        return -1;
    if (o->concurrency == 0)
        o->concurrency = o->rate > 0 ? 64 : 16;
    if (o->requests > 0 && o->rate > 0)
        o->duration_s = (double)o->requests / o->rate;
    else if (o->requests > 0)
        o->duration_s = 1e7; /* until N were measured */
    return 0;
}

int main(int argc, char **argv)
{
    static vsbench_run run;
    vs_client_options copts = {0};
    vs_call_status st;
    vsbench_caller *callers = NULL;
    const char *token_file = NULL;
    int password_stdin = 0, rc = 1;
    hist *total = NULL;
    int64_t by_code[VSBENCH_CODES] = {0}, other = 0, plays_acked = 0, window_end;

    config_load();
    if (vsbench_parse(argc, argv, &run, &password_stdin, &token_file) != 0)
        return 2;
    if (sodium_init() < 0)
        return 1;
    copts.timeout_ms = run.opts.timeout_ms;
    if (vs_client_open(run.opts.url, &copts, &run.client, &st) != VS_OK) {
        fprintf(stderr, "vsbench: %s\n", st.message);
        return 1;
    }
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.changed, NULL);
    if (vsbench_credentials(&run, password_stdin, token_file) != 0)
        goto out;
    callers = calloc((size_t)run.opts.concurrency, sizeof *callers);
    total = malloc(sizeof *total);
    if (callers == NULL || total == NULL)
        goto out;
    run.interval_ns = run.opts.rate > 0 ? (int64_t)(1e9 / run.opts.rate) : 0;
    run.t0_ns = vsbench_now_ns() + 10000000; /* 10 ms to set every caller up */
    run.measure_ns = run.t0_ns + (int64_t)(run.opts.warmup_s * 1e9);
    run.end_ns = run.measure_ns + (int64_t)(run.opts.duration_s * 1e9);
    atomic_store(&run.last_done_ns, run.measure_ns);
    for (int i = 0; i < run.opts.concurrency; i++) {
        vsbench_caller *c = &callers[i];

        c->op.index = i;
        c->op.opts = &run.opts;
        c->op.client = run.client;
        c->op.rng = UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(i + 1) ^ (uint64_t)getpid();
        c->op.done = vsbench_op_done;
        c->run = &run;
        hist_init(&c->lat);
        c->next_idle = run.idle;
        run.idle = c;
    }
    if (run.opts.rate > 0) {
        vsbench_open(&run);
    } else {
        vsbench_sleep_until(run.t0_ns);
        run.busy = run.opts.concurrency;
        for (int i = 0; i < run.opts.concurrency; i++)
            vsbench_closed_next(&callers[i]);
    }
    /* every caller idle or retired: no operation in flight, all results are final */
    pthread_mutex_lock(&run.lock);
    while (run.busy > 0)
        pthread_cond_wait(&run.changed, &run.lock);
    pthread_mutex_unlock(&run.lock);
    hist_init(total);
    for (int i = 0; i < run.opts.concurrency; i++) {
        hist_merge(total, &callers[i].lat);
        for (int code = 0; code < VSBENCH_CODES; code++)
            by_code[code] += callers[i].by_code[code];
        other += callers[i].other_codes;
        plays_acked += callers[i].op.plays_acked;
    }
    window_end = atomic_load(&run.last_done_ns);
    if (run.opts.requests == 0 && run.opts.rate == 0 && window_end > run.end_ns)
        window_end = run.end_ns; /* closed loop: the window is the duration */
    vsbench_report(&run, total, by_code, other, plays_acked,
                   (double)(window_end - run.measure_ns) / 1e9);
    rc = by_code[VS_OK] > 0 ? 0 : 1;
out:
    vs_client_close(run.client);
    free(callers);
    free(total);
    pthread_cond_destroy(&run.changed);
    pthread_mutex_destroy(&run.lock);
    return rc;
}
