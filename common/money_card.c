/* money_card.c — rate cards from the database (money_card.h). */
#include "money_card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db.h"

vs_status money_card_load(MYSQL *db, uint32_t version, money_kind kind, money_card *out, char *err,
                          size_t errlen)
{
    char sql[256];
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    vs_status rc = VS_OK;

    memset(out, 0, sizeof *out);
    out->version = version;
    out->kind = kind;
    snprintf(
        sql, sizeof sql,
        "SELECT first_ordinal, price_milli FROM rate_card_band WHERE version = %u AND kind = %d"
        " ORDER BY band",
        version, (int)kind);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "rate card %u: %s", version, mysql_error(db));
        rc = db_status_from_errno(mysql_errno(db));
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (out->n_bands == MONEY_MAX_BANDS) {
            snprintf(err, errlen, "rate card %u: more than %d bands", version, MONEY_MAX_BANDS);
            rc = VS_INVALID_ARGUMENT;
            goto out;
        }
        out->bands[out->n_bands].first_ordinal = strtoll(row[0], NULL, 10);
        out->bands[out->n_bands].price_milli = strtoll(row[1], NULL, 10);
        out->n_bands++;
    }
    if (out->n_bands == 0) {
        snprintf(err, errlen, "rate card %u has no %s bands", version,
                 kind == MONEY_AD ? "ad" : "video");
        rc = VS_NOT_FOUND;
        goto out;
    }
    rc = money_card_check(out, err, errlen);
out:
    if (res != NULL)
        mysql_free_result(res);
    return rc;
}

vs_status money_card_version_for(MYSQL *db, business_date day, uint32_t *version, char *err,
                                 size_t errlen)
{
    char sql[256], date[11];
    int64_t v = 0;
    vs_status rc;

    window_format(day, date);
    snprintf(sql, sizeof sql,
             "SELECT version FROM rate_card WHERE effective_from <= '%s'"
             " ORDER BY effective_from DESC LIMIT 1",
             date);
    rc = db_query_int(db, sql, &v, err, errlen);
    if (rc == VS_NOT_FOUND)
        snprintf(err, errlen, "no rate card is effective on %s", date);
    *version = (uint32_t)v;
    return rc;
}
