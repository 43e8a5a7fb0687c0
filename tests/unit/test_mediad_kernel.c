/* mkern: the pure parts of mediad's kernel offload (decision, flow
 * description, netlink message building and reply parsing, counter mapping)
 * driven with real sessions and packets through msess_packet; plus the
 * runtime on a host without rampart.ko (auto carries on, required refuses)
 * and the 'kernel' configuration key. The module itself is exercised by the
 * VM test tests/kmod/mediad-offload.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "kernel.h"
#include "mcfg.h"
#include "msrtp.h"
#include "rampart_nl.h"
#include "session.h"

enum { A_RTP = 100, A_RTCP = 101, B_RTP = 102, B_RTCP = 103 };

static const struct mkern_caps caps_v4 = {
	.present = true,
	.features = RAMPART_FEAT_FLOW_TABLE | RAMPART_FEAT_FWD_RTP_V4 | RAMPART_FEAT_FWD_RTP_V6,
};

static union maddr addr4(const char *ip, uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a.in.sin_addr), 1);
	return a;
}

static union maddr addr6(const char *ip, uint16_t port)
{
	union maddr a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &a.in6.sin6_addr), 1);
	return a;
}

static struct msess *mk(void)
{
	struct msess *s;

	ck_assert_int_eq(msess_new(7, "call", 1000, &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET, 20000, A_RTP, A_RTCP);
	msess_leg_set_sockets(s, 1, AF_INET, 20002, B_RTP, B_RTCP);
	return s;
}

static void apply(struct msess *s, int leg, struct mleg_update *u)
{
	msess_leg_apply(s, leg, u, 1000);
}

static void set_remote(struct msess *s, int leg, union maddr a)
{
	struct mleg_update u;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_REMOTE;
	u.remote = a;
	apply(s, leg, &u);
}

static void set_latch(struct msess *s, int leg, enum mleg_latch l)
{
	struct mleg_update u;

	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_LATCH;
	u.latch = l;
	apply(s, leg, &u);
}

/* Sends one RTP packet into leg 'leg' from src; returns the verdict. */
static enum msess_verdict send_rtp(struct msess *s, int leg, union maddr src, uint16_t seq)
{
	uint8_t b[256];
	size_t n = 12 + 20;
	struct mfwd fwd;

	memset(b, 0, sizeof(b));
	b[0] = 0x80;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[8] = 1;
	return msess_packet(s, &s->leg[leg].rtp, &src, b, &n, sizeof(b), 2000, &fwd);
}

START_TEST(decide_plain_latched)
{
	struct msess *s = mk();
	union maddr pa = addr4("192.0.2.10", 4000), pb = addr4("192.0.2.20", 5000);

	ck_assert_int_eq(mkern_decide(s, 0, NULL), MKERN_NO_MODULE);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_NO_SOURCE);
	/* B's remote given by the control plane; A not latched yet. */
	set_remote(s, 1, pb);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_NO_SOURCE);
	/* First packet latches A, but one packet is not enough. */
	ck_assert_int_eq(send_rtp(s, 0, pa, 1), MSESS_FORWARD);
	ck_assert(s->leg[0].latched_rtp);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_TOO_EARLY);
	ck_assert_int_eq(send_rtp(s, 0, pa, 2), MSESS_FORWARD);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_YES);
	/* B->A: B's remote is configured but latching is on and nothing came. */
	ck_assert_int_eq(mkern_decide(s, 1, &caps_v4), MKERN_NO_SOURCE);
	/* Module present but without IPv4 forwarding. */
	struct mkern_caps c6 = { true, RAMPART_FEAT_FWD_RTP_V6 };
	ck_assert_int_eq(mkern_decide(s, 0, &c6), MKERN_FAMILY);
	struct mkern_caps absent = { false, caps_v4.features };
	ck_assert_int_eq(mkern_decide(s, 0, &absent), MKERN_NO_MODULE);
	msess_free(s);
}
END_TEST

