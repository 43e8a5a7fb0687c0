/* mload: the media benchmark's load generator.
 *
 * It plays both peers of n calls from loopback UDP sockets: for each
 * stream (call) a socket on leg A and one on leg B, both bound to
 * 127.0.0.1 port 0. One direction is measured per run: packets go out of
 * the stream's sending socket to the relay's port for that leg and must
 * come back, forwarded, on the same stream's other socket.
 *
 * Packets are 172 bytes of RTP (12-byte header + 160 payload; SRTP adds
 * the 10-byte tag). The payload carries a magic, the stream index, a
 * 32-bit sequence number and the number of the send batch; the sender
 * stamps each batch (CLOCK_MONOTONIC) just before its sendmmsg(), so the
 * receiver computes added latency = receive time - send time without the
 * cost of building/protecting packets in it. Receive time is measured
 * twice: when our receiver thread got the packet, and the kernel's arrival
 * stamp on our socket (see struct mload_result). The rest of the payload is a
 * pattern derived from the sequence number, checked byte for byte.
 *
 * The sender paces to a fixed aggregate rate, round-robin over the
 * streams, and groups consecutive packets of one socket in one sendmmsg().
 * A receiver thread drains the far sockets with epoll + recvmmsg().
 * Everything is bounded: a run lasts the requested time (at most 60 s)
 * plus a drain of at most 2 s.
 *
 * Ownership: mload_new() returns a generator the caller frees with
 * mload_free(), which closes the sockets and frees the SRTP contexts
 * handed to mload_stream_set() (they become the generator's).
 */
#ifndef MLOAD_H
#define MLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "msrtp.h"

#define MLOAD_PAYLOAD 160
#define MLOAD_PKT (12 + MLOAD_PAYLOAD)

struct mload;

/* Creates n streams (2n sockets on 127.0.0.1). Returns 0 or a negative
 * errno (-EMFILE when the fd limit is too low: raise RLIMIT_NOFILE). */
int mload_new(unsigned n, struct mload **out);
void mload_free(struct mload *g);

/* Local ports of stream i's A and B sockets (to tell the relay). */
uint16_t mload_port(const struct mload *g, unsigned i, int leg);

/* Which way stream i runs in the next mload_run(): from its socket on leg
 * 'from' (0 = A, 1 = B) to relay_port on 127.0.0.1, received on the other
 * leg's socket. tx: context that protects what is sent (NULL = plain
 * RTP); rx: context that unprotects what is received (NULL = plain). The
 * contexts become the generator's (freed by mload_stream_set() again or
 * mload_free()). Each call resets the stream's sequence numbers: use new
 * contexts with it. */
void mload_stream_set(struct mload *g, unsigned i, int from, uint16_t relay_port,
		      struct msrtp *tx, struct msrtp *rx);

struct mload_result {
	uint64_t sent;       /* packets handed to the kernel */
	uint64_t received;   /* valid forwarded packets (each counted once) */
	uint64_t lost;       /* sent - received (not back within the drain) */
	uint64_t reordered;  /* arrived after a later packet of their stream */
	uint64_t duplicates; /* same sequence number again */
	uint64_t bad;        /* failed SRTP unprotect, wrong size/magic/payload/stream */
	uint64_t send_errors;
	uint64_t gen_drops;  /* dropped by our own receiving sockets (full buffer):
			      * the generator's receiver fell behind */
	double seconds;      /* sending time */
	double offered_pps;  /* requested rate */
	double sent_pps;     /* achieved send rate */
	/* Added latency of received packets, from the batch's send time
	 * (taken just before its sendmmsg) to the time our receiver thread got
	 * the packet back from recvmmsg: includes our own scheduling delay. */
	double p50_us, p99_us, max_us;
	/* The same to the kernel's arrival stamp on our socket (SO_TIMESTAMPNS,
	 * moved onto CLOCK_MONOTONIC): the relay's part without our receiver's
	 * delay. arrival_stamped: packets that carried a stamp. */
	double arrival_p50_us, arrival_p99_us;
	uint64_t arrival_stamped;
	bool gen_limited;    /* the generator could not keep the rate (< 97%) */
};

/* Sends at 'pps' packets per second in total for 'seconds', then waits for
 * stragglers (up to 2 s, less once all are back or nothing came for
 * 300 ms). Returns 0 or a negative errno (set-up failures only). */
int mload_run(struct mload *g, double pps, double seconds, struct mload_result *res);

#endif
