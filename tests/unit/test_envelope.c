/* test_envelope.c — the wire envelope and the status vocabulary, without a server. */
#include "testsupport.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vs/v1/envelope.pb-c.h>

#include "config.h"
#include "db.h"

static void test_request_envelope_round_trip(void **state)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT, *back;
    uint8_t payload[] = {0x0a, 0x02, 'h', 'i'};
    uint8_t buf[256];
    size_t len;

    env.method = "/vs.v1.StreamingService/Health";
    env.request_id = 0x1234567890ULL;
    env.deadline_unix_ms = 1795000000123LL;
    env.authorization = "Bearer abc.def.ghi";
    env.payload.data = payload;
    env.payload.len = sizeof payload;
    len = vs__v1__request_envelope__pack(&env, buf);
    back = vs__v1__request_envelope__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->method, "/vs.v1.StreamingService/Health");
    assert_int_equal(back->request_id, 0x1234567890ULL);
    assert_int_equal(back->deadline_unix_ms, 1795000000123LL);
    assert_string_equal(back->authorization, "Bearer abc.def.ghi");
    assert_int_equal(back->payload.len, sizeof payload);
    assert_memory_equal(back->payload.data, payload, sizeof payload);
    vs__v1__request_envelope__free_unpacked(back, NULL);
}

static void test_response_envelope_round_trip(void **state)
{
    Vs__V1__ResponseEnvelope env = VS__V1__RESPONSE_ENVELOPE__INIT, *back;
    uint8_t buf[256];
    size_t len;

    env.request_id = 7;
    env.code = VS_INVALID_ARGUMENT;
    env.message = "position_s: must be within 0..600";
    len = vs__v1__response_envelope__pack(&env, buf);
    back = vs__v1__response_envelope__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->request_id, 7);
    assert_int_equal(back->code, 3);
    assert_string_equal(back->message, "position_s: must be within 0..600");
    assert_int_equal(back->payload.len, 0);
    vs__v1__response_envelope__free_unpacked(back, NULL);
}

static void test_garbage_is_not_an_envelope(void **state)
{
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};

    assert_null(vs__v1__request_envelope__unpack(NULL, sizeof garbage, garbage));
}

static void test_status_codes_match_grpc(void **state)
{
    assert_int_equal(VS__V1__STATUS_CODE__UNAUTHENTICATED, VS_UNAUTHENTICATED);
    assert_int_equal(VS__V1__STATUS_CODE__UNIMPLEMENTED, VS_UNIMPLEMENTED);
    assert_int_equal(VS_DEADLINE_EXCEEDED, 4);
    assert_string_equal(vs_status_name(VS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(vs_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(vs_status_name(99), "UNKNOWN_STATUS");
    assert_int_equal(vs_status_from_name("NOT_FOUND"), 5);
    assert_int_equal(vs_status_from_name("nope"), -1);
}

static void test_db_url_parse(void **state)
{
    db_url u;
    char err[128];

    assert_int_equal(db_url_parse("mysql://vs:p%40ss@127.0.0.1:7406/vs", &u, err, sizeof err),
                     VS_OK);
    assert_string_equal(u.user, "vs");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 7406);
    assert_string_equal(u.database, "vs");
    assert_int_equal(db_url_parse("postgres://x/y", &u, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(db_url_parse("mysql://h:99999/vs", &u, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_int_equal(db_url_parse("mysql://h:7406", &u, err, sizeof err), VS_INVALID_ARGUMENT);
}

static void test_config_parse_int_rejects_junk(void **state)
{
    int64_t v = 0;

    assert_int_equal(config_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(config_parse_int("42x", 0, 100, &v), -1);
    assert_int_equal(config_parse_int("101", 0, 100, &v), -1);
    assert_int_equal(config_parse_int("", 0, 100, &v), -1);
}

static void test_env_file_does_not_override_environment(void **state)
{
    char path[] = "/tmp/vs-env-XXXXXX", err[128];
    int fd = mkstemp(path);
    const char text[] = "# comment\nexport VS_T_A=from_file\nVS_T_B='quoted'\n";

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    setenv("VS_T_A", "from_env", 1);
    unsetenv("VS_T_B");
    assert_int_equal(config_load_file(path, err, sizeof err), VS_OK);
    assert_string_equal(getenv("VS_T_A"), "from_env");
    assert_string_equal(getenv("VS_T_B"), "quoted");
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_envelope_round_trip),
        cmocka_unit_test(test_response_envelope_round_trip),
        cmocka_unit_test(test_garbage_is_not_an_envelope),
        cmocka_unit_test(test_status_codes_match_grpc),
        cmocka_unit_test(test_db_url_parse),
        cmocka_unit_test(test_config_parse_int_rejects_junk),
        cmocka_unit_test(test_env_file_does_not_override_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
