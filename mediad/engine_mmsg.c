#include "engine_mmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_log.h"
#include "worker.h"

#define BATCH 32
#define MAX_EVENTS 64

struct mmsg {
	struct mworker *w;
	int epfd, wake_fd;
	/* receive side */
	struct mmsghdr rx[BATCH];
	struct iovec rxiov[BATCH];
	union maddr rxaddr[BATCH];
	/* send side: one sendmmsg per run of packets with the same socket */
	struct mmsghdr tx[BATCH];
	struct iovec txiov[BATCH];
	union maddr txaddr[BATCH];
	int txfd;
	unsigned ntx;
	/* sockets dropped during a batch, released after it (the epoll event
	 * array may still point at them) */
	struct msock **dead;
	size_t ndead, capdead;
	uint8_t bufs[BATCH][MENG_BUF_SIZE];
};

static void flush_tx(struct mmsg *m)
{
	unsigned off = 0;

	while (off < m->ntx) {
		int n = sendmmsg(m->txfd, m->tx + off, m->ntx - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Drop this one packet and carry on with the rest. */
			mworker_count_send_err(m->w);
			off++;
			continue;
		}
		off += (unsigned)n;
	}
	m->ntx = 0;
}

static int mmsg_add(void *impl, struct msock *s)
{
	struct mmsg *m = impl;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		return -errno;
	s->sess->pending++;
	s->eng_state = 1;
	return 0;
}

static void mmsg_del(void *impl, struct msock *s)
{
	struct mmsg *m = impl;

	if (!s->eng_state)
		return;
	s->eng_state = 0;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	if (m->ndead == m->capdead) {
		size_t cap = m->capdead ? m->capdead * 2 : 64;
		struct msock **d = realloc(m->dead, cap * sizeof(*d));
		if (!d) {
			/* Out of memory: leak the session rather than risk
			 * freeing one the current event batch still names. */
			rp_err("mmsg: cannot defer socket release: out of memory");
			mworker_sock_released(m->w, s);
			return;
		}
		m->dead = d;
		m->capdead = cap;
	}
	m->dead[m->ndead++] = s;
}

static void release_dead(struct mmsg *m)
{
	/* A release may free a session; take the list first. */
	for (size_t i = 0; i < m->ndead; i++)
		mworker_sock_released(m->w, m->dead[i]);
	m->ndead = 0;
}

static void rx_socket(struct mmsg *m, struct msock *s)
{
	int n;

	/* The headers point at fixed buffers (set once); the kernel only
	 * rewrote the lengths and flags. */
	for (unsigned i = 0; i < BATCH; i++)
		m->rx[i].msg_hdr.msg_namelen = sizeof(m->rxaddr[i]);
	n = recvmmsg(s->fd, m->rx, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		size_t len = m->rx[i].msg_len;
		struct mfwd fwd;
		unsigned t;

		if (m->rx[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		/* Keep room for the SRTP tag: the buffer is MENG_BUF_SIZE. */
		if (!mworker_packet(m->w, s, &m->rxaddr[i], m->bufs[i], &len,
			    MENG_BUF_SIZE, &fwd))
			continue;
		if (m->ntx && m->txfd != fwd.fd)
			flush_tx(m);
		t = m->ntx++;
		m->txfd = fwd.fd;
		m->txaddr[t] = *fwd.dst;
		m->txiov[t].iov_base = m->bufs[i];
		m->txiov[t].iov_len = len;
		memset(&m->tx[t].msg_hdr, 0, sizeof(m->tx[t].msg_hdr));
		m->tx[t].msg_hdr.msg_name = &m->txaddr[t];
		m->tx[t].msg_hdr.msg_namelen = fwd.dstlen;
		m->tx[t].msg_hdr.msg_iov = &m->txiov[t];
		m->tx[t].msg_hdr.msg_iovlen = 1;
	}
	/* The rx buffers are reused by the next socket: send now. */
	if (m->ntx)
		flush_tx(m);
}

static int mmsg_run(void *impl, int timeout_ms)
{
	struct mmsg *m = impl;
	struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(m->epfd, ev, MAX_EVENTS, timeout_ms);

	mworker_batch_begin(m->w);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct msock *s = ev[i].data.ptr;

		if (!s) {
			mworker_wake(m->w);
			continue;
		}
		if (!s->eng_state || s->sess->dying)
			continue;
		rx_socket(m, s);
	}
	release_dead(m);
	return 0;
}

static void mmsg_free(void *impl)
{
	struct mmsg *m = impl;

	release_dead(m);
	close(m->epfd);
	free(m->dead);
	free(m);
}

static const struct meng_vt mmsg_vt = {
	.name = "mmsg",
	.add = mmsg_add,
	.del = mmsg_del,
	.run = mmsg_run,
	.free = mmsg_free,
};

int meng_mmsg_new(struct mworker *w, int wake_fd, const struct meng_params *p,
	struct meng *out)
{
	struct mmsg *m = calloc(1, sizeof(*m));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int rc;

	if (!m)
		return -ENOMEM;
	(void)p; /* epoll has no "wait for N": batches are what is ready */
	m->w = w;
	m->wake_fd = wake_fd;
	for (unsigned i = 0; i < BATCH; i++) {
		m->rxiov[i].iov_base = m->bufs[i];
		m->rxiov[i].iov_len = MENG_BUF_SIZE;
		m->rx[i].msg_hdr.msg_iov = &m->rxiov[i];
		m->rx[i].msg_hdr.msg_iovlen = 1;
		m->rx[i].msg_hdr.msg_name = &m->rxaddr[i];
	}
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0) {
		rc = -errno;
		free(m);
		return rc;
	}
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
		rc = -errno;
		close(m->epfd);
		free(m);
		return rc;
	}
	out->vt = &mmsg_vt;
	out->impl = m;
	return 0;
}
