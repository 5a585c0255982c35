/* health.c — `vsctl health`: is vsd up, and can it reach MariaDB (primary, replica) and Redis? */
#include <stdio.h>
#include <string.h>

#include "vsctl.h"

/* Exit status: 0 when every component is up, 3 when vsd answered but something is down. */
int cmd_health(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;
    vs_client *c;
    int all_up = 1;

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            printf("usage: vsctl [--json] health\n\nShows vsd's version and uptime and whether it "
                   "reaches the MariaDB primary, the replica and Redis.\nExit status 0 when all "
                   "are up, 3 when any is down, 1 when vsd does not answer.\n");
            return 0;
        }
        fprintf(stderr, "vsctl health: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        return vsctl_fail(ctl, "health", &st);
    for (size_t i = 0; i < resp->n_components; i++)
        all_up &= resp->components[i]->up;
    if (ctl->json) {
        json_t *comps = json_array();
        for (size_t i = 0; i < resp->n_components; i++) {
            Vs__V1__ComponentHealth *h = resp->components[i];
            json_array_append_new(comps, json_pack("{s:s,s:b,s:I,s:s}", "name", h->name, "up",
                                                   h->up, "latency_us", (json_int_t)h->latency_us,
                                                   "detail", h->detail));
        }
        json_t *out = json_pack("{s:s,s:s,s:I,s:i,s:b,s:o,s:s,s:I}", "service", resp->service,
                                "version", resp->version, "uptime_s", (json_int_t)resp->uptime_s,
                                "threads", resp->threads, "ok", all_up, "components", comps,
                                "reads_on", resp->reads_on_primary ? "primary" : "replica",
                                "replica_fallbacks", (json_int_t)resp->replica_fallbacks);
        json_object_set_new(out, "primary_degraded", json_boolean(resp->primary_degraded));
        const Vs__V1__RpcStats *r = resp->rpc;

        if (r != NULL)
            json_object_set_new(
                out, "rpc",
                json_pack("{s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:I,s:{s:I,s:I,s:I,s:I}}", "requests",
                          (json_int_t)r->requests, "served_inline", (json_int_t)r->served_inline,
                          "served_on_worker", (json_int_t)r->served_on_worker, "rerun_on_worker",
                          (json_int_t)r->rerun_on_worker, "deferred", (json_int_t)r->deferred,
                          "slots", r->slots, "workers", r->workers, "listener_restarts",
                          (json_int_t)r->listener_restarts, "connections", "open",
                          (json_int_t)r->connections_open, "accepted",
                          (json_int_t)r->connections_accepted, "refused",
                          (json_int_t)r->connections_refused, "timed_out",
                          (json_int_t)r->connections_timed_out));
        if (resp->read_model != NULL) {
            const Vs__V1__ReadModelStats *m = resp->read_model;

            json_object_set_new(out, "read_model",
                                json_pack("{s:b,s:i,s:I,s:I,s:I,s:I,s:I}", "enabled", m->enabled,
                                          "days", m->days, "videos", (json_int_t)m->videos, "rows",
                                          (json_int_t)m->rows, "bytes", (json_int_t)m->bytes,
                                          "hits", (json_int_t)m->hits, "misses",
                                          (json_int_t)m->misses));
        }
        if (resp->play != NULL) {
            const Vs__V1__PlayCommitStats *p = resp->play;

            json_object_set_new(
                out, "play",
                json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "lanes", p->lanes, "rounds",
                          (json_int_t)p->rounds, "events", (json_int_t)p->events,
                          "rounds_without_read", (json_int_t)p->rounds_without_read,
                          "reruns_with_read", (json_int_t)p->reruns_with_read, "commit_stalled_ms",
                          (json_int_t)p->commit_stalled_ms, "rounds_failed_by_database",
                          (json_int_t)p->rounds_failed_by_database, "round_timeouts",
                          (json_int_t)p->round_timeouts));
        }
        json_object_set_new(out, "clock_steps", json_integer((json_int_t)resp->clock_steps));
        json_object_set_new(out, "clock_last_step_ms",
                            json_integer((json_int_t)resp->clock_last_step_ms));
        vsctl_print_json(out);
    } else {
        printf("%s %s  up %llds  %d threads  %s\n", resp->service, resp->version,
               (long long)resp->uptime_s, resp->threads, ctl->url);
        for (size_t i = 0; i < resp->n_components; i++) {
            Vs__V1__ComponentHealth *h = resp->components[i];
            /* a primary that answers while Play commits stall on it is degraded, not down */
            int degraded =
                !h->up && resp->primary_degraded && strcmp(h->name, "mariadb-primary") == 0;

            printf("  %-16s %-4s %7.2f ms  %s\n", h->name,
                   h->up      ? "up"
                   : degraded ? "DEGRADED"
                              : "DOWN",
                   h->latency_us / 1000.0, h->detail);
        }
        /* the read path's routing: statistics and settlement come from the replica unless it is
         * down or lagging, then from the primary (replica_fallbacks counts the switches) */
        printf("  reads served by the %s (%llu fallback%s to the primary since start)\n",
               resp->reads_on_primary ? "PRIMARY" : "replica",
               (unsigned long long)resp->replica_fallbacks,
               resp->replica_fallbacks == 1 ? "" : "s");
        if (resp->rpc != NULL)
            printf("  calls: %llu (%llu inline, %llu on workers of which %llu re-run, %llu "
                   "deferred); %d slots, %d workers\n",
                   (unsigned long long)resp->rpc->requests,
                   (unsigned long long)resp->rpc->served_inline,
                   (unsigned long long)resp->rpc->served_on_worker,
                   (unsigned long long)resp->rpc->rerun_on_worker,
                   (unsigned long long)resp->rpc->deferred, resp->rpc->slots, resp->rpc->workers);
        if (resp->rpc != NULL)
            printf("  connections: %llu open; since start %llu accepted, %llu refused (over a "
                   "cap), %llu closed idle\n",
                   (unsigned long long)resp->rpc->connections_open,
                   (unsigned long long)resp->rpc->connections_accepted,
                   (unsigned long long)resp->rpc->connections_refused,
                   (unsigned long long)resp->rpc->connections_timed_out);
        if (resp->rpc != NULL && resp->rpc->listener_restarts > 0)
            printf("  listeners: %llu found no longer accepting connections and listened again "
                   "(see the log)\n",
                   (unsigned long long)resp->rpc->listener_restarts);
        if (resp->read_model != NULL && resp->read_model->enabled)
            printf("  read model: %d settled days, %lld videos, %lld rows, %.1f MB; %llu reads "
                   "from memory, %llu from the database\n",
                   resp->read_model->days, (long long)resp->read_model->videos,
                   (long long)resp->read_model->rows, (double)resp->read_model->bytes / 1048576.0,
                   (unsigned long long)resp->read_model->hits,
                   (unsigned long long)resp->read_model->misses);
        else if (resp->read_model != NULL)
            printf("  read model: off (VS_READ_MODEL=off): every read queries the database\n");
        if (resp->play != NULL && resp->play->lanes > 0) {
            const Vs__V1__PlayCommitStats *p = resp->play;

            printf("  play commits: %d lane%s, %llu rounds, %llu events; %llu rounds from known "
                   "rows (no read), %llu rerun with the read\n",
                   p->lanes, p->lanes == 1 ? "" : "s", (unsigned long long)p->rounds,
                   (unsigned long long)p->events, (unsigned long long)p->rounds_without_read,
                   (unsigned long long)p->reruns_with_read);
            if (p->commit_stalled_ms >= 1000 || p->rounds_failed_by_database > 0)
                printf("  play commits STALLED for %.1f s; %llu rounds failed by the database "
                       "since start (%llu timed out)\n",
                       (double)p->commit_stalled_ms / 1000.0,
                       (unsigned long long)p->rounds_failed_by_database,
                       (unsigned long long)p->round_timeouts);
        }
        /* Pauses of playbacks this vsd started are bounded by its monotonic clock */
        if (resp->clock_steps > 0)
            printf("  clock: the wall clock stepped %llu time%s since start (latest %+.3f s)\n",
                   (unsigned long long)resp->clock_steps, resp->clock_steps == 1 ? "" : "s",
                   (double)resp->clock_last_step_ms / 1000.0);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return all_up ? 0 : 3;
}
