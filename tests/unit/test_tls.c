/* test_tls.c — common/tls.h: TLS settings are checked before use, with the setting and the file
 * named (missing, unreadable, not PEM, a key others may read, a certificate that is not the
 * key's or not the CA's), and the configurations it builds verify what they promise over real
 * nng sockets on loopback: a client trusts only servers its CA signed, a mutual-TLS server admits
 * only clients its CA signed. Certificates come from tests/support/tls_certs.sh (openssl). */
#include "testsupport.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tls.h"

static char dir[512];
static char ca[600], server_cert[600], server_key[600], worker_cert[600], worker_key[600],
    rogue_ca[600], rogue_cert[600], rogue_key[600];

static int group_setup(void **state)
{
    ts_tls_certs(dir, sizeof dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(server_cert, sizeof server_cert, "%s/server.pem", dir);
    snprintf(server_key, sizeof server_key, "%s/server.key", dir);
    snprintf(worker_cert, sizeof worker_cert, "%s/worker.pem", dir);
    snprintf(worker_key, sizeof worker_key, "%s/worker.key", dir);
    snprintf(rogue_ca, sizeof rogue_ca, "%s/rogue-ca.pem", dir);
    snprintf(rogue_cert, sizeof rogue_cert, "%s/rogue.pem", dir);
    snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", dir);
    return 0;
}

static int group_teardown(void **state)
{
    ts_sh("rm -rf '%s'", dir);
    return 0;
}

/* Builds a configuration; returns its status and leaves the message in err. */
static vs_status build(const char *ca_path, const char *cert, const char *key, tls_role role,
                       char *err, size_t errlen)
{
    tls_files files = {ca_path, cert, key};
    nng_tls_config *cfg = NULL;
    vs_status st = tls_config_new(&files, role, "127.0.0.1", &cfg, err, errlen);

    if (cfg != NULL)
        nng_tls_config_free(cfg);
    assert_true((st == VS_OK) == (cfg != NULL));
    return st;
}

static void assert_refused(vs_status st, const char *err, const char *needle1, const char *needle2)
{
    assert_int_equal(st, VS_INVALID_ARGUMENT);
    if (strstr(err, needle1) == NULL || (needle2 != NULL && strstr(err, needle2) == NULL))
        fail_msg("message \"%s\" does not name \"%s\"%s%s", err, needle1, needle2 ? " and " : "",
                 needle2 ? needle2 : "");
}

static void test_only_tls_schemes_are_tls(void **state)
{
    assert_true(tls_url_is_tls("tls+tcp://127.0.0.1:7400"));
    assert_true(tls_url_is_tls("tls+tcp4://127.0.0.1:7400"));
    assert_true(tls_url_is_tls("tls+tcp6://[::1]:7400"));
    assert_false(tls_url_is_tls("tcp://127.0.0.1:7400"));
    assert_false(tls_url_is_tls("ipc:///tmp/vs.ipc"));
    assert_false(tls_url_is_tls(NULL));
}

static void test_good_files_build_every_role(void **state)
{
    char err[512];

    assert_int_equal(build(ca, NULL, NULL, TLS_CLIENT, err, sizeof err), VS_OK);
    assert_int_equal(build(ca, worker_cert, worker_key, TLS_CLIENT, err, sizeof err), VS_OK);
    assert_int_equal(build(NULL, server_cert, server_key, TLS_SERVER, err, sizeof err), VS_OK);
    assert_int_equal(build(ca, server_cert, server_key, TLS_SERVER_MUTUAL, err, sizeof err), VS_OK);
}

static void test_missing_settings_are_named(void **state)
{
    char err[512];

    assert_refused(build(NULL, NULL, NULL, TLS_CLIENT, err, sizeof err), err, "VS_TLS_CA", NULL);
    assert_refused(build(ca, NULL, NULL, TLS_SERVER, err, sizeof err), err, "VS_TLS_CERT", NULL);
    assert_refused(build(NULL, server_cert, server_key, TLS_SERVER_MUTUAL, err, sizeof err), err,
                   "VS_TLS_CA", NULL);
    assert_refused(build(ca, worker_cert, NULL, TLS_CLIENT, err, sizeof err), err, "VS_TLS_KEY",
                   NULL);
}

static void test_missing_or_non_pem_files_are_named(void **state)
{
    char missing[700], err[512];

    snprintf(missing, sizeof missing, "%s/nothing.pem", dir);
    assert_refused(build(missing, NULL, NULL, TLS_CLIENT, err, sizeof err), err, "VS_TLS_CA",
                   missing);
    assert_refused(build(ca, server_cert, missing, TLS_SERVER, err, sizeof err), err, "VS_TLS_KEY",
                   missing);
    /* a key where the CA belongs, a certificate where the key belongs */
    assert_refused(build(server_key, NULL, NULL, TLS_CLIENT, err, sizeof err), err, "VS_TLS_CA",
                   "not a PEM certificate");
    assert_refused(build(NULL, server_cert, ca, TLS_SERVER, err, sizeof err), err, "VS_TLS_KEY",
                   "private key");
}

static void test_key_readable_by_others_is_refused(void **state)
{
    char err[512];

    assert_int_equal(chmod(server_key, 0640), 0);
    assert_refused(build(ca, server_cert, server_key, TLS_SERVER, err, sizeof err), err,
                   "VS_TLS_KEY", "0640");
    assert_int_equal(chmod(server_key, 0400), 0); /* stricter than 0600 is fine */
    assert_int_equal(build(ca, server_cert, server_key, TLS_SERVER, err, sizeof err), VS_OK);
    assert_int_equal(chmod(server_key, 0600), 0);
}

static void test_certificate_not_matching_key_is_refused(void **state)
{
    char err[512];

    assert_refused(build(ca, server_cert, worker_key, TLS_SERVER, err, sizeof err), err,
                   "does not match", server_cert);
}

static void test_certificate_from_another_ca_is_refused(void **state)
{
    char err[512];

    assert_refused(build(ca, rogue_cert, rogue_key, TLS_CLIENT, err, sizeof err), err,
                   "VS_TLS_CERT", "does not verify against VS_TLS_CA");
}

/* A file's contents (static storage, one of two at a time). */
static const char *slurp(const char *path)
{
    static char buf[2][8192];
    static int next;
    char *out = buf[next++ % 2];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, sizeof buf[0] - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* A dialer for url configured with nng alone: an intruder whose certificate tls.c would refuse
 * to present (it checks a client's own certificate against the CA before use). */
static void intruder_dialer(nng_socket req, const char *url, const char *cert, const char *key,
                            nng_dialer *d)
{
    nng_tls_config *cfg;

    assert_int_equal(nng_dialer_create(d, req, url), 0);
    assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
    assert_int_equal(nng_tls_config_ca_file(cfg, ca), 0);
    assert_int_equal(nng_tls_config_server_name(cfg, "127.0.0.1"), 0);
    assert_int_equal(nng_tls_config_own_cert(cfg, slurp(cert), slurp(key), NULL), 0);
    assert_int_equal(nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, cfg), 0);
    nng_tls_config_free(cfg);
}

/* One REQ/REP exchange over url: the listener with (server cert, role), the dialer with
 * (client CA, client cert), checked by tls.c unless intruder. Returns the synchronous dial's nng
 * error (0: connected and the exchange worked). */
static int exchange(const char *url, tls_role role, const char *client_ca, const char *cert,
                    const char *key, int intruder)
{
    tls_files server_files = {ca, server_cert, server_key}, client_files = {client_ca, cert, key};
    nng_socket rep, req;
    nng_listener l;
    nng_dialer d;
    char err[512], *msg = NULL;
    size_t len;
    int rv;

    assert_int_equal(nng_rep0_open(&rep), 0);
    assert_int_equal(nng_req0_open(&req), 0);
    if (tls_listen(rep, url, &server_files, role, &l, NULL, err, sizeof err) != VS_OK)
        fail_msg("%s", err);
    if (intruder)
        intruder_dialer(req, url, cert, key, &d);
    else if (tls_dialer_create(req, url, &client_files, &d, err, sizeof err) != VS_OK)
        fail_msg("%s", err);
    rv = nng_dialer_start(d, 0);
    if (rv == 0) {
        assert_int_equal(nng_send(req, "ping", 5, 0), 0);
        assert_int_equal(nng_recv(rep, &msg, &len, NNG_FLAG_ALLOC), 0);
        assert_string_equal(msg, "ping");
        assert_int_equal(nng_send(rep, msg, len, NNG_FLAG_ALLOC), 0);
        assert_int_equal(nng_recv(req, &msg, &len, NNG_FLAG_ALLOC), 0);
        nng_free(msg, len);
    }
    nng_close(req);
    nng_close(rep);
    return rv;
}

static void test_client_trusts_only_servers_signed_by_its_ca(void **state)
{
    char url[64];

    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_equal(exchange(url, TLS_SERVER, ca, NULL, NULL, 0), 0);
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_not_equal(exchange(url, TLS_SERVER, rogue_ca, NULL, NULL, 0), 0);
    /* the certificate names 127.0.0.1 and localhost (as DNS names): both verify */
    snprintf(url, sizeof url, "tls+tcp://localhost:%d", ts_free_tcp_port());
    assert_int_equal(exchange(url, TLS_SERVER, ca, NULL, NULL, 0), 0);
}

static void test_mutual_server_admits_only_clients_signed_by_its_ca(void **state)
{
    char url[64];

    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_equal(exchange(url, TLS_SERVER_MUTUAL, ca, worker_cert, worker_key, 0), 0);
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_not_equal(exchange(url, TLS_SERVER_MUTUAL, ca, NULL, NULL, 0), 0);
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_not_equal(exchange(url, TLS_SERVER_MUTUAL, ca, rogue_cert, rogue_key, 1), 0);
    /* the same intruder's dialer with a certificate of this CA is admitted: the refusal above
     * was for the certificate, not for the way the dialer was made */
    snprintf(url, sizeof url, "tls+tcp://127.0.0.1:%d", ts_free_tcp_port());
    assert_int_equal(exchange(url, TLS_SERVER_MUTUAL, ca, worker_cert, worker_key, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_tls_schemes_are_tls),
        cmocka_unit_test(test_good_files_build_every_role),
        cmocka_unit_test(test_missing_settings_are_named),
        cmocka_unit_test(test_missing_or_non_pem_files_are_named),
        cmocka_unit_test(test_key_readable_by_others_is_refused),
        cmocka_unit_test(test_certificate_not_matching_key_is_refused),
        cmocka_unit_test(test_certificate_from_another_ca_is_refused),
        cmocka_unit_test(test_client_trusts_only_servers_signed_by_its_ca),
        cmocka_unit_test(test_mutual_server_admits_only_clients_signed_by_its_ca),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
