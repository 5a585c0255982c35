/* vmap.h — per-video aggregates in memory: an open-addressing hash map from video id to a small
 * fixed array of int64 counters.
 *
 * Memory grows with the number of distinct videos, never with the rows folded into them: that is
 * what bounds a worker's memory by videos rather than by play_log rows. Not thread-safe; one map
 * per thread. */
#ifndef VS_BATCH_VMAP_H
#define VS_BATCH_VMAP_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define VMAP_VALUES 8

typedef struct vmap_entry {
    uint64_t video_id; /* 0 = empty slot (play_log video ids start at 1) */
    int64_t v[VMAP_VALUES];
} vmap_entry;

typedef struct vmap {
    vmap_entry *slots;
    size_t capacity; /* power of two */
    size_t count;
    size_t max_entries; /* refuse to grow beyond (0 = unlimited) */
} vmap;

/* Initialises an empty map with room for about `expected` videos. VS_RESOURCE_EXHAUSTED on
 * allocation failure. */
vs_status vmap_init(vmap *m, size_t expected, size_t max_entries);

/* The entry of video_id, created zeroed when absent. NULL when the map would exceed max_entries or
 * memory ran out. video_id must not be 0. */
vmap_entry *vmap_upsert(vmap *m, uint64_t video_id);

/* The entry of video_id or NULL. */
vmap_entry *vmap_find(const vmap *m, uint64_t video_id);

/* Empties the map, keeping its memory for the next partition. */
void vmap_clear(vmap *m);

/* Compacts the entries to the front of the slot array sorted by video id ascending and returns
 * them (count entries). The map is unusable afterwards until vmap_clear(). */
vmap_entry *vmap_sorted(vmap *m);

void vmap_free(vmap *m);

#endif
