/* videos.c — CreateVideo, GetVideo, ListVideos, and the process-wide cache of video facts that
 * Play and Pause need on every call (creator and duration never change once created). */
#include <errmsg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users/auth.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "streaming.h"
#include "users/users.h"

/* Direct-mapped: a slot holds the last video that hashed to it; a collision just evicts. */
#define VIDEOS_CACHE_SLOTS 65536
#define VIDEOS_CACHE_STRIPES 64
#define VIDEOS_PAGE_DEFAULT 50
#define VIDEOS_PAGE_MAX 500
#define VIDEOS_ROLE_CREATOR 2 /* vs.v1.Role CREATOR */

static video_info videos_cache[VIDEOS_CACHE_SLOTS];
static pthread_mutex_t videos_cache_locks[VIDEOS_CACHE_STRIPES] = {
    [0 ... VIDEOS_CACHE_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};

/* The status of the statement that just failed on db; the server's text goes to the log (and to
 * err, which videos_public_status replaces before a caller sees it). */
static vs_status videos_db_status(MYSQL *db, char *err, size_t errlen)
{
    unsigned no = mysql_errno(db);
    vs_status rc = db_status_from_errno(no);

    snprintf(err, errlen, "videos: %s", mysql_error(db));
    if (rc != VS_ALREADY_EXISTS) /* a replayed event id is no failure */
        log_warn("%s", err);
    /* out of sync leaves the connection unusable too: have it replaced */
    return no == CR_COMMANDS_OUT_OF_SYNC ? VS_UNAVAILABLE : rc;
}

/* What a caller learns of a database failure: retry (UNAVAILABLE), out of space
 * (RESOURCE_EXHAUSTED), or INTERNAL; the server's text stays in the log. */
static vs_status videos_public_status(vs_status rc, char *err, size_t errlen)
{
    if (rc == VS_OK || rc == VS_ALREADY_EXISTS || rc == VS_NOT_FOUND || rc == VS_INVALID_ARGUMENT)
        return rc;
    if (rc == VS_RESOURCE_EXHAUSTED) {
        snprintf(err, errlen, "the database is out of space or memory; retry later");
        return rc;
    }
    snprintf(err, errlen, "database error; retry");
    return rc == VS_UNAVAILABLE || rc == VS_ABORTED ? VS_UNAVAILABLE : VS_INTERNAL;
}

/* The creator and duration of one video (vsd_db_work). */
typedef struct videos_fact_query {
    uint64_t video_id;
    video_info *out;
} videos_fact_query;

static vs_status videos_fact_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    videos_fact_query *q = arg;
    char sql[160];
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    snprintf(sql, sizeof sql, "SELECT creator_id, duration_s FROM videos WHERE id=%" PRIu64,
             q->video_id);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        return videos_db_status(db, err, errlen);
    if ((row = mysql_fetch_row(res)) == NULL) {
        snprintf(err, errlen, "video_id: no video %" PRIu64, q->video_id);
        rc = VS_NOT_FOUND;
    } else {
        q->out->id = q->video_id;
        q->out->creator_id = strtoull(row[0], NULL, 10);
        q->out->duration_s = (int32_t)strtol(row[1], NULL, 10);
    }
    mysql_free_result(res);
    return rc;
}

