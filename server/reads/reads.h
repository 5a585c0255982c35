/* reads.h — the read path of StreamingService: statistics, top-N and settlement queries over the
 * batch's tables (docs/batch.md), served from the replica with a fallback to the primary.
 *
 * Routing (read_route.c). One monitor thread per vsd samples the primary's GTID position and the
 * replica's applied position every VS_REPLICA_CHECK_MS. The replica's lag is the age of the oldest
 * primary position it has not applied yet (0 when it has applied everything the monitor saw), so
 * an idle primary never makes a healthy replica look stale and a stopped SQL thread shows up as
 * soon as a write waits for it. Reads go to the replica while it answers and its lag is within
 * VS_REPLICA_MAX_LAG_MS; otherwise to the primary, and back to the replica as soon as it is within
 * the bound again — no restart. A primary that does not answer leaves the lag unmeasured and is no
 * reason to leave the replica: reads stay on a replica that answers, however far behind. RPC
 * threads only read an atomic; an RPC thread whose replica query fails retries the request on the
 * primary at once and flags the replica until the monitor's next successful check, and one whose
 * primary query fails while the replica only lagged retries it on the replica. Writes and
 * read-your-writes (login, resume position) never come here: they use vsd_db(w, VSD_PRIMARY).
 *
 * Settled days (settled_snapshot.c). Each monitor round also copies the daily-settlement rows of
 * batch_job from the server reads go to, so a request learns which days of its period are settled
 * without a query. Because that server is read again afterwards for the figures, and a server's
 * commits become visible in order, the figures are at least as new as the snapshot: a day the
 * snapshot calls settled always has its rows (a day's merge and its COMPLETED mark are one
 * transaction). When the snapshot is of the other server (routing just changed) the mask is
 * queried on the read server first, then the figures.
 *
 * Execution (read_exec.c). Each RPC thread keeps its prepared statements per connection (closed
 * when vsd_db_reset drops the connection) and a reusable row arena, so a request costs one round
 * trip and no allocation besides the reply. Global top-N lists of a period are cached process-wide
 * (read_cache.c) under the period's settlement signature, which changes whenever any of its days
 * completes, is re-opened or re-completed: a settled list is immutable until a forced re-run.
 * While a forced re-run has re-opened days of a period, video_top still ranks their old figures,
 * so its top lists are computed from the settled days' video_daily_stats instead (not cached). */
#ifndef VS_READS_H
#define VS_READS_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "users/auth.h"
#include "money.h"
#include "period.h"
#include "rpc_server.h"
#include "status.h"
#include "vsd.h"

/* ---- read_route.c ---- */

/* Reads the routing configuration and starts the monitor (first check done before returning):
 *   VS_READ_ROUTING        replica (default) | primary — primary sends every read there (for
 *                          benchmark comparisons); no fallback is counted then
 *   VS_REPLICA_MAX_LAG_MS  lag bound, default 1000, 0..3600000
 *   VS_REPLICA_CHECK_MS    sampling interval, default 100, 10..60000
 * VS_INVALID_ARGUMENT (err names the key) on bad values. */
vs_status read_route_start(char *err, size_t errlen);

/* Stops the monitor; call after the RPC threads have stopped. */
void read_route_stop(void);

/* Where a read should go right now; *fallback (may be NULL) is set when that is the primary in
 * place of an unusable replica (not when routing is configured to the primary). */
vsd_db_role read_route_role(int *fallback);

/* An RPC thread's replica query failed (connection error): route to the primary until the monitor
 * next reaches the replica. */
void read_route_replica_failed(void);

/* 1 when a separate replica is configured, the monitor's last check reached it and no RPC thread
 * has seen it fail since: a read the primary could not answer may be retried there. */
int read_route_replica_answers(void);

/* Counts one read answered by the primary in place of the replica. */
void read_route_count_fallback(void);

typedef struct read_route_state {
    int reads_on_primary; /* reads currently go to the primary */
    uint64_t fallbacks;   /* reads answered by the primary because the replica was unusable */
    int replica_separate; /* a replica is configured and routing may use it */
    int replica_up;       /* the monitor's last check reached the replica */
    int64_t lag_ms;       /* its lag then; -1 when not measured (replica or primary unreachable) */
    char detail[256];     /* routing and lag, for Health */
} read_route_state;

void read_route_snapshot(read_route_state *out);

