/* test_redis_password.c — a Redis that requires a password (common/redis.c): the connection logs in
 * with the password of VS_REDIS (or VS_REDIS_PASSWORD_FILE), again on every reconnect, and a wrong
 * password is a clear error. Runs its own redis-server with requirepass on a free loopback port. */
#include "testsupport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis.h"

#define PASSWORD "p4ss-w0rd"

static int port;
static pid_t server;

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void start_server(void)
{
    char p[16];

    snprintf(p, sizeof p, "%d", port);
    server = fork();
    if (server == 0) {
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--requirepass",
               PASSWORD, "--save", "", "--appendonly", "no", "--logfile", "/dev/null",
               (char *)NULL);
        _exit(127);
    }
    assert_true(server > 0);
    for (int i = 0; i < 100; i++) {
        if (ts_sh("REDISCLI_AUTH=%s redis-cli -p %d ping 2>/dev/null | grep -q PONG", PASSWORD,
                  port) == 0)
            return;
        usleep(100 * 1000);
    }
    fail_msg("redis-server with requirepass did not start on port %d", port);
}

static void stop_server(void)
{
    int status;

    kill(server, SIGKILL);
    waitpid(server, &status, 0);
}

static int group_setup(void **state)
{
    port = free_port();
    start_server();
    return 0;
}

static int group_teardown(void **state)
{
    stop_server();
    return 0;
}

/* PING answered PONG on r. */
static int pong(redis_conn *r, char *err, size_t errlen)
{
    redisReply *reply = NULL;
    int ok = redis_command(r, &reply, err, errlen, "PING") == VS_OK &&
             reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;

    if (reply != NULL) {
        if (!ok && reply->type == REDIS_REPLY_ERROR)
            snprintf(err, errlen, "%s", reply->str);
        freeReplyObject(reply);
    }
    return ok;
}

/* The password of the URL logs in; after Redis restarts, the reconnect logs in again (without AUTH
 * the first command would get NOAUTH). */
static void test_password_sent_on_connect_and_every_reconnect(void **state)
{
    char url[128], err[256] = "";
    redis_conn *r = NULL;

    unsetenv("VS_REDIS_PASSWORD_FILE");
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d", PASSWORD, port);
    assert_int_equal(redis_open(url, 2000, &r, err, sizeof err), VS_OK);
    assert_true(pong(r, err, sizeof err));
    stop_server();
    start_server();
    if (!pong(r, err, sizeof err))
        fail_msg("after a restart of Redis: %s", err);
    /* a server-side kill of the connection, too */
    assert_int_equal(ts_sh("REDISCLI_AUTH=%s redis-cli -p %d CLIENT KILL TYPE normal >/dev/null",
                           PASSWORD, port),
                     0);
    if (!pong(r, err, sizeof err))
        fail_msg("after CLIENT KILL: %s", err);
    redis_close(r);
}

/* The password can come from a file instead of the URL. */
static void test_password_file_logs_in(void **state)
{
    char path[] = "/tmp/vs-redis-pw-XXXXXX", url[128], err[256] = "";
    int fd = mkstemp(path);
    redis_conn *r = NULL;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, PASSWORD "\n", strlen(PASSWORD) + 1), (ssize_t)strlen(PASSWORD) + 1);
    close(fd);
    setenv("VS_REDIS_PASSWORD_FILE", path, 1);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    assert_int_equal(redis_open(url, 2000, &r, err, sizeof err), VS_OK);
    assert_true(pong(r, err, sizeof err));
    redis_close(r);
    unsetenv("VS_REDIS_PASSWORD_FILE");
    unlink(path);
}

/* A wrong password: UNAUTHENTICATED at once, the message says the password was refused and where
 * it is set, and commands fail with that message rather than a generic one. No password at all:
 * the NOAUTH reply is explained. */
static void test_wrong_or_missing_password_is_a_clear_error(void **state)
{
    char url[128], err[256] = "";
    redis_conn *r = NULL;
    redisReply *reply = NULL;

    unsetenv("VS_REDIS_PASSWORD_FILE");
    snprintf(url, sizeof url, "redis://:not-it@127.0.0.1:%d", port);
    assert_int_equal(redis_open(url, 2000, &r, err, sizeof err), VS_UNAUTHENTICATED);
    assert_non_null(strstr(err, "password was refused"));
    assert_non_null(strstr(err, "VS_REDIS_PASSWORD_FILE"));
    assert_null(strstr(err, "not-it"));
    err[0] = '\0';
    assert_int_equal(redis_command(r, &reply, err, sizeof err, "PING"), VS_UNAVAILABLE);
    assert_non_null(strstr(err, "password was refused"));
    redis_close(r);

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    assert_int_equal(redis_open(url, 2000, &r, err, sizeof err), VS_OK);
    assert_int_equal(redis_command(r, &reply, err, sizeof err, "PING"), VS_OK);
    assert_int_equal(redis_reply_status(reply, err, sizeof err), VS_INTERNAL);
    assert_non_null(strstr(err, "requires a password"));
    freeReplyObject(reply);
    redis_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_sent_on_connect_and_every_reconnect),
        cmocka_unit_test(test_password_file_logs_in),
        cmocka_unit_test(test_wrong_or_missing_password_is_a_clear_error),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
