/* test_user_lockout.c — log-in lockout: 5 failures for one account from one source within 15
 * minutes lock it for 15 minutes whatever the vsd process; the 6th attempt is refused even with
 * the right password; the locked reply is the same for an email nobody has. Failures come from
 * fresh client connections to two different vsd processes sharing the stack (over ipc://, so one
 * source, "local"; other sources: test_user_throttle). The clock is vsd's
 * injectable one, so the 15 minutes pass without waiting. */
#include "user_fixture.h"

#include <pthread.h>

#define FAILURES 5
#define WINDOW_MS (15 * 60 * 1000LL)
#define LOCKED_MESSAGE "too many failed log-in attempts for this email; try again later"

static char url_b[512];
static pid_t vsd_b;

static int setup(void **state)
{
    const char *env[24];

    if (uf_setup("lockout", NULL) != 0)
        return -1;
    /* a second vsd on the same stack and the same clock file: another "source" */
    ts_ipc_url("lockout-b", url_b, sizeof url_b);
    uf_vsd_env(env, 24, NULL);
    vsd_b = ts_start_vsd(url_b, env);
    return vsd_b > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    ts_stop(vsd_b);
    return uf_teardown(state);
}

/* One log-in attempt over a brand-new connection to vsd a (even i) or b (odd i). */
static int attempt(int i, const char *email, const char *password, char *msg, size_t msglen)
{
    vs_client *c = ts_client(i % 2 ? url_b : uf.url, 10000);
    vs_call_status st = {0};
    int rc = vs_user_login(c, email, password, NULL, NULL, NULL, &st);

    if (msg != NULL)
        snprintf(msg, msglen, "%s", rc == VS_OK ? "" : st.message);
    vs_client_close(c);
    return rc;
}

static void fail_n_times(const char *email, int n)
{
    char msg[256];

    for (int i = 0; i < n; i++) {
        assert_int_equal(attempt(i, email, "wrong password", msg, sizeof msg), VS_UNAUTHENTICATED);
        assert_string_equal(msg, "invalid email or password");
    }
}

static void test_five_failures_lock_the_sixth_attempt_even_with_the_right_password(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], msg[256];

    uf_email("lock", email, sizeof email);
    uf_signup(c, email);
    fail_n_times(email, FAILURES);
    assert_int_equal(attempt(FAILURES, email, UF_PASSWORD, msg, sizeof msg), VS_RESOURCE_EXHAUSTED);
    assert_string_equal(msg, LOCKED_MESSAGE);
    /* still locked just before the 15 minutes end, on either vsd */
    uf_clock_set(WINDOW_MS - 2000);
    assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_RESOURCE_EXHAUSTED);
    assert_int_equal(attempt(1, email, UF_PASSWORD, NULL, 0), VS_RESOURCE_EXHAUSTED);
    /* and open again after them */
    uf_clock_set(WINDOW_MS + 1000);
    assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_OK);
    uf_clock_set(0);
    vs_client_close(c);
}

static void test_four_failures_do_not_lock(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128];

    uf_email("four", email, sizeof email);
    uf_signup(c, email);
    fail_n_times(email, FAILURES - 1);
    assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_OK);
    vs_client_close(c);
}

static void test_failures_older_than_15_minutes_do_not_count(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128];

    uf_email("window", email, sizeof email);
    uf_signup(c, email);
    fail_n_times(email, FAILURES - 1);
    uf_clock_set(WINDOW_MS + 1000); /* the four are now older than the window */
    fail_n_times(email, 1);
    assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_OK);
    uf_clock_set(0);
    vs_client_close(c);
}

static void test_successful_login_clears_earlier_failures(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128];

    uf_email("reset", email, sizeof email);
    uf_signup(c, email);
    fail_n_times(email, FAILURES - 1);
    assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_OK);
    fail_n_times(email, FAILURES - 1);
    assert_int_equal(attempt(1, email, UF_PASSWORD, NULL, 0), VS_OK);
    vs_client_close(c);
}

/* Locking an email nobody has looks exactly like locking a real account. */
static void test_locked_reply_is_identical_for_unknown_email(void **state)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    vs_client *c = ts_client(uf.url, 10000);
    char known[128], unknown[128];
    uint8_t *a, *b;
    size_t alen, blen;

    uf_email("lock-known", known, sizeof known);
    uf_email("lock-unknown", unknown, sizeof unknown);
    uf_signup(c, known);
    fail_n_times(known, FAILURES);
    fail_n_times(unknown, FAILURES);
    req.password = UF_PASSWORD;
    req.email = known;
    a = uf_raw_call("/vs.v1.UserService/Login", &req.base, NULL, &alen);
    req.email = unknown;
    b = uf_raw_call("/vs.v1.UserService/Login", &req.base, NULL, &blen);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
    vs_client_close(c);
}

