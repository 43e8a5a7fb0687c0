/* Tests for rp_httpd over real loopback sockets (raw and curl): answers,
 * error codes, slow and oversize requests, connection limit. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rp_httpd.h"
#include "rp_metrics.h"

static rp_metrics *reg;
static rp_mval *ctr;
static _Atomic int unhealthy;

static int health(void *arg)
{
	(void)arg;
	return atomic_load(&unhealthy);
}

static rp_httpd *start(unsigned max_conns, unsigned timeout_ms, size_t max_req)
{
	ck_assert_int_eq(rp_metrics_new(&reg), 0);
	ck_assert_int_eq(rp_metrics_counter(reg, "rampart_test_hits_total", "Hits", &ctr), 0);
	rp_mval_add(ctr, 7);
	rp_httpd_cfg cfg = { .addr = "127.0.0.1", .port = 0, .max_conns = max_conns,
		.timeout_ms = timeout_ms, .max_request = max_req, .metrics = reg,
		.health = health };
	rp_httpd *h;
	ck_assert_int_eq(rp_httpd_start(&cfg, &h), 0);
	ck_assert_uint_ne(rp_httpd_port(h), 0);
	return h;
}

static void stop(rp_httpd *h)
{
	rp_httpd_stop(h);
	rp_metrics_free(reg);
	reg = NULL;
}

static int dial(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Reads until EOF (bounded by SO_RCVTIMEO and the buffer). */
static char *slurp(int fd)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	ck_assert_ptr_nonnull(b);
	for (int i = 0; i < 10000 && n < cap; i++) {
		ssize_t r = recv(fd, b + n, cap - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	b[n] = 0;
	return b;
}

static char *xfer(uint16_t port, const char *req, size_t len)
{
	int fd = dial(port);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	char *r = slurp(fd);
	close(fd);
	return r;
}

static char *get(uint16_t port, const char *req)
{
	return xfer(port, req, strlen(req));
}

static void assert_status(const char *resp, const char *status)
{
	ck_assert_msg(strncmp(resp, status, strlen(status)) == 0, "got: %.80s", resp);
}

START_TEST(metrics_and_health)
{
	rp_httpd *h = start(4, 5000, 0);
	uint16_t port = rp_httpd_port(h);
	char *r = get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 OK\r\n");
	ck_assert_ptr_nonnull(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "\r\nConnection: close\r\n"));
	rp_buf b;
	rp_buf_init(&b, 0);
	ck_assert_int_eq(rp_metrics_render(reg, &b), 0);
	const char *body = strstr(r, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	ck_assert_str_eq(body + 4, rp_buf_cstr(&b));
	char cl[64];
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", b.len);
	ck_assert_ptr_nonnull(strstr(r, cl));
	ck_assert_ptr_nonnull(strstr(body, "rampart_test_hits_total 7\n"));
	free(r);

	/* Query strings are ignored; HEAD has the head only. */
	r = get(port, "HEAD /metrics?x=1 HTTP/1.0\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 OK\r\n");
	ck_assert_ptr_nonnull(strstr(r, cl));
	ck_assert_str_eq(strstr(r, "\r\n\r\n"), "\r\n\r\n");
	free(r);
	rp_buf_free(&b);

	r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 OK\r\n");
	ck_assert_str_eq(strstr(r, "\r\n\r\n") + 4, "ok\n");
	free(r);
	atomic_store(&unhealthy, 1);
	r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 503 ");
	free(r);
	atomic_store(&unhealthy, 0);

	rp_httpd_stats st;
	rp_httpd_get_stats(h, &st);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.errors, 1);
	stop(h);
}
END_TEST

START_TEST(error_answers)
{
	rp_httpd *h = start(4, 5000, 256);
	uint16_t port = rp_httpd_port(h);
	char *r = get(port, "GET /nope HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 404 Not Found\r\n");
	free(r);
	r = get(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	assert_status(r, "HTTP/1.1 405 Method Not Allowed\r\n");
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	const char *bad[] = {
		"HELLO\r\n\r\n",
		"GET metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = get(port, bad[i]);
		ck_assert_msg(strncmp(r, "HTTP/1.1 400 ", 13) == 0, "%s -> %.40s", bad[i], r);
		free(r);
	}
	/* A head larger than max_request (256) without its end: 431. */
	char big[1200];
	int n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n);
	r = xfer(port, big, sizeof(big));
	assert_status(r, "HTTP/1.1 431 ");
	free(r);
	/* The server still serves afterwards. */
	r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
	stop(h);
}
END_TEST

