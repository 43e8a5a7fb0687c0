/* proxy/dnsmsg, dnscache, dns: the DNS answer parser on hand-built
 * messages (A, AAAA, SRV, NAPTR, CNAME chains, NXDOMAIN/NODATA with the
 * RFC 2308 negative TTL, and malformed input: wrong id or question,
 * rdata overruns, compression loops), the query writer, the cache on a
 * made-up clock (TTL clamps, negative cap, expiry, size bound), and the
 * RFC 2782 ordering of SRV targets. */
#include "dns.h"
#include "dnscache.h"
#include "dnsmsg.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny message builder ---- */

struct mb {
	uint8_t b[2048];
	size_t n;
};

static void put8(struct mb *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static void put16(struct mb *m, unsigned v) { put8(m, v >> 8); put8(m, v & 0xff); }
static void put32(struct mb *m, uint32_t v) { put16(m, v >> 16); put16(m, v & 0xffff); }

static void putname(struct mb *m, const char *name)
{
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		put8(m, (unsigned)l);
		memcpy(m->b + m->n, p, l);
		m->n += l;
		p += l + (dot ? 1 : 0);
	}
	put8(m, 0);
}

/* Header and question; counts patched by the caller through hdr(). */
static void start(struct mb *m, uint16_t id, unsigned rcode, const char *qname, uint16_t qtype,
	unsigned an, unsigned ns)
{
	m->n = 0;
	put16(m, id);
	put16(m, 0x8180 | rcode);       /* QR RD RA */
	put16(m, 1);
	put16(m, an);
	put16(m, ns);
	put16(m, 0);
	putname(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

static void rrhdr(struct mb *m, const char *name, uint16_t type, uint32_t ttl, unsigned rdlen)
{
	putname(m, name);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
}

static void rr_a(struct mb *m, const char *name, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c,
	uint8_t d)
{
	rrhdr(m, name, RP_DNS_A, ttl, 4);
	put8(m, a); put8(m, b); put8(m, c); put8(m, d);
}

static void rr_srv(struct mb *m, const char *name, uint32_t ttl, unsigned prio, unsigned w,
	unsigned port, const char *target)
{
	struct mb t = { .n = 0 };

	putname(&t, target);
	rrhdr(m, name, RP_DNS_SRV, ttl, 6 + (unsigned)t.n);
	put16(m, prio);
	put16(m, w);
	put16(m, port);
	memcpy(m->b + m->n, t.b, t.n);
	m->n += t.n;
}

static void cstr(struct mb *m, const char *s)
{
	put8(m, (unsigned)strlen(s));
	memcpy(m->b + m->n, s, strlen(s));
	m->n += strlen(s);
}

static void rr_naptr(struct mb *m, const char *name, uint32_t ttl, unsigned order,
	unsigned pref, const char *flags, const char *svc, const char *repl)
{
	struct mb t = { .n = 0 };

	put16(&t, order);
	put16(&t, pref);
	cstr(&t, flags);
	cstr(&t, svc);
	cstr(&t, "");
	putname(&t, repl);
	rrhdr(m, name, RP_DNS_NAPTR, ttl, (unsigned)t.n);
	memcpy(m->b + m->n, t.b, t.n);
	m->n += t.n;
}

static void rr_soa(struct mb *m, uint32_t ttl, uint32_t minimum)
{
	struct mb t = { .n = 0 };

	putname(&t, "ns.test");
	putname(&t, "hm.test");
	put32(&t, 1);
	put32(&t, 3600);
	put32(&t, 600);
	put32(&t, 86400);
	put32(&t, minimum);
	rrhdr(m, "test", RP_DNS_SOA, ttl, (unsigned)t.n);
	memcpy(m->b + m->n, t.b, t.n);
	m->n += t.n;
}

/* ---- parser ---- */

START_TEST(parse_a_and_ttl)
{
	struct mb m;
	struct rp_dns_answer a;

	start(&m, 7, 0, "h.test", RP_DNS_A, 3, 0);
	rr_a(&m, "h.test", 300, 192, 0, 2, 1);
	rr_a(&m, "other.test", 1, 192, 0, 2, 9);        /* another name: ignored */
	rr_a(&m, "H.TEST.", 60, 192, 0, 2, 2);           /* case and dot do not matter */
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 7, "h.test", RP_DNS_A, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_OK);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(a.ttl, 60);
	ck_assert_uint_eq(a.rr[0].u.a[3], 1);
	ck_assert_uint_eq(a.rr[1].u.a[3], 2);
	/* Another id, another question, not a response: refused. */
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 8, "h.test", RP_DNS_A, &a), -EBADMSG);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 7, "x.test", RP_DNS_A, &a), -EBADMSG);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 7, "h.test", RP_DNS_AAAA, &a), -EBADMSG);
	m.b[2] &= 0x7f;
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 7, "h.test", RP_DNS_A, &a), -EBADMSG);
}
END_TEST

