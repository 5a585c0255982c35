/* test_batch_auth.c — BatchService is an admin's (docs/batch.md "Who may run the batch"): no or a
 * bad token is UNAUTHENTICATED, a valid token of a user who is not an admin PERMISSION_DENIED,
 * and neither changes a job. Results on the batch sockets from a peer that is not the lease's
 * worker change nothing either: they are rejected and counted in the coordinator's Health. During
 * a secret rotation the previous secret's tokens are still accepted. */
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include "batch_harness.h"

#define DAY1 "2015-02-02"
#define NEW_SECRET "rotated-batch-secret-fedcba9876543210fedcba" /* after BH_SECRET */

static bh h;
static MYSQL *db, *watch; /* watch: reads while db holds the test's transaction */
static pid_t coord, worker;
static char baseline[1024];
static const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=4000", "VS_BATCH_LEASE_MS=60000",
                                  "VS_BATCH_INFLIGHT=4", NULL};

static int group_setup(void **state)
{
    vs_client *admin;

    bh_setup(&h, "auth");
    bh_gen("--rows 30000 --days 1 --videos 40 --users 400 --seed 7 --start " DAY1);
    db = ts_db_primary();
    watch = ts_db_primary();
    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    admin = bh_client(&h);
    bh_settle(admin, DAY1, 0);
    vs_client_close(admin);
    bh_digest(db, baseline, sizeof baseline);
    return 0;
}

static int group_teardown(void **state)
{
    ts_stop(worker);
    ts_stop(coord);
    mysql_close(db);
    mysql_close(watch);
    bh_teardown(&h);
    return 0;
}

/* Every job's state, attempt and timestamps: what a call that changes nothing leaves alone. */
static void jobs_snapshot(char *out, size_t outlen)
{
    char err[256];

    assert_int_equal(db_query_text(db,
                                   "SELECT GROUP_CONCAT(id, ':', state, ':', attempt, ':', forced,"
                                   " ':', updated_ms ORDER BY id) FROM batch_job",
                                   out, outlen, err, sizeof err),
                     VS_OK);
}

static uint64_t day1_job(void)
{
    return (uint64_t)bh_int(db, "SELECT id FROM batch_job WHERE business_date = '" DAY1 "'");
}

/* A client of the coordinator sending token (NULL: none). */
static vs_client *client_with(const char *token)
{
    vs_client *c = ts_client(h.coord_url, 10000);

    if (token != NULL)
        vs_client_set_token(c, token);
    return c;
}

/* StartJob (forced), GetJob and ListJobs all answer `code` and change no job. */
static void assert_every_call_refused(const char *token, int code)
{
    char before[4096], after[4096];
    vs_client *c = client_with(token);
    vs_batch_job *job = NULL;
    vs_batch_jobs *list = NULL;
    vs_call_status st;

    jobs_snapshot(before, sizeof before);
    assert_int_equal(vs_batch_start(c, DAY1, 1, &job, &st), code);
    assert_null(job);
    assert_int_equal(vs_batch_get(c, day1_job(), &job, &st), code);
    assert_int_equal(vs_batch_list(c, 10, &list, &st), code);
    assert_null(list);
    if (code == VS_UNAUTHENTICATED)
        assert_non_null(strstr(st.message, "access token"));
    else
        assert_non_null(strstr(st.message, "admin role"));
    vs_client_close(c);
    jobs_snapshot(after, sizeof after);
    assert_string_equal(after, before);
}

