/* proxy/sdpx: reading SDP for the media layer, picking an a=crypto line
 * (suite preference, RFC 4568 lines we cannot use are skipped), and the
 * one-direction rewrite (c=/m=, protocol, crypto replaced, ICE/rtcp
 * attributes of the peer removed, untouched lines byte-exact). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_base64.h"
#include "sdpx.h"

/* base64 of n bytes seeded by 'seed': a well-formed inline key. */
static unsigned count_str(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static const char *key64(size_t n, int seed)
{
	static char out[4][100];
	static int turn;
	uint8_t k[64];
	size_t bn;
	char *o = out[turn++ & 3];

	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7);
	ck_assert_int_eq(rp_base64_encode(k, n, o, 100, &bn), 0);
	o[bn] = '\0';
	return o;
}

static rp_arena ar;
static char store[16384];

static void setup(void) { rp_arena_init(&ar, store, sizeof(store), 0); }
static void teardown(void) { rp_arena_fini(&ar); }

static void rd(const char *sdp, struct sdpx_desc *d)
{
	size_t off;
	ck_assert_int_eq(sdpx_read(sdp, strlen(sdp), &ar, d, &off), SDPX_OK);
}

START_TEST(test_read_summarises_streams)
{
	char sdp[1024];
	struct sdpx_desc d;

	snprintf(sdp, sizeof(sdp),
		"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"m=video 0 RTP/AVPF 96\r\n"
		"m=image 5000 udptl t38\r\nc=IN IP6 ::\r\n", key64(30, 1));
	rd(sdp, &d);
	ck_assert_uint_eq(d.nstreams, 3);
	ck_assert_int_eq(d.s[0].proto, SDPX_PROTO_SAVP);
	ck_assert_uint_eq(d.s[0].port, 4000);
	ck_assert(rp_str_eq_cstr(d.s[0].addr, "10.0.0.1"));
	ck_assert_uint_eq(d.s[0].ncrypto, 1);
	ck_assert_int_eq(d.s[1].proto, SDPX_PROTO_AVPF);
	ck_assert_uint_eq(d.s[1].port, 0);
	ck_assert_int_eq(d.s[2].proto, SDPX_PROTO_OTHER);
	ck_assert(d.s[2].ip6);
	ck_assert(d.s[2].hold_addr);
	ck_assert(!d.s[0].hold_addr);
}
END_TEST

START_TEST(test_read_rejects_non_sdp)
{
	struct sdpx_desc d;
	size_t off = 99;
	ck_assert_int_eq(sdpx_read("hello", 5, &ar, &d, &off), SDPX_E_PARSE);
	ck_assert_uint_eq(off, 0);
}
END_TEST

static struct sdpx_stream one_stream(const char *lines)
{
	static char sdp[4096];
	struct sdpx_desc d;
	snprintf(sdp, sizeof(sdp), "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n"
		"m=audio 4000 RTP/SAVP 0\r\nc=IN IP4 10.0.0.1\r\n%s", lines);
	rd(sdp, &d);
	return d.s[0];
}

START_TEST(test_pick_follows_preference_not_offer_order)
{
	char l[1024];
	struct sdes_crypto c;
	enum sdes_suite prefs[] = { SDES_AEAD_AES_128_GCM, SDES_AES_CM_128_HMAC_SHA1_80 };

	snprintf(l, sizeof(l), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"a=crypto:2 AEAD_AES_128_GCM inline:%s\r\n", key64(30, 1), key64(28, 2));
	struct sdpx_stream s = one_stream(l);
	ck_assert_int_eq(sdpx_pick_crypto(&s, prefs, 2, NULL, &c), SDPX_OK);
	ck_assert_int_eq(c.suite, SDES_AEAD_AES_128_GCM);
	ck_assert_uint_eq(c.tag, 2);
	sdes_crypto_wipe(&c);
	/* The suite not in the list is never taken. */
	ck_assert_int_eq(sdpx_pick_crypto(&s, prefs + 1, 1, NULL, &c), SDPX_OK);
	ck_assert_int_eq(c.suite, SDES_AES_CM_128_HMAC_SHA1_80);
	enum sdes_suite only32 = SDES_AES_CM_128_HMAC_SHA1_32;
	ck_assert_int_eq(sdpx_pick_crypto(&s, &only32, 1, NULL, &c), SDPX_E_NOCRYPTO);
}
END_TEST

