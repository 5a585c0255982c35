/* reads_fixture.h — shared set-up of the test_reads_* / test_disrupt_reads_* integration tests:
 * a vsd per test binary, real users (SignUp + Login) and videos (CreateVideo), and "known data" in
 * the batch's output tables written directly with SQL, the way the settlement batch writes them
 * (docs/batch.md): batch_job rows mark days settled, settlement rows are computed with the money
 * code from lifetime counts, top-N lists are ranked by SQL.
 *
 * Dates are in 1999, long before any day the batch tests use: a forced re-run in those tests
 * re-opens only *later* days, so it can never touch these rows.
 *
 * Header-only (static functions) because each tests/integration/test_*.c is its own program. */
#ifndef VS_READS_FIXTURE_H
#define VS_READS_FIXTURE_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vs/stats.h>
#include <vs/streaming.h>
#include <vs/user.h>

#include "db.h"
#include "money.h"
#include "testsupport.h"
#include "window.h"

#define RF_PASSWORD "reads-test-password-1"

typedef struct rf_user {
    uint64_t id;
    char email[128];
    char *token;
    vs_client *client; /* carries the user's token */
} rf_user;

typedef struct rf_env {
    char url[512];
    pid_t vsd;
    MYSQL *db; /* the primary */
} rf_env;

static rf_env rf;

