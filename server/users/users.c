/* users.c — UserService: SignUp, Login, Logout, Me. */
#include "users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "auth.h"
#include "clock.h"
#include "db.h"
#include "lockout.h"
#include "log.h"
#include "password.h"
#include "revocation.h"
#include "db_stmt.h"
#include "throttle.h"
#include "vsd.h"

/* Calls per source and window: set once by users_init, read-only afterwards. */
static throttle_rule users_signup_rule, users_login_rule;

vs_status users_init(char *err, size_t errlen)
{
    vs_status rc;

    if ((rc = throttle_rule_load(&users_signup_rule, "signup", "VS_SIGNUP", 20, 3600, err,
                                 errlen)) != VS_OK ||
        (rc = throttle_rule_load(&users_login_rule, "login", "VS_LOGIN", 60, 60, err, errlen)) !=
            VS_OK)
        return rc;
    log_info("users: at most %lld sign-ups per source in %lld s, %lld log-ins in %lld s "
             "(0: no limit)",
             (long long)users_signup_rule.limit, (long long)users_signup_rule.window_s,
             (long long)users_login_rule.limit, (long long)users_login_rule.window_s);
    return password_init(err, errlen);
}

/* Counts the call against rule for its source. VS_OK to go on; otherwise the call has been
 * failed RESOURCE_EXHAUSTED with the seconds to wait. When Redis cannot count, the call goes on
 * (fail open, logged): a Redis outage must not stop every sign-up and log-in, and what the
 * throttle protects is still bounded without it — hashing by VS_HASH_CONCURRENCY and
 * VS_HASH_QUEUE, guessing by the lockout on the primary. */
static vs_status users_throttle(rpc_call *call, const throttle_rule *rule, const char *source,
                                const char *what)
{
    int64_t retry_after_s = 0;
    char err[256];
    vs_status rc =
        throttle_take(vsd_redis(call->worker), rule, source, &retry_after_s, err, sizeof err);

    if (rc == VS_RESOURCE_EXHAUSTED) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "too many %s from this address; retry after %lld s",
                 what, (long long)retry_after_s);
        return rc;
    }
    if (rc != VS_OK)
        log_warn("%s: %s not counted, let through: %s", call->method, what, err);
    return VS_OK;
}

/* The thread's primary (vsd_db replaces one a restarted server closed). NULL after rpc_fail. */
static MYSQL *users_primary(rpc_call *call)
{
    char err[256];
    vs_status rc;
    MYSQL *db = vsd_db(call->worker, VSD_PRIMARY, &rc, err, sizeof err);

    if (db == NULL)
        rpc_fail(call, VS_UNAVAILABLE, "database unavailable; retry");
    return db;
}

/* Fails the call for a DB error without leaking server detail to the client. */
static void users_db_fail(rpc_call *call, vs_status rc, const char *what, const char *err)
{
    log_warn("%s: %s: %s", call->method, what, err);
    if (rc == VS_UNAVAILABLE)
        vsd_db_reset(call->worker, VSD_PRIMARY);
    if (rc == VS_RESOURCE_EXHAUSTED)
        rpc_fail(call, rc, "the database is out of space or memory; retry later");
    else
        rpc_fail(call, rc == VS_UNAVAILABLE || rc == VS_ABORTED ? VS_UNAVAILABLE : VS_INTERNAL,
                 "database error; retry");
}

vs_status users_grant_role_min(MYSQL *db, uint64_t user_id, int role)
{
    db_stmt_value params[] = {DB_STMT_PARAM_I64(role), DB_STMT_PARAM_U64(user_id)};
    db_stmt_result res;
    char err[256];
    vs_status rc;

    if (role < ACCOUNT_ROLE_VIEWER || role > ACCOUNT_ROLE_ADMIN)
        return VS_INVALID_ARGUMENT;
    rc = db_stmt_run(db, "UPDATE users SET role = GREATEST(role, ?) WHERE id = ?", params, 2, NULL,
                     0, &res, err, sizeof err);
    if (rc != VS_OK) {
        log_warn("users_grant_role_min(%llu, %d): %s", (unsigned long long)user_id, role, err);
        return rc;
    }
    return res.affected == 0 ? VS_NOT_FOUND : VS_OK;
}

