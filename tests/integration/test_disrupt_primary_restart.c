/* test_disrupt_primary_restart.c — after the primary MariaDB is killed (SIGKILL) and started
 * again, no call fails once it answers: every connection vsd kept from before (one per worker
 * thread, and the Play commit lane's) is found closed and replaced before it is used, instead of
 * failing the first call that lands on it.
 *
 * vsd runs with 4 worker threads; each method that touches the primary gets its own restart and
 * then 200 calls from 8 concurrent clients, so every worker meets its dead connection on some
 * method's calls. Kills the test stack's primary, so it runs serially. */
#include <pthread.h>
#include <signal.h>

#include <vs/user.h>

#include "streaming_fixture.h"

#define CALLS 200
#define CLIENTS 8
#define PASSWORD "streaming-test-password-1"

static sf_user creator, viewer;
static vs_client *clients[CLIENTS];
static uint64_t videos[CALLS];
static char emails[CALLS][96];
static char *tokens[CALLS];

typedef int (*call_fn)(vs_client *c, int i, vs_call_status *st);

static struct {
    call_fn fn;
    int next, failures;
    char first_failure[640];
    pthread_mutex_t lock;
} run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *run_client(void *arg)
{
    vs_client *c = arg;

    for (;;) {
        vs_call_status st = {0};
        int i = __atomic_fetch_add(&run.next, 1, __ATOMIC_RELAXED);

        if (i >= CALLS)
            return NULL;
        if (run.fn(c, i, &st) != VS_OK) {
            pthread_mutex_lock(&run.lock);
            if (run.failures++ == 0)
                snprintf(run.first_failure, sizeof run.first_failure, "call %d: %s %s", i,
                         vs_status_name(st.code), st.message);
            pthread_mutex_unlock(&run.lock);
        }
    }
}

/* CALLS calls of fn spread over the CLIENTS clients at once; the number that failed. */
static int run_calls(const char *method, call_fn fn)
{
    pthread_t threads[CLIENTS];

    run.fn = fn;
    run.next = run.failures = 0;
    run.first_failure[0] = '\0';
    for (int t = 0; t < CLIENTS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, run_client, clients[t]), 0);
    for (int t = 0; t < CLIENTS; t++)
        pthread_join(threads[t], NULL);
    if (run.failures > 0)
        fprintf(stderr, "%s: %d of %d calls failed; first: %s\n", method, run.failures, CALLS,
                run.first_failure);
    return run.failures;
}

/* SIGKILL the stack's primary (no shutdown: its clients' sockets just close), start it again with
 * tools/stack up, and wait until it answers. */
static void restart_primary(void)
{
    pid_t old = ts_stack_pid("primary/mariadb");
    char err[256];

    assert_true(old > 0);
    assert_int_equal(kill(old, SIGKILL), 0);
    for (int i = 0; i < 1000 && kill(old, 0) == 0; i++)
        usleep(10000);
    assert_int_not_equal(kill(old, 0), 0);
    assert_int_equal(ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"),
                           VS_SOURCE_DIR),
                     0);
    assert_true(ts_stack_pid("primary/mariadb") > 0);
    assert_int_not_equal(ts_stack_pid("primary/mariadb"), old);
    mysql_close(sf.db);
    assert_int_equal(db_connect(getenv("VS_DB_PRIMARY"), 5, &sf.db, err, sizeof err), VS_OK);
}

static int call_play(vs_client *c, int i, vs_call_status *st)
{
    Vs__V1__PlayResponse *r = NULL;
    int rc = vs_play(c, videos[i], NULL, &r, st);

    sf_free(r);
    return rc;
}

static int call_pause(vs_client *c, int i, vs_call_status *st)
{
    Vs__V1__PauseResponse *r = NULL;
    int rc = vs_pause(c, videos[i], 10, NULL, &r, st);

    sf_free(r);
    return rc;
}

static int call_create_video(vs_client *c, int i, vs_call_status *st)
{
    Vs__V1__Video *v = NULL;
    int rc = vs_video_create(c, "made after a restart", 600, NULL, &v, st);

    sf_free(v);
    return rc;
}

