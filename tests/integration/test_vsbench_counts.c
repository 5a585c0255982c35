/* test_vsbench_counts.c — vsbench's loops, driven by asynchronous calls, account for every
 * request: asked for N measured requests, the closed loop (callers restarting from their done
 * functions) and the open loop (one scheduler thread) each report exactly N, all answered, and
 * exit cleanly (the sanitizer build fails the exit status on a leak). Not a measure of speed. */
#include "testsupport.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char vsd_url[512];
static pid_t vsd_pid;

static int start_vsd(void **state)
{
    static const char *const env[] = {"VS_THREADS=8", NULL};

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

/* Runs `vsbench --json ARGS health` against the test vsd and returns its report. */
static json_t *run_vsbench(const char *args)
{
    char out[600];
    json_error_t jerr;
    json_t *report;

    snprintf(out, sizeof out, "%s/vsbench-counts-%d.json", getenv("VS_TEST_HOME"), (int)getpid());
    assert_int_equal(
        ts_sh("%s --url %s --json %s health > %s", ts_program("tools/vsbench"), vsd_url, args, out),
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
    json_t *report = run_vsbench("-c 32 -w 0.2 -n 3000");

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
    json_t *report = run_vsbench("-r 2000 -c 16 -w 0 -n 1000");

    assert_string_equal(json_string_value(json_object_get(report, "mode")), "open");
    assert_int_equal(report_int(report, "requests"), 1000);
    assert_int_equal(report_int(report, "ok"), 1000);
    assert_int_equal(report_int(report, "errors"), 0);
    json_decref(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_loop_measures_exactly_the_requested_count),
        cmocka_unit_test(test_open_loop_sends_every_due_request_once),
    };
    return cmocka_run_group_tests(tests, start_vsd, stop_vsd);
}
