/* mworker + engines: real loopback sockets through a real worker thread,
 * run once with io_uring and once with the recvmmsg/epoll engine. Checks
 * byte-exact forwarding both ways with latching, SRTP->RTP with a tampered
 * and a replayed packet dropped, deletion returning the ports, timeout
 * events, and global counters. Every wait is bounded. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msrtp.h"
#include "pool.h"
#include "port_window.h"
#include "worker.h"

/* Every test runs with each engine, and io_uring again with batching on
 * (wait for 32 completions or 200 us after the first: on kernels with
 * min-wait a lone packet then waits out the 200 us) and SO_RCVBUF set. */
static const struct {
	enum mcfg_engine engine;
	unsigned batch_wait_us, batch_size, rcvbuf;
} engines[] = {
	{ MCFG_ENGINE_URING, 0, 0, 0 },
	{ MCFG_ENGINE_MMSG, 0, 0, 0 },
	{ MCFG_ENGINE_URING, 200, 32, 400000 },
};
#define NENGINES (int)(sizeof(engines) / sizeof(engines[0]))

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mevent events[16];
static int nevents;

static void on_event(void *ctx, const struct mevent *ev)
{
	(void)ctx;
	pthread_mutex_lock(&ev_lock);
	if (nevents < 16)
		events[nevents++] = *ev;
	pthread_mutex_unlock(&ev_lock);
}

