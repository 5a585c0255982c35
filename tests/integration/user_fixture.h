/* user_fixture.h — shared set-up of the UserService integration tests (test_user_*.c,
 * test_disrupt_*user*): one vsd per test binary with a known token secret, small argon2 parameters
 * and an injectable clock; unique accounts; raw envelope calls for byte-level comparisons.
 *
 * Header-only (static functions) because each tests/integration/test_*.c is its own program. */
#ifndef VS_USER_FIXTURE_H
#define VS_USER_FIXTURE_H

#include <fcntl.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vs/user.h>

#include "db.h"
#include "testsupport.h"

/* The secret every test vsd signs with, so tests can forge tokens with the real key. */
#define UF_SECRET "user-fixture-secret-0123456789abcdef0123456789"
#define UF_PASSWORD "correct horse battery"

typedef struct uf_env {
    char url[512];
    char clock_file[512];
    pid_t vsd;
    MYSQL *db;
    int64_t clock_offset_ms;
} uf_env;

static uf_env uf;

/* Writes the injectable clock's offset and waits past vsd's 5 ms re-read interval. */
static inline void uf_clock_set(int64_t offset_ms)
{
    char tmp[600];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", uf.clock_file);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "%lld\n", (long long)offset_ms);
    fclose(f);
    assert_int_equal(rename(tmp, uf.clock_file), 0);
    uf.clock_offset_ms = offset_ms;
    usleep(20 * 1000);
}

/* Seconds since the epoch as vsd sees them (real time + the offset). */
static inline int64_t uf_now_s(void)
{
    return (int64_t)time(NULL) + uf.clock_offset_ms / 1000;
}

/* The environment of a test vsd: clock file, known secret, small hashes, then extra. */
static inline void uf_vsd_env(const char **env, size_t cap, const char *const *extra)
{
    static char clock_env[600];
    size_t n = 0;

    snprintf(clock_env, sizeof clock_env, "VS_TEST_CLOCK_FILE=%s", uf.clock_file);
    env[n++] = clock_env;
    env[n++] = "VS_JWT_SECRET=" UF_SECRET;
    env[n++] = "VS_PWHASH_INSECURE_TEST_PARAMS=1";
    env[n++] = "VS_PWHASH_OPSLIMIT=1";
    env[n++] = "VS_PWHASH_MEMLIMIT=65536";
    for (const char *const *e = extra; e != NULL && *e != NULL && n + 1 < cap; e++)
        env[n++] = *e;
    env[n] = NULL;
}

/* Starts the binary's vsd (extra "K=V" settings may be NULL) and opens the primary. */
static inline int uf_setup(const char *name, const char *const *extra)
{
    const char *env[24];
    char err[256];

    if (ts_stack_env() != 0)
        return -1;
    ts_ipc_url(name, uf.url, sizeof uf.url);
    snprintf(uf.clock_file, sizeof uf.clock_file, "%s/%s-%d.clock",
             getenv("VS_TEST_HOME") ? getenv("VS_TEST_HOME") : "/tmp", name, (int)getpid());
    uf_clock_set(0);
    uf_vsd_env(env, 24, extra);
    uf.vsd = ts_start_vsd(uf.url, env);
    if (uf.vsd < 0)
        return -1;
    if (db_connect(getenv("VS_DB_PRIMARY"), 5, &uf.db, err, sizeof err) != VS_OK) {
        fprintf(stderr, "primary: %s\n", err);
        return -1;
    }
    return 0;
}

static inline int uf_teardown(void **state)
{
    ts_stop(uf.vsd);
    if (uf.db != NULL)
        mysql_close(uf.db);
    unlink(uf.clock_file);
    return 0;
}

/* Runs vsd with settings set ("K=V") and unset (names) in the child, for a vsd expected to
 * refuse to start; returns its exit status (-1 if it was still running after 10 s, then stopped)
 * and its stderr in out. */
