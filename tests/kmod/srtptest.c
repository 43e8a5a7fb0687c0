/*
 * srtptest: SRTP in rampart.ko checked against libsrtp (mediad/msrtp.h),
 * on IPv4 loopback inside the test VM (tests/kmod/vm-test.sh).
 *
 *   srtptest check            per suite: SRTP->RTP, RTP->SRTP, SRTP->SRTP
 *                             byte for byte against libsrtp, tampered and
 *                             replayed packets dropped and counted, the
 *                             65535 -> 0 wrap (ROC) as libsrtp sees it,
 *                             FLOW_GET's ROC/SEQ, the B.3 self-test bit
 *   srtptest fill N PORT      add N SRTP->SRTP flows on 127.0.0.1:PORT..
 *   srtptest send PORT N PPS  send N valid SRTP packets to PORT (N/PPS s)
 *   srtptest churn ITERS      SRTP flows added/updated/deleted/flushed
 *                             while SRTP packets run through them
 *   srtptest veth-flow LOCAL LPORT OUTSRC OSPORT OUTDST ODPORT in|out|both
 *   srtptest veth-send DST PORT N SEQ0 in|out|both
 *   srtptest veth-recv ADDR PORT N SEQ0 SECS in|out|both
 *                             SRTP across namespaces and veth pairs
 *                             (tests/kmod/netns-test.sh): AES_CM_128_HMAC_SHA1_80,
 *                             key 1 toward rampart, key 2 from it
 *   srtptest bench NFLOWS NPKTS [aes|null|plain]
 *                             kernel SRTP->RTP (AES_CM_128_HMAC_SHA1_80)
 *                             packets per CPU-second (tests/kmod/bench-kernel.sh);
 *                             null/plain: the same without encryption / SRTP
 *
 * Prints one "ok N - ..." / "not ok N - ..." line per check and exits 0
 * only when all passed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nlc.h"
#include "msrtp.h"

#define PAYLOAD 160
#define SSRC 0x5eed1234u

static const struct {
	uint32_t k;		/* enum rampart_suite */
	enum msrtp_suite m;
	const char *name;
} suites[] = {
	{ RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80, MSRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80" },
	{ RAMPART_SUITE_AES_CM_128_HMAC_SHA1_32, MSRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32" },
	{ RAMPART_SUITE_AES_192_CM_HMAC_SHA1_80, MSRTP_AES_192_CM_HMAC_SHA1_80, "AES_192_CM_HMAC_SHA1_80" },
	{ RAMPART_SUITE_AES_256_CM_HMAC_SHA1_80, MSRTP_AES_256_CM_HMAC_SHA1_80, "AES_256_CM_HMAC_SHA1_80" },
	{ RAMPART_SUITE_AES_256_CM_HMAC_SHA1_32, MSRTP_AES_256_CM_HMAC_SHA1_32, "AES_256_CM_HMAC_SHA1_32" },
	{ RAMPART_SUITE_AEAD_AES_128_GCM, MSRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM" },
	{ RAMPART_SUITE_AEAD_AES_256_GCM, MSRTP_AEAD_AES_256_GCM, "AEAD_AES_256_GCM" },
	{ RAMPART_SUITE_NULL_HMAC_SHA1_80, MSRTP_NULL_HMAC_SHA1_80, "NULL_HMAC_SHA1_80" },
};

struct key {
	uint8_t key[32], salt[14];
};

static void make_key(struct key *k, uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		k->key[i] = (uint8_t)(seed * 31 + i * 7 + 1);
	for (int i = 0; i < 14; i++)
		k->salt[i] = (uint8_t)(seed * 17 + i * 11 + 3);
}

static void put_srtp(struct nlmsghdr *nlh, int type, enum msrtp_suite m,
		     uint32_t suite, const struct key *k, bool inbound)
{
	size_t kl = msrtp_key_len(m), sl = msrtp_salt_len(m);
	struct nlattr *n = mnl_attr_nest_start(nlh, (uint16_t)type);

	mnl_attr_put_u32(nlh, RAMPART_XF_A_SUITE, suite);
	mnl_attr_put(nlh, kl == 16 ? RAMPART_XF_A_KEY_128 :
			  kl == 24 ? RAMPART_XF_A_KEY_192 : RAMPART_XF_A_KEY_256,
		     kl, k->key);
	mnl_attr_put(nlh, sl == 14 ? RAMPART_XF_A_SALT_112 : RAMPART_XF_A_SALT_96,
		     sl, k->salt);
	if (inbound)
		mnl_attr_put_u32(nlh, RAMPART_XF_A_REPLAY_WINDOW, 128);
	mnl_attr_nest_end(nlh, n);
}

/* The flow the builder below makes. */
static struct {
	int si;			/* index in suites[] */
	bool in, out;
	struct key kin, kout;
	int pr;			/* receiver port */
} fl;

static void b_flow(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	if (fl.in)
		put_srtp(nlh, RAMPART_FLOW_A_SRTP_IN, suites[fl.si].m, suites[fl.si].k,
			 &fl.kin, true);
	if (fl.out)
		put_srtp(nlh, RAMPART_FLOW_A_SRTP_OUT, suites[fl.si].m,
			 suites[fl.si].k, &fl.kout, false);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.2", 40000);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.1", fl.pr);
}

static int bound(int *port)
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

static int send_pkt(int fd, int port, const uint8_t *p, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return sendto(fd, p, n, 0, (struct sockaddr *)&a, sizeof(a)) == (ssize_t)n ? 0 : -1;
}

/* One datagram within @ms, its length, or -1. */
static int recv_pkt(int fd, int ms, uint8_t *p, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	return (int)recv(fd, p, cap, 0);
}

static size_t make_rtp(uint8_t *p, uint16_t seq)
{
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)((seq * 160u) >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(SSRC >> (24 - 8 * i));
	}
	for (int i = 0; i < PAYLOAD; i++)
		p[12 + i] = (uint8_t)(i * 13 + seq);
	return 12 + PAYLOAD;
}

static struct msrtp *ctx(enum msrtp_dir d, enum msrtp_suite m, const struct key *k)
{
	struct msrtp_params p = { .suite = m, .key = k->key, .salt = k->salt };
	struct msrtp *c = NULL;

	if (msrtp_new(d, &p, &c))
		return NULL;
	return c;
}

static int get_local(struct nlc *c, int port, struct flow_view *f)
{
	memset(f, 0, sizeof(*f));
	return get1(c, port, f);
}

/* Sends @n packets from sequence @seq0 through the flow on @pl; what
 * arrives at @r must equal, after @uout (libsrtp unprotect, if any), the
 * RTP packet that went in before @pin (libsrtp protect, if any). */
static int run(int s, int pl, int r, struct msrtp *pin, struct msrtp *uout,
	       uint16_t seq0, int n, int *good)
{
	uint8_t want[512], p[512], got[512];
	int arrived = 0;

	*good = 0;
	for (int i = 0; i < n; i++) {
		size_t len = make_rtp(p, (uint16_t)(seq0 + i)), glen;
		int g;

		memcpy(want, p, len);
		if (pin && msrtp_protect_rtp(pin, p, &len, sizeof(p)))
			return -1;
		if (send_pkt(s, pl, p, len))
			return -1;
		g = recv_pkt(r, 2000, got, sizeof(got));
		if (g < 0)
			continue;
		arrived++;
		glen = (size_t)g;
		if (uout && msrtp_unprotect_rtp(uout, got, &glen))
			continue;
		*good += glen == 12 + PAYLOAD && !memcmp(got, want, glen);
	}
	return arrived;
}

static void suite_test(struct nlc *c, int si)
{
	const char *name = suites[si].name;
	enum msrtp_suite m = suites[si].m;
	struct msrtp *tx, *rx, *tx2;
	struct flow_view f;
	uint8_t p[512], old[512];
	size_t len, oldlen = 0;
	int pl = 0, s, r, ps = 0, got, good, ret;

	if (!msrtp_suite_supported(m)) {
		printf("# %s: this libsrtp cannot do it; skipped\n", name);
		return;
	}
	s = bound(&ps);
	r = bound(&fl.pr);
	{
		int l = bound(&pl);	/* a port nobody else gets; kept bound */

		if (s < 0 || r < 0 || l < 0) {
			check(false, "%s: sockets", name);
			return;
		}

		fl.si = si;
		make_key(&fl.kin, (uint8_t)(si * 2 + 1));
		make_key(&fl.kout, (uint8_t)(si * 2 + 2));

		/* SRTP -> RTP, across the 65535 -> 0 wrap. */
		fl.in = true;
		fl.out = false;
		ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, pl, NULL);
		check(ret == 0, "%s: ADD SRTP->RTP flow (%s)", name, c->errmsg);
		tx = ctx(MSRTP_PROTECT, m, &fl.kin);
		got = run(s, pl, r, tx, NULL, 65530, 12, &good);
		check(got == 12 && good == 12,
		      "%s: SRTP->RTP: libsrtp's packets decrypted to the exact RTP across "
		      "seq 65530..5 (%d arrived, %d exact)", name, got, good);
		ret = get_local(c, pl, &f);
		check(ret == 0 && f.in.present && f.in.roc == 1 && f.in.seq == 5 &&
		      f.stats[RAMPART_STATS_A_PACKETS] == 12,
		      "%s: FLOW_GET: ROC %u SEQ %u after the wrap (want 1, 5), packets %" PRIu64,
		      name, f.in.roc, f.in.seq, f.stats[RAMPART_STATS_A_PACKETS]);
		{
			uint32_t lroc = 99;
			uint16_t lseq = 0;

			int gi = msrtp_get_index(tx, SSRC, &lroc, &lseq);

			check(gi == 0 && lroc == f.in.roc && lseq == f.in.seq,
			      "%s: the kernel's ROC/SEQ equal libsrtp's sender (%u, %u)",
			      name, lroc, lseq);
		}

		/* Tampered: one payload bit. */
		len = make_rtp(p, 6);
		msrtp_protect_rtp(tx, p, &len, sizeof(p));
		memcpy(old, p, len);
		oldlen = len;
		p[20] ^= 0x01;
		send_pkt(s, pl, p, len);
		check(recv_pkt(r, 500, p, sizeof(p)) < 0,
		      "%s: a tampered packet is not forwarded", name);
		/* The genuine one still passes (the failure left no state). */
		send_pkt(s, pl, old, oldlen);
		check(recv_pkt(r, 2000, p, sizeof(p)) == 12 + PAYLOAD,
		      "%s: the untampered packet then passes", name);
		/* Replay it. */
		send_pkt(s, pl, old, oldlen);
		check(recv_pkt(r, 500, p, sizeof(p)) < 0,
		      "%s: a replayed packet is not forwarded", name);
		ret = get_local(c, pl, &f);
		check(ret == 0 && f.stats[RAMPART_STATS_A_AUTH_FAIL] == 1 &&
		      f.stats[RAMPART_STATS_A_REPLAY_DROP] == 1 &&
		      f.stats[RAMPART_STATS_A_PACKETS] == 13,
		      "%s: counted: auth_fail %" PRIu64 " replay_drop %" PRIu64
		      " packets %" PRIu64, name, f.stats[RAMPART_STATS_A_AUTH_FAIL],
		      f.stats[RAMPART_STATS_A_REPLAY_DROP], f.stats[RAMPART_STATS_A_PACKETS]);
		flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl, NULL);
		msrtp_free(tx);

		/* RTP -> SRTP, across the wrap. */
		fl.in = false;
		fl.out = true;
		ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, pl, NULL);
		rx = ctx(MSRTP_UNPROTECT, m, &fl.kout);
		got = run(s, pl, r, NULL, rx, 65531, 10, &good);
		check(ret == 0 && got == 10 && good == 10,
		      "%s: RTP->SRTP: libsrtp accepts the kernel's packets byte for byte "
		      "across seq 65531..4 (%d arrived, %d exact)", name, got, good);
		ret = get_local(c, pl, &f);
		check(ret == 0 && f.out.present && f.out.roc == 1 && f.out.seq == 4,
		      "%s: FLOW_GET SRTP_OUT: ROC %u SEQ %u (want 1, 4)", name,
		      f.out.roc, f.out.seq);
		flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl, NULL);
		msrtp_free(rx);

		/* SRTP -> SRTP with different keys. */
		fl.in = true;
		fl.out = true;
		ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, pl, NULL);
		tx2 = ctx(MSRTP_PROTECT, m, &fl.kin);
		rx = ctx(MSRTP_UNPROTECT, m, &fl.kout);
		got = run(s, pl, r, tx2, rx, 1000, 10, &good);
		check(ret == 0 && got == 10 && good == 10,
		      "%s: SRTP->SRTP (new key): libsrtp in, libsrtp out, exact (%d arrived, "
		      "%d exact)", name, got, good);
		flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, pl, NULL);
		msrtp_free(tx2);
		msrtp_free(rx);
		close(l);
	}
	close(s);
	close(r);
}

