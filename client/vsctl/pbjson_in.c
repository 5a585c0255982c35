/* pbjson_in.c — JSON to protobuf: a request message built from a JSON object and the message's
 * descriptor (the mapping is in pbjson.h).
 *
 * The message is built with the system allocator exactly as protobuf-c's unpack builds one, and
 * is kept consistent at every step (a repeated field's count only covers filled elements, a
 * oneof's case is set before its member is filled), so protobuf_c_message_free_unpacked frees a
 * half-built message after the first error and nothing partial is ever handed back. */
#include "pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <vs/status.h>

#include "text.h"

typedef struct pbjson_in {
    pbjson_path path;
    char *err;
    size_t errlen;
} pbjson_in;

#define IN_FAIL(in, code, ...) pbjson_fail(&(in)->path, code, (in)->err, (in)->errlen, __VA_ARGS__)

static int in_message(pbjson_in *in, const ProtobufCMessageDescriptor *desc, const json_t *object,
                      ProtobufCMessage **out);

/* An integer of any kind: a JSON integer, an integral number, or a string of decimal digits
 * with an optional '-'. *negative and *magnitude hold it; the caller checks the range. */
static int in_integer(pbjson_in *in, const json_t *v, const char *kind, int *negative,
                      uint64_t *magnitude)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        *negative = n < 0;
        *magnitude = n < 0 ? -(uint64_t)n : (uint64_t)n;
        return VS_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);

        if (d != floor(d)) /* also NaN and infinities, which JSON cannot carry anyway */
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected an integer (%s), got %.17g", kind, d);
        if (fabs(d) >= 18446744073709551616.0)
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "out of range for %s: %.17g", kind, d);
        *negative = d < 0;
        *magnitude = (uint64_t)fabs(d);
        return VS_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v), *digits = s[0] == '-' ? s + 1 : s;
        char *end = NULL, shown[48];

        if (digits[0] < '0' || digits[0] > '9' || strspn(digits, "0123456789") != strlen(digits) ||
            json_string_length(v) != strlen(s))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected an integer (%s), got the string %s",
                           kind, text_quote(shown, sizeof shown, s, json_string_length(v)));
        errno = 0;
        *magnitude = strtoull(digits, &end, 10);
        if (errno == ERANGE)
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "out of range for %s: %s", kind,
                           text_quote(shown, sizeof shown, s, strlen(s)));
        *negative = s[0] == '-' && *magnitude > 0;
        return VS_OK;
    }
    return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected an integer (%s)", kind);
}

/* An integer in [lo, hi] (signed kinds) into *out. */
static int in_signed(pbjson_in *in, const json_t *v, const char *kind, int64_t lo, int64_t hi,
                     int64_t *out)
{
    uint64_t mag = 0;
    int neg = 0, rc;

    if ((rc = in_integer(in, v, kind, &neg, &mag)) != VS_OK)
        return rc;
    if ((neg && mag > (uint64_t) - (lo + 1) + 1) || (!neg && mag > (uint64_t)hi))
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "out of range for %s: %s%" PRIu64, kind,
                       neg ? "-" : "", mag);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return VS_OK;
}

/* An integer in [0, hi] (unsigned kinds) into *out. */
static int in_unsigned(pbjson_in *in, const json_t *v, const char *kind, uint64_t hi, uint64_t *out)
{
    uint64_t mag = 0;
    int neg = 0, rc;

    if ((rc = in_integer(in, v, kind, &neg, &mag)) != VS_OK)
        return rc;
    if (neg || mag > hi)
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "out of range for %s: %s%" PRIu64, kind,
                       neg ? "-" : "", mag);
    *out = mag;
    return VS_OK;
}

