/* svc_streaming.c — the StreamingService table: which function serves which method. */
#include <vs/v1/streaming.pb-c.h>

#include "health.h"
#include "query.h" /* GetVideoStats, GetTopVideos, GetSettlement */
#include "streaming.h" /* videos, Play/Pause, live counters */
#include "vsd.h"

/* Methods not built yet answer UNIMPLEMENTED, the same as an unknown method. */
#define VSD_NOT_YET(fn, Req, Resp)                                                                 \
    static void fn(Vs__V1__StreamingService_Service *service, const Req *input,                  \
                   Resp##_Closure closure, void *closure_data)                                     \
    {                                                                                              \
        rpc_fail(closure_data, VS_UNIMPLEMENTED, "%s is not implemented yet", #fn);                \
        closure(NULL, closure_data);                                                               \
    }


#define streaming_health vsd_health

static Vs__V1__StreamingService_Service streaming_service = VS__V1__STREAMING_SERVICE__INIT(streaming_);

ProtobufCService *vsd_streaming_service(void)
{
    return &streaming_service.base;
}
