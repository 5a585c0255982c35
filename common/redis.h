/* redis.h — one Redis connection (hiredis 0.14) that survives timeouts and restarts.
 *
 * hiredis contexts are not thread-safe and are dead after a timeout or I/O error, so a redis_conn
 * belongs to one thread, and redis_command() reconnects (re-applying timeouts) and retries once
 * when the context has failed. Address: redis://[:password@]host:port or host:port (see
 * redis_parse_url). A NULL connection fails
 * every command with VS_UNAVAILABLE and does no I/O. */
#ifndef VS_REDIS_H
#define VS_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include "status.h"

typedef struct redis_conn redis_conn;

/* Where Redis is and how to log in. */
typedef struct redis_addr {
    char host[256];
    int port;
    char user[128];     /* ACL user (Redis 6+), "" for the default user */
    char password[512]; /* "" when Redis needs none */
} redis_addr;

/* Parses redis://[[user]:password@]host:port (or host:port; the port defaults to 6379; %XX
 * decoded in user and password). Without a password in the URL, the first line of the file
 * VS_REDIS_PASSWORD_FILE (when set) is the password. VS_INVALID_ARGUMENT with err naming the
 * address or the setting (an unreadable or empty password file) otherwise. err never contains
 * the password. */
vs_status redis_parse_url(const char *url, redis_addr *out, char *err, size_t errlen);

/* Sends AUTH on a new context when a has a password (nothing otherwise). A refused password is
 * VS_UNAUTHENTICATED with err saying so and naming the settings; a failed round trip
 * VS_UNAVAILABLE. */
vs_status redis_auth(redisContext *ctx, const redis_addr *a, char *err, size_t errlen);

/* redis_parse_url, keeping only host and port. */
vs_status redis_parse_address(const char *url, char *host, size_t hostlen, int *port, char *err,
                              size_t errlen);

/* Redis Sentinel: when VS_REDIS_SENTINELS (HOST:PORT,... of the sentinels) is set, every connect
 * of a redis_conn first asks them, in order, for the address of the primary named
 * VS_REDIS_MASTER_NAME (default "vs"; SENTINEL get-master-addr-by-name, 300 ms each) and connects
 * there (to the last address used when none answers; the URL's password is kept), then checks with
 * ROLE that the server is the primary (a demoted one is refused: VS_UNAVAILABLE). A READONLY error
 * reply (the server was demoted while connected) drops the connection, so the next command asks
 * the sentinels again. Without the setting nothing of this happens.
 *
 * redis_sentinel_primary sets a's host and port to the primary the sentinels name: VS_OK (a
 * unchanged when the setting is absent), VS_UNAVAILABLE when none answers, VS_INVALID_ARGUMENT
 * naming the setting when an entry is not HOST:PORT. */
int redis_sentinels_configured(void);
vs_status redis_sentinel_primary(redis_addr *a, char *err, size_t errlen);

/* Parses the address (redis_parse_url) and connects, authenticating when there is a password
 * (every reconnect does too); a connection that fails now is retried on the next command, so *out
 * is set even when the first connect fails (the status says so: VS_UNAUTHENTICATED for a refused
 * password). */
vs_status redis_open(const char *url, int timeout_ms, redis_conn **out, char *err, size_t errlen);
void redis_close(redis_conn *r);

/* The process's Redis metrics (metrics.h), as a metrics_source collector: connections opened
 * (the first of each redis_conn, then every reconnect after a failure) and failed, and errors:
 * commands that failed on the connection (after the reconnect and retry) and error replies seen
 * by redis_reply_status. arg is unused. */
struct metrics_text;
void redis_metrics_collect(struct metrics_text *t, void *arg);

/* Runs one command (hiredis format). On success *reply is owned by the caller
 * (freeReplyObject). A Redis error reply is returned as a reply, not a failure (redis_reply_status
 * maps it). Connection failure after one reconnect attempt is VS_UNAVAILABLE. */
vs_status redis_command(redis_conn *r, redisReply **reply, char *err, size_t errlen,
                        const char *fmt, ...);

/* The status a Redis error reply stands for, by its first word: the replies of a Redis that cannot
 * serve now but will (LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN, ...) are VS_UNAVAILABLE, so
 * callers retry; any other error (ERR, WRONGTYPE, NOSCRIPT, ...) is our bug or misconfiguration:
 * VS_INTERNAL. *meaning (may be NULL) gets a short static description for messages ("Redis is
 * loading its data set"), or NULL for an INTERNAL one. */
vs_status redis_error_status(const char *error_text, const char **meaning);

/* VS_OK when reply is not an error reply; else redis_error_status of its text, with err saying
 * what Redis answered (its first word and meaning, e.g. "redis: LOADING: Redis is loading its
 * data set"; the reply's own text for an INTERNAL one). */
vs_status redis_reply_status(const redisReply *reply, char *err, size_t errlen);

/* Same with an argv vector (binary-safe). */
vs_status redis_command_argv(redis_conn *r, redisReply **reply, char *err, size_t errlen, int argc,
                             const char **argv, const size_t *argvlen);

/* Pipelines n commands given as argv vectors: all sent, then all replies read into replies[].
 * On connection failure nothing is retried (the caller decides) and VS_UNAVAILABLE is returned. */
vs_status redis_pipeline(redis_conn *r, int n, const int *argc, const char ***argv,
                         const size_t **argvlen, redisReply **replies, char *err, size_t errlen);

/* A pipeline built one command at a time: up to max_cmds commands of up to max_args arguments.
 * The argument strings are not copied; they must outlive redis_cmds_run. */
typedef struct redis_cmds {
    int n, max_cmds, max_args;
    int *argc;
    const char ***argv;
    const size_t **argvlen;
    const char **args;
    size_t *lens;
    redisReply **replies; /* after redis_cmds_run: replies[i] answers the i-th command */
} redis_cmds;

/* 0 when out of memory (redis_cmds_free is still safe). */
int redis_cmds_init(redis_cmds *c, size_t max_cmds, int max_args);

/* Appends a command of argc (<= max_args) arguments; ignored past max_cmds. */
void redis_cmds_add(redis_cmds *c, int argc, const char *const *args);

/* Runs the commands with redis_pipeline (nothing to do when there are none). */
vs_status redis_cmds_run(redis_conn *r, redis_cmds *c, char *err, size_t errlen);

/* Frees the arrays and the replies. */
void redis_cmds_free(redis_cmds *c);

#endif
