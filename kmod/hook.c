// SPDX-License-Identifier: GPL-2.0
/*
 * rampart.ko fast path for plain RTP over IPv4 and IPv6 (see hook.h).
 *
 * A forwarded packet is rewritten in place (addresses, ports, TTL, both
 * checksums incrementally), routed from OUT_SRC to OUT_DST and sent with
 * ip_local_out() / ip6_local_out(), as if mediad had sent it. The TTL (hop
 * limit) is decremented like a router's so that flows programmed into a
 * loop die out instead of spinning. A flow whose output family differs from
 * its input family is left to mediad.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/timekeeping.h>
#include <linux/udp.h>
#include <net/checksum.h>
#include <net/addrconf.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/route.h>

#include "flow.h"
#include "hook.h"
#include "netlink.h"
#include "rtpcheck.h"
#include "srtp.h"

#define RTP_HEADER_LEN 12

enum xform_verdict { XF_FORWARD, XF_PASS, XF_DROP };

static bool has_srtp(const struct rampart_flow_cfg *cfg)
{
	return cfg->in_srtp || cfg->out_srtp;
}

/*
 * SRTP->RTP, RTP->SRTP or SRTP->SRTP on the UDP payload at @off (the skb's
 * data starts at the IP header), @ulen the UDP length, which must run to
 * the end of the skb. On XF_FORWARD the skb is linear and writable, its
 * length and the UDP length are the new ones; the UDP checksum is left for
 * the caller to recompute. XF_PASS: as it arrived, for mediad (RTCP, too
 * short, cannot make room, a padding count found bad after unprotect).
 * XF_DROP: authentication or replay failure, counted.
 */
static enum xform_verdict srtp_xform(struct sk_buff *skb, unsigned int off,
				     unsigned int ulen,
				     const struct rampart_flow_cfg *cfg,
				     struct rampart_flow *f)
{
	unsigned int plen = ulen - sizeof(struct udphdr), need, cap;
	enum rampart_srtp_res r;
	struct udphdr *uh;
	u8 *rtp;

	if (off + ulen != skb->len)
		return XF_PASS;
	need = cfg->out_srtp ? rampart_srtp_overhead(cfg->out_srtp) : 0;
	/* Everything in the linear area, ours to write, with room for a tag. */
	if (skb_ensure_writable(skb, skb->len))
		return XF_PASS;
	if (skb_tailroom(skb) < need &&
	    pskb_expand_head(skb, 0, need - skb_tailroom(skb), GFP_ATOMIC))
		return XF_PASS;
	uh = (struct udphdr *)(skb->data + off);
	rtp = (u8 *)(uh + 1);
	/* RTCP muxed on the RTP port (PT 72..76 with the marker bit: packet
	 * types 192..223) is SRTCP: mediad's. */
	if (rtp[1] >= 192 && rtp[1] <= 223)
		return XF_PASS;

	if (cfg->in_srtp) {
		r = rampart_srtp_unprotect(cfg->in_srtp, rtp, plen, &plen);
		if (r == RAMPART_SRTP_AUTH) {
			atomic64_inc(&f->stats.auth_fail);
			return XF_DROP;
		}
		if (r == RAMPART_SRTP_REPLAY) {
			atomic64_inc(&f->stats.replay_drop);
			return XF_DROP;
		}
		if (r != RAMPART_SRTP_OK)
			return XF_PASS;
	}
	if (cfg->out_srtp) {
		cap = skb_end_pointer(skb) - rtp;
		r = rampart_srtp_protect(cfg->out_srtp, rtp, plen, cap, &plen);
		if (r != RAMPART_SRTP_OK)
			/* Already unprotected (and its index recorded): mediad
			 * could not use it any more. */
			return cfg->in_srtp ? XF_DROP : XF_PASS;
	}
	if (off + sizeof(*uh) + plen < skb->len)
		skb_trim(skb, off + sizeof(*uh) + plen);
	else if (off + sizeof(*uh) + plen > skb->len)
		skb_put(skb, off + sizeof(*uh) + plen - skb->len);
	uh->len = htons(sizeof(*uh) + plen);
	return XF_FORWARD;
}

