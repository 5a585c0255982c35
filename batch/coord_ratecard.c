/* coord_ratecard.c — ListRateCards, GetRateCard, AddRateCard: the versioned, effective-dated rate
 * cards of rate_card / rate_card_band (docs/rules.md, "Rate card"). An admin's, like all of
 * BatchService.
 *
 * A card is never changed once stored: a new one is added for a business date after today, so no
 * settled day (nor a forced re-run of one) can ever be priced by a card other than the one it was
 * settled with. The arithmetic and what makes a card well-formed is core/money.h; this file only
 * checks requests against it, stores and reads. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coord_service.h"
#include "db.h"
#include "db_stmt.h"
#include "log.h"
#include "money.h"
#include "money_card.h"
#include "text.h"
#include "window.h"

/* rate_card.description is VARCHAR(200) in utf8mb4: characters, up to 4 bytes each. */
#define RATECARD_DESCRIPTION_CHARS 200
#define RATECARD_DESCRIPTION_BYTES (RATECARD_DESCRIPTION_CHARS * 4)

/* Versions a database may hold through AddRateCard, and so what ListRateCards returns at most:
 * 500 cards of 2 × MONEY_MAX_BANDS bands and a description of 800 bytes encode to ~620 KiB, under
 * the 1 MiB a client accepts in a reply. */
#define RATECARD_MAX_VERSIONS 500

/* How long AddRateCard waits for another AddRateCard's lock on rate_card (seconds). */
#define RATECARD_LOCK_WAIT_S 5

enum { RATECARD_VIDEO = 0, RATECARD_AD = 1 }; /* index of a kind in the arrays below */

/* One stored card, both kinds. */
typedef struct ratecard_row {
    uint32_t version;
    char effective_from[11];
    char description[RATECARD_DESCRIPTION_BYTES + 1];
    int64_t created_ms;
    int n_bands[2];
    money_band bands[2][MONEY_MAX_BANDS];
} ratecard_row;

/* A ratecard_row as a reply message; its strings point into the row. */
typedef struct ratecard_pb {
    Vs__V1__RateCard card;
    Vs__V1__RateBand bands[2][MONEY_MAX_BANDS];
    Vs__V1__RateBand *ptrs[2][MONEY_MAX_BANDS];
} ratecard_pb;

static const char *ratecard_kind_field(int kind)
{
    return kind == RATECARD_AD ? "ad_bands" : "video_bands";
}

/* Reads the cards `filter` selects (SQL after FROM rate_card: a WHERE clause or ""), the newest
 * `limit` of them, in ascending version order, with their bands. *rows is malloc'd (the caller
 * frees it; NULL when none), *n how many. A stored card with a band of an unknown kind or more
 * than MONEY_MAX_BANDS of one kind is VS_INTERNAL. */
static vs_status ratecard_load(MYSQL *db, const char *filter, size_t limit, ratecard_row **rows,
                               size_t *n, char *err, size_t errlen)
{
    char sql[512];
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    ratecard_row *out = NULL;
    size_t count = 0, at = 0;
    vs_status rc = VS_OK;

    *rows = NULL;
    *n = 0;
    snprintf(sql, sizeof sql,
             "SELECT version, DATE_FORMAT(effective_from, '%%Y-%%m-%%d'), description,"
             " FLOOR(UNIX_TIMESTAMP(created_at) * 1000) FROM (SELECT * FROM rate_card %s"
             " ORDER BY version DESC LIMIT %zu) AS newest ORDER BY version",
             filter, limit);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        goto sql_error;
    count = (size_t)mysql_num_rows(res);
    if (count == 0)
        goto out;
    if ((out = calloc(count, sizeof *out)) == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = VS_RESOURCE_EXHAUSTED;
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL && *n < count) {
        ratecard_row *c = &out[*n];
        unsigned long *len = mysql_fetch_lengths(res);
        size_t dlen = len[2] < RATECARD_DESCRIPTION_BYTES ? len[2] : RATECARD_DESCRIPTION_BYTES;

        c->version = (uint32_t)strtoul(row[0], NULL, 10);
        snprintf(c->effective_from, sizeof c->effective_from, "%s", row[1] ? row[1] : "");
        memcpy(c->description, row[2], dlen);
        c->description[dlen] = '\0';
        c->created_ms = row[3] ? strtoll(row[3], NULL, 10) : 0;
        (*n)++;
    }
    mysql_free_result(res);
    res = NULL;
    /* the bands of every card read, in (version, kind, band) order, matched to the cards */
    snprintf(sql, sizeof sql,
             "SELECT version, kind, first_ordinal, price_milli FROM rate_card_band"
             " WHERE version BETWEEN %" PRIu32 " AND %" PRIu32 " ORDER BY version, kind, band",
             out[0].version, out[*n - 1].version);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL)
        goto sql_error;
    while ((row = mysql_fetch_row(res)) != NULL) {
        uint32_t version = (uint32_t)strtoul(row[0], NULL, 10);
        int kind = atoi(row[1]);
        ratecard_row *c;
        money_band *b;

        while (at < *n && out[at].version < version)
            at++;
        if (at == *n)
            break;
        if (out[at].version != version)
            continue; /* a version older than the newest `limit` */
        c = &out[at];
        if (kind != MONEY_VIDEO && kind != MONEY_AD) {
            snprintf(err, errlen, "rate card %" PRIu32 ": a band of unknown kind %d is stored",
                     version, kind);
            rc = VS_INTERNAL;
            goto out;
        }
        kind = kind == MONEY_AD ? RATECARD_AD : RATECARD_VIDEO;
        if (c->n_bands[kind] == MONEY_MAX_BANDS) {
            snprintf(err, errlen, "rate card %" PRIu32 ": more than %d %s are stored", version,
                     MONEY_MAX_BANDS, ratecard_kind_field(kind));
            rc = VS_INTERNAL;
            goto out;
        }
        b = &c->bands[kind][c->n_bands[kind]++];
        b->first_ordinal = strtoll(row[2], NULL, 10);
        b->price_milli = strtoll(row[3], NULL, 10);
    }
    goto out;
