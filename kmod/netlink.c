// SPDX-License-Identifier: GPL-2.0
/*
 * rampart.ko generic netlink family: strict policies, the VERSION
 * handshake and the flow commands. Every command needs CAP_NET_ADMIN and
 * either fully succeeds or changes nothing.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "flow.h"
#include "netlink.h"
#include "srtp.h"

static struct genl_family rampart_genl_family;

static const struct nla_policy ep_policy[RAMPART_EP_A_MAX + 1] = {
	[RAMPART_EP_A_ADDR4] = NLA_POLICY_EXACT_LEN(sizeof(struct in_addr)),
	[RAMPART_EP_A_ADDR6] = NLA_POLICY_EXACT_LEN(sizeof(struct in6_addr)),
	[RAMPART_EP_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

static const struct nla_policy xf_policy[RAMPART_XF_A_MAX + 1] = {
	[RAMPART_XF_A_SUITE] = NLA_POLICY_RANGE(NLA_U32, 1, RAMPART_SUITE_MAX),
	[RAMPART_XF_A_KEY_128] = NLA_POLICY_EXACT_LEN(16),
	[RAMPART_XF_A_KEY_192] = NLA_POLICY_EXACT_LEN(24),
	[RAMPART_XF_A_KEY_256] = NLA_POLICY_EXACT_LEN(32),
	[RAMPART_XF_A_SALT_112] = NLA_POLICY_EXACT_LEN(14),
	[RAMPART_XF_A_SALT_96] = NLA_POLICY_EXACT_LEN(12),
	[RAMPART_XF_A_ROC] = { .type = NLA_U32 },
	[RAMPART_XF_A_SEQ] = { .type = NLA_U16 },
	[RAMPART_XF_A_REPLAY_WINDOW] = NLA_POLICY_RANGE(NLA_U32,
		RAMPART_REPLAY_WINDOW_MIN, RAMPART_REPLAY_WINDOW_MAX),
};

static const struct nla_policy flow_policy[RAMPART_FLOW_A_MAX + 1] = {
	[RAMPART_FLOW_A_LOCAL] = NLA_POLICY_NESTED(ep_policy),
	[RAMPART_FLOW_A_EXPECT_SRC] = NLA_POLICY_NESTED(ep_policy),
	[RAMPART_FLOW_A_MISMATCH] = NLA_POLICY_MAX(NLA_U8, RAMPART_MISMATCH_MAX),
	[RAMPART_FLOW_A_SRTP_IN] = NLA_POLICY_NESTED(xf_policy),
	[RAMPART_FLOW_A_SRTP_OUT] = NLA_POLICY_NESTED(xf_policy),
	[RAMPART_FLOW_A_OUT_SRC] = NLA_POLICY_NESTED(ep_policy),
	[RAMPART_FLOW_A_OUT_DST] = NLA_POLICY_NESTED(ep_policy),
	[RAMPART_FLOW_A_STATS] = { .type = NLA_REJECT },
};

static const struct nla_policy rampart_policy[RAMPART_A_MAX + 1] = {
	[RAMPART_A_VERSION] = { .type = NLA_U32 },
	[RAMPART_A_MODULE_VERSION] = { .type = NLA_NUL_STRING,
				       .len = RAMPART_MODULE_VERSION_MAX - 1 },
	[RAMPART_A_FLOW_MAX] = { .type = NLA_REJECT },
	[RAMPART_A_FLOW_COUNT] = { .type = NLA_REJECT },
	[RAMPART_A_FEATURES] = { .type = NLA_REJECT },
	[RAMPART_A_FLOW] = NLA_POLICY_NESTED(flow_policy),
};

/* Which key and salt attribute (hence length) each suite takes. */
static const struct {
	u8 key_attr;
	u8 salt_attr;
} suites[RAMPART_SUITE_MAX + 1] = {
	[RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80] = { RAMPART_XF_A_KEY_128, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AES_CM_128_HMAC_SHA1_32] = { RAMPART_XF_A_KEY_128, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AES_192_CM_HMAC_SHA1_80] = { RAMPART_XF_A_KEY_192, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AES_192_CM_HMAC_SHA1_32] = { RAMPART_XF_A_KEY_192, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AES_256_CM_HMAC_SHA1_80] = { RAMPART_XF_A_KEY_256, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AES_256_CM_HMAC_SHA1_32] = { RAMPART_XF_A_KEY_256, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_AEAD_AES_128_GCM] = { RAMPART_XF_A_KEY_128, RAMPART_XF_A_SALT_96 },
	[RAMPART_SUITE_AEAD_AES_256_GCM] = { RAMPART_XF_A_KEY_256, RAMPART_XF_A_SALT_96 },
	[RAMPART_SUITE_NULL_HMAC_SHA1_80] = { RAMPART_XF_A_KEY_128, RAMPART_XF_A_SALT_112 },
	[RAMPART_SUITE_NULL_HMAC_SHA1_32] = { RAMPART_XF_A_KEY_128, RAMPART_XF_A_SALT_112 },
};

