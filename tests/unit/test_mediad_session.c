/* msess: the per-packet logic of a media session, driven directly (no
 * sockets): forwarding and its direction, RTCP routing, latching (plain and
 * SRTP, strict and not), drops with counters, SRTP<->RTP per suite, and
 * leg updates. Sockets are fake descriptor numbers: msess_packet only says
 * which one to send from. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"
#include "session.h"

enum { A_RTP = 100, A_RTCP = 101, B_RTP = 102, B_RTCP = 103 };

static union maddr addr4(const char *ip, uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1);
	return a;
}

static struct msess *mk(void)
{
	struct msess *s;

	ck_assert_int_eq(msess_new(7, "call-1@x", 1000, &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET, 20000, A_RTP, A_RTCP);
	msess_leg_set_sockets(s, 1, AF_INET, 20002, B_RTP, B_RTCP);
	return s;
}

static void set_remote(struct msess *s, int leg, union maddr a)
{
	struct mleg_update u;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_REMOTE;
	u.remote = a;
	msess_leg_apply(s, leg, &u, 1000);
}

static void set_latch(struct msess *s, int leg, enum mleg_latch l)
{
	struct mleg_update u;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_LATCH;
	u.latch = l;
	msess_leg_apply(s, leg, &u, 1000);
}

/* RTP packet: V=2, PT 0, seq, ts, ssrc, then n payload bytes of a pattern. */
static size_t rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t n)
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
	for (size_t i = 0; i < n; i++)
		b[12 + i] = (uint8_t)(seq * 7 + i);
	return 12 + n;
}

/* RTCP receiver report with no blocks (8 bytes). */
static size_t rtcp_rr(uint8_t *b, uint32_t ssrc)
{
	b[0] = 0x80;
	b[1] = 201;
	b[2] = 0;
	b[3] = 1;
	b[4] = (uint8_t)(ssrc >> 24);
	b[5] = (uint8_t)(ssrc >> 16);
	b[6] = (uint8_t)(ssrc >> 8);
	b[7] = (uint8_t)ssrc;
	return 8;
}

START_TEST(test_plain_forward_both_ways)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	uint8_t buf[2048], ref[2048];
	size_t len, n;
	struct mfwd f;

	set_remote(s, 0, pa);
	set_remote(s, 1, pb);
	n = len = rtp(buf, 1, 0x11223344, 160);
	memcpy(ref, buf, len);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(f.fd, B_RTP);
	ck_assert(maddr_eq(f.dst, &pb));
	ck_assert_uint_eq(f.dstlen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(buf, ref, n);

	len = rtp(buf, 9, 0x55, 20);
	ck_assert_int_eq(msess_packet(s, &s->leg[1].rtp, &pb, buf, &len, sizeof(buf), 2500, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(f.fd, A_RTP);
	ck_assert(maddr_eq(f.dst, &pa));

	ck_assert_uint_eq(s->leg[0].st.pkts_in, 1);
	ck_assert_uint_eq(s->leg[0].st.bytes_in, n);
	ck_assert_uint_eq(s->leg[1].st.pkts_out, 1);
	ck_assert_uint_eq(s->leg[1].st.bytes_out, n);
	ck_assert_uint_eq(s->leg[1].st.pkts_in, 1);
	ck_assert_uint_eq(s->leg[0].st.pkts_out, 1);
	ck_assert_uint_eq(s->leg[0].st.last_ms, 2000);
	ck_assert_uint_eq(msess_last_activity(s), 2500);
	msess_free(s);
}
END_TEST

START_TEST(test_rtcp_routes_to_rtcp_port_and_mux)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	union maddr pb_rtcp = addr4("127.0.0.2", 6001);
	union maddr pa_rtcp = addr4("127.0.0.1", 4001);
	uint8_t buf[256];
	size_t len;
	struct mfwd f;
	struct mleg_update u;

	set_remote(s, 0, pa);
	set_remote(s, 1, pb);
	len = rtcp_rr(buf, 1);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtcp, &pa_rtcp, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(f.fd, B_RTCP);
	ck_assert(maddr_eq(f.dst, &pb_rtcp));

	/* B muxes: RTCP goes from B's RTP socket to B's RTP address. */
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_MUX;
	u.rtcp_mux = true;
	msess_leg_apply(s, 1, &u, 1000);
	len = rtcp_rr(buf, 1);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtcp, &pa_rtcp, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(f.fd, B_RTP);
	ck_assert(maddr_eq(f.dst, &pb));

	/* RTCP arriving muxed on B's RTP port goes to A's RTCP side. */
	len = rtcp_rr(buf, 2);
	ck_assert_int_eq(msess_packet(s, &s->leg[1].rtp, &pb, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(f.fd, A_RTCP);
	ck_assert_uint_eq(ntohs(f.dst->in.sin_port), 4001);
	msess_free(s);
}
END_TEST

START_TEST(test_drops_garbage_and_no_remote)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000);
	uint8_t buf[64] = { 0x80, 0 };
	size_t len;
	struct mfwd f;

	len = 11; /* shorter than an RTP header */
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_PARSE);
	len = rtp(buf, 1, 1, 4);
	buf[0] = 0x40; /* version 1 */
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_PARSE);
	ck_assert_uint_eq(s->leg[0].st.parse_err, 2);
	ck_assert_uint_eq(s->leg[0].st.pkts_in, 0);
	/* B has no remote yet: counted on B, not sent. */
	len = rtp(buf, 1, 1, 4);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_NOREMOTE);
	ck_assert_uint_eq(s->leg[1].st.no_remote, 1);
	ck_assert_uint_eq(s->leg[1].st.pkts_out, 0);
	msess_free(s);
}
END_TEST

