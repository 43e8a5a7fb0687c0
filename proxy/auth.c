#include "auth.h"

#include "rp_base64.h"
#include "rp_rand.h"
#include "sip_uri.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* ---- hashing ---- */

static const EVP_MD *alg_md(enum rp_digest_alg a)
{
	switch (a) {
	case RP_DIGEST_MD5:
	case RP_DIGEST_MD5_SESS:
		return EVP_md5();
	case RP_DIGEST_SHA256:
	case RP_DIGEST_SHA256_SESS:
		return EVP_sha256();
	default:
		return NULL;
	}
}

const char *rp_digest_alg_name(enum rp_digest_alg a)
{
	switch (a) {
	case RP_DIGEST_MD5: return "MD5";
	case RP_DIGEST_SHA256: return "SHA-256";
	case RP_DIGEST_MD5_SESS: return "MD5-sess";
	case RP_DIGEST_SHA256_SESS: return "SHA-256-sess";
	default: return "unknown";
	}
}

size_t rp_digest_hex_len(enum rp_digest_alg a)
{
	const EVP_MD *md = alg_md(a);

	return md ? (size_t)EVP_MD_get_size(md) * 2 : 0;
}

static enum rp_digest_alg alg_parse(rp_str s)
{
	if (rp_str_caseeq_cstr(s, "MD5"))
		return RP_DIGEST_MD5;
	if (rp_str_caseeq_cstr(s, "SHA-256"))
		return RP_DIGEST_SHA256;
	if (rp_str_caseeq_cstr(s, "MD5-sess"))
		return RP_DIGEST_MD5_SESS;
	if (rp_str_caseeq_cstr(s, "SHA-256-sess"))
		return RP_DIGEST_SHA256_SESS;
	return RP_DIGEST_UNKNOWN;
}

/* Streaming hash that remembers the first failure, so callers check once. */
struct hx {
	EVP_MD_CTX *c;
	bool ok;
};

static void hx_init(struct hx *h, enum rp_digest_alg a)
{
	const EVP_MD *md = alg_md(a);

	h->c = md ? EVP_MD_CTX_new() : NULL;
	h->ok = h->c && EVP_DigestInit_ex(h->c, md, NULL) == 1;
}

static void hx_add(struct hx *h, rp_str s)
{
	if (h->ok && s.n && EVP_DigestUpdate(h->c, s.p, s.n) != 1)
		h->ok = false;
}

