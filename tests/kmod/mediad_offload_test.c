/* mediad_offload_test: drives a running rampart-mediad (inside the test VM,
 * tests/kmod/mediad-offload.sh) over its control socket and checks the
 * kernel fast path end to end with real RTP on loopback:
 *
 *   mediad_offload_test CONTROL offload  rampart.ko loaded, kernel = auto
 *   mediad_offload_test CONTROL off      kernel = off: same traffic, all userspace
 *   mediad_offload_test CONTROL rmmod    rmmod rampart mid-stream
 *   mediad_offload_test CONTROL srtp     SRTP->RTP and RTP->SRTP in the kernel
 *                                        (across a ROC wrap), then rmmod
 *   mediad_offload_test CONTROL timeout  media timeouts see kernel traffic
 *   mediad_offload_test CONTROL malformed
 *                                        header checks on offloaded flows:
 *                                        plain, SRTP->RTP and RTP->SRTP
 *   mediad_offload_test CONTROL resync   > 2^16 SRTP packets each way in the
 *                                        kernel, then packets handed up,
 *                                        leg.update and rmmod: mediad's SRTP
 *                                        state follows the module's
 *
 * Every packet carries a distinct payload and must arrive byte-exact.
 * Exit 0 all checks passed, 1 a check failed, 2 set-up error. Every wait is
 * bounded (WAIT_MS per packet, a few seconds overall per phase).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benc.h"
#include "ctl.h"
#include "msrtp.h"
#include "rp_arena.h"
#include "rp_buf.h"

#define WAIT_MS 2000
#define PAYLOAD 160

static int failures, checks;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		checks++;                                                       \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		} else {                                                        \
			printf("ok - ");                                        \
			printf(__VA_ARGS__);                                    \
			putchar('\n');                                          \
		}                                                               \
	} while (0)

static ctl_client *cl;
static rp_arena arena;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One request; args: NULL or filled by the caller. Exits on transport
 * failure (set-up error). */
static const benc_node *call(const char *cmd, rp_buf *args)
{
	const benc_node *resp = NULL;
	int rc = ctl_call(cl, cmd, args, &arena, &resp, 5000);

	if (rc < 0) {
		rp_str why = resp ? ctl_resp_reason(resp) : (rp_str){ "", 0 };
		fprintf(stderr, "%s: %s %.*s\n", cmd, strerror(-rc), (int)why.n, why.p);
		exit(2);
	}
	return resp;
}

static int64_t get_int(const benc_node *d, const char *path)
{
	char key[64];
	const char *p = path;
	int64_t v = -1;

	/* "a.stats.packets-in" style paths through dictionaries. */
	for (;;) {
		const char *dot = strchr(p, '.');
		if (!dot)
			break;
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		if (benc_get_dict(d, key, &d, NULL) < 0)
			return -1;
		p = dot + 1;
	}
	if (benc_get_int(d, p, INT64_MIN, INT64_MAX, &v, NULL) < 0)
		return -1;
	return v;
}

static int udp_sock(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 1 << 20;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
		perror("udp socket");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	*port = ntohs(a.sin_port);
	return fd;
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static size_t mkpkt(uint8_t *b, uint16_t seq, uint32_t ssrc)
{
	b[0] = 0x80;
	b[1] = 0;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	memset(b + 4, 0, 4);
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < PAYLOAD; i++)
		b[12 + i] = (uint8_t)(seq * 31u + i * 7u + ssrc);
	return 12 + PAYLOAD;
}

/* Waits up to ms for one datagram on fd; returns its length or -1. */
static ssize_t recv_wait(int fd, uint8_t *b, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recv(fd, b, cap, MSG_DONTWAIT);
}

/* Sends n packets from 'from' to the session port and checks each one
 * arrives at 'to' byte-exact (lock-step). Returns packets that arrived. */
static int lockstep(int from, uint16_t dport, int to, uint16_t *seq, uint32_t ssrc, int n)
{
	struct sockaddr_in d = lo(dport);
	uint8_t out[256], in[512];
	int got = 0;

	for (int i = 0; i < n; i++) {
		size_t len = mkpkt(out, (*seq)++, ssrc);
		if (sendto(from, out, len, 0, (struct sockaddr *)&d, sizeof(d)) != (ssize_t)len)
			break;
		ssize_t r = recv_wait(to, in, sizeof(in), WAIT_MS);
		if (r == (ssize_t)len && memcmp(in, out, len) == 0)
			got++;
		else if (r >= 0)
			fprintf(stderr, "packet %u differs (%zd bytes)\n", *seq - 1, r);
	}
	return got;
}

struct sess {
	int64_t id, pa, pb;
	int ca, cb;         /* the caller's and callee's sockets */
	uint16_t ca_port, cb_port;
};

static void create(struct sess *s)
{
	rp_buf b;
	const benc_node *r;

	r = call("session.create", NULL);
	s->id = get_int(r, "session");
	s->pa = get_int(r, "a.port");
	s->pb = get_int(r, "b.port");
	if (s->id < 0 || s->pa <= 0 || s->pb <= 0) {
		fprintf(stderr, "session.create: bad reply\n");
		exit(2);
	}
	s->ca = udp_sock(&s->ca_port);
	s->cb = udp_sock(&s->cb_port);
	/* B's remote from the control plane (SDP answer); A latches. */
	rp_buf_init(&b, 4096);
	benc_put_kv_int(&b, "session", s->id);
	benc_put_kv_cstr(&b, "leg", "b");
	benc_put_kv_cstr(&b, "address", "127.0.0.1");
	benc_put_kv_int(&b, "port", s->cb_port);
	call("leg.update", &b);
	rp_buf_free(&b);
}

static const benc_node *query(const struct sess *s, const char *cmd)
{
	rp_buf b;
	const benc_node *r;

	rp_buf_init(&b, 256);
	benc_put_kv_int(&b, "session", s->id);
	r = call(cmd, &b);
	rp_buf_free(&b);
	return r;
}

