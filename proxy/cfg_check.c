#include "cfg_check.h"

#include "cfg_ck.h"
#include "cfg_parse.h"
#include "cfg_prog.h"
#include "cfg_regex.h"
#include "rp_hash.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>


void cfg_ck_err(struct cfg_ck *k, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	k->errors++;
	va_start(ap, fmt);
	cfg_diag_vadd(k->d, CFG_SEV_ERROR, pos, fmt, ap);
	va_end(ap);
}

void cfg_ck_warn(struct cfg_ck *k, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(k->d, CFG_SEV_WARNING, pos, fmt, ap);
	va_end(ap);
}

void *cfg_ck_alloc(struct cfg_ck *k, size_t n)
{
	void *p = cfg_alloc(k->c, n ? n : 1);

	if (!p)
		k->nomem = true;
	return p;
}

const char *cfg_ck_strdup(struct cfg_ck *k, rp_str s)
{
	const char *p = cfg_strdup(k->c, s);

	if (!p)
		k->nomem = true;
	return p;
}

/* ---- did you mean ---- */

unsigned cfg_edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned row[65];

	if (an > 64 || bn > 64)
		return 99;
	for (size_t j = 0; j <= bn; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= an; i++) {
		unsigned diag = row[0], best;

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= bn; j++) {
			unsigned up = row[j];
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;

			best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[bn];
}

void cfg_ck_suggest_init(struct cfg_suggest *s, rp_str word)
{
	s->word = word;
	s->best = NULL;
	s->best_len = 0;
	s->dist = word.n <= 3 ? 1 : word.n <= 6 ? 2 : 3;
	s->dist++; /* strict '<' below */
}

void cfg_ck_suggest_try(struct cfg_suggest *s, const char *cand, size_t n)
{
	unsigned d = cfg_edit_distance(s->word.p, s->word.n, cand, n);

	if (d < s->dist) {
		s->dist = d;
		s->best = cand;
		s->best_len = n;
	}
}

/* " (did you mean 'x'?)" or "" */
const char *cfg_ck_suggest_text(const struct cfg_suggest *s, char *buf, size_t n)
{
	if (!s->best)
		return "";
	snprintf(buf, n, " (did you mean '%.*s'?)", (int)s->best_len, s->best);
	return buf;
}

static int key_index(const char *const *keys, rp_str key)
{
	for (int i = 0; keys[i]; i++)
		if (rp_str_eq_cstr(key, keys[i]))
			return i;
	return -1;
}

static void unknown_key(struct cfg_ck *k, const struct cfg_item *it, const char *const *keys,
	const char *where)
{
	struct cfg_suggest s;
	char hint[96];

	cfg_ck_suggest_init(&s, it->key);
	for (int i = 0; keys[i]; i++)
		cfg_ck_suggest_try(&s, keys[i], strlen(keys[i]));
	cfg_ck_err(k, it->pos, "unknown %s '%.*s' in %s%s", it->assign ? "setting" : "block",
		SHOWN(it->key), where, cfg_ck_suggest_text(&s, hint, sizeof(hint)));
}

/* ---- values ---- */

static bool want_assign(struct cfg_ck *k, const struct cfg_item *it, unsigned min, unsigned max)
{
	if (!it->assign) {
		cfg_ck_err(k, it->pos, "'%.*s' is a setting: write '%.*s = value;'", SHOWN(it->key),
			SHOWN(it->key));
		return false;
	}
	if (it->nvals < min || it->nvals > max) {
		if (max == 1)
			cfg_ck_err(k, it->vals[min < it->nvals ? min : 0].pos,
				"'%.*s' takes one value", SHOWN(it->key));
		else
			cfg_ck_err(k, it->pos, "'%.*s' takes %u to %u values", SHOWN(it->key), min, max);
		return false;
	}
	return true;
}

static bool get_u32(struct cfg_ck *k, const struct cfg_item *it, uint32_t min, uint32_t max,
	uint32_t *out)
{
	const struct cfg_value *v;
	uint64_t x;
	int rc;

	if (!want_assign(k, it, 1, 1))
		return false;
	v = &it->vals[0];
	rc = rp_str_to_u64(v->text, UINT64_MAX, &x);
	if (rc < 0 || v->quoted) {
		cfg_ck_err(k, v->pos, "'%.*s' must be a number, not '%.*s'", SHOWN(it->key), SHOWN(v->text));
		return false;
	}
	if (x < min || x > max) {
		cfg_ck_err(k, v->pos, "%.*s = %.*s is out of range (%u..%u)", SHOWN(it->key),
			SHOWN(v->text), min, max);
		return false;
	}
	*out = (uint32_t)x;
	return true;
}

static bool get_str(struct cfg_ck *k, const struct cfg_item *it, const char **out)
{
	if (!want_assign(k, it, 1, 1))
		return false;
	*out = cfg_ck_strdup(k, it->vals[0].text);
	return *out != NULL;
}

/* A string that goes out in a SIP header (user_agent as Server /
 * User-Agent, realm inside the challenge's quoted realm="..."): CR, LF or
 * NUL would end the header and start one of the writer's choosing, and
 * 'also' names characters the header cannot carry either. */
static bool get_wire_str(struct cfg_ck *k, const struct cfg_item *it, const char *also,
	const char **out)
{
	rp_str t;

	if (!want_assign(k, it, 1, 1))
		return false;
	t = it->vals[0].text;
	for (size_t i = 0; i < t.n; i++) {
		if (t.p[i] == '\r' || t.p[i] == '\n' || t.p[i] == '\0') {
			cfg_ck_err(k, it->vals[0].pos, "line breaks are not allowed in '%.*s' "
				"(it goes into a SIP header)", RP_STR_FMT(it->key));
			return false;
		}
		if (strchr(also, t.p[i])) {
			cfg_ck_err(k, it->vals[0].pos, "'%.*s' cannot contain '%c' (it goes into a "
				"quoted SIP header parameter)", RP_STR_FMT(it->key), t.p[i]);
			return false;
		}
	}
	return get_str(k, it, out);
}

static bool get_secret(struct cfg_ck *k, const struct cfg_item *it, const char **out)
{
	char *p;

	if (!want_assign(k, it, 1, 1))
		return false;
	p = (char *)cfg_ck_strdup(k, it->vals[0].text);
	if (!p)
		return false;
	if (cfg_add_secret(k->c, p, it->vals[0].text.n) < 0) {
		k->nomem = true;
		return false;
	}
	*out = p;
	return true;
}

static bool get_bool(struct cfg_ck *k, const struct cfg_item *it, bool *out)
{
	rp_str t;

	if (!want_assign(k, it, 1, 1))
		return false;
	t = it->vals[0].text;
	if (rp_str_eq_cstr(t, "yes") || rp_str_eq_cstr(t, "true") || rp_str_eq_cstr(t, "on")) {
		*out = true;
		return true;
	}
	if (rp_str_eq_cstr(t, "no") || rp_str_eq_cstr(t, "false") || rp_str_eq_cstr(t, "off")) {
		*out = false;
		return true;
	}
	cfg_ck_err(k, it->vals[0].pos, "'%.*s' must be yes or no, not '%.*s'", SHOWN(it->key), SHOWN(t));
	return false;
}

