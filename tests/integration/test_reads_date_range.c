/* test_reads_date_range.c — the accepted business dates (docs/reads.md, "Dates"): every date a
 * caller names lies in 1973-01-01..9999-10-31, whole weeks and whole months, so no period
 * reaches past the calendar (the week of 9999-12-31 was answered as 9999-12-27..0000-01-02).
 * Outside it vsd's reads and the coordinator's StartJob answer INVALID_ARGUMENT naming the field,
 * and vsctl shows it. Real vsd, vs-coordinator and vsctl. */
#include "batch_harness.h"
#include "reads_fixture.h"

#include <sys/stat.h>

#define RANGE "1973-01-01..9999-10-31"

static rf_user admin;
static uint64_t video;
static bh batch;
static pid_t coordinator;
static char admin_xdg[512], err_path[600];

static int setup(void **state)
{
    FILE *f;
    char path[600];

    if (rf_setup("date-range", NULL) != 0)
        return -1;
    admin = rf_new_user("range-admin");
    rf_make_admin(&admin);
    video = rf_video(&admin, "range video");
    /* vsctl reads the admin's token from $XDG_CONFIG_HOME/vs/token */
    snprintf(admin_xdg, sizeof admin_xdg, "%s/date-range-%d", getenv("VS_TEST_HOME"),
             (int)getpid());
    assert_int_equal(
        ts_sh("mkdir -p '%s/vs' && chmod 700 '%s' '%s/vs'", admin_xdg, admin_xdg, admin_xdg), 0);
    snprintf(path, sizeof path, "%s/vs/token", admin_xdg);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(admin.token, f);
    fclose(f);
    chmod(path, 0600);
    snprintf(err_path, sizeof err_path, "%s/stderr", admin_xdg);
    /* the coordinator on its own database (vsd above keeps the stack's) */
    bh_setup(&batch, "date_range");
    coordinator = bh_start_coordinator(&batch, NULL);
    return 0;
}

static int teardown(void **state)
{
    ts_stop(coordinator);
    ts_sh("rm -rf '%s'", admin_xdg);
    rf_free_user(&admin);
    rf_teardown();
    return 0;
}

/* GetVideoStats, GetTopVideos and GetSettlement of (period, date): the status and message. */
static void expect_reads(int period, const char *date, int code, const char *message)
{
    vs_settlement_query q = {.period = period, .date = date, .video_id = video};
    Vs__V1__VideoStats *s = NULL;
    Vs__V1__TopVideos *t = NULL;
    Vs__V1__Settlement *m = NULL;
    vs_call_status st;
    int rc[3];

    rc[0] = vs_video_stats(admin.client, video, period, date, &s, &st);
    if (rc[0] != VS_OK && message != NULL)
        assert_string_equal(st.message, message);
    rc[1] = vs_top_videos(admin.client, period, date, VS__V1__METRIC__VIEWS, VS__V1__SCOPE__ALL, 5,
                          &t, &st);
    if (rc[1] != VS_OK && message != NULL)
        assert_string_equal(st.message, message);
    rc[2] = vs_settlement(admin.client, &q, &m, &st);
    if (rc[2] != VS_OK && message != NULL)
        assert_string_equal(st.message, message);
    for (int i = 0; i < 3; i++)
        if (rc[i] != code)
            fail_msg("%s %s, read %d: expected %s, got %s", vs_period_name(period), date, i,
                     vs_status_name(code), vs_status_name(rc[i]));
    rf_free(s);
    rf_free(t);
    rf_free(m);
}

static void test_reads_of_dates_outside_the_range_name_the_date(void **state)
{
    expect_reads(VS__V1__PERIOD__WEEK, "9999-12-31", VS_INVALID_ARGUMENT,
                 "date: 9999-12-31 is outside the accepted dates " RANGE);
    expect_reads(VS__V1__PERIOD__MONTH, "9999-11-01", VS_INVALID_ARGUMENT,
                 "date: 9999-11-01 is outside the accepted dates " RANGE);
    expect_reads(VS__V1__PERIOD__DAY, "1972-12-31", VS_INVALID_ARGUMENT,
                 "date: 1972-12-31 is outside the accepted dates " RANGE);
}

