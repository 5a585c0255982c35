/* settlement.c — `vsctl settlement`: the subcommands' dispatch, and `show`: what videos earned
 * in a day, ISO week or month (docs/rules.md, Settlement), optionally with the band breakdown in
 * exact milli-won. Statements, their export and the ledger are in settlement_statement.c and
 * settlement_ledger.c; closing a month in finance.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vs/stats.h>

#include "config.h"
#include "settlement.h"

static const char settlement_show_usage[] =
    "usage: vsctl [--json] settlement show --period day|week|month --date YYYY-MM-DD\n"
    "                                      [--video ID | --creator ID] [--breakdown] [--limit N]\n"
    "\n"
    "Video, ad and total amounts in won per video, highest total first, and the total of the\n"
    "period: of one video (--video), of your videos (default), or of another creator's "
    "(--creator,\n"
    "admins). --breakdown adds the band lines: lifetime views in each band of the rate card times\n"
    "its price, in exact milli-won; they add up to the value each whole-won amount was truncated\n"
    "from. --limit caps the videos listed (default 1000, at most 5000); the total covers all.\n";

/* `vsctl settlement --help`: every subcommand, one line each. */
static void settlement_usage(FILE *out)
{
    fputs("usage: vsctl [--json] settlement show --period day|week|month --date YYYY-MM-DD\n"
          "                                      [--video ID | --creator ID] [--breakdown]\n"
          "                                      [--limit N]\n",
          out);
    fputs(settlement_statement_usage, out);
    fputs(settlement_export_usage, out);
    fputs(settlement_ledger_usage, out);
    fputs("       vsctl [--json] settlement close [--coord URL] --month YYYY-MM\n"
          "\n"
          "show       what videos earned in a day, ISO week or month, with the band breakdown\n"
          "statement  a creator's monthly statement: lines per video, adjustment lines, totals;\n"
          "           ESTIMATE while the month is open, FINAL once it is closed\n"
          "export     a month's statement as CSV\n"
          "ledger     the money ledger of a video or a creator, with sums\n"
          "close      close a month (admins): its statements become FINAL\n"
          "\n"
          "`vsctl settlement SUBCOMMAND --help` tells more.\n",
          out);
}

int settlement_id_arg(const char *cmd, int opt, const char *arg, uint64_t *video_id,
                      uint64_t *creator_id, uint32_t *limit)
{
    int64_t n;

    if (config_parse_int(arg, 1, opt == 'l' ? 5000 : INT64_MAX, &n) != 0) {
        fprintf(stderr, "vsctl %s: --%s: expected %s, got \"%s\"\n", cmd,
                opt == 'v'   ? "video"
                : opt == 'c' ? "creator"
                             : "limit",
                opt == 'l' ? "1..5000" : "a positive id", arg);
        return 2;
    }
    if (opt == 'v')
        *video_id = (uint64_t)n;
    else if (opt == 'c')
        *creator_id = (uint64_t)n;
    else
        *limit = (uint32_t)n;
    return 0;
}

const char *settlement_cell(const char *s, char *buf, size_t len)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < len; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    if (s[i] != '\0') {
        /* cut: drop the last character, which may be incomplete (its continuation bytes, then
         * its lead byte) */
        while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
            i--;
        if (i > 0 && (unsigned char)buf[i - 1] >= 0xc0)
            i--;
    }
    buf[i] = '\0';
    return buf;
}

const char *settlement_utc(long long unix_ms, char *buf, size_t len)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, len, "%lld ms", unix_ms);
    return buf;
}

static json_t *settlement_bands_json(Vs__V1__BandLine **lines, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        const Vs__V1__BandLine *l = lines[i];

        json_array_append_new(
            a, json_pack("{s:i,s:I,s:I,s:I,s:I,s:I}", "rate_card_version", l->rate_card_version,
                         "from_ordinal", (json_int_t)l->from_ordinal, "to_ordinal",
                         (json_int_t)l->to_ordinal, "units", (json_int_t)l->units, "price_milli",
                         (json_int_t)l->price_milli, "amount_milli", (json_int_t)l->amount_milli));
    }
    return a;
}

