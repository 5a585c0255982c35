/* vs/batch.h — libvsclient calls for BatchService (vs-coordinator): start, inspect and list the
 * settlement batch's jobs.
 *
 * Each returns a vs_status (VS_OK on success); on failure status (may be NULL) says why, with the
 * coordinator's message. Open the client on the coordinator's control URL (VS_COORD_URL), not on
 * vsd's. */
#ifndef VS_BATCH_H_PUBLIC
#define VS_BATCH_H_PUBLIC

#include <stddef.h>
#include <stdint.h>
#include <vs/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vs.v1.JobState */
enum {
    VS_JOB_PENDING = 1,
    VS_JOB_RUNNING = 2,
    VS_JOB_MERGING = 3,
    VS_JOB_COMPLETED = 4,
    VS_JOB_FAILED = 5
};

/* "pending", "running", "merging", "completed", "failed" (or "unknown"). Static storage. */
const char *vs_job_state_name(int state);

/* One job instance (daily-settlement, date); opaque, freed with vs_batch_job_free(). Strings live
 * as long as the job. rows_total is the optimizer's estimate until the job completes, exact after;
 * rows_per_s and eta_s are live figures while it runs. */
typedef struct vs_batch_job vs_batch_job;

uint64_t vs_batch_job_id(const vs_batch_job *job);
const char *vs_batch_job_name(const vs_batch_job *job);
const char *vs_batch_job_date(const vs_batch_job *job);
int vs_batch_job_state(const vs_batch_job *job);
uint32_t vs_batch_job_attempt(const vs_batch_job *job);
uint32_t vs_batch_job_partitions_total(const vs_batch_job *job);
uint32_t vs_batch_job_partitions_done(const vs_batch_job *job);
int64_t vs_batch_job_rows_total(const vs_batch_job *job);
int64_t vs_batch_job_rows_done(const vs_batch_job *job);
int64_t vs_batch_job_rows_per_s(const vs_batch_job *job);
int64_t vs_batch_job_eta_s(const vs_batch_job *job);
int64_t vs_batch_job_started_unix_ms(const vs_batch_job *job);
int64_t vs_batch_job_finished_unix_ms(const vs_batch_job *job);
const char *vs_batch_job_error(const vs_batch_job *job);
/* Who queued the current attempt: "schedule" or "operator <user id>" ("" from an older
 * coordinator). */
const char *vs_batch_job_started_by(const vs_batch_job *job);
/* Why the current attempt runs: a forced re-run's reason ("" for an ordinary settlement). */
const char *vs_batch_job_reason(const vs_batch_job *job);
void vs_batch_job_free(vs_batch_job *job);

/* Starts the daily-settlement job of business date "YYYY-MM-DD" (or returns it while it is queued
 * or running). A completed date is VS_FAILED_PRECONDITION unless force, which recomputes it and
 * every later completed date; a date whose earlier days with play rows are not settled yet is
 * VS_FAILED_PRECONDITION too. *out is the caller's. */
int vs_batch_start(vs_client *client, const char *date, int force, vs_batch_job **out,
                   vs_call_status *status);

/* The days from .. to (inclusive, at most 366) queued at once and run back to back in date order.
 * A day that is already queued, running or (without force) completed is left as it is, a failed
 * one is queued again; with force, `from` and every later completed day are recomputed. *out is
 * the last day's job: it completes last, and fails when an earlier day of the range failed. */
int vs_batch_start_range(vs_client *client, const char *from, const char *to, int force,
                         vs_batch_job **out, vs_call_status *status);

/* A forced re-run of from (to = NULL: from alone; else the range from .. to) with a reason (at most
 * 300 bytes; NULL or "" = "forced re-run"): it names the re-run in the ledger and in adjustment
 * lines. Every later completed day is recomputed too. */
int vs_batch_rerun(vs_client *client, const char *from, const char *to, const char *reason,
                   vs_batch_job **out, vs_call_status *status);

/* The job with this id (VS_NOT_FOUND if none). *out is the caller's. */
int vs_batch_get(vs_client *client, uint64_t job_id, vs_batch_job **out, vs_call_status *status);

/* vs_batch_get, answered when the job has finished or after wait_ms (at most 30000), whichever
 * comes first: follows a job to its end without polling. The client's timeout must be longer
 * than wait_ms. */
int vs_batch_wait(vs_client *client, uint64_t job_id, uint32_t wait_ms, vs_batch_job **out,
                  vs_call_status *status);

/* The most recent jobs, newest business date first (limit 0 = 20, at most 1000). */
typedef struct vs_batch_jobs vs_batch_jobs;

int vs_batch_list(vs_client *client, unsigned limit, vs_batch_jobs **out, vs_call_status *status);
size_t vs_batch_jobs_count(const vs_batch_jobs *jobs);
/* The i-th job, owned by the list. */
const vs_batch_job *vs_batch_jobs_at(const vs_batch_jobs *jobs, size_t i);
/* The coordinator's schedule: 1 when it settles each closed day by itself, with the next business
 * date it will settle (*next_date, owned by the list) and when that is due (*next_unix_ms; in the
 * past = due now, waiting for the jobs before it); 0 when it is off. */
int vs_batch_jobs_schedule(const vs_batch_jobs *jobs, const char **next_date,
                           int64_t *next_unix_ms);
void vs_batch_jobs_free(vs_batch_jobs *jobs);

#ifdef __cplusplus
}
#endif
#endif
