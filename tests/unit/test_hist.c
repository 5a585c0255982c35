/* test_hist.c — the load tools' latency histogram: quantiles are never below the true value and
 * at most 1/64 above it, merging equals recording into one. */
#include "testsupport.h"

#include <stdlib.h>

#include "hist.h"

static void test_small_values_are_exact(void **state)
{
    hist *h = malloc(sizeof *h);

    hist_init(h);
    for (int v = 1; v <= 100; v++)
        hist_record(h, v);
    assert_int_equal(hist_quantile(h, 0.50), 50);
    assert_int_equal(hist_quantile(h, 0.99), 99);
    assert_int_equal(hist_quantile(h, 1.0), 100);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 100);
    assert_int_equal(h->sum, 5050);
    free(h);
}

static void test_quantile_within_one_sixty_fourth_above(void **state)
{
    hist *h = malloc(sizeof *h);

    hist_init(h);
    /* 1..100000 microseconds: the true p-quantile is p*100000 */
    for (int64_t v = 1; v <= 100000; v++)
        hist_record(h, v);
    static const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        int64_t truth = (int64_t)(qs[i] * 100000 + 0.5), got = hist_quantile(h, qs[i]);
        assert_true(got >= truth);
        assert_true(got <= truth + truth / 64);
    }
    assert_int_equal(hist_quantile(h, 1.0), 100000); /* capped at the exact max */
    free(h);
}

/* An open-loop stall: 1 % of requests at 1 s must show up in p99.9, not vanish into the median. */
static void test_stall_tail_reaches_p999(void **state)
{
    hist *h = malloc(sizeof *h);

    hist_init(h);
    for (int i = 0; i < 9900; i++)
        hist_record(h, 400);
    for (int i = 0; i < 100; i++)
        hist_record(h, 1000000);
    assert_true(hist_quantile(h, 0.5) < 500);
    assert_true(hist_quantile(h, 0.999) >= 1000000);
    assert_int_equal(h->max, 1000000);
    free(h);
}

static void test_merge_equals_single_recording(void **state)
{
    hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);

    hist_init(a);
    hist_init(b);
    hist_init(all);
    for (int64_t v = 0; v < 5000; v++) {
        hist_record(v % 2 ? a : b, v * 37);
        hist_record(all, v * 37);
    }
    hist_merge(a, b);
    assert_int_equal(a->count, all->count);
    assert_int_equal(a->sum, all->sum);
    assert_int_equal(a->min, 0);
    assert_int_equal(a->max, all->max);
    assert_int_equal(hist_quantile(a, 0.99), hist_quantile(all, 0.99));
    free(a);
    free(b);
    free(all);
}

static void test_negative_and_huge_values_are_kept(void **state)
{
    hist *h = malloc(sizeof *h);

    hist_init(h);
    hist_record(h, -5);
    hist_record(h, INT64_C(1) << 50);
    assert_int_equal(h->count, 2);
    assert_int_equal(h->min, 0);
    assert_int_equal(h->max, INT64_C(1) << 50);
    assert_int_equal(hist_quantile(h, 1.0), INT64_C(1) << 50);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_are_exact),
        cmocka_unit_test(test_quantile_within_one_sixty_fourth_above),
        cmocka_unit_test(test_stall_tail_reaches_p999),
        cmocka_unit_test(test_merge_equals_single_recording),
        cmocka_unit_test(test_negative_and_huge_values_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
