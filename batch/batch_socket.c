/* batch_socket.c — nng sockets of the batch (PUSH tasks, PULL results and their peers). */
#include "batch.h"

#include <stdio.h>

vs_status batch_socket(int (*open_fn)(nng_socket *), const char *url, int listen,
                       nng_pipe_cb on_pipe, void *on_pipe_arg, nng_socket *out, char *err,
                       size_t errlen)
{
    nng_socket s;
    int rv;

    if ((rv = open_fn(&s)) != 0) {
        snprintf(err, errlen, "nng socket: %s", nng_strerror(rv));
        return VS_INTERNAL;
    }
    if (on_pipe != NULL) {
        nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, on_pipe_arg);
        nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe, on_pipe_arg);
    }
    if ((rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, BATCH_MAX_MESSAGE)) != 0 ||
        (rv = listen ? nng_listen(s, url, NULL, 0) : nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) !=
            0) {
        snprintf(err, errlen, "%s %s: %s", listen ? "listen on" : "dial", url, nng_strerror(rv));
        nng_close(s);
        return rv == NNG_EADDRINUSE                       ? VS_ALREADY_EXISTS
               : rv == NNG_EINVAL || rv == NNG_EADDRINVAL ? VS_INVALID_ARGUMENT
                                                          : VS_UNAVAILABLE;
    }
    *out = s;
    return VS_OK;
}
