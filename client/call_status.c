/* call_status.c — a call's outcome as libvsclient reports it: a status code and a message. The
 * one helper every part of the transport (client.c, call_async.c, dial.c) fails through. */
#include "client_internal.h"

#include <stdarg.h>
#include <stdio.h>

int client_fail(vs_call_status *status, int code, const char *fmt, ...)
{
    va_list ap;

    if (status != NULL) {
        status->code = code;
        va_start(ap, fmt);
        vsnprintf(status->message, sizeof status->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
