/* test_reply_utf8.c — every reply message is valid UTF-8, whatever bytes the caller sent: echoed
 * input is quoted (control characters escaped, cut on a character boundary with an ellipsis), and
 * a string field that is not UTF-8 is refused INVALID_ARGUMENT naming the field, before anything
 * is stored. A strict protobuf client (Python's, Go's) refuses a whole reply otherwise. Real vsd
 * and vs-coordinator over nng, raw envelopes so the bytes are exactly what a client could send. */
#include "batch_harness.h"
#include "user_fixture.h"

#include <vs/v1/batch.pb-c.h>
#include <vs/v1/streaming.pb-c.h>

#include "text.h"

#define E_ACUTE "\xc3\xa9"

static bh batch;
static pid_t coordinator;
static char bearer[2600];

static int setup(void **state)
{
    vs_client *c;
    char email[128], *token;

    if (uf_setup("utf8", NULL) != 0)
        return -1;
    c = ts_client(uf.url, 10000);
    uf_email("utf8", email, sizeof email);
    uf_signup(c, email);
    token = uf_login(c, email);
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    free(token);
    vs_client_close(c);
    /* the coordinator on its own database (vsd above keeps the stack's) */
    bh_setup(&batch, "utf8");
    coordinator = bh_start_coordinator(&batch, NULL);
    return 0;
}

static int teardown(void **state)
{
    ts_stop(coordinator);
    return uf_teardown(state);
}

/* One call with a raw envelope to url; returns the decoded reply envelope (free it) after
 * asserting that its message is valid UTF-8. */
static Vs__V1__ResponseEnvelope *call_raw(const char *url, const char *method,
                                          const ProtobufCMessage *payload)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    Vs__V1__ResponseEnvelope *r;
    uint8_t body[4096], pbuf[2048];
    nng_socket sock;
    nng_msg *msg = NULL;
    size_t len;

    env.method = (char *)method;
    env.request_id = 9;
    env.authorization = bearer;
    env.payload.data = pbuf;
    assert_true(protobuf_c_message_get_packed_size(payload) <= sizeof pbuf);
    env.payload.len = protobuf_c_message_pack(payload, pbuf);
    assert_true(vs__v1__request_envelope__get_packed_size(&env) <= sizeof body);
    len = vs__v1__request_envelope__pack(&env, body);
    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 20000);
    assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
    assert_int_equal(nng_send(sock, body, len, 0), 0);
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    r = vs__v1__response_envelope__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    nng_close(sock);
    assert_non_null(r);
    if (!text_utf8_valid(r->message, strlen(r->message)))
        fail_msg("reply message is not valid UTF-8: %s", r->message);
    for (const char *p = r->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("reply message holds control character 0x%02x: %s", *p, r->message);
    return r;
}

static Vs__V1__ResponseEnvelope *video_stats(const char *date)
{
    Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;

    req.video_id = 1;
    req.period = VS__V1__PERIOD__DAY;
    req.date = (char *)date;
    return call_raw(uf.url, "/vs.v1.StreamingService/GetVideoStats", &req.base);
}

static void expect(Vs__V1__ResponseEnvelope *r, int code, const char *message)
{
    assert_int_equal(r->code, code);
    assert_string_equal(r->message, message);
    vs__v1__response_envelope__free_unpacked(r, NULL);
}

/* "xéé…" then a lone lead byte: not UTF-8, so refused as such, naming the field. */
static void test_date_not_utf8_is_refused_naming_the_field(void **state)
{
    expect(video_stats("x" E_ACUTE E_ACUTE "\xe2\x80\xa6\xc3"), VS_INVALID_ARGUMENT,
           "date: not valid UTF-8");
}

/* A long date was cut at 40 bytes, in the middle of an é: now it is cut between characters and
 * shows it was cut. */
static void test_long_date_is_echoed_cut_on_a_character_boundary(void **state)
{
    char date[128] = "x", want[256] = "date: \"x";

    for (int i = 0; i < 40; i++)
        strcat(date, E_ACUTE);
    for (int i = 0; i < 20; i++)
        strcat(want, E_ACUTE);
    strcat(want, TEXT_ELLIPSIS "\" is not a calendar date YYYY-MM-DD (1970..9999)");
    expect(video_stats(date), VS_INVALID_ARGUMENT, want);
}

static void test_control_characters_in_a_date_are_escaped(void **state)
{
    expect(video_stats("\x1b[2J\r\n\"2026"), VS_INVALID_ARGUMENT,
           "date: \"\\x1B[2J\\r\\n\\\"2026\" is not a calendar date YYYY-MM-DD (1970..9999)");
}

static void test_method_path_not_utf8_is_refused_and_an_unknown_one_quoted(void **state)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;

    expect(call_raw(uf.url, "\xff\xfe", &req.base), VS_INVALID_ARGUMENT, "method: not valid UTF-8");
    expect(call_raw(uf.url, "/vs.v1.StreamingService/Pl\xc3", &req.base), VS_INVALID_ARGUMENT,
           "method: not valid UTF-8");
    expect(call_raw(uf.url, "/vs.v1.StreamingService/\x1b[2J\"Play", &req.base), VS_UNIMPLEMENTED,
           "unknown method \"/vs.v1.StreamingService/\\x1B[2J\\\"Play\"");
}

