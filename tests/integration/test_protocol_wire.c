/* test_protocol_wire.c — the wire format of docs/protocol.md ("Framing"), spoken by hand from plain
 * TCP and Unix sockets to a real vsd: no nng and no libvsclient on the client side. The request
 * envelope is hand-encoded protobuf too; only the reply is decoded with the generated code.
 *
 * What it pins: the 8-byte SP connection header ("\0SP\0", protocol 0x0030 REQ / 0x0031 REP, two
 * reserved zero bytes); TCP messages as a 64-bit big-endian length and the message; IPC messages
 * as a type byte 1, the same length and the message; a REQ message body starting with a 32-bit
 * big-endian request id with its high bit set, which REP puts back in front of its reply; and the
 * server's size limit counting that request id. */
#include "testsupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <vs/v1/streaming.pb-c.h>

/* vsd's VS_MAX_MESSAGE for this test: small, so a request at the limit is quick to build */
#define WIRE_MAX_MESSAGE 1024

static char tcp_url[128], ipc_url[512];
static uint16_t tcp_port;
static pid_t vsd_tcp, vsd_ipc;

/* A loopback TCP port nobody listens on right now. */
static uint16_t free_tcp_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int start_servers(void **state)
{
    static char max_message[64];
    const char *env[] = {max_message, "VS_THREADS=2", NULL};

    if (ts_stack_env() != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    snprintf(max_message, sizeof max_message, "VS_MAX_MESSAGE=%d", WIRE_MAX_MESSAGE);
    tcp_port = free_tcp_port();
    snprintf(tcp_url, sizeof tcp_url, "tcp://127.0.0.1:%u", tcp_port);
    ts_ipc_url("wire", ipc_url, sizeof ipc_url);
    vsd_tcp = ts_start_vsd(tcp_url, env);
    vsd_ipc = ts_start_vsd(ipc_url, env);
    return vsd_tcp > 0 && vsd_ipc > 0 ? 0 : -1;
}

static int stop_servers(void **state)
{
    ts_stop(vsd_tcp);
    ts_stop(vsd_ipc);
    return 0;
}

/* ---- protobuf by hand: tag = field number << 3 | wire type (0 varint, 2 length-delimited) */

typedef struct wire_buf {
    uint8_t b[4096];
    size_t n;
} wire_buf;

static void put_varint(wire_buf *w, uint64_t v)
{
    do {
        assert_true(w->n < sizeof w->b);
        w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
}

static void put_bytes_field(wire_buf *w, unsigned field, const void *data, size_t len)
{
    put_varint(w, field << 3 | 2);
    put_varint(w, len);
    assert_true(w->n + len <= sizeof w->b);
    memcpy(w->b + w->n, data, len);
    w->n += len;
}

static void put_varint_field(wire_buf *w, unsigned field, uint64_t v)
{
    put_varint(w, field << 3 | 0);
    put_varint(w, v);
}

/* RequestEnvelope{method, request_id, payload = HealthRequest{echo, shallow: true}}. */
static void health_envelope(wire_buf *env, uint64_t envelope_id, const char *echo)
{
    wire_buf payload = {.n = 0};
    const char *method = "/vs.v1.StreamingService/Health";

    put_bytes_field(&payload, 1, echo, strlen(echo)); /* HealthRequest.echo */
    put_varint_field(&payload, 2, 1);                 /* HealthRequest.shallow */
    env->n = 0;
    put_bytes_field(env, 1, method, strlen(method)); /* RequestEnvelope.method */
    put_varint_field(env, 2, envelope_id);           /* RequestEnvelope.request_id */
    put_bytes_field(env, 5, payload.b, payload.n);   /* RequestEnvelope.payload */
}

/* ---- the SP framing */

/* Writes all of data; 0, or -1 when the peer has closed the connection. */
static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n <= 0) {
            assert_true(errno == EPIPE || errno == ECONNRESET);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes; 0, or -1 when the peer closed (or reset) first or 5 s passed. */
static int read_all(int fd, void *data, size_t len)
{
    uint8_t *p = data;

    while (len > 0) {
        ssize_t n = read(fd, p, len);

        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Connects to url (tcp://127.0.0.1:P or ipc://PATH) and exchanges connection headers as a REQ
 * peer; returns the socket with the server's 8 header bytes in peer_header. */
static int sp_connect(const char *url, uint8_t peer_header[8])
{
    static const uint8_t req_header[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
    struct timeval tv = {.tv_sec = 5};
    int fd;

    if (strncmp(url, "ipc://", 6) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", url + 6);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(tcp_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(write_all(fd, req_header, sizeof req_header), 0);
    assert_int_equal(read_all(fd, peer_header, 8), 0);
    return fd;
}

/* Sends one REQ message: the 32-bit big-endian request id, then the envelope. 0, or -1 when the
 * server closed the connection before it was all written. */
static int sp_send(int fd, int ipc, uint32_t request_id, const void *env, size_t env_len)
{
    uint8_t head[1 + 8 + 4], *h = head;

    if (ipc)
        *h++ = 1; /* IPC: message type 1 before the length */
    put_be64(h, 4 + env_len);
    h += 8;
    h[0] = (uint8_t)(request_id >> 24);
    h[1] = (uint8_t)(request_id >> 16);
    h[2] = (uint8_t)(request_id >> 8);
    h[3] = (uint8_t)request_id;
    h += 4;
    if (write_all(fd, head, (size_t)(h - head)) != 0)
        return -1;
    return write_all(fd, env, env_len);
}

/* Receives one REP message; returns its body (request id + reply envelope, caller frees) and its
 * length, or NULL when the connection ended first. */
static uint8_t *sp_recv(int fd, int ipc, size_t *len)
{
    uint8_t head[9], *body;
    uint64_t n;

    if (read_all(fd, head, ipc ? 9 : 8) != 0)
        return NULL;
    if (ipc)
        assert_int_equal(head[0], 1);
    n = get_be64(ipc ? head + 1 : head);
    assert_true(n >= 4 && n < (1u << 20));
    body = malloc(n);
    assert_non_null(body);
    if (read_all(fd, body, n) != 0) {
        free(body);
        return NULL;
    }
    *len = n;
    return body;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks a Health reply body: request_id in front, then an OK envelope echoing envelope_id whose
 * payload is a HealthResponse from vsd with the echo. */
static void check_health_reply(const uint8_t *body, size_t len, uint32_t request_id,
                               uint64_t envelope_id, const char *echo)
{
    Vs__V1__ResponseEnvelope *env;
    Vs__V1__HealthResponse *health;

    assert_true(len > 4);
    assert_int_equal(get_be32(body), request_id);
    env = vs__v1__response_envelope__unpack(NULL, len - 4, body + 4);
    assert_non_null(env);
    assert_int_equal(env->code, 0);
    assert_int_equal(env->request_id, envelope_id);
    health = vs__v1__health_response__unpack(NULL, env->payload.len, env->payload.data);
    assert_non_null(health);
    assert_string_equal(health->service, "vsd");
    assert_string_equal(health->echo, echo);
    vs__v1__health_response__free_unpacked(health, NULL);
    vs__v1__response_envelope__free_unpacked(env, NULL);
}

/* Both sides open with "\0SP\0", their protocol number (REQ 0x0030, REP 0x0031, big-endian) and
 * two reserved zero bytes. */
static void test_connection_header_is_sp_magic_and_protocol(void **state)
{
    static const uint8_t rep_header[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x31, 0x00, 0x00};
    uint8_t peer[8];
    int fd = sp_connect(tcp_url, peer);

    assert_memory_equal(peer, rep_header, 8);
    close(fd);
}

/* Health over TCP, entirely by hand: length-prefixed message, request id with the high bit set,
 * echoed in front of the reply. */
static void test_health_by_hand_over_tcp(void **state)
{
    wire_buf env;
    uint8_t peer[8], *body;
    size_t len;
    int fd = sp_connect(tcp_url, peer);

    health_envelope(&env, 7, "by-hand-tcp");
    assert_int_equal(sp_send(fd, 0, 0x80000001u, env.b, env.n), 0);
    body = sp_recv(fd, 0, &len);
    assert_non_null(body);
    check_health_reply(body, len, 0x80000001u, 7, "by-hand-tcp");
    free(body);
    close(fd);
}

/* The same over IPC, where each message starts with a type byte (1). */
static void test_health_by_hand_over_ipc(void **state)
{
    wire_buf env;
    uint8_t peer[8], *body;
    size_t len;
    int fd = sp_connect(ipc_url, peer);

    assert_int_equal(peer[5], 0x31);
    health_envelope(&env, 8, "by-hand-ipc");
    assert_int_equal(sp_send(fd, 1, 0x80000002u, env.b, env.n), 0);
    body = sp_recv(fd, 1, &len);
    assert_non_null(body);
    check_health_reply(body, len, 0x80000002u, 8, "by-hand-ipc");
    free(body);
    close(fd);
}

/* Several requests in flight on one connection: each reply carries its own request id, which is
 * how a client matches them (replies may come in any order). */
static void test_each_reply_carries_its_request_id(void **state)
{
    enum { N = 4 };
    uint32_t ids[N] = {0x80000010u, 0x80abcdefu, 0xfffffffeu, 0x80000011u};
    int seen[N] = {0};
    uint8_t peer[8];
    int fd = sp_connect(tcp_url, peer);

    for (int i = 0; i < N; i++) {
        wire_buf env;
        char echo[32];

        snprintf(echo, sizeof echo, "call-%d", i);
        health_envelope(&env, 100 + (uint64_t)i, echo);
        assert_int_equal(sp_send(fd, 0, ids[i], env.b, env.n), 0);
    }
    for (int k = 0; k < N; k++) {
        size_t len;
        uint8_t *body = sp_recv(fd, 0, &len);
        char echo[32];
        int i;

        assert_non_null(body);
        for (i = 0; i < N && ids[i] != get_be32(body); i++)
            ;
        assert_true(i < N);
        assert_false(seen[i]);
        seen[i] = 1;
        snprintf(echo, sizeof echo, "call-%d", i);
        check_health_reply(body, len, ids[i], 100 + (uint64_t)i, echo);
        free(body);
    }
    close(fd);
}

/* An envelope of exactly `env_len` bytes for Health (the echo pads it). */
static void health_envelope_of_size(wire_buf *env, size_t env_len)
{
    char echo[WIRE_MAX_MESSAGE];
    size_t pad = env_len > 100 ? env_len - 100 : 0;

    for (;;) {
        assert_true(pad < sizeof echo);
        memset(echo, 'x', pad);
        echo[pad] = '\0';
        health_envelope(env, 9, echo);
        if (env->n == env_len)
            return;
        assert_true(env->n < env_len); /* grows by one byte per pad byte at these sizes */
        pad++;
    }
}

/* VS_MAX_MESSAGE bounds the whole message after the length prefix, the 4-byte request id
 * included: a message of exactly the limit is served, one byte more closes the connection
 * without a reply. */
static void test_size_limit_counts_the_request_id(void **state)
{
    wire_buf env;
    uint8_t peer[8], *body;
    size_t len;
    int fd;

    health_envelope_of_size(&env, WIRE_MAX_MESSAGE - 4);
    fd = sp_connect(tcp_url, peer);
    assert_int_equal(sp_send(fd, 0, 0x80000020u, env.b, env.n), 0);
    body = sp_recv(fd, 0, &len);
    assert_non_null(body);
    assert_int_equal(get_be32(body), 0x80000020u);
    free(body);
    close(fd);

    health_envelope_of_size(&env, WIRE_MAX_MESSAGE - 4 + 1);
    fd = sp_connect(tcp_url, peer);
    /* the server may close as soon as it has read the length: the rest of the write can fail */
    if (sp_send(fd, 0, 0x80000021u, env.b, env.n) == 0) {
        body = sp_recv(fd, 0, &len);
        assert_null(body);
    }
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_header_is_sp_magic_and_protocol),
        cmocka_unit_test(test_health_by_hand_over_tcp),
        cmocka_unit_test(test_health_by_hand_over_ipc),
        cmocka_unit_test(test_each_reply_carries_its_request_id),
        cmocka_unit_test(test_size_limit_counts_the_request_id),
    };
    return cmocka_run_group_tests(tests, start_servers, stop_servers);
}
