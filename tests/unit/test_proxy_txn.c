/* The transaction layer's state machines (RFC 3261 §17) driven with
 * synthetic messages and a made-up clock: the layer takes "now" from its
 * caller, so these tests run the real timers without sleeping. What the
 * layer sends is captured through its send callback. T1 = 100 ms,
 * T2 = 400 ms, T4 = 500 ms here. */
#include "txn.h"
#include "rp_buf.h"
#include "sip_msg.h"

#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T1 100
#define T2 400
#define T4 500

static rp_txl *l;
static uint64_t now;
static int nsent, nacks, ngone_srv, ngone_cli;
static char last_sent[4096];
static unsigned events[64];
static int nevents;

static int fail_send;

static int cap_send(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len)
{
	(void)arg;
	(void)d;
	if (fail_send)
		return -ECONNREFUSED;
	nsent++;
	if (len >= 4 && !memcmp(buf, "ACK ", 4))
		nacks++;
	snprintf(last_sent, sizeof(last_sent), "%.*s", (int)len, buf);
	return 0;
}

static void on_event(void *arg, rp_txn_cli *c, const struct sip_msg *resp, unsigned code,
	uint64_t t)
{
	(void)arg;
	(void)c;
	(void)t;
	ck_assert(!resp || resp->status == code);
	if (nevents < 64)
		events[nevents++] = code;
}

static void srv_gone(void *arg, rp_txn_srv *s)
{
	(void)arg;
	(void)s;
	ngone_srv++;
}

static void cli_gone(void *arg, rp_txn_cli *c)
{
	(void)arg;
	(void)c;
	ngone_cli++;
}

static const struct rp_txn_ops ops = { cap_send, on_event, srv_gone, cli_gone };

static void setup(void)
{
	struct rp_txn_cfg c = { .t1_ms = T1, .t2_ms = T2, .t4_ms = T4, .shards = 4 };

	ck_assert_int_eq(rp_txn_layer_new(&c, &ops, NULL, &l), 0);
	now = 5000;
	nsent = nacks = ngone_srv = ngone_cli = nevents = fail_send = 0;
}

static void teardown(void)
{
	rp_txn_layer_free(l);
}

static void advance(uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 10) {
		now += 10;
		rp_txn_expire(l, now);
	}
}

/* Parses text into a message living in a static arena slot. */
static char store[4][16384];
static rp_arena arenas[4];
static char bufs[4][4096];
static struct sip_msg *parse(int slot, const char *text)
{
	struct sip_msg *m = NULL;

	snprintf(bufs[slot], sizeof(bufs[slot]), "%s", text);
	rp_arena_init(&arenas[slot], store[slot], sizeof(store[slot]), 0);
	ck_assert_int_eq(sip_msg_parse(bufs[slot], strlen(bufs[slot]), &arenas[slot], NULL,
		&m, NULL), SIP_OK);
	return m;
}

#define REQ(method, branch, cseq) \
	method " sip:bob@192.0.2.2 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=" branch "\r\n" \
	"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: cid\r\n" \
	"CSeq: " cseq "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

#define RESP(code, branch, cseq) \
	"SIP/2.0 " code "\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=" branch "\r\n" \
	"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>;tag=t\r\nCall-ID: cid\r\n" \
	"CSeq: " cseq "\r\nContent-Length: 0\r\n\r\n"

static struct rp_txn_dest udp_dest(void)
{
	struct rp_txn_dest d = { .tp = RP_TP_UDP };

	rp_addr_parse("192.0.2.1", 5060, &d.addr);
	return d;
}

static rp_txn_srv *srv(const char *text, enum rp_tp tp)
{
	struct rp_txn_dest d = udp_dest();
	struct sip_msg *m = parse(0, text);
	unsigned sh = rp_txn_shard_of(l, m->call_id);
	rp_txn_srv *s = NULL;

	d.tp = tp;
	ck_assert_int_eq(rp_txn_srv_new(l, sh, m, &d, 32, now, &s), 0);
	return s;
}

