/* listen_guard.h — keeps an nng socket's listeners accepting despite nng 1.5.2's listener bug.
 *
 * In nng 1.5.2 (Debian 12) a peer that disconnects in the middle of the SP handshake makes the
 * listener stop accepting for good: the transport reports NNG_ECLOSED for that one connection and
 * the listener takes it for its own close (nng bug #1518, fixed after 1.5.2). Existing
 * connections keep working, new ones are never answered: a half-open probe, a client closed while
 * its connection was being set up, or a port scanner is enough to cut a server off.
 *
 * A guard owns the listeners of one socket. Its thread checks each of them every interval: it
 * connects from a plain socket (ipc:// and tcp:// URLs; a tls+tcp:// one is dialled through
 * nng's TLS by a REQ peer of its own when VS_TLS_CA is set; others are listened on but not
 * checked),
 * completes the SP handshake as a peer of the socket's protocol, and waits for the socket to
 * report the connection as a new pipe of that listener (a broken listener still answers the
 * handshake in the transport, but never hands the connection on). A listener that fails two
 * checks in a row is closed (its connections with it: REQ peers resend on reconnect) and
 * listened again on its URL. The guard takes the socket's NNG_PIPE_EV_ADD_PRE callback (a pipe
 * counts as handed on there, even if the owner then refuses it) and passes each new pipe on to
 * the owner's on_pipe_added.
 * The check connection carries no message, so no peer protocol sees a
 * message lost. Use it only where a probe peer is harmless: REP and PULL listeners, not PUSH (a
 * PUSH socket could send a task to the probe). */
#ifndef VS_LISTEN_GUARD_H
#define VS_LISTEN_GUARD_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* SP protocol numbers as they appear in the handshake. */
#define LISTEN_GUARD_PROTO_REQ 0x30
#define LISTEN_GUARD_PROTO_REP 0x31
#define LISTEN_GUARD_PROTO_PUSH 0x50
#define LISTEN_GUARD_PROTO_PULL 0x51

typedef struct listen_guard listen_guard;

typedef struct listen_guard_config {
    const char *const *urls; /* listened on in order; copied */
    int n_urls;
    uint16_t peer_proto; /* what the probe says it is (REQ for a REP socket) */
    uint16_t self_proto; /* what the socket must answer (REP) */
    int interval_ms;     /* between checks; 0: listen only, never check */
    int timeout_ms;      /* for one check's connect and reply */
    /* called for every new pipe of the socket from NNG_PIPE_EV_ADD_PRE (it may close the pipe to
     * refuse it); may be NULL */
    nng_pipe_cb on_pipe_added;
    void *on_pipe_added_arg;
} listen_guard_config;

/* Listens on every URL of config on sock and, unless interval_ms is 0, starts the checking
 * thread. A tls+tcp:// URL presents VS_TLS_CERT/VS_TLS_KEY (common/tls.h, role TLS_SERVER: the
 * client verifies the server; callers authenticate in the call, with their token). On failure
 * nothing is left listening and err says which URL (and which TLS setting) failed. */
vs_status listen_guard_start(nng_socket sock, const listen_guard_config *config, listen_guard **out,
                             char *err, size_t errlen);

/* Stops the checking thread, leaving the listeners as they are (a server about to close its
 * socket). NULL is a no-op. */
void listen_guard_halt(listen_guard *guard);

/* Stops the checking thread and closes the listeners (their connections too). NULL is a no-op. */
void listen_guard_stop(listen_guard *guard);

/* How many times a listener was found not accepting and listened again. */
uint64_t listen_guard_restarts(const listen_guard *guard);

/* The handshake part of a check, on its own: 0 when whatever listens on url completed the SP
 * handshake as self_proto with a peer_proto peer within timeout_ms, -1 otherwise (refused, timed
 * out, wrong protocol), -2 when url is not an ipc:// or tcp:// URL. */
int listen_guard_check(const char *url, uint16_t peer_proto, uint16_t self_proto, int timeout_ms);

#endif
