/* metrics_http.c — the /metrics endpoint on libmicrohttpd (metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
    struct MHD_Daemon *daemon;
    metrics_source *sources;
    size_t n_sources;
    char last_error[256]; /* libmicrohttpd's last message: why a start failed */
    atomic_int started;   /* later messages go to the log */
    char address[80];     /* HOST:PORT listened on */
};

vs_status metrics_http_parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *outlen,
                                  char *err, size_t errlen)
{
    char host[256] = "127.0.0.1";
    const char *port_text = text, *colon;
    struct addrinfo hints, *res = NULL;
    int64_t port;
    int rv;

    if (text == NULL || *text == '\0')
        goto bad;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host ||
            close == text + 1)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(close - text - 1), text + 1);
        port_text = close + 2;
    } else if ((colon = strrchr(text, ':')) != NULL) {
        if (colon == text || (size_t)(colon - text) >= sizeof host || strchr(text, ':') != colon)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
        port_text = colon + 1;
    }
    if (config_parse_int(port_text, 1, 65535, &port) != 0)
        goto bad;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rv = getaddrinfo(host, port_text, &hints, &res)) != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", host, gai_strerror(rv));
        if (res != NULL)
            freeaddrinfo(res);
        return VS_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return VS_OK;
bad:
    snprintf(err, errlen,
             "expected PORT (on 127.0.0.1), HOST:PORT or [IPv6]:PORT with a port in 1..65535, "
             "got \"%.100s\"",
             text ? text : "");
    return VS_INVALID_ARGUMENT;
}

static void metrics_http_format(const struct sockaddr_storage *sa, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
    }
}

const char *metrics_http_address(const metrics_http *m)
{
    return m->address;
}

void metrics_http_render(const metrics_source *sources, size_t n, metrics_text *t)
{
    metrics_process_collect(t);
    for (size_t i = 0; i < n; i++)
        sources[i].collect(t, sources[i].arg);
}

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned status,
                                     const char *content_type, char *body, size_t len,
                                     enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result rv;

    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rv = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rv;
}

static enum MHD_Result metrics_static(struct MHD_Connection *conn, unsigned status,
                                      const char *text)
{
    return metrics_reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                         MHD_RESPMEM_PERSISTENT);
}

/* Every request, once its headers are in: answered at once (a body sent along is not read). */
static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    metrics_http *m = cls;
    metrics_text t;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(url, "/metrics") != 0)
        return metrics_static(conn, MHD_HTTP_NOT_FOUND, "not found: only /metrics is served\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return metrics_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                              "method not allowed: GET /metrics\n");
    metrics_text_init(&t, METRICS_HTTP_MAX_BODY);
    metrics_http_render(m->sources, m->n_sources, &t);
    if (t.failed) {
        log_warn("metrics: the text exceeded %u bytes or memory ran out; answered 500",
                 METRICS_HTTP_MAX_BODY);
        metrics_text_free(&t);
        return metrics_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "metrics text too large or out of memory\n");
    }
    /* the response frees the text */
    return metrics_reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, t.buf ? t.buf : strdup(""), t.len,
                         MHD_RESPMEM_MUST_FREE);
}

static void metrics_logger(void *cls, const char *fmt, va_list ap)
{
    metrics_http *m = cls;
    size_t len;

    vsnprintf(m->last_error, sizeof m->last_error, fmt, ap);
    len = strlen(m->last_error);
    while (len > 0 && (m->last_error[len - 1] == '\n' || m->last_error[len - 1] == '.'))
        m->last_error[--len] = '\0';
    /* while starting the message goes into the caller's error; later ones to the log */
    if (atomic_load(&m->started))
        log_warn("metrics: %s", m->last_error);
}

vs_status metrics_http_start(const char *addr, const metrics_source *sources, size_t n,
                             metrics_http **out, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    metrics_http *m;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    vs_status rc;

    *out = NULL;
    if ((rc = metrics_http_parse_addr(addr, &sa, &salen, err, errlen)) != VS_OK)
        return rc;
    m = calloc(1, sizeof *m);
    if (m == NULL || (n > 0 && (m->sources = calloc(n, sizeof *sources)) == NULL)) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    if (n > 0)
        memcpy(m->sources, sources, n * sizeof *sources);
    m->n_sources = n;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, metrics_handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, 4u, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)METRICS_HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_EXTERNAL_LOGGER, metrics_logger, m, MHD_OPTION_END);
    if (m->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr,
                 m->last_error[0] ? m->last_error : "libmicrohttpd could not start");
        free(m->sources);
        free(m);
        return VS_UNAVAILABLE;
    }
    metrics_http_format(&sa, m->address, sizeof m->address);
    atomic_store(&m->started, 1);
    *out = m;
    return VS_OK;
}

void metrics_http_stop(metrics_http *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->daemon);
    free(m->sources);
    free(m);
}
