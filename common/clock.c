/* clock.c — real and test-offset clocks. */
#include "clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t clock_offset_ms;
static int64_t clock_offset_read_at = -1000;

static int64_t clock_test_offset(void)
{
    const char *path = getenv("VS_TEST_CLOCK_FILE");
    int64_t now = clock_mono_ms(), offset;

    if (path == NULL || *path == '\0')
        return 0;
    pthread_mutex_lock(&clock_lock);
    if (now - clock_offset_read_at >= 5) {
        FILE *f = fopen(path, "r");
        long long v = 0;

        if (f != NULL) {
            if (fscanf(f, "%lld", &v) == 1)
                clock_offset_ms = v;
            fclose(f);
        }
        clock_offset_read_at = now;
    }
    offset = clock_offset_ms;
    pthread_mutex_unlock(&clock_lock);
    return offset;
}

int64_t clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_test_offset();
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