/* Waits (bounded) until session.query says leg's direction is offloaded. */
static bool wait_offloaded(const struct sess *s, const char *key, int64_t want)
{
	for (int i = 0; i < 50; i++) {
		rp_arena_reset(&arena);
		if (get_int(query(s, "session.query"), key) == want)
			return true;
		sleep_ms(100);
	}
	return false;
}

static int run_offload(bool kernel)
{
	struct sess s;
	uint16_t seq = 1000, seqb = 5000;
	const benc_node *r;
	int got;

	create(&s);
	got = lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x11111111, 10);
	CHECK(got == 10, "A->B first 10 packets through userspace byte-exact (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", kernel ? 1 : 0), "a.kernel is %d", kernel ? 1 : 0);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	int64_t user0 = get_int(r, "a.stats.packets-in") - get_int(r, "a.kernel-packets-in");
	int64_t k0 = get_int(r, "a.kernel-packets-in");
	got = lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x11111111, 300);
	CHECK(got == 300, "A->B 300 more packets byte-exact (%d)", got);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	int64_t in = get_int(r, "a.stats.packets-in"), kin = get_int(r, "a.kernel-packets-in");
	int64_t out_b = get_int(r, "b.stats.packets-out");
	CHECK(in == 310, "a.packets-in is the sum of both paths: %" PRId64 " == 310", in);
	CHECK(out_b == 310, "b.packets-out summed: %" PRId64 " == 310", out_b);
	CHECK(get_int(r, "a.stats.bytes-in") == 310 * (12 + PAYLOAD), "a.bytes-in summed: %" PRId64,
		get_int(r, "a.stats.bytes-in"));
	if (kernel) {
		CHECK(kin - k0 == 300, "the module forwarded the 300 (%" PRId64 ")", kin - k0);
		CHECK(in - kin == user0, "userspace packet counter stopped at %" PRId64 " (now %" PRId64 ")",
			user0, in - kin);
	} else {
		CHECK(kin == 0, "nothing in the kernel with kernel=off (%" PRId64 ")", kin);
	}

	/* B->A: B latches on its first packet (remote already given). */
	got = lockstep(s.cb, (uint16_t)s.pb, s.ca, &seqb, 0x22222222, 10);
	CHECK(got == 10, "B->A first 10 packets byte-exact (%d)", got);
	CHECK(wait_offloaded(&s, "b.kernel", kernel ? 1 : 0), "b.kernel is %d", kernel ? 1 : 0);
	got = lockstep(s.cb, (uint16_t)s.pb, s.ca, &seqb, 0x22222222, 100);
	CHECK(got == 100, "B->A 100 more byte-exact (%d)", got);

	rp_arena_reset(&arena);
	r = call("stats", NULL);
	CHECK(get_int(r, "kernel.module") == (kernel ? 1 : 0), "stats: kernel.module %" PRId64,
		get_int(r, "kernel.module"));
	if (kernel) {
		CHECK(get_int(r, "kernel.flows") >= 2, "stats: kernel.flows %" PRId64,
			get_int(r, "kernel.flows"));
		CHECK(get_int(r, "kernel.abi") == 1, "stats: kernel.abi 1");
	}
	CHECK(get_int(r, "packets-in") >= 420, "stats: packets-in summed %" PRId64,
		get_int(r, "packets-in"));

	/* leg.update with a new remote for B: flows taken back; new remote used. */
	{
		uint16_t nport;
		int nb = udp_sock(&nport);
		rp_buf b;

		rp_buf_init(&b, 4096);
		benc_put_kv_int(&b, "session", s.id);
		benc_put_kv_cstr(&b, "leg", "b");
		benc_put_kv_cstr(&b, "address", "127.0.0.1");
		benc_put_kv_int(&b, "port", nport);
		rp_arena_reset(&arena);
		call("leg.update", &b);
		rp_buf_free(&b);
		got = lockstep(s.ca, (uint16_t)s.pa, nb, &seq, 0x11111111, 20);
		CHECK(got == 20, "after leg.update A->B goes to B's new address (%d)", got);
		CHECK(wait_offloaded(&s, "a.kernel", kernel ? 1 : 0), "a offloaded again: %d",
			kernel ? 1 : 0);
		got = lockstep(s.ca, (uint16_t)s.pa, nb, &seq, 0x11111111, 50);
		CHECK(got == 50, "A->B to the new address, 50 more (%d)", got);
		close(nb);
	}

	rp_arena_reset(&arena);
	r = query(&s, "session.delete");
	CHECK(get_int(r, "a.stats.packets-in") == 380, "session.delete: a.packets-in %" PRId64 " == 380",
		get_int(r, "a.stats.packets-in"));
	CHECK(get_int(r, "b.stats.packets-in") == 110, "session.delete: b.packets-in %" PRId64 " == 110",
		get_int(r, "b.stats.packets-in"));
	CHECK(get_int(r, "a.stats.packets-out") == 110, "session.delete: a.packets-out %" PRId64,
		get_int(r, "a.stats.packets-out"));
	rp_arena_reset(&arena);
	r = call("stats", NULL);
	CHECK(get_int(r, "kernel.flows") == 0, "no flow left after delete (%" PRId64 ")",
		get_int(r, "kernel.flows"));
	close(s.ca);
	close(s.cb);
	return 0;
}

