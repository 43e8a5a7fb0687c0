/* proxy/calls: the call registry and its CDRs. Life cycle (start, find by
 * key / id / mediad session, one end only), what a proxy BYE is built from
 * (From/To swapped toward the caller, CSeq above each side's), the CDR line
 * (parsed by Python's strict json), the policy-refusal classes pinned
 * against the media layer's own refusals, the control listing, and 4
 * threads starting and ending calls at once. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benc.h"
#include "calls.h"
#include "media.h"
#include "rp_metrics.h"

static char dir[64];
static char cdr_path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_calls_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cdr_path, sizeof(cdr_path), "%s/cdr.jsonl", dir);
}

static void teardown(void)
{
	unlink(cdr_path);
	rmdir(dir);
}

static struct rp_call_start start_of(const char *cid, const char *tag)
{
	struct rp_call_start s = {
		.call_id = rp_str_cstr(cid), .from_tag = rp_str_cstr(tag),
		.from_hdr = RP_STR_LIT("<sip:alice@example.com>;tag=a1"),
		.to_hdr = RP_STR_LIT("<sip:bob@example.net>"),
		.from_uri = RP_STR_LIT("sip:alice@example.com"),
		.to_uri = RP_STR_LIT("sip:bob@example.net"),
		.contact_a = RP_STR_LIT("sip:alice@192.0.2.10:5061;transport=tls"),
		.route_a = RP_STR_LIT("<sip:edge.example.com;lr>"),
		.cseq = 10,
		.a = { .tp = RP_TP_TLS, .tls_version = RP_STR_LIT("TLSv1.3"),
		       .tls_cipher = RP_STR_LIT("TLS_AES_128_GCM_SHA256"),
		       .cert_subject = RP_STR_LIT("/CN=pbx.example.com") },
		.dest_a = { .tp = RP_TP_TLS, .flow = true },
		.trunk = RP_STR_LIT("carrier"),
		.now_ms = 1000,
	};

	ck_assert_int_eq(rp_addr_parse("192.0.2.10", 5061, &s.a.peer), 0);
	s.dest_a.addr = s.a.peer;
	ck_assert_int_eq(rp_addr_parse("127.0.0.1", 5061, &s.local), 0);
	return s;
}

static void answer_b(rp_call *c)
{
	struct rp_call_sig b = { .tp = RP_TP_UDP };
	struct rp_txn_dest d = { .tp = RP_TP_UDP };

	ck_assert_int_eq(rp_addr_parse("10.0.0.7", 5060, &b.peer), 0);
	d.addr = b.peer;
	rp_call_set_b(c, &b, &d, RP_STR_LIT("core"));
	rp_call_answered(c, 200, RP_STR_LIT("<sip:bob@example.net>;tag=b9"),
		RP_STR_LIT("sip:bob@10.0.0.7:5060"),
		RP_STR_LIT("<sip:p2.core;lr>, <sip:p3.core;lr>"));
}

/* Runs Python's json on every line of the file with a check expression
 * over 'r' (the record), 'n' (the line count). */
static int py_check(const char *expr)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		"python3 -c 'import json,sys\n"
		"def strict(p):\n"
		"  d={}\n"
		"  for k,v in p:\n"
		"    assert k not in d, k\n"
		"    d[k]=v\n"
		"  return d\n"
		"ls=open(sys.argv[1],\"rb\").read().decode(\"utf-8\").splitlines()\n"
		"n=len(ls)\n"
		"rs=[json.loads(l,object_pairs_hook=strict) for l in ls]\n"
		"r=rs[-1] if rs else None\n"
		"sys.exit(0 if (%s) else 1)' '%s'", expr, cdr_path);
	return system(cmd);
}

