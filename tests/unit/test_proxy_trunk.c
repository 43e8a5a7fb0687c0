/* proxy/trunk: answering a trunk's 401/407. The answer is checked by the
 * server side of proxy/auth (a real challenge from rp_auth_challenge, the
 * credentials verified by rp_auth_verify against the account they must
 * match), the CSeq and header rules of trunk.h, and the dialog table. */
#include "trunk.h"

#include "auth.h"
#include "cfg_prog.h"
#include "rp_arena.h"
#include "sip_msg.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom_inject.h"

#define T0 5000000ull

static struct cfg *cfg;
static rp_auth *au;

static const char req_text[] =
	"INVITE sip:+4930123@carrier.example SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKrp00aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb;rport\r\n"
	"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKcaller\r\n"
	"From: <sip:alice@example.com>;tag=ftag\r\n"
	"To: <sip:+4930123@carrier.example>\r\n"
	"Call-ID: trunk-test-1\r\n"
	"CSeq: 41 INVITE\r\n"
	"Max-Forwards: 69\r\n"
	"Content-Length: 0\r\n\r\n";

static void setup(void)
{
	char ha1[65], text[2048];
	int n;

	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_SHA256, RP_STR_LIT("edge01"),
		RP_STR_LIT("carrier"), RP_STR_LIT("s3cret"), ha1), 0);
	/* One file plays both sides: the trunk we call (outbound credentials)
	 * and, as the carrier, the account those credentials must match. */
	n = snprintf(text, sizeof(text),
		"listen udp 127.0.0.1:5060;\n"
		"user edge01 { realm = \"carrier\"; ha1_sha256 = \"%s\"; }\n"
		"trunk carrier { address = \"192.0.2.9\"; inbound { source = 192.0.2.9; }\n"
		"  outbound { username = \"edge01\"; password = \"s3cret\"; } }\n"
		"trunk nocreds { address = \"192.0.2.10\"; inbound { source = 192.0.2.10; } }\n"
		"route request { reply 503; }\n", ha1);
	ck_assert_int_lt(n, (int)sizeof(text));
	ck_assert_int_eq(cfg_load_string("t.conf", text, (size_t)n, &cfg, NULL), 0);
	ck_assert_int_eq(rp_auth_new(NULL, &au), 0);
}

static void teardown(void)
{
	au = rp_auth_free(au);
	cfg_free(cfg);
	cfg = NULL;
}

static struct sip_msg *parse(const char *buf, size_t len, rp_arena *a)
{
	struct sip_msg *m = NULL;

	ck_assert_int_eq(sip_msg_parse(buf, len, a, NULL, &m, NULL), SIP_OK);
	return m;
}

/* A 401/407 from the carrier for 'req' with a challenge made by rp_auth. */
static struct sip_msg *challenge(const char *req, size_t rlen, bool proxy,
	const char *realm, rp_arena *a)
{
	char hdrs[2048], buf[4096];
	size_t hl;
	struct sip_msg *m = parse(req, rlen, a);
	int n;

	ck_assert_int_eq(rp_auth_challenge(au, rp_str_cstr(realm), proxy, false, T0, hdrs,
		sizeof(hdrs), &hl), 0);
	n = snprintf(buf, sizeof(buf),
		"SIP/2.0 %s\r\nVia: %.*s\r\nFrom: %.*s\r\nTo: %.*s;tag=c1\r\n"
		"Call-ID: %.*s\r\nCSeq: %.*s\r\n%.*sContent-Length: 0\r\n\r\n",
		proxy ? "407 Proxy Authentication Required" : "401 Unauthorized",
		RP_STR_FMT(m->h_via->value), RP_STR_FMT(m->h_from->value),
		RP_STR_FMT(m->h_to->value), RP_STR_FMT(m->call_id),
		RP_STR_FMT(m->h_cseq->value), (int)hl, hdrs);
	ck_assert_int_lt(n, (int)sizeof(buf));
	char *copy = rp_arena_strndup(a, buf, (size_t)n);
	return parse(copy, (size_t)n, a);
}