/* The last accepted week and the first accepted month are answered whole. */
static void test_reads_at_the_ends_of_the_range_cover_whole_periods(void **state)
{
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;

    expect_reads(VS__V1__PERIOD__WEEK, "9999-10-31", VS_OK, NULL);
    expect_reads(VS__V1__PERIOD__MONTH, "1973-01-01", VS_OK, NULL);
    assert_int_equal(
        vs_video_stats(admin.client, video, VS__V1__PERIOD__WEEK, "9999-10-31", &s, &st), VS_OK);
    assert_string_equal(s->from_date, "9999-10-25");
    assert_string_equal(s->to_date, "9999-10-31");
    assert_int_equal(s->days_total, 7);
    rf_free(s);
}

static void test_start_job_outside_the_range_names_the_date(void **state)
{
    vs_client *c = ts_client(batch.coord_url, 20000);
    vs_batch_job *job = NULL;
    vs_call_status st;

    vs_client_set_token(c, batch.admin_token); /* an admin of the coordinator's database */
    assert_int_equal(vs_batch_start(c, "9999-12-31", 0, &job, &st), VS_INVALID_ARGUMENT);
    assert_string_equal(st.message, "date: 9999-12-31 is outside the accepted dates " RANGE);
    assert_null(job);
    assert_int_equal(vs_batch_start(c, "1970-01-01", 1, &job, &st), VS_INVALID_ARGUMENT);
    assert_string_equal(st.message, "date: 1970-01-01 is outside the accepted dates " RANGE);
    vs_client_close(c);
    assert_int_equal(rf_int_on(rf.db, "SELECT COUNT(*) FROM %s.batch_job", batch.db), 0);
}

/* Runs vsctl as the admin whose login is kept under xdg; returns its exit status, its stderr in
 * err_out. */
static int vsctl_err(const char *xdg, char *err_out, size_t len, const char *args)
{
    int status = ts_sh("XDG_CONFIG_HOME='%s' '%s' --url '%s' %s >/dev/null 2>'%s'", xdg,
                       ts_program("client/vsctl"), rf.url, args, err_path);
    FILE *f = fopen(err_path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(err_out, 1, len - 1, f);
    fclose(f);
    err_out[n] = '\0';
    return status;
}

static void test_vsctl_shows_the_range_error(void **state)
{
    char out[2048], args[512];

    snprintf(args, sizeof args, "stats video %" PRIu64 " --period week --date 9999-12-31", video);
    assert_int_not_equal(vsctl_err(admin_xdg, out, sizeof out, args), 0);
    if (strstr(out, "9999-12-31 is outside the accepted dates " RANGE) == NULL)
        fail_msg("vsctl stats video: %s", out);
    assert_int_not_equal(vsctl_err(admin_xdg, out, sizeof out,
                                   "settlement show --period month --date "
                                   "1972-12-31"),
                         0);
    if (strstr(out, "1972-12-31 is outside the accepted dates " RANGE) == NULL)
        fail_msg("vsctl settlement show: %s", out);
    /* the coordinator's answer, as vsctl batch run prints it (logged in as the harness's admin) */
    snprintf(args, sizeof args, "batch --coord '%s' run --date 9999-12-31", batch.coord_url);
    assert_int_not_equal(vsctl_err(getenv("XDG_CONFIG_HOME"), out, sizeof out, args), 0);
    if (strstr(out, "date: 9999-12-31 is outside the accepted dates " RANGE) == NULL)
        fail_msg("vsctl batch run: %s", out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_of_dates_outside_the_range_name_the_date),
        cmocka_unit_test(test_reads_at_the_ends_of_the_range_cover_whole_periods),
        cmocka_unit_test(test_start_job_outside_the_range_names_the_date),
        cmocka_unit_test(test_vsctl_shows_the_range_error),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
