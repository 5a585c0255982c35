/* test_metrics_vsd.c — vsd's Prometheus endpoint (docs/operations.md, Metrics): the whole body is
 * valid exposition text, counters move by exactly the calls made, only GET /metrics is served,
 * and without VS_METRICS_ADDR nothing listens. A real vsd with VS_METRICS_ADDR=<free port>,
 * scraped over TCP by tests/support/scrape.c. */
#include "streaming_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "scrape.h"

#define HEALTH "method=\"/vs.v1.StreamingService/Health\",code=\"OK\""
#define PLAY "method=\"/vs.v1.StreamingService/Play\",code=\"OK\""

static int metrics_port;

static int group_setup(void **state)
{
    static char addr[64];
    const char *env[] = {addr, NULL};

    unsetenv("VS_METRICS_ADDR");
    metrics_port = ts_free_tcp_port();
    /* a bare port: loopback */
    snprintf(addr, sizeof addr, "VS_METRICS_ADDR=%d", metrics_port);
    return sf_setup("metrics", env);
}

/* n shallow Health calls on a client of their own. */
static void healths(int n)
{
    vs_client *c = ts_client(sf.url, 5000);

    for (int i = 0; i < n; i++) {
        Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
        ProtobufCMessage *resp = NULL;
        vs_call_status st;

        req.shallow = 1;
        if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                                 &resp, &st) != VS_OK)
            fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    vs_client_close(c);
}

static void test_scrape_is_valid_exposition_text_with_every_family(void **state)
{
    static const char *const families[] = {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
        "vs_rpc_requests_total",
        "vs_rpc_request_duration_seconds_bucket",
        "vs_rpc_connections_open",
        "vs_rpc_connections_refused_total",
        "vs_play_commit_rounds_total",
        "vs_play_commit_round_events_bucket",
        "vs_play_commit_duration_seconds_bucket",
        "vs_play_view_claims_total",
        "vs_read_model_requests_total",
        "vs_read_fallbacks_total",
        "vs_replica_up",
        "vs_mariadb_errors_total",
        "vs_mariadb_connects_total",
        "vs_redis_errors_total",
        "vs_redis_connects_total",
    };
    char *body = NULL, *type = NULL;
    const char *why;

    healths(1);
    assert_int_equal(ts_http("GET", metrics_port, "/metrics", &body, &type), 200);
    assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
    if ((why = ts_metrics_check(body)) != NULL)
        fail_msg("not valid exposition text: %s", why);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!ts_metric_present(body, families[i]))
            fail_msg("no %s in the scrape", families[i]);
    /* the replica's lag has its HELP even while unmeasured; the stack's replica is measured */
    assert_non_null(strstr(body, "# TYPE vs_replica_lag_seconds gauge\n"));
    assert_true(ts_metric(body, "process_resident_memory_bytes", NULL) > 1e6);
    assert_true(ts_metric(body, "process_open_fds", NULL) > 3);
    free(body);
    free(type);
}

/* N Health calls move Health's OK counter and its latency histogram's count by exactly N, and
 * nothing else's. */
static void test_health_calls_counted_exactly(void **state)
{
    enum { N = 7 };
    char *before, *after;
    double play_before;

    before = ts_scrape(metrics_port);
    healths(N);
    after = ts_scrape(metrics_port);
    assert_null(ts_metrics_check(after));
    assert_true(ts_metric(after, "vs_rpc_requests_total", HEALTH) ==
                ts_metric(before, "vs_rpc_requests_total", HEALTH) + N);
    assert_true(ts_metric(after, "vs_rpc_request_duration_seconds_count",
                          "method=\"/vs.v1.StreamingService/Health\"") ==
                ts_metric(before, "vs_rpc_request_duration_seconds_count",
                          "method=\"/vs.v1.StreamingService/Health\"") +
                    N);
    play_before = ts_metric(before, "vs_rpc_requests_total", PLAY);
    assert_true(ts_metric(after, "vs_rpc_requests_total", PLAY) == play_before);
    free(before);
    free(after);
}

/* M Plays: each one RPC, one committed event and one view claim outcome; the rounds that took
 * them add up (events per round's sum = events), and so do the rows in play_log. */
