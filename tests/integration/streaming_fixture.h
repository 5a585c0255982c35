/* streaming_fixture.h — shared set-up of the test_streaming_* integration tests: one vsd per test
 * binary with an injectable clock file, real users signed up and logged in through UserService,
 * videos created through StreamingService, and direct reads of the primary for assertions.
 *
 * Header-only (static functions) because each tests/integration/test_*.c is its own program. */
#ifndef VS_STREAMING_FIXTURE_H
#define VS_STREAMING_FIXTURE_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vs/streaming.h>

#include "db.h"
#include "testsupport.h"
#include "window.h"

typedef struct sf_env {
    char url[512];
    char clock_file[512];
    pid_t vsd;
    MYSQL *db;
    int64_t clock_offset_ms;
    int64_t clock_stepped_ms; /* the wall clock's step alone (time that did not pass) */
} sf_env;

static sf_env sf;

typedef struct sf_user {
    uint64_t id;
    char email[128];
    vs_client *client; /* carries the user's token */
} sf_user;

/* Writes the injectable clock's offsets (common/clock.h: time passed, and a step of the wall clock
 * alone) and waits past vsd's 5 ms re-read interval. */
static inline void sf_clock_write(int64_t offset_ms, int64_t stepped_ms)
{
    char tmp[600];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", sf.clock_file);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "%lld %lld\n", (long long)offset_ms, (long long)stepped_ms);
    fclose(f);
    assert_int_equal(rename(tmp, sf.clock_file), 0);
    sf.clock_offset_ms = offset_ms;
    sf.clock_stepped_ms = stepped_ms;
    usleep(20 * 1000);
}

/* Makes offset_ms of time pass for vsd (its wall and its steady clock alike). */
static inline void sf_clock_set(int64_t offset_ms)
{
    sf_clock_write(offset_ms, sf.clock_stepped_ms);
}

/* Steps vsd's wall clock by ms without any time passing (as NTP or an operator would). */
static inline void sf_clock_step(int64_t ms)
{
    sf_clock_write(sf.clock_offset_ms, sf.clock_stepped_ms + ms);
}

static inline void sf_clock_advance(int64_t ms)
{
    sf_clock_set(sf.clock_offset_ms + ms);
}

/* The instant vsd sees now (real time + the offset). */
/* Sleeps until the monotonic clock reads at least t_ms (not at all if it already does). */
static inline void sf_sleep_until_mono_ms(int64_t t_ms)
{
    int64_t left = t_ms - ts_mono_ms();

    if (left > 0)
        usleep((useconds_t)(left * 1000));
}

static inline int64_t sf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + sf.clock_offset_ms +
           sf.clock_stepped_ms;
}

/* Moves vsd's clock so that it reads target_ms now. Tokens issued before may then be expired
 * or not yet valid: log in again (sf_login). */
static inline void sf_clock_jump_to(int64_t target_ms)
{
    sf_clock_set(target_ms - (sf_now_ms() - sf.clock_offset_ms));
}

/* Noon of the next business day (Asia/Seoul): a time of day far from midnight, so a test that
 * moves the clock by minutes stays within one business day. */
static inline int64_t sf_next_local_noon_ms(void)
{
    return window_day_start_ms(window_day_of(sf_now_ms()) + 1) + 12 * 3600 * 1000;
}

/* Starts vsd with the clock file and extra "K=V" settings (NULL-terminated list, may be NULL). */
static inline int sf_setup(const char *name, const char *const *extra)
{
    static char clock_env[600];
    const char *env[16];
    int n = 0;

    char err[256];

    if (ts_stack_env() != 0 || window_init("Asia/Seoul", err, sizeof err) != VS_OK)
        return -1;
    ts_ipc_url(name, sf.url, sizeof sf.url);
    snprintf(sf.clock_file, sizeof sf.clock_file, "%s/%s-%d.clock",
             getenv("VS_TEST_HOME") ? getenv("VS_TEST_HOME") : "/tmp", name, (int)getpid());
    snprintf(clock_env, sizeof clock_env, "VS_TEST_CLOCK_FILE=%s", sf.clock_file);
    sf_clock_set(0);
    env[n++] = clock_env;
    env[n++] = "VS_TOKEN_TTL_S=86400"; /* tests move the clock by hours */
    env[n++] = "VS_PWHASH_INSECURE_TEST_PARAMS=1";
    env[n++] = "VS_PWHASH_OPSLIMIT=1";
    env[n++] = "VS_PWHASH_MEMLIMIT=65536";
    for (const char *const *e = extra; e != NULL && *e != NULL && n < 15; e++)
        env[n++] = *e;
    env[n] = NULL;
    sf.vsd = ts_start_vsd(sf.url, env);
    if (sf.vsd < 0)
        return -1;
    if (db_connect(getenv("VS_DB_PRIMARY"), 5, &sf.db, err, sizeof err) != VS_OK) {
        fprintf(stderr, "primary: %s\n", err);
        return -1;
    }
    return 0;
}

