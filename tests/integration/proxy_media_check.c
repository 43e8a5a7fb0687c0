/* proxy_media_check: the proxy's media layer against a real rampart-mediad
 * (started by proxy_media_run.py on a temp socket and port range).
 *
 * A carrier (leg A, require, TLS) calls the core (leg B, disable, UDP):
 * offer with a=crypto -> rewritten offer (plain, mediad's B port) ->
 * plain answer -> rewritten answer (our key, mediad's A port). Then checks
 * session.query (both legs, remotes, SRTP flags), sends an SRTP packet with
 * the offer's key to A's port and expects the plain RTP at the core's
 * address from the answer, sends plain RTP back and unprotects it with the
 * key from our answer, re-INVITE with identical SDP keeps the contexts
 * (the stream goes on), a rekey re-INVITE rotates both keys (old key
 * dropped, new keys work), and ending the call deletes the session.
 *
 * usage: proxy_media_check CONTROL-SOCKET     exit 0 = pass */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media.h"
#include "mediactl.h"
#include "msrtp.h"
#include "rp_log.h"
#include "sdes.h"
#include "sdpx.h"

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define MUST(cond, ...) do { if (!(cond)) { CHECK(0, __VA_ARGS__); exit(1); } } while (0)

static int udp_sock(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	MUST(fd >= 0, "socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	MUST(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
	MUST(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0, "getsockname");
	*port = ntohs(sa.sin_port);
	return fd;
}

static void send_to(int fd, uint16_t port, const uint8_t *p, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	MUST(sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n, "sendto");
}

/* Receives one datagram within 2 s; returns its length or -1. */
static ssize_t recv_within(int fd, uint8_t *buf, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return recv(fd, buf, cap, 0);
}

static void rtp_packet(uint8_t *p, uint16_t seq, uint32_t ssrc)
{
	memset(p, 0, 172);
	p[0] = 0x80;
	p[1] = 0; /* PCMU */
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[7] = (uint8_t)(seq * 160);
	p[8] = (uint8_t)(ssrc >> 24); p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8); p[11] = (uint8_t)ssrc;
	for (int i = 12; i < 172; i++)
		p[i] = (uint8_t)(i ^ seq);
}

static struct msrtp *ctx(enum msrtp_dir dir, const struct sdes_crypto *c)
{
	struct msrtp_params p = { 0 };
	struct msrtp *m = NULL;
	p.suite = (enum msrtp_suite)c->suite;
	p.key = c->keys[0].key_salt;
	p.salt = c->keys[0].key_salt + sdes_suite_key_len(c->suite);
	MUST(msrtp_new(dir, &p, &m) == 0, "msrtp_new");
	return m;
}

/* Port and first crypto of the first stream of an SDP. */
static void read_sdp(rp_str body, rp_arena *a, uint16_t *port, char *addr, size_t addrsz,
	struct sdes_crypto *c, bool *has_crypto)
{
	struct sdpx_desc d;
	MUST(sdpx_read(body.p, body.n, a, &d, NULL) == SDPX_OK, "rewritten SDP does not parse");
	*port = d.s[0].port;
	rp_str_copy(d.s[0].addr, addr, addrsz);
	*has_crypto = d.s[0].ncrypto > 0;
	if (c && *has_crypto)
		MUST(sdes_parse(d.s[0].crypto[0], c, NULL) == SDES_OK, "our a=crypto");
}

static bool stream_once(int from_fd, uint16_t to_port, int to_fd, struct msrtp *prot,
	struct msrtp *unprot, uint16_t seq)
{
	uint8_t pkt[512], orig[172], got[512];
	size_t len = 172;
	ssize_t n;

	rtp_packet(orig, seq, 0x11223344);
	memcpy(pkt, orig, 172);
	if (prot)
		MUST(msrtp_protect_rtp(prot, pkt, &len, sizeof(pkt)) == MSRTP_OK, "protect");
	send_to(from_fd, to_port, pkt, len);
	n = recv_within(to_fd, got, sizeof(got));
	if (n < 0)
		return false;
	len = (size_t)n;
	if (unprot && msrtp_unprotect_rtp(unprot, got, &len) != MSRTP_OK)
		return false;
	return len == 172 && memcmp(got, orig, 172) == 0;
}

