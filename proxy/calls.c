/* calls: the call registry and its CDRs (see calls.h). */
#include "calls.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benc.h"
#include "media.h"
#include "rp_hash.h"
#include "rp_log.h"
#include "rp_metrics.h"
#include "rp_rand.h"
#include "rp_time.h"
#include "sdes.h"

#define SHARDS 64
#define BUCKETS_PER_SHARD 64

/* Longest TLS version, cipher and peer certificate subject kept. */
enum { TLS_VERSION_MAX = 15, TLS_CIPHER_MAX = 63, TLS_SUBJECT_MAX = 159 };

struct leg {
	bool known;
	enum rp_tp tp;
	rp_addr peer;
	/* A TLS hop's version, cipher and peer certificate subject, each
	 * NUL-terminated, one after the other in one allocation (owned; c->mu
	 * once the call is shared); NULL when all are empty (not TLS: most
	 * legs, which need not carry 240 bytes of them). */
	char *tls;
	char trunk[48];             /* the trunk of this hop, "" none */
};

enum leg_tls_field { TLS_VERSION, TLS_CIPHER, TLS_SUBJECT };

static const char *leg_tls(const struct leg *l, enum leg_tls_field f)
{
	const char *p = l->tls;

	if (!p)
		return "";
	for (int i = 0; i < (int)f; i++)
		p += strlen(p) + 1;
	return p;
}

/* The length of s up to its first NUL, at most max. */
static size_t field_len(rp_str s, size_t max)
{
	return s.n ? strnlen(s.p, s.n < max ? s.n : max) : 0;
}

/* Replaces a leg's TLS strings; 0 or -ENOMEM (the old ones then stay). */
static int leg_set_tls(struct leg *l, rp_str version, rp_str cipher, rp_str subject)
{
	size_t n[3] = { field_len(version, TLS_VERSION_MAX), field_len(cipher, TLS_CIPHER_MAX),
		field_len(subject, TLS_SUBJECT_MAX) };
	const char *src[3] = { version.p, cipher.p, subject.p };
	char *p, *o;

	if (!n[0] && !n[1] && !n[2]) {
		free(l->tls);
		l->tls = NULL;
		return 0;
	}
	p = o = malloc(n[0] + n[1] + n[2] + 3);
	if (!p)
		return -ENOMEM;
	for (int i = 0; i < 3; i++) {
		if (n[i])
			memcpy(o, src[i], n[i]);
		o[n[i]] = 0;
		o += n[i] + 1;
	}
	free(l->tls);
	l->tls = p;
	return 0;
}

struct rp_call {
	atomic_uint refs;
	atomic_bool ended;
	rp_call *next;              /* bucket chain (shard lock) */
	uint64_t hash;
	bool linked;                /* in the table (shard lock) */
	uint64_t id;
	/* Set at start, never changed: slices of a_mem. */
	char *a_mem;
	rp_str call_id, from_tag, from_hdr, to_hdr, from_uri, to_uri, contact_a, route_a;
	uint64_t start_ms, start_ns;
	pthread_mutex_t mu;         /* everything below */
	char *b_mem;
	rp_str to_b, contact_b, route_b;
	uint32_t cseq_a, cseq_b;
	struct leg leg[2];
	struct rp_txn_dest dest[2];
	bool have_dest_b;
	rp_addr local;
	char trunk[48];
	uint64_t answer_ns, end_ns;
	unsigned final_code;
	rp_media_call *mc;
	char reason[48];
	void *owner;
};

struct shard {
	pthread_mutex_t mu;
	rp_call *b[BUCKETS_PER_SHARD];
	size_t n;
};

struct rp_calls {
	struct rp_calls_cfg cfg;
	uint8_t key[16];
	atomic_uint_fast64_t next_id;
	struct shard sh[SHARDS];
};

static const char *const refusal_names[RP_REFUSAL_COUNT] = {
	[RP_REFUSAL_SRTP_REQUIRED] = "srtp-required",
	[RP_REFUSAL_SRTP_DISABLED] = "srtp-disabled",
	[RP_REFUSAL_NO_CRYPTO] = "no-acceptable-crypto",
	[RP_REFUSAL_SDES_INSECURE] = "sdes-over-insecure",
	[RP_REFUSAL_TLS_REQUIRED] = "tls-required",
	[RP_REFUSAL_ANSWER] = "answer-refused",
	[RP_REFUSAL_NO_SUITE] = "no-suite",
	[RP_REFUSAL_BAD_SDP] = "bad-sdp",
	[RP_REFUSAL_OTHER] = "other",
};

