/* tls.c — TLS configurations for nng listeners and dialers, from VS_TLS_CA, VS_TLS_CERT and
 * VS_TLS_KEY (see tls.h). The files are read once, checked with mbedTLS (the library nng 1.5.2
 * itself uses on Debian 12) and the same bytes handed to nng, so what was checked is what is
 * used. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One of the three files, read into memory (NUL-terminated, as PEM parsers want). */
typedef struct tls_file {
    const char *setting; /* "VS_TLS_KEY" */
    const char *path;
    char *pem;
    size_t len;
    mode_t mode;
} tls_file;

int tls_url_is_tls(const char *url)
{
    return url != NULL &&
           (strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
            strncmp(url, "tls+tcp6://", 11) == 0);
}

static const char *tls_env(const char *key)
{
    const char *v = getenv(key);

    return v == NULL || *v == '\0' ? NULL : v;
}

void tls_files_from_env(tls_files *files)
{
    files->ca = tls_env("VS_TLS_CA");
    files->cert = tls_env("VS_TLS_CERT");
    files->key = tls_env("VS_TLS_KEY");
}

/* mbedTLS's text for rc, without a trailing newline. */
static const char *tls_mbed_error(int rc, char *buf, size_t len)
{
    mbedtls_strerror(rc, buf, len);
    return buf;
}

/* Reads f->path (at most TLS_MAX_FILE bytes) into f->pem and records its mode. */
static vs_status tls_file_read(tls_file *f, char *err, size_t errlen)
{
    struct stat st;
    ssize_t n = 0;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "%s (%s): %s", f->setting, f->path, strerror(errno));
        return VS_INVALID_ARGUMENT;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s (%s): not a regular file", f->setting, f->path);
        goto fail;
    }
    if (st.st_size > TLS_MAX_FILE) {
        snprintf(err, errlen, "%s (%s): %lld bytes, more than the %d accepted", f->setting, f->path,
                 (long long)st.st_size, TLS_MAX_FILE);
        goto fail;
    }
    f->mode = st.st_mode;
    if ((f->pem = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s (%s): out of memory", f->setting, f->path);
        goto fail;
    }
    while (f->len < (size_t)st.st_size &&
           ((n = read(fd, f->pem + f->len, (size_t)st.st_size - f->len)) > 0 ||
            (n < 0 && errno == EINTR)))
        if (n > 0)
            f->len += (size_t)n;
    if (f->len != (size_t)st.st_size) {
        snprintf(err, errlen, "%s (%s): %s", f->setting, f->path,
                 n < 0 ? strerror(errno) : "the file changed while it was read");
        goto fail;
    }
    f->pem[f->len] = '\0';
    close(fd);
    return VS_OK;
fail:
    close(fd);
    return VS_INVALID_ARGUMENT;
}

