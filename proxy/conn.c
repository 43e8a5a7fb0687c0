#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rp_hash.h"

struct wq_chunk {
	struct wq_chunk *next;
	size_t len, off;
	char data[];
};

struct rp_conn {
	int fd;
	enum rp_tp tp;
	rp_addr peer, local;
	uint8_t key[RP_ADDR_KEY_LEN];
	rp_tls_sess *tls;
	struct rp_conn_limits lim;
	sip_framer framer;
	char *rbuf;
	size_t rlen;
	struct wq_chunk *wq_head, *wq_tail;
	size_t wq_bytes;
	uint64_t created_ms, last_ms, last_ping_ms;
	/* Outbound: the last SIP message either way (pings and pongs do not
	 * count), for the idle timeout; msg_sent marks a send since the last
	 * expiry scan, which stamps it (rp_conn_send has no clock). */
	uint64_t last_msg_ms;
	bool msg_sent;
	bool hs_done;     /* connected, and TLS handshake complete */
	bool connecting;  /* outbound: non-blocking connect() in progress */
	bool outbound;
	bool tls_wants_write;
	/* The head chunk is being written (a TLS write asked to be retried
	 * with the same buffer, or a partial send): not to be merged. */
	bool head_busy;
	bool in_table;
	bool has_alias;
	uint8_t alias_key[RP_ADDR_KEY_LEN]; /* RFC 5923: the peer's sent-by */
	int dead; /* set when a send failed inside a message callback */
	char why[352];
	void *owner;
	rp_conn *next, *prev; /* table list, for expiry scans */
	/* Further connections to the same transport + address: the first is
	 * in by_addr, the others hang off it in this list. */
	rp_conn *same_next;
};

struct rp_conn_table {
	rp_hash *by_addr;  /* key -> first connection to that address */
	rp_hash *by_alias; /* RFC 5923 alias key -> connection */
	rp_conn *head;
	size_t count;
};

int rp_conn_new(int fd, enum rp_tp tp, const rp_addr *peer, const rp_addr *local,
	rp_tls_sess *tls, const struct rp_conn_limits *lim, uint64_t now_ms,
	rp_conn **out)
{
	rp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->rbuf = malloc(lim->rbuf);
	if (!c->rbuf) {
		free(c);
		return -ENOMEM;
	}
	c->fd = fd;
	c->tp = tp;
	c->peer = *peer;
	if (local)
		c->local = *local;
	rp_addr_key(tp, peer, c->key);
	c->tls = tls;
	c->lim = *lim;
	sip_framer_init(&c->framer, &lim->frame);
	c->created_ms = c->last_ms = c->last_msg_ms = now_ms;
	c->hs_done = (tp != RP_TP_TLS);
	*out = c;
	return 0;
}

static void wq_clear(rp_conn *c)
{
	while (c->wq_head) {
		struct wq_chunk *n = c->wq_head->next;

		free(c->wq_head);
		c->wq_head = n;
	}
	c->wq_tail = NULL;
	c->wq_bytes = 0;
}

void rp_conn_free(rp_conn *c)
{
	if (!c)
		return;
	if (c->tls) {
		rp_tls_shutdown(c->tls);
		rp_tls_sess_free(c->tls);
	}
	if (c->fd >= 0)
		close(c->fd);
	wq_clear(c);
	free(c->rbuf);
	free(c);
}

