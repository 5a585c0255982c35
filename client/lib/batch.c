/* batch.c — libvsclient wrappers of BatchService (the settlement batch's coordinator). */
#include <vs/batch.h>

#include <stdlib.h>
#include <string.h>

struct vs_batch_job {
    Vs__V1__Job *msg;
    int owned; /* freed by vs_batch_job_free (not when it belongs to a list) */
};

struct vs_batch_jobs {
    Vs__V1__ListJobsResponse *msg;
    vs_batch_job *items;
};

const char *vs_job_state_name(int state)
{
    switch (state) {
    case VS_JOB_PENDING:
        return "pending";
    case VS_JOB_RUNNING:
        return "running";
    case VS_JOB_MERGING:
        return "merging";
    case VS_JOB_COMPLETED:
        return "completed";
    case VS_JOB_FAILED:
        return "failed";
    default:
        return "unknown";
    }
}

uint64_t vs_batch_job_id(const vs_batch_job *j)
{
    return j->msg->id;
}

const char *vs_batch_job_name(const vs_batch_job *j)
{
    return j->msg->name;
}

const char *vs_batch_job_date(const vs_batch_job *j)
{
    return j->msg->date;
}

int vs_batch_job_state(const vs_batch_job *j)
{
    return (int)j->msg->state;
}

uint32_t vs_batch_job_attempt(const vs_batch_job *j)
{
    return j->msg->attempt;
}

uint32_t vs_batch_job_partitions_total(const vs_batch_job *j)
{
    return j->msg->partitions_total;
}

uint32_t vs_batch_job_partitions_done(const vs_batch_job *j)
{
    return j->msg->partitions_done;
}

int64_t vs_batch_job_rows_total(const vs_batch_job *j)
{
    return j->msg->rows_total;
}

int64_t vs_batch_job_rows_done(const vs_batch_job *j)
{
    return j->msg->rows_done;
}

int64_t vs_batch_job_rows_per_s(const vs_batch_job *j)
{
    return j->msg->rows_per_s;
}

int64_t vs_batch_job_eta_s(const vs_batch_job *j)
{
    return j->msg->eta_s;
}

int64_t vs_batch_job_started_unix_ms(const vs_batch_job *j)
{
    return j->msg->started_unix_ms;
}

int64_t vs_batch_job_finished_unix_ms(const vs_batch_job *j)
{
    return j->msg->finished_unix_ms;
}

const char *vs_batch_job_started_by(const vs_batch_job *j)
{
    return j->msg->started_by;
}

const char *vs_batch_job_reason(const vs_batch_job *j)
{
    return j->msg->reason;
}

const char *vs_batch_job_error(const vs_batch_job *j)
{
    return j->msg->error;
}

void vs_batch_job_free(vs_batch_job *j)
{
    if (j == NULL || !j->owned)
        return;
    protobuf_c_message_free_unpacked(&j->msg->base, NULL);
    free(j);
}

static int batch_call(vs_client *client, const char *method, const ProtobufCMessage *in,
                      ProtobufCMessage **out, vs_call_status *status)
{
    return vs_client_call_named(client, &vs__v1__batch_service__descriptor, method, in, out,
                                status);
}

/* Wraps a Job reply; frees it when out of memory. */
static int batch_wrap(Vs__V1__Job *msg, vs_batch_job **out, vs_call_status *status)
{
    vs_batch_job *j = calloc(1, sizeof *j);

    if (j == NULL) {
        protobuf_c_message_free_unpacked(&msg->base, NULL);
        if (status != NULL) {
            status->code = VS_RESOURCE_EXHAUSTED;
            strcpy(status->message, "out of memory");
        }
        return VS_RESOURCE_EXHAUSTED;
    }
    j->msg = msg;
    j->owned = 1;
    *out = j;
    return VS_OK;
}

int vs_batch_start(vs_client *client, const char *date, int force, vs_batch_job **out,
                   vs_call_status *status)
{
    return vs_batch_start_range(client, date, NULL, force, out, status);
}

