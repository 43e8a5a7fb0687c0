/* rp_httpd: see rp_httpd.h. */
#include "rp_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_buf.h"
#include "rp_log.h"
#include "rp_str.h"
#include "rp_time.h"

#define ACCEPT_BURST 64
/* After answering, keep reading (and discarding) for at most this long so
 * closing with unread request bytes does not reset the answer away. */
#define LINGER_MS 1000

enum cstate { C_READ, C_WRITE, C_LINGER };

struct conn {
	int fd;
	enum cstate st;
	uint64_t deadline; /* rp_now_ms() */
	uint64_t seq;      /* accept order: the lowest is the oldest */
	size_t len;
	char *req;         /* max_request bytes */
	rp_buf out;
	size_t off;
};

struct rp_httpd {
	rp_httpd_cfg cfg;
	int lfd;
	int stop_rd, stop_wr;
	uint16_t port;
	pthread_t thr;
	struct conn *conns; /* max_conns, fd -1 when free */
	unsigned nconns;
	struct pollfd *pfd;
	uint64_t accept_pause; /* rp_now_ms() until which the listener is not polled */
	uint64_t accepted;     /* accept counter, for conn.seq */
	_Atomic uint64_t requests, errors, timeouts, rejected;
};

static void conn_close(rp_httpd *h, struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	rp_buf_free(&c->out);
	h->nconns--;
}

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static void respond(rp_httpd *h, struct conn *c, int code, const char *ctype,
	rp_str body, bool head_only)
{
	rp_buf_reset(&c->out);
	rp_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
		code, reason(code), ctype, body.n,
		code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only)
		rp_buf_append_str(&c->out, body);
	if (code >= 200 && code < 300)
		atomic_fetch_add_explicit(&h->requests, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&h->errors, 1, memory_order_relaxed);
	c->st = C_WRITE;
	c->off = 0;
}

static void respond_text(rp_httpd *h, struct conn *c, int code, const char *text)
{
	respond(h, c, code, "text/plain; charset=utf-8", rp_str_cstr(text), false);
}

