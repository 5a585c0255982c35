/* play_commit.c — group commit of Play and Pause: committer lanes that decide and store the
 * events of many rpc workers in one transaction per round.
 *
 * Why: with sync_binlog=1 and innodb_flush_log_at_trx_commit=1 every commit costs fsyncs, so one
 * transaction per call cannot reach the throughput DESIGN asks for. A worker therefore queues its
 * event on a lane (chosen by viewer and video, so one playback's events stay in order on one
 * lane) and sleeps; the lane's thread takes everything queued, and in one transaction:
 *   1. finds event ids already in play_log: those calls are replays and get the stored outcome
 *      (or ALREADY_EXISTS when the body differs), changing nothing;
 *   2. reads watch_position of the batch's (viewer, video) pairs FOR UPDATE;
 *   3. applies the events in arrival order: resume position, credited range, ads in range;
 *   4. claims views and ad views in Redis with one pipelined `SET key event_id NX PX window GET`
 *      each — the atomic check-and-set of the repeat rule. The value is the claiming event's id,
 *      so a retried event whose first attempt did not commit recognises its own claim;
 *   5. inserts the play_log rows, upserts watch_position, commits;
 *   6. adds the counted views and ad views to the live counters, then wakes the workers.
 * Nothing is acknowledged before step 5's COMMIT returned. A duplicate key at step 5 (the same
 * event id committed meanwhile by another lane or process) or a deadlock reruns the round.
 * Several lanes commit concurrently; MariaDB's own group commit merges their fsyncs. */
#include <errmsg.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "streaming.h"

#define COMMIT_SQL_MAX (8u << 20) /* under max_allowed_packet (16 MiB) */
#define COMMIT_ATTEMPTS 3

/* A growing SQL text that refuses to pass COMMIT_SQL_MAX (failed is then set). */
typedef struct sqlbuf {
    char *data;
    size_t len, cap;
    int failed;
} sqlbuf;

/* watch_position of one (viewer, video) while a round applies its events. */
typedef struct play_pair {
    uint64_t viewer_id, video_id;
    int32_t position_s, play_from_s;
    int has_row, open, dirty;
    int64_t play_started_ms;
} play_pair;

/* One Redis check-and-set of the round: a Play's view or one ad position of a Pause. */
typedef struct play_claim {
    play_event *ev;
    char key[96];
} play_claim;

typedef struct commit_lane {
    int index;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    play_event *head, *tail;
    int stopping;
    MYSQL *db;
    redis_conn *redis;
    sqlbuf sql;
    /* the round: events, what to do with each, pairs and claims (sized at start) */
    play_event **batch;
    unsigned char *store; /* 1: insert its row; 0: resolved without a row */
    size_t n;
    play_pair *pairs;
    size_t n_pairs;
    play_claim *claims;
    size_t n_claims, cap_claims;
    /* totals, logged at stop: how well the rounds batch */
    int64_t rounds, events, busy_us, read_us, claim_us, write_us;
} commit_lane;

static commit_lane *commit_lanes;
static int commit_n_lanes;

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
        need = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt,
                         ap);
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
        char *grown = cap <= COMMIT_SQL_MAX ? realloc(b->data, cap) : NULL;
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

