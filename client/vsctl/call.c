/* call.c — `vsctl call /vs.v1.Service/Method [JSON | -]`: any method of the services compiled into
 * libvsclient, the request given as JSON and the reply printed as JSON (pbjson.h: the mapping).
 * The request is converted completely before anything is dialled, so a request with an unknown
 * field or a wrong type sends nothing. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pbjson.h"
#include "text.h"
#include "vsctl.h"

#define CALL_TOKEN_MAX 4096

static const char call_usage[] =
    "usage: vsctl call [--token-file FILE] [--coord URL] [--compact] /vs.v1.Service/Method "
    "[JSON | -]\n"
    "\n"
    "Calls any method with a request written as JSON and prints the reply as JSON (indented;\n"
    "--compact: one line). The request is read from standard input when JSON is left out or is\n"
    "\"-\" (at most 1 MiB). `vsctl describe` lists the services, methods and their fields.\n"
    "\n"
    "JSON: field names as in the .proto (display_name) or in lowerCamelCase (displayName);\n"
    "64-bit integers are printed as strings and accepted as strings or numbers; enums by name\n"
    "(\"WEEK\") or number; bytes as base64; repeated fields as arrays, messages as objects. The\n"
    "reply prints every field, defaults included; an unset message field is left out. An unknown\n"
    "field, a wrong type, a number out of range or a bad enum name is refused with the field's\n"
    "path (page.limit: expected an integer) and nothing is sent. Mutations take their event_id\n"
    "from the request: give one (any unique text) to make a retry safe.\n"
    "\n"
    "--token-file FILE  send the access token in FILE instead of the one `vsctl user login`\n"
    "                   kept (a Login call through `vsctl call` does not keep its token)\n"
    "--coord URL        where BatchService is called: the coordinator [VS_COORD_URL; default\n"
    "                   tcp://127.0.0.1:7401]; every other service goes to --url (vsd)\n"
    "\n"
    "Exit status: 0 the reply was printed, 1 the call failed (the status is printed as by every\n"
    "vsctl command), 2 a bad method path or request.\n"
    "\n"
    "example: vsctl call /vs.v1.StreamingService/ListVideos '{\"mine\": true, \"page_size\": 5}'\n";

/* Services answered by the coordinator rather than vsd. */
static const char *const call_coordinator_services[] = {"vs.v1.BatchService"};

const char *vsctl_service_server(const ProtobufCServiceDescriptor *service)
{
    for (size_t i = 0; i < sizeof call_coordinator_services / sizeof *call_coordinator_services;
         i++)
        if (strcmp(service->name, call_coordinator_services[i]) == 0)
            return "vs-coordinator";
    return "vsd";
}

/* Reads the request: arg itself, or standard input for NULL and "-"; at most PBJSON_MAX_INPUT
 * bytes. *text is malloc'd. Returns 0, or 2 after printing why not. */
static int call_read_request(const char *arg, char **text, size_t *len)
{
    size_t got = 0, n;
    char *buf;

    if (arg != NULL && strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        *text = strdup(arg);
        return *text != NULL ? 0 : 2;
    }
    if ((buf = malloc(PBJSON_MAX_INPUT + 1)) == NULL)
        return 2;
    while (got <= PBJSON_MAX_INPUT &&
           (n = fread(buf + got, 1, PBJSON_MAX_INPUT + 1 - got, stdin)) > 0)
        got += n;
    if (ferror(stdin) || got > PBJSON_MAX_INPUT) {
        fprintf(stderr, "vsctl call: the request on standard input %s\n",
                ferror(stdin) ? "could not be read" : "is over 1 MiB");
        free(buf);
        return 2;
    }
    *text = buf;
    *len = got;
    return 0;
}

/* Reads an access token from path (one line, at most CALL_TOKEN_MAX bytes). Returns 0 with
 * *token malloc'd, or 2 after printing why not. */