START_TEST(decide_latch_off_and_dest)
{
	struct msess *s = mk();
	union maddr pa = addr4("192.0.2.10", 4000);

	set_latch(s, 0, MLEG_LATCH_OFF);
	set_remote(s, 0, pa);
	/* A's source is fixed, but B has nowhere to send yet. */
	ck_assert_int_eq(send_rtp(s, 0, pa, 1), MSESS_DROP_NOREMOTE);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_NO_DEST);
	set_remote(s, 1, addr4("192.0.2.20", 5000));
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_TOO_EARLY);
	ck_assert_int_eq(send_rtp(s, 0, pa, 2), MSESS_FORWARD);
	ck_assert_int_eq(send_rtp(s, 0, pa, 3), MSESS_FORWARD);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_YES);
	msess_free(s);
}
END_TEST

START_TEST(decide_srtp_mux_family)
{
	static const uint8_t key[16] = { 1 }, salt[14] = { 2 };
	struct msrtp_params p = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = key, .salt = salt };
	struct msess *s = mk();
	union maddr pa = addr4("192.0.2.10", 4000);
	struct mleg_update u;

	set_remote(s, 1, addr4("192.0.2.20", 5000));
	ck_assert_int_eq(send_rtp(s, 0, pa, 1), MSESS_FORWARD);
	ck_assert_int_eq(send_rtp(s, 0, pa, 2), MSESS_FORWARD);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_YES);
	/* An SRTP 'out' context on B: A->B needs protecting: userspace. */
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_OUT;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &u.out), 0);
	apply(s, 1, &u);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_SRTP);
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_OUT; /* back to plain */
	apply(s, 1, &u);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_YES);
	/* RTCP muxed on A's RTP port: not for the module. */
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_MUX;
	u.rtcp_mux = true;
	apply(s, 0, &u);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_MUX);
	msess_free(s);

	/* A v6 leg and a v4 leg: the module does not translate families. */
	ck_assert_int_eq(msess_new(8, NULL, 1000, &s), 0);
	msess_leg_set_sockets(s, 0, AF_INET6, 20000, A_RTP, A_RTCP);
	msess_leg_set_sockets(s, 1, AF_INET, 20002, B_RTP, B_RTCP);
	set_remote(s, 1, addr4("192.0.2.20", 5000));
	ck_assert_int_eq(send_rtp(s, 0, addr6("2001:db8::1", 4000), 1), MSESS_FORWARD);
	ck_assert_int_eq(send_rtp(s, 0, addr6("2001:db8::1", 4000), 2), MSESS_FORWARD);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_FAMILY);
	msess_free(s);

	/* No socket (a leg not set up): never. */
	ck_assert_int_eq(msess_new(9, NULL, 1000, &s), 0);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_NO_SOCKET);
	msess_free(s);
}
END_TEST

START_TEST(flow_from_session)
{
	struct msess *s = mk();
	union maddr pa = addr4("192.0.2.10", 4000), pb = addr4("192.0.2.20", 5000);
	union maddr la = addr4("127.0.0.1", 20000), lb = addr4("127.0.0.1", 20002);
	struct mkern_flow f;

	set_remote(s, 1, pb);
	ck_assert_int_eq(send_rtp(s, 0, pa, 1), MSESS_FORWARD);
	ck_assert_int_eq(mkern_flow_from(s, 0, 1, &la, &lb, &f), 0);
	ck_assert(maddr_eq(&f.local, &la));
	ck_assert(maddr_eq(&f.expect_src, &pa));
	ck_assert(maddr_eq(&f.out_src, &lb));
	ck_assert(maddr_eq(&f.out_dst, &pb));
	ck_assert_int_eq(f.mismatch, RAMPART_MISMATCH_PASS);
	set_latch(s, 0, MLEG_LATCH_STRICT);
	ck_assert_int_eq(mkern_flow_from(s, 0, 1, &la, &lb, &f), 0);
	ck_assert_int_eq(f.mismatch, RAMPART_MISMATCH_DROP);
	/* B->A: A's remote known (latched), B's too: flow keyed on B. */
	ck_assert_int_eq(mkern_flow_from(s, 1, 1, &lb, &la, &f), 0);
	ck_assert(maddr_eq(&f.local, &lb));
	ck_assert(maddr_eq(&f.out_dst, &pa));
	/* A wildcard local address cannot key a flow. */
	union maddr any = addr4("0.0.0.0", 20000);
	ck_assert_int_eq(mkern_flow_from(s, 0, 1, &any, &lb, &f), -EINVAL);
	msess_free(s);
}
END_TEST

