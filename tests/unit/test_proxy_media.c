/* proxy/media: golden SDP offer/answer cases, named after what they pin
 * (in the spirit of rtpengine's sdes-manipulation tests), through the real
 * media + sdpx + sdes code. mediad itself is replaced by a recording relay
 * that hands out ports and keeps what leg.update programmed, so each case
 * can assert the exact keys mediad would get; the real daemon is exercised
 * by tests/integration/proxy_media_run.py. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "rp_base64.h"
#include "rp_log.h"
#include "sdpx.h"

/* ---- recording relay ---- */

struct relay_leg {
	char addr[64];
	uint16_t port;
	bool in, out;                 /* SRTP programmed */
	struct sdes_crypto kin, kout; /* the keys */
	unsigned in_sets, out_sets;   /* how often a new context was made */
	bool mux;                     /* rtcp-mux as last programmed */
	unsigned mux_sets;            /* how often rtcp-mux was sent */
};
struct relay {
	unsigned creates, updates, deletes;
	unsigned update2s;              /* session.update calls (both legs at once) */
	int fail_create, fail_update;   /* errno to return once, 0 = none */
	uint64_t next_id;
	bool live[16];
	bool ip6, ip6_b;
	struct relay_leg leg[16][2];
};

static int r_create(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
	struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	struct relay *r = arg;
	uint64_t n = ++r->next_id;
	(void)label;
	ck_assert_uint_lt(n, 16);
	if (r->fail_create) {
		int rc = -r->fail_create;
		r->fail_create = 0;
		r->next_id--;
		return rc;
	}
	r->creates++;
	r->live[n] = true;
	r->ip6 = ip6_a;
	r->ip6_b = ip6_b;
	*id = n;
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->ip6 = ip6_a;
	b->ip6 = ip6_b;
	strcpy(a->address, ip6_a ? "2001:db8::5" : "203.0.113.5");
	strcpy(b->address, ip6_b ? "2001:db8::5" : "198.18.0.5");
	a->port = (uint16_t)(20000 + n * 4);
	b->port = (uint16_t)(20002 + n * 4);
	return 0;
}

static int r_update(void *arg, uint64_t id, const struct rp_mediactl_leg *l)
{
	struct relay *r = arg;
	ck_assert(id < 16 && r->live[id]);
	struct relay_leg *g = &r->leg[id][l->leg == 'a' ? 0 : 1];
	if (r->fail_update) {
		int rc = -r->fail_update;
		r->fail_update = 0;
		return rc;
	}
	r->updates++;
	if (l->address) {
		snprintf(g->addr, sizeof(g->addr), "%s", l->address);
		g->port = l->port;
	}
	if (l->rtcp_mux != RP_MEDIACTL_MUX_KEEP) {
		g->mux = l->rtcp_mux == RP_MEDIACTL_MUX_ON;
		g->mux_sets++;
	}
	if (l->in.op == RP_MEDIACTL_SRTP_SET) {
		g->in = true;
		g->kin = *l->in.crypto;
		g->in_sets++;
	} else if (l->in.op == RP_MEDIACTL_SRTP_NONE) {
		g->in = false;
	}
	if (l->out.op == RP_MEDIACTL_SRTP_SET) {
		g->out = true;
		g->kout = *l->out.crypto;
		g->out_sets++;
	} else if (l->out.op == RP_MEDIACTL_SRTP_NONE) {
		g->out = false;
	}
	return 0;
}

/* session.update: both legs in one call, a then b, like mediad. */
static int r_update2(void *arg, uint64_t id, const struct rp_mediactl_leg *a,
	const struct rp_mediactl_leg *b)
{
	struct relay *r = arg;
	int rc = 0;
	ck_assert(a || b);
	ck_assert(!a || a->leg == 'a');
	ck_assert(!b || b->leg == 'b');
	if (r->fail_update) {
		rc = -r->fail_update;
		r->fail_update = 0;
		return rc;
	}
	r->update2s++;
	if (a && (rc = r_update(arg, id, a)) < 0)
		return rc;
	if (b)
		rc = r_update(arg, id, b);
	return rc;
}

static int r_del(void *arg, uint64_t id)
{
	struct relay *r = arg;
	ck_assert(id < 16 && r->live[id]);
	r->live[id] = false;
	r->deletes++;
	return 0;
}

/* ---- fixtures ---- */

static struct relay R;
static struct rp_media_backend BE;
static rp_arena ar;
static char store[32768];
static struct rp_media_leg_cfg CA, CB;
static rp_media_call *C;

static void setup(void)
{
	memset(&R, 0, sizeof(R));
	BE = (struct rp_media_backend){ r_create, r_update, r_del, &R, NULL };
	rp_arena_init(&ar, store, sizeof(store), 0);
	/* Default: carrier trunk on TLS (A), operator core on UDP (B). */
	rp_media_leg_cfg_init(&CA, RP_MEDIA_TP_TLS);
	snprintf(CA.trunk, sizeof(CA.trunk), "carrier");
	rp_media_leg_cfg_init(&CB, RP_MEDIA_TP_UDP);
	snprintf(CB.trunk, sizeof(CB.trunk), "core");
	C = NULL;
}

static void teardown(void)
{
	C = rp_media_call_free(C);
	rp_arena_fini(&ar);
}

static void new_call(void)
{
	ck_assert_int_eq(rp_media_call_new(&BE, RP_STR_LIT("call-1@x"), RP_STR_LIT("ft1"),
		&CA, &CB, &C), 0);
}

static const char *key64(size_t n, int seed)
{
	static char out[8][100];
	static int turn;
	uint8_t k[64];
	size_t bn;
	char *o = out[turn++ & 7];
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7);
	ck_assert_int_eq(rp_base64_encode(k, n, o, 100, &bn), 0);
	o[bn] = '\0';
	return o;
}

/* An SDP from a peer at 'ip' port 'port' with proto and extra lines. */
static char *peer_sdp(const char *ip, unsigned ver, unsigned port, const char *proto,
	const char *extra)
{
	static char buf[4][2048];
	static int turn;
	char *b = buf[turn++ & 3];
	bool v6 = strchr(ip, ':') != NULL;
	snprintf(b, 2048, "v=0\r\no=peer 100 %u IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
		"m=audio %u %s 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n%s",
		ver, v6 ? "IP6" : "IP4", ip, v6 ? "IP6" : "IP4", ip, port, proto, extra);
	return b;
}

static char *crypto_line(unsigned tag, const char *suite, size_t keylen, int seed)
{
	static char buf[4][256];
	static int turn;
	char *b = buf[turn++ & 3];
	snprintf(b, 256, "a=crypto:%u %s inline:%s\r\n", tag, suite, key64(keylen, seed));
	return b;
}

static int offer(enum rp_media_side from, const char *sdp, char **out)
{
	rp_str o = RP_STR_NULL;
	int rc = rp_media_offer(C, from, rp_str_cstr(sdp), &ar, &o);
	*out = rc == 0 ? strndup(o.p, o.n) : NULL;
	return rc;
}

static int answer(enum rp_media_side from, const char *tag, const char *sdp, char **out)
{
	rp_str o = RP_STR_NULL;
	int rc = rp_media_answer(C, from, rp_str_cstr(tag), rp_str_cstr(sdp), &ar, &o);
	*out = rc == 0 ? strndup(o.p, o.n) : NULL;
	return rc;
}

