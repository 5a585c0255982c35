/* lease.c — the lease fence, as a rule and as SQL. */
#include "lease.h"

#include <inttypes.h>
#include <stdio.h>

int lease_fence_admits(lease_use use, uint64_t held, uint64_t stored_epoch, int stored_state)
{
    if (stored_epoch != held)
        return 0;
    return use == LEASE_COMMIT ? stored_state != PART_DONE : stored_state == PART_LEASED;
}

int lease_fence_sql(lease_use use, const char *prefix, uint64_t held, char *out, size_t outlen)
{
    const char *p = prefix ? prefix : "";

    if (use == LEASE_COMMIT)
        return snprintf(out, outlen, "%slease_epoch = %" PRIu64 " AND %sstate <> %d", p, held, p,
                        PART_DONE);
    return snprintf(out, outlen, "%slease_epoch = %" PRIu64 " AND %sstate = %d", p, held, p,
                    PART_LEASED);
}