START_TEST(test_pick_skips_unusable_lines)
{
	char l[2048];
	struct sdes_crypto c;
	struct sdpx_crypto_opts no_mki = { .allow_mki = false }, mki = { .allow_mki = true };
	enum sdes_suite prefs[] = { SDES_AES_CM_128_HMAC_SHA1_80 };

	/* unknown suite, lifetime above 2^48, MKI, unknown mandatory parameter,
	 * UNENCRYPTED_SRTP, then a good line last. */
	snprintf(l, sizeof(l),
		"a=crypto:1 FOO_BAR_SUITE inline:%s\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:%s|2^49\r\n"
		"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|1:4\r\n"
		"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:%s FOO=1\r\n",
		key64(30, 1), key64(30, 2), key64(30, 3), key64(30, 4));
	size_t n = strlen(l);
	snprintf(l + n, sizeof(l) - n,
		"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP\r\n"
		"a=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31 -FOO=1\r\n",
		key64(30, 5), key64(30, 6));
	struct sdpx_stream s = one_stream(l);
	ck_assert_uint_eq(s.ncrypto, 6);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[0], &mki, &c), SDPX_SKIP_PARSE);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[1], &mki, &c), SDPX_SKIP_LIFETIME);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[2], &no_mki, &c), SDPX_SKIP_MKI);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[3], &mki, &c), SDPX_SKIP_PARAM);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[4], &mki, &c), SDPX_SKIP_PARAM);
	ck_assert_int_eq(sdpx_pick_crypto(&s, prefs, 1, &no_mki, &c), SDPX_OK);
	ck_assert_uint_eq(c.tag, 6);
	sdes_crypto_wipe(&c);
	/* With MKIs allowed, line 3 (4-byte MKI) comes first. */
	ck_assert_int_eq(sdpx_pick_crypto(&s, prefs, 1, &mki, &c), SDPX_OK);
	ck_assert_uint_eq(c.tag, 3);
	ck_assert(c.keys[0].has_mki);
	ck_assert_uint_eq(c.keys[0].mki_len, 4);
	sdes_crypto_wipe(&c);
}
END_TEST

/* RFC 4568 allows any lifetime: softphones send 2^20 or 1048576, with or
 * without an MKI. Only what no SRTP key may have (above 2^48, RFC 3711
 * 9.2) or what does not parse is refused. */
START_TEST(test_lifetimes)
{
	static const struct {
		const char *suffix;
		enum sdpx_skip want;
		uint64_t packets;
	} cases[] = {
		{ "", SDPX_SKIP_NONE, 0 },
		{ "|2^20", SDPX_SKIP_NONE, 1u << 20 },
		{ "|1048576", SDPX_SKIP_NONE, 1u << 20 },
		{ "|2^20|1:4", SDPX_SKIP_NONE, 1u << 20 },
		{ "|1048576|1:4", SDPX_SKIP_NONE, 1u << 20 },
		{ "|2^10|7:1", SDPX_SKIP_NONE, 1024 },
		{ "|2^31", SDPX_SKIP_NONE, 1u << 31 },
		{ "|2^48", SDPX_SKIP_NONE, UINT64_C(1) << 48 },
		{ "|281474976710656", SDPX_SKIP_NONE, UINT64_C(1) << 48 },
		{ "|2^0", SDPX_SKIP_NONE, 1 }, /* one packet: valid, if odd */
		{ "|1", SDPX_SKIP_NONE, 1 },
		{ "|2^49", SDPX_SKIP_LIFETIME, 0 },
		{ "|281474976710657", SDPX_SKIP_LIFETIME, 0 },
		{ "|2^64", SDPX_SKIP_LIFETIME, 0 },
		{ "|2^48|1:4", SDPX_SKIP_NONE, UINT64_C(1) << 48 },
		{ "|2^49|1:4", SDPX_SKIP_LIFETIME, 0 },
		{ "|0", SDPX_SKIP_PARSE, 0 },
		{ "|2^65", SDPX_SKIP_PARSE, 0 },
		{ "|2^", SDPX_SKIP_PARSE, 0 },
		{ "|junk", SDPX_SKIP_PARSE, 0 },
		{ "|2^20x", SDPX_SKIP_PARSE, 0 },
		{ "|-5", SDPX_SKIP_PARSE, 0 },
	};
	struct sdpx_crypto_opts mki = { .allow_mki = true };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char l[512];
		struct sdes_crypto c;

		snprintf(l, sizeof(l), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s%s\r\n",
			key64(30, (int)i), cases[i].suffix);
		struct sdpx_stream s = one_stream(l);
		ck_assert_uint_eq(s.ncrypto, 1);
		enum sdpx_skip got = sdpx_check_crypto(s.crypto[0], &mki, &c);
		ck_assert_msg(got == cases[i].want, "lifetime '%s': %s, want %s", cases[i].suffix,
			sdpx_skip_name(got), sdpx_skip_name(cases[i].want));
		if (got == SDPX_SKIP_NONE) {
			ck_assert_uint_eq(sdes_key_lifetime(&c.keys[0]), cases[i].packets);
			sdes_crypto_wipe(&c);
		}
	}
}
END_TEST

