#include "mload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x524d4231u     /* "RMB1" */
#define BATCH_MAX 32          /* packets per sendmmsg */
#define RX_BATCH 64           /* packets per recvmmsg */
#define RING_BITS 20          /* send-time ring: 1M batches */
#define RING_MASK ((1u << RING_BITS) - 1)
#define BUFSZ (MLOAD_PKT + MSRTP_TRAILER_ROOM)
#define HIST_SUB 64
#define HIST_N (HIST_SUB + 40 * HIST_SUB)
#define MAX_SECONDS 60.0
#define RCVBUF (2 << 20)
#define DRAIN_MAX_NS 2000000000LL
#define DRAIN_IDLE_NS 300000000LL

struct stream {
	int fd[2];
	uint16_t port[2];
	int from;
	struct sockaddr_in dst;
	struct msrtp *tx, *rx;
	uint32_t tx_seq;
	/* receiver side (receiver thread only during a run) */
	uint32_t rx_max;
	bool rx_any;
	uint8_t *seen; /* bitmap of received sequence numbers */
	uint32_t seen_bits;
	uint32_t drops0; /* socket drop counter at the start of the run */
};

struct mload {
	unsigned n;
	struct stream *s;
	int ep; /* epoll over the receiving sockets of the current run */
	int64_t t0;
	_Atomic uint64_t *ring; /* batch -> tag << 48 | send time - t0 (ns) */
	atomic_bool stop;
	atomic_uint_fast64_t rx_total; /* progress for the drain */
	/* receiver results */
	uint64_t received, reordered, duplicates, bad, unknown_time;
	uint64_t hist[HIST_N];  /* receive time: after our recvmmsg() returned */
	uint64_t khist[HIST_N]; /* arrival time: the kernel's stamp when the
				 * relay's packet reached our socket */
	uint64_t kstamped;
	int64_t real_minus_mono; /* to put SO_TIMESTAMPNS stamps on CLOCK_MONOTONIC */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned hist_bucket(uint64_t us)
{
	if (us < HIST_SUB)
		return (unsigned)us;
	int b = 63 - __builtin_clzll(us); /* >= 6 */
	unsigned idx = HIST_SUB + (unsigned)(b - 6) * HIST_SUB +
		       (unsigned)((us >> (b - 6)) & (HIST_SUB - 1));
	return idx < HIST_N ? idx : HIST_N - 1;
}

/* Middle of a bucket, in microseconds. */
static double hist_value(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx + 0.5;
	unsigned b = (idx - HIST_SUB) / HIST_SUB + 6, sub = (idx - HIST_SUB) % HIST_SUB;
	double w = (double)(1ull << (b - 6));
	return ((double)(HIST_SUB + sub)) * w + w / 2;
}

static double hist_pct(const uint64_t *h, uint64_t total, double pct)
{
	uint64_t want = (uint64_t)((double)total * pct), acc = 0;

	if (!total)
		return 0;
	if (want >= total)
		want = total - 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		acc += h[i];
		if (acc > want)
			return hist_value(i);
	}
	return hist_value(HIST_N - 1);
}

static int open_sock(uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	/* Room for bursts while our receiver thread is off the CPU (the box
	 * is shared with the relay): losses should be the relay's. Root may
	 * exceed rmem_max; otherwise the kernel caps it, which is fine. */
	int rb = RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	int on = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	*port = ntohs(a.sin_port);
	return fd;
}

static uint32_t sock_drops(int fd)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t l = sizeof(mi);

	memset(mi, 0, sizeof(mi));
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &l) < 0 || l <= SK_MEMINFO_DROPS * 4)
		return 0;
	return mi[SK_MEMINFO_DROPS];
}

int mload_new(unsigned n, struct mload **out)
{
	struct mload *g;
	int rc;

	if (n == 0)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->n = n;
	g->ep = -1;
	g->s = calloc(n, sizeof(*g->s));
	g->ring = calloc(1u << RING_BITS, sizeof(*g->ring));
	if (!g->s || !g->ring) {
		rc = -ENOMEM;
		goto err;
	}
	for (unsigned i = 0; i < n; i++)
		g->s[i].fd[0] = g->s[i].fd[1] = -1;
	for (unsigned i = 0; i < n; i++)
		for (int l = 0; l < 2; l++) {
			rc = open_sock(&g->s[i].port[l]);
			if (rc < 0)
				goto err;
			g->s[i].fd[l] = rc;
		}
	*out = g;
	return 0;
err:
	mload_free(g);
	return rc;
}

