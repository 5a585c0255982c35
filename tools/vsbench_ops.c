/* vsbench_ops.c — what one request of each vsbench scenario is: a request builder, and a done
 * function for its asynchronous call that frees the reply and reports the outcome.
 *
 *   read    a mix over the generated data, by default 40 % GetVideoStats (uniformly random
 *           video, period, day), 30 % GetTopVideos (random period, day and metric; scope ALL, or
 *           MINE with --mine), 30 % GetSettlement of a random video (a quarter of them with the
 *           band breakdown); --mix changes the weights
 *   play    Play then Pause(--pause-at) of a random video, the Pause started from the Play's done
 *           function; caller k only uses videos whose offset is k modulo the caller count, so a
 *           caller's pairs never interleave with another's on the same (viewer, video); every
 *           Play answered OK is counted in op->plays_acked (its Pause may still fail)
 *   mixed   a play operation (--play-share percent of them) or a read operation
 *   login   Login with the given credentials (argon2id on the server: slow by design)
 *   health  a shallow Health: the transport's own cost */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/client.h>

#include "vsbench_ops.h"
#include "window.h"

static const ProtobufCServiceDescriptor *const ops_streaming =
    &vs__v1__streaming_service__descriptor;

uint64_t vsbench_rand(vsbench_op *op, uint64_t n)
{
    /* xorshift64*: per caller, no locking */
    op->rng ^= op->rng >> 12;
    op->rng ^= op->rng << 25;
    op->rng ^= op->rng >> 27;
    return n ? (op->rng * UINT64_C(2685821657736338717)) % n : 0;
}

int vsbench_scenario_check(const char *name)
{
    static const char *const known[] = {"read", "play", "mixed", "login", "health"};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0)
            return 0;
    fprintf(stderr, "vsbench: unknown scenario \"%s\" (read, play, mixed, login, health)\n", name);
    return -1;
}

static uint64_t op_video(vsbench_op *op)
{
    return op->opts->video_first + vsbench_rand(op, op->opts->video_count);
}

static void op_date(vsbench_op *op, char out[11])
{
    window_format(op->opts->first_day + (int32_t)vsbench_rand(op, (uint64_t)op->opts->days), out);
}

/* day 50 %, week 30 %, month 20 % */
static Vs__V1__Period op_period(vsbench_op *op)
{
    uint64_t r = vsbench_rand(op, 10);

    return r < 5 ? VS__V1__PERIOD__DAY : r < 8 ? VS__V1__PERIOD__WEEK : VS__V1__PERIOD__MONTH;
}

/* The done function of a one-call operation (and of a Pause): the reply is not looked at. */
static void op_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    (void)st;
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    vsbench_op *op = arg;

    op->done(op, code);
}

static int op_read(vsbench_op *op)
{
    const int *mix = op->opts->mix;
    uint64_t pick = vsbench_rand(op, (uint64_t)(mix[0] + mix[1] + mix[2]));
    char date[11];

    op_date(op, date);
    if (pick < (uint64_t)mix[0]) {
        Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;

        req.video_id = op_video(op);
        req.period = op_period(op);
        req.date = date;
        return vs_client_call_named_async(op->client, ops_streaming, "GetVideoStats", &req.base,
                                          op_done, op);
    }
    if (pick < (uint64_t)(mix[0] + mix[1])) {
        Vs__V1__GetTopVideosRequest req = VS__V1__GET_TOP_VIDEOS_REQUEST__INIT;

        req.period = op_period(op);
        req.date = date;
        req.metric = vsbench_rand(op, 2) ? VS__V1__METRIC__VIEWS : VS__V1__METRIC__WATCH_TIME;
        req.scope = op->opts->mine ? VS__V1__SCOPE__MINE : VS__V1__SCOPE__ALL;
        req.limit = 10;
        return vs_client_call_named_async(op->client, ops_streaming, "GetTopVideos", &req.base,
                                          op_done, op);
    }
    Vs__V1__GetSettlementRequest req = VS__V1__GET_SETTLEMENT_REQUEST__INIT;

    req.period = op_period(op);
    req.date = date;
    req.video_id = op_video(op);
    req.breakdown = vsbench_rand(op, 4) == 0;
    return vs_client_call_named_async(op->client, ops_streaming, "GetSettlement", &req.base,
                                      op_done, op);
}

/* The Play of a play operation answered: on success its Pause goes out from here. */
static void op_play_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    vsbench_op *op = arg;
    Vs__V1__PauseRequest req = VS__V1__PAUSE_REQUEST__INIT;
    char event_id[33];
    int rc;

    (void)st;
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    if (code != VS_OK) {
        op->done(op, code);
        return;
    }
    op->plays_acked++;
    vs_event_id(event_id);
    req.video_id = op->video;
    req.position_s = op->opts->pause_at_s;
    req.event_id = event_id;
    rc = vs_client_call_named_async(op->client, ops_streaming, "Pause", &req.base, op_done, op);
    if (rc != VS_OK)
        op->done(op, rc);
}

static int op_play(vsbench_op *op)
{
    uint64_t n = op->opts->video_count, callers = (uint64_t)op->opts->concurrency, slots;
    Vs__V1__PlayRequest req = VS__V1__PLAY_REQUEST__INIT;
    char event_id[33];

    slots = n / callers + (n % callers > (uint64_t)op->index);
    if (slots == 0)
        return VS_FAILED_PRECONDITION; /* more callers than videos: nothing this one may use */
    op->video = op->opts->video_first + (uint64_t)op->index + callers * vsbench_rand(op, slots);
    vs_event_id(event_id);
    req.video_id = op->video;
    req.event_id = event_id;
    return vs_client_call_named_async(op->client, ops_streaming, "Play", &req.base, op_play_done,
                                      op);
}

/* A Login answered: the token is wiped, not used (the calls keep the token set at start). */
static void op_login_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    Vs__V1__LoginResponse *login = (Vs__V1__LoginResponse *)reply;

    if (login != NULL && login->access_token != NULL)
        sodium_memzero(login->access_token, strlen(login->access_token));
    op_done(arg, code, reply, st);
}

static int op_login(vsbench_op *op)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;

    req.email = (char *)op->opts->email;
    req.password = (char *)op->opts->password;
    return vs_client_call_named_async(op->client, &vs__v1__user_service__descriptor, "Login",
                                      &req.base, op_login_done, op);
}

static int op_health(vsbench_op *op)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;

    req.shallow = 1;
    return vs_client_call_named_async(op->client, ops_streaming, "Health", &req.base, op_done, op);
}

int vsbench_op_start(vsbench_op *op)
{
    switch (op->opts->scenario[0]) {
    case 'r':
        return op_read(op);
    case 'p':
        return op_play(op);
    case 'm':
        return vsbench_rand(op, 100) < (uint64_t)op->opts->play_pct ? op_play(op) : op_read(op);
    case 'l':
        return op_login(op);
    default:
        return op_health(op);
    }
}
