/* partial.c — packed partial aggregates: explicit little-endian, whatever the host. */
#include "partial.h"

static void partial_put(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t partial_get(const uint8_t *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

void partial_encode(uint64_t video_id, const int64_t values[PARTIAL_VALUES], uint8_t *out)
{
    partial_put(out, video_id);
    for (int k = 0; k < PARTIAL_VALUES; k++)
        partial_put(out + 8 * (k + 1), (uint64_t)values[k]);
}

void partial_decode(const uint8_t *in, uint64_t *video_id, int64_t values[PARTIAL_VALUES])
{
    *video_id = partial_get(in);
    for (int k = 0; k < PARTIAL_VALUES; k++)
        values[k] = (int64_t)partial_get(in + 8 * (k + 1));
}
