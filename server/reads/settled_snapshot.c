/* settled_snapshot.c — the settled days of the read path: a snapshot of batch_job's
 * daily-settlement rows, taken by the routing monitor from the server reads go to (reads.h explains
 * why that makes the figures read afterwards at least as new as the snapshot). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reads.h"

typedef struct snapshot_day {
    business_date day;
    int settled;
    int reopened;     /* a forced re-run has not completed it again: its old rows are still there */
    uint64_t version; /* hash of attempt and finish time: changes on every (re-)completion */
} snapshot_day;

static struct {
    pthread_rwlock_t lock;
    snapshot_day *days; /* sorted by day */
    size_t n;
    int valid;
    vsd_db_role role;
} snapshot = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static uint64_t snapshot_mix(uint64_t h, uint64_t v)
{
    /* FNV-1a over the 8 bytes of v */
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

uint64_t settled_snapshot_version(uint64_t attempt, uint64_t finished_ms)
{
    return snapshot_mix(snapshot_mix(UINT64_C(14695981039346656037), attempt), finished_ms);
}

static void snapshot_publish(snapshot_day *days, size_t n, int valid, vsd_db_role role)
{
    snapshot_day *old;

    pthread_rwlock_wrlock(&snapshot.lock);
    old = snapshot.days;
    snapshot.days = days;
    snapshot.n = n;
    snapshot.valid = valid;
    snapshot.role = role;
    pthread_rwlock_unlock(&snapshot.lock);
    free(old);
}

void settled_snapshot_refresh(MYSQL *db, vsd_db_role role)
{
    /* TO_DAYS('1970-01-01') = 719528: business_date counts days from 1970-01-01 */
    static const char sql[] = "SELECT TO_DAYS(business_date) - 719528, state, attempt, "
                              "finished_ms, forced FROM batch_job "
                              "WHERE name = 'daily-settlement' ORDER BY business_date";
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    snapshot_day *days = NULL;
    size_t n = 0;

    if (db == NULL || mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        if (db != NULL)
            log_warn("read routing: cannot read batch_job: %s", mysql_error(db));
        snapshot_publish(NULL, 0, 0, role);
        return;
    }
    days = malloc((mysql_num_rows(res) + 1) * sizeof *days);
    while (days != NULL && (row = mysql_fetch_row(res)) != NULL) {
        days[n].day = (business_date)strtol(row[0], NULL, 10);
        days[n].settled = atoi(row[1]) == 4;
        days[n].reopened = !days[n].settled && atoi(row[4]) != 0;
        days[n].version =
            settled_snapshot_version(strtoull(row[2], NULL, 10), strtoull(row[3], NULL, 10));
        n++;
    }
    mysql_free_result(res);
    snapshot_publish(days, n, days != NULL, role);
}

int settled_snapshot_lookup(vsd_db_role role, const period_range *r, read_settled *out)
{
    size_t lo = 0, hi;
    int found = 0;

    pthread_rwlock_rdlock(&snapshot.lock);
    if (snapshot.valid && snapshot.role == role) {
        hi = snapshot.n;
        while (lo < hi) { /* the first day >= r->first */
            size_t mid = lo + (hi - lo) / 2;
            if (snapshot.days[mid].day < r->first)
                lo = mid + 1;
            else
                hi = mid;
        }
        out->mask = 0;
        out->reopened = 0;
        out->signature = UINT64_C(14695981039346656037);
        for (size_t i = lo; i < snapshot.n && snapshot.days[i].day <= r->last; i++) {
            if (snapshot.days[i].reopened)
                out->reopened |= UINT64_C(1) << (snapshot.days[i].day - r->first);
            if (!snapshot.days[i].settled)
                continue;
            out->mask |= UINT64_C(1) << (snapshot.days[i].day - r->first);
            out->day_version[snapshot.days[i].day - r->first] = snapshot.days[i].version;
            out->signature =
                snapshot_mix(snapshot_mix(out->signature, (uint64_t)snapshot.days[i].day),
                             snapshot.days[i].version);
        }
        out->from_snapshot = 1;
        found = 1;
    }
    pthread_rwlock_unlock(&snapshot.lock);
    return found;
}

int settled_snapshot_days(vsd_db_role *role, settled_snapshot_day **days, size_t *n)
{
    int found = 0;

    *days = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&snapshot.lock);
    if (snapshot.valid && (*days = malloc((snapshot.n + 1) * sizeof **days)) != NULL) {
        for (size_t i = 0; i < snapshot.n; i++) {
            if (snapshot.days[i].settled) {
                (*days)[*n].day = snapshot.days[i].day;
                (*days)[(*n)++].version = snapshot.days[i].version;
            }
        }
        *role = snapshot.role;
        found = 1;
    }
    pthread_rwlock_unlock(&snapshot.lock);
    return found;
}

void settled_snapshot_fini(void)
{
    snapshot_publish(NULL, 0, 0, VSD_PRIMARY);
}
