#include "worker.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rp_hash.h"
#include "rp_log.h"
#include "rp_time.h"

enum tag_kind { T_UDP, T_LISTEN, T_CONN, T_WAKE };

struct tag {
	enum tag_kind kind;
	int fd;
	const struct rp_listen *l;
	rp_conn *conn;
	bool out_armed;
	bool has_alias;
	bool queued;         /* in its worker's 'queued' list */
	uint8_t alias_key[RP_ADDR_KEY_LEN];
};

/* A send handed to another worker's thread. */
struct inbox_item {
	struct inbox_item *next;
	enum rp_tp tp;
	rp_addr peer;
	bool connect;        /* open a connection if there is none it may ride */
	char domain[256];    /* TLS: the name the server must prove */
	rp_tls_store *store; /* TLS: the client settings (the global ones resolved) */
	struct rp_conn_want want; /* connect: which open connection will do */
	size_t len;
	char data[];
};

/* Requested receive buffer of a UDP listening socket (worker_init). */
#define UDP_RCVBUF (1 << 20)

/* Relaxed: each counter has one writer (its worker); readers sum them. */
static void count1(atomic_uint_fast64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

/* A worker's receive batch for recvmmsg (UDP datagrams up to 64 KiB). */
#define RX_BATCH 8
struct rx_batch {
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	rp_addr from[RX_BATCH];
	char buf[RX_BATCH][65536];
};

struct rp_worker {
	rp_workers *ws;
	struct rx_batch *rx; /* NULL (no memory): one recvfrom at a time */
	unsigned id;
	pthread_t thread;
	bool started;
	int ep;
	struct tag wake;
	struct tag *socks; /* one per listener */
	rp_conn_table *conns;
	struct rp_conn_limits lim;
	pthread_mutex_t inbox_lock;
	struct inbox_item *inbox, *inbox_tail;
	uint64_t last_expire;
	/* Connections a handler's direct send failed on (post): closed after
	 * the round of events, found again by address (not kept as pointers:
	 * the connection's own event may close it first). */
	struct { enum rp_tp tp; rp_addr peer; } failed[8];
	unsigned nfailed;
	/* Connections this round's sends were queued on, written at the end
	 * of the round (conn_send): several messages to one peer in a round
	 * become one TLS record and one send. conn_close takes a connection
	 * out of the list. */
	rp_conn *queued[64];
	unsigned nqueued;
	/* This round: messages handled, and whether a socket was left with
	 * data (the per-round cap); both feed the coalescing decision. */
	unsigned round_msgs;
	bool backlog;
	struct rp_batch batch;
	/* Written by this worker only, read by rp_workers_get_stats. */
	atomic_uint_fast64_t rounds, batch_sleeps, udp_msgs;
	/* UDP steering: this thread's CPU clock (published once ready), and
	 * whether a round left a backlog since worker 0 last looked. */
	clockid_t cpu_clock;
	atomic_bool cpu_clock_ready, backlog_seen;
	uint64_t steer_cpu_ns; /* worker 0's last reading of cpu_clock */
};

struct rp_workers {
	struct rp_transport_cfg cfg;
	rp_tls_store *tls;
	_Atomic(rp_tls_store *) client_tls;
	rp_msg_handler fn;
	void *arg;
	unsigned n;
	struct rp_worker *w;
	atomic_bool stop;
	rp_iplimit *limit;
	pthread_mutex_t dir_lock;
	rp_hash *dir; /* transport+peer -> owner worker id + 1 */
	atomic_uint_fast64_t accepted, refused, closed, stream_msgs,
		frame_errors, dropped_slow, opened;
	_Atomic uint32_t batch_wait_us; /* rp_workers_set_batch_wait */
	/* UDP steering: the setting, and (worker 0 only) the decision, the
	 * mode the sockets are in and when the CPU was last read; the mode
	 * and its changes are published for the stats. steer_broken: the
	 * kernel refused the program, the hash decides for good. */
	atomic_bool steer_auto, steer_one, steer_broken;
	atomic_uint_fast64_t steer_changes;
	struct rp_steer steer;
	bool steer_applied_one;
	unsigned steer_backlogs; /* worker 0's backlogged rounds in a row */
	uint64_t steer_last_ns;
};

/* UDP sends made by the handlers while a worker handles what one
 * epoll_wait returned, held until then and sent with one sendmmsg. Besides the syscalls,
 * this saves context switches: each datagram to a local peer wakes it,
 * and a woken peer often preempts the worker in the middle of the batch. */
#define OUTQ_MAX 64
#define OUTQ_BYTES 65536

struct udp_outq {
	unsigned n;
	int fd;
	size_t used;
	struct mmsghdr mm[OUTQ_MAX];
	struct iovec iov[OUTQ_MAX];
	rp_addr to[OUTQ_MAX];
	char data[OUTQ_BYTES];
};

/* A worker thread's queue (worker_main); NULL on other threads. */
static _Thread_local struct udp_outq *cur_outq;
/* The worker running on this thread; NULL on other threads. */
static _Thread_local struct rp_worker *cur_w;

/* Sends the queue; 0, or -errno when the last datagram failed (what a
 * sendto of it alone would have said). */
static int outq_flush(struct udp_outq *q)
{
	unsigned off = 0;
	int last = 0;

	while (off < q->n) {
		int k = sendmmsg(q->fd, q->mm + off, q->n - off, MSG_NOSIGNAL);

		if (k < 0) {
			/* The datagram at 'off' failed; like a failed sendto of a
			 * response, it is lost (the peer retransmits). */
			if (errno != EINTR) {
				if (off + 1 == q->n)
					last = -errno;
				off++;
			}
			continue;
		}
		off += (unsigned)k;
	}
	q->n = 0;
	q->used = 0;
	return last;
}

/* Queues a datagram; false when it does not fit (the caller sends it now). */
static bool outq_add(struct udp_outq *q, int fd, const rp_addr *peer, const void *data,
	size_t len)
{
	struct msghdr *h;

	if (len > OUTQ_BYTES / 4)
		return false;
	if (q->n && (q->fd != fd || q->n == OUTQ_MAX || q->used + len > OUTQ_BYTES))
		(void)outq_flush(q);
	q->fd = fd;
	memcpy(q->data + q->used, data, len);
	q->to[q->n] = *peer;
	q->iov[q->n] = (struct iovec){ .iov_base = q->data + q->used, .iov_len = len };
	h = &q->mm[q->n].msg_hdr;
	*h = (struct msghdr){ .msg_name = &q->to[q->n].u.sa, .msg_namelen = peer->len,
		.msg_iov = &q->iov[q->n], .msg_iovlen = 1 };
	q->used += len;
	q->n++;
	return true;
}

/* Before a send that goes out at once: the queued ones first, so that
 * datagrams leave in the order they were made. */
static void outq_before_send(void)
{
	if (cur_outq && cur_outq->n)
		(void)outq_flush(cur_outq);
}

static int conn_send(struct rp_worker *w, rp_conn *c, const void *data, size_t len);

int rp_reply(const struct rp_msg_info *mi, const void *data, size_t len)
{
	if (mi->tp == RP_TP_UDP) {
		ssize_t n;

		if (cur_outq && cur_outq->n && outq_add(cur_outq, mi->udp_fd, &mi->peer, data, len))
			return outq_flush(cur_outq);
		outq_before_send();
		n = sendto(mi->udp_fd, data, len, MSG_NOSIGNAL, &mi->peer.u.sa, mi->peer.len);

		return n < 0 ? -errno : 0;
	}
	if (!mi->conn)
		return -ENOTCONN;
	/* On the connection's own worker (a handler's reply): with the round. */
	if (mi->w && mi->w == cur_w)
		return conn_send(mi->w, mi->conn, data, len);
	return rp_conn_send(mi->conn, data, len);
}

static void dir_key(rp_workers *ws, const uint8_t key[RP_ADDR_KEY_LEN],
	unsigned owner_plus1)
{
	rp_str k = rp_str_make((const char *)key, RP_ADDR_KEY_LEN);

	pthread_mutex_lock(&ws->dir_lock);
	rp_hash_remove(ws->dir, k);
	if (owner_plus1)
		(void)rp_hash_insert(ws->dir, k, (void *)(uintptr_t)owner_plus1);
	pthread_mutex_unlock(&ws->dir_lock);
}

/* Takes key for owner_plus1 in the directory unless another worker has
 * it (*added: it was free). An alias never takes the address of a
 * connection another worker owns: a peer on the same IP address (behind
 * one NAT) claiming another's address would get its traffic. */
static int dir_claim(rp_workers *ws, const uint8_t key[RP_ADDR_KEY_LEN],
	unsigned owner_plus1, bool *added)
{
	rp_str k = rp_str_make((const char *)key, RP_ADDR_KEY_LEN);
	uintptr_t cur;
	int rc = 0;

	*added = false;
	pthread_mutex_lock(&ws->dir_lock);
	cur = (uintptr_t)rp_hash_find(ws->dir, k);
	if (cur && cur != owner_plus1)
		rc = -EEXIST;
	else if (!cur && (rc = rp_hash_insert(ws->dir, k, (void *)(uintptr_t)owner_plus1)) == 0)
		*added = true;
	pthread_mutex_unlock(&ws->dir_lock);
	return rc;
}

int rp_reply_alias(const struct rp_msg_info *mi, const rp_addr *sent_by)
{
	struct rp_worker *w = mi->w;
	uint8_t key[RP_ADDR_KEY_LEN];
	struct tag *t;
	bool added;
	int rc;

	if (!mi->conn)
		return -ENOTCONN;
	rp_addr_key(rp_conn_tp(mi->conn), sent_by, key);
	rc = dir_claim(w->ws, key, w->id + 1, &added);
	if (rc < 0)
		return rc;
	/* Refuses an address another connection of this worker has. */
	rc = rp_conn_table_alias(w->conns, mi->conn, sent_by);
	if (rc < 0) {
		if (added)
			dir_key(w->ws, key, 0);
		return rc;
	}
	t = rp_conn_owner(mi->conn);
	if (t->has_alias && memcmp(t->alias_key, key, sizeof(key)) != 0)
		dir_key(w->ws, t->alias_key, 0);
	memcpy(t->alias_key, key, sizeof(key));
	t->has_alias = true;
	return 0;
}

static void dir_set(rp_workers *ws, rp_conn *c, unsigned owner_plus1)
{
	uint8_t key[RP_ADDR_KEY_LEN];
	rp_str k;

	rp_addr_key(rp_conn_tp(c), rp_conn_peer(c), key);
	k = rp_str_make((const char *)key, sizeof(key));
	pthread_mutex_lock(&ws->dir_lock);
	rp_hash_remove(ws->dir, k);
	if (owner_plus1)
		(void)rp_hash_insert(ws->dir, k, (void *)(uintptr_t)owner_plus1);
	pthread_mutex_unlock(&ws->dir_lock);
}

static void conn_close(struct rp_worker *w, rp_conn *c, bool log)
{
	struct tag *t = rp_conn_owner(c);
	uint8_t key[RP_ADDR_KEY_LEN];
	char a[64];

	if (log) {
		rp_addr_fmt(rp_conn_peer(c), a, sizeof(a));
		rp_info_rl("%s connection %s %s closed: %s", rp_tp_name(rp_conn_tp(c)),
			rp_conn_outbound(c) ? "to" : "from", a, rp_conn_why(c));
	}
	if (t->queued) {
		for (unsigned i = 0; i < w->nqueued; i++) {
			if (w->queued[i] == c) {
				w->queued[i] = w->queued[--w->nqueued];
				break;
			}
		}
		/* What this round queued (e.g. the 400 before a framing error
		 * closes it) is tried now, as a direct send would have been. */
		(void)rp_conn_flush(c);
	}
	epoll_ctl(w->ep, EPOLL_CTL_DEL, rp_conn_fd(c), NULL);
	rp_conn_table_del(w->conns, c);
	/* The directory keeps an address another connection of this worker
	 * still serves (several may go to one address). */
	if (t->has_alias && !rp_conn_table_find_key(w->conns, t->alias_key))
		dir_key(w->ws, t->alias_key, 0);
	rp_addr_key(rp_conn_tp(c), rp_conn_peer(c), key);
	if (!rp_conn_table_find_key(w->conns, key))
		dir_set(w->ws, c, 0);
	if (!rp_conn_outbound(c))
		rp_iplimit_release(w->ws->limit, rp_conn_peer(c));
	rp_conn_free(c);
	free(t);
	atomic_fetch_add(&w->ws->closed, 1);
}

static void update_events(struct rp_worker *w, rp_conn *c)
{
	struct tag *t = rp_conn_owner(c);
	bool want = rp_conn_wants_write(c);
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
		.data.ptr = t };

	if (want != t->out_armed) {
		t->out_armed = want;
		epoll_ctl(w->ep, EPOLL_CTL_MOD, rp_conn_fd(c), &ev);
	}
}