vs_status videos_lookup(vsd_thread *w, uint64_t video_id, video_info *out, char *err, size_t errlen)
{
    size_t slot = (size_t)(video_id % VIDEOS_CACHE_SLOTS);
    pthread_mutex_t *lock = &videos_cache_locks[slot % VIDEOS_CACHE_STRIPES];
    videos_fact_query q = {video_id, out};
    vs_status rc;

    if (video_id == 0) {
        snprintf(err, errlen, "video_id: required");
        return VS_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(lock);
    *out = videos_cache[slot];
    pthread_mutex_unlock(lock);
    if (out->id == video_id)
        return VS_OK;

    if ((rc = vsd_db_run(w, VSD_PRIMARY, videos_fact_work, &q, err, errlen)) != VS_OK)
        return w->is_inline ? rc : videos_public_status(rc, err, errlen);
    pthread_mutex_lock(lock);
    videos_cache[slot] = *out;
    pthread_mutex_unlock(lock);
    return VS_OK;
}

/* Fills v from a row (id, creator_id, title, duration_s, created_unix); v->title and
 * v->ad_positions_s are malloc'd and released by videos_clear. */
static vs_status videos_from_row(MYSQL_ROW row, Vs__V1__Video *v)
{
    vs__v1__video__init(v);
    v->id = strtoull(row[0], NULL, 10);
    v->creator_id = strtoull(row[1], NULL, 10);
    v->title = strdup(row[2]);
    v->duration_s = (int32_t)strtol(row[3], NULL, 10);
    v->created_unix = strtoll(row[4], NULL, 10);
    v->n_ad_positions_s = (size_t)playback_ad_positions(v->duration_s, NULL, 0);
    v->ad_positions_s = calloc(v->n_ad_positions_s + 1, sizeof *v->ad_positions_s);
    if (v->title == NULL || v->ad_positions_s == NULL)
        return VS_RESOURCE_EXHAUSTED;
    playback_ad_positions(v->duration_s, v->ad_positions_s, (int)v->n_ad_positions_s);
    return VS_OK;
}

static void videos_clear(Vs__V1__Video *v)
{
    if (v->title != protobuf_c_empty_string)
        free(v->title);
    free(v->ad_positions_s);
    vs__v1__video__init(v);
}

/* A SELECT of video rows (vsd_db_work): the columns videos_from_row reads, up to max rows into
 * out[]; *n is how many rows there were (it may exceed max by one: the has_more probe). */
typedef struct videos_rows_query {
    const char *where;
    Vs__V1__Video *out;
    size_t max, *n;
} videos_rows_query;

static vs_status videos_rows_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    videos_rows_query *q = arg;
    char sql[512];
    MYSQL_RES *res;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    for (size_t i = 0; i < *q->n && i < q->max; i++)
        videos_clear(&q->out[i]); /* a first attempt's rows */
    *q->n = 0;
    snprintf(sql, sizeof sql,
             "SELECT id, creator_id, title, duration_s, UNIX_TIMESTAMP(created_at) FROM videos %s",
             q->where);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        return videos_db_status(db, err, errlen);
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (*q->n < q->max && rc == VS_OK)
            rc = videos_from_row(row, &q->out[*q->n]);
        (*q->n)++;
    }
    mysql_free_result(res);
    if (rc != VS_OK)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* Runs videos_rows_work on the thread's primary; a failure is already in public terms. */
static vs_status videos_select(vsd_thread *w, const char *where, Vs__V1__Video *out, size_t max,
                               size_t *n, char *err, size_t errlen)
{
    videos_rows_query q = {where, out, max, n};

    *n = 0;
    return videos_public_status(vsd_db_run(w, VSD_PRIMARY, videos_rows_work, &q, err, errlen), err,
                                errlen);
}

/* A new video and its creator's role (vsd_db_work), in one transaction. Repeatable: the
 * (event id, creator) is a unique key, so a repeat after a COMMIT that did land fails with
 * ALREADY_EXISTS and the caller finds the first video by it. */
typedef struct videos_new {
    uint64_t creator_id;
    const char *title;
    int32_t duration_s;
    const char *event_hex; /* the event id as hex digits */
    uint64_t id;           /* out */
} videos_new;

