/* task.c — the stateless checks of a PartitionTask. */
#include "task.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

vs_status task_check(const Vs__V1__PartitionTask *task, business_date *day, char *err,
                     size_t errlen)
{
    char quoted[48];

    if (window_parse(task->business_date, day) != VS_OK || task->first_id > task->last_id) {
        /* the refusal travels back in PartitionResult.error and may end in Job.error: quoted, so
         * it is UTF-8 whatever the task held */
        snprintf(
            err, errlen, "malformed task: date %s, ids %" PRIu64 "..%" PRIu64,
            text_quote(quoted, sizeof quoted, task->business_date, strlen(task->business_date)),
            task->first_id, task->last_id);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}
