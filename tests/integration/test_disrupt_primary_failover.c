/* test_disrupt_primary_failover.c — losing the MariaDB primary is a short interruption, and nothing
 * acknowledged is lost: under Play load the primary is killed (SIGKILL) and `tools/stack failover`
 * promotes the replica. vsd is not restarted: its connections follow the stack's primary file
 * (VS_DB_PRIMARY_FILE) when they reconnect.
 *
 * Checked: every Play acknowledged before, during and after is a play_log row on the new primary
 * (semi-synchronous replication: a commit is acknowledged once the replica has it); Plays resume
 * within FAILOVER_BOUND_MS of the failover command's start; stats reads answer throughout. With
 * the old primary still down, the settlement of the Plays' day by a real vs-coordinator and
 * vs-worker, configured as before the failover, runs on the new primary and writes tables identical
 * to a fault-free run of the same data (a copy of the play rows in a fresh database, settled there;
 * see that test). The old primary started again with its own my.cnf refuses writes (read_only), and
 * `tools/stack up` makes it a replica of the new primary holding every acknowledged Play and the
 * settlement too. Then a failover while the primary still answers (a planned switchover) moves the
 * role back under the same load, again losing nothing.
 *
 * Every Play falls on DAY, long over (vsd's wall clock is stepped to its noon), so it can be
 * settled at once. It changes the topology, so it runs on a stack of its own
 * (<VS_TEST_HOME>-failover), and kills processes, so it runs serially. */
#include <vs/stats.h>

#include "batch_harness.h"
#include "failover_fixture.h"

#define VIDEOS 16
#define MAX_ACKS 60000
/* from the failover command's start to every loader's first acknowledged Play after it */
#define FAILOVER_BOUND_MS 10000
/* the business day of every Play here: vsd's wall clock is stepped to its noon, so the day is over
 * and can be settled */
#define DAY "2012-03-14"

static volatile int phase;
static char (*acks[FF_LOADERS])[40]; /* per loader: the event ids of its acknowledged Plays */
static struct {
    int calls, failures;
    char first_failure[640];
} reader;
static char settled_digest[1024]; /* the batch's tables on the new primary after DAY's settlement */

/* A Play with an event id of its own (phase, loader, attempt); the acknowledged ones are kept. */
static vs_status play(ff_loader *l, int attempt, int done, vs_call_status *st)
{
    Vs__V1__PlayResponse *r = NULL;
    char event[40];
    vs_status rc;

    (void)done;
    snprintf(event, sizeof event, "fo-%d-%d-%d-%d", (int)getpid(), phase, l->id, attempt);
    rc = vs_play(l->client, ff.videos[attempt % VIDEOS], event, &r, st);
    if (rc == VS_OK) {
        snprintf(acks[l->id][l->n_acks], sizeof acks[0][0], "%s", event);
        sf_free(r);
    }
    return rc;
}

/* Stats reads, which vsd routes to the replica or the primary, whichever is fresh and answers. */
static void *read_stats(void *arg)
{
    (void)arg;
    while (!ff.stop) {
        Vs__V1__VideoStats *s = NULL;
        vs_call_status st = {0};

        if (vs_video_stats(ff.creator.client, ff.videos[0], VS__V1__PERIOD__WEEK, "1999-06-01", &s,
                           &st) != VS_OK) {
            if (reader.failures++ == 0)
                snprintf(reader.first_failure, sizeof reader.first_failure, "%s %s",
                         vs_status_name(st.code), st.message);
        }
        sf_free(s);
        reader.calls++;
        usleep(10000);
    }
    return NULL;
}

static int setup(void **state)
{
    business_date day;

    /* a view counts again after 1 s (not 30): every video's views of every second of the run are
     * in the settled figures, so a missing stretch of rows shows */
    if (ff_stack_up("failover", "", "VS_VIEW_REPEAT_WINDOW_S=1") != 0 ||
        window_parse(DAY, &day) != VS_OK)
        return -1;
    /* before any account exists, so that every token is issued at vsd's new time */
    sf_clock_step(window_day_start_ms(day) + 12 * 3600 * 1000 - sf_now_ms());
    for (int t = 0; t < FF_LOADERS; t++)
        if ((acks[t] = calloc(MAX_ACKS, sizeof acks[t][0])) == NULL)
            return -1;
    ff.companion = read_stats;
    return ff_start_loaders(VIDEOS, MAX_ACKS, play);
}

