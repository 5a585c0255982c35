/* svc_streaming.c — the StreamingService table: which function serves which method.
 *
 * VS__V1__STREAMING_SERVICE__INIT(streaming_) names one handler per method of the .proto, in order,
 * so a method added to the service without a handler is a compile error, not a runtime surprise. */
#include <vs/v1/streaming.pb-c.h>

#include "health.h"
#include "reads/query.h"    /* GetVideoStats, GetTopVideos, GetSettlement */
#include "play/streaming.h" /* videos, Play/Pause, live counters */
#include "vsd.h"

#define streaming_health vsd_health

static Vs__V1__StreamingService_Service streaming_service =
    VS__V1__STREAMING_SERVICE__INIT(streaming_);

ProtobufCService *vsd_streaming_service(void)
{
    return &streaming_service.base;
}
