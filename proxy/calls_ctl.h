/* calls_ctl: rampart-proxy's control commands about calls (calls, call.show,
 * call.drop; docs/control-protocol.md) over the core's call registry.
 *
 * Ownership: 'core' points at the daemon's core pointer (NULL while the
 * core is not running), which must outlive the control server.
 */
#ifndef RP_CALLS_CTL_H
#define RP_CALLS_CTL_H

#include "core.h"
#include "ctl.h"

/* Registers the commands on s. 0 or ctl_server_register's error. */
int rp_calls_ctl_register(ctl_server *s, rp_core *_Atomic const *core);

#endif
