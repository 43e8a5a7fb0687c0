/* Registrar: REGISTER processing on real parsed messages (RFC 3261 §10.3),
 * expiry with the test's own clock, lookup order and normalisation, NAT
 * and flow data, limits, and concurrent registrations from several
 * threads. */
#include "registrar.h"
#include "rp_arena.h"
#include "sip_msg.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 5000000ull

/* Allocation failure as a test mode: this binary counts and can fail the
 * allocations our own code makes (not under ASan/TSan). */
#include "oom_inject.h"

static rp_registrar *reg;
static struct rp_reg_source udp_src;
static char hdr[4096];
static struct rp_reg_save_info info;

static void make_src(struct rp_reg_source *s, enum rp_tp tp, const char *ip,
	uint16_t port, uint64_t flow)
{
	memset(s, 0, sizeof(*s));
	s->tp = tp;
	ck_assert_int_eq(rp_addr_parse(ip, port, &s->addr), 0);
	s->flow_id = flow;
}

static void setup(void)
{
	struct rp_reg_opts o = { .min_expires = 60, .max_expires = 3600,
		.default_expires = 1800, .max_contacts = 5 };

	ck_assert_int_eq(rp_registrar_new(&o, &reg), 0);
	make_src(&udp_src, RP_TP_UDP, "192.0.2.10", 5060, 0);
}

static void teardown(void)
{
	reg = rp_registrar_free(reg);
}

/* Builds and processes a REGISTER. 'lines' are extra header lines, each
 * ending in \r\n (Contact, Expires, ...). */
static enum rp_reg_result do_reg(rp_registrar *r, const char *to, const char *callid,
	unsigned cseq, const char *lines, const struct rp_reg_source *src, uint64_t now)
{
	char buf[4096];
	rp_arena a;
	struct sip_msg *m = NULL;
	enum rp_reg_result res;
	int n = snprintf(buf, sizeof(buf),
		"REGISTER sip:example.net SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK%u\r\n"
		"From: <%s>;tag=1\r\n"
		"To: <%s>\r\n"
		"Call-ID: %s\r\n"
		"CSeq: %u REGISTER\r\n"
		"%s"
		"Content-Length: 0\r\n\r\n", cseq, to, to, callid, cseq, lines);

	ck_assert_int_lt(n, (int)sizeof(buf));
	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_int_eq(sip_msg_parse(buf, (size_t)n, &a, NULL, &m, NULL), SIP_OK);
	res = rp_registrar_save(r, m, src, now, hdr, sizeof(hdr), &info);
	rp_arena_fini(&a);
	return res;
}

static enum rp_reg_result alice(const char *callid, unsigned cseq, const char *lines,
	uint64_t now)
{
	return do_reg(reg, "sip:alice@example.net", callid, cseq, lines, &udp_src, now);
}

static struct rp_reg_list *look(const char *uri, uint64_t now)
{
	struct rp_reg_list *l = NULL;

	ck_assert_int_eq(rp_registrar_lookup_str(reg, rp_str_cstr(uri), now, &l), 0);
	ck_assert_ptr_nonnull(l);
	return l;
}

static size_t count(const char *uri, uint64_t now)
{
	struct rp_reg_list *l = look(uri, now);
	size_t n = l->count;

	rp_reg_list_free(l);
	return n;
}

START_TEST(add_refresh_remove)
{
	struct rp_reg_list *l;
	struct rp_reg_stats st;

	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:alice@192.0.2.10:5060>\r\n"
		"Expires: 600\r\n", T0), RP_REG_OK);
	ck_assert_uint_eq(info.added, 1);
	ck_assert_uint_eq(info.bindings, 1);
	ck_assert_str_eq(hdr, "Contact: <sip:alice@192.0.2.10:5060>;expires=600\r\n");
	ck_assert_uint_eq(info.hdr_len, strlen(hdr));

	l = look("sip:alice@example.net", T0 + 100000);
	ck_assert_uint_eq(l->count, 1);
	ck_assert_str_eq(l->v[0].uri, "sip:alice@192.0.2.10:5060");
	ck_assert_str_eq(l->v[0].aor, "sip:alice@example.net");
	ck_assert_str_eq(l->v[0].call_id, "c1");
	ck_assert_uint_eq(l->v[0].cseq, 1);
	ck_assert_uint_eq(l->v[0].expires_in, 500);
	ck_assert_uint_eq(l->v[0].expires_ms, T0 + 600000);
	ck_assert_uint_eq(l->v[0].q, 1000);
	ck_assert(!l->v[0].nat);
	ck_assert_int_eq(l->v[0].tp, RP_TP_UDP);
	ck_assert(rp_addr_eq(&l->v[0].source, &udp_src.addr));
	rp_reg_list_free(l);

	/* Refresh: the same binding, a later expiry. */
	ck_assert_int_eq(alice("c1", 2, "Contact: <sip:alice@192.0.2.10:5060>;expires=1200\r\n",
		T0 + 200000), RP_REG_OK);
	ck_assert_uint_eq(info.refreshed, 1);
	ck_assert_uint_eq(info.added, 0);
	l = look("sip:alice@example.net", T0 + 200000);
	ck_assert_uint_eq(l->count, 1);
	ck_assert_uint_eq(l->v[0].expires_in, 1200);
	ck_assert_uint_eq(l->v[0].cseq, 2);
	rp_reg_list_free(l);

	/* A REGISTER without Contact is a query: 200 with the bindings. */
	ck_assert_int_eq(alice("c1", 3, "", T0 + 200000), RP_REG_OK);
	ck_assert_ptr_nonnull(strstr(hdr, "expires=1200"));

	/* Remove with expires=0. */
	ck_assert_int_eq(alice("c1", 4, "Contact: <sip:alice@192.0.2.10:5060>;expires=0\r\n",
		T0 + 300000), RP_REG_OK);
	ck_assert_uint_eq(info.removed, 1);
	ck_assert_uint_eq(info.bindings, 0);
	ck_assert_str_eq(hdr, "");
	ck_assert_uint_eq(count("sip:alice@example.net", T0 + 300000), 0);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.aors, 0);
	ck_assert_uint_eq(st.bindings, 0);
	ck_assert_uint_eq(st.saves, 4);
}
END_TEST

