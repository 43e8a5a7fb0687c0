/* nlclient fwdtest, stress and the socket tools: the packet path. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nlc.h"

/* ---- the packet path (plain RTP over IPv4, loopback only) ----------------- */

#define FWD_PAYLOAD 172	/* 12-byte RTP header + 160 bytes of "audio" */

static struct {
	int ps, pr;
	uint8_t mismatch;
} fp;

static void b_fwd(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "127.0.0.1", fp.ps);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, fp.mismatch);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.2", 40000);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.1", fp.pr);
}

static void b_pass(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, RAMPART_MISMATCH_PASS);
}

/* Every hop to itself: only the TTL ends it. */
static void b_loop(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", 40001);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.1", port);
}

static void b_srtp(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_xf_aes128(nlh, RAMPART_FLOW_A_SRTP_IN, 0);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.2", 40000);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.1", fp.pr);
}

static int udp_bound(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int send_to(int fd, int port, bool rtp, uint16_t seq)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t p[FWD_PAYLOAD];

	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 7 + seq);
	p[0] = rtp ? 0x80 : 0x00;	/* RTP version 2, or STUN-like */
	p[1] = 0;			/* PCMU */
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	return sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&a, sizeof(a)) ==
	       (ssize_t)sizeof(p) ? 0 : -1;
}

/* Waits up to @ms for one datagram; returns its length or -1. Checks the
 * payload against what send_to() made for @seq when @seq >= 0. */
static int recv_one(int fd, int ms, struct sockaddr_in *from, int seq, bool *intact)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t p[2048];
	socklen_t len = sizeof(*from);
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = recvfrom(fd, p, sizeof(p), 0, (struct sockaddr *)from, &len);
	if (n < 0)
		return -1;
	if (intact) {
		*intact = n == FWD_PAYLOAD;
		for (ssize_t i = 4; *intact && i < n; i++)
			*intact = p[i] == (uint8_t)(i * 7 + seq);
		*intact = *intact && p[0] == 0x80 && p[2] == (uint8_t)(seq >> 8) &&
			  p[3] == (uint8_t)seq;
	}
	return (int)n;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

/* Sends RTP to 127.0.0.1:@dport from 127.0.0.1:@sport through a raw socket
 * with a UDP checksum computed here (good, or off by one), so that the
 * stack treats it as a fully checksummed packet (loopback otherwise leaves
 * UDP checksums to "hardware" and nobody ever verifies them). */
static int send_raw(int sport, int dport, uint16_t seq, bool good_csum)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t pkt[8 + FWD_PAYLOAD], pseudo[12] = { 127, 0, 0, 1, 127, 0, 0, 1, 0, 17 };
	uint16_t ulen = sizeof(pkt), ck;
	uint32_t sum;
	int fd, ret;

	for (size_t i = 0; i < FWD_PAYLOAD; i++)
		pkt[8 + i] = (uint8_t)(i * 7 + seq);
	pkt[8] = 0x80;
	pkt[9] = 0;
	pkt[10] = (uint8_t)(seq >> 8);
	pkt[11] = (uint8_t)seq;
	pkt[0] = (uint8_t)(sport >> 8);
	pkt[1] = (uint8_t)sport;
	pkt[2] = (uint8_t)(dport >> 8);
	pkt[3] = (uint8_t)dport;
	pkt[4] = (uint8_t)(ulen >> 8);
	pkt[5] = (uint8_t)ulen;
	pkt[6] = pkt[7] = 0;
	pseudo[10] = (uint8_t)(ulen >> 8);
	pseudo[11] = (uint8_t)ulen;
	sum = csum_add(csum_add(0, pseudo, sizeof(pseudo)), pkt, sizeof(pkt));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ck = (uint16_t)~sum;
	if (ck == 0)
		ck = 0xffff;
	if (!good_csum)
		ck = (uint16_t)(ck == 0x1234 ? 0x4321 : 0x1234);
	pkt[6] = (uint8_t)(ck >> 8);
	pkt[7] = (uint8_t)ck;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	ret = sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&a, sizeof(a)) ==
	      (ssize_t)sizeof(pkt) ? 0 : -1;
	close(fd);
	return ret;
}