static int teardown(void **state)
{
    ff_teardown(state);
    for (int t = 0; t < FF_LOADERS; t++)
        free(acks[t]);
    return 0;
}

/* A new phase of the loaders (new event ids) and of the stats reader. */
static void start_load(void)
{
    ff_finish_load();
    phase++;
    reader.calls = reader.failures = 0;
    ff_start_load();
}

/* How many of the acknowledged event ids are play_log rows on db. */
static int64_t acks_recorded(MYSQL *db)
{
    static char sql[100000];
    char err[256];
    int64_t found = 0, count;

    for (int t = 0; t < FF_LOADERS; t++) {
        for (int i = 0; i < ff.loaders[t].n_acks;) {
            size_t n = (size_t)snprintf(sql, sizeof sql,
                                        "SELECT COUNT(*) FROM play_log WHERE event_id IN (");
            for (int k = 0; k < 2000 && i < ff.loaders[t].n_acks; k++, i++)
                n += (size_t)snprintf(sql + n, sizeof sql - n, "%s'%s'", k ? "," : "", acks[t][i]);
            snprintf(sql + n, sizeof sql - n, ")");
            assert_int_equal(db_query_int(db, sql, &count, err, sizeof err), VS_OK);
            found += count;
        }
    }
    return found;
}

/* The URL of VS_DB_PRIMARY with the port replaced: one server of the failover stack by its port,
 * which a connection does not follow the primary file away from. */
static void port_url(unsigned port, char *url, size_t len)
{
    const char *primary = getenv("VS_DB_PRIMARY");
    const char *at = strrchr(primary, '@'), *slash = strchr(at, '/');

    snprintf(url, len, "%.*s127.0.0.1:%u%s", (int)(at + 1 - primary), primary, port, slash);
}

static MYSQL *connect_port(unsigned port)
{
    char url[600], err[256];
    MYSQL *db = NULL;

    port_url(port, url, sizeof url);
    assert_int_equal(db_connect(url, 5, &db, err, sizeof err), VS_OK);
    return db;
}

/* The ports of the servers named "primary" and "replica" (the env as it was before any failover).
 */
static void server_ports(unsigned *primary_port, unsigned *replica_port)
{
    db_url u;
    char err[256];

    assert_int_equal(db_url_parse(getenv("VS_DB_PRIMARY"), &u, err, sizeof err), VS_OK);
    *primary_port = u.port;
    assert_int_equal(db_url_parse(getenv("VS_DB_REPLICA"), &u, err, sizeof err), VS_OK);
    *replica_port = u.port;
}

/* A semi-sync status counter of server db (Rpl_semi_sync_master_yes_tx / _no_tx: commits a replica
 * acknowledged / that went without). */
static int64_t semisync_count(MYSQL *db, const char *name)
{
    return ts_db_int(db,
                     "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
                     "VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_%s'",
                     name);
}

/* `tools/stack failover` under the running load (*t_fo, *t_fo_done: its start and end), the load
 * stopped once every loader has had Plays through again and then more for after_ms. Returns the
 * longest time from the command's start to a loader's first Play acknowledged after its end. */
static int64_t failover_under_load(int64_t *t_fo, int64_t *t_fo_done, int after_ms)
{
    int64_t worst;

    *t_fo = ts_mono_ms();
    assert_int_equal(ff_stack("failover"), 0);
    *t_fo_done = ts_mono_ms();
    worst = ff_wait_resumed(*t_fo, *t_fo_done, FAILOVER_BOUND_MS);
    usleep((useconds_t)after_ms * 1000);
    ff_finish_load();
    return worst;
}

