/* proxy/worker: real worker threads on loopback (ports from the kernel):
 * UDP and TCP messages reach the handler on a worker and rp_reply()
 * answers on the same flow, rp_workers_send() reaches a connection owned
 * by a worker from another thread, per-IP limits refuse connections, and a
 * peer that does not read is disconnected instead of blocking. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "worker.h"

static atomic_int handled;
static atomic_int alias_rc_same = 1, alias_rc_other = 1;

/* The "BATCH" message: sends through rp_workers_send_later and
 * rp_workers_send to batch_peer (a socket of the test) and notes what that
 * socket had received at each step. */
static rp_workers *batch_ws;
static int batch_fd = -1;
static rp_addr batch_peer;
static atomic_int batch_queued = -1, batch_flushed_first = -1, batch_err;
static atomic_int self_rc = 1;

static void batch_sends(void)
{
	char pk[8];
	ssize_t r;

	for (int i = 1; i <= 3; i++) {
		char d[3] = { 'B', (char)('0' + i), 0 };

		if (rp_workers_send_later(batch_ws, RP_TP_UDP, &batch_peer, d, 2) != 0)
			atomic_fetch_add(&batch_err, 1);
	}
	/* Loopback delivers at sendto: nothing there yet means queued. */
	r = recv(batch_fd, pk, sizeof(pk), MSG_DONTWAIT | MSG_PEEK);
	atomic_store(&batch_queued, r < 0 && errno == EAGAIN);
	/* A send that goes out now sends the queued ones before it. */
	if (rp_workers_send(batch_ws, RP_TP_UDP, &batch_peer, "B4", 2) != 0)
		atomic_fetch_add(&batch_err, 1);
	r = recv(batch_fd, pk, sizeof(pk), MSG_DONTWAIT | MSG_PEEK);
	atomic_store(&batch_flushed_first, r == 2 && !memcmp(pk, "B1", 2));
	if (rp_workers_send_later(batch_ws, RP_TP_UDP, &batch_peer, "B5", 2) != 0)
		atomic_fetch_add(&batch_err, 1);
}

/* Echo handler: answers "ECHO <first line>" with a Content-Length. */
static void echo(const struct rp_msg_info *mi, const char *msg, size_t len, void *arg)
{
	char out[600];
	size_t l = 0;
	int n;

	if (len >= 5 && !memcmp(msg, "BATCH", 5))
		batch_sends();
	/* rp_workers_send to the connection the message came on, from its
	 * owner's own thread (sent directly, not through the inbox). */
	if (len >= 4 && !memcmp(msg, "SELF", 4) && mi->conn)
		atomic_store(&self_rc, rp_workers_send(batch_ws, mi->tp, &mi->peer,
			"SELF-BACK\r\n", 11));

	while (l < len && l < 500 && msg[l] != '\r')
		l++;
	if (len > 5 && !memcmp(msg, "ALIAS", 5)) {
		rp_addr same, other;

		rp_addr_parse("127.0.0.1", 5999, &same);
		rp_addr_parse("192.0.2.1", 5999, &other);
		atomic_store(&alias_rc_same, rp_reply_alias(mi, &same));
		atomic_store(&alias_rc_other, rp_reply_alias(mi, &other));
	}
	n = snprintf(out, sizeof(out), "ECHO %.*s\r\nl: 0\r\n\r\n", (int)l, msg);
	atomic_fetch_add(&handled, 1);
	(void)rp_reply(mi, out, (size_t)n);
}

static rp_workers *start(unsigned per_ip, uint32_t idle_ms, size_t wq)
{
	struct rp_transport_cfg cfg;
	rp_workers *ws = NULL;

	rp_transport_cfg_defaults(&cfg);
	ck_assert_int_eq(rp_listen_parse("udp:127.0.0.1:0", &cfg.listen[0]), 0);
	ck_assert_int_eq(rp_listen_parse("tcp:127.0.0.1:0", &cfg.listen[1]), 0);
	cfg.n_listen = 2;
	cfg.workers = 3;
	cfg.max_conns_per_ip = per_ip;
	cfg.idle_timeout_ms = idle_ms;
	if (wq)
		cfg.conn_wq_max = wq;
	ck_assert_int_eq(rp_workers_start(&cfg, NULL, echo, NULL, &ws), 0);
	return ws;
}

static const rp_addr *listen_addr(rp_workers *ws, enum rp_tp tp)
{
	const struct rp_listen *ls;
	size_t n = rp_workers_listeners(ws, &ls);

	for (size_t i = 0; i < n; i++)
		if (ls[i].tp == tp)
			return &ls[i].addr;
	ck_abort_msg("no listener");
	return NULL;
}

