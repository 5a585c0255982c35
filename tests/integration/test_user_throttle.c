/* test_user_throttle.c — per-source limits on SignUp and Log-in, and the log-in lockout keyed by
 * (email, source).
 *
 * vsd listens on tcp://127.0.0.1; each case dials it from its own loopback addresses
 * (127.0.0.2, 127.0.0.3, ...: the dialer's local address), so vsd sees distinct sources exactly as
 * it would see distinct hosts. The counters live in the stack's Redis; setup deletes the ones
 * these addresses could have left from an earlier run. */
#include "user_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "redis.h"

#define SIGNUP_LIMIT 3 /* VS_SIGNUP_PER_SOURCE below */
#define LOGIN_LIMIT 8  /* VS_LOGIN_PER_SOURCE below */
#define LOCKED_MESSAGE "too many failed log-in attempts for this email; try again later"

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Deletes the throttle counters of 127.0.0.2 .. 127.0.0.31. */
static void forget_counters(void)
{
    redis_conn *r = NULL;
    redisReply *reply = NULL;
    char err[256];

    assert_int_equal(redis_open(getenv("VS_REDIS"), 2000, &r, err, sizeof err), VS_OK);
    for (int n = 2; n < 32; n++) {
        assert_int_equal(
            redis_command(r, &reply, err, sizeof err,
                          "DEL throttle:signup:ip:127.0.0.%d throttle:login:ip:127.0.0.%d", n, n),
            VS_OK);
        freeReplyObject(reply);
    }
    redis_close(r);
}

static int setup(void **state)
{
    static const char *const extra[] = {
        "VS_SIGNUP_PER_SOURCE=3",
        "VS_SIGNUP_WINDOW_S=3600",
        "VS_LOGIN_PER_SOURCE=8",
        "VS_LOGIN_WINDOW_S=60",
        NULL,
    };
    const char *env[24];
    int port;

    if (ts_stack_env() != 0 || (port = free_port()) < 0)
        return -1;
    forget_counters();
    snprintf(uf.url, sizeof uf.url, "tcp://127.0.0.1:%d", port);
    snprintf(uf.clock_file, sizeof uf.clock_file, "%s/throttle-%d.clock",
             getenv("VS_TEST_HOME") ? getenv("VS_TEST_HOME") : "/tmp", (int)getpid());
    uf_clock_set(0);
    uf_vsd_env(env, 24, extra);
    uf.vsd = ts_start_vsd(uf.url, env);
    if (uf.vsd < 0)
        return -1;
    uf.db = ts_db_primary();
    return 0;
}

/* One call from 127.0.0.<src>: the reply envelope (free it). */
static Vs__V1__ResponseEnvelope *call_from(int src, const char *method,
                                           const ProtobufCMessage *payload)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    Vs__V1__ResponseEnvelope *r;
    nng_sockaddr local = {.s_in = {.sa_family = NNG_AF_INET}};
    uint8_t body[2048], pbuf[1024];
    nng_socket sock;
    nng_dialer dialer;
    nng_msg *msg = NULL;
    size_t len;

    env.method = (char *)method;
    env.request_id = 11;
    env.authorization = "";
    env.payload.data = pbuf;
    env.payload.len = protobuf_c_message_pack(payload, pbuf);
    len = vs__v1__request_envelope__pack(&env, body);
    local.s_in.sa_addr = htonl(0x7f000000u | (uint32_t)src);
    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 20000);
    assert_int_equal(nng_dialer_create(&dialer, sock, uf.url), 0);
    assert_int_equal(nng_dialer_set_addr(dialer, NNG_OPT_LOCADDR, &local), 0);
    assert_int_equal(nng_dialer_start(dialer, 0), 0);
    assert_int_equal(nng_send(sock, body, len, 0), 0);
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    r = vs__v1__response_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    nng_close(sock);
    assert_non_null(r);
    return r;
}

/* SignUp / Login from 127.0.0.<src>: the status code; the message copied to msg. */
static int signup_from(int src, const char *email, char *msg, size_t msglen)
{
    Vs__V1__SignUpRequest req = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__ResponseEnvelope *r;
    int code;

    req.email = (char *)email;
    req.password = UF_PASSWORD;
    req.display_name = "Throttled";
    r = call_from(src, "/vs.v1.UserService/SignUp", &req.base);
    code = r->code;
    snprintf(msg, msglen, "%s", r->message);
    vs__v1__response_envelope__free_unpacked(r, NULL);
    return code;
}

static int login_from(int src, const char *email, const char *password, char *msg, size_t msglen)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    Vs__V1__ResponseEnvelope *r;
    int code;

    req.email = (char *)email;
    req.password = (char *)password;
    r = call_from(src, "/vs.v1.UserService/Login", &req.base);
    code = r->code;
    snprintf(msg, msglen, "%s", r->message);
    vs__v1__response_envelope__free_unpacked(r, NULL);
    return code;
}

/* "too many <what> from this address; retry after N s" with 0 < N <= window_s. */
static void assert_retry_hint(const char *msg, const char *what, long window_s)
{
    char prefix[128];
    long n = 0;

    snprintf(prefix, sizeof prefix, "too many %s from this address; retry after ", what);
    if (strncmp(msg, prefix, strlen(prefix)) != 0 ||
        sscanf(msg + strlen(prefix), "%ld s", &n) != 1 || n < 1 || n > window_s)
        fail_msg("no retry hint in \"%s\"", msg);
}

