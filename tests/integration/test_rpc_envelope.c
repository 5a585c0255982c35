/* test_rpc_envelope.c — the envelope's own fields against bytes no honest client sends: NUL bytes
 * inside the method path and the authorization, and deadlines at the edges of int64. A real vsd on
 * a private ipc:// URL; requests are encoded by hand where protobuf-c cannot express them. vsd is
 * built with UBSan aborting on the first finding, so an overflow in its deadline arithmetic shows
 * as a call without a reply. */
#include "testsupport.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vs/user.h>

static char vsd_url[512];
static pid_t vsd_pid;

static int start_vsd(void **state)
{
    if (ts_stack_env() != 0)
        return -1;
    ts_ipc_url("rpc-envelope", vsd_url, sizeof vsd_url);
    vsd_pid = ts_start_vsd(vsd_url, NULL);
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

/* Protobuf wire encoding, by hand: a varint, and a length-delimited field. */
static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;

    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return n;
}

static size_t put_bytes(uint8_t *out, unsigned field, const void *data, size_t len)
{
    size_t n = put_varint(out, field << 3 | 2);

    n += put_varint(out + n, len);
    memcpy(out + n, data, len);
    return n + len;
}

/* A RequestEnvelope (request id 42) with the given method and authorization bytes (NULs
 * allowed), deadline sent as the raw 64-bit varint, and an empty payload, sent on a fresh REQ
 * socket. The decoded reply, or NULL when none came within 5 s. */
static Vs__V1__ResponseEnvelope *call_raw(const void *method, size_t method_len, const void *auth,
                                          size_t auth_len, uint64_t deadline_varint)
{
    uint8_t buf[4096];
    size_t len = 0;
    nng_socket sock;
    nng_msg *msg = NULL;
    Vs__V1__ResponseEnvelope *env = NULL;

    assert_true(method_len + auth_len + 64 < sizeof buf);
    len += put_bytes(buf + len, 1, method, method_len);
    len += put_varint(buf + len, 2 << 3);
    len += put_varint(buf + len, 42);
    if (deadline_varint != 0) {
        len += put_varint(buf + len, 3 << 3);
        len += put_varint(buf + len, deadline_varint);
    }
    if (auth_len > 0)
        len += put_bytes(buf + len, 4, auth, auth_len);
    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 5000);
    assert_int_equal(nng_dial(sock, vsd_url, NULL, 0), 0);
    assert_int_equal(nng_send(sock, buf, len, 0), 0);
    if (nng_recvmsg(sock, &msg, 0) == 0) {
        env = vs__v1__response_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
    }
    nng_close(sock);
    return env;
}

#define HEALTH "/vs.v1.StreamingService/Health"
#define ME "/vs.v1.UserService/Me"

/* The status of a raw call; its message copied to msg. Fails the test when vsd did not answer. */
static int code_of(Vs__V1__ResponseEnvelope *r, char *msg, size_t msglen)
{
    int code;

    if (r == NULL)
        fail_msg("vsd did not answer (did it crash? see its stderr above)");
    code = r->code;
    if (msg != NULL)
        snprintf(msg, msglen, "%s", r->message);
    vs__v1__response_envelope__free_unpacked(r, NULL);
    return code;
}

/* A method path is compared in full: "/…/Health\0junk" names no method. */
static void test_method_with_nul_is_invalid_argument(void **state)
{
    static const char method[] = HEALTH "\0junk";
    char msg[512];

    assert_int_equal(code_of(call_raw(method, sizeof method - 1, NULL, 0, 0), msg, sizeof msg),
                     VS_INVALID_ARGUMENT);
    assert_string_equal(msg, "method: contains a NUL character");
    /* a NUL right at the end is still one */
    assert_int_equal(code_of(call_raw(method, strlen(HEALTH) + 1, NULL, 0, 0), NULL, 0),
                     VS_INVALID_ARGUMENT);
    /* the same path without it is Health */
    assert_int_equal(code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, 0), NULL, 0), VS_OK);
}

