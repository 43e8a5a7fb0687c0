#include "trunk.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "rp_hash.h"
#include "sip_edit.h"

#define CRED_MAX 2048   /* one credentials value */

struct cred {
	bool used;
	bool proxy;                    /* Proxy-Authorization */
	bool answered;                 /* at the current address */
	char realm[RP_AUTH_CLIENT_STR];
	char value[CRED_MAX];
	size_t vlen;
};

struct rp_trunk_auth {
	char *base;                    /* the request before any credentials */
	size_t base_len;
	uint32_t base_cseq;
	unsigned answers;
	struct cred cr[RP_TRUNK_AUTH_MAX];
	char lines[RP_TRUNK_AUTH_MAX * (CRED_MAX + 32)];
	size_t lines_len;
};

rp_trunk_auth *rp_trunk_auth_free(rp_trunk_auth *st)
{
	if (!st)
		return NULL;
	if (st->base)
		explicit_bzero(st->base, st->base_len);
	free(st->base);
	explicit_bzero(st, sizeof(*st));
	free(st);
	return NULL;
}

void rp_trunk_auth_next_address(rp_trunk_auth *st)
{
	if (!st)
		return;
	for (int i = 0; i < RP_TRUNK_AUTH_MAX; i++)
		st->cr[i].answered = false;
}

rp_str rp_trunk_auth_lines(const rp_trunk_auth *st)
{
	return st ? rp_str_make(st->lines, st->lines_len) : RP_STR_NULL;
}

int rp_trunk_cseq_value(const struct sip_msg *m, uint32_t num, rp_arena *a, rp_str *val)
{
	char buf[64];
	int n;

	if (num > 0x7fffffffu)
		return -EOVERFLOW;
	n = snprintf(buf, sizeof(buf), "%u %.*s", num, RP_STR_FMT(m->cseq.method_str));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	val->p = rp_arena_strndup(a, buf, (size_t)n);
	if (!val->p)
		return -ENOMEM;
	val->n = (size_t)n;
	return 0;
}

static void join_lines(rp_trunk_auth *st)
{
	size_t o = 0;

	for (int i = 0; i < RP_TRUNK_AUTH_MAX; i++) {
		const struct cred *c = &st->cr[i];
		int n;

		if (!c->used)
			continue;
		n = snprintf(st->lines + o, sizeof(st->lines) - o, "%s: %.*s\r\n",
			c->proxy ? "Proxy-Authorization" : "Authorization",
			(int)c->vlen, c->value);
		if (n < 0 || (size_t)n >= sizeof(st->lines) - o)
			break;   /* cannot happen: sized for RP_TRUNK_AUTH_MAX values */
		o += (size_t)n;
	}
	st->lines_len = o;
}

