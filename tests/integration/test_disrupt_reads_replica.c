/* test_disrupt_reads_replica.c — replica routing of the read path: reads go to the
 * replica while it keeps up; when it is unreachable, lags past VS_REPLICA_MAX_LAG_MS (SQL thread
 * stopped while the primary moves on) or its process is stopped, they are answered by the primary
 * and Health says so; when it recovers they return to it, with the same vsd. Which server
 * answered is observed on the servers themselves (Com_stmt_execute: the read path's prepared
 * statements). Stops replication and the replica process of the shared stack: runs serially. */
#include "reads_fixture.h"

#include <signal.h>

static rf_user creator;
static uint64_t video;
static MYSQL *replica;

/* These cases are about where the SQL path's statements go: the in-memory read model (which
 * answers settled days without any) is off; test_reads_model.c covers it. */
static const char *const fast_routing[] = {"VS_REPLICA_MAX_LAG_MS=300", "VS_REPLICA_CHECK_MS=50",
                                           "VS_READ_MODEL=off", NULL};

static int setup(void **state)
{
    if (rf_setup("reads-replica", fast_routing) != 0)
        return -1;
    creator = rf_new_user("replica-creator");
    video = rf_video(&creator, "routing test video");
    rf_day_state("1999-06-01", 4);
    rf_video_day(video, creator.id, "1999-06-01", 1000, 100, 10, 0, 0);
    rf_replica_catch_up();
    rf_wait_settled(&creator, video, "1999-06-01");
    replica = ts_db_replica();
    return 0;
}

static int teardown(void **state)
{
    if (replica != NULL) {
        mysql_query(replica, "START SLAVE SQL_THREAD");
        mysql_close(replica);
    }
    rf_free_user(&creator);
    rf_teardown();
    return 0;
}

/* Prepared statements executed so far by a server (its global status counter). */
static int64_t stmt_executions(MYSQL *db)
{
    char err[256], text[64];
    MYSQL_RES *res;
    MYSQL_ROW row;

    if (mysql_query(db, "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'") != 0 ||
        (res = mysql_store_result(db)) == NULL)
        fail_msg("SHOW GLOBAL STATUS: %s", mysql_error(db));
    row = mysql_fetch_row(res);
    snprintf(text, sizeof text, "%s", row && row[1] ? row[1] : "0");
    mysql_free_result(res);
    (void)err;
    return strtoll(text, NULL, 10);
}

/* The week's views of the test video as GetVideoStats answers them on url. */
static int64_t week_views(const char *url)
{
    vs_client *c = ts_client(url, 20000);
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    int64_t views;

    vs_client_set_token(c, creator.token);
    if (vs_video_stats(c, video, VS__V1__PERIOD__WEEK, "1999-06-01", &s, &st) != VS_OK)
        fail_msg("GetVideoStats: %s %s", vs_status_name(st.code), st.message);
    views = s->views;
    rf_free(s);
    vs_client_close(c);
    return views;
}

static void test_reads_go_to_the_replica_while_it_keeps_up(void **state)
{
    int64_t r0 = stmt_executions(replica), p0 = stmt_executions(rf.db);
    uint64_t f0, f1;
    int on_primary;

    rf_health(rf.url, &on_primary, &f0);
    assert_false(on_primary);
    for (int i = 0; i < 20; i++)
        assert_int_equal(week_views(rf.url), 1000);
    assert_true(stmt_executions(replica) - r0 >= 20);
    assert_true(stmt_executions(rf.db) - p0 < 20);
    rf_health(rf.url, &on_primary, &f1);
    assert_int_equal(f1, f0);
}

static void test_unreachable_replica_reads_answered_by_primary(void **state)
{
    static char dead[600];
    const char *env[] = {dead, "VS_REPLICA_CHECK_MS=50", "VS_READ_MODEL=off", NULL};
    char url[512], u[512], *at;
    int64_t p0;
    uint64_t f0, f1;
    int on_primary;
    pid_t vsd;

    /* the replica's URL with port 1, where nothing listens */
    snprintf(u, sizeof u, "%s", getenv("VS_DB_REPLICA"));
    at = strrchr(u, ':');
    assert_non_null(at);
    *at = '\0';
    snprintf(dead, sizeof dead, "VS_DB_REPLICA=%s:1/vs", u);
    vsd = rf_setup_vsd("reads-dead-replica", env, url, sizeof url);
    assert_true(vsd > 0);
    rf_health(url, &on_primary, &f0);
    assert_true(on_primary);
    p0 = stmt_executions(rf.db);
    for (int i = 0; i < 10; i++)
        assert_int_equal(week_views(url), 1000);
    assert_true(stmt_executions(rf.db) - p0 >= 10);
    rf_health(url, &on_primary, &f1);
    assert_true(on_primary);
    assert_true(f1 >= f0 + 10);
    ts_stop(vsd);
}

