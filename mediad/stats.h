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
	uint64_t malformed;    /* RTP/RTCP v2 whose header contradicts itself */
	uint64_t no_remote;    /* dropped: the other leg has no remote yet */
	uint64_t protect_err;  /* dropped: protecting toward this leg failed */
	uint64_t lost;         /* RTP packets lost on receive (mstats_seq) */
	uint64_t last_ms;      /* CLOCK_MONOTONIC ms of the last accepted packet; 0 = none */
};

/* Receive sequence state of one leg's RTP, for its loss count, after
 * RFC 3550 appendix A.1/A.3: per SSRC, lost = extended highest sequence
 * number - base + 1 - packets received, never below 0. The leg's counter
 * (mstats_leg.lost) holds the closed runs' losses plus the current run's,
 * moved by the difference at each packet, so no total is kept here.
 * 20 bytes: it sits in every leg of every session. */
struct mstats_seq {
	uint32_t ssrc;
	uint32_t cycles;       /* sequence wraps seen, times 65536 (mod 2^32) */
	uint32_t received;     /* packets of this run (mod 2^32) */
	uint16_t base_seq;     /* first sequence number of this run */
	uint16_t max_seq;      /* highest sequence number seen */
	uint16_t bad_seq;      /* after a big jump: the number that confirms it */
	uint8_t flags;         /* MSTATS_SEQ_* */
};
enum {
	MSTATS_SEQ_ACTIVE = 1u << 0, /* a run is open (else the next packet starts one) */
	MSTATS_SEQ_BAD = 1u << 1,    /* bad_seq is armed */
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

/* Feeds one authenticated RTP packet's SSRC and sequence number into q;
 * 'lost' is the leg's loss count so far, the new count is returned (the
 * caller stores it in mstats_leg.lost). A few integer operations, no
 * allocation.
 * - A new SSRC closes the current run (its loss is kept) and starts anew.
 * - A forward step below MSTATS_SEQ_MAX_DROPOUT counts the gap as loss.
 * - A step back of up to MSTATS_SEQ_MAX_MISORDER is a late or duplicate
 *   packet: counted as received, so a late packet takes its loss back.
 * - Any other jump is believed only if the next packet follows it (the
 *   sender restarted its numbering); then a new run starts there. */
#define MSTATS_SEQ_MAX_DROPOUT 3000u
#define MSTATS_SEQ_MAX_MISORDER 100u
uint64_t mstats_seq_update(struct mstats_seq *q, uint64_t lost, uint32_t ssrc, uint16_t seq);
/* Closes the current run (its loss stays counted): the next packet starts
 * a new one. For a gap the worker knows is not loss (packets forwarded by
 * the kernel fast path never reach userspace). */
void mstats_seq_resync(struct mstats_seq *q);

/* Visits each counter of a leg by its control-protocol name, in a fixed
 * order (for encoding replies and docs from one table). */
typedef void (*mstats_visit_fn)(void *ctx, const char *name, uint64_t value);
void mstats_leg_visit(const struct mstats_leg *l, mstats_visit_fn fn, void *ctx);
void mstats_total_visit(const struct mstats_total *t, mstats_visit_fn fn, void *ctx);

#endif