static int fail(rp_conn *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(rp_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return err;
}

/* Queued messages that fit in one TLS record's plaintext go out in one
 * write: one record (one encryption, one header and tag) and one send
 * instead of one per message. */
#define COALESCE_MAX 16384

/* Merges the chunks at the head of the queue into one while they fit in
 * COALESCE_MAX; on no memory they stay as they are. */
static void coalesce(rp_conn *c)
{
	struct wq_chunk *h = c->wq_head, *p, *rest, *m;
	size_t total = 0, off = 0;
	unsigned k = 0;

	if (c->head_busy || !h || !h->next || h->off)
		return;
	for (p = h; p && total + p->len <= COALESCE_MAX; p = p->next, k++)
		total += p->len;
	if (k < 2)
		return;
	rest = p;
	m = malloc(sizeof(*m) + total);
	if (!m)
		return;
	for (p = h; p != rest; ) {
		struct wq_chunk *n = p->next;

		memcpy(m->data + off, p->data, p->len);
		off += p->len;
		free(p);
		p = n;
	}
	m->len = total;
	m->off = 0;
	m->next = rest;
	c->wq_head = m;
	if (!rest)
		c->wq_tail = m;
}

/* Writes queued bytes until the queue is empty or the socket is full. */
static int flush(rp_conn *c)
{
	c->tls_wants_write = false;
	while (c->wq_head) {
		struct wq_chunk *h;
		size_t left, n;

		coalesce(c);
		h = c->wq_head;
		left = h->len - h->off;

		if (c->tls) {
			enum rp_tls_status st;

			n = rp_tls_write(c->tls, h->data + h->off, left, &st);
			if (n == 0) {
				if (st == RP_TLS_WANT_WRITE || st == RP_TLS_WANT_READ) {
					c->tls_wants_write = (st == RP_TLS_WANT_WRITE);
					/* wolfSSL wants this very buffer again. */
					c->head_busy = true;
					return 0;
				}
				return fail(c, -EPIPE, "%s", rp_tls_sess_error(c->tls));
			}
		} else {
			ssize_t w = send(c->fd, h->data + h->off, left, MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				if (errno == EINTR)
					continue;
				return fail(c, -errno, "send: %s", strerror(errno));
			}
			n = (size_t)w;
		}
		h->off += n;
		c->wq_bytes -= n;
		c->head_busy = h->off != h->len;
		if (h->off == h->len) {
			c->wq_head = h->next;
			if (!c->wq_head)
				c->wq_tail = NULL;
			free(h);
		}
	}
	return 0;
}

/* Appends bytes to the write queue (no write). */
static int queue_bytes(rp_conn *c, const void *data, size_t len)
{
	struct wq_chunk *ch;

	if (len == 0)
		return 0;
	if (c->dead)
		return c->dead;
	if (c->wq_bytes + len > c->lim.wq_max) {
		c->dead = fail(c, -ENOBUFS, "peer not reading: %zu bytes queued",
			c->wq_bytes);
		return c->dead;
	}
	ch = malloc(sizeof(*ch) + len);
	if (!ch)
		return -ENOMEM;
	ch->next = NULL;
	ch->len = len;
	ch->off = 0;
	memcpy(ch->data, data, len);
	if (c->wq_tail)
		c->wq_tail->next = ch;
	else
		c->wq_head = ch;
	c->wq_tail = ch;
	c->wq_bytes += len;
	return 0;
}

int rp_conn_queue(rp_conn *c, const void *data, size_t len)
{
	c->msg_sent = true;
	return queue_bytes(c, data, len);
}

int rp_conn_flush(rp_conn *c)
{
	int rc;

	if (c->dead)
		return c->dead;
	if (!c->hs_done)
		return 0;
	rc = flush(c);
	if (rc < 0)
		c->dead = rc;
	return rc;
}

/* Queues bytes and tries to send them: rp_conn_send without counting as
 * a message (keep-alive pings and pongs). */
static int enqueue(rp_conn *c, const void *data, size_t len)
{
	int rc = queue_bytes(c, data, len);

	return rc < 0 || len == 0 ? rc : rp_conn_flush(c);
}

int rp_conn_send(rp_conn *c, const void *data, size_t len)
{
	int rc = rp_conn_queue(c, data, len);

	return rc < 0 || len == 0 ? rc : rp_conn_flush(c);
}

int rp_conn_error(const rp_conn *c)
{
	return c->dead;
}

void rp_conn_set_outbound(rp_conn *c)
{
	c->outbound = true;
	c->connecting = true;
	c->hs_done = false;
	/* We are the side that pings; a lone CRLF is the pong. */
	sip_framer_set_expect_pong(&c->framer, true);
}

bool rp_conn_outbound(const rp_conn *c)
{
	return c->outbound;
}

static int handshake(rp_conn *c, uint64_t now_ms);

static int finish_connect(rp_conn *c, uint64_t now_ms)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return 0;
	if (err)
		return fail(c, -err, "connect: %s", strerror(err));
	c->connecting = false;
	c->last_ms = now_ms;
	if (c->tls)
		return handshake(c, now_ms);
	c->hs_done = true;
	return flush(c);
}

static int handshake(rp_conn *c, uint64_t now_ms)
{
	enum rp_tls_status st = rp_tls_handshake(c->tls);

	if (st == RP_TLS_OK) {
		c->hs_done = true;
		c->last_ms = now_ms;
		return flush(c);
	}
	c->tls_wants_write = (st == RP_TLS_WANT_WRITE);
	if (st == RP_TLS_WANT_READ || st == RP_TLS_WANT_WRITE)
		return 0;
	return fail(c, -EPROTO, "%s", rp_tls_sess_error(c->tls));
}

