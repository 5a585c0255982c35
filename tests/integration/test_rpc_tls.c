/* test_rpc_tls.c — vsd on tls+tcp:// (docs/deploy.md, "TLS"): it presents its certificate, a
 * client that trusts this deployment's CA calls it, a client that trusts another CA or none
 * cannot, plaintext to the TLS port fails cleanly and leaves vsd serving, and a client given two
 * vsd URLs keeps calling when one of the two is killed. Real vsds on free loopback ports, the
 * test certificates of tests/support/tls_certs.sh. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "testsupport.h"

static char certs[512], ca[600], rogue_ca[600], env_cert[600], env_key[600];
static char url_a[64], url_b[64];
static pid_t vsd_a = -1, vsd_b = -1;

static pid_t start_tls_vsd(const char *url)
{
    const char *env[] = {env_cert, env_key, NULL};

    return ts_start_vsd(url, env);
}

static int group_setup(void **state)
{
    if (ts_stack_env() != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    ts_tls_certs(certs, sizeof certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    snprintf(rogue_ca, sizeof rogue_ca, "%s/rogue-ca.pem", certs);
    snprintf(env_cert, sizeof env_cert, "VS_TLS_CERT=%s/server.pem", certs);
    snprintf(env_key, sizeof env_key, "VS_TLS_KEY=%s/server.key", certs);
    setenv("VS_TLS_CA", ca, 1); /* ts_start_vsd's own client verifies vsd with it */
    snprintf(url_a, sizeof url_a, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    snprintf(url_b, sizeof url_b, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    vsd_a = start_tls_vsd(url_a);
    return vsd_a > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    ts_stop(vsd_a);
    ts_stop(vsd_b);
    ts_sh("rm -rf '%s'", certs);
    return 0;
}

/* A shallow Health on url with opts: its vs_status, the RpcStats in *out when VS_OK, the
 * message in st. The client is opened and closed here. */
static int health(const char *url, const vs_client_options *opts, Vs__V1__RpcStats *out,
                  vs_call_status *st)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_client *c = NULL;
    int rc;

    req.shallow = 1;
    if ((rc = vs_client_open(url, opts, &c, st)) != VS_OK)
        return rc;
    rc = vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                              (ProtobufCMessage **)&resp, st);
    if (rc == VS_OK && out != NULL) {
        assert_non_null(resp->rpc);
        *out = *resp->rpc;
        out->base.unknown_fields = NULL;
        out->base.n_unknown_fields = 0;
    }
    if (resp != NULL)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    vs_client_close(c);
    return rc;
}

/* A client that trusts the CA reaches vsd over TLS; vsd's certificate names 127.0.0.1. */
static void test_a_client_trusting_the_ca_calls_vsd_over_tls(void **state)
{
    vs_client_options opts = {.timeout_ms = 5000, .tls_ca_file = ca};
    Vs__V1__RpcStats r;
    vs_call_status st;

    if (health(url_a, &opts, &r, &st) != VS_OK)
        fail_msg("Health over TLS: %s %s", vs_status_name(st.code), st.message);
    assert_true(r.requests >= 1);
}

/* A client that trusts another CA does not get past the handshake: no connection reaches vsd's
 * socket, no request is served, and the call fails within its deadline. */
static void test_a_client_trusting_another_ca_cannot_call_vsd(void **state)
{
    vs_client_options good = {.timeout_ms = 5000, .tls_ca_file = ca};
    vs_client_options rogue = {.timeout_ms = 1500, .tls_ca_file = rogue_ca};
    Vs__V1__RpcStats before, after;
    vs_call_status st;
    int rc;

    assert_int_equal(health(url_a, &good, &before, &st), VS_OK);
    rc = health(url_a, &rogue, NULL, &st);
    fprintf(stderr, "a client trusting another CA: %s %s\n", vs_status_name(rc), st.message);
    assert_int_not_equal(rc, VS_OK);
    assert_true(strlen(st.message) > 0);
    assert_int_equal(health(url_a, &good, &after, &st), VS_OK);
    /* only the good client's two connections, and its one Health in between */
    assert_int_equal(after.connections_accepted - before.connections_accepted, 1);
    assert_int_equal(after.requests - before.requests, 1);
}

