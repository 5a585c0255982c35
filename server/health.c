/* health.c — StreamingService.Health: version, uptime and reachability of every dependency, and
 * where the read path is routed (reads_on_primary, replica_fallbacks; see reads.h).
 *
 * Each probe uses the serving thread's own connections, so a healthy reply also proves that this
 * thread can reach the component. A failed probe drops the connection so the next call reconnects.
 * A primary that answers its probe but on which Play commits stall (PLAY_COMMIT_STALL_MS) is
 * reported degraded: not up, the stall first in its detail, primary_degraded set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "health.h"
#include "log.h"
#include "reads/reads.h"
#include "play/streaming.h"

static void health_probe_db(vsd_thread *w, vsd_db_role role, Vs__V1__ComponentHealth *c,
                            char *detail, size_t detail_len)
{
    char err[256];
    vs_status rc;
    int64_t t0 = clock_mono_us();
    MYSQL *db = vsd_db(w, role, &rc, err, sizeof err);

    c->name = role == VSD_PRIMARY ? "mariadb-primary" : "mariadb-replica";
    c->detail = detail;
    if (db != NULL && mysql_ping(db) != 0) {
        /* a stale connection (server restarted): one fresh attempt */
        vsd_db_reset(w, role);
        db = vsd_db(w, role, &rc, err, sizeof err);
    }
    if (db == NULL) {
        snprintf(detail, detail_len, "%s", err);
        return;
    }
    c->up = 1;
    c->latency_us = clock_mono_us() - t0;
    if (role == VSD_PRIMARY) {
        snprintf(detail, detail_len, "MariaDB %s", mysql_get_server_info(db));
        return;
    }
    if (mysql_query(db, "SHOW SLAVE STATUS") == 0) {
        MYSQL_RES *res = mysql_store_result(db);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        const char *io = NULL, *sql = NULL, *behind = NULL;

        if (row != NULL) {
            unsigned n = mysql_num_fields(res);
            MYSQL_FIELD *f = mysql_fetch_fields(res);
            for (unsigned i = 0; i < n; i++) {
                if (strcmp(f[i].name, "Slave_IO_Running") == 0)
                    io = row[i];
                else if (strcmp(f[i].name, "Slave_SQL_Running") == 0)
                    sql = row[i];
                else if (strcmp(f[i].name, "Seconds_Behind_Master") == 0)
                    behind = row[i];
            }
        }
        snprintf(detail, detail_len, "MariaDB %s; replication io=%s sql=%s lag=%ss",
                 mysql_get_server_info(db), io ? io : "?", sql ? sql : "?",
                 behind ? behind : "NULL");
        if (res != NULL)
            mysql_free_result(res);
    } else {
        snprintf(detail, detail_len, "MariaDB %s; replication status unavailable: %s",
                 mysql_get_server_info(db), mysql_error(db));
    }
}

/* The primary answers its probe but Play commits stall on it (a full disk, a lock held): not up,
 * and the detail says so first. */
static void health_degrade(Vs__V1__ComponentHealth *c, const play_commit_state *ps, char *detail,
                           size_t detail_len)
{
    char stall[160];
    size_t n, len = strlen(detail);
    int w = snprintf(stall, sizeof stall, "degraded: Play commits stalled for %.1f s (%s); ",
                     (double)ps->stalled_ms / 1000.0,
                     ps->stall_why ? ps->stall_why
                                   : "a commit round is still waiting for the database");

    c->up = 0;
    n = w < 0 ? 0 : (size_t)w < sizeof stall ? (size_t)w : sizeof stall - 1;
    if (n + len >= detail_len)
        len = detail_len - n - 1;
    memmove(detail + n, detail, len); /* the probe's text after the stall */
    memcpy(detail, stall, n);
    detail[n + len] = '\0';
}

static void health_probe_redis(vsd_thread *w, Vs__V1__ComponentHealth *c, char *detail,
                               size_t detail_len)
{
    char err[256];
    redisReply *reply = NULL;
    int64_t t0 = clock_mono_us();

    c->name = "redis";
    c->detail = detail;
    if (redis_command(vsd_redis(w), &reply, err, sizeof err, "PING") != VS_OK) {
        snprintf(detail, detail_len, "%s", err);
        return;
    }
    c->latency_us = clock_mono_us() - t0;
    if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0) {
        c->up = 1;
        snprintf(detail, detail_len, "PONG");
    } else {
        snprintf(detail, detail_len, "unexpected reply to PING: %s",
                 reply->str ? reply->str : "(none)");
    }
    freeReplyObject(reply);
}