static int tcp_connect_rcvbuf(rp_workers *ws, int rcvbuf)
{
	const rp_addr *a = listen_addr(ws, RP_TP_TCP);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* Before connect, so the advertised window is small from the start. */
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ck_assert_int_eq(connect(fd, &a->u.sa, a->len), 0);
	return fd;
}

static int tcp_connect(rp_workers *ws)
{
	const rp_addr *a = listen_addr(ws, RP_TP_TCP);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_eq(connect(fd, &a->u.sa, a->len), 0);
	return fd;
}

/* Reads until 'want' appears or ~5 s pass (or the peer closes). */
static bool wait_for(int fd, const char *want, char *buf, size_t n)
{
	size_t got = 0;

	buf[0] = 0;
	for (int i = 0; i < 50; i++) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		r = recv(fd, buf + got, n - 1 - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
		buf[got] = 0;
		if (strstr(buf, want))
			return true;
	}
	return false;
}

START_TEST(udp_and_tcp_echo)
{
	rp_workers *ws = start(0, 0, 0);
	const rp_addr *ua = listen_addr(ws, RP_TP_UDP);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t;
	char buf[1024];
	const char *m = "OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";

	ck_assert_uint_ne(rp_addr_port(ua), 0);
	ck_assert_int_eq(sendto(u, m, strlen(m), 0, &ua->u.sa, ua->len), (ssize_t)strlen(m));
	ck_assert(wait_for(u, "ECHO OPTIONS sip:a", buf, sizeof(buf)));
	/* A CRLF keep-alive datagram is not a message. */
	ck_assert_int_eq(sendto(u, "\r\n\r\n", 4, 0, &ua->u.sa, ua->len), 4);

	t = tcp_connect(ws);
	ck_assert_int_eq(write(t, "\r\n\r\nINFO sip:b SIP/2.0\r\nl: 0\r\n\r\nBYE sip:c SIP/2.0\r\nl: 0\r\n\r\n", 60), 60);
	ck_assert(wait_for(t, "ECHO BYE sip:c", buf, sizeof(buf)));
	ck_assert_ptr_nonnull(strstr(buf, "ECHO INFO sip:b"));
	ck_assert(buf[0] == '\r' && buf[1] == '\n' && buf[2] == 'E'); /* pong first */
	close(t);
	close(u);
	rp_workers_stop(ws);
}
END_TEST

START_TEST(send_from_other_thread)
{
	rp_workers *ws = start(0, 0, 0);
	int t = tcp_connect(ws);
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	rp_addr peer;
	char buf[1024];
	int rc = -ENOTCONN;

	ck_assert_int_eq(write(t, "OPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n", 32), 32);
	ck_assert(wait_for(t, "ECHO", buf, sizeof(buf)));
	ck_assert_int_eq(getsockname(t, (struct sockaddr *)&me, &ml), 0);
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer.u.in4, &me, sizeof(me));
	peer.len = sizeof(me);
	/* From the owner's own thread (a handler): sent directly. */
	{
		int t2 = tcp_connect(ws);

		batch_ws = ws;
		ck_assert_int_eq(write(t2, "SELF sip:x SIP/2.0\r\nl: 0\r\n\r\n", 28), 28);
		/* The echo comes after the handler noted the send's result. */
		ck_assert_msg(wait_for(t2, "ECHO SELF", buf, sizeof(buf)), "got %s", buf);
		ck_assert_ptr_nonnull(strstr(buf, "SELF-BACK\r\nECHO SELF"));
		ck_assert_int_eq(atomic_load(&self_rc), 0);
		close(t2);
	}
	/* This thread is not a worker: the send goes through the owner. */
	rc = rp_workers_send(ws, RP_TP_TCP, &peer, "NOTIFY-BACK", 11);
	ck_assert_int_eq(rc, 0);
	ck_assert(wait_for(t, "NOTIFY-BACK", buf, sizeof(buf)));
	/* Nobody at this address: refused, not queued forever. */
	rp_addr_set_port(&peer, 1);
	ck_assert_int_eq(rp_workers_send(ws, RP_TP_TCP, &peer, "x", 1), -ENOTCONN);
	close(t);
	rp_workers_stop(ws);
}
END_TEST

/* UDP sends a handler makes with rp_workers_send_later leave together
 * after it returns, in order with the ones sent at once; from a thread
 * that is not a worker they leave at once. */