/* Steady stream A->B; rmmod rampart after 'at' packets; count arrivals. */
static int run_rmmod(void)
{
	struct sess s;
	uint16_t seq = 1;
	struct sockaddr_in d;
	uint8_t out[256], in[512];
	const int total = 600, at = 200;
	int got = 0, bad = 0;
	const benc_node *r;

	create(&s);
	got = lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x33333333, 10);
	CHECK(got == 10, "first 10 packets (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", 1), "offloaded before rmmod");
	d = lo((uint16_t)s.pa);
	got = 0;
	for (int i = 0; i < total; i++) {
		size_t len = mkpkt(out, seq++, 0x33333333);
		if (i == at) {
			int rc = system("rmmod rampart");
			CHECK(rc == 0, "rmmod rampart mid-stream");
		}
		sendto(s.ca, out, len, 0, (struct sockaddr *)&d, sizeof(d));
		sleep_ms(2);
		for (;;) {
			ssize_t n = recv(s.cb, in, sizeof(in), MSG_DONTWAIT);
			if (n < 0)
				break;
			if (n == (ssize_t)len && in[0] == 0x80)
				got++;
			else
				bad++;
		}
	}
	for (;;) {
		ssize_t n = recv_wait(s.cb, in, sizeof(in), 500);
		if (n < 0)
			break;
		got++;
	}
	CHECK(bad == 0, "no malformed packet (%d)", bad);
	CHECK(got >= total - 5, "stream survived rmmod: %d of %d arrived", got, total);
	/* The packets after rmmod went through userspace, byte-exact. */
	got = lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x33333333, 50);
	CHECK(got == 50, "after rmmod: 50 more byte-exact through userspace (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", 0), "a.kernel is 0 after rmmod");
	rp_arena_reset(&arena);
	r = call("stats", NULL);
	CHECK(get_int(r, "kernel.module") == 0, "stats: kernel.module 0 after rmmod");
	CHECK(get_int(r, "kernel.takebacks") >= 1, "stats: takebacks %" PRId64,
		get_int(r, "kernel.takebacks"));
	rp_arena_reset(&arena);
	r = query(&s, "session.delete");
	/* Counters the module held since its last poll are lost with it. */
	CHECK(get_int(r, "a.stats.packets-in") >= 60 + at, "session.delete after rmmod: packets-in %" PRId64,
		get_int(r, "a.stats.packets-in"));
	close(s.ca);
	close(s.cb);
	return 0;
}


static const uint8_t k1[16] = "0123456789abcdef", s1[14] = "saltsaltsalt01";
static const uint8_t k2[16] = "fedcba9876543210", s2[14] = "saltsaltsalt02";

static void put_srtp(rp_buf *b, const char *field, const uint8_t *key, const uint8_t *salt)
{
	benc_put_kv_dict(b, field);
	benc_put_kv_cstr(b, "suite", "AES_CM_128_HMAC_SHA1_80");
	benc_put_kv_str(b, "key", (rp_str){ (const char *)key, 16 });
	benc_put_kv_str(b, "salt", (rp_str){ (const char *)salt, 14 });
	benc_put_end(b);
}

/* One SRTP packet from 'from' (protected with snd) to dport; the plain
 * packet must arrive at 'to' byte-exact. Returns 1 if it did. */
static int srtp_in_one(struct msrtp *snd, int from, uint16_t dport, int to, uint16_t seq,
	int wait_ms)
{
	struct sockaddr_in d = lo(dport);
	uint8_t plain[256], pkt[512], in[512];
	size_t len = mkpkt(plain, seq, 0x44444444), n = len;

	memcpy(pkt, plain, len);
	if (msrtp_protect_rtp(snd, pkt, &n, sizeof(pkt)) != MSRTP_OK)
		return 0;
	sendto(from, pkt, n, 0, (struct sockaddr *)&d, sizeof(d));
	if (wait_ms < 0)
		return 0;
	ssize_t r = recv_wait(to, in, sizeof(in), wait_ms);
	return r == (ssize_t)len && memcmp(in, plain, len) == 0;
}

/* Plain packet from 'from' to dport; it must arrive at 'to' as SRTP that
 * rcv unprotects into the same bytes. */
static int srtp_out_one(struct msrtp *rcv, int from, uint16_t dport, int to, uint16_t seq)
{
	struct sockaddr_in d = lo(dport);
	uint8_t plain[256], in[512];
	size_t len = mkpkt(plain, seq, 0x55555555), n;

	sendto(from, plain, len, 0, (struct sockaddr *)&d, sizeof(d));
	ssize_t r = recv_wait(to, in, sizeof(in), WAIT_MS);
	if (r <= 0)
		return 0;
	n = (size_t)r;
	return msrtp_unprotect_rtp(rcv, in, &n) == MSRTP_OK && n == len &&
	       memcmp(in, plain, len) == 0;
}

