/* coord_service.c — BatchService (Health, StartJob, GetJob, ListJobs) on the coordinator's REP
 * control socket. Each RPC thread has its own primary connection; the job repository is the only
 * state they share with the scheduler. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "clock.h"
#include "coord_service.h"
#include "db.h"
#include "log.h"
#include "rpc_server.h"
#include "text.h"

typedef struct coord_rpc_worker {
    MYSQL *db;
} coord_rpc_worker;

static coord *coord_service_owner;
static int64_t coord_started_mono_ms;

/* The serving thread's primary connection, (re)opened on demand; NULL after rpc_fail. */
MYSQL *coord_service_db(rpc_call *call)
{
    coord_rpc_worker *w = call->worker;
    char err[256];
    vs_status rc;

    if (w->db != NULL && mysql_ping(w->db) != 0) {
        mysql_close(w->db);
        w->db = NULL;
    }
    if (w->db == NULL && (rc = db_connect(coord_service_owner->cfg.primary_url, 5, &w->db, err,
                                          sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "job repository: %s", err);
        return NULL;
    }
    return w->db;
}

coord *coord_service_coord(void)
{
    return coord_service_owner;
}

/* Copies the live progress figures (the job being scanned, the one being merged) under the lock. */
static void coord_live(coord_progress *out)
{
    coord_progress *p = &coord_service_owner->progress;

    pthread_mutex_lock(&p->lock);
    out->job_id = p->job_id;
    out->rows_per_s = p->rows_per_s;
    out->eta_s = p->eta_s;
    out->merge_job_id = p->merge_job_id;
    out->merge_rows_per_s = p->merge_rows_per_s;
    pthread_mutex_unlock(&p->lock);
}

static void coord_health(Vs__V1__BatchService_Service *s, const Vs__V1__HealthRequest *in,
                         Vs__V1__HealthResponse_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__HealthResponse resp = VS__V1__HEALTH_RESPONSE__INIT;
    Vs__V1__ComponentHealth db = VS__V1__COMPONENT_HEALTH__INIT;
    Vs__V1__ComponentHealth results = VS__V1__COMPONENT_HEALTH__INIT;
    Vs__V1__ComponentHealth *components[2] = {&db, &results};
    char detail[256] = "", results_detail[160];

    resp.version = (char *)VS_VERSION;
    resp.service = (char *)"vs-coordinator";
    resp.uptime_s = (clock_mono_ms() - coord_started_mono_ms) / 1000;
    resp.threads = coord_service_owner->cfg.rpc_threads;
    resp.echo = in->echo;
    if (!in->shallow) {
        coord_rpc_worker *w = call->worker;
        int64_t t0 = clock_mono_us();
        char err[256];

        db.name = (char *)"mariadb-primary";
        db.detail = detail;
        if (w->db == NULL || mysql_ping(w->db) != 0) {
            if (w->db != NULL)
                mysql_close(w->db);
            w->db = NULL;
            if (db_connect(coord_service_owner->cfg.primary_url, 5, &w->db, err, sizeof err) !=
                VS_OK)
                snprintf(detail, sizeof detail, "%s", err);
        }
        if (w->db != NULL) {
            db.up = 1;
            db.latency_us = clock_mono_us() - t0;
            snprintf(detail, sizeof detail, "MariaDB %s", mysql_get_server_info(w->db));
        }
        /* results from peers that are not this job's workers (or too late): nothing changed */
        results.name = (char *)"batch-results";
        results.up = 1;
        snprintf(results_detail, sizeof results_detail,
                 "%" PRIu64 " rejected (undecodable, unknown job or partition, superseded epoch, "
                 "or not from the connection holding the lease)",
                 __atomic_load_n(&coord_service_owner->rejected_results, __ATOMIC_RELAXED));
        results.detail = results_detail;
        resp.n_components = 2;
        resp.components = components;
    }
    closure(&resp, data);
}

/* Days one StartJob may queue at once (a year and a day). */
#define COORD_RANGE_MAX_DAYS 366

static void coord_start_job(Vs__V1__BatchService_Service *s, const Vs__V1__StartJobRequest *in,
                            Vs__V1__Job_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__Job resp = VS__V1__JOB__INIT;
    const char *name = in->job[0] ? in->job : BATCH_JOB_DAILY;
    business_date day, to;
    job_row job;
    coord_progress live;
    char err[1024], quoted[80], started_by[64];
    uint64_t admin = 0;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, &admin) != VS_OK)
        goto fail;
    if (strcmp(name, BATCH_JOB_DAILY) != 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "job: unknown job %s (known: %s)",
                 text_quote(quoted, sizeof quoted, name, strlen(name)), BATCH_JOB_DAILY);
        goto fail;
    }
    if (window_parse(in->date, &day) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "date: expected a business date YYYY-MM-DD, got %s",
                 text_quote(quoted, sizeof quoted, in->date, strlen(in->date)));
        goto fail;
    }
    if (window_check_accepted("date", day, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    to = day;
    if (in->to_date[0] != '\0') {
        business_date today = window_day_of(clock_now_ms());

        if (window_parse(in->to_date, &to) != VS_OK) {
            rpc_fail(call, VS_INVALID_ARGUMENT,
                     "to_date: expected a business date YYYY-MM-DD, got %s",
                     text_quote(quoted, sizeof quoted, in->to_date, strlen(in->to_date)));
            goto fail;
        }
        if (to < day || to - day >= COORD_RANGE_MAX_DAYS) {
            rpc_fail(call, VS_INVALID_ARGUMENT,
                     "to_date: must be from date (%s) to %d days after it, got %s", in->date,
                     COORD_RANGE_MAX_DAYS - 1,
                     text_quote(quoted, sizeof quoted, in->to_date, strlen(in->to_date)));
            goto fail;
        }
        if (to >= today) {
            char today_text[11];

            window_format(today, today_text);
            rpc_fail(call, VS_FAILED_PRECONDITION,
                     "to_date: %s is not over yet (today is %s in the business time zone)",
                     in->to_date, today_text);
            goto fail;
        }
    }
    if (strlen(in->reason) > JOB_REASON_MAX) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "reason: at most %d bytes, got %zu", JOB_REASON_MAX,
                 strlen(in->reason));
        goto fail;
    }
    if (in->reason[0] != '\0' && !in->force) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "reason: a reason is given with force (a forced re-run), not for a first run");
        goto fail;
    }
    snprintf(started_by, sizeof started_by, "operator %" PRIu64, admin);
    rc = job_start_range(db, name, day, to, in->force, started_by,
                         in->force && in->reason[0] == '\0' ? "forced re-run" : in->reason, &job,
                         err, sizeof err);
    if (rc != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    if (to > day)
        log_info("StartJob %s %s..%s%s: %d days queued, the last is job %" PRIu64, name, in->date,
                 job.date_text, in->force ? " (force)" : "", (int)(to - day + 1), job.id);
    else
        log_info("StartJob %s %s%s: job %" PRIu64 " attempt %u is %s", name, job.date_text,
                 in->force ? " (force)" : "", job.id, job.attempt,
                 job.state == JOB_PENDING ? "queued" : "already under way");
    coord_wake(coord_service_owner);
    coord_live(&live);
    job_to_proto(&job, &live, &resp);
    closure(&resp, data);
    return;
fail:
    closure(NULL, data);
}

