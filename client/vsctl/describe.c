/* describe.c — `vsctl describe [SERVICE[/METHOD]]`: the services compiled into libvsclient, their
 * methods, and a method's request and response fields, read from the protobuf-c descriptors (what
 * `vsctl call` accepts and prints). Nothing is dialled. */
#include <stdio.h>
#include <string.h>

#include "pbjson.h"
#include "text.h"
#include "vsctl.h"

static const char describe_usage[] =
    "usage: vsctl [--json] describe [SERVICE[/METHOD]]\n"
    "\n"
    "Without an argument: every service with its methods (request and response types) and the\n"
    "server that answers it. SERVICE (vs.v1.StreamingService or StreamingService): its methods.\n"
    "SERVICE/METHOD (/vs.v1.StreamingService/ListVideos): the request and response fields with\n"
    "their types, nested messages expanded and enums with their values; what `vsctl call`\n"
    "takes and prints. --json prints the same as JSON.\n";

/* The message types being expanded, outermost first: a type met again is recursive. */
typedef struct describe_stack {
    const ProtobufCMessageDescriptor *types[PBJSON_MAX_DEPTH];
    int depth;
} describe_stack;

static int describe_on_stack(const describe_stack *s, const ProtobufCMessageDescriptor *desc)
{
    for (int i = 0; i < s->depth; i++)
        if (s->types[i] == desc)
            return 1;
    return 0;
}

/* "vs.v1.Period: PERIOD_UNSPECIFIED=0, DAY=1, ..." into buf. */
static const char *describe_enum_text(const ProtobufCEnumDescriptor *ed, char *buf, size_t len)
{
    size_t o = 0;
    int n = snprintf(buf, len, "%s:", ed->name);

    o = n < 0 || (size_t)n >= len ? len - 1 : (size_t)n;
    for (unsigned i = 0; i < ed->n_values && o + 1 < len; i++) {
        n = snprintf(buf + o, len - o, "%s %s=%d", i ? "," : "", ed->values[i].name,
                     ed->values[i].value);
        o = n < 0 || (size_t)n >= len - o ? len - 1 : o + (size_t)n;
    }
    return buf;
}

static void describe_fields_text(const ProtobufCMessageDescriptor *desc, describe_stack *s,
                                 int indent)
{
    char type[512];

    s->types[s->depth++] = desc;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const ProtobufCMessageDescriptor *sub =
            f->type == PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;

        if (sub != NULL)
            snprintf(type, sizeof type, "%s", sub->name);
        else if (f->type == PROTOBUF_C_TYPE_ENUM)
            describe_enum_text(f->descriptor, type, sizeof type);
        else
            snprintf(type, sizeof type, "%s", pbjson_type_name(f->type));
        printf("%*s%-20s %s%s%s\n", indent, "", f->name,
               f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated " : "", type,
               f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF ? "  (oneof member)" : "");
        if (sub == NULL)
            continue;
        if (describe_on_stack(s, sub) || s->depth >= PBJSON_MAX_DEPTH)
            printf("%*s(%s: recursive, as above)\n", indent + 2, "", sub->name);
        else
            describe_fields_text(sub, s, indent + 2);
    }
    s->depth--;
}

static json_t *describe_fields_json(const ProtobufCMessageDescriptor *desc, describe_stack *s)
{
    json_t *fields = json_array();
    char json_name[128];

    s->types[s->depth++] = desc;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        json_t *field;

        pbjson_json_name(f->name, json_name, sizeof json_name);
        field = json_pack("{s:s,s:s,s:I,s:s,s:b}", "name", f->name, "json_name", json_name,
                          "number", (json_int_t)f->id, "type", pbjson_type_name(f->type),
                          "repeated", f->label == PROTOBUF_C_LABEL_REPEATED);
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            json_object_set_new(field, "oneof", json_true());
        if (f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumDescriptor *ed = f->descriptor;
            json_t *values = json_array();

            for (unsigned v = 0; v < ed->n_values; v++)
                json_array_append_new(values, json_pack("{s:s,s:i}", "name", ed->values[v].name,
                                                        "number", ed->values[v].value));
            json_object_set_new(field, "type_name", json_string(ed->name));
            json_object_set_new(field, "values", values);
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessageDescriptor *sub = f->descriptor;

            json_object_set_new(field, "type_name", json_string(sub->name));
            if (describe_on_stack(s, sub) || s->depth >= PBJSON_MAX_DEPTH)
                json_object_set_new(field, "recursive", json_true());
            else
                json_object_set_new(field, "fields", describe_fields_json(sub, s));
        }
        json_array_append_new(fields, field);
    }
    s->depth--;
    return fields;
}

