/* reads.h — the read path of StreamingService: statistics, top-N and settlement queries over the
 * batch's tables (docs/batch.md), served from the replica with a fallback to the primary.
 *
 * Routing (read_route.c). One monitor thread per vsd samples the primary's GTID position and the
 * replica's applied position every VS_REPLICA_CHECK_MS. The replica's lag is the age of the oldest
 * primary position it has not applied yet (0 when it has applied everything the monitor saw), so
 * an idle primary never makes a healthy replica look stale and a stopped SQL thread shows up as
 * soon as a write waits for it. Reads go to the replica while it answers and its lag is within
 * VS_REPLICA_MAX_LAG_MS; otherwise to the primary, and back to the replica as soon as it is within
 * the bound again — no restart. Workers only read an atomic; a worker whose replica query fails
 * retries the request on the primary at once and flags the replica until the monitor's next
 * successful check. Writes and read-your-writes (login, resume position) never come here: they
 * use vsd_db(w, VSD_PRIMARY).
 *
 * Execution (read_exec.c). Each worker keeps its prepared statements per connection (closed when
 * vsd_db_reset drops the connection) and a reusable row arena, so a request costs one round trip
 * and no allocation besides the reply. */
#ifndef VS_READS_H
#define VS_READS_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
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

/* Stops the monitor; call after the rpc workers have stopped. */
void read_route_stop(void);

/* Where a read should go right now; *fallback (may be NULL) is set when that is the primary in
 * place of an unusable replica (not when routing is configured to the primary). */
vsd_db_role read_route_role(int *fallback);

/* A worker's replica query failed (connection error): route to the primary until the monitor
 * next reaches the replica. */
void read_route_replica_failed(void);

/* Counts one read answered by the primary in place of the replica. */
void read_route_count_fallback(void);

typedef struct read_route_state {
    int reads_on_primary; /* reads currently go to the primary */
    uint64_t fallbacks;   /* reads answered by the primary because the replica was unusable */
    char detail[200];     /* routing and lag, for Health */
} read_route_state;

void read_route_snapshot(read_route_state *out);

/* Opens a connection like db_connect, plus read/write timeouts (seconds), so a hung server fails
 * a query instead of blocking its worker forever. */
vs_status read_route_connect(const char *url, int connect_timeout_s, int io_timeout_s, MYSQL **out,
                             char *err, size_t errlen);

/* ---- read_exec.c ---- */

/* The prepared statements of the read path (the SQL is in read_exec.c). */
typedef enum read_query {
    READ_Q_VIDEO_STATS,
    READ_Q_TOP,
    READ_Q_SETTLE_VIDEO,
    READ_Q_SETTLE_CREATOR,
    READ_Q_USER_ROLE,
    READ_Q_COUNT
} read_query;

#define READ_MAX_COLS 14

/* One result row: integer columns (NULL reads as 0) and, for queries that have one, the text
 * column (the last), NUL-terminated in the worker's arena. */
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
    read_row *rows; /* in the worker's arena: valid until the worker's next read_run */
    size_t n_rows;
    vsd_db_role served_by;
} read_result;

/* Runs query q with params on the routed connection and collects every row. A replica that
 * fails the query (connection error or timeout) is flagged and the query is re-run on the
 * primary; a stale primary connection is reopened once. Errors: VS_UNAVAILABLE when no server
 * can answer, VS_RESOURCE_EXHAUSTED past READ_MAX_ROWS rows, VS_INTERNAL for SQL errors; err
 * says why. */
vs_status read_run(vsd_worker *w, read_query q, const read_param *params, int n_params,
                   read_result *out, char *err, size_t errlen);

/* read_run on a given connection, without routing or fallback: the read-your-writes double check
 * of a miss (a video created a moment ago may not have reached the replica yet). */
vs_status read_run_on(vsd_worker *w, vsd_db_role role, read_query q, const read_param *params,
                      int n_params, read_result *out, char *err, size_t errlen);

#define READ_MAX_ROWS 400000

/* Drops the worker's statements on the role's connection (before vsd_db_reset closes it). */
void read_exec_conn_dropped(vsd_worker *w, vsd_db_role role);

/* Frees the worker's read state (worker shutdown). */
void read_exec_worker_fini(vsd_worker *w);

/* Authenticates the call and decides whether the caller may see every creator's data. An admin
 * token is re-checked against users.role (cached per worker for a second), so a demoted admin
 * loses access within a second plus the replica lag instead of at token expiry; a token issued
 * before a promotion stays non-admin until the next login. On failure the call is already
 * marked failed. */
vs_status read_caller(rpc_call *call, auth_principal *who, int *is_admin);

/* The rate card `version` of kind, cached per worker (versions are immutable once written).
 * *out is valid until the worker's next read_card call. */
vs_status read_card(vsd_worker *w, uint32_t version, money_kind kind, const money_card **out,
                    char *err, size_t errlen);

/* Fails the call with rc and err (the helper every handler uses for read_run errors). */
void read_fail(rpc_call *call, vs_status rc, const char *what, const char *err);

#endif
