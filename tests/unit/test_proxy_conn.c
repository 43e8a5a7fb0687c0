#include <arpa/inet.h>
/* proxy/transport + proxy/conn: address and listen parsing, the connection
 * limiter, framing on a real socket, keep-alive answers, the bounded write
 * queue and the timeouts (driven by explicit clock values). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "transport.h"

static const struct rp_conn_limits LIM = { .rbuf = 4096, .wq_max = 8192,
	.frame = { 1024, 2048 }, .idle_ms = 1000, .handshake_ms = 500 };

START_TEST(listen_specs)
{
	struct rp_listen l;
	char buf[64];

	ck_assert_int_eq(rp_listen_parse("udp:127.0.0.1:5070", &l), 0);
	ck_assert_int_eq(l.tp, RP_TP_UDP);
	ck_assert_uint_eq(rp_addr_port(&l.addr), 5070);
	ck_assert_int_eq(rp_listen_parse("tls:[::1]", &l), 0);
	ck_assert_int_eq(l.tp, RP_TP_TLS);
	ck_assert_uint_eq(rp_addr_port(&l.addr), 5061);
	rp_addr_fmt(&l.addr, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[::1]:5061");
	ck_assert_int_eq(rp_listen_parse("tcp:10.0.0.1", &l), 0);
	ck_assert_uint_eq(rp_addr_port(&l.addr), 5060);
	ck_assert_int_eq(rp_listen_parse("sctp:1.2.3.4", &l), -EINVAL);
	ck_assert_int_eq(rp_listen_parse("udp:host.example", &l), -EINVAL);
	ck_assert_int_eq(rp_listen_parse("udp:1.2.3.4:70000", &l), -EINVAL);
	ck_assert_int_eq(rp_listen_parse("udp:[::1", &l), -EINVAL);
	ck_assert_int_eq(rp_listen_parse("udp:1.2.3.4:", &l), -EINVAL);
	ck_assert_str_eq(rp_tp_via(RP_TP_TLS), "TLS");
}
END_TEST

START_TEST(addresses)
{
	rp_addr a, b, c;
	uint8_t ka[RP_ADDR_KEY_LEN], kb[RP_ADDR_KEY_LEN];

	ck_assert_int_eq(rp_addr_parse("192.0.2.1", 5060, &a), 0);
	ck_assert_int_eq(rp_addr_parse("192.0.2.1", 5061, &b), 0);
	ck_assert_int_eq(rp_addr_parse("2001:db8::1", 5060, &c), 0);
	ck_assert(rp_addr_same_ip(&a, &b));
	ck_assert(!rp_addr_eq(&a, &b));
	ck_assert(!rp_addr_same_ip(&a, &c));
	rp_addr_key(RP_TP_TCP, &a, ka);
	rp_addr_key(RP_TP_TLS, &a, kb);
	ck_assert(memcmp(ka, kb, sizeof(ka)) != 0); /* transport is part of the key */
}
END_TEST

/* rp_addr_host/rp_addr_fmt write IPv4 by hand: the same text as
 * inet_ntop, and snprintf-like truncation into a short buffer. */
START_TEST(address_text)
{
	static const struct { const char *ip; uint16_t port; const char *want; } v[] = {
		{ "0.0.0.0", 0, "0.0.0.0:0" },
		{ "255.255.255.255", 65535, "255.255.255.255:65535" },
		{ "10.0.100.9", 5060, "10.0.100.9:5060" },
		{ "192.0.2.1", 9, "192.0.2.1:9" },
		{ "2001:db8::1", 5061, "[2001:db8::1]:5061" },
		{ "::ffff:1.2.3.4", 80, "[::ffff:1.2.3.4]:80" },
	};
	char buf[64], host[64], ref[64];
	rp_addr a;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(rp_addr_parse(v[i].ip, v[i].port, &a), 0);
		rp_addr_fmt(&a, buf, sizeof(buf));
		ck_assert_str_eq(buf, v[i].want);
		rp_addr_host(&a, host, sizeof(host));
		ck_assert_ptr_nonnull(inet_ntop(a.u.sa.sa_family, a.u.sa.sa_family == AF_INET ?
			(const void *)&a.u.in4.sin_addr : (const void *)&a.u.in6.sin6_addr,
			ref, sizeof(ref)));
		ck_assert_str_eq(host, ref);
	}
	ck_assert_int_eq(rp_addr_parse("192.0.2.1", 5060, &a), 0);
	rp_addr_fmt(&a, buf, 6);
	ck_assert_str_eq(buf, "192.0");
	rp_addr_fmt(&a, buf, 1);
	ck_assert_str_eq(buf, "");
	/* Too small for the whole IPv4 text: inet_ntop's answer, "?". */
	rp_addr_host(&a, host, 8);
	ck_assert_str_eq(host, "?");
}
END_TEST

