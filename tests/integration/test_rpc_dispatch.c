/* test_rpc_dispatch.c — how vsd runs its calls (common/rpc_server.h): inline in nng's callback
 * when a call needs no connection, again on a worker thread when it turns out to need one,
 * deferred replies for Play and Pause answered by the commit lane, VS_RPC_INLINE=off, and a
 * shutdown with Plays in flight that loses no acknowledged call. The figures come from the Health
 * reply's RpcStats; real MariaDB and Redis. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "streaming_fixture.h"

static sf_user creator, viewer;

static int setup(void **state)
{
    if (sf_setup("dispatch", NULL) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    return 0;
}

static int teardown(void **state)
{
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

/* The server's call counters as of a shallow Health on c (that call itself not yet counted). */
static Vs__V1__RpcStats *rpc_stats(vs_client *c, int shallow, Vs__V1__HealthResponse **keep)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    vs_call_status st;

    req.shallow = shallow;
    if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                             (ProtobufCMessage **)keep, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    assert_non_null((*keep)->rpc);
    return (*keep)->rpc;
}

static void test_shallow_health_is_served_inline(void **state)
{
    Vs__V1__HealthResponse *h0, *h1;
    Vs__V1__RpcStats *before = rpc_stats(viewer.client, 1, &h0), *after;

    for (int i = 0; i < 20; i++) {
        rpc_stats(viewer.client, 1, &h1);
        sf_free(h1);
    }
    after = rpc_stats(viewer.client, 1, &h1);
    /* 21 shallow Healths since `before` (the first one counted once it was answered) */
    assert_int_equal(after->served_inline - before->served_inline, 21);
    assert_int_equal(after->served_on_worker, before->served_on_worker);
    assert_int_equal(after->rerun_on_worker, before->rerun_on_worker);
    assert_true(after->slots >= 64);
    sf_free(h0);
    sf_free(h1);
}

static void test_deep_health_needs_connections_and_is_rerun_on_a_worker(void **state)
{
    Vs__V1__HealthResponse *h0, *deep, *h1;
    Vs__V1__RpcStats *before = rpc_stats(viewer.client, 1, &h0), *after;

    rpc_stats(viewer.client, 0, &deep);
    /* the re-run answered with real probes of the three components */
    assert_int_equal(deep->n_components, 3);
    for (size_t i = 0; i < deep->n_components; i++)
        assert_true(deep->components[i]->up);
    /* its own re-run counts once it is served, with served_on_worker: not yet in its own reply
     * (vsctl health used to show more re-runs than calls on workers) */
    assert_int_equal(deep->rpc->rerun_on_worker, before->rerun_on_worker);
    assert_int_equal(deep->rpc->served_on_worker, before->served_on_worker);
    after = rpc_stats(viewer.client, 1, &h1);
    assert_int_equal(after->rerun_on_worker - before->rerun_on_worker, 1);
    assert_int_equal(after->served_on_worker - before->served_on_worker, 1);
    sf_free(h0);
    sf_free(deep);
    sf_free(h1);
}

static void test_play_and_pause_are_answered_by_the_commit_lane(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__HealthResponse *h0, *h1;
    Vs__V1__RpcStats *before, *after;
    char play_id[33], pause_id[33];

    vs_event_id(play_id);
    vs_event_id(pause_id);
    before = rpc_stats(viewer.client, 1, &h0);
    sf_free(sf_play(&viewer, video, play_id));
    sf_clock_advance(50 * 1000);
    sf_free(sf_pause(&viewer, video, 40, pause_id));
    after = rpc_stats(viewer.client, 1, &h1);
    assert_int_equal(after->deferred - before->deferred, 2);
    /* deferred replies still mean committed rows */
    assert_int_equal(
        sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id IN ('%s','%s')", play_id, pause_id),
        2);
    sf_free(h0);
    sf_free(h1);
}