/* Value from a NULL-terminated name list; index or -1 (error reported). */
int cfg_ck_enum(struct cfg_ck *k, const struct cfg_value *v, const char *what,
	const char *const *names)
{
	struct cfg_suggest s;
	char hint[96], all[160] = "";
	int i = key_index(names, v->text);

	if (i >= 0)
		return i;
	cfg_ck_suggest_init(&s, v->text);
	for (int j = 0; names[j]; j++) {
		cfg_ck_suggest_try(&s, names[j], strlen(names[j]));
		if (j)
			strncat(all, ", ", sizeof(all) - strlen(all) - 1);
		strncat(all, names[j], sizeof(all) - strlen(all) - 1);
	}
	if (s.best)
		cfg_ck_err(k, v->pos, "unknown %s '%.*s'%s", what, SHOWN(v->text),
			cfg_ck_suggest_text(&s, hint, sizeof(hint)));
	else
		cfg_ck_err(k, v->pos, "unknown %s '%.*s' (expected one of: %s)", what, SHOWN(v->text), all);
	return -1;
}

const char *const cfg_ck_media_names[] = { "disable", "allow", "require", NULL };
static const char *const transport_names[] = { "udp", "tcp", "tls", NULL };

static bool get_media(struct cfg_ck *k, const struct cfg_item *it, enum cfg_media_enc *out)
{
	int i;

	if (!want_assign(k, it, 1, 1))
		return false;
	i = cfg_ck_enum(k, &it->vals[0], "media_encryption", cfg_ck_media_names);
	if (i < 0)
		return false;
	*out = (enum cfg_media_enc)(CFG_MEDIA_DISABLE + i);
	return true;
}

static const char *const suite_names[] = {
	"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
	"AES_192_CM_HMAC_SHA1_80", "AES_192_CM_HMAC_SHA1_32",
	"AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32",
	"AEAD_AES_128_GCM", "AEAD_AES_256_GCM",
	"NULL_HMAC_SHA1_80", "NULL_HMAC_SHA1_32", NULL,
};

const char *cfg_srtp_suite_name(enum cfg_srtp_suite s)
{
	return s < CFG_SRTP_COUNT ? suite_names[s] : "?";
}

static bool parse_ip(rp_str s, sa_family_t *fam, uint8_t addr[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (s.n == 0 || s.n >= sizeof(buf))
		return false;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*fam = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*fam = AF_INET6;
		return true;
	}
	return false;
}

/* "a.b.c.d[/n]", "v6[/n]" or "[v6][/n]"; a bare address is a host route. */
bool cfg_ck_parse_cidr(rp_str s, struct cfg_cidr *out)
{
	ptrdiff_t slash = rp_str_chr(s, '/');
	rp_str ip = slash >= 0 ? rp_str_make(s.p, (size_t)slash) : s;
	uint64_t prefix;
	unsigned max, full;

	memset(out, 0, sizeof(*out));
	if (ip.n >= 2 && ip.p[0] == '[' && ip.p[ip.n - 1] == ']')
		ip = rp_str_make(ip.p + 1, ip.n - 2);
	if (!parse_ip(ip, &out->family, out->addr))
		return false;
	max = out->family == AF_INET ? 32 : 128;
	if (slash >= 0) {
		if (rp_str_to_u64(rp_str_make(s.p + slash + 1, s.n - (size_t)slash - 1), max, &prefix) < 0)
			return false;
	} else {
		prefix = max;
	}
	out->prefix = (uint8_t)prefix;
	/* host bits are cleared so matching is a plain compare */
	full = (unsigned)prefix / 8;
	if (full < max / 8) {
		out->addr[full] &= (uint8_t)(0xff00u >> (prefix % 8));
		for (unsigned i = full + 1; i < max / 8; i++)
			out->addr[i] = 0;
	}
	return true;
}

/* "host[:port]", "[v6][:port]" */
static bool parse_hostport(rp_str s, rp_str *host, uint16_t *port)
{
	rp_str h = s, p = RP_STR_NULL;
	uint64_t v;

	if (s.n && s.p[0] == '[') {
		ptrdiff_t e = rp_str_chr(s, ']');

		if (e < 2)
			return false;
		h = rp_str_make(s.p + 1, (size_t)e - 1);
		if ((size_t)e + 1 < s.n) {
			if (s.p[e + 1] != ':')
				return false;
			p = rp_str_make(s.p + e + 2, s.n - (size_t)e - 2);
		}
	} else {
		ptrdiff_t c = rp_str_chr(s, ':');

		if (c >= 0) {
			h = rp_str_make(s.p, (size_t)c);
			p = rp_str_make(s.p + c + 1, s.n - (size_t)c - 1);
			if (rp_str_chr(p, ':') >= 0)
				return false; /* IPv6 needs brackets */
		}
	}
	if (h.n == 0)
		return false;
	for (size_t i = 0; i < h.n; i++) {
		char ch = h.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' || ch == '_'))
			return false;
	}
	*host = h;
	*port = 0;
	if (p.p) {
		if (rp_str_to_u64(p, 65535, &v) < 0 || v == 0)
			return false;
		*port = (uint16_t)v;
	}
	return true;
}

