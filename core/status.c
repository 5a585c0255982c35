/* status.c — names of the gRPC canonical codes (vs/status.h); also compiled into libvsclient. */
#include <vs/status.h>

#include <string.h>

static const char *const status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *vs_status_name(int code)
{
    if (code < 0 || code > VS_STATUS_MAX)
        return "UNKNOWN_STATUS";
    return status_names[code];
}

int vs_status_from_name(const char *name)
{
    for (int i = 0; i <= VS_STATUS_MAX; i++)
        if (strcmp(status_names[i], name) == 0)
            return i;
    return -1;
}
