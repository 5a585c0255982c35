/* worker.h — one vs-worker thread: its sockets, DB connections and the partition scan. */
#ifndef VS_BATCH_WORKER_H
#define VS_BATCH_WORKER_H

#include <mysql.h>
#include <stdint.h>
#include "status.h"
#include "vmap.h"
#include "vs/v1/batch.pb-c.h"

typedef struct worker_config {
    const char *task_url, *result_url;
    const char *primary_url, *replica_url;
    const char *name; /* worker identity recorded on partitions: host:pid */
    int threads;
    int64_t replica_wait_ms; /* how long to wait for the replica to reach the job's GTID */
} worker_config;

typedef struct worker_thread {
    const worker_config *cfg;
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
vs_status worker_process(worker_thread *t, const Vs__V1__PartitionTask *task, worker_outcome *out);

void worker_thread_close(worker_thread *t);

#endif