/* A send on one of w's connections from w's own thread: queued, and
 * written when the round ends (flush_queued). With the list full it is
 * written at once, as before; update_events is then the caller's. */
static int conn_send(struct rp_worker *w, rp_conn *c, const void *data, size_t len)
{
	struct tag *t = rp_conn_owner(c);
	int rc;

	if (!t->queued && w->nqueued == sizeof(w->queued) / sizeof(w->queued[0])) {
		rc = rp_conn_send(c, data, len);
		if (rc == 0)
			update_events(w, c);
		return rc;
	}
	rc = rp_conn_queue(c, data, len);
	if (rc == 0 && !t->queued) {
		t->queued = true;
		w->queued[w->nqueued++] = c;
	}
	return rc;
}

static void flush_queued(struct rp_worker *w)
{
	while (w->nqueued) {
		rp_conn *c = w->queued[--w->nqueued];
		struct tag *t = rp_conn_owner(c);

		t->queued = false;
		if (rp_conn_flush(c) < 0)
			conn_close(w, c, true);
		else
			update_events(w, c);
	}
}

static void on_stream_msg(rp_conn *c, const char *msg, size_t len, void *arg)
{
	struct rp_worker *w = arg;
	struct rp_msg_info mi = { .tp = rp_conn_tp(c), .peer = *rp_conn_peer(c),
		.local = *rp_conn_local(c), .worker_id = w->id, .w = w, .conn = c,
		.udp_fd = -1 };

	atomic_fetch_add(&w->ws->stream_msgs, 1);
	w->round_msgs++;
	w->ws->fn(&mi, msg, len, w->ws->arg);
}

