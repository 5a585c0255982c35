/* scrape.c — HTTP GET and the exposition-format checker of the metrics tests (scrape.h). Written
 * from the format's specification, sharing no code with common/metrics.c, so that a renderer bug
 * cannot hide behind the same bug here. */
#include "scrape.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testsupport.h"

#define SCRAPE_MAX_ANSWER (16u << 20)

int ts_http(const char *method, int port, const char *path, char **body, char **content_type)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    char req[512], *buf = NULL, *end, *line;
    size_t len = 0, cap = 0;
    int fd, status = -2;

    if (body != NULL)
        *body = NULL;
    if (content_type != NULL)
        *content_type = NULL;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    snprintf(
        req, sizeof req,
        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        method, path, port);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n;

        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > SCRAPE_MAX_ANSWER || (buf = realloc(buf, cap)) == NULL)
                goto out;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || (end = strstr(buf, "\r\n\r\n")) == NULL) {
        status = -2;
        goto out;
    }
    *end = '\0';
    for (line = strstr(buf, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        char *value = strchr(line + 2, ':');

        if (value == NULL)
            continue;
        if (strncasecmp(line + 2, "Transfer-Encoding:", 18) == 0) {
            status = -2; /* not expected of a fixed-size body */
            goto out;
        }
        if (content_type != NULL && strncasecmp(line + 2, "Content-Type:", 13) == 0) {
            char *stop = strstr(value, "\r\n");

            value++;
            while (*value == ' ')
                value++;
            *content_type = strndup(value, stop ? (size_t)(stop - value) : strlen(value));
        }
    }
    if (body != NULL)
        *body = strdup(end + 4);
out:
    free(buf);
    close(fd);
    return status;
}

char *ts_scrape(int port)
{
    char *body = NULL;
    int status = ts_http("GET", port, "/metrics", &body, NULL);

    if (status != 200)
        fail_msg("GET 127.0.0.1:%d/metrics: status %d (%s)", port, status, strerror(errno));
    assert_non_null(body);
    return body;
}

/* ---- the format ---- */

typedef struct family {
    char name[128];
    char type[16];
    int help, typed, sampled;
} family;

typedef struct sample {
    char name[128];
    char labels[1024]; /* sorted name=value pairs without le, each ending in \001 */
    int family;
    int has_le;
    double le, value;
} sample;

typedef struct parsed {
    family *fams;
    size_t n_fams;
    sample *samples;
    size_t n_samples;
} parsed;

static char check_msg[512];

