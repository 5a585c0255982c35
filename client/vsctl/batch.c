/* batch.c — `vsctl batch run|status|list`: the settlement batch, through the coordinator's
 * BatchService (VS_COORD_URL, or --coord URL). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vs/batch.h>

#include "config.h"
#include "vsctl.h"

/* How long one GetJob of --wait may wait for the job's end: the progress line's cadence. */
#define BATCH_WAIT_MS 1000

static const char batch_usage[] =
    "usage: vsctl [--json] batch [--coord URL] run --date YYYY-MM-DD [--force [--reason TEXT]]\n"
    "                                              [--wait]\n"
    "       vsctl [--json] batch [--coord URL] run --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "                                              [--force [--reason TEXT]] [--wait]\n"
    "       vsctl [--json] batch [--coord URL] status [JOB_ID]\n"
    "       vsctl [--json] batch [--coord URL] list [--limit N]\n"
    "\n"
    "run      starts the daily settlement of a business date (statistics, lifetime counts,\n"
    "         settlement, week/month rollups, top-N). A completed date is final: --force\n"
    "         recomputes it and every later completed date (they follow in date order). --wait\n"
    "         follows the date's job to its end (a progress bar on a terminal: partitions, rows,\n"
    "         rows/s, ETA) and exits 1 if it fails. --from/--to queues a range of days at once\n"
    "         (at most 366; days already completed are left as they are unless --force); the\n"
    "         coordinator runs them back to back in date order, and --wait follows the last.\n"
    "         --reason says why a forced re-run is needed (at most 300 bytes): the ledger and,\n"
    "         for a day of a closed month, the adjustment lines it books carry it.\n"
    "status   one job (default: the most recent).\n"
    "list     recent jobs, newest date first (default 20), who started each (the schedule or\n"
    "         an operator), and when the schedule settles its next day.\n"
    "\n"
    "--coord URL  the coordinator's control socket [VS_COORD_URL; default tcp://127.0.0.1:7401];\n"
    "             a tls+tcp:// one is verified against VS_TLS_CA\n"
    "\n"
    "Every batch command needs an admin: log in first (`vsctl user login`) as a user granted the\n"
    "admin role (`vsctl admin grant --email E --role admin`).\n";

static json_t *batch_job_json(const vs_batch_job *j)
{
    return json_pack(
        "{s:I,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:s}", "id",
        (json_int_t)vs_batch_job_id(j), "job", vs_batch_job_name(j), "date", vs_batch_job_date(j),
        "state", vs_job_state_name(vs_batch_job_state(j)), "attempt", (int)vs_batch_job_attempt(j),
        "partitions_total", (int)vs_batch_job_partitions_total(j), "partitions_done",
        (int)vs_batch_job_partitions_done(j), "rows_total", (json_int_t)vs_batch_job_rows_total(j),
        "rows_done", (json_int_t)vs_batch_job_rows_done(j), "rows_per_s",
        (json_int_t)vs_batch_job_rows_per_s(j), "eta_s", (json_int_t)vs_batch_job_eta_s(j),
        "started_unix_ms", (json_int_t)vs_batch_job_started_unix_ms(j), "finished_unix_ms",
        (json_int_t)vs_batch_job_finished_unix_ms(j), "error", vs_batch_job_error(j), "started_by",
        vs_batch_job_started_by(j), "reason", vs_batch_job_reason(j));
}