static vs_status videos_insert_work(MYSQL *db, void *arg, char *err, size_t errlen)
{
    videos_new *v = arg;
    size_t title_len = strlen(v->title);
    char *sql = malloc(2 * title_len + 512), *title_sql = malloc(2 * title_len + 1);
    vs_status rc;

    if (title_sql == NULL || sql == NULL) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    mysql_real_escape_string(db, title_sql, v->title, (unsigned long)title_len);
    snprintf(sql, 2 * title_len + 512,
             "INSERT INTO videos (creator_id, title, duration_s, created_at, create_event_id) "
             "VALUES (%" PRIu64 ", '%s', %d, FROM_UNIXTIME(%" PRId64 " / 1000), X'%s')",
             v->creator_id, title_sql, (int)v->duration_s, clock_now_ms(), v->event_hex);
    if (mysql_query(db, "START TRANSACTION") != 0 || mysql_query(db, sql) != 0)
        goto db_fail;
    v->id = mysql_insert_id(db);
    if ((rc = users_grant_role_min(db, v->creator_id, VIDEOS_ROLE_CREATOR)) != VS_OK) {
        if (rc != VS_UNAVAILABLE)
            mysql_query(db, "ROLLBACK");
        snprintf(err, errlen, "cannot make user %" PRIu64 " a creator: %s", v->creator_id,
                 status_name(rc));
        goto out;
    }
    if (mysql_query(db, "COMMIT") != 0)
        goto db_fail;
    rc = VS_OK;
    goto out;
db_fail:
    rc = videos_db_status(db, err, errlen);
    if (rc != VS_UNAVAILABLE) /* still open: end the transaction */
        mysql_query(db, "ROLLBACK");
out:
    free(sql);
    free(title_sql);
    return rc;
}

/* Inserts the video and raises the creator's role in one transaction. An event id the creator
 * used before returns *id of the video it created; ALREADY_EXISTS when that video differs from
 * this request. */
static vs_status videos_insert(vsd_thread *w, uint64_t creator_id, const char *title,
                               int32_t duration_s, const char *event_id, uint64_t *id, char *err,
                               size_t errlen)
{
    char event_hex[2 * PLAYBACK_EVENT_ID_MAX + 1], where[2 * PLAYBACK_EVENT_ID_MAX + 96];
    videos_new v = {creator_id, title, duration_s, event_hex, 0};
    Vs__V1__Video existing = VS__V1__VIDEO__INIT;
    size_t n = 0;
    vs_status rc;

    mysql_hex_string(event_hex, event_id, (unsigned long)strlen(event_id));
    rc = vsd_db_run(w, VSD_PRIMARY, videos_insert_work, &v, err, errlen);
    if (rc == VS_OK)
        *id = v.id;
    if (rc != VS_ALREADY_EXISTS)
        return videos_public_status(rc, err, errlen);
    /* this creator used the event id before: same request → the same video (ids are per
     * caller: another user's video with this id is never looked at) */
    snprintf(where, sizeof where, "WHERE create_event_id=X'%s' AND creator_id=%" PRIu64, event_hex,
             creator_id);
    if ((rc = videos_select(w, where, &existing, 1, &n, err, errlen)) != VS_OK)
        goto out;
    if (n == 0) {
        rc = VS_ABORTED;
        snprintf(err, errlen, "event_id: conflicting concurrent request, retry");
    } else if (existing.duration_s != duration_s || strcmp(existing.title, title) != 0) {
        rc = VS_ALREADY_EXISTS;
        snprintf(err, errlen, "event_id: already used for a different request");
    } else {
        *id = existing.id;
        rc = VS_OK;
    }
out:
    videos_clear(&existing);
    return rc;
}

/* Answers with the video row `id` (after a create or for GetVideo). */
static void videos_reply_one(rpc_call *call, uint64_t id, Vs__V1__Video_Closure closure)
{
    Vs__V1__Video video = VS__V1__VIDEO__INIT;
    char where[64], err[256];
    size_t n = 0;
    vs_status rc;

    snprintf(where, sizeof where, "WHERE id=%" PRIu64, id);
    rc = videos_select(call->worker, where, &video, 1, &n, err, sizeof err);
    if (rc == VS_OK && n == 0) {
        rc = VS_NOT_FOUND;
        snprintf(err, sizeof err, "video_id: no video %" PRIu64, id);
    }
    if (rc != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        closure(NULL, call);
    } else {
        closure(&video, call);
    }
    videos_clear(&video);
}