static bool is_hex(rp_str s, size_t n)
{
	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s.p[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* Lowercase copy of a hex HA1, kept as a secret (it is password-equivalent). */
static const char *hex_secret(struct cfg_ck *k, rp_str s)
{
	char *p = (char *)cfg_ck_strdup(k, s);

	if (!p)
		return NULL;
	for (size_t i = 0; i < s.n; i++)
		if (p[i] >= 'A' && p[i] <= 'F')
			p[i] = (char)(p[i] - 'A' + 'a');
	if (cfg_add_secret(k->c, p, s.n) < 0) {
		k->nomem = true;
		return NULL;
	}
	return p;
}

static bool get_ha1(struct cfg_ck *k, const struct cfg_item *it, size_t digits, const char **out)
{
	if (!want_assign(k, it, 1, 1))
		return false;
	if (!is_hex(it->vals[0].text, digits)) {
		cfg_ck_err(k, it->vals[0].pos, "'%.*s' must be %zu hex digits (%s of user:realm:password)",
			SHOWN(it->key), digits, digits == 32 ? "MD5" : "SHA-256");
		return false;
	}
	*out = hex_secret(k, it->vals[0].text);
	return *out != NULL;
}

static bool get_str_list(struct cfg_ck *k, const struct cfg_item *it, const char *const **out,
	unsigned *n)
{
	const char **v;

	if (!want_assign(k, it, 1, 64))
		return false;
	v = cfg_ck_alloc(k, (it->nvals + 1) * sizeof(*v));
	if (!v)
		return false;
	for (unsigned i = 0; i < it->nvals; i++) {
		v[i] = cfg_ck_strdup(k, it->vals[i].text);
		if (!v[i])
			return false;
	}
	*out = v;
	*n = it->nvals;
	return true;
}

/* Duplicate keys within one block are errors: the second would silently win. */
static bool first_time(struct cfg_ck *k, const struct cfg_item *it, uint64_t *seen, int idx)
{
	if (idx < 64 && (*seen & (1ull << idx))) {
		cfg_ck_err(k, it->pos, "duplicate setting '%.*s'", SHOWN(it->key));
		return false;
	}
	if (idx < 64)
		*seen |= 1ull << idx;
	return true;
}

/* ---- TLS keys, shared by the tls block, listeners and trunks ---- */

enum tls_ctx { TLS_GLOBAL, TLS_LISTEN, TLS_TRUNK };

static const char *const tls_keys[] = {
	"cert", "key", "ca_file", "ca_dir", "ciphers", "min_version",
	"verify_client", "require_client_cert", "sni", "verify_server", "server_name", NULL,
};

/* Returns true if the key is a TLS key (handled, perhaps with an error). */
static bool tls_key(struct cfg_ck *k, const struct cfg_item *it, struct cfg_tls *t, enum tls_ctx ctx,
	uint64_t *seen, int base)
{
	static const char *const versions[] = { "1.2", "1.3", NULL };
	int i = key_index(tls_keys, it->key);
	int v;

	if (i < 0)
		return false;
	if (!first_time(k, it, seen, base + i))
		return true;
	switch (i) {
	case 0:
		if (want_assign(k, it, 1, 1) && rp_str_eq_cstr(it->vals[0].text, "auto") &&
		    !it->vals[0].quoted) {
			if (ctx == TLS_TRUNK) {
				cfg_ck_err(k, it->vals[0].pos, "'cert = auto' is for listeners only");
				return true;
			}
			t->cert_auto = true;
			t->cert = NULL;
		} else if (get_str(k, it, &t->cert)) {
			t->cert_auto = false;
		}
		break;
	case 1: get_str(k, it, &t->key); break;
	case 2: get_str(k, it, &t->ca_file); break;
	case 3: get_str(k, it, &t->ca_dir); break;
	case 4: get_str(k, it, &t->ciphers); break;
	case 5:
		if (!want_assign(k, it, 1, 1))
			break;
		v = cfg_ck_enum(k, &it->vals[0], "TLS version", versions);
		if (v >= 0)
			t->min_version = v == 0 ? CFG_TLS_1_2 : CFG_TLS_1_3;
		break;
	case 6:
	case 7:
		if (ctx == TLS_TRUNK) {
			cfg_ck_err(k, it->pos, "'%.*s' is for listeners; trunks use verify_server",
				SHOWN(it->key));
			break;
		}
		get_bool(k, it, i == 6 ? &t->verify_client : &t->require_client_cert);
		break;
	case 8:
		if (ctx != TLS_LISTEN) {
			cfg_ck_err(k, it->pos, "'sni' is for tls listeners only");
			break;
		}
		get_str_list(k, it, &t->sni, &t->nsni);
		break;
	case 9:
	case 10:
		if (ctx == TLS_LISTEN) {
			cfg_ck_err(k, it->pos, "'%.*s' is for trunks (the client side) only", SHOWN(it->key));
			break;
		}
		if (i == 9)
			get_bool(k, it, &t->verify_server);
		else
			get_str(k, it, &t->server_name);
		break;
	}
	return true;
}

static void check_tls(struct cfg_ck *k, const struct cfg_tls *t, struct cfg_pos pos, bool server)
{
	if (server && !t->cert && !t->cert_auto)
		cfg_ck_err(k, pos, "tls listener without a certificate: set 'cert' and 'key' (or 'cert = auto')");
	else if (server && t->cert && !t->key)
		cfg_ck_err(k, pos, "'cert' without 'key'");
	if (t->require_client_cert && !t->verify_client)
		cfg_ck_err(k, pos, "'require_client_cert = yes' needs 'verify_client = yes'");
	if (server && t->verify_client && !t->ca_file && !t->ca_dir)
		cfg_ck_err(k, pos, "'verify_client = yes' needs 'ca_file' or 'ca_dir'");
}

/* ---- listen ---- */

static const char *const listen_keys[] = { "media_encryption", NULL };

#define CFG_MAX_SNI_CERTS 16
#define CFG_MAX_SNI_NAMES 8

/* A host name as SNI carries it, or "*.domain" (one wildcard label). */
static bool sni_name_ok(rp_str n)
{
	size_t i = 0, label = 0;

	if (n.n == 0 || n.n > 253)
		return false;
	if (n.n > 2 && n.p[0] == '*' && n.p[1] == '.')
		i = 2;
	for (; i < n.n; i++) {
		char c = n.p[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-') || ++label > 63)
			return false;
	}
	return label > 0;
}

/* sni_cert NAME... { cert = ...; key = ...; chain = ...; } */
static void check_sni_cert(struct cfg_ck *k, const struct cfg_item *it, struct cfg_sni_cert *sc)
{
	static const char *const keys[] = { "cert", "key", "chain", NULL };
	const char **names;
	uint64_t seen = 0;

	memset(sc, 0, sizeof(*sc));
	sc->line = it->pos.line;
	if (it->assign || !it->has_body || it->nvals == 0) {
		cfg_ck_err(k, it->pos, "expected 'sni_cert \"NAME\" ... { cert = ...; key = ...; }'");
		return;
	}
	if (it->nvals > CFG_MAX_SNI_NAMES) {
		cfg_ck_err(k, it->vals[CFG_MAX_SNI_NAMES].pos, "at most %d names per sni_cert",
			CFG_MAX_SNI_NAMES);
		return;
	}
	names = cfg_ck_alloc(k, (it->nvals + 1) * sizeof(*names));
	if (!names)
		return;
	for (unsigned i = 0; i < it->nvals; i++) {
		if (!sni_name_ok(it->vals[i].text)) {
			cfg_ck_err(k, it->vals[i].pos, "'%.*s' is not a host name (or *.domain) a client can ask for",
				SHOWN(it->vals[i].text));
			return;
		}
		names[i] = cfg_ck_strdup(k, it->vals[i].text);
		if (!names[i])
			return;
	}
	sc->names = names;
	sc->nnames = it->nvals;
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(keys, c->key);

		if (i < 0) {
			unknown_key(k, c, keys, "sni_cert");
			continue;
		}
		if (!first_time(k, c, &seen, i))
			continue;
		get_str(k, c, i == 0 ? &sc->cert : i == 1 ? &sc->key : &sc->chain);
	}
	if (!sc->cert || !sc->key)
		cfg_ck_err(k, it->pos, "sni_cert needs 'cert' and 'key'");
}

/* Collects a tls listener's sni_cert blocks into l->tls.sni_certs. */
static void check_sni_certs(struct cfg_ck *k, const struct cfg_item *it, struct cfg_listen *l)
{
	struct cfg_sni_cert *v;
	unsigned n = 0, i = 0;

	for (const struct cfg_item *c = it->children; c; c = c->next)
		n += rp_str_eq_cstr(c->key, "sni_cert");
	if (!n)
		return;
	if (l->transport != CFG_TP_TLS) {
		cfg_ck_err(k, it->pos, "'sni_cert' is only valid on a tls listener");
		return;
	}
	if (n > CFG_MAX_SNI_CERTS) {
		cfg_ck_err(k, it->pos, "at most %d sni_cert blocks per listener", CFG_MAX_SNI_CERTS);
		return;
	}
	v = cfg_ck_alloc(k, n * sizeof(*v));
	if (!v)
		return;
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		if (!rp_str_eq_cstr(c->key, "sni_cert"))
			continue;
		check_sni_cert(k, c, &v[i]);
		/* One name, one certificate: a second would never be picked. */
		for (unsigned a = 0; a < v[i].nnames; a++)
			for (unsigned b = 0; b < i; b++)
				for (unsigned m = 0; m < v[b].nnames; m++)
					if (!strcasecmp(v[i].names[a], v[b].names[m]))
						cfg_ck_err(k, c->pos, "SNI name '%s' already has an sni_cert (line %u)",
							v[i].names[a], v[b].line);
		i++;
	}
	l->tls.sni_certs = v;
	l->tls.n_sni_certs = n;
}

static void check_listen(struct cfg_ck *k, const struct cfg_item *it, struct cfg_listen *l)
{
	rp_str host;
	uint16_t port;
	uint8_t addr[16];
	uint64_t seen = 0;
	int tp;

	memset(l, 0, sizeof(*l));
	l->line = it->pos.line;
	l->tls = k->c->settings.tls;
	if (it->assign || it->nvals != 2) {
		cfg_ck_err(k, it->pos, "expected 'listen udp|tcp|tls ADDRESS[:PORT];'");
		return;
	}
	tp = cfg_ck_enum(k, &it->vals[0], "transport", transport_names);
	if (tp < 0)
		return;
	l->transport = (enum cfg_transport)(CFG_TP_UDP + tp);
	if (!parse_hostport(it->vals[1].text, &host, &port) || !parse_ip(host, &l->family, addr)) {
		cfg_ck_err(k, it->vals[1].pos, "bad listen address '%.*s' (expected IPv4:port or [IPv6]:port)",
			SHOWN(it->vals[1].text));
		return;
	}
	l->addr = cfg_ck_strdup(k, host);
	l->port = port ? port : (l->transport == CFG_TP_TLS ? 5061 : 5060);
	l->media = l->transport == CFG_TP_TLS ? CFG_MEDIA_REQUIRE : CFG_MEDIA_ALLOW;
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(listen_keys, c->key);

		if (rp_str_eq_cstr(c->key, "sni_cert"))
			continue; /* check_sni_certs */
		if (i == 0) {
			if (first_time(k, c, &seen, 63))
				get_media(k, c, &l->media);
			continue;
		}
		if (tls_key(k, c, &l->tls, TLS_LISTEN, &seen, 0)) {
			if (l->transport != CFG_TP_TLS)
				cfg_ck_err(k, c->pos, "'%.*s' is only valid on a tls listener", SHOWN(c->key));
			continue;
		}
		{
			static const char *const all[] = { "media_encryption", "cert", "key",
				"ca_file", "ca_dir", "ciphers", "min_version", "verify_client",
				"require_client_cert", "sni", "sni_cert", NULL };
			unknown_key(k, c, all, "listen");
		}
	}
	check_sni_certs(k, it, l);
	if (l->transport == CFG_TP_TLS)
		check_tls(k, &l->tls, it->pos, true);
}

