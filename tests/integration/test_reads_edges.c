/* test_reads_edges.c — GetSettlement and GetTopVideos at the edges of the read path:
 * periods whose settlement batch has not completed never present figures as facts
 * (docs/reads.md, "Settled or not"), and bad arguments are INVALID_ARGUMENT naming the field.
 * Data: April 1999 (reads_fixture.h), a forced re-run from 04-06 in progress:
 *
 *   week 04-05..04-11: 04-05 settled; 04-06 RUNNING (the re-run), 04-07..04-11 PENDING
 *   week 04-12..04-18: was settled and ranked, every day re-opened (PENDING) by the re-run
 *   week 04-19..04-25: the batch never ran (no job, no rows)
 *
 *   V1: 1,000 views on 04-05, 2,000 on 04-06, 700 on 04-13;  V2: 40, 900, 500 on 04-14.
 * The re-opened days keep their old rows and their old video_top lists, as a re-run leaves them. */
#include "reads_fixture.h"

#define PARTIAL_WEEK "1999-04-07" /* 04-05 settled, 04-06 re-run in progress */
#define REOPENED_WEEK "1999-04-14"
#define NEVER_WEEK "1999-04-21"
#define RERUN_DAY "1999-04-06"

static rf_user creator, admin;
static uint64_t v1, v2;

static int setup(void **state)
{
    Vs__V1__TopVideos *t = NULL;
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    int reopened = 0;

    if (rf_setup("reads-edges", NULL) != 0)
        return -1;
    creator = rf_new_user("edge-creator");
    admin = rf_new_user("edge-admin");
    rf_make_admin(&admin);
    v1 = rf_video(&creator, "edge video 1");
    v2 = rf_video(&creator, "edge video 2");
    for (int d = 5; d <= 18; d++) {
        char day[16];
        snprintf(day, sizeof day, "1999-04-%02d", d);
        rf_day_state(day, 4);
    }
    rf_video_day(v1, creator.id, "1999-04-05", 1000, 100, 3, 0, 0);
    rf_video_day(v2, creator.id, "1999-04-05", 40, 4, 0, 0, 0);
    rf_video_day(v1, creator.id, "1999-04-06", 2000, 200, 2, 1000, 3);
    rf_video_day(v2, creator.id, "1999-04-06", 900, 90, 1, 40, 0);
    rf_video_day(v1, creator.id, "1999-04-13", 700, 70, 0, 3000, 5);
    rf_video_day(v2, creator.id, "1999-04-14", 500, 50, 0, 940, 1);
    rf_rank_period(2, "1999-04-05", "1999-04-11");
    rf_rank_period(1, RERUN_DAY, RERUN_DAY);
    rf_rank_period(2, "1999-04-12", "1999-04-18");
    rf_replica_catch_up();
    rf_wait_settled(&creator, v1, "1999-04-13");
    /* read the settled lists once, so the global top-N cache holds them before the re-run */
    assert_int_equal(vs_top_videos(admin.client, VS__V1__PERIOD__WEEK, REOPENED_WEEK,
                                   VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 5, &t, &st),
                     VS_OK);
    assert_int_equal(t->n_entries, 2);
    rf_free(t);
    /* the forced re-run of 04-06: it and every later completed day go back to PENDING, marked
     * forced (batch/coord_jobs.c job_requeue) */
    rf_sql("UPDATE batch_job SET state = IF(business_date = '%s', 2, 1), attempt = attempt + 1, "
           "forced = 1 "
           "WHERE name = 'daily-settlement' AND business_date BETWEEN '%s' AND '1999-04-18'",
           RERUN_DAY, RERUN_DAY);
    rf_replica_catch_up();
    for (int i = 0; i < 200 && !reopened; i++) { /* up to 10 s for vsd's settled-day snapshot */
        if (vs_video_stats(creator.client, v1, VS__V1__PERIOD__WEEK, REOPENED_WEEK, &s, &st) !=
            VS_OK)
            fail_msg("GetVideoStats: %s", st.message);
        reopened = s->days_settled == 0;
        rf_free(s);
        if (!reopened)
            usleep(50 * 1000);
    }
    return reopened ? 0 : -1;
}

static int teardown(void **state)
{
    rf_free_user(&creator);
    rf_free_user(&admin);
    rf_teardown();
    return 0;
}

static Vs__V1__Settlement *settle(rf_user *u, int period, const char *date, uint64_t video)
{
    vs_settlement_query q = {.period = period, .date = date, .video_id = video, .breakdown = 1};
    Vs__V1__Settlement *s = NULL;
    vs_call_status st;

    if (vs_settlement(u->client, &q, &s, &st) != VS_OK)
        fail_msg("GetSettlement: %s %s", vs_status_name(st.code), st.message);
    return s;
}

