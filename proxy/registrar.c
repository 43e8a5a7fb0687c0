#include "registrar.h"

#include "rp_hash.h"
#include "rp_rand.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 64
#define MAX_REQ_CONTACTS 32   /* Contact values one REGISTER may carry */
#define KEY_MAX 512           /* binding match key and AOR text */
#define UA_MAX 200
#define PATH_MAX_LEN 2048

struct binding {
	char *uri, *key, *call_id, *path, *instance, *ua;
	uint32_t cseq, reg_id;
	unsigned q;
	bool q_given;
	uint64_t expires_ms, updated_ms, seq;
	enum rp_tp tp;
	rp_addr src;
	uint64_t flow_id;
	bool nat;
};

struct aor_rec {
	char *aor;
	size_t aor_len;
	struct binding **b;
	unsigned n, cap;
};

struct shard {
	pthread_mutex_t mu;
	rp_hash *h;           /* aor -> struct aor_rec; key points into rec->aor */
};

struct rp_registrar {
	uint8_t key[16];      /* shard selection */
	_Atomic uint32_t min_exp, max_exp, def_exp;
	unsigned max_contacts;
	size_t max_bindings;
	bool sips_distinct;
	atomic_size_t nbindings, naors;
	atomic_uint_fast64_t saves, rejected, expired, seq;
	struct shard sh[NSHARDS];
};

static int check_expires(uint32_t mn, uint32_t mx, uint32_t def)
{
	return (mn > mx || def < mn || def > mx) ? -EINVAL : 0;
}

int rp_registrar_new(const struct rp_reg_opts *o, rp_registrar **out)
{
	struct rp_reg_opts d = { 0 };
	rp_registrar *r;
	int rc;

	if (o)
		d = *o;
	if (!d.min_expires)
		d.min_expires = 60;
	if (!d.max_expires)
		d.max_expires = 3600;
	if (!d.default_expires)
		d.default_expires = 3600 < d.max_expires ? 3600 : d.max_expires;
	if (!d.max_contacts)
		d.max_contacts = 10;
	if (!d.max_bindings)
		d.max_bindings = 1000000;
	if (check_expires(d.min_expires, d.max_expires, d.default_expires) ||
	    d.max_contacts > 1000)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = rp_rand_bytes(r->key, sizeof(r->key));
	if (rc) {
		free(r);
		return rc;
	}
	atomic_init(&r->min_exp, d.min_expires);
	atomic_init(&r->max_exp, d.max_expires);
	atomic_init(&r->def_exp, d.default_expires);
	r->max_contacts = d.max_contacts;
	r->max_bindings = d.max_bindings;
	r->sips_distinct = d.sips_distinct;
	/* Every mutex first: rp_registrar_free() destroys them all. */
	for (size_t i = 0; i < NSHARDS; i++)
		pthread_mutex_init(&r->sh[i].mu, NULL);
	for (size_t i = 0; i < NSHARDS; i++) {
		rc = rp_hash_new(0, 0, &r->sh[i].h);
		if (rc) {
			rp_registrar_free(r);
			return rc;
		}
	}
	*out = r;
	return 0;
}

static void binding_free(struct binding *b)
{
	if (!b)
		return;
	free(b->uri);
	free(b->key);
	free(b->call_id);
	free(b->path);
	free(b->instance);
	free(b->ua);
	free(b);
}

static void rec_free(struct aor_rec *rec)
{
	for (unsigned i = 0; i < rec->n; i++)
		binding_free(rec->b[i]);
	free(rec->b);
	free(rec->aor);
	free(rec);
}

rp_registrar *rp_registrar_free(rp_registrar *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < NSHARDS; i++) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		if (r->sh[i].h) {
			rp_hash_iter_init(r->sh[i].h, &it);
			while (rp_hash_iter_next(&it, &k, &v)) {
				rp_hash_remove(r->sh[i].h, k);
				rec_free(v);
			}
			rp_hash_free(r->sh[i].h);
		}
		pthread_mutex_destroy(&r->sh[i].mu);
	}
	explicit_bzero(r->key, sizeof(r->key));
	free(r);
	return NULL;
}

int rp_registrar_set_expires(rp_registrar *r, uint32_t mn, uint32_t mx, uint32_t def)
{
	if (!mn || check_expires(mn, mx, def))
		return -EINVAL;
	atomic_store(&r->min_exp, mn);
	atomic_store(&r->max_exp, mx);
	atomic_store(&r->def_exp, def);
	return 0;
}

