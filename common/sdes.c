#include "sdes.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "rp_base64.h"
#include "rp_rand.h"

static const struct sdes_suite_info suites[SDES_SUITE_COUNT] = {
	{ "AES_CM_128_HMAC_SHA1_80", SDES_AES_CM_128_HMAC_SHA1_80,
		16, 14, 10, 10, false, true, true },
	{ "AES_CM_128_HMAC_SHA1_32", SDES_AES_CM_128_HMAC_SHA1_32,
		16, 14, 4, 10, false, true, true },
	{ "AES_192_CM_HMAC_SHA1_80", SDES_AES_192_CM_HMAC_SHA1_80,
		24, 14, 10, 10, false, true, true },
	{ "AES_192_CM_HMAC_SHA1_32", SDES_AES_192_CM_HMAC_SHA1_32,
		24, 14, 4, 10, false, true, true },
	{ "AES_256_CM_HMAC_SHA1_80", SDES_AES_256_CM_HMAC_SHA1_80,
		32, 14, 10, 10, false, true, true },
	{ "AES_256_CM_HMAC_SHA1_32", SDES_AES_256_CM_HMAC_SHA1_32,
		32, 14, 4, 10, false, true, true },
	{ "AEAD_AES_128_GCM", SDES_AEAD_AES_128_GCM,
		16, 12, 16, 16, true, true, true },
	{ "AEAD_AES_256_GCM", SDES_AEAD_AES_256_GCM,
		32, 12, 16, 16, true, true, true },
	{ "NULL_HMAC_SHA1_80", SDES_NULL_HMAC_SHA1_80,
		16, 14, 10, 10, false, false, true },
	{ "NULL_HMAC_SHA1_32", SDES_NULL_HMAC_SHA1_32,
		16, 14, 4, 10, false, false, true },
	{ "F8_128_HMAC_SHA1_80", SDES_F8_128_HMAC_SHA1_80,
		16, 14, 10, 10, false, true, false },
};

/* Spellings peers send that are not the RFC's. */
static const struct {
	const char *name;
	enum sdes_suite suite;
} aliases[] = {
	{ "AES_CM_192_HMAC_SHA1_80", SDES_AES_192_CM_HMAC_SHA1_80 },
	{ "AES_CM_192_HMAC_SHA1_32", SDES_AES_192_CM_HMAC_SHA1_32 },
	{ "AES_CM_256_HMAC_SHA1_80", SDES_AES_256_CM_HMAC_SHA1_80 },
	{ "AES_CM_256_HMAC_SHA1_32", SDES_AES_256_CM_HMAC_SHA1_32 },
};

const struct sdes_suite_info *sdes_suite_info(enum sdes_suite s)
{
	if ((unsigned)s >= SDES_SUITE_COUNT)
		return NULL;
	return &suites[s];
}

const char *sdes_suite_name(enum sdes_suite s)
{
	const struct sdes_suite_info *i = sdes_suite_info(s);

	return i ? i->name : "?";
}

