/* test_ratecard.c — rate card versions through the coordinator's BatchService (docs/rules.md,
 * "Rate card"): ListRateCards, GetRateCard, AddRateCard and `vsctl ratecard`, then the batch
 * pricing each settled day with the card in force on it.
 *
 *   - migration 0004's default card is version 1, in force since 1970-01-01
 *   - a card takes effect on a business date after today; today and the past are refused
 *   - bad bands and descriptions are refused naming the field, and store nothing
 *   - only an admin may read or add cards
 *   - a new card is version MAX + 1; the card of day D is the one with the latest
 *     effective_from <= D; the same add again returns the same version, a different card for the
 *     same date is ALREADY_EXISTS
 *   - a day settled on or after a card's date uses that card, a day before it the old one
 *   - at most 500 versions, all of which ListRateCards answers within a client's reply limit */
#include "batch_harness.h"

#include "config.h"
#include "window.h"

#define MON "2011-05-02" /* before the card that the last case stores by SQL */
#define TUE "2011-05-03" /* that card's effective_from */
#define WED "2011-05-04"

#define DEFAULT_VIDEO "1:1000,100000:1100,500000:1300,1000000:1500"
#define DEFAULT_AD "1:10000,100000:12000,500000:15000,1000000:20000"
#define NEW_VIDEO "1:1200,100000:1400,500000:1600"
#define NEW_AD "1:11000,200000:13000"

static bh h;
static MYSQL *db;
static pid_t coord, worker;
static vs_client *admin;
static char today[11], yesterday[11], tomorrow[11];

/* An AddRateCardRequest with its bands; the bands are written "FIRST:PRICE,FIRST:PRICE". */
typedef struct card_req {
    Vs__V1__AddRateCardRequest req;
    Vs__V1__RateBand bands[2][40];
    Vs__V1__RateBand *ptrs[2][40];
} card_req;