/* ---- IPv6: the same transform behind the IPv6 hook ------------------- */

static void b_flow6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "::1", port);
	put_srtp(nlh, RAMPART_FLOW_A_SRTP_IN, suites[0].m, suites[0].k, &fl.kin, true);
	put_srtp(nlh, RAMPART_FLOW_A_SRTP_OUT, suites[5].m, suites[5].k, &fl.kout, false);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "::1", 40003);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "::1", fl.pr);
}

static void b_key6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "::1", port);
}

static int bound6(int *port)
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

/* SRTP (AES_CM_128_HMAC_SHA1_80) in, SRTP (AEAD_AES_128_GCM) out, on ::1. */
static void ipv6_test(struct nlc *c)
{
	int pl = 0, ps = 0, l = bound6(&pl), s = bound6(&ps), r = bound6(&fl.pr);
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct msrtp *tx, *rx;
	int ret, good = 0;

	if (l < 0 || s < 0 || r < 0) {
		check(false, "IPv6 sockets");
		return;
	}
	make_key(&fl.kin, 40);
	make_key(&fl.kout, 41);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow6, pl, NULL);
	tx = ctx(MSRTP_PROTECT, suites[0].m, &fl.kin);
	rx = ctx(MSRTP_UNPROTECT, suites[5].m, &fl.kout);
	to.sin6_port = htons((uint16_t)pl);
	for (int i = 0; tx && rx && i < 8; i++) {
		uint8_t p[512], want[512], got[512];
		size_t len = make_rtp(p, (uint16_t)(300 + i)), glen;
		int g;

		memcpy(want, p, len);
		if (msrtp_protect_rtp(tx, p, &len, sizeof(p)))
			break;
		sendto(s, p, len, 0, (struct sockaddr *)&to, sizeof(to));
		g = recv_pkt(r, 2000, got, sizeof(got));
		if (g < 0)
			continue;
		glen = (size_t)g;
		good += msrtp_unprotect_rtp(rx, got, &glen) == 0 && glen == 12 + PAYLOAD &&
			!memcmp(got, want, glen);
	}
	check(ret == 0 && good == 8,
	      "IPv6 ::1: AES_CM_128_HMAC_SHA1_80 in, AEAD_AES_128_GCM out: libsrtp "
	      "accepts all 8 exactly (%d; %s)", good, c->errmsg);
	flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key6, pl, NULL);
	msrtp_free(tx);
	msrtp_free(rx);
	close(l);
	close(s);
	close(r);
}