static void hx_colon(struct hx *h)
{
	hx_add(h, RP_STR_LIT(":"));
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hx_final(struct hx *h, char out[RP_DIGEST_HEX_MAX + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int rc = -EIO;

	if (h->ok && EVP_DigestFinal_ex(h->c, md, &n) == 1 && n * 2 <= RP_DIGEST_HEX_MAX) {
		hex_of(md, n, out);
		rc = 0;
	}
	EVP_MD_CTX_free(h->c);
	h->c = NULL;
	explicit_bzero(md, sizeof(md));
	return rc;
}

int rp_digest_ha1(enum rp_digest_alg alg, rp_str user, rp_str realm,
	rp_str password, char out[RP_DIGEST_HEX_MAX + 1])
{
	struct hx h;

	if (alg != RP_DIGEST_MD5 && alg != RP_DIGEST_SHA256)
		return -EINVAL;
	hx_init(&h, alg);
	hx_add(&h, user);
	hx_colon(&h);
	hx_add(&h, realm);
	hx_colon(&h);
	hx_add(&h, password);
	return hx_final(&h, out);
}

static bool is_hex(rp_str s)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* HA1 hex as stored may be upper case (htdigest files are lower; be kind). */
static void lower_into(rp_str s, char *dst)
{
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	dst[s.n] = '\0';
}

int rp_digest_response(enum rp_digest_alg alg, rp_str ha1_hex, rp_str method,
	rp_str uri, rp_str nonce, rp_str nc, rp_str cnonce, rp_str qop,
	char out[RP_DIGEST_HEX_MAX + 1])
{
	char ha1[RP_DIGEST_HEX_MAX + 1], ha2[RP_DIGEST_HEX_MAX + 1];
	size_t hl = rp_digest_hex_len(alg);
	struct hx h;
	int rc;

	if (hl == 0 || ha1_hex.n != hl || !is_hex(ha1_hex))
		return -EINVAL;
	if (qop.n && !rp_str_eq_cstr(qop, "auth"))
		return -ENOTSUP;
	lower_into(ha1_hex, ha1);
	if (alg == RP_DIGEST_MD5_SESS || alg == RP_DIGEST_SHA256_SESS) {
		hx_init(&h, alg);
		hx_add(&h, rp_str_make(ha1, hl));
		hx_colon(&h);
		hx_add(&h, nonce);
		hx_colon(&h);
		hx_add(&h, cnonce);
		rc = hx_final(&h, ha1);
		if (rc)
			goto out;
	}
	hx_init(&h, alg);
	hx_add(&h, method);
	hx_colon(&h);
	hx_add(&h, uri);
	rc = hx_final(&h, ha2);
	if (rc)
		goto out;
	hx_init(&h, alg);
	hx_add(&h, rp_str_make(ha1, hl));
	hx_colon(&h);
	hx_add(&h, nonce);
	hx_colon(&h);
	if (qop.n) {
		hx_add(&h, nc);
		hx_colon(&h);
		hx_add(&h, cnonce);
		hx_colon(&h);
		hx_add(&h, qop);
		hx_colon(&h);
	}
	hx_add(&h, rp_str_make(ha2, hl));
	rc = hx_final(&h, out);
out:
	explicit_bzero(ha1, sizeof(ha1));
	return rc;
}

/* ---- header parsing ---- */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_lws(rp_str v, size_t i)
{
	while (i < v.n && is_lws(v.p[i]))
		i++;
	return i;
}

static bool tokc(char c)
{
	return sip_cis(c, SIP_C_TOKEN);
}

static rp_str *param_slot(struct rp_digest_params *d, rp_str name, bool **has,
	bool *dummy)
{
#define SLOT(n)                                                  \
	if (rp_str_caseeq_cstr(name, #n)) {                      \
		*has = &d->has_##n;                              \
		return &d->n;                                    \
	}
	SLOT(username) SLOT(realm) SLOT(nonce) SLOT(uri) SLOT(response)
	SLOT(algorithm) SLOT(cnonce) SLOT(opaque) SLOT(qop) SLOT(nc)
#undef SLOT
	*has = dummy;
	if (rp_str_caseeq_cstr(name, "stale"))
		return &d->stale;
	if (rp_str_caseeq_cstr(name, "domain"))
		return &d->domain;
	if (rp_str_caseeq_cstr(name, "userhash"))
		return &d->userhash;
	return NULL;
}

int rp_digest_parse(rp_str v, struct rp_digest_params *out, size_t *err_off)
{
	struct rp_digest_params d;
	size_t i = skip_lws(v, 0), s;
	bool first = true;

	memset(&d, 0, sizeof(d));
	s = i;
	while (i < v.n && tokc(v.p[i]))
		i++;
	if (!rp_str_caseeq_cstr(rp_str_make(v.p + s, i - s), "Digest")) {
		if (err_off)
			*err_off = s;
		return i > s ? -ENOTSUP : -EINVAL;
	}
	if (i >= v.n || !is_lws(v.p[i]))
		goto bad;
	for (;;) {
		rp_str name, val;
		bool *has, dummy = false;
		rp_str *slot;

		i = skip_lws(v, i);
		if (!first) {
			if (i == v.n)
				break;
			if (v.p[i] != ',')
				goto bad;
			i = skip_lws(v, i + 1);
		}
		first = false;
		s = i;
		while (i < v.n && tokc(v.p[i]))
			i++;
		if (i == s)
			goto bad;
		name = rp_str_make(v.p + s, i - s);
		i = skip_lws(v, i);
		if (i == v.n || v.p[i] != '=')
			goto bad;
		i = skip_lws(v, i + 1);
		if (i < v.n && v.p[i] == '"') {
			s = ++i;
			while (i < v.n && v.p[i] != '"') {
				if (v.p[i] == '\\') {
					d.escaped = true;
					if (++i == v.n)
						goto bad;
				} else if (v.p[i] == '\r' || v.p[i] == '\n') {
					goto bad;
				}
				i++;
			}
			if (i == v.n)
				goto bad;
			val = rp_str_make(v.p + s, i - s);
			i++;
		} else {
			s = i;
			while (i < v.n && tokc(v.p[i]))
				i++;
			if (i == s)
				goto bad;
			val = rp_str_make(v.p + s, i - s);
		}
		slot = param_slot(&d, name, &has, &dummy);
		if (slot) {
			if (*has || slot->p) {
				i = (size_t)(name.p - v.p);
				goto bad;
			}
			*slot = val; /* val.p is never NULL: a repeat is caught */
			*has = true;
		}
	}
	*out = d;
	return 0;
bad:
	if (err_off)
		*err_off = i;
	return -EINVAL;
}

long rp_digest_unquote(rp_str s, char *dst, size_t dstsz)
{
	size_t o = 0;

	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '\\' && i + 1 < s.n)
			c = s.p[++i];
		if (o + 1 >= dstsz)
			return -ENOSPC;
		dst[o++] = c;
	}
	if (dstsz == 0)
		return -ENOSPC;
	dst[o] = '\0';
	return (long)o;
}

/* ---- server side ---- */

#define SECRET_LEN 32
#define NONCE_RAW 32 /* 8 timestamp + 8 salt + 16 MAC */
#define NONCE_B64 44
#define NC_WAYS 4
#define NC_SHARDS 16
#define MAX_REALM 256

struct nc_entry {
	uint8_t id[16];       /* timestamp + salt of the nonce */
	uint64_t ts_ms;
	uint32_t max_nc;
	uint64_t window;      /* bit k: max_nc - k seen */
	bool used;
};

struct nc_shard {
	pthread_mutex_t mu;
	struct nc_entry *e;   /* nsets * NC_WAYS */
	size_t nsets;
	uint64_t watermark;   /* newest timestamp of an evicted live nonce */
};

struct rp_auth {
	uint8_t secret[SECRET_LEN];
	uint64_t ttl_ms;
	struct nc_shard shards[NC_SHARDS];
};

int rp_auth_new(const struct rp_auth_opts *opts, rp_auth **out)
{
	uint32_t slots = opts && opts->nc_slots ? opts->nc_slots : 16384;
	uint32_t ttl = opts && opts->nonce_ttl_s ? opts->nonce_ttl_s : 300;
	size_t nsets = (slots + NC_SHARDS * NC_WAYS - 1) / (NC_SHARDS * NC_WAYS);
	rp_auth *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	rc = rp_rand_bytes(a->secret, sizeof(a->secret));
	if (rc) {
		free(a);
		return rc;
	}
	a->ttl_ms = (uint64_t)ttl * 1000;
	/* Every mutex first: rp_auth_free() destroys them all. */
	for (size_t i = 0; i < NC_SHARDS; i++)
		pthread_mutex_init(&a->shards[i].mu, NULL);
	for (size_t i = 0; i < NC_SHARDS; i++) {
		struct nc_shard *sh = &a->shards[i];

		sh->nsets = nsets;
		sh->e = calloc(nsets * NC_WAYS, sizeof(*sh->e));
		if (!sh->e) {
			rp_auth_free(a);
			return -ENOMEM;
		}
	}
	*out = a;
	return 0;
}

rp_auth *rp_auth_free(rp_auth *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < NC_SHARDS; i++) {
		free(a->shards[i].e);
		pthread_mutex_destroy(&a->shards[i].mu);
	}
	explicit_bzero(a->secret, sizeof(a->secret));
	free(a);
	return NULL;
}

