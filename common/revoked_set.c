/* revoked_set.c — open-addressing hash set of jtis under a read-write lock. Linear probing, no
 * tombstones: pruning rebuilds the table, which is rare (the caller prunes now and then). */
#include "revoked_set.h"

#include <pthread.h>
#include <stdlib.h>

#include "token.h"

#define REVOKED_SET_MIN_CAP 64

typedef struct revoked_entry {
    uint64_t hi, lo;
    int64_t exp_unix; /* 0: empty slot */
} revoked_entry;

struct revoked_set {
    pthread_rwlock_t lock;
    revoked_entry *slots;
    size_t cap; /* a power of two */
    size_t count;
};

/* Parses TOKEN_JTI_LEN lowercase hex digits into two halves; 0 when jti is anything else. */
static int revoked_parse(const char *jti, uint64_t *hi, uint64_t *lo)
{
    uint64_t half[2] = {0, 0};
    int i;

    if (jti == NULL)
        return 0;
    for (i = 0; i < TOKEN_JTI_LEN; i++) {
        char c = jti[i];
        unsigned v;

        if (c >= '0' && c <= '9')
            v = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = (unsigned)(c - 'a' + 10);
        else
            return 0;
        half[i / 16] = half[i / 16] << 4 | v;
    }
    if (jti[i] != '\0')
        return 0;
    *hi = half[0];
    *lo = half[1];
    return 1;
}

/* jtis are random, but anyone who can PUBLISH to Redis can choose them: mix all 128 bits. */
static size_t revoked_hash(uint64_t hi, uint64_t lo)
{
    uint64_t x = hi ^ (lo * 0x9e3779b97f4a7c15ULL);

    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

/* The slot holding (hi, lo), or the empty slot where it would go. cap must exceed count. */
static revoked_entry *revoked_slot(revoked_entry *slots, size_t cap, uint64_t hi, uint64_t lo)
{
    size_t i = revoked_hash(hi, lo) & (cap - 1);

    while (slots[i].exp_unix != 0 && (slots[i].hi != hi || slots[i].lo != lo))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* Moves the entries of s with exp_unix >= keep_from into a fresh table of cap slots. */
static vs_status revoked_rehash(revoked_set *s, size_t cap, int64_t keep_from)
{
    revoked_entry *fresh = calloc(cap, sizeof *fresh);
    size_t count = 0;

    if (fresh == NULL)
        return VS_RESOURCE_EXHAUSTED;
    for (size_t i = 0; i < s->cap; i++) {
        const revoked_entry *e = &s->slots[i];
        if (e->exp_unix == 0 || e->exp_unix < keep_from)
            continue;
        *revoked_slot(fresh, cap, e->hi, e->lo) = *e;
        count++;
    }
    free(s->slots);
    s->slots = fresh;
    s->cap = cap;
    s->count = count;
    return VS_OK;
}

vs_status revoked_set_new(revoked_set **out)
{
    revoked_set *s = calloc(1, sizeof *s);
    pthread_rwlockattr_t attr;
    int failed;

    *out = NULL;
    if (s == NULL)
        return VS_RESOURCE_EXHAUSTED;
    /* lookups come from every request thread; prefer the rare writer so that a stream of
     * overlapping readers cannot hold a revocation out of the set */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    s->slots = calloc(REVOKED_SET_MIN_CAP, sizeof *s->slots);
    failed = s->slots == NULL || pthread_rwlock_init(&s->lock, &attr) != 0;
    pthread_rwlockattr_destroy(&attr);
    if (failed) {
        free(s->slots);
        free(s);
        return VS_RESOURCE_EXHAUSTED;
    }
    s->cap = REVOKED_SET_MIN_CAP;
    *out = s;
    return VS_OK;
}

void revoked_set_free(revoked_set *s)
{
    if (s == NULL)
        return;
    pthread_rwlock_destroy(&s->lock);
    free(s->slots);
    free(s);
}

vs_status revoked_set_add(revoked_set *s, const char *jti, int64_t exp_unix)
{
    uint64_t hi, lo;
    revoked_entry *e;
    vs_status rc = VS_OK;

    if (!revoked_parse(jti, &hi, &lo) || exp_unix <= 0)
        return VS_INVALID_ARGUMENT;
    pthread_rwlock_wrlock(&s->lock);
    /* keep the table at most half full so probes stay short and an empty slot always exists */
    if ((s->count + 1) * 2 > s->cap && (rc = revoked_rehash(s, s->cap * 2, INT64_MIN)) != VS_OK)
        goto out;
    e = revoked_slot(s->slots, s->cap, hi, lo);
    if (e->exp_unix == 0) {
        e->hi = hi;
        e->lo = lo;
        e->exp_unix = exp_unix;
        s->count++;
    } else if (e->exp_unix < exp_unix) {
        e->exp_unix = exp_unix;
    }
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int revoked_set_contains(revoked_set *s, const char *jti)
{
    uint64_t hi, lo;
    int found;

    if (!revoked_parse(jti, &hi, &lo))
        return 0;
    pthread_rwlock_rdlock(&s->lock);
    found = revoked_slot(s->slots, s->cap, hi, lo)->exp_unix != 0;
    pthread_rwlock_unlock(&s->lock);
    return found;
}

size_t revoked_set_prune(revoked_set *s, int64_t before_unix)
{
    size_t expired = 0, cap;

    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].exp_unix != 0 && s->slots[i].exp_unix < before_unix)
            expired++;
    if (expired == 0)
        goto out;
    /* shrink to the smallest power of two that keeps the survivors at most a quarter full */
    for (cap = REVOKED_SET_MIN_CAP; cap < (s->count - expired) * 4; cap *= 2)
        ;
    if (revoked_rehash(s, cap, before_unix) != VS_OK)
        expired = 0; /* out of memory: keep the expired entries, they are harmless */
out:
    pthread_rwlock_unlock(&s->lock);
    return expired;
}

size_t revoked_set_count(revoked_set *s)
{
    size_t n;

    pthread_rwlock_rdlock(&s->lock);
    n = s->count;
    pthread_rwlock_unlock(&s->lock);
    return n;
}
