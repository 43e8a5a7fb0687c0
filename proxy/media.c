/* media: per-call SDP offer/answer, a=crypto rewriting and the
 * secure-media policy (media.h, docs/media-policy.md). */
#include "media.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_hash.h"
#include "rp_log.h"
#include "rp_rand.h"
#include "sdpx.h"

const char *rp_media_transport_name(enum rp_media_transport t)
{
	switch (t) {
	case RP_MEDIA_TP_UDP: return "UDP";
	case RP_MEDIA_TP_TCP: return "TCP";
	case RP_MEDIA_TP_TLS: return "TLS";
	}
	return "?";
}

static const enum sdes_suite default_suites[] = {
	SDES_AES_CM_128_HMAC_SHA1_80, SDES_AES_CM_128_HMAC_SHA1_32,
};

void rp_media_leg_cfg_init(struct rp_media_leg_cfg *c, enum rp_media_transport tp)
{
	memset(c, 0, sizeof(*c));
	c->policy = CFG_MEDIA_ALLOW;
	c->allow_mode = RP_MEDIA_ALLOW_OPTIMISTIC;
	c->transport = tp;
	c->allow_mki = true;
}

/* Suites we offer toward a side: its list, else the two every SDES peer
 * knows. */
static const enum sdes_suite *offer_suites(const struct rp_media_leg_cfg *l, unsigned *n)
{
	if (l->nsuites > 0) {
		*n = l->nsuites;
		return l->suites;
	}
	*n = sizeof(default_suites) / sizeof(default_suites[0]);
	return default_suites;
}

void rp_media_leg_cfg_trunk(struct rp_media_leg_cfg *c, const struct cfg_trunk *t)
{
	if (!t)
		return;
	if (t->media != CFG_MEDIA_UNSET)
		c->policy = t->media;
	if (t->nsuites > 0) {
		c->nsuites = 0;
		/* cfg_srtp_suite and sdes_suite share their first values. */
		for (unsigned i = 0; i < t->nsuites && i < CFG_SRTP_COUNT; i++)
			c->suites[c->nsuites++] = (enum sdes_suite)t->suites[i];
	}
	c->allow_sdes_over_insecure = t->allow_sdes_over_insecure;
	snprintf(c->trunk, sizeof(c->trunk), "%s", t->name ? t->name : "");
}

void rp_media_leg_cfg_override(struct rp_media_leg_cfg *c, enum cfg_media_enc p)
{
	if (p != CFG_MEDIA_UNSET)
		c->policy = p;
}

bool rp_media_leg_cfg_uri(struct rp_media_leg_cfg *c, rp_str u)
{
	bool secure = rp_str_has_prefix_case(u, "sips:");

	/* ;secure=true among the URI parameters (before any '?headers'). */
	for (size_t i = 0; !secure && i < u.n; i++) {
		if (u.p[i] == '?')
			break;
		if (u.p[i] != ';')
			continue;
		rp_str rest = rp_str_make(u.p + i + 1, u.n - i - 1);
		if (rp_str_has_prefix_case(rest, "secure=true") &&
		    (rest.n == 11 || rest.p[11] == ';' || rest.p[11] == '?' || rest.p[11] == '>'))
			secure = true;
	}
	if (secure) {
		c->policy = CFG_MEDIA_REQUIRE;
		c->require_tls = true;
	}
	return secure;
}

static int be_create(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
	struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	return rp_mediactl_create(arg, label, ip6_a, ip6_b, id, a, b);
}
static int be_update(void *arg, uint64_t id, const struct rp_mediactl_leg *l)
{
	return rp_mediactl_leg_update(arg, id, l);
}
static int be_del(void *arg, uint64_t id)
{
	return rp_mediactl_delete(arg, id);
}
static int be_update2(void *arg, uint64_t id, const struct rp_mediactl_leg *a,
	const struct rp_mediactl_leg *b)
{
	return rp_mediactl_session_update(arg, id, a, b);
}

void rp_media_backend_mediactl(rp_mediactl *c, struct rp_media_backend *out)
{
	out->create = be_create;
	out->update = be_update;
	out->del = be_del;
	out->arg = c;
	out->update2 = be_update2;
}

/* ---- call state ---- */

/* A key as a call keeps it: all that a usable a=crypto line can carry
 * (sdpx_check_crypto refuses several keys, FEC keys and the session
 * parameters we cannot honour; our own lines have none), in a sixteenth of
 * a struct sdes_crypto, which has room for 8 keys, 8 FEC keys and unknown
 * parameters. A call holds a dozen keys per stream: kept whole they made a
 * call ~256 KB (an mmap, its page faults and a munmap per call). */
struct mkey {
	uint32_t tag;
	enum sdes_suite suite;
	struct sdes_key k;
};

static void mkey_set(struct mkey *m, const struct sdes_crypto *c)
{
	m->tag = c->tag;
	m->suite = c->suite;
	m->k = c->keys[0];
}

/* The attribute again (for sdes_format and mediactl); the caller wipes *c. */
static void mkey_expand(const struct mkey *m, struct sdes_crypto *c)
{
	memset(c, 0, sizeof(*c));
	c->tag = m->tag;
	c->suite = m->suite;
	c->n_keys = 1;
	c->keys[0] = m->k;
}

static void mkey_wipe(struct mkey *m)
{
	explicit_bzero(m, sizeof(*m));
}

/* One side of one relayed stream. */
struct side_state {
	struct rp_mediactl_local local;  /* mediad's port for this side */
	/* The peer's (this side's endpoint's) SDP: address and key. */
	char addr[64];
	uint16_t port;
	bool have_addr;
	bool peer_srtp;
	struct mkey peer;                /* key it sends with (our 'in') */
	/* Ours toward it: the lines we offered, or the one we answered. */
	unsigned nours;
	struct mkey ours[SDPX_MAX_CRYPTO];
	int chosen;                      /* index into ours of the key in use, -1 */
	bool srtp;                       /* leg carries SRTP (committed) */
	bool mux;                        /* RTCP muxed on the RTP port (RFC 5761, committed) */
	/* What mediad has now, so an unchanged key is not re-sent (ROC). */
	bool prog_in, prog_out;
	struct mkey prog_in_key, prog_out_key;
	bool prog_addr;
	bool prog_mux;                   /* mediad's leg muxes (a session starts unmuxed) */
	char prog_addr_s[64];
	uint16_t prog_port;
};

