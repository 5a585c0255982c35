/* read_model_load.c — reading one settled day into the read model (read_model_load.h): the day's
 * video_daily_stats and settlement_daily rows, the videos that appeared since the last load, and
 * the rate cards they name, in one consistent-snapshot transaction on the server reads go to, with
 * the binary protocol and unbuffered fetches (nothing is materialised twice). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_stmt.h"
#include "db.h"
#include "grow.h"
#include "log.h"
#include "money_card.h"
#include "read_model_load.h"
#include "reads.h"

#define LOAD_COLS 17
#define LOAD_TITLE_MAX 1024 /* a title is at most 200 characters, 800 bytes of utf8mb4 */

/* Column order of load_rows_sql (all integers). */
enum {
    LC_VIDEO,
    LC_STATS_CREATOR,
    LC_VIEWS,
    LC_WATCH,
    LC_ADS,
    LC_HAS_SETTLEMENT,
    LC_SETTLE_CREATOR,
    LC_VERSION,
    LC_VIEWS_BEFORE,
    LC_VIEWS_AFTER,
    LC_ADS_BEFORE,
    LC_ADS_AFTER,
    LC_VIDEO_EXACT,
    LC_AD_EXACT,
    LC_VIDEO_WON,
    LC_AD_WON,
    LC_TOTAL_WON
};

static const char load_rows_sql[] =
    "SELECT CAST(d.video_id AS SIGNED), CAST(d.creator_id AS SIGNED), d.views, d.watch_s, "
    "d.ad_views, s.video_id IS NOT NULL, CAST(COALESCE(s.creator_id, 0) AS SIGNED), "
    "COALESCE(s.rate_card_version, 0), COALESCE(s.views_before, 0), COALESCE(s.views_after, 0), "
    "COALESCE(s.ad_views_before, 0), COALESCE(s.ad_views_after, 0), "
    "COALESCE(s.video_exact_milli, 0), COALESCE(s.ad_exact_milli, 0), COALESCE(s.video_won, 0), "
    "COALESCE(s.ad_won, 0), COALESCE(s.total_won, 0) FROM video_daily_stats d "
    "LEFT JOIN settlement_daily s ON s.video_id = d.video_id AND s.day = d.day WHERE d.day = ?";

static const char load_videos_sql[] =
    "SELECT CAST(id AS SIGNED), CAST(creator_id AS SIGNED), title FROM videos "
    "WHERE id > ? AND id <= ? ORDER BY id";

/* A statement's error as a status and message. */
static vs_status load_stmt_error(MYSQL_STMT *st, const char *what, char *err, size_t errlen)
{
    vs_status rc = db_status_from_errno(mysql_stmt_errno(st));

    snprintf(err, errlen, "%s: %s", what, mysql_stmt_error(st));
    return rc;
}

/* Prepares sql with its date or integer parameters bound and executes it (unbuffered). */
static vs_status load_execute(MYSQL *db, const char *sql, MYSQL_BIND *params, MYSQL_BIND *cols,
                              MYSQL_STMT **out, char *err, size_t errlen)
{
    MYSQL_STMT *st = mysql_stmt_init(db);
    vs_status rc;

    *out = NULL;
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return VS_RESOURCE_EXHAUSTED;
    }
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 ||
        mysql_stmt_bind_param(st, params) != 0 || mysql_stmt_execute(st) != 0 ||
        mysql_stmt_bind_result(st, cols) != 0) {
        rc = load_stmt_error(st, "read model", err, errlen);
        mysql_stmt_close(st);
        return rc;
    }
    *out = st;
    return VS_OK;
}

/* ---- the videos table ---- */

