/* vsd_metrics.c — what vsd's /metrics answers (vsd_metrics.h). The parts keep their own counters;
 * this file lists the parts and renders the read path's state, read at scrape time. */
#include "vsd_metrics.h"

#include "db.h"
#include "metrics.h"
#include "play/play_commit.h"
#include "reads/reads.h"
#include "redis.h"

/* The read path: routing, the replica's lag, fallbacks to the primary, the read model. */
static void vsd_reads_collect(metrics_text *t, void *arg)
{
    static const char *const results[] = {"hit", "miss"};
    read_route_state route;
    read_model_state model;
    metrics_counter lookups[2];

    (void)arg;
    read_route_snapshot(&route);
    read_model_snapshot(&model);
    metrics_write_one(t, "vs_reads_on_primary", METRICS_GAUGE,
                      "1 while reads go to the primary (the replica lags, is down, or routing is "
                      "configured to the primary), else 0.",
                      route.reads_on_primary, 0);
    metrics_write_one(t, "vs_read_fallbacks_total", METRICS_COUNTER,
                      "Reads answered by the primary because the replica was unusable.",
                      (int64_t)route.fallbacks, 0);
    if (route.replica_separate) {
        metrics_write_one(t, "vs_replica_up", METRICS_GAUGE,
                          "1 when the replica monitor's last check reached the replica.",
                          route.replica_up, 0);
        /* no sample while it cannot be measured: absent() alerts, and no false zero */
        metrics_family(t, "vs_replica_lag_seconds", METRICS_GAUGE,
                       "Age of the oldest primary position the replica has not applied, at the "
                       "monitor's last check (absent while unmeasured).");
        if (route.lag_ms >= 0)
            metrics_sample(t, "vs_replica_lag_seconds", NULL, 0, route.lag_ms, 3);
    }
    atomic_init(&lookups[0].value, model.hits);
    atomic_init(&lookups[1].value, model.misses);
    metrics_write_counters(t, "vs_read_model_requests_total",
                           "Settled-data reads answered from memory (hit) or by SQL (miss) while "
                           "the read model is on.",
                           "result", results, lookups, 2);
    metrics_write_one(t, "vs_read_model_days", METRICS_GAUGE, "Settled days held in memory.",
                      (int64_t)model.days, 0);
    metrics_write_one(t, "vs_read_model_bytes", METRICS_GAUGE,
                      "Memory held by the read model, bytes.", (int64_t)model.bytes, 0);
}

static void vsd_play_collect(metrics_text *t, void *arg)
{
    (void)arg;
    play_commit_metrics(t);
}

vs_status vsd_metrics_start(const char *addr, rpc_server *server, metrics_http **out, char *err,
                            size_t errlen)
{
    const metrics_source sources[] = {
        {rpc_server_metrics_collect, server},
        {vsd_play_collect, NULL},
        {vsd_reads_collect, NULL},
        {db_metrics_collect, NULL},
        {redis_metrics_collect, NULL},
    };

    return metrics_http_start(addr, sources, sizeof sources / sizeof sources[0], out, err, errlen);
}