static int check_all(struct nlc *c)
{
	struct version_view v;
	int ret = version(c, RAMPART_ABI_VERSION, &v);

	check(ret == 0 && (v.features & RAMPART_FEAT_SRTP_KDF_SELFTEST) &&
	      (v.features & RAMPART_FEAT_SRTP_AES_CM) && (v.features & RAMPART_FEAT_SRTP_GCM),
	      "VERSION: RFC 3711 B.3 key derivation verified in the kernel, SRTP "
	      "features advertised (features 0x%x)", v.features);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		suite_test(c, (int)i);
	ipv6_test(c);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}

/* ---- tools for the unload / churn tests ------------------------------- */

static int cmd_fill(struct nlc *c, long n, long port)
{
	fl.si = 0;
	fl.in = fl.out = true;
	make_key(&fl.kin, 1);
	make_key(&fl.kout, 2);
	fl.pr = 9;	/* discard */
	for (long i = 0; i < n; i++) {
		int ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, port + i, NULL);

		if (ret) {
			fprintf(stderr, "fill: %s\n", c->errmsg);
			return 1;
		}
	}
	return 0;
}

/* N valid SRTP packets (AES_CM_128_HMAC_SHA1_80, key 1) to PORT..PORT+7. */
static int cmd_send(long port, long n, long pps)
{
	struct key k;
	struct msrtp *tx;
	struct timespec ts = { 0, pps > 0 ? 1000000000L / pps : 0 };
	uint8_t p[512];
	int sp = 0, s = bound(&sp);

	make_key(&k, 1);
	tx = ctx(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, &k);
	if (s < 0 || !tx)
		return 1;
	for (long i = 0; i < n; i++) {
		size_t len = make_rtp(p, (uint16_t)i);

		if (msrtp_protect_rtp(tx, p, &len, sizeof(p)))
			return 1;
		send_pkt(s, (int)(port + (i & 7)), p, len);
		if (ts.tv_nsec)
			nanosleep(&ts, NULL);
	}
	msrtp_free(tx);
	close(s);
	return 0;
}

