/* vs/status.h — the one error vocabulary of vs: gRPC canonical status codes.
 *
 * Every layer (DB, Redis, RPC, CLI) returns a vs_status; 0 is success. The same numbers travel in
 * ResponseEnvelope.code, so a code never needs translating between layers.
 *
 * It lives with the rules (core/, names in core/status.c) because every program uses it;
 * libvsclient compiles the names in and installs this header as its public <vs/status.h>. */
#ifndef VS_PUBLIC_STATUS_H
#define VS_PUBLIC_STATUS_H

typedef enum vs_status {
    VS_OK = 0,
    VS_CANCELLED = 1,
    VS_UNKNOWN = 2,
    VS_INVALID_ARGUMENT = 3,
    VS_DEADLINE_EXCEEDED = 4,
    VS_NOT_FOUND = 5,
    VS_ALREADY_EXISTS = 6,
    VS_PERMISSION_DENIED = 7,
    VS_RESOURCE_EXHAUSTED = 8,
    VS_FAILED_PRECONDITION = 9,
    VS_ABORTED = 10,
    VS_OUT_OF_RANGE = 11,
    VS_UNIMPLEMENTED = 12,
    VS_INTERNAL = 13,
    VS_UNAVAILABLE = 14,
    VS_DATA_LOSS = 15,
    VS_UNAUTHENTICATED = 16,
} vs_status;

#define VS_STATUS_MAX VS_UNAUTHENTICATED

/* "INVALID_ARGUMENT" etc.; "UNKNOWN_STATUS" for values outside the table. Static storage. */
const char *vs_status_name(int code);

/* Parses a status name (as printed by vs_status_name) back to its code; -1 if unknown. */
int vs_status_from_name(const char *name);

#endif
