/* query.h — shared pieces of the read path's handlers (query_stats.c, query_settlement.c). The
 * handlers themselves are named in svc_streaming.c's table. */
#ifndef VS_QUERY_H
#define VS_QUERY_H

#include <vs/v1/streaming.pb-c.h>

#include "reads.h"

/* Runs q with the period r and finds its subject (column 0 of every row: the video's creator or
 * the user's id); *subject is -1 when the result is empty. p[3] is the subject id (query_params).
 * The in-memory model answers when it can (read_model_run; the exact milli-won columns only with
 * breakdown), else read_run. A subject unknown to the replica is looked up again on the primary
 * (it may have been created a moment ago), and *res and *settled are then the primary's. On
 * failure the call is marked failed with what as context. */
vs_status query_run(rpc_call *call, const period_range *r, read_query q, const read_param *p, int n,
                    int breakdown, read_result *res, read_settled *settled, int64_t *subject,
                    const char *what);

/* NOT_FOUND when the video is unknown (creator -1), PERMISSION_DENIED when it is another
 * creator's and the caller is not an admin; the call is then marked failed. */
vs_status query_video_access(rpc_call *call, uint64_t video_id, int64_t creator,
                             const auth_principal *who, int is_admin);

/* The figure queries' parameters for r and a subject id: first, first, last, id. */
void query_params(const period_range *r, uint64_t id, read_param p[4]);

void streaming_get_video_stats(Vs__V1__StreamingService_Service *service,
                               const Vs__V1__GetVideoStatsRequest *in,
                               Vs__V1__VideoStats_Closure closure, void *closure_data);
void streaming_get_top_videos(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetTopVideosRequest *in,
                              Vs__V1__TopVideos_Closure closure, void *closure_data);
void streaming_get_settlement(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetSettlementRequest *in,
                              Vs__V1__Settlement_Closure closure, void *closure_data);

/* GetStatement (query_statement.c) and GetLedger (query_ledger.c). */
void streaming_get_statement(Vs__V1__StreamingService_Service *service,
                             const Vs__V1__GetStatementRequest *in,
                             Vs__V1__Statement_Closure closure, void *closure_data);
void streaming_get_ledger(Vs__V1__StreamingService_Service *service,
                          const Vs__V1__GetLedgerRequest *in, Vs__V1__Ledger_Closure closure,
                          void *closure_data);

#endif
