/* vsbench_ops.c — what one request of each vsbench scenario is: a request builder, and a done
 * function for its asynchronous call that frees the reply and reports the outcome.
 *
 *   read    a mix over the generated data, by default 40 % GetVideoStats (uniformly random
 *           video, period, day), 30 % GetTopVideos (random period, day and metric; scope ALL, or
 *           MINE with --mine), 30 % GetSettlement of a random video (a quarter of them with the
 *           band breakdown); --mix changes the weights
 *   play    Play then Pause(--pause-at) of a random video, the Pause started from the Play's done
 *           function; caller k only uses videos whose offset is k modulo the caller count, so a
 *           caller's pairs never interleave with another's on the same (viewer, video)
 *   login   Login with the given credentials (argon2id on the server: slow by design)
 *   health  a shallow Health: the transport's own cost */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/client.h>

#include "vsbench.h"
#include "window.h"

static const ProtobufCServiceDescriptor *const ops_streaming =
    &vs__v1__streaming_service__descriptor;

uint64_t vsbench_rand(vsbench_caller *c, uint64_t n)
{
    /* xorshift64*: per caller, no locking */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return n ? (c->rng * UINT64_C(2685821657736338717)) % n : 0;
}

int vsbench_scenario_check(const char *name)
{
    static const char *const known[] = {"read", "play", "login", "health"};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0)
            return 0;
    fprintf(stderr, "vsbench: unknown scenario \"%s\" (read, play, login, health)\n", name);
    return -1;
}

static uint64_t op_video(vsbench_caller *c)
{
    return c->opts->video_first + vsbench_rand(c, c->opts->video_count);
}

static void op_date(vsbench_caller *c, char out[11])
{
    window_format(c->opts->first_day + (int32_t)vsbench_rand(c, (uint64_t)c->opts->days), out);
}

/* day 50 %, week 30 %, month 20 % */
static Vs__V1__Period op_period(vsbench_caller *c)
{
    uint64_t r = vsbench_rand(c, 10);

    return r < 5 ? VS__V1__PERIOD__DAY : r < 8 ? VS__V1__PERIOD__WEEK : VS__V1__PERIOD__MONTH;
}

/* The done function of a one-call operation (and of a Pause): the reply is not looked at. */
static void op_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    (void)st;
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    vsbench_op_done(arg, code);
}

static int op_read(vsbench_caller *c)
{
    const int *mix = c->opts->mix;
    uint64_t pick = vsbench_rand(c, (uint64_t)(mix[0] + mix[1] + mix[2]));
    char date[11];

    op_date(c, date);
    if (pick < (uint64_t)mix[0]) {
        Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;

        req.video_id = op_video(c);
        req.period = op_period(c);
        req.date = date;
        return vs_client_call_named_async(c->client, ops_streaming, "GetVideoStats", &req.base,
                                          op_done, c);
    }
    if (pick < (uint64_t)(mix[0] + mix[1])) {
        Vs__V1__GetTopVideosRequest req = VS__V1__GET_TOP_VIDEOS_REQUEST__INIT;

        req.period = op_period(c);
        req.date = date;
        req.metric = vsbench_rand(c, 2) ? VS__V1__METRIC__VIEWS : VS__V1__METRIC__WATCH_TIME;
        req.scope = c->opts->mine ? VS__V1__SCOPE__MINE : VS__V1__SCOPE__ALL;
        req.limit = 10;
        return vs_client_call_named_async(c->client, ops_streaming, "GetTopVideos", &req.base,
                                          op_done, c);
    }
    Vs__V1__GetSettlementRequest req = VS__V1__GET_SETTLEMENT_REQUEST__INIT;

    req.period = op_period(c);
    req.date = date;
    req.video_id = op_video(c);
    req.breakdown = vsbench_rand(c, 4) == 0;
    return vs_client_call_named_async(c->client, ops_streaming, "GetSettlement", &req.base, op_done,
                                      c);
}

/* The Play of a play operation answered: on success its Pause goes out from here. */
static void op_play_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    vsbench_caller *c = arg;
    Vs__V1__PauseRequest req = VS__V1__PAUSE_REQUEST__INIT;
    char event_id[33];
    int rc;

    (void)st;
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    if (code != VS_OK) {
        vsbench_op_done(c, code);
        return;
    }
    vs_event_id(event_id);
    req.video_id = c->video;
    req.position_s = c->opts->pause_at_s;
    req.event_id = event_id;
    rc = vs_client_call_named_async(c->client, ops_streaming, "Pause", &req.base, op_done, c);
    if (rc != VS_OK)
        vsbench_op_done(c, rc);
}

static int op_play(vsbench_caller *c)
{
    uint64_t n = c->opts->video_count, callers = (uint64_t)c->opts->concurrency, slots;
    Vs__V1__PlayRequest req = VS__V1__PLAY_REQUEST__INIT;
    char event_id[33];

    slots = n / callers + (n % callers > (uint64_t)c->index);
    if (slots == 0)
        return VS_FAILED_PRECONDITION; /* more callers than videos: nothing this one may use */
    c->video = c->opts->video_first + (uint64_t)c->index + callers * vsbench_rand(c, slots);
    vs_event_id(event_id);
    req.video_id = c->video;
    req.event_id = event_id;
    return vs_client_call_named_async(c->client, ops_streaming, "Play", &req.base, op_play_done, c);
}

/* A Login answered: the token is wiped, not used (the calls keep the token set at start). */
static void op_login_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    Vs__V1__LoginResponse *login = (Vs__V1__LoginResponse *)reply;

    if (login != NULL && login->access_token != NULL)
        sodium_memzero(login->access_token, strlen(login->access_token));
    op_done(arg, code, reply, st);
}

static int op_login(vsbench_caller *c)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;

    req.email = (char *)c->opts->email;
    req.password = (char *)c->opts->password;
    return vs_client_call_named_async(c->client, &vs__v1__user_service__descriptor, "Login",
                                      &req.base, op_login_done, c);
}

static int op_health(vsbench_caller *c)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;

    req.shallow = 1;
    return vs_client_call_named_async(c->client, ops_streaming, "Health", &req.base, op_done, c);
}

int vsbench_op_start(vsbench_caller *c)
{
    switch (c->opts->scenario[0]) {
    case 'r':
        return op_read(c);
    case 'p':
        return op_play(c);
    case 'l':
        return op_login(c);
    default:
        return op_health(c);
    }
}
