/*
 * nlclient: a small generic netlink client for rampart.ko (libmnl), used by
 * the kernel-module tests inside the VM (tests/kmod/vm-test.sh).
 *
 *   nlclient version            print the VERSION handshake reply
 *   nlclient dump               print every flow of this namespace
 *   nlclient flush              remove every flow
 *   nlclient fill N PORT        add N plain IPv4 flows on 127.0.0.1:PORT..
 *   nlclient capacity           fill the table to FLOW_MAX, expect ENOSPC
 *   nlclient selftest           the ABI test sequence (see selftest)
 *   nlclient fwdtest            the IPv4 plain RTP packet path, on loopback
 *   nlclient add-flow LOCAL LPORT EXPECT OUT_SRC SPORT OUT_DST DPORT
 *   nlclient packets LOCAL LPORT     print a flow's PACKETS counter
 *   nlclient udp-send DST DPORT N    send N RTP packets (20 ms apart)
 *   nlclient udp-recv ADDR PORT N SECS  wait for N intact RTP packets
 *   nlclient stress ITERS       control-plane churn racing the packet path
 *
 * Exit status 0 on success. selftest prints one "ok"/"not ok" line per check
 * and a closing "N passed, N failed" line.
 */
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

#include "rampart_nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct nlc {
	struct mnl_socket *nl;
	uint16_t family;
	uint32_t seq;
	uint32_t portid;
	char errmsg[256];	/* extended ack message of the last error */
};

/* ---- socket and request plumbing --------------------------------------- */

/* mnl_cb_run2 hands the same data pointer to reply and control callbacks. */
struct talk_ctx {
	struct nlc *c;
	mnl_cb_t cb;
	void *data;
};

static int cb_reply(const struct nlmsghdr *nlh, void *data)
{
	struct talk_ctx *t = data;

	return t->cb(nlh, t->data);
}

static int cb_err(const struct nlmsghdr *nlh, void *data)
{
	struct nlc *c = ((struct talk_ctx *)data)->c;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	c->errmsg[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
		mnl_attr_for_each(a, nlh, off) {
			if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(c->errmsg, sizeof(c->errmsg), "%s",
					 mnl_attr_get_str(a));
		}
	}
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int cb_noop(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return MNL_CB_OK;
}

/* End of a dump; a failed dump carries its error as an int here. */
static int cb_done(const struct nlmsghdr *nlh, void *data)
{
	int err = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(int));
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = cb_noop,
	[NLMSG_ERROR] = cb_err,
	[NLMSG_DONE] = cb_done,
};

