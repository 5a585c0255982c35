/* window.h — business time: days, ISO weeks and months in the configured time zone.
 *
 * A business_date is a calendar day in the business time zone (default Asia/Seoul), counted as
 * days since 1970-01-01 in the proleptic Gregorian calendar; it is a date, not an instant. Events
 * belong to the business day in which the server received them. A week is ISO Monday–Sunday; a
 * month is the calendar month. Date arithmetic is pure integer code; only the instant → day
 * mapping consults the zone database (glibc, via TZ set once by window_init). */
#ifndef VS_WINDOW_H
#define VS_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

typedef int32_t business_date;

typedef enum window_period { WINDOW_DAY = 1, WINDOW_WEEK = 2, WINDOW_MONTH = 3 } window_period;

/* Selects the business time zone for the process (sets TZ). Call once at start-up, before any
 * thread is created. Unknown zone → VS_INVALID_ARGUMENT (glibc would silently use UTC). */
vs_status window_init(const char *tz, char *err, size_t errlen);

/* The business day containing the instant (milliseconds since the Unix epoch). */
business_date window_day_of(int64_t unix_ms);

/* The first instant (ms) of business day d. */
int64_t window_day_start_ms(business_date d);

/* Civil date <-> business_date (pure). */
business_date window_from_civil(int year, int month, int day);
void window_to_civil(business_date d, int *year, int *month, int *day);

/* "YYYY-MM-DD" (out has room for 11 bytes). */
void window_format(business_date d, char out[11]);

/* Strict "YYYY-MM-DD" with a real calendar date, years 1970..9999; VS_INVALID_ARGUMENT otherwise.
 */
vs_status window_parse(const char *text, business_date *out);

/* The business dates a caller may name (statistics, top-N, settlement, batch run dates): the
 * widest range inside 1970..9999 made of whole ISO weeks and whole calendar months, so the day,
 * week and month containing any accepted date lie inside it too — and inside MariaDB's DATE
 * (1000..9999): the week of 9999-12-31 would end in the year 10000. */
#define WINDOW_FIRST_ACCEPTED "1973-01-01" /* a Monday and the first of a month */
#define WINDOW_LAST_ACCEPTED "9999-10-31"  /* a Sunday and the last of a month */

/* VS_OK when d is inside WINDOW_FIRST_ACCEPTED..WINDOW_LAST_ACCEPTED; else VS_INVALID_ARGUMENT
 * and err gets "<field>: 9999-12-31 is outside the accepted dates 1973-01-01..9999-10-31". */
vs_status window_check_accepted(const char *field, business_date d, char *err, size_t errlen);

/* ISO weekday: 1 = Monday ... 7 = Sunday. */
int window_weekday(business_date d);

/* First and last day (inclusive) of the period containing d. */
void window_period_range(window_period period, business_date d, business_date *first,
                         business_date *last);

#endif
