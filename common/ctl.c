#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rp_log.h"
#include "rp_time.h"

#define DEF_MAX_CLIENTS 64
#define DEF_MAX_QUEUE (1u << 20)
#define MSGS_PER_ROUND 16    /* per client per ctl_server_handle() */
#define ACCEPTS_PER_ROUND 16
#define EPOLL_BATCH 32
#define CLIENT_MAX_EVENTS 1024 /* queued in a client during calls */

const char *ctl_access_name(enum ctl_access a)
{
	return a == CTL_ACCESS_ADMIN ? "admin" : "read";
}

/* ================================================================ server */

/* A message waiting for a slow client. It may carry keys: wiped on free. */
struct outmsg {
	struct outmsg *next;
	size_t len;
	char data[];
};

struct conn {
	struct conn *next, *prev;
	int fd;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	enum ctl_access access;
	uint64_t subs; /* bit i: subscribed to events[i] */
	struct outmsg *qhead, *qtail;
	size_t qbytes;
	bool want_out;
	bool dead;
};

struct event_def {
	const char *name;
	const char *help;
};

struct ctl_server {
	int lfd;
	int epfd;
	int spare_fd; /* given up to accept-and-close when out of fds */
	char *path;
	dev_t dev;
	ino_t ino;
	struct ctl_server_opts o;
	struct ctl_command *cmds;
	size_t ncmds, capcmds;
	struct event_def events[CTL_MAX_EVENTS];
	size_t nevents;
	struct conn *conns;
	size_t nconns;
	struct conn *dead; /* dropped during this round, freed at its end */
	uint64_t next_id;
	char *rx;       /* one received message */
	rp_buf tx;      /* the response being built */
	rp_buf evbuf;   /* an event being built (may happen inside a handler) */
	rp_arena arena; /* per request */
};

struct ctl_req {
	ctl_server *s;
	struct conn *c;
	const benc_node *args;
	rp_str command;
	rp_str cookie;
	char reason[512];
	bool has_reason;
};

static void outmsg_free(struct outmsg *m)
{
	explicit_bzero(m->data, m->len);
	free(m);
}

static void conn_drop(ctl_server *s, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (why)
		rp_info_rl("ctl: client %llu (pid %d uid %u) dropped: %s",
			(unsigned long long)c->id, (int)c->pid, (unsigned)c->uid, why);
	else
		rp_debug("ctl: client %llu disconnected", (unsigned long long)c->id);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	while (c->qhead) {
		struct outmsg *m = c->qhead;

		c->qhead = m->next;
		outmsg_free(m);
	}
	c->qtail = NULL;
	c->qbytes = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	c->dead = true;
	/* Freed at the end of the round: the current epoll batch may still
	 * hold events that point at it. */
	c->next = s->dead;
	s->dead = c;
}

static void free_dead(ctl_server *s)
{
	while (s->dead) {
		struct conn *c = s->dead;

		s->dead = c->next;
		free(c);
	}
}

static void set_want_out(ctl_server *s, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == on)
		return;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = on;
}

static int enqueue(ctl_server *s, struct conn *c, const char *data, size_t len)
{
	struct outmsg *m;

	if (c->qbytes + len > s->o.max_queue) {
		conn_drop(s, c, "not reading its messages (queue full)");
		return -ENOBUFS;
	}
	m = malloc(sizeof(*m) + len);
	if (!m) {
		conn_drop(s, c, "out of memory queueing a message");
		return -ENOMEM;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, data, len);
	if (c->qtail)
		c->qtail->next = m;
	else
		c->qhead = m;
	c->qtail = m;
	c->qbytes += len;
	set_want_out(s, c, true);
	return 0;
}

/* Sends one message now or queues it behind earlier ones. A failure drops
 * the client, never the server. */
static int send_msg(ctl_server *s, struct conn *c, const char *data, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (c->qhead)
		return enqueue(s, c, data, len);
	for (;;) {
		ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0)
			return 0; /* SEQPACKET: all or nothing */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return enqueue(s, c, data, len);
		int err = errno;

		conn_drop(s, c, strerror(err));
		return -err;
	}
}

