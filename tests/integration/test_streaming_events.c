/* test_streaming_events.c — the play log as the record of every Play and Pause (docs/rules.md):
 * one committed row per call, event ids that make retries harmless (each user's ids its own),
 * authentication, and the business day of each event in Asia/Seoul. Real MariaDB and Redis;
 * vsd's injectable clock. */
#include <pthread.h>

#include "streaming_fixture.h"

static sf_user creator, viewer;

static int setup(void **state)
{
    if (sf_setup("events", NULL) != 0)
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

static int64_t rows_of_event(const char *event_id)
{
    return sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", event_id);
}

static void test_every_call_appends_one_committed_row(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    char play_id[33], pause_id[33];

    vs_event_id(play_id);
    vs_event_id(pause_id);
    sf_free(sf_play(&viewer, video, play_id));
    /* acknowledged means committed: a fresh connection sees the row at once */
    assert_int_equal(sf_db_int("SELECT kind FROM play_log WHERE event_id='%s'", play_id), 1);
    assert_int_equal(sf_db_int("SELECT viewer_id FROM play_log WHERE event_id='%s'", play_id),
                     (int64_t)viewer.id);
    sf_clock_advance(100 * 1000);
    sf_free(sf_pause(&viewer, video, 90, pause_id));
    assert_int_equal(sf_db_int("SELECT kind FROM play_log WHERE event_id='%s'", pause_id), 2);
    assert_int_equal(sf_db_int("SELECT watch_s FROM play_log WHERE event_id='%s'", pause_id), 90);
    assert_int_equal(sf_db_int("SELECT position_s FROM play_log WHERE event_id='%s'", pause_id),
                     90);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 2);
}

static void test_duplicate_event_id_returns_first_outcome(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *first, *again;
    Vs__V1__PauseResponse *p1, *p2;
    char play_id[33], pause_id[33];

    vs_event_id(play_id);
    vs_event_id(pause_id);
    first = sf_play(&viewer, video, play_id);
    assert_true(first->view_counted);
    again = sf_play(&viewer, video, play_id);
    /* not REPEAT: the same event, the same (first) outcome */
    assert_true(again->view_counted);
    assert_int_equal(again->reason, first->reason);
    assert_int_equal(again->resume_position_s, first->resume_position_s);
    assert_string_equal(again->business_day, first->business_day);
    sf_free(first);
    sf_free(again);
    assert_int_equal(rows_of_event(play_id), 1);

    sf_clock_advance(800 * 1000);
    p1 = sf_pause(&viewer, video, 700, pause_id);
    sf_clock_advance(60 * 1000); /* a replay later must not recompute with the new elapsed time */
    p2 = sf_pause(&viewer, video, 700, pause_id);
    assert_int_equal(p1->ad_views, 2);
    assert_int_equal(p2->ad_views, p1->ad_views);
    assert_int_equal(p2->watch_s, p1->watch_s);
    assert_int_equal(p2->credited_to_s, p1->credited_to_s);
    sf_free(p1);
    sf_free(p2);
    assert_int_equal(rows_of_event(pause_id), 1);
    /* the replay did not reopen or move anything */
    assert_int_equal(sf_db_int("SELECT position_s FROM watch_position WHERE video_id=%" PRIu64
                               " AND viewer_id=%" PRIu64,
                               video, viewer.id),
                     700);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM watch_position WHERE video_id=%" PRIu64
                               " AND play_started_ms IS NOT NULL",
                               video),
                     0);
}

