/* vsd.h — the vsd process: configuration, per-thread resources, and the service tables.
 *
 * Each RPC thread (rpc_server.h calls them workers, and hands a call its vsd_thread as
 * call->worker) owns a vsd_thread: its own MariaDB primary and replica connections and
 * its own Redis connection, opened lazily and reopened after a failure, so a component that is
 * down at start-up or restarts later never needs a vsd restart. */
#ifndef VS_VSD_H
#define VS_VSD_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "redis.h"
#include "rpc_server.h"
#include "status.h"

#define VSD_MAX_URLS 8

typedef struct vsd_config {
    const char *urls[VSD_MAX_URLS];
    int n_urls;
    int threads;
    size_t max_message;
    const char *db_primary;
    const char *db_replica;
    int db_io_timeout_s; /* read/write timeout of the primary connections (VS_DB_IO_TIMEOUT_S) */
    const char *redis;
    const char *tz;
} vsd_config;

typedef enum vsd_db_role { VSD_PRIMARY, VSD_REPLICA } vsd_db_role;

typedef struct vsd_thread {
    int index;
    /* An inline context (rpc_server.h): no connections. Asking it for one sets blocked, which
     * makes the server run the call again on an RPC thread. */
    int is_inline;
    int blocked;
    MYSQL *primary;
    MYSQL *replica;
    redis_conn *redis;
    void *reads; /* the read path's statements and caches (reads.h), made on first use */
    /* Called by vsd_db_reset just before it closes role's connection. The read path, which keeps
     * prepared statements on it, sets this when it makes its state; the connection layer itself
     * knows nothing of statements. NULL: nothing to drop. */
    void (*conn_dropping)(struct vsd_thread *w, vsd_db_role role);
} vsd_thread;

/* Process-wide, set once in main before the server starts, read-only afterwards. */
extern vsd_config vsd_cfg;
extern int64_t vsd_started_mono_ms;

/* A usable connection of the thread for role, connecting if needed. A kept connection that the
 * server has closed meanwhile (restarted, killed it: db_conn_stale, no round trip) is replaced
 * first. NULL with err set (and the status in *rc) when the server cannot be reached, or when w
 * is an inline context. */
MYSQL *vsd_db(vsd_thread *w, vsd_db_role role, vs_status *rc, char *err, size_t errlen);

/* Drops the thread's connection for role after an error that left it unusable. */
void vsd_db_reset(vsd_thread *w, vsd_db_role role);

/* 1 when work on role's connection that began at started_ms (clock_mono_ms) and failed has run
 * into the connection's I/O timeout: the server is not answering, and repeating the work would
 * only make the caller wait as long again. */
int vsd_db_timed_out(vsd_db_role role, int64_t started_ms);

/* A unit of database work that is safe to run twice: a read, or a transaction from its start
 * whose writes are guarded by an event id or unique key (a repeat after a COMMIT that did land
 * finds the first outcome). It returns VS_UNAVAILABLE only when its connection failed (the
 * status db_status_from_errno gives a lost connection), with err set. */
typedef vs_status (*vsd_db_work)(MYSQL *db, void *arg, char *err, size_t errlen);

/* Runs work on the thread's connection for role. When the connection turns out to be lost
 * (VS_UNAVAILABLE: the server restarted, died or killed the session between vsd_db's check and
 * the statement) it is dropped, and work runs once more on a fresh connection — unless the
 * attempt ran into the I/O timeout: a server that does not answer would only double the wait. The
 * one way every request handler runs its repeatable statements, so none has its own reconnect loop.
 */
vs_status vsd_db_run(vsd_thread *w, vsd_db_role role, vsd_db_work work, void *arg, char *err,
                     size_t errlen);

/* The thread's Redis connection (reconnects by itself on use); NULL for an inline context. */
redis_conn *vsd_redis(vsd_thread *w);

/* Service tables, defined in svc_*.c. */
ProtobufCService *vsd_streaming_service(void);
ProtobufCService *vsd_user_service(void);

#endif