/* Appends the videos with lo < id <= hi that old does not have; *added counts them. */
static vs_status videos_fetch(MYSQL *db, const model_videos *old, model_videos_build *b,
                              uint64_t lo, uint64_t hi, size_t *added, char *err, size_t errlen)
{
    int64_t range[2] = {(int64_t)lo, hi > INT64_MAX ? INT64_MAX : (int64_t)hi}, col[2];
    char title[LOAD_TITLE_MAX];
    unsigned long title_len = 0;
    my_bool nulls[3], errors[3];
    MYSQL_BIND pb[2], cb[3];
    MYSQL_STMT *st;
    vs_status rc = VS_OK;
    int f;

    *added = 0;
    memset(pb, 0, sizeof pb);
    memset(cb, 0, sizeof cb);
    for (int i = 0; i < 2; i++) {
        pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
        pb[i].buffer = &range[i];
        cb[i].buffer_type = MYSQL_TYPE_LONGLONG;
        cb[i].buffer = &col[i];
        cb[i].is_null = &nulls[i];
        cb[i].error = &errors[i];
    }
    cb[2].buffer_type = MYSQL_TYPE_STRING;
    cb[2].buffer = title;
    cb[2].buffer_length = sizeof title;
    cb[2].length = &title_len;
    cb[2].is_null = &nulls[2];
    cb[2].error = &errors[2];
    if ((rc = load_execute(db, load_videos_sql, pb, cb, &st, err, errlen)) != VS_OK)
        return rc;
    while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
        size_t len = nulls[2] ? 0 : title_len < sizeof title ? title_len : sizeof title - 1;

        if (old != NULL && model_video_find(old, (uint64_t)col[0]) >= 0)
            continue;
        if (model_videos_append(b, (uint64_t)col[0], (uint64_t)col[1], title, len) != VS_OK) {
            snprintf(err, errlen, "read model: out of memory for the videos");
            rc = VS_RESOURCE_EXHAUSTED;
            break;
        }
        (*added)++;
    }
    if (rc == VS_OK && f != MYSQL_NO_DATA)
        rc = load_stmt_error(st, "read model: videos", err, errlen);
    mysql_stmt_free_result(st);
    mysql_stmt_close(st);
    return rc;
}

/* ---- a day's rows ---- */

typedef struct day_build {
    int64_t (*raw)[LOAD_COLS];
    size_t n, cap;
} day_build;

/* Streams the day's joined rows into b. */
static vs_status day_fetch(MYSQL *db, business_date day, day_build *b, char *err, size_t errlen)
{
    int64_t col[LOAD_COLS];
    my_bool nulls[LOAD_COLS], errors[LOAD_COLS];
    MYSQL_BIND pb[1], cb[LOAD_COLS];
    MYSQL_TIME date;
    MYSQL_STMT *st;
    vs_status rc = VS_OK;
    int f;

    memset(cb, 0, sizeof cb);
    db_bind_date(&pb[0], &date, day);
    for (int c = 0; c < LOAD_COLS; c++) {
        cb[c].buffer_type = MYSQL_TYPE_LONGLONG;
        cb[c].buffer = &col[c];
        cb[c].is_null = &nulls[c];
        cb[c].error = &errors[c];
    }
    if ((rc = load_execute(db, load_rows_sql, pb, cb, &st, err, errlen)) != VS_OK)
        return rc;
    while ((f = mysql_stmt_fetch(st)) == 0) {
        if (grow_array(&b->raw, &b->cap, b->n + 1, sizeof *b->raw, 4096, SIZE_MAX) != VS_OK) {
            snprintf(err, errlen, "read model: out of memory for %zu rows", b->n);
            rc = VS_RESOURCE_EXHAUSTED;
            break;
        }
        for (int c = 0; c < LOAD_COLS; c++)
            b->raw[b->n][c] = nulls[c] ? 0 : col[c];
        b->n++;
    }
    if (rc == VS_OK && f != MYSQL_NO_DATA)
        rc = load_stmt_error(st, "read model: day rows", err, errlen);
    mysql_stmt_free_result(st);
    mysql_stmt_close(st);
    return rc;
}

/* Makes sure the rate card `version` is in the process-wide cache (loaded from db if not). */
static vs_status load_card(MYSQL *db, uint32_t version, char *err, size_t errlen)
{
    money_card pair[2];
    vs_status rc;

    if (read_card_find(version, MONEY_VIDEO) != NULL)
        return VS_OK;
    if ((rc = money_card_load(db, version, MONEY_VIDEO, &pair[0], err, errlen)) != VS_OK ||
        (rc = money_card_load(db, version, MONEY_AD, &pair[1], err, errlen)) != VS_OK ||
        (rc = money_card_check(&pair[0], err, errlen)) != VS_OK ||
        (rc = money_card_check(&pair[1], err, errlen)) != VS_OK)
        return rc;
    read_card_publish(pair);
    return read_card_find(version, MONEY_VIDEO) != NULL ? VS_OK : VS_RESOURCE_EXHAUSTED;
}