static size_t parse_bands(const char *text, Vs__V1__RateBand *bands, Vs__V1__RateBand **ptrs)
{
    size_t n = 0;
    char *end;

    while (*text != '\0' && n < 40) {
        vs__v1__rate_band__init(&bands[n]);
        bands[n].first_ordinal = strtoull(text, &end, 10);
        assert_int_equal(*end, ':');
        bands[n].price_milli = strtoll(end + 1, &end, 10);
        ptrs[n] = &bands[n];
        n++;
        text = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* AddRateCard on client c; *out (may be NULL) gets the reply, which the caller frees. */
static int add_card_as(vs_client *c, const char *from, const char *description, const char *video,
                       const char *ad, Vs__V1__RateCard **out, vs_call_status *st)
{
    card_req r;
    ProtobufCMessage *reply = NULL;
    int rc;

    vs__v1__add_rate_card_request__init(&r.req);
    r.req.effective_from = (char *)from;
    r.req.description = (char *)description;
    r.req.n_video_bands = parse_bands(video, r.bands[0], r.ptrs[0]);
    r.req.video_bands = r.ptrs[0];
    r.req.n_ad_bands = parse_bands(ad, r.bands[1], r.ptrs[1]);
    r.req.ad_bands = r.ptrs[1];
    rc = vs_client_call_named(c, &vs__v1__batch_service__descriptor, "AddRateCard", &r.req.base,
                              &reply, st);
    if (out != NULL)
        *out = (Vs__V1__RateCard *)reply;
    else if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    return rc;
}

static int add_card(const char *from, const char *description, const char *video, const char *ad,
                    Vs__V1__RateCard **out, vs_call_status *st)
{
    return add_card_as(admin, from, description, video, ad, out, st);
}

/* GetRateCard by version (date NULL) or by date; NULL when the call fails. */
static Vs__V1__RateCard *get_card(uint32_t version, const char *date, vs_call_status *st)
{
    Vs__V1__GetRateCardRequest req = VS__V1__GET_RATE_CARD_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;

    req.version = version;
    req.date = (char *)(date != NULL ? date : "");
    vs_client_call_named(admin, &vs__v1__batch_service__descriptor, "GetRateCard", &req.base,
                         &reply, st);
    return (Vs__V1__RateCard *)reply;
}

/* The version in force on date, as GetRateCard says. */
static uint32_t version_on(const char *date)
{
    vs_call_status st;
    Vs__V1__RateCard *card = get_card(0, date, &st);
    uint32_t version;

    if (card == NULL)
        fail_msg("GetRateCard date %s: %s", date, st.message);
    version = card->version;
    protobuf_c_message_free_unpacked(&card->base, NULL);
    return version;
}

/* The bands of one kind of a card, written back as "FIRST:PRICE,..." (to compare with input). */
static const char *bands_text(Vs__V1__RateBand *const *bands, size_t n, char *out, size_t len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t b = 0; b < n; b++)
        used += (size_t)snprintf(out + used, len - used, "%s%llu:%lld", b ? "," : "",
                                 (unsigned long long)bands[b]->first_ordinal,
                                 (long long)bands[b]->price_milli);
    return out;
}

static void assert_card(const Vs__V1__RateCard *card, uint32_t version, const char *from,
                        const char *video, const char *ad)
{
    char text[512];

    assert_non_null(card);
    assert_int_equal(card->version, version);
    assert_string_equal(card->effective_from, from);
    assert_string_equal(bands_text(card->video_bands, card->n_video_bands, text, sizeof text),
                        video);
    assert_string_equal(bands_text(card->ad_bands, card->n_ad_bands, text, sizeof text), ad);
}

static int64_t stored_cards(void)
{
    return bh_int(db, "SELECT COUNT(*) FROM rate_card");
}

static int64_t stored_bands(void)
{
    return bh_int(db, "SELECT COUNT(*) FROM rate_card_band");
}

static int group_setup(void **state)
{
    const char *coord_env[] = {"VS_BATCH_PARTITION_IDS=200000", NULL};
    char err[256];
    business_date d;

    bh_setup(&h, "ratecard");
    assert_int_equal(window_init(config_get("VS_TZ", "Asia/Seoul"), err, sizeof err), VS_OK);
    d = window_day_of(clock_now_ms());
    window_format(d, today);
    window_format(d - 1, yesterday);
    window_format(d + 1, tomorrow);
    db = ts_db_primary();
    coord = bh_start_coordinator(&h, coord_env);
    worker = bh_start_worker(&h, 2, "worker", NULL);
    admin = bh_client(&h);
    return 0;
}

static int group_teardown(void **state)
{
    vs_client_close(admin);
    ts_stop(worker);
    ts_stop(coord);
    mysql_close(db);
    bh_teardown(&h);
    return 0;
}

/* Migration 0004's card: version 1, since 1970-01-01, the prices of docs/rules.md. */
static void test_list_shows_the_default_card_as_version_1(void **state)
{
    Vs__V1__ListRateCardsRequest req = VS__V1__LIST_RATE_CARDS_REQUEST__INIT;
    Vs__V1__ListRateCardsResponse *resp = NULL;
    vs_call_status st;

    assert_int_equal(vs_client_call_named(admin, &vs__v1__batch_service__descriptor,
                                          "ListRateCards", &req.base, (ProtobufCMessage **)&resp,
                                          &st),
                     VS_OK);
    assert_int_equal(resp->n_cards, 1);
    assert_card(resp->cards[0], 1, "1970-01-01", DEFAULT_VIDEO, DEFAULT_AD);
    assert_string_equal(resp->cards[0]->description, "default card (docs/rules.md, Settlement)");
    assert_true(resp->cards[0]->created_unix_ms > 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    assert_int_equal(version_on(today), 1);
}

/* A settled day keeps its card: effective_from today or earlier is refused, nothing stored. */
static void test_add_for_today_or_the_past_is_refused(void **state)
{
    const char *dates[] = {today, yesterday, "2011-05-03"};
    char message[256];
    vs_call_status st;

    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        Vs__V1__RateCard *card = NULL;

        assert_int_equal(add_card(dates[i], "too late", NEW_VIDEO, NEW_AD, &card, &st),
                         VS_FAILED_PRECONDITION);
        assert_null(card);
        snprintf(message, sizeof message,
                 "effective_from: must be a business date after today (%s in the business time"
                 " zone): settled days keep the card they were settled with, got %s",
                 today, dates[i]);
        assert_string_equal(st.message, message);
    }
    assert_int_equal(add_card("2027-02-30", "", NEW_VIDEO, NEW_AD, NULL, &st), VS_INVALID_ARGUMENT);
    assert_string_equal(st.message,
                        "effective_from: expected a business date YYYY-MM-DD, got \"2027-02-30\"");
    assert_int_equal(stored_cards(), 1);
    assert_int_equal(stored_bands(), 8);
}

/* Each malformed card is INVALID_ARGUMENT with the field (and band) named; nothing is stored. */
static void test_invalid_cards_are_refused_naming_the_field(void **state)
{
    static const struct {
        const char *video, *ad, *message;
    } cases[] = {
        {"2:1000,100000:1100", NEW_AD,
         "video_bands[0].first_ordinal: the first band must start at ordinal 1, got 2"},
        {"1:1000,100000:1100,50000:1300", NEW_AD,
         "video_bands[2].first_ordinal: must be greater than the band before it (100000), got "
         "50000"},
        {"1:1000,1:1100", NEW_AD,
         "video_bands[1].first_ordinal: must be greater than the band before it (1), got 1"},
        {NEW_VIDEO, "1:10000,100000:-5",
         "ad_bands[1].price_milli: must be 0..1000000 (milli-won per view, at most 1,000 won), "
         "got -5"},
        {"1:1000001", NEW_AD,
         "video_bands[0].price_milli: must be 0..1000000 (milli-won per view, at most 1,000 "
         "won), got 1000001"},
        {"1:1000,1000000000001:1100", NEW_AD,
         "video_bands[1].first_ordinal: at most 1000000000000, got 1000000000001"},
        {"", NEW_AD, "video_bands: at least one band is required (the first starts at ordinal 1)"},
        {NEW_VIDEO, "", "ad_bands: at least one band is required (the first starts at ordinal 1)"},
        {"1:1,2:1,3:1,4:1,5:1,6:1,7:1,8:1,9:1,10:1,11:1,12:1,13:1,14:1,15:1,16:1,17:1", NEW_AD,
         "video_bands: at most 16 bands, got 17"},
    };
    char description[1024] = "";
    vs_call_status st;

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Vs__V1__RateCard *card = NULL;

        assert_int_equal(add_card(tomorrow, "bad", cases[i].video, cases[i].ad, &card, &st),
                         VS_INVALID_ARGUMENT);
        assert_null(card);
        assert_string_equal(st.message, cases[i].message);
    }
    /* 201 characters (603 bytes of UTF-8): too long; a control character: refused */
    for (int i = 0; i < 201; i++)
        strcat(description, "\xea\xb0\x80"); /* U+AC00 */
    assert_int_equal(add_card(tomorrow, description, NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_INVALID_ARGUMENT);
    assert_string_equal(st.message, "description: at most 200 characters, got 201");
    assert_int_equal(add_card(tomorrow, "two\nlines", NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_INVALID_ARGUMENT);
    assert_string_equal(st.message,
                        "description: control characters are not allowed (U+000A at character 4)");
    assert_int_equal(stored_cards(), 1);
    assert_int_equal(stored_bands(), 8);
}

/* Reading and adding cards are an admin's: a creator is PERMISSION_DENIED, no token
 * UNAUTHENTICATED, and nothing is stored. */
static void test_non_admin_is_refused(void **state)
{
    Vs__V1__ListRateCardsRequest list = VS__V1__LIST_RATE_CARDS_REQUEST__INIT;
    char *token = bh_token(BH_CREATOR, 3600, NULL, NULL);
    vs_client *creator = ts_client(h.coord_url, 10000), *nobody = ts_client(h.coord_url, 10000);
    ProtobufCMessage *reply = NULL;
    vs_call_status st;

    vs_client_set_token(creator, token);
    assert_int_equal(add_card_as(creator, tomorrow, "mine", NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_PERMISSION_DENIED);
    assert_non_null(strstr(st.message, "admin role"));
    assert_int_equal(vs_client_call_named(creator, &vs__v1__batch_service__descriptor,
                                          "ListRateCards", &list.base, &reply, &st),
                     VS_PERMISSION_DENIED);
    assert_null(reply);
    assert_int_equal(add_card_as(nobody, tomorrow, "mine", NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_UNAUTHENTICATED);
    assert_int_equal(stored_cards(), 1);
    vs_client_close(creator);
    vs_client_close(nobody);
    free(token);
}

/* A card for tomorrow is version 2: by version, and by date (today: still 1; tomorrow on: 2). */
static void test_add_for_tomorrow_is_the_next_version(void **state)
{
    Vs__V1__RateCard *card = NULL;
    vs_call_status st;

    assert_int_equal(add_card(tomorrow, "2 tiers of ads", NEW_VIDEO, NEW_AD, &card, &st), VS_OK);
    assert_card(card, 2, tomorrow, NEW_VIDEO, NEW_AD);
    assert_string_equal(card->description, "2 tiers of ads");
    protobuf_c_message_free_unpacked(&card->base, NULL);
    assert_int_equal(stored_cards(), 2);
    assert_int_equal(stored_bands(), 8 + 3 + 2);
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM rate_card WHERE version = 2 AND"
                            " effective_from = '%s'",
                            tomorrow),
                     1);

    card = get_card(2, NULL, &st);
    assert_card(card, 2, tomorrow, NEW_VIDEO, NEW_AD);
    protobuf_c_message_free_unpacked(&card->base, NULL);
    assert_int_equal(version_on(today), 1);
    assert_int_equal(version_on("2011-05-03"), 1);
    assert_int_equal(version_on(tomorrow), 2);
    assert_int_equal(version_on("9999-10-31"), 2);
}

/* A retry of the same add returns the card it stored: same version, no new row. */
static void test_same_add_again_returns_the_same_version(void **state)
{
    Vs__V1__RateCard *card = NULL;
    vs_call_status st;
    Vs__V1__RateCard *first = get_card(2, NULL, &st);

    assert_int_equal(add_card(tomorrow, "2 tiers of ads", NEW_VIDEO, NEW_AD, &card, &st), VS_OK);
    assert_card(card, 2, tomorrow, NEW_VIDEO, NEW_AD);
    assert_int_equal(card->created_unix_ms, first->created_unix_ms);
    protobuf_c_message_free_unpacked(&card->base, NULL);
    protobuf_c_message_free_unpacked(&first->base, NULL);
    assert_int_equal(stored_cards(), 2);
    assert_int_equal(stored_bands(), 13);
}

/* A different card for a date that has one: ALREADY_EXISTS naming effective_from; the stored
 * card is unchanged. */
static void test_different_card_for_the_same_date_already_exists(void **state)
{
    char message[256];
    vs_call_status st;

    snprintf(message, sizeof message,
             "effective_from: %s already has rate card version 2 with other bands or description"
             " (a stored card is never changed)",
             tomorrow);
    assert_int_equal(add_card(tomorrow, "other words", NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_ALREADY_EXISTS);
    assert_string_equal(st.message, message);
    assert_int_equal(
        add_card(tomorrow, "2 tiers of ads", NEW_VIDEO, "1:11000,200000:13001", NULL, &st),
        VS_ALREADY_EXISTS);
    assert_string_equal(st.message, message);
    assert_int_equal(stored_cards(), 2);
    assert_int_equal(bh_int(db, "SELECT price_milli FROM rate_card_band WHERE version = 2 AND"
                                " kind = 2 AND band = 2"),
                     13000);
}

/* GetRateCard: an unknown version is NOT_FOUND; one of version and date is required. */
static void test_get_unknown_version_or_bad_request(void **state)
{
    vs_call_status st;

    assert_null(get_card(99, NULL, &st));
    assert_int_equal(st.code, VS_NOT_FOUND);
    assert_string_equal(st.message, "version: rate card 99 does not exist");
    assert_null(get_card(0, NULL, &st));
    assert_int_equal(st.code, VS_INVALID_ARGUMENT);
    assert_null(get_card(1, today, &st));
    assert_int_equal(st.code, VS_INVALID_ARGUMENT);
    assert_null(get_card(0, "yesterday", &st));
    assert_int_equal(st.code, VS_INVALID_ARGUMENT);
    assert_string_equal(st.message, "date: expected a business date YYYY-MM-DD, got \"yesterday\"");
}

/* vsctl ratecard list/show/add, with the harness's kept admin log-in. */
static void test_vsctl_ratecard(void **state)
{
    const char *vsctl = ts_program("client/vsctl");
    char out[700];

    snprintf(out, sizeof out, "%s/vsctl-ratecard.out", h.logs);
    assert_int_equal(ts_sh("'%s' ratecard list > '%s'", vsctl, out), 0);
    assert_int_equal(
        ts_sh("grep -Eq '^ +1 +1970-01-01 +in force +1.000/1.100/1.300/1.500 +10.000/12.000/"
              "15.000/20.000 +default card' '%s'",
              out),
        0);
    assert_int_equal(ts_sh("grep -Eq '^ +2 +%s +scheduled +1.200/1.400/1.600 +11.000/13.000 +2"
                           " tiers of ads$' '%s'",
                           tomorrow, out),
                     0);
    assert_int_equal(ts_sh("'%s' ratecard show --date %s > '%s'", vsctl, tomorrow, out), 0);
    assert_int_equal(ts_sh("grep -q 'rate card version 2, in force from %s' '%s' && grep -Eq"
                           " '^ +2 +100,000 +499,999 +1.400$' '%s' && grep -Eq"
                           " '^ +2 +200,000 +and up +13.000$' '%s'",
                           tomorrow, out, out, out),
                     0);
    assert_int_equal(ts_sh("'%s' --json ratecard show 1 > '%s'", vsctl, out), 0);
    assert_int_equal(ts_sh("grep -q '\"version\": 1,' '%s' && grep -q '\"last_ordinal\": 99999,'"
                           " '%s'",
                           out, out),
                     0);
    /* the same add through vsctl: version 2 again */
    assert_int_equal(ts_sh("'%s' --json ratecard add --from %s --description '2 tiers of ads'"
                           " --video " NEW_VIDEO " --ad " NEW_AD " > '%s'",
                           vsctl, tomorrow, out),
                     0);
    assert_int_equal(ts_sh("grep -q '\"version\": 2,' '%s'", out), 0);
    assert_int_equal(ts_sh("'%s' ratecard add --from %s --video " NEW_VIDEO " --ad " NEW_AD
                           " 2> '%s'",
                           vsctl, yesterday, out),
                     1);
    assert_int_equal(ts_sh("grep -q 'FAILED_PRECONDITION: effective_from:' '%s'", out), 0);
    assert_int_equal(ts_sh("'%s' ratecard add --from %s --video 1:1000,x --ad " NEW_AD " 2> '%s'",
                           vsctl, tomorrow, out),
                     2);
    assert_int_equal(stored_cards(), 2);
}

static uint64_t make_video(void)
{
    bh_exec(db, "INSERT INTO videos (creator_id, title, duration_s) VALUES (515151, 'rc', 3600)");
    return (uint64_t)mysql_insert_id(db);
}

/* n counted views and ads ad views (in one Pause row) of video on day. */
static void add_traffic(uint64_t video, const char *day, int n, int ads)
{
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " view_counted) SELECT CONCAT('rc-%s-v-', seq), 1, %llu, 1000000 + seq, '%s', 0, 1"
            " FROM seq_1_to_%d",
            day, (unsigned long long)video, day, n);
    bh_exec(db,
            "INSERT INTO play_log (event_id, kind, video_id, viewer_id, day, received_at_ms,"
            " position_s, credited_to_s, watch_s, ad_views) VALUES ('rc-%s-a', 2, %llu, 3000000,"
            " '%s', 0, 3001, 3001, 3001, %d)",
            day, (unsigned long long)video, day, ads);
}

static int64_t settled(const char *column, uint64_t video, const char *day)
{
    return bh_int(db, "SELECT %s FROM settlement_daily WHERE video_id = %llu AND day = '%s'",
                  column, (unsigned long long)video, day);
}

/* AddRateCard only takes future dates, so a card in force on a past day is stored by SQL (as
 * version 3, from TUE): MON is settled with version 1, TUE and WED with version 3, each amount
 * per its card over the video's lifetime ordinals.
 *   MON: views 1..1000 at 1.0 won = 1,000 won; 10 ad views at 10 won = 100 won
 *   TUE: views 1001..2000 on card 3 (2.0 won up to the 1,499th, 3.0 won from the 1,500th):
 *        F3(2000) - F3(1000) = (1499 x 2,000 + 501 x 3,000) - 1000 x 2,000 milli = 2,501 won;
 *        10 ad views at 5 won = 50 won
 *   WED: views 2001..2010 at 3.0 won = 30 won */
static void test_settled_days_use_the_card_in_force_on_them(void **state)
{
    uint64_t video = make_video();

    bh_exec(db, "INSERT INTO rate_card (version, effective_from, description) VALUES (3, '" TUE
                "', 'stored by the test')");
    bh_exec(db, "INSERT INTO rate_card_band (version, kind, band, first_ordinal, price_milli)"
                " VALUES (3, 1, 1, 1, 2000), (3, 1, 2, 1500, 3000), (3, 2, 1, 1, 5000)");
    add_traffic(video, MON, 1000, 10);
    add_traffic(video, TUE, 1000, 10);
    add_traffic(video, WED, 10, 0);
    assert_int_equal(version_on(MON), 1);
    assert_int_equal(version_on(TUE), 3);
    assert_int_equal(version_on(today), 3);
    assert_int_equal(version_on(tomorrow), 2);

    bh_settle(admin, MON, 0);
    bh_settle(admin, TUE, 0);
    bh_settle(admin, WED, 0);
    assert_int_equal(settled("rate_card_version", video, MON), 1);
    assert_int_equal(settled("video_won", video, MON), 1000);
    assert_int_equal(settled("ad_won", video, MON), 100);
    assert_int_equal(settled("rate_card_version", video, TUE), 3);
    assert_int_equal(settled("views_before", video, TUE), 1000);
    assert_int_equal(settled("video_exact_milli", video, TUE), 2501000);
    assert_int_equal(settled("video_won", video, TUE), 2501);
    assert_int_equal(settled("ad_won", video, TUE), 50);
    assert_int_equal(settled("total_won", video, TUE), 2551);
    assert_int_equal(settled("rate_card_version", video, WED), 3);
    assert_int_equal(settled("video_won", video, WED), 30);
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM batch_job WHERE business_date BETWEEN '" MON
                                "' AND '" WED "' AND rate_card_version = IF(business_date = '" MON
                                "', 1, 3)"),
                     3);
}