static inline void rf_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void rf_sql(const char *fmt, ...)
{
    char sql[8192], err[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (db_exec(rf.db, sql, err, sizeof err) != VS_OK)
        fail_msg("%s: %s", sql, err);
}

/* An integer from db (0 when NULL / no row). */
static inline int64_t rf_int_on(MYSQL *db, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int64_t rf_int_on(MYSQL *db, const char *fmt, ...)
{
    va_list ap;
    int64_t v;

    va_start(ap, fmt);
    v = ts_db_vint(db, fmt, ap);
    va_end(ap);
    return v;
}
#define rf_int(...) rf_int_on(rf.db, __VA_ARGS__)

/* Starts vsd with fast password hashing and extra "K=V" settings (NULL-terminated, may be NULL). */
static inline int rf_setup_vsd(const char *name, const char *const *extra, char *url, size_t len)
{
    const char *env[16];
    int n = 0;

    env[n++] = "VS_PWHASH_INSECURE_TEST_PARAMS=1";
    env[n++] = "VS_PWHASH_OPSLIMIT=1";
    env[n++] = "VS_PWHASH_MEMLIMIT=65536";
    for (const char *const *e = extra; e != NULL && *e != NULL && n < 15; e++)
        env[n++] = *e;
    env[n] = NULL;
    ts_ipc_url(name, url, len);
    return ts_start_vsd(url, env);
}

static inline int rf_setup(const char *name, const char *const *extra)
{
    char err[256];

    if (ts_stack_env() != 0 || window_init("Asia/Seoul", err, sizeof err) != VS_OK)
        return -1;
    if ((rf.vsd = rf_setup_vsd(name, extra, rf.url, sizeof rf.url)) < 0) {
        fprintf(stderr, "%s: vsd did not start\n", name);
        return -1;
    }
    if (db_connect(getenv("VS_DB_PRIMARY"), 5, &rf.db, err, sizeof err) != VS_OK) {
        fprintf(stderr, "primary: %s\n", err);
        return -1;
    }
    return 0;
}

static inline void rf_teardown(void)
{
    ts_stop(rf.vsd);
    if (rf.db != NULL)
        mysql_close(rf.db);
}

/* Logs u in again (after a role change: the token carries the role at issue time). */
static inline void rf_login(rf_user *u)
{
    vs_call_status st;

    free(u->token);
    u->token = NULL;
    if (vs_user_login(u->client, u->email, RF_PASSWORD, &u->token, NULL, &u->id, &st) != VS_OK)
        fail_msg("Login %s: %s %s", u->email, vs_status_name(st.code), st.message);
}

/* A new account (unique email) on url, signed up and logged in through UserService. */
static inline rf_user rf_new_user_on(const char *url, const char *label)
{
    static int seq;
    vs_call_status st;
    rf_user u;

    memset(&u, 0, sizeof u);
    snprintf(u.email, sizeof u.email, "%s-%d-%d-%lld@reads.test", label, (int)getpid(), seq++,
             (long long)ts_mono_ms());
    u.client = ts_client(url, 20000);
    if (vs_user_signup(u.client, u.email, RF_PASSWORD, label, &u.id, &st) != VS_OK)
        fail_msg("SignUp %s: %s %s", u.email, vs_status_name(st.code), st.message);
    rf_login(&u);
    return u;
}
#define rf_new_user(label) rf_new_user_on(rf.url, label)

/* Grants admin the way `vsctl admin grant` does (an operator writing users.role), then logs in
 * again so the token says so. */
static inline void rf_make_admin(rf_user *u)
{
    rf_sql("UPDATE users SET role = 3 WHERE id = %" PRIu64, u->id);
    rf_login(u);
}

static inline void rf_free_user(rf_user *u)
{
    vs_client_close(u->client);
    free(u->token);
    u->client = NULL;
    u->token = NULL;
}

static inline uint64_t rf_video(rf_user *creator, const char *title)
{
    Vs__V1__Video *v = NULL;
    vs_call_status st;
    uint64_t id;

    if (vs_video_create(creator->client, title, 3600, NULL, &v, &st) != VS_OK)
        fail_msg("CreateVideo: %s %s", vs_status_name(st.code), st.message);
    id = v->id;
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return id;
}

/* Marks day settled (state 4 COMPLETED) or not (state 2 RUNNING: a forced re-run in progress). */
static inline void rf_day_state(const char *day, int state)
{
    rf_sql("INSERT INTO batch_job (name, business_date, state, created_ms, finished_ms) VALUES "
           "('daily-settlement', '%s', %d, 0, %lld) ON DUPLICATE KEY UPDATE state = VALUES(state),"
           " attempt = attempt + 1, finished_ms = VALUES(finished_ms)",
           day, state, state == 4 ? (long long)ts_mono_ms() : 0LL);
}

/* One day of a video as the batch writes it: daily stats, lifetime counts and settlement (rate
 * card 1, the default card) from the lifetime counts at the end of the previous day. */
static inline void rf_video_day(uint64_t video, uint64_t creator, const char *day, int64_t views,
                                int64_t watch_s, int64_t ad_views, int64_t views_before,
                                int64_t ads_before)
{
    money_card vcard, acard;
    int64_t vwon, vexact, awon, aexact;

    money_card_default(MONEY_VIDEO, &vcard);
    money_card_default(MONEY_AD, &acard);
    assert_int_equal(money_amount(&vcard, views_before, views_before + views, &vwon, &vexact),
                     VS_OK);
    assert_int_equal(money_amount(&acard, ads_before, ads_before + ad_views, &awon, &aexact),
                     VS_OK);
    rf_sql("INSERT INTO video_daily_stats (video_id, day, creator_id, views, watch_s, ad_views) "
           "VALUES (%" PRIu64 ", '%s', %" PRIu64 ", %lld, %lld, %lld)",
           video, day, creator, (long long)views, (long long)watch_s, (long long)ad_views);
    rf_sql("INSERT INTO video_cumulative (video_id, day, views_lifetime, ad_views_lifetime) VALUES "
           "(%" PRIu64 ", '%s', %lld, %lld)",
           video, day, (long long)(views_before + views), (long long)(ads_before + ad_views));
    rf_sql("INSERT INTO settlement_daily (video_id, day, creator_id, rate_card_version, "
           "views_before, views_after, ad_views_before, ad_views_after, video_exact_milli, "
           "ad_exact_milli, video_won, ad_won, total_won) VALUES (%" PRIu64 ", '%s', %" PRIu64
           ", 1, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld)",
           video, day, creator, (long long)views_before, (long long)(views_before + views),
           (long long)ads_before, (long long)(ads_before + ad_views), (long long)vexact,
           (long long)aexact, (long long)vwon, (long long)awon, (long long)(vwon + awon));
    /* the batch writes a day's rows in the transaction that completes it, and vsd's read model
     * keys a day's rows by that completion: rows added to a completed day are a new completion */
    rf_sql("UPDATE batch_job SET attempt = attempt + 1, finished_ms = finished_ms + 1 WHERE name = "
           "'daily-settlement' AND business_date = '%s' AND state = 4",
           day);
}

/* video_top for one period as the batch ranks it: value descending, ties by video id, only
 * values > 0, over the period's settled days; all videos (creator 0) and per creator. */
static inline void rf_rank_period(int kind, const char *first, const char *last)
{
    static const char *const metric_col[] = {"", "views", "watch_s"};

    for (int metric = 1; metric <= 2; metric++) {
        for (int per_creator = 0; per_creator <= 1; per_creator++) {
            rf_sql("INSERT INTO video_top (period_kind, period_start, metric, creator_id, rank_no,"
                   " video_id, value) SELECT %d, '%s', %d, c, r, video_id, v FROM ("
                   " SELECT %s AS c, d.video_id, SUM(d.%s) AS v, ROW_NUMBER() OVER (PARTITION BY"
                   " %s ORDER BY SUM(d.%s) DESC, d.video_id) AS r FROM video_daily_stats d"
                   " JOIN batch_job j ON j.name = 'daily-settlement' AND j.business_date = d.day"
                   " AND j.state = 4 WHERE d.day BETWEEN '%s' AND '%s'"
                   " GROUP BY %s, d.video_id HAVING SUM(d.%s) > 0) ranked WHERE r <= 100",
                   kind, first, metric, per_creator ? "d.creator_id" : "0", metric_col[metric],
                   per_creator ? "d.creator_id" : "1", metric_col[metric], first, last,
                   per_creator ? "d.creator_id" : "1", metric_col[metric]);
        }
    }
}

/* Waits until the replica has applied everything the primary has committed so far. */
static inline void rf_replica_catch_up(void)
{
    char pos[512], err[256], sql[700];
    MYSQL *replica = ts_db_replica();
    int64_t r = -1;

    assert_int_equal(
        db_query_text(rf.db, "SELECT @@gtid_binlog_pos", pos, sizeof pos, err, sizeof err), VS_OK);
    snprintf(sql, sizeof sql, "SELECT MASTER_GTID_WAIT('%s', 30)", pos);
    assert_int_equal(db_query_int(replica, sql, &r, err, sizeof err), VS_OK);
    assert_int_equal(r, 0);
    mysql_close(replica);
}

/* Waits (at most 10 s) until GetVideoStats of video on day through c reports the day settled: vsd
 * learns settled days from a snapshot it refreshes every VS_REPLICA_CHECK_MS, so a day settled a
 * moment ago may read as not settled for that long. */
static inline void rf_wait_settled_on(vs_client *c, uint64_t video, const char *day)
{
    Vs__V1__VideoStats *s = NULL;
    vs_call_status st;
    int settled = 0;

    for (int i = 0; i < 200 && !settled; i++) {
        if (vs_video_stats(c, video, VS__V1__PERIOD__DAY, day, &s, &st) != VS_OK)
            fail_msg("GetVideoStats: %s %s", vs_status_name(st.code), st.message);
        settled = s->complete;
        protobuf_c_message_free_unpacked(&s->base, NULL);
        if (!settled)
            usleep(50 * 1000);
    }
    if (!settled)
        fail_msg("day %s of video %" PRIu64 " never read as settled", day, video);
}

static inline void rf_wait_settled(rf_user *u, uint64_t video, const char *day)
{
    rf_wait_settled_on(u->client, video, day);
}

/* A shallow Health of url: reads_on_primary and replica_fallbacks. */
static inline void rf_health(const char *url, int *on_primary, uint64_t *fallbacks)
{
    Vs__V1__HealthRequest req = VS__V1__HEALTH_REQUEST__INIT;
    Vs__V1__HealthResponse *resp = NULL;
    vs_client *c = ts_client(url, 10000);
    vs_call_status st;

    req.shallow = 1;
    if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "Health", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        fail_msg("Health: %s %s", vs_status_name(st.code), st.message);
    *on_primary = resp->reads_on_primary;
    *fallbacks = resp->replica_fallbacks;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    vs_client_close(c);
}

/* Polls url's Health until reads_on_primary == want (at most 30 s). */
static inline void rf_wait_reads_on_primary(const char *url, int want)
{
    uint64_t fallbacks;
    int on_primary = !want;

    for (int i = 0; i < 600 && on_primary != want; i++) {
        rf_health(url, &on_primary, &fallbacks);
        if (on_primary != want)
            usleep(50 * 1000);
    }
    assert_int_equal(on_primary, want);
}

static inline void rf_free(void *message)
{
    if (message != NULL)
        protobuf_c_message_free_unpacked(message, NULL);
}

/* A private XDG_CONFIG_HOME (VS_TEST_HOME/<label>-<pid>, into dir) holding u's token the way
 * `vsctl user login` keeps it, for tests that run the vsctl binary as u. */
static inline void rf_save_token(const rf_user *u, char *dir, size_t len, const char *label)
{
    char path[700];
    FILE *f;

    snprintf(dir, len, "%s/%s-%d", getenv("VS_TEST_HOME"), label, (int)getpid());
    assert_int_equal(ts_sh("mkdir -p '%s/vs' && chmod 700 '%s' '%s/vs'", dir, dir, dir), 0);
    snprintf(path, sizeof path, "%s/vs/token", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(u->token, f);
    fclose(f);
    chmod(path, 0600);
}

/* Whether one line of text contains every string of the NULL-terminated list. */
static inline int rf_line_has(const char *text, const char *first, ...)
{
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        int all = 1;
        va_list ap;

        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        va_start(ap, first);
        for (const char *s = first; s != NULL && all; s = va_arg(ap, const char *))
            all = strstr(buf, s) != NULL;
        va_end(ap);
        if (all)
            return 1;
        line += len + (end != NULL);
    }
    return 0;
}

#endif
