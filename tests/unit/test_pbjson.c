/* test_pbjson.c — vsctl's JSON <-> protobuf conversion (client/vsctl/pbjson.h): every field kind
 * both ways and through the wire, proto3's JSON mapping (64-bit integers as strings, enums by
 * name, bytes as base64, JSON names), and every refusal naming the field by its path with
 * nothing handed back. */
#include "testsupport.h"

#include <stdlib.h>
#include <string.h>
#include <vs/v1/streaming.pb-c.h>

#include "pbjson.h"
#include "pbjson_kinds.pb-c.h"
#include "pbjson_legacy.pb-c.h"

static const ProtobufCMessageDescriptor *const kinds = &pbjson__test__kinds__descriptor;

static ProtobufCMessage *parse_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    ProtobufCMessage *msg = NULL;
    char err[512] = "";

    if (pbjson_parse(desc, text, strlen(text), &msg, err, sizeof err) != VS_OK)
        fail_msg("%s: %s", text, err);
    assert_non_null(msg);
    return msg;
}

static json_t *print_ok(const ProtobufCMessage *msg)
{
    json_t *json = NULL;
    char err[512] = "";

    if (pbjson_from_message(msg, &json, err, sizeof err) != VS_OK)
        fail_msg("printing: %s", err);
    return json;
}

/* The reply printed on one line, keys in the order printed. */
static char *print_compact(const ProtobufCMessage *msg)
{
    json_t *json = print_ok(msg);
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(json);
    return text;
}

static void assert_json_equal(json_t *got, const char *expected_text)
{
    json_t *expected = json_loads(expected_text, 0, NULL);
    char *text = json_dumps(got, JSON_COMPACT | JSON_PRESERVE_ORDER);

    assert_non_null(expected);
    if (!json_equal(got, expected))
        fail_msg("got %s\nexpected %s", text, expected_text);
    free(text);
    json_decref(expected);
}

/* text is refused with code and exactly message (or a message starting with it when prefix). */
static void expect_refused(const ProtobufCMessageDescriptor *desc, const char *text, int code,
                           const char *message, int prefix)
{
    ProtobufCMessage *msg = (ProtobufCMessage *)1;
    char err[512] = "";
    int rc = pbjson_parse(desc, text, strlen(text), &msg, err, sizeof err);

    if (rc != code)
        fail_msg("%s: got %s (%s), expected %s", text, vs_status_name(rc), err,
                 vs_status_name(code));
    assert_null(msg); /* nothing partial */
    if (prefix ? strncmp(err, message, strlen(message)) != 0 : strcmp(err, message) != 0)
        fail_msg("%s:\n got      %s\n expected %s%s", text, err, message, prefix ? "..." : "");
}

static const char every_kind[] =
    "{\"i32\": -2147483648, \"s32\": 2147483647, \"sf32\": -5, \"i64\": \"-9223372036854775808\","
    " \"s64\": 9007199254740993, \"sf64\": \"-7\", \"u32\": 4294967295, \"f32\": 7,"
    " \"u64\": \"18446744073709551615\", \"f64\": \"1\", \"fl\": 1.5, \"db\": -0.25,"
    " \"flag\": true, \"color\": \"GREEN\", \"text\": \"\xed\x95\x9c \xe2\x9c\x93\","
    " \"blob\": \"AAEC/w==\", \"inner\": {\"n\": 3, \"label\": \"x\"}, \"r_i32\": [1, -2],"
    " \"r_i64\": [\"3\", 4], \"r_text\": [\"a\", \"\"], \"r_blob\": [\"\", \"/w==\"],"
    " \"r_color\": [\"RED\", 2], \"r_inner\": [{\"n\": 1}, {\"label\": \"y\"}],"
    " \"r_flag\": [true, false], \"r_db\": [0.5, \"Infinity\", \"-Infinity\", \"NaN\"],"
    " \"r_u64\": [\"0\", 12], \"pick_inner\": {\"n\": 9}, \"camelCaseName\": \"camel\","
    " \"tree\": {\"child\": {\"n\": 2}}}";