/* ---- IPv6 -------------------------------------------------------------- */

static int udp_bound6(int *port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin6_port);
	return fd;
}

static void rtp_fill(uint8_t *p, size_t n, uint16_t seq)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seq);
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
}

/* Sends one RTP packet to [::1]:@dport: through @fd when @fd >= 0, else
 * from [::1]:@sport through a raw socket with a checksum computed here
 * (good or deliberately wrong). */
static int send6(int fd, int sport, int dport, uint16_t seq, bool good_csum)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				  .sin6_port = htons((uint16_t)dport) };
	uint8_t pkt[8 + FWD_PAYLOAD], pseudo[40] = { 0 };
	uint16_t ulen = sizeof(pkt), ck;
	uint32_t sum;
	int ret;

	if (fd >= 0) {
		rtp_fill(pkt, FWD_PAYLOAD, seq);
		return sendto(fd, pkt, FWD_PAYLOAD, 0, (struct sockaddr *)&a, sizeof(a)) ==
		       FWD_PAYLOAD ? 0 : -1;
	}
	rtp_fill(pkt + 8, FWD_PAYLOAD, seq);
	pkt[0] = (uint8_t)(sport >> 8);
	pkt[1] = (uint8_t)sport;
	pkt[2] = (uint8_t)(dport >> 8);
	pkt[3] = (uint8_t)dport;
	pkt[4] = (uint8_t)(ulen >> 8);
	pkt[5] = (uint8_t)ulen;
	pkt[6] = pkt[7] = 0;
	pseudo[15] = 1;				/* source ::1 */
	pseudo[31] = 1;				/* destination ::1 */
	pseudo[34] = (uint8_t)(ulen >> 8);
	pseudo[35] = (uint8_t)ulen;
	pseudo[39] = IPPROTO_UDP;
	sum = csum_add(csum_add(0, pseudo, sizeof(pseudo)), pkt, sizeof(pkt));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ck = (uint16_t)~sum;
	if (ck == 0)
		ck = 0xffff;
	if (!good_csum)
		ck = (uint16_t)(ck == 0x1234 ? 0x4321 : 0x1234);
	pkt[6] = (uint8_t)(ck >> 8);
	pkt[7] = (uint8_t)ck;
	/* A raw IPv6 socket's port field must be 0; the UDP header is ours. */
	a.sin6_port = 0;
	fd = socket(AF_INET6, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0)
		return -1;
	ret = sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&a, sizeof(a)) ==
	      (ssize_t)sizeof(pkt) ? 0 : -1;
	close(fd);
	return ret;
}

static int recv6(int fd, int ms, struct sockaddr_in6 *from, int seq, bool *intact)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t p[2048];
	socklen_t len = sizeof(*from);
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = recvfrom(fd, p, sizeof(p), 0, (struct sockaddr *)from, &len);
	if (n < 0)
		return -1;
	if (intact) {
		uint8_t want[FWD_PAYLOAD];

		rtp_fill(want, sizeof(want), (uint16_t)seq);
		*intact = n == FWD_PAYLOAD && memcmp(p, want, sizeof(want)) == 0;
	}
	return (int)n;
}

static struct {
	int ps, pr;
} f6;

static void b_fwd6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "::1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "::1", f6.ps);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "::1", 40002);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "::1", f6.pr);
}

static void b_key6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "::1", port);
}

