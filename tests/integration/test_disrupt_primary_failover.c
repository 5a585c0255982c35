/* test_disrupt_primary_failover.c — losing the MariaDB primary is a short interruption, and nothing
 * acknowledged is lost: under Play load the primary is killed (SIGKILL) and `tools/stack failover`
 * promotes the replica. vsd is not restarted: its connections follow the stack's primary file
 * (VS_DB_PRIMARY_FILE) when they reconnect.
 *
 * Checked: every Play acknowledged before, during and after is a play_log row on the new primary
 * (semi-synchronous replication: a commit is acknowledged once the replica has it); Plays resume
 * within FAILOVER_BOUND_MS of the failover command's start; stats reads answer throughout; the old
 * primary started again with its own my.cnf refuses writes (read_only), and `tools/stack up` makes
 * it a replica of the new primary holding every acknowledged Play too. Then a failover while the
 * primary still answers (a planned switchover) moves the role back under the same load, again
 * losing nothing.
 *
 * It changes the topology, so it runs on a stack of its own (<VS_TEST_HOME>-failover), and kills
 * processes, so it runs serially. */
#include <pthread.h>
#include <signal.h>
#include <vs/stats.h>
#include <vs/user.h>

#include "streaming_fixture.h"

#define LOADERS 4
#define VIDEOS 16
#define MAX_ACKS 60000
/* from the failover command's start to every loader's first acknowledged Play after it */
#define FAILOVER_BOUND_MS 10000

static char home[512], shared_home[512];
static sf_user creator, viewer;
static uint64_t videos[VIDEOS];

typedef struct loader {
    pthread_t thread;
    vs_client *client;
    int id, n_acks, failures;
    char (*acks)[40];
    int64_t *ack_ms;
    char first_failure[640];
} loader;

static loader loaders[LOADERS];
static volatile int stop_load, phase, loading;
static struct {
    pthread_t thread;
    int calls, failures;
    char first_failure[640];
} reader;

static void *load(void *arg)
{
    loader *l = arg;

    for (int n = 0; !stop_load && l->n_acks < MAX_ACKS; n++) {
        Vs__V1__PlayResponse *r = NULL;
        vs_call_status st = {0};
        char event[40];

        snprintf(event, sizeof event, "fo-%d-%d-%d-%d", (int)getpid(), phase, l->id, n);
        if (vs_play(l->client, videos[n % VIDEOS], event, &r, &st) == VS_OK) {
            snprintf(l->acks[l->n_acks], sizeof l->acks[0], "%s", event);
            l->ack_ms[l->n_acks++] = ts_mono_ms();
            sf_free(r);
        } else {
            if (l->failures++ == 0)
                snprintf(l->first_failure, sizeof l->first_failure, "%s %s",
                         vs_status_name(st.code), st.message);
            usleep(5000);
        }
    }
    return NULL;
}