START_TEST(udp_sends_batched_in_order)
{
	rp_workers *ws = start(0, 0, 0);
	const rp_addr *ua = listen_addr(ws, RP_TP_UDP);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in any = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(any);
	const char *m = "BATCH sip:a SIP/2.0\r\nl: 0\r\n\r\n";
	char buf[1024], got[16] = "";
	ssize_t r;

	batch_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(batch_fd, (struct sockaddr *)&any, sizeof(any)), 0);
	ck_assert_int_eq(getsockname(batch_fd, (struct sockaddr *)&any, &al), 0);
	memset(&batch_peer, 0, sizeof(batch_peer));
	memcpy(&batch_peer.u.in4, &any, sizeof(any));
	batch_peer.len = sizeof(any);
	batch_ws = ws;
	ck_assert_int_eq(sendto(u, m, strlen(m), 0, &ua->u.sa, ua->len), (ssize_t)strlen(m));
	ck_assert(wait_for(u, "ECHO BATCH", buf, sizeof(buf)));
	for (int i = 0; i < 5; i++) {
		struct pollfd pf = { .fd = batch_fd, .events = POLLIN };

		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
		r = recv(batch_fd, buf, sizeof(buf), 0);
		ck_assert_int_eq(r, 2);
		memcpy(got + 2 * i, buf, 2);
	}
	ck_assert_str_eq(got, "B1B2B3B4B5");
	ck_assert_int_eq(atomic_load(&batch_err), 0);
	ck_assert_int_eq(atomic_load(&batch_queued), 1);
	ck_assert_int_eq(atomic_load(&batch_flushed_first), 1);
	/* Not a worker thread: sent before the call returns. */
	ck_assert_int_eq(rp_workers_send_later(ws, RP_TP_UDP, &batch_peer, "N1", 2), 0);
	r = recv(batch_fd, buf, sizeof(buf), MSG_DONTWAIT);
	ck_assert_int_eq(r, 2);
	ck_assert_int_eq(memcmp(buf, "N1", 2), 0);
	close(batch_fd);
	batch_fd = -1;
	close(u);
	rp_workers_stop(ws);
}
END_TEST

static void wait_conns(rp_workers *ws, unsigned want)
{
	struct rp_workers_stats st;

	for (int i = 0; i < 200; i++) {
		rp_workers_get_stats(ws, &st);
		if (st.conns == want)
			return;
		poll(NULL, 0, 20);
	}
	ck_abort_msg("connections: %u, wanted %u", st.conns, want);
}

START_TEST(rfc5923_alias)
{
	rp_workers *ws = start(0, 0, 0);
	int t = tcp_connect(ws);
	char buf[1024];
	rp_addr alias;

	ck_assert_int_eq(write(t, "ALIAS sip:x SIP/2.0\r\nl: 0\r\n\r\n", 30), 30);
	ck_assert(wait_for(t, "ECHO ALIAS", buf, sizeof(buf)));
	ck_assert_int_eq(atomic_load(&alias_rc_same), 0);
	ck_assert_int_eq(atomic_load(&alias_rc_other), -EPERM);
	/* A request for the sent-by address goes over this connection. */
	rp_addr_parse("127.0.0.1", 5999, &alias);
	ck_assert_int_eq(rp_workers_send(ws, RP_TP_TCP, &alias, "TO-ALIAS", 8), 0);
	ck_assert(wait_for(t, "TO-ALIAS", buf, sizeof(buf)));
	close(t);
	/* Gone with the connection. */
	for (int i = 0; i < 100; i++) {
		if (rp_workers_send(ws, RP_TP_TCP, &alias, "x", 1) == -ENOTCONN)
			break;
		poll(NULL, 0, 20);
	}
	ck_assert_int_eq(rp_workers_send(ws, RP_TP_TCP, &alias, "x", 1), -ENOTCONN);
	rp_workers_stop(ws);
}
END_TEST

/* A second connection (from the same IP, as behind one NAT) claiming the
 * same sent-by gets -EEXIST, on whichever worker it landed: requests for
 * that address keep going to the first. */