static void handle_conn(struct rp_worker *w, rp_conn *c, uint32_t events,
	uint64_t now)
{
	int rc = 0;

	if (events & EPOLLOUT)
		rc = rp_conn_on_writable(c, now);
	if (rc == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		rc = rp_conn_on_readable(c, now, on_stream_msg, w);
	if (rc < 0) {
		if (rc == -EBADMSG || rc == -EMSGSIZE)
			atomic_fetch_add(&w->ws->frame_errors, 1);
		if (rc == -ENOBUFS)
			atomic_fetch_add(&w->ws->dropped_slow, 1);
		conn_close(w, c, rc != -ECONNRESET);
		return;
	}
	update_events(w, c);
}

/* A datagram of CRLFs only: a keep-alive (RFC 5626 3.5.1), no answer on UDP. */
static bool udp_keepalive(const char *buf, size_t n)
{
	size_t i = 0;

	while (i + 1 < n && buf[i] == '\r' && buf[i + 1] == '\n')
		i += 2;
	return n > 0 && i == n;
}

/* A datagram is one message (RFC 3261 18.3): the handler's parser trims the
 * body to Content-Length and refuses a shorter one, so it is not framed here
 * first (a second pass over every header for nothing); an unparseable one
 * is counted as malformed by the handler. */
static void udp_datagram(struct rp_worker *w, struct tag *t, const rp_addr *from,
	char *buf, size_t n)
{
	struct rp_msg_info mi = { .tp = RP_TP_UDP, .peer = *from, .local = t->l->addr,
		.worker_id = w->id, .w = w, .udp_fd = t->fd };

	if (n == 0 || ((buf[0] == '\r' || buf[0] == '\n') && udp_keepalive(buf, n)))
		return;
	count1(&w->udp_msgs);
	w->round_msgs++;
	w->ws->fn(&mi, buf, n, w->ws->arg);
}

/* At most 64 datagrams per wake-up, so one busy socket does not starve
 * the others. With the receive batch: recvmmsg, RX_BATCH at a time, and a
 * short batch ends the round (epoll is level-triggered: whatever came
 * since wakes us again), instead of one recvfrom per datagram plus the
 * one that says EAGAIN. */
static void handle_udp(struct rp_worker *w, struct tag *t)
{
	struct rx_batch *rx = w->rx;

	if (!rx) {
		char buf[65536];

		for (int i = 0; i < 64; i++) {
			rp_addr from;
			socklen_t sl = sizeof(from.u);
			ssize_t n = recvfrom(t->fd, buf, sizeof(buf), 0, &from.u.sa, &sl);

			if (n < 0)
				return; /* EAGAIN or a transient ICMP error */
			from.len = sl;
			udp_datagram(w, t, &from, buf, (size_t)n);
		}
		w->backlog = true; /* maybe: look again without sleeping */
		return;
	}
	for (int done = 0; done < 64;) {
		int n;

		for (int k = 0; k < RX_BATCH; k++) {
			rx->iov[k] = (struct iovec){ .iov_base = rx->buf[k],
				.iov_len = sizeof(rx->buf[k]) };
			rx->mm[k].msg_hdr = (struct msghdr){ .msg_name = &rx->from[k].u.sa,
				.msg_namelen = sizeof(rx->from[k].u), .msg_iov = &rx->iov[k],
				.msg_iovlen = 1 };
			rx->mm[k].msg_len = 0;
		}
		n = recvmmsg(t->fd, rx->mm, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN or a transient ICMP error */
		for (int k = 0; k < n; k++) {
			rx->from[k].len = rx->mm[k].msg_hdr.msg_namelen;
			udp_datagram(w, t, &rx->from[k], rx->buf[k], rx->mm[k].msg_len);
		}
		done += n;
		if (n < RX_BATCH)
			return;
	}
	w->backlog = true; /* maybe: look again without sleeping */
}

static void handle_accept(struct rp_worker *w, struct tag *t, uint64_t now)
{
	rp_workers *ws = w->ws;

	for (int i = 0; i < 64; i++) {
		rp_addr peer, local;
		socklen_t sl = sizeof(peer.u), ll = sizeof(local.u);
		int fd = accept4(t->fd, &peer.u.sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		rp_tls_sess *sess = NULL;
		struct tag *ct;
		rp_conn *c;
		char a[64];
		int rc, one = 1;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				rp_warn_rl("accept on %s: %s", rp_tp_name(t->l->tp), strerror(errno));
			return;
		}
		peer.len = sl;
		if (getsockname(fd, &local.u.sa, &ll) < 0)
			local = t->l->addr;
		else
			local.len = ll;
		rc = rp_iplimit_take(ws->limit, &peer);
		if (rc < 0) {
			rp_addr_fmt(&peer, a, sizeof(a));
			rp_warn_rl("%s connection from %s refused: %s", rp_tp_name(t->l->tp), a,
				rc == -EMFILE ? "max_conns reached" : "max_conns_per_ip reached");
			atomic_fetch_add(&ws->refused, 1);
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (t->l->tp == RP_TP_TLS) {
			rp_tls_ctx *ctx = rp_tls_store_acquire(t->l->tls ? t->l->tls : ws->tls);

			rc = rp_tls_sess_new(ctx, fd, NULL, &sess);
			rp_tls_ctx_put(ctx);
			if (rc < 0)
				goto drop;
		}
		ct = calloc(1, sizeof(*ct));
		if (!ct) {
			rp_tls_sess_free(sess);
			goto drop;
		}
		rc = rp_conn_new(fd, t->l->tp, &peer, &local, sess, &w->lim, now, &c);
		if (rc < 0) {
			rp_tls_sess_free(sess);
			free(ct);
			goto drop;
		}
		ct->kind = T_CONN;
		ct->fd = fd;
		ct->conn = c;
		rp_conn_set_owner(c, ct);
		if (rp_conn_table_add(w->conns, c) < 0) {
			rp_conn_free(c);
			free(ct);
			rp_iplimit_release(ws->limit, &peer);
			continue;
		}
		{
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ct };

			if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
				rp_conn_table_del(w->conns, c);
				rp_conn_free(c);
				free(ct);
				rp_iplimit_release(ws->limit, &peer);
				continue;
			}
		}
		dir_set(ws, c, w->id + 1);
		atomic_fetch_add(&ws->accepted, 1);
		continue;
drop:
		close(fd);
		rp_iplimit_release(ws->limit, &peer);
	}
}

static void expire_cb(rp_conn *c, void *arg)
{
	if (rp_conn_tls(c))
		rp_tls_sess_note_timeout(rp_conn_tls(c));
	conn_close(arg, c, true);
}

static void keepalive_cb(rp_conn *c, void *arg)
{
	struct rp_worker *w = arg;

	if (rp_conn_keepalive(c, rp_now_ms(), w->ws->cfg.keepalive_ms) < 0)
		conn_close(w, c, true);
	else
		update_events(w, c);
}

/* Outbound connections to one address (different client TLS settings or
 * server names): 16 trunks with TLS settings of their own plus the global
 * ones, with room for a few names each. */
#define MAX_OUT_PER_PEER 32

/* Opens an outbound connection on this worker (non-blocking connect; the
 * TLS client handshake follows once it is connected). */
static rp_conn *open_conn(struct rp_worker *w, enum rp_tp tp, const rp_addr *peer,
	const char *domain, rp_tls_store *store, uint64_t now)
{
	rp_workers *ws = w->ws;
	rp_tls_store *cstore = store ? store : atomic_load(&ws->client_tls);
	rp_tls_sess *sess = NULL;
	struct tag *ct = NULL;
	rp_conn *c = NULL;
	char a[64];
	int fd, one = 1;
	struct epoll_event ev;

	rp_addr_fmt(peer, a, sizeof(a));
	if (tp == RP_TP_TLS && (!cstore || !domain || !*domain)) {
		rp_warn_rl("tls connection to %s not opened: %s", a,
			!cstore ? "no client TLS settings" : "no domain to verify");
		return NULL;
	}
	/* One per client TLS settings and server name that cannot share:
	 * bounded, whatever names requests bring. */
	if (rp_conn_table_count_outbound(w->conns, tp, peer) >= MAX_OUT_PER_PEER) {
		rp_warn_rl("%s connection to %s (%s) not opened: %d open to that address already "
			"with other TLS settings or names", rp_tp_name(tp), a,
			domain && *domain ? domain : "-", MAX_OUT_PER_PEER);
		return NULL;
	}
	fd = socket(peer->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &peer->u.sa, peer->len) < 0 && errno != EINPROGRESS) {
		rp_info_rl("%s connection to %s failed: %s", rp_tp_name(tp), a, strerror(errno));
		close(fd);
		return NULL;
	}
	if (tp == RP_TP_TLS) {
		rp_tls_ctx *ctx = rp_tls_store_acquire(cstore);
		int rc = rp_tls_sess_new(ctx, fd, domain, &sess);

		rp_tls_ctx_put(ctx);
		if (rc < 0)
			goto fail;
	}
	ct = calloc(1, sizeof(*ct));
	if (!ct || rp_conn_new(fd, tp, peer, NULL, sess, &w->lim, now, &c) < 0)
		goto fail;
	sess = NULL; /* owned by c now */
	rp_conn_set_outbound(c);
	ct->kind = T_CONN;
	ct->fd = fd;
	ct->conn = c;
	ct->out_armed = true;
	rp_conn_set_owner(c, ct);
	if (rp_conn_table_add(w->conns, c) < 0)
		goto fail;
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT, .data.ptr = ct };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rp_conn_table_del(w->conns, c);
		goto fail;
	}
	dir_set(ws, c, w->id + 1);
	atomic_fetch_add(&ws->opened, 1);
	rp_debug("%s connection to %s opening", rp_tp_name(tp), a);
	return c;