/* With the SQL thread stopped, a write on the primary leaves the replica behind; past the bound
 * the reads move to the primary (and see the write), and come back once replication resumes. */
static void test_replica_lagging_past_bound_falls_back_then_returns(void **state)
{
    uint64_t f0, f1, f2;
    int on_primary;
    int64_t r0;

    assert_int_equal(mysql_query(replica, "STOP SLAVE SQL_THREAD"), 0);
    rf_health(rf.url, &on_primary, &f0);
    rf_day_state("1999-06-02", 4);
    rf_video_day(video, creator.id, "1999-06-02", 234, 10, 1, 1000, 10);
    rf_wait_reads_on_primary(rf.url, 1);
    /* only the primary has 06-02: answering it proves where the read went */
    assert_int_equal(week_views(rf.url), 1234);
    rf_health(rf.url, &on_primary, &f1);
    assert_true(f1 > f0);
    assert_int_equal(mysql_query(replica, "START SLAVE SQL_THREAD"), 0);
    rf_wait_reads_on_primary(rf.url, 0);
    r0 = stmt_executions(replica);
    assert_int_equal(week_views(rf.url), 1234);
    assert_true(stmt_executions(replica) > r0);
    rf_health(rf.url, &on_primary, &f2);
    assert_int_equal(f2, f1);
}

/* A video created a moment ago is unknown to a lagging replica; the read path asks the primary
 * before saying NOT_FOUND (with a bound so large that the lag never moves the reads). */
static void test_new_video_found_while_replica_lags(void **state)
{
    const char *env[] = {"VS_REPLICA_MAX_LAG_MS=3600000", "VS_READ_MODEL=off", NULL};
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    char url[512];
    uint64_t fresh;
    int on_primary;
    uint64_t f;
    pid_t vsd = rf_setup_vsd("reads-lagging", env, url, sizeof url);
    vs_client *c;

    assert_true(vsd > 0);
    assert_int_equal(mysql_query(replica, "STOP SLAVE SQL_THREAD"), 0);
    fresh = rf_video(&creator, "created while the replica lags");
    assert_int_equal(rf_int_on(replica, "SELECT COUNT(*) FROM videos WHERE id = %" PRIu64, fresh),
                     0);
    c = ts_client(url, 20000);
    vs_client_set_token(c, creator.token);
    assert_int_equal(vs_video_stats(c, fresh, VS__V1__PERIOD__DAY, "1999-06-01", &s, &st), VS_OK);
    assert_int_equal(s->video_id, fresh);
    rf_free(s);
    rf_health(url, &on_primary, &f);
    assert_false(on_primary);
    assert_int_equal(mysql_query(replica, "START SLAVE SQL_THREAD"), 0);
    vs_client_close(c);
    ts_stop(vsd);
}

static void test_replica_process_stopped_then_restarted(void **state)
{
    pid_t pid = ts_stack_pid("replica/mariadb");
    int64_t r0;
    int on_primary;
    uint64_t f0, f1;

    assert_true(pid > 0);
    mysql_close(replica);
    replica = NULL;
    rf_health(rf.url, &on_primary, &f0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    for (int i = 0; i < 1200 && kill(pid, 0) == 0; i++)
        usleep(50 * 1000);
    assert_int_not_equal(kill(pid, 0), 0);
    /* at once, even before the monitor notices: a failed replica read is retried on the primary */
    assert_int_equal(week_views(rf.url), 1234);
    rf_wait_reads_on_primary(rf.url, 1);
    assert_int_equal(week_views(rf.url), 1234);
    rf_health(rf.url, &on_primary, &f1);
    assert_true(f1 >= f0 + 2);
    /* the stack's own script starts it again; vsd is not restarted */
    assert_int_equal(
        ts_sh("VS_HOME=%s %s/tools/stack up >&2", getenv("VS_TEST_HOME"), VS_SOURCE_DIR), 0);
    replica = ts_db_replica();
    rf_wait_reads_on_primary(rf.url, 0);
    r0 = stmt_executions(replica);
    assert_int_equal(week_views(rf.url), 1234);
    assert_true(stmt_executions(replica) > r0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_go_to_the_replica_while_it_keeps_up),
        cmocka_unit_test(test_unreachable_replica_reads_answered_by_primary),
        cmocka_unit_test(test_replica_lagging_past_bound_falls_back_then_returns),
        cmocka_unit_test(test_new_video_found_while_replica_lags),
        cmocka_unit_test(test_replica_process_stopped_then_restarted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
