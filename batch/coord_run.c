/* coord_run.c — the scheduler: runs queued jobs in date order through their phases
 *   PENDING  → prepare: record the primary's GTID position, fix the day's id range and partitions
 *   RUNNING  → lease partitions to workers over PUSH, collect results over PULL, re-issue leases
 *              that expire, until every partition is done
 *   MERGING  → merge_job (one transaction, ends COMPLETED)
 * Every phase reads its state back from the repository, so a restarted coordinator resumes where
 * the last one stopped. */
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
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
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

/* Runs one job from its current phase to COMPLETED. */
static vs_status run_job(run_state *r, nng_socket push, nng_socket pull, char *err, size_t errlen)
{
    char where[64], sql[256];
    merge_stats stats;
    int64_t t0;
    vs_status rc;

    snprintf(where, sizeof where, "id = %" PRIu64, r->job.id);
    if (r->job.state == JOB_PENDING) {
        /* queued re-runs follow their earlier days; if one of those failed, so does this one */
        if ((rc = job_check_earlier(r->db, r->job.name, r->job.date_text, err, errlen)) != VS_OK ||
            (rc = run_prepare(r, err, errlen)) != VS_OK ||
            (rc = job_load(r->db, where, &r->job, err, errlen)) != VS_OK)
            return rc;
    }
    if (r->job.state == JOB_RUNNING) {
        t0 = clock_mono_ms();
        if ((rc = run_partitions(r, push, pull, err, errlen)) != VS_OK)
            return rc;
        log_info("job %" PRIu64 " %s: %u partitions, %" PRId64 " rows aggregated in %" PRId64 " ms",
                 r->job.id, r->job.date_text, r->n_parts, r->rows_done, clock_mono_ms() - t0);
        snprintf(sql, sizeof sql,
                 "UPDATE batch_job SET state = %d, updated_ms = %" PRId64 " WHERE id = %" PRIu64
                 " AND state = %d",
                 JOB_MERGING, clock_now_ms(), r->job.id, JOB_RUNNING);
        if ((rc = db_exec(r->db, sql, err, errlen)) != VS_OK ||
            (rc = job_load(r->db, where, &r->job, err, errlen)) != VS_OK)
            return rc;
    }
    if (r->job.state == JOB_MERGING) {
        t0 = clock_mono_ms();
        if ((rc = merge_job(r->db, &r->job, &stats, err, errlen)) != VS_OK)
            return rc;
        metrics_observe(&r->c->metrics.merge_ms, clock_mono_ms() - t0);
        metrics_inc(&r->c->metrics.jobs_finished[0]);
        log_info("job %" PRIu64 " %s completed: %" PRId64 " videos merged in %" PRId64 " ms (%s)",
                 r->job.id, r->job.date_text, stats.videos, clock_mono_ms() - t0, stats.steps);
        /* the partials are spent; removing them is not part of the job's outcome */
        snprintf(sql, sizeof sql, "DELETE FROM batch_partial_chunk WHERE job_id = %" PRIu64,
                 r->job.id);
        if (db_exec(r->db, sql, err, errlen) != VS_OK)
            log_warn("job %" PRIu64 ": partials not removed: %s", r->job.id, err);
    }
    return VS_OK;
}

void coord_run(coord *c, nng_socket push, nng_socket pull)
{
    run_state r = {.c = c};
    char err[1024], where[256];
    int64_t lock = 0;
    vs_status rc;

    snprintf(where, sizeof where, "name = '%s' AND state IN (%d, %d, %d) ORDER BY business_date",
             BATCH_JOB_DAILY, JOB_PENDING, JOB_RUNNING, JOB_MERGING);
    while (!c->stopping) {
        if (r.db == NULL) {
            /* a lease bump never waits long behind a worker's commit of the same partition */
            if ((rc = db_connect(c->cfg.primary_url, 5, &r.db, err, sizeof err)) != VS_OK ||
                (rc = db_exec(r.db, "SET SESSION innodb_lock_wait_timeout = 2", err, sizeof err)) !=
                    VS_OK ||
                (rc = db_query_int(r.db, "SELECT GET_LOCK('vs.batch.coordinator', 0)", &lock, err,
                                   sizeof err)) != VS_OK ||
                lock != 1) {
                if (rc == VS_OK)
                    log_warn("another coordinator holds the job repository; waiting");
                else
                    log_warn("job repository unavailable: %s", err);
                if (r.db != NULL)
                    mysql_close(r.db);
                r.db = NULL;
                coord_nap(c, 1000);
                continue;
            }
        }
        rc = job_load(r.db, where, &r.job, err, sizeof err);
        if (rc == VS_NOT_FOUND) {
            int queued = 0;

            /* nothing queued: the schedule may owe a day that has closed */
            if ((rc = schedule_tick(c, r.db, &queued, err, sizeof err)) != VS_OK)
                log_warn("schedule: %s: %s", status_name(rc), err);
            if (queued)
                continue;
            coord_publish(c, 0, 0, 0);
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
        rc = run_job(&r, push, pull, err, sizeof err);
        if (rc == VS_OK)
            coord_finished(c);
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
    coord_publish(c, 0, 0, 0);
    free(r.parts);
    if (r.db != NULL)
        mysql_close(r.db);
}
