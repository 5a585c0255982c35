/* test_reads_queries.c — GetVideoStats, GetTopVideos and GetSettlement against known data in the
 * batch's tables, every figure checked against direct SQL on those tables; who may see
 * what; periods that are not (fully) settled; bad input. Data: March 1999 (reads_fixture.h).
 *
 *   days 1999-03-01..03-10 settled; 03-11 "re-run in progress" (RUNNING) with its old rows;
 *   A1: 0 → 550,000 views on 03-01, → 1,150,000 on 03-02 (the rules.md worked check), 10 on 03-09,
 *       777 on the unsettled 03-11;  A2..A6 and B1 smaller, A2 and B1 tie on week views. */
#include "reads_fixture.h"

#include <sys/stat.h>

#define WEEK "1999-03-03"  /* Wednesday of the ISO week 1999-03-01..03-07 */
#define MONTH "1999-03-15" /* March 1999: 10 of 31 days settled */

static rf_user creator_a, creator_b, admin, viewer;
static uint64_t a[6], b[2];

static int setup(void **state)
{
    static const int64_t small[5] = {500, 400, 300, 200, 100};
    char title[64];

    if (rf_setup("reads-queries", NULL) != 0)
        return -1;
    creator_a = rf_new_user("creator-a");
    creator_b = rf_new_user("creator-b");
    admin = rf_new_user("admin");
    viewer = rf_new_user("viewer");
    rf_make_admin(&admin);
    for (int i = 0; i < 6; i++) {
        snprintf(title, sizeof title, "A video %d", i + 1);
        a[i] = rf_video(&creator_a, title);
    }
    b[0] = rf_video(&creator_b, "B video 1");
    b[1] = rf_video(&creator_b, "B video 2");
    for (int d = 1; d <= 10; d++) {
        char day[16];
        snprintf(day, sizeof day, "1999-03-%02d", d);
        rf_day_state(day, 4);
    }
    rf_day_state("1999-03-11", 2);
    rf_video_day(a[0], creator_a.id, "1999-03-01", 550000, 1000, 30, 0, 0);
    rf_video_day(a[0], creator_a.id, "1999-03-02", 600000, 2000, 20, 550000, 30);
    rf_video_day(a[0], creator_a.id, "1999-03-09", 10, 5, 0, 1150000, 50);
    rf_video_day(a[0], creator_a.id, "1999-03-11", 777, 77, 7, 1150010, 50);
    for (int i = 1; i < 6; i++) {
        char day[16];
        snprintf(day, sizeof day, "1999-03-%02d", i + 2);
        rf_video_day(a[i], creator_a.id, day, small[i - 1], 50, 5, 0, 0);
    }
    rf_video_day(b[0], creator_b.id, "1999-03-03", 500, 60, 1, 0, 0);
    rf_video_day(b[1], creator_b.id, "1999-03-08", 1000, 10, 3, 0, 0);
    rf_rank_period(2, "1999-03-01", "1999-03-07");
    rf_rank_period(2, "1999-03-08", "1999-03-14");
    rf_rank_period(3, "1999-03-01", "1999-03-31");
    rf_rank_period(1, "1999-03-03", "1999-03-03");
    rf_replica_catch_up();
    rf_wait_settled(&creator_a, a[0], "1999-03-10");
    return 0;
}

static int teardown(void **state)
{
    rf_free_user(&creator_a);
    rf_free_user(&creator_b);
    rf_free_user(&admin);
    rf_free_user(&viewer);
    rf_teardown();
    return 0;
}

/* SUM(col) of a video's daily stats over settled days in [first, last]. */
static int64_t sql_stat(const char *col, uint64_t video, const char *first, const char *last)
{
    return rf_int("SELECT SUM(d.%s) FROM video_daily_stats d JOIN batch_job j ON j.name = "
                  "'daily-settlement' AND j.business_date = d.day AND j.state = 4 WHERE "
                  "d.video_id = %" PRIu64 " AND d.day BETWEEN '%s' AND '%s'",
                  col, video, first, last);
}

static Vs__V1__VideoStats *stats(rf_user *u, uint64_t video, int period, const char *date,
                                 int expect)
{
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    int rc = vs_video_stats(u->client, video, period, date, &s, &st);

    if (rc != expect)
        fail_msg("GetVideoStats: expected %s, got %s: %s", vs_status_name(expect),
                 vs_status_name(rc), st.message);
    return s;
}