static const char every_kind_printed[] =
    "{\"i32\": -2147483648, \"s32\": 2147483647, \"sf32\": -5, \"i64\": \"-9223372036854775808\","
    " \"s64\": \"9007199254740993\", \"sf64\": \"-7\", \"u32\": 4294967295, \"f32\": 7,"
    " \"u64\": \"18446744073709551615\", \"f64\": \"1\", \"fl\": 1.5, \"db\": -0.25,"
    " \"flag\": true, \"color\": \"GREEN\", \"text\": \"\xed\x95\x9c \xe2\x9c\x93\","
    " \"blob\": \"AAEC/w==\", \"inner\": {\"n\": 3, \"label\": \"x\"}, \"r_i32\": [1, -2],"
    " \"r_i64\": [\"3\", \"4\"], \"r_text\": [\"a\", \"\"], \"r_blob\": [\"\", \"/w==\"],"
    " \"r_color\": [\"RED\", \"GREEN\"], \"r_inner\": [{\"n\": 1, \"label\": \"\"},"
    " {\"n\": 0, \"label\": \"y\"}], \"r_flag\": [true, false],"
    " \"r_db\": [0.5, \"Infinity\", \"-Infinity\", \"NaN\"], \"r_u64\": [\"0\", \"12\"],"
    " \"pick_inner\": {\"n\": 9, \"label\": \"\"}, \"camel_case_name\": \"camel\","
    " \"tree\": {\"child\": {\"n\": 2}, \"n\": 0}}";

static void test_every_field_kind_is_read_and_printed(void **state)
{
    Pbjson__Test__Kinds *k = (Pbjson__Test__Kinds *)parse_ok(kinds, every_kind);
    json_t *json;

    assert_int_equal(k->i64, INT64_MIN);
    assert_int_equal(k->s64, 9007199254740993LL); /* above 2^53: read as an integer, not a double */
    assert_true(k->u64 == UINT64_MAX);
    assert_int_equal(k->n_r_blob, 2);
    assert_int_equal(k->r_blob[1].len, 1);
    assert_int_equal(k->r_blob[1].data[0], 0xff);
    assert_int_equal(k->blob.len, 4);
    assert_int_equal(k->choice_case, PBJSON__TEST__KINDS__CHOICE_PICK_INNER);
    assert_int_equal(k->pick_inner->n, 9);
    assert_string_equal(k->camel_case_name, "camel");
    json = print_ok(&k->base);
    assert_json_equal(json, every_kind_printed);
    json_decref(json);
    protobuf_c_message_free_unpacked(&k->base, NULL);
}

/* JSON -> message -> wire -> message -> JSON -> message -> wire: the same bytes and the same
 * JSON each time. */
static void test_round_trip_through_the_wire(void **state)
{
    ProtobufCMessage *first = parse_ok(kinds, every_kind), *unpacked, *again;
    size_t len = protobuf_c_message_get_packed_size(first);
    uint8_t *wire = malloc(len), *wire_again = malloc(len);
    json_t *json;
    char *text;

    protobuf_c_message_pack(first, wire);
    unpacked = protobuf_c_message_unpack(kinds, NULL, len, wire);
    assert_non_null(unpacked);
    json = print_ok(unpacked);
    assert_json_equal(json, every_kind_printed);
    text = json_dumps(json, 0);
    again = parse_ok(kinds, text);
    assert_int_equal(protobuf_c_message_get_packed_size(again), len);
    protobuf_c_message_pack(again, wire_again);
    assert_memory_equal(wire, wire_again, len);
    free(text);
    json_decref(json);
    free(wire);
    free(wire_again);
    protobuf_c_message_free_unpacked(first, NULL);
    protobuf_c_message_free_unpacked(unpacked, NULL);
    protobuf_c_message_free_unpacked(again, NULL);
}