static const char *const result_names[RP_AUTH__COUNT] = {
	[RP_AUTH_OK] = "ok",
	[RP_AUTH_NO_CREDENTIALS] = "missing credentials",
	[RP_AUTH_WRONG_REALM] = "credentials for another realm",
	[RP_AUTH_MALFORMED] = "malformed credentials",
	[RP_AUTH_UNKNOWN_ALGORITHM] = "unknown algorithm",
	[RP_AUTH_BAD_QOP] = "qop missing or not auth",
	[RP_AUTH_UNKNOWN_USER] = "unknown user",
	[RP_AUTH_BAD_NONCE] = "invalid nonce",
	[RP_AUTH_STALE_NONCE] = "stale nonce",
	[RP_AUTH_NC_REPLAY] = "nonce count replayed",
	[RP_AUTH_BAD_OPAQUE] = "wrong opaque",
	[RP_AUTH_URI_MISMATCH] = "uri differs from Request-URI",
	[RP_AUTH_BAD_RESPONSE] = "bad response (wrong password?)",
	[RP_AUTH_NO_HASH] = "no stored hash for the algorithm",
	[RP_AUTH_INTERNAL] = "internal error",
};

const char *rp_auth_result_name(enum rp_auth_result r)
{
	return (unsigned)r < RP_AUTH__COUNT ? result_names[r] : "?";
}

unsigned rp_auth_result_status(enum rp_auth_result r, bool is_register)
{
	switch (r) {
	case RP_AUTH_OK:
		return 0;
	case RP_AUTH_MALFORMED:
	case RP_AUTH_URI_MISMATCH:
		return 400;
	case RP_AUTH_UNKNOWN_USER:
	case RP_AUTH_BAD_RESPONSE:
		return 403;
	case RP_AUTH_INTERNAL:
	case RP_AUTH__COUNT:
		return 500;
	default:
		return is_register ? 401 : 407;
	}
}

const char *rp_auth_result_reason(enum rp_auth_result r)
{
	switch (r) {
	case RP_AUTH_MALFORMED:
		return "Malformed Credentials";
	case RP_AUTH_URI_MISMATCH:
		return "Digest URI Mismatch";
	default:
		/* 403 stays "Forbidden": unknown user and wrong password must
		 * look the same from outside. */
		return NULL;
	}
}

static int put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
	return 0;
}

static uint64_t get_u64be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* HMAC-SHA256(secret, tag | data | realm), first 'n' bytes into out. */
static int mac(const rp_auth *a, const char *tag, const uint8_t *data,
	size_t dn, rp_str realm, uint8_t *out, size_t n)
{
	uint8_t buf[16 + 8 + MAX_REALM], md[EVP_MAX_MD_SIZE];
	size_t tl = strlen(tag), bl = 0;
	unsigned ml = 0;

	if (tl + dn + realm.n > sizeof(buf))
		return -EINVAL;
	memcpy(buf, tag, tl);
	bl = tl;
	if (dn)
		memcpy(buf + bl, data, dn);
	bl += dn;
	if (realm.n)
		memcpy(buf + bl, realm.p, realm.n);
	bl += realm.n;
	if (!HMAC(EVP_sha256(), a->secret, SECRET_LEN, buf, bl, md, &ml) || ml < n)
		return -EIO;
	memcpy(out, md, n);
	explicit_bzero(md, sizeof(md));
	return 0;
}

