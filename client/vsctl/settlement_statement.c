/* settlement_statement.c — `vsctl settlement statement` and `vsctl settlement export`: a month's
 * statement of one creator (or of every creator, admins), every page of GetStatement fetched, as
 * a table, JSON or RFC 4180 CSV (docs/reads.md, "Statements and the ledger"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "grow.h"
#include "settlement.h"
#include "window.h"

const char settlement_statement_usage[] = "       vsctl [--json] settlement statement --month "
                                          "YYYY-MM [--creator ID | --all] [--limit N]\n";
const char settlement_export_usage[] =
    "       vsctl settlement export --month YYYY-MM [--creator ID] --format csv [--limit N]\n";

static const char statement_help[] =
    "usage: vsctl [--json] settlement statement --month YYYY-MM [--creator ID | --all] [--limit "
    "N]\n"
    "\n"
    "A month's statement: one line per video (views, ad views, video, ad and total won), then\n"
    "the adjustment lines booked in the month (corrections of days of closed months: the\n"
    "corrected day, the reason and the differences), then the totals. While the month is open\n"
    "the statement is an ESTIMATE (it changes as days are settled or re-run); once an admin has\n"
    "closed it, it is FINAL and never changes.\n"
    "\n"
    "--creator ID  another creator's statement (admins); default: yours\n"
    "--all         every creator's lines and adjustments (admins)\n"
    "--limit N     lines per call (default 1000, at most 5000); every page is fetched\n";

static const char export_help[] =
    "usage: vsctl settlement export --month YYYY-MM [--creator ID] --format csv [--limit N]\n"
    "\n"
    "Writes a month's statement as CSV (RFC 4180: a header row, CRLF line ends, fields with a\n"
    "comma, quote, CR or LF quoted, quotes doubled) to standard output. Columns:\n"
    "  month,state,type,creator_id,video_id,title,corrected_date,reason,ledger_id,job_id,\n"
    "  views,ad_views,video_won,ad_won,total_won\n"
    "One `line` row per (creator, video), by creator then video, then one `adjustment` row per\n"
    "adjustment line, by ledger id (an adjustment's title is its video's, when the video has a\n"
    "line in the month). Amounts are integer won; state is ESTIMATE or FINAL. The same month\n"
    "exports byte for byte the same while it does not change (always, once it is FINAL).\n"
    "\n"
    "--creator ID  one creator (yours, or any for admins); default: every creator for an admin,\n"
    "              your own otherwise\n"
    "--format csv  the only format\n";

/* Every page of one statement: the pages kept, their lines and adjustments in order. */
typedef struct statement_all {
    Vs__V1__Statement **pages;
    size_t n_pages, pages_cap;
    const Vs__V1__StatementLine **lines;
    size_t n_lines, lines_cap;
    const Vs__V1__AdjustmentLine **adjustments;
    size_t n_adjustments, adjustments_cap;
} statement_all;

static void statement_all_free(statement_all *a)
{
    for (size_t i = 0; i < a->n_pages; i++)
        protobuf_c_message_free_unpacked(&a->pages[i]->base, NULL);
    free(a->pages);
    free(a->lines);
    free(a->adjustments);
    memset(a, 0, sizeof *a);
}

/* The first page's header, which every page must repeat. */
static const Vs__V1__Statement *statement_head(const statement_all *a)
{
    return a->pages[0];
}

/* Keeps page p (taking it) and its items. -1 when out of memory. */
static int statement_keep(statement_all *a, Vs__V1__Statement *p)
{
    if (grow_array(&a->pages, &a->pages_cap, a->n_pages + 1, sizeof *a->pages, 8, SIZE_MAX) !=
            VS_OK ||
        grow_array(&a->lines, &a->lines_cap, a->n_lines + p->n_lines, sizeof *a->lines, 64,
                   SIZE_MAX) != VS_OK ||
        grow_array(&a->adjustments, &a->adjustments_cap, a->n_adjustments + p->n_adjustments,
                   sizeof *a->adjustments, 16, SIZE_MAX) != VS_OK) {
        protobuf_c_message_free_unpacked(&p->base, NULL);
        return -1;
    }
    a->pages[a->n_pages++] = p;
    for (size_t i = 0; i < p->n_lines; i++)
        a->lines[a->n_lines++] = p->lines[i];
    for (size_t i = 0; i < p->n_adjustments; i++)
        a->adjustments[a->n_adjustments++] = p->adjustments[i];
    return 0;
}