/* The table is bounded: with 500 versions (the most), each of the largest size — 16 + 16 bands
 * at the largest ordinals and prices, 200 four-byte characters of description — ListRateCards
 * still answers every card within a client's 1 MiB reply, and AddRateCard refuses a 501st. */
static void test_versions_are_bounded(void **state)
{
    Vs__V1__ListRateCardsRequest req = VS__V1__LIST_RATE_CARDS_REQUEST__INIT;
    Vs__V1__ListRateCardsResponse *resp = NULL;
    vs_call_status st;

    bh_exec(db, "INSERT INTO rate_card (version, effective_from, description) SELECT seq,"
                " '2100-01-01' + INTERVAL seq DAY, REPEAT(_utf8mb4 0xF09F9880, 200)"
                " FROM seq_4_to_500");
    bh_exec(db, "INSERT INTO rate_card_band (version, kind, band, first_ordinal, price_milli)"
                " SELECT v.seq, k.seq, b.seq, IF(b.seq = 1, 1, 1000000000000 - 16 + b.seq),"
                " 1000000 FROM seq_4_to_500 v, seq_1_to_2 k, seq_1_to_16 b");
    assert_int_equal(vs_client_call_named(admin, &vs__v1__batch_service__descriptor,
                                          "ListRateCards", &req.base, (ProtobufCMessage **)&resp,
                                          &st),
                     VS_OK);
    assert_int_equal(resp->n_cards, 500);
    assert_int_equal(resp->cards[0]->version, 1);
    assert_int_equal(resp->cards[499]->version, 500);
    assert_int_equal(resp->cards[499]->n_video_bands, 16);
    assert_int_equal(strlen(resp->cards[499]->description), 800);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    assert_int_equal(add_card("9999-01-01", "one too many", NEW_VIDEO, NEW_AD, NULL, &st),
                     VS_RESOURCE_EXHAUSTED);
    assert_string_equal(st.message, "rate cards: the database holds 500 versions, the most this"
                                    " coordinator stores");
    assert_int_equal(stored_cards(), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_shows_the_default_card_as_version_1),
        cmocka_unit_test(test_add_for_today_or_the_past_is_refused),
        cmocka_unit_test(test_invalid_cards_are_refused_naming_the_field),
        cmocka_unit_test(test_non_admin_is_refused),
        cmocka_unit_test(test_add_for_tomorrow_is_the_next_version),
        cmocka_unit_test(test_same_add_again_returns_the_same_version),
        cmocka_unit_test(test_different_card_for_the_same_date_already_exists),
        cmocka_unit_test(test_get_unknown_version_or_bad_request),
        cmocka_unit_test(test_vsctl_ratecard),
        cmocka_unit_test(test_settled_days_use_the_card_in_force_on_them),
        cmocka_unit_test(test_versions_are_bounded),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