START_TEST(answer_is_verified_by_the_server_side)
{
	rp_arena a;
	rp_trunk_auth *st = NULL;
	const struct cfg_trunk *t = cfg_trunk_find(cfg, RP_STR_LIT("carrier"));
	char *out = NULL;
	size_t len = 0;
	uint32_t cseq = 0;
	struct sip_msg *m;

	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_ptr_nonnull(t);
	m = challenge(req_text, sizeof(req_text) - 1, true, "carrier", &a);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, t, m, req_text, sizeof(req_text) - 1,
		&out, &len, &cseq), 0);
	ck_assert_uint_eq(cseq, 42);
	m = parse(out, len, &a);
	ck_assert_uint_eq(m->cseq.num, 42);
	ck_assert(rp_str_eq_cstr(m->cseq.method_str, "INVITE"));
	/* Everything else as forwarded: our Via on top, the Request-URI. */
	ck_assert(rp_str_has_prefix_case(m->via.branch, "z9hG4bKrp00aaaa"));
	ck_assert(rp_str_eq_cstr(m->ruri_str, "sip:+4930123@carrier.example"));
	ck_assert_int_lt(sip_msg_find(m, SIP_HDR_AUTHORIZATION, 0), 0);
	struct rp_auth_info info;
	ck_assert_int_eq(rp_auth_verify(au, m, RP_STR_LIT("carrier"), true, cfg, T0 + 10,
		&info), RP_AUTH_OK);
	ck_assert_int_eq(info.alg, RP_DIGEST_SHA256);
	/* The lines for the ACK are the same credentials. */
	rp_str l = rp_trunk_auth_lines(st);
	ck_assert(rp_str_has_prefix_case(l, "Proxy-Authorization: Digest "));
	ck_assert_ptr_nonnull(memmem(out, len, l.p, l.n));

	/* The same realm again at the same address: back to the caller. */
	struct sip_msg *m2 = challenge(out, len, true, "carrier", &a);
	char *out2 = NULL;
	size_t len2 = 0;
	ck_assert_int_eq(rp_trunk_auth_answer(&st, t, m2, out, len, &out2, &len2, &cseq),
		-EALREADY);
	ck_assert_ptr_null(out2);

	/* A second realm (a 401 behind the 407): both lines, CSeq 43. */
	m2 = challenge(out, len, false, "carrier", &a);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, t, m2, out, len, &out2, &len2, &cseq), 0);
	ck_assert_uint_eq(cseq, 43);
	m = parse(out2, len2, &a);
	ck_assert_uint_eq(m->cseq.num, 43);
	ck_assert_int_ge(sip_msg_find(m, SIP_HDR_AUTHORIZATION, 0), 0);
	ck_assert_int_ge(sip_msg_find(m, SIP_HDR_PROXY_AUTHORIZATION, 0), 0);
	ck_assert_int_eq(rp_auth_verify(au, m, RP_STR_LIT("carrier"), false, cfg, T0 + 10,
		NULL), RP_AUTH_OK);
	free(out2);

	/* The next address may challenge the same realm once more; the line
	 * is replaced, not added. */
	rp_trunk_auth_next_address(st);
	m2 = challenge(out, len, true, "carrier", &a);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, t, m2, out, len, &out2, &len2, &cseq), 0);
	ck_assert_uint_eq(cseq, 44);
	m = parse(out2, len2, &a);
	long i = sip_msg_find(m, SIP_HDR_PROXY_AUTHORIZATION, 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(sip_msg_find(m, SIP_HDR_PROXY_AUTHORIZATION, (size_t)i + 1), 0);
	free(out2);
	free(out);
	st = rp_trunk_auth_free(st);
	ck_assert_ptr_null(st);
	rp_arena_fini(&a);
}
END_TEST

