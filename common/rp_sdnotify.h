/* rp_sdnotify: systemd's service notification protocol, without libsystemd.
 *
 * systemd passes a datagram socket in $NOTIFY_SOCKET (a path, or "@name"
 * for the abstract namespace); a service started with Type=notify sends
 * "READY=1" there when it is up, "RELOADING=1" / "STOPPING=1" around a
 * reload or shutdown, and "WATCHDOG=1" at least every WATCHDOG_USEC when
 * the unit sets WatchdogSec=. Not under systemd (no $NOTIFY_SOCKET) every
 * call is a no-op returning 0, so daemons call these unconditionally.
 *
 * Thread-safe (no state; each call opens, sends and closes one socket).
 * Not async-signal-safe (getenv): call from the main loop.
 */
#ifndef RP_SDNOTIFY_H
#define RP_SDNOTIFY_H

#include <stdint.h>

/* Sends the newline-separated assignments in state. Returns 1 sent, 0 not
 * under systemd, -EINVAL bad $NOTIFY_SOCKET (not absolute, not "@..."),
 * -ENAMETOOLONG, or the negative errno of socket/sendto. */
int rp_sdnotify(const char *state);

/* "READY=1" (with "MAINPID=" of the caller). */
int rp_sdnotify_ready(void);
/* "RELOADING=1" and the CLOCK_MONOTONIC time systemd >= 253 requires. */
int rp_sdnotify_reloading(void);
int rp_sdnotify_stopping(void);
int rp_sdnotify_watchdog(void);

/* The watchdog interval asked for this process: *usec = WATCHDOG_USEC when
 * it is set and WATCHDOG_PID is unset or our pid. Returns 1 when enabled,
 * 0 when not, -EINVAL when malformed. Ping at half the interval. */
int rp_sdnotify_watchdog_usec(uint64_t *usec);

#endif
