/* rpc_server.c — REP socket, worker threads, envelope decoding and generic dispatch. */
#include "rpc_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vs/v1/envelope.pb-c.h>

#include "clock.h"
#include "log.h"

typedef struct rpc_worker {
    rpc_server *server;
    int index;
    pthread_t thread;
    nng_ctx ctx;
    void *app;
} rpc_worker;

struct rpc_server {
    nng_socket sock;
    rpc_server_config config;
    ProtobufCService **services;
    int n_services;
    rpc_worker *workers;
    int n_workers;
    atomic_uint_fast64_t requests;
    /* start-up handshake: each worker reports whether its worker_init succeeded */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, failed;
};

void rpc_fail(rpc_call *call, vs_status code, const char *fmt, ...)
{
    va_list ap;

    call->status = code;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
}

const char *rpc_bearer(const rpc_call *call)
{
    const char *a = call->authorization ? call->authorization : "";

    if (strncasecmp(a, "Bearer ", 7) == 0)
        a += 7;
    return a;
}

/* The closure every handler calls once: packs the reply or records that there is none. */
static void rpc_closure(const ProtobufCMessage *reply, void *closure_data)
{
    rpc_call *call = closure_data;

    if (call->closed) {
        log_error("%s: handler called its closure twice", call->method);
        return;
    }
    call->closed = 1;
    if (reply == NULL) {
        if (call->status == VS_OK)
            rpc_fail(call, VS_INTERNAL, "handler produced no reply");
        return;
    }
    if (call->status != VS_OK)
        return; /* a handler that failed and still replied: the failure wins */
    call->reply_len = protobuf_c_message_get_packed_size(reply);
    call->reply = malloc(call->reply_len ? call->reply_len : 1);
    if (call->reply == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory packing the reply");
        return;
    }
    protobuf_c_message_pack(reply, call->reply);
}

static int64_t rpc_real_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Finds the service and method named by "/package.Service/Method". */
static ProtobufCService *rpc_route(rpc_server *s, const char *path, unsigned *method_index)
{
    const char *slash;
    size_t svc_len;

    if (path == NULL || path[0] != '/')
        return NULL;
    slash = strchr(path + 1, '/');
    if (slash == NULL)
        return NULL;
    svc_len = (size_t)(slash - path - 1);
    for (int i = 0; i < s->n_services; i++) {
        const ProtobufCServiceDescriptor *d = s->services[i]->descriptor;
        const ProtobufCMethodDescriptor *m;

        if (strlen(d->name) != svc_len || strncmp(d->name, path + 1, svc_len) != 0)
            continue;
        m = protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
        if (m == NULL)
            return NULL;
        *method_index = (unsigned)(m - d->methods);
        /* the index drives a function-pointer table: never trust it unchecked */
        if (*method_index >= d->n_methods)
            return NULL;
        return s->services[i];
    }
    return NULL;
}

/* Serves one request: decode, route, check deadline, decode payload, invoke. */
static void rpc_serve(rpc_worker *w, const void *body, size_t len, rpc_call *call)
{
    Vs__V1__RequestEnvelope *env;
    ProtobufCService *svc;
    ProtobufCMessage *input;
    const ProtobufCMethodDescriptor *method;
    unsigned index = 0;

    env = vs__v1__request_envelope__unpack(NULL, len, body);
    if (env == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "request is not a vs.v1.RequestEnvelope");
        return;
    }
    call->method = env->method;
    call->authorization = env->authorization;
    call->request_id = env->request_id;
    call->deadline_unix_ms = env->deadline_unix_ms;
    svc = rpc_route(w->server, env->method, &index);
    if (svc == NULL) {
        rpc_fail(call, VS_UNIMPLEMENTED, "unknown method \"%s\"", env->method);
        goto out;
    }
    if (env->deadline_unix_ms != 0 && rpc_real_now_ms() > env->deadline_unix_ms) {
        rpc_fail(call, VS_DEADLINE_EXCEEDED, "deadline passed %lld ms before the call was served",
                 (long long)(rpc_real_now_ms() - env->deadline_unix_ms));
        goto out;
    }
    method = &svc->descriptor->methods[index];
    input = protobuf_c_message_unpack(method->input, NULL, env->payload.len, env->payload.data);
    if (input == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "payload is not a valid %s", method->input->name);
        goto out;
    }
    svc->invoke(svc, index, input, rpc_closure, call);
    if (!call->closed)
        rpc_closure(NULL, call);
    protobuf_c_message_free_unpacked(input, NULL);
out:
    /* the method string lives in env; keep the path for the log line below */
    if (call->status != VS_OK && call->status != VS_UNAUTHENTICATED)
        log_debug("%s -> %s: %s", env->method, status_name(call->status), call->message);
    call->method = NULL;
    call->authorization = NULL;
    vs__v1__request_envelope__free_unpacked(env, NULL);
}

