/* fuzz_payload.c — every request message of proto/vs/v1/ (every .proto) through the checks the
 * server applies to it. The first input byte picks the method (modulo the methods of UserService,
 * StreamingService and BatchService, in proto order); the rest is its payload. The payload goes
 * in an envelope through rpc_request_decode (unpack, NUL and UTF-8 walk: common/rpc_dispatch.c),
 * then through the pure field rules the method's handler applies before it touches a database
 * (account.h, playback_rules.h, period.h, topn_rank.h, window.h).
 *
 * Invariants: the dispatch accepts exactly when protobuf-c unpacks the payload and no string in
 * it holds a NUL or is not UTF-8 (pb_find_bad_string, which then names a real string field); an
 * accepted payload re-encodes and decodes to itself; each field rule's verdict matches its
 * documented definition, and every refusal is a message that starts with the field's name and is
 * valid UTF-8 (messages echo what the caller sent). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <vs/v1/batch.pb-c.h>
#include <vs/v1/streaming.pb-c.h>
#include <vs/v1/user.pb-c.h>

#include "account.h"
#include "fuzz.h"
#include "pb_check.h"
#include "period.h"
#include "playback_rules.h"
#include "rpc_dispatch.h"
#include "text.h"
#include "topn_rank.h"

/* A refusal's message: "<field>: ..." and valid UTF-8. */
static void fuzz_refusal(const char *err, const char *field)
{
    size_t n = strlen(field);

    FUZZ_CHECK(strncmp(err, field, n) == 0 && err[n] == ':', "refusal \"%s\" does not name %s", err,
               field);
    FUZZ_CHECK(text_utf8_valid(err, strlen(err)), "refusal for %s not UTF-8", field);
}

static void fuzz_email(const char *email)
{
    char out[ACCOUNT_EMAIL_MAX + 1], again[ACCOUNT_EMAIL_MAX + 1], err[256];
    const char *at;

    if (account_normalize_email(email, out, sizeof out, err, sizeof err) != VS_OK) {
        fuzz_refusal(err, "email");
        return;
    }
    at = strchr(out, '@');
    FUZZ_CHECK(strlen(out) >= 3 && strlen(out) <= ACCOUNT_EMAIL_MAX, "email of %zu bytes",
               strlen(out));
    FUZZ_CHECK(at != NULL && strchr(at + 1, '@') == NULL, "not one '@' in %s", out);
    FUZZ_CHECK(at - out >= 1 && at - out <= ACCOUNT_LOCAL_MAX, "local part of %s", out);
    FUZZ_CHECK(strchr(at, '.') != NULL, "domain of %s has one label", out);
    for (const char *p = out; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p < 0x7f && !isupper((unsigned char)*p), "byte 0x%02x in %s",
                   (unsigned char)*p, out);
    FUZZ_CHECK(account_normalize_email(out, again, sizeof again, err, sizeof err) == VS_OK &&
                   strcmp(out, again) == 0,
               "normalising %s again gives %s", out, again);
}

static void fuzz_password(const char *password)
{
    size_t n = strlen(password);
    char err[256];
    int ok = account_check_password(password, n, err, sizeof err) == VS_OK;

    FUZZ_CHECK(ok == (n >= ACCOUNT_PASSWORD_MIN && n <= ACCOUNT_PASSWORD_MAX),
               "password of %zu bytes %s", n, ok ? "accepted" : "refused");
    if (!ok)
        fuzz_refusal(err, "password");
}

static void fuzz_display_name(const char *name)
{
    char err[256];

    if (account_check_display_name(name, err, sizeof err) != VS_OK) {
        fuzz_refusal(err, "display_name");
        return;
    }
    long chars = account_utf8_length(name, strlen(name));
    FUZZ_CHECK(chars >= 1 && chars <= ACCOUNT_NAME_MAX, "display name of %ld characters", chars);
}