/* Parses our own request back (the module's view of it). */
struct seen {
	uint8_t cmd;
	bool local, expect, out_src, out_dst, mismatch_attr;
	uint8_t mismatch;
	union maddr l, e, os, od;
	uint32_t version;
};

static void ep_back(const struct nlattr *nest, union maddr *out)
{
	struct nlmsghdr *h;
	char buf[256];

	/* Wrap the nested endpoint in a FLOW reply so mkern_parse_flow reads it. */
	h = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	struct nlattr *f = mnl_attr_nest_start(h, RAMPART_A_FLOW);
	mnl_attr_put(h, RAMPART_FLOW_A_LOCAL | NLA_F_NESTED, mnl_attr_get_payload_len(nest),
		mnl_attr_get_payload(nest));
	mnl_attr_nest_end(h, f);
	struct mkern_flow_reply r;
	ck_assert_int_eq(mkern_parse_flow(h, &r), 0);
	*out = r.local;
}

static void read_request(const struct nlmsghdr *nlh, struct seen *s)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *b;

	memset(s, 0, sizeof(*s));
	s->cmd = g->cmd;
	ck_assert_int_eq(g->version, RAMPART_GENL_VERSION);
	ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
	ck_assert(nlh->nlmsg_flags & NLM_F_ACK);
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) == RAMPART_A_VERSION) {
			s->version = mnl_attr_get_u32(a);
			continue;
		}
		ck_assert_int_eq(mnl_attr_get_type(a), RAMPART_A_FLOW);
		/* The module insists on NLA_F_NESTED. */
		ck_assert(a->nla_type & NLA_F_NESTED);
		mnl_attr_for_each_nested(b, a) {
			switch (mnl_attr_get_type(b)) {
			case RAMPART_FLOW_A_LOCAL:
				ck_assert(b->nla_type & NLA_F_NESTED);
				s->local = true;
				ep_back(b, &s->l);
				break;
			case RAMPART_FLOW_A_EXPECT_SRC:
				s->expect = true;
				ep_back(b, &s->e);
				break;
			case RAMPART_FLOW_A_OUT_SRC:
				s->out_src = true;
				ep_back(b, &s->os);
				break;
			case RAMPART_FLOW_A_OUT_DST:
				s->out_dst = true;
				ep_back(b, &s->od);
				break;
			case RAMPART_FLOW_A_MISMATCH:
				ck_assert_int_eq(mnl_attr_get_payload_len(b), 1);
				s->mismatch_attr = true;
				s->mismatch = mnl_attr_get_u8(b);
				break;
			default:
				ck_abort_msg("unexpected flow attribute %u", mnl_attr_get_type(b));
			}
		}
	}
}

START_TEST(build_messages)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct seen sn;
	struct mkern_flow f;

	nlh = mkern_msg_version(buf, 0x1234, 42);
	ck_assert_int_eq(nlh->nlmsg_type, 0x1234);
	ck_assert_int_eq(nlh->nlmsg_seq, 42);
	read_request(nlh, &sn);
	ck_assert_int_eq(sn.cmd, RAMPART_CMD_VERSION);
	ck_assert_int_eq(sn.version, RAMPART_ABI_VERSION);

	memset(&f, 0, sizeof(f));
	f.local = addr4("127.0.0.1", 20000);
	f.expect_src = addr4("192.0.2.10", 4000);
	f.out_src = addr4("127.0.0.1", 20002);
	f.out_dst = addr4("192.0.2.20", 5000);
	f.mismatch = RAMPART_MISMATCH_DROP;
	nlh = mkern_msg_flow(buf, 0x1234, 43, RAMPART_CMD_FLOW_ADD, &f, true);
	read_request(nlh, &sn);
	ck_assert_int_eq(sn.cmd, RAMPART_CMD_FLOW_ADD);
	ck_assert(sn.local && sn.expect && sn.out_src && sn.out_dst && sn.mismatch_attr);
	ck_assert(maddr_eq(&sn.l, &f.local));
	ck_assert(maddr_eq(&sn.e, &f.expect_src));
	ck_assert(maddr_eq(&sn.os, &f.out_src));
	ck_assert(maddr_eq(&sn.od, &f.out_dst));
	ck_assert_int_eq(sn.mismatch, RAMPART_MISMATCH_DROP);

	/* GET/DEL carry LOCAL only (anything else is refused by the module). */
	nlh = mkern_msg_flow(buf, 0x1234, 44, RAMPART_CMD_FLOW_DEL, &f, false);
	read_request(nlh, &sn);
	ck_assert_int_eq(sn.cmd, RAMPART_CMD_FLOW_DEL);
	ck_assert(sn.local && !sn.expect && !sn.out_src && !sn.out_dst && !sn.mismatch_attr);

	/* IPv6, no expected source. */
	memset(&f, 0, sizeof(f));
	f.local = addr6("::1", 20000);
	f.out_src = addr6("::1", 20002);
	f.out_dst = addr6("2001:db8::7", 6000);
	nlh = mkern_msg_flow(buf, 1, 45, RAMPART_CMD_FLOW_UPDATE, &f, true);
	read_request(nlh, &sn);
	ck_assert(!sn.expect);
	ck_assert(maddr_eq(&sn.l, &f.local));
	ck_assert(maddr_eq(&sn.od, &f.out_dst));
}
END_TEST