static int run_srtp(void)
{
	struct msrtp_params p1 = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = k1, .salt = s1 };
	struct msrtp_params p2 = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = k2, .salt = s2 };
	struct msrtp *snd, *rcv;
	struct sess s;
	rp_buf b;
	const benc_node *r;
	uint16_t seq = 65400, seqb = 5000;
	int got;

	if (msrtp_global_init() < 0 || msrtp_new(MSRTP_PROTECT, &p1, &snd) < 0 ||
	    msrtp_new(MSRTP_UNPROTECT, &p2, &rcv) < 0) {
		fprintf(stderr, "msrtp set-up failed\n");
		exit(2);
	}
	create(&s);
	/* The caller speaks SRTP: we unprotect with k1, protect toward it with k2. */
	rp_buf_init(&b, 4096);
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "a");
	put_srtp(&b, "srtp-in", k1, s1);
	put_srtp(&b, "srtp-out", k2, s2);
	rp_arena_reset(&arena);
	call("leg.update", &b);
	rp_buf_free(&b);

	got = 0;
	for (int i = 0; i < 10; i++)
		got += srtp_in_one(snd, s.ca, (uint16_t)s.pa, s.cb, seq++, WAIT_MS);
	CHECK(got == 10, "SRTP->RTP: first 10 through userspace byte-exact (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", 1), "SRTP->RTP direction offloaded");
	rp_arena_reset(&arena);
	int64_t k0 = get_int(query(&s, "session.query"), "a.kernel-packets-in");
	got = 0;
	for (int i = 0; i < 300; i++) /* crosses seq 65535 -> 0: ROC 1 in the module */
		got += srtp_in_one(snd, s.ca, (uint16_t)s.pa, s.cb, seq++, WAIT_MS);
	CHECK(got == 300, "SRTP->RTP: 300 more byte-exact across the ROC wrap (%d)", got);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	CHECK(get_int(r, "a.kernel-packets-in") - k0 == 300, "the module unprotected them (%" PRId64 ")",
		get_int(r, "a.kernel-packets-in") - k0);
	CHECK(get_int(r, "a.stats.packets-in") == 310, "a.packets-in summed (%" PRId64 ")",
		get_int(r, "a.stats.packets-in"));

	got = 0;
	for (int i = 0; i < 10; i++)
		got += srtp_out_one(rcv, s.cb, (uint16_t)s.pb, s.ca, seqb++);
	CHECK(got == 10, "RTP->SRTP: first 10 through userspace (%d)", got);
	CHECK(wait_offloaded(&s, "b.kernel", 1), "RTP->SRTP direction offloaded");
	got = 0;
	for (int i = 0; i < 100; i++)
		got += srtp_out_one(rcv, s.cb, (uint16_t)s.pb, s.ca, seqb++);
	CHECK(got == 100, "RTP->SRTP: 100 more protected by the module, verified (%d)", got);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	CHECK(get_int(r, "b.kernel-packets-in") >= 100, "the module protected them (%" PRId64 ")",
		get_int(r, "b.kernel-packets-in"));
	sleep_ms(1200); /* one counter/ROC poll */

	/* rmmod in the middle of an SRTP stream. */
	const int total = 300, at = 100;
	uint8_t in[512];
	got = 0;
	for (int i = 0; i < total; i++) {
		if (i == at) {
			int rc = system("rmmod rampart");
			CHECK(rc == 0, "rmmod rampart mid-SRTP-stream");
		}
		srtp_in_one(snd, s.ca, (uint16_t)s.pa, s.cb, seq++, -1);
		sleep_ms(2);
		for (;;) {
			ssize_t n = recv(s.cb, in, sizeof(in), MSG_DONTWAIT);
			if (n < 0)
				break;
			got += n == 12 + PAYLOAD && in[0] == 0x80;
		}
	}
	while (recv_wait(s.cb, in, sizeof(in), 500) > 0)
		got++;
	CHECK(got >= total - 5, "SRTP stream survived rmmod: %d of %d arrived", got, total);
	got = 0;
	for (int i = 0; i < 50; i++)
		got += srtp_in_one(snd, s.ca, (uint16_t)s.pa, s.cb, seq++, WAIT_MS);
	CHECK(got == 50, "SRTP->RTP after rmmod: userspace continues the stream (%d)", got);
	got = 0;
	for (int i = 0; i < 50; i++)
		got += srtp_out_one(rcv, s.cb, (uint16_t)s.pb, s.ca, seqb++);
	CHECK(got == 50, "RTP->SRTP after rmmod: userspace continues the index (%d)", got);
	rp_arena_reset(&arena);
	r = query(&s, "session.delete");
	CHECK(get_int(r, "a.stats.auth-failures") == 0, "no auth failures (%" PRId64 ")",
		get_int(r, "a.stats.auth-failures"));
	msrtp_free(snd);
	msrtp_free(rcv);
	close(s.ca);
	close(s.cb);
	return 0;
}


/* Header checks on offloaded directions (kmod/rtpcheck.h, the rule of
 * mediad/rtpcheck.h): once both directions are in the kernel, valid packets
 * with CSRCs, extensions and padding are still forwarded byte-exact by the
 * module, and each malformed kind is left to mediad, which drops it and
 * counts it in the leg's 'malformed'; nothing else counts, nothing bad
 * comes out. su < 0: plain both ways; else leg A speaks SRTP (suite su):
 * A->B is SRTP->RTP (padding checked after the module's unprotect, the
 * packet handed up as it arrived, so mediad's libsrtp still authenticates
 * it), B->A is RTP->SRTP (checked before protect). */
#define MFIX "\x00\x00\x00\x00\x00\x00\x00\x0a\x0b\x0c\x0d"
#define MCSRC "\xc5\xc5\xc5\xc5"
#define MSSRC 0x0a0b0c0du
struct mcase {
	const char *name;
	const char *pkt;
	size_t len;
	char bad; /* 0: valid; 'c' CSRC count, 'x' extension, 'p' padding */
};
#define MP(s) s, sizeof(s) - 1
static const struct mcase mcases[] = {
	{ "2 CSRCs", MP("\x82" MFIX MCSRC MCSRC "payload-payload-payload"), 0 },
	{ "one-byte extension", MP("\x90" MFIX "\xbe\xde\x00\x02\x10\xaa\x21\xbb\xcc\x00\x00\x00"
		"payload-payload"), 0 },
	{ "two-byte extension", MP("\x90" MFIX "\x10\x00\x00\x01\x05\x02\xaa\xbb" "payload"), 0 },
	{ "padding", MP("\xa0" MFIX "payload-payload\x00\x00\x03"), 0 },
	{ "padding: the whole payload", MP("\xa0" MFIX "\x00\x00\x00\x04"), 0 },
	{ "CSRC + extension + padding", MP("\xb1" MFIX MCSRC "\xbe\xde\x00\x01\x10\xaa\x00\x00"
		"pay\x00\x02"), 0 },
	{ "CC 15 in 40 bytes", MP("\x8f" MFIX MCSRC MCSRC MCSRC MCSRC "payload-payload-"), 'c' },
	{ "CC 2, one CSRC", MP("\x82" MFIX MCSRC), 'c' },
	{ "X without extension header", MP("\x90" MFIX "\xbe"), 'x' },
	{ "extension length past the end", MP("\x90" MFIX "\xbe\xde\x00\x09\x10\xaa\x00\x00"
		"payload"), 'x' },
	{ "padding count 0", MP("\xa0" MFIX "payload\x00"), 'p' },
	{ "padding past the payload", MP("\xa0" MFIX "pay\x09"), 'p' },
	{ "P set, no payload", MP("\xa0" MFIX), 'p' },
};

static void put_srtp_suite(rp_buf *b, const char *field, enum msrtp_suite su, uint8_t seed)
{
	uint8_t key[32], salt[14];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(seed * 17 + i * 29 + 3);
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(seed * 13 + i * 5 + 1);
	benc_put_kv_dict(b, field);
	benc_put_kv_cstr(b, "suite", msrtp_suite_name(su));
	benc_put_kv_str(b, "key", (rp_str){ (const char *)key, msrtp_key_len(su) });
	benc_put_kv_str(b, "salt", (rp_str){ (const char *)salt, msrtp_salt_len(su) });
	benc_put_end(b);
}

