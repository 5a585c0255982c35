/* gen.c — vs-gen: synthetic but realistic play_log data, bulk-loaded into the stack's primary.
 *
 * Users, videos (creators own several) and play_log rows shaped like the write path's (sql/0003):
 * sessions of a Play row (kind 1, view_counted/reason) usually followed by a Pause row (kind 2,
 * credited range, watch_s, ad_views). Video popularity is Zipf (s = 1) over a seeded permutation,
 * so popular videos are not simply the lowest ids; some plays are by the video's creator
 * (OWN_VIDEO) and some repeat the previous session within 30 s (REPEAT). Everything is a function
 * of the arguments, so a seed reproduces the same rows; event ids are derived from them, which
 * makes a second load of the same data fail on the unique event_id instead of doubling it.
 *
 * Rows stream into LOAD DATA LOCAL INFILE straight from the generator (common/bulk.h), one
 * transaction per chunk, days in order so each day's ids are contiguous. */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulk.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "gen.h"
#include "log.h"
#include "window.h"

/* Producer of the users (or videos) rows: one line per index in [next, end). */
typedef struct gen_table {
    const gen_args *args;
    const char *prefix;
    int64_t next, end;
    int videos; /* 0 users, 1 videos */
    const uint64_t *creator_ids;
    uint64_t rng;
    const char *password_hash;
} gen_table;

static long gen_table_fill(void *ctx, char *buf, size_t cap)
{
    gen_table *t = ctx;
    size_t len = 0;

    while (t->next < t->end && cap - len > 512) {
        int64_t i = t->next++;
        int n;

        if (t->videos) {
            uint64_t creator = t->creator_ids[gen_below(&t->rng, (uint64_t)t->args->creators)];
            int duration = 60 + (int)gen_below(&t->rng, 3541);

            n = snprintf(buf + len, cap - len,
                         "%" PRIu64 "\tgen video %" PRId64 "\t%d\t%s%" PRId64 "\n", creator, i,
                         duration, t->prefix, i);
        } else {
            n = snprintf(buf + len, cap - len,
                         "%s%" PRId64 "@gen.invalid\t%s\tgen user %" PRId64 "\t%d\n", t->prefix, i,
                         t->password_hash, i, i < t->args->creators ? 2 : 1);
        }
        len += (size_t)n;
    }
    return (long)len;
}

/* Creates the users (or videos) of this data set unless they exist, then maps index -> row. The
 * key column holds prefix<index>[@gen.invalid]. */
static vs_status gen_ensure_table(MYSQL *db, gen_table *t, const char *table, const char *cols,
                                  const char *key, gen_video *videos, uint64_t *user_ids, char *err,
                                  size_t errlen)
{
    char sql[512];
    int64_t count = 0;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    size_t plen = strlen(t->prefix);
    vs_status rc;

    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s LIKE '%s%%'", table, key,
             t->prefix);
    rc = db_query_int(db, sql, &count, err, errlen);
    if (rc != VS_OK)
        return rc;
    if (count == 0) {
        rc = bulk_load(db, table, cols, gen_table_fill, t, NULL, err, errlen);
        if (rc != VS_OK)
            return rc;
    } else if (count != t->end) {
        snprintf(err, errlen, "%s: %" PRId64 " rows of data set %s exist, expected %" PRId64, table,
                 count, t->prefix, t->end);
        return VS_FAILED_PRECONDITION;
    }
    snprintf(sql, sizeof sql, "SELECT id, %s%s FROM %s WHERE %s LIKE '%s%%'", key,
             t->videos ? ", creator_id, duration_s" : "", table, key, t->prefix);
    if (mysql_query(db, sql) != 0 || (res = mysql_use_result(db)) == NULL) {
        snprintf(err, errlen, "%s: %s", table, mysql_error(db));
        return VS_INTERNAL;
    }
    count = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        int64_t i = strtoll(row[1] + plen, NULL, 10);

        if (i < 0 || i >= t->end)
            continue;
        count++;
        if (t->videos) {
            videos[i].id = strtoull(row[0], NULL, 10);
            videos[i].creator_id = strtoull(row[2], NULL, 10);
            videos[i].duration_s = atoi(row[3]);
        } else {
            user_ids[i] = strtoull(row[0], NULL, 10);
        }
    }
    mysql_free_result(res);
    if (count != t->end) {
        snprintf(err, errlen, "%s: found %" PRId64 " of %" PRId64 " rows of data set %s", table,
                 count, t->end, t->prefix);
        return VS_INTERNAL;
    }
    return VS_OK;
}