static void test_failover_under_play_load_loses_no_acknowledged_play(void **state)
{
    unsigned primary_port, replica_port;
    int64_t t_kill, t_fo, t_fo_done, worst;
    int before, during;
    int64_t yes, no;
    pid_t old;
    MYSQL *db;

    server_ports(&primary_port, &replica_port);
    /* from here on this process talks to servers by their port */
    unsetenv("VS_DB_PRIMARY_FILE");

    db = connect_port(primary_port);
    yes = semisync_count(db, "YES_TX");
    no = semisync_count(db, "NO_TX");
    start_load();
    usleep(1500 * 1000);
    before = ff_acks_total();
    /* the commits so far waited for the replica: the acknowledged Plays are on it */
    assert_true(semisync_count(db, "YES_TX") > yes);
    assert_int_equal(semisync_count(db, "NO_TX"), no);
    mysql_close(db);

    old = ts_stack_pid("primary/mariadb");
    assert_true(old > 0);
    t_kill = ts_mono_ms();
    assert_int_equal(kill(old, SIGKILL), 0);
    for (int i = 0; i < 1000 && kill(old, 0) == 0; i++)
        usleep(10000);
    assert_int_not_equal(kill(old, 0), 0);
    during = ff_acks_total();

    worst = failover_under_load(&t_fo, &t_fo_done, 1000);

    fprintf(stderr,
            "failover: %d Plays acknowledged before the kill, %d after; the failover command "
            "took %lld ms (started %lld ms after the kill); every loader's Plays resumed within "
            "%lld ms of its start; %d Play calls failed meanwhile (first: %s); %d stats reads, %d "
            "failed%s%s\n",
            before, ff_acks_total() - during, (long long)(t_fo_done - t_fo),
            (long long)(t_fo - t_kill), (long long)worst, ff_load_failures(),
            ff.loaders[0].first_failure, reader.calls, reader.failures, reader.failures ? ": " : "",
            reader.first_failure);
    assert_true(before > 100);
    assert_true(ff_acks_total() > during);
    assert_true(worst <= FAILOVER_BOUND_MS);
    assert_int_equal(reader.failures, 0);

    /* the new primary: writable, and holds every acknowledged Play */
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0);
    assert_int_equal(acks_recorded(db), ff_acks_total());
    mysql_close(db);
}

/* The figures of a database's ledger entries, by which two runs compare: not the ids, the job,
 * the actor or the time. */
#define LEDGER_FIGURES                                                                             \
    "kind, day, booked_month, video_id, creator_id, rate_card_version, views, ad_views, "          \
    "video_won, ad_won, total_won"

/* Settles DAY with a vs-coordinator and a vs-worker started with this process's env (the
 * harness's children; what it leaves unset they take from the stack's $VS_HOME/env, as deployed
 * programs do); the digest of the batch's tables as db sees them after. */
static void settle_day(const bh *h, MYSQL *db, char *digest, size_t len)
{
    pid_t coord = bh_start_coordinator(h, NULL), worker = bh_start_worker(h, 2, "worker", NULL);
    vs_client *c = bh_client(h);

    bh_settle(c, DAY, 0);
    vs_client_close(c);
    ts_stop(worker);
    ts_stop(coord);
    bh_digest(db, digest, len);
}

/* After the failover, the old primary still down: DAY settled by a vs-coordinator and a vs-worker
 * configured as before the failover (VS_DB_PRIMARY names the dead server; they follow the stack's
 * primary file, as vsd does) writes exactly the tables of a fault-free run of the same data. The
 * fault-free run (cheaper than a second stack, and its input is the very same rows): a fresh
 * database on the new primary (vsb_failover_ref, migrated by the batch harness) holding a copy of
 * the videos and of DAY's play rows, settled by a coordinator and a worker that name the new
 * primary directly and follow no primary file, as on a stack that never failed over. Compared:
 * every table the batch writes (CHECKSUM TABLE and row count) and the ledger's figures; and,
 * independently of both runs, the videos and views counted against play_log. */
