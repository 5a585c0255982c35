/* play_lane.h — one commit lane of the Play/Pause group commit (see play_commit.c), shared by
 * play_commit.c (queue, rules, Redis claims) and play_store.c (the SQL of a round). Internal. */
#ifndef VS_PLAY_LANE_H
#define VS_PLAY_LANE_H

#include <mysql.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "streaming.h"

/* A growing SQL text that refuses to pass COMMIT_SQL_MAX (failed is then set). */
typedef struct sqlbuf {
    char *data;
    size_t len, cap;
    int failed;
} sqlbuf;

/* watch_position of one (viewer, video) while a round applies its events. */
typedef struct play_pair {
    uint64_t viewer_id, video_id;
    int32_t position_s, play_from_s;
    int has_row, open, dirty;
    int64_t play_started_ms;
} play_pair;

/* One Redis check-and-set of the round: a Play's view or one ad position of a Pause. */
typedef struct play_claim {
    play_event *ev;
    char key[96];
} play_claim;

typedef struct commit_lane {
    int index;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    play_event *head, *tail;
    int stopping;
    MYSQL *db;
    redis_conn *redis;
    sqlbuf sql;
    /* the round: events, what to do with each, pairs and claims (sized at start) */
    play_event **batch;
    unsigned char *store; /* 1: insert its row; 0: resolved without a row */
    size_t n;
    play_pair *pairs;
    size_t n_pairs;
    play_claim *claims;
    size_t n_claims, cap_claims;
    /* totals, logged at stop: how well the rounds batch */
    int64_t rounds, events, busy_us, read_us, claim_us, write_us;
} commit_lane;

/* ---- play_store.c: the SQL of a round, on the lane's own primary connection ---- */

/* The batch's event with this id, or NULL. */
play_event *play_lane_find(commit_lane *lane, const char *event_id, size_t len);

/* The round's watch_position entry of (viewer, video), or NULL. */
play_pair *play_lane_pair(commit_lane *lane, uint64_t viewer_id, uint64_t video_id);

/* Connects the lane if it has no connection (READ COMMITTED: lanes never share pairs, so no read
 * needs gap locks; multi-statements: a round is two round trips). */
vs_status play_store_connect(commit_lane *lane, char *err, size_t errlen);

/* Steps 1-2 in one round trip: begins the transaction, resolves replayed event ids (store[i] = 0
 * with the stored outcome, or ALREADY_EXISTS), and loads the pairs FOR UPDATE into lane->pairs. */
vs_status play_store_read(commit_lane *lane, char *err, size_t errlen);

/* Step 5 in one round trip: inserts the play_log rows of store[i] events, upserts the dirty
 * pairs, commits. On failure the transaction is rolled back (or the connection dropped). */
vs_status play_store_write(commit_lane *lane, char *err, size_t errlen);

/* Rolls back the round's open transaction (after a failure outside SQL). */
void play_store_rollback(commit_lane *lane);

#endif
