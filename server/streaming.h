/* streaming.h — internals of StreamingService's write path shared by videos.c, playback.c,
 * play_commit.c and live.c (the handlers themselves are declared in svc_streaming.c's table).
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

#include "playback_rules.h"
#include "status.h"
#include "vsd.h"
#include "window.h"

/* Configuration read once by streaming_init (environment, see docs/streaming.md). */
typedef struct streaming_config {
    int64_t repeat_window_ms; /* VS_VIEW_REPEAT_WINDOW_S * 1000 (PLAYBACK_REPEAT_WINDOW_S) */
    int committers;           /* VS_PLAY_COMMITTERS: commit lanes, default 1 */
    int max_batch;            /* VS_PLAY_MAX_BATCH: events per transaction, default 512 */
    int known_pairs; /* VS_PLAY_KNOWN_PAIRS: rows a lane keeps to skip reads, default 65536 */
    int live_ttl_s;  /* how long a day's live counters are kept in Redis */
} streaming_config;

extern streaming_config streaming_cfg;

/* Reads the configuration and starts the committers. Call once from main after window_init and
 * before serving; VS_INVALID_ARGUMENT (err names the key) on bad configuration. */
vs_status streaming_init(char *err, size_t errlen);

/* Stops the committers after the rpc workers have stopped (drains nothing: no one submits). */
void streaming_fini(void);

/* Commits that have waited this long (a round in flight, or rounds the primary failed since the
 * last commit) make Health report the primary degraded. */
#define PLAY_COMMIT_STALL_MS 1000

/* What the lanes have done since start, summed (for Health). */
typedef struct play_commit_state {
    int lanes;
    int64_t rounds, events, rounds_without_read, reruns_with_read;
    int64_t db_failed_rounds, db_timeouts; /* rounds the primary failed; of them, timed out */
    int64_t stalled_ms;    /* the longest any lane has waited for a commit; 0: none waits */
    const char *stall_why; /* that lane's last failure by the primary, or NULL (in flight) */
} play_commit_state;

void play_commit_snapshot(play_commit_state *out);

/* ---- playback.c: the steady instant of each open playback's Play received by this process ---- */

/* Remembers that this process received the Play of (viewer, video) at this wall and steady
 * instant (a later Play of the pair replaces it; a full slot forgets an older pair). */
void playback_start_remember(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms,
                             int64_t steady_ms);

/* The steady instant of the Play of (viewer, video) that this process received at wall_ms: 1 and
 * *steady_ms, or 0 when this process did not (another vsd did, this one before a restart, or the
 * entry was replaced). */
int playback_start_find(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms, int64_t *steady_ms);

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

/* ---- play_commit.c ---- */

typedef enum play_kind { PLAY_KIND_PLAY = 1, PLAY_KIND_PAUSE = 2 } play_kind;

typedef struct play_event {
    /* request, filled by the rpc worker */
    play_kind kind;
    char event_id[PLAYBACK_EVENT_ID_MAX + 1];
    uint64_t video_id;
    uint64_t viewer_id;
    uint64_t creator_id;
    int32_t duration_s;
    int32_t position_s;         /* Pause: the position sent */
    int64_t received_ms;        /* the wall clock when the call arrived (clock_now) */
    int64_t received_steady_ms; /* the steady clock then: a Pause's elapsed time is bounded by it */
    /* outcome, filled by the committer */
    vs_status status;
    char message[256];
    business_date day;
    int32_t resume_s;       /* Play */
    int view_counted;       /* Play */
    playback_reason reason; /* Play */
    playback_credit credit; /* Pause */
    int32_t ad_views;       /* Pause */
    int replayed;           /* the outcome is a stored one (same event id seen before) */
    /* committer bookkeeping */
    struct play_event *next;
    int64_t queued_us; /* clock_mono_us() when submitted: the lane's wait statistics */
    /* called once by the committer when the outcome is known, on its thread (must not block);
     * ev may be freed there */
    void (*done)(struct play_event *ev);
} play_event;

/* Queues ev for the next commit round of its lane and returns at once. ev->done is called when
 * its row is committed (or the event is resolved otherwise: a replayed event id,
 * FAILED_PRECONDITION, an error), with ev->status set; the outcome fields are valid when it is
 * VS_OK. The caller allocates ev and must not touch it until done is called. */
void play_commit_submit(play_event *ev);

/* Starts the committer lanes (streaming_cfg must be set); play_commit_stop joins them. */
vs_status play_commit_start(int lanes, char *err, size_t errlen);
void play_commit_stop(void);

/* ---- live.c ---- */

/* The Redis key of a video's live counters for a business day: "live:{day}:{video}". */
void live_key(business_date day, uint64_t video_id, char *out, size_t outlen);

/* Adds the counted views (Plays) and ad views (Pauses) of the committed events (stored[i] != 0)
 * to their day's live counters in one Redis pipeline. A failure is logged, not returned: the
 * counters are a fast view, the calls have succeeded. */
void live_record(redis_conn *redis, play_event *const *events, const unsigned char *stored,
                 size_t n);

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
