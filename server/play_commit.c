/* play_commit.c — group commit of Play and Pause: committer lanes that decide and store the
 * events of many rpc workers in one transaction per round.
 *
 * Why: with sync_binlog=1 and innodb_flush_log_at_trx_commit=1 every commit costs fsyncs, so one
 * transaction per call cannot reach the Play throughput target. A worker therefore queues its
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
 *   6. adds the counted views and ad views to the live counters, then hands the events to the
 *      lane's answering thread, which wakes the workers while the lane takes its next batch.
 * Nothing is acknowledged before step 5's COMMIT returned. A duplicate key at step 5 (the same
 * event id committed meanwhile by another lane or process) or a deadlock reruns the round.
 *
 * A round whose pairs the lane already knows (it wrote or read them last: play_known.c) skips
 * steps 1-2: it is guarded, its write storing each row only
 * while the row still has the version the lane knows. A replayed id (unique key), a row changed
 * elsewhere (version) or a pair the round would answer without writing reruns the round with steps
 * 1-2; view claims the guarded attempt set and the rerun does not make are released first
 * (lane_release_stale).
 *
 * With VS_PLAY_COMMITTERS > 1 lanes commit concurrently (on separate connections); on the 2-core
 * development machine one lane batches best (docs/benchmarks.md). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "play_lane.h"

#define COMMIT_ATTEMPTS 3

static commit_lane *commit_lanes;
static int commit_n_lanes;

/* A new entry at the end of a claim list, or NULL when out of memory. */
static play_claim *claim_push(play_claim **list, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        play_claim *grown = realloc(*list, grown_cap * sizeof *grown);

        if (grown == NULL)
            return NULL;
        *list = grown;
        *cap = grown_cap;
    }
    return &(*list)[(*n)++];
}

/* Lists a claim of ev: its view (ad_s < 0) or its ad view at ad_s (playback_rules.h keys). */
static vs_status lane_add_claim(commit_lane *lane, play_event *ev, int32_t ad_s)
{
    play_claim *c = claim_push(&lane->claims, &lane->n_claims, &lane->cap_claims);

    if (c == NULL)
        return VS_RESOURCE_EXHAUSTED;
    c->ev = ev;
    if (ad_s < 0)
        playback_view_claim_key(ev->video_id, ev->viewer_id, c->key, sizeof c->key);
    else
        playback_ad_claim_key(ev->video_id, ev->viewer_id, ad_s, c->key, sizeof c->key);
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
        int n_ads, own = ev->viewer_id == ev->creator_id, same_process;
        int64_t play_steady_ms = 0;

        if (!lane->store[i])
            continue;
        p = play_lane_pair(lane, ev->viewer_id, ev->video_id);
        ev->day = window_day_of(ev->received_ms);
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->resume_s = playback_resume_position(p->has_row, p->position_s, ev->duration_s);
            p->play_from_s = ev->resume_s;
            p->play_started_ms = ev->received_ms;
            playback_start_remember(ev->viewer_id, ev->video_id, ev->received_ms,
                                    ev->received_steady_ms);
            p->open = p->dirty = 1;
            ev->reason = own ? PLAYBACK_OWN_VIDEO : PLAYBACK_COUNTED;
            if (!own && lane_add_claim(lane, ev, -1) != VS_OK)
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
        /* by the steady clock too when this process received the Play: a wall clock stepped
         * forward since then must not credit time nobody watched */
        same_process =
            playback_start_find(ev->viewer_id, ev->video_id, p->play_started_ms, &play_steady_ms);
        playback_credit_range(p->play_from_s, ev->position_s,
                              playback_elapsed_ms(p->play_started_ms, ev->received_ms, same_process,
                                                  play_steady_ms, ev->received_steady_ms),
                              &ev->credit);
        p->position_s = ev->position_s;
        p->has_row = 1;
        p->open = 0;
        p->dirty = 1;
        n_ads = playback_ads_in_range(ev->duration_s, ev->credit.from_s, ev->credit.to_s, ads,
                                      PLAYBACK_MAX_ADS);
        for (int a = 0; a < n_ads && !own; a++)
            if (lane_add_claim(lane, ev, ads[a]) != VS_OK)
                goto oom;
    }
    return VS_OK;
oom:
    snprintf(err, errlen, "out of memory");
    play_store_rollback(lane);
    return VS_RESOURCE_EXHAUSTED;
}

/* Whether the round records any event (not only replays and refusals). */
static int play_round_stores(const commit_lane *lane)
{
    for (size_t i = 0; i < lane->n; i++)
        if (lane->store[i])
            return 1;
    return 0;
}

