/* rpc_server.c — receiving requests on the slots, dispatch (inline, on a worker thread, or
 * deferred) and replies; a request's decoding and checks are rpc_dispatch.c's. Start and stop are
 * in rpc_server_life.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "rpc_dispatch.h"
#include "rpc_server_internal.h"
#include "text.h"

static __thread struct {
    uint64_t generation;
    void *app;
} rpc_tls;

const char *rpc_call_source(const rpc_call *call, char *out, size_t outlen)
{
    const rpc_slot *sl = call->server_private;
    nng_sockaddr sa;
    char text[INET6_ADDRSTRLEN];
    uint8_t v6[16];

    snprintf(out, outlen, "unknown");
    if (sl == NULL || sl->msg == NULL ||
        nng_pipe_get_addr(nng_msg_get_pipe(sl->msg), NNG_OPT_REMADDR, &sa) != 0)
        return out;
    switch (sa.s_family) {
    case NNG_AF_INET: /* sa_addr is in network order, as inet_ntop wants it */
        if (inet_ntop(AF_INET, &sa.s_in.sa_addr, text, sizeof text) != NULL)
            snprintf(out, outlen, "ip:%s", text);
        break;
    case NNG_AF_INET6:
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)sa.s_in6.sa_addr)) {
            /* an IPv4 caller of a [::] listener: its own address, not the shared ::ffff:0:0/64 */
            if (inet_ntop(AF_INET, sa.s_in6.sa_addr + 12, text, sizeof text) != NULL)
                snprintf(out, outlen, "ip:%s", text);
            break;
        }
        memcpy(v6, sa.s_in6.sa_addr, 8);
        memset(v6 + 8, 0, 8);
        if (inet_ntop(AF_INET6, v6, text, sizeof text) != NULL)
            snprintf(out, outlen, "ip6:%s/64", text);
        break;
    case NNG_AF_IPC:
    case NNG_AF_INPROC:
    case NNG_AF_ABSTRACT:
        snprintf(out, outlen, "local");
        break;
    default:
        break;
    }
    return out;
}

const char *rpc_bearer(const rpc_call *call)
{
    const char *a = call->authorization ? call->authorization : "";

    if (strncasecmp(a, "Bearer ", 7) == 0)
        a += 7;
    return a;
}

static void slot_reply(rpc_slot *sl);

void rpc_defer(rpc_call *call)
{
    call->deferred = 1;
}

/* The closure every handler calls once: packs the reply or records that there is none. For a
 * deferred call it also sends the reply, unless the handler has not returned yet (then that
 * return sends it). */
static void rpc_closure(const ProtobufCMessage *reply, void *closure_data)
{
    rpc_call *call = closure_data;
    rpc_slot *sl = call->server_private;

    if (call->closed) {
        log_error("%s: handler called its closure twice", call->method);
        return;
    }
    call->closed = 1;
    if (reply == NULL) {
        if (call->status == VS_OK)
            rpc_fail(call, VS_INTERNAL, "handler produced no reply");
    } else if (call->status == VS_OK) { /* a handler that failed and still replied: failure wins */
        call->reply_len = protobuf_c_message_get_packed_size(reply);
        call->reply = malloc(call->reply_len ? call->reply_len : 1);
        if (call->reply == NULL)
            rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory packing the reply");
        else
            protobuf_c_message_pack(reply, call->reply);
    }
    if (call->deferred && atomic_fetch_add(&sl->finish, 1) == 1)
        slot_reply(sl);
}

