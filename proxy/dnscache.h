#ifndef RP_DNSCACHE_H
#define RP_DNSCACHE_H

/* The resolver's cache (dns.h): answers keyed by (name, type), each kept
 * for its TTL clamped to [min_ttl, max_ttl]; negative answers (NXDOMAIN,
 * NODATA) for their RFC 2308 TTL capped at neg_max_ttl (neg_default_ttl
 * when the answer carried no SOA). Server failures are never stored.
 * Bounded: when full, expired entries go first, then those expiring
 * soonest. Time is the caller's (milliseconds, any monotonic origin), so
 * tests run it on a made-up clock.
 *
 * Thread safety: one mutex; every function may be called from any thread.
 * Ownership: the cache copies what it stores and what it returns. */

#include <stddef.h>
#include <stdint.h>

#include "dnsmsg.h"

typedef struct rp_dnscache rp_dnscache;

struct rp_dnscache_cfg {
	size_t max_entries;             /* 0: 4096 */
	uint32_t min_ttl, max_ttl;      /* seconds; 0: 5 and 3600 */
	uint32_t neg_max_ttl;           /* 0: 30 */
	uint32_t neg_default_ttl;       /* 0: 5 */
};

int rp_dnscache_new(const struct rp_dnscache_cfg *cfg, rp_dnscache **out);
void rp_dnscache_free(rp_dnscache *c);

/* New limits (a config reload); entries stored keep their expiry, the
 * table shrinks as they go. */
void rp_dnscache_configure(rp_dnscache *c, const struct rp_dnscache_cfg *cfg);

/* Stores (a copy of) 'a' for (name, type), replacing what was there.
 * Returns 0, -EINVAL (SERVFAIL or a name too long: not stored) or -ENOMEM. */
int rp_dnscache_put(rp_dnscache *c, const char *name, uint16_t type,
	const struct rp_dns_answer *a, uint64_t now_ms);

/* Copies the live entry of (name, type) into *out, its ttl set to the
 * seconds left (rounded up). Returns 0 or -ENOENT (absent or expired). */
int rp_dnscache_get(rp_dnscache *c, const char *name, uint16_t type, uint64_t now_ms,
	struct rp_dns_answer *out);

/* Entries held (live or expired but not yet evicted). */
size_t rp_dnscache_count(rp_dnscache *c);

/* Drops every entry. */
void rp_dnscache_clear(rp_dnscache *c);

#endif
