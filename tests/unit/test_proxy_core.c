/* The proxy core driven with synthetic messages and the caller's clock:
 * every message the core sends is captured (the send hook is the only
 * seam; parsing, transactions, timers and the routing script are the real
 * ones), and each test checks what went where. Addresses: the proxy is
 * 127.0.0.1:5060 (udp, tcp); the caller 127.0.0.1:5070; the callee
 * 127.0.0.1:5080; trunk addresses 127.0.0.1:7001 and :7002. */
#include "auth.h"
#include "core.h"
#include "media.h"
#include "cfg_prog.h"
#include "sip_msg.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T1 100

static const char cfg_text[] =
	"timer_t1 = 100;\n"
	"domain = \"example.com\";\n"
	"listen udp 127.0.0.1:5060;\n"
	"listen tcp 127.0.0.1:5060;\n"
	"trunk tr {\n"
	"  address = \"127.0.0.1:7001\", \"127.0.0.1:7002\";\n"
	"  inbound { source = 10.9.9.9; }\n"
	"}\n"
	"trunk named {\n"
	"  address = \"localhost:7003\";\n"
	"  inbound { source = 10.9.9.8; }\n"
	"}\n"
	"user dave {\n"
	"  realm = \"rampart\";\n"
	"  ha1_md5 = \"2a0925917c0b0a03f81a7a0d52f0cb6f\";\n"
	"}\n"
	"route request {\n"
	"  if (has_header(\"Route\")) { relay; }\n"
	"  if (method == \"ACK\" || method == \"CANCEL\") { relay; }\n"
	"  if (method == \"REGISTER\" && has_header(\"X-Auth\")) { authenticate; save; }\n"
	"  if (method == \"REGISTER\") { save; }\n"
	"  if (ruri.user == \"authme\") { authenticate; reply 200 \"Authenticated\"; }\n"
	"  if (ruri.user == \"carol\") { if (!lookup()) { reply 404 \"Not Found\"; } relay; }\n"
	"  if (ruri.user == \"carolr\") { record_route; if (lookup()) { relay; } }\n"
	"  if (ruri.user == \"carolp\") {\n"
	"    if (!lookup()) { reply 404 \"Not Found\"; } ruri.param.x = \"1\"; relay;\n"
	"  }\n"
	"  if (ruri.user == \"busy\") { reply 486 \"Busy Here\"; }\n"
	"  if (ruri.user == \"dropme\") { drop; }\n"
	"  if (ruri.user =~ '^trunk') { record_route; relay tr; }\n"
	"  if (ruri.user == \"named\") { relay named; }\n"
	"  if (ruri.user == \"rewrite\") { ruri.host = \"127.0.0.1\"; ruri.port = 5090; }\n"
	"  record_route;\n"
	"  relay;\n"
	"}\n"
	"route failure {\n"
	"  if (status == \"486\" && ruri.user == \"fwdbusy\") {\n"
	"    ruri.port = 5095; relay;\n"
	"  }\n"
	"}\n"
	"route reply {\n"
	"  if (status == \"180\") { add_header(\"X-Seen\", \"yes\"); }\n"
	"}\n";

struct sent {
	struct rp_txn_dest d;
	char *buf;
	size_t len;
};

static struct sent out[256];
static size_t nout;
static rp_core *core;
static struct cfg *cfg;
static uint64_t now;

static int cap_send(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len)
{
	(void)arg;
	ck_assert_uint_lt(nout, 256);
	out[nout].d = *d;
	out[nout].buf = malloc(len + 1);
	memcpy(out[nout].buf, buf, len);
	out[nout].buf[len] = 0;
	out[nout].len = len;
	nout++;
	return 0;
}

static void setup(void)
{
	struct rp_listen l[2];
	struct rp_core_cfg cc = { 0 };

	ck_assert_int_eq(cfg_load_string("t", cfg_text, sizeof(cfg_text) - 1, &cfg, NULL), 0);
	l[0].tp = RP_TP_UDP;
	rp_addr_parse("127.0.0.1", 5060, &l[0].addr);
	l[1].tp = RP_TP_TCP;
	rp_addr_parse("127.0.0.1", 5060, &l[1].addr);
	cc.cfg = cfg;
	cc.listen = l;
	cc.nlisten = 2;
	cc.send = cap_send;
	cc.shards = 4;
	ck_assert_int_eq(rp_core_new(&cc, NULL, &core), 0);
	now = 1000000;
	nout = 0;
}

static void teardown(void)
{
	rp_core_free(core);
	cfg_put(cfg);
	for (size_t i = 0; i < nout; i++)
		free(out[i].buf);
	nout = 0;
}

static void feed_tp(enum rp_tp tp, uint16_t from_port, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void feed_tp(enum rp_tp tp, uint16_t from_port, const char *fmt, ...)
{
	char buf[8192];
	struct rp_msg_info mi = { 0 };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mi.tp = tp;
	rp_addr_parse("127.0.0.1", from_port, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	mi.udp_fd = -1;
	rp_core_handle_at(core, &mi, buf, (size_t)n, now);
}
#define feed(port, ...) feed_tp(RP_TP_UDP, port, __VA_ARGS__)

static void tick(uint64_t ms)
{
	/* Step through so every timer fires at its own time. */
	for (uint64_t t = 0; t < ms; t += 10) {
		now += 10;
		rp_core_tick(core, now);
	}
}

/* Index of the n-th (0-based) message sent to 'port' whose start line
 * begins with 'start', or -1. */
static long find_sent(uint16_t port, const char *start, int nth)
{
	for (size_t i = 0; i < nout; i++)
		if (rp_addr_port(&out[i].d.addr) == port &&
		    !strncmp(out[i].buf, start, strlen(start)) && nth-- == 0)
			return (long)i;
	return -1;
}

static int count_sent(uint16_t port, const char *start)
{
	int n = 0;

	while (find_sent(port, start, n) >= 0)
		n++;
	return n;
}

/* Value of header 'name' in a captured message (first line that starts with it). */
static char *hdr(long idx, const char *name, char *dst, size_t n)
{
	const char *p = out[idx].buf;
	size_t nl = strlen(name);

	dst[0] = 0;
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(dst, n, "%.*s", (int)(e - v), v);
			return dst;
		}
	}
	return dst;
}

/* Branch of the top Via of a captured message. */
static void top_branch(long idx, char *dst, size_t n)
{
	char v[512], *b, *e;

	hdr(idx, "Via", v, sizeof(v));
	b = strstr(v, "branch=");
	ck_assert_ptr_nonnull(b);
	b += 7;
	e = strpbrk(b, ";,");
	snprintf(dst, n, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
}

static int count_hdr(long idx, const char *name)
{
	const char *p = out[idx].buf;
	size_t nl = strlen(name);
	int c = 0;

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':')
			c++;
	}
	return c;
}

#define INVITE(ruri, cid, branch, extra) \
	"INVITE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" branch ";rport\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:alice@example.com>;tag=a1\r\n" \
	"To: <" ruri ">\r\n" \
	"Call-ID: " cid "\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Contact: <sip:alice@127.0.0.1:5070>\r\n" \
	extra \
	"Content-Length: 0\r\n\r\n"

/* To tag respond() and respond_sdp() add, extra header lines respond()
 * puts in, the port respond_sdp()'s callee answers from. */
static const char *resp_tag = "b1";
static uint16_t resp_port = 5080;
static const char *extra_hdr = "";

/* A response from the callee to the forwarded request at out[idx]: its
 * Via lines copied, To tag added. */
static void respond(long idx, uint16_t from_port, unsigned code, const char *reason)
{
	char resp[8192], vias[4096] = "", tmp[1024];
	const char *p = out[idx].buf;
	char to[512], cid[256], cseq[64];

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncmp(p, "Via:", 4)) {
			const char *e = strstr(p, "\r\n");

			snprintf(tmp, sizeof(tmp), "%.*s\r\n", (int)(e - p), p);
			strcat(vias, tmp);
		}
	}
	hdr(idx, "To", to, sizeof(to));
	hdr(idx, "Call-ID", cid, sizeof(cid));
	hdr(idx, "CSeq", cseq, sizeof(cseq));
	int n = snprintf(resp, sizeof(resp),
		"SIP/2.0 %u %s\r\n%sFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: %s%s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n%s%sContent-Length: 0\r\n\r\n",
		code, reason, vias, to, strstr(to, "tag=") ? "" : ";tag=",
		strstr(to, "tag=") ? "" : resp_tag, cid, cseq,
		code >= 200 && code < 300 ? "Contact: <sip:bob@127.0.0.1:5080>\r\n"
			"Record-Route: <sip:127.0.0.1:5060;lr>\r\n" : "", extra_hdr);
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .udp_fd = -1 };

	rp_addr_parse("127.0.0.1", from_port, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	rp_core_handle_at(core, &mi, resp, (size_t)n, now);
}

START_TEST(invite_forwarded_with_via_rr_mf)
{
	char v[512];
	long i;

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c1", "z9hG4bKa1", ""));
	/* 100 Trying back to the caller, at once. */
	i = find_sent(5070, "SIP/2.0 100 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Via", v, sizeof(v)),
		"SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa1;received=127.0.0.1;rport=5070");
	/* The INVITE to the callee. */
	i = find_sent(5080, "INVITE sip:bob@127.0.0.1:5080 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(out[i].buf, "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKrp"));
	ck_assert(strstr(out[i].buf,
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa1;received=127.0.0.1;rport=5070\r\n"));
	ck_assert_str_eq(hdr(i, "Max-Forwards", v, sizeof(v)), "69");
	ck_assert_str_eq(hdr(i, "Record-Route", v, sizeof(v)), "<sip:127.0.0.1:5060;lr>");
	ck_assert_int_eq(count_hdr(i, "Record-Route"), 1);
	ck_assert_int_eq(out[i].d.tp, RP_TP_UDP);
	ck_assert(!out[i].d.reply);
}
END_TEST

START_TEST(invite_retransmission_absorbed)
{
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c2", "z9hG4bKa2", ""));
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c2", "z9hG4bKa2", ""));
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c2", "z9hG4bKa2", ""));
	ck_assert_int_eq(count_sent(5080, "INVITE "), 1);
	/* Each retransmission gets the last response again. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 100 "), 3);
}
END_TEST

START_TEST(full_call_relays_responses)
{
	char v[512], br[64];
	long inv, i;

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c3", "z9hG4bKa3", ""));
	inv = find_sent(5080, "INVITE ", 0);
	respond(inv, 5080, 100, "Trying");
	respond(inv, 5080, 180, "Ringing");
	i = find_sent(5070, "SIP/2.0 180 ", 0);
	ck_assert_int_ge(i, 0);
	/* Our Via is gone; the caller's is the top one again. */
	ck_assert_int_eq(count_hdr(i, "Via"), 1);
	ck_assert(strstr(hdr(i, "Via", v, sizeof(v)), "branch=z9hG4bKa3"));
	/* The callee's 100 is hop-by-hop: not relayed. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 100 "), 1);
	respond(inv, 5080, 200, "OK");
	i = find_sent(5070, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(out[i].d.reply, 1);
	/* The 2xx retransmitted by the callee goes through statelessly. */
	respond(inv, 5080, 200, "OK");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 2);
	/* ACK for the 2xx along the Route set, statelessly; the proxy does
	 * not make one itself. */
	ck_assert_int_eq(count_sent(5080, "ACK "), 0);
	feed(5070, "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack3;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=b1\r\nCall-ID: c3\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "ACK sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "Route"), 0);
	top_branch(i, br, sizeof(br));
	ck_assert(!strncmp(br, "z9hG4bKrs", 9));
	/* BYE in the dialog: Route removed, new transaction. */
	feed(5070, "BYE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbye3;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=b1\r\nCall-ID: c3\r\nCSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "BYE ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "Route"), 0);
	respond(i, 5080, 200, "OK");
	i = find_sent(5070, "SIP/2.0 200 ", 2);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(out[i].buf, "CSeq: 2 BYE"));
}
END_TEST