static void test_no_token_is_unauthenticated_and_changes_nothing(void **state)
{
    char empty[700], out[700];

    assert_every_call_refused(NULL, VS_UNAUTHENTICATED);
    /* vsctl without a kept log-in: the forced re-run of a settled day is refused */
    snprintf(empty, sizeof empty, "%s/no-login", h.logs);
    snprintf(out, sizeof out, "%s/vsctl-no-login.err", h.logs);
    assert_int_equal(ts_sh("mkdir -p '%s' && XDG_CONFIG_HOME='%s' '%s' batch run --date " DAY1
                           " --force --wait 2> '%s'",
                           empty, empty, ts_program("client/vsctl"), out),
                     1);
    assert_int_equal(ts_sh("grep -q 'batch run: UNAUTHENTICATED: .*access token' '%s'", out), 0);
    assert_int_equal(
        bh_int(db, "SELECT state FROM batch_job WHERE id = %llu", (unsigned long long)day1_job()),
        VS_JOB_COMPLETED);
}

static void test_garbage_token_is_unauthenticated(void **state)
{
    assert_every_call_refused("not.a-token.at-all", VS_UNAUTHENTICATED);
}

static void test_viewer_and_creator_tokens_are_permission_denied(void **state)
{
    char *viewer = bh_token(BH_VIEWER, 3600, NULL, NULL);
    char *creator = bh_token(BH_CREATOR, 3600, NULL, NULL);

    assert_every_call_refused(viewer, VS_PERMISSION_DENIED);
    assert_every_call_refused(creator, VS_PERMISSION_DENIED);
    free(viewer);
    free(creator);
}

/* exp 61 s past is beyond the 60 s of tolerated clock skew, as for vsd */
static void test_expired_admin_token_is_unauthenticated(void **state)
{
    char *expired = bh_token(BH_ADMIN, -61, NULL, NULL);

    assert_every_call_refused(expired, VS_UNAUTHENTICATED);
    free(expired);
}

/* Revoked as Logout revokes it (its first, durable step): refused from then on. */
static void test_revoked_admin_token_is_unauthenticated(void **state)
{
    char jti[TOKEN_JTI_LEN + 1];
    uint64_t user;
    char *token = bh_token(BH_ADMIN, 3600, jti, &user);
    vs_client *c = client_with(token);
    vs_batch_jobs *list = NULL;
    vs_call_status st;

    assert_int_equal(vs_batch_list(c, 1, &list, &st), VS_OK);
    vs_batch_jobs_free(list);
    vs_client_close(c);
    bh_exec(db,
            "INSERT INTO auth_revoked_token (jti, user_id, expires_unix) VALUES ('%s', %llu,"
            " UNIX_TIMESTAMP() + 3600)",
            jti, (unsigned long long)user);
    assert_every_call_refused(token, VS_UNAUTHENTICATED);
    free(token);
}

/* An admin's token whose account was demoted since: the account's role decides, as in vsd. */
static void test_demoted_admin_token_is_permission_denied(void **state)
{
    uint64_t user;
    char *token = bh_token(BH_ADMIN, 3600, NULL, &user);

    bh_exec(db, "UPDATE users SET role = 1 WHERE id = %llu", (unsigned long long)user);
    assert_every_call_refused(token, VS_PERMISSION_DENIED);
    free(token);
}

static void test_admin_token_runs_and_follows_the_batch(void **state)
{
    char out[700], after[1024];
    vs_client *c = bh_client(&h);
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    uint64_t job = bh_settle(c, DAY1, 1);

    assert_int_equal(
        bh_int(db, "SELECT attempt FROM batch_job WHERE id = %llu", (unsigned long long)job), 2);
    assert_int_equal(vs_batch_list(c, 10, &list, &st), VS_OK);
    assert_int_equal(vs_batch_jobs_count(list), 1);
    vs_batch_jobs_free(list);
    vs_client_close(c);
    /* vsctl with the admin's kept log-in (the harness's XDG_CONFIG_HOME) */
    snprintf(out, sizeof out, "%s/vsctl-admin.out", h.logs);
    assert_int_equal(ts_sh("'%s' batch status > '%s'", ts_program("client/vsctl"), out), 0);
    assert_int_equal(ts_sh("grep -q completed '%s'", out), 0);
    bh_digest(db, after, sizeof after);
    assert_string_equal(after, baseline);
}