static void test_defaults_printed_unset_messages_left_out(void **state)
{
    static const char defaults[] =
        "{\"i32\": 0, \"s32\": 0, \"sf32\": 0, \"i64\": \"0\", \"s64\": \"0\", \"sf64\": \"0\","
        " \"u32\": 0, \"f32\": 0, \"u64\": \"0\", \"f64\": \"0\", \"fl\": 0.0, \"db\": 0.0,"
        " \"flag\": false, \"color\": \"COLOR_UNSPECIFIED\", \"text\": \"\", \"blob\": \"\","
        " \"r_i32\": [], \"r_i64\": [], \"r_text\": [], \"r_blob\": [], \"r_color\": [],"
        " \"r_inner\": [], \"r_flag\": [], \"r_db\": [], \"r_u64\": [], \"camel_case_name\": \"\"}";
    ProtobufCMessage *empty = parse_ok(kinds, "{}");
    /* null means the default, for every kind of field */
    ProtobufCMessage *nulls = parse_ok(kinds, "{\"i32\": null, \"inner\": null, \"r_i32\": null,"
                                              " \"pick_text\": null, \"blob\": null}");
    json_t *json;

    json = print_ok(empty);
    assert_json_equal(json, defaults);
    json_decref(json);
    json = print_ok(nulls);
    assert_json_equal(json, defaults);
    json_decref(json);
    assert_int_equal(((Pbjson__Test__Kinds *)nulls)->choice_case,
                     PBJSON__TEST__KINDS__CHOICE__NOT_SET);
    protobuf_c_message_free_unpacked(empty, NULL);
    protobuf_c_message_free_unpacked(nulls, NULL);
}

static void test_fields_printed_in_field_number_order(void **state)
{
    ProtobufCMessage *inner =
        parse_ok(&pbjson__test__inner__descriptor, "{\"label\": \"y\", \"n\": 1}");
    char *text = print_compact(inner);

    assert_string_equal(text, "{\"n\":1,\"label\":\"y\"}");
    free(text);
    protobuf_c_message_free_unpacked(inner, NULL);
}

static void test_json_names_and_number_forms_accepted(void **state)
{
    Pbjson__Test__Kinds *k = (Pbjson__Test__Kinds *)parse_ok(
        kinds, "{\"rI32\": [1], \"camelCaseName\": \"x\", \"pickNum\": \"5\", \"i64\": 3.0,"
               " \"u64\": 42, \"color\": 1, \"rColor\": [\"GREEN\"], \"s32\": \"-0\"}");

    assert_int_equal(k->n_r_i32, 1);
    assert_string_equal(k->camel_case_name, "x");
    assert_int_equal(k->choice_case, PBJSON__TEST__KINDS__CHOICE_PICK_NUM);
    assert_int_equal(k->pick_num, 5);
    assert_int_equal(k->i64, 3);
    assert_int_equal(k->u64, 42);
    assert_int_equal(k->color, PBJSON__TEST__COLOR__RED);
    assert_int_equal(k->r_color[0], PBJSON__TEST__COLOR__GREEN);
    assert_int_equal(k->s32, 0);
    protobuf_c_message_free_unpacked(&k->base, NULL);
}

static void test_base64_standard_and_url_safe_with_or_without_padding(void **state)
{
    static const char *const forms[] = {"{\"blob\": \"/w==\"}", "{\"blob\": \"/w\"}",
                                        "{\"blob\": \"_w==\"}", "{\"blob\": \"_w\"}"};

    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        Pbjson__Test__Kinds *k = (Pbjson__Test__Kinds *)parse_ok(kinds, forms[i]);
        json_t *json = print_ok(&k->base);

        assert_int_equal(k->blob.len, 1);
        assert_int_equal(k->blob.data[0], 0xff);
        assert_string_equal(json_string_value(json_object_get(json, "blob")), "/w==");
        json_decref(json);
        protobuf_c_message_free_unpacked(&k->base, NULL);
    }
}