START_TEST(no_credentials_or_no_challenge)
{
	rp_arena a;
	rp_trunk_auth *st = NULL;
	char *out = NULL;
	size_t len = 0;
	uint32_t cseq = 0;
	struct sip_msg *m;
	static const char bare[] =
		"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\n"
		"CSeq: 1 INVITE\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", "
		"algorithm=MD5, qop=\"auth-int\"\r\nContent-Length: 0\r\n\r\n";

	rp_arena_init(&a, NULL, 0, 0);
	m = challenge(req_text, sizeof(req_text) - 1, true, "carrier", &a);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, cfg_trunk_find(cfg, RP_STR_LIT("nocreds")),
		m, req_text, sizeof(req_text) - 1, &out, &len, &cseq), -ENOENT);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, NULL, m, req_text, sizeof(req_text) - 1,
		&out, &len, &cseq), -ENOENT);
	/* Only qop=auth-int offered: not answerable. */
	m = parse(bare, sizeof(bare) - 1, &a);
	ck_assert_int_eq(rp_trunk_auth_answer(&st, cfg_trunk_find(cfg, RP_STR_LIT("carrier")),
		m, req_text, sizeof(req_text) - 1, &out, &len, &cseq), -ENOENT);
	ck_assert_ptr_null(st);
	ck_assert_ptr_null(out);
	rp_arena_fini(&a);
}
END_TEST

START_TEST(dialog_table)
{
	rp_trunk_dlgs *d;
	rp_arena a;
	struct rp_trunk_dlg v = { .delta = 1, .trunk = RP_STR_LIT("carrier"),
		.lines = RP_STR_LIT("Proxy-Authorization: Digest x\r\n"), .lines_cseq = 2 };
	struct rp_trunk_dlg got;

	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_int_eq(rp_trunk_dlgs_new(2, 1000, &d), 0);
	ck_assert(!rp_trunk_dlg_get(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), T0, &a, &got));
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), &v, T0), 0);
	ck_assert(rp_trunk_dlg_get(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), T0, &a, &got));
	ck_assert_uint_eq(got.delta, 1);
	ck_assert_uint_eq(got.lines_cseq, 2);
	ck_assert(rp_str_eq_cstr(got.trunk, "carrier"));
	ck_assert(rp_str_eq(got.lines, v.lines));
	/* Keyed by Call-ID and tag: the other side's tag is another dialog. */
	ck_assert(!rp_trunk_dlg_get(d, RP_STR_LIT("c1"), RP_STR_LIT("t2"), T0, &a, &got));
	ck_assert(!rp_trunk_dlg_get(d, RP_STR_LIT("c1t"), RP_STR_LIT("1"), T0, &a, &got));
	/* Replacing keeps one entry. */
	v.delta = 2;
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), &v, T0), 0);
	ck_assert_uint_eq(rp_trunk_dlgs_count(d), 1);
	ck_assert(rp_trunk_dlg_get(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), T0, &a, &got));
	ck_assert_uint_eq(got.delta, 2);
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c2"), RP_STR_LIT("t"), &v, T0), 0);
	/* Full; nothing idle long enough yet. */
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c3"), RP_STR_LIT("t"), &v, T0 + 500),
		-ENOSPC);
	/* c2 used at T0 + 900 stays; c1 (T0) is idle past 1000 ms and goes. */
	ck_assert(rp_trunk_dlg_get(d, RP_STR_LIT("c2"), RP_STR_LIT("t"), T0 + 900, &a, &got));
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c3"), RP_STR_LIT("t"), &v, T0 + 1500),
		0);
	ck_assert(!rp_trunk_dlg_get(d, RP_STR_LIT("c1"), RP_STR_LIT("t1"), T0, &a, &got));
	ck_assert(rp_trunk_dlg_get(d, RP_STR_LIT("c2"), RP_STR_LIT("t"), T0, &a, &got));
	rp_trunk_dlg_del(d, RP_STR_LIT("c2"), RP_STR_LIT("t"));
	rp_trunk_dlg_del(d, RP_STR_LIT("c3"), RP_STR_LIT("t"));
	ck_assert_uint_eq(rp_trunk_dlgs_count(d), 0);
	ck_assert_int_eq(rp_trunk_dlg_set(d, RP_STR_LIT("c4"), RP_STR_NULL, &v, T0), -EINVAL);
	rp_trunk_dlgs_free(d);
	rp_arena_fini(&a);
}
END_TEST

#ifdef OOM_INJECT
/* Every allocation of an answer and of a dialog entry may fail: the result
 * is success or -ENOMEM, a failure changes nothing and leaks nothing. */
