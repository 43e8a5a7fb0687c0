/* sip_msg and sip_hdr: message framing, eager fields, header lookup and
 * compact forms, standalone header parsers, iterators, hostile input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_edit.h"
#include "sip_msg.h"

#define INVITE \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKnashds8;rport\r\n" \
	"Via: SIP/2.0/UDP [2001:db8::5];branch=z9hG4bK77ef4c;received=2001:db8::9;rport=5066\r\n" \
	"Max-Forwards: 70\r\n" \
	"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n" \
	"Record-Route: <sip:rr.example.com;lr>\r\n" \
	"From: \"Alice, A.\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n" \
	"To: Bob <sip:bob@biloxi.example.com>\r\n" \
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" \
	"CSeq: 314159 INVITE\r\n" \
	"Contact: <sip:alice@pc33.atlanta.example.com>;expires=3600\r\n" \
	"Content-Type: application/sdp\r\n" \
	"Content-Length: 4\r\n" \
	"\r\n" \
	"v=0\n"

struct ctx {
	rp_arena a;
	char store[16384];
	char *copy;
};

static enum sip_err parse_opts(struct ctx *c, const char *buf, size_t len,
			       const struct sip_parse_opts *o, struct sip_msg **m,
			       struct sip_perr *e)
{
	rp_arena_init(&c->a, c->store, sizeof(c->store), 1 << 24);
	/* Exact-size heap copy so ASan flags any read past 'len'. */
	c->copy = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(c->copy);
	memcpy(c->copy, buf, len);
	return sip_msg_parse(c->copy, len, &c->a, o, m, e);
}

static enum sip_err parse(struct ctx *c, const char *s, struct sip_msg **m,
			  struct sip_perr *e)
{
	return parse_opts(c, s, strlen(s), NULL, m, e);
}

static void fin(struct ctx *c)
{
	rp_arena_fini(&c->a);
	free(c->copy);
	c->copy = NULL;
}

static bool eq(rp_str s, const char *c)
{
	return rp_str_eq_cstr(s, c);
}

/* lazy_resp_addr_uri: a response's From/To URIs are delimited, not parsed;
 * parsed on demand they equal the eager result; a bad one is found then;
 * requests are parsed in full whatever the option. */
START_TEST(lazy_response_addr_uri)
{
	static const char ok[] =
		"SIP/2.0 180 Ringing\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: \"A\" <sip:alice@example.com;x=1>;tag=fa\r\n"
		"To: sip:bob@example.com;tag=tb\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	static const char bad[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@exa mple..com>;tag=fa\r\n"
		"To: <sip:bob@example.com>;tag=tb\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	static const char badreq[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@exa mple..com>;tag=fa\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_parse_opts lazy = { .lazy_resp_addr_uri = true };
	struct ctx c, c2;
	struct sip_msg *m, *m2;
	struct sip_perr e;

	ck_assert_int_eq(parse_opts(&c, ok, strlen(ok), &lazy, &m, &e), SIP_OK);
	ck_assert(!m->from.uri_parsed && !m->to.uri_parsed);
	ck_assert(eq(m->from.tag, "fa") && eq(m->to.tag, "tb"));
	ck_assert(eq(m->from.uri_str, "sip:alice@example.com;x=1"));
	ck_assert(eq(m->to.uri_str, "sip:bob@example.com"));
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->from, &e), SIP_OK);
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->to, &e), SIP_OK);
	ck_assert_int_eq(parse(&c2, ok, &m2, &e), SIP_OK);
	ck_assert(m2->from.uri_parsed);
	ck_assert(eq(m->from.uri.host, "example.com") && eq(m->from.uri.user, "alice"));
	ck_assert(rp_str_eq(m->from.uri.host, m2->from.uri.host));
	ck_assert(rp_str_eq(m->from.uri.params, m2->from.uri.params));
	ck_assert(rp_str_eq(m->to.uri.user, m2->to.uri.user));
	fin(&c2);
	fin(&c);

	ck_assert_int_eq(parse(&c, bad, &m, &e), SIP_E_BAD_URI);
	fin(&c);
	ck_assert_int_eq(parse_opts(&c, bad, strlen(bad), &lazy, &m, &e), SIP_OK);
	ck_assert(eq(m->from.tag, "fa"));
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->from, &e), SIP_E_BAD_URI);
	ck_assert(!m->from.uri_parsed);
	fin(&c);

	ck_assert_int_eq(parse_opts(&c, badreq, strlen(badreq), &lazy, &m, &e), SIP_E_BAD_URI);
	fin(&c);
}
END_TEST

/* lazy_req_addr_uri: the same for requests (and only for them); the
 * Request-URI and the top Via are parsed as before. */
