/* pb_check.c — a walk over protobuf wire bytes that finds string fields holding a NUL byte or
 * bytes that are not UTF-8. */
#include "pb_check.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

/* Nesting deeper than this is not walked (protobuf-c itself refuses far less deep messages). */
#define PB_CHECK_MAX_DEPTH 32

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

/* Reads one varint at *p, advancing it; 0 when the bytes end first or it is over 10 bytes. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static pb_string_fault walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                            const uint8_t *end, char *path, size_t pathlen, size_t used, int depth)
{
    while (p < end) {
        uint64_t tag, n;
        const ProtobufCFieldDescriptor *field;

        if (!read_varint(&p, end, &tag))
            return PB_STRINGS_OK;
        switch (tag & 7) {
        case WIRE_VARINT:
            if (!read_varint(&p, end, &n))
                return PB_STRINGS_OK;
            continue;
        case WIRE_FIXED64:
            if (end - p < 8)
                return PB_STRINGS_OK;
            p += 8;
            continue;
        case WIRE_FIXED32:
            if (end - p < 4)
                return PB_STRINGS_OK;
            p += 4;
            continue;
        case WIRE_LEN:
            break;
        default: /* groups: protobuf-c does not unpack them */
            return PB_STRINGS_OK;
        }
        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
            return PB_STRINGS_OK;
        field = tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                    : NULL;
        if (field != NULL &&
            (field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_MESSAGE)) {
            int w = snprintf(path + used, pathlen - used, "%s%s", used ? "." : "", field->name);
            size_t next = w < 0 || (size_t)w >= pathlen - used ? pathlen - 1 : used + (size_t)w;

            pb_string_fault fault = PB_STRINGS_OK;

            if (field->type == PROTOBUF_C_TYPE_STRING && memchr(p, '\0', (size_t)n) != NULL)
                return PB_STRING_HAS_NUL;
            if (field->type == PROTOBUF_C_TYPE_STRING && !text_utf8_valid((const char *)p, n))
                return PB_STRING_NOT_UTF8;
            if (field->type == PROTOBUF_C_TYPE_MESSAGE && depth < PB_CHECK_MAX_DEPTH &&
                (fault = walk(field->descriptor, p, p + n, path, pathlen, next, depth + 1)))
                return fault;
            path[used] = '\0';
        }
        p += n;
    }
    return PB_STRINGS_OK;
}

const char *pb_string_fault_text(pb_string_fault fault)
{
    return fault == PB_STRING_HAS_NUL ? "contains a NUL character" : "not valid UTF-8";
}

pb_string_fault pb_find_bad_string(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                   size_t len, char *path, size_t pathlen)
{
    if (pathlen == 0)
        return PB_STRINGS_OK;
    path[0] = '\0';
    if (buf == NULL || len == 0)
        return PB_STRINGS_OK;
    return walk(desc, buf, buf + len, path, pathlen, 0, 0);
}
