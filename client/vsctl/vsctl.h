/* vsctl.h — shared state and helpers of the vsctl command-line tool.
 *
 * Every subcommand is `int cmd_x(vsctl *ctl, int argc, char **argv)` returning the process exit
 * status: 0 success, 1 the call failed (status printed), 2 usage error. Output goes to stdout as
 * aligned text, or JSON when --json was given; errors go to stderr (JSON on stdout with --json). */
#ifndef VS_VSCTL_H
#define VS_VSCTL_H

#include <jansson.h>
#include <stdio.h>
#include <vs/client.h>

typedef struct vsctl {
    const char *url;
    int json;
    int timeout_ms;
    vs_client *client; /* opened on first use by vsctl_client() */
} vsctl;

typedef struct vsctl_command {
    const char *name;
    int (*run)(vsctl *ctl, int argc, char **argv);
    const char *summary;
} vsctl_command;

/* The client handle, opened on first use (with the saved token, if any). NULL after printing
 * why it could not be opened. */
vs_client *vsctl_client(vsctl *ctl);

/* Reports a failed call: "vsctl: <what>: CODE: message" on stderr, or a JSON error object on
 * stdout with --json. Returns the exit status to use (1). */
int vsctl_fail(vsctl *ctl, const char *what, const vs_call_status *status);

/* Prints a JSON value (stealing the reference) followed by a newline. */
void vsctl_print_json(json_t *value);

/* Formats n with thousands separators ("1,150,000") into buf. */
const char *vsctl_thousands(long long n, char *buf, size_t len);

/* The kept access token (token.c): $XDG_CONFIG_HOME/vs/token, default ~/.config/vs/token, 0600.
 * path: 0 or -1 when no home is known. save: 0 or -1 with err. load: 0 with *out malloc'd (NULL
 * when there is none; caller frees), -1 when unreadable or not mode 0600. remove: 0 or -1. */
int vsctl_token_path(char *out, size_t outlen);
int vsctl_token_save(const char *token, char *err, size_t errlen);
int vsctl_token_load(char **out);
int vsctl_token_remove(void);
/* Sends the kept token (if any) with every call of client: vsd's and the coordinator's alike. */
void vsctl_token_apply(vs_client *client);

int cmd_health(vsctl *ctl, int argc, char **argv);
int cmd_user(vsctl *ctl, int argc, char **argv);
int cmd_admin(vsctl *ctl, int argc, char **argv);
int cmd_video(vsctl *ctl, int argc, char **argv);
int cmd_play(vsctl *ctl, int argc, char **argv);
int cmd_stats(vsctl *ctl, int argc, char **argv); /* dispatches to cmd_stats_* */
int cmd_stats_live(vsctl *ctl, int argc, char **argv);
int cmd_stats_video(vsctl *ctl, int argc, char **argv); /* stats_period.c */
int cmd_stats_top(vsctl *ctl, int argc, char **argv);
int cmd_settlement(vsctl *ctl, int argc, char **argv); /* settlement.c */
int cmd_batch(vsctl *ctl, int argc, char **argv);      /* batch.c */
int cmd_ratecard(vsctl *ctl, int argc, char **argv);   /* ratecard.c */
int cmd_traffic(vsctl *ctl, int argc, char **argv);    /* finance.c */
/* vsctl settlement close (finance.c; settlement.c dispatches to it). */
int cmd_settlement_close(vsctl *ctl, int argc, char **argv);

/* The coordinator's URL: a leading --coord URL (or --coord=URL) taken off argv, else
 * VS_COORD_URL, else tcp://127.0.0.1:7401 (batch.c). */
const char *vsctl_coord_url(int *argc, char ***argv);
/* Connects to the coordinator with the saved token; 0, or the exit code after an error message. */
int vsctl_coord_open(vsctl *ctl, const char *url, vs_client **out);
int cmd_call(vsctl *ctl, int argc, char **argv);       /* call.c */
int cmd_describe(vsctl *ctl, int argc, char **argv);   /* describe.c */

/* The server that answers service's calls: "vsd" (--url) or "vs-coordinator" (call.c). */
const char *vsctl_service_server(const ProtobufCServiceDescriptor *service);

/* Aligned text tables (table.c): vsctl_table_new("lrr") makes a table of three columns (left,
 * right, right aligned); each vsctl_table_row passes that many strings (copied). */
typedef struct vsctl_table vsctl_table;
vsctl_table *vsctl_table_new(const char *align);
void vsctl_table_row(vsctl_table *t, ...);
void vsctl_table_print(vsctl_table *t, FILE *out, const char *indent);
void vsctl_table_free(vsctl_table *t);

/* "1,150,000 won" and, for milli-won, "605,000.300 won". */
const char *vsctl_won(long long won, char *buf, size_t len);
const char *vsctl_milli_won(long long milli, char *buf, size_t len);

/* --period day|week|month and --date YYYY-MM-DD of the read commands (stats_period.c): print the
 * usage error and return -1 on bad input. */
int vsctl_period_arg(const char *cmd, const char *text, int *period);
int vsctl_date_arg(const char *cmd, const char *text);

#endif