typedef struct burst_arg {
    const char *email;
    int index, rc;
} burst_arg;

static void *burst_one(void *p)
{
    burst_arg *a = p;

    a->rc = attempt(a->index, a->email, "wrong password", NULL, 0);
    return NULL;
}

/* Concurrent guesses cannot slip past the limit: of 16 at once, at most 5 reach the password
 * check (UNAUTHENTICATED); the others are refused as locked. */
static void test_concurrent_burst_gets_at_most_five_password_checks(void **state)
{
    enum { N = 16 };
    vs_client *c = ts_client(uf.url, 10000);
    pthread_t threads[N];
    burst_arg args[N];
    char email[128];
    int checked = 0, locked = 0;

    uf_email("burst", email, sizeof email);
    uf_signup(c, email);
    for (int i = 0; i < N; i++) {
        args[i] = (burst_arg){.email = email, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, burst_one, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        if (args[i].rc == VS_UNAUTHENTICATED)
            checked++;
        else if (args[i].rc == VS_RESOURCE_EXHAUSTED || args[i].rc == VS_UNAVAILABLE)
            locked++; /* locked, or no hashing slot: neither checked a password */
        else
            fail_msg("attempt %d: %s", i, vs_status_name(args[i].rc));
    }
    assert_true(checked <= FAILURES);
    assert_int_equal(checked + locked, N);
    /* five checked failures always lock the email against the right password (fewer may too:
     * attempts still in flight are counted, see docs/users.md) */
    if (checked == FAILURES)
        assert_int_equal(attempt(0, email, UF_PASSWORD, NULL, 0), VS_RESOURCE_EXHAUSTED);
    vs_client_close(c);
}

#define LOGINS_EACH 10

typedef struct login_loop_arg {
    const char *email;
    int index, ok, refused, other, other_rc;
} login_loop_arg;

static void *login_loop(void *p)
{
    login_loop_arg *a = p;

    for (int i = 0; i < LOGINS_EACH; i++) {
        int rc = attempt(a->index + i, a->email, UF_PASSWORD, NULL, 0);

        if (rc == VS_OK)
            a->ok++;
        else if (rc == VS_RESOURCE_EXHAUSTED)
            a->refused++;
        else {
            a->other++;
            a->other_rc = rc;
        }
    }
    return NULL;
}

/* Correct log-ins to one email from 8 callers at once: each is answered OK, or refused as one
 * too many in flight (RESOURCE_EXHAUSTED, docs/users.md), never UNAVAILABLE because InnoDB picked
 * its attempt row's insert or delete as a deadlock victim (that statement is run again). 8 is
 * within vsd's password-hashing queue (2 hashing, 8 waiting), so no caller is turned away there. */
static void test_concurrent_correct_logins_never_fail_on_a_deadlock(void **state)
{
    enum { N = 8 };
    vs_client *c = ts_client(uf.url, 10000);
    pthread_t threads[N];
    login_loop_arg args[N];
    char email[128];
    int ok = 0;

    uf_email("together", email, sizeof email);
    uf_signup(c, email);
    for (int i = 0; i < N; i++) {
        args[i] = (login_loop_arg){.email = email, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, login_loop, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        if (args[i].other > 0)
            fail_msg("caller %d: %d of %d log-ins failed, the last with %s", i, args[i].other,
                     LOGINS_EACH, vs_status_name(args[i].other_rc));
        ok += args[i].ok;
    }
    assert_true(ok > 0);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_failures_lock_the_sixth_attempt_even_with_the_right_password),
        cmocka_unit_test(test_four_failures_do_not_lock),
        cmocka_unit_test(test_failures_older_than_15_minutes_do_not_count),
        cmocka_unit_test(test_successful_login_clears_earlier_failures),
        cmocka_unit_test(test_locked_reply_is_identical_for_unknown_email),
        cmocka_unit_test(test_concurrent_burst_gets_at_most_five_password_checks),
        cmocka_unit_test(test_concurrent_correct_logins_never_fail_on_a_deadlock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
