/* test_reads_model.c — vsd's in-memory read model of settled days (reads.h, docs/reads.md): every
 * read answered from memory is byte for byte the reply the SQL path gives (a second vsd with
 * VS_READ_MODEL=off on the same database), a forced re-run of a day is served as the new figures
 * and never as a mix, a day settled after start is picked up, and answers from memory run no
 * statement on the read server.
 *
 * Data: 1999-11-26 .. 1999-12-05 settled (two ISO weeks, the November/December boundary);
 * 1999-12-06 a re-run in progress (RUNNING) with leftover rows. A1 crosses the 100,000, 500,000
 * and 1,000,000 view bands; A2 and B1 are small, A3 has no plays at all. */
#include "reads_fixture.h"

#define N_DATES 9
static const char *const dates[N_DATES] = {"1999-11-25", "1999-11-26", "1999-11-28",
                                           "1999-11-30", "1999-12-01", "1999-12-03",
                                           "1999-12-05", "1999-12-06", "1999-12-07"};

static rf_user creator_a, creator_b, admin, viewer;
static uint64_t a[3], b[1];
static char sql_url[512];
static pid_t sql_vsd;
static size_t compared, answered;

/* The same user's client on the SQL-only vsd. */
typedef struct twin {
    rf_user *user;
    vs_client *sql;
} twin;
static twin twins[4];

static int setup(void **state)
{
    static const char *const model_on[] = {"VS_READ_MODEL=on", NULL};
    static const char *const model_off[] = {"VS_READ_MODEL=off", NULL};
    rf_user *users[4] = {&creator_a, &creator_b, &admin, &viewer};

    if (rf_setup("reads-model", model_on) != 0)
        return -1;
    if ((sql_vsd = rf_setup_vsd("reads-model-sql", model_off, sql_url, sizeof sql_url)) < 0)
        return -1;
    /* this file's days only (a re-run on the same stack starts over) */
    rf_sql("DELETE FROM batch_job WHERE name = 'daily-settlement' AND business_date BETWEEN "
           "'1999-11-01' AND '1999-12-31'");
    rf_sql("DELETE FROM video_daily_stats WHERE day BETWEEN '1999-11-01' AND '1999-12-31'");
    rf_sql("DELETE FROM video_cumulative WHERE day BETWEEN '1999-11-01' AND '1999-12-31'");
    rf_sql("DELETE FROM settlement_daily WHERE day BETWEEN '1999-11-01' AND '1999-12-31'");
    rf_sql("DELETE FROM video_top WHERE period_start BETWEEN '1999-11-01' AND '1999-12-31'");
    creator_a = rf_new_user("model-a");
    creator_b = rf_new_user("model-b");
    admin = rf_new_user("model-admin");
    viewer = rf_new_user("model-viewer");
    rf_make_admin(&admin);
    a[0] = rf_video(&creator_a, "A one");
    a[1] = rf_video(&creator_a, "A two");
    a[2] = rf_video(&creator_a, "A three, never played");
    b[0] = rf_video(&creator_b, "B one");
    for (int i = 0; i < 4; i++) {
        twins[i].user = users[i];
        twins[i].sql = ts_client(sql_url, 20000);
        vs_client_set_token(twins[i].sql, users[i]->token);
    }
    /* the rows first, then the days complete (the batch does both in one transaction) */
    rf_video_day(a[0], creator_a.id, "1999-11-26", 99990, 5000, 40, 0, 0);
    rf_video_day(a[0], creator_a.id, "1999-11-27", 30, 100, 2, 99990, 40);
    rf_video_day(a[0], creator_a.id, "1999-11-29", 499980, 90000, 99990, 100020, 42);
    rf_video_day(a[0], creator_a.id, "1999-11-30", 1, 1, 0, 600000, 100032);
    rf_video_day(a[0], creator_a.id, "1999-12-01", 400005, 70000, 10, 600001, 100032);
    rf_video_day(a[0], creator_a.id, "1999-12-06", 95, 9, 1, 1000006, 100042);
    rf_video_day(a[1], creator_a.id, "1999-11-28", 700, 70, 7, 0, 0);
    rf_video_day(a[1], creator_a.id, "1999-12-02", 300, 30, 3, 700, 7);
    rf_video_day(a[1], creator_a.id, "1999-12-03", 200, 20, 2, 1000, 10);
    rf_video_day(b[0], creator_b.id, "1999-11-28", 700, 80, 1, 0, 0);
    rf_video_day(b[0], creator_b.id, "1999-12-05", 10, 5, 0, 700, 1);
    for (int d = 26; d <= 35; d++) {
        char day[16];

        snprintf(day, sizeof day, "1999-%02d-%02d", d <= 30 ? 11 : 12, d <= 30 ? d : d - 30);
        rf_day_state(day, 4);
    }
    rf_day_state("1999-12-06", 2);
    rf_rank_period(2, "1999-11-22", "1999-11-28");
    rf_rank_period(2, "1999-11-29", "1999-12-05");
    rf_rank_period(3, "1999-11-01", "1999-11-30");
    rf_rank_period(3, "1999-12-01", "1999-12-31");
    rf_rank_period(1, "1999-11-28", "1999-11-28");
    rf_replica_catch_up();
    rf_wait_settled(&creator_a, a[0], "1999-12-05");
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < 4; i++) {
        vs_client_close(twins[i].sql);
        rf_free_user(twins[i].user);
    }
    ts_stop(sql_vsd);
    rf_teardown();
    return 0;
}

