/* mediaev: rampart-mediad's events for the proxy. A thread of its own keeps
 * one control connection to mediad subscribed to "timeout" (a session had
 * no media for media-timeout, or was deleted after delete-timeout;
 * docs/mediad.md) and hands each to a callback, which may block (it sends
 * BYEs and writes a CDR). Reconnects (once a second) while mediad is down.
 *
 * Ownership: rp_mediaev_start() returns an object rp_mediaev_stop() joins
 * and frees; 'fn' and 'arg' must stay valid until then.
 */
#ifndef RP_MEDIAEV_H
#define RP_MEDIAEV_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rp_mediaev rp_mediaev;

/* session: mediad's session id; deleted: the session is already gone. */
typedef void (*rp_mediaev_timeout_fn)(void *arg, uint64_t session, bool deleted);

/* 0, -EINVAL, -ENOMEM or pthread_create's error. */
int rp_mediaev_start(const char *path, rp_mediaev_timeout_fn fn, void *arg,
	rp_mediaev **out);
/* NULL ok. */
void rp_mediaev_stop(rp_mediaev *e);

#endif
