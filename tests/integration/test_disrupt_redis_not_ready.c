/* test_disrupt_redis_not_ready.c — a Redis that answers but cannot serve now (loading its data
 * after a restart, busy with a long script, a read-only replica) or does not answer at all
 * (stopped): a Play is UNAVAILABLE with a message saying why, stores nothing, and the same event
 * id succeeds, counted once, when Redis is back. Also hiredis 0.14's dead context after a
 * timeout: vsd reconnects and its new connection times out again instead of hanging.
 *
 * Changes the test stack's Redis (restart, CONFIG SET, REPLICAOF, SIGSTOP), so it runs serially;
 * every case puts Redis back as it found it. */
#include <pthread.h>
#include <signal.h>

#include "redis.h"
#include "streaming_fixture.h"

#define LOAD_KEYS 30000 /* keys Redis reloads after the restart: seconds of LOADING */

static sf_user creator, viewer;
static char load_keys[LOAD_KEYS][32];
static redis_conn *redis; /* the test's own connection to the stack's Redis */

static int setup(void **state)
{
    char err[256];

    if (sf_setup("redis-not-ready", NULL) != 0)
        return -1;
    if (redis_open(getenv("VS_REDIS"), 20000, &redis, err, sizeof err) != VS_OK && redis == NULL)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    return 0;
}

static int teardown(void **state)
{
    redis_close(redis);
    sf_free_user(&creator);
    sf_free_user(&viewer);
    return sf_teardown(state);
}

static const char *redis_say(char *out, size_t outlen, const char *command);
static void redis_wait_ping(const char *want);

/* After each case, pass or fail, the shared stack's Redis is as the tests after this one expect:
 * running, answering, a primary, with default settings and without the keys loaded here. */
static int restore_redis(void **state)
{
    pid_t pid = ts_stack_pid("redis/redis");
    char text[256];

    if (pid > 0)
        kill(pid, SIGCONT);
    redis_say(text, sizeof text, "SCRIPT KILL");
    ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"), VS_SOURCE_DIR);
    redis_wait_ping("PONG");
    redis_say(text, sizeof text, "REPLICAOF NO ONE");
    redis_say(text, sizeof text, "CONFIG SET key-load-delay 0");
    redis_say(text, sizeof text, "CONFIG SET loading-process-events-interval-bytes 2097152");
    redis_say(text, sizeof text, "CONFIG SET busy-reply-threshold 5000");
    if (load_keys[0][0] != '\0') {
        redis_cmds cmds;

        assert_true(redis_cmds_init(&cmds, LOAD_KEYS, 2));
        for (int i = 0; i < LOAD_KEYS; i++) {
            const char *del[] = {"DEL", load_keys[i]};

            redis_cmds_add(&cmds, 2, del);
        }
        redis_cmds_run(redis, &cmds, text, sizeof text);
        redis_cmds_free(&cmds);
        load_keys[0][0] = '\0';
    }
    return 0;
}

/* Runs a Redis command (words separated by single spaces) on the test's connection and returns
 * its reply's text in out: an error reply's text too, so that a test can wait for one; "" for a
 * reply without text, "(no reply: ...)" when Redis did not answer. */
static const char *redis_say(char *out, size_t outlen, const char *command)
{
    redisReply *reply = NULL;
    char err[256], words[512], *save = NULL;
    const char *argv[16];
    size_t argvlen[16];
    int argc = 0;

    snprintf(words, sizeof words, "%s", command);
    for (char *w = strtok_r(words, " ", &save); w != NULL && argc < 16;
         w = strtok_r(NULL, " ", &save)) {
        argv[argc] = w;
        argvlen[argc++] = strlen(w);
    }
    if (redis_command_argv(redis, &reply, err, sizeof err, argc, argv, argvlen) != VS_OK) {
        snprintf(out, outlen, "(no reply: %s)", err);
        return out;
    }
    snprintf(out, outlen, "%s", reply->str != NULL ? reply->str : "");
    freeReplyObject(reply);
    return out;
}

/* Waits (at most 120 s) until Redis answers PING with a reply starting with want. */
static void redis_wait_ping(const char *want)
{
    char text[256] = "";

    for (int i = 0; i < 1200; i++) {
        if (strncmp(redis_say(text, sizeof text, "PING"), want, strlen(want)) == 0)
            return;
        usleep(100 * 1000);
    }
    fail_msg("Redis never answered PING with %s (last: %s)", want, text);
}

/* A Play that Redis cannot serve now: UNAVAILABLE, the message says why and to retry, and
 * nothing is stored. */
static void assert_play_unavailable(uint64_t video, const char *event_id, const char *why)
{
    Vs__V1__PlayResponse *play = NULL;
    vs_call_status st;

    assert_int_equal(vs_play(viewer.client, video, event_id, &play, &st), VS_UNAVAILABLE);
    assert_null(play);
    if (strstr(st.message, why) == NULL ||
        strstr(st.message, "retry with the same event_id") == NULL)
        fail_msg("Play: message \"%s\" does not say \"%s\" and to retry", st.message, why);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 0);
}

/* Once Redis is back, the same event succeeds and its view counts, once. */
static void assert_play_counted(uint64_t video, const char *event_id)
{
    Vs__V1__PlayResponse *play = sf_play(&viewer, video, event_id);

    assert_true(play->view_counted);
    sf_free(play);
    assert_int_equal(sf_db_int("SELECT COUNT(*) FROM play_log WHERE video_id=%" PRIu64, video), 1);
}

