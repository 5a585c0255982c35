/* vsd_metrics.h — vsd's Prometheus endpoint (VS_METRICS_ADDR, docs/operations.md): the RPC
 * server's, MariaDB's and Redis's metrics, the Play commit engine's and the read path's. */
#ifndef VS_VSD_METRICS_H
#define VS_VSD_METRICS_H

#include <stddef.h>

#include "metrics_http.h"
#include "rpc_server.h"
#include "status.h"

/* Serves /metrics on addr with server's metrics among vsd's; *out is the endpoint to stop (before
 * the server stops). */
vs_status vsd_metrics_start(const char *addr, rpc_server *server, metrics_http **out, char *err,
                            size_t errlen);

#endif