/* Parses the n-th a=crypto of the first stream of 'sdp'. */
static bool get_crypto(const char *sdp, unsigned n, struct sdes_crypto *c)
{
	struct sdpx_desc d;
	if (sdpx_read(sdp, strlen(sdp), &ar, &d, NULL) != SDPX_OK || d.nstreams < 1 ||
	    d.s[0].ncrypto <= n)
		return false;
	return sdes_parse(d.s[0].crypto[n], c, NULL) == SDES_OK;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static bool same_key(const struct sdes_crypto *a, const struct sdes_crypto *b)
{
	return a->suite == b->suite && a->keys[0].key_salt_len == b->keys[0].key_salt_len &&
	       memcmp(a->keys[0].key_salt, b->keys[0].key_salt, a->keys[0].key_salt_len) == 0;
}

#define FREE(p) do { free(p); (p) = NULL; } while (0)

/* ---- cases ---- */

START_TEST(srtp_offer_to_require_trunk_bridged_to_plain_core)
{
	char *o, *a, *o2;
	struct sdes_crypto kc, ko;

	CA.policy = CFG_MEDIA_REQUIRE;
	CB.policy = CFG_MEDIA_DISABLE;
	snprintf(CA.tls_version, sizeof(CA.tls_version), "TLSv1.3");
	snprintf(CA.tls_cipher, sizeof(CA.tls_cipher), "TLS_AES_256_GCM_SHA384");
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	/* Toward the core: plain, relay address, no keys at all. */
	ck_assert_ptr_nonnull(strstr(o, "c=IN IP4 198.18.0.5\r\n"));
	ck_assert_ptr_nonnull(strstr(o, "m=audio 20006 RTP/AVP 0 8 101\r\n"));
	ck_assert_ptr_null(strstr(o, "crypto"));
	ck_assert_ptr_null(strstr(o, "192.0.2.10\r\nt="));
	ck_assert_ptr_nonnull(strstr(o, "a=rtpmap:101 telephone-event/8000\r\n"));
	ck_assert_uint_eq(R.creates, 1);

	ck_assert_int_eq(answer(RP_MEDIA_B, "tt1", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	/* Toward the carrier: RTP/SAVP with our key, the carrier's tag + suite. */
	ck_assert_ptr_nonnull(strstr(a, "m=audio 20004 RTP/SAVP 0 8 101\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "c=IN IP4 203.0.113.5\r\n"));
	ck_assert_uint_eq(count(a, "a=crypto:"), 1);
	ck_assert(get_crypto(a, 0, &ko));
	ck_assert_uint_eq(ko.tag, 1);
	ck_assert_int_eq(ko.suite, SDES_AES_CM_128_HMAC_SHA1_80);
	/* mediad: leg a in = carrier's key, out = ours; leg b plain. */
	ck_assert(get_crypto(peer_sdp("x", 1, 1, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), 0, &kc));
	ck_assert(R.leg[1][0].in && R.leg[1][0].out);
	ck_assert(same_key(&R.leg[1][0].kin, &kc));
	ck_assert(same_key(&R.leg[1][0].kout, &ko));
	ck_assert(!same_key(&ko, &kc));
	ck_assert(!R.leg[1][1].in && !R.leg[1][1].out);
	ck_assert_str_eq(R.leg[1][0].addr, "192.0.2.10");
	ck_assert_uint_eq(R.leg[1][0].port, 4000);
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	ck_assert_uint_eq(R.leg[1][1].port, 5000);
	/* CDR view. */
	struct rp_media_info info;
	rp_media_call_info(C, &info);
	ck_assert(info.leg[0].srtp && !info.leg[1].srtp);
	ck_assert_int_eq(info.leg[0].suite, SDES_AES_CM_128_HMAC_SHA1_80);
	ck_assert_int_eq(info.leg[0].transport, RP_MEDIA_TP_TLS);
	ck_assert_int_eq(info.leg[1].transport, RP_MEDIA_TP_UDP);
	ck_assert_uint_eq(info.session, 1);
	ck_assert_int_eq(info.state, RP_MEDIA_ST_ANSWERED);
	ck_assert_str_eq(rp_media_state_name(info.state), "answered");
	{
		rp_buf b = RP_BUF_INIT;
		ck_assert_int_eq(rp_media_info_format(&info, &b), 0);
		ck_assert_str_eq(rp_buf_cstr(&b), "state=answered a=TLS(TLSv1.3,TLS_AES_256_GCM_SHA384) "
			"srtp=AES_CM_128_HMAC_SHA1_80 b=UDP rtp session=1");
		rp_buf_free(&b);
	}
	/* Ending the call deletes the session once. */
	ck_assert_int_eq(rp_media_end(C), 0);
	ck_assert_int_eq(rp_media_end(C), 0);
	ck_assert_uint_eq(R.deletes, 1);
	rp_media_call_info(C, &info);
	ck_assert_int_eq(info.state, RP_MEDIA_ST_ENDED);
	/* A late re-INVITE or 200 retransmission after BYE creates nothing. */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o2), RP_MEDIA_STATE);
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt1", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&o2), RP_MEDIA_STATE);
	ck_assert_uint_eq(R.creates, 1);
	FREE(o);
	FREE(a);
}
END_TEST

START_TEST(plain_offer_to_require_is_refused_488)
{
	char *o;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_REFUSE);
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "carrier"));
	ck_assert_str_eq(RP_MEDIA_REASON, "Q.850;cause=88");
	ck_assert_uint_eq(R.creates, 0);
}
END_TEST

START_TEST(srtp_only_offer_to_disable_is_refused_488)
{
	char *o;
	CA.policy = CFG_MEDIA_DISABLE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_REFUSE);
	ck_assert_uint_eq(R.creates, 0);
	/* ... but optimistic SRTP (AVP + crypto) to disable is just plain. */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 2, 4000, "RTP/AVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	char *a;
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(a, "crypto"));
	ck_assert_ptr_nonnull(strstr(a, "RTP/AVP 0 8"));
	FREE(o);
	FREE(a);
}
END_TEST

START_TEST(allow_optimistic_offers_crypto_on_avp_and_accepts_either_answer)
{
	char *o, *a;
	/* A plain phone over UDP toward an allow trunk on TLS. */
	CA.policy = CFG_MEDIA_ALLOW;
	CA.transport = RP_MEDIA_TP_UDP;
	CB.policy = CFG_MEDIA_ALLOW;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "m=audio 20006 RTP/AVP 0 8 101\r\n"));
	ck_assert_uint_eq(count(o, "a=crypto:"), 2); /* default suites: _80, _32 */
	ck_assert_ptr_nonnull(strstr(o, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	ck_assert_ptr_nonnull(strstr(o, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
	/* The answerer takes the optimistic SRTP (tag 2). */
	struct sdes_crypto our2;
	ck_assert(get_crypto(o, 1, &our2));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP",
		crypto_line(2, "AES_CM_128_HMAC_SHA1_32", 30, 9)), &a), RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(a, "crypto")); /* the phone is plain */
	ck_assert(R.leg[1][1].in && R.leg[1][1].out);
	ck_assert(same_key(&R.leg[1][1].kout, &our2));
	ck_assert(!R.leg[1][0].in && !R.leg[1][0].out);
	FREE(o);
	FREE(a);
	C = rp_media_call_free(C);

	/* Same offer, the answerer stays plain: fine under allow. */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(!R.leg[2][1].in && !R.leg[2][1].out);
	struct rp_media_info info;
	rp_media_call_info(C, &info);
	ck_assert(!info.leg[1].srtp);
	FREE(o);
	FREE(a);
}
END_TEST

START_TEST(allow_plain_mode_sends_no_crypto)
{
	char *o;
	CB.policy = CFG_MEDIA_ALLOW;
	CB.allow_mode = RP_MEDIA_ALLOW_PLAIN;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(o, "crypto"));
	ck_assert_ptr_nonnull(strstr(o, " RTP/AVP 0 8 101"));
	FREE(o);
}
END_TEST

START_TEST(require_toward_b_offers_savp_and_refuses_plain_answer)
{
	char *o, *a;
	CA.policy = CFG_MEDIA_ALLOW;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, " RTP/SAVP 0 8 101"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_REFUSE);
	FREE(o);
}
END_TEST

START_TEST(suite_preference_of_the_trunk_wins)
{
	char *o, *a;
	char extra[1024];
	struct sdes_crypto ko;
	CA.policy = CFG_MEDIA_REQUIRE;
	CA.nsuites = 2;
	CA.suites[0] = SDES_AEAD_AES_256_GCM;
	CA.suites[1] = SDES_AES_CM_128_HMAC_SHA1_80;
	new_call();
	snprintf(extra, sizeof(extra), "%s%s%s", crypto_line(1, "AES_CM_128_HMAC_SHA1_32", 30, 1),
		crypto_line(2, "AES_CM_128_HMAC_SHA1_80", 30, 2),
		crypto_line(3, "AEAD_AES_256_GCM", 44, 3));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(get_crypto(a, 0, &ko));
	ck_assert_uint_eq(ko.tag, 3);
	ck_assert_int_eq(ko.suite, SDES_AEAD_AES_256_GCM);
	ck_assert_int_eq(R.leg[1][0].kin.suite, SDES_AEAD_AES_256_GCM);
	/* Toward B: the B trunk's own order. */
	FREE(o);
	FREE(a);
}
END_TEST

START_TEST(unknown_suites_skipped_first_usable_taken)
{
	char *o, *a;
	char extra[1024];
	struct sdes_crypto ko;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	snprintf(extra, sizeof(extra), "%s%s%s",
		"a=crypto:1 FANCY_NEW_SUITE inline:AAAA\r\n",
		"a=crypto:2 F8_128_HMAC_SHA1_80 inline:", key64(30, 4));
	size_t n = strlen(extra);
	snprintf(extra + n, sizeof(extra) - n, "\r\n%s",
		crypto_line(3, "AES_CM_128_HMAC_SHA1_32", 30, 3));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(get_crypto(a, 0, &ko));
	ck_assert_uint_eq(ko.tag, 3);
	ck_assert_int_eq(ko.suite, SDES_AES_CM_128_HMAC_SHA1_32);
	FREE(o);
	FREE(a);
	C = rp_media_call_free(C);
	/* Nothing usable at all: the policy decides (require -> 488). */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		"a=crypto:1 FANCY_NEW_SUITE inline:AAAA\r\n"), &o), RP_MEDIA_REFUSE);
}
END_TEST

