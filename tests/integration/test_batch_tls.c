/* test_batch_tls.c — the batch's task and result sockets over tls+tcp:// are mutual TLS
 * (docs/batch.md, "Mutual TLS"): only a peer whose certificate this deployment's CA signed gets a
 * task or can deliver a result. A peer with a certificate of another CA, or with none, is refused
 * during the handshake, receives nothing while a job runs, and what it tries to send never
 * reaches the coordinator; the job completes with the good worker alone. A worker without its
 * certificate refuses to start, naming the setting. Certificates: tests/support/tls_certs.sh. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>
#include <sys/wait.h>

#include "batch_harness.h"

#define DAY1 "2015-03-02"

static bh h;
static MYSQL *db;
static char certs[512], env_cert[600], env_key[600], ca[600];

static int group_setup(void **state)
{
    static char task_url[64], result_url[64];

    bh_setup(&h, "tls");
    bh_gen("--rows 30000 --days 1 --videos 40 --users 400 --seed 11 --start " DAY1);
    db = ts_db_primary();
    ts_tls_certs(certs, sizeof certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    /* every process trusts the test CA; each gets its own certificate */
    setenv("VS_TLS_CA", ca, 1);
    snprintf(task_url, sizeof task_url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    snprintf(result_url, sizeof result_url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    snprintf(h.task_url, sizeof h.task_url, "%s", task_url);
    snprintf(h.result_url, sizeof h.result_url, "%s", result_url);
    setenv("VS_TASK_URL", task_url, 1);
    setenv("VS_RESULT_URL", result_url, 1);
    return 0;
}

static int group_teardown(void **state)
{
    mysql_close(db);
    bh_teardown(&h);
    ts_sh("rm -rf '%s'", certs);
    return 0;
}

/* A file's contents (static storage, one of two at a time). */
static const char *slurp(const char *path)
{
    static char buf[2][8192];
    static int next;
    char *out = buf[next++ % 2];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, sizeof buf[0] - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* A peer of the batch sockets made with nng alone (vs-worker would refuse to run with a
 * certificate its CA did not sign): it trusts the coordinator's CA and presents `cert` (NULL:
 * none). Its first dial is synchronous and must be refused; it then keeps dialling in the
 * background for as long as the test runs, as a stubborn intruder would. */
static nng_socket intruder(int (*open_fn)(nng_socket *), const char *url, const char *cert,
                           const char *key)
{
    nng_tls_config *cfg;
    nng_socket s;
    int pass;

    assert_int_equal(open_fn(&s), 0);
    for (pass = 0; pass < 2; pass++) {
        nng_dialer d;
        int rv;

        assert_int_equal(nng_dialer_create(&d, s, url), 0);
        assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
        assert_int_equal(nng_tls_config_ca_file(cfg, ca), 0);
        assert_int_equal(nng_tls_config_server_name(cfg, "127.0.0.1"), 0);
        if (cert != NULL)
            assert_int_equal(nng_tls_config_own_cert(cfg, slurp(cert), slurp(key), NULL), 0);
        assert_int_equal(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
        nng_tls_config_free(cfg);
        rv = nng_dialer_start(d, pass == 0 ? 0 : NNG_FLAG_NONBLOCK);
        if (pass == 0) {
            if (rv == 0)
                fail_msg("%s admitted a peer with %s", url, cert ? cert : "no certificate");
            fprintf(stderr, "intruder with %s on %s refused: %s\n", cert ? cert : "no certificate",
                    url, nng_strerror(rv));
            nng_dialer_close(d);
        } else {
            assert_int_equal(rv, 0);
        }
    }
    return s;
}

/* A result an intruder would forge: partition 0 of job failed under its current epoch. */
static int forge_result(nng_socket push, uint64_t job)
{
    Vs__V1__PartitionResult res = VS__V1__PARTITION_RESULT__INIT;
    uint8_t buf[256];

    res.job_id = job;
    res.part = 0;
    res.lease_epoch = (uint64_t)bh_int(db,
                                       "SELECT lease_epoch FROM batch_partition WHERE job_id ="
                                       " %llu AND part = 0",
                                       (unsigned long long)job);
    res.worker = (char *)"intruder";
    res.error = (char *)"forged";
    return nng_send(push, buf, vs__v1__partition_result__pack(&res, buf), NNG_FLAG_NONBLOCK);
}

static void test_only_workers_signed_by_the_ca_get_tasks_or_deliver_results(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=2000", env_cert, env_key, NULL};
    char worker_cert[600], worker_key[600], rogue_cert[600], rogue_key[600];
    const char *worker_env[] = {worker_cert, worker_key, NULL};
    nng_socket pulls[2], pushes[2];
    const char *certs_of[2][2];
    vs_client *c;
    pid_t coord, worker;
    uint64_t job;
    int64_t parts;

    snprintf(env_cert, sizeof env_cert, "VS_TLS_CERT=%s/server.pem", certs);
    snprintf(env_key, sizeof env_key, "VS_TLS_KEY=%s/server.key", certs);
    snprintf(worker_cert, sizeof worker_cert, "VS_TLS_CERT=%s/worker.pem", certs);
    snprintf(worker_key, sizeof worker_key, "VS_TLS_KEY=%s/worker.key", certs);
    snprintf(rogue_cert, sizeof rogue_cert, "%s/rogue.pem", certs);
    snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", certs);
    certs_of[0][0] = NULL; /* no certificate at all */
    certs_of[0][1] = NULL;
    certs_of[1][0] = rogue_cert; /* a certificate of another CA */
    certs_of[1][1] = rogue_key;

    coord = bh_start_coordinator(&h, coord_env);
    c = bh_client(&h);
    for (int i = 0; i < 2; i++) {
        pulls[i] = intruder(nng_pull0_open, h.task_url, certs_of[i][0], certs_of[i][1]);
        pushes[i] = intruder(nng_push0_open, h.result_url, certs_of[i][0], certs_of[i][1]);
    }
    job = bh_start(c, DAY1, 0);
    bh_wait_state(c, job, VS_JOB_RUNNING);
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    assert_true(parts >= 8);    /* enough tasks that an admitted intruder would get some */
    for (int i = 0; i < 2; i++) /* no connection to send a forged failure over */
        assert_int_equal(forge_result(pushes[i], job), NNG_EAGAIN);

    worker = bh_start_worker(&h, 2, "good", worker_env);
    assert_int_equal(bh_wait(c, job, 300), VS_JOB_COMPLETED);
    for (int i = 0; i < 2; i++) {
        void *msg;
        size_t len;

        assert_int_equal(nng_recv(pulls[i], &msg, &len, NNG_FLAG_NONBLOCK | NNG_FLAG_ALLOC),
                         NNG_EAGAIN);
        nng_close(pulls[i]);
        nng_close(pushes[i]);
    }
    /* every partition was done once, by the good worker */
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND"
                            " attempt = 1 AND worker LIKE 'good/%%'",
                            (unsigned long long)job),
                     parts);
    assert_int_equal(bh_int(db, "SELECT SUM(rows_read) FROM batch_partition WHERE job_id = %llu",
                            (unsigned long long)job),
                     bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY1 "'"));
    ts_stop(worker);
    vs_client_close(c);
    ts_stop(coord);
}

