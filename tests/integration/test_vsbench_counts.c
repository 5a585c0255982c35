/* test_vsbench_counts.c — vsbench's loops, driven by asynchronous calls, account for every
 * request: asked for N measured requests, the closed loop (callers restarting from their done
 * functions) and the open loop (one scheduler thread) each report exactly N, all answered, and
 * exit cleanly (the sanitizer build fails the exit status on a leak). The play scenario's N
 * requests are N Play+Pause pairs, so play_log grows by exactly 2N rows, and it reports N Plays
 * acknowledged; the mixed scenario's acknowledged Plays are exactly its Play rows in play_log
 * (what tools/soak checks); the login scenario logs in N times. Not a measure of speed (fast
 * password hashing). */
#include "testsupport.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vs/streaming.h>
#include <vs/user.h>

#define BENCH_PASSWORD "vsbench-counts-password-1"

static char vsd_url[512];
static pid_t vsd_pid;

static int start_vsd(void **state)
{
    static const char *const env[] = {"VS_THREADS=8", "VS_PWHASH_INSECURE_TEST_PARAMS=1",
                                      "VS_PWHASH_OPSLIMIT=1", "VS_PWHASH_MEMLIMIT=65536", NULL};

    if (ts_stack_env() != 0)
        return -1;
    ts_ipc_url("vsbench-counts", vsd_url, sizeof vsd_url);
    vsd_pid = ts_start_vsd(vsd_url, env);
    return vsd_pid > 0 ? 0 : -1;
}

static int stop_vsd(void **state)
{
    ts_stop(vsd_pid);
    return 0;
}

/* Runs `vsbench --json ARGS` (ARGS ends with the scenario) against the test vsd, with
 * VSBENCH_PASSWORD set for scenarios that log in, and returns its report. */
static json_t *run_vsbench(const char *args)
{
    char out[600];
    json_error_t jerr;
    json_t *report;

    snprintf(out, sizeof out, "%s/vsbench-counts-%d.json", getenv("VS_TEST_HOME"), (int)getpid());
    assert_int_equal(ts_sh("VSBENCH_PASSWORD='%s' %s --url %s --json %s > %s", BENCH_PASSWORD,
                           ts_program("tools/vsbench"), vsd_url, args, out),
                     0);
    report = json_load_file(out, 0, &jerr);
    if (report == NULL)
        fail_msg("vsbench output: %s", jerr.text);
    unlink(out);
    return report;
}

static int64_t report_int(json_t *report, const char *key)
{
    json_t *v = json_object_get(report, key);

    assert_non_null(v);
    return json_integer_value(v);
}

/* 32 callers = 32 calls in flight, each restarted from its done function, stop at exactly 3,000
 * measured requests. */
static void test_closed_loop_measures_exactly_the_requested_count(void **state)
{
    json_t *report = run_vsbench("-c 32 -w 0.2 -n 3000 health");

    assert_string_equal(json_string_value(json_object_get(report, "mode")), "closed");
    assert_int_equal(report_int(report, "concurrency"), 32);
    assert_int_equal(report_int(report, "requests"), 3000);
    assert_int_equal(report_int(report, "ok"), 3000);
    assert_int_equal(report_int(report, "errors"), 0);
    json_decref(report);
}

/* 1,000 requests at 2,000/s: one due every 0.5 ms over 0.5 s, each sent and counted once. */
static void test_open_loop_sends_every_due_request_once(void **state)
{
    json_t *report = run_vsbench("-r 2000 -c 16 -w 0 -n 1000 health");

    assert_string_equal(json_string_value(json_object_get(report, "mode")), "open");
    assert_int_equal(report_int(report, "requests"), 1000);
    assert_int_equal(report_int(report, "ok"), 1000);
    assert_int_equal(report_int(report, "errors"), 0);
    json_decref(report);
}

/* A new account (unique email) signed up and logged in on the test vsd; its client carries the
 * token. */
static vs_client *new_user(const char *label, char *email, size_t len, uint64_t *id)
{
    vs_client *c = ts_client(vsd_url, 20000);
    vs_call_status st;

    snprintf(email, len, "%s-%d-%lld@vsbench.test", label, (int)getpid(), (long long)ts_mono_ms());
    if (vs_user_signup(c, email, BENCH_PASSWORD, label, id, &st) != VS_OK ||
        vs_user_login(c, email, BENCH_PASSWORD, NULL, NULL, id, &st) != VS_OK)
        fail_msg("%s: %s %s", email, vs_status_name(st.code), st.message);
    return c;
}

/* n videos of one creator with consecutive ids (vsbench takes --first-video and --videos);
 * another test's video created in between breaks the run, so that is tried again. */
static uint64_t consecutive_videos(vs_client *creator, int n)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        uint64_t first = 0, prev = 0;
        int ok = 1;

        for (int i = 0; i < n; i++) {
            Vs__V1__Video *v = NULL;
            vs_call_status st;

            if (vs_video_create(creator, "vsbench play video", 600, NULL, &v, &st) != VS_OK)
                fail_msg("CreateVideo: %s %s", vs_status_name(st.code), st.message);
            if (i == 0)
                first = v->id;
            else if (v->id != prev + 1)
                ok = 0;
            prev = v->id;
            protobuf_c_message_free_unpacked(&v->base, NULL);
        }
        if (ok)
            return first;
    }
    fail_msg("could not create %d videos with consecutive ids", n);
    return 0;
}

