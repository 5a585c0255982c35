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

/* Reads the secret file into key, refusing files others may read. */
static vs_status token_read_secret_file(const char *path, uint8_t *key, size_t *keylen, char *err,
                                        size_t errlen)
{
    struct stat st;
    ssize_t n;
    size_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        snprintf(err, errlen, "VS_JWT_SECRET_FILE %s: %s", path, strerror(errno));
        return VS_FAILED_PRECONDITION;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "VS_JWT_SECRET_FILE %s is not a regular file", path);
        goto refuse;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "VS_JWT_SECRET_FILE %s is accessible to group/others (chmod 600 it)",
                 path);
        goto refuse;
    }
    while ((n = read(fd, key + total, TOKEN_SECRET_MAX - total)) > 0)
        total += (size_t)n;
    if (n < 0 || total == TOKEN_SECRET_MAX) {
        snprintf(err, errlen, "VS_JWT_SECRET_FILE %s: %s", path,
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

vs_status token_secret_load(uint8_t key[TOKEN_SECRET_MAX], size_t *keylen, const char **source,
                            char *err, size_t errlen)
{
    const char *secret = getenv("VS_JWT_SECRET"); /* not config_get: empty must not mean unset */
    const char *file = config_get("VS_JWT_SECRET_FILE", NULL);
    vs_status rc;

    *keylen = 0;
    if (secret != NULL) {
        size_t len = strlen(secret);

        if (len >= TOKEN_SECRET_MAX) {
            snprintf(err, errlen, "VS_JWT_SECRET is longer than 4095 bytes");
            return VS_FAILED_PRECONDITION;
        }
        memcpy(key, secret, len);
        *keylen = len;
        *source = "VS_JWT_SECRET";
    } else if (file != NULL) {
        if ((rc = token_read_secret_file(file, key, keylen, err, errlen)) != VS_OK)
            return rc;
        *source = file;
    } else {
        snprintf(err, errlen,
                 "no token secret: set VS_JWT_SECRET_FILE (tools/stack writes one) "
                 "or VS_JWT_SECRET");
        return VS_FAILED_PRECONDITION;
    }
    /* an empty key makes libjwt skip the signature: never accept tokens with one */
    if (*keylen < TOKEN_KEY_MIN) {
        snprintf(err, errlen, "token secret (%s) is %zu bytes; at least %d are required", *source,
                 *keylen, TOKEN_KEY_MIN);
        sodium_memzero(key, TOKEN_SECRET_MAX);
        *keylen = 0;
        return VS_FAILED_PRECONDITION;
    }
    return VS_OK;
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