static int make_opaque(const rp_auth *a, rp_str realm, char out[17])
{
	uint8_t m[8];
	int rc = mac(a, "opq|", NULL, 0, realm, m, sizeof(m));

	if (rc == 0)
		hex_of(m, sizeof(m), out);
	return rc;
}

static bool realm_ok(rp_str realm)
{
	if (realm.n == 0 || realm.n > MAX_REALM)
		return false;
	for (size_t i = 0; i < realm.n; i++) {
		char c = realm.p[i];

		if (c == '"' || c == '\\' || c == '\r' || c == '\n' || c == '\0')
			return false;
	}
	return true;
}

int rp_auth_challenge(rp_auth *a, rp_str realm, bool proxy, bool stale,
	uint64_t now_ms, char *buf, size_t bufsz, size_t *outlen)
{
	return rp_auth_challenge_offer(a, realm, proxy, stale, RP_AUTH_OFFER_ALL, now_ms,
		buf, bufsz, outlen);
}

int rp_auth_challenge_offer(rp_auth *a, rp_str realm, bool proxy, bool stale,
	unsigned offer, uint64_t now_ms, char *buf, size_t bufsz, size_t *outlen)
{
	static const enum rp_digest_alg algs[2] = { RP_DIGEST_SHA256, RP_DIGEST_MD5 };
	uint8_t raw[NONCE_RAW];
	char nonce[NONCE_B64 + 1], opaque[17];
	size_t nl, off = 0;
	int rc;

	if (!realm_ok(realm))
		return -EINVAL;
	put_u64be(raw, now_ms);
	rc = rp_rand_bytes(raw + 8, 8);
	if (rc)
		return rc;
	rc = mac(a, "nonce|", raw, 16, realm, raw + 16, 16);
	if (rc == 0)
		rc = make_opaque(a, realm, opaque);
	if (rc)
		return rc;
	if (rp_base64_encode(raw, sizeof(raw), nonce, sizeof(nonce) - 1, &nl))
		return -EIO;
	nonce[nl] = '\0';
	if ((offer & RP_AUTH_OFFER_ALL) == 0)
		offer = RP_AUTH_OFFER_ALL;
	for (int i = 0; i < 2; i++) {
		int n;

		if (!(offer & (i == 0 ? RP_AUTH_OFFER_SHA256 : RP_AUTH_OFFER_MD5)))
			continue;
		n = snprintf(buf + off, bufsz - off,
			"%s: Digest realm=\"%.*s\", nonce=\"%s\", opaque=\"%s\", "
			"algorithm=%s, qop=\"auth\"%s\r\n",
			proxy ? "Proxy-Authenticate" : "WWW-Authenticate",
			RP_STR_FMT(realm), nonce, opaque, rp_digest_alg_name(algs[i]),
			stale ? ", stale=true" : "");

		if (n < 0 || (size_t)n >= bufsz - off) {
			if (bufsz)
				buf[0] = '\0';
			return -ENOSPC;
		}
		off += (size_t)n;
	}
	*outlen = off;
	return 0;
}

enum nonce_state { NONCE_VALID, NONCE_BAD, NONCE_STALE };

static enum nonce_state nonce_check(const rp_auth *a, rp_str nonce, rp_str realm,
	uint64_t now_ms, uint8_t raw[NONCE_RAW])
{
	uint8_t m[16];
	size_t n;
	uint64_t ts;

	if (nonce.n != NONCE_B64 ||
	    rp_base64_decode(nonce, raw, NONCE_RAW, &n, NULL) || n != NONCE_RAW)
		return NONCE_BAD;
	if (mac(a, "nonce|", raw, 16, realm, m, sizeof(m)) ||
	    CRYPTO_memcmp(m, raw + 16, sizeof(m)) != 0)
		return NONCE_BAD;
	ts = get_u64be(raw);
	if (ts > now_ms + 1000) /* from the future: not from this clock */
		return NONCE_BAD;
	if (now_ms > ts && now_ms - ts > a->ttl_ms)
		return NONCE_STALE;
	return NONCE_VALID;
}

static uint64_t id_hash(const uint8_t id[16])
{
	uint64_t h = 1469598103934665603ull;

	/* The salt is random and unforgeable (MAC'd): any mix spreads it. */
	for (int i = 0; i < 16; i++)
		h = (h ^ id[i]) * 1099511628211ull;
	return h;
}

/* An entry whose nonce no verification can accept any more. The margin
 * covers workers whose "now" lags this one's: an entry dropped as expired
 * must stay expired for them too, or its nonce would look new. */
#define GONE_MARGIN_MS 10000

static bool gone(const rp_auth *a, const struct nc_entry *e, uint64_t now_ms)
{
	return now_ms > e->ts_ms && now_ms - e->ts_ms > a->ttl_ms + GONE_MARGIN_MS;
}