/* Sends @nlh and reads replies until the ack/DONE. Returns 0 or -errno. */
static int nlc_talk(struct nlc *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static char buf[1 << 16];
	uint32_t seq = nlh->nlmsg_seq;
	struct talk_ctx t = { .c = c, .cb = cb, .data = data };
	ssize_t n;
	int ret;

	c->errmsg[0] = '\0';
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int i = 0; i < 100000; i++) {
		n = mnl_socket_recvfrom(c->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run2(buf, (size_t)n, seq, c->portid, cb_reply, &t,
				  ctl_cbs, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
	return -ETIMEDOUT;
}

static struct nlmsghdr *req(struct nlc *c, char *buf, uint16_t type,
			    uint16_t flags, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++c->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int cb_family(const struct nlmsghdr *nlh, void *data)
{
	struct nlc *c = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			c->family = mnl_attr_get_u16(a);
	}
	return MNL_CB_OK;
}

/* Opens a socket and resolves the "rampart" family. Returns 0 or -errno. */
static int nlc_open(struct nlc *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(c, 0, sizeof(*c));
	c->seq = (uint32_t)time(NULL);
	c->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!c->nl)
		return -errno;
	if (mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(c->nl);
		return ret;
	}
	c->portid = mnl_socket_get_portid(c->nl);
	/* Every wait is bounded: a lost reply fails the test, never hangs it. */
	{
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(mnl_socket_get_fd(c->nl), SOL_SOCKET, SO_RCVTIMEO,
			   &tv, sizeof(tv));
	}
	/* Best effort: without them errors just carry no message. */
	mnl_socket_setsockopt(c->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(c->nl, NETLINK_CAP_ACK, &one, sizeof(one));

	nlh = req(c, buf, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, RAMPART_GENL_NAME);
	ret = nlc_talk(c, nlh, cb_family, c);
	if (ret == 0 && c->family == 0)
		ret = -ENOENT;
	if (ret) {
		mnl_socket_close(c->nl);
		c->nl = NULL;
	}
	return ret;
}

static void nlc_close(struct nlc *c)
{
	if (c->nl)
		mnl_socket_close(c->nl);
	c->nl = NULL;
}

/* ---- reply parsing ------------------------------------------------------ */

struct ep_view {
	int family;		/* 0: absent */
	uint8_t addr[16];
	int port;		/* -1: absent */
};

struct xf_view {
	bool present;
	bool has_key;		/* must never be true in a reply */
	uint32_t suite, roc, window;
	uint16_t seq;
};

struct flow_view {
	struct ep_view local, expect, out_src, out_dst;
	int mismatch;
	struct xf_view in, out;
	bool has_stats;
	uint64_t stats[RAMPART_STATS_A_MAX + 1];
	bool unknown;		/* an attribute this client does not know */
};

struct version_view {
	uint32_t abi, max, count, features;
	char release[RAMPART_MODULE_VERSION_MAX];
};

static void parse_ep(const struct nlattr *nest, struct ep_view *ep, bool *unknown)
{
	const struct nlattr *a;

	memset(ep, 0, sizeof(*ep));
	ep->port = -1;
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_EP_A_ADDR4:
			if (mnl_attr_get_payload_len(a) != 4)
				goto bad;
			ep->family = AF_INET;
			memcpy(ep->addr, mnl_attr_get_payload(a), 4);
			break;
		case RAMPART_EP_A_ADDR6:
			if (mnl_attr_get_payload_len(a) != 16)
				goto bad;
			ep->family = AF_INET6;
			memcpy(ep->addr, mnl_attr_get_payload(a), 16);
			break;
		case RAMPART_EP_A_PORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16))
				goto bad;
			ep->port = mnl_attr_get_u16(a);
			break;
		default:
			goto bad;
		}
		continue;
bad:
		*unknown = true;
	}
}

static void parse_xf(const struct nlattr *nest, struct xf_view *xf, bool *unknown)
{
	const struct nlattr *a;

	memset(xf, 0, sizeof(*xf));
	xf->present = true;
	mnl_attr_for_each_nested(a, nest) {
		int t = mnl_attr_get_type(a);

		if (t >= RAMPART_XF_A_KEY_128 && t <= RAMPART_XF_A_SALT_96)
			xf->has_key = true;
		else if (t == RAMPART_XF_A_SUITE && !mnl_attr_validate(a, MNL_TYPE_U32))
			xf->suite = mnl_attr_get_u32(a);
		else if (t == RAMPART_XF_A_ROC && !mnl_attr_validate(a, MNL_TYPE_U32))
			xf->roc = mnl_attr_get_u32(a);
		else if (t == RAMPART_XF_A_SEQ && !mnl_attr_validate(a, MNL_TYPE_U16))
			xf->seq = mnl_attr_get_u16(a);
		else if (t == RAMPART_XF_A_REPLAY_WINDOW &&
			 !mnl_attr_validate(a, MNL_TYPE_U32))
			xf->window = mnl_attr_get_u32(a);
		else
			*unknown = true;
	}
}

static void parse_flow(const struct nlattr *nest, struct flow_view *f)
{
	const struct nlattr *a, *s;

	memset(f, 0, sizeof(*f));
	f->mismatch = -1;
	f->local.port = f->expect.port = f->out_src.port = f->out_dst.port = -1;
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_FLOW_A_LOCAL: parse_ep(a, &f->local, &f->unknown); break;
		case RAMPART_FLOW_A_EXPECT_SRC: parse_ep(a, &f->expect, &f->unknown); break;
		case RAMPART_FLOW_A_OUT_SRC: parse_ep(a, &f->out_src, &f->unknown); break;
		case RAMPART_FLOW_A_OUT_DST: parse_ep(a, &f->out_dst, &f->unknown); break;
		case RAMPART_FLOW_A_SRTP_IN: parse_xf(a, &f->in, &f->unknown); break;
		case RAMPART_FLOW_A_SRTP_OUT: parse_xf(a, &f->out, &f->unknown); break;
		case RAMPART_FLOW_A_MISMATCH:
			if (mnl_attr_validate(a, MNL_TYPE_U8) == 0)
				f->mismatch = mnl_attr_get_u8(a);
			else
				f->unknown = true;
			break;
		case RAMPART_FLOW_A_STATS:
			f->has_stats = true;
			mnl_attr_for_each_nested(s, a) {
				int t = mnl_attr_get_type(s);

				if (t == RAMPART_STATS_A_PAD)
					continue;
				if (t > RAMPART_STATS_A_MAX ||
				    mnl_attr_validate(s, MNL_TYPE_U64))
					f->unknown = true;
				else
					f->stats[t] = mnl_attr_get_u64(s);
			}
			break;
		default:
			f->unknown = true;
		}
	}
}