struct stream_state {
	bool relayed;
	uint64_t sid;
	struct side_state side[2];
	/* Pending offer's view, committed by the answer. */
	bool offer_active;               /* relayed in the pending offer */
	bool offerer_srtp;               /* offerer's leg will be SRTP */
	enum sdpx_proto offer_proto;
	bool toward_srtp;                /* we offered crypto to the answerer */
	bool toward_required;            /* ... as RTP/SAVP(F): answer must take it */
	bool offerer_mux;                /* the offerer offered a=rtcp-mux: we accept it */
	bool toward_mux;                 /* we offered a=rtcp-mux to the answerer */
};

struct cache {
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	char tag[128];
	size_t tag_len;
	int side;
};

struct rp_media_call {
	pthread_mutex_t mu;
	unsigned refs;                  /* atomic */
	struct rp_media_call *next;     /* rp_media_calls chain */
	char *key;                      /* Call-ID NUL from-tag, for the table */
	size_t key_len;
	uint64_t hash;
	struct rp_media_backend be;
	char label[256];
	char from_tag[128];
	struct rp_media_leg_cfg cfg[2];
	unsigned nstreams;
	/* st[0..st_cap): one per m= section seen so far (most calls: 1). */
	struct stream_state *st;
	unsigned st_cap;
	bool offer_pending;
	enum rp_media_side offerer;
	bool answered;
	bool ended;
	struct cache last_offer, last_answer;
	char err[256];
};

static void cache_clear(struct cache *k)
{
	if (k->in)
		explicit_bzero(k->in, k->in_len);
	if (k->out)
		explicit_bzero(k->out, k->out_len);
	free(k->in);
	free(k->out);
	memset(k, 0, sizeof(*k));
}

static int cache_set(struct cache *k, int side, rp_str tag, rp_str in, rp_str out)
{
	cache_clear(k);
	k->in = malloc(in.n ? in.n : 1);
	k->out = malloc(out.n ? out.n : 1);
	if (!k->in || !k->out || tag.n > sizeof(k->tag)) {
		cache_clear(k);
		return -ENOMEM;
	}
	memcpy(k->in, in.p, in.n);
	memcpy(k->out, out.p, out.n);
	k->in_len = in.n;
	k->out_len = out.n;
	if (tag.n)
		memcpy(k->tag, tag.p, tag.n);
	k->tag_len = tag.n;
	k->side = side;
	return 0;
}

static bool cache_hit(const struct cache *k, int side, rp_str tag, rp_str in)
{
	return k->in && k->side == side && k->in_len == in.n &&
	       memcmp(k->in, in.p, in.n) == 0 && k->tag_len == tag.n &&
	       (tag.n == 0 || memcmp(k->tag, tag.p, tag.n) == 0);
}

static int cache_out(const struct cache *k, rp_arena *a, rp_str *out)
{
	char *p = rp_arena_alloc(a, k->out_len ? k->out_len : 1);
	if (!p)
		return RP_MEDIA_NOMEM;
	memcpy(p, k->out, k->out_len);
	*out = rp_str_make(p, k->out_len);
	return RP_MEDIA_OK;
}

