/* rpc_conns.c — connection caps and the idle reaper of an rpc_server (see rpc_conns.h).
 *
 * The table is an open-addressing hash of pipe ids (linear probing, deletion by backward shift),
 * twice the connection cap in size, so a look-up on the request path is a probe or two. The
 * per-address count is a scan of the table, done only when a connection is added. */
#include "rpc_conns.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgthread.h"
#include "clock.h"
#include "log.h"

/* A peer's IP address as a comparable key: the family, then 4 or 16 address bytes. */
typedef struct conn_addr {
    uint8_t key[17];
    uint8_t len; /* 0: not an IP peer (ipc://), never counted per address */
} conn_addr;

typedef struct conn_entry {
    uint32_t pipe; /* 0: empty */
    int busy;      /* requests in service */
    int64_t last_ms;
    conn_addr addr;
} conn_entry;

struct rpc_conns {
    nng_socket sock;
    rpc_conns_config config;
    pthread_mutex_t lock;
    conn_entry *table;
    uint32_t mask;
    int open;
    uint32_t *reap; /* the reaper's list of pipes to close, max_connections long */
    atomic_uint_fast64_t accepted, refused, refused_per_address, timed_out;
    bgthread reaper;
};

static uint32_t conn_home(const rpc_conns *c, uint32_t pipe)
{
    return (pipe * 2654435761u) & c->mask;
}

/* The entry of pipe, or NULL. Call with the lock held. */
static conn_entry *conn_find(rpc_conns *c, uint32_t pipe)
{
    for (uint32_t i = conn_home(c, pipe);; i = (i + 1) & c->mask) {
        if (c->table[i].pipe == pipe)
            return &c->table[i];
        if (c->table[i].pipe == 0)
            return NULL;
    }
}

/* Removes e, shifting back the entries of its probe run so that no look-up stops early. */
static void conn_remove(rpc_conns *c, conn_entry *e)
{
    uint32_t i = (uint32_t)(e - c->table), j = i;

    c->table[i].pipe = 0;
    for (;;) {
        uint32_t k;

        j = (j + 1) & c->mask;
        if (c->table[j].pipe == 0)
            break;
        k = conn_home(c, c->table[j].pipe);
        /* the entry at j may move to i when its home is not cyclically within (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
            c->table[i] = c->table[j];
            c->table[j].pipe = 0;
            i = j;
        }
    }
    c->open--;
}

static void conn_addr_of(nng_pipe pipe, conn_addr *a)
{
    nng_sockaddr sa;

    memset(a, 0, sizeof *a);
    if (nng_pipe_get_addr(pipe, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET) {
        a->key[0] = 4;
        memcpy(a->key + 1, &sa.s_in.sa_addr, 4);
        a->len = 5;
    } else if (sa.s_family == NNG_AF_INET6) {
        a->key[0] = 6;
        memcpy(a->key + 1, sa.s_in6.sa_addr, 16);
        a->len = 17;
    }
}

void rpc_conns_pipe_added(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    rpc_conns *c = arg;
    uint32_t id = (uint32_t)nng_pipe_id(pipe);
    conn_addr addr;
    int same = 0, refuse = 0, per_address = 0;

    (void)ev;
    conn_addr_of(pipe, &addr);
    pthread_mutex_lock(&c->lock);
    if (c->open >= c->config.max_connections) {
        refuse = 1;
    } else if (addr.len > 0) {
        for (uint32_t i = 0; i <= c->mask; i++)
            if (c->table[i].pipe != 0 && c->table[i].addr.len == addr.len &&
                memcmp(c->table[i].addr.key, addr.key, addr.len) == 0)
                same++;
        refuse = per_address = same >= c->config.max_per_address;
    }
    if (!refuse) {
        uint32_t i = conn_home(c, id);

        while (c->table[i].pipe != 0)
            i = (i + 1) & c->mask;
        c->table[i] = (conn_entry){.pipe = id, .last_ms = clock_mono_ms(), .addr = addr};
        c->open++;
    }
    pthread_mutex_unlock(&c->lock);
    if (refuse) {
        /* closed before the protocol starts: the peer sees its connection end unanswered */
        atomic_fetch_add(&c->refused, 1);
        if (per_address)
            atomic_fetch_add(&c->refused_per_address, 1);
        nng_pipe_close(pipe);
    } else {
        atomic_fetch_add(&c->accepted, 1);
    }
}

/* NNG_PIPE_EV_REM_POST: a connection is gone (refused ones were never in the table). */
static void conns_pipe_removed(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    rpc_conns *c = arg;
    conn_entry *e;

    (void)ev;
    pthread_mutex_lock(&c->lock);
    if ((e = conn_find(c, (uint32_t)nng_pipe_id(pipe))) != NULL)
        conn_remove(c, e);
    pthread_mutex_unlock(&c->lock);
}

