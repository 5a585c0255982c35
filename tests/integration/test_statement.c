/* test_statement.c — GetStatement and GetLedger (StreamingService) and `vsctl settlement
 * statement|export|ledger` end to end (docs/reads.md "Statements and the ledger"), against rows
 * written with SQL the way the batch and CloseMonth write them.
 *
 * Data (months of 1998, which no other test uses; fresh creators each run, so the append-only
 * ledger's rows of earlier runs never match):
 *   1998-02 closed by closer@admin.test: statement_line A0 440 won, A1 50 won, B0 80 won; the
 *           month rollup says something else for A0 (a FINAL statement must not read it); an
 *           adjustment of a January day booked in it (A0, -3 won).
 *   1998-03 open, days 03-01..03-10 settled: the rollup has A0..A3 and B0 (A4 has no figures);
 *           adjustments of February days booked in it: A0 -30 won ("invalid traffic, viewer 9
 *           \"bot\""), A4 +5 won, B0 -7 won, A1 +11 won (a reason with a line break).
 *   1998-05 open: creator C with 1,500 videos whose titles are 800 bytes (paging by reply size).
 *   Ledger of A: settled, closed, adjustment and re-run entries of both months. */
#include "reads_fixture.h"

#include <jansson.h>
#include <sys/stat.h>

#define OPEN "1998-03"
#define CLOSED "1998-02"
#define BIG "1998-05"
#define BIG_VIDEOS 1500
#define TITLE0 "Tom's \"best\", take 2"
#define REASON_BOT "invalid traffic, viewer 9 \"bot\""
#define REASON_LF "late plays\nfound by the audit"
#define CLOSER "closer@admin.test"
#define CLOSED_MS 886291200000LL
#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600, 4 bytes */

static rf_user creator_a, creator_b, creator_c, admin;
static uint64_t a[5], b0;
static uint64_t adj_a0, adj_a4, adj_b0, adj_a1, adj_jan; /* ledger ids of the adjustments */
static char a_xdg[600], admin_xdg[600], out_path[700];

/* The rollup row of the open month: views, ad views, video won, ad won (total = their sum). */
static const int64_t open_fig[4][4] = {
    {1000, 10, 1000, 100}, {200, 2, 200, 20}, {3000, 30, 3003, 300}, {5, 0, 5, 0}};

static uint64_t ledger(int kind, uint64_t video, uint64_t creator, const char *day,
                       const char *booked, int64_t views, int64_t ads, int64_t vw, int64_t aw,
                       uint64_t job, const char *actor, const char *reason)
{
    rf_sql("INSERT INTO ledger (kind, job_id, actor, reason, day, booked_month, video_id, "
           "creator_id, rate_card_version, views, ad_views, video_won, ad_won, total_won, at_ms) "
           "VALUES (%d, %" PRIu64 ", '%s', '%s', '%s', '%s', %" PRIu64 ", %" PRIu64
           ", 1, %lld, %lld, %lld, %lld, %lld, 886300000000)",
           kind, job, actor, reason, day, booked, video, creator, (long long)views, (long long)ads,
           (long long)vw, (long long)aw, (long long)(vw + aw));
    return (uint64_t)rf_int("SELECT LAST_INSERT_ID()");
}

static void rollup(const char *month, uint64_t video, uint64_t creator, const int64_t f[4])
{
    rf_sql("INSERT INTO video_period_stats (period_kind, period_start, video_id, creator_id, days, "
           "views, watch_s, ad_views, video_won, ad_won, total_won) VALUES (3, '%s-01', %" PRIu64
           ", %" PRIu64 ", 10, %lld, %lld, %lld, %lld, %lld, %lld)",
           month, video, creator, (long long)f[0], (long long)(f[0] * 7), (long long)f[1],
           (long long)f[2], (long long)f[3], (long long)(f[2] + f[3]));
}

static void statement_line(const char *month, uint64_t video, uint64_t creator, const int64_t f[4])
{
    rf_sql("INSERT INTO statement_line (month, creator_id, video_id, views, ad_views, video_won, "
           "ad_won, total_won) VALUES ('%s-01', %" PRIu64 ", %" PRIu64
           ", %lld, %lld, %lld, %lld, %lld)",
           month, creator, video, (long long)f[0], (long long)f[1], (long long)f[2],
           (long long)f[3], (long long)(f[2] + f[3]));
}

