/* period.h — the statistics/settlement periods of the read path (docs/rules.md): which days a
 * request covers, and how settled they are.
 *
 * A request names a vs.v1.Period (DAY 1, WEEK 2, MONTH 3) and any date inside it; the period is
 * the business day, the ISO week (Monday–Sunday) or the calendar month containing that date. A day
 * is settled when its settlement batch job has completed (docs/batch.md); a period is complete only
 * when every one of its days is, so a running week or a day whose batch is still going never
 * presents its figures as final. Pure code: no database, no clock. */
#ifndef VS_PERIOD_H
#define VS_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "window.h"

/* The longest period (a month) has 31 days; settled days fit a 64-bit mask. */
#define PERIOD_MAX_DAYS 31

typedef struct period_range {
    window_period kind;  /* WINDOW_DAY/WEEK/MONTH = vs.v1.Period DAY/WEEK/MONTH */
    business_date first; /* first and last day, inclusive */
    business_date last;
    int days; /* last - first + 1: 1, 7 or 28..31 */
} period_range;

typedef struct period_settlement {
    int days_settled;
    int complete;     /* every day of the period is settled */
    char status[200]; /* "settled", or which days are not settled yet */
} period_settlement;

/* The period of kind `period` (a vs.v1.Period value) containing `date` ("YYYY-MM-DD", an accepted
 * date: window_check_accepted, so the whole period is accepted dates too). VS_INVALID_ARGUMENT
 * with a message naming the field ("period: ..." or "date: ...") otherwise. */
vs_status period_resolve(int period, const char *date, period_range *out, char *err, size_t errlen);

/* Describes how settled r is, given settled_mask: bit i set when day r->first + i is settled
 * (bits at or beyond r->days are ignored). */
void period_describe(const period_range *r, uint64_t settled_mask, period_settlement *out);

/* The lower-case name of a period kind ("day", "week", "month"); "?" for anything else. */
const char *period_name(int period);

#endif
