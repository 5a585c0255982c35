/* play_commit.c — group commit of Play and Pause: committer lanes that decide and store the
 * events of many rpc workers in one transaction per round. This file is the round; its parts:
 * play_queue.c (the queue in, the answering thread out), play_claims.c (step 4), play_store.c
 * (the SQL of steps 1-2 and 5), play_known.c (the known rows), play_lane.h (the lane's state).
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
 *      each — the atomic check-and-set of the repeat rule (play_claims.c);
 *   5. inserts the play_log rows, upserts watch_position, commits;
 *   6. adds the counted views and ad views to the live counters, then hands the events to the
 *      lane's answering thread, which wakes the workers while the lane takes its next batch.
 * Nothing is acknowledged before step 5's COMMIT returned. A duplicate key at step 5 (the same
 * event id committed meanwhile by another lane or process) or a deadlock reruns the round.
 *
 * A round whose pairs are all known rows (the lane wrote or read them last: play_known.c) runs
 * from the known rows: it skips steps 1-2, and its write stores each row only while the row still
 * has the version the lane knows. A replayed id (unique key), a row changed elsewhere (version) or
 * a pair the round would answer without writing reruns the round with steps 1-2; view claims the
 * known-rows attempt set and the rerun does not make are released first (lane_release_stale).
 *
 * How an attempt ended is the lane's own lane_outcome, never a public status: ev->status carries
 * only what the protocol says to the caller.
 *
 * With VS_PLAY_COMMITTERS > 1 lanes commit concurrently (on separate connections); on the 2-core
 * development machine one lane batches best (docs/benchmarks.md). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "play_clock.h"
#include "play_lane.h"
#include "vsd.h"

#define COMMIT_ATTEMPTS 3

/* How one attempt at a round ended, and so what the lane does next. */
typedef enum lane_outcome {
    LANE_DONE,            /* committed: answer the round */
    LANE_RERUN_WITH_READ, /* a known-rows attempt failed (a replay, a row changed elsewhere, a
                           * pair the round does not write, or anything else): rerun with the
                           * read, which decides as if the attempt never ran */
    LANE_RECONNECT,       /* the primary connection was lost: rerun once on a new one, with the
                           * read (which finds a COMMIT that did land as replays) */
    LANE_RETRY_ROUND,     /* a duplicate event id committed meanwhile elsewhere, or a deadlock:
                           * retry the round (up to COMMIT_ATTEMPTS) */
    LANE_FAILED           /* give up: every event of the round fails with the attempt's status */
} lane_outcome;

static commit_lane *commit_lanes;
static int commit_n_lanes;

/* What the rounds did, for the metrics endpoint (play_commit_metrics). Lanes add to them after
 * each round: a few relaxed atomic adds per round, none per call. */
static struct {
    metrics_counter rounds[2];       /* committed, failed */
    metrics_counter views[3];        /* by playback_reason: counted, own_video, repeat */
    metrics_counter ad_views;        /* counted ad views */
    metrics_histogram round_us;      /* a round from taking its events to its outcome */
    metrics_histogram round_events;  /* events a round took */
} commit_metrics = {.round_us = METRICS_HISTOGRAM(metrics_bounds_request_us),
                    .round_events = METRICS_HISTOGRAM(metrics_bounds_size)};

