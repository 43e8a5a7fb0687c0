/* RFC 4475 (SIP torture tests), one Check test per message, named after the
 * RFC's file name. Valid messages (§3.1.1) must parse; invalid ones
 * (§3.1.2) must be rejected with the right error; the "semantic" ones of
 * §3.2-§3.4 parse and the test shows the flag a proxy acts on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_edit.h"
#include "sip_msg.h"

struct tmsg {
	char *buf;
	size_t len;
	rp_arena a;
	char store[8192];
	struct sip_msg *m;
	struct sip_perr err;
	enum sip_err rc;
};

static struct tmsg *load(const char *name)
{
	char path[512];
	struct tmsg *t = calloc(1, sizeof(*t));
	FILE *f;
	long n;

	ck_assert_ptr_nonnull(t);
	snprintf(path, sizeof(path), "%s/rfc4475/%s.dat", RP_TEST_DATA, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_gt(n, 0);
	rewind(f);
	/* Exactly the file's bytes, so ASan catches any read past the end. */
	t->buf = malloc((size_t)n);
	ck_assert_ptr_nonnull(t->buf);
	ck_assert_uint_eq(fread(t->buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	t->len = (size_t)n;
	rp_arena_init(&t->a, t->store, sizeof(t->store), 1 << 20);
	t->rc = sip_msg_parse(t->buf, t->len, &t->a, NULL, &t->m, &t->err);
	return t;
}

static void done(struct tmsg *t)
{
	rp_arena_fini(&t->a);
	free(t->buf);
	free(t);
}

static bool eq(rp_str s, const char *c)
{
	return rp_str_eq_cstr(s, c);
}

/* A parsed message serialised through an empty edit is byte-identical. */
static void roundtrip(struct tmsg *t)
{
	struct sip_edit *e;
	rp_str out;

	ck_assert_int_eq(sip_edit_new(t->m, &t->a, &e), SIP_OK);
	ck_assert_int_eq(sip_edit_write_arena(e, &t->a, &out), SIP_OK);
	ck_assert_uint_eq(out.n, t->m->len);
	ck_assert(memcmp(out.p, t->m->buf, out.n) == 0);
}

static struct tmsg *valid(const char *name)
{
	struct tmsg *t = load(name);

	ck_assert_msg(t->rc == SIP_OK, "%s: %s at %zu", name, sip_err_name(t->rc), t->err.off);
	roundtrip(t);
	return t;
}

static void invalid(const char *name, enum sip_err want)
{
	struct tmsg *t = load(name);

	ck_assert_msg(t->rc == want, "%s: got %s at %zu, want %s", name,
		      sip_err_name(t->rc), t->err.off, sip_err_name(want));
	ck_assert_uint_le(t->err.off, t->len);
	done(t);
}

static size_t count(const struct sip_msg *m, enum sip_hdr_id id)
{
	struct sip_hdr_iter it;
	rp_str v;
	size_t n = 0;

	sip_hdr_iter_init(&it, m, id);
	while (sip_hdr_iter_next(&it, &v) && n < 10000)
		n++;
	return n;
}

/* ---- 3.1.1 valid messages ---- */

START_TEST(wsinv)
{
	struct tmsg *t = valid("wsinv");
	struct sip_msg *m = t->m;
	struct sip_hdr_iter it;
	struct sip_via v;
	struct sip_nameaddr na;
	rp_str val;

	ck_assert(m->is_request);
	ck_assert_int_eq(m->method, SIP_METHOD_INVITE);
	ck_assert(eq(m->ruri.user, "vivekg"));
	ck_assert(eq(m->ruri.host, "chair-dnrc.example.com"));
	ck_assert(sip_uri_param_find(m->ruri.params, "unknownparam", NULL));
	ck_assert(eq(m->to.tag, "1918181833n"));
	ck_assert(eq(m->from.tag, "98asjd8"));
	ck_assert(eq(m->from.display, "\"J Rosenberg \\\\\\\"\""));
	ck_assert_int_eq(m->max_forwards, 68);
	ck_assert_uint_eq(m->cseq.num, 9);
	ck_assert_int_eq(m->cseq.method, SIP_METHOD_INVITE);
	ck_assert(eq(m->call_id, "wsinv.ndaksdj@192.0.2.1"));
	ck_assert_uint_eq(m->content_length, 150);
	ck_assert_uint_eq(m->body.n, 150);
	/* Top Via is folded across three lines with LWS around '/'. */
	ck_assert(eq(m->via.transport_str, "UDP"));
	ck_assert(eq(m->via.host, "192.0.2.2"));
	ck_assert(eq(m->via.branch, "390skdjuw"));
	ck_assert(!m->via.has_rport);
	/* Three Via values: one line plus a compact line with two. */
	ck_assert_uint_eq(count(m, SIP_HDR_VIA), 3);
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert(eq(v.host, "spindle.example.com"));
	ck_assert_int_eq(v.transport, SIP_TP_TCP);
	ck_assert(eq(v.branch, "z9hG4bK9ikj8"));
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert(eq(v.host, "192.168.255.111"));
	ck_assert(eq(v.branch, "z9hG4bK30239"));
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_E__COUNT);
	/* Empty Subject (compact 's') is kept. */
	ck_assert_int_ge(sip_msg_find(m, SIP_HDR_SUBJECT, 0), 0);
	ck_assert_uint_eq(m->hdrs[sip_msg_find(m, SIP_HDR_SUBJECT, 0)].value.n, 0);
	/* Unknown headers kept as-is, folded value included. */
	long i = sip_msg_find_name(m, RP_STR_LIT("newfangledheader"), 0);
	ck_assert_int_ge(i, 0);
	ck_assert(eq(m->hdrs[i].value, "newfangled value\r\n continued newfangled value"));
	i = sip_msg_find_name(m, RP_STR_LIT("UnknownHeaderWithUnusualValue"), 0);
	ck_assert(eq(m->hdrs[i].value, ";;,,;;,;"));
	/* Contact (compact 'm') with quoted display name and params. */
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(eq(na.display, "\"Quoted string \\\"\\\"\""));
	ck_assert(sip_hdr_param_find(na.params, "newparam", &val));
	ck_assert(eq(val, "newvalue"));
	ck_assert(sip_hdr_param_find(na.params, "secondparam", NULL));
	ck_assert(sip_hdr_param_find(na.params, "q", &val));
	ck_assert(eq(val, "0.33"));
	/* Route with an unknown URI param carrying a value. */
	sip_hdr_iter_init(&it, m, SIP_HDR_ROUTE);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(na.uri.lr);
	ck_assert(sip_uri_param_find(na.uri.params, "unknownwith", &val));
	ck_assert(eq(val, "value"));
	done(t);
}
END_TEST

