/* coordinator.h — vs-coordinator's parts: configuration, the job repository (batch_job,
 * batch_partition), the scheduler that runs jobs, and the merge of a finished job. */
#ifndef VS_BATCH_COORDINATOR_H
#define VS_BATCH_COORDINATOR_H

#include <mysql.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdint.h>
#include "coord_metrics.h"
#include "status.h"
#include "window.h"
#include "vs/v1/batch.pb-c.h"

typedef struct coord_config {
    const char *control_url, *task_url, *result_url, *primary_url;
    int rpc_threads;
    int64_t lease_ms;      /* how long a worker may hold a partition */
    int64_t partition_ids; /* play_log ids per partition (the id span, not rows) */
    int64_t max_partitions;
    int64_t inflight;          /* tasks leased at once */
    int64_t max_attempts;      /* leases of one partition before the job fails */
    int schedule;              /* settle each business day by itself once it has closed */
    int64_t schedule_grace_ms; /* after the day's end, for commits in flight at midnight */
} coord_config;

/* Live figures of the jobs in flight, for GetJob (the repository has the durable ones). Two jobs
 * may be in flight: one whose partitions are being scanned and, before it in date order, one being
 * merged (docs/batch.md, "How a job runs"). */
typedef struct coord_progress {
    pthread_mutex_t lock;
    uint64_t job_id; /* the job being scanned; when none is, the one being merged (0: none) */
    int64_t rows_per_s, eta_s;
    uint64_t merge_job_id;    /* the job being merged (0: none) */
    int64_t merge_rows_per_s; /* the rate its partitions were aggregated at (0 when resumed) */
    pthread_cond_t wake;      /* StartJob signals the scheduler */
    int pending_wake;
    pthread_cond_t finished; /* broadcast when a job completes or fails (GetJob's wait_ms) */
    uint64_t finished_seq;   /* jobs finished since start */
    int waiters;             /* GetJob calls waiting on finished */
} coord_progress;

/* Worker connections that closed, as nng's pipe callbacks report them (they must not block, so
 * they only record; the scheduler acts). A lease is held by the result connection that
 * acknowledged its task; one not yet acknowledged may sit in a task connection. */
#define COORD_CLOSED_RING 1024
typedef struct coord_pipes {
    pthread_mutex_t lock;
    uint32_t closed_results[COORD_CLOSED_RING]; /* nng_pipe_id of closed result connections */
    uint64_t n_closed_results;                  /* ever; the ring holds the latest */
    uint64_t n_closed_tasks;                    /* task connections closed, ever */
} coord_pipes;

typedef struct coord {
    coord_config cfg;
    coord_progress progress;
    coord_pipes pipes;
    volatile int stopping;
    int task_peers;            /* workers connected to the task socket (atomic; nng pipe events) */
    uint64_t rejected_results; /* result messages that changed nothing (atomic; Health) */
    coord_metrics metrics;     /* counted as it goes; read by the metrics endpoint */
} coord;

/* --- worker connections (coord_pipes.c) --- */

/* nng pipe callbacks, arg = the coord: the task socket's and the result socket's. */
void coord_on_task_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg);
void coord_on_result_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg);

/* The closing counts so far (a run starts from them: what closed before held none of its leases).
 */
void coord_pipes_counts(coord *c, uint64_t *n_closed_results, uint64_t *n_closed_tasks);

/* What closed since *seen_results / *seen_tasks (both advanced to now): the result connections'
 * pipe ids in closed[] (returns how many), *all when more closed than the ring remembers (every
 * acknowledged lease is then suspect), *tasks_closed when a task connection closed. */
size_t coord_pipes_closed_since(coord *c, uint64_t *seen_results, uint64_t *seen_tasks,
                                uint32_t closed[COORD_CLOSED_RING], int *all, int *tasks_closed);

/* 1 when the result connection `pipe` is among the latest COORD_CLOSED_RING to close. An
 * acknowledgement can be read after its connection's closing was handled: it is checked here. */
int coord_result_pipe_closed(coord *c, uint32_t pipe);

/* A batch_job row. */
typedef struct job_row {
    uint64_t id;
    char name[65];
    business_date day;
    char date_text[11]; /* day as YYYY-MM-DD */
    int state;
    uint32_t attempt;
    int forced;
    char gtid[1025];
    uint64_t first_id, last_id;
    uint32_t partitions_total, partitions_done;
    int64_t rows_total, rows_done, videos;
    uint32_t rate_card_version;
    char error[1025];
    int64_t created_ms, started_ms, finished_ms, updated_ms;
    char started_by[97]; /* JOB_BY_SCHEDULE or "operator <user id>" */
    char reason[301];    /* why a forced re-run runs ("" for an ordinary settlement) */
} job_row;