static int peer(uint16_t *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static union maddr lo(uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.in.sin_port = htons(port);
	return a;
}

static void send_to(int fd, uint16_t port, const void *p, size_t n)
{
	union maddr a = lo(port);

	ck_assert_int_eq(sendto(fd, p, n, 0, &a.sa, sizeof(a.in)), (ssize_t)n);
}

/* Bounded receive: -1 after timeout_ms. */
static ssize_t recv_wait(int fd, void *p, size_t n, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return recv(fd, p, n, MSG_DONTWAIT);
}

static size_t rtp(uint8_t *b, uint16_t seq, size_t n)
{
	b[0] = 0x80;
	b[1] = 8;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	memset(b + 4, 0, 4);
	memcpy(b + 8, "\x01\x02\x03\x04", 4);
	for (size_t i = 0; i < n; i++)
		b[12 + i] = (uint8_t)(seq + i * 13);
	return 12 + n;
}

struct fixture {
	struct mpool *pool;
	struct mworker *w;
	uint16_t lo;
	unsigned rcvbuf;
};

static void fx_start(struct fixture *fx, int which)
{
	enum mcfg_engine e = engines[which].engine;
	struct mworker_cfg wc;

	fx->lo = test_port_window(100);
	ck_assert_int_eq(mpool_new(fx->lo, (uint16_t)(fx->lo + 99), &fx->pool), 0);
	memset(&wc, 0, sizeof(wc));
	wc.engine = e;
	wc.ring_buffers = 64;
	wc.batch_wait_us = engines[which].batch_wait_us;
	wc.batch_size = engines[which].batch_size;
	wc.socket_rcvbuf = engines[which].rcvbuf;
	fx->rcvbuf = engines[which].rcvbuf;
	wc.pool = fx->pool;
	wc.on_event = on_event;
	ck_assert_int_eq(mworker_new(&wc, &fx->w), 0);
	ck_assert_str_eq(mworker_engine_name(fx->w), e == MCFG_ENGINE_URING ? "io_uring" : "mmsg");
}

static void fx_stop(struct fixture *fx)
{
	mworker_free(fx->w);
	ck_assert_uint_eq(mpool_in_use(fx->pool), 0);
	mpool_free(fx->pool);
}

/* A session with leg B's remote = b_peer; A latches. */
static uint64_t add_session(struct fixture *fx, uint64_t id, uint16_t b_peer,
	uint32_t media_ms, uint32_t delete_ms, uint16_t *pa, uint16_t *pb)
{
	union maddr any = lo(0);
	struct mpool_ports p[2];
	struct msess *s;
	struct mcmd c;

	ck_assert_int_eq(mpool_alloc(fx->pool, &any.sa, true, &p[0]), 0);
	ck_assert_int_eq(mpool_alloc(fx->pool, &any.sa, true, &p[1]), 0);
	ck_assert_int_eq(msess_new(id, "t", mworker_now_ms(), &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET, p[0].port, p[0].fd_rtp, p[0].fd_rtcp);
	msess_leg_set_sockets(s, 1, AF_INET, p[1].port, p[1].fd_rtp, p[1].fd_rtcp);
	s->media_timeout_ms = media_ms;
	s->delete_timeout_ms = delete_ms;
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_ADD;
	c.sess = s;
	ck_assert_int_eq(mworker_call(fx->w, &c), 0);
	if (fx->rcvbuf) {
		/* The worker sized every socket's receive buffer (the kernel
		 * reports double; as non-root it may be capped by rmem_max). */
		int got = 0;
		socklen_t gl = sizeof(got);
		ck_assert_int_eq(getsockopt(p[1].fd_rtp, SOL_SOCKET, SO_RCVBUF, &got, &gl), 0);
		if (geteuid() == 0)
			ck_assert_int_eq(got, 2 * (int)fx->rcvbuf);
		else
			ck_assert_int_gt(got, 0);
	}
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_UPDATE;
	c.id = id;
	c.leg = 1;
	c.upd.set = MLEG_SET_REMOTE;
	c.upd.remote = lo(b_peer);
	ck_assert_int_eq(mworker_call(fx->w, &c), 0);
	*pa = p[0].port;
	*pb = p[1].port;
	return id;
}

START_TEST(test_forward_both_ways)
{
	struct fixture fx;
	uint16_t a_port, b_port, pa_port, pb_port;
	int pa = peer(&pa_port), pb = peer(&pb_port);
	uint8_t buf[2048], got[2048];
	size_t n;
	struct mcmd c;

	fx_start(&fx, _i);
	add_session(&fx, 1, pb_port, 60000, 120000, &a_port, &b_port);
	for (uint16_t seq = 0; seq < 200; seq++) {
		n = rtp(buf, seq, 160);
		send_to(pa, a_port, buf, n);
		ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, buf, n);
		/* B answers; A was latched from its first packet. */
		n = rtp(buf, (uint16_t)(seq + 1000), 20 + seq % 100);
		send_to(pb, b_port, buf, n);
		ck_assert_int_eq(recv_wait(pa, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, buf, n);
	}
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_QUERY;
	c.id = 1;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.info.leg[0].st.pkts_in, 200);
	ck_assert_uint_eq(c.info.leg[1].st.pkts_out, 200);
	ck_assert_uint_eq(c.info.leg[1].st.pkts_in, 200);
	ck_assert_uint_eq(c.info.leg[0].st.pkts_out, 200);
	ck_assert(c.info.leg[0].latched_rtp);
	ck_assert_uint_eq(ntohs(c.info.leg[0].remote_rtp.in.sin_port), pa_port);

	/* A stranger on B's port (not strict): forwarded but counted. */
	n = rtp(buf, 5000, 10);
	{
		uint16_t xp;
		int x = peer(&xp);
		send_to(x, b_port, buf, n);
		ck_assert_int_eq(recv_wait(pa, got, sizeof(got), 2000), (ssize_t)n);
		close(x);
	}
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_DELETE;
	c.id = 1;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.info.leg[1].st.src_mismatch, 1);
	ck_assert_uint_eq(c.info.leg[1].st.pkts_in, 201);
	/* Gone: no more forwarding, and unknown to queries. */
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_QUERY;
	c.id = 1;
	ck_assert_int_eq(mworker_call(fx.w, &c), -ENOENT);
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_STATS;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.total.sessions_created, 1);
	ck_assert_uint_eq(c.total.sessions_deleted, 1);
	ck_assert_uint_eq(c.total.sessions_active, 0);
	ck_assert_uint_eq(c.total.pkt.pkts_in, 401);
	ck_assert_uint_eq(c.total.pkt.bytes_in, c.total.pkt.bytes_out);
	fx_stop(&fx);
	close(pa);
	close(pb);
}
END_TEST

