/* test_reads_cli.c — `vsctl stats video`, `vsctl stats top` and `vsctl settlement show` end to
 * end (docs/reads.md "Command line"): --json figures equal direct SQL on the batch's
 * tables, tables have a header, the right figures with thousands separators and amounts in won,
 * and --json works after the subcommand's arguments too.
 *
 * Data: the ISO week 1999-05-03..05-09, every day settled (reads_fixture.h).
 *   C1: 550,000 views on 05-03 and 600,000 on 05-04 (the rules.md worked check: 1,415,000 won) and
 *       50 ad views (500 won);  C2: 250,000 views, 99,999 watch seconds;  C3, C4 small;
 *   D1 (another creator): 300,000 views. */
#include "reads_fixture.h"

#include <jansson.h>
#include <sys/stat.h>

#define DATE "1999-05-05"
#define FIRST "1999-05-03"
#define LAST "1999-05-09"

static rf_user creator, other, admin;
static uint64_t c[4], d1;
static char creator_xdg[600], admin_xdg[600], out_path[700];

static int setup(void **state)
{
    if (rf_setup("reads-cli", NULL) != 0)
        return -1;
    creator = rf_new_user("cli-creator");
    other = rf_new_user("cli-other");
    admin = rf_new_user("cli-admin");
    rf_make_admin(&admin);
    for (int i = 0; i < 4; i++) {
        char title[32];
        snprintf(title, sizeof title, "cli video %d", i + 1);
        c[i] = rf_video(&creator, title);
    }
    d1 = rf_video(&other, "other video");
    for (int day = 3; day <= 9; day++) {
        char date[16];
        snprintf(date, sizeof date, "1999-05-%02d", day);
        rf_day_state(date, 4);
    }
    rf_video_day(c[0], creator.id, "1999-05-03", 550000, 12345, 30, 0, 0);
    rf_video_day(c[0], creator.id, "1999-05-04", 600000, 23456, 20, 550000, 30);
    rf_video_day(c[1], creator.id, "1999-05-05", 250000, 99999, 5, 0, 0);
    rf_video_day(c[2], creator.id, "1999-05-06", 1000, 50, 0, 0, 0);
    rf_video_day(c[3], creator.id, "1999-05-07", 10, 5, 0, 0, 0);
    rf_video_day(d1, other.id, "1999-05-05", 300000, 100, 0, 0, 0);
    rf_rank_period(2, FIRST, LAST);
    rf_replica_catch_up();
    rf_wait_settled(&creator, c[0], LAST);
    rf_save_token(&creator, creator_xdg, sizeof creator_xdg, "reads-cli-creator");
    rf_save_token(&admin, admin_xdg, sizeof admin_xdg, "reads-cli-admin");
    snprintf(out_path, sizeof out_path, "%s/reads-cli-%d.out", getenv("VS_TEST_HOME"),
             (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    ts_sh("rm -rf '%s' '%s' '%s'", creator_xdg, admin_xdg, out_path);
    rf_free_user(&creator);
    rf_free_user(&other);
    rf_free_user(&admin);
    rf_teardown();
    return 0;
}

static char out[16384];

/* Runs `vsctl --url URL ARGS` as the user of xdg; its stdout is in out. Asserts exit status 0. */
static void vsctl(const char *xdg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vsctl(const char *xdg, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    FILE *f;
    size_t n;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    status = ts_sh("XDG_CONFIG_HOME='%s' %s --url '%s' %s >'%s'", xdg, ts_program("client/vsctl"),
                   rf.url, args, out_path);
    f = fopen(out_path, "r");
    assert_non_null(f);
    n = fread(out, 1, sizeof out - 1, f);
    fclose(f);
    out[n] = '\0';
    if (status != 0)
        fail_msg("vsctl %s: exit %d, output:\n%s", args, status, out);
}

static json_t *out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);

    if (j == NULL)
        fail_msg("vsctl output is not JSON (%s):\n%s", e.text, out);
    return j;
}

static json_int_t jint(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);

    if (!json_is_integer(v))
        fail_msg("no integer \"%s\" in the JSON output", key);
    return json_integer_value(v);
}

static const char *id_text(uint64_t id)
{
    static char buf[4][32];
    static int next;
    char *b = buf[next++ % 4];

    snprintf(b, sizeof buf[0], "%" PRIu64, id);
    return b;
}

/* SUM(col) over settled days of the week from the batch's tables (video_daily_stats or
 * settlement_daily) of one video. */
static int64_t sql_sum(const char *table, const char *col, uint64_t video)
{
    return rf_int("SELECT SUM(t.%s) FROM %s t JOIN batch_job j ON j.name = 'daily-settlement' "
                  "AND j.business_date = t.day AND j.state = 4 WHERE t.video_id = %" PRIu64
                  " AND t.day BETWEEN '%s' AND '%s'",
                  col, table, video, FIRST, LAST);
}

