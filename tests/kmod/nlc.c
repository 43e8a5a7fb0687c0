/* nlc: netlink plumbing and shared test helpers (see nlc.h). */
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

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

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

int cb_noop(const struct nlmsghdr *nlh, void *data)
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
int nlc_talk(struct nlc *c, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
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

struct nlmsghdr *req(struct nlc *c, char *buf, uint16_t type,
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
int nlc_open(struct nlc *c)
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

void nlc_close(struct nlc *c)
{
	if (c->nl)
		mnl_socket_close(c->nl);
	c->nl = NULL;
}

/* ---- reply parsing ------------------------------------------------------ */

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

void put_ep(struct nlmsghdr *nlh, int type, const char *addr, long port)
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
void put_xf(struct nlmsghdr *nlh, int type, uint32_t suite,
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

void put_xf_aes128(struct nlmsghdr *nlh, int type, uint32_t window)
{
	put_xf(nlh, type, RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80,
	       RAMPART_XF_A_KEY_128, 16, RAMPART_XF_A_SALT_112, 14, 5, 100, window);
}

/* Builds a request carrying one RAMPART_A_FLOW filled by @body. */
int flow_cmd(struct nlc *c, uint8_t cmd, body_fn body, long port,
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

int version(struct nlc *c, long client_abi, struct version_view *v)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(v, 0, sizeof(*v));
	nlh = req(c, buf, c->family, 0, RAMPART_CMD_VERSION, RAMPART_GENL_VERSION);
	if (client_abi >= 0)
		mnl_attr_put_u32(nlh, RAMPART_A_VERSION, (uint32_t)client_abi);
	return nlc_talk(c, nlh, cb_version, v);
}

int dump(struct nlc *c, struct flows *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = req(c, buf, c->family, NLM_F_DUMP, RAMPART_CMD_FLOW_DUMP,
		  RAMPART_GENL_VERSION);
	return nlc_talk(c, nlh, cb_flows, out);
}

int flush(struct nlc *c, uint32_t *removed)
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

/* ---- shared by the tests ---------------------------------------------- */

void b_key(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
}

void b_plain4(struct nlmsghdr *nlh, long port)
{
	put_ep(nlh, RAMPART_FLOW_A_LOCAL, "127.0.0.1", port);
	put_ep(nlh, RAMPART_FLOW_A_OUT_SRC, "127.0.0.1", port + 1);
	put_ep(nlh, RAMPART_FLOW_A_OUT_DST, "127.0.0.3", 40000);
}

int n_pass, n_fail;

void check(bool ok, const char *fmt, ...)
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

bool ep_is(const struct ep_view *ep, const char *addr, int port)
{
	uint8_t a[16] = { 0 };
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, addr, a) != 1)
		return false;
	return ep->family == fam && ep->port == port &&
	       memcmp(ep->addr, a, fam == AF_INET ? 4 : 16) == 0;
}

uint32_t flow_count(struct nlc *c)
{
	struct version_view v;

	return version(c, -1, &v) == 0 ? v.count : UINT32_MAX;
}

int get1(struct nlc *c, long port, struct flow_view *out)
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
bool same_cfg(const struct flow_view *a, const struct flow_view *b)
{
	return same_ep(&a->local, &b->local) && same_ep(&a->expect, &b->expect) &&
	       same_ep(&a->out_src, &b->out_src) && same_ep(&a->out_dst, &b->out_dst) &&
	       a->mismatch == b->mismatch && same_xf(&a->in, &b->in) &&
	       same_xf(&a->out, &b->out) && a->unknown == b->unknown;
}

bool rejected(int ret)
{
	return ret == -EINVAL || ret == -ERANGE;
}

