#include "dnscache.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_hash.h"

struct ent {
	char key[RP_DNS_NAME_MAX + 8];  /* "TYPE/name" lower case, no final dot */
	size_t klen;
	uint64_t expires;               /* ms */
	enum rp_dns_status status;
	unsigned n;
	struct rp_dns_rr rr[];
};

struct rp_dnscache {
	pthread_mutex_t mu;
	rp_hash *h;
	struct rp_dnscache_cfg cfg;
};

static void fix(const struct rp_dnscache_cfg *in, struct rp_dnscache_cfg *c)
{
	*c = in ? *in : (struct rp_dnscache_cfg){ 0 };
	if (!c->max_entries)
		c->max_entries = 4096;
	if (!c->min_ttl)
		c->min_ttl = 5;
	if (!c->max_ttl)
		c->max_ttl = 3600;
	if (c->max_ttl < c->min_ttl)
		c->max_ttl = c->min_ttl;
	if (!c->neg_max_ttl)
		c->neg_max_ttl = 30;
	if (!c->neg_default_ttl)
		c->neg_default_ttl = 5;
}

void rp_dnscache_configure(rp_dnscache *c, const struct rp_dnscache_cfg *cfg)
{
	pthread_mutex_lock(&c->mu);
	fix(cfg, &c->cfg);
	pthread_mutex_unlock(&c->mu);
}

int rp_dnscache_new(const struct rp_dnscache_cfg *cfg, rp_dnscache **out)
{
	rp_dnscache *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	fix(cfg, &c->cfg);
	rc = rp_hash_new(64, 0, &c->h);
	if (rc < 0) {
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

static void drop_all(rp_dnscache *c)
{
	rp_hash_iter it;
	rp_str k;
	void *v;

	rp_hash_iter_init(c->h, &it);
	while (rp_hash_iter_next(&it, &k, &v)) {
		rp_hash_remove(c->h, k);
		free(v);
	}
}

void rp_dnscache_free(rp_dnscache *c)
{
	if (!c)
		return;
	drop_all(c);
	rp_hash_free(c->h);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void rp_dnscache_clear(rp_dnscache *c)
{
	pthread_mutex_lock(&c->mu);
	drop_all(c);
	pthread_mutex_unlock(&c->mu);
}

static int make_key(const char *name, uint16_t type, char *out, size_t cap)
{
	size_t n = strlen(name);
	int at;

	if (n && name[n - 1] == '.')
		n--;
	at = snprintf(out, cap, "%u/", type);
	if (at < 0 || n >= cap - (size_t)at)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		out[at + (int)i] = (char)tolower((unsigned char)name[i]);
	out[(size_t)at + n] = '\0';
	return at + (int)n;
}

/* Makes room for one more: the expired first, then the soonest to expire. */
static void evict(rp_dnscache *c, uint64_t now)
{
	rp_hash_iter it;
	rp_str k, sk = RP_STR_NULL;
	void *v;
	struct ent *soon = NULL;

	rp_hash_iter_init(c->h, &it);
	while (rp_hash_iter_next(&it, &k, &v)) {
		struct ent *e = v;

		if (e->expires <= now) {
			rp_hash_remove(c->h, k);
			free(e);
		} else if (!soon || e->expires < soon->expires) {
			soon = e;
			sk = k;
		}
	}
	if (rp_hash_count(c->h) >= c->cfg.max_entries && soon) {
		rp_hash_remove(c->h, sk);
		free(soon);
	}
}

int rp_dnscache_put(rp_dnscache *c, const char *name, uint16_t type,
	const struct rp_dns_answer *a, uint64_t now_ms)
{
	char key[sizeof(((struct ent *)0)->key)];
	int kl = make_key(name, type, key, sizeof(key));
	uint32_t ttl = a->ttl;
	unsigned n = a->status == RP_DNS_OK ? a->n : 0;
	struct ent *e, *old;
	int rc;

	if (kl < 0 || a->status == RP_DNS_SERVFAIL || n > RP_DNS_MAX_RR)
		return -EINVAL;
	e = malloc(sizeof(*e) + n * sizeof(e->rr[0]));
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, (size_t)kl + 1);
	e->klen = (size_t)kl;
	e->status = a->status;
	e->n = n;
	memcpy(e->rr, a->rr, n * sizeof(e->rr[0]));
	pthread_mutex_lock(&c->mu);
	if (a->status == RP_DNS_OK) {
		if (ttl < c->cfg.min_ttl)
			ttl = c->cfg.min_ttl;
		if (ttl > c->cfg.max_ttl)
			ttl = c->cfg.max_ttl;
	} else {
		if (ttl == UINT32_MAX)
			ttl = c->cfg.neg_default_ttl;
		if (ttl > c->cfg.neg_max_ttl)
			ttl = c->cfg.neg_max_ttl;
	}
	e->expires = now_ms + (uint64_t)ttl * 1000;
	old = rp_hash_remove(c->h, rp_str_make(key, (size_t)kl));
	free(old);
	if (rp_hash_count(c->h) >= c->cfg.max_entries)
		evict(c, now_ms);
	rc = rp_hash_insert(c->h, rp_str_make(e->key, e->klen), e);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		free(e);
	return rc;
}

int rp_dnscache_get(rp_dnscache *c, const char *name, uint16_t type, uint64_t now_ms,
	struct rp_dns_answer *out)
{
	char key[sizeof(((struct ent *)0)->key)];
	int kl = make_key(name, type, key, sizeof(key));
	struct ent *e;
	int rc = -ENOENT;

	if (kl < 0)
		return -ENOENT;
	pthread_mutex_lock(&c->mu);
	e = rp_hash_find(c->h, rp_str_make(key, (size_t)kl));
	if (e && e->expires > now_ms) {
		out->status = e->status;
		out->truncated = false;
		out->ttl = (uint32_t)((e->expires - now_ms + 999) / 1000);
		out->n = e->n;
		memcpy(out->rr, e->rr, e->n * sizeof(e->rr[0]));
		rc = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

size_t rp_dnscache_count(rp_dnscache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = rp_hash_count(c->h);
	pthread_mutex_unlock(&c->mu);
	return n;
}
