/* vsbench.h — the load tool's pieces: options, per-caller state, and the scenarios' operations
 * (vsbench_ops.c), which are asynchronous calls. vsbench.c runs the loops and reports. */
#ifndef VS_VSBENCH_H
#define VS_VSBENCH_H

#include <stdint.h>
#include <vs/client.h>

#include "hist.h"

#define VSBENCH_CODES (VS_UNAUTHENTICATED + 1)

typedef struct vsbench_opts {
    const char *url;
    const char *scenario; /* read, play, login, health */
    int concurrency;      /* callers (closed loop) or requests in flight at most (open loop) */
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

/* One caller: keeps one operation in flight at a time, driven from the done functions of its
 * asynchronous calls (closed loop), or lent one due request at a time by the scheduler (open loop).
 * Only the operation in flight touches it, so it needs no lock. */
typedef struct vsbench_caller {
    int index;
    const vsbench_opts *opts;
    void *run; /* the vsbench_run this caller belongs to (vsbench.c) */
    vs_client *client;
    uint64_t rng;
    int64_t start_ns; /* the operation in flight: when it started (closed loop) or was due (open) */
    uint64_t video;   /* play: the video of the Play whose Pause follows */
    struct vsbench_caller *next_idle; /* open loop: the scheduler's list of idle callers */
    /* results of the measured window */
    hist lat;
    int64_t by_code[VSBENCH_CODES];
    int64_t other_codes;
} vsbench_caller;

/* Checks the scenario name; -1 with a message on stderr for an unknown one. */
int vsbench_scenario_check(const char *name);

/* Starts one operation of opts->scenario for c (play: a Play, and its Pause from the Play's done
 * function: two calls, one latency). VS_OK: its calls are in flight and vsbench_op_done(c, rc)
 * will run exactly once when it ends, rc the first failure of a pair; otherwise the status that
 * kept it from starting, and vsbench_op_done is not called. */
int vsbench_op_start(vsbench_caller *c);

/* vsbench.c: c's operation ended with status rc. Runs on an nng thread, so it must not block. */
void vsbench_op_done(vsbench_caller *c, int rc);

/* A uniformly random number in [0, n). */
uint64_t vsbench_rand(vsbench_caller *c, uint64_t n);

#endif