static void flush_queue(ctl_server *s, struct conn *c)
{
	while (c->qhead && !c->dead) {
		struct outmsg *m = c->qhead;
		ssize_t n = send(c->fd, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_drop(s, c, strerror(errno));
			return;
		}
		c->qhead = m->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qbytes -= m->len;
		outmsg_free(m);
	}
	if (!c->dead)
		set_want_out(s, c, false);
}

/* Best effort: the cookie of a request we could not decode (truncated,
 * oversized, malformed), so the client can still match our error to its
 * call. Looks for the bytes "6:cookie" followed by a short string. */
static bool scan_cookie(const char *p, size_t n, rp_str *out)
{
	const char *q = memmem(p, n, "6:cookie", 8);
	size_t i, len = 0;

	if (!q)
		return false;
	i = (size_t)(q - p) + 8;
	if (i >= n || p[i] < '0' || p[i] > '9')
		return false;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		len = len * 10 + (size_t)(p[i] - '0');
		if (len > CTL_MAX_COOKIE)
			return false;
		i++;
	}
	if (i >= n || p[i] != ':' || len > n - i - 1)
		return false;
	*out = rp_str_make(p + i + 1, len);
	return true;
}

static void send_error(ctl_server *s, struct conn *c, const rp_str *cookie,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void send_error(ctl_server *s, struct conn *c, const rp_str *cookie,
		       const char *fmt, ...)
{
	char raw[512], reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* A reason may quote the client's bytes (an unknown command, a bad
	 * field): it goes out as valid UTF-8 of one line, whatever they were,
	 * so that a JSON-minded client or a terminal never chokes on it. */
	rp_str_utf8_safe(rp_str_cstr(raw), reason, sizeof(reason));
	rp_debug("ctl: client %llu: error: %s", (unsigned long long)c->id, reason);
	rp_buf_reset(&s->tx);
	benc_put_dict(&s->tx);
	if (cookie)
		benc_put_kv_str(&s->tx, "cookie", *cookie);
	benc_put_kv_cstr(&s->tx, "error-reason", reason);
	benc_put_kv_cstr(&s->tx, "result", "error");
	if (benc_put_end(&s->tx) == 0)
		send_msg(s, c, s->tx.p, s->tx.len);
}

static const struct ctl_command *find_command(const ctl_server *s, rp_str name)
{
	for (size_t i = 0; i < s->ncmds; i++)
		if (rp_str_eq_cstr(name, s->cmds[i].name))
			return &s->cmds[i];
	return NULL;
}

