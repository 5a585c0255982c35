/* pair_filter.h — a set of (viewer, video) pairs that answers "certainly not in it" or "maybe":
 * a blocked Bloom filter, safe to add to and ask from any thread without locks.
 *
 * vsd keeps one of the pairs that have a watch_position row (server/play_rows.c), so a commit
 * lane can decide the first Play of a pair it has never seen without reading the row first. A
 * "maybe" that is wrong (a false positive, about 0.1 % at 16 bits a pair) only costs that read.
 *
 * Each pair sets 6 bits within one 512-bit block (one cache line) picked by its hash. */
#ifndef VS_PAIR_FILTER_H
#define VS_PAIR_FILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct pair_filter pair_filter;

/* Room for about `pairs` pairs at 16 bits each (rounded up to a power of two of blocks, at least
 * one block, at most 2^31 bits = 256 MiB). NULL when out of memory. */
pair_filter *pair_filter_new(uint64_t pairs);
void pair_filter_free(pair_filter *f);

void pair_filter_add(pair_filter *f, uint64_t viewer_id, uint64_t video_id);

/* 0: the pair was never added. 1: it may have been. */
int pair_filter_maybe(const pair_filter *f, uint64_t viewer_id, uint64_t video_id);

/* The filter's size in bytes, and how many adds it has seen (the same pair counts each time). */
size_t pair_filter_bytes(const pair_filter *f);
uint64_t pair_filter_adds(const pair_filter *f);

#endif
