/* batch_harness.h — shared set-up of the settlement batch's integration tests (included by
 * test_batch_*.c; every function is static).
 *
 * Each test binary gets its own database on the shared test stack (vsb_<name>, migrated by
 * tools/migrate) and its own coordinator and worker processes on private ipc:// URLs. Jobs are
 * per business date and refuse a date whose earlier days are unsettled, so sharing play_log with
 * other tests (or with another batch test) would make them interfere. */
#ifndef VS_BATCH_HARNESS_H
#define VS_BATCH_HARNESS_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vs/batch.h>

#include "clock.h"
#include "db.h"
#include "testsupport.h"
#include "token.h"

#define BH_UNUSED __attribute__((unused))

/* The token secret of the harness's coordinators (vsd's rules: at least 32 bytes). */
#define BH_SECRET "batch-harness-secret-0123456789abcdef"

/* vs.v1.Role */
enum { BH_VIEWER = 1, BH_CREATOR = 2, BH_ADMIN = 3 };

typedef struct bh {
    char db[64];
    char coord_url[256], task_url[256], result_url[256];
    char logs[512];    /* directory of the children's stderr logs */
    char *admin_token; /* of an admin account in the test's database (BatchService needs one) */
} bh;

/* Runs SQL as root on the primary over its unix socket; returns the shell status. */
BH_UNUSED static int bh_root_sql(const char *sql)
{
    return ts_sh("mariadb --no-defaults --protocol=socket -S '%s' -uroot -e \"%s\"",
                 getenv("VS_DB_PRIMARY_SOCKET"), sql);
}

/* Replaces the database of a mysql:// URL (the part after the last '/'). */
static void bh_url_with_db(const char *url, const char *db, char *out, size_t outlen)
{
    const char *slash = strrchr(url, '/');
    const char *query = strchr(slash ? slash : url, '?');

    snprintf(out, outlen, "%.*s/%s%s", (int)(slash - url), url, db, query ? query : "");
}

/* A token signed with BH_SECRET for a new account of the given role in the test's database,
 * expiring exp_in_s from now (negative: already expired); *jti and *user_id (may be NULL) get its
 * id and its account's. Malloc'd; the caller frees. */
BH_UNUSED static char *bh_token(int role, int64_t exp_in_s, char jti[TOKEN_JTI_LEN + 1],
                                uint64_t *user_id)
{
    static int accounts;
    token_claims claims = {0};
    char sql[512], err[256];
    char *token = NULL;
    MYSQL *db = ts_db_primary();

    snprintf(sql, sizeof sql,
             "INSERT INTO users (email, password_hash, display_name, role) VALUES"
             " ('bh-%d-%d@vs.test', 'x', 'batch test', %d)",
             (int)getpid(), ++accounts, role);
    if (db_exec(db, sql, err, sizeof err) != VS_OK)
        fail_msg("%s: %s", sql, err);
    claims.user_id = mysql_insert_id(db);
    mysql_close(db);
    claims.role = role;
    claims.exp = clock_now_ms() / 1000 + exp_in_s;
    claims.iat = claims.exp - (exp_in_s > 0 ? exp_in_s : 3600);
    token_new_jti(claims.jti);
    if (jti != NULL)
        memcpy(jti, claims.jti, sizeof claims.jti);
    if (user_id != NULL)
        *user_id = claims.user_id;
    assert_int_equal(token_sign((const uint8_t *)BH_SECRET, strlen(BH_SECRET), &claims, &token),
                     VS_OK);
    return token;
}

/* Creates the test's own database (dropped first if a previous run left it), migrates it, and
 * points VS_DB_PRIMARY / VS_DB_REPLICA of this process and its children at it. An admin account
 * is made and its token kept where vsctl looks for it (XDG_CONFIG_HOME under the logs), so the
 * harness's clients and any vsctl a test runs are an admin's. */
BH_UNUSED static void bh_setup(bh *h, const char *name)
{
    char sql[512], url[1024];
    const char *home;

    memset(h, 0, sizeof *h);
    assert_int_equal(ts_stack_env(), 0);
    home = getenv("VS_TEST_HOME");
    snprintf(h->db, sizeof h->db, "vsb_%s", name);
    snprintf(h->logs, sizeof h->logs, "%s/%s-logs", home, h->db);
    snprintf(sql, sizeof sql,
             "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s; GRANT ALL ON %s.* TO "
             "'vs'@'127.0.0.1', 'vs'@'localhost'",
             h->db, h->db, h->db);
    assert_int_equal(bh_root_sql(sql), 0);
    assert_int_equal(ts_sh("mkdir -p '%s' && sed -e 's#^\\(export VS_DB_[A-Z]*=mysql://.*\\)/vs$#"
                           "\\1/%s#' '%s/env' > '%s/env' && '%s/tools/migrate' --env '%s/env' "
                           ">/dev/null",
                           h->logs, h->db, home, h->logs, VS_SOURCE_DIR, h->logs),
                     0);
    bh_url_with_db(getenv("VS_DB_PRIMARY"), h->db, url, sizeof url);
    setenv("VS_DB_PRIMARY", url, 1);
    bh_url_with_db(getenv("VS_DB_REPLICA"), h->db, url, sizeof url);
    setenv("VS_DB_REPLICA", url, 1);
    ts_ipc_url("coord", h->coord_url, sizeof h->coord_url);
    ts_ipc_url("tasks", h->task_url, sizeof h->task_url);
    ts_ipc_url("results", h->result_url, sizeof h->result_url);
    setenv("VS_COORD_URL", h->coord_url, 1);
    setenv("VS_TASK_URL", h->task_url, 1);
    setenv("VS_RESULT_URL", h->result_url, 1);
    setenv("VS_JWT_SECRET", BH_SECRET, 1);
    h->admin_token = bh_token(BH_ADMIN, 86400, NULL, NULL);
    snprintf(url, sizeof url, "%s/config", h->logs);
    setenv("XDG_CONFIG_HOME", url, 1);
    assert_int_equal(
        ts_sh("mkdir -p -m 700 '%s/vs' && umask 077 && printf '%%s' '%s' > '%s/vs/token'", url,
              h->admin_token, url),
        0);
}