/*
 * mediad's header checks (rtpcheck.h) on the RTP packet of @len bytes at
 * @off, whose fixed header is in the linear area: true if it may be
 * forwarded here, false to leave it to mediad (which drops and counts it).
 * The CSRC and extension checks run on every flow, before any crypto (that
 * header is clear text in SRTP too); the padding count only when the packet
 * arrives plain (@plain: no SRTP_IN), as SRTP encrypts it and srtp.c checks
 * it after unprotect. A valid packet without CSRCs, extension or padding
 * costs two bit tests. May pull bytes into the linear area: the caller
 * reloads its header pointers.
 */
static bool rtp_ok(struct sk_buff *skb, unsigned int off, unsigned int len,
		   bool plain)
{
	const u8 *p = skb->data + off;
	unsigned int hlen;
	u8 last;

	if ((p[0] & 0x1f) &&
	    !pskb_may_pull(skb, off + min(len, RAMPART_RTP_PEEK)))
		return false;
	p = skb->data + off;
	hlen = rampart_rtp_hdr_len(p, len);
	if (!hlen)
		return false;
	if (!plain || !(p[0] & 0x20))
		return true;
	/* The last octet may be in a page fragment: copied, not pulled. */
	if (skb_copy_bits(skb, off + len - 1, &last, 1))
		return false;
	return rampart_rtp_pad_ok(p[0], last, len, hlen);
}

static bool src_matches(const struct rampart_ep *want, __be32 saddr, __be16 sport)
{
	if (!want->family)
		return true;
	return want->family == AF_INET && want->addr.v4 == saddr &&
	       (!want->port || want->port == sport);
}

/* Rewrites and sends @skb along @cfg; @rt is the route, consumed. */
static void forward(struct net *net, struct sk_buff *skb,
		    const struct rampart_flow_cfg *cfg, struct rtable *rt)
{
	struct iphdr *iph = ip_hdr(skb);
	struct udphdr *uh = (struct udphdr *)((u8 *)iph + iph->ihl * 4);
	__be32 saddr = cfg->out_src.addr.v4, daddr = cfg->out_dst.addr.v4;
	unsigned int ulen = ntohs(uh->len);

	if (has_srtp(cfg)) {
		/* The payload changed: the checksum is left to the output
		 * device as for a packet from a local UDP socket (the NIC,
		 * or skb_checksum_help() when it cannot), instead of reading
		 * the whole payload once more here. */
		uh->source = cfg->out_src.port;
		uh->dest = cfg->out_dst.port;
		uh->check = ~csum_tcpudp_magic(saddr, daddr, ulen, IPPROTO_UDP, 0);
		if (!skb_partial_csum_set(skb, iph->ihl * 4,
					  offsetof(struct udphdr, check))) {
			uh->check = 0;
			uh->check = csum_tcpudp_magic(saddr, daddr, ulen, IPPROTO_UDP,
						      skb_checksum(skb, iph->ihl * 4, ulen, 0));
			if (!uh->check)
				uh->check = CSUM_MANGLED_0;
			skb->ip_summed = CHECKSUM_NONE;
		}
		iph->tot_len = htons(skb->len);
	} else if (uh->check) {
		inet_proto_csum_replace4(&uh->check, skb, iph->saddr, saddr, true);
		inet_proto_csum_replace4(&uh->check, skb, iph->daddr, daddr, true);
		inet_proto_csum_replace2(&uh->check, skb, uh->source,
					 cfg->out_src.port, false);
		inet_proto_csum_replace2(&uh->check, skb, uh->dest,
					 cfg->out_dst.port, false);
		if (!uh->check)
			uh->check = CSUM_MANGLED_0;
	}
	uh->source = cfg->out_src.port;
	uh->dest = cfg->out_dst.port;
	iph->saddr = saddr;
	iph->daddr = daddr;
	iph->ttl--;
	/* ip_local_out() recomputes the IP header checksum. */

	/* The checksum now holds; nothing downstream must redo it from a
	 * receive-side value. */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
	nf_reset_ct(skb);
	skb_clear_tstamp(skb);
	skb->pkt_type = PACKET_HOST;
	/* Receive-side IP control block (iif, options) means nothing on output. */
	memset(IPCB(skb), 0, sizeof(*IPCB(skb)));
	skb_dst_drop(skb);
	skb_dst_set(skb, &rt->dst);
	ip_local_out(net, NULL, skb);
}

