/* vs/user.h — libvsclient calls for UserService: sign up, log in, log out, who am I.
 *
 * Each returns a vs_status (VS_OK on success); on failure status (may be NULL) says why, with the
 * server's message (INVALID_ARGUMENT names the field). Passwords are sent as given and never
 * kept: the caller owns and should wipe its buffer.
 *
 * Log-in replies are deliberately uninformative: an unknown email and a wrong password are the
 * same VS_UNAUTHENTICATED "invalid email or password". After 5 failures for one email from one
 * address within 15 minutes the email is locked for that address for 15 minutes (20 from all
 * addresses: for all of them) — VS_RESOURCE_EXHAUSTED, for any email, existing or not, even with
 * the right password. Too many sign-ups or log-ins from one address are VS_RESOURCE_EXHAUSTED
 * too, with "retry after N s" in the message. */
#ifndef VS_USER_H_PUBLIC
#define VS_USER_H_PUBLIC

#include <stdint.h>
#include <vs/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vs.v1.Role */
enum { VS_ROLE_VIEWER = 1, VS_ROLE_CREATOR = 2, VS_ROLE_ADMIN = 3 };

/* "viewer", "creator", "admin" (or "unknown"). Static storage. */
const char *vs_role_name(int role);

/* A user as Me returns it; opaque, freed with vs_user_free(). Strings live as long as the user. */
typedef struct vs_user vs_user;

uint64_t vs_user_id(const vs_user *user);
const char *vs_user_email(const vs_user *user);
const char *vs_user_display_name(const vs_user *user);
int vs_user_role(const vs_user *user);
int64_t vs_user_created_unix(const vs_user *user);
void vs_user_free(vs_user *user);

/* Creates an account (role viewer). Email is normalised by the server (trimmed, lower-cased);
 * password 8..1024 bytes; display name 1..64 characters of UTF-8. An email already taken is
 * VS_ALREADY_EXISTS. *user_id (may be NULL) receives the new id. */
int vs_user_signup(vs_client *client, const char *email, const char *password,
                   const char *display_name, uint64_t *user_id, vs_call_status *status);

/* Logs in. On success the client sends the new token with every later call
 * (vs_client_set_token), and *token (if not NULL) receives a malloc'd copy that the caller frees
 * with free() (wipe it first: it is a credential). expires_unix and user_id may be NULL. */
int vs_user_login(vs_client *client, const char *email, const char *password, char **token,
                  int64_t *expires_unix, uint64_t *user_id, vs_call_status *status);

/* Revokes the client's current token on the server (until it would have expired) and clears it
 * from the client. A retried log-out of the same token also succeeds. */
int vs_user_logout(vs_client *client, vs_call_status *status);

/* The logged-in user, read from the database. *out is the caller's (vs_user_free). */
int vs_user_me(vs_client *client, vs_user **out, vs_call_status *status);

#ifdef __cplusplus
}
#endif
#endif
