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
    uint64_t version; /* the row's row_version as read or known (a guarded write checks it) */
} play_pair;

/* The hash of a (viewer, video) pair: picks its lane (play_commit_submit) and its slot in that
 * lane's known rows (play_known.c). */
static inline uint64_t play_pair_hash(uint64_t viewer_id, uint64_t video_id)
{
    uint64_t h = viewer_id * 0x9E3779B97F4A7C15ull ^ video_id * 0xC2B2AE3D27D4EB4Full;

    return h ^ h >> 29;
}

/* A pair's watch_position row as its lane last committed or read it (play_known.c). */
typedef struct pair_known {
    uint64_t viewer_id, video_id; /* 0: an empty slot (ids start at 1) */
    int32_t position_s, play_from_s;
    int64_t play_started_ms; /* -1: no playback open */
    uint64_t version;        /* its row_version */
} pair_known;

/* One Redis check-and-set of the round: a Play's view or one ad position of a Pause. */
typedef struct play_claim {
    play_event *ev;
    char key[PLAYBACK_CLAIM_KEY_MAX];
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
    /* the previous round's events, answered by answer_thread while the lane goes on */
    pthread_t answer_thread;
    pthread_mutex_t answer_lock;
    pthread_cond_t answer_wake, answer_free;
    play_event **answering;
    size_t n_answering;
    int answer_stop;
    unsigned char *store; /* 1: insert its row; 0: resolved without a row */
    size_t n;
    play_pair *pairs;
    size_t n_pairs;
    play_claim *claims;
    size_t n_claims, cap_claims;
    const char *redis_why; /* a round failed by Redis: why, in words for the callers */
    /* an attempt failed by the primary: why (for the callers and Health), and whether its
     * statement outlived VS_DB_IO_TIMEOUT_S (then it is not rerun: the primary is not answering) */
    const char *db_why;
    int db_timed_out;
    unsigned long abandoned_thread; /* the server thread of a connection dropped on a timeout,
                                     * killed once the lane has a new connection */
    /* Health (atomic): since when the lane has been waiting for a commit — the start of the
     * round in flight, or of the first round the primary failed since the last commit; 0 after
     * a commit. And the rounds the primary failed, of them those that timed out. */
    int64_t stalled_since_us;
    int64_t db_failed_rounds, db_timeouts;
    const char *stall_why; /* the last failed round's db_why */
    /* rounds without the read (play_known.c): the known rows, whether this attempt is guarded,
     * and the claims a failed guarded attempt set (released if the rerun does not make them) */
    pair_known *known;
    size_t n_known;
    int guarded;
    uint64_t round_version; /* the row_version this attempt's writes store */
    play_claim *stale;
    size_t n_stale, cap_stale;
    int64_t guarded_rounds, guard_misses;
    /* totals, logged at stop: how well the rounds batch */
    int64_t rounds, events, busy_us, read_us, claim_us, write_us, queued_us, answer_us;
} commit_lane;

/* ---- play_known.c: the lane's known rows ---- */

/* Allocates the table (slots 0: rounds always read); 0 when out of memory. */
int play_known_init(commit_lane *lane, size_t slots);

/* Fills lane->pairs from the known rows when every pair of the batch is known (1), else 0. */
int play_known_fill(commit_lane *lane);

/* After a commit: the round's pairs as now stored. */
void play_known_remember(commit_lane *lane);

/* After a failed attempt: forgets the batch's pairs, so the rerun reads them. */
void play_known_forget(commit_lane *lane);

/* ---- play_store.c: the SQL of a round, on the lane's own primary connection ---- */

/* The batch's event of this viewer with this id, or NULL (event ids are scoped per viewer). */
play_event *play_lane_find(commit_lane *lane, uint64_t viewer_id, const char *event_id,
                           size_t len);

/* The round's watch_position entry of (viewer, video), or NULL. */
play_pair *play_lane_pair(commit_lane *lane, uint64_t viewer_id, uint64_t video_id);

/* Connects the lane if it has no connection, or its connection was closed by the server while
 * idle (db_conn_stale: no round trip), with VS_DB_IO_TIMEOUT_S as read/write timeout: a
 * statement the primary does not finish in time fails the round, and the connection is
 * dropped (READ COMMITTED: lanes never share pairs, so no read
 * needs gap locks; multi-statements: a round is two round trips). */
vs_status play_store_connect(commit_lane *lane, char *err, size_t errlen);

/* Steps 1-2 in one round trip: begins the transaction, resolves replayed event ids (store[i] = 0
 * with the stored outcome, or ALREADY_EXISTS), and loads the pairs FOR UPDATE into lane->pairs. */
vs_status play_store_read(commit_lane *lane, char *err, size_t errlen);

/* Step 5 in one round trip: inserts the play_log rows of store[i] events, upserts the dirty
 * pairs (row_version = lane->round_version), commits. A guarded round (lane->guarded: no read)
 * begins the transaction here and writes a pair's row only while it still has the version the
 * lane knows; else the statements fail before COMMIT. On failure the transaction is rolled
 * back (or the connection dropped). */
vs_status play_store_write(commit_lane *lane, char *err, size_t errlen);

/* Rolls back the round's open transaction (after a failure outside SQL). */
void play_store_rollback(commit_lane *lane);

#endif
