/* pb_check.h — what protobuf-c's unpack does not tell: a string field holding a NUL byte.
 *
 * protobuf-c hands a string field to C as a NUL-terminated copy, so a title sent as "abc\0def"
 * would reach the service as "abc" and be stored shortened without a word. The server therefore
 * walks the received bytes of each request once more (after a successful unpack) and refuses
 * the call with INVALID_ARGUMENT, naming the field, when any string field, in nested messages
 * too, contains a NUL. */
#ifndef VS_PB_CHECK_H
#define VS_PB_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* 1 when a string field of the message desc encoded in buf[0..len) contains a NUL byte; its
 * dotted path ("title", "components.name") is written to path. 0 otherwise, including for bytes
 * that do not parse (unpack has refused those already). */
int pb_find_nul_string(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                       char *path, size_t pathlen);

#endif
