/* vs/stats.h — libvsclient calls for StreamingService's read path: a video's statistics for a day,
 * week or month, the top videos, and settlement (what videos earned, with the band breakdown).
 *
 * Each returns a vs_status (VS_OK on success) and, on success, the decoded reply in *out, owned by
 * the caller: free it with protobuf_c_message_free_unpacked(&(*out)->base, NULL). On failure *out
 * is NULL and status (may be NULL) says why.
 *
 * Periods are the vs.v1.Period values (VS__V1__PERIOD__DAY, __WEEK, __MONTH) and dates
 * "YYYY-MM-DD" (any day inside the period, business time zone). A reply's `complete` is true only
 * when every day of the period is settled; otherwise `status` says which days are missing and the
 * figures cover the settled days only. */
#ifndef VS_STATS_H_PUBLIC
#define VS_STATS_H_PUBLIC

#include <stdint.h>
#include <vs/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "day", "week", "month" → the vs.v1.Period value; 0 for anything else. */
int vs_period_from_name(const char *name);

/* The lower-case name of a vs.v1.Period value ("day"...), "?" for others. */
const char *vs_period_name(int period);

/* Views, watch seconds and ad views of a video over the period containing date, with one entry
 * per day. The video's creator or an admin. */
int vs_video_stats(vs_client *client, uint64_t video_id, int period, const char *date,
                   Vs__V1__VideoStats **out, vs_call_status *status);

/* Up to limit (0 = 5, at most 100) videos by metric (VS__V1__METRIC__VIEWS / __WATCH_TIME) over
 * the period, ties by video id. scope VS__V1__SCOPE__MINE: the caller's videos; __ALL: every
 * video (admins only). */
int vs_top_videos(vs_client *client, int period, const char *date, int metric, int scope,
                  uint32_t limit, Vs__V1__TopVideos **out, vs_call_status *status);

typedef struct vs_settlement_query {
    int period;
    const char *date;
    uint64_t video_id;   /* one video; 0 = the videos of creator_id */
    uint64_t creator_id; /* 0 = the caller; another creator's needs the admin role */
    int breakdown;       /* include the band lines */
    uint32_t limit;      /* most videos listed (highest total first); 0 = 1000, at most 5000 */
} vs_settlement_query;

/* Video, ad and total amounts (won) per video and the total over the period. */
int vs_settlement(vs_client *client, const vs_settlement_query *query, Vs__V1__Settlement **out,
                  vs_call_status *status);

#ifdef __cplusplus
}
#endif
#endif
