/* task.h — what a worker checks in a PartitionTask before it touches a database: a business
 * date YYYY-MM-DD and an id range that is not reversed. Everything else in a task (its lease
 * epoch, ids, date and GTID) is then checked against the job repository (worker_scan.c). */
#ifndef VS_BATCH_TASK_H
#define VS_BATCH_TASK_H

#include <stddef.h>
#include <vs/v1/batch.pb-c.h>

#include "status.h"
#include "window.h"

/* VS_OK with the task's business day in *day; VS_INVALID_ARGUMENT with "malformed task: ..."
 * in err otherwise (valid UTF-8: the date is quoted with text_quote). */
vs_status task_check(const Vs__V1__PartitionTask *task, business_date *day, char *err,
                     size_t errlen);

#endif
