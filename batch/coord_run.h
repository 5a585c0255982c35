/* coord_run.h — internal to the scheduler (coord_run.c) and its handling of the workers'
 * messages and connections (coord_leases.c): the running job's state. */
#ifndef VS_BATCH_COORD_RUN_H
#define VS_BATCH_COORD_RUN_H

#include "coordinator.h"

/* In-memory mirror of one partition while the job runs. */
typedef struct run_part {
    uint32_t part;
    uint64_t first_id, last_id;
    int state;
    uint32_t attempt;
    uint64_t epoch;
    int64_t deadline_ms;
    int64_t rows;
    uint32_t holder_pipe; /* the result connection that acknowledged the lease's task, or 0 */
} run_part;

typedef struct run_state {
    coord *c;
    MYSQL *db;
    job_row job;
    run_part *parts;
    uint32_t n_parts, done;
    uint64_t next_epoch;
    int64_t rows_done, rows_at_start, started_mono_ms, last_refresh_ms;
    int64_t issue_after_ms; /* no worker took the last task: wait before trying again */
    uint64_t seen_closed_results, seen_closed_tasks; /* coord_pipes counts already acted on */
    char last_error[512];
} run_state;

/* Applies one message from the result socket (res: NULL when it did not decode), received on
 * the result connection pipe: NULL when it was taken, else why it changed nothing. It changes
 * at most r->parts[res->part], and only for the running job and the partition's current lease
 * epoch (coord_leases.c says why). */
const char *run_take_result(run_state *r, uint32_t pipe, const Vs__V1__PartitionResult *res);

/* Reads the results that arrived (waiting up to wait_ms for the first) and applies them; returns
 * how many messages were read. Those that change nothing are counted in c->rejected_results. */
int run_collect(run_state *r, nng_socket pull, int wait_ms);

/* Re-issues at once the leases of workers whose connections closed since the last look. */
void run_reissue_closed(run_state *r);

/* 1 when p's lease, which looks expired in memory, has expired in the repository too (0: it was
 * renewed; p->deadline_ms is updated). */
int run_lease_expired(run_state *r, run_part *p, int64_t now);

#endif