START_TEST(start_find_end_once)
{
	rp_calls *t;
	rp_call *c, *c2, *f;
	struct rp_call_start s = start_of("c1@x", "a1");

	ck_assert_int_eq(rp_calls_new(NULL, &t), 0);
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	ck_assert_uint_eq(rp_calls_count(t), 1);
	ck_assert_uint_gt(rp_call_id(c), 0);
	/* The same INVITE again: the existing call. */
	ck_assert_int_eq(rp_calls_start(t, &s, &c2), -EEXIST);
	ck_assert_ptr_eq(c2, c);
	c2 = rp_call_put(c2);
	f = rp_calls_find(t, RP_STR_LIT("c1@x"), RP_STR_LIT("a1"));
	ck_assert_ptr_eq(f, c);
	f = rp_call_put(f);
	ck_assert_ptr_null(rp_calls_find(t, RP_STR_LIT("c1@x"), RP_STR_LIT("a2")));
	ck_assert_ptr_null(rp_calls_find(t, RP_STR_LIT("c2@x"), RP_STR_LIT("a1")));
	f = rp_calls_find_id(t, rp_call_id(c));
	ck_assert_ptr_eq(f, c);
	f = rp_call_put(f);
	ck_assert_ptr_null(rp_calls_find_id(t, rp_call_id(c) + 1));
	ck_assert(!rp_call_answered_p(c));
	ck_assert(rp_calls_end(t, c, 486, "rejected-486"));
	ck_assert(!rp_calls_end(t, c, 0, "caller-bye"));
	ck_assert(rp_call_ended(c));
	ck_assert_uint_eq(rp_calls_count(t), 0);
	ck_assert_ptr_null(rp_calls_find(t, RP_STR_LIT("c1@x"), RP_STR_LIT("a1")));
	/* A new INVITE with the same key after the end is a new call. */
	ck_assert_int_eq(rp_calls_start(t, &s, &c2), 0);
	ck_assert_uint_ne(rp_call_id(c2), rp_call_id(c));
	rp_call_put(c2);
	rp_call_put(c);
	rp_calls_free(t);   /* drops the live one */
}
END_TEST

START_TEST(bye_info_swaps_sides_and_goes_above_cseq)
{
	rp_calls *t;
	rp_call *c;
	struct rp_call_start s = start_of("c1@x", "a1");
	struct rp_call_bye b;
	char buf[2048];

	ck_assert_int_eq(rp_calls_new(NULL, &t), 0);
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	/* No dialog before the 2xx. */
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_A, buf, sizeof(buf), &b), -ENOENT);
	answer_b(c);
	ck_assert(rp_call_answered_p(c));
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_A, buf, sizeof(buf), &b), 0);
	ck_assert_str_eq(b.ruri, "sip:alice@192.0.2.10:5061;transport=tls");
	ck_assert_str_eq(b.from, "<sip:bob@example.net>;tag=b9");
	ck_assert_str_eq(b.to, "<sip:alice@example.com>;tag=a1");
	ck_assert_str_eq(b.route, "<sip:edge.example.com;lr>");
	ck_assert_str_eq(b.call_id, "c1@x");
	ck_assert_uint_eq(b.cseq, 1);          /* the callee sent nothing yet */
	ck_assert_int_eq(b.dest.tp, RP_TP_TLS);
	ck_assert(b.dest.flow);
	rp_call_saw_cseq(c, RP_CALL_B, 7);
	rp_call_saw_cseq(c, RP_CALL_B, 3);     /* lower: ignored */
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_A, buf, sizeof(buf), &b), 0);
	ck_assert_uint_eq(b.cseq, 8);
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_B, buf, sizeof(buf), &b), 0);
	ck_assert_str_eq(b.ruri, "sip:bob@10.0.0.7:5060");
	ck_assert_str_eq(b.from, "<sip:alice@example.com>;tag=a1");
	ck_assert_str_eq(b.to, "<sip:bob@example.net>;tag=b9");
	ck_assert_str_eq(b.route, "<sip:p2.core;lr>, <sip:p3.core;lr>");
	ck_assert_uint_eq(b.cseq, 11);         /* above the INVITE's 10 */
	rp_call_saw_cseq(c, RP_CALL_A, 12);
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_B, buf, sizeof(buf), &b), 0);
	ck_assert_uint_eq(b.cseq, 13);
	ck_assert_int_eq(rp_call_bye_info(c, RP_CALL_B, buf, 20, &b), -ENOSPC);
	rp_call_put(c);
	rp_calls_free(t);
}
END_TEST