START_TEST(alias_never_taken_from_another_connection)
{
	rp_workers *ws = start(0, 0, 0);
	int t1 = tcp_connect(ws), t2;
	char buf[1024];
	rp_addr alias;

	ck_assert_int_eq(write(t1, "ALIAS sip:x SIP/2.0\r\nl: 0\r\n\r\n", 30), 30);
	ck_assert(wait_for(t1, "ECHO ALIAS", buf, sizeof(buf)));
	ck_assert_int_eq(atomic_load(&alias_rc_same), 0);
	/* Several connections: some land on other workers, some on the same. */
	for (int i = 0; i < 4; i++) {
		t2 = tcp_connect(ws);
		atomic_store(&alias_rc_same, 1);
		ck_assert_int_eq(write(t2, "ALIAS sip:y SIP/2.0\r\nl: 0\r\n\r\n", 30), 30);
		ck_assert(wait_for(t2, "ECHO ALIAS", buf, sizeof(buf)));
		ck_assert_int_eq(atomic_load(&alias_rc_same), -EEXIST);
		close(t2);
	}
	rp_addr_parse("127.0.0.1", 5999, &alias);
	ck_assert_int_eq(rp_workers_send(ws, RP_TP_TCP, &alias, "TO-ALIAS", 8), 0);
	ck_assert(wait_for(t1, "TO-ALIAS", buf, sizeof(buf)));
	close(t1);
	rp_workers_stop(ws);
}
END_TEST

START_TEST(per_ip_limit)
{
	rp_workers *ws = start(2, 0, 0);
	int a, b, c, d;
	char buf[256];
	struct rp_workers_stats st;

	/* One at a time: workers accept in any order. */
	a = tcp_connect(ws);
	wait_conns(ws, 1);
	b = tcp_connect(ws);
	wait_conns(ws, 2);
	/* The third is accepted by the kernel, then closed by the proxy. */
	c = tcp_connect(ws);
	ck_assert(!wait_for(c, "never", buf, sizeof(buf)));
	rp_workers_get_stats(ws, &st);
	ck_assert_uint_eq(st.refused, 1);
	ck_assert_uint_eq(st.conns, 2);
	ck_assert_int_eq(write(a, "OPTIONS sip:x SIP/2.0\r\nl: 0\r\n\r\n", 32), 32);
	ck_assert(wait_for(a, "ECHO", buf, sizeof(buf)));
	close(a);
	close(c);
	/* A slot frees up when a connection closes. */
	wait_conns(ws, 1);
	d = tcp_connect(ws);
	ck_assert_int_eq(write(d, "OPTIONS sip:y SIP/2.0\r\nl: 0\r\n\r\n", 32), 32);
	ck_assert(wait_for(d, "ECHO OPTIONS sip:y", buf, sizeof(buf)));
	close(b);
	close(d);
	rp_workers_stop(ws);
}
END_TEST

START_TEST(idle_connection_closed)
{
	rp_workers *ws = start(0, 200, 0);
	int t = tcp_connect(ws);
	char buf[64];
	struct pollfd pf = { .fd = t, .events = POLLIN };
	bool closed = false;

	for (int i = 0; i < 50 && !closed; i++)
		if (poll(&pf, 1, 100) > 0)
			closed = recv(t, buf, sizeof(buf), 0) == 0;
	ck_assert(closed);
	close(t);
	rp_workers_stop(ws);
}
END_TEST