static void test_same_event_id_different_body_already_exists(void **state)
{
    uint64_t video = sf_video(&creator, 1000), other = sf_video(&creator, 1000);
    Vs__V1__PlayResponse *r = NULL;
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;
    char play_id[33], pause_id[33];

    vs_event_id(play_id);
    vs_event_id(pause_id);
    sf_free(sf_play(&viewer, video, play_id));
    assert_int_equal(vs_play(viewer.client, other, play_id, &r, &st), VS_ALREADY_EXISTS);
    assert_non_null(strstr(st.message, "event_id"));
    assert_null(r);
    /* a Pause with a Play's id */
    assert_int_equal(vs_pause(viewer.client, video, 10, play_id, &p, &st), VS_ALREADY_EXISTS);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, other), 0);

    sf_clock_advance(100 * 1000);
    sf_free(sf_pause(&viewer, video, 50, pause_id));
    assert_int_equal(vs_pause(viewer.client, video, 60, pause_id, &p, &st), VS_ALREADY_EXISTS);
    assert_int_equal(rows_of_event(play_id), 1);
    assert_int_equal(rows_of_event(pause_id), 1);
}

/* Event ids are the caller's idempotency keys: another user's use of the same id is another
 * event with its own outcome, and neither user's calls answer with the other's outcome. */