static void test_week_stats_equal_sql_sums_and_daily_series(void **state)
{
    Vs__V1__VideoStats *s = stats(&creator_a, a[0], VS__V1__PERIOD__WEEK, WEEK, VS_OK);

    assert_string_equal(s->from_date, "1999-03-01");
    assert_string_equal(s->to_date, "1999-03-07");
    assert_true(s->complete);
    assert_string_equal(s->status, "settled");
    assert_int_equal(s->days_settled, 7);
    assert_int_equal(s->views, sql_stat("views", a[0], "1999-03-01", "1999-03-07"));
    assert_int_equal(s->views, 1150000);
    assert_int_equal(s->watch_s, sql_stat("watch_s", a[0], "1999-03-01", "1999-03-07"));
    assert_int_equal(s->ad_views, sql_stat("ad_views", a[0], "1999-03-01", "1999-03-07"));
    assert_int_equal(s->n_days, 7);
    for (size_t i = 0; i < s->n_days; i++) {
        assert_true(s->days[i]->settled);
        assert_int_equal(s->days[i]->views,
                         sql_stat("views", a[0], s->days[i]->date, s->days[i]->date));
    }
    rf_free(s);
}

static void test_month_partly_settled_counts_settled_days_only(void **state)
{
    Vs__V1__VideoStats *s = stats(&creator_a, a[0], VS__V1__PERIOD__MONTH, MONTH, VS_OK);

    assert_false(s->complete);
    assert_int_equal(s->days_settled, 10);
    assert_int_equal(s->days_total, 31);
    assert_non_null(strstr(s->status, "partial: 10 of 31 days settled"));
    /* 03-11's leftover row of a re-run in progress is not a fact */
    assert_int_equal(s->views, sql_stat("views", a[0], "1999-03-01", "1999-03-31"));
    assert_int_equal(s->views, 1150010);
    assert_false(s->days[10]->settled);
    assert_int_equal(s->days[10]->views, 0);
    rf_free(s);
}

static void test_unsettled_day_says_not_settled_instead_of_zeros(void **state)
{
    Vs__V1__VideoStats *s = stats(&creator_a, a[0], VS__V1__PERIOD__DAY, "1999-03-11", VS_OK);

    assert_false(s->complete);
    assert_int_equal(s->days_settled, 0);
    assert_true(strncmp(s->status, "not settled", 11) == 0);
    assert_false(s->days[0]->settled);
    rf_free(s);
    /* a settled day without plays is a settled zero */
    s = stats(&creator_a, a[0], VS__V1__PERIOD__DAY, "1999-03-10", VS_OK);
    assert_true(s->complete);
    assert_int_equal(s->views, 0);
    rf_free(s);
}

static Vs__V1__TopVideos *top(rf_user *u, int period, const char *date, int metric, int scope,
                              uint32_t limit, int expect)
{
    Vs__V1__TopVideos *t = NULL;
    vs_call_status st;
    int rc = vs_top_videos(u->client, period, date, metric, scope, limit, &t, &st);

    if (rc != expect)
        fail_msg("GetTopVideos: expected %s, got %s: %s", vs_status_name(expect),
                 vs_status_name(rc), st.message);
    return t;
}

/* The n-th (1-based) video of an independent ranking over the settled daily stats. */
static int64_t sql_rank(int n, const char *col, const char *first, const char *last,
                        uint64_t creator)
{
    return rf_int(
        "SELECT video_id FROM (SELECT d.video_id, SUM(d.%s) s FROM video_daily_stats d "
        "JOIN batch_job j ON j.name = 'daily-settlement' AND j.business_date = d.day AND"
        " j.state = 4 WHERE d.day BETWEEN '%s' AND '%s' %s%.0" PRIu64
        " GROUP BY d.video_id HAVING s > 0) x ORDER BY s DESC, video_id LIMIT 1 OFFSET %d",
        col, first, last, creator ? "AND d.creator_id = " : "", creator ? creator : 0, n - 1);
}

static void test_top_week_by_views_default_five_ties_by_video_id(void **state)
{
    Vs__V1__TopVideos *t = top(&admin, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__VIEWS,
                               VS__V1__SCOPE__ALL, 0, VS_OK);

    assert_int_equal(t->n_entries, 5);
    assert_true(t->complete);
    for (size_t i = 0; i < t->n_entries; i++) {
        assert_int_equal(t->entries[i]->rank, i + 1);
        assert_int_equal(t->entries[i]->video_id,
                         sql_rank((int)i + 1, "views", "1999-03-01", "1999-03-07", 0));
    }
    /* A2 and B1 both have 500 views: the lower video id ranks first */
    assert_int_equal(t->entries[1]->video_id, a[1]);
    assert_int_equal(t->entries[2]->video_id, b[0]);
    assert_int_equal(t->entries[1]->value, 500);
    assert_int_equal(t->entries[2]->value, 500);
    assert_string_equal(t->entries[1]->title, "A video 2");
    assert_int_equal(t->entries[2]->creator_id, creator_b.id);
    rf_free(t);
}

