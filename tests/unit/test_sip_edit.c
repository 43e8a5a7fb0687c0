/* sip_edit: each operation, combinations, round trips (parse -> write ->
 * byte-identical; parse -> edit -> write -> parse -> expected structure). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_edit.h"
#include "sip_msg.h"

#define REQ \
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n" \
	"Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bKua\r\n" \
	"Max-Forwards: 69\r\n" \
	"Route: <sip:r1.example.com;lr>,<sip:r2.example.com;lr>, <sip:r3.example.com;lr>\r\n" \
	"From: <sip:alice@a.example.com>;tag=1\r\n" \
	"To: <sip:bob@biloxi.example.com>\r\n" \
	"Call-ID: edit-1@a.example.com\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Content-Length: 5\r\n" \
	"\r\n" \
	"hello"

struct ctx {
	rp_arena a;
	char store[16384];
	struct sip_msg *m;
	struct sip_edit *e;
	struct sip_msg *m2; /* the re-parsed result */
	rp_str out;
};

static void setup(struct ctx *c, const char *msg)
{
	rp_arena_init(&c->a, c->store, sizeof(c->store), 1 << 22);
	ck_assert_int_eq(sip_msg_parse(msg, strlen(msg), &c->a, NULL, &c->m, NULL), SIP_OK);
	ck_assert_int_eq(sip_edit_new(c->m, &c->a, &c->e), SIP_OK);
}

/* Serialises, checks the length prediction, and re-parses the output. */
static void finish(struct ctx *c)
{
	struct sip_perr err;

	ck_assert_int_eq(sip_edit_write_arena(c->e, &c->a, &c->out), SIP_OK);
	ck_assert_uint_eq(c->out.n, sip_edit_len(c->e));
	ck_assert_msg(sip_msg_parse(c->out.p, c->out.n, &c->a, NULL, &c->m2, &err) == SIP_OK,
		      "reparse: %s at %zu in:\n%.*s", sip_err_name(err.code), err.off,
		      RP_STR_FMT(c->out));
}

static bool has(const struct ctx *c, const char *s)
{
	return memmem(c->out.p, c->out.n, s, strlen(s)) != NULL;
}

static size_t count(const struct sip_msg *m, enum sip_hdr_id id)
{
	struct sip_hdr_iter it;
	rp_str v;
	size_t n = 0;

	sip_hdr_iter_init(&it, m, id);
	while (sip_hdr_iter_next(&it, &v) && n < 1000)
		n++;
	return n;
}

START_TEST(unchanged_roundtrip)
{
	static const char *msgs[] = {
		REQ,
		"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
		"To: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
		"OPTIONS sip:a.b SIP/2.0\nVia: SIP/2.0/UDP\n h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\n"
		"To: <sip:a@b>\nCall-ID: x\nCSeq: 1 OPTIONS\n\nbody without clen",
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct ctx c;
		char buf[1024];
		size_t n;

		setup(&c, msgs[i]);
		ck_assert_int_eq(sip_edit_write(c.e, buf, sizeof(buf), &n), SIP_OK);
		ck_assert_uint_eq(n, strlen(msgs[i]));
		ck_assert(memcmp(buf, msgs[i], n) == 0);
		/* Too small a buffer is refused, not overrun. */
		ck_assert_int_eq(sip_edit_write(c.e, buf, n - 1, &n), SIP_E_NOSPACE);
		rp_arena_fini(&c.a);
	}
}
END_TEST

START_TEST(roundtrip_torture_files)
{
	static const char *names[] = { "wsinv", "intmeth", "esc01", "escnull", "esc02",
				       "lwsdisp", "longreq", "dblreq", "semiuri", "transports",
				       "mpart01", "unreason", "noreason" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512], *buf;
		FILE *f;
		long n;
		rp_arena a;
		char st[8192];
		struct sip_msg *m;
		struct sip_edit *e;
		rp_str out;

		snprintf(path, sizeof(path), "%s/rfc4475/%s.dat", RP_TEST_DATA, names[i]);
		f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n);
		ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		rp_arena_init(&a, st, sizeof(st), 1 << 20);
		ck_assert_int_eq(sip_msg_parse(buf, (size_t)n, &a, NULL, &m, NULL), SIP_OK);
		ck_assert_int_eq(sip_edit_new(m, &a, &e), SIP_OK);
		ck_assert_int_eq(sip_edit_write_arena(e, &a, &out), SIP_OK);
		ck_assert_uint_eq(out.n, m->len);
		ck_assert(memcmp(out.p, m->buf, out.n) == 0);
		rp_arena_fini(&a);
		free(buf);
	}
}
END_TEST