/* Step 4: one pipelined SET NX GET per claim; playback_claim_outcome reads each reply (the key's
 * previous holder) as counted or a repeat within the window. */
static vs_status lane_claim(commit_lane *lane, char *err, size_t errlen)
{
    redis_cmds cmds;
    char window[24];
    vs_status rc = VS_OK;

    if (lane->n_claims == 0 && !play_round_stores(lane))
        return VS_OK;
    snprintf(window, sizeof window, "%lld", (long long)streaming_cfg.repeat_window_ms);
    if (!redis_cmds_init(&cmds, lane->n_claims + 1, 7)) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < lane->n_claims; i++) {
        const char *a[] = {
            "SET", lane->claims[i].key, lane->claims[i].ev->event_id, "NX", "PX", window, "GET"};

        redis_cmds_add(&cmds, 7, a);
    }
    /* Nothing to claim (own videos, Pauses without an ad): every call that records something
     * still needs a Redis that takes claims (docs/streaming.md, "While Redis cannot serve"), so
     * one throwaway claim asks it, failing as a claim would. */
    if (lane->n_claims == 0) {
        const char *probe[] = {"SET", "play:probe", "probe", "PX", "1"};

        redis_cmds_add(&cmds, 5, probe);
    }
    /* Once more on a fresh connection: a stale one (Redis restarted) fails on first use. Claims
     * that did reach Redis hold our event id, so repeating them decides the same. */
    for (int attempt = 0; attempt < 2; attempt++)
        if ((rc = redis_cmds_run(lane->redis, &cmds, err, errlen)) != VS_UNAVAILABLE)
            break;
    if (rc == VS_UNAVAILABLE)
        lane->redis_why = "Redis is unreachable";
    if (rc == VS_OK && lane->n_claims == 0 &&
        (rc = redis_reply_status(cmds.replies[0], err, errlen)) != VS_OK)
        redis_error_status(cmds.replies[0]->str, &lane->redis_why);
    for (size_t i = 0; rc == VS_OK && i < lane->n_claims; i++) {
        play_event *ev = lane->claims[i].ev;
        redisReply *r = cmds.replies[i];
        playback_reason outcome;

        /* LOADING, BUSY, READONLY ...: Redis cannot decide now, the caller retries */
        if ((rc = redis_reply_status(r, err, errlen)) != VS_OK) {
            redis_error_status(r->str, &lane->redis_why);
            break;
        }
        if (r->type == REDIS_REPLY_NIL) {
            outcome = playback_claim_outcome(0, NULL, ev->event_id);
            /* set by a guarded attempt, which may yet be rerun: remember it until commit */
            if (lane->guarded) {
                play_claim *stale = claim_push(&lane->stale, &lane->n_stale, &lane->cap_stale);

                if (stale != NULL)
                    *stale = lane->claims[i];
            }
        } else if (r->type == REDIS_REPLY_STRING) {
            outcome = playback_claim_outcome(0, r->str, ev->event_id);
        } else {
            rc = VS_INTERNAL;
            snprintf(err, errlen, "redis: unexpected reply to SET NX (type %d)", r->type);
            break;
        }
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->view_counted = outcome == PLAYBACK_COUNTED;
            ev->reason = outcome;
        } else {
            ev->ad_views += outcome == PLAYBACK_COUNTED;
        }
    }
out:
    redis_cmds_free(&cmds);
    if (rc != VS_OK)
        play_store_rollback(lane);
    return rc;
}

/* Before a rerun's claims: the claims its failed guarded attempt set that the rerun does not make
 * again (its event turned out to be a replay, or its pair's row was not as known) are deleted,
 * each only while it still holds that event's id, so they block no later view. A Redis failure
 * here leaves them to expire, as a failed round's claims do. */
static void lane_release_stale(commit_lane *lane)
{
    static const char script[] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0";
    redis_cmds cmds;
    char err[256];

    if (!redis_cmds_init(&cmds, lane->n_stale, 5)) {
        log_warn("play commit lane %d: %zu stale view claims left to expire: out of memory",
                 lane->index, lane->n_stale);
        goto out;
    }
    for (size_t i = 0; i < lane->n_stale; i++) {
        const play_claim *s = &lane->stale[i];
        const char *a[] = {"EVAL", script, "1", s->key, s->ev->event_id};
        int again = 0;

        for (size_t k = 0; k < lane->n_claims && !again; k++)
            again = lane->claims[k].ev == s->ev && strcmp(lane->claims[k].key, s->key) == 0;
        if (!again)
            redis_cmds_add(&cmds, 5, a);
    }
    if (redis_cmds_run(lane->redis, &cmds, err, sizeof err) != VS_OK)
        log_warn("play commit lane %d: %d stale view claims left to expire: %s", lane->index,
                 cmds.n, err);
out:
    redis_cmds_free(&cmds);
    lane->n_stale = 0;
}

