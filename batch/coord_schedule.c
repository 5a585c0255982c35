/* coord_schedule.c — settling each business day by itself (docs/batch.md, "The schedule").
 *
 * The coordinator that holds the job repository (coord_run.c) asks schedule_tick whenever no job
 * is queued or running. A day is due once it has closed in the business time zone and the grace
 * period has passed, so that commits in flight at midnight are in. The schedule queues the
 * earliest due day with play rows after the latest day that has a job, one at a time: the next
 * only once every job so far has completed, so after downtime the missed days follow one job each
 * in date order, and a failed day stops it until an operator re-runs that day. A day that has a
 * job is never queued again: the repository's unique (name, day) key guards that even against a
 * second coordinator, and only the one holding the repository's lock runs the schedule. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "clock.h"
#include "coordinator.h"
#include "db.h"
#include "log.h"

/* The latest day that has a job (*any = 0 when none) and how many jobs have not completed. */
static vs_status schedule_cursor(MYSQL *db, business_date *latest, int *any, int64_t *unfinished,
                                 char *err, size_t errlen)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;

    snprintf(sql, sizeof sql,
             "SELECT MAX(business_date), COALESCE(SUM(state <> %d), 0) FROM batch_job"
             " WHERE name = '%s'",
             JOB_COMPLETED, BATCH_JOB_DAILY);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "batch_job: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    *any = 0;
    *unfinished = 0;
    if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL) {
        *any = window_parse(row[0], latest) == VS_OK;
        *unfinished = strtoll(row[1], NULL, 10);
    }
    mysql_free_result(res);
    return VS_OK;
}

/* The earliest day with play rows after `after` (when any) up to `last`: *found = 0 when none.
 * One probe of the play_log(day, id) index. */
static vs_status schedule_next_rows(MYSQL *db, int any, business_date after, business_date last,
                                    business_date *day, int *found, char *err, size_t errlen)
{
    char sql[256], from[11], to[11], text[16] = "";
    vs_status rc;

    window_format(after, from);
    window_format(last, to);
    snprintf(sql, sizeof sql, "SELECT MIN(day) FROM play_log WHERE %s%s%sday <= '%s'",
             any ? "day > '" : "", any ? from : "", any ? "' AND " : "", to);
    rc = db_query_text(db, sql, text, sizeof text, err, errlen);
    *found = rc == VS_OK && text[0] != '\0' && window_parse(text, day) == VS_OK;
    return rc == VS_NOT_FOUND ? VS_OK : rc;
}

/* The latest day that is due now: its end plus the grace period has passed. */
static business_date schedule_last_due(const coord *c, int64_t now_ms)
{
    return window_day_of(now_ms - c->cfg.schedule_grace_ms) - 1;
}

vs_status schedule_tick(coord *c, MYSQL *db, int *queued, char *err, size_t errlen)
{
    static char last_refusal[512]; /* logged once, not every tick (the run loop's thread only) */
    business_date latest = 0, last_due = schedule_last_due(c, clock_now_ms()), day;
    int64_t unfinished;
    int any, found;
    job_row job;
    vs_status rc;

    *queued = 0;
    if (!c->cfg.schedule)
        return VS_OK;
    if ((rc = schedule_cursor(db, &latest, &any, &unfinished, err, errlen)) != VS_OK)
        return rc;
    if (unfinished > 0)
        return VS_OK; /* one day at a time; a failed one waits for an operator */
    if ((rc = schedule_next_rows(db, any, latest, last_due, &day, &found, err, errlen)) != VS_OK ||
        !found)
        return rc;
    rc = job_start(db, BATCH_JOB_DAILY, day, 0, JOB_BY_SCHEDULE, "", &job, err, errlen);
    if (rc == VS_FAILED_PRECONDITION) {
        /* e.g. an earlier day has play rows but never had a job: an operator must settle it */
        if (strcmp(last_refusal, err) != 0) {
            log_warn("schedule: %s", err);
            snprintf(last_refusal, sizeof last_refusal, "%s", err);
        }
        return VS_OK;
    }
    if (rc != VS_OK)
        return rc;
    last_refusal[0] = '\0';
    log_info("schedule: %s has closed; job %" PRIu64 " queued", job.date_text, job.id);
    *queued = 1;
    return VS_OK;
}

vs_status schedule_next(coord *c, MYSQL *db, business_date *day, int64_t *due_ms, char *err,
                        size_t errlen)
{
    int64_t now = clock_now_ms(), unfinished;
    business_date latest = 0, last_due = schedule_last_due(c, now), due_day;
    int any, found;
    vs_status rc;

    if ((rc = schedule_cursor(db, &latest, &any, &unfinished, err, errlen)) != VS_OK ||
        (rc = schedule_next_rows(db, any, latest, last_due, &due_day, &found, err, errlen)) !=
            VS_OK)
        return rc;
    if (found) {
        *day = due_day; /* due already: it waits for the jobs before it */
    } else {
        /* the next day to close, unless the latest job is later still */
        *day = last_due + 1;
        if (any && latest + 1 > *day)
            *day = latest + 1;
    }
    *due_ms = window_day_start_ms(*day + 1) + c->cfg.schedule_grace_ms;
    return VS_OK;
}