fail:
	if (c)
		rp_conn_free(c); /* closes fd */
	else
		close(fd);
	rp_tls_sess_free(sess);
	free(ct);
	return NULL;
}

static void drain_inbox(struct rp_worker *w)
{
	struct inbox_item *it, *next;
	uint64_t v;

	/* One read resets the counter (no EFD_SEMAPHORE); it must come
	 * before the list is taken: post() writes only when it finds the
	 * inbox empty, so an item posted after the take writes again.
	 * EAGAIN (a write whose items an earlier drain took) is harmless. */
	if (read(w->wake.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rp_warn_rl("worker %u: eventfd read: %s", w->id, strerror(errno));
	pthread_mutex_lock(&w->inbox_lock);
	it = w->inbox;
	w->inbox = NULL;
	w->inbox_tail = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	for (; it; it = next) {
		rp_conn *c;

		it->want.domain = it->domain;
		c = it->connect ? rp_conn_table_find_reusable(w->conns, it->tp, &it->peer,
			&it->want) : rp_conn_table_find(w->conns, it->tp, &it->peer);
		next = it->next;
		w->round_msgs++;
		if (!c && it->connect)
			c = open_conn(w, it->tp, &it->peer, it->domain, it->store, rp_now_ms());
		if (c && conn_send(w, c, it->data, it->len) < 0)
			conn_close(w, c, true);
		free(it);
	}
}

static bool has_error(rp_conn *c, void *arg)
{
	(void)arg;
	return rp_conn_error(c) != 0;
}

static void close_failed(struct rp_worker *w)
{
	for (unsigned i = 0; i < w->nfailed; i++) {
		rp_conn *c;

		while ((c = rp_conn_table_find_if(w->conns, w->failed[i].tp,
			    &w->failed[i].peer, has_error, NULL)))
			conn_close(w, c, true);
	}
	w->nfailed = 0;
}

uint32_t rp_batch_after_round(struct rp_batch *b, uint32_t wait_us, uint64_t now_ns,
	unsigned msgs, bool backlog)
{
	uint64_t dt;

	if (!wait_us) {
		*b = (struct rp_batch){ .win_start_ns = now_ns };
		return 0;
	}
	if (wait_us > RP_BATCH_MAX_US)
		wait_us = RP_BATCH_MAX_US;
	b->win_msgs = msgs > UINT32_MAX - b->win_msgs ? UINT32_MAX : b->win_msgs + msgs;
	/* (A clock read behind the window's start counts as no time.) */
	dt = now_ns > b->win_start_ns ? now_ns - b->win_start_ns : 0;
	if (dt >= RP_BATCH_WINDOW_NS) {
		/* Twice the messages expected within the wait, times dt:
		 * win_msgs / dt x wait_us x 1000 x 2, kept in integers. */
		uint64_t twice = (uint64_t)b->win_msgs * wait_us * 2000u;

		b->on = twice >= (b->on ? RP_BATCH_MIN : 2 * RP_BATCH_MIN) * dt;
		b->win_start_ns = now_ns;
		b->win_msgs = 0;
	}
	return b->on && msgs && !backlog ? wait_us : 0;
}

bool rp_steer_decide(struct rp_steer *s, unsigned w0_permille, unsigned all_permille,
	bool backlog)
{
	if (s->one) {
		if (w0_permille > RP_STEER_UP_PERMILLE ||
		    (backlog && w0_permille >= RP_STEER_DOWN_PERMILLE)) {
			s->one = false;
			s->calm = 0;
			return true;
		}
		return false;
	}
	if (backlog || all_permille >= RP_STEER_DOWN_PERMILLE) {
		s->calm = 0;
		return false;
	}
	if (++s->calm < RP_STEER_CALM_PERIODS)
		return false;
	s->one = true;
	s->calm = 0;
	return true;
}

/* Puts every UDP reuseport group in the given mode: a one-instruction
 * program returning 0 picks the group's first socket (worker 0's, bound
 * first), one returning an index past the end makes the kernel fall back
 * to its hash. 0 or the first -errno. */
static int steer_apply(rp_workers *ws, bool one)
{
	struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, one ? 0u : 0xffffffffu) };
	struct sock_fprog prog = { .len = 1, .filter = code };
	int rc = 0;

	for (size_t i = 0; i < ws->cfg.n_listen; i++) {
		int fd = ws->w[0].socks[i].fd;

		if (ws->cfg.listen[i].tp != RP_TP_UDP || fd < 0)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
			       sizeof(prog)) < 0 && rc == 0)
			rc = -errno;
	}
	return rc;
}