/* ---- parsing ----------------------------------------------------------- */

static int parse_ep(const struct nlattr *nla, struct rampart_ep *ep,
		    bool need_port, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[RAMPART_EP_A_MAX + 1];
	int ret;

	ret = nla_parse_nested(tb, RAMPART_EP_A_MAX, nla, ep_policy, extack);
	if (ret)
		return ret;
	memset(ep, 0, sizeof(*ep));
	if (!tb[RAMPART_EP_A_ADDR4] == !tb[RAMPART_EP_A_ADDR6]) {
		NL_SET_ERR_MSG_ATTR(extack, nla, "endpoint needs exactly one of ADDR4, ADDR6");
		return -EINVAL;
	}
	if (tb[RAMPART_EP_A_ADDR4]) {
		ep->family = AF_INET;
		ep->addr.v4 = nla_get_in_addr(tb[RAMPART_EP_A_ADDR4]);
		if (ipv4_is_zeronet(ep->addr.v4) || ipv4_is_multicast(ep->addr.v4) ||
		    ipv4_is_lbcast(ep->addr.v4)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[RAMPART_EP_A_ADDR4],
					    "unspecified, broadcast or multicast address");
			return -EINVAL;
		}
	} else {
		ep->family = AF_INET6;
		ep->addr.v6 = nla_get_in6_addr(tb[RAMPART_EP_A_ADDR6]);
		if (ipv6_addr_any(&ep->addr.v6) ||
		    ipv6_addr_is_multicast(&ep->addr.v6)) {
			NL_SET_ERR_MSG_ATTR(extack, tb[RAMPART_EP_A_ADDR6],
					    "unspecified or multicast address");
			return -EINVAL;
		}
	}
	if (tb[RAMPART_EP_A_PORT]) {
		ep->port = htons(nla_get_u16(tb[RAMPART_EP_A_PORT]));
	} else if (need_port) {
		NL_SET_ERR_MSG_ATTR(extack, nla, "endpoint needs PORT");
		return -EINVAL;
	}
	return 0;
}

static int parse_xf(const struct nlattr *nla, struct rampart_xf *xf,
		    bool inbound, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[RAMPART_XF_A_MAX + 1];
	struct nlattr *key, *salt;
	u32 suite;
	int a, ret;

	ret = nla_parse_nested(tb, RAMPART_XF_A_MAX, nla, xf_policy, extack);
	if (ret)
		return ret;
	if (!tb[RAMPART_XF_A_SUITE]) {
		NL_SET_ERR_MSG_ATTR(extack, nla, "transform needs SUITE");
		return -EINVAL;
	}
	suite = nla_get_u32(tb[RAMPART_XF_A_SUITE]);
	for (a = RAMPART_XF_A_KEY_128; a <= RAMPART_XF_A_SALT_96; a++) {
		if (tb[a] && a != suites[suite].key_attr &&
		    a != suites[suite].salt_attr) {
			NL_SET_ERR_MSG_ATTR(extack, tb[a],
					    "key/salt length does not fit the suite");
			return -EINVAL;
		}
	}
	key = tb[suites[suite].key_attr];
	salt = tb[suites[suite].salt_attr];
	if (!key || !salt) {
		NL_SET_ERR_MSG_ATTR(extack, nla, "suite needs its master key and salt");
		return -EINVAL;
	}
	if (!inbound && tb[RAMPART_XF_A_REPLAY_WINDOW]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[RAMPART_XF_A_REPLAY_WINDOW],
				    "REPLAY_WINDOW is for SRTP_IN only");
		return -EINVAL;
	}
	memset(xf, 0, sizeof(*xf));
	xf->suite = suite;
	xf->key_len = nla_len(key);
	xf->salt_len = nla_len(salt);
	nla_memcpy(xf->key, key, sizeof(xf->key));
	nla_memcpy(xf->salt, salt, sizeof(xf->salt));
	/* The request is ours to read and then freed without wiping (and may
	 * be echoed in an error ack): take the key material out of it. */
	memzero_explicit(nla_data(key), nla_len(key));
	memzero_explicit(nla_data(salt), nla_len(salt));
	xf->roc = tb[RAMPART_XF_A_ROC] ? nla_get_u32(tb[RAMPART_XF_A_ROC]) : 0;
	xf->seq = tb[RAMPART_XF_A_SEQ] ? nla_get_u16(tb[RAMPART_XF_A_SEQ]) : 0;
	xf->has_seq = !!tb[RAMPART_XF_A_SEQ];
	if (inbound)
		xf->replay_window = tb[RAMPART_XF_A_REPLAY_WINDOW] ?
			nla_get_u32(tb[RAMPART_XF_A_REPLAY_WINDOW]) :
			RAMPART_REPLAY_WINDOW_DEFAULT;
	return 0;
}