/* The same request on a model vsd's client and on a SQL-only one: the same status and message, or
 * byte-identical replies. `answered` counts the requests both answered with VS_OK: each case
 * checks it got the answers it expects, so two paths that fail alike cannot pass a case. */
static void same_reply_on(vs_client *model, vs_client *sql, const char *method,
                          const ProtobufCMessage *req)
{
    ProtobufCMessage *m = NULL, *s = NULL;
    vs_call_status ms, ss;
    int mrc =
        vs_client_call_named(model, &vs__v1__streaming_service__descriptor, method, req, &m, &ms);
    int src =
        vs_client_call_named(sql, &vs__v1__streaming_service__descriptor, method, req, &s, &ss);

    if (mrc != src || (mrc != VS_OK && strcmp(ms.message, ss.message) != 0))
        fail_msg("%s: model %s \"%s\", SQL %s \"%s\"", method, vs_status_name(mrc), ms.message,
                 vs_status_name(src), ss.message);
    if (mrc == VS_OK) {
        size_t mlen = protobuf_c_message_get_packed_size(m);
        uint8_t *mb = malloc(mlen + 1), *sb = malloc(protobuf_c_message_get_packed_size(s) + 1);

        assert_non_null(mb);
        assert_non_null(sb);
        assert_int_equal(protobuf_c_message_pack(s, sb), mlen);
        protobuf_c_message_pack(m, mb);
        if (memcmp(mb, sb, mlen) != 0)
            fail_msg("%s: the model's reply differs from the SQL path's", method);
        free(mb);
        free(sb);
    }
    rf_free(m);
    rf_free(s);
    compared++;
    answered += mrc == VS_OK;
}

static void same_reply(twin *t, const char *method, const ProtobufCMessage *req)
{
    same_reply_on(t->user->client, t->sql, method, req);
}

static void stats_both(twin *t, uint64_t video, int period, const char *date)
{
    Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;

    req.video_id = video;
    req.period = period;
    req.date = (char *)date;
    same_reply(t, "GetVideoStats", &req.base);
}

static void settle_both(twin *t, uint64_t video, uint64_t creator, int period, const char *date,
                        int breakdown, uint32_t limit)
{
    Vs__V1__GetSettlementRequest req = VS__V1__GET_SETTLEMENT_REQUEST__INIT;

    req.video_id = video;
    req.creator_id = creator;
    req.period = period;
    req.date = (char *)date;
    req.breakdown = breakdown;
    req.limit = limit;
    same_reply(t, "GetSettlement", &req.base);
}

/* Com_stmt_execute of the read server: every SQL-path read runs at least one statement. */
static int64_t read_server_executes(void)
{
    MYSQL *replica = ts_db_replica();
    int64_t n = ts_db_int(replica, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                   "WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'");

    mysql_close(replica);
    return n;
}

/* How many statements 200 GetVideoStats of video (period, date) cost on the read server. */
static int64_t executes_of_200_reads(vs_client *c, uint64_t video, int period, const char *date)
{
    int64_t before = read_server_executes();

    for (int i = 0; i < 200; i++) {
        Vs__V1__VideoStats *s = NULL;
        vs_call_status st;

        if (vs_video_stats(c, video, period, date, &s, &st) != VS_OK)
            fail_msg("GetVideoStats: %s", st.message);
        rf_free(s);
    }
    return read_server_executes() - before;
}

/* Waits (at most 30 s) until the model vsd answers video's period from memory: 200 reads cost
 * fewer than 20 statements on the read server (other tests share it, hence the retries; the
 * routing monitor's queries are not statements). */
