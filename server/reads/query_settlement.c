/* query_settlement.c — StreamingService.GetSettlement: what a video, or every video of a creator,
 * earned in a day, week or month (docs/rules.md, Settlement), with the band breakdown on request.
 *
 * A period's amounts are the sums of its settled days' settlement_daily rows, which telescope, so
 * they equal floor(F(lifetime at the end)/1000) − floor(F(lifetime before)/1000) exactly. The band
 * lines are rebuilt from each day's card version and lifetime interval with money_band_lines() and
 * must add up to the stored exact value; a mismatch is reported as DATA_LOSS rather than shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "band_sum.h"
#include "grow.h"
#include "query.h"

#define SETTLE_LIMIT_DEFAULT 1000
#define SETTLE_LIMIT_MAX 5000

/* Columns of a settlement row (kind 3) of READ_Q_SETTLE_VIDEO / READ_Q_SETTLE_CREATOR. */
enum {
    SC_DAY = 1,
    SC_VIDEO,
    SC_VERSION,
    SC_VIEWS_BEFORE,
    SC_VIEWS_AFTER,
    SC_AD_BEFORE,
    SC_AD_AFTER,
    SC_VIDEO_EXACT,
    SC_AD_EXACT,
    SC_VIDEO_WON,
    SC_AD_WON,
    SC_TOTAL_WON
};

/* A video's settlement and where its band lines start in the line storage (indexes, because
 * the storage may still move while videos are added). */
typedef struct settle_entry {
    Vs__V1__VideoSettlement v;
    size_t video_first, ad_first;
} settle_entry;

/* The reply's storage. */
typedef struct settle_out {
    settle_entry *entries;
    size_t n, cap;
    Vs__V1__VideoSettlement **ptrs;
    Vs__V1__BandLine *lines; /* all band lines of all videos */
    Vs__V1__BandLine **line_ptrs;
    size_t n_lines, lines_cap;
} settle_out;

static void settle_out_free(settle_out *o)
{
    free(o->entries);
    free(o->ptrs);
    free(o->lines);
    free(o->line_ptrs);
}

/* Adds one settled day's row to v (and its band lines to the sums when breakdown). */
static vs_status settle_add_row(vsd_thread *w, const read_row *row, business_date first,
                                int breakdown, Vs__V1__VideoSettlement *v, band_sum *vb,
                                band_sum *ab, int64_t *latest_day, char *err, size_t errlen)
{
    static const struct {
        money_kind kind;
        int before, after, exact;
    } kinds[2] = {{MONEY_VIDEO, SC_VIEWS_BEFORE, SC_VIEWS_AFTER, SC_VIDEO_EXACT},
                  {MONEY_AD, SC_AD_BEFORE, SC_AD_AFTER, SC_AD_EXACT}};
    uint32_t version = (uint32_t)row->v[SC_VERSION];

    v->video_won += row->v[SC_VIDEO_WON];
    v->ad_won += row->v[SC_AD_WON];
    v->total_won += row->v[SC_TOTAL_WON];
    v->views += row->v[SC_VIEWS_AFTER] - row->v[SC_VIEWS_BEFORE];
    v->ad_views += row->v[SC_AD_AFTER] - row->v[SC_AD_BEFORE];
    if (row->v[SC_DAY] >= *latest_day) {
        *latest_day = row->v[SC_DAY];
        v->rate_card_version = (int32_t)version;
    }
    if (!breakdown)
        return VS_OK;
    for (int k = 0; k < 2; k++) {
        money_line lines[MONEY_MAX_BANDS];
        const money_card *card;
        int64_t sum = 0;
        int n;
        vs_status rc;

        if ((rc = read_card(w, version, kinds[k].kind, &card, err, errlen)) != VS_OK)
            return rc;
        if (money_band_lines(card, row->v[kinds[k].before], row->v[kinds[k].after], lines, &n) !=
            VS_OK) {
            snprintf(err, errlen, "video %lld: lifetime counts %lld..%lld are out of range",
                     (long long)row->v[SC_VIDEO], (long long)row->v[kinds[k].before],
                     (long long)row->v[kinds[k].after]);
            return VS_DATA_LOSS;
        }
        for (int i = 0; i < n; i++)
            sum += lines[i].amount_milli;
        if (sum != row->v[kinds[k].exact]) {
            char day[11];

            window_format(first + (business_date)row->v[SC_DAY], day);
            snprintf(err, errlen,
                     "video %lld on %s: %s band lines of card %u sum to %lld milli-won but the "
                     "settlement row says %lld",
                     (long long)row->v[SC_VIDEO], day, k ? "ad" : "video", version, (long long)sum,
                     (long long)row->v[kinds[k].exact]);
            return VS_DATA_LOSS;
        }
        if ((rc = band_sum_add(k ? ab : vb, card, lines, n)) != VS_OK) {
            snprintf(err, errlen, "video %lld: band breakdown too large or overflowing",
                     (long long)row->v[SC_VIDEO]);
            return rc;
        }
    }
    return VS_OK;
}