static void fuzz_video_fields(const char *title, int64_t duration_s, const char *event_id)
{
    char err[256];
    int64_t chars = playback_utf8_chars(title);
    size_t n = strlen(event_id);
    int ok;

    ok = playback_check_title(title, err, sizeof err) == VS_OK;
    FUZZ_CHECK(ok == (chars >= 1 && chars <= 200), "title of %lld characters %s", (long long)chars,
               ok ? "accepted" : "refused");
    if (!ok)
        fuzz_refusal(err, "title");
    ok = playback_check_duration(duration_s, err, sizeof err) == VS_OK;
    FUZZ_CHECK(ok == (duration_s >= 1 && duration_s <= 86400), "duration %lld %s",
               (long long)duration_s, ok ? "accepted" : "refused");
    if (!ok)
        fuzz_refusal(err, "duration_s");
    ok = playback_check_event_id(event_id, err, sizeof err) == VS_OK;
    FUZZ_CHECK(ok == (n >= 1 && n <= 64), "event id of %zu bytes %s", n,
               ok ? "accepted" : "refused");
    if (!ok)
        fuzz_refusal(err, "event_id");
}

static void fuzz_position(int32_t position_s)
{
    char err[256];
    int ok = playback_check_position(position_s, 3600, err, sizeof err) == VS_OK;

    FUZZ_CHECK(ok == (position_s >= 0 && position_s <= 3600), "position %d %s", position_s,
               ok ? "accepted" : "refused");
    if (!ok)
        fuzz_refusal(err, "position_s");
}

static void fuzz_period(int period, const char *date)
{
    period_range r;
    business_date d, first = window_from_civil(1973, 1, 1), last = window_from_civil(9999, 10, 31);
    char err[256];

    if (period_resolve(period, date, &r, err, sizeof err) != VS_OK) {
        FUZZ_CHECK(strncmp(err, "period:", 7) == 0 || strncmp(err, "date:", 5) == 0,
                   "refusal \"%s\" names neither period nor date", err);
        FUZZ_CHECK(text_utf8_valid(err, strlen(err)), "period refusal not UTF-8");
        return;
    }
    FUZZ_CHECK(period >= 1 && period <= 3, "period %d accepted", period);
    FUZZ_CHECK(window_parse(date, &d) == VS_OK, "date %s accepted unparsed", date);
    FUZZ_CHECK(r.first <= d && d <= r.last && r.days == r.last - r.first + 1,
               "%s not inside its period", date);
    FUZZ_CHECK(r.first >= first && r.last <= last, "period of %s leaves the accepted dates", date);
    FUZZ_CHECK(period == 1   ? r.days == 1
               : period == 2 ? r.days == 7 && window_weekday(r.first) == 1
                             : r.days >= 28 && r.days <= 31,
               "period %d of %s has %d days", period, date, r.days);
}

static void fuzz_top_limit(uint32_t requested)
{
    uint32_t n = 12345;
    int ok = topn_limit(requested, &n);

    FUZZ_CHECK(ok == (requested <= TOPN_MAX), "limit %u %s", requested,
               ok ? "accepted" : "refused");
    FUZZ_CHECK(!ok || (n >= 1 && n <= TOPN_MAX && (requested == 0 || n == requested)),
               "limit %u answered with %u", requested, n);
}

static void fuzz_start_job(const char *date)
{
    business_date d;
    char err[256];

    if (window_parse(date, &d) != VS_OK)
        return; /* refused with the quoted date: coord_service.c */
    if (window_check_accepted("date", d, err, sizeof err) != VS_OK) {
        fuzz_refusal(err, "date");
        FUZZ_CHECK(strcmp(date, WINDOW_FIRST_ACCEPTED) < 0 ||
                       strcmp(date, WINDOW_LAST_ACCEPTED) > 0,
                   "%s refused", date);
    } else {
        FUZZ_CHECK(strcmp(date, WINDOW_FIRST_ACCEPTED) >= 0 &&
                       strcmp(date, WINDOW_LAST_ACCEPTED) <= 0,
                   "%s accepted", date);
    }
}