/* Without a CA to verify the server against, a tls+tcp:// URL is refused at open, naming the
 * setting: nothing is sent. */
static void test_a_tls_url_without_a_ca_is_refused_naming_the_setting(void **state)
{
    vs_client_options opts = {.timeout_ms = 1500};
    vs_client *c = NULL;
    vs_call_status st;
    char saved[600];

    snprintf(saved, sizeof saved, "%s", getenv("VS_TLS_CA"));
    unsetenv("VS_TLS_CA");
    assert_int_not_equal(vs_client_open(url_a, &opts, &c, &st), VS_OK);
    setenv("VS_TLS_CA", saved, 1);
    assert_null(c);
    fprintf(stderr, "no CA: %s %s\n", vs_status_name(st.code), st.message);
    assert_non_null(strstr(st.message, "VS_TLS_CA"));
}

/* A plaintext client on the TLS port gets an error within its deadline, and vsd goes on serving
 * TLS clients. */
static void test_plaintext_to_the_tls_port_fails_cleanly(void **state)
{
    vs_client_options plain = {.timeout_ms = 1500};
    vs_client_options good = {.timeout_ms = 5000, .tls_ca_file = ca};
    char tcp_url[80];
    vs_call_status st;
    int64_t t0 = ts_mono_ms();
    int rc;

    snprintf(tcp_url, sizeof tcp_url, "tcp://%s", url_a + strlen("tls+tcp://"));
    rc = health(tcp_url, &plain, NULL, &st);
    fprintf(stderr, "plaintext to the TLS port: %s %s after %lld ms\n", vs_status_name(rc),
            st.message, (long long)(ts_mono_ms() - t0));
    assert_int_not_equal(rc, VS_OK);
    assert_int_equal(health(url_a, &good, NULL, &st), VS_OK);
}

/* Connects a plain TCP socket to url's port, sends the first bytes of a TLS ClientHello (or
 * nothing: bytes 0) and leaves. */
static void leave_mid_tls_handshake(const char *url, size_t bytes)
{
    static const uint8_t hello[5] = {0x16, 0x03, 0x01, 0x02, 0x00}; /* a record header */
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_port = htons((uint16_t)atoi(strrchr(url, ':') + 1));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    if (bytes > 0)
        assert_int_equal(write(fd, hello, bytes), (ssize_t)bytes);
    close(fd);
}

/* Peers that leave in the middle of the TLS handshake do not cut vsd off: after each, a new
 * trusted client is answered. (nng 1.5.2's stalled listener comes from a peer leaving during the
 * SP header exchange, which on tls+tcp:// follows a completed TLS handshake; the listener guard
 * does not probe TLS listeners, see docs/deploy.md.) */
static void test_peers_leaving_mid_tls_handshake_do_not_cut_vsd_off(void **state)
{
    vs_client_options good = {.timeout_ms = 3000, .tls_ca_file = ca};
    vs_call_status st;

    for (int i = 0; i < 20; i++) {
        leave_mid_tls_handshake(url_a, (size_t)(i % 3) * 2);
        usleep(50 * 1000);
        if (health(url_a, &good, NULL, &st) != VS_OK)
            fail_msg("after %d peers left mid-handshake: %s %s", i + 1, vs_status_name(st.code),
                     st.message);
    }
}

/* n shallow Healths on c, each of which must succeed (when names the moment in a failure). */
static void healths_on(vs_client *c, int n, const char *when)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    vs_call_status st;

    req.shallow = 1;
    for (int i = 0; i < n; i++) {
        Vs__V1__HealthResponse *resp = NULL;

        if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                                 (ProtobufCMessage **)&resp, &st) != VS_OK)
            fail_msg("Health %d %s: %s %s", i, when, vs_status_name(st.code), st.message);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
}