void vsd_health(Vs__V1__StreamingService_Service *service, const Vs__V1__HealthRequest *input,
                Vs__V1__HealthResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    vsd_thread *w = call->worker;
    Vs__V1__HealthResponse resp = VS__V1__HEALTH_RESPONSE__INIT;
    Vs__V1__ComponentHealth comp[3] = {VS__V1__COMPONENT_HEALTH__INIT,
                                       VS__V1__COMPONENT_HEALTH__INIT,
                                       VS__V1__COMPONENT_HEALTH__INIT};
    Vs__V1__ComponentHealth *comps[3] = {&comp[0], &comp[1], &comp[2]};
    char detail[3][640];
    read_route_state route;
    Vs__V1__RpcStats rpc = VS__V1__RPC_STATS__INIT;
    rpc_server_stats stats;
    Vs__V1__ReadModelStats model = VS__V1__READ_MODEL_STATS__INIT;
    read_model_state ms;
    Vs__V1__PlayCommitStats play = VS__V1__PLAY_COMMIT_STATS__INIT;
    play_commit_state ps;
    clock_step_stats steps;

    read_route_snapshot(&route);
    play_commit_snapshot(&ps);
    resp.primary_degraded = ps.stalled_ms >= PLAY_COMMIT_STALL_MS;
    if (!input->shallow) {
        size_t len;

        health_probe_db(w, VSD_PRIMARY, &comp[0], detail[0], sizeof detail[0]);
        if (resp.primary_degraded)
            health_degrade(&comp[0], &ps, detail[0], sizeof detail[0]);
        health_probe_db(w, VSD_REPLICA, &comp[1], detail[1], sizeof detail[1]);
        health_probe_redis(w, &comp[2], detail[2], sizeof detail[2]);
        len = strlen(detail[1]);
        snprintf(detail[1] + len, sizeof detail[1] - len, "; %s", route.detail);
        resp.n_components = 3;
        resp.components = comps;
    }
    resp.reads_on_primary = route.reads_on_primary;
    resp.replica_fallbacks = route.fallbacks;
    resp.echo = input->echo;
    rpc_server_get_stats(rpc_call_server(call), &stats);
    rpc.requests = stats.requests;
    rpc.served_inline = stats.served_inline;
    rpc.served_on_worker = stats.served_on_worker;
    rpc.rerun_on_worker = stats.rerun_on_worker;
    rpc.deferred = stats.deferred;
    rpc.listener_restarts = stats.listener_restarts;
    rpc.connections_open = stats.connections_open;
    rpc.connections_accepted = stats.connections_accepted;
    rpc.connections_refused = stats.connections_refused;
    rpc.connections_timed_out = stats.connections_timed_out;
    rpc.slots = stats.slots;
    rpc.workers = stats.workers;
    resp.rpc = &rpc;
    read_model_snapshot(&ms);
    model.enabled = ms.enabled;
    model.days = (int32_t)ms.days;
    model.videos = (int64_t)ms.videos;
    model.rows = (int64_t)ms.rows;
    model.bytes = (int64_t)ms.bytes;
    model.hits = ms.hits;
    model.misses = ms.misses;
    resp.read_model = &model;
    play.lanes = ps.lanes;
    play.rounds = (uint64_t)ps.rounds;
    play.events = (uint64_t)ps.events;
    play.rounds_without_read = (uint64_t)ps.rounds_without_read;
    play.reruns_with_read = (uint64_t)ps.reruns_with_read;
    play.commit_stalled_ms = (uint64_t)ps.stalled_ms;
    play.rounds_failed_by_database = (uint64_t)ps.db_failed_rounds;
    play.round_timeouts = (uint64_t)ps.db_timeouts;
    resp.play = &play;
    clock_steps(&steps);
    resp.clock_steps = steps.steps;
    resp.clock_last_step_ms = steps.last_step_ms;
    resp.service = "vsd";
    resp.version = VS_VERSION;
    resp.uptime_s = (clock_mono_ms() - vsd_started_mono_ms) / 1000;
    resp.threads = vsd_cfg.threads;
    closure(&resp, closure_data);
}
