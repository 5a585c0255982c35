/* partial.h — the packed form of a partition's per-video partial aggregates
 * (batch_partial_chunk.data, sql/0030): records of 5 little-endian int64 — video_id, views,
 * watch_s, ad_views, play_rows — at most PARTIAL_CHUNK_VIDEOS per chunk. */
#ifndef VS_BATCH_PARTIAL_H
#define VS_BATCH_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#define PARTIAL_VALUES 4 /* views, watch_s, ad_views, play_rows */
#define PARTIAL_RECORD_BYTES (8 * (1 + PARTIAL_VALUES))
#define PARTIAL_CHUNK_VIDEOS 8192

/* Writes one record (PARTIAL_RECORD_BYTES) at out. */
void partial_encode(uint64_t video_id, const int64_t values[PARTIAL_VALUES], uint8_t *out);

/* Reads one record. */
void partial_decode(const uint8_t *in, uint64_t *video_id, int64_t values[PARTIAL_VALUES]);

#endif