START_TEST(parse_cname_chain)
{
	struct mb m, t = { .n = 0 };
	struct rp_dns_answer a;

	start(&m, 1, 0, "alias.test", RP_DNS_A, 2, 0);
	/* The A first, the CNAME after: order in the section is free. */
	rr_a(&m, "real.test", 100, 10, 0, 0, 1);
	putname(&t, "real.test");
	rrhdr(&m, "alias.test", RP_DNS_CNAME, 30, (unsigned)t.n);
	memcpy(m.b + m.n, t.b, t.n);
	m.n += t.n;
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 1, "alias.test", RP_DNS_A, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_OK);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(a.ttl, 30);   /* the CNAME's TTL bounds it */
}
END_TEST

START_TEST(parse_srv_naptr)
{
	struct mb m;
	struct rp_dns_answer a;

	start(&m, 2, 0, "_sip._udp.c.test", RP_DNS_SRV, 2, 0);
	rr_srv(&m, "_sip._udp.c.test", 120, 10, 60, 5070, "a.c.test");
	rr_srv(&m, "_sip._udp.c.test", 120, 20, 0, 5060, "");   /* "." */
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 2, "_sip._udp.c.test", RP_DNS_SRV, &a), 0);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(a.rr[0].u.srv.prio, 10);
	ck_assert_uint_eq(a.rr[0].u.srv.weight, 60);
	ck_assert_uint_eq(a.rr[0].u.srv.port, 5070);
	ck_assert_str_eq(a.rr[0].u.srv.target, "a.c.test");
	ck_assert_str_eq(a.rr[1].u.srv.target, "");

	start(&m, 3, 0, "c.test", RP_DNS_NAPTR, 1, 0);
	rr_naptr(&m, "c.test", 50, 10, 20, "S", "SIP+D2T", "_sip._tcp.c.test");
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 3, "c.test", RP_DNS_NAPTR, &a), 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(a.rr[0].u.naptr.order, 10);
	ck_assert_uint_eq(a.rr[0].u.naptr.pref, 20);
	ck_assert_str_eq(a.rr[0].u.naptr.flags, "s");
	ck_assert_str_eq(a.rr[0].u.naptr.service, "sip+d2t");
	ck_assert_str_eq(a.rr[0].u.naptr.repl, "_sip._tcp.c.test");
}
END_TEST

START_TEST(parse_negative)
{
	struct mb m;
	struct rp_dns_answer a;

	/* NXDOMAIN: TTL = min(SOA TTL, MINIMUM) (RFC 2308 §5). */
	start(&m, 4, 3, "no.test", RP_DNS_A, 0, 1);
	rr_soa(&m, 900, 60);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 4, "no.test", RP_DNS_A, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_NXDOMAIN);
	ck_assert_uint_eq(a.ttl, 60);
	start(&m, 4, 3, "no.test", RP_DNS_A, 0, 1);
	rr_soa(&m, 20, 60);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 4, "no.test", RP_DNS_A, &a), 0);
	ck_assert_uint_eq(a.ttl, 20);
	/* NODATA without an SOA: no TTL known. */
	start(&m, 5, 0, "h.test", RP_DNS_AAAA, 0, 0);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 5, "h.test", RP_DNS_AAAA, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_NODATA);
	ck_assert_uint_eq(a.ttl, UINT32_MAX);
	/* SERVFAIL, REFUSED: server failure. */
	start(&m, 6, 2, "h.test", RP_DNS_A, 0, 0);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 6, "h.test", RP_DNS_A, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_SERVFAIL);
	start(&m, 6, 5, "h.test", RP_DNS_A, 0, 0);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 6, "h.test", RP_DNS_A, &a), 0);
	ck_assert_int_eq(a.status, RP_DNS_SERVFAIL);
}
END_TEST

