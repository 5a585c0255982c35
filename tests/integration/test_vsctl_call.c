/* test_vsctl_call.c — `vsctl call` and `vsctl describe` end to end against a real vsd: Health,
 * SignUp, Login and CreateVideo through the generic caller with the token from Login, the token
 * kept by `vsctl user login`, a request with an unknown field or a wrong type refused naming the
 * field with nothing stored, a server error printed as every vsctl command prints one, and
 * describe listing every service and method of proto/. */
#include "user_fixture.h"

#include <jansson.h>
#include <regex.h>
#include <sys/stat.h>

static char xdg[600], out_path[700], err_path[700], token_path[700];

static int setup(void **state)
{
    if (uf_setup("vsctl-call", NULL) != 0)
        return -1;
    snprintf(xdg, sizeof xdg, "%s/xdg-call-%d", getenv("VS_TEST_HOME"), (int)getpid());
    snprintf(out_path, sizeof out_path, "%s.out", xdg);
    snprintf(err_path, sizeof err_path, "%s.err", xdg);
    snprintf(token_path, sizeof token_path, "%s.token", xdg);
    return 0;
}

static int teardown(void **state)
{
    ts_sh("rm -rf '%s' '%s' '%s' '%s'", xdg, out_path, err_path, token_path);
    return uf_teardown(state);
}

/* Runs `vsctl --url URL ARGS` (a shell fragment) with stdin_text on standard input; stdout to
 * out_path, stderr to err_path. Returns the exit status. */
static int vsctl(const char *stdin_text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int vsctl(const char *stdin_text, const char *fmt, ...)
{
    char args[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return ts_sh("printf '%%s' '%s' | XDG_CONFIG_HOME='%s' %s --url '%s' %s >'%s' 2>'%s'",
                 stdin_text ? stdin_text : "", xdg, ts_program("client/vsctl"), uf.url, args,
                 out_path, err_path);
}

static json_t *output_json(void)
{
    json_error_t e;
    json_t *j = json_load_file(out_path, 0, &e);

    if (j == NULL)
        fail_msg("vsctl output is not JSON: %s", e.text);
    return j;
}

/* The text of path (at most 64 KiB), NUL-terminated, static. */
static const char *file_text(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void assert_stderr_has(const char *text)
{
    const char *err = file_text(err_path);

    if (strstr(err, text) == NULL)
        fail_msg("stderr does not name \"%s\":\n%s", text, err);
}

static int64_t videos_of(const char *user_id)
{
    return ts_db_int(uf.db, "SELECT COUNT(*) FROM videos WHERE creator_id = %s", user_id);
}

static void test_health_from_argument_and_standard_input(void **state)
{
    json_t *j;

    assert_int_equal(vsctl(NULL, "call /vs.v1.StreamingService/Health "
                                 "'{\"echo\": \"arg\", \"shallow\": true}'"),
                     0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "echo")), "arg");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "vsd");
    /* int64 printed as a string, per proto3's JSON mapping */
    assert_true(json_is_string(json_object_get(j, "uptime_s")));
    json_decref(j);

    assert_int_equal(vsctl("{\"echo\": \"stdin\", \"shallow\": true}",
                           "call --compact vs.v1.StreamingService/Health"),
                     0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "echo")), "stdin");
    json_decref(j);
    assert_non_null(strchr(file_text(out_path), '\n'));
    assert_ptr_equal(strchr(file_text(out_path), '\n'), strrchr(file_text(out_path), '\n'));

    assert_int_equal(vsctl("{\"echo\": \"dash\"}", "call StreamingService/Health -"), 0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "echo")), "dash");
    json_decref(j);
}

/* SignUp and Login through `vsctl call`, Login's access_token in a --token-file, CreateVideo
 * with it: the video is the user's, in the database. */
