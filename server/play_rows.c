/* play_rows.c — the pairs that may have a watch_position row, so a commit lane can take the first
 * Play of a pair it has never seen without reading the row (play_known.c).
 *
 * At start a background thread reads every (viewer_id, video_id) of watch_position into a
 * pair_filter (in key order, a chunk a query); the lanes add each pair they write. Until the load
 * has finished, every pair "may" have a row. A pair the filter has never seen has no row unless
 * another process (a second vsd, a hand edit) wrote it behind the load — and that is what the
 * guarded write catches: it writes such a pair only where no row
 * exists (play_store_write), else the round is rerun with the read. So the filter decides how
 * often a lane reads, never what it decides. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "pair_filter.h"
#include "streaming.h"

#define ROWS_MIN_PAIRS ((uint64_t)1 << 20)
#define ROWS_RETRY_S 5
#define ROWS_CHUNK 50000

static pair_filter *rows_filter;
static int rows_ready; /* atomic: 1 once the load finished (release: its adds are visible) */
static int rows_stop;  /* atomic */
static int64_t rows_loaded;
static pthread_t rows_thread;
static int rows_thread_started;

/* Sleeps up to s seconds, returning early (0) when asked to stop. */
static int rows_pause(int s)
{
    for (int i = 0; i < s * 10; i++) {
        if (__atomic_load_n(&rows_stop, __ATOMIC_ACQUIRE))
            return 0;
        usleep(100 * 1000);
    }
    return !__atomic_load_n(&rows_stop, __ATOMIC_ACQUIRE);
}

/* One load: every pair of watch_position into the filter, in primary-key order, ROWS_CHUNK
 * pairs a query (so a stop waits for one chunk at most, and no long snapshot holds back purge on
 * the primary). A row inserted behind the scan by another process is missed: the lanes' guarded
 * write catches it (see the top). */
static vs_status rows_load(MYSQL *db, int64_t *n, char *err, size_t errlen)
{
    uint64_t after_viewer = 0, after_video = 0;

    /* (viewer_id, video_id) > (a, b) spelled out: MariaDB scans the whole index for a row
     * comparison, but makes this a range of the primary key */
    *n = 0;
    for (;;) {
        char sql[256];
        MYSQL_RES *res;
        MYSQL_ROW row;
        my_ulonglong got;

        if (__atomic_load_n(&rows_stop, __ATOMIC_ACQUIRE))
            return VS_OK;
        snprintf(sql, sizeof sql,
                 "SELECT viewer_id, video_id FROM watch_position WHERE viewer_id > %" PRIu64
                 " OR (viewer_id = %" PRIu64 " AND video_id > %" PRIu64
                 ") ORDER BY viewer_id, video_id LIMIT %d",
                 after_viewer, after_viewer, after_video, ROWS_CHUNK);
        if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
            snprintf(err, errlen, "%s", mysql_error(db));
            return VS_UNAVAILABLE;
        }
        got = mysql_num_rows(res);
        while ((row = mysql_fetch_row(res)) != NULL) {
            after_viewer = strtoull(row[0], NULL, 10);
            after_video = strtoull(row[1], NULL, 10);
            pair_filter_add(rows_filter, after_viewer, after_video);
        }
        mysql_free_result(res);
        *n += (int64_t)got;
        if (got < ROWS_CHUNK)
            return VS_OK;
    }
}

static void *rows_main(void *arg)
{
    char err[256];

    (void)arg;
    pthread_setname_np(pthread_self(), "vs-rows");
    for (int attempt = 0;; attempt++) {
        MYSQL *db = NULL;
        int64_t t0 = clock_mono_us(), n = 0;
        vs_status rc =
            db_connect_io(vsd_cfg.db_primary, 5, vsd_cfg.db_io_timeout_s, &db, err, sizeof err);

        if (rc == VS_OK)
            rc = rows_load(db, &n, err, sizeof err);
        if (db != NULL)
            mysql_close(db);
        if (__atomic_load_n(&rows_stop, __ATOMIC_ACQUIRE))
            break;
        if (rc == VS_OK) {
            rows_loaded = n;
            __atomic_store_n(&rows_ready, 1, __ATOMIC_RELEASE);
            log_info("play rows: %lld watch_position pairs loaded in %.1f s (%zu KiB filter): "
                     "first Plays of other pairs need no read",
                     (long long)n, (double)(clock_mono_us() - t0) / 1e6,
                     pair_filter_bytes(rows_filter) / 1024);
            break;
        }
        /* pairs added before the failure stay: adding is never wrong, only a "no" must be sure */
        log_warn("play rows: cannot load watch_position pairs (%s); first Plays read their row "
                 "until a retry in %d s succeeds",
                 err, ROWS_RETRY_S);
        if (!rows_pause(ROWS_RETRY_S))
            break;
    }
    return NULL;
}

vs_status play_rows_start(int enabled, char *err, size_t errlen)
{
    MYSQL *db = NULL;
    int64_t estimate = 0;
    char ignored[256];

    if (!enabled)
        return VS_OK;
    /* InnoDB's estimate of the rows: room for twice as many (the load counts exactly) */
    if (db_connect_io(vsd_cfg.db_primary, 2, vsd_cfg.db_io_timeout_s, &db, ignored,
                      sizeof ignored) == VS_OK) {
        if (db_query_int(db,
                         "SELECT COALESCE(MAX(TABLE_ROWS), 0) FROM information_schema.TABLES "
                         "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'watch_position'",
                         &estimate, ignored, sizeof ignored) != VS_OK)
            estimate = 0;
        mysql_close(db);
    }
    rows_filter = pair_filter_new(estimate * 2 > (int64_t)ROWS_MIN_PAIRS ? (uint64_t)estimate * 2
                                                                         : ROWS_MIN_PAIRS);
    if (rows_filter == NULL) {
        snprintf(err, errlen, "out of memory for the play rows filter");
        return VS_RESOURCE_EXHAUSTED;
    }
    __atomic_store_n(&rows_stop, 0, __ATOMIC_RELEASE);
    if (pthread_create(&rows_thread, NULL, rows_main, NULL) != 0) {
        snprintf(err, errlen, "cannot start the play rows thread");
        return VS_RESOURCE_EXHAUSTED;
    }
    rows_thread_started = 1;
    return VS_OK;
}

void play_rows_stop(void)
{
    if (rows_thread_started) {
        __atomic_store_n(&rows_stop, 1, __ATOMIC_RELEASE);
        pthread_join(rows_thread, NULL);
        rows_thread_started = 0;
    }
    __atomic_store_n(&rows_ready, 0, __ATOMIC_RELEASE);
    pair_filter_free(rows_filter);
    rows_filter = NULL;
}

int play_rows_may_exist(uint64_t viewer_id, uint64_t video_id)
{
    if (rows_filter == NULL || !__atomic_load_n(&rows_ready, __ATOMIC_ACQUIRE))
        return 1;
    return pair_filter_maybe(rows_filter, viewer_id, video_id);
}

void play_rows_add(uint64_t viewer_id, uint64_t video_id)
{
    if (rows_filter != NULL)
        pair_filter_add(rows_filter, viewer_id, video_id);
}

void play_rows_state(int *ready, int64_t *loaded)
{
    *ready = rows_filter != NULL && __atomic_load_n(&rows_ready, __ATOMIC_ACQUIRE);
    *loaded = *ready ? rows_loaded : 0;
}
