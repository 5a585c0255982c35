/* vs/client.h — libvsclient: call vs services over nng REQ/REP.
 *
 * A vs_client is one REQ socket dialled to one or more server URLs (tcp://host:port,
 * tls+tcp://host:port or ipc:///path; several separated by commas, one dialer each: nng spreads
 * calls over the servers that are up and sends a call again over another when its server goes
 * away). It is thread-safe: every call runs on an nng context of its own, so any number of
 * threads may call at once on one handle.
 *
 * Three ways to call:
 *  - vs_client_call(): generic, by service descriptor + method index; waits for the reply, which
 *    the caller owns.
 *  - vs_client_call_async(): the same call without waiting: a done function receives the outcome
 *    on one of nng's threads. Many calls can be outstanding on one handle without a thread each.
 *  - vs_client_service(): a ProtobufCService whose invoke is this transport, so the protoc-c
 *    generated stubs (vs__v1__streaming_service__health(...) etc.) work unchanged. The reply passed
 *    to the closure is freed when the closure returns (protobuf-c's convention); on failure the
 *    closure gets NULL and vs_last_status() tells why, per thread.
 *
 * Status codes are the gRPC canonical codes of <vs/status.h>. */
#ifndef VS_CLIENT_H
#define VS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include <vs/status.h>
#include <vs/v1/envelope.pb-c.h>
#include <vs/v1/user.pb-c.h>
#include <vs/v1/streaming.pb-c.h>
#include <vs/v1/batch.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_client vs_client;

/* vsd's default request limit (VS_MAX_MESSAGE): a larger request would be dropped unanswered. */
#define VS_CLIENT_DEFAULT_MAX_REQUEST 16384

typedef struct vs_client_options {
    int timeout_ms;     /* per call, sent as the envelope deadline; default 10000 */
    size_t max_message; /* largest reply accepted; default 1 MiB */
    int resend_ms;      /* REQ resend interval; default 60000 (nng's) */
    /* largest request sent, counted like the server's VS_MAX_MESSAGE (the envelope and nng's
     * 4-byte request id); larger ones are refused locally with RESOURCE_EXHAUSTED. Default
     * VS_CLIENT_DEFAULT_MAX_REQUEST; raise it with the server's limit */
    size_t max_request;
    /* TLS of tls+tcp:// URLs: PEM file of the CA the server's certificate must be signed by
     * (required for such URLs), and optionally this client's certificate and its private key
     * (mode 0600). NULL: the environment's VS_TLS_CA, VS_TLS_CERT, VS_TLS_KEY. Read only while
     * vs_client_open runs. */
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
} vs_client_options;

/* The outcome of one call: code (vs_status) and the server's or transport's message. */
typedef struct vs_call_status {
    int code;
    char message[512];
} vs_call_status;

/* Dials url: one URL, or several separated by commas ("tls+tcp://10.0.0.1:7400,tls+tcp://10.0.0.2:
 * 7400"). A server that is not up yet is dialled again in the background (calls wait for one up
 * to their deadline); a malformed URL, a TLS file that is missing or wrong, a server certificate
 * that does not verify against the CA fail the open, naming the URL. opts may be NULL for
 * defaults. Returns a vs_status; *out is NULL on failure and message (if not NULL) says why. The
 * caller frees the handle with vs_client_close(). */
int vs_client_open(const char *url, const vs_client_options *opts, vs_client **out,
                   vs_call_status *status);

/* Closes the socket and frees the handle. Asynchronous calls still in flight complete first: their
 * done functions run with VS_CANCELLED (a call started from inside one of them is refused), and
 * close returns once every done has returned. No other thread may use the handle once close has
 * begun, and close must not be called from a done function. */
void vs_client_close(vs_client *client);

/* Sets the bearer token sent with every later call (copied); NULL clears it. */
void vs_client_set_token(vs_client *client, const char *token);

/* Calls method_index of service. On VS_OK *output is the decoded reply, owned by the caller
 * (protobuf_c_message_free_unpacked(*output, NULL)); otherwise *output is NULL and status says why.
 * status may be NULL. */
