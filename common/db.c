/* db.c — MariaDB connection helpers. */
#include "db.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"

/* The statuses db_status_from_errno returns, for the errors metric's label. */
static const vs_status db_error_statuses[] = {VS_ALREADY_EXISTS,      VS_ABORTED,
                                              VS_UNAVAILABLE,         VS_RESOURCE_EXHAUSTED,
                                              VS_FAILED_PRECONDITION, VS_INTERNAL};
#define DB_N_ERROR_STATUSES (sizeof db_error_statuses / sizeof db_error_statuses[0])

static struct {
    metrics_counter connects[2]; /* [0] opened, [1] failed */
    metrics_counter errors[DB_N_ERROR_STATUSES];
} db_metrics;

/* Copies [from, to) into dst (size dstlen) with %XX decoding; -1 when it does not fit. */
static int db_url_copy(char *dst, size_t dstlen, const char *from, const char *to)
{
    size_t n = 0;

    for (const char *p = from; p < to; p++) {
        char c = *p;

        if (c == '%' && to - p >= 3) {
            char hex[3] = {p[1], p[2], 0};
            c = (char)strtol(hex, NULL, 16);
            p += 2;
        }
        if (n + 1 >= dstlen)
            return -1;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return 0;
}

vs_status db_url_parse(const char *url, db_url *out, char *err, size_t errlen)
{
    const char *p, *at, *hostend, *slash, *query;

    memset(out, 0, sizeof *out);
    out->port = 3306;
    if (url == NULL || strncmp(url, "mysql://", 8) != 0) {
        snprintf(err, errlen, "database URL must start with mysql:// (got \"%s\")", url ? url : "");
        return VS_INVALID_ARGUMENT;
    }
    p = url + 8;
    slash = strchr(p, '/');
    if (slash == NULL) {
        snprintf(err, errlen, "database URL has no /database part");
        return VS_INVALID_ARGUMENT;
    }
    at = memchr(p, '@', (size_t)(slash - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (db_url_copy(out->user, sizeof out->user, p, colon ? colon : at) != 0 ||
            (colon && db_url_copy(out->password, sizeof out->password, colon + 1, at) != 0))
            goto too_long;
        p = at + 1;
    }
    hostend = slash;
    for (const char *c = p; c < slash; c++) {
        if (*c == ':') {
            char *end;
            long port = strtol(c + 1, &end, 10);
            if (end != slash || port <= 0 || port > 65535) {
                snprintf(err, errlen, "database URL has a bad port");
                return VS_INVALID_ARGUMENT;
            }
            out->port = (unsigned)port;
            hostend = c;
            break;
        }
    }
    if (db_url_copy(out->host, sizeof out->host, p, hostend) != 0)
        goto too_long;
    query = strchr(slash + 1, '?');
    if (db_url_copy(out->database, sizeof out->database, slash + 1,
                    query ? query : slash + 1 + strlen(slash + 1)) != 0)
        goto too_long;
    if (query != NULL && strncmp(query + 1, "socket=", 7) == 0 &&
        db_url_copy(out->socket, sizeof out->socket, query + 8, query + strlen(query)) != 0)
        goto too_long;
    if (out->host[0] == '\0')
        snprintf(out->host, sizeof out->host, "127.0.0.1");
    return VS_OK;
too_long:
    snprintf(err, errlen, "database URL has a component that is too long");
    return VS_INVALID_ARGUMENT;
}

int db_conn_lost(unsigned int e)
{
    switch (e) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_NET_READ_ERROR:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_NET_WRITE_INTERRUPTED:
        return 1;
    default:
        return 0;
    }
}

int db_conn_stale(MYSQL *db)
{
    struct pollfd p = {.fd = (int)mysql_get_socket(db), .events = POLLIN};

    if (p.fd < 0)
        return 1;
    /* the protocol is request/reply: an idle connection has nothing to read unless the server
     * closed it (EOF, or a last error packet first) */
    return poll(&p, 1, 0) != 0;
}

/* The status of error e (db_status_from_errno without counting it). */
static vs_status db_error_status(unsigned int e)
{
    if (db_conn_lost(e))
        return VS_UNAVAILABLE;
    switch (e) {
    case ER_DUP_ENTRY:
    case ER_DUP_KEY:
        return VS_ALREADY_EXISTS;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
        return VS_ABORTED;
    case ER_CON_COUNT_ERROR:
        return VS_UNAVAILABLE;
    /* the server is out of disk or memory: a retry later may succeed, nothing is wrong with the
     * request */
    case ER_RECORD_FILE_FULL:
    case ER_DISK_FULL:
    case ER_OUT_OF_RESOURCES:
    case ER_OUTOFMEMORY:
    case ER_OUT_OF_SORTMEMORY:
    case ER_ERROR_ON_WRITE:
    case CR_OUT_OF_MEMORY:
        return VS_RESOURCE_EXHAUSTED;
    /* a read_only server: the old primary during a failover (or a replica): the write may succeed
     * once the connection follows the new primary, so the caller retries */
    case ER_OPTION_PREVENTS_STATEMENT:
        return VS_UNAVAILABLE;
    default:
        return VS_INTERNAL;
    }
}

static vs_status db_count_error(vs_status rc)
{
    for (size_t i = 0; i < DB_N_ERROR_STATUSES; i++)
        if (db_error_statuses[i] == rc)
            metrics_inc(&db_metrics.errors[i]);
    return rc;
}

vs_status db_status_from_errno(unsigned int e)
{
    return db_count_error(db_error_status(e));
}

void db_metrics_collect(metrics_text *t, void *arg)
{
    static const char *const outcomes[] = {"ok", "error"};
    const char *statuses[DB_N_ERROR_STATUSES];

    (void)arg;
    for (size_t i = 0; i < DB_N_ERROR_STATUSES; i++)
        statuses[i] = status_name(db_error_statuses[i]);
    metrics_write_counters(t, "vs_mariadb_connects_total",
                           "MariaDB connections opened (ok) or that failed to open (error). "
                           "Connections are kept, so after start-up each one is a reconnect.",
                           "outcome", outcomes, db_metrics.connects, 2);
    metrics_write_counters(t, "vs_mariadb_errors_total",
                           "MariaDB errors, by the status they map to (UNAVAILABLE: unreachable "
                           "or connection lost; ABORTED: deadlock or lock wait; ALREADY_EXISTS: "
                           "duplicate key).",
                           "status", statuses, db_metrics.errors, DB_N_ERROR_STATUSES);
}

const char *db_tls_ca(const char **setting)
{
    const char *ca = config_get("VS_DB_TLS_CA", NULL);

    if (setting != NULL)
        *setting = ca != NULL ? "VS_DB_TLS_CA" : NULL;
    return ca;
}

/* Asks db for TLS with the server's certificate verified against the deployment's CA (name and
 * address checked), when a CA is configured and the connection is over TCP. A CA file that cannot
 * be read is a bad setting: VS_INVALID_ARGUMENT naming it, rather than libmariadb's vaguer
 * handshake error. */
static vs_status db_tls_setup(MYSQL *db, const db_url *u, char *err, size_t errlen)
{
    const char *setting, *ca = db_tls_ca(&setting);
    my_bool verify = 1;
    FILE *f;

    if (ca == NULL || u->socket[0] != '\0')
        return VS_OK;
    f = fopen(ca, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read the CA file %s: %s", setting, ca, strerror(errno));
        return VS_INVALID_ARGUMENT;
    }
    fclose(f);
    if (mysql_optionsv(db, MYSQL_OPT_SSL_CA, ca) != 0 ||
        mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify) != 0) {
        snprintf(err, errlen, "%s: this libmariadb cannot verify server certificates", setting);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

/* Splits "host:port" (the last colon) into u's host and port; -1 when malformed. */
static int db_addr_parse(const char *addr, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(addr, ':');
    char *end;
    long p;

    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= hostlen)
        return -1;
    p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p <= 0 || p > 65535)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (unsigned)p;
    return 0;
}

