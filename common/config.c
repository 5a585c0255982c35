/* config.c — env-file import and typed lookups. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

vs_status config_load_file(const char *path, char *err, size_t errlen)
{
    char line[4096];
    int lineno = 0;
    vs_status rc = VS_OK;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return VS_NOT_FOUND;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *key = line, *eq, *value, *end;

        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        while (*key == ' ' || *key == '\t')
            key++;
        if (*key == '\0' || *key == '#')
            continue;
        if (strncmp(key, "export ", 7) == 0)
            key += 7;
        eq = strchr(key, '=');
        if (eq == NULL || eq == key) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = VS_INVALID_ARGUMENT;
            goto out;
        }
        *eq = '\0';
        value = eq + 1;
        end = value + strlen(value);
        /* tolerate one level of quoting, as a shell would */
        if (end - value >= 2 && (*value == '"' || *value == '\'') && end[-1] == *value) {
            end[-1] = '\0';
            value++;
        }
        setenv(key, value, 0);
    }
out:
    fclose(f);
    return rc;
}

const char *config_load(void)
{
    static char path[PATH_MAX];
    const char *explicit_file = getenv("VS_ENV_FILE");
    const char *home = getenv("VS_HOME");
    char err[256];

    if (explicit_file != NULL && *explicit_file != '\0')
        snprintf(path, sizeof path, "%s", explicit_file);
    else if (home != NULL && *home != '\0')
        snprintf(path, sizeof path, "%s/env", home);
    else
        snprintf(path, sizeof path, ".vs/env");
    if (access(path, R_OK) != 0)
        return NULL;
    if (config_load_file(path, err, sizeof err) != VS_OK)
        return NULL;
    return path;
}

const char *config_get(const char *key, const char *fallback)
{
    const char *v = getenv(key);

    return (v == NULL || *v == '\0') ? fallback : v;
}

int config_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (text == NULL || *text == '\0')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

vs_status config_get_int(const char *key, int64_t fallback, int64_t min, int64_t max, int64_t *out,
                         char *err, size_t errlen)
{
    const char *v = config_get(key, NULL);

    if (v == NULL) {
        *out = fallback;
        return VS_OK;
    }
    if (config_parse_int(v, min, max, out) != 0) {
        snprintf(err, errlen, "%s: expected an integer in [%lld, %lld], got \"%s\"", key,
                 (long long)min, (long long)max, v);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}
