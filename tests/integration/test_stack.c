/* test_stack.c — the local stack itself: GTID replication from primary to replica, the replica
 * refusing writes, and migrations that re-run as a no-op. */
#include "testsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

static int load_env(void **state)
{
    return ts_stack_env();
}

static void test_row_written_on_primary_is_read_on_replica(void **state)
{
    MYSQL *primary = ts_db_primary(), *replica = ts_db_replica();
    char token[33], sql[256], err[256];
    int64_t found = 0;

    vs_event_id(token);
    snprintf(sql, sizeof sql, "INSERT INTO replication_probe (token) VALUES ('%s')", token);
    assert_int_equal(db_exec(primary, sql, err, sizeof err), VS_OK);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM replication_probe WHERE token = '%s'", token);
    for (int64_t t0 = ts_mono_ms(); ts_mono_ms() - t0 < 10000; usleep(20000)) {
        assert_int_equal(db_query_int(replica, sql, &found, err, sizeof err), VS_OK);
        if (found == 1)
            break;
    }
    assert_int_equal(found, 1);
    mysql_close(primary);
    mysql_close(replica);
}

static void test_replica_is_read_only(void **state)
{
    MYSQL *replica = ts_db_replica();
    char err[256];
    int64_t read_only = 0;

    assert_int_equal(
        db_query_int(replica, "SELECT @@global.read_only", &read_only, err, sizeof err), VS_OK);
    assert_int_equal(read_only, 1);
    /* refused as a read-only server (UNAVAILABLE: the status of a write that may succeed on the
     * primary, as after a failover) */
    assert_int_equal(
        db_exec(replica, "INSERT INTO replication_probe (token) VALUES ('nope')", err, sizeof err),
        VS_UNAVAILABLE);
    assert_non_null(strstr(err, "read-only"));
    mysql_close(replica);
}

static void test_replica_uses_gtid(void **state)
{
    MYSQL *replica = ts_db_replica();
    MYSQL_RES *res;
    MYSQL_ROW row;
    MYSQL_FIELD *fields;
    const char *using_gtid = NULL;

    assert_int_equal(mysql_query(replica, "SHOW SLAVE STATUS"), 0);
    res = mysql_store_result(replica);
    assert_non_null(res);
    row = mysql_fetch_row(res);
    assert_non_null(row);
    fields = mysql_fetch_fields(res);
    for (unsigned i = 0; i < mysql_num_fields(res); i++)
        if (strcmp(fields[i].name, "Using_Gtid") == 0)
            using_gtid = row[i];
    assert_non_null(using_gtid);
    assert_string_equal(using_gtid, "Slave_Pos");
    mysql_free_result(res);
    mysql_close(replica);
}

static void test_migrations_rerun_is_a_no_op(void **state)
{
    MYSQL *primary = ts_db_primary();
    char err[256], sql[128];
    int64_t before = 0, after = 0, files = 0;
    int rc;

    assert_int_equal(
        db_query_int(primary, "SELECT COUNT(*) FROM schema_version", &before, err, sizeof err),
        VS_OK);
    rc = ts_sh("ls %s/sql/[0-9][0-9][0-9][0-9]_*.sql | wc -l > %s/sqlcount.%d", VS_SOURCE_DIR,
               getenv("VS_TEST_HOME"), (int)getpid());
    assert_int_equal(rc, 0);
    {
        char path[1024];
        FILE *f;
        snprintf(path, sizeof path, "%s/sqlcount.%d", getenv("VS_TEST_HOME"), (int)getpid());
        f = fopen(path, "r");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%lld", (long long *)&files), 1);
        fclose(f);
        unlink(path);
    }
    assert_int_equal(before, files); /* every file in sql/ was applied exactly once */
    assert_int_equal(ts_sh("%s/tools/migrate --env %s/env | grep -q 'up to date'", VS_SOURCE_DIR,
                           getenv("VS_TEST_HOME")),
                     0);
    assert_int_equal(
        db_query_int(primary, "SELECT COUNT(*) FROM schema_version", &after, err, sizeof err),
        VS_OK);
    assert_int_equal(after, before);
    snprintf(sql, sizeof sql, "SELECT COUNT(DISTINCT version) FROM schema_version");
    assert_int_equal(db_query_int(primary, sql, &after, err, sizeof err), VS_OK);
    assert_int_equal(after, before);
    mysql_close(primary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_written_on_primary_is_read_on_replica),
        cmocka_unit_test(test_replica_is_read_only),
        cmocka_unit_test(test_replica_uses_gtid),
        cmocka_unit_test(test_migrations_rerun_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, load_env, NULL);
}
