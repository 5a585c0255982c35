/* play_commit.h — the Play/Pause commit engine: lanes that decide and store the events of many
 * calls in one transaction per round (play_commit.c). Its callers: playback.c submits events and
 * starts and stops it, health.c reads its state, live.c records what it committed. The engine
 * calls nothing back but each event's done; it reads the playback rules (playback_rules.h) and
 * the Play clock table (play_clock.h). */
#ifndef VS_PLAY_COMMIT_H
#define VS_PLAY_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "playback_rules.h"
#include "status.h"
#include "window.h"

/* The engine's configuration, given to play_commit_start (read from the environment by
 * streaming_init, docs/streaming.md). */
typedef struct play_commit_config {
    int64_t repeat_window_ms; /* VS_VIEW_REPEAT_WINDOW_S * 1000 (PLAYBACK_REPEAT_WINDOW_S) */
    int lanes;                /* VS_PLAY_COMMITTERS: commit lanes, default 1 */
    int max_batch;            /* VS_PLAY_MAX_BATCH: events per transaction, default 512 */
    int known_pairs;          /* VS_PLAY_KNOWN_PAIRS: known rows a lane keeps, default 65536 */
} play_commit_config;

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
 * its row is committed (or the event is resolved otherwise: a replayed event id, a refused
 * Pause, an error), with ev->status set — a status with its public meaning only; the outcome
 * fields are valid when it is VS_OK. The caller allocates ev and must not touch it until done is
 * called. */
void play_commit_submit(play_event *ev);

/* Starts the lanes with this configuration (kept by pointer: it must outlive the engine);
 * play_commit_stop joins them. */
vs_status play_commit_start(const play_commit_config *cfg, char *err, size_t errlen);
void play_commit_stop(void);

/* Commits that have waited this long (a round in flight, or rounds the primary failed since the
 * last commit) make Health report the primary degraded. */
#define PLAY_COMMIT_STALL_MS 1000

/* What the lanes have done since start, summed (for Health; the names are the wire's). */
typedef struct play_commit_state {
    int lanes;
    int64_t rounds, events;
    int64_t rounds_without_read; /* rounds committed from known rows (no read) */
    int64_t reruns_with_read;    /* known-rows attempts that failed and were rerun with the read */
    int64_t db_failed_rounds, db_timeouts; /* rounds the primary failed; of them, timed out */
    int64_t stalled_ms;    /* the longest any lane has waited for a commit; 0: none waits */
    const char *stall_why; /* that lane's last failure by the primary, or NULL (in flight) */
} play_commit_state;

void play_commit_snapshot(play_commit_state *out);

/* The engine's metrics (metrics.h): rounds by outcome, events, events per round and seconds per
 * round, views by outcome and ad views of the committed events. */
struct metrics_text;
void play_commit_metrics(struct metrics_text *t);

#endif
