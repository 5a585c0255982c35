/* test_db_stmt.c — common/db_stmt.h: each db_bind_* binds the caller's storage at its own width
 * and signedness (so the client copies values without conversion), and a text or blob bind
 * carries its length. */
#include "testsupport.h"

#include <string.h>

#include "db_stmt.h"

static void test_integer_binds_use_their_own_width_and_sign(void **state)
{
    MYSQL_BIND b;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    uint32_t u32 = 0;
    int32_t i32 = 0;
    int8_t i8 = 0;

    memset(&b, 0xff, sizeof b); /* whatever was there before is cleared */
    db_bind_u64(&b, &u64);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_LONGLONG);
    assert_ptr_equal(b.buffer, &u64);
    assert_true(b.is_unsigned);
    assert_null(b.length);
    assert_null(b.is_null);
    db_bind_i64(&b, &i64);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_LONGLONG);
    assert_false(b.is_unsigned);
    db_bind_u32(&b, &u32);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_LONG);
    assert_true(b.is_unsigned);
    db_bind_i32(&b, &i32);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_LONG);
    assert_false(b.is_unsigned);
    db_bind_i8(&b, &i8);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_TINY);
    assert_ptr_equal(b.buffer, &i8);
}

static void test_text_and_blob_binds_carry_their_length(void **state)
{
    MYSQL_BIND b;
    char day[] = "2001-01-01";
    unsigned long len = 10, blob_len = 42;
    unsigned char bytes[64];
    my_bool is_null, error;

    db_bind_text(&b, day, sizeof day, &len);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_STRING);
    assert_ptr_equal(b.buffer, day);
    assert_int_equal(b.buffer_length, sizeof day);
    assert_ptr_equal(b.length, &len);
    db_bind_blob(&b, bytes, &blob_len);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_BLOB);
    assert_int_equal(b.buffer_length, 42);
    assert_ptr_equal(b.length, &blob_len);
    db_bind_flags(&b, &is_null, &error);
    assert_ptr_equal(b.is_null, &is_null);
    assert_ptr_equal(b.error, &error);
    assert_int_equal(b.buffer_type, MYSQL_TYPE_BLOB); /* flags leave the binding alone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_binds_use_their_own_width_and_sign),
        cmocka_unit_test(test_text_and_blob_binds_carry_their_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