/* Cuts every complete item out of the receive buffer. */
static int frame_all(rp_conn *c, rp_conn_msg_fn fn, void *arg)
{
	size_t off = 0;
	int rc = 0;

	for (;;) {
		struct sip_frame fr;
		enum sip_frame_result r = sip_framer_next(&c->framer, c->rbuf + off,
			c->rlen - off, &fr);

		if (r == SIP_FRAME_NEED_MORE)
			break;
		if (r < 0) {
			/* Content-Length missing, not a number or repeated (RFC
			 * 3261 18.3, 20.14): nothing after these headers can be
			 * framed, but they are whole, so the core answers a
			 * request 400 (Missing / Bad Content-Length, Duplicate
			 * Header) before the close, instead of silence. A size
			 * over the limit is not answered: the body is on its way. */
			if ((r == SIP_FRAME_E_NO_CLEN || r == SIP_FRAME_E_BAD_CLEN ||
			     r == SIP_FRAME_E_DUP_CLEN) && fr.hdr_len &&
			    fr.hdr_len <= c->rlen - off)
				fn(c, c->rbuf + off, fr.hdr_len, arg);
			rc = fail(c, -EBADMSG, "%s at byte %zu", sip_frame_strerror(r),
				fr.err_off);
			break;
		}
		if (r == SIP_FRAME_PING) {
			rc = enqueue(c, "\r\n", 2);
			if (rc < 0)
				break;
		} else if (r == SIP_FRAME_MSG) {
			c->msg_sent = true;     /* stamped by the expiry scan */
			fn(c, c->rbuf + off + fr.off, fr.len, arg);
			if (c->dead) {
				rc = c->dead;
				break;
			}
		}
		off += fr.consumed;
	}
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (rc == 0 && c->rlen == c->lim.rbuf)
		rc = fail(c, -EMSGSIZE, "message larger than the %zu-byte buffer", c->lim.rbuf);
	return rc;
}

int rp_conn_on_readable(rp_conn *c, uint64_t now_ms, rp_conn_msg_fn fn, void *arg)
{
	int rc;

	if (c->connecting) {
		rc = finish_connect(c, now_ms);
		if (rc < 0 || !c->hs_done)
			return rc;
	}
	if (!c->hs_done) {
		rc = handshake(c, now_ms);
		if (rc < 0 || !c->hs_done)
			return rc;
	}
	/* A TLS write may have stopped for want of a read (key update,
	 * renegotiation attempt): retry it now that the socket is readable. */
	if (c->tls_wants_write || (c->tls && c->wq_head)) {
		rc = flush(c);
		if (rc < 0)
			return rc;
	}
	/* Bounded per wake-up so one busy peer cannot starve the others; the
	 * level-triggered epoll brings us back for the rest. TLS must be read
	 * until it wants the socket, since it may hold decrypted bytes. */
	rc = 0;
	for (int i = 0; rc == 0; i++) {
		size_t room = c->lim.rbuf - c->rlen, n;

		if (i == 64) {
			/* Records a TLS session already read ahead from the socket
			 * wake no epoll: without this, 64 tiny records (keep-alives,
			 * a message written in pieces) left the next message
			 * stalled until the peer sent more. Serve what is buffered,
			 * not the socket. */
			if (!c->tls)
				break;
			rp_tls_sess_hold_socket(c->tls, true);
		}
		if (c->tls) {
			enum rp_tls_status st;

			n = rp_tls_read(c->tls, c->rbuf + c->rlen, room, &st);
			if (n == 0) {
				if (st == RP_TLS_WANT_READ)
					break;
				if (st == RP_TLS_WANT_WRITE) {
					c->tls_wants_write = true;
					break;
				}
				rc = fail(c, st == RP_TLS_CLOSED ? -ECONNRESET : -EPROTO,
					"%s", st == RP_TLS_CLOSED ? "peer closed" :
					rp_tls_sess_error(c->tls));
				break;
			}
		} else {
			ssize_t r = recv(c->fd, c->rbuf + c->rlen, room, 0);

			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				if (errno == EINTR)
					continue;
				return fail(c, -errno, "recv: %s", strerror(errno));
			}
			if (r == 0)
				return fail(c, -ECONNRESET, "peer closed");
			n = (size_t)r;
		}
		c->rlen += n;
		c->last_ms = now_ms;
		rc = frame_all(c, fn, arg);
		/* epoll is level-triggered: no read that would say WANT_READ. */
		if (rc == 0 && c->tls && !c->tls_wants_write && rp_tls_sess_drained(c->tls))
			break;
	}
	if (c->tls)
		rp_tls_sess_hold_socket(c->tls, false);
	return rc < 0 ? rc : 0;
}

