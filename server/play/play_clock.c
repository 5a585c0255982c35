/* play_clock.c — the steady instants of the Plays this process received (play_clock.h): a table
 * of slots by pair, under striped locks (lanes rarely share one). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "play_clock.h"

#define PLAYBACK_START_STRIPES 64 /* locks over the slots: lanes rarely share one */

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

vs_status play_clock_init(int64_t wanted, char *err, size_t errlen)
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

void play_clock_fini(void)
{
    free(playback_starts);
    playback_starts = NULL;
    playback_start_mask = 0;
}
