/* test_streaming_vsctl.c — `vsctl video|play|stats live` end to end against a real vsd: a creator
 * and a viewer logged in with `vsctl user login` (each with their own token file), --json output
 * checked field by field, the text output, usage errors (exit 2) and a refused call (exit 1). */
#include <jansson.h>

#include "streaming_fixture.h"

static sf_user creator, viewer;
static char creator_xdg[600], viewer_xdg[600], out_path[700];

static int setup(void **state)
{
    if (sf_setup("vsctl-stream", NULL) != 0)
        return -1;
    /* one business day for the whole test, whatever the real time of day */
    sf_clock_jump_to(sf_next_local_noon_ms());
    creator = sf_new_user("cli-creator");
    viewer = sf_new_user("cli-viewer");
    snprintf(creator_xdg, sizeof creator_xdg, "%s/xdg-creator-%d", getenv("VS_TEST_HOME"),
             (int)getpid());
    snprintf(viewer_xdg, sizeof viewer_xdg, "%s/xdg-viewer-%d", getenv("VS_TEST_HOME"),
             (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/vsctl-stream-%d.out", getenv("VS_TEST_HOME"),
             (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    ts_sh("rm -rf '%s' '%s' '%s'", creator_xdg, viewer_xdg, out_path);
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

/* Runs `vsctl --url URL ARGS` as the user of xdg; stdout to out_path; returns the exit status. */
static int vsctl(const char *xdg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int vsctl(const char *xdg, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    status = ts_sh("printf 'streaming-test-password-1\\n' | XDG_CONFIG_HOME='%s' %s --url '%s' %s "
                   ">'%s'",
                   xdg, ts_program("client/vsctl"), sf.url, args, out_path);
    return status;
}

static json_t *output_json(void)
{
    json_error_t e;
    json_t *j = json_load_file(out_path, 0, &e);

    if (j == NULL)
        fail_msg("vsctl output is not JSON: %s", e.text);
    return j;
}

static int output_contains(const char *text)
{
    char buf[4096];
    FILE *f = fopen(out_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static json_int_t field(json_t *j, const char *name)
{
    return json_integer_value(json_object_get(j, name));
}

static void test_video_play_pause_and_live_stats_with_json(void **state)
{
    json_t *j, *ads;
    json_int_t id;

    assert_int_equal(vsctl(creator_xdg, "user login --email %s --password-stdin", creator.email),
                     0);
    assert_int_equal(vsctl(viewer_xdg, "user login --email %s --password-stdin", viewer.email), 0);

    assert_int_equal(vsctl(creator_xdg, "--json video create --title 'CLI video' --duration 700"),
                     0);
    j = output_json();
    id = field(j, "id");
    assert_true(id > 0);
    assert_int_equal(field(j, "creator_id"), creator.id);
    assert_int_equal(field(j, "duration_s"), 700);
    ads = json_object_get(j, "ad_positions_s");
    assert_int_equal(json_array_size(ads), 2);
    assert_int_equal(json_integer_value(json_array_get(ads, 0)), 300);
    assert_int_equal(json_integer_value(json_array_get(ads, 1)), 600);
    json_decref(j);

    assert_int_equal(vsctl(viewer_xdg, "--json video show %lld", (long long)id), 0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "title")), "CLI video");
    json_decref(j);

    assert_int_equal(vsctl(creator_xdg, "--json video list --mine"), 0);
    j = output_json();
    assert_int_equal(json_array_size(json_object_get(j, "videos")), 1);
    assert_int_equal(field(json_array_get(json_object_get(j, "videos"), 0), "id"), id);
    json_decref(j);

    assert_int_equal(vsctl(viewer_xdg, "--json play start %lld", (long long)id), 0);
    j = output_json();
    assert_true(json_is_true(json_object_get(j, "view_counted")));
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "COUNTED");
    assert_int_equal(field(j, "resume_position_s"), 0);
    json_decref(j);

    sf_clock_advance(700 * 1000);
    assert_int_equal(vsctl(viewer_xdg, "--json play pause %lld --position 650", (long long)id), 0);
    j = output_json();
    assert_int_equal(field(j, "watch_s"), 650);
    assert_int_equal(field(j, "ad_views"), 2);
    assert_int_equal(field(j, "credited_to_s"), 650);
    json_decref(j);

    assert_int_equal(vsctl(creator_xdg, "--json stats live %lld", (long long)id), 0);
    j = output_json();
    assert_int_equal(field(j, "video_id"), id);
    assert_int_equal(field(j, "views"), 1);
    assert_int_equal(field(j, "ad_views"), 2);
    json_decref(j);

    /* the same in text */
    assert_int_equal(vsctl(creator_xdg, "stats live %lld", (long long)id), 0);
    assert_true(output_contains("1 views, 2 ad views"));
    assert_int_equal(vsctl(creator_xdg, "video show %lld", (long long)id), 0);
    assert_true(output_contains("300, 600"));
}

static void test_usage_errors_exit_2_refusals_exit_1(void **state)
{
    json_t *j;

    assert_int_equal(vsctl(viewer_xdg, "play pause 1"), 2); /* no --position */
    assert_int_equal(vsctl(viewer_xdg, "video create --title x"), 2);
    assert_int_equal(vsctl(viewer_xdg, "play start notanumber"), 2);
    assert_int_equal(vsctl(viewer_xdg, "stats nosuch"), 2);
    assert_int_equal(vsctl(viewer_xdg, "--help"), 0);
    assert_true(output_contains("video"));
    assert_int_equal(vsctl(viewer_xdg, "--json video create --title '' --duration 10"), 1);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "status")),
                        "INVALID_ARGUMENT");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_video_play_pause_and_live_stats_with_json),
        cmocka_unit_test(test_usage_errors_exit_2_refusals_exit_1),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
