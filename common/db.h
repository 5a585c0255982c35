/* db.h — MariaDB connections (libmariadb) and the mapping of server errors to vs_status.
 *
 * A connection is described by a URL: mysql://user:password@host:port/database (as in the stack's
 * env file; unix sockets as mysql://user:password@localhost/database?socket=/path). One MYSQL
 * handle belongs to one thread at a time; callers own what db_connect returns and close it with
 * mysql_close(). */
#ifndef VS_DB_H
#define VS_DB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef struct db_url {
    char user[128];
    char password[256];
    char host[256];
    unsigned port;
    char database[128];
    char socket[512];
} db_url;

/* Parses a mysql:// URL; VS_INVALID_ARGUMENT with a message on malformed input. */
vs_status db_url_parse(const char *url, db_url *out, char *err, size_t errlen);

/* Where a primary connection goes after a failover. path (VS_DB_PRIMARY_FILE; tools/stack writes
 * $VS_HOME/db-primary, and rewrites it atomically on failover) holds lines "primary=HOST:PORT" (the
 * current primary) and "members=HOST:PORT,..." (every server of the replication group); '#' lines
 * are comments. When u's host:port is a member (and u is not a unix socket URL), they become the
 * primary's; user, password and database stay. A missing file changes nothing; an unreadable one is
 * VS_UNAVAILABLE, a malformed one VS_INVALID_ARGUMENT, both naming VS_DB_PRIMARY_FILE.
 *
 * db_connect / db_connect_io apply it, reading the file at every connect, to the URL that is the
 * process's VS_DB_PRIMARY (the same text) when VS_DB_PRIMARY_FILE is set: vsd, vs-coordinator and
 * vs-worker reconnect after losing the primary, and so follow a failover without a restart. */
vs_status db_primary_follow(const char *path, db_url *u, char *err, size_t errlen);

/* The CA file MariaDB servers' certificates are verified against: VS_DB_TLS_CA; NULL when it is
 * not set. VS_TLS_CA (nng's sockets) deliberately does not turn on MariaDB TLS: a deployment may
 * encrypt its nng sockets while its database stays on a trusted local link. *setting (may be NULL)
 * gets the name of the variable used. */
const char *db_tls_ca(const char **setting);

/* Opens a connection: utf8mb4, UTC session time zone, autocommit on, connect timeout
 * connect_timeout_s. *out is NULL on failure and err says why (VS_UNAVAILABLE when unreachable).
 * Over TCP with a CA configured (db_tls_ca), the connection is TLS and the server's certificate
 * must be signed by that CA and name the host of the URL (a failed check is VS_UNAVAILABLE, the
 * message naming the CA); an unreadable CA file is VS_INVALID_ARGUMENT naming the setting. Unix
 * socket connections never use TLS. */
vs_status db_connect(const char *url, int connect_timeout_s, MYSQL **out, char *err, size_t errlen);

/* db_connect with read/write timeouts too (io_timeout_s > 0), so a hung server fails a query
 * instead of blocking its caller forever. */
vs_status db_connect_io(const char *url, int connect_timeout_s, int io_timeout_s, MYSQL **out,
                        char *err, size_t errlen);

/* Maps a MariaDB client/server error number to a status, and counts the error in the metrics
 * (so callers call it once per error): duplicate key → ALREADY_EXISTS,
 * lost connection (db_conn_lost) or a server refusing connections → UNAVAILABLE, deadlock/lock
 * wait → ABORTED, out of disk or memory (table full 1114, disk full 1021, out of resources /
 * memory, a failed write) → RESOURCE_EXHAUSTED, anything else → INTERNAL. A statement that
 * outlived a connection's read/write timeout is a lost connection (2013). */
vs_status db_status_from_errno(unsigned int mysql_errno_value);

/* 1 when the error means the connection is gone and the handle is useless: the server went away
 * or restarted (2006, 2013), killed the session (1927), is shutting down, or the network failed.
 * Whatever the statement did is undecided (a COMMIT may or may not have landed). */
int db_conn_lost(unsigned int mysql_errno_value);

/* 1 when an idle connection can no longer be used: its socket is readable although no statement
 * is in flight (the server closed it: restarted, killed the session, wait_timeout) or failed.
 * No round trip: one poll(2) with a zero timeout. A connection that is fine by this check can
 * still be lost on use (a server that died without closing its sockets); db_conn_lost says so. */
int db_conn_stale(MYSQL *db);

/* The process's MariaDB metrics (metrics.h), as a metrics_source collector: connections opened
 * (every db_connect; the process keeps its connections, so after start-up each is a reconnect)
 * and failed, and errors by the status db_status_from_errno mapped them to. arg is unused. */
struct metrics_text;
void db_metrics_collect(struct metrics_text *t, void *arg);

/* Runs a statement that returns no rows; the status of the error otherwise, with its text. */
vs_status db_exec(MYSQL *db, const char *sql, char *err, size_t errlen);

/* Runs a query whose first row's first column is an integer; VS_NOT_FOUND when no row or NULL. */
vs_status db_query_int(MYSQL *db, const char *sql, int64_t *out, char *err, size_t errlen);

/* Runs a query whose first row's first column is text, copied into out (truncated to outlen). */
vs_status db_query_text(MYSQL *db, const char *sql, char *out, size_t outlen, char *err,
                        size_t errlen);

#endif