START_TEST(mki_passed_to_mediad_or_line_skipped)
{
	char *o, *a;
	char extra[512];
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	snprintf(extra, sizeof(extra), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^31|7:2\r\n",
		key64(30, 1));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(R.leg[1][0].kin.keys[0].has_mki);
	ck_assert_uint_eq(R.leg[1][0].kin.keys[0].mki, 7);
	ck_assert_uint_eq(R.leg[1][0].kin.keys[0].mki_len, 2);
	FREE(o);
	FREE(a);
	C = rp_media_call_free(C);
	/* Told not to use MKIs: that line is unusable, so require refuses. */
	CA.allow_mki = false;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_REFUSE);
}
END_TEST

/* Softphones send short key lifetimes (|2^20, |1048576, with or without
 * an MKI). They were refused ("lifetime too short": 488 under require).
 * RFC 4568 allows any lifetime: the key is taken, mediad gets it, and our
 * own answer key carries no lifetime (the caller's limit binds the
 * caller's key, not ours). The sender rekeys by re-INVITE: a new key is
 * taken and ours rotates. */
START_TEST(short_key_lifetimes_accepted_not_readvertised)
{
	static const char *const lt[] = { "|2^20", "|1048576", "|2^20|1:4", "|1048576|1:4" };
	for (size_t i = 0; i < sizeof(lt) / sizeof(lt[0]); i++) {
		char *o, *a, *o2, *a2;
		char extra[512];
		struct sdes_crypto ours, ours2;
		memset(&R, 0, sizeof(R));
		CA.policy = CFG_MEDIA_REQUIRE;
		new_call();
		snprintf(extra, sizeof(extra), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s%s\r\n",
			key64(30, 1), lt[i]);
		ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
			&o), RP_MEDIA_OK);
		ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
			&a), RP_MEDIA_OK);
		ck_assert(R.leg[1][0].in);
		ck_assert(get_crypto(a, 0, &ours));
		ck_assert_int_eq(ours.keys[0].lifetime_form, SDES_LIFETIME_NONE);
		ck_assert(!ours.keys[0].has_mki);
		ck_assert_ptr_null(strstr(a, "|"));
		/* The caller's key reached mediad as it was sent. */
		ck_assert_uint_eq(R.leg[1][0].kin.keys[0].has_mki, strstr(lt[i], ":") != NULL);
		/* Rekey before the lifetime runs out: a re-INVITE with a new key. */
		snprintf(extra, sizeof(extra), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s%s\r\n",
			key64(30, 2), lt[i]);
		ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 2, 4000, "RTP/SAVP", extra),
			&o2), RP_MEDIA_OK);
		ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 2, 5000, "RTP/AVP", ""),
			&a2), RP_MEDIA_OK);
		ck_assert(get_crypto(a2, 0, &ours2));
		ck_assert(!same_key(&ours, &ours2));
		ck_assert_int_eq(ours2.keys[0].lifetime_form, SDES_LIFETIME_NONE);
		ck_assert_uint_eq(R.leg[1][0].in_sets, 2);
		ck_assert_uint_eq(R.leg[1][0].out_sets, 2);
		ck_assert_uint_eq(R.creates, 1);
		sdes_crypto_wipe(&ours);
		sdes_crypto_wipe(&ours2);
		FREE(o); FREE(a); FREE(o2); FREE(a2);
		C = rp_media_call_free(C);
	}
	/* Above 2^48 no SRTP key may go: still refused under require. */
	char extra[512];
	char *o;
	new_call();
	snprintf(extra, sizeof(extra), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^49\r\n",
		key64(30, 3));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_REFUSE);
}
END_TEST

/* RFC 5761: a=rtcp-mux was removed both ways. Now the offerer's mux is
 * offered on (with a=rtcp naming our RTCP port for an answerer that does
 * not mux), our answer to the offerer accepts it, and each leg's mux in
 * mediad follows its own side: a re-INVITE, an offer from the callee and a
 * late offer work the same way. */
START_TEST(rtcp_mux_offered_on_each_leg_decided_by_its_answer)
{
	char *o, *a;
	CB.policy = CFG_MEDIA_DISABLE;
	new_call();
	/* A muxes, B does not. */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP",
		"a=rtcp:4001\r\na=rtcp-mux\r\n"), &o), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "m=audio 20006 RTP/AVP"));
	ck_assert_ptr_nonnull(strstr(o, "a=rtcp-mux\r\n"));
	ck_assert_ptr_nonnull(strstr(o, "a=rtcp:20007\r\n"));
	ck_assert_ptr_null(strstr(o, "4001"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""), &a),
		RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "a=rtcp-mux\r\n"));
	ck_assert(R.leg[1][0].mux);
	ck_assert(!R.leg[1][1].mux);
	ck_assert_uint_eq(R.leg[1][1].mux_sets, 0); /* a session starts unmuxed */
	FREE(o); FREE(a);
	/* re-INVITE: B now muxes too. */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 2, 4000, "RTP/AVP",
		"a=rtcp-mux\r\n"), &o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 2, 5000, "RTP/AVP",
		"a=rtcp-mux\r\n"), &a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "a=rtcp-mux\r\n"));
	ck_assert(R.leg[1][0].mux);
	ck_assert(R.leg[1][1].mux);
	ck_assert_uint_eq(R.leg[1][0].mux_sets, 1); /* unchanged: not re-sent */
	FREE(o); FREE(a);
	/* The callee offers (re-INVITE from B) without mux: both legs unmux;
	 * an answer that adds a=rtcp-mux unasked is not taken. */
	ck_assert_int_eq(offer(RP_MEDIA_B, peer_sdp("10.1.1.1", 3, 5000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(o, "a=rtcp"));
	ck_assert_int_eq(answer(RP_MEDIA_A, "", peer_sdp("192.0.2.10", 3, 4000, "RTP/AVP",
		"a=rtcp-mux\r\n"), &a), RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(a, "a=rtcp"));
	ck_assert(!R.leg[1][0].mux);
	ck_assert(!R.leg[1][1].mux);
	FREE(o); FREE(a);
	/* The callee offers mux (as in a late offer in the 200), A takes it. */
	ck_assert_int_eq(offer(RP_MEDIA_B, peer_sdp("10.1.1.1", 4, 5000, "RTP/AVP",
		"a=rtcp-mux\r\n"), &o), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "a=rtcp-mux\r\n"));
	ck_assert_ptr_nonnull(strstr(o, "a=rtcp:20005\r\n"));
	ck_assert_int_eq(answer(RP_MEDIA_A, "", peer_sdp("192.0.2.10", 4, 4000, "RTP/AVP",
		"a=rtcp-mux\r\n"), &a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "a=rtcp-mux\r\n"));
	ck_assert(R.leg[1][0].mux);
	ck_assert(R.leg[1][1].mux);
	ck_assert_uint_eq(R.creates, 1);
	FREE(o); FREE(a);
}
END_TEST

/* Every m= line, every policy pair (and allow's two modes): a=crypto only on
 * a line mediad relays, with our key, never the peer's; lines we do not
 * relay (port 0, T.38 udptl, m=application) go out at port 0 with no
 * a=crypto, in the offer and in the answer. An optimistic RTP/AVP video
 * line gets our keys toward the callee because mediad relays it with them. */
static void lines_of(const char *sdp, unsigned *n, unsigned port[8], bool crypto[8])
{
	const char *p = sdp;
	*n = 0;
	while ((p = strstr(p, "m=")) != NULL && *n < 8) {
		const char *next = strstr(p + 2, "\r\nm=");
		const char *c = strstr(p, "a=crypto:");
		ck_assert_int_eq(sscanf(strchr(p, ' ') + 1, "%u", &port[*n]), 1);
		crypto[*n] = c && (!next || c < next);
		(*n)++;
		p += 2;
	}
}

