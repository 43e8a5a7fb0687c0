/* mpool: the UDP port pool of rampart-mediad.
 *
 * Hands out even RTP ports from a configured range [lo, hi] (RTCP on
 * port+1 unless the leg muxes RTCP) and binds the sockets. A port some other
 * process already holds is skipped (bind failure -> next port), so the pool
 * works on a shared machine. Exhaustion fails only the request that hit it.
 *
 * Thread-safe (one mutex; the pool is not on the packet path: the control
 * thread allocates, workers release when a session goes away).
 *
 * Ownership: mpool_new() returns a pool the caller frees with mpool_free().
 * Sockets returned by mpool_alloc() belong to the caller, who closes them
 * and then calls mpool_release() with the port.
 */
#ifndef MPOOL_H
#define MPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct mpool;

struct mpool_ports {
	uint16_t port; /* even RTP port */
	int fd_rtp;    /* non-blocking UDP socket bound to port */
	int fd_rtcp;   /* bound to port+1, or -1 when RTCP is muxed */
};

/* lo..hi inclusive; at least one even port p with p+1 <= hi is needed.
 * Returns 0, -EINVAL or -ENOMEM. */
int mpool_new(uint16_t lo, uint16_t hi, struct mpool **out);
/* NULL allowed. Sockets already handed out are not touched. */
void mpool_free(struct mpool *p);

/* Binds a new port pair on 'addr' (family + address; the port field is
 * ignored). Tries every free even port once, starting after the last one
 * handed out. Returns 0, -ENOSPC when no port could be bound (exhausted,
 * or all held by others), or another negative errno (bad address, out of
 * descriptors) with nothing allocated. */
int mpool_alloc(struct mpool *p, const struct sockaddr *addr, bool rtcp,
	struct mpool_ports *out);
/* Returns a port to the pool (after the caller closed its sockets). */
void mpool_release(struct mpool *p, uint16_t port);

/* Even ports the pool can hand out in total / is handing out now. */
unsigned mpool_capacity(const struct mpool *p);
unsigned mpool_in_use(struct mpool *p);

#endif