static struct msrtp *ctx_seed(enum msrtp_dir dir, enum msrtp_suite su, uint8_t seed)
{
	uint8_t key[32], salt[14];
	struct msrtp_params p = { .suite = su, .key = key, .salt = salt };
	struct msrtp *c = NULL;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(seed * 17 + i * 29 + 3);
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(seed * 13 + i * 5 + 1);
	if (msrtp_new(dir, &p, &c) < 0) {
		fprintf(stderr, "msrtp_new failed\n");
		exit(2);
	}
	return c;
}

/* Sends pkt (n bytes) from 'from' to dport; the next datagram at 'to',
 * unprotected with rx when given, must be want (wlen bytes). */
static bool send_expect(int from, uint16_t dport, const uint8_t *pkt, size_t n, int to,
	struct msrtp *rx, const uint8_t *want, size_t wlen)
{
	struct sockaddr_in d = lo(dport);
	uint8_t got[512];
	ssize_t r;
	size_t gl;

	if (sendto(from, pkt, n, 0, (struct sockaddr *)&d, sizeof(d)) != (ssize_t)n)
		return false;
	r = recv_wait(to, got, sizeof(got), WAIT_MS);
	if (r < 0)
		return false;
	gl = (size_t)r;
	if (rx && msrtp_unprotect_rtp(rx, got, &gl) != MSRTP_OK)
		return false;
	return gl == wlen && memcmp(got, want, wlen) == 0;
}

static bool silent(int fd, int ms)
{
	uint8_t b[512];

	return recv_wait(fd, b, sizeof(b), ms) < 0;
}

/* Waits (bounded) until key reaches want: mediad counts the packets the
 * module hands up in its worker, after the send returned. */
static int64_t wait_count(const struct sess *s, const char *key, int64_t want)
{
	int64_t v = -1;

	for (int i = 0; i < 30; i++) {
		rp_arena_reset(&arena);
		v = get_int(query(s, "session.query"), key);
		if (v == want)
			break;
		sleep_ms(100);
	}
	return v;
}

static int run_malformed_one(int su)
{
	const bool srtp = su >= 0;
	const char *what = srtp ? msrtp_suite_name((enum msrtp_suite)su) : "plain";
	struct msrtp *tx = NULL, *rx = NULL; /* A's peer: protects / unprotects */
	uint16_t seqa = 100, seqb = 900;
	int64_t bad = 0, good_a = 0, good_b = 0, ka0, kb0;
	const benc_node *r;
	struct sess s;
	int got = 0;

	create(&s);
	if (srtp) {
		rp_buf b;

		tx = ctx_seed(MSRTP_PROTECT, (enum msrtp_suite)su, 41);
		rx = ctx_seed(MSRTP_UNPROTECT, (enum msrtp_suite)su, 42);
		rp_buf_init(&b, 4096);
		benc_put_kv_int(&b, "session", s.id);
		benc_put_kv_cstr(&b, "leg", "a");
		put_srtp_suite(&b, "srtp-in", (enum msrtp_suite)su, 41);
		put_srtp_suite(&b, "srtp-out", (enum msrtp_suite)su, 42);
		rp_arena_reset(&arena);
		call("leg.update", &b);
		rp_buf_free(&b);
	}
	/* Both directions into the kernel with plain-looking traffic. */
	for (int i = 0; i < 10; i++) {
		uint8_t ref[256], pkt[512];
		size_t n = mkpkt(ref, seqa++, MSSRC), rn = n;

		memcpy(pkt, ref, n);
		if (srtp && msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt)) != MSRTP_OK)
			break;
		got += send_expect(s.ca, (uint16_t)s.pa, pkt, n, s.cb, NULL, ref, rn);
		n = mkpkt(ref, seqb++, MSSRC);
		got += send_expect(s.cb, (uint16_t)s.pb, ref, n, s.ca, rx, ref, n);
	}
	CHECK(got == 20, "%s: 10 packets each way through userspace (%d)", what, got);
	CHECK(wait_offloaded(&s, "a.kernel", 1) && wait_offloaded(&s, "b.kernel", 1),
		"%s: both directions offloaded", what);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	ka0 = get_int(r, "a.kernel-packets-in");
	kb0 = get_int(r, "b.kernel-packets-in");

	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *m = &mcases[i];
		uint8_t ref[256], pkt[512], mark[512], mref[256];
		size_t n = m->len, mn;
		struct sockaddr_in da = lo((uint16_t)s.pa), db = lo((uint16_t)s.pb);

		memcpy(ref, m->pkt, m->len);
		ref[2] = (uint8_t)(seqa >> 8);
		ref[3] = (uint8_t)seqa++;
		memcpy(pkt, ref, n);
		/* libsrtp will not protect a header that runs past the end: a
		 * hostile sender protects a sane packet and breaks its clear-text
		 * header (past the tag too). */
		if (srtp && (m->bad == 'c' || m->bad == 'x')) {
			n = mkpkt(pkt, (uint16_t)(seqa - 1), MSSRC);
			n = 12 + 16;
			if (msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt)) != MSRTP_OK)
				exit(2);
			pkt[0] = m->bad == 'c' ? 0x8f : 0x90;
			pkt[14] = 0x40;
		} else if (srtp && msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt)) != MSRTP_OK) {
			exit(2);
		}
		if (!m->bad) {
			CHECK(send_expect(s.ca, (uint16_t)s.pa, pkt, n, s.cb, NULL, ref, m->len),
				"%s A->B %s: forwarded byte-exact", what, m->name);
			ref[2] = (uint8_t)(seqb >> 8);
			ref[3] = (uint8_t)seqb++;
			CHECK(send_expect(s.cb, (uint16_t)s.pb, ref, m->len, s.ca, rx, ref, m->len),
				"%s B->A %s: forwarded byte-exact", what, m->name);
			good_a++;
			good_b++;
			continue;
		}
		/* Not forwarded: the next valid packet is the next to arrive
		 * (and a late one from mediad would be caught by the silence
		 * checks below). */
		sendto(s.ca, pkt, n, 0, (struct sockaddr *)&da, sizeof(da));
		mn = mkpkt(mref, seqa++, MSSRC);
		memcpy(mark, mref, mn);
		if (srtp && msrtp_protect_rtp(tx, mark, &mn, sizeof(mark)) != MSRTP_OK)
			exit(2);
		CHECK(send_expect(s.ca, (uint16_t)s.pa, mark, mn, s.cb, NULL, mref, 12 + PAYLOAD),
			"%s A->B %s: not forwarded, the next packet is", what, m->name);
		ref[2] = (uint8_t)(seqb >> 8);
		ref[3] = (uint8_t)seqb++;
		sendto(s.cb, ref, m->len, 0, (struct sockaddr *)&db, sizeof(db));
		mn = mkpkt(mref, seqb++, MSSRC);
		CHECK(send_expect(s.cb, (uint16_t)s.pb, mref, mn, s.ca, rx, mref, mn),
			"%s B->A %s: not forwarded, the next packet is", what, m->name);
		good_a++;
		good_b++;
		bad++;
	}
	CHECK(silent(s.cb, 300) && silent(s.ca, 50), "%s: nothing else came out", what);
	CHECK(wait_count(&s, "a.stats.malformed", bad) == bad, "%s: a.malformed %" PRId64 " == %" PRId64,
		what, get_int(query(&s, "session.query"), "a.stats.malformed"), bad);
	CHECK(wait_count(&s, "b.stats.malformed", bad) == bad, "%s: b.malformed %" PRId64 " == %" PRId64,
		what, get_int(query(&s, "session.query"), "b.stats.malformed"), bad);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	CHECK(get_int(r, "a.kernel") == 1 && get_int(r, "b.kernel") == 1,
		"%s: both directions still in the kernel", what);
	CHECK(get_int(r, "a.kernel-packets-in") - ka0 == good_a,
		"%s: the module forwarded every valid A->B packet (%" PRId64 " of %" PRId64 ")", what,
		get_int(r, "a.kernel-packets-in") - ka0, good_a);
	CHECK(get_int(r, "b.kernel-packets-in") - kb0 == good_b,
		"%s: the module forwarded every valid B->A packet (%" PRId64 " of %" PRId64 ")", what,
		get_int(r, "b.kernel-packets-in") - kb0, good_b);
	for (int i = 0; i < 2; i++) {
		const char *leg = i ? "b" : "a";
		static const char *const others[] = { "parse-errors", "auth-failures", "replay-drops",
			"source-mismatches", "no-remote-drops", "protect-errors" };
		char key[64];

		for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++) {
			snprintf(key, sizeof(key), "%s.stats.%s", leg, others[k]);
			CHECK(get_int(r, key) == 0, "%s: %s is 0 (%" PRId64 ")", what, key,
				get_int(r, key));
		}
	}
	rp_arena_reset(&arena);
	r = query(&s, "session.delete");
	CHECK(get_int(r, "a.stats.malformed") == bad && get_int(r, "b.stats.malformed") == bad,
		"%s: session.delete reports malformed %" PRId64 "/%" PRId64, what,
		get_int(r, "a.stats.malformed"), get_int(r, "b.stats.malformed"));
	msrtp_free(tx);
	msrtp_free(rx);
	close(s.ca);
	close(s.cb);
	return 0;
}

