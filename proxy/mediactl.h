/* mediactl: the proxy's client of rampart-mediad's control socket
 * (docs/mediad.md): session.create, leg.update, session.update,
 * session.query, session.delete over common/ctl + common/benc.
 *
 * One rp_mediactl holds one connection and a mutex, so the proxy's workers
 * can share it: each call is one request/response, serialised. A call
 * blocks its worker for at most the timeout given to rp_mediactl_open().
 * When the connection breaks (mediad restarted) the next call reconnects
 * once before failing.
 *
 * Ownership: rp_mediactl_open() returns an object the caller frees with
 * rp_mediactl_close(). Keys passed to rp_mediactl_leg_update() are the
 * caller's; the request buffer that carried them is wiped here.
 */
#ifndef RP_MEDIACTL_H
#define RP_MEDIACTL_H

#include <stdbool.h>
#include <stdint.h>

#include "sdes.h"

typedef struct rp_mediactl rp_mediactl;

#define RP_MEDIACTL_ADDR_MAX 64 /* enough for "[v6]:port" */

/* Connects to the socket at 'path'. timeout_ms bounds every call (0 =
 * 2000). Returns 0 or a negative errno (-ENOENT, -ECONNREFUSED, ...). */
int rp_mediactl_open(const char *path, int timeout_ms, rp_mediactl **out);
/* NULL ok. */
void rp_mediactl_close(rp_mediactl *c);

/* The reason mediad gave for the last failed call ("" if none). Valid
 * until the next call on c from any thread; copy it under your own
 * serialisation if you need it. */
const char *rp_mediactl_last_error(rp_mediactl *c);

/* A leg's local side as mediad reports it. */
struct rp_mediactl_local {
	bool ip6;
	char address[RP_MEDIACTL_ADDR_MAX]; /* advertised address, for SDP */
	uint16_t port;
};

/* session.create. label: for logs (the Call-ID), may be empty. ip6_a /
 * ip6_b: address family of each leg. *id gets the session id. */
int rp_mediactl_create(rp_mediactl *c, const char *label, bool ip6_a, bool ip6_b,
	uint64_t *id, struct rp_mediactl_local *a, struct rp_mediactl_local *b);

/* One direction's SRTP for leg.update. */
enum rp_mediactl_srtp_op {
	RP_MEDIACTL_SRTP_KEEP = 0, /* field not sent: the context stays (ROC too) */
	RP_MEDIACTL_SRTP_NONE,     /* "none": plain RTP in this direction */
	RP_MEDIACTL_SRTP_SET,      /* new context from crypto->keys[0] */
};
struct rp_mediactl_srtp {
	enum rp_mediactl_srtp_op op;
	const struct sdes_crypto *crypto; /* SET: suite + first key (+ MKI) */
};

struct rp_mediactl_leg {
	char leg;              /* 'a' or 'b' */
	const char *address;   /* NULL: remote unchanged */
	uint16_t port;
	struct rp_mediactl_srtp in, out;
	/* RFC 5761 on this leg: RP_MEDIACTL_MUX_KEEP (0, field not sent),
	 * _OFF (RTCP on port+1 both ways) or _ON (RTCP on the RTP port). */
	enum { RP_MEDIACTL_MUX_KEEP = 0, RP_MEDIACTL_MUX_OFF, RP_MEDIACTL_MUX_ON } rtcp_mux;
};

/* leg.update. Returns 0, -EREMOTEIO (mediad refused: see last_error),
 * or another negative errno. */
int rp_mediactl_leg_update(rp_mediactl *c, uint64_t id, const struct rp_mediactl_leg *l);

/* session.update: both legs in one round trip (a then b, each all or
 * nothing; either may be NULL, not both; a->leg must be 'a', b->leg 'b').
 * Returns like rp_mediactl_leg_update(); on -EREMOTEIO the last error
 * names the leg that failed (a's change stays if b failed). */
int rp_mediactl_session_update(rp_mediactl *c, uint64_t id, const struct rp_mediactl_leg *a,
	const struct rp_mediactl_leg *b);

/* What session.query tells about one leg. */
struct rp_mediactl_leg_state {
	uint16_t port;
	char remote[RP_MEDIACTL_ADDR_MAX]; /* "ip:port", "" when none */
	bool srtp_in, srtp_out;
	uint64_t packets_in, packets_out, bytes_in, bytes_out, auth_failures;
	uint64_t packets_lost; /* RTP lost on the way to this leg (mediad's count) */
	uint64_t malformed;    /* RTP/RTCP dropped for an inconsistent header (mediad's) */
};
/* session.query. -EREMOTEIO when mediad has no such session. */
int rp_mediactl_query(rp_mediactl *c, uint64_t id, struct rp_mediactl_leg_state *a,
	struct rp_mediactl_leg_state *b);
/* session.delete. -EREMOTEIO when mediad has no such session. */
int rp_mediactl_delete(rp_mediactl *c, uint64_t id);

#endif