/* A float or double: a JSON number, or "NaN", "Infinity", "-Infinity". */
static int in_floating(pbjson_in *in, const json_t *v, int is_float, double *out)
{
    const char *kind = is_float ? "float" : "double";

    if (json_is_number(v)) {
        *out = json_number_value(v);
        if (is_float && fabs(*out) > FLT_MAX)
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "out of range for float: %.17g", *out);
        return VS_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);

        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else
            return IN_FAIL(in, VS_INVALID_ARGUMENT,
                           "expected a number (%s), or \"NaN\", \"Infinity\", \"-Infinity\"", kind);
        return VS_OK;
    }
    return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected a number (%s)", kind);
}

/* An enum value by name, or a number that is one of its values. */
static int in_enum(pbjson_in *in, const json_t *v, const ProtobufCEnumDescriptor *ed, int *out)
{
    const ProtobufCEnumValue *ev = NULL;
    char shown[80], names[256];
    size_t o = 0;
    int64_t n = 0;
    int rc;

    if (json_is_string(v)) {
        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        text_quote(shown, sizeof shown, json_string_value(v), json_string_length(v));
    } else if (json_is_number(v)) {
        if ((rc = in_signed(in, v, ed->name, INT32_MIN, INT32_MAX, &n)) != VS_OK)
            return rc;
        ev = protobuf_c_enum_descriptor_get_value(ed, (int)n);
        snprintf(shown, sizeof shown, "%" PRId64, n);
    } else {
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected a %s name (a string) or number",
                       ed->name);
    }
    if (ev != NULL) {
        *out = ev->value;
        return VS_OK;
    }
    names[0] = '\0';
    for (unsigned i = 0; i < ed->n_values && o + 1 < sizeof names; i++) {
        int w = snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", ed->values[i].name);
        o = w < 0 ? o : o + (size_t)w;
    }
    return IN_FAIL(in, VS_INVALID_ARGUMENT, "%s is not a value of %s (%s)", shown, ed->name, names);
}

/* bytes: base64, standard or URL-safe alphabet, with or without padding. */
static int in_bytes(pbjson_in *in, const json_t *v, ProtobufCBinaryData *out)
{
    const char *s;
    size_t len, cap, got = 0;
    int variant;
    uint8_t *data;

    if (!json_is_string(v))
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected base64 text (bytes)");
    s = json_string_value(v);
    len = json_string_length(v);
    variant =
        strpbrk(s, "-_") != NULL ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_ORIGINAL;
    if (strchr(s, '=') == NULL)
        variant |= 2; /* the _NO_PADDING variants are the padded ones | 2 */
    cap = len / 4 * 3 + 3;
    if ((data = malloc(cap)) == NULL)
        return IN_FAIL(in, VS_RESOURCE_EXHAUSTED, "out of memory");
    if (sodium_base642bin(data, cap, s, len, NULL, &got, NULL, variant) != 0) {
        free(data);
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "not base64 (bytes)");
    }
    out->data = data;
    out->len = got;
    return VS_OK;
}

