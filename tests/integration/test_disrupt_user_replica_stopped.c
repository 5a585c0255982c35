/* test_disrupt_user_replica_stopped.c — sign-up then immediate log-in while the replica applies
 * nothing: Login and Me read the primary, so a lagging replica cannot make a new
 * account unknown. The replica's SQL thread is stopped for the test and started again after.
 * Disrupts the shared stack: runs serially. */
#include "user_fixture.h"

static MYSQL *replica;

static int setup(void **state)
{
    if (uf_setup("replica-stopped", NULL) != 0)
        return -1;
    replica = ts_db_replica();
    return mysql_query(replica, "STOP SLAVE SQL_THREAD") == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    if (replica != NULL) {
        if (mysql_query(replica, "START SLAVE SQL_THREAD") != 0)
            fprintf(stderr, "START SLAVE SQL_THREAD: %s\n", mysql_error(replica));
        mysql_close(replica);
    }
    return uf_teardown(state);
}

static void test_signup_then_immediate_login_with_replica_sql_thread_stopped(void **state)
{
    vs_client *c = ts_client(uf.url, 10000);
    char email[128], sql[256], err[256], *token;
    vs_user *me = NULL;
    vs_call_status st;
    int64_t on_replica = -1;
    uint64_t id;

    uf_email("lagging", email, sizeof email);
    id = uf_signup(c, email);
    token = uf_login(c, email);
    assert_int_equal(vs_user_me(c, &me, &st), VS_OK);
    assert_int_equal(vs_user_id(me), id);
    assert_string_equal(vs_user_email(me), email);
    /* the replica really has not seen the account: the log-in cannot have used it */
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM users WHERE email = '%s'", email);
    assert_int_equal(db_query_int(replica, sql, &on_replica, err, sizeof err), VS_OK);
    assert_int_equal(on_replica, 0);
    /* log-out and the lockout bookkeeping write and read the primary as well */
    assert_int_equal(vs_user_logout(c, &st), VS_OK);
    assert_int_equal(uf_me_with(token, NULL, 0), VS_UNAUTHENTICATED);
    vs_user_free(me);
    free(token);
    vs_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signup_then_immediate_login_with_replica_sql_thread_stopped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
