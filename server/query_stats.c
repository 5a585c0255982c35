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

#define QUERY_TOP_DEFAULT 5
#define QUERY_TOP_MAX 100

vs_status query_run(rpc_call *call, read_query q, const read_param *p, int n, read_result *res,
                    int64_t *subject, const char *what)
{
    char err[256];
    vs_status rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = attempt == 0 ? read_run(call->worker, q, p, n, res, err, sizeof err)
                          : read_run_on(call->worker, VSD_PRIMARY, q, p, n, res, err, sizeof err);
        if (rc != VS_OK) {
            read_fail(call, rc, what, err);
            return rc;
        }
        *subject = -1;
        for (size_t i = 0; i < res->n_rows; i++)
            if (res->rows[i].v[0] == 1)
                *subject = res->rows[i].v[1];
        /* unknown to the replica: it may have been created a moment ago, so ask the primary
         * (read-your-writes) before answering NOT_FOUND */
        if (*subject >= 0 || res->served_by == VSD_PRIMARY)
            break;
    }
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

uint64_t query_settled_mask(const read_result *res)
{
    for (size_t i = 0; i < res->n_rows; i++)
        if (res->rows[i].v[0] == 2)
            return (uint64_t)res->rows[i].v[1];
    return 0;
}

void query_period_params(const period_range *r, read_param *p)
{
    /* the settled-mask subquery: first, first, last */
    p[0] = READ_DATE(r->first);
    p[1] = READ_DATE(r->first);
    p[2] = READ_DATE(r->last);
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
    read_param p[8];
    read_result res;
    uint64_t mask;
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
    p[0] = READ_INT(in->video_id);
    query_period_params(&r, &p[1]);
    p[4] = READ_DATE(r.first);
    p[5] = READ_INT(in->video_id);
    p[6] = READ_DATE(r.first);
    p[7] = READ_DATE(r.last);
    if (query_run(call, READ_Q_VIDEO_STATS, p, 8, &res, &creator, "reading statistics") != VS_OK ||
        query_video_access(call, in->video_id, creator, &who, is_admin) != VS_OK)
        goto fail;
    mask = query_settled_mask(&res);
    period_describe(&r, mask, &ps);
    for (int i = 0; i < r.days; i++) {
        vs__v1__day_stats__init(&days[i]);
        window_format(r.first + i, dates[i]);
        days[i].date = dates[i];
        days[i].settled = (mask >> i) & 1;
        day_ptrs[i] = &days[i];
    }
    for (size_t i = 0; i < res.n_rows; i++) {
        const read_row *row = &res.rows[i];
        int64_t d = row->v[1];

        /* rows of unsettled days (a forced re-run in progress) are not facts yet */
        if (row->v[0] != 3 || d < 0 || d >= r.days || !days[d].settled)
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

static int query_rank_cmp(const void *a, const void *b)
{
    const Vs__V1__TopEntry *x = a, *y = b;

    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

void streaming_get_top_videos(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetTopVideosRequest *in,
                              Vs__V1__TopVideos_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__TopVideos out = VS__V1__TOP_VIDEOS__INIT;
    Vs__V1__TopEntry entries[QUERY_TOP_MAX], *entry_ptrs[QUERY_TOP_MAX];
    char from[11], to[11], err[256];
    auth_principal who;
    period_range r;
    period_settlement ps;
    read_param p[8];
    read_result res;
    uint32_t limit = in->limit ? in->limit : QUERY_TOP_DEFAULT;
    int is_admin, all;
    vs_status rc;

    if (read_caller(call, &who, &is_admin) != VS_OK)
        goto fail;
    if (period_resolve(in->period, in->date, &r, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    if (in->metric != VS__V1__METRIC__VIEWS && in->metric != VS__V1__METRIC__WATCH_TIME) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "metric: must be VIEWS or WATCH_TIME (got %d)",
                 (int)in->metric);
        goto fail;
    }
    if (in->scope != VS__V1__SCOPE__SCOPE_UNSPECIFIED && in->scope != VS__V1__SCOPE__ALL &&
        in->scope != VS__V1__SCOPE__MINE) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "scope: must be ALL or MINE (got %d)", (int)in->scope);
        goto fail;
    }
    if (limit > QUERY_TOP_MAX) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most %d (got %u)", QUERY_TOP_MAX, limit);
        goto fail;
    }
    /* unspecified scope is MINE: the one every caller may ask for */
    all = in->scope == VS__V1__SCOPE__ALL;
    if (all && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "scope: ALL ranks every creator's videos and needs the admin role; ask for MINE");
        goto fail;
    }
    query_period_params(&r, &p[0]);
    p[3] = READ_INT(r.kind);
    p[4] = READ_DATE(r.first);
    p[5] = READ_INT(in->metric);
    p[6] = READ_INT(all ? 0 : who.user_id);
    p[7] = READ_INT(limit);
    if ((rc = read_run(call->worker, READ_Q_TOP, p, 8, &res, err, sizeof err)) != VS_OK) {
        read_fail(call, rc, "reading the top videos", err);
        goto fail;
    }
    period_describe(&r, query_settled_mask(&res), &ps);
    /* with no settled day the table holds nothing that is a fact yet (a forced re-run) */
    for (size_t i = 0; i < res.n_rows && out.n_entries < limit && ps.days_settled > 0; i++) {
        const read_row *row = &res.rows[i];
        Vs__V1__TopEntry *e = &entries[out.n_entries];

        if (row->v[0] != 3)
            continue;
        vs__v1__top_entry__init(e);
        e->rank = (uint32_t)row->v[1];
        e->video_id = (uint64_t)row->v[2];
        e->value = row->v[3];
        e->creator_id = (uint64_t)row->v[4];
        e->title = (char *)row->text;
        entry_ptrs[out.n_entries++] = e;
    }
    qsort(entries, out.n_entries, sizeof entries[0], query_rank_cmp);
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
    return;
fail:
    closure(NULL, closure_data);
}