START_TEST(branch_roundtrip)
{
	char b[RP_TXN_BRANCH_LEN], c[RP_TXN_BRANCH_LEN];
	uint64_t lh = 0;

	ck_assert_int_eq(rp_txn_branch(l, 3, 0x1234abcdULL, b), 0);
	ck_assert_int_eq(rp_txn_branch(l, 3, 0x1234abcdULL, c), 0);
	ck_assert(memcmp(b, c, sizeof(b)) != 0);    /* random part differs */
	ck_assert(!memcmp(b, "z9hG4bK", 7));
	ck_assert_int_eq(rp_txn_branch_shard(l, rp_str_make(b, sizeof(b))), 3);
	ck_assert(rp_txn_branch_loop(rp_str_make(b, sizeof(b)), &lh));
	ck_assert_uint_eq(lh, 0x1234abcdULL);
	ck_assert_int_eq(rp_txn_branch_shard(l, RP_STR_LIT("z9hG4bKother")), -1);
	/* Shard out of range for this layer. */
	memcpy(c, b, sizeof(b));
	c[9] = 'f';
	ck_assert_int_eq(rp_txn_branch_shard(l, rp_str_make(c, sizeof(c))), -1);
}
END_TEST

START_TEST(server_invite_non2xx_timer_g_h)
{
	rp_txn_srv *s = srv(REQ("INVITE", "z9hG4bKs1", "1 INVITE"), RP_TP_UDP);
	const char resp[] = "SIP/2.0 486 Busy Here\r\n\r\n";

	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_PROCEEDING);
	ck_assert_int_eq(rp_txn_srv_respond(l, s, 486, resp, sizeof(resp) - 1, now), 0);
	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_COMPLETED);
	ck_assert_int_eq(nsent, 1);
	advance(T1);
	ck_assert_int_eq(nsent, 2);                /* G = T1 */
	advance(2 * T1);
	ck_assert_int_eq(nsent, 3);                /* 2*T1 */
	advance(4 * T1);
	ck_assert_int_eq(nsent, 4);                /* 4*T1 = T2: capped from here */
	advance(T2);
	ck_assert_int_eq(nsent, 5);
	ck_assert_int_eq(ngone_srv, 0);
	advance(64 * T1);                          /* Timer H */
	ck_assert_int_eq(ngone_srv, 1);
	/* A second final is refused. */
}
END_TEST

START_TEST(server_invite_ack_confirms_timer_i)
{
	rp_txn_srv *s = srv(REQ("INVITE", "z9hG4bKs2", "1 INVITE"), RP_TP_UDP);
	const char resp[] = "SIP/2.0 404 Not Found\r\n\r\n";
	struct sip_msg *ack;
	unsigned sh;

	ck_assert_int_eq(rp_txn_srv_respond(l, s, 404, resp, sizeof(resp) - 1, now), 0);
	ck_assert_int_eq(rp_txn_srv_respond(l, s, 500, resp, sizeof(resp) - 1, now),
		-EALREADY);
	ack = parse(1, REQ("ACK", "z9hG4bKs2", "1 ACK"));
	sh = rp_txn_shard_of(l, ack->call_id);
	ck_assert_ptr_eq(rp_txn_srv_find(l, sh, ack, true), s);
	ck_assert_int_eq(rp_txn_srv_absorb(l, s, ack, now), RP_TXN_ACK_ABSORBED);
	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_CONFIRMED);
	int before = nsent;
	advance(T4 - 10);
	ck_assert_int_eq(nsent, before);           /* no more Timer G */
	ck_assert_int_eq(ngone_srv, 0);
	advance(20);                               /* Timer I = T4 */
	ck_assert_int_eq(ngone_srv, 1);
}
END_TEST

