/* mrtp (mediad/rtpcheck.h): RTP/RTCP header consistency, as a table of
 * valid and invalid headers with the reason each is refused; then the same
 * rule in the packet path (msess_packet): on a plain leg and on an SRTP leg
 * every malformed kind is dropped and counted in 'malformed' (no latch, no
 * other counter moves), and valid packets with CSRCs, RFC 8285 one- and
 * two-byte extensions, padding, RFC 4733 events and compound RTCP are
 * forwarded byte-exact. Sockets are fake descriptor numbers. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"
#include "rtpcheck.h"
#include "session.h"

enum { A_RTP = 100, A_RTCP = 101, B_RTP = 102, B_RTCP = 103 };

/* Fixed RTP header bytes after the first: PT 0, seq 1, ts 0, SSRC 0x11223344. */
#define FIX "\x00\x00\x01\x00\x00\x00\x00\x11\x22\x33\x44"
#define CSRC "\xc5\xc5\xc5\xc5"

struct pcase {
	const char *name;
	const char *pkt;
	size_t len;
	int want;      /* header length (RTP, >0), MRTP_OK (RTCP) or an error */
	int want_full; /* mrtp_check(): MRTP_OK or an error (RTP) */
};
#define P(s) s, sizeof(s) - 1

static const struct pcase rtp_cases[] = {
	{ "fixed header only", P("\x80" FIX), 12, MRTP_OK },
	{ "payload", P("\x80" FIX "abcd"), 12, MRTP_OK },
	{ "RFC 4733 event, marker", P("\x80\xe5\x00\x01\x00\x00\x00\x00\x11\x22\x33\x44"
		"\x05\x0a\x00\xa0"), 12, MRTP_OK },
	{ "2 CSRCs", P("\x82" FIX CSRC CSRC "ab"), 20, MRTP_OK },
	{ "15 CSRCs, nothing after", P("\x8f" FIX CSRC CSRC CSRC CSRC CSRC CSRC CSRC CSRC CSRC
		CSRC CSRC CSRC CSRC CSRC CSRC), 72, MRTP_OK },
	{ "one-byte extension (RFC 8285)", P("\x90" FIX "\xbe\xde\x00\x01\x10\xff\x00\x00" "ab"),
		20, MRTP_OK },
	{ "two-byte extension (RFC 8285)", P("\x90" FIX "\x10\x00\x00\x02\x01\x02\xaa\xbb"
		"\x00\x00\x00\x00" "ab"), 24, MRTP_OK },
	{ "extension of length 0", P("\x90" FIX "\xbe\xde\x00\x00"), 16, MRTP_OK },
	{ "CSRC and extension", P("\x91" FIX CSRC "\xbe\xde\x00\x01\x10\xff\x00\x00"), 24, MRTP_OK },
	{ "padding 1", P("\xa0" FIX "abc\x01"), 12, MRTP_OK },
	{ "padding = whole payload", P("\xa0" FIX "\x00\x00\x00\x04"), 12, MRTP_OK },
	{ "padding after CSRC and extension", P("\xb1" FIX CSRC "\xbe\xde\x00\x01\x10\xff\x00\x00"
		"x\x00\x02"), 24, MRTP_OK },

	{ "11 bytes", P("\x80\x00\x00\x01\x00\x00\x00\x00\x11\x22\x33"), MRTP_E_SHORT,
		MRTP_E_SHORT },
	{ "version 0 (STUN-like)", P("\x00" FIX "abcd"), MRTP_E_VERSION, MRTP_E_VERSION },
	{ "version 1", P("\x40" FIX "abcd"), MRTP_E_VERSION, MRTP_E_VERSION },
	{ "version 3", P("\xc0" FIX "abcd"), MRTP_E_VERSION, MRTP_E_VERSION },
	{ "CC 1, no CSRC", P("\x81" FIX), MRTP_E_CSRC, MRTP_E_CSRC },
	{ "CC 15 in 20 bytes", P("\x8f" FIX CSRC CSRC), MRTP_E_CSRC, MRTP_E_CSRC },
	{ "CC 2, one CSRC and 3 bytes", P("\x82" FIX CSRC "abc"), MRTP_E_CSRC, MRTP_E_CSRC },
	{ "X, no extension header", P("\x90" FIX), MRTP_E_EXT, MRTP_E_EXT },
	{ "X, half an extension header", P("\x90" FIX "\xbe\xde"), MRTP_E_EXT, MRTP_E_EXT },
	{ "X, length 1 word, none there", P("\x90" FIX "\xbe\xde\x00\x01"), MRTP_E_EXT,
		MRTP_E_EXT },
	{ "X, length 5 words, 2 there", P("\x90" FIX "\xbe\xde\x00\x05" "abcdefgh"), MRTP_E_EXT,
		MRTP_E_EXT },
	{ "X, length 0xffff", P("\x90" FIX "\x10\x00\xff\xff" "abcdefgh"), MRTP_E_EXT, MRTP_E_EXT },
	{ "X after CC 1, extension missing", P("\x91" FIX CSRC), MRTP_E_EXT, MRTP_E_EXT },
	{ "padding count 0", P("\xa0" FIX "abc\x00"), 12, MRTP_E_PAD },
	{ "padding count past the payload", P("\xa0" FIX "a\x03"), 12, MRTP_E_PAD },
	{ "padding into the CSRCs", P("\xa1" FIX CSRC "\x00\x03"), 16, MRTP_E_PAD },
	{ "padding into the extension", P("\xb0" FIX "\xbe\xde\x00\x01\x10\xff\x00\x00" "\x05"), 20,
		MRTP_E_PAD },
	{ "P set, no payload", P("\xa0" FIX), 12, MRTP_E_PAD },
	{ "padding 255 in a short packet", P("\xa0" FIX "abc\xff"), 12, MRTP_E_PAD },
};

