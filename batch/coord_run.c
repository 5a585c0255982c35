/* coord_run.c — the scheduler: runs queued jobs in date order through their phases
 *   PENDING  → prepare: record the primary's GTID position, fix the day's id range and partitions
 *   RUNNING  → lease partitions to workers over PUSH, collect results over PULL, re-issue leases
 *              that expire, until every partition is done; then hand the job to the merge thread
 *   MERGING  → merge_job on the merge thread's own connection (one transaction, ends COMPLETED)
 * The merge thread takes one job at a time, in date order, and merges it only once every earlier
 * day has completed (the money rule); meanwhile the scheduler prepares and scans the next job, so
 * at most two jobs are in flight: one merging and one scanning (or scanned, waiting to merge).
 * Every phase reads its state back from the repository, so a restarted coordinator resumes where
 * the last one stopped: the earlier job's merge first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "clock.h"
#include "coord_run.h"
#include "coordinator.h"
#include "db.h"
#include "log.h"
#include "money.h"
#include "money_card.h"

void coord_wake(coord *c)
{
    pthread_mutex_lock(&c->progress.lock);
    c->progress.pending_wake = 1;
    pthread_cond_signal(&c->progress.wake);
    pthread_mutex_unlock(&c->progress.lock);
}

/* Sleeps up to ms or until woken by StartJob. */
static void coord_nap(coord *c, int64_t ms)
{
    const struct timespec until = clock_realtime_after(ms);
    pthread_mutex_lock(&c->progress.lock);
    if (!c->progress.pending_wake)
        pthread_cond_timedwait(&c->progress.wake, &c->progress.lock, &until);
    c->progress.pending_wake = 0;
    pthread_mutex_unlock(&c->progress.lock);
}

/* Tells GetJob calls waiting for a job's end that one has ended. */
static void coord_finished(coord *c)
{
    pthread_mutex_lock(&c->progress.lock);
    c->progress.finished_seq++;
    pthread_cond_broadcast(&c->progress.finished);
    pthread_mutex_unlock(&c->progress.lock);
}

static void coord_publish(coord *c, uint64_t job_id, int64_t rows_per_s, int64_t eta_s)
{
    pthread_mutex_lock(&c->progress.lock);
    c->progress.job_id = job_id;
    c->progress.rows_per_s = rows_per_s;
    c->progress.eta_s = eta_s;
    pthread_mutex_unlock(&c->progress.lock);
}

/* No job is being scanned: the live figures are the merging job's (if any), as they were while a
 * job merged before merges overlapped scans. */
static void coord_publish_idle(coord *c)
{
    pthread_mutex_lock(&c->progress.lock);
    c->progress.job_id = c->progress.merge_job_id;
    c->progress.rows_per_s = c->progress.merge_rows_per_s;
    c->progress.eta_s = 0;
    pthread_mutex_unlock(&c->progress.lock);
}