/* Which days of a period are settled, as the server that answered sees them. */
typedef struct read_settled {
    uint64_t mask;      /* bit i: day first + i has a completed settlement job */
    uint64_t reopened;  /* bit i: a forced re-run has re-opened day first + i and not completed it
                           again, so the day's rows (and video_top) still hold its old figures */
    uint64_t signature; /* changes whenever any day of the period completes, re-opens or
                           re-completes; 0 when not from_snapshot */
    int from_snapshot;
    /* when from_snapshot: for each settled day i, its completion's identity
     * (settled_snapshot_version) */
    uint64_t day_version[PERIOD_MAX_DAYS];
} read_settled;

/* ---- settled_snapshot.c ---- */

/* Replaces the snapshot with batch_job's daily-settlement rows read on db (role's server); db
 * NULL (or a failed read) drops it. Monitor thread only. */
void settled_snapshot_refresh(MYSQL *db, vsd_db_role role);

/* r's settled days from the snapshot; 0 when there is no snapshot of role's server. */
int settled_snapshot_lookup(vsd_db_role role, const period_range *r, read_settled *out);

/* Frees the snapshot (shutdown). */
void settled_snapshot_fini(void);

/* The identity of one completion of a day's job: changes with every (re-)completion (a forced
 * re-run bumps attempt and finished_ms). The same on every server, as both come from batch_job. */
uint64_t settled_snapshot_version(uint64_t attempt, uint64_t finished_ms);

typedef struct settled_snapshot_day {
    business_date day;
    uint64_t version;
} settled_snapshot_day;

/* A copy of the snapshot's settled days, in date order (caller frees *days), and the server it is
 * of; 0 (nothing allocated) when there is no snapshot. */
int settled_snapshot_days(vsd_db_role *role, settled_snapshot_day **days, size_t *n);

/* ---- read_exec.c ---- */

/* The prepared statements of the read path (the SQL is in read_exec.c). */
typedef enum read_query {
    READ_Q_VIDEO_STATS,
    READ_Q_TOP,
    READ_Q_SETTLE_VIDEO,
    READ_Q_SETTLE_CREATOR,
    READ_Q_USER_ROLE,
    READ_Q_SETTLED_MASK,
    READ_Q_TOP_SETTLED,
    READ_Q_COUNT
} read_query;

#define READ_MAX_COLS 14

/* One result row: integer columns (NULL reads as 0) and, for queries that have one, the text
 * column (the last), NUL-terminated in the thread's arena. */
typedef struct read_row {
    int64_t v[READ_MAX_COLS];
    const char *text;
} read_row;

/* A parameter: an integer or a business date. */
typedef struct read_param {
    int is_date;
    int64_t i64;
    business_date date;
} read_param;

#define READ_INT(x) ((read_param){.is_date = 0, .i64 = (int64_t)(x)})
#define READ_DATE(d) ((read_param){.is_date = 1, .date = (d)})

typedef struct read_result {
    read_row *rows; /* in the thread's arena: valid until the thread's next read_run */
    size_t n_rows;
    vsd_db_role served_by;
} read_result;

/* Runs query q with params on the routed server and collects every row; with r, *settled gets
 * r's settled days as that server sees them (read before the figures, see above). A replica that
 * fails (connection error or timeout) is flagged and everything is re-read on the primary; a
 * stale connection is reopened once. Errors: VS_UNAVAILABLE when no server can answer,
 * VS_RESOURCE_EXHAUSTED past READ_MAX_ROWS rows, VS_INTERNAL for SQL errors; err says why. */
vs_status read_run(vsd_thread *w, const period_range *r, read_query q, const read_param *params,
                   int n_params, read_result *out, read_settled *settled, char *err, size_t errlen);

/* read_run on role's server, without routing or fallback: the read-your-writes double check of
 * a miss (a video created a moment ago may not have reached the replica yet). */
vs_status read_run_on(vsd_thread *w, vsd_db_role role, const period_range *r, read_query q,
                      const read_param *params, int n_params, read_result *out,
                      read_settled *settled, char *err, size_t errlen);

#define READ_MAX_ROWS 400000

/* Frees the thread's read state (thread shutdown). */
void read_exec_thread_fini(vsd_thread *w);