static int call_get_video(vs_client *c, int i, vs_call_status *st)
{
    Vs__V1__Video *v = NULL;
    int rc = vs_video_get(c, videos[i], &v, st);

    if (rc == VS_OK && v->id != videos[i])
        rc = VS_INTERNAL;
    sf_free(v);
    return rc;
}

static int call_list_videos(vs_client *c, int i, vs_call_status *st)
{
    Vs__V1__ListVideosResponse *r = NULL;
    int rc = vs_video_list(c, creator.id, 0, (uint32_t)(i % 4), 50, &r, st);

    sf_free(r);
    return rc;
}

static int call_sign_up(vs_client *c, int i, vs_call_status *st)
{
    return vs_user_signup(c, emails[i], PASSWORD, "restart", NULL, st);
}

static int call_login(vs_client *c, int i, vs_call_status *st)
{
    return vs_user_login(c, emails[i], PASSWORD, &tokens[i], NULL, NULL, st);
}

static int call_me(vs_client *c, int i, vs_call_status *st)
{
    vs_user *u = NULL;
    int rc;

    vs_client_set_token(c, tokens[i]);
    rc = vs_user_me(c, &u, st);
    if (rc == VS_OK && strcmp(vs_user_email(u), emails[i]) != 0)
        rc = VS_INTERNAL;
    vs_user_free(u);
    return rc;
}

static int call_logout(vs_client *c, int i, vs_call_status *st)
{
    vs_client_set_token(c, tokens[i]);
    return vs_user_logout(c, st);
}

static int setup(void **state)
{
    static const char *const env[] = {"VS_THREADS=4", NULL};
    vs_call_status st;

    if (sf_setup("primary-restart", env) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    for (int t = 0; t < CLIENTS; t++) {
        clients[t] = ts_client(sf.url, 20000);
        if (vs_user_login(clients[t], viewer.email, PASSWORD, NULL, NULL, NULL, &st) != VS_OK)
            return -1;
    }
    /* videos no Play has seen yet, so a Play must look each up on a worker's connection */
    for (int i = 0; i < CALLS; i++)
        videos[i] = sf_video(&creator, 600);
    for (int i = 0; i < CALLS; i++)
        snprintf(emails[i], sizeof emails[i], "restart-%d-%d-%lld@stream.test", (int)getpid(), i,
                 (long long)ts_mono_ms());
    return 0;
}

/* whatever happened, leave the shared stack running for the tests after this one */
static int teardown(void **state)
{
    ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"), VS_SOURCE_DIR);
    for (int t = 0; t < CLIENTS; t++)
        vs_client_close(clients[t]);
    for (int i = 0; i < CALLS; i++)
        free(tokens[i]);
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

static void test_no_call_fails_on_connections_kept_across_a_primary_restart(void **state)
{
    static const struct {
        const char *method;
        call_fn fn;
    } methods[] = {
        {"Play", call_play},
        {"Pause", call_pause},
        {"CreateVideo", call_create_video},
        {"GetVideo", call_get_video},
        {"ListVideos", call_list_videos},
        {"SignUp", call_sign_up},
        {"Login", call_login},
        {"Me", call_me},
        {"Logout", call_logout},
    };
    Vs__V1__PlayResponse *warm;
    int failed = 0;

    /* every worker and the commit lane hold a primary connection before the first restart */
    assert_int_equal(run_calls("GetVideo (warm-up)", call_get_video), 0);
    warm = sf_play(&creator, sf_video(&creator, 600), NULL);
    sf_free(warm);

    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        restart_primary();
        failed += run_calls(methods[m].method, methods[m].fn);
    }
    assert_int_equal(failed, 0);
    /* and the writes are all there, once: a Play and a Pause row per video */
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE viewer_id=%" PRIu64, viewer.id),
                     2 * CALLS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_call_fails_on_connections_kept_across_a_primary_restart),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