/* job_id's merge starts (it keeps the rate its scan had) or, with start 0, has ended. */
static void coord_publish_merge(coord *c, uint64_t job_id, int start)
{
    coord_progress *p = &c->progress;

    pthread_mutex_lock(&p->lock);
    if (start) {
        p->merge_job_id = job_id;
        p->merge_rows_per_s = p->job_id == job_id ? p->rows_per_s : 0;
    } else {
        if (p->merge_job_id == job_id) {
            p->merge_job_id = 0;
            p->merge_rows_per_s = 0;
        }
        if (p->job_id == job_id) {
            p->job_id = 0;
            p->rows_per_s = 0;
            p->eta_s = 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

/* PENDING → RUNNING: one transaction records the GTID position, the id range, the rate card and
 * the partitions (equal id spans; ids are not dense, so spans, never OFFSETs). */
static vs_status run_prepare(run_state *r, char *err, size_t errlen)
{
    job_row *j = &r->job;
    char sql[3072], gtid[1025] = "";
    int64_t first = 0, last = 0, estimate = 0, parts;
    uint32_t card = 0;
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc;

    if ((rc = db_exec(r->db, "START TRANSACTION", err, errlen)) != VS_OK)
        return rc;
    rc = db_query_text(r->db, "SELECT @@gtid_binlog_pos", gtid, sizeof gtid, err, errlen);
    if (rc == VS_NOT_FOUND)
        rc = VS_OK;
    if (rc == VS_OK)
        rc = money_card_version_for(r->db, j->day, &card, err, errlen);
    if (rc != VS_OK)
        goto rollback;
    snprintf(sql, sizeof sql, "SELECT MIN(id), MAX(id) FROM play_log WHERE day = '%s'",
             j->date_text);
    if (mysql_query(r->db, sql) != 0 || (res = mysql_store_result(r->db)) == NULL) {
        snprintf(err, errlen, "play_log range: %s", mysql_error(r->db));
        rc = db_status_from_errno(mysql_errno(r->db));
        goto rollback;
    }
    if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
        first = strtoll(row[0], NULL, 10);
        last = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(res);
    /* an exact COUNT(*) would read the whole day: the id span is the estimate (an upper bound,
     * exact when the day's ids are dense), replaced by the real count when the job completes */
    estimate = last > 0 ? last - first + 1 : 0;
    parts = last > 0 ? (last - first) / r->c->cfg.partition_ids + 1 : 0;
    if (parts > r->c->cfg.max_partitions)
        parts = r->c->cfg.max_partitions;
    snprintf(sql, sizeof sql, "DELETE FROM batch_partition WHERE job_id = %" PRIu64, j->id);
    if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK)
        goto rollback;
    snprintf(sql, sizeof sql, "DELETE FROM batch_partial_chunk WHERE job_id = %" PRIu64, j->id);
    if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK)
        goto rollback;
    for (int64_t p = 0; p < parts; p++) {
        /* spans differ by at most one id; the last ends exactly at MAX(id) */
        int64_t span = last - first + 1;
        int64_t lo = first + span * p / parts, hi = first + span * (p + 1) / parts - 1;

        snprintf(sql, sizeof sql,
                 "INSERT INTO batch_partition (job_id, part, first_id, last_id, lease_epoch)"
                 " VALUES (%" PRIu64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRIu64 ")",
                 j->id, p, lo, hi, lease_epoch_first(j->attempt));
        if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK)
            goto rollback;
    }
    {
        char egtid[2100];

        mysql_real_escape_string(r->db, egtid, gtid, (unsigned long)strlen(gtid));
        snprintf(sql, sizeof sql,
                 "UPDATE batch_job SET state = %d, primary_gtid = '%s', first_id = %" PRId64
                 ", last_id = %" PRId64 ", partitions_total = %" PRId64 ", partitions_done = 0,"
                 " rows_total = %" PRId64 ", rows_done = 0, videos = 0, rate_card_version = %u,"
                 " started_ms = %" PRId64 ", finished_ms = 0, updated_ms = %" PRId64
                 " WHERE id = %" PRIu64 " AND state = %d",
                 JOB_RUNNING, egtid, first, last, parts, estimate, card, clock_now_ms(),
                 clock_now_ms(), j->id, JOB_PENDING);
    }
    if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK)
        goto rollback;
    if ((rc = db_exec(r->db, "COMMIT", err, errlen)) != VS_OK)
        goto rollback;
    log_info("job %" PRIu64 " %s %s attempt %u: ids %" PRId64 "..%" PRId64 " (~%" PRId64
             " rows) in %" PRId64 " partitions, GTID %s, rate card %u",
             j->id, j->name, j->date_text, j->attempt, first, last, estimate, parts,
             gtid[0] ? gtid : "(empty)", card);
    return VS_OK;
rollback:
    db_exec(r->db, "ROLLBACK", sql, sizeof sql);
    return rc;
}

