/* pb_check.h — what protobuf-c's unpack does not tell: a string field holding a NUL byte, or
 * bytes that are not UTF-8.
 *
 * protobuf-c hands a string field to C as a NUL-terminated copy, so a title sent as "abc\0def"
 * would reach the service as "abc" and be stored shortened without a word. It also accepts any
 * bytes in a `string` field, although proto3 requires valid UTF-8 there (and strict clients
 * refuse to decode anything else, so such text must never be stored and later echoed). The
 * server therefore walks the received bytes of each request once more (after a successful
 * unpack) and refuses the call with INVALID_ARGUMENT, naming the field, when any string field,
 * in nested messages too, contains a NUL or is not strictly valid UTF-8 (text_utf8_valid). */
#ifndef VS_PB_CHECK_H
#define VS_PB_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pb_string_fault {
    PB_STRINGS_OK = 0,
    PB_STRING_HAS_NUL,  /* "title: contains a NUL character" */
    PB_STRING_NOT_UTF8, /* "event_id: not valid UTF-8" */
} pb_string_fault;

/* The first string field of the message desc encoded in buf[0..len) that holds a NUL byte or is
 * not valid UTF-8: what is wrong with it is returned and its dotted path ("title",
 * "components.name") written to path. PB_STRINGS_OK otherwise, including for bytes that do not
 * parse (unpack has refused those already). */
pb_string_fault pb_find_bad_string(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                                   size_t len, char *path, size_t pathlen);

/* "contains a NUL character" / "not valid UTF-8": the message after "<field>: ". */
const char *pb_string_fault_text(pb_string_fault fault);

#endif
