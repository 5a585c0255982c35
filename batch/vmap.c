/* vmap.c — open addressing with linear probing; video ids hashed with a 64-bit mix. */
#include "vmap.h"

#include <stdlib.h>
#include <string.h>

static size_t vmap_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    return (size_t)key;
}

vs_status vmap_init(vmap *m, size_t expected, size_t max_entries)
{
    size_t cap = 1024;

    memset(m, 0, sizeof *m);
    while (cap < expected * 2)
        cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (m->slots == NULL)
        return VS_RESOURCE_EXHAUSTED;
    m->capacity = cap;
    m->max_entries = max_entries;
    return VS_OK;
}

/* Doubles the table; keeps the load factor at or below 1/2. */
static int vmap_grow(vmap *m)
{
    size_t cap = m->capacity * 2;
    vmap_entry *slots = calloc(cap, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < m->capacity; i++) {
        size_t j;

        if (m->slots[i].video_id == 0)
            continue;
        for (j = vmap_hash(m->slots[i].video_id) & (cap - 1); slots[j].video_id != 0;
             j = (j + 1) & (cap - 1))
            ;
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->capacity = cap;
    return 0;
}

vmap_entry *vmap_upsert(vmap *m, uint64_t video_id)
{
    size_t mask = m->capacity - 1, i;

    for (i = vmap_hash(video_id) & mask; m->slots[i].video_id != 0; i = (i + 1) & mask) {
        if (m->slots[i].video_id == video_id)
            return &m->slots[i];
    }
    if (m->max_entries != 0 && m->count >= m->max_entries)
        return NULL;
    if ((m->count + 1) * 2 > m->capacity) {
        if (vmap_grow(m) != 0)
            return NULL;
        return vmap_upsert(m, video_id);
    }
    m->slots[i].video_id = video_id;
    m->count++;
    return &m->slots[i];
}

vmap_entry *vmap_find(const vmap *m, uint64_t video_id)
{
    size_t mask = m->capacity - 1;

    for (size_t i = vmap_hash(video_id) & mask; m->slots[i].video_id != 0; i = (i + 1) & mask) {
        if (m->slots[i].video_id == video_id)
            return &m->slots[i];
    }
    return NULL;
}

void vmap_clear(vmap *m)
{
    memset(m->slots, 0, m->capacity * sizeof *m->slots);
    m->count = 0;
}

static int vmap_cmp(const void *a, const void *b)
{
    uint64_t x = ((const vmap_entry *)a)->video_id, y = ((const vmap_entry *)b)->video_id;

    return x < y ? -1 : x > y;
}

vmap_entry *vmap_sorted(vmap *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->capacity; i++) {
        if (m->slots[i].video_id != 0)
            m->slots[n++] = m->slots[i];
    }
    qsort(m->slots, n, sizeof *m->slots, vmap_cmp);
    /* the rest of the array must read as empty for vmap_clear's callers; zero it now */
    memset(m->slots + n, 0, (m->capacity - n) * sizeof *m->slots);
    return m->slots;
}

void vmap_free(vmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
