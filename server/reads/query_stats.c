/* query_stats.c — StreamingService.GetVideoStats and GetTopVideos: per-video figures of a day,
 * week or month with its daily series, and the precomputed top-N lists (docs/batch.md).
 *
 * Both report how settled the period is (complete, status, days_settled/days_total): figures of
 * days whose settlement batch has not completed are left out, never shown as zeros that look
 * final. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "topn_rank.h"

void query_params(const period_range *r, uint64_t id, read_param p[4])
{
    p[0] = READ_DATE(r->first); /* day offsets are relative to the first day */
    p[1] = READ_DATE(r->first);
    p[2] = READ_DATE(r->last);
    p[3] = READ_INT(id);
}

vs_status query_run(rpc_call *call, const period_range *r, read_query q, const read_param *p, int n,
                    int breakdown, read_result *res, read_settled *settled, int64_t *subject,
                    const char *what)
{
    char err[256];
    vs_status rc;

    /* before anything that may touch a connection: a hit costs no I/O at all */
    if (n == 4 && read_model_run(call->worker, r, q, (uint64_t)p[3].i64, breakdown, res, settled)) {
        *subject = res->rows[0].v[0];
        return VS_OK;
    }
    rc = read_run(call->worker, r, q, p, n, res, settled, err, sizeof err);
    /* unknown to the replica: it may have been created a moment ago, so ask the primary
     * (read-your-writes) before answering NOT_FOUND */
    if (rc == VS_OK && res->n_rows == 0 && res->served_by == VSD_REPLICA)
        rc = read_run_on(call->worker, VSD_PRIMARY, r, q, p, n, res, settled, err, sizeof err);
    if (rc != VS_OK) {
        read_fail(call, rc, what, err);
        return rc;
    }
    *subject = res->n_rows > 0 ? res->rows[0].v[0] : -1;
    return VS_OK;
}

vs_status query_video_access(rpc_call *call, uint64_t video_id, int64_t creator,
                             const auth_principal *who, int is_admin)
{
    if (creator < 0) {
        rpc_fail(call, VS_NOT_FOUND, "video_id: no video %llu", (unsigned long long)video_id);
        return VS_NOT_FOUND;
    }
    if ((uint64_t)creator != who->user_id && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "video_id: video %llu belongs to another creator (only its creator or an admin "
                 "may see its figures)",
                 (unsigned long long)video_id);
        return VS_PERMISSION_DENIED;
    }
    return VS_OK;
}