/* A listener that accepts and closes at once, as a vsd going down as it accepts does: every TLS
 * handshake with it is cut short. */
static void *cutter(void *arg)
{
    int fd = *(int *)arg, c;

    while ((c = accept(fd, NULL, NULL)) >= 0)
        close(c);
    return NULL;
}

static int cutter_start(char *url, size_t len, pthread_t *thread, int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(*fd, 16), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(url, len, "tls+tcp://127.0.0.1:%d", ntohs(a.sin_port));
    return pthread_create(thread, NULL, cutter, fd);
}

/* A server that cuts the handshake short fails a client given it alone (naming why), but not a
 * client given another URL beside it: that URL serves, the cut one is dialled again in the
 * background. Only when every URL cuts the handshake does the open fail. */
static void test_one_url_cutting_the_handshake_does_not_fail_the_others(void **state)
{
    vs_client_options opts = {.timeout_ms = 5000, .tls_ca_file = ca};
    char cut_a[64], cut_b[64], list[200];
    pthread_t ta, tb;
    int fa, fb;
    vs_call_status st;
    Vs__V1__RpcStats r;

    assert_int_equal(cutter_start(cut_a, sizeof cut_a, &ta, &fa), 0);
    assert_int_equal(cutter_start(cut_b, sizeof cut_b, &tb, &fb), 0);
    assert_int_equal(health(cut_a, &opts, NULL, &st), VS_UNAVAILABLE);
    assert_non_null(strstr(st.message, "during the TLS handshake"));
    snprintf(list, sizeof list, "%s,%s", cut_a, cut_b);
    assert_int_equal(health(list, &opts, NULL, &st), VS_UNAVAILABLE);
    assert_non_null(strstr(st.message, cut_a));
    snprintf(list, sizeof list, "%s,%s", cut_a, url_a);
    if (health(list, &opts, &r, &st) != VS_OK)
        fail_msg("%s: %s %s", list, vs_status_name(st.code), st.message);
    assert_true(r.requests >= 1);
    shutdown(fa, SHUT_RDWR);
    shutdown(fb, SHUT_RDWR);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    close(fa);
    close(fb);
}

/* Two vsds behind one client ("url_a,url_b"): after one is killed (-9), every call is answered
 * by the other. */
static void test_two_urls_survive_one_vsd_killed(void **state)
{
    vs_client_options opts = {.timeout_ms = 5000, .tls_ca_file = ca};
    char both[160];
    vs_client *c = NULL;
    vs_call_status st;
    int status;

    vsd_b = start_tls_vsd(url_b);
    assert_true(vsd_b > 0);
    snprintf(both, sizeof both, "%s,%s", url_a, url_b);
    assert_int_equal(vs_client_open(both, &opts, &c, &st), VS_OK);
    healths_on(c, 10, "before the kill");
    kill(vsd_a, SIGKILL);
    waitpid(vsd_a, &status, 0);
    vsd_a = -1;
    /* let the client see that pipe close first: a request nng 1.5.2's REQ socket sends on a pipe
     * that then dies is resent on the other pipe, but its message is leaked (LeakSanitizer
     * fails the test), an nng matter, not this one's */
    usleep(300 * 1000);
    healths_on(c, 20, "after the kill");
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_client_trusting_the_ca_calls_vsd_over_tls),
        cmocka_unit_test(test_a_client_trusting_another_ca_cannot_call_vsd),
        cmocka_unit_test(test_a_tls_url_without_a_ca_is_refused_naming_the_setting),
        cmocka_unit_test(test_plaintext_to_the_tls_port_fails_cleanly),
        cmocka_unit_test(test_peers_leaving_mid_tls_handshake_do_not_cut_vsd_off),
        cmocka_unit_test(test_one_url_cutting_the_handshake_does_not_fail_the_others),
        cmocka_unit_test(test_two_urls_survive_one_vsd_killed), /* last: kills vsd A */
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