/* ---- trunk ---- */

static const char *const trunk_keys[] = {
	"address", "transport", "numbers", "inbound", "outbound", "media_encryption",
	"srtp_suites", "allow_sdes_over_insecure", "probe_interval", "probe_down_after",
	"probe_up_after", NULL,
};
static const char *const trunk_all_keys[] = {
	"address", "transport", "numbers", "inbound", "outbound", "media_encryption",
	"srtp_suites", "allow_sdes_over_insecure", "probe_interval", "probe_down_after",
	"probe_up_after", "cert", "key", "ca_file", "ca_dir",
	"ciphers", "min_version", "verify_server", "server_name", NULL,
};
static const char *const inbound_keys[] = {
	"source", "realm", "user", "ha1_md5", "ha1_sha256", "cert_subject", NULL,
};
static const char *const outbound_keys[] = { "username", "password", NULL };

bool cfg_ck_valid_name(rp_str s)
{
	if (s.n == 0 || s.n > 64)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char ch = s.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
		      (i > 0 && ((ch >= '0' && ch <= '9') || ch == '-'))))
			return false;
	}
	return true;
}

static void check_inbound(struct cfg_ck *k, const struct cfg_item *blk, struct cfg_trunk *t)
{
	uint64_t seen = 0;

	if (blk->assign || blk->nvals || !blk->has_body) {
		cfg_ck_err(k, blk->pos, "expected 'inbound { ... }'");
		return;
	}
	for (const struct cfg_item *c = blk->children; c; c = c->next) {
		int i = key_index(inbound_keys, c->key);
		struct cfg_cidr *n;

		if (i < 0) {
			unknown_key(k, c, inbound_keys, "inbound");
			continue;
		}
		if (!first_time(k, c, &seen, i))
			continue;
		switch (i) {
		case 0:
			if (!want_assign(k, c, 1, 64))
				break;
			n = cfg_ck_alloc(k, c->nvals * sizeof(*n));
			if (!n)
				break;
			for (unsigned j = 0; j < c->nvals; j++)
				if (!cfg_ck_parse_cidr(c->vals[j].text, &n[j]))
					cfg_ck_err(k, c->vals[j].pos, "bad CIDR '%.*s' (expected ADDRESS[/PREFIX])",
						SHOWN(c->vals[j].text));
			t->sources = n;
			t->nsources = c->nvals;
			break;
		case 1: get_str(k, c, &t->auth_realm); break;
		case 2: get_str(k, c, &t->auth_user); break;
		case 3: get_ha1(k, c, 32, &t->auth_ha1_md5); break;
		case 4: get_ha1(k, c, 64, &t->auth_ha1_sha256); break;
		case 5: get_str(k, c, &t->cert_subject); break;
		}
	}
	if (t->auth_user && !t->auth_ha1_md5 && !t->auth_ha1_sha256)
		cfg_ck_err(k, blk->pos, "inbound 'user' needs 'ha1_md5' or 'ha1_sha256'");
	if (!t->auth_user && (t->auth_ha1_md5 || t->auth_ha1_sha256))
		cfg_ck_err(k, blk->pos, "inbound 'ha1_md5'/'ha1_sha256' need 'user'");
	if (!t->nsources && !t->auth_user && !t->cert_subject)
		cfg_ck_err(k, blk->pos, "inbound block without 'source', 'user' or 'cert_subject' accepts nothing");
}

static void check_outbound(struct cfg_ck *k, const struct cfg_item *blk, struct cfg_trunk *t)
{
	uint64_t seen = 0;

	if (blk->assign || blk->nvals || !blk->has_body) {
		cfg_ck_err(k, blk->pos, "expected 'outbound { ... }'");
		return;
	}
	for (const struct cfg_item *c = blk->children; c; c = c->next) {
		int i = key_index(outbound_keys, c->key);

		if (i < 0) {
			unknown_key(k, c, outbound_keys, "outbound");
			continue;
		}
		if (!first_time(k, c, &seen, i))
			continue;
		if (i == 0)
			get_str(k, c, &t->out_username);
		else
			get_secret(k, c, &t->out_password);
	}
	if (!t->out_username != !t->out_password)
		cfg_ck_err(k, blk->pos, "outbound needs both 'username' and 'password'");
}

