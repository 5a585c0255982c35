/* vsbench_ops.h — the load tool's scenarios (vsbench_ops.c): the options they read and one
 * operation of a scenario, an asynchronous call (or two) whose end is reported through the done
 * function its starter gives. vsbench.c runs the loops and reports. */
#ifndef VS_VSBENCH_OPS_H
#define VS_VSBENCH_OPS_H

#include <stdint.h>
#include <vs/client.h>

typedef struct vsbench_opts {
    const char *url;
    const char *scenario; /* read, play, mixed, login, health */
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
    int play_pct;   /* mixed: percent of operations that are a Play+Pause pair (the rest reads) */
    /* credentials */
    const char *email;
    const char *password;
} vsbench_opts;

typedef struct vsbench_op vsbench_op;

/* The end of op's operation with status rc (the first failure of a pair). Runs on an nng thread,
 * so it must not block. */
typedef void vsbench_op_done_fn(vsbench_op *op, int rc);

/* One caller's operations: at most one in flight at a time, so only that one touches it and it
 * needs no lock. The starter fills it and may embed it in a larger struct of its own. */
struct vsbench_op {
    int index; /* the caller's number, 0 .. concurrency - 1 */
    const vsbench_opts *opts;
    vs_client *client;
    uint64_t rng;
    uint64_t video;      /* play: the video of the Play whose Pause follows */
    int64_t plays_acked; /* play, mixed: Plays answered OK so far, warm-up included */
    vsbench_op_done_fn *done;
};

/* Checks the scenario name; -1 with a message on stderr for an unknown one. */
int vsbench_scenario_check(const char *name);

/* Starts one operation of opts->scenario for op (play: a Play, and its Pause from the Play's done
 * function: two calls, one latency; mixed: such a pair or a read). VS_OK: its calls are in flight
 * and op->done(op, rc) will run exactly once when it ends; otherwise the status that kept it from
 * starting, and op->done is not called. */
int vsbench_op_start(vsbench_op *op);

/* A uniformly random number in [0, n) from op's generator. */
uint64_t vsbench_rand(vsbench_op *op, uint64_t n);

#endif