START_TEST(timer_a_and_b_give_408)
{
	long i;

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c4", "z9hG4bKa4", ""));
	ck_assert_int_eq(count_sent(5080, "INVITE "), 1);
	tick(T1);             /* Timer A: T1 */
	ck_assert_int_eq(count_sent(5080, "INVITE "), 2);
	tick(2 * T1);         /* then 2*T1 */
	ck_assert_int_eq(count_sent(5080, "INVITE "), 3);
	tick(4 * T1);
	ck_assert_int_eq(count_sent(5080, "INVITE "), 4);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
	tick(57 * T1 - 10);   /* Timer B at 64*T1 from the start */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
	tick(10);
	i = find_sent(5070, "SIP/2.0 408 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 1);
	/* Timer G retransmits our 408 until the ACK comes. */
	tick(T1);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 2);
	feed(5070, "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa4;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=x\r\nCall-ID: c4\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	tick(10 * T1);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 2);
	/* The ACK was absorbed, not forwarded. */
	ck_assert_int_eq(count_sent(5080, "ACK "), 0);
}
END_TEST

/* §16.7 step 6 in serial failover: every address answered 503, the best
 * one goes up as 500 (the 503 would tell the caller this proxy is
 * unavailable); the response is still the trunk's (its headers kept). */
START_TEST(failover_all_503_sends_500)
{
	long i1, i2, r;
	char v[256];

	feed(5070, INVITE("sip:trunk2@example.com", "c503", "z9hG4bKa503", ""));
	i1 = find_sent(7001, "INVITE ", 0);
	ck_assert_int_ge(i1, 0);
	respond(i1, 7001, 503, "Service Unavailable");
	i2 = find_sent(7002, "INVITE ", 0);
	ck_assert_int_ge(i2, 0);
	extra_hdr = "Warning: 399 trunk \"all busy\"\r\n";
	respond(i2, 7002, 503, "Service Unavailable");
	extra_hdr = "";
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 503 "), 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 500 "), 1);
	r = find_sent(5070, "SIP/2.0 500 Server Internal Error\r\n", 0);
	ck_assert_int_ge(r, 0);
	ck_assert_str_eq(hdr(r, "Warning", v, sizeof(v)), "399 trunk \"all busy\"");
	ck_assert_str_eq(hdr(r, "CSeq", v, sizeof(v)), "1 INVITE");
}
END_TEST

START_TEST(failover_on_timeout_then_answer)
{
	char b1[64], b2[64];
	long i1, i2, r;

	feed(5070, INVITE("sip:trunk1@example.com", "c5", "z9hG4bKa5", ""));
	i1 = find_sent(7001, "INVITE ", 0);
	ck_assert_int_ge(i1, 0);
	ck_assert_int_eq(count_sent(7002, "INVITE "), 0);
	tick(64 * T1 + 10);
	i2 = find_sent(7002, "INVITE ", 0);
	ck_assert_int_ge(i2, 0);
	top_branch(i1, b1, sizeof(b1));
	top_branch(i2, b2, sizeof(b2));
	ck_assert_str_ne(b1, b2);
	/* No 408 to the caller: the second address is being tried. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
	respond(i2, 7002, 200, "OK");
	r = find_sent(5070, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(r, 0);
	struct rp_core_stats st;
	rp_core_get_stats(core, &st);
	ck_assert_uint_eq(st.failovers, 1);
	ck_assert_uint_eq(st.timeouts, 1);
}
END_TEST

START_TEST(failover_on_503_acks_first)
{
	long i1, a;
	char v[256];

	feed(5070, INVITE("sip:trunk2@example.com", "c6", "z9hG4bKa6", ""));
	i1 = find_sent(7001, "INVITE ", 0);
	respond(i1, 7001, 503, "Service Unavailable");
	a = find_sent(7001, "ACK ", 0);
	ck_assert_int_ge(a, 0);
	ck_assert_str_eq(hdr(a, "CSeq", v, sizeof(v)), "1 ACK");
	ck_assert(strstr(hdr(a, "To", v, sizeof(v)), "tag=b1"));
	ck_assert_int_ge(find_sent(7002, "INVITE ", 0), 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 503 "), 0);
	/* Second address fails with 486: relayed to the caller. */
	respond(find_sent(7002, "INVITE ", 0), 7002, 486, "Busy Here");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 486 ", 0), 0);
}
END_TEST

START_TEST(busy_486_hop_by_hop_ack)
{
	long inv, a, r;
	char v[256], b1[64], b2[64];

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c7", "z9hG4bKa7", ""));
	inv = find_sent(5080, "INVITE ", 0);
	respond(inv, 5080, 486, "Busy Here");
	a = find_sent(5080, "ACK ", 0);
	ck_assert_int_ge(a, 0);
	/* Same branch and Request-URI as the INVITE (§17.1.1.3). */
	top_branch(inv, b1, sizeof(b1));
	top_branch(a, b2, sizeof(b2));
	ck_assert_str_eq(b1, b2);
	ck_assert(!strncmp(out[a].buf, "ACK sip:bob@127.0.0.1:5080 SIP/2.0", 34));
	r = find_sent(5070, "SIP/2.0 486 ", 0);
	ck_assert_int_ge(r, 0);
	/* A retransmitted 486 is ACKed again and not relayed twice. */
	respond(inv, 5080, 486, "Busy Here");
	ck_assert_int_eq(count_sent(5080, "ACK "), 2);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 486 "), 1);
	/* The caller's ACK is absorbed by our server transaction. */
	feed(5070, "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa7;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=b1\r\nCall-ID: c7\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(count_sent(5080, "ACK "), 2);
	ck_assert_str_eq(hdr(r, "CSeq", v, sizeof(v)), "1 INVITE");
}
END_TEST

START_TEST(cancel_before_answer)
{
	long inv, cn, r;
	char b1[64], b2[64];

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c8", "z9hG4bKa8", ""));
	inv = find_sent(5080, "INVITE ", 0);
	respond(inv, 5080, 180, "Ringing");
	feed(5070, "CANCEL sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa8;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: c8\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n");
	r = find_sent(5070, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(r, 0);
	ck_assert(strstr(out[r].buf, "CSeq: 1 CANCEL"));
	cn = find_sent(5080, "CANCEL sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(cn, 0);
	top_branch(inv, b1, sizeof(b1));
	top_branch(cn, b2, sizeof(b2));
	ck_assert_str_eq(b1, b2);
	respond(cn, 5080, 200, "OK");
	respond(inv, 5080, 487, "Request Terminated");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 487 ", 0), 0);
	ck_assert_int_ge(find_sent(5080, "ACK ", 0), 0);
	/* The 200 to the CANCEL is absorbed, not relayed as a second 200. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
}
END_TEST

START_TEST(cancel_before_provisional_waits)
{
	long inv;

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c9", "z9hG4bKa9", ""));
	inv = find_sent(5080, "INVITE ", 0);
	feed(5070, "CANCEL sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa9;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: c9\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n");
	/* §9.1: no CANCEL before a provisional response. */
	ck_assert_int_eq(count_sent(5080, "CANCEL "), 0);
	respond(inv, 5080, 100, "Trying");
	ck_assert_int_eq(count_sent(5080, "CANCEL "), 1);
	/* The callee never answers: Timer C (180 s) and 64*T1 after it the
	 * branch is given up, and the caller gets 487 (it cancelled), not 408. */
	tick(64 * T1 + 10);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 487 "), 0);
	tick(180000 + 64 * T1);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 487 ", 0), 0);
}
END_TEST

START_TEST(cancel_without_txn_481)
{
	feed(5070, "CANCEL sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnone;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: nx\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 481 ", 0), 0);
}
END_TEST

START_TEST(max_forwards_zero_483)
{
	feed(5070, "OPTIONS sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmf;rport\r\n"
		"Max-Forwards: 0\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: mf\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 483 Too Many Hops", 0), 0);
	ck_assert_int_eq(count_sent(5080, "OPTIONS "), 0);
}
END_TEST

START_TEST(max_forwards_added_when_absent)
{
	char v[32];
	long i;

	feed(5070, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnomf\r\n"
		"From: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: nomf\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "MESSAGE ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Max-Forwards", v, sizeof(v)), "70");
	/* No rport asked for and the host is the source: Via unchanged. */
	ck_assert(strstr(out[i].buf, "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnomf\r\n"));
}
END_TEST

START_TEST(loop_detected_482)
{
	long i;

	feed(5070, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKloop\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: loop\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "MESSAGE ", 0);
	ck_assert_int_ge(i, 0);
	/* The same request comes back to us (a loop): same R-URI, tags,
	 * Call-ID and CSeq, our Via in it. */
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .udp_fd = -1 };
	rp_addr_parse("127.0.0.1", 5080, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	char *copy = strdup(out[i].buf);
	rp_core_handle_at(core, &mi, copy, strlen(copy), now);
	free(copy);
	ck_assert_int_ge(find_sent(5080, "SIP/2.0 482 Loop Detected", 0), 0);
	ck_assert_int_eq(count_sent(5080, "MESSAGE "), 1);
}
END_TEST

START_TEST(spiral_is_not_a_loop)
{
	long i;

	/* R-URI rewritten by the script: the request comes back with a
	 * different R-URI, so it is a spiral and goes on. */
	feed(5070, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKrp00aaaaaaaaaaaaaaaa1111111111111111\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsp\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: spiral\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "MESSAGE ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 482 "), 0);
}
END_TEST

START_TEST(malformed_gets_400_with_reason)
{
	long i;

	feed(5070, "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbad\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: bad\r\nCSeq: x INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5070, "SIP/2.0 400 Bad CSeq", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(out[i].buf, "Call-ID: bad\r\n"));
	ck_assert_int_eq(count_sent(5080, "INVITE "), 0);
	/* A broken response is dropped silently. */
	feed(5080, "SIP/2.0 200 OK\r\nVia: garbage\r\n\r\n");
	ck_assert_int_eq(count_sent(5080, "SIP/2.0 "), 0);
	/* The core keeps working. */
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c10", "z9hG4bKa10", ""));
	ck_assert_int_eq(count_sent(5080, "INVITE "), 1);
}
END_TEST

START_TEST(proxy_require_420)
{
	long i;
	char v[64];

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c11", "z9hG4bKa11",
		"Proxy-Require: foo\r\n"));
	i = find_sent(5070, "SIP/2.0 420 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Unsupported", v, sizeof(v)), "foo");
}
END_TEST

