/* test_reads_vsbench_stall.c — vsbench's self-check: in an open-loop run at a fixed
 * rate, vsd frozen with SIGSTOP for one second must show up in the reported percentiles — every
 * request that fell due during the freeze waited for it — instead of hiding because fewer
 * requests were sent. Not a measure of our speed: an assertion that the tool reports stalls. */
#include "reads_fixture.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>

#define RATE 200
#define DURATION_S 4

static rf_user creator;
static uint64_t video;
static char token_file[600];

static int setup(void **state)
{
    FILE *f;

    if (rf_setup("reads-vsbench", NULL) != 0)
        return -1;
    creator = rf_new_user("bench-creator");
    video = rf_video(&creator, "benchmarked video");
    rf_day_state("1999-09-01", 4);
    rf_video_day(video, creator.id, "1999-09-01", 10, 100, 1, 0, 0);
    rf_replica_catch_up();
    rf_wait_settled(&creator, video, "1999-09-01");
    snprintf(token_file, sizeof token_file, "%s/vsbench-token-%d", getenv("VS_TEST_HOME"),
             (int)getpid());
    if ((f = fopen(token_file, "w")) == NULL)
        return -1;
    fputs(creator.token, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    unlink(token_file);
    rf_free_user(&creator);
    rf_teardown();
    return 0;
}

/* Runs vsbench read open-loop against the test vsd with its JSON report in out_path. */
static pid_t start_vsbench(const char *out_path)
{
    char first[32], rate[16], duration[16];
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    snprintf(first, sizeof first, "%" PRIu64, video);
    snprintf(rate, sizeof rate, "%d", RATE);
    snprintf(duration, sizeof duration, "%d", DURATION_S);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0)
        _exit(127);
    execl(ts_program("tools/vsbench"), "vsbench", "--url", rf.url, "--rate", rate, "--warmup",
          "0.5", "--duration", duration, "--concurrency", "32", "--json", "--token-file",
          token_file, "--first-video", first, "--videos", "1", "--from", "1999-09-01", "--days",
          "1", "--mine", "read", (char *)NULL);
    _exit(127);
}

static void test_open_loop_reports_a_one_second_freeze_in_p99(void **state)
{
    char out_path[600];
    json_error_t jerr;
    json_t *report, *lat;
    int status;
    pid_t bench;

    snprintf(out_path, sizeof out_path, "%s/vsbench-%d.json", getenv("VS_TEST_HOME"),
             (int)getpid());
    bench = start_vsbench(out_path);
    assert_true(bench > 0);
    /* into the measured window (after the 0.5 s warm-up), then freeze vsd for a second */
    usleep(1500 * 1000);
    assert_int_equal(kill(rf.vsd, SIGSTOP), 0);
    usleep(1000 * 1000);
    assert_int_equal(kill(rf.vsd, SIGCONT), 0);
    assert_int_equal(waitpid(bench, &status, 0), bench);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    report = json_load_file(out_path, 0, &jerr);
    if (report == NULL)
        fail_msg("vsbench output: %s", jerr.text);
    lat = json_object_get(report, "latency_ms");
    assert_non_null(lat);
    /* the requests due during the freeze waited up to a second: a quarter of the run */
    assert_true(json_real_value(json_object_get(lat, "p99")) >= 300.0);
    assert_true(json_real_value(json_object_get(lat, "max")) >= 900.0);
    /* the schedule was kept: about RATE × DURATION_S requests, none lost */
    assert_true(json_integer_value(json_object_get(report, "requests")) >=
                RATE * DURATION_S * 9 / 10);
    if (json_integer_value(json_object_get(report, "errors")) != 0)
        fail_msg("vsbench reported errors: %s", json_dumps(report, JSON_COMPACT));
    json_decref(report);
    unlink(out_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_loop_reports_a_one_second_freeze_in_p99),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