static const char *const names[RP_REG__COUNT] = {
	[RP_REG_OK] = "ok",
	[RP_REG_BAD_REQUEST] = "bad request",
	[RP_REG_BAD_AOR] = "bad address of record",
	[RP_REG_INTERVAL_TOO_BRIEF] = "interval too brief",
	[RP_REG_OUT_OF_ORDER] = "out of order (Call-ID/CSeq)",
	[RP_REG_TOO_MANY_CONTACTS] = "too many contacts",
	[RP_REG_TABLE_FULL] = "location table full",
	[RP_REG_NOMEM] = "out of memory",
	[RP_REG_FORBIDDEN] = "authenticated user may not register this AOR",
};

const char *rp_reg_result_name(enum rp_reg_result r)
{
	return (unsigned)r < RP_REG__COUNT ? names[r] : "?";
}

unsigned rp_reg_result_status(enum rp_reg_result r)
{
	switch (r) {
	case RP_REG_OK: return 200;
	case RP_REG_BAD_REQUEST: return 400;
	case RP_REG_BAD_AOR: return 416;
	case RP_REG_INTERVAL_TOO_BRIEF: return 423;
	case RP_REG_TOO_MANY_CONTACTS: return 403;
	case RP_REG_FORBIDDEN: return 403;
	case RP_REG_TABLE_FULL: return 503;
	default: return 500;
	}
}

const char *rp_reg_result_reason(enum rp_reg_result r)
{
	switch (r) {
	case RP_REG_OK: return "OK";
	case RP_REG_BAD_REQUEST: return "Bad Request";
	case RP_REG_BAD_AOR: return "Unsupported URI Scheme";
	case RP_REG_INTERVAL_TOO_BRIEF: return "Interval Too Brief";
	case RP_REG_OUT_OF_ORDER: return "Out Of Order Request";
	case RP_REG_TOO_MANY_CONTACTS: return "Too Many Contacts";
	case RP_REG_FORBIDDEN: return "Forbidden";
	case RP_REG_TABLE_FULL: return "Service Unavailable";
	default: return "Server Internal Error";
	}
}

/* ---- normalisation ---- */

static void lower_copy(char *dst, rp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
}

long rp_registrar_aor(const rp_registrar *r, const struct sip_uri *u,
	char *buf, size_t bufsz)
{
	bool sips = u->scheme == SIP_SCHEME_SIPS && r->sips_distinct;
	bool v6 = u->host_type == SIP_HOST_IPV6;
	size_t o;
	long ul = 0;

	if ((u->scheme != SIP_SCHEME_SIP && u->scheme != SIP_SCHEME_SIPS) || u->host.n == 0)
		return -EINVAL;
	o = sips ? 5 : 4;
	if (bufsz < o + 1)
		return -ENOSPC;
	memcpy(buf, sips ? "sips:" : "sip:", o);
	if (u->user.n) {
		ul = sip_unescape(u->user, buf + o, bufsz - o);
		if (ul < 0)
			return ul;
		o += (size_t)ul;
		if (o + 1 > bufsz)
			return -ENOSPC;
		buf[o++] = '@';
	}
	if (o + u->host.n + 3 > bufsz)
		return -ENOSPC;
	if (v6)
		buf[o++] = '[';
	lower_copy(buf + o, u->host);
	o += u->host.n;
	if (v6)
		buf[o++] = ']';
	buf[o] = '\0';
	return (long)o;
}

/* A Contact's identity for "is this the same binding" (RFC 3261 §10.3 step
 * 7 compares URIs with §19.1.4 rules; we compare what that rule cares about
 * most: scheme, user, host case-insensitively, port and transport), or the
 * RFC 5626 instance + reg-id when the UA sent them. */
