/* testsupport.h — helpers for integration tests: the throwaway stack's settings, and vsd
 * processes started per test binary on private ipc:// URLs.
 *
 * The `stack` ctest fixture runs tools/stack up with VS_HOME=$VS_TEST_HOME; ts_stack_env() imports
 * its env file so tests see VS_DB_PRIMARY, VS_DB_REPLICA, VS_REDIS, ... exactly as vsd does. */
#ifndef VS_TESTSUPPORT_H
#define VS_TESTSUPPORT_H

#include <mysql.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>
#include <vs/client.h>

/* Imports $VS_TEST_HOME/env into the environment; fails the test (returns -1) if absent. */
int ts_stack_env(void);

/* A fresh ipc:// URL under $VS_TEST_HOME (or /tmp) unique to this process: name is a label. */
void ts_ipc_url(const char *name, char *out, size_t outlen);

/* A TCP port on 127.0.0.1 that nothing listened on a moment ago (bound to port 0, then closed). */
int ts_free_tcp_port(void);

/* Writes a throwaway TLS setup (tests/support/tls_certs.sh: ca.pem, server.pem/.key,
 * worker.pem/.key, rogue-ca.pem, rogue.pem/.key) into a fresh directory under $VS_TEST_HOME
 * (or /tmp) and returns its path in dir. Fails the test if openssl fails. */
void ts_tls_certs(char *dir, size_t dirlen);

/* Starts build/server/vsd listening on url with extra environment assignments ("K=V", NULL
 * terminated; may be NULL) and waits until it answers a shallow Health (max 10 s). Returns the
 * pid, or -1. */
pid_t ts_start_vsd(const char *url, const char *const *extra_env);

/* SIGTERM, then SIGKILL after 5 s; reaps. 0 when the process exited by itself with status 0
 * (a clean stop, or pid <= 0: nothing to stop), 1 otherwise. */
int ts_stop(pid_t pid);

/* Opens a client on url with a timeout; asserts success. */
vs_client *ts_client(const char *url, int timeout_ms);

/* A connection to the stack's primary or replica (root-equivalent vs user). Asserts success. */
MYSQL *ts_db_primary(void);
MYSQL *ts_db_replica(void);

/* The first column of the first row of a printf-formatted query on db as an integer; 0 when the
 * value is NULL or there is no row. A query error fails the test, naming the statement. */
int64_t ts_db_vint(MYSQL *db, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int64_t ts_db_int(MYSQL *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a shell command (via /bin/sh -c) and returns its exit status; output to stderr. */
int ts_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* PID of a stack process from its pid file under $VS_TEST_HOME, e.g. "redis/redis" or
 * "replica/mariadb"; -1 when there is none. */
pid_t ts_stack_pid(const char *component);

/* SIGKILLs the stack's Redis (no shutdown, no final AOF fsync) and waits until it is gone. */
void ts_kill_redis(void);

/* Brings the stack up again after ts_kill_redis (tools/stack up) and asserts Redis is a new
 * process, not old. */
void ts_restart_redis(pid_t old);

/* Milliseconds on the monotonic clock. */
int64_t ts_mono_ms(void);

/* Path of a built program, e.g. ts_program("server/vsd"). Static storage, one at a time. */
const char *ts_program(const char *relative);

#endif
