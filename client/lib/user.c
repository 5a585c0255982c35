/* user.c — libvsclient wrappers of UserService. */
#include <vs/user.h>

#include <stdlib.h>
#include <string.h>

struct vs_user {
    Vs__V1__User *msg;
};

const char *vs_role_name(int role)
{
    switch (role) {
    case VS_ROLE_VIEWER:
        return "viewer";
    case VS_ROLE_CREATOR:
        return "creator";
    case VS_ROLE_ADMIN:
        return "admin";
    default:
        return "unknown";
    }
}

uint64_t vs_user_id(const vs_user *u)
{
    return u->msg->id;
}

const char *vs_user_email(const vs_user *u)
{
    return u->msg->email;
}

const char *vs_user_display_name(const vs_user *u)
{
    return u->msg->display_name;
}

int vs_user_role(const vs_user *u)
{
    return (int)u->msg->role;
}

int64_t vs_user_created_unix(const vs_user *u)
{
    return u->msg->created_unix;
}

void vs_user_free(vs_user *u)
{
    if (u == NULL)
        return;
    protobuf_c_message_free_unpacked(&u->msg->base, NULL);
    free(u);
}

/* Calls a UserService method by name; the reply is the caller's. */
static int user_call(vs_client *client, const char *method, const ProtobufCMessage *in,
                     ProtobufCMessage **out, vs_call_status *status)
{
    return vs_client_call_named(client, &vs__v1__user_service__descriptor, method, in, out, status);
}

int vs_user_signup(vs_client *client, const char *email, const char *password,
                   const char *display_name, uint64_t *user_id, vs_call_status *status)
{
    Vs__V1__SignUpRequest req = VS__V1__SIGN_UP_REQUEST__INIT;
    Vs__V1__SignUpResponse *resp = NULL;
    int rc;

    req.email = (char *)(email ? email : "");
    req.password = (char *)(password ? password : "");
    req.display_name = (char *)(display_name ? display_name : "");
    rc = user_call(client, "SignUp", &req.base, (ProtobufCMessage **)&resp, status);
    if (rc != VS_OK)
        return rc;
    if (user_id != NULL)
        *user_id = resp->user_id;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return VS_OK;
}

int vs_user_login(vs_client *client, const char *email, const char *password, char **token,
                  int64_t *expires_unix, uint64_t *user_id, vs_call_status *status)
{
    Vs__V1__LoginRequest req = VS__V1__LOGIN_REQUEST__INIT;
    Vs__V1__LoginResponse *resp = NULL;
    int rc;

    if (token != NULL)
        *token = NULL;
    req.email = (char *)(email ? email : "");
    req.password = (char *)(password ? password : "");
    rc = user_call(client, "Login", &req.base, (ProtobufCMessage **)&resp, status);
    if (rc != VS_OK)
        return rc;
    if (token != NULL && (*token = strdup(resp->access_token)) == NULL) {
        rc = VS_RESOURCE_EXHAUSTED;
        if (status != NULL) {
            status->code = rc;
            strcpy(status->message, "out of memory");
        }
        goto out;
    }
    vs_client_set_token(client, resp->access_token);
    if (expires_unix != NULL)
        *expires_unix = resp->expires_unix;
    if (user_id != NULL)
        *user_id = resp->user_id;
out:
    memset(resp->access_token, 0, strlen(resp->access_token));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

int vs_user_logout(vs_client *client, vs_call_status *status)
{
    Vs__V1__LogoutRequest req = VS__V1__LOGOUT_REQUEST__INIT;
    Vs__V1__LogoutResponse *resp = NULL;
    int rc = user_call(client, "Logout", &req.base, (ProtobufCMessage **)&resp, status);

    if (rc != VS_OK)
        return rc;
    vs_client_set_token(client, NULL);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return VS_OK;
}

int vs_user_me(vs_client *client, vs_user **out, vs_call_status *status)
{
    Vs__V1__MeRequest req = VS__V1__ME_REQUEST__INIT;
    Vs__V1__User *msg = NULL;
    int rc;

    *out = NULL;
    rc = user_call(client, "Me", &req.base, (ProtobufCMessage **)&msg, status);
    if (rc != VS_OK)
        return rc;
    *out = malloc(sizeof **out);
    if (*out == NULL) {
        protobuf_c_message_free_unpacked(&msg->base, NULL);
        if (status != NULL) {
            status->code = VS_RESOURCE_EXHAUSTED;
            strcpy(status->message, "out of memory");
        }
        return VS_RESOURCE_EXHAUSTED;
    }
    (*out)->msg = msg;
    return VS_OK;
}
