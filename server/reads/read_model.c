/* read_model.c — the read path's settled days in memory (reads.h): the published snapshot, the
 * lookups that answer GetVideoStats / GetSettlement from it, and the loader thread that keeps it
 * in step with the settled-days snapshot of settled_snapshot.c. Loading one day is
 * read_model_load.c; the tables a snapshot is made of are read_model_table.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgthread.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "read_model_load.h"
#include "reads.h"

#define MODEL_ROUND_MS 100       /* how often the loader compares with the settled snapshot */
#define MODEL_STATS_LOG_MS 60000 /* hit/miss log line at most this often */
#define MODEL_IO_TIMEOUT_S 60    /* a hung server must not hang the loader for ever */
#define MODEL_REJECTED_MAX 64

/* What a read sees: a videos table and the loaded days, each table with a reference of its own.
 * Immutable once published. */
typedef struct model_snap {
    atomic_int refs;
    model_videos *videos;
    size_t n_days;
    model_day **days; /* ordered by day */
} model_snap;

static struct {
    int enabled;
    size_t max_days;      /* VS_READ_MODEL_DAYS: the newest settled days held */
    pthread_mutex_t lock; /* guards current (the pointer swap and taking a reference) */
    model_snap *current;
    atomic_uint_fast64_t hits, misses;
    bgthread loader; /* loads settled days in the background */
    /* loader-only */
    MYSQL *db;
    vsd_db_role db_role;
    settled_snapshot_day
        rejected[MODEL_REJECTED_MAX]; /* completions whose rows failed the checks */
    size_t n_rejected;
    int64_t stats_logged_ms;
    uint64_t stats_hits, stats_misses;
} model = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- snapshots ---- */

static void model_snap_put(model_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n_days; i++)
        model_day_put(s->days[i]);
    model_videos_put(s->videos);
    free(s->days);
    free(s);
}

static model_snap *model_snap_get(void)
{
    model_snap *s;

    pthread_mutex_lock(&model.lock);
    if ((s = model.current) != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&model.lock);
    return s;
}

/* Publishes the snapshot of videos and days[0..n) (references taken here). */
static vs_status model_publish(model_videos *videos, model_day *const *days, size_t n)
{
    model_snap *s = calloc(1, sizeof *s), *old;

    if (s == NULL || (s->days = malloc((n ? n : 1) * sizeof *s->days)) == NULL) {
        free(s);
        return VS_RESOURCE_EXHAUSTED;
    }
    atomic_init(&s->refs, 1);
    s->videos = videos;
    if (videos != NULL)
        atomic_fetch_add(&videos->refs, 1);
    for (size_t i = 0; i < n; i++) {
        s->days[i] = days[i];
        atomic_fetch_add(&days[i]->refs, 1);
    }
    s->n_days = n;
    pthread_mutex_lock(&model.lock);
    old = model.current;
    model.current = s;
    pthread_mutex_unlock(&model.lock);
    model_snap_put(old);
    return VS_OK;
}

static const model_day *model_find_day(const model_snap *s, business_date day)
{
    size_t lo = 0, hi = s->n_days;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->days[mid]->day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_days && s->days[lo]->day == day ? s->days[lo] : NULL;
}

/* ---- lookups ---- */

/* Sum of the band lines of card over (before, after]: the exact value the load checked the stored
 * column against. -1 when the card is not cached (cannot happen once a day is loaded). */
static int64_t model_exact(uint32_t version, money_kind kind, int64_t before, int64_t after)
{
    const money_card *card = read_card_find(version, kind);
    money_line lines[MONEY_MAX_BANDS];
    int64_t sum = 0;
    int n;

    if (card == NULL || money_band_lines(card, before, after, lines, &n) != VS_OK)
        return -1;
    for (int i = 0; i < n; i++)
        sum += lines[i].amount_milli;
    return sum;
}

/* Adds the settlement row of video (dense idx) on day offset i as read_exec's columns would
 * give it; 0 when out of memory or a card is missing. */
static int model_push_settlement(vsd_thread *w, const model_videos *v, uint32_t idx, int i,
                                 const model_row *m, uint64_t subject, int breakdown)
{
    read_row *row = read_arena_push(w, v->titles + v->title_off[idx]);

    if (row == NULL)
        return 0;
    row->v[0] = (int64_t)subject;
    row->v[1] = i;
    row->v[2] = (int64_t)v->id[idx];
    row->v[3] = m->version;
    row->v[4] = m->views_before;
    row->v[5] = m->views_before + m->views;
    row->v[6] = m->ad_views_before;
    row->v[7] = m->ad_views_before + m->ad_views;
    if (breakdown) {
        row->v[8] = model_exact(m->version, MONEY_VIDEO, row->v[4], row->v[5]);
        row->v[9] = model_exact(m->version, MONEY_AD, row->v[6], row->v[7]);
        if (row->v[8] < 0 || row->v[9] < 0)
            return 0;
    }
    row->v[10] = m->video_won;
    row->v[11] = m->ad_won;
    row->v[12] = m->video_won + m->ad_won;
    return 1;
}

