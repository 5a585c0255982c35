/* coord_pipes.c — worker connections as nng reports them. The pipe callbacks run on nng's
 * threads and must not block: they only count and remember, under a short lock; the scheduler
 * (coord_run.c) reads what they recorded at its next turn and re-issues leases. */
#include <string.h>

#include "coordinator.h"

void coord_on_task_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    coord *c = arg;

    /* with no worker connected, leasing would only churn epochs */
    __atomic_add_fetch(&c->task_peers, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1, __ATOMIC_SEQ_CST);
    if (ev == NNG_PIPE_EV_REM_POST) {
        pthread_mutex_lock(&c->pipes.lock);
        c->pipes.n_closed_tasks++;
        pthread_mutex_unlock(&c->pipes.lock);
    }
}

void coord_on_result_pipe(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    coord *c = arg;

    if (ev != NNG_PIPE_EV_REM_POST)
        return;
    pthread_mutex_lock(&c->pipes.lock);
    c->pipes.closed_results[c->pipes.n_closed_results++ % COORD_CLOSED_RING] = nng_pipe_id(pipe);
    pthread_mutex_unlock(&c->pipes.lock);
}

int coord_result_pipe_closed(coord *c, uint32_t pipe)
{
    int closed = 0;

    pthread_mutex_lock(&c->pipes.lock);
    for (uint64_t i = 0; i < COORD_CLOSED_RING && i < c->pipes.n_closed_results && !closed; i++)
        closed = c->pipes.closed_results[i] == pipe;
    pthread_mutex_unlock(&c->pipes.lock);
    return closed;
}

void coord_pipes_counts(coord *c, uint64_t *n_closed_results, uint64_t *n_closed_tasks)
{
    pthread_mutex_lock(&c->pipes.lock);
    *n_closed_results = c->pipes.n_closed_results;
    *n_closed_tasks = c->pipes.n_closed_tasks;
    pthread_mutex_unlock(&c->pipes.lock);
}

size_t coord_pipes_closed_since(coord *c, uint64_t *seen_results, uint64_t *seen_tasks,
                                uint32_t closed[COORD_CLOSED_RING], int *all, int *tasks_closed)
{
    size_t n = 0;

    pthread_mutex_lock(&c->pipes.lock);
    *all = c->pipes.n_closed_results - *seen_results > COORD_CLOSED_RING;
    for (uint64_t i = *seen_results; !*all && i < c->pipes.n_closed_results; i++)
        closed[n++] = c->pipes.closed_results[i % COORD_CLOSED_RING];
    *tasks_closed = c->pipes.n_closed_tasks != *seen_tasks;
    *seen_results = c->pipes.n_closed_results;
    *seen_tasks = c->pipes.n_closed_tasks;
    pthread_mutex_unlock(&c->pipes.lock);
    return n;
}