/* Records a failed statement of the round in err; the connection is dropped when unusable. */
static vs_status lane_db_error(commit_lane *lane, const char *what, char *err, size_t errlen)
{
    unsigned no = mysql_errno(lane->db);
    vs_status rc = db_status_from_errno(no);

    snprintf(err, errlen, "play log %s: %s", what, mysql_error(lane->db));
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
static vs_status lane_run(commit_lane *lane, const char *what, int n, MYSQL_RES **res, char *err,
                          size_t errlen)
{
    int k = 0, more;

    for (int i = 0; i < n; i++)
        res[i] = NULL;
    if (lane->sql.failed) {
        snprintf(err, errlen, "play log %s: statement too large", what);
        mysql_query(lane->db, "ROLLBACK");
        return VS_RESOURCE_EXHAUSTED;
    }
    if (mysql_real_query(lane->db, lane->sql.data, (unsigned long)lane->sql.len) != 0)
        return lane_db_error(lane, what, err, errlen);
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
    return lane_db_error(lane, what, err, errlen);
}

static play_event *lane_find_event(commit_lane *lane, const char *event_id, size_t len)
{
    for (size_t i = 0; i < lane->n; i++)
        if (strlen(lane->batch[i]->event_id) == len &&
            memcmp(lane->batch[i]->event_id, event_id, len) == 0)
            return lane->batch[i];
    return NULL;
}

/* Step 1 (SQL): the rows of the batch's event ids that are already in play_log. */
static void lane_sql_replays(commit_lane *lane)
{
    sqlbuf_printf(&lane->sql,
                  "SELECT event_id, kind, video_id, viewer_id, day, position_s, credited_from_s, "
                  "credited_to_s, watch_s, ad_views, view_counted, reason FROM play_log "
                  "WHERE event_id IN (");
    for (size_t i = 0; i < lane->n; i++) {
        if (i > 0)
            sqlbuf_printf(&lane->sql, ",");
        sqlbuf_event_id(&lane->sql, lane->batch[i]->event_id);
    }
    sqlbuf_printf(&lane->sql, ")");
}

/* Step 1: events whose id is already in play_log take the stored outcome, or ALREADY_EXISTS
 * when the stored row is not this request (kind, video, viewer, and a Pause's position). */
static void lane_read_replays(commit_lane *lane, MYSQL_RES *res)
{
    MYSQL_ROW row;

    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        play_event *ev = lane_find_event(lane, row[0], len[0]);
        size_t i;

        if (ev == NULL)
            continue;
        for (i = 0; lane->batch[i] != ev; i++)
            ;
        lane->store[i] = 0;
        if ((int)strtol(row[1], NULL, 10) != (int)ev->kind ||
            strtoull(row[2], NULL, 10) != ev->video_id ||
            strtoull(row[3], NULL, 10) != ev->viewer_id ||
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
        ev->reason = (play_reason)strtol(row[11], NULL, 10);
    }
}

static play_pair *lane_pair(commit_lane *lane, uint64_t viewer_id, uint64_t video_id)
{
    for (size_t i = 0; i < lane->n_pairs; i++)
        if (lane->pairs[i].viewer_id == viewer_id && lane->pairs[i].video_id == video_id)
            return &lane->pairs[i];
    return NULL;
}

/* Step 2 (SQL): the watch_position rows of every pair in the batch, locked until commit. */
static void lane_sql_pairs(commit_lane *lane)
{
    lane->n_pairs = 0;
    sqlbuf_printf(&lane->sql, "SELECT viewer_id, video_id, position_s, play_from_s, "
                              "play_started_ms FROM watch_position WHERE ");
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];
        play_pair *p;

        if (lane_pair(lane, ev->viewer_id, ev->video_id) != NULL)
            continue;
        p = &lane->pairs[lane->n_pairs];
        memset(p, 0, sizeof *p);
        p->viewer_id = ev->viewer_id;
        p->video_id = ev->video_id;
        sqlbuf_printf(&lane->sql, "%s(viewer_id=%" PRIu64 " AND video_id=%" PRIu64 ")",
                      lane->n_pairs ? " OR " : "", p->viewer_id, p->video_id);
        lane->n_pairs++;
    }
    sqlbuf_printf(&lane->sql, " FOR UPDATE");
}

static void lane_read_pairs(commit_lane *lane, MYSQL_RES *res)
{
    MYSQL_ROW row;

    while ((row = mysql_fetch_row(res)) != NULL) {
        play_pair *p = lane_pair(lane, strtoull(row[0], NULL, 10), strtoull(row[1], NULL, 10));

        if (p == NULL)
            continue;
        p->has_row = 1;
        p->position_s = (int32_t)strtol(row[2], NULL, 10);
        p->play_from_s = (int32_t)strtol(row[3], NULL, 10);
        p->open = row[4] != NULL;
        p->play_started_ms = row[4] ? strtoll(row[4], NULL, 10) : 0;
    }
}