static json_t *settlement_json(const Vs__V1__Settlement *s, int breakdown)
{
    json_t *videos = json_array();

    for (size_t i = 0; i < s->n_videos; i++) {
        const Vs__V1__VideoSettlement *v = s->videos[i];
        json_t *o =
            json_pack("{s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:i}", "video_id", (json_int_t)v->video_id,
                      "creator_id", (json_int_t)v->creator_id, "title", v->title, "views",
                      (json_int_t)v->views, "ad_views", (json_int_t)v->ad_views, "video_won",
                      (json_int_t)v->video_won, "ad_won", (json_int_t)v->ad_won, "total_won",
                      (json_int_t)v->total_won, "rate_card_version", v->rate_card_version);

        if (breakdown) {
            json_object_set_new(o, "video_bands",
                                settlement_bands_json(v->video_bands, v->n_video_bands));
            json_object_set_new(o, "ad_bands", settlement_bands_json(v->ad_bands, v->n_ad_bands));
        }
        json_array_append_new(videos, o);
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:i,s:i,s:I,s:i,s:b,s:o}", "period",
                     vs_period_name(s->period), "from", s->from_date, "to", s->to_date, "currency",
                     "KRW", "complete", s->complete, "status", s->status, "days_settled",
                     (int)s->days_settled, "days_total", (int)s->days_total, "total_won",
                     (json_int_t)s->total_won, "videos_total", (int)s->videos_total, "truncated",
                     s->truncated, "videos", videos);
}

/* The band lines of one kind, indented under their video. */
static void settlement_print_bands(const char *kind, Vs__V1__BandLine **lines, size_t n,
                                   int64_t won)
{
    vsctl_table *t = vsctl_table_new("lrrrr");
    char card[16], from[32], to[32], ord[80], units[32], price[48], amount[48], whole[48];
    int64_t sum = 0;

    printf("    %s bands:\n", kind);
    if (n == 0) {
        printf("      (none)\n");
        vsctl_table_free(t);
        return;
    }
    vsctl_table_row(t, "CARD", "ORDINALS", "UNITS", "PRICE", "AMOUNT");
    for (size_t i = 0; i < n; i++) {
        const Vs__V1__BandLine *l = lines[i];

        snprintf(card, sizeof card, "v%d", l->rate_card_version);
        vsctl_thousands(l->from_ordinal, from, sizeof from);
        if (l->to_ordinal > 0)
            snprintf(ord, sizeof ord, "%s..%s", from,
                     vsctl_thousands(l->to_ordinal, to, sizeof to));
        else
            snprintf(ord, sizeof ord, "%s..", from);
        vsctl_table_row(t, card, ord, vsctl_thousands(l->units, units, sizeof units),
                        vsctl_milli_won(l->price_milli, price, sizeof price),
                        vsctl_milli_won(l->amount_milli, amount, sizeof amount));
        sum += l->amount_milli;
    }
    vsctl_table_row(t, "sum", "", "", "", vsctl_milli_won(sum, amount, sizeof amount));
    vsctl_table_print(t, stdout, "      ");
    printf("      whole-won amount %s (each day truncated to won; the days telescope)\n",
           vsctl_won(won, whole, sizeof whole));
    vsctl_table_free(t);
}

