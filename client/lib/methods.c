/* methods.c — the vs.v1 services libvsclient can call, found by name: for generic callers that
 * take a method path from their user ("/vs.v1.StreamingService/Health") and build the request
 * from the method's descriptors (vsctl call, vsctl describe). */
#include <vs/client.h>

#include <stdio.h>
#include <string.h>

static const ProtobufCServiceDescriptor *const methods_services[] = {
    &vs__v1__user_service__descriptor,
    &vs__v1__streaming_service__descriptor,
    &vs__v1__batch_service__descriptor,
};

const ProtobufCServiceDescriptor *vs_client_service_at(size_t index)
{
    if (index >= sizeof methods_services / sizeof methods_services[0])
        return NULL;
    return methods_services[index];
}

/* 1 when name[0..len) is the service's full name ("vs.v1.StreamingService") or its short one. */
static int methods_name_is(const ProtobufCServiceDescriptor *service, const char *name, size_t len)
{
    return (strlen(service->name) == len && memcmp(service->name, name, len) == 0) ||
           (strlen(service->short_name) == len && memcmp(service->short_name, name, len) == 0);
}

static const ProtobufCServiceDescriptor *methods_service_n(const char *name, size_t len)
{
    const ProtobufCServiceDescriptor *service;

    for (size_t i = 0; (service = vs_client_service_at(i)) != NULL; i++)
        if (methods_name_is(service, name, len))
            return service;
    return NULL;
}

const ProtobufCServiceDescriptor *vs_client_service_named(const char *name)
{
    if (name == NULL)
        return NULL;
    if (name[0] == '/')
        name++;
    return methods_service_n(name, strlen(name));
}

int vs_client_method_by_path(const char *path, const ProtobufCServiceDescriptor **service_out,
                             unsigned *method_index, vs_call_status *status)
{
    const ProtobufCServiceDescriptor *service;
    const ProtobufCMethodDescriptor *method;
    const char *slash, *name = path ? path : "";
    size_t len;

    if (name[0] == '/')
        name++;
    slash = strchr(name, '/');
    len = slash ? (size_t)(slash - name) : strlen(name);
    /* messages do not echo the path: the caller knows it, and may quote it safely */
    if (slash == NULL || slash[1] == '\0' || strchr(slash + 1, '/') != NULL) {
        if (status != NULL) {
            status->code = VS_INVALID_ARGUMENT;
            snprintf(status->message, sizeof status->message,
                     "not a method path (/package.Service/Method)");
        }
        return VS_INVALID_ARGUMENT;
    }
    if ((service = methods_service_n(name, len)) == NULL) {
        if (status != NULL) {
            status->code = VS_UNIMPLEMENTED;
            snprintf(status->message, sizeof status->message, "no such service");
        }
        return VS_UNIMPLEMENTED;
    }
    method = protobuf_c_service_descriptor_get_method_by_name(service, slash + 1);
    if (method == NULL) {
        if (status != NULL) {
            status->code = VS_UNIMPLEMENTED;
            snprintf(status->message, sizeof status->message, "%s has no such method",
                     service->name);
        }
        return VS_UNIMPLEMENTED;
    }
    *service_out = service;
    *method_index = (unsigned)(method - service->methods);
    if (status != NULL) {
        status->code = VS_OK;
        snprintf(status->message, sizeof status->message, "ok");
    }
    return VS_OK;
}