/* Records nc for a nonce with a valid MAC: 0 ok, RP_AUTH_NC_REPLAY, or
 * RP_AUTH_STALE_NONCE when this nonce's history may have been evicted. */
static enum rp_auth_result nc_record(rp_auth *a, const uint8_t raw[NONCE_RAW],
	uint32_t nc, uint64_t now_ms)
{
	uint64_t h = id_hash(raw);
	struct nc_shard *sh = &a->shards[h % NC_SHARDS];
	uint64_t ts = get_u64be(raw);
	enum rp_auth_result r = RP_AUTH_OK;
	struct nc_entry *set, *victim = NULL;

	pthread_mutex_lock(&sh->mu);
	set = &sh->e[(h / NC_SHARDS) % sh->nsets * NC_WAYS];
	for (int w = 0; w < NC_WAYS; w++) {
		struct nc_entry *e = &set[w];

		if (!e->used || memcmp(e->id, raw, 16) != 0)
			continue;
		if (nc > e->max_nc) {
			uint32_t d = nc - e->max_nc;

			e->window = d >= 64 ? 1 : (e->window << d) | 1;
			e->max_nc = nc;
		} else {
			uint32_t d = e->max_nc - nc;

			if (d >= 64 || (e->window >> d) & 1)
				r = RP_AUTH_NC_REPLAY;
			else
				e->window |= 1ull << d;
		}
		goto out;
	}
	if (ts <= sh->watermark) {
		r = RP_AUTH_STALE_NONCE;
		goto out;
	}
	for (int w = 0; w < NC_WAYS; w++) {
		struct nc_entry *e = &set[w];

		if (!e->used || gone(a, e, now_ms)) {
			victim = e; /* free, or expired: no history worth keeping */
			break;
		}
		if (!victim || e->ts_ms < victim->ts_ms)
			victim = e;
	}
	if (victim->used && !gone(a, victim, now_ms) &&
	    victim->ts_ms > sh->watermark)
		sh->watermark = victim->ts_ms;
	memcpy(victim->id, raw, 16);
	victim->ts_ms = ts;
	victim->max_nc = nc;
	victim->window = 1;
	victim->used = true;
out:
	pthread_mutex_unlock(&sh->mu);
	return r;
}

static bool uri_same(rp_str a, rp_str b)
{
	struct sip_uri ua, ub;

	if (rp_str_eq(a, b))
		return true;
	if (sip_uri_parse(a, &ua, NULL) != SIP_OK || sip_uri_parse(b, &ub, NULL) != SIP_OK)
		return false;
	return ua.scheme == ub.scheme && ua.scheme != SIP_SCHEME_OTHER &&
	       sip_uri_part_eq(ua.user, ub.user) && rp_str_caseeq(ua.host, ub.host) &&
	       ua.port == ub.port;
}

struct cred_lookup {
	const char *ha1_md5, *ha1_sha256;
};

static unsigned offer_of(const struct cred_lookup *cl)
{
	return (cl->ha1_sha256 ? RP_AUTH_OFFER_SHA256 : 0u) |
	       (cl->ha1_md5 ? RP_AUTH_OFFER_MD5 : 0u);
}

static bool find_creds(const struct cfg *cfg, rp_str user, rp_str realm,
	struct rp_auth_info *info, struct cred_lookup *cl)
{
	const struct cfg_user *u;

	if (!cfg)
		return false;
	u = cfg_user_find(cfg, user, realm);
	if (u) {
		info->user = u;
		cl->ha1_md5 = u->ha1_md5;
		cl->ha1_sha256 = u->ha1_sha256;
		return true;
	}
	for (size_t i = 0; i < cfg_trunk_count(cfg); i++) {
		const struct cfg_trunk *t = cfg_trunk_at(cfg, i);

		if (t->auth_user && t->auth_realm &&
		    rp_str_eq_cstr(user, t->auth_user) &&
		    rp_str_caseeq_cstr(realm, t->auth_realm)) {
			info->trunk = t;
			cl->ha1_md5 = t->auth_ha1_md5;
			cl->ha1_sha256 = t->auth_ha1_sha256;
			return true;
		}
	}
	return false;
}

#define UQ_MAX 512
#define URI_MAX 2048

static bool parse_nc(rp_str s, uint32_t *out)
{
	uint32_t v = 0;

	if (s.n != 8 || !is_hex(s))
		return false;
	for (size_t i = 0; i < 8; i++) {
		char c = s.p[i];
		unsigned d = c <= '9' ? (unsigned)(c - '0') :
			(unsigned)((c | 32) - 'a' + 10);

		v = v << 4 | d;
	}
	*out = v;
	return v != 0;
}

/* Verification of parsed credentials whose realm is already known to be
 * ours. 'base' is the offset of the value for error positions. */
