/* read_batch.c — the settled days of the read path: a snapshot of batch_job's daily-settlement
 * rows, taken by the routing monitor from the server reads go to (reads.h explains why that makes
 * the figures read afterwards at least as new as the snapshot). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reads.h"

typedef struct batch_day {
    business_date day;
    int settled;
    int reopened;     /* a forced re-run has not completed it again: its old rows are still there */
    uint64_t version; /* hash of attempt and finish time: changes on every (re-)completion */
} batch_day;

static struct {
    pthread_rwlock_t lock;
    batch_day *days; /* sorted by day */
    size_t n;
    int valid;
    vsd_db_role role;
} batch_snap = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static uint64_t batch_mix(uint64_t h, uint64_t v)
{
    /* FNV-1a over the 8 bytes of v */
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

uint64_t read_batch_version(uint64_t attempt, uint64_t finished_ms)
{
    return batch_mix(batch_mix(UINT64_C(14695981039346656037), attempt), finished_ms);
}

static void batch_publish(batch_day *days, size_t n, int valid, vsd_db_role role)
{
    batch_day *old;

    pthread_rwlock_wrlock(&batch_snap.lock);
    old = batch_snap.days;
    batch_snap.days = days;
    batch_snap.n = n;
    batch_snap.valid = valid;
    batch_snap.role = role;
    pthread_rwlock_unlock(&batch_snap.lock);
    free(old);
}

void read_batch_refresh(MYSQL *db, vsd_db_role role)
{
    /* TO_DAYS('1970-01-01') = 719528: business_date counts days from 1970-01-01 */
    static const char sql[] = "SELECT TO_DAYS(business_date) - 719528, state, attempt, "
                              "finished_ms, forced FROM batch_job "
                              "WHERE name = 'daily-settlement' ORDER BY business_date";
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    batch_day *days = NULL;
    size_t n = 0;

    if (db == NULL || mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        if (db != NULL)
            log_warn("read routing: cannot read batch_job: %s", mysql_error(db));
        batch_publish(NULL, 0, 0, role);
        return;
    }
    days = malloc((mysql_num_rows(res) + 1) * sizeof *days);
    while (days != NULL && (row = mysql_fetch_row(res)) != NULL) {
        days[n].day = (business_date)strtol(row[0], NULL, 10);
        days[n].settled = atoi(row[1]) == 4;
        days[n].reopened = !days[n].settled && atoi(row[4]) != 0;
        days[n].version =
            read_batch_version(strtoull(row[2], NULL, 10), strtoull(row[3], NULL, 10));
        n++;
    }
    mysql_free_result(res);
    batch_publish(days, n, days != NULL, role);
}

int read_batch_lookup(vsd_db_role role, const period_range *r, read_settled *out)
{
    size_t lo = 0, hi;
    int found = 0;

    pthread_rwlock_rdlock(&batch_snap.lock);
    if (batch_snap.valid && batch_snap.role == role) {
        hi = batch_snap.n;
        while (lo < hi) { /* the first day >= r->first */
            size_t mid = lo + (hi - lo) / 2;
            if (batch_snap.days[mid].day < r->first)
                lo = mid + 1;
            else
                hi = mid;
        }
        out->mask = 0;
        out->reopened = 0;
        out->signature = UINT64_C(14695981039346656037);
        for (size_t i = lo; i < batch_snap.n && batch_snap.days[i].day <= r->last; i++) {
            if (batch_snap.days[i].reopened)
                out->reopened |= UINT64_C(1) << (batch_snap.days[i].day - r->first);
            if (!batch_snap.days[i].settled)
                continue;
            out->mask |= UINT64_C(1) << (batch_snap.days[i].day - r->first);
            out->day_version[batch_snap.days[i].day - r->first] = batch_snap.days[i].version;
            out->signature = batch_mix(batch_mix(out->signature, (uint64_t)batch_snap.days[i].day),
                                       batch_snap.days[i].version);
        }
        out->from_snapshot = 1;
        found = 1;
    }
    pthread_rwlock_unlock(&batch_snap.lock);
    return found;
}

int read_batch_settled_days(vsd_db_role *role, read_batch_day **days, size_t *n)
{
    int found = 0;

    *days = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&batch_snap.lock);
    if (batch_snap.valid && (*days = malloc((batch_snap.n + 1) * sizeof **days)) != NULL) {
        for (size_t i = 0; i < batch_snap.n; i++) {
            if (batch_snap.days[i].settled) {
                (*days)[*n].day = batch_snap.days[i].day;
                (*days)[(*n)++].version = batch_snap.days[i].version;
            }
        }
        *role = batch_snap.role;
        found = 1;
    }
    pthread_rwlock_unlock(&batch_snap.lock);
    return found;
}

void read_batch_fini(void)
{
    batch_publish(NULL, 0, 0, VSD_PRIMARY);
}
