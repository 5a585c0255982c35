/* coord_service.h — the coordinator's BatchService on its REP control socket. */
#ifndef VS_BATCH_COORD_SERVICE_H
#define VS_BATCH_COORD_SERVICE_H

#include "coordinator.h"
#include "rpc_server.h"

/* Binds c->cfg.control_url and serves BatchService with c->cfg.rpc_threads threads. */
vs_status coord_service_start(coord *c, rpc_server **out, char *err, size_t errlen);

#endif