/* Rotating the secret (docs/users.md): a coordinator restarted with a new VS_JWT_SECRET and
 * VS_JWT_SECRET_PREVIOUS set to the old one still runs the batch for the admin's token the old
 * secret signed; restarted without the previous secret, it refuses that token. */
static void test_token_of_the_previous_secret_accepted_while_rotating(void **state)
{
    const char *rotated[] = {
        "VS_BATCH_PARTITION_IDS=4000", "VS_BATCH_LEASE_MS=60000",           "VS_BATCH_INFLIGHT=4",
        "VS_JWT_SECRET=" NEW_SECRET,   "VS_JWT_SECRET_PREVIOUS=" BH_SECRET, NULL};
    const char *new_only[] = {"VS_BATCH_PARTITION_IDS=4000", "VS_BATCH_LEASE_MS=60000",
                              "VS_BATCH_INFLIGHT=4", "VS_JWT_SECRET=" NEW_SECRET, NULL};
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    vs_client *c;

    ts_stop(coord);
    coord = bh_start_coordinator(&h, rotated);
    c = client_with(h.admin_token);
    assert_int_equal(vs_batch_list(c, 10, &list, &st), VS_OK);
    assert_int_equal(vs_batch_jobs_count(list), 1);
    vs_batch_jobs_free(list);
    vs_client_close(c);
    ts_stop(coord);
    coord = bh_start_coordinator(&h, new_only);
    assert_every_call_refused(h.admin_token, VS_UNAUTHENTICATED);
    ts_stop(coord);
    coord = bh_start_coordinator(&h, coord_env);
}

/* "N rejected ..." of the coordinator's Health, component batch-results. */
static uint64_t rejected_results(void)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_client *c = client_with(NULL); /* Health needs no token */
    uint64_t n = UINT64_MAX;

    assert_int_equal(vs_client_call_named(c, &vs__v1__batch_service__descriptor, "Health",
                                          &req.base, (ProtobufCMessage **)&resp, NULL),
                     VS_OK);
    for (size_t i = 0; i < resp->n_components; i++)
        if (strcmp(resp->components[i]->name, "batch-results") == 0)
            n = strtoull(resp->components[i]->detail, NULL, 10);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vs_client_close(c);
    assert_true(n != UINT64_MAX);
    return n;
}

static void send_result(nng_socket push, uint64_t job, uint32_t part, uint64_t epoch, int accepted,
                        int committed)
{
    Vs__V1__PartitionResult res = VS__V1__PARTITION_RESULT__INIT;
    uint8_t buf[256];

    res.job_id = job;
    res.part = part;
    res.lease_epoch = epoch;
    res.accepted = accepted;
    res.committed = committed;
    res.worker = (char *)"forger";
    res.error = (char *)"forged";
    assert_int_equal(nng_send(push, buf, vs__v1__partition_result__pack(&res, buf), 0), 0);
}

/* Partitions as the repository has them (lease deadlines aside: the holder renews them). */
static void partitions_snapshot(uint64_t job, char *out, size_t outlen)
{
    char sql[256], err[256];

    snprintf(sql, sizeof sql,
             "SELECT GROUP_CONCAT(part, ':', state, ':', attempt, ':', lease_epoch, ':', worker"
             " ORDER BY part) FROM batch_partition WHERE job_id = %llu",
             (unsigned long long)job);
    assert_int_equal(db_query_text(watch, sql, out, outlen, err, sizeof err), VS_OK);
}

/* While a worker holds partition 0 (blocked committing it), a peer on the result socket sends
 * what a stranger could: garbage, an unknown job, an unknown partition, a wrong epoch, and with
 * the right epoch an acknowledgement and a "not committed". Each is rejected and counted; no
 * partition changes; the job then completes with the clean run's tables. */
