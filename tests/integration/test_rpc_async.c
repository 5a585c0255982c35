/* test_rpc_async.c — libvsclient's asynchronous calls against a real vsd on a private ipc:// URL:
 * many calls outstanding on one handle (chains that start their next call from the done
 * function), errors mapped as the waiting call maps them, deadlines against a frozen server, and
 * closing the handle with calls in flight. */
#include "testsupport.h"

#include <dirent.h>
#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char vsd_url[512];
static pid_t vsd_pid;

static int start_vsd(void **state)
{
    static const char *const env[] = {"VS_THREADS=8", NULL};

    if (ts_stack_env() != 0)
        return -1;
    ts_ipc_url("rpc-async", vsd_url, sizeof vsd_url);
    vsd_pid = ts_start_vsd(vsd_url, env);
    return vsd_pid > 0 ? 0 : -1;
}

static int stop_vsd(void **state)
{
    kill(vsd_pid, SIGCONT); /* in case a failed case left it frozen */
    ts_stop(vsd_pid);
    return 0;
}

/* Freezes vsd and waits until every one of its threads has stopped: SIGSTOP is delivered
 * asynchronously, and a thread still running on the other core could answer a call meanwhile. */
static void freeze_vsd(void)
{
    char dir[64];
    int running;

    assert_int_equal(kill(vsd_pid, SIGSTOP), 0);
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)vsd_pid);
    do {
        DIR *d = opendir(dir);
        struct dirent *e;

        assert_non_null(d);
        running = 0;
        while ((e = readdir(d)) != NULL) {
            char path[600], line[512], *state;
            FILE *f;

            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
            if ((f = fopen(path, "r")) == NULL)
                continue; /* a thread that just exited */
            state = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
            running += state != NULL && state[1] == ' ' && state[2] != 'T' && state[2] != 't';
            fclose(f);
        }
        closedir(d);
        if (running)
            usleep(1000);
    } while (running);
}

/* Outcomes collected from done functions, which run on nng's threads. */
typedef struct outcomes {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int done;                            /* done functions that ran */
    int by_code[VS_UNAUTHENTICATED + 1]; /* their codes */
    int mismatched;                      /* replies whose echo was not their request's */
    int refused_in_done;                 /* calls started from a done that were refused */
    int not_started;                     /* chained calls that could not start */
    int replies_on_failure;              /* done got a reply with a failure code (never) */
    char last_message[512];
} outcomes;

static void outcomes_init(outcomes *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->changed, NULL);
}

/* A chain whose next call could not start gives up its remaining n calls (done never runs). */
static void outcomes_give_up(outcomes *o, int n)
{
    pthread_mutex_lock(&o->lock);
    o->done += n;
    o->not_started += n;
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->lock);
}

