/* test_rpc.c — the envelope protocol end to end: a real vsd on a private ipc:// URL, real nng
 * sockets, and a real stack behind Health. Raw REQ sockets craft what libvsclient never sends. */
#include "testsupport.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static char vsd_url[512];
static pid_t vsd_pid;

static int start_vsd(void **state)
{
    static const char *const env[] = {"VS_MAX_MESSAGE=1048576", "VS_THREADS=8", NULL};

    if (ts_stack_env() != 0)
        return -1;
    ts_ipc_url("rpc", vsd_url, sizeof vsd_url);
    vsd_pid = ts_start_vsd(vsd_url, env);
    return vsd_pid > 0 ? 0 : -1;
}

static int stop_vsd(void **state)
{
    ts_stop(vsd_pid);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends raw bytes on a fresh REQ socket and decodes the reply envelope (NULL if none in 2 s). */
static Vs__V1__ResponseEnvelope *raw_call(const void *bytes, size_t len)
{
    nng_socket sock;
    nng_msg *msg = NULL;
    Vs__V1__ResponseEnvelope *env = NULL;

    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 2000);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 2000);
    assert_int_equal(nng_dial(sock, vsd_url, NULL, 0), 0);
    assert_int_equal(nng_msg_alloc(&msg, len), 0);
    memcpy(nng_msg_body(msg), bytes, len);
    assert_int_equal(nng_sendmsg(sock, msg, 0), 0);
    if (nng_recvmsg(sock, &msg, 0) == 0) {
        env = vs__v1__response_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
    }
    nng_close(sock);
    return env;
}

/* Packs an envelope for method with payload and sends it raw. */
static Vs__V1__ResponseEnvelope *raw_envelope(const char *method, const void *payload,
                                              size_t payload_len, int64_t deadline_ms)
{
    Vs__V1__RequestEnvelope req = VS__V1__REQUEST_ENVELOPE__INIT;
    Vs__V1__ResponseEnvelope *resp;
    size_t len;
    uint8_t *buf;

    req.method = (char *)method;
    req.request_id = 42;
    req.deadline_unix_ms = deadline_ms;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = payload_len;
    len = vs__v1__request_envelope__get_packed_size(&req);
    buf = malloc(len + 1);
    vs__v1__request_envelope__pack(&req, buf);
    resp = raw_call(buf, len);
    free(buf);
    return resp;
}

static void test_health_round_trip_reports_every_component_up(void **state)
{
    vs_client *c = ts_client(vsd_url, 5000);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;

    req.echo = "round-trip";
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, (ProtobufCMessage **)&resp, &st),
                     VS_OK);
    assert_string_equal(resp->service, "vsd");
    assert_string_equal(resp->version, VS_VERSION);
    assert_string_equal(resp->echo, "round-trip");
    assert_int_equal(resp->n_components, 3);
    for (size_t i = 0; i < resp->n_components; i++) {
        if (!resp->components[i]->up)
            fprintf(stderr, "%s down: %s\n", resp->components[i]->name,
                    resp->components[i]->detail);
        assert_true(resp->components[i]->up);
    }
    assert_string_equal(resp->components[0]->name, "mariadb-primary");
    assert_string_equal(resp->components[1]->name, "mariadb-replica");
    assert_string_equal(resp->components[2]->name, "redis");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vs_client_close(c);
}

typedef struct stub_result {
    int called;
    char echo[64];
} stub_result;

static void stub_closure(const Vs__V1__HealthResponse *resp, void *data)
{
    stub_result *r = data;

    r->called++;
    if (resp != NULL)
        snprintf(r->echo, sizeof r->echo, "%s", resp->echo);
}

/* The protoc-c generated stub, unchanged, runs over libvsclient's ProtobufCService. */
static void test_generated_stub_works_over_client_service(void **state)
{
    vs_client *c = ts_client(vsd_url, 5000);
    ProtobufCService *svc = vs_client_service(c, &vs__v1__streaming_service__descriptor);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    stub_result r = {0};

    assert_non_null(svc);
    req.echo = "via-stub";
    req.shallow = 1;
    vs__v1__streaming_service__health(svc, &req, stub_closure, &r);
    assert_int_equal(r.called, 1);
    assert_string_equal(r.echo, "via-stub");
    assert_int_equal(vs_last_status()->code, VS_OK);
    vs_client_close(c);
}

