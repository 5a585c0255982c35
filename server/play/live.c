/* live.c — today's live counters (views and ad views per video per business day) in Redis, and
 * GetLiveStats. The committer adds to them after each commit (play_commit.c); they are a fast
 * view of the day for creators, not the settlement basis (the batch over play_log is). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users/auth.h"
#include "clock.h"
#include "log.h"
#include "streaming.h"

#define LIVE_TTL_S (2 * 86400) /* today's counters, and yesterday's for late readers */

#define LIVE_ROLE_ADMIN 3

void live_key(business_date day, uint64_t video_id, char *out, size_t outlen)
{
    char text[11];

    window_format(day, text);
    snprintf(out, outlen, "live:%s:%" PRIu64, text, video_id);
}

static int64_t live_field(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

/* Adds the counted views and ad views of committed events to today's live counters, in one
 * pipeline (HINCRBY + EXPIRE per counting event). They are a fast view, not the settlement basis,
 * so a Redis failure here is logged and the calls still succeed. */
void live_record(redis_conn *redis, play_event *const *events, const unsigned char *stored,
                 size_t n)
{
    redis_cmds cmds;
    char(*text)[2][48] = malloc(n * sizeof *text + 1); /* key, amount */
    char ttl[16], err[256];

    if (!redis_cmds_init(&cmds, 2 * n, 4) || text == NULL) {
        log_warn("live counters not updated: out of memory");
        goto out;
    }
    snprintf(ttl, sizeof ttl, "%d", LIVE_TTL_S);
    for (size_t i = 0; i < n; i++) {
        play_event *ev = events[i];
        int value = ev->kind == PLAY_KIND_PLAY ? ev->view_counted : ev->ad_views;
        const char *incr[] = {"HINCRBY", text[i][0],
                              ev->kind == PLAY_KIND_PLAY ? "views" : "ad_views", text[i][1]};
        const char *expire[] = {"EXPIRE", text[i][0], ttl};

        if (!stored[i] || value == 0)
            continue;
        live_key(ev->day, ev->video_id, text[i][0], sizeof text[i][0]);
        snprintf(text[i][1], sizeof text[i][1], "%d", value);
        redis_cmds_add(&cmds, 4, incr);
        redis_cmds_add(&cmds, 3, expire);
    }
    if (redis_cmds_run(redis, &cmds, err, sizeof err) != VS_OK)
        log_warn("live counters not updated for %d events: %s", cmds.n / 2, err);
out:
    redis_cmds_free(&cmds);
    free(text);
}

/* The counters of today (business time zone) for a video, for its creator or an admin. */
void streaming_get_live_stats(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetLiveStatsRequest *input,
                              Vs__V1__LiveStats_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__LiveStats resp = VS__V1__LIVE_STATS__INIT;
    business_date today = window_day_of(clock_now_ms());
    auth_principal who;
    video_info video;
    redisReply *reply = NULL;
    char key[64], day[11], err[256];
    vs_status rc;

    if ((rc = auth_require(call, &who)) != VS_OK)
        goto out;
    if ((rc = videos_lookup(call->worker, input->video_id, &video, err, sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto out;
    }
    if (video.creator_id != who.user_id && who.role != LIVE_ROLE_ADMIN) {
        rc = VS_PERMISSION_DENIED;
        rpc_fail(call, rc,
                 "video_id: live counters of video %" PRIu64 " are for its creator or an admin",
                 input->video_id);
        goto out;
    }
    live_key(today, input->video_id, key, sizeof key);
    rc = redis_command(vsd_redis(call->worker), &reply, err, sizeof err, "HMGET %s views ad_views",
                       key);
    if (rc == VS_OK && (rc = redis_reply_status(reply, err, sizeof err)) == VS_OK &&
        (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)) {
        rc = VS_INTERNAL;
        snprintf(err, sizeof err, "redis: unexpected reply to HMGET");
    }
    if (rc != VS_OK) {
        rpc_fail(call, rc, "live counters: %s", err);
        goto out;
    }
    window_format(today, day);
    resp.video_id = input->video_id;
    resp.business_day = day;
    resp.views = live_field(reply->element[0]);
    resp.ad_views = live_field(reply->element[1]);
out:
    closure(rc == VS_OK ? &resp : NULL, call);
    if (reply != NULL)
        freeReplyObject(reply);
}