/* The checks of `stats video C1 --json`, whichever place --json was given in. */
static void check_stats_video_json(void)
{
    json_t *j = out_json(), *days = json_object_get(j, "days");

    assert_int_equal(jint(j, "video_id"), c[0]);
    assert_string_equal(json_string_value(json_object_get(j, "period")), "week");
    assert_string_equal(json_string_value(json_object_get(j, "from")), FIRST);
    assert_true(json_is_true(json_object_get(j, "complete")));
    assert_int_equal(jint(j, "views"), sql_sum("video_daily_stats", "views", c[0]));
    assert_int_equal(jint(j, "views"), 1150000);
    assert_int_equal(jint(j, "watch_s"), sql_sum("video_daily_stats", "watch_s", c[0]));
    assert_int_equal(jint(j, "ad_views"), sql_sum("video_daily_stats", "ad_views", c[0]));
    assert_int_equal(json_array_size(days), 7);
    assert_int_equal(jint(json_array_get(days, 1), "views"), 600000);
    json_decref(j);
}

static void test_stats_video_json_equals_sql_sums(void **state)
{
    vsctl(creator_xdg, "--json stats video %" PRIu64 " --period week --date %s", c[0], DATE);
    check_stats_video_json();
}

static void test_stats_video_table_has_header_and_separated_figures(void **state)
{
    vsctl(creator_xdg, "stats video %" PRIu64 " --period week --date %s", c[0], DATE);
    assert_true(
        rf_line_has(out, "video ", id_text(c[0]), "week 1999-05-03..1999-05-09: settled", NULL));
    assert_true(rf_line_has(out, "DATE", "VIEWS", "WATCH_S", "AD_VIEWS", NULL));
    assert_true(rf_line_has(out, "1999-05-03", "550,000", "12,345", "30", NULL));
    assert_true(rf_line_has(out, "1999-05-04", "600,000", "23,456", "20", NULL));
    assert_true(rf_line_has(out, "total", "1,150,000", "35,801", "50", NULL));
}

/* The n-th (1-based) video of an independent ranking of the week, of every creator or one. */
static int64_t sql_rank(int n, const char *col, uint64_t creator_id)
{
    return rf_int("SELECT video_id FROM (SELECT d.video_id, SUM(d.%s) s FROM video_daily_stats d "
                  "JOIN batch_job j ON j.name = 'daily-settlement' AND j.business_date = d.day AND"
                  " j.state = 4 WHERE d.day BETWEEN '%s' AND '%s' %s%.0" PRIu64
                  " GROUP BY d.video_id HAVING s > 0) x ORDER BY s DESC, video_id LIMIT 1 OFFSET "
                  "%d",
                  col, FIRST, LAST, creator_id ? "AND d.creator_id = " : "",
                  creator_id ? creator_id : 0, n - 1);
}

static void check_top_views_json(void)
{
    json_t *j = out_json(), *entries = json_object_get(j, "entries");

    assert_string_equal(json_string_value(json_object_get(j, "by")), "views");
    assert_string_equal(json_string_value(json_object_get(j, "scope")), "all");
    assert_true(json_is_true(json_object_get(j, "complete")));
    assert_int_equal(json_array_size(entries), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(entries, i);

        assert_int_equal(jint(e, "rank"), i + 1);
        assert_int_equal(jint(e, "video_id"), sql_rank((int)i + 1, "views", 0));
        assert_int_equal(jint(e, "value"),
                         sql_sum("video_daily_stats", "views", (uint64_t)jint(e, "video_id")));
    }
    assert_int_equal(jint(json_array_get(entries, 1), "video_id"), d1);
    assert_int_equal(jint(json_array_get(entries, 1), "creator_id"), other.id);
    json_decref(j);
}

static void test_stats_top_by_views_json_ranks_like_sql(void **state)
{
    vsctl(admin_xdg, "--json stats top --period week --date %s --by views --limit 3", DATE);
    check_top_views_json();
}

static void test_stats_top_by_views_table_lists_ranks_with_separators(void **state)
{
    vsctl(admin_xdg, "stats top --period week --date %s --by views --limit 3", DATE);
    assert_true(
        rf_line_has(out, "top 3 by views, week 1999-05-03..1999-05-09, all videos: settled", NULL));
    assert_true(rf_line_has(out, "RANK", "VIDEO", "CREATOR", "VIEWS", "TITLE", NULL));
    assert_true(
        rf_line_has(out, id_text(c[0]), id_text(creator.id), "1,150,000", "cli video 1", NULL));
    assert_true(rf_line_has(out, id_text(d1), id_text(other.id), "300,000", "other video", NULL));
    assert_true(rf_line_has(out, id_text(c[1]), "250,000", "cli video 2", NULL));
    assert_false(rf_line_has(out, "cli video 3", NULL)); /* --limit 3 */
}