static void test_vs_messages_encode_like_the_generated_code(void **state)
{
    Vs__V1__CreateVideoRequest want = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    Vs__V1__Video video = VS__V1__VIDEO__INIT;
    int32_t ads[] = {300, 600};
    ProtobufCMessage *got =
        parse_ok(&vs__v1__create_video_request__descriptor,
                 "{\"title\": \"T\", \"durationS\": 700, \"event_id\": \"e1\"}");
    uint8_t a[64], b[64];
    size_t len = protobuf_c_message_get_packed_size(got);
    char *text;

    want.title = "T";
    want.duration_s = 700;
    want.event_id = "e1";
    assert_int_equal(len, vs__v1__create_video_request__get_packed_size(&want));
    protobuf_c_message_pack(got, a);
    vs__v1__create_video_request__pack(&want, b);
    assert_memory_equal(a, b, len);
    protobuf_c_message_free_unpacked(got, NULL);

    video.id = 7;
    video.creator_id = 3;
    video.title = "t";
    video.duration_s = 700;
    video.ad_positions_s = ads;
    video.n_ad_positions_s = 2;
    video.created_unix = 1700000000;
    text = print_compact(&video.base);
    assert_string_equal(text,
                        "{\"id\":\"7\",\"creator_id\":\"3\",\"title\":\"t\",\"duration_s\":700,"
                        "\"ad_positions_s\":[300,600],\"created_unix\":\"1700000000\"}");
    free(text);
}

static void test_proto2_optional_printed_only_when_set(void **state)
{
    Pbjson__Test__Legacy *unset =
        (Pbjson__Test__Legacy *)parse_ok(&pbjson__test__legacy__descriptor, "{\"id\": 1}");
    Pbjson__Test__Legacy *set = (Pbjson__Test__Legacy *)parse_ok(
        &pbjson__test__legacy__descriptor,
        "{\"id\": 1, \"count\": 0, \"note\": \"\", \"raw\": \"\"}");
    char *text;

    assert_false(unset->has_count);
    assert_true(set->has_count);
    assert_true(set->has_raw);
    text = print_compact(&unset->base);
    assert_string_equal(text, "{\"id\":1}");
    free(text);
    text = print_compact(&set->base);
    assert_string_equal(text, "{\"id\":1,\"count\":0,\"note\":\"\",\"raw\":\"\"}");
    free(text);
    protobuf_c_message_free_unpacked(&unset->base, NULL);
    protobuf_c_message_free_unpacked(&set->base, NULL);
}

static void test_unknown_enum_number_printed_as_number(void **state)
{
    Pbjson__Test__Kinds k = PBJSON__TEST__KINDS__INIT;
    json_t *json;

    k.color = 9;
    json = print_ok(&k.base);
    assert_int_equal(json_integer_value(json_object_get(json, "color")), 9);
    json_decref(json);
}

static void test_reply_string_not_utf8_is_refused_with_its_path(void **state)
{
    Pbjson__Test__Kinds k = PBJSON__TEST__KINDS__INIT;
    Pbjson__Test__Inner ok = PBJSON__TEST__INNER__INIT, bad = PBJSON__TEST__INNER__INIT;
    Pbjson__Test__Inner *list[] = {&ok, &bad};
    json_t *json = (json_t *)1;
    char err[256];

    bad.label = "ab\xff";
    k.r_inner = list;
    k.n_r_inner = 2;
    assert_int_equal(pbjson_from_message(&k.base, &json, err, sizeof err), VS_INTERNAL);
    assert_null(json);
    assert_string_equal(err, "r_inner[1].label: not valid UTF-8");
}

