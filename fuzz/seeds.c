/* seeds.c — writes the seed corpus of every fuzz target: `vs-fuzz-seeds DIR` makes
 * DIR/TARGET/NAME for each seed (tools/fuzz --seeds writes fuzz/corpus). Deterministic: the same
 * bytes every run (tokens are signed with FUZZ_TOKEN_KEY at fixed times), so the corpus in the
 * repository can be checked against it. Each target's input format is described at the top of its
 * fuzz_TARGET.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vs/v1/batch.pb-c.h>
#include <vs/v1/streaming.pb-c.h>
#include <vs/v1/user.pb-c.h>

#include "fuzz.h"
#include "partial.h"
#include "token.h"

static const char *seeds_dir;

static void seed_write(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", seeds_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", seeds_dir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* A seed of the form prefix bytes followed by a packed message. */
static void seed_message(const char *target, const char *name, const uint8_t *prefix, size_t plen,
                         const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *body = fuzz_pack(m, &len), *all = malloc(plen + len + 1);

    if (all == NULL)
        exit(1);
    if (plen > 0)
        memcpy(all, prefix, plen);
    memcpy(all + plen, body, len);
    seed_write(target, name, all, plen + len);
    free(all);
    free(body);
}

static char *seed_token(uint64_t user_id, int role, int64_t iat, int64_t exp)
{
    token_claims c = {.user_id = user_id, .role = role, .iat = iat, .exp = exp};
    char *tok;

    memcpy(c.jti, "0123456789abcdef0123456789abcdef", TOKEN_JTI_LEN + 1);
    if (token_sign((const uint8_t *)FUZZ_TOKEN_KEY, sizeof FUZZ_TOKEN_KEY - 1, &c, &tok) != VS_OK)
        exit(1);
    return tok;
}

/* A valid request of the method's input type (the field values a client would send). The
 * message is built in *store, whose strings are static. */
typedef union seed_request {
    Vs__V1__SignUpRequest sign_up;
    Vs__V1__LoginRequest login;
    Vs__V1__HealthRequest health;
    Vs__V1__CreateVideoRequest create_video;
    Vs__V1__GetVideoRequest get_video;
    Vs__V1__ListVideosRequest list_videos;
    Vs__V1__PlayRequest play;
    Vs__V1__PauseRequest pause;
    Vs__V1__GetLiveStatsRequest live;
    Vs__V1__GetVideoStatsRequest stats;
    Vs__V1__GetTopVideosRequest top;
    Vs__V1__GetSettlementRequest settlement;
    Vs__V1__StartJobRequest start_job;
    Vs__V1__GetJobRequest get_job;
    Vs__V1__ListJobsRequest list_jobs;
    Vs__V1__CloseMonthRequest close_month;
    Vs__V1__InvalidateTrafficRequest invalidate;
    Vs__V1__ListInvalidationsRequest list_invalidations;
    Vs__V1__GetRateCardRequest get_rate_card;
    Vs__V1__AddRateCardRequest add_rate_card;
    Vs__V1__GetStatementRequest statement;
    Vs__V1__GetLedgerRequest ledger;
    ProtobufCMessage base;
    uint8_t room[256];
} seed_request;