/* The longest GetJob may wait for a job's end (wait_ms). */
#define COORD_WAIT_MAX_MS 30000

/* 1 when the job has finished. */
static int coord_job_final(const job_row *job)
{
    return job->state == JOB_COMPLETED || job->state == JOB_FAILED;
}

/* GetJob with wait_ms: reloads the job each time a job finishes until this one has, or until
 * wait_ms has passed. At most rpc_threads - 1 calls wait at once (one thread stays free for
 * everything else); beyond that, *job is answered as it is. */
static vs_status coord_wait_job(MYSQL *db, const char *where, uint32_t wait_ms, job_row *job,
                                char *err, size_t errlen)
{
    coord_progress *p = &coord_service_owner->progress;
    struct timespec until;
    vs_status rc = VS_OK;
    int waiting;

    until = clock_realtime_after(wait_ms);
    pthread_mutex_lock(&p->lock);
    waiting = p->waiters < coord_service_owner->cfg.rpc_threads - 1;
    p->waiters += waiting;
    while (waiting && rc == VS_OK && !coord_job_final(job)) {
        uint64_t seq = p->finished_seq;

        /* the job may have finished between its load and this lock: look again first */
        pthread_mutex_unlock(&p->lock);
        rc = job_load(db, where, job, err, errlen);
        pthread_mutex_lock(&p->lock);
        if (rc != VS_OK || coord_job_final(job))
            break;
        if (p->finished_seq == seq &&
            pthread_cond_timedwait(&p->finished, &p->lock, &until) == ETIMEDOUT)
            break;
    }
    p->waiters -= waiting;
    pthread_mutex_unlock(&p->lock);
    /* timed out (or never waited): the job's progress as it is now */
    return rc != VS_OK || coord_job_final(job) ? rc : job_load(db, where, job, err, errlen);
}