static void check_trunk(struct cfg_ck *k, const struct cfg_item *it, struct cfg_trunk *t)
{
	uint64_t seen = 0;
	struct cfg_pos addr_pos = it->pos;

	t->tls = k->c->settings.tls;
	t->transport = CFG_TP_UDP;
	t->media = CFG_MEDIA_ALLOW;
	t->probe_down_after = 3;
	t->probe_up_after = 2;
	if (it->assign || it->nvals != 1 || !it->has_body || it->vals[0].quoted ||
	    !cfg_ck_valid_name(it->vals[0].text)) {
		cfg_ck_err(k, it->pos, "expected 'trunk NAME { ... }' (NAME: letters, digits, '_', '-')");
		return;
	}
	t->name = cfg_ck_strdup(k, it->vals[0].text);
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(trunk_keys, c->key), tp;
		struct cfg_hostport *hp;
		const char *const *nums;

		if (i < 0) {
			if (!tls_key(k, c, &t->tls, TLS_TRUNK, &seen, 16))
				unknown_key(k, c, trunk_all_keys, "trunk");
			continue;
		}
		if (!first_time(k, c, &seen, i))
			continue;
		switch (i) {
		case 0:
			if (!want_assign(k, c, 1, 16))
				break;
			addr_pos = c->pos;
			hp = cfg_ck_alloc(k, c->nvals * sizeof(*hp));
			if (!hp)
				break;
			for (unsigned j = 0; j < c->nvals; j++) {
				rp_str host;

				if (!parse_hostport(c->vals[j].text, &host, &hp[j].port)) {
					cfg_ck_err(k, c->vals[j].pos, "bad trunk address '%.*s' (expected HOST[:PORT])",
						SHOWN(c->vals[j].text));
					continue;
				}
				hp[j].host = cfg_ck_strdup(k, host);
			}
			t->addrs = hp;
			t->naddrs = c->nvals;
			break;
		case 1:
			if (!want_assign(k, c, 1, 1))
				break;
			tp = cfg_ck_enum(k, &c->vals[0], "transport", transport_names);
			if (tp >= 0)
				t->transport = (enum cfg_transport)(CFG_TP_UDP + tp);
			break;
		case 2:
			if (!get_str_list(k, c, &nums, &t->nnumbers))
				break;
			t->numbers = nums;
			for (unsigned j = 0; j < c->nvals; j++) {
				rp_str v = c->vals[j].text;
				size_t s = v.n && v.p[0] == '+' ? 1 : 0;
				bool ok = v.n > s;

				if (rp_str_eq_cstr(v, "*"))
					continue;
				if (v.n > s + 1 && v.p[v.n - 1] == '*')
					v.n--; /* "+4930*" is the same prefix as "+4930" */
				for (size_t q = s; q < v.n; q++)
					if (v.p[q] < '0' || v.p[q] > '9')
						ok = false;
				if (!ok)
					cfg_ck_err(k, c->vals[j].pos,
						"bad number prefix '%.*s' (digits with an optional leading '+' and trailing '*', or '*')",
						SHOWN(c->vals[j].text));
			}
			break;
		case 3: check_inbound(k, c, t); break;
		case 4: check_outbound(k, c, t); break;
		case 5: get_media(k, c, &t->media); break;
		case 6:
			if (!want_assign(k, c, 1, CFG_SRTP_COUNT))
				break;
			for (unsigned j = 0; j < c->nvals; j++) {
				int s = cfg_ck_enum(k, &c->vals[j], "SRTP suite", suite_names);

				if (s < 0)
					continue;
				for (unsigned q = 0; q < t->nsuites; q++)
					if (t->suites[q] == (enum cfg_srtp_suite)s)
						cfg_ck_err(k, c->vals[j].pos, "SRTP suite '%.*s' listed twice",
							SHOWN(c->vals[j].text));
				if (t->nsuites < CFG_SRTP_COUNT)
					t->suites[t->nsuites++] = (enum cfg_srtp_suite)s;
			}
			break;
		case 7: get_bool(k, c, &t->allow_sdes_over_insecure); break;
		case 8: get_u32(k, c, 1, 86400, &t->probe_interval_s); break;
		case 9: get_u32(k, c, 1, 100, &t->probe_down_after); break;
		case 10: get_u32(k, c, 1, 100, &t->probe_up_after); break;
		}
	}
	/* tls_keys indexes 0-5 and 9 (seen at base 16) are the client side's. */
	for (int b = 0; b < 10; b++)
		if (b != 6 && b != 7 && b != 8 && (seen & (1ull << (16 + b))))
			t->own_tls = true;
	if (t->own_tls && (!t->tls.cert) != (!t->tls.key))
		cfg_ck_err(k, it->pos, "trunk '%s': a client certificate needs both 'cert' and 'key'",
			t->name ? t->name : "?");
	if (t->own_tls && t->transport != CFG_TP_TLS)
		cfg_ck_warn(k, it->pos, "trunk '%s': TLS settings on a %s trunk are not used",
			t->name ? t->name : "?", cfg_transport_name(t->transport));
	if (!t->naddrs)
		cfg_ck_err(k, it->pos, "trunk '%s' has no 'address'", t->name ? t->name : "?");
	if (!t->nsuites) {
		static const enum cfg_srtp_suite defaults[] = {
			CFG_SRTP_AES_CM_128_HMAC_SHA1_80, CFG_SRTP_AES_CM_128_HMAC_SHA1_32,
			CFG_SRTP_AEAD_AES_128_GCM, CFG_SRTP_AEAD_AES_256_GCM,
		};
		memcpy(t->suites, defaults, sizeof(defaults));
		t->nsuites = sizeof(defaults) / sizeof(defaults[0]);
	}
	if (t->media == CFG_MEDIA_REQUIRE && t->transport != CFG_TP_TLS &&
	    !t->allow_sdes_over_insecure)
		cfg_ck_warn(k, addr_pos,
			"trunk '%s': media_encryption = require over %s cannot send SDES keys; "
			"calls will fail unless transport = tls (or allow_sdes_over_insecure = yes)",
			t->name ? t->name : "?", cfg_transport_name(t->transport));
	if (t->tls.min_version == CFG_TLS_DEFAULT && t->transport == CFG_TP_TLS)
		t->tls.min_version = CFG_TLS_1_2;
}

/* ---- users ---- */

static const char *const user_keys[] = { "realm", "ha1_md5", "ha1_sha256", NULL };

static void check_user(struct cfg_ck *k, const struct cfg_item *it, struct cfg_user *u)
{
	uint64_t seen = 0;

	if (it->assign || it->nvals != 1 || !it->has_body || it->vals[0].text.n == 0 ||
	    rp_str_chr(it->vals[0].text, ':') >= 0) {
		cfg_ck_err(k, it->pos, "expected 'user NAME { ha1_md5 = ...; ha1_sha256 = ...; }'");
		return;
	}
	u->name = cfg_ck_strdup(k, it->vals[0].text);
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(user_keys, c->key);

		if (i < 0) {
			if (rp_str_eq_cstr(c->key, "password"))
				cfg_ck_err(k, c->pos, "plain passwords are not stored: give 'ha1_md5' = "
					"md5(\"user:realm:password\") and/or 'ha1_sha256'");
			else
				unknown_key(k, c, user_keys, "user");
			continue;
		}
		if (!first_time(k, c, &seen, i))
			continue;
		if (i == 0)
			get_str(k, c, &u->realm);
		else if (i == 1)
			get_ha1(k, c, 32, &u->ha1_md5);
		else
			get_ha1(k, c, 64, &u->ha1_sha256);
	}
	if (!u->ha1_md5 && !u->ha1_sha256)
		cfg_ck_err(k, it->pos, "user '%.*s' has no 'ha1_md5' or 'ha1_sha256'", SHOWN(it->vals[0].text));
}

static int read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > CFG_MAX_FILE) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* shrank while reading: take what is there */
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int cfg_read_file(const char *path, char **out, size_t *len)
{
	return read_file(path, out, len);
}

/* users file: one account a line, "user:realm:ha1_md5[:ha1_sha256]" (an
 * htdigest file is valid as is); '#' comments and blank lines ignored. */
static void load_users_file(struct cfg_ck *k, const struct cfg_item *it, unsigned *nusers_out,
	struct cfg_user **users_out)
{
	struct cfg *c = k->c;
	const char *path = c->settings.users_file;
	char *full;
	size_t cap = 0, n = 0;
	struct cfg_user *users = NULL;
	int rc;

