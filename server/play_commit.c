/* play_commit.c — group commit of Play and Pause: committer lanes that decide and store the
 * events of many rpc workers in one transaction per round.
 *
 * Why: with sync_binlog=1 and innodb_flush_log_at_trx_commit=1 every commit costs fsyncs, so one
 * transaction per call cannot reach the throughput DESIGN asks for. A worker therefore queues its
 * event on a lane (chosen by viewer and video, so one playback's events stay in order on one
 * lane) and returns; the lane's thread takes everything queued, and in one transaction:
 *   1. finds event ids already in play_log: those calls are replays and get the stored outcome
 *      (or ALREADY_EXISTS when the body differs), changing nothing;
 *   2. reads watch_position of the batch's (viewer, video) pairs FOR UPDATE;
 *   3. applies the events in arrival order: resume position, credited range, ads in range;
 *   4. claims views and ad views in Redis with one pipelined `SET key event_id NX PX window GET`
 *      each — the atomic check-and-set of the repeat rule. The value is the claiming event's id,
 *      so a retried event whose first attempt did not commit recognises its own claim;
 *   5. inserts the play_log rows, upserts watch_position, commits;
 *   6. adds the counted views and ad views to the live counters, then wakes the workers.
 * Nothing is acknowledged before step 5's COMMIT returned. A duplicate key at step 5 (the same
 * event id committed meanwhile by another lane or process) or a deadlock reruns the round.
 * With VS_PLAY_COMMITTERS > 1 lanes commit concurrently (on separate connections); on the 2-core
 * development machine one lane batches best (docs/benchmarks.md). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "play_lane.h"

#define COMMIT_ATTEMPTS 3

static commit_lane *commit_lanes;
static int commit_n_lanes;

static vs_status lane_add_claim(commit_lane *lane, play_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static vs_status lane_add_claim(commit_lane *lane, play_event *ev, const char *fmt, ...)
{
    va_list ap;

    if (lane->n_claims == lane->cap_claims) {
        size_t cap = lane->cap_claims ? lane->cap_claims * 2 : 256;
        play_claim *grown = realloc(lane->claims, cap * sizeof *grown);

        if (grown == NULL)
            return VS_RESOURCE_EXHAUSTED;
        lane->claims = grown;
        lane->cap_claims = cap;
    }
    lane->claims[lane->n_claims].ev = ev;
    va_start(ap, fmt);
    vsnprintf(lane->claims[lane->n_claims].key, sizeof lane->claims[0].key, fmt, ap);
    va_end(ap);
    lane->n_claims++;
    return VS_OK;
}

/* Step 3: applies the round's events to their pairs in arrival order and lists the claims. */
static vs_status lane_apply(commit_lane *lane, char *err, size_t errlen)
{
    int32_t ads[PLAYBACK_MAX_ADS];

    lane->n_claims = 0;
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];
        play_pair *p;
        int n_ads, own = ev->viewer_id == ev->creator_id;

        if (!lane->store[i])
            continue;
        p = play_lane_pair(lane, ev->viewer_id, ev->video_id);
        ev->day = window_day_of(ev->received_ms);
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->resume_s = playback_resume_position(p->has_row, p->position_s, ev->duration_s);
            p->play_from_s = ev->resume_s;
            p->play_started_ms = ev->received_ms;
            p->open = p->dirty = 1;
            ev->reason = own ? PLAY_OWN_VIDEO : PLAY_COUNTED;
            if (!own && lane_add_claim(lane, ev, "view:%" PRIu64 ":%" PRIu64, ev->video_id,
                                       ev->viewer_id) != VS_OK)
                goto oom;
            continue;
        }
        if (!p->open) {
            lane->store[i] = 0;
            ev->status = VS_FAILED_PRECONDITION;
            snprintf(ev->message, sizeof ev->message,
                     "video_id: no playback of video %" PRIu64 " to pause (call Play first)",
                     ev->video_id);
            continue;
        }
        playback_credit_range(p->play_from_s, ev->position_s, ev->received_ms - p->play_started_ms,
                              &ev->credit);
        p->position_s = ev->position_s;
        p->has_row = 1;
        p->open = 0;
        p->dirty = 1;
        n_ads = playback_ads_in_range(ev->duration_s, ev->credit.from_s, ev->credit.to_s, ads,
                                      PLAYBACK_MAX_ADS);
        for (int a = 0; a < n_ads && !own; a++)
            if (lane_add_claim(lane, ev, "ad:%" PRIu64 ":%" PRIu64 ":%d", ev->video_id,
                               ev->viewer_id, (int)ads[a]) != VS_OK)
                goto oom;
    }
    return VS_OK;
oom:
    snprintf(err, errlen, "out of memory");
    play_store_rollback(lane);
    return VS_RESOURCE_EXHAUSTED;
}

/* Step 4: one pipelined SET NX per claim. A nil reply (we set it) or our own event id (an earlier
 * attempt of this event set it) counts; another event's id is a repeat within the window. */
