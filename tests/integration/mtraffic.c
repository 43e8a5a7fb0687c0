/* mtraffic: Rampart's own media traffic tool for rampart-mediad.
 *
 * Talks to a running daemon over its control socket (bencode over
 * SOCK_SEQPACKET), creates sessions, plays both peers of each call from
 * loopback UDP sockets and checks every forwarded payload to the byte in
 * both directions: plain RTP with latching, SRTP<->RTP for every suite,
 * SRTP<->SRTP with different suites, tampered and replayed packets (dropped
 * and counted), SSRC change, strict latching, RTCP, bad requests (error
 * naming the field, state unchanged), timeouts (events), port exhaustion,
 * malformed RTP/RTCP headers (dropped and counted on plain and SRTP legs).
 * With --bench it measures forwarded packets per CPU-second of the daemon.
 *
 * Exit status: 0 all checks passed, 1 a check failed, 2 usage/set-up error.
 * Every wait is bounded (2 s per packet, a few seconds per event).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "benc.h"
#include "ctl.h"
#include "msrtp.h"
#include "rp_arena.h"
#include "rp_buf.h"

#define WAIT_MS 2000

static int failures, checks;
static int verbose;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		checks++;                                                       \
		if (!(cond)) {                                                  \
			failures++;                                             \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			return -1;                                              \
		}                                                               \
	} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------- control client (common/ctl) ---------------- */

struct ctl {
	ctl_client *cl;
	rp_arena arena;
	char cmd[48];
};

static int ctl_open(struct ctl *c, const char *path)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = ctl_client_connect(path, 256 * 1024, &c->cl);
	if (rc < 0)
		return rc;
	rp_arena_init(&c->arena, NULL, 0, 8u << 20);
	return 0;
}

static void ctl_close(struct ctl *c)
{
	rp_arena_fini(&c->arena);
	ctl_client_close(c->cl);
}

/* Starts a request: the caller appends its arguments (key/value pairs) to
 * b and calls ctl_do(). */
static void req_begin(struct ctl *c, rp_buf *b, const char *cmd)
{
	snprintf(c->cmd, sizeof(c->cmd), "%s", cmd);
	rp_buf_init(b, 65536);
	rp_buf_set_secure(b, true); /* requests carry keys */
}

/* Sends and waits (5 s) for the response; *reply (ok or error) lives in
 * c->arena until the next call. Returns 0 when a response came back. */
static int ctl_do(struct ctl *c, rp_buf *b, const benc_node **reply)
{
	int rc;

	rp_arena_reset(&c->arena);
	rc = ctl_call(c->cl, c->cmd, b, &c->arena, reply, 5000);
	rp_buf_free(b);
	if (rc == -EREMOTEIO)
		rc = 0;
	return rc;
}

static bool is_ok(const benc_node *r)
{
	return benc_str_eq(benc_dict_get(r, "result"), "ok");
}

static const char *reason(const benc_node *r, char *buf, size_t sz)
{
	rp_str s = ctl_resp_reason(r);

	if (!s.n)
		return "(no error-reason)";
	rp_str_copy(rp_str_make(s.p, s.n < sz - 1 ? s.n : sz - 1), buf, sz);
	return buf;
}

static int64_t geti(const benc_node *d, const char *k)
{
	int64_t v = -1;

	benc_get_int(d, k, INT64_MIN, INT64_MAX, &v, NULL);
	return v;
}

static const benc_node *getd(const benc_node *d, const char *k)
{
	const benc_node *o = NULL;

	benc_get_dict(d, k, &o, NULL);
	return o;
}

/* leg counter from a query/delete reply: leg "a"/"b", counter name */
static int64_t legstat(const benc_node *r, const char *leg, const char *name)
{
	return geti(getd(getd(r, leg), "stats"), name);
}

/* ---------------- UDP peers ---------------- */

struct peer {
	int fd;
	uint16_t port;
};

static int peer_open(struct peer *p)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int rcv = 1 << 20;

	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(p->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(p->fd, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	p->port = ntohs(a.sin_port);
	return 0;
}

/* Two sockets on consecutive ports (RTP, RTCP), for RTCP checks. */
static int peer_pair_open(struct peer *rtp, struct peer *rtcp)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a;

		if (peer_open(rtp) < 0)
			return -1;
		rtcp->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)(rtp->port + 1));
		if (rtp->port < 65535 && bind(rtcp->fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			rtcp->port = (uint16_t)(rtp->port + 1);
			return 0;
		}
		close(rtcp->fd);
		close(rtp->fd);
	}
	return -1;
}

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void peer_send(struct peer *p, uint16_t port, const void *buf, size_t n)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (sendto(p->fd, buf, n, 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)n)
		fprintf(stderr, "sendto: %s\n", strerror(errno));
}

static ssize_t peer_recv(struct peer *p, void *buf, size_t cap, int timeout_ms,
	uint16_t *from_port)
{
	struct pollfd pf = { .fd = p->fd, .events = POLLIN };
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	ssize_t n;

	if (poll(&pf, 1, timeout_ms) != 1)
		return -1;
	n = recvfrom(p->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&a, &len);
	if (from_port)
		*from_port = ntohs(a.sin_port);
	return n;
}

/* Nothing arrives within ms. */
static bool peer_silent(struct peer *p, int ms)
{
	uint8_t b[2048];

	return peer_recv(p, b, sizeof(b), ms, NULL) < 0;
}

static size_t mk_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t n, uint8_t pt)
{
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(seq >> 3);
	b[5] = b[6] = 0;
	b[7] = (uint8_t)seq;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < n; i++)
		b[12 + i] = (uint8_t)(seq * 31 + i * 7 + ssrc);
	return 12 + n;
}

static size_t mk_rtcp(uint8_t *b, uint32_t ssrc)
{
	/* SR with no report blocks: 28 bytes */
	memset(b, 0, 28);
	b[0] = 0x80;
	b[1] = 200;
	b[3] = 6;
	b[4] = (uint8_t)(ssrc >> 24);
	b[5] = (uint8_t)(ssrc >> 16);
	b[6] = (uint8_t)(ssrc >> 8);
	b[7] = (uint8_t)ssrc;
	for (int i = 8; i < 28; i++)
		b[i] = (uint8_t)(i * 3);
	return 28;
}

/* ---------------- sessions ---------------- */

struct sess {
	int64_t id;
	uint16_t a_port, b_port;
};

static int create(struct ctl *c, struct sess *s, const char *label, int mt, int dt, bool mux,
	char *why, size_t whysz)
{
	rp_buf b;
	const benc_node *r;
	int rc;

	req_begin(c, &b, "session.create");
	if (label)
		benc_put_kv_cstr(&b, "label", label);
	if (mt > 0)
		benc_put_kv_int(&b, "media-timeout", mt);
	if (dt > 0)
		benc_put_kv_int(&b, "delete-timeout", dt);
	if (mux)
		benc_put_kv_int(&b, "rtcp-mux", 1);
	if ((rc = ctl_do(c, &b, &r)) < 0) {
		snprintf(why, whysz, "control: %s", strerror(-rc));
		return rc;
	}
	if (!is_ok(r)) {
		reason(r, why, whysz);
		return -EINVAL;
	}
	s->id = geti(r, "session");
	s->a_port = (uint16_t)geti(getd(r, "a"), "port");
	s->b_port = (uint16_t)geti(getd(r, "b"), "port");
	return 0;
}