/* Stats reads, which vsd routes to the replica or the primary, whichever is fresh and answers. */
static void *read_stats(void *arg)
{
    (void)arg;
    while (!stop_load) {
        Vs__V1__VideoStats *s = NULL;
        vs_call_status st = {0};

        if (vs_video_stats(creator.client, videos[0], VS__V1__PERIOD__WEEK, "1999-06-01", &s,
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
    static const char *const env[] = {"VS_THREADS=4", NULL};
    const char *shared = getenv("VS_TEST_HOME");
    vs_call_status st;

    if (shared == NULL)
        return -1;
    snprintf(shared_home, sizeof shared_home, "%s", shared);
    snprintf(home, sizeof home, "%s-failover", shared);
    if (ts_sh("VS_HOME='%s' %s/tools/stack down --purge >/dev/null 2>&1; VS_HOME='%s' "
              "VS_PORT_BASE=auto VS_DB_BUFFER_POOL=128M VS_DB_LOG_FILE_SIZE=48M "
              "%s/tools/stack up >'%s.log' 2>&1",
              home, VS_SOURCE_DIR, home, VS_SOURCE_DIR, home) != 0) {
        fprintf(stderr, "the failover stack did not start: see %s.log\n", home);
        return -1;
    }
    setenv("VS_TEST_HOME", home, 1);
    if (sf_setup("failover", env) != 0)
        return -1;
    creator = sf_new_user("creator");
    viewer = sf_new_user("viewer");
    for (int i = 0; i < VIDEOS; i++)
        videos[i] = sf_video(&creator, 3600);
    for (int t = 0; t < LOADERS; t++) {
        loaders[t].id = t;
        loaders[t].client = ts_client(sf.url, 20000);
        loaders[t].acks = calloc(MAX_ACKS, sizeof loaders[t].acks[0]);
        loaders[t].ack_ms = calloc(MAX_ACKS, sizeof loaders[t].ack_ms[0]);
        if (loaders[t].acks == NULL || loaders[t].ack_ms == NULL ||
            vs_user_login(loaders[t].client, viewer.email, "streaming-test-password-1", NULL, NULL,
                          NULL, &st) != VS_OK)
            return -1;
    }
    return 0;
}

static void finish_load(void);

static int teardown(void **state)
{
    finish_load();
    sf_teardown(state);
    for (int t = 0; t < LOADERS; t++) {
        vs_client_close(loaders[t].client);
        free(loaders[t].acks);
        free(loaders[t].ack_ms);
    }
    sf_free_user(&creator);
    sf_free_user(&viewer);
    ts_sh("VS_HOME='%s' %s/tools/stack down --purge >/dev/null 2>&1", home, VS_SOURCE_DIR);
    setenv("VS_TEST_HOME", shared_home, 1);
    return 0;
}

static int acks_total(void)
{
    int n = 0;

    for (int t = 0; t < LOADERS; t++)
        n += __atomic_load_n(&loaders[t].n_acks, __ATOMIC_RELAXED);
    return n;
}

/* How many of the acknowledged event ids are play_log rows on db. */
static int64_t acks_recorded(MYSQL *db)
{
    static char sql[100000];
    char err[256];
    int64_t found = 0, count;

    for (int t = 0; t < LOADERS; t++) {
        for (int i = 0; i < loaders[t].n_acks;) {
            size_t n = (size_t)snprintf(sql, sizeof sql,
                                        "SELECT COUNT(*) FROM play_log WHERE event_id IN (");
            for (int k = 0; k < 2000 && i < loaders[t].n_acks; k++, i++)
                n += (size_t)snprintf(sql + n, sizeof sql - n, "%s'%s'", k ? "," : "",
                                      loaders[t].acks[i]);
            snprintf(sql + n, sizeof sql - n, ")");
            assert_int_equal(db_query_int(db, sql, &count, err, sizeof err), VS_OK);
            found += count;
        }
    }
    return found;
}

/* A connection to one server of the failover stack by its port (the URL of VS_DB_PRIMARY with
 * the port replaced), not redirected by the primary file. */
static MYSQL *connect_port(unsigned port)
{
    char url[600], err[256];
    const char *primary = getenv("VS_DB_PRIMARY");
    const char *at = strrchr(primary, '@'), *slash = strchr(at, '/');
    MYSQL *db = NULL;

    snprintf(url, sizeof url, "%.*s127.0.0.1:%u%s", (int)(at + 1 - primary), primary, port, slash);
    assert_int_equal(db_connect(url, 5, &db, err, sizeof err), VS_OK);
    return db;
}

static void finish_load(void)
{
    if (!loading)
        return;
    stop_load = 1;
    for (int t = 0; t < LOADERS; t++)
        pthread_join(loaders[t].thread, NULL);
    pthread_join(reader.thread, NULL);
    loading = 0;
}

/* Starts the loaders and the reader; those of a test that failed half-way are stopped first. */
static void start_load(void)
{
    finish_load();
    loading = 1;
    stop_load = 0;
    phase++;
    reader.calls = reader.failures = 0;
    for (int t = 0; t < LOADERS; t++) {
        loaders[t].failures = 0;
        assert_int_equal(pthread_create(&loaders[t].thread, NULL, load, &loaders[t]), 0);
    }
    assert_int_equal(pthread_create(&reader.thread, NULL, read_stats, NULL), 0);
}

static int load_failures(void)
{
    int n = 0;

    for (int t = 0; t < LOADERS; t++)
        n += loaders[t].failures;
    return n;
}

/* The longest time from t_start until a loader's first Play acknowledged after t_done (waits for
 * every loader, at most FAILOVER_BOUND_MS + 5 s from t_start; fails when one gets none). */
static int64_t wait_resumed(int64_t t_start, int64_t t_done)
{
    int64_t worst = 0;

    for (int t = 0; t < LOADERS; t++) {
        int64_t first = 0;

        while (first == 0 && ts_mono_ms() - t_start < FAILOVER_BOUND_MS + 5000) {
            int n = __atomic_load_n(&loaders[t].n_acks, __ATOMIC_RELAXED);

            for (int i = n - 1; i >= 0 && loaders[t].ack_ms[i] >= t_done; i--)
                first = loaders[t].ack_ms[i];
            if (first == 0)
                usleep(20000);
        }
        assert_true(first > 0);
        if (first - t_start > worst)
            worst = first - t_start;
    }
    return worst;
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

static void test_failover_under_play_load_loses_no_acknowledged_play(void **state)
{
    unsigned primary_port, replica_port;
    db_url u;
    char err[256];
    int64_t t_kill, t_fo, t_fo_done, worst;
    int before, during;
    int64_t yes, no;
    pid_t old;
    MYSQL *db;

    assert_int_equal(db_url_parse(getenv("VS_DB_PRIMARY"), &u, err, sizeof err), VS_OK);
    primary_port = u.port;
    assert_int_equal(db_url_parse(getenv("VS_DB_REPLICA"), &u, err, sizeof err), VS_OK);
    replica_port = u.port;
    /* from here on this process talks to servers by their port */
    unsetenv("VS_DB_PRIMARY_FILE");

    db = connect_port(primary_port);
    yes = semisync_count(db, "YES_TX");
    no = semisync_count(db, "NO_TX");
    start_load();
    usleep(1500 * 1000);
    before = acks_total();
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
    during = acks_total();

    t_fo = ts_mono_ms();
    assert_int_equal(
        ts_sh("VS_HOME='%s' %s/tools/stack failover >>'%s.log' 2>&1", home, VS_SOURCE_DIR, home),
        0);
    t_fo_done = ts_mono_ms();
    /* every loader gets Plays through again */
    worst = wait_resumed(t_fo, t_fo_done);
    usleep(1000 * 1000);
    finish_load();

    fprintf(stderr,
            "failover: %d Plays acknowledged before the kill, %d after; the failover command "
            "took %lld ms (started %lld ms after the kill); every loader's Plays resumed within "
            "%lld ms of its start; %d Play calls failed meanwhile (first: %s); %d stats reads, %d "
            "failed%s%s\n",
            before, acks_total() - during, (long long)(t_fo_done - t_fo),
            (long long)(t_fo - t_kill), (long long)worst, load_failures(), loaders[0].first_failure,
            reader.calls, reader.failures, reader.failures ? ": " : "", reader.first_failure);
    assert_true(before > 100);
    assert_true(acks_total() > during);
    assert_true(worst <= FAILOVER_BOUND_MS);
    assert_int_equal(reader.failures, 0);

    /* the new primary: writable, and holds every acknowledged Play */
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0);
    assert_int_equal(acks_recorded(db), acks_total());
    mysql_close(db);

    /* the old primary started again from its my.cnf (as anything restarting it would): read_only */
    assert_int_equal(ts_sh("setsid mariadbd --defaults-file='%s/primary/my.cnf' </dev/null "
                           ">/dev/null 2>&1 & for i in $(seq 300); do mariadb-admin --no-defaults "
                           "-h127.0.0.1 -P%u -uroot ping 2>&1 | grep -q 'Access denied\\|alive' "
                           "&& exit 0; sleep 0.1; done; exit 1",
                           home, primary_port),
                     0);
    db = connect_port(primary_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 1);
    assert_int_not_equal(db_exec(db, "INSERT INTO replication_probe (token) VALUES ('split-brain')",
                                 err, sizeof err),
                         VS_OK);
    assert_non_null(strstr(err, "read-only"));
    mysql_close(db);

    /* tools/stack up makes it a replica of the new primary, with every acknowledged Play */
    assert_int_equal(
        ts_sh("VS_HOME='%s' %s/tools/stack up >>'%s.log' 2>&1", home, VS_SOURCE_DIR, home), 0);
    assert_int_equal(
        ts_sh("VS_HOME='%s' %s/tools/stack status >>'%s.log' 2>&1", home, VS_SOURCE_DIR, home), 0);
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
    assert_int_equal(acks_recorded(db), acks_total());
    mysql_close(db);

    /* and Plays go on, now acknowledged by the rejoined replica */
    sf_free(sf_play(&viewer, videos[1], NULL));
}

/* After the test above (the server "replica" is the primary, "primary" its replica): a failover
 * while the primary still answers (a planned switchover) moves the role back under Play load. The
 * old primary is made read-only and the replica applies all it has first, so nothing acknowledged
 * is lost; vsd's sessions on it are closed, so its connections move to the new primary. */
static void test_switchover_with_a_live_primary_loses_nothing(void **state)
{
    unsigned primary_port, replica_port;
    db_url u;
    char err[256];
    int64_t t_fo, t_fo_done, worst;
    MYSQL *db;

    assert_int_equal(db_url_parse(getenv("VS_DB_PRIMARY"), &u, err, sizeof err), VS_OK);
    primary_port = u.port;
    assert_int_equal(db_url_parse(getenv("VS_DB_REPLICA"), &u, err, sizeof err), VS_OK);
    replica_port = u.port;
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0); /* the first test's outcome */
    mysql_close(db);

    start_load();
    usleep(1000 * 1000);
    t_fo = ts_mono_ms();
    assert_int_equal(
        ts_sh("VS_HOME='%s' %s/tools/stack failover >>'%s.log' 2>&1", home, VS_SOURCE_DIR, home),
        0);
    t_fo_done = ts_mono_ms();
    worst = wait_resumed(t_fo, t_fo_done);
    usleep(500 * 1000);
    finish_load();
    fprintf(stderr,
            "switchover: the command took %lld ms; every loader's Plays resumed within %lld ms of "
            "its start; %d Play calls failed meanwhile (first: %s); %d stats reads, %d failed\n",
            (long long)(t_fo_done - t_fo), (long long)worst, load_failures(),
            loaders[0].first_failure, reader.calls, reader.failures);
    assert_true(worst <= FAILOVER_BOUND_MS);
    assert_int_equal(reader.failures, 0);

    db = connect_port(primary_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 0);
    assert_int_equal(acks_recorded(db), acks_total());
    mysql_close(db);
    /* the demoted server replicates from the new primary and refuses writes */
    db = connect_port(replica_port);
    assert_int_equal(ts_db_int(db, "SELECT @@global.read_only"), 1);
    assert_int_not_equal(db_exec(db, "INSERT INTO replication_probe (token) VALUES ('split-brain')",
                                 err, sizeof err),
                         VS_OK);
    mysql_close(db);
    assert_int_equal(
        ts_sh("VS_HOME='%s' %s/tools/stack status >>'%s.log' 2>&1", home, VS_SOURCE_DIR, home), 0);
}

int main(void)
{
    /* in this order: the second starts from the topology the first leaves */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_under_play_load_loses_no_acknowledged_play),
        cmocka_unit_test(test_switchover_with_a_live_primary_loses_nothing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