/* Loads the partitions into memory (on start and on resume). */
static vs_status run_load_parts(run_state *r, char *err, size_t errlen)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    uint32_t n = 0;

    snprintf(sql, sizeof sql,
             "SELECT part, first_id, last_id, state, attempt, lease_epoch, lease_deadline_ms,"
             " rows_read FROM batch_partition WHERE job_id = %" PRIu64 " ORDER BY part",
             r->job.id);
    if (mysql_query(r->db, sql) != 0 || (res = mysql_store_result(r->db)) == NULL) {
        snprintf(err, errlen, "batch_partition: %s", mysql_error(r->db));
        return db_status_from_errno(mysql_errno(r->db));
    }
    free(r->parts);
    r->parts = calloc(mysql_num_rows(res) + 1, sizeof *r->parts);
    if (r->parts == NULL) {
        mysql_free_result(res);
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    r->next_epoch = lease_epoch_first(r->job.attempt) + 1;
    r->done = 0;
    r->rows_done = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        run_part *p = &r->parts[n++];

        p->part = (uint32_t)strtoul(row[0], NULL, 10);
        p->first_id = strtoull(row[1], NULL, 10);
        p->last_id = strtoull(row[2], NULL, 10);
        p->state = atoi(row[3]);
        p->attempt = (uint32_t)strtoul(row[4], NULL, 10);
        p->epoch = strtoull(row[5], NULL, 10);
        p->deadline_ms = strtoll(row[6], NULL, 10);
        p->rows = strtoll(row[7], NULL, 10);
        if (p->epoch >= r->next_epoch)
            r->next_epoch = p->epoch + 1;
        if (p->state == PART_DONE) {
            r->done++;
            r->rows_done += p->rows;
        }
    }
    r->n_parts = n;
    mysql_free_result(res);
    return VS_OK;
}

/* Picks up partitions that workers finished (the repository is the truth: results are only a
 * hint to look sooner) and publishes progress. */
static vs_status run_refresh(run_state *r, char *err, size_t errlen)
{
    char sql[512];
    MYSQL_RES *res;
    MYSQL_ROW row;
    int64_t elapsed, rate = 0, eta = 0;

    snprintf(sql, sizeof sql,
             "SELECT part, rows_read FROM batch_partition WHERE job_id = %" PRIu64
             " AND state = %d",
             r->job.id, PART_DONE);
    if (mysql_query(r->db, sql) != 0 || (res = mysql_store_result(r->db)) == NULL) {
        snprintf(err, errlen, "batch_partition: %s", mysql_error(r->db));
        return db_status_from_errno(mysql_errno(r->db));
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        uint32_t part = (uint32_t)strtoul(row[0], NULL, 10);

        if (part < r->n_parts && r->parts[part].state != PART_DONE) {
            r->parts[part].state = PART_DONE;
            r->parts[part].rows = strtoll(row[1], NULL, 10);
            r->done++;
            r->rows_done += r->parts[part].rows;
            metrics_inc(&r->c->metrics.partitions_done);
            metrics_add(&r->c->metrics.rows_aggregated, (uint64_t)r->parts[part].rows);
        }
    }
    mysql_free_result(res);
    elapsed = clock_mono_ms() - r->started_mono_ms;
    if (elapsed > 0)
        rate = (r->rows_done - r->rows_at_start) * 1000 / elapsed;
    if (rate > 0 && r->job.rows_total > r->rows_done)
        eta = (r->job.rows_total - r->rows_done) / rate;
    coord_publish(r->c, r->job.id, rate, eta);
    snprintf(sql, sizeof sql,
             "UPDATE batch_job SET partitions_done = %u, rows_done = %" PRId64
             ", updated_ms = %" PRId64 " WHERE id = %" PRIu64,
             r->done, r->rows_done, clock_now_ms(), r->job.id);
    r->last_refresh_ms = clock_mono_ms();
    return db_exec(r->db, sql, err, errlen);
}