/* Churn: add/update/get/del/flush SRTP flows on 8 ports while another
 * process sends SRTP at them. The harness judges the kernel log. */
static int cmd_churn(struct nlc *c, long iters)
{
	int pr = 0, rfd = bound(&pr), lport = 0, lfd = bound(&lport);
	unsigned int seed = 3;
	struct flow_view f;
	int errs = 0, st = -1;
	pid_t pid;

	if (rfd < 0 || lfd < 0)
		return 2;
	pid = fork();
	if (pid == 0)
		_exit(cmd_send(lport + 1, iters * 4, 0));
	fl.pr = pr;
	for (long i = 0; i < iters; i++) {
		long port = lport + 1 + (rand_r(&seed) % 8);
		int ret;

		fl.si = (int)(rand_r(&seed) % 7);
		if (fl.si == 2)
			fl.si = 0;	/* libsrtp-independent anyway; keep AES-CM */
		fl.in = rand_r(&seed) & 1;
		fl.out = !fl.in || (rand_r(&seed) & 1);
		make_key(&fl.kin, 1);
		make_key(&fl.kout, 2);
		switch (rand_r(&seed) % 5) {
		case 0:
		case 1:
			ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, port, NULL);
			errs += ret && ret != -EEXIST;
			break;
		case 2:
			ret = flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_flow, port, NULL);
			errs += ret && ret != -ENOENT;
			break;
		case 3:
			ret = get1(c, port, &f);
			errs += ret && ret != -ENOENT;
			break;
		default:
			if (i % 7 == 0)
				errs += flush(c, NULL) != 0;
			else {
				ret = flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, port, NULL);
				errs += ret && ret != -ENOENT;
			}
		}
	}
	waitpid(pid, &st, 0);
	errs += flush(c, NULL) != 0;
	{
		uint8_t p[512];
		long fwd = 0;

		while (fwd < 1000000 && recv_pkt(rfd, 0, p, sizeof(p)) > 0)
			fwd++;
		printf("churn: %ld packets forwarded during the churn\n", fwd);
		errs += fwd == 0;
	}
	close(rfd);
	close(lfd);
	printf("%s srtp churn: %ld iterations, sender status %d, %d errors\n",
	       errs || st ? "not ok" : "ok", iters, st, errs);
	return errs || st ? 1 : 0;
}


