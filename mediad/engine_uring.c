#include "engine_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rp_log.h"
#include "worker.h"

/* user_data: a pointer to the msock for receives (8-aligned), else a tag
 * in the low 3 bits with the buffer id above it for sends. */
#define UD_RECV 0u
#define UD_SEND 1u
#define UD_WAKE 2u
#define UD_CANCEL 3u
#define UD_MASK 7u

#define BGID 0
#define SQ_ENTRIES 1024

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

/* struct io_uring_getevents_arg as kernel 6.12+ defines it (liburing 2.3
 * calls min_wait_usec 'pad', newer ones rename it: our own copy builds
 * with either). */
struct enter_arg {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

enum { ARMED = 1 };
enum { DYING = 1 };

struct txslot {
	struct msghdr mh;
	struct iovec iov;
	union maddr dst; /* a copy: the session may go before the send ends */
};

struct uring {
	struct mworker *w;
	struct io_uring ring;
	int wake_fd;
	uint64_t wake_val;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	unsigned nbufs;
	int br_pending; /* buffers added since the last advance */
	struct msghdr rxmsg; /* the multishot template: name only, no cmsg */
	struct txslot *tx;   /* one per buffer id */
	/* Buffers of sends queued since the last enter. Sends carry
	 * MSG_DONTWAIT, so the kernel does them (or fails them) inside the
	 * enter that submits them and never retries later: once the SQ is
	 * empty again their buffers are free. Success posts no CQE. */
	unsigned *txq;
	unsigned ntxq;
	/* One enter waits for wait_nr completions, or min_wait_us after the
	 * first one (kernel min-wait; 0 = return at the first). */
	unsigned wait_nr, min_wait_us;
	/* The configured batching (batch-size, batch-wait-us), used only while
	 * the worker's packet rate says it pays (meng_batch_pays): below that
	 * a min-wait gathers nothing and costs a timer per sleep. */
	unsigned cfg_wait_nr, cfg_min_wait_us;
	uint64_t win_start_ns; /* rate window (CLOCK_MONOTONIC_COARSE) */
	unsigned win_pkts;
	/* Send with IORING_OP_SEND + address; cleared (sendmsg from then on)
	 * if the kernel refuses an address there (before 6.0: -EINVAL). */
	bool send_to;
};

static struct io_uring_sqe *get_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* SQ full: push what is queued (this is still one submit per
		 * SQ_ENTRIES operations) and try again. */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void recycle(struct uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * MENG_BUF_SIZE,
		MENG_BUF_SIZE, (unsigned short)bid,
		io_uring_buf_ring_mask(u->nbufs), u->br_pending++);
}

static void flush_bufs(struct uring *u)
{
	if (u->br_pending) {
		io_uring_buf_ring_advance(u->br, u->br_pending);
		u->br_pending = 0;
	}
}

static int arm_recv(struct uring *u, struct msock *s)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recvmsg_multishot(sqe, s->fd, &u->rxmsg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)s | UD_RECV);
	s->eng_state = ARMED;
	return 0;
}

static int arm_wake(struct uring *u)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, u->wake_fd, &u->wake_val, sizeof(u->wake_val), 0);
	io_uring_sqe_set_data64(sqe, UD_WAKE);
	return 0;
}

static int uring_add(void *impl, struct msock *s)
{
	struct uring *u = impl;
	int rc;

	if ((uintptr_t)s & UD_MASK)
		return -EINVAL;
	s->eng_flags = 0;
	if ((rc = arm_recv(u, s)) < 0)
		return rc;
	s->sess->pending++;
	return 0;
}

static void uring_del(void *impl, struct msock *s)
{
	struct uring *u = impl;
	struct io_uring_sqe *sqe;

	s->eng_flags = DYING;
	if (s->eng_state != ARMED) {
		mworker_sock_released(u->w, s);
		return;
	}
	/* The multishot receive ends with a final CQE (-ECANCELED); the
	 * socket is released then, so no CQE can name freed memory. Cancel
	 * by user_data: the kernel finds it in a hash, where a cancel by fd
	 * walks every armed request (quadratic when 1,000 calls end). */
	sqe = get_sqe(u);
	if (!sqe) {
		rp_err("io_uring: no SQE to cancel fd %d", s->fd);
		return;
	}
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)s | UD_RECV, 0);
	io_uring_sqe_set_data64(sqe, UD_CANCEL);
}