START_TEST(crypto_only_on_relayed_lines_in_every_policy)
{
	static const enum cfg_media_enc pol[] = { CFG_MEDIA_DISABLE, CFG_MEDIA_ALLOW,
		CFG_MEDIA_REQUIRE };
	char sdp[2048], ans[2048];
	const char *ka = key64(30, 11), *kv = key64(30, 12), *k0 = key64(30, 13),
		*ki = key64(30, 14), *kb = key64(30, 15);
	snprintf(sdp, sizeof(sdp), "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
		"c=IN IP4 192.0.2.10\r\nt=0 0\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"m=video 4002 RTP/AVP 96\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"m=video 0 RTP/AVP 97\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"m=image 4004 udptl t38\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
		"m=application 4006 UDP/BFCP *\r\n", ka, kv, k0, ki);
	for (int pa = 0; pa < 3; pa++)
	for (int pb = 0; pb < 4; pb++) {
		char *o = NULL, *a = NULL;
		unsigned n, port[8];
		bool cr[8];
		memset(&R, 0, sizeof(R));
		CA.policy = pol[pa];
		CB.policy = pol[pb < 3 ? pb : 1];
		CB.allow_mode = pb == 3 ? RP_MEDIA_ALLOW_PLAIN : RP_MEDIA_ALLOW_OPTIMISTIC;
		CB.transport = RP_MEDIA_TP_TLS;
		bool to_b_keys = pb == 1 || pb == 2;
		bool to_a_keys = pa != 0;
		new_call();
		ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
		ck_assert_ptr_null(strstr(o, ka));
		ck_assert_ptr_null(strstr(o, kv));
		ck_assert_ptr_null(strstr(o, k0));
		ck_assert_ptr_null(strstr(o, ki));
		lines_of(o, &n, port, cr);
		ck_assert_uint_eq(n, 5);
		ck_assert_uint_eq(R.creates, 2); /* audio and video */
		for (unsigned j = 0; j < 5; j++) {
			bool relayed = j < 2;
			ck_assert_msg(relayed ? port[j] != 0 : port[j] == 0, "A %d B %d line %u port %u",
				pa, pb, j, port[j]);
			ck_assert_msg(cr[j] == (relayed && to_b_keys), "A %d B %d offer line %u crypto %d",
				pa, pb, j, cr[j]);
		}
		/* The callee takes our first line where offered, with its own key. */
		char l0[256] = "", l1[256] = "";
		if (to_b_keys) {
			snprintf(l0, sizeof(l0), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", kb);
			snprintf(l1, sizeof(l1), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", kb);
		}
		snprintf(ans, sizeof(ans), "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\n"
			"c=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 5000 %s 0\r\n%s"
			"m=video 5002 %s 96\r\n%sm=video 0 RTP/AVP 97\r\n"
			"m=image 0 udptl t38\r\nm=application 0 UDP/BFCP *\r\n",
			pb == 2 ? "RTP/SAVP" : "RTP/AVP", l0, pb == 2 ? "RTP/SAVP" : "RTP/AVP", l1);
		ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
		ck_assert_ptr_null(strstr(a, kb));
		lines_of(a, &n, port, cr);
		ck_assert_uint_eq(n, 5);
		for (unsigned j = 0; j < 5; j++) {
			bool relayed = j < 2;
			ck_assert(relayed ? port[j] != 0 : port[j] == 0);
			ck_assert_msg(cr[j] == (relayed && to_a_keys), "A %d B %d answer line %u crypto %d",
				pa, pb, j, cr[j]);
		}
		/* mediad has exactly the keys the SDP announced. */
		for (unsigned j = 1; j <= 2; j++) {
			ck_assert(R.leg[j][0].in == to_a_keys && R.leg[j][0].out == to_a_keys);
			ck_assert(R.leg[j][1].in == to_b_keys && R.leg[j][1].out == to_b_keys);
		}
		FREE(o); FREE(a);
		C = rp_media_call_free(C);
	}
}
END_TEST

/* A re-INVITE that removes a stream (port 0) or turns it into one we do
 * not relay (audio -> T.38 udptl, the usual fax switch) left its mediad
 * session running with its keys, relaying for a line both sides were told
 * is gone. Now that session goes at the offer; a stream brought back gets
 * a new session and fresh keys. */
START_TEST(stream_removed_by_reinvite_loses_its_session_and_keys)
{
	char *o, *a, sdp[1024], ans[512];
	struct sdes_crypto v1, v2;
	const char *hdr = "v=0\r\no=- 1 %u IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
		"t=0 0\r\n";
	CA.policy = CFG_MEDIA_REQUIRE;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	/* audio + video, both SRTP. */
	int n = snprintf(sdp, sizeof(sdp), hdr, 1u);
	snprintf(sdp + n, sizeof(sdp) - (size_t)n, "m=audio 4000 RTP/SAVP 0\r\n%s"
		"m=video 4002 RTP/SAVP 96\r\n%s", crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 2));
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	ck_assert_uint_eq(R.creates, 2);
	snprintf(ans, sizeof(ans), "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n%sm=video 5002 RTP/SAVP 96\r\n%s",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 51));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	ck_assert(strstr(a, "m=video 20008 RTP/SAVP"));
	{
		struct sdpx_desc d;
		ck_assert_int_eq(sdpx_read(a, strlen(a), &ar, &d, NULL), SDPX_OK);
		ck_assert_int_eq(sdes_parse(d.s[1].crypto[0], &v1, NULL), SDES_OK);
	}
	FREE(o); FREE(a);
	/* re-INVITE: video removed. */
	n = snprintf(sdp, sizeof(sdp), hdr, 2u);
	snprintf(sdp + n, sizeof(sdp) - (size_t)n, "m=audio 4000 RTP/SAVP 0\r\n%s"
		"m=video 0 RTP/SAVP 96\r\n%s", crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 2));
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	ck_assert(strstr(o, "m=video 0 RTP/SAVP 96\r\n"));
	ck_assert_uint_eq(R.deletes, 1);
	ck_assert(R.live[1] && !R.live[2]);
	snprintf(ans, sizeof(ans), "v=0\r\no=- 1 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n%sm=video 0 RTP/SAVP 96\r\n",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	ck_assert(strstr(a, "m=video 0 RTP/SAVP 96\r\n"));
	ck_assert_uint_eq(count(a, "a=crypto"), 1);
	FREE(o); FREE(a);
	/* video back: a new session, a new key of ours. */
	n = snprintf(sdp, sizeof(sdp), hdr, 3u);
	snprintf(sdp + n, sizeof(sdp) - (size_t)n, "m=audio 4000 RTP/SAVP 0\r\n%s"
		"m=video 4002 RTP/SAVP 96\r\n%s", crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 2));
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	ck_assert_uint_eq(R.creates, 3);
	snprintf(ans, sizeof(ans), "v=0\r\no=- 1 3 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n%sm=video 5002 RTP/SAVP 96\r\n%s",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 51));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	{
		struct sdpx_desc d;
		ck_assert_int_eq(sdpx_read(a, strlen(a), &ar, &d, NULL), SDPX_OK);
		ck_assert_int_eq(sdes_parse(d.s[1].crypto[0], &v2, NULL), SDES_OK);
	}
	ck_assert(!same_key(&v1, &v2));
	ck_assert(R.leg[3][0].in && R.leg[3][0].out && R.leg[3][1].in && R.leg[3][1].out);
	FREE(o); FREE(a);
	/* Fax: the audio line becomes T.38 (udptl), video removed. */
	n = snprintf(sdp, sizeof(sdp), hdr, 4u);
	snprintf(sdp + n, sizeof(sdp) - (size_t)n, "m=image 4000 udptl t38\r\n%s"
		"m=video 0 RTP/SAVP 96\r\n", crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1));
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	ck_assert(strstr(o, "m=image 0 udptl t38\r\n"));
	ck_assert_uint_eq(count(o, "a=crypto"), 0);
	ck_assert(!R.live[1] && !R.live[3]);
	ck_assert_uint_eq(R.deletes, 3);
	sdes_crypto_wipe(&v1);
	sdes_crypto_wipe(&v2);
	FREE(o);
	ck_assert_int_eq(rp_media_end(C), 0);
	ck_assert_uint_eq(R.deletes, 3); /* nothing left to delete */
}
END_TEST

/* Offer + answer through A(require, SRTP) -> B (plain), returning our key
 * toward A and toward B when B is SRTP. */
static void basic_srtp_call(char **o, char **a)
{
	CA.policy = CFG_MEDIA_REQUIRE;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 1, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)), a), RP_MEDIA_OK);
}

