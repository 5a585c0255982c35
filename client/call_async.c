/* call_async.c — libvsclient's asynchronous call: the request is sent from the caller's thread
 * and everything after happens in the callback of the call's aio, on nng's threads — the reply
 * is received on the same context, decoded, and handed to the caller's done function. No thread
 * sleeps per outstanding call. vs_client_close() waits for the last done (in_flight). */
#include "client_internal.h"

/* Counts an asynchronous call out of the handle; wakes a vs_client_close() waiting for the last.
 * Once in_flight is 0 while closing, c may be freed: nothing after this may touch it. */
static void client_async_end(vs_client *c)
{
    if (atomic_fetch_sub(&c->in_flight, 1) == 1 && atomic_load(&c->closing)) {
        pthread_mutex_lock(&c->drain_lock);
        pthread_cond_broadcast(&c->drained);
        pthread_mutex_unlock(&c->drain_lock);
    }
}

/* Ends an asynchronous call: the slot goes back to the pool first (so a done that starts the next
 * call reuses it), then the reply is decoded and handed to done. */
static void client_async_finish(client_slot *slot, int rc, nng_msg *reply, vs_call_status *status)
{
    vs_client *c = slot->client;
    const ProtobufCMethodDescriptor *method = slot->method;
    vs_call_done_fn done = slot->done;
    void *arg = slot->done_arg;
    ProtobufCMessage *output = NULL;

    client_slot_put(c, slot, rc == VS_OK);
    if (rc == VS_OK)
        rc = client_decode(method, reply, &output, status);
    done(arg, rc, output, status);
    client_async_end(c);
}

/* The aio callback of an asynchronous call (on an nng thread): the request went out — wait for the
 * reply on the same context — or the reply came, or either failed. */
void client_async_cb(void *arg)
{
    client_slot *slot = arg;
    vs_call_status status;
    nng_msg *reply = NULL;
    int rv = nng_aio_result(slot->aio), rc = VS_OK;

    if (rv == 0 && !slot->receiving) {
        slot->receiving = 1;
        nng_ctx_recv(slot->ctx, slot->aio);
        return;
    }
    if (rv != 0) {
        if (!slot->receiving && nng_aio_get_msg(slot->aio) != NULL)
            nng_msg_free(nng_aio_get_msg(slot->aio)); /* a failed send hands the request back */
        rc = client_transport_fail(slot->client, rv, slot->receiving, &status);
    } else {
        reply = nng_aio_get_msg(slot->aio);
    }
    nng_aio_set_msg(slot->aio, NULL);
    client_async_finish(slot, rc, reply, &status);
}

int vs_client_call_async(vs_client *c, const ProtobufCServiceDescriptor *service,
                         unsigned method_index, const ProtobufCMessage *input, vs_call_done_fn done,
                         void *arg)
{
    const ProtobufCMethodDescriptor *method = NULL;
    client_slot *slot = NULL;
    nng_msg *msg = NULL;
    int rc;

    if (done == NULL)
        return VS_INVALID_ARGUMENT;
    /* counted before the closing check, so close either sees this call or we see it closing */
    atomic_fetch_add(&c->in_flight, 1);
    if (atomic_load(&c->closing)) {
        rc = VS_CANCELLED;
        goto fail;
    }
    if ((rc = client_prepare(c, service, method_index, input, &method, &msg, NULL)) != VS_OK)
        goto fail;
    if ((rc = client_slot_get(c, CLIENT_CALLBACK, &slot, NULL)) != VS_OK) {
        nng_msg_free(msg);
        goto fail;
    }
    slot->client = c;
    slot->method = method;
    slot->done = done;
    slot->done_arg = arg;
    slot->receiving = 0;
    nng_aio_set_timeout(slot->aio, c->opts.timeout_ms);
    nng_aio_set_msg(slot->aio, msg);
    nng_ctx_send(slot->ctx, slot->aio);
    return VS_OK;
fail:
    client_async_end(c);
    return rc;
}

int vs_client_call_named_async(vs_client *c, const ProtobufCServiceDescriptor *service,
                               const char *method, const ProtobufCMessage *input,
                               vs_call_done_fn done, void *arg)
{
    unsigned index = 0;
    int rc;

    if ((rc = client_method_index(service, method, &index, NULL)) != VS_OK)
        return rc;
    return vs_client_call_async(c, service, index, input, done, arg);
}
