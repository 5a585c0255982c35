/* test_disrupt_reads_primary_down.c — reads, and the token checks in front of them, keep working
 * while the MariaDB primary does not answer, before any failover. The primary is stopped with
 * SIGSTOP: its connections hang, as those of a dead host do, and SIGCONT restores it unchanged.
 *
 * - Routing: with the replica's IO thread stopped, a write it never receives makes it lag, and the
 *   reads move to the healthy primary (unchanged behaviour). Then the primary stops answering: the
 *   read caught on it is retried on the replica at once, the routing monitor moves the reads back
 *   to the replica (the lag cannot be measured without the primary, and a primary that does not
 *   answer cannot serve them), and they are answered there, stale by the write it lacks.
 * - Revocation: a vsd's new Redis connection reloads the revoked tokens before it is trusted. With
 *   the primary stopped the reload reads the replica, but only once the replica has applied what it
 *   received: while its SQL thread is stopped the check fails closed (a token revoked a moment
 *   before, whose Redis key was lost, is not accepted); once it has applied, calls are served and
 *   that token is refused.
 *
 * Stops the shared stack's primary and replication threads, so it runs serially (test_disrupt_*).
 */
#include "reads_fixture.h"

#include <signal.h>

#include "redis.h"

#define DAY1 "1999-06-01"
#define DAY2 "1999-06-02"

static rf_user creator;
static uint64_t video;
static MYSQL *replica;
static pid_t primary_pid;
static int primary_stopped;
static pid_t test_vsd = -1; /* the vsd a test started, stopped by teardown if the test failed */
static char *revoked;       /* the revocation test's logged-out token */

static int setup(void **state)
{
    static const char *const env[] = {"VS_READ_MODEL=off", NULL};

    if (rf_setup("reads-primary-down", env) != 0)
        return -1;
    creator = rf_new_user("primary-down-creator");
    video = rf_video(&creator, "read while the primary is down");
    rf_day_state(DAY1, 4);
    rf_video_day(video, creator.id, DAY1, 1000, 100, 10, 0, 0);
    rf_replica_catch_up();
    replica = ts_db_replica();
    primary_pid = ts_stack_pid("primary/mariadb");
    return primary_pid > 0 ? 0 : -1;
}

/* Whatever happened: the primary runs and replication is on again. */
static void restore_stack(void)
{
    if (primary_stopped) {
        kill(primary_pid, SIGCONT);
        primary_stopped = 0;
    }
    if (replica != NULL)
        mysql_query(replica, "START SLAVE");
}

/* After each test, passed or failed: the stack restored and the test's vsd stopped. */
static int test_teardown(void **state)
{
    restore_stack();
    ts_stop(test_vsd);
    test_vsd = -1;
    free(revoked);
    revoked = NULL;
    return 0;
}

static int teardown(void **state)
{
    test_teardown(state);
    if (replica != NULL)
        mysql_close(replica);
    rf_free_user(&creator);
    rf_teardown();
    return 0;
}

/* SIGSTOPs the primary and waits until the kernel shows it stopped. */
static void stop_primary(void)
{
    char path[64], stat[512], *after;
    int stopped = 0;

    assert_int_equal(kill(primary_pid, SIGSTOP), 0);
    primary_stopped = 1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)primary_pid);
    for (int i = 0; i < 500 && !stopped; i++) {
        FILE *f = fopen(path, "r");

        assert_non_null(f);
        stat[0] = '\0';
        if (fgets(stat, sizeof stat, f) == NULL)
            stat[0] = '\0';
        fclose(f);
        after = strrchr(stat, ')'); /* "pid (comm) S ...": the state follows the name */
        stopped = after != NULL && after[1] == ' ' && after[2] == 'T';
        if (!stopped)
            usleep(10000);
    }
    assert_true(stopped);
}

static void resume_primary(void)
{
    assert_int_equal(kill(primary_pid, SIGCONT), 0);
    primary_stopped = 0;
}

