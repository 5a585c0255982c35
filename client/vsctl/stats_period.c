/* stats_period.c — `vsctl stats video` and `vsctl stats top`: settled statistics of a day, ISO
 * week or month from the batch's tables (the read path; `stats live` is today's Redis view). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/stats.h>

#include "config.h"
#include "vsctl.h"
#include "window.h"

static const char stats_video_usage[] =
    "usage: vsctl [--json] stats video VIDEO_ID --period day|week|month --date YYYY-MM-DD\n"
    "\n"
    "Views, watch time and ad views of one of your videos (any video for an admin) over the day,\n"
    "ISO week (Monday-Sunday) or calendar month containing --date, day by day. Only days whose\n"
    "settlement batch has completed have figures; the header says how settled the period is.\n";

static const char stats_top_usage[] =
    "usage: vsctl [--json] stats top --period day|week|month --date YYYY-MM-DD\n"
    "                                --by views|watch [--mine] [--limit N]\n"
    "\n"
    "The top videos of the period by views or by watch time (ties by video id), 5 unless\n"
    "--limit (at most 100). Every video needs the admin role; --mine ranks your own videos.\n";

int vsctl_period_arg(const char *cmd, const char *text, int *period)
{
    *period = vs_period_from_name(text);
    if (*period == 0) {
        fprintf(stderr, "vsctl %s: --period: expected day, week or month, got \"%s\"\n", cmd,
                text ? text : "");
        return -1;
    }
    return 0;
}

int vsctl_date_arg(const char *cmd, const char *text)
{
    business_date d;
    char err[128];

    if (text == NULL || window_parse(text, &d) != VS_OK) {
        fprintf(stderr, "vsctl %s: --date: expected a date YYYY-MM-DD, got \"%s\"\n", cmd,
                text ? text : "");
        return -1;
    }
    /* the server's rule, checked here too so the answer needs no round trip */
    if (window_check_accepted("--date", d, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

/* "week 2026-11-23..2026-11-29" */
static void stats_period_label(int period, const char *from, const char *to, char *buf, size_t len)
{
    if (strcmp(from, to) == 0)
        snprintf(buf, len, "%s %s", vs_period_name(period), from);
    else
        snprintf(buf, len, "%s %s..%s", vs_period_name(period), from, to);
}

static void stats_video_print(const Vs__V1__VideoStats *s)
{
    vsctl_table *t = vsctl_table_new("lrrrl");
    char label[64], a[32], b[32], c[32];

    stats_period_label(s->period, s->from_date, s->to_date, label, sizeof label);
    printf("video %llu, %s: %s\n\n", (unsigned long long)s->video_id, label, s->status);
    vsctl_table_row(t, "DATE", "VIEWS", "WATCH_S", "AD_VIEWS", "");
    for (size_t i = 0; i < s->n_days; i++) {
        const Vs__V1__DayStats *d = s->days[i];

        if (d->settled)
            vsctl_table_row(t, d->date, vsctl_thousands(d->views, a, sizeof a),
                            vsctl_thousands(d->watch_s, b, sizeof b),
                            vsctl_thousands(d->ad_views, c, sizeof c), "");
        else
            vsctl_table_row(t, d->date, "-", "-", "-", "not settled");
    }
    vsctl_table_row(t, "total", vsctl_thousands(s->views, a, sizeof a),
                    vsctl_thousands(s->watch_s, b, sizeof b),
                    vsctl_thousands(s->ad_views, c, sizeof c),
                    s->complete ? "" : "settled days only");
    vsctl_table_print(t, stdout, "");
    vsctl_table_free(t);
}

static json_t *stats_video_json(const Vs__V1__VideoStats *s)
{
    json_t *days = json_array();

    for (size_t i = 0; i < s->n_days; i++) {
        const Vs__V1__DayStats *d = s->days[i];

        json_array_append_new(days, json_pack("{s:s,s:b,s:I,s:I,s:I}", "date", d->date, "settled",
                                              d->settled, "views", (json_int_t)d->views, "watch_s",
                                              (json_int_t)d->watch_s, "ad_views",
                                              (json_int_t)d->ad_views));
    }
    return json_pack("{s:I,s:s,s:s,s:s,s:b,s:s,s:i,s:i,s:I,s:I,s:I,s:o}", "video_id",
                     (json_int_t)s->video_id, "period", vs_period_name(s->period), "from",
                     s->from_date, "to", s->to_date, "complete", s->complete, "status", s->status,
                     "days_settled", (int)s->days_settled, "days_total", (int)s->days_total,
                     "views", (json_int_t)s->views, "watch_s", (json_int_t)s->watch_s, "ad_views",
                     (json_int_t)s->ad_views, "days", days);
}

int cmd_stats_video(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"period", required_argument, NULL, 'p'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *date = NULL, *id_text = NULL;
    Vs__V1__VideoStats *s = NULL;
    int period = 0, opt;
    int64_t id;
    vs_call_status st;
    vs_client *c;

    optind = 0; /* 0: a full reset, so GNU getopt permutes VIDEO_ID after the options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (vsctl_period_arg("stats video", optarg, &period) != 0)
                return 2;
            break;
        case 'd':
            date = optarg;
            break;
        case 'h':
            fputs(stats_video_usage, stdout);
            return 0;
        default:
            fputs(stats_video_usage, stderr);
            return 2;
        }
    }
    if (optind + 1 == argc)
        id_text = argv[optind];
    if (id_text == NULL || config_parse_int(id_text, 1, INT64_MAX, &id) != 0) {
        fprintf(stderr, "vsctl stats video: expected one VIDEO_ID (a positive id)\n%s",
                stats_video_usage);
        return 2;
    }
    if (period == 0 || date == NULL) {
        fprintf(stderr, "vsctl stats video: --period and --date are required\n%s",
                stats_video_usage);
        return 2;
    }
    if (vsctl_date_arg("stats video", date) != 0)
        return 2;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_video_stats(c, (uint64_t)id, period, date, &s, &st) != VS_OK)
        return vsctl_fail(ctl, "stats video", &st);
    if (ctl->json)
        vsctl_print_json(stats_video_json(s));
    else
        stats_video_print(s);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}

static void stats_top_print(const Vs__V1__TopVideos *t, int mine)
{
    vsctl_table *tab = vsctl_table_new("rrrrl");
    char label[64], rank[16], video[32], creator[32], value[32];
    int watch = t->metric == VS__V1__METRIC__WATCH_TIME;

    stats_period_label(t->period, t->from_date, t->to_date, label, sizeof label);
    printf("top %zu by %s, %s, %s: %s\n\n", t->n_entries, watch ? "watch time" : "views", label,
           mine ? "your videos" : "all videos", t->status);
    if (t->n_entries == 0) {
        printf("(no video has %s in the settled days of this period)\n",
               watch ? "watch time" : "views");
        vsctl_table_free(tab);
        return;
    }
    vsctl_table_row(tab, "RANK", "VIDEO", "CREATOR", watch ? "WATCH_S" : "VIEWS", "TITLE");
    for (size_t i = 0; i < t->n_entries; i++) {
        const Vs__V1__TopEntry *e = t->entries[i];

        snprintf(rank, sizeof rank, "%u", e->rank);
        snprintf(video, sizeof video, "%llu", (unsigned long long)e->video_id);
        snprintf(creator, sizeof creator, "%llu", (unsigned long long)e->creator_id);
        vsctl_table_row(tab, rank, video, creator, vsctl_thousands(e->value, value, sizeof value),
                        e->title);
    }
    vsctl_table_print(tab, stdout, "");
    vsctl_table_free(tab);
}

static json_t *stats_top_json(const Vs__V1__TopVideos *t, int mine)
{
    json_t *entries = json_array();

    for (size_t i = 0; i < t->n_entries; i++) {
        const Vs__V1__TopEntry *e = t->entries[i];

        json_array_append_new(entries, json_pack("{s:i,s:I,s:I,s:s,s:I}", "rank", (int)e->rank,
                                                 "video_id", (json_int_t)e->video_id, "creator_id",
                                                 (json_int_t)e->creator_id, "title", e->title,
                                                 "value", (json_int_t)e->value));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:i,s:o}", "period",
                     vs_period_name(t->period), "from", t->from_date, "to", t->to_date, "by",
                     t->metric == VS__V1__METRIC__WATCH_TIME ? "watch" : "views", "scope",
                     mine ? "mine" : "all", "complete", t->complete, "status", t->status,
                     "days_settled", (int)t->days_settled, "days_total", (int)t->days_total,
                     "entries", entries);
}

int cmd_stats_top(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"period", required_argument, NULL, 'p'},
                                         {"date", required_argument, NULL, 'd'},
                                         {"by", required_argument, NULL, 'b'},
                                         {"mine", no_argument, NULL, 'm'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *date = NULL;
    Vs__V1__TopVideos *t = NULL;
    int period = 0, metric = 0, mine = 0, opt;
    int64_t limit = 0;
    vs_call_status st;
    vs_client *c;

    optind = 0; /* 0: a full reset, so GNU getopt permutes VIDEO_ID after the options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (vsctl_period_arg("stats top", optarg, &period) != 0)
                return 2;
            break;
        case 'd':
            date = optarg;
            break;
        case 'b':
            if (strcmp(optarg, "views") == 0)
                metric = VS__V1__METRIC__VIEWS;
            else if (strcmp(optarg, "watch") == 0 || strcmp(optarg, "watch-time") == 0)
                metric = VS__V1__METRIC__WATCH_TIME;
            else {
                fprintf(stderr, "vsctl stats top: --by: expected views or watch, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'm':
            mine = 1;
            break;
        case 'l':
            if (config_parse_int(optarg, 1, 100, &limit) != 0) {
                fprintf(stderr, "vsctl stats top: --limit: expected 1..100, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(stats_top_usage, stdout);
            return 0;
        default:
            fputs(stats_top_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl stats top: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (period == 0 || date == NULL || metric == 0) {
        fprintf(stderr, "vsctl stats top: --period, --date and --by are required\n%s",
                stats_top_usage);
        return 2;
    }
    if (vsctl_date_arg("stats top", date) != 0)
        return 2;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_top_videos(c, period, date, metric, mine ? VS__V1__SCOPE__MINE : VS__V1__SCOPE__ALL,
                      (uint32_t)limit, &t, &st) != VS_OK)
        return vsctl_fail(ctl, "stats top", &st);
    if (ctl->json)
        vsctl_print_json(stats_top_json(t, mine));
    else
        stats_top_print(t, mine);
    protobuf_c_message_free_unpacked(&t->base, NULL);
    return 0;
}