void mload_free(struct mload *g)
{
	if (!g)
		return;
	for (unsigned i = 0; g->s && i < g->n; i++) {
		for (int l = 0; l < 2; l++)
			if (g->s[i].fd[l] >= 0)
				close(g->s[i].fd[l]);
		msrtp_free(g->s[i].tx);
		msrtp_free(g->s[i].rx);
		free(g->s[i].seen);
	}
	if (g->ep >= 0)
		close(g->ep);
	free(g->s);
	free((void *)g->ring);
	free(g);
}

uint16_t mload_port(const struct mload *g, unsigned i, int leg)
{
	return i < g->n ? g->s[i].port[leg ? 1 : 0] : 0;
}

void mload_stream_set(struct mload *g, unsigned i, int from, uint16_t relay_port,
		      struct msrtp *tx, struct msrtp *rx)
{
	struct stream *s = &g->s[i];

	msrtp_free(s->tx);
	msrtp_free(s->rx);
	s->tx = tx;
	s->rx = rx;
	s->from = from ? 1 : 0;
	memset(&s->dst, 0, sizeof(s->dst));
	s->dst.sin_family = AF_INET;
	s->dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->dst.sin_port = htons(relay_port);
	s->tx_seq = 0;
}

/* ---- receiver ---- */

static void rx_packet(struct mload *g, unsigned si, uint8_t *p, size_t len, int64_t t_rel,
		      int64_t k_rel)
{
	struct stream *s = &g->s[si];
	uint32_t seq, batch;
	uint64_t e;

	if (s->rx && msrtp_unprotect_rtp(s->rx, p, &len) != MSRTP_OK) {
		g->bad++;
		return;
	}
	if (len != MLOAD_PKT || p[0] != 0x80 || get32(p + 12) != MAGIC || get32(p + 16) != si) {
		g->bad++;
		return;
	}
	seq = get32(p + 20);
	batch = get32(p + 24);
	for (unsigned j = 16; j < MLOAD_PAYLOAD; j++)
		if (p[12 + j] != (uint8_t)(seq * 7u + j)) {
			g->bad++;
			return;
		}
	if (seq < s->seen_bits) {
		if (s->seen[seq >> 3] & (1u << (seq & 7))) {
			g->duplicates++;
			return;
		}
		s->seen[seq >> 3] |= (uint8_t)(1u << (seq & 7));
	}
	g->received++;
	if (s->rx_any && seq < s->rx_max)
		g->reordered++;
	else
		s->rx_max = seq, s->rx_any = true;
	e = atomic_load_explicit(&g->ring[batch & RING_MASK], memory_order_acquire);
	if (e >> 48 != (batch >> RING_BITS & 0xffff) || e == 0) {
		g->unknown_time++; /* older than the ring: later than anything else */
		g->hist[HIST_N - 1]++;
		if (k_rel != INT64_MIN)
			g->khist[HIST_N - 1]++, g->kstamped++;
		return;
	}
	int64_t ts = (int64_t)(e & 0xffffffffffffull), d = t_rel - ts;
	g->hist[hist_bucket(d > 0 ? (uint64_t)d / 1000u : 0)]++;
	if (k_rel != INT64_MIN) {
		d = k_rel - ts;
		g->khist[hist_bucket(d > 0 ? (uint64_t)d / 1000u : 0)]++;
		g->kstamped++;
	}
}

static void *rx_main(void *arg)
{
	struct mload *g = arg;
	static __thread uint8_t bufs[RX_BATCH][BUFSZ];
	struct mmsghdr m[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct epoll_event evs[256];
	static __thread union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct timespec)) + 64];
	} ctl[RX_BATCH];

	for (int i = 0; i < RX_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = BUFSZ;
	}
	while (!atomic_load_explicit(&g->stop, memory_order_relaxed)) {
		int ne = epoll_wait(g->ep, evs, 256, 20);

		for (int e = 0; e < ne; e++) {
			unsigned si = evs[e].data.u32;
			struct stream *s = &g->s[si];
			int fd = s->fd[s->from ^ 1];

			/* A few rounds per socket, then the next: fairness. */
			for (int round = 0; round < 4; round++) {
				memset(m, 0, sizeof(m));
				for (int i = 0; i < RX_BATCH; i++) {
					m[i].msg_hdr.msg_iov = &iov[i];
					m[i].msg_hdr.msg_iovlen = 1;
					m[i].msg_hdr.msg_control = ctl[i].b;
					m[i].msg_hdr.msg_controllen = sizeof(ctl[i].b);
				}
				int r = recvmmsg(fd, m, RX_BATCH, MSG_DONTWAIT, NULL);
				if (r <= 0)
					break;
				int64_t t = now_ns() - g->t0;
				for (int i = 0; i < r; i++) {
					int64_t k = INT64_MIN;
					struct cmsghdr *c;
					for (c = CMSG_FIRSTHDR(&m[i].msg_hdr); c;
					     c = CMSG_NXTHDR(&m[i].msg_hdr, c)) {
						if (c->cmsg_level == SOL_SOCKET &&
						    c->cmsg_type == SCM_TIMESTAMPNS) {
							struct timespec kt;
							memcpy(&kt, CMSG_DATA(c), sizeof(kt));
							k = (int64_t)kt.tv_sec * 1000000000LL + kt.tv_nsec -
							    g->real_minus_mono - g->t0;
						}
					}
					rx_packet(g, si, bufs[i], m[i].msg_len, t, k);
				}
				atomic_fetch_add_explicit(&g->rx_total, (uint64_t)r, memory_order_relaxed);
				if (r < RX_BATCH)
					break;
			}
		}
	}
	return NULL;
}