START_TEST(test_srtp_to_rtp_drops_tampered_and_replayed)
{
	struct fixture fx;
	uint16_t a_port, b_port, pa_port, pb_port;
	int pa = peer(&pa_port), pb = peer(&pb_port);
	uint8_t key[16], salt[14], buf[2048], got[2048], ref[2048], old[2048];
	struct msrtp_params pp;
	struct msrtp *tx;
	size_t n, len, oldlen = 0;
	struct mcmd c;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)(i * 5 + 1);
	for (int i = 0; i < 14; i++)
		salt[i] = (uint8_t)(i * 7 + 2);
	memset(&pp, 0, sizeof(pp));
	pp.suite = MSRTP_AES_CM_128_HMAC_SHA1_80;
	pp.key = key;
	pp.salt = salt;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &pp, &tx), 0);

	fx_start(&fx, _i);
	add_session(&fx, 2, pb_port, 60000, 120000, &a_port, &b_port);
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_UPDATE;
	c.id = 2;
	c.leg = 0;
	c.upd.set = MLEG_SET_IN | MLEG_SET_LATCH;
	c.upd.latch = MLEG_LATCH_STRICT;
	ck_assert_int_eq(msrtp_new(MSRTP_UNPROTECT, &pp, &c.upd.in), 0);
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);

	for (uint16_t seq = 1; seq <= 50; seq++) {
		n = len = rtp(buf, seq, 160);
		memcpy(ref, buf, n);
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		if (seq == 10) {
			memcpy(old, buf, len);
			oldlen = len;
		}
		if (seq % 10 == 5) {
			/* tampered copy first: dropped */
			buf[30] ^= 0x40;
			send_to(pa, a_port, buf, len);
			buf[30] ^= 0x40;
		}
		send_to(pa, a_port, buf, len);
		ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, ref, n);
	}
	send_to(pa, a_port, old, oldlen); /* replay */
	/* A marker after the replay: once it arrives the replay was handled. */
	n = len = rtp(buf, 51, 8);
	memcpy(ref, buf, n);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	send_to(pa, a_port, buf, len);
	ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
	ck_assert_mem_eq(got, ref, n); /* not the replayed packet */

	memset(&c, 0, sizeof(c));
	c.kind = MCMD_QUERY;
	c.id = 2;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.info.leg[0].st.pkts_in, 51);
	ck_assert_uint_eq(c.info.leg[0].st.auth_fail, 5);
	ck_assert_uint_eq(c.info.leg[0].st.replay, 1);
	ck_assert(c.info.leg[0].srtp_in);
	msrtp_free(tx);
	fx_stop(&fx); /* deletes the live session, releases its ports */
	close(pa);
	close(pb);
}
END_TEST

START_TEST(test_timeout_event_then_delete)
{
	struct fixture fx;
	uint16_t a_port, b_port, pb_port;
	int pb = peer(&pb_port);
	bool warned = false, deleted = false;
	struct mcmd c;

	pthread_mutex_lock(&ev_lock);
	nevents = 0;
	pthread_mutex_unlock(&ev_lock);
	fx_start(&fx, _i);
	add_session(&fx, 3, pb_port, 300, 900, &a_port, &b_port);
	/* Bounded: 100 x 50 ms. */
	for (int i = 0; i < 100 && !deleted; i++) {
		usleep(50000);
		pthread_mutex_lock(&ev_lock);
		for (int k = 0; k < nevents; k++) {
			ck_assert_uint_eq(events[k].id, 3);
			if (events[k].deleted)
				deleted = true;
			else
				warned = true;
		}
		pthread_mutex_unlock(&ev_lock);
	}
	ck_assert(warned);
	ck_assert(deleted);
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_STATS;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.total.sessions_timed_out, 1);
	/* Ports come back once the engine let go of the sockets. */
	for (int i = 0; i < 100 && mpool_in_use(fx.pool) > 0; i++)
		usleep(10000);
	ck_assert_uint_eq(mpool_in_use(fx.pool), 0);
	fx_stop(&fx);
	close(pb);
}
END_TEST