/* Appends the lines of s to o's line storage; *first gets the index of the first. */
static vs_status settle_emit_lines(settle_out *o, const band_sum *s, size_t *first)
{
    if (grow_array(&o->lines, &o->lines_cap, o->n_lines + (size_t)s->n, sizeof *o->lines, 64,
                   SIZE_MAX) != VS_OK)
        return VS_RESOURCE_EXHAUSTED;
    *first = o->n_lines;
    for (int i = 0; i < s->n; i++) {
        Vs__V1__BandLine *l = &o->lines[o->n_lines++];

        vs__v1__band_line__init(l);
        l->rate_card_version = (int32_t)s->lines[i].version;
        l->from_ordinal = s->lines[i].first_ordinal;
        l->to_ordinal = s->lines[i].last_ordinal;
        l->units = s->lines[i].units;
        l->price_milli = s->lines[i].price_milli;
        l->amount_milli = s->lines[i].amount_milli;
    }
    return VS_OK;
}

/* Sums the settled rows of one video (rows[0..n), all of the same video) into a new entry of o;
 * *settled counts the rows that were on settled days. */
static vs_status settle_video(vsd_thread *w, const read_row *rows, size_t n, uint64_t video_id,
                              const char *title, const period_range *r, uint64_t mask,
                              int breakdown, settle_out *o, size_t *settled, char *err,
                              size_t errlen)
{
    band_sum vb, ab;
    settle_entry *e;
    int64_t latest_day = -1;
    vs_status rc;

    if (grow_array(&o->entries, &o->cap, o->n + 1, sizeof *o->entries, 16, SIZE_MAX) != VS_OK)
        return VS_RESOURCE_EXHAUSTED;
    e = &o->entries[o->n];
    memset(e, 0, sizeof *e);
    vs__v1__video_settlement__init(&e->v);
    e->v.video_id = video_id;
    e->v.title = (char *)title;
    band_sum_init(&vb);
    band_sum_init(&ab);
    *settled = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t day = rows[i].v[SC_DAY];

        /* rows of unsettled days (a forced re-run in progress) are not facts yet */
        if (day < 0 || day >= PERIOD_MAX_DAYS || !((mask >> day) & 1))
            continue;
        rc = settle_add_row(w, &rows[i], r->first, breakdown, &e->v, &vb, &ab, &latest_day, err,
                            errlen);
        if (rc != VS_OK)
            return rc;
        (*settled)++;
    }
    if (breakdown) {
        if ((rc = settle_emit_lines(o, &vb, &e->video_first)) != VS_OK ||
            (rc = settle_emit_lines(o, &ab, &e->ad_first)) != VS_OK)
            return rc;
        e->v.n_video_bands = (size_t)vb.n;
        e->v.n_ad_bands = (size_t)ab.n;
    }
    o->n++;
    return VS_OK;
}

/* Builds the pointer arrays of the reply once every line exists. */
static vs_status settle_link(settle_out *o, int breakdown)
{
    if ((o->ptrs = malloc((o->n ? o->n : 1) * sizeof *o->ptrs)) == NULL)
        return VS_RESOURCE_EXHAUSTED;
    if (breakdown &&
        (o->line_ptrs = malloc((o->n_lines ? o->n_lines : 1) * sizeof *o->line_ptrs)) == NULL)
        return VS_RESOURCE_EXHAUSTED;
    for (size_t i = 0; i < o->n_lines; i++)
        o->line_ptrs[i] = &o->lines[i];
    for (size_t i = 0; i < o->n; i++) {
        settle_entry *e = &o->entries[i];

        o->ptrs[i] = &e->v;
        if (breakdown) {
            e->v.video_bands = o->line_ptrs + e->video_first;
            e->v.ad_bands = o->line_ptrs + e->ad_first;
        }
    }
    return VS_OK;
}

static int settle_row_cmp(const void *a, const void *b)
{
    const read_row *x = a, *y = b;

    if (x->v[SC_VIDEO] != y->v[SC_VIDEO])
        return x->v[SC_VIDEO] < y->v[SC_VIDEO] ? -1 : 1;
    return x->v[SC_DAY] < y->v[SC_DAY] ? -1 : x->v[SC_DAY] > y->v[SC_DAY];
}

static int settle_total_cmp(const void *a, const void *b)
{
    const Vs__V1__VideoSettlement *x = &((const settle_entry *)a)->v;
    const Vs__V1__VideoSettlement *y = &((const settle_entry *)b)->v;

    if (x->total_won != y->total_won)
        return x->total_won > y->total_won ? -1 : 1;
    return x->video_id < y->video_id ? -1 : x->video_id > y->video_id;
}

/* Validates the request's fields other than period/date. */
static int settle_check_request(rpc_call *call, const Vs__V1__GetSettlementRequest *in)
{
    if (in->video_id != 0 && in->creator_id != 0) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "creator_id: give video_id or creator_id, not both (a video has one creator)");
        return 0;
    }
    if (in->limit > SETTLE_LIMIT_MAX) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "limit: at most %d videos (got %u)", SETTLE_LIMIT_MAX,
                 in->limit);
        return 0;
    }
    return 1;
}