static inline int uf_run_vsd_expecting_exit(const char *const *set, const char *const *unset,
                                            char *out, size_t outlen)
{
    char url[512], log[600];
    int status = 0, fd;
    pid_t pid;
    ssize_t n;

    ts_ipc_url("tokens-refuse", url, sizeof url);
    snprintf(log, sizeof log, "%s.log", url + 6);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        for (const char *const *u = unset; u && *u; u++)
            unsetenv(*u);
        for (const char *const *s = set; s && *s; s++)
            putenv((char *)*s);
        execl(ts_program("server/vsd"), "vsd", "--url", url, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0) {
        ts_stop(pid);
        return -1;
    }
    fd = open(log, O_RDONLY);
    n = fd >= 0 ? read(fd, out, outlen - 1) : 0;
    out[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    unlink(log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A fresh, unique email under label. Static storage, one per call site use. */
static inline void uf_email(const char *label, char *out, size_t outlen)
{
    static int seq;

    snprintf(out, outlen, "%s-%d-%d-%lld@users.test", label, (int)getpid(), seq++,
             (long long)ts_mono_ms());
}

/* Signs up email (must succeed) and returns the id. */
static inline uint64_t uf_signup(vs_client *c, const char *email)
{
    vs_call_status st;
    uint64_t id = 0;

    if (vs_user_signup(c, email, UF_PASSWORD, "Test User", &id, &st) != VS_OK)
        fail_msg("SignUp %s: %s %s", email, vs_status_name(st.code), st.message);
    return id;
}

/* Logs c in as email (must succeed); the client then carries the token. Returns it (free). */
static inline char *uf_login(vs_client *c, const char *email)
{
    vs_call_status st;
    char *token = NULL;

    if (vs_user_login(c, email, UF_PASSWORD, &token, NULL, NULL, &st) != VS_OK)
        fail_msg("Login %s: %s %s", email, vs_status_name(st.code), st.message);
    return token;
}

/* Me with token on a fresh connection: the status code, message copied to msg if not NULL. */
static inline int uf_me_with(const char *token, char *msg, size_t msglen)
{
    vs_client *c = ts_client(uf.url, 10000);
    vs_user *u = NULL;
    vs_call_status st = {0};
    int rc;

    vs_client_set_token(c, token);
    rc = vs_user_me(c, &u, &st);
    if (msg != NULL)
        snprintf(msg, msglen, "%s", rc == VS_OK ? "" : st.message);
    vs_user_free(u);
    vs_client_close(c);
    return rc;
}

/* One raw call over a new REQ socket: the envelope is built here with a fixed request id, and
 * the reply's exact bytes are returned (malloc'd, *len set) for byte-for-byte comparisons. */
static inline uint8_t *uf_raw_call(const char *method, const ProtobufCMessage *payload,
                                   const char *authorization, size_t *len)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    nng_socket sock;
    nng_msg *msg = NULL;
    uint8_t *body, *out;
    size_t plen = protobuf_c_message_get_packed_size(payload), elen;

    env.method = (char *)method;
    env.request_id = 7;
    env.authorization = (char *)(authorization ? authorization : "");
    env.payload.data = malloc(plen ? plen : 1);
    env.payload.len = protobuf_c_message_pack(payload, env.payload.data);
    elen = vs__v1__request_envelope__get_packed_size(&env);
    body = malloc(elen);
    vs__v1__request_envelope__pack(&env, body);
    assert_int_equal(nng_req0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 20000);
    assert_int_equal(nng_dial(sock, uf.url, NULL, 0), 0);
    assert_int_equal(nng_send(sock, body, elen, 0), 0);
    assert_int_equal(nng_recvmsg(sock, &msg, 0), 0);
    *len = nng_msg_len(msg);
    out = malloc(*len ? *len : 1);
    memcpy(out, nng_msg_body(msg), *len);
    nng_msg_free(msg);
    nng_close(sock);
    free(body);
    free(env.payload.data);
    return out;
}

#endif