START_TEST(star_removes_all)
{
	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:alice@192.0.2.10:5060>, "
		"<sip:alice@192.0.2.11:5060>\r\n", T0), RP_REG_OK);
	ck_assert_uint_eq(info.added, 2);
	ck_assert_int_eq(do_reg(reg, "sip:bob@example.net", "b1", 1,
		"Contact: <sip:bob@192.0.2.12>\r\n", &udp_src, T0), RP_REG_OK);

	/* '*' needs Expires: 0, and must be alone. */
	ck_assert_int_eq(alice("c2", 1, "Contact: *\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c2", 1, "Contact: *\r\nExpires: 10\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c2", 1, "Contact: *, <sip:alice@192.0.2.13>\r\nExpires: 0\r\n",
		T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c2", 1, "Contact: <sip:alice@192.0.2.13>\r\nContact: *\r\n"
		"Expires: 0\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_BAD_REQUEST), 400);
	/* Same Call-ID, CSeq not higher: refused, nothing removed. */
	ck_assert_int_eq(alice("c1", 1, "Contact: *\r\nExpires: 0\r\n", T0),
		RP_REG_OUT_OF_ORDER);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 2);

	ck_assert_int_eq(alice("c1", 2, "Contact: *\r\nExpires: 0\r\n", T0), RP_REG_OK);
	ck_assert_uint_eq(info.removed, 2);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 0);
	ck_assert_uint_eq(count("sip:bob@example.net", T0), 1);
}
END_TEST

START_TEST(expires_handling)
{
	struct rp_reg_list *l;

	/* Nothing said: the default (1800 here). */
	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:alice@192.0.2.10:5001>\r\n", T0),
		RP_REG_OK);
	ck_assert_ptr_nonnull(strstr(hdr, "<sip:alice@192.0.2.10:5001>;expires=1800"));
	/* Expires header; the contact's own param wins over it; over max is cut. */
	ck_assert_int_eq(alice("c1", 2, "Contact: <sip:alice@192.0.2.10:5002>, "
		"<sip:alice@192.0.2.10:5003>;expires=120\r\nExpires: 300\r\n", T0), RP_REG_OK);
	ck_assert_int_eq(alice("c1", 3, "Contact: <sip:alice@192.0.2.10:5004>;expires=999999\r\n",
		T0), RP_REG_OK);
	/* Past 2^32-1 means 2^32-1 (then the max). */
	ck_assert_int_eq(alice("c1", 4, "Contact: <sip:alice@192.0.2.10:5005>\r\n"
		"Expires: 99999999999999999999999\r\n", T0), RP_REG_OK);
	l = look("sip:alice@example.net", T0);
	ck_assert_uint_eq(l->count, 5);
	for (size_t i = 0; i < l->count; i++) {
		const char *u = l->v[i].uri;
		uint32_t e = l->v[i].expires_in;

		if (strstr(u, ":5001"))
			ck_assert_uint_eq(e, 1800);
		else if (strstr(u, ":5002"))
			ck_assert_uint_eq(e, 300);
		else if (strstr(u, ":5003"))
			ck_assert_uint_eq(e, 120);
		else
			ck_assert_uint_eq(e, 3600);
	}
	rp_reg_list_free(l);

	/* Too brief: 423 with Min-Expires, and nothing changes. */
	ck_assert_int_eq(alice("c1", 5, "Contact: <sip:alice@192.0.2.10:5006>\r\n"
		"Expires: 30\r\n", T0), RP_REG_INTERVAL_TOO_BRIEF);
	ck_assert_uint_eq(info.min_expires, 60);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_INTERVAL_TOO_BRIEF), 423);
	ck_assert_int_eq(alice("c1", 5, "Contact: <sip:alice@192.0.2.10:5001>;expires=0, "
		"<sip:alice@192.0.2.10:5006>;expires=59\r\n", T0), RP_REG_INTERVAL_TOO_BRIEF);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 5);
	/* Garbage. */
	ck_assert_int_eq(alice("c1", 6, "Contact: <sip:alice@192.0.2.10:5006>\r\n"
		"Expires: soon\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c1", 6, "Contact: <sip:alice@192.0.2.10:5006>;expires=-1\r\n",
		T0), RP_REG_BAD_REQUEST);
	ck_assert_uint_gt(info.err_off, 0);

	/* New limits after a reload. */
	ck_assert_int_eq(rp_registrar_set_expires(reg, 10, 100, 50), 0);
	ck_assert_int_eq(alice("c1", 7, "Contact: <sip:alice@192.0.2.10:5001>;expires=30\r\n",
		T0), RP_REG_OK);
	ck_assert_int_eq(rp_registrar_set_expires(reg, 100, 10, 50), -EINVAL);
}
END_TEST