START_TEST(slow_reader_disconnected)
{
	rp_workers *ws = start(0, 0, 16384);
	int t = tcp_connect_rcvbuf(ws, 4096);
	char req[64 * 1024];
	size_t off = 0, pos = 0;
	struct rp_workers_stats st;

	/* Requests whose answers are ~500 bytes each, never reading them:
	 * the kernel buffers fill, then the write queue, then the proxy must
	 * drop the connection rather than wait. */
	{
		char uri[480];

		memset(uri, 'u', sizeof(uri) - 1);
		uri[sizeof(uri) - 1] = 0;
		while (off + 530 < sizeof(req))
			off += (size_t)snprintf(req + off, sizeof(req) - off,
				"OPTIONS sip:%s SIP/2.0\r\nl: 0\r\n\r\n", uri);
	}
	for (int round = 0; round < 2000; round++) {
		struct pollfd pf = { .fd = t, .events = POLLOUT };
		ssize_t w;

		if (poll(&pf, 1, 10) > 0 && (pf.revents & (POLLERR | POLLHUP)))
			break;
		/* Keep the stream whole across partial sends. */
		w = send(t, req + pos, off - pos, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			break;
		if (w > 0)
			pos = (pos + (size_t)w) % off;
		rp_workers_get_stats(ws, &st);
		if (st.dropped_slow)
			break;
	}
	for (int i = 0; i < 50; i++) {
		rp_workers_get_stats(ws, &st);
		if (st.dropped_slow)
			break;
		poll(NULL, 0, 50);
	}
	ck_assert_msg(st.dropped_slow >= 1, "msgs %llu closed %llu frame_errors %llu pos %zu off %zu",
		(unsigned long long)st.stream_msgs, (unsigned long long)st.closed,
		(unsigned long long)st.frame_errors, pos, off);
	close(t);
	rp_workers_stop(ws);
}
END_TEST

/* ---- outbound connections ---- */

static char pki[256];
static atomic_int got_b;
static char last_b[600];
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;

static void collect(const struct rp_msg_info *mi, const char *msg, size_t len, void *arg)
{
	pthread_mutex_lock(&last_lock);
	snprintf(last_b, sizeof(last_b), "%.*s", (int)len, msg);
	pthread_mutex_unlock(&last_lock);
	atomic_fetch_add(&got_b, 1);
}

static bool wait_got(int want)
{
	for (int i = 0; i < 100 && atomic_load(&got_b) < want; i++)
		poll(NULL, 0, 50);
	return atomic_load(&got_b) >= want;
}

static void make_pki(void)
{
	char cmd[700];
	char tmpl[] = "/tmp/rp-worker-test-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(pki, sizeof(pki), "%s", tmpl);
	snprintf(cmd, sizeof(cmd), "sh %s/../../integration/proxy_mkcerts.sh %s >/dev/null",
		RP_TEST_DATA, pki);
	ck_assert_int_eq(system(cmd), 0);
	rp_tls_global_init();
}

static void rm_pki(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	(void)!system(cmd);
	rp_tls_global_fini();
}

static rp_workers *start_client(void)
{
	struct rp_transport_cfg cfg;
	rp_workers *ws = NULL;

	rp_transport_cfg_defaults(&cfg);
	cfg.workers = 2;
	ck_assert_int_eq(rp_workers_start(&cfg, NULL, collect, NULL, &ws), 0);
	return ws;
}

START_TEST(outbound_tcp)
{
	rp_workers *a = start(0, 0, 0), *b = start_client();
	const char *m = "OPTIONS sip:out SIP/2.0\r\nl: 0\r\n\r\n";
	const char *two = "INFO sip:two SIP/2.0\r\nl: 0\r\n\r\n";
	struct rp_workers_stats st;
	rp_addr dead;
	int s;

	atomic_store(&got_b, 0);
	/* Two sends before the connection exists: one connection, in order. */
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TCP, listen_addr(a, RP_TP_TCP), NULL, m, strlen(m)), 0);
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TCP, listen_addr(a, RP_TP_TCP), NULL,
		two, strlen(two)), 0);
	ck_assert(wait_got(2));
	pthread_mutex_lock(&last_lock);
	ck_assert_str_eq(last_b, "ECHO INFO sip:two SIP/2.0\r\nl: 0\r\n\r\n");
	pthread_mutex_unlock(&last_lock);
	rp_workers_get_stats(b, &st);
	ck_assert_uint_eq(st.opened, 1);
	rp_workers_get_stats(a, &st);
	ck_assert_uint_eq(st.accepted, 1);

	/* Nobody listens there: the connection fails and is closed. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);

		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
		memset(&dead, 0, sizeof(dead));
		memcpy(&dead.u.in4, &sa, sizeof(sa));
		dead.len = sizeof(sa);
	}
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TCP, &dead, NULL, m, strlen(m)), 0);
	for (int i = 0; i < 100; i++) {
		rp_workers_get_stats(b, &st);
		if (st.closed >= 1)
			break;
		poll(NULL, 0, 50);
	}
	ck_assert_uint_ge(st.closed, 1);
	close(s);
	rp_workers_stop(b);
	rp_workers_stop(a);
}
END_TEST

static rp_workers *start_tls_server(rp_tls_store **store)
{
	struct rp_transport_cfg cfg;
	rp_workers *ws = NULL;
	char cert[300], key[300], err[256];

	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	rp_transport_cfg_defaults(&cfg);
	cfg.tls.cert_file = cert;
	cfg.tls.key_file = key;
	ck_assert_msg(rp_tls_store_new(RP_TLS_SERVER, &cfg.tls, store, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(rp_listen_parse("tls:127.0.0.1:0", &cfg.listen[0]), 0);
	cfg.n_listen = 1;
	cfg.workers = 2;
	ck_assert_int_eq(rp_workers_start(&cfg, *store, echo, NULL, &ws), 0);
	return ws;
}

START_TEST(outbound_tls_verified)
{
	rp_tls_store *sstore = NULL, *cstore = NULL;
	rp_workers *a = start_tls_server(&sstore), *b = start_client();
	struct rp_tls_cfg cc = { 0 };
	char ca[300], err[256];
	const char *m = "OPTIONS sip:tls SIP/2.0\r\nl: 0\r\n\r\n";
	const rp_addr *ta = listen_addr(a, RP_TP_TLS);
	struct rp_workers_stats st;

	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	cc.ca_file = ca;
	ck_assert_int_eq(rp_tls_store_new(RP_TLS_CLIENT, &cc, &cstore, err, sizeof(err)), 0);
	/* TLS without a name to verify is refused up front. */
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TLS, ta, NULL, m, strlen(m)), -EINVAL);
	rp_workers_set_client_tls(b, cstore);

	/* Wrong name: the handshake fails on our side, nothing is delivered. */
	atomic_store(&got_b, 0);
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TLS, ta, "other.example", m, strlen(m)), 0);
	for (int i = 0; i < 100; i++) {
		rp_workers_get_stats(b, &st);
		if (st.closed >= 1)
			break;
		poll(NULL, 0, 50);
	}
	ck_assert_uint_ge(st.closed, 1);
	rp_workers_get_stats(a, &st);
	ck_assert_uint_eq(st.stream_msgs, 0);

	/* Right name: delivered and answered over the same TLS connection. */
	ck_assert_int_eq(rp_workers_send_to(b, RP_TP_TLS, ta, "sip.test.example", m, strlen(m)), 0);
	ck_assert(wait_got(1));
	pthread_mutex_lock(&last_lock);
	ck_assert_str_eq(last_b, "ECHO OPTIONS sip:tls SIP/2.0\r\nl: 0\r\n\r\n");
	pthread_mutex_unlock(&last_lock);

	rp_workers_stop(b);
	rp_workers_stop(a);
	rp_tls_store_free(cstore);
	rp_tls_store_free(sstore);
}
END_TEST