void streaming_get_video_stats(Vs__V1__StreamingService_Service *service,
                               const Vs__V1__GetVideoStatsRequest *in,
                               Vs__V1__VideoStats_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__VideoStats out = VS__V1__VIDEO_STATS__INIT;
    Vs__V1__DayStats days[PERIOD_MAX_DAYS], *day_ptrs[PERIOD_MAX_DAYS];
    char dates[PERIOD_MAX_DAYS][11], from[11], to[11], err[256];
    auth_principal who;
    period_range r;
    period_settlement ps;
    read_settled settled;
    read_param p[4];
    read_result res;
    int64_t creator;
    int is_admin;

    if (read_caller(call, &who, &is_admin) != VS_OK)
        goto fail;
    if (in->video_id == 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "video_id: required");
        goto fail;
    }
    if (period_resolve(in->period, in->date, &r, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    query_params(&r, in->video_id, p);
    if (query_run(call, &r, READ_Q_VIDEO_STATS, p, 4, 0, &res, &settled, &creator,
                  "reading statistics") != VS_OK ||
        query_video_access(call, in->video_id, creator, &who, is_admin) != VS_OK)
        goto fail;
    period_describe(&r, settled.mask, &ps);
    for (int i = 0; i < r.days; i++) {
        vs__v1__day_stats__init(&days[i]);
        window_format(r.first + i, dates[i]);
        days[i].date = dates[i];
        days[i].settled = (settled.mask >> i) & 1;
        day_ptrs[i] = &days[i];
    }
    for (size_t i = 0; i < res.n_rows; i++) {
        const read_row *row = &res.rows[i];
        int64_t d = row->v[1];

        /* -1: no figures at all; rows of unsettled days (a forced re-run) are not facts yet */
        if (d < 0 || d >= r.days || !days[d].settled)
            continue;
        days[d].views = row->v[2];
        days[d].watch_s = row->v[3];
        days[d].ad_views = row->v[4];
        out.views += row->v[2];
        out.watch_s += row->v[3];
        out.ad_views += row->v[4];
    }
    window_format(r.first, from);
    window_format(r.last, to);
    out.video_id = in->video_id;
    out.period = in->period;
    out.from_date = from;
    out.to_date = to;
    out.n_days = (size_t)r.days;
    out.days = day_ptrs;
    out.complete = ps.complete;
    out.status = ps.status;
    out.days_settled = (uint32_t)ps.days_settled;
    out.days_total = (uint32_t)r.days;
    closure(&out, closure_data);
    return;
fail:
    closure(NULL, closure_data);
}

/* Validates GetTopVideos' fields; the call is marked failed when they are bad. */
static int query_top_check(rpc_call *call, const Vs__V1__GetTopVideosRequest *in, int is_admin,
                           period_range *r, uint32_t *limit)
{
    char err[256];

    if (period_resolve(in->period, in->date, r, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        return 0;
    }
    if (in->metric != VS__V1__METRIC__VIEWS && in->metric != VS__V1__METRIC__WATCH_TIME) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "metric: must be VIEWS or WATCH_TIME (got %d)",
                 (int)in->metric);
        return 0;
    }
    if (in->scope != VS__V1__SCOPE__SCOPE_UNSPECIFIED && in->scope != VS__V1__SCOPE__ALL &&
        in->scope != VS__V1__SCOPE__MINE) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "scope: must be ALL or MINE (got %d)", (int)in->scope);
        return 0;
    }
    if (!topn_limit(in->limit, limit)) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most %d (got %u)", TOPN_MAX, in->limit);
        return 0;
    }
    if (in->scope == VS__V1__SCOPE__ALL && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "scope: ALL ranks every creator's videos and needs the admin role; ask for MINE");
        return 0;
    }
    return 1;
}

/* The top list of the request from the database: the whole list (100) for the global scope, so
 * it can be cached and serve any limit; *list holds it in the thread's row arena as entries. */
static vs_status query_top_read(rpc_call *call, const period_range *r, int metric, uint64_t creator,
                                uint32_t limit, read_settled *settled, read_top_entry *list,
                                size_t *n)
{
    read_param p[5];
    read_result res;
    char err[256];
    vs_status rc;

    p[0] = READ_INT(r->kind);
    p[1] = READ_DATE(r->first);
    p[2] = READ_INT(metric);
    p[3] = READ_INT(creator);
    p[4] = READ_INT(creator == 0 ? TOPN_MAX : limit);
    rc = read_run(call->worker, r, READ_Q_TOP, p, 5, &res, settled, err, sizeof err);
    if (rc != VS_OK) {
        read_fail(call, rc, "reading the top videos", err);
        return rc;
    }
    *n = 0;
    for (size_t i = 0; i < res.n_rows && *n < TOPN_MAX; i++) {
        const read_row *row = &res.rows[i];
        read_top_entry *e = &list[(*n)++];

        e->rank = (uint32_t)row->v[0];
        e->video_id = (uint64_t)row->v[1];
        e->value = row->v[2];
        e->creator_id = (uint64_t)row->v[3];
        e->title = row->text;
    }
    /* a list of a period with re-opened days is replaced by query_top_settled: never cached */
    if (creator == 0 && settled->reopened == 0)
        read_top_store(r->kind, r->first, metric, settled, list, *n);
    return VS_OK;
}

/* The top list of the request summed from video_daily_stats over the days settled->mask calls
 * settled: while a forced re-run is in progress, video_top still ranks the re-opened days' old
 * figures. Slower than the stored list (it groups the period's rows) and not cached. */