static void describe_service_text(const ProtobufCServiceDescriptor *service)
{
    printf("%s  (%s)\n", service->name, vsctl_service_server(service));
    for (unsigned i = 0; i < service->n_methods; i++)
        printf("  %s(%s) returns (%s)\n", service->methods[i].name, service->methods[i].input->name,
               service->methods[i].output->name);
}

static json_t *describe_service_json(const ProtobufCServiceDescriptor *service)
{
    json_t *methods = json_array();
    char path[300];

    for (unsigned i = 0; i < service->n_methods; i++) {
        const ProtobufCMethodDescriptor *m = &service->methods[i];

        snprintf(path, sizeof path, "/%s/%s", service->name, m->name);
        json_array_append_new(methods,
                              json_pack("{s:s,s:s,s:s,s:s}", "name", m->name, "path", path,
                                        "request", m->input->name, "response", m->output->name));
    }
    return json_pack("{s:s,s:s,s:o}", "name", service->name, "server",
                     vsctl_service_server(service), "methods", methods);
}

static int describe_method(vsctl *ctl, const ProtobufCServiceDescriptor *service, unsigned index)
{
    const ProtobufCMethodDescriptor *m = &service->methods[index];
    describe_stack s = {0};
    char path[300];

    snprintf(path, sizeof path, "/%s/%s", service->name, m->name);
    if (ctl->json) {
        json_t *request = json_pack("{s:s,s:o}", "type", m->input->name, "fields",
                                    describe_fields_json(m->input, &s));
        json_t *response = json_pack("{s:s,s:o}", "type", m->output->name, "fields",
                                     describe_fields_json(m->output, &s));

        vsctl_print_json(json_pack("{s:s,s:s,s:o,s:o}", "path", path, "server",
                                   vsctl_service_server(service), "request", request, "response",
                                   response));
        return 0;
    }
    printf("%s  (%s)\nrequest %s\n", path, vsctl_service_server(service), m->input->name);
    describe_fields_text(m->input, &s, 2);
    printf("response %s\n", m->output->name);
    describe_fields_text(m->output, &s, 2);
    return 0;
}

int cmd_describe(vsctl *ctl, int argc, char **argv)
{
    const ProtobufCServiceDescriptor *service = NULL;
    const char *name = argc > 1 ? argv[1] : NULL;
    vs_call_status st;
    unsigned index = 0;
    char shown[160];

    if (name != NULL && (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)) {
        fputs(describe_usage, stdout);
        return 0;
    }
    if (argc > 2 || (name != NULL && name[0] == '-' && name[1] != '\0')) {
        fputs(describe_usage, stderr);
        return 2;
    }
    if (name != NULL && strchr(name[0] == '/' ? name + 1 : name, '/') != NULL) {
        if (vs_client_method_by_path(name, &service, &index, &st) != VS_OK) {
            fprintf(stderr, "vsctl describe: %s: %s; `vsctl describe` lists them all\n",
                    text_quote(shown, sizeof shown, name, strlen(name)), st.message);
            return 2;
        }
        return describe_method(ctl, service, index);
    }
    if (name != NULL && (service = vs_client_service_named(name)) == NULL) {
        fprintf(stderr, "vsctl describe: %s: no such service; `vsctl describe` lists them all\n",
                text_quote(shown, sizeof shown, name, strlen(name)));
        return 2;
    }
    if (ctl->json) {
        json_t *services = json_array();

        for (size_t i = 0; service == NULL && vs_client_service_at(i) != NULL; i++)
            json_array_append_new(services, describe_service_json(vs_client_service_at(i)));
        if (service != NULL)
            json_array_append_new(services, describe_service_json(service));
        vsctl_print_json(json_pack("{s:o}", "services", services));
        return 0;
    }
    for (size_t i = 0; service == NULL && vs_client_service_at(i) != NULL; i++) {
        if (i > 0)
            putchar('\n');
        describe_service_text(vs_client_service_at(i));
    }
    if (service != NULL)
        describe_service_text(service);
    return 0;
}