static void test_unknown_method_is_unimplemented(void **state)
{
    Vs__V1__ResponseEnvelope *r;

    r = raw_envelope("/vs.v1.StreamingService/NoSuchMethod", NULL, 0, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_UNIMPLEMENTED);
    assert_non_null(strstr(r->message, "NoSuchMethod"));
    assert_int_equal(r->request_id, 42);
    vs__v1__response_envelope__free_unpacked(r, NULL);

    r = raw_envelope("/vs.v1.NoSuchService/Health", NULL, 0, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_UNIMPLEMENTED);
    vs__v1__response_envelope__free_unpacked(r, NULL);

    r = raw_envelope("not-a-path", NULL, 0, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_UNIMPLEMENTED);
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

static void test_client_refuses_unknown_method_locally(void **state)
{
    vs_client *c = ts_client(vsd_url, 5000);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    vs_call_status st;

    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Nope",
                                          &req.base, &out, &st),
                     VS_UNIMPLEMENTED);
    assert_int_equal(
        vs_client_call(c, &vs__v1__streaming_service__descriptor, 9999, &req.base, &out, &st),
        VS_UNIMPLEMENTED);
    assert_null(out);
    vs_client_close(c);
}

static void test_undecodable_envelope_is_invalid_argument(void **state)
{
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    Vs__V1__ResponseEnvelope *r = raw_call(garbage, sizeof garbage);

    assert_non_null(r);
    assert_int_equal(r->code, VS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->message, "RequestEnvelope"));
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

static void test_undecodable_payload_is_invalid_argument(void **state)
{
    /* field 1 (echo, string) claiming 100 bytes with 2 present */
    const uint8_t bad_payload[] = {0x0a, 0x64, 'h', 'i'};
    Vs__V1__ResponseEnvelope *r =
        raw_envelope("/vs.v1.StreamingService/Health", bad_payload, sizeof bad_payload, 0);

    assert_non_null(r);
    assert_int_equal(r->code, VS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->message, "vs.v1.HealthRequest"));
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

/* protobuf-c would hand a service the text before a NUL: the server refuses such a string field
 * instead, naming it, before any service code runs (so nothing is stored either). */
