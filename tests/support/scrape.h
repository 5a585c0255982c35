/* scrape.h — for the metrics tests: a minimal HTTP/1.1 client, and a checker and reader of the
 * Prometheus text exposition format (0.0.4) independent of common/metrics.c. */
#ifndef VS_TEST_SCRAPE_H
#define VS_TEST_SCRAPE_H

#include <stddef.h>

/* Sends `METHOD path HTTP/1.1` (Connection: close) to 127.0.0.1:port and reads the whole answer
 * (5 s timeouts). Returns the status code, -1 when the connection failed (errno set: ECONNREFUSED
 * when nothing listens), -2 for an answer that is not HTTP. *body (may be NULL) gets the body,
 * malloc'd and NUL-terminated; *content_type (may be NULL) the Content-Type header's value. */
int ts_http(const char *method, int port, const char *path, char **body, char **content_type);

/* The body of GET /metrics, asserting status 200. Malloc'd. */
char *ts_scrape(int port);

/* Checks that text is entirely valid exposition text: every line a comment (HELP, TYPE or other)
 * or a sample `name{labels} value [timestamp]` with valid names, escapes and value; every
 * sample's family has a HELP and a TYPE line before its first sample, the TYPE once; no series
 * twice; a counter's samples are named as the family, a histogram's are _bucket (with le),
 * _sum and _count, its buckets' le increase, their counts never decrease, the last is +Inf and
 * equals _count. NULL when valid, else a message naming the line (static storage). */
const char *ts_metrics_check(const char *text);

/* The value of the sample named name whose labels are exactly those of `labels` (the inside of
 * the braces, any order: `method="/vs.v1.StreamingService/Health",code="OK"`; "" or NULL for
 * none). 0 when there is no such sample (a counter that never moved may be absent). */
double ts_metric(const char *text, const char *name, const char *labels);

/* 1 when text has a sample named name (any labels). */
int ts_metric_present(const char *text, const char *name);

/* How many TCP sockets the process pid listens on (from /proc/net/tcp and tcp6 and the
 * process's descriptors). */
int ts_tcp_listeners(int pid);

#endif