START_TEST(cseq_ordering)
{
	ck_assert_int_eq(alice("c1", 10, "Contact: <sip:alice@192.0.2.10>\r\n", T0), RP_REG_OK);
	ck_assert_int_eq(alice("c1", 10, "Contact: <sip:alice@192.0.2.10>;expires=0\r\n", T0),
		RP_REG_OUT_OF_ORDER);
	ck_assert_int_eq(alice("c1", 9, "Contact: <sip:alice@192.0.2.10>;expires=0\r\n", T0),
		RP_REG_OUT_OF_ORDER);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_OUT_OF_ORDER), 500);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 1);
	/* A different Call-ID (the UA rebooted): any CSeq updates. */
	ck_assert_int_eq(alice("c2", 1, "Contact: <sip:alice@192.0.2.10>;expires=100\r\n", T0),
		RP_REG_OK);
	ck_assert_uint_eq(info.refreshed, 1);
	/* A new contact is not subject to the check; the old one still is, and
	 * one refused contact refuses the whole REGISTER. */
	ck_assert_int_eq(alice("c2", 1, "Contact: <sip:alice@192.0.2.99>, "
		"<sip:alice@192.0.2.10>\r\n", T0), RP_REG_OUT_OF_ORDER);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 1);
	ck_assert_int_eq(alice("c2", 2, "Contact: <sip:alice@192.0.2.99>, "
		"<sip:alice@192.0.2.10>\r\n", T0), RP_REG_OK);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 2);
}
END_TEST

START_TEST(q_and_recency_order)
{
	struct rp_reg_list *l;

	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:a@192.0.2.1>;q=0.5, <sip:b@192.0.2.2>, "
		"<sip:c@192.0.2.3>;q=0.9\r\n", T0), RP_REG_OK);
	ck_assert_ptr_nonnull(strstr(hdr, "<sip:a@192.0.2.1>;expires=1800;q=0.500\r\n"));
	ck_assert_ptr_nonnull(strstr(hdr, "<sip:b@192.0.2.2>;expires=1800\r\n"));
	ck_assert_int_eq(alice("c2", 1, "Contact: <sip:d@192.0.2.4>;q=0.5\r\n", T0 + 1000),
		RP_REG_OK);
	l = look("sip:alice@example.net", T0 + 2000);
	ck_assert_uint_eq(l->count, 4);
	ck_assert_str_eq(l->v[0].uri, "sip:b@192.0.2.2");
	ck_assert_str_eq(l->v[1].uri, "sip:c@192.0.2.3");
	ck_assert_uint_eq(l->v[1].q, 900);
	/* same q: the more recent first */
	ck_assert_str_eq(l->v[2].uri, "sip:d@192.0.2.4");
	ck_assert_str_eq(l->v[3].uri, "sip:a@192.0.2.1");
	rp_reg_list_free(l);

	/* Same q, same millisecond: the later REGISTER still comes first. */
	for (unsigned k = 0; k < 4; k++) {
		ck_assert_int_eq(do_reg(reg, "sip:tie@example.net", "c9", 1 + k, k % 2 ?
			"Contact: <sip:y@192.0.2.8>\r\n" : "Contact: <sip:x@192.0.2.7>\r\n",
			&udp_src, T0 + 5000), RP_REG_OK);
		if (k == 0)
			continue;
		l = look("sip:tie@example.net", T0 + 5000);
		ck_assert_uint_eq(l->count, 2);
		ck_assert_str_eq(l->v[0].uri, k % 2 ? "sip:y@192.0.2.8" : "sip:x@192.0.2.7");
		ck_assert_str_eq(l->v[1].uri, k % 2 ? "sip:x@192.0.2.7" : "sip:y@192.0.2.8");
		rp_reg_list_free(l);
	}

	ck_assert_int_eq(alice("c3", 1, "Contact: <sip:e@192.0.2.5>;q=1.5\r\n", T0),
		RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c3", 1, "Contact: <sip:e@192.0.2.5>;q=0.1234\r\n", T0),
		RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c3", 1, "Contact: <sip:e@192.0.2.5>;q=1.000\r\n", T0),
		RP_REG_OK);
}
END_TEST

