/* nlclient selftest: the rampart.ko netlink ABI, command by command. */
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

/* ---- flow bodies ------------------------------------------------------------ */

/* The reference flow "A": every part set. */
static void b_full(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "127.0.0.2", -1);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, RAMPART_MISMATCH_PASS);
	put_xf_aes128(nlh, RAMPART_FLOW_A_SRTP_IN, 256);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_OUT, RAMPART_SUITE_AEAD_AES_256_GCM,
	       RAMPART_XF_A_KEY_256, 32, RAMPART_XF_A_SALT_96, 12, 0, 7, 0);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", port + 2);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.3", 40000);
}

static void b_v6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "::1", port);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "::1", 5004);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "::1", port + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "2001:db8::7", 40002);
}

/* IPv4 in, IPv6 out: allowed (only OUT_SRC/OUT_DST must agree). */
static void b_4to6(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "::1", port + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "::1", 40004);
}

static void b_upd(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_OUT, RAMPART_SUITE_AES_192_CM_HMAC_SHA1_32,
	       RAMPART_XF_A_KEY_192, 24, RAMPART_XF_A_SALT_112, 14, 9, 65535, 0);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.4", 40010);
}

/* Malformed bodies: each must be rejected and change nothing. */
#define OUTS(nlh, port) do { \
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", (port) + 1); \
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.3", 40000); } while (0)

static void m_key_len(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	       RAMPART_XF_A_KEY_128, 15, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_key_long(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_OUT, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	       RAMPART_XF_A_KEY_128, 17, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_salt_len(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, RAMPART_SUITE_AEAD_AES_128_GCM,
	       RAMPART_XF_A_KEY_128, 16, RAMPART_XF_A_SALT_96, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_key_suite(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	       RAMPART_XF_A_KEY_256, 32, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_salt_suite(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, RAMPART_SUITE_AEAD_AES_256_GCM,
	       RAMPART_XF_A_KEY_256, 32, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_suite_unknown(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, 99,
	       RAMPART_XF_A_KEY_128, 16, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_suite_zero(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n;

	b_key(nlh, p);
	n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_SRTP_IN);
	mnl_attr_put_u32(nlh, RAMPART_XF_A_SUITE, 0);
	mnl_attr_nest_end(nlh, n);
	OUTS(nlh, p);
}
static void m_suite_missing(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, 0,
	       RAMPART_XF_A_KEY_128, 16, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_key_missing(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf(nlh, RAMPART_FLOW_A_SRTP_IN, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_32,
	       0, 0, RAMPART_XF_A_SALT_112, 14, 0, 0, 0);
	OUTS(nlh, p);
}
static void m_local_missing(struct nlmsghdr *nlh, long p)
{
	OUTS(nlh, p);
}
static void m_local_noport(struct nlmsghdr *nlh, long p)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", -1);
	OUTS(nlh, p);
}
static void m_port_zero(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", 0);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.3", 40000);
}
static void m_port_u32(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n;

	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", 5000);
	n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_OUT_DST);
	mnl_attr_put_u32(nlh, RAMPART_EP_A_ADDR4, htonl(0x7f000003));
	mnl_attr_put_u32(nlh, RAMPART_EP_A_PORT, 70000);
	mnl_attr_nest_end(nlh, n);
}
static void m_out_dst_missing(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", p + 1);
}
static void m_two_addrs(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_LOCAL);
	uint8_t a6[16] = { [15] = 1 };

	mnl_attr_put_u32(nlh, RAMPART_EP_A_ADDR4, htonl(0x7f000001));
	mnl_attr_put(nlh, RAMPART_EP_A_ADDR6, 16, a6);
	mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, (uint16_t)p);
	mnl_attr_nest_end(nlh, n);
	OUTS(nlh, p);
}
static void m_addr4_len(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_LOCAL);
	uint8_t a[5] = { 127, 0, 0, 1, 0 };

	mnl_attr_put(nlh, RAMPART_EP_A_ADDR4, 5, a);
	mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, (uint16_t)p);
	mnl_attr_nest_end(nlh, n);
	OUTS(nlh, p);
}
static void m_mcast_dst(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", p + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "224.0.0.1", 40000);
}
static void m_any_local(struct nlmsghdr *nlh, long p)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "0.0.0.0", p);
	OUTS(nlh, p);
}
static void m_expect_family(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_EXPECT_SRC, "::1", -1);
	OUTS(nlh, p);
}
static void m_out_family(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", p + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "::1", 40000);
}
static void m_mismatch(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	mnl_attr_put_u8(nlh, RAMPART_FLOW_A_MISMATCH, 2);
	OUTS(nlh, p);
}
static void m_window_low(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf_aes128(nlh, RAMPART_FLOW_A_SRTP_IN, 63);
	OUTS(nlh, p);
}
static void m_window_high(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf_aes128(nlh, RAMPART_FLOW_A_SRTP_IN, 1025);
	OUTS(nlh, p);
}
static void m_window_out(struct nlmsghdr *nlh, long p)
{
	b_key(nlh, p);
	put_xf_aes128(nlh, RAMPART_FLOW_A_SRTP_OUT, 128);
	OUTS(nlh, p);
}
static void m_stats_in_req(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n;

	b_plain4(nlh, p);
	n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_STATS);
	mnl_attr_put_u64(nlh, RAMPART_STATS_A_PACKETS, 1);
	mnl_attr_nest_end(nlh, n);
}
static void m_unknown_attr(struct nlmsghdr *nlh, long p)
{
	b_plain4(nlh, p);
	mnl_attr_put_u32(nlh, 42, 1);
}
static void m_not_nested(struct nlmsghdr *nlh, long p)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, RAMPART_FLOW_A_LOCAL);

	mnl_attr_put_u32(nlh, RAMPART_EP_A_ADDR4, htonl(0x7f000001));
	mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, (uint16_t)p);
	mnl_attr_nest_end(nlh, n);
	n->nla_type &= (uint16_t)~NLA_F_NESTED;
	OUTS(nlh, p);
}