static void replica_sql(const char *sql)
{
    if (mysql_query(replica, sql) != 0)
        fail_msg("replica: %s: %s", sql, mysql_error(replica));
}

/* GetVideoStats of the test video's week on url with token: the status; *views the week's views
 * when it succeeded, *st the status and message. */
static int week_stats(const char *url, const char *token, int64_t *views, vs_call_status *st)
{
    vs_client *c = ts_client(url, 20000);
    Vs__V1__VideoStats *s = NULL;
    int rc;

    memset(st, 0, sizeof *st);
    vs_client_set_token(c, token);
    rc = vs_video_stats(c, video, VS__V1__PERIOD__WEEK, DAY1, &s, st);
    *views = rc == VS_OK ? s->views : -1;
    rf_free(s);
    vs_client_close(c);
    return rc;
}

/* The week's views on url as the creator; fails the test when the call fails. */
static int64_t week_views(const char *url)
{
    vs_call_status st;
    int64_t views;

    if (week_stats(url, creator.token, &views, &st) != VS_OK)
        fail_msg("GetVideoStats: %s %s", vs_status_name(st.code), st.message);
    return views;
}

/* The primary's GTID position now (to wait for on the replica later). */
static void primary_position(char *pos, size_t len)
{
    char err[256];

    assert_int_equal(db_query_text(rf.db, "SELECT @@gtid_binlog_pos", pos, len, err, sizeof err),
                     VS_OK);
}

static void replica_wait_for(const char *pos)
{
    assert_int_equal(rf_int_on(replica, "SELECT MASTER_GTID_WAIT('%s', 30)", pos), 0);
}

/* One RPC thread, and every token check on the Redis path (no subscriber): the thread's Redis
 * connection is vetted at its first check and never again, so the only reloads of revocations
 * are the ones a test makes happen. The monitor checks every second and gives a primary that does
 * not answer 5 s; a read gives it 1 s (VS_DB_IO_TIMEOUT_S). */
