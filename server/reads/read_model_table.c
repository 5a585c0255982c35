/* read_model_table.c — the read model's in-memory tables (read_model_table.h): building the
 * videos table, its id and creator orders, the lookups over it and over a day's rows, and the
 * reference counts that free them. */
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "read_model_table.h"

/* ---- reference counts ---- */

static void videos_free(model_videos *v)
{
    free(v->id);
    free(v->creator);
    free(v->title_off);
    free(v->by_id);
    free(v->by_creator);
    free(v->titles);
    free(v);
}

void model_videos_put(model_videos *v)
{
    if (v != NULL && atomic_fetch_sub(&v->refs, 1) == 1)
        videos_free(v);
}

void model_day_put(model_day *d)
{
    if (d != NULL && atomic_fetch_sub(&d->refs, 1) == 1) {
        free(d->index);
        free(d->rows);
        free(d);
    }
}

/* ---- building the videos table ---- */

/* Room for one more video and len + 1 title bytes. */
static vs_status videos_reserve(model_videos_build *b, size_t len)
{
    model_videos *v = b->v;

    if (v->n == b->cap) {
        /* three arrays of one capacity; dense indexes and title offsets are 32-bit */
        size_t cap;
        uint64_t *id, *creator;
        uint32_t *off;

        if (grow_capacity(b->cap, v->n + 1, 1024, UINT32_MAX, &cap) != VS_OK)
            return VS_RESOURCE_EXHAUSTED;
        id = realloc(v->id, cap * sizeof *id);
        creator = id ? realloc(v->creator, cap * sizeof *creator) : NULL;
        off = creator ? realloc(v->title_off, cap * sizeof *off) : NULL;
        if (id != NULL)
            v->id = id;
        if (creator != NULL)
            v->creator = creator;
        if (off == NULL)
            return VS_RESOURCE_EXHAUSTED;
        v->title_off = off;
        b->cap = cap;
    }
    return grow_array(&v->titles, &b->titles_cap, v->titles_len + len + 1, 1, 65536, UINT32_MAX);
}

vs_status model_videos_append(model_videos_build *b, uint64_t id, uint64_t creator,
                              const char *title, size_t len)
{
    model_videos *v = b->v;

    if (videos_reserve(b, len) != VS_OK)
        return VS_RESOURCE_EXHAUSTED;
    v->id[v->n] = id;
    v->creator[v->n] = creator;
    v->title_off[v->n] = (uint32_t)v->titles_len;
    memcpy(v->titles + v->titles_len, title, len);
    v->titles[v->titles_len + len] = '\0';
    v->titles_len += len + 1;
    v->n++;
    if (id > v->max_id)
        v->max_id = id;
    return VS_OK;
}

vs_status model_videos_begin(const model_videos *old, model_videos_build *b)
{
    memset(b, 0, sizeof *b);
    if ((b->v = calloc(1, sizeof *b->v)) == NULL)
        return VS_RESOURCE_EXHAUSTED;
    atomic_init(&b->v->refs, 1);
    for (size_t i = 0; old != NULL && i < old->n; i++) {
        const char *t = old->titles + old->title_off[i];

        if (model_videos_append(b, old->id[i], old->creator[i], t, strlen(t)) != VS_OK)
            return VS_RESOURCE_EXHAUSTED;
    }
    return VS_OK;
}

/* ---- the videos table's orders ---- */

static const model_videos *sort_videos; /* qsort has no context argument */

static int model_cmp_id(const void *a, const void *b)
{
    uint64_t x = sort_videos->id[*(const uint32_t *)a], y = sort_videos->id[*(const uint32_t *)b];

    return x < y ? -1 : x > y;
}

static int model_cmp_creator(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    uint64_t x = sort_videos->creator[i], y = sort_videos->creator[j];

    if (x != y)
        return x < y ? -1 : 1;
    return sort_videos->id[i] < sort_videos->id[j] ? -1 : sort_videos->id[i] > sort_videos->id[j];
}

/* Loader thread only (sort_videos is not thread-safe, and only the loader builds tables). */
vs_status model_videos_index(model_videos *v)
{
    uint32_t *by_id = realloc(v->by_id, (v->n ? v->n : 1) * sizeof *by_id);
    uint32_t *by_creator = by_id ? realloc(v->by_creator, (v->n ? v->n : 1) * sizeof *by_id) : NULL;

    if (by_id != NULL)
        v->by_id = by_id;
    if (by_creator == NULL)
        return VS_RESOURCE_EXHAUSTED;
    v->by_creator = by_creator;
    for (size_t i = 0; i < v->n; i++)
        v->by_id[i] = v->by_creator[i] = (uint32_t)i;
    sort_videos = v;
    qsort(v->by_id, v->n, sizeof *v->by_id, model_cmp_id);
    qsort(v->by_creator, v->n, sizeof *v->by_creator, model_cmp_creator);
    sort_videos = NULL;
    v->bytes = sizeof *v + v->n * (2 * sizeof(uint64_t) + 3 * sizeof(uint32_t)) + v->titles_len;
    return VS_OK;
}

/* ---- lookups ---- */

int64_t model_video_find(const model_videos *v, uint64_t id)
{
    size_t lo = 0, hi = v->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->id[v->by_id[mid]] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->id[v->by_id[lo]] == id ? (int64_t)v->by_id[lo] : -1;
}

void model_creator_range(const model_videos *v, uint64_t creator, size_t *first, size_t *end)
{
    size_t lo = 0, hi = v->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->creator[v->by_creator[mid]] < creator)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    while (lo < v->n && v->creator[v->by_creator[lo]] == creator)
        lo++;
    *end = lo;
}

const model_row *model_row_of(const model_day *d, uint32_t idx)
{
    return d != NULL && idx < d->n_index && d->index[idx] >= 0 ? &d->rows[d->index[idx]] : NULL;
}