static void test_top_by_watch_time_and_limit_bounds(void **state)
{
    Vs__V1__TopVideos *t = top(&admin, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__WATCH_TIME,
                               VS__V1__SCOPE__ALL, 100, VS_OK);

    /* the global list covers the whole store of settled videos with watch time */
    assert_int_equal(t->n_entries, 7);
    for (size_t i = 0; i < t->n_entries; i++)
        assert_int_equal(t->entries[i]->video_id,
                         sql_rank((int)i + 1, "watch_s", "1999-03-01", "1999-03-07", 0));
    rf_free(t);
    t = top(&admin, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 2,
            VS_OK);
    assert_int_equal(t->n_entries, 2);
    rf_free(t);
    top(&admin, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 101,
        VS_INVALID_ARGUMENT);
}

static void test_top_mine_ranks_only_the_callers_videos(void **state)
{
    Vs__V1__TopVideos *t = top(&creator_b, VS__V1__PERIOD__MONTH, MONTH, VS__V1__METRIC__VIEWS,
                               VS__V1__SCOPE__MINE, 10, VS_OK);

    assert_int_equal(t->n_entries, 2);
    assert_int_equal(t->entries[0]->video_id,
                     sql_rank(1, "views", "1999-03-01", "1999-03-31", creator_b.id));
    assert_int_equal(t->entries[0]->video_id, b[1]);
    assert_int_equal(t->entries[1]->video_id, b[0]);
    assert_false(t->complete);
    rf_free(t);
}

static void test_top_of_every_creator_needs_admin(void **state)
{
    vs_call_status st;
    Vs__V1__TopVideos *t = NULL;

    assert_int_equal(vs_top_videos(creator_a.client, VS__V1__PERIOD__WEEK, WEEK,
                                   VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 5, &t, &st),
                     VS_PERMISSION_DENIED);
    assert_true(strncmp(st.message, "scope:", 6) == 0);
}

static Vs__V1__Settlement *settle(rf_user *u, int period, const char *date, uint64_t video,
                                  uint64_t creator, int breakdown, int expect)
{
    vs_settlement_query q = {.period = period,
                             .date = date,
                             .video_id = video,
                             .creator_id = creator,
                             .breakdown = breakdown};
    Vs__V1__Settlement *s = NULL;
    vs_call_status st;
    int rc = vs_settlement(u->client, &q, &s, &st);

    if (rc != expect)
        fail_msg("GetSettlement: expected %s, got %s: %s", vs_status_name(expect),
                 vs_status_name(rc), st.message);
    return s;
}

/* SUM(col) of settlement_daily over settled days, of one video or (video 0) one creator. */
static int64_t sql_money(const char *col, uint64_t video, uint64_t creator, const char *first,
                         const char *last)
{
    return rf_int(
        "SELECT SUM(s.%s) FROM settlement_daily s JOIN batch_job j ON j.name = "
        "'daily-settlement' AND j.business_date = s.day AND j.state = 4 WHERE s.%s = %" PRIu64
        " AND s.day BETWEEN '%s' AND '%s'",
        col, video ? "video_id" : "creator_id", video ? video : creator, first, last);
}