static vs_status lane_claim(commit_lane *lane, char *err, size_t errlen)
{
    size_t n = lane->n_claims;
    int *argc = NULL;
    const char ***argv = NULL;
    const size_t **argvlen = NULL;
    const char **args = NULL;
    size_t *lens = NULL;
    redisReply **replies = NULL;
    char window[24];
    vs_status rc = VS_OK;

    if (n == 0)
        return VS_OK;
    snprintf(window, sizeof window, "%lld", (long long)streaming_cfg.repeat_window_ms);
    argc = malloc(n * sizeof *argc);
    argv = malloc(n * sizeof *argv);
    argvlen = malloc(n * sizeof *argvlen);
    args = malloc(n * 7 * sizeof *args);
    lens = malloc(n * 7 * sizeof *lens);
    replies = calloc(n, sizeof *replies);
    if (!argc || !argv || !argvlen || !args || !lens || !replies) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char **a = &args[i * 7];
        size_t *l = &lens[i * 7];

        a[0] = "SET";
        a[1] = lane->claims[i].key;
        a[2] = lane->claims[i].ev->event_id;
        a[3] = "NX";
        a[4] = "PX";
        a[5] = window;
        a[6] = "GET";
        for (int k = 0; k < 7; k++)
            l[k] = strlen(a[k]);
        argc[i] = 7;
        argv[i] = a;
        argvlen[i] = l;
    }
    /* Once more on a fresh connection: a stale one (Redis restarted) fails on first use. Claims
     * that did reach Redis hold our event id, so repeating them decides the same. */
    for (int attempt = 0; attempt < 2; attempt++)
        if ((rc = redis_pipeline(lane->redis, (int)n, argc, argv, argvlen, replies, err, errlen)) !=
            VS_UNAVAILABLE)
            break;
    for (size_t i = 0; rc == VS_OK && i < n; i++) {
        play_event *ev = lane->claims[i].ev;
        redisReply *r = replies[i];
        int counted;

        if (r->type == REDIS_REPLY_NIL) {
            counted = 1;
        } else if (r->type == REDIS_REPLY_STRING) {
            counted = strcmp(r->str, ev->event_id) == 0;
        } else {
            rc = VS_INTERNAL;
            snprintf(err, errlen, "redis: unexpected reply to SET NX: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
            break;
        }
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->view_counted = counted;
            ev->reason = counted ? PLAY_COUNTED : PLAY_REPEAT;
        } else {
            ev->ad_views += counted;
        }
    }
out:
    for (size_t i = 0; replies != NULL && i < n; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    free(argc);
    free(argv);
    free(argvlen);
    free(args);
    free(lens);
    free(replies);
    if (rc != VS_OK)
        play_store_rollback(lane);
    return rc;
}

/* One attempt at the whole round; every event's outcome is reset first. Reads in one round
 * trip, claims in one Redis pipeline, writes and commits in one more round trip. */
static vs_status lane_commit(commit_lane *lane, char *err, size_t errlen)
{
    int64_t t0, t1, t2;
    vs_status rc;

    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];

        lane->store[i] = 1;
        ev->status = VS_OK;
        ev->message[0] = '\0';
        ev->replayed = ev->view_counted = 0;
        ev->ad_views = ev->resume_s = 0;
        ev->reason = PLAY_COUNTED;
        memset(&ev->credit, 0, sizeof ev->credit);
    }
    if ((rc = play_store_connect(lane, err, errlen)) != VS_OK)
        return rc;
    t0 = clock_mono_us();
    if ((rc = play_store_read(lane, err, errlen)) != VS_OK)
        return rc;
    t1 = clock_mono_us();
    lane->read_us += t1 - t0;
    if ((rc = lane_apply(lane, err, errlen)) != VS_OK ||
        (rc = lane_claim(lane, err, errlen)) != VS_OK)
        return rc;
    t2 = clock_mono_us();
    lane->claim_us += t2 - t1;
    rc = play_store_write(lane, err, errlen);
    lane->write_us += clock_mono_us() - t2;
    return rc;
}

/* Takes up to max_batch queued events. An event whose id is already in the batch (a concurrent
 * resend) waits for the next round, where it finds the first one's committed row. */
static int lane_take(commit_lane *lane)
{
    play_event *deferred = NULL, **deferred_tail = &deferred;

    pthread_mutex_lock(&lane->lock);
    while (lane->head == NULL && !lane->stopping)
        pthread_cond_wait(&lane->wake, &lane->lock);
    lane->n = 0;
    while (lane->head != NULL && lane->n < (size_t)streaming_cfg.max_batch) {
        play_event *ev = lane->head;

        lane->head = ev->next;
        ev->next = NULL;
        if (play_lane_find(lane, ev->event_id, strlen(ev->event_id)) != NULL) {
            *deferred_tail = ev;
            deferred_tail = &ev->next;
            continue;
        }
        lane->batch[lane->n++] = ev;
    }
    if (deferred != NULL) {
        *deferred_tail = lane->head;
        lane->head = deferred;
    }
    if (lane->head == NULL)
        lane->tail = NULL;
    else
        for (lane->tail = lane->head; lane->tail->next != NULL; lane->tail = lane->tail->next)
            ;
    pthread_mutex_unlock(&lane->lock);
    return lane->n > 0;
}

