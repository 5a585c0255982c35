/* play_queue.c — a commit lane's two hand-offs: the queue workers append their events to and the
 * lane takes its rounds from, and the answering thread that calls each committed round's done
 * while the lane goes on with its next round (it used to spend 0.26-0.34 ms a round sending the
 * replies itself; docs/benchmarks.md). */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "play_lane.h"

int lane_take(commit_lane *lane)
{
    lane_queue *q = &lane->queue;
    lane_round *r = &lane->round;
    play_event *deferred = NULL, **deferred_tail = &deferred;

    pthread_mutex_lock(&q->lock);
    while (q->head == NULL && !q->stopping)
        pthread_cond_wait(&q->wake, &q->lock);
    r->n = 0;
    while (q->head != NULL && r->n < (size_t)lane->cfg->max_batch) {
        play_event *ev = q->head;

        q->head = ev->next;
        ev->next = NULL;
        /* an event whose viewer and id are already in the batch (a concurrent resend) waits
         * for the next round, where it finds the first one's committed row; another viewer's
         * event with the same id is another event */
        if (play_lane_find(lane, ev->viewer_id, ev->event_id, strlen(ev->event_id)) != NULL) {
            *deferred_tail = ev;
            deferred_tail = &ev->next;
            continue;
        }
        r->batch[r->n++] = ev;
    }
    if (deferred != NULL) {
        *deferred_tail = q->head;
        q->head = deferred;
    }
    if (q->head == NULL)
        q->tail = NULL;
    else
        for (q->tail = q->head; q->tail->next != NULL; q->tail = q->tail->next)
            ;
    pthread_mutex_unlock(&q->lock);
    return r->n > 0;
}

/* Called by the rpc workers, hence the lock. */
void lane_submit(commit_lane *lane, play_event *ev)
{
    lane_queue *q = &lane->queue;

    ev->next = NULL;
    ev->queued_us = clock_mono_us();
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = ev;
    else
        q->head = ev;
    q->tail = ev;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
}

void lane_hand_over(commit_lane *lane)
{
    lane_answers *a = &lane->answers;
    play_event **answered;

    pthread_mutex_lock(&a->lock);
    while (a->n > 0)
        pthread_cond_wait(&a->free, &a->lock);
    /* swap the arrays: the round's become the answers, the answered ones the next batch */
    answered = a->events;
    a->events = lane->round.batch;
    a->n = lane->round.n;
    lane->round.batch = answered;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
}

/* The answering thread: calls done for each event of a handed-over round. */
static void *lane_answer_main(void *arg)
{
    commit_lane *lane = arg;
    lane_answers *a = &lane->answers;
    char name[16];

    snprintf(name, sizeof name, "vs-answer%d", lane->index);
    pthread_setname_np(pthread_self(), name);

    pthread_mutex_lock(&a->lock);
    for (;;) {
        size_t n;

        while (a->n == 0 && !a->stopping)
            pthread_cond_wait(&a->wake, &a->lock);
        if (a->n == 0)
            break;
        n = a->n;
        pthread_mutex_unlock(&a->lock);
        /* done may free the event */
        for (size_t i = 0; i < n; i++)
            a->events[i]->done(a->events[i]);
        pthread_mutex_lock(&a->lock);
        a->n = 0;
        pthread_cond_signal(&a->free);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

vs_status lane_answers_start(commit_lane *lane, char *err, size_t errlen)
{
    if (pthread_create(&lane->answers.thread, NULL, lane_answer_main, lane) != 0) {
        snprintf(err, errlen, "cannot start the play answer thread");
        return VS_RESOURCE_EXHAUSTED;
    }
    return VS_OK;
}

void lane_answers_stop(commit_lane *lane)
{
    lane_answers *a = &lane->answers;

    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
}
