#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"
#include "rtpcheck.h"

socklen_t maddr_len(const union maddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return sizeof(a->in);
	if (a->sa.sa_family == AF_INET6)
		return sizeof(a->in6);
	return 0;
}

bool maddr_eq(const union maddr *a, const union maddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
	return false;
}

int maddr_from(union maddr *dst, const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(dst->in)) {
		memset(dst, 0, sizeof(*dst));
		memcpy(&dst->in, sa, sizeof(dst->in));
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(dst->in6)) {
		memset(dst, 0, sizeof(*dst));
		memcpy(&dst->in6, sa, sizeof(dst->in6));
		return 0;
	}
	return -EAFNOSUPPORT;
}

const char *maddr_str(const union maddr *a, char *buf, size_t sz)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(buf, sz, "%s:%u", ip, ntohs(a->in.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, sz, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	} else {
		snprintf(buf, sz, "-");
	}
	return buf;
}

const char *mleg_latch_name(enum mleg_latch l)
{
	switch (l) {
	case MLEG_LATCH_OFF: return "off";
	case MLEG_LATCH_ON: return "on";
	case MLEG_LATCH_STRICT: return "strict";
	}
	return "?";
}

const char *msess_verdict_name(enum msess_verdict v)
{
	switch (v) {
	case MSESS_FORWARD: return "forward";
	case MSESS_DROP_PARSE: return "parse";
	case MSESS_DROP_MALFORMED: return "malformed";
	case MSESS_DROP_AUTH: return "auth";
	case MSESS_DROP_REPLAY: return "replay";
	case MSESS_DROP_SOURCE: return "source";
	case MSESS_DROP_NOREMOTE: return "no-remote";
	case MSESS_DROP_PROTECT: return "protect";
	}
	return "?";
}

/* The 4-context SRTP session measures ~8 KiB resident (docs/mediad.md,
 * Memory) with this allocation at 792 bytes: growing it needs a saving
 * elsewhere, or the budget revisited. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct msess) <= 792,
	"struct msess grew: see docs/mediad.md, Memory");

int msess_new(uint64_t id, const char *label, uint64_t now_ms, struct msess **out)
{
	struct msess *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->id = id;
	s->created_ms = now_ms;
	if (label)
		snprintf(s->label, sizeof(s->label), "%s", label);
	for (int i = 0; i < 2; i++) {
		struct mleg *l = &s->leg[i];
		l->rtp.fd = l->rtcp.fd = -1;
		l->rtp.sess = l->rtcp.sess = s;
		l->rtp.leg = l->rtcp.leg = (uint8_t)i;
		l->rtcp.rtcp = 1;
		l->latch = MLEG_LATCH_ON;
	}
	*out = s;
	return 0;
}

void msess_free(struct msess *s)
{
	if (!s)
		return;
	for (int i = 0; i < 2; i++) {
		s->leg[i].in = msrtp_free(s->leg[i].in);
		s->leg[i].out = msrtp_free(s->leg[i].out);
		explicit_bzero(&s->leg[i].kin, sizeof(s->leg[i].kin));
		explicit_bzero(&s->leg[i].kout, sizeof(s->leg[i].kout));
	}
	free(s);
}

void msess_leg_set_sockets(struct msess *s, int i, int family, uint16_t port,
	int fd_rtp, int fd_rtcp)
{
	struct mleg *l = &s->leg[i];

	l->family = family;
	l->port = port;
	l->rtp.fd = fd_rtp;
	l->rtcp.fd = fd_rtcp;
	l->rtcp_mux = fd_rtcp < 0;
}

void msess_leg_apply(struct msess *s, int i, struct mleg_update *u, uint64_t now_ms)
{
	struct mleg *l = &s->leg[i];

	if (u->set & MLEG_SET_REMOTE) {
		l->remote_rtp = u->remote;
		if (!(u->set & MLEG_SET_REMOTE_RTCP)) {
			/* RFC 3550: RTCP on the next port unless told otherwise. */
			l->remote_rtcp = u->remote;
			if (l->remote_rtcp.sa.sa_family == AF_INET)
				l->remote_rtcp.in.sin_port =
					htons((uint16_t)(ntohs(u->remote.in.sin_port) + 1));
			else if (l->remote_rtcp.sa.sa_family == AF_INET6)
				l->remote_rtcp.in6.sin6_port =
					htons((uint16_t)(ntohs(u->remote.in6.sin6_port) + 1));
		}
		l->latched_rtp = l->latched_rtcp = false;
	}
	if (u->set & MLEG_SET_REMOTE_RTCP) {
		l->remote_rtcp = u->remote_rtcp;
		l->latched_rtcp = false;
	}
	if (u->set & MLEG_SET_IN) {
		msrtp_free(l->in);
		l->in = u->in;
		l->kin = u->in_keys;
		l->kin.set = u->in && u->in_keys.set;
	} else {
		msrtp_free(u->in);
	}
	u->in = NULL;
	if (u->set & MLEG_SET_OUT) {
		msrtp_free(l->out);
		l->out = u->out;
		l->kout = u->out_keys;
		l->kout.set = u->out && u->out_keys.set;
	} else {
		msrtp_free(u->out);
	}
	u->out = NULL;
	explicit_bzero(&u->in_keys, sizeof(u->in_keys));
	explicit_bzero(&u->out_keys, sizeof(u->out_keys));
	if (u->set & MLEG_SET_LATCH)
		l->latch = u->latch;
	if (u->set & MLEG_SET_MUX)
		l->rtcp_mux = u->rtcp_mux || l->rtcp.fd < 0;
	/* An update is a sign of life: the call is being (re)negotiated. */
	s->created_ms = now_ms;
	s->timeout_reported = false;
}

