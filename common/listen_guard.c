/* listen_guard.c — the listeners of one nng socket, re-listened when nng 1.5.2 stops them
 * accepting (see listen_guard.h for the bug and the contract). */
#include "listen_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bgthread.h"
#include "clock.h"
#include "log.h"
#include "tls.h"

#define LISTEN_GUARD_FAILURES 2 /* checks failed in a row before a listener is replaced */

typedef struct guarded_listener {
    char *url;
    nng_listener listener;
    atomic_int listener_id;     /* for the pipe callback, which runs on nng's threads */
    atomic_uint_fast64_t pipes; /* connections this listener has handed to the socket */
    int failures;
} guarded_listener;

struct listen_guard {
    nng_socket sock;
    listen_guard_config config;
    guarded_listener *listeners;
    int n_listeners;
    atomic_uint_fast64_t restarts;
    bgthread checker; /* started only when config.interval_ms > 0 */
    tls_files tls;    /* VS_TLS_*: a tls+tcp:// listener presents VS_TLS_CERT */
};

/* Milliseconds left until deadline_ms (monotonic), at least 0. */
static int guard_left_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - clock_mono_ms();

    return left > 0 ? (int)left : 0;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 not. wake_fd (the
 * checker's bgthread_wake_fd, or -1 for none) turning readable also ends the wait, with 0: a
 * stop does not wait out a check's timeout. */
static int guard_wait(int fd, short events, int64_t deadline_ms, int wake_fd)
{
    struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = wake_fd, .events = POLLIN}};

    for (;;) {
        int rv = poll(p, 2, guard_left_ms(deadline_ms)); /* a negative fd is skipped */

        if (rv > 0)
            return p[1].revents == 0 && p[0].revents != 0;
        if (rv == 0 || errno != EINTR)
            return 0;
    }
}

/* The socket address a check of url connects to (nng's own URL parser): 0, -1 for a URL it
 * cannot reach, -2 for one that is not ipc:// or tcp://. */
static int guard_address(const char *url, struct sockaddr_storage *ss, socklen_t *len)
{
    nng_url *u = NULL;
    int rc = -1;

    memset(ss, 0, sizeof *ss);
    if (nng_url_parse(&u, url) != 0)
        return -1;
    if (strcmp(u->u_scheme, "ipc") == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;

        if (strlen(u->u_path) < sizeof sun->sun_path) {
            sun->sun_family = AF_UNIX;
            strcpy(sun->sun_path, u->u_path);
            *len = sizeof *sun;
            rc = 0;
        }
    } else if (strcmp(u->u_scheme, "tcp") == 0) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        const char *host = u->u_hostname;

        /* a wildcard listener (host "*", empty, 0.0.0.0 or ::) is reached on loopback */
        if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        if (getaddrinfo(host, u->u_port, &hints, &ai) == 0 && ai != NULL) {
            memcpy(ss, ai->ai_addr, ai->ai_addrlen);
            *len = ai->ai_addrlen;
            rc = 0;
        }
        if (ai != NULL)
            freeaddrinfo(ai);
    } else {
        rc = -2;
    }
    nng_url_free(u);
    return rc;
}

