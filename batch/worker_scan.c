/* worker_scan.c — one partition: choose the source, stream its rows, aggregate, commit. */
#include "worker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "clock.h"
#include "db.h"
#include "db_stmt.h"
#include "gtid.h"
#include "log.h"
#include "partial.h"
#include "task.h"
#include "window.h"

#define WORKER_REPLICA_RETRY_MS 10000

/* Rows are read with the binary protocol, unbuffered: mysql_stmt_fetch pulls them off the wire one
 * by one, so neither side materialises the partition. The partition is one range of the covering
 * index play_log_scan (day, id, and the five columns summed; sql/0092): 38 bytes a row instead of
 * the clustered row's 114, so a day needs a third of the replica's memory, and a day larger than
 * the buffer pool scans 2-2.5x faster (docs/scaling.md). FORCE INDEX because the optimizer,
 * left alone, may fetch each row through the primary key. A row marked invalid (invalid_id,
 * docs/rules.md "Invalid traffic") is a play row that counts for nothing. */
static const char worker_scan_sql[] =
    "SELECT video_id, view_counted, watch_s, ad_views, invalid_id FROM play_log"
    " FORCE INDEX (play_log_scan)"
    " WHERE id BETWEEN ? AND ? AND day = ?";

static void worker_drop(MYSQL **db, MYSQL_STMT **stmt)
{
    if (*stmt != NULL)
        mysql_stmt_close(*stmt);
    *stmt = NULL;
    if (*db != NULL)
        mysql_close(*db);
    *db = NULL;
}

void worker_thread_close(worker_thread *t)
{
    worker_drop(&t->primary, &t->scan_primary);
    worker_drop(&t->replica, &t->scan_replica);
    vmap_free(&t->videos);
    free(t->chunk);
    t->chunk = NULL;
}

/* Picks the connection to read from: the replica once it has applied the job's GTID position,
 * otherwise the primary. Only the first task of a position waits (at most cfg->replica_wait_ms);
 * after that wait ran out, later tasks of the same position just look, so a lagging replica costs
 * one bounded wait per thread, not one per partition. An unreachable replica is left alone for
 * WORKER_REPLICA_RETRY_MS. */
static vs_status worker_source(worker_thread *t, const char *gtid, MYSQL **db, MYSQL_STMT ***stmt,
                               int *from_replica, char *err, size_t errlen)
{
    char sql[1400];
    int64_t reached = -1, wait_ms;
    vs_status rc;

    *from_replica = 0;
    if (t->cfg->replica_url != NULL && gtid_valid(gtid) && strlen(gtid) < sizeof t->gtid_waited &&
        clock_mono_ms() >= t->replica_retry_ms) {
        if (t->replica == NULL &&
            db_connect_io(t->cfg->replica_url, 5,
                          WORKER_DB_IO_TIMEOUT_S + (int)(t->cfg->replica_wait_ms / 1000),
                          &t->replica, err, errlen) != VS_OK) {
            log_warn("%s: replica unreachable, reading the primary: %s", t->name, err);
            t->replica_retry_ms = clock_mono_ms() + WORKER_REPLICA_RETRY_MS;
        }
        if (t->replica != NULL) {
            wait_ms = strcmp(gtid, t->gtid_waited) == 0 ? 0 : t->cfg->replica_wait_ms;
            snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', %" PRId64 ".%03" PRId64 ")",
                     gtid, wait_ms / 1000, wait_ms % 1000);
            rc = gtid[0] == '\0' ? (reached = 0, VS_OK)
                                 : db_query_int(t->replica, sql, &reached, err, errlen);
            if (rc == VS_UNAVAILABLE || rc == VS_INTERNAL)
                worker_drop(&t->replica, &t->scan_replica);
            if (reached == 0) {
                *db = t->replica;
                *stmt = &t->scan_replica;
                *from_replica = 1;
                return VS_OK;
            }
            if (wait_ms > 0)
                log_info("%s: replica has not reached %s within %" PRId64
                         " ms; reading the primary",
                         t->name, gtid, wait_ms);
            snprintf(t->gtid_waited, sizeof t->gtid_waited, "%s", gtid);
        }
    }
    if (t->primary == NULL && (rc = db_connect_io(t->cfg->primary_url, 5, WORKER_DB_IO_TIMEOUT_S,
                                                  &t->primary, err, errlen)) != VS_OK)
        return rc;
    *db = t->primary;
    *stmt = &t->scan_primary;
    return VS_OK;
}

