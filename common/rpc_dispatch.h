/* rpc_dispatch.h — what the RPC server checks in a raw request message before any handler runs
 * (rpc_server.h): the envelope decodes, its strings hold no NUL and are UTF-8, its method path
 * names a method of one of the services (the method index bounds-checked), the deadline is sane,
 * and the payload decodes as that method's input with strings that are UTF-8 too. No sockets and
 * no clock (the time is a parameter), so it is fuzzed directly (fuzz/fuzz_envelope.c). */
#ifndef VS_RPC_DISPATCH_H
#define VS_RPC_DISPATCH_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <vs/v1/envelope.pb-c.h>

#include "rpc_server.h"

/* The furthest ahead a call's deadline is taken to be: a day is no limit for any call, and
 * handlers may add to it or subtract from it freely. */
#define RPC_DEADLINE_MAX_AHEAD_MS (24LL * 3600 * 1000)

/* A request decoded by rpc_request_decode; everything in it is freed by rpc_request_clear. */
typedef struct rpc_request {
    Vs__V1__RequestEnvelope *env; /* NULL when the bytes are not an envelope */
    int service;                  /* index into the services given, when routed */
    unsigned method;              /* index into that service's methods, < its n_methods */
    ProtobufCMessage *input;      /* the payload as the method's input, when it decoded */
} rpc_request;

/* Decodes buf[0..len) into req (which must be all zero, or cleared) and checks it against
 * services[0..n_services) at now_ms (the real clock, ms since the Unix epoch). Fills call's
 * method, authorization, request_id and deadline_unix_ms from the envelope (method and
 * authorization point into req->env). VS_OK when a handler may run; otherwise the call is
 * marked failed (rpc_fail: the status and a message naming what is wrong) and that status is
 * returned: INVALID_ARGUMENT (not an envelope, a bad string, a negative deadline, a payload that
 * is not the method's input), UNAUTHENTICATED (a bad string in authorization), UNIMPLEMENTED
 * (no such method) or DEADLINE_EXCEEDED. */
vs_status rpc_request_decode(ProtobufCService *const *services, int n_services, const uint8_t *buf,
                             size_t len, int64_t now_ms, rpc_request *req, rpc_call *call);

/* Frees what rpc_request_decode made and zeroes req. */
void rpc_request_clear(rpc_request *req);

#endif