static void test_signup_past_the_limit_from_one_source_is_refused_with_a_retry_hint(void **state)
{
    char email[128], msg[256];

    for (int i = 0; i < SIGNUP_LIMIT; i++) {
        uf_email("throttle", email, sizeof email);
        assert_int_equal(signup_from(2, email, msg, sizeof msg), VS_OK);
    }
    uf_email("throttle-refused", email, sizeof email);
    assert_int_equal(signup_from(2, email, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
    assert_retry_hint(msg, "sign-ups", 3600);
    assert_int_equal(ts_db_int(uf.db, "SELECT COUNT(*) FROM users WHERE email = '%s'", email), 0);
    /* another source is not affected */
    assert_int_equal(signup_from(3, email, msg, sizeof msg), VS_OK);
    assert_int_equal(ts_db_int(uf.db, "SELECT COUNT(*) FROM users WHERE email = '%s'", email), 1);
}

static void test_login_past_the_limit_from_one_source_is_refused_with_a_retry_hint(void **state)
{
    char email[128], msg[256];

    uf_email("throttle-login", email, sizeof email);
    assert_int_equal(signup_from(4, email, msg, sizeof msg), VS_OK);
    for (int i = 0; i < LOGIN_LIMIT; i++)
        assert_int_equal(login_from(5, email, UF_PASSWORD, msg, sizeof msg), VS_OK);
    assert_int_equal(login_from(5, email, UF_PASSWORD, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
    assert_retry_hint(msg, "log-ins", 60);
    assert_int_equal(login_from(6, email, UF_PASSWORD, msg, sizeof msg), VS_OK);
}

/* Five bad guesses from one address lock the email for that address only. */
static void test_lockout_from_one_source_does_not_lock_the_owner_out_from_another(void **state)
{
    char email[128], msg[256];

    uf_email("lock-a", email, sizeof email);
    assert_int_equal(signup_from(7, email, msg, sizeof msg), VS_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_from(8, email, "wrong password", msg, sizeof msg),
                         VS_UNAUTHENTICATED);
    assert_int_equal(login_from(8, email, UF_PASSWORD, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
    assert_string_equal(msg, LOCKED_MESSAGE);
    /* the owner, elsewhere */
    assert_int_equal(login_from(9, email, UF_PASSWORD, msg, sizeof msg), VS_OK);
    /* and the owner's success did not reset the stranger's lock */
    assert_int_equal(login_from(8, email, UF_PASSWORD, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
}

/* Guessing spread over addresses is bounded too: 20 failures from all sources lock the email
 * everywhere (here 5 from each of 4 addresses). */
static void test_twenty_failures_from_all_sources_lock_the_email_everywhere(void **state)
{
    char email[128], msg[256];

    uf_email("lock-all", email, sizeof email);
    assert_int_equal(signup_from(10, email, msg, sizeof msg), VS_OK);
    for (int src = 11; src < 15; src++)
        for (int i = 0; i < 5; i++)
            assert_int_equal(login_from(src, email, "wrong password", msg, sizeof msg),
                             VS_UNAUTHENTICATED);
    assert_int_equal(login_from(15, email, UF_PASSWORD, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
    assert_string_equal(msg, LOCKED_MESSAGE);
    /* and open again after the 15 minutes */
    uf_clock_set(15 * 60 * 1000LL + 1000);
    assert_int_equal(login_from(15, email, UF_PASSWORD, msg, sizeof msg), VS_OK);
    uf_clock_set(0);
}

/* When Redis cannot count, sign-ups go on (fail open): a Redis outage must not stop every sign-up
 * and log-in. A vsd whose Redis address has nobody listening, with a limit of 1. */
static void test_signup_goes_on_when_redis_cannot_count(void **state)
{
    char redis_env[64], url[64], email[128], msg[256], saved[512];
    const char *extra[] = {"VS_SIGNUP_PER_SOURCE=1", redis_env, NULL};
    const char *env[24];
    int codes[3];
    pid_t vsd;

    snprintf(redis_env, sizeof redis_env, "VS_REDIS=redis://127.0.0.1:%d", free_port());
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
    uf_vsd_env(env, 24, extra);
    vsd = ts_start_vsd(url, env);
    assert_true(vsd > 0);
    snprintf(saved, sizeof saved, "%s", uf.url);
    snprintf(uf.url, sizeof uf.url, "%s", url);
    for (int i = 0; i < 3; i++) {
        uf_email("throttle-open", email, sizeof email);
        codes[i] = signup_from(16, email, msg, sizeof msg);
    }
    snprintf(uf.url, sizeof uf.url, "%s", saved);
    ts_stop(vsd); /* before asserting: a failed assertion must not leave it running */
    for (int i = 0; i < 3; i++)
        assert_int_equal(codes[i], VS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_past_the_limit_from_one_source_is_refused_with_a_retry_hint),
        cmocka_unit_test(test_login_past_the_limit_from_one_source_is_refused_with_a_retry_hint),
        cmocka_unit_test(test_lockout_from_one_source_does_not_lock_the_owner_out_from_another),
        cmocka_unit_test(test_twenty_failures_from_all_sources_lock_the_email_everywhere),
        cmocka_unit_test(test_signup_goes_on_when_redis_cannot_count),
    };
    return cmocka_run_group_tests(tests, setup, uf_teardown);
}
