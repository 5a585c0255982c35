/* coord_metrics.h — vs-coordinator's metrics (docs/operations.md): what the scheduler and the
 * lease handling count as they go (coord_metrics, a field of the coord), and what a scrape reads
 * at its time (the job repository's jobs by state, the running job's rate, the workers). */
#ifndef VS_BATCH_COORD_METRICS_H
#define VS_BATCH_COORD_METRICS_H

#include <mysql.h>

#include "metrics.h"

/* Why a leased partition went back to pending (coord_leases.c). */
typedef enum coord_reissue_reason {
    COORD_REISSUE_LEASE_EXPIRED,     /* its lease ran out without a result */
    COORD_REISSUE_CONNECTION_CLOSED, /* the connection of the worker holding it closed */
    COORD_REISSUE_WORKER_FAILED,     /* its worker reported that it committed nothing */
    COORD_REISSUE_REASONS
} coord_reissue_reason;

typedef struct coord_metrics {
    metrics_counter partitions_leased; /* tasks pushed under a fresh lease (coord_run.c) */
    metrics_counter partitions_done;   /* partitions found done in the repository (coord_run.c) */
    metrics_counter reissued[COORD_REISSUE_REASONS];
    metrics_counter lease_expiries;   /* leases that expired in the repository (coord_leases.c) */
    metrics_counter jobs_finished[2]; /* [0] completed, [1] failed (coord_run.c) */
    metrics_counter rows_aggregated;  /* play_log rows of partitions found done (coord_run.c) */
    metrics_histogram merge_ms;       /* one merge_job, milliseconds (coord_run.c) */
} coord_metrics;

/* Sets the histograms' buckets; call once before anything counts. */
void coord_metrics_init(coord_metrics *m);

/* What the scrape of one coordinator reads: its coord (counters, progress, workers connected),
 * and its own connection to the job repository (opened on demand with short timeouts, so a
 * scrape never waits long for an unreachable primary; closed by coord_scrape_fini). */
struct coord;
typedef struct coord_scrape {
    struct coord *c;
    MYSQL *db;
} coord_scrape;

/* A metrics_source collector; arg is a coord_scrape. */
void coord_metrics_collect(metrics_text *t, void *arg);

void coord_scrape_fini(coord_scrape *s);

#endif