/* RR (8), SDES with one CNAME chunk (12), BYE (8). */
#define RR "\x80\xc9\x00\x01\x11\x22\x33\x44"
#define SDES "\x81\xca\x00\x02\x11\x22\x33\x44\x01\x01" "a" "\x00"
#define BYE "\x81\xcb\x00\x01\x11\x22\x33\x44"

static const struct pcase rtcp_cases[] = {
	{ "RR", P(RR), MRTP_OK, 0 },
	{ "RR + SDES + BYE", P(RR SDES BYE), MRTP_OK, 0 },
	{ "SR, 1 report block, SDES", P("\x81\xc8\x00\x0c" "\x11\x22\x33\x44" "12345678" "abcd"
		"pppp" "oooo" "\x55\x66\x77\x88" "\x00\x00\x00\x01" "\x00\x00\x00\x02" "jjjj" "lsr."
		"dlsr" SDES), MRTP_OK, 0 },
	{ "RFC 5506 reduced-size (a lone PSFB)", P("\x81\xce\x00\x02\x11\x22\x33\x44"
		"\x55\x66\x77\x88"), MRTP_OK, 0 },
	{ "padding on the last packet", P(RR "\xa1\xcb\x00\x02\x11\x22\x33\x44\x00\x00\x00\x04"),
		MRTP_OK, 0 },

	{ "3 bytes", P("\x80\xc9\x00"), MRTP_E_SHORT, 0 },
	{ "version 1", P("\x40\xc9\x00\x01\x11\x22\x33\x44"), MRTP_E_VERSION, 0 },
	{ "length 2 in 8 bytes", P("\x80\xc9\x00\x02\x11\x22\x33\x44"), MRTP_E_RTCP_LEN, 0 },
	{ "length 0xffff", P("\x80\xc9\xff\xff\x11\x22\x33\x44"), MRTP_E_RTCP_LEN, 0 },
	{ "RR + 2 trailing bytes", P(RR "\x80\xca"), MRTP_E_RTCP_LEN, 0 },
	{ "RR + 4 zero bytes", P(RR "\x00\x00\x00\x00"), MRTP_E_VERSION, 0 },
	{ "second packet runs past the end", P(RR "\x81\xca\x00\x05\x11\x22\x33\x44"),
		MRTP_E_RTCP_LEN, 0 },
	{ "second packet version 3", P(RR "\xc1\xcb\x00\x01\x11\x22\x33\x44"), MRTP_E_VERSION, 0 },
};