/* The rows of q for subject id from s over the period's loaded days (days[i] NULL when day i is
 * not settled); 0 when the subject is not in the model or the arena is full. */
static int model_rows(vsd_thread *w, const model_snap *s, const period_range *r, read_query q,
                      uint64_t id, int breakdown, const model_day *const *days)
{
    const model_videos *v = s->videos;
    size_t first = 0, end = 0, pushed = 0;
    read_row *row;
    int64_t idx = -1;

    if (v == NULL)
        return 0;
    if (q == READ_Q_SETTLE_CREATOR) {
        model_creator_range(v, id, &first, &end);
        if (first == end)
            return 0; /* no video known: maybe not even a user (NOT_FOUND is the SQL path's) */
    } else if ((idx = model_video_find(v, id)) < 0) {
        return 0; /* maybe created a moment ago */
    }
    read_arena_reset(w);
    if (q == READ_Q_VIDEO_STATS) {
        for (int i = 0; i < r->days; i++) {
            const model_row *m = model_row_of(days[i], (uint32_t)idx);

            if (m == NULL)
                continue;
            if ((row = read_arena_push(w, "")) == NULL)
                return 0;
            row->v[0] = (int64_t)v->creator[idx];
            row->v[1] = i;
            row->v[2] = m->views;
            row->v[3] = m->watch_s;
            row->v[4] = m->ad_views;
            pushed++;
        }
    } else if (q == READ_Q_SETTLE_VIDEO) {
        for (int i = 0; i < r->days; i++) {
            const model_row *m = model_row_of(days[i], (uint32_t)idx);

            if (m != NULL &&
                !model_push_settlement(w, v, (uint32_t)idx, i, m, v->creator[idx], breakdown))
                return 0;
            pushed += m != NULL;
        }
    } else {
        for (size_t k = first; k < end; k++) {
            for (int i = 0; i < r->days; i++) {
                const model_row *m = model_row_of(days[i], v->by_creator[k]);

                if (m != NULL &&
                    !model_push_settlement(w, v, v->by_creator[k], i, m, id, breakdown))
                    return 0;
                pushed += m != NULL;
            }
        }
    }
    if (pushed == 0) {
        /* the subject without figures: SQL's one row of NULLs (LEFT JOIN) */
        if ((row = read_arena_push(w, q == READ_Q_SETTLE_VIDEO ? v->titles + v->title_off[idx]
                                                               : "")) == NULL)
            return 0;
        row->v[0] = q == READ_Q_SETTLE_CREATOR ? (int64_t)id : (int64_t)v->creator[idx];
        row->v[1] = -1;
    }
    return 1;
}

int read_model_run(vsd_thread *w, const period_range *r, read_query q, uint64_t id, int breakdown,
                   read_result *out, read_settled *settled)
{
    const model_day *days[PERIOD_MAX_DAYS];
    vsd_db_role role;
    model_snap *s;
    int ok = 0;

    if (!model.enabled)
        return 0;
    role = read_route_role(NULL);
    if (!settled_snapshot_lookup(role, r, settled) || (s = model_snap_get()) == NULL) {
        atomic_fetch_add_explicit(&model.misses, 1, memory_order_relaxed);
        return 0;
    }
    /* every settled day must be loaded under the completion the snapshot names (never a mix) */
    ok = 1;
    for (int i = 0; i < r->days && ok; i++) {
        days[i] = NULL;
        if ((settled->mask >> i) & 1) {
            days[i] = model_find_day(s, r->first + i);
            ok = days[i] != NULL && days[i]->version == settled->day_version[i];
        }
    }
    if (ok && (ok = model_rows(w, s, r, q, id, breakdown, days)))
        read_arena_result(w, role, out);
    model_snap_put(s);
    atomic_fetch_add_explicit(ok ? &model.hits : &model.misses, 1, memory_order_relaxed);
    return ok;
}