static struct nlmsghdr *version_reply(char *buf, bool with_abi)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);

	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	if (with_abi)
		mnl_attr_put_u32(h, RAMPART_A_VERSION, 1);
	mnl_attr_put_strz(h, RAMPART_A_MODULE_VERSION, "0.1.0");
	mnl_attr_put_u32(h, RAMPART_A_FLOW_MAX, 65536);
	mnl_attr_put_u32(h, RAMPART_A_FLOW_COUNT, 3);
	mnl_attr_put_u32(h, RAMPART_A_FEATURES, 7);
	mnl_attr_put_u32(h, 200, 9); /* an attribute from a newer module */
	return h;
}

START_TEST(parse_replies)
{
	char buf[1024];
	struct mkern_version v;
	struct mkern_flow_reply r;
	struct nlmsghdr *h;

	ck_assert_int_eq(mkern_parse_version(version_reply(buf, true), &v), 0);
	ck_assert_int_eq(v.abi, 1);
	ck_assert_str_eq(v.release, "0.1.0");
	ck_assert_int_eq(v.flow_max, 65536);
	ck_assert_int_eq(v.flow_count, 3);
	ck_assert_int_eq(v.features, 7);
	ck_assert_int_eq(mkern_parse_version(version_reply(buf, false), &v), -EBADMSG);
	/* A u32 attribute of the wrong size. */
	h = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	mnl_attr_put_u16(h, RAMPART_A_VERSION, 1);
	ck_assert_int_eq(mkern_parse_version(h, &v), -EBADMSG);
	/* Too short for a genetlink header. */
	h = mnl_nlmsg_put_header(buf);
	ck_assert_int_eq(mkern_parse_version(h, &v), -EBADMSG);
	ck_assert_int_eq(mkern_parse_flow(h, &r), -EBADMSG);

	/* A FLOW_GET reply: local, other parts, stats with a pad. */
	h = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	struct nlattr *f = mnl_attr_nest_start(h, RAMPART_A_FLOW);
	struct nlattr *e = mnl_attr_nest_start(h, RAMPART_FLOW_A_LOCAL);
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	mnl_attr_put(h, RAMPART_EP_A_ADDR4, 4, &lo);
	mnl_attr_put_u16(h, RAMPART_EP_A_PORT, 20000);
	mnl_attr_nest_end(h, e);
	mnl_attr_put_u8(h, RAMPART_FLOW_A_MISMATCH, 0);
	struct nlattr *st = mnl_attr_nest_start(h, RAMPART_FLOW_A_STATS);
	mnl_attr_put_u64(h, RAMPART_STATS_A_PACKETS, 1000);
	mnl_attr_put_u64(h, RAMPART_STATS_A_BYTES, 172000);
	mnl_attr_put_u64(h, RAMPART_STATS_A_AUTH_FAIL, 1);
	mnl_attr_put_u64(h, RAMPART_STATS_A_REPLAY_DROP, 2);
	mnl_attr_put_u64(h, RAMPART_STATS_A_SRC_MISMATCH, 3);
	mnl_attr_put_u64(h, RAMPART_STATS_A_LAST_SEEN_NS, 5000000000ull);
	mnl_attr_nest_end(h, st);
	mnl_attr_nest_end(h, f);
	ck_assert_int_eq(mkern_parse_flow(h, &r), 0);
	union maddr want = addr4("127.0.0.1", 20000);
	ck_assert(maddr_eq(&r.local, &want));
	ck_assert(r.has_stats);
	ck_assert_uint_eq(r.c.packets, 1000);
	ck_assert_uint_eq(r.c.bytes, 172000);
	ck_assert_uint_eq(r.c.auth_fail, 1);
	ck_assert_uint_eq(r.c.replay_drop, 2);
	ck_assert_uint_eq(r.c.src_mismatch, 3);
	ck_assert_uint_eq(r.c.last_seen_ns, 5000000000ull);

	/* A reply without LOCAL, and one with a truncated address. */
	h = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	f = mnl_attr_nest_start(h, RAMPART_A_FLOW);
	mnl_attr_put_u8(h, RAMPART_FLOW_A_MISMATCH, 0);
	mnl_attr_nest_end(h, f);
	ck_assert_int_eq(mkern_parse_flow(h, &r), -EBADMSG);
	h = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(h, sizeof(struct genlmsghdr));
	f = mnl_attr_nest_start(h, RAMPART_A_FLOW);
	e = mnl_attr_nest_start(h, RAMPART_FLOW_A_LOCAL);
	mnl_attr_put(h, RAMPART_EP_A_ADDR4, 3, &lo);
	mnl_attr_put_u16(h, RAMPART_EP_A_PORT, 20000);
	mnl_attr_nest_end(h, e);
	mnl_attr_nest_end(h, f);
	ck_assert_int_eq(mkern_parse_flow(h, &r), -EBADMSG);
}
END_TEST