	if (path[0] != '/' && c->dir) {
		size_t dl = strlen(c->dir), pl = strlen(path);

		full = rp_arena_alloc(&c->arena, dl + pl + 2);
		if (!full) {
			k->nomem = true;
			return;
		}
		memcpy(full, c->dir, dl);
		full[dl] = '/';
		memcpy(full + dl + 1, path, pl + 1);
	} else {
		full = (char *)path;
	}
	rc = read_file(full, &c->users_text, &c->users_len);
	if (rc < 0) {
		cfg_ck_err(k, it->vals[0].pos, "cannot read users_file '%s': %s", full, strerror(-rc));
		return;
	}
	for (size_t i = 0; i < c->users_len; i++)
		if (c->users_text[i] == '\n')
			cap++;
	cap++;
	users = cfg_ck_alloc(k, cap * sizeof(*users));
	if (!users)
		return;
	{
		const char *p = c->users_text, *end = p + c->users_len;
		uint32_t line = 0;

		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			rp_str l = rp_str_make(p, eol ? (size_t)(eol - p) : (size_t)(end - p));
			rp_str f[4];
			unsigned nf = 0;
			size_t s = 0;
			struct cfg_pos pos = { full, ++line, 1 };

			p = eol ? eol + 1 : end;
			if (l.n && l.p[l.n - 1] == '\r')
				l.n--;
			if (rp_str_trim(l).n == 0 || rp_str_trim(l).p[0] == '#')
				continue;
			for (size_t q = 0; q <= l.n && nf < 4; q++) {
				if (q == l.n || l.p[q] == ':') {
					f[nf++] = rp_str_make(l.p + s, q - s);
					s = q + 1;
				}
			}
			if (s <= l.n || nf < 3) {
				cfg_ck_err(k, pos, "expected 'user:realm:ha1_md5[:ha1_sha256]'");
				continue;
			}
			if (f[0].n == 0) {
				cfg_ck_err(k, pos, "empty user name");
				continue;
			}
			pos.col = (uint32_t)(f[2].p - l.p) + 1;
			if (f[2].n && !is_hex(f[2], 32)) {
				cfg_ck_err(k, pos, "bad MD5 HA1 (expected 32 hex digits)");
				continue;
			}
			if (nf == 4) {
				pos.col = (uint32_t)(f[3].p - l.p) + 1;
				if (!is_hex(f[3], 64)) {
					cfg_ck_err(k, pos, "bad SHA-256 HA1 (expected 64 hex digits)");
					continue;
				}
			}
			if (f[2].n == 0 && nf < 4) {
				cfg_ck_err(k, pos, "no HA1 given");
				continue;
			}
			users[n].name = cfg_ck_strdup(k, f[0]);
			users[n].realm = cfg_ck_strdup(k, f[1]);
			users[n].ha1_md5 = f[2].n ? hex_secret(k, f[2]) : NULL;
			users[n].ha1_sha256 = nf == 4 ? hex_secret(k, f[3]) : NULL;
			n++;
		}
	}
	*users_out = users;
	*nusers_out = (unsigned)n;
}

/* ---- top level ---- */

static const char *const global_keys[] = {
	"log_level", "workers", "user_agent", "max_message_size", "control_socket",
	"mediad_socket", "realm", "domain", "timer_t1", "timer_t2", "timer_t4",
	"registration_min_expires", "registration_max_expires",
	"registration_default_expires", "tcp_idle_timeout", "users_file",
	"cdr_file", "cdr_fsync_lines", "cdr_fsync_ms", "cdr_hash", "cdr_secret_file",
	"metrics_listen", "control_socket_mode", "control_socket_group",
	"control_socket_readonly", "control_socket_readonly_mode",
	"control_socket_readonly_group",
	"auth_algorithms", "max_branches",
	"dns_servers", "dns_timeout", "dns_attempts", "dns_min_ttl", "dns_max_ttl",
	"dns_cache_size", "log_rate_burst", "log_rate_interval_ms", "regex_max_subject",
	"batch_wait_us", "tcp_keepalive_interval", "udp_steering",
	/* blocks */
	"tls", "listen", "trunk", "user", "route", NULL,
};
enum {
	G_LOG_LEVEL, G_WORKERS, G_USER_AGENT, G_MAX_MSG, G_CONTROL, G_MEDIAD, G_REALM,
	G_DOMAIN, G_T1, G_T2, G_T4, G_REG_MIN, G_REG_MAX, G_REG_DEF, G_TCP_IDLE,
	G_USERS_FILE, G_CDR_FILE, G_CDR_FSYNC_LINES, G_CDR_FSYNC_MS, G_CDR_HASH,
	G_CDR_SECRET, G_METRICS, G_CTL_MODE, G_CTL_GROUP, G_CTL_RO, G_CTL_RO_MODE,
	G_CTL_RO_GROUP, G_AUTH_ALGS, G_MAX_BRANCHES, G_DNS_SERVERS, G_DNS_TIMEOUT,
	G_DNS_ATTEMPTS, G_DNS_MIN_TTL, G_DNS_MAX_TTL, G_DNS_CACHE, G_LOG_RATE_BURST,
	G_LOG_RATE_INTERVAL, G_REGEX_MAX_SUBJECT, G_BATCH_WAIT, G_TCP_KEEPALIVE, G_UDP_STEERING, G_TLS, G_LISTEN, G_TRUNK, G_USER,
	G_ROUTE,
};

/* A socket file mode: octal, at most 0777. */
static void get_mode(struct cfg_ck *k, const struct cfg_item *it, uint32_t *out)
{
	uint32_t v = 0;
	rp_str t;

	if (!want_assign(k, it, 1, 1))
		return;
	t = it->vals[0].text;
	if (t.n < 3 || t.n > 4)
		goto bad;
	for (size_t i = 0; i < t.n; i++) {
		if (t.p[i] < '0' || t.p[i] > '7')
			goto bad;
		v = v * 8 + (uint32_t)(t.p[i] - '0');
	}
	if (v > 0777)
		goto bad;
	if (v & 0002)
		cfg_ck_warn(k, it->vals[0].pos, "socket mode %.*s lets every local user write to "
			"it (connect)", SHOWN(t));
	*out = v;
	return;
bad:
	cfg_ck_err(k, it->vals[0].pos, "bad socket mode '%.*s' (octal, e.g. 0660)", SHOWN(t));
}

/* metrics_listen: off | PORT (loopback) | IPV4:PORT | [IPV6]:PORT. */
static void get_metrics(struct cfg_ck *k, const struct cfg_item *it, const char **out)
{
	rp_str v, host;
	uint16_t port = 0;
	sa_family_t fam;
	uint8_t addr[16];
	uint32_t n;

	if (!want_assign(k, it, 1, 1))
		return;
	v = it->vals[0].text;
	if (rp_str_eq_cstr(v, "off") || rp_str_eq_cstr(v, "none")) {
		*out = NULL;
		return;
	}
	if (rp_str_to_u32(v, &n) == 0) {
		if (n > 65535)
			goto bad;
		*out = cfg_ck_strdup(k, v);
		return;
	}
	if (!parse_hostport(v, &host, &port) || !parse_ip(host, &fam, addr))
		goto bad;
	/* The port is required: after the host (and its ']') comes ':'. */
	size_t after = (size_t)(host.p - v.p) + host.n + (v.p[0] == '[' ? 1 : 0);
	if (after >= v.n || v.p[after] != ':')
		goto bad;
	*out = cfg_ck_strdup(k, v);
	return;
bad:
	cfg_ck_err(k, it->vals[0].pos, "bad metrics_listen '%.*s' (expected off, PORT, "
		"IPV4:PORT or [IPV6]:PORT; names are not accepted)", SHOWN(v));
}

/* dns_servers = "IP[:PORT]", "[IPV6]:PORT", ...; (numeric: the resolver
 * cannot look its own servers up). */
static void get_dns_servers(struct cfg_ck *k, const struct cfg_item *it,
	struct cfg_settings *s)
{
	if (!want_assign(k, it, 1, CFG_DNS_MAX_SERVERS))
		return;
	for (unsigned i = 0; i < it->nvals; i++) {
		rp_str v = it->vals[i].text, host;
		uint16_t port = 53;
		sa_family_t fam;
		uint8_t addr[16];

		if (!parse_hostport(v, &host, &port) || !parse_ip(host, &fam, addr) ||
		    (host.p > v.p && v.p[0] != '[' && fam == AF_INET6)) {
			cfg_ck_err(k, it->vals[i].pos, "bad DNS server '%.*s' (expected IP, "
				"IP:PORT or [IPV6]:PORT; names are not accepted)", SHOWN(v));
			return;
		}
		if (!port)
			port = 53;
		if (!(s->dns_servers[i] = cfg_ck_strdup(k, host)))
			return;
		s->dns_ports[i] = port;
	}
	s->ndns_servers = it->nvals;
}

