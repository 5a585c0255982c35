/* play.c — `vsctl play start|pause`: one playback from the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/streaming.h>

#include "config.h"
#include "vsctl.h"

static const char play_usage[] =
    "usage: vsctl [--json] play start VIDEO_ID [--event-id ID]\n"
    "       vsctl [--json] play pause VIDEO_ID --position S [--event-id ID]\n"
    "\n"
    "start  starts a playback: prints the resume position and whether a view was counted\n"
    "       (not counted: OWN_VIDEO, or REPEAT within 30 s of your last counted view).\n"
    "pause  ends it at position S seconds: prints the credited range, the watch seconds and\n"
    "       the ad views counted. The credit is at most the wall-clock time since start + 5 s.\n"
    "--event-id makes a retry return the first outcome instead of counting again.\n";

/* Parses `VIDEO_ID [--event-id ID] [--position S]` (position only when want_position). */
static int play_args(int argc, char **argv, int want_position, uint64_t *video_id,
                     const char **event_id, int64_t *position)
{
    static const struct option opts[] = {{"event-id", required_argument, NULL, 'e'},
                                         {"position", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int64_t id;
    int opt;

    optind = 0; /* 0: a full getopt reset, so operands may come before options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            *event_id = optarg;
            break;
        case 'p':
            /* the range 0..duration is the server's to check */
            if (!want_position || config_parse_int(optarg, INT32_MIN, INT32_MAX, position) != 0) {
                fprintf(stderr, "vsctl play: --position: expected seconds, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(play_usage, stdout);
            return 0;
        default:
            fputs(play_usage, stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || config_parse_int(argv[optind], 1, INT64_MAX, &id) != 0) {
        fprintf(stderr, "vsctl play: expected one VIDEO_ID (a positive id)\n%s", play_usage);
        return 2;
    }
    if (want_position && *position == INT64_MIN) {
        fprintf(stderr, "vsctl play pause: --position is required\n");
        return 2;
    }
    *video_id = (uint64_t)id;
    return -1;
}

static int play_start(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__PlayResponse *r = NULL;
    const char *event_id = NULL;
    uint64_t video_id = 0;
    int64_t unused = 0;
    vs_call_status st;
    vs_client *c;
    int rc;

    if ((rc = play_args(argc, argv, 0, &video_id, &event_id, &unused)) >= 0)
        return rc;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_play(c, video_id, event_id, &r, &st) != VS_OK)
        return vsctl_fail(ctl, "play start", &st);
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:i,s:b,s:s,s:s}", "video_id", (json_int_t)video_id,
                                   "resume_position_s", r->resume_position_s, "view_counted",
                                   r->view_counted, "reason", vs_not_counted_reason_name(r->reason),
                                   "business_day", r->business_day));
    else
        printf("video %llu: resume at %d s; view %s%s (business day %s)\n",
               (unsigned long long)video_id, r->resume_position_s,
               r->view_counted ? "counted" : "not counted: ",
               r->view_counted ? "" : vs_not_counted_reason_name(r->reason), r->business_day);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

static int play_pause(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__PauseResponse *r = NULL;
    const char *event_id = NULL;
    uint64_t video_id = 0;
    int64_t position = INT64_MIN;
    vs_call_status st;
    vs_client *c;
    int rc;

    if ((rc = play_args(argc, argv, 1, &video_id, &event_id, &position)) >= 0)
        return rc;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_pause(c, video_id, (int32_t)position, event_id, &r, &st) != VS_OK)
        return vsctl_fail(ctl, "play pause", &st);
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:i,s:i,s:i,s:i,s:s}", "video_id", (json_int_t)video_id,
                                   "credited_from_s", r->credited_from_s, "credited_to_s",
                                   r->credited_to_s, "watch_s", r->watch_s, "ad_views", r->ad_views,
                                   "business_day", r->business_day));
    else
        printf("video %llu: credited %d..%d s: %d s watched, %d ad view%s (business day %s)\n",
               (unsigned long long)video_id, r->credited_from_s, r->credited_to_s, r->watch_s,
               r->ad_views, r->ad_views == 1 ? "" : "s", r->business_day);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

int cmd_play(vsctl *ctl, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(play_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "start") == 0)
        return play_start(ctl, argc - 1, argv + 1);
    if (strcmp(argv[1], "pause") == 0)
        return play_pause(ctl, argc - 1, argv + 1);
    fprintf(stderr, "vsctl play: unknown subcommand \"%s\"\n%s", argv[1], play_usage);
    return 2;
}
