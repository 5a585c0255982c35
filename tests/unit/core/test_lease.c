/* test_lease.c — the partition lease (docs/batch.md, Leases; core/lease.h): epochs are
 * attempt << 32 | n, and only the holder of the row's current epoch may renew, confirm or commit;
 * a commit also needs the partition not done yet. The SQL fence says the same. */
#include "coretest.h"

#include <string.h>

#include "lease.h"

#define ATTEMPT1 4294967296ull /* 1 << 32 */

static void test_lease_epochs_of_a_later_attempt_are_above_every_earlier_one(void **state)
{
    assert_true(lease_epoch_first(1) == ATTEMPT1);
    assert_true(lease_epoch_first(2) == 8589934592ull);
    /* the last epoch attempt 1 could issue is still below attempt 2's first */
    assert_true(lease_epoch_first(1) + 0xFFFFFFFFull < lease_epoch_first(2));
}

static void test_a_renewal_holds_only_under_the_current_epoch_while_leased(void **state)
{
    uint64_t e = ATTEMPT1 + 3;

    assert_true(lease_fence_admits(LEASE_HOLD, e, e, PART_LEASED));
    assert_false(lease_fence_admits(LEASE_HOLD, e, e + 1, PART_LEASED)); /* re-issued */
    assert_false(lease_fence_admits(LEASE_HOLD, e + 1, e, PART_LEASED)); /* not issued yet */
    assert_false(lease_fence_admits(LEASE_HOLD, e, e, PART_PENDING));    /* released */
    assert_false(lease_fence_admits(LEASE_HOLD, e, e, PART_DONE));
}

static void test_a_result_commits_only_under_the_current_epoch_before_done(void **state)
{
    uint64_t e = ATTEMPT1 + 3;

    assert_true(lease_fence_admits(LEASE_COMMIT, e, e, PART_LEASED));
    assert_true(lease_fence_admits(LEASE_COMMIT, e, e, PART_PENDING));
    assert_false(lease_fence_admits(LEASE_COMMIT, e, e, PART_DONE)); /* a second delivery */
    assert_false(lease_fence_admits(LEASE_COMMIT, e, e + 1, PART_LEASED));
    /* a task of attempt 1 against the row as attempt 2 leased it */
    assert_false(
        lease_fence_admits(LEASE_COMMIT, ATTEMPT1 + 1, lease_epoch_first(2) + 1, PART_LEASED));
}

static void test_the_sql_fence_states_the_same_condition(void **state)
{
    char sql[96];

    assert_int_equal(lease_fence_sql(LEASE_HOLD, "", ATTEMPT1 + 1, sql, sizeof sql),
                     (int)strlen("lease_epoch = 4294967297 AND state = 2"));
    assert_string_equal(sql, "lease_epoch = 4294967297 AND state = 2");
    lease_fence_sql(LEASE_HOLD, "p.", ATTEMPT1 + 1, sql, sizeof sql);
    assert_string_equal(sql, "p.lease_epoch = 4294967297 AND p.state = 2");
    lease_fence_sql(LEASE_COMMIT, "", ATTEMPT1 + 1, sql, sizeof sql);
    assert_string_equal(sql, "lease_epoch = 4294967297 AND state <> 3");
    lease_fence_sql(LEASE_COMMIT, NULL, UINT64_MAX, sql, sizeof sql);
    assert_string_equal(sql, "lease_epoch = 18446744073709551615 AND state <> 3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_epochs_of_a_later_attempt_are_above_every_earlier_one),
        cmocka_unit_test(test_a_renewal_holds_only_under_the_current_epoch_while_leased),
        cmocka_unit_test(test_a_result_commits_only_under_the_current_epoch_before_done),
        cmocka_unit_test(test_the_sql_fence_states_the_same_condition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