/* The field rules of the method's handler. */
static void fuzz_rules(const ProtobufCMessage *in)
{
    const ProtobufCMessageDescriptor *d = in->descriptor;

    if (d == &vs__v1__sign_up_request__descriptor) {
        const Vs__V1__SignUpRequest *m = (const void *)in;
        fuzz_email(m->email);
        fuzz_password(m->password);
        fuzz_display_name(m->display_name);
    } else if (d == &vs__v1__login_request__descriptor) {
        fuzz_email(((const Vs__V1__LoginRequest *)(const void *)in)->email);
    } else if (d == &vs__v1__create_video_request__descriptor) {
        const Vs__V1__CreateVideoRequest *m = (const void *)in;
        fuzz_video_fields(m->title, m->duration_s, m->event_id);
    } else if (d == &vs__v1__play_request__descriptor) {
        fuzz_video_fields("t", 1, ((const Vs__V1__PlayRequest *)(const void *)in)->event_id);
    } else if (d == &vs__v1__pause_request__descriptor) {
        const Vs__V1__PauseRequest *m = (const void *)in;
        fuzz_video_fields("t", 1, m->event_id);
        fuzz_position(m->position_s);
    } else if (d == &vs__v1__get_video_stats_request__descriptor) {
        const Vs__V1__GetVideoStatsRequest *m = (const void *)in;
        fuzz_period((int)m->period, m->date);
    } else if (d == &vs__v1__get_top_videos_request__descriptor) {
        const Vs__V1__GetTopVideosRequest *m = (const void *)in;
        fuzz_period((int)m->period, m->date);
        fuzz_top_limit(m->limit);
    } else if (d == &vs__v1__get_settlement_request__descriptor) {
        const Vs__V1__GetSettlementRequest *m = (const void *)in;
        fuzz_period((int)m->period, m->date);
    } else if (d == &vs__v1__start_job_request__descriptor) {
        fuzz_start_job(((const Vs__V1__StartJobRequest *)(const void *)in)->date);
    }
}

/* The field that path ("components.name") names is a string field of desc. */
static int fuzz_names_string_field(const ProtobufCMessageDescriptor *desc, const char *path)
{
    char part[128];
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    const ProtobufCFieldDescriptor *f;

    if (n == 0 || n >= sizeof part)
        return 0;
    memcpy(part, path, n);
    part[n] = '\0';
    f = protobuf_c_message_descriptor_get_field_by_name(desc, part);
    if (f == NULL)
        return 0;
    if (dot == NULL)
        return f->type == PROTOBUF_C_TYPE_STRING;
    return f->type == PROTOBUF_C_TYPE_MESSAGE && fuzz_names_string_field(f->descriptor, dot + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fuzz_method *methods, *m;
    size_t n_methods = fuzz_methods(&methods);
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    ProtobufCMessage *plain;
    rpc_request req = {0};
    rpc_call call;
    uint8_t *wire;
    size_t wire_len;
    char field[128];
    pb_string_fault fault;
    vs_status rc;

    if (size == 0)
        return 0;
    m = &methods[data[0] % n_methods];
    env.method = (char *)m->path;
    env.payload.data = (uint8_t *)data + 1;
    env.payload.len = size - 1;
    wire = fuzz_pack(&env.base, &wire_len);
    memset(&call, 0, sizeof call);
    rc = rpc_request_decode(fuzz_services(), FUZZ_N_SERVICES, wire, wire_len, FUZZ_NOW_MS, &req,
                            &call);

    /* the same verdict, independently: protobuf-c's unpack, then the string walk */
    plain = protobuf_c_message_unpack(m->desc->input, NULL, size - 1, data + 1);
    fault = pb_find_bad_string(m->desc->input, data + 1, size - 1, field, sizeof field);
    if (plain == NULL) {
        FUZZ_CHECK(rc == VS_INVALID_ARGUMENT && strstr(call.message, "payload is not a valid"),
                   "%s: undecodable payload got %d (%s)", m->path, (int)rc, call.message);
    } else if (fault != PB_STRINGS_OK) {
        FUZZ_CHECK(rc == VS_INVALID_ARGUMENT, "%s: bad string in %s got %d", m->path, field,
                   (int)rc);
        FUZZ_CHECK(fuzz_names_string_field(m->desc->input, field), "%s: fault names \"%s\"",
                   m->path, field);
    } else {
        FUZZ_CHECK(rc == VS_OK, "%s: good payload refused: %s", m->path, call.message);
        FUZZ_CHECK(req.service == m->service && req.method == m->method, "%s routed to %d/%u",
                   m->path, req.service, req.method);
        FUZZ_CHECK(fuzz_strings_utf8(req.input), "%s: strings not UTF-8 after the walk", m->path);
        FUZZ_CHECK(fuzz_repacks(req.input), "%s: does not re-encode to itself", m->path);
        fuzz_rules(req.input);
    }
    if (plain != NULL)
        protobuf_c_message_free_unpacked(plain, NULL);
    rpc_request_clear(&req);
    free(wire);
    return 0;
}
