/* streaming.c — libvsclient wrappers for StreamingService's videos, Play/Pause and live stats. */
#include <vs/streaming.h>

#include <string.h>

static const ProtobufCServiceDescriptor *const streaming_svc =
    &vs__v1__streaming_service__descriptor;

/* The request's event id: the caller's, or a fresh one in buf. */
static char *streaming_event_id(const char *given, char buf[33])
{
    if (given != NULL && *given != '\0')
        return (char *)given;
    vs_event_id(buf);
    return buf;
}

int vs_video_create(vs_client *c, const char *title, int32_t duration_s, const char *event_id,
                    Vs__V1__Video **out, vs_call_status *status)
{
    Vs__V1__CreateVideoRequest req = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    char id[33];

    req.title = (char *)(title ? title : "");
    req.duration_s = duration_s;
    req.event_id = streaming_event_id(event_id, id);
    return vs_client_call_named(c, streaming_svc, "CreateVideo", &req.base,
                                (ProtobufCMessage **)out, status);
}

int vs_video_get(vs_client *c, uint64_t video_id, Vs__V1__Video **out, vs_call_status *status)
{
    Vs__V1__GetVideoRequest req = VS__V1__GET_VIDEO_REQUEST__INIT;

    req.video_id = video_id;
    return vs_client_call_named(c, streaming_svc, "GetVideo", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_video_list(vs_client *c, uint64_t creator_id, int mine, uint32_t page, uint32_t page_size,
                  Vs__V1__ListVideosResponse **out, vs_call_status *status)
{
    Vs__V1__ListVideosRequest req = VS__V1__LIST_VIDEOS_REQUEST__INIT;

    req.creator_id = creator_id;
    req.mine = mine != 0;
    req.page = page;
    req.page_size = page_size;
    return vs_client_call_named(c, streaming_svc, "ListVideos", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_play(vs_client *c, uint64_t video_id, const char *event_id, Vs__V1__PlayResponse **out,
            vs_call_status *status)
{
    Vs__V1__PlayRequest req = VS__V1__PLAY_REQUEST__INIT;
    char id[33];

    req.video_id = video_id;
    req.event_id = streaming_event_id(event_id, id);
    return vs_client_call_named(c, streaming_svc, "Play", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_pause(vs_client *c, uint64_t video_id, int32_t position_s, const char *event_id,
             Vs__V1__PauseResponse **out, vs_call_status *status)
{
    Vs__V1__PauseRequest req = VS__V1__PAUSE_REQUEST__INIT;
    char id[33];

    req.video_id = video_id;
    req.position_s = position_s;
    req.event_id = streaming_event_id(event_id, id);
    return vs_client_call_named(c, streaming_svc, "Pause", &req.base, (ProtobufCMessage **)out,
                                status);
}

int vs_live_stats(vs_client *c, uint64_t video_id, Vs__V1__LiveStats **out, vs_call_status *status)
{
    Vs__V1__GetLiveStatsRequest req = VS__V1__GET_LIVE_STATS_REQUEST__INIT;

    req.video_id = video_id;
    return vs_client_call_named(c, streaming_svc, "GetLiveStats", &req.base,
                                (ProtobufCMessage **)out, status);
}

const char *vs_not_counted_reason_name(int reason)
{
    switch (reason) {
    case VS__V1__NOT_COUNTED_REASON__COUNTED:
        return "COUNTED";
    case VS__V1__NOT_COUNTED_REASON__OWN_VIDEO:
        return "OWN_VIDEO";
    case VS__V1__NOT_COUNTED_REASON__REPEAT:
        return "REPEAT";
    default:
        return "UNKNOWN";
    }
}
