/* pbjson_out.c — protobuf to JSON: a reply message printed as a JSON object from its descriptor
 * (the mapping is in pbjson.h). */
#include "pbjson.h"

#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/status.h>

#include "text.h"

typedef struct pbjson_out {
    pbjson_path path;
    char *err;
    size_t errlen;
} pbjson_out;

#define OUT_FAIL(o, code, ...) pbjson_fail(&(o)->path, code, (o)->err, (o)->errlen, __VA_ARGS__)

static int out_message(pbjson_out *o, const ProtobufCMessage *msg, json_t **out);

static json_t *out_u64(uint64_t v)
{
    char text[24];

    snprintf(text, sizeof text, "%" PRIu64, v);
    return json_string(text);
}

static json_t *out_i64(int64_t v)
{
    char text[24];

    snprintf(text, sizeof text, "%" PRId64, v);
    return json_string(text);
}

static json_t *out_floating(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *out_enum(const ProtobufCEnumDescriptor *ed, int v)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);

    return ev != NULL ? json_string(ev->name) : json_integer(v);
}

static json_t *out_bytes(const ProtobufCBinaryData *b)
{
    size_t cap = sodium_base64_ENCODED_LEN(b->len, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(cap);
    json_t *v;

    if (text == NULL)
        return NULL;
    sodium_bin2base64(text, cap, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
    v = json_string(text);
    free(text);
    return v;
}

/* One value of field's type at member as a new JSON value in *out. */
static int out_value(pbjson_out *o, const ProtobufCFieldDescriptor *field, const void *member,
                     json_t **out)
{
    *out = NULL;
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *out = json_integer(*(const int32_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *out = json_integer(*(const uint32_t *)member);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *out = out_i64(*(const int64_t *)member);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *out = out_u64(*(const uint64_t *)member);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *out = out_floating(*(const float *)member);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *out = out_floating(*(const double *)member);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *out = json_boolean(*(const protobuf_c_boolean *)member);
        break;
    case PROTOBUF_C_TYPE_ENUM:
        *out = out_enum(field->descriptor, *(const int *)member);
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)member;

        s = s != NULL ? s : "";
        if (!text_utf8_valid(s, strlen(s)))
            return OUT_FAIL(o, VS_INTERNAL, "not valid UTF-8");
        *out = json_string(s);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES:
        *out = out_bytes(member);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;

        if (sub == NULL) /* an element of a repeated field cannot be absent; print it empty */
            *out = json_object();
        else
            return out_message(o, sub, out);
        break;
    }
    }
    return *out != NULL ? VS_OK : OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "out of memory");
}

/* 1 when the message carries field: no-presence scalars and repeated fields always do; a
 * message, a oneof member or a proto2 optional field only when set. */
static int out_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    const char *base = (const char *)msg;
    const void *ptr = NULL;

    if (field->type == PROTOBUF_C_TYPE_MESSAGE || field->type == PROTOBUF_C_TYPE_STRING)
        ptr = *(const void *const *)(base + field->offset);
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return 1;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + field->quantifier_offset) == field->id;
    if (field->type == PROTOBUF_C_TYPE_MESSAGE)
        return ptr != NULL;
    if (field->label != PROTOBUF_C_LABEL_OPTIONAL)
        return 1;
    if (field->type == PROTOBUF_C_TYPE_STRING)
        return ptr != NULL && ptr != field->default_value;
    return *(const protobuf_c_boolean *)(base + field->quantifier_offset);
}

/* A repeated field as a new JSON array in *out. */
static int out_repeated(pbjson_out *o, const ProtobufCMessage *msg,
                        const ProtobufCFieldDescriptor *field, json_t **out)
{
    size_t n = *(const size_t *)((const char *)msg + field->quantifier_offset);
    const char *array = *(const char *const *)((const char *)msg + field->offset);
    size_t size = pbjson_value_size(field->type);
    json_t *list = json_array(), *v;
    int rc;

    *out = NULL;
    if (list == NULL)
        return OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t back = pbjson_path_index(&o->path, i);

        if ((rc = out_value(o, field, array + i * size, &v)) != VS_OK ||
            json_array_append_new(list, v) != 0) {
            json_decref(list);
            return rc != VS_OK ? rc : OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "out of memory");
        }
        pbjson_path_pop(&o->path, back);
    }
    *out = list;
    return VS_OK;
}

static int out_message(pbjson_out *o, const ProtobufCMessage *msg, json_t **out)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *object, *v = NULL;
    int rc = VS_OK;

    *out = NULL;
    if (o->path.depth >= PBJSON_MAX_DEPTH)
        return OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "messages nested more than %d deep",
                        PBJSON_MAX_DEPTH);
    if ((object = json_object()) == NULL)
        return OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "out of memory");
    o->path.depth++;
    for (unsigned i = 0; i < desc->n_fields && rc == VS_OK; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        size_t back;

        if (!out_present(msg, field))
            continue;
        back = pbjson_path_field(&o->path, field->name);
        if (field->label == PROTOBUF_C_LABEL_REPEATED)
            rc = out_repeated(o, msg, field, &v);
        else
            rc = out_value(o, field, (const char *)msg + field->offset, &v);
        if (rc == VS_OK && json_object_set_new(object, field->name, v) != 0)
            rc = OUT_FAIL(o, VS_RESOURCE_EXHAUSTED, "out of memory");
        if (rc == VS_OK)
            pbjson_path_pop(&o->path, back);
    }
    o->path.depth--;
    if (rc != VS_OK) {
        json_decref(object);
        return rc;
    }
    *out = object;
    return VS_OK;
}

int pbjson_from_message(const ProtobufCMessage *msg, json_t **out, char *err, size_t errlen)
{
    pbjson_out o = {.path = {.root = "reply"}, .err = err, .errlen = errlen};

    return out_message(&o, msg, out);
}