struct srtp_keys {
	enum msrtp_suite suite;
	uint8_t key[32], salt[14];
};

static void keys_make(struct srtp_keys *k, enum msrtp_suite su, uint8_t seed)
{
	k->suite = su;
	for (size_t i = 0; i < sizeof(k->key); i++)
		k->key[i] = (uint8_t)(seed * 17 + i * 29 + 3);
	for (size_t i = 0; i < sizeof(k->salt); i++)
		k->salt[i] = (uint8_t)(seed * 13 + i * 5 + 1);
}

static void put_srtp(rp_buf *b, const char *field, const struct srtp_keys *k)
{
	benc_put_kv_dict(b, field);
	benc_put_kv_cstr(b, "suite", msrtp_suite_name(k->suite));
	benc_put_kv_str(b, "key", rp_str_make((const char *)k->key, msrtp_key_len(k->suite)));
	benc_put_kv_str(b, "salt", rp_str_make((const char *)k->salt, msrtp_salt_len(k->suite)));
	benc_put_end(b);
}

static struct msrtp *ctx_of(enum msrtp_dir d, const struct srtp_keys *k)
{
	struct msrtp_params p;
	struct msrtp *c = NULL;

	memset(&p, 0, sizeof(p));
	p.suite = k->suite;
	p.key = k->key;
	p.salt = k->salt;
	if (msrtp_new(d, &p, &c) < 0)
		return NULL;
	return c;
}

/* leg.update with the usual fields; any may be absent (NULL / 0). */
static int update(struct ctl *c, int64_t id, const char *leg, uint16_t remote_port,
	const char *latch, const struct srtp_keys *in, const struct srtp_keys *out,
	const benc_node **reply)
{
	rp_buf b;
	int rc;

	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", id);
	benc_put_kv_cstr(&b, "leg", leg);
	if (remote_port) {
		benc_put_kv_cstr(&b, "address", "127.0.0.1");
		benc_put_kv_int(&b, "port", remote_port);
	}
	if (latch)
		benc_put_kv_cstr(&b, "latch", latch);
	if (in)
		put_srtp(&b, "srtp-in", in);
	if (out)
		put_srtp(&b, "srtp-out", out);
	rc = ctl_do(c, &b, reply);
	return rc;
}

static int simple(struct ctl *c, const char *cmd, int64_t id, const benc_node **reply)
{
	rp_buf b;

	req_begin(c, &b, cmd);
	if (id > 0)
		benc_put_kv_int(&b, "session", id);
	return ctl_do(c, &b, reply);
}

static int delete_sess(struct ctl *c, int64_t id)
{
	const benc_node *r;

	if (simple(c, "session.delete", id, &r) < 0 || !is_ok(r))
		return -1;
	return 0;
}

/* One packet from 'from' to mediad port 'to', expected at 'at' exactly as
 * 'expect' (expect_len bytes). */
static int expect_fwd(struct peer *from, uint16_t to, const uint8_t *pkt, size_t len,
	struct peer *at, const uint8_t *expect, size_t expect_len)
{
	uint8_t got[2048];
	ssize_t n;

	peer_send(from, to, pkt, len);
	n = peer_recv(at, got, sizeof(got), WAIT_MS, NULL);
	CHECK(n >= 0, "no packet forwarded within %d ms", WAIT_MS);
	CHECK((size_t)n == expect_len, "forwarded length %zd, expected %zu", n, expect_len);
	CHECK(memcmp(got, expect, expect_len) == 0, "forwarded bytes differ");
	return 0;
}

/* ---------------- scenarios ---------------- */

static int t_ping(struct ctl *c)
{
	const benc_node *r;
	rp_str name;
	int rc = simple(c, "ping", 0, &r);

	CHECK(rc == 0 && is_ok(r), "ping: %s", rc ? strerror(-rc) : "not ok");
	rc = simple(c, "hello", 0, &r);
	CHECK(rc == 0 && is_ok(r), "hello: %s", rc ? strerror(-rc) : "not ok");
	CHECK(benc_get_str(r, "server", &name, NULL) == 0 && rp_str_eq_cstr(name, "rampart-mediad"),
		"hello: wrong server name");
	return 0;
}

