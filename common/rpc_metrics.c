/* rpc_metrics.c — an rpc_server's metrics (rpc_server.h, rpc_metrics.h): requests by method and
 * status and their latency, recorded as replies go out; connections and listeners, read from the
 * server's statistics at scrape time. */
#include "rpc_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "rpc_server_internal.h"

#define RPC_CODES (VS_STATUS_MAX + 1)

typedef struct rpc_method_metrics {
    char path[160]; /* "/vs.v1.StreamingService/Play"; "unknown" for the last entry */
    metrics_counter codes[RPC_CODES];
    metrics_histogram latency_us;
} rpc_method_metrics;

struct rpc_metrics {
    rpc_method_metrics *methods; /* n known ones, then "unknown" */
    size_t n;
    int32_t *index; /* open addressing by path hash: method number, -1 empty */
    uint32_t mask;
};

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

rpc_metrics *rpc_metrics_new(ProtobufCService *const *services, int n_services)
{
    rpc_metrics *m = calloc(1, sizeof *m);
    size_t n = 0, k = 0;
    uint32_t size = 8;

    if (m == NULL)
        return NULL;
    for (int i = 0; i < n_services; i++)
        n += services[i]->descriptor->n_methods;
    while (size < 2 * n)
        size <<= 1;
    m->mask = size - 1;
    m->methods = calloc(n + 1, sizeof *m->methods);
    m->index = malloc(size * sizeof *m->index);
    if (m->methods == NULL || m->index == NULL) {
        rpc_metrics_free(m);
        return NULL;
    }
    memset(m->index, 0xff, size * sizeof *m->index);
    for (int i = 0; i < n_services; i++) {
        const ProtobufCServiceDescriptor *d = services[i]->descriptor;

        for (unsigned j = 0; j < d->n_methods; j++, k++) {
            rpc_method_metrics *mm = &m->methods[k];
            uint32_t h;

            snprintf(mm->path, sizeof mm->path, "/%s/%s", d->name, d->methods[j].name);
            mm->latency_us = (metrics_histogram)METRICS_HISTOGRAM(metrics_bounds_request_us);
            for (h = path_hash(mm->path) & m->mask; m->index[h] >= 0; h = (h + 1) & m->mask)
                ;
            m->index[h] = (int32_t)k;
        }
    }
    snprintf(m->methods[n].path, sizeof m->methods[n].path, "unknown");
    m->methods[n].latency_us = (metrics_histogram)METRICS_HISTOGRAM(metrics_bounds_request_us);
    m->n = n;
    return m;
}

void rpc_metrics_free(rpc_metrics *m)
{
    if (m == NULL)
        return;
    free(m->methods);
    free(m->index);
    free(m);
}

/* The entry of method path, or the "unknown" one. */
static rpc_method_metrics *rpc_metrics_find(rpc_metrics *m, const char *path)
{
    if (path != NULL)
        for (uint32_t h = path_hash(path) & m->mask; m->index[h] >= 0; h = (h + 1) & m->mask)
            if (strcmp(m->methods[m->index[h]].path, path) == 0)
                return &m->methods[m->index[h]];
    return &m->methods[m->n];
}

void rpc_metrics_record(rpc_metrics *m, const char *method, vs_status code,
                        int64_t received_mono_us)
{
    rpc_method_metrics *mm;

    if (m == NULL)
        return;
    mm = rpc_metrics_find(m, method);
    metrics_inc(&mm->codes[(unsigned)code < RPC_CODES ? code : VS_UNKNOWN]);
    metrics_observe(&mm->latency_us, clock_mono_us() - received_mono_us);
}

void rpc_metrics_write(metrics_text *t, const rpc_metrics *m)
{
    metrics_family(t, "vs_rpc_requests_total", METRICS_COUNTER,
                   "RPC requests answered, by method and status code (a code appears once it "
                   "has been answered; OK always). method \"unknown\": no such method, or not an "
                   "envelope.");
    for (size_t i = 0; i <= m->n; i++)
        for (int code = 0; code < RPC_CODES; code++) {
            uint64_t v = metrics_counter_get(&m->methods[i].codes[code]);
            metrics_label l[2] = {{"method", m->methods[i].path}, {"code", status_name(code)}};

            if (v > 0 || code == VS_OK)
                metrics_sample_u64(t, "vs_rpc_requests_total", l, 2, v);
        }
    metrics_family(t, "vs_rpc_request_duration_seconds", METRICS_HISTOGRAM,
                   "Seconds from a request's arrival to its reply, by method (a deferred call "
                   "until its answer: Play and Pause include their commit round).");
    for (size_t i = 0; i <= m->n; i++) {
        metrics_label l = {"method", m->methods[i].path};

        metrics_sample_histogram(t, "vs_rpc_request_duration_seconds", &l, 1,
                                 &m->methods[i].latency_us, 6);
    }
}