static vs_status lane_add_claim(commit_lane *lane, play_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static vs_status lane_add_claim(commit_lane *lane, play_event *ev, const char *fmt, ...)
{
    va_list ap;

    if (lane->n_claims == lane->cap_claims) {
        size_t cap = lane->cap_claims ? lane->cap_claims * 2 : 256;
        play_claim *grown = realloc(lane->claims, cap * sizeof *grown);

        if (grown == NULL)
            return VS_RESOURCE_EXHAUSTED;
        lane->claims = grown;
        lane->cap_claims = cap;
    }
    lane->claims[lane->n_claims].ev = ev;
    va_start(ap, fmt);
    vsnprintf(lane->claims[lane->n_claims].key, sizeof lane->claims[0].key, fmt, ap);
    va_end(ap);
    lane->n_claims++;
    return VS_OK;
}

/* Step 3: applies the round's events to their pairs in arrival order and lists the claims. */
static vs_status lane_apply(commit_lane *lane, char *err, size_t errlen)
{
    int32_t ads[PLAYBACK_MAX_ADS];

    lane->n_claims = 0;
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];
        play_pair *p;
        int n_ads, own = ev->viewer_id == ev->creator_id;

        if (!lane->store[i])
            continue;
        p = lane_pair(lane, ev->viewer_id, ev->video_id);
        ev->day = window_day_of(ev->received_ms);
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->resume_s = playback_resume_position(p->has_row, p->position_s, ev->duration_s);
            p->play_from_s = ev->resume_s;
            p->play_started_ms = ev->received_ms;
            p->open = p->dirty = 1;
            ev->reason = own ? PLAY_OWN_VIDEO : PLAY_COUNTED;
            if (!own && lane_add_claim(lane, ev, "view:%" PRIu64 ":%" PRIu64, ev->video_id,
                                       ev->viewer_id) != VS_OK)
                goto oom;
            continue;
        }
        if (!p->open) {
            lane->store[i] = 0;
            ev->status = VS_FAILED_PRECONDITION;
            snprintf(ev->message, sizeof ev->message,
                     "video_id: no playback of video %" PRIu64 " to pause (call Play first)",
                     ev->video_id);
            continue;
        }
        playback_credit_range(p->play_from_s, ev->position_s,
                              ev->received_ms - p->play_started_ms, &ev->credit);
        p->position_s = ev->position_s;
        p->has_row = 1;
        p->open = 0;
        p->dirty = 1;
        n_ads = playback_ads_in_range(ev->duration_s, ev->credit.from_s, ev->credit.to_s, ads,
                                      PLAYBACK_MAX_ADS);
        for (int a = 0; a < n_ads && !own; a++)
            if (lane_add_claim(lane, ev, "ad:%" PRIu64 ":%" PRIu64 ":%d", ev->video_id,
                               ev->viewer_id, (int)ads[a]) != VS_OK)
                goto oom;
    }
    return VS_OK;
oom:
    snprintf(err, errlen, "out of memory");
    mysql_query(lane->db, "ROLLBACK");
    return VS_RESOURCE_EXHAUSTED;
}

/* Step 4: one pipelined SET NX per claim. A nil reply (we set it) or our own event id (an earlier
 * attempt of this event set it) counts; another event's id is a repeat within the window. */