START_TEST(iplimit)
{
	rp_iplimit *l;
	rp_addr a, a2, b;

	rp_addr_parse("192.0.2.1", 1000, &a);
	rp_addr_parse("192.0.2.1", 2000, &a2);
	rp_addr_parse("192.0.2.2", 1000, &b);
	ck_assert_int_eq(rp_iplimit_new(3, 2, &l), 0);
	ck_assert_int_eq(rp_iplimit_take(l, &a), 0);
	ck_assert_int_eq(rp_iplimit_take(l, &a2), 0);
	ck_assert_int_eq(rp_iplimit_take(l, &a), -EUSERS); /* per IP, any port */
	ck_assert_int_eq(rp_iplimit_take(l, &b), 0);
	ck_assert_int_eq(rp_iplimit_take(l, &b), -EMFILE); /* total */
	ck_assert_uint_eq(rp_iplimit_total(l), 3);
	rp_iplimit_release(l, &a);
	ck_assert_int_eq(rp_iplimit_take(l, &a2), 0);
	rp_iplimit_release(l, &a);
	rp_iplimit_release(l, &a);
	rp_iplimit_release(l, &a); /* one too many: ignored */
	ck_assert_uint_eq(rp_iplimit_total(l), 1);
	rp_iplimit_free(l);
}
END_TEST

struct seen {
	int n;
	char last[512];
};

static void on_msg(rp_conn *c, const char *msg, size_t len, void *arg)
{
	struct seen *s = arg;

	s->n++;
	ck_assert_uint_lt(len, sizeof(s->last));
	memcpy(s->last, msg, len);
	s->last[len] = 0;
}

static rp_conn *mkconn(int *peer_fd)
{
	int sv[2];
	rp_addr a;
	rp_conn *c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	rp_addr_parse("192.0.2.9", 5060, &a);
	ck_assert_int_eq(rp_conn_new(sv[0], RP_TP_TCP, &a, NULL, NULL, &LIM, 1000, &c), 0);
	*peer_fd = sv[1];
	return c;
}

START_TEST(frames_byte_by_byte_and_pongs)
{
	const char *m = "\r\n\r\nOPTIONS sip:x SIP/2.0\r\nl: 2\r\n\r\nhi";
	struct seen s = { 0 };
	int peer;
	rp_conn *c = mkconn(&peer);
	char pong[4];

	for (size_t i = 0; i < strlen(m); i++) {
		ck_assert_int_eq(write(peer, m + i, 1), 1);
		ck_assert_int_eq(rp_conn_on_readable(c, 1000 + i, on_msg, &s), 0);
	}
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.last, "OPTIONS sip:x SIP/2.0\r\nl: 2\r\n\r\nhi");
	ck_assert_int_eq(read(peer, pong, sizeof(pong)), 2);
	ck_assert_int_eq(memcmp(pong, "\r\n", 2), 0);
	rp_conn_free(c);
	close(peer);
}
END_TEST

START_TEST(framing_error_closes)
{
	struct seen s = { 0 };
	int peer;
	rp_conn *c = mkconn(&peer);
	const char *m = "OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n";

	ck_assert_int_eq(write(peer, m, strlen(m)), (ssize_t)strlen(m));
	ck_assert_int_eq(rp_conn_on_readable(c, 1000, on_msg, &s), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(rp_conn_why(c), "Content-Length missing"));
	/* The whole header block still goes up, for its 400 Missing
	 * Content-Length (the core's parser refuses it), then the close. */
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.last, m);
	rp_conn_free(c);
	close(peer);
}
END_TEST

START_TEST(peer_close_detected)
{
	struct seen s = { 0 };
	int peer;
	rp_conn *c = mkconn(&peer);

	close(peer);
	ck_assert_int_eq(rp_conn_on_readable(c, 1000, on_msg, &s), -ECONNRESET);
	ck_assert_str_eq(rp_conn_why(c), "peer closed");
	rp_conn_free(c);
}
END_TEST