static void test_stats_top_mine_by_watch_ranks_only_own_videos(void **state)
{
    static const int64_t watch[4] = {99999, 35801, 50, 5};
    json_t *j, *entries;

    vsctl(creator_xdg, "--json stats top --period week --date %s --by watch --mine", DATE);
    j = out_json();
    entries = json_object_get(j, "entries");
    assert_string_equal(json_string_value(json_object_get(j, "by")), "watch");
    assert_string_equal(json_string_value(json_object_get(j, "scope")), "mine");
    assert_int_equal(json_array_size(entries), 4); /* D1 is not the creator's */
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(entries, i);

        assert_int_equal(jint(e, "video_id"), sql_rank((int)i + 1, "watch_s", creator.id));
        assert_int_equal(jint(e, "value"), watch[i]);
        assert_int_equal(jint(e, "value"),
                         sql_sum("video_daily_stats", "watch_s", (uint64_t)jint(e, "video_id")));
    }
    json_decref(j);
    vsctl(creator_xdg, "stats top --period week --date %s --by watch --mine", DATE);
    assert_true(rf_line_has(out, "by watch time", "your videos", NULL));
    assert_true(rf_line_has(out, "RANK", "VIDEO", "CREATOR", "WATCH_S", "TITLE", NULL));
    assert_true(rf_line_has(out, id_text(c[1]), "99,999", "cli video 2", NULL));
    assert_true(rf_line_has(out, id_text(c[0]), "35,801", "cli video 1", NULL));
    assert_false(rf_line_has(out, "other video", NULL));
}

static void check_settlement_json(void)
{
    json_t *j = out_json(), *v = json_array_get(json_object_get(j, "videos"), 0);

    assert_string_equal(json_string_value(json_object_get(j, "currency")), "KRW");
    assert_true(json_is_true(json_object_get(j, "complete")));
    assert_int_equal(jint(j, "total_won"), sql_sum("settlement_daily", "total_won", c[0]));
    assert_int_equal(jint(j, "total_won"), 1415500);
    assert_non_null(v);
    assert_int_equal(jint(v, "video_id"), c[0]);
    assert_int_equal(jint(v, "video_won"), sql_sum("settlement_daily", "video_won", c[0]));
    assert_int_equal(jint(v, "video_won"), 1415000);
    assert_int_equal(jint(v, "ad_won"), sql_sum("settlement_daily", "ad_won", c[0]));
    assert_int_equal(jint(v, "ad_won"), 500);
    assert_int_equal(jint(v, "views"), 1150000);
    assert_int_equal(jint(v, "ad_views"), 50);
    json_decref(j);
}

static void test_settlement_show_json_equals_sql(void **state)
{
    vsctl(creator_xdg, "--json settlement show --period week --date %s --video %" PRIu64, DATE,
          c[0]);
    check_settlement_json();
}

static void test_settlement_show_table_has_won_with_separators(void **state)
{
    vsctl(creator_xdg, "settlement show --period week --date %s --video %" PRIu64, DATE, c[0]);
    assert_true(rf_line_has(out, "settlement, week 1999-05-03..1999-05-09: settled", NULL));
    assert_true(
        rf_line_has(out, "VIDEO", "VIEWS", "AD_VIEWS", "AD", "TOTAL", "CARD", "TITLE", NULL));
    assert_true(rf_line_has(out, id_text(c[0]), "1,150,000", "1,415,000 won", "500 won",
                            "1,415,500 won", "v1", "cli video 1", NULL));
    assert_true(rf_line_has(out, "total: 1,415,500 won over 1 video", NULL));
}

/* `--json` after the subcommand's arguments means the same as before the command. */
static void test_json_after_subcommand_arguments(void **state)
{
    vsctl(admin_xdg, "stats top --period week --date %s --by views --limit 3 --json", DATE);
    check_top_views_json();
    vsctl(creator_xdg, "stats video %" PRIu64 " --period week --date %s --json", c[0], DATE);
    check_stats_video_json();
    vsctl(creator_xdg, "settlement show --period week --date %s --video %" PRIu64 " --json", DATE,
          c[0]);
    check_settlement_json();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_video_json_equals_sql_sums),
        cmocka_unit_test(test_stats_video_table_has_header_and_separated_figures),
        cmocka_unit_test(test_stats_top_by_views_json_ranks_like_sql),
        cmocka_unit_test(test_stats_top_by_views_table_lists_ranks_with_separators),
        cmocka_unit_test(test_stats_top_mine_by_watch_ranks_only_own_videos),
        cmocka_unit_test(test_settlement_show_json_equals_sql),
        cmocka_unit_test(test_settlement_show_table_has_won_with_separators),
        cmocka_unit_test(test_json_after_subcommand_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