const char *rp_call_refusal_name(enum rp_call_refusal r)
{
	return (unsigned)r < RP_REFUSAL_COUNT ? refusal_names[r] : "other";
}

enum rp_call_refusal rp_call_refusal_of(int media_rc, const char *e)
{
	/* The media layer says why in one line (media.c fail()); the phrases
	 * below are pinned by tests/unit/test_proxy_calls.c against it. */
	static const struct {
		const char *phrase;
		enum rp_call_refusal r;
	} map[] = {
		{ "(policy require) has no usable", RP_REFUSAL_SRTP_REQUIRED },
		{ "(policy disable) is SRTP only", RP_REFUSAL_SRTP_DISABLED },
		{ "no crypto line is acceptable", RP_REFUSAL_NO_CRYPTO },
		{ "needs SDES keys over", RP_REFUSAL_SDES_INSECURE },
		{ "SDES keys are never sent in clear", RP_REFUSAL_SDES_INSECURE },
		{ "was asked for TLS + SRTP", RP_REFUSAL_TLS_REQUIRED },
		{ "accepted none of our SRTP", RP_REFUSAL_ANSWER },
		{ "no supported SRTP suite configured", RP_REFUSAL_NO_SUITE },
	};

	if (media_rc == RP_MEDIA_BAD_SDP)
		return RP_REFUSAL_BAD_SDP;
	for (size_t i = 0; e && i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(e, map[i].phrase))
			return map[i].r;
	return RP_REFUSAL_OTHER;
}

int rp_calls_new(const struct rp_calls_cfg *cfg, rp_calls **out)
{
	rp_calls *t;
	int rc;

	if (!out)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (cfg)
		t->cfg = *cfg;
	rc = rp_rand_bytes(t->key, sizeof(t->key));
	if (rc < 0) {
		free(t);
		return rc;
	}
	atomic_init(&t->next_id, 1);
	for (unsigned i = 0; i < SHARDS; i++)
		pthread_mutex_init(&t->sh[i].mu, NULL);
	*out = t;
	return 0;
}

static void call_free(rp_call *c)
{
	c->mc = rp_media_call_free(c->mc);
	for (int i = 0; i < 2; i++)
		free(c->leg[i].tls);
	pthread_mutex_destroy(&c->mu);
	free(c->a_mem);
	free(c->b_mem);
	free(c);
}

rp_call *rp_call_ref(rp_call *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

rp_call *rp_call_put(rp_call *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		call_free(c);
	return NULL;
}

void rp_calls_free(rp_calls *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < SHARDS; i++) {
		struct shard *s = &t->sh[i];

		for (unsigned k = 0; k < BUCKETS_PER_SHARD; k++) {
			rp_call *c = s->b[k], *nx;

			for (; c; c = nx) {
				nx = c->next;
				c->linked = false;
				rp_call_put(c);
			}
		}
		pthread_mutex_destroy(&s->mu);
	}
	free(t);
}

static uint64_t key_hash(const rp_calls *t, rp_str cid, rp_str tag)
{
	uint64_t h = rp_siphash13(t->key, cid.p, cid.n);

	return h ^ (rp_siphash13(t->key, tag.p, tag.n) * 0x9e3779b97f4a7c15ull);
}

static struct shard *shard_of(rp_calls *t, uint64_t h)
{
	return &t->sh[(h >> 32) % SHARDS];
}

static rp_call **bucket_of(struct shard *s, uint64_t h)
{
	return &s->b[h % BUCKETS_PER_SHARD];
}

/* Under the shard lock. */
static rp_call *lookup(struct shard *s, uint64_t h, rp_str cid, rp_str tag)
{
	for (rp_call *c = *bucket_of(s, h); c; c = c->next)
		if (c->hash == h && rp_str_eq(c->call_id, cid) && rp_str_eq(c->from_tag, tag))
			return c;
	return NULL;
}

static void unlink_locked(struct shard *s, rp_call *c)
{
	rp_call **pp = bucket_of(s, c->hash);

	for (; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			c->linked = false;
			s->n--;
			return;
		}
}

/* Copies n slices into one allocation, each NUL-terminated; out[i] point
 * into it. */