START_TEST(require_on_register_and_options_420)
{
	long i;
	char v[64];

	feed(5077, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5077;branch=z9hG4bKrq1\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=d1\r\n"
		"To: <sip:dave@example.com>\r\nCall-ID: rq1\r\nCSeq: 1 REGISTER\r\n"
		"Require: gruu\r\nContact: <sip:dave@127.0.0.1:5077>\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5077, "SIP/2.0 420 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Unsupported", v, sizeof(v)), "gruu");
	feed(5077, "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5077;branch=z9hG4bKrq2\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=d1\r\n"
		"To: <sip:127.0.0.1:5060>\r\nCall-ID: rq2\r\nCSeq: 1 OPTIONS\r\n"
		"Require: foo\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5077, "SIP/2.0 420 ", 1), 0);
	ck_assert_int_eq(count_sent(5077, "SIP/2.0 200 "), 0);
}
END_TEST

START_TEST(loose_route_removes_ours)
{
	long i;
	char v[256];

	feed(5070, "MESSAGE sip:bob@example.org SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKlr\r\n"
		"Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.1:5090;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.org>;tag=b1\r\nCall-ID: lr\r\nCSeq: 5 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5090, "MESSAGE sip:bob@example.org SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Route", v, sizeof(v)), "<sip:127.0.0.1:5090;lr>");
}
END_TEST

/* A UA on a host named in 'domain' (the default configuration's
 * 127.0.0.1, baresip on the same host): the ACK of its 2xx, after our
 * Route value, goes to its Contact. Without a Route of ours the same
 * Request-URI is still taken as ours and not forwarded. */
START_TEST(ack_after_our_route_to_contact_in_local_domain)
{
	static const char text[] =
		"domain = \"127.0.0.1\";\n"
		"listen udp 127.0.0.1:5060;\n"
		"route request { relay; }\n";
	struct rp_listen l = { .tp = RP_TP_UDP };
	struct rp_core_cfg cc = { 0 };

	rp_core_free(core);
	cfg_put(cfg);
	ck_assert_int_eq(cfg_load_string("d", text, sizeof(text) - 1, &cfg, NULL), 0);
	rp_addr_parse("127.0.0.1", 5060, &l.addr);
	cc.cfg = cfg;
	cc.listen = &l;
	cc.nlisten = 1;
	cc.send = cap_send;
	cc.shards = 4;
	ck_assert_int_eq(rp_core_new(&cc, NULL, &core), 0);

	feed(5070, "ACK sip:bob-1@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKackdom;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=b1\r\nCall-ID: ackdom\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5080, "ACK sip:bob-1@127.0.0.1:5080 ", 0), 0);
	feed(5070, "ACK sip:bob-1@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKackdom2;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a2\r\n"
		"To: <sip:bob@127.0.0.1>;tag=b2\r\nCall-ID: ackdom2\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(count_sent(5080, "ACK "), 1);
}
END_TEST

START_TEST(double_route_of_ours_in_one_line)
{
	long i;
	char v[256];

	/* After a double Record-Route both of our entries come back, often
	 * in one Route line; a third value stays. */
	feed_tp(RP_TP_TCP, 40001, "BYE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 127.0.0.1:40001;branch=z9hG4bKdr1\r\n"
		"Route: <sip:127.0.0.1:5060;transport=tcp;lr>, <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.org>;tag=b1\r\nCall-ID: dr1\r\nCSeq: 5 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "BYE sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "Route"), 0);
	feed_tp(RP_TP_TCP, 40001, "BYE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 127.0.0.1:40001;branch=z9hG4bKdr2\r\n"
		"Route: <sip:127.0.0.1:5060;transport=tcp;lr>, <sip:127.0.0.1:5060;lr>, "
		"<sip:127.0.0.1:5091;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.org>;tag=b1\r\nCall-ID: dr2\r\nCSeq: 5 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5091, "BYE sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Route", v, sizeof(v)), "<sip:127.0.0.1:5091;lr>");
}
END_TEST

START_TEST(strict_router_ruri)
{
	long i;

	/* A strict router before us put our RR URI in the Request-URI. */
	feed(5070, "MESSAGE sip:127.0.0.1:5060;lr SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsr\r\n"
		"Route: <sip:bob@127.0.0.1:5080>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.org>;tag=b1\r\nCall-ID: sr\r\nCSeq: 5 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "Route"), 0);
	/* The same for an ACK, which goes on without a transaction. */
	feed(5070, "ACK sip:127.0.0.1:5060;lr SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsra\r\n"
		"Route: <sip:bob@127.0.0.1:5080>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.org>;tag=b1\r\nCall-ID: sra\r\nCSeq: 5 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "ACK sip:bob@127.0.0.1:5080 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "Route"), 0);
}
END_TEST

START_TEST(double_rr_on_transport_change)
{
	long i;
	char v[256];

	feed_tp(RP_TP_TCP, 40000, "INVITE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bKtcp\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: tcp1\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5080, "INVITE ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(out[i].d.tp, RP_TP_UDP);
	ck_assert_int_eq(count_hdr(i, "Record-Route"), 2);
	ck_assert(strstr(out[i].buf, "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Record-Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n"));
	/* Responses go back over TCP to the connection's address, and a
	 * reliable transport gets no retransmissions of the INVITE. */
	respond(i, 5080, 180, "Ringing");
	long r = find_sent(40000, "SIP/2.0 180 ", 0);
	ck_assert_int_ge(r, 0);
	ck_assert_int_eq(out[r].d.tp, RP_TP_TCP);
	ck_assert_int_eq(out[r].d.reply, 1);
	ck_assert(strstr(hdr(r, "Via", v, sizeof(v)), "SIP/2.0/TCP"));
}
END_TEST

START_TEST(script_reply_and_drop)
{
	feed(5070, INVITE("sip:busy@127.0.0.1:5080", "c12", "z9hG4bKa12", ""));
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 486 Busy Here", 0), 0);
	ck_assert_int_eq(count_sent(5080, "INVITE "), 0);
	feed(5070, INVITE("sip:dropme@127.0.0.1:5080", "c13", "z9hG4bKa13", ""));
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 100 "), 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 "), 1);
}
END_TEST

START_TEST(script_rewrites_ruri)
{
	long i;

	feed(5070, INVITE("sip:rewrite@example.com", "c14", "z9hG4bKa14", ""));
	i = find_sent(5090, "INVITE sip:rewrite@127.0.0.1:5090 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
}
END_TEST

START_TEST(options_to_self_200)
{
	long i;
	char v[256];

	feed(5070, "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:127.0.0.1:5060>\r\nCall-ID: opt\r\nCSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5070, "SIP/2.0 200 OK", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(hdr(i, "To", v, sizeof(v)), ";tag=rp"));
}
END_TEST

START_TEST(non_invite_timer_e_and_cached_final)
{
	long i;

	feed(5070, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKme\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: me\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	tick(T1);
	ck_assert_int_eq(count_sent(5080, "MESSAGE "), 2);
	tick(2 * T1);
	ck_assert_int_eq(count_sent(5080, "MESSAGE "), 3);
	i = find_sent(5080, "MESSAGE ", 0);
	respond(i, 5080, 200, "OK");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	tick(10 * T1);
	ck_assert_int_eq(count_sent(5080, "MESSAGE "), 3);
	/* The caller retransmits: it gets the cached 200, nothing is sent on. */
	feed(5070, "MESSAGE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKme\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: me\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 2);
	ck_assert_int_eq(count_sent(5080, "MESSAGE "), 3);
	/* Everything ends: Timer J (64*T1) and K (T4). */
	tick(70 * T1);
	struct rp_core_stats st;
	rp_core_get_stats(core, &st);
	ck_assert_uint_eq(st.server_txns, 0);
	ck_assert_uint_eq(st.client_txns, 0);
}
END_TEST

START_TEST(all_transactions_end)
{
	long inv;

	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c15", "z9hG4bKa15", ""));
	inv = find_sent(5080, "INVITE ", 0);
	respond(inv, 5080, 180, "Ringing");
	respond(inv, 5080, 200, "OK");
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "c16", "z9hG4bKa16", ""));
	respond(find_sent(5080, "INVITE ", 1), 5080, 486, "Busy Here");
	tick(64 * T1 + 10);
	tick(400 * T1);
	struct rp_core_stats st;
	rp_core_get_stats(core, &st);
	ck_assert_uint_eq(st.server_txns, 0);
	ck_assert_uint_eq(st.client_txns, 0);
}
END_TEST

START_TEST(register_then_call_goes_to_source)
{
	long i;
	char v[256];

	feed(5075, "INVITE sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnr;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: nr\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5075, "SIP/2.0 404 ", 0), 0);
	/* carol registers from behind a NAT: her Contact is a private
	 * address, the REGISTER comes from 127.0.0.1:5076. */
	feed(5076, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKreg;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=c1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: reg1\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:carol@10.0.0.5:5062>\r\nExpires: 300\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5076, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(hdr(i, "Contact", v, sizeof(v)), "sip:carol@10.0.0.5:5062"));
	ck_assert(strstr(hdr(i, "Via", v, sizeof(v)), "received=127.0.0.1;rport=5076"));
	feed(5070, "INVITE sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcr;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: cr\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	/* To the contact URI, sent where the REGISTER came from. */
	i = find_sent(5076, "INVITE sip:carol@10.0.0.5:5062 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(!out[i].d.flow);        /* UDP: no connection to reuse */
	/* She registers again over TCP (the newer binding wins): requests
	 * must reuse that connection, never open one. */
	now += 1000;
	feed_tp(RP_TP_TCP, 40077, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.0.0.6:5062;branch=z9hG4bKreg2\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=c2\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: reg2\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:carol@10.0.0.6:5062;transport=tcp>\r\nExpires: 300\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(40077, "SIP/2.0 200 ", 0), 0);
	feed(5070, "MESSAGE sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKer;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: er\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(40077, "MESSAGE sip:carol@10.0.0.6:5062;transport=tcp ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(out[i].d.tp, RP_TP_TCP);
	ck_assert(out[i].d.flow);
}
END_TEST

START_TEST(authenticate_challenges)
{
	long i;
	char v[512];

	feed(5070, INVITE("sip:authme@example.com", "au1", "z9hG4bKau1", ""));
	i = find_sent(5070, "SIP/2.0 407 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert(strstr(hdr(i, "Proxy-Authenticate", v, sizeof(v)), "Digest realm=\"rampart\""));
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 0);
}
END_TEST

/* Takes the challenge of sent message 'ch' into *cl. */
static void pick_challenge(long ch, struct rp_auth_client *cl)
{
	struct sip_msg *m;
	rp_arena a;

	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_int_eq(sip_msg_parse(out[ch].buf, out[ch].len, &a, NULL, &m, NULL), SIP_OK);
	ck_assert_int_eq(rp_auth_client_pick(m, cl), 0);
	rp_arena_fini(&a);
}

/* Sends a REGISTER for 'aor_user' with dave's credentials answering the
 * challenge in *cl (the nc goes up with each use). */
static void register_with_creds(struct rp_auth_client *cl, const char *aor_user,
	const char *cid, int cseq)
{
	char cred[1024];
	size_t n = 0;
	struct rp_auth_creds cr = { .username = "dave", .password = "secret" };

	ck_assert_int_eq(rp_auth_client_authorize(cl, &cr, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:example.com"), NULL, cred, sizeof(cred), &n), 0);
	feed(5077, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5077;branch=z9hG4bKra%s%d;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:%s@example.com>;tag=d1\r\n"
		"To: <sip:%s@example.com>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\n"
		"Contact: <sip:%s@127.0.0.1:5077>\r\nX-Auth: 1\r\n"
		"Authorization: %.*s\r\nContent-Length: 0\r\n\r\n",
		cid, cseq, aor_user, aor_user, cid, cseq, aor_user, (int)n, cred);
}

/* An authenticated account registers only its own AOR (RFC 3261 10.3
 * step 3), and an account with only an MD5 HA1 is re-challenged with MD5
 * alone after answering the SHA-256 challenge (no endless 401 loop). */
START_TEST(register_auth_own_aor_only)
{
	struct rp_auth_client cl;
	long i;
	char v[512];

	feed(5077, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5077;branch=z9hG4bKra0;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=d1\r\n"
		"To: <sip:dave@example.com>\r\nCall-ID: ra0\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:dave@127.0.0.1:5077>\r\nX-Auth: 1\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5077, "SIP/2.0 401 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "WWW-Authenticate"), 2);
	/* The client prefers SHA-256; dave has only an MD5 HA1. */
	pick_challenge(i, &cl);
	ck_assert_int_eq(cl.alg, RP_DIGEST_SHA256);
	register_with_creds(&cl, "dave", "ra1", 1);
	i = find_sent(5077, "SIP/2.0 401 ", 1);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_hdr(i, "WWW-Authenticate"), 1);
	ck_assert(strstr(hdr(i, "WWW-Authenticate", v, sizeof(v)), "MD5") != NULL);
	ck_assert(strstr(v, "SHA-256") == NULL);
	/* Good MD5 credentials, but for someone else's AOR. */
	pick_challenge(i, &cl);
	ck_assert_int_eq(cl.alg, RP_DIGEST_MD5);
	register_with_creds(&cl, "bob", "ra2", 1);
	ck_assert_int_ge(find_sent(5077, "SIP/2.0 403 ", 0), 0);
	ck_assert_int_eq(count_sent(5077, "SIP/2.0 200 "), 0);
	/* The same account for its own AOR. */
	register_with_creds(&cl, "dave", "ra3", 1);
	ck_assert_int_ge(find_sent(5077, "SIP/2.0 200 ", 0), 0);
	rp_auth_client_wipe(&cl);
}
END_TEST

/* Hostile REGISTERs and credentials get a 400 whose reason phrase names
 * what was wrong (found by the hostile-input run: each said only "Bad
 * Request"), and nothing is registered. */
static void reg_refused(int port, const char *hdrs, const char *want)
{
	char cid[32];
	static int k;

	snprintf(cid, sizeof(cid), "hr%d", ++k);
	feed(port, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=h1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: %s\r\nCSeq: 1 REGISTER\r\n"
		"%sContent-Length: 0\r\n\r\n", port, cid, cid, hdrs);
	ck_assert_msg(find_sent(port, want, 0) >= 0, "no '%s' for %s", want, hdrs);
}

START_TEST(hostile_register_400_names_the_problem)
{
	reg_refused(5078, "Contact: <sip:carol@10.0.0.5>\r\nExpires: abc\r\n",
		"SIP/2.0 400 Bad Expires\r\n");
	reg_refused(5079, "Contact: <sip:carol@10.0.0.5>;expires=-1\r\n",
		"SIP/2.0 400 Bad Contact Expires\r\n");
	reg_refused(5081, "Contact: <sip:carol@10.0.0.5>;q=5\r\n",
		"SIP/2.0 400 Bad Contact q\r\n");
	reg_refused(5082, "Contact: *\r\n", "SIP/2.0 400 Bad Wildcard Contact\r\n");
	reg_refused(5083, "Contact: <tel:+15551234>\r\n",
		"SIP/2.0 400 Contact Not A SIP URI\r\n");
	reg_refused(5084, "Contact: <sip:carol@[zz]>\r\n", "SIP/2.0 400 Bad Contact\r\n");
	reg_refused(5085, "Contact: <sip:carol@10.0.0.5>\r\nX-Auth: 1\r\n"
		"Authorization: Digest ,,,,===\"\r\n",
		"SIP/2.0 400 Malformed Credentials\r\n");
	/* Good credentials whose uri is not the Request-URI. */
	{
		struct rp_auth_client cl;
		struct rp_auth_creds cr = { .username = "dave", .password = "secret" };
		char cred[1024], h[1100];
		size_t n = 0;

		reg_refused(5086, "Contact: <sip:dave@10.0.0.5>\r\nX-Auth: 1\r\n",
			"SIP/2.0 401 ");
		pick_challenge(find_sent(5086, "SIP/2.0 401 ", 0), &cl);
		ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("REGISTER"),
			RP_STR_LIT("sip:elsewhere.example.com"), NULL, cred, sizeof(cred), &n), 0);
		snprintf(h, sizeof(h), "Contact: <sip:dave@10.0.0.5>\r\nX-Auth: 1\r\n"
			"Authorization: %.*s\r\n", (int)n, cred);
		reg_refused(5087, h, "SIP/2.0 400 Digest URI Mismatch\r\n");
		rp_auth_client_wipe(&cl);
	}
	ck_assert_int_eq(count_sent(5080, "REGISTER"), 0);
	for (int port = 5078; port <= 5087; port++)
		ck_assert_int_eq(count_sent(port, "SIP/2.0 200 "), 0);
	/* carol has no binding: a call to her is still 404. */
	feed(5070, "INVITE sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKhr;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: hrc\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 404 ", 0), 0);
}
END_TEST

/* A Route value that is not a name-addr (found by the hostile-input run:
 * the request was taken as having no Route, relayed to its Request-URI,
 * here the proxy itself, and the caller never heard back): 400 Bad Route,
 * nothing relayed; an ACK with one is dropped. */
START_TEST(unparsable_route_400)
{
	static const char *const routes[] = { "<garbage>", "garbage", "<sip:[fe80::1>;lr" };

	for (int i = 0; i < 3; i++) {
		size_t before = nout;

		feed(5070, "BYE sip:127.0.0.1:5060 SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbr%d;rport\r\n"
			"Max-Forwards: 70\r\nRoute: %s\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
			"To: <sip:bob@example.com>;tag=b1\r\nCall-ID: br%d\r\nCSeq: 2 BYE\r\n"
			"Content-Length: 0\r\n\r\n", i, routes[i], i);
		ck_assert_msg(find_sent(5070, "SIP/2.0 400 Bad Route\r\n", i) >= 0, "%s", routes[i]);
		ck_assert_uint_eq(nout, before + 1);
	}
	feed(5070, "ACK sip:127.0.0.1:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbra;rport\r\n"
		"Max-Forwards: 70\r\nRoute: <garbage>\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.com>;tag=b1\r\nCall-ID: bra\r\nCSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_eq(count_sent(5060, "ACK "), 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 400 Bad Route"), 3);
	/* A next hop of a family we have no listener for: 503 saying so (it
	 * was 500 Server Internal Error). */
	feed(5070, "BYE sip:127.0.0.1:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbr6;rport\r\n"
		"Max-Forwards: 70\r\nRoute: <sip:[2001:db8::1]:5060;lr>\r\n"
		"From: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@example.com>;tag=b1\r\nCall-ID: br6\r\nCSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 503 No Listener For IPv6\r\n", 0), 0);
}
END_TEST

START_TEST(failure_route_redirects_and_reply_route_edits)
{
	long i, r;
	char v[64];

	feed(5070, INVITE("sip:fwdbusy@127.0.0.1:5080", "fr1", "z9hG4bKfr1", ""));
	i = find_sent(5080, "INVITE ", 0);
	respond(i, 5080, 180, "Ringing");
	r = find_sent(5070, "SIP/2.0 180 ", 0);
	ck_assert_int_ge(r, 0);
	ck_assert_str_eq(hdr(r, "X-Seen", v, sizeof(v)), "yes");
	respond(i, 5080, 486, "Busy Here");
	ck_assert_int_ge(find_sent(5080, "ACK ", 0), 0);
	/* The failure route sent it elsewhere instead of relaying the 486. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 486 "), 0);
	i = find_sent(5095, "INVITE sip:fwdbusy@127.0.0.1:5095 SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 100 "), 1);
	respond(i, 5095, 486, "Busy Here");
	/* Second failure: the route does the same again (at most 4 runs),
	 * then the 486 goes back. */
	for (int k = 1; k < 5; k++) {
		long j = find_sent(5095, "INVITE ", k);

		if (j < 0)
			break;
		respond(j, 5095, 486, "Busy Here");
	}
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 486 ", 0), 0);
	ck_assert_int_le(count_sent(5095, "INVITE "), 4);
}
END_TEST

START_TEST(trunk_name_resolved_at_load)
{
	long i;

	feed(5070, INVITE("sip:named@example.com", "nm1", "z9hG4bKnm1", ""));
	i = find_sent(7003, "INVITE sip:named@example.com SIP/2.0", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(out[i].d.tls_domain, "localhost");
}
END_TEST

START_TEST(overload_503)
{
	struct rp_core_cfg cc = { 0 };
	struct rp_listen l;
	char v[64];
	long i;

	rp_core_free(core);
	l.tp = RP_TP_UDP;
	rp_addr_parse("127.0.0.1", 5060, &l.addr);
	cc.cfg = cfg;
	cc.listen = &l;
	cc.nlisten = 1;
	cc.send = cap_send;
	cc.max_txns = 2;
	ck_assert_int_eq(rp_core_new(&cc, NULL, &core), 0);
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "ov1", "z9hG4bKov1", ""));
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "ov2", "z9hG4bKov2", ""));
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "ov3", "z9hG4bKov3", ""));
	ck_assert_int_eq(count_sent(5080, "INVITE "), 2);
	i = find_sent(5070, "SIP/2.0 503 Server Overloaded", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Retry-After", v, sizeof(v)), "5");
	ck_assert(!strstr(out[find_sent(5080, "INVITE ", 1)].buf, "ov3"));
	/* Once transactions end (Timer B, then H for our 408) there is room. */
	tick(140 * T1);
	size_t before = nout;
	feed(5070, INVITE("sip:bob@127.0.0.1:5080", "ov4", "z9hG4bKov4", ""));
	bool sent = false;
	for (size_t k = before; k < nout; k++)
		if (rp_addr_port(&out[k].d.addr) == 5080 && strstr(out[k].buf, "Call-ID: ov4"))
			sent = true;
	ck_assert(sent);
}
END_TEST

