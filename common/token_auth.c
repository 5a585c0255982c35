/* token_auth.c — the token secret and the primary's revocation record, shared by vsd and
 * vs-coordinator (token_auth.h). */
#include "token_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "token.h"

/* Reads the secret file of setting (its path) into key, refusing files others may read. */
static vs_status token_read_secret_file(const char *setting, const char *path, uint8_t *key,
                                        size_t *keylen, char *err, size_t errlen)
{
    struct stat st;
    ssize_t n;
    size_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        snprintf(err, errlen, "%s %s: %s", setting, path, strerror(errno));
        return VS_FAILED_PRECONDITION;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s %s is not a regular file", setting, path);
        goto refuse;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "%s %s is accessible to group/others (chmod 600 it)", setting, path);
        goto refuse;
    }
    while ((n = read(fd, key + total, TOKEN_SECRET_MAX - total)) > 0)
        total += (size_t)n;
    if (n < 0 || total == TOKEN_SECRET_MAX) {
        snprintf(err, errlen, "%s %s: %s", setting, path,
                 n < 0 ? strerror(errno) : "larger than 4095 bytes");
        goto refuse;
    }
    close(fd);
    while (total > 0 && strchr(" \t\r\n", key[total - 1]) != NULL)
        total--;
    *keylen = total;
    return VS_OK;
refuse:
    close(fd);
    return VS_FAILED_PRECONDITION;
}

/* One secret from the setting `name` (the key itself) or, when that is unset, `file_name` (a
 * file holding it). *source is the setting used, NULL when neither is set (*keylen 0). */
static vs_status token_secret_read(const char *name, const char *file_name,
                                   uint8_t key[TOKEN_SECRET_MAX], size_t *keylen,
                                   const char **source, char *err, size_t errlen)
{
    const char *secret = getenv(name); /* not config_get: empty must not mean unset */
    const char *file = config_get(file_name, NULL);
    vs_status rc;

    *keylen = 0;
    *source = NULL;
    if (secret != NULL) {
        size_t len = strlen(secret);

        if (len >= TOKEN_SECRET_MAX) {
            snprintf(err, errlen, "%s is longer than 4095 bytes", name);
            return VS_FAILED_PRECONDITION;
        }
        memcpy(key, secret, len);
        *keylen = len;
        *source = name;
    } else if (file != NULL) {
        if ((rc = token_read_secret_file(file_name, file, key, keylen, err, errlen)) != VS_OK)
            return rc;
        *source = file_name;
    } else {
        return VS_OK;
    }
    /* an empty key makes libjwt skip the signature: never accept tokens with one */
    if (*keylen < TOKEN_KEY_MIN) {
        if (secret != NULL)
            snprintf(err, errlen, "token secret %s is %zu bytes; at least %d are required", name,
                     *keylen, TOKEN_KEY_MIN);
        else
            snprintf(err, errlen, "token secret %s (%s) is %zu bytes; at least %d are required",
                     file_name, file, *keylen, TOKEN_KEY_MIN);
        return VS_FAILED_PRECONDITION;
    }
    return VS_OK;
}

vs_status token_secrets_load(token_secrets *s, char *err, size_t errlen)
{
    vs_status rc;

    rc = token_secret_read("VS_JWT_SECRET", "VS_JWT_SECRET_FILE", s->current, &s->current_len,
                           &s->current_source, err, errlen);
    if (rc == VS_OK && s->current_source == NULL) {
        snprintf(err, errlen,
                 "no token secret: set VS_JWT_SECRET_FILE (tools/stack writes one) "
                 "or VS_JWT_SECRET");
        rc = VS_FAILED_PRECONDITION;
    }
    if (rc == VS_OK)
        rc = token_secret_read("VS_JWT_SECRET_PREVIOUS", "VS_JWT_SECRET_PREVIOUS_FILE", s->previous,
                               &s->previous_len, &s->previous_source, err, errlen);
    if (rc != VS_OK) {
        sodium_memzero(s, sizeof *s);
        return rc;
    }
    return VS_OK;
}

token_keys token_secrets_keys(const token_secrets *s)
{
    token_keys keys = {.current = s->current, .current_len = s->current_len};

    if (s->previous_source != NULL) {
        keys.previous = s->previous;
        keys.previous_len = s->previous_len;
    }
    return keys;
}

vs_status token_revoked_on_primary(MYSQL *db, const char *jti, int *revoked, char *err,
                                   size_t errlen)
{
    char sql[128];
    MYSQL_RES *res;

    *revoked = 0;
    if (strlen(jti) != TOKEN_JTI_LEN || strspn(jti, "0123456789abcdef") != TOKEN_JTI_LEN) {
        snprintf(err, errlen, "malformed jti");
        return VS_INVALID_ARGUMENT;
    }
    snprintf(sql, sizeof sql, "SELECT 1 FROM auth_revoked_token WHERE jti = '%s'", jti);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "primary: %s", mysql_error(db));
        return db_status_from_errno(mysql_errno(db));
    }
    *revoked = mysql_num_rows(res) > 0;
    mysql_free_result(res);
    return VS_OK;
}
