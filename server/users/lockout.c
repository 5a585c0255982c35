/* lockout.c — counting log-in attempts per email on the primary. */
#include "lockout.h"

#include <sodium.h>
#include <stdio.h>

#include "log.h"
#include "db_stmt.h"

#define LOCKOUT_DEADLOCK_RETRIES 5

/* db_stmt_run for lockout's single autocommit statements, run again when InnoDB chose it as a
 * deadlock victim: concurrent log-ins to one email insert and delete in the same (email, at_ms)
 * index range, and their gap locks can deadlock. The victim's statement was rolled back whole, so
 * running it again is safe. */
static vs_status lockout_run(MYSQL *db, const char *sql, const db_stmt_value *params, int n_params,
                             db_stmt_value *cols, int n_cols, db_stmt_result *res, char *err,
                             size_t errlen)
{
    vs_status rc = VS_ABORTED;

    for (int attempt = 0; attempt < LOCKOUT_DEADLOCK_RETRIES && rc == VS_ABORTED; attempt++)
        rc = db_stmt_run(db, sql, params, n_params, cols, n_cols, res, err, errlen);
    return rc;
}

vs_status lockout_check(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                        int *locked, char *err, size_t errlen)
{
    db_stmt_value params[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_STR(source)},
                  cols[] = {DB_STMT_COL_I64};
    db_stmt_result res;
    vs_status rc;

    *locked = 0;
    /* source '' is the lock of the email for everyone */
    rc = lockout_run(
        db,
        "SELECT locked_until_ms FROM auth_lockout WHERE email = ? AND source IN (?, '') "
        "ORDER BY locked_until_ms DESC LIMIT 1",
        params, 2, cols, 1, &res, err, errlen);
    if (rc == VS_OK && res.found && cols[0].i64 > now_ms)
        *locked = 1;
    return rc;
}

/* Attempts in the window: *from_source of (email, source), *all of email. */
static vs_status lockout_count(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                               int64_t *from_source, int64_t *all, char *err, size_t errlen)
{
    db_stmt_value params[] = {DB_STMT_PARAM_STR(source), DB_STMT_PARAM_STR(email),
                              DB_STMT_PARAM_I64(now_ms - LOCKOUT_WINDOW_MS)};
    db_stmt_value cols[] = {DB_STMT_COL_I64, DB_STMT_COL_I64};
    vs_status rc;

    rc = lockout_run(db,
                     "SELECT CAST(COALESCE(SUM(source = ?), 0) AS SIGNED), COUNT(*) "
                     "FROM auth_login_attempt WHERE email = ? AND at_ms > ?",
                     params, 3, cols, 2, NULL, err, errlen);
    *from_source = cols[0].i64;
    *all = cols[1].i64;
    return rc;
}

vs_status lockout_begin(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                        uint64_t *attempt_id, int *refused, char *err, size_t errlen)
{
    db_stmt_value params[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_STR(source),
                              DB_STMT_PARAM_I64(now_ms)};
    db_stmt_value old[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_I64(now_ms - LOCKOUT_WINDOW_MS)};
    db_stmt_result res;
    int64_t from_source = 0, all = 0;
    vs_status rc;

    *refused = 0;
    *attempt_id = 0;
    rc = lockout_run(db, "DELETE FROM auth_login_attempt WHERE email = ? AND at_ms <= ?", old, 2,
                     NULL, 0, NULL, err, errlen);
    if (rc == VS_OK)
        rc = lockout_run(db,
                         "INSERT INTO auth_login_attempt (email, source, at_ms) VALUES (?, ?, ?)",
                         params, 3, NULL, 0, &res, err, errlen);
    if (rc != VS_OK)
        return rc;
    *attempt_id = res.insert_id;
    /* counted after our own insert: of attempts racing each other, the last to count sees them
     * all, so no more than LOCKOUT_FAILURES of them ever see a count within the limit */
    rc = lockout_count(db, email, source, now_ms, &from_source, &all, err, errlen);
    if (rc == VS_OK && (from_source > LOCKOUT_FAILURES || all > LOCKOUT_EMAIL_FAILURES)) {
        *refused = 1;
        rc = lockout_abandon(db, *attempt_id, err, errlen);
        *attempt_id = 0;
    }
    return rc;
}

vs_status lockout_abandon(MYSQL *db, uint64_t attempt_id, char *err, size_t errlen)
{
    db_stmt_value params[] = {DB_STMT_PARAM_U64(attempt_id)};

    return lockout_run(db, "DELETE FROM auth_login_attempt WHERE id = ?", params, 1, NULL, 0, NULL,
                       err, errlen);
}

/* Now and then, drop rows no check will ever look at again (other emails' old attempts). */
static void lockout_housekeeping(MYSQL *db, int64_t now_ms)
{
    db_stmt_value params[] = {DB_STMT_PARAM_I64(now_ms - LOCKOUT_WINDOW_MS)};
    db_stmt_value until[] = {DB_STMT_PARAM_I64(now_ms)};
    char err[256];

    if (lockout_run(db, "DELETE FROM auth_login_attempt WHERE at_ms <= ? LIMIT 1000", params, 1,
                    NULL, 0, NULL, err, sizeof err) != VS_OK ||
        lockout_run(db, "DELETE FROM auth_lockout WHERE locked_until_ms <= ? LIMIT 1000", until, 1,
                    NULL, 0, NULL, err, sizeof err) != VS_OK)
        log_warn("lockout housekeeping: %s", err);
}

/* Locks email for source ('' = everyone) until now + LOCKOUT_DURATION_MS. */
static vs_status lockout_lock(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                              char *err, size_t errlen)
{
    db_stmt_value lock[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_STR(source),
                            DB_STMT_PARAM_I64(now_ms + LOCKOUT_DURATION_MS)};

    return lockout_run(db,
                       "INSERT INTO auth_lockout (email, source, locked_until_ms) VALUES (?, ?, ?) "
                       "ON DUPLICATE KEY UPDATE locked_until_ms = GREATEST(locked_until_ms, "
                       "VALUES(locked_until_ms))",
                       lock, 3, NULL, 0, NULL, err, errlen);
}

vs_status lockout_finish(MYSQL *db, const char *email, const char *source, int64_t now_ms,
                         int success, char *err, size_t errlen)
{
    db_stmt_value by_source[] = {DB_STMT_PARAM_STR(email), DB_STMT_PARAM_STR(source)};
    int64_t from_source = 0, all = 0;
    vs_status rc;

    if (success)
        return lockout_run(db, "DELETE FROM auth_login_attempt WHERE email = ? AND source = ?",
                           by_source, 2, NULL, 0, NULL, err, errlen);
    if (randombytes_uniform(64) == 0)
        lockout_housekeeping(db, now_ms);
    rc = lockout_count(db, email, source, now_ms, &from_source, &all, err, errlen);
    if (rc == VS_OK && from_source >= LOCKOUT_FAILURES)
        rc = lockout_lock(db, email, source, now_ms, err, errlen);
    if (rc == VS_OK && all >= LOCKOUT_EMAIL_FAILURES)
        rc = lockout_lock(db, email, "", now_ms, err, errlen);
    /* the failures stay recorded: they age out of the window exactly when the lock ends, and
     * until then they keep refusing attempts that raced past lockout_check */
    if (rc == VS_OK && (from_source >= LOCKOUT_FAILURES || all >= LOCKOUT_EMAIL_FAILURES))
        log_info("log-in locked for %lld s after %lld failures from %s (%lld from all sources)",
                 LOCKOUT_DURATION_MS / 1000, (long long)from_source, source, (long long)all);
    return rc;
}