/*
 * The route from OUT_SRC to OUT_DST with a reference for the skb, or NULL
 * (no route, OUT_SRC not ours). Every packet of a flow takes the same
 * route, so the FIB is asked once and the answer kept in the flow
 * configuration's per-CPU cache; a marked packet (policy routing may depend
 * on the mark) always looks up afresh.
 */
static struct rtable *route4(struct net *net, struct sk_buff *skb,
			     struct rampart_flow_cfg *cfg)
{
	__be32 saddr;
	struct flowi4 fl4;
	struct rtable *rt;

	if (!skb->mark) {
		rt = dst_cache_get_ip4(&cfg->route, &saddr);
		if (rt)
			return rt;
	}
	memset(&fl4, 0, sizeof(fl4));
	fl4.daddr = cfg->out_dst.addr.v4;
	fl4.saddr = cfg->out_src.addr.v4;
	fl4.flowi4_proto = IPPROTO_UDP;
	fl4.flowi4_mark = skb->mark;
	fl4.fl4_sport = cfg->out_src.port;
	fl4.fl4_dport = cfg->out_dst.port;
	rt = ip_route_output_key(net, &fl4);
	if (IS_ERR(rt))
		return NULL;
	if (!skb->mark)
		dst_cache_set_ip4(&cfg->route, &rt->dst, fl4.saddr);
	return rt;
}

static unsigned int rampart_hook_v4(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct rampart_flow_cfg *cfg;
	struct rampart_table *t;
	struct rampart_flow *f;
	struct rampart_ep key;
	const struct iphdr *iph;
	const struct udphdr *uh;
	struct rtable *rt;
	unsigned int ulen;
	const u8 *rtp;

	iph = ip_hdr(skb);
	/* Options and fragments are rare in RTP: the stack handles them. */
	if (skb->pkt_type != PACKET_HOST || iph->protocol != IPPROTO_UDP ||
	    iph->ihl != 5 || ip_is_fragment(iph) || skb_is_gso(skb))
		return NF_ACCEPT;
	if (!pskb_may_pull(skb, sizeof(*iph) + sizeof(*uh)))
		return NF_ACCEPT;
	iph = ip_hdr(skb);
	uh = (const struct udphdr *)(iph + 1);

	t = rampart_net_table(state->net);
	if (!t)
		return NF_ACCEPT;
	memset(&key, 0, sizeof(key));
	key.family = AF_INET;
	key.addr.v4 = iph->daddr;
	key.port = uh->dest;
	/* Netfilter hooks run under rcu_read_lock(). */
	f = rampart_flow_lookup_rcu(t, &key);
	if (!f)
		return NF_ACCEPT;
	cfg = rcu_dereference(f->cfg);

	if (!src_matches(&cfg->expect_src, iph->saddr, uh->source)) {
		atomic64_inc(&f->stats.src_mismatch);
		return cfg->mismatch == RAMPART_MISMATCH_PASS ? NF_ACCEPT : NF_DROP;
	}
	/* Not in the kernel: IPv6 output. mediad has the socket. */
	if (cfg->out_dst.family != AF_INET)
		return NF_ACCEPT;
	/* RTP version 2 only: STUN and the like go to mediad. */
	ulen = ntohs(uh->len);
	if (ulen < sizeof(*uh) + RTP_HEADER_LEN || ulen > skb->len - sizeof(*iph) ||
	    !pskb_may_pull(skb, sizeof(*iph) + sizeof(*uh) + RTP_HEADER_LEN))
		return NF_ACCEPT;
	iph = ip_hdr(skb);
	uh = (const struct udphdr *)(iph + 1);
	rtp = (const u8 *)(uh + 1);
	if ((rtp[0] >> 6) != 2)
		return NF_ACCEPT;
	if (iph->ttl <= 1)
		return NF_DROP;
	if (!rtp_ok(skb, sizeof(*iph) + sizeof(*uh), ulen - sizeof(*uh), !cfg->in_srtp))
		return NF_ACCEPT;

	rt = route4(state->net, skb, cfg);
	if (!rt)
		return NF_ACCEPT;	/* e.g. OUT_SRC not local: mediad copes */
	if (has_srtp(cfg)) {
		enum xform_verdict v = srtp_xform(skb, sizeof(*iph), ulen, cfg, f);

		if (v != XF_FORWARD) {
			ip_rt_put(rt);
			return v == XF_PASS ? NF_ACCEPT : NF_DROP;
		}
	} else if (skb_ensure_writable(skb, sizeof(*iph) + sizeof(*uh))) {
		ip_rt_put(rt);
		return NF_ACCEPT;
	}

	atomic64_inc(&f->stats.packets);
	atomic64_add(ulen - sizeof(*uh), &f->stats.bytes);
	atomic64_set(&f->stats.last_seen_ns, ktime_get_coarse_ns());
	forward(state->net, skb, cfg, rt);
	return NF_STOLEN;
}