/* Parses f as one or more PEM certificates into crt. */
static vs_status tls_parse_certs(const tls_file *f, mbedtls_x509_crt *crt, char *err, size_t errlen)
{
    char why[160];
    int rc = strstr(f->pem, "-----BEGIN CERTIFICATE-----") == NULL
                 ? MBEDTLS_ERR_X509_INVALID_FORMAT
                 : mbedtls_x509_crt_parse(crt, (const unsigned char *)f->pem, f->len + 1);

    if (rc != 0 || crt->version == 0) {
        snprintf(err, errlen, "%s (%s): not a PEM certificate file (%s)", f->setting, f->path,
                 rc < 0 ? tls_mbed_error(rc, why, sizeof why) : "a certificate did not parse");
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

/* The private key: owner-only, parseable, and the certificate's. */
static vs_status tls_check_key(const tls_file *key, const tls_file *cert,
                               const mbedtls_x509_crt *crt, char *err, size_t errlen)
{
    mbedtls_pk_context pk;
    char why[160];
    vs_status st = VS_INVALID_ARGUMENT;
    int rc;

    mbedtls_pk_init(&pk);
    if ((key->mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s (%s): mode %04o lets other users read the private key; it must be 0600 "
                 "(chmod 600 %s)",
                 key->setting, key->path, (unsigned)(key->mode & 07777), key->path);
        goto out;
    }
    if ((rc = mbedtls_pk_parse_key(&pk, (const unsigned char *)key->pem, key->len + 1, NULL, 0)) !=
        0) {
        snprintf(err, errlen, "%s (%s): not an unencrypted PEM private key (%s)", key->setting,
                 key->path, tls_mbed_error(rc, why, sizeof why));
        goto out;
    }
    if (mbedtls_pk_check_pair(&crt->pk, &pk) != 0) {
        snprintf(err, errlen,
                 "%s (%s) is not the key of %s (%s): the certificate does not match "
                 "the key",
                 key->setting, key->path, cert->setting, cert->path);
        goto out;
    }
    st = VS_OK;
out:
    mbedtls_pk_free(&pk);
    return st;
}

/* Whether crt (with the chain it carries) is valid now and signed by ca (NULL: only the dates). */
static vs_status tls_check_signed(const tls_file *cert, mbedtls_x509_crt *crt, const tls_file *ca,
                                  mbedtls_x509_crt *ca_crt, char *err, size_t errlen)
{
    char why[512];
    uint32_t flags = 0;
    size_t n;

    if (ca_crt != NULL) {
        if (mbedtls_x509_crt_verify(crt, ca_crt, NULL, NULL, &flags, NULL, NULL) == 0)
            return VS_OK;
    } else {
        if (mbedtls_x509_time_is_past(&crt->valid_to))
            flags |= MBEDTLS_X509_BADCERT_EXPIRED;
        if (mbedtls_x509_time_is_future(&crt->valid_from))
            flags |= MBEDTLS_X509_BADCERT_FUTURE;
        if (flags == 0)
            return VS_OK;
    }
    why[0] = '\0';
    mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
    for (n = strlen(why); n > 0 && why[n - 1] == '\n'; n--)
        why[n - 1] = '\0';
    for (char *p = why; (p = strchr(p, '\n')) != NULL;)
        *p = ';';
    if (ca_crt != NULL)
        snprintf(err, errlen, "%s (%s) does not verify against %s (%s): %s", cert->setting,
                 cert->path, ca->setting, ca->path, why);
    else
        snprintf(err, errlen, "%s (%s): %s", cert->setting, cert->path, why);
    return VS_INVALID_ARGUMENT;
}

/* What role needs of files: a CA to verify peers with, and a certificate and key to present. */
static vs_status tls_check_settings(const tls_files *files, tls_role role, char *err, size_t errlen)
{
    if (role != TLS_SERVER && files->ca == NULL) {
        snprintf(err, errlen,
                 role == TLS_CLIENT ? "VS_TLS_CA is not set: a tls+tcp:// peer's certificate "
                                      "cannot be verified without this deployment's CA"
                                    : "VS_TLS_CA is not set: clients' certificates cannot be "
                                      "verified without this deployment's CA");
        return VS_INVALID_ARGUMENT;
    }
    if (role != TLS_CLIENT && (files->cert == NULL || files->key == NULL)) {
        snprintf(err, errlen,
                 "%s is not set: a tls+tcp:// listener needs this process's "
                 "certificate and key (VS_TLS_CERT, VS_TLS_KEY)",
                 files->cert == NULL ? "VS_TLS_CERT" : "VS_TLS_KEY");
        return VS_INVALID_ARGUMENT;
    }
    if ((files->cert == NULL) != (files->key == NULL)) {
        snprintf(err, errlen, "%s is set but %s is not: a certificate needs its key",
                 files->cert != NULL ? "VS_TLS_CERT" : "VS_TLS_KEY",
                 files->cert != NULL ? "VS_TLS_KEY" : "VS_TLS_CERT");
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status tls_config_new(const tls_files *files, tls_role role, const char *server_name,
                         nng_tls_config **out, char *err, size_t errlen)
{
    tls_file ca = {.setting = "VS_TLS_CA", .path = files->ca};
    tls_file cert = {.setting = "VS_TLS_CERT", .path = files->cert};
    tls_file key = {.setting = "VS_TLS_KEY", .path = files->key};
    mbedtls_x509_crt ca_crt, own_crt;
    nng_tls_config *cfg = NULL;
    vs_status st;
    int rv = 0;

    *out = NULL;
    mbedtls_x509_crt_init(&ca_crt);
    mbedtls_x509_crt_init(&own_crt);
    if ((st = tls_check_settings(files, role, err, errlen)) != VS_OK)
        goto out;
    if (ca.path != NULL && ((st = tls_file_read(&ca, err, errlen)) != VS_OK ||
                            (st = tls_parse_certs(&ca, &ca_crt, err, errlen)) != VS_OK))
        goto out;
    if (cert.path != NULL &&
        ((st = tls_file_read(&cert, err, errlen)) != VS_OK ||
         (st = tls_file_read(&key, err, errlen)) != VS_OK ||
         (st = tls_parse_certs(&cert, &own_crt, err, errlen)) != VS_OK ||
         (st = tls_check_key(&key, &cert, &own_crt, err, errlen)) != VS_OK ||
         (st = tls_check_signed(&cert, &own_crt, &ca, ca.path != NULL ? &ca_crt : NULL, err,
                                errlen)) != VS_OK))
        goto out;
    st = VS_INTERNAL;
    if ((rv = nng_tls_config_alloc(&cfg, role == TLS_CLIENT ? NNG_TLS_MODE_CLIENT
                                                            : NNG_TLS_MODE_SERVER)) != 0) {
        snprintf(err, errlen, "TLS configuration: %s", nng_strerror(rv));
        goto out;
    }
    /* the client always verifies; a server asks for a certificate only in mutual TLS */
    if ((rv = nng_tls_config_auth_mode(
             cfg, role == TLS_SERVER ? NNG_TLS_AUTH_MODE_NONE : NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
        (ca.pem != NULL && (rv = nng_tls_config_ca_chain(cfg, ca.pem, NULL)) != 0) ||
        (cert.pem != NULL && (rv = nng_tls_config_own_cert(cfg, cert.pem, key.pem, NULL)) != 0) ||
        (role == TLS_CLIENT && server_name != NULL &&
         (rv = nng_tls_config_server_name(cfg, server_name)) != 0)) {
        snprintf(err, errlen, "TLS configuration from %s%s%s: %s", ca.path ? ca.path : "",
                 ca.path && cert.path ? ", " : "", cert.path ? cert.path : "", nng_strerror(rv));
        goto out;
    }
    *out = cfg;
    cfg = NULL;
    st = VS_OK;
out:
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    mbedtls_x509_crt_free(&ca_crt);
    mbedtls_x509_crt_free(&own_crt);
    free(ca.pem);
    free(cert.pem);
    if (key.pem != NULL) {
        /* the private key does not linger in freed memory */
        explicit_bzero(key.pem, key.len);
        free(key.pem);
    }
    return st;
}

/* Prefixes err (a message already written) with url. */
static void tls_err_url(const char *url, char *err, size_t errlen)
{
    char detail[512];

    snprintf(detail, sizeof detail, "%s", err);
    snprintf(err, errlen, "%s: %s", url, detail);
}

/* 1 for a URL over TCP (tcp://, tls+tcp:// and their 4/6 variants): those get TCP keepalive. */
static int tls_url_is_tcp(const char *url)
{
    return strncmp(url, "tcp", 3) == 0 || tls_url_is_tls(url);
}

vs_status tls_dialer_create(nng_socket sock, const char *url, const tls_files *files,
                            nng_dialer *out, char *err, size_t errlen)
{
    nng_tls_config *cfg = NULL;
    nng_url *parsed = NULL;
    nng_dialer d;
    vs_status st;
    int rv;

    if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
        snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
        return rv == NNG_ENOMEM ? VS_RESOURCE_EXHAUSTED : VS_INVALID_ARGUMENT;
    }
    /* a connection whose peer vanished (a host cut off, its side closed meanwhile) is found dead
     * by keepalive probes even when this end only receives (a worker's task socket), and nng
     * then dials again; the probes' timing is the kernel's (net.ipv4.tcp_keepalive_*) */
    if (tls_url_is_tcp(url))
        nng_dialer_set_bool(d, NNG_OPT_TCP_KEEPALIVE, true);
    if (!tls_url_is_tls(url)) {
        *out = d;
        return VS_OK;
    }
    /* the server's certificate must name the host this URL dials */
    if ((rv = nng_url_parse(&parsed, url)) != 0) {
        snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
        st = VS_INVALID_ARGUMENT;
        goto fail;
    }
    if ((st = tls_config_new(files, TLS_CLIENT, parsed->u_hostname, &cfg, err, errlen)) != VS_OK) {
        tls_err_url(url, err, errlen);
        goto fail;
    }
    if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0) {
        snprintf(err, errlen, "%s: TLS configuration: %s", url, nng_strerror(rv));
        st = VS_INTERNAL;
        goto fail;
    }
    nng_tls_config_free(cfg); /* the dialer holds its own reference */
    nng_url_free(parsed);
    *out = d;
    return VS_OK;
fail:
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    if (parsed != NULL)
        nng_url_free(parsed);
    nng_dialer_close(d);
    return st;
}

vs_status tls_listener_create(nng_socket sock, const char *url, const tls_files *files,
                              tls_role role, nng_listener *out, char *err, size_t errlen)
{
    nng_tls_config *cfg = NULL;
    nng_listener l;
    vs_status st;
    int rv;

    if ((rv = nng_listener_create(&l, sock, url)) != 0) {
        snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
        return rv == NNG_ENOMEM ? VS_RESOURCE_EXHAUSTED : VS_INVALID_ARGUMENT;
    }
    if (tls_url_is_tcp(url)) /* the same on the accepting side: a vanished peer is let go */
        nng_listener_set_bool(l, NNG_OPT_TCP_KEEPALIVE, true);
    if (!tls_url_is_tls(url)) {
        *out = l;
        return VS_OK;
    }
    if ((st = tls_config_new(files, role == TLS_CLIENT ? TLS_SERVER : role, NULL, &cfg, err,
                             errlen)) != VS_OK) {
        tls_err_url(url, err, errlen);
        nng_listener_close(l);
        return st;
    }
    rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
    nng_tls_config_free(cfg); /* the listener holds its own reference */
    if (rv != 0) {
        snprintf(err, errlen, "%s: TLS configuration: %s", url, nng_strerror(rv));
        nng_listener_close(l);
        return VS_INTERNAL;
    }
    *out = l;
    return VS_OK;
}

vs_status tls_listen(nng_socket sock, const char *url, const tls_files *files, tls_role role,
                     nng_listener *out, int *nng_rv, char *err, size_t errlen)
{
    nng_listener l;
    vs_status st;
    int rv;

    if (nng_rv != NULL)
        *nng_rv = 0;
    if ((st = tls_listener_create(sock, url, files, role, &l, err, errlen)) != VS_OK)
        return st;
    if ((rv = nng_listener_start(l, 0)) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
        nng_listener_close(l);
        if (nng_rv != NULL)
            *nng_rv = rv;
        return rv == NNG_EADDRINUSE                       ? VS_ALREADY_EXISTS
               : rv == NNG_EINVAL || rv == NNG_EADDRINVAL ? VS_INVALID_ARGUMENT
                                                          : VS_UNAVAILABLE;
    }
    *out = l;
    return VS_OK;
}