void streaming_get_settlement(Vs__V1__StreamingService_Service *service,
                              const Vs__V1__GetSettlementRequest *in,
                              Vs__V1__Settlement_Closure closure, void *closure_data)
{
    rpc_call *call = closure_data;
    Vs__V1__Settlement out = VS__V1__SETTLEMENT__INIT;
    settle_out o = {0};
    char from[11], to[11], err[256];
    auth_principal who;
    period_range r;
    period_settlement ps;
    read_param p[4];
    read_result res;
    read_settled settled;
    const char *title = "";
    size_t n_fig = 0, settled_rows;
    uint64_t creator;
    uint32_t limit = in->limit ? in->limit : SETTLE_LIMIT_DEFAULT;
    int64_t subject;
    int is_admin;
    size_t start, end;
    vs_status rc;

    if (read_caller(call, &who, &is_admin) != VS_OK || !settle_check_request(call, in))
        goto fail;
    if (period_resolve(in->period, in->date, &r, err, sizeof err) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT, "%s", err);
        goto fail;
    }
    creator = in->creator_id ? in->creator_id : who.user_id;
    if (in->video_id == 0 && creator != who.user_id && !is_admin) {
        rpc_fail(call, VS_PERMISSION_DENIED,
                 "creator_id: another creator's settlement needs the admin role");
        goto fail;
    }
    query_params(&r, in->video_id ? in->video_id : creator, p);
    if (query_run(call, &r, in->video_id ? READ_Q_SETTLE_VIDEO : READ_Q_SETTLE_CREATOR, p, 4,
                  in->breakdown, &res, &settled, &subject, "reading settlement") != VS_OK)
        goto fail;
    if (in->video_id != 0 &&
        query_video_access(call, in->video_id, subject, &who, is_admin) != VS_OK)
        goto fail;
    if (in->video_id == 0 && subject < 0) {
        rpc_fail(call, VS_NOT_FOUND, "creator_id: no user %llu", (unsigned long long)creator);
        goto fail;
    }
    period_describe(&r, settled.mask, &ps);
    if (in->video_id != 0)
        title = res.rows[0].text; /* in every row, the figure-less one too; points into the arena */
    /* keep the figure rows (a subject without figures is one row with day -1) */
    for (size_t i = 0; i < res.n_rows; i++)
        if (res.rows[i].v[SC_DAY] >= 0 && res.rows[i].v[SC_VIDEO] != 0)
            res.rows[n_fig++] = res.rows[i];
    if (in->video_id != 0) {
        rc = settle_video(call->worker, res.rows, n_fig, in->video_id, title, &r, settled.mask,
                          in->breakdown, &o, &settled_rows, err, sizeof err);
        if (rc != VS_OK) {
            read_fail(call, rc, "summing settlement", err);
            goto fail;
        }
        o.entries[0].v.creator_id = (uint64_t)subject;
    } else {
        qsort(res.rows, n_fig, sizeof res.rows[0], settle_row_cmp);
        for (start = 0; start < n_fig; start = end) {
            for (end = start;
                 end < n_fig && res.rows[end].v[SC_VIDEO] == res.rows[start].v[SC_VIDEO]; end++)
                ;
            rc = settle_video(call->worker, &res.rows[start], end - start,
                              (uint64_t)res.rows[start].v[SC_VIDEO], res.rows[start].text, &r,
                              settled.mask, in->breakdown, &o, &settled_rows, err, sizeof err);
            if (rc != VS_OK) {
                read_fail(call, rc, "summing settlement", err);
                goto fail;
            }
            o.entries[o.n - 1].v.creator_id = creator;
            /* a video with rows only on unsettled days earned nothing that is a fact yet */
            if (settled_rows == 0)
                o.n--;
        }
    }
    for (size_t i = 0; i < o.n; i++)
        out.total_won += o.entries[i].v.total_won;
    out.videos_total = (uint32_t)o.n;
    if (o.n > 1) /* entries is NULL when there are none */
        qsort(o.entries, o.n, sizeof o.entries[0], settle_total_cmp);
    if (o.n > limit) {
        o.n = limit;
        out.truncated = 1;
    }
    if (settle_link(&o, in->breakdown) != VS_OK) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory building the reply");
        goto fail;
    }
    window_format(r.first, from);
    window_format(r.last, to);
    out.period = in->period;
    out.from_date = from;
    out.to_date = to;
    out.n_videos = o.n;
    out.videos = o.ptrs;
    out.complete = ps.complete;
    out.status = ps.status;
    out.days_settled = (uint32_t)ps.days_settled;
    out.days_total = (uint32_t)r.days;
    closure(&out, closure_data);
    settle_out_free(&o);
    return;
fail:
    settle_out_free(&o);
    closure(NULL, closure_data);
}