START_TEST(add_header_positions)
{
	struct ctx c;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("Via"),
					     RP_STR_LIT("SIP/2.0/TLS edge.example.com;branch=z9hG4bKedge")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BOTTOM, 0, RP_STR_LIT("X-Bottom"),
					     RP_STR_LIT("1")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BEFORE, 3, RP_STR_LIT("Record-Route"),
					     RP_STR_LIT("<sip:edge.example.com;lr>")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_AFTER, 6, RP_STR_LIT("X-After-Call-ID"),
					     RP_STR_LIT("a")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_AFTER, 6, RP_STR_LIT("X-After-Call-ID-2"),
					     RP_STR_LIT("b")), SIP_OK);
	finish(&c);
	/* Structure of the result. */
	ck_assert(rp_str_eq_cstr(c.m2->via.host, "edge.example.com"));
	ck_assert_int_eq(c.m2->via.transport, SIP_TP_TLS);
	ck_assert_uint_eq(count(c.m2, SIP_HDR_VIA), 4);
	ck_assert_int_eq(c.m2->hdrs[3].id, SIP_HDR_MAX_FORWARDS);
	ck_assert_int_eq(c.m2->hdrs[4].id, SIP_HDR_RECORD_ROUTE);
	ck_assert_int_eq(c.m2->hdrs[5].id, SIP_HDR_ROUTE);
	ck_assert(rp_str_eq_cstr(c.m2->hdrs[8].name, "Call-ID"));
	ck_assert(rp_str_eq_cstr(c.m2->hdrs[9].name, "X-After-Call-ID"));
	ck_assert(rp_str_eq_cstr(c.m2->hdrs[10].name, "X-After-Call-ID-2"));
	ck_assert(rp_str_eq_cstr(c.m2->hdrs[c.m2->nhdrs - 1].name, "X-Bottom"));
	ck_assert(rp_str_eq_cstr(c.m2->body, "hello"));
	ck_assert(has(&c, "X-Bottom: 1\r\n\r\nhello"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(remove_header)
{
	struct ctx c;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_remove_header(c.e, 3), SIP_OK); /* Route */
	ck_assert_int_eq(sip_edit_remove_header(c.e, 3), SIP_E_INVALID_ARG); /* twice */
	ck_assert_int_eq(sip_edit_replace_value(c.e, 3, RP_STR_LIT("x")), SIP_E_INVALID_ARG);
	ck_assert_int_eq(sip_edit_remove_header(c.e, 99), SIP_E_INVALID_ARG);
	finish(&c);
	ck_assert_ptr_null(c.m2->h_route);
	ck_assert_uint_eq(c.m2->nhdrs, c.m->nhdrs - 1);
	ck_assert(!has(&c, "r1.example.com"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(remove_values)
{
	struct ctx c;
	struct sip_hdr_iter it;
	struct sip_nameaddr na;

	/* middle value */
	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 3, 1), SIP_OK);
	finish(&c);
	ck_assert(has(&c, "Route: <sip:r1.example.com;lr>,<sip:r3.example.com;lr>\r\n"));
	rp_arena_fini(&c.a);
	/* last value */
	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 3, 2), SIP_OK);
	finish(&c);
	ck_assert(has(&c, "Route: <sip:r1.example.com;lr>,<sip:r2.example.com;lr>\r\n"));
	rp_arena_fini(&c.a);
	/* first value, then walk what is left */
	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 3, 0), SIP_OK);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 3, 3), SIP_E_INVALID_ARG);
	finish(&c);
	sip_hdr_iter_init(&it, c.m2, SIP_HDR_ROUTE);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(rp_str_eq_cstr(na.uri.host, "r2.example.com"));
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(rp_str_eq_cstr(na.uri.host, "r3.example.com"));
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_E__COUNT);
	rp_arena_fini(&c.a);
	/* the only value removes the line */
	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 2, 0), SIP_OK); /* Max-Forwards */
	finish(&c);
	ck_assert_ptr_null(c.m2->h_max_forwards);
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(pop_via)
{
	struct ctx c;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_pop_via(c.e), SIP_OK);
	finish(&c);
	ck_assert(rp_str_eq_cstr(c.m2->via.host, "p2.example.com"));
	ck_assert_uint_eq(count(c.m2, SIP_HDR_VIA), 2);
	ck_assert(has(&c, "Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n"));
	rp_arena_fini(&c.a);
	/* Popping from a single-value top Via drops the line. */
	setup(&c, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP me;branch=z9hG4bK1\r\n"
		  "Via: SIP/2.0/UDP them;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\n"
		  "To: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(sip_edit_pop_via(c.e), SIP_OK);
	finish(&c);
	ck_assert(rp_str_eq_cstr(c.m2->via.host, "them"));
	ck_assert_uint_eq(count(c.m2, SIP_HDR_VIA), 1);
	ck_assert(rp_str_eq_cstr(c.m2->start_line, "SIP/2.0 200 OK"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(replace_value_and_ruri)
{
	struct ctx c;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_replace_value(c.e, 2, RP_STR_LIT("68")), SIP_OK);
	ck_assert_int_eq(sip_edit_set_ruri(c.e, RP_STR_LIT("sip:bob@192.0.2.4:5062;transport=tcp")),
			 SIP_OK);
	ck_assert_int_eq(sip_edit_replace_value(c.e, 5, RP_STR_LIT("a\r\nInjected: 1")),
			 SIP_E_INVALID_ARG);
	ck_assert_int_eq(sip_edit_set_ruri(c.e, RP_STR_LIT("sip:a b")), SIP_E_INVALID_ARG);
	finish(&c);
	ck_assert_int_eq(c.m2->max_forwards, 68);
	ck_assert(rp_str_eq_cstr(c.m2->ruri.host, "192.0.2.4"));
	ck_assert_uint_eq(c.m2->ruri.port, 5062);
	ck_assert(rp_str_eq_cstr(c.m2->ruri.transport, "tcp"));
	ck_assert(rp_str_eq_cstr(c.m2->start_line,
				 "INVITE sip:bob@192.0.2.4:5062;transport=tcp SIP/2.0"));
	rp_arena_fini(&c.a);
}
END_TEST

/* mark/undo: one edit written several ways (a request forked to targets
 * over different transports): what was edited before the mark stays, what
 * came after is gone, including a body. */
START_TEST(mark_undo)
{
	struct ctx c;
	struct sip_edit_mark mk;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BOTTOM, 0, RP_STR_LIT("X-Script"),
		RP_STR_LIT("kept")), SIP_OK);
	sip_edit_mark(c.e, &mk);
	for (int round = 0; round < 2; round++) {
		const char *uri = round ? "sip:bob@192.0.2.2" : "sip:bob@192.0.2.1:5070";

		sip_edit_undo(c.e, &mk);
		ck_assert_int_eq(sip_edit_set_ruri(c.e, rp_str_cstr(uri)), SIP_OK);
		ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("Via"),
			round ? RP_STR_LIT("SIP/2.0/TLS 192.0.2.9;branch=z9hG4bKb") :
			RP_STR_LIT("SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKa")), SIP_OK);
		ck_assert_int_eq(sip_edit_set_body(c.e, round ? RP_STR_LIT("second") :
			RP_STR_LIT("first!!")), SIP_OK);
		finish(&c);
		ck_assert(rp_str_eq_cstr(c.m2->ruri_str, uri));
		ck_assert_uint_eq(count(c.m2, SIP_HDR_VIA), 4);
		ck_assert(has(&c, round ? "SIP/2.0/TLS 192.0.2.9" : "SIP/2.0/UDP 192.0.2.9"));
		ck_assert(!has(&c, round ? "SIP/2.0/UDP 192.0.2.9" : "SIP/2.0/TLS 192.0.2.9"));
		ck_assert(has(&c, "X-Script: kept\r\n"));
		ck_assert(rp_str_eq_cstr(c.m2->body, round ? "second" : "first!!"));
	}
	sip_edit_undo(c.e, &mk);
	finish(&c);
	ck_assert_uint_eq(c.out.n, strlen(REQ) + strlen("X-Script: kept\r\n"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(set_body)
{
	struct ctx c;
	const char *sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_set_body(c.e, rp_str_cstr(sdp)), SIP_OK);
	ck_assert_int_eq(sip_edit_set_body(c.e, rp_str_cstr(sdp)), SIP_E_INVALID_ARG);
	finish(&c);
	ck_assert_uint_eq(c.m2->content_length, strlen(sdp));
	ck_assert(rp_str_eq_cstr(c.m2->body, sdp));
	rp_arena_fini(&c.a);
	/* No Content-Length header in the original: one is added. */
	setup(&c, "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		  "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\nold");
	ck_assert_int_eq(sip_edit_set_body(c.e, RP_STR_LIT("new body")), SIP_OK);
	finish(&c);
	ck_assert(c.m2->has_content_length);
	ck_assert_uint_eq(c.m2->content_length, 8);
	ck_assert(rp_str_eq_cstr(c.m2->body, "new body"));
	rp_arena_fini(&c.a);
	/* Emptying the body. */
	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_set_body(c.e, RP_STR_NULL), SIP_OK);
	finish(&c);
	ck_assert_uint_eq(c.m2->content_length, 0);
	ck_assert_uint_eq(c.m2->body.n, 0);
	ck_assert(has(&c, "Content-Length: 0\r\n\r\n"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(proxy_combination)
{
	/* What a proxy does to a request: own Via on top, Max-Forwards down,
	 * pop the Route that named it, new Request-URI, rewritten body. */
	struct ctx c;
	char buf[2048];
	size_t n;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("Via"),
					     RP_STR_LIT("SIP/2.0/TLS sbc.example.net;branch=z9hG4bKsbc")), SIP_OK);
	ck_assert_int_eq(sip_edit_replace_value(c.e, 2, RP_STR_LIT("68")), SIP_OK);
	ck_assert_int_eq(sip_edit_remove_value(c.e, 3, 0), SIP_OK);
	ck_assert_int_eq(sip_edit_set_ruri(c.e, RP_STR_LIT("sip:bob@10.0.0.7")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BEFORE, 3, RP_STR_LIT("Record-Route"),
					     RP_STR_LIT("<sip:sbc.example.net;lr>")), SIP_OK);
	ck_assert_int_eq(sip_edit_set_body(c.e, RP_STR_LIT("goodbye!")), SIP_OK);
	finish(&c);
	ck_assert(rp_str_eq_cstr(c.m2->via.host, "sbc.example.net"));
	ck_assert_uint_eq(count(c.m2, SIP_HDR_VIA), 4);
	ck_assert_int_eq(c.m2->max_forwards, 68);
	ck_assert_uint_eq(count(c.m2, SIP_HDR_ROUTE), 2);
	ck_assert_uint_eq(count(c.m2, SIP_HDR_RECORD_ROUTE), 1);
	ck_assert(rp_str_eq_cstr(c.m2->ruri_str, "sip:bob@10.0.0.7"));
	ck_assert(rp_str_eq_cstr(c.m2->body, "goodbye!"));
	ck_assert(rp_str_eq_cstr(c.m2->call_id, "edit-1@a.example.com"));
	/* The caller-buffer path writes the same bytes. */
	ck_assert_int_eq(sip_edit_write(c.e, buf, sizeof(buf), &n), SIP_OK);
	ck_assert_uint_eq(n, c.out.n);
	ck_assert(memcmp(buf, c.out.p, n) == 0);
	/* Edits never touch the original buffer. */
	ck_assert(memcmp(c.m->buf, REQ, strlen(REQ)) == 0);
	rp_arena_fini(&c.a);
}
END_TEST

/* RFC 3261 7.3.1: a received value may be folded, and a proxy writes it
 * back (its top Via with received/rport, a Route line it shortens); the
 * fold is kept and the result parses to the same values. */
START_TEST(folded_values)
{
	struct ctx c;
	const char *msg = "INVITE sip:bob@b SIP/2.0\r\n"
		"Via: SIP/2.0/UDP\r\n 192.0.2.1:5060\r\n\t;branch=z9hG4bKf1, \r\n"
		" SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKf2\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: f\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_hdr_iter it;
	struct sip_via v;

	setup(&c, msg);
	ck_assert_int_eq(sip_edit_replace_value(c.e, 0,
		RP_STR_LIT("SIP/2.0/UDP\r\n 192.0.2.1:5060\r\n\t;branch=z9hG4bKf1;received=192.0.2.9, "
			   "\r\n SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKf2")), SIP_OK);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BOTTOM, 0, RP_STR_LIT("Subject"),
		RP_STR_LIT("two\r\n\tlines")), SIP_OK);
	finish(&c);
	sip_hdr_iter_init(&it, c.m2, SIP_HDR_VIA);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert(rp_str_eq_cstr(v.received, "192.0.2.9"));
	ck_assert_int_eq(v.port, 5060);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert(rp_str_eq_cstr(v.branch, "z9hG4bKf2"));
	ck_assert(has(&c, "Subject: two\r\n\tlines\r\n"));
	rp_arena_fini(&c.a);
}
END_TEST