START_TEST(contact_limits)
{
	struct rp_reg_opts o = { .max_contacts = 2, .max_bindings = 3 };
	rp_registrar *small;
	struct rp_reg_stats st;

	ck_assert_int_eq(rp_registrar_new(&o, &small), 0);
	ck_assert_int_eq(do_reg(small, "sip:a@x", "c", 1, "Contact: <sip:a@192.0.2.1>, "
		"<sip:a@192.0.2.2>\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_int_eq(do_reg(small, "sip:a@x", "c", 2, "Contact: <sip:a@192.0.2.3>\r\n",
		&udp_src, T0), RP_REG_TOO_MANY_CONTACTS);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_TOO_MANY_CONTACTS), 403);
	/* Refreshing, or replacing one by another in the same REGISTER, is fine. */
	ck_assert_int_eq(do_reg(small, "sip:a@x", "c", 3, "Contact: <sip:a@192.0.2.1>\r\n",
		&udp_src, T0), RP_REG_OK);
	ck_assert_int_eq(do_reg(small, "sip:a@x", "c", 4, "Contact: <sip:a@192.0.2.1>;expires=0, "
		"<sip:a@192.0.2.3>\r\n", &udp_src, T0), RP_REG_OK);
	/* Global limit: 3 bindings in the whole table. */
	ck_assert_int_eq(do_reg(small, "sip:b@x", "d", 1, "Contact: <sip:b@192.0.2.1>\r\n",
		&udp_src, T0), RP_REG_OK);
	ck_assert_int_eq(do_reg(small, "sip:c@x", "e", 1, "Contact: <sip:c@192.0.2.1>\r\n",
		&udp_src, T0), RP_REG_TABLE_FULL);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_TABLE_FULL), 503);
	rp_registrar_stats(small, &st);
	ck_assert_uint_eq(st.bindings, 3);
	ck_assert_uint_eq(st.aors, 2);
	ck_assert_uint_eq(st.rejected, 2);
	/* The same contact twice in one request is one binding. */
	ck_assert_int_eq(do_reg(small, "sip:b@x", "d", 2, "Contact: <sip:b@192.0.2.1>;expires=100, "
		"<sip:b@192.0.2.1>;expires=200\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_uint_eq(info.bindings, 1);
	ck_assert_ptr_nonnull(strstr(hdr, "expires=200"));
	rp_registrar_free(small);
}
END_TEST

START_TEST(expiry_sweep)
{
	struct rp_reg_stats st;

	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:alice@192.0.2.1>;expires=60, "
		"<sip:alice@192.0.2.2>;expires=120\r\n", T0), RP_REG_OK);
	ck_assert_int_eq(do_reg(reg, "sip:bob@example.net", "b", 1,
		"Contact: <sip:bob@192.0.2.3>;expires=60\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_uint_eq(rp_registrar_sweep(reg, T0 + 59999), 0);
	ck_assert_uint_eq(rp_registrar_sweep(reg, T0 + 60000), 2);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.bindings, 1);
	ck_assert_uint_eq(st.aors, 1);
	ck_assert_uint_eq(st.expired, 2);
	ck_assert_uint_eq(count("sip:bob@example.net", T0 + 60000), 0);
	/* Lazy expiry: a lookup after the deadline sees nothing, even unswept. */
	ck_assert_uint_eq(count("sip:alice@example.net", T0 + 119999), 1);
	ck_assert_uint_eq(count("sip:alice@example.net", T0 + 120000), 0);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.bindings, 0);
	ck_assert_uint_eq(st.aors, 0);
	ck_assert_uint_eq(st.expired, 3);
	ck_assert_uint_eq(rp_registrar_sweep(reg, T0 + 999999), 0);

	/* A refused REGISTER on an AOR whose bindings all expired leaves no
	 * empty record behind. */
	ck_assert_int_eq(alice("c2", 1, "Contact: <sip:alice@192.0.2.1>;expires=60\r\n",
		T0 + 1000000), RP_REG_OK);
	ck_assert_int_eq(alice("c2", 2, "Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>, "
		"<sip:a@192.0.2.3>, <sip:a@192.0.2.4>, <sip:a@192.0.2.5>, <sip:a@192.0.2.6>\r\n",
		T0 + 1060000), RP_REG_TOO_MANY_CONTACTS);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.aors, 0);
	ck_assert_uint_eq(st.bindings, 0);
}
END_TEST

START_TEST(nat_and_flows)
{
	struct rp_reg_source tcp;
	struct rp_reg_list *l;

	/* Contact is a private address: behind NAT, send to the source. */
	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:alice@10.0.0.5:5060>\r\n", T0), RP_REG_OK);
	/* Same IP, other port (UDP): NAT too. */
	ck_assert_int_eq(do_reg(reg, "sip:bob@example.net", "b", 1,
		"Contact: <sip:bob@192.0.2.10:5070>\r\n", &udp_src, T0), RP_REG_OK);
	/* Same IP, no port = 5060 = the source port: not NAT. */
	ck_assert_int_eq(do_reg(reg, "sip:carol@example.net", "c", 1,
		"Contact: <sip:carol@192.0.2.10>\r\n", &udp_src, T0), RP_REG_OK);
	/* TCP: the port is the connection's, only the IP counts; flow kept. */
	make_src(&tcp, RP_TP_TCP, "192.0.2.10", 40001, 77);
	ck_assert_int_eq(do_reg(reg, "sip:dave@example.net", "d", 1,
		"Contact: <sip:dave@192.0.2.10:5060;transport=tcp>\r\n", &tcp, T0), RP_REG_OK);
	/* A name in the Contact cannot be checked: treated as NAT. */
	ck_assert_int_eq(do_reg(reg, "sip:erin@example.net", "e", 1,
		"Contact: <sip:erin@phone.example.net>\r\n", &udp_src, T0), RP_REG_OK);

	l = look("sip:alice@example.net", T0);
	ck_assert(l->v[0].nat);
	ck_assert(rp_addr_eq(&l->v[0].source, &udp_src.addr));
	ck_assert_uint_eq(l->v[0].flow_id, 0);
	rp_reg_list_free(l);
	l = look("sip:bob@example.net", T0);
	ck_assert(l->v[0].nat);
	rp_reg_list_free(l);
	l = look("sip:carol@example.net", T0);
	ck_assert(!l->v[0].nat);
	rp_reg_list_free(l);
	l = look("sip:dave@example.net", T0);
	ck_assert(!l->v[0].nat);
	ck_assert_int_eq(l->v[0].tp, RP_TP_TCP);
	ck_assert_uint_eq(l->v[0].flow_id, 77);
	ck_assert_uint_eq(rp_addr_port(&l->v[0].source), 40001);
	rp_reg_list_free(l);
	l = look("sip:erin@example.net", T0);
	ck_assert(l->v[0].nat);
	rp_reg_list_free(l);
}
END_TEST