int main(int argc, char **argv)
{
	rp_mediactl *mc;
	struct rp_media_backend be;
	struct rp_media_leg_cfg ca, cb;
	rp_media_call *call;
	rp_arena ar;
	char store[32768], sdp[1024], addr[64];
	struct sdes_crypto a_key, our_a_key;
	uint16_t a_port, b_port, relay_a, relay_b;
	bool hc;
	rp_str out;
	int fa, fb, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CONTROL-SOCKET\n", argv[0]);
		return 2;
	}
	rp_log_open(RP_LOG_STDERR, "proxy_media_check", RP_LOG_INFO);
	rp_arena_init(&ar, store, sizeof(store), 0);
	MUST(rp_mediactl_open(argv[1], 3000, &mc) == 0, "connect to mediad");
	rp_media_backend_mediactl(mc, &be);
	rp_media_leg_cfg_init(&ca, RP_MEDIA_TP_TLS);
	ca.policy = CFG_MEDIA_REQUIRE;
	snprintf(ca.trunk, sizeof(ca.trunk), "carrier");
	snprintf(ca.tls_version, sizeof(ca.tls_version), "TLSv1.3");
	rp_media_leg_cfg_init(&cb, RP_MEDIA_TP_UDP);
	cb.policy = CFG_MEDIA_DISABLE;
	snprintf(cb.trunk, sizeof(cb.trunk), "core");
	MUST(rp_media_call_new(&be, RP_STR_LIT("itest-call@proxy-media"), RP_STR_LIT("ft"),
		&ca, &cb, &call) == 0, "call_new");

	fa = udp_sock(&a_port);
	fb = udp_sock(&b_port);
	MUST(sdes_generate(1, SDES_AES_CM_128_HMAC_SHA1_80, NULL, &a_key) == SDES_OK, "gen");
	char line[256];
	size_t ln;
	MUST(sdes_format(&a_key, line, sizeof(line), &ln) == SDES_OK, "format");
	snprintf(sdp, sizeof(sdp), "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/SAVP 0\r\na=crypto:%.*s\r\n",
		a_port, (int)ln, line);

	/* Offer A -> B. */
	rc = rp_media_offer(call, RP_MEDIA_A, rp_str_cstr(sdp), &ar, &out);
	MUST(rc == 0, "offer: %d %s", rc, rp_media_last_error(call));
	read_sdp(out, &ar, &relay_b, addr, sizeof(addr), NULL, &hc);
	CHECK(!hc, "keys went toward the plain core");
	CHECK(strcmp(addr, "127.0.0.1") == 0, "B relay address %s", addr);
	/* Answer B -> A. */
	char ans[512];
	snprintf(ans, sizeof(ans), "v=0\r\no=core 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/AVP 0\r\n", b_port);
	rc = rp_media_answer(call, RP_MEDIA_B, RP_STR_LIT("tt"), rp_str_cstr(ans), &ar, &out);
	MUST(rc == 0, "answer: %d %s", rc, rp_media_last_error(call));
	read_sdp(out, &ar, &relay_a, addr, sizeof(addr), &our_a_key, &hc);
	MUST(hc, "no a=crypto toward the carrier");
	CHECK(our_a_key.suite == SDES_AES_CM_128_HMAC_SHA1_80 && our_a_key.tag == 1, "suite/tag");

	/* mediad's view. */
	struct rp_media_info info;
	struct rp_mediactl_leg_state la, lb;
	char want[64];
	rp_media_call_info(call, &info);
	MUST(info.session > 0, "no session id");
	CHECK(info.leg[0].srtp && !info.leg[1].srtp, "CDR: A srtp, B plain");
	CHECK(strcmp(info.leg[0].tls_version, "TLSv1.3") == 0, "CDR TLS version");
	rc = rp_mediactl_query(mc, info.session, &la, &lb);
	MUST(rc == 0, "session.query: %d %s", rc, rp_mediactl_last_error(mc));
	CHECK(la.port == relay_a && lb.port == relay_b, "ports %u/%u vs SDP %u/%u", la.port,
		lb.port, relay_a, relay_b);
	CHECK(la.srtp_in && la.srtp_out, "leg a SRTP in/out");
	CHECK(!lb.srtp_in && !lb.srtp_out, "leg b plain");
	snprintf(want, sizeof(want), "127.0.0.1:%u", a_port);
	CHECK(strcmp(la.remote, want) == 0, "leg a remote %s, want %s", la.remote, want);
	snprintf(want, sizeof(want), "127.0.0.1:%u", b_port);
	CHECK(strcmp(lb.remote, want) == 0, "leg b remote %s, want %s", lb.remote, want);

	/* Media: SRTP from the carrier comes out plain at the core, and back. */
	struct msrtp *a_prot = ctx(MSRTP_PROTECT, &a_key);
	struct msrtp *a_unprot = ctx(MSRTP_UNPROTECT, &our_a_key);
	int ok_ab = 0, ok_ba = 0;
	for (uint16_t seq = 1; seq <= 5; seq++)
		ok_ab += stream_once(fa, relay_a, fb, a_prot, NULL, seq);
	for (uint16_t seq = 1; seq <= 5; seq++)
		ok_ba += stream_once(fb, relay_b, fa, NULL, a_unprot, seq);
	CHECK(ok_ab == 5, "SRTP A -> plain B: %d of 5", ok_ab);
	CHECK(ok_ba == 5, "plain B -> SRTP A: %d of 5", ok_ba);
	/* A tampered packet is dropped, not forwarded. */
	{
		uint8_t pkt[512];
		size_t len = 172;
		rtp_packet(pkt, 6, 0x11223344);
		MUST(msrtp_protect_rtp(a_prot, pkt, &len, sizeof(pkt)) == MSRTP_OK, "protect");
		pkt[20] ^= 1;
		send_to(fa, relay_a, pkt, len);
		CHECK(recv_within(fb, pkt, sizeof(pkt)) < 0, "tampered SRTP was forwarded");
	}

	/* Identical re-INVITE (new o= version): same keys, contexts kept: the
	 * stream continues with the same sender context. */
	char sdp2[1024];
	snprintf(sdp2, sizeof(sdp2), "v=0\r\no=carrier 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/SAVP 0\r\na=crypto:%.*s\r\n",
		a_port, (int)ln, line);
	MUST(rp_media_offer(call, RP_MEDIA_A, rp_str_cstr(sdp2), &ar, &out) == 0, "re-offer");
	MUST(rp_media_answer(call, RP_MEDIA_B, RP_STR_LIT("tt"), rp_str_cstr(ans), &ar, &out) == 0,
		"re-answer");
	struct sdes_crypto k2;
	read_sdp(out, &ar, &relay_a, addr, sizeof(addr), &k2, &hc);
	CHECK(hc && memcmp(k2.keys[0].key_salt, our_a_key.keys[0].key_salt, 30) == 0,
		"identical re-INVITE changed our key");
	CHECK(stream_once(fa, relay_a, fb, a_prot, NULL, 7), "stream after re-INVITE (A->B)");
	/* RTP whose CSRC count runs past its end, plain from B: dropped and
	 * counted as 'malformed' on leg b; the B->A packet after it orders the
	 * count before the query below. */
	{
		uint8_t bad[20] = { 0x8f, 0, 0, 9, 0, 0, 0, 0, 0x55, 0x66, 0x77, 0x88 };

		send_to(fb, relay_b, bad, sizeof(bad));
	}
	CHECK(stream_once(fb, relay_b, fa, NULL, a_unprot, 6), "stream after re-INVITE (B->A)");
	/* Loss as mediad counts it, read through rp_mediactl_query: A sent
	 * 1..5, a tampered 6 (not authenticated: not received) and 7, so one
	 * packet is lost toward leg a; B sent 1..6 in order. */
	rc = rp_mediactl_query(mc, info.session, &la, &lb);
	MUST(rc == 0, "session.query: %d %s", rc, rp_mediactl_last_error(mc));
	CHECK(la.packets_lost == 1, "leg a packets-lost %llu, want 1",
		(unsigned long long)la.packets_lost);
	CHECK(lb.packets_lost == 0, "leg b packets-lost %llu, want 0",
		(unsigned long long)lb.packets_lost);
	CHECK(lb.malformed == 1 && la.malformed == 0, "malformed a %llu b %llu, want 0 and 1",
		(unsigned long long)la.malformed, (unsigned long long)lb.malformed);
	sdes_crypto_wipe(&k2);

	/* Rekey re-INVITE: the carrier sends a new key; we rotate ours and
	 * mediad gets new contexts: the new keys work both ways, packets with
	 * the old key are dropped. */
	struct sdes_crypto a_key2, our_a_key2;
	char line2[256], sdp3[1024];
	size_t ln2;
	MUST(sdes_generate(1, SDES_AES_CM_128_HMAC_SHA1_80, NULL, &a_key2) == SDES_OK, "gen");
	MUST(sdes_format(&a_key2, line2, sizeof(line2), &ln2) == SDES_OK, "format");
	snprintf(sdp3, sizeof(sdp3), "v=0\r\no=carrier 1 3 IN IP4 127.0.0.1\r\ns=-\r\n"
		"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u RTP/SAVP 0\r\na=crypto:%.*s\r\n",
		a_port, (int)ln2, line2);
	MUST(rp_media_offer(call, RP_MEDIA_A, rp_str_cstr(sdp3), &ar, &out) == 0, "rekey offer");
	MUST(rp_media_answer(call, RP_MEDIA_B, RP_STR_LIT("tt"), rp_str_cstr(ans), &ar, &out) == 0,
		"rekey answer");
	read_sdp(out, &ar, &relay_a, addr, sizeof(addr), &our_a_key2, &hc);
	CHECK(hc && memcmp(our_a_key2.keys[0].key_salt, our_a_key.keys[0].key_salt, 30) != 0,
		"rekey re-INVITE did not rotate our key");
	struct msrtp *a_prot2 = ctx(MSRTP_PROTECT, &a_key2);
	struct msrtp *a_unprot2 = ctx(MSRTP_UNPROTECT, &our_a_key2);
	CHECK(!stream_once(fa, relay_a, fb, a_prot, NULL, 8), "old key still accepted after rekey");
	CHECK(stream_once(fa, relay_a, fb, a_prot2, NULL, 9), "new key A->B after rekey");
	CHECK(stream_once(fb, relay_b, fa, NULL, a_unprot2, 7), "new key B->A after rekey");
	msrtp_free(a_prot2);
	msrtp_free(a_unprot2);
	sdes_crypto_wipe(&a_key2);
	sdes_crypto_wipe(&our_a_key2);
	explicit_bzero(line2, sizeof(line2));

	/* End of call: the session is gone. */
	uint64_t sid = info.session;
	CHECK(rp_media_end(call) == 0, "end: %s", rp_mediactl_last_error(mc));
	rc = rp_mediactl_query(mc, sid, &la, &lb);
	CHECK(rc == -EREMOTEIO, "session %llu still there after the call ended (%d)",
		(unsigned long long)sid, rc);

	msrtp_free(a_prot);
	msrtp_free(a_unprot);
	sdes_crypto_wipe(&a_key);
	sdes_crypto_wipe(&our_a_key);
	explicit_bzero(line, sizeof(line));
	rp_media_call_free(call);
	rp_mediactl_close(mc);
	rp_arena_fini(&ar);
	close(fa);
	close(fb);
	printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