START_TEST(test_latching_learns_first_source)
{
	struct msess *s = mk();
	union maddr sdp_a = addr4("10.0.0.1", 4000);   /* from SDP, behind NAT */
	union maddr real_a = addr4("127.0.0.9", 33333); /* where it really comes from */
	union maddr other = addr4("127.0.0.66", 1234);
	union maddr pb = addr4("127.0.0.2", 6000);
	uint8_t buf[256];
	size_t len;
	struct mfwd f;

	set_remote(s, 0, sdp_a);
	set_remote(s, 1, pb);
	len = rtp(buf, 1, 1, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &real_a, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert(s->leg[0].latched_rtp);
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &real_a));
	/* RTCP is assumed next to the latched RTP until it shows up itself. */
	ck_assert_uint_eq(ntohs(s->leg[0].remote_rtcp.in.sin_port), 33334);
	/* B -> A now goes to the latched address. */
	len = rtp(buf, 1, 2, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[1].rtp, &pb, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert(maddr_eq(f.dst, &real_a));
	/* Not strict: a stranger is counted but forwarded, and does not re-latch. */
	len = rtp(buf, 2, 1, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &other, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_uint_eq(s->leg[0].st.src_mismatch, 1);
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &real_a));
	/* A new remote from the control plane forgets the latch. */
	set_remote(s, 0, sdp_a);
	ck_assert(!s->leg[0].latched_rtp);
	msess_free(s);
}
END_TEST

START_TEST(test_strict_latching_drops_strangers)
{
	struct msess *s = mk();
	union maddr real_a = addr4("127.0.0.9", 33333);
	union maddr other = addr4("127.0.0.66", 1234);
	union maddr pb = addr4("127.0.0.2", 6000);
	uint8_t buf[256];
	size_t len;
	struct mfwd f;

	set_latch(s, 0, MLEG_LATCH_STRICT);
	set_remote(s, 1, pb);
	len = rtp(buf, 1, 1, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &real_a, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	len = rtp(buf, 2, 1, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &other, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_SOURCE);
	ck_assert_uint_eq(s->leg[0].st.src_mismatch, 1);
	ck_assert_uint_eq(s->leg[0].st.pkts_in, 1);
	ck_assert_uint_eq(s->leg[1].st.pkts_out, 1);
	msess_free(s);
}
END_TEST

START_TEST(test_latch_off_uses_control_plane_address)
{
	struct msess *s = mk();
	union maddr sdp_a = addr4("127.0.0.1", 4000);
	union maddr other = addr4("127.0.0.66", 1234);
	union maddr pb = addr4("127.0.0.2", 6000);
	uint8_t buf[256];
	size_t len;
	struct mfwd f;

	set_latch(s, 0, MLEG_LATCH_OFF);
	set_remote(s, 0, sdp_a);
	set_remote(s, 1, pb);
	len = rtp(buf, 1, 1, 10);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &other, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert(!s->leg[0].latched_rtp);
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &sdp_a));
	ck_assert_uint_eq(s->leg[0].st.src_mismatch, 1);
	msess_free(s);
}
END_TEST

/* --- SRTP --- */

static void key_for(enum msrtp_suite su, uint8_t seed, uint8_t *key, uint8_t *salt)
{
	for (size_t i = 0; i < msrtp_key_len(su); i++)
		key[i] = (uint8_t)(seed + i * 3);
	for (size_t i = 0; i < msrtp_salt_len(su); i++)
		salt[i] = (uint8_t)(seed ^ (i * 11));
}