/* A Redis restarted with a large AOF answers LOADING until it has read it. */
static void test_play_while_redis_loads_its_data_is_unavailable_then_counts(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    char event_id[33], text[256], home[512];
    redis_cmds cmds;
    vs_event_id(event_id);
    /* data to load: slowed to ~0.1 ms a key by Redis's key-load-delay, serving clients between
     * every KiB read, so that LOADING lasts seconds and is answered promptly */
    assert_true(redis_cmds_init(&cmds, LOAD_KEYS, 3));
    for (int i = 0; i < LOAD_KEYS; i++) {
        const char *set[] = {"SET", load_keys[i], "x"};

        snprintf(load_keys[i], sizeof load_keys[i], "redis-not-ready:%d", i);
        redis_cmds_add(&cmds, 3, set);
    }
    assert_int_equal(redis_cmds_run(redis, &cmds, text, sizeof text), VS_OK);
    redis_cmds_free(&cmds);
    /* into the AOF's RDB base, which Redis reads serving clients in between */
    redis_say(text, sizeof text, "BGREWRITEAOF");
    for (int i = 0; i < 600; i++) {
        redisReply *r = NULL;
        char err[256];

        assert_int_equal(redis_command(redis, &r, err, sizeof err, "INFO persistence"), VS_OK);
        int busy = strstr(r->str, "aof_rewrite_in_progress:0") == NULL ||
                   strstr(r->str, "aof_rewrite_scheduled:0") == NULL;
        freeReplyObject(r);
        if (!busy)
            break;
        usleep(100 * 1000);
    }

    ts_kill_redis();
    snprintf(home, sizeof home, "%s", getenv("VS_TEST_HOME"));
    assert_int_equal(ts_sh("redis-server %s/redis/redis.conf --key-load-delay 100 "
                           "--loading-process-events-interval-bytes 1024 >/dev/null 2>&1",
                           home),
                     0);
    redis_wait_ping("LOADING");
    assert_play_unavailable(video, event_id, "Redis is loading its data set");

    redis_wait_ping("PONG");
    assert_play_counted(video, event_id);
}

/* A script that spins (reading the time, writing nothing, so SCRIPT KILL can stop it) for at most
 * 60 s on its own connection. */
static void *run_long_script(void *arg)
{
    redis_conn *r = NULL;
    redisReply *reply = NULL;
    char err[256];

    (void)arg;
    if (redis_open(getenv("VS_REDIS"), 70000, &r, err, sizeof err) == VS_OK &&
        redis_command(r, &reply, err, sizeof err, "EVAL %s 0",
                      "local s = tonumber(redis.call('TIME')[1]) "
                      "while tonumber(redis.call('TIME')[1]) < s + 60 do end return 1") == VS_OK)
        freeReplyObject(reply);
    redis_close(r);
    return NULL;
}

/* While a script runs past busy-reply-threshold, Redis answers every other command BUSY. */
static void test_play_while_redis_runs_a_long_script_is_unavailable_then_counts(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    char event_id[33], text[256];
    pthread_t script;

    vs_event_id(event_id);
    redis_say(text, sizeof text, "CONFIG SET busy-reply-threshold 100");
    assert_int_equal(pthread_create(&script, NULL, run_long_script, NULL), 0);
    redis_wait_ping("BUSY");
    assert_play_unavailable(video, event_id, "Redis is busy running a script");

    redis_say(text, sizeof text, "SCRIPT KILL");
    pthread_join(script, NULL);
    redis_wait_ping("PONG");
    assert_play_counted(video, event_id);
}

/* A Redis turned into a replica (of a primary that does not exist: port 1 refuses) refuses
 * writes with READONLY; it keeps its data, and takes writes again once a primary. */
static void test_play_against_a_read_only_replica_is_unavailable_then_counts(void **state)
{
    uint64_t video = sf_video(&creator, 1000);
    char event_id[33], text[256];

    vs_event_id(event_id);
    assert_string_equal(redis_say(text, sizeof text, "REPLICAOF 127.0.0.1 1"), "OK");
    assert_play_unavailable(video, event_id, "Redis is a read-only replica");

    assert_string_equal(redis_say(text, sizeof text, "REPLICAOF NO ONE"), "OK");
    assert_play_counted(video, event_id);
}

/* A stopped Redis accepts connections (the kernel does) but never answers: vsd's commands time
 * out, which leaves hiredis 0.14's context dead. vsd reconnects — and the new connection must
 * time out again too (a connection without the timeout would hang the commit lane: the call
 * would end in the client's own deadline, not UNAVAILABLE). */
static void test_stalled_redis_times_out_and_the_new_connection_times_out_again(void **state)
{
    uint64_t video = sf_video(&creator, 1000), again = sf_video(&creator, 1000);
    char event_id[33], second_id[33];
    pid_t pid = ts_stack_pid("redis/redis");

    vs_event_id(event_id);
    vs_event_id(second_id);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    assert_play_unavailable(video, event_id, "Redis is unreachable");
    assert_int_equal(kill(pid, SIGCONT), 0);
    redis_wait_ping("PONG");
    assert_play_counted(video, event_id);

    /* the lane now uses the connection it made after the timeout */
    assert_int_equal(kill(pid, SIGSTOP), 0);
    assert_play_unavailable(again, second_id, "Redis is unreachable");
    assert_int_equal(kill(pid, SIGCONT), 0);
    redis_wait_ping("PONG");
    assert_play_counted(again, second_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_play_while_redis_loads_its_data_is_unavailable_then_counts,
                                  restore_redis),
        cmocka_unit_test_teardown(
            test_play_while_redis_runs_a_long_script_is_unavailable_then_counts, restore_redis),
        cmocka_unit_test_teardown(test_play_against_a_read_only_replica_is_unavailable_then_counts,
                                  restore_redis),
        cmocka_unit_test_teardown(
            test_stalled_redis_times_out_and_the_new_connection_times_out_again, restore_redis),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
