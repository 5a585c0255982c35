/* rpc_conns.h — the connections of an rpc_server's socket: how many a peer may hold, and for how
 * long without a complete request. Internal to common/ (rpc_server*.c).
 *
 * nng 1.5.2 allocates the size a peer announces in a message's length header as soon as the
 * header arrives, and never times a connection out: a peer that announces a message and sends a
 * few bytes of it holds that memory as long as it likes. The receive limit (NNG_OPT_RECVMAXSZ)
 * bounds one connection's cost; this module bounds how many there are and how long they last:
 *
 *  - a new connection (nng pipe, NNG_PIPE_EV_ADD_PRE) over the total cap, or over the cap for
 *    its peer's IP address (TCP peers only: every ipc:// peer has the same address, and local
 *    processes are kept out by the socket file's permissions), is closed before it can send;
 *  - a reaper thread closes connections that have had no request in service and delivered no
 *    complete request for the idle timeout: an idle peer, a peer stalled in the middle of a
 *    message, a peer that never sends. A REQ client reconnects by itself (and resends a request
 *    that was unanswered), so closing an idle client costs it one reconnect.
 *
 * Callbacks from nng take one mutex for a table look-up and never block otherwise. */
#ifndef VS_RPC_CONNS_H
#define VS_RPC_CONNS_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct rpc_conns rpc_conns;

typedef struct rpc_conns_config {
    int max_connections; /* open at once, >= 1 */
    int max_per_address; /* open at once from one IP address (TCP), >= 1 */
    int idle_timeout_ms; /* without a complete request and none in service, >= 1 */
    const char *name;    /* for logs */
} rpc_conns_config;

typedef struct rpc_conns_stats {
    uint64_t open, accepted, refused, timed_out;
    uint64_t refused_per_address; /* of refused: over the per-address cap (else the total cap) */
} rpc_conns_stats;

/* Makes the table and starts the reaper; registers the socket's NNG_PIPE_EV_REM_POST callback.
 * Call before the socket listens; the owner passes new pipes to rpc_conns_pipe_added. */
vs_status rpc_conns_start(nng_socket sock, const rpc_conns_config *config, rpc_conns **out,
                          char *err, size_t errlen);

/* An NNG_PIPE_EV_ADD_PRE callback (arg: the rpc_conns): admits the pipe or closes it. */
void rpc_conns_pipe_added(nng_pipe pipe, nng_pipe_ev ev, void *arg);

/* A complete request arrived on pipe (nng_msg_get_pipe), and its reply was sent or dropped:
 * a connection with a request in service is never idle. Unknown pipes are ignored. */
void rpc_conns_request_begin(rpc_conns *conns, nng_pipe pipe);
void rpc_conns_request_end(rpc_conns *conns, nng_pipe pipe);

void rpc_conns_get_stats(const rpc_conns *conns, rpc_conns_stats *out);

/* Stops the reaper (connections stay open). NULL is a no-op. */
void rpc_conns_halt(rpc_conns *conns);

/* Halts and frees; only once the socket is closed (its callbacks may run until then). */
void rpc_conns_free(rpc_conns *conns);

#endif
