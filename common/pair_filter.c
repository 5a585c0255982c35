/* pair_filter.c — a blocked Bloom filter of (viewer, video) pairs (see pair_filter.h). */
#include "pair_filter.h"

#include <stdlib.h>

#define BLOCK_WORDS 8 /* 512 bits: one cache line */
#define PROBES 6
#define MAX_BLOCKS (((uint64_t)1 << 31) / 512)

struct pair_filter {
    uint64_t *words;
    uint64_t block_mask; /* blocks - 1 (a power of two) */
    uint64_t adds;       /* atomic */
};

/* splitmix64's finaliser: every input bit moves every output bit */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ x >> 31;
}

static uint64_t pair_hash(uint64_t viewer_id, uint64_t video_id)
{
    return mix64(mix64(viewer_id ^ 0x6A09E667F3BCC908ull) ^ video_id);
}

pair_filter *pair_filter_new(uint64_t pairs)
{
    pair_filter *f = calloc(1, sizeof *f);
    uint64_t blocks = 1, want = (pairs + 31) / 32; /* 16 bits a pair: 32 pairs a block */

    if (f == NULL)
        return NULL;
    while (blocks < want && blocks < MAX_BLOCKS)
        blocks <<= 1;
    f->block_mask = blocks - 1;
    f->words = calloc((size_t)blocks * BLOCK_WORDS, sizeof *f->words);
    if (f->words == NULL) {
        free(f);
        return NULL;
    }
    return f;
}

void pair_filter_free(pair_filter *f)
{
    if (f == NULL)
        return;
    free(f->words);
    free(f);
}

/* The block of a pair: the low bits of its hash (the probes take their 9 bits each from a second
 * mix of it). */
static uint64_t *block_of(const pair_filter *f, uint64_t h)
{
    return f->words + (h & f->block_mask) * BLOCK_WORDS;
}

/* The i-th probe's bit within the block: 9 bits of the second mix. */
static unsigned probe_bit(uint64_t g, int i)
{
    return (unsigned)(g >> (9 * i)) & 511;
}

void pair_filter_add(pair_filter *f, uint64_t viewer_id, uint64_t video_id)
{
    uint64_t h = pair_hash(viewer_id, video_id), g = mix64(h);
    uint64_t *block = block_of(f, h);

    for (int i = 0; i < PROBES; i++) {
        unsigned bit = probe_bit(g, i);

        __atomic_fetch_or(&block[bit >> 6], (uint64_t)1 << (bit & 63), __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&f->adds, 1, __ATOMIC_RELAXED);
}

int pair_filter_maybe(const pair_filter *f, uint64_t viewer_id, uint64_t video_id)
{
    uint64_t h = pair_hash(viewer_id, video_id), g = mix64(h);
    const uint64_t *block = block_of(f, h);

    for (int i = 0; i < PROBES; i++) {
        unsigned bit = probe_bit(g, i);

        if (!(__atomic_load_n(&block[bit >> 6], __ATOMIC_RELAXED) & (uint64_t)1 << (bit & 63)))
            return 0;
    }
    return 1;
}

size_t pair_filter_bytes(const pair_filter *f)
{
    return (size_t)(f->block_mask + 1) * BLOCK_WORDS * sizeof *f->words;
}

uint64_t pair_filter_adds(const pair_filter *f)
{
    return __atomic_load_n(&f->adds, __ATOMIC_RELAXED);
}