static int is_name_char(char c, int first, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* A metric (colon = 1) or label name at *p into out; 0 when there is none. */
static int parse_name(const char **p, char *out, size_t outlen, int colon)
{
    size_t n = 0;

    if (!is_name_char(**p, 1, colon))
        return 0;
    while (is_name_char(**p, n == 0, colon)) {
        if (n + 1 < outlen)
            out[n++] = **p;
        (*p)++;
    }
    out[n] = '\0';
    return 1;
}

/* A float as the format spells it: a decimal number, NaN, +Inf or -Inf. */
static int parse_value(const char *text, size_t len, double *out)
{
    char buf[64], *end;

    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strcmp(buf, "NaN") == 0 || strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 ||
        strcmp(buf, "Inf") == 0) {
        *out = buf[0] == 'N' ? NAN : buf[0] == '-' ? -INFINITY : INFINITY;
        return 1;
    }
    if (strspn(buf, "0123456789.eE+-") != len)
        return 0;
    *out = strtod(buf, &end);
    return *end == '\0';
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {labels} at *p (after the name): the sorted pairs without le into s->labels, le into s->le. */
static const char *parse_labels(const char **p, sample *s)
{
    char pairs[32][400], *sorted[32];
    size_t n = 0, used = 0;

    s->labels[0] = '\0';
    s->has_le = 0;
    if (**p != '{')
        return NULL;
    (*p)++;
    for (;;) {
        char lname[128], value[256];
        size_t vlen = 0;

        while (**p == ' ')
            (*p)++;
        if (**p == '}')
            break;
        if (!parse_name(p, lname, sizeof lname, 0))
            return "bad label name";
        if (strncmp(lname, "__", 2) == 0)
            return "reserved label name";
        if (*(*p)++ != '=' || *(*p)++ != '"')
            return "expected =\" after a label name";
        for (;; (*p)++) {
            char c = **p;

            if (c == '\0' || c == '\n')
                return "unterminated label value";
            if (c == '"')
                break;
            if (c == '\\') {
                (*p)++;
                if (**p == 'n')
                    c = '\n';
                else if (**p == '\\' || **p == '"')
                    c = **p;
                else
                    return "bad escape in a label value";
            }
            if (vlen + 1 < sizeof value)
                value[vlen++] = c;
        }
        value[vlen] = '\0';
        (*p)++;
        for (size_t i = 0; i < n; i++)
            if (strncmp(pairs[i], lname, strlen(lname)) == 0 && pairs[i][strlen(lname)] == '=')
                return "label given twice";
        if (strcmp(lname, "le") == 0) {
            if (!parse_value(value, strlen(value), &s->le))
                return "le is not a number";
            s->has_le = 1;
        } else if (n < 32) {
            snprintf(pairs[n], sizeof pairs[n], "%s=%s", lname, value);
            sorted[n] = pairs[n];
            n++;
        }
        while (**p == ' ')
            (*p)++;
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p != '}')
            return "expected , or } after a label";
    }
    (*p)++;
    qsort(sorted, n, sizeof sorted[0], cmp_label);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(s->labels + used, sizeof s->labels - used, "%s\001", sorted[i]);
    return NULL;
}

