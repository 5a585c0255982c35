/* test_db_status.c — which status a MariaDB error becomes (common/db.c): a server out of disk or
 * memory is RESOURCE_EXHAUSTED (retry later), a lost connection UNAVAILABLE (retry now), and
 * neither is ever INTERNAL, which tells a client that retrying will not help. */
#include <errmsg.h>
#include <mysqld_error.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "db.h"

static void test_out_of_space_or_memory_is_resource_exhausted(void **state)
{
    (void)state;
    assert_int_equal(db_status_from_errno(ER_RECORD_FILE_FULL), VS_RESOURCE_EXHAUSTED); /* 1114 */
    assert_int_equal(db_status_from_errno(ER_DISK_FULL), VS_RESOURCE_EXHAUSTED);        /* 1021 */
    assert_int_equal(db_status_from_errno(ER_OUT_OF_RESOURCES), VS_RESOURCE_EXHAUSTED); /* 1041 */
    assert_int_equal(db_status_from_errno(ER_OUTOFMEMORY), VS_RESOURCE_EXHAUSTED);      /* 1037 */
    assert_int_equal(db_status_from_errno(ER_OUT_OF_SORTMEMORY), VS_RESOURCE_EXHAUSTED);
    assert_int_equal(db_status_from_errno(ER_ERROR_ON_WRITE), VS_RESOURCE_EXHAUSTED);
    assert_int_equal(db_status_from_errno(CR_OUT_OF_MEMORY), VS_RESOURCE_EXHAUSTED);
}

static void test_lost_connection_is_unavailable_and_lost(void **state)
{
    static const unsigned lost[] = {
        CR_SERVER_GONE_ERROR, CR_SERVER_LOST,     ER_CONNECTION_KILLED,   CR_CONN_HOST_ERROR,
        CR_CONNECTION_ERROR,  ER_SERVER_SHUTDOWN, CR_SERVER_LOST_EXTENDED};

    (void)state;
    for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
        assert_true(db_conn_lost(lost[i]));
        assert_int_equal(db_status_from_errno(lost[i]), VS_UNAVAILABLE);
    }
    /* too many connections: unavailable now, but the connection that got it was never made */
    assert_int_equal(db_status_from_errno(ER_CON_COUNT_ERROR), VS_UNAVAILABLE);
    assert_false(db_conn_lost(ER_CON_COUNT_ERROR));
}

static void test_statement_errors_keep_their_meaning(void **state)
{
    (void)state;
    assert_int_equal(db_status_from_errno(ER_DUP_ENTRY), VS_ALREADY_EXISTS);
    assert_int_equal(db_status_from_errno(ER_LOCK_DEADLOCK), VS_ABORTED);
    assert_int_equal(db_status_from_errno(ER_LOCK_WAIT_TIMEOUT), VS_ABORTED);
    /* read_only: a demoted primary during a failover; retry once the connection follows */
    assert_int_equal(db_status_from_errno(ER_OPTION_PREVENTS_STATEMENT), VS_UNAVAILABLE);
    assert_int_equal(db_status_from_errno(ER_PARSE_ERROR), VS_INTERNAL);
    assert_false(db_conn_lost(ER_DUP_ENTRY));
    assert_false(db_conn_lost(ER_RECORD_FILE_FULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_space_or_memory_is_resource_exhausted),
        cmocka_unit_test(test_lost_connection_is_unavailable_and_lost),
        cmocka_unit_test(test_statement_errors_keep_their_meaning),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
