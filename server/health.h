/* health.h — the Health handler shared by vsd's service table. */
#ifndef VS_HEALTH_H
#define VS_HEALTH_H

#include <vs/v1/streaming.pb-c.h>
#include "vsd.h"

void vsd_health(Vs__V1__StreamingService_Service *service, const Vs__V1__HealthRequest *input,
                Vs__V1__HealthResponse_Closure closure, void *closure_data);

#endif
