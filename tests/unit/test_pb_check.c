/* test_pb_check.c — finding string fields with a NUL byte in protobuf wire bytes. */
#include "testsupport.h"

#include <stdlib.h>
#include <string.h>
#include <vs/v1/envelope.pb-c.h>
#include <vs/v1/streaming.pb-c.h>

#include "pb_check.h"

/* Packs msg and turns every 'X' of the bytes into a NUL; returns the length. */
static size_t pack_with_nuls(const ProtobufCMessage *msg, uint8_t *buf, size_t cap)
{
    size_t len = protobuf_c_message_get_packed_size(msg);

    assert_true(len <= cap);
    protobuf_c_message_pack(msg, buf);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == 'X')
            buf[i] = '\0';
    return len;
}

static void test_string_with_nul_is_named(void **state)
{
    Vs__V1__CreateVideoRequest req = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    uint8_t buf[256];
    char path[64];
    size_t len;

    req.title = "abcXdef";
    req.duration_s = 700;
    req.event_id = "e1";
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    assert_int_equal(pb_find_nul_string(req.base.descriptor, buf, len, path, sizeof path), 1);
    assert_string_equal(path, "title");

    req.title = "abcdef";
    req.event_id = "eX1";
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    assert_int_equal(pb_find_nul_string(req.base.descriptor, buf, len, path, sizeof path), 1);
    assert_string_equal(path, "event_id");
}

static void test_clean_message_passes(void **state)
{
    Vs__V1__CreateVideoRequest req = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    uint8_t buf[256];
    char path[64];
    size_t len;

    req.title = "a title, with UTF-8: \xed\x95\x9c";
    req.duration_s = 700;
    req.event_id = "e1";
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    assert_int_equal(pb_find_nul_string(req.base.descriptor, buf, len, path, sizeof path), 0);
    assert_string_equal(path, "");
    assert_int_equal(pb_find_nul_string(req.base.descriptor, NULL, 0, path, sizeof path), 0);
}

/* A NUL is fine in bytes and in numbers; only string fields are text. */
static void test_bytes_and_numbers_may_hold_nul(void **state)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    uint8_t payload[] = {'p', 'X', 'q'};
    uint8_t buf[256];
    char path[64];
    size_t len;

    env.method = "/vs.v1.StreamingService/Health";
    env.request_id = 256;
    env.deadline_unix_ms = 1;
    env.payload.data = payload;
    env.payload.len = sizeof payload;
    len = pack_with_nuls(&env.base, buf, sizeof buf);
    assert_non_null(memchr(buf, '\0', len));
    assert_int_equal(pb_find_nul_string(env.base.descriptor, buf, len, path, sizeof path), 0);
}

static void test_nested_message_path(void **state)
{
    Vs__V1__HealthResponse resp = VS__V1__HEALTH_RESPONSE__INIT;
    Vs__V1__ComponentHealth a = VS__V1__COMPONENT_HEALTH__INIT, b = VS__V1__COMPONENT_HEALTH__INIT;
    Vs__V1__ComponentHealth *parts[] = {&a, &b};
    uint8_t buf[512];
    char path[64], small[6];
    size_t len;

    a.name = "mariadb-primary";
    a.detail = "10.11";
    b.name = "redis";
    b.detail = "down: refusedX";
    resp.n_components = 2;
    resp.components = parts;
    len = pack_with_nuls(&resp.base, buf, sizeof buf);
    assert_int_equal(pb_find_nul_string(resp.base.descriptor, buf, len, path, sizeof path), 1);
    assert_string_equal(path, "components.detail");
    /* a path longer than the buffer is cut, still terminated */
    assert_int_equal(pb_find_nul_string(resp.base.descriptor, buf, len, small, sizeof small), 1);
    assert_int_equal(strlen(small), sizeof small - 1);

    b.detail = "down: refused";
    len = pack_with_nuls(&resp.base, buf, sizeof buf);
    assert_int_equal(pb_find_nul_string(resp.base.descriptor, buf, len, path, sizeof path), 0);
}

/* Cut or corrupt bytes end the walk without reading past them. */
static void test_truncated_bytes_stop_the_walk(void **state)
{
    Vs__V1__CreateVideoRequest req = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    uint8_t buf[256], *copy;
    char path[64];
    size_t len;

    req.title = "abcdefXgh";
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    for (size_t cut = 0; cut < len; cut++) {
        copy = malloc(cut ? cut : 1); /* exact size: ASan sees any read past the end */
        memcpy(copy, buf, cut);
        /* the title's length runs past the cut: nothing is reported, nothing is overread */
        assert_int_equal(pb_find_nul_string(req.base.descriptor, copy, cut, path, sizeof path), 0);
        free(copy);
    }
    assert_int_equal(pb_find_nul_string(req.base.descriptor, buf, len, path, sizeof path), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_with_nul_is_named),
        cmocka_unit_test(test_clean_message_passes),
        cmocka_unit_test(test_bytes_and_numbers_may_hold_nul),
        cmocka_unit_test(test_nested_message_path),
        cmocka_unit_test(test_truncated_bytes_stop_the_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