/* Sets up the live SRTP context for @xf (keys derived here, once) and
 * installs both in @cfg_xf / @ctx, dropping what they replace. The master
 * key is not kept: only the context's session keys are. */
static int set_xf(struct rampart_xf *cfg_xf, struct rampart_srtp **ctx,
		  struct rampart_xf *xf, bool inbound, const struct nlattr *nla,
		  struct netlink_ext_ack *extack)
{
	struct rampart_srtp *s;
	int ret;

	ret = rampart_srtp_new(xf, inbound, &s);
	if (ret) {
		NL_SET_ERR_MSG_ATTR(extack, nla, "cannot set up this SRTP transform");
		return ret;
	}
	rampart_srtp_put(*ctx);
	*ctx = s;
	memzero_explicit(xf->key, sizeof(xf->key));
	memzero_explicit(xf->salt, sizeof(xf->salt));
	*cfg_xf = *xf;
	return 0;
}

struct cfg_args {
	struct nlattr **tb;		/* RAMPART_FLOW_A_* */
	const struct rampart_ep *local;
	bool add;
	struct netlink_ext_ack *extack;
};

/* Applies the flow attributes in @a->tb to @cfg (zeroed for ADD, a copy of
 * the current one for UPDATE) and checks the result as a whole. */
static int apply_cfg(struct rampart_flow_cfg *cfg, void *arg)
{
	const struct cfg_args *a = arg;
	struct nlattr **tb = a->tb;
	struct netlink_ext_ack *extack = a->extack;
	struct rampart_xf xf;
	int ret = 0;

	if (tb[RAMPART_FLOW_A_EXPECT_SRC]) {
		ret = parse_ep(tb[RAMPART_FLOW_A_EXPECT_SRC], &cfg->expect_src,
			       false, extack);
		if (ret)
			return ret;
		if (cfg->expect_src.family != a->local->family) {
			NL_SET_ERR_MSG_ATTR(extack, tb[RAMPART_FLOW_A_EXPECT_SRC],
					    "EXPECT_SRC family differs from LOCAL");
			return -EINVAL;
		}
	}
	if (tb[RAMPART_FLOW_A_MISMATCH])
		cfg->mismatch = nla_get_u8(tb[RAMPART_FLOW_A_MISMATCH]);
	if (tb[RAMPART_FLOW_A_SRTP_IN]) {
		ret = parse_xf(tb[RAMPART_FLOW_A_SRTP_IN], &xf, true, extack);
		if (!ret)
			ret = set_xf(&cfg->in, &cfg->in_srtp, &xf, true,
				     tb[RAMPART_FLOW_A_SRTP_IN], extack);
	}
	if (!ret && tb[RAMPART_FLOW_A_SRTP_OUT]) {
		ret = parse_xf(tb[RAMPART_FLOW_A_SRTP_OUT], &xf, false, extack);
		if (!ret)
			ret = set_xf(&cfg->out, &cfg->out_srtp, &xf, false,
				     tb[RAMPART_FLOW_A_SRTP_OUT], extack);
	}
	memzero_explicit(&xf, sizeof(xf));
	if (ret)
		return ret;
	if (tb[RAMPART_FLOW_A_OUT_SRC]) {
		ret = parse_ep(tb[RAMPART_FLOW_A_OUT_SRC], &cfg->out_src, true, extack);
		if (ret)
			return ret;
	}
	if (tb[RAMPART_FLOW_A_OUT_DST]) {
		ret = parse_ep(tb[RAMPART_FLOW_A_OUT_DST], &cfg->out_dst, true, extack);
		if (ret)
			return ret;
	}
	if (a->add && (!tb[RAMPART_FLOW_A_OUT_SRC] || !tb[RAMPART_FLOW_A_OUT_DST])) {
		NL_SET_ERR_MSG(extack, "flow needs OUT_SRC and OUT_DST");
		return -EINVAL;
	}
	if (cfg->out_src.family != cfg->out_dst.family) {
		NL_SET_ERR_MSG(extack, "OUT_SRC and OUT_DST families differ");
		return -EINVAL;
	}
	return 0;
}