/* The longest reason a forced re-run or an invalidation may give (bytes). */
#define JOB_REASON_MAX 300

#define JOB_BY_SCHEDULE "schedule"

/* --- job repository (coord_jobs.c) --- */

/* Loads the job matching `where` (an SQL condition on batch_job); VS_NOT_FOUND when none. */
vs_status job_load(MYSQL *db, const char *where, job_row *out, char *err, size_t errlen);

/* StartJob's rules (docs/rules.md): creates the job instance (name, day) as PENDING, or returns
 * the existing one while it is pending/running; a completed one is FAILED_PRECONDITION unless
 * force, which re-queues it and every later completed day; a day is refused while an earlier day
 * with play rows has no completed job. started_by (JOB_BY_SCHEDULE or "operator <id>", SQL-safe
 * text) is recorded on the job, and on the days a forced re-run re-queues, with reason (any
 * text of at most JOB_REASON_MAX bytes, "" = none; it names the re-run in the ledger). */
vs_status job_start(MYSQL *db, const char *name, business_date day, int force,
                    const char *started_by, const char *reason, job_row *out, char *err,
                    size_t errlen);

/* job_start for `from`, then the days after it up to `to` queued behind it (they are run in date
 * order and each checks its earlier days when it starts): one that has a job keeps it (a
 * completed `from` too, unless force), a failed one is queued again. *out = the last day's job.
 */
vs_status job_start_range(MYSQL *db, const char *name, business_date from, business_date to,
                          int force, const char *started_by, const char *reason, job_row *out,
                          char *err, size_t errlen);

/* The first day of from .. to (YYYY-MM-DD, inclusive) that has play rows but no completed job of
 * `name`, into missing ("" when every such day is settled). */
vs_status job_first_unsettled(MYSQL *db, const char *name, const char *from, const char *to,
                              char missing[11], char *err, size_t errlen);

/* FAILED_PRECONDITION (err says which) when a day before `date` has play rows but no completed
 * job of `name`: a day's lifetime counts, and so its money, depend on every earlier day. */
vs_status job_check_earlier(MYSQL *db, const char *name, const char *date, char *err,
                            size_t errlen);

/* job_check_earlier, except for the day `merging` (YYYY-MM-DD before `date`; "" = none), whose
 * merge is under way: a day may be prepared and scanned while the day before it merges, but it is
 * merged only once job_check_earlier passes (coord_run.c). */
vs_status job_check_earlier_but(MYSQL *db, const char *name, const char *date, const char *merging,
                                char *err, size_t errlen);

/* Fills a Job message from a row (strings point into row). */
void job_to_proto(const job_row *row, const coord_progress *live, Vs__V1__Job *out);

/* Sets a job FAILED with a message. */
vs_status job_fail(MYSQL *db, uint64_t job_id, const char *message, char *err, size_t errlen);

/* --- the schedule (coord_schedule.c) --- */

/* Queues the next business day the schedule owes (a job "schedule"): the earliest day with play
 * rows after the latest day that has a job, once it has closed and the grace period has passed,
 * and only when every job so far has completed (one day at a time, in date order; a failed day
 * waits for an operator). *queued = 1 when it queued one. */
vs_status schedule_tick(coord *c, MYSQL *db, int *queued, char *err, size_t errlen);

/* The next business date the schedule will settle and when it is due (its end plus the grace
 * period); due in the past = now. */
vs_status schedule_next(coord *c, MYSQL *db, business_date *day, int64_t *due_ms, char *err,
                        size_t errlen);

/* --- scheduler (coord_run.c) --- */

/* Runs jobs in date order until c->stopping: prepares partitions, leases them to workers, and
 * hands each scanned job to its merge thread, which merges one job at a time on a connection of
 * its own; the next job's prepare and scan overlap the previous job's merge (at most two jobs in
 * flight). Resumes whatever the repository says is in progress. Returns when stopping. */
void coord_run(coord *c, nng_socket push, nng_socket pull);

/* Wakes the scheduler (a job was queued). */
void coord_wake(coord *c);

/* --- merge (merge.c) --- */

typedef struct merge_stats {
    int64_t videos;
    char steps[512]; /* "partials 812 ms, ..." */
} merge_stats;

/* Merges the partials of a job whose partitions are all done into video_daily_stats,
 * video_cumulative, settlement_daily, the week and month rollups and the top-N tables, and marks
 * the job COMPLETED — all in one transaction, so it either happened entirely or not at all and
 * can simply be run again. */
vs_status merge_job(MYSQL *db, const job_row *job, merge_stats *stats, char *err, size_t errlen);

#endif
