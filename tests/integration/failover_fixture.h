/* failover_fixture.h — shared set-up of the failover tests (test_disrupt_primary_failover,
 * test_disrupt_redis_failover): a stack of their own, vsd with the streaming fixture's settings, a
 * creator's videos, and FF_LOADERS threads of one viewer's Plays under which a server is killed,
 * each keeping when every acknowledged Play returned.
 *
 * They change the stack's topology, so they run on a stack of their own (<VS_TEST_HOME>-<name>),
 * made by ff_stack_up and purged by ff_teardown. What a Play is and what an acknowledgement records
 * is the test's (ff.play); the fixture loops, times, counts failures and waits for resumption.
 *
 * Header-only (static functions) because each tests/integration/test_*.c is its own program. */
#ifndef VS_FAILOVER_FIXTURE_H
#define VS_FAILOVER_FIXTURE_H

#include <pthread.h>
#include <signal.h>
#include <vs/user.h>

#include "streaming_fixture.h"

#define FF_LOADERS 4

typedef struct ff_loader {
    pthread_t thread;
    vs_client *client; /* logged in as ff.viewer, on a connection of its own */
    int id, n_acks, failures;
    int64_t *ack_ms; /* ts_mono_ms when each acknowledged Play returned */
    char first_failure[640];
} ff_loader;

/* One Play of loader l: attempt counts this run's calls, done its acknowledged ones. On VS_OK it
 * has recorded what the test keeps of acknowledgement l->n_acks (the fixture then counts it). */
typedef vs_status (*ff_play_fn)(ff_loader *l, int attempt, int done, vs_call_status *st);

static struct {
    char home[512], shared_home[512];
    sf_user creator, viewer;
    uint64_t *videos;
    int n_videos, max_acks;
    ff_loader loaders[FF_LOADERS];
    ff_play_fn play;
    void *(*companion)(void *); /* optional: a thread run with the loaders until ff.stop */
    pthread_t companion_thread;
    volatile int stop, loading;
} ff;

/* Runs `tools/stack <args>` on the fixture's stack, its output appended to <home>.log. */
static inline int ff_stack(const char *args)
{
    return ts_sh("VS_HOME='%s' %s/tools/stack %s >>'%s.log' 2>&1", ff.home, VS_SOURCE_DIR, args,
                 ff.home);
}

/* Starts the stack <VS_TEST_HOME>-<name> (whatever a previous run left there purged first) with
 * extra stack settings ("K=V ...", may be ""), points VS_TEST_HOME at it and starts vsd there, with
 * one more "K=V" setting (may be NULL). */
static inline int ff_stack_up(const char *name, const char *stack_env, const char *vsd_setting)
{
    const char *env[] = {"VS_THREADS=4", vsd_setting, NULL};
    const char *shared = getenv("VS_TEST_HOME");

    if (shared == NULL)
        return -1;
    snprintf(ff.shared_home, sizeof ff.shared_home, "%s", shared);
    snprintf(ff.home, sizeof ff.home, "%s-%s", shared, name);
    if (ts_sh("VS_HOME='%s' %s/tools/stack down --purge >/dev/null 2>&1; VS_HOME='%s' "
              "VS_PORT_BASE=auto %s VS_DB_BUFFER_POOL=128M VS_DB_LOG_FILE_SIZE=48M "
              "%s/tools/stack up >'%s.log' 2>&1",
              ff.home, VS_SOURCE_DIR, ff.home, stack_env, VS_SOURCE_DIR, ff.home) != 0) {
        fprintf(stderr, "the %s stack did not start: see %s.log\n", name, ff.home);
        return -1;
    }
    setenv("VS_TEST_HOME", ff.home, 1);
    return sf_setup(name, env);
}

/* The creator, the viewer, n_videos of the creator's videos, and the loaders, each with room for
 * max_acks acknowledgements; play makes their Plays. */
static inline int ff_start_loaders(int n_videos, int max_acks, ff_play_fn play)
{
    vs_call_status st;

    ff.creator = sf_new_user("creator");
    ff.viewer = sf_new_user("viewer");
    ff.n_videos = n_videos;
    ff.max_acks = max_acks;
    ff.play = play;
    ff.videos = calloc((size_t)n_videos, sizeof ff.videos[0]);
    if (ff.videos == NULL)
        return -1;
    for (int i = 0; i < n_videos; i++)
        ff.videos[i] = sf_video(&ff.creator, 3600);
    for (int t = 0; t < FF_LOADERS; t++) {
        ff_loader *l = &ff.loaders[t];

        l->id = t;
        l->client = ts_client(sf.url, 20000);
        l->ack_ms = calloc((size_t)max_acks, sizeof l->ack_ms[0]);
        if (l->ack_ms == NULL ||
            vs_user_login(l->client, ff.viewer.email, "streaming-test-password-1", NULL, NULL, NULL,
                          &st) != VS_OK)
            return -1;
    }
    return 0;
}