static long contact_key(const struct sip_nameaddr *na, rp_str inst, uint32_t reg_id,
	char *buf, size_t bufsz)
{
	const struct sip_uri *u = &na->uri;
	int n;

	if (inst.n) {
		n = snprintf(buf, bufsz, "i:%.*s;%u", RP_STR_FMT(inst), reg_id);
	} else {
		char host[256], tp[16];

		if (u->host.n >= sizeof(host) || u->transport.n >= sizeof(tp))
			return -ENOSPC;
		lower_copy(host, u->host);
		host[u->host.n] = '\0';
		lower_copy(tp, u->transport);
		tp[u->transport.n] = '\0';
		n = snprintf(buf, bufsz, "u:%s:%.*s@%s:%u;%s",
			u->scheme == SIP_SCHEME_SIPS ? "sips" : "sip",
			RP_STR_FMT(u->user), host, u->port, tp);
	}
	return (n < 0 || (size_t)n >= bufsz) ? -ENOSPC : n;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in 1/1000. */
static bool parse_q(rp_str s, unsigned *out)
{
	unsigned v, scale = 100;

	if (s.n == 0 || s.n > 5 || (s.p[0] != '0' && s.p[0] != '1'))
		return false;
	v = (unsigned)(s.p[0] - '0') * 1000;
	if (s.n > 1) {
		if (s.p[1] != '.')
			return false;
		for (size_t i = 2; i < s.n; i++, scale /= 10) {
			if (s.p[i] < '0' || s.p[i] > '9')
				return false;
			v += (unsigned)(s.p[i] - '0') * scale;
		}
	}
	if (v > 1000)
		return false;
	*out = v;
	return true;
}

/* delta-seconds; values past 2^32-1 mean 2^32-1 (RFC 3261 §20.19). */
static bool parse_delta(rp_str s, uint32_t *out)
{
	uint64_t v = 0;

	s = rp_str_trim(s);
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		if (v < UINT32_MAX)
			v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return true;
}

static bool contact_nat(const struct sip_uri *u, const struct rp_reg_source *src)
{
	char host[64];
	uint16_t port = u->port;
	rp_addr ca;

	if (u->host_type != SIP_HOST_IPV4 && u->host_type != SIP_HOST_IPV6)
		return true;
	if (rp_str_copy(u->host, host, sizeof(host)) != 0 ||
	    rp_addr_parse(host, 0, &ca) != 0 || !rp_addr_same_ip(&ca, &src->addr))
		return true;
	/* A stream's source port is ephemeral: only UDP ports say something. */
	if (src->tp != RP_TP_UDP)
		return false;
	if (!u->has_port)
		port = (u->scheme == SIP_SCHEME_SIPS || SIP_LIT_CASEEQ(u->transport, "tls")) ?
			5061 : 5060;
	return port != rp_addr_port(&src->addr);
}

/* ---- save ---- */

struct req_contact {
	struct sip_nameaddr na;
	uint32_t expires;
	unsigned q;
	bool q_given, dup;
	rp_str instance;
	uint32_t reg_id;
	char key[KEY_MAX];
	struct binding *nb;    /* prepared replacement (expires > 0) */
	long existing;         /* index in the record, or -1 */
};

static struct shard *shard_of(rp_registrar *r, const char *aor, size_t n)
{
	return &r->sh[rp_siphash13(r->key, aor, n) % NSHARDS];
}

static void purge_expired(rp_registrar *r, struct aor_rec *rec, uint64_t now_ms,
	size_t *count)
{
	unsigned j = 0;

	for (unsigned i = 0; i < rec->n; i++) {
		if (rec->b[i]->expires_ms <= now_ms) {
			binding_free(rec->b[i]);
			atomic_fetch_sub(&r->nbindings, 1);
			atomic_fetch_add(&r->expired, 1);
			if (count)
				(*count)++;
		} else {
			rec->b[j++] = rec->b[i];
		}
	}
	rec->n = j;
}

static void rec_drop_if_empty(rp_registrar *r, struct shard *sh, struct aor_rec *rec)
{
	if (rec->n)
		return;
	rp_hash_remove(sh->h, rp_str_make(rec->aor, rec->aor_len));
	rec_free(rec);
	atomic_fetch_sub(&r->naors, 1);
}

static char *dup_str(rp_str s)
{
	char *p = malloc(s.n + 1);

	if (p) {
		if (s.n)
			memcpy(p, s.p, s.n);
		p[s.n] = '\0';
	}
	return p;
}

static uint32_t secs_left(uint64_t expires_ms, uint64_t now_ms)
{
	uint64_t ms = expires_ms > now_ms ? expires_ms - now_ms : 0;
	uint64_t s = (ms + 999) / 1000;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* Contact lines of a record into buf: complete lines only. */
static void write_contacts(const struct aor_rec *rec, uint64_t now_ms, char *buf,
	size_t bufsz, struct rp_reg_save_info *info)
{
	size_t off = 0;

	if (!buf || bufsz == 0)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; rec && i < rec->n; i++) {
		const struct binding *b = rec->b[i];
		char q[16] = "", inst[KEY_MAX + 32] = "";
		int n;

		if (b->q_given)
			snprintf(q, sizeof(q), ";q=%u.%03u", b->q / 1000, b->q % 1000);
		if (b->instance)
			snprintf(inst, sizeof(inst), ";+sip.instance=%s", b->instance);
		n = snprintf(buf + off, bufsz - off, "Contact: <%s>;expires=%u%s%s",
			b->uri, secs_left(b->expires_ms, now_ms), q, inst);
		if (n >= 0 && (size_t)n < bufsz - off && b->reg_id) {
			int m = snprintf(buf + off + (size_t)n, bufsz - off - (size_t)n,
				";reg-id=%u", b->reg_id);

			n = m < 0 ? -1 : n + m;
		}
		if (n >= 0 && (size_t)n + 2 < bufsz - off) {
			memcpy(buf + off + (size_t)n, "\r\n", 3);
			off += (size_t)n + 2;
		} else {
			buf[off] = '\0';
			info->hdr_truncated = true;
			break;
		}
	}
	info->hdr_len = off;
}

static struct binding *binding_new(rp_registrar *r, const struct req_contact *c,
	const struct sip_msg *m, const struct rp_reg_source *src, rp_str path, rp_str ua,
	uint64_t now_ms)
{
	struct binding *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->uri = dup_str(c->na.uri_str);
	b->key = dup_str(rp_str_cstr(c->key));
	b->call_id = dup_str(m->call_id);
	b->path = path.n ? dup_str(path) : NULL;
	b->instance = c->instance.n ? dup_str(c->instance) : NULL;
	b->ua = ua.n ? dup_str(ua) : NULL;
	if (!b->uri || !b->key || !b->call_id || (path.n && !b->path) ||
	    (c->instance.n && !b->instance) || (ua.n && !b->ua)) {
		binding_free(b);
		return NULL;
	}
	b->cseq = m->cseq.num;
	b->reg_id = c->reg_id;
	b->q = c->q;
	b->q_given = c->q_given;
	b->expires_ms = now_ms + (uint64_t)c->expires * 1000;
	b->updated_ms = now_ms;
	b->seq = atomic_fetch_add(&r->seq, 1) + 1;
	b->tp = src->tp;
	b->src = src->addr;
	b->flow_id = src->flow_id;
	b->nat = contact_nat(&c->na.uri, src);
	return b;
}

static long rec_find(const struct aor_rec *rec, const char *key)
{
	for (unsigned i = 0; rec && i < rec->n; i++)
		if (strcmp(rec->b[i]->key, key) == 0)
			return (long)i;
	return -1;
}

static enum rp_reg_result reject(rp_registrar *r, enum rp_reg_result res)
{
	atomic_fetch_add(&r->rejected, 1);
	return res;
}

/* Parses the Contact values into cs[]; returns OK or the failure. */
static enum rp_reg_result parse_contacts(rp_registrar *r, const struct sip_msg *m,
	struct req_contact *cs, size_t *ncs, bool *star, struct rp_reg_save_info *info)
{
	uint32_t mn = atomic_load(&r->min_exp), mx = atomic_load(&r->max_exp);
	uint32_t hdr_exp = atomic_load(&r->def_exp);
	bool has_hdr_exp = false;
	struct sip_hdr_iter it;
	struct sip_perr pe;
	enum sip_err e;
	long hi;
	size_t n = 0;

	*star = false;
	hi = sip_msg_find(m, SIP_HDR_EXPIRES, 0);
	if (hi >= 0) {
		if (!parse_delta(m->hdrs[hi].value, &hdr_exp)) {
			info->err_off = sip_msg_off(m, m->hdrs[hi].value);
			info->reason = "Bad Expires";
			return RP_REG_BAD_REQUEST;
		}
		has_hdr_exp = true;
	}
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	for (;;) {
		struct req_contact *c;
		rp_str v;

		if (n == MAX_REQ_CONTACTS) {
			rp_str extra;

			if (sip_hdr_iter_next(&it, &extra))
				return RP_REG_TOO_MANY_CONTACTS;
			break;
		}
		c = &cs[n];
		memset(c, 0, offsetof(struct req_contact, key));
		e = sip_hdr_iter_next_nameaddr(&it, &c->na, &pe);
		if (e == SIP_E__COUNT)
			break;
		if (e != SIP_OK) {
			info->err_off = pe.off;
			info->reason = "Bad Contact";
			return RP_REG_BAD_REQUEST;
		}
		if (c->na.star || *star) {
			/* '*' must be alone, with Expires: 0 (§10.3 step 6). */
			if (n > 0 || *star || !has_hdr_exp || hdr_exp != 0) {
				info->err_off = sip_msg_off(m, c->na.raw);
				info->reason = "Bad Wildcard Contact";
				return RP_REG_BAD_REQUEST;
			}
			*star = true;
			continue;
		}
		if (c->na.uri.scheme != SIP_SCHEME_SIP && c->na.uri.scheme != SIP_SCHEME_SIPS) {
			info->err_off = sip_msg_off(m, c->na.uri_str);
			info->reason = "Contact Not A SIP URI";
			return RP_REG_BAD_REQUEST;
		}
		c->expires = hdr_exp;
		if (sip_hdr_param_find(c->na.params, "expires", &v) &&
		    !parse_delta(v, &c->expires)) {
			info->err_off = sip_msg_off(m, v);
			info->reason = "Bad Contact Expires";
			return RP_REG_BAD_REQUEST;
		}
		if (c->expires > 0 && c->expires < mn) {
			info->min_expires = mn;
			return RP_REG_INTERVAL_TOO_BRIEF;
		}
		if (c->expires > mx)
			c->expires = mx;
		c->q = 1000;
		if (sip_hdr_param_find(c->na.params, "q", &v)) {
			if (!parse_q(v, &c->q)) {
				info->err_off = sip_msg_off(m, v);
				info->reason = "Bad Contact q";
				return RP_REG_BAD_REQUEST;
			}
			c->q_given = true;
		}
		if (sip_hdr_param_find(c->na.params, "+sip.instance", &v) && v.n) {
			c->instance = v;
			if (sip_hdr_param_find(c->na.params, "reg-id", &v) &&
			    rp_str_to_u32(v, &c->reg_id) != 0) {
				info->err_off = sip_msg_off(m, v);
				info->reason = "Bad reg-id";
				return RP_REG_BAD_REQUEST;
			}
		}
		if (contact_key(&c->na, c->instance, c->reg_id, c->key, sizeof(c->key)) < 0) {
			info->err_off = sip_msg_off(m, c->na.raw);
			info->reason = "Contact Too Long";
			return RP_REG_BAD_REQUEST;
		}
		c->existing = -1;
		c->nb = NULL; /* past the memset: the unwind path frees every nb */
		/* The same contact twice: the last one counts. */
		for (size_t k = 0; k < n; k++)
			if (!cs[k].dup && strcmp(cs[k].key, c->key) == 0)
				cs[k].dup = true;
		n++;
	}
	*ncs = n;
	return RP_REG_OK;
}

/* Path values joined with ","; User-Agent, capped. */
static bool collect_path(const struct sip_msg *m, char *buf, size_t bufsz, rp_str *out)
{
	struct sip_hdr_iter it;
	rp_str v;
	size_t o = 0;

	sip_hdr_iter_init(&it, m, SIP_HDR_PATH);
	while (sip_hdr_iter_next(&it, &v)) {
		if (o + v.n + 2 > bufsz)
			return false;
		if (o)
			buf[o++] = ',';
		memcpy(buf + o, v.p, v.n);
		o += v.n;
	}
	*out = rp_str_make(buf, o);
	return true;
}

enum rp_reg_result rp_registrar_save(rp_registrar *r, const struct sip_msg *m,
	const struct rp_reg_source *src, uint64_t now_ms, char *hdr_buf,
	size_t hdr_bufsz, struct rp_reg_save_info *info)
{
	struct req_contact *cs;
	struct rp_reg_save_info tmp;
	char aor[KEY_MAX], path[PATH_MAX_LEN];
	rp_str pathv = RP_STR_NULL, ua = RP_STR_NULL;
	struct aor_rec *rec;
	struct shard *sh;
	enum rp_reg_result res;
	size_t ncs = 0, adds = 0, removes = 0, refreshes = 0, newn;
	bool star, counted = false;
	long al, ui;
	struct sip_nameaddr to;
	struct sip_perr perr = { 0 };

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	if (hdr_buf && hdr_bufsz)
		hdr_buf[0] = '\0';
	if (!m->is_request || m->method != SIP_METHOD_REGISTER)
		return reject(r, RP_REG_BAD_REQUEST);
	/* The To URI may not be parsed yet (lazy_req_addr_uri). */
	to = m->to;
	if (sip_nameaddr_parse_uri(&to, &perr) != SIP_OK) {
		info->err_off = sip_msg_off(m, m->to.uri_str) + perr.off;
		return reject(r, RP_REG_BAD_REQUEST);
	}
	al = rp_registrar_aor(r, &to.uri, aor, sizeof(aor));
	if (al < 0) {
		info->err_off = sip_msg_off(m, m->to.uri_str);
		return reject(r, al == -EINVAL && to.uri.scheme != SIP_SCHEME_SIP &&
			to.uri.scheme != SIP_SCHEME_SIPS ? RP_REG_BAD_AOR : RP_REG_BAD_REQUEST);
	}
	if (src->auth_user.n && !sip_uri_part_eq(to.uri.user, src->auth_user)) {
		info->err_off = sip_msg_off(m, m->to.uri_str);
		return reject(r, RP_REG_FORBIDDEN);
	}
	if (!collect_path(m, path, sizeof(path), &pathv)) {
		info->err_off = 0;
		info->reason = "Path Too Long";
		return reject(r, RP_REG_BAD_REQUEST);
	}
	ui = sip_msg_find(m, SIP_HDR_USER_AGENT, 0);
	if (ui >= 0) {
		ua = m->hdrs[ui].value;
		if (ua.n > UA_MAX)
			ua.n = UA_MAX;
	}
	cs = malloc(sizeof(*cs) * MAX_REQ_CONTACTS);
	if (!cs)
		return reject(r, RP_REG_NOMEM);
	res = parse_contacts(r, m, cs, &ncs, &star, info);
	if (res != RP_REG_OK) {
		free(cs);
		return reject(r, res);
	}

	sh = shard_of(r, aor, (size_t)al);
	pthread_mutex_lock(&sh->mu);
	rec = rp_hash_find(sh->h, rp_str_make(aor, (size_t)al));
	if (rec) {
		purge_expired(r, rec, now_ms, NULL);
		/* rec may now be empty; it is dropped below if nothing is added. */
	}
	if (star) {
		for (unsigned i = 0; rec && i < rec->n; i++) {
			const struct binding *b = rec->b[i];

			if (rp_str_eq_cstr(m->call_id, b->call_id) && m->cseq.num <= b->cseq) {
				res = RP_REG_OUT_OF_ORDER;
				goto unlock;
			}
		}
		removes = rec ? rec->n : 0;
		for (unsigned i = 0; rec && i < rec->n; i++)
			binding_free(rec->b[i]);
		if (rec) {
			atomic_fetch_sub(&r->nbindings, rec->n);
			rec->n = 0;
		}
		goto done;
	}
	for (size_t i = 0; i < ncs; i++) {
		struct req_contact *c = &cs[i];

		if (c->dup)
			continue;
		c->existing = rec_find(rec, c->key);
		if (c->existing >= 0) {
			const struct binding *b = rec->b[c->existing];

			if (rp_str_eq_cstr(m->call_id, b->call_id) && m->cseq.num <= b->cseq) {
				res = RP_REG_OUT_OF_ORDER;
				goto unlock;
			}
			if (c->expires == 0)
				removes++;
			else
				refreshes++;
		} else if (c->expires > 0) {
			adds++;
		}
	}
	newn = (rec ? rec->n : 0) + adds - removes;
	if (adds && newn > r->max_contacts) {
		res = RP_REG_TOO_MANY_CONTACTS;
		goto unlock;
	}
	if (adds) {
		if (atomic_fetch_add(&r->nbindings, adds) + adds > r->max_bindings) {
			atomic_fetch_sub(&r->nbindings, adds);
			res = RP_REG_TABLE_FULL;
			goto unlock;
		}
		counted = true;
	}
	/* Allocate everything first so that running out of memory changes nothing. */
	for (size_t i = 0; i < ncs; i++) {
		struct req_contact *c = &cs[i];

		c->nb = NULL;
		if (c->dup || c->expires == 0)
			continue;
		c->nb = binding_new(r, c, m, src, pathv, ua, now_ms);
		if (!c->nb) {
			res = RP_REG_NOMEM;
			goto unwind;
		}
	}
	if (!rec && adds) {
		rec = calloc(1, sizeof(*rec));
		if (!rec || !(rec->aor = dup_str(rp_str_make(aor, (size_t)al)))) {
			free(rec);
			rec = NULL;
			res = RP_REG_NOMEM;
			goto unwind;
		}
		rec->aor_len = (size_t)al;
		if (rp_hash_insert(sh->h, rp_str_make(rec->aor, rec->aor_len), rec) != 0) {
			free(rec->aor);
			free(rec);
			rec = NULL;
			res = RP_REG_NOMEM;
			goto unwind;
		}
		atomic_fetch_add(&r->naors, 1);
	}
	if (rec && (rec->n + adds) > rec->cap) {
		unsigned cap = (unsigned)(rec->n + adds) + 2;
		struct binding **nb = realloc(rec->b, cap * sizeof(*nb));

		if (!nb) {
			res = RP_REG_NOMEM;
			goto unwind;
		}
		rec->b = nb;
		rec->cap = cap;
	}
	/* Apply: indexes of existing bindings stay valid until removals, which
	 * are done last by compaction. */
	for (size_t i = 0; i < ncs; i++) {
		struct req_contact *c = &cs[i];

		if (c->dup)
			continue;
		if (c->existing >= 0) {
			binding_free(rec->b[c->existing]);
			rec->b[c->existing] = c->nb; /* NULL: removed below */
		} else if (c->nb) {
			rec->b[rec->n++] = c->nb;
		}
		c->nb = NULL;
	}
	if (rec) {
		unsigned j = 0;

		for (unsigned i = 0; i < rec->n; i++)
			if (rec->b[i])
				rec->b[j++] = rec->b[i];
		rec->n = j;
	}
	if (removes)
		atomic_fetch_sub(&r->nbindings, removes);
	goto done;

unwind:
	for (size_t i = 0; i < ncs; i++) {
		binding_free(cs[i].nb);
		cs[i].nb = NULL;
	}
	if (counted)
		atomic_fetch_sub(&r->nbindings, adds);
	goto unlock;
done:
	res = RP_REG_OK;
	info->added = (unsigned)adds;
	info->refreshed = (unsigned)refreshes;
	info->removed = (unsigned)removes;
	info->bindings = rec ? rec->n : 0;
	write_contacts(rec, now_ms, hdr_buf, hdr_bufsz, info);
unlock:
	/* Expired bindings purged above may have left the record empty,
	 * whatever the outcome. */
	if (rec)
		rec_drop_if_empty(r, sh, rec);
	pthread_mutex_unlock(&sh->mu);
	free(cs);
	if (res == RP_REG_OK)
		atomic_fetch_add(&r->saves, 1);
	else
		atomic_fetch_add(&r->rejected, 1);
	return res;
}

/* ---- lookup, list ---- */

static size_t sz(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *put(char **p, const char *s)
{
	char *d = *p;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

/* Appends copies of the record's bindings to the list (capacity checked by
 * the caller). 0 or -ENOMEM. */
static int copy_rec(const struct aor_rec *rec, uint64_t now_ms, struct rp_reg_list *l)
{
	for (unsigned i = 0; i < rec->n; i++) {
		const struct binding *b = rec->b[i];
		struct rp_reg_contact *c = &l->v[l->count];
		size_t total = rec->aor_len + 1 + sz(b->uri) + sz(b->path) +
			sz(b->instance) + sz(b->ua) + sz(b->call_id);
		char *blob = malloc(total), *p = blob;

		if (!blob)
			return -ENOMEM;
		memset(c, 0, sizeof(*c));
		c->aor = put(&p, rec->aor);
		c->uri = put(&p, b->uri);
		c->path = put(&p, b->path);
		c->instance = put(&p, b->instance);
		c->user_agent = put(&p, b->ua);
		c->call_id = put(&p, b->call_id);
		c->cseq = b->cseq;
		c->reg_id = b->reg_id;
		c->q = b->q;
		c->expires_ms = b->expires_ms;
		c->expires_in = secs_left(b->expires_ms, now_ms);
		c->updated_ms = b->updated_ms;
		c->updated_seq = b->seq;
		c->tp = b->tp;
		c->source = b->src;
		c->flow_id = b->flow_id;
		c->nat = b->nat;
		l->count++;
	}
	return 0;
}

struct rp_reg_list *rp_reg_list_free(struct rp_reg_list *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->count; i++)
		free((void *)l->v[i].aor);
	free(l->v);
	free(l);
	return NULL;
}

static int cmp_contact(const void *pa, const void *pb)
{
	const struct rp_reg_contact *a = pa, *b = pb;

	if (a->q != b->q)
		return a->q > b->q ? -1 : 1;
	if (a->updated_ms != b->updated_ms)
		return a->updated_ms > b->updated_ms ? -1 : 1;
	if (a->updated_seq != b->updated_seq)
		return a->updated_seq > b->updated_seq ? -1 : 1;
	return 0;
}

static struct rp_reg_list *list_new(size_t cap)
{
	struct rp_reg_list *l = calloc(1, sizeof(*l));

	if (l && cap) {
		l->v = calloc(cap, sizeof(*l->v));
		if (!l->v) {
			free(l);
			return NULL;
		}
	}
	return l;
}

int rp_registrar_lookup(rp_registrar *r, const struct sip_uri *uri,
	uint64_t now_ms, struct rp_reg_list **out)
{
	char aor[KEY_MAX];
	long al = rp_registrar_aor(r, uri, aor, sizeof(aor));
	struct rp_reg_list *l = NULL;
	struct aor_rec *rec;
	struct shard *sh;
	int rc = 0;

	if (al < 0)
		return -EINVAL;
	sh = shard_of(r, aor, (size_t)al);
	pthread_mutex_lock(&sh->mu);
	rec = rp_hash_find(sh->h, rp_str_make(aor, (size_t)al));
	if (rec) {
		purge_expired(r, rec, now_ms, NULL);
		if (rec->n == 0) {
			rec_drop_if_empty(r, sh, rec);
			rec = NULL;
		}
	}
	l = list_new(rec ? rec->n : 0);
	if (!l)
		rc = -ENOMEM;
	else if (rec)
		rc = copy_rec(rec, now_ms, l);
	pthread_mutex_unlock(&sh->mu);
	if (rc) {
		rp_reg_list_free(l);
		return rc;
	}
	if (l->count > 1)
		qsort(l->v, l->count, sizeof(*l->v), cmp_contact);
	*out = l;
	return 0;
}

int rp_registrar_lookup_str(rp_registrar *r, rp_str s, uint64_t now_ms,
	struct rp_reg_list **out)
{
	struct sip_uri u;

	if (sip_uri_parse(s, &u, NULL) != SIP_OK)
		return -EINVAL;
	return rp_registrar_lookup(r, &u, now_ms, out);
}

int rp_registrar_list(rp_registrar *r, uint64_t now_ms, size_t max,
	struct rp_reg_list **out)
{
	struct rp_reg_list *l = list_new(0);
	size_t cap = 0;

	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < NSHARDS; i++) {
		struct shard *sh = &r->sh[i];
		rp_hash_iter it;
		rp_str k;
		void *v;
		int rc = 0;

		pthread_mutex_lock(&sh->mu);
		rp_hash_iter_init(sh->h, &it);
		while (rc == 0 && rp_hash_iter_next(&it, &k, &v)) {
			struct aor_rec *rec = v;

			purge_expired(r, rec, now_ms, NULL);
			if (rec->n == 0) {
				rec_drop_if_empty(r, sh, rec);
				continue;
			}
			if (max && l->count + rec->n > max)
				continue; /* keep whole AORs only */
			if (l->count + rec->n > cap) {
				size_t nc = (l->count + rec->n) * 2 + 16;
				struct rp_reg_contact *nv = realloc(l->v, nc * sizeof(*nv));

				if (!nv) {
					rc = -ENOMEM;
					break;
				}
				l->v = nv;
				cap = nc;
			}
			rc = copy_rec(rec, now_ms, l);
		}
		pthread_mutex_unlock(&sh->mu);
		if (rc) {
			rp_reg_list_free(l);
			return rc;
		}
	}
	*out = l;
	return 0;
}

size_t rp_registrar_sweep(rp_registrar *r, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < NSHARDS; i++) {
		struct shard *sh = &r->sh[i];
		rp_hash_iter it;
		rp_str k;
		void *v;

		pthread_mutex_lock(&sh->mu);
		rp_hash_iter_init(sh->h, &it);
		while (rp_hash_iter_next(&it, &k, &v)) {
			purge_expired(r, v, now_ms, &n);
			rec_drop_if_empty(r, sh, v);
		}
		pthread_mutex_unlock(&sh->mu);
	}
	return n;
}

void rp_registrar_stats(rp_registrar *r, struct rp_reg_stats *st)
{
	st->aors = atomic_load(&r->naors);
	st->bindings = atomic_load(&r->nbindings);
	st->saves = atomic_load(&r->saves);
	st->rejected = atomic_load(&r->rejected);
	st->expired = atomic_load(&r->expired);
}
