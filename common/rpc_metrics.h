/* rpc_metrics.h — an rpc_server's requests by method and status, and their latency. Internal to
 * common/ (rpc_server*.c, rpc_metrics.c); rpc_server_metrics_collect (rpc_server.h, in
 * rpc_server_life.c) renders them.
 *
 * The methods are the server's services' (a fixed label set, made at start); a method path a
 * client sends that names none of them — or no envelope at all — counts as method "unknown", so
 * a peer cannot grow the label set. Recording a reply is a hash of its method path, a compare,
 * and three relaxed atomic adds. */
#ifndef VS_RPC_METRICS_H
#define VS_RPC_METRICS_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "metrics.h"
#include "status.h"

typedef struct rpc_metrics rpc_metrics;

/* The table of services[0..n)'s methods; NULL when out of memory. */
rpc_metrics *rpc_metrics_new(ProtobufCService *const *services, int n);
void rpc_metrics_free(rpc_metrics *m);

/* A reply was sent (or dropped) for a call to method (the envelope's path; NULL when the request
 * was not an envelope) with status code, received at received_mono_us (clock_mono_us). m NULL:
 * nothing. */
void rpc_metrics_record(rpc_metrics *m, const char *method, vs_status code,
                        int64_t received_mono_us);

/* The two families: vs_rpc_requests_total{method,code} (only the codes seen, and OK always) and
 * vs_rpc_request_duration_seconds{method}. */
void rpc_metrics_write(metrics_text *t, const rpc_metrics *m);

#endif
