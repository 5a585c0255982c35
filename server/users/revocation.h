/* revocation.h — revoked access tokens (Logout): durable on the primary, pushed to every vsd
 * through Redis, checked in memory in the steady state (docs/users.md, "Pushed revocations").
 *
 * Two files, one way: revocation.c (the check and Logout's revoke) uses revocation_push.c (the
 * process's set and the subscriber that keeps it complete), never the other way round. */
#ifndef VS_REVOCATION_H
#define VS_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "vsd.h"

#define REVOCATION_JTI_MAX 64 /* room for a jti, as auth_principal holds it */

/* The token being revoked: its id, its owner, and its exp (seconds), until which it is refused. */
typedef struct revocation_token {
    const char *jti;
    uint64_t user_id;
    int64_t exp_unix;
} revocation_token;

/* Revokes the token until its exp: written to auth_revoked_token on the primary first (durable;
 * this process refuses the token from then on), then SET in Redis and PUBLISHed to every vsd in
 * one MULTI/EXEC; waits (at most 200 ms) for the PUBLISH to come back through this process's
 * subscriber. Idempotent. VS_UNAVAILABLE (err says which half) means the caller should retry:
 * the revocation may not yet be visible to every vsd. */
vs_status revocation_revoke(vsd_thread *w, const revocation_token *token, char *err, size_t errlen);

/* Whether jti is revoked (*revoked 0/1): the process's set, which answers alone while its Redis
 * subscription is live (no vsd_redis()/vsd_db() call then); otherwise Redis (a new connection
 * first reloads the set from the primary, or from the replica when the primary is unreachable),
 * then — when Redis is unreachable — the primary. VS_UNAVAILABLE when none of them can answer. */
vs_status revocation_check(vsd_thread *w, const char *jti, int *revoked, char *err, size_t errlen);

/* Starts the revocation subscriber thread (its own Redis and primary connections; it reconnects
 * by itself), unless VS_AUTH_REVOCATION_PUSH=0, which leaves every check on the Redis path. Call
 * once from main after mysql_library_init and with termination signals blocked, before serving;
 * revocation_stop joins the thread after the server has stopped. */
vs_status revocation_start(char *err, size_t errlen);
void revocation_stop(void);

#endif
