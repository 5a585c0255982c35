/* read_cache.c — global top-N lists, cached process-wide under their period's settlement
 * signature. A list changes only when one of its period's days completes (again), which changes
 * the signature, so an entry is either exactly right for the signature asked or not used. Lists
 * are immutable and reference-counted: a reader keeps using its copy while a newer one replaces
 * it. A key may live in any of CACHE_WAYS consecutive slots; when all are taken by other keys, the
 * first is replaced. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reads.h"

#define CACHE_SLOTS 1024
#define CACHE_WAYS 4

struct read_top_list {
    atomic_int refs;
    int kind, metric;
    business_date start;
    uint64_t mask, signature;
    size_t n;
    read_top_entry *entries; /* titles point into the same allocation */
};

static struct {
    pthread_mutex_t lock;
    read_top_list *slots[CACHE_SLOTS];
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t cache_slot(int kind, business_date start, int metric)
{
    uint64_t h = (uint64_t)(uint32_t)start * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)kind * 131 +
                 (uint64_t)metric;

    return (size_t)((h ^ (h >> 29)) % CACHE_SLOTS);
}

void read_top_put(read_top_list *list)
{
    if (list != NULL && atomic_fetch_sub(&list->refs, 1) == 1)
        free(list);
}

static int cache_matches(const read_top_list *l, int kind, business_date start, int metric)
{
    return l != NULL && l->kind == kind && l->start == start && l->metric == metric;
}

read_top_list *read_top_get(int kind, business_date start, int metric, const read_settled *s,
                            const read_top_entry **entries, size_t *n)
{
    size_t slot = cache_slot(kind, start, metric);
    read_top_list *l = NULL;

    if (!s->from_snapshot)
        return NULL;
    pthread_mutex_lock(&cache.lock);
    for (size_t w = 0; w < CACHE_WAYS && l == NULL; w++) {
        read_top_list *c = cache.slots[(slot + w) % CACHE_SLOTS];

        if (cache_matches(c, kind, start, metric) && c->mask == s->mask &&
            c->signature == s->signature) {
            atomic_fetch_add(&c->refs, 1);
            l = c;
        }
    }
    pthread_mutex_unlock(&cache.lock);
    if (l != NULL) {
        *entries = l->entries;
        *n = l->n;
    }
    return l;
}

void read_top_store(int kind, business_date start, int metric, const read_settled *s,
                    const read_top_entry *entries, size_t n)
{
    size_t slot = cache_slot(kind, start, metric), titles = 0;
    read_top_list *l, *old;
    char *text;

    if (!s->from_snapshot)
        return;
    for (size_t i = 0; i < n; i++)
        titles += strlen(entries[i].title) + 1;
    /* one allocation: header, entries, titles */
    if ((l = malloc(sizeof *l + n * sizeof *entries + titles)) == NULL)
        return;
    atomic_init(&l->refs, 1);
    l->kind = kind;
    l->start = start;
    l->metric = metric;
    l->mask = s->mask;
    l->signature = s->signature;
    l->n = n;
    l->entries = (read_top_entry *)(l + 1);
    text = (char *)(l->entries + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(entries[i].title) + 1;

        l->entries[i] = entries[i];
        memcpy(text, entries[i].title, len);
        l->entries[i].title = text;
        text += len;
    }
    pthread_mutex_lock(&cache.lock);
    /* the key's own slot (an older signature), else a free one, else the first */
    for (size_t w = 0; w < CACHE_WAYS; w++) {
        if (cache_matches(cache.slots[(slot + w) % CACHE_SLOTS], kind, start, metric)) {
            slot = (slot + w) % CACHE_SLOTS;
            break;
        }
        if (cache.slots[(slot + w) % CACHE_SLOTS] == NULL) {
            slot = (slot + w) % CACHE_SLOTS;
            break;
        }
    }
    old = cache.slots[slot];
    cache.slots[slot] = l;
    pthread_mutex_unlock(&cache.lock);
    read_top_put(old);
}

void read_cache_fini(void)
{
    pthread_mutex_lock(&cache.lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        read_top_put(cache.slots[i]);
        cache.slots[i] = NULL;
    }
    pthread_mutex_unlock(&cache.lock);
}