START_TEST(path_instance_user_agent)
{
	struct rp_reg_list *l;

	ck_assert_int_eq(alice("c1", 1,
		"Contact: <sip:alice@192.0.2.10:5060;ob>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n"
		"Path: <sip:edge1.example.net;lr>\r\nPath: <sip:edge2.example.net;lr>\r\n"
		"User-Agent: TestPhone/1.0\r\n", T0), RP_REG_OK);
	ck_assert_ptr_nonnull(strstr(hdr, ";+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n"));
	/* Same instance and reg-id from a new address: replaces the binding. */
	ck_assert_int_eq(alice("c2", 1,
		"Contact: <sip:alice@192.0.2.77:5060;ob>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n",
		T0 + 1000), RP_REG_OK);
	ck_assert_uint_eq(info.refreshed, 1);
	ck_assert_uint_eq(info.bindings, 1);
	l = look("sip:alice@example.net", T0 + 1000);
	ck_assert_uint_eq(l->count, 1);
	ck_assert_str_eq(l->v[0].uri, "sip:alice@192.0.2.77:5060;ob");
	ck_assert_str_eq(l->v[0].instance, "\"<urn:uuid:0001>\"");
	ck_assert_uint_eq(l->v[0].reg_id, 1);
	ck_assert_ptr_null(l->v[0].path);
	rp_reg_list_free(l);

	ck_assert_int_eq(alice("c2", 2,
		"Contact: <sip:alice@192.0.2.77:5060;ob>;+sip.instance=\"<urn:uuid:0001>\";reg-id=1\r\n"
		"Path: <sip:edge1.example.net;lr>, <sip:edge2.example.net;lr>\r\n"
		"User-Agent: TestPhone/1.0\r\n", T0 + 2000), RP_REG_OK);
	l = look("sip:alice@example.net", T0 + 2000);
	ck_assert_str_eq(l->v[0].path, "<sip:edge1.example.net;lr>,<sip:edge2.example.net;lr>");
	ck_assert_str_eq(l->v[0].user_agent, "TestPhone/1.0");
	rp_reg_list_free(l);
}
END_TEST

START_TEST(lookup_normalisation)
{
	struct rp_reg_opts o = { .sips_distinct = true };
	rp_registrar *strict;
	struct rp_reg_list *l;
	char aor[128];
	struct sip_uri u;

	ck_assert_int_eq(do_reg(reg, "sip:Alice@EXAMPLE.net:5060;transport=udp", "c", 1,
		"Contact: <sip:alice@192.0.2.10>\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_uint_eq(count("sip:Alice@example.NET", T0), 1);
	ck_assert_uint_eq(count("sip:Alice@example.net:5080;user=phone", T0), 1);
	ck_assert_uint_eq(count("sip:%41lice@example.net", T0), 1);
	ck_assert_uint_eq(count("sips:Alice@example.net", T0), 1);
	/* The user part is case-sensitive. */
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 0);
	ck_assert_uint_eq(count("sip:Alice@example.org", T0), 0);

	ck_assert_int_eq(sip_uri_parse(RP_STR_LIT("sips:Bob@[2001:DB8::1]"), &u, NULL), SIP_OK);
	ck_assert_int_eq(rp_registrar_aor(reg, &u, aor, sizeof(aor)), 21);
	ck_assert_str_eq(aor, "sip:Bob@[2001:db8::1]");
	ck_assert_int_eq(rp_registrar_aor(reg, &u, aor, 8), -ENOSPC);
	ck_assert_int_eq(rp_registrar_lookup_str(reg, RP_STR_LIT("tel:+4930123"), T0, &l),
		-EINVAL);

	ck_assert_int_eq(rp_registrar_new(&o, &strict), 0);
	ck_assert_int_eq(do_reg(strict, "sips:carol@example.net", "c", 1,
		"Contact: <sips:carol@192.0.2.10>\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_int_eq(rp_registrar_lookup_str(strict, RP_STR_LIT("sip:carol@example.net"),
		T0, &l), 0);
	ck_assert_uint_eq(l->count, 0);
	rp_reg_list_free(l);
	ck_assert_int_eq(rp_registrar_lookup_str(strict, RP_STR_LIT("sips:carol@example.net"),
		T0, &l), 0);
	ck_assert_uint_eq(l->count, 1);
	rp_reg_list_free(l);
	rp_registrar_free(strict);
}
END_TEST

START_TEST(authenticated_user_owns_aor)
{
	struct rp_reg_source src = udp_src;

	src.auth_user = RP_STR_LIT("alice");
	ck_assert_int_eq(do_reg(reg, "sip:bob@example.net", "c", 1,
		"Contact: <sip:bob@192.0.2.1>\r\n", &src, T0), RP_REG_FORBIDDEN);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_FORBIDDEN), 403);
	ck_assert_uint_eq(count("sip:bob@example.net", T0), 0);
	ck_assert_int_eq(do_reg(reg, "sip:%61lice@example.net", "c", 1,
		"Contact: <sip:alice@192.0.2.1>\r\n", &src, T0), RP_REG_OK);
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 1);
}
END_TEST