START_TEST(lazy_request_addr_uri)
{
	static const char ok[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: \"A\" <sip:alice@example.com;x=1>;tag=fa\r\n"
		"To: sip:bob@example.com\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char badfrom[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@exa mple..com>;tag=fa\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char badruri[] =
		"INVITE sip:bob@127.0.0.1:999999 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.com>;tag=fa\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char badname[] =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.com;tag=fa\r\n"
		"To: <sip:bob@example.com>\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char resp[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:alice@example.com>;tag=fa\r\n"
		"To: <sip:bob@example.com>;tag=tb\r\n"
		"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	struct sip_parse_opts lazy = { .lazy_req_addr_uri = true };
	struct ctx c, c2;
	struct sip_msg *m, *m2;
	struct sip_perr e;

	ck_assert_int_eq(parse_opts(&c, ok, strlen(ok), &lazy, &m, &e), SIP_OK);
	ck_assert(!m->from.uri_parsed && !m->to.uri_parsed);
	ck_assert(eq(m->from.tag, "fa") && !m->to.has_tag);
	ck_assert(eq(m->from.uri_str, "sip:alice@example.com;x=1"));
	ck_assert(eq(m->ruri.host, "example.com") && eq(m->via.branch, "z9hG4bK1"));
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->from, &e), SIP_OK);
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->to, &e), SIP_OK);
	ck_assert_int_eq(parse(&c2, ok, &m2, &e), SIP_OK);
	ck_assert(rp_str_eq(m->from.uri.host, m2->from.uri.host));
	ck_assert(rp_str_eq(m->from.uri.params, m2->from.uri.params));
	ck_assert(rp_str_eq(m->to.uri.user, m2->to.uri.user));
	fin(&c2);
	fin(&c);

	/* A bad From URI: found on demand, not by the parse. */
	ck_assert_int_eq(parse_opts(&c, badfrom, strlen(badfrom), &lazy, &m, &e), SIP_OK);
	ck_assert_int_eq(sip_nameaddr_parse_uri(&m->from, &e), SIP_E_BAD_URI);
	fin(&c);
	/* The Request-URI and the name-addr's shape are still checked. */
	ck_assert_int_eq(parse_opts(&c, badruri, strlen(badruri), &lazy, &m, &e), SIP_E_BAD_URI);
	fin(&c);
	ck_assert_int_eq(parse_opts(&c, badname, strlen(badname), &lazy, &m, &e),
		SIP_E_BAD_NAME_ADDR);
	fin(&c);
	/* Responses are not affected by the request option. */
	ck_assert_int_eq(parse_opts(&c, resp, strlen(resp), &lazy, &m, &e), SIP_OK);
	ck_assert(m->from.uri_parsed && m->to.uri_parsed);
	fin(&c);
}
END_TEST

START_TEST(typical_invite)
{
	struct ctx c;
	struct sip_msg *m;
	struct sip_perr e;

	ck_assert_int_eq(parse(&c, INVITE, &m, &e), SIP_OK);
	ck_assert(m->is_request);
	ck_assert_int_eq(m->method, SIP_METHOD_INVITE);
	ck_assert(eq(m->ruri_str, "sip:bob@biloxi.example.com"));
	ck_assert(eq(m->ruri.user, "bob"));
	ck_assert(eq(m->version, "SIP/2.0"));
	ck_assert_uint_eq(m->nhdrs, 12);
	ck_assert(eq(m->via.host, "192.0.2.10"));
	ck_assert_uint_eq(m->via.port, 5061);
	ck_assert_int_eq(m->via.transport, SIP_TP_TLS);
	ck_assert(eq(m->via.branch, "z9hG4bKnashds8"));
	ck_assert(sip_via_branch_is_rfc3261(&m->via));
	ck_assert(eq(m->from.display, "\"Alice, A.\""));
	ck_assert(eq(m->from.tag, "1928301774"));
	ck_assert(!m->to.has_tag);
	ck_assert(eq(m->to.display, "Bob"));
	ck_assert(eq(m->call_id, "a84b4c76e66710@pc33.atlanta.example.com"));
	ck_assert_uint_eq(m->cseq.num, 314159);
	ck_assert_int_eq(m->max_forwards, 70);
	ck_assert_uint_eq(m->content_length, 4);
	ck_assert(eq(m->body, "v=0\n"));
	ck_assert_uint_eq(m->len, strlen(INVITE));
	ck_assert_ptr_eq(m->h_via, &m->hdrs[0]);
	ck_assert_ptr_eq(m->h_route, &m->hdrs[3]);
	ck_assert_ptr_eq(m->h_record_route, &m->hdrs[4]);
	ck_assert_ptr_eq(m->h_contact, &m->hdrs[9]);
	ck_assert(eq(m->h_content_type->value, "application/sdp"));
	ck_assert(eq(m->hdrs[2].raw, "Max-Forwards: 70\r\n"));
	ck_assert(eq(m->hdrs[2].name, "Max-Forwards"));
	/* A typical message parses with no heap allocation at all. */
	ck_assert_uint_eq(c.a.heap_bytes, 0);
	fin(&c);
}
END_TEST

