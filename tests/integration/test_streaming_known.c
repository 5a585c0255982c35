/* test_streaming_known.c — rounds from known rows (server/play/play_known.c): a commit lane that
 * knows a pair's watch_position row skips reading it and writes it back only while the row still
 * has the version it knows. These cases make the shortcut fail and check that the rerun with the
 * read decides exactly as if it had never been tried: a replayed event id (which the shortcut
 * does not look up, and whose view claim it may already have set), a row changed behind the
 * lane's back, and a Pause refused for want of a Play. Real MariaDB and Redis; a 2 s repeat
 * window, as in test_streaming_views. */
#include <pthread.h>
#include <unistd.h>

#include "streaming_fixture.h"

#define WINDOW_MS 2000

static sf_user creator, viewer;

static const char *const vsd_env[] = {"VS_VIEW_REPEAT_WINDOW_S=2", NULL};

static int setup(void **state)
{
    if (sf_setup("known", vsd_env) != 0)
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

static void sql_run(const char *sql)
{
    char err[256];

    if (db_exec(sf.db, sql, err, sizeof err) != VS_OK)
        fail_msg("%s: %s", sql, err);
}

/* The resend of a counted Play after the window has expired: the shortcut claims the view key
 * again with the resent id before the insert finds the id taken. The rerun answers with the
 * stored outcome and must take that claim back, or the viewer's next, genuine view (the last
 * counted one is more than the window ago) would be refused as REPEAT. */
static void test_replay_after_window_leaves_no_claim(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *first, *again, *next;
    char first_id[33];
    int64_t got0;

    vs_event_id(first_id);
    first = sf_play(&viewer, video, first_id);
    got0 = ts_mono_ms();
    assert_true(first->view_counted);
    sf_sleep_until_mono_ms(got0 + WINDOW_MS + 200);

    again = sf_play(&viewer, video, first_id);
    assert_true(again->view_counted); /* the first outcome, not a new decision */
    assert_int_equal(again->reason, first->reason);
    assert_int_equal(again->resume_position_s, first->resume_position_s);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", first_id), 1);

    next = sf_play(&viewer, video, NULL);
    assert_true(next->view_counted);
    assert_int_equal(next->reason, VS__V1__NOT_COUNTED_REASON__COUNTED);
    assert_int_equal(
        sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE video_id=%" PRIu64, video), 2);
    sf_free(first);
    sf_free(again);
    sf_free(next);
}

/* A replay and a new Play of the same pair in flight together: whatever rounds they land in,
 * the replay gets its stored outcome, the new Play its own row, and nothing is counted twice. */
typedef struct play_call {
    uint64_t video;
    const char *event_id;
    pthread_barrier_t *start;
    int rc, counted;
} play_call;

static void *play_call_main(void *arg)
{
    play_call *c = arg;
    Vs__V1__PlayResponse *r = NULL;
    vs_call_status st;

    pthread_barrier_wait(c->start);
    c->rc = vs_play(viewer.client, c->video, c->event_id, &r, &st);
    if (r != NULL) {
        c->counted = r->view_counted;
        sf_free(r);
    }
    return NULL;
}

static void test_replay_and_new_play_together(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    pthread_barrier_t start;
    pthread_t th[2];
    play_call calls[2];
    char first_id[33], new_id[33];
    int64_t sent0, got;

    vs_event_id(first_id);
    vs_event_id(new_id);
    sent0 = ts_mono_ms();
    sf_free(sf_play(&viewer, video, first_id));
    pthread_barrier_init(&start, NULL, 2);
    calls[0] = (play_call){video, first_id, &start, -1, -1};
    calls[1] = (play_call){video, new_id, &start, -1, -1};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, play_call_main, &calls[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    got = ts_mono_ms();
    pthread_barrier_destroy(&start);
    assert_int_equal(calls[0].rc, VS_OK);
    assert_int_equal(calls[1].rc, VS_OK);
    assert_int_equal(calls[0].counted, 1); /* the stored outcome of the first Play */
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 2);
    assert_int_equal(
        sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE video_id=%" PRIu64, video),
        1 + calls[1].counted);
    /* within the window of the first unless the machine stalled for the whole window */
    if (got - sent0 < WINDOW_MS)
        assert_int_equal(calls[1].counted, 0);
}

/* A row changed behind the lane (an operator's UPDATE; a second vsd writes new versions the
 * same way): the lane's knowledge is stale, so its write must not go through; the rerun reads
 * the row and resumes from the changed position. */
static void test_row_changed_elsewhere_is_read_again(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *r;
    Vs__V1__PauseResponse *p;
    char sql[256];

    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(200 * 1000);
    p = sf_pause(&viewer, video, 100, NULL);
    assert_int_equal(p->watch_s, 100);
    sf_free(p);

    snprintf(sql, sizeof sql,
             "UPDATE watch_position SET position_s=400 WHERE viewer_id=%" PRIu64
             " AND video_id=%" PRIu64,
             viewer.id, video);
    sql_run(sql);
    r = sf_play(&viewer, video, NULL);
    assert_int_equal(r->resume_position_s, 400);
    sf_free(r);

    /* and the playback it opened is the one a Pause credits: 400 → 450 */
    sf_clock_advance(100 * 1000);
    p = sf_pause(&viewer, video, 450, NULL);
    assert_int_equal(p->credited_from_s, 400);
    assert_int_equal(p->credited_to_s, 450);
    assert_int_equal(p->watch_s, 50);
    sf_free(p);
    assert_int_equal(sf_db_int("SELECT position_s FROM watch_position WHERE viewer_id=%" PRIu64
                               " AND video_id=%" PRIu64,
                               viewer.id, video),
                     450);
}

/* A Pause with no playback open on a pair the lane knows: refused with FAILED_PRECONDITION,
 * nothing stored, and the pair's next Play and Pause still right. */
static void test_second_pause_refused_on_known_pair(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;
    Vs__V1__PlayResponse *r;

    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(100 * 1000);
    sf_free(sf_pause(&viewer, video, 60, NULL));
    assert_int_equal(vs_pause(viewer.client, video, 90, NULL, &p, &st), VS_FAILED_PRECONDITION);
    assert_null(p);
    assert_non_null(strstr(st.message, "Play"));
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 2);
    assert_int_equal(sf_db_int("SELECT position_s FROM watch_position WHERE viewer_id=%" PRIu64
                               " AND video_id=%" PRIu64,
                               viewer.id, video),
                     60);

    r = sf_play(&viewer, video, NULL);
    assert_int_equal(r->resume_position_s, 60);
    sf_free(r);
    sf_clock_advance(30 * 1000);
    p = sf_pause(&viewer, video, 80, NULL);
    assert_int_equal(p->watch_s, 20);
    sf_free(p);
}

/* The lane knows the pair has no playback open, but one was opened behind its back: the Pause
 * must be decided on the row, not refused from what the lane knew. */
static void test_pause_decided_on_the_row_not_the_knowledge(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p;
    char sql[256];

    sf_free(sf_play(&viewer, video, NULL));
    sf_clock_advance(100 * 1000);
    sf_free(sf_pause(&viewer, video, 60, NULL));
    snprintf(sql, sizeof sql,
             "UPDATE watch_position SET play_from_s=0, play_started_ms=%" PRId64
             " WHERE viewer_id=%" PRIu64 " AND video_id=%" PRIu64,
             sf_now_ms() - 60 * 1000, viewer.id, video);
    sql_run(sql);
    p = sf_pause(&viewer, video, 30, NULL);
    assert_int_equal(p->credited_from_s, 0);
    assert_int_equal(p->credited_to_s, 30);
    assert_int_equal(p->watch_s, 30);
    sf_free(p);
}

/* A Pause on a pair that has no row: refused, nothing stored. */
static void test_pause_on_new_pair_refused_and_stores_nothing(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;

    assert_int_equal(vs_pause(viewer.client, video, 90, NULL, &p, &st), VS_FAILED_PRECONDITION);
    assert_null(p);
    assert_int_equal(
        sf_db_int("SELECT COUNT(*) FROM watch_position WHERE video_id=%" PRIu64, video), 0);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_after_window_leaves_no_claim),
        cmocka_unit_test(test_replay_and_new_play_together),
        cmocka_unit_test(test_row_changed_elsewhere_is_read_again),
        cmocka_unit_test(test_second_pause_refused_on_known_pair),
        cmocka_unit_test(test_pause_decided_on_the_row_not_the_knowledge),
        cmocka_unit_test(test_pause_on_new_pair_refused_and_stores_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
