/* svc_user.c — the UserService table. */
#include <vs/v1/user.pb-c.h>

#include "vsd.h"

#define VSD_NOT_YET(fn, Req, Resp)                                                                 \
    static void fn(Vs__V1__UserService_Service *service, const Req *input, Resp##_Closure closure, \
                   void *closure_data)                                                             \
    {                                                                                              \
        rpc_fail(closure_data, VS_UNIMPLEMENTED, "%s is not implemented yet", #fn);                \
        closure(NULL, closure_data);                                                               \
    }

VSD_NOT_YET(user_sign_up, Vs__V1__SignUpRequest, Vs__V1__SignUpResponse)
VSD_NOT_YET(user_login, Vs__V1__LoginRequest, Vs__V1__LoginResponse)
VSD_NOT_YET(user_logout, Vs__V1__LogoutRequest, Vs__V1__LogoutResponse)
VSD_NOT_YET(user_me, Vs__V1__MeRequest, Vs__V1__User)

static Vs__V1__UserService_Service user_service = VS__V1__USER_SERVICE__INIT(user_);

ProtobufCService *vsd_user_service(void)
{
    return &user_service.base;
}