START_TEST(bad_requests)
{
	char buf[512];
	rp_arena a;
	struct sip_msg *m = NULL;
	int n;

	ck_assert_int_eq(do_reg(reg, "tel:+4930123", "c", 1, "Contact: <sip:x@192.0.2.1>\r\n",
		&udp_src, T0), RP_REG_BAD_AOR);
	ck_assert_uint_eq(rp_reg_result_status(RP_REG_BAD_AOR), 416);
	ck_assert_int_eq(alice("c", 1, "Contact: <tel:+4930123>\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c", 1, "Contact: <sip:x@192.0.2.1\r\n", T0), RP_REG_BAD_REQUEST);
	ck_assert_int_eq(alice("c", 1, "Contact: <sip:x@192.0.2.1>;+sip.instance=\"<u>\";"
		"reg-id=x\r\n", T0), RP_REG_BAD_REQUEST);

	/* Not a REGISTER. */
	n = snprintf(buf, sizeof(buf), "OPTIONS sip:example.net SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n"
		"To: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
		"Contact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n");
	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_int_eq(sip_msg_parse(buf, (size_t)n, &a, NULL, &m, NULL), SIP_OK);
	ck_assert_int_eq(rp_registrar_save(reg, m, &udp_src, T0, NULL, 0, NULL),
		RP_REG_BAD_REQUEST);
	rp_arena_fini(&a);

	/* Too many Contact values in one REGISTER. */
	{
		char lines[2048] = "Contact: ";

		for (int i = 0; i < 40; i++) {
			char c[40];

			snprintf(c, sizeof(c), "%s<sip:a@192.0.2.%d>", i ? ", " : "", i + 1);
			strcat(lines, c);
		}
		strcat(lines, "\r\n");
		ck_assert_int_eq(alice("c", 1, lines, T0), RP_REG_TOO_MANY_CONTACTS);
	}
	ck_assert_uint_eq(count("sip:alice@example.net", T0), 0);
}
END_TEST

START_TEST(contact_header_truncation)
{
	char small[60];
	char buf[1024];
	rp_arena a;
	struct sip_msg *m = NULL;
	int n;

	n = snprintf(buf, sizeof(buf), "REGISTER sip:example.net SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n"
		"To: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>\r\nContent-Length: 0\r\n\r\n");
	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_int_eq(sip_msg_parse(buf, (size_t)n, &a, NULL, &m, NULL), SIP_OK);
	ck_assert_int_eq(rp_registrar_save(reg, m, &udp_src, T0, small, sizeof(small), &info),
		RP_REG_OK);
	ck_assert(info.hdr_truncated);
	ck_assert_str_eq(small, "Contact: <sip:a@192.0.2.1>;expires=1800\r\n");
	rp_arena_fini(&a);
}
END_TEST

START_TEST(list_all)
{
	struct rp_reg_list *l;

	ck_assert_int_eq(alice("c1", 1, "Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>\r\n", T0),
		RP_REG_OK);
	ck_assert_int_eq(do_reg(reg, "sip:bob@example.net", "b", 1,
		"Contact: <sip:b@192.0.2.3>;expires=60\r\n", &udp_src, T0), RP_REG_OK);
	ck_assert_int_eq(rp_registrar_list(reg, T0, 0, &l), 0);
	ck_assert_uint_eq(l->count, 3);
	rp_reg_list_free(l);
	/* Expired ones are not listed; 'max' keeps whole AORs. */
	ck_assert_int_eq(rp_registrar_list(reg, T0 + 60000, 0, &l), 0);
	ck_assert_uint_eq(l->count, 2);
	ck_assert_str_eq(l->v[0].aor, "sip:alice@example.net");
	rp_reg_list_free(l);
	ck_assert_int_eq(rp_registrar_list(reg, T0 + 60000, 1, &l), 0);
	ck_assert_uint_eq(l->count, 0);
	rp_reg_list_free(l);
}
END_TEST

#define NTHREADS 8
#define PER_THREAD 100

struct worker_arg {
	int id;
	int ok;
};

