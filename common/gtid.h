/* gtid.h — MariaDB GTID positions ("0-1-42,1-1-7": one domain-server-sequence per domain), as
 * read from @@gtid_binlog_pos on a primary and @@gtid_slave_pos on a replica.
 *
 * Within a domain sequence numbers only grow (the stack runs gtid_strict_mode), so a replica has
 * applied a primary position once, for every domain of that position, it holds the same domain
 * with a sequence number at least as large. Pure code. */
#ifndef VS_GTID_H
#define VS_GTID_H

/* 1 when `applied` covers every domain of `wanted` at or beyond its sequence number, 0 when it
 * does not, -1 when either text is not a GTID position list. An empty `wanted` is covered. */
int gtid_reached(const char *applied, const char *wanted);

/* 1 when text is a GTID position list (possibly empty; spaces around entries allowed), else 0:
 * what is checked before a position is quoted into SQL (e.g. MASTER_GTID_WAIT). */
int gtid_valid(const char *text);

#endif