static struct msrtp *ctx(enum msrtp_dir d, enum msrtp_suite su, uint8_t seed)
{
	uint8_t key[32], salt[14];
	struct msrtp_params p;
	struct msrtp *c = NULL;

	key_for(su, seed, key, salt);
	memset(&p, 0, sizeof(p));
	p.suite = su;
	p.key = key;
	p.salt = salt;
	ck_assert_int_eq(msrtp_new(d, &p, &c), 0);
	return c;
}

/* Leg A speaks SRTP with 'su' (A.in = peer's key 0x10, A.out = ours 0x20);
 * leg B is plain. The test plays both peers. */
static void srtp_a_plain_b(enum msrtp_suite su)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	union maddr spoof = addr4("127.0.0.66", 4000);
	struct msrtp *peer_a_tx = ctx(MSRTP_PROTECT, su, 0x10);
	struct msrtp *peer_a_rx = ctx(MSRTP_UNPROTECT, su, 0x20);
	struct mleg_update u;
	uint8_t buf[2048], ref[2048], keep[2048];
	size_t len, n, klen;
	struct mfwd f;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_IN | MLEG_SET_OUT | MLEG_SET_LATCH;
	u.in = ctx(MSRTP_UNPROTECT, su, 0x10);
	u.out = ctx(MSRTP_PROTECT, su, 0x20);
	u.latch = MLEG_LATCH_STRICT;
	msess_leg_apply(s, 0, &u, 1000);
	ck_assert_ptr_null(u.in);
	set_remote(s, 1, pb);

	/* A -> B: SRTP in, RTP out, byte-exact. */
	for (uint16_t seq = 1; seq <= 5; seq++) {
		n = len = rtp(buf, seq, 0xabcdef01, 160);
		memcpy(ref, buf, n);
		ck_assert_int_eq(msrtp_protect_rtp(peer_a_tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + msrtp_rtp_tag_len(su));
		if (seq == 3) {
			memcpy(keep, buf, len);
			klen = len;
		}
		/* A spoofed copy from elsewhere, first: it must not latch. */
		if (seq == 1) {
			uint8_t fake[2048];
			size_t fl = len;
			memcpy(fake, buf, len);
			fake[20] ^= 1;
			ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &spoof, fake, &fl,
				sizeof(fake), 2000, &f), MSESS_DROP_AUTH);
			ck_assert(!s->leg[0].latched_rtp);
		}
		ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf),
			2000, &f), MSESS_FORWARD);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(buf, ref, n);
		ck_assert_int_eq(f.fd, B_RTP);
	}
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &pa));
	ck_assert_uint_eq(s->leg[0].st.auth_fail, 1);
	/* Replay of seq 3: dropped and counted, not forwarded. */
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, keep, &klen, sizeof(keep),
		2000, &f), MSESS_DROP_REPLAY);
	ck_assert_uint_eq(s->leg[0].st.replay, 1);
	/* Tampered from the latched source: auth failure. */
	len = rtp(buf, 6, 0xabcdef01, 160);
	ck_assert_int_eq(msrtp_protect_rtp(peer_a_tx, buf, &len, sizeof(buf)), MSRTP_OK);
	buf[len - 1] ^= 0x80;
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_AUTH);
	ck_assert_uint_eq(s->leg[0].st.auth_fail, 2);
	ck_assert_uint_eq(s->leg[1].st.pkts_out, 5);

	/* B -> A: RTP in, SRTP out; the peer can unprotect it; SSRC change. */
	for (uint16_t seq = 1; seq <= 4; seq++) {
		uint32_t ssrc = seq <= 2 ? 0x1111 : 0x2222;
		n = len = rtp(buf, seq, ssrc, 80);
		memcpy(ref, buf, n);
		ck_assert_int_eq(msess_packet(s, &s->leg[1].rtp, &pb, buf, &len, sizeof(buf),
			2000, &f), MSESS_FORWARD);
		ck_assert_uint_eq(len, n + msrtp_rtp_tag_len(su));
		ck_assert_int_eq(f.fd, A_RTP);
		ck_assert_int_eq(msrtp_unprotect_rtp(peer_a_rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(buf, ref, n);
	}
	/* SRTCP both ways. */
	n = len = rtcp_rr(buf, 0xabcdef01);
	memcpy(ref, buf, n);
	ck_assert_int_eq(msrtp_protect_rtcp(peer_a_tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtcp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(buf, ref, n);
	ck_assert_int_eq(f.fd, B_RTCP);
	n = len = rtcp_rr(buf, 0x1111);
	memcpy(ref, buf, n);
	ck_assert_int_eq(msess_packet(s, &s->leg[1].rtcp, &pb, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_int_eq(msrtp_unprotect_rtcp(peer_a_rx, buf, &len), MSRTP_OK);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(buf, ref, n);

	msrtp_free(peer_a_tx);
	msrtp_free(peer_a_rx);
	msess_free(s);
}

START_TEST(test_srtp_per_suite)
{
	/* A suite this libsrtp build cannot do right is refused by msrtp
	 * (AES-192 with Debian's libsrtp2): nothing to test then. */
	if (!msrtp_suite_supported((enum msrtp_suite)_i))
		return;
	srtp_a_plain_b((enum msrtp_suite)_i);
}
END_TEST

START_TEST(test_srtp_to_srtp_rekeyed)
{
	/* A: AES_CM_128_80, B: AEAD_AES_256_GCM; B.out is replaced mid-call. */
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	struct msrtp *a_tx = ctx(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, 1);
	struct msrtp *b_rx = ctx(MSRTP_UNPROTECT, MSRTP_AEAD_AES_256_GCM, 2);
	struct msrtp *b_rx2 = ctx(MSRTP_UNPROTECT, MSRTP_AEAD_AES_256_GCM, 3);
	struct mleg_update u;
	uint8_t buf[2048], ref[2048];
	size_t len, n;
	struct mfwd f;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_IN;
	u.in = ctx(MSRTP_UNPROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, 1);
	/* An unflagged context in the update is freed, not leaked (ASan). */
	u.out = ctx(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, 9);
	msess_leg_apply(s, 0, &u, 1000);
	ck_assert_ptr_null(s->leg[0].out);
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_OUT | MLEG_SET_REMOTE;
	u.out = ctx(MSRTP_PROTECT, MSRTP_AEAD_AES_256_GCM, 2);
	u.remote = pb;
	msess_leg_apply(s, 1, &u, 1000);

	for (uint16_t seq = 1; seq <= 4; seq++) {
		if (seq == 3) {
			memset(&u, 0, sizeof(u));
			u.set = MLEG_SET_OUT;
			u.out = ctx(MSRTP_PROTECT, MSRTP_AEAD_AES_256_GCM, 3);
			msess_leg_apply(s, 1, &u, 1000);
		}
		n = len = rtp(buf, seq, 77, 100);
		memcpy(ref, buf, n);
		ck_assert_int_eq(msrtp_protect_rtp(a_tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf),
			2000, &f), MSESS_FORWARD);
		ck_assert_int_eq(msrtp_unprotect_rtp(seq < 3 ? b_rx : b_rx2, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(buf, ref, n);
	}
	msrtp_free(a_tx);
	msrtp_free(b_rx);
	msrtp_free(b_rx2);
	msess_free(s);
}
END_TEST

START_TEST(test_maddr_helpers)
{
	union maddr a = addr4("127.0.0.1", 5), b = addr4("127.0.0.1", 6), c;
	struct sockaddr_in6 s6;
	char buf[64];

	ck_assert(!maddr_eq(&a, &b));
	ck_assert_str_eq(maddr_str(&a, buf, sizeof(buf)), "127.0.0.1:5");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(9);
	s6.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(maddr_from(&c, (struct sockaddr *)&s6, sizeof(s6)), 0);
	ck_assert_uint_eq(maddr_len(&c), sizeof(s6));
	ck_assert_str_eq(maddr_str(&c, buf, sizeof(buf)), "[::1]:9");
	ck_assert_int_eq(maddr_from(&c, (struct sockaddr *)&s6, 8), -EAFNOSUPPORT);
	memset(&c, 0, sizeof(c));
	ck_assert_uint_eq(maddr_len(&c), 0);
}
END_TEST

/* Loss of received RTP, RFC 3550 A.3: each row feeds packets (ssrc, seq) to
 * leg 0 through msess_packet and gives packets-lost after each one. */
static const struct {
	const char *name;
	int n;
	struct { uint32_t ssrc; uint16_t seq; uint64_t lost; } p[8];
} loss_cases[] = {
	{ "in order", 4, { { 1, 1, 0 }, { 1, 2, 0 }, { 1, 3, 0 }, { 1, 4, 0 } } },
	{ "gap of 3", 4, { { 1, 10, 0 }, { 1, 11, 0 }, { 1, 15, 3 }, { 1, 16, 3 } } },
	{ "reordering takes the loss back", 4,
	  { { 1, 1, 0 }, { 1, 3, 1 }, { 1, 2, 0 }, { 1, 4, 0 } } },
	{ "duplicate never goes negative", 5,
	  { { 1, 1, 0 }, { 1, 2, 0 }, { 1, 2, 0 }, { 1, 1, 0 }, { 1, 3, 0 } } },
	{ "wrap 65535 -> 0", 5,
	  { { 1, 65534, 0 }, { 1, 65535, 0 }, { 1, 0, 0 }, { 1, 2, 1 }, { 1, 3, 1 } } },
	{ "gap across the wrap", 2, { { 1, 65533, 0 }, { 1, 1, 3 } } },
	{ "SSRC change keeps the old loss, starts anew", 5,
	  { { 1, 1, 0 }, { 1, 3, 1 }, { 2, 500, 1 }, { 2, 501, 1 }, { 2, 504, 3 } } },
	{ "a stray big jump is ignored", 4,
	  { { 1, 1, 0 }, { 1, 2, 0 }, { 1, 9000, 0 }, { 1, 3, 0 } } },
	{ "a confirmed big jump restarts the run", 5,
	  { { 1, 1, 0 }, { 1, 2, 0 }, { 1, 9000, 0 }, { 1, 9001, 0 }, { 1, 9003, 1 } } },
};

START_TEST(test_rtp_loss_table)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	uint8_t buf[256];
	size_t len;
	struct mfwd f;

	set_remote(s, 0, pa);
	set_remote(s, 1, pb);
	for (int i = 0; i < loss_cases[_i].n; i++) {
		len = rtp(buf, loss_cases[_i].p[i].seq, loss_cases[_i].p[i].ssrc, 20);
		ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf),
			2000, &f), MSESS_FORWARD);
		ck_assert_msg(s->leg[0].st.lost == loss_cases[_i].p[i].lost,
			"%s: packet %d: lost %llu, want %llu", loss_cases[_i].name, i,
			(unsigned long long)s->leg[0].st.lost,
			(unsigned long long)loss_cases[_i].p[i].lost);
	}
	ck_assert_uint_eq(s->leg[1].st.lost, 0); /* the other direction saw nothing */
	msess_free(s);
}
END_TEST

/* RTCP does not feed the tracker; packets failing SRTP authentication do
 * not either; a resync (kernel took the leg) keeps the loss so far and
 * does not count the gap it leaves. */
START_TEST(test_rtp_loss_only_accepted_rtp)
{
	struct msess *s = mk();
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	union maddr pa_rtcp = addr4("127.0.0.1", 4001);
	uint8_t buf[256];
	struct msrtp *tx;
	struct mleg_update u;
	size_t len;
	struct mfwd f;

	set_remote(s, 0, pa);
	set_remote(s, 1, pb);
	len = rtp(buf, 100, 7, 20);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	len = rtcp_rr(buf, 7);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtcp, &pa_rtcp, buf, &len, sizeof(buf),
		2000, &f), MSESS_FORWARD);
	len = rtp(buf, 102, 7, 20);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_uint_eq(s->leg[0].st.lost, 1);

	mstats_seq_resync(&s->leg[0].seq);
	len = rtp(buf, 2000, 7, 20);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_uint_eq(s->leg[0].st.lost, 1);

	/* SRTP in on leg 0: a forged packet far ahead must not move max_seq. */
	tx = ctx(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, 0x10);
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_IN;
	u.in = ctx(MSRTP_UNPROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, 0x10);
	msess_leg_apply(s, 0, &u, 1000);
	len = rtp(buf, 2001, 7, 20);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	len = rtp(buf, 2010, 7, 20);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	buf[len - 1] ^= 1;
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_AUTH);
	len = rtp(buf, 2002, 7, 20);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert_uint_eq(s->leg[0].st.lost, 1);
	msrtp_free(tx);
	msess_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_session");
	TCase *tc = tcase_create("session");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_plain_forward_both_ways);
	tcase_add_test(tc, test_rtcp_routes_to_rtcp_port_and_mux);
	tcase_add_test(tc, test_drops_garbage_and_no_remote);
	tcase_add_test(tc, test_latching_learns_first_source);
	tcase_add_test(tc, test_strict_latching_drops_strangers);
	tcase_add_test(tc, test_latch_off_uses_control_plane_address);
	tcase_add_loop_test(tc, test_srtp_per_suite, 0, MSRTP_SUITE_COUNT);
	tcase_add_test(tc, test_srtp_to_srtp_rekeyed);
	tcase_add_test(tc, test_maddr_helpers);
	tcase_add_loop_test(tc, test_rtp_loss_table, 0,
		(int)(sizeof(loss_cases) / sizeof(loss_cases[0])));
	tcase_add_test(tc, test_rtp_loss_only_accepted_rtp);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
