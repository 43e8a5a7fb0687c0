#include "txn.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_hash.h"
#include "rp_log.h"
#include "rp_rand.h"
#include "rp_time.h"
#include "sipout.h"

struct shard {
	pthread_mutex_t mu;
	rp_hash *srv, *cli;
	rp_timers *tm;
	struct rp_rand_pool *rnd;
	uint64_t now;      /* of the rp_txn_expire call running */
	atomic_uint busy;  /* rp_txn_expire found it locked this many times */
};

struct rp_txl {
	struct rp_txn_cfg cfg;
	const struct rp_txn_ops *ops;
	void *arg;
	uint8_t key[16];
	struct shard *sh;
};

struct rp_txn_srv {
	rp_txl *l;
	unsigned shard;
	enum rp_txn_state st;
	bool invite, reliable, in_table;
	unsigned nchild;
	unsigned final_code;
	uint32_t retr_ms;
	rp_timer t_retr, t_end;
	struct rp_txn_dest dest;
	char *resp;
	size_t resp_len;
	rp_str key;
	char *req;                 /* malloc, until the final response */
	size_t req_len;
	void *user;
	alignas(max_align_t) char data[];
};

struct rp_txn_cli {
	rp_txl *l;
	unsigned shard;
	rp_txn_srv *parent;
	enum sip_method method;
	enum rp_txn_state st;
	bool invite, reliable, send_failed, timer_c_fired;
	uint32_t retr_ms;
	rp_timer t_retr, t_end;
	struct rp_txn_dest dest;
	rp_str key, branch;
	char *req;
	size_t req_len;
	char *ack;
	size_t ack_len;
	void *user;
	alignas(max_align_t) char data[];
};

const char *rp_txn_state_name(enum rp_txn_state s)
{
	switch (s) {
	case RP_TXN_TRYING: return "trying";
	case RP_TXN_CALLING: return "calling";
	case RP_TXN_PROCEEDING: return "proceeding";
	case RP_TXN_COMPLETED: return "completed";
	case RP_TXN_CONFIRMED: return "confirmed";
	case RP_TXN_ACCEPTED: return "accepted";
	case RP_TXN_TERMINATED: return "terminated";
	}
	return "?";
}

/* ---- keys: a bounded writer into the caller's stack buffer ---- */

struct kbuf {
	char *p;
	size_t n, cap;
	bool over;
};

static void kput(struct kbuf *k, const char *s, size_t n)
{
	if (k->over || n > k->cap - k->n) {
		k->over = true;
		return;
	}
	memcpy(k->p + k->n, s, n);
	k->n += n;
}

static void kputs(struct kbuf *k, rp_str s)
{
	kput(k, s.p ? s.p : "", s.n);
}