static void outcomes_wait(outcomes *o, int n)
{
    pthread_mutex_lock(&o->lock);
    while (o->done < n)
        pthread_cond_wait(&o->changed, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

static void outcomes_destroy(outcomes *o)
{
    pthread_cond_destroy(&o->changed);
    pthread_mutex_destroy(&o->lock);
}

/* Records one done; mismatch says whether a reply's echo differed from its request's. */
static void outcomes_add(outcomes *o, int code, int mismatch, int had_reply,
                         const vs_call_status *st)
{
    pthread_mutex_lock(&o->lock);
    o->done++;
    if (code >= 0 && code <= VS_UNAUTHENTICATED)
        o->by_code[code]++;
    o->mismatched += mismatch;
    o->replies_on_failure += code != VS_OK && had_reply;
    snprintf(o->last_message, sizeof o->last_message, "%s", st->message);
    pthread_cond_broadcast(&o->changed);
    pthread_mutex_unlock(&o->lock);
}

#define CHAINS 256
#define CALLS_PER_CHAIN 20

/* A chain of calls kept outstanding one after another: each done checks the echo of its own
 * request and starts the chain's next call. */
typedef struct chain {
    vs_client *client;
    outcomes *out;
    int index, call;
    char echo[64];
} chain;

static int chain_send(chain *ch);

static void chain_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    chain *ch = arg;
    int mismatch = 0;

    if (reply != NULL) {
        mismatch = strcmp(((Vs__V1__HealthResponse *)reply)->echo, ch->echo) != 0;
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    outcomes_add(ch->out, code, mismatch, reply != NULL, st);
    /* no cmocka assertion here: this runs on an nng thread */
    if (++ch->call < CALLS_PER_CHAIN && chain_send(ch) != VS_OK)
        outcomes_give_up(ch->out, CALLS_PER_CHAIN - ch->call);
}

static int chain_send(chain *ch)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;

    snprintf(ch->echo, sizeof ch->echo, "chain%d-call%d", ch->index, ch->call);
    req.echo = ch->echo;
    req.shallow = 1;
    return vs_client_call_named_async(ch->client, &vs__v1__streaming_service__descriptor, "Health",
                                      &req.base, chain_done, ch);
}

/* 256 calls outstanding at once on one handle, 20 rounds each started from the previous done:
 * every call completes once, OK, with its own request's echo. */
static void test_many_outstanding_calls_each_get_their_own_reply(void **state)
{
    vs_client *c = ts_client(vsd_url, 20000);
    static chain chains[CHAINS];
    outcomes out;
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    vs_call_status st;

    outcomes_init(&out);
    for (int i = 0; i < CHAINS; i++) {
        chains[i] = (chain){.client = c, .out = &out, .index = i};
        assert_int_equal(chain_send(&chains[i]), VS_OK);
    }
    outcomes_wait(&out, CHAINS * CALLS_PER_CHAIN);
    assert_int_equal(out.not_started, 0);
    assert_int_equal(out.by_code[VS_OK], CHAINS * CALLS_PER_CHAIN);
    assert_int_equal(out.mismatched, 0);
    /* the waiting call still works on the same handle */
    req.shallow = 1;
    req.echo = "after";
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, &reply, &st),
                     VS_OK);
    assert_string_equal(((Vs__V1__HealthResponse *)reply)->echo, "after");
    protobuf_c_message_free_unpacked(reply, NULL);
    vs_client_close(c);
    outcomes_destroy(&out);
}

static void record_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    outcomes_add(arg, code, 0, reply != NULL, st);
}

/* What the client can tell without a round trip fails at once and done never runs. */
static void test_unknown_method_or_wrong_input_refused_before_sending(void **state)
{
    vs_client *c = ts_client(vsd_url, 5000);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__PlayRequest play = VS__V1__PLAY_REQUEST__INIT;
    outcomes out;

    outcomes_init(&out);
    assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor, "Nope",
                                                &req.base, record_done, &out),
                     VS_UNIMPLEMENTED);
    assert_int_equal(vs_client_call_async(c, &vs__v1__streaming_service__descriptor, 9999,
                                          &req.base, record_done, &out),
                     VS_UNIMPLEMENTED);
    assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor, "Health",
                                                &play.base, record_done, &out),
                     VS_INVALID_ARGUMENT);
    assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor, "Health",
                                                &req.base, NULL, NULL),
                     VS_INVALID_ARGUMENT);
    vs_client_close(c);
    assert_int_equal(out.done, 0);
    outcomes_destroy(&out);
}

/* The server's statuses reach done like vs_client_call's: a service vsd does not have →
 * UNIMPLEMENTED, Play without a token → UNAUTHENTICATED, each with the server's message. */
static void test_server_errors_reach_done_with_their_status(void **state)
{
    vs_client *c = ts_client(vsd_url, 5000);
    ProtobufCServiceDescriptor unknown = vs__v1__streaming_service__descriptor;
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__PlayRequest play = VS__V1__PLAY_REQUEST__INIT;
    outcomes out;

    outcomes_init(&out);
    unknown.name = "vs.v1.NoSuchService";
    assert_int_equal(
        vs_client_call_named_async(c, &unknown, "Health", &req.base, record_done, &out), VS_OK);
    outcomes_wait(&out, 1);
    assert_int_equal(out.by_code[VS_UNIMPLEMENTED], 1);
    assert_non_null(strstr(out.last_message, "NoSuchService"));

    play.video_id = 1;
    play.event_id = "rpc-async-unauthenticated";
    assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor, "Play",
                                                &play.base, record_done, &out),
                     VS_OK);
    outcomes_wait(&out, 2);
    assert_int_equal(out.by_code[VS_UNAUTHENTICATED], 1);
    assert_int_equal(out.replies_on_failure, 0);
    vs_client_close(c);
    outcomes_destroy(&out);
}