static void wait_from_memory(uint64_t video, int period, const char *date)
{
    for (int i = 0; i < 100; i++) {
        if (executes_of_200_reads(creator_a.client, video, period, date) < 20)
            return;
        usleep(200 * 1000);
    }
    fail_msg("the read model never answered video %" PRIu64 " on %s", video, date);
}

static void wait_model_loaded(void)
{
    wait_from_memory(a[0], VS__V1__PERIOD__MONTH, "1999-11-30");
    wait_from_memory(a[0], VS__V1__PERIOD__MONTH, "1999-12-01");
}

static void test_every_read_from_memory_equals_the_sql_reply(void **state)
{
    const uint64_t videos[5] = {a[0], a[1], a[2], b[0], UINT64_C(900000000002)};
    static const int periods[3] = {VS__V1__PERIOD__DAY, VS__V1__PERIOD__WEEK,
                                   VS__V1__PERIOD__MONTH};
    size_t answered0 = answered;

    wait_model_loaded();
    for (int p = 0; p < 3; p++) {
        for (int d = 0; d < N_DATES; d++) {
            for (int u = 0; u < 4; u++) {
                for (int v = 0; v < 5; v++) {
                    stats_both(&twins[u], videos[v], periods[p], dates[d]);
                    settle_both(&twins[u], videos[v], 0, periods[p], dates[d], 0, 0);
                    settle_both(&twins[u], videos[v], 0, periods[p], dates[d], 1, 0);
                }
                /* a creator's own videos, and an admin's view of each creator */
                settle_both(&twins[u], 0, 0, periods[p], dates[d], d % 2, 0);
                settle_both(&twins[u], 0, creator_a.id, periods[p], dates[d], 1, 0);
                settle_both(&twins[u], 0, creator_b.id, periods[p], dates[d], 0, 1);
                settle_both(&twins[u], 0, UINT64_C(900000000003), periods[p], dates[d], 0, 0);
            }
        }
    }
    assert_int_equal(compared, 3 * N_DATES * 4 * (5 * 3 + 4));
    /* Answered with figures, per period and date (a creator sees their own videos, an admin all;
     * an unknown video or creator is NOT_FOUND, another's PERMISSION_DENIED): creator A 3 videos
     * x 3 calls + own + A = 11, creator B 3 + own + B = 5, the admin 4 x 3 + own + A + B = 15,
     * the viewer (no videos) own = 1. */
    assert_int_equal(answered - answered0, 3 * N_DATES * (11 + 5 + 15 + 1));
}

static void test_top_lists_equal_the_sql_reply(void **state)
{
    size_t answered0 = answered;

    for (int d = 0; d < N_DATES; d++) {
        for (int period = VS__V1__PERIOD__DAY; period <= VS__V1__PERIOD__MONTH; period++) {
            for (int metric = VS__V1__METRIC__VIEWS; metric <= VS__V1__METRIC__WATCH_TIME;
                 metric++) {
                for (int u = 0; u < 3; u++) {
                    Vs__V1__GetTopVideosRequest req = VS__V1__GET_TOP_VIDEOS_REQUEST__INIT;

                    req.period = period;
                    req.date = (char *)dates[d];
                    req.metric = metric;
                    req.scope = u == 2 ? VS__V1__SCOPE__ALL : VS__V1__SCOPE__MINE;
                    req.limit = 100;
                    same_reply(&twins[u], "GetTopVideos", &req.base);
                }
            }
        }
    }
    /* every list answered: the creators' own (MINE) and the admin's of all creators (ALL) */
    assert_int_equal(answered - answered0, N_DATES * 3 * 2 * 3);
}

/* A2's views on 12-02 and 12-03 before and after the re-run, and the watch seconds of each. */
#define OLD_02 300
#define OLD_03 200
#define NEW_02 333
#define NEW_03 222

/* A forced re-run re-opens 12-02 and every later settled day, then completes them again with new
 * figures, each day's rows in the transaction that completes it (as the batch's merge does). */
static void rerun_day(const char *day, int64_t views, int64_t views_before)
{
    rf_sql("START TRANSACTION");
    rf_sql("DELETE FROM video_daily_stats WHERE video_id = %" PRIu64 " AND day = '%s'", a[1], day);
    rf_sql("DELETE FROM video_cumulative WHERE video_id = %" PRIu64 " AND day = '%s'", a[1], day);
    rf_sql("DELETE FROM settlement_daily WHERE video_id = %" PRIu64 " AND day = '%s'", a[1], day);
    rf_video_day(a[1], creator_a.id, day, views, views / 10, 0, views_before, 0);
    rf_sql("UPDATE batch_job SET state = 4, finished_ms = finished_ms + 1000 WHERE name = "
           "'daily-settlement' AND business_date = '%s'",
           day);
    rf_sql("COMMIT");
}

