/* libFuzzer target for mediad's packet path (mediad/session + msrtp): a
 * session whose leg A speaks SRTP (or SRTCP) and whose leg B is plain gets
 * the input as
 *   - a packet on A as it came off the wire (mostly fails authentication),
 *   - a plain packet on B (protected toward A: hostile CSRC counts,
 *     extension lengths, padding and RTCP headers reach the protect path),
 *   - the input protected by A's peer first, so it authenticates and the
 *     unprotect path parses whatever header the fuzzer wrote.
 * Byte 0 picks the suite, latching, rtcp-mux and which socket; the rest is
 * the packet. Buffers are exactly 'cap' bytes long: ASan sees any write
 * past cap and any read past len. What is forwarded toward the plain leg
 * must pass mediad/rtpcheck.h (a malformed header is never relayed). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"
#include "rtpcheck.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { A_RTP = 100, A_RTCP = 101, B_RTP = 102, B_RTCP = 103 };

static union maddr addr4(uint32_t ip, uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(port);
	a.in.sin_addr.s_addr = htonl(ip);
	return a;
}

static struct msrtp *ctx(enum msrtp_dir d, enum msrtp_suite su, uint8_t seed)
{
	uint8_t key[32], salt[14];
	struct msrtp_params p;
	struct msrtp *c = NULL;

	memset(key, seed, sizeof(key));
	memset(salt, seed ^ 0x5a, sizeof(salt));
	memset(&p, 0, sizeof(p));
	p.suite = su;
	p.key = key;
	p.salt = salt;
	if (msrtp_new(d, &p, &c) != 0)
		return NULL;
	return c;
}

static void feed(struct msess *s, const struct msock *in, union maddr src,
	const uint8_t *pkt, size_t len)
{
	size_t cap = len + MSRTP_TRAILER_ROOM, n = len;
	uint8_t *b = malloc(cap ? cap : 1);
	struct mfwd fwd;

	if (!b)
		return;
	memcpy(b, pkt, len);
	if (msess_packet(s, in, &src, b, &n, cap, 2000, &fwd) == MSESS_FORWARD) {
		if (n > cap || !fwd.dst || fwd.dstlen == 0)
			abort();
		/* Toward the plain leg B the packet goes out as it will be
		 * parsed there: its header must be consistent (rtpcheck.h). */
		if ((fwd.fd == B_RTP && mrtp_check(b, n) != MRTP_OK) ||
		    (fwd.fd == B_RTCP && mrtp_rtcp_check(b, n) != MRTP_OK))
			abort();
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	enum msrtp_suite su;
	struct mleg_update u;
	struct msrtp *peer_tx;
	struct msess *s;
	union maddr pa = addr4(0x7f000001, 4000), pb = addr4(0x7f000002, 6000);
	uint8_t mode;
	const uint8_t *pkt;
	size_t len;

	if (!inited) {
		if (msrtp_global_init() != 0)
			abort();
		inited = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0];
	pkt = data + 1;
	len = size - 1;
	su = (enum msrtp_suite)((mode & 0x0f) % MSRTP_SUITE_COUNT);
	if (!msrtp_suite_supported(su))
		su = MSRTP_AES_CM_128_HMAC_SHA1_80;
	if (msess_new(1, "fuzz", 1000, &s) != 0)
		return 0;
	msess_leg_set_sockets(s, 0, AF_INET, 20000, A_RTP, (mode & 0x10) ? -1 : A_RTCP);
	msess_leg_set_sockets(s, 1, AF_INET, 20002, B_RTP, B_RTCP);
	for (int i = 0; i < 2; i++) {
		memset(&u, 0, sizeof(u));
		u.set = MLEG_SET_REMOTE | MLEG_SET_LATCH | MLEG_SET_MUX;
		u.remote = i ? pb : pa;
		u.latch = (mode & 0x20) ? MLEG_LATCH_STRICT : MLEG_LATCH_ON;
		u.rtcp_mux = i == 0 && (mode & 0x10);
		if (i == 0) {
			u.set |= MLEG_SET_IN | MLEG_SET_OUT;
			u.in = ctx(MSRTP_UNPROTECT, su, 0x10);
			u.out = ctx(MSRTP_PROTECT, su, 0x20);
		}
		msess_leg_apply(s, i, &u, 1000);
	}
	const struct msock *a_in = (mode & 0x40) && !(mode & 0x10) ? &s->leg[0].rtcp :
		&s->leg[0].rtp;
	const struct msock *b_in = (mode & 0x40) ? &s->leg[1].rtcp : &s->leg[1].rtp;

	/* As it came off the wire, on A, then on B (plain -> SRTP toward A). */
	feed(s, a_in, pa, pkt, len);
	feed(s, b_in, pb, pkt, len);
	/* Authenticated by A's peer, so unprotect parses the fuzzer's header. */
	peer_tx = ctx(MSRTP_PROTECT, su, 0x10);
	if (peer_tx) {
		size_t cap = len + MSRTP_TRAILER_ROOM, n = len;
		uint8_t *b = malloc(cap ? cap : 1);
		int rc;

		if (b) {
			memcpy(b, pkt, len);
			rc = (mode & 0x40) || msess_is_rtcp(b, n) ?
				msrtp_protect_rtcp(peer_tx, b, &n, cap) :
				msrtp_protect_rtp(peer_tx, b, &n, cap);
			if (rc == MSRTP_OK) {
				if (n > cap)
					abort();
				feed(s, a_in, pa, b, n);
				/* And once more: the replay check must catch it. */
				feed(s, a_in, pa, b, n);
			}
			free(b);
		}
		msrtp_free(peer_tx);
	}
	msess_free(s);
	return 0;
}