static int run_malformed(void)
{
	if (msrtp_global_init() < 0) {
		fprintf(stderr, "msrtp set-up failed\n");
		exit(2);
	}
	run_malformed_one(-1);
	run_malformed_one(MSRTP_AES_CM_128_HMAC_SHA1_80);
	run_malformed_one(MSRTP_AEAD_AES_128_GCM);
	return 0;
}

/* ---- resync: mediad's SRTP state follows the module's ---------------- */

#define RS_SSRC_A 0x44444444u /* A->B: SRTP in, plain out */
#define RS_SSRC_B 0x55555555u /* B->A: plain in, SRTP out */
#define RS_BATCH 128

/* n SRTP packets A->B in batches (the module forwards each inside the
 * sendto, so a batch waits in the receiver's buffer): each must arrive as
 * the exact RTP, in order. Returns how many did. */
static int rs_a2b(struct msrtp *snd, int from, uint16_t dport, int to, uint16_t *seq, int n)
{
	struct sockaddr_in d = lo(dport);
	uint8_t plain[256], pkt[512], in[512];
	int got = 0;

	for (int done = 0; done < n;) {
		int m = n - done < RS_BATCH ? n - done : RS_BATCH;
		uint16_t first = *seq;

		for (int i = 0; i < m; i++) {
			size_t len = mkpkt(pkt, (*seq)++, RS_SSRC_A);
			if (msrtp_protect_rtp(snd, pkt, &len, sizeof(pkt)) != MSRTP_OK)
				return got;
			sendto(from, pkt, len, 0, (struct sockaddr *)&d, sizeof(d));
		}
		for (int i = 0; i < m; i++) {
			size_t len = mkpkt(plain, (uint16_t)(first + i), RS_SSRC_A);
			ssize_t r = recv_wait(to, in, sizeof(in), WAIT_MS);
			if (r < 0)
				break;
			if (r == (ssize_t)len && memcmp(in, plain, len) == 0)
				got++;
		}
		done += m;
	}
	return got;
}

/* n plain packets B->A in batches: each must arrive as SRTP that rcv
 * unprotects into the exact RTP. */
static int rs_b2a(struct msrtp *rcv, int from, uint16_t dport, int to, uint16_t *seq, int n)
{
	struct sockaddr_in d = lo(dport);
	uint8_t plain[256], in[512];
	int got = 0;

	for (int done = 0; done < n;) {
		int m = n - done < RS_BATCH ? n - done : RS_BATCH;
		uint16_t first = *seq;

		for (int i = 0; i < m; i++) {
			size_t len = mkpkt(plain, (*seq)++, RS_SSRC_B);
			sendto(from, plain, len, 0, (struct sockaddr *)&d, sizeof(d));
		}
		for (int i = 0; i < m; i++) {
			size_t len = mkpkt(plain, (uint16_t)(first + i), RS_SSRC_B), n2;
			ssize_t r = recv_wait(to, in, sizeof(in), WAIT_MS);
			if (r < 0)
				break;
			n2 = (size_t)r;
			if (msrtp_unprotect_rtp(rcv, in, &n2) == MSRTP_OK && n2 == len &&
			    memcmp(in, plain, len) == 0)
				got++;
		}
		done += m;
	}
	return got;
}