static Vs__V1__VideoStats *stats_of(rf_user *u, uint64_t video);

/* Each settled day of A2's week must show one completion's figures: views and watch seconds of
 * the same run (watch = views / 10 in both), old or new. */
static int check_week_not_mixed(void)
{
    Vs__V1__VideoStats *s = stats_of(&creator_a, a[1]);
    int new_figures = 1;

    for (size_t i = 0; i < s->n_days; i++) {
        const Vs__V1__DayStats *d = s->days[i];

        if (!d->settled)
            continue;
        if (strcmp(d->date, "1999-12-02") == 0 || strcmp(d->date, "1999-12-03") == 0) {
            int64_t old = d->date[9] == '2' ? OLD_02 : OLD_03,
                    fresh = d->date[9] == '2' ? NEW_02 : NEW_03;
            assert_true(d->views == old || d->views == fresh);
            assert_int_equal(d->watch_s, d->views / 10);
            new_figures &= d->views == fresh;
        }
    }
    new_figures &= s->days_settled == 7;
    rf_free(s);
    return new_figures;
}

static Vs__V1__VideoStats *stats_of(rf_user *u, uint64_t video)
{
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;

    if (vs_video_stats(u->client, video, VS__V1__PERIOD__WEEK, "1999-12-02", &s, &st) != VS_OK)
        fail_msg("GetVideoStats: %s", st.message);
    return s;
}

static void test_forced_rerun_is_served_as_the_new_figures_never_a_mix(void **state)
{
    static const char *const reopened[4] = {"1999-12-02", "1999-12-03", "1999-12-04", "1999-12-05"};
    size_t answered0 = answered;
    int done = 0;

    wait_from_memory(a[1], VS__V1__PERIOD__WEEK, "1999-12-02");
    assert_false(check_week_not_mixed()); /* the old figures */
    for (int i = 0; i < 4; i++)
        rf_day_state(reopened[i], 2);
    check_week_not_mixed();
    rerun_day("1999-12-02", NEW_02, 700);
    check_week_not_mixed();
    rerun_day("1999-12-03", NEW_03, 700 + NEW_02);
    check_week_not_mixed();
    for (int i = 2; i < 4; i++)
        rf_sql("UPDATE batch_job SET state = 4, finished_ms = finished_ms + 1000 WHERE name = "
               "'daily-settlement' AND business_date = '%s'",
               reopened[i]);
    for (int i = 0; i < 200 && !done; i++) { /* up to 10 s for the snapshot and the replica */
        done = check_week_not_mixed();
        if (!done)
            usleep(50 * 1000);
    }
    assert_true(done);
    /* and it is the model that serves them, the same as the SQL path */
    wait_from_memory(a[1], VS__V1__PERIOD__WEEK, "1999-12-02");
    assert_true(check_week_not_mixed());
    for (int period = VS__V1__PERIOD__DAY; period <= VS__V1__PERIOD__MONTH; period++) {
        stats_both(&twins[0], a[1], period, "1999-12-03");
        settle_both(&twins[0], a[1], 0, period, "1999-12-03", 1, 0);
        settle_both(&twins[0], 0, 0, period, "1999-12-03", 1, 0);
    }
    assert_int_equal(answered - answered0, 3 * 3); /* creator A's own video and videos */
}

static void test_day_settled_after_start_is_picked_up(void **state)
{
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    size_t answered0 = answered;

    /* 12-06's re-run completes: its leftover rows are replaced in the completing transaction */
    rf_sql("START TRANSACTION");
    rf_sql("DELETE FROM video_daily_stats WHERE day = '1999-12-06'");
    rf_sql("DELETE FROM video_cumulative WHERE day = '1999-12-06'");
    rf_sql("DELETE FROM settlement_daily WHERE day = '1999-12-06'");
    rf_video_day(a[0], creator_a.id, "1999-12-06", 50, 6, 1, 1000006, 100042);
    rf_sql("UPDATE batch_job SET state = 4, finished_ms = 7 WHERE name = 'daily-settlement' AND "
           "business_date = '1999-12-06'");
    rf_sql("COMMIT");
    rf_wait_settled(&creator_a, a[0], "1999-12-06");
    /* the SQL-only vsd refreshes its batch snapshot on its own schedule: compare once it has too */
    rf_wait_settled_on(twins[0].sql, a[0], "1999-12-06");
    wait_from_memory(a[0], VS__V1__PERIOD__DAY, "1999-12-06");
    assert_int_equal(
        vs_video_stats(creator_a.client, a[0], VS__V1__PERIOD__DAY, "1999-12-06", &s, &st), VS_OK);
    assert_int_equal(s->views, 50);
    assert_true(s->complete);
    rf_free(s);
    for (int period = VS__V1__PERIOD__DAY; period <= VS__V1__PERIOD__MONTH; period++) {
        stats_both(&twins[0], a[0], period, "1999-12-06");
        settle_both(&twins[0], a[0], 0, period, "1999-12-06", 1, 0);
        settle_both(&twins[2], 0, creator_a.id, period, "1999-12-06", 1, 0);
    }
    assert_int_equal(answered - answered0, 3 * 3); /* creator A's, and the admin's view of A */
}