static void *reg_thread(void *p)
{
	struct worker_arg *w = p;
	struct rp_reg_source src;
	char lines[256], to[64], cid[32];

	memset(&src, 0, sizeof(src));
	src.tp = RP_TP_UDP;
	rp_addr_parse("192.0.2.10", (uint16_t)(6000 + w->id), &src.addr);
	for (int i = 0; i < PER_THREAD; i++) {
		char buf[1024];
		rp_arena a;
		struct sip_msg *m = NULL;
		struct rp_reg_list *l = NULL;
		int n;

		/* One contact on the shared AOR, one AOR of its own. */
		for (int k = 0; k < 2; k++) {
			if (k == 0)
				snprintf(to, sizeof(to), "sip:shared@example.net");
			else
				snprintf(to, sizeof(to), "sip:u%d_%d@example.net", w->id, i);
			snprintf(cid, sizeof(cid), "t%d-%d", w->id, i);
			snprintf(lines, sizeof(lines), "Contact: <sip:t%d@192.0.2.10:%d>\r\n",
				w->id, 10000 + i);
			n = snprintf(buf, sizeof(buf), "REGISTER sip:example.net SIP/2.0\r\n"
				"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n"
				"From: <%s>;tag=1\r\nTo: <%s>\r\nCall-ID: %s\r\n"
				"CSeq: 1 REGISTER\r\n%sContent-Length: 0\r\n\r\n",
				to, to, cid, lines);
			rp_arena_init(&a, NULL, 0, 0);
			if (sip_msg_parse(buf, (size_t)n, &a, NULL, &m, NULL) == SIP_OK &&
			    rp_registrar_save(reg, m, &src, T0, NULL, 0, NULL) == RP_REG_OK)
				w->ok++;
			rp_arena_fini(&a);
		}
		if (rp_registrar_lookup_str(reg, RP_STR_LIT("sip:shared@example.net"), T0, &l) == 0)
			rp_reg_list_free(l);
		if (i % 25 == 0)
			rp_registrar_sweep(reg, T0);
	}
	return NULL;
}

START_TEST(concurrent_registrations)
{
	struct rp_reg_opts o = { .max_contacts = 1000 };
	pthread_t th[NTHREADS];
	struct worker_arg w[NTHREADS];
	struct rp_reg_stats st;
	struct rp_reg_list *l;

	reg = rp_registrar_free(reg);
	ck_assert_int_eq(rp_registrar_new(&o, &reg), 0);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, reg_thread, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].ok, 2 * PER_THREAD);
	}
	/* No lost update: every contact of the shared AOR is there. */
	ck_assert_uint_eq(count("sip:shared@example.net", T0), NTHREADS * PER_THREAD);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.aors, 1 + NTHREADS * PER_THREAD);
	ck_assert_uint_eq(st.bindings, 2 * NTHREADS * PER_THREAD);
	ck_assert_int_eq(rp_registrar_list(reg, T0, 0, &l), 0);
	ck_assert_uint_eq(l->count, 2 * NTHREADS * PER_THREAD);
	rp_reg_list_free(l);
	ck_assert_uint_eq(rp_registrar_sweep(reg, T0 + 3600 * 1000ull), 2 * NTHREADS * PER_THREAD);
	rp_registrar_stats(reg, &st);
	ck_assert_uint_eq(st.aors, 0);
}
END_TEST

/* Deterministic mutations of a REGISTER: whatever parses is saved, in an
 * exactly-sized heap copy (ASan sees over-reads); afterwards the counters
 * must agree with what a full listing finds. */
static uint32_t lcg(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return *st >> 8;
}

START_TEST(mutated_registers)
{
	static const char base[] = "REGISTER sip:example.net SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.net>;tag=1\r\nTo: <sip:alice@example.net>\r\n"
		"Call-ID: c\r\nCSeq: 1 REGISTER\r\nExpires: 600\r\n"
		"Contact: <sip:a@192.0.2.1:5060>;q=0.5;expires=120, "
		"<sip:b@[2001:db8::1]>;+sip.instance=\"<urn:x>\";reg-id=2\r\n"
		"Path: <sip:edge.example.net;lr>\r\nContent-Length: 0\r\n\r\n";
	static const char alphabet[] = "*,;=<>\"@:0 9q.aZ%";
	const size_t len = sizeof(base) - 1;
	uint32_t st = 777;
	struct rp_reg_stats stats;
	struct rp_reg_list *l;
	unsigned saved = 0;

	for (unsigned i = 0; i < 20000; i++) {
		char *copy = malloc(len);
		size_t pos = 140 + lcg(&st) % (len - 144);
		rp_arena a;
		struct sip_msg *m = NULL;

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, base, len);
		copy[pos] = alphabet[lcg(&st) % (sizeof(alphabet) - 1)];
		if (lcg(&st) % 2)
			copy[140 + lcg(&st) % (len - 144)] = alphabet[lcg(&st) % (sizeof(alphabet) - 1)];
		rp_arena_init(&a, NULL, 0, 0);
		if (sip_msg_parse(copy, len, &a, NULL, &m, NULL) == SIP_OK) {
			enum rp_reg_result r = rp_registrar_save(reg, m, &udp_src,
				T0 + i, hdr, sizeof(hdr), &info);

			ck_assert_int_lt(r, RP_REG__COUNT);
			saved += r == RP_REG_OK;
		}
		rp_arena_fini(&a);
		free(copy);
	}
	ck_assert_uint_gt(saved, 0);
	rp_registrar_stats(reg, &stats);
	ck_assert_int_eq(rp_registrar_list(reg, 0, 0, &l), 0);
	ck_assert_uint_eq(l->count, stats.bindings);
	rp_reg_list_free(l);
}
END_TEST

#ifdef OOM_INJECT
/* Text of every binding of an AOR, to compare states. */
static void snapshot(rp_registrar *r, const char *aor, char *out, size_t outsz)
{
	struct rp_reg_list *l = NULL;
	size_t o = 0;

	ck_assert_int_eq(rp_registrar_lookup_str(r, rp_str_cstr(aor), T0, &l), 0);
	out[0] = '\0';
	for (size_t i = 0; i < l->count; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%s %u %u|", l->v[i].uri,
			l->v[i].cseq, l->v[i].expires_in);
	rp_reg_list_free(l);
}