static void rs_counters(const char *when, const benc_node *r, int64_t mal, int64_t mis)
{
	static const char *const zero[] = { "auth-failures", "replay-drops", "parse-errors",
		"protect-errors" };
	char key[64];

	for (int i = 0; i < 2; i++) {
		const char *leg = i ? "b" : "a";
		for (size_t k = 0; k < sizeof(zero) / sizeof(zero[0]); k++) {
			snprintf(key, sizeof(key), "%s.stats.%s", leg, zero[k]);
			CHECK(get_int(r, key) == 0, "%s: %s is 0 (%" PRId64 ")", when, key,
				get_int(r, key));
		}
		snprintf(key, sizeof(key), "%s.stats.malformed", leg);
		CHECK(get_int(r, key) == mal, "%s: %s is %" PRId64 " (%" PRId64 ")", when, key, mal,
			get_int(r, key));
		snprintf(key, sizeof(key), "%s.stats.source-mismatches", leg);
		CHECK(get_int(r, key) == mis, "%s: %s is %" PRId64 " (%" PRId64 ")", when, key, mis,
			get_int(r, key));
	}
}

/* Leg A speaks SRTP (AES_CM_128_HMAC_SHA1_80), B plain: A->B is SRTP->RTP,
 * B->A RTP->SRTP, both offloaded. More than 2^16 packets each way go
 * through the module (each sequence wraps at least once), so mediad's own
 * contexts would be wrong by a ROC or more if they did not follow the
 * module. Then: (a) packets the module hands up while it holds the flows
 * (a bad padding count, a packet from another source) are judged by
 * mediad as malformed / source mismatch, never as authentication
 * failures, and the mismatched packets mediad forwards are right (B->A:
 * protected by mediad where the module left the index); (b) leg.update
 * takes the flows back (and mediad offloads them again from its state),
 * then rmmod: the streams continue in userspace, every payload verified,
 * no authentication or replay failure anywhere. */
static int run_resync(void)
{
	struct msrtp_params p1 = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = k1, .salt = s1 };
	struct msrtp_params p2 = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = k2, .salt = s2 };
	const int total = 70000;
	struct msrtp *snd, *rcv;
	uint16_t seqa = 65000, seqb = 65100, cx_port;
	int64_t ka0, kb0;
	const benc_node *r;
	struct sess s;
	rp_buf b;
	int got, cx;

	if (msrtp_global_init() < 0 || msrtp_new(MSRTP_PROTECT, &p1, &snd) < 0 ||
	    msrtp_new(MSRTP_UNPROTECT, &p2, &rcv) < 0) {
		fprintf(stderr, "msrtp set-up failed\n");
		exit(2);
	}
	create(&s);
	cx = udp_sock(&cx_port); /* a stranger on both legs */
	rp_buf_init(&b, 4096);
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "a");
	put_srtp(&b, "srtp-in", k1, s1);
	put_srtp(&b, "srtp-out", k2, s2);
	rp_arena_reset(&arena);
	call("leg.update", &b);
	rp_buf_free(&b);

	got = rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, 10);
	got += rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, 10);
	CHECK(got == 20, "resync: 10 packets each way through userspace (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", 1) && wait_offloaded(&s, "b.kernel", 1),
		"resync: both directions offloaded");
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	ka0 = get_int(r, "a.kernel-packets-in");
	kb0 = get_int(r, "b.kernel-packets-in");
	got = rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, total);
	CHECK(got == total, "resync: %d SRTP->RTP packets byte-exact (%d)", total, got);
	got = rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, total);
	CHECK(got == total, "resync: %d RTP->SRTP packets verified (%d)", total, got);
	rp_arena_reset(&arena);
	r = query(&s, "session.query");
	CHECK(get_int(r, "a.kernel-packets-in") - ka0 == total &&
	      get_int(r, "b.kernel-packets-in") - kb0 == total,
		"resync: the module carried them all (%" PRId64 ", %" PRId64 ")",
		get_int(r, "a.kernel-packets-in") - ka0, get_int(r, "b.kernel-packets-in") - kb0);

	/* (a) Handed up while offloaded. */
	{
		struct sockaddr_in da = lo((uint16_t)s.pa), db = lo((uint16_t)s.pb);
		uint8_t pkt[512], ref[256];
		size_t n;

		/* An authentic SRTP packet whose (encrypted) padding count is 0. */
		n = mkpkt(pkt, seqa++, RS_SSRC_A);
		pkt[0] |= 0x20;
		pkt[n - 1] = 0;
		if (msrtp_protect_rtp(snd, pkt, &n, sizeof(pkt)) != MSRTP_OK)
			exit(2);
		sendto(s.ca, pkt, n, 0, (struct sockaddr *)&da, sizeof(da));
		/* An authentic one from a stranger: mediad counts the mismatch
		 * and (latching on, not strict) forwards it. */
		n = mkpkt(pkt, seqa, RS_SSRC_A);
		mkpkt(ref, seqa++, RS_SSRC_A);
		if (msrtp_protect_rtp(snd, pkt, &n, sizeof(pkt)) != MSRTP_OK)
			exit(2);
		CHECK(send_expect(cx, (uint16_t)s.pa, pkt, n, s.cb, NULL, ref, 12 + PAYLOAD),
			"resync: A->B from a stranger: forwarded byte-exact by mediad");
		/* B->A: a bad padding count, then a stranger's packet that
		 * mediad protects where the module left the index. */
		n = mkpkt(pkt, seqb++, RS_SSRC_B);
		pkt[0] |= 0x20;
		pkt[n - 1] = 0;
		sendto(s.cb, pkt, n, 0, (struct sockaddr *)&db, sizeof(db));
		n = mkpkt(pkt, seqb++, RS_SSRC_B);
		CHECK(send_expect(cx, (uint16_t)s.pb, pkt, n, s.ca, rcv, pkt, n),
			"resync: B->A from a stranger: protected by mediad, verified");
		CHECK(silent(s.cb, 200) && silent(s.ca, 50), "resync: nothing else came out");
		wait_count(&s, "b.stats.source-mismatches", 1);
		rp_arena_reset(&arena);
		r = query(&s, "session.query");
		rs_counters("handed up", r, 1, 1);
		CHECK(get_int(r, "a.kernel") == 1 && get_int(r, "b.kernel") == 1,
			"resync: both directions still in the kernel");
	}
	got = rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, 1000);
	got += rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, 1000);
	CHECK(got == 2000, "resync: 1000 more each way through the module (%d)", got);

	/* (b) leg.update takes the flows back; mediad continues the streams
	 * and offloads them again from where it has them. */
	rp_buf_init(&b, 4096);
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "b");
	benc_put_kv_cstr(&b, "address", "127.0.0.1");
	benc_put_kv_int(&b, "port", s.cb_port);
	rp_arena_reset(&arena);
	call("leg.update", &b);
	rp_buf_free(&b);
	got = 0;
	for (int i = 0; i < 30; i++) { /* in small steps: offloaded again meanwhile */
		got += rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, 10);
		got += rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, 10);
		sleep_ms(20);
	}
	CHECK(got == 600, "resync: after leg.update 300 each way verified (%d)", got);
	CHECK(wait_offloaded(&s, "a.kernel", 1) && wait_offloaded(&s, "b.kernel", 1),
		"resync: both directions offloaded again");
	got = rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, 1000);
	got += rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, 1000);
	CHECK(got == 2000, "resync: 1000 more each way, the module continuing mediad's index (%d)",
		got);

	/* rmmod between two packets: the module's state is gone with it. */
	CHECK(system("rmmod rampart") == 0, "resync: rmmod rampart");
	got = rs_a2b(snd, s.ca, (uint16_t)s.pa, s.cb, &seqa, 300);
	got += rs_b2a(rcv, s.cb, (uint16_t)s.pb, s.ca, &seqb, 300);
	CHECK(got == 600, "resync: after rmmod 300 each way verified in userspace (%d)", got);
	rp_arena_reset(&arena);
	r = query(&s, "session.delete");
	rs_counters("session.delete", r, 1, 1);
	close(cx);
	msrtp_free(snd);
	msrtp_free(rcv);
	close(s.ca);
	close(s.cb);
	return 0;
}