START_TEST(cdr_line_has_legs_reason_and_unencrypted)
{
	rp_cdr *cdr;
	rp_cdr_cfg cc = { .path = cdr_path, .fsync_lines = 1 };
	struct rp_calls_cfg kc = { 0 };
	rp_calls *t;
	rp_call *c;
	struct rp_call_start s = start_of("c1@x", "a1");

	ck_assert_int_eq(rp_cdr_open(&cc, &cdr), 0);
	kc.cdr = cdr;
	ck_assert_int_eq(rp_calls_new(&kc, &t), 0);
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	answer_b(c);
	ck_assert(rp_calls_end(t, c, 0, "operator-drop"));
	rp_call_put(c);
	/* Unanswered and rejected. */
	s = start_of("c2@x", "a2");
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	ck_assert(rp_calls_end(t, c, 486, "rejected-486"));
	rp_call_put(c);
	rp_calls_free(t);
	rp_cdr_close(cdr);
	ck_assert_int_eq(py_check(
		"n == 2 and rs[0][\"call_id\"] == \"c1@x\" and rs[0][\"end_reason\"] == \"operator-drop\""
		" and rs[0][\"final_code\"] == 200 and rs[0][\"answer\"] is not None"
		" and rs[0][\"duration_ms\"] is not None and rs[0][\"trunk\"] == \"core\""
		" and rs[0][\"from\"] == \"sip:alice@example.com\" and rs[0][\"to\"] == \"sip:bob@example.net\""
		" and len(rs[0][\"legs\"]) == 2"
		" and rs[0][\"legs\"][0][\"role\"] == \"caller\" and rs[0][\"legs\"][0][\"transport\"] == \"tls\""
		" and rs[0][\"legs\"][0][\"tls_version\"] == \"TLSv1.3\""
		" and rs[0][\"legs\"][0][\"tls_cipher\"] == \"TLS_AES_128_GCM_SHA256\""
		" and rs[0][\"legs\"][0][\"peer_cert_subject\"] == \"/CN=pbx.example.com\""
		" and rs[0][\"legs\"][0][\"peer\"] == \"192.0.2.10:5061\""
		" and rs[0][\"legs\"][1][\"role\"] == \"callee\" and rs[0][\"legs\"][1][\"transport\"] == \"udp\""
		" and rs[0][\"legs\"][1][\"tls_version\"] is None and rs[0][\"legs\"][1][\"media\"] == \"plain\""
		" and rs[0][\"unencrypted\"] is True"
		" and r[\"call_id\"] == \"c2@x\" and r[\"end_reason\"] == \"rejected-486\""
		" and r[\"final_code\"] == 486 and r[\"answer\"] is None and r[\"duration_ms\"] is None"
		" and len(r[\"legs\"]) == 1 and r[\"trunk\"] == \"carrier\""), 0);
}
END_TEST

/* A leg's TLS version, cipher and certificate subject: kept out of line
 * (a plain leg carries none), each cut where it was before (15, 63 and
 * 159 bytes), any of them may be empty on its own, rp_call_set_tls keeps
 * the subject when given none, and the callee's leg has its own. */
START_TEST(tls_details_kept_per_leg_and_cut)
{
	rp_cdr *cdr;
	rp_cdr_cfg cc = { .path = cdr_path, .fsync_lines = 1 };
	struct rp_calls_cfg kc = { 0 };
	rp_calls *t;
	rp_call *c;
	struct rp_call_start s = start_of("t1@x", "a1");
	struct rp_call_sig b = { .tp = RP_TP_TLS, .tls_version = RP_STR_LIT("TLSv1.2"),
		.cert_subject = RP_STR_LIT("/CN=core.example.net") };
	struct rp_txn_dest d = { .tp = RP_TP_TLS };
	char subj[300];

	memset(subj, 'S', sizeof(subj));
	s.a.tls_version = RP_STR_LIT("TLSv1.3-and-much-more-than-fifteen");
	s.a.tls_cipher = RP_STR_NULL;
	s.a.cert_subject = rp_str_make(subj, sizeof(subj));
	ck_assert_int_eq(rp_cdr_open(&cc, &cdr), 0);
	kc.cdr = cdr;
	ck_assert_int_eq(rp_calls_new(&kc, &t), 0);
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	ck_assert_int_eq(rp_addr_parse("10.0.0.7", 5061, &b.peer), 0);
	d.addr = b.peer;
	rp_call_set_b(c, &b, &d, RP_STR_NULL);
	/* New version and cipher for the callee, no subject: the old stays. */
	rp_call_set_tls(c, RP_CALL_B, RP_STR_LIT("TLSv1.3"),
		RP_STR_LIT("TLS_AES_256_GCM_SHA384"), RP_STR_NULL);
	ck_assert(rp_calls_end(t, c, 0, "caller-bye"));
	rp_call_put(c);
	rp_calls_free(t);
	rp_cdr_close(cdr);
	ck_assert_int_eq(py_check(
		"n == 1 and len(r[\"legs\"]) == 2"
		" and r[\"legs\"][0][\"tls_version\"] == \"TLSv1.3-and-muc\""
		" and r[\"legs\"][0][\"tls_cipher\"] is None"
		" and r[\"legs\"][0][\"peer_cert_subject\"] == \"S\" * 159"
		" and r[\"legs\"][1][\"tls_version\"] == \"TLSv1.3\""
		" and r[\"legs\"][1][\"tls_cipher\"] == \"TLS_AES_256_GCM_SHA384\""
		" and r[\"legs\"][1][\"peer_cert_subject\"] == \"/CN=core.example.net\""), 0);
}
END_TEST