int rp_conn_on_writable(rp_conn *c, uint64_t now_ms)
{
	if (c->connecting)
		return finish_connect(c, now_ms);
	if (!c->hs_done)
		return handshake(c, now_ms);
	return flush(c);
}

bool rp_conn_wants_write(const rp_conn *c)
{
	return c->connecting || c->tls_wants_write || (c->hs_done && c->wq_head != NULL);
}

int rp_conn_keepalive(rp_conn *c, uint64_t now_ms, uint32_t interval_ms)
{
	if (!c->outbound || !c->hs_done || !interval_ms)
		return 0;
	if (now_ms - c->last_ms < interval_ms || now_ms - c->last_ping_ms < interval_ms)
		return 0;
	c->last_ping_ms = now_ms;
	return enqueue(c, "\r\n\r\n", 4);
}

bool rp_conn_expired(rp_conn *c, uint64_t now_ms)
{
	if (c->msg_sent) {
		c->msg_sent = false;
		c->last_msg_ms = now_ms;
	}
	if (!c->hs_done && c->lim.handshake_ms &&
	    now_ms - c->created_ms >= c->lim.handshake_ms)
		return true;
	if (!c->lim.idle_ms)
		return false;
	/* A connection we opened lives for the SIP it carries: the peer's
	 * pongs to our own pings would otherwise keep it open for ever (one
	 * left by a reload that changed the TLS settings is never chosen
	 * again). A peer's connection stays while the peer sends anything,
	 * its RFC 5626 pings included: that keeps a UA's registered flow. */
	if (c->outbound && now_ms - c->last_msg_ms >= c->lim.idle_ms)
		return true;
	return now_ms - c->last_ms >= c->lim.idle_ms;
}

int rp_conn_fd(const rp_conn *c) { return c->fd; }
enum rp_tp rp_conn_tp(const rp_conn *c) { return c->tp; }
const rp_addr *rp_conn_peer(const rp_conn *c) { return &c->peer; }
const rp_addr *rp_conn_local(const rp_conn *c) { return &c->local; }
rp_tls_sess *rp_conn_tls(rp_conn *c) { return c->tls; }
size_t rp_conn_queued(const rp_conn *c) { return c->wq_bytes; }
void rp_conn_set_owner(rp_conn *c, void *p) { c->owner = p; }
void *rp_conn_owner(const rp_conn *c) { return c->owner; }

const char *rp_conn_why(const rp_conn *c)
{
	if (c->why[0])
		return c->why;
	if (c->connecting)
		return "connect timeout";
	return c->hs_done ? "idle timeout" : "TLS handshake timeout";
}

