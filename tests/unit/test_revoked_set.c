/* test_revoked_set.c — the in-memory set of revoked jtis every authenticated call consults
 * (common/revoked_set.h): membership, malformed ids, the later expiry wins, pruning drops only
 * tokens past their exp, growth to many entries, and lookups from many threads while another
 * thread adds and prunes. */
#include "testsupport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "revoked_set.h"
#include "token.h"

#define NOW 1800000000LL

/* The i-th test jti: 32 lowercase hex digits. */
static void jti_of(unsigned i, char out[TOKEN_JTI_LEN + 1])
{
    snprintf(out, TOKEN_JTI_LEN + 1, "%016x%016x", i * 2654435761u, i);
}

static void test_added_jti_is_found_and_others_are_not(void **state)
{
    revoked_set *s;
    char a[TOKEN_JTI_LEN + 1], b[TOKEN_JTI_LEN + 1];

    assert_int_equal(revoked_set_new(&s), VS_OK);
    jti_of(1, a);
    jti_of(2, b);
    assert_false(revoked_set_contains(s, a));
    assert_int_equal(revoked_set_add(s, a, NOW), VS_OK);
    assert_true(revoked_set_contains(s, a));
    assert_false(revoked_set_contains(s, b));
    assert_int_equal(revoked_set_add(s, a, NOW), VS_OK); /* idempotent */
    assert_int_equal(revoked_set_count(s), 1);
    revoked_set_free(s);
}

static void test_malformed_jti_is_refused_and_never_found(void **state)
{
    static const char *bad[] = {
        "",
        "0123456789abcdef0123456789abcde",   /* 31 digits */
        "0123456789abcdef0123456789abcdef0", /* 33 digits */
        "0123456789ABCDEF0123456789abcdef",  /* upper case */
        "0123456789abcdef0123456789abcdeg",  /* not hex */
    };
    revoked_set *s;

    assert_int_equal(revoked_set_new(&s), VS_OK);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(revoked_set_add(s, bad[i], NOW), VS_INVALID_ARGUMENT);
        assert_false(revoked_set_contains(s, bad[i]));
    }
    assert_int_equal(revoked_set_add(s, "0123456789abcdef0123456789abcdef", 0),
                     VS_INVALID_ARGUMENT);
    assert_false(revoked_set_contains(s, NULL));
    assert_int_equal(revoked_set_count(s), 0);
    revoked_set_free(s);
}

/* A token's jti matters until exp + TOKEN_SKEW_S; pruning at now - 60 s keeps exactly those. */
static void test_prune_drops_only_tokens_past_exp_plus_skew(void **state)
{
    revoked_set *s;
    char old[TOKEN_JTI_LEN + 1], edge[TOKEN_JTI_LEN + 1], live[TOKEN_JTI_LEN + 1];

    assert_int_equal(revoked_set_new(&s), VS_OK);
    jti_of(10, old);
    jti_of(11, edge);
    jti_of(12, live);
    assert_int_equal(revoked_set_add(s, old, NOW - TOKEN_SKEW_S - 1), VS_OK);
    assert_int_equal(revoked_set_add(s, edge, NOW - TOKEN_SKEW_S), VS_OK);
    assert_int_equal(revoked_set_add(s, live, NOW + 3600), VS_OK);
    assert_int_equal(revoked_set_prune(s, NOW - TOKEN_SKEW_S), 1);
    assert_false(revoked_set_contains(s, old));
    assert_true(revoked_set_contains(s, edge)); /* exp = now - 60 s is still accepted */
    assert_true(revoked_set_contains(s, live));
    assert_int_equal(revoked_set_prune(s, NOW - TOKEN_SKEW_S), 0);
    revoked_set_free(s);
}

static void test_re_adding_keeps_the_later_expiry(void **state)
{
    revoked_set *s;
    char a[TOKEN_JTI_LEN + 1];

    assert_int_equal(revoked_set_new(&s), VS_OK);
    jti_of(7, a);
    assert_int_equal(revoked_set_add(s, a, NOW + 100), VS_OK);
    assert_int_equal(revoked_set_add(s, a, NOW - 100), VS_OK);
    assert_int_equal(revoked_set_prune(s, NOW), 0);
    assert_true(revoked_set_contains(s, a));
    revoked_set_free(s);
}

static void test_100000_entries_all_found_and_pruned_half(void **state)
{
    enum { N = 100000 };
    revoked_set *s;
    char j[TOKEN_JTI_LEN + 1];

    assert_int_equal(revoked_set_new(&s), VS_OK);
    for (unsigned i = 0; i < N; i++) {
        jti_of(i, j);
        assert_int_equal(revoked_set_add(s, j, i % 2 ? NOW + 10 : NOW - 10), VS_OK);
    }
    assert_int_equal(revoked_set_count(s), N);
    assert_int_equal(revoked_set_prune(s, NOW), N / 2);
    assert_int_equal(revoked_set_count(s), N / 2);
    for (unsigned i = 0; i < N; i++) {
        jti_of(i, j);
        assert_int_equal(revoked_set_contains(s, j), i % 2);
    }
    for (unsigned i = N; i < N + 1000; i++) {
        jti_of(i, j);
        assert_false(revoked_set_contains(s, j));
    }
    revoked_set_free(s);
}

enum { READERS = 4, KEPT = 500, CHURN = 20000 };
static atomic_int readers_wrong, writer_done;

/* Looks up the KEPT entries (always present) and a jti never added, until the writer is done. */
static void *reader(void *arg)
{
    revoked_set *s = arg;
    char j[TOKEN_JTI_LEN + 1], never[TOKEN_JTI_LEN + 1];

    jti_of(0xfffffff, never);
    while (!atomic_load(&writer_done))
        for (unsigned i = 0; i < KEPT; i++) {
            jti_of(i, j);
            if (!revoked_set_contains(s, j) || revoked_set_contains(s, never))
                atomic_fetch_add(&readers_wrong, 1);
        }
    return NULL;
}

static void test_lookups_from_many_threads_while_adding_and_pruning(void **state)
{
    revoked_set *s;
    pthread_t t[READERS];
    char j[TOKEN_JTI_LEN + 1];

    assert_int_equal(revoked_set_new(&s), VS_OK);
    for (unsigned i = 0; i < KEPT; i++) {
        jti_of(i, j);
        assert_int_equal(revoked_set_add(s, j, NOW + 3600), VS_OK);
    }
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, s), 0);
    /* short-lived entries make the table grow, then pruning shrinks it, over and over */
    for (unsigned i = 0; i < CHURN; i++) {
        jti_of(KEPT + i, j);
        assert_int_equal(revoked_set_add(s, j, NOW - 1), VS_OK);
        if (i % 2000 == 1999)
            assert_int_equal(revoked_set_prune(s, NOW), 2000);
    }
    atomic_store(&writer_done, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&readers_wrong), 0);
    assert_int_equal(revoked_set_count(s), KEPT);
    revoked_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_jti_is_found_and_others_are_not),
        cmocka_unit_test(test_malformed_jti_is_refused_and_never_found),
        cmocka_unit_test(test_prune_drops_only_tokens_past_exp_plus_skew),
        cmocka_unit_test(test_re_adding_keeps_the_later_expiry),
        cmocka_unit_test(test_100000_entries_all_found_and_pruned_half),
        cmocka_unit_test(test_lookups_from_many_threads_while_adding_and_pruning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
