/* play_clock.h — the steady instant of each open playback's Play received by this process, so a
 * Pause is credited by the time that really passed (docs/streaming.md, wall-clock steps). The
 * commit engine remembers and finds entries; streaming_init sizes the table. */
#ifndef VS_PLAY_CLOCK_H
#define VS_PLAY_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Slots for up to `wanted` open playbacks (rounded up to a power of two; 0: none, the wall clock
 * alone decides). VS_RESOURCE_EXHAUSTED when out of memory. */
vs_status play_clock_init(int64_t wanted, char *err, size_t errlen);
void play_clock_fini(void);

/* Remembers that this process received the Play of (viewer, video) at this wall and steady
 * instant (a later Play of the pair replaces it; a full slot forgets an older pair). */
void playback_start_remember(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms,
                             int64_t steady_ms);

/* The steady instant of the Play of (viewer, video) that this process received at wall_ms: 1 and
 * *steady_ms, or 0 when this process did not (another vsd did, this one before a restart, or the
 * entry was replaced). */
int playback_start_find(uint64_t viewer_id, uint64_t video_id, int64_t wall_ms, int64_t *steady_ms);

#endif
