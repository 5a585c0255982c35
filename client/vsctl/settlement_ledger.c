/* settlement_ledger.c — `vsctl settlement ledger`: the money ledger's entries of one video or one
 * creator, optionally over a range of days, every page of GetLedger fetched, with the sums
 * (docs/reads.md, "Statements and the ledger"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "grow.h"
#include "settlement.h"
#include "window.h"

const char settlement_ledger_usage[] =
    "       vsctl [--json] settlement ledger (--video ID | --creator ID)\n"
    "                                        [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--limit N]\n";

static const char ledger_help[] =
    "usage: vsctl [--json] settlement ledger (--video ID | --creator ID)\n"
    "                                        [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--limit N]\n"
    "\n"
    "The money ledger: every change to a video's (or a creator's) money, oldest first, never\n"
    "changed once written. Kinds: DAY_SETTLED (a day's first settlement: its amounts), DAY_RERUN\n"
    "(a forced re-run of a day of an open month: new minus old), ADJUSTMENT (a re-run of a day of\n"
    "a closed month: new minus old, booked in the first open month). Each entry names the day it\n"
    "changed, the month it is booked in, the job, who started it and why. The sums cover every\n"
    "entry shown; per video they equal its daily settlement amounts as they stand.\n"
    "\n"
    "--video ID    one video's entries (its creator or an admin)\n"
    "--creator ID  one creator's entries (that creator or an admin)\n"
    "--from, --to  only entries of these days (inclusive)\n"
    "--limit N     entries per call (default 1000, at most 5000); every page is fetched\n";

typedef struct ledger_all {
    Vs__V1__Ledger **pages;
    size_t n_pages, pages_cap;
    const Vs__V1__LedgerEntry **entries;
    size_t n, cap;
} ledger_all;

static void ledger_all_free(ledger_all *a)
{
    for (size_t i = 0; i < a->n_pages; i++)
        protobuf_c_message_free_unpacked(&a->pages[i]->base, NULL);
    free(a->pages);
    free(a->entries);
}

static int ledger_keep(ledger_all *a, Vs__V1__Ledger *p)
{
    if (grow_array(&a->pages, &a->pages_cap, a->n_pages + 1, sizeof *a->pages, 8, SIZE_MAX) !=
            VS_OK ||
        grow_array(&a->entries, &a->cap, a->n + p->n_entries, sizeof *a->entries, 64, SIZE_MAX) !=
            VS_OK) {
        protobuf_c_message_free_unpacked(&p->base, NULL);
        return -1;
    }
    a->pages[a->n_pages++] = p;
    for (size_t i = 0; i < p->n_entries; i++)
        a->entries[a->n++] = p->entries[i];
    return 0;
}

/* The sums of the last page (the newest view) must be those of the entries fetched; not so when
 * an entry of the range was written while the pages were read. */
static int ledger_consistent(const ledger_all *a)
{
    const Vs__V1__Ledger *last = a->pages[a->n_pages - 1];
    int64_t vw = 0, aw = 0, tw = 0;

    for (size_t i = 0; i < a->n; i++) {
        vw += a->entries[i]->video_won;
        aw += a->entries[i]->ad_won;
        tw += a->entries[i]->total_won;
    }
    return vw == last->video_won && aw == last->ad_won && tw == last->total_won;
}