static int64_t rpc_real_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Encodes the reply envelope into msg (reusing it). */
static int rpc_reply(nng_msg *msg, const rpc_call *call)
{
    Vs__V1__ResponseEnvelope env = VS__V1__RESPONSE_ENVELOPE__INIT;
    char message[sizeof call->message] = "";
    size_t len;

    /* the message is a protobuf string: strict clients refuse a whole reply whose message is not
     * UTF-8, whatever a handler put in it */
    if (call->status != VS_OK) {
        memcpy(message, call->message, sizeof message);
        text_sanitize(message, sizeof message);
    }
    env.request_id = call->request_id;
    env.code = (int32_t)call->status;
    env.message = message;
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

/* Frees what the slot decoded for its request. */
void rpc_slot_clear(rpc_slot *sl)
{
    free(sl->call.reply);
    sl->call.reply = NULL;
    rpc_request_clear(&sl->req);
    sl->call.method = NULL;
    sl->call.authorization = NULL;
}

/* The slot is ready for its next request: receive again, unless the server is stopping. */
static void slot_rearm(rpc_slot *sl)
{
    rpc_server *s = sl->server;

    rpc_slot_clear(sl);
    sl->state = SLOT_RECV;
    if (nng_pipe_id(sl->pipe) > 0)
        rpc_conns_request_end(s->conns, sl->pipe);
    sl->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
    /* receive again before leaving the count: once it reaches 0 the socket may be closing */
    if (!atomic_load(&s->stopping))
        nng_ctx_recv(sl->ctx, sl->aio);
    atomic_fetch_sub(&s->in_service, 1);
}

/* Sends the call's outcome; the send's completion re-arms the slot. */
static void slot_reply(rpc_slot *sl)
{
    rpc_server *s = sl->server;
    rpc_call *call = &sl->call;

    atomic_fetch_add(&s->requests, 1);
    rpc_metrics_record(s->metrics, call->method, call->status, call->received_mono_us);
    if (call->status != VS_OK && call->status != VS_UNAUTHENTICATED)
        log_debug("%s -> %s: %s", call->method ? call->method : "?", status_name(call->status),
                  call->message);
    if (rpc_reply(sl->msg, call) != 0) {
        nng_msg_free(sl->msg);
        sl->msg = NULL;
        slot_rearm(sl);
        return;
    }
    rpc_slot_clear(sl);
    sl->state = SLOT_SEND;
    nng_aio_set_msg(sl->aio, sl->msg);
    sl->msg = NULL;
    nng_ctx_send(sl->ctx, sl->aio);
}

/* Runs the handler on app and, unless it deferred, replies. */
static void slot_invoke(rpc_slot *sl, void *app, int worker_index, int is_inline)
{
    rpc_call *call = &sl->call;
    ProtobufCService *svc = sl->server->services[sl->req.service];

    call->worker = app;
    call->worker_index = worker_index;
    call->is_inline = is_inline;
    atomic_store(&sl->finish, 0);
    svc->invoke(svc, sl->req.method, sl->req.input, rpc_closure, call);
}

static void slot_after_invoke(rpc_slot *sl)
{
    rpc_call *call = &sl->call;
    rpc_server *s = sl->server;

    /* counted together once served, so a Health reply never shows its own re-run without it */
    if (!call->is_inline && sl->rerun)
        atomic_fetch_add(&s->rerun_on_worker, 1);
    atomic_fetch_add(call->is_inline ? &s->served_inline : &s->served_on_worker, 1);
    if (call->deferred) {
        atomic_fetch_add(&s->deferred, 1);
        if (atomic_fetch_add(&sl->finish, 1) == 1)
            slot_reply(sl);
        return;
    }
    if (!call->closed)
        rpc_closure(NULL, call);
    slot_reply(sl);
}

static void slot_enqueue(rpc_slot *sl)
{
    rpc_server *s = sl->server;

    sl->next = NULL;
    pthread_mutex_lock(&s->qlock);
    if (s->qtail != NULL)
        s->qtail->next = sl;
    else
        s->qhead = sl;
    s->qtail = sl;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
}

/* This thread's inline context for s, made on first use; NULL when it cannot be made. */
static void *rpc_inline_app_get(rpc_server *s)
{
    rpc_inline_app *ia;
    void *app = NULL;

    if (rpc_tls.generation == s->generation)
        return rpc_tls.app;
    if (s->config.inline_init(&app) != 0 || (ia = malloc(sizeof *ia)) == NULL) {
        if (app != NULL && s->config.worker_fini != NULL)
            s->config.worker_fini(app);
        return NULL;
    }
    ia->app = app;
    pthread_mutex_lock(&s->ilock);
    ia->next = s->inline_apps;
    s->inline_apps = ia;
    pthread_mutex_unlock(&s->ilock);
    rpc_tls.generation = s->generation;
    rpc_tls.app = app;
    return app;
}

/* A request arrived on sl: decode and check it (rpc_dispatch.h), then run it inline or queue it
 * for a worker. Runs in nng's callback. */
static void slot_begin(rpc_slot *sl)
{
    rpc_server *s = sl->server;
    rpc_call *call = &sl->call;
    void *app;

    memset(call, 0, sizeof *call);
    sl->rerun = 0;
    call->server_private = sl;
    call->received_mono_us = clock_mono_us();
    if (rpc_request_decode(s->services, s->n_services, nng_msg_body(sl->msg), nng_msg_len(sl->msg),
                           rpc_real_now_ms(), &sl->req, call) != VS_OK) {
        slot_reply(sl);
        return;
    }
    if (!s->inline_ok[sl->req.service][sl->req.method] || (app = rpc_inline_app_get(s)) == NULL) {
        slot_enqueue(sl);
        return;
    }
    slot_invoke(sl, app, -1, 1);
    if (s->config.inline_blocked(app) && !call->deferred) {
        /* it needed a connection: forget this attempt and run it again where blocking is fine */
        free(call->reply);
        call->reply = NULL;
        call->reply_len = 0;
        call->status = VS_OK;
        call->message[0] = '\0';
        call->closed = 0;
        sl->rerun = 1;
        slot_enqueue(sl);
        return;
    }
    slot_after_invoke(sl);
}

void rpc_slot_callback(void *arg)
{
    rpc_slot *sl = arg;
    rpc_server *s = sl->server;
    int rv = nng_aio_result(sl->aio);

    if (sl->state == SLOT_SEND) {
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(sl->aio)); /* peer gone: the reply has nowhere to go */
        slot_rearm(sl);
        return;
    }
    if (rv != 0) {
        if (rv != NNG_ECLOSED && !atomic_load(&s->stopping))
            nng_ctx_recv(sl->ctx, sl->aio);
        return;
    }
    /* counted before stopping is checked (rpc_server_quiesce sets stopping, then waits for the
     * count to be 0): a request let in here is always waited for, so its reply is never sent
     * while the socket closes */
    atomic_fetch_add(&s->in_service, 1);
    if (atomic_load(&s->stopping)) {
        /* not served: the client resends it to whoever listens next */
        nng_msg_free(nng_aio_get_msg(sl->aio));
        atomic_fetch_sub(&s->in_service, 1);
        return;
    }
    sl->msg = nng_aio_get_msg(sl->aio);
    sl->pipe = nng_msg_get_pipe(sl->msg);
    rpc_conns_request_begin(s->conns, sl->pipe);
    sl->state = SLOT_BUSY;
    slot_begin(sl);
}

void *rpc_worker_main(void *arg)
{
    rpc_worker *w = arg;
    rpc_server *s = w->server;
    int init_rc = 0;

    if (s->config.worker_init != NULL)
        init_rc = s->config.worker_init(w->index, &w->app);
    pthread_mutex_lock(&s->lock);
    s->ready++;
    if (init_rc != 0)
        s->failed++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (init_rc != 0)
        return NULL;

    for (;;) {
        rpc_slot *sl;

        pthread_mutex_lock(&s->qlock);
        while (s->qhead == NULL && !s->workers_stop)
            pthread_cond_wait(&s->qcond, &s->qlock);
        sl = s->qhead;
        if (sl != NULL) {
            s->qhead = sl->next;
            if (s->qhead == NULL)
                s->qtail = NULL;
        }
        pthread_mutex_unlock(&s->qlock);
        if (sl == NULL)
            break; /* stopping, and the queue is drained */
        slot_invoke(sl, w->app, w->index, 0);
        slot_after_invoke(sl);
    }
    return NULL;
}

const rpc_server *rpc_call_server(const rpc_call *call)
{
    return ((const rpc_slot *)call->server_private)->server;
}