static char *pack(const rp_str *in, rp_str *out, size_t n)
{
	size_t total = 0, off = 0;
	char *m;

	for (size_t i = 0; i < n; i++)
		total += in[i].n + 1;
	m = malloc(total ? total : 1);
	if (!m)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (in[i].n)
			memcpy(m + off, in[i].p, in[i].n);
		m[off + in[i].n] = 0;
		out[i] = rp_str_make(m + off, in[i].n);
		off += in[i].n + 1;
	}
	return m;
}

static void copy_field(char *dst, size_t n, rp_str s)
{
	size_t k = s.n < n - 1 ? s.n : n - 1;

	if (k)
		memcpy(dst, s.p, k);
	dst[k] = 0;
}

static int set_sig(struct leg *l, const struct rp_call_sig *s)
{
	l->known = true;
	l->tp = s->tp;
	l->peer = s->peer;
	return leg_set_tls(l, s->tls_version, s->tls_cipher, s->cert_subject);
}

int rp_calls_start(rp_calls *t, const struct rp_call_start *s, rp_call **out)
{
	const rp_str in[8] = { s->call_id, s->from_tag, s->from_hdr, s->to_hdr, s->from_uri,
		s->to_uri, s->contact_a, s->route_a };
	rp_str v[8];
	uint64_t h = key_hash(t, s->call_id, s->from_tag);
	struct shard *sh = shard_of(t, h);
	rp_call *c, *old;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->a_mem = pack(in, v, 8);
	if (!c->a_mem) {
		free(c);
		return -ENOMEM;
	}
	c->call_id = v[0];
	c->from_tag = v[1];
	c->from_hdr = v[2];
	c->to_hdr = v[3];
	c->from_uri = v[4];
	c->to_uri = v[5];
	c->contact_a = v[6];
	c->route_a = v[7];
	c->hash = h;
	c->start_ms = s->now_ms;
	c->start_ns = rp_realtime_ns();
	c->cseq_a = s->cseq;
	if (set_sig(&c->leg[RP_CALL_A], &s->a) < 0) {
		free(c->a_mem);
		free(c);
		return -ENOMEM;
	}
	c->dest[RP_CALL_A] = s->dest_a;
	c->dest[RP_CALL_A].tls_domain = NULL;
	c->local = s->local;
	copy_field(c->trunk, sizeof(c->trunk), s->trunk);
	copy_field(c->leg[RP_CALL_A].trunk, sizeof(c->leg[RP_CALL_A].trunk), s->trunk);
	pthread_mutex_init(&c->mu, NULL);
	atomic_init(&c->refs, 2);   /* the table's and the caller's */
	atomic_init(&c->ended, false);

	pthread_mutex_lock(&sh->mu);
	old = lookup(sh, h, s->call_id, s->from_tag);
	if (old) {
		rp_call_ref(old);
		pthread_mutex_unlock(&sh->mu);
		atomic_store(&c->refs, 1);
		rp_call_put(c);
		*out = old;
		return -EEXIST;
	}
	c->id = atomic_fetch_add_explicit(&t->next_id, 1, memory_order_relaxed);
	c->next = *bucket_of(sh, h);
	*bucket_of(sh, h) = c;
	c->linked = true;
	sh->n++;
	pthread_mutex_unlock(&sh->mu);
	if (t->cfg.total)
		rp_mval_inc(t->cfg.total);
	*out = c;
	return 0;
}

rp_call *rp_calls_find(rp_calls *t, rp_str call_id, rp_str caller_tag)
{
	uint64_t h = key_hash(t, call_id, caller_tag);
	struct shard *sh = shard_of(t, h);
	rp_call *c;

	pthread_mutex_lock(&sh->mu);
	c = rp_call_ref(lookup(sh, h, call_id, caller_tag));
	pthread_mutex_unlock(&sh->mu);
	return c;
}

/* The first live call 'match' accepts (control thread: a full walk). */
static rp_call *find_by(rp_calls *t, bool (*match)(rp_call *, uint64_t), uint64_t v)
{
	for (unsigned i = 0; i < SHARDS; i++) {
		struct shard *sh = &t->sh[i];

		pthread_mutex_lock(&sh->mu);
		for (unsigned k = 0; k < BUCKETS_PER_SHARD; k++)
			for (rp_call *c = sh->b[k]; c; c = c->next)
				if (match(c, v)) {
					rp_call_ref(c);
					pthread_mutex_unlock(&sh->mu);
					return c;
				}
		pthread_mutex_unlock(&sh->mu);
	}
	return NULL;
}

