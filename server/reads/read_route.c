/* read_route.c — which server answers the read path: the replica while it is fresh enough, the
 * primary otherwise (reads.h has the rules). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "bgthread.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "gtid.h"
#include "log.h"
#include "reads.h"

/* Primary positions the replica has not applied yet, oldest first. When full, the newest entry
 * is overwritten: the oldest (which defines the lag) is never lost. */
#define ROUTE_SAMPLES 256
#define ROUTE_POS_LEN 512

typedef struct route_sample {
    int64_t seen_ms; /* monotonic time the monitor first saw this primary position */
    char pos[ROUTE_POS_LEN];
} route_sample;

static struct {
    /* configuration, fixed by read_route_start */
    int primary_only; /* VS_READ_ROUTING=primary */
    int same_server;  /* the replica URL is the primary's */
    int64_t max_lag_ms;
    int64_t check_ms;
    /* published state */
    atomic_int monitor_on_primary; /* the monitor's verdict */
    atomic_int thread_failed; /* an RPC thread saw the replica fail since the last good check */
    atomic_uint_fast64_t fallbacks;
    atomic_int replica_up;      /* the last check reached the replica */
    atomic_int_fast64_t lag_ms; /* measured then; -1: not measured */
    pthread_mutex_t lock;       /* guards detail */
    char detail[160];
    bgthread monitor; /* checks the replica every check_ms */
    /* monitor-only */
    MYSQL *primary, *replica;
    route_sample samples[ROUTE_SAMPLES];
    int n_samples;
} route = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One text value from the monitor's connection *slot (opened on demand, dropped on error). */
static vs_status route_query(MYSQL **slot, const char *url, const char *sql, char *out,
                             size_t outlen, char *err, size_t errlen)
{
    vs_status rc;

    if (*slot == NULL) {
        int io = (int)((route.check_ms * 5 + 999) / 1000); /* a hung server counts as down */
        rc = db_connect_io(url, 1, io < 1 ? 1 : io, slot, err, errlen);
        if (rc != VS_OK)
            return rc;
    }
    rc = db_query_text(*slot, sql, out, outlen, err, errlen);
    if (rc != VS_OK && rc != VS_NOT_FOUND) {
        mysql_close(*slot);
        *slot = NULL;
    }
    return rc;
}

static void route_set_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void route_set_detail(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&route.lock);
    va_start(ap, fmt);
    vsnprintf(route.detail, sizeof route.detail, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&route.lock);
}

/* Records the primary's position pos seen at now_ms, unless it is the newest already. */
static void route_push_sample(const char *pos, int64_t now_ms)
{
    route_sample *s;

    if (route.n_samples > 0 && strcmp(route.samples[route.n_samples - 1].pos, pos) == 0)
        return;
    if (route.n_samples == ROUTE_SAMPLES)
        route.n_samples--; /* overwrite the newest: the oldest defines the lag */
    s = &route.samples[route.n_samples++];
    s->seen_ms = now_ms;
    snprintf(s->pos, sizeof s->pos, "%s", pos);
}

/* Drops the samples the replica has applied (applied = its gtid_slave_pos). */
static void route_pop_applied(const char *applied)
{
    int n = 0;

    while (n < route.n_samples && gtid_reached(applied, route.samples[n].pos) == 1)
        n++;
    if (n > 0) {
        memmove(route.samples, route.samples + n,
                (size_t)(route.n_samples - n) * sizeof route.samples[0]);
        route.n_samples -= n;
    }
}

/* A round when every read goes to the primary: only the settled-days snapshot. */
static void route_check_primary_only(void)
{
    char pos[ROUTE_POS_LEN], err[256];

    if (route_query(&route.primary, vsd_cfg.db_primary, "SELECT @@gtid_binlog_pos", pos, sizeof pos,
                    err, sizeof err) == VS_OK)
        settled_snapshot_refresh(route.primary, VSD_PRIMARY);
    else
        settled_snapshot_refresh(NULL, VSD_PRIMARY);
}

/* One monitor round: sample both servers, compute the lag, publish the verdict, and refresh the
 * settled-days snapshot from the server reads now go to. */