/* One value of field's type from v into member (a message's field or an array's element). */
static int in_value(pbjson_in *in, const ProtobufCFieldDescriptor *field, const json_t *v,
                    void *member)
{
    int64_t s64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    int rc = VS_OK, e = 0;
    const char *kind = pbjson_type_name(field->type);

    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rc = in_signed(in, v, kind, INT32_MIN, INT32_MAX, &s64)) == VS_OK)
            *(int32_t *)member = (int32_t)s64;
        return rc;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = in_signed(in, v, kind, INT64_MIN, INT64_MAX, &s64)) == VS_OK)
            *(int64_t *)member = s64;
        return rc;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rc = in_unsigned(in, v, kind, UINT32_MAX, &u64)) == VS_OK)
            *(uint32_t *)member = (uint32_t)u64;
        return rc;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = in_unsigned(in, v, kind, UINT64_MAX, &u64)) == VS_OK)
            *(uint64_t *)member = u64;
        return rc;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rc = in_floating(in, v, 1, &d)) == VS_OK)
            *(float *)member = (float)d;
        return rc;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rc = in_floating(in, v, 0, &d)) == VS_OK)
            *(double *)member = d;
        return rc;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected true or false");
        *(protobuf_c_boolean *)member = json_is_true(v);
        return VS_OK;
    case PROTOBUF_C_TYPE_ENUM:
        if ((rc = in_enum(in, v, field->descriptor, &e)) == VS_OK)
            *(int *)member = e;
        return rc;
    case PROTOBUF_C_TYPE_STRING: {
        char *copy;

        if (!json_is_string(v))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected a string");
        if (strlen(json_string_value(v)) != json_string_length(v))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "contains a NUL character");
        if (!text_utf8_valid(json_string_value(v), json_string_length(v)))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "not valid UTF-8");
        if ((copy = strdup(json_string_value(v))) == NULL)
            return IN_FAIL(in, VS_RESOURCE_EXHAUSTED, "out of memory");
        *(char **)member = copy;
        return VS_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return in_bytes(in, v, member);
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_is_object(v))
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected an object (%s)",
                           ((const ProtobufCMessageDescriptor *)field->descriptor)->name);
        return in_message(in, field->descriptor, v, member);
    }
    return IN_FAIL(in, VS_INVALID_ARGUMENT, "field type %d is not supported", (int)field->type);
}

/* A repeated field: an array of values (null: none). */
static int in_repeated(pbjson_in *in, const ProtobufCFieldDescriptor *field, const json_t *v,
                       ProtobufCMessage *msg)
{
    size_t *count = (size_t *)((char *)msg + field->quantifier_offset);
    void **array = (void **)((char *)msg + field->offset);
    size_t n, size = pbjson_value_size(field->type);
    int rc;

    if (json_is_null(v))
        return VS_OK;
    if (!json_is_array(v))
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "expected an array of %s",
                       field->type == PROTOBUF_C_TYPE_MESSAGE
                           ? ((const ProtobufCMessageDescriptor *)field->descriptor)->name
                       : field->type == PROTOBUF_C_TYPE_ENUM
                           ? ((const ProtobufCEnumDescriptor *)field->descriptor)->name
                           : pbjson_type_name(field->type));
    if ((n = json_array_size(v)) == 0)
        return VS_OK;
    if ((*array = calloc(n, size)) == NULL)
        return IN_FAIL(in, VS_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t back = pbjson_path_index(&in->path, i);

        rc = in_value(in, field, json_array_get(v, i), (char *)*array + i * size);
        /* a failed element may hold what it allocated: count it, free_unpacked frees it */
        *count = i + 1;
        if (rc != VS_OK)
            return rc;
        pbjson_path_pop(&in->path, back);
    }
    return VS_OK;
}

/* The field of desc that key names: its .proto name or its lowerCamelCase JSON name. */
static const ProtobufCFieldDescriptor *in_field(const ProtobufCMessageDescriptor *desc,
                                                const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
    char json_name[128];

    for (unsigned i = 0; f == NULL && i < desc->n_fields; i++) {
        pbjson_json_name(desc->fields[i].name, json_name, sizeof json_name);
        if (strcmp(json_name, key) == 0)
            f = &desc->fields[i];
    }
    return f;
}

/* A key as it appears in a path: itself when it is a plain name, else quoted safely. */
static const char *in_key_shown(const char *key, char *buf, size_t len)
{
    size_t n = strlen(key);

    if (n > 0 && n <= 64 &&
        strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n)
        return key;
    return text_quote(buf, len, key, n);
}