static const ProtobufCMessage *seed_sample(const ProtobufCMessageDescriptor *d, seed_request *s)
{
    memset(s, 0, sizeof *s);
    protobuf_c_message_init(d, s);
    if (d == &vs__v1__sign_up_request__descriptor) {
        s->sign_up.email = "Viewer.One@Example.com";
        s->sign_up.password = "correct horse battery";
        s->sign_up.display_name = "시청자 One";
    } else if (d == &vs__v1__login_request__descriptor) {
        s->login.email = "viewer.one@example.com";
        s->login.password = "correct horse battery";
    } else if (d == &vs__v1__health_request__descriptor) {
        s->health.echo = "ping";
        s->health.shallow = 1;
    } else if (d == &vs__v1__create_video_request__descriptor) {
        s->create_video.title = "첫 영상: a title";
        s->create_video.duration_s = 1800;
        s->create_video.event_id = "ev-create-1";
    } else if (d == &vs__v1__get_video_request__descriptor) {
        s->get_video.video_id = 17;
    } else if (d == &vs__v1__list_videos_request__descriptor) {
        s->list_videos.creator_id = 3;
        s->list_videos.page = 1;
        s->list_videos.page_size = 50;
    } else if (d == &vs__v1__play_request__descriptor) {
        s->play.video_id = 17;
        s->play.event_id = "ev-play-1";
    } else if (d == &vs__v1__pause_request__descriptor) {
        s->pause.video_id = 17;
        s->pause.event_id = "ev-pause-1";
        s->pause.position_s = 600;
    } else if (d == &vs__v1__get_live_stats_request__descriptor) {
        s->live.video_id = 17;
    } else if (d == &vs__v1__get_video_stats_request__descriptor) {
        s->stats.video_id = 17;
        s->stats.period = VS__V1__PERIOD__WEEK;
        s->stats.date = "2026-03-15";
    } else if (d == &vs__v1__get_top_videos_request__descriptor) {
        s->top.period = VS__V1__PERIOD__MONTH;
        s->top.date = "2024-02-29";
        s->top.metric = VS__V1__METRIC__VIEWS;
        s->top.scope = VS__V1__SCOPE__MINE;
        s->top.limit = 10;
    } else if (d == &vs__v1__get_settlement_request__descriptor) {
        s->settlement.period = VS__V1__PERIOD__DAY;
        s->settlement.date = "2026-12-31";
        s->settlement.breakdown = 1;
        s->settlement.limit = 100;
    } else if (d == &vs__v1__start_job_request__descriptor) {
        s->start_job.job = "daily-settlement";
        s->start_job.date = "2026-03-15";
        s->start_job.force = 1;
    } else if (d == &vs__v1__get_job_request__descriptor) {
        s->get_job.id = 5;
    } else if (d == &vs__v1__list_jobs_request__descriptor) {
        s->list_jobs.limit = 20;
    } else if (d == &vs__v1__close_month_request__descriptor) {
        s->close_month.month = "2026-10";
    } else if (d == &vs__v1__invalidate_traffic_request__descriptor) {
        s->invalidate.viewer_id = 9;
        s->invalidate.video_id = 17;
        s->invalidate.from_date = "2026-10-30";
        s->invalidate.to_date = "2026-11-02";
        s->invalidate.reason = "automated plays";
    } else if (d == &vs__v1__list_invalidations_request__descriptor) {
        s->list_invalidations.limit = 20;
    } else if (d == &vs__v1__get_rate_card_request__descriptor) {
        s->get_rate_card.date = "2026-03-15";
    } else if (d == &vs__v1__add_rate_card_request__descriptor) {
        static Vs__V1__RateBand bands[2] = {VS__V1__RATE_BAND__INIT, VS__V1__RATE_BAND__INIT};
        static Vs__V1__RateBand *list[2] = {&bands[0], &bands[1]};

        bands[0].first_ordinal = 1;
        bands[0].price_milli = 1000;
        bands[1].first_ordinal = 100000;
        bands[1].price_milli = 1100;
        s->add_rate_card.effective_from = "2027-01-01";
        s->add_rate_card.description = "2027 prices";
        s->add_rate_card.n_video_bands = s->add_rate_card.n_ad_bands = 2;
        s->add_rate_card.video_bands = s->add_rate_card.ad_bands = list;
    } else if (d == &vs__v1__get_statement_request__descriptor) {
        s->statement.month = "2026-10";
        s->statement.creator_id = 3;
        s->statement.limit = 100;
    } else if (d == &vs__v1__get_ledger_request__descriptor) {
        s->ledger.video_id = 17;
        s->ledger.from_date = "2026-10-01";
        s->ledger.to_date = "2026-10-31";
        s->ledger.limit = 100;
    }
    return &s->base;
}

static void seeds_envelope(const fuzz_method *methods, size_t n, const char *bearer)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    seed_request s;
    char name[64];

    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *payload = fuzz_pack(seed_sample(methods[i].desc->input, &s), &len);

        env.method = (char *)methods[i].path;
        env.request_id = i + 1;
        env.deadline_unix_ms = i % 2 ? FUZZ_NOW_MS + 5000 : 0;
        env.authorization = (char *)(i % 3 ? bearer : "");
        env.payload.data = payload;
        env.payload.len = len;
        snprintf(name, sizeof name, "%02zu-%s-%s", i, methods[i].desc->name,
                 fuzz_services()[methods[i].service]->descriptor->short_name);
        seed_message("envelope", name, NULL, 0, &env.base);
        free(payload);
    }
    env.payload.data = NULL;
    env.payload.len = 0;
    env.authorization = "";
    env.deadline_unix_ms = 0;
    env.method = "/vs.v1.StreamingService/NoSuchMethod";
    seed_message("envelope", "bad-unknown-method", NULL, 0, &env.base);
    env.method = "/vs.v1.StreamingService/Health\xff";
    seed_message("envelope", "bad-method-not-utf8", NULL, 0, &env.base);
    env.method = "/vs.v1.StreamingService/Health";
    env.deadline_unix_ms = -1;
    seed_message("envelope", "bad-deadline-negative", NULL, 0, &env.base);
    env.deadline_unix_ms = FUZZ_NOW_MS - 1;
    seed_message("envelope", "bad-deadline-passed", NULL, 0, &env.base);
    env.deadline_unix_ms = INT64_MAX;
    seed_message("envelope", "deadline-far", NULL, 0, &env.base);
    seed_write("envelope", "bad-garbage", garbage, sizeof garbage);
}

