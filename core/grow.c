/* grow.c — bounded growth by doubling (grow.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

vs_status grow_capacity(size_t cap, size_t need, size_t first, size_t max, size_t *out)
{
    size_t want = cap ? cap : first ? first : 1;

    if (need > max)
        return VS_RESOURCE_EXHAUSTED;
    if (cap != 0 && need > cap)
        want = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    while (want < need)
        want = want > SIZE_MAX / 2 ? SIZE_MAX : want * 2;
    *out = want > max ? max : want;
    return VS_OK;
}

vs_status grow_array(void *items, size_t *cap, size_t need, size_t elem_size, size_t first,
                     size_t max)
{
    void *array, *grown;
    size_t want;

    if (need <= *cap)
        return VS_OK;
    if (elem_size != 0 && max > SIZE_MAX / elem_size)
        max = SIZE_MAX / elem_size;
    if (grow_capacity(*cap, need, first, max, &want) != VS_OK)
        return VS_RESOURCE_EXHAUSTED;
    /* items points at the caller's T *: read and write it as bytes (any object pointer type) */
    memcpy(&array, items, sizeof array);
    if ((grown = realloc(array, want * elem_size)) == NULL)
        return VS_RESOURCE_EXHAUSTED;
    memcpy(items, &grown, sizeof grown);
    *cap = want;
    return VS_OK;
}
