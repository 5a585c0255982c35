/* finance.c — vsctl settlement close and vsctl traffic (invalidate, list): the admin calls that
 * change what settled days mean, served by the coordinator (docs/rules.md "Months close",
 * "Invalid traffic"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vs/client.h>

#include "vsctl.h"

static const char close_usage[] =
    "usage: vsctl [--json] settlement close [--coord URL] --month YYYY-MM\n"
    "\n"
    "Closes a month (admin): its statement lines are frozen and its statements say FINAL. Refused\n"
    "while the month is not over, or while a day of it with play rows has no completed "
    "settlement.\n"
    "A later forced re-run of one of its days (a correction, invalid traffic) does not change the\n"
    "closed statement: the difference is booked as adjustment lines in the first open month after\n"
    "it. Closing a month twice changes nothing and reports the first close.\n"
    "\n"
    "--coord URL  the coordinator's control socket [VS_COORD_URL; default tcp://127.0.0.1:7401]\n";

static const char traffic_usage[] =
    "usage: vsctl [--json] traffic [--coord URL] invalidate --viewer ID [--video ID]\n"
    "                                    --from YYYY-MM-DD --to YYYY-MM-DD --reason TEXT\n"
    "       vsctl [--json] traffic [--coord URL] list [--limit N]\n"
    "\n"
    "invalidate  marks a viewer's play rows (of one video, or of all) on the days from .. to\n"
    "            (at most 366, days that are over) invalid (admin). The rows are kept but count\n"
    "            for nothing - no view, watch time or ad view. The first settled day among them\n"
    "            is re-run, forced, with every later settled day: open months are recomputed,\n"
    "            days of closed months book adjustment lines in the first open month. The reason\n"
    "            (required, at most 260 bytes) names the re-run in the ledger. Marking the same\n"
    "            rows again changes nothing.\n"
    "list        recent invalidations, newest first (default 20, at most 1000), with the play\n"
    "            rows each marked per video.\n"
    "\n"
    "--coord URL  the coordinator's control socket [VS_COORD_URL; default tcp://127.0.0.1:7401]\n";

/* Calls a BatchService method on the coordinator at url; 0 with *out, or the exit code. */
static int finance_call(vsctl *ctl, const char *url, const char *method,
                        const ProtobufCMessage *req, ProtobufCMessage **out)
{
    vs_client *c = NULL;
    vs_call_status st;
    char what[64];
    int rc;

    if ((rc = vsctl_coord_open(ctl, url, &c)) != 0)
        return rc;
    rc = vs_client_call_named(c, &vs__v1__batch_service__descriptor, method, req, out, &st);
    vs_client_close(c);
    if (rc != VS_OK) {
        snprintf(what, sizeof what, "%s", method);
        return vsctl_fail(ctl, what, &st);
    }
    return 0;
}

static const char *finance_time(int64_t unix_ms, char *buf, size_t len)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;

    if (unix_ms <= 0 || gmtime_r(&t, &tm) == NULL)
        return "-";
    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

