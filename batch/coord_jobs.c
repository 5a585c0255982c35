/* coord_jobs.c — the job repository: batch_job rows and StartJob's rules. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "coordinator.h"
#include "db.h"

static const char job_columns[] =
    "id, name, business_date, state, attempt, forced, primary_gtid, first_id, last_id,"
    " partitions_total, partitions_done, rows_total, rows_done, videos,"
    " COALESCE(rate_card_version, 0), error, created_ms, started_ms, finished_ms, updated_ms,"
    " started_by, reason";

static void job_from_row(MYSQL_ROW row, job_row *j)
{
    memset(j, 0, sizeof *j);
    j->id = strtoull(row[0], NULL, 10);
    snprintf(j->name, sizeof j->name, "%s", row[1]);
    window_parse(row[2], &j->day);
    window_format(j->day, j->date_text);
    j->state = atoi(row[3]);
    j->attempt = (uint32_t)strtoul(row[4], NULL, 10);
    j->forced = atoi(row[5]);
    snprintf(j->gtid, sizeof j->gtid, "%s", row[6]);
    j->first_id = strtoull(row[7], NULL, 10);
    j->last_id = strtoull(row[8], NULL, 10);
    j->partitions_total = (uint32_t)strtoul(row[9], NULL, 10);
    j->partitions_done = (uint32_t)strtoul(row[10], NULL, 10);
    j->rows_total = strtoll(row[11], NULL, 10);
    j->rows_done = strtoll(row[12], NULL, 10);
    j->videos = strtoll(row[13], NULL, 10);
    j->rate_card_version = (uint32_t)strtoul(row[14], NULL, 10);
    snprintf(j->error, sizeof j->error, "%s", row[15]);
    j->created_ms = strtoll(row[16], NULL, 10);
    j->started_ms = strtoll(row[17], NULL, 10);
    j->finished_ms = strtoll(row[18], NULL, 10);
    j->updated_ms = strtoll(row[19], NULL, 10);
    snprintf(j->started_by, sizeof j->started_by, "%s", row[20]);
    snprintf(j->reason, sizeof j->reason, "%s", row[21]);
}

vs_status job_load(MYSQL *db, const char *where, job_row *out, char *err, size_t errlen)
{
    char sql[1024];
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    snprintf(sql, sizeof sql, "SELECT %s FROM batch_job WHERE %s LIMIT 1", job_columns, where);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "batch_job: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    if ((row = mysql_fetch_row(res)) != NULL)
        job_from_row(row, out);
    else
        rc = VS_NOT_FOUND;
    mysql_free_result(res);
    return rc;
}

vs_status job_first_unsettled(MYSQL *db, const char *name, const char *from, const char *to,
                              char missing[11], char *err, size_t errlen)
{
    char sql[768], text[32] = "";
    vs_status rc;

    /* the inner query is a loose index scan of play_log(day, id): one probe per distinct day */
    snprintf(sql, sizeof sql,
             "SELECT MIN(p.day) FROM (SELECT day FROM play_log WHERE day BETWEEN '%s' AND '%s'"
             " GROUP BY day) p WHERE NOT EXISTS (SELECT 1 FROM batch_job j WHERE j.name = '%s'"
             " AND j.business_date = p.day AND j.state = %d)",
             from, to, name, JOB_COMPLETED);
    rc = db_query_text(db, sql, text, sizeof text, err, errlen);
    if (rc == VS_NOT_FOUND)
        rc = VS_OK;
    snprintf(missing, 11, "%.10s", rc == VS_OK ? text : "");
    return rc;
}

/* StartJob's refusal of `date` while the earlier day `missing` is unsettled. */
static vs_status job_refuse_unsettled(const char *name, const char *date, const char *missing,
                                      char *err, size_t errlen)
{
    snprintf(err, errlen,
             "date: %s cannot be settled yet: the earlier day %s has play rows but no completed %s"
             " job (settle the days in order)",
             date, missing, name);
    return VS_FAILED_PRECONDITION;
}

/* FAILED_PRECONDITION when a day before `day` has play rows but no completed job: cumulative
 * counts, and so the money, of `day` depend on every earlier day. */
vs_status job_check_earlier(MYSQL *db, const char *name, const char *date, char *err, size_t errlen)
{
    char missing[11], before[11];
    business_date d;
    vs_status rc;

    if ((rc = window_parse(date, &d)) != VS_OK)
        return rc;
    window_format(d - 1, before);
    if ((rc = job_first_unsettled(db, name, WINDOW_FIRST_ACCEPTED, before, missing, err, errlen)) !=
            VS_OK ||
        missing[0] == '\0')
        return rc;
    return job_refuse_unsettled(name, date, missing, err, errlen);
}

