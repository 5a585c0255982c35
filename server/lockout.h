/* lockout.h — log-in lockout: 5 failures for one email within 15 minutes lock it for 15 minutes,
 * whatever the source.
 *
 * State is per normalised email, whether or not an account has it, so a locked reply says
 * nothing about the account's existence. Every attempt is recorded *before* its password is
 * checked and counted with all attempts in the window, so concurrent guesses cannot slip past
 * the limit: of any burst, at most 5 ever reach the password check. Times are vsd's clock
 * (clock_now_ms, injectable), kept in auth_login_attempt / auth_lockout on the primary. */
#ifndef VS_LOCKOUT_H
#define VS_LOCKOUT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define LOCKOUT_FAILURES 5
#define LOCKOUT_WINDOW_MS (15 * 60 * 1000LL)
#define LOCKOUT_DURATION_MS (15 * 60 * 1000LL)
#define LOCKOUT_MESSAGE "too many failed log-in attempts for this email; try again later"

/* *locked = 1 while email is locked at now_ms. */
vs_status lockout_check(MYSQL *db, const char *email, int64_t now_ms, int *locked, char *err,
                        size_t errlen);

/* Records an attempt. *refused = 1 when it is beyond the LOCKOUT_FAILURES-th in the window
 * (then nothing stays recorded and the password must not be checked); else *attempt_id names it. */
vs_status lockout_begin(MYSQL *db, const char *email, int64_t now_ms, uint64_t *attempt_id,
                        int *refused, char *err, size_t errlen);

/* Forgets an attempt that never reached a verdict (e.g. no hashing slot). */
vs_status lockout_abandon(MYSQL *db, uint64_t attempt_id, char *err, size_t errlen);

/* The verdict: success clears the email's attempts; a failure stays counted and, if it makes
 * LOCKOUT_FAILURES in the window, locks the email until now + LOCKOUT_DURATION_MS. */
vs_status lockout_finish(MYSQL *db, const char *email, int64_t now_ms, int success, char *err,
                         size_t errlen);

#endif