void read_model_snapshot(read_model_state *out)
{
    model_snap *s = model_snap_get();

    memset(out, 0, sizeof *out);
    out->enabled = model.enabled;
    out->hits = atomic_load(&model.hits);
    out->misses = atomic_load(&model.misses);
    if (s == NULL)
        return;
    out->days = s->n_days;
    if (s->videos != NULL) {
        out->videos = s->videos->n;
        out->bytes = s->videos->bytes;
    }
    for (size_t i = 0; i < s->n_days; i++) {
        out->rows += s->days[i]->n_rows;
        out->bytes += s->days[i]->bytes;
    }
    model_snap_put(s);
}

/* ---- the loader ---- */

/* The loader's connection to role's server (reconnected when reads moved to the other one). */
static MYSQL *model_connection(vsd_db_role role)
{
    const char *url = role == VSD_PRIMARY ? vsd_cfg.db_primary : vsd_cfg.db_replica;
    char err[256];

    if (model.db != NULL && model.db_role != role) {
        mysql_close(model.db);
        model.db = NULL;
    }
    if (model.db == NULL) {
        if (db_connect_io(url, 3, MODEL_IO_TIMEOUT_S, &model.db, err, sizeof err) != VS_OK ||
            db_exec(model.db, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", err,
                    sizeof err) != VS_OK) {
            log_warn("read model: cannot connect to the %s: %s",
                     role == VSD_PRIMARY ? "primary" : "replica", err);
            if (model.db != NULL)
                mysql_close(model.db);
            model.db = NULL;
            return NULL;
        }
        model.db_role = role;
    }
    return model.db;
}

static int model_is_rejected(const settled_snapshot_day *d)
{
    for (size_t i = 0; i < model.n_rejected; i++)
        if (model.rejected[i].day == d->day && model.rejected[i].version == d->version)
            return 1;
    return 0;
}

static int model_stopping(void)
{
    return bgthread_stopping(&model.loader);
}

/* Loads settled day d and publishes the snapshot with it (replacing an older completion). */
static void model_load_one(model_snap *cur, const settled_snapshot_day *d, vsd_db_role role)
{
    model_videos *videos = cur ? cur->videos : NULL;
    model_day *day = NULL, **days;
    size_t n = 0, total_rows = 0, total_bytes;
    int64_t t0 = clock_mono_ms();
    char err[256], date[11];
    MYSQL *db = model_connection(role);
    int placed = 0;
    vs_status rc;

    if (db == NULL)
        return;
    if (videos != NULL)
        atomic_fetch_add(&videos->refs, 1);
    rc = model_load_day(db, d->day, d->version, &videos, &day, err, sizeof err);
    window_format(d->day, date);
    if (rc != VS_OK) {
        log_warn("read model: loading %s failed: %s", date, err);
        if (rc == VS_UNAVAILABLE || mysql_errno(db) >= 2000) {
            mysql_close(model.db);
            model.db = NULL;
        }
        model_videos_put(videos);
        return;
    }
    if (day == NULL) {
        if (model.n_rejected < MODEL_REJECTED_MAX)
            model.rejected[model.n_rejected++] = *d;
        model_videos_put(videos);
        return;
    }
    /* the current days in date order, d's new load in place of an older one */
    days = malloc(((cur ? cur->n_days : 0) + 1) * sizeof *days);
    for (size_t i = 0; days != NULL && cur != NULL && i < cur->n_days; i++) {
        if (!placed && cur->days[i]->day > d->day) {
            days[n++] = day;
            placed = 1;
        }
        if (cur->days[i]->day != d->day)
            days[n++] = cur->days[i];
    }
    if (days != NULL && !placed)
        days[n++] = day;
    total_bytes = videos->bytes;
    for (size_t i = 0; i < n; i++) {
        total_rows += days[i]->n_rows;
        total_bytes += days[i]->bytes;
    }
    if (days == NULL || model_publish(videos, days, n) != VS_OK)
        log_warn("read model: out of memory publishing %s", date);
    else
        log_info(
            "read model: %s loaded from the %s: %zu rows in %lld ms (%.1f MB); model %zu days, "
            "%zu videos, %zu rows, %.1f MB",
            date, role == VSD_PRIMARY ? "primary" : "replica", day->n_rows,
            (long long)(clock_mono_ms() - t0), (double)day->bytes / 1048576.0, n, videos->n,
            total_rows, (double)total_bytes / 1048576.0);
    free(days);
    model_day_put(day);
    model_videos_put(videos);
}

/* Drops the loaded days that are not in settled: days a forced re-run re-opened (they come back
 * when they complete again) and days older than the newest max_days. */
