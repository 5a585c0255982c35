/* worker_lease.c — the lease keeper: one thread per vs-worker process that renews the leases its
 * worker threads hold, so a live worker on a long partition keeps it while a dead one's lease
 * runs out (and the coordinator, which also sees its connections close, re-issues it at once).
 *
 * A renewal is one UPDATE of batch_partition under the task's lease epoch: the repository stays
 * the only truth. If it matches nothing, the lease was superseded (or the partition is done) and
 * the keeper stops renewing it; the worker thread's own commit, also under the epoch, then
 * commits nothing. The keeper has its own primary connection, since a worker thread's
 * connections are busy streaming its partition. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "worker.h"

/* A lease is renewed when a third of it has passed, so two renewals may fail before it ends. */
#define LEASE_RENEW_DIVISOR 3
#define LEASE_KEEPER_IDLE_MS 1000

static void lease_wait(worker_leases *l, int64_t ms)
{
    const struct timespec until = clock_realtime_after(ms);
    pthread_cond_timedwait(&l->wake, &l->lock, &until);
}

/* Extends one lease to now + lease_ms under its epoch. *held is 0 when the row no longer has that
 * epoch in the leased state. Called without the lock. */
static vs_status lease_renew(worker_leases *l, const worker_lease *lease, int *held, char *err,
                             size_t errlen)
{
    char sql[512], fence[96];
    vs_status rc;

    *held = 1;
    if (l->db == NULL) {
        if ((rc = db_connect_io(l->cfg->primary_url, 5, WORKER_DB_IO_TIMEOUT_S, &l->db, err,
                                errlen)) != VS_OK)
            return rc;
        /* a worker committing the same partition holds its row: never wait long behind it */
        if ((rc = db_exec(l->db, "SET SESSION innodb_lock_wait_timeout = 1", err, errlen)) != VS_OK)
            goto drop;
    }
    lease_fence_sql(LEASE_HOLD, "", lease->epoch, fence, sizeof fence);
    snprintf(sql, sizeof sql,
             "UPDATE batch_partition SET lease_deadline_ms = %" PRId64 " WHERE job_id = %" PRIu64
             " AND part = %u AND %s",
             clock_now_ms() + lease->lease_ms, lease->job_id, lease->part, fence);
    rc = db_exec(l->db, sql, err, errlen);
    if (rc == VS_ABORTED)
        return VS_OK; /* the row is being committed; try again at the next turn */
    if (rc != VS_OK)
        goto drop;
    /* renewals are a third of a lease apart, so a held lease's deadline always changes */
    *held = mysql_affected_rows(l->db) == 1;
    return VS_OK;
drop:
    mysql_close(l->db);
    l->db = NULL;
    return rc;
}

static void *lease_keeper(void *arg)
{
    worker_leases *l = arg;
    char err[512];

    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        int64_t now = clock_mono_ms(), next = now + LEASE_KEEPER_IDLE_MS;

        for (int i = 0; i < l->n && !l->stopping; i++) {
            worker_lease lease = l->slots[i];
            int64_t due = lease.renewed_mono_ms + lease.lease_ms / LEASE_RENEW_DIVISOR;
            int held;
            vs_status rc;

            if (!lease.active || lease.lost)
                continue;
            if (due > now) {
                if (due < next)
                    next = due;
                continue;
            }
            pthread_mutex_unlock(&l->lock);
            rc = lease_renew(l, &lease, &held, err, sizeof err);
            pthread_mutex_lock(&l->lock);
            if (rc != VS_OK)
                log_warn("lease of job %" PRIu64 " part %u not renewed: %s: %s", lease.job_id,
                         lease.part, status_name(rc), err);
            /* the thread may have moved on to another task meanwhile */
            if (!l->slots[i].active || l->slots[i].epoch != lease.epoch)
                continue;
            if (rc == VS_OK && !held) {
                l->slots[i].lost = 1;
                log_info("job %" PRIu64 " part %u: lease epoch %" PRIu64
                         " is no longer ours; not renewed",
                         lease.job_id, lease.part, lease.epoch);
                continue;
            }
            /* after a failure, retry soon rather than after a whole third of the lease */
            l->slots[i].renewed_mono_ms =
                rc == VS_OK ? now : now - lease.lease_ms / LEASE_RENEW_DIVISOR + 200;
            log_debug("job %" PRIu64 " part %u: lease epoch %" PRIu64 " renewed", lease.job_id,
                      lease.part, lease.epoch);
            now = clock_mono_ms();
            if (next > now + 200)
                next = now + 200; /* look again: the others may be due by now */
        }
        if (next > clock_mono_ms())
            lease_wait(l, next - clock_mono_ms());
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

vs_status worker_leases_start(worker_leases *l, const worker_config *cfg, int slots, char *err,
                              size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->cfg = cfg;
    l->n = slots;
    l->slots = calloc((size_t)slots, sizeof *l->slots);
    if (l->slots == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    if (pthread_create(&l->thread, NULL, lease_keeper, l) != 0) {
        snprintf(err, errlen, "cannot start the lease keeper thread");
        free(l->slots);
        l->slots = NULL;
        return VS_INTERNAL;
    }
    l->started = 1;
    return VS_OK;
}

void worker_leases_stop(worker_leases *l)
{
    if (!l->started)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    if (l->db != NULL)
        mysql_close(l->db);
    free(l->slots);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    l->started = 0;
}

void worker_lease_hold(worker_leases *l, int slot, const Vs__V1__PartitionTask *task)
{
    worker_lease *lease = &l->slots[slot];

    pthread_mutex_lock(&l->lock);
    lease->job_id = task->job_id;
    lease->part = task->part;
    lease->epoch = task->lease_epoch;
    /* a coordinator that does not say how long its leases are gets no renewals */
    lease->lease_ms = task->lease_ms;
    lease->renewed_mono_ms = clock_mono_ms();
    lease->lost = 0;
    lease->active = task->lease_ms > 0;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
}

void worker_lease_release(worker_leases *l, int slot)
{
    pthread_mutex_lock(&l->lock);
    l->slots[slot].active = 0;
    pthread_mutex_unlock(&l->lock);
}