sql_error:
    snprintf(err, errlen, "rate cards: %s", mysql_error(db));
    rc = db_status_from_errno(mysql_errno(db));
out:
    if (res != NULL)
        mysql_free_result(res);
    if (rc != VS_OK) {
        free(out);
        out = NULL;
        *n = 0;
    }
    *rows = out;
    return rc;
}

/* Points pb (both kinds' bands included) at row, which must outlive it. */
static void ratecard_to_pb(ratecard_row *row, ratecard_pb *pb)
{
    vs__v1__rate_card__init(&pb->card);
    pb->card.version = row->version;
    pb->card.effective_from = row->effective_from;
    pb->card.description = row->description;
    pb->card.created_unix_ms = row->created_ms;
    for (int kind = 0; kind < 2; kind++) {
        for (int b = 0; b < row->n_bands[kind]; b++) {
            vs__v1__rate_band__init(&pb->bands[kind][b]);
            pb->bands[kind][b].first_ordinal = (uint64_t)row->bands[kind][b].first_ordinal;
            pb->bands[kind][b].price_milli = row->bands[kind][b].price_milli;
            pb->ptrs[kind][b] = &pb->bands[kind][b];
        }
    }
    pb->card.n_video_bands = (size_t)row->n_bands[RATECARD_VIDEO];
    pb->card.video_bands = pb->ptrs[RATECARD_VIDEO];
    pb->card.n_ad_bands = (size_t)row->n_bands[RATECARD_AD];
    pb->card.ad_bands = pb->ptrs[RATECARD_AD];
}

/* Checks one kind's bands of a request against what money_card_check accepts, naming the field
 * and band ("video_bands[2].first_ordinal: ..."). */