START_TEST(rekey_reinvite_rotates_keys_both_ways)
{
	char *o, *a, *o2, *a2;
	struct sdes_crypto ka1, ka2, kb1, kb2;
	basic_srtp_call(&o, &a);
	ck_assert(get_crypto(a, 0, &ka1));
	ck_assert(get_crypto(o, 0, &kb1));
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	ck_assert_uint_eq(R.leg[1][1].out_sets, 1);
	/* re-INVITE from A with a new key. */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 2, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 2)), &o2), RP_MEDIA_OK);
	ck_assert(get_crypto(o2, 0, &kb2));
	ck_assert(!same_key(&kb1, &kb2));
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 51)), &a2), RP_MEDIA_OK);
	ck_assert(get_crypto(a2, 0, &ka2));
	ck_assert(!same_key(&ka1, &ka2));
	ck_assert_uint_eq(R.leg[1][0].in_sets, 2);
	ck_assert_uint_eq(R.leg[1][0].out_sets, 2);
	ck_assert_uint_eq(R.leg[1][1].in_sets, 2);
	ck_assert_uint_eq(R.leg[1][1].out_sets, 2);
	ck_assert(same_key(&R.leg[1][0].kout, &ka2));
	ck_assert_uint_eq(R.creates, 1); /* same session */
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST

START_TEST(identical_reinvite_keeps_keys_and_contexts)
{
	char *o, *a, *o2, *a2;
	basic_srtp_call(&o, &a);
	unsigned updates = R.updates;
	/* Same media, new o= version (a session refresh). */
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 2, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o2), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)), &a2), RP_MEDIA_OK);
	/* Our keys in both directions are the same as before ... */
	ck_assert_ptr_nonnull(strstr(o2, strstr(o, "a=crypto:1 ")));
	ck_assert_ptr_nonnull(strstr(a2, strstr(a, "a=crypto:1 ")));
	/* ... and mediad's SRTP was not touched (ROC survives). */
	ck_assert_uint_eq(R.updates, updates);
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	ck_assert_uint_eq(R.leg[1][1].out_sets, 1);
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST

START_TEST(address_change_reinvite_updates_remote_only)
{
	char *o, *a, *o2, *a2;
	basic_srtp_call(&o, &a);
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.99", 2, 4100, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o2), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)), &a2), RP_MEDIA_OK);
	ck_assert_str_eq(R.leg[1][0].addr, "192.0.2.99");
	ck_assert_uint_eq(R.leg[1][0].port, 4100);
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST

START_TEST(hold_sendonly_and_zero_address_pass_through)
{
	char *o, *a, *o2, *a2;
	char extra[512];
	basic_srtp_call(&o, &a);
	snprintf(extra, sizeof(extra), "%sa=sendonly\r\n",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("0.0.0.0", 2, 4000, "RTP/SAVP", extra), &o2),
		RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o2, "a=sendonly\r\n"));
	ck_assert_ptr_nonnull(strstr(o2, "c=IN IP4 0.0.0.0\r\n"));
	ck_assert_ptr_nonnull(strstr(o2, "m=audio 20006 RTP/SAVP"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
		"a=recvonly\r\n"), &a2), RP_MEDIA_REFUSE); /* answer without crypto: require */
	FREE(a2);
	char ex2[512];
	snprintf(ex2, sizeof(ex2), "%sa=recvonly\r\n",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50));
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP", ex2),
		&a2), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a2, "a=recvonly\r\n"));
	/* The remote of leg a stays where media was (0.0.0.0 is not an address). */
	ck_assert_str_eq(R.leg[1][0].addr, "192.0.2.10");
	/* Keys unchanged through hold. */
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	ck_assert_uint_eq(R.leg[1][0].out_sets, 1);
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST

START_TEST(ipv6_offer_gets_ipv6_relay)
{
	char *o, *a;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("2001:db8::10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	ck_assert(R.ip6 && R.ip6_b);
	ck_assert_ptr_nonnull(strstr(o, "c=IN IP6 2001:db8::5\r\n"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("2001:db8::20", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "c=IN IP6 2001:db8::5\r\n"));
	ck_assert_str_eq(R.leg[1][0].addr, "2001:db8::10");
	ck_assert_str_eq(R.leg[1][1].addr, "2001:db8::20");
	FREE(o); FREE(a);
}
END_TEST

START_TEST(savpf_kept_as_feedback_profile)
{
	char *o, *a;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVPF",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, " RTP/AVPF 0 8 101"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVPF", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, " RTP/SAVPF 0 8 101"));
	FREE(o); FREE(a);
}
END_TEST

START_TEST(retransmitted_offer_same_answer_no_new_keys)
{
	char *o, *o2, *a, *a2;
	const char *sdp;
	CA.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	new_call();
	sdp = peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1));
	char *copy = strdup(sdp);
	ck_assert_int_eq(offer(RP_MEDIA_A, copy, &o), RP_MEDIA_OK);
	ck_assert_int_eq(offer(RP_MEDIA_A, copy, &o2), RP_MEDIA_OK);
	ck_assert_str_eq(o, o2);
	ck_assert_uint_eq(R.creates, 1);
	char *ans = strdup(peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	unsigned updates = R.updates;
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a2), RP_MEDIA_OK); /* 200 retransmitted */
	ck_assert_str_eq(a, a2);
	ck_assert_uint_eq(R.updates, updates);
	free(copy);
	free(ans);
	FREE(o); FREE(o2); FREE(a); FREE(a2);
}
END_TEST

START_TEST(forked_early_dialogs_latest_answer_programs_b)
{
	char *o, *a1, *a2, *a3;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "fork1", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a1), RP_MEDIA_OK);
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	ck_assert_int_eq(answer(RP_MEDIA_B, "fork2", peer_sdp("10.2.2.2", 1, 6000, "RTP/AVP", ""),
		&a2), RP_MEDIA_OK);
	ck_assert_str_eq(R.leg[1][1].addr, "10.2.2.2");
	ck_assert_uint_eq(R.leg[1][1].port, 6000);
	/* The caller sees one consistent key on every early dialog. */
	ck_assert_str_eq(strstr(a1, "a=crypto:"), strstr(a2, "a=crypto:"));
	/* fork1 answers 200: mediad goes back to fork1's address. */
	ck_assert_int_eq(answer(RP_MEDIA_B, "fork1", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a3), RP_MEDIA_OK);
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	ck_assert_uint_eq(R.creates, 1);
	FREE(o); FREE(a1); FREE(a2); FREE(a3);
}
END_TEST

START_TEST(keys_refused_over_udp_unless_allowed)
{
	char *o, *a;
	/* B requires SRTP but is reached over UDP: refused, with the trunk
	 * and the transport in the reason. */
	CA.policy = CFG_MEDIA_ALLOW;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_UDP;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_REFUSE);
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "core"));
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "UDP"));
	ck_assert_uint_eq(R.creates, 0);
	C = rp_media_call_free(C);
	/* Operator allows it explicitly. */
	CB.allow_sdes_over_insecure = true;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "a=crypto:1 "));
	FREE(o);
	C = rp_media_call_free(C);
	/* allow toward UDP: plain instead of keys in clear. */
	CB.allow_sdes_over_insecure = false;
	CB.policy = CFG_MEDIA_ALLOW;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(o, "crypto"));
	FREE(o);
	C = rp_media_call_free(C);
	/* The answer toward A: an SRTP offer that came over UDP gets no key back. */
	CA.transport = RP_MEDIA_TP_UDP;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_REFUSE);
	/* allow + optimistic from A over UDP: answered plain. */
	CA.policy = CFG_MEDIA_ALLOW;
	C = rp_media_call_free(C);
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_null(strstr(a, "crypto"));
	FREE(o); FREE(a);
}
END_TEST

START_TEST(secure_uri_asks_for_tls_and_srtp)
{
	struct rp_media_leg_cfg l;
	char *o;
	rp_media_leg_cfg_init(&l, RP_MEDIA_TP_UDP);
	ck_assert(!rp_media_leg_cfg_uri(&l, RP_STR_LIT("sip:bob@example.com;transport=udp")));
	ck_assert(!rp_media_leg_cfg_uri(&l, RP_STR_LIT("sip:bob@example.com;secure=truex")));
	ck_assert_int_eq(l.policy, CFG_MEDIA_ALLOW);
	ck_assert(rp_media_leg_cfg_uri(&l, RP_STR_LIT("sip:bob@example.com;secure=true;lr")));
	ck_assert_int_eq(l.policy, CFG_MEDIA_REQUIRE);
	ck_assert(l.require_tls);
	rp_media_leg_cfg_init(&l, RP_MEDIA_TP_TLS);
	ck_assert(rp_media_leg_cfg_uri(&l, RP_STR_LIT("sips:bob@example.com")));
	/* secure=true toward a UDP hop, even with insecure SDES allowed: refused. */
	CB = l;
	CB.transport = RP_MEDIA_TP_UDP;
	CB.allow_sdes_over_insecure = true;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_REFUSE);
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "TLS"));
	/* Script override. */
	rp_media_leg_cfg_override(&l, CFG_MEDIA_DISABLE);
	ck_assert_int_eq(l.policy, CFG_MEDIA_DISABLE);
	rp_media_leg_cfg_override(&l, CFG_MEDIA_UNSET);
	ck_assert_int_eq(l.policy, CFG_MEDIA_DISABLE);
}
END_TEST

