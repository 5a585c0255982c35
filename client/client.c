/* client.c — libvsclient transport: the envelope over one nng REQ socket, one context per call.
 *
 * Thread model: the socket is shared; each call runs on an nng context and aio of its own (taken
 * from a pool of idle ones), so calls proceed concurrently and every reply is matched to its
 * request by nng itself. A synchronous call waits on an aio without a callback, so nng wakes the
 * caller directly; an asynchronous call's aio has a callback that receives the reply and runs the
 * caller's done function on nng's thread, so no thread sleeps per outstanding call. The two kinds
 * of aio are kept in separate pools; encoding, error mapping and decoding are shared. */
#include <vs/client.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

static _Thread_local vs_call_status vs_thread_status;

static int client_fail(vs_call_status *status, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int client_fail(vs_call_status *status, int code, const char *fmt, ...)
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
    /* Dial synchronously first so the connection is up before the first call (and a handle
     * closed right away never races nng's connection set-up). If the server is not there yet,
     * dial in the background: calls then wait for it up to their deadline. */
    rv = nng_dial(c->sock, url, NULL, 0);
    if (rv == NNG_ECONNREFUSED || rv == NNG_ENOENT || rv == NNG_EADDRINVAL || rv == NNG_ETIMEDOUT ||
        rv == NNG_EUNREACHABLE)
        rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_close(c->sock);
        free(c);
        return client_fail(status, VS_INVALID_ARGUMENT, "cannot dial %s: %s", url,
                           nng_strerror(rv));
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
static int client_prepare(vs_client *c, const ProtobufCServiceDescriptor *service,
                          unsigned method_index, const ProtobufCMessage *input,
                          const ProtobufCMethodDescriptor **method_out, nng_msg **msg,
                          vs_call_status *status)
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
static int client_method_index(const ProtobufCServiceDescriptor *service, const char *name,
                               unsigned *index, vs_call_status *status)
{
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(service, name);

    if (m == NULL)
        return client_fail(status, VS_UNIMPLEMENTED, "%s has no method %s", service->name, name);
    *index = (unsigned)(m - service->methods);
    return VS_OK;
}

static void client_async_cb(void *arg);
static void client_slot_put(vs_client *c, client_slot *slot, int reusable);

/* Takes an idle context + aio pair of this mode from the pool, or opens a new one. */
static int client_slot_get(vs_client *c, client_mode mode, client_slot **out,
                           vs_call_status *status)
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
static void client_slot_put(vs_client *c, client_slot *slot, int reusable)
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
static int client_transport_fail(vs_client *c, int rv, int receiving, vs_call_status *status)
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
static int client_decode(const ProtobufCMethodDescriptor *method, nng_msg *reply,
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

/* Counts an asynchronous call out of the handle; wakes a vs_client_close() waiting for the last.
 * Once in_flight is 0 while closing, c may be freed: nothing after this may touch it. */
static void client_async_end(vs_client *c)
{
    if (atomic_fetch_sub(&c->in_flight, 1) == 1 && atomic_load(&c->closing)) {
        pthread_mutex_lock(&c->drain_lock);
        pthread_cond_broadcast(&c->drained);
        pthread_mutex_unlock(&c->drain_lock);
    }
}

/* Ends an asynchronous call: the slot goes back to the pool first (so a done that starts the next
 * call reuses it), then the reply is decoded and handed to done. */
static void client_async_finish(client_slot *slot, int rc, nng_msg *reply, vs_call_status *status)
{
    vs_client *c = slot->client;
    const ProtobufCMethodDescriptor *method = slot->method;
    vs_call_done_fn done = slot->done;
    void *arg = slot->done_arg;
    ProtobufCMessage *output = NULL;

    client_slot_put(c, slot, rc == VS_OK);
    if (rc == VS_OK)
        rc = client_decode(method, reply, &output, status);
    done(arg, rc, output, status);
    client_async_end(c);
}

/* The aio callback of an asynchronous call (on an nng thread): the request went out — wait for the
 * reply on the same context — or the reply came, or either failed. */
static void client_async_cb(void *arg)
{
    client_slot *slot = arg;
    vs_call_status status;
    nng_msg *reply = NULL;
    int rv = nng_aio_result(slot->aio), rc = VS_OK;

    if (rv == 0 && !slot->receiving) {
        slot->receiving = 1;
        nng_ctx_recv(slot->ctx, slot->aio);
        return;
    }
    if (rv != 0) {
        if (!slot->receiving && nng_aio_get_msg(slot->aio) != NULL)
            nng_msg_free(nng_aio_get_msg(slot->aio)); /* a failed send hands the request back */
        rc = client_transport_fail(slot->client, rv, slot->receiving, &status);
    } else {
        reply = nng_aio_get_msg(slot->aio);
    }
    nng_aio_set_msg(slot->aio, NULL);
    client_async_finish(slot, rc, reply, &status);
}

int vs_client_call_async(vs_client *c, const ProtobufCServiceDescriptor *service,
                         unsigned method_index, const ProtobufCMessage *input, vs_call_done_fn done,
                         void *arg)
{
    const ProtobufCMethodDescriptor *method = NULL;
    client_slot *slot = NULL;
    nng_msg *msg = NULL;
    int rc;

    if (done == NULL)
        return VS_INVALID_ARGUMENT;
    /* counted before the closing check, so close either sees this call or we see it closing */
    atomic_fetch_add(&c->in_flight, 1);
    if (atomic_load(&c->closing)) {
        rc = VS_CANCELLED;
        goto fail;
    }
    if ((rc = client_prepare(c, service, method_index, input, &method, &msg, NULL)) != VS_OK)
        goto fail;
    if ((rc = client_slot_get(c, CLIENT_CALLBACK, &slot, NULL)) != VS_OK) {
        nng_msg_free(msg);
        goto fail;
    }
    slot->client = c;
    slot->method = method;
    slot->done = done;
    slot->done_arg = arg;
    slot->receiving = 0;
    nng_aio_set_timeout(slot->aio, c->opts.timeout_ms);
    nng_aio_set_msg(slot->aio, msg);
    nng_ctx_send(slot->ctx, slot->aio);
    return VS_OK;
fail:
    client_async_end(c);
    return rc;
}

int vs_client_call_named_async(vs_client *c, const ProtobufCServiceDescriptor *service,
                               const char *method, const ProtobufCMessage *input,
                               vs_call_done_fn done, void *arg)
{
    unsigned index = 0;
    int rc;

    if ((rc = client_method_index(service, method, &index, NULL)) != VS_OK)
        return rc;
    return vs_client_call_async(c, service, index, input, done, arg);
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
    static const ProtobufCServiceDescriptor *const known[VS_CLIENT_MAX_SERVICES] = {
        &vs__v1__user_service__descriptor,
        &vs__v1__streaming_service__descriptor,
        &vs__v1__batch_service__descriptor,
    };

    for (int i = 0; i < VS_CLIENT_MAX_SERVICES; i++) {
        if (known[i] != desc || desc == NULL)
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
