/* money_card.h — rate cards from the database (money_card.c): the rate_card and rate_card_band
 * tables (sql/0004_batch.sql). The arithmetic over a card is money.h, which needs no database. */
#ifndef VS_MONEY_CARD_H
#define VS_MONEY_CARD_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>
#include "money.h"
#include "status.h"
#include "window.h"

/* Loads card version `version` of kind from rate_card_band. VS_NOT_FOUND when the version has no
 * bands of that kind; VS_INVALID_ARGUMENT when the stored card is malformed. */
vs_status money_card_load(MYSQL *db, uint32_t version, money_kind kind, money_card *out, char *err,
                          size_t errlen);

/* The version of the card effective on day: greatest effective_from <= day. VS_NOT_FOUND when
 * none is. */
vs_status money_card_version_for(MYSQL *db, business_date day, uint32_t *version, char *err,
                                 size_t errlen);

#endif