/* Leases partition p under a fresh epoch and PUSHes its task. VS_UNAVAILABLE when no worker can
 * take it right now (the lease stays recorded and simply expires). */
static vs_status run_issue(run_state *r, run_part *p, nng_socket push, char *err, size_t errlen)
{
    Vs__V1__PartitionTask task = VS__V1__PARTITION_TASK__INIT;
    char sql[512];
    uint8_t buf[2048];
    size_t len;
    uint64_t epoch = r->next_epoch++;
    int64_t deadline = clock_now_ms() + r->c->cfg.lease_ms;
    vs_status rc;
    int rv;

    snprintf(sql, sizeof sql,
             "UPDATE batch_partition SET state = %d, lease_epoch = %" PRIu64
             ", lease_deadline_ms = %" PRId64 ", attempt = attempt + 1"
             " WHERE job_id = %" PRIu64 " AND part = %u AND state <> %d",
             PART_LEASED, epoch, deadline, r->job.id, p->part, PART_DONE);
    rc = db_exec(r->db, sql, err, errlen);
    if (rc == VS_ABORTED) {
        /* a worker is committing this partition right now (it holds the row): look again later */
        log_info("job %" PRIu64 " part %u is being committed; not re-issued yet", r->job.id,
                 p->part);
        return VS_UNAVAILABLE;
    }
    if (rc != VS_OK)
        return rc;
    if (mysql_affected_rows(r->db) != 1)
        return run_refresh(r, err, errlen); /* finished meanwhile */
    p->state = PART_LEASED;
    p->epoch = epoch;
    p->deadline_ms = deadline;
    p->holder_pipe = 0;
    p->attempt++;
    task.job_id = r->job.id;
    task.part = p->part;
    task.first_id = p->first_id;
    task.last_id = p->last_id;
    task.lease_epoch = epoch;
    task.lease_deadline_unix_ms = deadline;
    task.lease_ms = r->c->cfg.lease_ms;
    task.primary_gtid = r->job.gtid;
    task.business_date = r->job.date_text;
    len = vs__v1__partition_task__pack(&task, buf);
    if ((rv = nng_send(push, buf, len, NNG_FLAG_NONBLOCK)) != 0) {
        /* nobody to take it: not an attempt; try again shortly, under a new epoch */
        p->state = PART_PENDING;
        p->attempt--;
        snprintf(
            sql, sizeof sql,
            "UPDATE batch_partition SET state = %d, attempt = attempt - 1 WHERE job_id = %" PRIu64
            " AND part = %u AND lease_epoch = %" PRIu64,
            PART_PENDING, r->job.id, p->part, epoch);
        if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK)
            return rc;
        snprintf(err, errlen, "no worker is taking tasks (%s)", nng_strerror(rv));
        return VS_UNAVAILABLE;
    }
    metrics_inc(&r->c->metrics.partitions_leased);
    log_debug("job %" PRIu64 " part %u leased, epoch %" PRIu64 ", attempt %u", r->job.id, p->part,
              epoch, p->attempt);
    return VS_OK;
}

/* The job the merge thread holds (0 when it is idle); its date into date (may be NULL). */
static uint64_t merger_current(run_merger *m, char date[11])
{
    uint64_t id;

    pthread_mutex_lock(&m->lock);
    id = m->job.id;
    if (date != NULL)
        snprintf(date, 11, "%s", id ? m->job.date_text : "");
    pthread_mutex_unlock(&m->lock);
    return id;
}

