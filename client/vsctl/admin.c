/* admin.c — `vsctl admin grant`: the operator's way to set a user's role.
 *
 * It needs no existing admin: it talks to the MariaDB primary directly with the credentials of
 * the local stack's configuration (VS_DB_PRIMARY from the env file, or --db), the same
 * credentials vsd itself uses. Whoever can read that configuration already controls the data,
 * so it is the operator's authority. Tokens issued before a change carry the old role until
 * they expire (VS_TOKEN_TTL_S); Me shows the new one at once. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "db.h"
#include "vsctl.h"

static const char admin_usage[] =
    "usage: vsctl [--json] admin grant --email E --role admin|creator|viewer [--db URL]\n"
    "\n"
    "Sets the role of the user with email E directly in the database (no admin token needed):\n"
    "the operator command for making the first admin. --db defaults to VS_DB_PRIMARY from the\n"
    "environment or the stack's env file ($VS_HOME/env, .vs/env).\n"
    "Tokens already issued keep their old role claim until they expire.\n"
    "Exit status: 0 ok, 1 no such user or the database failed, 2 usage.\n";

static int admin_fail(vsctl *ctl, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int admin_fail(vsctl *ctl, int code, const char *fmt, ...)
{
    vs_call_status st = {.code = code};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(st.message, sizeof st.message, fmt, ap);
    va_end(ap);
    return vsctl_fail(ctl, "admin grant", &st);
}

static int admin_grant(vsctl *ctl, const char *email_in, const char *role_name, const char *url)
{
    char email[ACCOUNT_EMAIL_MAX + 1], escaped[2 * ACCOUNT_EMAIL_MAX + 1], sql[768], err[512];
    int role = account_role_parse(role_name);
    int64_t user_id = 0, before = 0;
    MYSQL *db = NULL;
    int rc = 1;

    if (role < 0) {
        fprintf(stderr, "vsctl admin grant: --role must be admin, creator or viewer\n");
        return 2;
    }
    if (account_normalize_email(email_in, email, sizeof email, err, sizeof err) != VS_OK) {
        fprintf(stderr, "vsctl admin grant: %s\n", err);
        return 2;
    }
    if (url == NULL) {
        fprintf(stderr, "vsctl admin grant: no database: set VS_DB_PRIMARY (tools/stack up writes "
                        "it) or pass --db\n");
        return 2;
    }
    if (db_connect(url, 5, &db, err, sizeof err) != VS_OK)
        return admin_fail(ctl, VS_UNAVAILABLE, "%s", err);
    mysql_real_escape_string(db, escaped, email, (unsigned long)strlen(email));
    snprintf(sql, sizeof sql, "SELECT id FROM users WHERE email = '%s'", escaped);
    if (db_query_int(db, sql, &user_id, err, sizeof err) != VS_OK) {
        rc = admin_fail(ctl, VS_NOT_FOUND, "no user with email %s", email);
        goto out;
    }
    snprintf(sql, sizeof sql, "SELECT role FROM users WHERE id = %lld", (long long)user_id);
    if (db_query_int(db, sql, &before, err, sizeof err) != VS_OK) {
        rc = admin_fail(ctl, VS_INTERNAL, "%s", err);
        goto out;
    }
    snprintf(sql, sizeof sql, "UPDATE users SET role = %d WHERE id = %lld", role,
             (long long)user_id);
    if (db_exec(db, sql, err, sizeof err) != VS_OK) {
        rc = admin_fail(ctl, VS_INTERNAL, "%s", err);
        goto out;
    }
    if (ctl->json)
        vsctl_print_json(json_pack("{s:I,s:s,s:s,s:s}", "user_id", (json_int_t)user_id, "email",
                                   email, "role", account_role_name(role), "previous_role",
                                   account_role_name((int)before)));
    else
        printf("user %lld (%s): role %s (was %s)\n", (long long)user_id, email,
               account_role_name(role), account_role_name((int)before));
    rc = 0;
out:
    mysql_close(db);
    return rc;
}

int cmd_admin(vsctl *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"email", required_argument, NULL, 'e'}, {"role", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'd'},    {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *email = NULL, *role = NULL, *url = config_get("VS_DB_PRIMARY", NULL);
    int opt;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(admin_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "grant") != 0) {
        fprintf(stderr, "vsctl admin: unknown command \"%s\"\n%s", argv[1], admin_usage);
        return 2;
    }
    optind = 0;
    while ((opt = getopt_long(argc - 1, argv + 1, "+h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            email = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 'd':
            url = optarg;
            break;
        case 'j':
            ctl->json = 1;
            break;
        case 'h':
            fputs(admin_usage, stdout);
            return 0;
        default:
            fputs(admin_usage, stderr);
            return 2;
        }
    }
    if (optind < argc - 1 || email == NULL || role == NULL) {
        fprintf(stderr, "vsctl admin grant: --email and --role are required\n%s", admin_usage);
        return 2;
    }
    return admin_grant(ctl, email, role, url);
}
