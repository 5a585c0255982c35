/* test_rpc_conns.c — what a hostile peer can make vsd hold through its socket: connections that
 * announce a message and stall, too many connections from one address or in all. A real vsd on
 * tcp://127.0.0.1 (a free port), raw TCP peers speaking the SP wire format by hand (the 8-byte
 * handshake as a REQ peer, then an 8-byte big-endian length and part of a message), vsd's RSS
 * from /proc. Peers come from several loopback addresses (127.0.0.x) to tell per-address caps
 * from the total. */
#include "testsupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_server.h"
#include "scrape.h"

static char url[128];
static int port;
static pid_t vsd_pid = -1; /* stopped by stop_vsd even when a test fails half-way */

static int stop_vsd(void **state)
{
    if (vsd_pid > 0)
        ts_stop(vsd_pid);
    vsd_pid = -1;
    return 0;
}

static int setup(void **state)
{
    struct rlimit rl;

    /* 500 peers here and 500 connections in vsd (which inherits the limit) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    return ts_stack_env();
}

/* A free TCP port on loopback, and vsd's URL on it. */
static void pick_url(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
}

/* A raw peer from source address src (127.0.0.x) that has completed the SP handshake as a REQ
 * peer: vsd's 8-byte header has been read and is REP's. */
static int peer_open(const char *src)
{
    static const uint8_t req_header[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    uint8_t reply[8];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    inet_pton(AF_INET, src, &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof from), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(write(fd, req_header, sizeof req_header), (ssize_t)sizeof req_header);
    while (got < sizeof reply) {
        ssize_t n = read(fd, reply + got, sizeof reply - got);

        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(reply, "\0SP\0\0\x31\0\0", 8);
    return fd;
}

/* Announces a message of size bytes and sends the first 10 of them (a REQ request id, and
 * then some). The connection may already be closed by vsd: that is not an error here. */
static void peer_stall(int fd, uint64_t size)
{
    uint8_t frame[18] = {0};

    for (int i = 0; i < 8; i++)
        frame[i] = (uint8_t)(size >> (56 - 8 * i));
    frame[8] = 0x80;
    (void)!write(fd, frame, sizeof frame);
}

/* 1 when vsd has closed the peer's connection within timeout_ms (end of file or reset). */
static int peer_closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t buf[64];
    int64_t until = ts_mono_ms() + timeout_ms;

    while (ts_mono_ms() < until) {
        ssize_t n;

        if (poll(&p, 1, (int)(until - ts_mono_ms())) <= 0)
            continue;
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return 1;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return 1;
    }
    return 0;
}

/* The index of the one peer of fds[0..n) that vsd closes within 5 s, or -1. Which peer a cap
 * refuses is the order in which nng hands the connections to the socket, not the order of the
 * handshakes (a loaded machine can swap the last two), so tests look for the one closed. */
static int refused_peer(const int *fds, int n)
{
    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 5000;)
        for (int i = 0; i < n; i++)
            if (peer_closed_within(fds[i], 10))
                return i;
    return -1;
}

/* A figure of vsd's /proc status in kB: "VmRSS" (resident) or "VmData" (data mappings, touched
 * or not: an allocation of a size a peer announced shows here even before it is written). */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static long rss_kb(pid_t pid)
{
    return status_kb(pid, "VmRSS");
}

static long data_kb(pid_t pid)
{
    return status_kb(pid, "VmData");
}

/* A shallow Health on client c: its RpcStats copied to out. Fails the test on error. */
static void health_on(vs_client *c, Vs__V1__RpcStats *out)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;

    req.shallow = 1;
    if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    assert_non_null(resp->rpc);
    *out = *resp->rpc;
    out->base.unknown_fields = NULL;
    out->base.n_unknown_fields = 0;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* A Health from a fresh client on source address src: the time from opening it to the reply. */
static int64_t fresh_health_ms(const char *src, Vs__V1__RpcStats *out)
{
    char from[160];
    int64_t t0 = ts_mono_ms(), ms;
    vs_client *c;

    /* nng's "tcp://source;host:port" dials from that source address */
    snprintf(from, sizeof from, "tcp://%s;127.0.0.1:%d", src, port);
    c = ts_client(from, 2000);
    health_on(c, out);
    ms = ts_mono_ms() - t0;
    vs_client_close(c);
    return ms;
}

/* Polls Health on c until connections_open is want (at most 5 s), e.g. after start-up's own
 * client has gone. */
static void wait_open(vs_client *c, uint64_t want)
{
    Vs__V1__RpcStats r;

    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 5000; usleep(20 * 1000)) {
        health_on(c, &r);
        if (r.connections_open == want)
            return;
    }
    fail_msg("connections_open stayed %llu, not %llu", (unsigned long long)r.connections_open,
             (unsigned long long)want);
}