static void test_settlement_after_failover_equals_a_fault_free_run(void **state)
{
    static bh h;
    unsigned primary_port, replica_port;
    char before[3][600], url[600], err[256], file[600], reference[1024];
    const char *keys[3] = {"VS_DB_PRIMARY", "VS_DB_REPLICA", "VS_DB_PRIMARY_SOCKET"};
    int64_t rows, views;
    int acked = ff_acks_total();
    MYSQL *db, *ref;

    server_ports(&primary_port, &replica_port);
    for (int i = 0; i < 3; i++)
        snprintf(before[i], sizeof before[i], "%s", getenv(keys[i]));
    /* the old primary does not answer: what completes below ran on the new one */
    port_url(primary_port, url, sizeof url);
    assert_int_not_equal(db_connect(url, 2, &db, err, sizeof err), VS_OK);
    db = connect_port(replica_port);
    rows = bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day = '" DAY "'");
    /* the data: every acknowledged Play (the first test), and at most the failed calls' (a commit
     * whose answer was lost with the primary); nothing on another day */
    assert_true(rows >= acked && rows - acked <= ff_load_failures());
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM play_log WHERE day <> '" DAY "'"), 0);
    views = bh_int(db, "SELECT SUM(view_counted) FROM play_log");

    /* the reference: its env names the new primary (socket, URL) as if it had always been it;
     * empty, VS_DB_PRIMARY_FILE is not taken from $VS_HOME/env and nothing follows it */
    port_url(replica_port, url, sizeof url);
    setenv("VS_DB_PRIMARY", url, 1);
    setenv("VS_DB_PRIMARY_FILE", "", 1);
    setenv("VS_DB_PRIMARY_SOCKET", getenv("VS_DB_REPLICA_SOCKET"), 1);
    bh_setup(&h, "failover_ref");
    ref = ts_db_primary();
    bh_exec(ref, "INSERT INTO videos SELECT * FROM vs.videos");
    bh_exec(ref, "INSERT INTO play_log SELECT * FROM vs.play_log WHERE day = '" DAY "'");
    assert_int_equal(bh_int(ref, "SELECT COUNT(*) FROM play_log"), rows);
    settle_day(&h, ref, reference, sizeof reference);
    mysql_close(ref);

    /* the run after the failover: the env of before it, and the stack's primary file (named in
     * $VS_HOME/env too), which this process's own connections follow as well */
    for (int i = 0; i < 2; i++)
        setenv(keys[i], before[i], 1);
    snprintf(file, sizeof file, "%s/db-primary", ff.home);
    setenv("VS_DB_PRIMARY_FILE", file, 1);
    free(h.admin_token);
    h.admin_token = bh_token(BH_ADMIN, 86400, NULL, NULL); /* an admin of vs, on the new primary */
    snprintf(h.logs, sizeof h.logs, "%.480s/vs-batch-logs", ff.home);
    assert_int_equal(ts_sh("mkdir -p '%s'", h.logs), 0);
    settle_day(&h, db, settled_digest, sizeof settled_digest);
    unsetenv("VS_DB_PRIMARY_FILE");

    fprintf(stderr,
            "settlement of %s (%lld play rows, %lld views counted; %d Plays acknowledged): after "
            "the failover %s\n",
            DAY, (long long)rows, (long long)views, acked, settled_digest);
    assert_int_equal(bh_int(db, "SELECT state FROM batch_job WHERE business_date = '" DAY "'"),
                     VS_JOB_COMPLETED);
    assert_string_equal(settled_digest, reference);
    /* independently of both runs: the videos and the views of play_log */
    assert_int_equal(bh_int(db, "SELECT COUNT(*) FROM video_daily_stats"),
                     bh_int(db, "SELECT COUNT(DISTINCT video_id) FROM play_log"));
    assert_int_equal(bh_int(db, "SELECT SUM(views) FROM video_daily_stats"), views);
    assert_true(views > VIDEOS); /* more than the run's first second */
    assert_true(bh_int(db, "SELECT COUNT(*) FROM ledger") > 0);
    assert_int_equal(bh_int(db,
                            "SELECT COUNT(*) FROM (SELECT " LEDGER_FIGURES ", SUM(src = 1) a,"
                            " SUM(src = 2) b FROM (SELECT 1 src, " LEDGER_FIGURES " FROM ledger"
                            " UNION ALL SELECT 2, " LEDGER_FIGURES
                            " FROM %s.ledger) u GROUP BY " LEDGER_FIGURES " HAVING a <> b) d",
                            h.db),
                     0);
    mysql_close(db);
    setenv(keys[2], getenv("VS_DB_REPLICA_SOCKET"), 1);
    bh_teardown(&h);
    setenv(keys[2], before[2], 1);
}