static void test_reads_stay_on_the_replica_while_the_primary_does_not_answer(void **state)
{
    const char *env[] = {"VS_THREADS=1",
                         "VS_AUTH_REVOCATION_PUSH=0",
                         "VS_REPLICA_CHECK_MS=1000",
                         "VS_REPLICA_MAX_LAG_MS=300",
                         "VS_DB_IO_TIMEOUT_S=1",
                         "VS_READ_MODEL=off",
                         NULL};
    char url[512], pos[512];
    int64_t views = 0;

    test_vsd = rf_setup_vsd("reads-primary-down-route", env, url, sizeof url);
    assert_true(test_vsd > 0);
    rf_wait_reads_on_primary(url, 0);
    assert_int_equal(week_views(url), 1000);

    /* a write the replica never receives: it lags, and the reads move to the healthy primary */
    replica_sql("STOP SLAVE IO_THREAD");
    rf_day_state(DAY2, 4);
    rf_video_day(video, creator.id, DAY2, 234, 10, 1, 1000, 10);
    primary_position(pos, sizeof pos);
    rf_wait_reads_on_primary(url, 1);
    assert_int_equal(week_views(url), 1234); /* only the primary has DAY2 */

    stop_primary();
    /* The monitor still sends the reads to the primary (its own probe waits 5 s): this one times
     * out there after 1 s and is answered by the replica, without DAY2. */
    assert_int_equal(week_views(url), 1000);
    /* then the monitor routes them to the replica itself */
    rf_wait_reads_on_primary(url, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(week_views(url), 1000);

    /* the primary back and replication on: the replica catches up and the reads see DAY2 */
    resume_primary();
    replica_sql("START SLAVE IO_THREAD");
    replica_wait_for(pos);
    rf_wait_reads_on_primary(url, 0);
    /* vsd learns that DAY2 is settled at the monitor's next round on the replica */
    for (int i = 0; i < 100 && (views = week_views(url)) != 1234; i++)
        usleep(100 * 1000);
    assert_int_equal(views, 1234);
    assert_int_equal(ts_stop(test_vsd), 0);
    test_vsd = -1;
}

/* The same settings, with a monitor that notices the stopped primary within a second or two. */
static void
test_revocations_reload_from_the_replica_once_it_has_applied_what_it_received(void **state)
{
    const char *env[] = {"VS_THREADS=1",           "VS_AUTH_REVOCATION_PUSH=0",
                         "VS_REPLICA_CHECK_MS=50", "VS_DB_IO_TIMEOUT_S=1",
                         "VS_READ_MODEL=off",      NULL};
    char url[512], pos[512], jti[64], sql[160], err[256];
    /* the video's views, all in DAY1's week (the test above may have added DAY2) */
    int64_t week =
        rf_int("SELECT SUM(views) FROM video_daily_stats WHERE video_id = %" PRIu64, video);
    vs_client *second = ts_client(rf.url, 20000);
    redis_conn *redis = NULL;
    redisReply *reply = NULL;
    vs_call_status st;
    int64_t views;

    /* A second token of the creator, logged out while the replica receives (semi-sync: before the
     * Logout goes on to Redis) but does not apply; then its Redis key is lost, as a Redis restart
     * losing the last second of its AOF would lose it. The vsd under test starts afterwards with no
     * subscriber: only a reload can tell it the token is revoked. */
    assert_int_equal(vs_user_login(second, creator.email, RF_PASSWORD, &revoked, NULL, NULL, &st),
                     VS_OK);
    replica_sql("STOP SLAVE SQL_THREAD");
    assert_int_equal(vs_user_logout(second, &st), VS_OK);
    vs_client_close(second);
    snprintf(sql, sizeof sql, "SELECT jti FROM auth_revoked_token WHERE user_id = %" PRIu64,
             creator.id);
    assert_int_equal(db_query_text(rf.db, sql, jti, sizeof jti, err, sizeof err), VS_OK);
    primary_position(pos, sizeof pos);
    if (redis_open(getenv("VS_REDIS"), 2000, &redis, err, sizeof err) != VS_OK)
        fail_msg("redis: %s", err);
    assert_int_equal(redis_command(redis, &reply, err, sizeof err, "DEL auth:revoked:%s", jti),
                     VS_OK);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    redis_close(redis);
    test_vsd = rf_setup_vsd("reads-primary-down-auth", env, url, sizeof url);
    assert_true(test_vsd > 0);

    stop_primary();
    /* the reload cannot read the primary, and the replica has not applied the revocation: the
     * check fails closed rather than accept the revoked token */
    assert_int_equal(week_stats(url, revoked, &views, &st), VS_UNAVAILABLE);
    assert_non_null(strstr(st.message, "cannot check the access token"));

    /* the replica applies what it received: the reload reads it there, calls are served (by the
     * replica: the primary still does not answer) and the revoked token is refused */
    replica_sql("START SLAVE SQL_THREAD");
    replica_wait_for(pos);
    if (week_stats(url, creator.token, &views, &st) != VS_OK)
        fail_msg("GetVideoStats with the primary stopped: %s %s", vs_status_name(st.code),
                 st.message);
    assert_int_equal(views, week);
    assert_int_equal(week_stats(url, revoked, &views, &st), VS_UNAUTHENTICATED);

    resume_primary();
    assert_int_equal(week_stats(url, revoked, &views, &st), VS_UNAUTHENTICATED);
    assert_int_equal(week_views(url), week);
    assert_int_equal(ts_stop(test_vsd), 0);
    test_vsd = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reads_stay_on_the_replica_while_the_primary_does_not_answer,
                                  test_teardown),
        cmocka_unit_test_teardown(
            test_revocations_reload_from_the_replica_once_it_has_applied_what_it_received,
            test_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