void users_sign_up(Vs__V1__UserService_Service *service, const Vs__V1__SignUpRequest *in,
                   Vs__V1__SignUpResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__SignUpResponse resp = VS__V1__SIGN_UP_RESPONSE__INIT;
    char email[ACCOUNT_EMAIL_MAX + 1], hash[PASSWORD_HASH_MAX], err[256], source[64];
    size_t pwlen = strlen(in->password);
    db_stmt_result res;
    MYSQL *db;
    vs_status rc;

    if (account_normalize_email(in->email, email, sizeof email, err, sizeof err) != VS_OK ||
        account_check_password(in->password, pwlen, err, sizeof err) != VS_OK ||
        account_check_display_name(in->display_name, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    /* after validation (a refused request costs nothing), before any work that does */
    rpc_call_source(call, source, sizeof source);
    if (users_throttle(call, &users_signup_rule, source, "sign-ups") != VS_OK ||
        (db = users_primary(call)) == NULL)
        goto fail;
    {
        db_stmt_value params[] = {DB_STMT_PARAM_STR(email)}, cols[] = {DB_STMT_COL_U64};
        /* saves the hashing work for the common duplicate; the unique key decides races */
        rc = db_stmt_run(db, "SELECT id FROM users WHERE email = ?", params, 1, cols, 1, &res, err,
                         sizeof err);
        if (rc != VS_OK) {
            users_db_fail(call, rc, "look up email", err);
            goto fail;
        }
        if (res.found)
            goto exists;
    }
    rc = password_hash(in->password, pwlen, call->deadline_unix_ms, hash);
    if (rc != VS_OK) {
        rpc_fail(call, rc,
                 rc == VS_UNAVAILABLE ? "too many password checks in progress; retry"
                                      : "out of memory hashing the password");
        goto fail;
    }
    {
        db_stmt_value params[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_STR(hash),
                                  DB_STMT_PARAM_STR(in->display_name)};
        rc = db_stmt_run(db,
                         "INSERT INTO users (email, password_hash, display_name) VALUES (?, ?, ?)",
                         params, 3, NULL, 0, &res, err, sizeof err);
    }
    sodium_memzero(hash, sizeof hash);
    if (rc == VS_ALREADY_EXISTS)
        goto exists;
    if (rc != VS_OK) {
        users_db_fail(call, rc, "insert user", err);
        goto fail;
    }
    log_info("user %llu signed up", (unsigned long long)res.insert_id);
    resp.user_id = res.insert_id;
    closure(&resp, closure_data);
    return;
exists:
    rpc_fail(call, VS_ALREADY_EXISTS, "email: an account with this email already exists");
fail:
    closure(NULL, closure_data);
}

/* Checks email/password against the primary under the lockout rules. VS_OK with *user_id and
 * *role on success; otherwise the call has been failed. Unknown email and wrong password take the
 * same path (a dummy hash stands in for the missing one) and end in the same reply. */
static vs_status users_authenticate(rpc_call *call, MYSQL *db, const char *email,
                                    const char *source, const char *password, uint64_t *user_id,
                                    int *role)
{
    int64_t now_ms = clock_now_ms();
    char hash[PASSWORD_HASH_MAX] = "", err[256];
    db_stmt_value params[] = {DB_STMT_PARAM_STR(email)};
    db_stmt_value cols[] = {DB_STMT_COL_U64, DB_STMT_COL_STR(hash, sizeof hash), DB_STMT_COL_I64};
    db_stmt_result user;
    uint64_t attempt = 0;
    int locked = 0, match = 0;
    vs_status rc;

    rc = lockout_check(db, email, source, now_ms, &locked, err, sizeof err);
    if (rc != VS_OK)
        goto db_fail;
    if (locked) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, LOCKOUT_MESSAGE);
        return VS_RESOURCE_EXHAUSTED;
    }
    rc = db_stmt_run(db, "SELECT id, password_hash, role FROM users WHERE email = ?", params, 1,
                     cols, 3, &user, err, sizeof err);
    if (rc != VS_OK)
        goto db_fail;
    rc = lockout_begin(db, email, source, now_ms, &attempt, &locked, err, sizeof err);
    if (rc != VS_OK)
        goto db_fail;
    if (locked) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, LOCKOUT_MESSAGE);
        return VS_RESOURCE_EXHAUSTED;
    }
    rc = password_verify(user.found ? hash : NULL, password, strlen(password),
                         call->deadline_unix_ms, &match);
    sodium_memzero(hash, sizeof hash);
    if (rc != VS_OK) {
        /* no verdict, so the attempt must not count against the email */
        if (lockout_abandon(db, attempt, err, sizeof err) != VS_OK)
            log_warn("%s: abandon attempt: %s", call->method, err);
        rpc_fail(call, VS_UNAVAILABLE, "too many password checks in progress; retry");
        return VS_UNAVAILABLE;
    }
    rc = lockout_finish(db, email, source, now_ms, match, err, sizeof err);
    if (rc != VS_OK)
        goto db_fail;
    if (!match) {
        rpc_fail(call, VS_UNAUTHENTICATED, USERS_LOGIN_FAILED_MESSAGE);
        return VS_UNAUTHENTICATED;
    }
    *user_id = cols[0].u64;
    *role = (int)cols[2].i64;
    return VS_OK;