static void seeds_payload(const fuzz_method *methods, size_t n)
{
    Vs__V1__SignUpRequest sign_up = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__CreateVideoRequest video = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    Vs__V1__GetTopVideosRequest top = VS__V1__GET_TOP_VIDEOS_REQUEST__INIT;
    seed_request s;
    char name[64];
    uint8_t pick;

    for (size_t i = 0; i < n; i++) {
        pick = (uint8_t)i;
        snprintf(name, sizeof name, "%02zu-%s", i, methods[i].desc->name);
        seed_message("payload", name, &pick, 1, seed_sample(methods[i].desc->input, &s));
    }
    /* refusals of the field rules; the method bytes are the methods' places in proto order */
    sign_up.email = "two@@example.com";
    sign_up.password = "short";
    sign_up.display_name = "\x01";
    pick = 0;
    seed_message("payload", "bad-sign-up", &pick, 1, &sign_up.base);
    video.title = "";
    video.duration_s = 86401;
    video.event_id = "";
    pick = 5;
    seed_message("payload", "bad-create-video", &pick, 1, &video.base);
    top.period = 4;
    top.date = "2026-02-30";
    top.limit = 101;
    pick = 12;
    seed_message("payload", "bad-top-videos", &pick, 1, &top.base);
    /* a string field holding a NUL: CreateVideo's title "a\0b" */
    seed_write("payload", "bad-title-nul",
               "\x05\x0a\x03"
               "a\0b",
               6);
}

static void seeds_token(void)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const struct {
        const char *name, *header, *claims;
    } signed_seeds[] = {
        {"signed-ok", header,
         "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"0123456789abcdef0123456789abcdef\","
         "\"iat\":1798761000,\"exp\":1798764600,\"role\":2}"},
        {"signed-nbf", header,
         "{\"iss\":\"vs\",\"sub\":\"7\",\"jti\":\"fedcba9876543210fedcba9876543210\","
         "\"iat\":1798761000,\"exp\":1798764600,\"nbf\":1798761000,\"role\":1}"},
        {"signed-role-0", header,
         "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"0123456789abcdef0123456789abcdef\","
         "\"iat\":1798761000,\"exp\":1798764600,\"role\":0}"},
        {"signed-alg-lower", "{\"alg\":\"hs256\"}",
         "{\"iss\":\"vs\",\"sub\":\"42\",\"jti\":\"0123456789abcdef0123456789abcdef\","
         "\"iat\":1,\"exp\":1798764600,\"role\":3}"},
        {"signed-alg-none", "{\"alg\":\"none\"}", "{\"iss\":\"vs\",\"sub\":\"1\"}"},
        {"signed-sub-big", header,
         "{\"iss\":\"vs\",\"sub\":\"18446744073709551616\","
         "\"jti\":\"0123456789abcdef0123456789abcdef\",\"iat\":1,\"exp\":1798764600,\"role\":1}"},
        {"signed-dup-claim", header,
         "{\"iss\":\"vs\",\"iss\":\"other\",\"sub\":\"5\","
         "\"jti\":\"0123456789abcdef0123456789abcdef\",\"iat\":1,\"exp\":1798764600,\"role\":1}"},
    };
    char buf[512], *tok;
    size_t hlen, clen;

    for (size_t i = 0; i < sizeof signed_seeds / sizeof *signed_seeds; i++) {
        hlen = strlen(signed_seeds[i].header);
        clen = strlen(signed_seeds[i].claims);
        buf[0] = 1;
        memcpy(buf + 1, signed_seeds[i].header, hlen);
        buf[1 + hlen] = '\0';
        memcpy(buf + 2 + hlen, signed_seeds[i].claims, clen);
        seed_write("token", signed_seeds[i].name, buf, 2 + hlen + clen);
    }
    tok = seed_token(42, 2, FUZZ_NOW_S - 600, FUZZ_NOW_S + 3000);
    buf[0] = 0;
    snprintf(buf + 1, sizeof buf - 1, "%s", tok);
    seed_write("token", "text-ok", buf, 1 + strlen(tok));
    free(tok);
    tok = seed_token(9, 1, FUZZ_NOW_S - 7200, FUZZ_NOW_S - 3600);
    snprintf(buf + 1, sizeof buf - 1, "%s", tok);
    seed_write("token", "text-expired", buf, 1 + strlen(tok));
    free(tok);
    seed_write("token", "text-garbage", "\0a.b.c", 6);
}