static void process_msg(ctl_server *s, struct conn *c, const char *p, size_t n)
{
	struct benc_opts bo = { .max_len = s->o.max_msg };
	struct benc_error be;
	struct benc_field_err fe;
	const benc_node *vnode;
	const struct ctl_command *cmd;
	benc_node *root;
	rp_str cookie;
	char why[160];
	int rc;

	rp_arena_reset(&s->arena);
	if (n > s->o.max_msg) {
		bool have = scan_cookie(p, s->o.max_msg, &cookie);

		send_error(s, c, have ? &cookie : NULL,
			   "request too large: %zu bytes, the limit is %zu", n, s->o.max_msg);
		return;
	}
	if (benc_decode(p, n, &s->arena, &bo, &root, NULL, &be) != BENC_OK) {
		bool have = scan_cookie(p, n, &cookie);

		benc_error_fmt(&be, why, sizeof(why));
		send_error(s, c, have ? &cookie : NULL,
			   "malformed request: %s (each message must be one bencode dictionary)",
			   why);
		return;
	}
	if (root->type != BENC_DICT) {
		send_error(s, c, NULL, "malformed request: a request is a dictionary, not a%s %s",
			   root->type == BENC_INT ? "n" : "", benc_type_name(root->type));
		return;
	}
	if (benc_get_str(root, "cookie", &cookie, &fe)) {
		benc_field_err_fmt(&fe, why, sizeof(why));
		send_error(s, c, NULL, "bad request: %s (every request needs a string 'cookie')",
			   why);
		return;
	}
	if (cookie.n > CTL_MAX_COOKIE) {
		send_error(s, c, NULL, "bad request: cookie longer than %d bytes", CTL_MAX_COOKIE);
		return;
	}
	vnode = benc_dict_get(root, "version");
	if (vnode) {
		if (vnode->type != BENC_INT) {
			send_error(s, c, &cookie, "bad request: field 'version' must be an integer");
			return;
		}
		if (vnode->u.i != CTL_VERSION_MAJOR) {
			send_error(s, c, &cookie,
				   "unsupported protocol version %lld: this server speaks version %d",
				   (long long)vnode->u.i, CTL_VERSION_MAJOR);
			return;
		}
	}
	struct ctl_req req = { .s = s, .c = c, .args = root, .cookie = cookie };

	if (benc_get_str(root, "command", &req.command, &fe)) {
		benc_field_err_fmt(&fe, why, sizeof(why));
		send_error(s, c, &cookie, "bad request: %s (every request needs a string 'command')",
			   why);
		return;
	}
	cmd = find_command(s, req.command);
	if (!cmd) {
		send_error(s, c, &cookie, "unknown command '%.*s'; send 'commands' for the list",
			   req.command.n > 64 ? 64 : (int)req.command.n, req.command.p);
		return;
	}
	if (cmd->access > c->access) {
		if (s->o.read_only)
			send_error(s, c, &cookie,
				   "permission denied: '%s' changes state and this is the read-only "
				   "control socket; use the admin socket", cmd->name);
		else
			send_error(s, c, &cookie,
				   "permission denied: '%s' needs %s access and this connection has %s access",
				   cmd->name, ctl_access_name(cmd->access),
				   ctl_access_name(c->access));
		return;
	}
	rp_debug("ctl: client %llu: %s cookie=%.*s", (unsigned long long)c->id, cmd->name,
		 (int)cookie.n, cookie.p);

	rp_buf_reset(&s->tx);
	benc_put_dict(&s->tx);
	benc_put_kv_str(&s->tx, "cookie", cookie);
	rc = cmd->fn(&req, &s->tx, cmd->arg);
	if (c->dead)
		return;
	if (rc == 0 && rp_buf_error(&s->tx) == 0) {
		benc_put_kv_cstr(&s->tx, "result", "ok");
		benc_put_end(&s->tx);
	}
	if (rc == 0 && rp_buf_error(&s->tx) == 0) {
		send_msg(s, c, s->tx.p, s->tx.len);
	} else if (rc == 0) {
		send_error(s, c, &cookie, "response to '%s' too large (limit %zu bytes)",
			   cmd->name, s->o.max_msg);
	} else if (req.has_reason) {
		send_error(s, c, &cookie, "%s", req.reason);
	} else {
		send_error(s, c, &cookie, "internal error in '%s': %s", cmd->name,
			   strerror(rc < 0 ? -rc : rc));
	}
}

