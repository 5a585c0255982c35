/* batch_socket.c — nng sockets of the batch (PUSH tasks, PULL results and their peers). */
#include "batch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "tls.h"

/* A worker on a tls+tcp:// URL must have a certificate for the coordinator. */
static vs_status batch_need_cert(const char *url, const tls_files *files, char *err, size_t errlen)
{
    if (tls_url_is_tls(url) && (files->cert == NULL || files->key == NULL)) {
        snprintf(err, errlen,
                 "%s: %s is not set: the coordinator admits only workers with a certificate "
                 "signed by VS_TLS_CA (mutual TLS); set VS_TLS_CERT and VS_TLS_KEY",
                 url, files->cert == NULL ? "VS_TLS_CERT" : "VS_TLS_KEY");
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status batch_socket_check(const char *url, int listen, char *err, size_t errlen)
{
    nng_tls_config *cfg = NULL;
    tls_files files;
    vs_status st;

    if (!tls_url_is_tls(url))
        return VS_OK;
    tls_files_from_env(&files);
    if (!listen && (st = batch_need_cert(url, &files, err, errlen)) != VS_OK)
        return st;
    /* the server name does not matter here: only the files are checked */
    if ((st = tls_config_new(&files, listen ? TLS_SERVER_MUTUAL : TLS_CLIENT, "localhost", &cfg,
                             err, errlen)) != VS_OK)
        return st;
    nng_tls_config_free(cfg);
    return VS_OK;
}

/* Dials url on s (in the background: nng keeps redialling an absent peer). */
static vs_status batch_dial(nng_socket s, const char *url, const tls_files *files, nng_dialer *out,
                            char *err, size_t errlen)
{
    nng_dialer d;
    vs_status st;
    int rv;

    if ((st = batch_need_cert(url, files, err, errlen)) != VS_OK)
        return st;
    if ((st = tls_dialer_create(s, url, files, &d, err, errlen)) != VS_OK)
        return st;
    if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
        snprintf(err, errlen, "dial %s: %s", url, nng_strerror(rv));
        nng_dialer_close(d);
        return rv == NNG_EINVAL || rv == NNG_EADDRINVAL ? VS_INVALID_ARGUMENT : VS_UNAVAILABLE;
    }
    if (out != NULL)
        *out = d;
    return VS_OK;
}

/* batch_socket, also handing back the dialer of a dialling socket (dialer may be NULL). */
static vs_status batch_socket_open(int (*open_fn)(nng_socket *), const char *url, int listen,
                                   nng_pipe_cb on_pipe, void *on_pipe_arg, nng_socket *out,
                                   nng_dialer *dialer, char *err, size_t errlen)
{
    tls_files files;
    nng_listener l;
    nng_socket s;
    vs_status st;
    int rv;

    if ((rv = open_fn(&s)) != 0) {
        snprintf(err, errlen, "nng socket: %s", nng_strerror(rv));
        return VS_INTERNAL;
    }
    if (on_pipe != NULL) {
        nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_pipe, on_pipe_arg);
        nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe, on_pipe_arg);
    }
    if ((rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, BATCH_MAX_MESSAGE)) != 0) {
        snprintf(err, errlen, "%s: receive size limit: %s", url, nng_strerror(rv));
        nng_close(s);
        return VS_INTERNAL;
    }
    tls_files_from_env(&files);
    st = listen ? tls_listen(s, url, &files, TLS_SERVER_MUTUAL, &l, NULL, err, errlen)
                : batch_dial(s, url, &files, dialer, err, errlen);
    if (st != VS_OK) {
        nng_close(s);
        return st;
    }
    *out = s;
    return VS_OK;
}

vs_status batch_socket(int (*open_fn)(nng_socket *), const char *url, int listen,
                       nng_pipe_cb on_pipe, void *on_pipe_arg, nng_socket *out, char *err,
                       size_t errlen)
{
    return batch_socket_open(open_fn, url, listen, on_pipe, on_pipe_arg, out, NULL, err, errlen);
}

static void batch_link_on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    batch_link *l = arg;

    (void)pipe;
    atomic_fetch_add(&l->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

vs_status batch_link_open(batch_link *l, int (*open_fn)(nng_socket *), const char *url, char *err,
                          size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->url = url;
    l->alone_since_ms = clock_mono_ms();
    return batch_socket_open(open_fn, url, 0, batch_link_on_pipe, l, &l->sock, &l->dialer, err,
                             errlen);
}

int batch_link_check(batch_link *l)
{
    int64_t now = clock_mono_ms();

    if (atomic_load(&l->pipes) > 0) {
        l->alone_since_ms = 0;
        return 0;
    }
    if (l->alone_since_ms == 0) {
        l->alone_since_ms = now;
        return 0;
    }
    if (now - l->alone_since_ms < BATCH_REDIAL_MS)
        return 0;
    batch_link_redial(l);
    return 1;
}

void batch_link_redial(batch_link *l)
{
    tls_files files;
    char err[512];

    nng_dialer_close(l->dialer);
    tls_files_from_env(&files);
    if (batch_dial(l->sock, l->url, &files, &l->dialer, err, sizeof err) != VS_OK)
        log_warn("%s: dialling again: %s", l->url, err);
    l->alone_since_ms = clock_mono_ms();
}

void batch_link_close(batch_link *l)
{
    nng_close(l->sock);
}