struct flows {
	size_t n, cap;
	struct flow_view *v;
};

static int cb_flows(const struct nlmsghdr *nlh, void *data)
{
	struct flows *fl = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != RAMPART_A_FLOW)
			continue;
		if (fl->n == fl->cap) {
			size_t cap = fl->cap ? fl->cap * 2 : 16;
			struct flow_view *v = realloc(fl->v, cap * sizeof(*v));

			if (!v)
				return MNL_CB_ERROR;
			fl->v = v;
			fl->cap = cap;
		}
		parse_flow(a, &fl->v[fl->n++]);
	}
	return MNL_CB_OK;
}

static int cb_version(const struct nlmsghdr *nlh, void *data)
{
	struct version_view *v = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case RAMPART_A_VERSION: v->abi = mnl_attr_get_u32(a); break;
		case RAMPART_A_FLOW_MAX: v->max = mnl_attr_get_u32(a); break;
		case RAMPART_A_FLOW_COUNT: v->count = mnl_attr_get_u32(a); break;
		case RAMPART_A_FEATURES: v->features = mnl_attr_get_u32(a); break;
		case RAMPART_A_MODULE_VERSION:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				snprintf(v->release, sizeof(v->release), "%s",
					 mnl_attr_get_str(a));
			break;
		}
	}
	return MNL_CB_OK;
}

/* ---- request building ---------------------------------------------------- */

static void put_ep(struct nlmsghdr *nlh, int type, const char *addr, long port)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	uint8_t a[16];

	if (addr && inet_pton(AF_INET, addr, a) == 1)
		mnl_attr_put(nlh, RAMPART_EP_A_ADDR4, 4, a);
	else if (addr && inet_pton(AF_INET6, addr, a) == 1)
		mnl_attr_put(nlh, RAMPART_EP_A_ADDR6, 16, a);
	if (port >= 0)
		mnl_attr_put_u16(nlh, RAMPART_EP_A_PORT, (uint16_t)port);
	mnl_attr_nest_end(nlh, n);
}

/* key_attr/salt_attr 0: left out; window 0: left out. */
static void put_xf(struct nlmsghdr *nlh, int type, uint32_t suite,
		   int key_attr, size_t key_len, int salt_attr, size_t salt_len,
		   uint32_t roc, uint16_t seq, uint32_t window)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	uint8_t k[64];

	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)(0xa0 + i);
	if (suite)
		mnl_attr_put_u32(nlh, RAMPART_XF_A_SUITE, suite);
	if (key_attr)
		mnl_attr_put(nlh, (uint16_t)key_attr, key_len, k);
	if (salt_attr)
		mnl_attr_put(nlh, (uint16_t)salt_attr, salt_len, k + 32);
	mnl_attr_put_u32(nlh, RAMPART_XF_A_ROC, roc);
	mnl_attr_put_u16(nlh, RAMPART_XF_A_SEQ, seq);
	if (window)
		mnl_attr_put_u32(nlh, RAMPART_XF_A_REPLAY_WINDOW, window);
	mnl_attr_nest_end(nlh, n);
}

static void put_xf_aes128(struct nlmsghdr *nlh, int type, uint32_t window)
{
	put_xf(nlh, type, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	       RAMPART_XF_A_KEY_128, 16, RAMPART_XF_A_SALT_112, 14, 5, 100, window);
}

/* Builds a request carrying one RAMPART_A_FLOW filled by @body. */
typedef void (*body_fn)(struct nlmsghdr *nlh, long port);

static int flow_cmd(struct nlc *c, uint8_t cmd, body_fn body, long port,
		    struct flows *out)
{
	static char buf[1 << 14];
	struct nlmsghdr *nlh;
	struct nlattr *n;

