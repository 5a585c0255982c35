/* playback_rules.h — the pure rules of docs/rules.md "Playback", "Views" and "Ads": what a
 * playback is credited with, where the ad breaks are, when a view or ad view counts (the repeat
 * rule's window, claim keys and the reading of a claim's reply), which titles, durations and
 * positions are valid.
 *
 * No I/O and no clock: callers pass instants and durations in, so every number here is pinned by
 * tests/unit/core/test_playback_rules.c. */
#ifndef VS_PLAYBACK_RULES_H
#define VS_PLAYBACK_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define PLAYBACK_AD_INTERVAL_S 300    /* one ad break every 5 minutes of content, no pre-roll */
#define PLAYBACK_GRACE_S 5            /* a Pause may claim elapsed + 5 s of content */
#define PLAYBACK_TITLE_MAX_CHARS 200  /* characters (code points), not bytes */
#define PLAYBACK_DURATION_MAX_S 86400 /* 24 h */
#define PLAYBACK_MAX_ADS ((PLAYBACK_DURATION_MAX_S - 1) / PLAYBACK_AD_INTERVAL_S)
#define PLAYBACK_EVENT_ID_MAX 64 /* bytes; play_log.event_id is VARBINARY(64) */

/* The repeat rule (docs/rules.md "Views", "Ads"): a viewer's counted view of a video, or ad view
 * at one position, blocks the next for this long. VS_VIEW_REPEAT_WINDOW_S overrides it. */
#define PLAYBACK_REPEAT_WINDOW_S 30
#define PLAYBACK_CLAIM_KEY_MAX 96 /* bytes, with the NUL: room for the longest key below */

/* Why a Play's view counted or not. The numbers are the wire's NotCountedReason and play_log's
 * reason column. */
typedef enum playback_reason {
    PLAYBACK_COUNTED = 0,
    PLAYBACK_OWN_VIDEO = 1,
    PLAYBACK_REPEAT = 2
} playback_reason;

/* The claim key of a viewer's view of a video: "view:{video}:{viewer}". Its value is the id of
 * the event that claimed it, and it lives for the repeat window. */
void playback_view_claim_key(uint64_t video_id, uint64_t viewer_id, char *out, size_t outlen);

/* The claim key of a viewer's ad view at ad_s of a video: "ad:{video}:{viewer}:{ad_s}". */
void playback_ad_claim_key(uint64_t video_id, uint64_t viewer_id, int32_t ad_s, char *out,
                           size_t outlen);

/* What a view or ad claim decides for event_id. own_video: the viewer made the video (never
 * counted, whatever the claim says; the engine does not claim then). holder: the id the claim key
 * held before this event's set-if-absent — NULL when it was free (this event claimed it) — and
 * the event's own id when an earlier attempt of the same event claimed it. So: own video →
 * OWN_VIDEO; free or held by this event → COUNTED; held by another event → REPEAT. */
playback_reason playback_claim_outcome(int own_video, const char *holder, const char *event_id);

/* The range a Pause is credited with: [from_s, to_s], watch_s = to_s - from_s. */
typedef struct playback_credit {
    int32_t from_s;
    int32_t to_s;
    int32_t watch_s;
} playback_credit;

/* Title: 1..200 characters of valid UTF-8 (shortest form, no surrogates, <= U+10FFFF, no NUL).
 * VS_INVALID_ARGUMENT with a message naming the field otherwise. */
vs_status playback_check_title(const char *title, char *err, size_t errlen);

/* Duration: 1 s .. 24 h inclusive. */
vs_status playback_check_duration(int64_t duration_s, char *err, size_t errlen);

/* A Pause position: 0 <= position_s <= duration_s. */
vs_status playback_check_position(int64_t position_s, int32_t duration_s, char *err, size_t errlen);

/* An idempotency key: 1..64 bytes. */
vs_status playback_check_event_id(const char *event_id, char *err, size_t errlen);

/* Number of UTF-8 code points of a valid string, or -1 when s is not valid UTF-8. */
int64_t playback_utf8_chars(const char *s);

/* Ad positions of a video: 300, 600, ... strictly below duration_s. Writes at most max of them
 * to out and returns how many there are in total. */
int playback_ad_positions(int32_t duration_s, int32_t *out, int max);

/* The position Play resumes from: the saved position, or 0 when there is none or it is the end. */
int32_t playback_resume_position(int has_saved, int32_t saved_s, int32_t duration_s);

/* The time a playback may be credited for: the wall-clock time between the server receiving its
 * Play and its Pause — but when one process received both (steady_known), never more than its
 * steady (monotonic) clock says passed: a wall clock stepped forward in between would otherwise
 * credit time nobody watched. May be negative (a wall clock stepped back): see
 * playback_credit_range. */
int64_t playback_elapsed_ms(int64_t play_wall_ms, int64_t pause_wall_ms, int steady_known,
                            int64_t play_steady_ms, int64_t pause_steady_ms);

/* The credited range of a playback that resumed at p0_s and paused at p1_s after elapsed_ms
 * (playback_elapsed_ms): [p0, p0 + min(p1 - p0, floor(elapsed) + 5)]. A backward (or no) seek
 * credits nothing ([p0, p0]); a negative elapsed (clock stepped back) counts as 0. */
void playback_credit_range(int32_t p0_s, int32_t p1_s, int64_t elapsed_ms, playback_credit *out);

/* Ad positions p of a video with from_s < p <= to_s (and p < duration_s): writes at most max to
 * out, returns how many there are. */
int playback_ads_in_range(int32_t duration_s, int32_t from_s, int32_t to_s, int32_t *out, int max);

#endif