static void fwdtest6(struct nlc *c)
{
	struct sockaddr_in6 from;
	struct flows fl = { 0 };
	int pl, l = udp_bound6(&pl), s = udp_bound6(&f6.ps), r = udp_bound6(&f6.pr);
	int ret, got = 0, good = 0;
	bool intact;

	if (l < 0 || s < 0 || r < 0) {
		check(false, "IPv6 loopback sockets: %s", strerror(errno));
		goto out;
	}
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_fwd6, pl, NULL);
	check(ret == 0, "ADD IPv6 plain RTP flow [::1]:%d -> [::1]:%d (%s)", pl, f6.pr,
	      c->errmsg);
	for (int i = 0; i < 5; i++) {
		intact = false;
		if (send6(s, 0, pl, (uint16_t)(4000 + i), true) ||
		    recv6(r, 2000, &from, 4000 + i, &intact) < 0)
			continue;
		got++;
		good += intact && ntohs(from.sin6_port) == 40002;
	}
	check(got == 5 && good == 5 && recv6(l, 0, &from, -1, NULL) < 0,
	      "IPv6: 5 RTP packets forwarded intact from [::1]:40002, none to the "
	      "local socket (%d got, %d good)", got, good);
	got = 0;
	for (int i = 0; i < 3; i++) {
		intact = false;
		if (send6(-1, f6.ps, pl, (uint16_t)(4100 + i), true) == 0 &&
		    recv6(r, 2000, &from, 4100 + i, &intact) > 0 && intact)
			got++;
	}
	send6(-1, f6.ps, pl, 4200, false);
	check(got == 3 && recv6(r, 500, &from, -1, NULL) < 0,
	      "IPv6: software-checksummed packets pass the receiver's check after "
	      "the rewrite (%d/3); a bad one does not", got);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_GET, b_key6, pl, &fl);
	check(ret == 0 && fl.n == 1 && fl.v[0].stats[RAMPART_STATS_A_PACKETS] == 9 &&
	      fl.v[0].stats[RAMPART_STATS_A_BYTES] == 9 * FWD_PAYLOAD,
	      "IPv6 counters: %" PRIu64 " packets", fl.n == 1 ?
	      fl.v[0].stats[RAMPART_STATS_A_PACKETS] : 0);
	free(fl.v);
	flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key6, pl, NULL);
out:
	if (l >= 0)
		close(l);
	if (s >= 0)
		close(s);
	if (r >= 0)
		close(r);
}