/* Streams the partition into t->videos: v[0] views, v[1] watch_s, v[2] ad_views, v[3] rows. */
static vs_status worker_scan(worker_thread *t, MYSQL *db, MYSQL_STMT **stmtp,
                             const Vs__V1__PartitionTask *task, worker_outcome *out, char *err,
                             size_t errlen)
{
    MYSQL_BIND param[3], result[5];
    uint64_t first_id = task->first_id, last_id = task->last_id, video_id = 0;
    int8_t view_counted = 0;
    int32_t watch_s = 0, ad_views = 0, invalid_id = 0;
    unsigned long day_len = (unsigned long)strlen(task->business_date);
    my_bool is_null[5], error[5];
    int fetched;

    if (*stmtp == NULL) {
        *stmtp = mysql_stmt_init(db);
        if (*stmtp == NULL ||
            mysql_stmt_prepare(*stmtp, worker_scan_sql, (unsigned long)strlen(worker_scan_sql))) {
            snprintf(err, errlen, "prepare scan: %s", mysql_error(db));
            return db_status_from_errno(mysql_errno(db));
        }
    }
    db_bind_u64(&param[0], &first_id);
    db_bind_u64(&param[1], &last_id);
    db_bind_text(&param[2], task->business_date, day_len, &day_len);
    /* the columns' own widths (BIGINT UNSIGNED, TINYINT UNSIGNED holding 0 or 1, INT, INT, INT
     * UNSIGNED): copied without conversion */
    db_bind_u64(&result[0], &video_id);
    db_bind_i8(&result[1], &view_counted);
    db_bind_i32(&result[2], &watch_s);
    db_bind_i32(&result[3], &ad_views);
    db_bind_i32(&result[4], &invalid_id);
    for (int i = 0; i < 5; i++)
        db_bind_flags(&result[i], &is_null[i], &error[i]);
    if (mysql_stmt_bind_param(*stmtp, param) || mysql_stmt_execute(*stmtp) ||
        mysql_stmt_bind_result(*stmtp, result)) {
        snprintf(err, errlen, "scan %" PRIu64 "..%" PRIu64 ": %s", task->first_id, task->last_id,
                 mysql_stmt_error(*stmtp));
        return db_status_from_errno(mysql_stmt_errno(*stmtp));
    }
    while ((fetched = mysql_stmt_fetch(*stmtp)) == 0) {
        vmap_entry *e = vmap_upsert(&t->videos, video_id);

        if (e == NULL) {
            mysql_stmt_free_result(*stmtp);
            snprintf(err, errlen, "out of memory aggregating %zu videos", t->videos.count);
            return VS_RESOURCE_EXHAUSTED;
        }
        if (invalid_id == 0) {
            e->v[0] += view_counted;
            e->v[1] += watch_s;
            e->v[2] += ad_views;
        }
        e->v[3] += 1;
        out->rows++;
    }
    if (fetched != MYSQL_NO_DATA) {
        snprintf(err, errlen, "scan %" PRIu64 "..%" PRIu64 ": %s", task->first_id, task->last_id,
                 fetched == MYSQL_DATA_TRUNCATED ? "data truncated" : mysql_stmt_error(*stmtp));
        vs_status rc = fetched == MYSQL_DATA_TRUNCATED
                           ? VS_INTERNAL
                           : db_status_from_errno(mysql_stmt_errno(*stmtp));
        mysql_stmt_free_result(*stmtp);
        return rc;
    }
    mysql_stmt_free_result(*stmtp);
    out->videos = (int64_t)t->videos.count;
    return VS_OK;
}

