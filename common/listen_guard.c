/* listen_guard.c — the listeners of one nng socket, re-listened when nng 1.5.2 stops them
 * accepting (see listen_guard.h for the bug and the contract). */
#include "listen_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

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
    pthread_t thread;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
};

/* Milliseconds left until deadline_ms (monotonic), at least 0. */
static int guard_left_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - clock_mono_ms();

    return left > 0 ? (int)left : 0;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 not. */
static int guard_wait(int fd, short events, int64_t deadline_ms)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int rv = poll(&p, 1, guard_left_ms(deadline_ms));

        if (rv > 0)
            return 1;
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
static int guard_connect(const char *url, int64_t deadline_ms)
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
        (errno != EINPROGRESS || !guard_wait(fd, POLLOUT, deadline_ms) ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connects to url and completes the SP handshake as a peer_proto peer, expecting self_proto.
 * Returns the connected descriptor (the caller closes it), -1 on failure, -2 for a URL that is
 * not ipc:// or tcp://. */
static int guard_handshake(const char *url, uint16_t peer_proto, uint16_t self_proto,
                           int64_t deadline_ms)
{
    /* the SP handshake: "\0SP\0", protocol (big-endian), two reserved zero bytes */
    const uint8_t hello[8] = {0, 'S', 'P', 0, (uint8_t)(peer_proto >> 8), (uint8_t)peer_proto,
                              0, 0};
    uint8_t reply[8];
    size_t got = 0;
    int fd = guard_connect(url, deadline_ms);

    if (fd < 0)
        return fd;
    /* 8 bytes always fit an empty socket buffer: one write */
    if (send(fd, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello)
        goto fail;
    while (got < sizeof reply && guard_wait(fd, POLLIN, deadline_ms)) {
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
    int fd = guard_handshake(url, peer_proto, self_proto, clock_mono_ms() + timeout_ms);

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

/* Whether l works end to end: a handshake, and then the connection handed to the socket. (In
 * the broken state nng still accepts and answers the handshake, but never hands the connection
 * on, so the handshake alone proves nothing.) Returns 0, -1 or -2 like listen_guard_check. */
static int guard_check_listener(listen_guard *g, guarded_listener *l)
{
    int64_t deadline_ms = clock_mono_ms() + g->config.timeout_ms;
    uint64_t before = atomic_load(&l->pipes);
    int fd = guard_handshake(l->url, g->config.peer_proto, g->config.self_proto, deadline_ms);
    int rc = -1;

    if (fd < 0)
        return fd;
    while (clock_mono_ms() < deadline_ms) {
        if (atomic_load(&l->pipes) != before) {
            rc = 0;
            break;
        }
        usleep(2000);
    }
    close(fd);
    return rc;
}

/* Closes l's listener and listens on its URL again. */
static void guard_relisten(listen_guard *g, guarded_listener *l)
{
    int rv;

    nng_listener_close(l->listener);
    rv = nng_listen(g->sock, l->url, &l->listener, 0);
    atomic_store(&l->listener_id, rv == 0 ? nng_listener_id(l->listener) : -1);
    atomic_fetch_add(&g->restarts, 1);
    if (rv != 0)
        log_error("%s stopped accepting connections and cannot be listened on again: %s "
                  "(next attempt in %d ms)",
                  l->url, nng_strerror(rv), g->config.interval_ms);
    else
        log_warn("%s stopped accepting connections (nng 1.5.2 after a peer left mid-handshake):"
                 " listening again; its connections were closed and their clients reconnect",
                 l->url);
    l->failures = rv == 0 ? 0 : LISTEN_GUARD_FAILURES - 1;
}

static void *guard_main(void *arg)
{
    listen_guard *g = arg;

    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)g->config.interval_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!g->stopping && pthread_cond_timedwait(&g->wake, &g->lock, &until) == 0)
            ;
        if (g->stopping)
            break;
        pthread_mutex_unlock(&g->lock);
        for (int i = 0; i < g->n_listeners; i++) {
            guarded_listener *l = &g->listeners[i];
            int rc = guard_check_listener(g, l);

            if (rc == 0 || rc == -2)
                l->failures = 0;
            else if (++l->failures >= LISTEN_GUARD_FAILURES)
                guard_relisten(g, l);
        }
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
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
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->wake);
    free(g);
}

vs_status listen_guard_start(nng_socket sock, const listen_guard_config *config, listen_guard **out,
                             char *err, size_t errlen)
{
    listen_guard *g = calloc(1, sizeof *g);
    pthread_condattr_t ca;
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
    g->config.urls = NULL; /* not kept: each listener has its copy */
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
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
        if ((rv = nng_listen(sock, l->url, &l->listener, 0)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", l->url, nng_strerror(rv));
            guard_free(g);
            return VS_UNAVAILABLE;
        }
        atomic_store(&l->listener_id, nng_listener_id(l->listener));
    }
    if (config->interval_ms > 0) {
        if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
            snprintf(err, errlen, "cannot start the listener guard thread");
            guard_free(g);
            return VS_INTERNAL;
        }
        g->running = 1;
    }
    *out = g;
    return VS_OK;
}

void listen_guard_halt(listen_guard *g)
{
    if (g == NULL || !g->running)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->running = 0;
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