static vs_status query_top_settled(rpc_call *call, const period_range *r, int metric,
                                   uint64_t creator, uint32_t limit, const read_settled *settled,
                                   read_top_entry *list, size_t *n)
{
    read_param p[8];
    read_result res;
    char err[256];
    vs_status rc;

    *n = 0;
    if (settled->mask == 0)
        return VS_OK; /* nothing settled: nothing to rank */
    p[0] = READ_INT(metric);
    p[1] = READ_DATE(r->first);
    p[2] = READ_DATE(r->last);
    p[3] = READ_INT(settled->mask);
    p[4] = READ_DATE(r->first);
    p[5] = READ_INT(creator);
    p[6] = READ_INT(creator);
    p[7] = READ_INT(limit);
    rc = read_run(call->worker, NULL, READ_Q_TOP_SETTLED, p, 8, &res, NULL, err, sizeof err);
    if (rc != VS_OK) {
        read_fail(call, rc, "ranking the settled days' videos", err);
        return rc;
    }
    for (size_t i = 0; i < res.n_rows && *n < TOPN_MAX; i++) {
        const read_row *row = &res.rows[i];
        read_top_entry *e = &list[(*n)++];

        e->rank = (uint32_t)*n; /* the rows come in rank order */
        e->video_id = (uint64_t)row->v[0];
        e->value = row->v[1];
        e->creator_id = (uint64_t)row->v[2];
        e->title = row->text;
    }
    return VS_OK;
}

void streaming_get_top_videos(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetTopVideosRequest *in,
                              Vs__V1__TopVideos_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__TopVideos out = VS__V1__TOP_VIDEOS__INIT;
    Vs__V1__TopEntry entries[TOPN_MAX], *entry_ptrs[TOPN_MAX];
    read_top_entry fresh[TOPN_MAX];
    const read_top_entry *list = fresh;
    read_top_list *cached = NULL;
    char from[11], to[11];
    auth_principal who;
    period_range r;
    period_settlement ps;
    read_settled settled;
    uint32_t limit;
    size_t n = 0;
    int is_admin, snapshot;
    uint64_t creator;

    if (read_caller(call, &who, &is_admin) != VS_OK ||
        !query_top_check(call, in, is_admin, &r, &limit))
        goto fail;
    /* unspecified scope is MINE: the one every caller may ask for */
    creator = in->scope == VS__V1__SCOPE__ALL ? 0 : who.user_id;
    snapshot = settled_snapshot_lookup(read_route_role(NULL), &r, &settled);
    if (snapshot && settled.reopened == 0 && creator == 0)
        cached = read_top_get(r.kind, r.first, in->metric, &settled, &list, &n);
    /* the stored list (it also tells the settled days when the snapshot cannot), unless the
     * snapshot already says a forced re-run has re-opened days of the period */
    if (cached == NULL && !(snapshot && settled.reopened != 0) &&
        query_top_read(call, &r, in->metric, creator, limit, &settled, fresh, &n) != VS_OK)
        goto fail;
    if (settled.reopened != 0 &&
        query_top_settled(call, &r, in->metric, creator, limit, &settled, fresh, &n) != VS_OK)
        goto fail;
    period_describe(&r, settled.mask, &ps);
    /* with no settled day the table holds nothing that is a fact yet (a forced re-run) */
    for (size_t i = 0; i < n && out.n_entries < limit && ps.days_settled > 0; i++) {
        Vs__V1__TopEntry *e = &entries[out.n_entries];

        vs__v1__top_entry__init(e);
        e->rank = list[i].rank;
        e->video_id = list[i].video_id;
        e->value = list[i].value;
        e->creator_id = list[i].creator_id;
        e->title = (char *)list[i].title;
        entry_ptrs[out.n_entries++] = e;
    }
    window_format(r.first, from);
    window_format(r.last, to);
    out.period = in->period;
    out.from_date = from;
    out.to_date = to;
    out.metric = in->metric;
    out.entries = entry_ptrs;
    out.complete = ps.complete;
    out.status = ps.status;
    out.days_settled = (uint32_t)ps.days_settled;
    out.days_total = (uint32_t)r.days;
    closure(&out, closure_data);
    read_top_put(cached);
    return;
fail:
    closure(NULL, closure_data);
}
