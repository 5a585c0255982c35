/* settlement.h — the subcommands of `vsctl settlement` beyond `show` (settlement.c dispatches):
 * monthly statements and their CSV export (settlement_statement.c) and the money ledger
 * (settlement_ledger.c). Each returns the exit status like a cmd_* function; argv[0] is the
 * subcommand's name. */
#ifndef VS_VSCTL_SETTLEMENT_H
#define VS_VSCTL_SETTLEMENT_H

#include "vsctl.h"

int settlement_statement(vsctl *ctl, int argc, char **argv);
int settlement_export(vsctl *ctl, int argc, char **argv);
int settlement_ledger(vsctl *ctl, int argc, char **argv);

/* The usage lines of those subcommands, for `vsctl settlement --help`. */
extern const char settlement_statement_usage[];
extern const char settlement_export_usage[];
extern const char settlement_ledger_usage[];

/* --video, --creator (a positive id) or --limit (1..5000), by its option letter 'v', 'c' or 'l',
 * into the matching field: 0, or 2 after an error message naming cmd and the option. */
int settlement_id_arg(const char *cmd, int opt, const char *arg, uint64_t *video_id,
                      uint64_t *creator_id, uint32_t *limit);

/* s without control characters (each becomes a space), for one cell of a text table; buf holds
 * len bytes. */
const char *settlement_cell(const char *s, char *buf, size_t len);

/* "2026-12-01 09:30:00 UTC" from Unix milliseconds. */
const char *settlement_utc(long long unix_ms, char *buf, size_t len);

#endif