START_TEST(test_pick_mki_longer_than_4_skipped)
{
	char l[512];
	struct sdes_crypto c;
	struct sdpx_crypto_opts mki = { .allow_mki = true };
	snprintf(l, sizeof(l), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|1:5\r\n",
		key64(30, 1));
	struct sdpx_stream s = one_stream(l);
	ck_assert_int_eq(sdpx_check_crypto(s.crypto[0], &mki, &c), SDPX_SKIP_MKI);
}
END_TEST

START_TEST(test_write_rewrites_one_direction)
{
	char sdp[2048];
	struct sdpx_desc d;
	struct sdpx_out o[2];
	struct sdes_crypto ours;
	rp_str body;
	char *txt;

	snprintf(sdp, sizeof(sdp),
		"v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=call\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"a=ice-lite\r\n"
		"m=audio 4000 RTP/SAVPF 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\na=rtcp:4001\r\na=rtcp-mux\r\n"
		"a=candidate:1 1 UDP 1 10.0.0.1 4000 typ host\r\na=sendonly\r\n"
		"m=video 4002 RTP/AVP 96\r\n", key64(30, 1));
	rd(sdp, &d);
	ck_assert_int_eq(sdes_generate(7, SDES_AES_CM_128_HMAC_SHA1_32, NULL, &ours), SDES_OK);
	memset(o, 0, sizeof(o));
	o[0].addr = "203.0.113.5";
	o[0].port = 20000;
	o[0].proto = sdpx_proto_name(true, false);
	o[0].ncrypto = 1;
	o[0].crypto = &ours;
	o[1].disable = true;
	ck_assert_int_eq(sdpx_write(&d, o, &ar, &body), SDPX_OK);
	txt = strndup(body.p, body.n);
	ck_assert_ptr_nonnull(strstr(txt, "c=IN IP4 203.0.113.5\r\nt=0 0\r\n"));
	ck_assert_ptr_nonnull(strstr(txt, "m=audio 20000 RTP/AVPF 0 101\r\n"));
	ck_assert_ptr_nonnull(strstr(txt, "a=rtpmap:101 telephone-event/8000\r\n"));
	ck_assert_ptr_nonnull(strstr(txt, "a=sendonly\r\n"));
	ck_assert_ptr_nonnull(strstr(txt, "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:"));
	ck_assert_ptr_null(strstr(txt, "a=crypto:1 "));
	ck_assert_ptr_null(strstr(txt, "a=rtcp"));
	ck_assert_ptr_null(strstr(txt, "candidate"));
	ck_assert_ptr_null(strstr(txt, "ice-lite"));
	ck_assert_ptr_null(strstr(txt, "10.0.0.1\r\nt="));
	ck_assert_ptr_nonnull(strstr(txt, "m=video 0 RTP/AVP 96\r\n"));
	ck_assert_ptr_nonnull(strstr(txt, "o=alice 1 1 IN IP4 10.0.0.1\r\n"));
	explicit_bzero(txt, body.n);
	free(txt);
	sdp_wipe(d.sdp);
	sdes_crypto_wipe(&ours);
}
END_TEST