START_TEST(slowloris_times_out)
{
	rp_httpd *h = start(4, 300, 0);
	uint16_t port = rp_httpd_port(h);
	int fd = dial(port);
	const char part[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	ck_assert_int_eq(send(fd, part, sizeof(part) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(part) - 1);
	/* Never finish the head: the server must answer 408 and close (the
	 * 10 s receive timeout only bounds the test if it did not). */
	char *r = slurp(fd);
	assert_status(r, "HTTP/1.1 408 ");
	free(r);
	close(fd);
	rp_httpd_stats st;
	rp_httpd_get_stats(h, &st);
	ck_assert_uint_eq(st.timeouts, 1);
	stop(h);
}
END_TEST

START_TEST(connection_limit)
{
	rp_httpd *h = start(2, 60000, 0);
	uint16_t port = rp_httpd_port(h);
	int a = dial(port), b = dial(port);
	/* Both slots are held by idle clients: a third pushes out the oldest
	 * (a, answered 503 and closed) and is answered itself. */
	char *r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 ");
	free(r);
	r = slurp(a);
	assert_status(r, "HTTP/1.1 503 ");
	free(r);
	rp_httpd_stats st;
	rp_httpd_get_stats(h, &st);
	ck_assert_uint_eq(st.rejected, 1);
	ck_assert_uint_eq(st.requests, 1);
	/* b, the younger idle client, kept its slot: answered when its
	 * request comes. */
	const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
	ck_assert_int_eq(send(b, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	r = slurp(b);
	assert_status(r, "HTTP/1.1 200 ");
	free(r);
	close(a);
	close(b);
	stop(h);
}
END_TEST

/* A slowloris of the metrics port: many more slow senders than slots,
 * each holding its connection with half a request head. /healthz still
 * gets its 200 (before: 503 while all 16 slots were held, for the whole
 * timeout, 60 s here). */
START_TEST(healthz_under_slowloris)
{
	enum { SLOW = 40 };
	rp_httpd *h = start(16, 60000, 0);
	uint16_t port = rp_httpd_port(h);
	const char part[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
	int slow[SLOW];

	for (int i = 0; i < SLOW; i++) {
		slow[i] = dial(port);
		ck_assert_int_eq(send(slow[i], part, sizeof(part) - 1, MSG_NOSIGNAL),
			(ssize_t)sizeof(part) - 1);
	}
	for (int round = 0; round < 3; round++) {
		char *r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
		assert_status(r, "HTTP/1.1 200 ");
		ck_assert_ptr_nonnull(strstr(r, "\r\n\r\nok\n"));
		free(r);
	}
	rp_httpd_stats st;
	rp_httpd_get_stats(h, &st);
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.timeouts, 0);
	/* Every slow client over the 16 slots was pushed out with a 503. */
	ck_assert_uint_ge(st.rejected, SLOW - 16);
	for (int i = 0; i < SLOW; i++)
		close(slow[i]);
	stop(h);
}
END_TEST

/* Random bytes and mutated requests: every answer is a well-formed status
 * line (or a plain close), and the server keeps serving. */
START_TEST(garbage_requests)
{
	rp_httpd *h = start(4, 500, 512);
	uint16_t port = rp_httpd_port(h);
	uint32_t x = 12345;
	const char base[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
	for (int i = 0; i < 150; i++) {
		char req[700];
		size_t n;
		if (i % 2) {
			n = sizeof(base) - 1;
			memcpy(req, base, n);
			for (int k = 0; k < 3; k++) {
				x = x * 1103515245u + 12345u;
				req[(x >> 8) % n] = (char)(x >> 16);
			}
		} else {
			x = x * 1103515245u + 12345u;
			n = (x >> 8) % sizeof(req);
			for (size_t k = 0; k < n; k++) {
				x = x * 1103515245u + 12345u;
				req[k] = (char)(x >> 16);
			}
		}
		int fd = dial(port);
		(void)!send(fd, req, n, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		char *r = slurp(fd);
		close(fd);
		ck_assert_msg(r[0] == 0 || strncmp(r, "HTTP/1.1 ", 9) == 0, "got %.40s", r);
		free(r);
	}
	char *r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
	assert_status(r, "HTTP/1.1 200 OK\r\n");
	free(r);
	stop(h);
}
END_TEST

static int run_cmd(const char *cmd, char *out, size_t outsz)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, outsz - 1, p);
	out[n] = 0;
	return pclose(p);
}

START_TEST(curl_scrape)
{
	if (system("curl --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "curl not installed: skipping curl_scrape\n");
		return;
	}
	rp_httpd *h = start(4, 5000, 0);
	uint16_t port = rp_httpd_port(h);
	char cmd[256], out[8192];
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 10 -i http://127.0.0.1:%u/metrics", port);
	ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
	assert_status(out, "HTTP/1.1 200 OK\r\n");
	ck_assert_ptr_nonnull(strstr(out, "# TYPE rampart_test_hits_total counter\nrampart_test_hits_total 7\n"));
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 10 -o /dev/null -w '%%{http_code}' "
		"-X DELETE http://127.0.0.1:%u/metrics", port);
	ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "405");
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 10 -o /dev/null -w '%%{http_code}' "
		"http://127.0.0.1:%u/x", port);
	ck_assert_int_eq(run_cmd(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "404");
	stop(h);
}
END_TEST

START_TEST(bad_config)
{
	rp_httpd *h = NULL;
	rp_httpd_cfg cfg = { .addr = "localhost" }; /* numeric only */
	ck_assert_int_eq(rp_httpd_start(&cfg, &h), -EINVAL);
	ck_assert_ptr_null(h);
	cfg = (rp_httpd_cfg){ .addr = "::1" };
	int rc = rp_httpd_start(&cfg, &h);
	if (rc == 0) /* hosts without IPv6 loopback give -EADDRNOTAVAIL */
		rp_httpd_stop(h);
	else
		ck_assert_int_eq(rc, -EADDRNOTAVAIL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, metrics_and_health);
	tcase_add_test(tc, error_answers);
	tcase_add_test(tc, slowloris_times_out);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, healthz_under_slowloris);
	tcase_add_test(tc, garbage_requests);
	tcase_add_test(tc, curl_scrape);
	tcase_add_test(tc, bad_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