static inline void *ff_load(void *arg)
{
    ff_loader *l = arg;

    for (int attempt = 0, done = 0; !ff.stop && l->n_acks < ff.max_acks; attempt++) {
        vs_call_status st = {0};

        if (ff.play(l, attempt, done, &st) == VS_OK) {
            l->ack_ms[l->n_acks] = ts_mono_ms();
            __atomic_store_n(&l->n_acks, l->n_acks + 1, __ATOMIC_RELEASE);
            done++;
        } else {
            if (l->failures++ == 0)
                snprintf(l->first_failure, sizeof l->first_failure, "%s %s",
                         vs_status_name(st.code), st.message);
            usleep(5000);
        }
    }
    return NULL;
}

static inline void ff_finish_load(void)
{
    if (!ff.loading)
        return;
    ff.stop = 1;
    for (int t = 0; t < FF_LOADERS; t++)
        pthread_join(ff.loaders[t].thread, NULL);
    if (ff.companion != NULL)
        pthread_join(ff.companion_thread, NULL);
    ff.loading = 0;
}

/* Starts the loaders (and the companion); those of a test that failed half-way are stopped first.
 * Failures are counted afresh, acknowledgements go on accumulating. */
static inline void ff_start_load(void)
{
    ff_finish_load();
    ff.stop = 0;
    ff.loading = 1;
    for (int t = 0; t < FF_LOADERS; t++) {
        ff.loaders[t].failures = 0;
        ff.loaders[t].first_failure[0] = '\0';
        assert_int_equal(pthread_create(&ff.loaders[t].thread, NULL, ff_load, &ff.loaders[t]), 0);
    }
    if (ff.companion != NULL)
        assert_int_equal(pthread_create(&ff.companion_thread, NULL, ff.companion, NULL), 0);
}

static inline int ff_acks_total(void)
{
    int n = 0;

    for (int t = 0; t < FF_LOADERS; t++)
        n += __atomic_load_n(&ff.loaders[t].n_acks, __ATOMIC_ACQUIRE);
    return n;
}

/* Failed Play calls since ff_start_load. */
static inline int ff_load_failures(void)
{
    int n = 0;

    for (int t = 0; t < FF_LOADERS; t++)
        n += ff.loaders[t].failures;
    return n;
}

/* The longest time from t_from until a loader's first Play acknowledged at or after t_after
 * (waits for every loader, at most bound_ms + 5 s from t_from; fails when one gets none). */
static inline int64_t ff_wait_resumed(int64_t t_from, int64_t t_after, int64_t bound_ms)
{
    int64_t worst = 0;

    for (int t = 0; t < FF_LOADERS; t++) {
        int64_t first = 0;

        while (first == 0 && ts_mono_ms() - t_from < bound_ms + 5000) {
            int n = __atomic_load_n(&ff.loaders[t].n_acks, __ATOMIC_ACQUIRE);

            for (int i = n - 1; i >= 0 && ff.loaders[t].ack_ms[i] >= t_after; i--)
                first = ff.loaders[t].ack_ms[i];
            if (first == 0)
                usleep(20000);
        }
        assert_true(first > 0);
        if (first - t_from > worst)
            worst = first - t_from;
    }
    return worst;
}

/* Stops the load and vsd, frees the loaders, purges the stack and points VS_TEST_HOME back at the
 * shared one. */
static inline int ff_teardown(void **state)
{
    ff_finish_load();
    sf_teardown(state);
    for (int t = 0; t < FF_LOADERS; t++) {
        vs_client_close(ff.loaders[t].client);
        free(ff.loaders[t].ack_ms);
    }
    free(ff.videos);
    sf_free_user(&ff.creator);
    sf_free_user(&ff.viewer);
    ts_sh("VS_HOME='%s' %s/tools/stack down --purge >/dev/null 2>&1", ff.home, VS_SOURCE_DIR);
    setenv("VS_TEST_HOME", ff.shared_home, 1);
    return 0;
}

#endif