static const char gen_usage[] =
    "usage: tools/gen --rows N [--days D] [--videos V] [--users U] [--seed S] [--start "
    "YYYY-MM-DD]\n"
    "                 [--creators C] [--chunk ROWS]\n"
    "\n"
    "Loads N synthetic play_log rows spread over D business days (default 1, starting D days\n"
    "before today, or at --start) into the stack's primary (VS_DB_PRIMARY from the env file),\n"
    "with U users (default 10000; the first C, default V/5, are creators) and V videos (default\n"
    "1000). The same arguments load the same rows; loading them twice is refused (exit 3).\n";

static int gen_parse(int argc, char **argv, gen_args *a)
{
    static const struct option opts[] = {
        {"rows", required_argument, NULL, 'n'},     {"days", required_argument, NULL, 'd'},
        {"videos", required_argument, NULL, 'v'},   {"users", required_argument, NULL, 'u'},
        {"seed", required_argument, NULL, 's'},     {"start", required_argument, NULL, 'S'},
        {"creators", required_argument, NULL, 'c'}, {"chunk", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    char err[128];
    int opt;

    *a = (gen_args){.rows = -1,
                    .days = 1,
                    .videos = 1000,
                    .users = 10000,
                    .seed = 1,
                    .creators = 0,
                    .chunk = 1000000};
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int64_t *target = NULL, max = INT64_C(10000000000);

        const char *name = NULL;

        switch (opt) {
        case 'n':
            target = &a->rows, name = "rows";
            break;
        case 'd':
            target = &a->days, name = "days", max = 3660;
            break;
        case 'v':
            target = &a->videos, name = "videos", max = 100000000;
            break;
        case 'u':
            target = &a->users, name = "users", max = 100000000;
            break;
        case 's':
            target = &a->seed, name = "seed";
            break;
        case 'c':
            target = &a->creators, name = "creators", max = 100000000;
            break;
        case 'k':
            target = &a->chunk, name = "chunk";
            break;
        case 'S':
            if (window_parse(optarg, &a->start) != VS_OK) {
                fprintf(stderr, "gen: --start: expected YYYY-MM-DD, got \"%s\"\n", optarg);
                return 2;
            }
            if (window_check_accepted("--start", a->start, err, sizeof err) != VS_OK) {
                fprintf(stderr, "gen: %s (days the service could not read or settle)\n", err);
                return 2;
            }
            a->have_start = 1;
            continue;
        case 'h':
            fputs(gen_usage, stdout);
            exit(0);
        default:
            fputs(gen_usage, stderr);
            return 2;
        }
        if (config_parse_int(optarg, 1, max, target) != 0) {
            fprintf(stderr, "gen: --%s: expected an integer 1..%" PRId64 ", got \"%s\"\n", name,
                    max, optarg);
            return 2;
        }
    }
    if (a->rows < 0 || optind != argc) {
        fputs(gen_usage, stderr);
        return 2;
    }
    if (a->have_start && window_check_accepted("--days", a->start + (business_date)a->days - 1, err,
                                               sizeof err) != VS_OK) {
        fprintf(stderr, "gen: %s (the last day loaded)\n", err);
        return 2;
    }
    if (a->creators == 0)
        a->creators = a->videos / 5 > 0 ? a->videos / 5 : 1;
    if (a->creators > a->users) {
        fprintf(stderr, "gen: --creators (%" PRId64 ") exceeds --users (%" PRId64 ")\n",
                a->creators, a->users);
        return 2;
    }
    return 0;
}

/* Loads one business day: rows_day rows in chunks of args->chunk, one transaction each. */
static vs_status gen_load_day(MYSQL *db, gen_day *g, char *err, size_t errlen)
{
    static const char cols[] = "event_id, kind, video_id, viewer_id, day, received_at_ms, "
                               "position_s, credited_from_s, credited_to_s, watch_s, ad_views, "
                               "view_counted, reason";
    vs_status rc = VS_OK;

    while (g->next_row < g->rows_day) {
        int64_t loaded = 0;

        g->chunk_end =
            g->next_row + g->args->chunk < g->rows_day ? g->next_row + g->args->chunk : g->rows_day;
        rc = bulk_load(db, "play_log", cols, gen_fill, g, &loaded, err, errlen);
        if (rc == VS_ALREADY_EXISTS)
            snprintf(err + strlen(err), errlen - strlen(err),
                     " (this data set is already loaded, at least in part)");
        if (rc != VS_OK)
            return rc;
    }
    return rc;
}

int main(int argc, char **argv)
{
    gen_args a;
    char err[1024], user_prefix[96], video_prefix[96], hash[crypto_pwhash_STRBYTES];
    const char *url;
    MYSQL *db = NULL;
    uint64_t *user_ids = NULL, *zipf_cdf = NULL, rng;
    uint32_t *rank_video = NULL;
    gen_video *videos = NULL;
    int64_t rows_loaded = 0, started_ms, elapsed_ms, first_id = 0, last_id = 0;
    int exit_code = 1;
    vs_status rc;

    log_init("gen");
    if ((exit_code = gen_parse(argc, argv, &a)) != 0)
        return exit_code;
    exit_code = 1;
    config_load();
    if (window_init(config_get("VS_TZ", "Asia/Seoul"), err, sizeof err) != VS_OK) {
        fprintf(stderr, "gen: %s\n", err);
        return 1;
    }
    if (!a.have_start)
        a.start = window_day_of(clock_now_ms()) - (business_date)a.days;
    url = config_get("VS_DB_PRIMARY", NULL);
    if (url == NULL) {
        fprintf(stderr, "gen: VS_DB_PRIMARY is not set and no stack env file was found "
                        "(tools/stack up, or set VS_HOME)\n");
        return 1;
    }
    if ((rc = db_connect(url, 10, &db, err, sizeof err)) != VS_OK)
        goto fail;
    if (sodium_init() < 0 || crypto_pwhash_str(hash, "gen-password", strlen("gen-password"),
                                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                               crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, sizeof err, "libsodium: cannot hash the users' password");
        goto fail;
    }
    user_ids = calloc((size_t)a.users, sizeof *user_ids);
    videos = calloc((size_t)a.videos, sizeof *videos);
    zipf_cdf = calloc((size_t)a.videos, sizeof *zipf_cdf);
    rank_video = calloc((size_t)a.videos, sizeof *rank_video);
    if (!user_ids || !videos || !zipf_cdf || !rank_video) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }

    snprintf(user_prefix, sizeof user_prefix, "g%" PRId64 ".%" PRId64 ".%" PRId64 "u", a.seed,
             a.users, a.creators);
    snprintf(video_prefix, sizeof video_prefix, "g%" PRId64 ".%" PRId64 ".%" PRId64 "v", a.seed,
             a.videos, a.users);
    {
        gen_table users = {
            .args = &a, .prefix = user_prefix, .end = a.users, .password_hash = hash};
        gen_table vids = {.args = &a,
                          .prefix = video_prefix,
                          .end = a.videos,
                          .videos = 1,
                          .creator_ids = user_ids,
                          .rng = (uint64_t)a.seed ^ 0x766964656f73};

        rc = gen_ensure_table(db, &users, "users", "email, password_hash, display_name, role",
                              "email", NULL, user_ids, err, sizeof err);
        if (rc == VS_OK)
            rc = gen_ensure_table(db, &vids, "videos",
                                  "creator_id, title, duration_s, create_event_id",
                                  "create_event_id", videos, NULL, err, sizeof err);
        if (rc != VS_OK)
            goto fail;
    }
    /* Zipf s = 1: weight of rank r is 2^40 / (r + 1), in integers */
    for (int64_t r = 0; r < a.videos; r++)
        zipf_cdf[r] = (r ? zipf_cdf[r - 1] : 0) + (UINT64_C(1) << 40) / (uint64_t)(r + 1);
    rng = (uint64_t)a.seed ^ 0x72616e6b;
    for (int64_t r = 0; r < a.videos; r++)
        rank_video[r] = (uint32_t)r;
    for (int64_t r = a.videos - 1; r > 0; r--) {
        uint64_t j = gen_below(&rng, (uint64_t)r + 1);
        uint32_t t = rank_video[r];

        rank_video[r] = rank_video[j];
        rank_video[j] = t;
    }

    {
        char sql[256], day_text[11], tag[32];
        int64_t exists = 0;

        window_format(a.start, day_text);
        gen_tag(&a, a.start, tag, sizeof tag);
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM play_log WHERE event_id = '%s0000000000'",
                 tag);
        if ((rc = db_query_int(db, sql, &exists, err, sizeof err)) != VS_OK)
            goto fail;
        if (exists) {
            fprintf(stderr,
                    "gen: this data set (seed %" PRId64 ", %" PRId64 " videos, %" PRId64
                    " users, from %s) is already loaded\n",
                    a.seed, a.videos, a.users, day_text);
            exit_code = 3;
            goto out;
        }
    }
    started_ms = clock_mono_ms();
    for (int64_t d = 0; d < a.days; d++) {
        gen_day g = {.args = &a,
                     .videos = videos,
                     .user_ids = user_ids,
                     .zipf_cdf = zipf_cdf,
                     .rank_video = rank_video,
                     .rows_loaded = &rows_loaded,
                     .rows_all = a.rows,
                     .started_ms = started_ms,
                     .tty = isatty(2)};

        g.day = a.start + (business_date)d;
        g.rng = (uint64_t)a.seed * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)g.day;
        window_format(g.day, g.day_text);
        gen_tag(&a, g.day, g.tag, sizeof g.tag);
        g.tag_len = strlen(g.tag);
        g.day_start_ms = window_day_start_ms(g.day);
        g.rows_day = a.rows / a.days + (d < a.rows % a.days);
        if (g.rows_day == 0)
            continue;
        if ((rc = gen_load_day(db, &g, err, sizeof err)) != VS_OK)
            goto fail;
        rows_loaded += g.rows_day;
        g.next_row = 0;
        gen_progress(&g, 1);
    }
    elapsed_ms = clock_mono_ms() - started_ms;
    {
        char sql[256], a_text[11], b_text[11];

        window_format(a.start, a_text);
        window_format(a.start + (business_date)a.days - 1, b_text);
        snprintf(sql, sizeof sql, "SELECT MIN(id) FROM play_log WHERE day BETWEEN '%s' AND '%s'",
                 a_text, b_text);
        db_query_int(db, sql, &first_id, err, sizeof err);
        snprintf(sql, sizeof sql, "SELECT MAX(id) FROM play_log WHERE day BETWEEN '%s' AND '%s'",
                 a_text, b_text);
        db_query_int(db, sql, &last_id, err, sizeof err);
        printf("gen: loaded %" PRId64 " play rows for %s..%s (ids %" PRId64 "..%" PRId64
               "), %" PRId64 " videos, %" PRId64 " users, in %.1f s (%" PRId64 " rows/s)\n",
               rows_loaded, a_text, b_text, first_id, last_id, a.videos, a.users,
               (double)elapsed_ms / 1000.0, elapsed_ms > 0 ? rows_loaded * 1000 / elapsed_ms : 0);
    }
    exit_code = 0;
    goto out;
fail:
    fprintf(stderr, "gen: %s\n", err);
out:
    if (db != NULL)
        mysql_close(db);
    free(user_ids);
    free(videos);
    free(zipf_cdf);
    free(rank_video);
    return exit_code;
}
