/* coord_ratecard.c — ListRateCards, GetRateCard, AddRateCard (placeholder: being written). */
#include "coord_service.h"

void coord_list_rate_cards(Vs__V1__BatchService_Service *s, const Vs__V1__ListRateCardsRequest *in,
                           Vs__V1__ListRateCardsResponse_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "ListRateCards is not implemented yet");
    closure(NULL, data);
}

void coord_get_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__GetRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "GetRateCard is not implemented yet");
    closure(NULL, data);
}

void coord_add_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__AddRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data)
{
    rpc_fail(data, VS_UNIMPLEMENTED, "AddRateCard is not implemented yet");
    closure(NULL, data);
}
