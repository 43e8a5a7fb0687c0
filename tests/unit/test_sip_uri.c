/* sip_uri: sip/sips/tel URIs, hosts, params, headers, escapes, errors. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip_hdr.h"
#include "sip_uri.h"

/* Parses a heap copy of exactly strlen(s) bytes: ASan sees any overread. */
static enum sip_err parse(const char *s, struct sip_uri *u, struct sip_perr *e)
{
	size_t n = strlen(s);
	char *c = malloc(n ? n : 1);
	enum sip_err rc;
	static char keep[16][256];
	static int k;

	ck_assert_ptr_nonnull(c);
	memcpy(c, s, n);
	rc = sip_uri_parse(rp_str_make(c, n), u, e);
	/* Slices must stay valid after return: move them into static storage. */
	ck_assert_uint_lt(n, sizeof(keep[0]));
	memcpy(keep[k], c, n);
	if (rc == SIP_OK) {
		ptrdiff_t d = keep[k] - c;
		rp_str *f[] = { &u->raw, &u->scheme_str, &u->user, &u->password, &u->host,
				&u->hostport, &u->params, &u->headers, &u->opaque,
				&u->transport, &u->maddr, &u->user_param, &u->method,
				&u->ttl_str };
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (f[i]->p)
				f[i]->p += d;
	}
	k = (k + 1) % 16;
	free(c);
	return rc;
}

static bool eq(rp_str s, const char *c)
{
	return rp_str_eq_cstr(s, c);
}

