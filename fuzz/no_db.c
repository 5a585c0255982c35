/* no_db.c — the one database call of the code fuzz_batch links: run_lease_expired
 * (batch/coord_leases.c) reads a lease's deadline from the job repository. The fuzz targets never
 * call it (they have no database); linking common/db.c instead would pull in all of its
 * dependencies. Reaching this is a bug in the target. */
#include <stdlib.h>

#include "db.h"

vs_status db_query_int(MYSQL *db, const char *sql, int64_t *out, char *err, size_t errlen)
{
    abort();
}
