/* vsbench.h — the load tool's pieces: options, per-thread state, and the scenarios' operations
 * (vsbench_ops.c). vsbench.c runs the loops and reports. */
#ifndef VS_VSBENCH_H
#define VS_VSBENCH_H

#include <stdint.h>
#include <vs/client.h>

#include "hist.h"

#define VSBENCH_CODES (VS_UNAUTHENTICATED + 1)

typedef struct vsbench_opts {
    const char *url;
    const char *scenario; /* read, play, login, health */
    int concurrency;      /* callers (closed loop) or sender threads (open loop) */
    double rate;          /* open loop: requests per second; 0 = closed loop */
    double warmup_s;
    double duration_s;
    int64_t requests; /* stop after this many measured requests (0 = by duration) */
    int timeout_ms;
    int json;
    /* read / play data */
    uint64_t video_first, video_count; /* ids video_first .. video_first + video_count - 1 */
    int32_t first_day;                 /* business_date of the first day with data */
    int days;
    int mine;       /* read: top-N over the caller's videos instead of all (admins) */
    int pause_at_s; /* play: the Pause position */
    int mix[3];     /* read: weights of GetVideoStats, GetTopVideos, GetSettlement */
    /* credentials */
    const char *email;
    const char *password;
} vsbench_opts;

typedef struct vsbench_thread {
    int index;
    const vsbench_opts *opts;
    void *run; /* the vsbench_run this thread belongs to (vsbench.c) */
    vs_client *client;
    uint64_t rng;
    int64_t ops; /* operations started by this thread (play: pairs) */
    /* results of the measured window */
    hist lat;
    int64_t by_code[VSBENCH_CODES];
    int64_t other_codes;
} vsbench_thread;

/* Checks the scenario name; -1 with a message on stderr for an unknown one. */
int vsbench_scenario_check(const char *name);

/* One operation of opts->scenario (play: a Play and its Pause, one latency). Returns the status
 * of the call (the first failure of a pair). */
int vsbench_op(vsbench_thread *t);

/* A uniformly random number in [0, n). */
uint64_t vsbench_rand(vsbench_thread *t, uint64_t n);

#endif