START_TEST(slow_reader_dropped)
{
	int peer, rc = 0, sent = 0;
	rp_conn *c = mkconn(&peer);
	char chunk[1024];

	memset(chunk, 'x', sizeof(chunk));
	/* The peer never reads: the socket buffer fills, then the queue,
	 * then the connection is refused more data instead of blocking. */
	for (int i = 0; i < 100000 && rc == 0; i++) {
		rc = rp_conn_send(c, chunk, sizeof(chunk));
		sent++;
	}
	ck_assert_int_eq(rc, -ENOBUFS);
	ck_assert_uint_le(rp_conn_queued(c), LIM.wq_max);
	ck_assert(rp_conn_wants_write(c));
	ck_assert_ptr_nonnull(strstr(rp_conn_why(c), "peer not reading"));
	rp_conn_free(c);
	close(peer);
}
END_TEST

START_TEST(queue_drains_when_writable)
{
	int peer;
	rp_conn *c = mkconn(&peer);
	char chunk[1024], sink[65536];
	size_t queued;
	int rc = 0;

	memset(chunk, 'y', sizeof(chunk));
	while (rc == 0 && rp_conn_queued(c) < 4096)
		rc = rp_conn_send(c, chunk, sizeof(chunk));
	ck_assert_int_eq(rc, 0);
	queued = rp_conn_queued(c);
	ck_assert_uint_gt(queued, 0);
	for (int i = 0; i < 1000 && rp_conn_queued(c); i++) {
		(void)!read(peer, sink, sizeof(sink));
		ck_assert_int_eq(rp_conn_on_writable(c, 2000), 0);
	}
	ck_assert_uint_eq(rp_conn_queued(c), 0);
	ck_assert(!rp_conn_wants_write(c));
	rp_conn_free(c);
	close(peer);
}
END_TEST

/* rp_conn_queue writes nothing; rp_conn_flush writes everything queued,
 * in order, also across the 16 KiB coalescing limit. */
START_TEST(queue_then_flush_in_order)
{
	struct rp_conn_limits lim = LIM;
	int sv[2], peer;
	rp_addr a;
	rp_conn *c;
	static char big[20000], want[20000 + 64], got[20000 + 64];
	size_t n = 0, total;
	char tmp[16];

	lim.wq_max = 65536; /* room for more than one 16 KiB record */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	rp_addr_parse("192.0.2.9", 5060, &a);
	ck_assert_int_eq(rp_conn_new(sv[0], RP_TP_TCP, &a, NULL, NULL, &lim, 1000, &c), 0);
	peer = sv[1];
	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(rp_conn_queue(c, "one,", 4), 0);
	ck_assert_int_eq(rp_conn_queue(c, "two,", 4), 0);
	ck_assert_int_eq(rp_conn_queue(c, big, sizeof(big)), 0);
	ck_assert_int_eq(rp_conn_queue(c, "three", 5), 0);
	total = 4 + 4 + sizeof(big) + 5;
	ck_assert_uint_eq(rp_conn_queued(c), total);
	ck_assert_int_lt(recv(peer, tmp, sizeof(tmp), MSG_DONTWAIT), 0);
	ck_assert_int_eq(rp_conn_flush(c), 0);
	ck_assert_uint_eq(rp_conn_queued(c), 0);
	memcpy(want, "one,two,", 8);
	memcpy(want + 8, big, sizeof(big));
	memcpy(want + 8 + sizeof(big), "three", 5);
	while (n < total) {
		ssize_t r = recv(peer, got + n, sizeof(got) - n, 0);

		ck_assert_int_gt(r, 0);
		n += (size_t)r;
	}
	ck_assert_uint_eq(n, total);
	ck_assert(memcmp(got, want, total) == 0);
	rp_conn_free(c);
	close(peer);
}
END_TEST