void streaming_create_video(Vs__V1__StreamingService_Service *service,
                            const Vs__V1__CreateVideoRequest *input, Vs__V1__Video_Closure closure,
                            void *closure_data)
{
    rpc_call *call = closure_data;
    auth_principal who;
    char err[256];
    uint64_t id = 0;
    vs_status rc;

    if (auth_require(call, &who) != VS_OK) {
        closure(NULL, call);
        return;
    }
    if ((rc = playback_check_title(input->title, err, sizeof err)) != VS_OK ||
        (rc = playback_check_duration(input->duration_s, err, sizeof err)) != VS_OK ||
        (rc = playback_check_event_id(input->event_id, err, sizeof err)) != VS_OK ||
        (rc = videos_insert(call->worker, who.user_id, input->title, input->duration_s,
                            input->event_id, &id, err, sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        closure(NULL, call);
        return;
    }
    videos_reply_one(call, id, closure);
}

void streaming_get_video(Vs__V1__StreamingService_Service *service,
                         const Vs__V1__GetVideoRequest *input, Vs__V1__Video_Closure closure,
                         void *closure_data)
{
    if (input->video_id == 0) {
        rpc_fail(closure_data, VS_INVALID_ARGUMENT, "video_id: required");
        closure(NULL, closure_data);
        return;
    }
    videos_reply_one(closure_data, input->video_id, closure);
}

/* Pages through videos by id (oldest first): all of them, one creator's, or the caller's. */
void streaming_list_videos(Vs__V1__StreamingService_Service *service,
                           const Vs__V1__ListVideosRequest *input,
                           Vs__V1__ListVideosResponse_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__ListVideosResponse resp = VS__V1__LIST_VIDEOS_RESPONSE__INIT;
    Vs__V1__Video *videos = NULL, **ptrs = NULL;
    uint32_t size = input->page_size ? input->page_size : VIDEOS_PAGE_DEFAULT;
    uint64_t creator = input->creator_id;
    char where[192], err[256];
    size_t n = 0;
    vs_status rc = VS_OK;

    if (size > VIDEOS_PAGE_MAX) {
        rc = VS_INVALID_ARGUMENT;
        snprintf(err, sizeof err, "page_size: at most %d, got %u", VIDEOS_PAGE_MAX, size);
        goto out;
    }
    if (input->mine) {
        auth_principal who;

        if ((rc = auth_require(call, &who)) != VS_OK)
            goto out;
        if (creator != 0 && creator != who.user_id) {
            rc = VS_INVALID_ARGUMENT;
            snprintf(err, sizeof err, "creator_id: cannot be combined with mine");
            goto out;
        }
        creator = who.user_id;
    }
    if (creator != 0)
        snprintf(where, sizeof where, "WHERE creator_id=%" PRIu64, creator);
    else
        where[0] = '\0';
    snprintf(where + strlen(where), sizeof where - strlen(where),
             " ORDER BY id LIMIT %u OFFSET %" PRIu64, size + 1, (uint64_t)input->page * size);
    videos = calloc(size, sizeof *videos);
    ptrs = calloc(size, sizeof *ptrs);
    if (videos == NULL || ptrs == NULL) {
        rc = VS_RESOURCE_EXHAUSTED;
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < size; i++)
        vs__v1__video__init(&videos[i]);
    rc = videos_select(call->worker, where, videos, size, &n, err, sizeof err);
    if (rc != VS_OK)
        goto out;
    resp.has_more = n > size;
    resp.n_videos = n > size ? size : n;
    for (size_t i = 0; i < resp.n_videos; i++)
        ptrs[i] = &videos[i];
    resp.videos = ptrs;
    resp.page = input->page;
out:
    if (rc != VS_OK) {
        if (call->status == VS_OK) /* auth_require has already said why */
            rpc_fail(call, rc, "%s", err);
        closure(NULL, call);
    } else {
        closure(&resp, call);
    }
    for (size_t i = 0; videos != NULL && i < size; i++)
        videos_clear(&videos[i]);
    free(videos);
    free(ptrs);
}