/* Inserts the sorted per-video aggregates as packed chunks (prepared INSERT, binary BLOB). */
static vs_status worker_write_chunks(worker_thread *t, const Vs__V1__PartitionTask *task,
                                     const vmap_entry *rows, size_t n, char *err, size_t errlen)
{
    static const char sql[] = "INSERT INTO batch_partial_chunk (job_id, part, chunk, videos, data) "
                              "VALUES (?, ?, ?, ?, ?)";
    MYSQL_STMT *stmt = mysql_stmt_init(t->primary);
    MYSQL_BIND param[5];
    uint64_t job_id = task->job_id;
    uint32_t part = task->part, chunk = 0, videos = 0;
    unsigned long data_len = 0;
    vs_status rc = VS_OK;

    if (stmt == NULL || mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql)) != 0) {
        snprintf(err, errlen, "prepare partials: %s", mysql_error(t->primary));
        rc = db_status_from_errno(mysql_errno(t->primary));
        goto out;
    }
    db_bind_u64(&param[0], &job_id);
    db_bind_u32(&param[1], &part);
    db_bind_u32(&param[2], &chunk);
    db_bind_u32(&param[3], &videos);
    db_bind_blob(&param[4], t->chunk, &data_len);
    for (size_t first = 0; first < n; first += PARTIAL_CHUNK_VIDEOS, chunk++) {
        videos = (unsigned)(n - first < PARTIAL_CHUNK_VIDEOS ? n - first : PARTIAL_CHUNK_VIDEOS);
        for (unsigned i = 0; i < videos; i++)
            partial_encode(rows[first + i].video_id, rows[first + i].v,
                           t->chunk + (size_t)i * PARTIAL_RECORD_BYTES);
        data_len = (unsigned long)videos * PARTIAL_RECORD_BYTES;
        param[4].buffer_length = data_len;
        if (mysql_stmt_bind_param(stmt, param) != 0 || mysql_stmt_execute(stmt) != 0) {
            snprintf(err, errlen, "partials: %s", mysql_stmt_error(stmt));
            rc = db_status_from_errno(mysql_stmt_errno(stmt));
            goto out;
        }
    }
out:
    if (stmt != NULL)
        mysql_stmt_close(stmt);
    return rc;
}

/* One transaction: claim the partition as done under the task's epoch, then write the partials.
 * The UPDATE comes first so that a second delivery of the same task waits on the row lock and
 * then finds the partition done. */
static vs_status worker_commit(worker_thread *t, const Vs__V1__PartitionTask *task,
                               worker_outcome *out, char *err, size_t errlen)
{
    char sql[768], who[330], fence[96];
    vs_status rc;

    if (t->primary == NULL && (rc = db_connect_io(t->cfg->primary_url, 5, WORKER_DB_IO_TIMEOUT_S,
                                                  &t->primary, err, errlen)) != VS_OK)
        return rc;
    mysql_real_escape_string(t->primary, who, t->name, (unsigned long)strlen(t->name));
    if ((rc = db_exec(t->primary, "START TRANSACTION", err, errlen)) != VS_OK)
        return rc;
    lease_fence_sql(LEASE_COMMIT, "", task->lease_epoch, fence, sizeof fence);
    snprintf(sql, sizeof sql,
             "UPDATE batch_partition SET state = %d, rows_read = %" PRId64 ", videos = %" PRId64
             ", worker = '%s', done_ms = %" PRId64 " WHERE job_id = %" PRIu64 " AND part = %u"
             " AND %s",
             PART_DONE, out->rows, out->videos, who, clock_now_ms(), task->job_id, task->part,
             fence);
    if ((rc = db_exec(t->primary, sql, err, errlen)) != VS_OK)
        goto rollback;
    if (mysql_affected_rows(t->primary) != 1) {
        snprintf(out->error, sizeof out->error,
                 "lease epoch %" PRIu64 " superseded or partition already done: nothing committed",
                 task->lease_epoch);
        db_exec(t->primary, "ROLLBACK", err, errlen);
        return VS_OK;
    }
    rc = worker_write_chunks(t, task, vmap_sorted(&t->videos), t->videos.count, err, errlen);
    if (rc != VS_OK)
        goto rollback;
    if ((rc = db_exec(t->primary, "COMMIT", err, errlen)) != VS_OK)
        goto rollback;
    out->committed = 1;
    return VS_OK;
rollback:
    db_exec(t->primary, "ROLLBACK", sql, sizeof sql);
    return rc;
}

/* A task is only a pointer into the job repository: its id range, date and GTID position must be
 * the ones recorded for its partition and lease epoch, or it is refused before anything is read
 * (a task from a peer that is not this deployment's coordinator could otherwise commit figures of
 * other rows under a current epoch). *valid is 0, with why in out->error, when it does not match
 * or its lease is no longer current. */
