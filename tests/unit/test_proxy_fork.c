/* fork: the response context's decisions (RFC 3261 §16.7) from tables,
 * q groups, and the text of the final response (503 -> 500, 401/407
 * challenges merged). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fork.h"
#include "rp_arena.h"

/* §16.7 step 6: which final response of the branches goes to the caller. */
static const struct {
	const char *name;
	unsigned codes[4];
	bool ours[4];
	int want;
} pick_cases[] = {
	{ "nothing yet", { 0, 0, 0, 0 }, { 0 }, -1 },
	{ "one", { 486, 0, 0, 0 }, { 0 }, 0 },
	{ "6xx beats a lower class", { 486, 603, 0, 0 }, { 0 }, 1 },
	{ "6xx beats 3xx", { 302, 600, 0, 0 }, { 0 }, 1 },
	{ "the first 6xx stays", { 603, 486, 600, 0 }, { 0 }, 0 },
	{ "lowest class: 3xx over 4xx", { 486, 302, 500, 0 }, { 0 }, 1 },
	{ "lowest class: 4xx over 5xx", { 503, 404, 0, 0 }, { 0 }, 1 },
	{ "same class: the first", { 404, 486, 0, 0 }, { 0 }, 0 },
	{ "a peer's answer over our timeout", { 408, 480, 0, 0 }, { true, false }, 1 },
	{ "a peer's 408 is a peer's", { 408, 480, 0, 0 }, { false, false }, 0 },
	{ "401/407 preferred in their class", { 486, 407, 401, 0 }, { 0 }, 1 },
	{ "our 503 (unsent) loses to a 5xx sent", { 503, 500, 0, 0 }, { true, false }, 1 },
	{ "timeouts only", { 408, 408, 0, 0 }, { true, true }, 0 },
	{ "2xx and 1xx are not candidates", { 200, 180, 486, 0 }, { 0 }, 2 },
	{ "unstarted branches skipped", { 0, 0, 0, 487 }, { 0 }, 3 },
};

START_TEST(pick_table)
{
	for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++)
		ck_assert_msg(rp_fork_pick(pick_cases[i].codes, pick_cases[i].ours, 4) ==
			pick_cases[i].want, "%s: got %d, want %d", pick_cases[i].name,
			rp_fork_pick(pick_cases[i].codes, pick_cases[i].ours, 4),
			pick_cases[i].want);
	/* No 'ours' array at all. */
	ck_assert_int_eq(rp_fork_pick((const unsigned[]){ 480, 603 }, NULL, 2), 1);
}
END_TEST