static Vs__V1__TopVideos *top(rf_user *u, int period, const char *date, int metric, int scope)
{
    Vs__V1__TopVideos *t = NULL;
    vs_call_status st;

    if (vs_top_videos(u->client, period, date, metric, scope, 10, &t, &st) != VS_OK)
        fail_msg("GetTopVideos: %s %s", vs_status_name(st.code), st.message);
    return t;
}

/* SUM(col) of settlement_daily rows of a video in [first, last]; settled days only or all rows. */
static int64_t sql_money(const char *col, uint64_t video, const char *first, const char *last,
                         int settled_only)
{
    return rf_int("SELECT SUM(s.%s) FROM settlement_daily s LEFT JOIN batch_job j ON j.name = "
                  "'daily-settlement' AND j.business_date = s.day WHERE s.video_id = %" PRIu64
                  " AND s.day BETWEEN '%s' AND '%s' AND (%d = 0 OR j.state = 4)",
                  col, video, first, last, settled_only);
}

/* A one-video reply of a period without a settled day: the video, and nothing earned. */
static void assert_no_amounts(const Vs__V1__Settlement *s, uint64_t video)
{
    assert_int_equal(s->total_won, 0);
    assert_int_equal(s->n_videos, 1);
    assert_int_equal(s->videos[0]->video_id, video);
    assert_int_equal(s->videos[0]->total_won, 0);
    assert_int_equal(s->videos[0]->video_won, 0);
    assert_int_equal(s->videos[0]->ad_won, 0);
    assert_int_equal(s->videos[0]->views, 0);
    assert_int_equal(s->videos[0]->rate_card_version, 0);
    assert_int_equal(s->videos[0]->n_video_bands, 0);
}

static void test_never_settled_week_settlement_says_not_settled(void **state)
{
    Vs__V1__Settlement *s = settle(&creator, VS__V1__PERIOD__WEEK, NEVER_WEEK, v1);

    assert_false(s->complete);
    assert_int_equal(s->days_settled, 0);
    assert_int_equal(s->days_total, 7);
    assert_string_equal(s->status,
                        "not settled: no day of 1999-04-19..1999-04-25 has a completed settlement "
                        "batch");
    assert_no_amounts(s, v1);
    rf_free(s);
    s = settle(&creator, VS__V1__PERIOD__WEEK, NEVER_WEEK, 0); /* all of the creator's videos */
    assert_false(s->complete);
    assert_int_equal(s->n_videos, 0);
    assert_int_equal(s->videos_total, 0);
    assert_int_equal(s->total_won, 0);
    rf_free(s);
}

static void test_never_settled_week_top_list_is_empty(void **state)
{
    Vs__V1__TopVideos *t =
        top(&admin, VS__V1__PERIOD__WEEK, NEVER_WEEK, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL);

    assert_int_equal(t->n_entries, 0);
    assert_false(t->complete);
    assert_int_equal(t->days_settled, 0);
    assert_int_equal(t->days_total, 7);
    assert_true(strncmp(t->status, "not settled", 11) == 0);
    rf_free(t);
}

/* The re-opened week's rows are still there, but none of its days is settled. */
static void test_reopened_week_settlement_shows_none_of_the_old_amounts(void **state)
{
    Vs__V1__Settlement *s;

    assert_true(sql_money("total_won", v1, "1999-04-12", "1999-04-18", 0) > 0);
    assert_true(sql_money("total_won", v2, "1999-04-12", "1999-04-18", 0) > 0);
    s = settle(&creator, VS__V1__PERIOD__WEEK, REOPENED_WEEK, v1);
    assert_false(s->complete);
    assert_int_equal(s->days_settled, 0);
    assert_true(strncmp(s->status, "not settled", 11) == 0);
    assert_no_amounts(s, v1);
    rf_free(s);
    /* the creator's list: a video with rows only on unsettled days earned nothing yet */
    s = settle(&creator, VS__V1__PERIOD__WEEK, REOPENED_WEEK, 0);
    assert_false(s->complete);
    assert_int_equal(s->n_videos, 0);
    assert_int_equal(s->videos_total, 0);
    assert_int_equal(s->total_won, 0);
    rf_free(s);
}

static void test_rerun_day_settlement_says_its_batch_has_not_completed(void **state)
{
    Vs__V1__Settlement *s = settle(&creator, VS__V1__PERIOD__DAY, RERUN_DAY, v2);

    assert_true(sql_money("total_won", v2, RERUN_DAY, RERUN_DAY, 0) > 0);
    assert_false(s->complete);
    assert_int_equal(s->days_total, 1);
    assert_string_equal(s->status,
                        "not settled: the settlement batch for 1999-04-06 has not completed");
    assert_no_amounts(s, v2);
    rf_free(s);
}