/* The coalescing decision on a made-up clock: rounds of 'msgs' messages
 * every 'gap_us', 'n' of them; returns how many rounds asked for a sleep
 * and checks every answer is 0 or the (clamped) wait. */
static unsigned rounds(struct rp_batch *b, uint64_t *now, uint32_t wait_us, unsigned n,
	uint64_t gap_us, unsigned msgs, bool backlog)
{
	unsigned slept = 0;
	uint32_t want = wait_us > RP_BATCH_MAX_US ? RP_BATCH_MAX_US : wait_us;

	for (unsigned i = 0; i < n; i++) {
		uint32_t r;

		*now += gap_us * 1000u;
		r = rp_batch_after_round(b, wait_us, *now, msgs, backlog);
		ck_assert(r == 0 || r == want);
		slept += r != 0;
	}
	return slept;
}

START_TEST(batch_decision)
{
	struct rp_batch b = { 0 };
	uint64_t now = 5000000000ull;

	/* Off: never a sleep, at any rate. */
	ck_assert_uint_eq(rounds(&b, &now, 0, 100, 100, 50, false), 0);
	/* 1 message a ms predicts 1 within 1 ms (< 4): the first message and
	 * every other one are handled at once. */
	ck_assert_uint_eq(rounds(&b, &now, 1000, 200, 1000, 1, false), 0);
	/* 8 a ms: the first window (20 ms) decides, then every round sleeps. */
	ck_assert_uint_eq(rounds(&b, &now, 1000, 20, 1000, 8, false), 1);
	ck_assert_uint_eq(rounds(&b, &now, 1000, 50, 1000, 8, false), 50);
	/* A round that left a socket with data, or found nothing: no sleep
	 * (no time passes, so the rate windows stay as they were). */
	ck_assert_uint_eq(rounds(&b, &now, 1000, 10, 0, 8, true), 0);
	ck_assert_uint_eq(rounds(&b, &now, 1000, 10, 0, 0, false), 0);
	/* 3 a ms (between half and all of RP_BATCH_MIN): stays on... */
	ck_assert_uint_eq(rounds(&b, &now, 1000, 100, 1000, 3, false), 100);
	/* ...and at 1 a ms turns off within a window and stays off. */
	ck_assert_uint_lt(rounds(&b, &now, 1000, 45, 1000, 1, false), 45);
	ck_assert_uint_eq(rounds(&b, &now, 1000, 100, 1000, 1, false), 0);
	/* Off, 3 a ms does not turn it on (hysteresis). */
	ck_assert_uint_eq(rounds(&b, &now, 1000, 100, 1000, 3, false), 0);
	/* 3 a ms with a 2 ms wait predicts 6: on. */
	ck_assert_uint_gt(rounds(&b, &now, 2000, 100, 1000, 3, false), 70);
	/* A lone message after 10 s of silence: no sleep after it. */
	now += 10000000000ull;
	ck_assert_uint_eq(rounds(&b, &now, 2000, 1, 1, 1, false), 0);
	/* The wait is clamped to RP_BATCH_MAX_US (checked in rounds()). */
	ck_assert_uint_gt(rounds(&b, &now, 60000, 100, 1000, 8, false), 70);
	/* Turning it off forgets the rate: back on needs a full window. */
	ck_assert_uint_eq(rounds(&b, &now, 0, 1, 1000, 8, false), 0);
	ck_assert_uint_eq(rounds(&b, &now, 1000, 19, 1000, 8, false), 0);
	/* A clock read on another CPU may be a little behind: no sleep is
	 * made up from a negative interval. */
	b = (struct rp_batch){ .win_start_ns = now + 1000 };
	ck_assert_uint_eq(rp_batch_after_round(&b, 1000, now, 8, false), 0);
}
END_TEST