START_TEST(status_out_and_verdicts)
{
	static const struct {
		unsigned code;
		bool answered;
		enum rp_fork_verdict v;
	} t[] = {
		{ 100, false, RP_FORK_DROP },
		{ 180, false, RP_FORK_RELAY },
		{ 183, true, RP_FORK_RELAY },
		{ 200, false, RP_FORK_RELAY_CANCEL },
		{ 202, false, RP_FORK_RELAY_CANCEL },
		{ 200, true, RP_FORK_ABSORB_2XX },
		{ 486, false, RP_FORK_STORE },
		{ 487, true, RP_FORK_STORE },
		{ 503, false, RP_FORK_STORE },
		{ 603, false, RP_FORK_CANCEL_STORE },
		{ 600, true, RP_FORK_CANCEL_STORE },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(rp_fork_on_response(t[i].code, t[i].answered) == t[i].v,
			"%u answered=%d", t[i].code, t[i].answered);
	ck_assert_uint_eq(rp_fork_status_out(503), 500);
	ck_assert_uint_eq(rp_fork_status_out(500), 500);
	ck_assert_uint_eq(rp_fork_status_out(486), 486);
	ck_assert_uint_eq(rp_fork_status_out(603), 603);
}
END_TEST

START_TEST(q_groups)
{
	const unsigned q[] = { 1000, 1000, 500, 100, 100, 100 };

	ck_assert_uint_eq(rp_fork_group_end(q, 6, 0), 2);
	ck_assert_uint_eq(rp_fork_group_end(q, 6, 2), 3);
	ck_assert_uint_eq(rp_fork_group_end(q, 6, 3), 6);
	ck_assert_uint_eq(rp_fork_group_end(q, 6, 6), 6);
	ck_assert_uint_eq(rp_fork_group_end(q, 1, 0), 1);
	ck_assert_uint_eq(rp_fork_group_end((const unsigned[]){ 700, 700, 700 }, 3, 0), 3);
}
END_TEST

START_TEST(branches_and_pending)
{
	struct rp_fork *f = NULL;
	char *req = malloc(64);

	ck_assert_int_eq(rp_fork_new(0, &f), -EINVAL);
	ck_assert_int_eq(rp_fork_new(RP_FORK_MAX_BRANCHES + 1, &f), -EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(rp_fork_new(3, &f), 0);
	memset(req, 'x', 64);
	/* A branch offset that does not fit is refused, and the buffer taken. */
	ck_assert_int_eq(rp_fork_branch_set_request(f, 0, req, 64, 40), -EINVAL);
	req = malloc(64);
	memset(req, 'x', 64);
	ck_assert_int_eq(rp_fork_branch_set_request(f, 0, req, 64, 10), 0);
	f->group_end = 2;
	f->b[0].st = RP_FORK_BR_CALLING;
	f->b[1].st = RP_FORK_BR_RINGING;
	ck_assert_uint_eq(rp_fork_pending(f), 2);
	ck_assert(!rp_fork_all_done(f));
	f->b[0].st = f->b[1].st = RP_FORK_BR_DONE;
	ck_assert_uint_eq(rp_fork_pending(f), 0);
	ck_assert(!rp_fork_all_done(f));   /* the third waits in the next group */
	f->cancelling = true;
	ck_assert(rp_fork_all_done(f));
	ck_assert_int_eq(rp_fork_branch_of(f, NULL), -1);
	ck_assert_str_eq(rp_fork_br_state_name(RP_FORK_BR_RINGING), "ringing");
	ck_assert_ptr_null(rp_fork_free(f));
}
END_TEST

#define R401 \
	"SIP/2.0 401 Unauthorized\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n" \
	"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=%s\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n" \
	"WWW-Authenticate: Digest realm=\"%s\", nonce=\"n\"\r\n" \
	"Content-Length: 0\r\n\r\n"

static struct sip_msg *parse(rp_arena *a, const char *txt)
{
	struct sip_msg *m = NULL;

	ck_assert_int_eq(sip_msg_parse(txt, strlen(txt), a, NULL, &m, NULL), SIP_OK);
	return m;
}

START_TEST(final_text_merges_challenges_and_maps_503)
{
	char store[8192], r1[1024], r2[1024];
	rp_arena a;
	struct rp_fork *f = NULL;
	char *out = NULL;
	size_t n = 0;
	const char *r503 = "SIP/2.0 503 Service Unavailable\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n"
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
		"Retry-After: 30\r\nContent-Length: 3\r\n\r\nabc";

	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	ck_assert_int_eq(rp_fork_new(2, &f), 0);
	snprintf(r1, sizeof(r1), R401, "t1", "one");
	snprintf(r2, sizeof(r2), R401, "t2", "two");
	ck_assert_int_eq(rp_fork_auth_collect(f, parse(&a, r1)), 0);
	ck_assert_int_eq(rp_fork_auth_collect(f, parse(&a, r2)), 0);
	ck_assert_int_eq(rp_fork_final_text(r1, strlen(r1), 401, NULL, f->auth, f->auth_len,
		&out, &n), 0);
	/* Both realms once each, the rest of the first response kept. */
	/* out is not a C string: copy it into one (strndup would read past
	 * it under ASan's strict string checks). */
	char *txt = malloc(n + 1);

	ck_assert_ptr_nonnull(txt);
	memcpy(txt, out, n);
	txt[n] = '\0';
	struct sip_msg *m = parse(&a, txt);

	ck_assert_uint_eq(m->status, 401);
	ck_assert_ptr_nonnull(strstr(txt, "realm=\"one\""));
	ck_assert_ptr_nonnull(strstr(txt, "realm=\"two\""));
	ck_assert_ptr_null(strstr(strstr(txt, "realm=\"one\"") + 1, "realm=\"one\""));
	ck_assert_ptr_nonnull(strstr(txt, "To: <sip:b@x>;tag=t1\r\n"));
	ck_assert(!strncmp(txt, "SIP/2.0 401 Unauthorized\r\n", 26));
	free(txt);
	free(out);
	/* 503 -> 500, everything else (body too) as it was. */
	ck_assert_int_eq(rp_fork_final_text(r503, strlen(r503), 500, "Server Internal Error",
		NULL, 0, &out, &n), 0);
	ck_assert(n >= 35 && !memcmp(out, "SIP/2.0 500 Server Internal Error\r\n", 35));
	ck_assert_ptr_nonnull(memmem(out, n, "Retry-After: 30\r\n", 17));
	ck_assert(n > 3 && !memcmp(out + n - 7, "\r\n\r\nabc", 7));
	free(out);
	/* Not a response; a reason with a line break. */
	const char *inv = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";

	ck_assert_int_eq(rp_fork_final_text(inv, strlen(inv), 500, "x", NULL, 0, &out, &n),
		-EINVAL);
	ck_assert_int_eq(rp_fork_final_text(r503, strlen(r503), 500, "a\r\nX: y", NULL, 0,
		&out, &n), -EINVAL);
	rp_fork_free(f);
	rp_arena_fini(&a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_fork");
	TCase *tc = tcase_create("fork");

	tcase_add_test(tc, pick_table);
	tcase_add_test(tc, status_out_and_verdicts);
	tcase_add_test(tc, q_groups);
	tcase_add_test(tc, branches_and_pending);
	tcase_add_test(tc, final_text_merges_challenges_and_maps_503);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
