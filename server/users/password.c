/* password.c — argon2id hashing behind a bounded semaphore. */
#include "password.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

/* Set by password_init before serving; the semaphore state is guarded by password_lock. */
static struct {
    unsigned long long opslimit;
    size_t memlimit;
    int64_t concurrency, queue, wait_ms;
    char dummy[PASSWORD_HASH_MAX];
} password_cfg;

static pthread_mutex_t password_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t password_cond;
static int password_running, password_waiting;

vs_status password_init(char *err, size_t errlen)
{
    int64_t ops, mem;
    unsigned char random_pw[32];
    const char *weak = config_get("VS_PWHASH_INSECURE_TEST_PARAMS", "0");
    pthread_condattr_t attr;
    vs_status rc;

    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return VS_INTERNAL;
    }
    if ((rc = config_get_int("VS_PWHASH_OPSLIMIT", (int64_t)PASSWORD_DEFAULT_OPSLIMIT,
                             crypto_pwhash_argon2id_OPSLIMIT_MIN, 64, &ops, err, errlen)) !=
            VS_OK ||
        (rc = config_get_int("VS_PWHASH_MEMLIMIT", (int64_t)PASSWORD_DEFAULT_MEMLIMIT,
                             crypto_pwhash_argon2id_MEMLIMIT_MIN, (int64_t)4 << 30, &mem, err,
                             errlen)) != VS_OK ||
        (rc = config_get_int("VS_HASH_CONCURRENCY", 2, 1, 256, &password_cfg.concurrency, err,
                             errlen)) != VS_OK ||
        (rc = config_get_int("VS_HASH_QUEUE", 8, 0, 4096, &password_cfg.queue, err, errlen)) !=
            VS_OK ||
        (rc = config_get_int("VS_HASH_WAIT_MS", 5000, 1, 600000, &password_cfg.wait_ms, err,
                             errlen)) != VS_OK)
        return rc;
    if ((uint64_t)ops < PASSWORD_MIN_OPSLIMIT || (size_t)mem < PASSWORD_MIN_MEMLIMIT) {
        if (strcmp(weak, "1") != 0) {
            snprintf(err, errlen,
                     "password hashing below the minimum (t=%lld m=%lld; need t>=%llu, m>=%zu "
                     "bytes): raise VS_PWHASH_OPSLIMIT/VS_PWHASH_MEMLIMIT",
                     (long long)ops, (long long)mem, PASSWORD_MIN_OPSLIMIT, PASSWORD_MIN_MEMLIMIT);
            return VS_FAILED_PRECONDITION;
        }
        log_warn("INSECURE: password hashing at t=%lld m=%lld bytes (test parameters)",
                 (long long)ops, (long long)mem);
    }
    password_cfg.opslimit = (unsigned long long)ops;
    password_cfg.memlimit = (size_t)mem;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&password_cond, &attr);
    pthread_condattr_destroy(&attr);
    randombytes_buf(random_pw, sizeof random_pw);
    if (crypto_pwhash_str_alg(password_cfg.dummy, (const char *)random_pw, sizeof random_pw,
                              password_cfg.opslimit, password_cfg.memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        snprintf(err, errlen, "cannot hash with m=%zu bytes: out of memory", password_cfg.memlimit);
        return VS_RESOURCE_EXHAUSTED;
    }
    log_info("passwords: argon2id t=%llu m=%zu KiB p=1, %lld at once, %lld may wait",
             password_cfg.opslimit, password_cfg.memlimit >> 10,
             (long long)password_cfg.concurrency, (long long)password_cfg.queue);
    return VS_OK;
}

/* The real wall clock: call deadlines are the client's real time, never the test-offset clock. */
static int64_t password_real_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes a hashing slot, waiting at most until the earlier of VS_HASH_WAIT_MS from now and the
 * call's deadline. VS_UNAVAILABLE when none came free (or too many already wait). */
static vs_status password_acquire(int64_t deadline_unix_ms)
{
    int64_t wait_ms = password_cfg.wait_ms;
    struct timespec until;
    vs_status rc = VS_OK;

    if (deadline_unix_ms > 0 && deadline_unix_ms - password_real_now_ms() < wait_ms)
        wait_ms = deadline_unix_ms - password_real_now_ms();
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&password_lock);
    if (password_running >= password_cfg.concurrency) {
        if (password_waiting >= password_cfg.queue || wait_ms <= 0) {
            rc = VS_UNAVAILABLE;
            goto out;
        }
        password_waiting++;
        while (password_running >= password_cfg.concurrency && rc == VS_OK)
            if (pthread_cond_timedwait(&password_cond, &password_lock, &until) == ETIMEDOUT)
                rc = VS_UNAVAILABLE;
        password_waiting--;
        if (rc != VS_OK && password_running < password_cfg.concurrency)
            rc = VS_OK; /* freed just as the wait timed out */
        if (rc != VS_OK)
            goto out;
    }
    password_running++;
out:
    pthread_mutex_unlock(&password_lock);
    return rc;
}

static void password_release(void)
{
    pthread_mutex_lock(&password_lock);
    password_running--;
    pthread_cond_signal(&password_cond);
    pthread_mutex_unlock(&password_lock);
}

vs_status password_hash(const char *password, size_t len, int64_t deadline_unix_ms,
                        char out[PASSWORD_HASH_MAX])
{
    int rv;

    if (password_acquire(deadline_unix_ms) != VS_OK)
        return VS_UNAVAILABLE;
    rv = crypto_pwhash_str_alg(out, password, len, password_cfg.opslimit, password_cfg.memlimit,
                               crypto_pwhash_ALG_ARGON2ID13);
    password_release();
    return rv == 0 ? VS_OK : VS_RESOURCE_EXHAUSTED;
}

vs_status password_verify(const char *stored, const char *password, size_t len,
                          int64_t deadline_unix_ms, int *match)
{
    int rv;

    *match = 0;
    if (password_acquire(deadline_unix_ms) != VS_OK)
        return VS_UNAVAILABLE;
    rv = crypto_pwhash_str_verify(stored ? stored : password_cfg.dummy, password, len);
    password_release();
    *match = stored != NULL && rv == 0;
    return VS_OK;
}