START_TEST(oversize_message_refused)
{
	struct seen s = { 0 };
	int peer, rc = 0;
	rp_conn *c = mkconn(&peer);
	char hdr[2000];

	/* Header block beyond max_hdr (1024) without an end. */
	memset(hdr, 'a', sizeof(hdr));
	ck_assert_int_eq(write(peer, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	rc = rp_conn_on_readable(c, 1000, on_msg, &s);
	ck_assert_int_eq(rc, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(rp_conn_why(c), "header block too large"));
	rp_conn_free(c);
	close(peer);
}
END_TEST

START_TEST(timeouts_and_table)
{
	int p1, p2;
	rp_conn *c1 = mkconn(&p1), *c2;
	rp_conn_table *t;
	rp_addr a2;
	struct seen s = { 0 };

	ck_assert(!rp_conn_expired(c1, 1999));
	ck_assert(rp_conn_expired(c1, 2000)); /* idle_ms = 1000 from t=1000 */
	/* Traffic resets the idle clock. */
	ck_assert_int_eq(write(p1, "\r\n\r\n", 4), 4);
	ck_assert_int_eq(rp_conn_on_readable(c1, 1900, on_msg, &s), 0);
	ck_assert(!rp_conn_expired(c1, 2800));
	ck_assert(rp_conn_expired(c1, 2900));

	{
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		rp_addr_parse("192.0.2.10", 5061, &a2);
		ck_assert_int_eq(rp_conn_new(sv[0], RP_TP_TLS, &a2, NULL, NULL, &LIM, 1000, &c2), 0);
		p2 = sv[1];
	}
	ck_assert_int_eq(rp_conn_table_new(&t), 0);
	ck_assert_int_eq(rp_conn_table_add(t, c1), 0);
	ck_assert_int_eq(rp_conn_table_add(t, c2), 0);
	ck_assert_int_eq(rp_conn_table_add(t, c1), -EEXIST);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TLS, &a2), c2);
	ck_assert_ptr_null(rp_conn_table_find(t, RP_TP_TCP, &a2));
	ck_assert_uint_eq(rp_conn_table_count(t), 2);
	rp_conn_table_del(t, c1);
	rp_conn_free(c1);
	ck_assert_uint_eq(rp_conn_table_count(t), 1);
	rp_conn_table_free(t); /* frees c2 */
	close(p1);
	close(p2);
}
END_TEST

/* Several connections to one address (outbound TLS with other settings or
 * names beside a peer's own): the first is found, the others stay
 * reachable and take its place when it goes; an alias never takes an
 * address a connection has, and a connection opened to an aliased address
 * is found before the alias. */
START_TEST(several_per_address)
{
	int fds[5][2];
	rp_conn *c[5];
	rp_conn_table *t;
	rp_addr a, pa, al;
	struct rp_conn_want any = { .reuse = RP_REUSE_ANY };

	rp_addr_parse("192.0.2.20", 5060, &a);
	rp_addr_parse("192.0.2.20", 40000, &pa);
	rp_addr_parse("192.0.2.20", 5070, &al);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]), 0);
		ck_assert_int_eq(rp_conn_new(fds[i][0], RP_TP_TCP, i == 3 ? &pa : i == 4 ? &al : &a,
			NULL, NULL, &LIM, 1000, &c[i]), 0);
	}
	rp_conn_set_outbound(c[1]);
	rp_conn_set_outbound(c[2]);
	rp_conn_set_outbound(c[4]);
	ck_assert_int_eq(rp_conn_table_new(&t), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(rp_conn_table_add(t, c[i]), 0);
	ck_assert_int_eq(rp_conn_table_add(t, c[2]), -EEXIST);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TCP, &a), c[0]);
	ck_assert_uint_eq(rp_conn_table_count_outbound(t, RP_TP_TCP, &a), 2);
	ck_assert_ptr_eq(rp_conn_table_find_reusable(t, RP_TP_TCP, &a, &any), c[0]);
	/* The first goes: another to the address takes its place. */
	rp_conn_table_del(t, c[0]);
	ck_assert_ptr_nonnull(rp_conn_table_find(t, RP_TP_TCP, &a));
	ck_assert_ptr_ne(rp_conn_table_find(t, RP_TP_TCP, &a), c[0]);
	ck_assert_uint_eq(rp_conn_table_count_outbound(t, RP_TP_TCP, &a), 2);
	/* One in the middle or at the end goes: the rest stay. */
	rp_conn_table_del(t, c[2]);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TCP, &a), c[1]);
	rp_conn_table_del(t, c[1]);
	ck_assert_ptr_null(rp_conn_table_find(t, RP_TP_TCP, &a));
	ck_assert_uint_eq(rp_conn_table_count(t), 1);
	/* c[3] (from port 40000) aliases 5060, now free, and 5070. */
	ck_assert_int_eq(rp_conn_table_add(t, c[1]), 0);   /* 5060 taken again */
	ck_assert_int_eq(rp_conn_table_alias(t, c[3], &a), -EEXIST);
	ck_assert_int_eq(rp_conn_table_alias(t, c[3], &al), 0);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TCP, &al), c[3]);
	/* We open a connection to 5070 ourselves: found first; the alias
	 * stays until its connection goes. */
	ck_assert_int_eq(rp_conn_table_add(t, c[4]), 0);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TCP, &al), c[4]);
	rp_conn_table_del(t, c[4]);
	ck_assert_ptr_eq(rp_conn_table_find(t, RP_TP_TCP, &al), c[3]);
	rp_conn_table_del(t, c[3]);
	ck_assert_ptr_null(rp_conn_table_find(t, RP_TP_TCP, &al));
	ck_assert_ptr_null(rp_conn_table_find(t, RP_TP_TCP, &pa));
	rp_conn_free(c[0]);
	rp_conn_free(c[2]);
	rp_conn_free(c[3]);
	rp_conn_free(c[4]);
	rp_conn_table_free(t); /* frees c[1] */
	for (int i = 0; i < 5; i++)
		close(fds[i][1]);
}
END_TEST

