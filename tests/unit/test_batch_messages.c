/* test_batch_messages.c — what the batch programs make of a peer's message before any database
 * is touched: a worker's check of a PartitionTask (batch/task.c) and the coordinator's handling
 * of a PartitionResult (run_take_result, batch/coord_leases.c). Both cases below were found by
 * fuzz/fuzz_batch.c: text a peer sent reached Job.error, a protobuf string, without being made
 * valid UTF-8.
 *
 * The batch's sources are compiled into this test directly (they are not in a library the unit
 * tests link). */
#include <pthread.h>
#include <string.h>

#include "testsupport.h"

#include "../../batch/coord_leases.c"
#include "../../batch/coord_pipes.c"
#include "../../batch/task.c"

/* A task with a real date and ordered ids passes, and gives its day. */
static void test_task_with_a_date_and_ordered_ids_passes(void **state)
{
    Vs__V1__PartitionTask task = VS__V1__PARTITION_TASK__INIT;
    business_date day = 0, want;
    char err[512] = "";

    task.business_date = "2026-03-15";
    task.first_id = 10;
    task.last_id = 10;
    assert_int_equal(task_check(&task, &day, err, sizeof err), VS_OK);
    assert_int_equal(window_parse("2026-03-15", &want), VS_OK);
    assert_int_equal(day, want);
    task.last_id = 9;
    assert_int_equal(task_check(&task, &day, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_string_equal(err, "malformed task: date \"2026-03-15\", ids 10..9");
}

/* A task's date that is not UTF-8 is quoted in the refusal the worker sends back. */
static void test_task_refusal_quotes_a_date_that_is_not_utf8(void **state)
{
    Vs__V1__PartitionTask task = VS__V1__PARTITION_TASK__INIT;
    business_date day;
    char err[512];

    task.business_date = "2026-03-\xff\xfe";
    assert_int_equal(task_check(&task, &day, err, sizeof err), VS_INVALID_ARGUMENT);
    assert_true(text_utf8_valid(err, strlen(err)));
    assert_string_equal(err, "malformed task: date \"2026-03-\\xFF\\xFE\", ids 0..0");
}

/* A failure report from the connection holding the lease releases it, and the worker's error,
 * not UTF-8 and longer than the job keeps, becomes a UTF-8 job error cut with an ellipsis. */
static void test_failed_result_error_is_kept_as_utf8(void **state)
{
    Vs__V1__PartitionResult res = VS__V1__PARTITION_RESULT__INIT;
    coord c;
    run_part parts[2];
    run_state r;
    char error[1000];

    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.pipes.lock, NULL);
    memset(parts, 0, sizeof parts);
    memset(&r, 0, sizeof r);
    for (uint32_t i = 0; i < 2; i++) {
        parts[i].part = i;
        parts[i].epoch = 7;
        parts[i].state = PART_LEASED;
        parts[i].holder_pipe = 3;
    }
    r.c = &c;
    r.job.id = 42;
    r.parts = parts;
    r.n_parts = 2;
    /* 'é' (2 bytes) repeated, so a byte cut lands inside one, then a stray byte */
    for (size_t i = 0; i + 2 < sizeof error; i += 2)
        memcpy(error + i, "\xc3\xa9", 2);
    error[sizeof error - 2] = '\xff';
    error[sizeof error - 1] = '\0';
    res.job_id = 42;
    res.part = 1;
    res.lease_epoch = 7;
    res.error = error;
    res.worker = "w";

    assert_non_null(run_take_result(&r, 4, &res)); /* not the connection holding it */
    assert_int_equal(parts[1].state, PART_LEASED);
    assert_null(run_take_result(&r, 3, &res));
    assert_int_equal(parts[1].state, PART_PENDING);
    assert_int_equal(parts[0].state, PART_LEASED);
    assert_true(strncmp(r.last_error, "part 1: \"\xc3\xa9", 11) == 0);
    assert_true(text_utf8_valid(r.last_error, strlen(r.last_error)));
    assert_non_null(strstr(r.last_error, TEXT_ELLIPSIS));
    pthread_mutex_destroy(&c.pipes.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_with_a_date_and_ordered_ids_passes),
        cmocka_unit_test(test_task_refusal_quotes_a_date_that_is_not_utf8),
        cmocka_unit_test(test_failed_result_error_is_kept_as_utf8),
    };

    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
