/* play_known.c — the known rows: what a commit lane knows of its pairs' watch_position rows, so a
 * round whose pairs are all known runs from the known rows — it skips the read (steps 1-2 of
 * play_commit.c) and its write checks instead that each row still has the row_version the lane
 * knows (play_store_write): every write stores a new random version.
 *
 * Why it is sound: a pair always hashes to the same lane of this process, and the lane's rounds
 * run one after another, so what the lane committed last is the row — unless another process
 * (a second vsd) or a hand edit changed it. The version check catches exactly that: the round then
 * fails before it committed anything, the pairs are forgotten, and it is rerun with the read.
 * Replayed event ids are not looked up either: their row makes the insert fail on play_log's unique
 * key, which reruns the round the same way.
 *
 * The table is 4-way set-associative: a pair lives in one of the 4 slots of its set, and a new
 * pair takes an empty one or else replaces one chosen by its hash. A forgotten pair only costs
 * a read. */
#include <stdlib.h>
#include <string.h>

#include "play_lane.h"

#define KNOWN_WAYS 4

/* The first slot of the pair's set. */
static size_t known_set(const commit_lane *lane, uint64_t viewer_id, uint64_t video_id)
{
    /* the lane is the hash modulo the lanes (a few): the set takes the high half, so a lane's
     * pairs spread over all its sets */
    return (size_t)((play_pair_hash(viewer_id, video_id) >> 32) %
                    (lane->cache.slots / KNOWN_WAYS)) *
           KNOWN_WAYS;
}

/* The pair's slot, or NULL when the lane does not know it. */
static pair_known *known_find(commit_lane *lane, uint64_t viewer_id, uint64_t video_id)
{
    pair_known *set = &lane->cache.rows[known_set(lane, viewer_id, video_id)];

    for (int w = 0; w < KNOWN_WAYS; w++)
        if (set[w].viewer_id == viewer_id && set[w].video_id == video_id)
            return &set[w];
    return NULL;
}

/* The slot to remember the pair in: its own, an empty one, or one replaced. */
static pair_known *known_place(commit_lane *lane, uint64_t viewer_id, uint64_t video_id)
{
    pair_known *set = &lane->cache.rows[known_set(lane, viewer_id, video_id)], *k;

    if ((k = known_find(lane, viewer_id, video_id)) != NULL)
        return k;
    for (int w = 0; w < KNOWN_WAYS; w++)
        if (set[w].viewer_id == 0)
            return &set[w];
    return &set[play_pair_hash(viewer_id, video_id) >> 20 & (KNOWN_WAYS - 1)];
}

int play_known_init(commit_lane *lane, size_t slots)
{
    /* whole sets: a table smaller than one set is none */
    lane->cache.slots = slots / KNOWN_WAYS * KNOWN_WAYS;
    if (lane->cache.slots == 0)
        return 1;
    lane->cache.rows = calloc(lane->cache.slots, sizeof *lane->cache.rows);
    return lane->cache.rows != NULL;
}

int play_known_fill(commit_lane *lane)
{
    lane->round.n_pairs = 0;
    if (lane->cache.slots == 0)
        return 0;
    for (size_t i = 0; i < lane->round.n; i++) {
        const play_event *ev = lane->round.batch[i];
        const pair_known *k;
        play_pair *p;

        if (play_lane_pair(lane, ev->viewer_id, ev->video_id) != NULL)
            continue;
        k = known_find(lane, ev->viewer_id, ev->video_id);
        if (k == NULL)
            return 0;
        p = &lane->round.pairs[lane->round.n_pairs++];
        memset(p, 0, sizeof *p);
        p->viewer_id = k->viewer_id;
        p->video_id = k->video_id;
        p->has_row = 1;
        p->position_s = k->position_s;
        p->play_from_s = k->play_from_s;
        p->open = k->play_started_ms >= 0;
        p->play_started_ms = p->open ? k->play_started_ms : 0;
        p->version = k->version;
    }
    return 1;
}

void play_known_remember(commit_lane *lane)
{
    for (size_t i = 0; lane->cache.slots > 0 && i < lane->round.n_pairs; i++) {
        const play_pair *p = &lane->round.pairs[i];
        pair_known *k;

        if (!p->has_row && !p->dirty) /* still no row: the next round reads it */
            continue;
        k = known_place(lane, p->viewer_id, p->video_id);
        k->viewer_id = p->viewer_id;
        k->video_id = p->video_id;
        k->position_s = p->position_s;
        k->play_from_s = p->play_from_s;
        k->play_started_ms = p->open ? p->play_started_ms : -1;
        k->version = p->dirty ? lane->round.version : p->version;
    }
}

void play_known_forget(commit_lane *lane)
{
    for (size_t i = 0; lane->cache.slots > 0 && i < lane->round.n; i++) {
        const play_event *ev = lane->round.batch[i];
        pair_known *k = known_find(lane, ev->viewer_id, ev->video_id);

        if (k != NULL)
            memset(k, 0, sizeof *k);
    }
}
