/* revoked_set.h — the revoked token ids (jti) a process knows of, each with its token's expiry,
 * for a lookup on every authenticated call.
 *
 * Thread-safe: any number of threads may look up while others add or prune (a read-write lock
 * around an open-addressing hash table; a lookup is a hex parse, a read lock and a probe or two).
 * A jti is TOKEN_JTI_LEN lowercase hex digits (128 random bits), stored as two 64-bit halves.
 * Entries are only ever true revocations; pruning drops those whose tokens can no longer be
 * accepted anyway. The set itself knows nothing about time: callers pass the cut-off. */
#ifndef VS_REVOKED_SET_H
#define VS_REVOKED_SET_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct revoked_set revoked_set;

/* An empty set; VS_RESOURCE_EXHAUSTED when out of memory. Free with revoked_set_free. */
vs_status revoked_set_new(revoked_set **out);
void revoked_set_free(revoked_set *s);

/* Adds jti with its token's exp (seconds). Adding a jti already present keeps the later exp.
 * VS_INVALID_ARGUMENT when jti is not TOKEN_JTI_LEN lowercase hex digits or exp_unix <= 0;
 * VS_RESOURCE_EXHAUSTED when the table cannot grow (the set is unchanged). */
vs_status revoked_set_add(revoked_set *s, const char *jti, int64_t exp_unix);

/* 1 when jti is in the set, 0 otherwise (also for a malformed jti). */
int revoked_set_contains(revoked_set *s, const char *jti);

/* Drops every entry whose exp_unix < before_unix; returns how many were dropped. */
size_t revoked_set_prune(revoked_set *s, int64_t before_unix);

/* Entries now in the set. */
size_t revoked_set_count(revoked_set *s);

#endif
