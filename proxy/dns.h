#ifndef RP_DNS_H
#define RP_DNS_H

/* dns: the proxy's run-time resolver, SIP server location per RFC 3263.
 *
 * Queries (A, AAAA, SRV, NAPTR) go over UDP to the configured servers
 * (dns_servers, else the nameserver lines of /etc/resolv.conf), one
 * attempt per server in turn, each bounded by timeout_ms, the round
 * repeated 'attempts' times; a truncated answer is asked again over TCP.
 * /etc/hosts is read first for A/AAAA (a name found there is answered from
 * it alone). Answers go through the cache (dnscache.h).
 *
 * Only the resolver's own threads block on the network: workers never do.
 * Two ways in:
 *  - watches (rp_dns_watch_set): names kept resolved in the background,
 *    each resolved again (bypassing the cache) before its TTL runs out; a
 *    fresh result is handed to the watch callback on a resolver thread.
 *    A failed refresh (timeout, server failure) keeps the last result and
 *    retries in 5 s; an authoritative "no such name" is handed on.
 *  - one-shot lookups (rp_dns_lookup): queued, answered on a resolver
 *    thread through their callback.
 *
 * Thread safety: every function may be called from any thread except
 * rp_dns_free (no call may be running). Callbacks run on resolver threads
 * without any lock of this module held. */

#include <stdbool.h>
#include <stdint.h>

#include "dnscache.h"
#include "transport.h"

#define RP_DNS_MAX_SERVERS 4
#define RP_DNS_MAX_TARGETS 8
#define RP_DNS_ADDRS_PER_HOST 4

typedef struct rp_dns rp_dns;

struct rp_dns_cfg {
	rp_addr servers[RP_DNS_MAX_SERVERS];
	unsigned nservers;              /* 0: /etc/resolv.conf's (or 127.0.0.1) */
	uint32_t timeout_ms;            /* per attempt; 0: 1000 */
	uint32_t attempts;              /* rounds over the servers; 0: 2 */
	struct rp_dnscache_cfg cache;
	const char *hosts_file;         /* NULL: /etc/hosts; "": none */
	const char *resolv_conf;        /* NULL: /etc/resolv.conf */
	unsigned threads;               /* 0: 3 (2..4; one keeps the watches) */
};

/* What to locate: a host name from a trunk address or a SIP URI. */
struct rp_dns_query {
	char name[256];
	uint16_t port;                  /* 0: none given (SRV applies) */
	enum rp_tp tp;                  /* the transport, when tp_given */
	bool tp_given;
	bool sips;                      /* a sips: URI: TLS only */
};

/* One address to try. Targets from one SRV record share 'group' and are
 * consecutive; prio and weight are that record's (0 without SRV). */
struct rp_dns_target {
	rp_addr addr;                   /* with the port */
	uint16_t prio, weight;
	uint8_t group;
};

struct rp_dns_result {
	/* 0; -ENOENT: the name (or every SRV target) does not exist or has
	 * no address; -ETIMEDOUT: no server answered; -EIO: server failure. */
	int status;
	enum rp_tp tp;                  /* the transport to use */
	uint32_t ttl;                   /* seconds this result holds */
	unsigned n;
	struct rp_dns_target t[RP_DNS_MAX_TARGETS];
};

int rp_dns_new(const struct rp_dns_cfg *cfg, rp_dns **out);
/* Stops the threads (a query in progress finishes first: bounded by the
 * timeouts) and frees everything. NULL-safe. */
void rp_dns_free(rp_dns *d);

/* New servers and timeouts (a config reload); the cache is dropped when
 * the servers change. -EINVAL on a bad cfg. */
int rp_dns_reconfigure(rp_dns *d, const struct rp_dns_cfg *cfg);

/* Locates q per RFC 3263 §4 now, blocking: resolver threads and tests
 * only. fresh: ask the servers even when the cache has the answer. */
void rp_dns_resolve(rp_dns *d, const struct rp_dns_query *q, bool fresh,
	struct rp_dns_result *out);

/* The watch callback: q is the watch's, r its new result. */
typedef void rp_dns_watch_cb(void *arg, const struct rp_dns_query *q,
	const struct rp_dns_result *r);

/* Replaces the set of watched names with q[0..n) (copied; duplicates
 * allowed). Names kept from the previous set keep their schedule and are
 * not resolved again now; new ones are resolved at once. cb/arg apply to
 * every watch. Returns 0 or -ENOMEM (the old set is then kept). */
int rp_dns_watch_set(rp_dns *d, const struct rp_dns_query *q, size_t n,
	rp_dns_watch_cb *cb, void *arg);

/* Waits until every watch has had its first resolution (callback
 * returned) or timeout_ms passed. Returns 0 or -ETIMEDOUT. */
int rp_dns_watch_wait(rp_dns *d, uint32_t timeout_ms);

/* A one-shot lookup: cb(arg, result) on a resolver thread, later (never
 * from inside this call); its result is kept for rp_dns_cached (for its
 * TTL; a failure or a name that does not exist for 5 s). Returns 0, or
 * -EAGAIN when RP_DNS_MAX_PENDING lookups are already queued (cb is then
 * never called), -ENOMEM. Lookups still queued when rp_dns_free runs get
 * cb with status -ECANCELED (on the freeing thread). */
#define RP_DNS_MAX_PENDING 1024
typedef void rp_dns_done_cb(void *arg, const struct rp_dns_result *r);
int rp_dns_lookup(rp_dns *d, const struct rp_dns_query *q, rp_dns_done_cb *cb, void *arg);

/* The result of an earlier one-shot lookup of q still valid at now_ms
 * (never blocks: for workers). Returns 0 or -ENOENT. */
int rp_dns_cached(rp_dns *d, const struct rp_dns_query *q, uint64_t now_ms,
	struct rp_dns_result *out);

/* Orders t[0..n) for one attempt: by priority, then within a priority the
 * SRV groups in RFC 2782's weighted random order (weight 0 seldom first),
 * a group's addresses staying together. 'seed' drives the randomness. */
void rp_dns_order(struct rp_dns_target *t, unsigned n, uint64_t seed);

/* Counters for the stats command, metrics and tests. Per question sent to
 * a server (one per attempt): queries; then exactly one of answers (any
 * reply that parsed, NXDOMAIN and SERVFAIL included), timeouts, or
 * failures counted as 'errors' (no usable reply: bad message, socket
 * error). nxdomain and servfail count the answers saying so. cache_hits /
 * cache_misses: questions the cache could answer or not (fresh lookups,
 * which bypass it, and /etc/hosts names are neither). */
struct rp_dns_stats {
	uint64_t queries, answers, timeouts, errors, nxdomain, servfail,
		cache_hits, cache_misses, tcp;
	size_t watches, cached, pending;
};
void rp_dns_get_stats(rp_dns *d, struct rp_dns_stats *st);

#endif