static void defaults(struct cfg_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->log_level = RP_LOG_INFO;
	s->log_rate_burst = RP_LOG_RL_BURST_DEFAULT;
	s->log_rate_interval_ms = RP_LOG_RL_INTERVAL_MS_DEFAULT;
	s->regex_max_subject = CFG_REGEX_MAX_SUBJECT_DEFAULT;
	s->user_agent = "Rampart";
	s->max_message_size = 65535;
	s->control_socket = "/run/rampart/proxy.sock";
	s->control_mode = 0660;
	s->control_ro_mode = 0660;
	s->mediad_socket = "/run/rampart/mediad.sock";
	s->realm = "rampart";
	s->timer_t1_ms = 500;
	s->timer_t2_ms = 4000;
	s->timer_t4_ms = 5000;
	s->reg_min_expires = 60;
	s->reg_max_expires = 3600;
	s->reg_default_expires = 3600;
	s->tcp_idle_timeout = 600;
	s->tcp_keepalive_interval = 90;
	s->max_branches = 8;
	s->dns_timeout_ms = 1000;
	s->dns_attempts = 2;
	s->dns_min_ttl = 5;
	s->dns_max_ttl = 3600;
	s->dns_cache_size = 4096;
	s->batch_wait_us = CFG_BATCH_WAIT_US_DEFAULT;
	s->auth_algorithms = CFG_AUTH_ALG_SHA256 | CFG_AUTH_ALG_MD5;
	s->tls.min_version = CFG_TLS_1_2;
	s->tls.verify_server = true;
}

/* auth_algorithms = sha256, md5; (one or both, each once). */
static void get_auth_algs(struct cfg_ck *k, const struct cfg_item *it, unsigned *out)
{
	static const char *const names[] = { "sha256", "md5", NULL };
	static const unsigned bits[] = { CFG_AUTH_ALG_SHA256, CFG_AUTH_ALG_MD5 };
	unsigned v = 0;

	if (!want_assign(k, it, 1, 2))
		return;
	for (unsigned i = 0; i < it->nvals; i++) {
		int e = cfg_ck_enum(k, &it->vals[i], "digest algorithm", names);

		if (e < 0)
			return;
		if (v & bits[e]) {
			cfg_ck_err(k, it->vals[i].pos, "'%.*s' is listed twice", SHOWN(it->vals[i].text));
			return;
		}
		v |= bits[e];
	}
	*out = v;
}

static void check_global(struct cfg_ck *k, const struct cfg_item *it, int i, uint64_t *seen)
{
	struct cfg_settings *s = &k->c->settings;
	static const char *const levels[] = { "err", "warn", "notice", "info", "debug", NULL };
	static const enum rp_log_level lv[] = { RP_LOG_ERR, RP_LOG_WARN, RP_LOG_NOTICE,
		RP_LOG_INFO, RP_LOG_DEBUG };
	uint32_t v;
	int e;

	if (!it->assign) {
		cfg_ck_err(k, it->pos, "'%.*s' is a setting: write '%.*s = value;'", SHOWN(it->key),
			SHOWN(it->key));
		return;
	}
	if (!first_time(k, it, seen, i))
		return;
	switch (i) {
	case G_LOG_LEVEL:
		if (want_assign(k, it, 1, 1) && (e = cfg_ck_enum(k, &it->vals[0], "log level", levels)) >= 0)
			s->log_level = lv[e];
		break;
	case G_WORKERS:
		if (get_u32(k, it, 0, 256, &v))
			s->workers = v;
		break;
	case G_USER_AGENT: get_wire_str(k, it, "", &s->user_agent); break;
	case G_MAX_MSG: get_u32(k, it, 1024, 1u << 20, &s->max_message_size); break;
	case G_CONTROL: get_str(k, it, &s->control_socket); break;
	case G_MEDIAD: get_str(k, it, &s->mediad_socket); break;
	case G_REALM: get_wire_str(k, it, "\"\\", &s->realm); break;
	case G_DOMAIN: get_str_list(k, it, &s->domains, &s->ndomains); break;
	case G_T1: get_u32(k, it, 50, 60000, &s->timer_t1_ms); break;
	case G_T2: get_u32(k, it, 100, 600000, &s->timer_t2_ms); break;
	case G_T4: get_u32(k, it, 100, 600000, &s->timer_t4_ms); break;
	case G_REG_MIN: get_u32(k, it, 1, 86400, &s->reg_min_expires); break;
	case G_REG_MAX: get_u32(k, it, 1, 604800, &s->reg_max_expires); break;
	case G_REG_DEF: get_u32(k, it, 1, 604800, &s->reg_default_expires); break;
	case G_TCP_IDLE: get_u32(k, it, 1, 86400, &s->tcp_idle_timeout); break;
	case G_TCP_KEEPALIVE: get_u32(k, it, 0, 86400, &s->tcp_keepalive_interval); break;
	case G_MAX_BRANCHES: get_u32(k, it, 1, 16, &s->max_branches); break;
	case G_LOG_RATE_BURST: get_u32(k, it, 0, 1000000, &s->log_rate_burst); break;
	case G_LOG_RATE_INTERVAL:
		get_u32(k, it, 100, 3600000, &s->log_rate_interval_ms);
		break;
	case G_REGEX_MAX_SUBJECT:
		get_u32(k, it, 16, CFG_REGEX_MAX_SUBJECT_LIMIT, &s->regex_max_subject);
		break;
	case G_BATCH_WAIT: get_u32(k, it, 0, 5000, &s->batch_wait_us); break;
	case G_UDP_STEERING: {
		static const char *const modes[] = { "auto", "hash", NULL };

		if (want_assign(k, it, 1, 1) &&
		    (e = cfg_ck_enum(k, &it->vals[0], "UDP steering mode", modes)) >= 0)
			s->udp_steering_hash = e == 1;
		break;
	}
	case G_USERS_FILE: get_str(k, it, &s->users_file); break;
	case G_CDR_FILE: get_str(k, it, &s->cdr_file); break;
	case G_CDR_FSYNC_LINES: get_u32(k, it, 1, 1000000, &s->cdr_fsync_lines); break;
	case G_CDR_FSYNC_MS: get_u32(k, it, 1, 3600000, &s->cdr_fsync_ms); break;
	case G_CDR_HASH: {
		static const char *const hashes[] = { "none", "sha256", "hmac", NULL };

		if (want_assign(k, it, 1, 1) &&
		    (e = cfg_ck_enum(k, &it->vals[0], "cdr_hash", hashes)) >= 0)
			s->cdr_hash = (unsigned)e;
		break;
	}
	case G_CDR_SECRET: get_str(k, it, &s->cdr_secret_file); break;
	case G_METRICS: get_metrics(k, it, &s->metrics_listen); break;
	case G_CTL_MODE: get_mode(k, it, &s->control_mode); break;
	case G_CTL_GROUP: get_str(k, it, &s->control_group); break;
	case G_CTL_RO: get_str(k, it, &s->control_socket_ro); break;
	case G_CTL_RO_MODE: get_mode(k, it, &s->control_ro_mode); break;
	case G_CTL_RO_GROUP: get_str(k, it, &s->control_ro_group); break;
	case G_AUTH_ALGS: get_auth_algs(k, it, &s->auth_algorithms); break;
	case G_DNS_SERVERS: get_dns_servers(k, it, s); break;
	case G_DNS_TIMEOUT: get_u32(k, it, 50, 30000, &s->dns_timeout_ms); break;
	case G_DNS_ATTEMPTS: get_u32(k, it, 1, 5, &s->dns_attempts); break;
	case G_DNS_MIN_TTL: get_u32(k, it, 1, 3600, &s->dns_min_ttl); break;
	case G_DNS_MAX_TTL: get_u32(k, it, 1, 604800, &s->dns_max_ttl); break;
	case G_DNS_CACHE: get_u32(k, it, 16, 1u << 20, &s->dns_cache_size); break;
	}
}