START_TEST(outbound_connect_and_keepalive)
{
	struct seen s = { 0 };
	int peer;
	rp_conn *c = mkconn(&peer);
	char buf[16];

	rp_conn_set_outbound(c);
	ck_assert(rp_conn_outbound(c));
	ck_assert(rp_conn_wants_write(c)); /* waiting for connect() */
	/* Queued while connecting, written once connected. */
	ck_assert_int_eq(rp_conn_send(c, "early", 5), 0);
	ck_assert_int_eq(rp_conn_on_writable(c, 1100), 0);
	ck_assert_int_eq(read(peer, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "early", 5), 0);
	/* No ping before the interval, one after, not two. */
	ck_assert_int_eq(rp_conn_keepalive(c, 1500, 1000), 0);
	ck_assert_int_eq(rp_conn_keepalive(c, 2100, 1000), 0);
	ck_assert_int_eq(rp_conn_keepalive(c, 2200, 1000), 0);
	ck_assert_int_eq(read(peer, buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "\r\n\r\n", 4), 0);
	/* The pong (a lone CRLF) is taken at once and counts as traffic. */
	ck_assert_int_eq(write(peer, "\r\n", 2), 2);
	ck_assert_int_eq(rp_conn_on_readable(c, 2300, on_msg, &s), 0);
	ck_assert_int_eq(s.n, 0);
	/* The expiry scan stamps the message sent ("early") now. */
	ck_assert(!rp_conn_expired(c, 3299));
	/* Pongs keep coming but are not use: idle_ms after that stamp, with
	 * the last pong 200 ms old, the connection expires all the same. */
	ck_assert_int_eq(write(peer, "\r\n", 2), 2);
	ck_assert_int_eq(rp_conn_on_readable(c, 4100, on_msg, &s), 0);
	ck_assert(!rp_conn_expired(c, 4298));
	ck_assert(rp_conn_expired(c, 4299));
	/* A SIP message received is use: it starts the idle time again. */
	ck_assert_int_eq(write(peer, "OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n", 44), 44);
	ck_assert_int_eq(rp_conn_on_readable(c, 4300, on_msg, &s), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert(!rp_conn_expired(c, 4350));
	ck_assert(!rp_conn_expired(c, 5299));
	ck_assert(rp_conn_expired(c, 5350));
	rp_conn_free(c);
	close(peer);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_conn");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, listen_specs);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, address_text);
	tcase_add_test(tc, iplimit);
	tcase_add_test(tc, frames_byte_by_byte_and_pongs);
	tcase_add_test(tc, framing_error_closes);
	tcase_add_test(tc, peer_close_detected);
	tcase_add_test(tc, slow_reader_dropped);
	tcase_add_test(tc, queue_drains_when_writable);
	tcase_add_test(tc, queue_then_flush_in_order);
	tcase_add_test(tc, oversize_message_refused);
	tcase_add_test(tc, timeouts_and_table);
	tcase_add_test(tc, several_per_address);
	tcase_add_test(tc, outbound_connect_and_keepalive);
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