START_TEST(server_retransmission_resends_last)
{
	rp_txn_srv *s = srv(REQ("INVITE", "z9hG4bKs3", "1 INVITE"), RP_TP_UDP);
	const char p[] = "SIP/2.0 180 Ringing\r\n\r\n";
	struct sip_msg *re = parse(1, REQ("INVITE", "z9hG4bKs3", "1 INVITE"));
	unsigned sh = rp_txn_shard_of(l, re->call_id);

	ck_assert_ptr_eq(rp_txn_srv_find(l, sh, re, false), s);
	ck_assert_int_eq(rp_txn_srv_absorb(l, s, re, now), RP_TXN_ABSORBED);
	ck_assert_int_eq(nsent, 0);                /* nothing to resend yet */
	rp_txn_srv_respond(l, s, 180, p, sizeof(p) - 1, now);
	rp_txn_srv_absorb(l, s, re, now);
	ck_assert_int_eq(nsent, 2);
	ck_assert_str_eq(last_sent, "SIP/2.0 180 Ringing\r\n\r\n");
	/* A different branch is a different transaction; so is another
	 * method with the same branch, except CANCEL matched as INVITE. */
	struct sip_msg *other = parse(2, REQ("INVITE", "z9hG4bKs3x", "1 INVITE"));
	ck_assert_ptr_null(rp_txn_srv_find(l, sh, other, false));
	struct sip_msg *can = parse(3, REQ("CANCEL", "z9hG4bKs3", "1 CANCEL"));
	ck_assert_ptr_null(rp_txn_srv_find(l, sh, can, false));
	ck_assert_ptr_eq(rp_txn_srv_find(l, sh, can, true), s);
}
END_TEST

START_TEST(server_2xx_accepted_absorbs_quietly)
{
	rp_txn_srv *s = srv(REQ("INVITE", "z9hG4bKs4", "1 INVITE"), RP_TP_UDP);
	const char ok[] = "SIP/2.0 200 OK\r\n\r\n";
	struct sip_msg *re = parse(1, REQ("INVITE", "z9hG4bKs4", "1 INVITE"));
	struct sip_msg *ack = parse(2, REQ("ACK", "z9hG4bKs4", "1 ACK"));

	rp_txn_srv_respond(l, s, 200, ok, sizeof(ok) - 1, now);
	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_ACCEPTED);
	ck_assert_int_eq(rp_txn_srv_absorb(l, s, re, now), RP_TXN_ABSORBED);
	ck_assert_int_eq(nsent, 1);                /* the UAS retransmits 2xx, not us */
	/* The 2xx ACK is end-to-end: the transaction does not take it. */
	ck_assert_int_eq(rp_txn_srv_absorb(l, s, ack, now), RP_TXN_ACK_PASS);
	advance(64 * T1);
	ck_assert_int_eq(ngone_srv, 1);
}
END_TEST

START_TEST(server_non_invite_timer_j_and_reliable)
{
	rp_txn_srv *s = srv(REQ("OPTIONS", "z9hG4bKs5", "1 OPTIONS"), RP_TP_UDP);
	rp_txn_srv *t;
	const char ok[] = "SIP/2.0 200 OK\r\n\r\n";

	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_TRYING);
	rp_txn_srv_respond(l, s, 200, ok, sizeof(ok) - 1, now);
	ck_assert_int_eq(rp_txn_srv_state(s), RP_TXN_COMPLETED);
	advance(64 * T1 - 10);
	ck_assert_int_eq(ngone_srv, 0);
	advance(10);                               /* Timer J = 64*T1 on UDP */
	ck_assert_int_eq(ngone_srv, 1);
	ck_assert_int_eq(nsent, 1);                /* non-INVITE: no Timer G */
	t = srv(REQ("OPTIONS", "z9hG4bKs6", "1 OPTIONS"), RP_TP_TCP);
	rp_txn_srv_respond(l, t, 200, ok, sizeof(ok) - 1, now);
	advance(10);                               /* J = 0 on TCP */
	ck_assert_int_eq(ngone_srv, 2);
}
END_TEST

/* What a server transaction keeps after its final response: not the
 * request (nothing reads it any more), not a 2xx to an INVITE (the UAS
 * retransmits it, RFC 6026), but every other final, for retransmissions. */
