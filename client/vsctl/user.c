/* user.c — `vsctl user signup|login|logout|whoami`.
 *
 * Passwords never come from argv (the process list shows it): they are read from the terminal
 * with echo off, or from standard input with --password-stdin. The token login receives is kept
 * in the token file (token.c) and sent by every later command. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <vs/user.h>

#include "account.h"
#include "vsctl.h"

#define USER_PW_CAP (ACCOUNT_PASSWORD_MAX + 3)

static const char user_usage[] =
    "usage: vsctl [--json] user COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  signup --email E [--name N] [--password-stdin]\n"
    "                 create an account (role viewer); the name defaults to the part of the\n"
    "                 email before '@'\n"
    "  login --email E [--password-stdin]\n"
    "                 log in and keep the access token for later commands\n"
    "  logout         revoke the kept token on the server and forget it\n"
    "  whoami         show the logged-in user (id, email, name, role, created)\n"
    "\n"
    "The password is prompted for on the terminal without echo, or read from standard input\n"
    "with --password-stdin (one line; a trailing newline is dropped). It is never an argument.\n"
    "The token is kept in $XDG_CONFIG_HOME/vs/token (default ~/.config/vs/token), mode 0600.\n"
    "--json prints JSON. Exit status: 0 ok, 1 the call failed, 2 usage.\n";

/* The terminal being prompted on, so a signal during the prompt can restore its echo. */
static int user_tty = -1;
static struct termios user_tty_saved;

static void user_restore_tty(int sig)
{
    if (user_tty >= 0)
        tcsetattr(user_tty, TCSAFLUSH, &user_tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line from fd into buf (cap bytes) without its newline; -1 when longer than the
 * largest password (the rest of the line is drained) or on read error. */
static int user_read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int too_long = 0;
    char c;

    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0)
            return -1;
        if (r == 0 || c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            too_long = 1;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return too_long || n > ACCOUNT_PASSWORD_MAX ? -1 : 0;
}

/* Prompts on /dev/tty with echo off. */
static int user_prompt(const char *prompt, char *buf, size_t cap, size_t *len)
{
    struct termios quiet;
    int rc;

    user_tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (user_tty < 0) {
        fprintf(stderr, "vsctl: no terminal to ask for the password; use --password-stdin\n");
        return -1;
    }
    if (tcgetattr(user_tty, &user_tty_saved) != 0) {
        close(user_tty);
        user_tty = -1;
        fprintf(stderr, "vsctl: cannot turn terminal echo off; use --password-stdin\n");
        return -1;
    }
    signal(SIGINT, user_restore_tty);
    signal(SIGTERM, user_restore_tty);
    signal(SIGTSTP, user_restore_tty);
    quiet = user_tty_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    if (write(user_tty, prompt, strlen(prompt)) < 0 ||
        tcsetattr(user_tty, TCSAFLUSH, &quiet) != 0) {
        rc = -1;
    } else {
        rc = user_read_line(user_tty, buf, cap, len);
    }
    tcsetattr(user_tty, TCSAFLUSH, &user_tty_saved);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGTSTP, SIG_DFL);
    close(user_tty);
    user_tty = -1;
    if (rc != 0)
        fprintf(stderr, "vsctl: password: at most %d bytes\n", ACCOUNT_PASSWORD_MAX);
    return rc;
}

/* The password, from stdin or the terminal (twice when confirm). 0 ok, 2 usage-type failure. */
static int user_password(int from_stdin, int confirm, char *buf, size_t cap, size_t *len)
{
    char again[USER_PW_CAP];
    size_t again_len = 0;
    int same;

    if (from_stdin) {
        if (user_read_line(STDIN_FILENO, buf, cap, len) != 0) {
            fprintf(stderr, "vsctl: password: at most %d bytes on standard input\n",
                    ACCOUNT_PASSWORD_MAX);
            return 2;
        }
        return 0;
    }
    if (user_prompt("Password: ", buf, cap, len) != 0)
        return 2;
    if (!confirm)
        return 0;
    if (user_prompt("Repeat password: ", again, sizeof again, &again_len) != 0)
        return 2;
    same = again_len == *len && memcmp(again, buf, *len) == 0;
    explicit_bzero(again, sizeof again);
    if (!same) {
        fprintf(stderr, "vsctl: the passwords do not match\n");
        return 2;
    }
    return 0;
}