int fwdtest(struct nlc *c)
{
	struct sockaddr_in from;
	struct flow_view f;
	int pl = 0, ps = 0, ps2 = 0, pr = 0, pl2 = 0;
	int l = udp_bound(&pl), s = udp_bound(&ps), s2 = udp_bound(&ps2);
	int r = udp_bound(&pr), l2 = udp_bound(&pl2);
	int ret, got = 0, good = 0;

	if (l < 0 || s < 0 || s2 < 0 || r < 0 || l2 < 0) {
		perror("fwdtest: socket");
		return 1;
	}
	fp.ps = ps;
	fp.pr = pr;
	fp.mismatch = RAMPART_MISMATCH_DROP;
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_fwd, pl, NULL);
	check(ret == 0, "ADD plain RTP flow 127.0.0.1:%d -> 127.0.0.1:%d (%s)", pl, pr,
	      c->errmsg);

	for (int i = 0; i < 10; i++) {
		bool intact = false;

		if (send_to(s, pl, true, (uint16_t)(1000 + i)))
			break;
		if (recv_one(r, 2000, &from, 1000 + i, &intact) < 0)
			continue;
		got++;
		good += intact && from.sin_addr.s_addr == htonl(0x7f000002) &&
			ntohs(from.sin_port) == 40000;
	}
	check(got == 10 && good == 10,
	      "10 RTP packets forwarded, intact, from 127.0.0.2:40000 (%d got, %d good)",
	      got, good);
	check(recv_one(l, 0, &from, -1, NULL) < 0, "the local socket saw none of them");

	got = good = 0;
	for (int i = 0; i < 5; i++) {
		bool intact = false;

		if (send_raw(ps, pl, (uint16_t)(2000 + i), true))
			break;
		if (recv_one(r, 2000, &from, 2000 + i, &intact) < 0)
			continue;
		got++;
		good += intact;
	}
	check(got == 5 && good == 5,
	      "5 fully checksummed packets forwarded and pass the receiver's UDP "
	      "checksum check (%d got)", got);
	send_raw(ps, pl, 2100, false);
	check(recv_one(r, 500, &from, -1, NULL) < 0,
	      "control: a packet with a bad UDP checksum is forwarded but not received");

	send_to(s, pl, false, 1);
	check(recv_one(l, 2000, &from, -1, NULL) == FWD_PAYLOAD &&
	      recv_one(r, 300, &from, -1, NULL) < 0,
	      "a non-RTP packet is left to the local socket");

	send_to(s2, pl, true, 2);
	check(recv_one(l, 500, &from, -1, NULL) < 0 && recv_one(r, 300, &from, -1, NULL) < 0,
	      "RTP from an unexpected source is dropped (MISMATCH DROP)");
	ret = flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_pass, pl, NULL);
	send_to(s2, pl, true, 3);
	check(ret == 0 && recv_one(l, 2000, &from, -1, NULL) == FWD_PAYLOAD &&
	      recv_one(r, 300, &from, -1, NULL) < 0,
	      "after UPDATE to MISMATCH PASS it reaches the local socket");

	ret = get1(c, pl, &f);
	check(ret == 0 && f.stats[RAMPART_STATS_A_PACKETS] == 16 &&
	      f.stats[RAMPART_STATS_A_BYTES] == 16 * FWD_PAYLOAD &&
	      f.stats[RAMPART_STATS_A_SRC_MISMATCH] == 2 &&
	      f.stats[RAMPART_STATS_A_AUTH_FAIL] == 0 &&
	      f.stats[RAMPART_STATS_A_LAST_SEEN_NS] > 0,
	      "counters: packets %" PRIu64 " bytes %" PRIu64 " mismatches %" PRIu64
	      " last seen %" PRIu64, f.stats[RAMPART_STATS_A_PACKETS],
	      f.stats[RAMPART_STATS_A_BYTES], f.stats[RAMPART_STATS_A_SRC_MISMATCH],
	      f.stats[RAMPART_STATS_A_LAST_SEEN_NS]);

	ret = flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl, NULL);
	send_to(s, pl, true, 4);
	check(ret == 0 && recv_one(l, 2000, &from, -1, NULL) == FWD_PAYLOAD &&
	      recv_one(r, 300, &from, -1, NULL) < 0,
	      "after DEL packets reach the local socket again");

	/* Plain RTP on an SRTP_IN flow fails authentication in the kernel
	 * (srtptest checks real SRTP against libsrtp). Sequence number above
	 * the flow's SEQ (100): at or below it, it would be a replay. */
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_srtp, pl, NULL);
	send_to(s, pl, true, 105);
	check(ret == 0 && recv_one(l, 500, &from, -1, NULL) < 0 &&
	      recv_one(r, 300, &from, -1, NULL) < 0 && get1(c, pl, &f) == 0 &&
	      f.stats[RAMPART_STATS_A_AUTH_FAIL] == 1,
	      "an unauthenticated packet on an SRTP flow is dropped and counted "
	      "(auth_fail %" PRIu64 ")", f.stats[RAMPART_STATS_A_AUTH_FAIL]);
	flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl, NULL);

	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_loop, pl2, NULL);
	send_to(s, pl2, true, 6);
	(void)recv_one(l2, 1000, &from, -1, NULL);
	memset(&f, 0, sizeof(f));
	get1(c, pl2, &f);
	check(ret == 0 && f.stats[RAMPART_STATS_A_PACKETS] >= 1 &&
	      f.stats[RAMPART_STATS_A_PACKETS] < 64,
	      "a flow forwarding to itself dies out by TTL (%" PRIu64 " hops)",
	      f.stats[RAMPART_STATS_A_PACKETS]);
	flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl2, NULL);

	close(l);
	close(s);
	close(s2);
	close(r);
	close(l2);

	fwdtest6(c);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}