/* ---- bench: the kernel path's packets per CPU-second ------------------- */

/* Busy CPU time of the whole machine (every CPU, every mode but idle and
 * iowait) in clock ticks: softirq work lands in whatever task it
 * interrupted, so per-process times cannot see the kernel path. */
static int busy_ticks(uint64_t *busy)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 7)
		return -1;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	return 0;
}

static void b_mismatch(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "127.0.0.3", -1);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, RAMPART_MISMATCH_DROP);
}

/* Back to any source (UPDATE cannot remove EXPECT_SRC: expect ours). */
static void b_unmatch(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "127.0.0.1", -1);
}

/* Reads what is queued on @fd; returns how many packets. */
static long drain(int fd)
{
	uint8_t b[2048];
	long n = 0;

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

/* Sends the @n prepared packets round robin over the flows, 32 per
 * sendmmsg; returns the busy ticks it took. */
static uint64_t blast(int s, uint8_t *pkts, size_t *lens, long n, long nflows,
		      int base)
{
	struct sockaddr_in *to = calloc((size_t)nflows, sizeof(*to));
	struct mmsghdr mm[32];
	struct iovec iov[32];
	uint64_t b0 = 0, b1 = 0;

	for (long i = 0; i < nflows; i++) {
		to[i].sin_family = AF_INET;
		to[i].sin_port = htons((uint16_t)(base + i));
		to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	busy_ticks(&b0);
	for (long i = 0; i < n;) {
		int k = 0;

		for (; k < 32 && i + k < n; k++) {
			iov[k].iov_base = pkts + (size_t)(i + k) * 256;
			iov[k].iov_len = lens[i + k];
			memset(&mm[k], 0, sizeof(mm[k]));
			mm[k].msg_hdr.msg_iov = &iov[k];
			mm[k].msg_hdr.msg_iovlen = 1;
			mm[k].msg_hdr.msg_name = &to[(i + k) % nflows];
			mm[k].msg_hdr.msg_namelen = sizeof(to[0]);
		}
		if (sendmmsg(s, mm, (unsigned int)k, 0) < 0)
			break;
		i += k;
	}
	busy_ticks(&b1);
	free(to);
	return b1 - b0;
}

/* NFLOWS SRTP->RTP flows, NPKTS packets prepared with libsrtp beforehand.
 * Run 1 goes through the flows; run 2 sends as many to the same flows
 * switched to drop everything right after the lookup (an unexpected
 * source). The difference is what the kernel path costs past receiving a
 * packet: unprotect, route, rewrite, send, delivery into the receiver's
 * socket queue, as mediad's sends are delivered (its buffer holds a whole
 * round; it is read between rounds, outside the measured time, and no one
 * waits on it, so no reader is woken). Run 3 sends the same packets to a
 * socket with no flow (queued the same way): minus run 2, the stack's cost
 * from the hook into a socket, which mediad's figure does not hold for its
 * inbound packets (that delivery runs in the sender's context). */
/* @mode: "aes" (AES_CM_128_HMAC_SHA1_80, the figure), "null"
 * (NULL_HMAC_SHA1_80: authentication only) or "plain" (no SRTP), to see
 * where the time goes. */
static int cmd_bench(struct nlc *c, long nflows, long npkts, const char *mode)
{
	long hz = sysconf(_SC_CLK_TCK), fwd = 0;
	struct msrtp **tx;
	struct flow_view f;
	uint64_t t_fwd, t_drop;
	uint8_t *pkts;
	size_t *lens;
	int sp = 0, s = bound(&sp), base = -1, *ls, rfd;
	int rcv = 256 << 20, dport = 0, dfd;
	uint64_t t_dlv = 0;
	long got = 0;

	/* A round's packets stay queued: npkts / 10 must fit in the VM. */
	if (nflows < 1 || nflows > 1000 || npkts < 1000 || npkts > 500000 || s < 0)
		return 2;
	tx = calloc((size_t)nflows, sizeof(*tx));
	ls = calloc((size_t)nflows, sizeof(*ls));
	pkts = malloc((size_t)npkts * 256);
	lens = calloc((size_t)npkts, sizeof(*lens));
	if (!tx || !ls || !pkts || !lens)
		return 2;
	fl.si = !strcmp(mode, "null") ? 7 : 0;
	fl.in = strcmp(mode, "plain") != 0;
	fl.out = false;
	make_key(&fl.kin, 1);
	rfd = bound(&fl.pr);
	dfd = bound(&dport);
	if (rfd < 0 || dfd < 0)
		return 2;
	/* Room for a whole round: every forwarded packet is queued (not
	 * dropped for want of room, which costs less than queueing). No one
	 * waits on the socket (a reader woken per packet made the 1-vCPU
	 * guest switch tasks per packet, which mediad's batched path does
	 * not pay: docs/kmod.md). */
	if (setsockopt(rfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) ||
	    setsockopt(dfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv))) {
		perror("bench: SO_RCVBUFFORCE");
		return 2;
	}
	/* Consecutive local ports: bind them so no one else takes them. */
	for (int tries = 0; tries < 50; tries++) {
		long i;

		ls[0] = bound(&base);
		for (i = 1; i < nflows; i++) {
			struct sockaddr_in a = { .sin_family = AF_INET,
				.sin_port = htons((uint16_t)(base + i)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

			ls[i] = socket(AF_INET, SOCK_DGRAM, 0);
			if (bind(ls[i], (struct sockaddr *)&a, sizeof(a)))
				break;
		}
		if (i == nflows)
			break;
		for (long j = 0; j <= i && j < nflows; j++)
			close(ls[j]);
		base = -1;
	}
	if (base < 0)
		return 2;
	for (long i = 0; i < nflows; i++) {
		if (flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_flow, base + i, NULL)) {
			fprintf(stderr, "bench: ADD: %s\n", c->errmsg);
			return 1;
		}
		tx[i] = ctx(MSRTP_PROTECT, suites[fl.si].m, &fl.kin);
		if (!tx[i])
			return 1;
	}
	for (long i = 0; i < npkts; i++) {
		uint8_t *p = pkts + (size_t)i * 256;
		size_t len = make_rtp(p, (uint16_t)(i / nflows));

		if (fl.in && msrtp_protect_rtp(tx[i % nflows], p, &len, 256))
			return 1;
		lens[i] = len;
	}
	/* Ten alternating rounds, so that a change in the host's load (the
	 * VM's clock runs with it) hits both sides alike. Each round forwards
	 * the next tenth of the packets (fresh indexes), then sends that tenth
	 * again to the flows switched to MISMATCH DROP (no replay check: the
	 * lookup's verdict comes first), switches them back, and sends it a
	 * third time to the socket without a flow. */
	t_fwd = t_drop = 0;
	for (long r = 0, chunk = npkts / 10; r < 10; r++) {
		uint8_t *p0 = pkts + (size_t)(r * chunk) * 256;
		size_t *l0 = lens + r * chunk;

		t_fwd += blast(s, p0, l0, chunk, nflows, base);
		got += drain(rfd);
		for (long i = 0; i < nflows; i++)
			flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_mismatch, base + i, NULL);
		t_drop += blast(s, p0, l0, chunk, nflows, base);
		for (long i = 0; i < nflows; i++)
			flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_unmatch, base + i, NULL);
		t_dlv += blast(s, p0, l0, chunk, 1, dport);
		drain(dfd);
	}
	for (long i = 0; i < nflows; i++)
		if (get_local(c, (int)(base + i), &f) == 0)
			fwd += (long)f.stats[RAMPART_STATS_A_PACKETS];
	if (got != fwd) {
		printf("kernel (%s): %ld packets forwarded but %ld queued at the receiver: "
		       "the measurement is not what it says\n", mode, fwd, got);
		return 1;
	}
	if (t_fwd <= t_drop) {
		printf("kernel (%s): forwarding took no more CPU than dropping "
		       "(%" PRIu64 " vs %" PRIu64 " ticks): too noisy to measure\n",
		       mode, t_fwd, t_drop);
		return 1;
	}
	{
		double cpu = (double)(t_fwd - t_drop) / (double)hz;

		printf("kernel (%s): %ld flows, %ld packets sent, %ld forwarded; busy CPU %.2f s "
		       "forwarding, %.2f s dropping at the hook; %.0f pkts per CPU-second\n",
		       mode, nflows, npkts, fwd, (double)t_fwd / (double)hz,
		       (double)t_drop / (double)hz, (double)fwd / cpu);
		printf("kernel (%s): the stack's delivery from the hook into a socket: "
		       "busy CPU %.2f s, %.0f ns per packet more than dropping at the hook\n",
		       mode, (double)t_dlv / (double)hz,
		       1e9 * ((double)t_dlv - (double)t_drop) / (double)hz / (double)npkts);
	}
	close(dfd);
	close(rfd);
	flush(c, NULL);
	for (long i = 0; i < nflows; i++) {
		msrtp_free(tx[i]);
		close(ls[i]);
	}
	free(tx);
	free(ls);
	free(pkts);
	free(lens);
	return fwd > npkts / 2 ? 0 : 1;
}