/* ---- media layer wired in (fake mediad: records what it is asked) ---- */

static const char media_cfg_text[] =
	"timer_t1 = 100;\n"
	"listen udp 127.0.0.1:5060;\n"
	"trunk acc {\n"
	"  address = \"127.0.0.1:9\";\n"
	"  inbound { source = 127.0.0.1/32; }\n"
	"  media_encryption = require;\n"
	"  allow_sdes_over_insecure = yes;\n"
	"}\n"
	"trunk core {\n"
	"  address = \"127.0.0.1:5080\";\n"
	"  inbound { source = 10.9.9.9; }\n"
	"  media_encryption = disable;\n"
	"}\n"
	"trunk sec {\n"
	"  address = \"127.0.0.1:5080\";\n"
	"  inbound { source = 10.9.9.8; }\n"
	"  media_encryption = require;\n"
	"}\n"
	"route request {\n"
	"  if (has_header(\"Route\")) { relay; }\n"
	"  if (method == \"ACK\" || method == \"CANCEL\") { relay; }\n"
	"  if (ruri.user == \"sec\") { record_route; relay sec; }\n"
	"  if (method == \"REGISTER\") { save; }\n"
	"  if (ruri.user == \"dana\") { record_route; if (lookup()) { relay; } }\n"
	"  record_route;\n"
	"  relay core;\n"
	"}\n";

