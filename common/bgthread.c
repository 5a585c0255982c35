/* bgthread.c — running and stopping background threads one way (bgthread.h). */
#include "bgthread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void *bgthread_main(void *arg)
{
    bgthread *t = arg;
    char name[16];

    snprintf(name, sizeof name, "%s", t->name);
    pthread_setname_np(pthread_self(), name);
    t->loop(t, t->arg);
    return NULL;
}

vs_status bgthread_start(bgthread *t, const char *name, bgthread_loop loop, void *arg, char *err,
                         size_t errlen)
{
    pthread_condattr_t attr;

    t->name = name;
    t->loop = loop;
    t->arg = arg;
    t->running = 0;
    atomic_store(&t->stopping, 0);
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->wake_fd < 0) {
        snprintf(err, errlen, "%s: eventfd: %s", name, strerror(errno));
        return VS_INTERNAL;
    }
    /* waits measure monotonic time: a step of the wall clock neither cuts nor stretches them */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&t->lock, NULL);
    if (pthread_create(&t->thread, NULL, bgthread_main, t) != 0) {
        snprintf(err, errlen, "cannot start the %s thread", name);
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        close(t->wake_fd);
        t->wake_fd = -1;
        return VS_INTERNAL;
    }
    t->running = 1;
    return VS_OK;
}

void bgthread_stop(bgthread *t)
{
    uint64_t one = 1;
    ssize_t written;

    if (!t->running)
        return;
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->stopping, 1);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    /* an eventfd write of 1 fails only on overflow, which one stop cannot reach */
    written = write(t->wake_fd, &one, sizeof one);
    (void)written;
    pthread_join(t->thread, NULL);
    t->running = 0;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    close(t->wake_fd);
    t->wake_fd = -1;
}

int bgthread_stopping(bgthread *t)
{
    return atomic_load(&t->stopping);
}

int bgthread_wait(bgthread *t, int64_t ms)
{
    struct timespec until;
    int stopping;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    until.tv_sec += (time_t)(ms / 1000) + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&t->lock);
    while (!atomic_load(&t->stopping) &&
           pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
        ;
    stopping = atomic_load(&t->stopping);
    pthread_mutex_unlock(&t->lock);
    return stopping;
}

int bgthread_wake_fd(const bgthread *t)
{
    return t->wake_fd;
}
