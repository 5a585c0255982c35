/* metrics_http.h — a process's Prometheus endpoint: `GET /metrics` over HTTP (libmicrohttpd, one
 * internal thread), answering the process_* metrics and then what each source writes.
 *
 * Only GET (and HEAD) of /metrics is served: any other path is 404, any other method 405. What
 * a peer can hold is bounded: METRICS_HTTP_MAX_CONNECTIONS connections at once (4 per address),
 * each closed after METRICS_HTTP_TIMEOUT_S without progress, request headers within a small
 * memory pool, and a body of at most METRICS_HTTP_MAX_BODY bytes (500 beyond). Scrapes are
 * answered one at a time on the endpoint's thread, so a source is never called concurrently with
 * itself, and must answer quickly (a source that queries a database sets its own timeouts). */
#ifndef VS_METRICS_HTTP_H
#define VS_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"
#include "status.h"

#define METRICS_HTTP_MAX_CONNECTIONS 16
#define METRICS_HTTP_TIMEOUT_S 10
#define METRICS_HTTP_MAX_BODY (4u << 20)

/* One part of the process: writes its families into t (metrics.h). */
typedef struct metrics_source {
    void (*collect)(metrics_text *t, void *arg);
    void *arg;
} metrics_source;

typedef struct metrics_http metrics_http;

/* Parses a listen address: PORT (loopback, 127.0.0.1), HOST:PORT (an IPv4 address or a name that
 * resolves; 0.0.0.0 for every interface) or [IPv6]:PORT; the port 1..65535. VS_INVALID_ARGUMENT
 * with err saying what was expected (the caller names the setting) otherwise. */
vs_status metrics_http_parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *outlen,
                                  char *err, size_t errlen);

/* Listens on addr (metrics_http_parse_addr) and serves until metrics_http_stop. sources[0..n) are
 * copied; what their args point to must outlive the endpoint. VS_INVALID_ARGUMENT for a bad
 * address, VS_UNAVAILABLE when it cannot listen (err says why: the port is taken, ...). */
vs_status metrics_http_start(const char *addr, const metrics_source *sources, size_t n,
                             metrics_http **out, char *err, size_t errlen);

/* The address listened on, as HOST:PORT or [IPv6]:PORT (for logs). */
const char *metrics_http_address(const metrics_http *m);

/* Closes the listener and every connection, waits for a scrape in progress, frees. NULL is a
 * no-op. */
void metrics_http_stop(metrics_http *m);

/* Renders everything the endpoint would answer into t (process_* first, then the sources). */
void metrics_http_render(const metrics_source *sources, size_t n, metrics_text *t);

#endif
