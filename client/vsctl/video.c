/* video.c — `vsctl video create|list|show`: register videos and look at them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/streaming.h>

#include "config.h"
#include "vsctl.h"

static const char video_usage[] =
    "usage: vsctl [--json] video create --title T --duration S [--event-id ID]\n"
    "       vsctl [--json] video list [--mine | --creator ID] [--page N] [--page-size N]\n"
    "       vsctl [--json] video show VIDEO_ID\n"
    "\n"
    "create   registers a video (you become a creator). Title 1-200 characters, duration\n"
    "         1-86400 seconds; ad breaks are at 300, 600, ... s. --event-id makes a retry\n"
    "         return the same video instead of a second one.\n"
    "list     videos by id, 50 a page (at most 500); --mine: yours (needs a login).\n"
    "show     one video with its ad positions.\n";

static json_t *video_json(const Vs__V1__Video *v)
{
    json_t *ads = json_array();

    for (size_t i = 0; i < v->n_ad_positions_s; i++)
        json_array_append_new(ads, json_integer(v->ad_positions_s[i]));
    return json_pack("{s:I,s:I,s:s,s:i,s:o,s:I}", "id", (json_int_t)v->id, "creator_id",
                     (json_int_t)v->creator_id, "title", v->title, "duration_s", v->duration_s,
                     "ad_positions_s", ads, "created_unix", (json_int_t)v->created_unix);
}

static void video_print(const Vs__V1__Video *v)
{
    printf("video %llu  \"%s\"\n  creator   %llu\n  duration  %d s\n  ads at   ",
           (unsigned long long)v->id, v->title, (unsigned long long)v->creator_id, v->duration_s);
    if (v->n_ad_positions_s == 0)
        printf(" (none)");
    for (size_t i = 0; i < v->n_ad_positions_s; i++)
        printf("%s %d", i ? "," : "", v->ad_positions_s[i]);
    printf(" s\n  created   %lld (unix)\n", (long long)v->created_unix);
}

/* Parses a positive id; prints the usage error and returns 0 when it is not one. */
static uint64_t video_parse_id(const char *what, const char *text)
{
    int64_t id;

    if (text == NULL || config_parse_int(text, 1, INT64_MAX, &id) != 0) {
        fprintf(stderr, "vsctl: %s: expected a positive id, got \"%s\"\n", what, text ? text : "");
        return 0;
    }
    return (uint64_t)id;
}

static int video_create(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"title", required_argument, NULL, 't'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"event-id", required_argument, NULL, 'e'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *title = NULL, *event_id = NULL;
    int64_t duration = -1;
    Vs__V1__Video *v = NULL;
    vs_call_status st;
    vs_client *c;
    int opt;

    optind = 0; /* 0: a full getopt reset, so operands may come before options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            title = optarg;
            break;
        case 'd':
            if (config_parse_int(optarg, INT32_MIN, INT32_MAX, &duration) != 0) {
                fprintf(stderr, "vsctl video create: --duration: expected seconds, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'e':
            event_id = optarg;
            break;
        case 'h':
            fputs(video_usage, stdout);
            return 0;
        default:
            fputs(video_usage, stderr);
            return 2;
        }
    }
    if (title == NULL || duration < 0 || optind < argc) {
        fprintf(stderr, "vsctl video create: --title and --duration are required\n%s", video_usage);
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_video_create(c, title, (int32_t)duration, event_id, &v, &st) != VS_OK)
        return vsctl_fail(ctl, "video create", &st);
    if (ctl->json)
        vsctl_print_json(video_json(v));
    else
        video_print(v);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return 0;
}

static int video_list(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"mine", no_argument, NULL, 'm'},       {"creator", required_argument, NULL, 'c'},
        {"page", required_argument, NULL, 'p'}, {"page-size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    Vs__V1__ListVideosResponse *resp = NULL;
    int64_t page = 0, size = 0;
    uint64_t creator = 0;
    int mine = 0, opt;
    vs_call_status st;
    vs_client *c;

    optind = 0; /* 0: a full getopt reset, so operands may come before options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            mine = 1;
            break;
        case 'c':
            if ((creator = video_parse_id("--creator", optarg)) == 0)
                return 2;
            break;
        case 'p':
        case 's':
            if (config_parse_int(optarg, 0, UINT32_MAX, opt == 'p' ? &page : &size) != 0) {
                fprintf(stderr, "vsctl video list: --%s: expected a number, got \"%s\"\n",
                        opt == 'p' ? "page" : "page-size", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(video_usage, stdout);
            return 0;
        default:
            fputs(video_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl video list: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_video_list(c, creator, mine, (uint32_t)page, (uint32_t)size, &resp, &st) != VS_OK)
        return vsctl_fail(ctl, "video list", &st);
    if (ctl->json) {
        json_t *list = json_array();

        for (size_t i = 0; i < resp->n_videos; i++)
            json_array_append_new(list, video_json(resp->videos[i]));
        vsctl_print_json(json_pack("{s:o,s:i,s:b}", "videos", list, "page", (int)resp->page,
                                   "has_more", resp->has_more));
    } else {
        printf("%-10s %-10s %9s %4s  %s\n", "ID", "CREATOR", "DURATION", "ADS", "TITLE");
        for (size_t i = 0; i < resp->n_videos; i++) {
            const Vs__V1__Video *v = resp->videos[i];

            printf("%-10llu %-10llu %7d s %4zu  %s\n", (unsigned long long)v->id,
                   (unsigned long long)v->creator_id, v->duration_s, v->n_ad_positions_s, v->title);
        }
        printf("page %u%s\n", resp->page, resp->has_more ? " (more: --page N+1)" : "");
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int video_show(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__Video *v = NULL;
    vs_call_status st;
    vs_client *c;
    uint64_t id;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(video_usage, stdout);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "vsctl video show: expected one VIDEO_ID\n");
        return 2;
    }
    if ((id = video_parse_id("VIDEO_ID", argv[1])) == 0)
        return 2;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_video_get(c, id, &v, &st) != VS_OK)
        return vsctl_fail(ctl, "video show", &st);
    if (ctl->json)
        vsctl_print_json(video_json(v));
    else
        video_print(v);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return 0;
}

int cmd_video(vsctl *ctl, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(video_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "create") == 0)
        return video_create(ctl, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return video_list(ctl, argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return video_show(ctl, argc - 1, argv + 1);
    fprintf(stderr, "vsctl video: unknown subcommand \"%s\"\n%s", argv[1], video_usage);
    return 2;
}