START_TEST(every_allocation_may_fail)
{
	const struct cfg_trunk *t = cfg_trunk_find(cfg, RP_STR_LIT("carrier"));
	rp_arena a;
	struct sip_msg *m407, *m401;
	void *probe;
	bool done = false;
	unsigned nfail = 0, nfail2 = 0, nfail3 = 0;

	/* Under valgrind our malloc is replaced by valgrind's: nothing to test. */
	oom_armed = true;
	oom_countdown = 0;
	probe = malloc(16);
	oom_armed = false;
	if (probe) {
		free(probe);
		return;
	}
	rp_arena_init(&a, NULL, 0, 0);
	m407 = challenge(req_text, sizeof(req_text) - 1, true, "carrier", &a);
	m401 = challenge(req_text, sizeof(req_text) - 1, false, "carrier", &a);
	for (long n = 0; n < 2000 && !done; n++) {
		rp_trunk_auth *st = NULL;
		char *out = NULL, *out2 = NULL;
		size_t len = 0, len2 = 0;
		uint32_t cseq = 0;
		int rc;

		/* The first answer, from nothing. */
		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		rc = rp_trunk_auth_answer(&st, t, m407, req_text, sizeof(req_text) - 1, &out,
			&len, &cseq);
		oom_armed = false;
		ck_assert_msg(rc == 0 || rc == -ENOMEM, "n=%ld rc=%d", n, rc);
		if (rc < 0) {
			nfail++;
			ck_assert_ptr_null(st);
			ck_assert_ptr_null(out);
			ck_assert_int_eq(oom_live, 0);
			continue;
		}
		/* A second realm on top: a failure keeps the first answer's state. */
		rp_str before = rp_trunk_auth_lines(st);
		char copy[8192];
		ck_assert_uint_lt(before.n, sizeof(copy));
		memcpy(copy, before.p, before.n);
		long m = n;
		do {
			oom_countdown = m--;
			oom_armed = true;
			rc = rp_trunk_auth_answer(&st, t, m401, out, len, &out2, &len2, &cseq);
			oom_armed = false;
			ck_assert_msg(rc == 0 || rc == -ENOMEM, "n=%ld rc=%d", n, rc);
			if (rc < 0) {
				nfail2++;
				ck_assert_ptr_null(out2);
				ck_assert_uint_eq(rp_trunk_auth_lines(st).n, before.n);
				ck_assert(!memcmp(rp_trunk_auth_lines(st).p, copy, before.n));
			}
		} while (rc < 0 && m >= 0);
		if (rc == 0 && oom_countdown >= 0)
			done = true;   /* no allocation failed any more */
		free(out2);
		free(out);
		rp_trunk_auth_free(st);
	}
	ck_assert(done);
	/* The failures were really injected, in both calls. */
	ck_assert_uint_gt(nfail, 2);
	ck_assert_uint_gt(nfail2, 2);

	/* The dialog table. */
	rp_trunk_dlgs *d;
	struct rp_trunk_dlg v = { .delta = 1, .trunk = RP_STR_LIT("carrier"),
		.lines = RP_STR_LIT("Authorization: Digest x\r\n"), .lines_cseq = 2 };
	ck_assert_int_eq(rp_trunk_dlgs_new(0, 0, &d), 0);
	done = false;
	for (long n = 0; n < 100 && !done; n++) {
		char cid[32];
		int rc;

		snprintf(cid, sizeof(cid), "oom-%ld", n);
		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		rc = rp_trunk_dlg_set(d, rp_str_cstr(cid), RP_STR_LIT("t"), &v, T0);
		oom_armed = false;
		ck_assert_msg(rc == 0 || rc == -ENOMEM, "n=%ld rc=%d", n, rc);
		if (rc < 0) {
			nfail3++;
			ck_assert_int_eq(oom_live, 0);
			ck_assert_uint_eq(rp_trunk_dlgs_count(d), 0);
		} else {
			done = true;
			ck_assert_uint_eq(rp_trunk_dlgs_count(d), 1);
		}
	}
	ck_assert(done);
	ck_assert_uint_ge(nfail3, 3);   /* entry, trunk name, lines (at least) */
	rp_trunk_dlgs_free(d);
	rp_arena_fini(&a);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_trunk");
	TCase *tc = tcase_create("trunk");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, answer_is_verified_by_the_server_side);
	tcase_add_test(tc, no_credentials_or_no_challenge);
	tcase_add_test(tc, dialog_table);
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