static void *lane_main(void *arg)
{
    commit_lane *lane = arg;
    char err[256];

    while (lane_take(lane)) {
        int64_t t0 = clock_mono_us();
        vs_status rc = VS_OK;

        for (int attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
            rc = lane_commit(lane, err, sizeof err);
            if (rc != VS_ALREADY_EXISTS && rc != VS_ABORTED)
                break;
            log_info("play commit lane %d: %s; retrying the round", lane->index, err);
        }
        if (rc == VS_OK) {
            live_record(lane->redis, lane->batch, lane->store, lane->n);
        } else {
            /* the details (addresses, SQL errors) go to the log, not to the caller */
            log_warn("play commit lane %d: %zu events failed: %s", lane->index, lane->n, err);
            for (size_t i = 0; i < lane->n; i++) {
                lane->batch[i]->status = rc;
                snprintf(lane->batch[i]->message, sizeof lane->batch[i]->message, "%s",
                         rc == VS_UNAVAILABLE
                             ? "cannot record plays now (database or Redis unreachable); "
                               "retry with the same event_id"
                             : "could not record the play; retry with the same event_id");
            }
        }
        lane->rounds++;
        lane->events += (int64_t)lane->n;
        lane->busy_us += clock_mono_us() - t0;
        /* done may free the event: call it last */
        for (size_t i = 0; i < lane->n; i++)
            lane->batch[i]->done(lane->batch[i]);
    }
    return NULL;
}

void play_commit_submit(play_event *ev)
{
    uint64_t h = ev->viewer_id * 0x9E3779B97F4A7C15ull ^ ev->video_id * 0xC2B2AE3D27D4EB4Full;
    commit_lane *lane = &commit_lanes[(h ^ h >> 29) % (uint64_t)commit_n_lanes];

    ev->next = NULL;
    pthread_mutex_lock(&lane->lock);
    if (lane->tail != NULL)
        lane->tail->next = ev;
    else
        lane->head = ev;
    lane->tail = ev;
    pthread_cond_signal(&lane->wake);
    pthread_mutex_unlock(&lane->lock);
}

vs_status play_commit_start(int lanes, char *err, size_t errlen)
{
    commit_lanes = calloc((size_t)lanes, sizeof *commit_lanes);
    if (commit_lanes == NULL)
        return VS_RESOURCE_EXHAUSTED;
    for (int i = 0; i < lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        lane->index = i;
        pthread_mutex_init(&lane->lock, NULL);
        pthread_cond_init(&lane->wake, NULL);
        lane->batch = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->batch);
        lane->store = calloc((size_t)streaming_cfg.max_batch, 1);
        lane->pairs = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->pairs);
        if (lane->batch == NULL || lane->store == NULL || lane->pairs == NULL) {
            snprintf(err, errlen, "out of memory");
            return VS_RESOURCE_EXHAUSTED;
        }
        /* a Redis that is down now is retried on use */
        redis_open(vsd_cfg.redis, 1000, &lane->redis, err, errlen);
        if (lane->redis == NULL)
            return VS_RESOURCE_EXHAUSTED;
        if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
            snprintf(err, errlen, "cannot start the play commit thread");
            return VS_RESOURCE_EXHAUSTED;
        }
        commit_n_lanes = i + 1;
    }
    return VS_OK;
}

void play_commit_stop(void)
{
    for (int i = 0; i < commit_n_lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        pthread_mutex_lock(&lane->lock);
        lane->stopping = 1;
        pthread_cond_signal(&lane->wake);
        pthread_mutex_unlock(&lane->lock);
        pthread_join(lane->thread, NULL);
        if (lane->rounds > 0)
            log_info("play commit lane %d: %lld rounds, %lld events (%.1f a round); ms a round: "
                     "%.2f (read %.2f, claim %.2f, write+commit %.2f)",
                     i, (long long)lane->rounds, (long long)lane->events,
                     (double)lane->events / (double)lane->rounds,
                     (double)lane->busy_us / (double)lane->rounds / 1000.0,
                     (double)lane->read_us / (double)lane->rounds / 1000.0,
                     (double)lane->claim_us / (double)lane->rounds / 1000.0,
                     (double)lane->write_us / (double)lane->rounds / 1000.0);
        if (lane->db != NULL)
            mysql_close(lane->db);
        redis_close(lane->redis);
        free(lane->sql.data);
        free(lane->batch);
        free(lane->store);
        free(lane->pairs);
        free(lane->claims);
        pthread_mutex_destroy(&lane->lock);
        pthread_cond_destroy(&lane->wake);
    }
    free(commit_lanes);
    commit_lanes = NULL;
    commit_n_lanes = 0;
}