/* ---- the media layer's refusals, classified ---- */

static uint64_t next_sess;

static int b_create(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
	struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	(void)arg; (void)label; (void)ip6_a; (void)ip6_b;
	*id = ++next_sess;
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	snprintf(a->address, sizeof(a->address), "203.0.113.1");
	snprintf(b->address, sizeof(b->address), "10.0.0.1");
	a->port = 20000;
	b->port = 20002;
	return 0;
}

static int b_update(void *arg, uint64_t id, const struct rp_mediactl_leg *l)
{
	(void)arg; (void)id; (void)l;
	return 0;
}

static int b_del(void *arg, uint64_t id)
{
	(void)arg; (void)id;
	return 0;
}

static const struct rp_media_backend BE = { b_create, b_update, b_del, NULL, NULL };

#define SDP_HEAD "v=0\r\no=p 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
#define CRYPTO "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"

/* The class of the media layer's refusal of 'sdp' offered by A. */
static enum rp_call_refusal refusal(const struct rp_media_leg_cfg *la,
	const struct rp_media_leg_cfg *lb, const char *sdp)
{
	char store[16384];
	rp_arena a;
	rp_media_call *mc;
	rp_str out;
	int rc;
	enum rp_call_refusal r;

	rp_arena_init(&a, store, sizeof(store), 0);
	ck_assert_int_eq(rp_media_call_new(&BE, RP_STR_LIT("c@x"), RP_STR_LIT("t"), la, lb, &mc), 0);
	rc = rp_media_offer(mc, RP_MEDIA_A, rp_str_cstr(sdp), &a, &out);
	ck_assert(rc == RP_MEDIA_REFUSE || rc == RP_MEDIA_BAD_SDP);
	r = rp_call_refusal_of(rc, rp_media_last_error(mc));
	rp_media_call_free(mc);
	rp_arena_fini(&a);
	return r;
}

START_TEST(policy_refusals_classified)
{
	struct rp_media_leg_cfg la, lb;
	const char *plain = SDP_HEAD "m=audio 4000 RTP/AVP 0\r\n";
	const char *savp = SDP_HEAD "m=audio 4000 RTP/SAVP 0\r\n" CRYPTO;
	const char *savp_bad = SDP_HEAD "m=audio 4000 RTP/SAVP 0\r\n"
		"a=crypto:1 NO_SUCH_SUITE inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

	rp_media_leg_cfg_init(&la, RP_MEDIA_TP_TLS);
	rp_media_leg_cfg_init(&lb, RP_MEDIA_TP_TLS);
	la.policy = CFG_MEDIA_REQUIRE;
	ck_assert_int_eq(refusal(&la, &lb, plain), RP_REFUSAL_SRTP_REQUIRED);
	la.policy = CFG_MEDIA_DISABLE;
	ck_assert_int_eq(refusal(&la, &lb, savp), RP_REFUSAL_SRTP_DISABLED);
	la.policy = CFG_MEDIA_ALLOW;
	ck_assert_int_eq(refusal(&la, &lb, savp_bad), RP_REFUSAL_NO_CRYPTO);
	/* B requires SRTP but its hop is UDP: keys would go in clear. */
	lb.transport = RP_MEDIA_TP_UDP;
	lb.policy = CFG_MEDIA_REQUIRE;
	ck_assert_int_eq(refusal(&la, &lb, plain), RP_REFUSAL_SDES_INSECURE);
	/* secure=true toward a UDP hop. */
	rp_media_leg_cfg_init(&lb, RP_MEDIA_TP_UDP);
	ck_assert(rp_media_leg_cfg_uri(&lb, RP_STR_LIT("sip:bob@x;secure=true")));
	lb.allow_sdes_over_insecure = true;
	ck_assert_int_eq(refusal(&la, &lb, plain), RP_REFUSAL_TLS_REQUIRED);
	/* Not SDP at all. */
	rp_media_leg_cfg_init(&lb, RP_MEDIA_TP_TLS);
	ck_assert_int_eq(refusal(&la, &lb, "this is not sdp"), RP_REFUSAL_BAD_SDP);
	ck_assert_str_eq(rp_call_refusal_name(RP_REFUSAL_SRTP_REQUIRED), "srtp-required");
	ck_assert_int_eq(rp_call_refusal_of(RP_MEDIA_REFUSE, "something new"), RP_REFUSAL_OTHER);
}
END_TEST