void rpc_conns_request_begin(rpc_conns *c, nng_pipe pipe)
{
    conn_entry *e;

    pthread_mutex_lock(&c->lock);
    if ((e = conn_find(c, (uint32_t)nng_pipe_id(pipe))) != NULL)
        e->busy++;
    pthread_mutex_unlock(&c->lock);
}

void rpc_conns_request_end(rpc_conns *c, nng_pipe pipe)
{
    conn_entry *e;

    pthread_mutex_lock(&c->lock);
    if ((e = conn_find(c, (uint32_t)nng_pipe_id(pipe))) != NULL) {
        if (e->busy > 0)
            e->busy--;
        e->last_ms = clock_mono_ms();
    }
    pthread_mutex_unlock(&c->lock);
}

/* One pass: closes every connection idle for the timeout. The pipes are closed after the lock
 * is released (closing one runs nng code that may call back into the table). */
static void conns_reap(rpc_conns *c)
{
    int64_t now = clock_mono_ms();
    int n = 0;

    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i <= c->mask && n < c->config.max_connections; i++) {
        conn_entry *e = &c->table[i];

        if (e->pipe != 0 && e->busy == 0 && now - e->last_ms >= c->config.idle_timeout_ms) {
            c->reap[n++] = e->pipe;
            e->last_ms = now; /* not again before nng reports it gone */
        }
    }
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < n; i++) {
        nng_pipe p = NNG_PIPE_INITIALIZER;

        p.id = c->reap[i];
        if (nng_pipe_close(p) == 0)
            atomic_fetch_add(&c->timed_out, 1);
    }
    if (n > 0)
        log_info("closed %d connection(s) without a complete request for %d ms", n,
                 c->config.idle_timeout_ms);
}

/* The reaper thread: a pass every quarter of the idle timeout, until stopped. */
static void conns_reaper_main(bgthread *t, void *arg)
{
    rpc_conns *c = arg;
    /* a connection is closed between 1 and 1.25 timeouts after its last request (at most 1 s
     * late for long timeouts) */
    int interval_ms = c->config.idle_timeout_ms / 4 > 1000 ? 1000 : c->config.idle_timeout_ms / 4;

    if (interval_ms < 10)
        interval_ms = 10;
    while (!bgthread_wait(t, interval_ms))
        conns_reap(c);
}

vs_status rpc_conns_start(nng_socket sock, const rpc_conns_config *config, rpc_conns **out,
                          char *err, size_t errlen)
{
    rpc_conns *c = calloc(1, sizeof *c);
    uint32_t size = 2;
    vs_status rc;
    int rv;

    *out = NULL;
    if (c == NULL)
        goto nomem;
    c->sock = sock;
    c->config = *config;
    while (size < 2u * (uint32_t)config->max_connections)
        size <<= 1;
    c->mask = size - 1;
    c->table = calloc(size, sizeof *c->table);
    c->reap = calloc((size_t)config->max_connections, sizeof *c->reap);
    if (c->table == NULL || c->reap == NULL)
        goto nomem;
    pthread_mutex_init(&c->lock, NULL);
    if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, conns_pipe_removed, c)) != 0) {
        snprintf(err, errlen, "nng_pipe_notify: %s", nng_strerror(rv));
        rpc_conns_free(c);
        return VS_INTERNAL;
    }
    if ((rc = bgthread_start(&c->reaper, "vs-conn-reaper", conns_reaper_main, c, err, errlen)) !=
        VS_OK) {
        rpc_conns_free(c);
        return rc;
    }
    *out = c;
    return VS_OK;

nomem:
    if (c != NULL) {
        free(c->table);
        free(c->reap);
        free(c);
    }
    snprintf(err, errlen, "out of memory");
    return VS_RESOURCE_EXHAUSTED;
}

void rpc_conns_get_stats(const rpc_conns *conns, rpc_conns_stats *out)
{
    rpc_conns *c = (rpc_conns *)conns;

    memset(out, 0, sizeof *out);
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    out->open = (uint64_t)c->open;
    pthread_mutex_unlock(&c->lock);
    out->accepted = atomic_load(&c->accepted);
    out->refused = atomic_load(&c->refused);
    out->refused_per_address = atomic_load(&c->refused_per_address);
    out->timed_out = atomic_load(&c->timed_out);
}

void rpc_conns_halt(rpc_conns *c)
{
    if (c != NULL)
        bgthread_stop(&c->reaper); /* a no-op when it never ran or was halted already */
}

void rpc_conns_free(rpc_conns *c)
{
    if (c == NULL)
        return;
    rpc_conns_halt(c);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, NULL, NULL); /* fails harmlessly if closed */
    pthread_mutex_destroy(&c->lock);
    free(c->table);
    free(c->reap);
    free(c);
}
