/* streaming.h — internals of StreamingService's write path shared by videos.c, playback.c,
 * health.c and live.c (the handlers themselves are declared in svc_streaming.c's table).
 *
 * Flow of a Play or Pause: the handler (usually inline in nng's callback, see rpc_server.h)
 * authenticates, validates the request against the video (videos_lookup, cached), stamps the
 * receive time from the injectable clock, defers its reply and hands a play_event to
 * play_commit_submit(). A committer thread decides the outcome and commits the play_log row (with
 * other calls' events, one transaction per round), or fails, then calls the event's done, which
 * answers the call. No thread waits for the commit. */
#ifndef VS_STREAMING_H
#define VS_STREAMING_H

#include <stddef.h>
#include <stdint.h>
#include <vs/v1/streaming.pb-c.h>

#include "live.h"
#include "play_commit.h"
#include "playback_rules.h"
#include "status.h"
#include "vsd.h"
#include "window.h"

/* Reads the configuration and starts the committers. Call once from main after window_init and
 * before serving; VS_INVALID_ARGUMENT (err names the key) on bad configuration. */
vs_status streaming_init(char *err, size_t errlen);

/* Stops the committers after the rpc workers have stopped (drains nothing: no one submits). */
void streaming_fini(void);

/* ---- videos.c ---- */

typedef struct video_info {
    uint64_t id;
    uint64_t creator_id;
    int32_t duration_s;
} video_info;

/* The video's creator and duration (immutable, so cached process-wide). VS_NOT_FOUND with a
 * message when there is no such video; VS_UNAVAILABLE when the primary cannot be reached. */
vs_status videos_lookup(vsd_thread *w, uint64_t video_id, video_info *out, char *err,
                        size_t errlen);

/* ---- handlers (wired in svc_streaming.c) ---- */

#define STREAMING_HANDLER(fn, Req, Resp)                                                           \
    void fn(Vs__V1__StreamingService_Service *service, const Req *input, Resp##_Closure closure,   \
            void *closure_data)

STREAMING_HANDLER(streaming_create_video, Vs__V1__CreateVideoRequest, Vs__V1__Video);
STREAMING_HANDLER(streaming_get_video, Vs__V1__GetVideoRequest, Vs__V1__Video);
STREAMING_HANDLER(streaming_list_videos, Vs__V1__ListVideosRequest, Vs__V1__ListVideosResponse);
STREAMING_HANDLER(streaming_play, Vs__V1__PlayRequest, Vs__V1__PlayResponse);
STREAMING_HANDLER(streaming_pause, Vs__V1__PauseRequest, Vs__V1__PauseResponse);
STREAMING_HANDLER(streaming_get_live_stats, Vs__V1__GetLiveStatsRequest, Vs__V1__LiveStats);

#endif
