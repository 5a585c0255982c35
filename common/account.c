/* account.c — email normalisation, password and display-name rules, role names. */
#include "account.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

static int account_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* RFC 5322 atext: the characters a dot-atom local part may hold besides '.'. */
static int account_is_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+/=?^_`{|}~-", c);
}

static vs_status account_check_local(const char *local, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > ACCOUNT_LOCAL_MAX) {
        snprintf(err, errlen, "email: the part before '@' must be 1 to %d characters",
                 ACCOUNT_LOCAL_MAX);
        return VS_INVALID_ARGUMENT;
    }
    if (local[0] == '.' || local[len - 1] == '.') {
        snprintf(err, errlen, "email: the part before '@' must not start or end with '.'");
        return VS_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < len; i++) {
        if (local[i] == '.' && local[i + 1] == '.') {
            snprintf(err, errlen, "email: the part before '@' must not contain \"..\"");
            return VS_INVALID_ARGUMENT;
        }
        if (local[i] != '.' && !account_is_atext(local[i])) {
            snprintf(err, errlen, "email: '%c' is not allowed before '@'", local[i]);
            return VS_INVALID_ARGUMENT;
        }
    }
    return VS_OK;
}

static vs_status account_check_domain(const char *domain, size_t len, char *err, size_t errlen)
{
    size_t labels = 0, start = 0, last_start = 0;
    int last_all_digits = 1;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && domain[i] != '.') {
            char c = domain[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                snprintf(err, errlen, "email: '%c' is not allowed in the domain", c);
                return VS_INVALID_ARGUMENT;
            }
            continue;
        }
        /* a label ends at i */
        if (i == start || i - start > 63) {
            snprintf(err, errlen, "email: each domain label must be 1 to 63 characters");
            return VS_INVALID_ARGUMENT;
        }
        if (domain[start] == '-' || domain[i - 1] == '-') {
            snprintf(err, errlen, "email: a domain label must not start or end with '-'");
            return VS_INVALID_ARGUMENT;
        }
        labels++;
        last_start = start;
        start = i + 1;
    }
    for (size_t i = last_start; i < len; i++)
        if (domain[i] < '0' || domain[i] > '9')
            last_all_digits = 0;
    if (labels < 2 || last_all_digits) {
        snprintf(err, errlen, "email: the domain must be a name like example.com");
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

vs_status account_normalize_email(const char *email, char *out, size_t outlen, char *err,
                                  size_t errlen)
{
    const char *begin = email ? email : "", *end, *at = NULL;
    size_t len;
    vs_status rc;

    while (account_is_space(*begin))
        begin++;
    end = begin + strlen(begin);
    while (end > begin && account_is_space(end[-1]))
        end--;
    len = (size_t)(end - begin);
    if (len == 0) {
        snprintf(err, errlen, "email: required");
        return VS_INVALID_ARGUMENT;
    }
    if (len > ACCOUNT_EMAIL_MAX || len + 1 > outlen) {
        snprintf(err, errlen, "email: longer than %d characters", ACCOUNT_EMAIL_MAX);
        return VS_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < len; i++) {
        char c = begin[i];

        if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f) {
            snprintf(err, errlen, "email: only printable ASCII without spaces is accepted");
            return VS_INVALID_ARGUMENT;
        }
        if (c == '@') {
            if (at != NULL) {
                snprintf(err, errlen, "email: must contain exactly one '@'");
                return VS_INVALID_ARGUMENT;
            }
            at = out + i;
        }
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    if (at == NULL) {
        snprintf(err, errlen, "email: must contain exactly one '@'");
        return VS_INVALID_ARGUMENT;
    }
    rc = account_check_local(out, (size_t)(at - out), err, errlen);
    if (rc == VS_OK)
        rc = account_check_domain(at + 1, len - (size_t)(at - out) - 1, err, errlen);
    if (rc != VS_OK)
        out[0] = '\0';
    return rc;
}

vs_status account_check_password(const char *password, size_t len, char *err, size_t errlen)
{
    if (password == NULL || len < ACCOUNT_PASSWORD_MIN || len > ACCOUNT_PASSWORD_MAX) {
        snprintf(err, errlen, "password: must be %d to %d bytes long", ACCOUNT_PASSWORD_MIN,
                 ACCOUNT_PASSWORD_MAX);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

long account_utf8_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;

    for (size_t i = 0; i < len; count++) {
        uint32_t cp;
        size_t n = text_utf8_decode(p + i, len - i, &cp);

        if (n == 0)
            return -1;
        i += n;
    }
    return count;
}

vs_status account_check_display_name(const char *name, char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)(name ? name : "");
    size_t len = strlen((const char *)p);
    long chars = 0;
    int blank = 1;

    for (size_t i = 0; i < len; chars++) {
        uint32_t cp;
        size_t n = text_utf8_decode(p + i, len - i, &cp);

        if (n == 0) {
            snprintf(err, errlen, "display_name: not valid UTF-8 (byte %zu)", i);
            return VS_INVALID_ARGUMENT;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            snprintf(err, errlen, "display_name: control characters are not allowed");
            return VS_INVALID_ARGUMENT;
        }
        if (cp != ' ')
            blank = 0;
        i += n;
    }
    if (chars == 0 || blank) {
        snprintf(err, errlen, "display_name: required (1 to %d characters)", ACCOUNT_NAME_MAX);
        return VS_INVALID_ARGUMENT;
    }
    if (chars > ACCOUNT_NAME_MAX) {
        snprintf(err, errlen, "display_name: %ld characters, at most %d allowed", chars,
                 ACCOUNT_NAME_MAX);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

const char *account_role_name(int role)
{
    switch (role) {
    case ACCOUNT_ROLE_VIEWER:
        return "viewer";
    case ACCOUNT_ROLE_CREATOR:
        return "creator";
    case ACCOUNT_ROLE_ADMIN:
        return "admin";
    default:
        return "unknown";
    }
}

int account_role_parse(const char *name)
{
    for (int role = ACCOUNT_ROLE_VIEWER; role <= ACCOUNT_ROLE_ADMIN; role++)
        if (name != NULL && strcmp(name, account_role_name(role)) == 0)
            return role;
    return -1;
}
