/* read_model_load.h — reading one settled day into the read model's tables (read_model_load.c),
 * for the loader thread of read_model.c. The tables are read_model_table.h; the public side of
 * the read model is in reads.h. */
#ifndef VS_READ_MODEL_LOAD_H
#define VS_READ_MODEL_LOAD_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "read_model_table.h"
#include "status.h"
#include "window.h"

/* Loads day (expected completion identity version) from db in one consistent transaction, with the
 * videos table extended by the videos that appeared since *videos (which it then replaces with a
 * new reference; on failure *videos is unchanged). *out is NULL (VS_OK) when the day no longer
 * has that identity or its rows do not pass the checks (logged): the SQL path answers it then.
 * Errors are connection or SQL errors (err says which). */
vs_status model_load_day(MYSQL *db, business_date day, uint64_t version, model_videos **videos,
                         model_day **out, char *err, size_t errlen);

#endif