static void batch_print(const vs_batch_job *j)
{
    char a[32], b[32], c[32];
    int64_t started = vs_batch_job_started_unix_ms(j), finished = vs_batch_job_finished_unix_ms(j);

    printf("job %llu  %s %s  %s (attempt %u)\n", (unsigned long long)vs_batch_job_id(j),
           vs_batch_job_name(j), vs_batch_job_date(j), vs_job_state_name(vs_batch_job_state(j)),
           vs_batch_job_attempt(j));
    if (vs_batch_job_started_by(j)[0])
        printf("  started by  %s\n", vs_batch_job_started_by(j));
    if (vs_batch_job_reason(j)[0])
        printf("  reason      %s\n", vs_batch_job_reason(j));
    printf("  partitions  %u / %u\n", vs_batch_job_partitions_done(j),
           vs_batch_job_partitions_total(j));
    printf("  rows        %s / %s%s\n", vsctl_thousands(vs_batch_job_rows_done(j), a, sizeof a),
           vsctl_thousands(vs_batch_job_rows_total(j), b, sizeof b),
           vs_batch_job_state(j) == VS_JOB_COMPLETED ? "" : " (estimate)");
    printf("  rows/s      %s\n", vsctl_thousands(vs_batch_job_rows_per_s(j), c, sizeof c));
    if (finished > started && started > 0)
        printf("  took        %.1f s\n", (double)(finished - started) / 1000.0);
    else if (vs_batch_job_eta_s(j) > 0)
        printf("  eta         %lld s\n", (long long)vs_batch_job_eta_s(j));
    if (vs_batch_job_error(j)[0])
        printf("  error       %s\n", vs_batch_job_error(j));
}

/* One progress line: a bar on a terminal (rewritten in place), plain text otherwise. */
static void batch_progress(const vs_batch_job *j, int tty)
{
    char rows[32], total[32], rate[32], bar[31];
    uint32_t done = vs_batch_job_partitions_done(j), parts = vs_batch_job_partitions_total(j);
    int state = vs_batch_job_state(j);
    int fill = parts ? (int)(30 * done / parts) : (state == VS_JOB_COMPLETED ? 30 : 0);

    memset(bar, '.', 30);
    memset(bar, '#', (size_t)fill);
    bar[30] = '\0';
    vsctl_thousands(vs_batch_job_rows_done(j), rows, sizeof rows);
    vsctl_thousands(vs_batch_job_rows_total(j), total, sizeof total);
    vsctl_thousands(vs_batch_job_rows_per_s(j), rate, sizeof rate);
    if (tty)
        printf("\r[%s] %u/%u partitions  %s/%s rows  %s rows/s  ETA %llds  %-9s", bar, done, parts,
               rows, total, rate, (long long)vs_batch_job_eta_s(j), vs_job_state_name(state));
    else
        printf("%s: %u/%u partitions, %s/%s rows, %s rows/s, ETA %lld s\n",
               vs_job_state_name(state), done, parts, rows, total, rate,
               (long long)vs_batch_job_eta_s(j));
    fflush(stdout);
}

/* Follows the job until it completes or fails (GetJob with wait_ms: answered at once when it
 * ends, else every second for the progress line); 0 when completed. */
static int batch_wait(vsctl *ctl, vs_client *c, vs_batch_job *job)
{
    int tty = isatty(1) && !ctl->json;
    int last_state = 0;
    uint32_t last_done = (uint32_t)-1;
    int rc;

    for (;;) {
        vs_call_status st;
        vs_batch_job *next = NULL;
        int state = vs_batch_job_state(job);

        if (!ctl->json &&
            (tty || state != last_state || vs_batch_job_partitions_done(job) != last_done)) {
            batch_progress(job, tty);
            last_state = state;
            last_done = vs_batch_job_partitions_done(job);
        }
        if (state == VS_JOB_COMPLETED || state == VS_JOB_FAILED)
            break;
        /* half the call's timeout at most, so a wait never looks like a lost reply */
        if (vs_batch_wait(c, vs_batch_job_id(job),
                          ctl->timeout_ms / 2 < BATCH_WAIT_MS ? (uint32_t)ctl->timeout_ms / 2
                                                              : BATCH_WAIT_MS,
                          &next, &st) != VS_OK) {
            if (tty)
                putchar('\n');
            vs_batch_job_free(job);
            return vsctl_fail(ctl, "batch status", &st);
        }
        vs_batch_job_free(job);
        job = next;
    }
    if (tty)
        putchar('\n');
    if (ctl->json)
        vsctl_print_json(batch_job_json(job));
    else
        batch_print(job);
    rc = vs_batch_job_state(job) == VS_JOB_COMPLETED ? 0 : 1;
    vs_batch_job_free(job);
    return rc;
}