/* ---- IPv6 ---------------------------------------------------------------- */

static bool src_matches6(const struct rampart_ep *want, const struct in6_addr *saddr,
			 __be16 sport)
{
	if (!want->family)
		return true;
	return want->family == AF_INET6 && ipv6_addr_equal(&want->addr.v6, saddr) &&
	       (!want->port || want->port == sport);
}

static void forward6(struct net *net, struct sk_buff *skb,
		     const struct rampart_flow_cfg *cfg, struct dst_entry *dst)
{
	struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct udphdr *uh = (struct udphdr *)(ip6h + 1);
	unsigned int ulen = ntohs(uh->len);

	if (has_srtp(cfg)) {
		/* As forward() does: the output device completes it. */
		uh->source = cfg->out_src.port;
		uh->dest = cfg->out_dst.port;
		uh->check = ~csum_ipv6_magic(&cfg->out_src.addr.v6,
					     &cfg->out_dst.addr.v6, ulen, IPPROTO_UDP, 0);
		if (!skb_partial_csum_set(skb, sizeof(*ip6h),
					  offsetof(struct udphdr, check))) {
			uh->check = 0;
			uh->check = csum_ipv6_magic(&cfg->out_src.addr.v6,
						    &cfg->out_dst.addr.v6, ulen, IPPROTO_UDP,
						    skb_checksum(skb, sizeof(*ip6h), ulen, 0));
			if (!uh->check)
				uh->check = CSUM_MANGLED_0;
			skb->ip_summed = CHECKSUM_NONE;
		}
		ip6h->payload_len = htons(ulen);
		goto addresses;
	}
	/* The UDP checksum is mandatory over IPv6. */
	inet_proto_csum_replace16(&uh->check, skb, ip6h->saddr.s6_addr32,
				  cfg->out_src.addr.v6.s6_addr32, true);
	inet_proto_csum_replace16(&uh->check, skb, ip6h->daddr.s6_addr32,
				  cfg->out_dst.addr.v6.s6_addr32, true);
	inet_proto_csum_replace2(&uh->check, skb, uh->source, cfg->out_src.port, false);
	inet_proto_csum_replace2(&uh->check, skb, uh->dest, cfg->out_dst.port, false);
	if (!uh->check)
		uh->check = CSUM_MANGLED_0;
	uh->source = cfg->out_src.port;
	uh->dest = cfg->out_dst.port;
addresses:
	ip6h->saddr = cfg->out_src.addr.v6;
	ip6h->daddr = cfg->out_dst.addr.v6;
	ip6h->hop_limit--;

	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
	nf_reset_ct(skb);
	skb_clear_tstamp(skb);
	skb->pkt_type = PACKET_HOST;
	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	skb_dst_drop(skb);
	skb_dst_set(skb, dst);
	ip6_local_out(net, NULL, skb);
}

/* route4() for IPv6. Like IPv4's output route lookup, it sends only from
 * one of our own addresses; that is checked on a cache miss only: removing
 * an address invalidates the cached routes. */
static struct dst_entry *route6(struct net *net, struct sk_buff *skb,
				struct rampart_flow_cfg *cfg)
{
	struct dst_entry *dst;
	struct in6_addr saddr;
	struct flowi6 fl6;

	if (!skb->mark) {
		dst = dst_cache_get_ip6(&cfg->route, &saddr);
		if (dst)
			return dst;
	}
	if (!ipv6_chk_addr(net, &cfg->out_src.addr.v6, NULL, 0))
		return NULL;
	memset(&fl6, 0, sizeof(fl6));
	fl6.daddr = cfg->out_dst.addr.v6;
	fl6.saddr = cfg->out_src.addr.v6;
	fl6.flowi6_proto = IPPROTO_UDP;
	fl6.flowi6_mark = skb->mark;
	fl6.fl6_sport = cfg->out_src.port;
	fl6.fl6_dport = cfg->out_dst.port;
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return NULL;
	}
	if (!skb->mark)
		dst_cache_set_ip6(&cfg->route, dst, &fl6.saddr);
	return dst;
}