static struct {
	int creates, updates, dels, live;
	bool down;
	uint64_t next;
	bool srtp_set_a, srtp_set_b; /* a leg.update set SRTP on leg a / b */
	uint16_t b_port;             /* the last remote port given to leg b */
} fm;

static int fm_create(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
	struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	(void)arg;
	(void)label;
	(void)ip6_a;
	(void)ip6_b;
	if (fm.down)
		return -ECONNREFUSED;
	fm.creates++;
	fm.live++;
	*id = ++fm.next;
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	snprintf(a->address, sizeof(a->address), "192.0.2.50");
	snprintf(b->address, sizeof(b->address), "192.0.2.50");
	a->port = 30000;
	b->port = 30002;
	return 0;
}

static int fm_update(void *arg, uint64_t id, const struct rp_mediactl_leg *l)
{
	(void)arg;
	(void)id;
	if (fm.down)
		return -ECONNREFUSED;
	fm.updates++;
	if (l->leg == 'b' && l->address)
		fm.b_port = l->port;
	if (l->in.op == RP_MEDIACTL_SRTP_SET || l->out.op == RP_MEDIACTL_SRTP_SET) {
		if (l->leg == 'a')
			fm.srtp_set_a = true;
		else
			fm.srtp_set_b = true;
	}
	return 0;
}

static int fm_del(void *arg, uint64_t id)
{
	(void)arg;
	(void)id;
	fm.dels++;
	fm.live--;
	return 0;
}

static const struct rp_media_backend fm_be = {
	.create = fm_create, .update = fm_update, .del = fm_del,
};

static void setup_media(void)
{
	struct rp_listen l[1];
	struct rp_core_cfg cc = { 0 };

	memset(&fm, 0, sizeof(fm));
	ck_assert_int_eq(cfg_load_string("m", media_cfg_text, sizeof(media_cfg_text) - 1,
		&cfg, NULL), 0);
	l[0].tp = RP_TP_UDP;
	rp_addr_parse("127.0.0.1", 5060, &l[0].addr);
	cc.cfg = cfg;
	cc.listen = l;
	cc.nlisten = 1;
	cc.send = cap_send;
	cc.shards = 4;
	cc.media = &fm_be;
	ck_assert_int_eq(rp_core_new(&cc, NULL, &core), 0);
	now = 1000000;
	nout = 0;
}

#define KEY_A "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
#define SDP_SRTP \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
	"m=audio 40000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_A "\r\n"
#define SDP_PLAIN_A \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
	"m=audio 40000 RTP/AVP 0\r\n"
#define SDP_CORE \
	"v=0\r\no=- 2 2 IN IP4 127.0.0.8\r\ns=-\r\nc=IN IP4 127.0.0.8\r\nt=0 0\r\n" \
	"m=audio 42000 RTP/AVP 0\r\n"

static void invite_sdp(const char *user, const char *cid, const char *branch,
	const char *sdp)
{
	feed(5070, "INVITE sip:%s@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=%s;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:%s@127.0.0.1:5080>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@127.0.0.1:5070>\r\n%sContent-Length: %zu\r\n\r\n%s",
		user, branch, user, cid, *sdp ? "Content-Type: application/sdp\r\n" : "",
		strlen(sdp), sdp);
}

/* The callee's response to out[idx] with an SDP body. */
static void respond_sdp(long idx, unsigned code, const char *reason, const char *sdp)
{
	char resp[8192], vias[4096] = "", tmp[1024], to[512], cid[256], cseq[64];
	const char *p = out[idx].buf;

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncmp(p, "Via:", 4)) {
			const char *e = strstr(p, "\r\n");

			snprintf(tmp, sizeof(tmp), "%.*s\r\n", (int)(e - p), p);
			strcat(vias, tmp);
		}
	}
	hdr(idx, "To", to, sizeof(to));
	hdr(idx, "Call-ID", cid, sizeof(cid));
	hdr(idx, "CSeq", cseq, sizeof(cseq));
	int n = snprintf(resp, sizeof(resp),
		"SIP/2.0 %u %s\r\n%sFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: %s%s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
		"Contact: <sip:bob@127.0.0.1:%u>\r\nRecord-Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		code, reason, vias, to, strstr(to, "tag=") ? "" : ";tag=",
		strstr(to, "tag=") ? "" : resp_tag, cid, cseq, resp_port, strlen(sdp), sdp);
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .udp_fd = -1 };

	rp_addr_parse("127.0.0.1", resp_port, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	rp_core_handle_at(core, &mi, resp, (size_t)n, now);
}

