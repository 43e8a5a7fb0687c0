#include "cfg_prog.h"
#include "rp_hash.h"

#include "cfg_check.h"
#include "cfg_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static void cfg_destroy(struct cfg *c)
{
	for (unsigned i = 0; i < c->nregexes; i++)
		cfg_regex_free(c->regexes[i]);
	free(c->regexes);
	for (unsigned i = 0; i < c->nsecrets; i++)
		explicit_bzero(c->secrets[i].p, c->secrets[i].n);
	free(c->secrets);
	/* the source holds passwords in clear */
	if (c->text) {
		explicit_bzero(c->text, c->text_len);
		free(c->text);
	}
	if (c->users_text) {
		explicit_bzero(c->users_text, c->users_len);
		free(c->users_text);
	}
	rp_hash_free(c->user_index);
	rp_arena_fini(&c->arena);
	free(c);
}

void cfg_free(struct cfg *c)
{
	if (c)
		cfg_destroy(c);
}

struct cfg *cfg_get(struct cfg *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

struct cfg *cfg_put(struct cfg *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		cfg_destroy(c);
	return NULL;
}

/* Takes ownership of 'text' (malloc'd, len bytes). */
static int load(const char *name, char *text, size_t len, struct cfg **out,
	struct cfg_diag *diag)
{
	struct cfg *c = calloc(1, sizeof(*c));
	const char *slash;
	int rc;

	if (!c) {
		explicit_bzero(text, len);
		free(text);
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	rp_arena_init(&c->arena, NULL, 0, 0);
	c->text = text;
	c->text_len = len;
	c->file = cfg_strdup(c, rp_str_cstr(name));
	slash = strrchr(name, '/');
	if (slash)
		c->dir = cfg_strdup(c, rp_str_make(name, slash == name ? 1 : (size_t)(slash - name)));
	if (!c->file || (slash && !c->dir)) {
		cfg_destroy(c);
		return -ENOMEM;
	}
	rc = cfg_parse(c, diag);
	if (rc == 0)
		rc = cfg_check(c, diag);
	if (rc < 0) {
		cfg_destroy(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cfg_load_string(const char *name, const char *text, size_t len, struct cfg **out,
	struct cfg_diag *diag)
{
	char *copy;

	if (len > CFG_MAX_FILE) {
		cfg_diag_add(diag, CFG_SEV_ERROR, (struct cfg_pos){ name, 0, 0 },
			"config too large (%zu bytes, limit %u)", len, CFG_MAX_FILE);
		return -EFBIG;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, text, len);
	copy[len] = '\0';
	return load(name ? name : "<config>", copy, len, out, diag);
}

int cfg_load_file(const char *path, struct cfg **out, struct cfg_diag *diag)
{
	char *text;
	size_t len;
	int rc = cfg_read_file(path, &text, &len);

	if (rc < 0) {
		if (rc == -EFBIG)
			cfg_diag_add(diag, CFG_SEV_ERROR, (struct cfg_pos){ path, 0, 0 },
				"config too large (limit %u bytes)", CFG_MAX_FILE);
		else
			cfg_diag_add(diag, CFG_SEV_ERROR, (struct cfg_pos){ path, 0, 0 },
				"cannot read: %s", strerror(-rc));
		return rc;
	}
	return load(path, text, len, out, diag);
}

const struct cfg_settings *cfg_settings(const struct cfg *c)
{
	return &c->settings;
}

size_t cfg_listen_count(const struct cfg *c)
{
	return c->nlistens;
}

const struct cfg_listen *cfg_listen_at(const struct cfg *c, size_t i)
{
	return i < c->nlistens ? &c->listens[i] : NULL;
}

size_t cfg_trunk_count(const struct cfg *c)
{
	return c->ntrunks;
}

const struct cfg_trunk *cfg_trunk_at(const struct cfg *c, size_t i)
{
	return i < c->ntrunks ? &c->trunks[i] : NULL;
}

const struct cfg_trunk *cfg_trunk_find(const struct cfg *c, rp_str name)
{
	for (unsigned i = 0; i < c->ntrunks; i++)
		if (rp_str_eq_cstr(name, c->trunks[i].name))
			return &c->trunks[i];
	return NULL;
}

bool cfg_cidr_contains(const struct cfg_cidr *n, const struct sockaddr *sa)
{
	const uint8_t *a;
	unsigned full, rest;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET && n->family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		a = (const uint8_t *)a6;
		if (n->family == AF_INET) {
			/* an IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d */
			if (!IN6_IS_ADDR_V4MAPPED(a6))
				return false;
			a += 12;
		}
	} else {
		return false;
	}
	full = n->prefix / 8u;
	rest = n->prefix % 8u;
	if (memcmp(a, n->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] & (uint8_t)(0xff00u >> rest)) == n->addr[full]);
}

const struct cfg_trunk *cfg_trunk_by_source(const struct cfg *c, const struct sockaddr *sa)
{
	for (unsigned i = 0; i < c->ntrunks; i++)
		for (unsigned j = 0; j < c->trunks[i].nsources; j++)
			if (cfg_cidr_contains(&c->trunks[i].sources[j], sa))
				return &c->trunks[i];
	return NULL;
}

/* Length of the prefix 'pat' matches in 'number' (+1 so that "*" scores
 * above no match), or 0. */
static size_t number_score(const char *pat, rp_str number)
{
	size_t n = strlen(pat);

	if (n == 1 && pat[0] == '*')
		return 1;
	if (n > 1 && pat[n - 1] == '*')
		n--;
	if (number.n >= n && memcmp(number.p, pat, n) == 0)
		return n + 1;
	return 0;
}

const struct cfg_trunk *cfg_trunk_by_number(const struct cfg *c, rp_str number)
{
	const struct cfg_trunk *best = NULL;
	size_t best_score = 0;

	for (unsigned i = 0; i < c->ntrunks; i++)
		for (unsigned j = 0; j < c->trunks[i].nnumbers; j++) {
			size_t s = number_score(c->trunks[i].numbers[j], number);

			if (s > best_score) {
				best_score = s;
				best = &c->trunks[i];
			}
		}
	return best;
}

bool cfg_trunk_has_number(const struct cfg_trunk *t, rp_str number)
{
	for (unsigned j = 0; j < t->nnumbers; j++)
		if (number_score(t->numbers[j], number))
			return true;
	return false;
}

size_t cfg_user_count(const struct cfg *c)
{
	return c->nusers;
}

const struct cfg_user *cfg_user_at(const struct cfg *c, size_t i)
{
	return i < c->nusers ? &c->users[i] : NULL;
}

size_t cfg_user_key(rp_str name, rp_str realm, char *buf, size_t sz)
{
	size_t n = name.n + 1 + realm.n;

	if (n <= sz) {
		memcpy(buf, name.p, name.n);
		buf[name.n] = '\0';
		for (size_t i = 0; i < realm.n; i++) {
			char ch = realm.p[i];

			buf[name.n + 1 + i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
		}
	}
	return n;
}

int cfg_user_index_add(struct cfg *c, const struct cfg_user *u)
{
	rp_str name = rp_str_cstr(u->name), realm = rp_str_cstr(u->realm);
	size_t n = cfg_user_key(name, realm, NULL, 0);
	char *key;
	int rc;

	if (!c->user_index && (rc = rp_hash_new(c->nusers + 16, RP_HASH_COPY_KEYS,
			&c->user_index)) < 0)
		return rc;
	key = malloc(n);
	if (!key)
		return -ENOMEM;
	cfg_user_key(name, realm, key, n);
	rc = rp_hash_insert(c->user_index, rp_str_make(key, n), (void *)u);
	free(key);
	if (rc == 0 && n > c->user_key_max)
		c->user_key_max = n;
	return rc;
}

/* Called for every digest credential from the network: a hash lookup, not
 * a scan of every account. */
const struct cfg_user *cfg_user_find(const struct cfg *c, rp_str name, rp_str realm)
{
	char buf[512];
	size_t n = cfg_user_key(name, realm, NULL, 0);

	if (!c->user_index || n > c->user_key_max)
		return NULL;
	if (n > sizeof(buf)) {
		char *key = malloc(n);
		const struct cfg_user *u;

		if (!key)
			return NULL;
		cfg_user_key(name, realm, key, n);
		u = rp_hash_find(c->user_index, rp_str_make(key, n));
		free(key);
		return u;
	}
	cfg_user_key(name, realm, buf, sizeof(buf));
	return rp_hash_find(c->user_index, rp_str_make(buf, n));
}

bool cfg_has_route(const struct cfg *c, enum cfg_route_kind kind)
{
	return (unsigned)kind < 3 && c->entry[kind] != NULL;
}

bool cfg_is_local_domain(const struct cfg *c, rp_str host)
{
	for (unsigned i = 0; i < c->settings.ndomains; i++)
		if (rp_str_caseeq_cstr(host, c->settings.domains[i]))
			return true;
	return false;
}

const char *cfg_transport_name(enum cfg_transport t)
{
	switch (t) {
	case CFG_TP_UDP: return "udp";
	case CFG_TP_TCP: return "tcp";
	case CFG_TP_TLS: return "tls";
	case CFG_TP_NONE: break;
	}
	return "";
}

const char *cfg_media_enc_name(enum cfg_media_enc m)
{
	switch (m) {
	case CFG_MEDIA_DISABLE: return "disable";
	case CFG_MEDIA_ALLOW: return "allow";
	case CFG_MEDIA_REQUIRE: return "require";
	case CFG_MEDIA_UNSET: break;
	}
	return "unset";
}

/* ---- holder ----
 * Readers announce themselves in 'readers' around the two steps "load cur,
 * take a reference"; the swapper publishes the new pointer, then waits for
 * the readers that may have loaded the old one before dropping its own
 * reference. Readers never wait; the swapper waits at most a few
 * instructions per reader. */

void cfg_holder_init(struct cfg_holder *h, struct cfg *c)
{
	atomic_init(&h->cur, c);
	atomic_init(&h->readers, 0);
}

struct cfg *cfg_holder_get(struct cfg_holder *h)
{
	struct cfg *c;

	atomic_fetch_add(&h->readers, 1);
	c = atomic_load(&h->cur);
	cfg_get(c);
	atomic_fetch_sub(&h->readers, 1);
	return c;
}

void cfg_holder_swap(struct cfg_holder *h, struct cfg *c)
{
	struct cfg *old = atomic_exchange(&h->cur, c);

	/* Bounded in practice: each reader leaves within a few instructions. */
	while (atomic_load(&h->readers) != 0)
		sched_yield();
	cfg_put(old);
}

void cfg_holder_fini(struct cfg_holder *h)
{
	cfg_holder_swap(h, NULL);
}