static bool match_id(rp_call *c, uint64_t id)
{
	return c->id == id;
}

static uint64_t session_of(rp_call *c)
{
	struct rp_media_info inf;
	rp_media_call *mc;

	pthread_mutex_lock(&c->mu);
	mc = (c->mc ? rp_media_call_ref(c->mc) : NULL);
	pthread_mutex_unlock(&c->mu);
	if (!mc)
		return 0;
	rp_media_call_info(mc, &inf);
	rp_media_call_free(mc);
	return inf.session;
}

static bool match_session(rp_call *c, uint64_t session)
{
	return session && session_of(c) == session;
}

rp_call *rp_calls_find_id(rp_calls *t, uint64_t id)
{
	return find_by(t, match_id, id);
}

rp_call *rp_calls_find_session(rp_calls *t, uint64_t session)
{
	return find_by(t, match_session, session);
}

size_t rp_calls_count(rp_calls *t)
{
	size_t n = 0;

	for (unsigned i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&t->sh[i].mu);
		n += t->sh[i].n;
		pthread_mutex_unlock(&t->sh[i].mu);
	}
	return n;
}

uint64_t rp_call_id(const rp_call *c)
{
	return c->id;
}

bool rp_call_ended(rp_call *c)
{
	return atomic_load(&c->ended);
}

void rp_call_set_owner(rp_call *c, void *owner)
{
	pthread_mutex_lock(&c->mu);
	c->owner = owner;
	pthread_mutex_unlock(&c->mu);
}

void *rp_call_owner(rp_call *c)
{
	void *o;

	pthread_mutex_lock(&c->mu);
	o = c->owner;
	pthread_mutex_unlock(&c->mu);
	return o;
}

bool rp_call_answered_p(rp_call *c)
{
	bool a;

	pthread_mutex_lock(&c->mu);
	a = c->answer_ns != 0;
	pthread_mutex_unlock(&c->mu);
	return a;
}

void rp_call_set_b(rp_call *c, const struct rp_call_sig *b, const struct rp_txn_dest *dest_b,
	rp_str trunk)
{
	pthread_mutex_lock(&c->mu);
	if (set_sig(&c->leg[RP_CALL_B], b) < 0)
		rp_warn_rl("call %" PRIu64 ": the callee's TLS details not kept (out of memory)",
			c->id);
	c->dest[RP_CALL_B] = *dest_b;
	c->dest[RP_CALL_B].tls_domain = NULL;
	c->have_dest_b = true;
	if (trunk.n) {
		copy_field(c->trunk, sizeof(c->trunk), trunk);
		copy_field(c->leg[RP_CALL_B].trunk, sizeof(c->leg[RP_CALL_B].trunk), trunk);
	}
	pthread_mutex_unlock(&c->mu);
}

void rp_call_set_tls(rp_call *c, enum rp_call_side side, rp_str version, rp_str cipher,
	rp_str cert_subject)
{
	struct leg *l = &c->leg[side];

	char old[TLS_SUBJECT_MAX + 1];

	pthread_mutex_lock(&c->mu);
	if (!cert_subject.n) {
		/* No new subject: the one known stays. */
		snprintf(old, sizeof(old), "%s", leg_tls(l, TLS_SUBJECT));
		cert_subject = rp_str_cstr(old);
	}
	if (leg_set_tls(l, version, cipher, cert_subject) < 0)
		rp_warn_rl("call %" PRIu64 ": TLS details not kept (out of memory)", c->id);
	pthread_mutex_unlock(&c->mu);
}

void rp_call_set_media(rp_call *c, rp_media_call *mc)
{
	rp_media_call *old;

	mc = mc ? rp_media_call_ref(mc) : NULL;
	pthread_mutex_lock(&c->mu);
	old = c->mc;
	c->mc = mc;
	pthread_mutex_unlock(&c->mu);
	rp_media_call_free(old);
}

void rp_call_answered(rp_call *c, unsigned code, rp_str to_hdr, rp_str contact_b,
	rp_str route_b)
{
	const rp_str in[3] = { to_hdr, contact_b, route_b };
	rp_str v[3];
	char *m = pack(in, v, 3);

	pthread_mutex_lock(&c->mu);
	if (!c->answer_ns) {
		c->answer_ns = rp_realtime_ns();
		c->final_code = code;
	}
	if (m && !c->b_mem) {
		/* The first 2xx's dialog: a forked second 2xx is not ours to keep. */
		c->b_mem = m;
		m = NULL;
		c->to_b = v[0];
		c->contact_b = v[1];
		c->route_b = v[2];
	}
	pthread_mutex_unlock(&c->mu);
	free(m);
}