/* video_top still holds the lists ranked before the re-run: none of them is shown. */
static void test_rerun_and_reopened_periods_have_empty_top_lists(void **state)
{
    static const struct {
        int period;
        const char *date, *start;
    } cases[2] = {{VS__V1__PERIOD__DAY, RERUN_DAY, RERUN_DAY},
                  {VS__V1__PERIOD__WEEK, REOPENED_WEEK, "1999-04-12"}};

    for (int i = 0; i < 2; i++) {
        assert_true(rf_int("SELECT COUNT(*) FROM video_top WHERE period_kind = %d AND "
                           "period_start = '%s' AND video_id IN (%" PRIu64 ", %" PRIu64 ")",
                           cases[i].period, cases[i].start, v1, v2) > 0);
        for (int metric = VS__V1__METRIC__VIEWS; metric <= VS__V1__METRIC__WATCH_TIME; metric++) {
            Vs__V1__TopVideos *all =
                top(&admin, cases[i].period, cases[i].date, metric, VS__V1__SCOPE__ALL);
            Vs__V1__TopVideos *mine =
                top(&creator, cases[i].period, cases[i].date, metric, VS__V1__SCOPE__MINE);

            assert_int_equal(all->n_entries, 0);
            assert_int_equal(mine->n_entries, 0);
            assert_false(all->complete);
            assert_false(mine->complete);
            assert_int_equal(all->days_settled, 0);
            assert_true(strncmp(all->status, "not settled", 11) == 0);
            rf_free(all);
            rf_free(mine);
        }
    }
}

static void test_week_with_rerun_day_settles_only_its_settled_day(void **state)
{
    Vs__V1__Settlement *s = settle(&creator, VS__V1__PERIOD__WEEK, PARTIAL_WEEK, v1);
    const Vs__V1__VideoSettlement *v;

    assert_false(s->complete);
    assert_int_equal(s->days_settled, 1);
    assert_string_equal(s->status, "partial: 1 of 7 days settled (first unsettled day 1999-04-06);"
                                   " figures cover the settled days only");
    assert_int_equal(s->n_videos, 1);
    v = s->videos[0];
    assert_int_equal(v->views, 1000); /* 04-05 only, not 04-06's 2,000 */
    assert_int_equal(v->ad_views, 3);
    assert_int_equal(v->video_won, sql_money("video_won", v1, "1999-04-05", "1999-04-11", 1));
    assert_int_equal(v->total_won, sql_money("total_won", v1, "1999-04-05", "1999-04-11", 1));
    assert_true(v->total_won < sql_money("total_won", v1, "1999-04-05", "1999-04-11", 0));
    assert_int_equal(s->total_won, v->total_won);
    rf_free(s);
}

/* "Figures only ever include settled days" (docs/reads.md) holds for top lists too: a partly
 * settled week's ranking values are its settled days' sums, the same as GetVideoStats reports,
 * although video_top still holds the week as ranked before the re-run (04-06's figures included).
 */
static void test_partly_rerun_week_top_values_cover_settled_days_only(void **state)
{
    Vs__V1__TopVideos *t =
        top(&admin, VS__V1__PERIOD__WEEK, PARTIAL_WEEK, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL);
    int64_t v1_views = 0, v2_views = 0;
    int complete = t->complete, days_settled = (int)t->days_settled;

    for (size_t i = 0; i < t->n_entries; i++) {
        if (t->entries[i]->video_id == v1)
            v1_views = t->entries[i]->value;
        if (t->entries[i]->video_id == v2)
            v2_views = t->entries[i]->value;
    }
    rf_free(t); /* before the assertions: a failing one must not leak the reply */
    assert_false(complete);
    assert_int_equal(days_settled, 1);
    assert_int_equal(v1_views, 1000);
    assert_int_equal(v2_views, 40);
}

/* The same for both metrics and both scopes, ranked 1.. by value like the batch ranks: 04-05 alone
 * gives V1 1,000 views / 100 s, V2 40 views / 4 s. */
