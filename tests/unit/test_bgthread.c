/* test_bgthread.c — common/bgthread.h: a background thread runs its loop until stopped, and a
 * stop wakes it at once wherever it waits (bgthread_wait, or poll on its wake fd). */
#include "testsupport.h"

#include <poll.h>
#include <stdatomic.h>

#include "bgthread.h"
#include "clock.h"

#define LONG_WAIT_MS 600000 /* ten minutes: a stop that did not wake the thread would hang */
#define STOP_BOUND_MS 10000 /* "at once", generously */

typedef struct counting {
    atomic_int rounds;
} counting;

/* Counts rounds, waiting LONG_WAIT_MS between them. */
static void waiting_loop(bgthread *t, void *arg)
{
    counting *c = arg;

    do
        atomic_fetch_add(&c->rounds, 1);
    while (!bgthread_wait(t, LONG_WAIT_MS));
}

/* Blocks in poll(2) on the wake fd alone, as a loop on its own socket would. */
static void polling_loop(bgthread *t, void *arg)
{
    counting *c = arg;
    struct pollfd p = {.fd = bgthread_wake_fd(t), .events = POLLIN};

    atomic_fetch_add(&c->rounds, 1);
    while (!bgthread_stopping(t))
        poll(&p, 1, LONG_WAIT_MS);
}

static void test_stop_wakes_a_thread_waiting_between_rounds(void **state)
{
    bgthread t;
    counting c = {0};
    char err[128];
    int64_t t0;

    assert_int_equal(bgthread_start(&t, "test-wait", waiting_loop, &c, err, sizeof err), VS_OK);
    while (atomic_load(&c.rounds) == 0)
        assert_int_equal(bgthread_wait(&t, 1), 0); /* not stopping: the time runs out */
    t0 = clock_mono_ms();
    bgthread_stop(&t);
    assert_true(clock_mono_ms() - t0 < STOP_BOUND_MS);
    assert_int_equal(atomic_load(&c.rounds), 1);
}

static void test_stop_wakes_a_thread_blocked_in_poll(void **state)
{
    bgthread t;
    counting c = {0};
    char err[128];
    int64_t t0;

    assert_int_equal(bgthread_start(&t, "test-poll", polling_loop, &c, err, sizeof err), VS_OK);
    while (atomic_load(&c.rounds) == 0)
        bgthread_wait(&t, 1);
    t0 = clock_mono_ms();
    bgthread_stop(&t);
    assert_true(clock_mono_ms() - t0 < STOP_BOUND_MS);
}

static void test_stop_of_a_stopped_or_unstarted_thread_does_nothing(void **state)
{
    bgthread never = {.running = 0}, t;
    counting c = {0};
    char err[128];

    bgthread_stop(&never);
    assert_int_equal(bgthread_start(&t, "test-twice", waiting_loop, &c, err, sizeof err), VS_OK);
    bgthread_stop(&t);
    bgthread_stop(&t); /* reverse-order shutdown may stop twice */
    assert_int_equal(t.running, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_wakes_a_thread_waiting_between_rounds),
        cmocka_unit_test(test_stop_wakes_a_thread_blocked_in_poll),
        cmocka_unit_test(test_stop_of_a_stopped_or_unstarted_thread_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