static int call_read_token(const char *path, char **token)
{
    char buf[CALL_TOKEN_MAX + 2];
    FILE *f = fopen(path, "r");
    size_t len;

    if (f == NULL) {
        perror(path);
        return 2;
    }
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    if (len == 0 || len > CALL_TOKEN_MAX || strlen(buf) != len) {
        fprintf(stderr, "vsctl call: --token-file %s: %s\n", path,
                len == 0 ? "empty" : "not a token (one line of at most 4096 bytes)");
        explicit_bzero(buf, sizeof buf);
        return 2;
    }
    *token = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return *token != NULL ? 0 : 2;
}

/* The client for service: vsd's (ctl->url), or the coordinator's. NULL after printing why. */
static vs_client *call_client(vsctl *ctl, const ProtobufCServiceDescriptor *service,
                              const char *coord, vs_client **own)
{
    vs_client_options opts = {0};
    vs_call_status st;

    if (strcmp(vsctl_service_server(service), "vsd") == 0)
        return vsctl_client(ctl);
    opts.timeout_ms = ctl->timeout_ms;
    if (vs_client_open(coord, &opts, own, &st) != VS_OK) {
        vsctl_fail(ctl, "connect to the coordinator", &st);
        return NULL;
    }
    vsctl_token_apply(*own);
    return *own;
}

/* Prints the reply as JSON; 0, or 1 when it cannot be printed. */
static int call_print_reply(vsctl *ctl, const ProtobufCMessage *reply, int compact)
{
    vs_call_status st = {0};
    json_t *json = NULL;
    char *text;

    st.code = pbjson_from_message(reply, &json, st.message, sizeof st.message);
    if (st.code != VS_OK)
        return vsctl_fail(ctl, "call: printing the reply", &st);
    if (!compact) {
        vsctl_print_json(json);
        return 0;
    }
    text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(json);
    if (text != NULL)
        puts(text);
    free(text);
    return 0;
}

int cmd_call(vsctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {{"token-file", required_argument, NULL, 't'},
                                         {"coord", required_argument, NULL, 'c'},
                                         {"compact", no_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *token_file = NULL, *coord = config_get("VS_COORD_URL", "tcp://127.0.0.1:7401");
    const ProtobufCServiceDescriptor *service = NULL;
    const ProtobufCMethodDescriptor *method;
    ProtobufCMessage *request = NULL, *reply = NULL;
    vs_client *client, *own = NULL;
    char *text = NULL, *token = NULL, shown[160], what[300];
    vs_call_status st = {0};
    unsigned index = 0;
    size_t len = 0;
    int opt, compact = 0, rc = 2;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            token_file = optarg;
            break;
        case 'c':
            coord = optarg;
            break;
        case 'C':
            compact = 1;
            break;
        case 'h':
            fputs(call_usage, stdout);
            return 0;
        default:
            fputs(call_usage, stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fputs(call_usage, stderr);
        return 2;
    }
    if (vs_client_method_by_path(argv[optind], &service, &index, &st) != VS_OK) {
        fprintf(stderr,
                "vsctl call: %s: %s; `vsctl describe` lists the services and their methods "
                "(a path is /vs.v1.Service/Method)\n",
                text_quote(shown, sizeof shown, argv[optind], strlen(argv[optind])), st.message);
        return 2;
    }
    method = &service->methods[index];
    snprintf(what, sizeof what, "call /%s/%s", service->name, method->name);
    if (call_read_request(optind + 1 < argc ? argv[optind + 1] : NULL, &text, &len) != 0)
        return 2;
    st.code = pbjson_parse(method->input, text, len, &request, st.message, sizeof st.message);
    if (st.code != VS_OK) {
        vsctl_fail(ctl, what, &st);
        goto out;
    }
    if (token_file != NULL && call_read_token(token_file, &token) != 0)
        goto out;
    rc = 1;
    if ((client = call_client(ctl, service, coord, &own)) == NULL)
        goto out;
    if (token != NULL)
        vs_client_set_token(client, token);
    if (vs_client_call(client, service, index, request, &reply, &st) != VS_OK) {
        vsctl_fail(ctl, what, &st);
        goto out;
    }
    rc = call_print_reply(ctl, reply, compact);
out:
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    if (request != NULL)
        protobuf_c_message_free_unpacked(request, NULL);
    if (token != NULL) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    vs_client_close(own);
    free(text);
    return rc;
}
