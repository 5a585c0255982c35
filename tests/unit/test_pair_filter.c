/* test_pair_filter.c — the row filter's set of (viewer, video) pairs: never a false "no". */
#include "testsupport.h"

#include <pthread.h>
#include <stdint.h>

#include "pair_filter.h"

/* Every pair added is reported as maybe present; of pairs never added, few are. */
static void test_added_pairs_always_found(void **state)
{
    pair_filter *f = pair_filter_new(100000);
    int false_maybe = 0;

    assert_non_null(f);
    for (uint64_t v = 1; v <= 1000; v++)
        for (uint64_t video = 1; video <= 100; video++)
            pair_filter_add(f, v, video);
    assert_int_equal(pair_filter_adds(f), 100000);
    for (uint64_t v = 1; v <= 1000; v++)
        for (uint64_t video = 1; video <= 100; video++)
            if (!pair_filter_maybe(f, v, video))
                fail_msg("pair (%llu, %llu) added but reported absent", (unsigned long long)v,
                         (unsigned long long)video);
    /* (viewer, video) swapped or shifted: other pairs, nearly all reported absent */
    for (uint64_t v = 1; v <= 1000; v++)
        for (uint64_t video = 101; video <= 200; video++)
            false_maybe += pair_filter_maybe(f, v, video);
    /* 16 bits a pair, 6 probes in a 512-bit block: about 0.1 %; 1 % would mean a broken hash */
    assert_true(false_maybe < 1000);
    pair_filter_free(f);
}

static void test_empty_and_tiny(void **state)
{
    pair_filter *f = pair_filter_new(0);

    assert_non_null(f);
    assert_int_equal(pair_filter_bytes(f), 64); /* one block */
    assert_false(pair_filter_maybe(f, 1, 1));
    assert_false(pair_filter_maybe(f, UINT64_MAX, UINT64_MAX));
    pair_filter_add(f, 7, 9);
    assert_true(pair_filter_maybe(f, 7, 9));
    assert_false(pair_filter_maybe(f, 9, 7) && pair_filter_maybe(f, 7, 10) &&
                 pair_filter_maybe(f, 8, 9));
    /* overfilled, it degrades to "maybe" (a read), never to a wrong "no" */
    for (uint64_t i = 1; i <= 5000; i++)
        pair_filter_add(f, i, i * 3);
    for (uint64_t i = 1; i <= 5000; i++)
        assert_true(pair_filter_maybe(f, i, i * 3));
    pair_filter_free(f);
    pair_filter_free(NULL);
}

static void test_size_is_capped(void **state)
{
    pair_filter *f = pair_filter_new(1000000);

    /* 1 M pairs × 16 bits = 2 MiB, rounded up to a power of two of blocks */
    assert_int_equal(pair_filter_bytes(f), 2 * 1024 * 1024);
    pair_filter_free(f);
    f = pair_filter_new((uint64_t)1 << 20); /* vsd's smallest: exactly 2 MiB */
    assert_int_equal(pair_filter_bytes(f), 2 * 1024 * 1024);
    pair_filter_free(f);
    f = pair_filter_new(UINT64_MAX / 2); /* capped at 2^31 bits */
    assert_int_equal(pair_filter_bytes(f), (size_t)1 << 28);
    pair_filter_free(f);
}

typedef struct adder {
    pair_filter *f;
    uint64_t viewer;
} adder;

static void *add_many(void *arg)
{
    adder *a = arg;

    for (uint64_t video = 1; video <= 20000; video++)
        pair_filter_add(a->f, a->viewer, video);
    return NULL;
}

/* Threads adding at once (the lanes and the loader do) lose no bit. */
static void test_concurrent_adds(void **state)
{
    pair_filter *f = pair_filter_new(1000);
    pthread_t th[4];
    adder a[4];

    for (int i = 0; i < 4; i++) {
        a[i] = (adder){.f = f, .viewer = (uint64_t)i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, add_many, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(pair_filter_adds(f), 80000);
    for (uint64_t v = 1; v <= 4; v++)
        for (uint64_t video = 1; video <= 20000; video++)
            assert_true(pair_filter_maybe(f, v, video));
    pair_filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_pairs_always_found),
        cmocka_unit_test(test_empty_and_tiny),
        cmocka_unit_test(test_size_is_capped),
        cmocka_unit_test(test_concurrent_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
