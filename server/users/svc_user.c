/* svc_user.c — the UserService table (handlers in users.c). */
#include <vs/v1/user.pb-c.h>

#include "users.h"
#include "vsd.h"

static Vs__V1__UserService_Service user_service = VS__V1__USER_SERVICE__INIT(users_);

ProtobufCService *vsd_user_service(void)
{
    return &user_service.base;
}