/* a=rtcp-mux is read per section; the peer's a=rtcp / a=rtcp-mux never pass,
 * ours are written where asked (RFC 5761 / RFC 3605). */
START_TEST(test_rtcp_mux_read_and_written)
{
	char sdp[1024];
	struct sdpx_desc d;
	struct sdpx_out o[2];
	rp_str body;
	char *txt;

	snprintf(sdp, sizeof(sdp),
		"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=rtcp:4001\r\na=rtcp-mux\r\n"
		"m=video 4002 RTP/AVP 96\r\na=rtcp:4003\r\n");
	rd(sdp, &d);
	ck_assert(d.s[0].rtcp_mux);
	ck_assert(!d.s[1].rtcp_mux);
	memset(o, 0, sizeof(o));
	o[0].addr = o[1].addr = "203.0.113.5";
	o[0].port = 20000;
	o[0].rtcp_mux = true;
	o[0].rtcp_port = 20001;
	o[1].port = 20002;
	ck_assert_int_eq(sdpx_write(&d, o, &ar, &body), SDPX_OK);
	txt = strndup(body.p, body.n);
	ck_assert_ptr_nonnull(strstr(txt, "m=audio 20000 RTP/AVP 0\r\nc=IN IP4 203.0.113.5\r\n"
		"a=rtcp:20001\r\na=rtcp-mux\r\nm=video"));
	ck_assert_ptr_null(strstr(txt, "4001"));
	ck_assert_ptr_null(strstr(txt, "4003"));
	ck_assert_uint_eq(count_str(txt, "a=rtcp"), 2);
	free(txt);
	sdp_wipe(d.sdp);
}
END_TEST

START_TEST(test_write_keeps_hold_address)
{
	const char *sdp = "v=0\no=- 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\n"
		"m=audio 4000 RTP/AVP 0\n";
	struct sdpx_desc d;
	struct sdpx_out o = { .addr = "203.0.113.5", .port = 20002, .keep_conn = true,
		.proto = "RTP/AVP" };
	rp_str body;
	rd(sdp, &d);
	ck_assert(d.s[0].hold_addr);
	ck_assert_int_eq(sdpx_write(&d, &o, &ar, &body), SDPX_OK);
	ck_assert_int_eq((int)body.n, (int)strlen(sdp) + 1); /* 4000 -> 20002 */
	ck_assert(memcmp(body.p, "v=0\no=- 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 0.0.0.0\n", 48) == 0);
	ck_assert_ptr_nonnull(memmem(body.p, body.n, "m=audio 20002 RTP/AVP 0\n", 24));
}
END_TEST

START_TEST(test_write_ipv6)
{
	const char *sdp = "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
	struct sdpx_desc d;
	struct sdpx_out o = { .addr = "2001:db8::5", .ip6 = true, .port = 20002,
		.proto = "RTP/AVP" };
	rp_str body;
	rd(sdp, &d);
	ck_assert(d.s[0].ip6);
	ck_assert_int_eq(sdpx_write(&d, &o, &ar, &body), SDPX_OK);
	ck_assert_ptr_nonnull(memmem(body.p, body.n, "c=IN IP6 2001:db8::5\r\n", 22));
	ck_assert_ptr_null(memmem(body.p, body.n, "c=IN IP6 2001:db8::1\r\n", 22));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy_sdpx");
	TCase *tc = tcase_create("sdpx");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_summarises_streams);
	tcase_add_test(tc, test_read_rejects_non_sdp);
	tcase_add_test(tc, test_pick_follows_preference_not_offer_order);
	tcase_add_test(tc, test_pick_skips_unusable_lines);
	tcase_add_test(tc, test_lifetimes);
	tcase_add_test(tc, test_pick_mki_longer_than_4_skipped);
	tcase_add_test(tc, test_write_rewrites_one_direction);
	tcase_add_test(tc, test_rtcp_mux_read_and_written);
	tcase_add_test(tc, test_write_keeps_hold_address);
	tcase_add_test(tc, test_write_ipv6);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