static vs_status lane_claim(commit_lane *lane, char *err, size_t errlen)
{
    size_t n = lane->n_claims;
    int *argc = NULL;
    const char ***argv = NULL;
    const size_t **argvlen = NULL;
    const char **args = NULL;
    size_t *lens = NULL;
    redisReply **replies = NULL;
    char window[24];
    vs_status rc = VS_OK;

    if (n == 0)
        return VS_OK;
    snprintf(window, sizeof window, "%lld", (long long)streaming_cfg.repeat_window_ms);
    argc = malloc(n * sizeof *argc);
    argv = malloc(n * sizeof *argv);
    argvlen = malloc(n * sizeof *argvlen);
    args = malloc(n * 7 * sizeof *args);
    lens = malloc(n * 7 * sizeof *lens);
    replies = calloc(n, sizeof *replies);
    if (!argc || !argv || !argvlen || !args || !lens || !replies) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char **a = &args[i * 7];
        size_t *l = &lens[i * 7];

        a[0] = "SET";
        a[1] = lane->claims[i].key;
        a[2] = lane->claims[i].ev->event_id;
        a[3] = "NX";
        a[4] = "PX";
        a[5] = window;
        a[6] = "GET";
        for (int k = 0; k < 7; k++)
            l[k] = strlen(a[k]);
        argc[i] = 7;
        argv[i] = a;
        argvlen[i] = l;
    }
    rc = redis_pipeline(lane->redis, (int)n, argc, argv, argvlen, replies, err, errlen);
    for (size_t i = 0; rc == VS_OK && i < n; i++) {
        play_event *ev = lane->claims[i].ev;
        redisReply *r = replies[i];
        int counted;

        if (r->type == REDIS_REPLY_NIL) {
            counted = 1;
        } else if (r->type == REDIS_REPLY_STRING) {
            counted = strcmp(r->str, ev->event_id) == 0;
        } else {
            rc = VS_INTERNAL;
            snprintf(err, errlen, "redis: unexpected reply to SET NX: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
            break;
        }
        if (ev->kind == PLAY_KIND_PLAY) {
            ev->view_counted = counted;
            ev->reason = counted ? PLAY_COUNTED : PLAY_REPEAT;
        } else {
            ev->ad_views += counted;
        }
    }
out:
    for (size_t i = 0; replies != NULL && i < n; i++)
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
    free(argc);
    free(argv);
    free(argvlen);
    free(args);
    free(lens);
    free(replies);
    if (rc != VS_OK)
        mysql_query(lane->db, "ROLLBACK");
    return rc;
}

/* Step 5: the rows, the positions and the commit, in one round trip. */
static vs_status lane_write(commit_lane *lane, char *err, size_t errlen)
{
    MYSQL_RES *res[3];
    char day[11];
    int rows = 0, pairs = 0;
    int64_t now_ms = clock_now_ms();

    sqlbuf_reset(&lane->sql);
    sqlbuf_printf(&lane->sql,
                  "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
                  " position_s, credited_from_s, credited_to_s, watch_s, ad_views, view_counted,"
                  " reason) VALUES ");
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];
        int play = ev->kind == PLAY_KIND_PLAY;

        if (!lane->store[i])
            continue;
        window_format(ev->day, day);
        sqlbuf_printf(&lane->sql, "%s(", rows++ ? "," : "");
        sqlbuf_event_id(&lane->sql, ev->event_id);
        sqlbuf_printf(&lane->sql,
                      ",%d,%" PRIu64 ",%" PRIu64 ",'%s',%" PRId64 ",%d,%d,%d,%d,%d,%d,%d)",
                      (int)ev->kind, ev->video_id, ev->viewer_id, day, ev->received_ms,
                      play ? ev->resume_s : ev->position_s, play ? 0 : ev->credit.from_s,
                      play ? 0 : ev->credit.to_s, play ? 0 : ev->credit.watch_s,
                      play ? 0 : ev->ad_views, play ? ev->view_counted : 0,
                      play ? (int)ev->reason : 0);
    }
    sqlbuf_printf(&lane->sql, ";INSERT INTO watch_position (viewer_id, video_id, position_s, "
                              "play_from_s, play_started_ms, updated_at_ms) VALUES ");
    for (size_t i = 0; i < lane->n_pairs; i++) {
        play_pair *p = &lane->pairs[i];
        char started[24] = "NULL";

        if (!p->dirty)
            continue;
        if (p->open)
            snprintf(started, sizeof started, "%" PRId64, p->play_started_ms);
        sqlbuf_printf(&lane->sql, "%s(%" PRIu64 ",%" PRIu64 ",%d,%d,%s,%" PRId64 ")",
                      pairs++ ? "," : "", p->viewer_id, p->video_id, (int)p->position_s,
                      (int)p->play_from_s, started, now_ms);
    }
    sqlbuf_printf(&lane->sql, " ON DUPLICATE KEY UPDATE position_s=VALUES(position_s), "
                              "play_from_s=VALUES(play_from_s), "
                              "play_started_ms=VALUES(play_started_ms), "
                              "updated_at_ms=VALUES(updated_at_ms);COMMIT");
    if (rows == 0) {
        /* nothing to store (replays, Pauses without a Play): just end the transaction */
        sqlbuf_reset(&lane->sql);
        sqlbuf_printf(&lane->sql, "COMMIT");
    }
    return lane_run(lane, "write", 3, res, err, errlen);
}

