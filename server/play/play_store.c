/* play_store.c — the SQL of a group-commit round (play_commit.c): which event ids are replays,
 * the watch_position rows of the round's pairs, and the write + commit of the round's rows.
 * An event id is its viewer's key: every lookup of one is by (event id, viewer).
 * Two round trips per round (multi-statements); event ids travel as hex literals and every other
 * value is a number or a date formatted here, so no caller text is ever spliced into SQL. */
#include <errmsg.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "play_lane.h"
#include "vsd.h"

#define STORE_SQL_MAX (8u << 20) /* under max_allowed_packet (16 MiB) */

static void sqlbuf_reset(sqlbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static void sqlbuf_printf(sqlbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sqlbuf_printf(sqlbuf *b, const char *fmt, ...)
{
    va_list ap;
    int need;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        need = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (need < 0) {
            b->failed = 1;
            return;
        }
        if (b->data != NULL && b->len + (size_t)need < b->cap) {
            b->len += (size_t)need;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + (size_t)need + 1)
            cap *= 2;
        char *grown = cap <= STORE_SQL_MAX ? realloc(b->data, cap) : NULL;
        if (grown == NULL) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
}

/* Appends X'<hex of the event id>' (binary-safe, no quoting questions). */
static void sqlbuf_event_id(sqlbuf *b, const char *event_id)
{
    char hex[2 * PLAYBACK_EVENT_ID_MAX + 1];

    mysql_hex_string(hex, event_id, (unsigned long)strlen(event_id));
    sqlbuf_printf(b, "X'%s'", hex);
}

/* Records a failed statement of the round, sent at t0_us, in err and in lane->round.db_why; the
 * connection is dropped when unusable (lost, or the statement outlived the I/O timeout: the
 * server may still be running it, so the connection cannot be trusted with the next round). */
static vs_status store_db_error(commit_lane *lane, const char *what, int64_t t0_us, char *err,
                                size_t errlen)
{
    unsigned no = mysql_errno(lane->db);
    vs_status rc = db_status_from_errno(no);
    int64_t timeout_us = (int64_t)vsd_cfg.db_io_timeout_s * 1000000;

    if (db_conn_lost(no) && clock_mono_us() - t0_us >= timeout_us - timeout_us / 10) {
        lane->round.db_timed_out = 1;
        lane->round.db_why = "the database did not answer in time";
        lane->abandoned_thread = mysql_thread_id(lane->db);
        snprintf(err, errlen, "play log %s: no answer within %d s (VS_DB_IO_TIMEOUT_S): %s", what,
                 vsd_cfg.db_io_timeout_s, mysql_error(lane->db));
    } else {
        lane->round.db_why = rc == VS_RESOURCE_EXHAUSTED ? "the database is out of space or memory"
                             : rc == VS_UNAVAILABLE      ? "the database is unreachable"
                                                         : "the database failed";
        snprintf(err, errlen, "play log %s: %s", what, mysql_error(lane->db));
    }
    if (rc == VS_UNAVAILABLE || no == CR_COMMANDS_OUT_OF_SYNC) {
        mysql_close(lane->db);
        lane->db = NULL;
    } else {
        mysql_query(lane->db, "ROLLBACK");
    }
    return rc;
}

/* Runs lane->sql, n statements separated by ';', in one round trip; res[k] receives the k-th
 * statement's result set (NULL when it has none; the caller frees them). On failure every result
 * is released, the transaction rolled back, and the error's status returned. */
static vs_status store_run(commit_lane *lane, const char *what, int n, MYSQL_RES **res, char *err,
                           size_t errlen)
{
    int k = 0, more;
    int64_t t0;

    for (int i = 0; i < n; i++)
        res[i] = NULL;
    if (lane->sql.failed) {
        snprintf(err, errlen, "play log %s: statement too large", what);
        mysql_query(lane->db, "ROLLBACK");
        return VS_RESOURCE_EXHAUSTED;
    }
    t0 = clock_mono_us();
    if (mysql_real_query(lane->db, lane->sql.data, (unsigned long)lane->sql.len) != 0)
        return store_db_error(lane, what, t0, err, errlen);
    do {
        MYSQL_RES *r = mysql_store_result(lane->db);

        if (r == NULL && mysql_field_count(lane->db) != 0)
            goto fail;
        if (k < n)
            res[k++] = r;
        else
            mysql_free_result(r);
    } while ((more = mysql_next_result(lane->db)) == 0);
    if (more > 0)
        goto fail;
    return VS_OK;
fail:
    for (int i = 0; i < n; i++) {
        mysql_free_result(res[i]);
        res[i] = NULL;
    }
    return store_db_error(lane, what, t0, err, errlen);
}

play_event *play_lane_find(commit_lane *lane, uint64_t viewer_id, const char *event_id, size_t len)
{
    for (size_t i = 0; i < lane->round.n; i++)
        if (lane->round.batch[i]->viewer_id == viewer_id &&
            strlen(lane->round.batch[i]->event_id) == len &&
            memcmp(lane->round.batch[i]->event_id, event_id, len) == 0)
            return lane->round.batch[i];
    return NULL;
}

/* Step 1 (SQL): the rows of the batch's (event id, viewer) keys that are already in play_log.
 * Equalities on both columns of the unique key play_log_event: one index range lookup per key. */
static void store_sql_replays(commit_lane *lane)
{
    sqlbuf_printf(&lane->sql,
                  "SELECT event_id, kind, video_id, viewer_id, day, position_s, credited_from_s, "
                  "credited_to_s, watch_s, ad_views, view_counted, reason FROM play_log WHERE ");
    for (size_t i = 0; i < lane->round.n; i++) {
        sqlbuf_printf(&lane->sql, "%s(event_id=", i > 0 ? " OR " : "");
        sqlbuf_event_id(&lane->sql, lane->round.batch[i]->event_id);
        sqlbuf_printf(&lane->sql, " AND viewer_id=%" PRIu64 ")", lane->round.batch[i]->viewer_id);
    }
}

/* Step 1: events whose (event id, viewer) is already in play_log take the stored outcome, or
 * ALREADY_EXISTS when the stored row is not this request (kind, video, and a Pause's position).
 * Another viewer's row with the same id is not this viewer's business: it is never matched. */
static void store_read_replays(commit_lane *lane, MYSQL_RES *res)
{
    MYSQL_ROW row;

    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        play_event *ev = play_lane_find(lane, strtoull(row[3], NULL, 10), row[0], len[0]);
        size_t i;

        if (ev == NULL)
            continue;
        for (i = 0; lane->round.batch[i] != ev; i++)
            ;
        lane->round.store[i] = 0;
        if ((int)strtol(row[1], NULL, 10) != (int)ev->kind ||
            strtoull(row[2], NULL, 10) != ev->video_id ||
            (ev->kind == PLAY_KIND_PAUSE && strtol(row[5], NULL, 10) != ev->position_s)) {
            ev->status = VS_ALREADY_EXISTS;
            snprintf(ev->message, sizeof ev->message,
                     "event_id: already used for a different request");
            continue;
        }
        ev->replayed = 1;
        if (window_parse(row[4], &ev->day) != VS_OK)
            ev->day = window_day_of(ev->received_ms);
        ev->resume_s = ev->kind == PLAY_KIND_PLAY ? (int32_t)strtol(row[5], NULL, 10) : 0;
        ev->credit.from_s = (int32_t)strtol(row[6], NULL, 10);
        ev->credit.to_s = (int32_t)strtol(row[7], NULL, 10);
        ev->credit.watch_s = (int32_t)strtol(row[8], NULL, 10);
        ev->ad_views = (int32_t)strtol(row[9], NULL, 10);
        ev->view_counted = (int)strtol(row[10], NULL, 10);
        ev->reason = (playback_reason)strtol(row[11], NULL, 10);
    }
}

play_pair *play_lane_pair(commit_lane *lane, uint64_t viewer_id, uint64_t video_id)
{
    for (size_t i = 0; i < lane->round.n_pairs; i++)
        if (lane->round.pairs[i].viewer_id == viewer_id &&
            lane->round.pairs[i].video_id == video_id)
            return &lane->round.pairs[i];
    return NULL;
}

/* Step 2 (SQL): the watch_position rows of every pair in the batch, locked until commit. */
static void store_sql_pairs(commit_lane *lane)
{
    lane->round.n_pairs = 0;
    sqlbuf_printf(&lane->sql, "SELECT viewer_id, video_id, position_s, play_from_s, "
                              "play_started_ms, row_version FROM watch_position WHERE ");
    for (size_t i = 0; i < lane->round.n; i++) {
        play_event *ev = lane->round.batch[i];
        play_pair *p;

        if (play_lane_pair(lane, ev->viewer_id, ev->video_id) != NULL)
            continue;
        p = &lane->round.pairs[lane->round.n_pairs];
        memset(p, 0, sizeof *p);
        p->viewer_id = ev->viewer_id;
        p->video_id = ev->video_id;
        sqlbuf_printf(&lane->sql, "%s(viewer_id=%" PRIu64 " AND video_id=%" PRIu64 ")",
                      lane->round.n_pairs ? " OR " : "", p->viewer_id, p->video_id);
        lane->round.n_pairs++;
    }
    sqlbuf_printf(&lane->sql, " FOR UPDATE");
}

static void store_read_pairs(commit_lane *lane, MYSQL_RES *res)
{
    MYSQL_ROW row;

    while ((row = mysql_fetch_row(res)) != NULL) {
        play_pair *p = play_lane_pair(lane, strtoull(row[0], NULL, 10), strtoull(row[1], NULL, 10));

        if (p == NULL)
            continue;
        p->has_row = 1;
        p->position_s = (int32_t)strtol(row[2], NULL, 10);
        p->play_from_s = (int32_t)strtol(row[3], NULL, 10);
        p->open = row[4] != NULL;
        p->play_started_ms = row[4] ? strtoll(row[4], NULL, 10) : 0;
        p->version = strtoull(row[5], NULL, 10);
    }
}

/* Step 5: the rows, the positions and the commit, in one round trip. */
vs_status play_store_write(commit_lane *lane, char *err, size_t errlen)
{
    MYSQL_RES *res[3];
    char day[11];
    int rows = 0, pairs = 0;
    int64_t now_ms = clock_now_ms();

    sqlbuf_reset(&lane->sql);
    if (lane->round.from_known)
        sqlbuf_printf(&lane->sql, "START TRANSACTION;");
    sqlbuf_printf(&lane->sql,
                  "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
                  " position_s, credited_from_s, credited_to_s, watch_s, ad_views, view_counted,"
                  " reason) VALUES ");
    for (size_t i = 0; i < lane->round.n; i++) {
        play_event *ev = lane->round.batch[i];
        int play = ev->kind == PLAY_KIND_PLAY;

        if (!lane->round.store[i])
            continue;
        window_format(ev->day, day);
        sqlbuf_printf(&lane->sql, "%s(", rows++ ? "," : "");
        sqlbuf_event_id(&lane->sql, ev->event_id);
        sqlbuf_printf(
            &lane->sql, ",%d,%" PRIu64 ",%" PRIu64 ",'%s',%" PRId64 ",%d,%d,%d,%d,%d,%d,%d)",
            (int)ev->kind, ev->video_id, ev->viewer_id, day, ev->received_ms,
            play ? ev->resume_s : ev->position_s, play ? 0 : ev->credit.from_s,
            play ? 0 : ev->credit.to_s, play ? 0 : ev->credit.watch_s, play ? 0 : ev->ad_views,
            play ? ev->view_counted : 0, play ? (int)ev->reason : 0);
    }
    /* The positions. A read round locked its rows and stores the round's version. A known-rows
     * round sends each row's known version instead and writes a row only while it still has
     * that version: else position_s gets NULL, which STRICT_TRANS_TABLES refuses, ending the
     * statements before COMMIT (the round is rerun with the read). */
    sqlbuf_printf(&lane->sql, ";INSERT INTO watch_position (viewer_id, video_id, position_s, "
                              "play_from_s, play_started_ms, updated_at_ms, row_version) VALUES ");
    for (size_t i = 0; i < lane->round.n_pairs; i++) {
        play_pair *p = &lane->round.pairs[i];
        char started[24] = "NULL";

        if (!p->dirty)
            continue;
        if (p->open)
            snprintf(started, sizeof started, "%" PRId64, p->play_started_ms);
        sqlbuf_printf(&lane->sql, "%s(%" PRIu64 ",%" PRIu64 ",%d,%d,%s,%" PRId64 ",%" PRIu64 ")",
                      pairs++ ? "," : "", p->viewer_id, p->video_id, (int)p->position_s,
                      (int)p->play_from_s, started, now_ms,
                      lane->round.from_known ? p->version : lane->round.version);
    }
    if (lane->round.from_known)
        sqlbuf_printf(&lane->sql, " ON DUPLICATE KEY UPDATE position_s=IF(row_version="
                                  "VALUES(row_version), VALUES(position_s), NULL), ");
    else
        sqlbuf_printf(&lane->sql, " ON DUPLICATE KEY UPDATE position_s=VALUES(position_s), ");
    sqlbuf_printf(&lane->sql,
                  "play_from_s=VALUES(play_from_s), play_started_ms=VALUES(play_started_ms), "
                  "updated_at_ms=VALUES(updated_at_ms), row_version=%" PRIu64 ";COMMIT",
                  lane->round.version);
    if (rows == 0) {
        /* nothing to store (replays, Pauses without a Play): just end the transaction */
        sqlbuf_reset(&lane->sql);
        sqlbuf_printf(&lane->sql, "COMMIT");
    }
    return store_run(lane, "write", 3, res, err, errlen);
}

/* The server may still be running the statements of a round the lane gave up on (waiting for a
 * lock or for disk space), holding its rows' locks, and could commit them long after their callers
 * were told to retry. Ends that session (our own, so no privilege is needed); if it has already
 * finished, or cannot be interrupted, the retries find whatever it stored by event id. */
static void store_kill_abandoned(commit_lane *lane)
{
    char sql[48];

    snprintf(sql, sizeof sql, "KILL %lu", lane->abandoned_thread);
    if (mysql_query(lane->db, sql) == 0)
        log_info("play commit lane %d: ended the session %lu of a round given up on", lane->index,
                 lane->abandoned_thread);
    lane->abandoned_thread = 0;
}

vs_status play_store_connect(commit_lane *lane, char *err, size_t errlen)
{
    vs_status rc;

    if (lane->db != NULL && db_conn_stale(lane->db)) {
        /* closed by the server while idle (a restart): found without a round trip */
        log_info("play commit lane %d: primary connection closed by the server; reconnecting",
                 lane->index);
        mysql_close(lane->db);
        lane->db = NULL;
    }
    if (lane->db != NULL)
        return VS_OK;
    if ((rc = db_connect_io(vsd_cfg.db_primary, 2, vsd_cfg.db_io_timeout_s, &lane->db, err,
                            errlen)) != VS_OK) {
        lane->round.db_why =
            rc == VS_UNAVAILABLE ? "the database is unreachable" : "the database failed";
        return rc;
    }
    /* strict: a known-rows round's stale row must fail its write (play_store_write) */
    if (mysql_query(lane->db, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0 ||
        mysql_query(lane->db, "SET SESSION sql_mode='STRICT_TRANS_TABLES,"
                              "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'") != 0 ||
        mysql_set_server_option(lane->db, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0)
        return store_db_error(lane, "session setup", clock_mono_us(), err, errlen);
    if (lane->abandoned_thread != 0)
        store_kill_abandoned(lane);
    return VS_OK;
}

vs_status play_store_read(commit_lane *lane, char *err, size_t errlen)
{
    MYSQL_RES *res[3];
    vs_status rc;

    sqlbuf_reset(&lane->sql);
    sqlbuf_printf(&lane->sql, "START TRANSACTION;");
    store_sql_replays(lane);
    sqlbuf_printf(&lane->sql, ";");
    store_sql_pairs(lane);
    if ((rc = store_run(lane, "read", 3, res, err, errlen)) != VS_OK)
        return rc;
    store_read_replays(lane, res[1]);
    store_read_pairs(lane, res[2]);
    for (int k = 0; k < 3; k++)
        mysql_free_result(res[k]);
    return VS_OK;
}

void play_store_rollback(commit_lane *lane)
{
    if (lane->db != NULL)
        mysql_query(lane->db, "ROLLBACK");
}