static int batch_start(vs_client *client, const char *from, const char *to, int force,
                       const char *reason, vs_batch_job **out, vs_call_status *status)
{
    Vs__V1__StartJobRequest req = VS__V1__START_JOB_REQUEST__INIT;
    Vs__V1__Job *resp = NULL;
    int rc;

    *out = NULL;
    req.job = (char *)"daily-settlement";
    req.date = (char *)(from ? from : "");
    req.to_date = (char *)(to ? to : "");
    req.force = force != 0;
    req.reason = (char *)(reason ? reason : "");
    rc = batch_call(client, "StartJob", &req.base, (ProtobufCMessage **)&resp, status);
    return rc == VS_OK ? batch_wrap(resp, out, status) : rc;
}

int vs_batch_start_range(vs_client *client, const char *from, const char *to, int force,
                         vs_batch_job **out, vs_call_status *status)
{
    return batch_start(client, from, to, force, NULL, out, status);
}

int vs_batch_rerun(vs_client *client, const char *from, const char *to, const char *reason,
                   vs_batch_job **out, vs_call_status *status)
{
    return batch_start(client, from, to, 1, reason, out, status);
}

int vs_batch_get(vs_client *client, uint64_t job_id, vs_batch_job **out, vs_call_status *status)
{
    return vs_batch_wait(client, job_id, 0, out, status);
}

int vs_batch_wait(vs_client *client, uint64_t job_id, uint32_t wait_ms, vs_batch_job **out,
                  vs_call_status *status)
{
    Vs__V1__GetJobRequest req = VS__V1__GET_JOB_REQUEST__INIT;
    Vs__V1__Job *resp = NULL;
    int rc;

    *out = NULL;
    req.id = job_id;
    req.wait_ms = wait_ms;
    rc = batch_call(client, "GetJob", &req.base, (ProtobufCMessage **)&resp, status);
    return rc == VS_OK ? batch_wrap(resp, out, status) : rc;
}

int vs_batch_list(vs_client *client, unsigned limit, vs_batch_jobs **out, vs_call_status *status)
{
    Vs__V1__ListJobsRequest req = VS__V1__LIST_JOBS_REQUEST__INIT;
    Vs__V1__ListJobsResponse *resp = NULL;
    vs_batch_jobs *list;
    int rc;

    *out = NULL;
    req.limit = limit;
    rc = batch_call(client, "ListJobs", &req.base, (ProtobufCMessage **)&resp, status);
    if (rc != VS_OK)
        return rc;
    list = calloc(1, sizeof *list);
    if (list != NULL)
        list->items = calloc(resp->n_jobs + 1, sizeof *list->items);
    if (list == NULL || list->items == NULL) {
        free(list);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        if (status != NULL) {
            status->code = VS_RESOURCE_EXHAUSTED;
            strcpy(status->message, "out of memory");
        }
        return VS_RESOURCE_EXHAUSTED;
    }
    list->msg = resp;
    for (size_t i = 0; i < resp->n_jobs; i++)
        list->items[i].msg = resp->jobs[i];
    *out = list;
    return VS_OK;
}

size_t vs_batch_jobs_count(const vs_batch_jobs *jobs)
{
    return jobs->msg->n_jobs;
}

const vs_batch_job *vs_batch_jobs_at(const vs_batch_jobs *jobs, size_t i)
{
    return i < jobs->msg->n_jobs ? &jobs->items[i] : NULL;
}

int vs_batch_jobs_schedule(const vs_batch_jobs *jobs, const char **next_date, int64_t *next_unix_ms)
{
    *next_date = jobs->msg->next_scheduled_date;
    *next_unix_ms = jobs->msg->next_scheduled_unix_ms;
    return jobs->msg->schedule_enabled;
}

void vs_batch_jobs_free(vs_batch_jobs *jobs)
{
    if (jobs == NULL)
        return;
    protobuf_c_message_free_unpacked(&jobs->msg->base, NULL);
    free(jobs->items);
    free(jobs);
}
