/* live.h — the live counters of views and ad views per video and business day in Redis
 * (docs/streaming.md, "Live counters"): the commit engine adds what it committed. */
#ifndef VS_LIVE_H
#define VS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "play_commit.h"
#include "redis.h"
#include "window.h"

/* The Redis key of a video's live counters for a business day: "live:{day}:{video}". */
void live_key(business_date day, uint64_t video_id, char *out, size_t outlen);

/* Adds the counted views (Plays) and ad views (Pauses) of the committed events (stored[i] != 0)
 * to their day's live counters in one Redis pipeline. A failure is logged, not returned: the
 * counters are a fast view, the calls have succeeded. */
void live_record(redis_conn *redis, play_event *const *events, const unsigned char *stored,
                 size_t n);

#endif