/* Encodes the reply envelope into msg (reusing it). */
static int rpc_reply(nng_msg *msg, const rpc_call *call)
{
    Vs__V1__ResponseEnvelope env = VS__V1__RESPONSE_ENVELOPE__INIT;
    size_t len;

    env.request_id = call->request_id;
    env.code = (int32_t)call->status;
    env.message = (char *)(call->status == VS_OK ? "" : call->message);
    if (call->status == VS_OK) {
        env.payload.data = call->reply;
        env.payload.len = call->reply_len;
    }
    len = vs__v1__response_envelope__get_packed_size(&env);
    nng_msg_clear(msg);
    if (nng_msg_realloc(msg, len) != 0)
        return -1;
    vs__v1__response_envelope__pack(&env, nng_msg_body(msg));
    return 0;
}

static void *rpc_worker_main(void *arg)
{
    rpc_worker *w = arg;
    rpc_server *s = w->server;
    nng_aio *aio = NULL;
    int init_rc = 0;

    if (s->config.worker_init != NULL)
        init_rc = s->config.worker_init(w->index, &w->app);
    if (init_rc == 0 && nng_aio_alloc(&aio, NULL, NULL) != 0)
        init_rc = -1;
    pthread_mutex_lock(&s->lock);
    s->ready++;
    if (init_rc != 0)
        s->failed++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (init_rc != 0)
        return NULL;

    for (;;) {
        nng_msg *msg;
        rpc_call call;
        int rv;

        nng_ctx_recv(w->ctx, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue;
        msg = nng_aio_get_msg(aio);
        memset(&call, 0, sizeof call);
        call.worker = w->app;
        call.worker_index = w->index;
        call.received_mono_us = clock_mono_us();
        rpc_serve(w, nng_msg_body(msg), nng_msg_len(msg), &call);
        atomic_fetch_add(&s->requests, 1);
        rv = rpc_reply(msg, &call);
        free(call.reply);
        if (rv != 0) {
            nng_msg_free(msg);
            continue;
        }
        nng_aio_set_msg(aio, msg);
        nng_ctx_send(w->ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            nng_msg_free(msg); /* peer gone: the reply has nowhere to go */
    }
    nng_aio_free(aio);
    return NULL;
}

vs_status rpc_server_start(const rpc_server_config *config, ProtobufCService *const *services,
                           int n_services, rpc_server **out, char *err, size_t errlen)
{
    rpc_server *s;
    int rv, started = 0;

    *out = NULL;
    if (config->threads < 1 || config->n_urls < 1) {
        snprintf(err, errlen, "need at least one thread and one URL");
        return VS_INVALID_ARGUMENT;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return VS_RESOURCE_EXHAUSTED;
    s->config = *config;
    s->services = calloc((size_t)n_services, sizeof *s->services);
    memcpy(s->services, services, (size_t)n_services * sizeof *services);
    s->n_services = n_services;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if ((rv = nng_rep0_open(&s->sock)) != 0) {
        snprintf(err, errlen, "nng_rep0_open: %s", nng_strerror(rv));
        goto fail;
    }
    /* must precede listen: nng checks the size header before it allocates */
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, config->max_message);
    for (int i = 0; i < config->n_urls; i++) {
        if ((rv = nng_listen(s->sock, config->urls[i], NULL, 0)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", config->urls[i], nng_strerror(rv));
            goto fail_sock;
        }
    }
    s->workers = calloc((size_t)config->threads, sizeof *s->workers);
    s->n_workers = config->threads;
    for (int i = 0; i < config->threads; i++) {
        rpc_worker *w = &s->workers[i];

        w->server = s;
        w->index = i;
        if ((rv = nng_ctx_open(&w->ctx, s->sock)) != 0) {
            snprintf(err, errlen, "nng_ctx_open: %s", nng_strerror(rv));
            goto fail_workers;
        }
        if (pthread_create(&w->thread, NULL, rpc_worker_main, w) != 0) {
            nng_ctx_close(w->ctx);
            snprintf(err, errlen, "cannot start worker thread");
            goto fail_workers;
        }
        started++;
    }
    pthread_mutex_lock(&s->lock);
    while (s->ready < started)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (s->failed) {
        snprintf(err, errlen, "%d worker(s) failed to initialise", s->failed);
        goto fail_workers;
    }
    *out = s;
    return VS_OK;

fail_workers:
    nng_close(s->sock);
    for (int i = 0; i < started; i++) {
        pthread_join(s->workers[i].thread, NULL);
        if (s->config.worker_fini != NULL && s->workers[i].app != NULL)
            s->config.worker_fini(s->workers[i].app);
    }
    free(s->workers);
    goto fail;
fail_sock:
    nng_close(s->sock);
fail:
    free(s->services);
    free(s);
    return VS_UNAVAILABLE;
}

void rpc_server_stop(rpc_server *s)
{
    if (s == NULL)
        return;
    nng_close(s->sock);
    for (int i = 0; i < s->n_workers; i++) {
        pthread_join(s->workers[i].thread, NULL);
        nng_ctx_close(s->workers[i].ctx);
        if (s->config.worker_fini != NULL && s->workers[i].app != NULL)
            s->config.worker_fini(s->workers[i].app);
    }
    free(s->workers);
    free(s->services);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

uint64_t rpc_server_requests(const rpc_server *s)
{
    return atomic_load(&((rpc_server *)s)->requests);
}