	nlh = req(c, buf, c->family, 0, cmd, RAMPART_GENL_VERSION);
	n = mnl_attr_nest_start(nlh, RAMPART_A_FLOW);
	body(nlh, port);
	mnl_attr_nest_end(nlh, n);
	return nlc_talk(c, nlh, out ? cb_flows : cb_noop, out);
}

static int version(struct nlc *c, long client_abi, struct version_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(v, 0, sizeof(*v));
	nlh = req(c, buf, c->family, 0, RAMPART_CMD_VERSION, RAMPART_GENL_VERSION);
	if (client_abi >= 0)
		mnl_attr_put_u32(nlh, RAMPART_A_VERSION, (uint32_t)client_abi);
	return nlc_talk(c, nlh, cb_version, v);
}

static int dump(struct nlc *c, struct flows *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = req(c, buf, c->family, NLM_F_DUMP, RAMPART_CMD_FLOW_DUMP,
		  RAMPART_GENL_VERSION);
	return nlc_talk(c, nlh, cb_flows, out);
}

static int flush(struct nlc *c, uint32_t *removed)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct version_view v;
	struct nlmsghdr *nlh;
	int ret;

	memset(&v, 0, sizeof(v));
	nlh = req(c, buf, c->family, 0, RAMPART_CMD_FLUSH, RAMPART_GENL_VERSION);
	ret = nlc_talk(c, nlh, cb_version, &v);
	if (removed)
		*removed = v.count;
	return ret;
}

/* ---- flow bodies ------------------------------------------------------------ */

static void b_key(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
}

static void b_plain4(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", port + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.3", 40000);
}

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

static int n_pass, n_fail;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", n_pass + n_fail + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		n_pass++;
	else
		n_fail++;
}

static bool ep_is(const struct ep_view *ep, const char *addr, int port)
{
	uint8_t a[16] = { 0 };
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, addr, a) != 1)
		return false;
	return ep->family == fam && ep->port == port &&
	       memcmp(ep->addr, a, fam == AF_INET ? 4 : 16) == 0;
}

static uint32_t flow_count(struct nlc *c)
{
	struct version_view v;

	return version(c, -1, &v) == 0 ? v.count : UINT32_MAX;
}

static int get1(struct nlc *c, long port, struct flow_view *out)
{
	struct flows fl = { 0 };
	int ret = flow_cmd(c, RAMPART_CMD_FLOW_GET, b_key, port, &fl);

	if (ret == 0 && fl.n != 1)
		ret = -EPROTO;
	if (ret == 0)
		*out = fl.v[0];
	free(fl.v);
	return ret;
}

static bool same_ep(const struct ep_view *a, const struct ep_view *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static bool same_xf(const struct xf_view *a, const struct xf_view *b)
{
	return a->present == b->present && a->has_key == b->has_key &&
	       a->suite == b->suite && a->roc == b->roc && a->seq == b->seq &&
	       a->window == b->window;
}

/* A flow as GET shows it, minus counters (for before/after comparisons). */
static bool same_cfg(const struct flow_view *a, const struct flow_view *b)
{
	return same_ep(&a->local, &b->local) && same_ep(&a->expect, &b->expect) &&
	       same_ep(&a->out_src, &b->out_src) && same_ep(&a->out_dst, &b->out_dst) &&
	       a->mismatch == b->mismatch && same_xf(&a->in, &b->in) &&
	       same_xf(&a->out, &b->out) && a->unknown == b->unknown;
}

static bool rejected(int ret)
{
	return ret == -EINVAL || ret == -ERANGE;
}

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

static int selftest(struct nlc *c)
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

static int fwdtest(struct nlc *c)
{
	struct sockaddr_in from;
	struct flow_view f;
	int pl, ps, ps2, pr, pl2;
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

	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_srtp, pl, NULL);
	send_to(s, pl, true, 5);
	check(ret == 0 && recv_one(l, 2000, &from, -1, NULL) == FWD_PAYLOAD &&
	      recv_one(r, 300, &from, -1, NULL) < 0,
	      "SRTP flows are left to userspace (no SRTP in the kernel yet)");
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
static int cmd_add_flow(struct nlc *c, char **argv)
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
static int cmd_packets(struct nlc *c, char **argv)
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
static int cmd_udp_send(char **argv)
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
static int cmd_udp_recv(char **argv)
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
static int cmd_stress(struct nlc *c, long iters)
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

/* ---- other commands ------------------------------------------------------- */

static void print_ep(const char *name, const struct ep_view *ep)
{
	char s[INET6_ADDRSTRLEN] = "-";

	if (!ep->family)
		return;
	inet_ntop(ep->family, ep->addr, s, sizeof(s));
	printf(" %s=%s%s%s:%d", name, ep->family == AF_INET6 ? "[" : "", s,
	       ep->family == AF_INET6 ? "]" : "", ep->port);
}

static int cmd_fill(struct nlc *c, long n, long port)
{
	for (long i = 0; i < n; i++) {
		int ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_plain4, port + 2 * i, NULL);

		if (ret) {
			fprintf(stderr, "fill: flow %ld: %s [%s]\n", i, strerror(-ret), c->errmsg);
			return 1;
		}
	}
	return 0;
}

