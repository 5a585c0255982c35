/* playback.c — Play and Pause: authenticate, validate against the video, stamp the receive
 * instant, then hand the event to the group committer (play_commit.c) and answer with the
 * committed outcome. Also the streaming configuration read at start-up, which it gives to the
 * engine (play_commit_start) and the Play clock table (play_clock.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users/auth.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "play_clock.h"
#include "streaming.h"

/* read once by streaming_init (docs/streaming.md); the engine keeps a pointer to it */
static play_commit_config commit_cfg;

vs_status streaming_init(char *err, size_t errlen)
{
    int64_t window_s, committers, batch, known, clock_pairs;
    vs_status rc;

    if ((rc = config_get_int("VS_VIEW_REPEAT_WINDOW_S", PLAYBACK_REPEAT_WINDOW_S, 1, 86400,
                             &window_s, err, errlen)) != VS_OK ||
        (rc = config_get_int("VS_PLAY_COMMITTERS", 1, 1, 16, &committers, err, errlen)) != VS_OK ||
        (rc = config_get_int("VS_PLAY_MAX_BATCH", 512, 1, 4096, &batch, err, errlen)) != VS_OK ||
        (rc = config_get_int("VS_PLAY_KNOWN_PAIRS", 65536, 0, 1 << 24, &known, err, errlen)) !=
            VS_OK ||
        (rc = config_get_int("VS_PLAY_CLOCK_PAIRS", 1 << 18, 0, 1 << 24, &clock_pairs, err,
                             errlen)) != VS_OK)
        return rc;
    commit_cfg.repeat_window_ms = window_s * 1000;
    commit_cfg.lanes = (int)committers;
    commit_cfg.max_batch = (int)batch;
    commit_cfg.known_pairs = (int)known;
    log_info("streaming: repeat window %llds, %d commit lanes, batches up to %d events, %d known "
             "rows a lane",
             (long long)window_s, commit_cfg.lanes, commit_cfg.max_batch, commit_cfg.known_pairs);
    if ((rc = play_clock_init(clock_pairs, err, errlen)) != VS_OK)
        return rc;
    return play_commit_start(&commit_cfg, err, errlen);
}

void streaming_fini(void)
{
    play_commit_stop();
    play_clock_fini();
}

/* A Play or Pause waiting for its commit round. */
typedef struct playback_pending {
    play_event ev; /* first: done gets &ev */
    rpc_call *call;
    ProtobufCClosure closure;
} playback_pending;

/* The common front of Play and Pause: token, event id, video. Fills ev's request part; on failure
 * the call is marked failed and the caller only closes it. */
static vs_status playback_begin(rpc_call *call, play_kind kind, uint64_t video_id,
                                const char *event_id, video_info *video, play_event *ev)
{
    auth_principal who;
    char err[256];
    vs_status rc;

    if ((rc = auth_require(call, &who)) != VS_OK)
        return rc;
    if ((rc = playback_check_event_id(event_id, err, sizeof err)) != VS_OK ||
        (rc = videos_lookup(call->worker, video_id, video, err, sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        return rc;
    }
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    snprintf(ev->event_id, sizeof ev->event_id, "%s", event_id);
    ev->video_id = video_id;
    ev->viewer_id = who.user_id;
    ev->creator_id = video->creator_id;
    ev->duration_s = video->duration_s;
    return VS_OK;
}

/* The committer's answer to a Play or Pause: the reply from the event's outcome. */
static void playback_done(play_event *ev)
{
    playback_pending *p = (playback_pending *)ev;
    char day[11];

    if (ev->status != VS_OK) {
        rpc_fail(p->call, ev->status, "%s", ev->message);
        p->closure(NULL, p->call);
    } else if (ev->kind == PLAY_KIND_PLAY) {
        Vs__V1__PlayResponse resp = VS__V1__PLAY_RESPONSE__INIT;

        window_format(ev->day, day);
        resp.resume_position_s = ev->resume_s;
        resp.view_counted = ev->view_counted;
        resp.reason = (Vs__V1__NotCountedReason)ev->reason;
        resp.business_day = day;
        p->closure(&resp.base, p->call);
    } else {
        Vs__V1__PauseResponse resp = VS__V1__PAUSE_RESPONSE__INIT;

        window_format(ev->day, day);
        resp.watch_s = ev->credit.watch_s;
        resp.ad_views = ev->ad_views;
        resp.credited_from_s = ev->credit.from_s;
        resp.credited_to_s = ev->credit.to_s;
        resp.business_day = day;
        p->closure(&resp.base, p->call);
    }
    free(p);
}

/* Hands the checked event to the committer; the call is answered from playback_done. */
static void playback_submit(rpc_call *call, ProtobufCClosure closure, const play_event *ev)
{
    playback_pending *p = malloc(sizeof *p);
    clock_instant now;

    if (p == NULL) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory queueing the event; retry");
        closure(NULL, call);
        return;
    }
    now = clock_now();
    p->ev = *ev;
    p->ev.received_ms = now.wall_ms;
    p->ev.received_steady_ms = now.steady_ms;
    p->ev.done = playback_done;
    p->call = call;
    p->closure = closure;
    rpc_defer(call);
    play_commit_submit(&p->ev);
}

void streaming_play(Vs__V1__StreamingService_Service *service, const Vs__V1__PlayRequest *input,
                    Vs__V1__PlayResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    video_info video;
    play_event ev;

    if (playback_begin(call, PLAY_KIND_PLAY, input->video_id, input->event_id, &video, &ev) !=
        VS_OK) {
        closure(NULL, call);
        return;
    }
    playback_submit(call, (ProtobufCClosure)closure, &ev);
}

void streaming_pause(Vs__V1__StreamingService_Service *service, const Vs__V1__PauseRequest *input,
                     Vs__V1__PauseResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    video_info video;
    play_event ev;
    char err[256];
    vs_status rc;

    if (playback_begin(call, PLAY_KIND_PAUSE, input->video_id, input->event_id, &video, &ev) !=
        VS_OK) {
        closure(NULL, call);
        return;
    }
    /* a position outside the video is refused before anything is stored */
    if ((rc = playback_check_position(input->position_s, video.duration_s, err, sizeof err)) !=
        VS_OK) {
        rpc_fail(call, rc, "%s", err);
        closure(NULL, call);
        return;
    }
    ev.position_s = input->position_s;
    playback_submit(call, (ProtobufCClosure)closure, &ev);
}