void rp_call_saw_cseq(rp_call *c, enum rp_call_side side, uint32_t cseq)
{
	pthread_mutex_lock(&c->mu);
	if (side == RP_CALL_A) {
		if (cseq > c->cseq_a)
			c->cseq_a = cseq;
	} else if (cseq > c->cseq_b) {
		c->cseq_b = cseq;
	}
	pthread_mutex_unlock(&c->mu);
}

static const char *put_s(char *buf, size_t sz, size_t *off, rp_str s)
{
	char *d = buf + *off;

	if (*off + s.n + 1 > sz)
		return NULL;
	if (s.n)
		memcpy(d, s.p, s.n);
	d[s.n] = 0;
	*off += s.n + 1;
	return d;
}

int rp_call_bye_info(rp_call *c, enum rp_call_side to, char *buf, size_t bufsz,
	struct rp_call_bye *o)
{
	size_t off = 0;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (!c->b_mem || (to == RP_CALL_B && !c->have_dest_b)) {
		rc = -ENOENT;
		goto out;
	}
	o->call_id = put_s(buf, bufsz, &off, c->call_id);
	o->caller_tag = put_s(buf, bufsz, &off, c->from_tag);
	if (to == RP_CALL_A) {
		/* As the callee would: From is B's To, To is A's From; above
		 * any CSeq the callee used (RFC 3261 §12.2.1.1). */
		o->from = put_s(buf, bufsz, &off, c->to_b);
		o->to = put_s(buf, bufsz, &off, c->from_hdr);
		o->ruri = put_s(buf, bufsz, &off, c->contact_a);
		o->route = put_s(buf, bufsz, &off, c->route_a);
		o->cseq = c->cseq_b + 1;
	} else {
		o->from = put_s(buf, bufsz, &off, c->from_hdr);
		o->to = put_s(buf, bufsz, &off, c->to_b);
		o->ruri = put_s(buf, bufsz, &off, c->contact_b);
		o->route = put_s(buf, bufsz, &off, c->route_b);
		o->cseq = c->cseq_a + 1;
	}
	o->dest = c->dest[to];
	o->local = c->local;
	if (!o->call_id || !o->caller_tag || !o->from || !o->to || !o->ruri || !o->route)
		rc = -ENOSPC;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int rp_call_ids(rp_call *c, char *buf, size_t bufsz, struct rp_call_bye *o)
{
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	/* call_id and from_tag never change after start: no lock needed. */
	o->call_id = put_s(buf, bufsz, &off, c->call_id);
	o->caller_tag = put_s(buf, bufsz, &off, c->from_tag);
	return o->call_id && o->caller_tag ? 0 : -ENOSPC;
}

size_t rp_call_ids_size(const rp_call *c)
{
	return c->call_id.n + c->from_tag.n + 2;
}

size_t rp_call_bye_info_size(rp_call *c, enum rp_call_side to)
{
	size_t n = 0;

	pthread_mutex_lock(&c->mu);
	/* b_mem is set once (the first 2xx) and never changes after. */
	if (c->b_mem) {
		n = rp_call_ids_size(c) + c->to_b.n + c->from_hdr.n + 2;
		n += to == RP_CALL_A ? c->contact_a.n + c->route_a.n + 2
			: c->contact_b.n + c->route_b.n + 2;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

static const char *media_name(const struct rp_media_info *inf, int side)
{
	if (!inf)
		return NULL;
	if (!inf->leg[side].srtp)
		return "plain";
	return sdes_suite_name(inf->leg[side].suite);
}

/* A fixed-size NUL-terminated field as a slice (bounded by its array). */
#define FIELD_STR(f) rp_str_make((f), strnlen((f), sizeof(f)))

static void write_cdr(rp_calls *t, rp_call *c, const struct rp_media_info *inf,
	const struct rp_call_media_stats *st)
{
	rp_cdr_call k = { 0 };
	char peer[2][64];
	/* The legs' TLS strings, copied under c->mu (rp_call_set_b may
	 * replace them meanwhile). */
	char tls[2][TLS_VERSION_MAX + TLS_CIPHER_MAX + TLS_SUBJECT_MAX + 3];
	int rc;

	k.call_id = c->call_id;
	k.start_ns = c->start_ns;
	k.answer_ns = c->answer_ns;
	k.end_ns = c->end_ns;
	k.trunk = FIELD_STR(c->trunk);
	k.from = c->from_uri;
	k.to = c->to_uri;
	k.final_code = (int)c->final_code;
	k.end_reason = rp_str_cstr(c->reason);
	for (int i = 0; i < 2; i++) {
		const struct leg *l = &c->leg[i];
		rp_cdr_leg *o = &k.legs[k.nlegs];
		const char *mn = media_name(inf, i);

		if (!l->known)
			continue;
		k.nlegs++;
		rp_addr_fmt(&l->peer, peer[i], sizeof(peer[i]));
		o->role = rp_str_cstr(i == RP_CALL_A ? "caller" : "callee");
		o->peer = rp_str_cstr(peer[i]);
		o->transport = rp_str_cstr(rp_tp_name(l->tp));
		pthread_mutex_lock(&c->mu);
		const char *v = leg_tls(l, TLS_VERSION), *ci = leg_tls(l, TLS_CIPHER);
		const char *su = leg_tls(l, TLS_SUBJECT);
		size_t nv = strlen(v), nc = strlen(ci), ns = strlen(su);

		memcpy(tls[i], v, nv + 1);
		memcpy(tls[i] + nv + 1, ci, nc + 1);
		memcpy(tls[i] + nv + nc + 2, su, ns + 1);
		pthread_mutex_unlock(&c->mu);
		o->tls_version = rp_str_make(tls[i], nv);
		o->tls_cipher = rp_str_make(tls[i] + nv + 1, nc);
		o->peer_cert_subject = rp_str_make(tls[i] + nv + nc + 2, ns);
		o->media = rp_str_cstr(mn ? mn : "plain");
		o->packets_in = st[i].packets_in;
		o->packets_out = st[i].packets_out;
		o->packets_lost = st[i].lost;
		o->malformed = st[i].malformed;
		o->bytes_in = st[i].bytes_in;
		o->bytes_out = st[i].bytes_out;
		k.auth_failures += (uint32_t)st[i].auth_failures;
	}
	rc = rp_cdr_write(t->cfg.cdr, &k);
	if (rc < 0)
		rp_warn_rl("cdr: call %.*s not written: %s", RP_STR_FMT(c->call_id), strerror(-rc));
}

bool rp_calls_end(rp_calls *t, rp_call *c, unsigned code, const char *reason)
{
	struct shard *sh;
	bool expected = false, was_linked;
	struct rp_media_info inf;
	struct rp_call_media_stats st[2];
	rp_media_call *mc;

	if (!c || !atomic_compare_exchange_strong(&c->ended, &expected, true))
		return false;
	sh = shard_of(t, c->hash);
	pthread_mutex_lock(&sh->mu);
	was_linked = c->linked;
	if (was_linked)
		unlink_locked(sh, c);
	pthread_mutex_unlock(&sh->mu);
	pthread_mutex_lock(&c->mu);
	c->end_ns = rp_realtime_ns();
	if (code)
		c->final_code = code;
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "error");
	mc = (c->mc ? rp_media_call_ref(c->mc) : NULL);
	pthread_mutex_unlock(&c->mu);
	if (t->cfg.cdr) {
		memset(st, 0, sizeof(st));
		if (mc) {
			rp_media_call_info(mc, &inf);
			if (t->cfg.stats && inf.session)
				(void)t->cfg.stats(t->cfg.stats_arg, inf.session, &st[0], &st[1]);
		}
		write_cdr(t, c, mc ? &inf : NULL, st);
	}
	rp_media_call_free(mc);
	rp_debug("call %" PRIu64 " (%.*s) ended: %s", c->id, RP_STR_FMT(c->call_id), c->reason);
	if (was_linked)
		rp_call_put(c);    /* the table's reference */
	return true;
}

bool rp_calls_refuse(rp_calls *t, rp_call *c, enum rp_call_refusal r)
{
	char why[48];

	if ((unsigned)r >= RP_REFUSAL_COUNT)
		r = RP_REFUSAL_OTHER;
	snprintf(why, sizeof(why), "policy-refused-%s", refusal_names[r]);
	if (!rp_calls_end(t, c, 488, why))
		return false;
	if (t->cfg.refused[r])
		rp_mval_inc(t->cfg.refused[r]);
	return true;
}

static void put_time(rp_buf *b, const char *key, uint64_t ns)
{
	char ts[40];

	if (ns && rp_time_fmt_utc(ns, ts, sizeof(ts)) >= 0)
		benc_put_kv_cstr(b, key, ts);
}

int rp_call_put_info(rp_call *c, rp_buf *b)
{
	struct rp_media_info inf;
	rp_media_call *mc;
	uint64_t now = rp_now_ms();

	pthread_mutex_lock(&c->mu);
	mc = (c->mc ? rp_media_call_ref(c->mc) : NULL);
	pthread_mutex_unlock(&c->mu);
	if (mc)
		rp_media_call_info(mc, &inf);
	rp_media_call_free(mc);
	pthread_mutex_lock(&c->mu);
	benc_put_dict(b);
	benc_put_kv_int(b, "id", (int64_t)c->id);
	benc_put_kv_str(b, "call-id", c->call_id);
	benc_put_kv_cstr(b, "state", atomic_load(&c->ended) ? "ended" :
		c->answer_ns ? "answered" : "setup");
	benc_put_kv_int(b, "age-ms", (int64_t)(now > c->start_ms ? now - c->start_ms : 0));
	benc_put_kv_str(b, "from", c->from_uri);
	benc_put_kv_str(b, "to", c->to_uri);
	if (c->trunk[0])
		benc_put_kv_cstr(b, "trunk", c->trunk);
	put_time(b, "start", c->start_ns);
	put_time(b, "answer", c->answer_ns);
	benc_put_kv_int(b, "session", mc ? (int64_t)inf.session : 0);
	for (int i = 0; i < 2; i++) {
		const struct leg *l = &c->leg[i];
		const char *mn = media_name(mc ? &inf : NULL, i);
		char peer[64];

		benc_put_kv_dict(b, i == RP_CALL_A ? "a" : "b");
		benc_put_kv_cstr(b, "role", i == RP_CALL_A ? "caller" : "callee");
		if (l->known) {
			rp_addr_fmt(&l->peer, peer, sizeof(peer));
			benc_put_kv_cstr(b, "transport", rp_tp_name(l->tp));
			benc_put_kv_cstr(b, "peer", peer);
			if (*leg_tls(l, TLS_VERSION))
				benc_put_kv_cstr(b, "tls-version", leg_tls(l, TLS_VERSION));
			if (*leg_tls(l, TLS_CIPHER))
				benc_put_kv_cstr(b, "tls-cipher", leg_tls(l, TLS_CIPHER));
			if (*leg_tls(l, TLS_SUBJECT))
				benc_put_kv_cstr(b, "cert-subject", leg_tls(l, TLS_SUBJECT));
			if (l->trunk[0])
				benc_put_kv_cstr(b, "trunk", l->trunk);
		}
		/* "none": no SDP went through this call (nothing relayed). */
		benc_put_kv_cstr(b, "media", mn ? mn : "none");
		benc_put_end(b);
	}
	benc_put_end(b);
	pthread_mutex_unlock(&c->mu);
	return rp_buf_error(b);
}

int rp_calls_put_list(rp_calls *t, rp_buf *b, size_t max)
{
	size_t n = 0;
	int rc;

	benc_put_kv_list(b, "calls");
	for (unsigned i = 0; i < SHARDS; i++) {
		struct shard *sh = &t->sh[i];
		rp_call **batch;
		size_t nb = 0, want;

		/* References taken under the shard lock, dicts written without
		 * it (the media call has its own lock). */
		pthread_mutex_lock(&sh->mu);
		want = sh->n;
		batch = want ? malloc(want * sizeof(*batch)) : NULL;
		for (unsigned k = 0; batch && k < BUCKETS_PER_SHARD; k++)
			for (rp_call *c = sh->b[k]; c && nb < want; c = c->next)
				batch[nb++] = rp_call_ref(c);
		pthread_mutex_unlock(&sh->mu);
		if (want && !batch)
			return -ENOMEM;
		for (size_t k = 0; k < nb; k++) {
			if (!max || n < max) {
				rp_call_put_info(batch[k], b);
				n++;
			}
			rp_call_put(batch[k]);
		}
		free(batch);
	}
	benc_put_end(b);
	rc = rp_buf_error(b);
	return rc < 0 ? rc : (int)n;
}
