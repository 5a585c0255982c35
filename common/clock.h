/* clock.h — the wall clock, injectable for tests.
 *
 * Domain code never calls time() directly: it asks clock_now_ms(). When VS_TEST_CLOCK_FILE names a
 * file, its content (a signed integer, milliseconds) is added to the real time, so a test can move
 * a running server's clock forward without waiting. The file is re-read at most every 5 ms. */
#ifndef VS_CLOCK_H
#define VS_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch, UTC, including any test offset. */
int64_t clock_now_ms(void);

/* Real monotonic milliseconds, for measuring durations (never offset). */
int64_t clock_mono_ms(void);

/* Monotonic microseconds. */
int64_t clock_mono_us(void);

#endif
