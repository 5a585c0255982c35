/* grow.h — growing an array or byte buffer by doubling, up to a bound (grow.c).
 *
 * A buffer that grows as data arrives doubles its capacity (amortised O(1) appends), starts at a
 * size that suits its use, and never grows past the bound its owner gives: asking for more is
 * VS_RESOURCE_EXHAUSTED, not an allocation. Callers keep their own length; these functions only
 * decide and make the room. */
#ifndef VS_GROW_H
#define VS_GROW_H

#include <stddef.h>
#include <stdint.h> /* SIZE_MAX: no bound but the address space */

#include "status.h"

/* The capacity (in elements) that holds need: cap doubled (first when cap is 0) until need fits,
 * then lowered to max if it passed it. VS_RESOURCE_EXHAUSTED when need > max; *out unchanged. */
vs_status grow_capacity(size_t cap, size_t need, size_t first, size_t max, size_t *out);

/* Makes *items (a T *, passed as &array; T of elem_size bytes) hold at least need elements,
 * reallocating to grow_capacity(*cap, need, first, max) when it holds fewer; *cap is its
 * capacity in elements. VS_RESOURCE_EXHAUSTED when need > max, the bytes would overflow size_t
 * or memory is short: *items and *cap are then unchanged. */
vs_status grow_array(void *items, size_t *cap, size_t need, size_t elem_size, size_t first,
                     size_t max);

#endif