/* docs/rules.md: lifetime 0 → 550,000 → 1,150,000 over two days earns 605,000 + 810,000 won. */
static void test_week_settlement_is_the_worked_example_with_exact_band_lines(void **state)
{
    Vs__V1__Settlement *s = settle(&creator_a, VS__V1__PERIOD__WEEK, WEEK, a[0], 0, 1, VS_OK);
    const Vs__V1__VideoSettlement *v;
    static const int64_t units[4] = {99999, 400000, 500000, 150001};
    int64_t sum = 0;

    assert_int_equal(s->n_videos, 1);
    v = s->videos[0];
    assert_int_equal(v->video_won, 1415000);
    assert_int_equal(v->video_won, sql_money("video_won", a[0], 0, "1999-03-01", "1999-03-07"));
    assert_int_equal(v->ad_won, sql_money("ad_won", a[0], 0, "1999-03-01", "1999-03-07"));
    assert_int_equal(v->ad_won, 500); /* 50 ad views at 10 won */
    assert_int_equal(v->total_won, v->video_won + v->ad_won);
    assert_int_equal(s->total_won, v->total_won);
    assert_int_equal(v->views, 1150000);
    assert_int_equal(v->rate_card_version, 1);
    assert_int_equal(v->creator_id, creator_a.id);
    assert_string_equal(v->title, "A video 1");
    assert_int_equal(v->n_video_bands, 4);
    for (size_t i = 0; i < v->n_video_bands; i++) {
        assert_int_equal(v->video_bands[i]->units, units[i]);
        assert_int_equal(v->video_bands[i]->amount_milli,
                         v->video_bands[i]->units * v->video_bands[i]->price_milli);
        sum += v->video_bands[i]->amount_milli;
    }
    /* the lines add up to the exact value the whole-won amounts were truncated from */
    assert_int_equal(sum, sql_money("video_exact_milli", a[0], 0, "1999-03-01", "1999-03-07"));
    assert_int_equal(sum, 1415000500);
    assert_int_equal(v->video_bands[1]->from_ordinal, 100000);
    assert_int_equal(v->video_bands[1]->to_ordinal, 499999);
    assert_int_equal(v->video_bands[1]->price_milli, 1100);
    assert_int_equal(v->video_bands[3]->to_ordinal, 0);
    assert_int_equal(v->n_ad_bands, 1);
    assert_int_equal(v->ad_bands[0]->amount_milli,
                     sql_money("ad_exact_milli", a[0], 0, "1999-03-01", "1999-03-07"));
    rf_free(s);
}

static void test_creator_settlement_lists_videos_and_their_total(void **state)
{
    Vs__V1__Settlement *s = settle(&creator_a, VS__V1__PERIOD__MONTH, MONTH, 0, 0, 0, VS_OK);

    assert_int_equal(s->n_videos, 6);
    assert_int_equal(s->videos_total, 6);
    assert_false(s->truncated);
    assert_int_equal(s->total_won,
                     sql_money("total_won", 0, creator_a.id, "1999-03-01", "1999-03-31"));
    for (size_t i = 1; i < s->n_videos; i++) /* highest total first */
        assert_true(s->videos[i - 1]->total_won >= s->videos[i]->total_won);
    assert_int_equal(s->videos[0]->video_id, a[0]);
    assert_int_equal(s->videos[0]->total_won,
                     sql_money("total_won", a[0], 0, "1999-03-01", "1999-03-31"));
    assert_false(s->complete);
    rf_free(s);
    /* an admin may ask for any creator's, and sees the same */
    s = settle(&admin, VS__V1__PERIOD__MONTH, MONTH, 0, creator_a.id, 0, VS_OK);
    assert_int_equal(s->total_won,
                     sql_money("total_won", 0, creator_a.id, "1999-03-01", "1999-03-31"));
    rf_free(s);
}

static void test_other_creators_figures_are_permission_denied(void **state)
{
    rf_free(stats(&creator_b, a[0], VS__V1__PERIOD__WEEK, WEEK, VS_PERMISSION_DENIED));
    rf_free(settle(&creator_b, VS__V1__PERIOD__WEEK, WEEK, a[0], 0, 0, VS_PERMISSION_DENIED));
    rf_free(
        settle(&creator_b, VS__V1__PERIOD__WEEK, WEEK, 0, creator_a.id, 0, VS_PERMISSION_DENIED));
    rf_free(stats(&viewer, b[0], VS__V1__PERIOD__DAY, "1999-03-03", VS_PERMISSION_DENIED));
    /* the admin sees every video */
    rf_free(stats(&admin, a[0], VS__V1__PERIOD__WEEK, WEEK, VS_OK));
}

static void test_unknown_video_or_creator_is_not_found(void **state)
{
    rf_free(stats(&admin, UINT64_C(900000000001), VS__V1__PERIOD__DAY, "1999-03-01", VS_NOT_FOUND));
    rf_free(settle(&admin, VS__V1__PERIOD__DAY, "1999-03-01", UINT64_C(900000000001), 0, 0,
                   VS_NOT_FOUND));
    rf_free(settle(&admin, VS__V1__PERIOD__DAY, "1999-03-01", 0, UINT64_C(900000000001), 0,
                   VS_NOT_FOUND));
}

