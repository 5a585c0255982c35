/* status.h — internal alias of the status vocabulary (core/include/vs/status.h, libvsclient
 * publishes it), so that core/, common/, server/ and batch/ share one definition with libvsclient's
 * users. */
#ifndef VS_STATUS_H
#define VS_STATUS_H
#include <vs/status.h>
#define status_name vs_status_name
#define status_from_name vs_status_from_name
#endif
