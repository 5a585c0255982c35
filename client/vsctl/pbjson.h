/* pbjson.h — JSON <-> protobuf for any message compiled into the program, driven by protobuf-c's
 * descriptors alone (ProtobufCMessageDescriptor / ProtobufCFieldDescriptor): nothing is written
 * per message or per method. vsctl call and describe use it.
 *
 * The mapping is proto3's JSON mapping where it applies:
 *  - field names as in the .proto ("display_name"); on input the lowerCamelCase JSON name
 *    ("displayName") is accepted too, but not both for one field;
 *  - int32/uint32 kinds as JSON numbers; 64-bit kinds printed as strings ("123"), accepted as
 *    strings or numbers (a number must be integral: 3.0 is 3, 3.5 is refused);
 *  - enums by value name ("WEEK"), a known number (2) accepted too; a number that is no value of
 *    the enum is printed as the number;
 *  - bool as true/false; float/double as numbers, "NaN", "Infinity", "-Infinity";
 *  - string as a string of valid UTF-8 without NUL; bytes as base64 (printed standard with
 *    padding; standard or URL-safe, padded or not, accepted);
 *  - repeated as arrays, messages as objects; null for a field means its default (absent);
 *  - a oneof takes one member; map fields (none in vs.v1) are arrays of {key, value} objects.
 *
 * Printed: every field in field-number order, scalars with their default values too; a message,
 * oneof member or proto2 optional field that is not set is left out.
 *
 * Bad input is refused whole with the field's path and what is wrong ("page.limit: expected an
 * integer", "videos[2].title: contains a NUL character"); nothing partial is returned. Input is
 * bounded: PBJSON_MAX_INPUT bytes of text, PBJSON_MAX_DEPTH nested messages. Functions return a
 * vs_status: VS_OK, VS_INVALID_ARGUMENT (bad input), VS_RESOURCE_EXHAUSTED (over a bound, out of
 * memory), VS_INTERNAL (a message that cannot be printed: a string that is not UTF-8). */
#ifndef VS_PBJSON_H
#define VS_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define PBJSON_MAX_INPUT (1024 * 1024)
#define PBJSON_MAX_DEPTH 32

/* Parses text[0..len) (one JSON object) into a new message of type desc; *out is the caller's
 * (protobuf_c_message_free_unpacked(*out, NULL)). On failure *out is NULL and err says why. */
int pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                 ProtobufCMessage **out, char *err, size_t errlen);

/* The same from a parsed JSON value (which must be an object). */
int pbjson_to_message(const ProtobufCMessageDescriptor *desc, const json_t *value,
                      ProtobufCMessage **out, char *err, size_t errlen);

/* msg as a new JSON object (*out, the caller's reference); on failure *out is NULL. */
int pbjson_from_message(const ProtobufCMessage *msg, json_t **out, char *err, size_t errlen);

/* The .proto name of a field type: "int32", "sfixed64", "string", "enum", "message", ... */
const char *pbjson_type_name(ProtobufCType type);

/* The lowerCamelCase JSON name of a .proto field name ("ad_positions_s" -> "adPositionsS"). */
void pbjson_json_name(const char *name, char *out, size_t outlen);

/* Shared by the two directions (pbjson_in.c, pbjson_out.c). */

/* Where in the message a conversion is: "videos[2].title", and how many messages deep. */
typedef struct pbjson_path {
    const char *root; /* what an error names at the top: "request", "reply" */
    char text[256];
    size_t len;
    int depth;
} pbjson_path;

/* Appends ".name" (or "name" at the top) / "[index]"; returns the length to pop back to. A path
 * that does not fit is cut, never overrun. */
size_t pbjson_path_field(pbjson_path *path, const char *name);
size_t pbjson_path_index(pbjson_path *path, size_t index);
void pbjson_path_pop(pbjson_path *path, size_t len);

/* Writes "<path>: <message>" (the root's name at the top) to err and returns code. */
int pbjson_fail(const pbjson_path *path, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Bytes one value of the type takes in a message or a repeated field's array. */
size_t pbjson_value_size(ProtobufCType type);

#endif