#define STALLED_PEERS 500
#define RSS_BOUND_KB (64 * 1024)
#define IDLE_TIMEOUT_MS 3000

/* 500 peers that announce ~1 MiB and send 10 bytes cost vsd next to nothing (the default
 * receive limit refuses the size unallocated); 500 that announce as much as the limit allows
 * and stall cost under 64 MB, and are closed after the idle timeout. A fresh client's Health
 * is answered throughout (within its 2 s deadline; the time is printed, not asserted). */
static void
test_stalled_frames_cost_bounded_memory_and_are_dropped_after_the_idle_timeout(void **state)
{
    /* caps and the listener guard out of the way: this is about the receive limit and the
     * timeout, which is long enough that opening 500 peers on a loaded machine stays within it */
    static const char *const env[] = {"VS_RPC_IDLE_TIMEOUT_MS=3000", "VS_RPC_MAX_CONNECTIONS=2000",
                                      "VS_RPC_MAX_CONNECTIONS_PER_ADDRESS=2000",
                                      "VS_LISTEN_CHECK_MS=0", NULL};
    int big[STALLED_PEERS], held[STALLED_PEERS];
    Vs__V1__RpcStats r;
    long rss0, data0;
    int64_t ms;
    pid_t pid;
    int closed = 0;

    pick_url();
    pid = vsd_pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    assert_true(fresh_health_ms("127.0.0.2", &r) < 2000); /* warm up */
    rss0 = rss_kb(pid);
    data0 = data_kb(pid);

    for (int i = 0; i < STALLED_PEERS; i++) {
        big[i] = peer_open("127.0.0.5");
        peer_stall(big[i], (1u << 20) - 16);
    }
    ms = fresh_health_ms("127.0.0.2", &r);
    fprintf(stderr,
            "500 peers announcing 1 MiB: vsd RSS +%ld kB, data +%ld kB, a fresh Health in "
            "%lld ms\n",
            rss_kb(pid) - rss0, data_kb(pid) - data0, (long long)ms);
    assert_true(rss_kb(pid) - rss0 < RSS_BOUND_KB);
    /* untouched pages of an allocation are not resident: its reservation shows it */
    assert_true(data_kb(pid) - data0 < RSS_BOUND_KB);

    for (int i = 0; i < STALLED_PEERS; i++) {
        held[i] = peer_open("127.0.0.6");
        peer_stall(held[i], RPC_DEFAULT_MAX_MESSAGE);
    }
    ms = fresh_health_ms("127.0.0.2", &r);
    fprintf(stderr,
            "500 peers stalled within the %d-byte limit: vsd RSS +%ld kB, data +%ld kB, %llu "
            "connections open, a fresh Health in %lld ms\n",
            RPC_DEFAULT_MAX_MESSAGE, rss_kb(pid) - rss0, data_kb(pid) - data0,
            (unsigned long long)r.connections_open, (long long)ms);
    assert_true(rss_kb(pid) - rss0 < RSS_BOUND_KB);
    assert_true(data_kb(pid) - data0 < RSS_BOUND_KB);
    assert_true(r.connections_open >= STALLED_PEERS); /* held: the timeout has work to do */

    /* every held peer is closed once the timeout has passed (generously: 3 s + reaper) */
    for (int i = 0; i < STALLED_PEERS; i++)
        closed += peer_closed_within(held[i], 10 * IDLE_TIMEOUT_MS);
    assert_int_equal(closed, STALLED_PEERS);
    {
        char normal_url[160];
        vs_client *normal;

        snprintf(normal_url, sizeof normal_url, "tcp://127.0.0.2;127.0.0.1:%d", port);
        normal = ts_client(normal_url, 2000);
        wait_open(normal, 1); /* nng reports the closed ones gone a little later */
        health_on(normal, &r);
        assert_true(r.connections_timed_out >= STALLED_PEERS);
        vs_client_close(normal);
    }
    for (int i = 0; i < STALLED_PEERS; i++) {
        close(big[i]);
        close(held[i]);
    }
}

/* One address may hold VS_RPC_MAX_CONNECTIONS_PER_ADDRESS connections; the next is closed right
 * after the handshake, counted as refused. Clients from other addresses, and the listener
 * guard's own checks from 127.0.0.1 while that address is full, are unaffected. */