/* Every allocation of a save may fail: the result is OK or NOMEM, and a
 * NOMEM leaves the table exactly as it was, with no block leaked. */
START_TEST(every_allocation_may_fail)
{
	static const char msg[] = "REGISTER sip:example.net SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.net>;tag=1\r\nTo: <sip:alice@example.net>\r\n"
		"Call-ID: c\r\nCSeq: %u REGISTER\r\nUser-Agent: UA\r\n"
		"Path: <sip:edge.example.net;lr>\r\n"
		"Contact: <sip:a@192.0.2.1>;expires=0, <sip:a@192.0.2.2>;q=0.5, "
		"<sip:new%u@192.0.2.9>;+sip.instance=\"<urn:x%u>\";reg-id=1\r\n"
		"Content-Length: 0\r\n\r\n";
	char before[2048], after[2048], buf[1024];
	long n;
	unsigned cseq = 10;
	void *probe;

	/* Under valgrind our malloc is replaced by valgrind's: nothing to test. */
	oom_armed = true;
	oom_countdown = 0;
	probe = malloc(16);
	oom_armed = false;
	if (probe) {
		free(probe);
		return;
	}

	ck_assert_int_eq(alice("c", 1, "Contact: <sip:a@192.0.2.1>, <sip:a@192.0.2.2>\r\n", T0),
		RP_REG_OK);
	for (n = 0; n < 1000; n++) {
		rp_arena a;
		struct sip_msg *m = NULL;
		enum rp_reg_result res;
		struct rp_reg_list *l = NULL;
		int len, rc;

		/* Each round starts from the same two bindings. */
		ck_assert_int_eq(alice("c", cseq++, "Contact: <sip:a@192.0.2.1>, "
			"<sip:a@192.0.2.2>\r\n", T0), RP_REG_OK);
		for (int k = 0; k < 3 && info.bindings > 2; k++)
			ck_assert_int_eq(alice("c", cseq++, "Contact: *\r\nExpires: 0\r\n", T0),
				RP_REG_OK);
		ck_assert_int_eq(alice("c", cseq++, "Contact: <sip:a@192.0.2.1>, "
			"<sip:a@192.0.2.2>\r\n", T0), RP_REG_OK);
		snapshot(reg, "sip:alice@example.net", before, sizeof(before));
		len = snprintf(buf, sizeof(buf), msg, cseq++, (unsigned)n, (unsigned)n);
		rp_arena_init(&a, NULL, 0, 0);
		ck_assert_int_eq(sip_msg_parse(buf, (size_t)len, &a, NULL, &m, NULL), SIP_OK);
		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		res = rp_registrar_save(reg, m, &udp_src, T0, hdr, sizeof(hdr), &info);
		oom_armed = false;
		rp_arena_fini(&a);
		if (res == RP_REG_NOMEM) {
			ck_assert_msg(oom_live == 0, "failing allocation %ld: %ld blocks leaked", n, oom_live);
			snapshot(reg, "sip:alice@example.net", after, sizeof(after));
			ck_assert_str_eq(before, after);
		} else {
			ck_assert_int_eq(res, RP_REG_OK);
			ck_assert_uint_eq(info.bindings, 2); /* one removed, one refreshed, one added */
		}
		/* The lookup too: 0 or -ENOMEM, nothing leaked. */
		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		rc = rp_registrar_lookup_str(reg, RP_STR_LIT("sip:alice@example.net"), T0, &l);
		if (rc == 0)
			rp_reg_list_free(l);
		oom_armed = false;
		ck_assert(rc == 0 || rc == -ENOMEM);
		ck_assert_int_eq(oom_live, 0);
		if (res == RP_REG_OK && rc == 0 && oom_countdown >= 0)
			break;
	}
	ck_assert_int_ge(n, 5);
	ck_assert_int_lt(n, 1000);

	/* The constructor: 0 or -ENOMEM, and nothing left behind. */
	for (n = 0; n < 1000; n++) {
		rp_registrar *x = NULL;
		int rc;

		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		rc = rp_registrar_new(NULL, &x);
		if (rc == 0)
			rp_registrar_free(x);
		oom_armed = false;
		ck_assert_int_eq(oom_live, 0);
		if (rc == 0)
			break;
		ck_assert_int_eq(rc, -ENOMEM);
		ck_assert_ptr_null(x);
	}
	ck_assert_int_gt(n, 64); /* one table per shard at least */
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_registrar");
	TCase *tc = tcase_create("registrar");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_refresh_remove);
	tcase_add_test(tc, star_removes_all);
	tcase_add_test(tc, expires_handling);
	tcase_add_test(tc, cseq_ordering);
	tcase_add_test(tc, q_and_recency_order);
	tcase_add_test(tc, contact_limits);
	tcase_add_test(tc, expiry_sweep);
	tcase_add_test(tc, nat_and_flows);
	tcase_add_test(tc, path_instance_user_agent);
	tcase_add_test(tc, lookup_normalisation);
	tcase_add_test(tc, authenticated_user_owns_aor);
	tcase_add_test(tc, bad_requests);
	tcase_add_test(tc, contact_header_truncation);
	tcase_add_test(tc, list_all);
	tcase_add_test(tc, concurrent_registrations);
	tcase_add_test(tc, mutated_registers);
#ifdef OOM_INJECT
	tcase_add_test(tc, every_allocation_may_fail);
#endif
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