START_TEST(basic_sip)
{
	struct sip_uri u;

	ck_assert_int_eq(parse("sip:alice@atlanta.example.com", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.scheme, SIP_SCHEME_SIP);
	ck_assert(eq(u.user, "alice"));
	ck_assert(eq(u.host, "atlanta.example.com"));
	ck_assert_int_eq(u.host_type, SIP_HOST_FQDN);
	ck_assert(!u.has_port);
	ck_assert_uint_eq(u.port, 0);
	ck_assert_uint_eq(u.params.n, 0);
	ck_assert(!u.has_headers);
	ck_assert_int_eq(u.ttl, -1);
}
END_TEST

START_TEST(sips_password_port)
{
	struct sip_uri u;

	ck_assert_int_eq(parse("SIPS:bob:s3cr%65t@192.0.2.4:5061", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.scheme, SIP_SCHEME_SIPS);
	ck_assert(eq(u.user, "bob"));
	ck_assert(u.has_password);
	ck_assert(eq(u.password, "s3cr%65t"));
	ck_assert(eq(u.host, "192.0.2.4"));
	ck_assert_int_eq(u.host_type, SIP_HOST_IPV4);
	ck_assert(u.has_port);
	ck_assert_uint_eq(u.port, 5061);
}
END_TEST

START_TEST(ipv6_hosts)
{
	struct sip_uri u;
	static const char *ok[] = {
		"sip:[2001:db8::10]", "sip:u@[2001:db8::10]:5070", "sip:[::1]",
		"sip:[::]", "sip:[2001:db8:0:0:0:0:0:1]", "sip:[::ffff:192.0.2.1]",
		"sip:[fe80::1:2:3:4]", "sip:[1::]",
	};
	static const char *bad[] = {
		"sip:[2001:db8::10", "sip:[2001:db8:::1]", "sip:[1:2:3:4:5:6:7:8:9]",
		"sip:[12345::]", "sip:[:1]", "sip:[1:2]", "sip:[::g]", "sip:[]",
		"sip:[::1]x", "sip:[1::2::3]", "sip:[::1]:",
	};

	ck_assert_int_eq(parse("sip:u@[2001:db8::10]:5070;transport=tcp", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.host_type, SIP_HOST_IPV6);
	ck_assert(eq(u.host, "2001:db8::10"));
	ck_assert(eq(u.hostport, "[2001:db8::10]:5070"));
	ck_assert_uint_eq(u.port, 5070);
	ck_assert(eq(u.transport, "tcp"));
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(parse(ok[i], &u, NULL) == SIP_OK, "%s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &u, NULL) == SIP_E_BAD_URI, "%s", bad[i]);
}
END_TEST

START_TEST(hosts)
{
	struct sip_uri u;
	static const char *ok[] = {
		"sip:a.b", "sip:example.com.", "sip:x-y.example.com", "sip:a1.b2c",
		"sip:255.255.255.255", "sip:0.0.0.0:0",
	};
	static const char *bad[] = {
		"sip:", "sip:@example.com", "sip:-a.com", "sip:a-.com", "sip:a..com",
		"sip:1.2.3.4.5", "sip:256.1.1.1", "sip:example.1com", "sip:exa_mple.com",
		"sip:host:65536", "sip:host:12a", "sip:host:", "sip:host:123456",
		"sip:.example.com",
	};

	ck_assert_int_eq(parse("sip:256.1.1.example", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.host_type, SIP_HOST_FQDN);
	ck_assert_int_eq(parse("sip:host:65535", &u, NULL), SIP_OK);
	ck_assert_uint_eq(u.port, 65535);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(parse(ok[i], &u, NULL) == SIP_OK, "%s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &u, NULL) == SIP_E_BAD_URI, "%s", bad[i]);
}
END_TEST

START_TEST(known_params)
{
	struct sip_uri u;
	rp_str it, n, v;
	int count = 0;

	ck_assert_int_eq(parse("sip:p1.example.com;transport=TLS;lr;maddr=239.255.255.1;"
			       "ttl=15;user=phone;method=INVITE;secure;foo=bar;baz", &u, NULL),
			 SIP_OK);
	ck_assert(eq(u.transport, "TLS"));
	ck_assert(u.lr);
	ck_assert(u.secure);
	ck_assert(eq(u.maddr, "239.255.255.1"));
	ck_assert_int_eq(u.ttl, 15);
	ck_assert(eq(u.user_param, "phone"));
	ck_assert(eq(u.method, "INVITE"));
	ck_assert(sip_uri_param_find(u.params, "FOO", &v));
	ck_assert(eq(v, "bar"));
	ck_assert(sip_uri_param_find(u.params, "baz", &v));
	ck_assert_uint_eq(v.n, 0);
	ck_assert(!sip_uri_param_find(u.params, "nope", NULL));
	it = u.params;
	while (sip_uri_param_next(&it, &n, &v) && count < 100)
		count++;
	ck_assert_int_eq(count, 9);
	ck_assert_int_eq(parse("sip:h;ttl=256", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:h;ttl=", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:h;;lr", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:h;a=b=c", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:h;a b", &u, NULL), SIP_E_BAD_URI);
}
END_TEST

START_TEST(uri_headers)
{
	struct sip_uri u;
	rp_str it, n, v;

	ck_assert_int_eq(parse("sip:alice@a.com;lr?subject=project%20x&priority=urgent",
			       &u, NULL), SIP_OK);
	ck_assert(u.lr);
	ck_assert(u.has_headers);
	ck_assert(eq(u.headers, "subject=project%20x&priority=urgent"));
	it = u.headers;
	ck_assert(sip_uri_header_next(&it, &n, &v));
	ck_assert(eq(n, "subject"));
	ck_assert(eq(v, "project%20x"));
	ck_assert(sip_uri_header_next(&it, &n, &v));
	ck_assert(eq(n, "priority"));
	ck_assert(eq(v, "urgent"));
	ck_assert(!sip_uri_header_next(&it, &n, &v));
	ck_assert_int_eq(parse("sip:a.com?", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:a.com?x", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:a.com?x=<", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:a.com?x=1&", &u, NULL), SIP_E_BAD_URI);
}
END_TEST

START_TEST(escapes)
{
	struct sip_uri u;
	struct sip_perr e;
	char out[32];

	ck_assert_int_eq(parse("sip:%61lice@a.com", &u, NULL), SIP_OK);
	ck_assert(sip_uri_part_eq(u.user, RP_STR_LIT("alice")));
	ck_assert(!sip_uri_part_eq(u.user, RP_STR_LIT("Alice")));
	ck_assert_int_eq(sip_unescape(u.user, out, sizeof(out)), 5);
	ck_assert(memcmp(out, "alice", 5) == 0);
	ck_assert_int_eq(sip_unescape(RP_STR_LIT("a%2"), out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(sip_unescape(RP_STR_LIT("a%zz"), out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(sip_unescape(RP_STR_LIT("abcdef"), out, 3), -ENOSPC);
	/* A bad escape, and characters outside the user set, with offsets. */
	ck_assert_int_eq(parse("sip:al%4ice@a.com", &u, &e), SIP_E_BAD_URI);
	ck_assert_uint_eq(e.off, 6);
	ck_assert_int_eq(parse("sip:al ice@a.com", &u, &e), SIP_E_BAD_URI);
	ck_assert_uint_eq(e.off, 6);
	ck_assert_int_eq(parse("sip:al\"ice@a.com", &u, &e), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("sip:a@a.com;p=%", &u, &e), SIP_E_BAD_URI);
	ck_assert_uint_eq(e.off, 14);
	/* user-unreserved characters are fine. */
	ck_assert_int_eq(parse("sip:&=+$,;?/@a.com", &u, NULL), SIP_OK);
	ck_assert(eq(u.user, "&=+$,;?/"));
}
END_TEST

START_TEST(tel_uri)
{
	struct sip_uri u;

	ck_assert_int_eq(parse("tel:+1-201-555-0123", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.scheme, SIP_SCHEME_TEL);
	ck_assert(eq(u.user, "+1-201-555-0123"));
	ck_assert_int_eq(u.host_type, SIP_HOST_NONE);
	ck_assert_int_eq(parse("tel:7042;phone-context=example.com", &u, NULL), SIP_OK);
	ck_assert(eq(u.user, "7042"));
	ck_assert(sip_uri_param_find(u.params, "phone-context", NULL));
	ck_assert_int_eq(parse("tel:", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("tel:12 34", &u, NULL), SIP_E_BAD_URI);
}
END_TEST

START_TEST(schemes)
{
	struct sip_uri u;
	struct sip_perr e;

	ck_assert_int_eq(parse("im:alice@example.com", &u, NULL), SIP_OK);
	ck_assert_int_eq(u.scheme, SIP_SCHEME_OTHER);
	ck_assert(eq(u.opaque, "alice@example.com"));
	ck_assert_int_eq(parse("<sip:a@b.c>", &u, &e), SIP_E_BAD_URI);
	ck_assert_uint_eq(e.off, 0);
	ck_assert_int_eq(parse("sip", &u, &e), SIP_E_BAD_URI);
	ck_assert_uint_eq(e.off, 3);
	ck_assert_int_eq(parse("1sip:a", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("x:a b", &u, NULL), SIP_E_BAD_URI);
	ck_assert_int_eq(parse("", &u, NULL), SIP_E_BAD_URI);
}
END_TEST

START_TEST(hostport_standalone)
{
	rp_str h;
	enum sip_host_type t;
	uint16_t port;
	bool hp;
	size_t off;

	ck_assert_int_eq(sip_hostport_parse(RP_STR_LIT("[::1]:5060"), &h, &t, &port, &hp, &off),
			 SIP_OK);
	ck_assert(eq(h, "::1"));
	ck_assert_int_eq(t, SIP_HOST_IPV6);
	ck_assert_uint_eq(port, 5060);
	ck_assert(hp);
	ck_assert_int_eq(sip_hostport_parse(RP_STR_LIT("a.b:x"), &h, &t, &port, &hp, &off),
			 SIP_E_BAD_URI);
	ck_assert_uint_eq(off, 4);
}
END_TEST

START_TEST(char_classes)
{
	ck_assert(sip_cis('a', SIP_C_TOKEN));
	ck_assert(sip_cis('~', SIP_C_TOKEN));
	ck_assert(!sip_cis(',', SIP_C_TOKEN));
	ck_assert(!sip_cis('\0', SIP_C_TOKEN));
	ck_assert(sip_cis('(', SIP_C_UNRES));
	ck_assert(!sip_cis('@', SIP_C_USER));
	ck_assert(sip_cis('"', SIP_C_WORD));
	ck_assert(!sip_cis((char)0x80, SIP_C_WORD));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip_uri");
	TCase *tc = tcase_create("uri");

	tcase_add_test(tc, basic_sip);
	tcase_add_test(tc, sips_password_port);
	tcase_add_test(tc, ipv6_hosts);
	tcase_add_test(tc, hosts);
	tcase_add_test(tc, known_params);
	tcase_add_test(tc, uri_headers);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, tel_uri);
	tcase_add_test(tc, schemes);
	tcase_add_test(tc, hostport_standalone);
	tcase_add_test(tc, char_classes);
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