static void conn_read(ctl_server *s, struct conn *c)
{
	for (int i = 0; i < MSGS_PER_ROUND && !c->dead; i++) {
		/* MSG_TRUNC: the kernel returns the full length of a longer
		 * message, so an oversized request is answered, not silently
		 * cut (SOCK_SEQPACKET, Linux >= 3.4). */
		ssize_t n = recv(c->fd, s->rx, s->o.max_msg, MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_drop(s, c, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_drop(s, c, NULL);
			return;
		}
		process_msg(s, c, s->rx, (size_t)n);
		/* Requests carry keys: do not leave them in the buffer. */
		explicit_bzero(s->rx, (size_t)n < s->o.max_msg ? (size_t)n : s->o.max_msg);
		rp_buf_reset(&s->tx);
	}
}

static void refuse_client(ctl_server *s, int fd)
{
	char msg[128];
	rp_buf b;

	rp_buf_init(&b, sizeof(msg));
	benc_put_dict(&b);
	benc_put_kv_cstr(&b, "error-reason", "too many control clients connected; try later");
	benc_put_kv_cstr(&b, "result", "error");
	if (benc_put_end(&b) == 0 &&
	    send(fd, b.p, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* It is being refused anyway. */
	}
	rp_buf_free(&b);
	close(fd);
}

static void accept_clients(ctl_server *s)
{
	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
				/* Out of fds: a pending connection would keep the
				 * listening socket readable and spin the loop. Use
				 * the spare fd to accept and close it. */
				rp_warn_rl("ctl: out of file descriptors, refusing a client");
				close(s->spare_fd);
				fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rp_warn_rl("ctl: accept: %s", strerror(errno));
			return;
		}
		if (s->nconns >= s->o.max_clients) {
			rp_warn_rl("ctl: %u clients connected, refusing another", s->o.max_clients);
			refuse_client(s, fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = ++s->next_id;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
			c->pid = cred.pid;
			c->uid = cred.uid;
			c->gid = cred.gid;
			c->access = (cred.uid == 0 || cred.uid == geteuid()) ? CTL_ACCESS_ADMIN
									      : s->o.group_access;
		} else {
			c->uid = (uid_t)-1;
			c->gid = (gid_t)-1;
			c->access = CTL_ACCESS_READ;
		}
		if (s->o.read_only)
			c->access = CTL_ACCESS_READ;
		/* Room for a full-size message in the socket buffer (best effort;
		 * capped by net.core.wmem_max). */
		int sndbuf = (int)(s->o.max_msg * 2 + 4096);
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0) {
			/* The default often suffices. */
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		rp_debug("ctl: client %llu connected (pid %d uid %u, %s access)",
			 (unsigned long long)c->id, (int)c->pid, (unsigned)c->uid,
			 ctl_access_name(c->access));
	}
}

int ctl_server_handle(ctl_server *s)
{
	struct epoll_event ev[EPOLL_BATCH];
	int n = epoll_wait(s->epfd, ev, EPOLL_BATCH, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct conn *c;

		if (ev[i].data.ptr == s) {
			accept_clients(s);
			continue;
		}
		c = ev[i].data.ptr;
		if (c->dead)
			continue;
		if (ev[i].events & EPOLLOUT)
			flush_queue(s, c);
		if (!c->dead && (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			conn_read(s, c);
	}
	free_dead(s);
	return 0;
}

int ctl_server_run_once(ctl_server *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->epfd, .events = POLLIN };
	int n = poll(&pfd, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	return ctl_server_handle(s);
}

int ctl_server_fd(const ctl_server *s)
{
	return s->epfd;
}

size_t ctl_server_clients(const ctl_server *s)
{
	return s->nconns;
}

/* ---- built-in commands ---- */

static int cmd_ping(ctl_req *r, rp_buf *resp, void *arg)
{
	return 0;
}

static int cmd_hello(ctl_req *r, rp_buf *resp, void *arg)
{
	ctl_server *s = r->s;

	benc_put_kv_int(resp, "version", CTL_VERSION_MAJOR);
	benc_put_kv_int(resp, "version-minor", CTL_VERSION_MINOR);
	benc_put_kv_cstr(resp, "server", s->o.name);
	benc_put_kv_cstr(resp, "software", s->o.software);
	benc_put_kv_int(resp, "max-message", (int64_t)s->o.max_msg);
	benc_put_kv_cstr(resp, "access", ctl_access_name(r->c->access));
	benc_put_kv_int(resp, "read-only", s->o.read_only);
	benc_put_kv_int(resp, "uptime-s", (int64_t)((rp_now_ms() - s->o.start_ms) / 1000));
	benc_put_kv_list(resp, "events");
	for (size_t i = 0; i < s->nevents; i++)
		benc_put_cstr(resp, s->events[i].name);
	return benc_put_end(resp);
}

static int cmd_commands(ctl_req *r, rp_buf *resp, void *arg)
{
	ctl_server *s = r->s;

	benc_put_kv_list(resp, "commands");
	for (size_t i = 0; i < s->ncmds; i++) {
		const struct ctl_command *c = &s->cmds[i];

		benc_put_dict(resp);
		benc_put_kv_cstr(resp, "name", c->name);
		benc_put_kv_cstr(resp, "usage", c->usage ? c->usage : c->name);
		benc_put_kv_cstr(resp, "help", c->help ? c->help : "");
		benc_put_kv_cstr(resp, "access", ctl_access_name(c->access));
		benc_put_end(resp);
	}
	benc_put_end(resp);
	benc_put_kv_list(resp, "events");
	for (size_t i = 0; i < s->nevents; i++) {
		benc_put_dict(resp);
		benc_put_kv_cstr(resp, "name", s->events[i].name);
		benc_put_kv_cstr(resp, "help", s->events[i].help ? s->events[i].help : "");
		benc_put_end(resp);
	}
	return benc_put_end(resp);
}

/* Bit mask of the events named in the request's 'events' list (all events
 * when absent). */
static int events_mask(ctl_req *r, uint64_t *mask)
{
	ctl_server *s = r->s;
	const benc_node *list;
	struct benc_field_err fe;
	int rc = benc_get_list(r->args, "events", &list, &fe);

	if (rc == -ENOENT) {
		*mask = s->nevents >= 64 ? UINT64_MAX : (((uint64_t)1 << s->nevents) - 1);
		return 0;
	}
	if (rc)
		return ctl_req_field_error(r, &fe);
	*mask = 0;
	BENC_FOREACH(e, list) {
		size_t i;

		if (e->type != BENC_STR)
			return ctl_req_error(r, "field 'events' must be a list of strings");
		for (i = 0; i < s->nevents; i++)
			if (rp_str_eq_cstr(e->u.s, s->events[i].name))
				break;
		if (i == s->nevents)
			return ctl_req_error(r, "unknown event '%.*s'; 'hello' lists the events",
					     e->u.s.n > 64 ? 64 : (int)e->u.s.n, e->u.s.p);
		*mask |= (uint64_t)1 << i;
	}
	return 0;
}

static int put_subscriptions(ctl_req *r, rp_buf *resp)
{
	benc_put_kv_list(resp, "events");
	for (size_t i = 0; i < r->s->nevents; i++)
		if (r->c->subs & ((uint64_t)1 << i))
			benc_put_cstr(resp, r->s->events[i].name);
	return benc_put_end(resp);
}

static int cmd_subscribe(ctl_req *r, rp_buf *resp, void *arg)
{
	uint64_t mask;
	int rc = events_mask(r, &mask);

	if (rc)
		return rc;
	r->c->subs |= mask;
	return put_subscriptions(r, resp);
}

static int cmd_unsubscribe(ctl_req *r, rp_buf *resp, void *arg)
{
	uint64_t mask;
	int rc = events_mask(r, &mask);

	if (rc)
		return rc;
	r->c->subs &= ~mask;
	return put_subscriptions(r, resp);
}

static const struct ctl_command builtin_cmds[] = {
	{ "ping", cmd_ping, "ping", "check that the server answers", CTL_ACCESS_READ, NULL },
	{ "hello", cmd_hello, "hello [version=<int>]",
	  "protocol version, server name and version, limits, events", CTL_ACCESS_READ, NULL },
	{ "commands", cmd_commands, "commands", "list commands and events with usage",
	  CTL_ACCESS_READ, NULL },
	{ "subscribe", cmd_subscribe, "subscribe [events=<list of names>]",
	  "receive these events (all when 'events' is absent)", CTL_ACCESS_READ, NULL },
	{ "unsubscribe", cmd_unsubscribe, "unsubscribe [events=<list of names>]",
	  "stop receiving these events (all when 'events' is absent)", CTL_ACCESS_READ, NULL },
};

/* ---- set-up ---- */

int ctl_server_register(ctl_server *s, const struct ctl_command *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!cmds[i].name || !cmds[i].name[0] || !cmds[i].fn)
			return -EINVAL;
		if (find_command(s, rp_str_cstr(cmds[i].name)))
			return -EEXIST;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cmds[i].name, cmds[j].name) == 0)
				return -EEXIST;
	}
	if (s->ncmds + n > s->capcmds) {
		size_t ncap = (s->ncmds + n) * 2;
		struct ctl_command *nc = realloc(s->cmds, ncap * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		s->cmds = nc;
		s->capcmds = ncap;
	}
	memcpy(s->cmds + s->ncmds, cmds, n * sizeof(*cmds));
	s->ncmds += n;
	return 0;
}