int cmd_settlement_close(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"month", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Vs__V1__CloseMonthRequest req = VS__V1__CLOSE_MONTH_REQUEST__INIT;
    Vs__V1__MonthClose *resp = NULL;
    const char *url = vsctl_coord_url(&argc, &argv);
    char when[40], won[32];
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            req.month = optarg;
            break;
        case 'h':
            fputs(close_usage, stdout);
            return 0;
        default:
            fputs(close_usage, stderr);
            return 2;
        }
    }
    if (optind != argc || req.month[0] == '\0') {
        fprintf(stderr, "vsctl settlement close: --month YYYY-MM is required\n%s", close_usage);
        return 2;
    }
    if ((rc = finance_call(ctl, url, "CloseMonth", &req.base, (ProtobufCMessage **)&resp)) != 0)
        return rc;
    if (ctl->json) {
        vsctl_print_json(json_pack(
            "{s:s,s:s,s:I,s:I,s:I,s:b}", "month", resp->month, "closed_by", resp->closed_by,
            "closed_unix_ms", (json_int_t)resp->closed_unix_ms, "videos", (json_int_t)resp->videos,
            "total_won", (json_int_t)resp->total_won, "already_closed", resp->already_closed));
    } else {
        printf("%s %s: %lld statement lines, %s, closed by %s at %s\n", resp->month,
               resp->already_closed ? "was already closed" : "closed", (long long)resp->videos,
               vsctl_won(resp->total_won, won, sizeof won), resp->closed_by,
               finance_time(resp->closed_unix_ms, when, sizeof when));
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static json_t *invalidation_json(const Vs__V1__Invalidation *inv)
{
    json_t *videos = json_array();

    for (size_t i = 0; i < inv->n_videos; i++)
        json_array_append_new(videos, json_pack("{s:I,s:I}", "video_id",
                                                (json_int_t)inv->videos[i]->video_id, "rows",
                                                (json_int_t)inv->videos[i]->rows));
    return json_pack("{s:i,s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:o}", "id", (int)inv->id,
                     "viewer_id", (json_int_t)inv->viewer_id, "video_id", (json_int_t)inv->video_id,
                     "from_date", inv->from_date, "to_date", inv->to_date, "reason", inv->reason,
                     "actor", inv->actor, "created_unix_ms", (json_int_t)inv->created_unix_ms,
                     "rows_marked", (json_int_t)inv->rows_marked, "rerun_from_date",
                     inv->rerun_from_date, "videos", videos);
}

static void invalidation_print(const Vs__V1__Invalidation *inv)
{
    char when[40], n[32];

    if (inv->id == 0) {
        printf("nothing to mark: viewer %llu's play rows %s .. %s%s are all invalid already (or "
               "there are none); nothing changed\n",
               (unsigned long long)inv->viewer_id, inv->from_date, inv->to_date,
               inv->video_id ? " of that video" : "");
        return;
    }
    printf("invalidation #%u  viewer %llu", inv->id, (unsigned long long)inv->viewer_id);
    if (inv->video_id)
        printf(", video %llu", (unsigned long long)inv->video_id);
    printf(", %s .. %s\n", inv->from_date, inv->to_date);
    printf("  reason      %s\n", inv->reason);
    printf("  by          %s at %s\n", inv->actor,
           finance_time(inv->created_unix_ms, when, sizeof when));
    printf("  play rows   %s marked\n", vsctl_thousands(inv->rows_marked, n, sizeof n));
    printf("  re-run      %s\n",
           inv->rerun_from_date[0] ? inv->rerun_from_date : "none (no marked day was settled yet)");
    if (inv->n_videos > 0) {
        vsctl_table *t = vsctl_table_new("rr");

        vsctl_table_row(t, "VIDEO", "PLAY ROWS", NULL);
        for (size_t i = 0; i < inv->n_videos; i++) {
            char id[24], rows[32];

            snprintf(id, sizeof id, "%llu", (unsigned long long)inv->videos[i]->video_id);
            vsctl_table_row(t, id, vsctl_thousands(inv->videos[i]->rows, rows, sizeof rows), NULL);
        }
        vsctl_table_print(t, stdout, "  ");
        vsctl_table_free(t);
    }
}

static int traffic_invalidate(vsctl *ctl, const char *url, int argc, char **argv)
{
    static const struct option opts[] = {{"viewer", required_argument, NULL, 'v'},
                                         {"video", required_argument, NULL, 'V'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Vs__V1__InvalidateTrafficRequest req = VS__V1__INVALIDATE_TRAFFIC_REQUEST__INIT;
    Vs__V1__Invalidation *resp = NULL;
    char *end;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'v':
        case 'V':
            (opt == 'v' ? &req.viewer_id : &req.video_id)[0] = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || optarg[0] == '-') {
                fprintf(stderr, "vsctl traffic invalidate: --%s: expected a positive id, got %s\n",
                        opt == 'v' ? "viewer" : "video", optarg);
                return 2;
            }
            break;
        case 'f':
            req.from_date = optarg;
            break;
        case 't':
            req.to_date = optarg;
            break;
        case 'r':
            req.reason = optarg;
            break;
        case 'h':
            fputs(traffic_usage, stdout);
            return 0;
        default:
            fputs(traffic_usage, stderr);
            return 2;
        }
    }
    if (optind != argc || req.viewer_id == 0 || req.from_date[0] == '\0' ||
        req.to_date[0] == '\0' || req.reason[0] == '\0') {
        fprintf(stderr, "vsctl traffic invalidate: --viewer, --from, --to and --reason are "
                        "required\n");
        return 2;
    }
    if ((rc = finance_call(ctl, url, "InvalidateTraffic", &req.base, (ProtobufCMessage **)&resp)) !=
        0)
        return rc;
    if (ctl->json)
        vsctl_print_json(invalidation_json(resp));
    else
        invalidation_print(resp);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int traffic_list(vsctl *ctl, const char *url, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Vs__V1__ListInvalidationsRequest req = VS__V1__LIST_INVALIDATIONS_REQUEST__INIT;
    Vs__V1__ListInvalidationsResponse *resp = NULL;
    char *end;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            req.limit = (uint32_t)strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || req.limit == 0 || req.limit > 1000) {
                fprintf(stderr, "vsctl traffic list: --limit: 1 to 1000, got %s\n", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(traffic_usage, stdout);
            return 0;
        default:
            fputs(traffic_usage, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fputs(traffic_usage, stderr);
        return 2;
    }
    if ((rc = finance_call(ctl, url, "ListInvalidations", &req.base, (ProtobufCMessage **)&resp)) !=
        0)
        return rc;
    if (ctl->json) {
        json_t *list = json_array();

        for (size_t i = 0; i < resp->n_invalidations; i++)
            json_array_append_new(list, invalidation_json(resp->invalidations[i]));
        vsctl_print_json(json_pack("{s:o}", "invalidations", list));
    } else if (resp->n_invalidations == 0) {
        printf("no invalidations\n");
    }
    for (size_t i = 0; !ctl->json && i < resp->n_invalidations; i++)
        invalidation_print(resp->invalidations[i]);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int cmd_traffic(vsctl *ctl, int argc, char **argv)
{
    const char *url = vsctl_coord_url(&argc, &argv);

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(traffic_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "invalidate") == 0)
        return traffic_invalidate(ctl, url, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return traffic_list(ctl, url, argc - 1, argv + 1);
    fprintf(stderr, "vsctl traffic: unknown subcommand \"%s\"\n%s", argv[1], traffic_usage);
    return 2;
}