/* vsd frozen: the calls' deadline passes and done gets DEADLINE_EXCEEDED; once vsd runs again
 * the same handle is served (the timed-out contexts are not reused). */
static void test_frozen_server_gives_deadline_exceeded(void **state)
{
    vs_client *c = ts_client(vsd_url, 300);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    vs_call_status st;
    outcomes out;

    outcomes_init(&out);
    req.shallow = 1;
    freeze_vsd();
    for (int i = 0; i < 8; i++)
        assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor,
                                                    "Health", &req.base, record_done, &out),
                         VS_OK);
    outcomes_wait(&out, 8);
    assert_int_equal(kill(vsd_pid, SIGCONT), 0);
    assert_int_equal(out.by_code[VS_DEADLINE_EXCEEDED], 8);
    assert_int_equal(out.replies_on_failure, 0);
    req.echo = "thawed";
    assert_int_equal(vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                          &req.base, &reply, &st),
                     VS_OK);
    assert_string_equal(((Vs__V1__HealthResponse *)reply)->echo, "thawed");
    protobuf_c_message_free_unpacked(reply, NULL);
    vs_client_close(c);
    outcomes_destroy(&out);
}

typedef struct closing_arg {
    outcomes *out;
    vs_client *client;
} closing_arg;

/* A done run by close: it may try another call, which is refused. */
static void closing_done(void *arg, int code, ProtobufCMessage *reply, const vs_call_status *st)
{
    closing_arg *a = arg;
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    int again = vs_client_call_named_async(a->client, &vs__v1__streaming_service__descriptor,
                                           "Health", &req.base, closing_done, a);

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&a->out->lock);
    a->out->refused_in_done += again == VS_CANCELLED;
    pthread_mutex_unlock(&a->out->lock);
    outcomes_add(a->out, code, 0, reply != NULL, st);
}

#define IN_FLIGHT_AT_CLOSE 64

/* Closing with calls in flight (vsd frozen, so none can be answered): close completes each one
 * exactly once with CANCELLED before returning, refuses calls started from those done functions,
 * and frees everything (LeakSanitizer checks at exit). */
static void test_close_cancels_calls_in_flight(void **state)
{
    vs_client *c = ts_client(vsd_url, 10000);
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    outcomes out;
    closing_arg a = {.out = &out, .client = c};

    outcomes_init(&out);
    req.shallow = 1;
    freeze_vsd();
    for (int i = 0; i < IN_FLIGHT_AT_CLOSE; i++)
        assert_int_equal(vs_client_call_named_async(c, &vs__v1__streaming_service__descriptor,
                                                    "Health", &req.base, closing_done, &a),
                         VS_OK);
    vs_client_close(c);
    /* no waiting: close returned after every done */
    assert_int_equal(kill(vsd_pid, SIGCONT), 0);
    assert_int_equal(out.done, IN_FLIGHT_AT_CLOSE);
    assert_int_equal(out.by_code[VS_CANCELLED], IN_FLIGHT_AT_CLOSE);
    assert_int_equal(out.refused_in_done, IN_FLIGHT_AT_CLOSE);
    outcomes_destroy(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_outstanding_calls_each_get_their_own_reply),
        cmocka_unit_test(test_unknown_method_or_wrong_input_refused_before_sending),
        cmocka_unit_test(test_server_errors_reach_done_with_their_status),
        cmocka_unit_test(test_frozen_server_gives_deadline_exceeded),
        cmocka_unit_test(test_close_cancels_calls_in_flight),
    };
    int failed = cmocka_run_group_tests(tests, start_vsd, stop_vsd);

    nng_fini(); /* reap closed sockets so LeakSanitizer sees a clean exit */
    return failed;
}