vs_status db_primary_follow(const char *path, db_url *u, char *err, size_t errlen)
{
    char line[1024], primary[300] = "", members[1024] = "", host[256];
    unsigned port;
    int lineno = 0, member = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        if (errno == ENOENT)
            return VS_OK; /* no stack file (yet): the configured address */
        snprintf(err, errlen, "VS_DB_PRIMARY_FILE: cannot read %s: %s", path, strerror(errno));
        return VS_UNAVAILABLE;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (strncmp(line, "primary=", 8) == 0 && strlen(line + 8) < sizeof primary) {
            snprintf(primary, sizeof primary, "%s", line + 8);
        } else if (strncmp(line, "members=", 8) == 0) {
            snprintf(members, sizeof members, "%s", line + 8);
        } else {
            fclose(f);
            snprintf(err, errlen,
                     "VS_DB_PRIMARY_FILE: %s:%d: expected primary=HOST:PORT or "
                     "members=HOST:PORT,...",
                     path, lineno);
            return VS_INVALID_ARGUMENT;
        }
    }
    fclose(f);
    if (db_addr_parse(primary, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "VS_DB_PRIMARY_FILE: %s: no valid primary=HOST:PORT line", path);
        return VS_INVALID_ARGUMENT;
    }
    /* only an address of the group moves: a URL naming another server (or a unix socket) is kept */
    for (char *save = NULL, *m = strtok_r(members, ",", &save); m != NULL;
         m = strtok_r(NULL, ",", &save)) {
        char mhost[256];
        unsigned mport;

        if (db_addr_parse(m, mhost, sizeof mhost, &mport) == 0 && mport == u->port &&
            strcmp(mhost, u->host) == 0)
            member = 1;
    }
    if (member && u->socket[0] == '\0') {
        snprintf(u->host, sizeof u->host, "%s", host);
        u->port = port;
    }
    return VS_OK;
}

