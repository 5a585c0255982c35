/* lockout.h — log-in lockout: 5 failures for one email from one source within 15 minutes lock
 * that email for that source for 15 minutes; 20 failures for one email from all sources together
 * lock it for everyone.
 *
 * Keyed by (email, source) so that someone who knows an email cannot lock its owner out from
 * another address with five bad guesses; the per-email ceiling still bounds guessing spread over
 * many addresses. State is per normalised email, whether or not an account has it, so a locked
 * reply says nothing about the account's existence. Every attempt is recorded *before* its
 * password is checked and counted with all attempts in the window, so concurrent guesses cannot
 * slip past the limits: of any burst from one source, at most 5 ever reach the password check.
 * Times are vsd's clock (clock_now_ms, injectable), kept in auth_login_attempt / auth_lockout on
 * the primary. source is rpc_call_source's text. */
#ifndef VS_LOCKOUT_H
#define VS_LOCKOUT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define LOCKOUT_FAILURES 5        /* per (email, source) */
#define LOCKOUT_EMAIL_FAILURES 20 /* per email, all sources together */
#define LOCKOUT_WINDOW_MS (15 * 60 * 1000LL)
#define LOCKOUT_DURATION_MS (15 * 60 * 1000LL)
#define LOCKOUT_MESSAGE "too many failed log-in attempts for this email; try again later"

/* *locked = 1 while email is locked at now_ms for source (or for everyone). */
vs_status lockout_check(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                        int *locked, char *err, size_t errlen);

/* Records an attempt. *refused = 1 when it is beyond the LOCKOUT_FAILURES-th of (email, source)
 * or the LOCKOUT_EMAIL_FAILURES-th of email in the window (then nothing stays recorded and the
 * password must not be checked); else *attempt_id names it. */
vs_status lockout_begin(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                        uint64_t *attempt_id, int *refused, char *err, size_t errlen);

/* Forgets an attempt that never reached a verdict (e.g. no hashing slot). */
vs_status lockout_abandon(MYSQL *db, uint64_t attempt_id, char *err, size_t errlen);

/* The verdict: success clears the attempts of (email, source) — not other sources': a log-in of
 * the owner must not reset a stranger's count. A failure stays counted and, if it makes
 * LOCKOUT_FAILURES for (email, source) or LOCKOUT_EMAIL_FAILURES for email in the window, locks
 * that pair, or the email for everyone, until now + LOCKOUT_DURATION_MS. */
vs_status lockout_finish(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                         int success, char *err, size_t errlen);

#endif
