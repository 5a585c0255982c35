/* thread.c — per-thread resources of vsd: lazy, self-healing DB and Redis connections.
 *
 * A connection the server closed while it sat idle (a restart of the primary leaves every RPC
 * thread holding one) is found before use without a round trip (db_conn_stale) and replaced; one
 * lost during a statement fails that statement, and vsd_db_run repeats repeatable work once on a
 * fresh connection. So after a restart no call fails once the server answers again.
 *
 * Replica connections carry read/write timeouts (VSD_REPLICA_IO_TIMEOUT_S), so a hung replica
 * fails a read — which the read path then retries on the primary — instead of blocking the
 * thread; primary connections carry VS_DB_IO_TIMEOUT_S, so a hung primary (a full disk, a lock)
 * fails the call UNAVAILABLE instead of holding the thread past every deadline. */
#include "vsd.h"

#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "db.h"
#include "log.h"

#define VSD_REPLICA_IO_TIMEOUT_S 3

vsd_config vsd_cfg;
int64_t vsd_started_mono_ms;

MYSQL *vsd_db(vsd_thread *w, vsd_db_role role, vs_status *rc, char *err, size_t errlen)
{
    MYSQL **slot = role == VSD_PRIMARY ? &w->primary : &w->replica;
    const char *url = role == VSD_PRIMARY ? vsd_cfg.db_primary : vsd_cfg.db_replica;

    *rc = VS_OK;
    if (w->is_inline) {
        w->blocked = 1;
        *rc = VS_UNAVAILABLE;
        snprintf(err, errlen, "no connection on an inline context");
        return NULL;
    }
    if (*slot != NULL && db_conn_stale(*slot)) {
        log_info("thread %d: %s connection closed by the server; reconnecting", w->index,
                 role == VSD_PRIMARY ? "primary" : "replica");
        vsd_db_reset(w, role);
    }
    if (*slot != NULL)
        return *slot;
    if (role == VSD_PRIMARY)
        *rc = db_connect_io(url, 2, vsd_cfg.db_io_timeout_s, slot, err, errlen);
    else
        *rc = db_connect_io(url, 2, VSD_REPLICA_IO_TIMEOUT_S, slot, err, errlen);
    if (*rc != VS_OK) {
        log_warn("thread %d: %s unreachable: %s", w->index,
                 role == VSD_PRIMARY ? "primary" : "replica", err);
        return NULL;
    }
    return *slot;
}

void vsd_db_reset(vsd_thread *w, vsd_db_role role)
{
    MYSQL **slot = role == VSD_PRIMARY ? &w->primary : &w->replica;

    if (*slot != NULL) {
        if (w->conn_dropping != NULL)
            w->conn_dropping(w, role); /* statements die with their connection */
        mysql_close(*slot);
        *slot = NULL;
    }
}

int vsd_db_timed_out(vsd_db_role role, int64_t started_ms)
{
    int64_t timeout_ms =
        1000LL * (role == VSD_PRIMARY ? vsd_cfg.db_io_timeout_s : VSD_REPLICA_IO_TIMEOUT_S);

    /* a timeout fires after at least timeout_ms; a tenth less allows for clock granularity */
    return clock_mono_ms() - started_ms >= timeout_ms - timeout_ms / 10;
}

vs_status vsd_db_run(vsd_thread *w, vsd_db_role role, vsd_db_work work, void *arg, char *err,
                     size_t errlen)
{
    vs_status rc = VS_UNAVAILABLE;

    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL *db = vsd_db(w, role, &rc, err, errlen);
        int64_t t0 = clock_mono_ms();
        int again;

        if (db == NULL)
            return rc;
        if ((rc = work(db, arg, err, errlen)) != VS_UNAVAILABLE)
            return rc;
        again = attempt == 0 && !vsd_db_timed_out(role, t0);
        log_warn("thread %d: %s connection lost%s: %s", w->index,
                 role == VSD_PRIMARY ? "primary" : "replica",
                 again ? ", running the statement again on a new one" : "", err);
        vsd_db_reset(w, role);
        if (!again)
            break;
    }
    return rc;
}

redis_conn *vsd_redis(vsd_thread *w)
{
    if (w->is_inline)
        w->blocked = 1;
    return w->redis;
}