START_TEST(test_many_sessions_churn)
{
	struct fixture fx;
	uint16_t a_port, b_port, pa_port, pb_port;
	int pa = peer(&pa_port), pb = peer(&pb_port);
	uint8_t buf[256], got[256];
	size_t n;

	fx_start(&fx, _i);
	/* Create and delete 20 sessions in sequence, each carrying a packet:
	 * sockets and ports are recycled without leaks or cross-talk. */
	for (uint64_t id = 10; id < 30; id++) {
		struct mcmd c;
		add_session(&fx, id, pb_port, 60000, 120000, &a_port, &b_port);
		n = rtp(buf, (uint16_t)id, 40);
		send_to(pa, a_port, buf, n);
		ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, buf, n);
		memset(&c, 0, sizeof(c));
		c.kind = MCMD_DELETE;
		c.id = id;
		ck_assert_int_eq(mworker_call(fx.w, &c), 0);
		ck_assert_uint_eq(c.info.leg[0].st.pkts_in, 1);
	}
	for (int i = 0; i < 100 && mpool_in_use(fx.pool) > 0; i++)
		usleep(10000);
	ck_assert_uint_eq(mpool_in_use(fx.pool), 0);
	fx_stop(&fx);
	close(pa);
	close(pb);
}
END_TEST

/* Bursts fast enough for the io_uring engine to batch by min-wait
 * (engine.h: meng_batch_pays), then lone packets with pauses between
 * (batching off again), then bursts once more: whatever the engine's
 * batching does at each moment, every packet is forwarded, in order and
 * to the byte. */
START_TEST(test_bursts_and_lone_packets)
{
	struct fixture fx;
	uint16_t a_port, b_port, pa_port, pb_port;
	int pa = peer(&pa_port), pb = peer(&pb_port);
	uint8_t buf[256], got[256];
	uint16_t seq = 0;
	size_t n;
	struct mcmd c;

	fx_start(&fx, _i);
	add_session(&fx, 7, pb_port, 60000, 120000, &a_port, &b_port);
	for (int phase = 0; phase < 3; phase++) {
		int rounds = phase == 1 ? 4 : 40, burst = phase == 1 ? 1 : 32;

		for (int r = 0; r < rounds; r++) {
			uint16_t first = seq;
			for (int k = 0; k < burst; k++, seq++) {
				n = rtp(buf, seq, 40 + seq % 100);
				send_to(pa, a_port, buf, n);
			}
			for (uint16_t q = first; q != seq; q++) {
				n = rtp(buf, q, 40 + q % 100);
				ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
				ck_assert_mem_eq(got, buf, n);
			}
			if (phase == 1)
				usleep(30000); /* past the engine's 20 ms rate window */
		}
	}
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_DELETE;
	c.id = 7;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	ck_assert_uint_eq(c.info.leg[0].st.pkts_in, seq);
	ck_assert_uint_eq(c.info.leg[1].st.pkts_out, seq);
	fx_stop(&fx);
	close(pa);
	close(pb);
}
END_TEST

/* The rule that turns min-wait batching on: one more packet or more
 * expected within the wait (rate x wait >= 1). */
