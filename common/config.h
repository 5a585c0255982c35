/* config.h — process configuration from the environment and the stack's env file.
 *
 * Configuration is environment variables (VS_URL, VS_DB_PRIMARY, ...). config_load() first imports
 * the stack's env file (`export KEY=VALUE` lines, as written by tools/stack) without overriding
 * variables already set, so an explicit environment always wins. The file is, in order:
 * $VS_ENV_FILE, $VS_HOME/env, ./.vs/env — the first that exists. */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

/* Imports an env file; missing file is VS_NOT_FOUND, a malformed line VS_INVALID_ARGUMENT. */
vs_status config_load_file(const char *path, char *err, size_t errlen);

/* Imports the first env file found (see above). Absence of any file is fine. Returns the file used
 * (static storage) or NULL. */
const char *config_load(void);

/* Value of KEY or fallback when unset or empty. */
const char *config_get(const char *key, const char *fallback);

/* Integer value of KEY within [min, max]; fallback when unset. Out of range or not a number is
 * VS_INVALID_ARGUMENT with a message naming the key. */
vs_status config_get_int(const char *key, int64_t fallback, int64_t min, int64_t max, int64_t *out,
                         char *err, size_t errlen);

/* Parses a decimal integer string completely (no trailing junk) within [min, max]. */
int config_parse_int(const char *text, int64_t min, int64_t max, int64_t *out);

#endif
