/* fuzz.h — what the libFuzzer targets of fuzz/ share: a failed invariant aborts with its text
 * (libFuzzer then saves the input as a crash file), the services vsd and the coordinator serve,
 * sample requests for the seed corpus, and checks over decoded protobuf messages. */
#ifndef VS_FUZZ_H
#define VS_FUZZ_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* The fixed "now" of every target: 2027-01-01T00:00:00Z. */
#define FUZZ_NOW_S INT64_C(1798761600)
#define FUZZ_NOW_MS (FUZZ_NOW_S * 1000)

/* The HMAC key of the token target and of the tokens in its seeds (TOKEN_KEY_MIN bytes). */
#define FUZZ_TOKEN_KEY "fuzz-key-0123456789abcdef-0123456789"

/* An invariant: when cond is false, prints the location and the message and aborts. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* vs.v1.UserService, vs.v1.StreamingService (vsd) and vs.v1.BatchService (the coordinator),
 * descriptors only: nothing here ever invokes a handler. */
#define FUZZ_N_SERVICES 3
ProtobufCService *const *fuzz_services(void);

/* Every method of those services, in order: service index and method index. */
typedef struct fuzz_method {
    int service;
    unsigned method;
    const ProtobufCMethodDescriptor *desc;
    char path[96]; /* "/vs.v1.StreamingService/Play" */
} fuzz_method;
size_t fuzz_methods(const fuzz_method **out);

/* 1 when every string field of m, in nested messages too, is valid UTF-8 (text_utf8_valid). */
int fuzz_strings_utf8(const ProtobufCMessage *m);

/* Packs m, unpacks the bytes with its descriptor and packs that again: 1 when both packings are
 * the same bytes (an accepted message re-encodes and decodes to itself). Also 1, unchecked, for
 * a message holding an unknown field numbered 0 (protobuf-c's quirk: fuzz_common.c). */
int fuzz_repacks(const ProtobufCMessage *m);

/* Packs m into a malloc'd buffer; *len its size. Aborts when out of memory. */
uint8_t *fuzz_pack(const ProtobufCMessage *m, size_t *len);

#endif