/* The UDP steering decision on made-up loads (permille of one CPU). */
START_TEST(steer_decision)
{
	struct rp_steer s = { .one = true };

	/* Concentrated: stays while worker 0 uses at most the threshold... */
	ck_assert(!rp_steer_decide(&s, 100, 100, false));
	ck_assert(!rp_steer_decide(&s, RP_STEER_UP_PERMILLE, RP_STEER_UP_PERMILLE, false));
	ck_assert(s.one);
	/* ...spreads above it. */
	ck_assert(rp_steer_decide(&s, RP_STEER_UP_PERMILLE + 1, 600, false));
	ck_assert(!s.one);
	/* Spread: a load between the thresholds keeps it spread. */
	for (int i = 0; i < 20; i++)
		ck_assert(!rp_steer_decide(&s, 150, RP_STEER_DOWN_PERMILLE, false));
	/* Calm periods in a row concentrate again; a backlog restarts the count. */
	for (unsigned i = 0; i + 1 < RP_STEER_CALM_PERIODS; i++)
		ck_assert(!rp_steer_decide(&s, 50, 100, false));
	ck_assert(!rp_steer_decide(&s, 50, 100, true));
	for (unsigned i = 0; i + 1 < RP_STEER_CALM_PERIODS; i++)
		ck_assert(!rp_steer_decide(&s, 50, 100, false));
	ck_assert(!s.one);
	ck_assert(rp_steer_decide(&s, 50, 100, false));
	ck_assert(s.one);
	/* A backlog behind a nearly idle worker 0 is the machine's
	 * scheduling, not load: it stays; with some load it spreads. */
	ck_assert(!rp_steer_decide(&s, RP_STEER_DOWN_PERMILLE - 1, 300, true));
	ck_assert(s.one);
	ck_assert(rp_steer_decide(&s, RP_STEER_DOWN_PERMILLE, 300, true));
	ck_assert(!s.one);
}
END_TEST

/* One request from each of n fresh sockets (n source ports, so n flows
 * for the kernel's hash); every echo must come back. */
static void udp_from_ports(rp_workers *ws, unsigned n)
{
	const rp_addr *ua = listen_addr(ws, RP_TP_UDP);
	char buf[256];

	for (unsigned i = 0; i < n; i++) {
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		struct timeval tv = { .tv_sec = 5 };

		ck_assert_int_ge(u, 0);
		setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ck_assert_int_eq(sendto(u, "OPTIONS sip:steer SIP/2.0\r\nl: 0\r\n\r\n", 36, 0,
			&ua->u.sa, ua->len), 36);
		ck_assert_int_gt(recv(u, buf, sizeof(buf), 0), 0);
		ck_assert(!memcmp(buf, "ECHO OPTIONS sip:steer", 22));
		close(u);
	}
}

/* Waits (at most 5 s, poking the workers so worker 0 has rounds) until the
 * steering mode is 'one'; returns the stats then. */
static struct rp_workers_stats steer_wait(rp_workers *ws, bool one)
{
	struct rp_workers_stats st;

	for (int i = 0; i < 500; i++) {
		rp_workers_get_stats(ws, &st);
		if (st.udp_one == one)
			return st;
		udp_from_ports(ws, 1);
		usleep(10000);
	}
	ck_abort_msg("UDP steering never became %s", one ? "worker-0" : "hash");
	return st;
}

/* Real workers (3) and the kernel: concentrated, every flow lands on
 * worker 0; handed back to the hash, 48 flows spread over several. */