/* ---- veth: SRTP across namespaces (tests/kmod/netns-test.sh) ------------- */

/* Which side is SRTP: "in" (SRTP->RTP), "out" (RTP->SRTP), "both" (re-key).
 * Keys: make_key(1) toward rampart, make_key(2) from it; suite
 * AES_CM_128_HMAC_SHA1_80. */
static int veth_mode(const char *m, bool *in, bool *out)
{
	*in = !strcmp(m, "in") || !strcmp(m, "both");
	*out = !strcmp(m, "out") || !strcmp(m, "both");
	return *in || *out ? 0 : -1;
}

static struct {
	const char *local, *src, *odst;
	long lport, osport, odport;
} vf;

static void b_veth_any(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, vf.local, vf.lport);
	if (fl.in)
		put_srtp(nlh, RAMPART_FLOW_A_SRTP_IN, suites[0].m, suites[0].k, &fl.kin, true);
	if (fl.out)
		put_srtp(nlh, RAMPART_FLOW_A_SRTP_OUT, suites[0].m, suites[0].k, &fl.kout,
			 false);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, vf.src, vf.osport);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, vf.odst, vf.odport);
	(void)port;
}

/* veth-flow LOCAL LPORT OUTSRC OSPORT OUTDST ODPORT MODE: one SRTP flow
 * from any source. */