START_TEST(late_offer_in_200_answer_in_ack)
{
	char *o, *a;
	CA.policy = CFG_MEDIA_ALLOW;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	CA.transport = RP_MEDIA_TP_TLS;
	new_call();
	/* 200 from B carries the offer. */
	ck_assert_int_eq(offer(RP_MEDIA_B, peer_sdp("10.1.1.1", 1, 5000, "RTP/SAVP",
		crypto_line(4, "AES_CM_128_HMAC_SHA1_32", 30, 7)), &o), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "c=IN IP4 203.0.113.5\r\n")); /* A's relay side */
	ck_assert_ptr_nonnull(strstr(o, " RTP/AVP 0 8 101")); /* optimistic toward A */
	ck_assert_ptr_nonnull(strstr(o, "a=crypto:1 "));
	/* ACK from A: plain answer. */
	ck_assert_int_eq(answer(RP_MEDIA_A, "", peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "m=audio 20006 RTP/SAVP"));
	ck_assert_ptr_nonnull(strstr(a, "a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:"));
	ck_assert(R.leg[1][1].in && R.leg[1][1].out);
	ck_assert(!R.leg[1][0].in && !R.leg[1][0].out);
	FREE(a);
	/* An answer from the offerer's own side is a state error. */
	ck_assert_int_eq(answer(RP_MEDIA_B, "", peer_sdp("10.1.1.1", 9, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_STATE);
	FREE(o);
}
END_TEST

START_TEST(unsupported_stream_disabled_others_relayed)
{
	char *o, *a;
	const char *sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nm=image 4002 udptl t38\r\n";
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o, "m=image 0 udptl t38\r\n"));
	ck_assert_uint_eq(R.creates, 1);
	const char *ans = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\nm=audio 5000 RTP/AVP 0\r\nm=image 0 udptl t38\r\n";
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "m=audio 20004 RTP/AVP 0\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "m=image 0 udptl t38\r\n"));
	FREE(o);
	/* Not SDP: 488-class error, nothing created. */
	ck_assert_int_eq(offer(RP_MEDIA_A, "garbage", &o), RP_MEDIA_BAD_SDP);
	FREE(a);
}
END_TEST


/* An offer or answer whose c= names no unicast IP literal (found by the
 * hostile-input run: the offer went on, the callee rang and answered, and
 * only then did mediad refuse the address, so the call died after answer
 * as "media relay unavailable"): refused at once as bad SDP, nothing
 * created in mediad. Hold addresses still pass. */
START_TEST(non_unicast_connection_address_refused_before_ringing)
{
	static const char *const bad[] = { "IP4 999.1.1.1", "IP4 example.com",
		"IP4 224.2.1.1/127", "IP4 255.255.255.255", "IP6 ff02::1", "IP6 ::zz",
		"IP6 10.0.0.1", "IP4 ::1" };
	char sdp[512], *o, *a;

	/* m=audio 4000/2: two port pairs (RFC 4566), we relay one. */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
		"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000/2 RTP/AVP 0\r\n", &o), RP_MEDIA_BAD_SDP);
	ck_assert_uint_eq(R.creates, 0);
	C = rp_media_call_free(C);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(sdp, sizeof(sdp), "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
			"c=IN %s\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", bad[i]);
		new_call();
		ck_assert_msg(offer(RP_MEDIA_A, sdp, &o) == RP_MEDIA_BAD_SDP, "%s", bad[i]);
		ck_assert_uint_eq(R.creates, 0);
		C = rp_media_call_free(C);
	}
	/* The answer side too: the session is deleted, not left half set up. */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
		"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", &o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\n"
		"c=IN IP4 239.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", &a), RP_MEDIA_BAD_SDP);
	ck_assert_uint_eq(R.updates, 0);
	FREE(o);
	C = rp_media_call_free(C);
	/* Hold (0.0.0.0) is still an offer. */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
		"c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", &o),
		RP_MEDIA_OK);
	FREE(o);
}
END_TEST

START_TEST(no_suite_list_accepts_any_encrypting_suite_not_null)
{
	char *o, *a;
	char extra[512];
	struct sdes_crypto ko;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	snprintf(extra, sizeof(extra), "%s%s", crypto_line(1, "NULL_HMAC_SHA1_80", 30, 1),
		crypto_line(2, "AEAD_AES_256_GCM", 44, 2));
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP", extra),
		&o), RP_MEDIA_OK);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(get_crypto(a, 0, &ko));
	ck_assert_uint_eq(ko.tag, 2);
	ck_assert_int_eq(ko.suite, SDES_AEAD_AES_256_GCM);
	FREE(o); FREE(a);
	C = rp_media_call_free(C);
	/* Only the NULL (authentication-only) suite: not SRTP enough for require. */
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "NULL_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_REFUSE);
}
END_TEST

START_TEST(callee_reinvite_with_same_key_keeps_contexts)
{
	char *o, *a, *o2, *a2;
	basic_srtp_call(&o, &a);
	unsigned updates = R.updates;
	/* B re-offers with the key (tag 1) it answered with. */
	ck_assert_int_eq(offer(RP_MEDIA_B, peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)), &o2), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(o2, strstr(a, "a=crypto:1 ")));
	ck_assert_int_eq(answer(RP_MEDIA_A, "", peer_sdp("192.0.2.10", 2, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &a2), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a2, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "));
	/* Our key toward B is still the tag-1 line we first offered. */
	const char *l1 = strstr(a2, "a=crypto:1 ");
	ck_assert_int_eq(strncmp(l1, strstr(o, "a=crypto:1 "), strcspn(l1, "\r\n")), 0);
	ck_assert_uint_eq(R.updates, updates);
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST


START_TEST(call_table_find_add_remove_deletes_session)
{
	rp_media_calls *t;
	rp_media_call *c1, *c2, *dup, *f;
	char *o;
	ck_assert_int_eq(rp_media_calls_new(&BE, 0, &t), 0);
	ck_assert_int_eq(rp_media_calls_add(t, RP_STR_LIT("cid"), RP_STR_LIT("f1"), &CA, &CB, &c1), 0);
	ck_assert_int_eq(rp_media_calls_add(t, RP_STR_LIT("cid"), RP_STR_LIT("f2"), &CA, &CB, &c2), 0);
	ck_assert_int_eq(rp_media_calls_add(t, RP_STR_LIT("cid"), RP_STR_LIT("f1"), &CA, &CB, &dup),
		-EEXIST);
	ck_assert_ptr_eq(dup, c1);
	dup = rp_media_call_free(dup);
	/* "cid" + "f1" must not match "cidf" + "1". */
	ck_assert_ptr_null(rp_media_calls_find(t, RP_STR_LIT("cidf"), RP_STR_LIT("1")));
	ck_assert_uint_eq(rp_media_calls_count(t), 2);
	C = c1;
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	FREE(o);
	C = NULL;
	f = rp_media_calls_find(t, RP_STR_LIT("cid"), RP_STR_LIT("f1"));
	ck_assert_ptr_eq(f, c1);
	/* BYE: removed, mediad session deleted at once though 'f' still holds it. */
	ck_assert_int_eq(rp_media_calls_remove(t, RP_STR_LIT("cid"), RP_STR_LIT("f1")), 0);
	ck_assert_uint_eq(R.deletes, 1);
	ck_assert_int_eq(rp_media_calls_remove(t, RP_STR_LIT("cid"), RP_STR_LIT("f1")), -ENOENT);
	ck_assert_ptr_null(rp_media_calls_find(t, RP_STR_LIT("cid"), RP_STR_LIT("f1")));
	struct rp_media_info info;
	rp_media_call_info(f, &info); /* still valid memory */
	ck_assert_uint_eq(info.streams, 0);
	f = rp_media_call_free(f);
	c1 = rp_media_call_free(c1);
	ck_assert_uint_eq(R.deletes, 1);
	/* Freeing the table ends what is left (c2 has no session: no delete). */
	C = c2;
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.11", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	FREE(o);
	C = NULL;
	c2 = rp_media_call_free(c2);
	ck_assert_uint_eq(R.deletes, 1);
	rp_media_calls_free(t);
	ck_assert_uint_eq(R.deletes, 2);
}
END_TEST


START_TEST(audio_and_video_each_get_a_session)
{
	char *o, *a;
	const char *sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
		"t=0 0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\n";
	const char *ans = "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\nm=audio 5000 RTP/AVP 0\r\nm=video 5002 RTP/AVP 96\r\n";
	struct rp_media_info info;
	CB.policy = CFG_MEDIA_DISABLE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, sdp, &o), RP_MEDIA_OK);
	rp_media_call_info(C, &info);
	ck_assert_int_eq(info.state, RP_MEDIA_ST_OFFER_FROM_A);
	ck_assert_uint_eq(R.creates, 2);
	ck_assert_ptr_nonnull(strstr(o, "m=audio 20006 RTP/AVP 0\r\n"));
	ck_assert_ptr_nonnull(strstr(o, "m=video 20010 RTP/AVP 96\r\n"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", ans, &a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "m=audio 20004 RTP/AVP 0\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "m=video 20008 RTP/AVP 96\r\n"));
	ck_assert_uint_eq(R.leg[2][1].port, 5002);
	ck_assert_uint_eq(R.leg[1][1].port, 5000);
	rp_media_call_info(C, &info);
	ck_assert_uint_eq(info.streams, 2);
	ck_assert_int_eq(rp_media_end(C), 0);
	ck_assert_uint_eq(R.deletes, 2);
	FREE(o); FREE(a);
}
END_TEST