static int batch_run(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"date", required_argument, NULL, 'd'},   {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},     {"force", no_argument, NULL, 'f'},
        {"reason", required_argument, NULL, 'r'}, {"wait", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *date = NULL, *from = NULL, *to = NULL, *reason = NULL;
    int force = 0, wait = 0, opt;
    vs_batch_job *job = NULL;
    vs_call_status st;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            date = optarg;
            break;
        case 'F':
            from = optarg;
            break;
        case 'T':
            to = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'w':
            wait = 1;
            break;
        case 'h':
            fputs(batch_usage, stdout);
            return 0;
        default:
            fputs(batch_usage, stderr);
            return 2;
        }
    }
    if (optind != argc || (date != NULL) == (from != NULL || to != NULL) ||
        (date == NULL && (from == NULL || to == NULL))) {
        fprintf(stderr, "vsctl batch run: either --date YYYY-MM-DD, or --from YYYY-MM-DD and --to "
                        "YYYY-MM-DD\n");
        return 2;
    }
    if (reason != NULL && !force) {
        fprintf(stderr, "vsctl batch run: --reason goes with --force (a forced re-run)\n");
        return 2;
    }
    if ((force ? vs_batch_rerun(c, date ? date : from, to, reason, &job, &st)
               : vs_batch_start_range(c, date ? date : from, to, 0, &job, &st)) != VS_OK)
        return vsctl_fail(ctl, "batch run", &st);
    if (to != NULL && !ctl->json)
        printf("%s .. %s queued; the coordinator runs them in date order%s\n", from, to,
               wait ? " (following the last day's job)" : "");
    if (wait)
        return batch_wait(ctl, c, job);
    if (ctl->json)
        vsctl_print_json(batch_job_json(job));
    else
        batch_print(job);
    vs_batch_job_free(job);
    return 0;
}

static int batch_status(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    vs_batch_job *job = NULL;
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    int64_t id = 0;

    if (argc > 2 || (argc == 2 && config_parse_int(argv[1], 1, INT64_MAX, &id) != 0)) {
        fprintf(stderr, "vsctl batch status: expected a job id, got \"%s\"\n", argv[1]);
        return 2;
    }
    if (id == 0) {
        if (vs_batch_list(c, 1, &list, &st) != VS_OK)
            return vsctl_fail(ctl, "batch status", &st);
        if (vs_batch_jobs_count(list) == 0) {
            vs_batch_jobs_free(list);
            st.code = VS_NOT_FOUND;
            snprintf(st.message, sizeof st.message, "no batch job has been started yet");
            return vsctl_fail(ctl, "batch status", &st);
        }
        id = (int64_t)vs_batch_job_id(vs_batch_jobs_at(list, 0));
        vs_batch_jobs_free(list);
    }
    if (vs_batch_get(c, (uint64_t)id, &job, &st) != VS_OK)
        return vsctl_fail(ctl, "batch status", &st);
    if (ctl->json)
        vsctl_print_json(batch_job_json(job));
    else
        batch_print(job);
    vs_batch_job_free(job);
    return 0;
}

/* The schedule's next run under the list: when, in UTC and from now. */
static void batch_print_schedule(int scheduled, const char *next_date, int64_t next_ms)
{
    char when[32];
    time_t t = (time_t)(next_ms / 1000);
    struct tm utc;
    int64_t in_s = (next_ms - (int64_t)time(NULL) * 1000) / 1000;

    if (!scheduled) {
        printf("\nschedule: off (jobs start only with `vsctl batch run`)\n");
        return;
    }
    gmtime_r(&t, &utc);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &utc);
    if (in_s <= 0)
        printf("\nschedule: %s is due (since %s), after the jobs before it\n", next_date, when);
    else
        printf("\nschedule: next run settles %s at %s (in %lld h %02lld min)\n", next_date, when,
               (long long)(in_s / 3600), (long long)(in_s % 3600 / 60));
}