/* Options shared by signup and login. */
typedef struct user_opts {
    const char *email, *name;
    int password_stdin;
} user_opts;

static int user_parse(vsctl *ctl, const char *cmd, int argc, char **argv, user_opts *o,
                      int allow_email)
{
    static const struct option longopts[] = {
        {"email", required_argument, NULL, 'e'},    {"name", required_argument, NULL, 'n'},
        {"password-stdin", no_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int opt;

    memset(o, 0, sizeof *o);
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            o->email = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'p':
            o->password_stdin = 1;
            break;
        case 'j':
            ctl->json = 1;
            break;
        case 'h':
            fputs(user_usage, stdout);
            return 0;
        default:
            fputs(user_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsctl user %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
        return 2;
    }
    if (o->name != NULL && strcmp(cmd, "signup") != 0) {
        fprintf(stderr, "vsctl user %s: --name is only for signup\n", cmd);
        return 2;
    }
    if (allow_email && o->email == NULL) {
        fprintf(stderr, "vsctl user %s: --email is required\n", cmd);
        return 2;
    }
    if (!allow_email && (o->email || o->name || o->password_stdin)) {
        fprintf(stderr, "vsctl user %s: takes no options but --json\n", cmd);
        return 2;
    }
    return -1; /* parsed; carry on */
}

static int user_signup(vsctl *ctl, const user_opts *o)
{
    char email[ACCOUNT_EMAIL_MAX + 1], name[ACCOUNT_LOCAL_MAX + 1], pw[USER_PW_CAP], err[256];
    size_t pwlen = 0;
    uint64_t id = 0;
    vs_call_status st;
    vs_client *c;
    int rc;

    /* the server checks again; checking here spares a password prompt for a typo */
    if (account_normalize_email(o->email, email, sizeof email, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl user signup: %s\n", err);
        return 2;
    }
    snprintf(name, sizeof name, "%.*s", (int)strcspn(email, "@"), email);
    if ((rc = user_password(o->password_stdin, 1, pw, sizeof pw, &pwlen)) != 0)
        return rc;
    if (account_check_password(pw, pwlen, err, sizeof err) != VS_OK) {
        explicit_bzero(pw, sizeof pw);
        fprintf(stderr, "vsctl user signup: %s\n", err);
        return 2;
    }
    if ((c = vsctl_client(ctl)) == NULL) {
        explicit_bzero(pw, sizeof pw);
        return 1;
    }
    rc = vs_user_signup(c, email, pw, o->name ? o->name : name, &id, &st);
    explicit_bzero(pw, sizeof pw);
    if (rc != VS_OK)
        return vsctl_fail(ctl, "user signup", &st);
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:s,s:s}", "user_id", (json_int_t)id, "email", email,
                                   "display_name", o->name ? o->name : name));
    else
        printf("signed up %s as user %llu; log in with: vsctl user login --email %s\n", email,
               (unsigned long long)id, email);
    return 0;
}

