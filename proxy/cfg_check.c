#include "cfg_check.h"

#include "cfg_parse.h"
#include "cfg_prog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct ck {
	struct cfg *c;
	struct cfg_diag *d;
	unsigned errors;
	bool nomem;
};

static void cerr(struct ck *k, struct cfg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cwarn(struct ck *k, struct cfg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cerr(struct ck *k, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	k->errors++;
	va_start(ap, fmt);
	cfg_diag_vadd(k->d, CFG_SEV_ERROR, pos, fmt, ap);
	va_end(ap);
}

static void cwarn(struct ck *k, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(k->d, CFG_SEV_WARNING, pos, fmt, ap);
	va_end(ap);
}

static void *kalloc(struct ck *k, size_t n)
{
	void *p = cfg_alloc(k->c, n ? n : 1);

	if (!p)
		k->nomem = true;
	return p;
}

static const char *kstrdup(struct ck *k, rp_str s)
{
	const char *p = cfg_strdup(k->c, s);

	if (!p)
		k->nomem = true;
	return p;
}

#define SHOWN(s) (int)((s).n > 60 ? 60 : (s).n), (s).p

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

struct suggest {
	rp_str word;
	const char *best;
	size_t best_len;
	unsigned dist;
};

static void suggest_init(struct suggest *s, rp_str word)
{
	s->word = word;
	s->best = NULL;
	s->best_len = 0;
	s->dist = word.n <= 3 ? 1 : word.n <= 6 ? 2 : 3;
	s->dist++; /* strict '<' below */
}

static void suggest_try(struct suggest *s, const char *cand, size_t n)
{
	unsigned d = cfg_edit_distance(s->word.p, s->word.n, cand, n);

	if (d < s->dist) {
		s->dist = d;
		s->best = cand;
		s->best_len = n;
	}
}

/* " (did you mean 'x'?)" or "" */
static const char *suggest_text(const struct suggest *s, char *buf, size_t n)
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

static void unknown_key(struct ck *k, const struct cfg_item *it, const char *const *keys,
	const char *where)
{
	struct suggest s;
	char hint[96];

	suggest_init(&s, it->key);
	for (int i = 0; keys[i]; i++)
		suggest_try(&s, keys[i], strlen(keys[i]));
	cerr(k, it->pos, "unknown %s '%.*s' in %s%s", it->assign ? "setting" : "block",
		SHOWN(it->key), where, suggest_text(&s, hint, sizeof(hint)));
}

/* ---- values ---- */

static bool want_assign(struct ck *k, const struct cfg_item *it, unsigned min, unsigned max)
{
	if (!it->assign) {
		cerr(k, it->pos, "'%.*s' is a setting: write '%.*s = value;'", SHOWN(it->key),
			SHOWN(it->key));
		return false;
	}
	if (it->nvals < min || it->nvals > max) {
		if (max == 1)
			cerr(k, it->vals[min < it->nvals ? min : 0].pos,
				"'%.*s' takes one value", SHOWN(it->key));
		else
			cerr(k, it->pos, "'%.*s' takes %u to %u values", SHOWN(it->key), min, max);
		return false;
	}
	return true;
}

static bool get_u32(struct ck *k, const struct cfg_item *it, uint32_t min, uint32_t max,
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
		cerr(k, v->pos, "'%.*s' must be a number, not '%.*s'", SHOWN(it->key), SHOWN(v->text));
		return false;
	}
	if (x < min || x > max) {
		cerr(k, v->pos, "%.*s = %.*s is out of range (%u..%u)", SHOWN(it->key),
			SHOWN(v->text), min, max);
		return false;
	}
	*out = (uint32_t)x;
	return true;
}

static bool get_str(struct ck *k, const struct cfg_item *it, const char **out)
{
	if (!want_assign(k, it, 1, 1))
		return false;
	*out = kstrdup(k, it->vals[0].text);
	return *out != NULL;
}

static bool get_secret(struct ck *k, const struct cfg_item *it, const char **out)
{
	char *p;

	if (!want_assign(k, it, 1, 1))
		return false;
	p = (char *)kstrdup(k, it->vals[0].text);
	if (!p)
		return false;
	if (cfg_add_secret(k->c, p, it->vals[0].text.n) < 0) {
		k->nomem = true;
		return false;
	}
	*out = p;
	return true;
}

static bool get_bool(struct ck *k, const struct cfg_item *it, bool *out)
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
	cerr(k, it->vals[0].pos, "'%.*s' must be yes or no, not '%.*s'", SHOWN(it->key), SHOWN(t));
	return false;
}

/* Value from a NULL-terminated name list; index or -1 (error reported). */
static int get_enum_val(struct ck *k, const struct cfg_value *v, const char *what,
	const char *const *names)
{
	struct suggest s;
	char hint[96], all[160] = "";
	int i = key_index(names, v->text);

	if (i >= 0)
		return i;
	suggest_init(&s, v->text);
	for (int j = 0; names[j]; j++) {
		suggest_try(&s, names[j], strlen(names[j]));
		if (j)
			strncat(all, ", ", sizeof(all) - strlen(all) - 1);
		strncat(all, names[j], sizeof(all) - strlen(all) - 1);
	}
	if (s.best)
		cerr(k, v->pos, "unknown %s '%.*s'%s", what, SHOWN(v->text),
			suggest_text(&s, hint, sizeof(hint)));
	else
		cerr(k, v->pos, "unknown %s '%.*s' (expected one of: %s)", what, SHOWN(v->text), all);
	return -1;
}

static const char *const media_names[] = { "disable", "allow", "require", NULL };
static const char *const transport_names[] = { "udp", "tcp", "tls", NULL };

