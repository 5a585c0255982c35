/* clock.h — the wall clock, the steady clock, and the wall clock's steps; injectable for tests.
 *
 * Domain code never calls time() directly: it asks clock_now_ms() (or clock_now() when it also
 * measures how much time passed). The wall clock can be stepped (by NTP, an operator, a VM
 * resuming); the steady clock (CLOCK_MONOTONIC) never is. Every reading compares the two: a jump of
 * at least CLOCK_STEP_MIN_MS in their difference is a step, logged and counted (clock_steps).
 *
 * Tests: when VS_TEST_CLOCK_FILE names a file, it holds "<passed_ms> [<stepped_ms>]": passed_ms is
 * time that passed (added to the wall and the steady clock alike, so a test need not wait) and
 * stepped_ms a step of the wall clock alone (added to the wall clock only). The file is re-read at
 * most every 5 ms. */
#ifndef VS_CLOCK_H
#define VS_CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_STEP_MIN_MS 1000 /* a smaller jump between the clocks is not counted as a step */

/* One reading of both clocks. */
typedef struct clock_instant {
    int64_t wall_ms;   /* milliseconds since the Unix epoch, UTC (clock_now_ms) */
    int64_t steady_ms; /* clock_steady_ms: only differences between two readings mean anything */
} clock_instant;

/* Milliseconds since the Unix epoch, UTC, including any test offset. */
int64_t clock_now_ms(void);

/* The wall and the steady clock read together (and compared: clock_steps). */
clock_instant clock_now(void);

/* Monotonic milliseconds plus the test's passed time: the clock that measures how much time passed
 * between two events of this process, whatever the wall clock did meanwhile. */
int64_t clock_steady_ms(void);

/* The wall clock's steps this process has seen since it started. */
typedef struct clock_step_stats {
    uint64_t steps;
    int64_t last_step_ms; /* the latest one: > 0 forward, < 0 back; 0 when none */
} clock_step_stats;

void clock_steps(clock_step_stats *out);

/* Real monotonic milliseconds, for measuring durations (never offset). */
int64_t clock_mono_ms(void);

/* Monotonic microseconds. */
int64_t clock_mono_us(void);

/* The real-time clock's reading ms from now: the deadline pthread_cond_timedwait takes (a condition
 * variable with default attributes waits on CLOCK_REALTIME). */
struct timespec clock_realtime_after(int64_t ms);

#endif
