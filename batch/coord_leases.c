/* coord_leases.c — what the workers' messages and connections do to the running job's leases:
 * acknowledgements bind a lease to a result connection, a closed connection releases the leases
 * it held, a failure report releases its own lease, a renewed deadline keeps one. Everything a
 * peer sends is checked against the current lease (docs/batch.md, Leases and Messages from
 * strangers); the repository's lease epoch stays the only truth. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "coord_run.h"
#include "db.h"
#include "log.h"
#include "text.h"

/* The repository decides what is done, so a result is at most a hint — but a result
 * that committed nothing releases its lease for re-issue at once, and an acknowledgement binds
 * the lease to its connection, so both are taken only for the current epoch of a leased
 * partition, and a failure only from the connection that acknowledged the task (without an
 * acknowledgement, the lease just runs out). Any peer can connect to the result socket: what is
 * refused here is what a stranger could try. */
const char *run_take_result(run_state *r, uint32_t pipe, const Vs__V1__PartitionResult *res)
{
    run_part *p;
    char quoted[400];

    if (res == NULL)
        return "undecodable";
    if (res->job_id != r->job.id)
        return "not the running job";
    if (res->part >= r->n_parts)
        return "no such partition";
    p = &r->parts[res->part];
    if (res->lease_epoch != p->epoch)
        return "not the partition's current lease epoch";
    if (res->committed)
        return NULL; /* a hint to read the repository now */
    if (p->state != PART_LEASED)
        return NULL; /* done or released already: a late acknowledgement or result, nothing to do */
    /* the first acknowledgement binds the lease; a failure is taken only from the bound one */
    if ((p->holder_pipe != 0 && p->holder_pipe != pipe) || (!res->accepted && p->holder_pipe == 0))
        return "not from the connection holding the lease";
    if (res->accepted) {
        if (coord_result_pipe_closed(r->c, pipe)) {
            log_warn("job %" PRIu64 " part %u epoch %" PRIu64
                     ": the connection of %.64s closed; re-issuing",
                     r->job.id, res->part, res->lease_epoch, res->worker);
            p->state = PART_PENDING;
            metrics_inc(&r->c->metrics.reissued[COORD_REISSUE_CONNECTION_CLOSED]);
        } else {
            p->holder_pipe = pipe;
        }
        return NULL;
    }
    p->state = PART_PENDING;
    metrics_inc(&r->c->metrics.reissued[COORD_REISSUE_WORKER_FAILED]);
    /* a worker's text ends in Job.error (a protobuf string): quoted, so it is UTF-8 and cut on a
     * character boundary whatever the peer sent */
    snprintf(r->last_error, sizeof r->last_error, "part %u: %s", res->part,
             text_quote(quoted, sizeof quoted, res->error, strlen(res->error)));
    log_warn("job %" PRIu64 " part %u epoch %" PRIu64 " not committed by %.64s: %.400s", r->job.id,
             res->part, res->lease_epoch, res->worker, res->error);
    return NULL;
}

/* Reads the results that arrived (waiting up to wait_ms for the first) and applies them;
 * counts and logs (the first 20, then every 1000th) those that changed nothing. */
int run_collect(run_state *r, nng_socket pull, int wait_ms)
{
    int got = 0;

    nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, wait_ms);
    for (;;) {
        nng_msg *msg;
        uint32_t pipe;
        Vs__V1__PartitionResult *res;
        const char *why;
        uint64_t rejected;

        if (nng_recvmsg(pull, &msg, got ? NNG_FLAG_NONBLOCK : 0) != 0)
            break;
        got++;
        pipe = nng_pipe_id(nng_msg_get_pipe(msg));
        res = vs__v1__partition_result__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
        why = run_take_result(r, pipe, res);
        if (why != NULL) {
            rejected = __atomic_add_fetch(&r->c->rejected_results, 1, __ATOMIC_RELAXED);
            if (rejected <= 20 || rejected % 1000 == 0)
                log_warn("result rejected (%" PRIu64 " so far): %s: job %" PRIu64
                         " part %u epoch %" PRIu64 "%s from connection %u",
                         rejected, why, res ? res->job_id : 0, res ? res->part : 0,
                         res ? res->lease_epoch : 0,
                         res && res->accepted    ? " (acknowledgement)"
                         : res && res->committed ? " (committed)"
                                                 : "",
                         pipe);
        }
        if (res != NULL)
            vs__v1__partition_result__free_unpacked(res, NULL);
    }
    return got;
}

/* Re-issues at once the leases of workers whose connections closed (a process killed, a host
 * gone): those acknowledged over a result connection that closed, and — when a task connection
 * closed — those not acknowledged yet, which may have been lost with it (nng PUSH/PULL drops
 * what a dead peer did not take). A lease re-issued needlessly costs a duplicate scan, never a
 * wrong result: only the newest epoch can commit. */
void run_reissue_closed(run_state *r)
{
    uint32_t closed[COORD_CLOSED_RING];
    int all, tasks_closed;
    size_t n = coord_pipes_closed_since(r->c, &r->seen_closed_results, &r->seen_closed_tasks,
                                        closed, &all, &tasks_closed);

    if (n == 0 && !all && !tasks_closed)
        return;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        run_part *p = &r->parts[i];
        int lost = all || (p->holder_pipe == 0 && tasks_closed);

        if (p->state != PART_LEASED)
            continue;
        for (size_t k = 0; k < n && !lost; k++)
            lost = p->holder_pipe != 0 && p->holder_pipe == closed[k];
        if (!lost)
            continue;
        log_warn("job %" PRIu64 " part %u epoch %" PRIu64 ": %s; re-issuing", r->job.id, p->part,
                 p->epoch,
                 p->holder_pipe ? "the worker connection holding it closed"
                                : "a worker connection closed before it was acknowledged");
        p->state = PART_PENDING;
        metrics_inc(&r->c->metrics.reissued[COORD_REISSUE_CONNECTION_CLOSED]);
    }
}

/* A lease that looks expired in memory may have been renewed by its worker: the repository's
 * deadline decides. 1 when it has expired (or the row is gone), 0 when it still runs. */
int run_lease_expired(run_state *r, run_part *p, int64_t now)
{
    char sql[256], err[256], fence[96];
    int64_t deadline = 0;
    vs_status rc;

    lease_fence_sql(LEASE_HOLD, "", p->epoch, fence, sizeof fence);
    snprintf(sql, sizeof sql,
             "SELECT lease_deadline_ms FROM batch_partition WHERE job_id = %" PRIu64
             " AND part = %u AND %s",
             r->job.id, p->part, fence);
    rc = db_query_int(r->db, sql, &deadline, err, sizeof err);
    if (rc == VS_OK && deadline >= now) {
        p->deadline_ms = deadline;
        return 0;
    }
    if (rc != VS_OK && rc != VS_NOT_FOUND)
        log_warn("job %" PRIu64 " part %u: lease not read back: %s", r->job.id, p->part, err);
    /* the caller puts it back to pending: an expiry and a re-issue */
    metrics_inc(&r->c->metrics.lease_expiries);
    metrics_inc(&r->c->metrics.reissued[COORD_REISSUE_LEASE_EXPIRED]);
    return 1;
}