/* One attempt at the whole round; every event's outcome is reset first. A guarded attempt
 * (guarded, and every pair known: play_known.c) skips the read, so it is a Redis pipeline and one
 * round trip; otherwise reads in one round trip, claims in one Redis pipeline, writes and
 * commits in one more round trip. */
static vs_status lane_commit(commit_lane *lane, int guarded, char *err, size_t errlen)
{
    int64_t t0, t1, t2;
    vs_status rc;

    lane->guarded = 0;
    lane->redis_why = NULL;
    lane->db_why = NULL;
    lane->db_timed_out = 0;
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];

        lane->store[i] = 1;
        ev->status = VS_OK;
        ev->message[0] = '\0';
        ev->replayed = ev->view_counted = 0;
        ev->ad_views = ev->resume_s = 0;
        ev->reason = PLAYBACK_COUNTED;
        memset(&ev->credit, 0, sizeof ev->credit);
    }
    if ((rc = play_store_connect(lane, err, errlen)) != VS_OK)
        return rc;
    t0 = clock_mono_us();
    lane->guarded = guarded && play_known_fill(lane);
    if (!lane->guarded && (rc = play_store_read(lane, err, errlen)) != VS_OK)
        return rc;
    t1 = clock_mono_us();
    lane->read_us += t1 - t0;
    if ((rc = lane_apply(lane, err, errlen)) != VS_OK)
        return rc;
    /* a guarded write checks only the rows it writes: a pair the round leaves alone (a Pause
     * refused for want of a Play) was answered from what the lane knows, so read it */
    for (size_t i = 0; lane->guarded && i < lane->n_pairs; i++)
        if (!lane->pairs[i].dirty) {
            snprintf(err, errlen, "a pair the round does not write");
            return VS_FAILED_PRECONDITION;
        }
    if (lane->n_stale > 0 && !lane->guarded)
        lane_release_stale(lane);
    if ((rc = lane_claim(lane, err, errlen)) != VS_OK)
        return rc;
    t2 = clock_mono_us();
    lane->claim_us += t2 - t1;
    do
        randombytes_buf(&lane->round_version, sizeof lane->round_version);
    while (lane->round_version == 0);
    rc = play_store_write(lane, err, errlen);
    lane->write_us += clock_mono_us() - t2;
    return rc;
}