START_TEST(counters_map)
{
	struct mkern_counters c = { .packets = 10, .bytes = 1720, .auth_fail = 1,
		.replay_drop = 2, .src_mismatch = 3, .last_seen_ns = 7000000000ull };
	struct mstats_leg l[2];

	memset(l, 0, sizeof(l));
	l[1].pkts_in = 5;
	mkern_counters_to_legs(&c, 1, RAMPART_MISMATCH_PASS, l);
	ck_assert_uint_eq(l[1].pkts_in, 15);
	ck_assert_uint_eq(l[1].bytes_in, 1720);
	ck_assert_uint_eq(l[0].pkts_out, 10);
	ck_assert_uint_eq(l[0].bytes_out, 1720);
	ck_assert_uint_eq(l[0].pkts_in, 0);
	ck_assert_uint_eq(l[1].auth_fail, 1);
	ck_assert_uint_eq(l[1].replay, 2);
	/* PASSed strangers reached mediad, which counted them already. */
	ck_assert_uint_eq(l[1].src_mismatch, 0);
	ck_assert_uint_eq(l[1].last_ms, 7000);
	mkern_counters_to_legs(&c, 1, RAMPART_MISMATCH_DROP, l);
	ck_assert_uint_eq(l[1].src_mismatch, 3);
	ck_assert_uint_eq(l[1].pkts_in, 25);
}
END_TEST