static void test_connections_per_address_are_capped_and_others_unaffected(void **state)
{
    char metrics_env[64];
    const char *const env[] = {"VS_RPC_MAX_CONNECTIONS_PER_ADDRESS=4", "VS_LISTEN_CHECK_MS=100",
                               metrics_env, NULL};
    int metrics_port = ts_free_tcp_port();
    char *scraped;
    char normal_url[160];
    int five[5], peers[4], extra, loopback[5], n_loopback = 0;
    vs_client *normal;
    Vs__V1__RpcStats r;
    pid_t pid;

    snprintf(metrics_env, sizeof metrics_env, "VS_METRICS_ADDR=%d", metrics_port);
    pick_url();
    pid = vsd_pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    snprintf(normal_url, sizeof normal_url, "tcp://127.0.0.2;127.0.0.1:%d", port);
    normal = ts_client(normal_url, 2000);
    health_on(normal, &r);

    /* five from one address: one of them is refused */
    for (int i = 0; i < 5; i++)
        five[i] = peer_open("127.0.0.3");
    extra = refused_peer(five, 5);
    assert_true(extra >= 0);
    close(five[extra]);
    for (int i = 0, k = 0; i < 5; i++)
        if (i != extra)
            peers[k++] = five[i];
    for (int i = 0; i < 4; i++)
        assert_false(peer_closed_within(peers[i], 0));
    health_on(normal, &r); /* the client already connected is served */
    assert_int_equal(r.connections_refused, 1);
    /* the metrics say which cap refused it */
    scraped = ts_scrape(metrics_port);
    assert_true(ts_metric(scraped, "vs_rpc_connections_refused_total", "cap=\"per_address\"") == 1);
    assert_true(ts_metric(scraped, "vs_rpc_connections_refused_total", "cap=\"total\"") == 0);
    free(scraped);
    /* and so is a new one from another address */
    assert_true(fresh_health_ms("127.0.0.4", &r) < 2000);

    /* a freed place can be taken again */
    close(peers[0]);
    wait_open(normal, 4); /* normal + 3 peers */
    peers[0] = peer_open("127.0.0.3");
    wait_open(normal, 5);
    health_on(normal, &r);
    assert_int_equal(r.connections_refused, 1);

    /* 127.0.0.1 full: the guard's checks come from there too, and are refused, yet the
     * listener is not taken for broken (5 checks at 100 ms) */
    while (n_loopback < 5) {
        loopback[n_loopback] = peer_open("127.0.0.1");
        if (peer_closed_within(loopback[n_loopback++], 300))
            break;
    }
    usleep(600 * 1000);
    health_on(normal, &r);
    assert_int_equal(r.listener_restarts, 0);
    assert_true(fresh_health_ms("127.0.0.2", &r) < 2000);

    for (int i = 0; i < n_loopback; i++)
        close(loopback[i]);
    for (int i = 0; i < 4; i++)
        close(peers[i]);
    vs_client_close(normal);
}

/* At VS_RPC_MAX_CONNECTIONS open, a new connection from any address is refused; the ones open
 * are served. */
static void test_total_connections_are_capped(void **state)
{
    char metrics_env[64];
    const char *const env[] = {"VS_RPC_MAX_CONNECTIONS=6", "VS_LISTEN_CHECK_MS=0", metrics_env,
                               NULL};
    int metrics_port = ts_free_tcp_port();
    char *scraped;
    char normal_url[160];
    int peers[6], extra;
    vs_client *normal;
    Vs__V1__RpcStats r;
    pid_t pid;

    snprintf(metrics_env, sizeof metrics_env, "VS_METRICS_ADDR=%d", metrics_port);
    pick_url();
    pid = vsd_pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    snprintf(normal_url, sizeof normal_url, "tcp://127.0.0.2;127.0.0.1:%d", port);
    normal = ts_client(normal_url, 2000);
    wait_open(normal, 1); /* start-up's own client has gone */
    /* six peers for five places: one is refused */
    for (int i = 0; i < 6; i++)
        peers[i] = peer_open(i == 5 ? "127.0.0.5" : i % 2 ? "127.0.0.3" : "127.0.0.4");
    extra = refused_peer(peers, 6);
    assert_true(extra >= 0);
    for (int i = 0; i < 6; i++)
        if (i != extra)
            assert_false(peer_closed_within(peers[i], 0));
    health_on(normal, &r);
    assert_int_equal(r.connections_open, 6);
    assert_int_equal(r.connections_refused, 1);
    scraped = ts_scrape(metrics_port);
    assert_true(ts_metric(scraped, "vs_rpc_connections_open", NULL) == 6);
    assert_true(ts_metric(scraped, "vs_rpc_connections_refused_total", "cap=\"total\"") == 1);
    assert_true(ts_metric(scraped, "vs_rpc_connections_refused_total", "cap=\"per_address\"") == 0);
    free(scraped);
    for (int i = 0; i < 6; i++)
        close(peers[i]);
    vs_client_close(normal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_stalled_frames_cost_bounded_memory_and_are_dropped_after_the_idle_timeout,
            stop_vsd),
        cmocka_unit_test_teardown(test_connections_per_address_are_capped_and_others_unaffected,
                                  stop_vsd),
        cmocka_unit_test_teardown(test_total_connections_are_capped, stop_vsd),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