static void test_partly_rerun_week_top_lists_rank_settled_days_in_every_scope(void **state)
{
    static const int64_t want[3][2] = {{0, 0}, {1000, 40}, {100, 4}}; /* [metric][V1, V2] */

    for (int metric = VS__V1__METRIC__VIEWS; metric <= VS__V1__METRIC__WATCH_TIME; metric++) {
        for (int mine = 0; mine <= 1; mine++) {
            Vs__V1__TopVideos *t = top(mine ? &creator : &admin, VS__V1__PERIOD__WEEK, PARTIAL_WEEK,
                                       metric, mine ? VS__V1__SCOPE__MINE : VS__V1__SCOPE__ALL);
            uint64_t ids[2] = {0, 0};
            int64_t values[2] = {0, 0};
            uint32_t ranks[2] = {0, 0};
            size_t n = 0;

            for (size_t i = 0; i < t->n_entries; i++) {
                if (t->entries[i]->video_id != v1 && t->entries[i]->video_id != v2)
                    continue; /* ALL: other tests' videos of the week, if any */
                if (n < 2) {
                    ids[n] = t->entries[i]->video_id;
                    values[n] = t->entries[i]->value;
                    ranks[n++] = t->entries[i]->rank;
                }
            }
            if (mine)
                assert_int_equal(t->n_entries, 2);
            rf_free(t);
            assert_int_equal(n, 2);
            assert_int_equal(ids[0], v1);
            assert_int_equal(values[0], want[metric][0]);
            assert_int_equal(ids[1], v2);
            assert_int_equal(values[1], want[metric][1]);
            assert_true(ranks[0] < ranks[1]);
            if (mine) {
                assert_int_equal(ranks[0], 1);
                assert_int_equal(ranks[1], 2);
            }
        }
    }
}

static void test_settlement_bad_period_or_date_names_the_field(void **state)
{
    static const int bad_periods[2] = {0, 4};
    static const char *const bad_dates[3] = {"1999-02-30", "yesterday", ""};
    Vs__V1__Settlement *s = NULL;
    vs_call_status st;

    for (int i = 0; i < 2; i++) {
        vs_settlement_query q = {.period = bad_periods[i], .date = "1999-04-05", .video_id = v1};

        assert_int_equal(vs_settlement(creator.client, &q, &s, &st), VS_INVALID_ARGUMENT);
        assert_null(s);
        assert_true(strncmp(st.message, "period:", 7) == 0);
    }
    for (int i = 0; i < 3; i++) {
        vs_settlement_query q = {.period = VS__V1__PERIOD__WEEK, .date = bad_dates[i]};

        assert_int_equal(vs_settlement(creator.client, &q, &s, &st), VS_INVALID_ARGUMENT);
        assert_true(strncmp(st.message, "date:", 5) == 0);
    }
}

static void test_settlement_of_video_and_creator_at_once_names_creator_id(void **state)
{
    vs_settlement_query q = {.period = VS__V1__PERIOD__DAY,
                             .date = "1999-04-05",
                             .video_id = v1,
                             .creator_id = creator.id};
    Vs__V1__Settlement *s = NULL;
    vs_call_status st;

    assert_int_equal(vs_settlement(admin.client, &q, &s, &st), VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "creator_id:", 11) == 0);
}

static void test_top_bad_period_date_or_scope_names_the_field(void **state)
{
    static const struct {
        int period;
        const char *date;
        int scope;
        const char *field;
    } cases[] = {
        {0, "1999-04-05", VS__V1__SCOPE__MINE, "period:"},
        {9, "1999-04-05", VS__V1__SCOPE__MINE, "period:"},
        {VS__V1__PERIOD__WEEK, "1999-02-30", VS__V1__SCOPE__MINE, "date:"},
        {VS__V1__PERIOD__WEEK, "yesterday", VS__V1__SCOPE__MINE, "date:"},
        {VS__V1__PERIOD__WEEK, "1999-04-05", 3, "scope:"},
        {VS__V1__PERIOD__WEEK, "1999-04-05", -1, "scope:"},
    };
    Vs__V1__TopVideos *t = NULL;
    vs_call_status st;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = vs_top_videos(creator.client, cases[i].period, cases[i].date,
                               VS__V1__METRIC__VIEWS, cases[i].scope, 5, &t, &st);

        if (rc != VS_INVALID_ARGUMENT ||
            strncmp(st.message, cases[i].field, strlen(cases[i].field)))
            fail_msg("case %zu: expected INVALID_ARGUMENT \"%s ...\", got %s \"%s\"", i,
                     cases[i].field, vs_status_name(rc), st.message);
        assert_null(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_settled_week_settlement_says_not_settled),
        cmocka_unit_test(test_never_settled_week_top_list_is_empty),
        cmocka_unit_test(test_reopened_week_settlement_shows_none_of_the_old_amounts),
        cmocka_unit_test(test_rerun_day_settlement_says_its_batch_has_not_completed),
        cmocka_unit_test(test_rerun_and_reopened_periods_have_empty_top_lists),
        cmocka_unit_test(test_week_with_rerun_day_settles_only_its_settled_day),
        cmocka_unit_test(test_partly_rerun_week_top_values_cover_settled_days_only),
        cmocka_unit_test(test_partly_rerun_week_top_lists_rank_settled_days_in_every_scope),
        cmocka_unit_test(test_settlement_bad_period_or_date_names_the_field),
        cmocka_unit_test(test_settlement_of_video_and_creator_at_once_names_creator_id),
        cmocka_unit_test(test_top_bad_period_date_or_scope_names_the_field),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
