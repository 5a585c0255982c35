/* query.h — shared pieces of the read path's handlers (query_stats.c, query_settlement.c). The
 * handlers themselves are named in svc_streaming.c's table. */
#ifndef VS_QUERY_H
#define VS_QUERY_H

#include <vs/v1/streaming.pb-c.h>

#include "reads.h"

/* Runs q (read_run) and finds its subject row (kind 1: the video or user, column 1 = its creator
 * or id); *subject is -1 when there is none. A subject unknown to the replica is looked up again
 * on the primary (it may have been created a moment ago), and *res is then the primary's result.
 * On failure the call is marked failed with what as context. */
vs_status query_run(rpc_call *call, read_query q, const read_param *p, int n, read_result *res,
                    int64_t *subject, const char *what);

/* NOT_FOUND when the video is unknown (creator -1), PERMISSION_DENIED when it is another
 * creator's and the caller is not an admin; the call is then marked failed. */
vs_status query_video_access(rpc_call *call, uint64_t video_id, int64_t creator,
                             const auth_principal *who, int is_admin);

/* The settled-days mask (row kind 2) of a query result; 0 when absent. */
uint64_t query_settled_mask(const read_result *res);

/* Fills p[0..3) with the settled-mask subquery's parameters for r. */
void query_period_params(const period_range *r, read_param *p);

void streaming_get_video_stats(Vs__V1__StreamingService_Service *service,
                               const Vs__V1__GetVideoStatsRequest *in,
                               Vs__V1__VideoStats_Closure closure, void *closure_data);
void streaming_get_top_videos(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetTopVideosRequest *in,
                              Vs__V1__TopVideos_Closure closure, void *closure_data);
void streaming_get_settlement(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetSettlementRequest *in,
                              Vs__V1__Settlement_Closure closure, void *closure_data);

#endif