START_TEST(test_batch_pays)
{
	static const struct {
		uint64_t pkts, dt_ns;
		unsigned wait_us;
		bool pays;
	} t[] = {
		{ 0, 20000000, 50, false },   /* idle */
		{ 1, 20000000, 50, false },   /* one packet in 20 ms */
		{ 100, 20000000, 50, false }, /* 5k pps: one per 200 us */
		{ 399, 20000000, 50, false }, /* just under 20k pps */
		{ 400, 20000000, 50, true },  /* 20k pps: one per 50 us */
		{ 4000, 20000000, 50, true },
		{ 100, 20000000, 200, true }, /* 5k pps against a 200 us wait */
		{ 99, 20000000, 200, false },
		{ 4000, 20000000, 0, false }, /* batching not configured */
		{ 5, 0, 50, false },          /* no time measured */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(meng_batch_pays(t[i].pkts, t[i].dt_ns, t[i].wait_us) == t[i].pays,
			"case %zu", i);
}
END_TEST

static int peer6(uint16_t *port)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin6_port);
	return fd;
}

static union maddr lo6(uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_addr = in6addr_loopback;
	a.in6.sin6_port = htons(port);
	return a;
}

/* A v6 leg A and a v4 leg B in one session (a v6 carrier, a v4 core). */
START_TEST(test_ipv6_to_ipv4)
{
	struct fixture fx;
	uint16_t pa_port, pb_port;
	int pa = peer6(&pa_port), pb = peer(&pb_port);
	union maddr any6 = lo6(0), any4 = lo(0), dst;
	struct mpool_ports p[2];
	struct msess *s;
	uint8_t buf[512], got[512];
	size_t n;
	struct mcmd c;

	if (pa < 0) {
		close(pb);
		return; /* no IPv6 loopback here */
	}
	fx_start(&fx, _i);
	ck_assert_int_eq(mpool_alloc(fx.pool, &any6.sa, true, &p[0]), 0);
	ck_assert_int_eq(mpool_alloc(fx.pool, &any4.sa, true, &p[1]), 0);
	ck_assert_int_eq(msess_new(40, NULL, mworker_now_ms(), &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET6, p[0].port, p[0].fd_rtp, p[0].fd_rtcp);
	msess_leg_set_sockets(s, 1, AF_INET, p[1].port, p[1].fd_rtp, p[1].fd_rtcp);
	s->media_timeout_ms = 60000;
	s->delete_timeout_ms = 120000;
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_ADD;
	c.sess = s;
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	/* A v6 address for the v4 leg is refused and changes nothing. */
	memset(&c, 0, sizeof(c));
	c.kind = MCMD_UPDATE;
	c.id = 40;
	c.leg = 1;
	c.upd.set = MLEG_SET_REMOTE;
	c.upd.remote = lo6(pb_port);
	ck_assert_int_eq(mworker_call(fx.w, &c), -EAFNOSUPPORT);
	c.upd.remote = lo(pb_port);
	ck_assert_int_eq(mworker_call(fx.w, &c), 0);
	for (uint16_t seq = 0; seq < 20; seq++) {
		n = rtp(buf, seq, 100);
		dst = lo6(p[0].port);
		ck_assert_int_eq(sendto(pa, buf, n, 0, &dst.sa, sizeof(dst.in6)), (ssize_t)n);
		ck_assert_int_eq(recv_wait(pb, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, buf, n);
		n = rtp(buf, (uint16_t)(seq + 500), 60);
		send_to(pb, p[1].port, buf, n);
		ck_assert_int_eq(recv_wait(pa, got, sizeof(got), 2000), (ssize_t)n);
		ck_assert_mem_eq(got, buf, n);
	}
	fx_stop(&fx);
	close(pa);
	close(pb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_worker");
	TCase *tc = tcase_create("worker");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_forward_both_ways, 0, NENGINES);
	tcase_add_loop_test(tc, test_srtp_to_rtp_drops_tampered_and_replayed, 0, NENGINES);
	tcase_add_loop_test(tc, test_timeout_event_then_delete, 0, NENGINES);
	tcase_add_loop_test(tc, test_many_sessions_churn, 0, NENGINES);
	tcase_add_loop_test(tc, test_ipv6_to_ipv4, 0, NENGINES);
	tcase_add_loop_test(tc, test_bursts_and_lone_packets, 0, NENGINES);
	tcase_add_test(tc, test_batch_pays);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