/* vs-worker with the given settings; returns its exit status (it must exit by itself). */
static int worker_exit(const char *log, const char *const *env)
{
    pid_t pid = bh_start_worker(&h, 1, log, env);
    int status;

    for (int64_t t0 = ts_mono_ms(); waitpid(pid, &status, WNOHANG) != pid; usleep(20 * 1000))
        if (ts_mono_ms() - t0 > 30000) {
            bh_kill(pid);
            fail_msg("vs-worker (%s) kept running with settings it should refuse", log);
        }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_worker_without_its_certificate_refuses_to_start(void **state)
{
    char rogue_cert[600], rogue_key[600], open_key[700];
    const char *rogue_env[] = {rogue_cert, rogue_key, NULL};
    const char *open_env[] = {rogue_cert, open_key, NULL};

    /* none at all: it could never be admitted */
    assert_int_equal(worker_exit("nocert", NULL), 2);
    assert_true(bh_log_has(&h, "nocert", "VS_TLS_CERT is not set"));
    /* one its CA did not sign */
    snprintf(rogue_cert, sizeof rogue_cert, "VS_TLS_CERT=%s/rogue.pem", certs);
    snprintf(rogue_key, sizeof rogue_key, "VS_TLS_KEY=%s/rogue.key", certs);
    assert_int_equal(worker_exit("roguecert", rogue_env), 2);
    assert_true(bh_log_has(&h, "roguecert", "does not verify against VS_TLS_CA"));
    /* a key other users may read */
    assert_int_equal(
        ts_sh("cp '%s/worker.key' '%s/open.key' && chmod 644 '%s/open.key'", certs, certs, certs),
        0);
    snprintf(rogue_cert, sizeof rogue_cert, "VS_TLS_CERT=%s/worker.pem", certs);
    snprintf(open_key, sizeof open_key, "VS_TLS_KEY=%s/open.key", certs);
    assert_int_equal(worker_exit("openkey", open_env), 2);
    assert_true(bh_log_has(&h, "openkey", "mode 0644"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_workers_signed_by_the_ca_get_tasks_or_deliver_results),
        cmocka_unit_test(test_worker_without_its_certificate_refuses_to_start),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
