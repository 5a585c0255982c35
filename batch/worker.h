/* worker.h — one vs-worker thread: its sockets, DB connections and the partition scan. */
#ifndef VS_BATCH_WORKER_H
#define VS_BATCH_WORKER_H

#include <mysql.h>
#include <pthread.h>
#include <stdint.h>
#include "status.h"
#include "vmap.h"
#include "vs/v1/batch.pb-c.h"

/* Read/write timeout of a worker's MariaDB connections, seconds (the replica's adds the GTID
 * wait): a primary that a network cut made unreachable fails the call instead of holding the
 * worker for TCP's retransmission timeout (~15 minutes with Linux defaults). Every statement a
 * worker runs answers within a few seconds. */
#define WORKER_DB_IO_TIMEOUT_S 30

typedef struct worker_config {
    const char *task_url, *result_url;
    const char *primary_url, *replica_url;
    const char *name; /* worker identity recorded on partitions: host:pid */
    int threads;
    int64_t replica_wait_ms; /* how long to wait for the replica to reach the job's GTID */
} worker_config;

typedef struct worker_leases worker_leases;

typedef struct worker_thread {
    const worker_config *cfg;
    worker_leases *leases; /* the process's lease keeper; slot `index` is this thread's */
    int index;
    char name[160]; /* cfg->name/index */
    MYSQL *primary, *replica;
    MYSQL_STMT *scan_primary, *scan_replica; /* prepared partition scans, per connection */
    char gtid_waited[1024];   /* the replica did not reach this position in time once */
    int64_t replica_retry_ms; /* no replica connection attempts before this (monotonic) */
    vmap videos;
    uint8_t *chunk; /* PARTIAL_CHUNK_VIDEOS packed records */
} worker_thread;

/* What became of a task. */
typedef struct worker_outcome {
    int committed;    /* partials written and the partition marked done under our epoch */
    int64_t rows;     /* play_log rows read */
    int64_t videos;   /* distinct videos */
    int from_replica; /* rows were read from the replica */
    int64_t scan_ms, commit_ms;
    char error[512]; /* why not committed (stale lease, DB error), "" otherwise */
} worker_outcome;

/* Processes one partition task: waits (bounded) for the replica to reach the task's GTID position
 * or else reads the primary, streams the partition's rows with the binary protocol, aggregates per
 * video, and in one primary transaction marks the partition done under the task's lease epoch and
 * writes the partials. A superseded epoch commits nothing (committed = 0, VS_OK). Other failures
 * return their status; the connection that failed is dropped and reopened on the next task. */
/* The leases the process's worker threads hold (one slot per thread), renewed by one keeper
 * thread with its own primary connection (worker_lease.c). */
typedef struct worker_lease {
    int active, lost; /* lost: a renewal found the epoch superseded or the partition done */
    uint64_t job_id, epoch;
    uint32_t part;
    int64_t lease_ms, renewed_mono_ms;
} worker_lease;

typedef struct worker_leases {
    const worker_config *cfg;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    worker_lease *slots;
    int n, stopping, started;
    pthread_t thread;
    MYSQL *db; /* the keeper's own */
} worker_leases;

/* Starts the keeper with `slots` slots; stop it after the worker threads have ended. */
vs_status worker_leases_start(worker_leases *l, const worker_config *cfg, int slots, char *err,
                              size_t errlen);
void worker_leases_stop(worker_leases *l);

/* Slot `slot` (a worker thread's) now holds task's lease: renewed every third of task->lease_ms
 * until released (not at all when the task does not say its lease's length). */
void worker_lease_hold(worker_leases *l, int slot, const Vs__V1__PartitionTask *task);
void worker_lease_release(worker_leases *l, int slot);

vs_status worker_process(worker_thread *t, const Vs__V1__PartitionTask *task, worker_outcome *out);

void worker_thread_close(worker_thread *t);

#endif