/* Rebuilds the request from the base: every credential line, CSeq. */
static int rebuild(rp_trunk_auth *st, uint32_t cseq, char **out, size_t *out_len)
{
	char store[16384];
	rp_arena a;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	struct sip_msg *m = NULL;
	struct sip_edit *e;
	rp_str v, w;
	enum sip_err pe;
	int rc = -EINVAL;

	rp_arena_init(&a, store, sizeof(store), 1u << 21);
	pe = sip_msg_parse(st->base, st->base_len, &a, &o, &m, NULL);
	if (pe == SIP_OK && m->h_cseq)
		pe = sip_edit_new(m, &a, &e);
	else if (pe == SIP_OK)
		pe = SIP_E_MISSING_HEADER;
	if (pe != SIP_OK) {
		rc = pe == SIP_E_NOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	rc = rp_trunk_cseq_value(m, cseq, &a, &v);
	if (rc < 0)
		goto out;
	rc = -ENOMEM;
	if (sip_edit_replace_value(e, (size_t)(m->h_cseq - m->hdrs), v) != SIP_OK)
		goto out;
	for (int i = 0; i < RP_TRUNK_AUTH_MAX; i++) {
		const struct cred *c = &st->cr[i];

		if (c->used && sip_edit_add_header(e, SIP_EDIT_BOTTOM, 0, c->proxy ?
			RP_STR_LIT("Proxy-Authorization") : RP_STR_LIT("Authorization"),
			rp_str_make(c->value, c->vlen)) != SIP_OK)
			goto out;
	}
	if (sip_edit_write_arena(e, &a, &w) != SIP_OK)
		goto out;   /* rc is -ENOMEM here: the only way writing fails */
	*out = malloc(w.n);
	if (!*out)
		goto wipe;
	memcpy(*out, w.p, w.n);
	*out_len = w.n;
	rc = 0;
wipe:
	explicit_bzero((char *)w.p, w.n);
out:
	rp_arena_fini(&a);
	return rc;
}

/* Method, Request-URI and CSeq of a request (slices into 'a'-parsed m). */
static int req_parts(const char *buf, size_t len, rp_arena *a, const struct sip_msg **mp)
{
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	struct sip_msg *m = NULL;

	enum sip_err pe = sip_msg_parse(buf, len, a, &o, &m, NULL);

	if (pe == SIP_E_NOMEM)
		return -ENOMEM;
	if (pe != SIP_OK || !m->is_request)
		return -EINVAL;
	*mp = m;
	return 0;
}

int rp_trunk_auth_answer(rp_trunk_auth **stp, const struct cfg_trunk *t,
	const struct sip_msg *chal, const char *fwd, size_t fwd_len,
	char **out, size_t *out_len, uint32_t *cseq)
{
	struct rp_auth_client ac;
	rp_trunk_auth *st = *stp;
	bool fresh = false;
	struct cred *slot = NULL, saved;
	char store[16384];
	rp_arena a;
	const struct sip_msg *m;
	struct rp_auth_creds creds;
	size_t n;
	int rc;

	if (!t || !t->out_username || !t->out_password)
		return -ENOENT;
	rc = rp_auth_client_pick(chal, &ac);
	if (rc < 0)
		return rc == -ENOTSUP ? -ENOENT : rc;
	if (st && st->answers >= RP_TRUNK_AUTH_ANSWERS) {
		rc = -EALREADY;
		goto out_ac;
	}
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st) {
			rc = -ENOMEM;
			goto out_ac;
		}
		st->base = malloc(fwd_len);
		if (!st->base) {
			free(st);
			rc = -ENOMEM;
			goto out_ac;
		}
		memcpy(st->base, fwd, fwd_len);
		st->base_len = fwd_len;
		fresh = true;
	}
	for (int i = 0; i < RP_TRUNK_AUTH_MAX; i++) {
		struct cred *c = &st->cr[i];

		if (c->used && c->proxy == ac.proxy && !strcmp(c->realm, ac.realm)) {
			slot = c;
			break;
		}
		if (!c->used && !slot)
			slot = c;
	}
	if (!slot) {
		rc = -ENOSPC;
		goto out_st;
	}
	if (slot->used && slot->answered) {
		rc = -EALREADY;
		goto out_st;
	}
	/* A failure below leaves the state as it was. */
	saved = *slot;
	rp_arena_init(&a, store, sizeof(store), 1u << 21);
	rc = req_parts(st->base, st->base_len, &a, &m);
	if (rc == 0 && fresh)
		st->base_cseq = m->cseq.num;
	if (rc == 0 && st->base_cseq + st->answers + 1 > 0x7fffffffu)
		rc = -EOVERFLOW;
	if (rc == 0) {
		creds = (struct rp_auth_creds){ .username = t->out_username,
			.password = t->out_password };
		rc = rp_auth_client_authorize(&ac, &creds, m->method_str, m->ruri_str, NULL,
			slot->value, sizeof(slot->value), &n);
	}
	rp_arena_fini(&a);
	if (rc < 0) {
		*slot = saved;
		goto out_st;
	}
	slot->used = true;
	slot->answered = true;
	slot->proxy = ac.proxy;
	snprintf(slot->realm, sizeof(slot->realm), "%s", ac.realm);
	slot->vlen = n;
	rc = rebuild(st, st->base_cseq + st->answers + 1, out, out_len);
	if (rc < 0) {
		*slot = saved;
		goto out_st;
	}
	st->answers++;
	*cseq = st->base_cseq + st->answers;
	join_lines(st);
	*stp = st;
	rp_auth_client_wipe(&ac);
	return 0;
out_st:
	if (fresh)
		rp_trunk_auth_free(st);
out_ac:
	rp_auth_client_wipe(&ac);
	return rc;
}

/* ---- dialogs ---- */

struct dlg_ent {
	uint32_t delta, lines_cseq;
	uint64_t used_ms;
	char *trunk;
	char *lines;
	size_t lines_len;
};

struct rp_trunk_dlgs {
	pthread_mutex_t mu;
	rp_hash *h;              /* "Call-ID\0tag" -> dlg_ent */
	atomic_size_t n;         /* lock-free emptiness check for the hot path */
	size_t max;
	uint64_t idle_ms;
};

static void ent_free(struct dlg_ent *e)
{
	if (!e)
		return;
	if (e->lines)
		explicit_bzero(e->lines, e->lines_len);
	free(e->lines);
	free(e->trunk);
	free(e);
}

int rp_trunk_dlgs_new(size_t max, uint64_t idle_ms, rp_trunk_dlgs **out)
{
	rp_trunk_dlgs *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	if (rp_hash_new(64, RP_HASH_COPY_KEYS, &d->h) < 0) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->mu, NULL);
	d->max = max ? max : 65536;
	d->idle_ms = idle_ms ? idle_ms : 24ull * 3600 * 1000;
	*out = d;
	return 0;
}

