/* client_internal.h — what the parts of libvsclient's transport share: client.c (the handle, the
 * pool of nng contexts, encoding and decoding, the waiting call), call_async.c (the asynchronous
 * call) and dial.c (the server URLs, TLS and the socket's dialers). Nothing here is exported from
 * the shared library. */
#ifndef VS_CLIENT_INTERNAL_H
#define VS_CLIENT_INTERNAL_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <vs/client.h>

#define CLIENT_INTERNAL __attribute__((visibility("hidden")))

#define VS_CLIENT_MAX_SERVICES 4

typedef struct vs_client_service_impl {
    ProtobufCService base;
    vs_client *client;
} vs_client_service_impl;

/* How a slot's aio completes: waited on by the calling thread, or through client_async_cb. */
typedef enum client_mode { CLIENT_WAIT = 0, CLIENT_CALLBACK = 1 } client_mode;

/* A reusable nng context + aio pair: opening and closing both per call costs allocations and
 * lock traffic on every call, so finished calls return their pair to the client's pool. */
typedef struct client_slot {
    nng_ctx ctx;
    int ctx_open; /* 0 after a failed exchange: closed, reopened when the slot is next used */
    nng_aio *aio;
    client_mode mode;
    struct client_slot *next;
    /* the asynchronous call in flight (CLIENT_CALLBACK slots only) */
    vs_client *client;
    const ProtobufCMethodDescriptor *method;
    vs_call_done_fn done;
    void *done_arg;
    int receiving; /* the request went out; the aio now waits for the reply */
} client_slot;

struct vs_client {
    nng_socket sock;
    pthread_mutex_t pool_lock;
    client_slot *pool[2]; /* idle slots by client_mode; grow to the peak of concurrent calls */
    vs_client_options opts;
    pthread_mutex_t token_lock;
    char *token;
    atomic_uint_fast64_t next_request_id;
    atomic_int closing;
    atomic_int in_flight; /* asynchronous calls started whose done has not returned */
    pthread_mutex_t drain_lock;
    pthread_cond_t drained; /* in_flight reached 0 while closing */
    vs_client_service_impl services[VS_CLIENT_MAX_SERVICES];
};

/* Sets status (when not NULL) to code and a printf-style message; returns code. */
CLIENT_INTERNAL int client_fail(vs_call_status *status, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks a call's method and input and encodes its request (with a fresh request id) into *msg.
 * Shared by the waiting and the asynchronous call. */
CLIENT_INTERNAL int client_prepare(vs_client *c, const ProtobufCServiceDescriptor *service,
                                   unsigned method_index, const ProtobufCMessage *input,
                                   const ProtobufCMethodDescriptor **method_out, nng_msg **msg,
                                   vs_call_status *status);

/* The index of the method called name, for the _named calls. */
CLIENT_INTERNAL int client_method_index(const ProtobufCServiceDescriptor *service, const char *name,
                                        unsigned *index, vs_call_status *status);

/* Takes an idle context + aio pair of this mode from the pool, or opens a new one. */
CLIENT_INTERNAL int client_slot_get(vs_client *c, client_mode mode, client_slot **out,
                                    vs_call_status *status);

/* Returns a slot after an exchange; reusable 0 (the exchange failed) closes its context. */
CLIENT_INTERNAL void client_slot_put(vs_client *c, client_slot *slot, int reusable);

/* The status of a send (receiving 0) or receive that nng failed with rv. */
CLIENT_INTERNAL int client_transport_fail(vs_client *c, int rv, int receiving,
                                          vs_call_status *status);

/* Decodes a reply envelope and its payload (a method->output) into *output, which the caller
 * then owns; frees reply. */
CLIENT_INTERNAL int client_decode(const ProtobufCMethodDescriptor *method, nng_msg *reply,
                                  ProtobufCMessage **output, vs_call_status *status);

/* The aio callback of a CLIENT_CALLBACK slot (call_async.c). */
CLIENT_INTERNAL void client_async_cb(void *arg);

/* Dials every URL of urls (one, or several separated by commas) on sock: one dialer each, so
 * the REQ socket spreads calls over the servers that are up. A server that is not reachable yet
 * is dialled again in the background; anything else — a malformed URL, a TLS setting or file,
 * a server certificate that does not verify, a server that closes the connection during the
 * handshake — fails with the URL named. tls+tcp:// URLs use opts' TLS files, or VS_TLS_CA,
 * VS_TLS_CERT and VS_TLS_KEY. On failure the caller closes sock. */
CLIENT_INTERNAL int client_dial_all(nng_socket sock, const char *urls,
                                    const vs_client_options *opts, vs_call_status *status);

#endif