static void test_string_with_nul_is_invalid_argument(void **state)
{
    /* HealthRequest{echo = "hi\0there"}; CreateVideoRequest{title = "ab\0c", duration_s = 700} */
    const uint8_t echo[] = {0x0a, 0x08, 'h', 'i', 0x00, 't', 'h', 'e', 'r', 'e'};
    const uint8_t video[] = {0x0a, 0x04, 'a', 'b', 0x00, 'c', 0x10, 0xbc, 0x05};
    const uint8_t clean[] = {0x0a, 0x02, 'h', 'i'};
    const uint8_t clean_video[] = {0x0a, 0x03, 'a', 'b', 'c', 0x10, 0xbc, 0x05};
    Vs__V1__ResponseEnvelope *r =
        raw_envelope("/vs.v1.StreamingService/Health", echo, sizeof echo, 0);

    assert_non_null(r);
    assert_int_equal(r->code, VS_INVALID_ARGUMENT);
    assert_string_equal(r->message, "echo: contains a NUL character");
    vs__v1__response_envelope__free_unpacked(r, NULL);

    r = raw_envelope("/vs.v1.StreamingService/CreateVideo", video, sizeof video, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_INVALID_ARGUMENT);
    assert_string_equal(r->message, "title: contains a NUL character");
    vs__v1__response_envelope__free_unpacked(r, NULL);

    /* the same call without the NUL gets past the check (to authentication) */
    r = raw_envelope("/vs.v1.StreamingService/CreateVideo", clean_video, sizeof clean_video, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_UNAUTHENTICATED);
    vs__v1__response_envelope__free_unpacked(r, NULL);

    r = raw_envelope("/vs.v1.StreamingService/Health", clean, sizeof clean, 0);
    assert_non_null(r);
    assert_int_equal(r->code, VS_OK);
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

static void test_expired_deadline_is_deadline_exceeded(void **state)
{
    Vs__V1__ResponseEnvelope *r =
        raw_envelope("/vs.v1.StreamingService/Health", NULL, 0, now_ms() - 1000);

    assert_non_null(r);
    assert_int_equal(r->code, VS_DEADLINE_EXCEEDED);
    assert_int_equal(r->payload.len, 0);
    vs__v1__response_envelope__free_unpacked(r, NULL);

    /* a deadline in the future is served */
    r = raw_envelope("/vs.v1.StreamingService/Health", NULL, 0, now_ms() + 5000);
    assert_non_null(r);
    assert_int_equal(r->code, VS_OK);
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

/* Connects a plain Unix socket to the ipc:// URL and does the SP handshake as a REQ peer
 * (nng's IPC wire format: "\0SP\0", protocol 0x30 big-endian, two reserved bytes). Returns the
 * descriptor; the server's own 8-byte header has been read and checked. */
static int sp_ipc_connect(const char *url)
{
    static const uint8_t req_header[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    uint8_t peer[8];
    int fd;

    assert_int_equal(strncmp(url, "ipc://", 6), 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", url + 6);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(fd, req_header, sizeof req_header), (ssize_t)sizeof req_header);
    assert_int_equal(read(fd, peer, sizeof peer), (ssize_t)sizeof peer);
    assert_memory_equal(peer, "\0SP\0", 4);
    assert_int_equal(peer[4] << 8 | peer[5], 0x31); /* REP */
    return fd;
}

/* A request whose size header says 2 MiB (over vsd's 1 MiB VS_MAX_MESSAGE) makes vsd drop the
 * connection unread: no reply, no allocation of the claimed size. vsd keeps serving: the next
 * call, on another connection, is answered within 100 ms. The peer is a plain socket speaking
 * the wire format, so no client-side resend or close race is involved. */
static void test_oversize_refused_and_server_keeps_serving(void **state)
{
    const uint64_t big = 2u << 20;
    uint8_t frame[9 + 4096] = {1}; /* message type 1, then the 64-bit big-endian length */
    struct timeval tv = {.tv_sec = 2};
    vs_client *c;
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    vs_call_status st;
    uint8_t reply[64];
    int64_t t0;
    ssize_t n;
    int fd;

    fd = sp_ipc_connect(vsd_url);
    for (int i = 0; i < 8; i++)
        frame[1 + i] = (uint8_t)(big >> (56 - 8 * i));
    frame[9] = 0x80; /* the start of a request id, as a REQ peer sends it */
    /* the header and the first 4 KiB; the server must give up without waiting for the rest */
    signal(SIGPIPE, SIG_IGN);
    n = write(fd, frame, sizeof frame);
    assert_true(n == (ssize_t)sizeof frame || (n < 0 && errno == EPIPE));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* no reply: the connection is closed (0) or reset, never answered or left hanging */
    n = read(fd, reply, sizeof reply);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    close(fd);

    c = ts_client(vsd_url, 2000);
    req.shallow = 1;
    t0 = ts_mono_ms();
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, &out, &st),
                     VS_OK);
    assert_true(ts_mono_ms() - t0 < 100);
    protobuf_c_message_free_unpacked(out, NULL);
    vs_client_close(c);
}

static void test_client_refuses_oversize_request_locally(void **state)
{
    vs_client *c = ts_client(vsd_url, 2000);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    vs_call_status st;
    char *huge = malloc((2u << 20) + 1);

    memset(huge, 'x', 2u << 20);
    huge[2u << 20] = '\0';
    req.echo = huge;
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, &out, &st),
                     VS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st.message, "limit"));
    free(huge);
    vs_client_close(c);
}

#define CONCURRENT_THREADS 64
#define CALLS_PER_THREAD 200

typedef struct concurrent_arg {
    vs_client *client;
    int thread;
    int ok, mismatched;
} concurrent_arg;

static void *concurrent_caller(void *p)
{
    concurrent_arg *a = p;

    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
        Vs__V1__HealthResponse *resp = NULL;
        vs_call_status st;
        char echo[64];

        snprintf(echo, sizeof echo, "t%d-c%d", a->thread, i);
        req.echo = echo;
        req.shallow = 1;
        if (vs_client_call_named(a->client, &vs__v1__streaming_service__descriptor, "Health",
                                 &req.base, (ProtobufCMessage **)&resp, &st) != VS_OK)
            continue;
        if (strcmp(resp->echo, echo) == 0)
            a->ok++;
        else
            a->mismatched++;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return NULL;
}

/* 64 threads x 200 calls on ONE client handle: every reply belongs to its own request. */
static void test_64_threads_share_one_client_and_every_reply_matches(void **state)
{
    vs_client *c = ts_client(vsd_url, 20000);
    pthread_t threads[CONCURRENT_THREADS];
    concurrent_arg args[CONCURRENT_THREADS];
    int ok = 0, mismatched = 0;

    for (int i = 0; i < CONCURRENT_THREADS; i++) {
        args[i] = (concurrent_arg){.client = c, .thread = i};
        assert_int_equal(pthread_create(&threads[i], NULL, concurrent_caller, &args[i]), 0);
    }
    for (int i = 0; i < CONCURRENT_THREADS; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].ok;
        mismatched += args[i].mismatched;
    }
    assert_int_equal(mismatched, 0);
    assert_int_equal(ok, CONCURRENT_THREADS * CALLS_PER_THREAD);
    vs_client_close(c);
}