void rp_trunk_dlgs_free(rp_trunk_dlgs *d)
{
	rp_hash_iter it;
	rp_str k;
	void *v;

	if (!d)
		return;
	rp_hash_iter_init(d->h, &it);
	while (rp_hash_iter_next(&it, &k, &v))
		ent_free(v);
	rp_hash_free(d->h);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* "Call-ID NUL tag" in buf; false if too long. */
static bool mkkey(rp_str cid, rp_str tag, char *buf, size_t sz, rp_str *key)
{
	if (!tag.n || cid.n + tag.n + 1 > sz)
		return false;
	memcpy(buf, cid.p, cid.n);
	buf[cid.n] = 0;
	memcpy(buf + cid.n + 1, tag.p, tag.n);
	*key = rp_str_make(buf, cid.n + 1 + tag.n);
	return true;
}

static void sweep(rp_trunk_dlgs *d, uint64_t now)
{
	rp_hash_iter it;
	rp_str k;
	void *v;

	rp_hash_iter_init(d->h, &it);
	while (rp_hash_iter_next(&it, &k, &v)) {
		struct dlg_ent *e = v;

		if (now - e->used_ms > d->idle_ms) {
			rp_hash_remove(d->h, k);
			ent_free(e);
			atomic_fetch_sub(&d->n, 1);
		}
	}
}

int rp_trunk_dlg_set(rp_trunk_dlgs *d, rp_str cid, rp_str ftag,
	const struct rp_trunk_dlg *v, uint64_t now)
{
	char kb[1024];
	rp_str key;
	struct dlg_ent *e, *old;
	int rc;

	if (!mkkey(cid, ftag, kb, sizeof(kb), &key))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->delta = v->delta;
	e->lines_cseq = v->lines_cseq;
	e->used_ms = now;
	e->trunk = strndup(v->trunk.p ? v->trunk.p : "", v->trunk.n);
	e->lines = malloc(v->lines.n + 1);
	if (!e->trunk || !e->lines) {
		ent_free(e);
		return -ENOMEM;
	}
	memcpy(e->lines, v->lines.p, v->lines.n);
	e->lines[v->lines.n] = 0;
	e->lines_len = v->lines.n;
	pthread_mutex_lock(&d->mu);
	old = rp_hash_remove(d->h, key);
	if (old) {
		ent_free(old);
		atomic_fetch_sub(&d->n, 1);
	}
	if (rp_hash_count(d->h) >= d->max)
		sweep(d, now);
	if (rp_hash_count(d->h) >= d->max) {
		rc = -ENOSPC;
	} else {
		rc = rp_hash_insert(d->h, key, e);
		if (rc == 0)
			atomic_fetch_add(&d->n, 1);
	}
	pthread_mutex_unlock(&d->mu);
	if (rc < 0)
		ent_free(e);
	return rc;
}

bool rp_trunk_dlg_get(rp_trunk_dlgs *d, rp_str cid, rp_str ftag, uint64_t now,
	rp_arena *a, struct rp_trunk_dlg *out)
{
	char kb[1024];
	rp_str key;
	struct dlg_ent *e;
	bool ok = false;

	if (!d || atomic_load_explicit(&d->n, memory_order_relaxed) == 0)
		return false;
	if (!mkkey(cid, ftag, kb, sizeof(kb), &key))
		return false;
	pthread_mutex_lock(&d->mu);
	e = rp_hash_find(d->h, key);
	if (e) {
		e->used_ms = now;
		out->delta = e->delta;
		out->lines_cseq = e->lines_cseq;
		out->trunk.p = rp_arena_strndup(a, e->trunk, strlen(e->trunk));
		out->trunk.n = strlen(e->trunk);
		out->lines.p = rp_arena_strndup(a, e->lines, e->lines_len);
		out->lines.n = e->lines_len;
		ok = out->trunk.p && out->lines.p;
	}
	pthread_mutex_unlock(&d->mu);
	return ok;
}

void rp_trunk_dlg_del(rp_trunk_dlgs *d, rp_str cid, rp_str ftag)
{
	char kb[1024];
	rp_str key;
	struct dlg_ent *e;

	if (!d || atomic_load_explicit(&d->n, memory_order_relaxed) == 0)
		return;
	if (!mkkey(cid, ftag, kb, sizeof(kb), &key))
		return;
	pthread_mutex_lock(&d->mu);
	e = rp_hash_remove(d->h, key);
	if (e)
		atomic_fetch_sub(&d->n, 1);
	pthread_mutex_unlock(&d->mu);
	ent_free(e);
}

size_t rp_trunk_dlgs_count(rp_trunk_dlgs *d)
{
	return d ? atomic_load(&d->n) : 0;
}