int ctl_server_add_event(ctl_server *s, const char *name, const char *help)
{
	if (!name || !name[0])
		return -EINVAL;
	for (size_t i = 0; i < s->nevents; i++)
		if (strcmp(s->events[i].name, name) == 0)
			return -EEXIST;
	if (s->nevents >= CTL_MAX_EVENTS)
		return -ENOSPC;
	s->events[s->nevents].name = name;
	s->events[s->nevents].help = help;
	s->nevents++;
	return 0;
}

/* Is something listening on the socket file at path? */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return live;
}

static int make_socket_file(ctl_server *s, const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char tmp[sizeof(sa.sun_path)];
	struct stat st;
	int n, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	n = snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rp_err("ctl: %s exists and is not a socket; not replacing it", path);
			return -EEXIST;
		}
		if (socket_is_live(path)) {
			rp_err("ctl: another process is listening on %s", path);
			return -EADDRINUSE;
		}
		rp_notice("ctl: replacing stale socket %s", path);
	} else if (errno != ENOENT) {
		return -errno;
	}

	/* Our own leftover from a crash with the same pid. */
	if (lstat(tmp, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(tmp);
	memcpy(sa.sun_path, tmp, (size_t)n + 1);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* Not listening yet: nobody can connect before the permissions are
	 * right and the file has its final name. */
	if (chmod(tmp, mode) < 0 || (gid != (gid_t)-1 && chown(tmp, (uid_t)-1, gid) < 0) ||
	    rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	if (lstat(path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	return 0;
}

int ctl_server_listen(const char *path, mode_t mode, gid_t gid,
		      const struct ctl_server_opts *opts, ctl_server **out)
{
	ctl_server *s;
	int rc;

	if (!path || !path[0])
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lfd = s->epfd = s->spare_fd = -1;
	if (opts)
		s->o = *opts;
	if (!s->o.name)
		s->o.name = "rampart";
	if (!s->o.software)
		s->o.software = "unknown";
	if (!s->o.max_msg)
		s->o.max_msg = CTL_DEFAULT_MAX_MSG;
	if (!s->o.max_clients)
		s->o.max_clients = DEF_MAX_CLIENTS;
	if (!s->o.max_queue)
		s->o.max_queue = DEF_MAX_QUEUE;
	if (!s->o.start_ms)
		s->o.start_ms = rp_now_ms();
	if (!mode)
		mode = 0660;
	rp_buf_init(&s->tx, s->o.max_msg);
	rp_buf_set_secure(&s->tx, true);
	rp_buf_init(&s->evbuf, s->o.max_msg);
	rp_buf_set_secure(&s->evbuf, true);
	/* Bounded: a request of max_msg bytes decodes into at most a few
	 * nodes per byte. */
	rp_arena_init(&s->arena, NULL, 0, s->o.max_msg * 64 + (1u << 16));

	rc = -ENOMEM;
	s->path = strdup(path);
	s->rx = malloc(s->o.max_msg);
	if (!s->path || !s->rx)
		goto fail;
	rc = ctl_server_register(s, builtin_cmds, sizeof(builtin_cmds) / sizeof(builtin_cmds[0]));
	if (rc)
		goto fail;
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = make_socket_file(s, path, mode, gid);
	if (rc)
		goto fail;
	if (listen(s->lfd, 64) < 0) {
		rc = -errno;
		goto fail;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = -errno;
		goto fail;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*out = s;
	return 0;

fail:
	/* Also removes the socket file if it was created. */
	ctl_server_free(s);
	return rc;
}

void ctl_server_free(ctl_server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->conns)
		conn_drop(s, s->conns, NULL);
	free_dead(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	/* Remove the file only if it is still ours: a newer daemon may have
	 * replaced it. */
	if (s->path && s->ino && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	if (s->rx)
		explicit_bzero(s->rx, s->o.max_msg);
	free(s->rx);
	free(s->cmds);
	rp_buf_free(&s->tx);
	rp_buf_free(&s->evbuf);
	rp_arena_fini(&s->arena);
	free(s);
}

int ctl_server_emit(ctl_server *s, const char *event, const rp_buf *fields)
{
	size_t idx;
	int sent = 0;

	for (idx = 0; idx < s->nevents; idx++)
		if (strcmp(s->events[idx].name, event) == 0)
			break;
	if (idx == s->nevents)
		return -ENOENT;
	rp_buf_reset(&s->evbuf);
	benc_put_dict(&s->evbuf);
	benc_put_kv_cstr(&s->evbuf, "event", event);
	if (fields)
		rp_buf_append(&s->evbuf, fields->p, fields->len);
	benc_put_end(&s->evbuf);
	if (rp_buf_error(&s->evbuf))
		return rp_buf_error(&s->evbuf);
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next; /* send_msg may drop c */
		if (!(c->subs & ((uint64_t)1 << idx)))
			continue;
		if (send_msg(s, c, s->evbuf.p, s->evbuf.len) == 0)
			sent++;
	}
	rp_buf_reset(&s->evbuf);
	return sent;
}

/* ---- request accessors ---- */

const benc_node *ctl_req_args(const ctl_req *r)
{
	return r->args;
}

rp_str ctl_req_command(const ctl_req *r)
{
	return r->command;
}

rp_str ctl_req_cookie(const ctl_req *r)
{
	return r->cookie;
}

enum ctl_access ctl_req_access(const ctl_req *r)
{
	return r->c->access;
}

rp_arena *ctl_req_arena(ctl_req *r)
{
	return &r->s->arena;
}

ctl_server *ctl_req_server(ctl_req *r)
{
	return r->s;
}

void ctl_req_peer(const ctl_req *r, pid_t *pid, uid_t *uid, gid_t *gid)
{
	if (pid)
		*pid = r->c->pid;
	if (uid)
		*uid = r->c->uid;
	if (gid)
		*gid = r->c->gid;
}

int ctl_req_error(ctl_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->has_reason = true;
	return -EINVAL;
}

int ctl_req_field_error(ctl_req *r, const struct benc_field_err *fe)
{
	benc_field_err_fmt(fe, r->reason, sizeof(r->reason));
	r->has_reason = true;
	return -EINVAL;
}

/* ================================================================ client */

struct qev {
	struct qev *next;
	size_t len;
	char data[];
};

struct ctl_client {
	int fd;
	size_t max_msg;
	char *rx;
	rp_buf tx;
	uint32_t cookie_prefix;
	uint64_t seq;
	struct qev *qhead, *qtail;
	size_t qn;
	uint64_t dropped;
};

int ctl_client_connect(const char *path, size_t max_msg, ctl_client **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ctl_client *c;
	int rc;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_msg = max_msg ? max_msg : CTL_DEFAULT_MAX_MSG;
	c->rx = malloc(c->max_msg);
	if (!c->rx) {
		free(c);
		return -ENOMEM;
	}
	rp_buf_init(&c->tx, c->max_msg);
	rp_buf_set_secure(&c->tx, true);
	if (getrandom(&c->cookie_prefix, sizeof(c->cookie_prefix), GRND_NONBLOCK) !=
	    sizeof(c->cookie_prefix))
		c->cookie_prefix = (uint32_t)getpid() ^ (uint32_t)rp_now_ns();
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	rp_buf_free(&c->tx);
	free(c->rx);
	free(c);
	return rc;
}

void ctl_client_close(ctl_client *c)
{
	if (!c)
		return;
	close(c->fd);
	while (c->qhead) {
		struct qev *e = c->qhead;

		c->qhead = e->next;
		explicit_bzero(e->data, e->len);
		free(e);
	}
	explicit_bzero(c->rx, c->max_msg);
	free(c->rx);
	rp_buf_free(&c->tx);
	free(c);
}

int ctl_client_fd(const ctl_client *c)
{
	return c->fd;
}

uint64_t ctl_client_events_dropped(const ctl_client *c)
{
	return c->dropped;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now;

	if (deadline == UINT64_MAX)
		return -1;
	now = rp_now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

static uint64_t deadline_for(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : rp_now_ms() + (uint64_t)timeout_ms;
}

/* Receives one message into c->rx; returns its length, -ETIMEDOUT,
 * -ECONNRESET, -EMSGSIZE (too long; discarded) or another -errno. */
static ssize_t client_recv(ctl_client *c, uint64_t deadline)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rx, c->max_msg, MSG_DONTWAIT | MSG_TRUNC);

		if (n > 0)
			return (size_t)n > c->max_msg ? -EMSGSIZE : n;
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE ? -ECONNRESET : -errno;

		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int t = remaining_ms(deadline);
		int pr;

		if (t == 0)
			return -ETIMEDOUT;
		pr = poll(&pfd, 1, t);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr == 0 && remaining_ms(deadline) == 0)
			return -ETIMEDOUT;
	}
}

/* Copies the message into the arena (the tree points into it) and decodes
 * it; must be a dictionary. */
static int client_decode(ctl_client *c, const char *p, size_t n, rp_arena *a,
			 const benc_node **out)
{
	struct benc_opts bo = { .max_len = c->max_msg };
	char *copy = rp_arena_alloc(a, n);
	benc_node *root;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, p, n);
	if (benc_decode(copy, n, a, &bo, &root, NULL, NULL) != BENC_OK || root->type != BENC_DICT)
		return -EBADMSG;
	*out = root;
	return 0;
}

static void queue_event(ctl_client *c, const char *p, size_t n)
{
	struct qev *e;

	if (c->qn >= CLIENT_MAX_EVENTS) {
		c->dropped++;
		return;
	}
	e = malloc(sizeof(*e) + n);
	if (!e) {
		c->dropped++;
		return;
	}
	e->next = NULL;
	e->len = n;
	memcpy(e->data, p, n);
	if (c->qtail)
		c->qtail->next = e;
	else
		c->qhead = e;
	c->qtail = e;
	c->qn++;
}

static int client_send(ctl_client *c, uint64_t deadline)
{
	for (;;) {
		if (send(c->fd, c->tx.p, c->tx.len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;

		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int t = remaining_ms(deadline);

		if (t == 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, t) < 0 && errno != EINTR)
			return -errno;
	}
}

rp_str ctl_resp_reason(const benc_node *resp)
{
	const benc_node *r = benc_dict_get(resp, "error-reason");

	return r && r->type == BENC_STR ? r->u.s : RP_STR_NULL;
}

int ctl_call(ctl_client *c, const char *command, const rp_buf *args, rp_arena *a,
	     const benc_node **resp, int timeout_ms)
{
	uint64_t deadline = deadline_for(timeout_ms);
	char cookie[32];
	int rc;

	snprintf(cookie, sizeof(cookie), "%08x-%llu", (unsigned)c->cookie_prefix,
		 (unsigned long long)++c->seq);
	rp_buf_reset(&c->tx);
	benc_put_dict(&c->tx);
	benc_put_kv_cstr(&c->tx, "command", command);
	benc_put_kv_cstr(&c->tx, "cookie", cookie);
	benc_put_kv_int(&c->tx, "version", CTL_VERSION_MAJOR);
	if (args)
		rp_buf_append(&c->tx, args->p, args->len);
	benc_put_end(&c->tx);
	rc = rp_buf_error(&c->tx);
	if (rc == 0)
		rc = client_send(c, deadline);
	rp_buf_reset(&c->tx);
	if (rc)
		return rc;

	for (;;) {
		ssize_t n = client_recv(c, deadline);
		const benc_node *msg, *ck, *res;

		if (n < 0)
			return (int)n;
		rc = client_decode(c, c->rx, (size_t)n, a, &msg);
		/* Events wait in their raw form: the arena belongs to this call. */
		if (rc == 0 && benc_dict_get(msg, "event"))
			queue_event(c, c->rx, (size_t)n);
		explicit_bzero(c->rx, (size_t)n);
		if (rc)
			return rc;
		if (benc_dict_get(msg, "event"))
			continue;
		ck = benc_dict_get(msg, "cookie");
		res = benc_dict_get(msg, "result");
		if (ck && !benc_str_eq(ck, cookie))
			continue; /* the answer to a call that timed out */
		if (!ck && !benc_str_eq(res, "error"))
			continue;
		/* No cookie + error: the server could not read ours (oversized or
		 * malformed request); it answers the one call in flight. */
		*resp = msg;
		if (benc_str_eq(res, "ok"))
			return 0;
		if (benc_str_eq(res, "error"))
			return -EREMOTEIO;
		return -EBADMSG;
	}
}

int ctl_client_next_event(ctl_client *c, rp_arena *a, const benc_node **ev,
			  int timeout_ms)
{
	uint64_t deadline = deadline_for(timeout_ms);

	while (c->qhead) {
		struct qev *e = c->qhead;
		int rc;

		c->qhead = e->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->qn--;
		rc = client_decode(c, e->data, e->len, a, ev);
		explicit_bzero(e->data, e->len);
		free(e);
		if (rc == 0)
			return 0;
	}
	for (;;) {
		ssize_t n = client_recv(c, deadline);
		int rc;

		if (n == -ETIMEDOUT)
			return -EAGAIN;
		if (n < 0)
			return (int)n;
		rc = client_decode(c, c->rx, (size_t)n, a, ev);
		explicit_bzero(c->rx, (size_t)n);
		if (rc == 0 && benc_dict_get(*ev, "event"))
			return 0;
		/* A late response or a bad message: not an event. */
	}
}