/* Parses RAMPART_A_FLOW into @tb and its LOCAL key into @local. */
static int parse_flow_key(struct genl_info *info, struct nlattr **tb,
			  struct rampart_ep *local, bool key_only)
{
	struct nlattr *flow = info->attrs[RAMPART_A_FLOW];
	int a, ret;

	if (!flow) {
		NL_SET_ERR_MSG(info->extack, "missing RAMPART_A_FLOW");
		return -EINVAL;
	}
	ret = nla_parse_nested(tb, RAMPART_FLOW_A_MAX, flow, flow_policy,
			       info->extack);
	if (ret)
		return ret;
	if (!tb[RAMPART_FLOW_A_LOCAL]) {
		NL_SET_ERR_MSG_ATTR(info->extack, flow, "flow needs LOCAL");
		return -EINVAL;
	}
	for (a = 1; key_only && a <= RAMPART_FLOW_A_MAX; a++) {
		if (a != RAMPART_FLOW_A_LOCAL && tb[a]) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[a],
					    "only LOCAL is allowed here");
			return -EINVAL;
		}
	}
	return parse_ep(tb[RAMPART_FLOW_A_LOCAL], local, true, info->extack);
}

/* ---- replies ------------------------------------------------------------ */

static int put_ep(struct sk_buff *skb, int type, const struct rampart_ep *ep)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest)
		return -EMSGSIZE;
	if ((ep->family == AF_INET &&
	     nla_put_in_addr(skb, RAMPART_EP_A_ADDR4, ep->addr.v4)) ||
	    (ep->family == AF_INET6 &&
	     nla_put_in6_addr(skb, RAMPART_EP_A_ADDR6, &ep->addr.v6)) ||
	    (ep->port && nla_put_u16(skb, RAMPART_EP_A_PORT, ntohs(ep->port)))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Keys and salts are deliberately not sent back. */
static int put_xf(struct sk_buff *skb, int type, const struct rampart_xf *xf,
		  struct rampart_srtp *ctx)
{
	struct nlattr *nest;
	u32 roc = xf->roc;
	u16 seq = xf->seq;

	if (xf->suite == RAMPART_SUITE_NONE)
		return 0;
	/* Where the packet path has got to: mediad continues from there. */
	if (ctx)
		rampart_srtp_state(ctx, &roc, &seq);
	nest = nla_nest_start(skb, type);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, RAMPART_XF_A_SUITE, xf->suite) ||
	    nla_put_u32(skb, RAMPART_XF_A_ROC, roc) ||
	    nla_put_u16(skb, RAMPART_XF_A_SEQ, seq) ||
	    (xf->replay_window &&
	     nla_put_u32(skb, RAMPART_XF_A_REPLAY_WINDOW, xf->replay_window))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int put_stats(struct sk_buff *skb, const struct rampart_flow_stats *s)
{
	struct nlattr *nest = nla_nest_start(skb, RAMPART_FLOW_A_STATS);

	if (!nest)
		return -EMSGSIZE;
#define PUT_CTR(attr, field) \
	nla_put_u64_64bit(skb, attr, atomic64_read(&s->field), RAMPART_STATS_A_PAD)
	if (PUT_CTR(RAMPART_STATS_A_PACKETS, packets) ||
	    PUT_CTR(RAMPART_STATS_A_BYTES, bytes) ||
	    PUT_CTR(RAMPART_STATS_A_AUTH_FAIL, auth_fail) ||
	    PUT_CTR(RAMPART_STATS_A_REPLAY_DROP, replay_drop) ||
	    PUT_CTR(RAMPART_STATS_A_SRC_MISMATCH, src_mismatch) ||
	    PUT_CTR(RAMPART_STATS_A_LAST_SEEN_NS, last_seen_ns)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
#undef PUT_CTR
	nla_nest_end(skb, nest);
	return 0;
}

/* Caller holds rcu_read_lock() or a reference on @f. */
static int put_flow(struct sk_buff *skb, struct rampart_flow *f)
{
	const struct rampart_flow_cfg *cfg;
	struct nlattr *nest;
	int ret = -EMSGSIZE;

	nest = nla_nest_start(skb, RAMPART_A_FLOW);
	if (!nest)
		return -EMSGSIZE;
	rcu_read_lock();
	cfg = rcu_dereference(f->cfg);
	if (put_ep(skb, RAMPART_FLOW_A_LOCAL, &f->local) ||
	    (cfg->expect_src.family &&
	     put_ep(skb, RAMPART_FLOW_A_EXPECT_SRC, &cfg->expect_src)) ||
	    nla_put_u8(skb, RAMPART_FLOW_A_MISMATCH, cfg->mismatch) ||
	    put_xf(skb, RAMPART_FLOW_A_SRTP_IN, &cfg->in, cfg->in_srtp) ||
	    put_xf(skb, RAMPART_FLOW_A_SRTP_OUT, &cfg->out, cfg->out_srtp) ||
	    put_ep(skb, RAMPART_FLOW_A_OUT_SRC, &cfg->out_src) ||
	    put_ep(skb, RAMPART_FLOW_A_OUT_DST, &cfg->out_dst) ||
	    put_stats(skb, &f->stats))
		goto out;
	ret = 0;
out:
	rcu_read_unlock();
	if (ret)
		nla_nest_cancel(skb, nest);
	else
		nla_nest_end(skb, nest);
	return ret;
}

/* ---- commands ----------------------------------------------------------- */

static struct rampart_table *info_table(struct genl_info *info)
{
	return rampart_net_table(genl_info_net(info));
}

static u32 features(void)
{
	u32 f = RAMPART_FEAT_FLOW_TABLE | RAMPART_FEAT_FWD_RTP_V4 |
		RAMPART_FEAT_FWD_RTP_V6;

	if (rampart_srtp_kdf_verified())
		f |= RAMPART_FEAT_SRTP_AES_CM | RAMPART_FEAT_SRTP_GCM |
		     RAMPART_FEAT_SRTP_KDF_SELFTEST;
	return f;
}

static int nl_version(struct sk_buff *skb, struct genl_info *info)
{
	struct rampart_table *t = info_table(info);
	struct sk_buff *msg;
	void *hdr;

	if (info->attrs[RAMPART_A_VERSION] &&
	    nla_get_u32(info->attrs[RAMPART_A_VERSION]) != RAMPART_ABI_VERSION) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[RAMPART_A_VERSION],
				    "unsupported rampart ABI version");
		return -EPROTONOSUPPORT;
	}
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &rampart_genl_family, 0,
				RAMPART_CMD_VERSION);
	if (!hdr ||
	    nla_put_u32(msg, RAMPART_A_VERSION, RAMPART_ABI_VERSION) ||
	    nla_put_string(msg, RAMPART_A_MODULE_VERSION, RAMPART_MODULE_RELEASE) ||
	    nla_put_u32(msg, RAMPART_A_FLOW_MAX, rampart_table_max(t)) ||
	    nla_put_u32(msg, RAMPART_A_FLOW_COUNT, rampart_table_count(t)) ||
	    nla_put_u32(msg, RAMPART_A_FEATURES, features())) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int nl_flow_add(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[RAMPART_FLOW_A_MAX + 1];
	struct rampart_flow_cfg *cfg;
	struct rampart_ep local;
	struct cfg_args a = { .tb = tb, .local = &local, .add = true,
			      .extack = info->extack };
	int ret;

	ret = parse_flow_key(info, tb, &local, false);
	if (ret)
		return ret;
	cfg = rampart_flow_cfg_alloc();
	if (!cfg)
		return -ENOMEM;
	ret = apply_cfg(cfg, &a);
	if (!ret)
		ret = rampart_flow_add(info_table(info), &local, cfg);
	if (ret == -EEXIST)
		NL_SET_ERR_MSG(info->extack, "a flow with this LOCAL exists");
	else if (ret == -ENOSPC)
		NL_SET_ERR_MSG(info->extack, "flow table full");
	if (ret)
		rampart_flow_cfg_free(cfg);
	return ret;
}