/* Step 3: applies the round's events to their pairs in arrival order and lists the claims. */
static vs_status lane_apply(commit_lane *lane, char *err, size_t errlen)
{
    lane_round *r = &lane->round;
    int32_t ads[PLAYBACK_MAX_ADS];

    r->n_claims = 0;
    for (size_t i = 0; i < r->n; i++) {
        play_event *ev = r->batch[i];
        play_pair *p;
        int n_ads, own = ev->viewer_id == ev->creator_id, same_process;
        int64_t play_steady_ms = 0;

        if (!r->store[i])
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
            r->store[i] = 0;
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

/* What a failed attempt means for the round (rc: the attempt's status, not VS_OK). */
static lane_outcome lane_judge(const commit_lane *lane, vs_status rc, int reconnected)
{
    /* the primary does not answer (a full disk, a lock): fail the round now, a rerun would hold
     * its callers as long again; the next round reconnects */
    if (lane->round.db_timed_out)
        return LANE_FAILED;
    if (rc == VS_UNAVAILABLE && lane->db == NULL && !reconnected)
        return LANE_RECONNECT;
    if (lane->round.from_known)
        return LANE_RERUN_WITH_READ;
    /* how the store reports a duplicate key and a deadlock (db_status_from_errno) */
    if (rc == VS_ALREADY_EXISTS || rc == VS_ABORTED)
        return LANE_RETRY_ROUND;
    return LANE_FAILED;
}

/* Every event's outcome and the round's per-attempt state start over. */
static void lane_reset_attempt(commit_lane *lane)
{
    lane_round *r = &lane->round;

    r->from_known = 0;
    r->redis_why = NULL;
    r->db_why = NULL;
    r->db_timed_out = 0;
    for (size_t i = 0; i < r->n; i++) {
        play_event *ev = r->batch[i];

        r->store[i] = 1;
        ev->status = VS_OK;
        ev->message[0] = '\0';
        ev->replayed = ev->view_counted = 0;
        ev->ad_views = ev->resume_s = 0;
        ev->reason = PLAYBACK_COUNTED;
        memset(&ev->credit, 0, sizeof ev->credit);
    }
}

/* One attempt at the whole round. From the known rows (from_known, and every pair known:
 * play_known.c) it skips the read, so it is a Redis pipeline and one round trip; otherwise it
 * reads in one round trip, claims in one Redis pipeline, writes and commits in one more round
 * trip. *rc is the attempt's status (VS_OK when LANE_DONE). */
static lane_outcome lane_attempt(commit_lane *lane, int from_known, int reconnected, vs_status *rc,
                                 char *err, size_t errlen)
{
    lane_round *r = &lane->round;
    int64_t t0, t1, t2;

    lane_reset_attempt(lane);
    if ((*rc = play_store_connect(lane, err, errlen)) != VS_OK)
        goto failed;
    t0 = clock_mono_us();
    r->from_known = from_known && play_known_fill(lane);
    if (!r->from_known && (*rc = play_store_read(lane, err, errlen)) != VS_OK)
        goto failed;
    t1 = clock_mono_us();
    lane->stats.read_us += t1 - t0;
    if ((*rc = lane_apply(lane, err, errlen)) != VS_OK)
        goto failed;
    /* a known-rows write checks only the rows it writes: a pair the round leaves alone (a Pause
     * refused for want of a Play) was answered from what the lane knows, so read it */
    for (size_t i = 0; r->from_known && i < r->n_pairs; i++)
        if (!r->pairs[i].dirty) {
            snprintf(err, errlen, "a pair the round does not write");
            return LANE_RERUN_WITH_READ;
        }
    if (r->n_stale > 0 && !r->from_known)
        lane_release_stale(lane);
    if ((*rc = lane_claim(lane, err, errlen)) != VS_OK)
        goto failed;
    t2 = clock_mono_us();
    lane->stats.claim_us += t2 - t1;
    do
        randombytes_buf(&r->version, sizeof r->version);
    while (r->version == 0);
    *rc = play_store_write(lane, err, errlen);
    lane->stats.write_us += clock_mono_us() - t2;
    if (*rc == VS_OK)
        return LANE_DONE;
failed:
    return lane_judge(lane, *rc, reconnected);
}

/* Runs the round's attempts until one is done or the round is given up; the round's status. */
static vs_status lane_run_round(commit_lane *lane, char *err, size_t errlen)
{
    int from_known = lane->cache.slots > 0, reconnected = 0;
    vs_status rc = VS_OK;

    for (int attempt = 0; attempt < COMMIT_ATTEMPTS;) {
        switch (lane_attempt(lane, from_known, reconnected, &rc, err, errlen)) {
        case LANE_DONE:
        case LANE_FAILED:
            return rc;
        case LANE_RECONNECT:
            log_info("play commit lane %d: %s; rerunning the round on a new connection",
                     lane->index, err);
            reconnected = 1;
            play_known_forget(lane);
            from_known = 0;
            break;
        case LANE_RERUN_WITH_READ:
            log_debug("play commit lane %d: known-rows round rerun with the read: %s", lane->index,
                      err);
            __atomic_fetch_add(&lane->stats.known_reruns, 1, __ATOMIC_RELAXED);
            play_known_forget(lane);
            from_known = 0;
            break;
        case LANE_RETRY_ROUND:
            log_info("play commit lane %d: %s; retrying the round", lane->index, err);
            attempt++;
            break;
        }
    }
    return rc;
}

/* The views and ad views a committed round recorded (replays and refusals store nothing). */
static void lane_count_views(const lane_round *r)
{
    uint64_t views[3] = {0}, ads = 0;

    for (size_t i = 0; i < r->n; i++) {
        const play_event *ev = r->batch[i];

        if (!r->store[i])
            continue;
        if (ev->kind == PLAY_KIND_PLAY && (unsigned)ev->reason < 3)
            views[ev->reason]++;
        else if (ev->kind == PLAY_KIND_PAUSE)
            ads += (uint64_t)ev->ad_views;
    }
    for (int k = 0; k < 3; k++)
        if (views[k] > 0)
            metrics_add(&commit_metrics.views[k], views[k]);
    if (ads > 0)
        metrics_add(&commit_metrics.ad_views, ads);
}

/* After a round: Health's stall clock and counters, and the events' outcome when it failed. */
static void lane_settle(commit_lane *lane, vs_status rc, const char *err)
{
    lane_round *r = &lane->round;
    lane_stats *s = &lane->stats;

    r->n_stale = 0;
    if (rc == VS_OK || r->db_why == NULL) {
        __atomic_store_n(&s->stalled_since_us, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->stall_why, NULL, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&s->stall_why, r->db_why, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->db_failed_rounds, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->db_timeouts, r->db_timed_out, __ATOMIC_RELAXED);
    }
    if (rc == VS_OK) {
        /* atomic: Health reads these (play_commit_snapshot) */
        __atomic_fetch_add(&s->known_rounds, r->from_known, __ATOMIC_RELAXED);
        play_known_remember(lane);
        live_record(lane->redis, r->batch, r->store, r->n);
        lane_count_views(r);
    } else {
        play_known_forget(lane);
        /* the details (addresses, SQL errors) go to the log, not to the caller */
        log_warn("play commit lane %d: %zu events failed: %s", lane->index, r->n, err);
        for (size_t i = 0; i < r->n; i++) {
            r->batch[i]->status = rc;
            if (rc == VS_UNAVAILABLE || rc == VS_RESOURCE_EXHAUSTED)
                snprintf(r->batch[i]->message, sizeof r->batch[i]->message,
                         "cannot record plays now (%s); retry with the same event_id",
                         r->redis_why ? r->redis_why
                         : r->db_why  ? r->db_why
                                      : "database or Redis unreachable");
            else
                snprintf(r->batch[i]->message, sizeof r->batch[i]->message,
                         "could not record the play; retry with the same event_id");
        }
    }
    __atomic_fetch_add(&s->rounds, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->events, (int64_t)r->n, __ATOMIC_RELAXED);
}

static void *lane_main(void *arg)
{
    commit_lane *lane = arg;
    char err[256];

    snprintf(err, 16, "vs-lane%d", lane->index);
    pthread_setname_np(pthread_self(), err);

    while (lane_take(lane)) {
        int64_t t0 = clock_mono_us(), t_end;
        vs_status rc;

        for (size_t i = 0; i < lane->round.n; i++)
            lane->stats.queued_us += t0 - lane->round.batch[i]->queued_us;
        /* Health: how long commits have waited (kept across rounds the primary fails) */
        if (__atomic_load_n(&lane->stats.stalled_since_us, __ATOMIC_RELAXED) == 0)
            __atomic_store_n(&lane->stats.stalled_since_us, t0, __ATOMIC_RELAXED);
        rc = lane_run_round(lane, err, sizeof err);
        lane_settle(lane, rc, err);
        t_end = clock_mono_us();
        metrics_inc(&commit_metrics.rounds[rc == VS_OK ? 0 : 1]);
        metrics_observe(&commit_metrics.round_us, t_end - t0);
        metrics_observe(&commit_metrics.round_events, (int64_t)lane->round.n);
        lane->stats.busy_us += t_end - t0;
        lane_hand_over(lane);
        lane->stats.answer_us += clock_mono_us() - t_end;
    }
    return NULL;
}

void play_commit_snapshot(play_commit_state *out)
{
    int64_t now = clock_mono_us(), since;

    memset(out, 0, sizeof *out);
    out->lanes = commit_n_lanes;
    for (int i = 0; i < commit_n_lanes; i++) {
        lane_stats *s = &commit_lanes[i].stats;

        out->rounds += __atomic_load_n(&s->rounds, __ATOMIC_RELAXED);
        out->events += __atomic_load_n(&s->events, __ATOMIC_RELAXED);
        out->rounds_without_read += __atomic_load_n(&s->known_rounds, __ATOMIC_RELAXED);
        out->reruns_with_read += __atomic_load_n(&s->known_reruns, __ATOMIC_RELAXED);
        out->db_failed_rounds += __atomic_load_n(&s->db_failed_rounds, __ATOMIC_RELAXED);
        out->db_timeouts += __atomic_load_n(&s->db_timeouts, __ATOMIC_RELAXED);
        since = __atomic_load_n(&s->stalled_since_us, __ATOMIC_RELAXED);
        if (since != 0 && (now - since) / 1000 > out->stalled_ms) {
            out->stalled_ms = (now - since) / 1000;
            out->stall_why = __atomic_load_n(&s->stall_why, __ATOMIC_RELAXED);
        }
    }
}

void play_commit_metrics(metrics_text *t)
{
    static const char *const round_outcomes[] = {"committed", "failed"};
    static const char *const view_outcomes[] = {"counted", "own_video", "repeat"};
    play_commit_state st;

    play_commit_snapshot(&st);
    metrics_write_counters(t, "vs_play_commit_rounds_total",
                           "Play/Pause group-commit rounds, by outcome (failed: every event of "
                           "the round got an error).",
                           "outcome", round_outcomes, commit_metrics.rounds, 2);
    metrics_write_one(t, "vs_play_commit_events_total", METRICS_COUNTER,
                      "Play and Pause events taken by commit rounds.", st.events, 0);
    metrics_write_histogram(t, "vs_play_commit_round_events",
                            "Events in one commit round (the group-commit batch size).",
                            &commit_metrics.round_events, 0);
    metrics_write_histogram(t, "vs_play_commit_duration_seconds",
                            "Seconds of one commit round: Redis claims, the primary's "
                            "transaction and its retries.",
                            &commit_metrics.round_us, 6);
    metrics_write_one(t, "vs_play_commit_rounds_without_read_total", METRICS_COUNTER,
                      "Committed rounds that skipped the read (all pairs known rows).",
                      st.rounds_without_read, 0);
    metrics_write_one(t, "vs_play_commit_reruns_with_read_total", METRICS_COUNTER,
                      "Known-rows attempts that failed and were rerun with the read.",
                      st.reruns_with_read, 0);
    metrics_write_one(t, "vs_play_commit_db_timeouts_total", METRICS_COUNTER,
                      "Rounds that failed because the primary did not answer in time.",
                      st.db_timeouts, 0);
    metrics_write_one(t, "vs_play_commit_stalled_seconds", METRICS_GAUGE,
                      "How long the longest-waiting lane has waited for a commit (0: none).",
                      st.stalled_ms, 3);
    metrics_write_counters(t, "vs_play_view_claims_total",
                           "Plays committed, by the outcome of their view claim (counted: the "
                           "view counts; repeat: within the repeat window; own_video: the "
                           "creator's own).",
                           "outcome", view_outcomes, commit_metrics.views, 3);
    metrics_write_one(t, "vs_play_ad_views_total", METRICS_COUNTER,
                      "Ad views counted by committed Pauses.",
                      (int64_t)metrics_counter_get(&commit_metrics.ad_views), 0);
}

void play_commit_submit(play_event *ev)
{
    lane_submit(
        &commit_lanes[play_pair_hash(ev->viewer_id, ev->video_id) % (uint64_t)commit_n_lanes], ev);
}

/* One lane's memory, connections and threads. */
static vs_status lane_start(commit_lane *lane, int index, const play_commit_config *cfg, char *err,
                            size_t errlen)
{
    size_t max = (size_t)cfg->max_batch;
    vs_status rc;

    lane->index = index;
    lane->cfg = cfg;
    pthread_mutex_init(&lane->queue.lock, NULL);
    pthread_cond_init(&lane->queue.wake, NULL);
    pthread_mutex_init(&lane->answers.lock, NULL);
    pthread_cond_init(&lane->answers.wake, NULL);
    pthread_cond_init(&lane->answers.free, NULL);
    lane->round.batch = calloc(max, sizeof *lane->round.batch);
    lane->answers.events = calloc(max, sizeof *lane->answers.events);
    lane->round.store = calloc(max, 1);
    lane->round.pairs = calloc(max, sizeof *lane->round.pairs);
    if (lane->round.batch == NULL || lane->answers.events == NULL || lane->round.store == NULL ||
        lane->round.pairs == NULL || !play_known_init(lane, (size_t)cfg->known_pairs)) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    /* a Redis that is down now is retried on use */
    redis_open(vsd_cfg.redis, 1000, &lane->redis, err, errlen);
    if (lane->redis == NULL)
        return VS_RESOURCE_EXHAUSTED;
    if ((rc = lane_answers_start(lane, err, errlen)) != VS_OK)
        return rc;
    if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
        snprintf(err, errlen, "cannot start the play commit thread");
        lane_answers_stop(lane);
        return VS_RESOURCE_EXHAUSTED;
    }
    return VS_OK;
}

vs_status play_commit_start(const play_commit_config *cfg, char *err, size_t errlen)
{
    vs_status rc;

    commit_lanes = calloc((size_t)cfg->lanes, sizeof *commit_lanes);
    if (commit_lanes == NULL)
        return VS_RESOURCE_EXHAUSTED;
    for (int i = 0; i < cfg->lanes; i++) {
        if ((rc = lane_start(&commit_lanes[i], i, cfg, err, errlen)) != VS_OK)
            return rc;
        commit_n_lanes = i + 1;
    }
    return VS_OK;
}

/* The lane's totals: how well the rounds batch. */
static void lane_log_stats(const commit_lane *lane)
{
    const lane_stats *s = &lane->stats;
    double rounds = (double)s->rounds;

    log_info("play commit lane %d: %lld rounds, %lld events (%.1f a round); ms a round: %.2f (read "
             "%.2f, claim %.2f, write+commit %.2f) + hand-over %.2f; ms an event waits for its "
             "round %.2f; %lld rounds from known rows (no read), %lld of their attempts rerun with "
             "the read",
             lane->index, (long long)s->rounds, (long long)s->events, (double)s->events / rounds,
             (double)s->busy_us / rounds / 1000.0, (double)s->read_us / rounds / 1000.0,
             (double)s->claim_us / rounds / 1000.0, (double)s->write_us / rounds / 1000.0,
             (double)s->answer_us / rounds / 1000.0,
             (double)s->queued_us / (double)s->events / 1000.0, (long long)s->known_rounds,
             (long long)s->known_reruns);
}

void play_commit_stop(void)
{
    for (int i = 0; i < commit_n_lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        pthread_mutex_lock(&lane->queue.lock);
        lane->queue.stopping = 1;
        pthread_cond_signal(&lane->queue.wake);
        pthread_mutex_unlock(&lane->queue.lock);
        pthread_join(lane->thread, NULL);
        lane_answers_stop(lane);
        pthread_mutex_destroy(&lane->answers.lock);
        pthread_cond_destroy(&lane->answers.wake);
        pthread_cond_destroy(&lane->answers.free);
        if (lane->stats.rounds > 0)
            lane_log_stats(lane);
        if (lane->db != NULL)
            mysql_close(lane->db);
        redis_close(lane->redis);
        free(lane->sql.data);
        free(lane->round.batch);
        free(lane->answers.events);
        free(lane->round.store);
        free(lane->round.pairs);
        free(lane->round.claims);
        free(lane->round.stale);
        free(lane->cache.rows);
        pthread_mutex_destroy(&lane->queue.lock);
        pthread_cond_destroy(&lane->queue.wake);
    }
    free(commit_lanes);
    commit_lanes = NULL;
    commit_n_lanes = 0;
}