static bool get_media(struct ck *k, const struct cfg_item *it, enum cfg_media_enc *out)
{
	int i;

	if (!want_assign(k, it, 1, 1))
		return false;
	i = get_enum_val(k, &it->vals[0], "media_encryption", media_names);
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
static bool parse_cidr(rp_str s, struct cfg_cidr *out)
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
static const char *hex_secret(struct ck *k, rp_str s)
{
	char *p = (char *)kstrdup(k, s);

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

static bool get_ha1(struct ck *k, const struct cfg_item *it, size_t digits, const char **out)
{
	if (!want_assign(k, it, 1, 1))
		return false;
	if (!is_hex(it->vals[0].text, digits)) {
		cerr(k, it->vals[0].pos, "'%.*s' must be %zu hex digits (%s of user:realm:password)",
			SHOWN(it->key), digits, digits == 32 ? "MD5" : "SHA-256");
		return false;
	}
	*out = hex_secret(k, it->vals[0].text);
	return *out != NULL;
}

static bool get_str_list(struct ck *k, const struct cfg_item *it, const char *const **out,
	unsigned *n)
{
	const char **v;

	if (!want_assign(k, it, 1, 64))
		return false;
	v = kalloc(k, (it->nvals + 1) * sizeof(*v));
	if (!v)
		return false;
	for (unsigned i = 0; i < it->nvals; i++) {
		v[i] = kstrdup(k, it->vals[i].text);
		if (!v[i])
			return false;
	}
	*out = v;
	*n = it->nvals;
	return true;
}

/* Duplicate keys within one block are errors: the second would silently win. */
static bool first_time(struct ck *k, const struct cfg_item *it, uint64_t *seen, int idx)
{
	if (idx < 64 && (*seen & (1ull << idx))) {
		cerr(k, it->pos, "duplicate setting '%.*s'", SHOWN(it->key));
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
static bool tls_key(struct ck *k, const struct cfg_item *it, struct cfg_tls *t, enum tls_ctx ctx,
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
				cerr(k, it->vals[0].pos, "'cert = auto' is for listeners only");
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
		v = get_enum_val(k, &it->vals[0], "TLS version", versions);
		if (v >= 0)
			t->min_version = v == 0 ? CFG_TLS_1_2 : CFG_TLS_1_3;
		break;
	case 6:
	case 7:
		if (ctx == TLS_TRUNK) {
			cerr(k, it->pos, "'%.*s' is for listeners; trunks use verify_server",
				SHOWN(it->key));
			break;
		}
		get_bool(k, it, i == 6 ? &t->verify_client : &t->require_client_cert);
		break;
	case 8:
		if (ctx != TLS_LISTEN) {
			cerr(k, it->pos, "'sni' is for tls listeners only");
			break;
		}
		get_str_list(k, it, &t->sni, &t->nsni);
		break;
	case 9:
	case 10:
		if (ctx == TLS_LISTEN) {
			cerr(k, it->pos, "'%.*s' is for trunks (the client side) only", SHOWN(it->key));
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

static void check_tls(struct ck *k, const struct cfg_tls *t, struct cfg_pos pos, bool server)
{
	if (server && !t->cert && !t->cert_auto)
		cerr(k, pos, "tls listener without a certificate: set 'cert' and 'key' (or 'cert = auto')");
	else if (server && t->cert && !t->key)
		cerr(k, pos, "'cert' without 'key'");
	if (t->require_client_cert && !t->verify_client)
		cerr(k, pos, "'require_client_cert = yes' needs 'verify_client = yes'");
	if (server && t->verify_client && !t->ca_file && !t->ca_dir)
		cerr(k, pos, "'verify_client = yes' needs 'ca_file' or 'ca_dir'");
}

/* ---- listen ---- */

static const char *const listen_keys[] = { "media_encryption", NULL };

static void check_listen(struct ck *k, const struct cfg_item *it, struct cfg_listen *l)
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
		cerr(k, it->pos, "expected 'listen udp|tcp|tls ADDRESS[:PORT];'");
		return;
	}
	tp = get_enum_val(k, &it->vals[0], "transport", transport_names);
	if (tp < 0)
		return;
	l->transport = (enum cfg_transport)(CFG_TP_UDP + tp);
	if (!parse_hostport(it->vals[1].text, &host, &port) || !parse_ip(host, &l->family, addr)) {
		cerr(k, it->vals[1].pos, "bad listen address '%.*s' (expected IPv4:port or [IPv6]:port)",
			SHOWN(it->vals[1].text));
		return;
	}
	l->addr = kstrdup(k, host);
	l->port = port ? port : (l->transport == CFG_TP_TLS ? 5061 : 5060);
	l->media = l->transport == CFG_TP_TLS ? CFG_MEDIA_REQUIRE : CFG_MEDIA_ALLOW;
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(listen_keys, c->key);

		if (i == 0) {
			if (first_time(k, c, &seen, 63))
				get_media(k, c, &l->media);
			continue;
		}
		if (tls_key(k, c, &l->tls, TLS_LISTEN, &seen, 0)) {
			if (l->transport != CFG_TP_TLS)
				cerr(k, c->pos, "'%.*s' is only valid on a tls listener", SHOWN(c->key));
			continue;
		}
		{
			static const char *const all[] = { "media_encryption", "cert", "key",
				"ca_file", "ca_dir", "ciphers", "min_version", "verify_client",
				"require_client_cert", "sni", NULL };
			unknown_key(k, c, all, "listen");
		}
	}
	if (l->transport == CFG_TP_TLS)
		check_tls(k, &l->tls, it->pos, true);
}

/* ---- trunk ---- */

static const char *const trunk_keys[] = {
	"address", "transport", "numbers", "inbound", "outbound", "media_encryption",
	"srtp_suites", "allow_sdes_over_insecure", NULL,
};
static const char *const trunk_all_keys[] = {
	"address", "transport", "numbers", "inbound", "outbound", "media_encryption",
	"srtp_suites", "allow_sdes_over_insecure", "cert", "key", "ca_file", "ca_dir",
	"ciphers", "min_version", "verify_server", "server_name", NULL,
};
static const char *const inbound_keys[] = {
	"source", "realm", "user", "ha1_md5", "ha1_sha256", "cert_subject", NULL,
};
static const char *const outbound_keys[] = { "username", "password", NULL };

static bool valid_name(rp_str s)
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

static void check_inbound(struct ck *k, const struct cfg_item *blk, struct cfg_trunk *t)
{
	uint64_t seen = 0;

	if (blk->assign || blk->nvals || !blk->has_body) {
		cerr(k, blk->pos, "expected 'inbound { ... }'");
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
			n = kalloc(k, c->nvals * sizeof(*n));
			if (!n)
				break;
			for (unsigned j = 0; j < c->nvals; j++)
				if (!parse_cidr(c->vals[j].text, &n[j]))
					cerr(k, c->vals[j].pos, "bad CIDR '%.*s' (expected ADDRESS[/PREFIX])",
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
		cerr(k, blk->pos, "inbound 'user' needs 'ha1_md5' or 'ha1_sha256'");
	if (!t->auth_user && (t->auth_ha1_md5 || t->auth_ha1_sha256))
		cerr(k, blk->pos, "inbound 'ha1_md5'/'ha1_sha256' need 'user'");
	if (!t->nsources && !t->auth_user && !t->cert_subject)
		cerr(k, blk->pos, "inbound block without 'source', 'user' or 'cert_subject' accepts nothing");
}

static void check_outbound(struct ck *k, const struct cfg_item *blk, struct cfg_trunk *t)
{
	uint64_t seen = 0;

	if (blk->assign || blk->nvals || !blk->has_body) {
		cerr(k, blk->pos, "expected 'outbound { ... }'");
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
		cerr(k, blk->pos, "outbound needs both 'username' and 'password'");
}

static void check_trunk(struct ck *k, const struct cfg_item *it, struct cfg_trunk *t)
{
	uint64_t seen = 0;
	struct cfg_pos addr_pos = it->pos;

	t->tls = k->c->settings.tls;
	t->transport = CFG_TP_UDP;
	t->media = CFG_MEDIA_ALLOW;
	if (it->assign || it->nvals != 1 || !it->has_body || it->vals[0].quoted ||
	    !valid_name(it->vals[0].text)) {
		cerr(k, it->pos, "expected 'trunk NAME { ... }' (NAME: letters, digits, '_', '-')");
		return;
	}
	t->name = kstrdup(k, it->vals[0].text);
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
			hp = kalloc(k, c->nvals * sizeof(*hp));
			if (!hp)
				break;
			for (unsigned j = 0; j < c->nvals; j++) {
				rp_str host;

				if (!parse_hostport(c->vals[j].text, &host, &hp[j].port)) {
					cerr(k, c->vals[j].pos, "bad trunk address '%.*s' (expected HOST[:PORT])",
						SHOWN(c->vals[j].text));
					continue;
				}
				hp[j].host = kstrdup(k, host);
			}
			t->addrs = hp;
			t->naddrs = c->nvals;
			break;
		case 1:
			if (!want_assign(k, c, 1, 1))
				break;
			tp = get_enum_val(k, &c->vals[0], "transport", transport_names);
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
					cerr(k, c->vals[j].pos,
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
				int s = get_enum_val(k, &c->vals[j], "SRTP suite", suite_names);

				if (s < 0)
					continue;
				for (unsigned q = 0; q < t->nsuites; q++)
					if (t->suites[q] == (enum cfg_srtp_suite)s)
						cerr(k, c->vals[j].pos, "SRTP suite '%.*s' listed twice",
							SHOWN(c->vals[j].text));
				if (t->nsuites < CFG_SRTP_COUNT)
					t->suites[t->nsuites++] = (enum cfg_srtp_suite)s;
			}
			break;
		case 7: get_bool(k, c, &t->allow_sdes_over_insecure); break;
		}
	}
	if (!t->naddrs)
		cerr(k, it->pos, "trunk '%s' has no 'address'", t->name ? t->name : "?");
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
		cwarn(k, addr_pos,
			"trunk '%s': media_encryption = require over %s cannot send SDES keys; "
			"calls will fail unless transport = tls (or allow_sdes_over_insecure = yes)",
			t->name ? t->name : "?", cfg_transport_name(t->transport));
	if (t->tls.min_version == CFG_TLS_DEFAULT && t->transport == CFG_TP_TLS)
		t->tls.min_version = CFG_TLS_1_2;
}

/* ---- users ---- */

static const char *const user_keys[] = { "realm", "ha1_md5", "ha1_sha256", NULL };

static void check_user(struct ck *k, const struct cfg_item *it, struct cfg_user *u)
{
	uint64_t seen = 0;

	if (it->assign || it->nvals != 1 || !it->has_body || it->vals[0].text.n == 0 ||
	    rp_str_chr(it->vals[0].text, ':') >= 0) {
		cerr(k, it->pos, "expected 'user NAME { ha1_md5 = ...; ha1_sha256 = ...; }'");
		return;
	}
	u->name = kstrdup(k, it->vals[0].text);
	for (const struct cfg_item *c = it->children; c; c = c->next) {
		int i = key_index(user_keys, c->key);

		if (i < 0) {
			if (rp_str_eq_cstr(c->key, "password"))
				cerr(k, c->pos, "plain passwords are not stored: give 'ha1_md5' = "
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
		cerr(k, it->pos, "user '%.*s' has no 'ha1_md5' or 'ha1_sha256'", SHOWN(it->vals[0].text));
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
static void load_users_file(struct ck *k, const struct cfg_item *it, unsigned *nusers_out,
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
		cerr(k, it->vals[0].pos, "cannot read users_file '%s': %s", full, strerror(-rc));
		return;
	}
	for (size_t i = 0; i < c->users_len; i++)
		if (c->users_text[i] == '\n')
			cap++;
	cap++;
	users = kalloc(k, cap * sizeof(*users));
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
				cerr(k, pos, "expected 'user:realm:ha1_md5[:ha1_sha256]'");
				continue;
			}
			if (f[0].n == 0) {
				cerr(k, pos, "empty user name");
				continue;
			}
			pos.col = (uint32_t)(f[2].p - l.p) + 1;
			if (f[2].n && !is_hex(f[2], 32)) {
				cerr(k, pos, "bad MD5 HA1 (expected 32 hex digits)");
				continue;
			}
			if (nf == 4) {
				pos.col = (uint32_t)(f[3].p - l.p) + 1;
				if (!is_hex(f[3], 64)) {
					cerr(k, pos, "bad SHA-256 HA1 (expected 64 hex digits)");
					continue;
				}
			}
			if (f[2].n == 0 && nf < 4) {
				cerr(k, pos, "no HA1 given");
				continue;
			}
			users[n].name = kstrdup(k, f[0]);
			users[n].realm = kstrdup(k, f[1]);
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
	/* blocks */
	"tls", "listen", "trunk", "user", "route", NULL,
};
enum {
	G_LOG_LEVEL, G_WORKERS, G_USER_AGENT, G_MAX_MSG, G_CONTROL, G_MEDIAD, G_REALM,
	G_DOMAIN, G_T1, G_T2, G_T4, G_REG_MIN, G_REG_MAX, G_REG_DEF, G_TCP_IDLE,
	G_USERS_FILE, G_TLS, G_LISTEN, G_TRUNK, G_USER, G_ROUTE,
};

static void defaults(struct cfg_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->log_level = RP_LOG_INFO;
	s->user_agent = "Rampart";
	s->max_message_size = 65535;
	s->control_socket = "/run/rampart/proxy.sock";
	s->mediad_socket = "/run/rampart/mediad.sock";
	s->realm = "rampart";
	s->timer_t1_ms = 500;
	s->timer_t2_ms = 4000;
	s->timer_t4_ms = 5000;
	s->reg_min_expires = 60;
	s->reg_max_expires = 3600;
	s->reg_default_expires = 3600;
	s->tcp_idle_timeout = 600;
	s->tls.min_version = CFG_TLS_1_2;
	s->tls.verify_server = true;
}

static void check_global(struct ck *k, const struct cfg_item *it, int i, uint64_t *seen)
{
	struct cfg_settings *s = &k->c->settings;
	static const char *const levels[] = { "err", "warn", "notice", "info", "debug", NULL };
	static const enum rp_log_level lv[] = { RP_LOG_ERR, RP_LOG_WARN, RP_LOG_NOTICE,
		RP_LOG_INFO, RP_LOG_DEBUG };
	uint32_t v;
	int e;

	if (!it->assign) {
		cerr(k, it->pos, "'%.*s' is a setting: write '%.*s = value;'", SHOWN(it->key),
			SHOWN(it->key));
		return;
	}
	if (!first_time(k, it, seen, i))
		return;
	switch (i) {
	case G_LOG_LEVEL:
		if (want_assign(k, it, 1, 1) && (e = get_enum_val(k, &it->vals[0], "log level", levels)) >= 0)
			s->log_level = lv[e];
		break;
	case G_WORKERS:
		if (get_u32(k, it, 0, 256, &v))
			s->workers = v;
		break;
	case G_USER_AGENT: get_str(k, it, &s->user_agent); break;
	case G_MAX_MSG: get_u32(k, it, 1024, 1u << 20, &s->max_message_size); break;
	case G_CONTROL: get_str(k, it, &s->control_socket); break;
	case G_MEDIAD: get_str(k, it, &s->mediad_socket); break;
	case G_REALM: get_str(k, it, &s->realm); break;
	case G_DOMAIN: get_str_list(k, it, &s->domains, &s->ndomains); break;
	case G_T1: get_u32(k, it, 50, 60000, &s->timer_t1_ms); break;
	case G_T2: get_u32(k, it, 100, 600000, &s->timer_t2_ms); break;
	case G_T4: get_u32(k, it, 100, 600000, &s->timer_t4_ms); break;
	case G_REG_MIN: get_u32(k, it, 1, 86400, &s->reg_min_expires); break;
	case G_REG_MAX: get_u32(k, it, 1, 604800, &s->reg_max_expires); break;
	case G_REG_DEF: get_u32(k, it, 1, 604800, &s->reg_default_expires); break;
	case G_TCP_IDLE: get_u32(k, it, 1, 86400, &s->tcp_idle_timeout); break;
	case G_USERS_FILE: get_str(k, it, &s->users_file); break;
	}
}

static void check_global_tls(struct ck *k, const struct cfg_item *it)
{
	uint64_t seen = 0;

	if (it->assign || it->nvals || !it->has_body) {
		cerr(k, it->pos, "expected 'tls { ... }'");
		return;
	}
	for (const struct cfg_item *c = it->children; c; c = c->next)
		if (!tls_key(k, c, &k->c->settings.tls, TLS_GLOBAL, &seen, 0))
			unknown_key(k, c, tls_keys, "tls");
	if (k->c->settings.tls.require_client_cert && !k->c->settings.tls.verify_client)
		cerr(k, it->pos, "'require_client_cert = yes' needs 'verify_client = yes'");
}

static int check_items(struct ck *k)
{
	struct cfg *c = k->c;
	unsigned nl = 0, nt = 0, nu = 0, fu = 0;
	uint64_t seen = 0;
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
				cerr(k, it->pos, "duplicate 'tls' block");
			else
				check_global_tls(k, tls_item = it);
		}
		nl += i == G_LISTEN;
		nt += i == G_TRUNK;
		nu += i == G_USER;
	}
	if (c->settings.reg_min_expires > c->settings.reg_max_expires)
		cerr(k, c->items ? c->items->pos : (struct cfg_pos){ c->file, 0, 0 },
			"registration_min_expires is above registration_max_expires");
	if (users_file_item && c->settings.users_file)
		load_users_file(k, users_file_item, &fu, &file_users);
	if (k->nomem)
		return -ENOMEM;
	c->listens = kalloc(k, nl * sizeof(*c->listens));
	c->trunks = kalloc(k, nt * sizeof(*c->trunks));
	c->users = kalloc(k, (nu + fu) * sizeof(*c->users));
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
					cerr(k, it->pos, "duplicate listen %s %s:%u (first at line %u)",
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
					cerr(k, it->vals[0].pos, "duplicate trunk name '%s'", t->name);
			t->index = c->ntrunks++;
		} else if (i == G_USER) {
			struct cfg_user *u = &c->users[c->nusers];

			check_user(k, it, u);
			if (!u->name)
				continue;
			if (!u->realm)
				u->realm = c->settings.realm;
			for (unsigned j = 0; j < c->nusers; j++)
				if (strcmp(c->users[j].name, u->name) == 0 &&
				    strcasecmp(c->users[j].realm, u->realm) == 0)
					cerr(k, it->vals[0].pos, "duplicate user '%s' in realm '%s'",
						u->name, u->realm);
			c->nusers++;
		} else if (i == G_ROUTE && !it->route) {
			cerr(k, it->pos, "expected 'route NAME { ... }'");
		}
	}
	for (unsigned i = 0; i < fu; i++) {
		const struct cfg_user *u = &file_users[i];
		bool dup = false;

		if (!u->name || !u->realm)
			continue;
		for (unsigned j = 0; j < c->nusers && !dup; j++)
			dup = strcmp(c->users[j].name, u->name) == 0 &&
				strcasecmp(c->users[j].realm, u->realm) == 0;
		if (dup) {
			cerr(k, users_file_item->vals[0].pos, "users_file: duplicate user '%s' in realm '%s'",
				u->name, u->realm);
			continue;
		}
		c->users[c->nusers++] = *u;
	}
	if (c->nlistens == 0)
		cwarn(k, (struct cfg_pos){ c->file, 0, 0 }, "no 'listen' lines: the proxy will not accept anything");
	return k->nomem ? -ENOMEM : 0;
}

/* ---- routing script ---- */

struct var_def {
	const char *name;
	const char *alias; /* Kamailio-style short name, usable as $alias */
	uint8_t var;
};

static const struct var_def var_defs[] = {
	{ "method", "rm", CFG_VAR_METHOD },
	{ "ruri", "ru", CFG_VAR_RURI },
	{ "ruri.scheme", "rz", CFG_VAR_RURI_SCHEME },
	{ "ruri.user", "rU", CFG_VAR_RURI_USER },
	{ "ruri.host", "rd", CFG_VAR_RURI_HOST },
	{ "ruri.port", "rp", CFG_VAR_RURI_PORT },
	{ "from", "fu", CFG_VAR_FROM },
	{ "from.user", "fU", CFG_VAR_FROM_USER },
	{ "from.host", "fd", CFG_VAR_FROM_HOST },
	{ "to", "tu", CFG_VAR_TO },
	{ "to.user", "tU", CFG_VAR_TO_USER },
	{ "to.host", "td", CFG_VAR_TO_HOST },
	{ "call_id", "ci", CFG_VAR_CALL_ID },
	{ "user_agent", "ua", CFG_VAR_USER_AGENT },
	{ "src.ip", "si", CFG_VAR_SRC_IP },
	{ "src.port", "sp", CFG_VAR_SRC_PORT },
	{ "src.trunk", NULL, CFG_VAR_SRC_TRUNK },
	{ "transport", "pr", CFG_VAR_TRANSPORT },
	{ "tls.subject", NULL, CFG_VAR_TLS_SUBJECT },
	{ "tls.san", NULL, CFG_VAR_TLS_SAN },
	{ "status", "rs", CFG_VAR_STATUS },
	{ "header.NAME", NULL, CFG_VAR_HEADER },
	{ "ruri.param.NAME", NULL, CFG_VAR_RURI_PARAM },
};
#define NVARS (sizeof(var_defs) / sizeof(var_defs[0]))

static bool token_name(rp_str s)
{
	if (s.n == 0 || s.n > 128)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char ch = s.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-.!%*_+`'~", ch)))
			return false;
	}
	return true;
}

static bool lookup_var(rp_str name, uint8_t *var, rp_str *arg)
{
	static const struct { const char *prefix; uint8_t var; } pre[] = {
		{ "header.", CFG_VAR_HEADER }, { "hdr.", CFG_VAR_HEADER },
		{ "ruri.param.", CFG_VAR_RURI_PARAM },
	};

	*arg = RP_STR_NULL;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i].prefix);

		if (name.n > n && memcmp(name.p, pre[i].prefix, n) == 0) {
			*arg = rp_str_make(name.p + n, name.n - n);
			*var = token_name(*arg) ? pre[i].var : CFG_VAR_NONE;
			return *var != CFG_VAR_NONE;
		}
	}
	for (size_t i = 0; i < NVARS; i++) {
		if (rp_str_eq_cstr(name, var_defs[i].name) ||
		    (var_defs[i].alias && rp_str_eq_cstr(name, var_defs[i].alias))) {
			if (var_defs[i].var == CFG_VAR_HEADER || var_defs[i].var == CFG_VAR_RURI_PARAM)
				return false;
			*var = var_defs[i].var;
			return true;
		}
	}
	return false;
}

static bool resolve_part(struct ck *k, struct cfg_part *p, bool bare)
{
	struct suggest s;
	char hint[96];

	if (!p->is_var)
		return true;
	if (lookup_var(p->s, &p->var, &p->arg))
		return true;
	suggest_init(&s, p->s);
	for (size_t i = 0; i < NVARS; i++) {
		suggest_try(&s, var_defs[i].name, strlen(var_defs[i].name));
		if (var_defs[i].alias)
			suggest_try(&s, var_defs[i].alias, strlen(var_defs[i].alias));
	}
	if (s.best || !bare)
		cerr(k, p->pos, "unknown variable '%.*s'%s", SHOWN(p->s), suggest_text(&s, hint, sizeof(hint)));
	else
		cerr(k, p->pos, "unknown variable '%.*s' (write string constants in quotes)", SHOWN(p->s));
	return false;
}

static bool resolve_tmpl(struct ck *k, struct cfg_tmpl *t)
{
	bool ok = true;

	for (unsigned i = 0; i < t->nparts; i++)
		ok &= resolve_part(k, &t->parts[i], false);
	return ok;
}

static bool all_digits(rp_str s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* A condition operand: a bare word is a number or a variable name. */
static bool resolve_operand(struct ck *k, struct cfg_arg *a)
{
	struct cfg_part *p;

	if (a->kind != CFG_A_WORD)
		return resolve_tmpl(k, &a->t);
	if (all_digits(a->text))
		return true;
	p = kalloc(k, sizeof(*p));
	if (!p)
		return false;
	*p = (struct cfg_part){ .is_var = true, .s = a->text, .pos = a->pos };
	if (!resolve_part(k, p, true))
		return false;
	a->kind = CFG_A_VAR;
	a->t.parts = p;
	a->t.nparts = 1;
	return true;
}

/* A value argument of an action: a bare word is literal text. */
static bool resolve_value(struct ck *k, struct cfg_arg *a)
{
	if (a->kind == CFG_A_WORD)
		return true;
	return resolve_tmpl(k, &a->t);
}

/* The text of a constant argument (bare word or string without variables). */
static bool const_text(const struct cfg_arg *a, rp_str *out)
{
	if (a->kind == CFG_A_WORD) {
		*out = a->text;
		return true;
	}
	if (a->kind == CFG_A_STR && a->t.nparts == 1 && !a->t.parts[0].is_var) {
		*out = a->t.parts[0].s;
		return true;
	}
	return false;
}

static const struct cfg_trunk *find_trunk(struct ck *k, const struct cfg_arg *a)
{
	struct suggest s;
	char hint[96];
	rp_str name;

	if (a->kind != CFG_A_WORD) {
		cerr(k, a->pos, "expected a trunk name");
		return NULL;
	}
	name = a->text;
	for (unsigned i = 0; i < k->c->ntrunks; i++)
		if (rp_str_eq_cstr(name, k->c->trunks[i].name))
			return &k->c->trunks[i];
	suggest_init(&s, name);
	for (unsigned i = 0; i < k->c->ntrunks; i++)
		suggest_try(&s, k->c->trunks[i].name, strlen(k->c->trunks[i].name));
	cerr(k, a->pos, "unknown trunk '%.*s'%s", SHOWN(name), suggest_text(&s, hint, sizeof(hint)));
	return NULL;
}

static struct cfg_route *find_route(struct ck *k, const struct cfg_arg *a)
{
	struct suggest s;
	char hint[96];

	if (a->kind != CFG_A_WORD) {
		cerr(k, a->pos, "expected a route name");
		return NULL;
	}
	for (struct cfg_route *r = k->c->routes; r; r = r->next)
		if (rp_str_eq(a->text, r->name))
			return r;
	suggest_init(&s, a->text);
	for (struct cfg_route *r = k->c->routes; r; r = r->next)
		suggest_try(&s, r->name.p, r->name.n);
	cerr(k, a->pos, "unknown route '%.*s'%s", SHOWN(a->text), suggest_text(&s, hint, sizeof(hint)));
	return NULL;
}

static bool add_regex(struct ck *k, struct cfg_regex *re)
{
	struct cfg *c = k->c;

	if (c->nregexes == c->capregexes) {
		unsigned cap = c->capregexes ? c->capregexes * 2 : 8;
		struct cfg_regex **v = realloc(c->regexes, cap * sizeof(*v));

		if (!v) {
			cfg_regex_free(re);
			k->nomem = true;
			return false;
		}
		c->regexes = v;
		c->capregexes = cap;
	}
	c->regexes[c->nregexes++] = re;
	return true;
}

struct fn_def {
	const char *name;
	uint8_t fn;
	uint8_t nargs;
};

static const struct fn_def fn_defs[] = {
	{ "lookup", CFG_FN_LOOKUP, 0 },
	{ "has_header", CFG_FN_HAS_HEADER, 1 },
	{ "is_local", CFG_FN_IS_LOCAL, 1 },
	{ "from_trunk", CFG_FN_FROM_TRUNK, 1 },
	{ "number_of", CFG_FN_NUMBER_OF, 2 },
};
#define NFNS (sizeof(fn_defs) / sizeof(fn_defs[0]))

static void check_call(struct ck *k, struct cfg_cond *c)
{
	const struct fn_def *f = NULL;
	struct suggest s;
	char hint[96];
	rp_str t;

	for (size_t i = 0; i < NFNS; i++)
		if (rp_str_eq_cstr(c->fname, fn_defs[i].name))
			f = &fn_defs[i];
	if (!f) {
		suggest_init(&s, c->fname);
		for (size_t i = 0; i < NFNS; i++)
			suggest_try(&s, fn_defs[i].name, strlen(fn_defs[i].name));
		cerr(k, c->pos, "unknown function '%.*s'%s", SHOWN(c->fname),
			suggest_text(&s, hint, sizeof(hint)));
		return;
	}
	if (c->nargs != f->nargs) {
		cerr(k, c->pos, "%s() takes %u argument%s, not %u", f->name, f->nargs,
			f->nargs == 1 ? "" : "s", c->nargs);
		return;
	}
	c->fn = f->fn;
	switch (f->fn) {
	case CFG_FN_HAS_HEADER:
		if (!const_text(&c->args[0], &t) || !token_name(t))
			cerr(k, c->args[0].pos, "has_header() needs a header name");
		break;
	case CFG_FN_IS_LOCAL:
		resolve_operand(k, &c->args[0]);
		break;
	case CFG_FN_FROM_TRUNK:
		c->trunk = find_trunk(k, &c->args[0]);
		break;
	case CFG_FN_NUMBER_OF:
		c->trunk = find_trunk(k, &c->args[0]);
		resolve_operand(k, &c->args[1]);
		break;
	}
}

static void check_cond(struct ck *k, struct cfg_cond *c)
{
	rp_str t;
	char err[160];
	int rc;

	switch (c->kind) {
	case CFG_C_AND:
	case CFG_C_OR:
		check_cond(k, c->a);
		check_cond(k, c->b);
		break;
	case CFG_C_NOT:
		check_cond(k, c->a);
		break;
	case CFG_C_EQ:
	case CFG_C_NE:
		resolve_operand(k, &c->l);
		resolve_operand(k, &c->r);
		break;
	case CFG_C_MATCH:
	case CFG_C_NMATCH:
		resolve_operand(k, &c->l);
		if (c->r.kind != CFG_A_STR || !const_text(&c->r, &t)) {
			cerr(k, c->r.pos, "a regular expression must be a constant string (write it as '...')");
			break;
		}
		rc = cfg_regex_new(t, false, &c->re, err, sizeof(err));
		if (rc == -ENOMEM) {
			k->nomem = true;
			break;
		}
		if (rc < 0) {
			cerr(k, c->r.pos, "bad regular expression '%.*s': %s", SHOWN(t), err);
			break;
		}
		add_regex(k, c->re);
		break;
	case CFG_C_IN:
		resolve_operand(k, &c->l);
		c->cidrs = kalloc(k, c->nargs * sizeof(*c->cidrs));
		if (!c->cidrs)
			break;
		for (unsigned i = 0; i < c->nargs; i++)
			if (!const_text(&c->args[i], &t) || !parse_cidr(t, &c->cidrs[i]))
				cerr(k, c->args[i].pos, "bad CIDR '%.*s' (expected ADDRESS[/PREFIX])",
					SHOWN(c->args[i].text));
		break;
	case CFG_C_CALL:
		check_call(k, c);
		break;
	}
}

struct act_def {
	const char *name;
	uint8_t act;
	uint8_t min, max;
	bool terminal;
	bool in_reply; /* allowed in 'route reply' */
};

static const struct act_def act_defs[] = {
	{ "reply", CFG_ACT_REPLY, 1, 10, true, false },
	{ "relay", CFG_ACT_RELAY, 0, 1, true, false },
	{ "record_route", CFG_ACT_RECORD_ROUTE, 0, 0, false, false },
	{ "add_header", CFG_ACT_ADD_HEADER, 2, 2, false, true },
	{ "remove_header", CFG_ACT_REMOVE_HEADER, 1, 1, false, true },
	{ "remove_uri_param", CFG_ACT_REMOVE_URI_PARAM, 1, 1, false, false },
	{ "authenticate", CFG_ACT_AUTHENTICATE, 0, 1, false, false },
	{ "www_challenge", CFG_ACT_WWW_CHALLENGE, 0, 1, true, false },
	{ "proxy_challenge", CFG_ACT_PROXY_CHALLENGE, 0, 1, true, false },
	{ "save", CFG_ACT_SAVE, 0, 0, true, false },
	{ "lookup", CFG_ACT_LOOKUP, 0, 0, false, false },
	{ "route", CFG_ACT_ROUTE, 1, 1, false, true },
	{ "log", CFG_ACT_LOG, 1, 2, false, true },
	{ "drop", CFG_ACT_DROP, 0, 0, true, true },
	{ "exit", CFG_ACT_EXIT, 0, 0, true, true },
	{ "return", CFG_ACT_RETURN, 0, 0, true, true },
};
#define NACTS (sizeof(act_defs) / sizeof(act_defs[0]))

struct walk {
	struct cfg_route *route;
	bool in_reply;
};

static void check_action(struct ck *k, struct walk *w, struct cfg_stmt *s, const struct act_def *a)
{
	static const char *const levels[] = { "err", "warn", "notice", "info", "debug", NULL };
	static const int lv[] = { RP_LOG_ERR, RP_LOG_WARN, RP_LOG_NOTICE, RP_LOG_INFO, RP_LOG_DEBUG };
	rp_str t;
	uint64_t code;
	int i;

	if (s->nargs < a->min || s->nargs > a->max) {
		if (a->min == a->max)
			cerr(k, s->pos, "'%s' takes %u argument%s, not %u", a->name, a->min,
				a->min == 1 ? "" : "s", s->nargs);
		else
			cerr(k, s->pos, "'%s' takes %u to %u arguments, not %u", a->name, a->min,
				a->max, s->nargs);
		return;
	}
	if (w->in_reply && !a->in_reply)
		cerr(k, s->pos, "'%s' cannot be used in 'route reply'", a->name);
	switch (a->act) {
	case CFG_ACT_REPLY:
		if (s->args[0].kind != CFG_A_WORD ||
		    rp_str_to_u64(s->args[0].text, 999, &code) < 0 || code < 100 || code > 699) {
			cerr(k, s->args[0].pos, "reply code must be a number from 100 to 699, not '%.*s'",
				SHOWN(s->args[0].text));
			return;
		}
		if (code < 200)
			cwarn(k, s->args[0].pos, "provisional reply %u: the route still ends here",
				(unsigned)code);
		s->ival = (int)code;
		for (unsigned j = 1; j < s->nargs; j++) {
			resolve_value(k, &s->args[j]);
			if (j >= 2 && const_text(&s->args[j], &t)) {
				ptrdiff_t colon = rp_str_chr(t, ':');

				if (colon <= 0 || !token_name(rp_str_trim(rp_str_make(t.p, (size_t)colon))))
					cerr(k, s->args[j].pos, "extra reply header must look like \"Name: value\"");
			}
		}
		break;
	case CFG_ACT_RELAY:
		if (s->nargs)
			s->trunk = find_trunk(k, &s->args[0]);
		break;
	case CFG_ACT_ADD_HEADER:
	case CFG_ACT_REMOVE_HEADER:
	case CFG_ACT_REMOVE_URI_PARAM:
		if (!const_text(&s->args[0], &t) || !token_name(t)) {
			cerr(k, s->args[0].pos, "'%s' needs a %s name", a->name,
				a->act == CFG_ACT_REMOVE_URI_PARAM ? "parameter" : "header");
			return;
		}
		if (a->act == CFG_ACT_ADD_HEADER)
			resolve_value(k, &s->args[1]);
		if (a->act != CFG_ACT_REMOVE_URI_PARAM) {
			static const char *const vital[] = { "via", "v", "from", "f", "to", "t",
				"call-id", "i", "cseq", "content-length", "l", NULL };

			for (int v = 0; vital[v]; v++)
				if (rp_str_caseeq_cstr(t, vital[v]))
					cerr(k, s->args[0].pos, "'%s' cannot change the %.*s header: the proxy "
						"owns it", a->name, SHOWN(t));
		}
		break;
	case CFG_ACT_AUTHENTICATE:
	case CFG_ACT_WWW_CHALLENGE:
	case CFG_ACT_PROXY_CHALLENGE:
		if (s->nargs)
			resolve_value(k, &s->args[0]);
		break;
	case CFG_ACT_ROUTE:
		s->route = find_route(k, &s->args[0]);
		if (s->route) {
			s->route->used = true;
			if (s->route == k->c->entry[CFG_ROUTE_REQUEST] ||
			    s->route == k->c->entry[CFG_ROUTE_REPLY] ||
			    s->route == k->c->entry[CFG_ROUTE_FAILURE])
				cerr(k, s->args[0].pos, "route '%.*s' is an entry point and cannot be called",
					SHOWN(s->route->name));
		}
		break;
	case CFG_ACT_LOG:
		s->ival = RP_LOG_INFO;
		if (s->nargs == 2) {
			struct cfg_value v = { .text = s->args[0].text, .pos = s->args[0].pos };

			if (s->args[0].kind != CFG_A_WORD) {
				cerr(k, s->args[0].pos, "log level must be one of err, warn, notice, info, debug");
				return;
			}
			i = get_enum_val(k, &v, "log level", levels);
			if (i < 0)
				return;
			s->ival = lv[i];
		}
		resolve_value(k, &s->args[s->nargs - 1]);
		break;
	}
}

static void check_assign(struct ck *k, struct walk *w, struct cfg_stmt *s)
{
	uint8_t var = CFG_VAR_NONE;
	rp_str arg, t;
	uint64_t port;
	int i;

	if (s->lhs.kind == CFG_A_WORD && rp_str_eq_cstr(s->lhs.text, "media_encryption")) {
		struct cfg_value v = { .text = s->rhs.text, .pos = s->rhs.pos };

		s->act = CFG_VAR_MEDIA;
		if (w->in_reply)
			cerr(k, s->pos, "media_encryption cannot be set in 'route reply'");
		if (!const_text(&s->rhs, &t)) {
			cerr(k, s->rhs.pos, "media_encryption must be disable, allow or require");
			return;
		}
		v.text = t;
		i = get_enum_val(k, &v, "media_encryption", media_names);
		if (i >= 0)
			s->ival = CFG_MEDIA_DISABLE + i;
		return;
	}
	{
		rp_str name = s->lhs.kind == CFG_A_WORD ? s->lhs.text : s->lhs.t.parts[0].s;

		if (!lookup_var(name, &var, &arg)) {
			struct cfg_part p = { .is_var = true, .s = name, .pos = s->lhs.pos };

			resolve_part(k, &p, false);
			return;
		}
		switch (var) {
		case CFG_VAR_RURI: s->ival = 0; break;
		case CFG_VAR_RURI_USER: s->ival = 2; break;
		case CFG_VAR_RURI_HOST: s->ival = 3; break;
		case CFG_VAR_RURI_PORT: s->ival = 4; break;
		case CFG_VAR_RURI_PARAM: s->ival = -1; break;
		default:
			cerr(k, s->lhs.pos, "cannot assign to '%.*s' (only ruri, ruri.user, ruri.host, "
				"ruri.port, ruri.param.NAME and media_encryption)", SHOWN(name));
			return;
		}
		if (w->in_reply)
			cerr(k, s->pos, "the Request-URI cannot be changed in 'route reply'");
		s->act = var;
		s->lhs.t.parts = kalloc(k, sizeof(struct cfg_part));
		if (!s->lhs.t.parts)
			return;
		s->lhs.t.parts[0] = (struct cfg_part){ .is_var = true, .var = var, .s = name,
			.arg = arg, .pos = s->lhs.pos };
		s->lhs.t.nparts = 1;
		s->lhs.kind = CFG_A_VAR;
	}
	resolve_value(k, &s->rhs);
	if (var == CFG_VAR_RURI_PORT && const_text(&s->rhs, &t) &&
	    (rp_str_to_u64(t, 65535, &port) < 0 || port == 0))
		cerr(k, s->rhs.pos, "port must be a number from 1 to 65535, not '%.*s'", SHOWN(t));
}

/* Checks a statement list; returns true if it always ends the route (the
 * name of the ending statement in *why). */
static bool check_list(struct ck *k, struct walk *w, struct cfg_stmt *s, const char **why)
{
	bool done = false, warned = false;
	const char *end = NULL;

	for (; s; s = s->next) {
		bool t = false;
		const char *tw = NULL;

		/* dead code is still checked for errors; warned about once */
		if (done && !warned) {
			cwarn(k, s->pos, "unreachable code after '%s'", end);
			warned = true;
		}
		switch (s->kind) {
		case CFG_S_IF: {
			const char *a = NULL, *b = NULL;
			bool ta, tb;

			check_cond(k, s->cond);
			ta = check_list(k, w, s->then, &a);
			tb = s->els ? check_list(k, w, s->els, &b) : false;
			t = ta && tb;
			tw = b ? b : a;
			break;
		}
		case CFG_S_BLOCK:
			t = check_list(k, w, s->then, &tw);
			break;
		case CFG_S_ASSIGN:
			check_assign(k, w, s);
			break;
		case CFG_S_ACTION: {
			const struct act_def *a = NULL;

			for (size_t i = 0; i < NACTS; i++)
				if (rp_str_eq_cstr(s->name, act_defs[i].name))
					a = &act_defs[i];
			if (!a) {
				struct suggest sg;
				char hint[96];
				bool is_fn = false;

				for (size_t i = 0; i < NFNS; i++)
					is_fn |= rp_str_eq_cstr(s->name, fn_defs[i].name);
				if (is_fn) {
					cerr(k, s->pos, "'%.*s' is a condition: use it in 'if (...)'", SHOWN(s->name));
					break;
				}
				suggest_init(&sg, s->name);
				for (size_t i = 0; i < NACTS; i++)
					suggest_try(&sg, act_defs[i].name, strlen(act_defs[i].name));
				cerr(k, s->pos, "unknown action '%.*s'%s", SHOWN(s->name),
					suggest_text(&sg, hint, sizeof(hint)));
				break;
			}
			s->act = a->act;
			check_action(k, w, s, a);
			t = a->terminal;
			tw = a->name;
			break;
		}
		}
		if (t && !done) {
			done = true;
			end = tw;
		}
	}
	*why = end;
	return done;
}

/* Longest chain of route() calls starting at r; reports recursion. */
static unsigned call_height(struct ck *k, struct cfg_route *r, struct cfg_route **stack,
	unsigned depth);

static unsigned stmts_height(struct ck *k, struct cfg_stmt *s, struct cfg_route **stack,
	unsigned depth)
{
	unsigned h = 0, x;

	for (; s; s = s->next) {
		x = 0;
		if (s->kind == CFG_S_IF) {
			x = stmts_height(k, s->then, stack, depth);
			if (s->els) {
				unsigned y = stmts_height(k, s->els, stack, depth);

				x = y > x ? y : x;
			}
		} else if (s->kind == CFG_S_BLOCK) {
			x = stmts_height(k, s->then, stack, depth);
		} else if (s->kind == CFG_S_ACTION && s->act == CFG_ACT_ROUTE && s->route) {
			struct cfg_route *callee = s->route;

			if (callee->mark == 1) {
				char path[200] = "";
				unsigned from = 0;

				for (unsigned i = 0; i < depth; i++)
					if (stack[i] == callee)
						from = i;
				for (unsigned i = from; i < depth; i++) {
					size_t l = strlen(path);

					snprintf(path + l, sizeof(path) - l, "%.*s -> ", SHOWN(stack[i]->name));
				}
				{
					size_t l = strlen(path);

					snprintf(path + l, sizeof(path) - l, "%.*s", SHOWN(callee->name));
				}
				cerr(k, s->pos, "recursive route call: %s (route calls may not loop)", path);
				x = 0;
			} else {
				x = call_height(k, callee, stack, depth);
			}
		}
		h = x > h ? x : h;
	}
	return h;
}

static unsigned call_height(struct ck *k, struct cfg_route *r, struct cfg_route **stack,
	unsigned depth)
{
	static const unsigned done_base = 2;
	unsigned h;

	if (r->mark >= done_base)
		return r->mark - done_base; /* memoised height (capped) */
	if (depth > CFG_MAX_CALL_DEPTH) {
		cerr(k, r->pos, "route calls nested too deep (more than %u levels)", CFG_MAX_CALL_DEPTH);
		r->mark = (uint8_t)(done_base + CFG_MAX_CALL_DEPTH + 1);
		return CFG_MAX_CALL_DEPTH + 1;
	}
	r->mark = 1;
	stack[depth] = r;
	h = 1 + stmts_height(k, r->body, stack, depth + 1);
	if (h > CFG_MAX_CALL_DEPTH + 1)
		h = CFG_MAX_CALL_DEPTH + 1;
	r->mark = (uint8_t)(done_base + h);
	return h;
}

static void check_routes(struct ck *k)
{
	static const char *const entry_names[] = { "request", "reply", "failure" };
	struct cfg *c = k->c;
	struct cfg_route *stack[CFG_MAX_CALL_DEPTH + 2];

	for (struct cfg_route *r = c->routes; r; r = r->next) {
		if (!valid_name(r->name)) {
			cerr(k, r->pos, "bad route name '%.*s'", SHOWN(r->name));
			continue;
		}
		for (struct cfg_route *q = c->routes; q != r; q = q->next)
			if (rp_str_eq(q->name, r->name)) {
				cerr(k, r->pos, "duplicate route '%.*s' (first at line %u)", SHOWN(r->name),
					(unsigned)q->pos.line);
				break;
			}
		for (int i = 0; i < 3; i++)
			if (rp_str_eq_cstr(r->name, entry_names[i]) && !c->entry[i])
				c->entry[i] = r;
	}
	if (!c->entry[CFG_ROUTE_REQUEST])
		cerr(k, (struct cfg_pos){ c->file, 0, 0 },
			"no 'route request { ... }': every request enters there");
	for (struct cfg_route *r = c->routes; r; r = r->next) {
		struct walk w = { .route = r, .in_reply = r == c->entry[CFG_ROUTE_REPLY] };
		const char *why;

		check_list(k, &w, r->body, &why);
	}
	for (struct cfg_route *r = c->routes; r; r = r->next) {
		bool entry = r == c->entry[0] || r == c->entry[1] || r == c->entry[2];

		if (!entry && !r->used)
			cwarn(k, r->pos, "route '%.*s' is never called", SHOWN(r->name));
		if (!entry)
			continue;
		call_height(k, r, stack, 0);
	}
	/* routes only reachable from nowhere can still loop among themselves */
	for (struct cfg_route *r = c->routes; r; r = r->next)
		if (r->mark == 0)
			call_height(k, r, stack, 0);
}

int cfg_check(struct cfg *c, struct cfg_diag *diag)
{
	struct ck k = { .c = c, .d = diag };
	int rc = check_items(&k);

	if (rc < 0)
		return rc;
	check_routes(&k);
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
