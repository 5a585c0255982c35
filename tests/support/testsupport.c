/* testsupport.c — stack env import, vsd child processes, DB handles for assertions. */
#include "testsupport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"

int64_t ts_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ts_stack_env(void)
{
    const char *home = getenv("VS_TEST_HOME");
    char path[1024], err[256];

    if (home == NULL) {
        fprintf(stderr, "VS_TEST_HOME is not set: run integration tests through ctest\n");
        return -1;
    }
    snprintf(path, sizeof path, "%s/env", home);
    if (config_load_file(path, err, sizeof err) != VS_OK) {
        fprintf(stderr, "cannot import the test stack's env: %s\n", err);
        return -1;
    }
    return 0;
}

const char *ts_program(const char *relative)
{
    static char path[1024];

    snprintf(path, sizeof path, "%s/%s", VS_BUILD_DIR, relative);
    return path;
}

void ts_ipc_url(const char *name, char *out, size_t outlen)
{
    const char *home = getenv("VS_TEST_HOME");
    static int seq;

    snprintf(out, outlen, "ipc://%s/%s-%d-%d.ipc", home ? home : "/tmp", name, (int)getpid(),
             seq++);
}

int ts_free_tcp_port(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    assert_true(port > 0);
    return port;
}

void ts_tls_certs(char *dir, size_t dirlen)
{
    const char *home = getenv("VS_TEST_HOME");
    static int seq;

    snprintf(dir, dirlen, "%s/tls-%d-%d", home ? home : "/tmp", (int)getpid(), seq++);
    assert_int_equal(
        ts_sh("rm -rf '%s' && '%s/tests/support/tls_certs.sh' '%s'", dir, VS_SOURCE_DIR, dir), 0);
}

/* Prints every thread's stack of pid to stderr when gdb is installed: a server that stops
 * answering in CI leaves its reason in the log. */
static void ts_dump_threads(pid_t pid)
{
    if (system("command -v gdb >/dev/null 2>&1") != 0)
        return;
    ts_sh("gdb -p %d -batch -nx -ex 'thread apply all bt' </dev/null 2>&1 | head -400 >&2",
          (int)pid);
}

pid_t ts_start_vsd(const char *url, const char *const *extra_env)
{
    vs_call_status last = {0};
    int attempts = 0;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        for (const char *const *e = extra_env; e != NULL && *e != NULL; e++)
            putenv((char *)*e);
        setenv("VS_THREADS", getenv("VS_TEST_THREADS") ? getenv("VS_TEST_THREADS") : "8", 0);
        /* no per-source sign-up/log-in limit unless a test sets one: every test vsd sees its
         * ipc:// callers as the one source "local", and the test binaries running in parallel
         * share one Redis, so their bulk sign-ups would trip the shared default limit */
        setenv("VS_SIGNUP_PER_SOURCE", "0", 0);
        setenv("VS_LOGIN_PER_SOURCE", "0", 0);
        execl(ts_program("server/vsd"), "vsd", "--url", url, (char *)NULL);
        perror("exec vsd");
        _exit(127);
    }
    /* ready when a shallow Health answers */
    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 10000;) {
        vs_client *c = NULL;
        vs_client_options opts = {.timeout_ms = 300};
        Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
        ProtobufCMessage *resp = NULL;
        int status, rc = -1;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "vsd exited during start-up (status %d)\n", status);
            return -1;
        }
        req.shallow = 1;
        if (vs_client_open(url, &opts, &c, &last) == VS_OK)
            rc = vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health",
                                      &req.base, &resp, &last);
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        vs_client_close(c);
        if (rc == VS_OK)
            return pid;
        attempts++;
        usleep(50 * 1000);
    }
    fprintf(stderr,
            "vsd (pid %d) on %s did not answer a shallow Health within 10 s (%d attempts; "
            "last: %s %s)\n",
            (int)pid, url, attempts, vs_status_name(last.code), last.message);
    ts_dump_threads(pid);
    ts_stop(pid);
    return -1;
}

int ts_stop(pid_t pid)
{
    int status;

    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
        usleep(10 * 1000);
    }
    fprintf(stderr, "pid %d did not exit within 5 s of SIGTERM: killed\n", (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return 1;
}

vs_client *ts_client(const char *url, int timeout_ms)
{
    vs_client_options opts = {.timeout_ms = timeout_ms};
    vs_client *c = NULL;
    vs_call_status st;

    assert_int_equal(vs_client_open(url, &opts, &c, &st), VS_OK);
    return c;
}

static MYSQL *ts_db(const char *key)
{
    MYSQL *db = NULL;
    char err[256];
    vs_status rc = db_connect(getenv(key), 5, &db, err, sizeof err);

    if (rc != VS_OK)
        fprintf(stderr, "%s: %s\n", key, err);
    assert_int_equal(rc, VS_OK);
    return db;
}

MYSQL *ts_db_primary(void)
{
    return ts_db("VS_DB_PRIMARY");
}

MYSQL *ts_db_replica(void)
{
    return ts_db("VS_DB_REPLICA");
}

int64_t ts_db_vint(MYSQL *db, const char *fmt, va_list ap)
{
    char sql[4096], err[512];
    int64_t v = 0;
    vs_status rc;

    vsnprintf(sql, sizeof sql, fmt, ap);
    rc = db_query_int(db, sql, &v, err, sizeof err);
    if (rc != VS_OK && rc != VS_NOT_FOUND)
        fail_msg("%s: %s", sql, err);
    return rc == VS_OK ? v : 0;
}

int64_t ts_db_int(MYSQL *db, const char *fmt, ...)
{
    va_list ap;
    int64_t v;

    va_start(ap, fmt);
    v = ts_db_vint(db, fmt, ap);
    va_end(ap);
    return v;
}

int ts_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    status = system(cmd);
    if (status == -1)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t ts_stack_pid(const char *component)
{
    char path[600];
    FILE *f;
    int pid = -1;

    snprintf(path, sizeof path, "%s/%s.pid", getenv("VS_TEST_HOME"), component);
    if ((f = fopen(path, "r")) != NULL) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return (pid_t)pid;
}

void ts_kill_redis(void)
{
    pid_t pid = ts_stack_pid("redis/redis");

    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
        usleep(10000);
    assert_int_not_equal(kill(pid, 0), 0);
}

void ts_restart_redis(pid_t old)
{
    assert_int_equal(ts_sh("VS_HOME=%s %s/tools/stack up >/dev/null 2>&1", getenv("VS_TEST_HOME"),
                           VS_SOURCE_DIR),
                     0);
    assert_true(ts_stack_pid("redis/redis") > 0);
    assert_int_not_equal(ts_stack_pid("redis/redis"), old);
}