static void test_plays_move_commit_and_claim_counters_consistently(void **state)
{
    sf_user creator = sf_new_user("metrics-creator"), viewer = sf_new_user("metrics-viewer");
    uint64_t videos[4];
    char *before, *after, event_id[64], prefix[48];
    double rounds;
    int plays = 0;

    for (int i = 0; i < 4; i++)
        videos[i] = sf_video(&creator, 3600);
    snprintf(prefix, sizeof prefix, "metrics-%d-%lld", (int)getpid(), (long long)ts_mono_ms());
    before = ts_scrape(metrics_port);
    for (int i = 0; i < 4; i++) { /* 4 counted */
        snprintf(event_id, sizeof event_id, "%s-v%d", prefix, i);
        sf_free(sf_play(&viewer, videos[i], event_id));
        plays++;
    }
    snprintf(event_id, sizeof event_id, "%s-again", prefix); /* 1 repeat within 30 s */
    sf_free(sf_play(&viewer, videos[0], event_id));
    plays++;
    snprintf(event_id, sizeof event_id, "%s-own", prefix); /* 1 own video */
    sf_free(sf_play(&creator, videos[1], event_id));
    plays++;
    after = ts_scrape(metrics_port);
    assert_null(ts_metrics_check(after));

#define DELTA(name, labels) (ts_metric(after, name, labels) - ts_metric(before, name, labels))
    assert_true(DELTA("vs_rpc_requests_total", PLAY) == plays);
    assert_true(DELTA("vs_play_view_claims_total", "outcome=\"counted\"") == 4);
    assert_true(DELTA("vs_play_view_claims_total", "outcome=\"repeat\"") == 1);
    assert_true(DELTA("vs_play_view_claims_total", "outcome=\"own_video\"") == 1);
    assert_true(DELTA("vs_play_commit_events_total", NULL) == plays);
    assert_true(DELTA("vs_play_commit_round_events_sum", NULL) == plays);
    rounds = DELTA("vs_play_commit_rounds_total", "outcome=\"committed\"");
    assert_true(rounds >= 1 && rounds <= plays);
    assert_true(DELTA("vs_play_commit_rounds_total", "outcome=\"failed\"") == 0);
    assert_true(DELTA("vs_play_commit_round_events_count", NULL) == rounds);
    assert_true(DELTA("vs_play_commit_duration_seconds_count", NULL) == rounds);
#undef DELTA
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id LIKE '%s-%%'", prefix),
                     plays);
    free(before);
    free(after);
    sf_free_user(&creator);
    sf_free_user(&viewer);
}

static void test_only_get_metrics_is_served(void **state)
{
    char *body = NULL;

    assert_int_equal(ts_http("GET", metrics_port, "/", NULL, NULL), 404);
    assert_int_equal(ts_http("GET", metrics_port, "/metricsx", NULL, NULL), 404);
    assert_int_equal(ts_http("GET", metrics_port, "/metrics/", NULL, NULL), 404);
    assert_int_equal(ts_http("POST", metrics_port, "/metrics", NULL, NULL), 405);
    assert_int_equal(ts_http("DELETE", metrics_port, "/metrics", NULL, NULL), 405);
    assert_int_equal(ts_http("HEAD", metrics_port, "/metrics", &body, NULL), 200);
    assert_string_equal(body, ""); /* HEAD: the headers only */
    free(body);
    /* a query string is no other path */
    assert_int_equal(ts_http("GET", metrics_port, "/metrics?x=1", &body, NULL), 200);
    assert_null(ts_metrics_check(body));
    free(body);
}

/* The vsd under test listens on ipc:// only: its one TCP listener is the metrics endpoint. A vsd
 * without VS_METRICS_ADDR has none. */
static void test_metrics_off_when_unset(void **state)
{
    char url[256];
    pid_t off;
    int listeners;

    assert_int_equal(ts_tcp_listeners(sf.vsd), 1);
    ts_ipc_url("metrics-off", url, sizeof url);
    off = ts_start_vsd(url, NULL);
    assert_true(off > 0);
    listeners = ts_tcp_listeners(off);
    assert_int_equal(ts_stop(off), 0); /* stopped before any assertion can fail */
    assert_int_equal(listeners, 0);
}

/* A bad address is refused before anything starts (exit 2, naming the setting); a port that is
 * taken stops the start (exit 1, saying why). */
static void test_bad_or_taken_address_refused(void **state)
{
    char url[256], log[600];

    ts_ipc_url("metrics-bad", url, sizeof url);
    snprintf(log, sizeof log, "%s/metrics-bad-%d.log", getenv("VS_TEST_HOME"), (int)getpid());
    assert_int_equal(
        ts_sh("VS_THREADS=2 VS_METRICS_ADDR=70000 '%s' --url '%s' 2>'%s'; test $? -eq 2 && grep -q "
              "'VS_METRICS_ADDR.*PORT' '%s'",
              ts_program("server/vsd"), url, log, log),
        0);
    assert_int_equal(
        ts_sh("VS_THREADS=2 '%s' --metrics 127.0.0.1:%d --url '%s' 2>'%s'; test $? -eq 1 && "
              "grep -q 'cannot listen on 127.0.0.1:%d' '%s'",
              ts_program("server/vsd"), metrics_port, url, log, metrics_port, log),
        0);
    unlink(log);
}

/* Last: vsd stops at SIGTERM with status 0 while a scrape connection sits open (the endpoint
 * closes it), leaving no listener behind. */
static void test_stops_cleanly_with_a_scrape_connection_open(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)metrics_port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid = sf.vsd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(fd, "GET /met", 8), 8); /* a request begun, never finished */
    sf.vsd = -1;
    assert_int_equal(ts_stop(pid), 0);
    close(fd);
    errno = 0;
    assert_int_equal(ts_http("GET", metrics_port, "/metrics", NULL, NULL), -1);
    assert_int_equal(errno, ECONNREFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_is_valid_exposition_text_with_every_family),
        cmocka_unit_test(test_health_calls_counted_exactly),
        cmocka_unit_test(test_plays_move_commit_and_claim_counters_consistently),
        cmocka_unit_test(test_only_get_metrics_is_served),
        cmocka_unit_test(test_metrics_off_when_unset),
        cmocka_unit_test(test_bad_or_taken_address_refused),
        cmocka_unit_test(test_stops_cleanly_with_a_scrape_connection_open),
    };

    return cmocka_run_group_tests(tests, group_setup, sf_teardown);
}