static int find_family(const parsed *ps, const char *name)
{
    for (size_t i = 0; i < ps->n_fams; i++)
        if (strcmp(ps->fams[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The family a sample name belongs to: its own name, or a histogram's/summary's for a suffix. */
static int sample_family(const parsed *ps, const char *name, const char **why)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    int f = find_family(ps, name);

    if (f >= 0) {
        if (strcmp(ps->fams[f].type, "histogram") == 0) {
            *why = "a histogram's sample without _bucket, _sum or _count";
            return -1;
        }
        return f;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t ln = strlen(name), ls = strlen(suffixes[i]);
        char base[128];

        if (ln <= ls || strcmp(name + ln - ls, suffixes[i]) != 0 || ln - ls >= sizeof base)
            continue;
        snprintf(base, sizeof base, "%.*s", (int)(ln - ls), name);
        f = find_family(ps, base);
        if (f >= 0 && (strcmp(ps->fams[f].type, "histogram") == 0 ||
                       (strcmp(ps->fams[f].type, "summary") == 0 && i > 0)))
            return f;
    }
    *why = "sample of a family without HELP and TYPE";
    return -1;
}

static family *family_get(parsed *ps, const char *name)
{
    int f = find_family(ps, name);

    if (f >= 0)
        return &ps->fams[f];
    ps->fams = realloc(ps->fams, (ps->n_fams + 1) * sizeof *ps->fams);
    assert_non_null(ps->fams);
    memset(&ps->fams[ps->n_fams], 0, sizeof ps->fams[0]);
    snprintf(ps->fams[ps->n_fams].name, sizeof ps->fams[0].name, "%s", name);
    return &ps->fams[ps->n_fams++];
}

/* A comment line: HELP and TYPE are checked, any other comment is allowed. */
static const char *parse_comment(parsed *ps, const char *line, size_t len)
{
    char name[128], rest[64];
    const char *p = line + 1;
    family *f;
    int help;

    while (*p == ' ')
        p++;
    if (strncmp(p, "HELP ", 5) != 0 && strncmp(p, "TYPE ", 5) != 0)
        return NULL;
    help = p[0] == 'H';
    p += 5;
    while (*p == ' ')
        p++;
    if (!parse_name(&p, name, sizeof name, 1))
        return "HELP/TYPE without a metric name";
    f = family_get(ps, name);
    if (f->sampled)
        return "HELP/TYPE after the family's samples";
    if (help) {
        if (f->help)
            return "second HELP line";
        f->help = 1;
        for (; p < line + len; p++)
            if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                return "bad escape in HELP";
            else if (*p == '\\')
                p++;
        return NULL;
    }
    if (f->typed)
        return "second TYPE line";
    while (*p == ' ')
        p++;
    snprintf(rest, sizeof rest, "%.*s", (int)(line + len - p), p);
    if (strcmp(rest, "counter") != 0 && strcmp(rest, "gauge") != 0 &&
        strcmp(rest, "histogram") != 0 && strcmp(rest, "summary") != 0 &&
        strcmp(rest, "untyped") != 0)
        return "unknown TYPE";
    snprintf(f->type, sizeof f->type, "%.15s", rest);
    f->typed = 1;
    return NULL;
}

static const char *parse_sample(parsed *ps, const char *line, size_t len)
{
    const char *p = line, *why = NULL, *v;
    sample s;

    memset(&s, 0, sizeof s);
    if (!parse_name(&p, s.name, sizeof s.name, 1))
        return "not a comment nor a sample";
    if (*p == '{' && (why = parse_labels(&p, &s)) != NULL)
        return why;
    if (*p != ' ' && *p != '\t')
        return "no blank before the value";
    while (*p == ' ' || *p == '\t')
        p++;
    for (v = p; p < line + len && *p != ' ' && *p != '\t'; p++)
        ;
    if (!parse_value(v, (size_t)(p - v), &s.value))
        return "bad value";
    while (p < line + len && (*p == ' ' || *p == '\t'))
        p++;
    if (p < line + len) { /* a timestamp: an integer */
        const char *ts = *p == '-' ? p + 1 : p;
        size_t digits = strspn(ts, "0123456789");

        if (digits == 0 || ts + digits != line + len)
            return "bad timestamp";
    }
    if ((s.family = sample_family(ps, s.name, &why)) < 0)
        return why;
    if (!ps->fams[s.family].help || !ps->fams[s.family].typed)
        return "sample of a family without HELP and TYPE";
    if (strcmp(ps->fams[s.family].type, "counter") == 0 &&
        strcmp(s.name, ps->fams[s.family].name) != 0)
        return "counter sample not named as its family";
    if (s.has_le != (strcmp(ps->fams[s.family].type, "histogram") == 0 && strlen(s.name) > 7 &&
                     strcmp(s.name + strlen(s.name) - 7, "_bucket") == 0))
        return "le on a sample that is not a histogram bucket, or a bucket without le";
    for (size_t i = 0; i < ps->n_samples; i++)
        if (strcmp(ps->samples[i].name, s.name) == 0 &&
            strcmp(ps->samples[i].labels, s.labels) == 0 && ps->samples[i].has_le == s.has_le &&
            (!s.has_le || ps->samples[i].le == s.le))
            return "series given twice";
    ps->fams[s.family].sampled = 1;
    ps->samples = realloc(ps->samples, (ps->n_samples + 1) * sizeof *ps->samples);
    assert_non_null(ps->samples);
    ps->samples[ps->n_samples++] = s;
    return NULL;
}

/* Every histogram series: le increasing, counts not decreasing, last +Inf == _count, _sum. */
static const char *check_histograms(const parsed *ps)
{
    for (size_t i = 0; i < ps->n_samples; i++) {
        const sample *first = &ps->samples[i];
        const family *f = &ps->fams[first->family];
        double le = -INFINITY, count = -1, last = 0;
        int seen_sum = 0, seen_count = 0, earlier = 0;
        char base[160];

        if (!first->has_le)
            continue;
        for (size_t k = 0; k < i && !earlier; k++)
            earlier = ps->samples[k].has_le && ps->samples[k].family == first->family &&
                      strcmp(ps->samples[k].labels, first->labels) == 0;
        if (earlier)
            continue;
        for (size_t k = i; k < ps->n_samples; k++) {
            const sample *s = &ps->samples[k];

            if (s->family != first->family || strcmp(s->labels, first->labels) != 0)
                continue;
            if (s->has_le) {
                if (!(s->le > le) || s->value < count)
                    return "histogram buckets not increasing";
                le = s->le;
                count = s->value;
                continue;
            }
            snprintf(base, sizeof base, "%s_count", f->name);
            if (strcmp(s->name, base) == 0) {
                seen_count = 1;
                last = s->value;
            } else {
                seen_sum = 1;
            }
        }
        if (le != INFINITY)
            return "histogram without a +Inf bucket";
        if (!seen_sum || !seen_count)
            return "histogram without _sum or _count";
        if (last != count)
            return "histogram's +Inf bucket differs from its _count";
    }
    return NULL;
}

static void parsed_free(parsed *ps)
{
    free(ps->fams);
    free(ps->samples);
}

/* Parses text; NULL when valid (ps filled), else the message. */
static const char *parse_all(const char *text, parsed *ps)
{
    const char *line = text, *why = NULL;
    int lineno = 0;

    memset(ps, 0, sizeof *ps);
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);

        lineno++;
        if (nl == NULL)
            why = "the text does not end with a newline";
        else if (len == 0)
            why = NULL; /* blank lines are allowed */
        else if (line[0] == '#')
            why = parse_comment(ps, line, len);
        else
            why = parse_sample(ps, line, len);
        if (why != NULL) {
            snprintf(check_msg, sizeof check_msg, "line %d: %s: \"%.*s\"", lineno, why,
                     (int)(len > 200 ? 200 : len), line);
            return check_msg;
        }
        line += len + 1;
    }
    if ((why = check_histograms(ps)) != NULL) {
        snprintf(check_msg, sizeof check_msg, "%s", why);
        return check_msg;
    }
    return NULL;
}

const char *ts_metrics_check(const char *text)
{
    parsed ps;
    const char *why = parse_all(text, &ps);

    parsed_free(&ps);
    return why;
}

double ts_metric(const char *text, const char *name, const char *labels)
{
    char query[1300];
    const char *q = query, *why;
    parsed ps;
    sample want;
    double value = 0;

    memset(&want, 0, sizeof want);
    snprintf(query, sizeof query, "{%s}", labels ? labels : "");
    if ((why = parse_labels(&q, &want)) != NULL)
        fail_msg("ts_metric %s{%s}: %s", name, labels ? labels : "", why);
    if ((why = parse_all(text, &ps)) != NULL)
        fail_msg("ts_metric: the text is not valid: %s", why);
    for (size_t i = 0; i < ps.n_samples; i++)
        if (strcmp(ps.samples[i].name, name) == 0 &&
            strcmp(ps.samples[i].labels, want.labels) == 0 && ps.samples[i].has_le == want.has_le &&
            (!want.has_le || ps.samples[i].le == want.le))
            value = ps.samples[i].value;
    parsed_free(&ps);
    return value;
}

int ts_metric_present(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '{'))
            return 1;
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return 0;
}

/* Adds the LISTEN sockets of table (/proc/net/tcp or tcp6) whose inode is in inodes[0..n). */
static int listeners_in(const char *table, const unsigned long *inodes, size_t n)
{
    char line[512];
    int count = 0;
    FILE *f = fopen(table, "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char st[8];
        unsigned long inode;

        if (sscanf(line, " %*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", st, &inode) != 2 ||
            strcmp(st, "0A") != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (inodes[i] == inode)
                count++;
    }
    fclose(f);
    return count;
}

int ts_tcp_listeners(int pid)
{
    char dir[64], path[600], target[128];
    unsigned long inodes[4096];
    size_t n = 0;
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < sizeof inodes / sizeof inodes[0]) {
        ssize_t len;

        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((len = readlink(path, target, sizeof target - 1)) <= 0)
            continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
            n++;
    }
    closedir(d);
    return listeners_in("/proc/net/tcp", inodes, n) + listeners_in("/proc/net/tcp6", inodes, n);
}