START_TEST(iterators)
{
	struct ctx c;
	struct sip_msg *m;
	struct sip_hdr_iter it;
	struct sip_via v;
	struct sip_nameaddr na;
	rp_str val;

	ck_assert_int_eq(parse(&c, INVITE, &m, NULL), SIP_OK);
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert_int_eq(v.host_type, SIP_HOST_IPV6);
	ck_assert(eq(v.host, "2001:db8::5"));
	ck_assert(eq(v.received, "2001:db8::9"));
	ck_assert_int_eq(v.rport, 5066);
	ck_assert_uint_eq(it.cur, 1);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_E__COUNT);
	sip_hdr_iter_init(&it, m, SIP_HDR_ROUTE);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(eq(na.uri.host, "p1.example.com"));
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(eq(na.uri.host, "p2.example.com"));
	ck_assert(na.uri.lr);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_E__COUNT);
	sip_hdr_iter_init_name(&it, m, RP_STR_LIT("call-id"));
	ck_assert(sip_hdr_iter_next(&it, &val));
	ck_assert(eq(val, "a84b4c76e66710@pc33.atlanta.example.com"));
	ck_assert(!sip_hdr_iter_next(&it, &val));
	ck_assert_int_eq(sip_msg_find(m, SIP_HDR_SUBJECT, 0), -1);
	ck_assert_int_eq(sip_msg_find_name(m, RP_STR_LIT("i"), 0), 7);
	fin(&c);
}
END_TEST

START_TEST(header_table)
{
	char up[64];

	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const char *n = sip_hdr_name(id);
		size_t len = strlen(n);

		ck_assert_uint_gt(len, 0);
		ck_assert_int_eq(sip_hdr_lookup(rp_str_cstr(n)), id);
		for (size_t i = 0; i <= len; i++)
			up[i] = (char)((n[i] >= 'a' && n[i] <= 'z') ? n[i] - 32 : n[i]);
		ck_assert_int_eq(sip_hdr_lookup(rp_str_make(up, len)), id);
		if (sip_hdr_compact(id)) {
			char cc = sip_hdr_compact(id), cu = (char)(cc - 32);

			ck_assert_int_eq(sip_hdr_lookup(rp_str_make(&cc, 1)), id);
			ck_assert_int_eq(sip_hdr_lookup(rp_str_make(&cu, 1)), id);
		}
	}
	ck_assert_int_eq(sip_hdr_lookup(RP_STR_LIT("X-Custom")), SIP_HDR_OTHER);
	ck_assert_int_eq(sip_hdr_lookup(RP_STR_LIT("Vias")), SIP_HDR_OTHER);
	ck_assert_int_eq(sip_hdr_lookup(RP_STR_LIT("q")), SIP_HDR_OTHER);
	ck_assert_int_eq(sip_hdr_lookup(RP_STR_LIT("")), SIP_HDR_OTHER);
	ck_assert(sip_hdr_is_list(SIP_HDR_VIA));
	ck_assert(sip_hdr_is_list(SIP_HDR_RECORD_ROUTE));
	ck_assert(!sip_hdr_is_list(SIP_HDR_AUTHORIZATION));
	ck_assert(!sip_hdr_is_list(SIP_HDR_OTHER));
}
END_TEST

START_TEST(compact_forms)
{
	static const struct { char c; enum sip_hdr_id id; const char *val; } cf[] = {
		{ 'i', SIP_HDR_CALL_ID, "cf@host" },
		{ 'm', SIP_HDR_CONTACT, "<sip:a@b.c>" },
		{ 'e', SIP_HDR_CONTENT_ENCODING, "gzip" },
		{ 'l', SIP_HDR_CONTENT_LENGTH, "0" },
		{ 'c', SIP_HDR_CONTENT_TYPE, "text/plain" },
		{ 'f', SIP_HDR_FROM, "<sip:f@b.c>;tag=1" },
		{ 's', SIP_HDR_SUBJECT, "hi" },
		{ 'k', SIP_HDR_SUPPORTED, "timer" },
		{ 't', SIP_HDR_TO, "<sip:t@b.c>" },
		{ 'v', SIP_HDR_VIA, "SIP/2.0/UDP h.b.c;branch=z9hG4bK1" },
		{ 'o', SIP_HDR_EVENT, "presence" },
		{ 'u', SIP_HDR_ALLOW_EVENTS, "dialog" },
		{ 'r', SIP_HDR_REFER_TO, "<sip:r@b.c>" },
		{ 'b', SIP_HDR_REFERRED_BY, "<sip:b@b.c>" },
		{ 'x', SIP_HDR_SESSION_EXPIRES, "1800" },
		{ 'y', SIP_HDR_IDENTITY, "abc" },
		{ 'a', SIP_HDR_ACCEPT_CONTACT, "*;audio" },
		{ 'j', SIP_HDR_REJECT_CONTACT, "*;video" },
		{ 'd', SIP_HDR_REQUEST_DISPOSITION, "proxy" },
		{ 'n', SIP_HDR_IDENTITY_INFO, "<https://x.y/c>" },
	};
	char buf[2048];
	size_t n = 0;
	struct ctx c;
	struct sip_msg *m;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "MESSAGE sip:x@b.c SIP/2.0\r\n"
			      "CSeq: 1 MESSAGE\r\n");
	for (size_t i = 0; i < sizeof(cf) / sizeof(cf[0]); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%c: %s\r\n",
				      i % 2 ? cf[i].c - 32 : cf[i].c, cf[i].val);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	ck_assert_int_eq(parse(&c, buf, &m, NULL), SIP_OK);
	ck_assert_uint_eq(m->nhdrs, 1 + sizeof(cf) / sizeof(cf[0]));
	for (size_t i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) {
		ck_assert_int_eq(m->hdrs[i + 1].id, cf[i].id);
		ck_assert(eq(m->hdrs[i + 1].value, cf[i].val));
	}
	ck_assert(eq(m->call_id, "cf@host"));
	ck_assert(eq(m->from.tag, "1"));
	ck_assert(eq(m->via.host, "h.b.c"));
	fin(&c);
}
END_TEST

