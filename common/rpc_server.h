/* rpc_server.h — the server side of the envelope protocol over nng REP.
 *
 * An rpc_server binds one REP socket to one or more URLs. It keeps a pool of slots, each an nng
 * context with a receive outstanding, and serves them from nng's completion callbacks:
 *
 *  - A method the application marks inline (config.may_run_inline) runs right in the callback, on
 *    a per-thread application context without connections (config.inline_init). If the handler
 *    needs to block there — it asks that context for a DB or Redis connection — the application
 *    says so through config.inline_blocked, and the call is discarded and run again from the start
 *    on a worker thread. So an inline handler must do nothing irreversible before its first
 *    blocking step; read handlers and the front half of Play qualify.
 *  - Everything else goes to a queue served by N worker threads, each with its own application
 *    context (its DB and Redis connections, made by worker_init), so a handler never shares a
 *    connection with another thread.
 *  - A handler may defer its reply (rpc_defer): it returns without calling its closure, and
 *    whichever thread finishes the work later calls the closure; the reply is sent from there.
 *    No thread waits for it.
 *
 * Services are protoc-c generated service structs (e.g. Vs__V1__StreamingService_Service built with
 * VS__V1__STREAMING_SERVICE__INIT(prefix_)). Dispatch finds the service by the envelope's method
 * path, bounds-checks the method index, decodes the payload with the method's input descriptor and
 * calls service->invoke. A handler finishes by calling the closure exactly once: with its reply on
 * success, or with NULL after rpc_fail(). The closure_data a handler receives is its rpc_call. */
#ifndef VS_RPC_SERVER_H
#define VS_RPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef struct rpc_server rpc_server;

/* One request being served; valid for the duration of the handler. */
typedef struct rpc_call {
    void *worker; /* the worker's application context (worker_init's result) */
    int worker_index;
    const char *method;        /* "/vs.v1.StreamingService/Play" */
    const char *authorization; /* as sent; "" when absent */
    uint64_t request_id;
    int64_t deadline_unix_ms; /* 0 = none */
    int64_t received_mono_us;
    /* filled by the handler */
    vs_status status;
    char message[512];
    uint8_t *reply;
    size_t reply_len;
    int closed;    /* closure called */
    int is_inline; /* running in an nng callback on an inline context: must not block */
    int deferred;  /* rpc_defer() was called */
    void *server_private;
} rpc_call;

/* The largest request a vs client legitimately sends is under 4 KiB (a SignUp or CreateVideo
 * at every field's limit with a token of the largest accepted size; tests/unit/test_rpc_limits.c
 * measures it): 16 KiB leaves room and keeps a stalled connection's cost small. */
#define RPC_DEFAULT_MAX_MESSAGE 16384
#define RPC_DEFAULT_MAX_CONNECTIONS 1000
#define RPC_DEFAULT_MAX_PER_ADDRESS 64
#define RPC_DEFAULT_IDLE_TIMEOUT_MS 60000

typedef struct rpc_server_config {
    const char *const *urls; /* listen URLs: tcp://127.0.0.1:7400, ipc:///path */
    int n_urls;
    int threads;        /* worker threads, each with its own context; >= 1 */
    size_t max_message; /* NNG_OPT_RECVMAXSZ; larger requests are refused unallocated */
    /* connections (rpc_conns.h); 0: the defaults below */
    int max_connections;             /* open at once; RPC_DEFAULT_MAX_CONNECTIONS */
    int max_connections_per_address; /* from one TCP peer address; RPC_DEFAULT_MAX_PER_ADDRESS */
    int idle_timeout_ms; /* closed without a complete request; RPC_DEFAULT_IDLE_TIMEOUT_MS */
    const char *name;    /* for logs: "vsd" */
    /* Per-worker application context, created in the worker thread before it serves. May be NULL.
     * A non-zero return stops the server from starting. */
    int (*worker_init)(int index, void **ctx);
    void (*worker_fini)(void *ctx);
    /* Optional inline execution (see the top of this file). may_run_inline is asked once per
     * method at start; inline_init makes the context of one nng callback thread on its first
     * inline call (freed with worker_fini at stop); inline_blocked reports — and clears — that
     * the handler just run on ctx needed to block. All three or none. */
    int (*may_run_inline)(const char *service, const char *method);
    int (*inline_init)(void **ctx);
    int (*inline_blocked)(void *ctx);
    int slots; /* requests in service at once (nng contexts); 0: 4 per thread, at least 64 */
    /* how often the listeners are checked to still accept connections (listen_guard.h);
     * 0: the default, 500 ms; negative: never */
    int listen_check_ms;
} rpc_server_config;

/* Creates the server, binds all URLs (with the size limit set before listening) and starts the
 * workers. Returns a status; err names the URL that failed. */
vs_status rpc_server_start(const rpc_server_config *config, ProtobufCService *const *services,
                           int n_services, rpc_server **out, char *err, size_t errlen);

/* Closes the socket, joins the workers, runs worker_fini and frees the server. */
void rpc_server_stop(rpc_server *server);

/* Requests served since start (all outcomes). */
uint64_t rpc_server_requests(const rpc_server *server);

/* How calls have been run since start (see RpcStats in envelope.proto). */
typedef struct rpc_server_stats {
    uint64_t requests, served_inline, served_on_worker, rerun_on_worker, deferred;
    uint64_t listener_restarts; /* listeners found not accepting and listened again */
    /* connections: open now; since start accepted, refused by a cap, closed idle */
    uint64_t connections_open, connections_accepted, connections_refused, connections_timed_out;
    uint64_t connections_refused_per_address; /* of connections_refused */
    int slots, workers;
} rpc_server_stats;

void rpc_server_get_stats(const rpc_server *server, rpc_server_stats *out);

/* The server's metrics (metrics.h), as a metrics_source collector (arg: the rpc_server): requests
 * by method and status and their latency, connections open, accepted, refused and closed idle,
 * listener restarts (rpc_metrics.c). */
struct metrics_text;
void rpc_server_metrics_collect(struct metrics_text *t, void *server);

/* The server serving call (for a handler that reports on it, e.g. Health). */
const rpc_server *rpc_call_server(const rpc_call *call);

/* Marks the call failed with code and a message (printf-style). The handler then calls its
 * closure with NULL. */
void rpc_fail(rpc_call *call, vs_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Declares that the handler will answer later: it returns without calling its closure, and some
 * thread calls the closure exactly once afterwards (possibly before the handler has returned);
 * the reply is sent from that call. The rpc_call stays valid until then. */
void rpc_defer(rpc_call *call);

/* The caller's network source, for per-source limits, written to out (>= 48 bytes): "ip:192.0.2.7"
 * for IPv4, "ip6:2001:db8:1:2::/64" for IPv6 (the /64 a single host is usually given), and "local"
 * for ipc:// and inproc:// callers, which are all one source (the local host). "unknown" when
 * the address cannot be read. Returns out. Valid while the call is. */
const char *rpc_call_source(const rpc_call *call, char *out, size_t outlen);

/* Bearer token of the call without the "Bearer " prefix; "" when none. */
const char *rpc_bearer(const rpc_call *call);

#endif