/* A client on url logged in as viewer (same database and token secret as the fixture's vsd). */
static vs_client *viewer_on(const char *url, int timeout_ms)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    Vs__V1__LoginResponse *resp = NULL;
    vs_client *c = ts_client(url, timeout_ms);
    vs_call_status st;

    req.email = viewer.email;
    req.password = "streaming-test-password-1";
    if (vs_client_call_named(c, &vs__v1__user_service__descriptor, "Login", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Login: %s %s", vs_status_name(st.code), st.message);
    vs_client_set_token(c, resp->access_token);
    sf_free(resp);
    return c;
}

static pid_t start_second_vsd(const char *name, const char *setting, char *url, size_t urllen)
{
    const char *env[] = {"VS_PWHASH_INSECURE_TEST_PARAMS=1", "VS_PWHASH_OPSLIMIT=1",
                         "VS_PWHASH_MEMLIMIT=65536", setting, NULL};
    pid_t pid;

    ts_ipc_url(name, url, urllen);
    pid = ts_start_vsd(url, env);
    assert_true(pid > 0);
    return pid;
}

static void test_inline_off_serves_every_call_on_workers(void **state)
{
    char url[512];
    pid_t pid = start_second_vsd("dispatch-off", "VS_RPC_INLINE=off", url, sizeof url);
    vs_client *c = viewer_on(url, 20000);
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__HealthResponse *h;
    Vs__V1__RpcStats *stats;
    char play_id[33];

    vs_event_id(play_id);
    {
        Vs__V1__PlayResponse *r = NULL;
        vs_call_status st;

        assert_int_equal(vs_play(c, video, play_id, &r, &st), VS_OK);
        assert_true(r->view_counted);
        sf_free(r);
    }
    stats = rpc_stats(c, 1, &h);
    assert_int_equal(stats->served_inline, 0);
    assert_int_equal(stats->rerun_on_worker, 0);
    assert_true(stats->served_on_worker >= 2); /* Login, Play (+ the start-up Healths) */
    assert_int_equal(stats->deferred, 1);      /* the Play: deferred from its worker */
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", play_id), 1);
    sf_free(h);
    vs_client_close(c);
    ts_stop(pid);
}

#define SHUTDOWN_CALLERS 16
#define SHUTDOWN_MAX_CALLS 4000

typedef struct shutdown_caller {
    vs_client *client;
    uint64_t video;
    char ids[SHUTDOWN_MAX_CALLS][33];
    int acked;
    int failed_code;
} shutdown_caller;

/* Plays fresh events until the first failure (vsd going away), remembering the acknowledged. */
static void *shutdown_caller_main(void *arg)
{
    shutdown_caller *c = arg;

    while (c->acked < SHUTDOWN_MAX_CALLS) {
        Vs__V1__PlayResponse *r = NULL;
        vs_call_status st;
        char id[33];

        vs_event_id(id);
        if (vs_play(c->client, c->video, id, &r, &st) != VS_OK) {
            c->failed_code = st.code;
            break;
        }
        sf_free(r);
        memcpy(c->ids[c->acked++], id, sizeof id);
    }
    return NULL;
}

static void test_shutdown_with_plays_in_flight_keeps_every_acknowledged_play(void **state)
{
    static shutdown_caller callers[SHUTDOWN_CALLERS];
    pthread_t threads[SHUTDOWN_CALLERS];
    char url[512];
    pid_t pid = start_second_vsd("dispatch-stop", "VS_RPC_INLINE=on", url, sizeof url);
    vs_client *c = viewer_on(url, 3000); /* calls fail soon once vsd is gone */
    int status = -1, total = 0;

    for (int i = 0; i < SHUTDOWN_CALLERS; i++) {
        callers[i].client = c;
        callers[i].video = sf_video(&creator, 3600);
        assert_int_equal(pthread_create(&threads[i], NULL, shutdown_caller_main, &callers[i]), 0);
    }
    usleep(300 * 1000);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* a clean exit: every deferred call finished before the server was freed (and, in the
     * sanitizer build, nothing leaked) */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < SHUTDOWN_CALLERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_not_equal(callers[i].failed_code, VS_OK); /* each stopped on vsd's exit */
        for (int k = 0; k < callers[i].acked; k++)
            assert_int_equal(
                sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", callers[i].ids[k]),
                1);
        total += callers[i].acked;
    }
    assert_true(total > 0);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shallow_health_is_served_inline),
        cmocka_unit_test(test_deep_health_needs_connections_and_is_rerun_on_a_worker),
        cmocka_unit_test(test_play_and_pause_are_answered_by_the_commit_lane),
        cmocka_unit_test(test_inline_off_serves_every_call_on_workers),
        cmocka_unit_test(test_shutdown_with_plays_in_flight_keeps_every_acknowledged_play),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