static void test_string_with_nul_is_refused(void **state)
{
    json_t *obj = json_object(), *list = json_array();
    ProtobufCMessage *msg = (ProtobufCMessage *)1;
    char err[256];

    json_array_append_new(list, json_string("fine"));
    json_array_append_new(list, json_stringn("a\0b", 3));
    json_object_set_new(obj, "r_text", list);
    assert_int_equal(pbjson_to_message(kinds, obj, &msg, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_null(msg);
    assert_string_equal(err, "r_text[1]: contains a NUL character");
    json_decref(obj);
}

/* Every refusal names the field by its path, and hands nothing back. */
static void test_bad_input_refused_naming_the_field(void **state)
{
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{\"nope\": 1}", "nope: no such field in pbjson.test.Kinds"},
        {"{\"inner\": {\"n\": 1, \"bad key!\": 1}}",
         "inner.\"bad key!\": no such field in pbjson.test.Inner"},
        {"{\"r_inner\": [{\"n\": 1}, {\"n\": \"x\"}]}",
         "r_inner[1].n: expected an integer (int32), got the string \"x\""},
        {"{\"i32\": true}", "i32: expected an integer (int32)"},
        {"{\"i32\": 2147483648}", "i32: out of range for int32: 2147483648"},
        {"{\"sf32\": -2147483649}", "sf32: out of range for sfixed32: -2147483649"},
        {"{\"u32\": -1}", "u32: out of range for uint32: -1"},
        {"{\"f32\": 4294967296}", "f32: out of range for fixed32: 4294967296"},
        {"{\"u64\": \"18446744073709551616\"}",
         "u64: out of range for uint64: \"18446744073709551616\""},
        {"{\"i64\": \"9223372036854775808\"}", "i64: out of range for int64: 9223372036854775808"},
        {"{\"s64\": 1.5}", "s64: expected an integer (sint64), got 1.5"},
        {"{\"f64\": \"12a\"}", "f64: expected an integer (fixed64), got the string \"12a\""},
        {"{\"fl\": 1e39}", "fl: out of range for float: 9.9999999999999994e+38"},
        {"{\"db\": \"abc\"}",
         "db: expected a number (double), or \"NaN\", \"Infinity\", \"-Infinity\""},
        {"{\"db\": []}", "db: expected a number (double)"},
        {"{\"flag\": \"true\"}", "flag: expected true or false"},
        {"{\"color\": \"BLUE\"}",
         "color: \"BLUE\" is not a value of pbjson.test.Color (COLOR_UNSPECIFIED, RED, GREEN)"},
        {"{\"color\": 7}", "color: 7 is not a value of pbjson.test.Color (COLOR_UNSPECIFIED, RED, "
                           "GREEN)"},
        {"{\"color\": {}}", "color: expected a pbjson.test.Color name (a string) or number"},
        {"{\"r_color\": [\"RED\", \"blue\"]}",
         "r_color[1]: \"blue\" is not a value of pbjson.test.Color (COLOR_UNSPECIFIED, RED, "
         "GREEN)"},
        {"{\"text\": 5}", "text: expected a string"},
        {"{\"blob\": \"!!\"}", "blob: not base64 (bytes)"},
        {"{\"blob\": 1}", "blob: expected base64 text (bytes)"},
        {"{\"inner\": 5}", "inner: expected an object (pbjson.test.Inner)"},
        {"{\"r_i32\": 5}", "r_i32: expected an array of int32"},
        {"{\"r_inner\": {}}", "r_inner: expected an array of pbjson.test.Inner"},
        {"{\"r_color\": \"RED\"}", "r_color: expected an array of pbjson.test.Color"},
        {"{\"r_i32\": [null]}", "r_i32[0]: expected an integer (int32)"},
        {"{\"r_u64\": [\"1\", \"-2\"]}", "r_u64[1]: out of range for uint64: -2"},
        {"{\"pick_text\": \"a\", \"pick_num\": 1}",
         "pick_num: pick_text of the same oneof is already given"},
        {"{\"camel_case_name\": \"a\", \"camelCaseName\": \"b\"}",
         "camel_case_name: given twice (as camel_case_name and its JSON name)"},
        {"[]", "request: expected a JSON object (pbjson.test.Kinds)"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(kinds, cases[i].json, VS_INVALID_ARGUMENT, cases[i].message, 0);
}

static void test_text_that_is_not_json_is_refused(void **state)
{
    expect_refused(kinds, "{\"i32\": ", VS_INVALID_ARGUMENT, "request: not JSON: ", 1);
    expect_refused(kinds, "{\"i32\": 1, \"i32\": 2}", VS_INVALID_ARGUMENT,
                   "request: not JSON: duplicate object key", 1);
    expect_refused(kinds, "{} {}", VS_INVALID_ARGUMENT, "request: not JSON: end of file expected",
                   1);
    expect_refused(kinds, "{\"u64\": 18446744073709551615}", VS_INVALID_ARGUMENT,
                   "request: not JSON: too big integer near '18446744073709551615' (line 1, "
                   "column 28); give integers beyond 64-bit signed as strings",
                   0);
}

static void test_nesting_bounded(void **state)
{
    char json[1024], path[512] = "tree", message[600];
    size_t o = 0;

    o += snprintf(json + o, sizeof json - o, "{\"tree\": ");
    for (int i = 0; i < 40; i++)
        o += snprintf(json + o, sizeof json - o, "{\"child\": ");
    o += snprintf(json + o, sizeof json - o, "{}");
    for (int i = 0; i < 40; i++)
        o += snprintf(json + o, sizeof json - o, "}");
    snprintf(json + o, sizeof json - o, "}");
    /* Kinds is the first message, tree the second: the 33rd is tree's 31st child */
    for (int i = 0; i < 31; i++)
        strcat(path, ".child");
    snprintf(message, sizeof message, "%s: messages nested more than %d deep", path,
             PBJSON_MAX_DEPTH);
    expect_refused(kinds, json, VS_INVALID_ARGUMENT, message, 0);
}

static void test_input_size_bounded(void **state)
{
    size_t len = PBJSON_MAX_INPUT + 1;
    char *text = malloc(len), message[128];
    ProtobufCMessage *msg = (ProtobufCMessage *)1;
    char err[256];

    memset(text, ' ', len);
    text[0] = '{';
    text[len - 1] = '}';
    assert_int_equal(pbjson_parse(kinds, text, len, &msg, err, sizeof err), VS_RESOURCE_EXHAUSTED);
    assert_null(msg);
    snprintf(message, sizeof message, "request: %zu bytes of JSON, over the %d-byte limit", len,
             PBJSON_MAX_INPUT);
    assert_string_equal(err, message);
    free(text);
}

static void test_json_name_is_lower_camel_case(void **state)
{
    char name[64];

    pbjson_json_name("ad_positions_s", name, sizeof name);
    assert_string_equal(name, "adPositionsS");
    pbjson_json_name("title", name, sizeof name);
    assert_string_equal(name, "title");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_kind_is_read_and_printed),
        cmocka_unit_test(test_round_trip_through_the_wire),
        cmocka_unit_test(test_defaults_printed_unset_messages_left_out),
        cmocka_unit_test(test_fields_printed_in_field_number_order),
        cmocka_unit_test(test_json_names_and_number_forms_accepted),
        cmocka_unit_test(test_base64_standard_and_url_safe_with_or_without_padding),
        cmocka_unit_test(test_vs_messages_encode_like_the_generated_code),
        cmocka_unit_test(test_proto2_optional_printed_only_when_set),
        cmocka_unit_test(test_unknown_enum_number_printed_as_number),
        cmocka_unit_test(test_reply_string_not_utf8_is_refused_with_its_path),
        cmocka_unit_test(test_string_with_nul_is_refused),
        cmocka_unit_test(test_bad_input_refused_naming_the_field),
        cmocka_unit_test(test_text_that_is_not_json_is_refused),
        cmocka_unit_test(test_nesting_bounded),
        cmocka_unit_test(test_input_size_bounded),
        cmocka_unit_test(test_json_name_is_lower_camel_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