/* ---- sender ---- */

static void build(struct stream *s, unsigned si, uint8_t *p, uint32_t seq, uint32_t batch)
{
	p[0] = 0x80;
	p[1] = 0; /* PCMU */
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	put32(p + 4, seq * 160u);
	put32(p + 8, 0x5a000000u | si);
	put32(p + 12, MAGIC);
	put32(p + 16, si);
	put32(p + 20, seq);
	put32(p + 24, batch);
	for (unsigned j = 16; j < MLOAD_PAYLOAD; j++)
		p[12 + j] = (uint8_t)(seq * 7u + j);
	(void)s;
}

/* Sends 'cnt' consecutive packets of stream si; returns packets sent. */
static uint64_t send_group(struct mload *g, unsigned si, unsigned cnt, uint32_t *batch,
			   uint64_t *errors)
{
	static __thread uint8_t bufs[BATCH_MAX][BUFSZ];
	struct mmsghdr m[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	struct stream *s = &g->s[si];
	uint64_t sent = 0;

	while (cnt) {
		unsigned k = cnt < BATCH_MAX ? cnt : BATCH_MAX, ok = 0;
		uint32_t b = (*batch)++;

		memset(m, 0, sizeof(m[0]) * k);
		for (unsigned i = 0; i < k; i++) {
			size_t len = MLOAD_PKT;

			build(s, si, bufs[ok], s->tx_seq++, b);
			if (s->tx && msrtp_protect_rtp(s->tx, bufs[ok], &len, BUFSZ) != MSRTP_OK) {
				(*errors)++;
				continue;
			}
			iov[ok].iov_base = bufs[ok];
			iov[ok].iov_len = len;
			m[ok].msg_hdr.msg_iov = &iov[ok];
			m[ok].msg_hdr.msg_iovlen = 1;
			m[ok].msg_hdr.msg_name = &s->dst;
			m[ok].msg_hdr.msg_namelen = sizeof(s->dst);
			ok++;
		}
		uint64_t e = (uint64_t)(b >> RING_BITS & 0xffff) << 48 |
			     ((uint64_t)(now_ns() - g->t0) & 0xffffffffffffull);
		atomic_store_explicit(&g->ring[b & RING_MASK], e, memory_order_release);
		for (unsigned off = 0, tries = 0; off < ok && tries < 8; tries++) {
			int r = sendmmsg(s->fd[s->from], m + off, ok - off, 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				*errors += ok - off;
				break;
			}
			off += (unsigned)r;
			sent += (unsigned)r;
		}
		cnt -= k;
	}
	return sent;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int mload_run(struct mload *g, double pps, double seconds, struct mload_result *res)
{
	pthread_t th;
	uint64_t sent = 0, k = 0, errors = 0;
	uint32_t batch = 1;
	unsigned next = 0;
	int64_t t_end, t, t_stop;
	int rc;

	if (pps <= 0 || seconds <= 0)
		return -EINVAL;
	if (seconds > MAX_SECONDS)
		seconds = MAX_SECONDS;
	memset(res, 0, sizeof(*res));
	g->received = g->reordered = g->duplicates = g->bad = g->unknown_time = 0;
	memset(g->hist, 0, sizeof(g->hist));
	memset(g->khist, 0, sizeof(g->khist));
	g->kstamped = 0;
	memset((void *)g->ring, 0, sizeof(*g->ring) << RING_BITS);
	atomic_store(&g->rx_total, 0);
	atomic_store(&g->stop, false);
	if (g->ep >= 0)
		close(g->ep);
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0)
		return -errno;
	/* Per-stream bitmap for the packets this run can send (+ slack). */
	uint64_t per = (uint64_t)(pps / g->n * seconds) + 1024;
	for (unsigned i = 0; i < g->n; i++) {
		struct stream *s = &g->s[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		uint8_t drain[BUFSZ];

		/* Leftovers of an earlier run are not this run's (bounded: at
		 * most what a 2 MiB buffer holds). */
		for (int j = 0; j < 20000; j++)
			if (recv(s->fd[s->from ^ 1], drain, sizeof(drain), MSG_DONTWAIT) <= 0)
				break;
		free(s->seen);
		s->seen_bits = per > UINT32_MAX - 8 ? UINT32_MAX - 8 : (uint32_t)per;
		s->seen = calloc((s->seen_bits + 7) / 8, 1);
		if (!s->seen)
			return -ENOMEM;
		s->rx_any = false;
		s->rx_max = 0;
		s->drops0 = sock_drops(s->fd[s->from ^ 1]);
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, s->fd[s->from ^ 1], &ev) < 0)
			return -errno;
	}
	{
		/* NTP may slew CLOCK_REALTIME by at most 0.05%: ~7 us in 15 s. */
		struct timespec r;
		int64_t m0 = now_ns();
		clock_gettime(CLOCK_REALTIME, &r);
		int64_t m1 = now_ns();
		g->real_minus_mono = (int64_t)r.tv_sec * 1000000000LL + r.tv_nsec - (m0 + m1) / 2;
	}
	g->t0 = now_ns();
	if ((rc = pthread_create(&th, NULL, rx_main, g)) != 0)
		return -rc;
	t = g->t0;
	t_end = g->t0 + (int64_t)(seconds * 1e9);
	while ((t = now_ns()) < t_end) {
		uint64_t due = (uint64_t)((double)(t - g->t0) * pps / 1e9);

		if (k >= due) {
			int64_t nt = g->t0 + (int64_t)((double)(k + 1) * 1e9 / pps);
			if (nt - t < 50000)
				nt = t + 50000; /* do not spin: a 50 us floor */
			if (nt - t > 1000000)
				nt = t + 1000000;
			sleep_until(nt);
			continue;
		}
		uint64_t m = due - k;
		if (m > 4096)
			m = 4096; /* behind: catch up in bounded bursts */
		/* Packets k..k+m-1 go to streams k%n.. round-robin: send each
		 * stream's share as one group (one sendmmsg). */
		uint64_t full = m / g->n, rest = m % g->n;
		unsigned cnt_streams = full ? g->n : (unsigned)rest;
		for (unsigned j = 0; j < cnt_streams; j++) {
			unsigned si = (next + j) % g->n;
			unsigned c = (unsigned)(full + (j < rest ? 1 : 0));
			sent += send_group(g, si, c, &batch, &errors);
		}
		next = (unsigned)((next + m) % g->n);
		k += m;
	}
	res->seconds = (double)(t - g->t0) / 1e9;
	/* Drain: until everything is back, nothing came for a while, or 2 s. */
	t_stop = now_ns();
	{
		uint64_t last = atomic_load(&g->rx_total);
		int64_t last_t = t_stop;
		for (int i = 0; i < 400; i++) {
			int64_t tn = now_ns();
			uint64_t cur = atomic_load(&g->rx_total);
			if (cur >= sent || tn - t_stop > DRAIN_MAX_NS)
				break;
			if (cur != last)
				last = cur, last_t = tn;
			else if (tn - last_t > DRAIN_IDLE_NS)
				break;
			sleep_until(tn + 5000000);
		}
	}
	atomic_store(&g->stop, true);
	pthread_join(th, NULL);
	res->gen_drops = 0;
	for (unsigned i = 0; i < g->n; i++) {
		struct stream *s = &g->s[i];
		res->gen_drops += sock_drops(s->fd[s->from ^ 1]) - s->drops0;
		epoll_ctl(g->ep, EPOLL_CTL_DEL, s->fd[s->from ^ 1], NULL);
	}
	res->sent = sent;
	res->received = g->received;
	res->lost = sent > g->received ? sent - g->received : 0;
	res->reordered = g->reordered;
	res->duplicates = g->duplicates;
	res->bad = g->bad;
	res->send_errors = errors;
	res->offered_pps = pps;
	res->sent_pps = res->seconds > 0 ? (double)sent / res->seconds : 0;
	res->gen_limited = res->sent_pps < 0.97 * pps;
	res->p50_us = hist_pct(g->hist, g->received, 0.50);
	res->p99_us = hist_pct(g->hist, g->received, 0.99);
	res->arrival_p50_us = hist_pct(g->khist, g->kstamped, 0.50);
	res->arrival_p99_us = hist_pct(g->khist, g->kstamped, 0.99);
	res->arrival_stamped = g->kstamped;
	res->max_us = 0;
	for (unsigned i = HIST_N; i-- > 0;)
		if (g->hist[i]) {
			res->max_us = hist_value(i);
			break;
		}
	return 0;
}
