/* query_statement.c — GetStatement and GetLedger (placeholder: being written). */
#include "query.h"

void streaming_get_statement(Vs__V1__StreamingService_Service *service,
                             const Vs__V1__GetStatementRequest *in,
                             Vs__V1__Statement_Closure closure, void *closure_data)
{
    rpc_fail(closure_data, VS_UNIMPLEMENTED, "GetStatement is not implemented yet");
    closure(NULL, closure_data);
}

void streaming_get_ledger(Vs__V1__StreamingService_Service *service,
                          const Vs__V1__GetLedgerRequest *in, Vs__V1__Ledger_Closure closure,
                          void *closure_data)
{
    rpc_fail(closure_data, VS_UNIMPLEMENTED, "GetLedger is not implemented yet");
    closure(NULL, closure_data);
}