/* A re-INVITE that adds a video stream to an SRTP audio call: the call's
 * per-stream state grows (it is sized to the m= lines seen), the audio
 * stream keeps our keys both ways and mediad's contexts (ROC), and the
 * video stream gets its own session and fresh keys. */
START_TEST(reinvite_adding_a_stream_keeps_the_first_streams_keys)
{
	char *o, *a, *o2, *a2;
	char off2[2048], ans2[2048];
	struct sdes_crypto kb1, ka1, kv;
	struct sdpx_desc d;
	basic_srtp_call(&o, &a);
	ck_assert(get_crypto(o, 0, &kb1));
	ck_assert(get_crypto(a, 0, &ka1));
	unsigned updates = R.updates;
	snprintf(off2, sizeof(off2), "%sm=video 4002 RTP/SAVP 96\r\n%s",
		peer_sdp("192.0.2.10", 2, 4000, "RTP/SAVP",
			crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 3));
	ck_assert_int_eq(offer(RP_MEDIA_A, off2, &o2), RP_MEDIA_OK);
	ck_assert_uint_eq(R.creates, 2);
	snprintf(ans2, sizeof(ans2), "%sm=video 5002 RTP/SAVP 96\r\n%s",
		peer_sdp("10.1.1.1", 2, 5000, "RTP/SAVP",
			crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)),
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 51));
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", ans2, &a2), RP_MEDIA_OK);
	/* Audio: the same keys of ours both ways, mediad's audio contexts untouched. */
	ck_assert_ptr_nonnull(strstr(o2, strstr(o, "a=crypto:1 ")));
	ck_assert_ptr_nonnull(strstr(a2, strstr(a, "a=crypto:1 ")));
	ck_assert_uint_eq(R.leg[1][0].in_sets, 1);
	ck_assert_uint_eq(R.leg[1][1].out_sets, 1);
	/* Video: session 2, programmed both legs with keys of its own. */
	ck_assert_uint_eq(R.updates, updates + 2);
	ck_assert(R.leg[2][0].in && R.leg[2][0].out && R.leg[2][1].in && R.leg[2][1].out);
	ck_assert_uint_eq(R.leg[2][1].port, 5002);
	ck_assert_int_eq(sdpx_read(a2, strlen(a2), &ar, &d, NULL), SDPX_OK);
	ck_assert_uint_eq(d.nstreams, 2);
	ck_assert_uint_eq(d.s[1].ncrypto, 1);
	ck_assert_int_eq(sdes_parse(d.s[1].crypto[0], &kv, NULL), SDES_OK);
	ck_assert(!same_key(&kv, &ka1));
	ck_assert(same_key(&kv, &R.leg[2][0].kout));
	ck_assert(!same_key(&R.leg[2][1].kout, &kb1));
	ck_assert_int_eq(rp_media_end(C), 0);
	ck_assert_uint_eq(R.deletes, 2);
	FREE(o); FREE(a); FREE(o2); FREE(a2);
}
END_TEST


/* With a backend that takes both legs at once (mediad's session.update),
 * an answer programs a stream in one call: SRTP in and out on leg a, the
 * remotes of both legs. A failed call is reported, changes nothing we
 * remember, and the same answer again programs both legs again. */
START_TEST(answer_programs_both_legs_in_one_call_when_the_backend_can)
{
	char *o, *a, *a2;
	BE.update2 = r_update2;
	CA.policy = CFG_MEDIA_REQUIRE;
	CB.policy = CFG_MEDIA_DISABLE;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	R.fail_update = EREMOTEIO;
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_RELAY);
	ck_assert_uint_eq(R.update2s, 0);
	ck_assert_uint_eq(R.updates, 0);
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "session.update"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "tt", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a2), RP_MEDIA_OK);
	ck_assert_uint_eq(R.update2s, 1);
	ck_assert_uint_eq(R.updates, 2); /* both legs, through the one call */
	ck_assert(R.leg[1][0].in && R.leg[1][0].out);
	ck_assert(!R.leg[1][1].in && !R.leg[1][1].out);
	ck_assert_str_eq(R.leg[1][0].addr, "192.0.2.10");
	ck_assert_uint_eq(R.leg[1][0].port, 4000);
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	ck_assert_uint_eq(R.leg[1][1].port, 5000);
	FREE(o); FREE(a2);
	(void)a;
}
END_TEST


/* Hostile offers: every truncation and a bounded set of byte mutations of
 * a golden SRTP offer, each in an exact-size heap copy (so ASan sees any
 * read past the end). Every result is a defined code; an accepted offer
 * rewrites to SDP that parses, and no key of ours goes toward UDP. */
START_TEST(mutated_offers_never_misbehave)
{
	char base[1024];
	static const char subst[] = { '\0', '\r', '\n', ' ', ':', '/', '0', '9', 'a', '|', '=', '-' };
	unsigned runs = 0;

	rp_log_set_level(RP_LOG_ERR); /* thousands of expected refusals */
	snprintf(base, sizeof(base), "%s", peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)));
	size_t n = strlen(base);
	CA.policy = CFG_MEDIA_ALLOW;
	CB.policy = CFG_MEDIA_ALLOW;
	for (size_t pos = 0; pos <= n; pos++) {
		for (size_t k = 0; k <= sizeof(subst); k++) {
			/* k == sizeof(subst): truncate at pos; else substitute. */
			size_t len = k == sizeof(subst) ? pos : n;
			if (k < sizeof(subst) && pos == n)
				continue;
			char *b = malloc(len ? len : 1);
			memcpy(b, base, len);
			if (k < sizeof(subst))
				b[pos] = subst[k];
			rp_media_call *c;
			rp_str out = RP_STR_NULL;
			ck_assert_int_eq(rp_media_call_new(&BE, RP_STR_LIT("m"), RP_STR_LIT("f"),
				&CA, &CB, &c), 0);
			int rc = rp_media_offer(c, RP_MEDIA_A, rp_str_make(b, len), &ar, &out);
			ck_assert(rc == RP_MEDIA_OK || rc == RP_MEDIA_REFUSE || rc == RP_MEDIA_BAD_SDP);
			if (rc == RP_MEDIA_OK) {
				struct sdpx_desc d;
				ck_assert_int_eq(sdpx_read(out.p, out.n, &ar, &d, NULL), SDPX_OK);
				ck_assert_ptr_null(memmem(out.p, out.n, "crypto", 6));
			}
			rp_media_call_free(c);
			ck_assert_uint_eq(R.creates, R.deletes); /* nothing left in mediad */
			memset(&R, 0, sizeof(R));
			free(b);
			rp_arena_reset(&ar);
			runs++;
		}
	}
	ck_assert_uint_gt(runs, 1000);
}
END_TEST


/* Hostile answers likewise: the answerer's own key text never comes out
 * toward the caller, and every end leaves nothing in mediad. */