/* Media timeouts see the module's traffic: an offloaded call that carries
 * media outlives its media timeout; once media stops it is deleted by the
 * timeout and its flow goes too. */
static int run_timeout(void)
{
	struct sess s;
	uint16_t seq = 1;
	const benc_node *r = NULL;
	rp_buf b;
	int got = 0, rc;

	rp_buf_init(&b, 256);
	benc_put_kv_int(&b, "media-timeout", 2);
	benc_put_kv_int(&b, "delete-timeout", 3);
	r = call("session.create", &b);
	rp_buf_free(&b);
	s.id = get_int(r, "session");
	s.pa = get_int(r, "a.port");
	s.pb = get_int(r, "b.port");
	s.ca = udp_sock(&s.ca_port);
	s.cb = udp_sock(&s.cb_port);
	rp_buf_init(&b, 4096);
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "b");
	benc_put_kv_cstr(&b, "address", "127.0.0.1");
	benc_put_kv_int(&b, "port", s.cb_port);
	rp_arena_reset(&arena);
	call("leg.update", &b);
	rp_buf_free(&b);
	lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x66666666, 10);
	CHECK(wait_offloaded(&s, "a.kernel", 1), "offloaded");
	for (int i = 0; i < 250; i++) { /* 5 s of media, all in the kernel */
		got += lockstep(s.ca, (uint16_t)s.pa, s.cb, &seq, 0x66666666, 1);
		sleep_ms(20);
	}
	CHECK(got == 250, "250 packets over 5 s (%d)", got);
	rp_buf_init(&b, 256);
	benc_put_kv_int(&b, "session", s.id);
	rp_arena_reset(&arena);
	rc = ctl_call(cl, "session.query", &b, &arena, &r, 5000);
	CHECK(rc == 0, "session alive after 5 s of kernel-only media with media-timeout 2 s");
	for (int i = 0; i < 100; i++) { /* then silence: deleted within ~4 s */
		rp_arena_reset(&arena);
		rc = ctl_call(cl, "session.query", &b, &arena, &r, 5000);
		if (rc != 0)
			break;
		sleep_ms(100);
	}
	rp_buf_free(&b);
	CHECK(rc == -EREMOTEIO, "session deleted by its timeout once media stopped");
	sleep_ms(300);
	rp_arena_reset(&arena);
	r = call("stats", NULL);
	CHECK(get_int(r, "kernel.flows") == 0, "its flow is gone (%" PRId64 ")",
		get_int(r, "kernel.flows"));
	close(s.ca);
	close(s.cb);
	return 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s CONTROL offload|off|rmmod|srtp|timeout|malformed|resync\n", argv[0]);
		return 2;
	}
	rp_arena_init(&arena, NULL, 0, 0);
	for (int i = 0; i < 100; i++) {
		rc = ctl_client_connect(argv[1], 0, &cl);
		if (rc == 0)
			break;
		sleep_ms(100);
	}
	if (rc < 0) {
		fprintf(stderr, "connect %s: %s\n", argv[1], strerror(-rc));
		return 2;
	}
	if (strcmp(argv[2], "offload") == 0)
		run_offload(true);
	else if (strcmp(argv[2], "off") == 0)
		run_offload(false);
	else if (strcmp(argv[2], "rmmod") == 0)
		run_rmmod();
	else if (strcmp(argv[2], "srtp") == 0)
		run_srtp();
	else if (strcmp(argv[2], "timeout") == 0)
		run_timeout();
	else if (strcmp(argv[2], "malformed") == 0)
		run_malformed();
	else if (strcmp(argv[2], "resync") == 0)
		run_resync();
	else
		return 2;
	ctl_client_close(cl);
	rp_arena_reset(&arena);
	printf("%s: %d checks, %d failed\n", argv[2], checks, failures);
	return failures ? 1 : 0;
}
