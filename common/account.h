/* account.h — the rules for account fields (pure: no I/O), shared by vsd and vsctl.
 *
 * Each check returns VS_OK or VS_INVALID_ARGUMENT with a message in err that starts with the
 * field's name ("email: ...", "password: ...", "display_name: ..."), ready for rpc_fail(). */
#ifndef VS_ACCOUNT_H
#define VS_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define ACCOUNT_EMAIL_MAX 254 /* RFC 5321 path limit, also the users.email column */
#define ACCOUNT_LOCAL_MAX 64
#define ACCOUNT_PASSWORD_MIN 8 /* bytes */
#define ACCOUNT_PASSWORD_MAX 1024
#define ACCOUNT_NAME_MAX 64 /* characters (code points), the users.display_name column */

/* vs.v1.Role values, as stored in users.role. */
enum { ACCOUNT_ROLE_VIEWER = 1, ACCOUNT_ROLE_CREATOR = 2, ACCOUNT_ROLE_ADMIN = 3 };

/* Normalises an email (ASCII whitespace trimmed, ASCII letters lower-cased) into out (at least
 * ACCOUNT_EMAIL_MAX + 1 bytes) and validates it: one '@', a dot-atom local part of at most 64
 * characters, a domain of at least two dot-separated labels of letters, digits and inner hyphens.
 * Quoted local parts and non-ASCII addresses are refused. */
vs_status account_normalize_email(const char *email, char *out, size_t outlen, char *err,
                                  size_t errlen);

/* Password length in bytes within [ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX]. */
vs_status account_check_password(const char *password, size_t len, char *err, size_t errlen);

/* Display name: valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF), 1 to
 * 64 characters, no control characters, not only whitespace. */
vs_status account_check_display_name(const char *name, char *err, size_t errlen);

/* Number of code points in s[0..len) if it is strictly valid UTF-8, else -1. */
long account_utf8_length(const char *s, size_t len);

/* "viewer", "creator", "admin"; "unknown" otherwise. Static storage. */
const char *account_role_name(int role);

/* The role named by name (as account_role_name prints it), or -1. */
int account_role_parse(const char *name);

#endif