static int nl_flow_update(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[RAMPART_FLOW_A_MAX + 1];
	struct rampart_ep local;
	struct cfg_args a = { .tb = tb, .local = &local, .add = false,
			      .extack = info->extack };
	int ret;

	ret = parse_flow_key(info, tb, &local, false);
	if (ret)
		return ret;
	ret = rampart_flow_update(info_table(info), &local, apply_cfg, &a);
	if (ret == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no flow with this LOCAL");
	return ret;
}

static int nl_flow_del(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[RAMPART_FLOW_A_MAX + 1];
	struct rampart_ep local;
	int ret;

	ret = parse_flow_key(info, tb, &local, true);
	if (ret)
		return ret;
	ret = rampart_flow_del(info_table(info), &local);
	if (ret == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "no flow with this LOCAL");
	return ret;
}

static int nl_flow_get(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[RAMPART_FLOW_A_MAX + 1];
	struct rampart_flow *f;
	struct rampart_ep local;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	ret = parse_flow_key(info, tb, &local, true);
	if (ret)
		return ret;
	f = rampart_flow_get(info_table(info), &local);
	if (!f) {
		NL_SET_ERR_MSG(info->extack, "no flow with this LOCAL");
		return -ENOENT;
	}
	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &rampart_genl_family, 0,
				RAMPART_CMD_FLOW_GET);
	if (!hdr || put_flow(msg, f)) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
out:
	rampart_flow_put(f);
	return ret;
}

