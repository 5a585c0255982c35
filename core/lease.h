/* lease.h — the partition lease of the settlement batch (docs/batch.md, Leases): what a lease
 * epoch is, and the fence that lets only the current epoch's holder touch a partition.
 *
 * The coordinator leases a partition to a worker under a fresh epoch, stored in the partition's
 * row. Whatever the holder later does to that row — renew the deadline, confirm its task, commit
 * its result — is a statement guarded by the fence, so a superseded holder (a worker that was
 * presumed dead, a task of an earlier attempt, a forged task) changes nothing. The fence is stated
 * once here, both as a rule (lease_fence_admits) and as the SQL condition the statements use
 * (lease_fence_sql); the repository's row is the only truth. */
#ifndef VS_CORE_LEASE_H
#define VS_CORE_LEASE_H

#include <stddef.h>
#include <stdint.h>

/* batch_partition.state */
enum { PART_PENDING = 1, PART_LEASED = 2, PART_DONE = 3 };

/* Lease epochs are unique across the attempts of a job: the attempt number in the high 32 bits,
 * a per-attempt counter below, so a task of an earlier attempt can never commit into a later one.
 * The first epoch of an attempt; the coordinator issues the ones above it. */
static inline uint64_t lease_epoch_first(uint32_t attempt)
{
    return (uint64_t)attempt << 32;
}

typedef enum lease_use {
    LEASE_HOLD,   /* renew the deadline, confirm a task, read the deadline back: the row is
                     leased under this epoch */
    LEASE_COMMIT, /* mark the partition done with its result: the row still has this epoch and
                     is not done yet (a second delivery of the same task then finds it done) */
} lease_use;

/* 1 when the holder of lease epoch `held` may do `use` to a partition row that stores
 * stored_epoch and stored_state (PART_*); 0 otherwise. */
int lease_fence_admits(lease_use use, uint64_t held, uint64_t stored_epoch, int stored_state);

/* The same fence as an SQL condition on batch_partition's columns, for the WHERE clause of the
 * statement doing `use`: "lease_epoch = 4294967297 AND state = 2" for LEASE_HOLD,
 * "lease_epoch = 4294967297 AND state <> 3" for LEASE_COMMIT; prefix (e.g. "p.", may be "") goes
 * before each column name. Returns what snprintf returns. */
int lease_fence_sql(lease_use use, const char *prefix, uint64_t held, char *out, size_t outlen);

#endif