START_TEST(folding_and_lf)
{
	struct ctx c;
	struct sip_msg *m;
	const char *s = "\r\n\r\nOPTIONS sip:a.b SIP/2.0\n"
			"Via: SIP/2.0/UDP\n h.b;\n\tbranch=z9hG4bKx\n"
			"From:\n <sip:f@b>\n ;tag=9\n"
			"To: <sip:t@b>\n"
			"Call-ID: x\n"
			"CSeq: 1\n OPTIONS\n"
			"X-Long: a\r\n  b\r\n\tc\n"
			"\n";

	/* Leading CRLFs are skipped; bare LF lines are accepted; folded
	 * values keep their line breaks inside the slice. */
	ck_assert_int_eq(parse(&c, s, &m, NULL), SIP_OK);
	ck_assert_ptr_eq(m->buf, c.copy + 4);
	ck_assert(eq(m->via.branch, "z9hG4bKx"));
	ck_assert(eq(m->from.tag, "9"));
	ck_assert_uint_eq(m->cseq.num, 1);
	ck_assert(eq(m->hdrs[5].value, "a\r\n  b\r\n\tc"));
	ck_assert_uint_eq(m->body.n, 0);
	ck_assert(!m->has_content_length);
	ck_assert_int_eq(m->max_forwards, -1);
	fin(&c);
}
END_TEST

START_TEST(list_split)
{
	rp_str it = RP_STR_LIT(" \"a, b\" <sip:x@y;p=\"q\">;x=\"1,2\" ,<sip:z@w?h=1,2>,, last ");
	rp_str e;
	const char *want[] = { "\"a, b\" <sip:x@y;p=\"q\">;x=\"1,2\"", "<sip:z@w?h=1,2>", "",
			       "last" };
	size_t n = 0;

	while (sip_hdr_list_next(&it, &e)) {
		ck_assert_uint_lt(n, 4);
		ck_assert_msg(eq(e, want[n]), "elem %zu: '%.*s'", n, RP_STR_FMT(e));
		n++;
	}
	ck_assert_uint_eq(n, 4);
	it = RP_STR_LIT("\"esc\\\",aped\", b");
	ck_assert(sip_hdr_list_next(&it, &e));
	ck_assert(eq(e, "\"esc\\\",aped\""));
}
END_TEST