static bool is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		(ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* req[0..n) holds a complete head ending in CRLFCRLF. */
static void handle(rp_httpd *h, struct conn *c, size_t n)
{
	const char *p = c->req;
	const char *eol = memmem(p, n, "\r\n", 2);
	size_t ll = (size_t)(eol - p), i = 0;
	while (i < ll && is_tchar(p[i]))
		i++;
	rp_str method = rp_str_make(p, i);
	if (i == 0 || i >= ll || p[i] != ' ')
		goto bad;
	size_t t0 = ++i;
	while (i < ll && p[i] != ' ' && (unsigned char)p[i] > 0x20 && p[i] != 0x7f)
		i++;
	rp_str target = rp_str_make(p + t0, i - t0);
	if (target.n == 0 || target.p[0] != '/' || i >= ll || p[i] != ' ')
		goto bad;
	rp_str ver = rp_str_make(p + i + 1, ll - i - 1);
	if (!rp_str_eq_cstr(ver, "HTTP/1.1") && !rp_str_eq_cstr(ver, "HTTP/1.0"))
		goto bad;
	bool head = rp_str_eq_cstr(method, "HEAD");
	if (!head && !rp_str_eq_cstr(method, "GET")) {
		respond_text(h, c, 405, "method not allowed\n");
		return;
	}
	ptrdiff_t q = rp_str_chr(target, '?');
	if (q >= 0)
		target.n = (size_t)q;
	if (rp_str_eq_cstr(target, "/metrics") && h->cfg.metrics) {
		rp_buf body;
		rp_buf_init(&body, 0);
		if (rp_metrics_render(h->cfg.metrics, &body) == 0)
			respond(h, c, 200, RP_METRICS_CONTENT_TYPE, rp_buf_str(&body), head);
		else
			respond_text(h, c, 503, "metrics unavailable\n");
		rp_buf_free(&body);
	} else if (rp_str_eq_cstr(target, "/healthz")) {
		bool ok = !h->cfg.health || h->cfg.health(h->cfg.health_arg) == 0;
		respond(h, c, ok ? 200 : 503, "text/plain; charset=utf-8",
			ok ? RP_STR_LIT("ok\n") : RP_STR_LIT("unhealthy\n"), head);
	} else {
		respond_text(h, c, 404, "not found\n");
	}
	return;
bad:
	respond_text(h, c, 400, "bad request\n");
}

static void conn_read(rp_httpd *h, struct conn *c)
{
	if (c->st == C_LINGER) {
		char sink[512];
		ssize_t r = recv(c->fd, sink, sizeof(sink), 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(h, c);
		return;
	}
	size_t room = h->cfg.max_request - c->len;
	ssize_t r = recv(c->fd, c->req + c->len, room, 0);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(h, c);
		return;
	}
	if (r == 0) {
		conn_close(h, c);
		return;
	}
	size_t from = c->len > 3 ? c->len - 3 : 0;
	c->len += (size_t)r;
	const char *end = memmem(c->req + from, c->len - from, "\r\n\r\n", 4);
	if (end)
		handle(h, c, (size_t)(end - c->req) + 4);
	else if (c->len == h->cfg.max_request)
		respond_text(h, c, 431, "request too large\n");
}

static void conn_write(rp_httpd *h, struct conn *c)
{
	rp_str s = rp_buf_str(&c->out);
	while (c->off < s.n) {
		ssize_t w = send(c->fd, s.p + c->off, s.n - c->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(h, c);
			return;
		}
		c->off += (size_t)w;
	}
	shutdown(c->fd, SHUT_WR);
	c->st = C_LINGER;
	uint64_t lim = rp_now_ms() + LINGER_MS;
	if (lim < c->deadline)
		c->deadline = lim;
}

/* Busy answer to a peer that gets no slot; best effort, never blocks: it
 * is not worth one. */
static void send_busy(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n";

	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* All slots taken: frees one for the newcomer. A connection already
 * answered (lingering) goes first, else the oldest one still without a
 * complete request head: that is what a slowloris holds, and a real
 * scraper sends its head at once, so a flood of slow connections only
 * pushes out its own oldest members and /healthz keeps being answered.
 * False when every slot is busy writing an answer. */
static bool evict_one(rp_httpd *h)
{
	struct conn *victim = NULL;

	for (unsigned i = 0; i < h->cfg.max_conns; i++) {
		struct conn *c = &h->conns[i];

		if (c->fd < 0 || c->st == C_WRITE)
			continue;
		if (!victim || (c->st == C_LINGER && victim->st != C_LINGER) ||
		    (c->st == victim->st && c->seq < victim->seq))
			victim = c;
	}
	if (!victim)
		return false;
	if (victim->st == C_READ) {
		send_busy(victim->fd);
		atomic_fetch_add_explicit(&h->rejected, 1, memory_order_relaxed);
	}
	conn_close(h, victim);
	return true;
}

static void do_accept(rp_httpd *h)
{
	for (int k = 0; k < ACCEPT_BURST; k++) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors: the pending connection keeps the
			 * listener readable, so stop polling it for a while
			 * instead of spinning. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				h->accept_pause = rp_now_ms() + 100;
			return;
		}
		if (h->nconns >= h->cfg.max_conns && !evict_one(h)) {
			send_busy(fd);
			close(fd);
			atomic_fetch_add_explicit(&h->rejected, 1, memory_order_relaxed);
			continue;
		}
		for (unsigned i = 0; i < h->cfg.max_conns; i++) {
			struct conn *c = &h->conns[i];
			if (c->fd >= 0)
				continue;
			c->fd = fd;
			c->st = C_READ;
			c->len = 0;
			c->off = 0;
			c->seq = ++h->accepted;
			c->deadline = rp_now_ms() + h->cfg.timeout_ms;
			rp_buf_init(&c->out, 0);
			h->nconns++;
			break;
		}
	}
}

static void expire(rp_httpd *h, uint64_t now)
{
	for (unsigned i = 0; i < h->cfg.max_conns; i++) {
		struct conn *c = &h->conns[i];
		if (c->fd < 0 || now < c->deadline)
			continue;
		if (c->st == C_READ) {
			static const char tmo[] = "HTTP/1.1 408 Request Timeout\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!send(c->fd, tmo, sizeof(tmo) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			atomic_fetch_add_explicit(&h->timeouts, 1, memory_order_relaxed);
		} else if (c->st == C_WRITE) {
			atomic_fetch_add_explicit(&h->timeouts, 1, memory_order_relaxed);
		}
		conn_close(h, c);
	}
}

