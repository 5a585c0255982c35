/* fuzz_batch.c — the batch messages as their receivers decode them: a PartitionTask as a worker
 * takes it (unpack, then task_check: batch/task.c), a PartitionResult as the coordinator applies
 * it to the running job (unpack, then run_take_result: batch/coord_leases.c), and the packed
 * partial records of batch_partial_chunk (batch/partial.c).
 *
 * The first input byte picks: 0 mod 3 a task, 1 a result (and the next byte is the id of the
 * result connection it arrived on), 2 partial records.
 *
 * Invariants: a decoded message re-encodes and decodes to itself. A task passes task_check
 * exactly when its date parses and its ids are not reversed, and a refusal is valid UTF-8 (it
 * travels back to the coordinator in PartitionResult.error). A result is taken only for the
 * running job, a partition that exists and its current lease epoch; it changes nothing but that
 * partition, which can only go from leased to pending or be bound to the connection it came on;
 * the error it leaves for the job (run_state.last_error, later Job.error) is valid UTF-8. Partial
 * records decode and encode back to the same bytes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "coord_run.h"
#include "fuzz.h"
#include "lease.h"
#include "log.h"
#include "partial.h"
#include "task.h"
#include "text.h"

#define FUZZ_JOB 42
#define FUZZ_PARTS 4
#define FUZZ_CLOSED_PIPE 9 /* a result connection that has closed */

static coord fuzz_coord;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_set_level(LOG_ERROR); /* refused results are logged as warnings */
    pthread_mutex_init(&fuzz_coord.pipes.lock, NULL);
    fuzz_coord.pipes.closed_results[0] = FUZZ_CLOSED_PIPE;
    fuzz_coord.pipes.n_closed_results = 1;
    return 0;
}

static void fuzz_task(const uint8_t *data, size_t size)
{
    Vs__V1__PartitionTask *task = vs__v1__partition_task__unpack(NULL, size, data);
    business_date day, parsed;
    char err[512];
    int ok;

    if (task == NULL)
        return;
    FUZZ_CHECK(fuzz_repacks(&task->base), "task does not re-encode to itself");
    ok = task_check(task, &day, err, sizeof err) == VS_OK;
    FUZZ_CHECK(ok == (window_parse(task->business_date, &parsed) == VS_OK &&
                      task->first_id <= task->last_id),
               "task check %s", ok ? "passed" : "failed");
    if (ok) {
        char text[11];

        window_format(day, text);
        FUZZ_CHECK(strcmp(text, task->business_date) == 0, "task day %s formats as %s",
                   task->business_date, text);
    } else {
        FUZZ_CHECK(strncmp(err, "malformed task", 14) == 0, "refusal \"%s\"", err);
        FUZZ_CHECK(text_utf8_valid(err, strlen(err)), "task refusal not UTF-8");
    }
    vs__v1__partition_task__free_unpacked(task, NULL);
}

static void fuzz_result(uint32_t pipe, const uint8_t *data, size_t size)
{
    Vs__V1__PartitionResult *res = vs__v1__partition_result__unpack(NULL, size, data);
    run_part parts[FUZZ_PARTS], before[FUZZ_PARTS];
    run_state r;
    const char *why;

    /* part 0 leased and not yet acknowledged, 1 leased and bound to connection 3, 2 done, 3
     * pending; every epoch 7 */
    memset(&r, 0, sizeof r);
    memset(parts, 0, sizeof parts);
    for (uint32_t i = 0; i < FUZZ_PARTS; i++) {
        parts[i].part = i;
        parts[i].epoch = 7;
        parts[i].state = i < 2 ? PART_LEASED : i == 2 ? PART_DONE : PART_PENDING;
    }
    parts[1].holder_pipe = 3;
    memcpy(before, parts, sizeof parts);
    r.c = &fuzz_coord;
    r.job.id = FUZZ_JOB;
    r.parts = parts;
    r.n_parts = FUZZ_PARTS;

    why = run_take_result(&r, pipe, res);
    FUZZ_CHECK(res != NULL || why != NULL, "an undecodable result was taken");
    if (res == NULL)
        return;
    FUZZ_CHECK(fuzz_repacks(&res->base), "result does not re-encode to itself");
    if (why == NULL)
        FUZZ_CHECK(res->job_id == FUZZ_JOB && res->part < FUZZ_PARTS && res->lease_epoch == 7,
                   "taken: job %llu part %u epoch %llu", (unsigned long long)res->job_id, res->part,
                   (unsigned long long)res->lease_epoch);
    for (uint32_t i = 0; i < FUZZ_PARTS; i++) {
        if (why != NULL || i != res->part) {
            FUZZ_CHECK(memcmp(&parts[i], &before[i], sizeof parts[i]) == 0,
                       "part %u changed by a result for part %u (%s)", i, res->part,
                       why ? why : "taken");
            continue;
        }
        FUZZ_CHECK(parts[i].state == before[i].state ||
                       (before[i].state == PART_LEASED && parts[i].state == PART_PENDING),
                   "part %u went from state %d to %d", i, before[i].state, parts[i].state);
        FUZZ_CHECK(parts[i].holder_pipe == before[i].holder_pipe || parts[i].holder_pipe == pipe,
                   "part %u bound to connection %u, the result came on %u", i, parts[i].holder_pipe,
                   pipe);
        FUZZ_CHECK(pipe != FUZZ_CLOSED_PIPE || parts[i].holder_pipe != pipe,
                   "part %u bound to a closed connection", i);
    }
    FUZZ_CHECK(text_utf8_valid(r.last_error, strlen(r.last_error)), "job error not UTF-8");
    vs__v1__partition_result__free_unpacked(res, NULL);
}

static void fuzz_partials(const uint8_t *data, size_t size)
{
    uint8_t out[PARTIAL_RECORD_BYTES];

    for (size_t off = 0; off + PARTIAL_RECORD_BYTES <= size; off += PARTIAL_RECORD_BYTES) {
        uint64_t video_id;
        int64_t values[PARTIAL_VALUES];

        partial_decode(data + off, &video_id, values);
        partial_encode(video_id, values, out);
        FUZZ_CHECK(memcmp(out, data + off, PARTIAL_RECORD_BYTES) == 0,
                   "record at %zu does not encode back", off);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_task(data + 1, size - 1);
        break;
    case 1:
        if (size >= 2)
            fuzz_result(data[1], data + 2, size - 2);
        break;
    default:
        fuzz_partials(data + 1, size - 1);
        break;
    }
    return 0;
}