static enum rp_auth_result verify_params(rp_auth *a, const struct rp_digest_params *d,
	rp_str method, rp_str ruri, rp_str realm, const struct cfg *cfg,
	uint64_t now_ms, struct rp_auth_info *info)
{
	char user[UQ_MAX], nonce[UQ_MAX], cnonce[UQ_MAX], uri[URI_MAX];
	char opaque[17], opq_in[UQ_MAX], expect[RP_DIGEST_HEX_MAX + 1];
	char resp[RP_DIGEST_HEX_MAX + 1];
	uint8_t raw[NONCE_RAW];
	struct cred_lookup cl = { 0 };
	enum rp_auth_result r;
	long ul, nl, cl_len, url;
	const char *ha1;
	uint32_t nc;
	size_t hl;

	if (!d->has_username || !d->has_nonce || !d->has_uri || !d->has_response) {
		info->err_off = 0;
		return RP_AUTH_MALFORMED;
	}
	info->username = d->username;
	info->alg = d->has_algorithm ? alg_parse(d->algorithm) : RP_DIGEST_MD5;
	if (info->alg != RP_DIGEST_MD5 && info->alg != RP_DIGEST_SHA256)
		return RP_AUTH_UNKNOWN_ALGORITHM;
	if (!d->has_qop || !rp_str_eq_cstr(d->qop, "auth"))
		return RP_AUTH_BAD_QOP;
	if (!d->has_nc || !d->has_cnonce || !parse_nc(d->nc, &nc) || d->cnonce.n == 0)
		return RP_AUTH_MALFORMED;
	ul = rp_digest_unquote(d->username, user, sizeof(user));
	nl = rp_digest_unquote(d->nonce, nonce, sizeof(nonce));
	cl_len = rp_digest_unquote(d->cnonce, cnonce, sizeof(cnonce));
	url = rp_digest_unquote(d->uri, uri, sizeof(uri));
	if (ul <= 0 || nl < 0 || cl_len < 0 || url <= 0)
		return RP_AUTH_MALFORMED;
	switch (nonce_check(a, rp_str_make(nonce, (size_t)nl), realm, now_ms, raw)) {
	case NONCE_BAD:
		return RP_AUTH_BAD_NONCE;
	case NONCE_STALE:
		return RP_AUTH_STALE_NONCE;
	case NONCE_VALID:
		break;
	}
	if (d->has_opaque) {
		long ol = rp_digest_unquote(d->opaque, opq_in, sizeof(opq_in));

		if (make_opaque(a, realm, opaque))
			return RP_AUTH_INTERNAL;
		if (ol != 16 || CRYPTO_memcmp(opq_in, opaque, 16) != 0)
			return RP_AUTH_BAD_OPAQUE;
	}
	if (!uri_same(rp_str_make(uri, (size_t)url), ruri))
		return RP_AUTH_URI_MISMATCH;
	if (!find_creds(cfg, rp_str_make(user, (size_t)ul), realm, info, &cl))
		return RP_AUTH_UNKNOWN_USER;
	info->offer = offer_of(&cl);
	ha1 = info->alg == RP_DIGEST_SHA256 ? cl.ha1_sha256 : cl.ha1_md5;
	hl = rp_digest_hex_len(info->alg);
	if (!ha1 || strlen(ha1) != hl)
		return RP_AUTH_NO_HASH;
	if (d->response.n != hl || !is_hex(d->response))
		return RP_AUTH_BAD_RESPONSE;
	if (rp_digest_response(info->alg, rp_str_cstr(ha1), method,
			rp_str_make(uri, (size_t)url), rp_str_make(nonce, (size_t)nl),
			d->nc, rp_str_make(cnonce, (size_t)cl_len), d->qop, expect))
		return RP_AUTH_INTERNAL;
	lower_into(d->response, resp);
	r = CRYPTO_memcmp(resp, expect, hl) == 0 ? RP_AUTH_OK : RP_AUTH_BAD_RESPONSE;
	explicit_bzero(expect, sizeof(expect));
	if (r != RP_AUTH_OK)
		return r;
	return nc_record(a, raw, nc, now_ms);
}

static enum rp_auth_result verify_one(rp_auth *a, rp_str value, rp_str method,
	rp_str ruri, rp_str realm, const struct cfg *cfg, uint64_t now_ms,
	struct rp_auth_info *info, bool *other_realm)
{
	struct rp_digest_params d;
	char rbuf[UQ_MAX];
	size_t off = 0;
	long rl;
	int rc = rp_digest_parse(value, &d, &off);

	if (rc) {
		info->err_off = off;
		return rc == -ENOTSUP ? RP_AUTH_NO_CREDENTIALS : RP_AUTH_MALFORMED;
	}
	if (!d.has_realm) {
		info->err_off = 0;
		return RP_AUTH_MALFORMED;
	}
	rl = rp_digest_unquote(d.realm, rbuf, sizeof(rbuf));
	if (rl < 0 || !rp_str_eq(rp_str_make(rbuf, (size_t)rl), realm)) {
		*other_realm = true;
		return RP_AUTH_WRONG_REALM;
	}
	return verify_params(a, &d, method, ruri, realm, cfg, now_ms, info);
}

enum rp_auth_result rp_auth_verify_value(rp_auth *a, rp_str value,
	rp_str method, rp_str ruri, rp_str realm, const struct cfg *cfg,
	uint64_t now_ms, struct rp_auth_info *info)
{
	struct rp_auth_info tmp;
	bool other = false;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	return verify_one(a, value, method, ruri, realm, cfg, now_ms, info, &other);
}