static int setup(void **state)
{
    static const int64_t feb[3][4] = {{400, 4, 400, 40}, {50, 0, 50, 0}, {70, 1, 70, 10}};
    static const int64_t b_open[4] = {777, 7, 777, 70}, a0_feb_rollup[4] = {999999, 9, 9, 9};
    static const char *const titles[5] = {TITLE0, "A plain", "A third", "A fourth", "A fifth"};

    if (rf_setup("statement", NULL) != 0)
        return -1;
    creator_a = rf_new_user("stmt-a");
    creator_b = rf_new_user("stmt-b");
    creator_c = rf_new_user("stmt-c");
    admin = rf_new_user("stmt-admin");
    rf_make_admin(&admin);
    for (int i = 0; i < 5; i++)
        a[i] = rf_video(&creator_a, titles[i]);
    b0 = rf_video(&creator_b, "B one");
    for (int d = 1; d <= 10; d++) {
        char day[16];

        snprintf(day, sizeof day, OPEN "-%02d", d);
        rf_day_state(day, 4);
    }
    /* the closed month */
    rf_sql("INSERT IGNORE INTO month_close (month, closed_by, closed_ms, videos, total_won) "
           "VALUES ('" CLOSED "-01', '" CLOSER "', %lld, 3, 570)",
           CLOSED_MS);
    statement_line(CLOSED, a[0], creator_a.id, feb[0]);
    statement_line(CLOSED, a[1], creator_a.id, feb[1]);
    statement_line(CLOSED, b0, creator_b.id, feb[2]);
    rollup(CLOSED, a[0], creator_a.id, a0_feb_rollup);
    /* the open month */
    for (int i = 0; i < 4; i++)
        rollup(OPEN, a[i], creator_a.id, open_fig[i]);
    rollup(OPEN, b0, creator_b.id, b_open);
    /* the ledger */
    ledger(1, a[0], creator_a.id, CLOSED "-03", CLOSED "-01", 400, 4, 400, 40, 11, "schedule", "");
    ledger(4, 0, 0, CLOSED "-01", CLOSED "-01", 0, 0, 0, 0, 0, CLOSER, "");
    adj_jan = ledger(3, a[0], creator_a.id, "1998-01-15", CLOSED "-01", -3, 0, -3, 0, 12,
                     "ops@admin.test", "January correction");
    ledger(1, a[0], creator_a.id, OPEN "-02", OPEN "-01", 1000, 10, 1000, 100, 13, "schedule", "");
    adj_a0 = ledger(3, a[0], creator_a.id, CLOSED "-03", OPEN "-01", -20, -1, -20, -10, 21,
                    "ops@admin.test", REASON_BOT);
    adj_a4 = ledger(3, a[4], creator_a.id, CLOSED "-10", OPEN "-01", 5, 0, 5, 0, 21,
                    "ops@admin.test", "late plays");
    adj_b0 = ledger(3, b0, creator_b.id, CLOSED "-03", OPEN "-01", -7, 0, -7, 0, 21,
                    "ops@admin.test", "B fix");
    ledger(2, a[0], creator_a.id, OPEN "-02", OPEN "-01", 10, 0, 10, 0, 22, "ops@admin.test",
           "rerun");
    adj_a1 = ledger(3, a[1], creator_a.id, CLOSED "-20", OPEN "-01", 1, 1, 1, 10, 23,
                    "ops@admin.test", REASON_LF);
    /* creator C: many videos with long titles */
    rf_sql("INSERT INTO videos (creator_id, title, duration_s) SELECT %" PRIu64 ", REPEAT('" EMOJI
           "', 200), 60 FROM seq_1_to_%d",
           creator_c.id, BIG_VIDEOS);
    rf_sql("INSERT INTO video_period_stats (period_kind, period_start, video_id, creator_id, days, "
           "views, watch_s, ad_views, video_won, ad_won, total_won) SELECT 3, '" BIG "-01', id, "
           "creator_id, 1, 10, 10, 1, 10, 10, 20 FROM videos WHERE creator_id = %" PRIu64,
           creator_c.id);
    rf_replica_catch_up();
    rf_save_token(&creator_a, a_xdg, sizeof a_xdg, "statement-a");
    rf_save_token(&admin, admin_xdg, sizeof admin_xdg, "statement-admin");
    snprintf(out_path, sizeof out_path, "%s/statement-%d.out", getenv("VS_TEST_HOME"),
             (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    ts_sh("rm -rf '%s' '%s' '%s' '%s.2'", a_xdg, admin_xdg, out_path, out_path);
    rf_free_user(&creator_a);
    rf_free_user(&creator_b);
    rf_free_user(&creator_c);
    rf_free_user(&admin);
    rf_teardown();
    return 0;
}

/* ---- calls ---- */

typedef struct cursor {
    uint64_t creator, video, adjustment;
} cursor;

static Vs__V1__Statement *get_statement(rf_user *u, const char *month, uint64_t creator, int all,
                                        uint32_t limit, cursor at, vs_call_status *st)
{
    Vs__V1__GetStatementRequest req = VS__V1__GET_STATEMENT_REQUEST__INIT;
    Vs__V1__Statement *s = NULL;

    req.month = (char *)month;
    req.creator_id = creator;
    req.all_creators = all;
    req.limit = limit;
    req.after_creator_id = at.creator;
    req.after_video_id = at.video;
    req.after_adjustment_id = at.adjustment;
    if (vs_client_call_named(u->client, &vs__v1__streaming_service__descriptor, "GetStatement",
                             &req.base, (ProtobufCMessage **)&s, st) != VS_OK)
        return NULL;
    return s;
}

static Vs__V1__Statement *statement_ok(rf_user *u, const char *month, uint64_t creator, int all)
{
    vs_call_status st;
    Vs__V1__Statement *s = get_statement(u, month, creator, all, 0, (cursor){0}, &st);

    if (s == NULL)
        fail_msg("GetStatement %s: %s %s", month, vs_status_name(st.code), st.message);
    return s;
}

/* A call that must fail with code and a message starting with prefix. */
static void statement_refused(rf_user *u, const char *month, uint64_t creator, int all,
                              uint32_t limit, int code, const char *prefix)
{
    vs_call_status st;
    Vs__V1__Statement *s = get_statement(u, month, creator, all, limit, (cursor){0}, &st);

    if (s != NULL)
        fail_msg("GetStatement %s answered, expected %s", month, vs_status_name(code));
    if (st.code != code || strncmp(st.message, prefix, strlen(prefix)) != 0)
        fail_msg("GetStatement \"%s\": got %s \"%s\", expected %s \"%s...\"", month,
                 vs_status_name(st.code), st.message, vs_status_name(code), prefix);
}

static Vs__V1__Ledger *get_ledger(rf_user *u, uint64_t video, uint64_t creator, const char *from,
                                  const char *to, uint32_t limit, uint64_t after,
                                  vs_call_status *st)
{
    Vs__V1__GetLedgerRequest req = VS__V1__GET_LEDGER_REQUEST__INIT;
    Vs__V1__Ledger *l = NULL;

    req.video_id = video;
    req.creator_id = creator;
    req.from_date = (char *)(from ? from : "");
    req.to_date = (char *)(to ? to : "");
    req.limit = limit;
    req.after_id = after;
    if (vs_client_call_named(u->client, &vs__v1__streaming_service__descriptor, "GetLedger",
                             &req.base, (ProtobufCMessage **)&l, st) != VS_OK)
        return NULL;
    return l;
}

static void ledger_refused(rf_user *u, uint64_t video, uint64_t creator, const char *from,
                           const char *to, int code, const char *prefix)
{
    vs_call_status st;
    Vs__V1__Ledger *l = get_ledger(u, video, creator, from, to, 0, 0, &st);

    if (l != NULL)
        fail_msg("GetLedger answered, expected %s", vs_status_name(code));
    if (st.code != code || strncmp(st.message, prefix, strlen(prefix)) != 0)
        fail_msg("GetLedger: got %s \"%s\", expected %s \"%s...\"", vs_status_name(st.code),
                 st.message, vs_status_name(code), prefix);
}

/* ---- every page of a statement ---- */

#define MAX_ITEMS 4000

typedef struct item {
    int adjustment;
    uint64_t creator, video, ledger_id;
    int64_t total_won;
} item;

typedef struct pages {
    item items[MAX_ITEMS];
    size_t n, n_lines;
    int pages;
    int64_t lines_won, adjustments_won;
    size_t largest_reply;
} pages;

/* Fetches every page with limit; asserts each page's sums and state equal the first's, lines come
 * before adjustments, no page is larger than limit and only the last has more unset. */
static void statement_pages(rf_user *u, const char *month, uint64_t creator, int all,
                            uint32_t limit, pages *out)
{
    cursor at = {0};
    int more = 1, state = 0;

    memset(out, 0, sizeof *out);
    while (more) {
        vs_call_status st;
        Vs__V1__Statement *s = get_statement(u, month, creator, all, limit, at, &st);
        size_t size;

        if (s == NULL)
            fail_msg("GetStatement page %d: %s %s", out->pages, vs_status_name(st.code),
                     st.message);
        size = protobuf_c_message_get_packed_size(&s->base);
        if (size > out->largest_reply)
            out->largest_reply = size;
        if (out->pages == 0) {
            out->lines_won = s->lines_won;
            out->adjustments_won = s->adjustments_won;
            state = s->state;
        }
        assert_int_equal(s->lines_won, out->lines_won);
        assert_int_equal(s->adjustments_won, out->adjustments_won);
        assert_int_equal(s->total_won, s->lines_won + s->adjustments_won);
        assert_int_equal(s->state, state);
        assert_true(s->n_lines + s->n_adjustments <= (limit ? limit : 1000));
        assert_true(s->n_lines + s->n_adjustments > 0 || !s->more);
        if (s->n_lines > 0)
            assert_int_equal(out->n, out->n_lines); /* no line after an adjustment */
        for (size_t i = 0; i < s->n_lines; i++) {
            assert_true(out->n < MAX_ITEMS);
            out->items[out->n++] = (item){0, s->lines[i]->creator_id, s->lines[i]->video_id, 0,
                                          s->lines[i]->total_won};
            out->n_lines++;
        }
        for (size_t i = 0; i < s->n_adjustments; i++) {
            assert_true(out->n < MAX_ITEMS);
            out->items[out->n++] =
                (item){1, s->adjustments[i]->creator_id, s->adjustments[i]->video_id,
                       s->adjustments[i]->ledger_id, s->adjustments[i]->total_won};
        }
        more = s->more;
        at =
            (cursor){s->next_after_creator_id, s->next_after_video_id, s->next_after_adjustment_id};
        out->pages++;
        rf_free(s);
        assert_true(out->pages < 10000);
    }
}

/* Every item exactly once and in order (lines by creator then video, adjustments by id), and the
 * sums cover them all. */
static void pages_check(const pages *p)
{
    int64_t lines = 0, adjustments = 0;

    for (size_t i = 0; i < p->n; i++) {
        const item *x = &p->items[i];

        if (!x->adjustment)
            lines += x->total_won;
        else
            adjustments += x->total_won;
        if (i == 0 || x->adjustment != p->items[i - 1].adjustment)
            continue;
        if (x->adjustment)
            assert_true(x->ledger_id > p->items[i - 1].ledger_id);
        else
            assert_true(
                x->creator > p->items[i - 1].creator ||
                (x->creator == p->items[i - 1].creator && x->video > p->items[i - 1].video));
    }
    assert_int_equal(lines, p->lines_won);
    assert_int_equal(adjustments, p->adjustments_won);
}

/* ---- GetStatement ---- */

static void test_open_month_is_an_estimate_from_the_rollup_with_adjustments(void **state)
{
    Vs__V1__Statement *s = statement_ok(&creator_a, OPEN, 0, 0);
    static const char *const titles[4] = {TITLE0, "A plain", "A third", "A fourth"};
    int64_t lines_won = 0;

    assert_int_equal(s->state, VS__V1__STATEMENT_STATE__ESTIMATE);
    assert_string_equal(s->month, OPEN);
    assert_int_equal(s->creator_id, creator_a.id);
    assert_int_equal(s->days_settled, 10);
    assert_int_equal(s->days_total, 31);
    assert_string_equal(s->closed_by, "");
    assert_false(s->more);
    /* A4 has no figures in the month: no line */
    assert_int_equal(s->n_lines, 4);
    for (int i = 0; i < 4; i++) {
        const Vs__V1__StatementLine *l = s->lines[i];

        assert_int_equal(l->creator_id, creator_a.id);
        assert_int_equal(l->video_id, a[i]);
        assert_string_equal(l->title, titles[i]);
        assert_int_equal(l->views, open_fig[i][0]);
        assert_int_equal(l->ad_views, open_fig[i][1]);
        assert_int_equal(l->video_won, open_fig[i][2]);
        assert_int_equal(l->ad_won, open_fig[i][3]);
        assert_int_equal(l->total_won, open_fig[i][2] + open_fig[i][3]);
        lines_won += l->total_won;
    }
    assert_int_equal(lines_won, 1100 + 220 + 3303 + 5);
    assert_int_equal(s->lines_won, lines_won);
    assert_int_equal(s->lines_won,
                     rf_int("SELECT SUM(total_won) FROM video_period_stats WHERE period_kind = 3 "
                            "AND period_start = '" OPEN "-01' AND creator_id = %" PRIu64,
                            creator_a.id));
    /* B0's adjustment is B's; the January one is booked in February */
    assert_int_equal(s->n_adjustments, 3);
    assert_int_equal(s->adjustments[0]->ledger_id, adj_a0);
    assert_int_equal(s->adjustments[0]->video_id, a[0]);
    assert_int_equal(s->adjustments[0]->creator_id, creator_a.id);
    assert_string_equal(s->adjustments[0]->corrected_date, CLOSED "-03");
    assert_string_equal(s->adjustments[0]->reason, REASON_BOT);
    assert_int_equal(s->adjustments[0]->job_id, 21);
    assert_int_equal(s->adjustments[0]->views, -20);
    assert_int_equal(s->adjustments[0]->ad_views, -1);
    assert_int_equal(s->adjustments[0]->video_won, -20);
    assert_int_equal(s->adjustments[0]->ad_won, -10);
    assert_int_equal(s->adjustments[0]->total_won, -30);
    assert_int_equal(s->adjustments[1]->ledger_id, adj_a4);
    assert_string_equal(s->adjustments[1]->corrected_date, CLOSED "-10");
    assert_int_equal(s->adjustments[1]->total_won, 5);
    assert_int_equal(s->adjustments[2]->ledger_id, adj_a1);
    assert_string_equal(s->adjustments[2]->reason, REASON_LF);
    assert_int_equal(s->adjustments[2]->total_won, 11);
    assert_int_equal(s->adjustments_won, -30 + 5 + 11);
    assert_int_equal(s->total_won, lines_won - 14);
    rf_free(s);
}

static void check_closed_february(Vs__V1__Statement *s)
{
    assert_int_equal(s->state, VS__V1__STATEMENT_STATE__FINAL);
    assert_string_equal(s->closed_by, CLOSER);
    assert_int_equal(s->closed_unix_ms, CLOSED_MS);
    assert_int_equal(s->days_total, 28);
    assert_int_equal(s->n_lines, 2);
    assert_int_equal(s->lines[0]->video_id, a[0]);
    assert_string_equal(s->lines[0]->title, TITLE0);
    assert_int_equal(s->lines[0]->views, 400); /* the frozen line, not the rollup's 999,999 */
    assert_int_equal(s->lines[0]->ad_views, 4);
    assert_int_equal(s->lines[0]->video_won, 400);
    assert_int_equal(s->lines[0]->ad_won, 40);
    assert_int_equal(s->lines[0]->total_won, 440);
    assert_int_equal(s->lines[1]->video_id, a[1]);
    assert_int_equal(s->lines[1]->total_won, 50);
    assert_int_equal(s->lines_won, 490);
    assert_int_equal(s->n_adjustments, 1);
    assert_int_equal(s->adjustments[0]->ledger_id, adj_jan);
    assert_string_equal(s->adjustments[0]->corrected_date, "1998-01-15");
    assert_string_equal(s->adjustments[0]->reason, "January correction");
    assert_int_equal(s->adjustments_won, -3);
    assert_int_equal(s->total_won, 487);
}

static void test_closed_month_is_final_from_the_frozen_lines(void **state)
{
    static const int64_t changed[4] = {123456, 78, 123456, 780};
    Vs__V1__Statement *s = statement_ok(&creator_a, CLOSED, 0, 0);

    check_closed_february(s);
    rf_free(s);
    /* the rollup of the closed month changes (a re-run): the FINAL statement does not */
    rf_sql("UPDATE video_period_stats SET views = 5, video_won = 5, total_won = 14 WHERE "
           "period_kind = 3 AND period_start = '" CLOSED "-01' AND video_id = %" PRIu64,
           a[0]);
    rollup(CLOSED, a[1], creator_a.id, changed);
    rf_replica_catch_up();
    s = statement_ok(&creator_a, CLOSED, 0, 0);
    check_closed_february(s);
    rf_free(s);
}

static void test_paging_returns_every_line_once_and_sums_cover_all(void **state)
{
    pages *all = malloc(sizeof *all), *p = malloc(sizeof *p);

    assert_non_null(all);
    assert_non_null(p);
    statement_pages(&creator_a, OPEN, 0, 0, 0, all);
    assert_int_equal(all->pages, 1);
    assert_int_equal(all->n, 7); /* 4 lines, 3 adjustments */
    pages_check(all);
    for (uint32_t limit = 1; limit <= 8; limit++) {
        statement_pages(&creator_a, OPEN, 0, 0, limit, p);
        assert_int_equal(p->n, all->n);
        assert_int_equal(p->pages, (int)((all->n + limit - 1) / limit));
        assert_memory_equal(p->items, all->items, all->n * sizeof all->items[0]);
        pages_check(p);
    }
    /* every creator's (admin): every line once, by creator then video; sums as SQL says */
    statement_pages(&admin, OPEN, 0, 1, 0, all);
    pages_check(all);
    assert_int_equal(all->n_lines, rf_int("SELECT COUNT(*) FROM video_period_stats WHERE "
                                          "period_kind = 3 AND period_start = '" OPEN "-01'"));
    assert_int_equal(all->lines_won, rf_int("SELECT SUM(total_won) FROM video_period_stats WHERE "
                                            "period_kind = 3 AND period_start = '" OPEN "-01'"));
    assert_int_equal(all->adjustments_won,
                     rf_int("SELECT SUM(total_won) FROM ledger WHERE kind = 3 AND "
                            "booked_month = '" OPEN "-01'"));
    for (uint32_t limit = 2; limit <= 5; limit += 3) {
        statement_pages(&admin, OPEN, 0, 1, limit, p);
        assert_int_equal(p->n, all->n);
        assert_memory_equal(p->items, all->items, all->n * sizeof all->items[0]);
    }
    free(all);
    free(p);
}

/* 1,500 lines of 800-byte titles are 1.2 MB: the page ends before libvsclient's 1 MiB reply
 * limit although the limit asked for allows them all, and the next pages bring the rest. */
static void test_page_ends_before_the_reply_gets_too_large(void **state)
{
    pages *p = malloc(sizeof *p);

    assert_non_null(p);
    statement_pages(&creator_c, BIG, 0, 0, 5000, p);
    assert_int_equal(p->n_lines, BIG_VIDEOS);
    assert_true(p->pages >= 2);
    assert_true(p->largest_reply <= 800 * 1024);
    assert_int_equal(p->lines_won, 20 * BIG_VIDEOS);
    pages_check(p);
    free(p);
}

static void test_other_creators_statement_needs_the_admin_role(void **state)
{
    Vs__V1__Statement *own = statement_ok(&creator_a, OPEN, 0, 0), *s;

    statement_refused(&creator_b, OPEN, creator_a.id, 0, 0, VS_PERMISSION_DENIED, "creator_id:");
    statement_refused(&creator_b, OPEN, 0, 1, 0, VS_PERMISSION_DENIED, "all_creators:");
    s = statement_ok(&admin, OPEN, creator_a.id, 0);
    assert_int_equal(s->creator_id, creator_a.id);
    assert_int_equal(s->n_lines, own->n_lines);
    assert_int_equal(s->n_adjustments, own->n_adjustments);
    assert_int_equal(s->total_won, own->total_won);
    rf_free(s);
    /* B's own statement holds B's line and B's adjustment only */
    s = statement_ok(&creator_b, OPEN, 0, 0);
    assert_int_equal(s->n_lines, 1);
    assert_int_equal(s->lines[0]->video_id, b0);
    assert_int_equal(s->n_adjustments, 1);
    assert_int_equal(s->adjustments[0]->ledger_id, adj_b0);
    assert_int_equal(s->total_won, 847 - 7);
    rf_free(s);
    s = statement_ok(&admin, OPEN, 0, 1);
    assert_int_equal(s->creator_id, 0);
    rf_free(s);
    statement_refused(&admin, OPEN, 999999999999ULL, 0, 0, VS_NOT_FOUND, "creator_id:");
    rf_free(own);
}

static void test_bad_month_or_limit_is_invalid_argument_naming_the_field(void **state)
{
    static const char *const bad[] = {"",        "1998-3",     "1998-13",   "1998-00",
                                      "abcd-ef", "1998-03-01", "98-03",     "1972-12",
                                      "9999-11", "1998/03",    "1998-0\xff"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        statement_refused(&creator_a, bad[i], 0, 0, 0, VS_INVALID_ARGUMENT, "month:");
    statement_refused(&creator_a, OPEN, 0, 0, 5001, VS_INVALID_ARGUMENT, "limit:");
    statement_refused(&admin, OPEN, creator_a.id, 1, 0, VS_INVALID_ARGUMENT, "all_creators:");
}

/* ---- GetLedger ---- */

/* Every page of a ledger selection: ids in order, the sums of every page equal those of all the
 * entries. Returns the number of entries; ids[] gets them. */
static size_t ledger_pages(rf_user *u, uint64_t video, uint64_t creator, const char *from,
                           const char *to, uint32_t limit, uint64_t *ids, size_t max)
{
    int64_t vw = 0, aw = 0, tw = 0, page_vw = -1, page_aw = -1, page_tw = -1;
    uint64_t after = 0;
    size_t n = 0;
    int more = 1;

    while (more) {
        vs_call_status st;
        Vs__V1__Ledger *l = get_ledger(u, video, creator, from, to, limit, after, &st);

        if (l == NULL)
            fail_msg("GetLedger: %s %s", vs_status_name(st.code), st.message);
        assert_true(l->n_entries <= limit);
        for (size_t i = 0; i < l->n_entries; i++) {
            const Vs__V1__LedgerEntry *e = l->entries[i];

            assert_true(n < max);
            assert_true(n == 0 || e->id > ids[n - 1]);
            ids[n++] = e->id;
            vw += e->video_won;
            aw += e->ad_won;
            tw += e->total_won;
            assert_int_equal(e->total_won, e->video_won + e->ad_won);
        }
        if (page_tw != -1) {
            assert_int_equal(l->video_won, page_vw);
            assert_int_equal(l->ad_won, page_aw);
            assert_int_equal(l->total_won, page_tw);
        }
        page_vw = l->video_won;
        page_aw = l->ad_won;
        page_tw = l->total_won;
        more = l->more;
        after = l->next_after_id;
        rf_free(l);
    }
    assert_int_equal(vw, page_vw);
    assert_int_equal(aw, page_aw);
    assert_int_equal(tw, page_tw);
    return n;
}

static void test_ledger_of_a_video_lists_its_entries_with_sums(void **state)
{
    vs_call_status st;
    Vs__V1__Ledger *l = get_ledger(&creator_a, a[0], 0, NULL, NULL, 0, 0, &st);
    static const int kinds[5] = {1, 3, 1, 3, 2};
    static const char *const days[5] = {CLOSED "-03", "1998-01-15", OPEN "-02", CLOSED "-03",
                                        OPEN "-02"};
    static const char *const booked[5] = {CLOSED, CLOSED, OPEN, OPEN, OPEN};

    if (l == NULL)
        fail_msg("GetLedger: %s %s", vs_status_name(st.code), st.message);
    assert_int_equal(l->n_entries, 5);
    assert_false(l->more);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(l->entries[i]->kind, kinds[i]);
        assert_int_equal(l->entries[i]->video_id, a[0]);
        assert_int_equal(l->entries[i]->creator_id, creator_a.id);
        assert_string_equal(l->entries[i]->date, days[i]);
        assert_string_equal(l->entries[i]->booked_month, booked[i]);
        assert_int_equal(l->entries[i]->rate_card_version, 1);
        assert_int_equal(l->entries[i]->at_unix_ms, 886300000000LL);
    }
    assert_int_equal(l->entries[1]->id, adj_jan);
    assert_int_equal(l->entries[3]->id, adj_a0);
    assert_string_equal(l->entries[3]->reason, REASON_BOT);
    assert_string_equal(l->entries[3]->actor, "ops@admin.test");
    assert_int_equal(l->entries[3]->job_id, 21);
    assert_string_equal(l->entries[0]->actor, "schedule");
    /* 440 - 3 + 1,100 - 30 + 10 */
    assert_int_equal(l->total_won, 1517);
    assert_int_equal(l->video_won, 400 - 3 + 1000 - 20 + 10);
    assert_int_equal(l->ad_won, 40 + 100 - 10);
    assert_int_equal(l->total_won, rf_int("SELECT SUM(total_won) FROM ledger WHERE video_id = "
                                          "%" PRIu64,
                                          a[0]));
    rf_free(l);
    /* an admin sees it too; another creator does not; an unknown video is not found */
    l = get_ledger(&admin, a[0], 0, NULL, NULL, 0, 0, &st);
    assert_non_null(l);
    assert_int_equal(l->n_entries, 5);
    rf_free(l);
    ledger_refused(&creator_b, a[0], 0, NULL, NULL, VS_PERMISSION_DENIED, "video_id:");
    ledger_refused(&creator_a, 999999999999ULL, 0, NULL, NULL, VS_NOT_FOUND, "video_id:");
}

static void test_ledger_of_a_creator_over_a_date_range(void **state)
{
    uint64_t ids[16];
    vs_call_status st;
    Vs__V1__Ledger *l;

    assert_int_equal(ledger_pages(&creator_a, 0, creator_a.id, NULL, NULL, 1000, ids, 16), 7);
    /* February's days: settled 02-03, its adjustment, A4's 02-10 and A1's 02-20 */
    l = get_ledger(&creator_a, 0, creator_a.id, CLOSED "-01", CLOSED "-28", 0, 0, &st);
    assert_non_null(l);
    assert_int_equal(l->n_entries, 4);
    assert_int_equal(l->entries[1]->id, adj_a0);
    assert_int_equal(l->entries[2]->id, adj_a4);
    assert_int_equal(l->entries[3]->id, adj_a1);
    assert_int_equal(l->total_won, 440 - 30 + 5 + 11);
    rf_free(l);
    /* one day */
    l = get_ledger(&creator_a, 0, creator_a.id, OPEN "-02", OPEN "-02", 0, 0, &st);
    assert_non_null(l);
    assert_int_equal(l->n_entries, 2);
    assert_int_equal(l->total_won, 1110);
    rf_free(l);
    /* only a lower bound */
    l = get_ledger(&creator_a, 0, creator_a.id, CLOSED "-11", NULL, 0, 0, &st);
    assert_non_null(l);
    assert_int_equal(l->n_entries, 3); /* 02-20, 03-02 twice */
    rf_free(l);
    /* the admin may read A's; B may not */
    l = get_ledger(&admin, 0, creator_a.id, NULL, NULL, 0, 0, &st);
    assert_non_null(l);
    assert_int_equal(l->n_entries, 7);
    rf_free(l);
    ledger_refused(&creator_b, 0, creator_a.id, NULL, NULL, VS_PERMISSION_DENIED, "creator_id:");
    ledger_refused(&admin, 0, 999999999999ULL, NULL, NULL, VS_NOT_FOUND, "creator_id:");
}

static void test_ledger_paging_returns_every_entry_once(void **state)
{
    uint64_t all[16], ids[16];
    size_t n = ledger_pages(&creator_a, 0, creator_a.id, NULL, NULL, 5000, all, 16);

    assert_int_equal(n, 7);
    for (uint32_t limit = 1; limit <= 8; limit++) {
        assert_int_equal(ledger_pages(&creator_a, 0, creator_a.id, NULL, NULL, limit, ids, 16), n);
        assert_memory_equal(ids, all, n * sizeof all[0]);
    }
    n = ledger_pages(&creator_a, a[0], 0, OPEN "-01", OPEN "-31", 1, ids, 16);
    assert_int_equal(n, 2);
}

static void test_ledger_bad_arguments_name_the_field(void **state)
{
    vs_call_status st;

    ledger_refused(&creator_a, 0, 0, NULL, NULL, VS_INVALID_ARGUMENT, "video_id:");
    ledger_refused(&creator_a, a[0], creator_a.id, NULL, NULL, VS_INVALID_ARGUMENT, "creator_id:");
    ledger_refused(&creator_a, a[0], 0, "1998-02-30", NULL, VS_INVALID_ARGUMENT, "from_date:");
    ledger_refused(&creator_a, a[0], 0, NULL, "03/02/1998", VS_INVALID_ARGUMENT, "to_date:");
    ledger_refused(&creator_a, a[0], 0, OPEN "-02", OPEN "-01", VS_INVALID_ARGUMENT, "to_date:");
    assert_null(get_ledger(&creator_a, a[0], 0, NULL, NULL, 5001, 0, &st));
    assert_int_equal(st.code, VS_INVALID_ARGUMENT);
    assert_true(strncmp(st.message, "limit:", 6) == 0);
}

/* ---- vsctl ---- */

static char out[1 << 20];
static size_t out_len;

/* Runs `vsctl --url URL ARGS` as the user of xdg into path (and out); asserts exit status 0. */
static void vsctl_to(const char *xdg, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void vsctl_to(const char *xdg, const char *path, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    FILE *f;
    int status;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    status = ts_sh("XDG_CONFIG_HOME='%s' %s --url '%s' %s >'%s'", xdg, ts_program("client/vsctl"),
                   rf.url, args, path);
    f = fopen(path, "rb");
    assert_non_null(f);
    out_len = fread(out, 1, sizeof out - 1, f);
    fclose(f);
    out[out_len] = '\0';
    if (status != 0)
        fail_msg("vsctl %s: exit %d, output:\n%s", args, status, out);
}

#define CSV_COLS 15
#define CSV_ROWS 64

typedef struct csv {
    char *field[CSV_ROWS][CSV_COLS];
    int rows;
} csv;

/* Parses text as RFC 4180 (every record ends with CRLF, exactly CSV_COLS fields each, a quoted
 * field's quotes doubled, an unquoted one without quote, CR or LF); fails the test otherwise. */
static void csv_parse(const char *text, size_t len, csv *c)
{
    size_t i = 0;

    memset(c, 0, sizeof *c);
    while (i < len) {
        int col = 0;

        assert_true(c->rows < CSV_ROWS);
        for (;;) {
            char *f = malloc(len + 1);
            size_t n = 0;

            assert_non_null(f);
            if (text[i] == '"') {
                for (i++;; i++) {
                    assert_true(i < len);
                    if (text[i] == '"' && i + 1 < len && text[i + 1] == '"')
                        f[n++] = text[i++];
                    else if (text[i] == '"')
                        break;
                    else
                        f[n++] = text[i];
                }
                i++;
            } else {
                while (i < len && text[i] != ',' && text[i] != '\r') {
                    assert_true(text[i] != '"' && text[i] != '\n');
                    f[n++] = text[i++];
                }
            }
            f[n] = '\0';
            assert_true(col < CSV_COLS);
            c->field[c->rows][col++] = f;
            assert_true(i < len);
            if (text[i] == ',') {
                i++;
                continue;
            }
            assert_true(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n');
            i += 2;
            break;
        }
        assert_int_equal(col, CSV_COLS);
        c->rows++;
    }
}

static void csv_free(csv *c)
{
    for (int r = 0; r < c->rows; r++)
        for (int k = 0; k < CSV_COLS; k++)
            free(c->field[r][k]);
}

static const char *id_text(uint64_t id)
{
    static char buf[8][32];
    static int next;
    char *b = buf[next++ % 8];

    snprintf(b, sizeof buf[0], "%" PRIu64, id);
    return b;
}

/* Reads path into a malloc'd buffer; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(sizeof out);

    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, sizeof out, f);
    fclose(f);
    return buf;
}

static void test_csv_export_is_byte_identical_twice_and_parses(void **state)
{
    static const char *const header[CSV_COLS] = {
        "month", "state",          "type",      "creator_id", "video_id",
        "title", "corrected_date", "reason",    "ledger_id",  "job_id",
        "views", "ad_views",       "video_won", "ad_won",     "total_won"};
    char second[720];
    size_t len1, len2;
    char *first, *again;
    csv c;

    /* A is not an admin: without --creator the export is A's own statement */
    vsctl_to(a_xdg, out_path, "settlement export --month " OPEN " --format csv");
    first = slurp(out_path, &len1);
    snprintf(second, sizeof second, "%s.2", out_path);
    vsctl_to(a_xdg, second, "settlement export --month " OPEN " --format csv --limit 2");
    again = slurp(second, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, again, len1);
    assert_non_null(strstr(first, "\"Tom's \"\"best\"\", take 2\""));
    csv_parse(first, len1, &c);
    assert_int_equal(c.rows, 1 + 4 + 3);
    for (int k = 0; k < CSV_COLS; k++)
        assert_string_equal(c.field[0][k], header[k]);
    /* the first line: A0 with the title that needs quoting */
    assert_string_equal(c.field[1][0], OPEN);
    assert_string_equal(c.field[1][1], "ESTIMATE");
    assert_string_equal(c.field[1][2], "line");
    assert_string_equal(c.field[1][3], id_text(creator_a.id));
    assert_string_equal(c.field[1][4], id_text(a[0]));
    assert_string_equal(c.field[1][5], TITLE0);
    assert_string_equal(c.field[1][6], "");
    assert_string_equal(c.field[1][10], "1000");
    assert_string_equal(c.field[1][14], "1100");
    assert_string_equal(c.field[4][4], id_text(a[3]));
    /* the adjustments, by ledger id */
    assert_string_equal(c.field[5][2], "adjustment");
    assert_string_equal(c.field[5][4], id_text(a[0]));
    assert_string_equal(c.field[5][5], TITLE0);
    assert_string_equal(c.field[5][6], CLOSED "-03");
    assert_string_equal(c.field[5][7], REASON_BOT);
    assert_string_equal(c.field[5][8], id_text(adj_a0));
    assert_string_equal(c.field[5][9], "21");
    assert_string_equal(c.field[5][10], "-20");
    assert_string_equal(c.field[5][14], "-30");
    assert_string_equal(c.field[6][4], id_text(a[4]));
    assert_string_equal(c.field[6][5], ""); /* A4 has no line in the month */
    assert_string_equal(c.field[7][7], REASON_LF);
    assert_string_equal(c.field[7][14], "11");
    csv_free(&c);
    free(first);
    free(again);
    /* the admin's default is every creator; the closed month says FINAL */
    vsctl_to(admin_xdg, out_path, "settlement export --month " CLOSED " --format csv");
    first = slurp(out_path, &len1);
    vsctl_to(admin_xdg, second, "settlement export --month " CLOSED " --format csv --limit 1");
    again = slurp(second, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, again, len1);
    csv_parse(first, len1, &c);
    assert_true(c.rows >= 1 + 3 + 1);
    assert_string_equal(c.field[1][1], "FINAL");
    assert_int_equal(c.rows - 1,
                     rf_int("SELECT COUNT(*) FROM statement_line WHERE month = '" CLOSED "-01'") +
                         rf_int("SELECT COUNT(*) FROM ledger WHERE kind = 3 AND booked_month = "
                                "'" CLOSED "-01'"));
    csv_free(&c);
    free(first);
    free(again);
}

static void test_vsctl_statement_and_ledger_tables_and_json(void **state)
{
    json_error_t e;
    json_t *j;

    vsctl_to(a_xdg, out_path, "settlement statement --month " OPEN);
    assert_true(rf_line_has(out, "statement " OPEN, "ESTIMATE", NULL));
    assert_true(rf_line_has(out, "VIDEO", "TITLE", "VIEWS", "AD VIEWS", "VIDEO WON", "AD WON",
                            "TOTAL", NULL));
    assert_true(rf_line_has(out, id_text(a[2]), "A third", "3,000", "3,003 won", "300 won",
                            "3,303 won", NULL));
    assert_true(rf_line_has(out, "CORRECTED DAY", "VIDEO", "REASON", NULL));
    assert_true(rf_line_has(out, CLOSED "-03", id_text(a[0]), "-30 won", REASON_BOT, NULL));
    assert_true(
        rf_line_has(out, "late plays found by the audit", NULL)); /* no line break in a cell */
    assert_true(rf_line_has(out, "lines", "4,628 won", NULL));
    assert_true(rf_line_has(out, "adjustments", "-14 won", NULL));
    assert_true(rf_line_has(out, "total", "4,614 won", NULL));
    assert_true(rf_line_has(out, "ESTIMATE", "10 of 31 days settled", NULL));
    vsctl_to(admin_xdg, out_path, "settlement statement --month " CLOSED " --creator %" PRIu64,
             creator_a.id);
    assert_true(rf_line_has(out, "FINAL", "closed by " CLOSER, "1998-02-01 00:00:00 UTC", NULL));
    assert_true(rf_line_has(out, "total", "487 won", NULL));
    /* every page fetched: --limit 1 prints what one page does */
    vsctl_to(a_xdg, out_path, "--json settlement statement --month " OPEN);
    j = json_loads(out, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "lines")), 4);
    assert_int_equal(json_array_size(json_object_get(j, "adjustments")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "total_won")), 4614);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ESTIMATE");
    json_decref(j);
    {
        char *one;
        size_t len_one, len_all = out_len;
        char *all = malloc(out_len + 1);

        assert_non_null(all);
        memcpy(all, out, out_len);
        vsctl_to(a_xdg, out_path, "settlement statement --month " OPEN " --limit 1 --json");
        one = out;
        len_one = out_len;
        assert_int_equal(len_one, len_all);
        assert_memory_equal(one, all, len_all);
        free(all);
    }
    vsctl_to(a_xdg, out_path, "settlement ledger --video %" PRIu64, a[0]);
    assert_true(rf_line_has(out, "ID", "DAY", "KIND", "BOOKED", "TOTAL", "JOB", NULL));
    assert_true(rf_line_has(out, id_text(adj_a0), CLOSED "-03", "ADJUSTMENT", OPEN, "-30 won",
                            "ops@admin.test: " REASON_BOT, NULL));
    assert_true(rf_line_has(out, "5 entries", "1,517 won", NULL));
    vsctl_to(a_xdg, out_path,
             "--json settlement ledger --creator %" PRIu64 " --from " CLOSED "-01 --to " CLOSED
             "-28 --limit 1",
             creator_a.id);
    j = json_loads(out, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "total_won")), 426);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_month_is_an_estimate_from_the_rollup_with_adjustments),
        cmocka_unit_test(test_closed_month_is_final_from_the_frozen_lines),
        cmocka_unit_test(test_paging_returns_every_line_once_and_sums_cover_all),
        cmocka_unit_test(test_page_ends_before_the_reply_gets_too_large),
        cmocka_unit_test(test_other_creators_statement_needs_the_admin_role),
        cmocka_unit_test(test_bad_month_or_limit_is_invalid_argument_naming_the_field),
        cmocka_unit_test(test_ledger_of_a_video_lists_its_entries_with_sums),
        cmocka_unit_test(test_ledger_of_a_creator_over_a_date_range),
        cmocka_unit_test(test_ledger_paging_returns_every_entry_once),
        cmocka_unit_test(test_ledger_bad_arguments_name_the_field),
        cmocka_unit_test(test_csv_export_is_byte_identical_twice_and_parses),
        cmocka_unit_test(test_vsctl_statement_and_ledger_tables_and_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