int sdes_suite_from_name(rp_str name, enum sdes_suite *out)
{
	for (size_t i = 0; i < SDES_SUITE_COUNT; i++) {
		if (rp_str_eq_cstr(name, suites[i].name)) {
			*out = suites[i].suite;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (rp_str_eq_cstr(name, aliases[i].name)) {
			*out = aliases[i].suite;
			return 0;
		}
	}
	return -ENOENT;
}

size_t sdes_suite_key_len(enum sdes_suite s)
{
	const struct sdes_suite_info *i = sdes_suite_info(s);

	return i ? i->key_len : 0;
}

size_t sdes_suite_salt_len(enum sdes_suite s)
{
	const struct sdes_suite_info *i = sdes_suite_info(s);

	return i ? i->salt_len : 0;
}

const uint8_t *sdes_key_salt(const struct sdes_key *k, enum sdes_suite s)
{
	return k->key_salt + sdes_suite_key_len(s);
}

uint64_t sdes_key_lifetime(const struct sdes_key *k)
{
	switch (k->lifetime_form) {
	case SDES_LIFETIME_POW2:
		return k->lifetime_exp >= 64 ? UINT64_MAX : UINT64_C(1) << k->lifetime_exp;
	case SDES_LIFETIME_DECIMAL:
		return k->lifetime;
	default:
		return 0;
	}
}

void sdes_key_wipe(struct sdes_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

void sdes_crypto_wipe(struct sdes_crypto *c)
{
	explicit_bzero(c, sizeof(*c));
}

const char *sdes_strerror(int rc)
{
	switch (rc) {
	case SDES_OK: return "ok";
	case SDES_E_SYNTAX: return "syntax error";
	case SDES_E_TAG: return "bad tag";
	case SDES_E_SUITE: return "unknown crypto-suite";
	case SDES_E_KEY_METHOD: return "key method is not inline";
	case SDES_E_BASE64: return "bad base64 in key";
	case SDES_E_KEY_LEN: return "key length does not match the suite";
	case SDES_E_LIFETIME: return "bad key lifetime";
	case SDES_E_MKI: return "bad MKI";
	case SDES_E_SESSION_PARAM: return "bad session parameter";
	case SDES_E_TOO_MANY: return "too many key or session parameters";
	case SDES_E_SPACE: return "output buffer too small";
	case SDES_E_UNSUPPORTED: return "crypto-suite not supported";
	case SDES_E_RAND: return "random generator failed";
	case SDES_E_INVAL: return "invalid argument";
	}
	return "unknown error";
}

/* ---- parsing ---------------------------------------------------------- */

struct cursor {
	const char *base; /* start of the value, for offsets */
	size_t *err_off;
};

static int fail_at(const struct cursor *c, const char *at, int rc)
{
	if (c->err_off)
		*c->err_off = (size_t)(at - c->base);
	return rc;
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Splits the next whitespace-separated token off *s. */
static rp_str next_token(rp_str *s)
{
	size_t i = 0, j;

	while (i < s->n && is_ws(s->p[i]))
		i++;
	j = i;
	while (j < s->n && !is_ws(s->p[j]))
		j++;
	rp_str tok = rp_str_make(s->p + i, j - i);
	*s = rp_str_make(s->p + j, s->n - j);
	return tok;
}

/* lifetime = ["2^"] 1*DIGIT */
static int parse_lifetime(const struct cursor *c, rp_str s, struct sdes_key *k)
{
	uint64_t v;

	if (s.n >= 2 && s.p[0] == '2' && s.p[1] == '^') {
		rp_str e = rp_str_make(s.p + 2, s.n - 2);

		if (e.n > 2 || rp_str_to_u64(e, 64, &v) < 0)
			return fail_at(c, s.p, SDES_E_LIFETIME);
		k->lifetime_form = SDES_LIFETIME_POW2;
		k->lifetime_exp = (uint8_t)v;
		return 0;
	}
	if (s.n > 20 || rp_str_to_u64(s, UINT64_MAX, &v) < 0 || v == 0)
		return fail_at(c, s.p, SDES_E_LIFETIME);
	k->lifetime_form = SDES_LIFETIME_DECIMAL;
	k->lifetime = v;
	return 0;
}

/* mki = mki-value ":" mki-length; the value must fit in length bytes. */
static int parse_mki(const struct cursor *c, rp_str s, struct sdes_key *k)
{
	ptrdiff_t colon = rp_str_chr(s, ':');
	uint64_t val, len;

	if (colon <= 0)
		return fail_at(c, s.p, SDES_E_MKI);
	rp_str vs = rp_str_make(s.p, (size_t)colon);
	rp_str ls = rp_str_make(s.p + colon + 1, s.n - (size_t)colon - 1);

	if (vs.n > 20 || rp_str_to_u64(vs, UINT64_MAX, &val) < 0)
		return fail_at(c, vs.p, SDES_E_MKI);
	if (ls.n > 3 || rp_str_to_u64(ls, SDES_MKI_LEN_MAX, &len) < 0 ||
	    len == 0)
		return fail_at(c, ls.p, SDES_E_MKI);
	if (len < 8 && val >> (8 * len) != 0)
		return fail_at(c, vs.p, SDES_E_MKI);
	k->has_mki = true;
	k->mki = val;
	k->mki_len = (uint8_t)len;
	return 0;
}

/* key-param = "inline:" key-salt ["|" lifetime] ["|" mki] */
static int parse_key_param(const struct cursor *c, rp_str s,
	enum sdes_suite suite, struct sdes_key *k)
{
	static const char method[] = "inline:";
	const size_t mlen = sizeof(method) - 1;
	size_t want = sdes_suite_key_len(suite) + sdes_suite_salt_len(suite);
	size_t got = 0, boff = 0;
	int rc;

	if (s.n < mlen || strncasecmp(s.p, method, mlen) != 0)
		return fail_at(c, s.p, SDES_E_KEY_METHOD);
	s = rp_str_make(s.p + mlen, s.n - mlen);

	rp_str part[4];
	size_t np = 0;

	while (np < 4) {
		ptrdiff_t bar = rp_str_chr(s, '|');

		if (bar < 0) {
			part[np++] = s;
			break;
		}
		part[np++] = rp_str_make(s.p, (size_t)bar);
		s = rp_str_make(s.p + bar + 1, s.n - (size_t)bar - 1);
	}
	if (np == 4)
		return fail_at(c, part[3].p, SDES_E_SYNTAX);

	if (part[0].n == 0)
		return fail_at(c, part[0].p, SDES_E_BASE64);
	rc = rp_base64_decode(part[0], k->key_salt, sizeof(k->key_salt), &got,
		&boff);
	if (rc == -ENOSPC)
		return fail_at(c, part[0].p, SDES_E_KEY_LEN);
	if (rc < 0)
		return fail_at(c, part[0].p + boff, SDES_E_BASE64);
	if (got != want)
		return fail_at(c, part[0].p, SDES_E_KEY_LEN);
	k->key_salt_len = (uint8_t)got;

	for (size_t i = 1; i < np; i++) {
		bool is_mki = rp_str_chr(part[i], ':') >= 0;

		if (part[i].n == 0)
			return fail_at(c, part[i].p, SDES_E_SYNTAX);
		if (is_mki) {
			if (k->has_mki)
				return fail_at(c, part[i].p, SDES_E_MKI);
			rc = parse_mki(c, part[i], k);
		} else {
			/* The lifetime comes before the MKI, once. */
			if (k->has_mki || k->lifetime_form != SDES_LIFETIME_NONE)
				return fail_at(c, part[i].p, SDES_E_LIFETIME);
			rc = parse_lifetime(c, part[i], k);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* key-params = key-param *(";" key-param). With more than one key every
 * key needs an MKI, all of one length (RFC 4568 §6.1), or the receiver
 * could not tell which key a packet used. */
static int parse_key_params(const struct cursor *c, rp_str s,
	enum sdes_suite suite, struct sdes_key *keys, unsigned *n_keys)
{
	unsigned n = 0;
	int rc;

	for (;;) {
		ptrdiff_t semi = rp_str_chr(s, ';');
		rp_str one = semi < 0 ? s : rp_str_make(s.p, (size_t)semi);

		if (n == SDES_MAX_KEYS)
			return fail_at(c, one.p, SDES_E_TOO_MANY);
		rc = parse_key_param(c, one, suite, &keys[n]);
		if (rc < 0)
			return rc;
		n++;
		if (semi < 0)
			break;
		s = rp_str_make(s.p + semi + 1, s.n - (size_t)semi - 1);
	}
	if (n > 1) {
		for (unsigned i = 0; i < n; i++) {
			if (!keys[i].has_mki || keys[i].mki_len != keys[0].mki_len)
				return fail_at(c, s.p, SDES_E_MKI);
			for (unsigned j = 0; j < i; j++)
				if (keys[j].mki == keys[i].mki)
					return fail_at(c, s.p, SDES_E_MKI);
		}
	}
	*n_keys = n;
	return 0;
}

static bool eq_prefix(rp_str s, const char *lit, rp_str *rest)
{
	size_t n = strlen(lit);

	if (s.n < n || strncasecmp(s.p, lit, n) != 0)
		return false;
	*rest = rp_str_make(s.p + n, s.n - n);
	return true;
}

static int parse_session_param(const struct cursor *c, rp_str t,
	struct sdes_crypto *out)
{
	rp_str v;
	uint64_t n;

	if (eq_prefix(t, "KDR=", &v)) {
		if (out->has_kdr || v.n > 2 || rp_str_to_u64(v, 24, &n) < 0)
			return fail_at(c, t.p, SDES_E_SESSION_PARAM);
		out->has_kdr = true;
		out->kdr = (uint8_t)n;
	} else if (rp_str_caseeq_cstr(t, "UNENCRYPTED_SRTP")) {
		out->unencrypted_srtp = true;
	} else if (rp_str_caseeq_cstr(t, "UNENCRYPTED_SRTCP")) {
		out->unencrypted_srtcp = true;
	} else if (rp_str_caseeq_cstr(t, "UNAUTHENTICATED_SRTP")) {
		out->unauthenticated_srtp = true;
	} else if (eq_prefix(t, "FEC_ORDER=", &v)) {
		if (out->fec_order != SDES_FEC_ORDER_NONE)
			return fail_at(c, t.p, SDES_E_SESSION_PARAM);
		if (rp_str_caseeq_cstr(v, "FEC_SRTP"))
			out->fec_order = SDES_FEC_SRTP;
		else if (rp_str_caseeq_cstr(v, "SRTP_FEC"))
			out->fec_order = SDES_SRTP_FEC;
		else
			return fail_at(c, t.p, SDES_E_SESSION_PARAM);
	} else if (eq_prefix(t, "FEC_KEY=", &v)) {
		if (out->n_fec_keys || v.n == 0)
			return fail_at(c, t.p, SDES_E_SESSION_PARAM);
		return parse_key_params(c, v, out->suite, out->fec_keys,
			&out->n_fec_keys);
	} else if (eq_prefix(t, "WSH=", &v)) {
		if (out->has_wsh || v.n > 10 ||
		    rp_str_to_u64(v, UINT32_MAX, &n) < 0 || n < 64)
			return fail_at(c, t.p, SDES_E_SESSION_PARAM);
		out->has_wsh = true;
		out->wsh = (uint32_t)n;
	} else {
		if (out->n_unknown == SDES_MAX_UNKNOWN)
			return fail_at(c, t.p, SDES_E_TOO_MANY);
		out->unknown[out->n_unknown++] = t;
	}
	return 0;
}

static int parse_inner(const struct cursor *c, rp_str s,
	struct sdes_crypto *out)
{
	rp_str t;
	uint64_t tag;
	int rc;

	/* Only visible ASCII and SP/HTAB: a NUL or control byte is hostile. */
	for (size_t i = 0; i < s.n; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if ((ch < 0x21 && !is_ws((char)ch)) || ch > 0x7e)
			return fail_at(c, s.p + i, SDES_E_SYNTAX);
	}

	t = next_token(&s);
	if (t.n == 0)
		return fail_at(c, t.p ? t.p : c->base, SDES_E_SYNTAX);
	if (t.n > 9 || rp_str_to_u64(t, SDES_TAG_MAX, &tag) < 0)
		return fail_at(c, t.p, SDES_E_TAG);
	out->tag = (uint32_t)tag;

	t = next_token(&s);
	if (t.n == 0)
		return fail_at(c, t.p, SDES_E_SYNTAX);
	if (sdes_suite_from_name(t, &out->suite) < 0)
		return fail_at(c, t.p, SDES_E_SUITE);

	t = next_token(&s);
	if (t.n == 0)
		return fail_at(c, t.p, SDES_E_SYNTAX);
	rc = parse_key_params(c, t, out->suite, out->keys, &out->n_keys);
	if (rc < 0)
		return rc;

	for (;;) {
		t = next_token(&s);
		if (t.n == 0)
			break;
		rc = parse_session_param(c, t, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sdes_parse(rp_str value, struct sdes_crypto *out, size_t *err_off)
{
	struct cursor c = { value.p, err_off };
	int rc;

	memset(out, 0, sizeof(*out));
	if (value.n == 0 || !value.p) {
		if (err_off)
			*err_off = 0;
		return SDES_E_SYNTAX;
	}
	rc = parse_inner(&c, value, out);
	if (rc < 0)
		sdes_crypto_wipe(out);
	return rc;
}

/* ---- formatting ------------------------------------------------------- */

struct writer {
	char *p;
	size_t cap, len;
	bool full;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (w->full || w->cap - w->len < n) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void put_cstr(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct writer *w, uint64_t v)
{
	char tmp[20];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, tmp + n, sizeof(tmp) - n);
}

static void put_key(struct writer *w, const struct sdes_key *k)
{
	size_t n;

	put_cstr(w, "inline:");
	if (w->full ||
	    rp_base64_encode(k->key_salt, k->key_salt_len, w->p + w->len,
		    w->cap - w->len, &n) < 0) {
		w->full = true;
		return;
	}
	w->len += n;
	if (k->lifetime_form == SDES_LIFETIME_POW2) {
		put_cstr(w, "|2^");
		put_u64(w, k->lifetime_exp);
	} else if (k->lifetime_form == SDES_LIFETIME_DECIMAL) {
		put_cstr(w, "|");
		put_u64(w, k->lifetime);
	}
	if (k->has_mki) {
		put_cstr(w, "|");
		put_u64(w, k->mki);
		put_cstr(w, ":");
		put_u64(w, k->mki_len);
	}
}

static void put_keys(struct writer *w, const struct sdes_key *keys,
	unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i)
			put_cstr(w, ";");
		put_key(w, &keys[i]);
	}
}

static bool keys_valid(const struct sdes_key *keys, unsigned n,
	size_t want, bool may_be_empty)
{
	if ((n == 0 && !may_be_empty) || n > SDES_MAX_KEYS)
		return false;
	for (unsigned i = 0; i < n; i++) {
		const struct sdes_key *k = &keys[i];

		if (k->key_salt_len != want)
			return false;
		if (k->lifetime_form > SDES_LIFETIME_DECIMAL ||
		    (k->lifetime_form == SDES_LIFETIME_POW2 &&
			k->lifetime_exp > 64) ||
		    (k->lifetime_form == SDES_LIFETIME_DECIMAL &&
			k->lifetime == 0))
			return false;
		if (k->has_mki && (k->mki_len == 0 ||
			k->mki_len > SDES_MKI_LEN_MAX ||
			(k->mki_len < 8 && k->mki >> (8 * k->mki_len))))
			return false;
		if (n > 1 && (!k->has_mki || k->mki_len != keys[0].mki_len))
			return false;
	}
	return true;
}

int sdes_format(const struct sdes_crypto *c, char *buf, size_t cap,
	size_t *outlen)
{
	const struct sdes_suite_info *si = sdes_suite_info(c->suite);
	struct writer w = { buf, cap, 0, false };

	if (!si || c->tag > SDES_TAG_MAX || c->n_unknown > SDES_MAX_UNKNOWN ||
	    (c->has_kdr && c->kdr > 24) || (c->has_wsh && c->wsh < 64) ||
	    c->fec_order > SDES_SRTP_FEC)
		return SDES_E_INVAL;
	if (!keys_valid(c->keys, c->n_keys, (size_t)si->key_len + si->salt_len,
		    false) ||
	    !keys_valid(c->fec_keys, c->n_fec_keys,
		    (size_t)si->key_len + si->salt_len, true))
		return SDES_E_INVAL;

	put_u64(&w, c->tag);
	put_cstr(&w, " ");
	put_cstr(&w, si->name);
	put_cstr(&w, " ");
	put_keys(&w, c->keys, c->n_keys);
	if (c->has_kdr) {
		put_cstr(&w, " KDR=");
		put_u64(&w, c->kdr);
	}
	if (c->unencrypted_srtp)
		put_cstr(&w, " UNENCRYPTED_SRTP");
	if (c->unencrypted_srtcp)
		put_cstr(&w, " UNENCRYPTED_SRTCP");
	if (c->unauthenticated_srtp)
		put_cstr(&w, " UNAUTHENTICATED_SRTP");
	if (c->fec_order == SDES_FEC_SRTP)
		put_cstr(&w, " FEC_ORDER=FEC_SRTP");
	else if (c->fec_order == SDES_SRTP_FEC)
		put_cstr(&w, " FEC_ORDER=SRTP_FEC");
	if (c->n_fec_keys) {
		put_cstr(&w, " FEC_KEY=");
		put_keys(&w, c->fec_keys, c->n_fec_keys);
	}
	if (c->has_wsh) {
		put_cstr(&w, " WSH=");
		put_u64(&w, c->wsh);
	}
	for (unsigned i = 0; i < c->n_unknown; i++) {
		put_cstr(&w, " ");
		put(&w, c->unknown[i].p, c->unknown[i].n);
	}
	if (w.full) {
		/* The partial output may hold key text. */
		explicit_bzero(buf, cap);
		return SDES_E_SPACE;
	}
	*outlen = w.len;
	return SDES_OK;
}

int sdes_generate(uint32_t tag, enum sdes_suite suite,
	struct rp_rand_pool *pool, struct sdes_crypto *out)
{
	const struct sdes_suite_info *si = sdes_suite_info(suite);
	size_t n;

	if (!si || !si->supported)
		return SDES_E_UNSUPPORTED;
	if (tag > SDES_TAG_MAX)
		return SDES_E_TAG;
	memset(out, 0, sizeof(*out));
	n = (size_t)si->key_len + si->salt_len;
	if (rp_rand_pool_bytes(pool, out->keys[0].key_salt, n) < 0) {
		sdes_crypto_wipe(out);
		return SDES_E_RAND;
	}
	out->tag = tag;
	out->suite = suite;
	out->n_keys = 1;
	out->keys[0].key_salt_len = (uint8_t)n;
	return SDES_OK;
}