static void kputu(struct kbuf *k, unsigned long v)
{
	char t[24];
	size_t n = sizeof(t);

	/* By hand: snprintf was a tenth of a transaction lookup. */
	do {
		t[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	kput(k, t + n, sizeof(t) - n);
}

#define KEY_MAX 2048

/* §17.2.3: branch + sent-by + method (ACK and, when asked, CANCEL match
 * the INVITE); without the magic cookie, the RFC 2543 fields. */
static int srv_key(const struct sip_msg *m, bool as_invite, struct kbuf *k)
{
	rp_str method = m->method_str;

	if (m->method == SIP_METHOD_ACK || as_invite)
		method = RP_STR_LIT("INVITE");
	if (sip_via_branch_is_rfc3261(&m->via)) {
		kput(k, "1 ", 2);
		kputs(k, method);
		kput(k, " ", 1);
		kputs(k, m->via.branch);
		kput(k, " ", 1);
		kputs(k, m->via.host);
		kput(k, ":", 1);
		kputu(k, m->via.port);
	} else {
		kput(k, "2 ", 2);
		kputs(k, method);
		kput(k, " ", 1);
		kputs(k, m->ruri_str);
		kput(k, " ", 1);
		kputs(k, m->from.tag);
		kput(k, " ", 1);
		kputs(k, m->call_id);
		kput(k, " ", 1);
		kputu(k, m->cseq.num);
		kput(k, " ", 1);
		kputs(k, m->via.raw);
	}
	return k->over ? -E2BIG : 0;
}

static int cli_key(rp_str method, rp_str branch, struct kbuf *k)
{
	kputs(k, method);
	kput(k, " ", 1);
	kputs(k, branch);
	return k->over ? -E2BIG : 0;
}

/* ---- layer ---- */

static uint32_t t1(const rp_txl *l) { return l->cfg.t1_ms; }
static uint32_t t2(const rp_txl *l) { return l->cfg.t2_ms; }
static uint32_t t4(const rp_txl *l) { return l->cfg.t4_ms; }

int rp_txn_layer_new(const struct rp_txn_cfg *cfg, const struct rp_txn_ops *ops,
	void *arg, rp_txl **out)
{
	rp_txl *l;
	int rc = -ENOMEM;

	if (!ops || !ops->send || !ops->cli_event || (cfg && cfg->shards > 256))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (cfg)
		l->cfg = *cfg;
	if (!l->cfg.t1_ms)
		l->cfg.t1_ms = 500;
	if (!l->cfg.t2_ms)
		l->cfg.t2_ms = 4000;
	if (!l->cfg.t4_ms)
		l->cfg.t4_ms = 5000;
	if (!l->cfg.timer_c_ms)
		l->cfg.timer_c_ms = 180000;
	if (!l->cfg.shards)
		l->cfg.shards = 16;
	l->ops = ops;
	l->arg = arg;
	rc = rp_rand_bytes(l->key, sizeof(l->key));
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	l->sh = calloc(l->cfg.shards, sizeof(*l->sh));
	if (!l->sh)
		goto fail;
	for (unsigned i = 0; i < l->cfg.shards; i++) {
		struct shard *s = &l->sh[i];

		pthread_mutex_init(&s->mu, NULL);
		if ((rc = rp_hash_new(64, 0, &s->srv)) < 0 ||
		    (rc = rp_hash_new(64, 0, &s->cli)) < 0 ||
		    (rc = rp_timers_new(128, &s->tm)) < 0 ||
		    (rc = rp_rand_pool_new(&s->rnd)) < 0)
			goto fail;
	}
	*out = l;
	return 0;
fail:
	rp_txn_layer_free(l);
	return rc;
}

static void cli_free(rp_txn_cli *c);
static void srv_free_maybe(rp_txn_srv *s);

void rp_txn_layer_free(rp_txl *l)
{
	if (!l)
		return;
	for (unsigned i = 0; l->sh && i < l->cfg.shards; i++) {
		struct shard *s = &l->sh[i];
		rp_hash_iter it;
		rp_str k;
		void *v;

		if (s->cli) {
			rp_hash_iter_init(s->cli, &it);
			while (rp_hash_iter_next(&it, &k, &v))
				cli_free(v);
		}
		if (s->srv) {
			rp_hash_iter_init(s->srv, &it);
			while (rp_hash_iter_next(&it, &k, &v)) {
				rp_txn_srv_terminate(l, v);
			}
		}
		rp_hash_free(s->srv);
		rp_hash_free(s->cli);
		rp_timers_free(s->tm);
		rp_rand_pool_free(s->rnd);
		pthread_mutex_destroy(&s->mu);
	}
	free(l->sh);
	free(l);
}

unsigned rp_txn_shards(const rp_txl *l)
{
	return l->cfg.shards;
}

unsigned rp_txn_shard_of(const rp_txl *l, rp_str call_id)
{
	return (unsigned)(rp_siphash13(l->key, call_id.p ? call_id.p : "", call_id.n) %
		l->cfg.shards);
}

void rp_txn_lock(rp_txl *l, unsigned shard)
{
	pthread_mutex_lock(&l->sh[shard].mu);
}

void rp_txn_unlock(rp_txl *l, unsigned shard)
{
	pthread_mutex_unlock(&l->sh[shard].mu);
}

void rp_txn_expire(rp_txl *l, uint64_t now)
{
	for (unsigned i = 0; i < l->cfg.shards; i++) {
		struct shard *s = &l->sh[i];

		/* A shard a worker holds is looked at on the next call instead
		 * of waiting for it (and making the worker wake us); after a few
		 * misses in a row, waited for, so its timers stay bounded. */
		if (pthread_mutex_trylock(&s->mu) != 0) {
			if (atomic_fetch_add(&s->busy, 1) < 3)
				continue;
			pthread_mutex_lock(&s->mu);
		}
		atomic_store(&s->busy, 0);
		s->now = now;
		rp_timers_expire(s->tm, now, 0);
		pthread_mutex_unlock(&s->mu);
	}
}

uint64_t rp_txn_next_deadline(rp_txl *l)
{
	uint64_t best = UINT64_MAX;

	for (unsigned i = 0; i < l->cfg.shards; i++) {
		struct shard *s = &l->sh[i];
		uint64_t t;

		pthread_mutex_lock(&s->mu);
		t = rp_timers_next(s->tm);
		pthread_mutex_unlock(&s->mu);
		if (t < best)
			best = t;
	}
	return best;
}

void rp_txn_count(rp_txl *l, size_t *srv, size_t *cli)
{
	size_t a = 0, b = 0;

	for (unsigned i = 0; i < l->cfg.shards; i++) {
		struct shard *s = &l->sh[i];

		pthread_mutex_lock(&s->mu);
		a += rp_hash_count(s->srv);
		b += rp_hash_count(s->cli);
		pthread_mutex_unlock(&s->mu);
	}
	if (srv)
		*srv = a;
	if (cli)
		*cli = b;
}

static void dump_line(rp_buf *b, const char *kind, rp_str method, enum rp_txn_state st,
	const struct rp_txn_dest *d, rp_str id)
{
	char a[64];

	rp_addr_fmt(&d->addr, a, sizeof(a));
	rp_buf_append_cstr(b, kind);
	rp_buf_append_byte(b, ' ');
	rp_buf_append_str(b, method);
	rp_buf_append_byte(b, ' ');
	rp_buf_append_cstr(b, rp_txn_state_name(st));
	rp_buf_append_byte(b, ' ');
	rp_buf_append_cstr(b, rp_tp_name(d->tp));
	rp_buf_append_byte(b, ' ');
	rp_buf_append_cstr(b, a);
	rp_buf_append_byte(b, ' ');
	/* Keys and branches come from the network: printable bytes only. */
	for (size_t i = 0; i < id.n; i++)
		rp_buf_append_byte(b, id.p[i] >= 0x20 && id.p[i] < 0x7f ? id.p[i] : '?');
	rp_buf_append_byte(b, '\n');
}

size_t rp_txn_dump(rp_txl *l, rp_buf *b, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; i < l->cfg.shards && (!max || n < max); i++) {
		struct shard *sh = &l->sh[i];
		rp_hash_iter it;
		rp_str k;
		void *v;

		pthread_mutex_lock(&sh->mu);
		rp_hash_iter_init(sh->srv, &it);
		while ((!max || n < max) && rp_hash_iter_next(&it, &k, &v)) {
			rp_txn_srv *s = v;
			rp_str m = s->invite ? RP_STR_LIT("INVITE") : RP_STR_LIT("non-INVITE");

			dump_line(b, "srv", m, s->st, &s->dest, s->key);
			n++;
		}
		rp_hash_iter_init(sh->cli, &it);
		while ((!max || n < max) && rp_hash_iter_next(&it, &k, &v)) {
			rp_txn_cli *c = v;

			dump_line(b, "cli", rp_str_cstr(sip_method_name(c->method)), c->st,
				&c->dest, c->branch);
			n++;
		}
		pthread_mutex_unlock(&sh->mu);
	}
	return n;
}

/* ---- branches ---- */

static const char hexd[] = "0123456789abcdef";

static void hex64(char *o, uint64_t v)
{
	for (int i = 15; i >= 0; i--) {
		o[i] = hexd[v & 15];
		v >>= 4;
	}
}

int rp_txn_branch(rp_txl *l, unsigned shard, uint64_t loop_hash,
	char out[RP_TXN_BRANCH_LEN])
{
	uint64_t r;
	int rc = rp_rand_pool_bytes(l->sh[shard].rnd, &r, sizeof(r));

	if (rc < 0)
		return rc;
	memcpy(out, RP_TXN_BRANCH_PREFIX, 9);
	out[9] = hexd[(shard >> 4) & 15];
	out[10] = hexd[shard & 15];
	hex64(out + 11, loop_hash);
	hex64(out + 27, r);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool ours(rp_str b)
{
	return b.n == RP_TXN_BRANCH_LEN && !memcmp(b.p, RP_TXN_BRANCH_PREFIX, 9);
}

int rp_txn_branch_shard(const rp_txl *l, rp_str branch)
{
	int hi, lo;

	if (!ours(branch))
		return -1;
	hi = hexval(branch.p[9]);
	lo = hexval(branch.p[10]);
	if (hi < 0 || lo < 0 || (unsigned)(hi * 16 + lo) >= l->cfg.shards)
		return -1;
	return hi * 16 + lo;
}

bool rp_txn_branch_loop(rp_str branch, uint64_t *loop_hash)
{
	uint64_t v = 0;

	if (!ours(branch))
		return false;
	for (size_t i = 11; i < 27; i++) {
		int d = hexval(branch.p[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*loop_hash = v;
	return true;
}

/* Arms a timer; the heap only fails to grow when memory is short, and
 * then the transaction lingers until the next re-arm: say so. */
static void arm(rp_timers *ts, rp_timer *t, uint64_t when)
{
	int rc = rp_timers_add(ts, t, when);

	if (rc < 0)
		rp_err("txn: cannot arm a timer: %s", strerror(-rc));
}

/* ---- server transactions ---- */

/* Stored requests and responses may carry SDES keys in their SDP
 * (a=crypto): they are wiped before their memory is given back. */
static void wipe_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

static void srv_free_maybe(rp_txn_srv *s)
{
	if (s->st != RP_TXN_TERMINATED || s->nchild || s->in_table)
		return;
	if (s->l->ops->srv_gone)
		s->l->ops->srv_gone(s->l->arg, s);
	wipe_free(s->resp, s->resp_len);
	wipe_free(s->req, s->req_len);
	free(s);
}

void rp_txn_srv_terminate(rp_txl *l, rp_txn_srv *s)
{
	struct shard *sh = &l->sh[s->shard];

	rp_timers_cancel(sh->tm, &s->t_retr);
	rp_timers_cancel(sh->tm, &s->t_end);
	if (s->in_table) {
		rp_hash_remove(sh->srv, s->key);
		s->in_table = false;
	}
	s->st = RP_TXN_TERMINATED;
	srv_free_maybe(s);
}

static void srv_send_resp(rp_txn_srv *s)
{
	int rc = s->l->ops->send(s->l->arg, &s->dest, s->resp, s->resp_len);

	if (rc < 0)
		rp_debug("txn: response not sent: %s", strerror(-rc));
}

static void srv_on_retr(rp_timer *t, void *arg)
{
	rp_txn_srv *s = arg;
	rp_txl *l = s->l;

	(void)t;
	if (s->st != RP_TXN_COMPLETED || !s->resp)
		return;
	srv_send_resp(s);                 /* Timer G */
	s->retr_ms = s->retr_ms * 2 < t2(l) ? s->retr_ms * 2 : t2(l);
	arm(l->sh[s->shard].tm, &s->t_retr, rp_timer_expires(t) + s->retr_ms);
}

static void srv_on_end(rp_timer *t, void *arg)
{
	rp_txn_srv *s = arg;

	(void)t;
	if (s->st == RP_TXN_COMPLETED && s->invite)
		rp_debug("txn: no ACK for the %u final response (Timer H)", s->final_code);
	rp_txn_srv_terminate(s->l, s);   /* Timer H, I, J or L */
}

rp_txn_srv *rp_txn_srv_find(rp_txl *l, unsigned shard, const struct sip_msg *req,
	bool as_invite)
{
	char kb[KEY_MAX];
	struct kbuf k = { kb, 0, sizeof(kb), false };

	if (srv_key(req, as_invite, &k) < 0)
		return NULL;
	return rp_hash_find(l->sh[shard].srv, rp_str_make(kb, k.n));
}

enum rp_txn_absorb rp_txn_srv_absorb(rp_txl *l, rp_txn_srv *s,
	const struct sip_msg *req, uint64_t now)
{
	struct shard *sh = &l->sh[s->shard];

	if (req->method == SIP_METHOD_ACK) {
		if (!s->invite)
			return RP_TXN_ACK_PASS;
		if (s->st == RP_TXN_COMPLETED) {
			s->st = RP_TXN_CONFIRMED;
			rp_timers_cancel(sh->tm, &s->t_retr);
			arm(sh->tm, &s->t_end, now + (s->reliable ? 0 : t4(l)));
			return RP_TXN_ACK_ABSORBED;
		}
		if (s->st == RP_TXN_CONFIRMED)
			return RP_TXN_ACK_ABSORBED;
		return RP_TXN_ACK_PASS;
	}
	/* A retransmission: resend the last response, except a 2xx to an
	 * INVITE, which the UAS itself retransmits (RFC 6026). */
	if (s->resp && s->st != RP_TXN_ACCEPTED && s->st != RP_TXN_CONFIRMED)
		srv_send_resp(s);
	return RP_TXN_ABSORBED;
}

int rp_txn_srv_new(rp_txl *l, unsigned shard, const struct sip_msg *req,
	const struct rp_txn_dest *to, size_t user_size, uint64_t now, rp_txn_srv **out)
{
	char kb[KEY_MAX];
	struct kbuf k = { kb, 0, sizeof(kb), false };
	size_t ua = (user_size + 15) & ~(size_t)15;
	rp_txn_srv *s;
	int rc;

	(void)now;
	if (req->method == SIP_METHOD_ACK || !req->is_request || shard >= l->cfg.shards)
		return -EINVAL;
	if (srv_key(req, false, &k) < 0)
		return -E2BIG;
	/* The request apart: it is only needed until the final response,
	 * and the transaction lingers long after (Timers J, L). */
	s = calloc(1, sizeof(*s) + ua + k.n);
	if (!s)
		return -ENOMEM;
	s->req = malloc(req->len ? req->len : 1);
	if (!s->req) {
		free(s);
		return -ENOMEM;
	}
	s->l = l;
	s->shard = shard;
	s->invite = req->method == SIP_METHOD_INVITE;
	s->reliable = to->tp != RP_TP_UDP;
	s->st = s->invite ? RP_TXN_PROCEEDING : RP_TXN_TRYING;
	s->dest = *to;
	s->dest.reply = true;
	s->user = s->data;
	memcpy(s->data + ua, kb, k.n);
	s->key = rp_str_make(s->data + ua, k.n);
	memcpy(s->req, req->buf, req->len);
	s->req_len = req->len;
	rp_timer_init(&s->t_retr, srv_on_retr, s);
	rp_timer_init(&s->t_end, srv_on_end, s);
	rc = rp_hash_insert(l->sh[shard].srv, s->key, s);
	if (rc < 0) {
		wipe_free(s->req, s->req_len);
		free(s);
		return rc;
	}
	s->in_table = true;
	*out = s;
	return 0;
}

int rp_txn_srv_respond(rp_txl *l, rp_txn_srv *s, unsigned code, const char *buf,
	size_t len, uint64_t now)
{
	struct shard *sh = &l->sh[s->shard];
	bool keep = !(s->invite && code >= 200 && code < 300);
	char *copy = NULL;
	int rc;

	if (s->final_code || s->st == RP_TXN_TERMINATED)
		return -EALREADY;
	/* A 2xx to an INVITE is never resent by us (RFC 6026: the UAS
	 * retransmits it): it is not kept. */
	if (keep) {
		copy = malloc(len ? len : 1); /* not realloc: the old copy is wiped first */
		if (!copy)
			return -ENOMEM;
		memcpy(copy, buf, len);
	}
	wipe_free(s->resp, s->resp_len);
	s->resp = copy;
	s->resp_len = copy ? len : 0;
	rc = l->ops->send(l->arg, &s->dest, buf, len);
	if (code < 200) {
		s->st = RP_TXN_PROCEEDING;
		return rc;
	}
	s->final_code = code;
	/* Nothing reads the request after the final response. */
	wipe_free(s->req, s->req_len);
	s->req = NULL;
	s->req_len = 0;
	if (s->invite && code < 300) {
		s->st = RP_TXN_ACCEPTED;
		arm(sh->tm, &s->t_end, now + 64ull * t1(l));
	} else if (s->invite) {
		s->st = RP_TXN_COMPLETED;
		s->retr_ms = t1(l);
		if (!s->reliable)
			arm(sh->tm, &s->t_retr, now + s->retr_ms);
		arm(sh->tm, &s->t_end, now + 64ull * t1(l));
	} else {
		s->st = RP_TXN_COMPLETED;
		arm(sh->tm, &s->t_end, now + (s->reliable ? 0 : 64ull * t1(l)));
	}
	return rc;
}

enum rp_txn_state rp_txn_srv_state(const rp_txn_srv *s) { return s->st; }
unsigned rp_txn_srv_final(const rp_txn_srv *s) { return s->final_code; }
const struct rp_txn_dest *rp_txn_srv_dest(const rp_txn_srv *s) { return &s->dest; }
void *rp_txn_srv_user(rp_txn_srv *s) { return s->user; }
unsigned rp_txn_srv_shard(const rp_txn_srv *s) { return s->shard; }

const char *rp_txn_srv_request(const rp_txn_srv *s, size_t *len)
{
	*len = s->req_len;
	return s->req;
}

/* ---- client transactions ---- */

static void cli_free(rp_txn_cli *c)
{
	struct shard *sh = &c->l->sh[c->shard];
	rp_txn_srv *p = c->parent;

	rp_timers_cancel(sh->tm, &c->t_retr);
	rp_timers_cancel(sh->tm, &c->t_end);
	rp_hash_remove(sh->cli, c->key);
	if (c->l->ops->cli_gone)
		c->l->ops->cli_gone(c->l->arg, c);
	wipe_free(c->ack, c->ack_len);
	explicit_bzero(c->req, c->req_len);
	free(c);
	if (p) {
		p->nchild--;
		srv_free_maybe(p);
	}
}

static void cli_send(rp_txn_cli *c, const char *buf, size_t len)
{
	int rc = c->l->ops->send(c->l->arg, &c->dest, buf, len);

	if (rc < 0) {
		char a[64];

		rp_addr_fmt(&c->dest.addr, a, sizeof(a));
		rp_info_rl("txn: request to %s/%s not sent: %s", rp_tp_name(c->dest.tp), a,
			strerror(-rc));
	}
}

static void cli_event(rp_txn_cli *c, const struct sip_msg *resp, unsigned code,
	uint64_t now)
{
	c->l->ops->cli_event(c->l->arg, c, resp, code, now);
}

static void cli_on_retr(rp_timer *t, void *arg)
{
	rp_txn_cli *c = arg;
	rp_txl *l = c->l;

	if (c->st == RP_TXN_CALLING) {
		cli_send(c, c->req, c->req_len);          /* Timer A */
		c->retr_ms *= 2;
	} else if (c->st == RP_TXN_TRYING || c->st == RP_TXN_PROCEEDING) {
		cli_send(c, c->req, c->req_len);          /* Timer E */
		c->retr_ms = c->st == RP_TXN_PROCEEDING || c->retr_ms * 2 > t2(l) ?
			t2(l) : c->retr_ms * 2;
	} else {
		return;
	}
	arm(l->sh[c->shard].tm, &c->t_retr, rp_timer_expires(t) + c->retr_ms);
}

static void cli_on_end(rp_timer *t, void *arg)
{
	rp_txn_cli *c = arg;
	rp_txl *l = c->l;

	(void)t;
	if (c->send_failed) {
		c->st = RP_TXN_TERMINATED;
		cli_event(c, NULL, 503, l->sh[c->shard].now);
	} else if (c->invite && c->st == RP_TXN_PROCEEDING && !c->timer_c_fired) {
		/* Timer C: the proxy cancels the branch; if that brings no
		 * final response either, the branch times out. */
		c->timer_c_fired = true;
		arm(l->sh[c->shard].tm, &c->t_end,
			rp_timer_expires(t) + 64ull * t1(l));
		cli_event(c, NULL, 0, l->sh[c->shard].now);
		return;
	} else if (c->st != RP_TXN_COMPLETED) {
		c->st = RP_TXN_TERMINATED;                /* Timer B, F, or C's end */
		cli_event(c, NULL, 408, l->sh[c->shard].now);
	}
	cli_free(c);                                     /* or Timer D, K */
}

int rp_txn_cli_new(rp_txl *l, unsigned shard, rp_txn_srv *parent,
	enum sip_method method, rp_str branch, const struct rp_txn_dest *to,
	const char *buf, size_t len, size_t user_size, uint64_t now, rp_txn_cli **out)
{
	char kb[KEY_MAX];
	struct kbuf k = { kb, 0, sizeof(kb), false };
	size_t ua = (user_size + 15) & ~(size_t)15;
	struct shard *sh;
	rp_str mname = rp_str_cstr(sip_method_name(method));
	rp_txn_cli *c;
	int rc;

	/* A method we have no name for (RFC 4475 intmeth: relayed like any
	 * other) keys by the token that starts buf's request line: the CSeq
	 * method a response will carry (the parser refuses a mismatch). */
	if (method == SIP_METHOD_UNKNOWN) {
		const char *sp = memchr(buf, ' ', len);

		mname = rp_str_make(buf, sp ? (size_t)(sp - buf) : 0);
	}
	if (shard >= l->cfg.shards || method == SIP_METHOD_ACK || !mname.n)
		return -EINVAL;
	if (cli_key(mname, branch, &k) < 0)
		return -EINVAL;
	sh = &l->sh[shard];
	c = calloc(1, sizeof(*c) + ua + k.n + branch.n + len);
	if (!c)
		return -ENOMEM;
	c->l = l;
	c->shard = shard;
	c->method = method;
	c->invite = method == SIP_METHOD_INVITE;
	c->dest = *to;
	c->dest.reply = false;
	c->reliable = to->tp != RP_TP_UDP;
	c->st = c->invite ? RP_TXN_CALLING : RP_TXN_TRYING;
	c->user = c->data;
	memcpy(c->data + ua, kb, k.n);
	c->key = rp_str_make(c->data + ua, k.n);
	memcpy(c->data + ua + k.n, branch.p, branch.n);
	c->branch = rp_str_make(c->data + ua + k.n, branch.n);
	c->req = c->data + ua + k.n + branch.n;
	memcpy(c->req, buf, len);
	c->req_len = len;
	rp_timer_init(&c->t_retr, cli_on_retr, c);
	rp_timer_init(&c->t_end, cli_on_end, c);
	rc = rp_hash_insert(sh->cli, c->key, c);
	if (rc < 0) {
		explicit_bzero(c->req, c->req_len);
		free(c);
		return rc;
	}
	c->parent = parent;
	if (parent)
		parent->nchild++;
	c->retr_ms = t1(l);
	rc = l->ops->send(l->arg, &c->dest, c->req, c->req_len);
	if (rc < 0) {
		char a[64];

		rp_addr_fmt(&c->dest.addr, a, sizeof(a));
		rp_info_rl("txn: %.*s to %s/%s not sent: %s", RP_STR_FMT(mname),
			rp_tp_name(c->dest.tp), a, strerror(-rc));
		c->send_failed = true;
		rc = rp_timers_add(sh->tm, &c->t_end, now);
	} else {
		if (!c->reliable)
			rc = rp_timers_add(sh->tm, &c->t_retr, now + c->retr_ms);
		if (rc == 0)
			rc = rp_timers_add(sh->tm, &c->t_end, now + 64ull * t1(l));
	}
	if (rc < 0) {
		cli_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

rp_txn_cli *rp_txn_cli_find(rp_txl *l, unsigned shard, const struct sip_msg *resp)
{
	char kb[KEY_MAX];
	struct kbuf k = { kb, 0, sizeof(kb), false };

	if (shard >= l->cfg.shards || cli_key(resp->cseq.method_str, resp->via.branch, &k) < 0)
		return NULL;
	return rp_hash_find(l->sh[shard].cli, rp_str_make(kb, k.n));
}

/* §17.1.1.3: the ACK goes where the INVITE went, built from it. */
static void cli_send_ack(rp_txn_cli *c, const struct sip_msg *resp)
{
	char store[8192];
	rp_arena a;
	struct sip_msg *req = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	rp_buf b;

	if (!c->ack) {
		rp_arena_init(&a, store, sizeof(store), 1u << 20);
		if (sip_msg_parse(c->req, c->req_len, &a, &o, &req, NULL) == SIP_OK) {
			rp_buf_init(&b, 65536);
			rp_sipout_ack(&b, req, resp);
			if (rp_buf_error(&b) == 0)
				c->ack = rp_buf_steal(&b, &c->ack_len);
			rp_buf_free(&b);
		}
		rp_arena_fini(&a);
	}
	if (c->ack)
		cli_send(c, c->ack, c->ack_len);
}

void rp_txn_cli_response(rp_txl *l, rp_txn_cli *c, const struct sip_msg *resp,
	uint64_t now)
{
	struct shard *sh = &l->sh[c->shard];
	unsigned code = resp->status;

	if (c->st == RP_TXN_COMPLETED) {
		/* A retransmitted final: ACK again (INVITE), absorb. */
		if (c->invite && code >= 300)
			cli_send_ack(c, resp);
		return;
	}
	if (c->st == RP_TXN_TERMINATED)
		return;
	if (code < 200) {
		if (c->invite) {
			rp_timers_cancel(sh->tm, &c->t_retr);
			/* Timer C (re)starts with every provisional (§16.7 item 2). */
			if (code > 100 || c->st == RP_TXN_CALLING) {
				c->timer_c_fired = false;
				arm(sh->tm, &c->t_end, now + l->cfg.timer_c_ms);
			}
		}
		c->st = RP_TXN_PROCEEDING;
		cli_event(c, resp, code, now);
		return;
	}
	rp_timers_cancel(sh->tm, &c->t_retr);
	if (c->invite && code < 300) {
		c->st = RP_TXN_TERMINATED;
		cli_event(c, resp, code, now);
		cli_free(c);
		return;
	}
	if (c->invite)
		cli_send_ack(c, resp);
	c->st = RP_TXN_COMPLETED;
	arm(sh->tm, &c->t_end, now + (c->reliable ? 0 :
		c->invite ? (64ull * t1(l) > 32000 ? 64ull * t1(l) : 32000) : t4(l)));
	cli_event(c, resp, code, now);
}

enum rp_txn_state rp_txn_cli_state(const rp_txn_cli *c) { return c->st; }
enum sip_method rp_txn_cli_method(const rp_txn_cli *c) { return c->method; }
rp_txn_srv *rp_txn_cli_parent(const rp_txn_cli *c) { return c->parent; }
rp_str rp_txn_cli_branch(const rp_txn_cli *c) { return c->branch; }
const struct rp_txn_dest *rp_txn_cli_dest(const rp_txn_cli *c) { return &c->dest; }
void *rp_txn_cli_user(rp_txn_cli *c) { return c->user; }

const char *rp_txn_cli_request(const rp_txn_cli *c, size_t *len)
{
	*len = c->req_len;
	return c->req;
}
