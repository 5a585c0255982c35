/* coord_finance.c — CloseMonth, InvalidateTraffic, ListInvalidations (placeholder). */
#include "coord_service.h"

void coord_close_month(Vs__V1__BatchService_Service *s, const Vs__V1__CloseMonthRequest *in,
                       Vs__V1__MonthClose_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "CloseMonth is not implemented yet");
    closure(NULL, data);
}

void coord_invalidate_traffic(Vs__V1__BatchService_Service *s,
                              const Vs__V1__InvalidateTrafficRequest *in,
                              Vs__V1__Invalidation_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "InvalidateTraffic is not implemented yet");
    closure(NULL, data);
}

void coord_list_invalidations(Vs__V1__BatchService_Service *s,
                              const Vs__V1__ListInvalidationsRequest *in,
                              Vs__V1__ListInvalidationsResponse_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "ListInvalidations is not implemented yet");
    closure(NULL, data);
}
