/* password.h — argon2id password hashing (libsodium crypto_pwhash_str) with a bound on how many
 * hashes run at once, so a burst of sign-ups or log-ins cannot exhaust memory or every RPC thread.
 *
 * Configuration (read by password_init):
 *   VS_PWHASH_OPSLIMIT   argon2id passes t, default 2 (minimum 2)
 *   VS_PWHASH_MEMLIMIT   memory m in bytes, default 19 MiB (minimum 19 MiB); p is always 1
 *                        (libsodium's argon2id is single-lane)
 *   VS_PWHASH_INSECURE_TEST_PARAMS=1  accept t/m below the minimums (tests only; logged loudly)
 *   VS_HASH_CONCURRENCY  hashes running at once per vsd, default 2
 *   VS_HASH_QUEUE        calls allowed to wait for a slot, default 8; more fail at once
 *   VS_HASH_WAIT_MS      longest wait for a slot, default 5000 (or the call's deadline)
 * A call that gets no slot is VS_UNAVAILABLE ("retry"): it holds an RPC thread only while it
 * waits, and at most VS_HASH_QUEUE of them wait. */
#ifndef VS_PASSWORD_H
#define VS_PASSWORD_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define PASSWORD_MIN_OPSLIMIT 2ULL
#define PASSWORD_MIN_MEMLIMIT ((size_t)19 << 20)
#define PASSWORD_DEFAULT_OPSLIMIT PASSWORD_MIN_OPSLIMIT
#define PASSWORD_DEFAULT_MEMLIMIT PASSWORD_MIN_MEMLIMIT
#define PASSWORD_HASH_MAX crypto_pwhash_STRBYTES

/* Reads the configuration above and prepares the dummy hash that log-ins of unknown emails are
 * verified against (same parameters, so they cost the same time). Call once from main. */
vs_status password_init(char *err, size_t errlen);

/* Hashes password into out ("$argon2id$v=19$m=...,t=...,p=1$..."). deadline_unix_ms (0 = none)
 * bounds the wait for a slot. VS_UNAVAILABLE when busy, VS_RESOURCE_EXHAUSTED when out of memory.
 */
vs_status password_hash(const char *password, size_t len, int64_t deadline_unix_ms,
                        char out[PASSWORD_HASH_MAX]);

/* Verifies password against stored (NULL: the dummy hash, *match is then always 0). */
vs_status password_verify(const char *stored, const char *password, size_t len,
                          int64_t deadline_unix_ms, int *match);

#endif