/* Starts a program with extra "K=V" settings, its stderr appended to logs/<log>.log. */
static pid_t bh_spawn(const bh *h, const char *program, const char *log, const char *const *argv,
                      const char *const *extra_env)
{
    pid_t pid = fork();

    if (pid == 0) {
        char path[700];
        int fd;

        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a crashed test */

        snprintf(path, sizeof path, "%s/%s.log", h->logs, log);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        /* the tests start their jobs themselves (on old dates the schedule would settle at
         * once); a test of the schedule turns it on in extra_env */
        putenv("VS_BATCH_SCHEDULE=off");
        for (const char *const *e = extra_env; e != NULL && *e != NULL; e++)
            putenv((char *)*e);
        execv(ts_program(program), (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

/* Starts vs-coordinator and waits until its control socket answers Health. */
BH_UNUSED static pid_t bh_start_coordinator(const bh *h, const char *const *extra_env)
{
    const char *argv[] = {"vs-coordinator", NULL};
    pid_t pid = bh_spawn(h, "batch/vs-coordinator", "coordinator", argv, extra_env);

    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 15000;) {
        vs_client_options opts = {.timeout_ms = 500};
        Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
        ProtobufCMessage *resp = NULL;
        vs_client *c = NULL;
        int status, rc = -1;

        assert_int_not_equal(waitpid(pid, &status, WNOHANG), pid);
        req.shallow = 1;
        if (vs_client_open(h->coord_url, &opts, &c, NULL) == VS_OK)
            rc = vs_client_call_named(c, &vs__v1__batch_service__descriptor, "Health", &req.base,
                                      &resp, NULL);
        if (resp != NULL)
            protobuf_c_message_free_unpacked(resp, NULL);
        vs_client_close(c);
        if (rc == VS_OK)
            return pid;
        usleep(50 * 1000);
    }
    fail_msg("vs-coordinator did not answer Health within 15 s");
    return -1;
}

/* Starts a vs-worker with `threads` threads; its log is logs/<log>.log. */
BH_UNUSED static pid_t bh_start_worker(const bh *h, int threads, const char *log,
                                       const char *const *extra_env)
{
    char t[16];
    const char *argv[] = {"vs-worker", "--threads", t, "--name", log, NULL};

    snprintf(t, sizeof t, "%d", threads);
    return bh_spawn(h, "batch/vs-worker", log, argv, extra_env);
}

/* SIGKILL, as a crash would. */
BH_UNUSED static void bh_kill(pid_t pid)
{
    int status;

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* Loads generated data with tools/gen (vs-gen) into the test's database. */
BH_UNUSED static void bh_gen(const char *args)
{
    assert_int_equal(ts_sh("'%s' %s >/dev/null 2>&1", ts_program("tools/vs-gen"), args), 0);
}

/* A client of the coordinator with the admin's token. */
BH_UNUSED static vs_client *bh_client(const bh *h)
{
    vs_client *c = ts_client(h->coord_url, 10000);

    vs_client_set_token(c, h->admin_token);
    return c;
}

/* Follows a job until it completes or fails (at most timeout_s); returns its final state. */
BH_UNUSED static int bh_wait(vs_client *c, uint64_t job_id, int timeout_s)
{
    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < timeout_s * 1000;) {
        vs_batch_job *job = NULL;
        vs_call_status st;
        int state;

        assert_int_equal(vs_batch_get(c, job_id, &job, &st), VS_OK);
        state = vs_batch_job_state(job);
        if (state == VS_JOB_FAILED)
            fprintf(stderr, "job %llu failed: %s\n", (unsigned long long)job_id,
                    vs_batch_job_error(job));
        vs_batch_job_free(job);
        if (state == VS_JOB_COMPLETED || state == VS_JOB_FAILED)
            return state;
        usleep(50 * 1000);
    }
    fail_msg("job %llu did not finish within %d s", (unsigned long long)job_id, timeout_s);
    return 0;
}

/* Starts the job of date (asserting VS_OK) and returns its id. */
BH_UNUSED static uint64_t bh_start(vs_client *c, const char *date, int force)
{
    vs_batch_job *job = NULL;
    vs_call_status st;
    uint64_t id;

    if (vs_batch_start(c, date, force, &job, &st) != VS_OK)
        fail_msg("StartJob %s: %s: %s", date, vs_status_name(st.code), st.message);
    id = vs_batch_job_id(job);
    vs_batch_job_free(job);
    return id;
}

/* Starts the job of date and waits for it; asserts it completed. */
BH_UNUSED static uint64_t bh_settle(vs_client *c, const char *date, int force)
{
    uint64_t id = bh_start(c, date, force);

    assert_int_equal(bh_wait(c, id, 300), VS_JOB_COMPLETED);
    return id;
}

/* The first column of the first row as an integer (asserting the query succeeds). */
BH_UNUSED static int64_t bh_int(MYSQL *db, const char *fmt, ...)
{
    va_list ap;
    int64_t v;

    va_start(ap, fmt);
    v = ts_db_vint(db, fmt, ap);
    va_end(ap);
    return v;
}

BH_UNUSED static void bh_exec(MYSQL *db, const char *fmt, ...)
{
    char sql[4096], err[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (db_exec(db, sql, err, sizeof err) != VS_OK)
        fail_msg("%s: %s", sql, err);
}

/* A digest of every table the batch produces (CHECKSUM TABLE of each), to compare two runs. */
BH_UNUSED static void bh_digest(MYSQL *db, char *out, size_t outlen)
{
    static const char *tables[] = {"video_daily_stats", "video_cumulative", "settlement_daily",
                                   "video_period_stats", "video_top"};
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[128];
        MYSQL_RES *res;
        MYSQL_ROW row;

        snprintf(sql, sizeof sql, "CHECKSUM TABLE %s", tables[i]);
        assert_int_equal(mysql_query(db, sql), 0);
        res = mysql_store_result(db);
        assert_non_null(res);
        row = mysql_fetch_row(res);
        assert_non_null(row);
        len += (size_t)snprintf(out + len, outlen - len, "%s=%s;%lld ", tables[i],
                                row[1] ? row[1] : "NULL",
                                (long long)bh_int(db, "SELECT COUNT(*) FROM %s", tables[i]));
        mysql_free_result(res);
    }
}

/* A grep of a child's log: 1 when text occurs in logs/<log>.log. */
BH_UNUSED static int bh_log_has(const bh *h, const char *log, const char *text)
{
    return ts_sh("grep -q -F '%s' '%s/%s.log'", text, h->logs, log) == 0;
}

/* A root connection to the primary (unix socket), for what the vs user may not see: other
 * sessions' transactions and lock waits. */
BH_UNUSED static MYSQL *bh_root_db(const bh *h)
{
    char url[700], err[256];
    MYSQL *db = NULL;

    snprintf(url, sizeof url, "mysql://root@localhost/%s?socket=%s", h->db,
             getenv("VS_DB_PRIMARY_SOCKET"));
    if (db_connect(url, 5, &db, err, sizeof err) != VS_OK)
        fail_msg("root connection: %s", err);
    return db;
}

/* Sessions of the test's database in the middle of writing partial chunks (with the test
 * holding those keys, they are waiting for it), as root sees them. */
BH_UNUSED static int64_t bh_chunk_writers(const bh *h, MYSQL *root)
{
    return bh_int(root,
                  "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '%s' AND"
                  " INFO LIKE 'INSERT INTO batch_partial_chunk%%'",
                  h->db);
}

/* Waits until the job reaches at least `state` (RUNNING: partitions exist). */
BH_UNUSED static void bh_wait_state(vs_client *c, uint64_t job_id, int state)
{
    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 60000; usleep(20 * 1000)) {
        vs_batch_job *job = NULL;
        vs_call_status st;
        int now;

        assert_int_equal(vs_batch_get(c, job_id, &job, &st), VS_OK);
        now = vs_batch_job_state(job);
        vs_batch_job_free(job);
        if (now >= state)
            return;
    }
    fail_msg("job %llu did not reach state %d", (unsigned long long)job_id, state);
}

BH_UNUSED static void bh_teardown(bh *h)
{
    char sql[256];

    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", h->db);
    bh_root_sql(sql);
    free(h->admin_token);
    h->admin_token = NULL;
}

/* F(n) in milli-won for the default rate card (the table in docs/rules.md), computed here
 * independently of core/money.c: the oracle the settlement tests compare the batch against. */
static inline int64_t bh_default_card_value_milli(int64_t n, int ad)
{
    static const int64_t first[4] = {1, 100000, 500000, 1000000};
    static const int64_t video_milli[4] = {1000, 1100, 1300, 1500};
    static const int64_t ad_milli[4] = {10000, 12000, 15000, 20000};
    int64_t value = 0;

    for (int b = 3; b >= 0; b--) {
        if (n >= first[b]) {
            value += (n - first[b] + 1) * (ad ? ad_milli[b] : video_milli[b]);
            n = first[b] - 1;
        }
    }
    return value;
}

#endif