static void test_signup_login_create_video_through_call(void **state)
{
    char email[128], user_id[32];
    json_t *j;
    FILE *f;

    uf_email("call", email, sizeof email);
    assert_int_equal(vsctl(NULL,
                           "call /vs.v1.UserService/SignUp '{\"email\": \"%s\", \"password\": "
                           "\"" UF_PASSWORD "\", \"displayName\": \"Call User\"}'",
                           email),
                     0);
    j = output_json();
    assert_true(json_is_string(json_object_get(j, "user_id"))); /* uint64: a string */
    snprintf(user_id, sizeof user_id, "%s", json_string_value(json_object_get(j, "user_id")));
    json_decref(j);
    assert_true(atoll(user_id) > 0);

    assert_int_equal(vsctl(NULL,
                           "call /vs.v1.UserService/Login '{\"email\": \"%s\", \"password\": "
                           "\"" UF_PASSWORD "\"}'",
                           email),
                     0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), user_id);
    f = fopen(token_path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", json_string_value(json_object_get(j, "access_token")));
    fclose(f);
    json_decref(j);

    assert_int_equal(vsctl(NULL,
                           "call --token-file '%s' /vs.v1.StreamingService/CreateVideo "
                           "'{\"title\": \"Made by call\", \"duration_s\": 700, \"event_id\": "
                           "\"call-1\"}'",
                           token_path),
                     0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "creator_id")), user_id);
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Made by call");
    assert_int_equal(json_integer_value(json_object_get(j, "duration_s")), 700);
    assert_int_equal(json_array_size(json_object_get(j, "ad_positions_s")), 2); /* 300, 600 */
    assert_int_equal(ts_db_int(uf.db,
                               "SELECT COUNT(*) FROM videos WHERE id = %s AND creator_id = %s AND "
                               "title = 'Made by call'",
                               json_string_value(json_object_get(j, "id")), user_id),
                     1);
    json_decref(j);

    /* the JSON names of the request, and a reply with a repeated message field */
    assert_int_equal(vsctl(NULL,
                           "call --token-file '%s' /vs.v1.StreamingService/ListVideos "
                           "'{\"mine\": true, \"pageSize\": 5}'",
                           token_path),
                     0);
    j = output_json();
    assert_int_equal(json_array_size(json_object_get(j, "videos")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "videos"), 0), "title")),
                        "Made by call");
    json_decref(j);
}

/* An unknown field, a wrong type, a number out of range, a bad enum name: exit 2, the field
 * named on stderr, and nothing reached vsd (no video was stored). */
static void test_bad_request_names_the_field_and_stores_nothing(void **state)
{
    static const struct {
        const char *request, *named;
    } cases[] = {
        {"{\"title\": \"x\", \"duration_s\": 700, \"event_id\": \"b1\", \"colour\": \"red\"}",
         "colour: no such field in vs.v1.CreateVideoRequest"},
        {"{\"title\": \"x\", \"duration_s\": \"long\", \"event_id\": \"b2\"}",
         "duration_s: expected an integer (int32)"},
        {"{\"title\": \"x\", \"duration_s\": 3000000000, \"event_id\": \"b3\"}",
         "duration_s: out of range for int32: 3000000000"},
        {"{\"title\": [\"x\"], \"duration_s\": 700, \"event_id\": \"b4\"}",
         "title: expected a string"},
    };
    char email[128], id[32];
    uint64_t user_id;
    vs_client *c = ts_client(uf.url, 10000);
    FILE *f;
    char *token;

    uf_email("call-bad", email, sizeof email);
    user_id = uf_signup(c, email);
    token = uf_login(c, email);
    f = fopen(token_path, "w");
    fputs(token, f);
    fclose(f);
    free(token);
    vs_client_close(c);
    snprintf(id, sizeof id, "%" PRIu64, user_id);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(vsctl(NULL,
                               "call --token-file '%s' /vs.v1.StreamingService/CreateVideo '%s'",
                               token_path, cases[i].request),
                         2);
        assert_stderr_has(cases[i].named);
        assert_stderr_has("INVALID_ARGUMENT");
        assert_int_equal(file_text(out_path)[0], '\0');
    }
    assert_int_equal(
        vsctl(NULL, "call /vs.v1.StreamingService/GetTopVideos '{\"period\": \"YEAR\"}'"), 2);
    assert_stderr_has("period: \"YEAR\" is not a value of vs.v1.Period");
    assert_int_equal(videos_of(id), 0);

    /* the same request, well-formed, is stored: the refusals above were the request's fault */
    assert_int_equal(vsctl(NULL,
                           "call --token-file '%s' /vs.v1.StreamingService/CreateVideo "
                           "'{\"title\": \"x\", \"duration_s\": 700, \"event_id\": \"b1\"}'",
                           token_path),
                     0);
    assert_int_equal(videos_of(id), 1);
}

/* A status from the server: exit 1, printed as every vsctl command prints one (text on stderr,
 * or a JSON error object with --json). The token `vsctl user login` kept is used by call. */