START_TEST(parse_malformed)
{
	struct mb m;
	struct rp_dns_answer a;
	size_t full;

	/* An A record with 3 bytes of rdata. */
	start(&m, 9, 0, "h.test", RP_DNS_A, 1, 0);
	rrhdr(&m, "h.test", RP_DNS_A, 60, 3);
	put8(&m, 1); put8(&m, 2); put8(&m, 3);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 9, "h.test", RP_DNS_A, &a), -EBADMSG);
	/* Every truncation of a good answer: refused or parsed, never past the end. */
	start(&m, 9, 0, "_sip._udp.c.test", RP_DNS_SRV, 1, 0);
	rr_srv(&m, "_sip._udp.c.test", 120, 10, 60, 5070, "a.c.test");
	full = m.n;
	for (size_t n = 0; n < full; n++) {
		uint8_t *cp = malloc(n ? n : 1);

		memcpy(cp, m.b, n);
		ck_assert_int_eq(rp_dnsmsg_parse(cp, n, 9, "_sip._udp.c.test", RP_DNS_SRV, &a),
			-EBADMSG);
		free(cp);
	}
	/* An SRV whose target is a compression pointer to itself. */
	start(&m, 9, 0, "_sip._udp.c.test", RP_DNS_SRV, 1, 0);
	rrhdr(&m, "_sip._udp.c.test", RP_DNS_SRV, 60, 8);
	put16(&m, 1); put16(&m, 1); put16(&m, 5060);
	put16(&m, 0xC000 | (unsigned)m.n);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 9, "_sip._udp.c.test", RP_DNS_SRV, &a),
		-EBADMSG);
	/* A NAPTR whose character-string runs past its rdata. */
	start(&m, 9, 0, "c.test", RP_DNS_NAPTR, 1, 0);
	rrhdr(&m, "c.test", RP_DNS_NAPTR, 60, 6);
	put16(&m, 1); put16(&m, 1); put8(&m, 200); put8(&m, 0);
	ck_assert_int_eq(rp_dnsmsg_parse(m.b, m.n, 9, "c.test", RP_DNS_NAPTR, &a), -EBADMSG);
}
END_TEST

START_TEST(query_writer)
{
	uint8_t b[RP_DNS_QUERY_MAX];
	int n = rp_dnsmsg_query("_sip._udp.Carrier.test.", RP_DNS_SRV, 0x1234, b, sizeof(b));
	static const uint8_t name[] = "\x04_sip\x04_udp\x07" "Carrier\x04test";

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(b[0], 0x12);
	ck_assert_uint_eq(b[1], 0x34);
	ck_assert_uint_eq(b[2], 0x01);                  /* RD */
	ck_assert_int_eq(memcmp(b + 12, name, sizeof(name)), 0); /* with the root's 0 */
	ck_assert_uint_eq(b[12 + sizeof(name) + 1], RP_DNS_SRV);
	ck_assert_uint_eq(b[11], 1);                    /* the OPT record */
	ck_assert_int_eq(rp_dnsmsg_query("a..b", RP_DNS_A, 1, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rp_dnsmsg_query("", RP_DNS_A, 1, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rp_dnsmsg_query("a b.test", RP_DNS_A, 1, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(rp_dnsmsg_query("a.test", RP_DNS_A, 1, b, 10), -ENOSPC);
}
END_TEST

/* ---- cache ---- */

#define T0 5000000ull

static struct rp_dns_answer ans(enum rp_dns_status st, uint32_t ttl, uint8_t last)
{
	struct rp_dns_answer a = { .status = st, .ttl = ttl };

	if (st == RP_DNS_OK) {
		a.n = 1;
		a.rr[0].type = RP_DNS_A;
		a.rr[0].ttl = ttl;
		a.rr[0].u.a[3] = last;
	}
	return a;
}

START_TEST(cache_ttl_clamps)
{
	struct rp_dnscache_cfg cfg = { .max_entries = 16, .min_ttl = 5, .max_ttl = 100,
		.neg_max_ttl = 10, .neg_default_ttl = 3 };
	rp_dnscache *c;
	struct rp_dns_answer a = ans(RP_DNS_OK, 1, 7), g;

	ck_assert_int_eq(rp_dnscache_new(&cfg, &c), 0);
	/* TTL 1 held for the 5 s minimum. */
	ck_assert_int_eq(rp_dnscache_put(c, "H.test.", RP_DNS_A, &a, T0), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_A, T0 + 4999, &g), 0);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.rr[0].u.a[3], 7);
	ck_assert_uint_eq(g.ttl, 1);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_A, T0 + 5000, &g), -ENOENT);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_AAAA, T0, &g), -ENOENT);
	/* A day held for the 100 s maximum. */
	a = ans(RP_DNS_OK, 86400, 8);
	ck_assert_int_eq(rp_dnscache_put(c, "h.test", RP_DNS_A, &a, T0), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_A, T0 + 99999, &g), 0);
	ck_assert_uint_eq(g.rr[0].u.a[3], 8);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_A, T0 + 100000, &g), -ENOENT);
	/* Negative: capped at 10 s; without an SOA 3 s. */
	a = ans(RP_DNS_NXDOMAIN, 3600, 0);
	ck_assert_int_eq(rp_dnscache_put(c, "no.test", RP_DNS_A, &a, T0), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "no.test", RP_DNS_A, T0 + 9999, &g), 0);
	ck_assert_int_eq(g.status, RP_DNS_NXDOMAIN);
	ck_assert_int_eq(rp_dnscache_get(c, "no.test", RP_DNS_A, T0 + 10000, &g), -ENOENT);
	a = ans(RP_DNS_NODATA, UINT32_MAX, 0);
	ck_assert_int_eq(rp_dnscache_put(c, "h.test", RP_DNS_AAAA, &a, T0), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_AAAA, T0 + 2999, &g), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "h.test", RP_DNS_AAAA, T0 + 3000, &g), -ENOENT);
	/* A server failure is not stored. */
	a = ans(RP_DNS_SERVFAIL, 60, 0);
	ck_assert_int_eq(rp_dnscache_put(c, "sf.test", RP_DNS_A, &a, T0), -EINVAL);
	ck_assert_int_eq(rp_dnscache_get(c, "sf.test", RP_DNS_A, T0, &g), -ENOENT);
	rp_dnscache_free(c);
}
END_TEST