static uint64_t thread_cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Worker 0, after each round: applies the setting, and once a period
 * reads every worker's CPU time and lets rp_steer_decide choose. While
 * concentrated, RP_STEER_BACKLOG_ROUNDS rounds in a row of its own that
 * left a backlog spread at once: it is not keeping up, and one socket's
 * buffer fills within milliseconds. (One such round alone is no sign:
 * on a loaded machine a worker kept off the CPU for a few ms finds 64
 * datagrams waiting.) */
#define RP_STEER_BACKLOG_ROUNDS 3u
static void steer_tick(struct rp_worker *w0, bool backlog_now)
{
	rp_workers *ws = w0->ws;
	bool automatic = ws->n > 1 && atomic_load_explicit(&ws->steer_auto, memory_order_relaxed) &&
		!atomic_load_explicit(&ws->steer_broken, memory_order_relaxed);
	uint64_t now, dt, all = 0, p0 = 0;
	bool backlog = false, want;
	int rc;

	if (!automatic && !ws->steer_applied_one) {
		ws->steer_last_ns = 0;
		return;   /* off: no clock read on the round's path */
	}
	now = rp_now_ns();
	ws->steer_backlogs = backlog_now ? ws->steer_backlogs + 1 : 0;
	if (!automatic) {
		ws->steer.one = false;
		ws->steer_last_ns = 0;
	} else if (ws->steer_last_ns == 0) {
		/* (Re)starting: concentrated until the load says otherwise. */
		ws->steer = (struct rp_steer){ .one = true };
		ws->steer_last_ns = now;
		for (unsigned i = 0; i < ws->n; i++)
			if (atomic_load_explicit(&ws->w[i].cpu_clock_ready, memory_order_acquire))
				ws->w[i].steer_cpu_ns = thread_cpu_ns(ws->w[i].cpu_clock);
	} else if (ws->steer.one && ws->steer_backlogs >= RP_STEER_BACKLOG_ROUNDS) {
		ws->steer_backlogs = 0;
		(void)rp_steer_decide(&ws->steer, RP_STEER_UP_PERMILLE + 1, 0, true);
	} else if (now - ws->steer_last_ns >= RP_STEER_PERIOD_NS) {
		dt = now - ws->steer_last_ns;
		ws->steer_last_ns = now;
		for (unsigned i = 0; i < ws->n; i++) {
			struct rp_worker *w = &ws->w[i];
			uint64_t c, used;

			backlog |= atomic_exchange_explicit(&w->backlog_seen, false,
				memory_order_relaxed);
			if (!atomic_load_explicit(&w->cpu_clock_ready, memory_order_acquire))
				continue;
			c = thread_cpu_ns(w->cpu_clock);
			used = c > w->steer_cpu_ns ? (c - w->steer_cpu_ns) * 1000u / dt : 0;
			w->steer_cpu_ns = c;
			all += used;
			if (i == 0)
				p0 = used;
		}
		(void)rp_steer_decide(&ws->steer, p0 > UINT32_MAX ? UINT32_MAX : (unsigned)p0,
			all > UINT32_MAX ? UINT32_MAX : (unsigned)all, backlog);
	}
	want = ws->steer.one;
	if (want == ws->steer_applied_one)
		return;
	rc = steer_apply(ws, want);
	if (rc < 0) {
		/* Leave nothing half done: the hash for every group, for good. */
		rp_warn("UDP steering off: the kernel refused the reuseport program: %s",
			strerror(-rc));
		atomic_store(&ws->steer_broken, true);
		ws->steer.one = false;
		if (ws->steer_applied_one && steer_apply(ws, false) < 0)
			rp_err("UDP steering: could not hand datagrams back to the kernel's "
				"hash; worker 0 takes them all");
		else
			ws->steer_applied_one = false;
		atomic_store(&ws->steer_one, ws->steer_applied_one);
		return;
	}
	ws->steer_applied_one = want;
	atomic_store(&ws->steer_one, want);
	atomic_fetch_add(&ws->steer_changes, 1);
	rp_info("UDP steering: %s", want ? "datagrams to worker 0 (low load)" :
		"datagrams spread over the workers by the kernel's hash");
}

