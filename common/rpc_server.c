/* rpc_server.c — REP socket, worker threads, envelope decoding and generic dispatch. */
#include "rpc_server.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
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
    void *app;
} rpc_worker;

typedef enum rpc_slot_state { SLOT_RECV, SLOT_BUSY, SLOT_SEND } rpc_slot_state;

/* One request in service: an nng context, its aio, and everything decoded from the request. */
typedef struct rpc_slot {
    rpc_server *server;
    nng_ctx ctx;
    nng_aio *aio;
    rpc_slot_state state;
    nng_msg *msg; /* the request; its buffer is reused for the reply */
    Vs__V1__RequestEnvelope *env;
    ProtobufCService *svc;
    unsigned index;
    ProtobufCMessage *input;
    rpc_call call;
    atomic_int finish;     /* deferred: the handler's return and its closure, whichever is 2nd */
    struct rpc_slot *next; /* worker queue link */
} rpc_slot;

/* An inline context made for one nng callback thread. */
typedef struct rpc_inline_app {
    void *app;
    struct rpc_inline_app *next;
} rpc_inline_app;

struct rpc_server {
    nng_socket sock;
    rpc_server_config config;
    uint64_t generation; /* tells this server's per-thread inline contexts from a previous one's */
    ProtobufCService **services;
    unsigned char **inline_ok; /* [service][method] */
    int n_services;
    rpc_worker *workers;
    int n_workers;
    rpc_slot *slots;
    int n_slots;
    atomic_uint_fast64_t requests, served_inline, served_on_worker, rerun_on_worker, deferred;
    atomic_int in_service; /* slots between a received request and its reply's send completing */
    /* the worker queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    rpc_slot *qhead, *qtail;
    int workers_stop;
    /* inline contexts, freed at stop */
    pthread_mutex_t ilock;
    rpc_inline_app *inline_apps;
    atomic_int stopping;
    /* start-up handshake: each worker reports whether its worker_init succeeded */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, failed;
};

static atomic_uint_fast64_t rpc_generations;
static __thread struct {
    uint64_t generation;
    void *app;
} rpc_tls;

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

/* Finds the service and method named by "/package.Service/Method". */
static int rpc_route(rpc_server *s, const char *path, unsigned *method_index)
{
    const char *slash;
    size_t svc_len;

    if (path == NULL || path[0] != '/')
        return -1;
    slash = strchr(path + 1, '/');
    if (slash == NULL)
        return -1;
    svc_len = (size_t)(slash - path - 1);
    for (int i = 0; i < s->n_services; i++) {
        const ProtobufCServiceDescriptor *d = s->services[i]->descriptor;
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

/* Frees what the slot decoded for its request. */
static void slot_clear(rpc_slot *sl)
{
    free(sl->call.reply);
    sl->call.reply = NULL;
    if (sl->input != NULL)
        protobuf_c_message_free_unpacked(sl->input, NULL);
    sl->input = NULL;
    if (sl->env != NULL)
        vs__v1__request_envelope__free_unpacked(sl->env, NULL);
    sl->env = NULL;
    sl->call.method = NULL;
    sl->call.authorization = NULL;
}

/* The slot is ready for its next request: receive again, unless the server is stopping. */
static void slot_rearm(rpc_slot *sl)
{
    rpc_server *s = sl->server;

    slot_clear(sl);
    sl->state = SLOT_RECV;
    atomic_fetch_sub(&s->in_service, 1);
    if (!atomic_load(&s->stopping))
        nng_ctx_recv(sl->ctx, sl->aio);
}

/* Sends the call's outcome; the send's completion re-arms the slot. */
static void slot_reply(rpc_slot *sl)
{
    rpc_server *s = sl->server;
    rpc_call *call = &sl->call;

    atomic_fetch_add(&s->requests, 1);
    if (call->status != VS_OK && call->status != VS_UNAUTHENTICATED)
        log_debug("%s -> %s: %s", call->method ? call->method : "?", status_name(call->status),
                  call->message);
    if (rpc_reply(sl->msg, call) != 0) {
        nng_msg_free(sl->msg);
        sl->msg = NULL;
        slot_rearm(sl);
        return;
    }
    slot_clear(sl);
    sl->state = SLOT_SEND;
    nng_aio_set_msg(sl->aio, sl->msg);
    sl->msg = NULL;
    nng_ctx_send(sl->ctx, sl->aio);
}

/* Runs the handler on app and, unless it deferred, replies. */
static void slot_invoke(rpc_slot *sl, void *app, int worker_index, int is_inline)
{
    rpc_call *call = &sl->call;

    call->worker = app;
    call->worker_index = worker_index;
    call->is_inline = is_inline;
    atomic_store(&sl->finish, 0);
    sl->svc->invoke(sl->svc, sl->index, sl->input, rpc_closure, call);
}

static void slot_after_invoke(rpc_slot *sl)
{
    rpc_call *call = &sl->call;
    rpc_server *s = sl->server;

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

/* A request arrived on sl: decode, route, check the deadline and the payload, then run it inline
 * or queue it for a worker. Runs in nng's callback. */
static void slot_begin(rpc_slot *sl)
{
    rpc_server *s = sl->server;
    rpc_call *call = &sl->call;
    const ProtobufCMethodDescriptor *method;
    int svc_i;
    void *app;

    memset(call, 0, sizeof *call);
    call->server_private = sl;
    call->received_mono_us = clock_mono_us();
    sl->env = vs__v1__request_envelope__unpack(NULL, nng_msg_len(sl->msg), nng_msg_body(sl->msg));
    if (sl->env == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "request is not a vs.v1.RequestEnvelope");
        slot_reply(sl);
        return;
    }
    call->method = sl->env->method;
    call->authorization = sl->env->authorization;
    call->request_id = sl->env->request_id;
    call->deadline_unix_ms = sl->env->deadline_unix_ms;
    if ((svc_i = rpc_route(s, sl->env->method, &sl->index)) < 0) {
        rpc_fail(call, VS_UNIMPLEMENTED, "unknown method \"%s\"", sl->env->method);
        slot_reply(sl);
        return;
    }
    if (sl->env->deadline_unix_ms != 0 && rpc_real_now_ms() > sl->env->deadline_unix_ms) {
        rpc_fail(call, VS_DEADLINE_EXCEEDED, "deadline passed %lld ms before the call was served",
                 (long long)(rpc_real_now_ms() - sl->env->deadline_unix_ms));
        slot_reply(sl);
        return;
    }
    sl->svc = s->services[svc_i];
    method = &sl->svc->descriptor->methods[sl->index];
    sl->input = protobuf_c_message_unpack(method->input, NULL, sl->env->payload.len,
                                          sl->env->payload.data);
    if (sl->input == NULL) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "payload is not a valid %s", method->input->name);
        slot_reply(sl);
        return;
    }
    if (!s->inline_ok[svc_i][sl->index] || (app = rpc_inline_app_get(s)) == NULL) {
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
        atomic_fetch_add(&s->rerun_on_worker, 1);
        slot_enqueue(sl);
        return;
    }
    slot_after_invoke(sl);
}