START_TEST(cache_bounded)
{
	struct rp_dnscache_cfg cfg = { .max_entries = 16 };
	rp_dnscache *c;
	struct rp_dns_answer g;
	char name[32];

	ck_assert_int_eq(rp_dnscache_new(&cfg, &c), 0);
	/* 100 names, each living longer than the one before: the table stays
	 * at 16, the shortest-lived going first. */
	for (unsigned i = 0; i < 100; i++) {
		struct rp_dns_answer a = ans(RP_DNS_OK, 10 + i, (uint8_t)i);

		snprintf(name, sizeof(name), "n%u.test", i);
		ck_assert_int_eq(rp_dnscache_put(c, name, RP_DNS_A, &a, T0), 0);
		ck_assert_uint_le(rp_dnscache_count(c), 16);
	}
	ck_assert_int_eq(rp_dnscache_get(c, "n99.test", RP_DNS_A, T0, &g), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "n84.test", RP_DNS_A, T0, &g), 0);
	ck_assert_int_eq(rp_dnscache_get(c, "n83.test", RP_DNS_A, T0, &g), -ENOENT);
	/* Expired entries go before live ones. */
	{
		struct rp_dns_answer a = ans(RP_DNS_OK, 5, 1);

		ck_assert_int_eq(rp_dnscache_put(c, "late.test", RP_DNS_A, &a, T0 + 200000), 0);
		ck_assert_int_eq(rp_dnscache_get(c, "late.test", RP_DNS_A, T0 + 200000, &g), 0);
		ck_assert_uint_le(rp_dnscache_count(c), 16);
	}
	rp_dnscache_clear(c);
	ck_assert_uint_eq(rp_dnscache_count(c), 0);
	rp_dnscache_free(c);
}
END_TEST

/* ---- RFC 2782 order ---- */

static struct rp_dns_target tg(uint16_t prio, uint16_t w, uint8_t group, uint8_t last)
{
	struct rp_dns_target t = { .prio = prio, .weight = w, .group = group };
	char ip[32];

	snprintf(ip, sizeof(ip), "192.0.2.%u", last);
	ck_assert_int_eq(rp_addr_parse(ip, 5060, &t.addr), 0);
	return t;
}

static unsigned last_of(const struct rp_dns_target *t)
{
	return ntohl(t->addr.u.in4.sin_addr.s_addr) & 0xff;
}

START_TEST(order_priority_and_weight)
{
	unsigned first_a = 0, first_b = 0;

	for (uint64_t seed = 0; seed < 2000; seed++) {
		/* prio 10: group 0 (w 90, two addresses), group 1 (w 10);
		 * prio 20: group 2 (w 0). */
		struct rp_dns_target t[4] = { tg(10, 90, 0, 1), tg(10, 90, 0, 2),
			tg(10, 10, 1, 3), tg(20, 0, 2, 4) };

		rp_dns_order(t, 4, seed);
		/* Priority 20 always last; group 0's addresses together, in order. */
		ck_assert_uint_eq(last_of(&t[3]), 4);
		if (last_of(&t[0]) == 1) {
			ck_assert_uint_eq(last_of(&t[1]), 2);
			ck_assert_uint_eq(last_of(&t[2]), 3);
			first_a++;
		} else {
			ck_assert_uint_eq(last_of(&t[0]), 3);
			ck_assert_uint_eq(last_of(&t[1]), 1);
			ck_assert_uint_eq(last_of(&t[2]), 2);
			first_b++;
		}
	}
	/* About 90/10 (wide bounds: the order is random, the test is not). */
	ck_assert_uint_gt(first_a, 1600);
	ck_assert_uint_gt(first_b, 100);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_dns");
	TCase *tc = tcase_create("dns");

	tcase_add_test(tc, parse_a_and_ttl);
	tcase_add_test(tc, parse_cname_chain);
	tcase_add_test(tc, parse_srv_naptr);
	tcase_add_test(tc, parse_negative);
	tcase_add_test(tc, parse_malformed);
	tcase_add_test(tc, query_writer);
	tcase_add_test(tc, cache_ttl_clamps);
	tcase_add_test(tc, cache_bounded);
	tcase_add_test(tc, order_priority_and_weight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
