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

/* The merge thread: merges the jobs the scheduler hands it, one at a time, on a primary connection
 * of its own (a merge is one long transaction; the scheduler's connection keeps preparing and
 * leasing the next job meanwhile). The scheduler hands it a job only when it is idle and only in
 * date order; before merging, the thread checks that every earlier day has completed (the money
 * rule: a day's lifetime counts start from the previous day's committed ones). */
typedef struct run_merger {
    coord *c;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a job handed over, a merge finished, or quit */
    job_row job;         /* the job handed over; job.id 0 when idle */
    uint64_t failures;   /* merges that ended with the job FAILED, ever */
    int quit;
    MYSQL *db; /* the merge thread's own */
} run_merger;

typedef struct run_state {
    coord *c;
    MYSQL *db;
    run_merger *merger;
    uint64_t seen_merge_failures; /* merger->failures when the running job's scan last looked */
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
