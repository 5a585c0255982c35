/* ratecard.c — `vsctl ratecard list|show|add`: the versioned, effective-dated rate cards, through
 * the coordinator's BatchService (VS_COORD_URL, or --coord URL), as an admin. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "text.h"
#include "vsctl.h"
#include "window.h"

#define RATECARD_COMMON                                                                            \
    "--coord URL  the coordinator's control socket [VS_COORD_URL; default tcp://127.0.0.1:7401]\n" \
    "--json       print JSON instead of tables\n"                                                  \
    "\n"                                                                                           \
    "Rate cards are an admin's: log in first (`vsctl user login`) as a user granted the admin\n"   \
    "role.\n"

static const char ratecard_list_usage[] =
    "usage: vsctl [--json] ratecard [--coord URL] list\n"
    "\n"
    "Every rate card version, oldest first: when it takes effect, its description, its state\n"
    "(past, in force today, scheduled; today is the business date in VS_TZ) and its prices per\n"
    "band in won, video views and ad views.\n"
    "\n" RATECARD_COMMON;

static const char ratecard_show_usage[] =
    "usage: vsctl [--json] ratecard [--coord URL] show [VERSION | --date YYYY-MM-DD]\n"
    "\n"
    "One rate card's bands, video views and ad views: the lifetime ordinals each band prices\n"
    "(from, to) and its price in won per view (3 decimals: 1.100 = 1,100 milli-won). VERSION: "
    "that\n"
    "version; --date: the card in force on that business date; neither: the card in force today\n"
    "(the business date in VS_TZ).\n"
    "\n" RATECARD_COMMON;

static const char ratecard_add_usage[] =
    "usage: vsctl [--json] ratecard [--coord URL] add --from YYYY-MM-DD [--description TEXT]\n"
    "                                               --video BANDS --ad BANDS\n"
    "\n"
    "Adds a rate card version that prices the business days from --from on (until a later card\n"
    "takes over). --from must be after today in the business time zone: a settled day keeps the\n"
    "card it was settled with. A stored card is never changed; running the same add again returns\n"
    "the card it stored (no new version), while a different card for a date that has one is\n"
    "refused (ALREADY_EXISTS).\n"
    "\n"
    "BANDS: comma-separated FIRST_ORDINAL:PRICE_MILLI pairs, one per band in order. FIRST_ORDINAL\n"
    "is the first lifetime view (or ad view) of a video the band prices: the first band starts at\n"
    "1, each next one later; the last band is open-ended. PRICE_MILLI is milli-won per view\n"
    "(1.1 won = 1100), 0..1000000. At most 16 bands per kind. Bands are marginal: the k-th view\n"
    "is priced by the band containing k.\n"
    "\n"
    "--from DATE          the first business date the card prices\n"
    "--description TEXT   at most 200 characters, one line (default: none)\n"
    "--video BANDS        bands over lifetime video views\n"
    "--ad BANDS           bands over lifetime ad views\n"
    "\n"
    "example: vsctl ratecard add --from 2027-01-01 --description '2027 prices' \\\n"
    "           --video 1:1000,100000:1100,500000:1300,1000000:1500 \\\n"
    "           --ad 1:10000,100000:12000,500000:15000,1000000:20000\n"
    "\n" RATECARD_COMMON;

static const char ratecard_usage[] =
    "usage: vsctl [--json] ratecard [--coord URL] list\n"
    "       vsctl [--json] ratecard [--coord URL] show [VERSION | --date YYYY-MM-DD]\n"
    "       vsctl [--json] ratecard [--coord URL] add --from YYYY-MM-DD [--description TEXT]\n"
    "                                               --video BANDS --ad BANDS\n"
    "\n"
    "list   every rate card version with its prices\n"
    "show   one card's bands (a version, the card in force on a date, or today's)\n"
    "add    a new version, in force from a business date after today; BANDS are\n"
    "       FIRST_ORDINAL:PRICE_MILLI pairs (`vsctl ratecard add --help`)\n"
    "\n"
    "The card of a business day is the one with the latest effective date on or before it; the\n"
    "batch records the version it settled each day with.\n"
    "\n" RATECARD_COMMON;

/* "1.100": milli-won as won with 3 decimals and thousands separators. */
static const char *ratecard_price(long long milli, char *buf, size_t len)
{
    char whole[32];
    long long frac = milli % 1000;

    snprintf(buf, len, "%s%s.%03lld", milli < 0 && milli > -1000 ? "-" : "",
             vsctl_thousands(milli / 1000, whole, sizeof whole), frac < 0 ? -frac : frac);
    return buf;
}