bool msess_is_rtcp(const uint8_t *pkt, size_t len)
{
	return len >= 2 && pkt[1] >= 192 && pkt[1] <= 223;
}

uint64_t msess_last_activity(const struct msess *s)
{
	uint64_t t = s->created_ms;

	for (int i = 0; i < 2; i++)
		if (s->leg[i].st.last_ms > t)
			t = s->leg[i].st.last_ms;
	return t;
}

enum msess_verdict msess_packet(struct msess *s, const struct msock *in,
	const union maddr *src, uint8_t *pkt, size_t *len, size_t cap,
	uint64_t now_ms, struct mfwd *fwd)
{
	struct mleg *l = &s->leg[in->leg], *o = &s->leg[in->leg ^ 1];
	bool rtcp = in->rtcp || (l->rtcp_mux && msess_is_rtcp(pkt, *len));
	union maddr *expect = rtcp && !l->rtcp_mux ? &l->remote_rtcp : &l->remote_rtp;
	bool *latched = rtcp && !l->rtcp_mux ? &l->latched_rtcp : &l->latched_rtp;
	size_t inlen = *len, hlen = 0;
	int rc;

	/* RTP and RTCP are both version 2 with a fixed minimum header. */
	if (*len < (rtcp ? 8u : 12u) || (pkt[0] >> 6) != 2) {
		l->st.parse_err++;
		return MSESS_DROP_PARSE;
	}
	/* CSRCs and the extension block are in clear text on SRTP legs too:
	 * checked before any crypto. */
	if (!rtcp) {
		rc = mrtp_hdr_len(pkt, *len);
		if (rc < 0)
			goto malformed;
		hlen = (size_t)rc;
	}
	/* Check the source before any crypto: a strict leg does not let a
	 * stranger's packet touch the replay window. */
	if (expect->sa.sa_family && !maddr_eq(src, expect) &&
	    (*latched || l->latch == MLEG_LATCH_OFF)) {
		l->st.src_mismatch++;
		if (l->latch == MLEG_LATCH_STRICT)
			return MSESS_DROP_SOURCE;
	}
	if (l->in) {
		rc = rtcp ? msrtp_unprotect_rtcp(l->in, pkt, len)
			  : msrtp_unprotect_rtp(l->in, pkt, len);
		if (rc != MSRTP_OK) {
			*len = inlen;
			if (rc == MSRTP_E_AUTH) {
				l->st.auth_fail++;
				return MSESS_DROP_AUTH;
			}
			if (rc == MSRTP_E_REPLAY) {
				l->st.replay++;
				return MSESS_DROP_REPLAY;
			}
			l->st.parse_err++;
			return MSESS_DROP_PARSE;
		}
	}
	/* The padding count and RTCP's inner lengths are encrypted on SRTP
	 * legs: checked on the plain text, before the packet may latch. */
	if (rtcp ? mrtp_rtcp_check(pkt, *len) != MRTP_OK
		 : mrtp_pad_check(pkt, *len, hlen) != MRTP_OK) {
		*len = inlen; /* counted as it arrived */
		goto malformed;
	}
	/* Latch only now: for SRTP the packet has proven it holds the key. */
	if (l->latch != MLEG_LATCH_OFF && !*latched) {
		*expect = *src;
		*latched = true;
		if (!rtcp && !l->rtcp_mux && !l->latched_rtcp) {
			/* Until RTCP shows up, assume it is next to RTP. */
			l->remote_rtcp = *src;
			if (src->sa.sa_family == AF_INET)
				l->remote_rtcp.in.sin_port =
					htons((uint16_t)(ntohs(src->in.sin_port) + 1));
			else
				l->remote_rtcp.in6.sin6_port =
					htons((uint16_t)(ntohs(src->in6.sin6_port) + 1));
		}
	}
	l->st.pkts_in++;
	l->st.bytes_in += inlen;
	/* Loss counts authenticated RTP only; the header is in clear text
	 * after unprotect (and *len >= 12 was checked above). */
	if (!rtcp)
		l->st.lost = mstats_seq_update(&l->seq, l->st.lost,
			(uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 |
			(uint32_t)pkt[10] << 8 | pkt[11],
			(uint16_t)(pkt[2] << 8 | pkt[3]));
	l->st.last_ms = now_ms;

	fwd->dst = rtcp && !o->rtcp_mux ? &o->remote_rtcp : &o->remote_rtp;
	fwd->dstlen = maddr_len(fwd->dst);
	if (!fwd->dstlen) {
		o->st.no_remote++;
		return MSESS_DROP_NOREMOTE;
	}
	if (o->out) {
		rc = rtcp ? msrtp_protect_rtcp(o->out, pkt, len, cap)
			  : msrtp_protect_rtp(o->out, pkt, len, cap);
		if (rc != MSRTP_OK) {
			o->st.protect_err++;
			return MSESS_DROP_PROTECT;
		}
	}
	fwd->fd = rtcp && !o->rtcp_mux && o->rtcp.fd >= 0 ? o->rtcp.fd : o->rtp.fd;
	o->st.pkts_out++;
	o->st.bytes_out += *len;
	return MSESS_FORWARD;
malformed:
	l->st.malformed++;
	return MSESS_DROP_MALFORMED;
}
