/* log.c — stderr logger; one fprintf per line so concurrent lines never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_program = "vs";
static log_level log_threshold = LOG_INFO;
static const char *const log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(const char *program)
{
    const char *env = getenv("VS_LOG_LEVEL");

    log_program = program;
    if (env == NULL)
        return;
    if (strcmp(env, "debug") == 0)
        log_threshold = LOG_DEBUG;
    else if (strcmp(env, "warn") == 0)
        log_threshold = LOG_WARN;
    else if (strcmp(env, "error") == 0)
        log_threshold = LOG_ERROR;
}

void log_set_level(log_level level)
{
    log_threshold = level;
}

int log_enabled(log_level level)
{
    return level >= log_threshold;
}

void log_msg(log_level level, const char *fmt, ...)
{
    char text[1024];
    char stamp[32];
    struct timespec now;
    struct tm utc;
    va_list ap;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, now.tv_nsec / 1000000, log_level_names[level],
            log_program, text);
}
