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

/* The serving thread's primary connection (opened on demand), or NULL after the call has been
 * marked failed; and the coordinator the service belongs to. For the handlers of coord_finance.c
 * and coord_ratecard.c. */
MYSQL *coord_service_db(rpc_call *call);
coord *coord_service_coord(void);

/* CloseMonth, InvalidateTraffic, ListInvalidations (coord_finance.c). */
void coord_close_month(Vs__V1__BatchService_Service *s, const Vs__V1__CloseMonthRequest *in,
                       Vs__V1__MonthClose_Closure closure, void *data);
void coord_invalidate_traffic(Vs__V1__BatchService_Service *s,
                              const Vs__V1__InvalidateTrafficRequest *in,
                              Vs__V1__Invalidation_Closure closure, void *data);
void coord_list_invalidations(Vs__V1__BatchService_Service *s,
                              const Vs__V1__ListInvalidationsRequest *in,
                              Vs__V1__ListInvalidationsResponse_Closure closure, void *data);

/* ListRateCards, GetRateCard, AddRateCard (coord_ratecard.c). */
void coord_list_rate_cards(Vs__V1__BatchService_Service *s, const Vs__V1__ListRateCardsRequest *in,
                           Vs__V1__ListRateCardsResponse_Closure closure, void *data);
void coord_get_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__GetRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data);
void coord_add_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__AddRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data);

/* Binds c->cfg.control_url and serves BatchService with c->cfg.rpc_threads threads. */
vs_status coord_service_start(coord *c, rpc_server **out, char *err, size_t errlen);

#endif