/* `vsctl health` exits 0 when all is up; --json carries the same facts for scripts. */
static void test_vsctl_health_text_and_json(void **state)
{
    const char *vsctl = ts_program("client/vsctl");
    const char *home = getenv("VS_TEST_HOME");

    assert_int_equal(
        ts_sh("%s --url %s health > %s/health.%d.txt", vsctl, vsd_url, home, (int)getpid()), 0);
    assert_int_equal(
        ts_sh("grep -Eq '^  mariadb-primary +up ' %s/health.%d.txt", home, (int)getpid()), 0);
    assert_int_equal(ts_sh("grep -Eq '^  redis +up ' %s/health.%d.txt", home, (int)getpid()), 0);
    assert_int_equal(
        ts_sh("grep -q 'reads served by the replica' %s/health.%d.txt", home, (int)getpid()), 0);
    assert_int_equal(ts_sh("grep -Eq '^  connections: [0-9]+ open; since start [0-9]+ accepted' "
                           "%s/health.%d.txt",
                           home, (int)getpid()),
                     0);
    assert_int_equal(
        ts_sh("%s --url %s --json health > %s/health.%d.json", vsctl, vsd_url, home, (int)getpid()),
        0);
    assert_int_equal(ts_sh("grep -q '\"ok\": true' %s/health.%d.json", home, (int)getpid()), 0);
    assert_int_equal(
        ts_sh("test $(grep -c '\"up\": true' %s/health.%d.json) -eq 3", home, (int)getpid()), 0);
    assert_int_equal(
        ts_sh("grep -q '\"reads_on\": \"replica\"' %s/health.%d.json", home, (int)getpid()), 0);
    assert_int_equal(ts_sh("grep -q '\"timed_out\": [0-9]' %s/health.%d.json", home, (int)getpid()),
                     0);
    ts_sh("rm -f %s/health.%d.txt %s/health.%d.json", home, (int)getpid(), home, (int)getpid());
}

/* Nothing listening: exit status 1 and a message naming the status, not a hang. */
static void test_vsctl_health_without_server_fails_clearly(void **state)
{
    char url[512];

    ts_ipc_url("nobody-listens", url, sizeof url);
    assert_int_equal(ts_sh("%s --url %s --timeout 300 health 2>&1 | grep -q DEADLINE_EXCEEDED",
                           ts_program("client/vsctl"), url),
                     0);
    assert_int_equal(
        ts_sh("%s --url %s --timeout 300 health >/dev/null 2>&1", ts_program("client/vsctl"), url),
        1);
}

static void test_unreachable_server_is_deadline_exceeded(void **state)
{
    char url[512];
    vs_client *c;
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    vs_call_status st;

    ts_ipc_url("nobody-listens", url, sizeof url);
    c = ts_client(url, 200);
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, &out, &st),
                     VS_DEADLINE_EXCEEDED);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_round_trip_reports_every_component_up),
        cmocka_unit_test(test_generated_stub_works_over_client_service),
        cmocka_unit_test(test_unknown_method_is_unimplemented),
        cmocka_unit_test(test_client_refuses_unknown_method_locally),
        cmocka_unit_test(test_undecodable_envelope_is_invalid_argument),
        cmocka_unit_test(test_undecodable_payload_is_invalid_argument),
        cmocka_unit_test(test_string_with_nul_is_invalid_argument),
        cmocka_unit_test(test_expired_deadline_is_deadline_exceeded),
        cmocka_unit_test(test_oversize_refused_and_server_keeps_serving),
        cmocka_unit_test(test_client_refuses_oversize_request_locally),
        cmocka_unit_test(test_64_threads_share_one_client_and_every_reply_matches),
        cmocka_unit_test(test_unreachable_server_is_deadline_exceeded),
        cmocka_unit_test(test_vsctl_health_text_and_json),
        cmocka_unit_test(test_vsctl_health_without_server_fails_clearly),
    };
    int failed = cmocka_run_group_tests(tests, start_vsd, stop_vsd);

    nng_fini(); /* reap closed sockets so LeakSanitizer sees a clean exit */
    return failed;
}
