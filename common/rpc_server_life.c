/* rpc_server_life.c — starting an rpc_server (socket, slots, worker threads, listeners), stopping
 * it without losing a reply in service, and its statistics. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "rpc_metrics.h"
#include "rpc_server_internal.h"

static atomic_uint_fast64_t rpc_generations;

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
            (rv = nng_aio_alloc(&sl->aio, rpc_slot_callback, sl)) != 0) {
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
        rpc_slot_clear(&s->slots[i]);
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
    rpc_metrics_free(s->metrics);
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

#define RPC_CLOSE_WAIT_MS 5000

/* nng_close of a server's socket, run on a thread of its own so that stopping cannot hang. */
typedef struct rpc_closer {
    nng_socket sock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} rpc_closer;

static void *rpc_closer_main(void *arg)
{
    rpc_closer *c = arg;

    nng_close(c->sock);
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Closes sock, waiting at most RPC_CLOSE_WAIT_MS. nng 1.5.2 can wait forever in nng_close for
 * a connection's last send to complete (seen with clients still calling while vsd stops: the
 * reaper sits in rep0_pipe_stop). Returns 1 when closed, 0 when the close was left running: the
 * process is exiting, and the socket's memory must then be left alone. */
static int rpc_close_bounded(rpc_server *s)
{
    rpc_closer *c = calloc(1, sizeof *c);
    pthread_condattr_t ca;
    pthread_t thread;
    struct timespec until;
    int done;

    if (c == NULL) {
        nng_close(s->sock);
        return 1;
    }
    c->sock = s->sock;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&thread, NULL, rpc_closer_main, c) != 0) {
        nng_close(s->sock); /* no thread to spare: close here, unbounded */
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += RPC_CLOSE_WAIT_MS / 1000;
    pthread_mutex_lock(&c->lock);
    while (!c->done && pthread_cond_timedwait(&c->cond, &c->lock, &until) == 0)
        ;
    done = c->done;
    pthread_mutex_unlock(&c->lock);
    if (!done) {
        log_warn("%s: closing the socket did not finish within %d s (nng 1.5.2 waiting for a "
                 "connection's last send); exiting without it",
                 s->config.name, RPC_CLOSE_WAIT_MS / 1000);
        pthread_detach(thread); /* c stays with the thread */
        return 0;
    }
    pthread_join(thread, NULL);
out:
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
    return 1;
}

/* Stops taking requests, lets the calls in service finish and send their replies, then closes
 * the socket and stops and joins the workers. No send may start once nng_close has begun (nng 1.5
 * can hang closing a context whose send raced with the close), hence the order. Returns 0 when
 * the socket could not be closed in time (see rpc_close_bounded). */
static int rpc_server_quiesce(rpc_server *s, int started)
{
    int closed;

    listen_guard_halt(s->listeners); /* no listener replaced while the socket closes */
    rpc_conns_halt(s->conns);        /* nor a connection closed by the reaper */
    atomic_store(&s->stopping, 1);
    for (int waited_ms = 0; atomic_load(&s->in_service) > 0; waited_ms++) {
        if (waited_ms == 10000)
            log_warn("%s: %d calls still in service after 10 s", s->config.name,
                     atomic_load(&s->in_service));
        nng_msleep(1);
    }
    closed = rpc_close_bounded(s);
    if (closed) {
        listen_guard_stop(s->listeners); /* closed with the socket: frees what is left */
        s->listeners = NULL;
        rpc_conns_free(s->conns); /* no pipe callback runs after the close */
        s->conns = NULL;
    }
    pthread_mutex_lock(&s->qlock);
    s->workers_stop = 1;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    for (int i = 0; i < started; i++) {
        pthread_join(s->workers[i].thread, NULL);
        if (s->config.worker_fini != NULL && s->workers[i].app != NULL)
            s->config.worker_fini(s->workers[i].app);
    }
    return closed;
}