static void on_recv(struct uring *u, struct io_uring_cqe *cqe)
{
	struct msock *s = (struct msock *)(uintptr_t)(cqe->user_data & ~(uint64_t)UD_MASK);
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = u->bufs + (size_t)bid * MENG_BUF_SIZE;
		struct io_uring_recvmsg_out *o = NULL;
		bool sent = false;

		if (cqe->res > 0 && !(s->eng_flags & DYING))
			o = io_uring_recvmsg_validate(buf, cqe->res, &u->rxmsg);
		if (o && !(o->flags & MSG_TRUNC)) {
			uint8_t *pl = io_uring_recvmsg_payload(o, &u->rxmsg);
			size_t len = io_uring_recvmsg_payload_length(o, cqe->res, &u->rxmsg);
			size_t cap = (size_t)(buf + MENG_BUF_SIZE - pl);
			union maddr src;
			struct mfwd fwd;

			if (maddr_from(&src, io_uring_recvmsg_name(o), o->namelen) == 0 &&
			    mworker_packet(u->w, s, &src, pl, &len, cap, &fwd)) {
				struct io_uring_sqe *sqe = get_sqe(u);
				if (sqe) {
					struct txslot *t = &u->tx[bid];

					t->dst = *fwd.dst;
					if (u->send_to) {
						/* IORING_OP_SEND with an address (6.0+):
						 * no msghdr to copy in. */
						io_uring_prep_send(sqe, fwd.fd, pl, len, MSG_DONTWAIT);
						io_uring_prep_send_set_addr(sqe, &t->dst.sa,
							(uint16_t)fwd.dstlen);
					} else {
						t->iov.iov_base = pl;
						t->iov.iov_len = len;
						memset(&t->mh, 0, sizeof(t->mh));
						t->mh.msg_name = &t->dst;
						t->mh.msg_namelen = fwd.dstlen;
						t->mh.msg_iov = &t->iov;
						t->mh.msg_iovlen = 1;
						io_uring_prep_sendmsg(sqe, fwd.fd, &t->mh, MSG_DONTWAIT);
					}
					sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
					io_uring_sqe_set_data64(sqe, UD_SEND);
					u->txq[u->ntxq++] = bid;
					sent = true;
				} else {
					mworker_count_send_err(u->w);
				}
			}
		}
		if (!sent)
			recycle(u, bid);
	} else if (cqe->res == -ENOBUFS) {
		mworker_count_overflow(u->w);
	}
	if (more)
		return;
	/* The multishot ended: because we asked (release), or because the
	 * buffers ran out or an error happened (arm again). */
	s->eng_state = 0;
	if (s->eng_flags & DYING) {
		mworker_sock_released(u->w, s);
		return;
	}
	if (cqe->res == -EINVAL || cqe->res == -EBADF || cqe->res == -ENOTSOCK) {
		/* Not something another try fixes: leave this socket idle. */
		rp_err("io_uring: recvmsg on fd %d failed: %s", s->fd, strerror(-cqe->res));
		return;
	}
	if (cqe->res < 0 && cqe->res != -ENOBUFS)
		rp_debug("io_uring: recvmsg on fd %d ended: %s", s->fd, strerror(-cqe->res));
	if (arm_recv(u, s) < 0)
		rp_err("io_uring: cannot re-arm fd %d", s->fd);
}

_Static_assert(sizeof(struct enter_arg) == sizeof(struct io_uring_getevents_arg),
	"io_uring_getevents_arg layout");

/* Submits what is queued and waits, in one io_uring_enter: for wait_nr
 * completions, or min_wait_us once one is there, or timeout_ms for the
 * first. liburing 2.3 cannot pass min_wait_usec, hence the raw call (the
 * SQ tail is published the way io_uring_submit does). */
static int enter(struct uring *u, int timeout_ms)
{
	struct io_uring_sq *sq = &u->ring.sq;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct enter_arg arg;
	unsigned submit;
	long rc;

	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	submit = sq->sqe_tail - io_uring_smp_load_acquire(sq->khead);
	memset(&arg, 0, sizeof(arg));
	arg.ts = (uint64_t)(uintptr_t)&ts;
	arg.min_wait_usec = u->min_wait_us;
	rc = syscall(__NR_io_uring_enter, u->ring.ring_fd, submit, u->wait_nr,
		IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
	return rc < 0 ? -errno : 0;
}

#define RATE_WINDOW_NS 20000000ull

/* Every ~20 ms: batch by min-wait only while it pays (meng_batch_pays);
 * otherwise wake at the first packet with no timer armed. */
static void adapt_wait(struct uring *u, unsigned nrecv)
{
	struct timespec ts;
	uint64_t now, dt;
	bool batch;

	u->win_pkts += nrecv;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	dt = now - u->win_start_ns;
	if (dt < RATE_WINDOW_NS)
		return;
	batch = meng_batch_pays(u->win_pkts, dt, u->cfg_min_wait_us);
	u->wait_nr = batch ? u->cfg_wait_nr : 1;
	u->min_wait_us = batch ? u->cfg_min_wait_us : 0;
	u->win_start_ns = now;
	u->win_pkts = 0;
}

static int uring_run(void *impl, int timeout_ms)
{
	struct uring *u = impl;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0, nrecv = 0;
	int rc;

	rc = enter(u, timeout_ms);
	/* ETIME: nothing came; EINTR: a signal; EBUSY/EAGAIN: the CQ is
	 * full (reap, then enter again). Anything else is the ring's end. */
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
		return rc;
	if (io_uring_sq_ready(&u->ring) == 0) {
		for (unsigned i = 0; i < u->ntxq; i++)
			recycle(u, u->txq[i]);
		u->ntxq = 0;
	}
	mworker_batch_begin(u->w);
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		n++;
		switch (cqe->user_data & UD_MASK) {
		case UD_RECV:
			nrecv += (cqe->flags & IORING_CQE_F_BUFFER) != 0;
			on_recv(u, cqe);
			break;
		case UD_SEND:
			/* Only failures post a CQE; the buffer is in txq. */
			mworker_count_send_err(u->w);
			if (cqe->res == -EINVAL && u->send_to) {
				rp_notice("io_uring: send with an address refused; "
					"using sendmsg");
				u->send_to = false;
			}
			break;
		case UD_WAKE:
			mworker_wake(u->w);
			if (arm_wake(u) < 0)
				rp_err("io_uring: cannot re-arm the wake-up read");
			break;
		default:
			break; /* cancel results: nothing to do */
		}
	}
	io_uring_cq_advance(&u->ring, n);
	flush_bufs(u);
	if (u->cfg_min_wait_us)
		adapt_wait(u, nrecv);
	return 0;
}

