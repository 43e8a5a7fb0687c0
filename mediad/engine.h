/* meng: the I/O engine interface of a mediad worker.
 *
 * An engine watches a worker's sockets and its wake-up eventfd, receives
 * packets in batches, hands each to the worker (mworker_packet), sends what
 * the worker says to send, and tells the worker when a socket it was asked
 * to drop is no longer referenced (mworker_sock_released). Two engines
 * implement it: io_uring (engine_uring.c) and recvmmsg/sendmmsg + epoll
 * (engine_mmsg.c). Both are driven by the same worker code and must behave
 * the same.
 *
 * Threading: an engine is created, run and freed on its worker's thread.
 * Ownership: meng_new() returns an engine freed with meng_free(); the
 * engine never closes sockets (the worker does, after release).
 */
#ifndef MENG_H
#define MENG_H

#include <stdbool.h>
#include <stdint.h>

#include "mcfg.h"
#include "session.h"

struct mworker;

/* RX buffer size: an Ethernet-MTU datagram + SRTP tag/MKI + recvmsg header. */
#define MENG_BUF_SIZE 2048

struct meng_vt {
	const char *name;
	/* Start receiving on s. Counts one engine reference in s->sess->pending. */
	int (*add)(void *impl, struct msock *s);
	/* Stop receiving on s; mworker_sock_released() follows (maybe later). */
	void (*del)(void *impl, struct msock *s);
	/* Wait up to timeout_ms for work, then do all that is ready. */
	int (*run)(void *impl, int timeout_ms);
	void (*free)(void *impl);
};

struct meng {
	const struct meng_vt *vt;
	void *impl;
};

/* How an engine batches (mcfg.h: ring-buffers, batch-wait-us, batch-size). */
struct meng_params {
	unsigned nbufs;         /* io_uring provided buffers (power of two) */
	unsigned batch_wait_us; /* 0: run as soon as one packet is there */
	unsigned batch_size;    /* packets worth waiting for (0 = 1) */
};

/* Whether batching by min-wait pays at the rate seen: 'pkts' packets in
 * 'dt_ns' nanoseconds, a wait of 'wait_us'. It does when at least one more
 * packet is expected within the wait (rate x wait >= 1). Below that the
 * wait gathers next to nothing and arms a short timer for every sleep,
 * which on this VM costs more CPU than the wake-ups it saves
 * (docs/bench-media.md, "Where a packet's CPU goes"). */
static inline bool meng_batch_pays(uint64_t pkts, uint64_t dt_ns, unsigned wait_us)
{
	return dt_ns > 0 && wait_us > 0 && pkts * wait_us * 1000ull >= dt_ns;
}

/* Creates the engine 'kind' for worker w (AUTO: io_uring, else mmsg, with
 * the reason logged). wake_fd is an eventfd the engine watches; when it is
 * readable the engine calls mworker_wake(w). Every run calls
 * mworker_batch_begin(w) once after its wait, before any packet goes to
 * mworker_packet(), even when nothing came (the worker's clock for the
 * round). Returns 0 or a negative errno (-ENOSYS/-EPERM
 * when io_uring was forced but is unavailable). */
int meng_new(enum mcfg_engine kind, struct mworker *w, int wake_fd,
	const struct meng_params *p, struct meng *out);
void meng_free(struct meng *e);

static inline int meng_add(struct meng *e, struct msock *s)
{
	return e->vt->add(e->impl, s);
}
static inline void meng_del(struct meng *e, struct msock *s)
{
	e->vt->del(e->impl, s);
}
static inline int meng_run(struct meng *e, int timeout_ms)
{
	return e->vt->run(e->impl, timeout_ms);
}
static inline const char *meng_name(const struct meng *e)
{
	return e->vt->name;
}

#endif