START_TEST(via_standalone)
{
	struct sip_via v;
	struct sip_perr e;

	ck_assert_int_eq(sip_via_parse(RP_STR_LIT("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56;rport=0;ttl=0;maddr=239.1.1.1;x"),
				       &v, NULL), SIP_OK);
	ck_assert_int_eq(v.transport, SIP_TP_WSS);
	ck_assert_int_eq(v.rport, 0);
	ck_assert_int_eq(v.ttl, 0);
	ck_assert(eq(v.maddr, "239.1.1.1"));
	ck_assert(sip_hdr_param_find(v.params, "x", NULL));
	ck_assert_int_eq(sip_via_parse(RP_STR_LIT("SIP/2.0/WS h : 80 ; branch = z9hG4bK1"), &v, NULL), SIP_OK);
	ck_assert_int_eq(v.transport, SIP_TP_WS);
	ck_assert_uint_eq(v.port, 80);
	ck_assert(eq(v.branch, "z9hG4bK1"));
	ck_assert_int_eq(sip_via_parse(RP_STR_LIT("SIP/2.0/SCTP [::1]:5060"), &v, NULL), SIP_OK);
	ck_assert(eq(v.host, "::1"));

	static const struct { const char *s; size_t off; } bad[] = {
		{ "SIP/2.0 h", 8 }, { "SIP/2.0/UDP", 11 }, { "SIP/2.0/UDPh", 12 },
		{ "SIP/2.0/UDP h;", 13 }, { "SIP/2.0/UDP h;branch", 13 },
		{ "SIP/2.0/UDP h;rport=x", 13 }, { "SIP/2.0/UDP h;ttl=256", 13 },
		{ "SIP/2.0/UDP h:99999", 14 }, { "SIP/2.0/UDP h;received=a.b", 13 },
		{ "SIP/2.0/UDP h x", 14 }, { "SIP/2.0/UDP [::1", 12 }, { "", 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(sip_via_parse(rp_str_cstr(bad[i].s), &v, &e) == SIP_E_BAD_VIA,
			      "%s", bad[i].s);
		ck_assert_msg(e.off == bad[i].off, "%s: off %zu", bad[i].s, e.off);
	}
}
END_TEST

START_TEST(nameaddr_standalone)
{
	struct sip_nameaddr na;
	struct sip_perr e;

	ck_assert_int_eq(sip_nameaddr_parse(RP_STR_LIT(" * "), &na, NULL), SIP_OK);
	ck_assert(na.star);
	ck_assert_int_eq(sip_nameaddr_parse(RP_STR_LIT("A B C <sips:x@[::1]:5061>;tag=a;q=0.5"),
					    &na, NULL), SIP_OK);
	ck_assert(eq(na.display, "A B C"));
	ck_assert_int_eq(na.uri.scheme, SIP_SCHEME_SIPS);
	ck_assert(eq(na.tag, "a"));
	ck_assert_int_eq(sip_nameaddr_parse(RP_STR_LIT("<tel:+123>"), &na, NULL), SIP_OK);
	ck_assert_int_eq(na.uri.scheme, SIP_SCHEME_TEL);
	ck_assert_int_eq(sip_nameaddr_parse(RP_STR_LIT("\"\" <sip:a@b>"), &na, NULL), SIP_OK);
	ck_assert(eq(na.display, "\"\""));
	ck_assert_int_eq(sip_nameaddr_parse(RP_STR_LIT("\"\xc3\xa9t\xc3\xa9\" <sip:a@b>"), &na, NULL), SIP_OK);

	static const struct { const char *s; enum sip_err code; size_t off; } bad[] = {
		{ "\"open <sip:a@b>", SIP_E_BAD_NAME_ADDR, 0 },
		{ "<sip:a@b", SIP_E_BAD_NAME_ADDR, 0 },
		{ "< sip:a@b>", SIP_E_BAD_URI, 1 },
		{ "<sip:a@b >", SIP_E_BAD_URI, 8 },
		{ "sip:a@b;tag", SIP_E_BAD_NAME_ADDR, 7 },
		{ "sip:a@b;tag=1;tag=2", SIP_E_BAD_NAME_ADDR, 13 },
		{ "<sip:a@b> junk", SIP_E_BAD_NAME_ADDR, 10 },
		{ "a,b <sip:a@b>", SIP_E_BAD_NAME_ADDR, 1 },
		{ "sip:a@b?x=y", SIP_E_BAD_NAME_ADDR, 7 },
		{ "\"ctl\x01\" <sip:a@b>", SIP_E_BAD_NAME_ADDR, 0 },
		{ "", SIP_E_BAD_NAME_ADDR, 0 },
		{ "* ;x", SIP_E_BAD_NAME_ADDR, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(sip_nameaddr_parse(rp_str_cstr(bad[i].s), &na, &e) == bad[i].code,
			      "%s", bad[i].s);
		ck_assert_msg(e.off == bad[i].off, "%s: off %zu", bad[i].s, e.off);
	}
}
END_TEST

START_TEST(scalars_standalone)
{
	struct sip_cseq cs;
	uint32_t v;
	rp_str cid;

	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("2147483647 ACK"), &cs, NULL), SIP_OK);
	ck_assert_uint_eq(cs.num, 2147483647u);
	ck_assert_int_eq(cs.method, SIP_METHOD_ACK);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("0 X"), &cs, NULL), SIP_OK);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("2147483648 ACK"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("1ACK"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("1"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("-1 ACK"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("1 ACK x"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_cseq_parse(RP_STR_LIT("1 A,CK"), &cs, NULL), SIP_E_BAD_CSEQ);
	ck_assert_int_eq(sip_max_forwards_parse(RP_STR_LIT(" 255 "), &v, NULL), SIP_OK);
	ck_assert_uint_eq(v, 255);
	ck_assert_int_eq(sip_max_forwards_parse(RP_STR_LIT("256"), &v, NULL), SIP_E_BAD_MAX_FORWARDS);
	ck_assert_int_eq(sip_max_forwards_parse(RP_STR_LIT(""), &v, NULL), SIP_E_BAD_MAX_FORWARDS);
	ck_assert_int_eq(sip_content_length_parse(RP_STR_LIT("4294967295"), &v, NULL), SIP_OK);
	ck_assert_int_eq(sip_content_length_parse(RP_STR_LIT("4294967296"), &v, NULL),
			 SIP_E_BAD_CONTENT_LENGTH);
	ck_assert_int_eq(sip_content_length_parse(RP_STR_LIT("five"), &v, NULL),
			 SIP_E_BAD_CONTENT_LENGTH);
	ck_assert_int_eq(sip_call_id_parse(RP_STR_LIT(" a@b "), &cid, NULL), SIP_OK);
	ck_assert(eq(cid, "a@b"));
	ck_assert_int_eq(sip_call_id_parse(RP_STR_LIT("a@b@c"), &cid, NULL), SIP_E_BAD_CALL_ID);
	ck_assert_int_eq(sip_call_id_parse(RP_STR_LIT("a b"), &cid, NULL), SIP_E_BAD_CALL_ID);
	ck_assert_int_eq(sip_call_id_parse(RP_STR_LIT("@b"), &cid, NULL), SIP_E_BAD_CALL_ID);
	ck_assert_int_eq(sip_method_from_str(RP_STR_LIT("invite")), SIP_METHOD_UNKNOWN);
	for (int mth = 1; mth <= SIP_METHOD_UPDATE; mth++)
		ck_assert_int_eq(sip_method_from_str(rp_str_cstr(sip_method_name(mth))), mth);
	ck_assert_str_eq(sip_err_reason(SIP_E_BAD_CSEQ), "Bad CSeq");
	ck_assert_str_eq(sip_err_name(SIP_E_TOO_MANY_HEADERS), "SIP_E_TOO_MANY_HEADERS");
	ck_assert_str_eq(sip_err_reason((enum sip_err)999), "Bad Request");
}
END_TEST

/* Replaces the first occurrence of 'from' in INVITE with 'to'. */
static char *variant(const char *from, const char *to)
{
	static char out[4096];
	const char *p = strstr(INVITE, from);

	ck_assert_ptr_nonnull(p);
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - INVITE), INVITE, to, p + strlen(from));
	return out;
}

static void expect(const char *msg, enum sip_err code, const char *at)
{
	struct ctx c;
	struct sip_msg *m;
	struct sip_perr e;

	ck_assert_msg(parse(&c, msg, &m, &e) == code, "want %s got %s", sip_err_name(code),
		      sip_err_name(e.code));
	ck_assert_int_eq(e.code, code);
	if (at)
		ck_assert_msg(strncmp(msg + e.off, at, strlen(at)) == 0, "%s at %zu: '%.10s'",
			      sip_err_name(code), e.off, msg + e.off);
	fin(&c);
}

START_TEST(hostile)
{
	expect(variant("CSeq: 314159 INVITE", "CSeq: 314159 BYE"), SIP_E_CSEQ_MISMATCH, "CSeq:");
	expect(variant("CSeq: 314159", "CSeq: 99999999999"), SIP_E_BAD_CSEQ, "99999");
	expect(variant("CSeq: 314159 INVITE", "CSeq: INVITE"), SIP_E_BAD_CSEQ, "INVITE\r");
	expect(variant("SIP/2.0\r\n", "SIP/2.1\r\n"), SIP_E_BAD_VERSION, "SIP/2.1");
	expect(variant("SIP/2.0\r\n", "HTTP/1.1\r\n"), SIP_E_BAD_REQUEST_LINE, "HTTP");
	expect(variant("INVITE sip", "INV@TE sip"), SIP_E_BAD_METHOD, "INV@");
	expect(variant("Max-Forwards: 70", "Max-Forwards: 700"), SIP_E_BAD_MAX_FORWARDS, "700");
	expect(variant("Max-Forwards: 70", "Max Forwards: 70"), SIP_E_BAD_HEADER, " Forwards");
	expect(variant("Max-Forwards: 70", "Max-Forwards 70"), SIP_E_BAD_HEADER, " 70");
	expect(variant("Max-Forwards: 70", ": 70"), SIP_E_BAD_HEADER, ": 70");
	expect(variant("Call-ID: a84b", "Call-ID: a\x01" "84b"), SIP_E_BAD_CALL_ID, "\x01");
	expect(variant("To: Bob", "To: <sip:b@c>\r\nTo: Bob"), SIP_E_DUP_HEADER, "To: Bob <");
	expect(variant("From: ", "From: <sip:x@y>\r\nf: "), SIP_E_DUP_HEADER, "f: ");
	expect(variant("Call-ID: a84b", "i: x\r\nCall-ID: a84b"), SIP_E_DUP_HEADER, "Call-ID");
	expect(variant("CSeq: 314159 INVITE", "CSeq: 1 INVITE\r\nCSeq: 1 INVITE"),
	       SIP_E_DUP_HEADER, "CSeq: 1 INVITE\r\n\x43ontact");
	expect(variant("Content-Length: 4", "Content-Length: 5"), SIP_E_CLEN_MISMATCH, "5\r\n");
	expect(variant("Content-Length: 4", "Content-Length: 4x"), SIP_E_BAD_CONTENT_LENGTH, "4x");
	expect(variant("Content-Length: 4", "l: 4\r\nContent-Length: 4"), SIP_E_DUP_HEADER,
	       "Content-Length: 4");
	expect(variant("Via: SIP/2.0/TLS", "Via: SIP/2.0/TLS/X"), SIP_E_BAD_VIA, "/X");
	expect(variant("Via: SIP/2.0/TLS", "  Via: SIP/2.0/TLS"), SIP_E_BAD_HEADER, "  Via");
	/* Bare CR inside a field: refused where it stands (header smuggling). */
	expect(variant("Max-Forwards: 70", "Max-Forwards: 70\r\nX-A: a\rInjected: 1"),
	       SIP_E_BAD_HEADER, "\rInjected");
	expect(variant("Via: SIP/2.0/TLS", "Via: SIP/2.0\r/TLS"), SIP_E_BAD_HEADER, "\r/TLS");
	expect(variant("Max-Forwards: 70", "Max-Forwards: 70\r"), SIP_E_BAD_HEADER, "\r\r\n");
	expect(variant("sip:bob@biloxi.example.com SIP", "sip:bob@@biloxi SIP"), SIP_E_BAD_URI,
	       "@biloxi SIP");
	expect(variant("\r\n\r\nv=0", "\r\nv=0"), SIP_E_BAD_HEADER, "=0");
	/* Missing mandatory headers: reported at the end of the headers. */
	expect(variant("To: Bob <sip:bob@biloxi.example.com>\r\n", ""), SIP_E_MISSING_HEADER,
	       "\r\nv=0");
	expect(variant("From: \"Alice, A.\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n", ""),
	       SIP_E_MISSING_HEADER, "\r\nv=0");
	expect(variant("Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", ""),
	       SIP_E_MISSING_HEADER, NULL);
	expect(variant("CSeq: 314159 INVITE\r\n", ""), SIP_E_MISSING_HEADER, NULL);
	{
		char *v = variant("Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKnashds8;rport\r\n", "");
		char *v2 = strdup(v);
		char *p = strstr(v2, "Via:");

		/* drop the second Via line too */
		memmove(p, strstr(p, "\r\n") + 2, strlen(strstr(p, "\r\n") + 2) + 1);
		expect(v2, SIP_E_MISSING_HEADER, NULL);
		free(v2);
	}
	/* Responses: status code must be 3 digits, 100-699 range start. */
	expect("SIP/2.0 99 Low\r\n", SIP_E_BAD_STATUS_LINE, "99");
	expect("SIP/2.0 2000 OK\r\n", SIP_E_BAD_STATUS_LINE, "0 OK");
	expect("SIP/2.0 200OK\r\n", SIP_E_BAD_STATUS_LINE, "OK");
	expect("SIP/2.0 200 O\x01K\r\n", SIP_E_BAD_STATUS_LINE, "\x01");
	expect("SIP/2.0\r\n", SIP_E_BAD_STATUS_LINE, "\r\n");
	expect("SIP/3.0 200 OK\r\n", SIP_E_BAD_VERSION, "SIP/3.0");
	expect("", SIP_E_TRUNCATED, NULL);
	expect("\r\n\r\n", SIP_E_TRUNCATED, NULL);
	expect("OPTIONS sip:a.b SIP/2.0", SIP_E_TRUNCATED, NULL);
}
END_TEST

START_TEST(nul_bytes)
{
	char buf[1024];
	size_t n = strlen(INVITE);
	struct ctx c;
	struct sip_msg *m;
	struct sip_perr e;
	size_t at;

	memcpy(buf, INVITE, n);
	at = (size_t)(strstr(INVITE, "Record-Route: <sip:rr") - INVITE) + 20;
	buf[at] = 0;
	ck_assert_int_eq(parse_opts(&c, buf, n, NULL, &m, &e), SIP_E_NUL_BYTE);
	ck_assert_uint_eq(e.off, at);
	fin(&c);
	memcpy(buf, INVITE, n);
	buf[3] = 0;
	ck_assert_int_eq(parse_opts(&c, buf, n, NULL, &m, &e), SIP_E_NUL_BYTE);
	ck_assert_uint_eq(e.off, 3);
	fin(&c);
	/* A NUL inside the body is data, not an error. */
	memcpy(buf, INVITE, n);
	buf[n - 2] = 0;
	ck_assert_int_eq(parse_opts(&c, buf, n, NULL, &m, &e), SIP_OK);
	ck_assert_int_eq(m->body.p[2], 0);
	fin(&c);
}
END_TEST

START_TEST(clen_datagram_truncates)
{
	struct ctx c;
	struct sip_msg *m;

	/* Smaller Content-Length: the body is cut to it (RFC 3261 §18.3). */
	ck_assert_int_eq(parse(&c, variant("Content-Length: 4", "Content-Length: 2"), &m, NULL),
			 SIP_OK);
	ck_assert(eq(m->body, "v="));
	ck_assert_uint_eq(m->len, strlen(INVITE) - 2);
	fin(&c);
	/* Every proper prefix of a message is rejected, never over-read. */
	for (size_t n = 0; n < strlen(INVITE); n++) {
		struct sip_perr e;

		ck_assert_int_ne(parse_opts(&c, INVITE, n, NULL, &m, &e), SIP_OK);
		ck_assert(e.code == SIP_E_TRUNCATED || e.code == SIP_E_CLEN_MISMATCH);
		fin(&c);
	}
}
END_TEST

START_TEST(stream_mode)
{
	struct ctx c;
	struct sip_msg *m;
	struct sip_perr e;
	struct sip_parse_opts o = { .stream = true };
	char two[2048];
	size_t n = strlen(INVITE);

	memcpy(two, INVITE, n);
	memcpy(two + n, INVITE, n);
	ck_assert_int_eq(parse_opts(&c, two, 2 * n, &o, &m, &e), SIP_OK);
	ck_assert_uint_eq(m->len, n);
	fin(&c);
	/* Body not all there yet: wait for more. */
	ck_assert_int_eq(parse_opts(&c, INVITE, n - 1, &o, &m, &e), SIP_E_TRUNCATED);
	fin(&c);
	/* No Content-Length on a stream: cannot frame. */
	ck_assert_int_eq(parse_opts(&c, "OPTIONS sip:a.b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
				    "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n"
				    "CSeq: 1 OPTIONS\r\n\r\n", 130, &o, &m, &e), SIP_E_MISSING_CLEN);
	fin(&c);
	/* A message larger than max_size is refused before its end arrives. */
	o.max_size = 100;
	ck_assert_int_eq(parse_opts(&c, INVITE, n, &o, &m, &e), SIP_E_TOO_LARGE);
	ck_assert_uint_eq(e.off, 100);
	fin(&c);
}
END_TEST

START_TEST(size_limits)
{
	struct ctx c;
	struct sip_msg *m;
	struct sip_perr e;
	struct sip_parse_opts o = { .max_size = 200 };
	char *big;
	size_t n = 0, cap = 1 << 17;
	const char *hdr = "OPTIONS sip:a.b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
			  "Call-ID: 1\r\nCSeq: 1 OPTIONS\r\n";

	ck_assert_int_eq(parse_opts(&c, INVITE, strlen(INVITE), &o, &m, &e), SIP_E_TOO_LARGE);
	fin(&c);
	/* 1000 Via headers: over the default 256, fine with a larger max. */
	big = malloc(cap);
	ck_assert_ptr_nonnull(big);
	n += (size_t)snprintf(big + n, cap - n, "%s", hdr);
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(big + n, cap - n, "Via: SIP/2.0/UDP h%d.example.com;branch=z9hG4bK%d\r\n", i, i);
	n += (size_t)snprintf(big + n, cap - n, "Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(parse_opts(&c, big, n, NULL, &m, &e), SIP_E_TOO_MANY_HEADERS);
	/* The 257th header (index 256) is where it stops. */
	ck_assert(strncmp(big + e.off, "Via: SIP/2.0/UDP h252.", 22) == 0);
	fin(&c);
	o.max_headers = 2000;
	o.max_size = cap;
	ck_assert_int_eq(parse_opts(&c, big, n, &o, &m, &e), SIP_OK);
	ck_assert_uint_eq(m->nhdrs, 1005);
	ck_assert(eq(m->via.host, "h0.example.com"));
	ck_assert_ptr_eq(m->h_via, &m->hdrs[4]);
	ck_assert_ptr_eq(m->h_from, &m->hdrs[0]);
	{
		struct sip_hdr_iter it;
		struct sip_via v;
		int k = 0;

		sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
		while (sip_hdr_iter_next_via(&it, &v, NULL) == SIP_OK && k < 5000)
			k++;
		ck_assert_int_eq(k, 1000);
		ck_assert(eq(v.host, "h999.example.com"));
	}
	fin(&c);
	/* One oversized header (70 kB value) in a datagram and on a stream. */
	n = (size_t)snprintf(big, cap, "%sVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nX-Huge: ", hdr);
	memset(big + n, 'a', 70000);
	n += 70000;
	n += (size_t)snprintf(big + n, cap - n, "\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(parse_opts(&c, big, n, NULL, &m, &e), SIP_E_TOO_LARGE);
	ck_assert_uint_eq(e.off, SIP_PARSE_DEFAULT_MAX_SIZE);
	fin(&c);
	o.stream = true;
	o.max_size = 0;
	ck_assert_int_eq(parse_opts(&c, big, n, &o, &m, &e), SIP_E_TOO_LARGE);
	ck_assert_uint_eq(e.off, SIP_PARSE_DEFAULT_MAX_SIZE);
	fin(&c);
	free(big);
}
END_TEST

START_TEST(arena_limit)
{
	/* A tiny arena with a tiny heap limit: fails cleanly with NOMEM. */
	rp_arena a;
	char st[64];
	struct sip_msg *m = NULL;
	struct sip_perr e;

	rp_arena_init(&a, st, sizeof(st), 128);
	ck_assert_int_eq(sip_msg_parse(INVITE, strlen(INVITE), &a, NULL, &m, &e), SIP_E_NOMEM);
	ck_assert_ptr_null(m);
	rp_arena_fini(&a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip_msg");
	TCase *tc = tcase_create("msg");

	tcase_add_test(tc, typical_invite);
	tcase_add_test(tc, iterators);
	tcase_add_test(tc, header_table);
	tcase_add_test(tc, compact_forms);
	tcase_add_test(tc, folding_and_lf);
	tcase_add_test(tc, list_split);
	tcase_add_test(tc, via_standalone);
	tcase_add_test(tc, nameaddr_standalone);
	tcase_add_test(tc, scalars_standalone);
	tcase_add_test(tc, hostile);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, clen_datagram_truncates);
	tcase_add_test(tc, stream_mode);
	tcase_add_test(tc, size_limits);
	tcase_add_test(tc, arena_limit);
	tcase_add_test(tc, lazy_response_addr_uri);
	tcase_add_test(tc, lazy_request_addr_uri);
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