/* The old primary, started again from its my.cnf (as anything restarting it would), refuses
 * writes; `tools/stack up` makes it a replica of the new primary, with every acknowledged Play and
 * the settlement of the test above. */
static void test_old_primary_comes_back_read_only_and_rejoins(void **state)
{
    unsigned primary_port, replica_port;
    char err[256], digest[1024];
    MYSQL *db;

    server_ports(&primary_port, &replica_port);
    assert_int_equal(ts_sh("setsid mariadbd --defaults-file='%s/primary/my.cnf' </dev/null "
                           ">/dev/null 2>&1 & for i in $(seq 300); do mariadb-admin --no-defaults "
                           "-h127.0.0.1 -P%u -uroot ping 2>&1 | grep -q 'Access denied\\|alive' "
                           "&& exit 0; sleep 0.1; done; exit 1",
                           ff.home, primary_port),
                     0);
    db = connect_port(primary_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 1);
    assert_int_not_equal(db_exec(db, "INSERT INTO replication_probe (token) VALUES ('split-brain')",
                                 err, sizeof err),
                         VS_OK);
    assert_non_null(strstr(err, "read-only"));
    mysql_close(db);

    assert_int_equal(ff_stack("up"), 0);
    assert_int_equal(ff_stack("status"), 0);
    db = connect_port(primary_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 1);
    {
        MYSQL *np = connect_port(replica_port);
        char pos[256];

        assert_int_equal(
            db_query_text(np, "SELECT @@gtid_binlog_pos", pos, sizeof pos, err, sizeof err), VS_OK);
        assert_int_equal(ts_db_int(db, "SELECT MASTER_GTID_WAIT('%s', 30)", pos), 0);
        mysql_close(np);
    }
    assert_int_equal(acks_recorded(db), ff_acks_total());
    bh_digest(db, digest, sizeof digest);
    assert_string_equal(digest, settled_digest);
    mysql_close(db);

    /* and Plays go on, now acknowledged by the rejoined replica */
    sf_free(sf_play(&ff.viewer, ff.videos[1], NULL));
}

/* After the tests above (the server "replica" is the primary, "primary" its replica): a failover
 * while the primary still answers (a planned switchover) moves the role back under Play load. The
 * old primary is made read-only and the replica applies all it has first, so nothing acknowledged
 * is lost; vsd's sessions on it are closed, so its connections move to the new primary. */
static void test_switchover_with_a_live_primary_loses_nothing(void **state)
{
    unsigned primary_port, replica_port;
    char err[256];
    int64_t t_fo, t_fo_done, worst;
    MYSQL *db;

    server_ports(&primary_port, &replica_port);
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0); /* the first test's outcome */
    mysql_close(db);

    start_load();
    usleep(1000 * 1000);
    worst = failover_under_load(&t_fo, &t_fo_done, 500);
    fprintf(stderr,
            "switchover: the command took %lld ms; every loader's Plays resumed within %lld ms of "
            "its start; %d Play calls failed meanwhile (first: %s); %d stats reads, %d failed\n",
            (long long)(t_fo_done - t_fo), (long long)worst, ff_load_failures(),
            ff.loaders[0].first_failure, reader.calls, reader.failures);
    assert_true(worst <= FAILOVER_BOUND_MS);
    assert_int_equal(reader.failures, 0);

    db = connect_port(primary_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0);
    assert_int_equal(acks_recorded(db), ff_acks_total());
    mysql_close(db);
    /* the demoted server replicates from the new primary and refuses writes */
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 1);
    assert_int_not_equal(db_exec(db, "INSERT INTO replication_probe (token) VALUES ('split-brain')",
                                 err, sizeof err),
                         VS_OK);
    mysql_close(db);
    assert_int_equal(ff_stack("status"), 0);
}

int main(void)
{
    /* in this order: each starts from the topology the one before leaves */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_under_play_load_loses_no_acknowledged_play),
        cmocka_unit_test(test_settlement_after_failover_equals_a_fault_free_run),
        cmocka_unit_test(test_old_primary_comes_back_read_only_and_rejoins),
        cmocka_unit_test(test_switchover_with_a_live_primary_loses_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