static uint64_t merger_failures(run_merger *m)
{
    uint64_t n;

    pthread_mutex_lock(&m->lock);
    n = m->failures;
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* A merge failed while this job was being prepared or scanned: if it was an earlier day's, this
 * day can no longer be merged (the money rule), so its scan stops and it fails as StartJob's check
 * of earlier days would fail it; its partials stay until it is queued again. */
static vs_status run_watch_merge(run_state *r, char *err, size_t errlen)
{
    uint64_t failures = merger_failures(r->merger);

    if (failures == r->seen_merge_failures)
        return VS_OK;
    r->seen_merge_failures = failures;
    return job_check_earlier(r->db, r->job.name, r->job.date_text, err, errlen);
}

/* Hands the scanned job (or one found MERGING on resume) to the merge thread as soon as it is
 * idle, i.e. once the previous job's merge has ended. VS_CANCELLED when stopping first. */
static vs_status run_hand_over(run_state *r)
{
    run_merger *m = r->merger;
    char holder_date[11] = "";
    uint64_t holder = 0;

    for (;;) {
        if (r->c->stopping)
            return VS_CANCELLED;
        pthread_mutex_lock(&m->lock);
        if (m->job.id == 0) {
            coord_publish_merge(r->c, r->job.id, 1); /* before the thread can end it */
            m->job = r->job;
            pthread_cond_broadcast(&m->cond);
            pthread_mutex_unlock(&m->lock);
            return VS_OK;
        }
        if (holder != m->job.id) {
            holder = m->job.id;
            snprintf(holder_date, sizeof holder_date, "%s", m->job.date_text);
            log_info("job %" PRIu64 " %s: all partitions in; its merge waits for job %" PRIu64
                     " (%s) to finish merging",
                     r->job.id, r->job.date_text, holder, holder_date);
        }
        pthread_mutex_unlock(&m->lock);
        coord_nap(r->c, 1000); /* the merge thread wakes it when it is done */
    }
}

/* RUNNING: until every partition is done. VS_OK when done, VS_CANCELLED when stopping. */
static vs_status run_partitions(run_state *r, nng_socket push, nng_socket pull, char *err,
                                size_t errlen)
{
    vs_status rc;

    if ((rc = run_load_parts(r, err, errlen)) != VS_OK)
        return rc;
    r->rows_at_start = r->rows_done;
    r->started_mono_ms = clock_mono_ms();
    /* connections that closed before now held nothing of this run */
    coord_pipes_counts(r->c, &r->seen_closed_results, &r->seen_closed_tasks);
    while (r->done < r->n_parts) {
        int64_t now = clock_now_ms(), inflight = 0;

        if (r->c->stopping)
            return VS_CANCELLED;
        if ((rc = run_watch_merge(r, err, errlen)) != VS_OK)
            return rc;
        run_reissue_closed(r);
        for (uint32_t i = 0; i < r->n_parts; i++) {
            run_part *p = &r->parts[i];

            if (p->state == PART_LEASED && p->deadline_ms < now && run_lease_expired(r, p, now)) {
                log_warn("job %" PRIu64 " part %u: lease epoch %" PRIu64 " expired; re-issuing",
                         r->job.id, p->part, p->epoch);
                p->state = PART_PENDING;
            }
            if (p->state == PART_LEASED)
                inflight++;
        }
        for (uint32_t i = 0; i < r->n_parts && inflight < r->c->cfg.inflight &&
                             clock_mono_ms() >= r->issue_after_ms &&
                             __atomic_load_n(&r->c->task_peers, __ATOMIC_SEQ_CST) > 0;
             i++) {
            run_part *p = &r->parts[i];

            if (p->state != PART_PENDING)
                continue;
            if (p->attempt >= r->c->cfg.max_attempts) {
                snprintf(err, errlen,
                         "partition %u (ids %" PRIu64 "..%" PRIu64 ") failed %u times; last: %s",
                         p->part, p->first_id, p->last_id, p->attempt,
                         r->last_error[0] ? r->last_error : "lease expired");
                return VS_FAILED_PRECONDITION;
            }
            rc = run_issue(r, p, push, err, errlen);
            if (rc == VS_UNAVAILABLE) {
                r->issue_after_ms = clock_mono_ms() + 500; /* wait for a worker to connect */
                break;
            }
            if (rc != VS_OK)
                return rc;
            if (p->state == PART_LEASED)
                inflight++;
        }
        if (run_collect(r, pull, 100) > 0 || clock_mono_ms() - r->last_refresh_ms >= 500) {
            if ((rc = run_refresh(r, err, errlen)) != VS_OK)
                return rc;
        }
    }
    return run_refresh(r, err, errlen);
}

/* Runs one job from its current phase until its merge is handed to the merge thread. */
static vs_status run_job(run_state *r, nng_socket push, nng_socket pull, char *err, size_t errlen)
{
    char where[64], merging[11];
    int64_t t0;
    vs_status rc;

    snprintf(where, sizeof where, "id = %" PRIu64, r->job.id);
    r->seen_merge_failures = merger_failures(r->merger);
    if (r->job.state == JOB_PENDING) {
        /* queued re-runs follow their earlier days; if one of those failed, so does this one. The
         * day being merged right now may still be unsettled: this job's own merge waits for it */
        merger_current(r->merger, merging);
        if ((rc = job_check_earlier_but(r->db, r->job.name, r->job.date_text, merging, err,
                                        errlen)) != VS_OK ||
            (rc = run_prepare(r, err, errlen)) != VS_OK ||
            (rc = job_load(r->db, where, &r->job, err, errlen)) != VS_OK)
            return rc;
        if (merging[0] != '\0')
            log_info("job %" PRIu64 " %s: prepared while %s merges", r->job.id, r->job.date_text,
                     merging);
    }
    if (r->job.state == JOB_RUNNING) {
        t0 = clock_mono_ms();
        if ((rc = run_partitions(r, push, pull, err, errlen)) != VS_OK)
            return rc;
        log_info("job %" PRIu64 " %s: %u partitions, %" PRId64 " rows aggregated in %" PRId64 " ms",
                 r->job.id, r->job.date_text, r->n_parts, r->rows_done, clock_mono_ms() - t0);
    }
    if (r->job.state == JOB_RUNNING || r->job.state == JOB_MERGING)
        return run_hand_over(r);
    return VS_OK;
}

/* --- the merge thread --- */

/* Merges one job handed over: the money rule first (every earlier day with play rows has a
 * completed job, so the previous day's merge has committed), then MERGING, merge_job, and the
 * spent partials removed. VS_CANCELLED when the job is no longer this coordinator's to merge. */
static vs_status merger_merge(run_merger *m, job_row *job, char *err, size_t errlen)
{
    char where[64], sql[256];
    merge_stats stats;
    int64_t t0;
    vs_status rc;

    /* its own connection: the merge is one long transaction, and the scheduler's connection keeps
     * preparing and leasing the next job meanwhile. No short lock wait timeout here (the
     * scheduler's is 2 s for its lease bumps): a wait, e.g. behind a CloseMonth holding the job's
     * row, costs less than redoing the whole merge */
    if (m->db == NULL && (rc = db_connect(m->c->cfg.primary_url, 5, &m->db, err, errlen)) != VS_OK)
        return rc;
    if ((rc = job_check_earlier(m->db, job->name, job->date_text, err, errlen)) != VS_OK)
        return rc;
    snprintf(where, sizeof where, "id = %" PRIu64, job->id);
    snprintf(sql, sizeof sql,
             "UPDATE batch_job SET state = %d, updated_ms = %" PRId64 " WHERE id = %" PRIu64
             " AND state = %d",
             JOB_MERGING, clock_now_ms(), job->id, JOB_RUNNING);
    if ((rc = db_exec(m->db, sql, err, errlen)) != VS_OK ||
        (rc = job_load(m->db, where, job, err, errlen)) != VS_OK)
        return rc;
    if (job->state != JOB_MERGING) {
        snprintf(err, errlen, "job %" PRIu64 " is in state %d, not merging", job->id, job->state);
        return VS_CANCELLED;
    }
    t0 = clock_mono_ms();
    if ((rc = merge_job(m->db, job, &stats, err, errlen)) != VS_OK)
        return rc;
    metrics_observe(&m->c->metrics.merge_ms, clock_mono_ms() - t0);
    metrics_inc(&m->c->metrics.jobs_finished[0]);
    log_info("job %" PRIu64 " %s completed: %" PRId64 " videos merged in %" PRId64 " ms (%s)",
             job->id, job->date_text, stats.videos, clock_mono_ms() - t0, stats.steps);
    /* the partials are spent; removing them is not part of the job's outcome */
    snprintf(sql, sizeof sql, "DELETE FROM batch_partial_chunk WHERE job_id = %" PRIu64, job->id);
    if (db_exec(m->db, sql, err, errlen) != VS_OK)
        log_warn("job %" PRIu64 ": partials not removed: %s", job->id, err);
    return VS_OK;
}

/* Waits up to ms for quit (the merge thread's lock held). */
static void merger_nap(run_merger *m, int64_t ms)
{
    const struct timespec until = clock_realtime_after(ms);
    if (!m->quit)
        pthread_cond_timedwait(&m->cond, &m->lock, &until);
}

/* The outcome of one attempt at merging job: 1 when the job is done with (completed, failed, or
 * no longer ours), 0 when the merge is to be tried again on a new connection (the repository went
 * away, a transaction lost a race, or the failure could not be recorded). */
static int merger_settle(run_merger *m, const job_row *job, vs_status rc, char *err, size_t errlen)
{
    char ignored[256];

    if (rc == VS_OK)
        return 1;
    if (rc == VS_CANCELLED) {
        log_warn("job %" PRIu64 ": not merged: %s", job->id, err);
        return 1;
    }
    if (rc != VS_UNAVAILABLE && rc != VS_ABORTED) {
        log_error("job %" PRIu64 " %s failed: %s: %s", job->id, job->date_text, status_name(rc),
                  err);
        if (m->db != NULL && job_fail(m->db, job->id, err, ignored, sizeof ignored) == VS_OK) {
            metrics_inc(&m->c->metrics.jobs_finished[1]);
            return 1;
        }
        snprintf(err, errlen, "the failure not recorded: %s", ignored); /* merge again later */
    }
    log_warn("job %" PRIu64 ": merge: %s: %s; resuming", job->id, status_name(rc), err);
    if (m->db != NULL)
        mysql_close(m->db);
    m->db = NULL;
    return 0;
}

static void *merger_main(void *arg)
{
    run_merger *m = arg;
    char err[1024];
    job_row job;
    vs_status rc;

    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (m->job.id == 0 && !m->quit)
            pthread_cond_wait(&m->cond, &m->lock);
        if (m->quit)
            break; /* a job not merged yet stays MERGING or RUNNING: the next start resumes it */
        job = m->job;
        pthread_mutex_unlock(&m->lock);
        rc = merger_merge(m, &job, err, sizeof err);
        if (!merger_settle(m, &job, rc, err, sizeof err)) {
            pthread_mutex_lock(&m->lock);
            merger_nap(m, 1000);
            continue;
        }
        coord_publish_merge(m->c, job.id, 0);
        pthread_mutex_lock(&m->lock);
        m->failures += rc != VS_OK && rc != VS_CANCELLED;
        m->job.id = 0;
        pthread_mutex_unlock(&m->lock);
        coord_wake(m->c);     /* the scheduler may be waiting to hand over the next job */
        coord_finished(m->c); /* and GetJob calls for this one's end */
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    if (m->db != NULL)
        mysql_close(m->db);
    m->db = NULL;
    return NULL;
}

static void merger_stop(run_merger *m)
{
    pthread_mutex_lock(&m->lock);
    m->quit = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
}

/* --- the scheduler --- */

/* Connects to the repository and takes its lock; 0 when that failed (after a nap). */
static int run_connect(run_state *r)
{
    coord *c = r->c;
    char err[1024];
    int64_t lock = 0;
    vs_status rc;

    /* a lease bump never waits long behind a worker's commit of the same partition */
    if ((rc = db_connect(c->cfg.primary_url, 5, &r->db, err, sizeof err)) == VS_OK &&
        (rc = db_exec(r->db, "SET SESSION innodb_lock_wait_timeout = 2", err, sizeof err)) ==
            VS_OK &&
        (rc = db_query_int(r->db, "SELECT GET_LOCK('vs.batch.coordinator', 0)", &lock, err,
                           sizeof err)) == VS_OK &&
        lock == 1)
        return 1;
    if (rc == VS_OK)
        log_warn("another coordinator holds the job repository; waiting");
    else
        log_warn("job repository unavailable: %s", err);
    if (r->db != NULL)
        mysql_close(r->db);
    r->db = NULL;
    coord_nap(c, 1000);
    return 0;
}

/* Loads the earliest job in progress that the merge thread does not hold into r->job. */
static vs_status run_next(run_state *r, char *err, size_t errlen)
{
    char where[256];
    uint64_t held = merger_current(r->merger, NULL);

    snprintf(where, sizeof where,
             "name = '%s' AND state IN (%d, %d, %d) AND id <> %" PRIu64 " ORDER BY business_date",
             BATCH_JOB_DAILY, JOB_PENDING, JOB_RUNNING, JOB_MERGING, held);
    return job_load(r->db, where, &r->job, err, errlen);
}

void coord_run(coord *c, nng_socket push, nng_socket pull)
{
    run_merger m = {.c = c};
    run_state r = {.c = c, .merger = &m};
    char err[1024], merging[11];
    vs_status rc;

    pthread_mutex_init(&m.lock, NULL);
    pthread_cond_init(&m.cond, NULL);
    pthread_create(&m.thread, NULL, merger_main, &m);
    while (!c->stopping) {
        if (r.db == NULL && !run_connect(&r))
            continue;
        rc = run_next(&r, err, sizeof err);
        if (rc == VS_NOT_FOUND) {
            int queued = 0;

            /* nothing queued: the schedule may owe a day that has closed */
            if ((rc = schedule_tick(c, r.db, &queued, err, sizeof err)) != VS_OK)
                log_warn("schedule: %s: %s", status_name(rc), err);
            if (queued)
                continue;
            coord_publish_idle(c);
            coord_nap(c, 1000);
            continue;
        }
        if (rc != VS_OK) {
            log_warn("job repository: %s: %s; reconnecting", status_name(rc), err);
            mysql_close(r.db);
            r.db = NULL;
            coord_nap(c, 1000);
            continue;
        }
        if (merger_current(&m, merging) != 0 && strcmp(r.job.date_text, merging) < 0) {
            /* an earlier day than the one merging (not queued by StartJob's rules): after it */
            coord_nap(c, 1000);
            continue;
        }
        rc = run_job(&r, push, pull, err, sizeof err);
        if (rc == VS_OK || rc == VS_CANCELLED)
            continue;
        if (rc == VS_UNAVAILABLE || rc == VS_ABORTED) {
            /* the repository went away or a transaction lost a race: reconnect and resume */
            log_warn("job %" PRIu64 ": %s: %s; resuming", r.job.id, status_name(rc), err);
            mysql_close(r.db);
            r.db = NULL;
            coord_nap(c, 1000);
            continue;
        }
        log_error("job %" PRIu64 " %s failed: %s: %s", r.job.id, r.job.date_text, status_name(rc),
                  err);
        metrics_inc(&c->metrics.jobs_finished[1]);
        if (job_fail(r.db, r.job.id, err, err, sizeof err) != VS_OK) {
            mysql_close(r.db);
            r.db = NULL;
        }
        coord_finished(c);
    }
    merger_stop(&m);
    coord_publish_merge(c, m.job.id, 0); /* one left to resume after the restart */
    coord_publish(c, 0, 0, 0);
    free(r.parts);
    if (r.db != NULL)
        mysql_close(r.db);
}
