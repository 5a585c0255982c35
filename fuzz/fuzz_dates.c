/* fuzz_dates.c — business dates, weeks and months (core/window.c, core/period.c): the strict
 * YYYY-MM-DD parser, the accepted range, the period a date falls in and its settlement status.
 *
 * The first input byte picks the period kind asked for (its value - 1: -1..254, so DAY 1, WEEK 2,
 * MONTH 3 and the invalid ones are all reached); the next eight bytes are the settled-days mask;
 * the rest is the date text. When the rest is exactly 4 bytes it is also read as a day number
 * (little-endian, within +-4 million days of 1970, about 11,000 years).
 *
 * Invariants: a parsed date formats back to exactly the same text and converts to the same civil
 * date; the accepted range is the text range 1973-01-01..9999-10-31 (fixed width: text order is
 * date order); a resolved period contains the date, starts on a Monday (week) or the 1st (month),
 * ends the day before the next one starts, and lies inside the accepted dates; its status counts
 * exactly the mask's bits within the period and is "settled" only when all are set; every
 * refusal names its field and is valid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "period.h"
#include "text.h"
#include "window.h"

static void fuzz_period_of(window_period kind, business_date d)
{
    business_date first, last, next_first, next_last;
    int y, m, day;

    window_period_range(kind, d, &first, &last);
    FUZZ_CHECK(first <= d && d <= last, "day %d outside its period %d..%d", d, first, last);
    window_period_range(kind, last + 1, &next_first, &next_last);
    FUZZ_CHECK(next_first == last + 1, "period after %d starts at %d", last, next_first);
    window_to_civil(first, &y, &m, &day);
    switch (kind) {
    case WINDOW_DAY:
        FUZZ_CHECK(first == d && last == d, "a day of %d days", last - first + 1);
        break;
    case WINDOW_WEEK:
        FUZZ_CHECK(last - first == 6 && window_weekday(first) == 1, "week %d..%d", first, last);
        break;
    case WINDOW_MONTH:
        FUZZ_CHECK(day == 1 && last - first >= 27 && last - first <= 30, "month %d..%d", first,
                   last);
        break;
    }
}

/* A day number: civil round trip; formatting parses back for the years the parser takes. */
static void fuzz_day(business_date d)
{
    char text[11];
    business_date back;
    int y, m, day;

    window_to_civil(d, &y, &m, &day);
    FUZZ_CHECK(window_from_civil(y, m, day) == d, "day %d -> %d-%d-%d -> another day", d, y, m,
               day);
    FUZZ_CHECK(m >= 1 && m <= 12 && day >= 1 && day <= 31, "day %d -> month %d day %d", d, m, day);
    FUZZ_CHECK(window_weekday(d) >= 1 && window_weekday(d) <= 7, "weekday of %d", d);
    FUZZ_CHECK(window_weekday(d + 1) == window_weekday(d) % 7 + 1, "weekdays around %d", d);
    if (y < 1970 || y > 9999)
        return;
    window_format(d, text);
    FUZZ_CHECK(window_parse(text, &back) == VS_OK && back == d, "day %d formats as %s", d, text);
}

static void fuzz_text(int kind, uint64_t mask, const char *text)
{
    business_date d = 0;
    period_range r;
    period_settlement st;
    char formatted[11], err[256];
    int y, m, day, bits = 0;
    int parsed = window_parse(text, &d) == VS_OK;
    int in_range = strlen(text) == 10 && strcmp(text, WINDOW_FIRST_ACCEPTED) >= 0 &&
                   strcmp(text, WINDOW_LAST_ACCEPTED) <= 0;

    if (parsed) {
        window_format(d, formatted);
        FUZZ_CHECK(strcmp(formatted, text) == 0, "%s parsed, formats as %s", text, formatted);
        window_to_civil(d, &y, &m, &day);
        FUZZ_CHECK(y == atoi(text) && m == atoi(text + 5) && day == atoi(text + 8),
                   "%s parsed as %04d-%02d-%02d", text, y, m, day);
        FUZZ_CHECK(y >= 1970, "%s: year before 1970 parsed", text);
        FUZZ_CHECK((window_check_accepted("date", d, err, sizeof err) == VS_OK) == in_range,
                   "%s: accepted range disagrees", text);
        fuzz_day(d);
        fuzz_period_of(WINDOW_DAY, d);
        fuzz_period_of(WINDOW_WEEK, d);
        fuzz_period_of(WINDOW_MONTH, d);
    }
    if (period_resolve(kind, text, &r, err, sizeof err) != VS_OK) {
        FUZZ_CHECK(strncmp(err, "period: ", 8) == 0 || strncmp(err, "date: ", 6) == 0,
                   "refusal \"%s\" names no field", err);
        FUZZ_CHECK(text_utf8_valid(err, strlen(err)), "refusal not UTF-8");
        FUZZ_CHECK(!parsed || !in_range || kind < 1 || kind > 3, "%s (period %d) refused: %s", text,
                   kind, err);
        return;
    }
    FUZZ_CHECK(parsed && in_range && kind >= 1 && kind <= 3, "%s (period %d) resolved", text, kind);
    FUZZ_CHECK(r.kind == (window_period)kind && r.first <= d && d <= r.last &&
                   r.days == r.last - r.first + 1 && r.days <= PERIOD_MAX_DAYS,
               "period of %s: %d..%d (%d days)", text, r.first, r.last, r.days);
    FUZZ_CHECK(window_check_accepted("from", r.first, err, sizeof err) == VS_OK &&
                   window_check_accepted("to", r.last, err, sizeof err) == VS_OK,
               "period of %s leaves the accepted dates", text);
    period_describe(&r, mask, &st);
    for (int i = 0; i < r.days; i++)
        bits += (int)((mask >> i) & 1);
    FUZZ_CHECK(st.days_settled == bits, "%d days settled, mask has %d", st.days_settled, bits);
    FUZZ_CHECK(st.complete == (bits == r.days), "complete %d with %d of %d", st.complete, bits,
               r.days);
    FUZZ_CHECK(st.complete == (strcmp(st.status, "settled") == 0), "status \"%s\"", st.status);
    FUZZ_CHECK(text_utf8_valid(st.status, strlen(st.status)), "status not UTF-8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t mask = 0;
    char *text;

    if (size < 9)
        return 0;
    for (int i = 0; i < 8; i++)
        mask |= (uint64_t)data[1 + i] << (8 * i);
    if (size - 9 == 4) {
        uint32_t raw = (uint32_t)data[9] | (uint32_t)data[10] << 8 | (uint32_t)data[11] << 16 |
                       (uint32_t)data[12] << 24;

        fuzz_day((business_date)((int64_t)(raw % 8000001u) - 4000000));
    }
    text = malloc(size - 9 + 1);
    if (text == NULL)
        abort();
    memcpy(text, data + 9, size - 9);
    text[size - 9] = '\0';
    fuzz_text((int)data[0] - 1, mask, text);
    free(text);
    return 0;
}