static int ledger_fetch(vs_client *c, Vs__V1__GetLedgerRequest *req, ledger_all *a,
                        vs_call_status *st)
{
    for (;;) {
        Vs__V1__Ledger *p = NULL;
        int more;

        if (vs_client_call_named(c, &vs__v1__streaming_service__descriptor, "GetLedger", &req->base,
                                 (ProtobufCMessage **)&p, st) != VS_OK)
            return 1;
        more = p->more;
        /* a cursor that does not move forward would ask for the same pages forever */
        if (more && p->next_after_id <= req->after_id) {
            protobuf_c_message_free_unpacked(&p->base, NULL);
            st->code = VS_INTERNAL;
            snprintf(st->message, sizeof st->message,
                     "the server's page cursor did not move forward");
            return 1;
        }
        req->after_id = p->next_after_id;
        if (ledger_keep(a, p) != 0) {
            st->code = VS_RESOURCE_EXHAUSTED;
            snprintf(st->message, sizeof st->message, "out of memory");
            return 1;
        }
        if (!more)
            break;
    }
    if (!ledger_consistent(a)) {
        st->code = VS_ABORTED;
        snprintf(st->message, sizeof st->message,
                 "the ledger changed while it was read (a day was settled or re-run); run the "
                 "command again");
        return 1;
    }
    return 0;
}

static const char *ledger_kind_name(int kind)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&vs__v1__ledger_kind__descriptor, kind);

    return v != NULL ? v->name : "UNKNOWN";
}

static json_t *ledger_json(const ledger_all *a, const Vs__V1__GetLedgerRequest *req)
{
    const Vs__V1__Ledger *last = a->pages[a->n_pages - 1];
    json_t *entries = json_array(), *o;

    for (size_t i = 0; i < a->n; i++) {
        const Vs__V1__LedgerEntry *e = a->entries[i];

        json_array_append_new(
            entries,
            json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:I,s:I,s:I,s:I,s:I,s:I}", "id",
                      (json_int_t)e->id, "kind", ledger_kind_name(e->kind), "job_id",
                      (json_int_t)e->job_id, "actor", e->actor, "reason", e->reason, "date",
                      e->date, "booked_month", e->booked_month, "video_id", (json_int_t)e->video_id,
                      "creator_id", (json_int_t)e->creator_id, "rate_card_version",
                      (int)e->rate_card_version, "views", (json_int_t)e->views, "ad_views",
                      (json_int_t)e->ad_views, "video_won", (json_int_t)e->video_won, "ad_won",
                      (json_int_t)e->ad_won, "total_won", (json_int_t)e->total_won, "at_unix_ms",
                      (json_int_t)e->at_unix_ms));
    }
    o = json_object();
    if (req->video_id)
        json_object_set_new(o, "video_id", json_integer((json_int_t)req->video_id));
    else
        json_object_set_new(o, "creator_id", json_integer((json_int_t)req->creator_id));
    if (req->from_date)
        json_object_set_new(o, "from", json_string(req->from_date));
    if (req->to_date)
        json_object_set_new(o, "to", json_string(req->to_date));
    json_object_set_new(o, "currency", json_string("KRW"));
    json_object_set_new(o, "entries", entries);
    json_object_set_new(o, "video_won", json_integer((json_int_t)last->video_won));
    json_object_set_new(o, "ad_won", json_integer((json_int_t)last->ad_won));
    json_object_set_new(o, "total_won", json_integer((json_int_t)last->total_won));
    return o;
}

