/* test_grow.c — core/grow.h: a buffer doubles from its first size until what is asked fits,
 * never past its bound, and a refusal changes nothing. */
#include "coretest.h"

#include <stdlib.h>

#include "grow.h"

static void test_empty_buffer_starts_at_its_first_size(void **state)
{
    size_t cap = 0;

    assert_int_equal(grow_capacity(0, 1, 16, SIZE_MAX, &cap), VS_OK);
    assert_int_equal(cap, 16);
    assert_int_equal(grow_capacity(0, 40, 16, SIZE_MAX, &cap), VS_OK);
    assert_int_equal(cap, 64); /* 16 doubled until 40 fits */
}

static void test_full_buffer_doubles_until_the_need_fits(void **state)
{
    size_t cap = 0;

    assert_int_equal(grow_capacity(16, 17, 16, SIZE_MAX, &cap), VS_OK);
    assert_int_equal(cap, 32);
    assert_int_equal(grow_capacity(16, 100, 16, SIZE_MAX, &cap), VS_OK);
    assert_int_equal(cap, 128);
    assert_int_equal(grow_capacity(16, 16, 16, SIZE_MAX, &cap), VS_OK);
    assert_int_equal(cap, 16); /* it fits: no growth */
}

static void test_growth_stops_at_the_bound(void **state)
{
    size_t cap = 7;

    assert_int_equal(grow_capacity(64, 65, 16, 100, &cap), VS_OK);
    assert_int_equal(cap, 100); /* 128 lowered to the bound */
    assert_int_equal(grow_capacity(64, 101, 16, 100, &cap), VS_RESOURCE_EXHAUSTED);
    assert_int_equal(cap, 100); /* unchanged */
}

static void test_array_grows_and_keeps_its_elements(void **state)
{
    int64_t *a = NULL;
    size_t cap = 0;

    assert_int_equal(grow_array(&a, &cap, 3, sizeof *a, 4, 1000), VS_OK);
    assert_non_null(a);
    assert_int_equal(cap, 4);
    for (int i = 0; i < 4; i++)
        a[i] = 10 * i;
    assert_int_equal(grow_array(&a, &cap, 5, sizeof *a, 4, 1000), VS_OK);
    assert_int_equal(cap, 8);
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i], 10 * i);
    free(a);
}

static void test_array_refused_past_its_bound_is_unchanged(void **state)
{
    char *bytes = NULL, *before;
    size_t cap = 0;

    assert_int_equal(grow_array(&bytes, &cap, 10, 1, 8, 16), VS_OK);
    assert_int_equal(cap, 16);
    before = bytes;
    assert_int_equal(grow_array(&bytes, &cap, 17, 1, 8, 16), VS_RESOURCE_EXHAUSTED);
    assert_ptr_equal(bytes, before);
    assert_int_equal(cap, 16);
    free(bytes);
}

static void test_array_whose_bytes_would_overflow_is_refused(void **state)
{
    int64_t *a = NULL;
    size_t cap = 0;

    assert_int_equal(grow_array(&a, &cap, SIZE_MAX / 4, sizeof *a, 16, SIZE_MAX),
                     VS_RESOURCE_EXHAUSTED);
    assert_null(a);
    assert_int_equal(cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_buffer_starts_at_its_first_size),
        cmocka_unit_test(test_full_buffer_doubles_until_the_need_fits),
        cmocka_unit_test(test_growth_stops_at_the_bound),
        cmocka_unit_test(test_array_grows_and_keeps_its_elements),
        cmocka_unit_test(test_array_refused_past_its_bound_is_unchanged),
        cmocka_unit_test(test_array_whose_bytes_would_overflow_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