db_fail:
    users_db_fail(call, rc, "log-in", err);
    return call->status;
}

void users_login(Vs__V1__UserService_Service *service, const Vs__V1__LoginRequest *in,
                 Vs__V1__LoginResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__LoginResponse resp = VS__V1__LOGIN_RESPONSE__INIT;
    char email[ACCOUNT_EMAIL_MAX + 1], err[256], source[64], *token = NULL;
    size_t pwlen = strlen(in->password);
    uint64_t user_id = 0;
    int role = 0;
    int64_t exp = 0;
    MYSQL *db;

    if (account_normalize_email(in->email, email, sizeof email, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    /* lengths only: a short password simply fails to match, like any wrong one */
    if (pwlen == 0 || pwlen > ACCOUNT_PASSWORD_MAX) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "password: must be 1 to %d bytes long",
                 ACCOUNT_PASSWORD_MAX);
        goto fail;
    }
    rpc_call_source(call, source, sizeof source);
    if (users_throttle(call, &users_login_rule, source, "log-ins") != VS_OK ||
        (db = users_primary(call)) == NULL ||
        users_authenticate(call, db, email, source, in->password, &user_id, &role) != VS_OK)
        goto fail;
    if (auth_issue(user_id, role, &token, &exp) != VS_OK) {
        rpc_fail(call, VS_INTERNAL, "cannot issue a token");
        goto fail;
    }
    resp.access_token = token;
    resp.expires_unix = exp;
    resp.user_id = user_id;
    closure(&resp, closure_data);
    sodium_memzero(token, strlen(token));
    free(token);
    return;
fail:
    closure(NULL, closure_data);
}

void users_logout(Vs__V1__UserService_Service *service, const Vs__V1__LogoutRequest *in,
                  Vs__V1__LogoutResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__LogoutResponse resp = VS__V1__LOGOUT_RESPONSE__INIT;
    auth_principal who;
    revocation_token token;
    char err[256];
    vs_status rc;

    if (auth_check(call, AUTH_ALLOW_REVOKED, &who) != VS_OK)
        goto fail;
    token = (revocation_token){who.jti, who.user_id, who.exp_unix};
    rc = revocation_revoke(call->worker, &token, err, sizeof err);
    if (rc != VS_OK) {
        log_warn("%s: revoke: %s", call->method, err);
        rpc_fail(call, rc == VS_UNAVAILABLE ? VS_UNAVAILABLE : VS_INTERNAL,
                 "the token could not be revoked everywhere yet; retry the log-out");
        goto fail;
    }
    resp.revoked = 1;
    closure(&resp, closure_data);
    return;
fail:
    closure(NULL, closure_data);
}

void users_me(Vs__V1__UserService_Service *service, const Vs__V1__MeRequest *in,
              Vs__V1__User_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__User user = VS__V1__USER__INIT;
    char email[ACCOUNT_EMAIL_MAX + 1], name[4 * ACCOUNT_NAME_MAX + 1], err[256];
    auth_principal who;
    db_stmt_value params[1];
    db_stmt_value cols[] = {DB_STMT_COL_STR(email, sizeof email),
                            DB_STMT_COL_STR(name, sizeof name), DB_STMT_COL_I64, DB_STMT_COL_I64};
    db_stmt_result res;
    MYSQL *db;
    vs_status rc;

    if (auth_require(call, &who) != VS_OK || (db = users_primary(call)) == NULL)
        goto fail;
    params[0] = DB_STMT_PARAM_U64(who.user_id);
    rc = db_stmt_run(db,
                     "SELECT email, display_name, role, "
                     "CAST(FLOOR(UNIX_TIMESTAMP(created_at)) AS SIGNED) FROM users WHERE id = ?",
                     params, 1, cols, 4, &res, err, sizeof err);
    if (rc != VS_OK) {
        users_db_fail(call, rc, "read user", err);
        goto fail;
    }
    if (!res.found) {
        rpc_fail(call, VS_NOT_FOUND, "the token's user no longer exists");
        goto fail;
    }
    user.id = who.user_id;
    user.email = email;
    user.display_name = name;
    user.role = (Vs__V1__Role)cols[2].i64;
    user.created_unix = cols[3].i64;
    closure(&user, closure_data);
    return;
fail:
    closure(NULL, closure_data);
}