static unsigned int rampart_hook_v6(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct rampart_flow_cfg *cfg;
	const struct ipv6hdr *ip6h;
	const struct udphdr *uh;
	struct rampart_table *t;
	struct rampart_flow *f;
	struct rampart_ep key;
	struct dst_entry *dst;
	unsigned int ulen;
	const u8 *rtp;

	ip6h = ipv6_hdr(skb);
	/* Extension headers (fragments included) are left to the stack. */
	if (skb->pkt_type != PACKET_HOST || ip6h->nexthdr != IPPROTO_UDP ||
	    skb_is_gso(skb))
		return NF_ACCEPT;
	if (!pskb_may_pull(skb, sizeof(*ip6h) + sizeof(*uh)))
		return NF_ACCEPT;
	ip6h = ipv6_hdr(skb);
	uh = (const struct udphdr *)(ip6h + 1);

	t = rampart_net_table(state->net);
	if (!t)
		return NF_ACCEPT;
	memset(&key, 0, sizeof(key));
	key.family = AF_INET6;
	key.addr.v6 = ip6h->daddr;
	key.port = uh->dest;
	f = rampart_flow_lookup_rcu(t, &key);
	if (!f)
		return NF_ACCEPT;
	cfg = rcu_dereference(f->cfg);

	if (!src_matches6(&cfg->expect_src, &ip6h->saddr, uh->source)) {
		atomic64_inc(&f->stats.src_mismatch);
		return cfg->mismatch == RAMPART_MISMATCH_PASS ? NF_ACCEPT : NF_DROP;
	}
	if (cfg->out_dst.family != AF_INET6)
		return NF_ACCEPT;
	ulen = ntohs(uh->len);
	if (ulen < sizeof(*uh) + RTP_HEADER_LEN || ulen > skb->len - sizeof(*ip6h) ||
	    !pskb_may_pull(skb, sizeof(*ip6h) + sizeof(*uh) + RTP_HEADER_LEN))
		return NF_ACCEPT;
	ip6h = ipv6_hdr(skb);
	uh = (const struct udphdr *)(ip6h + 1);
	rtp = (const u8 *)(uh + 1);
	if ((rtp[0] >> 6) != 2)
		return NF_ACCEPT;
	if (ip6h->hop_limit <= 1)
		return NF_DROP;
	if (!rtp_ok(skb, sizeof(*ip6h) + sizeof(*uh), ulen - sizeof(*uh), !cfg->in_srtp))
		return NF_ACCEPT;

	dst = route6(state->net, skb, cfg);
	if (!dst)
		return NF_ACCEPT;
	if (has_srtp(cfg)) {
		enum xform_verdict v = srtp_xform(skb, sizeof(*ip6h), ulen, cfg, f);

		if (v != XF_FORWARD) {
			dst_release(dst);
			return v == XF_PASS ? NF_ACCEPT : NF_DROP;
		}
	} else if (skb_ensure_writable(skb, sizeof(*ip6h) + sizeof(*uh))) {
		dst_release(dst);
		return NF_ACCEPT;
	}

	atomic64_inc(&f->stats.packets);
	atomic64_add(ulen - sizeof(*uh), &f->stats.bytes);
	atomic64_set(&f->stats.last_seen_ns, ktime_get_coarse_ns());
	forward6(state->net, skb, cfg, dst);
	return NF_STOLEN;
}

static const struct nf_hook_ops rampart_nf_ops[] = {
	{
		.hook = rampart_hook_v4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		/* Before conntrack and NAT: relayed media needs neither. */
		.priority = NF_IP_PRI_RAW + 1,
	},
	{
		.hook = rampart_hook_v6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_RAW + 1,
	},
};

int rampart_hook_net_init(struct net *net)
{
	return nf_register_net_hooks(net, rampart_nf_ops, ARRAY_SIZE(rampart_nf_ops));
}

void rampart_hook_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, rampart_nf_ops, ARRAY_SIZE(rampart_nf_ops));
}