static void uring_free(void *impl)
{
	struct uring *u = impl;

	io_uring_queue_exit(&u->ring);
	if (u->br)
		munmap(u->br, u->br_bytes);
	free(u->bufs);
	free(u->tx);
	free(u->txq);
	free(u);
}

static const struct meng_vt uring_vt = {
	.name = "io_uring",
	.add = uring_add,
	.del = uring_del,
	.run = uring_run,
	.free = uring_free,
};

static int ring_init(struct io_uring *ring, unsigned cq_entries, unsigned *features)
{
	/* DEFER_TASKRUN: completions are made only when we wait, and the
	 * kernel wakes us only when enough are due (6.1+); else COOP_TASKRUN
	 * (5.19+); else none of the optional flags. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
			IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
			IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_CQSIZE,
	};
	struct io_uring_params p;
	int rc = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]) && rc == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i];
		p.cq_entries = cq_entries;
		rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	}
	*features = p.features;
	return rc;
}

int meng_uring_new(struct mworker *w, int wake_fd, const struct meng_params *prm,
	struct meng *out)
{
	unsigned nbufs = prm->nbufs, features = 0;
	struct uring *u;
	struct io_uring_buf_reg reg;
	int rc;

	if (getenv("RAMPART_MEDIAD_ENGINE") &&
	    strcmp(getenv("RAMPART_MEDIAD_ENGINE"), "mmsg") == 0)
		return -ENOTSUP; /* forced fallback (tests run both engines) */
	if (nbufs < 16 || nbufs > 32768 || (nbufs & (nbufs - 1)))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->w = w;
	u->wake_fd = wake_fd;
	u->nbufs = nbufs;
	u->rxmsg.msg_namelen = sizeof(union maddr);
	rc = ring_init(&u->ring, nbufs * 4 > SQ_ENTRIES * 2 ? nbufs * 4 : SQ_ENTRIES * 2,
		&features);
	if (rc < 0)
		goto err_free;
	u->wait_nr = 1;
	u->send_to = true;
	if (prm->batch_wait_us && prm->batch_size > 1) {
		if (features & IORING_FEAT_MIN_TIMEOUT) {
			/* Off until the rate says otherwise (adapt_wait). */
			u->cfg_wait_nr = prm->batch_size;
			u->cfg_min_wait_us = prm->batch_wait_us;
		} else {
			rp_info("io_uring: this kernel has no min-wait (6.12+): a worker runs "
				"as soon as one packet is there");
		}
	}
	u->bufs = aligned_alloc(4096, (size_t)nbufs * MENG_BUF_SIZE);
	u->tx = calloc(nbufs, sizeof(*u->tx));
	u->txq = calloc(nbufs, sizeof(*u->txq));
	if (!u->bufs || !u->tx || !u->txq) {
		rc = -ENOMEM;
		goto err_ring;
	}
	/* Touch the buffers now: they are the worker's fixed memory, and a
	 * first-touch page fault does not belong on the packet path. */
	memset(u->bufs, 0, (size_t)nbufs * MENG_BUF_SIZE);
	u->br_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
	u->br = mmap(NULL, u->br_bytes, PROT_READ | PROT_WRITE,
		MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (u->br == MAP_FAILED) {
		u->br = NULL;
		rc = -ENOMEM;
		goto err_ring;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = nbufs;
	reg.bgid = BGID;
	rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (rc < 0)
		goto err_ring;
	io_uring_buf_ring_init(u->br);
	for (unsigned i = 0; i < nbufs; i++)
		recycle(u, i);
	flush_bufs(u);
	if ((rc = arm_wake(u)) < 0)
		goto err_ring;
	rc = io_uring_submit(&u->ring);
	if (rc < 0)
		goto err_ring;
	out->vt = &uring_vt;
	out->impl = u;
	return 0;
err_ring:
	io_uring_queue_exit(&u->ring);
	if (u->br)
		munmap(u->br, u->br_bytes);
err_free:
	free(u->bufs);
	free(u->tx);
	free(u->txq);
	free(u);
	return rc;
}