struct dump_args {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int dump_one(struct rampart_flow *f, void *arg)
{
	struct dump_args *d = arg;
	void *hdr;

	hdr = genlmsg_put(d->skb, NETLINK_CB(d->cb->skb).portid,
			  d->cb->nlh->nlmsg_seq, &rampart_genl_family,
			  NLM_F_MULTI, RAMPART_CMD_FLOW_DUMP);
	if (!hdr)
		return -EMSGSIZE;
	if (put_flow(d->skb, f)) {
		genlmsg_cancel(d->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(d->skb, hdr);
	return 0;
}

/* cb->args[0]: bucket, cb->args[1]: index in bucket, to resume. */
static int nl_flow_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rampart_table *t = rampart_net_table(sock_net(cb->skb->sk));
	struct dump_args d = { .skb = skb, .cb = cb };
	int ret;

	ret = rampart_table_walk(t, &cb->args[0], &cb->args[1], dump_one, &d);
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;	/* more to come */
	if (ret)
		return ret;		/* one flow does not fit an empty skb */
	return skb->len;
}

static int nl_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	u32 n;

	/* Allocate first: once flushed, the reply must not fail for memory. */
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &rampart_genl_family, 0,
				RAMPART_CMD_FLUSH);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	n = rampart_table_flush(info_table(info));
	if (nla_put_u32(msg, RAMPART_A_FLOW_COUNT, n)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const struct genl_ops rampart_genl_ops[] = {
	{ .cmd = RAMPART_CMD_VERSION, .doit = nl_version, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLOW_ADD, .doit = nl_flow_add, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLOW_UPDATE, .doit = nl_flow_update, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLOW_DEL, .doit = nl_flow_del, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLOW_GET, .doit = nl_flow_get, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLOW_DUMP, .dumpit = nl_flow_dump, .flags = GENL_ADMIN_PERM },
	{ .cmd = RAMPART_CMD_FLUSH, .doit = nl_flush, .flags = GENL_ADMIN_PERM },
};

static struct genl_family rampart_genl_family = {
	.name = RAMPART_GENL_NAME,
	.version = RAMPART_GENL_VERSION,
	.maxattr = RAMPART_A_MAX,
	.policy = rampart_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = rampart_genl_ops,
	.n_ops = ARRAY_SIZE(rampart_genl_ops),
	/* Every command is new: all of them get strict validation (6.1
	 * refuses to register a family without this). */
	.resv_start_op = RAMPART_CMD_FLUSH + 1,
};

int __init rampart_genl_init(void)
{
	return genl_register_family(&rampart_genl_family);
}

void rampart_genl_exit(void)
{
	genl_unregister_family(&rampart_genl_family);
}