static json_t *ratecard_bands_json(Vs__V1__RateBand *const *bands, size_t n)
{
    json_t *arr = json_array();

    for (size_t b = 0; b < n; b++) {
        json_t *last =
            b + 1 < n ? json_integer((json_int_t)bands[b + 1]->first_ordinal - 1) : json_null();

        json_array_append_new(arr,
                              json_pack("{s:i,s:I,s:o,s:I}", "band", (int)b + 1, "first_ordinal",
                                        (json_int_t)bands[b]->first_ordinal, "last_ordinal", last,
                                        "price_milli", (json_int_t)bands[b]->price_milli));
    }
    return arr;
}

static json_t *ratecard_json(const Vs__V1__RateCard *c)
{
    return json_pack("{s:i,s:s,s:s,s:I,s:o,s:o}", "version", (int)c->version, "effective_from",
                     c->effective_from, "description", c->description, "created_unix_ms",
                     (json_int_t)c->created_unix_ms, "video_bands",
                     ratecard_bands_json(c->video_bands, c->n_video_bands), "ad_bands",
                     ratecard_bands_json(c->ad_bands, c->n_ad_bands));
}

/* Today's business date "YYYY-MM-DD" in VS_TZ (default Asia/Seoul, as the coordinator's). */
static int ratecard_today(char out[11])
{
    char err[256];

    if (window_init(config_get("VS_TZ", "Asia/Seoul"), err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl ratecard: VS_TZ: %s\n", err);
        return -1;
    }
    window_format(window_day_of((int64_t)time(NULL) * 1000), out);
    return 0;
}

/* A date option's value: a business date the coordinator accepts. Returns 0, or -1 after printing
 * why not. */
static int ratecard_date_arg(const char *cmd, const char *flag, const char *text)
{
    business_date d;
    char err[128], quoted[80];

    if (window_parse(text, &d) != VS_OK) {
        fprintf(stderr, "vsctl ratecard %s: %s: expected a date YYYY-MM-DD, got %s\n", cmd, flag,
                text_quote(quoted, sizeof quoted, text, strlen(text)));
        return -1;
    }
    if (window_check_accepted(flag, d, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl ratecard %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

/* One kind's bands as a table: band, from, to (the next band's start - 1, or "and up"), price. */
static void ratecard_print_bands(const char *title, Vs__V1__RateBand *const *bands, size_t n)
{
    vsctl_table *t = vsctl_table_new("rrrr");

    printf("\n%s\n", title);
    vsctl_table_row(t, "BAND", "FROM", "TO", "PRICE (WON)");
    for (size_t b = 0; b < n; b++) {
        char band[24], from[32], to[32], price[48];

        snprintf(band, sizeof band, "%zu", b + 1);
        vsctl_thousands((long long)bands[b]->first_ordinal, from, sizeof from);
        if (b + 1 < n)
            vsctl_thousands((long long)bands[b + 1]->first_ordinal - 1, to, sizeof to);
        else
            snprintf(to, sizeof to, "and up");
        vsctl_table_row(t, band, from, to,
                        ratecard_price(bands[b]->price_milli, price, sizeof price));
    }
    vsctl_table_print(t, stdout, "  ");
    vsctl_table_free(t);
}

static void ratecard_print(const Vs__V1__RateCard *c)
{
    char when[32] = "-";
    time_t t = (time_t)(c->created_unix_ms / 1000);
    struct tm utc;

    if (c->created_unix_ms > 0 && gmtime_r(&t, &utc) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &utc);
    printf("rate card version %u, in force from %s\n", c->version, c->effective_from);
    printf("  description  %s\n", c->description);
    printf("  added        %s\n", when);
    ratecard_print_bands("video views (won per view, by lifetime view ordinal)", c->video_bands,
                         c->n_video_bands);
    ratecard_print_bands("ad views (won per ad view, by lifetime ad view ordinal)", c->ad_bands,
                         c->n_ad_bands);
}

/* "1.000/1.100/1.300/1.500": a kind's prices by band. */
static void ratecard_summary(Vs__V1__RateBand *const *bands, size_t n, char *out, size_t len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t b = 0; b < n && used < len; b++) {
        char price[48];

        used += (size_t)snprintf(out + used, len - used, "%s%s", b ? "/" : "",
                                 ratecard_price(bands[b]->price_milli, price, sizeof price));
    }
}

static int ratecard_list(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    Vs__V1__ListRateCardsRequest req = VS__V1__LIST_RATE_CARDS_REQUEST__INIT;
    Vs__V1__ListRateCardsResponse *resp = NULL;
    vs_call_status st;
    char today[11];
    size_t current = (size_t)-1;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(ratecard_list_usage, stdout);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "vsctl ratecard list: takes no arguments\n%s", ratecard_list_usage);
        return 2;
    }
    if (ratecard_today(today) != 0)
        return 2;
    if (vs_client_call_named(c, &vs__v1__batch_service__descriptor, "ListRateCards", &req.base,
                             (ProtobufCMessage **)&resp, &st) != VS_OK)
        return vsctl_fail(ctl, "ratecard list", &st);
    /* the card in force today: the latest effective date on or before it */
    for (size_t i = 0; i < resp->n_cards; i++)
        if (strcmp(resp->cards[i]->effective_from, today) <= 0 &&
            (current == (size_t)-1 ||
             strcmp(resp->cards[i]->effective_from, resp->cards[current]->effective_from) > 0))
            current = i;
    if (ctl->json) {
        json_t *arr = json_array();

        for (size_t i = 0; i < resp->n_cards; i++) {
            json_t *card = ratecard_json(resp->cards[i]);

            json_object_set_new(card, "state",
                                json_string(i == current ? "in force"
                                            : strcmp(resp->cards[i]->effective_from, today) > 0
                                                ? "scheduled"
                                                : "past"));
            json_array_append_new(arr, card);
        }
        vsctl_print_json(json_pack("{s:s,s:o}", "today", today, "cards", arr));
    } else {
        vsctl_table *t = vsctl_table_new("rlllll");

        vsctl_table_row(t, "VERSION", "EFFECTIVE FROM", "STATE", "VIDEO (WON/VIEW BY BAND)",
                        "AD (WON/AD VIEW BY BAND)", "DESCRIPTION");
        for (size_t i = 0; i < resp->n_cards; i++) {
            const Vs__V1__RateCard *card = resp->cards[i];
            char version[16], video[16 * 24], ad[16 * 24];

            snprintf(version, sizeof version, "%u", card->version);
            ratecard_summary(card->video_bands, card->n_video_bands, video, sizeof video);
            ratecard_summary(card->ad_bands, card->n_ad_bands, ad, sizeof ad);
            vsctl_table_row(t, version, card->effective_from,
                            i == current                              ? "in force"
                            : strcmp(card->effective_from, today) > 0 ? "scheduled"
                                                                      : "past",
                            video, ad, card->description);
        }
        vsctl_table_print(t, stdout, "");
        vsctl_table_free(t);
        printf("\ntoday is %s (VS_TZ); a day is priced by the card in force on it\n", today);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int ratecard_show(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    static const struct option opts[] = {{"date", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Vs__V1__GetRateCardRequest req = VS__V1__GET_RATE_CARD_REQUEST__INIT;
    Vs__V1__RateCard *card = NULL;
    vs_call_status st;
    const char *date = NULL;
    char today[11];
    int64_t version = 0;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'd') {
            date = optarg;
            continue;
        }
        fputs(ratecard_show_usage, opt == 'h' ? stdout : stderr);
        return opt == 'h' ? 0 : 2;
    }
    if (argc - optind > 1 || (argc - optind == 1 && date != NULL)) {
        fprintf(stderr, "vsctl ratecard show: give a VERSION or --date YYYY-MM-DD, not both\n");
        return 2;
    }
    if (argc - optind == 1 && config_parse_int(argv[optind], 1, UINT32_MAX, &version) != 0) {
        fprintf(stderr,
                "vsctl ratecard show: VERSION: expected a card version (1, 2, ...), got"
                " \"%s\"\n",
                argv[optind]);
        return 2;
    }
    if (date != NULL && ratecard_date_arg("show", "--date", date) != 0)
        return 2;
    if (version == 0 && date == NULL) {
        if (ratecard_today(today) != 0)
            return 2;
        date = today;
    }
    req.version = (uint32_t)version;
    req.date = (char *)(date != NULL ? date : "");
    if (vs_client_call_named(c, &vs__v1__batch_service__descriptor, "GetRateCard", &req.base,
                             (ProtobufCMessage **)&card, &st) != VS_OK)
        return vsctl_fail(ctl, "ratecard show", &st);
    if (ctl->json)
        vsctl_print_json(ratecard_json(card));
    else
        ratecard_print(card);
    protobuf_c_message_free_unpacked(&card->base, NULL);
    return 0;
}

/* Parses "1:1000,100000:1100" into *bands (malloc'd: n structs followed by n pointers to them).
 * Only the syntax is checked here; the coordinator checks the bands themselves and names the
 * band. Returns 0, or 2 after printing why not. An empty text is no band. */
static int ratecard_parse_bands(const char *flag, const char *text, Vs__V1__RateBand ***bands,
                                size_t *n)
{
    size_t count = text[0] ? 1 : 0, i = 0;
    Vs__V1__RateBand *storage;
    const char *p = text;

    for (const char *q = text; *q; q++)
        count += *q == ',';
    *n = 0;
    *bands = calloc(count ? count : 1, sizeof **bands + sizeof(Vs__V1__RateBand));
    if (*bands == NULL) {
        fprintf(stderr, "vsctl ratecard add: out of memory\n");
        return 2;
    }
    storage = (Vs__V1__RateBand *)(*bands + count);
    while (i < count) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char pair[64], quoted[96], *colon, *rest;
        unsigned long long first;
        long long price;

        if (len >= sizeof pair)
            goto bad;
        memcpy(pair, p, len);
        pair[len] = '\0';
        colon = strchr(pair, ':');
        if (colon == NULL || colon == pair || pair[0] < '0' || pair[0] > '9')
            goto bad;
        *colon = '\0';
        errno = 0;
        first = strtoull(pair, &rest, 10);
        if (errno != 0 || *rest != '\0')
            goto bad;
        if (colon[1] != '-' && (colon[1] < '0' || colon[1] > '9'))
            goto bad;
        price = strtoll(colon + 1, &rest, 10);
        if (errno != 0 || *rest != '\0')
            goto bad;
        vs__v1__rate_band__init(&storage[i]);
        storage[i].first_ordinal = first;
        storage[i].price_milli = price;
        (*bands)[i] = &storage[i];
        i++;
        p = end ? end + 1 : p + len;
        continue;
    bad:
        fprintf(stderr,
                "vsctl ratecard add: %s: band %zu is %s: expected FIRST_ORDINAL:PRICE_MILLI (e.g."
                " 100000:1100 = 1.1 won from the 100,000th view)\n",
                flag, i + 1, text_quote(quoted, sizeof quoted, p, len));
        free(*bands);
        *bands = NULL;
        return 2;
    }
    *n = count;
    return 0;
}

static int ratecard_add(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},  {"description", required_argument, NULL, 'D'},
        {"video", required_argument, NULL, 'v'}, {"ad", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    Vs__V1__AddRateCardRequest req = VS__V1__ADD_RATE_CARD_REQUEST__INIT;
    Vs__V1__RateCard *card = NULL;
    const char *from = NULL, *description = NULL, *video = NULL, *ad = NULL;
    vs_call_status st;
    int opt, rc = 2;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            from = optarg;
            break;
        case 'D':
            description = optarg;
            break;
        case 'v':
            video = optarg;
            break;
        case 'a':
            ad = optarg;
            break;
        case 'h':
            fputs(ratecard_add_usage, stdout);
            return 0;
        default:
            fputs(ratecard_add_usage, stderr);
            return 2;
        }
    }
    if (optind != argc || from == NULL || video == NULL || ad == NULL) {
        fprintf(stderr, "vsctl ratecard add: --from, --video and --ad are required (see"
                        " `vsctl ratecard add --help`)\n");
        return 2;
    }
    if (ratecard_date_arg("add", "--from", from) != 0)
        return 2;
    if (ratecard_parse_bands("--video", video, &req.video_bands, &req.n_video_bands) != 0 ||
        ratecard_parse_bands("--ad", ad, &req.ad_bands, &req.n_ad_bands) != 0)
        goto out;
    req.effective_from = (char *)from;
    req.description = (char *)(description != NULL ? description : "");
    if (vs_client_call_named(c, &vs__v1__batch_service__descriptor, "AddRateCard", &req.base,
                             (ProtobufCMessage **)&card, &st) != VS_OK) {
        rc = vsctl_fail(ctl, "ratecard add", &st);
        goto out;
    }
    if (ctl->json) {
        vsctl_print_json(ratecard_json(card));
    } else {
        ratecard_print(card);
        printf("\nbusiness days from %s on are priced by version %u\n", card->effective_from,
               card->version);
    }
    protobuf_c_message_free_unpacked(&card->base, NULL);
    rc = 0;
out:
    free(req.video_bands);
    free(req.ad_bands);
    return rc;
}

int cmd_ratecard(vsctl *ctl, int argc, char **argv)
{
    const char *url = vsctl_coord_url(&argc, &argv);
    vs_client *c = NULL;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ratecard_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "show") != 0 &&
        strcmp(argv[1], "add") != 0) {
        fprintf(stderr, "vsctl ratecard: unknown subcommand \"%s\"\n%s", argv[1], ratecard_usage);
        return 2;
    }
    if ((rc = vsctl_coord_open(ctl, url, &c)) != 0)
        return rc;
    if (strcmp(argv[1], "list") == 0)
        rc = ratecard_list(ctl, c, argc - 1, argv + 1);
    else if (strcmp(argv[1], "show") == 0)
        rc = ratecard_show(ctl, c, argc - 1, argv + 1);
    else
        rc = ratecard_add(ctl, c, argc - 1, argv + 1);
    vs_client_close(c);
    return rc;
}
