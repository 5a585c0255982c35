/* vsbench_ops.c — what one request of each vsbench scenario is.
 *
 *   read    a mix over the generated data, by default 40 % GetVideoStats (uniformly random
 *           video, period, day), 30 % GetTopVideos (random period, day and metric; scope ALL, or
 *           MINE with --mine), 30 % GetSettlement of a random video (a quarter of them with the
 *           band breakdown); --mix changes the weights
 *   play    Play then Pause(--pause-at) of a random video; thread k only uses videos whose
 *           offset is k modulo the thread count, so a thread's pairs never interleave with
 *           another's on the same (viewer, video)
 *   login   Login with the given credentials (argon2id on the server: slow by design)
 *   health  a shallow Health: the transport's own cost */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/stats.h>
#include <vs/streaming.h>
#include <vs/user.h>

#include "vsbench.h"
#include "window.h"

uint64_t vsbench_rand(vsbench_thread *t, uint64_t n)
{
    /* xorshift64*: per thread, no locking */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return n ? (t->rng * UINT64_C(2685821657736338717)) % n : 0;
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

static uint64_t op_video(vsbench_thread *t)
{
    return t->opts->video_first + vsbench_rand(t, t->opts->video_count);
}

static void op_date(vsbench_thread *t, char out[11])
{
    window_format(t->opts->first_day + (int32_t)vsbench_rand(t, (uint64_t)t->opts->days), out);
}

/* day 50 %, week 30 %, month 20 % */
static int op_period(vsbench_thread *t)
{
    uint64_t r = vsbench_rand(t, 10);

    return r < 5 ? VS__V1__PERIOD__DAY : r < 8 ? VS__V1__PERIOD__WEEK : VS__V1__PERIOD__MONTH;
}

static int op_read(vsbench_thread *t)
{
    const int *mix = t->opts->mix;
    uint64_t pick = vsbench_rand(t, (uint64_t)(mix[0] + mix[1] + mix[2]));
    char date[11];
    int rc;

    op_date(t, date);
    if (pick < (uint64_t)mix[0]) {
        Vs__V1__VideoStats *s = NULL;

        rc = vs_video_stats(t->client, op_video(t), op_period(t), date, &s, NULL);
        if (s != NULL)
            protobuf_c_message_free_unpacked(&s->base, NULL);
    } else if (pick < (uint64_t)(mix[0] + mix[1])) {
        Vs__V1__TopVideos *top = NULL;
        int metric = vsbench_rand(t, 2) ? VS__V1__METRIC__VIEWS : VS__V1__METRIC__WATCH_TIME;

        rc =
            vs_top_videos(t->client, op_period(t), date, metric,
                          t->opts->mine ? VS__V1__SCOPE__MINE : VS__V1__SCOPE__ALL, 10, &top, NULL);
        if (top != NULL)
            protobuf_c_message_free_unpacked(&top->base, NULL);
    } else {
        vs_settlement_query q = {0};
        Vs__V1__Settlement *s = NULL;

        q.period = op_period(t);
        q.date = date;
        q.video_id = op_video(t);
        q.breakdown = vsbench_rand(t, 4) == 0;
        rc = vs_settlement(t->client, &q, &s, NULL);
        if (s != NULL)
            protobuf_c_message_free_unpacked(&s->base, NULL);
    }
    return rc;
}

static int op_play(vsbench_thread *t)
{
    uint64_t n = t->opts->video_count, threads = (uint64_t)t->opts->concurrency, video, slots;
    Vs__V1__PlayResponse *play = NULL;
    Vs__V1__PauseResponse *pause = NULL;
    int rc;

    slots = n / threads + (n % threads > (uint64_t)t->index);
    if (slots == 0)
        return VS_FAILED_PRECONDITION; /* more threads than videos: nothing this thread may use */
    video = t->opts->video_first + (uint64_t)t->index + threads * vsbench_rand(t, slots);
    rc = vs_play(t->client, video, NULL, &play, NULL);
    if (play != NULL)
        protobuf_c_message_free_unpacked(&play->base, NULL);
    if (rc != VS_OK)
        return rc;
    rc = vs_pause(t->client, video, t->opts->pause_at_s, NULL, &pause, NULL);
    if (pause != NULL)
        protobuf_c_message_free_unpacked(&pause->base, NULL);
    return rc;
}

static int op_login(vsbench_thread *t)
{
    vs_call_status st;
    char *token = NULL;
    int64_t exp = 0;
    int rc = vs_user_login(t->client, t->opts->email, t->opts->password, &token, &exp, NULL, &st);

    if (token != NULL)
        sodium_memzero(token, strlen(token));
    free(token);
    return rc;
}

static int op_health(vsbench_thread *t)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    int rc;

    req.shallow = 1;
    rc = vs_client_call_named(t->client, &vs__v1__streaming_service__descriptor, "Health",
                              &req.base, &resp, NULL);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

int vsbench_op(vsbench_thread *t)
{
    switch (t->opts->scenario[0]) {
    case 'r':
        return op_read(t);
    case 'p':
        return op_play(t);
    case 'l':
        return op_login(t);
    default:
        return op_health(t);
    }
}