static void coord_get_job(Vs__V1__BatchService_Service *s, const Vs__V1__GetJobRequest *in,
                          Vs__V1__Job_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__Job resp = VS__V1__JOB__INIT;
    char where[64], err[512];
    coord_progress live;
    job_row job;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, NULL) != VS_OK)
        goto fail;
    if (in->id == 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "id: a job id is required");
        goto fail;
    }
    if (in->wait_ms > COORD_WAIT_MAX_MS) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "wait_ms: at most %d, got %u", COORD_WAIT_MAX_MS,
                 in->wait_ms);
        goto fail;
    }
    snprintf(where, sizeof where, "id = %" PRIu64, in->id);
    rc = job_load(db, where, &job, err, sizeof err);
    if (rc == VS_OK && in->wait_ms > 0 && !coord_job_final(&job))
        rc = coord_wait_job(db, where, in->wait_ms, &job, err, sizeof err);
    if (rc != VS_OK) {
        if (rc == VS_NOT_FOUND)
            rpc_fail(call, rc, "id: job %" PRIu64 " does not exist", in->id);
        else
            rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    coord_live(&live);
    job_to_proto(&job, &live, &resp);
    closure(&resp, data);
    return;
fail:
    closure(NULL, data);
}

static void coord_list_jobs(Vs__V1__BatchService_Service *s, const Vs__V1__ListJobsRequest *in,
                            Vs__V1__ListJobsResponse_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__ListJobsResponse resp = VS__V1__LIST_JOBS_RESPONSE__INIT;
    uint32_t limit = in->limit ? in->limit : 20;
    job_row *rows = NULL;
    Vs__V1__Job *jobs = NULL, **ptrs = NULL;
    coord_progress live;
    char where[128], err[512], next_date[11];
    MYSQL *db;
    MYSQL_RES *res;
    MYSQL_ROW row;
    size_t n = 0;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, NULL) != VS_OK)
        goto fail;
    if (limit > 1000) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most 1000 jobs per call, got %u", limit);
        goto fail;
    }
    rows = calloc(limit, sizeof *rows);
    jobs = calloc(limit, sizeof *jobs);
    ptrs = calloc(limit, sizeof *ptrs);
    if (rows == NULL || jobs == NULL || ptrs == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto fail;
    }
    /* ids first, newest business date first, then each row through the one loader */
    snprintf(where, sizeof where,
             "SELECT id FROM batch_job ORDER BY business_date DESC, id DESC LIMIT %u", limit);
    if (mysql_query(db, where) != 0 || (res = mysql_store_result(db)) == NULL) {
        rpc_fail(call, db_status_from_errno(mysql_errno(db)), "batch_job: %s", mysql_error(db));
        goto fail;
    }
    coord_live(&live);
    while ((row = mysql_fetch_row(res)) != NULL && n < limit) {
        snprintf(where, sizeof where, "id = %s", row[0]);
        if (job_load(db, where, &rows[n], err, sizeof err) != VS_OK)
            continue;
        vs__v1__job__init(&jobs[n]);
        job_to_proto(&rows[n], &live, &jobs[n]);
        ptrs[n] = &jobs[n];
        n++;
    }
    mysql_free_result(res);
    resp.n_jobs = n;
    resp.jobs = ptrs;
    resp.schedule_enabled = coord_service_owner->cfg.schedule;
    if (resp.schedule_enabled) {
        business_date next;

        if (schedule_next(coord_service_owner, db, &next, &resp.next_scheduled_unix_ms, err,
                          sizeof err) != VS_OK) {
            rpc_fail(call, VS_UNAVAILABLE, "the schedule: %s", err);
            goto fail;
        }
        window_format(next, next_date);
        resp.next_scheduled_date = next_date;
    }
    closure(&resp, data);
    goto out;
fail:
    closure(NULL, data);
out:
    free(rows);
    free(jobs);
    free(ptrs);
}

static Vs__V1__BatchService_Service coord_batch_service = VS__V1__BATCH_SERVICE__INIT(coord_);

static int coord_rpc_init(int index, void **ctx)
{
    *ctx = calloc(1, sizeof(coord_rpc_worker));
    return *ctx == NULL;
}

static void coord_rpc_fini(void *ctx)
{
    coord_rpc_worker *w = ctx;

    if (w != NULL && w->db != NULL)
        mysql_close(w->db);
    free(w);
}

vs_status coord_service_start(coord *c, rpc_server **out, char *err, size_t errlen)
{
    const char *urls[1] = {c->cfg.control_url};
    ProtobufCService *services[1] = {&coord_batch_service.base};
    rpc_server_config cfg = {0};

    coord_service_owner = c;
    coord_started_mono_ms = clock_mono_ms();
    cfg.urls = urls;
    cfg.n_urls = 1;
    cfg.threads = c->cfg.rpc_threads;
    cfg.max_message = 1 << 20;
    cfg.name = "vs-coordinator";
    cfg.worker_init = coord_rpc_init;
    cfg.worker_fini = coord_rpc_fini;
    return rpc_server_start(&cfg, services, 1, out, err, errlen);
}