static void route_check(void)
{
    char pos[ROUTE_POS_LEN], applied[ROUTE_POS_LEN], perr[256], rerr[256];
    int64_t now = clock_mono_ms(), lag = 0;
    int primary_ok, replica_ok, on_primary, was;

    if (route.primary_only || route.same_server) {
        route_check_primary_only();
        return;
    }

    primary_ok = route_query(&route.primary, vsd_cfg.db_primary, "SELECT @@gtid_binlog_pos", pos,
                             sizeof pos, perr, sizeof perr) == VS_OK;
    replica_ok = route_query(&route.replica, vsd_cfg.db_replica, "SELECT @@gtid_slave_pos", applied,
                             sizeof applied, rerr, sizeof rerr) == VS_OK;
    /* the position is read before the replica's, so "applied" is never judged against a
     * position newer than the one it was compared with */
    if (primary_ok && pos[0] != '\0')
        route_push_sample(pos, now);
    if (replica_ok) {
        route_pop_applied(applied);
        lag = route.n_samples > 0 ? now - route.samples[0].seen_ms : 0;
    }
    /* The lag is measured against the primary's positions, so a primary that does not answer
     * leaves it unmeasured: the last position seen may never reach the replica (written to the
     * binlog, then the primary died), and the "lag" would only grow. A primary that does not
     * answer cannot serve the reads either, so it is no reason to leave a replica that answers. */
    on_primary = !replica_ok || (primary_ok && lag > route.max_lag_ms);
    atomic_store(&route.replica_up, replica_ok);
    atomic_store(&route.lag_ms, replica_ok && primary_ok ? lag : -1);
    /* the snapshot first, so an RPC thread that sees the new verdict finds a snapshot of its server
     */
    if (on_primary)
        settled_snapshot_refresh(primary_ok ? route.primary : NULL, VSD_PRIMARY);
    else
        settled_snapshot_refresh(route.replica, VSD_REPLICA);
    was = atomic_exchange(&route.monitor_on_primary, on_primary);
    if (replica_ok)
        atomic_store(&route.thread_failed, 0);
    if (!replica_ok) {
        route_set_detail("reads on PRIMARY: replica unreachable (%s)", rerr);
        if (!was)
            log_warn("read routing: replica unreachable, reads fall back to the primary: %s", rerr);
    } else if (on_primary) {
        route_set_detail("reads on PRIMARY: replica lag %lld ms > bound %lld ms", (long long)lag,
                         (long long)route.max_lag_ms);
        if (!was)
            log_warn("read routing: replica lags %lld ms (bound %lld ms), reads fall back to the "
                     "primary",
                     (long long)lag, (long long)route.max_lag_ms);
    } else if (!primary_ok) {
        route_set_detail("reads on replica: primary unreachable, lag not measured (%s)", perr);
        if (was)
            log_warn("read routing: primary unreachable, reads return to the replica whatever "
                     "its lag: %s",
                     perr);
    } else {
        route_set_detail("reads on replica: lag %lld ms (bound %lld ms)", (long long)lag,
                         (long long)route.max_lag_ms);
        if (was)
            log_info("read routing: replica back within %lld ms, reads return to it",
                     (long long)route.max_lag_ms);
    }
}

/* The monitor thread: a check every check_ms until vsd stops. */
static void route_monitor(bgthread *t, void *arg)
{
    (void)arg;
    do
        route_check();
    while (!bgthread_wait(t, route.check_ms));
}

vs_status read_route_start(char *err, size_t errlen)
{
    const char *mode = config_get("VS_READ_ROUTING", "replica");
    vs_status rc;

    if (strcmp(mode, "replica") != 0 && strcmp(mode, "primary") != 0) {
        snprintf(err, errlen, "VS_READ_ROUTING: must be replica or primary (got \"%s\")", mode);
        return VS_INVALID_ARGUMENT;
    }
    if ((rc = config_get_int("VS_REPLICA_MAX_LAG_MS", 1000, 0, 3600000, &route.max_lag_ms, err,
                             errlen)) != VS_OK ||
        (rc = config_get_int("VS_REPLICA_CHECK_MS", 100, 10, 60000, &route.check_ms, err,
                             errlen)) != VS_OK)
        return rc;
    route.primary_only = strcmp(mode, "primary") == 0;
    route.same_server = strcmp(vsd_cfg.db_primary, vsd_cfg.db_replica) == 0;
    if (route.primary_only || route.same_server) {
        atomic_store(&route.monitor_on_primary, 1);
        route_set_detail("reads on primary: %s", route.primary_only
                                                     ? "VS_READ_ROUTING=primary"
                                                     : "no separate replica configured");
    }
    route_check();
    if ((rc = bgthread_start(&route.monitor, "vsd-read-route", route_monitor, NULL, err, errlen)) !=
        VS_OK)
        return rc;
    if (!route.primary_only && !route.same_server)
        log_info("read routing: replica, lag bound %lld ms, checked every %lld ms",
                 (long long)route.max_lag_ms, (long long)route.check_ms);
    return VS_OK;
}

void read_route_stop(void)
{
    if (!route.monitor.running)
        return;
    bgthread_stop(&route.monitor);
    if (route.primary != NULL)
        mysql_close(route.primary);
    if (route.replica != NULL)
        mysql_close(route.replica);
    route.primary = route.replica = NULL;
    settled_snapshot_fini();
    read_cache_fini();
}

vsd_db_role read_route_role(int *fallback)
{
    int on_primary = atomic_load_explicit(&route.monitor_on_primary, memory_order_relaxed) ||
                     atomic_load_explicit(&route.thread_failed, memory_order_relaxed);

    if (fallback != NULL)
        *fallback = on_primary && !route.primary_only && !route.same_server;
    return on_primary ? VSD_PRIMARY : VSD_REPLICA;
}

int read_route_replica_answers(void)
{
    return !route.primary_only && !route.same_server && atomic_load(&route.replica_up) &&
           !atomic_load(&route.thread_failed);
}

void read_route_replica_failed(void)
{
    if (!atomic_exchange(&route.thread_failed, 1))
        log_warn("read routing: a replica query failed, reads fall back to the primary until the "
                 "replica answers again");
}

void read_route_count_fallback(void)
{
    atomic_fetch_add_explicit(&route.fallbacks, 1, memory_order_relaxed);
}

void read_route_snapshot(read_route_state *out)
{
    out->reads_on_primary = read_route_role(NULL) == VSD_PRIMARY;
    out->fallbacks = atomic_load(&route.fallbacks);
    out->replica_separate = !route.primary_only && !route.same_server;
    out->replica_up = atomic_load(&route.replica_up);
    out->lag_ms = atomic_load(&route.lag_ms);
    pthread_mutex_lock(&route.lock);
    snprintf(
        out->detail, sizeof out->detail, "%s%s", route.detail,
        atomic_load(&route.thread_failed) && !atomic_load(&route.monitor_on_primary)
            ? " (an RPC thread's replica query just failed: on the primary until the next check)"
            : "");
    pthread_mutex_unlock(&route.lock);
}