START_TEST(test_rtp_table)
{
	const struct pcase *c = &rtp_cases[_i];
	uint8_t *b = malloc(c->len); /* exactly len: ASan sees a read past it */
	int h;

	memcpy(b, c->pkt, c->len);
	h = mrtp_hdr_len(b, c->len);
	ck_assert_msg(h == c->want, "%s: header %d (%s), want %d", c->name, h,
		h < 0 ? mrtp_check_name(h) : "len", c->want);
	h = mrtp_check(b, c->len);
	ck_assert_msg(h == c->want_full, "%s: check %s, want %s", c->name, mrtp_check_name(h),
		mrtp_check_name(c->want_full));
	free(b);
}
END_TEST

START_TEST(test_rtcp_table)
{
	const struct pcase *c = &rtcp_cases[_i];
	uint8_t *b = malloc(c->len);
	int rc;

	memcpy(b, c->pkt, c->len);
	rc = mrtp_rtcp_check(b, c->len);
	ck_assert_msg(rc == c->want, "%s: %s, want %s", c->name, mrtp_check_name(rc),
		mrtp_check_name(c->want));
	free(b);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(mrtp_check_name(MRTP_E_CSRC), "csrc-count");
	ck_assert_str_eq(mrtp_check_name(MRTP_E_EXT), "extension-length");
	ck_assert_str_eq(mrtp_check_name(MRTP_E_PAD), "padding");
	ck_assert_str_eq(mrtp_check_name(MRTP_E_RTCP_LEN), "rtcp-length");
	ck_assert_str_eq(mrtp_check_name(-99), "?");
	ck_assert_str_eq(msess_verdict_name(MSESS_DROP_MALFORMED), "malformed");
}
END_TEST

/* ---------------- the packet path ---------------- */

static union maddr addr4(const char *ip, uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1);
	return a;
}

static struct msrtp *ctx(enum msrtp_dir d, uint8_t seed)
{
	uint8_t key[16], salt[14];
	struct msrtp_params p;
	struct msrtp *c = NULL;

	memset(key, seed, sizeof(key));
	memset(salt, seed ^ 0x5a, sizeof(salt));
	memset(&p, 0, sizeof(p));
	p.suite = MSRTP_AES_CM_128_HMAC_SHA1_80;
	p.key = key;
	p.salt = salt;
	ck_assert_int_eq(msrtp_new(d, &p, &c), 0);
	return c;
}

/* A session with both remotes set; leg A speaks SRTP (AES_CM_128_HMAC_SHA1_80,
 * peer key 0x10, ours 0x20) when srtp. */
static struct msess *mk(bool srtp, union maddr pa, union maddr pb)
{
	struct msess *s;
	struct mleg_update u;

