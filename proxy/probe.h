/* probe: reachability of trunk addresses from OPTIONS probing.
 *
 * The table holds one entry per address of every trunk with a
 * probe_interval (names resolved: one entry per address they gave). The
 * core rebuilds it when a config is installed (rp_probe_set: state of an
 * address that stays is kept), asks it which probes are due
 * (rp_probe_due, from its timer thread), sends an OPTIONS on a client
 * transaction for each, and reports what came back (rp_probe_result).
 * An address is down after down_after failures in a row (no response
 * before Timer F, a transport error, 408 or 503), up after up_after
 * successes in a row (any other final response: a 404 or 501 still
 * proves a SIP server answers). Until then it is "unknown".
 *
 * Readers: rp_probe_is_down() (serial failover skips addresses known
 * down), rp_probe_list() (the 'trunks' control command, metrics).
 *
 * Thread safety: one mutex; every function may be called from any
 * thread. Ownership: the table copies everything it is given.
 */
#ifndef RP_PROBE_H
#define RP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

typedef struct rp_probe rp_probe;

enum rp_probe_state {
	RP_PROBE_UNKNOWN = 0,
	RP_PROBE_UP,
	RP_PROBE_DOWN,
};
/* "unknown", "up", "down". */
const char *rp_probe_state_name(enum rp_probe_state s);

/* One address to probe (rp_probe_set input). */
struct rp_probe_addr {
	const char *trunk;      /* trunk name */
	const char *host;       /* as configured (Request-URI host, TLS name) */
	uint16_t port;          /* the port used */
	enum rp_tp tp;
	rp_addr addr;           /* resolved, with port */
	uint32_t interval_ms, down_after, up_after;
};

/* What the table knows of one address (rp_probe_list output). */
struct rp_probe_info {
	char trunk[65];
	char host[256];
	uint16_t port;
	enum rp_tp tp;
	rp_addr addr;
	enum rp_probe_state state;
	char last[48];          /* "200 OK", "timeout", "503", "not probed yet" */
	int64_t rtt_ms;         /* of the last answered probe; -1 none */
	uint64_t last_ms;       /* rp_now_ms() of the last result; 0 none */
	unsigned fails, oks;    /* in a row */
	uint64_t probes, failures;
};

int rp_probe_new(rp_probe **out);
void rp_probe_free(rp_probe *p);

/* Replaces the set of addresses. Entries for the same trunk, transport and
 * address keep their state and counters; new ones are due at once
 * (now_ms). Returns 0 or -ENOMEM (the old set stays). */
int rp_probe_set(rp_probe *p, const struct rp_probe_addr *a, size_t n, uint64_t now_ms);

/* A probe to send (rp_probe_due output). */
struct rp_probe_send {
	uint32_t id;            /* give it back to rp_probe_result */
	enum rp_tp tp;
	rp_addr addr;
	char host[256];
	uint16_t port;
	char trunk[65];         /* the trunk probed (its TLS settings) */
};

/* Probes due at now_ms (at most max), each marked in flight: an address
 * with a probe in flight is not probed again until its result. Returns
 * the count. */
size_t rp_probe_due(rp_probe *p, uint64_t now_ms, struct rp_probe_send *out, size_t max);

/* The result of probe 'id': status = the final response's code, or 0 when
 * none came (timeout, transport error). A stale id (the set was replaced)
 * is ignored. Returns the new state when the address changed state (and
 * fills *info, which may be NULL), else -1. */
int rp_probe_result(rp_probe *p, uint32_t id, unsigned status, const char *what,
	uint64_t now_ms, struct rp_probe_info *info);

/* True when the address of this trunk is known down. */
bool rp_probe_is_down(rp_probe *p, const char *trunk, enum rp_tp tp, const rp_addr *a);

/* Copies up to max entries (all trunks when trunk is NULL) into out, in
 * configuration order. Returns how many there are in all. */
size_t rp_probe_list(rp_probe *p, const char *trunk, struct rp_probe_info *out, size_t max);

#endif