static void test_bad_period_date_metric_name_the_field(void **state)
{
    Vs__V1__VideoStats *s = NULL;
    Vs__V1__TopVideos *t = NULL;
    vs_call_status st;

    assert_int_equal(vs_video_stats(creator_a.client, a[0], 0, WEEK, &s, &st), VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "period:", 7) == 0);
    assert_int_equal(
        vs_video_stats(creator_a.client, a[0], VS__V1__PERIOD__DAY, "1999-02-30", &s, &st),
        VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "date:", 5) == 0);
    assert_int_equal(vs_video_stats(creator_a.client, a[0], VS__V1__PERIOD__DAY, "", &s, &st),
                     VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "date:", 5) == 0);
    assert_int_equal(vs_top_videos(creator_a.client, VS__V1__PERIOD__DAY, "1999-03-01", 0,
                                   VS__V1__SCOPE__MINE, 5, &t, &st),
                     VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "metric:", 7) == 0);
}

static void test_unauthenticated_reads_refused(void **state)
{
    vs_client *anonymous = ts_client(rf.url, 10000);
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;

    assert_int_equal(vs_video_stats(anonymous, a[0], VS__V1__PERIOD__DAY, "1999-03-01", &s, &st),
                     VS_UNAUTHENTICATED);
    vs_client_close(anonymous);
}

/* A demoted admin's token still says admin; the read path re-checks users.role (cached for a
 * second per worker), so every-creator views close without waiting for the token to expire. */
static void test_demoted_admin_loses_every_creator_view(void **state)
{
    rf_user ex = rf_new_user("ex-admin");
    vs_call_status st;
    Vs__V1__TopVideos *t = NULL;
    int rc = VS_OK;

    rf_make_admin(&ex);
    rf_free(
        top(&ex, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 5, VS_OK));
    rf_sql("UPDATE users SET role = 2 WHERE id = %" PRIu64, ex.id);
    for (int i = 0; i < 200 && rc == VS_OK; i++) { /* up to 10 s: the cache and replica lag */
        rc = vs_top_videos(ex.client, VS__V1__PERIOD__WEEK, WEEK, VS__V1__METRIC__VIEWS,
                           VS__V1__SCOPE__ALL, 5, &t, &st);
        rf_free(t);
        t = NULL;
        if (rc == VS_OK)
            usleep(50 * 1000);
    }
    assert_int_equal(rc, VS_PERMISSION_DENIED);
    rf_free_user(&ex);
}

/* vsctl settlement show prints the docs/rules.md amount with separators and the currency. */
static void test_vsctl_settlement_shows_won_with_separators(void **state)
{
    char dir[512], path[600], cmd[2048], out[8192];
    size_t n;
    FILE *f, *p;

    snprintf(dir, sizeof dir, "%s/reads-vsctl-%d", getenv("VS_TEST_HOME"), (int)getpid());
    snprintf(path, sizeof path, "%s/vs", dir);
    assert_int_equal(ts_sh("mkdir -p %s && chmod 700 %s %s", path, dir, path), 0);
    snprintf(path, sizeof path, "%s/vs/token", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(creator_a.token, f);
    fclose(f);
    chmod(path, 0600);
    snprintf(cmd, sizeof cmd,
             "XDG_CONFIG_HOME=%s %s --url %s settlement show --period week --date %s --video "
             "%" PRIu64 " --breakdown",
             dir, ts_program("client/vsctl"), rf.url, WEEK, a[0]);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(out, "1,415,000 won video + 500 won ad = 1,415,500 won"));
    assert_non_null(strstr(out, "1,415,000.500 won")); /* the exact band-line sum */
    assert_non_null(strstr(out, "settled"));
    ts_sh("rm -rf %s", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_week_stats_equal_sql_sums_and_daily_series),
        cmocka_unit_test(test_month_partly_settled_counts_settled_days_only),
        cmocka_unit_test(test_unsettled_day_says_not_settled_instead_of_zeros),
        cmocka_unit_test(test_top_week_by_views_default_five_ties_by_video_id),
        cmocka_unit_test(test_top_by_watch_time_and_limit_bounds),
        cmocka_unit_test(test_top_mine_ranks_only_the_callers_videos),
        cmocka_unit_test(test_top_of_every_creator_needs_admin),
        cmocka_unit_test(test_week_settlement_is_the_worked_example_with_exact_band_lines),
        cmocka_unit_test(test_creator_settlement_lists_videos_and_their_total),
        cmocka_unit_test(test_other_creators_figures_are_permission_denied),
        cmocka_unit_test(test_unknown_video_or_creator_is_not_found),
        cmocka_unit_test(test_bad_period_date_metric_name_the_field),
        cmocka_unit_test(test_unauthenticated_reads_refused),
        cmocka_unit_test(test_demoted_admin_loses_every_creator_view),
        cmocka_unit_test(test_vsctl_settlement_shows_won_with_separators),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