/* One member of object into field of msg. seen[] marks the fields already given. */
static int in_member(pbjson_in *in, const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg,
                     const char *key, const json_t *v, unsigned char *seen)
{
    const ProtobufCFieldDescriptor *field = in_field(desc, key);
    char shown[80];
    void *member;
    uint32_t *oneof_case;

    if (field == NULL) {
        pbjson_path_field(&in->path, in_key_shown(key, shown, sizeof shown));
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "no such field in %s", desc->name);
    }
    pbjson_path_field(&in->path, field->name);
    if (seen[field - desc->fields])
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "given twice (as %s and its JSON name)",
                       field->name);
    seen[field - desc->fields] = 1;
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return in_repeated(in, field, v, msg);
    if (json_is_null(v))
        return VS_OK; /* the default: left as message_init made it */
    member = (char *)msg + field->offset;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        oneof_case = (uint32_t *)((char *)msg + field->quantifier_offset);
        if (*oneof_case != 0) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(desc, *oneof_case);
            return IN_FAIL(in, VS_INVALID_ARGUMENT, "%s of the same oneof is already given",
                           other ? other->name : "another member");
        }
        *oneof_case = field->id; /* before the value: free_unpacked frees the member by it */
    } else if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING &&
               field->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *)((char *)msg + field->quantifier_offset) = 1;
    }
    return in_value(in, field, v, member);
}

/* A new message of type desc from object into *out (set before it is filled, so the caller's
 * free covers whatever was built when a member fails). */
static int in_message(pbjson_in *in, const ProtobufCMessageDescriptor *desc, const json_t *object,
                      ProtobufCMessage **out)
{
    ProtobufCMessage *msg;
    unsigned char *seen;
    const char *key;
    json_t *v;
    int rc = VS_OK;

    if (in->path.depth >= PBJSON_MAX_DEPTH)
        return IN_FAIL(in, VS_INVALID_ARGUMENT, "messages nested more than %d deep",
                       PBJSON_MAX_DEPTH);
    if ((msg = malloc(desc->sizeof_message)) == NULL)
        return IN_FAIL(in, VS_RESOURCE_EXHAUSTED, "out of memory");
    desc->message_init(msg);
    *out = msg;
    if ((seen = calloc(desc->n_fields + 1, 1)) == NULL)
        return IN_FAIL(in, VS_RESOURCE_EXHAUSTED, "out of memory");
    in->path.depth++;
    json_object_foreach((json_t *)object, key, v)
    {
        size_t back = in->path.len;

        if ((rc = in_member(in, desc, msg, key, v, seen)) != VS_OK)
            break;
        pbjson_path_pop(&in->path, back);
    }
    in->path.depth--;
    free(seen);
    return rc;
}

int pbjson_to_message(const ProtobufCMessageDescriptor *desc, const json_t *value,
                      ProtobufCMessage **out, char *err, size_t errlen)
{
    pbjson_in in = {.path = {.root = "request"}, .err = err, .errlen = errlen};
    ProtobufCMessage *msg = NULL;
    int rc;

    *out = NULL;
    if (!json_is_object(value))
        return IN_FAIL(&in, VS_INVALID_ARGUMENT, "expected a JSON object (%s)", desc->name);
    if ((rc = in_message(&in, desc, value, &msg)) != VS_OK) {
        if (msg != NULL)
            protobuf_c_message_free_unpacked(msg, NULL);
        return rc;
    }
    *out = msg;
    return VS_OK;
}

int pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                 ProtobufCMessage **out, char *err, size_t errlen)
{
    pbjson_path top = {.root = "request"};
    json_error_t e;
    json_t *value;
    int rc;

    *out = NULL;
    if (len > PBJSON_MAX_INPUT)
        return pbjson_fail(&top, VS_RESOURCE_EXHAUSTED, err, errlen,
                           "%zu bytes of JSON, over the %d-byte limit", len, PBJSON_MAX_INPUT);
    value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (value == NULL) {
        int overflow = json_error_code(&e) == json_error_numeric_overflow;

        text_sanitize(e.text, sizeof e.text); /* jansson quotes the input near the error */
        return pbjson_fail(&top, VS_INVALID_ARGUMENT, err, errlen,
                           "not JSON: %s (line %d, column %d)%s", e.text, e.line, e.column,
                           overflow ? "; give integers beyond 64-bit signed as strings" : "");
    }
    rc = pbjson_to_message(desc, value, out, err, errlen);
    json_decref(value);
    return rc;
}
