/* band_sum.h — the band breakdown of a settlement over several days (docs/batch.md).
 *
 * A day's band lines come from money_band_lines() for that day's rate-card version and lifetime
 * interval. A week's or month's breakdown is the sum of its days' lines per (card version, band):
 * lines of different versions stay apart because their prices differ. The sum of all amounts is
 * the exact milli-won value the period's whole-won amount telescopes from. Pure code. */
#ifndef VS_BAND_SUM_H
#define VS_BAND_SUM_H

#include <stdint.h>

#include "money.h"
#include "status.h"

/* Distinct (version, band) lines one breakdown holds: 4 card versions of 16 bands. */
#define BAND_SUM_MAX 64

typedef struct band_sum_line {
    uint32_t version;
    int band;              /* 1-based, as in money_line */
    int64_t first_ordinal; /* the band's lifetime ordinals; last 0 = open-ended */
    int64_t last_ordinal;
    int64_t units;
    int64_t price_milli;
    int64_t amount_milli;
} band_sum_line;

typedef struct band_sum {
    int n;
    band_sum_line lines[BAND_SUM_MAX]; /* sorted by version, then band */
} band_sum;

void band_sum_init(band_sum *s);

/* Adds lines[0..n) (from money_band_lines over card) to s. VS_RESOURCE_EXHAUSTED when a new line
 * would exceed BAND_SUM_MAX, VS_OUT_OF_RANGE on int64 overflow, VS_INVALID_ARGUMENT when a line
 * names a band the card does not have; s is unchanged on failure. */
vs_status band_sum_add(band_sum *s, const money_card *card, const money_line *lines, int n);

/* The sum of all lines' amount_milli. */
int64_t band_sum_total_milli(const band_sum *s);

#endif