/* One attempt at the whole round; every event's outcome is reset first. Reads in one round
 * trip, claims in one Redis pipeline, writes and commits in one more round trip. */
static vs_status lane_commit(commit_lane *lane, char *err, size_t errlen)
{
    MYSQL_RES *res[3];
    int64_t t0, t1, t2;
    vs_status rc;

    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];

        lane->store[i] = 1;
        ev->status = VS_OK;
        ev->message[0] = '\0';
        ev->replayed = ev->view_counted = 0;
        ev->ad_views = ev->resume_s = 0;
        ev->reason = PLAY_COUNTED;
        memset(&ev->credit, 0, sizeof ev->credit);
    }
    if (lane->db == NULL) {
        rc = db_connect(vsd_cfg.db_primary, 2, &lane->db, err, errlen);
        if (rc != VS_OK)
            return rc;
        /* no gap locks: lanes never touch each other's pairs, so no read needs them */
        if (mysql_query(lane->db, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0 ||
            mysql_set_server_option(lane->db, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0)
            return lane_db_error(lane, "session setup", err, errlen);
    }
    sqlbuf_reset(&lane->sql);
    sqlbuf_printf(&lane->sql, "START TRANSACTION;");
    lane_sql_replays(lane);
    sqlbuf_printf(&lane->sql, ";");
    lane_sql_pairs(lane);
    t0 = clock_mono_us();
    if ((rc = lane_run(lane, "read", 3, res, err, errlen)) != VS_OK)
        return rc;
    t1 = clock_mono_us();
    lane->read_us += t1 - t0;
    lane_read_replays(lane, res[1]);
    lane_read_pairs(lane, res[2]);
    for (int k = 0; k < 3; k++)
        mysql_free_result(res[k]);
    if ((rc = lane_apply(lane, err, errlen)) != VS_OK ||
        (rc = lane_claim(lane, err, errlen)) != VS_OK)
        return rc;
    t2 = clock_mono_us();
    lane->claim_us += t2 - t1;
    rc = lane_write(lane, err, errlen);
    lane->write_us += clock_mono_us() - t2;
    return rc;
}

/* Step 6: today's live counters, after the commit, in one pipeline (HINCRBY + EXPIRE per
 * counting event). They are a fast view, not the settlement basis, so a Redis failure here is
 * logged and the calls still succeed. */
static void lane_live_counters(commit_lane *lane)
{
    size_t m = 0;
    int *argc = malloc(2 * lane->n * sizeof *argc);
    const char ***argv = malloc(2 * lane->n * sizeof *argv);
    const size_t **argvlen = malloc(2 * lane->n * sizeof *argvlen);
    const char **args = malloc(8 * lane->n * sizeof *args);
    size_t *lens = malloc(8 * lane->n * sizeof *lens);
    char (*text)[2][48] = malloc(lane->n * sizeof *text); /* key, amount */
    redisReply **replies = calloc(2 * lane->n, sizeof *replies);
    char ttl[16], err[256];

    if (!argc || !argv || !argvlen || !args || !lens || !text || !replies) {
        log_warn("live counters not updated: out of memory");
        goto out;
    }
    snprintf(ttl, sizeof ttl, "%d", streaming_cfg.live_ttl_s);
    for (size_t i = 0; i < lane->n; i++) {
        play_event *ev = lane->batch[i];
        int value = ev->kind == PLAY_KIND_PLAY ? ev->view_counted : ev->ad_views;
        const char **a = &args[4 * m];

        if (!lane->store[i] || value == 0)
            continue;
        live_key(ev->day, ev->video_id, text[i][0], sizeof text[i][0]);
        snprintf(text[i][1], sizeof text[i][1], "%d", value);
        a[0] = "HINCRBY";
        a[1] = text[i][0];
        a[2] = ev->kind == PLAY_KIND_PLAY ? "views" : "ad_views";
        a[3] = text[i][1];
        a[4] = "EXPIRE";
        a[5] = text[i][0];
        a[6] = ttl;
        for (int k = 0; k < 7; k++)
            lens[4 * m + (size_t)k] = strlen(a[k]);
        argc[m] = 4;
        argv[m] = a;
        argvlen[m] = &lens[4 * m];
        argc[m + 1] = 3;
        argv[m + 1] = a + 4;
        argvlen[m + 1] = &lens[4 * m + 4];
        m += 2;
    }
    if (m > 0 &&
        redis_pipeline(lane->redis, (int)m, argc, argv, argvlen, replies, err, sizeof err) != VS_OK)
        log_warn("live counters not updated for %zu events: %s", m / 2, err);
out:
    for (size_t k = 0; replies != NULL && k < m; k++)
        if (replies[k] != NULL)
            freeReplyObject(replies[k]);
    free(argc);
    free(argv);
    free(argvlen);
    free(args);
    free(lens);
    free(text);
    free(replies);
}

/* Takes up to max_batch queued events. An event whose id is already in the batch (a concurrent
 * resend) waits for the next round, where it finds the first one's committed row. */
static int lane_take(commit_lane *lane)
{
    play_event *deferred = NULL, **deferred_tail = &deferred;

    pthread_mutex_lock(&lane->lock);
    while (lane->head == NULL && !lane->stopping)
        pthread_cond_wait(&lane->wake, &lane->lock);
    lane->n = 0;
    while (lane->head != NULL && lane->n < (size_t)streaming_cfg.max_batch) {
        play_event *ev = lane->head;

        lane->head = ev->next;
        ev->next = NULL;
        if (lane_find_event(lane, ev->event_id, strlen(ev->event_id)) != NULL) {
            *deferred_tail = ev;
            deferred_tail = &ev->next;
            continue;
        }
        lane->batch[lane->n++] = ev;
    }
    if (deferred != NULL) {
        *deferred_tail = lane->head;
        lane->head = deferred;
    }
    if (lane->head == NULL)
        lane->tail = NULL;
    else
        for (lane->tail = lane->head; lane->tail->next != NULL; lane->tail = lane->tail->next)
            ;
    pthread_mutex_unlock(&lane->lock);
    return lane->n > 0;
}

static void *lane_main(void *arg)
{
    commit_lane *lane = arg;
    char err[256];

    while (lane_take(lane)) {
        int64_t t0 = clock_mono_us();
        vs_status rc = VS_OK;

        for (int attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
            rc = lane_commit(lane, err, sizeof err);
            if (rc != VS_ALREADY_EXISTS && rc != VS_ABORTED)
                break;
            log_info("play commit lane %d: %s; retrying the round", lane->index, err);
        }
        if (rc == VS_OK) {
            lane_live_counters(lane);
        } else {
            log_warn("play commit lane %d: %zu events failed: %s", lane->index, lane->n, err);
            for (size_t i = 0; i < lane->n; i++) {
                lane->batch[i]->status = rc;
                snprintf(lane->batch[i]->message, sizeof lane->batch[i]->message, "%s", err);
            }
        }
        lane->rounds++;
        lane->events += (int64_t)lane->n;
        lane->busy_us += clock_mono_us() - t0;
        /* the worker may return (and its event vanish) as soon as it is posted: post last */
        for (size_t i = 0; i < lane->n; i++)
            sem_post(&lane->batch[i]->done);
    }
    return NULL;
}

vs_status play_commit_submit(play_event *ev)
{
    uint64_t h = ev->viewer_id * 0x9E3779B97F4A7C15ull ^ ev->video_id * 0xC2B2AE3D27D4EB4Full;
    commit_lane *lane = &commit_lanes[(h ^ h >> 29) % (uint64_t)commit_n_lanes];

    ev->next = NULL;
    sem_init(&ev->done, 0, 0);
    pthread_mutex_lock(&lane->lock);
    if (lane->tail != NULL)
        lane->tail->next = ev;
    else
        lane->head = ev;
    lane->tail = ev;
    pthread_cond_signal(&lane->wake);
    pthread_mutex_unlock(&lane->lock);
    while (sem_wait(&ev->done) != 0 && errno == EINTR)
        ;
    sem_destroy(&ev->done);
    return ev->status;
}

vs_status play_commit_start(int lanes, char *err, size_t errlen)
{
    commit_lanes = calloc((size_t)lanes, sizeof *commit_lanes);
    if (commit_lanes == NULL)
        return VS_RESOURCE_EXHAUSTED;
    for (int i = 0; i < lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        lane->index = i;
        pthread_mutex_init(&lane->lock, NULL);
        pthread_cond_init(&lane->wake, NULL);
        lane->batch = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->batch);
        lane->store = calloc((size_t)streaming_cfg.max_batch, 1);
        lane->pairs = calloc((size_t)streaming_cfg.max_batch, sizeof *lane->pairs);
        if (lane->batch == NULL || lane->store == NULL || lane->pairs == NULL) {
            snprintf(err, errlen, "out of memory");
            return VS_RESOURCE_EXHAUSTED;
        }
        /* a Redis that is down now is retried on use */
        redis_open(vsd_cfg.redis, 1000, &lane->redis, err, errlen);
        if (lane->redis == NULL)
            return VS_RESOURCE_EXHAUSTED;
        if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0) {
            snprintf(err, errlen, "cannot start the play commit thread");
            return VS_RESOURCE_EXHAUSTED;
        }
        commit_n_lanes = i + 1;
    }
    return VS_OK;
}