static int batch_list(vsctl *ctl, vs_client *c, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    vs_batch_jobs *list = NULL;
    vs_call_status st;
    int64_t limit = 20, next_ms = 0;
    const char *next_date = "";
    int opt, scheduled;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'l' && config_parse_int(optarg, 1, 1000, &limit) == 0)
            continue;
        fputs(batch_usage, opt == 'h' ? stdout : stderr);
        return opt == 'h' ? 0 : 2;
    }
    if (vs_batch_list(c, (unsigned)limit, &list, &st) != VS_OK)
        return vsctl_fail(ctl, "batch list", &st);
    scheduled = vs_batch_jobs_schedule(list, &next_date, &next_ms);
    if (ctl->json) {
        json_t *arr = json_array();

        for (size_t i = 0; i < vs_batch_jobs_count(list); i++)
            json_array_append_new(arr, batch_job_json(vs_batch_jobs_at(list, i)));
        vsctl_print_json(json_pack("{s:o,s:o}", "jobs", arr, "schedule",
                                   scheduled
                                       ? json_pack("{s:b,s:s,s:I}", "enabled", 1, "next_date",
                                                   next_date, "next_unix_ms", (json_int_t)next_ms)
                                       : json_pack("{s:b}", "enabled", 0)));
    } else {
        vsctl_table *t = vsctl_table_new("rllrrrrll");

        vsctl_table_row(t, "ID", "DATE", "STATE", "ATTEMPT", "PARTITIONS", "ROWS", "SECONDS",
                        "STARTED BY", "ERROR");
        for (size_t i = 0; i < vs_batch_jobs_count(list); i++) {
            const vs_batch_job *j = vs_batch_jobs_at(list, i);
            char id[24], attempt[16], parts[32], rows[32], secs[32];
            int64_t s = vs_batch_job_started_unix_ms(j), f = vs_batch_job_finished_unix_ms(j);

            snprintf(id, sizeof id, "%llu", (unsigned long long)vs_batch_job_id(j));
            snprintf(attempt, sizeof attempt, "%u", vs_batch_job_attempt(j));
            snprintf(parts, sizeof parts, "%u/%u", vs_batch_job_partitions_done(j),
                     vs_batch_job_partitions_total(j));
            vsctl_thousands(vs_batch_job_rows_done(j), rows, sizeof rows);
            if (f > s && s > 0)
                snprintf(secs, sizeof secs, "%.1f", (double)(f - s) / 1000.0);
            else
                snprintf(secs, sizeof secs, "-");
            vsctl_table_row(t, id, vs_batch_job_date(j), vs_job_state_name(vs_batch_job_state(j)),
                            attempt, parts, rows, secs, vs_batch_job_started_by(j),
                            vs_batch_job_error(j));
        }
        vsctl_table_print(t, stdout, "");
        vsctl_table_free(t);
        batch_print_schedule(scheduled, next_date, next_ms);
    }
    vs_batch_jobs_free(list);
    return 0;
}

const char *vsctl_coord_url(int *argc, char ***argv)
{
    const char *url = config_get("VS_COORD_URL", "tcp://127.0.0.1:7401");

    if (*argc >= 3 && strcmp((*argv)[1], "--coord") == 0) {
        url = (*argv)[2];
        *argc -= 2;
        *argv += 2;
    } else if (*argc >= 2 && strncmp((*argv)[1], "--coord=", 8) == 0) {
        url = (*argv)[1] + 8;
        (*argc)--;
        (*argv)++;
    }
    return url;
}

int vsctl_coord_open(vsctl *ctl, const char *url, vs_client **out)
{
    vs_client_options opts = {0};
    vs_call_status st;

    opts.timeout_ms = ctl->timeout_ms;
    if (vs_client_open(url, &opts, out, &st) != VS_OK)
        return vsctl_fail(ctl, "connect to the coordinator", &st);
    vsctl_token_apply(
        *out); /* BatchService needs an admin's token: the one `vsctl user login` kept */
    return 0;
}

int cmd_batch(vsctl *ctl, int argc, char **argv)
{
    const char *url = vsctl_coord_url(&argc, &argv);
    vs_client *c = NULL;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(batch_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "status") != 0 &&
        strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "vsctl batch: unknown subcommand \"%s\"\n%s", argv[1], batch_usage);
        return 2;
    }
    if ((rc = vsctl_coord_open(ctl, url, &c)) != 0)
        return rc;
    if (strcmp(argv[1], "run") == 0)
        rc = batch_run(ctl, c, argc - 1, argv + 1);
    else if (strcmp(argv[1], "status") == 0)
        rc = batch_status(ctl, c, argc - 1, argv + 1);
    else
        rc = batch_list(ctl, c, argc - 1, argv + 1);
    vs_client_close(c);
    return rc;
}
