/* play_claims.c — step 4 of a commit round (play_commit.c): the repeat rule's claims in Redis.
 * Each view or ad view of the round is one `SET key event_id NX PX window GET` in one pipeline:
 * the atomic check-and-set of the rule. The value is the claiming event's id, so a retried event
 * whose first attempt did not commit recognises its own claim. The rule's parts — the window's
 * default, the key names, what a reply means — are in playback_rules.h; this file does the I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "play_lane.h"

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

vs_status lane_add_claim(commit_lane *lane, play_event *ev, int32_t ad_s)
{
    lane_round *r = &lane->round;
    play_claim *c = claim_push(&r->claims, &r->n_claims, &r->cap_claims);

    if (c == NULL)
        return VS_RESOURCE_EXHAUSTED;
    c->ev = ev;
    if (ad_s < 0)
        playback_view_claim_key(ev->video_id, ev->viewer_id, c->key, sizeof c->key);
    else
        playback_ad_claim_key(ev->video_id, ev->viewer_id, ad_s, c->key, sizeof c->key);
    return VS_OK;
}

/* Whether the round records any event (not only replays and refusals). */
static int round_stores(const lane_round *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->store[i])
            return 1;
    return 0;
}

/* Sets ev's view or ad views from what its claim decided. */
static void claim_apply(play_event *ev, playback_reason outcome)
{
    if (ev->kind == PLAY_KIND_PLAY) {
        ev->view_counted = outcome == PLAYBACK_COUNTED;
        ev->reason = outcome;
    } else {
        ev->ad_views += outcome == PLAYBACK_COUNTED;
    }
}

vs_status lane_claim(commit_lane *lane, char *err, size_t errlen)
{
    lane_round *r = &lane->round;
    redis_cmds cmds;
    char window[24];
    vs_status rc = VS_OK;

    if (r->n_claims == 0 && !round_stores(r))
        return VS_OK;
    snprintf(window, sizeof window, "%lld", (long long)lane->cfg->repeat_window_ms);
    if (!redis_cmds_init(&cmds, r->n_claims + 1, 7)) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->n_claims; i++) {
        const char *a[] = {"SET", r->claims[i].key, r->claims[i].ev->event_id, "NX", "PX", window,
                           "GET"};

        redis_cmds_add(&cmds, 7, a);
    }
    /* Nothing to claim (own videos, Pauses without an ad): every call that records something
     * still needs a Redis that takes claims (docs/streaming.md, "While Redis cannot serve"), so
     * one throwaway claim asks it, failing as a claim would. */
    if (r->n_claims == 0) {
        const char *probe[] = {"SET", "play:probe", "probe", "PX", "1"};

        redis_cmds_add(&cmds, 5, probe);
    }
    /* Once more on a fresh connection: a stale one (Redis restarted) fails on first use. Claims
     * that did reach Redis hold our event id, so repeating them decides the same. */
    for (int attempt = 0; attempt < 2; attempt++)
        if ((rc = redis_cmds_run(lane->redis, &cmds, err, errlen)) != VS_UNAVAILABLE)
            break;
    if (rc == VS_UNAVAILABLE)
        r->redis_why = "Redis is unreachable";
    if (rc == VS_OK && r->n_claims == 0 &&
        (rc = redis_reply_status(cmds.replies[0], err, errlen)) != VS_OK)
        redis_error_status(cmds.replies[0]->str, &r->redis_why);
    for (size_t i = 0; rc == VS_OK && i < r->n_claims; i++) {
        play_event *ev = r->claims[i].ev;
        redisReply *reply = cmds.replies[i];

        /* LOADING, BUSY, READONLY ...: Redis cannot decide now, the caller retries */
        if ((rc = redis_reply_status(reply, err, errlen)) != VS_OK) {
            redis_error_status(reply->str, &r->redis_why);
            break;
        }
        if (reply->type == REDIS_REPLY_NIL) {
            claim_apply(ev, playback_claim_outcome(0, NULL, ev->event_id));
            /* set by a known-rows attempt, which may yet be rerun: remember it until commit */
            if (r->from_known) {
                play_claim *stale = claim_push(&r->stale, &r->n_stale, &r->cap_stale);

                if (stale != NULL)
                    *stale = r->claims[i];
            }
        } else if (reply->type == REDIS_REPLY_STRING) {
            claim_apply(ev, playback_claim_outcome(0, reply->str, ev->event_id));
        } else {
            rc = VS_INTERNAL;
            snprintf(err, errlen, "redis: unexpected reply to SET NX (type %d)", reply->type);
            break;
        }
    }
out:
    redis_cmds_free(&cmds);
    if (rc != VS_OK)
        play_store_rollback(lane);
    return rc;
}

/* The claims its failed known-rows attempt set that the rerun does not make again (its event
 * turned out to be a replay, or its pair's row was not as known) are deleted, each only while it
 * still holds that event's id, so they block no later view. A Redis failure here leaves them to
 * expire, as a failed round's claims do. */
void lane_release_stale(commit_lane *lane)
{
    static const char script[] =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0";
    lane_round *r = &lane->round;
    redis_cmds cmds;
    char err[256];

    if (!redis_cmds_init(&cmds, r->n_stale, 5)) {
        log_warn("play commit lane %d: %zu stale view claims left to expire: out of memory",
                 lane->index, r->n_stale);
        goto out;
    }
    for (size_t i = 0; i < r->n_stale; i++) {
        const play_claim *s = &r->stale[i];
        const char *a[] = {"EVAL", script, "1", s->key, s->ev->event_id};
        int again = 0;

        for (size_t k = 0; k < r->n_claims && !again; k++)
            again = r->claims[k].ev == s->ev && strcmp(r->claims[k].key, s->key) == 0;
        if (!again)
            redis_cmds_add(&cmds, 5, a);
    }
    if (redis_cmds_run(lane->redis, &cmds, err, sizeof err) != VS_OK)
        log_warn("play commit lane %d: %d stale view claims left to expire: %s", lane->index,
                 cmds.n, err);
out:
    redis_cmds_free(&cmds);
    r->n_stale = 0;
}