/* Whether the pages add up: each says what the first did, and the lines and adjustments fetched
 * sum to the statement's totals. Not so when the month changed while it was read (a day settled
 * or re-run, the month closed). */
static int statement_consistent(const statement_all *a)
{
    const Vs__V1__Statement *h = statement_head(a);
    int64_t lines = 0, adjustments = 0;

    for (size_t i = 1; i < a->n_pages; i++) {
        const Vs__V1__Statement *p = a->pages[i];

        if (p->state != h->state || p->lines_won != h->lines_won ||
            p->adjustments_won != h->adjustments_won)
            return 0;
    }
    for (size_t i = 0; i < a->n_lines; i++)
        lines += a->lines[i]->total_won;
    for (size_t i = 0; i < a->n_adjustments; i++)
        adjustments += a->adjustments[i]->total_won;
    return lines == h->lines_won && adjustments == h->adjustments_won;
}

/* Whether p's next cursor is past req's (adjustments come after every line). */
static int statement_cursor_forward(const Vs__V1__GetStatementRequest *req,
                                    const Vs__V1__Statement *p)
{
    if (p->next_after_adjustment_id != req->after_adjustment_id)
        return p->next_after_adjustment_id > req->after_adjustment_id;
    if (p->next_after_creator_id != req->after_creator_id)
        return p->next_after_creator_id > req->after_creator_id;
    return p->next_after_video_id > req->after_video_id;
}

/* Fetches every page of the statement req asks for into a (req's cursors move along). Returns
 * 0, or 1 with st saying why. */
static int statement_fetch(vs_client *c, Vs__V1__GetStatementRequest *req, statement_all *a,
                           vs_call_status *st)
{
    for (;;) {
        Vs__V1__Statement *p = NULL;
        int more;

        if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "GetStatement",
                                 &req->base, (ProtobufCMessage **)&p, st) != VS_OK)
            return 1;
        more = p->more;
        /* a cursor that does not move forward would ask for the same pages forever */
        if (more && !statement_cursor_forward(req, p)) {
            protobuf_c_message_free_unpacked(&p->base, NULL);
            st->code = VS_INTERNAL;
            snprintf(st->message, sizeof st->message,
                     "the server's page cursor did not move forward");
            return 1;
        }
        req->after_creator_id = p->next_after_creator_id;
        req->after_video_id = p->next_after_video_id;
        req->after_adjustment_id = p->next_after_adjustment_id;
        if (statement_keep(a, p) != 0) {
            st->code = VS_RESOURCE_EXHAUSTED;
            snprintf(st->message, sizeof st->message, "out of memory");
            return 1;
        }
        if (!more)
            break;
    }
    if (!statement_consistent(a)) {
        st->code = VS_ABORTED;
        snprintf(st->message, sizeof st->message,
                 "the statement changed while it was read (a day was settled or re-run, or the "
                 "month was closed); run the command again");
        return 1;
    }
    return 0;
}

static const char *statement_state_name(int state)
{
    return state == VS__V1__STATEMENT_STATE__FINAL      ? "FINAL"
           : state == VS__V1__STATEMENT_STATE__ESTIMATE ? "ESTIMATE"
                                                        : "UNSPECIFIED";
}

/* The common options of statement and export. */
typedef struct statement_args {
    const char *month;
    uint64_t creator;
    int all;
    uint32_t limit;
    const char *format;
} statement_args;

/* "YYYY-MM", checked here too so a typo needs no round trip (the server has the same rule). */
static int statement_month_arg(const char *cmd, const char *text)
{
    char day[16];
    business_date d;

    snprintf(day, sizeof day, "%.7s-01", text ? text : "");
    if (text == NULL || strlen(text) != 7 || window_parse(day, &d) != VS_OK) {
        fprintf(stderr, "vsctl settlement %s: --month: expected a month YYYY-MM, got \"%s\"\n", cmd,
                text ? text : "");
        return -1;
    }
    return 0;
}

