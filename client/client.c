/* client.c — libvsclient transport: the envelope over one nng REQ socket, one context per call.
 * The asynchronous call is in call_async.c, the dialling of the server URLs in dial.c, the
 * filling of a call's status in call_status.c.
 *
 * Thread model: the socket is shared; each call runs on an nng context and aio of its own (taken
 * from a pool of idle ones), so calls proceed concurrently and every reply is matched to its
 * request by nng itself. A synchronous call waits on an aio without a callback, so nng wakes the
 * caller directly; an asynchronous call's aio has a callback that receives the reply and runs the
 * caller's done function on nng's thread, so no thread sleeps per outstanding call. The two kinds
 * of aio are kept in separate pools; encoding, error mapping and decoding are shared. */
#include "client_internal.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local vs_call_status vs_thread_status;

static int64_t client_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vs_client_open(const char *url, const vs_client_options *opts, vs_client **out,
                   vs_call_status *status)
{
    vs_client *c;
    int rv;

    *out = NULL;
    if (url == NULL || *url == '\0')
        return client_fail(status, VS_INVALID_ARGUMENT, "server URL is empty (set VS_URL)");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return client_fail(status, VS_RESOURCE_EXHAUSTED, "out of memory");
    c->opts.timeout_ms = 10000;
    c->opts.max_message = 1 << 20;
    c->opts.resend_ms = 60000;
    c->opts.max_request = VS_CLIENT_DEFAULT_MAX_REQUEST;
    if (opts != NULL) {
        c->opts.tls_ca_file = opts->tls_ca_file;
        c->opts.tls_cert_file = opts->tls_cert_file;
        c->opts.tls_key_file = opts->tls_key_file;
        if (opts->timeout_ms > 0)
            c->opts.timeout_ms = opts->timeout_ms;
        if (opts->max_message > 0)
            c->opts.max_message = opts->max_message;
        if (opts->resend_ms > 0)
            c->opts.resend_ms = opts->resend_ms;
        if (opts->max_request > 0)
            c->opts.max_request = opts->max_request;
    }
    pthread_mutex_init(&c->token_lock, NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    pthread_mutex_init(&c->drain_lock, NULL);
    pthread_cond_init(&c->drained, NULL);
    atomic_init(&c->next_request_id, 1);
    atomic_init(&c->closing, 0);
    atomic_init(&c->in_flight, 0);
    if ((rv = nng_req0_open(&c->sock)) != 0) {
        free(c);
        return client_fail(status, VS_INTERNAL, "nng_req0_open: %s", nng_strerror(rv));
    }
    /* limits before dial: a hostile server cannot make us allocate an oversized reply */
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, c->opts.max_message + 4096);
    nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, c->opts.resend_ms);
    nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
    if ((rv = client_dial_all(c->sock, url, &c->opts, status)) != VS_OK) {
        nng_close(c->sock);
        free(c);
        return rv;
    }
    *out = c;
    return client_fail(status, VS_OK, "ok");
}

static void client_slot_free(client_slot *slot)
{
    if (slot->ctx_open)
        nng_ctx_close(slot->ctx);
    nng_aio_free(slot->aio); /* waits for a callback still returning */
    free(slot);
}

void vs_client_close(vs_client *c)
{
    if (c == NULL)
        return;
    /* Refuse new asynchronous calls, then close the socket: that completes every pending
     * operation with NNG_ECLOSED, so each call in flight runs its done (VS_CANCELLED) and
     * returns its slot to the pool. Wait for the last done to return before freeing. */
    atomic_store(&c->closing, 1);
    nng_close(c->sock);
    pthread_mutex_lock(&c->drain_lock);
    while (atomic_load(&c->in_flight) > 0)
        pthread_cond_wait(&c->drained, &c->drain_lock);
    pthread_mutex_unlock(&c->drain_lock);
    for (int mode = CLIENT_WAIT; mode <= CLIENT_CALLBACK; mode++) {
        while (c->pool[mode] != NULL) {
            client_slot *slot = c->pool[mode];

            c->pool[mode] = slot->next;
            client_slot_free(slot);
        }
    }
    pthread_cond_destroy(&c->drained);
    pthread_mutex_destroy(&c->drain_lock);
    pthread_mutex_destroy(&c->pool_lock);
    pthread_mutex_destroy(&c->token_lock);
    free(c->token);
    free(c);
}

void vs_client_set_token(vs_client *c, const char *token)
{
    char *copy = token ? strdup(token) : NULL;

    pthread_mutex_lock(&c->token_lock);
    free(c->token);
    c->token = copy;
    pthread_mutex_unlock(&c->token_lock);
}