START_TEST(refusal_counted_and_ends_with_policy_reason)
{
	rp_metrics *m;
	rp_mval *total, *ref[RP_REFUSAL_COUNT];
	rp_metric *vec;
	struct rp_calls_cfg kc = { 0 };
	rp_cdr *cdr;
	rp_cdr_cfg cc = { .path = cdr_path, .fsync_lines = 1 };
	rp_calls *t;
	rp_call *c;
	struct rp_call_start s = start_of("c1@x", "a1");
	rp_buf out;

	ck_assert_int_eq(rp_metrics_new(&m), 0);
	ck_assert_int_eq(rp_metrics_counter(m, "calls_total", "t", &total), 0);
	ck_assert_int_eq(rp_metrics_counter_vec(m, "refused_total", "r", 1,
		(const char *[]){ "reason" }, RP_REFUSAL_COUNT, &vec), 0);
	for (unsigned i = 0; i < RP_REFUSAL_COUNT; i++)
		ck_assert_int_eq(rp_metric_with(vec, (const char *[]){ rp_call_refusal_name(i) },
			&ref[i]), 0);
	ck_assert_int_eq(rp_cdr_open(&cc, &cdr), 0);
	kc.cdr = cdr;
	kc.total = total;
	memcpy(kc.refused, ref, sizeof(ref));
	ck_assert_int_eq(rp_calls_new(&kc, &t), 0);
	ck_assert_int_eq(rp_calls_start(t, &s, &c), 0);
	ck_assert(rp_calls_refuse(t, c, RP_REFUSAL_SRTP_REQUIRED));
	ck_assert(!rp_calls_refuse(t, c, RP_REFUSAL_SRTP_REQUIRED));   /* once */
	rp_call_put(c);
	ck_assert_uint_eq(rp_mval_get(total), 1);
	ck_assert_uint_eq(rp_mval_get(ref[RP_REFUSAL_SRTP_REQUIRED]), 1);
	ck_assert_uint_eq(rp_mval_get(ref[RP_REFUSAL_SRTP_DISABLED]), 0);
	rp_buf_init(&out, 1 << 20);
	ck_assert_int_eq(rp_metrics_render(m, &out), 0);
	ck_assert_ptr_nonnull(memmem(out.p, out.len, "refused_total{reason=\"srtp-required\"} 1", 39));
	rp_buf_free(&out);
	rp_calls_free(t);
	rp_cdr_close(cdr);
	rp_metrics_free(m);
	ck_assert_int_eq(py_check("n == 1 and r[\"end_reason\"] == \"policy-refused-srtp-required\""
		" and r[\"final_code\"] == 488"), 0);
}
END_TEST

