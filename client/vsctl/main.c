/* main.c — vsctl: global options and subcommand dispatch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "vsctl.h"

static const vsctl_command vsctl_commands[] = {
    {"health", cmd_health, "show vsd's version, uptime and dependency reachability"},
    {"user", cmd_user, "sign up, log in, log out, whoami"},
    {"admin", cmd_admin, "operator commands: grant a role (no admin needed)"},
    {"video", cmd_video, "create, list and show videos"},
    {"play", cmd_play, "start and pause a playback (views, watch time, ad views)"},
    {"stats", cmd_stats, "statistics: live (today, real time), video and top (settled periods)"},
    {"settlement", cmd_settlement,
     "earnings per period, monthly statements and CSV, the ledger, month close"},
    {"batch", cmd_batch, "run the daily settlement batch, follow and list its jobs"},
    {"ratecard", cmd_ratecard, "rate card versions: list, show, add one for a later date"},
    {"traffic", cmd_traffic, "invalidate a viewer's play rows (invalid traffic), list them"},
    {"call", cmd_call, "call any method: JSON request in, JSON reply out"},
    {"describe", cmd_describe, "list services and methods, a method's request and reply fields"},
};

static void vsctl_usage(FILE *out)
{
    fprintf(out, "usage: vsctl [--url URL[,URL...]] [--json] [--timeout MS] COMMAND [ARGS]\n"
                 "\n"
                 "Command-line client for the vs video streaming settlement services.\n"
                 "\n"
                 "global options:\n"
                 "  --url URLS     vsd address(es), comma-separated: calls go to any that is up\n"
                 "                 [VS_URL; default tcp://127.0.0.1:7400]\n"
                 "  --json         print JSON instead of tables (also accepted after COMMAND)\n"
                 "  --timeout MS   per-call deadline [default 10000]\n"
                 "  -h, --help     this text; `vsctl COMMAND --help` for a command\n"
                 "  -V, --version  print the version\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof vsctl_commands / sizeof vsctl_commands[0]; i++)
        fprintf(out, "  %-12s %s\n", vsctl_commands[i].name, vsctl_commands[i].summary);
    fprintf(out,
            "\nThe stack's env file (.vs/env or $VS_HOME/env) is read for VS_URL and friends.\n"
            "tls+tcp:// URLs verify the server's certificate against VS_TLS_CA (PEM file of the\n"
            "deployment's CA; required for them); VS_TLS_CERT and VS_TLS_KEY (mode 0600) give a\n"
            "client certificate, optional for vsd.\n");
}

vs_client *vsctl_client(vsctl *ctl)
{
    vs_client_options opts = {0};
    vs_call_status st;

    if (ctl->client != NULL)
        return ctl->client;
    opts.timeout_ms = ctl->timeout_ms;
    if (vs_client_open(ctl->url, &opts, &ctl->client, &st) != VS_OK) {
        vsctl_fail(ctl, "connect", &st);
        return NULL;
    }
    vsctl_token_apply(ctl->client);
    return ctl->client;
}

int vsctl_fail(vsctl *ctl, const char *what, const vs_call_status *status)
{
    if (ctl->json) {
        json_t *err =
            json_pack("{s:{s:s,s:i,s:s,s:s}}", "error", "status", vs_status_name(status->code),
                      "code", status->code, "message", status->message, "operation", what);
        vsctl_print_json(err);
    } else {
        fprintf(stderr, "vsctl: %s: %s: %s\n", what, vs_status_name(status->code), status->message);
    }
    return 1;
}

void vsctl_print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (text != NULL) {
        puts(text);
        free(text);
    }
    json_decref(value);
}

const char *vsctl_thousands(long long n, char *buf, size_t len)
{
    char digits[32];
    unsigned long long mag = n < 0 ? -(unsigned long long)n : (unsigned long long)n;
    int nd = snprintf(digits, sizeof digits, "%llu", mag);
    size_t o = 0;

    if (n < 0 && o + 1 < len)
        buf[o++] = '-';
    for (int i = 0; i < nd && o + 1 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0 && o + 1 < len)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Removes every "--json" after the command name (up to a "--") from argv and sets ctl->json, so
 * `vsctl video list --mine --json` means the same as `vsctl --json video list --mine`. Returns
 * the new argc. A value that is literally "--json" must be written --flag=--json. */
static int vsctl_take_json(vsctl *ctl, int argc, char **argv, int first)
{
    int out = first;

    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--json") == 0) {
            ctl->json = 1;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},     {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
    vsctl ctl = {0};
    int64_t timeout = 10000;
    int opt, rc;

    config_load();
    ctl.url = config_get("VS_URL", "tcp://127.0.0.1:7400");
    /* '+': stop at the first non-option so subcommands parse their own flags */
    while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            ctl.url = optarg;
            break;
        case 'j':
            ctl.json = 1;
            break;
        case 't':
            if (config_parse_int(optarg, 1, 3600000, &timeout) != 0) {
                fprintf(stderr, "vsctl: --timeout: expected milliseconds, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'h':
            vsctl_usage(stdout);
            return 0;
        case 'V':
            printf("vsctl %s\n", VS_VERSION);
            return 0;
        default:
            vsctl_usage(stderr);
            return 2;
        }
    }
    ctl.timeout_ms = (int)timeout;
    argc = vsctl_take_json(&ctl, argc, argv, optind);
    if (optind >= argc) {
        vsctl_usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof vsctl_commands / sizeof vsctl_commands[0]; i++) {
        if (strcmp(argv[optind], vsctl_commands[i].name) != 0)
            continue;
        optind++;
        rc = vsctl_commands[i].run(&ctl, argc - optind + 1, argv + optind - 1);
        vs_client_close(ctl.client);
        return rc;
    }
    fprintf(stderr, "vsctl: unknown command \"%s\" (see vsctl --help)\n", argv[optind]);
    return 2;
}