/* A relative sleep on CLOCK_MONOTONIC, restarted after a signal. */
static void batch_sleep(uint32_t us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}


static void *worker_main(void *arg)
{
	struct rp_worker *w = arg;
	struct epoll_event evs[64];
	/* Without the queue (no memory), sends simply go out at once. */
	struct udp_outq *q = calloc(1, sizeof(*q));

	cur_outq = q;
	cur_w = w;
	if (pthread_getcpuclockid(pthread_self(), &w->cpu_clock) == 0)
		atomic_store_explicit(&w->cpu_clock_ready, true, memory_order_release);
	while (!atomic_load(&w->ws->stop)) {
		int n = epoll_wait(w->ep, evs, 64, 500);
		uint64_t now = rp_now_ms();

		for (int i = 0; i < n; i++) {
			struct tag *t = evs[i].data.ptr;

			switch (t->kind) {
			case T_UDP:
				handle_udp(w, t);
				break;
			case T_LISTEN:
				handle_accept(w, t, now);
				break;
			case T_CONN:
				handle_conn(w, t->conn, evs[i].events, now);
				break;
			case T_WAKE:
				drain_inbox(w);
				break;
			}
		}
		if (now - w->last_expire >= 250) {
			w->last_expire = now;
			rp_conn_table_expire(w->conns, now, expire_cb, w);
			if (w->ws->cfg.keepalive_ms)
				rp_conn_table_each(w->conns, keepalive_cb, w);
		}
		/* The handlers' sends of this round, before sleeping. */
		flush_queued(w);
		if (q && q->n)
			(void)outq_flush(q);
		close_failed(w);
		count1(&w->rounds);
		{
			uint32_t wait_us = atomic_load_explicit(&w->ws->batch_wait_us,
				memory_order_relaxed);
			uint32_t nap = rp_batch_after_round(&w->batch, wait_us,
				wait_us ? rp_now_ns() : 0, w->round_msgs, w->backlog);

			/* Worker 0's own backlogs count in the period too: while
			 * concentrated, it is the only one reading UDP. */
			if (w->backlog)
				atomic_store_explicit(&w->backlog_seen, true, memory_order_relaxed);
			if (w->id == 0)
				steer_tick(w, w->backlog);
			w->round_msgs = 0;
			w->backlog = false;
			if (nap) {
				count1(&w->batch_sleeps);
				batch_sleep(nap);
			}
		}
	}
	cur_outq = NULL;
	cur_w = NULL;
	free(q);
	/* Close this worker's connections on its own thread, so TLS state
	 * and thread-local crypto caches go away together. */
	{
		rp_conn *c;

		while ((c = rp_conn_table_first(w->conns)))
			conn_close(w, c, false);
	}
	rp_tls_thread_cleanup();
	return NULL;
}

static int worker_init(rp_workers *ws, struct rp_worker *w, unsigned id)
{
	struct epoll_event ev;
	int rc;

	w->ws = ws;
	w->id = id;
	w->wake.fd = -1;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return -errno;
	pthread_mutex_init(&w->inbox_lock, NULL);
	w->lim = (struct rp_conn_limits){ .rbuf = ws->cfg.conn_rbuf,
		.wq_max = ws->cfg.conn_wq_max, .frame = ws->cfg.frame,
		.idle_ms = ws->cfg.idle_timeout_ms,
		.handshake_ms = ws->cfg.tls_handshake_timeout_ms };
	rc = rp_conn_table_new(&w->conns);
	if (rc < 0)
		return rc;
	w->wake.kind = T_WAKE;
	w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake.fd < 0)
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &w->wake };
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake.fd, &ev) < 0)
		return -errno;
	w->socks = calloc(ws->cfg.n_listen, sizeof(*w->socks));
	if (!w->socks)
		return -ENOMEM;
	w->rx = malloc(sizeof(*w->rx)); /* optional: NULL falls back to recvfrom */
	for (size_t i = 0; i < ws->cfg.n_listen; i++)
		w->socks[i].fd = -1;
	for (size_t i = 0; i < ws->cfg.n_listen; i++) {
		struct rp_listen *l = &ws->cfg.listen[i];
		struct tag *t = &w->socks[i];
		char a[64];
		int fd = rp_sock_open(l, true);

		if (fd < 0) {
			rp_addr_fmt(&l->addr, a, sizeof(a));
			rp_err("cannot listen on %s:%s: %s", rp_tp_name(l->tp), a,
				strerror(-fd));
			return fd;
		}
		t->fd = fd;
		t->kind = l->tp == RP_TP_UDP ? T_UDP : T_LISTEN;
		if (l->tp == RP_TP_UDP) {
			/* The default (208 KiB) holds ~90 datagrams of 700 bytes
			 * (truesize 2,304 each), 5 ms at 3,000 calls/s on one
			 * socket: a coalescing wait or a worker kept off the CPU
			 * by a loaded machine overflows it (seen: drops at 3,000
			 * calls/s with batch_wait_us = 0). The kernel caps this
			 * at net.core.rmem_max; less is no error. */
			int rcvbuf = UDP_RCVBUF;

			if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
				rp_debug("SO_RCVBUF %d: %s", rcvbuf, strerror(errno));
		}
		t->l = l;
		if (rp_addr_port(&l->addr) == 0) {
			/* The first worker learns the port; the others reuse it. */
			rp_addr b;
			socklen_t bl = sizeof(b.u);

			if (getsockname(fd, &b.u.sa, &bl) == 0)
				rp_addr_set_port(&l->addr, ntohs(b.u.sa.sa_family == AF_INET6 ?
					b.u.in6.sin6_port : b.u.in4.sin_port));
		}
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = t };
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static void worker_fini(struct rp_worker *w)
{
	if (w->conns) {
		rp_conn *c;

		/* Through the normal path, so the limiter stays right. */
		while ((c = rp_conn_table_first(w->conns)))
			conn_close(w, c, false);
		rp_conn_table_free(w->conns);
	}
	for (size_t i = 0; w->socks && i < w->ws->cfg.n_listen; i++)
		if (w->socks[i].fd >= 0)
			close(w->socks[i].fd);
	free(w->socks);
	free(w->rx);
	if (w->wake.fd >= 0)
		close(w->wake.fd);
	if (w->ep >= 0)
		close(w->ep);
	while (w->inbox) {
		struct inbox_item *n = w->inbox->next;

		free(w->inbox);
		w->inbox = n;
	}
	pthread_mutex_destroy(&w->inbox_lock);
}