/* ---- building blocks for scripted topologies (tests/kmod/netns-test.sh) --- */

static struct {
	const char *local, *expect, *out_src, *out_dst;
	long lport, sport, dport;
} ta;

static void b_args(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, ta.local, port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, ta.expect, -1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, ta.out_src, ta.sport);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, ta.out_dst, ta.dport);
}

static void b_args_key(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, ta.local, port);
}

/* add-flow LOCAL LPORT EXPECT OUT_SRC SPORT OUT_DST DPORT */
int cmd_add_flow(struct nlc *c, char **argv)
{
	ta.local = argv[0];
	ta.lport = strtol(argv[1], NULL, 10);
	ta.expect = argv[2];
	ta.out_src = argv[3];
	ta.sport = strtol(argv[4], NULL, 10);
	ta.out_dst = argv[5];
	ta.dport = strtol(argv[6], NULL, 10);
	return flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_args, ta.lport, NULL);
}

/* packets LOCAL LPORT: prints the PACKETS counter */
int cmd_packets(struct nlc *c, char **argv)
{
	struct flows fl = { 0 };
	int ret;

	ta.local = argv[0];
	ret = flow_cmd(c, RAMPART_CMD_FLOW_GET, b_args_key, strtol(argv[1], NULL, 10), &fl);
	if (ret == 0 && fl.n == 1)
		printf("%" PRIu64 "\n", fl.v[0].stats[RAMPART_STATS_A_PACKETS]);
	free(fl.v);
	return ret ? ret : (fl.n == 1 ? 0 : 1);
}

