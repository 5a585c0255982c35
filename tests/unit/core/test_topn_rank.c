/* test_topn_rank.c — the top-N ranking rule (docs/rules.md, Top-N; core/topn_rank.h): highest
 * value first, ties by video id ascending, zero values not ranked, N defaults to 5, at most 100. */
#include "coretest.h"

#include "topn_rank.h"

/* {video_id, creator_id, value} */

static void test_top_n_ranks_the_highest_value_first(void **state)
{
    topn_item items[] = {{1, 7, 10}, {2, 7, 300}, {3, 8, 20}, {4, 8, 7}};
    size_t n = topn_rank(items, 4);

    assert_int_equal(n, 4);
    assert_int_equal(items[0].video_id, 2); /* 300 */
    assert_int_equal(items[1].video_id, 3); /* 20 */
    assert_int_equal(items[2].video_id, 1); /* 10 */
    assert_int_equal(items[3].video_id, 4); /* 7 */
}

static void test_top_n_ties_break_by_video_id_ascending(void **state)
{
    topn_item items[] = {{30, 7, 50}, {10, 7, 50}, {20, 8, 90}, {40, 8, 50}, {11, 9, 50}};
    topn_item a = {10, 7, 50}, b = {30, 1, 50};
    size_t n = topn_rank(items, 5);

    assert_int_equal(n, 5);
    assert_int_equal(items[0].video_id, 20);
    assert_int_equal(items[1].video_id, 10);
    assert_int_equal(items[2].video_id, 11);
    assert_int_equal(items[3].video_id, 30);
    assert_int_equal(items[4].video_id, 40);
    assert_true(topn_before(&a, &b)); /* equal values: the lower video id, whoever the creator */
    assert_false(topn_before(&b, &a));
    assert_false(topn_before(&a, &a));
}

static void test_videos_with_zero_are_not_ranked(void **state)
{
    topn_item items[] = {{1, 7, 0}, {2, 7, 5}, {3, 8, 0}, {4, 8, 1}};
    size_t n = topn_rank(items, 4);

    assert_int_equal(n, 2);
    assert_int_equal(items[0].video_id, 2);
    assert_int_equal(items[1].video_id, 4);
}

/* Each creator's videos form one run, ranked by the same rule inside it. */
static void test_per_creator_lists_rank_each_creators_videos_by_the_same_rule(void **state)
{
    topn_item items[] = {{30, 8, 50}, {10, 8, 50}, {20, 7, 1}, {40, 7, 90}, {5, 8, 60}};
    size_t n = topn_rank(items, 5);

    topn_rank_by_creator(items, n);
    assert_int_equal(items[0].video_id, 40); /* creator 7: 90 */
    assert_int_equal(items[1].video_id, 20); /* creator 7: 1 */
    assert_int_equal(items[2].video_id, 5);  /* creator 8: 60 */
    assert_int_equal(items[3].video_id, 10); /* creator 8: 50, lower id */
    assert_int_equal(items[4].video_id, 30);
}

static void test_top_n_defaults_to_5_and_is_at_most_100(void **state)
{
    uint32_t n = 12345;

    assert_int_equal(TOPN_DEFAULT, 5);
    assert_int_equal(TOPN_MAX, 100);
    assert_true(topn_limit(0, &n));
    assert_int_equal(n, 5);
    assert_true(topn_limit(1, &n));
    assert_int_equal(n, 1);
    assert_true(topn_limit(100, &n));
    assert_int_equal(n, 100);
    assert_false(topn_limit(101, &n));
    assert_int_equal(n, 100); /* untouched */
    assert_false(topn_limit(UINT32_MAX, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_n_ranks_the_highest_value_first),
        cmocka_unit_test(test_top_n_ties_break_by_video_id_ascending),
        cmocka_unit_test(test_videos_with_zero_are_not_ranked),
        cmocka_unit_test(test_per_creator_lists_rank_each_creators_videos_by_the_same_rule),
        cmocka_unit_test(test_top_n_defaults_to_5_and_is_at_most_100),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