START_TEST(media_srtp_bridged_to_plain_core)
{
	long i, j;
	char key[128] = "";
	const char *k;

	invite_sdp("bob", "m1@x", "z9hG4bKm1", SDP_SRTP);
	i = find_sent(5080, "INVITE ", 0);
	ck_assert_int_ge(i, 0);
	/* Toward the plain core: mediad's address, RTP/AVP, no key at all. */
	ck_assert_ptr_nonnull(strstr(out[i].buf, "c=IN IP4 192.0.2.50"));
	ck_assert_ptr_nonnull(strstr(out[i].buf, "m=audio 30002 RTP/AVP"));
	ck_assert_ptr_null(strstr(out[i].buf, "a=crypto"));
	ck_assert_ptr_null(strstr(out[i].buf, KEY_A));
	ck_assert_int_eq(fm.creates, 1);

	respond_sdp(i, 200, "OK", SDP_CORE);
	j = find_sent(5070, "SIP/2.0 200", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_ptr_nonnull(strstr(out[j].buf, "m=audio 30000 RTP/SAVP"));
	k = strstr(out[j].buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:");
	ck_assert_ptr_nonnull(k);
	snprintf(key, sizeof(key), "%.40s", k + 41);
	ck_assert_ptr_null(strstr(out[j].buf, KEY_A));
	ck_assert_ptr_null(strstr(out[j].buf, "42000"));
	ck_assert(fm.srtp_set_a);
	ck_assert(!fm.srtp_set_b);

	/* A retransmitted 200 (stateless path) gets the same rewritten body. */
	respond_sdp(i, 200, "OK", SDP_CORE);
	j = find_sent(5070, "SIP/2.0 200", 1);
	ck_assert_int_ge(j, 0);
	ck_assert_ptr_nonnull(strstr(out[j].buf, key));
	ck_assert_ptr_null(strstr(out[j].buf, "42000"));

	/* BYE from the caller ends the media. */
	feed(5070, "BYE sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKm1b;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=b1\r\nCall-ID: m1@x\r\nCSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5080, "BYE ", 0), 0);
	ck_assert_int_eq(fm.dels, 1);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

START_TEST(media_plain_offer_to_require_488)
{
	long i;
	char r[128];

	invite_sdp("bob", "m2@x", "z9hG4bKm2", SDP_PLAIN_A);
	i = find_sent(5070, "SIP/2.0 488", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Reason", r, sizeof(r)), "Q.850;cause=88");
	ck_assert_int_eq(count_sent(5080, "INVITE "), 0);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

START_TEST(media_no_keys_over_udp_488)
{
	long i;
	char r[128];

	invite_sdp("sec", "m3@x", "z9hG4bKm3", SDP_SRTP);
	i = find_sent(5070, "SIP/2.0 488", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Reason", r, sizeof(r)), "Q.850;cause=88");
	ck_assert_int_eq(count_sent(5080, "INVITE "), 0);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

START_TEST(media_cancel_and_error_end_the_session)
{
	long i;

	invite_sdp("bob", "m4@x", "z9hG4bKm4", SDP_SRTP);
	i = find_sent(5080, "INVITE ", 0);
	ck_assert_int_ge(i, 0);
	respond(i, 5080, 180, "Ringing");
	ck_assert_int_eq(fm.live, 1);
	feed(5070, "CANCEL sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKm4;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>\r\nCall-ID: m4@x\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n");
	/* The session ends with the INVITE's final answer, not at the CANCEL:
	 * a 2xx that crossed the CANCEL keeps the call (sipfuzz seed 14). */
	ck_assert_int_eq(fm.live, 1);
	ck_assert_int_ge(find_sent(5080, "CANCEL ", 0), 0);
	respond(i, 5080, 487, "Request Terminated");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 487", 0), 0);
	ck_assert_int_eq(fm.live, 0);

	/* A final error to the INVITE ends it too. */
	invite_sdp("bob", "m5@x", "z9hG4bKm5", SDP_SRTP);
	i = find_sent(5080, "INVITE ", 1);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(fm.live, 1);
	respond(i, 5080, 486, "Busy Here");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 486", 0), 0);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

START_TEST(media_relay_down_503_plain_calls_pass)
{
	long i;
	char r[64];

	fm.down = true;
	invite_sdp("bob", "m6@x", "z9hG4bKm6", SDP_SRTP);
	i = find_sent(5070, "SIP/2.0 503", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(hdr(i, "Retry-After", r, sizeof(r)), "5");
	ck_assert_int_eq(count_sent(5080, "INVITE "), 0);
	invite_sdp("bob", "m7@x", "z9hG4bKm7", "");
	ck_assert_int_eq(count_sent(5080, "INVITE "), 1);
}
END_TEST

START_TEST(media_late_offer_answered_in_ack)
{
	long i, j;
	char ack[2048];
	int n;

	invite_sdp("bob", "m8@x", "z9hG4bKm8", "");
	i = find_sent(5080, "INVITE ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(fm.creates, 0);
	respond_sdp(i, 200, "OK", SDP_CORE);    /* the offer, from B */
	j = find_sent(5070, "SIP/2.0 200", 0);
	ck_assert_int_ge(j, 0);
	/* Toward the require side: SRTP with our key (its trunk allows SDES
	 * over UDP). */
	ck_assert_ptr_nonnull(strstr(out[j].buf, "m=audio 30000 RTP/SAVP"));
	ck_assert_ptr_nonnull(strstr(out[j].buf, "a=crypto:"));
	n = snprintf(ack, sizeof(ack), "ACK sip:bob@127.0.0.1:5080 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKm8a;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1:5080>;tag=b1\r\nCall-ID: m8@x\r\nCSeq: 1 ACK\r\n"
		"Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		strlen(SDP_SRTP), SDP_SRTP);
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .udp_fd = -1 };

	rp_addr_parse("127.0.0.1", 5070, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	rp_core_handle_at(core, &mi, ack, (size_t)n, now);
	i = find_sent(5080, "ACK ", 0);
	ck_assert_int_ge(i, 0);
	/* The answer toward the plain core: mediad, RTP/AVP, no key. */
	ck_assert_ptr_nonnull(strstr(out[i].buf, "m=audio 30002 RTP/AVP"));
	ck_assert_ptr_null(strstr(out[i].buf, "a=crypto"));
	ck_assert(fm.srtp_set_a);
	ck_assert_int_eq(fm.live, 1);
}
END_TEST

START_TEST(media_timeout_ends_and_callee_reinvite_is_side_b)
{
	long i, j;
	char ri[4096];
	int n;

	/* No answer at all: Timer B's 408 ends the session. */
	invite_sdp("bob", "m9@x", "z9hG4bKm9", SDP_SRTP);
	ck_assert_int_eq(fm.live, 1);
	tick(64 * T1 + 500);
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 408", 0), 0);
	ck_assert_int_eq(fm.live, 0);

	/* An answered call; then the callee re-INVITEs (side B offers). */
	invite_sdp("bob", "m10@x", "z9hG4bKm10", SDP_SRTP);
	i = find_sent(5080, "INVITE ", 1);
	ck_assert_int_ge(i, 0);
	respond_sdp(i, 200, "OK", SDP_CORE);
	ck_assert_int_eq(fm.live, 1);
	n = snprintf(ri, sizeof(ri), "INVITE sip:alice@127.0.0.1:5070 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKm10r;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1:5080>;tag=b1\r\n"
		"To: <sip:alice@example.com>;tag=a1\r\nCall-ID: m10@x\r\nCSeq: 5 INVITE\r\n"
		"Contact: <sip:bob@127.0.0.1:5080>\r\n"
		"Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		strlen(SDP_CORE), SDP_CORE);
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .udp_fd = -1 };

	rp_addr_parse("127.0.0.1", 5080, &mi.peer);
	rp_addr_parse("127.0.0.1", 5060, &mi.local);
	rp_core_handle_at(core, &mi, ri, (size_t)n, now);
	j = find_sent(5070, "INVITE ", 0);
	ck_assert_int_ge(j, 0);
	/* Toward the caller (require): its leg's port, SRTP, our key. */
	ck_assert_ptr_nonnull(strstr(out[j].buf, "m=audio 30000 RTP/SAVP"));
	ck_assert_ptr_nonnull(strstr(out[j].buf, "a=crypto:"));
	ck_assert_ptr_null(strstr(out[j].buf, "42000"));
	ck_assert_int_eq(fm.creates, 2);     /* no new session for the re-INVITE */

	/* BYE from the callee (side B) ends it. */
	n = snprintf(ri, sizeof(ri), "BYE sip:alice@127.0.0.1:5070 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKm10b;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1:5080>;tag=b1\r\n"
		"To: <sip:alice@example.com>;tag=a1\r\nCall-ID: m10@x\r\nCSeq: 6 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	rp_core_handle_at(core, &mi, ri, (size_t)n, now);
	ck_assert_int_ge(find_sent(5070, "BYE ", 0), 0);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

START_TEST(media_refused_2xx_answer_acked_and_byed)
{
	long i, j;
	char r[128], cs[64];

	invite_sdp("bob", "m11@x", "z9hG4bKm11", SDP_SRTP);
	i = find_sent(5080, "INVITE ", 0);
	ck_assert_int_ge(i, 0);
	respond_sdp(i, 200, "OK", "not sdp at all\r\n");
	/* The caller: 488 with the Reason, never the callee's body. */
	j = find_sent(5070, "SIP/2.0 488", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_str_eq(hdr(j, "Reason", r, sizeof(r)), "Q.850;cause=88");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200"), 0);
	/* The callee: ACK of its 2xx and a BYE in its dialog. */
	j = find_sent(5080, "ACK sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_ptr_nonnull(strstr(hdr(j, "To", r, sizeof(r)), "tag=b1"));
	ck_assert_str_eq(hdr(j, "CSeq", cs, sizeof(cs)), "1 ACK");
	j = find_sent(5080, "BYE sip:bob@127.0.0.1:5080 ", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_str_eq(hdr(j, "CSeq", cs, sizeof(cs)), "2 BYE");
	ck_assert_str_eq(hdr(j, "Call-ID", r, sizeof(r)), "m11@x");
	ck_assert_int_eq(fm.live, 0);
	/* The BYE is retransmitted until answered (its own transaction). */
	tick(2 * T1 + 20);
	ck_assert_int_ge(count_sent(5080, "BYE "), 2);
	respond(j, 5080, 200, "OK");
	int n = count_sent(5080, "BYE ");
	tick(8 * T1);
	ck_assert_int_eq(count_sent(5080, "BYE "), n);
}
END_TEST

/* ---- parallel forking to registered contacts (fork.h) ---- */

/* 'user' registers the contact sip:USER@127.0.0.1:PORT from that port. */
static void reg_user(const char *user, uint16_t port, const char *q)
{
	feed(port, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrg%u;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:%s@example.com>;tag=r%u\r\n"
		"To: <sip:%s@example.com>\r\nCall-ID: reg%s%u\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:%s@127.0.0.1:%u>%s%s\r\nExpires: 300\r\n"
		"Content-Length: 0\r\n\r\n", port, port, user, port, user, user, port, user,
		port, q ? ";q=" : "", q ? q : "");
	ck_assert_int_ge(find_sent(port, "SIP/2.0 200 ", 0), 0);
	now += 5;
}
#define reg_carol(port, q) reg_user("carol", port, q)

static void invite_user(const char *user, const char *cid)
{
	feed(5070, "INVITE sip:%s@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%s;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:%s@example.com>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n", user, cid,
		user, cid);
}
#define invite_carol(cid) invite_user("carol", cid)

static void respond_as(long idx, uint16_t port, unsigned code, const char *reason,
	const char *tag)
{
	resp_tag = tag;
	respond(idx, port, code, reason);
	resp_tag = "b1";
}

START_TEST(fork_rings_both_first_2xx_cancels_other)
{
	long i1, i2, c2, r;
	char b1[64], b2[64], v[256];

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	invite_carol("fk1");
	i1 = find_sent(5081, "INVITE sip:carol@127.0.0.1:5081 SIP/2.0", 0);
	i2 = find_sent(5082, "INVITE sip:carol@127.0.0.1:5082 SIP/2.0", 0);
	ck_assert_int_ge(i1, 0);
	ck_assert_int_ge(i2, 0);
	top_branch(i1, b1, sizeof(b1));
	top_branch(i2, b2, sizeof(b2));
	ck_assert_str_ne(b1, b2);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 100 "), 1);
	respond_as(i1, 5081, 180, "Ringing", "t81");
	respond_as(i2, 5082, 180, "Ringing", "t82");
	/* Both early dialogs reach the caller. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 180 "), 2);
	respond_as(i1, 5081, 200, "OK", "t81");
	r = find_sent(5070, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(r, 0);
	ck_assert_ptr_nonnull(strstr(hdr(r, "To", v, sizeof(v)), "tag=t81"));
	/* The other branch: CANCEL with the RFC 3326 reason, same branch. */
	c2 = find_sent(5082, "CANCEL sip:carol@127.0.0.1:5082 ", 0);
	ck_assert_int_ge(c2, 0);
	ck_assert_str_eq(hdr(c2, "Reason", v, sizeof(v)),
		"SIP;cause=200;text=\"Call completed elsewhere\"");
	top_branch(c2, b1, sizeof(b1));
	ck_assert_str_eq(b1, b2);
	ck_assert_int_eq(count_sent(5081, "CANCEL "), 0);
	respond_as(c2, 5082, 200, "OK", "t82");
	respond_as(i2, 5082, 487, "Request Terminated", "t82");
	ck_assert_int_ge(find_sent(5082, "ACK ", 0), 0);
	/* The caller: one 200, no 487, no 200 of the CANCEL. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 487 "), 0);
	ck_assert_int_eq(rp_core_calls_active(core), 0); /* not record-routed: CDR at once */
}
END_TEST

START_TEST(fork_best_final_of_all)
{
	static const struct {
		unsigned a, b, want;
		const char *ra, *rb;
	} t[] = {
		{ 486, 603, 603, "Busy Here", "Decline" },
		{ 603, 486, 603, "Decline", "Busy Here" },
		{ 503, 404, 404, "Service Unavailable", "Not Found" },
		{ 503, 503, 500, "Service Unavailable", "Service Unavailable" },
		{ 302, 486, 302, "Moved Temporarily", "Busy Here" },
	};

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		char cid[16], code[32];
		long i1, i2;

		snprintf(cid, sizeof(cid), "fb%zu", k);
		invite_carol(cid);
		i1 = find_sent(5081, "INVITE ", (int)k);
		i2 = find_sent(5082, "INVITE ", (int)k);
		ck_assert_int_ge(i1, 0);
		ck_assert_int_ge(i2, 0);
		int before = count_sent(5070, "SIP/2.0 ");

		respond_as(i1, 5081, t[k].a, t[k].ra, "t81");
		/* Nothing goes to the caller while a branch is pending (a 6xx
		 * too: the other branch has not answered, it gets its CANCEL
		 * at its first provisional response). */
		ck_assert_int_eq(count_sent(5070, "SIP/2.0 ") - before, 0);
		respond_as(i2, 5082, t[k].b, t[k].rb, "t82");
		snprintf(code, sizeof(code), "SIP/2.0 %u ", t[k].want);
		ck_assert_int_eq(count_sent(5070, "SIP/2.0 ") - before, 1);
		long last = -1;

		for (size_t j = 0; j < nout; j++)
			if (rp_addr_port(&out[j].d.addr) == 5070 && !strncmp(out[j].buf, "SIP/2.0 ", 8))
				last = (long)j;
		ck_assert_msg(!strncmp(out[last].buf, code, strlen(code)), "case %zu: got %.20s",
			k, out[last].buf);
		/* Both failures were ACKed hop by hop. */
		ck_assert_int_eq(count_sent(5081, "ACK "), (int)k + 1);
		ck_assert_int_eq(count_sent(5082, "ACK "), (int)k + 1);
	}
}
END_TEST

START_TEST(fork_challenges_merged)
{
	long i1, i2, r;

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	invite_carol("fa1");
	i1 = find_sent(5081, "INVITE ", 0);
	i2 = find_sent(5082, "INVITE ", 0);
	extra_hdr = "Proxy-Authenticate: Digest realm=\"one\", nonce=\"1\"\r\n";
	respond_as(i1, 5081, 407, "Proxy Authentication Required", "t81");
	extra_hdr = "Proxy-Authenticate: Digest realm=\"two\", nonce=\"2\"\r\n";
	respond_as(i2, 5082, 407, "Proxy Authentication Required", "t82");
	extra_hdr = "";
	r = find_sent(5070, "SIP/2.0 407 ", 0);
	ck_assert_int_ge(r, 0);
	ck_assert_int_eq(count_hdr(r, "Proxy-Authenticate"), 2);
	ck_assert_ptr_nonnull(strstr(out[r].buf, "realm=\"one\""));
	ck_assert_ptr_nonnull(strstr(out[r].buf, "realm=\"two\""));
}
END_TEST

START_TEST(fork_caller_cancel_reaches_all)
{
	long i1, i2, c1, c2;
	char v[128];

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	invite_carol("fc1");
	i1 = find_sent(5081, "INVITE ", 0);
	i2 = find_sent(5082, "INVITE ", 0);
	respond_as(i1, 5081, 180, "Ringing", "t81");
	/* The second has not answered yet: its CANCEL waits for that. */
	feed(5070, "CANCEL sip:carol@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfc1;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carol@example.com>\r\nCall-ID: fc1\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n");
	c1 = find_sent(5081, "CANCEL ", 0);
	ck_assert_int_ge(c1, 0);
	ck_assert_str_eq(hdr(c1, "Reason", v, sizeof(v)), "");
	ck_assert_int_eq(count_sent(5082, "CANCEL "), 0);
	respond_as(i2, 5082, 100, "Trying", "t82");
	c2 = find_sent(5082, "CANCEL ", 0);
	ck_assert_int_ge(c2, 0);
	respond_as(i1, 5081, 487, "Request Terminated", "t81");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 487 "), 0);
	respond_as(i2, 5082, 487, "Request Terminated", "t82");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 487 "), 1);
}
END_TEST

START_TEST(fork_second_2xx_acked_and_byed)
{
	long i1, i2, j;
	char v[128];

	/* carolr is record-routed: the call stays in the registry. */
	reg_user("carolr", 5081, NULL);
	reg_user("carolr", 5082, NULL);
	invite_user("carolr", "fs1");
	i1 = find_sent(5081, "INVITE ", 0);
	i2 = find_sent(5082, "INVITE ", 0);
	respond_as(i1, 5081, 200, "OK", "t81");
	respond_as(i2, 5082, 200, "OK", "t82");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	ck_assert_int_eq(rp_core_calls_active(core), 1);
	/* Our ACK was lost: the second callee retransmits its 2xx, which
	 * has no transaction any more. Still not relayed. */
	respond_as(i2, 5082, 200, "OK", "t82");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	/* The answered dialog's retransmission still is. */
	respond_as(i1, 5081, 200, "OK", "t81");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 2);
	j = find_sent(5082, "ACK ", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_ptr_nonnull(strstr(hdr(j, "To", v, sizeof(v)), "tag=t82"));
	j = find_sent(5082, "BYE ", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_str_eq(hdr(j, "Reason", v, sizeof(v)),
		"SIP;cause=200;text=\"Call completed elsewhere\"");
	ck_assert_int_eq(count_sent(5081, "BYE "), 0);
}
END_TEST

START_TEST(fork_q_groups_in_sequence)
{
	long i1, i2;

	reg_carol(5081, "0.5");
	reg_carol(5082, "1.0");
	reg_carol(5083, "1.0");
	invite_carol("fq1");
	/* The q=1.0 group in parallel; the q=0.5 contact waits. */
	ck_assert_int_ge(find_sent(5082, "INVITE ", 0), 0);
	ck_assert_int_ge(find_sent(5083, "INVITE ", 0), 0);
	ck_assert_int_eq(count_sent(5081, "INVITE "), 0);
	i2 = find_sent(5082, "INVITE ", 0);
	respond_as(i2, 5082, 486, "Busy Here", "t82");
	ck_assert_int_eq(count_sent(5081, "INVITE "), 0);
	/* The other one times out (Timer B, 64*T1): then the next group. */
	tick(64 * T1 + 20);
	i1 = find_sent(5081, "INVITE sip:carol@127.0.0.1:5081 ", 0);
	ck_assert_int_ge(i1, 0);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 486 "), 0);
	respond_as(i1, 5081, 480, "Temporarily Unavailable", "t81");
	/* 486 and 480 (peers) beat our 408: the first of the class. */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 486 ") + count_sent(5070, "SIP/2.0 480 "), 1);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
}
END_TEST

START_TEST(fork_one_times_out_other_answers)
{
	long i2;

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	invite_carol("ft1");
	ck_assert_int_ge(find_sent(5081, "INVITE ", 0), 0);
	i2 = find_sent(5082, "INVITE ", 0);
	respond_as(i2, 5082, 180, "Ringing", "t82");
	tick(64 * T1 + 20);      /* 5081 never answers: Timer B */
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 408 "), 0);
	respond_as(i2, 5082, 200, "OK", "t82");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	ck_assert_int_eq(count_sent(5081, "CANCEL "), 0);
}
END_TEST

/* Timer C runs per branch: the one that rings too long is cancelled
 * alone, the other goes on and its answer reaches the caller. */
START_TEST(fork_timer_c_per_branch)
{
	long i1, i2;

	reg_carol(5081, NULL);
	reg_carol(5082, NULL);
	invite_carol("tc1");
	i1 = find_sent(5081, "INVITE ", 0);
	i2 = find_sent(5082, "INVITE ", 0);
	respond_as(i1, 5081, 180, "Ringing", "t81");
	respond_as(i2, 5082, 100, "Trying", "t82");     /* no Timer B any more */
	tick(100000);
	respond_as(i2, 5082, 180, "Ringing", "t82");   /* restarts its Timer C */
	tick(80000 + 20);                               /* 5081: 180 s without news */
	ck_assert_int_eq(count_sent(5081, "CANCEL "), 1);
	ck_assert_int_eq(count_sent(5082, "CANCEL "), 0);
	respond_as(find_sent(5081, "CANCEL ", 0), 5081, 200, "OK", "t81");
	respond_as(i1, 5081, 487, "Request Terminated", "t81");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 487 "), 0);
	respond_as(i2, 5082, 200, "OK", "t82");
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
}
END_TEST

/* Contacts over different transports: each branch is written for its
 * own (Via transport, Record-Route: double toward the TCP one, whose
 * request goes over the UA's own connection). */
START_TEST(fork_mixed_transports)
{
	long iu, it;
	char v[256];

	reg_user("carolr", 5081, NULL);
	feed_tp(RP_TP_TCP, 40082, "REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.0.0.6:5062;branch=z9hG4bKmt1\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:carolr@example.com>;tag=ct\r\n"
		"To: <sip:carolr@example.com>\r\nCall-ID: regmt\r\nCSeq: 1 REGISTER\r\n"
		"Contact: <sip:carolr@10.0.0.6:5062;transport=tcp>\r\nExpires: 300\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(40082, "SIP/2.0 200 ", 0), 0);
	invite_user("carolr", "mt1");
	iu = find_sent(5081, "INVITE sip:carolr@127.0.0.1:5081 ", 0);
	it = find_sent(40082, "INVITE sip:carolr@10.0.0.6:5062;transport=tcp ", 0);
	ck_assert_int_ge(iu, 0);
	ck_assert_int_ge(it, 0);
	ck_assert_ptr_nonnull(strstr(hdr(iu, "Via", v, sizeof(v)), "SIP/2.0/UDP 127.0.0.1:5060"));
	ck_assert_ptr_nonnull(strstr(hdr(it, "Via", v, sizeof(v)), "SIP/2.0/TCP 127.0.0.1:5060"));
	ck_assert_int_eq(count_hdr(iu, "Record-Route"), 1);
	ck_assert_int_eq(count_hdr(it, "Record-Route"), 2);
	ck_assert_ptr_nonnull(strstr(hdr(it, "Record-Route", v, sizeof(v)), ";transport=tcp"));
	ck_assert_int_eq(out[it].d.tp, RP_TP_TCP);
	ck_assert(out[it].d.flow);
	ck_assert(!out[iu].d.flow);
	/* Each carries one Via of ours, with its own branch. */
	ck_assert_int_eq(count_hdr(iu, "Via"), 2);
	ck_assert_int_eq(count_hdr(it, "Via"), 2);
}
END_TEST

START_TEST(fork_limited_by_max_branches_and_script_ruri)
{
	static const char pre[] = "max_branches = 2;\n";
	char text[sizeof(pre) + sizeof(cfg_text)];
	struct cfg *c2 = NULL;
	long i;

	reg_carol(5081, "0.9");
	reg_carol(5082, "0.8");
	reg_carol(5083, "0.7");
	invite_carol("fm1");
	ck_assert_int_eq(count_sent(5081, "INVITE ") + count_sent(5082, "INVITE ") +
		count_sent(5083, "INVITE "), 1);   /* q groups: the best first */
	/* max_branches = 2: the two best contacts only, then nothing more. */
	snprintf(text, sizeof(text), "%s%s", pre, cfg_text);
	ck_assert_int_eq(cfg_load_string("t2", text, strlen(text), &c2, NULL), 0);
	rp_core_set_cfg(core, c2);
	cfg_put(c2);
	reg_carol(5086, NULL);
	reg_carol(5087, NULL);
	reg_carol(5088, NULL);
	invite_carol("fm2");
	/* Five contacts now, three of q=1.0: two branches, both of those. */
	ck_assert_int_eq(count_sent(5086, "INVITE ") + count_sent(5087, "INVITE ") +
		count_sent(5088, "INVITE "), 2);
	ck_assert_int_eq(count_sent(5081, "INVITE ") + count_sent(5082, "INVITE ") +
		count_sent(5083, "INVITE "), 1);
	/* The script changed the Request-URI after lookup(): no forking,
	 * the one target it chose. */
	feed(5070, "INVITE sip:carolp@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfm3;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carolp@example.com>\r\nCall-ID: fm3\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 404 ", 0), 0);
	for (uint16_t p = 5084; p <= 5085; p++)
		feed(p, "REGISTER sip:example.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrp%u;rport\r\n"
			"Max-Forwards: 70\r\nFrom: <sip:carolp@example.com>;tag=r%u\r\n"
			"To: <sip:carolp@example.com>\r\nCall-ID: regp%u\r\nCSeq: 1 REGISTER\r\n"
			"Contact: <sip:carolp@127.0.0.1:%u>\r\nExpires: 300\r\n"
			"Content-Length: 0\r\n\r\n", p, p, p, p, p);
	feed(5070, "INVITE sip:carolp@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfm4;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:carolp@example.com>\r\nCall-ID: fm4\r\nCSeq: 1 INVITE\r\n"
		"Content-Length: 0\r\n\r\n");
	i = find_sent(5085, "INVITE sip:carolp@127.0.0.1:5085;x=1 ", 0);
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(count_sent(5084, "INVITE "), 0);
}
END_TEST

/* A forked INVITE with SDP: one media call (one set of mediad sessions)
 * for all branches, the same offer to each, every answer given with its
 * To tag (mediad follows the latest: the 200's), a second 200 not read,
 * the call's sessions deleted with the BYE; a fork that fails leaves
 * nothing behind. */
#define SDP_ANS(port) \
	"v=0\r\no=- 2 2 IN IP4 127.0.0.8\r\ns=-\r\nc=IN IP4 127.0.0.8\r\nt=0 0\r\n" \
	"m=audio " port " RTP/AVP 0\r\n"

START_TEST(media_fork_one_call_winner_keeps_media)
{
	long i1, i2, j;
	int upd;

	for (uint16_t p = 5081; p <= 5082; p++) {
		feed(p, "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
			"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKmr%u;rport\r\n"
			"Max-Forwards: 70\r\nFrom: <sip:dana@127.0.0.1>;tag=r%u\r\n"
			"To: <sip:dana@127.0.0.1>\r\nCall-ID: mreg%u\r\nCSeq: 1 REGISTER\r\n"
			"Contact: <sip:dana@127.0.0.1:%u>\r\nExpires: 300\r\n"
			"Content-Length: 0\r\n\r\n", p, p, p, p, p);
		ck_assert_int_ge(find_sent(p, "SIP/2.0 200 ", 0), 0);
		now += 5;
	}
	feed(5070, "INVITE sip:dana@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmf1;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:dana@127.0.0.1>\r\nCall-ID: mf1@x\r\nCSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n%s", strlen(SDP_SRTP), SDP_SRTP);
	i1 = find_sent(5081, "INVITE ", 0);
	i2 = find_sent(5082, "INVITE ", 0);
	ck_assert_int_ge(i1, 0);
	ck_assert_int_ge(i2, 0);
	ck_assert_int_eq(fm.creates, 1);
	ck_assert_ptr_nonnull(strstr(out[i1].buf, "m=audio 30002 RTP/AVP"));
	ck_assert_str_eq(strstr(out[i1].buf, "\r\n\r\n"), strstr(out[i2].buf, "\r\n\r\n"));
	/* Early media from the second, then the first answers. */
	resp_tag = "t82";
	resp_port = 5082;
	respond_sdp(i2, 183, "Session Progress", SDP_ANS("42002"));
	ck_assert_uint_eq(fm.b_port, 42002);
	resp_tag = "t81";
	resp_port = 5081;
	respond_sdp(i1, 200, "OK", SDP_ANS("42001"));
	ck_assert_uint_eq(fm.b_port, 42001);
	j = find_sent(5070, "SIP/2.0 200 ", 0);
	ck_assert_int_ge(j, 0);
	ck_assert_ptr_nonnull(strstr(out[j].buf, "m=audio 30000 RTP/SAVP"));
	ck_assert_ptr_null(strstr(out[j].buf, "42001"));
	ck_assert_int_ge(find_sent(5082, "CANCEL ", 0), 0);
	/* The other answers anyway: ACK + BYE, its SDP never read. */
	upd = fm.updates;
	resp_tag = "t82";
	resp_port = 5082;
	respond_sdp(i2, 200, "OK", SDP_ANS("42002"));
	ck_assert_int_eq(fm.updates, upd);
	ck_assert_uint_eq(fm.b_port, 42001);
	ck_assert_int_eq(count_sent(5070, "SIP/2.0 200 "), 1);
	ck_assert_int_ge(find_sent(5082, "BYE ", 0), 0);
	ck_assert_int_eq(fm.live, 1);
	resp_tag = "b1";
	resp_port = 5080;
	/* The caller's BYE to the winner ends the call's media. */
	feed(5070, "BYE sip:dana@127.0.0.1:5081 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmf1b;rport\r\n"
		"Route: <sip:127.0.0.1:5060;lr>\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:dana@127.0.0.1>;tag=t81\r\nCall-ID: mf1@x\r\nCSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n\r\n");
	ck_assert_int_ge(find_sent(5081, "BYE ", 0), 0);
	ck_assert_int_eq(fm.live, 0);
	ck_assert_int_eq(fm.dels, 1);
	/* A fork where both refuse: the session goes with the failure. */
	feed(5070, "INVITE sip:dana@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmf2;rport\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
		"To: <sip:dana@127.0.0.1>\r\nCall-ID: mf2@x\r\nCSeq: 1 INVITE\r\n"
		"Contact: <sip:alice@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\n"
		"Content-Length: %zu\r\n\r\n%s", strlen(SDP_SRTP), SDP_SRTP);
	ck_assert_int_eq(fm.live, 1);
	respond(find_sent(5081, "INVITE ", 1), 5081, 486, "Busy Here");
	respond(find_sent(5082, "INVITE ", 1), 5082, 480, "Temporarily Unavailable");
	/* Same class: the best contact's (the latest registered: 5082). */
	ck_assert_int_ge(find_sent(5070, "SIP/2.0 480 ", 0), 0);
	ck_assert_int_eq(fm.live, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_core");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, invite_forwarded_with_via_rr_mf);
	tcase_add_test(tc, invite_retransmission_absorbed);
	tcase_add_test(tc, full_call_relays_responses);
	tcase_add_test(tc, timer_a_and_b_give_408);
	tcase_add_test(tc, failover_on_timeout_then_answer);
	tcase_add_test(tc, failover_on_503_acks_first);
	tcase_add_test(tc, failover_all_503_sends_500);
	tcase_add_test(tc, busy_486_hop_by_hop_ack);
	tcase_add_test(tc, cancel_before_answer);
	tcase_add_test(tc, cancel_before_provisional_waits);
	tcase_add_test(tc, cancel_without_txn_481);
	tcase_add_test(tc, max_forwards_zero_483);
	tcase_add_test(tc, max_forwards_added_when_absent);
	tcase_add_test(tc, loop_detected_482);
	tcase_add_test(tc, spiral_is_not_a_loop);
	tcase_add_test(tc, malformed_gets_400_with_reason);
	tcase_add_test(tc, proxy_require_420);
	tcase_add_test(tc, require_on_register_and_options_420);
	tcase_add_test(tc, loose_route_removes_ours);
	tcase_add_test(tc, ack_after_our_route_to_contact_in_local_domain);
	tcase_add_test(tc, double_route_of_ours_in_one_line);
	tcase_add_test(tc, strict_router_ruri);
	tcase_add_test(tc, double_rr_on_transport_change);
	tcase_add_test(tc, script_reply_and_drop);
	tcase_add_test(tc, script_rewrites_ruri);
	tcase_add_test(tc, options_to_self_200);
	tcase_add_test(tc, non_invite_timer_e_and_cached_final);
	tcase_add_test(tc, all_transactions_end);
	tcase_add_test(tc, register_then_call_goes_to_source);
	tcase_add_test(tc, authenticate_challenges);
	tcase_add_test(tc, hostile_register_400_names_the_problem);
	tcase_add_test(tc, unparsable_route_400);
	tcase_add_test(tc, register_auth_own_aor_only);
	tcase_add_test(tc, failure_route_redirects_and_reply_route_edits);
	tcase_add_test(tc, trunk_name_resolved_at_load);
	tcase_add_test(tc, overload_503);
	tcase_add_test(tc, fork_rings_both_first_2xx_cancels_other);
	tcase_add_test(tc, fork_best_final_of_all);
	tcase_add_test(tc, fork_challenges_merged);
	tcase_add_test(tc, fork_caller_cancel_reaches_all);
	tcase_add_test(tc, fork_second_2xx_acked_and_byed);
	tcase_add_test(tc, fork_q_groups_in_sequence);
	tcase_add_test(tc, fork_one_times_out_other_answers);
	tcase_add_test(tc, fork_limited_by_max_branches_and_script_ruri);
	tcase_add_test(tc, fork_timer_c_per_branch);
	tcase_add_test(tc, fork_mixed_transports);
	suite_add_tcase(s, tc);
	tc = tcase_create("media");
	tcase_add_checked_fixture(tc, setup_media, teardown);
	tcase_add_test(tc, media_srtp_bridged_to_plain_core);
	tcase_add_test(tc, media_plain_offer_to_require_488);
	tcase_add_test(tc, media_no_keys_over_udp_488);
	tcase_add_test(tc, media_cancel_and_error_end_the_session);
	tcase_add_test(tc, media_relay_down_503_plain_calls_pass);
	tcase_add_test(tc, media_late_offer_answered_in_ack);
	tcase_add_test(tc, media_timeout_ends_and_callee_reinvite_is_side_b);
	tcase_add_test(tc, media_refused_2xx_answer_acked_and_byed);
	tcase_add_test(tc, media_fork_one_call_winner_keeps_media);
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