static void seeds_dates(void)
{
    static const char *const texts[] = {
        "2026-03-15", "1973-01-01", "9999-10-31",  "9999-11-01", "1972-12-31",
        "2024-02-29", "2023-02-29", "1970-01-01",  "1969-12-31", "2026-13-01",
        "2026-1-01",  "20260315",   "2026-03-15x", "+026-03-15", "2026-03-\xff\xff",
    };
    uint8_t buf[32];
    char name[48];

    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t len = strlen(texts[i]);

        buf[0] = (uint8_t)(1 + (i % 5)); /* periods 0..4: DAY, WEEK, MONTH and two invalid */
        for (int k = 0; k < 8; k++)
            buf[1 + k] = (uint8_t)(i % 2 ? 0xff : 0x55 << (k % 2));
        memcpy(buf + 9, texts[i], len);
        snprintf(name, sizeof name, "text-%02zu", i);
        seed_write("dates", name, buf, 9 + len);
    }
    /* 4 bytes after the mask: also read as a day number */
    memset(buf, 0, 9);
    buf[0] = 3;
    memcpy(buf + 9, "\x00\x12\x7a\x00", 4);
    seed_write("dates", "day-number", buf, 13);
}

static void seeds_batch(void)
{
    Vs__V1__PartitionTask task = VS__V1__PARTITION_TASK__INIT;
    Vs__V1__PartitionResult res = VS__V1__PARTITION_RESULT__INIT;
    uint8_t prefix[2], records[1 + 2 * PARTIAL_RECORD_BYTES];
    const int64_t values[2][PARTIAL_VALUES] = {{120, 36000, 9, 130}, {-1, INT64_MAX, 0, 1}};

    task.job_id = 42;
    task.part = 3;
    task.first_id = 1000;
    task.last_id = 1999;
    task.lease_epoch = 7;
    task.lease_deadline_unix_ms = FUZZ_NOW_MS + 60000;
    task.primary_gtid = "0-1-12345";
    task.business_date = "2026-03-15";
    task.lease_ms = 30000;
    prefix[0] = 0;
    seed_message("batch", "task-ok", prefix, 1, &task.base);
    task.first_id = 2000;
    task.business_date = "2026-02-30";
    seed_message("batch", "task-bad", prefix, 1, &task.base);

    prefix[0] = 1;
    res.job_id = 42;
    res.lease_epoch = 7;
    res.worker = "host-a:123";
    res.accepted = 1;
    prefix[1] = 5;
    seed_message("batch", "result-ack", prefix, 2, &res.base);
    prefix[1] = 9; /* the closed connection */
    seed_message("batch", "result-ack-closed", prefix, 2, &res.base);
    res.accepted = 0;
    res.part = 1;
    res.error = "replica: Lost connection to server during query";
    prefix[1] = 3; /* the connection holding part 1 */
    seed_message("batch", "result-failed", prefix, 2, &res.base);
    res.committed = 1;
    res.rows = 1000;
    res.error = "";
    seed_message("batch", "result-committed", prefix, 2, &res.base);
    res.part = 9;
    seed_message("batch", "result-no-part", prefix, 2, &res.base);
    res.part = 0;
    res.job_id = 41;
    seed_message("batch", "result-other-job", prefix, 2, &res.base);

    records[0] = 2;
    partial_encode(17, values[0], records + 1);
    partial_encode(UINT64_MAX, values[1], records + 1 + PARTIAL_RECORD_BYTES);
    seed_write("batch", "partials", records, sizeof records);
}

int main(int argc, char **argv)
{
    const fuzz_method *methods;
    size_t n = fuzz_methods(&methods);
    char *tok, bearer[600];

    if (argc != 2) {
        fprintf(stderr, "usage: vs-fuzz-seeds DIR (writes DIR/TARGET/NAME)\n");
        return 2;
    }
    seeds_dir = argv[1];
    if (mkdir(seeds_dir, 0755) != 0 && errno != EEXIST) {
        perror(seeds_dir);
        return 1;
    }
    tok = seed_token(42, 2, FUZZ_NOW_S - 600, FUZZ_NOW_S + 3000);
    snprintf(bearer, sizeof bearer, "Bearer %s", tok);
    free(tok);
    seeds_envelope(methods, n, bearer);
    seeds_payload(methods, n);
    seeds_token();
    seeds_dates();
    seeds_batch();
    return 0;
}