static void *run(void *arg)
{
	rp_httpd *h = arg;
	unsigned *map = calloc(h->cfg.max_conns, sizeof(unsigned));
	if (!map) {
		rp_err("httpd: out of memory, metrics endpoint stopped");
		return NULL;
	}
	for (;;) {
		uint64_t now = rp_now_ms();
		expire(h, now);
		int timeout = 1000;
		nfds_t n = 0;
		h->pfd[n++] = (struct pollfd){ .fd = h->stop_rd, .events = POLLIN };
		/* fd -1 is skipped by poll(2). */
		h->pfd[n++] = (struct pollfd){ .fd = now < h->accept_pause ? -1 : h->lfd,
			.events = POLLIN };
		if (now < h->accept_pause)
			timeout = (int)(h->accept_pause - now);
		for (unsigned i = 0; i < h->cfg.max_conns; i++) {
			struct conn *c = &h->conns[i];
			if (c->fd < 0)
				continue;
			map[n - 2] = i;
			h->pfd[n++] = (struct pollfd){ .fd = c->fd,
				.events = c->st == C_WRITE ? POLLOUT : POLLIN };
			uint64_t left = c->deadline > now ? c->deadline - now : 0;
			if (left < (uint64_t)timeout)
				timeout = (int)left;
		}
		int r = poll(h->pfd, n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rp_err("httpd: poll: %s", strerror(errno));
			break;
		}
		if (h->pfd[0].revents)
			break;
		for (nfds_t k = 2; k < n; k++) {
			struct conn *c = &h->conns[map[k - 2]];
			short ev = h->pfd[k].revents;
			if (!ev || c->fd < 0)
				continue;
			if (c->st == C_WRITE)
				conn_write(h, c);
			else
				conn_read(h, c);
			if (c->fd >= 0 && c->st == C_WRITE)
				conn_write(h, c); /* answer at once, usually fits */
		}
		if (h->pfd[1].revents & POLLIN)
			do_accept(h);
	}
	free(map);
	return NULL;
}

static void free_all(rp_httpd *h)
{
	if (h->conns) {
		for (unsigned i = 0; i < h->cfg.max_conns; i++)
			if (h->conns[i].fd >= 0)
				conn_close(h, &h->conns[i]);
		for (unsigned i = 0; i < h->cfg.max_conns; i++)
			free(h->conns[i].req);
	}
	free(h->conns);
	free(h->pfd);
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->stop_rd >= 0)
		close(h->stop_rd);
	if (h->stop_wr >= 0)
		close(h->stop_wr);
	free(h);
}

static int make_listener(rp_httpd *h)
{
	const char *a = h->cfg.addr ? h->cfg.addr : "127.0.0.1";
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(h->cfg.port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(h->cfg.port);
		sl = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	h->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(h->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(h->lfd, 64) < 0)
		return -errno;
	if (getsockname(h->lfd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	h->port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	return 0;
}

int rp_httpd_start(const rp_httpd_cfg *cfg, rp_httpd **out)
{
	if (!cfg)
		return -EINVAL;
	rp_httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	h->lfd = h->stop_rd = h->stop_wr = -1;
	if (!h->cfg.max_conns)
		h->cfg.max_conns = 16;
	if (!h->cfg.timeout_ms)
		h->cfg.timeout_ms = 5000;
	if (!h->cfg.max_request)
		h->cfg.max_request = 4096;
	if (h->cfg.max_conns > 4096 || h->cfg.max_request < 64 || h->cfg.max_request > (1u << 20)) {
		free(h);
		return -EINVAL;
	}
	h->conns = calloc(h->cfg.max_conns, sizeof(*h->conns));
	h->pfd = calloc(h->cfg.max_conns + 2, sizeof(*h->pfd));
	int rc = -ENOMEM;
	if (!h->conns || !h->pfd)
		goto fail;
	for (unsigned i = 0; i < h->cfg.max_conns; i++)
		h->conns[i].fd = -1;
	for (unsigned i = 0; i < h->cfg.max_conns; i++) {
		h->conns[i].req = malloc(h->cfg.max_request);
		if (!h->conns[i].req)
			goto fail;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail;
	}
	h->stop_rd = p[0];
	h->stop_wr = p[1];
	rc = make_listener(h);
	if (rc)
		goto fail;
	rc = -pthread_create(&h->thr, NULL, run, h);
	if (rc)
		goto fail;
	*out = h;
	return 0;
fail:
	free_all(h);
	return rc;
}

uint16_t rp_httpd_port(const rp_httpd *h)
{
	return h->port;
}

void rp_httpd_get_stats(const rp_httpd *h, rp_httpd_stats *out)
{
	rp_httpd *m = (rp_httpd *)h;
	out->requests = atomic_load(&m->requests);
	out->errors = atomic_load(&m->errors);
	out->timeouts = atomic_load(&m->timeouts);
	out->rejected = atomic_load(&m->rejected);
}

void rp_httpd_stop(rp_httpd *h)
{
	if (!h)
		return;
	char b = 1;
	while (write(h->stop_wr, &b, 1) < 0 && errno == EINTR)
		;
	pthread_join(h->thr, NULL);
	free_all(h);
}
