/* test_db_primary_file.c — where a primary connection goes after a failover (common/db.c,
 * db_primary_follow): the address of a member of the replication group becomes the current
 * primary's, keeping user, password and database; other addresses, unix sockets and a missing file
 * change nothing; a malformed file is an error naming VS_DB_PRIMARY_FILE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static db_url parse(const char *url)
{
    db_url u;
    char err[256];

    assert_int_equal(db_url_parse(url, &u, err, sizeof err), VS_OK);
    return u;
}

static void test_member_moves_to_the_primary(void **state)
{
    db_url u = parse("mysql://vs:pw@127.0.0.1:20006/vsb_x");
    char err[256];

    (void)state;
    write_file("# comment\nprimary=127.0.0.1:20007\nmembers=127.0.0.1:20006,127.0.0.1:20007\n");
    assert_int_equal(db_primary_follow(path, &u, err, sizeof err), VS_OK);
    assert_int_equal(u.port, 20007);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.user, "vs");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.database, "vsb_x");
}

static void test_other_addresses_and_sockets_stay(void **state)
{
    db_url other = parse("mysql://vs:x@127.0.0.1:1/none");
    db_url sock = parse("mysql://vs:x@localhost/vs?socket=/tmp/s.sock");
    char err[256];

    (void)state;
    write_file("primary=127.0.0.1:20007\nmembers=127.0.0.1:20006,127.0.0.1:20007\n");
    assert_int_equal(db_primary_follow(path, &other, err, sizeof err), VS_OK);
    assert_int_equal(other.port, 1);
    assert_int_equal(db_primary_follow(path, &sock, err, sizeof err), VS_OK);
    assert_string_equal(sock.host, "localhost");
    assert_string_equal(sock.socket, "/tmp/s.sock");
}

static void test_missing_file_changes_nothing(void **state)
{
    db_url u = parse("mysql://vs:pw@127.0.0.1:20006/vs");
    char err[256];

    (void)state;
    unlink(path);
    assert_int_equal(db_primary_follow(path, &u, err, sizeof err), VS_OK);
    assert_int_equal(u.port, 20006);
}

static void test_malformed_file_is_refused(void **state)
{
    static const char *const bad[] = {"primary=127.0.0.1\n", "members=127.0.0.1:1\n",
                                      "primary=127.0.0.1:0\n", "primary=:5\n",
                                      "primary=127.0.0.1:5\nhost=x\n"};
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        db_url u = parse("mysql://vs:pw@127.0.0.1:20006/vs");

        write_file(bad[i]);
        assert_int_equal(db_primary_follow(path, &u, err, sizeof err), VS_INVALID_ARGUMENT);
        assert_non_null(strstr(err, "VS_DB_PRIMARY_FILE"));
        assert_int_equal(u.port, 20006);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_moves_to_the_primary),
        cmocka_unit_test(test_other_addresses_and_sockets_stay),
        cmocka_unit_test(test_missing_file_changes_nothing),
        cmocka_unit_test(test_malformed_file_is_refused),
    };
    int rc;

    snprintf(path, sizeof path, "/tmp/vs-db-primary-%d", (int)getpid());
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    return rc;
}
