/* test_rpc_limits.c — the request size limit against the largest requests a client can
 * legitimately send: each method with free-form fields, every field at the length the server
 * accepts (4-byte UTF-8 characters where the limit counts characters), with a token of the
 * largest size vsd accepts and the widest request id and deadline. vsd's default receive limit
 * and libvsclient's default request limit must hold them, with room to spare. */
#include "testsupport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vs/v1/envelope.pb-c.h>
#include <vs/v1/streaming.pb-c.h>
#include <vs/v1/user.pb-c.h>

#include "account.h"
#include "playback_rules.h"
#include "rpc_server.h"
#include "token.h"

/* A string of n bytes of c, or of n/4 four-byte characters when c is 0 (malloc'd). */
static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        s[i] = c != 0 ? c : "\xf0\x9f\x98\x80"[i % 4]; /* U+1F600 */
    s[n] = '\0';
    return s;
}

/* The packed size of the envelope around payload for method, with the largest token. */
static size_t envelope_size(const char *method, const ProtobufCMessage *payload)
{
    Vs__V1__RequestEnvelope env = VS__V1__REQUEST_ENVELOPE__INIT;
    char *token = filled(TOKEN_MAX_LEN, 'A');
    char *auth = malloc(TOKEN_MAX_LEN + 8);
    size_t n;

    snprintf(auth, TOKEN_MAX_LEN + 8, "Bearer %s", token);
    env.method = (char *)method;
    env.request_id = UINT64_MAX;
    env.deadline_unix_ms = INT64_MAX;
    env.authorization = auth;
    env.payload.len = protobuf_c_message_get_packed_size(payload);
    env.payload.data = malloc(env.payload.len + 1);
    protobuf_c_message_pack(payload, env.payload.data);
    n = vs__v1__request_envelope__get_packed_size(&env);
    fprintf(stderr, "  %-40s %5zu bytes\n", method, n);
    free(env.payload.data);
    free(auth);
    free(token);
    return n;
}

static void test_largest_legitimate_request_fits_the_default_limits(void **state)
{
    Vs__V1__SignUpRequest signup = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__LoginRequest login = VS__V1__LOGIN_REQUEST__INIT;
    Vs__V1__CreateVideoRequest video = VS__V1__CREATE_VIDEO_REQUEST__INIT;
    Vs__V1__PauseRequest pause = VS__V1__PAUSE_REQUEST__INIT;
    char *email = filled(ACCOUNT_EMAIL_MAX, 'e'), *password = filled(ACCOUNT_PASSWORD_MAX, 'p');
    char *name = filled(4 * ACCOUNT_NAME_MAX, 0), *title = filled(4 * PLAYBACK_TITLE_MAX_CHARS, 0);
    char *event_id = filled(PLAYBACK_EVENT_ID_MAX, 'x');
    size_t largest = 0, n;

    signup.email = login.email = email;
    signup.password = login.password = password;
    signup.display_name = name;
    video.title = title;
    video.duration_s = PLAYBACK_DURATION_MAX_S;
    video.event_id = pause.event_id = event_id;
    pause.video_id = UINT64_MAX;
    pause.position_s = PLAYBACK_DURATION_MAX_S;
    fprintf(stderr, "largest requests:\n");
    n = envelope_size("/vs.v1.UserService/SignUp", &signup.base);
    largest = n > largest ? n : largest;
    n = envelope_size("/vs.v1.UserService/Login", &login.base);
    largest = n > largest ? n : largest;
    n = envelope_size("/vs.v1.StreamingService/CreateVideo", &video.base);
    largest = n > largest ? n : largest;
    n = envelope_size("/vs.v1.StreamingService/Pause", &pause.base); /* Play's is smaller */
    largest = n > largest ? n : largest;
    /* at least twice the largest: room for a field or two to grow */
    assert_true(2 * largest <= RPC_DEFAULT_MAX_MESSAGE);
    assert_int_equal(VS_CLIENT_DEFAULT_MAX_REQUEST, RPC_DEFAULT_MAX_MESSAGE);
    free(email);
    free(password);
    free(name);
    free(title);
    free(event_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_largest_legitimate_request_fits_the_default_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