static unsigned ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 && n < 1024 ? (unsigned)n : 1;
}

void rp_workers_halt(rp_workers *ws)
{
	if (!ws)
		return;
	atomic_store(&ws->stop, true);
	for (unsigned i = 0; i < ws->n; i++) {
		uint64_t one = 1;

		if (ws->w[i].wake.fd >= 0)
			(void)!write(ws->w[i].wake.fd, &one, sizeof(one));
	}
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->w[i].started) {
			pthread_join(ws->w[i].thread, NULL);
			ws->w[i].started = false;
		}
}

void rp_workers_stop(rp_workers *ws)
{
	if (!ws)
		return;
	rp_workers_halt(ws);
	for (unsigned i = 0; i < ws->n; i++)
		worker_fini(&ws->w[i]);
	free(ws->w);
	rp_hash_free(ws->dir);
	rp_iplimit_free(ws->limit);
	pthread_mutex_destroy(&ws->dir_lock);
	free(ws);
}

int rp_workers_start(const struct rp_transport_cfg *cfg, rp_tls_store *tls,
	rp_msg_handler fn, void *arg, rp_workers **out)
{
	rp_workers *ws = calloc(1, sizeof(*ws));
	int rc;

	if (!ws)
		return -ENOMEM;
	ws->cfg = *cfg;
	ws->tls = tls;
	ws->fn = fn;
	ws->arg = arg;
	pthread_mutex_init(&ws->dir_lock, NULL);
	for (size_t i = 0; i < cfg->n_listen; i++)
		if (cfg->listen[i].tp == RP_TP_TLS && !tls && !cfg->listen[i].tls) {
			rp_err("a TLS listener needs TLS settings");
			rc = -EINVAL;
			goto fail_early;
		}
	rc = rp_iplimit_new(cfg->max_conns, cfg->max_conns_per_ip, &ws->limit);
	if (rc < 0)
		goto fail_early;
	rc = rp_hash_new(256, RP_HASH_COPY_KEYS, &ws->dir);
	if (rc < 0)
		goto fail_early;
	ws->n = cfg->workers ? cfg->workers : ncpus();
	ws->w = calloc(ws->n, sizeof(*ws->w));
	if (!ws->w) {
		rc = -ENOMEM;
		goto fail_early;
	}
	for (unsigned i = 0; i < ws->n; i++) {
		ws->w[i].ep = -1;
		ws->w[i].wake.fd = -1;
	}
	for (unsigned i = 0; i < ws->n; i++) {
		rc = worker_init(ws, &ws->w[i], i);
		if (rc < 0)
			goto fail;
	}
	for (unsigned i = 0; i < ws->n; i++) {
		rc = -pthread_create(&ws->w[i].thread, NULL, worker_main, &ws->w[i]);
		if (rc < 0)
			goto fail;
		ws->w[i].started = true;
	}
	*out = ws;
	return 0;
fail:
	rp_workers_stop(ws);
	return rc;
fail_early:
	rp_hash_free(ws->dir);
	rp_iplimit_free(ws->limit);
	free(ws->w);
	pthread_mutex_destroy(&ws->dir_lock);
	free(ws);
	return rc;
}

size_t rp_workers_listeners(const rp_workers *ws, const struct rp_listen **out)
{
	*out = ws->cfg.listen;
	return ws->cfg.n_listen;
}

unsigned rp_workers_count(const rp_workers *ws)
{
	return ws->n;
}

void rp_workers_set_client_tls(rp_workers *ws, rp_tls_store *client)
{
	atomic_store(&ws->client_tls, client);
}

static int send_udp(rp_workers *ws, const rp_addr *peer, const void *data, size_t len,
	bool later)
{
	for (size_t i = 0; i < ws->cfg.n_listen; i++) {
		const struct rp_listen *l = &ws->cfg.listen[i];

		if (l->tp == RP_TP_UDP && l->addr.u.sa.sa_family == peer->u.sa.sa_family) {
			int fd = ws->w[0].socks[i].fd;
			ssize_t n;

			if (later && cur_outq && outq_add(cur_outq, fd, peer, data, len))
				return 0;
			/* A send that must go out now while others wait: all in one
			 * sendmmsg, this one last (its error is still reported). */
			if (cur_outq && cur_outq->n && outq_add(cur_outq, fd, peer, data, len))
				return outq_flush(cur_outq);
			outq_before_send();
			n = sendto(fd, data, len, MSG_NOSIGNAL, &peer->u.sa, peer->len);
			return n < 0 ? -errno : 0;
		}
	}
	return -EAFNOSUPPORT;
}

/* want: NULL to send over an open connection only; else a connection may
 * be opened (with 'store', verified against 'domain') unless one 'want'
 * accepts is open. */
