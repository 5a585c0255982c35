/* worker.c — per-thread resources of vsd: lazy, self-healing DB and Redis connections.
 *
 * Replica connections carry read/write timeouts (VSD_REPLICA_IO_TIMEOUT_S), so a hung replica
 * fails a read — which the read path then retries on the primary — instead of blocking the
 * worker. */
#include "vsd.h"

#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "reads.h"

#define VSD_REPLICA_IO_TIMEOUT_S 3

vsd_config vsd_cfg;
int64_t vsd_started_mono_ms;

MYSQL *vsd_db(vsd_worker *w, vsd_db_role role, vs_status *rc, char *err, size_t errlen)
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
    if (*slot != NULL)
        return *slot;
    if (role == VSD_PRIMARY)
        *rc = db_connect(url, 2, slot, err, errlen);
    else
        *rc = db_connect_io(url, 2, VSD_REPLICA_IO_TIMEOUT_S, slot, err, errlen);
    if (*rc != VS_OK) {
        log_warn("worker %d: %s unreachable: %s", w->index,
                 role == VSD_PRIMARY ? "primary" : "replica", err);
        return NULL;
    }
    return *slot;
}

void vsd_db_reset(vsd_worker *w, vsd_db_role role)
{
    MYSQL **slot = role == VSD_PRIMARY ? &w->primary : &w->replica;

    if (*slot != NULL) {
        read_exec_conn_dropped(w, role); /* statements die with their connection */
        mysql_close(*slot);
        *slot = NULL;
    }
}

redis_conn *vsd_redis(vsd_worker *w)
{
    if (w->is_inline)
        w->blocked = 1;
    return w->redis;
}
