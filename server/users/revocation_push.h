/* revocation_push.h — internal to server/users/revocation*.c: the process's set of revoked jtis and
 * the Redis subscriber that keeps it complete, so that a check needs no round trip (docs/users.md,
 * "Pushed revocations"). revocation.h has the public side. */
#ifndef VS_REVOCATION_PUSH_H
#define VS_REVOCATION_PUSH_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "revoked_set.h"
#include "status.h"

#define REVOCATION_CHANNEL "vs:auth:revoked"

/* The process's revoked jtis: every entry is a true revocation (from the primary, a published
 * Logout, or a Logout of this process); created on first use, lives for the process. */
revoked_set *revocation_set(void);

/* Adds the primary's unexpired revocations (db: a primary connection of the calling thread, or a
 * replica's once it has applied what it received) to the set and prunes what expired. *n_out (may
 * be NULL) gets the rows read. */
vs_status revocation_reload(MYSQL *db, size_t *n_out, char *err, size_t errlen);

/* Whether the set can answer for jti right now without any I/O: 1 with *revoked set when the
 * subscription is live and nothing has arrived on it that is not yet applied; 0 when the caller
 * must ask Redis or the primary. Cheap (one poll(2) of the subscriber socket, a set lookup);
 * safe from any thread. */
int revocation_push_lookup(const char *jti, int *revoked);

/* 1 while the subscription is live (the set answers on its own). */
int revocation_push_live(void);

/* 1 when vsd runs the subscriber (VS_AUTH_REVOCATION_PUSH is not 0). */
int revocation_push_enabled(void);

/* A Logout's wait for its own PUBLISH to come back through this process's subscriber:
 * revocation_push_expect before publishing, then revocation_push_await (always, to unregister),
 * which returns 1 when the message arrived within timeout_ms, 0 when not (or not live). */
typedef struct revocation_waiter {
    char jti[64];
    int arrived;
    struct revocation_waiter *next;
} revocation_waiter;
void revocation_push_expect(revocation_waiter *w, const char *jti);
int revocation_push_await(revocation_waiter *w, int timeout_ms);

/* Starts the subscriber thread unless VS_AUTH_REVOCATION_PUSH=0; revocation_push_stop joins it
 * (a no-op when it never started). */
vs_status revocation_push_start(char *err, size_t errlen);
void revocation_push_stop(void);

#endif