vs_status job_check_earlier_but(MYSQL *db, const char *name, const char *date, const char *merging,
                                char *err, size_t errlen)
{
    char missing[11] = "", from[11], to[11];
    business_date d, m;
    vs_status rc;

    if (merging[0] == '\0' || window_parse(merging, &m) != VS_OK ||
        window_parse(date, &d) != VS_OK || m >= d)
        return job_check_earlier(db, name, date, err, errlen);
    /* the days before the merging one, then those between it and `date` */
    window_format(m - 1, to);
    rc = job_first_unsettled(db, name, WINDOW_FIRST_ACCEPTED, to, missing, err, errlen);
    if (rc == VS_OK && missing[0] == '\0' && m + 1 < d) {
        window_format(m + 1, from);
        window_format(d - 1, to);
        rc = job_first_unsettled(db, name, from, to, missing, err, errlen);
    }
    if (rc != VS_OK || missing[0] == '\0')
        return rc;
    return job_refuse_unsettled(name, date, missing, err, errlen);
}

/* reason as an SQL string literal's contents (at most JOB_REASON_MAX bytes, cut on a character
 * boundary). */
static const char *job_quote(MYSQL *db, char out[2 * JOB_REASON_MAX + 1], const char *reason)
{
    size_t n = strlen(reason);

    if (n > JOB_REASON_MAX)
        n = JOB_REASON_MAX;
    while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
        n--;
    mysql_real_escape_string(db, out, reason, (unsigned long)n);
    return out;
}

/* Re-queues a completed (force) or failed job: PENDING, attempt + 1. With force, every later
 * completed day of the same job goes back to PENDING too, since its cumulative counts and money
 * depend on this day; the scheduler runs them again in date order. */
static vs_status job_requeue(MYSQL *db, const job_row *job, int force, const char *started_by,
                             const char *reason, char *err, size_t errlen)
{
    char sql[1536], quoted[2 * JOB_REASON_MAX + 1];
    int64_t now = clock_now_ms(), busy = 0;
    vs_status rc;

    if (force) {
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM batch_job WHERE name = '%s' AND business_date > '%s'"
                 " AND state IN (%d, %d)",
                 job->name, job->date_text, JOB_RUNNING, JOB_MERGING);
        if ((rc = db_query_int(db, sql, &busy, err, errlen)) != VS_OK)
            return rc;
        if (busy > 0) {
            snprintf(err, errlen,
                     "date: a later day of %s is being settled right now; force a re-run of %s "
                     "when it has finished",
                     job->name, job->date_text);
            return VS_FAILED_PRECONDITION;
        }
    }
    snprintf(sql, sizeof sql,
             "UPDATE batch_job SET state = %d, attempt = attempt + 1, forced = %d, error = '',"
             " started_by = '%s', reason = '%s', started_ms = 0, finished_ms = 0,"
             " updated_ms = %" PRId64 " WHERE name = '%s' AND ((business_date = '%s' AND"
             " state IN (%d, %d)) OR (%d AND business_date > '%s' AND state = %d))",
             JOB_PENDING, force, started_by, job_quote(db, quoted, reason), now, job->name,
             job->date_text, JOB_COMPLETED, JOB_FAILED, force, job->date_text, JOB_COMPLETED);
    return db_exec(db, sql, err, errlen);
}

vs_status job_start(MYSQL *db, const char *name, business_date day, int force,
                    const char *started_by, const char *reason, job_row *out, char *err,
                    size_t errlen)
{
    char where[256], sql[1280], date[11], today_text[11], quoted[2 * JOB_REASON_MAX + 1];
    business_date today = window_day_of(clock_now_ms());
    vs_status rc;

    window_format(day, date);
    if (day >= today) {
        window_format(today, today_text);
        snprintf(err, errlen, "date: %s is not over yet (today is %s in the business time zone)",
                 date, today_text);
        return VS_FAILED_PRECONDITION;
    }
    snprintf(where, sizeof where, "name = '%s' AND business_date = '%s'", name, date);
    /* two StartJobs of the same new day race on the unique key: the loser reads the winner's */
    for (int tries = 0; tries < 3; tries++) {
        rc = job_load(db, where, out, err, errlen);
        if (rc == VS_OK) {
            switch (out->state) {
            case JOB_PENDING:
            case JOB_RUNNING:
            case JOB_MERGING:
                return VS_OK; /* already queued or running: StartJob is idempotent */
            case JOB_COMPLETED:
                if (!force) {
                    snprintf(err, errlen,
                             "date: %s for %s is already completed (job %" PRIu64
                             "); a completed day is final unless forced",
                             name, date, out->id);
                    return VS_FAILED_PRECONDITION;
                }
                break;
            default:
                break; /* FAILED: run it again */
            }
            if ((rc = job_check_earlier(db, name, date, err, errlen)) != VS_OK ||
                (rc = job_requeue(db, out, force, started_by, reason, err, errlen)) != VS_OK)
                return rc;
            return job_load(db, where, out, err, errlen);
        }
        if (rc != VS_NOT_FOUND)
            return rc;
        if ((rc = job_check_earlier(db, name, date, err, errlen)) != VS_OK)
            return rc;
        snprintf(sql, sizeof sql,
                 "INSERT INTO batch_job (name, business_date, state, forced, started_by, reason,"
                 " created_ms, updated_ms) VALUES ('%s', '%s', %d, %d, '%s', '%s', %" PRId64
                 ", %" PRId64 ")",
                 name, date, JOB_PENDING, force, started_by, job_quote(db, quoted, reason),
                 clock_now_ms(), clock_now_ms());
        rc = db_exec(db, sql, err, errlen);
        if (rc == VS_OK)
            return job_load(db, where, out, err, errlen);
        if (rc != VS_ALREADY_EXISTS)
            return rc;
    }
    snprintf(err, errlen, "job %s %s: concurrent StartJob calls kept racing", name, date);
    return VS_ABORTED;
}