enum rp_auth_result rp_auth_verify(rp_auth *a, const struct sip_msg *m,
	rp_str realm, bool proxy, const struct cfg *cfg, uint64_t now_ms,
	struct rp_auth_info *info)
{
	enum sip_hdr_id id = proxy ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;
	enum rp_auth_result res = RP_AUTH_NO_CREDENTIALS;
	struct rp_auth_info tmp;
	long i;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	for (i = sip_msg_find(m, id, 0); i >= 0; i = sip_msg_find(m, id, (size_t)i + 1)) {
		const struct sip_hdr *h = &m->hdrs[i];
		bool other = false;

		memset(info, 0, sizeof(*info));
		res = verify_one(a, h->value, m->method_str, m->ruri_str, realm, cfg,
			now_ms, info, &other);
		if (res == RP_AUTH_MALFORMED)
			info->err_off += sip_msg_off(m, h->value);
		if (!other && res != RP_AUTH_NO_CREDENTIALS)
			return res;
		/* Other realm or other scheme: look at the next header. */
		res = other ? RP_AUTH_WRONG_REALM : RP_AUTH_NO_CREDENTIALS;
	}
	return res;
}

/* ---- client side ---- */

static int rank(enum rp_digest_alg a)
{
	switch (a) {
	case RP_DIGEST_SHA256: return 0;
	case RP_DIGEST_MD5: return 1;
	case RP_DIGEST_SHA256_SESS: return 2;
	case RP_DIGEST_MD5_SESS: return 3;
	default: return 99;
	}
}

/* qop-options: a comma list inside the quotes; is "auth" one of them? */
static bool qop_has_auth(rp_str q)
{
	size_t i = 0;

	while (i < q.n) {
		size_t s;

		while (i < q.n && (is_lws(q.p[i]) || q.p[i] == ','))
			i++;
		s = i;
		while (i < q.n && !is_lws(q.p[i]) && q.p[i] != ',')
			i++;
		if (rp_str_eq_cstr(rp_str_make(q.p + s, i - s), "auth"))
			return true;
	}
	return false;
}

/* Checks one challenge: 0 usable, -ENOTSUP, -EINVAL. */
static int chal_check(rp_str value, struct rp_digest_params *d, enum rp_digest_alg *alg)
{
	int rc = rp_digest_parse(value, d, NULL);

	if (rc)
		return rc;
	if (!d->has_realm || !d->has_nonce)
		return -EINVAL;
	*alg = d->has_algorithm ? alg_parse(d->algorithm) : RP_DIGEST_MD5;
	if (*alg == RP_DIGEST_UNKNOWN)
		return -ENOTSUP;
	if (d->has_qop && !qop_has_auth(d->qop))
		return -ENOTSUP;
	return 0;
}

static int chal_copy(struct rp_auth_client *c, const struct rp_digest_params *d,
	enum rp_digest_alg alg, bool proxy)
{
	struct rp_auth_client n;

	memset(&n, 0, sizeof(n));
	n.alg = alg;
	n.proxy = proxy;
	n.qop_auth = d->has_qop;
	n.has_opaque = d->has_opaque;
	if (rp_digest_unquote(d->realm, n.realm, sizeof(n.realm)) < 0 ||
	    rp_digest_unquote(d->nonce, n.nonce, sizeof(n.nonce)) < 0 ||
	    (d->has_opaque && rp_digest_unquote(d->opaque, n.opaque, sizeof(n.opaque)) < 0)) {
		explicit_bzero(&n, sizeof(n));
		return -ENAMETOOLONG;
	}
	rp_auth_client_wipe(c);
	*c = n;
	explicit_bzero(&n, sizeof(n));
	return 0;
}

int rp_auth_client_set(struct rp_auth_client *c, rp_str value, bool proxy)
{
	struct rp_digest_params d;
	enum rp_digest_alg alg;
	int rc = chal_check(value, &d, &alg);

	return rc ? rc : chal_copy(c, &d, alg, proxy);
}

int rp_auth_client_pick(const struct sip_msg *resp, struct rp_auth_client *c)
{
	static const enum sip_hdr_id ids[2] = { SIP_HDR_PROXY_AUTHENTICATE,
		SIP_HDR_WWW_AUTHENTICATE };
	struct rp_digest_params best;
	enum rp_digest_alg best_alg = RP_DIGEST_UNKNOWN;
	bool best_proxy = false, unsupported = false, malformed = false;

	for (int k = 0; k < 2; k++) {
		for (long i = sip_msg_find(resp, ids[k], 0); i >= 0;
		     i = sip_msg_find(resp, ids[k], (size_t)i + 1)) {
			struct rp_digest_params d;
			enum rp_digest_alg alg;
			int rc = chal_check(resp->hdrs[i].value, &d, &alg);

			if (rc == -ENOTSUP)
				unsupported = true;
			else if (rc)
				malformed = true;
			else if (rank(alg) < rank(best_alg)) {
				best = d;
				best_alg = alg;
				best_proxy = ids[k] == SIP_HDR_PROXY_AUTHENTICATE;
			}
		}
	}
	if (best_alg == RP_DIGEST_UNKNOWN)
		return malformed ? -EINVAL : unsupported ? -ENOTSUP : -ENOENT;
	return chal_copy(c, &best, best_alg, best_proxy);
}

