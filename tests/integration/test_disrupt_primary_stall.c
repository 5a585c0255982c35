/* test_disrupt_primary_stall.c — a primary that accepts connections but cannot commit (here: a
 * global read lock, as a full disk "waiting for someone to free space" does) must not hold Plays
 * forever: with VS_DB_IO_TIMEOUT_S=2 a Play fails UNAVAILABLE within a bound, Health reports the
 * primary degraded with the stall, and once the lock is gone the same event ids succeed, each
 * stored and counted once — whether or not the timed-out round's COMMIT landed after all.
 * Locks the test stack's primary, so it runs serially. */
#include <sys/wait.h>
#include <vs/v1/streaming.pb-c.h>

#include "streaming_fixture.h"

#define IO_TIMEOUT_S 2
#define STALLED_PLAYS 3
/* A stalled Play waits for at most its round's read and write (each up to the I/O timeout) and a
 * reconnect; twice that, and a second more, is generous. */
#define FAIL_WITHIN_MS (2 * (2 * IO_TIMEOUT_S + 2) * 1000 + 1000)

static sf_user creator, viewer;
static MYSQL *root; /* holds the lock */

static int setup(void **state)
{
    static const char *const env[] = {"VS_DB_IO_TIMEOUT_S=2", NULL};

    if (sf_setup("primary-stall", env) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    /* root over the unix socket (the stack's unix_socket login): FLUSH TABLES needs RELOAD */
    root = mysql_init(NULL);
    if (mysql_real_connect(root, NULL, "root", NULL, NULL, 0, getenv("VS_DB_PRIMARY_SOCKET"), 0) ==
        NULL) {
        fprintf(stderr, "root on the primary: %s\n", mysql_error(root));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    mysql_close(root); /* releases the lock, whatever happened */
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

/* A deep Health; the caller frees it. */
static Vs__V1__HealthResponse *health(void)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_call_status st;

    if (vs_client_call_named(viewer.client, &vs__v1__streaming_service__descriptor, "Health",
                             &req.base, (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    assert_string_equal(resp->components[0]->name, "mariadb-primary");
    return resp;
}

/* `vsctl health` as an operator sees it: its exit status, and its output in out. */
static int vsctl_health(char *out, size_t outlen)
{
    char cmd[1200];
    size_t n;
    FILE *p;

    snprintf(cmd, sizeof cmd, "%s --url '%s' health", ts_program("client/vsctl"), sf.url);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    return WEXITSTATUS(pclose(p));
}

static void test_stalled_commits_fail_unavailable_in_bound_and_retries_count_once(void **state)
{
    uint64_t videos[STALLED_PLAYS];
    char ids[STALLED_PLAYS][33], text[4096];
    Vs__V1__HealthResponse *h;
    Vs__V1__PlayResponse *play;
    vs_call_status st;

    for (int i = 0; i < STALLED_PLAYS; i++) {
        videos[i] = sf_video(&creator, 600);
        sf_free(sf_play(&creator, videos[i], NULL)); /* cached: the viewer's Plays go to the lane */
        vs_event_id(ids[i]);
    }
    assert_int_equal(mysql_query(root, "FLUSH TABLES WITH READ LOCK"), 0);

    for (int i = 0; i < STALLED_PLAYS; i++) {
        int64_t t0 = ts_mono_ms(), took;

        play = NULL;
        assert_int_equal(vs_play(viewer.client, videos[i], ids[i], &play, &st), VS_UNAVAILABLE);
        took = ts_mono_ms() - t0;
        fprintf(stderr, "stalled Play %d: UNAVAILABLE after %lld ms: %s\n", i, (long long)took,
                st.message);
        assert_true(took < FAIL_WITHIN_MS);
        assert_non_null(strstr(st.message, "retry with the same event_id"));
    }

    /* the primary still answers a ping, but is reported degraded, naming the stall */
    h = health();
    assert_true(h->primary_degraded);
    assert_false(h->components[0]->up);
    assert_non_null(strstr(h->components[0]->detail, "Play commits stalled"));
    assert_true(h->play->commit_stalled_ms >= 1000);
    assert_true(h->play->round_timeouts >= 1);
    sf_free(h);
    assert_int_equal(vsctl_health(text, sizeof text), 3);
    fprintf(stderr, "%s", text);
    assert_non_null(strstr(text, "DEGRADED"));
    assert_non_null(strstr(text, "Play commits stalled"));

    assert_int_equal(mysql_query(root, "UNLOCK TABLES"), 0);
    /* what the timed-out rounds left running on the server now ends, one way or the other */
    for (int i = 0;
         i < 100 && ts_db_int(root, "SELECT COUNT(*) FROM information_schema.INNODB_TRX") > 0; i++)
        usleep(100 * 1000);

    /* a round given up on is ended on the server when the lane reconnects (the next round), so
     * nothing of the earlier ones lands after their callers were told to retry; the last one's
     * COMMIT may land at the UNLOCK, which its retry must then find */
    for (int i = 0; i < STALLED_PLAYS - 1; i++)
        assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", ids[i]), 0);
    fprintf(stderr, "rows of the last stalled Play before its retry: %lld\n",
            (long long)sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'",
                                 ids[STALLED_PLAYS - 1]));

    /* the same event ids again (twice): one row each, counted once, the same answer */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < STALLED_PLAYS; i++) {
            play = sf_play(&viewer, videos[i], ids[i]);
            assert_true(play->view_counted);
            sf_free(play);
            assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", ids[i]),
                             1);
            assert_int_equal(
                sf_db_int("SELECT SUM(view_counted) FROM play_log WHERE video_id=%" PRIu64
                          " AND viewer_id=%" PRIu64,
                          videos[i], viewer.id),
                1);
        }
    /* live counters: never more than the one view (a COMMIT that landed after its round had
     * failed was not counted live; the batch counts it from play_log) */
    for (int i = 0; i < STALLED_PLAYS; i++) {
        Vs__V1__LiveStats *live = NULL;

        assert_int_equal(vs_live_stats(creator.client, videos[i], &live, &st), VS_OK);
        assert_true(live->views <= 1);
        sf_free(live);
    }

    /* commits flow again: no longer degraded */
    play = sf_play(&viewer, sf_video(&creator, 600), NULL);
    sf_free(play);
    h = health();
    assert_false(h->primary_degraded);
    assert_true(h->components[0]->up);
    assert_int_equal(h->play->commit_stalled_ms, 0);
    sf_free(h);
}

/* The lane's round waits for a row another session has locked: the caller is told UNAVAILABLE,
 * and the server session still waiting is ended when the lane reconnects, so the event is not
 * committed behind its caller's back once the lock goes (it is, when the caller retries). */
static void test_round_given_up_on_is_not_committed_after_its_callers_were_failed(void **state)
{
    uint64_t video = sf_video(&creator, 600), other = sf_video(&creator, 600);
    MYSQL *blocker = ts_db_primary();
    Vs__V1__PlayResponse *play = NULL;
    vs_call_status st;
    char id[33];
    int64_t t0;

    sf_free(sf_play(&creator, other, NULL)); /* cached */
    sf_free(sf_play(&viewer, video, NULL));  /* the lane now knows the pair: no read next time */
    assert_int_equal(mysql_query(blocker, "START TRANSACTION"), 0);
    assert_int_equal(ts_db_int(blocker,
                               "SELECT COUNT(*) FROM (SELECT position_s FROM watch_position WHERE "
                               "viewer_id=%" PRIu64 " AND video_id=%" PRIu64
                               " FOR UPDATE) AS locked",
                               viewer.id, video),
                     1);

    vs_event_id(id);
    t0 = ts_mono_ms();
    assert_int_equal(vs_play(viewer.client, video, id, &play, &st), VS_UNAVAILABLE);
    assert_true(ts_mono_ms() - t0 < FAIL_WITHIN_MS);
    /* the next round reconnects (and ends the session left waiting) */
    sf_free(sf_play(&viewer, other, NULL));
    assert_int_equal(mysql_query(blocker, "COMMIT"), 0);
    mysql_close(blocker);
    for (int i = 0;
         i < 100 && ts_db_int(root, "SELECT COUNT(*) FROM information_schema.INNODB_TRX") > 0; i++)
        usleep(100 * 1000);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", id), 0);

    sf_free(sf_play(&viewer, video, id));
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE event_id='%s'", id), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_commits_fail_unavailable_in_bound_and_retries_count_once),
        cmocka_unit_test(test_round_given_up_on_is_not_committed_after_its_callers_were_failed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
