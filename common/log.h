/* log.h — one-line structured logging to stderr, shared by every process.
 *
 * Lines look like: 2026-11-24T06:48:40.123Z INFO vsd: listening on tcp://127.0.0.1:7400
 * The level threshold comes from VS_LOG_LEVEL (debug|info|warn|error), default info. Thread-safe.
 */
#ifndef VS_LOG_H
#define VS_LOG_H

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Sets the program name printed on every line and reads VS_LOG_LEVEL. Call once from main. */
void log_init(const char *program);
void log_set_level(log_level level);
int log_enabled(log_level level);
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