static vs_status worker_check_task(worker_thread *t, const Vs__V1__PartitionTask *task, int *valid,
                                   worker_outcome *out, char *err, size_t errlen)
{
    char sql[512], fence[96], date[16] = "", gtid[1025] = "";
    uint64_t first_id = 0, last_id = 0;
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc;

    *valid = 0;
    if (t->primary == NULL && (rc = db_connect_io(t->cfg->primary_url, 5, WORKER_DB_IO_TIMEOUT_S,
                                                  &t->primary, err, errlen)) != VS_OK)
        return rc;
    lease_fence_sql(LEASE_HOLD, "p.", task->lease_epoch, fence, sizeof fence);
    snprintf(sql, sizeof sql,
             "SELECT p.first_id, p.last_id, j.business_date, j.primary_gtid FROM batch_partition p"
             " JOIN batch_job j ON j.id = p.job_id WHERE p.job_id = %" PRIu64 " AND p.part = %u"
             " AND %s",
             task->job_id, task->part, fence);
    if (mysql_query(t->primary, sql) != 0 || (res = mysql_store_result(t->primary)) == NULL) {
        snprintf(err, errlen, "task check: %s", mysql_error(t->primary));
        return db_status_from_errno(mysql_errno(t->primary));
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        first_id = strtoull(row[0], NULL, 10);
        last_id = strtoull(row[1], NULL, 10);
        snprintf(date, sizeof date, "%s", row[2]);
        snprintf(gtid, sizeof gtid, "%s", row[3] ? row[3] : "");
    }
    mysql_free_result(res);
    if (row == NULL)
        snprintf(out->error, sizeof out->error,
                 "lease epoch %" PRIu64 " is not current (superseded, done or never issued):"
                 " nothing read, nothing committed",
                 task->lease_epoch);
    else if (first_id != task->first_id || last_id != task->last_id ||
             strcmp(date, task->business_date) != 0 || strcmp(gtid, task->primary_gtid) != 0)
        snprintf(out->error, sizeof out->error,
                 "task does not match the job repository (ids %" PRIu64 "..%" PRIu64 " of %s"
                 " recorded): refused, nothing committed",
                 first_id, last_id, date);
    else
        *valid = 1;
    return VS_OK;
}

vs_status worker_process(worker_thread *t, const Vs__V1__PartitionTask *task, worker_outcome *out)
{
    int valid = 0;
    char err[512] = "";
    business_date day;
    MYSQL *db = NULL;
    MYSQL_STMT **stmt = NULL;
    int64_t t0;
    vs_status rc;

    memset(out, 0, sizeof *out);
    vmap_clear(&t->videos);
    if (task_check(task, &day, out->error, sizeof out->error) != VS_OK)
        return VS_INVALID_ARGUMENT;
    rc = worker_check_task(t, task, &valid, out, err, sizeof err);
    if (rc == VS_OK && !valid)
        return VS_OK;
    if (rc == VS_OK)
        rc = worker_source(t, task->primary_gtid, &db, &stmt, &out->from_replica, err, sizeof err);
    t0 = clock_mono_ms();
    if (rc == VS_OK)
        rc = worker_scan(t, db, stmt, task, out, err, sizeof err);
    out->scan_ms = clock_mono_ms() - t0;
    t0 = clock_mono_ms();
    /* a deadlock or lock wait rolled the transaction back: the rows are still aggregated here, so
     * try the commit again rather than give the partition up */
    for (int tries = 0; rc == VS_OK; tries++) {
        rc = worker_commit(t, task, out, err, sizeof err);
        if (rc != VS_ABORTED || tries == 2)
            break;
        log_warn("%s: job %" PRIu64 " part %u: commit aborted (%s); retrying", t->name,
                 task->job_id, task->part, err);
        rc = VS_OK;
    }
    out->commit_ms = clock_mono_ms() - t0;
    if (rc != VS_OK) {
        snprintf(out->error, sizeof out->error, "%s", err);
        /* a broken connection is reopened on the next task */
        if (db == t->replica && rc != VS_RESOURCE_EXHAUSTED)
            worker_drop(&t->replica, &t->scan_replica);
        if (rc != VS_RESOURCE_EXHAUSTED)
            worker_drop(&t->primary, &t->scan_primary);
        out->committed = 0;
    }
    return rc;
}