static void test_forged_results_are_rejected_counted_and_change_nothing(void **state)
{
    vs_client *c = bh_client(&h);
    char before[4096], after[4096], digest[1024];
    uint64_t job, epoch, rejected;
    nng_socket push;
    pid_t holder;
    int64_t parts;

    ts_stop(worker);
    job = bh_start(c, DAY1, 1);
    bh_wait_state(c, job, VS_JOB_RUNNING); /* no worker: nothing leased yet */
    parts = bh_int(db, "SELECT partitions_total FROM batch_job WHERE id = %llu",
                   (unsigned long long)job);
    assert_true(parts > 2);
    bh_exec(db, "START TRANSACTION");
    for (int p = 0; p < parts; p++)
        bh_exec(db,
                "INSERT INTO batch_partial_chunk (job_id, part, chunk, videos, data) VALUES"
                " (%llu, %d, 0, 0, '')",
                (unsigned long long)job, p);
    holder = bh_start_worker(&h, 1, "holder", NULL);
    /* the coordinator has leased VS_BATCH_INFLIGHT partitions, 0 among them, and stops there */
    for (int64_t t0 = ts_mono_ms(); bh_int(watch,
                                           "SELECT COUNT(*) FROM batch_partition WHERE job_id ="
                                           " %llu AND state = 2",
                                           (unsigned long long)job) < 4;
         usleep(20 * 1000))
        assert_true(ts_mono_ms() - t0 < 60000);
    epoch = (uint64_t)bh_int(watch,
                             "SELECT lease_epoch FROM batch_partition WHERE job_id = %llu AND"
                             " part = 0",
                             (unsigned long long)job);
    usleep(500 * 1000); /* the holder's acknowledgement has bound the lease by now */
    partitions_snapshot(job, before, sizeof before);
    rejected = rejected_results();

    assert_int_equal(nng_push0_open(&push), 0);
    assert_int_equal(nng_dial(push, h.result_url, NULL, 0), 0);
    assert_int_equal(nng_send(push, "\xff\xff\xff", 3, 0), 0); /* undecodable */
    send_result(push, job + 1000, 0, epoch, 0, 1);             /* no such job */
    send_result(push, job, 100000, epoch, 0, 0);               /* no such partition */
    send_result(push, job, 0, epoch + 1, 0, 0);                /* not the current epoch */
    send_result(push, job, 0, epoch, 1, 0);                    /* acknowledgement, other pipe */
    send_result(push, job, 0, epoch, 0, 0);                    /* "failed", other pipe */
    for (int64_t t0 = ts_mono_ms(); rejected_results() < rejected + 6; usleep(50 * 1000))
        assert_true(ts_mono_ms() - t0 < 10000);
    nng_close(push);
    partitions_snapshot(job, after, sizeof after);
    assert_string_equal(after, before);
    assert_true(bh_log_has(&h, "coordinator", "result rejected"));

    bh_exec(db, "ROLLBACK");
    assert_int_equal(bh_wait(c, job, 300), VS_JOB_COMPLETED);
    /* partition 0 was committed once, by the worker holding its first lease */
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM batch_partition WHERE job_id = %llu AND"
                            " part = 0 AND attempt = 1 AND lease_epoch = %llu AND worker LIKE"
                            " 'holder/%%'",
                            (unsigned long long)job, (unsigned long long)epoch),
                     1);
    bh_digest(db, digest, sizeof digest);
    assert_string_equal(digest, baseline);
    ts_stop(holder);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_token_is_unauthenticated_and_changes_nothing),
        cmocka_unit_test(test_garbage_token_is_unauthenticated),
        cmocka_unit_test(test_viewer_and_creator_tokens_are_permission_denied),
        cmocka_unit_test(test_expired_admin_token_is_unauthenticated),
        cmocka_unit_test(test_revoked_admin_token_is_unauthenticated),
        cmocka_unit_test(test_demoted_admin_token_is_permission_denied),
        cmocka_unit_test(test_admin_token_runs_and_follows_the_batch),
        cmocka_unit_test(test_token_of_the_previous_secret_accepted_while_rotating),
        cmocka_unit_test(test_forged_results_are_rejected_counted_and_change_nothing),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
