/* batch.h — what the coordinator and the workers agree on: job states (as stored in batch_job,
 * sql/0004_batch.sql), the job name, nng socket helpers; partition states, lease epochs and the
 * lease fence are core's (lease.h). */
#ifndef VS_BATCH_H
#define VS_BATCH_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>
#include "lease.h"
#include "status.h"

#define BATCH_JOB_DAILY "daily-settlement"

/* batch_job.state: the vs.v1.JobState numbers */
enum { JOB_PENDING = 1, JOB_RUNNING = 2, JOB_MERGING = 3, JOB_COMPLETED = 4, JOB_FAILED = 5 };

/* Largest task/result message accepted (NNG_OPT_RECVMAXSZ); both are a few dozen bytes. */
#define BATCH_MAX_MESSAGE 65536

/* Opens a socket of the given kind (nng_push0_open, ...), sets the receive size limit, and binds
 * (listen != 0) or dials url. Dialing never fails for an absent peer: nng keeps redialling.
 * on_pipe, when not NULL, is registered for pipes added and removed before the socket listens or
 * dials, so no connection is missed (a peer already dialling connects at once).
 * A tls+tcp:// url is mutual TLS (tls.h): the listening side (the coordinator) presents
 * VS_TLS_CERT and admits only peers whose certificate VS_TLS_CA signed; the dialling side (a
 * worker) verifies the coordinator against VS_TLS_CA and presents its own VS_TLS_CERT, which it
 * must have. A missing or wrong setting is VS_INVALID_ARGUMENT, with err naming it. */
vs_status batch_socket(int (*open_fn)(nng_socket *), const char *url, int listen,
                       nng_pipe_cb on_pipe, void *on_pipe_arg, nng_socket *out, char *err,
                       size_t errlen);

/* A worker's dialled socket that can be dialled afresh. With nng 1.5.2 over TLS, a worker host
 * cut off and brought back was seen to keep its task connection as a pipe that never delivered
 * again, and nng never dialled again (the healed worker got no task). So a link is dialled afresh
 * by batch_link_check while it has had no connection for BATCH_REDIAL_MS (with the coordinator
 * simply down that only restarts a dialer that was retrying anyway), and by batch_link_redial
 * whenever the worker has reason to distrust it (a failed task). */
#define BATCH_REDIAL_MS 3000

typedef struct batch_link {
    nng_socket sock;
    nng_dialer dialer;
    const char *url;        /* outlives the link */
    _Atomic int pipes;      /* connections open now (nng's pipe callbacks) */
    int64_t alone_since_ms; /* monotonic: since when pipes is 0; 0 while connected */
} batch_link;

/* batch_socket(open_fn, url, 0, ...) for a link: dials url in the background. */
vs_status batch_link_open(batch_link *l, int (*open_fn)(nng_socket *), const char *url, char *err,
                          size_t errlen);

/* Call every few hundred milliseconds from the link's thread: restarts the dialer when the socket
 * has had no connection for BATCH_REDIAL_MS. Returns 1 when it did. */
int batch_link_check(batch_link *l);

/* Closes the dialer and its connections and dials afresh, whatever their state: for a link whose
 * connection may be a zombie (nng 1.5.2 can keep a TLS connection the network cut as a pipe
 * that never delivers again, and then never redials). */
void batch_link_redial(batch_link *l);

/* Closes the socket (and its dialer). */
void batch_link_close(batch_link *l);

/* The TLS settings batch_socket would use for url, checked without opening anything: VS_OK for
 * a plaintext URL, or for a tls+tcp:// one whose files are all there and right. For a program to
 * refuse bad settings at start rather than in a thread. */
vs_status batch_socket_check(const char *url, int listen, char *err, size_t errlen);

#endif