static int statement_parse(const char *cmd, const char *help, int argc, char **argv,
                           statement_args *a)
{
    static const struct option opts[] = {{"month", required_argument, NULL, 'm'},
                                         {"creator", required_argument, NULL, 'c'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int export = strcmp(cmd, "export") == 0;
    int64_t n;
    int opt;

    memset(a, 0, sizeof *a);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            a->month = optarg;
            break;
        case 'c':
        case 'l':
            if (config_parse_int(optarg, 1, opt == 'l' ? 5000 : INT64_MAX, &n) != 0) {
                fprintf(stderr, "vsctl settlement %s: --%s: expected %s, got \"%s\"\n", cmd,
                        opt == 'c' ? "creator" : "limit", opt == 'c' ? "a positive id" : "1..5000",
                        optarg);
                return 2;
            }
            if (opt == 'c')
                a->creator = (uint64_t)n;
            else
                a->limit = (uint32_t)n;
            break;
        case 'a':
            if (export)
                goto usage; /* export takes every creator by default */
            a->all = 1;
            break;
        case 'f':
            if (!export)
                goto usage;
            a->format = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 1;
        default:
            goto usage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl settlement %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
        return 2;
    }
    if (a->month == NULL) {
        fprintf(stderr, "vsctl settlement %s: --month is required\n%s", cmd, help);
        return 2;
    }
    if (statement_month_arg(cmd, a->month) != 0)
        return 2;
    if (a->all && a->creator != 0) {
        fprintf(stderr, "vsctl settlement %s: give --creator or --all, not both\n", cmd);
        return 2;
    }
    if (export && (a->format == NULL || strcmp(a->format, "csv") != 0)) {
        fprintf(stderr, "vsctl settlement export: --format csv is required (the only format)\n");
        return 2;
    }
    return 0;
usage:
    fputs(help, stderr);
    return 2;
}

static json_t *statement_json(const statement_all *a)
{
    const Vs__V1__Statement *h = statement_head(a);
    json_t *lines = json_array(), *adjustments = json_array(), *o;

    for (size_t i = 0; i < a->n_lines; i++) {
        const Vs__V1__StatementLine *l = a->lines[i];

        json_array_append_new(
            lines,
            json_pack("{s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I}", "creator_id", (json_int_t)l->creator_id,
                      "video_id", (json_int_t)l->video_id, "title", l->title, "views",
                      (json_int_t)l->views, "ad_views", (json_int_t)l->ad_views, "video_won",
                      (json_int_t)l->video_won, "ad_won", (json_int_t)l->ad_won, "total_won",
                      (json_int_t)l->total_won));
    }
    for (size_t i = 0; i < a->n_adjustments; i++) {
        const Vs__V1__AdjustmentLine *j = a->adjustments[i];

        json_array_append_new(
            adjustments,
            json_pack("{s:I,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "ledger_id",
                      (json_int_t)j->ledger_id, "creator_id", (json_int_t)j->creator_id, "video_id",
                      (json_int_t)j->video_id, "corrected_date", j->corrected_date, "reason",
                      j->reason, "job_id", (json_int_t)j->job_id, "views", (json_int_t)j->views,
                      "ad_views", (json_int_t)j->ad_views, "video_won", (json_int_t)j->video_won,
                      "ad_won", (json_int_t)j->ad_won, "total_won", (json_int_t)j->total_won));
    }
    o = json_pack("{s:s,s:I,s:s,s:s,s:i,s:i}", "month", h->month, "creator_id",
                  (json_int_t)h->creator_id, "state", statement_state_name(h->state), "currency",
                  "KRW", "days_settled", (int)h->days_settled, "days_total", (int)h->days_total);
    if (h->state == VS__V1__STATEMENT_STATE__FINAL) {
        json_object_set_new(o, "closed_by", json_string(h->closed_by));
        json_object_set_new(o, "closed_unix_ms", json_integer((json_int_t)h->closed_unix_ms));
    }
    json_object_set_new(o, "lines", lines);
    json_object_set_new(o, "adjustments", adjustments);
    json_object_set_new(o, "lines_won", json_integer((json_int_t)h->lines_won));
    json_object_set_new(o, "adjustments_won", json_integer((json_int_t)h->adjustments_won));
    json_object_set_new(o, "total_won", json_integer((json_int_t)h->total_won));
    return o;
}

/* The five figures of a line or an adjustment, formatted into f (48 bytes each). */
static void statement_figures(int64_t views, int64_t ads, int64_t vw, int64_t aw, int64_t tw,
                              char f[5][48])
{
    vsctl_thousands(views, f[0], sizeof f[0]);
    vsctl_thousands(ads, f[1], sizeof f[1]);
    vsctl_won(vw, f[2], sizeof f[2]);
    vsctl_won(aw, f[3], sizeof f[3]);
    vsctl_won(tw, f[4], sizeof f[4]);
}

static void statement_print_lines(const statement_all *a, int all)
{
    vsctl_table *t = vsctl_table_new(all ? "rrlrrrrr" : "rlrrrrr");
    char creator[32], video[32], title[256], f[5][48];

    if (all)
        vsctl_table_row(t, "CREATOR", "VIDEO", "TITLE", "VIEWS", "AD VIEWS", "VIDEO WON", "AD WON",
                        "TOTAL");
    else
        vsctl_table_row(t, "VIDEO", "TITLE", "VIEWS", "AD VIEWS", "VIDEO WON", "AD WON", "TOTAL");
    for (size_t i = 0; i < a->n_lines; i++) {
        const Vs__V1__StatementLine *l = a->lines[i];

        snprintf(creator, sizeof creator, "%llu", (unsigned long long)l->creator_id);
        snprintf(video, sizeof video, "%llu", (unsigned long long)l->video_id);
        settlement_cell(l->title, title, sizeof title);
        statement_figures(l->views, l->ad_views, l->video_won, l->ad_won, l->total_won, f);
        if (all)
            vsctl_table_row(t, creator, video, title, f[0], f[1], f[2], f[3], f[4]);
        else
            vsctl_table_row(t, video, title, f[0], f[1], f[2], f[3], f[4]);
    }
    if (a->n_lines == 0)
        printf("(no lines: no video earned anything in the month%s)\n",
               statement_head(a)->state == VS__V1__STATEMENT_STATE__FINAL ? ""
                                                                          : " on its settled days");
    else
        vsctl_table_print(t, stdout, "");
    vsctl_table_free(t);
}

static void statement_print_adjustments(const statement_all *a, int all)
{
    vsctl_table *t;
    char creator[32], video[32], reason[400], f[5][48];

    if (a->n_adjustments == 0) {
        printf("\nadjustments: none\n");
        return;
    }
    printf("\nadjustments (corrections of days of closed months, booked in this month):\n");
    t = vsctl_table_new(all ? "rlrrrrrrl" : "lrrrrrrl");
    if (all)
        vsctl_table_row(t, "CREATOR", "CORRECTED DAY", "VIDEO", "VIEWS", "AD VIEWS", "VIDEO WON",
                        "AD WON", "TOTAL", "REASON");
    else
        vsctl_table_row(t, "CORRECTED DAY", "VIDEO", "VIEWS", "AD VIEWS", "VIDEO WON", "AD WON",
                        "TOTAL", "REASON");
    for (size_t i = 0; i < a->n_adjustments; i++) {
        const Vs__V1__AdjustmentLine *j = a->adjustments[i];

        snprintf(creator, sizeof creator, "%llu", (unsigned long long)j->creator_id);
        snprintf(video, sizeof video, "%llu", (unsigned long long)j->video_id);
        settlement_cell(j->reason, reason, sizeof reason);
        statement_figures(j->views, j->ad_views, j->video_won, j->ad_won, j->total_won, f);
        if (all)
            vsctl_table_row(t, creator, j->corrected_date, video, f[0], f[1], f[2], f[3], f[4],
                            reason);
        else
            vsctl_table_row(t, j->corrected_date, video, f[0], f[1], f[2], f[3], f[4], reason);
    }
    vsctl_table_print(t, stdout, "");
    vsctl_table_free(t);
}

static void statement_print(const statement_all *a, int all)
{
    const Vs__V1__Statement *h = statement_head(a);
    char who[48], lw[48], aw[48], tw[48], at[48];

    if (all)
        snprintf(who, sizeof who, "every creator");
    else
        snprintf(who, sizeof who, "creator %llu", (unsigned long long)h->creator_id);
    printf("statement %s, %s: %s\n\n", h->month, who, statement_state_name(h->state));
    statement_print_lines(a, all);
    statement_print_adjustments(a, all);
    printf("\nlines        %s\n", vsctl_won(h->lines_won, lw, sizeof lw));
    printf("adjustments  %s\n", vsctl_won(h->adjustments_won, aw, sizeof aw));
    printf("total        %s\n", vsctl_won(h->total_won, tw, sizeof tw));
    if (h->state == VS__V1__STATEMENT_STATE__FINAL)
        printf("state        FINAL: closed by %s at %s\n", h->closed_by,
               settlement_utc(h->closed_unix_ms, at, sizeof at));
    else
        printf("state        ESTIMATE: the month is open (%u of %u days settled); its figures "
               "change until an admin closes it\n",
               h->days_settled, h->days_total);
}

int settlement_statement(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__GetStatementRequest req = VS__V1__GET_STATEMENT_REQUEST__INIT;
    statement_all all = {0};
    statement_args a;
    vs_call_status st;
    vs_client *c;
    int rc;

    if ((rc = statement_parse("statement", statement_help, argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    req.month = (char *)a.month;
    req.creator_id = a.creator;
    req.all_creators = a.all;
    req.limit = a.limit;
    if (statement_fetch(c, &req, &all, &st) != 0) {
        statement_all_free(&all);
        return vsctl_fail(ctl, "settlement statement", &st);
    }
    if (ctl->json)
        vsctl_print_json(statement_json(&all));
    else
        statement_print(&all, a.all);
    statement_all_free(&all);
    return 0;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. */
static void csv_field(FILE *out, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
    } else {
        fputc('"', out);
        for (; *s != '\0'; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    }
    fputs(last ? "\r\n" : ",", out);
}

static void csv_int(FILE *out, long long v, int last)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%lld", v);
    csv_field(out, buf, last);
}

/* The title of video among the statement's lines ("" when it has none). */
static const char *statement_title_of(const statement_all *a, uint64_t video)
{
    for (size_t i = 0; i < a->n_lines; i++)
        if (a->lines[i]->video_id == video)
            return a->lines[i]->title;
    return "";
}

static void statement_csv(FILE *out, const statement_all *a)
{
    const Vs__V1__Statement *h = statement_head(a);
    const char *state = statement_state_name(h->state);

    fputs("month,state,type,creator_id,video_id,title,corrected_date,reason,ledger_id,job_id,"
          "views,ad_views,video_won,ad_won,total_won\r\n",
          out);
    for (size_t i = 0; i < a->n_lines; i++) {
        const Vs__V1__StatementLine *l = a->lines[i];

        csv_field(out, h->month, 0);
        csv_field(out, state, 0);
        csv_field(out, "line", 0);
        csv_int(out, (long long)l->creator_id, 0);
        csv_int(out, (long long)l->video_id, 0);
        csv_field(out, l->title, 0);
        csv_field(out, "", 0);
        csv_field(out, "", 0);
        csv_field(out, "", 0);
        csv_field(out, "", 0);
        csv_int(out, l->views, 0);
        csv_int(out, l->ad_views, 0);
        csv_int(out, l->video_won, 0);
        csv_int(out, l->ad_won, 0);
        csv_int(out, l->total_won, 1);
    }
    for (size_t i = 0; i < a->n_adjustments; i++) {
        const Vs__V1__AdjustmentLine *j = a->adjustments[i];

        csv_field(out, h->month, 0);
        csv_field(out, state, 0);
        csv_field(out, "adjustment", 0);
        csv_int(out, (long long)j->creator_id, 0);
        csv_int(out, (long long)j->video_id, 0);
        csv_field(out, statement_title_of(a, j->video_id), 0);
        csv_field(out, j->corrected_date, 0);
        csv_field(out, j->reason, 0);
        csv_int(out, (long long)j->ledger_id, 0);
        csv_int(out, (long long)j->job_id, 0);
        csv_int(out, j->views, 0);
        csv_int(out, j->ad_views, 0);
        csv_int(out, j->video_won, 0);
        csv_int(out, j->ad_won, 0);
        csv_int(out, j->total_won, 1);
    }
}

int settlement_export(vsctl *ctl, int argc, char **argv)
{
    Vs__V1__GetStatementRequest req = VS__V1__GET_STATEMENT_REQUEST__INIT;
    statement_all all = {0};
    statement_args a;
    vs_call_status st;
    vs_client *c;
    int rc;

    if ((rc = statement_parse("export", export_help, argc, argv, &a)) != 0)
        return rc == 1 ? 0 : rc;
    if (ctl->json) {
        fprintf(stderr, "vsctl settlement export: writes CSV; --json does not apply (use "
                        "`vsctl --json settlement statement`)\n");
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    req.month = (char *)a.month;
    req.creator_id = a.creator;
    req.all_creators = a.creator == 0; /* an admin's default */
    req.limit = a.limit;
    rc = statement_fetch(c, &req, &all, &st);
    if (rc != 0 && a.creator == 0 && st.code == VS_PERMISSION_DENIED && all.n_pages == 0) {
        /* not an admin: the caller's own statement */
        req.all_creators = 0;
        req.after_creator_id = req.after_video_id = req.after_adjustment_id = 0;
        rc = statement_fetch(c, &req, &all, &st);
    }
    if (rc != 0) {
        statement_all_free(&all);
        return vsctl_fail(ctl, "settlement export", &st);
    }
    statement_csv(stdout, &all);
    statement_all_free(&all);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "vsctl settlement export: writing the CSV failed\n");
        return 1;
    }
    return 0;
}