/* 1 when the band lines of card over (before, after] add up to exact (what the SQL path checks). */
static int load_lines_match(const money_card *card, int64_t before, int64_t after, int64_t exact)
{
    money_line lines[MONEY_MAX_BANDS];
    int64_t sum = 0;
    int n;

    if (card == NULL || money_band_lines(card, before, after, lines, &n) != VS_OK)
        return 0;
    for (int i = 0; i < n; i++)
        sum += lines[i].amount_milli;
    return sum == exact;
}

/* Checks one joined row against the rules in read_model_table.h and makes its model row; why says
 * what is wrong otherwise. */
static int load_row(const int64_t *c, const model_videos *v, model_row *out, char *why,
                    size_t whylen)
{
    int64_t idx = model_video_find(v, (uint64_t)c[LC_VIDEO]);
    uint32_t version = (uint32_t)c[LC_VERSION];

    if (!c[LC_HAS_SETTLEMENT])
        snprintf(why, whylen, "video %lld has statistics but no settlement row",
                 (long long)c[LC_VIDEO]);
    else if (idx < 0 || (int64_t)v->creator[idx] != c[LC_STATS_CREATOR] ||
             c[LC_SETTLE_CREATOR] != c[LC_STATS_CREATOR])
        snprintf(why, whylen, "video %lld: creator differs between videos and the day's rows",
                 (long long)c[LC_VIDEO]);
    else if (c[LC_VIEWS] < 0 || c[LC_ADS] < 0 || c[LC_WATCH] < 0 ||
             c[LC_VIEWS_AFTER] - c[LC_VIEWS_BEFORE] != c[LC_VIEWS] ||
             c[LC_ADS_AFTER] - c[LC_ADS_BEFORE] != c[LC_ADS] ||
             c[LC_TOTAL_WON] != c[LC_VIDEO_WON] + c[LC_AD_WON])
        snprintf(why, whylen, "video %lld: statistics and settlement disagree",
                 (long long)c[LC_VIDEO]);
    else if (c[LC_VERSION] <= 0 || c[LC_VERSION] > UINT32_MAX ||
             !load_lines_match(read_card_find(version, MONEY_VIDEO), c[LC_VIEWS_BEFORE],
                               c[LC_VIEWS_AFTER], c[LC_VIDEO_EXACT]) ||
             !load_lines_match(read_card_find(version, MONEY_AD), c[LC_ADS_BEFORE], c[LC_ADS_AFTER],
                               c[LC_AD_EXACT]))
        snprintf(why, whylen, "video %lld: band lines of card %lld do not add up",
                 (long long)c[LC_VIDEO], (long long)c[LC_VERSION]);
    else {
        out->views_before = c[LC_VIEWS_BEFORE];
        out->ad_views_before = c[LC_ADS_BEFORE];
        out->views = c[LC_VIEWS];
        out->ad_views = c[LC_ADS];
        out->watch_s = c[LC_WATCH];
        out->video_won = c[LC_VIDEO_WON];
        out->ad_won = c[LC_AD_WON];
        out->version = version;
        out->video = (uint32_t)idx;
        return 1;
    }
    return 0;
}