/* Builds the envelope for one call into a new nng message. */
static int client_encode(vs_client *c, const ProtobufCServiceDescriptor *service,
                         unsigned method_index, const ProtobufCMessage *input, uint64_t request_id,
                         nng_msg **msg_out, vs_call_status *status)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    char path[256];
    size_t payload_len = protobuf_c_message_get_packed_size(input);
    size_t env_len;
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    char *token = NULL;
    nng_msg *msg = NULL;
    int rc = VS_OK;

    if (payload == NULL)
        return client_fail(status, VS_RESOURCE_EXHAUSTED, "out of memory");
    protobuf_c_message_pack(input, payload);
    snprintf(path, sizeof path, "/%s/%s", service->name, service->methods[method_index].name);
    pthread_mutex_lock(&c->token_lock);
    token = c->token ? strdup(c->token) : NULL;
    pthread_mutex_unlock(&c->token_lock);
    env.method = path;
    env.request_id = request_id;
    env.deadline_unix_ms = client_now_ms() + c->opts.timeout_ms;
    env.authorization = token ? token : "";
    env.payload.data = payload;
    env.payload.len = payload_len;
    env_len = vs__v1__request_envelope__get_packed_size(&env);
    /* the server's limit counts the REQ socket's 4-byte request id as well */
    if (env_len + 4 > c->opts.max_request) {
        rc = client_fail(status, VS_RESOURCE_EXHAUSTED,
                         "request is %zu bytes (+4 for the request id), over the %zu-byte request "
                         "limit",
                         env_len, c->opts.max_request);
        goto out;
    }
    if (nng_msg_alloc(&msg, env_len) != 0) {
        rc = client_fail(status, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    vs__v1__request_envelope__pack(&env, nng_msg_body(msg));
    *msg_out = msg;
out:
    free(payload);
    free(token);
    return rc;
}

/* Checks a call's method and input and encodes its request (with a fresh request id) into *msg.
 * Shared by the waiting and the asynchronous call. */
int client_prepare(vs_client *c, const ProtobufCServiceDescriptor *service, unsigned method_index,
                   const ProtobufCMessage *input, const ProtobufCMethodDescriptor **method_out,
                   nng_msg **msg, vs_call_status *status)
{
    const ProtobufCMethodDescriptor *method;

    if (method_index >= service->n_methods)
        return client_fail(status, VS_UNIMPLEMENTED, "%s has no method #%u", service->name,
                           method_index);
    method = &service->methods[method_index];
    if (input == NULL || input->descriptor != method->input)
        return client_fail(status, VS_INVALID_ARGUMENT, "%s expects a %s", method->name,
                           method->input->name);
    *method_out = method;
    return client_encode(c, service, method_index, input, atomic_fetch_add(&c->next_request_id, 1),
                         msg, status);
}

/* The index of the method called name, for the _named calls. */
int client_method_index(const ProtobufCServiceDescriptor *service, const char *name,
                        unsigned *index, vs_call_status *status)
{
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(service, name);

    if (m == NULL)
        return client_fail(status, VS_UNIMPLEMENTED, "%s has no method %s", service->name, name);
    *index = (unsigned)(m - service->methods);
    return VS_OK;
}

/* Takes an idle context + aio pair of this mode from the pool, or opens a new one. */
int client_slot_get(vs_client *c, client_mode mode, client_slot **out, vs_call_status *status)
{
    client_slot *slot;
    int rv;

    pthread_mutex_lock(&c->pool_lock);
    slot = c->pool[mode];
    if (slot != NULL)
        c->pool[mode] = slot->next;
    pthread_mutex_unlock(&c->pool_lock);
    if (slot == NULL) {
        if ((slot = calloc(1, sizeof *slot)) == NULL)
            return client_fail(status, VS_RESOURCE_EXHAUSTED, "out of memory");
        slot->mode = mode;
        rv = nng_aio_alloc(&slot->aio, mode == CLIENT_CALLBACK ? client_async_cb : NULL, slot);
        if (rv != 0) {
            free(slot);
            return client_fail(status, VS_RESOURCE_EXHAUSTED, "nng_aio_alloc: %s",
                               nng_strerror(rv));
        }
    }
    if (!slot->ctx_open) {
        if ((rv = nng_ctx_open(&slot->ctx, c->sock)) != 0) {
            /* back to the pool, not freed: this may run in the callback of the slot's own aio,
             * and freeing an aio waits for its callback to return */
            client_slot_put(c, slot, 1);
            return client_fail(status, VS_UNAVAILABLE, "nng_ctx_open: %s", nng_strerror(rv));
        }
        slot->ctx_open = 1;
    }
    *out = slot;
    return VS_OK;
}

/* Returns a slot after an exchange. The context of one that failed (timeout, closed socket) is
 * closed and reopened on reuse, so no abandoned request state can leak into the next call. */
void client_slot_put(vs_client *c, client_slot *slot, int reusable)
{
    if (!reusable) {
        nng_ctx_close(slot->ctx);
        slot->ctx_open = 0;
    }
    pthread_mutex_lock(&c->pool_lock);
    slot->next = c->pool[slot->mode];
    c->pool[slot->mode] = slot;
    pthread_mutex_unlock(&c->pool_lock);
}

/* The status of a send (receiving 0) or receive that nng failed with rv. */
int client_transport_fail(vs_client *c, int rv, int receiving, vs_call_status *status)
{
    int code = rv == NNG_ETIMEDOUT ? VS_DEADLINE_EXCEEDED : VS_UNAVAILABLE;

    if (atomic_load(&c->closing))
        return client_fail(status, VS_CANCELLED, "the client was closed with the call in flight");
    if (!receiving)
        return client_fail(status, code, "send: %s", nng_strerror(rv));
    return client_fail(status, code, "no reply within %d ms: %s", c->opts.timeout_ms,
                       nng_strerror(rv));
}

/* Sends msg on a context of its own and waits for the reply until the call's deadline. */
static int client_exchange(vs_client *c, nng_msg *msg, nng_msg **reply, vs_call_status *status)
{
    client_slot *slot = NULL;
    nng_aio *aio;
    int rv, rc;

    if ((rc = client_slot_get(c, CLIENT_WAIT, &slot, status)) != VS_OK) {
        nng_msg_free(msg);
        return rc;
    }
    aio = slot->aio;
    nng_aio_set_timeout(aio, c->opts.timeout_ms);
    nng_aio_set_msg(aio, msg);
    nng_ctx_send(slot->ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        nng_msg_free(msg);
        rc = client_transport_fail(c, rv, 0, status);
        goto out;
    }
    nng_ctx_recv(slot->ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        rc = client_transport_fail(c, rv, 1, status);
        goto out;
    }
    *reply = nng_aio_get_msg(aio);
    nng_aio_set_msg(aio, NULL);
out:
    client_slot_put(c, slot, rc == VS_OK);
    return rc;
}

/* Decodes a reply envelope and its payload (a method->output) into *output, which the caller
 * then owns; frees reply. */
int client_decode(const ProtobufCMethodDescriptor *method, nng_msg *reply,
                  ProtobufCMessage **output, vs_call_status *status)
{
    Vs__V1__ResponseEnvelope *env =
        vs__v1__response_envelope__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
    int rc;

    *output = NULL;
    if (env == NULL) {
        rc = client_fail(status, VS_INTERNAL, "reply is not a vs.v1.ResponseEnvelope");
        goto out;
    }
    if (env->code != VS_OK) {
        rc = client_fail(status, env->code, "%s", env->message);
        goto out;
    }
    *output = protobuf_c_message_unpack(method->output, NULL, env->payload.len, env->payload.data);
    if (*output == NULL) {
        rc = client_fail(status, VS_INTERNAL, "reply payload is not a %s", method->output->name);
        goto out;
    }
    rc = client_fail(status, VS_OK, "ok");
out:
    if (env != NULL)
        vs__v1__response_envelope__free_unpacked(env, NULL);
    nng_msg_free(reply);
    return rc;
}

int vs_client_call(vs_client *c, const ProtobufCServiceDescriptor *service, unsigned method_index,
                   const ProtobufCMessage *input, ProtobufCMessage **output, vs_call_status *status)
{
    const ProtobufCMethodDescriptor *method = NULL;
    nng_msg *msg = NULL, *reply = NULL;
    int rc;

    *output = NULL;
    if ((rc = client_prepare(c, service, method_index, input, &method, &msg, status)) != VS_OK)
        return rc;
    if ((rc = client_exchange(c, msg, &reply, status)) != VS_OK)
        return rc;
    return client_decode(method, reply, output, status);
}

int vs_client_call_named(vs_client *c, const ProtobufCServiceDescriptor *service,
                         const char *method, const ProtobufCMessage *input,
                         ProtobufCMessage **output, vs_call_status *status)
{
    unsigned index = 0;
    int rc;

    *output = NULL;
    if ((rc = client_method_index(service, method, &index, status)) != VS_OK)
        return rc;
    return vs_client_call(c, service, index, input, output, status);
}

/* ProtobufCService.invoke for the generated stubs: synchronous; the closure sees the reply
 * (or NULL on failure, with vs_last_status() set) and the reply is freed afterwards. */
static void client_invoke(ProtobufCService *service, unsigned method_index,
                          const ProtobufCMessage *input, ProtobufCClosure closure,
                          void *closure_data)
{
    vs_client_service_impl *impl = (vs_client_service_impl *)service;
    ProtobufCMessage *output = NULL;

    vs_client_call(impl->client, service->descriptor, method_index, input, &output,
                   &vs_thread_status);
    closure(output, closure_data);
    if (output != NULL)
        protobuf_c_message_free_unpacked(output, NULL);
}

static void client_service_destroy(ProtobufCService *service)
{
    /* owned by the client handle */
}

ProtobufCService *vs_client_service(vs_client *c, const ProtobufCServiceDescriptor *desc)
{
    const ProtobufCServiceDescriptor *known;

    /* the services are listed once, in lib/methods.c */
    for (int i = 0; i < VS_CLIENT_MAX_SERVICES && (known = vs_client_service_at(i)) != NULL; i++) {
        if (known != desc || desc == NULL)
            continue;
        c->services[i].base.descriptor = desc;
        c->services[i].base.invoke = client_invoke;
        c->services[i].base.destroy = client_service_destroy;
        c->services[i].client = c;
        return &c->services[i].base;
    }
    return NULL;
}

const vs_call_status *vs_last_status(void)
{
    return &vs_thread_status;
}

void vs_event_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];

    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        /* getrandom on Linux does not fail for 16 bytes once the pool is ready; fall back anyway */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (uintptr_t)&ts ^ (i * 131));
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}
