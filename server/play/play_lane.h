/* play_lane.h — one commit lane of the Play/Pause group commit (play_commit.c), shared by the
 * files that make it up. Internal. The lane's state is grouped by what changes together:
 *
 *   queue    workers append events, the lane takes them          (play_queue.c)
 *   answers  the lane hands a committed round over, its own thread answers it   (play_queue.c)
 *   round    one round's events, pairs and claims; reset by every attempt       (play_commit.c,
 *            play_claims.c, play_store.c)
 *   cache    the known rows: what the lane last committed or read of its pairs (play_known.c)
 *   stats    counters for Health and the shutdown log                          (play_commit.c)
 *
 * plus the lane's own connections (the primary, Redis). */
#ifndef VS_PLAY_LANE_H
#define VS_PLAY_LANE_H

#include <mysql.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "play_commit.h"
#include "redis.h"

/* A growing SQL text that refuses to pass STORE_SQL_MAX (failed is then set). */
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
    uint64_t version; /* the row's row_version as read or known (a known-rows write checks it) */
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

/* Events submitted and not yet taken (guarded by lock). */
typedef struct lane_queue {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    play_event *head, *tail;
    int stopping; /* set by play_commit_stop: the lane drains the queue, then ends */
} lane_queue;

/* The previous round's events, answered by the answering thread while the lane goes on. */
typedef struct lane_answers {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, free;
    play_event **events; /* max_batch of them, swapped with the round's batch */
    size_t n;
    int stopping; /* set by lane_answers_stop: answer what is handed over, then end */
} lane_answers;

/* One round: its events, what to do with each, its pairs and claims (sized at start). Every
 * attempt at the round starts these over, except the stale claims. */
typedef struct lane_round {
    play_event **batch;
    unsigned char *store; /* 1: insert its row; 0: resolved without a row */
    size_t n;
    play_pair *pairs;
    size_t n_pairs;
    play_claim *claims;
    size_t n_claims, cap_claims;
    int from_known;   /* this attempt runs from the known rows: no read, the write checks */
    uint64_t version; /* the row_version this attempt's writes store */
    /* the view claims a failed known-rows attempt set (released if the rerun does not make them) */
    play_claim *stale;
    size_t n_stale, cap_stale;
    const char *redis_why; /* an attempt failed by Redis: why, in words for the callers */
    /* an attempt failed by the primary: why (for the callers and Health), and whether its
     * statement outlived VS_DB_IO_TIMEOUT_S (then it is not rerun: the primary is not answering) */
    const char *db_why;
    int db_timed_out;
} lane_round;

/* The known rows: a 4-way set-associative table (play_known.c). */
typedef struct lane_cache {
    pair_known *rows;
    size_t slots; /* 0: none, every round reads */
} lane_cache;

/* Health reads the first group (atomics); the second is the lane's own, logged at stop. */
typedef struct lane_stats {
    /* since when the lane has been waiting for a commit — the start of the round in flight, or
     * of the first round the primary failed since the last commit; 0 after a commit */
    int64_t stalled_since_us;
    const char *stall_why; /* the last failed round's db_why */
    int64_t db_failed_rounds, db_timeouts;
    int64_t rounds, events, known_rounds, known_reruns;
    /* how well the rounds batch */
    int64_t busy_us, read_us, claim_us, write_us, queued_us, answer_us;
} lane_stats;

typedef struct commit_lane {
    int index;
    const play_commit_config *cfg;
    pthread_t thread;
    lane_queue queue;
    lane_answers answers;
    /* the lane's own connections */
    MYSQL *db;
    redis_conn *redis;
    sqlbuf sql;
    unsigned long abandoned_thread; /* the server thread of a connection dropped on a timeout,
                                     * killed once the lane has a new connection */
    lane_round round;
    lane_cache cache;
    lane_stats stats;
} commit_lane;

/* ---- play_queue.c: the queue and the answering thread ---- */

/* Waits for queued events and takes up to max_batch into the round (1), or 0 when stopping with
 * nothing queued. */
int lane_take(commit_lane *lane);

/* Appends ev to the lane's queue and wakes the lane (any thread). */
void lane_submit(commit_lane *lane, play_event *ev);

/* Gives the round's events to the answering thread (once it has answered the previous round). */
void lane_hand_over(commit_lane *lane);

/* Starts and stops the answering thread (stop: it answers what it has first). */
vs_status lane_answers_start(commit_lane *lane, char *err, size_t errlen);
void lane_answers_stop(commit_lane *lane);

/* ---- play_claims.c: step 4, the Redis claims ---- */

/* Lists a claim of ev: its view (ad_s < 0) or its ad view at ad_s. VS_RESOURCE_EXHAUSTED when
 * out of memory. */
vs_status lane_add_claim(commit_lane *lane, play_event *ev, int32_t ad_s);

/* Makes the round's claims (one pipeline) and sets each event's view or ad views from them. */
vs_status lane_claim(commit_lane *lane, char *err, size_t errlen);

/* Before a rerun's claims: deletes the claims a failed known-rows attempt set that the rerun
 * does not make again. */
void lane_release_stale(commit_lane *lane);

/* ---- play_known.c: the lane's known rows ---- */

/* Allocates the table (slots 0: rounds always read); 0 when out of memory. */
int play_known_init(commit_lane *lane, size_t slots);

/* Fills the round's pairs from the known rows when every pair of the batch is known (1), else 0. */
int play_known_fill(commit_lane *lane);

/* After a commit: the round's pairs as now stored. */
void play_known_remember(commit_lane *lane);

/* After a failed attempt: forgets the batch's pairs, so the rerun reads them. */
void play_known_forget(commit_lane *lane);

/* ---- play_store.c: the SQL of a round, on the lane's own primary connection ---- */

/* The batch's event of this viewer with this id, or NULL (event ids are scoped per viewer). */
play_event *play_lane_find(commit_lane *lane, uint64_t viewer_id, const char *event_id, size_t len);

/* The round's watch_position entry of (viewer, video), or NULL. */
play_pair *play_lane_pair(commit_lane *lane, uint64_t viewer_id, uint64_t video_id);

/* Connects the lane if it has no connection, or its connection was closed by the server while
 * idle (db_conn_stale: no round trip), with VS_DB_IO_TIMEOUT_S as read/write timeout: a
 * statement the primary does not finish in time fails the round, and the connection is
 * dropped (READ COMMITTED: lanes never share pairs, so no read
 * needs gap locks; multi-statements: a round is two round trips). */
vs_status play_store_connect(commit_lane *lane, char *err, size_t errlen);

/* Steps 1-2 in one round trip: begins the transaction, resolves replayed event ids (store[i] = 0
 * with the stored outcome, or ALREADY_EXISTS), and loads the pairs FOR UPDATE into the round. */
vs_status play_store_read(commit_lane *lane, char *err, size_t errlen);

/* Step 5 in one round trip: inserts the play_log rows of store[i] events, upserts the dirty
 * pairs (row_version = the round's version), commits. A known-rows attempt (round.from_known: no
 * read) begins the transaction here and writes a pair's row only while it still has the version
 * the lane knows; else the statements fail before COMMIT. On failure the transaction is rolled
 * back (or the connection dropped). */
vs_status play_store_write(commit_lane *lane, char *err, size_t errlen);

/* Rolls back the round's open transaction (after a failure outside SQL). */
void play_store_rollback(commit_lane *lane);

#endif