/* A non-blocking socket connected to url's address, or -1 (-2: not ipc:// or tcp://). */
static int guard_connect(const char *url, int64_t deadline_ms, int wake_fd)
{
    struct sockaddr_storage ss;
    socklen_t len = 0, errlen = sizeof(int);
    int fd, err = 0, rc = guard_address(url, &ss, &len);

    if (rc != 0)
        return rc;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
        (errno != EINPROGRESS || !guard_wait(fd, POLLOUT, deadline_ms, wake_fd) ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connects to url and completes the SP handshake as a peer_proto peer, expecting self_proto.
 * Returns the connected descriptor (the caller closes it), -1 on failure (or when wake_fd, -1 for
 * none, turns readable), -2 for a URL that is not ipc:// or tcp://. */
static int guard_handshake(const char *url, uint16_t peer_proto, uint16_t self_proto,
                           int64_t deadline_ms, int wake_fd)
{
    /* the SP handshake: "\0SP\0", protocol (big-endian), two reserved zero bytes */
    const uint8_t hello[8] = {0, 'S', 'P', 0, (uint8_t)(peer_proto >> 8), (uint8_t)peer_proto,
                              0, 0};
    uint8_t reply[8];
    size_t got = 0;
    int fd = guard_connect(url, deadline_ms, wake_fd);

    if (fd < 0)
        return fd;
    /* 8 bytes always fit an empty socket buffer: one write */
    if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello)
        goto fail;
    while (got < sizeof reply && guard_wait(fd, POLLIN, deadline_ms, wake_fd)) {
        ssize_t n = recv(fd, reply + got, sizeof reply - got, 0);

        if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
            goto fail;
        if (n > 0)
            got += (size_t)n;
    }
    if (got == sizeof reply && memcmp(reply, "\0SP\0", 4) == 0 &&
        (uint16_t)(reply[4] << 8 | reply[5]) == self_proto)
        return fd;
fail:
    close(fd);
    return -1;
}

int listen_guard_check(const char *url, uint16_t peer_proto, uint16_t self_proto, int timeout_ms)
{
    int fd = guard_handshake(url, peer_proto, self_proto, clock_mono_ms() + timeout_ms, -1);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* Counts a connection handed to the socket against the listener that accepted it, then lets
 * the owner admit or refuse it. */
static void guard_on_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    listen_guard *g = arg;
    int id = nng_listener_id(nng_pipe_listener(pipe));

    for (int i = 0; id > 0 && i < g->n_listeners; i++)
        if (atomic_load(&g->listeners[i].listener_id) == id)
            atomic_fetch_add(&g->listeners[i].pipes, 1);
    if (g->config.on_pipe_added != NULL)
        g->config.on_pipe_added(pipe, ev, g->config.on_pipe_added_arg);
}

/* Waits until l has handed a connection to the socket since its pipe count was before: 0, or -1
 * at the deadline or a stop. The hand-over is seen as guard_on_pipe's counter moving. That
 * callback runs on nng's threads for every new connection of the socket and takes no lock, so
 * there is nothing to block on here: the counter is looked at in 2 ms steps, resting in
 * bgthread_wait so that a stop ends the wait at once. */
static int guard_wait_handed(listen_guard *g, guarded_listener *l, uint64_t before,
                             int64_t deadline_ms)
{
    while (clock_mono_ms() < deadline_ms) {
        if (atomic_load(&l->pipes) != before)
            return 0;
        if (bgthread_wait(&g->checker, 2))
            break;
    }
    return -1;
}

/* The check of a tls+tcp:// listener: a REQ peer of our own dials it through nng's TLS (verifying
 * the server against VS_TLS_CA like any client) and the connection must be handed to the socket.
 * nng 1.5.2 stalls a TLS listener like a TCP one when a client leaves mid-handshake (seen: a
 * client timing out during a slow TLS handshake). -2 (not checked) without VS_TLS_CA, for a
 * wildcard host, or for a socket whose peers are not REQ. */
static int guard_check_tls(listen_guard *g, guarded_listener *l, int64_t deadline_ms)
{
    uint64_t before = atomic_load(&l->pipes);
    nng_socket probe;
    nng_url *u = NULL;
    nng_dialer d;
    char err[512];
    int rc = -1, wildcard;

    if (g->tls.ca == NULL || g->config.peer_proto != LISTEN_GUARD_PROTO_REQ ||
        nng_url_parse(&u, l->url) != 0)
        return -2;
    wildcard = u->u_hostname[0] == '\0' || strcmp(u->u_hostname, "0.0.0.0") == 0 ||
               strcmp(u->u_hostname, "::") == 0;
    nng_url_free(u);
    if (wildcard)
        return -2;
    if (nng_req0_open(&probe) != 0)
        return -1;
    if (tls_dialer_create(probe, l->url, &g->tls, &d, err, sizeof err) == VS_OK &&
        nng_dialer_start(d, NNG_FLAG_NONBLOCK) == 0)
        rc = guard_wait_handed(g, l, before, deadline_ms);
    nng_close(probe);
    return rc;
}

/* Whether l works end to end: a handshake, and then the connection handed to the socket. (In
 * the broken state nng still accepts and answers the handshake, but never hands the connection
 * on, so the handshake alone proves nothing.) Returns 0, -1 or -2 like listen_guard_check; a
 * stop asked for meanwhile ends the check early with -1 (the caller then judges nothing). */
static int guard_check_listener(listen_guard *g, guarded_listener *l)
{
    int64_t deadline_ms = clock_mono_ms() + g->config.timeout_ms;
    uint64_t before = atomic_load(&l->pipes);
    int fd, rc;

    if (tls_url_is_tls(l->url))
        return guard_check_tls(g, l, deadline_ms);
    fd = guard_handshake(l->url, g->config.peer_proto, g->config.self_proto, deadline_ms,
                         bgthread_wake_fd(&g->checker));
    if (fd < 0)
        return fd;
    rc = guard_wait_handed(g, l, before, deadline_ms);
    close(fd);
    return rc;
}

/* Closes l's listener and listens on its URL again. */
static void guard_relisten(listen_guard *g, guarded_listener *l)
{
    char err[512];
    int rv;

    nng_listener_close(l->listener);
    if (tls_listen(g->sock, l->url, &g->tls, TLS_SERVER, &l->listener, &rv, err, sizeof err) !=
            VS_OK &&
        rv == 0)
        rv = NNG_EINVAL; /* a TLS setting that was good at start is no longer */
    atomic_store(&l->listener_id, rv == 0 ? nng_listener_id(l->listener) : -1);
    atomic_fetch_add(&g->restarts, 1);
    if (rv != 0)
        log_error("%s stopped accepting connections and cannot be listened on again: %s "
                  "(next attempt in %d ms)",
                  l->url, err, g->config.interval_ms);
    else
        log_warn("%s stopped accepting connections (nng 1.5.2 after a peer left mid-handshake):"
                 " listening again; its connections were closed and their clients reconnect",
                 l->url);
    l->failures = rv == 0 ? 0 : LISTEN_GUARD_FAILURES - 1;
}

/* The checker thread: every interval, checks each listener and replaces one that failed
 * LISTEN_GUARD_FAILURES checks in a row. A check cut short by a stop counts for nothing (no
 * listener is replaced while the owner is closing the socket). */
static void guard_main(bgthread *t, void *arg)
{
    listen_guard *g = arg;

    while (!bgthread_wait(t, g->config.interval_ms)) {
        for (int i = 0; i < g->n_listeners; i++) {
            guarded_listener *l = &g->listeners[i];
            int rc = guard_check_listener(g, l);

            if (bgthread_stopping(t))
                return;
            if (rc == 0 || rc == -2)
                l->failures = 0;
            else if (++l->failures >= LISTEN_GUARD_FAILURES)
                guard_relisten(g, l);
        }
    }
}

static void guard_free(listen_guard *g)
{
    nng_pipe_notify(g->sock, NNG_PIPE_EV_ADD_PRE, NULL, NULL); /* fails harmlessly if closed */
    for (int i = 0; i < g->n_listeners; i++) {
        if (nng_listener_id(g->listeners[i].listener) > 0)
            nng_listener_close(g->listeners[i].listener);
        free(g->listeners[i].url);
    }
    free(g->listeners);
    free(g);
}

vs_status listen_guard_start(nng_socket sock, const listen_guard_config *config, listen_guard **out,
                             char *err, size_t errlen)
{
    listen_guard *g = calloc(1, sizeof *g);
    vs_status rc;
    int rv;

    *out = NULL;
    if (g == NULL ||
        (g->listeners = calloc((size_t)config->n_urls, sizeof *g->listeners)) == NULL) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    g->sock = sock;
    g->config = *config;
    tls_files_from_env(&g->tls);
    g->config.urls = NULL; /* not kept: each listener has its copy */
    /* the socket's only ADD_PRE callback, set before listening so that no pipe passes
     * unseen: the guard owns the socket's listening side */
    if ((config->interval_ms > 0 || config->on_pipe_added != NULL) &&
        (rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, guard_on_pipe, g)) != 0) {
        snprintf(err, errlen, "nng_pipe_notify: %s", nng_strerror(rv));
        guard_free(g);
        return VS_INTERNAL;
    }
    for (int i = 0; i < config->n_urls; i++) {
        guarded_listener *l = &g->listeners[g->n_listeners];

        if ((l->url = strdup(config->urls[i])) == NULL) {
            snprintf(err, errlen, "out of memory");
            guard_free(g);
            return VS_RESOURCE_EXHAUSTED;
        }
        g->n_listeners++;
        if ((rc = tls_listen(sock, l->url, &g->tls, TLS_SERVER, &l->listener, &rv, err, errlen)) !=
            VS_OK) {
            /* err names the URL; an nng error of the start is an address not to be had */
            guard_free(g);
            return rv != 0 ? VS_UNAVAILABLE : rc;
        }
        atomic_store(&l->listener_id, nng_listener_id(l->listener));
    }
    if (config->interval_ms > 0 && (rc = bgthread_start(&g->checker, "vs-listen-guard", guard_main,
                                                        g, err, errlen)) != VS_OK) {
        guard_free(g);
        return rc;
    }
    *out = g;
    return VS_OK;
}

void listen_guard_halt(listen_guard *g)
{
    if (g != NULL)
        bgthread_stop(&g->checker); /* a no-op when it never ran or was halted already */
}

void listen_guard_stop(listen_guard *g)
{
    if (g == NULL)
        return;
    listen_guard_halt(g);
    guard_free(g);
}

uint64_t listen_guard_restarts(const listen_guard *g)
{
    return g != NULL ? atomic_load(&((listen_guard *)g)->restarts) : 0;
}