vs_status job_start_range(MYSQL *db, const char *name, business_date from, business_date to,
                          int force, const char *started_by, const char *reason, job_row *out,
                          char *err, size_t errlen)
{
    char where[256], sql[512], date[11];
    vs_status rc;

    window_format(from, date);
    snprintf(where, sizeof where, "name = '%s' AND business_date = '%s' AND state = %d", name, date,
             JOB_COMPLETED);
    /* in a range, a completed first day stays as it is unless forced, like the days after it */
    rc = to > from && !force ? job_load(db, where, out, err, errlen) : VS_NOT_FOUND;
    if (rc == VS_NOT_FOUND)
        rc = job_start(db, name, from, force, started_by, reason, out, err, errlen);

    for (business_date d = from + 1; rc == VS_OK && d <= to; d++) {
        window_format(d, date);
        snprintf(where, sizeof where, "name = '%s' AND business_date = '%s'", name, date);
        rc = job_load(db, where, out, err, errlen);
        if (rc == VS_OK && out->state == JOB_FAILED) {
            /* it follows the days before it in the range: no check of earlier days here */
            if ((rc = job_requeue(db, out, 0, started_by, reason, err, errlen)) == VS_OK)
                rc = job_load(db, where, out, err, errlen);
            continue;
        }
        if (rc != VS_NOT_FOUND)
            continue; /* queued, running or completed: as it is */
        snprintf(sql, sizeof sql,
                 "INSERT INTO batch_job (name, business_date, state, forced, started_by,"
                 " created_ms, updated_ms) VALUES ('%s', '%s', %d, 0, '%s', %" PRId64 ", %" PRId64
                 ")",
                 name, date, JOB_PENDING, started_by, clock_now_ms(), clock_now_ms());
        rc = db_exec(db, sql, err, errlen);
        if (rc == VS_OK || rc == VS_ALREADY_EXISTS) /* a concurrent StartJob queued it */
            rc = job_load(db, where, out, err, errlen);
    }
    return rc;
}

vs_status job_fail(MYSQL *db, uint64_t job_id, const char *message, char *err, size_t errlen)
{
    char sql[2600], text[1025];
    size_t n = strlen(message);

    if (n > 500)
        n = 500;
    /* cut on a character boundary: Job.error is a protobuf string, and must stay UTF-8 */
    while (n > 0 && ((unsigned char)message[n] & 0xc0) == 0x80)
        n--;
    mysql_real_escape_string(db, text, message, (unsigned long)n);
    snprintf(sql, sizeof sql,
             "UPDATE batch_job SET state = %d, error = '%s', finished_ms = %" PRId64
             ", updated_ms = %" PRId64 " WHERE id = %" PRIu64,
             JOB_FAILED, text, clock_now_ms(), clock_now_ms(), job_id);
    return db_exec(db, sql, err, errlen);
}

void job_to_proto(const job_row *row, const coord_progress *live, Vs__V1__Job *out)
{
    int64_t now = clock_now_ms();

    out->id = row->id;
    out->name = (char *)row->name;
    out->date = (char *)row->date_text;
    out->state = (Vs__V1__JobState)row->state;
    out->partitions_total = row->partitions_total;
    out->partitions_done = row->partitions_done;
    out->rows_total = row->rows_total;
    out->rows_done = row->rows_done;
    out->started_unix_ms = row->started_ms;
    out->finished_unix_ms = row->finished_ms;
    out->error = (char *)row->error;
    out->attempt = row->attempt;
    out->started_by = (char *)row->started_by;
    out->reason = (char *)row->reason;
    if (row->state == JOB_COMPLETED && row->finished_ms > row->started_ms) {
        out->rows_per_s = row->rows_done * 1000 / (row->finished_ms - row->started_ms);
    } else if (live != NULL && live->job_id == row->id) {
        out->rows_per_s = live->rows_per_s;
        out->eta_s = live->eta_s;
    } else if (live != NULL && live->merge_job_id == row->id) {
        out->rows_per_s = live->merge_rows_per_s; /* its scan's; the merge aggregates no rows */
    } else if (row->state == JOB_RUNNING && now > row->started_ms && row->started_ms > 0) {
        out->rows_per_s = row->rows_done * 1000 / (now - row->started_ms);
        if (out->rows_per_s > 0 && row->rows_total > row->rows_done)
            out->eta_s = (row->rows_total - row->rows_done) / out->rows_per_s;
    }
}
