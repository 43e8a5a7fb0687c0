/* mworker: one mediad I/O worker thread.
 *
 * A worker owns an engine (engine.h), the sessions sharded to it and their
 * sockets; only its thread touches them, so the packet path takes no locks.
 * Other threads talk to it through a command queue (mutex + eventfd: the
 * lock is taken once per control request, never per packet) and wait for
 * the reply. It scans its sessions for media timeouts and reports them
 * through the event callback.
 *
 * Ownership: mworker_new() returns a running worker; mworker_free() stops
 * it, closes every socket it owns, returns the ports to the pool and frees
 * the sessions. A session handed over with MCMD_ADD becomes the worker's.
 */
#ifndef MWORKER_H
#define MWORKER_H

#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "mcfg.h"
#include "session.h"
#include "stats.h"

struct mkern;
struct mpool;
struct mworker;

/* A timeout report: sent once when a session has had no media for its
 * media timeout, and again (deleted = true, final counters) when it is
 * deleted after its delete timeout. */
struct mevent {
	uint64_t id;
	char label[48];
	bool deleted;
	uint64_t idle_ms;
	struct mstats_leg leg[2];
};

/* Called on the worker thread; must not block for long (queue and return). */
typedef void (*mworker_event_fn)(void *ctx, const struct mevent *ev);

struct mworker_cfg {
	unsigned idx;
	enum mcfg_engine engine;
	unsigned ring_buffers;
	unsigned batch_wait_us;    /* engine batching (engine.h struct meng_params) */
	unsigned batch_size;
	unsigned socket_rcvbuf;    /* SO_RCVBUF for every media socket; 0 = leave */
	struct mpool *pool;        /* ports go back here when sessions die */
	mworker_event_fn on_event; /* may be NULL */
	void *event_ctx;
	struct mkern *kern;        /* kernel fast path (kernel.h); NULL = none */
};

/* A copy of a session's state for replies (no pointers into the worker). */
struct msess_info {
	uint64_t id;
	char label[48];
	uint64_t idle_ms, age_ms;
	bool timeout_reported;
	struct {
		uint16_t port;
		int family;
		union maddr remote_rtp, remote_rtcp;
		bool latched_rtp, latched_rtcp, rtcp_mux, srtp_in, srtp_out;
		enum mleg_latch latch;
		struct mstats_leg st;
		bool kernel;             /* filled by the control thread (mkern) */
		uint64_t kernel_pkts_in; /* of st.pkts_in, forwarded by the module */
	} leg[2];
};

enum mcmd_kind {
	MCMD_ADD,    /* sess: a new session (sockets attached) */
	MCMD_UPDATE, /* id, leg, upd -> info; -EAFNOSUPPORT: remote family != leg family */
	MCMD_DELETE, /* id -> info (final counters) */
	MCMD_QUERY,  /* id -> info */
	MCMD_LIST,   /* -> ids/nids (malloc'd array the caller frees) */
	MCMD_STATS,  /* -> total */
};

struct mcmd {
	enum mcmd_kind kind;
	uint64_t id;
	int leg;
	struct msess *sess;
	struct mleg_update upd;
	/* replies */
	int result; /* 0, -ENOENT (no such session), other negative errno */
	struct msess_info info;
	uint64_t *ids;
	size_t nids;
	struct mstats_total total;
	/* queue plumbing */
	sem_t done;
	struct mcmd *next;
};

int mworker_new(const struct mworker_cfg *cfg, struct mworker **out);
void mworker_free(struct mworker *w);
const char *mworker_engine_name(const struct mworker *w);

/* Runs c on the worker and waits for it. Returns c->result. Thread-safe.
 * MCMD_ADD: on failure the session (and its sockets/ports) is released by
 * the worker too, so the caller never cleans up after a handed-over session. */
int mworker_call(struct mworker *w, struct mcmd *c);
/* Runs cmds[0..n) on the worker in this order, in one hand-off, and waits
 * for all of them: one wake-up of each thread instead of n. Each result is
 * in cmds[i]->result; returns 0, or a negative errno if none was queued. */
int mworker_call_n(struct mworker *w, struct mcmd **cmds, unsigned n);

/* Engine hooks (called on the worker thread by engine_*.c). */
/* Once per batch, before its packets: takes the batch's timestamp (one
 * clock read per batch, not per packet). */
void mworker_batch_begin(struct mworker *w);
/* Returns true with *fwd filled if the packet is to be sent. */
bool mworker_packet(struct mworker *w, struct msock *s, const union maddr *src,
	uint8_t *pkt, size_t *len, size_t cap, struct mfwd *fwd);
void mworker_wake(struct mworker *w);
void mworker_sock_released(struct mworker *w, struct msock *s);
void mworker_count_send_err(struct mworker *w);
void mworker_count_overflow(struct mworker *w);

/* CLOCK_MONOTONIC in ms. */
uint64_t mworker_now_ms(void);

#endif
