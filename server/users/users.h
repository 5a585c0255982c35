/* users.h — UserService (SignUp, Login, Logout, Me) and the role rules other modules apply.
 *
 * Accounts live in the users table on the primary; every read here is from the primary too
 * (a sign-up followed at once by a log-in must work while the replica lags). Passwords are
 * argon2id (password.h); log-in lockout is in lockout.h; tokens in auth.h. docs/users.md has the
 * security model. */
#ifndef VS_USERS_H
#define VS_USERS_H

#include <mysql.h>
#include <stdint.h>
#include <vs/v1/user.pb-c.h>

#include "status.h"

/* The one reply for an unknown email and a wrong password (byte-identical, UNAUTHENTICATED). */
#define USERS_LOGIN_FAILED_MESSAGE "invalid email or password"

/* Reads the password-hashing configuration (see password.h). Call once from main. */
vs_status users_init(char *err, size_t errlen);

/* Raises user_id's role to at least role (vs.v1.Role: 2 creator, 3 admin); never lowers it.
 * Idempotent; runs one UPDATE on db, which must be a primary connection (the caller's, so it can
 * join the caller's transaction). VS_NOT_FOUND when no such user, VS_INVALID_ARGUMENT for a role
 * outside 1..3, else the DB error's status (logged). CreateVideo calls it with 2. */
vs_status users_grant_role_min(MYSQL *db, uint64_t user_id, int role);

/* The generated UserService methods (svc_user.c builds the table with prefix users_). */
void users_sign_up(Vs__V1__UserService_Service *service, const Vs__V1__SignUpRequest *input,
                   Vs__V1__SignUpResponse_Closure closure, void *closure_data);
void users_login(Vs__V1__UserService_Service *service, const Vs__V1__LoginRequest *input,
                 Vs__V1__LoginResponse_Closure closure, void *closure_data);
void users_logout(Vs__V1__UserService_Service *service, const Vs__V1__LogoutRequest *input,
                  Vs__V1__LogoutResponse_Closure closure, void *closure_data);
void users_me(Vs__V1__UserService_Service *service, const Vs__V1__MeRequest *input,
              Vs__V1__User_Closure closure, void *closure_data);

#endif