static void model_drop_unsettled(model_snap *cur, const settled_snapshot_day *settled,
                                 size_t n_settled)
{
    model_day **keep;
    size_t n = 0, j = 0;

    if (cur == NULL || (keep = malloc((cur->n_days + 1) * sizeof *keep)) == NULL)
        return;
    for (size_t i = 0; i < cur->n_days; i++) {
        while (j < n_settled && settled[j].day < cur->days[i]->day)
            j++;
        if (j < n_settled && settled[j].day == cur->days[i]->day)
            keep[n++] = cur->days[i];
    }
    if (n < cur->n_days && model_publish(cur->videos, keep, n) == VS_OK)
        log_info("read model: %zu day(s) dropped (re-opened by a re-run, or older than the newest "
                 "%zu settled days)",
                 cur->n_days - n, model.max_days);
    free(keep);
}

static void model_log_stats(void)
{
    int64_t now = clock_mono_ms();
    uint64_t hits = atomic_load(&model.hits), misses = atomic_load(&model.misses);

    if (now - model.stats_logged_ms < MODEL_STATS_LOG_MS ||
        (hits == model.stats_hits && misses == model.stats_misses))
        return;
    log_info("read model: %llu reads answered from memory, %llu by the database since the last "
             "report",
             (unsigned long long)(hits - model.stats_hits),
             (unsigned long long)(misses - model.stats_misses));
    model.stats_logged_ms = now;
    model.stats_hits = hits;
    model.stats_misses = misses;
}

/* One round: compare with the settled days and load what is missing or out of date. */
static void model_round(void)
{
    settled_snapshot_day *settled;
    vsd_db_role role;
    size_t n;

    model_log_stats();
    if (!settled_snapshot_days(&role, &settled, &n))
        return;
    if (n > model.max_days) {
        /* the newest days only (settled is in day order): older periods are read with SQL */
        memmove(settled, settled + (n - model.max_days), model.max_days * sizeof *settled);
        n = model.max_days;
    }
    /* newest first: the periods asked about most are ready soonest after a start */
    for (size_t k = 0; k < n && !model_stopping(); k++) {
        size_t i = n - 1 - k;
        model_snap *cur = model_snap_get();
        const model_day *have = cur ? model_find_day(cur, settled[i].day) : NULL;

        if ((have == NULL || have->version != settled[i].version) &&
            !model_is_rejected(&settled[i]))
            model_load_one(cur, &settled[i], role);
        model_snap_put(cur);
    }
    if (!model_stopping()) {
        model_snap *cur = model_snap_get();

        model_drop_unsettled(cur, settled, n);
        model_snap_put(cur);
    }
    free(settled);
}

/* The loader thread: a round, then MODEL_ROUND_MS of rest, until vsd stops. */
static void model_loader(bgthread *t, void *arg)
{
    (void)arg;
    do
        model_round();
    while (!bgthread_wait(t, MODEL_ROUND_MS));
}

vs_status read_model_start(char *err, size_t errlen)
{
    const char *mode = config_get("VS_READ_MODEL", "on");
    int64_t max_days;
    vs_status rc;

    if (strcmp(mode, "on") != 0 && strcmp(mode, "off") != 0) {
        snprintf(err, errlen, "VS_READ_MODEL: must be on or off (got \"%s\")", mode);
        return VS_INVALID_ARGUMENT;
    }
    if ((rc = config_get_int("VS_READ_MODEL_DAYS", 120, 1, 100000, &max_days, err, errlen)) !=
        VS_OK)
        return rc;
    model.max_days = (size_t)max_days;
    model.enabled = strcmp(mode, "on") == 0;
    if (!model.enabled) {
        log_info("read model: off (VS_READ_MODEL=off): every read queries the database");
        return VS_OK;
    }
    model.stats_logged_ms = clock_mono_ms();
    if ((rc = bgthread_start(&model.loader, "vsd-read-model", model_loader, NULL, err, errlen)) !=
        VS_OK)
        return rc;
    log_info("read model: on; the newest %zu settled days are loaded in the background",
             model.max_days);
    return VS_OK;
}

void read_model_stop(void)
{
    model_snap *s;

    if (model.loader.running) {
        bgthread_stop(&model.loader);
        log_info("read model: %llu reads answered from memory, %llu by the database",
                 (unsigned long long)atomic_load(&model.hits),
                 (unsigned long long)atomic_load(&model.misses));
    }
    if (model.db != NULL)
        mysql_close(model.db);
    model.db = NULL;
    pthread_mutex_lock(&model.lock);
    s = model.current;
    model.current = NULL;
    pthread_mutex_unlock(&model.lock);
    model_snap_put(s);
}