static int udp_sock4(const char *addr, long port, struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (fd < 0 || inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* udp-send DST DPORT COUNT: COUNT RTP packets, 20 ms apart */
int cmd_udp_send(char **argv)
{
	struct sockaddr_in sa;
	long n = strtol(argv[2], NULL, 10);
	int fd = udp_sock4(argv[0], strtol(argv[1], NULL, 10), &sa);
	uint8_t p[FWD_PAYLOAD];

	if (fd < 0 || n < 0 || n > 10000)
		return 2;
	for (long i = 0; i < n; i++) {
		uint16_t seq = (uint16_t)(3000 + i);

		for (size_t k = 0; k < sizeof(p); k++)
			p[k] = (uint8_t)(k * 7 + seq);
		p[0] = 0x80;
		p[1] = 0;
		p[2] = (uint8_t)(seq >> 8);
		p[3] = (uint8_t)seq;
		if (sendto(fd, p, sizeof(p), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("udp-send");
			close(fd);
			return 1;
		}
		usleep(20000);
	}
	close(fd);
	return 0;
}

/* udp-recv ADDR PORT COUNT SECONDS: exit 0 when COUNT intact packets came */
int cmd_udp_recv(char **argv)
{
	struct sockaddr_in sa, from = { 0 };
	long want = strtol(argv[2], NULL, 10), secs = strtol(argv[3], NULL, 10);
	int fd = udp_sock4(argv[0], strtol(argv[1], NULL, 10), &sa);
	long got = 0, intact_n = 0;
	char who[INET_ADDRSTRLEN] = "-";
	time_t end = time(NULL) + (secs > 0 && secs < 600 ? secs : 10);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("udp-recv");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	while (got < want && time(NULL) < end) {
		bool intact = false;

		if (recv_one(fd, 500, &from, (int)(3000 + got), &intact) < 0)
			continue;
		got++;
		intact_n += intact;
		inet_ntop(AF_INET, &from.sin_addr, who, sizeof(who));
	}
	close(fd);
	printf("received %ld intact %ld last from %s:%d\n", got, intact_n, who,
	       ntohs(from.sin_port));
	return got == want && intact_n == want ? 0 : 1;
}

/* ---- stress: control-plane churn racing the packet path ------------------ */

#define STRESS_PORTS 16

static struct {
	int base, pr;
	uint8_t mismatch;
} st;

static void b_stress(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, st.mismatch);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.2", 40000 + (port & 7));
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.1", st.pr);
}

/* Returns the number of unexpected errors. */
static int stress_churn(long iters, unsigned int seed)
{
	struct nlc c;
	struct flow_view f;
	int errs = 0;

	if (nlc_open(&c))
		return 1;
	for (long i = 0; i < iters; i++) {
		long port = st.base + (long)(rand_r(&seed) % STRESS_PORTS);
		int ret;

		st.mismatch = (uint8_t)(i & 1);
		switch (rand_r(&seed) % 4) {
		case 0:
			ret = flow_cmd(&c, RAMPART_CMD_FLOW_ADD, b_stress, port, NULL);
			errs += ret && ret != -EEXIST;
			break;
		case 1:
			ret = flow_cmd(&c, RAMPART_CMD_FLOW_UPDATE, b_stress, port, NULL);
			errs += ret && ret != -ENOENT;
			break;
		case 2:
			ret = get1(&c, port, &f);
			errs += ret && ret != -ENOENT;
			break;
		default:
			ret = flow_cmd(&c, RAMPART_CMD_FLOW_DEL, b_key, port, NULL);
			errs += ret && ret != -ENOENT;
		}
	}
	nlc_close(&c);
	return errs;
}

static int stress_dump(long iters)
{
	struct nlc c;
	int errs = 0;

	if (nlc_open(&c))
		return 1;
	for (long i = 0; i < iters; i++) {
		struct flows fl = { 0 };

		errs += dump(&c, &fl) != 0 || fl.n > STRESS_PORTS;
		free(fl.v);
		if (i % 16 == 15)
			errs += flush(&c, NULL) != 0;
	}
	nlc_close(&c);
	return errs;
}

static int stress_send(long packets)
{
	int port, fd = udp_bound(&port);
	unsigned int seed = 7;

	if (fd < 0)
		return 1;
	for (long i = 0; i < packets; i++)
		send_to(fd, st.base + (int)(rand_r(&seed) % STRESS_PORTS), true,
			(uint16_t)i);
	close(fd);
	return 0;
}

/* stress ITERS: two churners, a dumper/flusher and a sender race each other;
 * the harness judges the kernel log afterwards. */
int cmd_stress(struct nlc *c, long iters)
{
	int rfd = udp_bound(&st.pr), lport, lfd = udp_bound(&lport);
	pid_t pids[4];
	int bad = 0;
	uint32_t n = 0;

	if (rfd < 0 || lfd < 0 || iters < 1 || iters > 1000000)
		return 2;
	/* The flows' ports are taken by no socket but this range start. */
	st.base = lport + 1;
	for (int k = 0; k < 4; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			int r = k < 2 ? stress_churn(iters, (unsigned int)(k + 1)) :
				k == 2 ? stress_dump(iters / 8) : stress_send(iters * 4);

			_exit(r > 100 ? 100 : r);
		}
	}
	for (int k = 0; k < 4; k++) {
		int stt = -1;

		if (pids[k] > 0)
			waitpid(pids[k], &stt, 0);
		if (pids[k] <= 0 || !WIFEXITED(stt) || WEXITSTATUS(stt)) {
			fprintf(stderr, "stress: worker %d: status %d\n", k, stt);
			bad++;
		}
	}
	bad += flush(c, &n) != 0;
	bad += flow_count(c) != 0;
	/* Proof that packets really were forwarded while flows churned (the
	 * socket buffer caps what can be counted here). */
	{
		struct sockaddr_in from;
		long fwd = 0;

		while (fwd < 1000000 && recv_one(rfd, 0, &from, -1, NULL) > 0)
			fwd++;
		bad += fwd == 0;
		printf("stress: at least %ld packets forwarded during the churn\n", fwd);
	}
	close(rfd);
	close(lfd);
	printf("%s stress: %ld iterations x 2 churners, dumper, sender; %d bad\n",
	       bad ? "not ok" : "ok", iters, bad);
	return bad ? 1 : 0;
}