void play_commit_stop(void)
{
    for (int i = 0; i < commit_n_lanes; i++) {
        commit_lane *lane = &commit_lanes[i];

        pthread_mutex_lock(&lane->lock);
        lane->stopping = 1;
        pthread_cond_signal(&lane->wake);
        pthread_mutex_unlock(&lane->lock);
        pthread_join(lane->thread, NULL);
        if (lane->rounds > 0)
            log_info("play commit lane %d: %lld rounds, %lld events (%.1f a round); ms a round: "
                     "%.2f (read %.2f, claim %.2f, write+commit %.2f)",
                     i, (long long)lane->rounds, (long long)lane->events,
                     (double)lane->events / (double)lane->rounds,
                     (double)lane->busy_us / (double)lane->rounds / 1000.0,
                     (double)lane->read_us / (double)lane->rounds / 1000.0,
                     (double)lane->claim_us / (double)lane->rounds / 1000.0,
                     (double)lane->write_us / (double)lane->rounds / 1000.0);
        if (lane->db != NULL)
            mysql_close(lane->db);
        redis_close(lane->redis);
        free(lane->sql.data);
        free(lane->batch);
        free(lane->store);
        free(lane->pairs);
        free(lane->claims);
        pthread_mutex_destroy(&lane->lock);
        pthread_cond_destroy(&lane->wake);
    }
    free(commit_lanes);
    commit_lanes = NULL;
    commit_n_lanes = 0;
}