static inline int sf_teardown(void **state)
{
    ts_stop(sf.vsd);
    if (sf.db != NULL)
        mysql_close(sf.db);
    unlink(sf.clock_file);
    return 0;
}

/* Logs user in (again): a token issued at vsd's current, possibly shifted, time. */
static inline void sf_login(sf_user *u)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    Vs__V1__LoginResponse *resp = NULL;
    vs_call_status st;

    req.email = u->email;
    req.password = "streaming-test-password-1";
    if (vs_client_call_named(u->client, &vs__v1__user_service__descriptor, "Login", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Login %s: %s %s", u->email, vs_status_name(st.code), st.message);
    vs_client_set_token(u->client, resp->access_token);
    u->id = resp->user_id;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* A new account (unique email), signed up and logged in through UserService. */
static inline sf_user sf_new_user(const char *label)
{
    static int seq;
    Vs__V1__SignUpRequest req = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__SignUpResponse *resp = NULL;
    vs_call_status st;
    sf_user u;

    memset(&u, 0, sizeof u);
    snprintf(u.email, sizeof u.email, "%s-%d-%d-%lld@stream.test", label, (int)getpid(), seq++,
             (long long)ts_mono_ms());
    u.client = ts_client(sf.url, 20000);
    req.email = u.email;
    req.password = "streaming-test-password-1";
    req.display_name = (char *)label;
    if (vs_client_call_named(u.client, &vs__v1__user_service__descriptor, "SignUp", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("SignUp %s: %s %s", u.email, vs_status_name(st.code), st.message);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    sf_login(&u);
    return u;
}

static inline void sf_free_user(sf_user *u)
{
    vs_client_close(u->client);
    u->client = NULL;
}

static inline uint64_t sf_video(sf_user *creator, int32_t duration_s)
{
    Vs__V1__Video *v = NULL;
    vs_call_status st;
    uint64_t id;

    if (vs_video_create(creator->client, "a test video", duration_s, NULL, &v, &st) != VS_OK)
        fail_msg("CreateVideo: %s %s", vs_status_name(st.code), st.message);
    id = v->id;
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return id;
}

/* Play that must succeed; returns the reply (caller frees). */
static inline Vs__V1__PlayResponse *sf_play(sf_user *u, uint64_t video_id, const char *event_id)
{
    Vs__V1__PlayResponse *r = NULL;
    vs_call_status st;

    if (vs_play(u->client, video_id, event_id, &r, &st) != VS_OK)
        fail_msg("Play: %s %s", vs_status_name(st.code), st.message);
    return r;
}

static inline Vs__V1__PauseResponse *sf_pause(sf_user *u, uint64_t video_id, int32_t position_s,
                                              const char *event_id)
{
    Vs__V1__PauseResponse *r = NULL;
    vs_call_status st;

    if (vs_pause(u->client, video_id, position_s, event_id, &r, &st) != VS_OK)
        fail_msg("Pause: %s %s", vs_status_name(st.code), st.message);
    return r;
}

static inline void sf_free(void *message)
{
    if (message != NULL)
        protobuf_c_message_free_unpacked(message, NULL);
}

/* An integer from the primary (0 when NULL / no row). */
static inline int64_t sf_db_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline int64_t sf_db_int(const char *fmt, ...)
{
    va_list ap;
    int64_t v;

    va_start(ap, fmt);
    v = ts_db_vint(sf.db, fmt, ap);
    va_end(ap);
    return v;
}

#endif
