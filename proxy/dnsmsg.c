#include "dnsmsg.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

bool rp_dnsmsg_name_eq(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	if (na && a[na - 1] == '.')
		na--;
	if (nb && b[nb - 1] == '.')
		nb--;
	return na == nb && strncasecmp(a, b, na) == 0;
}

int rp_dnsmsg_query(const char *name, uint16_t type, uint16_t id, uint8_t *buf, size_t cap)
{
	size_t n = strlen(name), at = 12, total = 1;
	const char *p = name, *end;

	if (n && name[n - 1] == '.')
		n--;
	end = name + n;
	if (n == 0 || n > 253)
		return -EINVAL;
	/* header + name + qtype/qclass + OPT (11 bytes) */
	if (cap < 12 + n + 2 + 4 + 11)
		return -ENOSPC;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01;                  /* RD */
	buf[5] = 1;                     /* QDCOUNT */
	buf[11] = 1;                    /* ARCOUNT: the OPT record */
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);

		if (l == 0 || l > 63)
			return -EINVAL;
		for (size_t i = 0; i < l; i++)
			/* Host names, SRV owners (_sip._udp) and NAPTR replacements
			 * only: no escapes, no bytes that need them. */
			if (!(isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_'))
				return -EINVAL;
		buf[at++] = (uint8_t)l;
		memcpy(buf + at, p, l);
		at += l;
		total += l + 1;
		p += l + (dot ? 1 : 0);
	}
	if (total > 255)
		return -EINVAL;
	buf[at++] = 0;
	buf[at++] = (uint8_t)(type >> 8);
	buf[at++] = (uint8_t)type;
	buf[at++] = 0;
	buf[at++] = 1;                  /* IN */
	/* OPT: root owner, type 41, class = UDP payload size, TTL 0, no data. */
	buf[at++] = 0;
	buf[at++] = 0;
	buf[at++] = 41;
	buf[at++] = 1232 >> 8;
	buf[at++] = 1232 & 0xff;
	memset(buf + at, 0, 6);
	at += 6;
	return (int)at;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A name inside rdata at 'at' (compression allowed), which must end
 * inside the rdata. Returns the bytes it takes there, or -1. */
static int rd_name(const ns_msg *h, const uint8_t *rd, size_t rdlen, size_t at, char *out,
	size_t cap)
{
	int n;

	if (at >= rdlen)
		return -1;
	n = ns_name_uncompress(ns_msg_base(*h), ns_msg_end(*h), rd + at, out, cap);
	if (n < 0 || (size_t)n > rdlen - at)
		return -1;
	return n;
}

/* A <character-string> at *at into out (lower case, NUL-terminated);
 * false if it overruns the rdata or does not fit. */
static bool rd_cstr(const uint8_t *rd, size_t rdlen, size_t *at, char *out, size_t cap)
{
	size_t l;

	if (*at >= rdlen)
		return false;
	l = rd[*at];
	if (l > rdlen - *at - 1 || l >= cap)
		return false;
	for (size_t i = 0; i < l; i++)
		out[i] = (char)tolower(rd[*at + 1 + i]);
	out[l] = '\0';
	*at += 1 + l;
	return true;
}

static bool parse_rdata(const ns_msg *h, const ns_rr *rr, struct rp_dns_rr *o)
{
	const uint8_t *rd = ns_rr_rdata(*rr);
	size_t len = ns_rr_rdlen(*rr), at;
	char tmp[RP_DNS_NAME_MAX];

	o->type = ns_rr_type(*rr);
	o->ttl = ns_rr_ttl(*rr);
	switch (o->type) {
	case RP_DNS_A:
		if (len != 4)
			return false;
		memcpy(o->u.a, rd, 4);
		return true;
	case RP_DNS_AAAA:
		if (len != 16)
			return false;
		memcpy(o->u.aaaa, rd, 16);
		return true;
	case RP_DNS_SRV:
		if (len < 7)
			return false;
		o->u.srv.prio = get16(rd);
		o->u.srv.weight = get16(rd + 2);
		o->u.srv.port = get16(rd + 4);
		if (rd_name(h, rd, len, 6, tmp, sizeof(tmp)) < 0)
			return false;
		/* "." (the root): the service is decidedly not available. */
		snprintf(o->u.srv.target, sizeof(o->u.srv.target), "%s",
			strcmp(tmp, ".") ? tmp : "");
		return true;
	case RP_DNS_NAPTR:
		if (len < 4)
			return false;
		o->u.naptr.order = get16(rd);
		o->u.naptr.pref = get16(rd + 2);
		at = 4;
		if (!rd_cstr(rd, len, &at, o->u.naptr.flags, sizeof(o->u.naptr.flags)) ||
		    !rd_cstr(rd, len, &at, o->u.naptr.service, sizeof(o->u.naptr.service)) ||
		    !rd_cstr(rd, len, &at, tmp, sizeof(tmp)))   /* regexp: not used */
			return false;
		if (rd_name(h, rd, len, at, tmp, sizeof(tmp)) < 0)
			return false;
		snprintf(o->u.naptr.repl, sizeof(o->u.naptr.repl), "%s",
			strcmp(tmp, ".") ? tmp : "");
		return true;
	default:
		return false;
	}
}

/* The negative TTL of RFC 2308 §5 from the SOA in the authority section. */
static uint32_t neg_ttl(ns_msg *h)
{
	uint32_t best = UINT32_MAX;
	int n = ns_msg_count(*h, ns_s_ns);

	for (int i = 0; i < n; i++) {
		ns_rr rr;
		const uint8_t *p, *end;

		if (ns_parserr(h, ns_s_ns, i, &rr) < 0)
			break;
		if ((unsigned)ns_rr_type(rr) != RP_DNS_SOA || ns_rr_class(rr) != ns_c_in)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		/* MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
		if (ns_name_skip(&p, end) < 0 || ns_name_skip(&p, end) < 0 || end - p < 20)
			continue;
		uint32_t t = get32(p + 16);

		if (ns_rr_ttl(rr) < t)
			t = ns_rr_ttl(rr);
		if (t < best)
			best = t;
	}
	return best;
}

int rp_dnsmsg_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
	uint16_t qtype, struct rp_dns_answer *out)
{
	char cur[RP_DNS_NAME_MAX];
	ns_msg h;
	ns_rr rr;
	int rcode, nan;
	uint32_t ttl = UINT32_MAX;

	memset(out, 0, sizeof(*out));
	if (len > 65535 || ns_initparse(msg, (int)len, &h) < 0)
		return -EBADMSG;
	if (ns_msg_id(h) != id || !ns_msg_getflag(h, ns_f_qr) || ns_msg_count(h, ns_s_qd) != 1)
		return -EBADMSG;
	if (ns_parserr(&h, ns_s_qd, 0, &rr) < 0 || ns_rr_type(rr) != qtype ||
	    ns_rr_class(rr) != ns_c_in || !rp_dnsmsg_name_eq(ns_rr_name(rr), qname))
		return -EBADMSG;
	out->truncated = ns_msg_getflag(h, ns_f_tc);
	rcode = ns_msg_getflag(h, ns_f_rcode);
	if (rcode != ns_r_noerror && rcode != ns_r_nxdomain) {
		out->status = RP_DNS_SERVFAIL;
		return 0;
	}
	snprintf(cur, sizeof(cur), "%s", qname);
	nan = ns_msg_count(h, ns_s_an);
	/* Follow CNAMEs (a bounded chain, in any order in the section). */
	for (int hop = 0; hop < 8; hop++) {
		bool moved = false;

		for (int i = 0; i < nan && !moved; i++) {
			const uint8_t *rd;
			char tgt[RP_DNS_NAME_MAX];

			if (ns_parserr(&h, ns_s_an, i, &rr) < 0)
				return -EBADMSG;
			if ((unsigned)ns_rr_type(rr) != RP_DNS_CNAME || ns_rr_class(rr) != ns_c_in ||
			    !rp_dnsmsg_name_eq(ns_rr_name(rr), cur))
				continue;
			rd = ns_rr_rdata(rr);
			if (rd_name(&h, rd, ns_rr_rdlen(rr), 0, tgt, sizeof(tgt)) < 0)
				return -EBADMSG;
			if (rp_dnsmsg_name_eq(tgt, cur))
				return -EBADMSG;
			snprintf(cur, sizeof(cur), "%s", tgt);
			if (ns_rr_ttl(rr) < ttl)
				ttl = ns_rr_ttl(rr);
			moved = true;
		}
		if (!moved)
			break;
	}
	for (int i = 0; i < nan && out->n < RP_DNS_MAX_RR; i++) {
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0)
			return -EBADMSG;
		if (ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in ||
		    !rp_dnsmsg_name_eq(ns_rr_name(rr), cur))
			continue;
		if (!parse_rdata(&h, &rr, &out->rr[out->n]))
			return -EBADMSG;
		if (out->rr[out->n].ttl < ttl)
			ttl = out->rr[out->n].ttl;
		out->n++;
	}
	if (out->n) {
		out->status = RP_DNS_OK;
		out->ttl = ttl;
		return 0;
	}
	out->status = rcode == ns_r_nxdomain ? RP_DNS_NXDOMAIN : RP_DNS_NODATA;
	out->ttl = neg_ttl(&h);
	return 0;
}
