/* fuzz_envelope.c — a raw request message through the checks the RPC server applies before any
 * handler runs (rpc_request_decode, common/rpc_dispatch.c), against vsd's two services and the
 * coordinator's. The input is the message as it arrives on the socket.
 *
 * Invariants: an accepted request routes to a method whose path is exactly the envelope's, with a
 * method index below the service's count, a decoded payload of that method's input type whose
 * strings are all UTF-8, and a deadline of 0 or within [now, now + RPC_DEADLINE_MAX_AHEAD_MS];
 * its envelope and payload re-encode and decode to themselves. A refused one has one of the
 * statuses the server documents and a message; the envelope's own strings are UTF-8 whenever the
 * envelope check passed. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "rpc_dispatch.h"
#include "text.h"

static void fuzz_accepted(const rpc_request *req, const rpc_call *call)
{
    ProtobufCService *const *services = fuzz_services();
    const ProtobufCServiceDescriptor *d;
    const ProtobufCMethodDescriptor *m;
    char path[160];

    FUZZ_CHECK(req->service >= 0 && req->service < FUZZ_N_SERVICES, "service index %d",
               req->service);
    d = services[req->service]->descriptor;
    FUZZ_CHECK(req->method < d->n_methods, "method index %u of %u", req->method, d->n_methods);
    m = &d->methods[req->method];
    snprintf(path, sizeof path, "/%s/%s", d->name, m->name);
    FUZZ_CHECK(strcmp(path, req->env->method) == 0, "routed %s as %s", req->env->method, path);
    FUZZ_CHECK(call->method == req->env->method, "call->method is not the envelope's");
    FUZZ_CHECK(req->input != NULL && req->input->descriptor == m->input, "payload type of %s",
               path);
    FUZZ_CHECK(fuzz_strings_utf8(&req->env->base), "envelope strings not UTF-8");
    FUZZ_CHECK(fuzz_strings_utf8(req->input), "%s: payload strings not UTF-8", path);
    FUZZ_CHECK(call->deadline_unix_ms == 0 ||
                   (call->deadline_unix_ms >= FUZZ_NOW_MS &&
                    call->deadline_unix_ms <= FUZZ_NOW_MS + RPC_DEADLINE_MAX_AHEAD_MS),
               "deadline %lld", (long long)call->deadline_unix_ms);
    FUZZ_CHECK(fuzz_repacks(&req->env->base), "envelope does not re-encode to itself");
    FUZZ_CHECK(fuzz_repacks(req->input), "%s payload does not re-encode to itself", path);
    FUZZ_CHECK(call->status == VS_OK, "accepted with status %d", (int)call->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_request req = {0};
    rpc_call call;
    vs_status rc;

    memset(&call, 0, sizeof call);
    rc = rpc_request_decode(fuzz_services(), FUZZ_N_SERVICES, data, size, FUZZ_NOW_MS, &req, &call);
    if (rc == VS_OK) {
        fuzz_accepted(&req, &call);
    } else {
        FUZZ_CHECK(rc == call.status, "returned %d, call says %d", (int)rc, (int)call.status);
        FUZZ_CHECK(rc == VS_INVALID_ARGUMENT || rc == VS_UNAUTHENTICATED ||
                       rc == VS_UNIMPLEMENTED || rc == VS_DEADLINE_EXCEEDED,
                   "undocumented status %d", (int)rc);
        FUZZ_CHECK(call.message[0] != '\0', "status %d without a message", (int)rc);
        FUZZ_CHECK(memchr(call.message, '\0', sizeof call.message) != NULL,
                   "message not terminated");
        /* messages quote what they echo: UTF-8 by construction */
        FUZZ_CHECK(text_utf8_valid(call.message, strlen(call.message)), "message not UTF-8");
        FUZZ_CHECK(rc != VS_UNAUTHENTICATED || strncmp(call.message, "authorization:", 14) == 0,
                   "UNAUTHENTICATED for %s", call.message);
        if (req.env != NULL && rc != VS_INVALID_ARGUMENT && rc != VS_UNAUTHENTICATED)
            FUZZ_CHECK(fuzz_strings_utf8(&req.env->base), "envelope strings passed unchecked");
    }
    rpc_request_clear(&req);
    FUZZ_CHECK(req.env == NULL && req.input == NULL, "request not cleared");
    return 0;
}