static void settlement_print(const Vs__V1__Settlement *s, int breakdown)
{
    vsctl_table *t = vsctl_table_new("rrrrrrrl");
    char video[32], views[32], ads[32], vw[48], aw[48], tw[48], card[16], label[80];

    if (strcmp(s->from_date, s->to_date) == 0)
        snprintf(label, sizeof label, "%s %s", vs_period_name(s->period), s->from_date);
    else
        snprintf(label, sizeof label, "%s %s..%s", vs_period_name(s->period), s->from_date,
                 s->to_date);
    printf("settlement, %s: %s\n\n", label, s->status);
    vsctl_table_row(t, "VIDEO", "VIEWS", "AD_VIEWS", "VIDEO", "AD", "TOTAL", "CARD", "TITLE");
    for (size_t i = 0; i < s->n_videos; i++) {
        const Vs__V1__VideoSettlement *v = s->videos[i];

        snprintf(video, sizeof video, "%llu", (unsigned long long)v->video_id);
        snprintf(card, sizeof card, v->rate_card_version ? "v%d" : "-", v->rate_card_version);
        vsctl_table_row(t, video, vsctl_thousands(v->views, views, sizeof views),
                        vsctl_thousands(v->ad_views, ads, sizeof ads),
                        vsctl_won(v->video_won, vw, sizeof vw), vsctl_won(v->ad_won, aw, sizeof aw),
                        vsctl_won(v->total_won, tw, sizeof tw), card, v->title);
    }
    if (!breakdown)
        vsctl_table_print(t, stdout, "");
    for (size_t i = 0; breakdown && i < s->n_videos; i++) {
        const Vs__V1__VideoSettlement *v = s->videos[i];

        printf("video %llu \"%s\": %s video + %s ad = %s\n", (unsigned long long)v->video_id,
               v->title, vsctl_won(v->video_won, vw, sizeof vw),
               vsctl_won(v->ad_won, aw, sizeof aw), vsctl_won(v->total_won, tw, sizeof tw));
        settlement_print_bands("video view", v->video_bands, v->n_video_bands, v->video_won);
        settlement_print_bands("ad view", v->ad_bands, v->n_ad_bands, v->ad_won);
    }
    if (s->n_videos == 0)
        printf("(no settlement rows: no video had plays on the settled days)\n");
    printf("\ntotal: %s over %u video%s%s\n", vsctl_won(s->total_won, tw, sizeof tw),
           s->videos_total, s->videos_total == 1 ? "" : "s",
           s->truncated ? " (list truncated: --limit)" : "");
    vsctl_table_free(t);
}

static int settlement_show(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"period", required_argument, NULL, 'p'}, {"date", required_argument, NULL, 'd'},
        {"video", required_argument, NULL, 'v'},  {"creator", required_argument, NULL, 'c'},
        {"breakdown", no_argument, NULL, 'b'},    {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    vs_settlement_query q = {0};
    Vs__V1__Settlement *s = NULL;
    vs_call_status st;
    vs_client *c;
    int opt;

    optind = 0; /* 0: a full reset, so GNU getopt permutes VIDEO_ID after the options */
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (vsctl_period_arg("settlement show", optarg, &q.period) != 0)
                return 2;
            break;
        case 'd':
            q.date = optarg;
            break;
        case 'v':
        case 'c':
        case 'l':
            if (settlement_id_arg("settlement show", opt, optarg, &q.video_id, &q.creator_id,
                                  &q.limit) != 0)
                return 2;
            break;
        case 'b':
            q.breakdown = 1;
            break;
        case 'h':
            fputs(settlement_show_usage, stdout);
            return 0;
        default:
            fputs(settlement_show_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl settlement show: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (q.period == 0 || q.date == NULL) {
        fprintf(stderr, "vsctl settlement show: --period and --date are required\n%s",
                settlement_show_usage);
        return 2;
    }
    if (q.video_id != 0 && q.creator_id != 0) {
        fprintf(stderr, "vsctl settlement show: give --video or --creator, not both\n");
        return 2;
    }
    if (vsctl_date_arg("settlement show", q.date) != 0)
        return 2;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_settlement(c, &q, &s, &st) != VS_OK)
        return vsctl_fail(ctl, "settlement show", &st);
    if (ctl->json)
        vsctl_print_json(settlement_json(s, q.breakdown));
    else
        settlement_print(s, q.breakdown);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}

int cmd_settlement(vsctl *ctl, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(vsctl *ctl, int argc, char **argv);
    } subs[] = {{"show", settlement_show},
                {"statement", settlement_statement},
                {"export", settlement_export},
                {"ledger", settlement_ledger},
                {"close", cmd_settlement_close}};

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        settlement_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(ctl, argc - 1, argv + 1);
    fprintf(stderr, "vsctl settlement: unknown subcommand \"%s\"\n", argv[1]);
    settlement_usage(stderr);
    return 2;
}