vs_status rpc_server_start(const rpc_server_config *config, ProtobufCService *const *services,
                           int n_services, rpc_server **out, char *err, size_t errlen)
{
    listen_guard_config guard = {0};
    rpc_conns_config conns = {0};
    rpc_server *s;
    int rv, started = 0, sock_open = 0;

    *out = NULL;
    if (config->threads < 1 || config->n_urls < 1) {
        snprintf(err, errlen, "need at least one thread and one URL");
        return VS_INVALID_ARGUMENT;
    }
    if ((config->may_run_inline != NULL) != (config->inline_init != NULL) ||
        (config->inline_init != NULL) != (config->inline_blocked != NULL)) {
        snprintf(err, errlen,
                 "inline execution needs may_run_inline, inline_init and "
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
    if (rpc_inline_table(s) != 0 ||
        (s->metrics = rpc_metrics_new(s->services, n_services)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((rv = nng_rep0_open(&s->sock)) != 0) {
        snprintf(err, errlen, "nng_rep0_open: %s", nng_strerror(rv));
        goto fail;
    }
    sock_open = 1;
    /* must precede listen: nng checks the size header before it allocates */
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ,
                        config->max_message > 0 ? config->max_message : RPC_DEFAULT_MAX_MESSAGE);
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
    conns.max_connections =
        config->max_connections > 0 ? config->max_connections : RPC_DEFAULT_MAX_CONNECTIONS;
    conns.max_per_address = config->max_connections_per_address > 0
                                ? config->max_connections_per_address
                                : RPC_DEFAULT_MAX_PER_ADDRESS;
    conns.idle_timeout_ms =
        config->idle_timeout_ms > 0 ? config->idle_timeout_ms : RPC_DEFAULT_IDLE_TIMEOUT_MS;
    conns.name = config->name;
    if (rpc_conns_start(s->sock, &conns, &s->conns, err, errlen) != VS_OK)
        goto fail;
    /* contexts receive before the listeners exist, so no request waits for a free context */
    for (int i = 0; i < s->n_slots; i++)
        nng_ctx_recv(s->slots[i].ctx, s->slots[i].aio);
    guard.urls = config->urls;
    guard.n_urls = config->n_urls;
    guard.peer_proto = LISTEN_GUARD_PROTO_REQ;
    guard.self_proto = LISTEN_GUARD_PROTO_REP;
    guard.interval_ms = config->listen_check_ms == 0  ? 500
                        : config->listen_check_ms < 0 ? 0
                                                      : config->listen_check_ms;
    guard.timeout_ms = 1000;
    guard.on_pipe_added = rpc_conns_pipe_added;
    guard.on_pipe_added_arg = s->conns;
    if (listen_guard_start(s->sock, &guard, &s->listeners, err, errlen) != VS_OK)
        goto fail;
    *out = s;
    return VS_OK;

fail:
    if (!sock_open || rpc_server_quiesce(s, started))
        rpc_server_free(s);
    return VS_UNAVAILABLE;
}

void rpc_server_stop(rpc_server *s)
{
    if (s == NULL)
        return;
    /* a socket still closing may yet run the slots' callbacks: then s is not freed */
    if (rpc_server_quiesce(s, s->n_workers))
        rpc_server_free(s);
}

uint64_t rpc_server_requests(const rpc_server *s)
{
    return atomic_load(&((rpc_server *)s)->requests);
}
void rpc_server_get_stats(const rpc_server *server, rpc_server_stats *out)
{
    rpc_server *s = (rpc_server *)server;
    rpc_conns_stats cs;

    out->requests = atomic_load(&s->requests);
    out->served_inline = atomic_load(&s->served_inline);
    out->served_on_worker = atomic_load(&s->served_on_worker);
    out->rerun_on_worker = atomic_load(&s->rerun_on_worker);
    out->deferred = atomic_load(&s->deferred);
    out->listener_restarts = listen_guard_restarts(s->listeners);
    rpc_conns_get_stats(s->conns, &cs);
    out->connections_open = cs.open;
    out->connections_accepted = cs.accepted;
    out->connections_refused = cs.refused;
    out->connections_timed_out = cs.timed_out;
    out->connections_refused_per_address = cs.refused_per_address;
    out->slots = s->n_slots;
    out->workers = s->n_workers;
}

void rpc_server_metrics_collect(metrics_text *t, void *server)
{
    static const char *const refusals[] = {"total", "per_address"};
    rpc_server *s = server;
    rpc_server_stats st;
    metrics_counter refused[2];

    rpc_server_get_stats(s, &st);
    if (s->metrics != NULL)
        rpc_metrics_write(t, s->metrics);
    metrics_write_one(t, "vs_rpc_connections_open", METRICS_GAUGE, "RPC connections open now.",
                      (int64_t)st.connections_open, 0);
    metrics_write_one(t, "vs_rpc_connections_accepted_total", METRICS_COUNTER,
                      "RPC connections accepted.", (int64_t)st.connections_accepted, 0);
    atomic_init(&refused[0].value, st.connections_refused - st.connections_refused_per_address);
    atomic_init(&refused[1].value, st.connections_refused_per_address);
    metrics_write_counters(t, "vs_rpc_connections_refused_total",
                           "RPC connections closed at once because a cap was reached: the total "
                           "(VS_RPC_MAX_CONNECTIONS) or one address's "
                           "(VS_RPC_MAX_CONNECTIONS_PER_ADDRESS).",
                           "cap", refusals, refused, 2);
    metrics_write_one(t, "vs_rpc_connections_idle_closed_total", METRICS_COUNTER,
                      "RPC connections closed for having no complete request within the idle "
                      "timeout.",
                      (int64_t)st.connections_timed_out, 0);
    metrics_write_one(t, "vs_rpc_listener_restarts_total", METRICS_COUNTER,
                      "Listeners found no longer accepting connections and listened again.",
                      (int64_t)st.listener_restarts, 0);
    metrics_write_one(t, "vs_rpc_slots", METRICS_GAUGE, "Requests the server can hold in service.",
                      st.slots, 0);
}