/* Plain RTP both ways; A's SDP address is wrong (NAT), latching fixes it. */
static int t_plain_latching(struct ctl *c, int npkts)
{
	struct sess s;
	struct peer pa, pb, stranger;
	const benc_node *r;
	uint8_t pkt[2048];
	char why[256];
	size_t n;
	int rc = 0;

	CHECK(create(c, &s, "plain@mtraffic", 0, 0, false, why, sizeof(why)) == 0,
		"create: %s", why);
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0 && peer_open(&stranger) == 0, "peers");
	/* A's "SDP" says port 9 (discard): only latching can reach pa. */
	CHECK(update(c, s.id, "a", 9, "on", NULL, NULL, &r) == 0 && is_ok(r), "update a");
	CHECK(update(c, s.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update b");
	for (int i = 0; i < npkts && rc == 0; i++) {
		n = mk_rtp(pkt, (uint16_t)i, 0x1000, 20 + (size_t)(i % 300), 0);
		rc = expect_fwd(&pa, s.a_port, pkt, n, &pb, pkt, n);
		if (rc == 0) {
			n = mk_rtp(pkt, (uint16_t)(i + 7), 0x2000, 160, 8);
			rc = expect_fwd(&pb, s.b_port, pkt, n, &pa, pkt, n);
		}
	}
	CHECK(rc == 0, "forwarding failed");
	/* RFC 4733 telephone-event (PT 101) passes untouched. */
	{
		uint8_t ev[16] = { 0x80, 101, 0, 50, 0, 0, 0, 160, 0, 0, 0x10, 0, 5, 0x8a, 0, 160 };
		CHECK(expect_fwd(&pa, s.a_port, ev, sizeof(ev), &pb, ev, sizeof(ev)) == 0, "dtmf");
	}
	/* A stranger on A's port: forwarded (not strict) but counted. */
	n = mk_rtp(pkt, 999, 0x1000, 20, 0);
	CHECK(expect_fwd(&stranger, s.a_port, pkt, n, &pb, pkt, n) == 0, "stranger");
	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	CHECK(geti(getd(r, "a"), "latched") == 1, "a not latched");
	CHECK(legstat(r, "a", "packets-in") == npkts + 2, "a packets-in %" PRId64,
		legstat(r, "a", "packets-in"));
	CHECK(legstat(r, "b", "packets-out") == npkts + 2, "b packets-out");
	CHECK(legstat(r, "b", "packets-in") == npkts, "b packets-in");
	CHECK(legstat(r, "a", "source-mismatches") == 1, "a source-mismatches %" PRId64,
		legstat(r, "a", "source-mismatches"));
	CHECK(delete_sess(c, s.id) == 0, "delete");
	/* After delete: the port no longer forwards. */
	n = mk_rtp(pkt, 1000, 0x1000, 20, 0);
	peer_send(&pa, s.a_port, pkt, n);
	CHECK(peer_silent(&pb, 300), "forwarded after delete");
	CHECK(simple(c, "session.query", s.id, &r) == 0 && !is_ok(r), "query after delete");
	peer_close(&pa);
	peer_close(&pb);
	peer_close(&stranger);
	return 0;
}

/* Strict latching drops a stranger and counts it. */
static int t_strict(struct ctl *c)
{
	struct sess s;
	struct peer pa, pb, stranger;
	const benc_node *r;
	uint8_t pkt[256];
	char why[256];
	size_t n;

	CHECK(create(c, &s, NULL, 0, 0, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0 && peer_open(&stranger) == 0, "peers");
	CHECK(update(c, s.id, "a", 0, "strict", NULL, NULL, &r) == 0 && is_ok(r), "update a");
	CHECK(update(c, s.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update b");
	n = mk_rtp(pkt, 1, 5, 40, 0);
	CHECK(expect_fwd(&pa, s.a_port, pkt, n, &pb, pkt, n) == 0, "first packet");
	n = mk_rtp(pkt, 2, 5, 40, 0);
	peer_send(&stranger, s.a_port, pkt, n);
	CHECK(peer_silent(&pb, 300), "stranger forwarded in strict mode");
	n = mk_rtp(pkt, 3, 5, 40, 0);
	CHECK(expect_fwd(&pa, s.a_port, pkt, n, &pb, pkt, n) == 0, "after stranger");
	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	CHECK(legstat(r, "a", "source-mismatches") == 1, "source-mismatches");
	CHECK(legstat(r, "a", "packets-in") == 2, "packets-in");
	CHECK(delete_sess(c, s.id) == 0, "delete");
	peer_close(&pa);
	peer_close(&pb);
	peer_close(&stranger);
	return 0;
}

/* A: SRTP with suite su_a (or plain if su_a < 0), B: SRTP su_b (or plain).
 * Both directions byte-exact, tampered + replayed dropped and counted,
 * SSRC change, SRTCP/RTCP. */
static int t_srtp(struct ctl *c, int su_a, int su_b, int npkts)
{
	struct sess s;
	struct peer pa, pa_c, pb, pb_c;
	struct srtp_keys ka_in, ka_out, kb_in, kb_out;
	struct msrtp *a_tx = NULL, *a_rx = NULL, *b_tx = NULL, *b_rx = NULL;
	const benc_node *r;
	uint8_t pkt[2048], wire[2048], got[2048], replay[2048];
	size_t n, wl, rl = 0;
	ssize_t g;
	char why[256];
	int64_t tampered = 0;

	if ((su_a >= 0 && !msrtp_suite_supported((enum msrtp_suite)su_a)) ||
	    (su_b >= 0 && !msrtp_suite_supported((enum msrtp_suite)su_b))) {
		printf("skip: %s not supported by this libsrtp2 build\n",
			msrtp_suite_name((enum msrtp_suite)(su_a >= 0 && !msrtp_suite_supported(
				(enum msrtp_suite)su_a) ? su_a : su_b)));
		return 0;
	}
	CHECK(create(c, &s, "srtp", 0, 0, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(peer_pair_open(&pa, &pa_c) == 0 && peer_pair_open(&pb, &pb_c) == 0, "peers");
	if (su_a >= 0) {
		keys_make(&ka_in, (enum msrtp_suite)su_a, 1);
		keys_make(&ka_out, (enum msrtp_suite)su_a, 2);
		a_tx = ctx_of(MSRTP_PROTECT, &ka_in);
		a_rx = ctx_of(MSRTP_UNPROTECT, &ka_out);
		CHECK(a_tx && a_rx, "peer A contexts");
	}
	if (su_b >= 0) {
		keys_make(&kb_in, (enum msrtp_suite)su_b, 3);
		keys_make(&kb_out, (enum msrtp_suite)su_b, 4);
		b_tx = ctx_of(MSRTP_PROTECT, &kb_in);
		b_rx = ctx_of(MSRTP_UNPROTECT, &kb_out);
		CHECK(b_tx && b_rx, "peer B contexts");
	}
	CHECK(update(c, s.id, "a", pa.port, "strict", su_a >= 0 ? &ka_in : NULL,
		      su_a >= 0 ? &ka_out : NULL, &r) == 0 && is_ok(r),
		"update a: %s", reason(r, why, sizeof(why)));
	CHECK(update(c, s.id, "b", pb.port, NULL, su_b >= 0 ? &kb_in : NULL,
		      su_b >= 0 ? &kb_out : NULL, &r) == 0 && is_ok(r),
		"update b: %s", reason(r, why, sizeof(why)));

	for (int i = 0; i < npkts; i++) {
		uint32_t ssrc = i < npkts / 2 ? 0xA1A1A1A1 : 0xA2A2A2A2; /* SSRC change */
		uint16_t seq = (uint16_t)(100 + i);

		/* A -> B */
		n = mk_rtp(pkt, seq, ssrc, 160, 0);
		memcpy(wire, pkt, n);
		wl = n;
		if (a_tx)
			CHECK(msrtp_protect_rtp(a_tx, wire, &wl, sizeof(wire)) == MSRTP_OK, "protect");
		if (i == 3) {
			memcpy(replay, wire, wl);
			rl = wl;
		}
		if (a_tx && i % 16 == 5) {
			uint8_t bad[2048];
			memcpy(bad, wire, wl);
			bad[wl / 2] ^= 0x01; /* flip one bit */
			peer_send(&pa, s.a_port, bad, wl);
			tampered++;
		}
		peer_send(&pa, s.a_port, wire, wl);
		g = peer_recv(&pb, got, sizeof(got), WAIT_MS, NULL);
		CHECK(g > 0, "A->B packet %d not forwarded", i);
		wl = (size_t)g;
		if (b_rx)
			CHECK(msrtp_unprotect_rtp(b_rx, got, &wl) == MSRTP_OK,
				"B cannot unprotect packet %d", i);
		CHECK(wl == n && memcmp(got, pkt, n) == 0, "A->B packet %d differs", i);

		/* B -> A */
		n = mk_rtp(pkt, seq, 0xB0B0B0B0, 80 + (size_t)(i % 50), 8);
		memcpy(wire, pkt, n);
		wl = n;
		if (b_tx)
			CHECK(msrtp_protect_rtp(b_tx, wire, &wl, sizeof(wire)) == MSRTP_OK, "protect");
		peer_send(&pb, s.b_port, wire, wl);
		g = peer_recv(&pa, got, sizeof(got), WAIT_MS, NULL);
		CHECK(g > 0, "B->A packet %d not forwarded", i);
		wl = (size_t)g;
		if (a_rx)
			CHECK(msrtp_unprotect_rtp(a_rx, got, &wl) == MSRTP_OK,
				"A cannot unprotect packet %d", i);
		CHECK(wl == n && memcmp(got, pkt, n) == 0, "B->A packet %d differs", i);
	}
	/* Replay: dropped when A is SRTP (a plain leg has no replay check). */
	if (a_tx && rl) {
		peer_send(&pa, s.a_port, replay, rl);
		CHECK(peer_silent(&pb, 300), "replayed packet forwarded");
	}
	/* RTCP / SRTCP on the RTCP ports, A -> B. */
	n = mk_rtcp(pkt, 0xA1A1A1A1);
	memcpy(wire, pkt, n);
	wl = n;
	if (a_tx)
		CHECK(msrtp_protect_rtcp(a_tx, wire, &wl, sizeof(wire)) == MSRTP_OK, "protect rtcp");
	peer_send(&pa_c, (uint16_t)(s.a_port + 1), wire, wl);
	g = peer_recv(&pb_c, got, sizeof(got), WAIT_MS, NULL);
	CHECK(g > 0, "RTCP not forwarded to B's RTCP port");
	wl = (size_t)g;
	if (b_rx)
		CHECK(msrtp_unprotect_rtcp(b_rx, got, &wl) == MSRTP_OK, "B cannot unprotect SRTCP");
	CHECK(wl == n && memcmp(got, pkt, n) == 0, "RTCP differs");

	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	CHECK(legstat(r, "a", "auth-failures") == tampered, "a auth-failures %" PRId64 " != %" PRId64,
		legstat(r, "a", "auth-failures"), tampered);
	CHECK(legstat(r, "a", "replay-drops") == (a_tx ? 1 : 0), "a replay-drops");
	CHECK(legstat(r, "a", "packets-in") == npkts + 1, "a packets-in");
	CHECK(legstat(r, "b", "packets-in") == npkts, "b packets-in");
	CHECK(geti(getd(r, "a"), "srtp-in") == (su_a >= 0), "a srtp-in flag");
	CHECK(delete_sess(c, s.id) == 0, "delete");
	msrtp_free(a_tx);
	msrtp_free(a_rx);
	msrtp_free(b_tx);
	msrtp_free(b_rx);
	peer_close(&pa);
	peer_close(&pa_c);
	peer_close(&pb);
	peer_close(&pb_c);
	return 0;
}

/* Bad requests get an error naming the field and change nothing. */
/* RTP/RTCP header consistency (mediad/rtpcheck.h): packets whose CSRC
 * count, extension length or padding count runs past the end, and RTCP
 * whose length fields do not add up, are dropped and counted in
 * 'malformed' on plain and SRTP legs alike, both ways; valid packets with
 * CSRCs, RFC 8285 one- and two-byte extensions, padding, an RFC 4733 event
 * and compound RTCP pass byte-exact. su < 0: both legs plain; else leg A
 * speaks SRTP with suite su. */
#define MFIX "\x00\x00\x00\x00\x00\x00\x00\x0a\x0b\x0c\x0d"
#define MCSRC "\xc5\xc5\xc5\xc5"
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
	{ "CSRC + extension + padding", MP("\xb1" MFIX MCSRC "\xbe\xde\x00\x01\x10\xaa\x00\x00"
		"pay\x00\x02"), 0 },
	{ "telephone-event with extension", MP("\x90\xe5" "\x00\x00\x00\x00\x00\x00\x0a\x0b\x0c\x0d"
		"\xbe\xde\x00\x01\x10\xaa\x00\x00" "\x05\x8a\x00\xa0"), 0 },
	{ "CC 15 in 40 bytes", MP("\x8f" MFIX MCSRC MCSRC MCSRC MCSRC "payload-payload-"), 'c' },
	{ "CC 2, one CSRC", MP("\x82" MFIX MCSRC), 'c' },
	{ "X without extension header", MP("\x90" MFIX "\xbe"), 'x' },
	{ "extension length past the end", MP("\x90" MFIX "\xbe\xde\x00\x09\x10\xaa\x00\x00"
		"payload"), 'x' },
	{ "padding count 0", MP("\xa0" MFIX "payload\x00"), 'p' },
	{ "padding past the payload", MP("\xa0" MFIX "pay\x09"), 'p' },
	{ "P set, no payload", MP("\xa0" MFIX), 'p' },
};
static const struct mcase rtcp_mcases[] = {
	{ "RR + SDES", MP("\x80\xc9\x00\x01\x0a\x0b\x0c\x0d" "\x81\xca\x00\x02\x0a\x0b\x0c\x0d"
		"\x01\x01" "a" "\x00"), 0 },
	{ "RR length past the end", MP("\x80\xc9\x00\x03\x0a\x0b\x0c\x0d"), 'l' },
	{ "RR + 2 trailing bytes", MP("\x80\xc9\x00\x01\x0a\x0b\x0c\x0d" "\x81\xca"), 'l' },
	{ "second packet past the end", MP("\x80\xc9\x00\x01\x0a\x0b\x0c\x0d"
		"\x81\xca\x00\x07\x0a\x0b\x0c\x0d"), 'l' },
};

/* Sends pkt (len) from 'from' to mediad port 'to'; expects want (wlen) at
 * 'at', after unprotecting with rx when given. */
static int send_expect(struct peer *from, uint16_t to, const uint8_t *pkt, size_t len,
	struct peer *at, struct msrtp *rx, bool rtcp, const uint8_t *want, size_t wlen)
{
	uint8_t got[2048];
	ssize_t n;
	size_t gl;

	peer_send(from, to, pkt, len);
	n = peer_recv(at, got, sizeof(got), WAIT_MS, NULL);
	CHECK(n >= 0, "no packet forwarded within %d ms", WAIT_MS);
	gl = (size_t)n;
	if (rx)
		CHECK((rtcp ? msrtp_unprotect_rtcp(rx, got, &gl) : msrtp_unprotect_rtp(rx, got, &gl)) ==
			MSRTP_OK, "forwarded packet does not unprotect");
	CHECK(gl == wlen, "forwarded length %zu, expected %zu", gl, wlen);
	CHECK(memcmp(got, want, wlen) == 0, "forwarded bytes differ");
	return 0;
}

static int t_malformed(struct ctl *c, int su)
{
	struct sess s;
	struct peer pa, pa_rtcp, pb, pb_rtcp;
	struct srtp_keys kin, kout;
	struct msrtp *tx = NULL, *rx = NULL; /* A's peer: protects / unprotects */
	const benc_node *r;
	char why[256];
	int64_t bad_rtp = 0, bad_rtcp = 0, good = 0;
	uint16_t seq = 100;
	bool srtp = su >= 0;

	CHECK(create(c, &s, "malformed@mtraffic", 0, 0, false, why, sizeof(why)) == 0,
		"create: %s", why);
	CHECK(peer_pair_open(&pa, &pa_rtcp) == 0 && peer_pair_open(&pb, &pb_rtcp) == 0, "peers");
	if (srtp) {
		keys_make(&kin, (enum msrtp_suite)su, 41);
		keys_make(&kout, (enum msrtp_suite)su, 42);
		CHECK((tx = ctx_of(MSRTP_PROTECT, &kin)) && (rx = ctx_of(MSRTP_UNPROTECT, &kout)),
			"ctx");
	}
	CHECK(update(c, s.id, "a", pa.port, NULL, srtp ? &kin : NULL, srtp ? &kout : NULL, &r) == 0 &&
		is_ok(r), "update a");
	CHECK(update(c, s.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update b");

	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *m = &mcases[i];
		uint8_t ref[256], pkt[256 + MSRTP_TRAILER_ROOM], mark[64], mref[64];
		size_t n = m->len, mn;

		memcpy(ref, m->pkt, m->len);
		ref[2] = (uint8_t)(seq >> 8);
		ref[3] = (uint8_t)seq++;
		/* A -> B. libsrtp will not protect a header that runs past the
		 * end: a hostile sender protects a sane packet and breaks its
		 * clear-text header (past the tag too). */
		memcpy(pkt, ref, n);
		if (srtp && (m->bad == 'c' || m->bad == 'x')) {
			n = mk_rtp(pkt, (uint16_t)(seq - 1), 0x0a0b0c0d, 16, 0);
			CHECK(msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt)) == MSRTP_OK, "protect");
			pkt[0] = m->bad == 'c' ? 0x8f : 0x90;
			pkt[14] = 0x40;
		} else if (srtp) {
			CHECK(msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt)) == MSRTP_OK, "protect %s",
				m->name);
		}
		if (!m->bad) {
			CHECK(send_expect(&pa, s.a_port, pkt, n, &pb, NULL, false, ref, m->len) == 0,
				"A->B %s", m->name);
			/* B -> A, protected toward A when it is SRTP. */
			memcpy(pkt, ref, m->len);
			CHECK(send_expect(&pb, s.b_port, pkt, m->len, &pa, rx, false, ref,
				m->len) == 0, "B->A %s", m->name);
			good++;
			continue;
		}
		/* Dropped: the next valid packet is the first to arrive. */
		peer_send(&pa, s.a_port, pkt, n);
		mn = mk_rtp(mref, seq++, 0x0a0b0c0d, 20, 0);
		memcpy(mark, mref, mn);
		if (srtp)
			CHECK(msrtp_protect_rtp(tx, mark, &mn, sizeof(mark)) == MSRTP_OK, "protect");
		CHECK(send_expect(&pa, s.a_port, mark, mn, &pb, NULL, false, mref, 20 + 12) == 0,
			"A->B %s: forwarded", m->name);
		peer_send(&pb, s.b_port, ref, m->len);
		mn = mk_rtp(mark, seq++, 0x0a0b0c0d, 20, 0);
		CHECK(send_expect(&pb, s.b_port, mark, mn, &pa, rx, false, mark, mn) == 0,
			"B->A %s: forwarded", m->name);
		bad_rtp++;
	}
	for (size_t i = 0; i < sizeof(rtcp_mcases) / sizeof(rtcp_mcases[0]); i++) {
		const struct mcase *m = &rtcp_mcases[i];
		uint8_t pkt[256 + MSRTP_TRAILER_ROOM];
		size_t n = m->len;

		memcpy(pkt, m->pkt, n);
		if (srtp)
			CHECK(msrtp_protect_rtcp(tx, pkt, &n, sizeof(pkt)) == MSRTP_OK, "protect %s",
				m->name);
		if (!m->bad) {
			CHECK(send_expect(&pa_rtcp, (uint16_t)(s.a_port + 1), pkt, n, &pb_rtcp, NULL,
				true, (const uint8_t *)m->pkt, m->len) == 0, "A->B %s", m->name);
			CHECK(send_expect(&pb_rtcp, (uint16_t)(s.b_port + 1), (const uint8_t *)m->pkt,
				m->len, &pa_rtcp, rx, true, (const uint8_t *)m->pkt, m->len) == 0,
				"B->A %s", m->name);
			good++;
			continue;
		}
		peer_send(&pa_rtcp, (uint16_t)(s.a_port + 1), pkt, n);
		peer_send(&pb_rtcp, (uint16_t)(s.b_port + 1), m->pkt, m->len);
		bad_rtcp++;
	}
	/* The RTCP drops: nothing came out on either side. */
	CHECK(peer_silent(&pb_rtcp, 200) && peer_silent(&pa_rtcp, 50), "malformed RTCP forwarded");
	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	for (int i = 0; i < 2; i++) {
		const char *leg = i ? "b" : "a";
		CHECK(legstat(r, leg, "malformed") == bad_rtp + bad_rtcp,
			"%s leg %s malformed %" PRId64 ", expected %" PRId64, srtp ? "SRTP" : "plain",
			leg, legstat(r, leg, "malformed"), bad_rtp + bad_rtcp);
		CHECK(legstat(r, leg, "auth-failures") == 0 && legstat(r, leg, "parse-errors") == 0 &&
			legstat(r, leg, "protect-errors") == 0, "leg %s: counted as another drop", leg);
		/* good packets each way plus one marker per bad RTP packet */
		CHECK(legstat(r, leg, "packets-in") == good + bad_rtp, "leg %s packets-in %" PRId64,
			leg, legstat(r, leg, "packets-in"));
	}
	CHECK(simple(c, "stats", 0, &r) == 0 && is_ok(r), "stats");
	CHECK(geti(r, "malformed") >= 2 * (bad_rtp + bad_rtcp), "stats malformed %" PRId64,
		geti(r, "malformed"));
	/* session.delete's final counters carry it too. */
	CHECK(simple(c, "session.delete", s.id, &r) == 0 && is_ok(r), "delete");
	CHECK(legstat(r, "a", "malformed") == bad_rtp + bad_rtcp, "delete: a malformed");
	msrtp_free(tx);
	msrtp_free(rx);
	peer_close(&pa);
	peer_close(&pa_rtcp);
	peer_close(&pb);
	peer_close(&pb_rtcp);
	return 0;
}

static int t_bad_requests(struct ctl *c)
{
	struct sess s;
	struct srtp_keys k;
	const benc_node *r;
	rp_buf b;
	char why[256];

	CHECK(create(c, &s, NULL, 0, 0, false, why, sizeof(why)) == 0, "create: %s", why);
	/* Wrong key length: srtp-in.key named, srtp-in stays off, the remote
	 * given in the same request is not applied either. */
	keys_make(&k, MSRTP_AES_CM_128_HMAC_SHA1_80, 1);
	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "a");
	benc_put_kv_cstr(&b, "address", "127.0.0.1");
	benc_put_kv_int(&b, "port", 4242);
	benc_put_kv_dict(&b, "srtp-in");
	benc_put_kv_cstr(&b, "suite", "AES_CM_128_HMAC_SHA1_80");
	benc_put_kv_str(&b, "key", rp_str_make((const char *)k.key, 15));
	benc_put_kv_str(&b, "salt", rp_str_make((const char *)k.salt, 14));
	benc_put_end(&b);
	CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r), "short key accepted");
	CHECK(strstr(reason(r, why, sizeof(why)), "srtp-in.key") != NULL, "reason: %s", why);
	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	CHECK(geti(getd(r, "a"), "srtp-in") == 0, "srtp-in changed by a failed request");
	CHECK(benc_dict_get(getd(r, "a"), "remote") == NULL, "remote changed by a failed request");
	/* Unknown suite, bad leg, bad latch, unknown session, unknown command,
	 * missing cookie. */
	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "c");
	CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r) &&
		strstr(reason(r, why, sizeof(why)), "'leg'"), "bad leg: %s", why);
	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "a");
	benc_put_kv_cstr(&b, "latch", "sometimes");
	CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r) &&
		strstr(reason(r, why, sizeof(why)), "'latch'"), "bad latch: %s", why);
	keys_make(&k, MSRTP_AES_CM_128_HMAC_SHA1_80, 1);
	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "b");
	benc_put_kv_dict(&b, "srtp-out");
	benc_put_kv_cstr(&b, "suite", "ROT13_HMAC");
	benc_put_kv_str(&b, "key", rp_str_make((const char *)k.key, 16));
	benc_put_kv_str(&b, "salt", rp_str_make((const char *)k.salt, 14));
	benc_put_end(&b);
	CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r) &&
		strstr(reason(r, why, sizeof(why)), "srtp-out.suite"), "bad suite: %s", why);
	CHECK(simple(c, "session.query", s.id + 1000000, &r) == 0 && !is_ok(r) &&
		strstr(reason(r, why, sizeof(why)), "session"), "unknown session: %s", why);
	CHECK(simple(c, "session.frobnicate", 0, &r) == 0 && !is_ok(r), "unknown command");
	req_begin(c, &b, "leg.update");
	benc_put_kv_int(&b, "session", s.id);
	benc_put_kv_cstr(&b, "leg", "a");
	benc_put_kv_cstr(&b, "address", "::1");
	benc_put_kv_int(&b, "port", 5000);
	CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r) &&
		strstr(reason(r, why, sizeof(why)), "address"), "family mismatch: %s", why);
	/* Hostile remotes: a NUL inside the address string (was read as
	 * "127.0.0.1"), multicast, broadcast, unspecified: refused naming
	 * 'address', the remote stays unset. */
	static const struct { const char *p; size_t n; } bad_addr[] = {
		{ "127.0.0.1\0junk", 14 }, { "224.0.0.1", 9 }, { "239.1.2.3", 9 },
		{ "255.255.255.255", 15 }, { "0.0.0.0", 7 },
	};
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		req_begin(c, &b, "leg.update");
		benc_put_kv_int(&b, "session", s.id);
		benc_put_kv_cstr(&b, "leg", "a");
		benc_put_kv_str(&b, "address", rp_str_make(bad_addr[i].p, bad_addr[i].n));
		benc_put_kv_int(&b, "port", 5000);
		CHECK(ctl_do(c, &b, &r) == 0 && !is_ok(r) &&
			strstr(reason(r, why, sizeof(why)), "'address'"),
			"address '%s' (%zu bytes) accepted: %s", bad_addr[i].p, bad_addr[i].n, why);
	}
	CHECK(simple(c, "session.query", s.id, &r) == 0 && is_ok(r), "query");
	CHECK(benc_dict_get(getd(r, "a"), "remote") == NULL, "remote set by a refused address");
	CHECK(delete_sess(c, s.id) == 0, "delete");
	return 0;
}

