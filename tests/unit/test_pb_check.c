/* test_pb_check.c — finding string fields with a NUL byte or bytes that are not UTF-8 in protobuf
 * wire bytes. */
#include "testsupport.h"

#include <stdlib.h>
#include <string.h>
#include <vs/v1/envelope.pb-c.h>
#include <vs/v1/batch.pb-c.h>
#include <vs/v1/streaming.pb-c.h>
#include <vs/v1/user.pb-c.h>

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
    assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                     PB_STRING_HAS_NUL);
    assert_string_equal(path, "title");

    req.title = "abcdef";
    req.event_id = "eX1";
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                     PB_STRING_HAS_NUL);
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
    assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                     PB_STRINGS_OK);
    assert_string_equal(path, "");
    assert_int_equal(pb_find_bad_string(req.base.descriptor, NULL, 0, path, sizeof path),
                     PB_STRINGS_OK);
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
    assert_int_equal(pb_find_bad_string(env.base.descriptor, buf, len, path, sizeof path),
                     PB_STRINGS_OK);
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
    assert_int_equal(pb_find_bad_string(resp.base.descriptor, buf, len, path, sizeof path),
                     PB_STRING_HAS_NUL);
    assert_string_equal(path, "components.detail");
    /* a path longer than the buffer is cut, still terminated */
    assert_int_equal(pb_find_bad_string(resp.base.descriptor, buf, len, small, sizeof small),
                     PB_STRING_HAS_NUL);
    assert_int_equal(strlen(small), sizeof small - 1);

    b.detail = "down: refused";
    len = pack_with_nuls(&resp.base, buf, sizeof buf);
    assert_int_equal(pb_find_bad_string(resp.base.descriptor, buf, len, path, sizeof path),
                     PB_STRINGS_OK);
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
        assert_int_equal(pb_find_bad_string(req.base.descriptor, copy, cut, path, sizeof path),
                         PB_STRINGS_OK);
        free(copy);
    }
    assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                     PB_STRING_HAS_NUL);
}

/* proto3 string fields must be UTF-8; protobuf-c does not check it, so the walk does. */
static void test_string_not_utf8_is_named(void **state)
{
    static const char *const bad[] = {
        "e\xff",            /* a byte that is never UTF-8 */
        "x\xc3\xa9\xc3",    /* a sequence cut short at the end */
        "\xc0\xaf",         /* an overlong '/' */
        "\xe0\x80\xaf",     /* an overlong 3-byte form */
        "\xed\xa0\x80",     /* a surrogate (U+D800) */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\x80",             /* a stray continuation byte */
    };
    Vs__V1__PlayRequest req = VS__V1__PLAY_REQUEST__INIT;
    uint8_t buf[256];
    char path[64];
    size_t len;

    req.video_id = 7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.event_id = (char *)bad[i];
        len = pack_with_nuls(&req.base, buf, sizeof buf);
        assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                         PB_STRING_NOT_UTF8);
        assert_string_equal(path, "event_id");
    }
    req.event_id = "\xea\xb0\x80-\xf0\x9f\x8e\xac-\xef\xbf\xbf"; /* U+AC00, U+1F3AC, U+FFFF */
    len = pack_with_nuls(&req.base, buf, sizeof buf);
    assert_int_equal(pb_find_bad_string(req.base.descriptor, buf, len, path, sizeof path),
                     PB_STRINGS_OK);
}

/* Every string field of every request a client can send is checked: field n of type string,
 * holding the one byte 0xff, is refused and named. */
static void test_every_request_string_field_must_be_utf8(void **state)
{
    static const ProtobufCServiceDescriptor *const services[] = {
        &vs__v1__user_service__descriptor,
        &vs__v1__streaming_service__descriptor,
        &vs__v1__batch_service__descriptor,
    };
    char path[64];
    int checked = 0;

    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++) {
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            const ProtobufCMessageDescriptor *in = services[s]->methods[m].input;

            for (unsigned f = 0; f < in->n_fields; f++) {
                const ProtobufCFieldDescriptor *field = &in->fields[f];
                uint8_t wire[16];
                size_t len = 0;

                if (field->type != PROTOBUF_C_TYPE_STRING)
                    continue;
                assert_true(field->id < 16); /* a one-byte tag keeps the encoding here simple */
                wire[len++] = (uint8_t)(field->id << 3 | 2);
                wire[len++] = 1;
                wire[len++] = 0xff;
                assert_int_equal(pb_find_bad_string(in, wire, len, path, sizeof path),
                                 PB_STRING_NOT_UTF8);
                assert_string_equal(path, field->name);
                checked++;
            }
        }
    }
    assert_true(checked >= 10); /* email, password, display_name, title, event_id, date, ... */
}

/* A bytes field is not text: any byte may be in it. */
static void test_bytes_field_may_hold_any_byte(void **state)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    uint8_t payload[] = {0xff, 0xfe, 0xc3};
    uint8_t buf[256];
    char path[64];
    size_t len;

    env.method = "/vs.v1.StreamingService/Health";
    env.payload.data = payload;
    env.payload.len = sizeof payload;
    len = vs__v1__request_envelope__pack(&env, buf);
    assert_int_equal(pb_find_bad_string(env.base.descriptor, buf, len, path, sizeof path),
                     PB_STRINGS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_with_nul_is_named),
        cmocka_unit_test(test_clean_message_passes),
        cmocka_unit_test(test_bytes_and_numbers_may_hold_nul),
        cmocka_unit_test(test_nested_message_path),
        cmocka_unit_test(test_truncated_bytes_stop_the_walk),
        cmocka_unit_test(test_string_not_utf8_is_named),
        cmocka_unit_test(test_every_request_string_field_must_be_utf8),
        cmocka_unit_test(test_bytes_field_may_hold_any_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