START_TEST(udp_steering_live)
{
	rp_workers *ws = start(0, 0, 0);
	struct rp_workers_stats a, b;
	unsigned busy = 0;

	rp_workers_set_udp_steering(ws, true);
	a = steer_wait(ws, true);
	ck_assert_uint_ge(a.udp_steer_changes, 1);
	udp_from_ports(ws, 48);
	rp_workers_get_stats(ws, &b);
	ck_assert(b.udp_one);
	ck_assert_uint_eq(b.worker_udp_msgs[0] - a.worker_udp_msgs[0], 48);
	ck_assert_uint_eq(b.worker_udp_msgs[1], a.worker_udp_msgs[1]);
	ck_assert_uint_eq(b.worker_udp_msgs[2], a.worker_udp_msgs[2]);

	rp_workers_set_udp_steering(ws, false);
	a = steer_wait(ws, false);
	udp_from_ports(ws, 48);
	rp_workers_get_stats(ws, &b);
	for (int i = 0; i < 3; i++)
		busy += b.worker_udp_msgs[i] != a.worker_udp_msgs[i];
	/* All 48 flows on one of 3 sockets by chance: 3 x 3^-48. */
	ck_assert_uint_ge(busy, 2);
	ck_assert_uint_eq(b.udp_msgs - a.udp_msgs, 48);
	rp_workers_stop(ws);
}
END_TEST

/* With coalescing on, a burst-paced stream of UDP requests all get their
 * answers, and a TCP request in the middle of it too (the sleep delays,
 * never drops); the worker stops while coalescing. */
START_TEST(coalescing_loses_nothing)
{
	rp_workers *ws = start(0, 0, 0);
	const rp_addr *ua = listen_addr(ws, RP_TP_UDP);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t, big = 4 << 20;
	bool seen[1200] = { 0 };
	unsigned got = 0, sent = 0;
	struct rp_workers_stats st;
	char buf[2048];

	rp_workers_set_batch_wait(ws, 2000);
	setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	t = tcp_connect(ws);
	while (sent < 1200 || got < 1200) {
		struct pollfd pf = { .fd = u, .events = POLLIN };

		for (int k = 0; k < 8 && sent < 1200; k++, sent++) {
			int n = snprintf(buf, sizeof(buf), "OPTIONS sip:%u SIP/2.0\r\nl: 0\r\n\r\n", sent);

			ck_assert_int_eq(sendto(u, buf, (size_t)n, 0, &ua->u.sa, ua->len), n);
			if (sent == 600)
				ck_assert_int_eq(write(t, "INFO sip:mid SIP/2.0\r\nl: 0\r\n\r\n", 30), 30);
		}
		/* About 16 requests a ms while sending; then up to 5 s of
		 * silence for the last answers. */
		if (poll(&pf, 1, sent < 1200 ? 0 : 5000) <= 0) {
			if (sent < 1200) {
				usleep(500);
				continue;
			}
			break;
		}
		while (got < 1200) {
			ssize_t r = recv(u, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			unsigned id;

			if (r <= 0)
				break;
			buf[r] = 0;
			ck_assert_int_eq(sscanf(buf, "ECHO OPTIONS sip:%u", &id), 1);
			ck_assert_uint_lt(id, 1200);
			ck_assert(!seen[id]);
			seen[id] = true;
			got++;
		}
	}
	ck_assert_uint_eq(got, 1200);
	ck_assert(wait_for(t, "ECHO INFO sip:mid", buf, sizeof(buf)));
	rp_workers_get_stats(ws, &st);
	ck_assert_uint_ge(st.udp_msgs, 1200);
	printf("coalescing_loses_nothing: %llu rounds, %llu coalescing sleeps\n",
		(unsigned long long)st.rounds, (unsigned long long)st.batch_sleeps);
	close(t);
	close(u);
	rp_workers_stop(ws);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_worker");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, udp_and_tcp_echo);
	tcase_add_test(tc, send_from_other_thread);
	tcase_add_test(tc, udp_sends_batched_in_order);
	tcase_add_test(tc, per_ip_limit);
	tcase_add_test(tc, rfc5923_alias);
	tcase_add_test(tc, alias_never_taken_from_another_connection);
	tcase_add_test(tc, idle_connection_closed);
	tcase_add_test(tc, slow_reader_disconnected);
	tcase_add_test(tc, batch_decision);
	tcase_add_test(tc, steer_decision);
	tcase_add_test(tc, udp_steering_live);
	tcase_add_test(tc, coalescing_loses_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("outbound");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, make_pki, rm_pki);
	tcase_add_test(tc, outbound_tcp);
	tcase_add_test(tc, outbound_tls_verified);
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