START_TEST(listing_is_bencode_with_every_call)
{
	rp_calls *t;
	rp_call *c[3];
	rp_buf b;
	char store[65536];
	rp_arena a;
	benc_node *d;
	const benc_node *l, *e, *leg;
	rp_str v;
	int64_t n;

	ck_assert_int_eq(rp_calls_new(NULL, &t), 0);
	for (int i = 0; i < 3; i++) {
		char cid[16];
		struct rp_call_start s;

		snprintf(cid, sizeof(cid), "c%d@x", i);
		s = start_of(cid, "a1");
		ck_assert_int_eq(rp_calls_start(t, &s, &c[i]), 0);
	}
	answer_b(c[1]);
	rp_buf_init(&b, 65536);
	benc_put_dict(&b);
	ck_assert_int_eq(rp_calls_put_list(t, &b, 0), 3);
	benc_put_end(&b);
	ck_assert_int_eq(rp_buf_error(&b), 0);
	rp_arena_init(&a, store, sizeof(store), 0);
	ck_assert_int_eq(benc_decode(b.p, b.len, &a, NULL, &d, NULL, NULL), BENC_OK);
	ck_assert_int_eq(benc_get_list(d, "calls", &l, NULL), 0);
	n = 0;
	for (e = benc_first(l); e; e = e->next) {
		int64_t id;

		ck_assert_int_eq(benc_get_int(e, "id", 1, INT64_MAX, &id, NULL), 0);
		ck_assert_int_eq(benc_get_str(e, "from", &v, NULL), 0);
		ck_assert(rp_str_eq_cstr(v, "sip:alice@example.com"));
		ck_assert_int_eq(benc_get_dict(e, "a", &leg, NULL), 0);
		ck_assert_int_eq(benc_get_str(leg, "tls-cipher", &v, NULL), 0);
		ck_assert(rp_str_eq_cstr(v, "TLS_AES_128_GCM_SHA256"));
		ck_assert_int_eq(benc_get_str(leg, "media", &v, NULL), 0);
		ck_assert(rp_str_eq_cstr(v, "none"));   /* no SDP relayed */
		ck_assert_int_eq(benc_get_str(leg, "trunk", &v, NULL), 0);
		ck_assert(rp_str_eq_cstr(v, "carrier"));
		ck_assert_int_eq(benc_get_dict(e, "b", &leg, NULL), 0);
		if ((uint64_t)id == rp_call_id(c[1])) {
			ck_assert_int_eq(benc_get_str(leg, "trunk", &v, NULL), 0);
			ck_assert(rp_str_eq_cstr(v, "core"));
		} else {
			ck_assert_int_eq(benc_get_str(leg, "trunk", &v, NULL), -ENOENT);
		}
		ck_assert_int_eq(benc_get_str(e, "state", &v, NULL), 0);
		ck_assert(rp_str_eq_cstr(v, (uint64_t)id == rp_call_id(c[1]) ? "answered" : "setup"));
		n++;
	}
	ck_assert_int_eq(n, 3);
	rp_arena_fini(&a);
	rp_buf_free(&b);
	/* max bounds it */
	rp_buf_init(&b, 65536);
	ck_assert_int_eq(rp_calls_put_list(t, &b, 2), 2);
	rp_buf_free(&b);
	for (int i = 0; i < 3; i++)
		rp_call_put(c[i]);
	rp_calls_free(t);
}
END_TEST

/* ---- threads ---- */

static rp_calls *T;

static void *churn(void *arg)
{
	int w = (int)(intptr_t)arg;

	for (int i = 0; i < 250; i++) {
		char cid[32];
		struct rp_call_start s;
		rp_call *c, *f;
		enum rp_call_side side = i & 1 ? RP_CALL_A : RP_CALL_B;

		snprintf(cid, sizeof(cid), "w%d-%d@x", w, i);
		s = start_of(cid, "a1");
		ck_assert_int_eq(rp_calls_start(T, &s, &c), 0);
		answer_b(c);
		f = rp_calls_find(T, rp_str_cstr(cid), RP_STR_LIT("a1"));
		ck_assert_ptr_eq(f, c);
		rp_call_saw_cseq(f, side, 20);
		ck_assert(rp_calls_end(T, f, 0, side == RP_CALL_A ? "caller-bye" : "callee-bye"));
		rp_call_put(f);
		rp_call_put(c);
	}
	return NULL;
}

START_TEST(four_threads_start_and_end)
{
	rp_cdr *cdr;
	rp_cdr_cfg cc = { .path = cdr_path };
	struct rp_calls_cfg kc = { 0 };
	pthread_t th[4];

	ck_assert_int_eq(rp_cdr_open(&cc, &cdr), 0);
	kc.cdr = cdr;
	ck_assert_int_eq(rp_calls_new(&kc, &T), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(rp_calls_count(T), 0);
	rp_calls_free(T);
	rp_cdr_close(cdr);
	ck_assert_int_eq(py_check("n == 1000 and len(set(x[\"call_id\"] for x in rs)) == 1000"
		" and sum(1 for x in rs if x[\"end_reason\"] == \"caller-bye\") == 500"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy_calls");
	TCase *tc = tcase_create("calls");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, start_find_end_once);
	tcase_add_test(tc, bye_info_swaps_sides_and_goes_above_cseq);
	tcase_add_test(tc, cdr_line_has_legs_reason_and_unencrypted);
	tcase_add_test(tc, tls_details_kept_per_leg_and_cut);
	tcase_add_test(tc, policy_refusals_classified);
	tcase_add_test(tc, refusal_counted_and_ends_with_policy_reason);
	tcase_add_test(tc, listing_is_bencode_with_every_call);
	tcase_add_test(tc, four_threads_start_and_end);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