static void test_same_event_id_from_two_users_is_two_events(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    sf_user other = sf_new_user("other");
    Vs__V1__PlayResponse *mine, *creators, *others, *again;
    Vs__V1__PauseResponse *p_mine, *p_creators, *p_again;
    char play_id[33], pause_id[33];

    vs_event_id(play_id);
    vs_event_id(pause_id);
    mine = sf_play(&viewer, video, play_id);
    assert_true(mine->view_counted);
    /* the creator's Play with the viewer's id: its own outcome (OWN_VIDEO), not the viewer's */
    creators = sf_play(&creator, video, play_id);
    assert_false(creators->view_counted);
    assert_int_equal(creators->reason, VS__V1__NOT_COUNTED_REASON__OWN_VIDEO);
    /* a third user's: its own counted view (its own Redis claim) */
    others = sf_play(&other, video, play_id);
    assert_true(others->view_counted);
    assert_int_equal(rows_of_event(play_id), 3);
    assert_int_equal(
        sf_db_int("SELECT COUNT(DISTINCT viewer_id) FROM play_log WHERE event_id='%s'", play_id),
        3);
    assert_int_equal(
        sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE video_id=%" PRIu64, video), 2);
    /* each replay answers its own caller's first outcome */
    again = sf_play(&viewer, video, play_id);
    assert_true(again->view_counted);
    assert_int_equal(again->reason, mine->reason);
    sf_free(again);
    again = sf_play(&creator, video, play_id);
    assert_false(again->view_counted);
    assert_int_equal(again->reason, VS__V1__NOT_COUNTED_REASON__OWN_VIDEO);
    sf_free(again);
    assert_int_equal(rows_of_event(play_id), 3);

    sf_clock_advance(100 * 1000);
    p_mine = sf_pause(&viewer, video, 90, pause_id);
    p_creators = sf_pause(&creator, video, 40, pause_id);
    assert_int_equal(p_mine->watch_s, 90);
    assert_int_equal(p_creators->watch_s, 40);
    p_again = sf_pause(&creator, video, 40, pause_id);
    assert_int_equal(p_again->watch_s, 40);
    sf_free(p_again);
    p_again = sf_pause(&viewer, video, 90, pause_id);
    assert_int_equal(p_again->watch_s, 90);
    sf_free(p_again);
    assert_int_equal(rows_of_event(pause_id), 2);
    assert_int_equal(sf_db_int("SELECT position_s FROM watch_position WHERE video_id=%" PRIu64
                               " AND viewer_id=%" PRIu64,
                               video, creator.id),
                     40);
    sf_free(mine);
    sf_free(creators);
    sf_free(others);
    sf_free(p_mine);
    sf_free(p_creators);
    sf_free_user(&other);
}

typedef struct resend {
    sf_user *user; /* NULL: viewer */
    uint64_t video;
    const char *event_id;
    pthread_barrier_t *start;
    int rc, counted;
} resend;

static void *resend_main(void *arg)
{
    resend *t = arg;
    Vs__V1__PlayResponse *r = NULL;
    vs_call_status st;

    pthread_barrier_wait(t->start);
    t->rc =
        vs_play(t->user != NULL ? t->user->client : viewer.client, t->video, t->event_id, &r, &st);
    if (r != NULL)
        t->counted = r->view_counted;
    sf_free(r);
    return NULL;
}

/* nng REQ resends can deliver one request several times at once: one row, one outcome. */
static void test_concurrent_resends_of_one_event_stored_once(void **state)
{
    enum { N = 16 };
    uint64_t video = sf_video(&creator, 1000);
    pthread_barrier_t start;
    pthread_t th[N];
    resend t[N];
    char id[33];

    vs_event_id(id);
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        t[i] = (resend){.video = video, .event_id = id, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, resend_main, &t[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].rc, VS_OK);
        assert_int_equal(t[i].counted, 1); /* every copy reports the one counted view */
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(rows_of_event(id), 1);
    assert_int_equal(
        sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE video_id=%" PRIu64, video), 1);
}

/* Calls deferred to the commit lanes and the lanes' rounds so far (a shallow Health). */
static void lane_counts(int64_t *deferred, int64_t *rounds)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;

    req.shallow = 1;
    if (vs_client_call_named(creator.client, &vs__v1__streaming_service__descriptor, "Health",
                             &req.base, (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    assert_non_null(resp->rpc);
    assert_non_null(resp->play);
    *deferred = (int64_t)resp->rpc->deferred;
    *rounds = (int64_t)resp->play->rounds;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* Waits until `n` calls have been handed to the lanes since `base` (bounded: 20 s). */
static void wait_deferred(int64_t base, int64_t n)
{
    int64_t deferred, rounds;

    for (int i = 0; i < 1000; i++) {
        lane_counts(&deferred, &rounds);
        if (deferred - base >= n)
            return;
        usleep(20 * 1000);
    }
    fail_msg("%lld of %lld calls reached the commit lane", (long long)(deferred - base),
             (long long)n);
}

static void *blocked_play_main(void *arg)
{
    resend *t = arg;
    Vs__V1__PlayResponse *r = NULL;
    vs_call_status st;

    t->rc = vs_play(viewer.client, t->video, NULL, &r, &st);
    sf_free(r);
    return NULL;
}

/* Users that send the same id in one commit round: one event each, all in that round, and the
 * first user's replay among them (queued last, so not first in the round) answers its own first
 * outcome. The round is made deterministic by holding the lane on a row lock of the test's own
 * (a bystander's watch_position row) until every call is queued. */
static void test_same_event_id_from_many_users_in_one_round_is_many_events(void **state)
{
    enum { N = 8 };
    sf_user users[N];
    uint64_t video;
    pthread_barrier_t start;
    pthread_t th[N], blocker;
    resend t[N], blocked = {0};
    int64_t deferred0, rounds0, deferred1, rounds1;
    char id[33];

    vs_event_id(id);
    for (int i = 0; i < N; i++)
        users[i] = sf_new_user("crowd");
    video = sf_video(&users[0], 1000); /* users[0]'s first outcome: OWN_VIDEO */
    sf_free(sf_play(&users[0], video, id));
    sf_free(sf_play(&viewer, video, NULL));

    assert_int_equal(mysql_query(sf.db, "START TRANSACTION"), 0);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM watch_position WHERE viewer_id=%" PRIu64
                               " AND video_id=%" PRIu64 " FOR UPDATE",
                               viewer.id, video),
                     1);
    lane_counts(&deferred0, &rounds0);
    blocked.video = video;
    assert_int_equal(pthread_create(&blocker, NULL, blocked_play_main, &blocked), 0);
    wait_deferred(deferred0, 1);
    pthread_barrier_init(&start, NULL, N - 1);
    for (int i = 1; i < N; i++) {
        t[i] = (resend){.user = &users[i], .video = video, .event_id = id, .start = &start};
        assert_int_equal(pthread_create(&th[i], NULL, resend_main, &t[i]), 0);
    }
    wait_deferred(deferred0, N);
    pthread_barrier_destroy(&start);
    pthread_barrier_init(&start, NULL, 1);
    t[0] = (resend){.user = &users[0], .video = video, .event_id = id, .start = &start};
    assert_int_equal(pthread_create(&th[0], NULL, resend_main, &t[0]), 0);
    wait_deferred(deferred0, N + 1);
    assert_int_equal(mysql_query(sf.db, "COMMIT"), 0);

    pthread_join(blocker, NULL);
    assert_int_equal(blocked.rc, VS_OK);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].rc, VS_OK);
        /* users[0]: its stored OWN_VIDEO; everyone else: a counted view of their own */
        assert_int_equal(t[i].counted, i > 0);
        sf_free_user(&users[i]);
    }
    pthread_barrier_destroy(&start);
    /* the blocked round, then one round for all N (not one round per user) */
    lane_counts(&deferred1, &rounds1);
    assert_int_equal(rounds1 - rounds0, 2);
    assert_int_equal(rows_of_event(id), N);
    assert_int_equal(sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE event_id='%s'", id),
                     N - 1);
}