static int cmd_veth_flow(struct nlc *c, char **a)
{
	if (veth_mode(a[6], &fl.in, &fl.out))
		return 2;
	vf.local = a[0];
	vf.lport = atol(a[1]);
	vf.src = a[2];
	vf.osport = atol(a[3]);
	vf.odst = a[4];
	vf.odport = atol(a[5]);
	make_key(&fl.kin, 1);
	make_key(&fl.kout, 2);
	if (flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_veth_any, 0, NULL)) {
		fprintf(stderr, "veth-flow: ADD: %s\n", c->errmsg);
		return 1;
	}
	return 0;
}

static int v4_addr(const char *s, long port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, s, &a->sin_addr) == 1 ? 0 : -1;
}

/* veth-send DST PORT N SEQ0 MODE: N RTP packets with sequence numbers from
 * SEQ0, protected with key 1 when rampart expects SRTP. */
static int cmd_veth_send(char **a)
{
	long n = atol(a[2]), seq0 = atol(a[3]);
	struct msrtp *tx = NULL;
	struct sockaddr_in to;
	bool in, out;
	struct key k;
	uint8_t p[512];
	int s;

	if (veth_mode(a[4], &in, &out) || v4_addr(a[0], atol(a[1]), &to) || n < 1)
		return 2;
	make_key(&k, 1);
	if (in && !(tx = ctx(MSRTP_PROTECT, suites[0].m, &k)))
		return 1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return 1;
	for (long i = 0; i < n; i++) {
		size_t len = make_rtp(p, (uint16_t)(seq0 + i));

		if (tx && msrtp_protect_rtp(tx, p, &len, sizeof(p)))
			return 1;
		if (sendto(s, p, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
			return 1;
		usleep(2000);
	}
	msrtp_free(tx);
	close(s);
	return 0;
}

/* veth-recv ADDR PORT N SEQ0 SECS MODE: waits up to SECS for N packets;
 * each must be (after unprotecting with key 2 when rampart sends SRTP) the
 * exact RTP packet the sender made for SEQ0 + i. Prints "listening", then
 * "received R exact E from ADDR:PORT"; 0 if all N arrived exact. */
static int cmd_veth_recv(char **a)
{
	long n = atol(a[2]), seq0 = atol(a[3]), secs = atol(a[4]), got = 0, exact = 0;
	struct sockaddr_in me, from = { 0 };
	socklen_t fl_len = sizeof(from);
	struct msrtp *rx = NULL;
	uint8_t p[512], want[512];
	char fa[INET_ADDRSTRLEN] = "-";
	struct timespec t0, t;
	bool in, out;
	struct key k;
	int s;

	if (veth_mode(a[5], &in, &out) || v4_addr(a[0], atol(a[1]), &me) || n < 1)
		return 2;
	make_key(&k, 2);
	if (out && !(rx = ctx(MSRTP_UNPROTECT, suites[0].m, &k)))
		return 1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me)))
		return 1;
	printf("listening\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		ssize_t r;
		size_t len;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= secs || poll(&pf, 1, 200) < 0)
			break;
		if (!(pf.revents & POLLIN))
			continue;
		fl_len = sizeof(from);
		r = recvfrom(s, p, sizeof(p), 0, (struct sockaddr *)&from, &fl_len);
		if (r < 0)
			break;
		len = (size_t)r;
		got++;
		if (rx && msrtp_unprotect_rtp(rx, p, &len))
			continue;
		exact += len == make_rtp(want, (uint16_t)(seq0 + got - 1)) &&
			 !memcmp(p, want, len);
	}
	inet_ntop(AF_INET, &from.sin_addr, fa, sizeof(fa));
	printf("received %ld exact %ld from %s:%u\n", got, exact, fa, ntohs(from.sin_port));
	msrtp_free(rx);
	close(s);
	return got == n && exact == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct nlc c;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: srtptest check|fill N PORT|send PORT N PPS|churn ITERS\n");
		return 2;
	}
	if (msrtp_global_init()) {
		fprintf(stderr, "srtptest: libsrtp init failed\n");
		return 1;
	}
	if (!strcmp(argv[1], "send") && argc == 5)
		return cmd_send(atol(argv[2]), atol(argv[3]), atol(argv[4]));
	if (!strcmp(argv[1], "veth-send") && argc == 7)
		return cmd_veth_send(argv + 2);
	if (!strcmp(argv[1], "veth-recv") && argc == 8)
		return cmd_veth_recv(argv + 2);
	if (nlc_open(&c)) {
		fprintf(stderr, "srtptest: cannot open the rampart family\n");
		return 1;
	}
	if (!strcmp(argv[1], "check"))
		ret = check_all(&c);
	else if (!strcmp(argv[1], "fill") && argc == 4)
		ret = cmd_fill(&c, atol(argv[2]), atol(argv[3]));
	else if (!strcmp(argv[1], "bench") && (argc == 4 || argc == 5))
		ret = cmd_bench(&c, atol(argv[2]), atol(argv[3]),
				argc == 5 ? argv[4] : "aes");
	else if (!strcmp(argv[1], "veth-flow") && argc == 9)
		ret = cmd_veth_flow(&c, argv + 2);
	else if (!strcmp(argv[1], "churn") && argc == 3)
		ret = cmd_churn(&c, atol(argv[2]));
	else
		ret = 2;
	nlc_close(&c);
	return ret;
}