/* The day made of b's rows over the videos v; NULL (why set) when a row fails its checks. */
static model_day *load_build(const day_build *b, const model_videos *v, business_date day,
                             uint64_t version, char *why, size_t whylen)
{
    model_day *d = calloc(1, sizeof *d);

    if (d == NULL || (d->index = malloc((v->n ? v->n : 1) * sizeof *d->index)) == NULL ||
        (d->rows = malloc((b->n ? b->n : 1) * sizeof *d->rows)) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    atomic_init(&d->refs, 1);
    d->day = day;
    d->version = version;
    d->n_index = (uint32_t)v->n;
    for (size_t i = 0; i < v->n; i++)
        d->index[i] = -1;
    for (size_t i = 0; i < b->n; i++) {
        if (!load_row(b->raw[i], v, &d->rows[i], why, whylen))
            goto fail;
        d->index[d->rows[i].video] = (int32_t)i;
    }
    d->n_rows = b->n;
    d->bytes = sizeof *d + v->n * sizeof *d->index + b->n * sizeof *d->rows;
    return d;
fail:
    if (d != NULL) {
        atomic_init(&d->refs, 1);
        model_day_put(d);
    }
    return NULL;
}

/* Whether b names a video v does not know (a video committed out of id order). */
static int load_unknown_video(const day_build *b, const model_videos *v)
{
    for (size_t i = 0; i < b->n; i++)
        if (model_video_find(v, (uint64_t)b->raw[i][LC_VIDEO]) < 0)
            return 1;
    return 0;
}

vs_status model_load_day(MYSQL *db, business_date day, uint64_t version, model_videos **videos,
                         model_day **out, char *err, size_t errlen)
{
    model_videos *old = *videos;
    model_videos_build vb = {0};
    day_build b = {0};
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    char sql[256], date[11], why[256];
    int64_t settlement_rows = -1;
    size_t added = 0, more = 0;
    int in_trx = 0, same = 0;
    vs_status rc;

    *out = NULL;
    window_format(day, date);
    if ((rc = db_exec(db, "START TRANSACTION WITH CONSISTENT SNAPSHOT", err, errlen)) != VS_OK)
        goto out;
    in_trx = 1;
    /* the identity first: everything read below is of that completion (one transaction) */
    snprintf(sql, sizeof sql,
             "SELECT state, attempt, finished_ms FROM batch_job WHERE name = "
             "'daily-settlement' AND business_date = '%s'",
             date);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        rc = db_status_from_errno(mysql_errno(db));
        snprintf(err, errlen, "read model: batch_job: %s", mysql_error(db));
        goto out;
    }
    row = mysql_fetch_row(res);
    same =
        row != NULL && row[0] && row[1] && row[2] && atoi(row[0]) == 4 &&
        settled_snapshot_version(strtoull(row[1], NULL, 10), strtoull(row[2], NULL, 10)) == version;
    mysql_free_result(res);
    if (!same)
        goto out; /* re-opened or re-completed since the snapshot: the next round sees it */
    if ((rc = model_videos_begin(old, &vb)) != VS_OK ||
        (rc = videos_fetch(db, old, &vb, old ? old->max_id : 0, UINT64_MAX, &added, err, errlen)) !=
            VS_OK ||
        (rc = model_videos_index(vb.v)) != VS_OK ||
        (rc = day_fetch(db, day, &b, err, errlen)) != VS_OK)
        goto out;
    if (old != NULL && load_unknown_video(&b, vb.v)) {
        if ((rc = videos_fetch(db, old, &vb, 0, old->max_id, &more, err, errlen)) != VS_OK ||
            (rc = model_videos_index(vb.v)) != VS_OK)
            goto out;
    }
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM settlement_daily WHERE day = '%s'", date);
    if ((rc = db_query_int(db, sql, &settlement_rows, err, errlen)) != VS_OK)
        goto out;
    for (size_t i = 0; i < b.n; i++) {
        uint32_t v = (uint32_t)b.raw[i][LC_VERSION];

        if (b.raw[i][LC_VERSION] > 0 && b.raw[i][LC_VERSION] <= UINT32_MAX &&
            read_card_find(v, MONEY_VIDEO) == NULL &&
            (rc = load_card(db, v, err, errlen)) != VS_OK) {
            if (rc != VS_INVALID_ARGUMENT && rc != VS_NOT_FOUND)
                goto out;
            rc = VS_OK; /* a bad or missing card: the row check below refuses the day */
        }
    }
    if (settlement_rows != (int64_t)b.n)
        snprintf(why, sizeof why, "%lld settlement rows but %zu statistics rows",
                 (long long)settlement_rows, b.n);
    else
        *out = load_build(&b, vb.v, day, version, why, sizeof why);
    if (*out == NULL)
        log_warn("read model: day %s not kept in memory (%s); the database answers it", date, why);
out:
    if (in_trx)
        db_exec(db, "ROLLBACK", sql, sizeof sql); /* read-only: nothing to keep */
    free(b.raw);
    if (rc == VS_OK && *out != NULL && (added > 0 || more > 0 || old == NULL)) {
        *videos = vb.v;
        model_videos_put(old);
    } else if (vb.v != NULL) {
        if (rc == VS_OK && *out != NULL)
            (*out)->n_index = (uint32_t)(old ? old->n : 0); /* same table as before */
        model_videos_put(vb.v); /* never published: the last reference */
    }
    return rc;
}