/* A token is compared in full: "Bearer <valid token>\0junk" is not that token. */
static void test_authorization_with_nul_is_unauthenticated(void **state)
{
    vs_client *c = ts_client(vsd_url, 20000);
    vs_call_status st;
    char email[128], auth[2048], msg[512];
    char *token = NULL;
    uint64_t id = 0;
    int n;

    snprintf(email, sizeof email, "envelope-nul-%d-%lld@users.test", (int)getpid(),
             (long long)ts_mono_ms());
    assert_int_equal(vs_user_signup(c, email, "correct horse battery", "Envelope", &id, &st),
                     VS_OK);
    assert_int_equal(vs_user_login(c, email, "correct horse battery", &token, NULL, NULL, &st),
                     VS_OK);
    n = snprintf(auth, sizeof auth, "Bearer %s", token);
    assert_true(n > 0 && (size_t)n + 6 < sizeof auth);
    /* the valid token alone is accepted */
    assert_int_equal(code_of(call_raw(ME, strlen(ME), auth, (size_t)n, 0), NULL, 0), VS_OK);
    memcpy(auth + n, "\0junk", 5);
    assert_int_equal(code_of(call_raw(ME, strlen(ME), auth, (size_t)n + 5, 0), msg, sizeof msg),
                     VS_UNAUTHENTICATED);
    assert_string_equal(msg, "authorization: contains a NUL character");
    free(token);
    vs_client_close(c);
}

/* deadline_unix_ms: 0 is none; a negative value (including the unsigned values 2^63 .. 2^64-1 a
 * client may have meant) is refused naming the field; a passed one is DEADLINE_EXCEEDED with a
 * sane figure; anything ahead, up to INT64_MAX, is served. */
static void test_deadline_edges_are_refused_or_served_without_overflow(void **state)
{
    char msg[512];
    static const uint64_t negative[] = {
        UINT64_MAX,                 /* -1 */
        (uint64_t)1 << 63,          /* INT64_MIN: what a client sending 2^63 means */
        ((uint64_t)1 << 63) + 1,    /* INT64_MIN + 1 */
        (uint64_t)-1000,            /* a little before the epoch */
        (uint64_t)(-(int64_t)1e15), /* far before it */
    };
    static const uint64_t ahead[] = {
        INT64_MAX,
        (uint64_t)INT64_MAX - 1,
        (uint64_t)1 << 62,
    };

    /* 0 (absent on the wire, and sent explicitly as a zero varint) is no deadline */
    assert_int_equal(code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, 0), NULL, 0), VS_OK);
    for (size_t i = 0; i < sizeof negative / sizeof negative[0]; i++) {
        assert_int_equal(
            code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, negative[i]), msg, sizeof msg),
            VS_INVALID_ARGUMENT);
        assert_non_null(strstr(msg, "deadline_unix_ms"));
    }
    for (size_t i = 0; i < sizeof ahead / sizeof ahead[0]; i++)
        assert_int_equal(code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, ahead[i]), NULL, 0),
                         VS_OK);
    /* the epoch's first millisecond has passed: exceeded by about now, not by an overflow */
    assert_int_equal(code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, 1), msg, sizeof msg),
                     VS_DEADLINE_EXCEEDED);
    {
        long long passed = -1;

        assert_int_equal(sscanf(msg, "deadline passed %lld ms", &passed), 1);
        assert_true(passed > now_ms() - 60000 && passed <= now_ms());
    }
    assert_int_equal(
        code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, (uint64_t)now_ms() - 1000), NULL, 0),
        VS_DEADLINE_EXCEEDED);
}

/* A Health on a new connection still answers after all of the above. */
static void test_vsd_still_serves_after_hostile_envelopes(void **state)
{
    assert_int_equal(
        code_of(call_raw(HEALTH, strlen(HEALTH), NULL, 0, (uint64_t)now_ms() + 5000), NULL, 0),
        VS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_method_with_nul_is_invalid_argument),
        cmocka_unit_test(test_authorization_with_nul_is_unauthenticated),
        cmocka_unit_test(test_deadline_edges_are_refused_or_served_without_overflow),
        cmocka_unit_test(test_vsd_still_serves_after_hostile_envelopes),
    };
    int failed = cmocka_run_group_tests(tests, start_vsd, stop_vsd);

    nng_fini();
    return failed;
}