static vs_status ratecard_check_bands(const char *field, money_kind kind,
                                      Vs__V1__RateBand *const *bands, size_t n, char *err,
                                      size_t errlen)
{
    money_card card = {.kind = kind};
    char why[256];

    if (n == 0) {
        snprintf(err, errlen, "%s: at least one band is required (the first starts at ordinal 1)",
                 field);
        return VS_INVALID_ARGUMENT;
    }
    if (n > MONEY_MAX_BANDS) {
        snprintf(err, errlen, "%s: at most %d bands, got %zu", field, MONEY_MAX_BANDS, n);
        return VS_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t first = bands[i]->first_ordinal;
        int64_t price = bands[i]->price_milli;

        if (i == 0 && first != 1) {
            snprintf(err, errlen,
                     "%s[0].first_ordinal: the first band must start at ordinal 1, got %" PRIu64,
                     field, first);
            return VS_INVALID_ARGUMENT;
        }
        if (i > 0 && first <= bands[i - 1]->first_ordinal) {
            snprintf(err, errlen,
                     "%s[%zu].first_ordinal: must be greater than the band before it (%" PRIu64
                     "), got %" PRIu64,
                     field, i, bands[i - 1]->first_ordinal, first);
            return VS_INVALID_ARGUMENT;
        }
        if (first > (uint64_t)MONEY_MAX_ORDINAL) {
            snprintf(err, errlen, "%s[%zu].first_ordinal: at most %" PRId64 ", got %" PRIu64, field,
                     i, MONEY_MAX_ORDINAL, first);
            return VS_INVALID_ARGUMENT;
        }
        if (price < 0 || price > MONEY_MAX_PRICE_MILLI) {
            snprintf(err, errlen,
                     "%s[%zu].price_milli: must be 0..%" PRId64
                     " (milli-won per view, at most 1,000 won), got %" PRId64,
                     field, i, MONEY_MAX_PRICE_MILLI, price);
            return VS_INVALID_ARGUMENT;
        }
        card.bands[i].first_ordinal = (int64_t)first;
        card.bands[i].price_milli = price;
    }
    /* the rule itself, so the two can never disagree about what settlement would refuse */
    card.n_bands = (int)n;
    if (money_card_check(&card, why, sizeof why) != VS_OK) {
        snprintf(err, errlen, "%s: %s", field, why);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

/* At most RATECARD_DESCRIPTION_CHARS characters of valid UTF-8, no control characters (a
 * description is one line in tables). */
static vs_status ratecard_check_description(const char *text, char *err, size_t errlen)
{
    size_t len = strlen(text), at = 0, chars = 0;

    while (at < len) {
        uint32_t cp;
        size_t step = text_utf8_decode((const unsigned char *)text + at, len - at, &cp);

        if (step == 0) {
            snprintf(err, errlen, "description: not valid UTF-8");
            return VS_INVALID_ARGUMENT;
        }
        chars++;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            snprintf(err, errlen,
                     "description: control characters are not allowed (U+%04" PRIX32
                     " at character %zu)",
                     cp, chars);
            return VS_INVALID_ARGUMENT;
        }
        at += step;
    }
    if (chars > RATECARD_DESCRIPTION_CHARS) {
        snprintf(err, errlen, "description: at most %d characters, got %zu",
                 RATECARD_DESCRIPTION_CHARS, chars);
        return VS_INVALID_ARGUMENT;
    }
    return VS_OK;
}

/* 1 when the stored card has exactly the request's description and bands. */
static int ratecard_same(const ratecard_row *row, const Vs__V1__AddRateCardRequest *in)
{
    Vs__V1__RateBand *const *bands[2] = {in->video_bands, in->ad_bands};
    size_t n[2] = {in->n_video_bands, in->n_ad_bands};

    if (strcmp(row->description, in->description) != 0)
        return 0;
    for (int kind = 0; kind < 2; kind++) {
        if ((size_t)row->n_bands[kind] != n[kind])
            return 0;
        for (size_t b = 0; b < n[kind]; b++)
            if ((uint64_t)row->bands[kind][b].first_ordinal != bands[kind][b]->first_ordinal ||
                row->bands[kind][b].price_milli != bands[kind][b]->price_milli)
                return 0;
    }
    return 1;
}

/* The rows of one kind's bands for INSERT ... VALUES: "(v, kind, band, first, price),...". */
static void ratecard_band_values(char *out, size_t outlen, size_t *used, uint32_t version,
                                 money_kind kind, Vs__V1__RateBand *const *bands, size_t n)
{
    for (size_t b = 0; b < n; b++)
        *used += (size_t)snprintf(out + *used, outlen - *used,
                                  "%s(%" PRIu32 ", %d, %zu, %" PRIu64 ", %" PRId64 ")",
                                  *used > 0 ? ", " : "", version, (int)kind, b + 1,
                                  bands[b]->first_ordinal, bands[b]->price_milli);
}

/* AddRateCard's transaction, on a request already checked: under the lock of rate_card's newest
 * version (so concurrent adds queue), returns the card already stored for the date when it is
 * identical (*added = 0), else refuses a date not after today, a date that has another card, or a
 * full table, else inserts version MAX + 1 with its bands (*added = 1). *out = the card. */
static vs_status ratecard_add(MYSQL *db, business_date day, business_date today,
                              const Vs__V1__AddRateCardRequest *in, ratecard_row *out, int *added,
                              char *err, size_t errlen)
{
    char date[11], today_text[11], filter[64], sql[256];
    char values[2 * MONEY_MAX_BANDS * 80];
    ratecard_row *found = NULL;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    size_t n = 0, used = 0;
    uint32_t version = 0;
    uint64_t versions = 0;
    db_stmt_value params[3];
    vs_status rc;

    *added = 0;
    window_format(day, date);
    window_format(today, today_text);
    if ((rc = db_exec(db, "START TRANSACTION", err, errlen)) != VS_OK)
        return rc;
    snprintf(sql, sizeof sql,
             "SET STATEMENT innodb_lock_wait_timeout = %d FOR SELECT COALESCE(MAX(version), 0),"
             " COUNT(*) FROM rate_card FOR UPDATE",
             RATECARD_LOCK_WAIT_S);
    if (mysql_query(db, sql) != 0 || (res = mysql_store_result(db)) == NULL) {
        snprintf(err, errlen, "rate cards: %s", mysql_error(db));
        rc = db_status_from_errno(mysql_errno(db));
        goto rollback;
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        version = (uint32_t)strtoul(row[0], NULL, 10) + 1;
        versions = strtoull(row[1], NULL, 10);
    }
    mysql_free_result(res);
    snprintf(filter, sizeof filter, "WHERE effective_from = '%s'", date);
    if ((rc = ratecard_load(db, filter, 1, &found, &n, err, errlen)) != VS_OK)
        goto rollback;
    if (n == 1 && ratecard_same(&found[0], in)) {
        *out = found[0]; /* a retry of the add that stored it */
        goto rollback;
    }
    if (day <= today) {
        snprintf(err, errlen,
                 "effective_from: must be a business date after today (%s in the business time"
                 " zone): settled days keep the card they were settled with, got %s",
                 today_text, date);
        rc = VS_FAILED_PRECONDITION;
        goto rollback;
    }
    if (n == 1) {
        snprintf(err, errlen,
                 "effective_from: %s already has rate card version %" PRIu32
                 " with other bands or description (a stored card is never changed)",
                 date, found[0].version);
        rc = VS_ALREADY_EXISTS;
        goto rollback;
    }
    if (versions >= RATECARD_MAX_VERSIONS || version == 0 /* MAX(version) was UINT32_MAX */) {
        snprintf(err, errlen,
                 "rate cards: the database holds %" PRIu64 " versions, the most"
                 " this coordinator stores",
                 versions);
        rc = VS_RESOURCE_EXHAUSTED;
        goto rollback;
    }
    params[0] = DB_STMT_PARAM_U64(version);
    params[1] = DB_STMT_PARAM_STR(date);
    params[2] = DB_STMT_PARAM_STR(in->description);
    rc = db_stmt_run(
        db, "INSERT INTO rate_card (version, effective_from, description) VALUES (?, ?, ?)", params,
        3, NULL, 0, NULL, err, errlen);
    if (rc != VS_OK)
        goto rollback;
    ratecard_band_values(values, sizeof values, &used, version, MONEY_VIDEO, in->video_bands,
                         in->n_video_bands);
    ratecard_band_values(values, sizeof values, &used, version, MONEY_AD, in->ad_bands,
                         in->n_ad_bands);
    {
        char insert[sizeof values + 128];

        snprintf(insert, sizeof insert,
                 "INSERT INTO rate_card_band (version, kind, band, first_ordinal, price_milli)"
                 " VALUES %s",
                 values);
        if ((rc = db_exec(db, insert, err, errlen)) != VS_OK)
            goto rollback;
    }
    if ((rc = db_exec(db, "COMMIT", err, errlen)) != VS_OK)
        goto rollback;
    free(found);
    snprintf(filter, sizeof filter, "WHERE version = %" PRIu32, version);
    if ((rc = ratecard_load(db, filter, 1, &found, &n, err, errlen)) == VS_OK && n == 1) {
        *out = found[0];
        *added = 1;
    } else if (rc == VS_OK) {
        snprintf(err, errlen, "rate card %" PRIu32 " vanished after it was added", version);
        rc = VS_INTERNAL;
    }
    free(found);
    return rc;
rollback:
    db_exec(db, "ROLLBACK", sql, sizeof sql); /* a lost connection has rolled back already */
    free(found);
    return rc;
}

void coord_list_rate_cards(Vs__V1__BatchService_Service *s, const Vs__V1__ListRateCardsRequest *in,
                           Vs__V1__ListRateCardsResponse_Closure closure, void *data)
{
    rpc_call *call = data;
    Vs__V1__ListRateCardsResponse resp = VS__V1__LIST_RATE_CARDS_RESPONSE__INIT;
    ratecard_row *rows = NULL;
    ratecard_pb *pbs = NULL;
    Vs__V1__RateCard **cards = NULL;
    char err[512];
    size_t n = 0;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, NULL) != VS_OK)
        goto fail;
    rc = ratecard_load(db, "", RATECARD_MAX_VERSIONS, &rows, &n, err, sizeof err);
    if (rc != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    if (n > 0 &&
        ((pbs = calloc(n, sizeof *pbs)) == NULL || (cards = calloc(n, sizeof *cards)) == NULL)) {
        rpc_fail(call, VS_RESOURCE_EXHAUSTED, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        ratecard_to_pb(&rows[i], &pbs[i]);
        cards[i] = &pbs[i].card;
    }
    resp.n_cards = n;
    resp.cards = cards;
    closure(&resp, data);
    goto out;
fail:
    closure(NULL, data);
out:
    free(rows);
    free(pbs);
    free(cards);
}

void coord_get_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__GetRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data)
{
    rpc_call *call = data;
    ratecard_row *rows = NULL;
    ratecard_pb pb;
    char err[512], quoted[80], filter[64];
    business_date day;
    uint32_t version = in->version;
    size_t n = 0;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, NULL) != VS_OK)
        goto fail;
    if ((version != 0) == (in->date[0] != '\0')) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "version, date: give one: a card version, or a business date YYYY-MM-DD for"
                 " the card in force that day");
        goto fail;
    }
    if (version == 0) {
        if (window_parse(in->date, &day) != VS_OK) {
            rpc_fail(call, VS_INVALID_ARGUMENT, "date: expected a business date YYYY-MM-DD, got %s",
                     text_quote(quoted, sizeof quoted, in->date, strlen(in->date)));
            goto fail;
        }
        rc = money_card_version_for(db, day, &version, err, sizeof err);
        if (rc != VS_OK) {
            if (rc == VS_NOT_FOUND)
                rpc_fail(call, rc,
                         "date: no rate card is in force on %s (the first takes effect"
                         " later)",
                         in->date);
            else
                rpc_fail(call, rc, "%s", err);
            goto fail;
        }
    }
    snprintf(filter, sizeof filter, "WHERE version = %" PRIu32, version);
    if ((rc = ratecard_load(db, filter, 1, &rows, &n, err, sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    if (n == 0) {
        rpc_fail(call, VS_NOT_FOUND, "version: rate card %" PRIu32 " does not exist", version);
        goto fail;
    }
    ratecard_to_pb(&rows[0], &pb);
    closure(&pb.card, data);
    free(rows);
    return;
fail:
    closure(NULL, data);
    free(rows);
}

void coord_add_rate_card(Vs__V1__BatchService_Service *s, const Vs__V1__AddRateCardRequest *in,
                         Vs__V1__RateCard_Closure closure, void *data)
{
    rpc_call *call = data;
    business_date day, today = window_day_of(clock_now_ms());
    ratecard_row card;
    ratecard_pb pb;
    char err[512], quoted[80];
    uint64_t admin = 0;
    int added = 0;
    MYSQL *db;
    vs_status rc;

    if ((db = coord_service_db(call)) == NULL || coord_require_admin(call, db, &admin) != VS_OK)
        goto fail;
    if (window_parse(in->effective_from, &day) != VS_OK) {
        rpc_fail(call, VS_INVALID_ARGUMENT,
                 "effective_from: expected a business date YYYY-MM-DD, got %s",
                 text_quote(quoted, sizeof quoted, in->effective_from, strlen(in->effective_from)));
        goto fail;
    }
    if ((rc = window_check_accepted("effective_from", day, err, sizeof err)) != VS_OK ||
        (rc = ratecard_check_description(in->description, err, sizeof err)) != VS_OK ||
        (rc = ratecard_check_bands("video_bands", MONEY_VIDEO, in->video_bands, in->n_video_bands,
                                   err, sizeof err)) != VS_OK ||
        (rc = ratecard_check_bands("ad_bands", MONEY_AD, in->ad_bands, in->n_ad_bands, err,
                                   sizeof err)) != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    /* a deadlock or a lock wait that timed out is worth another try (three in all) */
    for (int attempt = 0;; attempt++) {
        rc = ratecard_add(db, day, today, in, &card, &added, err, sizeof err);
        if (rc != VS_ABORTED || attempt == 2)
            break;
    }
    if (rc != VS_OK) {
        rpc_fail(call, rc, "%s", err);
        goto fail;
    }
    if (added)
        log_info("AddRateCard: version %" PRIu32 " in force from %s, added by operator %" PRIu64,
                 card.version, card.effective_from, admin);
    ratecard_to_pb(&card, &pb);
    closure(&pb.card, data);
    return;
fail:
    closure(NULL, data);
}
