/* gtid.c — comparing MariaDB GTID positions. */
#include "gtid.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>

/* Parses one "domain-server-seq" at *p (leading spaces allowed), advancing past it and a
 * following comma. 1 on success, 0 at the end of the list, -1 on malformed text. */
static int gtid_next(const char **p, unsigned long long *domain, unsigned long long *seq)
{
    const char *s = *p;
    unsigned long long part[3];
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        part[i] = strtoull(s, &end, 10);
        s = end;
        if (i < 2 && *s++ != '-')
            return -1;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s == ',')
        s++;
    else if (*s != '\0')
        return -1;
    *domain = part[0];
    *seq = part[2];
    *p = s;
    return 1;
}

/* The sequence number `list` holds for domain (0 when absent); -1 on malformed text. */
static int gtid_seq_of(const char *list, unsigned long long domain, unsigned long long *seq)
{
    unsigned long long d, s;
    int r;

    *seq = 0;
    while ((r = gtid_next(&list, &d, &s)) == 1)
        if (d == domain)
            *seq = s;
    return r;
}

int gtid_reached(const char *applied, const char *wanted)
{
    unsigned long long domain, want_seq, have_seq;
    const char *p = wanted;
    int r, reached = 1;

    if (applied == NULL || wanted == NULL)
        return -1;
    while ((r = gtid_next(&p, &domain, &want_seq)) == 1) {
        if (gtid_seq_of(applied, domain, &have_seq) < 0)
            return -1;
        if (have_seq < want_seq)
            reached = 0;
    }
    return r < 0 ? -1 : reached;
}

int gtid_valid(const char *text)
{
    unsigned long long domain, seq;
    int r;

    if (text == NULL)
        return 0;
    while ((r = gtid_next(&text, &domain, &seq)) == 1)
        ;
    return r == 0;
}