static void test_unauthenticated_play_refused(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    vs_client *anon = ts_client(sf.url, 10000);
    Vs__V1__PlayResponse *r = NULL;
    Vs__V1__PauseResponse *p = NULL;
    vs_call_status st;

    assert_int_equal(vs_play(anon, video, NULL, &r, &st), VS_UNAUTHENTICATED);
    assert_null(r);
    vs_client_set_token(anon, "not.a.token");
    assert_int_equal(vs_play(anon, video, NULL, &r, &st), VS_UNAUTHENTICATED);
    assert_int_equal(vs_pause(anon, video, 10, NULL, &p, &st), VS_UNAUTHENTICATED);
    vs_client_close(anon);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 0);
}

/* One Play at 23:59:59.x and one at 00:00:00.x Seoul time: two business days. The clock is set
 * just before each call; if the machine stalled so long that the first call landed after
 * midnight (the stored receive time tells), the pair is repeated one day later. */
static void test_business_day_splits_at_seoul_midnight(void **state)
{
    for (int attempt = 0;; attempt++) {
        uint64_t video = sf_video(&creator, 1000);
        int64_t midnight = sf_next_local_noon_ms() + 12 * 3600 * 1000, got_before, got_after;
        Vs__V1__PlayResponse *before, *after;
        char before_id[33], after_id[33], expect[11];
        business_date day;

        assert_true(attempt < 3);
        vs_event_id(before_id);
        vs_event_id(after_id);
        sf_clock_jump_to(midnight - 1000);
        sf_login(&viewer);
        sf_clock_jump_to(midnight - 1000);
        before = sf_play(&viewer, video, before_id);
        sf_clock_jump_to(midnight);
        after = sf_play(&viewer, video, after_id);
        got_before =
            sf_db_int("SELECT received_at_ms FROM play_log WHERE event_id='%s'", before_id);
        got_after = sf_db_int("SELECT received_at_ms FROM play_log WHERE event_id='%s'", after_id);
        if (got_before >= midnight) {
            fprintf(stderr, "23:59:59 Play received after midnight (%lld ms late), again\n",
                    (long long)(got_before - midnight));
            sf_free(before);
            sf_free(after);
            continue;
        }
        assert_true(got_after >= midnight);
        day = window_day_of(midnight);
        window_format(day - 1, expect);
        assert_string_equal(before->business_day, expect);
        assert_int_equal(sf_db_int("SELECT DATEDIFF(day, '1970-01-01') FROM play_log WHERE "
                                   "event_id='%s'",
                                   before_id),
                         day - 1);
        window_format(day, expect);
        assert_string_equal(after->business_day, expect);
        assert_int_equal(sf_db_int("SELECT DATEDIFF(day, '1970-01-01') FROM play_log WHERE "
                                   "event_id='%s'",
                                   after_id),
                         day);
        sf_free(before);
        sf_free(after);
        return;
    }
}

