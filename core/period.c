/* period.c — request periods and their settlement status. */
#include "period.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

const char *period_name(int period)
{
    switch (period) {
    case WINDOW_DAY:
        return "day";
    case WINDOW_WEEK:
        return "week";
    case WINDOW_MONTH:
        return "month";
    default:
        return "?";
    }
}

vs_status period_resolve(int period, const char *date, period_range *out, char *err, size_t errlen)
{
    business_date d;
    char quoted[48];

    if (period != WINDOW_DAY && period != WINDOW_WEEK && period != WINDOW_MONTH) {
        snprintf(err, errlen, "period: must be DAY, WEEK or MONTH (got %d)", period);
        return VS_INVALID_ARGUMENT;
    }
    if (date == NULL || *date == '\0') {
        snprintf(err, errlen, "date: required, as YYYY-MM-DD (any day inside the %s)",
                 period_name(period));
        return VS_INVALID_ARGUMENT;
    }
    if (window_parse(date, &d) != VS_OK) {
        snprintf(err, errlen, "date: %s is not a calendar date YYYY-MM-DD (1970..9999)",
                 text_quote(quoted, sizeof quoted, date, strlen(date)));
        return VS_INVALID_ARGUMENT;
    }
    if (window_check_accepted("date", d, err, errlen) != VS_OK)
        return VS_INVALID_ARGUMENT;
    out->kind = (window_period)period;
    window_period_range(out->kind, d, &out->first, &out->last);
    out->days = (int)(out->last - out->first + 1);
    return VS_OK;
}

void period_describe(const period_range *r, uint64_t settled_mask, period_settlement *out)
{
    char first[11], last[11], missing[11];
    int first_missing = -1;

    out->days_settled = 0;
    for (int i = 0; i < r->days && i < PERIOD_MAX_DAYS; i++) {
        if (settled_mask & (UINT64_C(1) << i))
            out->days_settled++;
        else if (first_missing < 0)
            first_missing = i;
    }
    out->complete = out->days_settled == r->days;
    window_format(r->first, first);
    window_format(r->last, last);
    if (out->complete) {
        snprintf(out->status, sizeof out->status, "settled");
    } else if (out->days_settled == 0 && r->days == 1) {
        snprintf(out->status, sizeof out->status,
                 "not settled: the settlement batch for %s has not completed", first);
    } else if (out->days_settled == 0) {
        snprintf(out->status, sizeof out->status,
                 "not settled: no day of %s..%s has a completed settlement batch", first, last);
    } else {
        window_format(r->first + first_missing, missing);
        snprintf(out->status, sizeof out->status,
                 "partial: %d of %d days settled (first unsettled day %s); figures cover the "
                 "settled days only",
                 out->days_settled, r->days, missing);
    }
}