/* The same 200 reads: no statement at all from memory (a few may be other tests'), at least one
 * each on the SQL path. */
/* The model's figures as Health reports them on c's vsd. */
static Vs__V1__HealthResponse *model_health(vs_client *c)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *h = NULL;
    vs_call_status st;

    req.shallow = 1;
    if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                             (ProtobufCMessage **)&h, &st) != VS_OK)
        fail_msg("Health: %s", st.message);
    assert_non_null(h->read_model);
    return h;
}

static void test_reads_from_memory_run_no_statement(void **state)
{
    Vs__V1__HealthResponse *before, *after, *off;

    wait_from_memory(a[0], VS__V1__PERIOD__MONTH, "1999-12-06");
    before = model_health(creator_a.client);
    assert_true(executes_of_200_reads(twins[0].sql, a[0], VS__V1__PERIOD__MONTH, "1999-12-06") >=
                200);
    wait_from_memory(a[0], VS__V1__PERIOD__MONTH, "1999-12-06");
    after = model_health(creator_a.client);
    /* Health tells an operator what the model holds and how much it answers */
    assert_true(after->read_model->enabled);
    assert_true(after->read_model->days >= 2);
    assert_true(after->read_model->rows > 0 && after->read_model->bytes > 0);
    assert_true(after->read_model->hits - before->read_model->hits >= 200);
    off = model_health(twins[0].sql);
    assert_false(off->read_model->enabled);
    assert_int_equal(off->read_model->hits, 0);
    rf_free(before);
    rf_free(after);
    rf_free(off);
}

/* VS_READ_MODEL_DAYS=2: only the newest two settled days of the stack are held; an older day is
 * read with SQL and still gives the same reply. */
static void test_model_holds_only_the_newest_days_asked(void **state)
{
    static const char *const bounded_env[] = {"VS_READ_MODEL=on", "VS_READ_MODEL_DAYS=2", NULL};
    Vs__V1__GetVideoStatsRequest req = VS__V1__GET_VIDEO_STATS_REQUEST__INIT;
    Vs__V1__HealthResponse *h = NULL, *h2;
    char url[512];
    pid_t pid = rf_setup_vsd("reads-model-bounded", bounded_env, url, sizeof url);
    size_t answered0 = answered;
    vs_client *c;
    uint64_t misses;

    assert_true(pid > 0);
    c = ts_client(url, 20000);
    vs_client_set_token(c, creator_a.token);
    for (int i = 0; i < 300; i++) { /* the two days load in well under a second */
        rf_free(h);
        h = model_health(c);
        if (h->read_model->days == 2)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal(h->read_model->days, 2);
    misses = h->read_model->misses;
    /* 1999-11-26 is older than other settled days of this file: not held, answered by SQL */
    req.video_id = a[0];
    req.period = VS__V1__PERIOD__DAY;
    req.date = "1999-11-26";
    same_reply_on(c, twins[0].sql, "GetVideoStats", &req.base);
    assert_int_equal(answered - answered0, 1);
    h2 = model_health(c);
    assert_true(h2->read_model->misses > misses);
    assert_int_equal(h2->read_model->days, 2);
    rf_free(h);
    rf_free(h2);
    vs_client_close(c);
    ts_stop(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_read_from_memory_equals_the_sql_reply),
        cmocka_unit_test(test_top_lists_equal_the_sql_reply),
        cmocka_unit_test(test_forced_rerun_is_served_as_the_new_figures_never_a_mix),
        cmocka_unit_test(test_day_settled_after_start_is_picked_up),
        cmocka_unit_test(test_reads_from_memory_run_no_statement),
        cmocka_unit_test(test_model_holds_only_the_newest_days_asked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
