/* pbjson.c — what both directions of the JSON <-> protobuf conversion share: type names, JSON
 * field names, the path an error names, and the size of a value in a message. */
#include "pbjson.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *pbjson_type_name(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return "?";
}

void pbjson_json_name(const char *name, char *out, size_t outlen)
{
    size_t o = 0;
    int upper = 0;

    if (outlen == 0)
        return;
    /* protoc's rule: drop each '_' and capitalise the letter after it */
    for (const char *p = name; *p != '\0' && o + 1 < outlen; p++) {
        if (*p == '_') {
            upper = 1;
            continue;
        }
        out[o++] = upper ? (char)toupper((unsigned char)*p) : *p;
        upper = 0;
    }
    out[o] = '\0';
}

/* Appends text to the path; a path that no longer fits keeps what fitted. */
static void pbjson_path_append(pbjson_path *path, const char *text)
{
    size_t room = sizeof path->text - path->len;
    int n = snprintf(path->text + path->len, room, "%s", text);

    path->len = n < 0 ? path->len : (size_t)n >= room ? sizeof path->text - 1 : path->len + n;
}

size_t pbjson_path_field(pbjson_path *path, const char *name)
{
    size_t old = path->len;

    if (path->len > 0)
        pbjson_path_append(path, ".");
    pbjson_path_append(path, name);
    return old;
}

size_t pbjson_path_index(pbjson_path *path, size_t index)
{
    size_t old = path->len;
    char text[32];

    snprintf(text, sizeof text, "[%zu]", index);
    pbjson_path_append(path, text);
    return old;
}

void pbjson_path_pop(pbjson_path *path, size_t len)
{
    path->len = len;
    path->text[len] = '\0';
}

int pbjson_fail(const pbjson_path *path, int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL || errlen == 0)
        return code;
    n = snprintf(err, errlen, "%s: ", path->len > 0 ? path->text : path->root);
    if (n >= 0 && (size_t)n < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

size_t pbjson_value_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}
