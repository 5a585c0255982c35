/* stats_live.c — `vsctl stats live VIDEO_ID`: today's live counters of a video. */
#include <stdio.h>
#include <string.h>
#include <vs/streaming.h>

#include "config.h"
#include "vsctl.h"

int cmd_stats_live(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__LiveStats *s = NULL;
    vs_call_status st;
    vs_client *c;
    int64_t id;
    char views[32], ads[32];

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: vsctl [--json] stats live VIDEO_ID\n\nToday's counted views and ad views "
               "of your video (business day in VS_TZ), as\ncounted so far. A fast view, not the "
               "settlement basis: the daily batch is.\n");
        return 0;
    }
    if (argc != 2 || config_parse_int(argv[1], 1, INT64_MAX, &id) != 0) {
        fprintf(stderr, "usage: vsctl [--json] stats live VIDEO_ID (a positive id)\n");
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_live_stats(c, (uint64_t)id, &s, &st) != VS_OK)
        return vsctl_fail(ctl, "stats live", &st);
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:s,s:I,s:I}", "video_id", (json_int_t)s->video_id,
                                   "business_day", s->business_day, "views", (json_int_t)s->views,
                                   "ad_views", (json_int_t)s->ad_views));
    else
        printf("video %llu, %s so far: %s views, %s ad views\n", (unsigned long long)s->video_id,
               s->business_day, vsctl_thousands(s->views, views, sizeof views),
               vsctl_thousands(s->ad_views, ads, sizeof ads));
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}