/* A player of the clean-stop test: Plays on its own client until one fails, remembering the
 * event ids vsd acknowledged. */
typedef struct stop_player {
    sf_user u;
    uint64_t video;
    char (*ids)[33];
    int acked, max;
} stop_player;

static void *stop_player_main(void *arg)
{
    stop_player *p = arg;

    while (p->acked < p->max) {
        Vs__V1__PlayResponse *r = NULL;
        vs_call_status st;

        vs_event_id(p->ids[p->acked]);
        if (vs_play(p->u.client, p->video, p->ids[p->acked], &r, &st) != VS_OK)
            break;
        sf_free(r);
        p->acked++;
    }
    return NULL;
}

/* SIGTERM with Plays in flight: vsd stops every thread (RPC workers, commit lanes and their
 * answering threads, the background loops) and exits with status 0 within 5 s, and every Play it
 * acknowledged is in the play log. Last in this file: vsd is gone afterwards. */
static void test_vsd_stops_cleanly_on_sigterm_with_plays_in_flight(void **state)
{
    enum { PLAYERS = 4, MAX = 20000 };
    stop_player p[PLAYERS];
    pthread_t th[PLAYERS];
    uint64_t video;
    int64_t t0;
    int total = 0, stopped;

    sf_login(&creator); /* the tests before moved the clock */
    video = sf_video(&creator, 1000);

    for (int i = 0; i < PLAYERS; i++) {
        p[i] = (stop_player){.u = sf_new_user("stopper"), .video = video, .max = MAX};
        /* a short deadline: a call caught by the stop fails in 2 s instead of 20 */
        vs_client_close(p[i].u.client);
        p[i].u.client = ts_client(sf.url, 2000);
        sf_login(&p[i].u);
        p[i].ids = calloc(MAX, sizeof *p[i].ids);
        assert_non_null(p[i].ids);
        assert_int_equal(pthread_create(&th[i], NULL, stop_player_main, &p[i]), 0);
    }
    t0 = ts_mono_ms();
    for (int i = 0; i < PLAYERS; i++) /* every player under way (bounded: 10 s) */
        while (p[i].acked < 20 && ts_mono_ms() - t0 < 10000)
            usleep(5 * 1000);
    stopped = ts_stop(sf.vsd);
    sf.vsd = -1;
    for (int i = 0; i < PLAYERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(stopped, 0);
    for (int i = 0; i < PLAYERS; i++) {
        assert_true(p[i].acked >= 20);
        assert_true(p[i].acked < MAX);
        for (int k = 0; k < p[i].acked; k++)
            if (rows_of_event(p[i].ids[k]) != 1)
                fail_msg("acknowledged Play %s is not in the play log", p[i].ids[k]);
        total += p[i].acked;
        free(p[i].ids);
        sf_free_user(&p[i].u);
    }
    fprintf(stderr, "stopped with Plays in flight: %d acknowledged, all in the play log\n", total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call_appends_one_committed_row),
        cmocka_unit_test(test_duplicate_event_id_returns_first_outcome),
        cmocka_unit_test(test_same_event_id_different_body_already_exists),
        cmocka_unit_test(test_same_event_id_from_two_users_is_two_events),
        cmocka_unit_test(test_concurrent_resends_of_one_event_stored_once),
        cmocka_unit_test(test_same_event_id_from_many_users_in_one_round_is_many_events),
        cmocka_unit_test(test_unauthenticated_play_refused),
        cmocka_unit_test(test_business_day_splits_at_seoul_midnight),
        cmocka_unit_test(test_vsd_stops_cleanly_on_sigterm_with_plays_in_flight),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