START_TEST(server_final_keeps_only_what_retransmissions_need)
{
	const char req_bye[] = REQ("BYE", "z9hG4bKs9", "2 BYE");
	rp_txn_srv *s = srv(req_bye, RP_TP_UDP);
	const char ok[] = "SIP/2.0 200 OK\r\n\r\n";
	const char busy[] = "SIP/2.0 486 Busy Here\r\n\r\n";
	struct sip_msg *re = parse(1, REQ("BYE", "z9hG4bKs9", "2 BYE"));
	const char *p;
	size_t n = 1;

	p = rp_txn_srv_request(s, &n);
	ck_assert_uint_eq(n, sizeof(req_bye) - 1);
	ck_assert(p && !memcmp(p, req_bye, n));
	ck_assert_int_eq(rp_txn_srv_respond(l, s, 200, ok, sizeof(ok) - 1, now), 0);
	ck_assert_ptr_null(rp_txn_srv_request(s, &n));
	ck_assert_uint_eq(n, 0);
	advance(10 * T1);
	ck_assert_int_eq(rp_txn_srv_absorb(l, s, re, now), RP_TXN_ABSORBED);
	ck_assert_int_eq(nsent, 2);                /* the 200 again */
	ck_assert_str_eq(last_sent, ok);

	/* An INVITE's non-2xx final: resent on a retransmission. */
	rp_txn_srv *t = srv(REQ("INVITE", "z9hG4bKs10", "1 INVITE"), RP_TP_TCP);
	struct sip_msg *ri = parse(2, REQ("INVITE", "z9hG4bKs10", "1 INVITE"));

	ck_assert_int_eq(rp_txn_srv_respond(l, t, 486, busy, sizeof(busy) - 1, now), 0);
	ck_assert_ptr_null(rp_txn_srv_request(t, &n));
	ck_assert_int_eq(rp_txn_srv_absorb(l, t, ri, now), RP_TXN_ABSORBED);
	ck_assert_int_eq(nsent, 4);
	ck_assert_str_eq(last_sent, busy);

	/* An INVITE's 2xx: sent once, then a retransmission is absorbed
	 * quietly, and the provisional kept before it is gone too. */
	rp_txn_srv *u = srv(REQ("INVITE", "z9hG4bKs11", "1 INVITE"), RP_TP_UDP);
	struct sip_msg *ru = parse(3, REQ("INVITE", "z9hG4bKs11", "1 INVITE"));
	const char ring[] = "SIP/2.0 180 Ringing\r\n\r\n";

	ck_assert_int_eq(rp_txn_srv_respond(l, u, 180, ring, sizeof(ring) - 1, now), 0);
	ck_assert_int_eq(rp_txn_srv_respond(l, u, 200, ok, sizeof(ok) - 1, now), 0);
	ck_assert_int_eq(nsent, 6);
	ck_assert_int_eq(rp_txn_srv_absorb(l, u, ru, now), RP_TXN_ABSORBED);
	ck_assert_int_eq(nsent, 6);
	ck_assert_int_eq(rp_txn_srv_state(u), RP_TXN_ACCEPTED);
}
END_TEST

START_TEST(server_rfc2543_matching)
{
	rp_txn_srv *s = srv(REQ("INVITE", "old1", "7 INVITE"), RP_TP_UDP);
	struct sip_msg *re = parse(1, REQ("INVITE", "old1", "7 INVITE"));
	struct sip_msg *other = parse(2, REQ("INVITE", "old1", "8 INVITE"));
	unsigned sh = rp_txn_shard_of(l, re->call_id);

	ck_assert_ptr_eq(rp_txn_srv_find(l, sh, re, false), s);
	ck_assert_ptr_null(rp_txn_srv_find(l, sh, other, false));
}
END_TEST

