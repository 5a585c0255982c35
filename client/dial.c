/* dial.c — libvsclient's connections: the list of server URLs, TLS, and one dialer per URL on
 * the handle's REQ socket.
 *
 * nng's REQ socket sends each request over one of its connected pipes, and when a pipe closes
 * with requests outstanding on it, sends them again over another: with several vsd URLs a call
 * survives the loss of the server it went to (every mutating call is idempotent by its event id,
 * so a request the lost server had already carried out does no harm when it is run again). */
#include "client_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

/* The most server URLs one handle dials. */
#define CLIENT_MAX_URLS 32

/* The status of a synchronous dial of url that failed with rv. */
static int client_dial_failed(const char *url, int rv, const tls_files *files,
                              vs_call_status *status)
{
    int tls = tls_url_is_tls(url);

    if (tls && (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH))
        return client_fail(status, VS_UNAVAILABLE,
                           "cannot dial %s: the TLS handshake failed (%s): the server's "
                           "certificate is not signed by VS_TLS_CA (%s), does not name the URL's "
                           "host as a DNS name, or has expired; or the server refused this "
                           "client's certificate",
                           url, nng_strerror(rv), files->ca);
    if (rv == NNG_ECONNSHUT || rv == NNG_ECLOSED || rv == NNG_EPROTO)
        return client_fail(status, VS_UNAVAILABLE,
                           tls ? "cannot dial %s: the server closed the connection during the "
                                 "TLS handshake (%s): it may want a client certificate "
                                 "(VS_TLS_CERT, VS_TLS_KEY), or not speak TLS on this port"
                               : "cannot dial %s: the server closed the connection during the "
                                 "handshake (%s): does it listen with tls+tcp:// there?",
                           url, nng_strerror(rv));
    return client_fail(status, VS_INVALID_ARGUMENT, "cannot dial %s: %s", url, nng_strerror(rv));
}

/* Dials one url. Synchronously first, so the connection is up before the first call (and a
 * handle closed right away never races nng's connection set-up); a server that is not there yet
 * is dialled in the background instead, and calls wait for it up to their deadline. With other
 * URLs beside it (several), a server that cuts the handshake short (a vsd going down as it
 * accepts, or one that wants what this client does not present) is dialled in the background too
 * and *cut is set, with the reason in status: the handle fails only when every URL was cut. */
static int client_dial_one(nng_socket sock, const char *url, const tls_files *files, int several,
                           int *cut, vs_call_status *status)
{
    char err[sizeof status->message];
    nng_dialer d;
    vs_status st;
    int rv;

    if ((st = tls_dialer_create(sock, url, files, &d, err, sizeof err)) != VS_OK)
        return client_fail(status, st, "%s", err);
    rv = nng_dialer_start(d, 0);
    if (rv == 0)
        return VS_OK;
    nng_dialer_close(d); /* a dialer starts once: the background one is a new dialer */
    if (rv != NNG_ECONNREFUSED && rv != NNG_ENOENT && rv != NNG_EADDRINVAL && rv != NNG_ETIMEDOUT &&
        rv != NNG_EUNREACHABLE) {
        int failed = client_dial_failed(url, rv, files, status);

        if (!several || failed != VS_UNAVAILABLE)
            return failed;
        *cut = 1;
    }
    if ((st = tls_dialer_create(sock, url, files, &d, err, sizeof err)) != VS_OK)
        return client_fail(status, st, "%s", err);
    if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
        nng_dialer_close(d);
        return client_dial_failed(url, rv, files, status);
    }
    return VS_OK;
}

int client_dial_all(nng_socket sock, const char *urls, const vs_client_options *opts,
                    vs_call_status *status_out)
{
    vs_call_status local, *status = status_out != NULL ? status_out : &local;
    tls_files files;
    char *list = strdup(urls), *save = NULL, *url;
    int n = 0, n_cut = 0, several = strchr(urls, ',') != NULL, rc = VS_OK;
    vs_call_status first_cut = {0};

    if (list == NULL)
        return client_fail(status, VS_RESOURCE_EXHAUSTED, "out of memory");
    tls_files_from_env(&files);
    if (opts->tls_ca_file != NULL)
        files.ca = opts->tls_ca_file;
    if (opts->tls_cert_file != NULL)
        files.cert = opts->tls_cert_file;
    if (opts->tls_key_file != NULL)
        files.key = opts->tls_key_file;
    for (url = strtok_r(list, ",", &save); url != NULL; url = strtok_r(NULL, ",", &save)) {
        size_t len;

        while (isspace((unsigned char)*url))
            url++;
        for (len = strlen(url); len > 0 && isspace((unsigned char)url[len - 1]); len--)
            url[len - 1] = '\0';
        if (*url == '\0')
            continue;
        if (++n > CLIENT_MAX_URLS) {
            rc = client_fail(status, VS_INVALID_ARGUMENT, "more than %d server URLs",
                             CLIENT_MAX_URLS);
            goto out;
        }
        {
            int cut = 0;

            if ((rc = client_dial_one(sock, url, &files, several, &cut, status)) != VS_OK)
                goto out;
            if (cut && n_cut++ == 0)
                first_cut = *status;
        }
    }
    if (n == 0)
        rc =
            client_fail(status, VS_INVALID_ARGUMENT, "the server URL list has no URL (set VS_URL)");
    else if (n_cut == n) {
        /* no server took the handshake: more likely this client's settings than n servers down */
        *status = first_cut;
        rc = first_cut.code;
    }
out:
    free(list);
    return rc;
}
