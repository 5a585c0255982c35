/* test_clock_deadline.c — clock_realtime_after: the real-time clock's reading ms from now, with
 * the nanoseconds carried into the seconds (pthread_cond_timedwait refuses tv_nsec >= 1e9). */
#include "testsupport.h"

#include <time.h>

#include "clock.h"

static int64_t realtime_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t ts_ms(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_deadline_is_ms_from_now_and_normalised(void **state)
{
    static const int64_t waits[] = {0, 1, 999, 1000, 1500, 30000};

    (void)state;
    /* every wait, many times: whatever the current nanoseconds, the carry is applied */
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
            int64_t before = realtime_ms();
            struct timespec until = clock_realtime_after(waits[i]);
            int64_t after = realtime_ms();

            assert_true(until.tv_nsec >= 0 && until.tv_nsec < 1000000000L);
            assert_true(ts_ms(until) >= before + waits[i]);
            assert_true(ts_ms(until) <= after + waits[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_is_ms_from_now_and_normalised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