static int fail(rp_media_call *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(rp_media_call *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	rp_log_ratelimited(rc == RP_MEDIA_REFUSE ? RP_LOG_NOTICE : RP_LOG_WARN, "media: call %s: %s",
		c->label, c->err);
	return rc;
}

int rp_media_call_new(const struct rp_media_backend *be, rp_str call_id,
	rp_str from_tag, const struct rp_media_leg_cfg *a,
	const struct rp_media_leg_cfg *b, rp_media_call **out)
{
	rp_media_call *c;

	if (!be || !be->create || !be->update || !be->del || !a || !b || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->refs = 1;
	c->be = *be;
	snprintf(c->label, sizeof(c->label), "%.*s", (int)(call_id.n > 255 ? 255 : call_id.n),
		call_id.p ? call_id.p : "");
	snprintf(c->from_tag, sizeof(c->from_tag), "%.*s",
		(int)(from_tag.n > 127 ? 127 : from_tag.n), from_tag.p ? from_tag.p : "");
	c->cfg[0] = *a;
	c->cfg[1] = *b;
	*out = c;
	return 0;
}

static int end_locked(rp_media_call *c)
{
	int first = 0;

	for (unsigned i = 0; i < c->nstreams; i++) {
		struct stream_state *s = &c->st[i];
		if (!s->relayed)
			continue;
		int rc = c->be.del(c->be.arg, s->sid);
		if (rc < 0 && first == 0)
			first = rc;
		s->relayed = false;
	}
	c->ended = true;
	return first;
}

int rp_media_end(rp_media_call *c)
{
	int rc;
	pthread_mutex_lock(&c->mu);
	rc = end_locked(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

rp_media_call *rp_media_call_ref(rp_media_call *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

rp_media_call *rp_media_call_free(rp_media_call *c)
{
	if (!c)
		return NULL;
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return NULL;
	end_locked(c);
	free(c->key);
	cache_clear(&c->last_offer);
	cache_clear(&c->last_answer);
	pthread_mutex_destroy(&c->mu);
	if (c->st) {
		explicit_bzero(c->st, c->st_cap * sizeof(*c->st));
		free(c->st);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

void rp_media_call_set_leg(rp_media_call *c, enum rp_media_side side,
	const struct rp_media_leg_cfg *cfg)
{
	pthread_mutex_lock(&c->mu);
	c->cfg[side] = *cfg;
	pthread_mutex_unlock(&c->mu);
}

const char *rp_media_last_error(rp_media_call *c)
{
	return c->err;
}

static const char *policy_name(enum cfg_media_enc p)
{
	switch (p) {
	case CFG_MEDIA_DISABLE: return "disable";
	case CFG_MEDIA_REQUIRE: return "require";
	default: return "allow";
	}
}

static const char *leg_name(const struct rp_media_leg_cfg *l, enum rp_media_side s)
{
	if (l->trunk[0])
		return l->trunk;
	return s == RP_MEDIA_A ? "caller side" : "callee side";
}

/* Keys may go toward this side: its hop is TLS, or the operator said so. */
static bool keys_may_go(const struct rp_media_leg_cfg *l)
{
	return l->transport == RP_MEDIA_TP_TLS || l->allow_sdes_over_insecure;
}

static bool same_key(const struct mkey *x, const struct mkey *y)
{
	return x->suite == y->suite && x->tag == y->tag &&
	       x->k.key_salt_len == y->k.key_salt_len &&
	       memcmp(x->k.key_salt, y->k.key_salt, x->k.key_salt_len) == 0 &&
	       x->k.has_mki == y->k.has_mki && x->k.mki == y->k.mki;
}

static void wipe_ours(struct side_state *s)
{
	for (unsigned i = 0; i < s->nours; i++)
		mkey_wipe(&s->ours[i]);
	s->nours = 0;
	s->chosen = -1;
}

/* sdpx_write with our keys: each stream's outs[i].ncrypto lines from
 * keys[i], expanded to attributes in the message's arena just for the
 * write and wiped right after it. */
static int write_body(struct sdpx_desc *d, struct sdpx_out *outs,
	const struct mkey *const *keys, rp_arena *a, rp_str *body)
{
	struct sdes_crypto *kx = NULL;
	size_t total = 0, at = 0;
	int rc;

	for (unsigned i = 0; i < d->nstreams; i++)
		if (!outs[i].disable && keys[i])
			total += outs[i].ncrypto;
	if (total > 0 && !(kx = rp_arena_alloc(a, total * sizeof(*kx))))
		return SDPX_E_NOMEM;
	for (unsigned i = 0; i < d->nstreams; i++) {
		if (outs[i].disable || !keys[i]) {
			outs[i].ncrypto = 0;
			continue;
		}
		/* kx is NULL when no stream has keys: NULL + 0 is undefined. */
		outs[i].crypto = kx ? kx + at : NULL;
		for (unsigned j = 0; j < outs[i].ncrypto; j++)
			mkey_expand(&keys[i][j], &kx[at++]);
	}
	rc = sdpx_write(d, outs, a, body);
	if (kx)
		explicit_bzero(kx, total * sizeof(*kx));
	return rc;
}

/* The offerer's line to use (sdpx_pick_crypto) as a call's key: true if
 * there is one. */
static bool pick_key(const struct sdpx_stream *ss, const struct rp_media_leg_cfg *l,
	const struct sdpx_crypto_opts *fo, struct mkey *out)
{
	struct sdes_crypto k;
	bool ok = sdpx_pick_crypto(ss, l->nsuites ? l->suites : NULL, l->nsuites, fo, &k) ==
		SDPX_OK;

	if (ok) {
		mkey_set(out, &k);
		sdes_crypto_wipe(&k);
	}
	return ok;
}

/* Room for n streams' state (new ones: nothing relayed, no key chosen).
 * The old array holds keys: wiped before it is freed. */
static int grow_streams(rp_media_call *c, unsigned n)
{
	struct stream_state *st;

	if (n <= c->st_cap)
		return 0;
	st = calloc(n, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (c->st_cap) {
		memcpy(st, c->st, c->st_cap * sizeof(*st));
		explicit_bzero(c->st, c->st_cap * sizeof(*st));
	}
	free(c->st);
	for (unsigned i = c->st_cap; i < n; i++)
		st[i].side[0].chosen = st[i].side[1].chosen = -1;
	c->st = st;
	c->st_cap = n;
	return 0;
}

/* sdes_generate into a call's key. */
static int generate_key(uint32_t tag, enum sdes_suite suite, struct mkey *out)
{
	struct sdes_crypto g;
	int rc = sdes_generate(tag, suite, NULL, &g);

	if (rc == SDES_OK)
		mkey_set(out, &g);
	sdes_crypto_wipe(&g);
	return rc;
}

/* Our lines toward a side for an offer: one per preferred suite, fresh keys
 * unless 'keep' (the offerer kept its key: keep ours, so mediad's context
 * and the peer's ROC survive). */
static int make_offer_keys(rp_media_call *c, struct side_state *s,
	const struct rp_media_leg_cfg *l, bool keep)
{
	unsigned n = 0, ns;
	const enum sdes_suite *suites = offer_suites(l, &ns);

	if (keep && s->nours > 0)
		return 0;
	wipe_ours(s);
	for (unsigned i = 0; i < ns && n < SDPX_MAX_CRYPTO; i++) {
		const struct sdes_suite_info *si = sdes_suite_info(suites[i]);
		if (!si || !si->supported)
			continue;
		int rc = generate_key(n + 1, suites[i], &s->ours[n]);
		if (rc != SDES_OK) {
			wipe_ours(s);
			return fail(c, RP_MEDIA_NOMEM, "cannot generate an SRTP key: %s",
				sdes_strerror(rc));
		}
		n++;
	}
	s->nours = n;
	if (n == 0)
		return fail(c, RP_MEDIA_REFUSE, "%s: no supported SRTP suite configured",
			c->label);
	return 0;
}

static int ensure_session(rp_media_call *c, struct stream_state *s, bool ip6,
	enum rp_media_side from)
{
	enum rp_media_side to = from == RP_MEDIA_A ? RP_MEDIA_B : RP_MEDIA_A;
	bool fam[2];
	int rc;

	if (s->relayed)
		return 0;
	fam[from] = ip6;
	fam[to] = c->cfg[to].family == 6 ? true : c->cfg[to].family == 4 ? false : ip6;
	rc = c->be.create(c->be.arg, c->label, fam[0], fam[1], &s->sid, &s->side[0].local,
		&s->side[1].local);
	if (rc < 0)
		return fail(c, RP_MEDIA_RELAY, "mediad session.create failed (%d)", rc);
	s->relayed = true;
	s->side[0].prog_in = s->side[0].prog_out = false;
	s->side[1].prog_in = s->side[1].prog_out = false;
	s->side[0].prog_addr = s->side[1].prog_addr = false;
	s->side[0].prog_mux = s->side[1].prog_mux = false;
	return 0;
}

/* Deletes a stream's mediad session and forgets its keys and addresses. */
static void drop_stream(rp_media_call *c, struct stream_state *s)
{
	int rc = c->be.del(c->be.arg, s->sid);

	if (rc < 0)
		rp_log_ratelimited(RP_LOG_WARN, "media: call %s: mediad session.delete of a removed "
			"stream failed (%d)", c->label, rc);
	explicit_bzero(s, sizeof(*s));
	s->side[0].chosen = s->side[1].chosen = -1;
}

int rp_media_offer(rp_media_call *c, enum rp_media_side from, rp_str body,
	rp_arena *a, rp_str *out)
{
	enum rp_media_side to = from == RP_MEDIA_A ? RP_MEDIA_B : RP_MEDIA_A;
	const struct rp_media_leg_cfg *lf, *lt;
	struct sdpx_desc d;
	struct sdpx_out outs[SDPX_MAX_STREAMS];
	const struct mkey *okeys[SDPX_MAX_STREAMS] = { 0 };
	struct sdpx_crypto_opts fo;
	size_t off = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	lf = &c->cfg[from];
	lt = &c->cfg[to];
	c->err[0] = '\0';
	if (c->ended) {
		/* A late message after BYE/CANCEL must not create sessions again. */
		rc = fail(c, RP_MEDIA_STATE, "offer after the call ended");
		goto out;
	}
	if (cache_hit(&c->last_offer, from, RP_STR_NULL, body)) {
		rc = cache_out(&c->last_offer, a, out);
		goto out;
	}
	rc = sdpx_read(body.p, body.n, a, &d, &off);
	if (rc == SDPX_E_NOMEM) {
		rc = fail(c, RP_MEDIA_NOMEM, "out of memory reading the offer");
		goto out;
	}
	if (rc < 0) {
		rc = fail(c, RP_MEDIA_BAD_SDP, "offer from the %s is not usable SDP (%s at byte %zu)",
			leg_name(lf, from), rc == SDPX_E_STREAMS ? "too many m= lines" : "parse error",
			off);
		goto out;
	}
	if (c->nstreams > d.nstreams) {
		rc = fail(c, RP_MEDIA_BAD_SDP, "offer removes m= lines (%u -> %u)", c->nstreams,
			d.nstreams);
		goto out;
	}
	/* Decide everything first; touch mediad only once the policy passes. */
	fo.allow_mki = lf->allow_mki;
	memset(outs, 0, sizeof(outs));
	bool f_srtp[SDPX_MAX_STREAMS] = { 0 }, t_srtp[SDPX_MAX_STREAMS] = { 0 };
	struct mkey picked[SDPX_MAX_STREAMS];
	bool active[SDPX_MAX_STREAMS] = { 0 };
	unsigned nactive = 0;
	memset(picked, 0, sizeof(picked));
	for (unsigned i = 0; i < d.nstreams; i++) {
		struct sdpx_stream *ss = &d.s[i];
		bool usable;

		if (ss->port == 0 || ss->proto == SDPX_PROTO_OTHER || !ss->addr.n)
			continue;
		active[i] = true;
		nactive++;
		if (ss->m->has_port_count && ss->m->port_count > 1) {
			/* RFC 4566 layered streams: port/N is N port pairs; we relay
			 * one pair per m= line (it was passed on as 20000/N). */
			rc = fail(c, RP_MEDIA_BAD_SDP, "offer from %s: m=%.*s asks for %u ports; the "
				"relay has one port pair per stream", leg_name(lf, from),
				RP_STR_FMT(ss->media), (unsigned)ss->m->port_count);
			goto wipe;
		}
		if (!ss->addr_ok) {
			rc = fail(c, RP_MEDIA_BAD_SDP, "offer from %s: c= address '%.*s' of m=%.*s "
				"is not a unicast IP address", leg_name(lf, from),
				(int)(ss->addr.n > 64 ? 64 : ss->addr.n), ss->addr.p,
				RP_STR_FMT(ss->media));
			goto wipe;
		}
		/* No list configured: any supported suite that encrypts, in the
		 * offer's order. */
		usable = pick_key(ss, lf, &fo, &picked[i]);
		if (lf->policy == CFG_MEDIA_REQUIRE && !usable) {
			rc = fail(c, RP_MEDIA_REFUSE, "offer from %s (policy require) has no usable "
				"SRTP crypto line on m=%.*s", leg_name(lf, from), RP_STR_FMT(ss->media));
			goto wipe;
		}
		if (lf->policy == CFG_MEDIA_DISABLE && sdpx_proto_secure(ss->proto)) {
			rc = fail(c, RP_MEDIA_REFUSE, "offer from %s (policy disable) is SRTP only "
				"(%s)", leg_name(lf, from), sdpx_proto_name(sdpx_proto_feedback(ss->proto), true));
			goto wipe;
		}
		if (sdpx_proto_secure(ss->proto) && !usable) {
			rc = fail(c, RP_MEDIA_REFUSE, "offer from %s is SRTP only and no crypto line "
				"is acceptable", leg_name(lf, from));
			goto wipe;
		}
		f_srtp[i] = usable && lf->policy != CFG_MEDIA_DISABLE;
		if (f_srtp[i] && !keys_may_go(lf)) {
			/* Our answer key would go back over clear signaling. */
			if (lf->policy == CFG_MEDIA_REQUIRE || sdpx_proto_secure(ss->proto)) {
				rc = fail(c, RP_MEDIA_REFUSE, "refusing call: SRTP toward %s needs SDES keys "
					"over %s signaling (not TLS) and allow_sdes_over_insecure is off",
					leg_name(lf, from), rp_media_transport_name(lf->transport));
				goto wipe;
			}
			f_srtp[i] = false;
		}
		/* Toward the answerer. */
		if (lt->policy == CFG_MEDIA_REQUIRE || lt->require_tls)
			t_srtp[i] = true;
		else if (lt->policy == CFG_MEDIA_DISABLE)
			t_srtp[i] = false;
		else
			t_srtp[i] = lt->allow_mode == RP_MEDIA_ALLOW_OPTIMISTIC;
		if (lt->require_tls && lt->transport != RP_MEDIA_TP_TLS) {
			rc = fail(c, RP_MEDIA_REFUSE, "refusing call: %s was asked for TLS + SRTP "
				"(sips:/secure=true) but the hop is %s", leg_name(lt, to),
				rp_media_transport_name(lt->transport));
			goto wipe;
		}
		if (t_srtp[i] && !keys_may_go(lt)) {
			if (lt->policy == CFG_MEDIA_REQUIRE) {
				rc = fail(c, RP_MEDIA_REFUSE, "refusing call: %s requires SRTP but its "
					"signaling is %s, not TLS; SDES keys are never sent in clear "
					"(set allow_sdes_over_insecure to override)", leg_name(lt, to),
					rp_media_transport_name(lt->transport));
				goto wipe;
			}
			rp_info("media: call %s: plain RTP toward %s: signaling is %s, keys stay off it",
				c->label, leg_name(lt, to), rp_media_transport_name(lt->transport));
			t_srtp[i] = false;
		}
	}
	if (nactive == 0 && d.nstreams > 0) {
		/* Nothing to relay (all disabled): pass through with ports 0. */
	}
	/* Apply: sessions, keys, rewrite. */
	if (grow_streams(c, d.nstreams) < 0) {
		rc = fail(c, RP_MEDIA_NOMEM, "out of memory");
		goto wipe;
	}
	for (unsigned i = 0; i < d.nstreams; i++) {
		struct stream_state *s = &c->st[i];
		struct sdpx_stream *ss = &d.s[i];
		struct side_state *sf = &s->side[from], *stt = &s->side[to];
		bool keep;

		s->offer_active = active[i];
		if (!active[i]) {
			outs[i].disable = true;
			continue;
		}

		if ((rc = ensure_session(c, s, ss->ip6, from)) < 0)
			goto wipe;
		/* The offerer's key and address, pending until the answer. */
		keep = f_srtp[i] && sf->peer_srtp && same_key(&sf->peer, &picked[i]);
		keep = keep || (!f_srtp[i] && !sf->peer_srtp);
		if (sf->peer_srtp)
			mkey_wipe(&sf->peer);
		sf->peer_srtp = f_srtp[i];
		if (f_srtp[i])
			sf->peer = picked[i];
		if (!ss->hold_addr && rp_str_copy(ss->addr, sf->addr, sizeof(sf->addr)) == 0) {
			sf->port = ss->port;
			sf->have_addr = true;
		}
		if (!keep && sf->chosen >= 0) {
			/* The offerer rotated: so do we toward it (at answer). */
			wipe_ours(sf);
		}
		s->offerer_srtp = f_srtp[i];
		s->offer_proto = ss->proto;
		s->toward_srtp = t_srtp[i];
		s->toward_required = lt->policy == CFG_MEDIA_REQUIRE || lt->require_tls;
		/* RFC 5761: the offerer's a=rtcp-mux is offered on toward the
		 * answerer, with a=rtcp naming our RTCP port (port+1) for an
		 * answerer that does not mux; each leg's mux is decided by its
		 * own answer (ours to the offerer accepts it). */
		s->offerer_mux = ss->rtcp_mux;
		s->toward_mux = ss->rtcp_mux;
		outs[i].rtcp_mux = ss->rtcp_mux;
		outs[i].rtcp_port = ss->rtcp_mux ? (uint16_t)(stt->local.port + 1) : 0;
		if (t_srtp[i]) {
			if ((rc = make_offer_keys(c, stt, lt, keep && stt->nours > 0)) < 0)
				goto wipe;
		} else {
			wipe_ours(stt);
		}
		outs[i].ip6 = stt->local.ip6;
		outs[i].addr = stt->local.address;
		outs[i].port = stt->local.port;
		outs[i].keep_conn = ss->hold_addr;
		outs[i].proto = sdpx_proto_name(sdpx_proto_feedback(ss->proto),
			t_srtp[i] && s->toward_required);
		outs[i].ncrypto = t_srtp[i] ? stt->nours : 0;
		okeys[i] = stt->ours;
	}
	explicit_bzero(picked, sizeof(picked)); /* copied where kept */
	if (d.nstreams > c->nstreams)
		c->nstreams = d.nstreams;
	rc = write_body(&d, outs, okeys, a, out);
	sdp_wipe(d.sdp);
	if (rc < 0) {
		rc = fail(c, rc == SDPX_E_NOMEM ? RP_MEDIA_NOMEM : RP_MEDIA_BAD_SDP,
			"cannot rewrite the offer (%d)", rc);
		goto out;
	}
	/* A stream the offerer removed (port 0) or turned into one we do not
	 * relay (audio -> T.38 udptl) goes out at port 0 both ways: its mediad
	 * session and keys go too, so nothing is relayed with a key no SDP
	 * announces any more. A later offer that brings it back gets a new
	 * session and fresh keys. */
	for (unsigned i = 0; i < d.nstreams; i++)
		if (!c->st[i].offer_active && c->st[i].relayed)
			drop_stream(c, &c->st[i]);
	c->offer_pending = true;
	c->offerer = from;
	cache_clear(&c->last_answer);
	if (cache_set(&c->last_offer, from, RP_STR_NULL, body, *out) < 0) {
		rc = fail(c, RP_MEDIA_NOMEM, "out of memory");
		goto out;
	}
	rc = RP_MEDIA_OK;
	goto out;
wipe:
	explicit_bzero(picked, sizeof(picked));
	if (d.sdp)
		sdp_wipe(d.sdp);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void set_srtp_op(struct rp_mediactl_srtp *op, bool want, const struct mkey *k,
	bool *prog, struct mkey *prog_key, struct sdes_crypto *buf)
{
	if (!want) {
		op->op = *prog ? RP_MEDIACTL_SRTP_NONE : RP_MEDIACTL_SRTP_KEEP;
		if (*prog) {
			*prog = false;
			mkey_wipe(prog_key);
		}
		return;
	}
	if (*prog && same_key(prog_key, k)) {
		op->op = RP_MEDIACTL_SRTP_KEEP; /* identical key: the context and ROC stay */
		return;
	}
	op->op = RP_MEDIACTL_SRTP_SET;
	mkey_expand(k, buf);
	op->crypto = buf;
	*prog_key = *k;
	*prog = true;
}

/* One leg's leg.update, prepared from what mediad has and what it should
 * have; the programmed state is updated as if it succeeded, and put back by
 * prog_finish() if it did not. */
struct leg_prog {
	struct rp_mediactl_leg l;
	bool send;                     /* anything to change */
	struct mkey old_in, old_out;
	bool old_pi, old_po, old_mux;
	struct sdes_crypto kin, kout;  /* what leg.update sends, wiped after */
};

static void prog_prepare(struct side_state *ss, enum rp_media_side side, struct leg_prog *p)
{
	memset(&p->l, 0, sizeof(p->l));
	p->l.leg = side == RP_MEDIA_A ? 'a' : 'b';
	p->old_in = ss->prog_in_key;
	p->old_out = ss->prog_out_key;
	p->old_pi = ss->prog_in;
	p->old_po = ss->prog_out;
	if (ss->have_addr && (!ss->prog_addr || ss->prog_port != ss->port ||
			      strcmp(ss->prog_addr_s, ss->addr) != 0)) {
		p->l.address = ss->addr;
		p->l.port = ss->port;
	}
	set_srtp_op(&p->l.in, ss->srtp && ss->peer_srtp, &ss->peer, &ss->prog_in,
		&ss->prog_in_key, &p->kin);
	set_srtp_op(&p->l.out, ss->srtp && ss->chosen >= 0,
		ss->chosen >= 0 ? &ss->ours[ss->chosen] : NULL, &ss->prog_out, &ss->prog_out_key,
		&p->kout);
	p->old_mux = ss->prog_mux;
	if (ss->mux != ss->prog_mux) {
		p->l.rtcp_mux = ss->mux ? RP_MEDIACTL_MUX_ON : RP_MEDIACTL_MUX_OFF;
		ss->prog_mux = ss->mux;
	}
	p->send = p->l.address || p->l.in.op != RP_MEDIACTL_SRTP_KEEP ||
		  p->l.out.op != RP_MEDIACTL_SRTP_KEEP || p->l.rtcp_mux != RP_MEDIACTL_MUX_KEEP;
}

static void prog_finish(struct side_state *ss, struct leg_prog *p, int rc)
{
	if (rc < 0) {
		/* mediad kept the old state: so do we. */
		ss->prog_in_key = p->old_in;
		ss->prog_out_key = p->old_out;
		ss->prog_in = p->old_pi;
		ss->prog_out = p->old_po;
		ss->prog_mux = p->old_mux;
	} else if (p->l.address) {
		ss->prog_addr = true;
		ss->prog_port = ss->port;
		memcpy(ss->prog_addr_s, ss->addr, sizeof(ss->prog_addr_s));
	}
	if (p->l.in.op == RP_MEDIACTL_SRTP_SET)
		sdes_crypto_wipe(&p->kin);
	if (p->l.out.op == RP_MEDIACTL_SRTP_SET)
		sdes_crypto_wipe(&p->kout);
	explicit_bzero(&p->old_in, sizeof(p->old_in));
	explicit_bzero(&p->old_out, sizeof(p->old_out));
}

/* Programs mediad with both legs of a stream: one session.update when
 * both change and the backend has it, else a leg.update per leg. If
 * session.update fails we take both legs as unchanged (a may have been
 * applied: it is sent again next time, which only renews its contexts). */
static int program_stream(rp_media_call *c, struct stream_state *s)
{
	struct leg_prog p[2];
	int rc = 0;

	prog_prepare(&s->side[0], RP_MEDIA_A, &p[0]);
	prog_prepare(&s->side[1], RP_MEDIA_B, &p[1]);
	if (p[0].send && p[1].send && c->be.update2) {
		rc = c->be.update2(c->be.arg, s->sid, &p[0].l, &p[1].l);
		prog_finish(&s->side[0], &p[0], rc);
		prog_finish(&s->side[1], &p[1], rc);
		if (rc < 0)
			return fail(c, RP_MEDIA_RELAY, "mediad session.update failed (%d)", rc);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (p[i].send)
			rc = c->be.update(c->be.arg, s->sid, &p[i].l);
		prog_finish(&s->side[i], &p[i], rc);
		if (rc < 0) {
			if (i == 0)
				prog_finish(&s->side[1], &p[1], rc); /* not sent */
			return fail(c, RP_MEDIA_RELAY, "mediad leg.update (leg %c) failed (%d)",
				p[i].l.leg, rc);
		}
	}
	return 0;
}

int rp_media_answer(rp_media_call *c, enum rp_media_side from, rp_str to_tag,
	rp_str body, rp_arena *a, rp_str *out)
{
	enum rp_media_side to = from == RP_MEDIA_A ? RP_MEDIA_B : RP_MEDIA_A;
	const struct rp_media_leg_cfg *lf;
	struct sdpx_desc d;
	struct sdpx_out outs[SDPX_MAX_STREAMS];
	const struct mkey *okeys[SDPX_MAX_STREAMS] = { 0 };
	struct sdpx_crypto_opts fo;
	size_t off = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	lf = &c->cfg[from];
	c->err[0] = '\0';
	if (c->ended) {
		rc = fail(c, RP_MEDIA_STATE, "answer after the call ended");
		goto out;
	}
	if (cache_hit(&c->last_answer, from, to_tag, body)) {
		rc = cache_out(&c->last_answer, a, out);
		goto out;
	}
	if (!c->last_offer.in || c->offerer == from) {
		rc = fail(c, RP_MEDIA_STATE, "answer from the %s with no offer pending",
			leg_name(lf, from));
		goto out;
	}
	rc = sdpx_read(body.p, body.n, a, &d, &off);
	if (rc < 0) {
		rc = fail(c, rc == SDPX_E_NOMEM ? RP_MEDIA_NOMEM : RP_MEDIA_BAD_SDP,
			"answer from %s is not usable SDP (byte %zu)", leg_name(lf, from), off);
		goto out;
	}
	if (d.nstreams != c->nstreams) {
		rc = fail(c, RP_MEDIA_BAD_SDP, "answer from %s has %u m= lines, the offer %u",
			leg_name(lf, from), d.nstreams, c->nstreams);
		goto out;
	}
	fo.allow_mki = lf->allow_mki;
	memset(outs, 0, sizeof(outs));
	/* Check the answerer's crypto against what we offered it. */
	int ans_idx[SDPX_MAX_STREAMS];
	struct mkey akey[SDPX_MAX_STREAMS];
	memset(akey, 0, sizeof(akey));
	for (unsigned i = 0; i < d.nstreams; i++) {
		struct stream_state *s = &c->st[i];
		struct sdpx_stream *ss = &d.s[i];
		struct side_state *sa = &s->side[from];

		ans_idx[i] = -1;
		if (!s->offer_active || ss->port == 0)
			continue;
		if (ss->addr.n && !ss->addr_ok) {
			rc = fail(c, RP_MEDIA_BAD_SDP, "answer from %s: c= address '%.*s' of m=%.*s "
				"is not a unicast IP address", leg_name(lf, from),
				(int)(ss->addr.n > 64 ? 64 : ss->addr.n), ss->addr.p,
				RP_STR_FMT(ss->media));
			goto wipe;
		}
		if (s->toward_srtp && lf->policy != CFG_MEDIA_DISABLE) {
			for (unsigned j = 0; j < ss->ncrypto && ans_idx[i] < 0; j++) {
				struct sdes_crypto k;
				if (sdpx_check_crypto(ss->crypto[j], &fo, &k) != SDPX_SKIP_NONE)
					continue;
				for (unsigned o = 0; o < sa->nours; o++) {
					if (sa->ours[o].tag == k.tag && sa->ours[o].suite == k.suite) {
						ans_idx[i] = (int)o;
						mkey_set(&akey[i], &k);
						break;
					}
				}
				sdes_crypto_wipe(&k);
			}
		}
		if (ans_idx[i] < 0 && s->toward_srtp && s->toward_required) {
			rc = fail(c, RP_MEDIA_REFUSE, "answer from %s (policy %s) accepted none of "
				"our SRTP crypto lines", leg_name(lf, from), policy_name(lf->policy));
			goto wipe;
		}
	}
	/* Commit: answerer's side, then our answer key toward the offerer. */
	for (unsigned i = 0; i < d.nstreams; i++) {
		struct stream_state *s = &c->st[i];
		struct sdpx_stream *ss = &d.s[i];
		struct side_state *sa = &s->side[from], *so = &s->side[to];

		if (!s->offer_active || !s->relayed) {
			outs[i].disable = true;
			continue;
		}
		if (ss->port == 0) {
			outs[i].disable = true;
			continue;
		}
		if (!ss->hold_addr && rp_str_copy(ss->addr, sa->addr, sizeof(sa->addr)) == 0) {
			sa->port = ss->port;
			sa->have_addr = true;
		}
		sa->mux = s->toward_mux && ss->rtcp_mux;
		so->mux = s->offerer_mux;
		if (ans_idx[i] >= 0) {
			if (sa->peer_srtp)
				mkey_wipe(&sa->peer);
			sa->peer = akey[i];
			sa->peer_srtp = true;
			sa->chosen = ans_idx[i];
			sa->srtp = true;
		} else {
			if (sa->peer_srtp)
				mkey_wipe(&sa->peer);
			sa->peer_srtp = false;
			sa->srtp = false;
			sa->chosen = -1;
		}
		/* Toward the offerer: our key in its chosen suite and tag. */
		if (s->offerer_srtp) {
			bool reuse = so->chosen >= 0 && (unsigned)so->chosen < so->nours &&
				so->ours[so->chosen].suite == so->peer.suite &&
				so->ours[so->chosen].tag == so->peer.tag;
			if (reuse && so->chosen != 0) {
				/* Keep only the key in use. */
				struct mkey k = so->ours[so->chosen];
				wipe_ours(so);
				so->ours[0] = k;
				mkey_wipe(&k);
				so->nours = 1;
				so->chosen = 0;
			}
			if (!reuse) {
				wipe_ours(so);
				int g = generate_key(so->peer.tag, so->peer.suite, &so->ours[0]);
				if (g != SDES_OK) {
					rc = fail(c, RP_MEDIA_NOMEM, "cannot generate an SRTP key: %s",
						sdes_strerror(g));
					goto wipe;
				}
				so->nours = 1;
				so->chosen = 0;
			}
			so->srtp = true;
		} else {
			wipe_ours(so);
			so->srtp = false;
		}
		outs[i].ip6 = so->local.ip6;
		outs[i].addr = so->local.address;
		outs[i].port = so->local.port;
		outs[i].keep_conn = ss->hold_addr;
		/* The answer keeps the offer's profile (RFC 3264 §6). */
		outs[i].proto = sdpx_proto_name(sdpx_proto_feedback(s->offer_proto),
			sdpx_proto_secure(s->offer_proto));
		outs[i].ncrypto = so->srtp ? 1 : 0;
		okeys[i] = so->srtp ? &so->ours[so->chosen] : NULL;
		outs[i].rtcp_mux = so->mux;
	}
	/* Rewrite first: if that fails, mediad has not been changed. */
	rc = write_body(&d, outs, okeys, a, out);
	if (rc < 0) {
		rc = fail(c, rc == SDPX_E_NOMEM ? RP_MEDIA_NOMEM : RP_MEDIA_BAD_SDP,
			"cannot rewrite the answer (%d)", rc);
		goto wipe_sdp;
	}
	for (unsigned i = 0; i < d.nstreams; i++) {
		struct stream_state *s = &c->st[i];
		if (!s->offer_active || !s->relayed || d.s[i].port == 0)
			continue;
		if ((rc = program_stream(c, s)) < 0) {
			explicit_bzero((char *)out->p, out->n);
			*out = RP_STR_NULL;
			goto wipe_sdp;
		}
	}
	sdp_wipe(d.sdp);
	c->answered = true;
	c->offer_pending = false;
	if (cache_set(&c->last_answer, from, to_tag, body, *out) < 0) {
		rc = fail(c, RP_MEDIA_NOMEM, "out of memory");
		goto out;
	}
	rc = RP_MEDIA_OK;
	goto out;
wipe:
	explicit_bzero(akey, sizeof(akey));
wipe_sdp:
	sdp_wipe(d.sdp);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

const char *rp_media_state_name(enum rp_media_state st)
{
	switch (st) {
	case RP_MEDIA_ST_IDLE: return "idle";
	case RP_MEDIA_ST_OFFER_FROM_A: return "offer-from-a";
	case RP_MEDIA_ST_OFFER_FROM_B: return "offer-from-b";
	case RP_MEDIA_ST_ANSWERED: return "answered";
	case RP_MEDIA_ST_ENDED: return "ended";
	}
	return "?";
}

void rp_media_call_info(rp_media_call *c, struct rp_media_info *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->mu);
	for (int side = 0; side < 2; side++) {
		struct rp_media_leg_info *li = &out->leg[side];
		li->transport = c->cfg[side].transport;
		memcpy(li->tls_version, c->cfg[side].tls_version, sizeof(li->tls_version));
		memcpy(li->tls_cipher, c->cfg[side].tls_cipher, sizeof(li->tls_cipher));
	}
	for (unsigned i = 0; i < c->nstreams; i++) {
		struct stream_state *s = &c->st[i];
		if (!s->relayed)
			continue;
		if (out->streams++ > 0)
			continue;
		out->session = s->sid;
		for (int side = 0; side < 2; side++) {
			struct side_state *ss = &s->side[side];
			out->leg[side].relay_port = ss->local.port;
			out->leg[side].srtp = ss->srtp;
			if (ss->srtp && ss->chosen >= 0)
				out->leg[side].suite = ss->ours[ss->chosen].suite;
		}
	}
	out->answered = c->answered;
	if (c->ended)
		out->state = RP_MEDIA_ST_ENDED;
	else if (c->offer_pending)
		out->state = c->offerer == RP_MEDIA_A ? RP_MEDIA_ST_OFFER_FROM_A
						      : RP_MEDIA_ST_OFFER_FROM_B;
	else if (c->answered)
		out->state = RP_MEDIA_ST_ANSWERED;
	else
		out->state = RP_MEDIA_ST_IDLE;
	pthread_mutex_unlock(&c->mu);
}

/* ---- table of calls ---- */

struct rp_media_calls {
	pthread_mutex_t mu;
	struct rp_media_backend be;
	uint8_t hkey[16];      /* Call-IDs are chosen by peers: keyed hash */
	size_t nbuckets;       /* power of two */
	size_t count;
	rp_media_call **b;
};

int rp_media_calls_new(const struct rp_media_backend *be, size_t buckets,
	rp_media_calls **out)
{
	rp_media_calls *t;
	size_t n = 1;

	if (!be || !out)
		return -EINVAL;
	if (buckets == 0)
		buckets = 4096;
	while (n < buckets && n < ((size_t)1 << 24))
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->b = calloc(n, sizeof(*t->b));
	if (!t->b || rp_rand_bytes(t->hkey, sizeof(t->hkey)) < 0) {
		free(t->b);
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->be = *be;
	t->nbuckets = n;
	*out = t;
	return 0;
}

void rp_media_calls_free(rp_media_calls *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		rp_media_call *c = t->b[i];
		while (c) {
			rp_media_call *next = c->next;
			rp_media_end(c);
			rp_media_call_free(c);
			c = next;
		}
	}
	pthread_mutex_destroy(&t->mu);
	free(t->b);
	free(t);
}

/* key = Call-ID NUL from-tag; the caller frees *k. */
static int make_key(rp_str call_id, rp_str from_tag, char **k, size_t *n)
{
	*n = call_id.n + 1 + from_tag.n;
	*k = malloc(*n);
	if (!*k)
		return -ENOMEM;
	if (call_id.n)
		memcpy(*k, call_id.p, call_id.n);
	(*k)[call_id.n] = '\0';
	if (from_tag.n)
		memcpy(*k + call_id.n + 1, from_tag.p, from_tag.n);
	return 0;
}

static rp_media_call **slot(rp_media_calls *t, const char *k, size_t n, uint64_t h)
{
	rp_media_call **pp = &t->b[h & (t->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->key_len == n && memcmp((*pp)->key, k, n) == 0)
			break;
	return pp;
}

rp_media_call *rp_media_calls_find(rp_media_calls *t, rp_str call_id, rp_str from_tag)
{
	rp_media_call *c;
	char *k;
	size_t n;

	if (make_key(call_id, from_tag, &k, &n) < 0)
		return NULL;
	uint64_t h = rp_siphash13(t->hkey, k, n);
	pthread_mutex_lock(&t->mu);
	c = *slot(t, k, n, h);
	if (c)
		rp_media_call_ref(c);
	pthread_mutex_unlock(&t->mu);
	free(k);
	return c;
}

int rp_media_calls_add(rp_media_calls *t, rp_str call_id, rp_str from_tag,
	const struct rp_media_leg_cfg *a, const struct rp_media_leg_cfg *b,
	rp_media_call **out)
{
	rp_media_call *c, **pp;
	char *k;
	size_t n;
	int rc;

	if ((rc = make_key(call_id, from_tag, &k, &n)) < 0)
		return rc;
	uint64_t h = rp_siphash13(t->hkey, k, n);
	pthread_mutex_lock(&t->mu);
	pp = slot(t, k, n, h);
	if (*pp) {
		*out = rp_media_call_ref(*pp);
		pthread_mutex_unlock(&t->mu);
		free(k);
		return -EEXIST;
	}
	rc = rp_media_call_new(&t->be, call_id, from_tag, a, b, &c);
	if (rc < 0) {
		pthread_mutex_unlock(&t->mu);
		free(k);
		return rc;
	}
	c->key = k;
	c->key_len = n;
	c->hash = h;
	*pp = c;               /* the table's reference */
	t->count++;
	*out = rp_media_call_ref(c);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int rp_media_calls_remove(rp_media_calls *t, rp_str call_id, rp_str from_tag)
{
	rp_media_call *c, **pp;
	char *k;
	size_t n;

	if (make_key(call_id, from_tag, &k, &n) < 0)
		return -ENOMEM;
	uint64_t h = rp_siphash13(t->hkey, k, n);
	pthread_mutex_lock(&t->mu);
	pp = slot(t, k, n, h);
	c = *pp;
	if (c) {
		*pp = c->next;
		c->next = NULL;
		t->count--;
	}
	pthread_mutex_unlock(&t->mu);
	free(k);
	if (!c)
		return -ENOENT;
	/* mediad's session goes now, even if another worker still holds a
	 * reference; the memory goes with the last reference. */
	int rc = rp_media_end(c);

	rp_media_call_free(c);
	return rc;
}

size_t rp_media_calls_count(rp_media_calls *t)
{
	size_t n;
	pthread_mutex_lock(&t->mu);
	n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int rp_media_info_format(const struct rp_media_info *in, rp_buf *b)
{
	rp_buf_printf(b, "state=%s", rp_media_state_name(in->state));
	for (int side = 0; side < 2; side++) {
		const struct rp_media_leg_info *l = &in->leg[side];
		rp_buf_printf(b, " %c=%s", side == 0 ? 'a' : 'b',
			rp_media_transport_name(l->transport));
		if (l->tls_version[0] || l->tls_cipher[0])
			rp_buf_printf(b, "(%.16s,%.64s)", l->tls_version, l->tls_cipher);
		if (l->srtp)
			rp_buf_printf(b, " srtp=%s", sdes_suite_name(l->suite));
		else
			rp_buf_append_cstr(b, " rtp");
	}
	if (in->session)
		rp_buf_printf(b, " session=%llu", (unsigned long long)in->session);
	return rp_buf_error(b);
}