static void slot_callback(void *arg)
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
    if (atomic_load(&s->stopping)) {
        /* not served: the client resends it to whoever listens next */
        nng_msg_free(nng_aio_get_msg(sl->aio));
        return;
    }
    sl->msg = nng_aio_get_msg(sl->aio);
    sl->state = SLOT_BUSY;
    atomic_fetch_add(&s->in_service, 1);
    slot_begin(sl);
}

static void *rpc_worker_main(void *arg)
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

/* Which methods may run inline, asked once per method. */
static int rpc_inline_table(rpc_server *s)
{
    s->inline_ok = calloc((size_t)s->n_services, sizeof *s->inline_ok);
    if (s->inline_ok == NULL)
        return -1;
    for (int i = 0; i < s->n_services; i++) {
        const ProtobufCServiceDescriptor *d = s->services[i]->descriptor;

        s->inline_ok[i] = calloc(d->n_methods ? d->n_methods : 1, 1);
        if (s->inline_ok[i] == NULL)
            return -1;
        for (unsigned m = 0; m < d->n_methods && s->config.may_run_inline != NULL; m++)
            s->inline_ok[i][m] = s->config.may_run_inline(d->name, d->methods[m].name) != 0;
    }
    return 0;
}

static int rpc_slots_open(rpc_server *s, char *err, size_t errlen)
{
    int rv;

    s->n_slots = s->config.slots > 0 ? s->config.slots : s->config.threads * 4;
    if (s->config.slots <= 0 && s->n_slots < 64)
        s->n_slots = 64;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    if (s->slots == NULL)
        return -1;
    for (int i = 0; i < s->n_slots; i++) {
        rpc_slot *sl = &s->slots[i];

        sl->server = s;
        if ((rv = nng_ctx_open(&sl->ctx, s->sock)) != 0 ||
            (rv = nng_aio_alloc(&sl->aio, slot_callback, sl)) != 0) {
            snprintf(err, errlen, "nng context %d: %s", i, nng_strerror(rv));
            return -1;
        }
    }
    return 0;
}

static void rpc_server_free(rpc_server *s)
{
    for (int i = 0; s->slots != NULL && i < s->n_slots; i++) {
        if (s->slots[i].aio != NULL) {
            nng_aio_stop(s->slots[i].aio);
            nng_aio_free(s->slots[i].aio);
        }
        if (s->slots[i].msg != NULL)
            nng_msg_free(s->slots[i].msg);
        slot_clear(&s->slots[i]);
    }
    while (s->inline_apps != NULL) {
        rpc_inline_app *ia = s->inline_apps;

        s->inline_apps = ia->next;
        if (s->config.worker_fini != NULL)
            s->config.worker_fini(ia->app);
        free(ia);
    }
    for (int i = 0; s->inline_ok != NULL && i < s->n_services; i++)
        free(s->inline_ok[i]);
    free(s->inline_ok);
    free(s->slots);
    free(s->workers);
    free(s->services);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->ilock);
    free(s);
}