START_TEST(bad_args)
{
	struct ctx c;

	setup(&c, REQ);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("Bad Name"),
					     RP_STR_LIT("x")), SIP_E_INVALID_ARG);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT(""),
					     RP_STR_LIT("x")), SIP_E_INVALID_ARG);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_AFTER, 50, RP_STR_LIT("X"),
					     RP_STR_LIT("x")), SIP_E_INVALID_ARG);
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("X"),
					     RP_STR_LIT("a\nb")), SIP_E_INVALID_ARG);
	/* Line breaks that are not folding would inject a header. */
	static const char *const inject[] = { "a\r\nX-Evil: 1", "a\rb", "a\r\n", "a\r\n ",
		"a\r\n \t\r\n b", "a\r\n \nX-Evil: 1",
		"a\n b", "a\r \nb" };
	for (size_t i = 0; i < sizeof(inject) / sizeof(inject[0]); i++) {
		ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_TOP, 0, RP_STR_LIT("X"),
			rp_str_cstr(inject[i])), SIP_E_INVALID_ARG);
		ck_assert_int_eq(sip_edit_replace_value(c.e, 0, rp_str_cstr(inject[i])),
			SIP_E_INVALID_ARG);
	}
	ck_assert_int_eq(sip_edit_new(NULL, &c.a, &c.e), SIP_E_INVALID_ARG);
	/* An empty header value is allowed. */
	ck_assert_int_eq(sip_edit_add_header(c.e, SIP_EDIT_BOTTOM, 0, RP_STR_LIT("Subject"),
					     RP_STR_NULL), SIP_OK);
	finish(&c);
	ck_assert_int_ge(sip_msg_find(c.m2, SIP_HDR_SUBJECT, 0), 0);
	rp_arena_fini(&c.a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip_edit");
	TCase *tc = tcase_create("edit");

	tcase_add_test(tc, unchanged_roundtrip);
	tcase_add_test(tc, roundtrip_torture_files);
	tcase_add_test(tc, add_header_positions);
	tcase_add_test(tc, remove_header);
	tcase_add_test(tc, remove_values);
	tcase_add_test(tc, pop_via);
	tcase_add_test(tc, replace_value_and_ruri);
	tcase_add_test(tc, set_body);
	tcase_add_test(tc, mark_undo);
	tcase_add_test(tc, proxy_combination);
	tcase_add_test(tc, bad_args);
	tcase_add_test(tc, folded_values);
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
