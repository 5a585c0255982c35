/* bgthread.h — the one way a process runs and stops a background thread.
 *
 * A background thread is a loop function that runs until it is asked to stop. It waits between
 * rounds with bgthread_wait (never usleep), so a stop wakes it at once; a loop that blocks in
 * poll(2) on its own socket adds bgthread_wake_fd to the poll set for the same reason. Stopping
 * is always the same: set the flag, signal the condition, make the wake fd readable, join.
 *
 * The caller owns the bgthread (usually a field of the module's state); it must not move while
 * the thread runs.
 *
 * Users: vsd's replica monitor, read model loader and revocation subscriber; in every rpc_server
 * the listener guard (listen_guard.c) and the idle-connection reaper (rpc_conns.c).
 * Deliberately not bgthreads, as they are no loop that runs until asked to stop:
 *  - queue consumers, which wait on their queue's condition and end when the queue is ended
 *    (flag set under the queue's lock, condition signalled, thread joined): an rpc_server's
 *    workers (rpc_server_life.c), and in vsd each commit lane and its answering thread
 *    (server/play/play_queue.c, play_commit_stop). A queue that is ended is drained first, so
 *    nothing taken in is dropped;
 *  - the closer in rpc_server_life.c: one nng_close run once, which the stopping thread waits
 *    for with a deadline and gives up on (leaves running) when the close hangs. */
#ifndef VS_BGTHREAD_H
#define VS_BGTHREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct bgthread bgthread;

/* The thread's body: runs once, and returns when bgthread_stopping(t) (or when it has nothing
 * more to do). */
typedef void (*bgthread_loop)(bgthread *t, void *arg);

struct bgthread {
    const char *name; /* for logs and the thread's name (first 15 bytes) */
    bgthread_loop loop;
    void *arg;
    pthread_t thread;
    pthread_mutex_t lock; /* guards the waits on wake */
    pthread_cond_t wake;
    atomic_int stopping;
    int wake_fd; /* an eventfd, readable once a stop is asked for; -1 before start */
    int running;
};

/* Starts loop(t, arg) on a new thread named name (a string that outlives the thread). VS_INTERNAL
 * with err set when the thread or its wake fd cannot be made; t is then not running. */
vs_status bgthread_start(bgthread *t, const char *name, bgthread_loop loop, void *arg, char *err,
                         size_t errlen);

/* Asks the thread to stop, wakes it wherever it waits, and joins it. A no-op when it is not
 * running (never started, or already stopped), so a stop in reverse order may call it always. */
void bgthread_stop(bgthread *t);

/* 1 once a stop was asked for; the loop checks it between rounds. */
int bgthread_stopping(bgthread *t);

/* Waits ms milliseconds, or less when a stop is asked for meanwhile. Returns 1 when the thread
 * should stop (the loop then returns), 0 when the time is up. */
int bgthread_wait(bgthread *t, int64_t ms);

/* A file descriptor that turns readable when a stop is asked for: for a loop that blocks in
 * poll(2) on its own socket instead of in bgthread_wait. */
int bgthread_wake_fd(const bgthread *t);

#endif