static void ledger_print(const ledger_all *a, const Vs__V1__GetLedgerRequest *req)
{
    const Vs__V1__Ledger *last = a->pages[a->n_pages - 1];
    vsctl_table *t = vsctl_table_new("rllrrrrrrrrl");
    char id[32], booked[16], video[32], job[32], f[5][48], why[600], actor[128], reason[400];
    char vw[48], aw[48], tw[48];

    if (req->video_id)
        printf("ledger of video %llu", (unsigned long long)req->video_id);
    else
        printf("ledger of creator %llu", (unsigned long long)req->creator_id);
    if ((req->from_date && req->from_date[0]) || (req->to_date && req->to_date[0]))
        printf(", days %s..%s", req->from_date ? req->from_date : "",
               req->to_date ? req->to_date : "");
    printf("\n\n");
    vsctl_table_row(t, "ID", "DAY", "KIND", "BOOKED", "VIDEO", "VIEWS", "AD VIEWS", "VIDEO WON",
                    "AD WON", "TOTAL", "JOB", "BY: REASON");
    for (size_t i = 0; i < a->n; i++) {
        const Vs__V1__LedgerEntry *e = a->entries[i];

        snprintf(id, sizeof id, "%llu", (unsigned long long)e->id);
        snprintf(booked, sizeof booked, "%s", e->booked_month);
        snprintf(video, sizeof video, "%llu", (unsigned long long)e->video_id);
        snprintf(job, sizeof job, "%llu", (unsigned long long)e->job_id);
        vsctl_thousands(e->views, f[0], sizeof f[0]);
        vsctl_thousands(e->ad_views, f[1], sizeof f[1]);
        vsctl_won(e->video_won, f[2], sizeof f[2]);
        vsctl_won(e->ad_won, f[3], sizeof f[3]);
        vsctl_won(e->total_won, f[4], sizeof f[4]);
        settlement_cell(e->actor, actor, sizeof actor);
        settlement_cell(e->reason, reason, sizeof reason);
        snprintf(why, sizeof why, "%s%s%s", actor, reason[0] ? ": " : "", reason);
        vsctl_table_row(t, id, e->date, ledger_kind_name(e->kind), booked, video, f[0], f[1], f[2],
                        f[3], f[4], job, why);
    }
    if (a->n == 0)
        printf("(no entries)\n");
    else
        vsctl_table_print(t, stdout, "");
    vsctl_table_free(t);
    printf("\n%zu entr%s: video %s + ad %s = %s\n", a->n, a->n == 1 ? "y" : "ies",
           vsctl_won(last->video_won, vw, sizeof vw), vsctl_won(last->ad_won, aw, sizeof aw),
           vsctl_won(last->total_won, tw, sizeof tw));
}

static int ledger_day_arg(const char *flag, const char *text)
{
    business_date d;
    char err[128];

    if (window_parse(text, &d) != VS_OK) {
        fprintf(stderr, "vsctl settlement ledger: --%s: expected a date YYYY-MM-DD, got \"%s\"\n",
                flag, text);
        return -1;
    }
    if (window_check_accepted(flag, d, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl settlement ledger: --%s\n", err);
        return -1;
    }
    return 0;
}

int settlement_ledger(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"video", required_argument, NULL, 'v'},
                                         {"creator", required_argument, NULL, 'c'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    Vs__V1__GetLedgerRequest req = VS__V1__GET_LEDGER_REQUEST__INIT;
    ledger_all all = {0};
    vs_call_status st;
    vs_client *c;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'v':
        case 'c':
        case 'l':
            if (settlement_id_arg("settlement ledger", opt, optarg, &req.video_id, &req.creator_id,
                                  &req.limit) != 0)
                return 2;
            break;
        case 'f':
        case 't':
            if (ledger_day_arg(opt == 'f' ? "from" : "to", optarg) != 0)
                return 2;
            if (opt == 'f')
                req.from_date = optarg;
            else
                req.to_date = optarg;
            break;
        case 'h':
            fputs(ledger_help, stdout);
            return 0;
        default:
            fputs(ledger_help, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl settlement ledger: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if ((req.video_id == 0) == (req.creator_id == 0)) {
        fprintf(stderr, "vsctl settlement ledger: give --video or --creator (one of them)\n%s",
                ledger_help);
        return 2;
    }
    if (req.from_date && req.to_date && strcmp(req.from_date, req.to_date) > 0) {
        fprintf(stderr, "vsctl settlement ledger: --to %s is before --from %s\n", req.to_date,
                req.from_date);
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (ledger_fetch(c, &req, &all, &st) != 0) {
        ledger_all_free(&all);
        return vsctl_fail(ctl, "settlement ledger", &st);
    }
    req.after_id = 0;
    if (ctl->json)
        vsctl_print_json(ledger_json(&all, &req));
    else
        ledger_print(&all, &req);
    ledger_all_free(&all);
    return 0;
}
