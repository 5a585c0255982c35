/* topn_rank.h — the top-N ranking rule (docs/rules.md, Top-N): highest value first, ties broken by
 * video id ascending, videos whose value is 0 not ranked; a list holds N entries, N defaulting to
 * TOPN_DEFAULT and at most TOPN_MAX. Lists are kept over all videos and per creator.
 *
 * Pure: the batch writes the ranked lists (batch/topn.c), the read path answers them; both take
 * the order and the bounds from here. */
#ifndef VS_CORE_TOPN_RANK_H
#define VS_CORE_TOPN_RANK_H

#include <stddef.h>
#include <stdint.h>

#define TOPN_DEFAULT 5
#define TOPN_MAX 100

typedef struct topn_item {
    uint64_t video_id, creator_id;
    int64_t value; /* views or watch seconds of the period */
} topn_item;

/* 1 when a ranks before b: the higher value first, on equal values the lower video id. */
int topn_before(const topn_item *a, const topn_item *b);

/* Keeps only the rankable items (value > 0) at the front of items, in ranking order, and returns
 * how many they are; the rank of items[i] is i + 1. The rest of the array is unspecified. */
size_t topn_rank(topn_item *items, size_t n);

/* Orders ranked items (those topn_rank kept) by creator id ascending and, within a creator, in
 * ranking order, so each creator's list is a run of consecutive items. */
void topn_rank_by_creator(topn_item *items, size_t n);

/* The list length to answer for a requested one: 0 asks for TOPN_DEFAULT. Returns 0 when the
 * request is above TOPN_MAX (*n untouched), else 1. */
int topn_limit(uint32_t requested, uint32_t *n);

#endif