static int user_login(vsctl *ctl, const user_opts *o)
{
    char pw[USER_PW_CAP], err[256], path[1024] = "", when[32];
    size_t pwlen = 0;
    char *token = NULL;
    int64_t exp = 0;
    uint64_t id = 0;
    vs_call_status st;
    vs_client *c;
    time_t t;
    int rc;

    if ((rc = user_password(o->password_stdin, 0, pw, sizeof pw, &pwlen)) != 0)
        return rc;
    if ((c = vsctl_client(ctl)) == NULL) {
        explicit_bzero(pw, sizeof pw);
        return 1;
    }
    rc = vs_user_login(c, o->email, pw, &token, &exp, &id, &st);
    explicit_bzero(pw, sizeof pw);
    if (rc != VS_OK)
        return vsctl_fail(ctl, "user login", &st);
    rc = vsctl_token_save(token, err, sizeof err);
    explicit_bzero(token, strlen(token));
    free(token);
    if (rc != 0) {
        fprintf(stderr, "vsctl user login: logged in, but cannot keep the token: %s\n", err);
        return 1;
    }
    vsctl_token_path(path, sizeof path);
    t = (time_t)exp;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:I,s:s,s:s}", "user_id", (json_int_t)id, "expires_unix",
                                   (json_int_t)exp, "expires", when, "token_file", path));
    else
        printf("logged in as user %llu until %s (token in %s)\n", (unsigned long long)id, when,
               path);
    return 0;
}

static int user_logout(vsctl *ctl)
{
    char path[1024] = "", *token = NULL;
    vs_call_status st;
    vs_client *c;
    int rc;

    vsctl_token_path(path, sizeof path);
    if (vsctl_token_load(&token) != 0 || token == NULL) {
        if (ctl->json)
            vsctl_print_json(json_pack("{s:b,s:s}", "revoked", 0, "detail", "not logged in"));
        else
            printf("not logged in (no token in %s)\n", path);
        return 0;
    }
    explicit_bzero(token, strlen(token));
    free(token);
    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    rc = vs_user_logout(c, &st);
    /* a token the server refuses is worthless: forget it too; keep it when logout may be
     * retried (server unreachable) so the revocation can still happen */
    if (rc == VS_OK || rc == VS_UNAUTHENTICATED)
        vsctl_token_remove();
    if (rc != VS_OK)
        return vsctl_fail(ctl, "user logout", &st);
    if (ctl->json)
        vsctl_print_json(json_pack("{s:b}", "revoked", 1));
    else
        printf("logged out: the token is revoked and %s removed\n", path);
    return 0;
}

static int user_whoami(vsctl *ctl)
{
    vs_user *u = NULL;
    vs_call_status st;
    vs_client *c;
    char when[32];
    time_t t;

    if ((c = vsctl_client(ctl)) == NULL)
        return 1;
    if (vs_user_me(c, &u, &st) != VS_OK)
        return vsctl_fail(ctl, "user whoami", &st);
    t = (time_t)vs_user_created_unix(u);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    if (ctl->json)
        vsctl_print_json(json_pack(
            "{s:I,s:s,s:s,s:s,s:I,s:s}", "id", (json_int_t)vs_user_id(u), "email", vs_user_email(u),
            "display_name", vs_user_display_name(u), "role", vs_role_name(vs_user_role(u)),
            "created_unix", (json_int_t)vs_user_created_unix(u), "created", when));
    else
        printf("user %llu  %s  \"%s\"  %s  since %s\n", (unsigned long long)vs_user_id(u),
               vs_user_email(u), vs_user_display_name(u), vs_role_name(vs_user_role(u)), when);
    vs_user_free(u);
    return 0;
}

int cmd_user(vsctl *ctl, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    user_opts o;
    int rc;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
        strcmp(sub, "help") == 0) {
        fputs(user_usage, sub ? stdout : stderr);
        return sub ? 0 : 2;
    }
    if (strcmp(sub, "signup") == 0 || strcmp(sub, "login") == 0) {
        if ((rc = user_parse(ctl, sub, argc - 1, argv + 1, &o, 1)) >= 0)
            return rc;
        return sub[0] == 's' ? user_signup(ctl, &o) : user_login(ctl, &o);
    }
    if (strcmp(sub, "logout") == 0 || strcmp(sub, "whoami") == 0) {
        if ((rc = user_parse(ctl, sub, argc - 1, argv + 1, &o, 0)) >= 0)
            return rc;
        return sub[0] == 'l' ? user_logout(ctl) : user_whoami(ctl);
    }
    fprintf(stderr, "vsctl user: unknown command \"%s\"\n%s", sub, user_usage);
    return 2;
}