int rp_conn_table_new(rp_conn_table **out)
{
	rp_conn_table *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	rc = rp_hash_new(64, 0, &t->by_addr);
	if (rc < 0) {
		free(t);
		return rc;
	}
	rc = rp_hash_new(16, 0, &t->by_alias);
	if (rc < 0) {
		rp_hash_free(t->by_addr);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void rp_conn_table_free(rp_conn_table *t)
{
	if (!t)
		return;
	while (t->head) {
		rp_conn *c = t->head;

		rp_conn_table_del(t, c);
		rp_conn_free(c);
	}
	rp_hash_free(t->by_addr);
	rp_hash_free(t->by_alias);
	free(t);
}

static rp_str key_str(const uint8_t *key)
{
	return rp_str_make((const char *)key, RP_ADDR_KEY_LEN);
}

int rp_conn_table_add(rp_conn_table *t, rp_conn *c)
{
	rp_conn *first;

	if (c->in_table)
		return -EEXIST;
	first = rp_hash_find(t->by_addr, key_str(c->key));
	if (first) {
		c->same_next = first->same_next;
		first->same_next = c;
	} else {
		int rc = rp_hash_insert(t->by_addr, key_str(c->key), c);

		if (rc < 0)
			return rc;
		c->same_next = NULL;
	}
	c->in_table = true;
	c->prev = NULL;
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	t->count++;
	return 0;
}

void rp_conn_table_del(rp_conn_table *t, rp_conn *c)
{
	rp_conn *first;

	if (!c->in_table)
		return;
	first = rp_hash_find(t->by_addr, key_str(c->key));
	if (first == c) {
		/* The hash points into c->key: the next one brings its own. */
		rp_hash_remove(t->by_addr, key_str(c->key));
		if (c->same_next)
			(void)rp_hash_insert(t->by_addr, key_str(c->same_next->key),
				c->same_next);
	} else {
		for (rp_conn *p = first; p; p = p->same_next)
			if (p->same_next == c) {
				p->same_next = c->same_next;
				break;
			}
	}
	c->same_next = NULL;
	if (c->has_alias) {
		rp_str ak = key_str(c->alias_key);

		if (rp_hash_find(t->by_alias, ak) == c)
			rp_hash_remove(t->by_alias, ak);
		c->has_alias = false;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->in_table = false;
	t->count--;
}

rp_conn *rp_conn_table_find_key(rp_conn_table *t, const uint8_t key[RP_ADDR_KEY_LEN])
{
	rp_conn *c = rp_hash_find(t->by_addr, key_str(key));

	return c ? c : rp_hash_find(t->by_alias, key_str(key));
}

rp_conn *rp_conn_table_find(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer)
{
	uint8_t key[RP_ADDR_KEY_LEN];

	rp_addr_key(tp, peer, key);
	return rp_conn_table_find_key(t, key);
}

rp_conn *rp_conn_table_find_if(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer,
	bool (*pred)(rp_conn *c, void *arg), void *arg)
{
	uint8_t key[RP_ADDR_KEY_LEN];
	rp_conn *c;

	rp_addr_key(tp, peer, key);
	for (c = rp_hash_find(t->by_addr, key_str(key)); c; c = c->same_next)
		if (pred(c, arg))
			return c;
	c = rp_hash_find(t->by_alias, key_str(key));
	return c && pred(c, arg) ? c : NULL;
}

size_t rp_conn_table_count_outbound(rp_conn_table *t, enum rp_tp tp, const rp_addr *peer)
{
	uint8_t key[RP_ADDR_KEY_LEN];
	size_t n = 0;

	rp_addr_key(tp, peer, key);
	for (rp_conn *c = rp_hash_find(t->by_addr, key_str(key)); c; c = c->same_next)
		n += c->outbound;
	return n;
}

static bool reusable(rp_conn *c, void *arg)
{
	const struct rp_conn_want *w = arg;

	if (c->dead || w->reuse == RP_REUSE_ANY || c->tp != RP_TP_TLS || !c->tls)
		return !c->dead;
	if (!c->outbound)
		return w->reuse == RP_REUSE_OR_FLOW || !w->verifies;
	return rp_tls_sess_store_id(c->tls) == w->store_id &&
		rp_tls_sess_covers(c->tls, w->domain);
}

rp_conn *rp_conn_table_find_reusable(rp_conn_table *t, enum rp_tp tp,
	const rp_addr *peer, const struct rp_conn_want *w)
{
	return rp_conn_table_find_if(t, tp, peer, reusable, (void *)w);
}

rp_conn *rp_conn_table_first(rp_conn_table *t)
{
	return t->head;
}

int rp_conn_table_alias(rp_conn_table *t, rp_conn *c, const rp_addr *alias)
{
	uint8_t key[RP_ADDR_KEY_LEN];
	rp_conn *o;

	if (!c->in_table)
		return -ENOENT;
	if (!rp_addr_same_ip(alias, &c->peer))
		return -EPERM; /* an alias never moves traffic to another host */
	rp_addr_key(c->tp, alias, key);
	if (memcmp(key, c->key, sizeof(key)) == 0)
		return 0;
	if ((o = rp_conn_table_find_key(t, key)))
		return o == c ? 0 : -EEXIST;
	if (c->has_alias) {
		rp_str old = key_str(c->alias_key);

		if (rp_hash_find(t->by_alias, old) == c)
			rp_hash_remove(t->by_alias, old);
	}
	memcpy(c->alias_key, key, sizeof(key));
	c->has_alias = true;
	return rp_hash_insert(t->by_alias, key_str(c->alias_key), c);
}

size_t rp_conn_table_count(const rp_conn_table *t)
{
	return t->count;
}

void rp_conn_table_each(rp_conn_table *t, void (*fn)(rp_conn *c, void *arg),
	void *arg)
{
	rp_conn *c = t->head;

	while (c) {
		rp_conn *next = c->next;

		fn(c, arg);
		c = next;
	}
}

void rp_conn_table_expire(rp_conn_table *t, uint64_t now_ms,
	void (*fn)(rp_conn *c, void *arg), void *arg)
{
	rp_conn *c = t->head;

	while (c) {
		rp_conn *next = c->next;

		if (rp_conn_expired(c, now_ms))
			fn(c, arg);
		c = next;
	}
}
