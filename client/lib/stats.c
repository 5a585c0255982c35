/* stats.c — libvsclient wrappers for StreamingService's statistics, top-N and settlement. */
#include <vs/stats.h>

#include <string.h>

static const ProtobufCServiceDescriptor *const stats_svc = &vs__v1__streaming_service__descriptor;

static const char *const stats_period_names[] = {"?", "day", "week", "month"};

int vs_period_from_name(const char *name)
{
    for (int p = VS__V1__PERIOD__DAY; p <= VS__V1__PERIOD__MONTH; p++)
        if (name != NULL && strcmp(name, stats_period_names[p]) == 0)
            return p;
    return 0;
}

const char *vs_period_name(int period)
{
    return period >= VS__V1__PERIOD__DAY && period <= VS__V1__PERIOD__MONTH
               ? stats_period_names[period]
               : "?";
}

int vs_video_stats(vs_client *c, uint64_t video_id, int period, const char *date,
                   Vs__V1__VideoStats **out, vs_call_status *status)
{
    Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;

    req.video_id = video_id;
    req.period = (Vs__V1__Period)period;
    req.date = (char *)(date ? date : "");
    return vs_client_call_named(c, stats_svc, "GetVideoStats", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_top_videos(vs_client *c, int period, const char *date, int metric, int scope, uint32_t limit,
                  Vs__V1__TopVideos **out, vs_call_status *status)
{
    Vs__V1__GetTopVideosRequest req = VS__V1__GET_TOP_VIDEOS_REQUEST__INIT;

    req.period = (Vs__V1__Period)period;
    req.date = (char *)(date ? date : "");
    req.metric = (Vs__V1__Metric)metric;
    req.scope = (Vs__V1__Scope)scope;
    req.limit = limit;
    return vs_client_call_named(c, stats_svc, "GetTopVideos", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_settlement(vs_client *c, const vs_settlement_query *q, Vs__V1__Settlement **out,
                  vs_call_status *status)
{
    Vs__V1__GetSettlementRequest req = VS__V1__GET_SETTLEMENT_REQUEST__INIT;

    req.period = (Vs__V1__Period)q->period;
    req.date = (char *)(q->date ? q->date : "");
    req.video_id = q->video_id;
    req.creator_id = q->creator_id;
    req.breakdown = q->breakdown != 0;
    req.limit = q->limit;
    return vs_client_call_named(c, stats_svc, "GetSettlement", &req.base, (ProtobufCMessage **)out,
                                status);
}