static int post(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const char *domain, rp_tls_store *store, const struct rp_conn_want *want,
	const void *data, size_t len)
{
	bool connect = want != NULL;
	uint8_t key[RP_ADDR_KEY_LEN];
	uintptr_t owner;
	struct inbox_item *it;
	struct rp_worker *w;
	uint64_t one = 1;
	bool was_empty;

	if (domain && strlen(domain) >= sizeof(it->domain))
		return -ENAMETOOLONG;
	rp_addr_key(tp, peer, key);
	pthread_mutex_lock(&ws->dir_lock);
	owner = (uintptr_t)rp_hash_find(ws->dir, rp_str_make((const char *)key, sizeof(key)));
	pthread_mutex_unlock(&ws->dir_lock);
	if (!owner || owner > ws->n) {
		if (!connect)
			return -ENOTCONN;
		/* Same peer -> same worker, so back-to-back sends before the
		 * connection exists end up on one connection. */
		owner = 1 + (uintptr_t)(rp_siphash13((const uint8_t *)"rampart-conn-own",
			key, sizeof(key)) % ws->n);
	}
	w = &ws->w[owner - 1];
	if (w == cur_w) {
		/* A handler on the owner's own thread: no hand-over needed. */
		struct rp_conn_want wd;
		rp_conn *c;

		if (want) {
			wd = *want;
			wd.domain = domain;
			c = rp_conn_table_find_reusable(w->conns, tp, peer, &wd);
		} else {
			c = rp_conn_table_find(w->conns, tp, peer);
		}

		if (c) {
			int rc = conn_send(w, c, data, len);

			if (rc < 0) {
				if (w->nfailed < sizeof(w->failed) / sizeof(w->failed[0])) {
					w->failed[w->nfailed].tp = tp;
					w->failed[w->nfailed].peer = *peer;
					w->nfailed++;
				}
				return rc;
			}
			update_events(w, c);
			return 0;
		}
	}
	it = malloc(sizeof(*it) + len);
	if (!it)
		return -ENOMEM;
	it->tp = tp;
	it->peer = *peer;
	it->connect = connect;
	snprintf(it->domain, sizeof(it->domain), "%s", domain ? domain : "");
	it->store = store;
	if (want)
		it->want = *want;
	it->len = len;
	memcpy(it->data, data, len);
	pthread_mutex_lock(&w->inbox_lock);
	/* FIFO: messages to one peer keep their order. */
	it->next = NULL;
	was_empty = !w->inbox;
	if (w->inbox_tail)
		w->inbox_tail->next = it;
	else
		w->inbox = it;
	w->inbox_tail = it;
	pthread_mutex_unlock(&w->inbox_lock);
	/* Only a post to an empty inbox wakes the owner: a non-empty one has
	 * the first poster's write pending, and drain_inbox() reads it before
	 * it takes the whole list (one wake-up and two syscalls fewer per
	 * message while the owner is busy or in its batch sleep). */
	if (!was_empty)
		return 0;
	return write(w->wake.fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

int rp_workers_send(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const void *data, size_t len)
{
	if (tp == RP_TP_UDP)
		return send_udp(ws, peer, data, len, false);
	return post(ws, tp, peer, NULL, NULL, NULL, data, len);
}

int rp_workers_send_later(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const void *data, size_t len)
{
	if (tp == RP_TP_UDP)
		return send_udp(ws, peer, data, len, true);
	return post(ws, tp, peer, NULL, NULL, NULL, data, len);
}

int rp_workers_send_to_tls(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const char *tls_domain, rp_tls_store *client, enum rp_conn_reuse reuse,
	const void *data, size_t len)
{
	/* No client settings: nothing could verify a new connection, and a
	 * peer's own one proved nothing either. */
	struct rp_conn_want want = { .reuse = reuse, .verifies = true };

	if (tp == RP_TP_UDP)
		return send_udp(ws, peer, data, len, false);
	if (tp != RP_TP_TLS)
		return post(ws, tp, peer, NULL, NULL, &want, data, len);
	if (!tls_domain || !*tls_domain)
		return -EINVAL;
	/* Resolved now: the connection is matched and opened with the
	 * settings the request was sent with, even if the global ones are
	 * swapped meanwhile. */
	if (!client)
		client = atomic_load(&ws->client_tls);
	if (client)
		rp_tls_store_identity(client, &want.store_id, &want.verifies);
	return post(ws, tp, peer, tls_domain, client, &want, data, len);
}

int rp_workers_send_to(rp_workers *ws, enum rp_tp tp, const rp_addr *peer,
	const char *tls_domain, const void *data, size_t len)
{
	return rp_workers_send_to_tls(ws, tp, peer, tls_domain, NULL, RP_REUSE_SAME_TLS,
		data, len);
}

void rp_workers_set_udp_steering(rp_workers *ws, bool automatic)
{
	atomic_store(&ws->steer_auto, automatic);
}

void rp_workers_set_batch_wait(rp_workers *ws, uint32_t wait_us)
{
	atomic_store(&ws->batch_wait_us, wait_us > RP_BATCH_MAX_US ? RP_BATCH_MAX_US : wait_us);
}

void rp_workers_get_stats(rp_workers *ws, struct rp_workers_stats *st)
{
	st->accepted = atomic_load(&ws->accepted);
	st->refused = atomic_load(&ws->refused);
	st->closed = atomic_load(&ws->closed);
	st->udp_msgs = 0;
	for (unsigned i = 0; i < ws->n; i++) {
		uint64_t v = atomic_load_explicit(&ws->w[i].udp_msgs, memory_order_relaxed);

		st->udp_msgs += v;
		if (i < RP_STATS_WORKERS)
			st->worker_udp_msgs[i] = v;
	}
	for (unsigned i = ws->n; i < RP_STATS_WORKERS; i++)
		st->worker_udp_msgs[i] = 0;
	st->udp_one = atomic_load(&ws->steer_one);
	st->udp_steer_changes = atomic_load(&ws->steer_changes);
	st->stream_msgs = atomic_load(&ws->stream_msgs);
	st->frame_errors = atomic_load(&ws->frame_errors);
	st->dropped_slow = atomic_load(&ws->dropped_slow);
	st->opened = atomic_load(&ws->opened);
	st->rounds = st->batch_sleeps = 0;
	for (unsigned i = 0; i < ws->n; i++) {
		st->rounds += atomic_load_explicit(&ws->w[i].rounds, memory_order_relaxed);
		st->batch_sleeps += atomic_load_explicit(&ws->w[i].batch_sleeps,
			memory_order_relaxed);
	}
	st->conns = rp_iplimit_total(ws->limit);
}