	ck_assert_int_eq(msess_new(9, "rtpcheck", 1000, &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET, 20000, A_RTP, A_RTCP);
	msess_leg_set_sockets(s, 1, AF_INET, 20002, B_RTP, B_RTCP);
	for (int i = 0; i < 2; i++) {
		memset(&u, 0, sizeof(u));
		u.set = MLEG_SET_REMOTE;
		u.remote = i ? pb : pa;
		if (srtp && i == 0) {
			u.set |= MLEG_SET_IN | MLEG_SET_OUT;
			u.in = ctx(MSRTP_UNPROTECT, 0x10);
			u.out = ctx(MSRTP_PROTECT, 0x20);
		}
		msess_leg_apply(s, i, &u, 1000);
	}
	return s;
}

static uint64_t other_drops(const struct mstats_leg *st)
{
	return st->parse_err + st->auth_fail + st->replay + st->no_remote + st->protect_err;
}

/* RTP cases that pass / fail, sent from A's peer (protected with its key
 * when A is SRTP) then, plain, from B's peer toward A (protected by mediad
 * when A is SRTP). Each valid one comes out byte-exact on the other side;
 * each invalid one is dropped on its arrival leg and counted as malformed. */
static void run_rtp_cases(bool srtp)
{
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	struct msess *s = mk(srtp, pa, pb);
	struct msrtp *peer_tx = srtp ? ctx(MSRTP_PROTECT, 0x10) : NULL;
	struct msrtp *peer_rx = srtp ? ctx(MSRTP_UNPROTECT, 0x20) : NULL;
	uint64_t bad_a = 0, bad_b = 0, good_a = 0, good_b = 0;
	uint16_t seq = 1;

	for (size_t i = 0; i < sizeof(rtp_cases) / sizeof(rtp_cases[0]); i++) {
		const struct pcase *c = &rtp_cases[i];
		bool bad = c->want_full != MRTP_OK;
		uint8_t ref[256], buf[256 + MSRTP_TRAILER_ROOM];
		size_t len = c->len;
		struct mfwd f;
		int v;

		/* Not-RTP-at-all cases are parse errors, covered elsewhere. */
		if (c->want_full == MRTP_E_SHORT || c->want_full == MRTP_E_VERSION)
			continue;
		memcpy(ref, c->pkt, c->len);
		ref[2] = (uint8_t)(seq >> 8); /* fresh index per packet for SRTP */
		ref[3] = (uint8_t)seq++;

		/* A -> B */
		memcpy(buf, ref, len);
		if (srtp) {
			if (c->want < 0) {
				/* libsrtp will not protect a header past the end:
				 * protect a sane one, then break its clear-text
				 * header as a hostile sender would. */
				uint8_t ok[16] = { 0x80, 0, ref[2], ref[3], 0, 0, 0, 0, 0x11, 0x22,
					0x33, 0x44, 1, 2, 3, 4 };
				memcpy(buf, ok, sizeof(ok));
				len = sizeof(ok);
				ck_assert_int_eq(msrtp_protect_rtp(peer_tx, buf, &len, sizeof(buf)),
					MSRTP_OK);
				/* Past the end of the whole SRTP packet, tag
				 * included: 15 CSRCs, or an extension header of
				 * at least 0x1000 words. */
				buf[0] = c->want == MRTP_E_CSRC ? 0x8f : ref[0];
				if (c->want == MRTP_E_EXT)
					buf[12 + 4 * (buf[0] & 0x0f) + 2] = 0x10;
			} else {
				ck_assert_int_eq(msrtp_protect_rtp(peer_tx, buf, &len, sizeof(buf)),
					MSRTP_OK);
			}
		}
		v = msess_packet(s, &s->leg[0].rtp, &pa, buf, &len, sizeof(buf), 2000, &f);
		if (bad) {
			ck_assert_msg(v == MSESS_DROP_MALFORMED, "%s A->B (srtp %d): %s", c->name,
				srtp, msess_verdict_name((enum msess_verdict)v));
			bad_a++;
		} else {
			ck_assert_msg(v == MSESS_FORWARD, "%s A->B (srtp %d): %s", c->name, srtp,
				msess_verdict_name((enum msess_verdict)v));
			ck_assert_uint_eq(len, c->len);
			ck_assert_msg(memcmp(buf, ref, len) == 0, "%s A->B: not byte-exact", c->name);
			ck_assert_int_eq(f.fd, B_RTP);
			good_a++;
		}

		/* B -> A: plain in; protected toward A when it is SRTP. */
		len = c->len;
		memcpy(buf, ref, len);
		v = msess_packet(s, &s->leg[1].rtp, &pb, buf, &len, sizeof(buf), 2000, &f);
		if (bad) {
			ck_assert_msg(v == MSESS_DROP_MALFORMED, "%s B->A (srtp %d): %s", c->name,
				srtp, msess_verdict_name((enum msess_verdict)v));
			bad_b++;
			continue;
		}
		ck_assert_msg(v == MSESS_FORWARD, "%s B->A (srtp %d): %s", c->name, srtp,
			msess_verdict_name((enum msess_verdict)v));
		if (srtp)
			ck_assert_int_eq(msrtp_unprotect_rtp(peer_rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, c->len);
		ck_assert_msg(memcmp(buf, ref, len) == 0, "%s B->A: not byte-exact", c->name);
		ck_assert_int_eq(f.fd, A_RTP);
		good_b++;
	}
	ck_assert_uint_gt(bad_a, 10);
	ck_assert_uint_gt(good_a, 10);
	ck_assert_uint_eq(s->leg[0].st.malformed, bad_a);
	ck_assert_uint_eq(s->leg[1].st.malformed, bad_b);
	ck_assert_uint_eq(s->leg[0].st.pkts_in, good_a);
	ck_assert_uint_eq(s->leg[1].st.pkts_out, good_a);
	ck_assert_uint_eq(s->leg[1].st.pkts_in, good_b);
	ck_assert_uint_eq(s->leg[0].st.pkts_out, good_b);
	/* A malformed packet is not also an auth failure, a parse error or a
	 * protect error. */
	ck_assert_uint_eq(other_drops(&s->leg[0].st), 0);
	ck_assert_uint_eq(other_drops(&s->leg[1].st), 0);
	msrtp_free(peer_tx);
	msrtp_free(peer_rx);
	msess_free(s);
}

START_TEST(test_plain_leg_rtp)
{
	run_rtp_cases(false);
}
END_TEST

START_TEST(test_srtp_leg_rtp)
{
	run_rtp_cases(true);
}
END_TEST

/* A malformed packet does not latch: the first valid one does. */
START_TEST(test_malformed_does_not_latch)
{
	union maddr sdp_a = addr4("10.0.0.1", 4000), real = addr4("127.0.0.9", 33333);
	union maddr pb = addr4("127.0.0.2", 6000);
	struct msess *s = mk(false, sdp_a, pb);
	uint8_t buf[64];
	size_t len;
	struct mfwd f;

	memcpy(buf, "\x8f" FIX "abcd", 16);
	len = 16;
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &real, buf, &len, sizeof(buf), 2000, &f),
		MSESS_DROP_MALFORMED);
	ck_assert(!s->leg[0].latched_rtp);
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &sdp_a));
	ck_assert_uint_eq(s->leg[0].st.last_ms, 0); /* not media: no sign of life */
	memcpy(buf, "\x80" FIX "abcd", 16);
	len = 16;
	ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &real, buf, &len, sizeof(buf), 2000, &f),
		MSESS_FORWARD);
	ck_assert(s->leg[0].latched_rtp);
	ck_assert(maddr_eq(&s->leg[0].remote_rtp, &real));
	msess_free(s);
}
END_TEST