static rp_txn_cli *cli(const char *method_line, enum sip_method m, const char *branch,
	enum rp_tp tp)
{
	char req[1024];
	struct rp_txn_dest d = udp_dest();
	rp_txn_cli *c = NULL;
	int n = snprintf(req, sizeof(req), "%s sip:bob@192.0.2.9 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: cid\r\n"
		"CSeq: 1 %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		method_line, branch, method_line);

	d.tp = tp;
	ck_assert_int_eq(rp_txn_cli_new(l, 0, NULL, m, rp_str_cstr(branch), &d, req,
		(size_t)n, 0, now, &c), 0);
	return c;
}

static void cli_resp(const char *text)
{
	struct sip_msg *m = parse(1, text);
	rp_txn_cli *c = rp_txn_cli_find(l, 0, m);

	if (c)
		rp_txn_cli_response(l, c, m, now);
}

START_TEST(client_invite_timer_a_b)
{
	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc1", RP_TP_UDP);
	ck_assert_int_eq(nsent, 1);
	advance(T1);
	ck_assert_int_eq(nsent, 2);
	advance(2 * T1);
	ck_assert_int_eq(nsent, 3);
	advance(4 * T1);
	ck_assert_int_eq(nsent, 4);
	advance(8 * T1);
	ck_assert_int_eq(nsent, 5);               /* A doubles without a cap */
	ck_assert_int_eq(nevents, 0);
	advance(64 * T1 - 15 * T1);              /* B = 64*T1 */
	ck_assert_int_eq(nevents, 1);
	ck_assert_uint_eq(events[0], 408);
	ck_assert_int_eq(ngone_cli, 1);
}
END_TEST

static void *expire_thread(void *arg)
{
	rp_txn_expire(l, *(uint64_t *)arg);
	return NULL;
}

/* A shard that is locked (a worker inside it) is passed over by the
 * timer pass, at most three times in a row; the fourth pass waits for it. */
START_TEST(expire_passes_over_a_busy_shard)
{
	pthread_t th;
	uint64_t t;

	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKb1", RP_TP_UDP);
	ck_assert_int_eq(nsent, 1);
	t = now + T1;
	rp_txn_lock(l, 0);
	for (int i = 0; i < 3; i++)
		rp_txn_expire(l, t);            /* trylock fails: skipped */
	ck_assert_int_eq(nsent, 1);
	ck_assert_int_eq(pthread_create(&th, NULL, expire_thread, &t), 0);
	rp_txn_unlock(l, 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(nsent, 2);             /* Timer A fired on the fourth */
	/* The count starts again once the shard was taken. */
	t += 2 * T1;
	rp_txn_lock(l, 0);
	rp_txn_expire(l, t);
	ck_assert_int_eq(nsent, 2);
	rp_txn_unlock(l, 0);
	rp_txn_expire(l, t);
	ck_assert_int_eq(nsent, 3);
}
END_TEST

START_TEST(client_invite_reliable_no_retransmit)
{
	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc2", RP_TP_TCP);
	advance(63 * T1);
	ck_assert_int_eq(nsent, 1);
	advance(2 * T1);
	ck_assert_uint_eq(events[0], 408);
}
END_TEST

START_TEST(client_invite_non2xx_acks_and_absorbs)
{
	rp_txn_cli *c = cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc3", RP_TP_UDP);

	cli_resp(RESP("180 Ringing", "z9hG4bKc3", "1 INVITE"));
	ck_assert_int_eq(rp_txn_cli_state(c), RP_TXN_PROCEEDING);
	advance(10 * T1);
	ck_assert_int_eq(nsent, 1);               /* no Timer A once proceeding */
	cli_resp(RESP("486 Busy Here", "z9hG4bKc3", "1 INVITE"));
	ck_assert_int_eq(nacks, 1);
	ck_assert(strstr(last_sent, "ACK sip:bob@192.0.2.9 SIP/2.0\r\n"));
	ck_assert(strstr(last_sent, "branch=z9hG4bKc3"));
	ck_assert(strstr(last_sent, "CSeq: 1 ACK\r\n"));
	ck_assert(strstr(last_sent, "To: <sip:bob@192.0.2.2>;tag=t\r\n"));
	cli_resp(RESP("486 Busy Here", "z9hG4bKc3", "1 INVITE"));
	ck_assert_int_eq(nacks, 2);
	ck_assert_int_eq(nevents, 2);             /* 180 and one 486 */
	ck_assert_uint_eq(events[1], 486);
	advance(32000 - 10);                      /* Timer D >= 32 s on UDP */
	ck_assert_int_eq(ngone_cli, 0);
	advance(20);
	ck_assert_int_eq(ngone_cli, 1);
}
END_TEST

START_TEST(client_invite_2xx_terminates)
{
	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc4", RP_TP_UDP);
	cli_resp(RESP("200 OK", "z9hG4bKc4", "1 INVITE"));
	ck_assert_int_eq(nevents, 1);
	ck_assert_int_eq(nacks, 0);               /* the UAC ACKs a 2xx, not us */
	ck_assert_int_eq(ngone_cli, 1);
	/* A retransmitted 2xx finds no transaction (the core forwards it). */
	cli_resp(RESP("200 OK", "z9hG4bKc4", "1 INVITE"));
	ck_assert_int_eq(nevents, 1);
}
END_TEST

START_TEST(client_non_invite_timer_e_f)
{
	cli("OPTIONS", SIP_METHOD_OPTIONS, "z9hG4bKc5", RP_TP_UDP);
	advance(T1);
	ck_assert_int_eq(nsent, 2);
	advance(2 * T1);
	ck_assert_int_eq(nsent, 3);
	advance(4 * T1);                          /* 4*T1 = T2: capped */
	ck_assert_int_eq(nsent, 4);
	advance(T2);
	ck_assert_int_eq(nsent, 5);
	advance(T2);
	ck_assert_int_eq(nsent, 6);
	advance(64 * T1 - 15 * T1);
	ck_assert_int_eq(nevents, 1);
	ck_assert_uint_eq(events[0], 408);        /* Timer F */
}
END_TEST

/* An extension method we have no name for is relayed like any other
 * (RFC 4475 intmeth): its client transaction keys by the request line's
 * method, so the response's CSeq finds it (it could not be created: 503). */
START_TEST(client_unknown_method)
{
	const char *meth = "!interesting-Method0123456789_*+`.%indeed'~";
	char resp[512];
	rp_txn_cli *c = cli(meth, SIP_METHOD_UNKNOWN, "z9hG4bKc9", RP_TP_UDP);

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(nsent, 1);
	snprintf(resp, sizeof(resp), "SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKc9\r\n"
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>;tag=t\r\nCall-ID: cid\r\n"
		"CSeq: 1 %s\r\nContent-Length: 0\r\n\r\n", meth);
	cli_resp(resp);
	ck_assert_int_eq(nevents, 1);
	ck_assert_uint_eq(events[0], 200);
}
END_TEST

START_TEST(client_non_invite_proceeding_t2_then_k)
{
	rp_txn_cli *c = cli("BYE", SIP_METHOD_BYE, "z9hG4bKc6", RP_TP_UDP);

	cli_resp(RESP("100 Trying", "z9hG4bKc6", "1 BYE"));
	ck_assert_int_eq(rp_txn_cli_state(c), RP_TXN_PROCEEDING);
	advance(T1);                              /* E armed before: T1 */
	ck_assert_int_eq(nsent, 2);
	advance(T2);                              /* then T2 while proceeding */
	ck_assert_int_eq(nsent, 3);
	cli_resp(RESP("200 OK", "z9hG4bKc6", "1 BYE"));
	ck_assert_int_eq(rp_txn_cli_state(c), RP_TXN_COMPLETED);
	cli_resp(RESP("200 OK", "z9hG4bKc6", "1 BYE"));
	ck_assert_int_eq(nevents, 2);             /* 100 and one 200 */
	advance(T4 - 10);
	ck_assert_int_eq(ngone_cli, 0);
	advance(20);                              /* Timer K = T4 */
	ck_assert_int_eq(ngone_cli, 1);
}
END_TEST

START_TEST(client_timer_c)
{
	struct rp_txn_cfg cfgc = { .t1_ms = T1, .shards = 1, .timer_c_ms = 1000 };

	rp_txn_layer_free(l);
	ck_assert_int_eq(rp_txn_layer_new(&cfgc, &ops, NULL, &l), 0);
	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc7", RP_TP_UDP);
	cli_resp(RESP("180 Ringing", "z9hG4bKc7", "1 INVITE"));
	advance(990);
	ck_assert_int_eq(nevents, 1);
	advance(20);
	ck_assert_int_eq(nevents, 2);
	ck_assert_uint_eq(events[1], 0);           /* Timer C: cancel the branch */
	advance(64 * T1);
	ck_assert_int_eq(nevents, 3);
	ck_assert_uint_eq(events[2], 408);
}
END_TEST

START_TEST(client_send_failure_is_503)
{
	struct rp_txn_dest d = udp_dest();
	struct rp_txn_ops o = ops;
	rp_txn_cli *c;

	fail_send = 1;
	cli("INVITE", SIP_METHOD_INVITE, "z9hG4bKc8", RP_TP_TCP);
	ck_assert_int_eq(nevents, 0);              /* reported from the timer, not inline */
	advance(10);
	ck_assert_int_eq(nevents, 1);
	ck_assert_uint_eq(events[0], 503);
	ck_assert_int_eq(ngone_cli, 1);
	/* Bad arguments. */
	ck_assert_int_eq(rp_txn_cli_new(l, 0, NULL, SIP_METHOD_ACK, RP_STR_LIT("z9hG4bKx"),
		&d, "x", 1, 0, now, &c), -EINVAL);
	o.send = NULL;
	rp_txl *bad = NULL;
	ck_assert_int_eq(rp_txn_layer_new(NULL, &o, NULL, &bad), -EINVAL);
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(children_keep_parent_alive)
{
	rp_txn_srv *s = srv(REQ("INVITE", "z9hG4bKp1", "1 INVITE"), RP_TP_UDP);
	struct rp_txn_dest d = udp_dest();
	const char ok[] = "SIP/2.0 200 OK\r\n\r\n";
	rp_txn_cli *c;
	const char req[] = REQ("INVITE", "z9hG4bKp1c", "1 INVITE");

	ck_assert_int_eq(rp_txn_cli_new(l, rp_txn_srv_shard(s), s, SIP_METHOD_INVITE,
		RP_STR_LIT("z9hG4bKp1c"), &d, req, sizeof(req) - 1, 0, now, &c), 0);
	rp_txn_srv_respond(l, s, 200, ok, sizeof(ok) - 1, now);
	rp_txn_srv_terminate(l, s);
	ck_assert_int_eq(ngone_srv, 0);            /* the branch still names it */
	ck_assert_ptr_eq(rp_txn_cli_parent(c), s);
	advance(64 * T1 + 10);                     /* the branch times out */
	ck_assert_int_eq(ngone_cli, 1);
	ck_assert_int_eq(ngone_srv, 1);
}
END_TEST

START_TEST(dump_lists_live_transactions)
{
	rp_buf b;

	srv(REQ("INVITE", "z9hG4bKd1", "1 INVITE"), RP_TP_UDP);
	cli("OPTIONS", SIP_METHOD_OPTIONS, "z9hG4bKd2\x01", RP_TP_UDP);
	rp_buf_init(&b, 0);
	ck_assert_uint_eq(rp_txn_dump(l, &b, 0), 2);
	ck_assert(strstr(rp_buf_cstr(&b), "srv INVITE proceeding udp 192.0.2.1:5060 1 INVITE z9hG4bKd1"));
	ck_assert(strstr(rp_buf_cstr(&b), "cli OPTIONS trying udp 192.0.2.1:5060 z9hG4bKd2?\n"));
	rp_buf_reset(&b);
	ck_assert_uint_eq(rp_txn_dump(l, &b, 1), 1);
	rp_buf_free(&b);
}
END_TEST

/* ---- key wiping: this binary's free() looks into every block it frees ----
 * Sanitizers bring their own allocator: there the check is not registered. */
#if defined(__SANITIZE_ADDRESS__)
#define WIPE_CHECK_UNAVAILABLE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPE_CHECK_UNAVAILABLE 1
#endif
#endif

#ifndef WIPE_CHECK_UNAVAILABLE
#define KEY_MARK "inline:WIPEMEWIPEMEWIPEMEWIPEMEWIPEMEWIPEMEWI"
extern void __libc_free(void *p);
static bool scan_frees;
static unsigned freed_with_key;

void free(void *p)
{
	/* glibc writes its list pointers into the first 16 bytes on free,
	 * after this look. */
	if (p && scan_frees && memmem(p, malloc_usable_size(p), KEY_MARK, strlen(KEY_MARK)))
		freed_with_key++;
	__libc_free(p);
}

#define SDP_KEYED \
	"Content-Type: application/sdp\r\nContent-Length: 87\r\n\r\n" \
	"v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 " KEY_MARK "\r\n"

START_TEST(stored_messages_wiped_on_free)
{
	const char inv[] =
		"INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKw1\r\n"
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>\r\nCall-ID: cidw\r\n"
		"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" SDP_KEYED;
	const char r183[] =
		"SIP/2.0 183 Session Progress\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKw1\r\n"
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>;tag=t\r\nCall-ID: cidw\r\n"
		"CSeq: 1 INVITE\r\n" SDP_KEYED;
	const char r200[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKw1\r\n"
		"From: <sip:a@x>;tag=f\r\nTo: <sip:bob@192.0.2.2>;tag=t\r\nCall-ID: cidw\r\n"
		"CSeq: 1 INVITE\r\n" SDP_KEYED;
	struct rp_txn_dest d = udp_dest();
	rp_txn_cli *c;
	rp_txn_srv *s;
	char *probe;

	/* The look itself works: a block holding the mark is seen. */
	scan_frees = true;
	probe = strdup("x " KEY_MARK);
	ck_assert_ptr_nonnull(probe);
	free(probe);
	ck_assert_uint_eq(freed_with_key, 1);
	freed_with_key = 0;

	s = srv(inv, RP_TP_UDP);
	ck_assert_int_eq(rp_txn_cli_new(l, rp_txn_srv_shard(s), s, SIP_METHOD_INVITE,
		RP_STR_LIT("z9hG4bKw1c"), &d, inv, sizeof(inv) - 1, 0, now, &c), 0);
	/* A provisional answer replaced by the final one: the replaced copy
	 * is given back too. */
	ck_assert_int_eq(rp_txn_srv_respond(l, s, 183, r183, sizeof(r183) - 1, now), 0);
	ck_assert_int_eq(rp_txn_srv_respond(l, s, 200, r200, sizeof(r200) - 1, now), 0);
	rp_txn_srv_terminate(l, s);
	advance(64 * T1 + 10);
	ck_assert_int_eq(ngone_cli, 1);
	ck_assert_int_eq(ngone_srv, 1);
	scan_frees = false;
	ck_assert_uint_eq(freed_with_key, 0);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_txn");
	TCase *tc = tcase_create("txn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, branch_roundtrip);
	tcase_add_test(tc, server_invite_non2xx_timer_g_h);
	tcase_add_test(tc, server_invite_ack_confirms_timer_i);
	tcase_add_test(tc, server_retransmission_resends_last);
	tcase_add_test(tc, server_2xx_accepted_absorbs_quietly);
	tcase_add_test(tc, server_non_invite_timer_j_and_reliable);
	tcase_add_test(tc, server_final_keeps_only_what_retransmissions_need);
	tcase_add_test(tc, server_rfc2543_matching);
	tcase_add_test(tc, client_invite_timer_a_b);
	tcase_add_test(tc, client_invite_reliable_no_retransmit);
	tcase_add_test(tc, expire_passes_over_a_busy_shard);
	tcase_add_test(tc, client_invite_non2xx_acks_and_absorbs);
	tcase_add_test(tc, client_invite_2xx_terminates);
	tcase_add_test(tc, client_non_invite_timer_e_f);
	tcase_add_test(tc, client_unknown_method);
	tcase_add_test(tc, client_non_invite_proceeding_t2_then_k);
	tcase_add_test(tc, client_timer_c);
	tcase_add_test(tc, client_send_failure_is_503);
	tcase_add_test(tc, children_keep_parent_alive);
	tcase_add_test(tc, dump_lists_live_transactions);
#ifndef WIPE_CHECK_UNAVAILABLE
	tcase_add_test(tc, stored_messages_wiped_on_free);
#endif
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
