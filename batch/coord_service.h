/* coord_service.h — the coordinator's BatchService on its REP control socket. */
#ifndef VS_BATCH_COORD_SERVICE_H
#define VS_BATCH_COORD_SERVICE_H

#include "coordinator.h"
#include "rpc_server.h"

/* Loads the token secrets (the same settings and rules as vsd's: VS_JWT_SECRET, or
 * VS_JWT_SECRET_FILE, and during a rotation VS_JWT_SECRET_PREVIOUS(_FILE));
 * VS_FAILED_PRECONDITION without a usable one. Call once before serving. */
vs_status coord_auth_init(char *err, size_t errlen);

/* Requires the call's bearer token to be an admin's (coord_auth.c): VS_OK, or the call is marked
 * failed — VS_UNAUTHENTICATED (no token, or invalid, expired or revoked), VS_PERMISSION_DENIED
 * (a valid token whose user is not an admin), VS_UNAVAILABLE (revocation cannot be checked) — and
 * the handler only has to call closure(NULL). db: the serving thread's primary connection. */
vs_status coord_require_admin(rpc_call *call, MYSQL *db, uint64_t *admin_id);

/* Binds c->cfg.control_url and serves BatchService with c->cfg.rpc_threads threads. */
vs_status coord_service_start(coord *c, rpc_server **out, char *err, size_t errlen);

#endif