/* Timeout: an event after media-timeout, deletion (event) after
 * delete-timeout; media keeps a session alive. */
static int t_timeout(struct ctl *c, const char *path)
{
	struct ctl ev;
	struct sess s, live;
	struct peer pa, pb;
	const benc_node *r;
	rp_buf b;
	char why[256];
	bool warned = false, deleted = false;
	uint64_t deadline;
	uint8_t pkt[256];
	size_t n;

	CHECK(ctl_open(&ev, path) == 0, "second control connection");
	req_begin(&ev, &b, "subscribe");
	CHECK(ctl_do(&ev, &b, &r) == 0 && is_ok(r), "subscribe");
	CHECK(create(c, &s, "idle-call", 1, 2, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(create(c, &live, "live-call", 1, 2, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0, "peers");
	CHECK(update(c, live.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update");
	deadline = now_ms() + 6000;
	while (now_ms() < deadline && !deleted) {
		const benc_node *root;

		/* keep 'live' alive with a packet every 100 ms */
		n = mk_rtp(pkt, (uint16_t)(now_ms() / 100), 9, 20, 0);
		peer_send(&pa, live.a_port, pkt, n);
		peer_recv(&pb, pkt, sizeof(pkt), 0, NULL);
		rp_arena_reset(&ev.arena);
		if (ctl_client_next_event(ev.cl, &ev.arena, &root, 100) < 0)
			continue;
		CHECK(benc_str_eq(benc_dict_get(root, "event"), "timeout"), "unexpected event");
		CHECK(geti(root, "session") == s.id, "timeout for the wrong session %" PRId64,
			geti(root, "session"));
		if (geti(root, "deleted") == 1)
			deleted = true;
		else
			warned = true;
	}
	CHECK(warned, "no timeout event within 6 s");
	CHECK(deleted, "no deletion event within 6 s");
	CHECK(simple(c, "session.query", s.id, &r) == 0 && !is_ok(r), "timed-out session still there");
	CHECK(simple(c, "session.query", live.id, &r) == 0 && is_ok(r), "live session gone");
	CHECK(delete_sess(c, live.id) == 0, "delete live");
	peer_close(&pa);
	peer_close(&pb);
	ctl_close(&ev);
	return 0;
}

/* Port exhaustion fails the new session only; existing ones keep going. */
static int t_exhaustion(struct ctl *c)
{
	struct sess s[512], first;
	struct peer pa, pb;
	const benc_node *r;
	uint8_t pkt[256];
	char why[256];
	int n = 0, rc = 0;
	size_t len;

	CHECK(create(c, &first, NULL, 0, 0, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0, "peers");
	CHECK(update(c, first.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update");
	while (n < 512 && (rc = create(c, &s[n], NULL, 0, 0, false, why, sizeof(why))) == 0)
		n++;
	CHECK(n < 512, "the port range never ran out (use a small range for this test)");
	CHECK(strstr(why, "no free ports") != NULL, "exhaustion reason: %s", why);
	len = mk_rtp(pkt, 1, 1, 30, 0);
	CHECK(expect_fwd(&pa, first.a_port, pkt, len, &pb, pkt, len) == 0,
		"existing session broken by exhaustion");
	CHECK(simple(c, "stats", 0, &r) == 0 && is_ok(r) && geti(r, "port-exhausted") >= 1,
		"port-exhausted not counted");
	for (int i = 0; i < n; i++)
		CHECK(delete_sess(c, s[i].id) == 0, "delete %d", i);
	CHECK(create(c, &s[0], NULL, 0, 0, false, why, sizeof(why)) == 0, "no ports after release: %s", why);
	CHECK(delete_sess(c, s[0].id) == 0, "delete");
	CHECK(delete_sess(c, first.id) == 0, "delete first");
	peer_close(&pa);
	peer_close(&pb);
	return 0;
}

/* Clients that send garbage or vanish mid-request change nothing for
 * media in flight or for other clients. */
static int t_client_crash(struct ctl *c, const char *path)
{
	struct sess s;
	struct peer pa, pb;
	const benc_node *r;
	uint8_t pkt[256];
	char why[256];
	size_t n;
	int64_t before = -1, after = -1;

	CHECK(create(c, &s, NULL, 0, 0, false, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0, "peers");
	CHECK(update(c, s.id, "b", pb.port, NULL, NULL, NULL, &r) == 0 && is_ok(r), "update");
	CHECK(simple(c, "session.list", 0, &r) == 0 && is_ok(r), "list");
	before = geti(r, "count");
	for (int k = 0; k < 3; k++) {
		struct sockaddr_un sun;
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		static const char garbage[] = "d7:command5:stats6:cookie";   /* truncated */
		static const char req[] = "d7:command13:session.list6:cookie1:xe";

		CHECK(fd >= 0, "socket");
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "connect");
		if (k == 0)
			send(fd, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL);
		else if (k == 1)
			send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL); /* never reads the reply */
		close(fd); /* k == 2: connect and vanish */
		n = mk_rtp(pkt, (uint16_t)k, 3, 50, 0);
		CHECK(expect_fwd(&pa, s.a_port, pkt, n, &pb, pkt, n) == 0,
			"media stopped after client %d went away", k);
	}
	CHECK(simple(c, "session.list", 0, &r) == 0 && is_ok(r), "list after crashes");
	after = geti(r, "count");
	CHECK(after == before, "session count changed: %" PRId64 " -> %" PRId64, before, after);
	CHECK(delete_sess(c, s.id) == 0, "delete");
	peer_close(&pa);
	peer_close(&pb);
	return 0;
}

static int t_list_stats(struct ctl *c)
{
	struct sess s[3];
	const benc_node *r, *l = NULL;
	char why[256];
	int found = 0;

	for (int i = 0; i < 3; i++)
		CHECK(create(c, &s[i], NULL, 0, 0, true, why, sizeof(why)) == 0, "create: %s", why);
	CHECK(simple(c, "session.list", 0, &r) == 0 && is_ok(r), "list");
	CHECK(benc_get_list(r, "sessions", &l, NULL) == 0, "list: no sessions");
	BENC_FOREACH(it, l)
		for (int i = 0; i < 3; i++)
			if (it->type == BENC_INT && it->u.i == s[i].id)
				found++;
	CHECK(found == 3, "list: %d of 3 sessions", found);
	CHECK(simple(c, "stats", 0, &r) == 0 && is_ok(r), "stats");
	CHECK(geti(r, "sessions-active") >= 3, "stats sessions-active");
	for (int i = 0; i < 3; i++)
		CHECK(delete_sess(c, s[i].id) == 0, "delete");
	return 0;
}

/* ---------------- bench ---------------- */

static int cpu_ticks(int pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	FILE *f;
	unsigned long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	*ticks = ut + st;
	return 0;
}

/* nsess sessions, each a pair of peers; send for 'secs' seconds at full
 * speed in windows, count what comes back; report pkts per CPU-second of
 * the daemon. su < 0: plain RTP; else A leg SRTP with suite su. */
static int bench(struct ctl *c, int pid, int nsess, int secs, int su)
{
	struct sess *s = calloc((size_t)nsess, sizeof(*s));
	struct peer *pa = calloc((size_t)nsess, sizeof(*pa)), *pb = calloc((size_t)nsess, sizeof(*pb));
	struct msrtp **tx = calloc((size_t)nsess, sizeof(*tx));
	struct srtp_keys k;
	const benc_node *r;
	uint64_t t0, t1, c0, c1, sent = 0, recvd = 0;
	long hz = sysconf(_SC_CLK_TCK);
	uint8_t pkt[2048];
	char why[256];
	uint16_t seq = 0;

	CHECK(s && pa && pb && tx, "memory");
	keys_make(&k, su >= 0 ? (enum msrtp_suite)su : MSRTP_AES_CM_128_HMAC_SHA1_80, 7);
	for (int i = 0; i < nsess; i++) {
		CHECK(create(c, &s[i], NULL, 0, 0, true, why, sizeof(why)) == 0, "create: %s", why);
		CHECK(peer_open(&pa[i]) == 0 && peer_open(&pb[i]) == 0, "peers");
		CHECK(update(c, s[i].id, "a", pa[i].port, NULL, su >= 0 ? &k : NULL, NULL, &r) == 0 &&
			is_ok(r), "update a");
		CHECK(update(c, s[i].id, "b", pb[i].port, NULL, NULL, NULL, &r) == 0 && is_ok(r),
			"update b");
		if (su >= 0)
			CHECK((tx[i] = ctx_of(MSRTP_PROTECT, &k)) != NULL, "ctx");
	}
	CHECK(cpu_ticks(pid, &c0) == 0, "cannot read /proc/%d/stat", pid);
	t0 = now_ms();
	while (now_ms() - t0 < (uint64_t)secs * 1000u) {
		/* a window of 16 packets per session, then drain */
		for (int w = 0; w < 16; w++, seq++)
			for (int i = 0; i < nsess; i++) {
				size_t n = mk_rtp(pkt, seq, (uint32_t)i, 160, 0);
				if (tx[i])
					msrtp_protect_rtp(tx[i], pkt, &n, sizeof(pkt));
				peer_send(&pa[i], s[i].a_port, pkt, n);
				sent++;
			}
		for (int i = 0; i < nsess; i++)
			for (int w = 0; w < 16; w++) {
				if (peer_recv(&pb[i], pkt, sizeof(pkt), w == 0 ? 50 : 5, NULL) < 0)
					break;
				recvd++;
			}
	}
	t1 = now_ms();
	/* Collect what is still in flight, so 'loss' means lost. */
	for (int i = 0; i < nsess; i++)
		while (peer_recv(&pb[i], pkt, sizeof(pkt), 20, NULL) >= 0)
			recvd++;
	CHECK(cpu_ticks(pid, &c1) == 0, "cannot read /proc/%d/stat", pid);
	{
		double cpu = (double)(c1 - c0) / (double)hz;
		printf("bench %s: %d sessions, %.1f s: sent %" PRIu64 ", forwarded %" PRIu64
		       " (%.2f%% loss), %.0f pkts/s, daemon CPU %.2f s, %.0f pkts per CPU-second\n",
			su >= 0 ? msrtp_suite_name((enum msrtp_suite)su) : "plain RTP", nsess,
			(double)(t1 - t0) / 1000.0, sent, recvd,
			sent ? 100.0 * (double)(sent - recvd) / (double)sent : 0.0,
			(double)recvd * 1000.0 / (double)(t1 - t0), cpu,
			cpu > 0 ? (double)recvd / cpu : 0.0);
	}
	for (int i = 0; i < nsess; i++) {
		delete_sess(c, s[i].id);
		peer_close(&pa[i]);
		peer_close(&pb[i]);
		msrtp_free(tx[i]);
	}
	free(s);
	free(pa);
	free(pb);
	free(tx);
	return 0;
}

static long rss_kib(int pid)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Resident memory per session: nsess sessions with SRTP in and out on both
 * legs (4 contexts; plain with --suite none), one packet through each so
 * every SRTP stream exists. */
static int mem(struct ctl *c, int pid, int nsess, bool srtp)
{
	struct sess *s = calloc((size_t)nsess, sizeof(*s));
	struct srtp_keys k;
	struct msrtp *tx;
	struct peer pa, pb;
	const benc_node *r;
	uint8_t pkt[512];
	char why[256];
	long before, after;
	int fwd = 0;

	CHECK(s != NULL, "memory");
	keys_make(&k, MSRTP_AES_CM_128_HMAC_SHA1_80, 5);
	CHECK((tx = ctx_of(MSRTP_PROTECT, &k)) != NULL, "ctx");
	CHECK(peer_open(&pa) == 0 && peer_open(&pb) == 0, "peers");
	before = rss_kib(pid);
	for (int i = 0; i < nsess; i++) {
		size_t n;
		CHECK(create(c, &s[i], NULL, 0, 0, false, why, sizeof(why)) == 0, "create %d: %s", i, why);
		CHECK(update(c, s[i].id, "a", pa.port, NULL, srtp ? &k : NULL, srtp ? &k : NULL,
			&r) == 0 && is_ok(r), "update a");
		CHECK(update(c, s[i].id, "b", pb.port, NULL, srtp ? &k : NULL, srtp ? &k : NULL,
			&r) == 0 && is_ok(r), "update b");
		n = mk_rtp(pkt, (uint16_t)i, (uint32_t)i, 160, 0);
		if (srtp)
			msrtp_protect_rtp(tx, pkt, &n, sizeof(pkt));
		peer_send(&pa, s[i].a_port, pkt, n);
		if (peer_recv(&pb, pkt, sizeof(pkt), WAIT_MS, NULL) > 0)
			fwd++;
	}
	after = rss_kib(pid);
	printf("memory: %d sessions (%s): RSS %ld -> %ld KiB, "
	       "%.0f bytes per session; %d/%d packets forwarded\n", nsess,
		srtp ? "SRTP in+out on both legs, streams live" : "plain RTP", before, after,
		(double)(after - before) * 1024.0 / nsess, fwd, nsess);
	for (int i = 0; i < nsess; i++)
		delete_sess(c, s[i].id);
	msrtp_free(tx);
	peer_close(&pa);
	peer_close(&pb);
	free(s);
	return 0;
}

/* ---------------- main ---------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mtraffic --control PATH [--packets N] [--quick] [--exhaust]\n"
		"       mtraffic --control PATH --bench PID [--sessions N] [--seconds S] [--suite NAME]\n"
		"       mtraffic --control PATH --memory PID [--sessions N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "packets", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "exhaust", no_argument, NULL, 'x' },
		{ "bench", required_argument, NULL, 'b' },
		{ "memory", required_argument, NULL, 'm' },
		{ "sessions", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "suite", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *suite = NULL;
	int npkts = 200, quick = 0, exhaust = 0, bench_pid = 0, mem_pid = 0, nsess = 50, secs = 5, opt;
	struct ctl c;
	uint64_t deadline;
	int rc;

	while ((opt = getopt_long(argc, argv, "c:n:qxb:m:s:t:S:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': npkts = atoi(optarg); break;
		case 'q': quick = 1; break;
		case 'x': exhaust = 1; break;
		case 'b': bench_pid = atoi(optarg); break;
		case 'm': mem_pid = atoi(optarg); break;
		case 's': nsess = atoi(optarg); break;
		case 't': secs = atoi(optarg); break;
		case 'S': suite = optarg; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || npkts < 4 || nsess < 1 || secs < 1) {
		usage(stderr);
		return 2;
	}
	if (msrtp_global_init() < 0) {
		fprintf(stderr, "mtraffic: SRTP init failed\n");
		return 2;
	}
	/* The daemon may still be starting: retry the connect for 5 s. */
	deadline = now_ms() + 5000;
	while ((rc = ctl_open(&c, path)) < 0 && now_ms() < deadline)
		usleep(50000);
	if (rc < 0) {
		fprintf(stderr, "mtraffic: %s: %s\n", path, strerror(-rc));
		return 2;
	}
	if (mem_pid > 0) {
		mem(&c, mem_pid, nsess, !(suite && strcmp(suite, "none") == 0));
	} else if (bench_pid > 0) {
		int su = -1;
		if (suite) {
			enum msrtp_suite s;
			if (msrtp_suite_from_name(suite, strlen(suite), &s) < 0) {
				fprintf(stderr, "mtraffic: unknown suite %s\n", suite);
				return 2;
			}
			su = (int)s;
		}
		bench(&c, bench_pid, nsess, secs, su);
	} else {
		t_ping(&c);
		t_plain_latching(&c, npkts);
		t_strict(&c);
		for (int su = 0; su < MSRTP_SUITE_COUNT; su++) {
			t_srtp(&c, su, -1, quick ? 20 : 40);   /* SRTP <-> RTP */
			if (!quick)
				t_srtp(&c, -1, su, 20);        /* RTP <-> SRTP */
		}
		t_srtp(&c, MSRTP_AES_CM_128_HMAC_SHA1_80, MSRTP_AEAD_AES_256_GCM, 40);
		t_srtp(&c, MSRTP_AEAD_AES_128_GCM, MSRTP_AES_256_CM_HMAC_SHA1_32, 40);
		t_malformed(&c, -1);
		t_malformed(&c, MSRTP_AES_CM_128_HMAC_SHA1_80);
		t_malformed(&c, MSRTP_AEAD_AES_128_GCM);
		t_bad_requests(&c);
		t_list_stats(&c);
		t_client_crash(&c, path);
		if (exhaust)
			t_exhaustion(&c);
		t_timeout(&c, path);
	}
	ctl_close(&c);
	printf("mtraffic: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
