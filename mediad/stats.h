/* mstats: packet counters of rampart-mediad.
 *
 * Per leg, counters live in the leg and are written only by the worker that
 * owns the session. Global figures are not kept on the packet path: a
 * worker sums its live legs plus the legs of sessions it already deleted
 * (mstats_total 'retired') when asked, so the hot path does one increment
 * per counter, not two.
 *
 * Plain values; no ownership.
 */
#ifndef MSTATS_H
#define MSTATS_H

#include <stdint.h>

struct mstats_leg {
	uint64_t pkts_in, bytes_in;   /* received and accepted on this leg */
	uint64_t pkts_out, bytes_out; /* sent from this leg toward its remote */
	uint64_t auth_fail;    /* SRTP/SRTCP authentication failed */
	uint64_t replay;       /* SRTP replay check failed */
	uint64_t src_mismatch; /* source differs from the expected remote */
	uint64_t parse_err;    /* not RTP/RTCP, or SRTP could not parse it */
	uint64_t no_remote;    /* dropped: the other leg has no remote yet */
	uint64_t protect_err;  /* dropped: protecting toward this leg failed */
	uint64_t last_ms;      /* CLOCK_MONOTONIC ms of the last accepted packet; 0 = none */
};

struct mstats_total {
	struct mstats_leg pkt;       /* sums of all legs (last_ms = latest) */
	uint64_t send_err;           /* sendmsg/sendmmsg failures */
	uint64_t rx_overflow;        /* receive buffers ran out (ring empty) */
	uint64_t sessions_active;
	uint64_t sessions_created;
	uint64_t sessions_deleted;   /* by request or timeout */
	uint64_t sessions_timed_out; /* deleted because of no media */
	uint64_t port_exhausted;     /* session.create refused: no ports */
};

/* dst += src for every counter; last_ms takes the later one. */
void mstats_leg_add(struct mstats_leg *dst, const struct mstats_leg *src);
void mstats_total_add(struct mstats_total *dst, const struct mstats_total *src);

/* Visits each counter of a leg by its control-protocol name, in a fixed
 * order (for encoding replies and docs from one table). */
typedef void (*mstats_visit_fn)(void *ctx, const char *name, uint64_t value);
void mstats_leg_visit(const struct mstats_leg *l, mstats_visit_fn fn, void *ctx);
void mstats_total_visit(const struct mstats_total *t, mstats_visit_fn fn, void *ctx);

#endif