int vs_client_call(vs_client *client, const ProtobufCServiceDescriptor *service,
                   unsigned method_index, const ProtobufCMessage *input, ProtobufCMessage **output,
                   vs_call_status *status);

/* Same, by method name ("Play"). Unknown name → VS_UNIMPLEMENTED without a round trip. */
int vs_client_call_named(vs_client *client, const ProtobufCServiceDescriptor *service,
                         const char *method, const ProtobufCMessage *input,
                         ProtobufCMessage **output, vs_call_status *status);

/* The outcome of an asynchronous call, run once on one of nng's threads (never on the thread that
 * started the call). code is VS_OK with reply the decoded reply, owned by the done function
 * (protobuf_c_message_free_unpacked(reply, NULL)), or a failure with reply NULL; status (code and
 * message, as vs_client_call reports them) is valid only while done runs. done must not block —
 * it runs on a thread nng needs for other calls' I/O — but it may start further asynchronous calls
 * on the same handle. Done functions of different calls may run concurrently on different threads.
 */
typedef void (*vs_call_done_fn)(void *arg, int code, ProtobufCMessage *reply,
                                const vs_call_status *status);

/* Starts calling method_index of service and returns without waiting; input is encoded before
 * it returns (the caller keeps ownership of it). Same envelope, token, deadline (timeout_ms from
 * now), request id, size limit and error codes as vs_client_call(). Returns VS_OK if the call is
 * in flight — done(arg, ...) will then run exactly once — or the reason it could not start
 * (VS_UNIMPLEMENTED for a bad method index, VS_INVALID_ARGUMENT for a wrong input type or a NULL
 * done, VS_RESOURCE_EXHAUSTED over the size limit or out of memory, VS_CANCELLED while the
 * handle is closing), in which case done is never called. */
int vs_client_call_async(vs_client *client, const ProtobufCServiceDescriptor *service,
                         unsigned method_index, const ProtobufCMessage *input, vs_call_done_fn done,
                         void *arg);

/* Same, by method name ("Play"). Unknown name → VS_UNIMPLEMENTED, and done is not called. */
int vs_client_call_named_async(vs_client *client, const ProtobufCServiceDescriptor *service,
                               const char *method, const ProtobufCMessage *input,
                               vs_call_done_fn done, void *arg);

/* A ProtobufCService bound to this client for the generated stubs. Owned by the client; valid
 * until vs_client_close(). Returns NULL if service is not one of vs.v1's. */
ProtobufCService *vs_client_service(vs_client *client, const ProtobufCServiceDescriptor *service);

/* The vs.v1 services this library can call, for generic callers (vsctl call and describe) that
 * build requests from the descriptors: index 0, 1, ... until NULL (UserService, StreamingService,
 * BatchService). Static data, never freed. */
const ProtobufCServiceDescriptor *vs_client_service_at(size_t index);

/* The service called name: its full name ("vs.v1.StreamingService") or its short one
 * ("StreamingService"), a leading '/' allowed. NULL when there is none. */
const ProtobufCServiceDescriptor *vs_client_service_named(const char *name);

/* Finds a method by its path, the envelope's method ("/vs.v1.StreamingService/Health"; the
 * leading '/' and the package may be left out). On VS_OK *service and *method_index are what
 * vs_client_call() takes. Otherwise VS_INVALID_ARGUMENT (not a path: no "Service/Method") or
 * VS_UNIMPLEMENTED (no such service, or no such method in it), with status (may be NULL) saying
 * which; the message does not echo the path. No round trip. */
int vs_client_method_by_path(const char *path, const ProtobufCServiceDescriptor **service,
                             unsigned *method_index, vs_call_status *status);

/* The status of the last call made on this thread through vs_client_service() stubs. */
const vs_call_status *vs_last_status(void);

/* A new random event id (32 hex chars) for idempotent mutations. */
void vs_event_id(char out[33]);

#ifdef __cplusplus
}
#endif
#endif