START_TEST(mutated_answers_never_forward_the_peer_key)
{
	char base[1024], good_offer[1024], bkey[64];
	static const char subst[] = { '\0', '\n', ' ', ':', '0', 'a', '|', '=' };
	unsigned runs = 0;

	rp_log_set_level(RP_LOG_ERR);
	CA.policy = CFG_MEDIA_REQUIRE;
	CB.policy = CFG_MEDIA_REQUIRE;
	CB.transport = RP_MEDIA_TP_TLS;
	snprintf(good_offer, sizeof(good_offer), "%s", peer_sdp("192.0.2.10", 1, 4000,
		"RTP/SAVP", crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)));
	snprintf(bkey, sizeof(bkey), "%.20s", key64(30, 50));
	snprintf(base, sizeof(base), "%s", peer_sdp("10.1.1.1", 1, 5000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 50)));
	size_t n = strlen(base);
	for (size_t pos = 0; pos <= n; pos++) {
		for (size_t k = 0; k <= sizeof(subst); k++) {
			size_t len = k == sizeof(subst) ? pos : n;
			if (k < sizeof(subst) && pos == n)
				continue;
			char *b = malloc(len ? len : 1);
			memcpy(b, base, len);
			if (k < sizeof(subst))
				b[pos] = subst[k];
			rp_media_call *c;
			rp_str out = RP_STR_NULL;
			ck_assert_int_eq(rp_media_call_new(&BE, RP_STR_LIT("m"), RP_STR_LIT("f"),
				&CA, &CB, &c), 0);
			ck_assert_int_eq(rp_media_offer(c, RP_MEDIA_A, rp_str_cstr(good_offer), &ar,
				&out), RP_MEDIA_OK);
			int rc = rp_media_answer(c, RP_MEDIA_B, RP_STR_LIT("t"), rp_str_make(b, len),
				&ar, &out);
			ck_assert(rc == RP_MEDIA_OK || rc == RP_MEDIA_REFUSE || rc == RP_MEDIA_BAD_SDP);
			if (rc == RP_MEDIA_OK)
				ck_assert_ptr_null(memmem(out.p, out.n, bkey, strlen(bkey)));
			rp_media_call_free(c);
			ck_assert_uint_eq(R.creates, R.deletes);
			memset(&R, 0, sizeof(R));
			free(b);
			rp_arena_reset(&ar);
			runs++;
		}
	}
	ck_assert_uint_gt(runs, 1000);
}
END_TEST


START_TEST(ipv6_caller_bridged_to_ipv4_core)
{
	char *o, *a;
	CB.family = 4;
	new_call();
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("2001:db8::10", 1, 4000, "RTP/AVP", ""), &o),
		RP_MEDIA_OK);
	ck_assert(R.ip6 && !R.ip6_b);
	ck_assert_ptr_nonnull(strstr(o, "c=IN IP4 198.18.0.5\r\n"));
	ck_assert_ptr_null(strstr(o, "c=IN IP6"));
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert_ptr_nonnull(strstr(a, "c=IN IP6 2001:db8::5\r\n"));
	ck_assert_str_eq(R.leg[1][0].addr, "2001:db8::10");
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	FREE(o); FREE(a);
}
END_TEST


/* Every arena size from tiny up: an offer + answer either works or says
 * RP_MEDIA_NOMEM, never anything else, and nothing leaks or stays in
 * mediad. */
START_TEST(arena_exhaustion_is_nomem_only)
{
	char offer_sdp[1024], ans_sdp[1024];
	unsigned ok = 0, nomem = 0;

	rp_log_set_level(RP_LOG_ERR);
	CA.policy = CFG_MEDIA_REQUIRE;
	snprintf(offer_sdp, sizeof(offer_sdp), "%s", peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)));
	snprintf(ans_sdp, sizeof(ans_sdp), "%s", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""));
	for (size_t limit = 16; limit <= 16384; limit += 48) {
		rp_arena small;
		rp_media_call *c;
		rp_str out;
		rp_arena_init(&small, NULL, 0, limit);
		ck_assert_int_eq(rp_media_call_new(&BE, RP_STR_LIT("m"), RP_STR_LIT("f"), &CA, &CB,
			&c), 0);
		int rc = rp_media_offer(c, RP_MEDIA_A, rp_str_cstr(offer_sdp), &small, &out);
		ck_assert(rc == RP_MEDIA_OK || rc == RP_MEDIA_NOMEM);
		if (rc == RP_MEDIA_OK) {
			rc = rp_media_answer(c, RP_MEDIA_B, RP_STR_LIT("t"), rp_str_cstr(ans_sdp),
				&small, &out);
			ck_assert(rc == RP_MEDIA_OK || rc == RP_MEDIA_NOMEM);
		}
		rc == RP_MEDIA_OK ? ok++ : nomem++;
		rp_media_call_free(c);
		rp_arena_fini(&small);
		ck_assert_uint_eq(R.creates, R.deletes);
		memset(&R, 0, sizeof(R));
	}
	ck_assert_uint_gt(ok, 0);
	ck_assert_uint_gt(nomem, 0);
}
END_TEST

/* mediad refusing: session.create -> RP_MEDIA_RELAY with nothing created;
 * a failed leg.update -> RP_MEDIA_RELAY, and the same answer again programs
 * everything (our state did not pretend mediad had the keys). */
START_TEST(mediad_failures_reported_and_recoverable)
{
	char *o, *a;
	CA.policy = CFG_MEDIA_REQUIRE;
	new_call();
	R.fail_create = ECONNREFUSED;
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_RELAY);
	ck_assert_ptr_nonnull(strstr(rp_media_last_error(C), "session.create"));
	ck_assert_uint_eq(R.creates, 0);
	ck_assert_int_eq(offer(RP_MEDIA_A, peer_sdp("192.0.2.10", 1, 4000, "RTP/SAVP",
		crypto_line(1, "AES_CM_128_HMAC_SHA1_80", 30, 1)), &o), RP_MEDIA_OK);
	R.fail_update = EIO;
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_RELAY);
	ck_assert(!R.leg[1][0].in);
	ck_assert_int_eq(answer(RP_MEDIA_B, "t", peer_sdp("10.1.1.1", 1, 5000, "RTP/AVP", ""),
		&a), RP_MEDIA_OK);
	ck_assert(R.leg[1][0].in && R.leg[1][0].out);
	ck_assert_str_eq(R.leg[1][0].addr, "192.0.2.10");
	ck_assert_str_eq(R.leg[1][1].addr, "10.1.1.1");
	FREE(o); FREE(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy_media");
	TCase *tc = tcase_create("golden");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, srtp_offer_to_require_trunk_bridged_to_plain_core);
	tcase_add_test(tc, plain_offer_to_require_is_refused_488);
	tcase_add_test(tc, srtp_only_offer_to_disable_is_refused_488);
	tcase_add_test(tc, allow_optimistic_offers_crypto_on_avp_and_accepts_either_answer);
	tcase_add_test(tc, allow_plain_mode_sends_no_crypto);
	tcase_add_test(tc, require_toward_b_offers_savp_and_refuses_plain_answer);
	tcase_add_test(tc, suite_preference_of_the_trunk_wins);
	tcase_add_test(tc, unknown_suites_skipped_first_usable_taken);
	tcase_add_test(tc, mki_passed_to_mediad_or_line_skipped);
	tcase_add_test(tc, rekey_reinvite_rotates_keys_both_ways);
	tcase_add_test(tc, identical_reinvite_keeps_keys_and_contexts);
	tcase_add_test(tc, address_change_reinvite_updates_remote_only);
	tcase_add_test(tc, hold_sendonly_and_zero_address_pass_through);
	tcase_add_test(tc, ipv6_offer_gets_ipv6_relay);
	tcase_add_test(tc, ipv6_caller_bridged_to_ipv4_core);
	tcase_add_test(tc, savpf_kept_as_feedback_profile);
	tcase_add_test(tc, retransmitted_offer_same_answer_no_new_keys);
	tcase_add_test(tc, forked_early_dialogs_latest_answer_programs_b);
	tcase_add_test(tc, keys_refused_over_udp_unless_allowed);
	tcase_add_test(tc, secure_uri_asks_for_tls_and_srtp);
	tcase_add_test(tc, late_offer_in_200_answer_in_ack);
	tcase_add_test(tc, unsupported_stream_disabled_others_relayed);
	tcase_add_test(tc, non_unicast_connection_address_refused_before_ringing);
	tcase_add_test(tc, no_suite_list_accepts_any_encrypting_suite_not_null);
	tcase_add_test(tc, callee_reinvite_with_same_key_keeps_contexts);
	tcase_add_test(tc, call_table_find_add_remove_deletes_session);
	tcase_add_test(tc, audio_and_video_each_get_a_session);
	tcase_add_test(tc, reinvite_adding_a_stream_keeps_the_first_streams_keys);
	tcase_add_test(tc, answer_programs_both_legs_in_one_call_when_the_backend_can);
	tcase_add_test(tc, mutated_offers_never_misbehave);
	tcase_add_test(tc, arena_exhaustion_is_nomem_only);
	tcase_add_test(tc, mediad_failures_reported_and_recoverable);
	tcase_add_test(tc, short_key_lifetimes_accepted_not_readvertised);
	tcase_add_test(tc, rtcp_mux_offered_on_each_leg_decided_by_its_answer);
	tcase_add_test(tc, crypto_only_on_relayed_lines_in_every_policy);
	tcase_add_test(tc, stream_removed_by_reinvite_loses_its_session_and_keys);
	tcase_add_test(tc, mutated_answers_never_forward_the_peer_key);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
