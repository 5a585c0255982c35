/* window.c — business days, weeks and months. */
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

vs_status window_init(const char *tz, char *err, size_t errlen)
{
    char path[512], quoted[80];

    if (tz == NULL || *tz == '\0' || strstr(tz, "..") != NULL || tz[0] == '/') {
        snprintf(err, errlen, "time zone: %s is not a zone name like Asia/Seoul",
                 text_quote(quoted, sizeof quoted, tz, tz ? strlen(tz) : 0));
        return VS_INVALID_ARGUMENT;
    }
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    if (strcmp(tz, "UTC") != 0 && access(path, R_OK) != 0) {
        snprintf(err, errlen,
                 "time zone: unknown zone %s (no such file under /usr/share/zoneinfo; "
                 "is tzdata installed?)",
                 text_quote(quoted, sizeof quoted, tz, strlen(tz)));
        return VS_INVALID_ARGUMENT;
    }
    setenv("TZ", tz, 1);
    tzset();
    return VS_OK;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
business_date window_from_civil(int y, int m, int d)
{
    int era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void window_to_civil(business_date z, int *year, int *month, int *day)
{
    int era, doe, yoe, y, doy, mp, d, m;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    *year = y + (m <= 2);
    *month = m;
    *day = d;
}

business_date window_day_of(int64_t unix_ms)
{
    time_t sec = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
    struct tm local;

    localtime_r(&sec, &local);
    return window_from_civil(local.tm_year + 1900, local.tm_mon + 1, local.tm_mday);
}

int64_t window_day_start_ms(business_date d)
{
    struct tm local = {0};
    int y, m, day;

    window_to_civil(d, &y, &m, &day);
    local.tm_year = y - 1900;
    local.tm_mon = m - 1;
    local.tm_mday = day;
    local.tm_isdst = -1;
    return (int64_t)mktime(&local) * 1000;
}

void window_format(business_date d, char out[11])
{
    int y, m, day;

    window_to_civil(d, &y, &m, &day);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 13u,
             (unsigned)day % 32u);
}

vs_status window_parse(const char *text, business_date *out)
{
    int y, m, d, y2, m2, d2;

    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return VS_INVALID_ARGUMENT;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            return VS_INVALID_ARGUMENT;
    y = atoi(text);
    m = atoi(text + 5);
    d = atoi(text + 8);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return VS_INVALID_ARGUMENT;
    /* round-trip rejects 2026-02-30 and friends */
    *out = window_from_civil(y, m, d);
    window_to_civil(*out, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d)
        return VS_INVALID_ARGUMENT;
    return VS_OK;
}

vs_status window_check_accepted(const char *field, business_date d, char *err, size_t errlen)
{
    business_date first = window_from_civil(1973, 1, 1), last = window_from_civil(9999, 10, 31);
    int y, m, day;

    if (d >= first && d <= last)
        return VS_OK;
    window_to_civil(d, &y, &m, &day);
    snprintf(err, errlen,
             "%s: %04d-%02d-%02d is outside the accepted dates " WINDOW_FIRST_ACCEPTED
             ".." WINDOW_LAST_ACCEPTED,
             field, y, m, day);
    return VS_INVALID_ARGUMENT;
}

int window_weekday(business_date d)
{
    /* 1970-01-01 was a Thursday (ISO 4) */
    int w = (int)((d % 7 + 7 + 3) % 7);

    return w + 1;
}

void window_period_range(window_period period, business_date d, business_date *first,
                         business_date *last)
{
    int y, m, day;

    switch (period) {
    case WINDOW_WEEK:
        *first = d - (window_weekday(d) - 1);
        *last = *first + 6;
        return;
    case WINDOW_MONTH:
        window_to_civil(d, &y, &m, &day);
        *first = window_from_civil(y, m, 1);
        *last = (m == 12 ? window_from_civil(y + 1, 1, 1) : window_from_civil(y, m + 1, 1)) - 1;
        return;
    case WINDOW_DAY:
    default:
        *first = *last = d;
        return;
    }
}
