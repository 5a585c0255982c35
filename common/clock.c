/* clock.c — real and test-offset clocks, and the detection of wall-clock steps. */
#include "clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

/* the test file's offsets, re-read at most every 5 ms */
static pthread_mutex_t clock_test_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t clock_passed_ms, clock_stepped_ms;
static int64_t clock_offset_read_at = -1000;

/* the difference wall - steady of the latest reading, and the steps seen */
static pthread_mutex_t clock_step_lock = PTHREAD_MUTEX_INITIALIZER;
static int clock_skew_known;
static int64_t clock_skew_ms;
static clock_step_stats clock_seen;

/* The test file's offsets (0 without VS_TEST_CLOCK_FILE). */
static void clock_test_offsets(int64_t *passed_ms, int64_t *stepped_ms)
{
    const char *path = getenv("VS_TEST_CLOCK_FILE");
    int64_t now;

    *passed_ms = *stepped_ms = 0;
    if (path == NULL || *path == '\0')
        return;
    now = clock_mono_ms();
    pthread_mutex_lock(&clock_test_lock);
    if (now - clock_offset_read_at >= 5) {
        FILE *f = fopen(path, "r");
        long long passed = 0, stepped = 0;

        if (f != NULL) {
            int n = fscanf(f, "%lld %lld", &passed, &stepped);

            if (n >= 1) {
                clock_passed_ms = passed;
                clock_stepped_ms = n == 2 ? stepped : 0;
            }
            fclose(f);
        }
        clock_offset_read_at = now;
    }
    *passed_ms = clock_passed_ms;
    *stepped_ms = clock_stepped_ms;
    pthread_mutex_unlock(&clock_test_lock);
}

static int64_t clock_realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads both clocks and compares them with the previous reading: the two only drift apart when
 * the wall clock is stepped (NTP's slewing changes both rates alike). The clocks are read under the
 * lock, so readings reach the comparison in the order they were made. */
clock_instant clock_now(void)
{
    clock_instant now;
    int64_t passed, stepped, skew, step = 0;

    clock_test_offsets(&passed, &stepped);
    pthread_mutex_lock(&clock_step_lock);
    now.wall_ms = clock_realtime_ms() + passed + stepped;
    now.steady_ms = clock_mono_ms() + passed;
    skew = now.wall_ms - now.steady_ms;
    if (clock_skew_known &&
        (skew - clock_skew_ms >= CLOCK_STEP_MIN_MS || clock_skew_ms - skew >= CLOCK_STEP_MIN_MS)) {
        step = skew - clock_skew_ms;
        clock_seen.steps++;
        clock_seen.last_step_ms = step;
    }
    clock_skew_ms = skew;
    clock_skew_known = 1;
    pthread_mutex_unlock(&clock_step_lock);
    if (step != 0)
        log_warn("clock: the wall clock stepped %s by %.3f s (against the monotonic clock)",
                 step > 0 ? "forward" : "back", (double)(step > 0 ? step : -step) / 1000.0);
    return now;
}

int64_t clock_now_ms(void)
{
    return clock_now().wall_ms;
}

int64_t clock_steady_ms(void)
{
    int64_t passed, stepped;

    clock_test_offsets(&passed, &stepped);
    return clock_mono_ms() + passed;
}

void clock_steps(clock_step_stats *out)
{
    pthread_mutex_lock(&clock_step_lock);
    *out = clock_seen;
    pthread_mutex_unlock(&clock_step_lock);
}

int64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec clock_realtime_after(int64_t ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}
