/* live.c — today's live counters (views and ad views per video per business day) in Redis, and
 * GetLiveStats. The committer adds to them after each commit (play_commit.c); they are a fast
 * view of the day for creators, not the settlement basis (the batch over play_log is). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "log.h"
#include "streaming.h"

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
    size_t m = 0;
    int *argc = malloc(2 * n * sizeof *argc);
    const char ***argv = malloc(2 * n * sizeof *argv);
    const size_t **argvlen = malloc(2 * n * sizeof *argvlen);
    const char **args = malloc(8 * n * sizeof *args);
    size_t *lens = malloc(8 * n * sizeof *lens);
    char(*text)[2][48] = malloc(n * sizeof *text); /* key, amount */
    redisReply **replies = calloc(2 * n, sizeof *replies);
    char ttl[16], err[256];

    if (!argc || !argv || !argvlen || !args || !lens || !text || !replies) {
        log_warn("live counters not updated: out of memory");
        goto out;
    }
    snprintf(ttl, sizeof ttl, "%d", streaming_cfg.live_ttl_s);
    for (size_t i = 0; i < n; i++) {
        play_event *ev = events[i];
        int value = ev->kind == PLAY_KIND_PLAY ? ev->view_counted : ev->ad_views;
        const char **a = &args[4 * m];

        if (!stored[i] || value == 0)
            continue;
        live_key(ev->day, ev->video_id, text[i][0], sizeof text[i][0]);
        snprintf(text[i][1], sizeof text[i][1], "%d", value);
        a[0] = "HINCRBY";
        a[1] = text[i][0];
        a[2] = ev->kind == PLAY_KIND_PLAY ? "views" : "ad_views";
        a[3] = text[i][1];
        a[4] = "EXPIRE";
        a[5] = text[i][0];
        a[6] = ttl;
        for (int k = 0; k < 7; k++)
            lens[4 * m + (size_t)k] = strlen(a[k]);
        argc[m] = 4;
        argv[m] = a;
        argvlen[m] = &lens[4 * m];
        argc[m + 1] = 3;
        argv[m + 1] = a + 4;
        argvlen[m + 1] = &lens[4 * m + 4];
        m += 2;
    }
    if (m > 0 &&
        redis_pipeline(redis, (int)m, argc, argv, argvlen, replies, err, sizeof err) != VS_OK)
        log_warn("live counters not updated for %zu events: %s", m / 2, err);
out:
    for (size_t k = 0; replies != NULL && k < m; k++)
        if (replies[k] != NULL)
            freeReplyObject(replies[k]);
    free(argc);
    free(argv);
    free(argvlen);
    free(args);
    free(lens);
    free(text);
    free(replies);
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
    if (rc == VS_OK && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)) {
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