/* Appends printf output; false when it does not fit. */
static bool app(char *buf, size_t bufsz, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool app(char *buf, size_t bufsz, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= bufsz)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, bufsz - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= bufsz - *off)
		return false;
	*off += (size_t)n;
	return true;
}

/* Appends "s" as a quoted-string, escaping '"' and '\'; CR/LF/NUL refused. */
static bool app_quoted(char *buf, size_t bufsz, size_t *off, const char *s)
{
	if (!app(buf, bufsz, off, "\""))
		return false;
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n')
			return false;
		if ((*s == '"' || *s == '\\') && !app(buf, bufsz, off, "\\"))
			return false;
		if (!app(buf, bufsz, off, "%c", *s))
			return false;
	}
	return app(buf, bufsz, off, "\"");
}

int rp_auth_client_authorize(struct rp_auth_client *c,
	const struct rp_auth_creds *cr, rp_str method, rp_str uri,
	const char *cnonce, char *buf, size_t bufsz, size_t *outlen)
{
	enum rp_digest_alg base = (c->alg == RP_DIGEST_MD5 || c->alg == RP_DIGEST_MD5_SESS) ?
		RP_DIGEST_MD5 : RP_DIGEST_SHA256;
	char ha1[RP_DIGEST_HEX_MAX + 1], resp[RP_DIGEST_HEX_MAX + 1], ncs[9];
	const char *stored = base == RP_DIGEST_MD5 ? cr->ha1_md5 : cr->ha1_sha256;
	size_t off = 0;
	int rc;

	if (!cr->username || rp_digest_hex_len(c->alg) == 0 ||
	    strpbrk(cr->username, "\r\n"))
		return -EINVAL;
	for (size_t i = 0; i < uri.n; i++)
		if (uri.p[i] == '"' || uri.p[i] == '\\' || uri.p[i] == '\r' || uri.p[i] == '\n')
			return -EINVAL;
	if (c->nc == UINT32_MAX)
		return -EOVERFLOW;
	if (cnonce) {
		if (strlen(cnonce) >= sizeof(c->cnonce) || strchr(cnonce, '"') || strchr(cnonce, '\\'))
			return -EINVAL;
		strcpy(c->cnonce, cnonce);
	} else {
		uint8_t r[16];

		rc = rp_rand_bytes(r, sizeof(r));
		if (rc)
			return rc;
		hex_of(r, sizeof(r), c->cnonce);
	}
	if (stored && strlen(stored) == rp_digest_hex_len(base)) {
		snprintf(ha1, sizeof(ha1), "%s", stored);
	} else if (cr->password) {
		rc = rp_digest_ha1(base, rp_str_cstr(cr->username), rp_str_cstr(c->realm),
			rp_str_cstr(cr->password), ha1);
		if (rc)
			return rc;
	} else {
		return -EINVAL;
	}
	snprintf(ncs, sizeof(ncs), "%08x", c->nc + 1);
	rc = rp_digest_response(c->alg, rp_str_cstr(ha1), method, uri,
		rp_str_cstr(c->nonce), rp_str_cstr(ncs), rp_str_cstr(c->cnonce),
		c->qop_auth ? RP_STR_LIT("auth") : RP_STR_NULL, resp);
	explicit_bzero(ha1, sizeof(ha1));
	if (rc)
		return rc;
	if (!app(buf, bufsz, &off, "Digest username=") ||
	    !app_quoted(buf, bufsz, &off, cr->username) ||
	    !app(buf, bufsz, &off, ", realm=") ||
	    !app_quoted(buf, bufsz, &off, c->realm) ||
	    !app(buf, bufsz, &off, ", nonce=") ||
	    !app_quoted(buf, bufsz, &off, c->nonce) ||
	    !app(buf, bufsz, &off, ", uri=\"%.*s\", response=\"%s\", algorithm=%s",
		    RP_STR_FMT(uri), resp, rp_digest_alg_name(c->alg)))
		goto nospace;
	if (c->has_opaque && (!app(buf, bufsz, &off, ", opaque=") ||
			      !app_quoted(buf, bufsz, &off, c->opaque)))
		goto nospace;
	if (c->qop_auth && !app(buf, bufsz, &off, ", qop=auth, nc=%s, cnonce=\"%s\"",
				 ncs, c->cnonce))
		goto nospace;
	c->nc++;
	*outlen = off;
	return 0;
nospace:
	if (bufsz)
		buf[0] = '\0';
	return -ENOSPC;
}

void rp_auth_client_wipe(struct rp_auth_client *c)
{
	explicit_bzero(c, sizeof(*c));
}
