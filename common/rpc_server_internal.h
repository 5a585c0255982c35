/* rpc_server_internal.h — the rpc_server's private structures, shared by rpc_server.c (receiving,
 * dispatch, replies, the worker threads) and rpc_server_life.c (start, stop, statistics).
 * Internal to common/. */
#ifndef VS_RPC_SERVER_INTERNAL_H
#define VS_RPC_SERVER_INTERNAL_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <vs/v1/envelope.pb-c.h>

#include "listen_guard.h"
#include "rpc_dispatch.h"
#include "rpc_conns.h"
#include "rpc_metrics.h"
#include "rpc_server.h"

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
    nng_msg *msg;    /* the request; its buffer is reused for the reply */
    nng_pipe pipe;   /* the connection it came on, busy until the reply is sent (rpc_conns) */
    rpc_request req; /* the request decoded (rpc_dispatch.h) */
    rpc_call call;
    atomic_int finish;     /* deferred: the handler's return and its closure, whichever is 2nd */
    int rerun;             /* an inline attempt needed a connection: this is its worker run */
    struct rpc_slot *next; /* worker queue link */
} rpc_slot;

/* An inline context made for one nng callback thread. */
typedef struct rpc_inline_app {
    void *app;
    struct rpc_inline_app *next;
} rpc_inline_app;

struct rpc_server {
    nng_socket sock;
    listen_guard *listeners;
    rpc_conns *conns;
    rpc_server_config config;
    uint64_t generation; /* tells this server's per-thread inline contexts from a previous one's */
    ProtobufCService **services;
    unsigned char **inline_ok; /* [service][method] */
    int n_services;
    rpc_metrics *metrics; /* requests by method and status (rpc_metrics.h) */
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

/* The completion callback of every slot's aio, and a worker thread's body (rpc_server.c). */
void rpc_slot_callback(void *arg);
void *rpc_worker_main(void *arg);

/* Frees what a slot decoded for its request (rpc_server.c). */
void rpc_slot_clear(rpc_slot *sl);

#endif