/* The event id is stored and replayed: one that is not UTF-8 is refused before anything is
 * stored. */
static void test_event_id_not_utf8_is_refused_and_nothing_stored(void **state)
{
    Vs__V1__PlayRequest play = VS__V1__PLAY_REQUEST__INIT;
    Vs__V1__CreateVideoRequest video = VS__V1__CREATE_VIDEO_REQUEST__INIT;

    play.video_id = 1;
    play.event_id = "utf8-\xff\xfe";
    expect(call_raw(uf.url, "/vs.v1.StreamingService/Play", &play.base), VS_INVALID_ARGUMENT,
           "event_id: not valid UTF-8");
    assert_int_equal(ts_db_int(uf.db, "SELECT COUNT(*) FROM play_log WHERE event_id = "
                                      "X'757466382dfffe'"),
                     0);
    video.title = "utf8 video";
    video.duration_s = 700;
    video.event_id = "utf8-\xed\xa0\x80"; /* a surrogate */
    expect(call_raw(uf.url, "/vs.v1.StreamingService/CreateVideo", &video.base),
           VS_INVALID_ARGUMENT, "event_id: not valid UTF-8");
    assert_int_equal(ts_db_int(uf.db, "SELECT COUNT(*) FROM videos WHERE title = 'utf8 video'"), 0);
}

static void test_sign_up_fields_not_utf8_are_refused_and_no_account_made(void **state)
{
    Vs__V1__SignUpRequest req = VS__V1__SIGN_UP_REQUEST__INIT;
    char email[128];

    uf_email("utf8-name", email, sizeof email);
    req.email = email;
    req.password = UF_PASSWORD;
    req.display_name = "Caf\xc3"; /* cut inside é */
    expect(call_raw(uf.url, "/vs.v1.UserService/SignUp", &req.base), VS_INVALID_ARGUMENT,
           "display_name: not valid UTF-8");
    req.display_name = "Caf" E_ACUTE;
    req.password = "overlong \xc0\xaf slash";
    expect(call_raw(uf.url, "/vs.v1.UserService/SignUp", &req.base), VS_INVALID_ARGUMENT,
           "password: not valid UTF-8");
    assert_int_equal(ts_db_int(uf.db, "SELECT COUNT(*) FROM users WHERE email = '%s'", email), 0);
}

/* The coordinator answers through the same RPC layer and quotes what it echoes the same way. */
static void test_coordinator_replies_are_quoted_too(void **state)
{
    Vs__V1__StartJobRequest req = VS__V1__START_JOB_REQUEST__INIT;
    char vsd_bearer[sizeof bearer];

    /* BatchService checks for an admin's token before the fields: the harness's admin */
    memcpy(vsd_bearer, bearer, sizeof bearer);
    snprintf(bearer, sizeof bearer, "Bearer %s", batch.admin_token);
    req.job = "daily\x07settlement";
    req.date = "2026-01-01";
    expect(call_raw(batch.coord_url, "/vs.v1.BatchService/StartJob", &req.base),
           VS_INVALID_ARGUMENT,
           "job: unknown job \"daily\\x07settlement\" (known: daily-settlement)");
    req.job = "";
    req.date = "2026-01-0\xff";
    expect(call_raw(batch.coord_url, "/vs.v1.BatchService/StartJob", &req.base),
           VS_INVALID_ARGUMENT, "date: not valid UTF-8");
    req.date = "2026-02-30\t";
    expect(call_raw(batch.coord_url, "/vs.v1.BatchService/StartJob", &req.base),
           VS_INVALID_ARGUMENT, "date: expected a business date YYYY-MM-DD, got \"2026-02-30\\t\"");
    expect(call_raw(batch.coord_url, "\xfe/vs.v1.BatchService/StartJob", &req.base),
           VS_INVALID_ARGUMENT, "method: not valid UTF-8");
    expect(call_raw(batch.coord_url, "/vs.v1.BatchService/Start\x7fJob", &req.base),
           VS_UNIMPLEMENTED, "unknown method \"/vs.v1.BatchService/Start\\x7FJob\"");
    memcpy(bearer, vsd_bearer, sizeof bearer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_not_utf8_is_refused_naming_the_field),
        cmocka_unit_test(test_long_date_is_echoed_cut_on_a_character_boundary),
        cmocka_unit_test(test_control_characters_in_a_date_are_escaped),
        cmocka_unit_test(test_method_path_not_utf8_is_refused_and_an_unknown_one_quoted),
        cmocka_unit_test(test_event_id_not_utf8_is_refused_and_nothing_stored),
        cmocka_unit_test(test_sign_up_fields_not_utf8_are_refused_and_no_account_made),
        cmocka_unit_test(test_coordinator_replies_are_quoted_too),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