static void check_global_tls(struct cfg_ck *k, const struct cfg_item *it)
{
	uint64_t seen = 0;

	if (it->assign || it->nvals || !it->has_body) {
		cfg_ck_err(k, it->pos, "expected 'tls { ... }'");
		return;
	}
	for (const struct cfg_item *c = it->children; c; c = c->next)
		if (!tls_key(k, c, &k->c->settings.tls, TLS_GLOBAL, &seen, 0))
			unknown_key(k, c, tls_keys, "tls");
	if (k->c->settings.tls.require_client_cert && !k->c->settings.tls.verify_client)
		cfg_ck_err(k, it->pos, "'require_client_cert = yes' needs 'verify_client = yes'");
}

static int check_items(struct cfg_ck *k)
{
	struct cfg *c = k->c;
	unsigned nl = 0, nt = 0, nu = 0, fu = 0;
	uint64_t seen = 0;
	int rc;
	const struct cfg_item *tls_item = NULL, *users_file_item = NULL;
	struct cfg_user *file_users = NULL;

	defaults(&c->settings);
	/* settings and the tls block first: listeners and trunks inherit them
	 * wherever they appear in the file */
	for (const struct cfg_item *it = c->items; it; it = it->next) {
		int i = key_index(global_keys, it->key);

		if (i < 0) {
			unknown_key(k, it, global_keys, "the top level");
			continue;
		}
		if (i < G_TLS)
			check_global(k, it, i, &seen);
		if (i == G_USERS_FILE)
			users_file_item = it;
		if (i == G_TLS) {
			if (tls_item)
				cfg_ck_err(k, it->pos, "duplicate 'tls' block");
			else
				check_global_tls(k, tls_item = it);
		}
		nl += i == G_LISTEN;
		nt += i == G_TRUNK;
		nu += i == G_USER;
	}
	if (c->settings.reg_min_expires > c->settings.reg_max_expires)
		cfg_ck_err(k, c->items ? c->items->pos : (struct cfg_pos){ c->file, 0, 0 },
			"registration_min_expires is above registration_max_expires");
	if (c->settings.dns_min_ttl > c->settings.dns_max_ttl)
		cfg_ck_err(k, c->items ? c->items->pos : (struct cfg_pos){ c->file, 0, 0 },
			"dns_min_ttl is above dns_max_ttl");
	if (c->settings.cdr_hash == 2 && !c->settings.cdr_secret_file)
		cfg_ck_err(k, c->items ? c->items->pos : (struct cfg_pos){ c->file, 0, 0 },
			"cdr_hash = hmac needs cdr_secret_file (a file of 16..256 secret bytes)");
	if (users_file_item && c->settings.users_file)
		load_users_file(k, users_file_item, &fu, &file_users);
	if (k->nomem)
		return -ENOMEM;
	c->listens = cfg_ck_alloc(k, nl * sizeof(*c->listens));
	c->trunks = cfg_ck_alloc(k, nt * sizeof(*c->trunks));
	c->users = cfg_ck_alloc(k, (nu + fu) * sizeof(*c->users));
	if (!c->user_index && rp_hash_new(nu + fu, RP_HASH_COPY_KEYS, &c->user_index) < 0)
		k->nomem = true;
	if (k->nomem)
		return -ENOMEM;
	for (const struct cfg_item *it = c->items; it; it = it->next) {
		int i = key_index(global_keys, it->key);

		if (i == G_LISTEN) {
			struct cfg_listen *l = &c->listens[c->nlistens];

			check_listen(k, it, l);
			if (!l->addr)
				continue;
			for (unsigned j = 0; j < c->nlistens; j++)
				if (c->listens[j].transport == l->transport && c->listens[j].port == l->port &&
				    strcmp(c->listens[j].addr, l->addr) == 0)
					cfg_ck_err(k, it->pos, "duplicate listen %s %s:%u (first at line %u)",
						cfg_transport_name(l->transport), l->addr, l->port,
						c->listens[j].line);
			c->nlistens++;
		} else if (i == G_TRUNK) {
			struct cfg_trunk *t = &c->trunks[c->ntrunks];

			check_trunk(k, it, t);
			if (!t->name)
				continue;
			for (unsigned j = 0; j < c->ntrunks; j++)
				if (strcmp(c->trunks[j].name, t->name) == 0)
					cfg_ck_err(k, it->vals[0].pos, "duplicate trunk name '%s'", t->name);
			t->index = c->ntrunks++;
		} else if (i == G_USER) {
			struct cfg_user *u = &c->users[c->nusers];

			check_user(k, it, u);
			if (!u->name)
				continue;
			if (!u->realm)
				u->realm = c->settings.realm;
			rc = cfg_user_index_add(c, u);
			if (rc == -EEXIST)
				cfg_ck_err(k, it->vals[0].pos, "duplicate user '%s' in realm '%s'",
					u->name, u->realm);
			else if (rc < 0)
				k->nomem = true;
			c->nusers++;
		} else if (i == G_ROUTE && !it->route) {
			cfg_ck_err(k, it->pos, "expected 'route NAME { ... }'");
		}
	}
	for (unsigned i = 0; i < fu; i++) {
		const struct cfg_user *u = &file_users[i];

		if (!u->name || !u->realm)
			continue;
		c->users[c->nusers] = *u;
		rc = cfg_user_index_add(c, &c->users[c->nusers]);
		if (rc == -EEXIST) {
			cfg_ck_err(k, users_file_item->vals[0].pos, "users_file: duplicate user '%s' in realm '%s'",
				u->name, u->realm);
			continue;
		}
		if (rc < 0)
			k->nomem = true;
		c->nusers++;
	}
	if (c->nlistens == 0)
		cfg_ck_warn(k, (struct cfg_pos){ c->file, 0, 0 }, "no 'listen' lines: the proxy will not accept anything");
	return k->nomem ? -ENOMEM : 0;
}

int cfg_check(struct cfg *c, struct cfg_diag *diag)
{
	struct cfg_ck k = { .c = c, .d = diag };
	int rc = check_items(&k);

	if (rc < 0)
		return rc;
	cfg_ck_script(&k);
	if (k.nomem)
		return -ENOMEM;
	return k.errors ? -EINVAL : 0;
}

int cfg_check_file(const char *path, FILE *out)
{
	struct cfg_diag *d = malloc(sizeof(*d));
	struct cfg *c = NULL;
	int rc;

	if (!d) {
		fprintf(out, "%s: out of memory\n", path);
		return 2;
	}
	cfg_diag_init(d);
	rc = cfg_load_file(path, &c, d);
	cfg_diag_print(d, out);
	if (rc == 0) {
		fprintf(out, "%s: OK (%zu listen, %zu trunks, %zu users; %u warning%s)\n", path,
			cfg_listen_count(c), cfg_trunk_count(c), cfg_user_count(c), d->warnings,
			d->warnings == 1 ? "" : "s");
		cfg_free(c);
	} else if (rc == -EINVAL && d->errors) {
		fprintf(out, "%s: %u error%s, %u warning%s\n", path, d->errors,
			d->errors == 1 ? "" : "s", d->warnings, d->warnings == 1 ? "" : "s");
	} else {
		fprintf(out, "%s: cannot load: %s\n", path, strerror(-rc));
	}
	rc = rc == 0 ? 0 : (rc == -EINVAL && d->errors ? 1 : 2);
	free(d);
	return rc;
}