/* Authenticates the call and decides whether the caller may see every creator's data. An admin
 * token is re-checked against users.role (cached process-wide for a second), so a demoted admin
 * loses access within a second plus the replica lag instead of at token expiry; a token issued
 * before a promotion stays non-admin until the next login. On failure the call is already
 * marked failed. */
vs_status read_caller(rpc_call *call, auth_principal *who, int *is_admin);

/* The rate card `version` of kind, cached process-wide (versions are immutable once written).
 * *out is valid until the thread's next read_card call. */
vs_status read_card(vsd_thread *w, uint32_t version, money_kind kind, const money_card **out,
                    char *err, size_t errlen);

/* ---- read_cache.c: global top-N lists ---- */

typedef struct read_top_entry {
    uint32_t rank;
    uint64_t video_id;
    uint64_t creator_id;
    int64_t value;
    const char *title;
} read_top_entry;

/* An immutable cached list; hold it with read_top_get, drop it with read_top_put. */
typedef struct read_top_list read_top_list;

/* The cached list of (period kind, start, metric) under signature s (mask and signature of the
 * period from the snapshot), or NULL. The entries stay valid until read_top_put. */
read_top_list *read_top_get(int kind, business_date start, int metric, const read_settled *s,
                            const read_top_entry **entries, size_t *n);
void read_top_put(read_top_list *list);

/* Caches a copy of entries[0..n) (the whole list, up to 100) under s. */
void read_top_store(int kind, business_date start, int metric, const read_settled *s,
                    const read_top_entry *entries, size_t n);

/* Frees every cached list (shutdown). */
void read_cache_fini(void);

/* The thread's row arena for results made without a query (read_model.c): reset, push rows (the
 * text is copied; NULL when out of memory), then make the result (valid like read_run's). */
void read_arena_reset(vsd_thread *w);
read_row *read_arena_push(vsd_thread *w, const char *text);
void read_arena_result(vsd_thread *w, vsd_db_role role, read_result *out);

/* The process-wide rate-card cache that read_card fills: the cached card of version and kind, or
 * NULL. Cards are immutable and stay cached until exit, so the pointer never dangles. */
const money_card *read_card_find(uint32_t version, money_kind kind);

/* Adds a checked card pair ([0] video, [1] ad, same version) to that cache (no-op when present
 * or full). */
void read_card_publish(const money_card pair[2]);

/* ---- read_model.c: the settled days in memory ----
 *
 * A loader thread keeps, for every day the settled-days snapshot calls settled, that day's
 * video_daily_stats and settlement_daily rows in memory (compact arrays by dense video index),
 * plus the videos' creator and title, read in one consistent transaction from the server reads
 * go to and tagged with the day's completion identity (settled_snapshot_version). A request is
 * answered from memory only when every settled day of its period is loaded under the identity the
 * snapshot names for it, and its video (or creator) is known; otherwise by SQL as before. Requests
 * hold an immutable, reference-counted model snapshot for the lookup only (a mutex guards the
 * pointer swap), so lookups never wait for the loader or for I/O. VS_READ_MODEL=on (default) | off.
 */

/* Reads VS_READ_MODEL and starts the loader (it loads in the background). Call after
 * read_route_start. VS_INVALID_ARGUMENT on a bad value. */
vs_status read_model_start(char *err, size_t errlen);

/* Stops the loader and frees the model; call after the RPC threads stopped, before
 * read_route_stop. */
void read_model_stop(void);

/* Answers query q (READ_Q_VIDEO_STATS, READ_Q_SETTLE_VIDEO or READ_Q_SETTLE_CREATOR) for subject
 * id over r from memory: returns 1 with the rows read_run would give for the settled days (rows
 * of unsettled days left out; the exact milli-won columns filled only when breakdown) in the
 * thread's arena and *settled from the snapshot, or 0 when the SQL path must answer. Never does
 * I/O. */
int read_model_run(vsd_thread *w, const period_range *r, read_query q, uint64_t id, int breakdown,
                   read_result *out, read_settled *settled);

typedef struct read_model_state {
    int enabled;
    size_t days, videos, rows;
    size_t bytes;
    uint64_t hits, misses; /* requests answered from memory / by SQL while enabled */
} read_model_state;

void read_model_snapshot(read_model_state *out);

/* Fails the call with rc and err (the helper every handler uses for read_run errors). */
void read_fail(rpc_call *call, vs_status rc, const char *what, const char *err);

#endif