/* Takes up to max_batch queued events. An event whose viewer and id are already in the batch (a
 * concurrent resend) waits for the next round, where it finds the first one's committed row;
 * another viewer's event with the same id is another event. */
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
        if (play_lane_find(lane, ev->viewer_id, ev->event_id, strlen(ev->event_id)) != NULL) {
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

/* Gives the round's events to the lane's answering thread (once it has answered the previous
 * round), so the lane takes its next batch while the answers go out. */
static void lane_hand_over(commit_lane *lane)
{
    play_event **answered;

    pthread_mutex_lock(&lane->answer_lock);
    while (lane->n_answering > 0)
        pthread_cond_wait(&lane->answer_free, &lane->answer_lock);
    answered = lane->answering;
    lane->answering = lane->batch;
    lane->n_answering = lane->n;
    lane->batch = answered;
    pthread_cond_signal(&lane->answer_wake);
    pthread_mutex_unlock(&lane->answer_lock);
}

/* The answering thread: calls done for each event of a handed-over round. */
static void *lane_answer_main(void *arg)
{
    commit_lane *lane = arg;
    char name[16];

    snprintf(name, sizeof name, "vs-answer%d", lane->index);
    pthread_setname_np(pthread_self(), name);

    pthread_mutex_lock(&lane->answer_lock);
    for (;;) {
        size_t n;

        while (lane->n_answering == 0 && !lane->answer_stop)
            pthread_cond_wait(&lane->answer_wake, &lane->answer_lock);
        if (lane->n_answering == 0)
            break;
        n = lane->n_answering;
        pthread_mutex_unlock(&lane->answer_lock);
        /* done may free the event */
        for (size_t i = 0; i < n; i++)
            lane->answering[i]->done(lane->answering[i]);
        pthread_mutex_lock(&lane->answer_lock);
        lane->n_answering = 0;
        pthread_cond_signal(&lane->answer_free);
    }
    pthread_mutex_unlock(&lane->answer_lock);
    return NULL;
}

/* Lets the answering thread finish what it has and waits for it to exit. */
static void lane_answer_stop(commit_lane *lane)
{
    pthread_mutex_lock(&lane->answer_lock);
    lane->answer_stop = 1;
    pthread_cond_signal(&lane->answer_wake);
    pthread_mutex_unlock(&lane->answer_lock);
    pthread_join(lane->answer_thread, NULL);
}

static void *lane_main(void *arg)
{
    commit_lane *lane = arg;
    char err[256];

    snprintf(err, 16, "vs-lane%d", lane->index);
    pthread_setname_np(pthread_self(), err);

    while (lane_take(lane)) {
        int64_t t0 = clock_mono_us(), t_end;
        vs_status rc = VS_OK;

        int guarded = lane->n_known > 0;

        for (size_t i = 0; i < lane->n; i++)
            lane->queued_us += t0 - lane->batch[i]->queued_us;
        /* Health: how long commits have waited (kept across rounds the primary fails) */
        if (__atomic_load_n(&lane->stalled_since_us, __ATOMIC_RELAXED) == 0)
            __atomic_store_n(&lane->stalled_since_us, t0, __ATOMIC_RELAXED);

        for (int attempt = 0, reconnected = 0; attempt < COMMIT_ATTEMPTS;) {
            rc = lane_commit(lane, guarded, err, sizeof err);
            if (rc == VS_OK)
                break;
            /* the primary does not answer (a full disk, a lock): fail the round now, a rerun
             * would hold its callers as long again; the next round reconnects */
            if (lane->db_timed_out)
                break;
            if (rc == VS_UNAVAILABLE && lane->db == NULL && !reconnected) {
                /* the primary connection was lost during the round (the store dropped it): once
                 * more on a new one, with the read, which finds a COMMIT that did land as replays */
                log_info("play commit lane %d: %s; rerunning the round on a new connection",
                         lane->index, err);
                reconnected = 1;
                play_known_forget(lane);
                guarded = 0;
                continue;
            }
            if (lane->guarded) {
                /* a replayed event id, a row changed elsewhere, or any other failure: rerun the
                 * round with the read, which decides it as if the guarded attempt never ran */
                log_debug("play commit lane %d: guarded round rerun with the read: %s", lane->index,
                          err);
                __atomic_fetch_add(&lane->guard_misses, 1, __ATOMIC_RELAXED);
                play_known_forget(lane);
                guarded = 0;
                continue;
            }
            if (rc != VS_ALREADY_EXISTS && rc != VS_ABORTED)
                break;
            log_info("play commit lane %d: %s; retrying the round", lane->index, err);
            attempt++;
        }
        lane->n_stale = 0;
        if (rc == VS_OK || lane->db_why == NULL) {
            __atomic_store_n(&lane->stalled_since_us, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&lane->stall_why, NULL, __ATOMIC_RELAXED);
        } else {
            __atomic_store_n(&lane->stall_why, lane->db_why, __ATOMIC_RELAXED);
            __atomic_fetch_add(&lane->db_failed_rounds, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&lane->db_timeouts, lane->db_timed_out, __ATOMIC_RELAXED);
        }
        if (rc == VS_OK) {
            /* atomic: Health reads these (play_commit_snapshot) */
            __atomic_fetch_add(&lane->guarded_rounds, lane->guarded, __ATOMIC_RELAXED);
            play_known_remember(lane);
            live_record(lane->redis, lane->batch, lane->store, lane->n);
        } else {
            play_known_forget(lane);
            /* the details (addresses, SQL errors) go to the log, not to the caller */
            log_warn("play commit lane %d: %zu events failed: %s", lane->index, lane->n, err);
            for (size_t i = 0; i < lane->n; i++) {
                lane->batch[i]->status = rc;
                if (rc == VS_UNAVAILABLE || rc == VS_RESOURCE_EXHAUSTED)
                    snprintf(lane->batch[i]->message, sizeof lane->batch[i]->message,
                             "cannot record plays now (%s); retry with the same event_id",
                             lane->redis_why ? lane->redis_why
                             : lane->db_why  ? lane->db_why
                                             : "database or Redis unreachable");
                else
                    snprintf(lane->batch[i]->message, sizeof lane->batch[i]->message,
                             "could not record the play; retry with the same event_id");
            }
        }
        __atomic_fetch_add(&lane->rounds, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&lane->events, (int64_t)lane->n, __ATOMIC_RELAXED);
        t_end = clock_mono_us();
        lane->busy_us += t_end - t0;
        lane_hand_over(lane);
        lane->answer_us += clock_mono_us() - t_end;
    }
    return NULL;
}

void play_commit_snapshot(play_commit_state *out)
{
    int64_t now = clock_mono_us(), since;

    memset(out, 0, sizeof *out);
    out->lanes = commit_n_lanes;
    for (int i = 0; i < commit_n_lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        out->rounds += __atomic_load_n(&lane->rounds, __ATOMIC_RELAXED);
        out->events += __atomic_load_n(&lane->events, __ATOMIC_RELAXED);
        out->rounds_without_read += __atomic_load_n(&lane->guarded_rounds, __ATOMIC_RELAXED);
        out->reruns_with_read += __atomic_load_n(&lane->guard_misses, __ATOMIC_RELAXED);
        out->db_failed_rounds += __atomic_load_n(&lane->db_failed_rounds, __ATOMIC_RELAXED);
        out->db_timeouts += __atomic_load_n(&lane->db_timeouts, __ATOMIC_RELAXED);
        since = __atomic_load_n(&lane->stalled_since_us, __ATOMIC_RELAXED);
        if (since != 0 && (now - since) / 1000 > out->stalled_ms) {
            out->stalled_ms = (now - since) / 1000;
            out->stall_why = __atomic_load_n(&lane->stall_why, __ATOMIC_RELAXED);
        }
    }
}

void play_commit_submit(play_event *ev)
{
    commit_lane *lane =
        &commit_lanes[play_pair_hash(ev->viewer_id, ev->video_id) % (uint64_t)commit_n_lanes];

    ev->next = NULL;
    ev->queued_us = clock_mono_us();
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
        pthread_mutex_init(&lane->answer_lock, NULL);
        pthread_cond_init(&lane->answer_wake, NULL);
        pthread_cond_init(&lane->answer_free, NULL);
        lane->batch = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->batch);
        lane->answering = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->answering);
        lane->store = calloc((size_t)streaming_cfg.max_batch, 1);
        lane->pairs = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->pairs);
        if (lane->batch == NULL || lane->answering == NULL || lane->store == NULL ||
            lane->pairs == NULL || !play_known_init(lane, (size_t)streaming_cfg.known_pairs)) {
            snprintf(err, errlen, "out of memory");
            return VS_RESOURCE_EXHAUSTED;
        }
        /* a Redis that is down now is retried on use */
        redis_open(vsd_cfg.redis, 1000, &lane->redis, err, errlen);
        if (lane->redis == NULL)
            return VS_RESOURCE_EXHAUSTED;
        if (pthread_create(&lane->answer_thread, NULL, lane_answer_main, lane) != 0) {
            snprintf(err, errlen, "cannot start the play answer thread");
            return VS_RESOURCE_EXHAUSTED;
        }
        if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
            snprintf(err, errlen, "cannot start the play commit thread");
            lane_answer_stop(lane);
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
        lane_answer_stop(lane);
        pthread_mutex_destroy(&lane->answer_lock);
        pthread_cond_destroy(&lane->answer_wake);
        pthread_cond_destroy(&lane->answer_free);
        if (lane->rounds > 0)
            log_info("play commit lane %d: %lld rounds, %lld events (%.1f a round); ms a round: "
                     "%.2f (read %.2f, claim %.2f, write+commit %.2f) + hand-over %.2f; ms an "
                     "event waits for its round %.2f; %lld rounds without the read, %lld reruns "
                     "with it",
                     i, (long long)lane->rounds, (long long)lane->events,
                     (double)lane->events / (double)lane->rounds,
                     (double)lane->busy_us / (double)lane->rounds / 1000.0,
                     (double)lane->read_us / (double)lane->rounds / 1000.0,
                     (double)lane->claim_us / (double)lane->rounds / 1000.0,
                     (double)lane->write_us / (double)lane->rounds / 1000.0,
                     (double)lane->answer_us / (double)lane->rounds / 1000.0,
                     (double)lane->queued_us / (double)lane->events / 1000.0,
                     (long long)lane->guarded_rounds, (long long)lane->guard_misses);
        if (lane->db != NULL)
            mysql_close(lane->db);
        redis_close(lane->redis);
        free(lane->sql.data);
        free(lane->batch);
        free(lane->answering);
        free(lane->store);
        free(lane->pairs);
        free(lane->claims);
        free(lane->stale);
        free(lane->known);
        pthread_mutex_destroy(&lane->lock);
        pthread_cond_destroy(&lane->wake);
    }
    free(commit_lanes);
    commit_lanes = NULL;
    commit_n_lanes = 0;
}