/* 4 callers, 4 videos (one each), 200 measured Play+Pause pairs: 400 committed play_log rows. */
static void test_play_measures_the_count_and_logs_every_play_and_pause(void **state)
{
    char email[160], args[512];
    uint64_t viewer_id, creator_id;
    vs_client *creator = new_user("play-creator", email, sizeof email, &creator_id);
    vs_client *viewer = new_user("play-viewer", email, sizeof email, &viewer_id);
    uint64_t first = consecutive_videos(creator, 4);
    MYSQL *db = ts_db_primary();
    json_t *report;

    assert_int_equal(
        ts_db_int(db, "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64, viewer_id), 0);
    snprintf(args, sizeof args,
             "-c 4 -w 0 -n 200 --first-video %" PRIu64 " --videos 4 --pause-at 30 --email %s play",
             first, email);
    report = run_vsbench(args);
    assert_string_equal(json_string_value(json_object_get(report, "scenario")), "play");
    assert_int_equal(report_int(report, "requests"), 200);
    assert_int_equal(report_int(report, "ok"), 200);
    assert_int_equal(report_int(report, "errors"), 0);
    assert_int_equal(report_int(report, "plays_acked"), 200);
    /* every call is answered only after its row committed: no waiting needed */
    assert_int_equal(
        ts_db_int(db, "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64 " AND kind = 1",
                  viewer_id),
        report_int(report, "ok"));
    assert_int_equal(
        ts_db_int(db, "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64 " AND kind = 2",
                  viewer_id),
        report_int(report, "ok"));
    assert_int_equal(ts_db_int(db,
                               "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64
                               " AND video_id NOT BETWEEN %" PRIu64 " AND %" PRIu64,
                               viewer_id, first, first + 3),
                     0);
    json_decref(report);
    mysql_close(db);
    vs_client_close(viewer);
    vs_client_close(creator);
}

/* 4 callers, 300 measured requests of the mixed scenario over one creator's own 4 videos (reads
 * of its own videos and top list, so no admin role needed): some are Play+Pause pairs, some
 * reads, all answered, and play_log holds one Play row per acknowledged Play and as many Pauses. */
static void test_mixed_reports_acknowledged_plays_as_logged(void **state)
{
    char email[160], args[512];
    uint64_t id;
    vs_client *user = new_user("mixed-user", email, sizeof email, &id);
    uint64_t first = consecutive_videos(user, 4);
    MYSQL *db = ts_db_primary();
    int64_t plays;
    json_t *report;

    snprintf(args, sizeof args,
             "-c 4 -w 0 -n 300 --first-video %" PRIu64
             " --videos 4 --from 2026-10-01 --days 3 --mine --play-share 50 --email %s mixed",
             first, email);
    report = run_vsbench(args);
    assert_string_equal(json_string_value(json_object_get(report, "scenario")), "mixed");
    assert_int_equal(report_int(report, "requests"), 300);
    assert_int_equal(report_int(report, "ok"), 300);
    plays = report_int(report, "plays_acked");
    /* 300 draws at even odds: all of one kind has a chance of 2^-299 */
    assert_true(plays > 0 && plays < 300);
    assert_int_equal(
        ts_db_int(db, "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64 " AND kind = 1",
                  id),
        plays);
    assert_int_equal(
        ts_db_int(db, "SELECT COUNT(*) FROM play_log WHERE viewer_id = %" PRIu64 " AND kind = 2",
                  id),
        plays);
    json_decref(report);
    mysql_close(db);
    vs_client_close(user);
}

/* 2 callers, 20 measured Logins of one account, all successful. */
static void test_login_measures_the_count_without_errors(void **state)
{
    char email[160], args[400];
    uint64_t id;
    vs_client *user = new_user("login-user", email, sizeof email, &id);
    json_t *report;

    snprintf(args, sizeof args, "-c 2 -w 0 -n 20 --email %s login", email);
    report = run_vsbench(args);
    assert_string_equal(json_string_value(json_object_get(report, "scenario")), "login");
    assert_int_equal(report_int(report, "requests"), 20);
    assert_int_equal(report_int(report, "ok"), 20);
    assert_int_equal(report_int(report, "errors"), 0);
    assert_int_equal(json_object_size(json_object_get(report, "errors_by_status")), 0);
    json_decref(report);
    vs_client_close(user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop_measures_exactly_the_requested_count),
        cmocka_unit_test(test_open_loop_sends_every_due_request_once),
        cmocka_unit_test(test_play_measures_the_count_and_logs_every_play_and_pause),
        cmocka_unit_test(test_mixed_reports_acknowledged_plays_as_logged),
        cmocka_unit_test(test_login_measures_the_count_without_errors),
    };
    return cmocka_run_group_tests(tests, start_vsd, stop_vsd);
}