/* Stops taking requests, lets the calls in service finish and send their replies, then closes
 * the socket and stops and joins the workers. No send may start once nng_close has begun (nng 1.5
 * can hang closing a context whose send raced with the close), hence the order. */
static void rpc_server_quiesce(rpc_server *s, int started)
{
    atomic_store(&s->stopping, 1);
    for (int waited_ms = 0; atomic_load(&s->in_service) > 0; waited_ms++) {
        if (waited_ms == 10000)
            log_warn("%s: %d calls still in service after 10 s", s->config.name,
                     atomic_load(&s->in_service));
        nng_msleep(1);
    }
    nng_close(s->sock);
    pthread_mutex_lock(&s->qlock);
    s->workers_stop = 1;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    for (int i = 0; i < started; i++) {
        pthread_join(s->workers[i].thread, NULL);
        if (s->config.worker_fini != NULL && s->workers[i].app != NULL)
            s->config.worker_fini(s->workers[i].app);
    }
}

vs_status rpc_server_start(const rpc_server_config *config, ProtobufCService *const *services,
                           int n_services, rpc_server **out, char *err, size_t errlen)
{
    rpc_server *s;
    int rv, started = 0, sock_open = 0;

    *out = NULL;
    if (config->threads < 1 || config->n_urls < 1) {
        snprintf(err, errlen, "need at least one thread and one URL");
        return VS_INVALID_ARGUMENT;
    }
    if ((config->may_run_inline != NULL) != (config->inline_init != NULL) ||
        (config->inline_init != NULL) != (config->inline_blocked != NULL)) {
        snprintf(err, errlen, "inline execution needs may_run_inline, inline_init and "
                              "inline_blocked together");
        return VS_INVALID_ARGUMENT;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return VS_RESOURCE_EXHAUSTED;
    s->config = *config;
    s->generation = atomic_fetch_add(&rpc_generations, 1) + 1;
    s->services = calloc((size_t)n_services, sizeof *s->services);
    memcpy(s->services, services, (size_t)n_services * sizeof *services);
    s->n_services = n_services;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_mutex_init(&s->ilock, NULL);
    if (rpc_inline_table(s) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((rv = nng_rep0_open(&s->sock)) != 0) {
        snprintf(err, errlen, "nng_rep0_open: %s", nng_strerror(rv));
        goto fail;
    }
    sock_open = 1;
    /* must precede listen: nng checks the size header before it allocates */
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, config->max_message);
    if (rpc_slots_open(s, err, errlen) != 0)
        goto fail;
    s->workers = calloc((size_t)config->threads, sizeof *s->workers);
    s->n_workers = config->threads;
    for (int i = 0; i < config->threads; i++) {
        rpc_worker *w = &s->workers[i];

        w->server = s;
        w->index = i;
        if (pthread_create(&w->thread, NULL, rpc_worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start worker thread");
            goto fail;
        }
        started++;
    }
    pthread_mutex_lock(&s->lock);
    while (s->ready < started)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (s->failed) {
        snprintf(err, errlen, "%d worker(s) failed to initialise", s->failed);
        goto fail;
    }
    /* contexts receive before the listeners exist, so no request waits for a free context */
    for (int i = 0; i < s->n_slots; i++)
        nng_ctx_recv(s->slots[i].ctx, s->slots[i].aio);
    for (int i = 0; i < config->n_urls; i++) {
        if ((rv = nng_listen(s->sock, config->urls[i], NULL, 0)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", config->urls[i], nng_strerror(rv));
            goto fail;
        }
    }
    *out = s;
    return VS_OK;

fail:
    if (sock_open)
        rpc_server_quiesce(s, started);
    rpc_server_free(s);
    return VS_UNAVAILABLE;
}

void rpc_server_stop(rpc_server *s)
{
    if (s == NULL)
        return;
    rpc_server_quiesce(s, s->n_workers);
    rpc_server_free(s);
}

uint64_t rpc_server_requests(const rpc_server *s)
{
    return atomic_load(&((rpc_server *)s)->requests);
}

void rpc_server_get_stats(const rpc_server *server, rpc_server_stats *out)
{
    rpc_server *s = (rpc_server *)server;

    out->requests = atomic_load(&s->requests);
    out->served_inline = atomic_load(&s->served_inline);
    out->served_on_worker = atomic_load(&s->served_on_worker);
    out->rerun_on_worker = atomic_load(&s->rerun_on_worker);
    out->deferred = atomic_load(&s->deferred);
    out->slots = s->n_slots;
    out->workers = s->n_workers;
}

const rpc_server *rpc_call_server(const rpc_call *call)
{
    return ((const rpc_slot *)call->server_private)->server;
}
