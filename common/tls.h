/* tls.h — nng's TLS transport (tls+tcp://) configured from this deployment's files.
 *
 * Three settings, read from the environment (config.c for the programs, getenv for libvsclient):
 *   VS_TLS_CA    PEM certificate(s) of this deployment's CA: peers are verified against it
 *   VS_TLS_CERT  PEM certificate of this process (signed by that CA)
 *   VS_TLS_KEY   its private key, PEM, unencrypted, readable by its owner only (0600 or 0400)
 * A URL with the tls+tcp:// scheme (tls+tcp4://, tls+tcp6://) uses them; tcp:// and ipc:// stay
 * plaintext and ignore them.
 *
 * The files are read once per listener or dialer and checked before nng sees them, so a mistake
 * is refused at start with the setting and the file named: a missing or unreadable file, a file
 * that holds no certificate or key, a key that group or others may read, a certificate that is
 * not the key's, expired, or not signed by VS_TLS_CA. (nng 1.5.2 with mbedTLS takes a
 * certificate with the wrong key and fails every handshake later, naming nothing.)
 *
 * Who verifies whom:
 *   TLS_CLIENT         verifies the server's certificate against VS_TLS_CA and the URL's host
 *                      (nng's authentication mode REQUIRED); presents VS_TLS_CERT when set.
 *   TLS_SERVER         presents VS_TLS_CERT; asks nothing of the client (mode NONE).
 *   TLS_SERVER_MUTUAL  presents VS_TLS_CERT and admits only clients whose certificate
 *                      VS_TLS_CA signed (mode REQUIRED): the batch's task and result sockets.
 *
 * Host names: Debian 12's mbedTLS (2.28) matches the name a client dials only against the DNS
 * names of a certificate (and its CN when it has none), never against IP address entries: a
 * server dialled by address must carry that address as a DNS name too (DNS:10.0.0.5). */
#ifndef VS_TLS_H
#define VS_TLS_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>

#include "status.h"

/* Also compiled into libvsclient: not part of its exported interface. */
#define TLS_INTERNAL __attribute__((visibility("hidden")))

typedef enum tls_role { TLS_CLIENT = 0, TLS_SERVER = 1, TLS_SERVER_MUTUAL = 2 } tls_role;

/* Paths of the three files; NULL when not set. */
typedef struct tls_files {
    const char *ca;
    const char *cert;
    const char *key;
} tls_files;

/* The largest file accepted as a CA bundle, certificate or key. */
#define TLS_MAX_FILE (1 << 20)

/* 1 when url's scheme is nng's TLS over TCP (tls+tcp, tls+tcp4, tls+tcp6), else 0. */
TLS_INTERNAL int tls_url_is_tls(const char *url);

/* Fills files from VS_TLS_CA, VS_TLS_CERT and VS_TLS_KEY (unset or empty: NULL). The strings
 * belong to the environment. */
TLS_INTERNAL void tls_files_from_env(tls_files *files);

/* Builds a TLS configuration for role from files, checking them as described above. A client's
 * configuration verifies the server against files->ca and server_name (required for TLS_CLIENT,
 * ignored otherwise). On VS_OK the caller owns *out (nng_tls_config_free; a dialer or listener it
 * is set on holds a reference of its own). Otherwise VS_INVALID_ARGUMENT (a setting or its file)
 * or VS_INTERNAL (nng), and err names the setting and the file. */
TLS_INTERNAL vs_status tls_config_new(const tls_files *files, tls_role role,
                                      const char *server_name, nng_tls_config **out, char *err,
                                      size_t errlen);

/* Creates a dialer for url on sock and, for a tls+tcp:// URL, sets a TLS_CLIENT configuration
 * whose server name is the URL's host. Does not start it. On failure nothing is left on sock and
 * err begins with the URL. */
TLS_INTERNAL vs_status tls_dialer_create(nng_socket sock, const char *url, const tls_files *files,
                                         nng_dialer *out, char *err, size_t errlen);

/* Creates a listener for url on sock and, for a tls+tcp:// URL, sets a configuration of role
 * (TLS_SERVER or TLS_SERVER_MUTUAL). Does not start it. On failure nothing is left on sock and
 * err begins with the URL. */
TLS_INTERNAL vs_status tls_listener_create(nng_socket sock, const char *url, const tls_files *files,
                                           tls_role role, nng_listener *out, char *err,
                                           size_t errlen);

/* tls_listener_create, then nng_listener_start: what nng_listen does, with TLS. The nng error
 * of a failed start is returned in *nng_rv when not NULL (0 otherwise), so a caller can tell an
 * address in use from a bad setting. */
TLS_INTERNAL vs_status tls_listen(nng_socket sock, const char *url, const tls_files *files,
                                  tls_role role, nng_listener *out, int *nng_rv, char *err,
                                  size_t errlen);

#endif
