/* merge_ledger.c — the merged day's entries in the money ledger (docs/rules.md, "The ledger"),
 * written in the merge's transaction.
 *
 * An entry per video whose figures of the day changed: the new figures minus the ones the day
 * had before this run (all of them on a first settlement). In an open month that is a day settled
 * (first settlement) or a day re-run; in a closed month it is an adjustment, booked in the first
 * open month after it: the closed month's statement stays as it was, and the difference reaches
 * the creator in the next statement. Summed per video, the ledger equals the video's daily
 * settlement amounts as they stand. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "merge_common.h"

/* The ledger's kinds (vs.v1.LedgerKind). */
enum { LEDGER_DAY_SETTLED = 1, LEDGER_DAY_RERUN = 2, LEDGER_ADJUSTMENT = 3 };

/* *closed = 1 when the day's month is closed, and *booked = the month its differences belong to:
 * its own, or the first open one after it. The share lock on the month's close record (its gap,
 * when there is none) holds a CloseMonth of this month back until the merge has committed. */
static vs_status ledger_month(merge_ctx *m, int *closed, business_date *booked)
{
    business_date month;
    char sql[256], first[11], found[16];
    int y, mo, d;
    vs_status rc;

    window_to_civil(m->job->day, &y, &mo, &d);
    month = window_from_civil(y, mo, 1);
    window_format(month, first);
    snprintf(sql, sizeof sql, "SELECT month FROM month_close WHERE month = '%s' LOCK IN SHARE MODE",
             first);
    rc = db_query_text(m->db, sql, found, sizeof found, m->err, m->errlen);
    if (rc != VS_OK && rc != VS_NOT_FOUND)
        return rc;
    *closed = rc == VS_OK;
    *booked = month;
    /* the first month after it that is not closed */
    while (*closed) {
        business_date next;

        window_to_civil(*booked, &y, &mo, &d);
        next = mo == 12 ? window_from_civil(y + 1, 1, 1) : window_from_civil(y, mo + 1, 1);
        window_format(next, first);
        snprintf(sql, sizeof sql, "SELECT month FROM month_close WHERE month = '%s'", first);
        rc = db_query_text(m->db, sql, found, sizeof found, m->err, m->errlen);
        *booked = next;
        if (rc == VS_NOT_FOUND)
            break;
        if (rc != VS_OK)
            return rc;
    }
    return VS_OK;
}

/* One entry; the differences are new minus old. */
static void ledger_row(merge_ctx *m, int kind, const char *booked, uint64_t video, uint64_t creator,
                       const int64_t diff[4], int64_t now)
{
    bulk_buf_i64(&m->buf, kind);
    bulk_buf_u64(&m->buf, m->job->id);
    bulk_buf_str(&m->buf, m->job->started_by);
    bulk_buf_str(&m->buf, m->job->reason);
    bulk_buf_str(&m->buf, m->job->date_text);
    bulk_buf_str(&m->buf, booked);
    bulk_buf_u64(&m->buf, video);
    bulk_buf_u64(&m->buf, creator);
    bulk_buf_u64(&m->buf, m->job->rate_card_version);
    for (int k = 0; k < 4; k++)
        bulk_buf_i64(&m->buf, diff[k]);
    bulk_buf_i64(&m->buf, diff[2] + diff[3]);
    bulk_buf_i64(&m->buf, now);
    bulk_buf_end_row(&m->buf);
}

vs_status merge_write_ledger(merge_ctx *m, const vmap *old, size_t *entries)
{
    business_date booked_day;
    char booked[11];
    int closed, kind;
    int64_t now = clock_now_ms(), written = 0;
    vs_status rc;

    *entries = 0;
    if ((rc = ledger_month(m, &closed, &booked_day)) != VS_OK)
        return rc;
    window_format(booked_day, booked);
    kind = closed ? LEDGER_ADJUSTMENT : old->count == 0 ? LEDGER_DAY_SETTLED : LEDGER_DAY_RERUN;
    for (size_t i = 0; i < m->n; i++) {
        const merge_video *v = &m->videos[i];
        const vmap_entry *o = vmap_find(old, v->video_id);
        int64_t diff[4] = {v->views, v->ad_views, v->video_won, v->ad_won};

        if (o != NULL) {
            diff[0] -= o->v[PV_VIEWS];
            diff[1] -= o->v[PV_ADS];
            diff[2] -= o->v[PV_VIDEO_WON];
            diff[3] -= o->v[PV_AD_WON];
        }
        if (diff[0] == 0 && diff[1] == 0 && diff[2] == 0 && diff[3] == 0)
            continue;
        ledger_row(m, kind, booked, v->video_id, v->creator_id, diff, now);
    }
    /* videos the day had and has no more: their figures go */
    for (size_t i = 0; i < old->capacity; i++) {
        const vmap_entry *o = &old->slots[i];
        int64_t diff[4];

        if (o->video_id == 0 || merge_find(m, o->video_id) != NULL)
            continue;
        diff[0] = -o->v[PV_VIEWS];
        diff[1] = -o->v[PV_ADS];
        diff[2] = -o->v[PV_VIDEO_WON];
        diff[3] = -o->v[PV_AD_WON];
        if (diff[0] == 0 && diff[1] == 0 && diff[2] == 0 && diff[3] == 0)
            continue;
        ledger_row(m, kind, booked, o->video_id, (uint64_t)o->v[PV_CREATOR], diff, now);
    }
    rc = bulk_buf_load(m->db, &m->buf, "ledger",
                       "kind, job_id, actor, reason, day, booked_month, video_id, creator_id,"
                       " rate_card_version, views, ad_views, video_won, ad_won, total_won, at_ms",
                       &written, m->err, m->errlen);
    *entries = (size_t)written;
    return rc;
}