/* ---- the self test ---------------------------------------------------------- */

/* Unprivileged callers must get EPERM for every command. */
static void test_perm(void)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0) {
		struct nlc c;
		struct version_view v;
		struct flows fl = { 0 };

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		if (nlc_open(&c))
			_exit(4);
		if (version(&c, -1, &v) != -EPERM)
			_exit(5);
		if (dump(&c, &fl) != -EPERM)
			_exit(6);
		if (flow_cmd(&c, RAMPART_CMD_FLOW_ADD, b_plain4, 32000, NULL) != -EPERM)
			_exit(7);
		if (flush(&c, NULL) != -EPERM)
			_exit(8);
		nlc_close(&c);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	check(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "non-root gets EPERM for VERSION, DUMP, ADD, FLUSH (child status %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* add_only: the body is a valid UPDATE (UPDATE needs no OUT_DST). */
static const struct {
	const char *name;
	body_fn body;
	bool add_only;
} malformed[] = {
	{ "master key 15 bytes for a 16-byte key", m_key_len, false },
	{ "master key 17 bytes for a 16-byte key", m_key_long, false },
	{ "salt 14 bytes in SALT_96", m_salt_len, false },
	{ "256-bit key with an AES-128 suite", m_key_suite, false },
	{ "112-bit salt with a GCM suite", m_salt_suite, false },
	{ "unknown suite 99", m_suite_unknown, false },
	{ "suite 0 (NONE)", m_suite_zero, false },
	{ "transform without SUITE", m_suite_missing, false },
	{ "suite without its master key", m_key_missing, false },
	{ "flow without LOCAL", m_local_missing, false },
	{ "LOCAL without PORT", m_local_noport, false },
	{ "port 0", m_port_zero, false },
	{ "port 70000 as a u32", m_port_u32, false },
	{ "flow without OUT_DST", m_out_dst_missing, true },
	{ "endpoint with ADDR4 and ADDR6", m_two_addrs, false },
	{ "ADDR4 of 5 bytes", m_addr4_len, false },
	{ "multicast OUT_DST", m_mcast_dst, false },
	{ "unspecified LOCAL 0.0.0.0", m_any_local, false },
	{ "IPv6 EXPECT_SRC for an IPv4 LOCAL", m_expect_family, false },
	{ "IPv4 OUT_SRC with IPv6 OUT_DST", m_out_family, false },
	{ "MISMATCH 2", m_mismatch, false },
	{ "REPLAY_WINDOW 63", m_window_low, false },
	{ "REPLAY_WINDOW 1025", m_window_high, false },
	{ "REPLAY_WINDOW on SRTP_OUT", m_window_out, false },
	{ "STATS in a request", m_stats_in_req, false },
	{ "unknown flow attribute 42", m_unknown_attr, false },
	{ "nested attribute without NLA_F_NESTED", m_not_nested, false },
};

int selftest(struct nlc *c)
{
	enum { PA = 30000, PB = 30010, PC = 30020, PBAD = 31000, PMANY = 20000 };
	struct version_view v;
	struct flow_view fa, fb;
	struct flows fl = { 0 };
	uint32_t removed = 0;
	int ret;

	/* The handshake. */
	ret = version(c, -1, &v);
	check(ret == 0 && v.abi == RAMPART_ABI_VERSION && v.max > 0 &&
	      v.count == 0 && v.release[0] && (v.features & RAMPART_FEAT_FLOW_TABLE),
	      "VERSION: abi %u release '%s' max %u count %u features %#x (ret %d)",
	      v.abi, v.release, v.max, v.count, v.features, ret);
	ret = version(c, RAMPART_ABI_VERSION, &v);
	check(ret == 0 && v.abi == RAMPART_ABI_VERSION, "VERSION with our ABI accepted");
	ret = version(c, RAMPART_ABI_VERSION + 98, &v);
	check(ret == -EPROTONOSUPPORT, "VERSION with ABI %d refused: %s [%s]",
	      RAMPART_ABI_VERSION + 98, strerror(-ret), c->errmsg);
	test_perm();

	/* ADD, GET, DUMP. */
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_full, PA, NULL);
	check(ret == 0, "ADD full IPv4 flow (ret %d %s)", ret, c->errmsg);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_full, PA, NULL);
	check(ret == -EEXIST, "ADD same LOCAL again: EEXIST (%s)", c->errmsg);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_v6, PB, NULL);
	check(ret == 0, "ADD IPv6 plain flow (ret %d %s)", ret, c->errmsg);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_4to6, PC, NULL);
	check(ret == 0, "ADD IPv4-in IPv6-out flow (ret %d %s)", ret, c->errmsg);
	check(flow_count(c) == 3, "VERSION counts 3 flows");

	memset(&fa, 0, sizeof(fa));
	ret = get1(c, PA, &fa);
	check(ret == 0 && ep_is(&fa.local, "127.0.0.1", PA) &&
	      ep_is(&fa.expect, "127.0.0.2", -1) && fa.mismatch == RAMPART_MISMATCH_PASS &&
	      ep_is(&fa.out_src, "127.0.0.1", PA + 2) &&
	      ep_is(&fa.out_dst, "127.0.0.3", 40000) && !fa.unknown,
	      "GET returns the endpoints and mismatch action as added (ret %d)", ret);
	check(fa.in.present && fa.in.suite == RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80 &&
	      fa.in.roc == 5 && fa.in.seq == 100 && fa.in.window == 256 &&
	      fa.out.present && fa.out.suite == RAMPART_SUITE_AEAD_AES_256_GCM &&
	      fa.out.seq == 7 && fa.out.window == 0,
	      "GET returns both transforms' suite, ROC, SEQ, window");
	check(!fa.in.has_key && !fa.out.has_key, "GET never returns keys or salts");
	check(fa.has_stats && fa.stats[RAMPART_STATS_A_PACKETS] == 0 &&
	      fa.stats[RAMPART_STATS_A_BYTES] == 0 &&
	      fa.stats[RAMPART_STATS_A_AUTH_FAIL] == 0 &&
	      fa.stats[RAMPART_STATS_A_REPLAY_DROP] == 0 &&
	      fa.stats[RAMPART_STATS_A_SRC_MISMATCH] == 0 &&
	      fa.stats[RAMPART_STATS_A_LAST_SEEN_NS] == 0,
	      "GET returns zero counters for a new flow");
	memset(&fb, 0, sizeof(fb));
	ret = get1(c, 0, &fb);
	check(rejected(ret), "GET with port 0 rejected (%s)", c->errmsg);
	{
		struct flows one = { 0 };

		ret = flow_cmd(c, RAMPART_CMD_FLOW_GET, b_v6, PB, &one);
		check(ret == -EINVAL && one.n == 0,
		      "GET with more than LOCAL rejected (%s)", c->errmsg);
		free(one.v);
	}

	ret = dump(c, &fl);
	{
		int seen_a = 0, seen_b = 0, seen_c = 0;

		for (size_t i = 0; i < fl.n; i++) {
			seen_a += ep_is(&fl.v[i].local, "127.0.0.1", PA);
			seen_b += ep_is(&fl.v[i].local, "::1", PB);
			seen_c += ep_is(&fl.v[i].local, "127.0.0.1", PC) &&
				  ep_is(&fl.v[i].out_dst, "::1", 40004);
		}
		check(ret == 0 && fl.n == 3 && seen_a == 1 && seen_b == 1 && seen_c == 1,
		      "DUMP returns the 3 flows once each (ret %d, n %zu)", ret, fl.n);
		seen_a = 0;
		for (size_t i = 0; i < fl.n; i++)
			seen_a += same_cfg(&fl.v[i], &fa);
		check(seen_a == 1, "DUMP entry of flow A matches its GET");
	}
	fl.n = 0;

	/* A dump that needs several messages. */
	{
		int added = 0, unique = 1;

		for (int i = 0; i < 400; i++)
			added += flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_full, PMANY + 4 * i,
					  NULL) == 0;
		ret = dump(c, &fl);
		for (size_t i = 0; i < fl.n && unique; i++)
			for (size_t j = i + 1; j < fl.n; j++)
				if (same_cfg(&fl.v[i], &fl.v[j]))
					unique = 0;
		check(added == 400 && ret == 0 && fl.n == 403 && unique,
		      "multi-part DUMP of 403 flows: %zu, all distinct (ret %d)", fl.n, ret);
		fl.n = 0;
		added = 0;
		for (int i = 0; i < 400; i++)
			added += flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, PMANY + 4 * i,
					  NULL) == 0;
		check(added == 400 && flow_count(c) == 3, "DEL of the 400 flows");
	}

	/* UPDATE keeps what it is not given. */
	ret = flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_upd, PA, NULL);
	check(ret == 0, "UPDATE SRTP_OUT and OUT_DST (ret %d %s)", ret, c->errmsg);
	ret = get1(c, PA, &fb);
	check(ret == 0 && fb.out.suite == RAMPART_SUITE_AES_192_CM_HMAC_SHA1_32 &&
	      fb.out.roc == 9 && fb.out.seq == 65535 &&
	      ep_is(&fb.out_dst, "127.0.0.4", 40010) &&
	      ep_is(&fb.out_src, "127.0.0.1", PA + 2) &&
	      ep_is(&fb.expect, "127.0.0.2", -1) && fb.mismatch == RAMPART_MISMATCH_PASS &&
	      fb.in.suite == fa.in.suite && fb.in.roc == fa.in.roc &&
	      fb.in.window == fa.in.window,
	      "GET after UPDATE: changed parts changed, the rest kept");
	fa = fb;
	ret = flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, b_upd, PBAD, NULL);
	check(ret == -ENOENT, "UPDATE of a missing flow: ENOENT (%s)", c->errmsg);
	ret = flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_key, PBAD, NULL);
	check(ret == -ENOENT, "DEL of a missing flow: ENOENT");
	ret = get1(c, PBAD, &fb);
	check(ret == -ENOENT, "GET of a missing flow: ENOENT");
	ret = flow_cmd(c, RAMPART_CMD_FLOW_DEL, b_plain4, PA, NULL);
	check(ret == -EINVAL && get1(c, PA, &fb) == 0,
	      "DEL with more than LOCAL rejected, flow kept (%s)", c->errmsg);

	/* Malformed requests: refused, nothing changes. */
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		struct flow_view after;
		char why[sizeof(c->errmsg)];
		int r_add, r_upd;
		bool same;

		r_add = flow_cmd(c, RAMPART_CMD_FLOW_ADD, malformed[i].body, PBAD, NULL);
		memcpy(why, c->errmsg, sizeof(why));
		/* The same body as an UPDATE of flow A (key swapped in). */
		r_upd = malformed[i].add_only ? -EINVAL :
			flow_cmd(c, RAMPART_CMD_FLOW_UPDATE, malformed[i].body, PA, NULL);
		same = get1(c, PA, &after) == 0 && same_cfg(&after, &fa);
		check(rejected(r_add) && get1(c, PBAD, &fb) == -ENOENT &&
		      rejected(r_upd) && same && flow_count(c) == 3,
		      "rejected, no change: %s (add: %s [%s]; update: %d)",
		      malformed[i].name, strerror(-r_add), why, r_upd);
	}
	{
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh = req(c, buf, c->family, 0, RAMPART_CMD_FLOW_ADD,
					   RAMPART_GENL_VERSION);

		ret = nlc_talk(c, nlh, cb_noop, NULL);
		check(ret == -EINVAL, "ADD without RAMPART_A_FLOW rejected (%s)", c->errmsg);
		nlh = req(c, buf, c->family, 0, RAMPART_CMD_VERSION, RAMPART_GENL_VERSION);
		mnl_attr_put_u32(nlh, RAMPART_A_FLOW_COUNT, 1);
		ret = nlc_talk(c, nlh, cb_noop, NULL);
		check(ret == -EINVAL, "reply-only attribute in a request rejected (%s)",
		      c->errmsg);
		nlh = req(c, buf, c->family, 0, __RAMPART_CMD_MAX + 3, RAMPART_GENL_VERSION);
		ret = nlc_talk(c, nlh, cb_noop, NULL);
		check(ret == -EOPNOTSUPP, "unknown command rejected (%s)", strerror(-ret));
	}

	/* FLUSH. */
	ret = flush(c, &removed);
	check(ret == 0 && removed == 3, "FLUSH removed %u flows", removed);
	ret = dump(c, &fl);
	check(ret == 0 && fl.n == 0 && flow_count(c) == 0, "table empty after FLUSH");
	ret = flush(c, &removed);
	check(ret == 0 && removed == 0, "FLUSH of an empty table");
	free(fl.v);

	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}