vs_status db_connect(const char *url, int connect_timeout_s, MYSQL **out, char *err, size_t errlen)
{
    return db_connect_io(url, connect_timeout_s, 0, out, err, errlen);
}

vs_status db_connect_io(const char *url, int connect_timeout_s, int io_timeout_s, MYSQL **out,
                        char *err, size_t errlen)
{
    db_url u;
    MYSQL *db;
    unsigned int timeout = (unsigned)connect_timeout_s, io = (unsigned)io_timeout_s;
    vs_status rc;

    *out = NULL;
    rc = db_url_parse(url, &u, err, errlen);
    if (rc != VS_OK)
        return rc;
    /* a primary connection goes where the stack's failover says the primary is now */
    if (config_get("VS_DB_PRIMARY_FILE", NULL) != NULL &&
        strcmp(url, config_get("VS_DB_PRIMARY", "")) == 0 &&
        (rc = db_primary_follow(config_get("VS_DB_PRIMARY_FILE", NULL), &u, err, errlen)) != VS_OK)
        return rc;
    db = mysql_init(NULL);
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (io_timeout_s > 0) {
        mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &io);
        mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &io);
    }
    mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(db, MYSQL_INIT_COMMAND, "SET time_zone='+00:00'");
    if ((rc = db_tls_setup(db, &u, err, errlen)) != VS_OK) {
        mysql_close(db);
        return rc;
    }
    if (mysql_real_connect(db, u.host, u.user, u.password, u.database, u.port,
                           u.socket[0] ? u.socket : NULL, CLIENT_FOUND_ROWS) == NULL) {
        rc = db_error_status(mysql_errno(db));
        if (rc == VS_INTERNAL && mysql_errno(db) >= 2000)
            rc = VS_UNAVAILABLE; /* client-side errors: could not reach the server */
        db_count_error(rc);
        if (mysql_errno(db) == CR_SSL_CONNECTION_ERROR) {
            const char *setting, *ca = db_tls_ca(&setting);
            snprintf(err, errlen, "%s:%u: %s (server certificate checked against %s=%s)", u.host,
                     u.port, mysql_error(db), setting ? setting : "no CA", ca ? ca : "-");
        } else {
            snprintf(err, errlen, "%s:%u: %s", u.host, u.port, mysql_error(db));
        }
        mysql_close(db);
        metrics_inc(&db_metrics.connects[1]);
        return rc;
    }
    metrics_inc(&db_metrics.connects[0]);
    *out = db;
    return VS_OK;
}

vs_status db_exec(MYSQL *db, const char *sql, char *err, size_t errlen)
{
    if (mysql_query(db, sql) != 0) {
        snprintf(err, errlen, "%s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    /* drain any result so the connection stays usable */
    MYSQL_RES *res = mysql_store_result(db);
    if (res != NULL)
        mysql_free_result(res);
    return VS_OK;
}

vs_status db_query_text(MYSQL *db, const char *sql, char *out, size_t outlen, char *err,
                        size_t errlen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "%s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    row = mysql_fetch_row(res);
    if (row == NULL || row[0] == NULL) {
        snprintf(err, errlen, "no value");
        rc = VS_NOT_FOUND;
    } else {
        snprintf(out, outlen, "%s", row[0]);
    }
    mysql_free_result(res);
    return rc;
}

vs_status db_query_int(MYSQL *db, const char *sql, int64_t *out, char *err, size_t errlen)
{
    char text[64];
    vs_status rc = db_query_text(db, sql, text, sizeof text, err, errlen);

    if (rc == VS_OK)
        *out = strtoll(text, NULL, 10);
    return rc;
}
