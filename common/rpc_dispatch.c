/* rpc_dispatch.c — a raw request message checked and decoded for its handler: envelope, route,
 * deadline, payload. Also rpc_fail, the one way a call is marked failed (here so that this file
 * stands alone, without sockets). */
#include "rpc_dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pb_check.h"
#include "text.h"

void rpc_fail(rpc_call *call, vs_status code, const char *fmt, ...)
{
    va_list ap;

    call->status = code;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
}

/* The envelope's deadline_unix_ms checked against now_ms (the real clock) and stored in
 * call->deadline_unix_ms: 0 stays "none"; a negative one (no instant before 1970 is a deadline;
 * an unsigned 2^63 or more arrives as one) is INVALID_ARGUMENT; one that has passed is
 * DEADLINE_EXCEEDED; one further ahead than RPC_DEADLINE_MAX_AHEAD_MS is cut to that, so that
 * handlers can subtract instants from it without overflow. Both operands of every subtraction
 * here are non-negative, so none can overflow. */
static vs_status rpc_deadline(rpc_call *call, int64_t deadline_ms, int64_t now_ms)
{
    call->deadline_unix_ms = 0;
    if (deadline_ms == 0)
        return VS_OK;
    if (deadline_ms < 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "deadline_unix_ms: %lld is before the Unix epoch (0 means no deadline)",
                 (long long)deadline_ms);
        return call->status;
    }
    if (deadline_ms < now_ms) {
        rpc_fail(call, VS_DEADLINE_EXCEEDED, "deadline passed %lld ms before the call was served",
                 (long long)(now_ms - deadline_ms));
        return call->status;
    }
    call->deadline_unix_ms = deadline_ms - now_ms > RPC_DEADLINE_MAX_AHEAD_MS
                                 ? now_ms + RPC_DEADLINE_MAX_AHEAD_MS
                                 : deadline_ms;
    return VS_OK;
}

/* Finds the service and method named by "/package.Service/Method". */
static int rpc_route(ProtobufCService *const *services, int n_services, const char *path,
                     unsigned *method_index)
{
    const char *slash;
    size_t svc_len;

    if (path == NULL || path[0] != '/')
        return -1;
    slash = strchr(path + 1, '/');
    if (slash == NULL)
        return -1;
    svc_len = (size_t)(slash - path - 1);
    for (int i = 0; i < n_services; i++) {
        const ProtobufCServiceDescriptor *d = services[i]->descriptor;
        const ProtobufCMethodDescriptor *m;

        if (strlen(d->name) != svc_len || strncmp(d->name, path + 1, svc_len) != 0)
            continue;
        m = protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
        if (m == NULL)
            return -1;
        *method_index = (unsigned)(m - d->methods);
        /* the index drives a function-pointer table: never trust it unchecked */
        if (*method_index >= d->n_methods)
            return -1;
        return i;
    }
    return -1;
}

vs_status rpc_request_decode(ProtobufCService *const *services, int n_services, const uint8_t *buf,
                             size_t len, int64_t now_ms, rpc_request *req, rpc_call *call)
{
    const ProtobufCMethodDescriptor *method;
    char field[128], quoted[96];
    pb_string_fault fault;

    req->env = vs__v1__request_envelope__unpack(NULL, len, buf);
    if (req->env == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "request is not a vs.v1.RequestEnvelope");
        return call->status;
    }
    call->method = req->env->method;
    call->authorization = req->env->authorization;
    call->request_id = req->env->request_id;
    if ((fault = pb_find_bad_string(&vs__v1__request_envelope__descriptor, buf, len, field,
                                    sizeof field)) != PB_STRINGS_OK) {
        /* "/…/Health\0junk" would be routed as Health, "Bearer <token>\0junk" accepted */
        rpc_fail(call,
                 strcmp(field, "authorization") == 0 ? VS_UNAUTHENTICATED : VS_INVALID_ARGUMENT,
                 "%s: %s", field, pb_string_fault_text(fault));
        return call->status;
    }
    if ((req->service = rpc_route(services, n_services, req->env->method, &req->method)) < 0) {
        rpc_fail(call, VS_UNIMPLEMENTED, "unknown method %s",
                 text_quote(quoted, sizeof quoted, req->env->method, strlen(req->env->method)));
        return call->status;
    }
    if (rpc_deadline(call, req->env->deadline_unix_ms, now_ms) != VS_OK)
        return call->status;
    method = &services[req->service]->descriptor->methods[req->method];
    req->input = protobuf_c_message_unpack(method->input, NULL, req->env->payload.len,
                                           req->env->payload.data);
    if (req->input == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "payload is not a valid %s", method->input->name);
        return call->status;
    }
    if ((fault = pb_find_bad_string(method->input, req->env->payload.data, req->env->payload.len,
                                    field, sizeof field)) != PB_STRINGS_OK) {
        /* protobuf-c would hand the service the text before a NUL, and any bytes as text */
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s: %s", field, pb_string_fault_text(fault));
        return call->status;
    }
    return VS_OK;
}

void rpc_request_clear(rpc_request *req)
{
    if (req->input != NULL)
        protobuf_c_message_free_unpacked(req->input, NULL);
    if (req->env != NULL)
        vs__v1__request_envelope__free_unpacked(req->env, NULL);
    memset(req, 0, sizeof *req);
}