START_TEST(modes_and_config)
{
	enum mkern_mode m;
	struct mcfg c;
	const char *why = NULL;

	ck_assert_int_eq(mkern_mode_parse("required", 8, &m), 0);
	ck_assert_int_eq(m, MKERN_REQUIRED);
	ck_assert_int_eq(mkern_mode_parse("off", 3, &m), 0);
	ck_assert_int_eq(m, MKERN_OFF);
	ck_assert_int_eq(mkern_mode_parse("auto", 4, &m), 0);
	ck_assert_int_eq(m, MKERN_AUTO);
	ck_assert_int_eq(mkern_mode_parse("autox", 5, &m), -EINVAL);
	ck_assert_int_eq(mkern_mode_parse("aut", 3, &m), -EINVAL);
	mcfg_defaults(&c);
	ck_assert_int_eq(c.kernel, MKERN_AUTO);
	ck_assert_int_eq(mcfg_set(&c, "kernel", 6, "off", 3, &why), 0);
	ck_assert_int_eq(c.kernel, MKERN_OFF);
	ck_assert_int_eq(mcfg_set(&c, "kernel", 6, "yes", 3, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(c.kernel, MKERN_OFF);
}
END_TEST

/* On this host rampart.ko is not loaded (and cannot be): auto carries on
 * without it, required refuses with a reason. Skipped if it is loaded. */
START_TEST(runtime_without_module)
{
	struct mkern *k = NULL;
	struct mkern_caps caps;
	struct mkern_info info;
	char err[200] = "";
	struct mstats_leg l[2];
	bool off[2] = { true, true };
	int rc;

	ck_assert_int_eq(mkern_new(MKERN_AUTO, err, sizeof(err), &k), 0);
	ck_assert_ptr_nonnull(k);
	if (mkern_usable(k, &caps)) {
		mkern_free(k);
		return; /* the module is there: the VM test covers this */
	}
	mkern_get_info(k, &info);
	ck_assert_int_eq(info.mode, MKERN_AUTO);
	ck_assert(!info.present);
	ck_assert_uint_eq(info.flows, 0);
	/* Requests without a module change nothing and are answered. */
	struct mkern_flow f;
	memset(&f, 0, sizeof(f));
	f.local = addr4("127.0.0.1", 20000);
	f.out_src = addr4("127.0.0.1", 20002);
	f.out_dst = addr4("127.0.0.1", 20004);
	mkern_post_offload(k, 5, 0, 1, &f);
	memset(l, 0, sizeof(l));
	mkern_session(k, 5, false, l, off);
	ck_assert(!off[0] && !off[1]);
	ck_assert_uint_eq(l[0].pkts_in, 0);
	mkern_session(k, 5, true, l, off);
	mkern_post_release(k, 6, true);
	ck_assert_uint_eq(mkern_last_ms(k, 5) == UINT64_MAX ? 0 : mkern_last_ms(k, 5), 0);
	mkern_free(k);

	k = NULL;
	rc = mkern_new(MKERN_REQUIRED, err, sizeof(err), &k);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(err, "kernel = required") != NULL, "reason: %s", err);

	ck_assert_int_eq(mkern_new(MKERN_OFF, err, sizeof(err), &k), 0);
	ck_assert(!mkern_usable(k, &caps));
	mkern_free(k);
	mkern_free(NULL);
}
END_TEST


/* SRTP: offloaded only with the module's SRTP feature for the suite, with
 * the keys kept, without MKI; the flow carries key, salt and the index. */
START_TEST(srtp_offload)
{
	static const uint8_t key[16] = { 1, 2, 3 }, salt[14] = { 4, 5, 6 };
	struct msrtp_params p = { .suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = key, .salt = salt };
	struct mkern_caps cm = { true, RAMPART_FEAT_FWD_RTP_V4 | RAMPART_FEAT_SRTP_AES_CM };
	struct msess *s = mk();
	union maddr pa = addr4("192.0.2.10", 4000), pb = addr4("192.0.2.20", 5000);
	union maddr la = addr4("127.0.0.1", 20000), lb = addr4("127.0.0.1", 20002);
	struct msrtp *snd;
	struct mleg_update u;
	struct mkern_flow f;
	uint8_t b[256];
	struct mfwd fwd;

	set_remote(s, 1, pb);
	memset(&u, 0, sizeof(u));
	u.set = MLEG_SET_IN;
	ck_assert_int_eq(msrtp_new(MSRTP_UNPROTECT, &p, &u.in), 0);
	u.in_keys.set = true;
	u.in_keys.suite = MSRTP_AES_CM_128_HMAC_SHA1_80;
	u.in_keys.key_len = 16;
	u.in_keys.salt_len = 14;
	memcpy(u.in_keys.key, key, 16);
	memcpy(u.in_keys.salt, salt, 14);
	apply(s, 0, &u);
	/* apply wiped the update's copy and kept the leg's. */
	ck_assert(!u.in_keys.set);
	ck_assert(s->leg[0].kin.set);
	ck_assert_int_eq(s->leg[0].kin.key[2], 3);
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &snd), 0);
	for (uint16_t seq = 65534; seq != 2; seq++) { /* across a wrap: ROC 1 */
		size_t n = 12 + 20;
		memset(b, 0, sizeof(b));
		b[0] = 0x80;
		b[2] = (uint8_t)(seq >> 8);
		b[3] = (uint8_t)seq;
		b[11] = 9; /* SSRC 9 */
		ck_assert_int_eq(msrtp_protect_rtp(snd, b, &n, sizeof(b)), MSRTP_OK);
		ck_assert_int_eq(msess_packet(s, &s->leg[0].rtp, &pa, b, &n, sizeof(b), 2000, &fwd),
			MSESS_FORWARD);
	}
	msrtp_free(snd);
	ck_assert_int_eq(mkern_decide(s, 0, &caps_v4), MKERN_SRTP); /* no SRTP feature */
	ck_assert_int_eq(mkern_decide(s, 0, &cm), MKERN_YES);
	ck_assert_int_eq(mkern_flow_from(s, 0, 7, &la, &lb, &f), -EAGAIN); /* SSRC 7 unseen */
	ck_assert_int_eq(mkern_flow_from(s, 0, 9, &la, &lb, &f), 0);
	ck_assert(f.in.set && !f.out.set);
	ck_assert_int_eq(f.in.suite, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80);
	ck_assert_int_eq(f.in.key_len, 16);
	ck_assert_int_eq(f.in.salt_len, 14);
	ck_assert_mem_eq(f.in.key, key, 16);
	ck_assert_uint_eq(f.in.roc, 1);
	ck_assert_uint_eq(f.in.seq, 1);
	ck_assert_uint_eq(f.ssrc, 9);

	/* The request carries SRTP_IN with the key in KEY_128, SALT_112, ROC, SEQ. */
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mkern_msg_flow(buf, 1, 1, RAMPART_CMD_FLOW_ADD, &f, true);
	const struct nlattr *a, *fl = NULL, *x = NULL, *y;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		fl = a;
	ck_assert_ptr_nonnull(fl);
	mnl_attr_for_each_nested(a, fl) {
		ck_assert_int_ne(mnl_attr_get_type(a), RAMPART_FLOW_A_SRTP_OUT);
		if (mnl_attr_get_type(a) == RAMPART_FLOW_A_SRTP_IN)
			x = a;
	}
	ck_assert_ptr_nonnull(x);
	ck_assert(x->nla_type & NLA_F_NESTED);
	int seen = 0;
	mnl_attr_for_each_nested(y, x) {
		switch (mnl_attr_get_type(y)) {
		case RAMPART_XF_A_SUITE:
			ck_assert_uint_eq(mnl_attr_get_u32(y), RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80);
			seen |= 1;
			break;
		case RAMPART_XF_A_KEY_128:
			ck_assert_int_eq(mnl_attr_get_payload_len(y), 16);
			ck_assert_mem_eq(mnl_attr_get_payload(y), key, 16);
			seen |= 2;
			break;
		case RAMPART_XF_A_SALT_112:
			ck_assert_int_eq(mnl_attr_get_payload_len(y), 14);
			seen |= 4;
			break;
		case RAMPART_XF_A_ROC:
			ck_assert_uint_eq(mnl_attr_get_u32(y), 1);
			seen |= 8;
			break;
		case RAMPART_XF_A_SEQ:
			ck_assert_uint_eq(mnl_attr_get_u16(y), 1);
			seen |= 16;
			break;
		default:
			ck_abort_msg("unexpected transform attribute");
		}
	}
	ck_assert_int_eq(seen, 31);

	/* An MKI, or GCM without the GCM feature: userspace. */
	s->leg[0].kin.mki = true;
	ck_assert_int_eq(mkern_decide(s, 0, &cm), MKERN_SRTP);
	s->leg[0].kin.mki = false;
	s->leg[0].kin.suite = MSRTP_AEAD_AES_128_GCM;
	ck_assert_int_eq(mkern_decide(s, 0, &cm), MKERN_SRTP);
	cm.features |= RAMPART_FEAT_SRTP_GCM;
	ck_assert_int_eq(mkern_decide(s, 0, &cm), MKERN_YES);
	/* A context without its keys kept (not from the control plane): no. */
	s->leg[0].kin.set = false;
	ck_assert_int_eq(mkern_decide(s, 0, &cm), MKERN_SRTP);
	msess_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mediad_kernel");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, decide_plain_latched);
	tcase_add_test(tc, decide_latch_off_and_dest);
	tcase_add_test(tc, decide_srtp_mux_family);
	tcase_add_test(tc, flow_from_session);
	tcase_add_test(tc, build_messages);
	tcase_add_test(tc, parse_replies);
	tcase_add_test(tc, counters_map);
	tcase_add_test(tc, modes_and_config);
	tcase_add_test(tc, runtime_without_module);
	tcase_add_test(tc, srtp_offload);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