/* RTCP on its own port and muxed, plain and SRTCP. */
static void run_rtcp_cases(bool srtp, bool mux)
{
	union maddr pa = addr4("127.0.0.1", 4000), pb = addr4("127.0.0.2", 6000);
	union maddr pa_rtcp = addr4("127.0.0.1", 4001), pb_rtcp = addr4("127.0.0.2", 6001);
	struct msess *s = mk(srtp, pa, pb);
	struct msrtp *peer_tx = srtp ? ctx(MSRTP_PROTECT, 0x10) : NULL;
	struct msrtp *peer_rx = srtp ? ctx(MSRTP_UNPROTECT, 0x20) : NULL;
	const struct msock *ina = mux ? &s->leg[0].rtp : &s->leg[0].rtcp;
	const struct msock *inb = mux ? &s->leg[1].rtp : &s->leg[1].rtcp;
	uint64_t bad = 0, good = 0;

	if (mux) {
		struct mleg_update u;

		for (int i = 0; i < 2; i++) {
			memset(&u, 0, sizeof(u));
			u.set = MLEG_SET_MUX;
			u.rtcp_mux = true;
			msess_leg_apply(s, i, &u, 1000);
		}
	}
	for (size_t i = 0; i < sizeof(rtcp_cases) / sizeof(rtcp_cases[0]); i++) {
		const struct pcase *c = &rtcp_cases[i];
		uint8_t buf[256 + MSRTP_TRAILER_ROOM];
		size_t len = c->len;
		struct mfwd f;
		int v;

		/* Too short or not v2 on the first header: parse errors. */
		if (c->len < 8 || (c->pkt[0] & 0xc0) != 0x80)
			continue;
		/* A muxed leg tells RTCP by its packet type: keep it in range. */
		memcpy(buf, c->pkt, len);
		if (srtp)
			ck_assert_int_eq(msrtp_protect_rtcp(peer_tx, buf, &len, sizeof(buf)),
				MSRTP_OK);
		v = msess_packet(s, ina, mux ? &pa : &pa_rtcp, buf, &len, sizeof(buf), 2000, &f);
		if (c->want != MRTP_OK) {
			ck_assert_msg(v == MSESS_DROP_MALFORMED, "%s (srtp %d mux %d): %s", c->name,
				srtp, mux, msess_verdict_name((enum msess_verdict)v));
			bad++;
		} else {
			ck_assert_msg(v == MSESS_FORWARD, "%s (srtp %d mux %d): %s", c->name, srtp,
				mux, msess_verdict_name((enum msess_verdict)v));
			ck_assert_uint_eq(len, c->len);
			ck_assert_msg(memcmp(buf, c->pkt, len) == 0, "%s: not byte-exact", c->name);
			ck_assert_int_eq(f.fd, mux ? B_RTP : B_RTCP);
			good++;
		}
		/* And the other way, plain in (SRTCP out toward an SRTP A). */
		len = c->len;
		memcpy(buf, c->pkt, len);
		v = msess_packet(s, inb, mux ? &pb : &pb_rtcp, buf, &len, sizeof(buf), 2000, &f);
		if (c->want != MRTP_OK) {
			ck_assert_int_eq(v, MSESS_DROP_MALFORMED);
			continue;
		}
		ck_assert_int_eq(v, MSESS_FORWARD);
		if (srtp)
			ck_assert_int_eq(msrtp_unprotect_rtcp(peer_rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, c->len);
		ck_assert_msg(memcmp(buf, c->pkt, len) == 0, "%s B->A: not byte-exact", c->name);
	}
	ck_assert_uint_ge(bad, 5);
	ck_assert_uint_ge(good, 5);
	ck_assert_uint_eq(s->leg[0].st.malformed, bad);
	ck_assert_uint_eq(s->leg[1].st.malformed, bad);
	ck_assert_uint_eq(s->leg[0].st.pkts_in, good);
	ck_assert_uint_eq(other_drops(&s->leg[0].st), 0);
	ck_assert_uint_eq(other_drops(&s->leg[1].st), 0);
	msrtp_free(peer_tx);
	msrtp_free(peer_rx);
	msess_free(s);
}

START_TEST(test_rtcp_legs)
{
	run_rtcp_cases(_i & 1, _i & 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_rtpcheck");
	TCase *tc = tcase_create("rtpcheck");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_rtp_table, 0, sizeof(rtp_cases) / sizeof(rtp_cases[0]));
	tcase_add_loop_test(tc, test_rtcp_table, 0, sizeof(rtcp_cases) / sizeof(rtcp_cases[0]));
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_plain_leg_rtp);
	tcase_add_test(tc, test_srtp_leg_rtp);
	tcase_add_test(tc, test_malformed_does_not_latch);
	tcase_add_loop_test(tc, test_rtcp_legs, 0, 4);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