static void test_server_error_and_saved_token(void **state)
{
    char email[128];
    json_t *j;

    ts_sh("rm -rf '%s'", xdg); /* no saved token */
    assert_int_equal(vsctl(NULL, "call /vs.v1.UserService/Me '{}'"), 1);
    assert_stderr_has("vsctl: call /vs.v1.UserService/Me: UNAUTHENTICATED: ");
    assert_int_equal(vsctl(NULL, "--json call /vs.v1.UserService/Me '{}'"), 1);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "status")),
                        "UNAUTHENTICATED");
    json_decref(j);

    uf_email("call-saved", email, sizeof email);
    assert_int_equal(vsctl(UF_PASSWORD "\n", "user signup --email %s --password-stdin", email), 0);
    assert_int_equal(vsctl(UF_PASSWORD "\n", "user login --email %s --password-stdin", email), 0);
    assert_int_equal(vsctl(NULL, "call /vs.v1.UserService/Me '{}'"), 0);
    j = output_json();
    assert_string_equal(json_string_value(json_object_get(j, "email")), email);
    assert_string_equal(json_string_value(json_object_get(j, "role")), "VIEWER");
    json_decref(j);
}

static void test_unknown_method_points_to_describe(void **state)
{
    assert_int_equal(vsctl(NULL, "call /vs.v1.StreamingService/Teleport '{}'"), 2);
    assert_stderr_has("vs.v1.StreamingService has no such method");
    assert_stderr_has("vsctl describe");
    assert_int_equal(vsctl(NULL, "call /vs.v9.Nothing/Health '{}'"), 2);
    assert_stderr_has("no such service");
    assert_stderr_has("vsctl describe");
}

/* Every service and rpc declared in the .proto files of proto/vs/v1 is listed by `vsctl --json
 * describe`. */
static void test_describe_lists_every_service_of_proto(void **state)
{
    char line[1024], service[128] = "", name[160];
    regex_t service_re, rpc_re;
    regmatch_t m[2];
    json_t *j, *services;
    FILE *protos;
    int rpcs = 0;

    assert_int_equal(vsctl(NULL, "--json describe"), 0);
    j = output_json();
    services = json_object_get(j, "services");
    assert_int_equal(regcomp(&service_re, "^service ([A-Za-z0-9_]+)", REG_EXTENDED), 0);
    assert_int_equal(regcomp(&rpc_re, "^ *rpc ([A-Za-z0-9_]+)", REG_EXTENDED), 0);
    snprintf(line, sizeof line, "cat %s/proto/vs/v1/*.proto", VS_SOURCE_DIR);
    protos = popen(line, "r");
    assert_non_null(protos);
    while (fgets(line, sizeof line, protos) != NULL) {
        json_t *found = NULL, *s, *method;
        size_t i;

        if (regexec(&service_re, line, 2, m, 0) == 0) {
            snprintf(service, sizeof service, "vs.v1.%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            continue;
        }
        if (regexec(&rpc_re, line, 2, m, 0) != 0)
            continue;
        snprintf(name, sizeof name, "/%s/%.*s", service, (int)(m[1].rm_eo - m[1].rm_so),
                 line + m[1].rm_so);
        json_array_foreach(services, i, s)
        {
            size_t k;

            if (strcmp(json_string_value(json_object_get(s, "name")), service) != 0)
                continue;
            json_array_foreach(
                json_object_get(s, "methods"), k,
                method) if (strcmp(json_string_value(json_object_get(method, "path")), name) == 0)
                found = method;
        }
        if (found == NULL)
            fail_msg("vsctl describe does not list %s", name);
        rpcs++;
    }
    pclose(protos);
    regfree(&service_re);
    regfree(&rpc_re);
    assert_true(rpcs >= 18);
    json_decref(j);

    /* a method's fields, nested messages expanded */
    assert_int_equal(vsctl(NULL, "describe /vs.v1.StreamingService/ListVideos"), 0);
    assert_non_null(strstr(file_text(out_path), "page_size            uint32"));
    assert_non_null(strstr(file_text(out_path), "videos               repeated vs.v1.Video"));
    assert_non_null(strstr(file_text(out_path), "    ad_positions_s       repeated int32"));
    assert_int_equal(vsctl(NULL, "describe vs.v1.Nothing"), 2);
    assert_stderr_has("no such service");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_from_argument_and_standard_input),
        cmocka_unit_test(test_signup_login_create_video_through_call),
        cmocka_unit_test(test_bad_request_names_the_field_and_stores_nothing),
        cmocka_unit_test(test_server_error_and_saved_token),
        cmocka_unit_test(test_unknown_method_points_to_describe),
        cmocka_unit_test(test_describe_lists_every_service_of_proto),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