START_TEST(intmeth)
{
	struct tmsg *t = valid("intmeth");
	struct sip_msg *m = t->m;

	ck_assert_int_eq(m->method, SIP_METHOD_UNKNOWN);
	ck_assert(eq(m->method_str, "!interesting-Method0123456789_*+`.%indeed'~"));
	ck_assert(eq(m->ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"));
	ck_assert(eq(m->ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"));
	ck_assert(eq(m->ruri.host, "example.com"));
	ck_assert(eq(m->via.branch, "z9hG4bK-.!%66*_+`'~"));
	/* To display name holds quoted-pairs of BEL, NUL and DEL. */
	ck_assert_uint_eq(m->to.display.n, 22);
	ck_assert_int_eq(m->to.display.p[6], 0x07);
	ck_assert_int_eq(m->to.display.p[13], 0x00);
	ck_assert(eq(m->from.display, "token1~` token2'+_ token3*%!.-"));
	ck_assert(eq(m->from.tag, "_token~1'+`*%!-."));
	ck_assert(eq(m->call_id, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
	ck_assert_uint_eq(m->cseq.num, 139122385);
	ck_assert_int_eq(m->max_forwards, 255);
	long i = sip_msg_find_name(m, RP_STR_LIT("extensionHeader-!.%*+_`'~"), 0);
	ck_assert_int_ge(i, 0);
	ck_assert(eq(m->hdrs[i].value, "\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb"));
	done(t);
}
END_TEST

START_TEST(esc01)
{
	struct tmsg *t = valid("esc01");
	struct sip_msg *m = t->m;
	struct sip_nameaddr na;
	struct sip_hdr_iter it;
	char buf[64];
	rp_str v;

	ck_assert(eq(m->ruri.user, "sips%3Auser%40example.com"));
	ck_assert_int_eq(sip_unescape(m->ruri.user, buf, sizeof(buf)), 21);
	ck_assert(memcmp(buf, "sips:user@example.com", 21) == 0);
	ck_assert(eq(m->ruri.host, "example.net"));
	ck_assert(sip_uri_part_eq(m->to.uri.user, RP_STR_LIT("user")));
	ck_assert(eq(m->from.uri.user, "I%20have%20spaces"));
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(sip_uri_part_eq(na.uri.user, RP_STR_LIT("caller")));
	ck_assert(sip_uri_param_find(na.uri.params, "n%61me", &v));
	/* value%41 is not valueA: no recursive unescaping. */
	ck_assert_int_eq(sip_unescape(v, buf, sizeof(buf)), 8);
	ck_assert(memcmp(buf, "value%41", 8) == 0);
	ck_assert_ptr_nonnull(m->h_content_type); /* compact 'C' */
	done(t);
}
END_TEST

START_TEST(escnull)
{
	struct tmsg *t = valid("escnull");
	char buf[32];

	ck_assert(eq(t->m->to.uri.user, "null-%00-null"));
	ck_assert_int_eq(sip_unescape(t->m->to.uri.user, buf, sizeof(buf)), 11);
	ck_assert_int_eq(buf[5], 0);
	ck_assert_uint_eq(count(t->m, SIP_HDR_CONTACT), 2);
	ck_assert_uint_eq(t->m->content_length, 0); /* "L:0" */
	done(t);
}
END_TEST

START_TEST(esc02)
{
	struct tmsg *t = valid("esc02");

	ck_assert_int_eq(t->m->method, SIP_METHOD_UNKNOWN);
	ck_assert(eq(t->m->method_str, "RE%47IST%45R"));
	ck_assert(eq(t->m->to.display, "\"%Z%45\""));
	/* C%6Fntact is an unknown header, not a Contact. */
	ck_assert_uint_eq(count(t->m, SIP_HDR_CONTACT), 2);
	ck_assert_int_ge(sip_msg_find_name(t->m, RP_STR_LIT("C%6Fntact"), 0), 0);
	ck_assert(eq(t->m->via.branch, "z9hG4bK209%fzsnel234"));
	done(t);
}
END_TEST

START_TEST(lwsdisp)
{
	struct tmsg *t = valid("lwsdisp");

	ck_assert(eq(t->m->from.display, "caller"));
	ck_assert(eq(t->m->from.uri.user, "caller"));
	ck_assert(eq(t->m->from.tag, "323"));
	done(t);
}
END_TEST

START_TEST(longreq)
{
	struct tmsg *t = valid("longreq");
	struct sip_msg *m = t->m;
	struct sip_hdr_iter it;
	struct sip_via v;
	size_t n = 0;

	ck_assert_uint_eq(m->to.uri.port, 6000);
	ck_assert_uint_eq(m->from.tag.n, 155);
	ck_assert_uint_eq(count(m, SIP_HDR_VIA), 34);
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	while (sip_hdr_iter_next_via(&it, &v, NULL) == SIP_OK && n < 100)
		n++;
	ck_assert_uint_eq(n, 34);
	ck_assert(eq(v.received, "192.0.2.5"));
	ck_assert(eq(m->via.host, "sip33.example.com"));
	ck_assert_uint_eq(m->body.n, 150);
	done(t);
}
END_TEST

START_TEST(dblreq)
{
	struct tmsg *t = valid("dblreq");

	/* The INVITE after the REGISTER's empty body is ignored (§18.3). */
	ck_assert_int_eq(t->m->method, SIP_METHOD_REGISTER);
	ck_assert_uint_eq(t->m->body.n, 0);
	ck_assert_uint_lt(t->m->len, t->len);
	ck_assert(eq(t->m->call_id, "dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
	done(t);
}
END_TEST

START_TEST(semiuri)
{
	struct tmsg *t = valid("semiuri");

	ck_assert(eq(t->m->ruri.user, "user;par=u%40example.net"));
	ck_assert(eq(t->m->ruri.host, "example.com"));
	ck_assert_uint_eq(t->m->ruri.params.n, 0);
	ck_assert_uint_eq(count(t->m, SIP_HDR_ACCEPT), 6);
	done(t);
}
END_TEST

START_TEST(transports)
{
	struct tmsg *t = valid("transports");
	struct sip_hdr_iter it;
	struct sip_via v;
	const enum sip_transport want[] = { SIP_TP_UDP, SIP_TP_SCTP, SIP_TP_TLS,
					    SIP_TP_OTHER, SIP_TP_TCP };

	sip_hdr_iter_init(&it, t->m, SIP_HDR_VIA);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
		ck_assert_int_eq(v.transport, want[i]);
	}
	ck_assert(eq(v.transport_str, "TCP"));
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_E__COUNT);
	ck_assert(eq(t->m->call_id, "transports.kijh4akdnaqjkwendsasfdj"));
	done(t);
}
END_TEST

START_TEST(mpart01)
{
	struct tmsg *t = valid("mpart01");

	ck_assert_int_eq(t->m->method, SIP_METHOD_MESSAGE);
	ck_assert_uint_eq(t->m->body.n, 553);
	ck_assert_ptr_nonnull(memchr(t->m->body.p, 0, t->m->body.n));
	ck_assert(t->m->via.has_rport);
	ck_assert_uint_eq(t->m->via.port, 5070);
	ck_assert_int_eq(sip_date_parse(t->m->hdrs[sip_msg_find(t->m, SIP_HDR_DATE, 0)].value,
					NULL), SIP_OK);
	ck_assert_int_ge(sip_msg_find(t->m, SIP_HDR_IDENTITY, 0), 0);
	done(t);
}
END_TEST

START_TEST(unreason)
{
	struct tmsg *t = valid("unreason");

	ck_assert(!t->m->is_request);
	ck_assert_uint_eq(t->m->status, 200);
	ck_assert(rp_str_has_prefix_case(t->m->reason, "= 2**3 * 5**2 \xd0\xbd\xd0\xbe"));
	ck_assert_uint_eq(t->m->body.n, 154);
	done(t);
}
END_TEST

START_TEST(noreason)
{
	struct tmsg *t = valid("noreason");

	ck_assert_uint_eq(t->m->status, 100);
	ck_assert_uint_eq(t->m->reason.n, 0);
	done(t);
}
END_TEST

/* ---- 3.1.2 invalid messages ---- */

START_TEST(badinv01) { invalid("badinv01", SIP_E_BAD_VIA); } END_TEST
START_TEST(clerr) { invalid("clerr", SIP_E_CLEN_MISMATCH); } END_TEST
START_TEST(ncl) { invalid("ncl", SIP_E_BAD_CONTENT_LENGTH); } END_TEST
START_TEST(scalar02) { invalid("scalar02", SIP_E_BAD_CSEQ); } END_TEST
START_TEST(scalarlg) { invalid("scalarlg", SIP_E_BAD_CSEQ); } END_TEST
START_TEST(quotbal) { invalid("quotbal", SIP_E_BAD_NAME_ADDR); } END_TEST
START_TEST(ltgtruri) { invalid("ltgtruri", SIP_E_BAD_URI); } END_TEST
START_TEST(lwsruri) { invalid("lwsruri", SIP_E_BAD_REQUEST_LINE); } END_TEST
START_TEST(lwsstart) { invalid("lwsstart", SIP_E_BAD_REQUEST_LINE); } END_TEST
START_TEST(trws) { invalid("trws", SIP_E_BAD_REQUEST_LINE); } END_TEST
START_TEST(escruri) { invalid("escruri", SIP_E_BAD_URI); } END_TEST
START_TEST(badaspec) { invalid("badaspec", SIP_E_BAD_URI); } END_TEST
START_TEST(baddn) { invalid("baddn", SIP_E_BAD_NAME_ADDR); } END_TEST
START_TEST(badvers) { invalid("badvers", SIP_E_BAD_VERSION); } END_TEST
START_TEST(mismatch01) { invalid("mismatch01", SIP_E_CSEQ_MISMATCH); } END_TEST
START_TEST(mismatch02) { invalid("mismatch02", SIP_E_CSEQ_MISMATCH); } END_TEST
START_TEST(bigcode) { invalid("bigcode", SIP_E_BAD_STATUS_LINE); } END_TEST

START_TEST(baddate)
{
	/* Date is parsed on demand; the parser's Date check flags EST. */
	struct tmsg *t = valid("baddate");
	long i = sip_msg_find(t->m, SIP_HDR_DATE, 0);
	struct sip_perr e;

	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(sip_date_parse(t->m->hdrs[i].value, &e), SIP_E_BAD_HEADER);
	ck_assert_uint_eq(e.off, 26); /* "EST" */
	ck_assert_int_eq(sip_date_parse(RP_STR_LIT("Fri, 01 Jan 2010 16:00:00 GMT"), NULL),
			 SIP_OK);
	done(t);
}
END_TEST

START_TEST(regbadct)
{
	/* Contact is parsed on demand: the addr-spec with '?' outside <> is
	 * rejected when the registrar walks it. */
	struct tmsg *t = valid("regbadct");
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	struct sip_perr e;

	sip_hdr_iter_init(&it, t->m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, &e), SIP_E_BAD_NAME_ADDR);
	ck_assert_int_eq(t->m->buf[e.off], '?');
	done(t);
}
END_TEST

/* ---- 3.2-3.4: syntactically valid, semantically for the proxy ---- */

START_TEST(badbranch)
{
	struct tmsg *t = valid("badbranch");

	ck_assert(eq(t->m->via.branch, "z9hG4bK"));
	ck_assert(!sip_via_branch_is_rfc3261(&t->m->via));
	done(t);
}
END_TEST

START_TEST(insuf) { invalid("insuf", SIP_E_MISSING_HEADER); } END_TEST

START_TEST(unkscm)
{
	struct tmsg *t = valid("unkscm");

	ck_assert_int_eq(t->m->ruri.scheme, SIP_SCHEME_OTHER); /* proxy: 416 */
	ck_assert(eq(t->m->ruri.opaque, "totallyopaquecontent"));
	done(t);
}
END_TEST

START_TEST(novelsc)
{
	struct tmsg *t = valid("novelsc");

	ck_assert_int_eq(t->m->ruri.scheme, SIP_SCHEME_OTHER);
	ck_assert(eq(t->m->ruri.scheme_str, "soap.beep"));
	done(t);
}
END_TEST

START_TEST(unksm2)
{
	struct tmsg *t = valid("unksm2");
	struct sip_hdr_iter it;
	struct sip_nameaddr na;

	ck_assert_int_eq(t->m->to.uri.scheme, SIP_SCHEME_OTHER);
	ck_assert(eq(t->m->to.uri.scheme_str, "isbn"));
	ck_assert(eq(t->m->from.uri.scheme_str, "http"));
	sip_hdr_iter_init(&it, t->m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(eq(na.uri.scheme_str, "name"));
	done(t);
}
END_TEST

START_TEST(bext01)
{
	struct tmsg *t = valid("bext01");

	ck_assert_uint_eq(count(t->m, SIP_HDR_REQUIRE), 2);
	ck_assert_uint_eq(count(t->m, SIP_HDR_PROXY_REQUIRE), 2);
	ck_assert_int_eq(t->m->via.transport, SIP_TP_TLS);
	done(t);
}
END_TEST

START_TEST(invut)
{
	struct tmsg *t = valid("invut");

	ck_assert(eq(t->m->h_content_type->value, "application/unknownformat"));
	ck_assert_uint_eq(t->m->body.n, 40);
	done(t);
}
END_TEST

START_TEST(regaut01)
{
	struct tmsg *t = valid("regaut01");
	long i = sip_msg_find(t->m, SIP_HDR_AUTHORIZATION, 0);

	ck_assert_int_ge(i, 0);
	ck_assert(eq(t->m->hdrs[i].value, "NoOneKnowsThisScheme opaque-data=here"));
	done(t);
}
END_TEST

START_TEST(multi01) { invalid("multi01", SIP_E_DUP_HEADER); } END_TEST
START_TEST(mcl01) { invalid("mcl01", SIP_E_DUP_HEADER); } END_TEST

START_TEST(bcast)
{
	struct tmsg *t = valid("bcast");
	struct sip_hdr_iter it;
	struct sip_via v;

	sip_hdr_iter_init(&it, t->m, SIP_HDR_VIA);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert_int_eq(sip_hdr_iter_next_via(&it, &v, NULL), SIP_OK);
	ck_assert(eq(v.host, "255.255.255.255")); /* the proxy drops it */
	ck_assert_int_eq(v.host_type, SIP_HOST_IPV4);
	done(t);
}
END_TEST

START_TEST(zeromf)
{
	struct tmsg *t = valid("zeromf");

	ck_assert_ptr_nonnull(t->m->h_max_forwards);
	ck_assert_int_eq(t->m->max_forwards, 0);
	done(t);
}
END_TEST

START_TEST(cparam01)
{
	/* addr-spec form: ;unknownparam belongs to the header, not the URI. */
	struct tmsg *t = valid("cparam01");
	struct sip_hdr_iter it;
	struct sip_nameaddr na;

	sip_hdr_iter_init(&it, t->m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(!na.bracketed);
	ck_assert_uint_eq(na.uri.params.n, 0);
	ck_assert(sip_hdr_param_find(na.params, "unknownparam", NULL));
	done(t);
}
END_TEST

START_TEST(cparam02)
{
	struct tmsg *t = valid("cparam02");
	struct sip_hdr_iter it;
	struct sip_nameaddr na;

	sip_hdr_iter_init(&it, t->m, SIP_HDR_CONTACT);
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(na.bracketed);
	ck_assert(sip_uri_param_find(na.uri.params, "unknownparam", NULL));
	ck_assert_uint_eq(na.params.n, 0);
	done(t);
}
END_TEST

START_TEST(regescrt)
{
	struct tmsg *t = valid("regescrt");
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	rp_str n, v, hi;

	sip_hdr_iter_init(&it, t->m, SIP_HDR_CONTACT); /* compact 'M' */
	ck_assert_int_eq(sip_hdr_iter_next_nameaddr(&it, &na, NULL), SIP_OK);
	ck_assert(na.uri.has_headers); /* the registrar must not use it blindly */
	hi = na.uri.headers;
	ck_assert(sip_uri_header_next(&hi, &n, &v));
	ck_assert(eq(n, "Route"));
	ck_assert(eq(v, "%3Csip:sip.example.com%3E"));
	done(t);
}
END_TEST

START_TEST(sdp01)
{
	struct tmsg *t = valid("sdp01");
	long i = sip_msg_find(t->m, SIP_HDR_ACCEPT, 0);

	ck_assert(eq(t->m->hdrs[i].value, "text/nobodyKnowsThis"));
	done(t);
}
END_TEST

START_TEST(inv2543)
{
	struct tmsg *t = valid("inv2543");

	ck_assert(!t->m->via.has_branch);
	ck_assert(!t->m->to.has_tag);
	ck_assert(!t->m->has_content_length); /* datagram: body is the rest */
	ck_assert_uint_eq(t->m->body.n, t->len - t->m->body_off);
	/* addr-spec To: ;user=phone is a header param; in From's <> it is
	 * the URI's. */
	ck_assert(sip_hdr_param_find(t->m->to.params, "user", NULL));
	ck_assert(eq(t->m->from.uri.user_param, "phone"));
	done(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip_torture");
	TCase *v = tcase_create("valid_3_1_1");
	TCase *iv = tcase_create("invalid_3_1_2");
	TCase *sem = tcase_create("semantics_3_2_to_3_4");

	tcase_add_test(v, wsinv);
	tcase_add_test(v, intmeth);
	tcase_add_test(v, esc01);
	tcase_add_test(v, escnull);
	tcase_add_test(v, esc02);
	tcase_add_test(v, lwsdisp);
	tcase_add_test(v, longreq);
	tcase_add_test(v, dblreq);
	tcase_add_test(v, semiuri);
	tcase_add_test(v, transports);
	tcase_add_test(v, mpart01);
	tcase_add_test(v, unreason);
	tcase_add_test(v, noreason);
	tcase_add_test(iv, badinv01);
	tcase_add_test(iv, clerr);
	tcase_add_test(iv, ncl);
	tcase_add_test(iv, scalar02);
	tcase_add_test(iv, scalarlg);
	tcase_add_test(iv, quotbal);
	tcase_add_test(iv, ltgtruri);
	tcase_add_test(iv, lwsruri);
	tcase_add_test(iv, lwsstart);
	tcase_add_test(iv, trws);
	tcase_add_test(iv, escruri);
	tcase_add_test(iv, baddate);
	tcase_add_test(iv, regbadct);
	tcase_add_test(iv, badaspec);
	tcase_add_test(iv, baddn);
	tcase_add_test(iv, badvers);
	tcase_add_test(iv, mismatch01);
	tcase_add_test(iv, mismatch02);
	tcase_add_test(iv, bigcode);
	tcase_add_test(sem, badbranch);
	tcase_add_test(sem, insuf);
	tcase_add_test(sem, unkscm);
	tcase_add_test(sem, novelsc);
	tcase_add_test(sem, unksm2);
	tcase_add_test(sem, bext01);
	tcase_add_test(sem, invut);
	tcase_add_test(sem, regaut01);
	tcase_add_test(sem, multi01);
	tcase_add_test(sem, mcl01);
	tcase_add_test(sem, bcast);
	tcase_add_test(sem, zeromf);
	tcase_add_test(sem, cparam01);
	tcase_add_test(sem, cparam02);
	tcase_add_test(sem, regescrt);
	tcase_add_test(sem, sdp01);
	tcase_add_test(sem, inv2543);
	suite_add_tcase(s, v);
	suite_add_tcase(s, iv);
	suite_add_tcase(s, sem);
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
