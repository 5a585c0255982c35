/* playback.c — Play and Pause: authenticate, validate against the video, stamp the receive
 * instant, then hand the event to the group committer (play_commit.c) and answer with the
 * committed outcome. Also the streaming configuration read at start-up, and the steady instants of
 * the Plays this process received (so a Pause is credited by the time that really passed). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "streaming.h"

#define STREAMING_LIVE_TTL_S (2 * 86400) /* today's counters, and yesterday's for late readers */
#define PLAYBACK_START_STRIPES 64        /* locks over the slots: lanes rarely share one */

streaming_config streaming_cfg;

/* The Play of one open playback as this process received it. The wall instant is also in the
 * pair's watch_position row (play_started_ms); finding it here means this process received that
 * Play, so the steady instant beside it bounds the Pause's elapsed time. */
typedef struct playback_start {
    uint64_t pair_tag; /* playback_pair_tag(viewer, video); 0: an empty slot */
    int64_t wall_ms;
    int64_t steady_ms;
} playback_start;

static playback_start *playback_starts; /* a power of two of them, or none */
static size_t playback_start_mask;
static pthread_mutex_t playback_start_locks[PLAYBACK_START_STRIPES];

static uint64_t playback_pair_tag(uint64_t viewer_id, uint64_t video_id)
{
    uint64_t h = viewer_id * 0x9E3779B97F4A7C15ull ^ video_id * 0xC2B2AE3D27D4EB4Full;

    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return (h ^ h >> 29) | 1;
}

/* Slots for up to `wanted` open playbacks (rounded up to a power of two; 0: none). */
static vs_status playback_starts_init(int64_t wanted, char *err, size_t errlen)
{
    size_t slots = 1;

    for (int i = 0; i < PLAYBACK_START_STRIPES; i++)
        pthread_mutex_init(&playback_start_locks[i], NULL);
    if (wanted == 0)
        return VS_OK;
    while (slots < (size_t)wanted)
        slots *= 2;
    playback_starts = calloc(slots, sizeof *playback_starts);
    if (playback_starts == NULL) {
        snprintf(err, errlen, "VS_PLAY_CLOCK_PAIRS: out of memory for %zu slots", slots);
        return VS_RESOURCE_EXHAUSTED;
    }
    playback_start_mask = slots - 1;
    return VS_OK;
}

void playback_start_remember(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms,
                             int64_t steady_ms)
{
    uint64_t tag = playback_pair_tag(viewer_id, video_id);
    size_t slot = (size_t)(tag >> 1) & playback_start_mask;
    pthread_mutex_t *lock = &playback_start_locks[slot % PLAYBACK_START_STRIPES];

    if (playback_starts == NULL)
        return;
    pthread_mutex_lock(lock);
    playback_starts[slot] = (playback_start){tag, wall_ms, steady_ms};
    pthread_mutex_unlock(lock);
}

int playback_start_find(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms, int64_t *steady_ms)
{
    uint64_t tag = playback_pair_tag(viewer_id, video_id);
    size_t slot = (size_t)(tag >> 1) & playback_start_mask;
    pthread_mutex_t *lock = &playback_start_locks[slot % PLAYBACK_START_STRIPES];
    int found;

    if (playback_starts == NULL)
        return 0;
    pthread_mutex_lock(lock);
    found = playback_starts[slot].pair_tag == tag && playback_starts[slot].wall_ms == wall_ms;
    if (found)
        *steady_ms = playback_starts[slot].steady_ms;
    pthread_mutex_unlock(lock);
    return found;
}

vs_status streaming_init(char *err, size_t errlen)
{
    int64_t window_s, committers, batch, known, clock_pairs;
    vs_status rc;

    if ((rc = config_get_int("VS_VIEW_REPEAT_WINDOW_S", PLAYBACK_REPEAT_WINDOW_S, 1, 86400, &window_s, err, errlen)) !=
            VS_OK ||
        (rc = config_get_int("VS_PLAY_COMMITTERS", 1, 1, 16, &committers, err, errlen)) != VS_OK ||
        (rc = config_get_int("VS_PLAY_MAX_BATCH", 512, 1, 4096, &batch, err, errlen)) != VS_OK ||
        (rc = config_get_int("VS_PLAY_KNOWN_PAIRS", 65536, 0, 1 << 24, &known, err, errlen)) !=
            VS_OK ||
        (rc = config_get_int("VS_PLAY_CLOCK_PAIRS", 1 << 18, 0, 1 << 24, &clock_pairs, err,
                             errlen)) != VS_OK)
        return rc;
    streaming_cfg.repeat_window_ms = window_s * 1000;
    streaming_cfg.committers = (int)committers;
    streaming_cfg.max_batch = (int)batch;
    streaming_cfg.known_pairs = (int)known;
    streaming_cfg.live_ttl_s = STREAMING_LIVE_TTL_S;
    log_info("streaming: repeat window %llds, %d commit lanes, batches up to %d events, %d known "
             "pairs a lane",
             (long long)window_s, streaming_cfg.committers, streaming_cfg.max_batch,
             streaming_cfg.known_pairs);
    if ((rc = playback_starts_init(clock_pairs, err, errlen)) != VS_OK)
        return rc;
    return play_commit_start(streaming_cfg.committers, err, errlen);
}

void streaming_fini(void)
{
    play_commit_stop();
    free(playback_starts);
    playback_starts = NULL;
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