static int cmd_capacity(struct nlc *c)
{
	struct version_view v;
	int ret = version(c, -1, &v);

	if (ret || v.max > 100000) {
		fprintf(stderr, "capacity: max %u too big for this test\n", v.max);
		return 1;
	}
	if (cmd_fill(c, v.max - v.count, 10000))
		return 1;
	ret = flow_cmd(c, RAMPART_CMD_FLOW_ADD, b_plain4, 9000, NULL);
	printf("%s full table (%u flows): one more ADD gets %s [%s]\n",
	       ret == -ENOSPC ? "ok" : "not ok", v.max, strerror(-ret), c->errmsg);
	return ret == -ENOSPC ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct nlc c;
	struct version_view v;
	struct flows fl = { 0 };
	uint32_t n;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: %s version|dump|flush|fill N PORT|capacity|selftest|fwdtest|\n"
			"  add-flow ...|packets L P|udp-send D P N|udp-recv A P N S (see source)\n",
			argv[0]);
		return 2;
	}
	/* Plain socket tools need no netlink (and may run in any namespace). */
	if (!strcmp(argv[1], "udp-send") && argc == 5)
		return cmd_udp_send(argv + 2);
	if (!strcmp(argv[1], "udp-recv") && argc == 6)
		return cmd_udp_recv(argv + 2);
	ret = nlc_open(&c);
	if (ret) {
		fprintf(stderr, "nlclient: cannot open the '%s' family: %s\n",
			RAMPART_GENL_NAME, strerror(-ret));
		return 1;
	}
	if (!strcmp(argv[1], "selftest")) {
		ret = selftest(&c);
	} else if (!strcmp(argv[1], "version")) {
		ret = version(&c, RAMPART_ABI_VERSION, &v);
		if (!ret)
			printf("abi %u release %s flows %u/%u features %#x\n", v.abi,
			       v.release, v.count, v.max, v.features);
	} else if (!strcmp(argv[1], "dump")) {
		ret = dump(&c, &fl);
		for (size_t i = 0; ret == 0 && i < fl.n; i++) {
			print_ep("local", &fl.v[i].local);
			print_ep("out_src", &fl.v[i].out_src);
			print_ep("out_dst", &fl.v[i].out_dst);
			printf(" packets=%" PRIu64 "\n", fl.v[i].stats[RAMPART_STATS_A_PACKETS]);
		}
		free(fl.v);
	} else if (!strcmp(argv[1], "flush")) {
		ret = flush(&c, &n);
		if (!ret)
			printf("flushed %u\n", n);
	} else if (!strcmp(argv[1], "fill") && argc == 4) {
		ret = cmd_fill(&c, strtol(argv[2], NULL, 10), strtol(argv[3], NULL, 10));
	} else if (!strcmp(argv[1], "fwdtest")) {
		ret = fwdtest(&c);
	} else if (!strcmp(argv[1], "add-flow") && argc == 9) {
		ret = cmd_add_flow(&c, argv + 2);
	} else if (!strcmp(argv[1], "packets") && argc == 4) {
		ret = cmd_packets(&c, argv + 2);
	} else if (!strcmp(argv[1], "stress") && argc == 3) {
		ret = cmd_stress(&c, strtol(argv[2], NULL, 10));
	} else if (!strcmp(argv[1], "capacity")) {
		ret = cmd_capacity(&c);
	} else {
		fprintf(stderr, "nlclient: unknown command %s\n", argv[1]);
		ret = 2;
	}
	if (ret < 0)
		fprintf(stderr, "nlclient: %s: %s [%s]\n", argv[1], strerror(-ret), c.errmsg);
	nlc_close(&c);
	return ret == 0 ? 0 : (ret > 0 ? ret : 1);
}
