/* money.h — settlement arithmetic over a rate card (docs/rules.md, Settlement). Integers only.
 *
 * A rate card prices each view by its lifetime ordinal k (k = 1, 2, ...): bands are marginal, like
 * tax brackets. F(n), the exact value of the first n views, is an integer in milli-won. The amount
 * a video earns on a day is floor(F(cum_d)/1000) − floor(F(cum_{d−1})/1000) won, so the amounts of
 * consecutive days telescope and weeks/months never drift from their days.
 *
 * A money_card is one kind (video views or ad views) of one card version. Cards come from the
 * database (money_card.h) or money_card_default() for the default card. Pure arithmetic: no I/O. */
#ifndef VS_MONEY_H
#define VS_MONEY_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define MONEY_MAX_BANDS 16
/* Lifetime counts beyond 10^12 are refused and prices are at most 10^6 milli-won (1,000 won), so
 * F(n) <= 10^18 < INT64_MAX for every valid card. */
#define MONEY_MAX_ORDINAL INT64_C(1000000000000)
#define MONEY_MAX_PRICE_MILLI INT64_C(1000000)

typedef enum money_kind { MONEY_VIDEO = 1, MONEY_AD = 2 } money_kind;

typedef struct money_band {
    int64_t first_ordinal; /* the first lifetime ordinal priced by this band (band 1: 1) */
    int64_t price_milli;   /* milli-won per view */
} money_band;

typedef struct money_card {
    uint32_t version;
    money_kind kind;
    int n_bands;
    money_band bands[MONEY_MAX_BANDS]; /* first_ordinal strictly increasing; the last is open */
} money_card;

/* One band line of a settlement: the views of the interval that fall in a band. */
typedef struct money_line {
    int band;              /* 1-based */
    int64_t first_ordinal; /* first and last lifetime ordinal of the interval inside the band */
    int64_t last_ordinal;
    int64_t units;       /* last - first + 1 */
    int64_t price_milli; /* per unit */
    int64_t amount_milli;
} money_line;

/* The default card (version 1) for kind: video 1.0/1.1/1.3/1.5 won, ad 10/12/15/20 won, bands
 * starting at the 1st, 100,000th, 500,000th and 1,000,000th view. */
void money_card_default(money_kind kind, money_card *out);

/* Checks a card: 1..MONEY_MAX_BANDS bands, band 1 starts at ordinal 1, starts strictly increase,
 * prices are 0..MONEY_MAX_PRICE_MILLI. VS_INVALID_ARGUMENT with a message naming the band
 * otherwise. */
vs_status money_card_check(const money_card *card, char *err, size_t errlen);

/* F(n) in milli-won: the exact value of the first n views. n in 0..MONEY_MAX_ORDINAL, else
 * VS_OUT_OF_RANGE. The card must have passed money_card_check. */
vs_status money_value_milli(const money_card *card, int64_t n, int64_t *out);

/* The whole-won amount earned while the lifetime count went from before to after (after >=
 * before): floor(F(after)/1000) − floor(F(before)/1000). *exact_milli (may be NULL) receives
 * F(after) − F(before), the exact value the amount telescopes from. */
vs_status money_amount(const money_card *card, int64_t before, int64_t after, int64_t *won,
                       int64_t *exact_milli);

/* The band lines of the interval (before, after]: one line per band the interval touches, in band
 * order, written to lines[0..*n_lines). Their amount_milli sum to F(after) − F(before). lines must
 * have room for MONEY_MAX_BANDS entries. */
vs_status money_band_lines(const money_card *card, int64_t before, int64_t after,
                           money_line lines[MONEY_MAX_BANDS], int *n_lines);

#endif
