#include "dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rp_hash.h"
#include "rp_log.h"
#include "rp_rand.h"
#include "rp_time.h"

#define NEG_RESULT_TTL 5        /* s: a one-shot failure is kept */
#define RETRY_MS 5000           /* a failed refresh tries again after */
#define HOSTS_TTL 60
#define MAX_THREADS 4

struct watch {
	struct rp_dns_query q;
	uint64_t due;                   /* ms: next resolution */
	bool busy, dead, tried, have;
	struct watch *next;
};

struct job {
	struct rp_dns_query q;
	rp_dns_done_cb *cb;
	void *arg;
	struct job *next;
};

/* A one-shot lookup's result (rp_dns_cached). */
struct rent {
	char key[300];
	size_t klen;
	uint64_t expires;
	struct rp_dns_result r;
};

struct rp_dns {
	pthread_mutex_t rmu;            /* guards results */
	rp_hash *results;               /* query key -> struct rent */
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* work to do, or stop */
	pthread_cond_t tried_cv;        /* a watch had its first resolution */
	struct rp_dns_cfg cfg;          /* servers, timeouts (under mu) */
	rp_dnscache *cache;
	struct watch *watches;
	rp_dns_watch_cb *wcb;
	void *warg;
	struct job *jobs, **jtail;
	size_t njobs;
	pthread_t thr[MAX_THREADS];
	unsigned nthr;
	bool stop;
	unsigned thr_ids;               /* start order: 0 also runs the watches */
	char hosts_file[256];
	atomic_uint_fast64_t queries, answers, timeouts, errors, nxdomain, servfail,
		hits, misses, tcp;
};

/* ---- configuration ---- */

/* The nameserver lines of resolv.conf (port 53). */
static void read_resolv_conf(const char *path, struct rp_dns_cfg *c)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f)
		return;
	while (c->nservers < RP_DNS_MAX_SERVERS && fgets(line, sizeof(line), f)) {
		char host[128];

		if (sscanf(line, " nameserver %127s", host) != 1)
			continue;
		/* A scoped IPv6 address (fe80::1%eth0) is not supported: skipped. */
		if (rp_addr_parse(host, 53, &c->servers[c->nservers]) == 0)
			c->nservers++;
	}
	fclose(f);
}

static int fix_cfg(const struct rp_dns_cfg *in, struct rp_dns_cfg *c)
{
	*c = in ? *in : (struct rp_dns_cfg){ 0 };
	if (c->nservers > RP_DNS_MAX_SERVERS)
		return -EINVAL;
	if (!c->nservers)
		read_resolv_conf(c->resolv_conf ? c->resolv_conf : "/etc/resolv.conf", c);
	if (!c->nservers) {
		/* resolv(5): no nameserver line means the local one. */
		rp_addr_parse("127.0.0.1", 53, &c->servers[0]);
		c->nservers = 1;
	}
	if (!c->timeout_ms)
		c->timeout_ms = 1000;
	if (!c->attempts)
		c->attempts = 2;
	if (!c->threads)
		c->threads = 3;
	if (c->threads < 2)
		c->threads = 2;
	if (c->threads > MAX_THREADS)
		c->threads = MAX_THREADS;
	c->hosts_file = NULL;           /* copied into d->hosts_file */
	c->resolv_conf = NULL;
	return 0;
}

/* ---- /etc/hosts ---- */

/* Answers an A/AAAA query from the hosts file: true if the name is in it
 * (then *a holds its addresses of that family, or NODATA). */
static bool hosts_lookup(const char *file, const char *name, uint16_t type,
	struct rp_dns_answer *a)
{
	FILE *f;
	char line[1024];
	bool found = false;

	if (!file[0] || !(f = fopen(file, "re")))
		return false;
	memset(a, 0, sizeof(*a));
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *ip, *h;
		uint8_t bin[16];
		int fam;

		line[strcspn(line, "#\n")] = '\0';
		ip = strtok_r(line, " \t", &save);
		if (!ip)
			continue;
		fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(fam, ip, bin) != 1)
			continue;
		while ((h = strtok_r(NULL, " \t", &save))) {
			if (!rp_dnsmsg_name_eq(h, name))
				continue;
			found = true;
			if (a->n < RP_DNS_MAX_RR && (fam == AF_INET) == (type == RP_DNS_A)) {
				struct rp_dns_rr *r = &a->rr[a->n++];

				r->type = type;
				r->ttl = HOSTS_TTL;
				memcpy(type == RP_DNS_A ? r->u.a : r->u.aaaa, bin,
					type == RP_DNS_A ? 4 : 16);
			}
			break;
		}
	}
	fclose(f);
	a->status = a->n ? RP_DNS_OK : RP_DNS_NODATA;
	a->ttl = HOSTS_TTL;
	return found;
}

static bool in_hosts(rp_dns *d, const char *name)
{
	struct rp_dns_answer a;

	return hosts_lookup(d->hosts_file, name, RP_DNS_A, &a);
}

/* ---- one query ---- */

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = rp_now_ms();
		struct pollfd p = { .fd = fd, .events = ev };
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* UDP: the first answer to our id and question from the server (connect
 * filters other sources; anything that does not parse is ignored). */
static int ask_udp(const rp_addr *srv, const uint8_t *qb, size_t ql, uint16_t id,
	const char *name, uint16_t type, uint32_t timeout_ms, struct rp_dns_answer *a)
{
	uint8_t buf[4096];
	uint64_t deadline = rp_now_ms() + timeout_ms;
	int fd = socket(srv->u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -errno;
	if (connect(fd, &srv->u.sa, srv->len) < 0 || send(fd, qb, ql, 0) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		ssize_t n;

		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			rc = -errno;        /* ECONNREFUSED: nobody on that port */
			break;
		}
		if (rp_dnsmsg_parse(buf, (size_t)n, id, name, type, a) == 0) {
			rc = 0;
			break;
		}
	}
	close(fd);
	return rc;
}

static int io_all(int fd, uint8_t *p, size_t n, bool wr, uint64_t deadline)
{
	while (n) {
		ssize_t k;
		int rc = wait_fd(fd, wr ? POLLOUT : POLLIN, deadline);

		if (rc < 0)
			return rc;
		k = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* TCP (RFC 1035 §4.2.2, RFC 7766): after a truncated UDP answer. */
static int ask_tcp(const rp_addr *srv, const uint8_t *qb, size_t ql, uint16_t id,
	const char *name, uint16_t type, uint32_t timeout_ms, struct rp_dns_answer *a)
{
	uint8_t out[RP_DNS_QUERY_MAX + 2], len[2], *in = NULL;
	uint64_t deadline = rp_now_ms() + timeout_ms;
	int fd = socket(srv->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;
	size_t n;

	if (fd < 0)
		return -errno;
	if (connect(fd, &srv->u.sa, srv->len) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	out[0] = (uint8_t)(ql >> 8);
	out[1] = (uint8_t)ql;
	memcpy(out + 2, qb, ql);
	rc = io_all(fd, out, ql + 2, true, deadline);
	if (rc == 0)
		rc = io_all(fd, len, 2, false, deadline);
	if (rc < 0)
		goto out;
	n = (size_t)len[0] << 8 | len[1];
	in = malloc(n ? n : 1);
	if (!in) {
		rc = -ENOMEM;
		goto out;
	}
	rc = io_all(fd, in, n, false, deadline);
	if (rc == 0 && rp_dnsmsg_parse(in, n, id, name, type, a) < 0)
		rc = -EBADMSG;
out:
	free(in);
	close(fd);
	return rc;
}

/* (name, type): the cache, the hosts file, then the servers. Returns 0
 * with *a (status OK, NODATA, NXDOMAIN), -ETIMEDOUT or -EIO. */
static int query(rp_dns *d, const char *name, uint16_t type, bool fresh,
	struct rp_dns_answer *a)
{
	struct rp_dns_cfg c;
	uint8_t qb[RP_DNS_QUERY_MAX];
	uint16_t id;
	int ql, rc = -ETIMEDOUT;
	bool failed = false;

	if ((type == RP_DNS_A || type == RP_DNS_AAAA) &&
	    hosts_lookup(d->hosts_file, name, type, a))
		return 0;
	if (!fresh && rp_dnscache_get(d->cache, name, type, rp_now_ms(), a) == 0) {
		atomic_fetch_add(&d->hits, 1);
		return 0;
	}
	if (!fresh)
		atomic_fetch_add(&d->misses, 1);
	pthread_mutex_lock(&d->mu);
	c = d->cfg;
	pthread_mutex_unlock(&d->mu);
	for (unsigned r = 0; r < c.attempts; r++) {
		for (unsigned s = 0; s < c.nservers; s++) {
			if (rp_rand_bytes(&id, sizeof(id)) < 0)
				return -EIO;
			ql = rp_dnsmsg_query(name, type, id, qb, sizeof(qb));
			if (ql < 0)
				return -EIO;
			atomic_fetch_add(&d->queries, 1);
			rc = ask_udp(&c.servers[s], qb, (size_t)ql, id, name, type, c.timeout_ms, a);
			if (rc == 0) {
				atomic_fetch_add(&d->answers, 1);
				if (a->status == RP_DNS_NXDOMAIN)
					atomic_fetch_add(&d->nxdomain, 1);
				else if (a->status == RP_DNS_SERVFAIL)
					atomic_fetch_add(&d->servfail, 1);
			} else if (rc != -ETIMEDOUT) {
				atomic_fetch_add(&d->errors, 1);
			}
			if (rc == 0 && a->truncated) {
				struct rp_dns_answer t;

				/* A truncated answer is not one (RFC 2181 §9): its
				 * records may be missing, and with none it would pass
				 * for NODATA. Without the TCP answer this server
				 * failed: the next is tried, and in the end the
				 * lookup says server failure, not cached. */
				atomic_fetch_add(&d->tcp, 1);
				if (ask_tcp(&c.servers[s], qb, (size_t)ql, id, name, type,
					c.timeout_ms, &t) == 0 && !t.truncated) {
					*a = t;
				} else {
					atomic_fetch_add(&d->errors, 1);
					failed = true;
					continue;
				}
			}
			if (rc == 0 && a->status != RP_DNS_SERVFAIL) {
				(void)rp_dnscache_put(d->cache, name, type, a, rp_now_ms());
				return 0;
			}
			if (rc == 0)
				failed = true;
			else if (rc == -ETIMEDOUT)
				atomic_fetch_add(&d->timeouts, 1);
		}
	}
	rp_debug("dns: %s type %u: %s", name, type, failed ? "server failure" :
		"no answer");
	return failed ? -EIO : -ETIMEDOUT;
}

/* ---- RFC 3263 ---- */

static uint16_t default_port(enum rp_tp tp)
{
	return tp == RP_TP_TLS ? 5061 : 5060;
}

/* Worst of two errors for the result: a timeout says more than "no such
 * name" of another step. */
static int worse(int a, int b)
{
	if (a == -ETIMEDOUT || b == -ETIMEDOUT)
		return -ETIMEDOUT;
	if (a == -EIO || b == -EIO)
		return -EIO;
	return a ? a : b;
}

static void ttl_min(struct rp_dns_result *r, uint32_t t)
{
	if (t < r->ttl)
		r->ttl = t;
}

/* A and AAAA of host (IPv4 first: listeners are most often IPv4 only),
 * appended to r with port, prio, weight and group. Returns 0 or the
 * error of the lookups when nothing was found. */
static int add_host(rp_dns *d, const char *host, uint16_t port, bool fresh, uint16_t prio,
	uint16_t weight, uint8_t group, struct rp_dns_result *r)
{
	static const uint16_t types[2] = { RP_DNS_A, RP_DNS_AAAA };
	unsigned got = 0;
	int err = -ENOENT;

	for (int k = 0; k < 2; k++) {
		struct rp_dns_answer a;
		int rc = query(d, host, types[k], fresh, &a);

		if (rc < 0) {
			err = worse(err, rc);
			/* A server that did not answer A will not answer AAAA. */
			if (rc == -ETIMEDOUT)
				break;
			continue;
		}
		ttl_min(r, a.ttl == UINT32_MAX ? 0 : a.ttl);
		for (unsigned i = 0; a.status == RP_DNS_OK && i < a.n &&
			got < RP_DNS_ADDRS_PER_HOST && r->n < RP_DNS_MAX_TARGETS; i++) {
			struct rp_dns_target *t = &r->t[r->n];

			memset(t, 0, sizeof(*t));
			if (types[k] == RP_DNS_A) {
				t->addr.u.in4.sin_family = AF_INET;
				memcpy(&t->addr.u.in4.sin_addr, a.rr[i].u.a, 4);
				t->addr.len = sizeof(t->addr.u.in4);
			} else {
				t->addr.u.in6.sin6_family = AF_INET6;
				memcpy(&t->addr.u.in6.sin6_addr, a.rr[i].u.aaaa, 16);
				t->addr.len = sizeof(t->addr.u.in6);
			}
			rp_addr_set_port(&t->addr, port);
			t->prio = prio;
			t->weight = weight;
			t->group = group;
			r->n++;
			got++;
		}
	}
	return got ? 0 : err;
}

static const char *srv_prefix(enum rp_tp tp)
{
	return tp == RP_TP_TLS ? "_sips._tcp" : tp == RP_TP_TCP ? "_sip._tcp" : "_sip._udp";
}

static const char *naptr_service(enum rp_tp tp)
{
	return tp == RP_TP_TLS ? "sips+d2t" : tp == RP_TP_TCP ? "sip+d2t" : "sip+d2u";
}

/* SRV of srvname: the targets' addresses in priority order. Returns 0,
 * -ENOENT (no SRV record: the caller falls back to A/AAAA), -ENXIO (SRV
 * records but no usable target), or a lookup error. */
static int do_srv(rp_dns *d, const char *srvname, bool fresh, struct rp_dns_result *r)
{
	struct rp_dns_answer a;
	int rc = query(d, srvname, RP_DNS_SRV, fresh, &a), err = -ENOENT;
	unsigned idx[RP_DNS_MAX_RR];

	if (rc < 0)
		return rc;
	if (a.status != RP_DNS_OK)
		return -ENOENT;
	ttl_min(r, a.ttl);
	/* Stable sort by priority (at most 16 records). */
	for (unsigned i = 0; i < a.n; i++) {
		unsigned j = i;

		while (j > 0 && a.rr[idx[j - 1]].u.srv.prio > a.rr[i].u.srv.prio) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	for (unsigned i = 0; i < a.n && r->n < RP_DNS_MAX_TARGETS; i++) {
		const struct rp_dns_srv *s = &a.rr[idx[i]].u.srv;

		if (!s->target[0] || !s->port)
			continue;
		rc = add_host(d, s->target, s->port, fresh, s->prio, s->weight, (uint8_t)i, r);
		if (rc < 0)
			err = worse(err, rc);
		if (rc == -ETIMEDOUT)
			break;          /* each further target would wait as long */
	}
	return r->n ? 0 : (err == -ENOENT ? -ENXIO : err);
}

/* NAPTR of name (RFC 3263 §4.1): the SRV name of the best record whose
 * service is one we may use (only 'want' when given) and its transport.
 * Returns 0, -ENOENT (none usable), -ENXIO (no such name) or a lookup
 * error. */
static int do_naptr(rp_dns *d, const struct rp_dns_query *q, bool fresh, char *srvname,
	size_t cap, enum rp_tp *tp, struct rp_dns_result *r)
{
	struct rp_dns_answer a;
	const struct rp_dns_naptr *best = NULL;
	enum rp_tp best_tp = RP_TP_UDP;
	int rc = query(d, q->name, RP_DNS_NAPTR, fresh, &a);

	if (rc < 0)
		return rc;
	if (a.status == RP_DNS_NXDOMAIN)
		return -ENXIO;
	if (a.status != RP_DNS_OK)
		return -ENOENT;
	for (unsigned i = 0; i < a.n; i++) {
		const struct rp_dns_naptr *n = &a.rr[i].u.naptr;

		if (strcmp(n->flags, "s") || !n->repl[0])
			continue;
		for (int t = RP_TP_UDP; t <= RP_TP_TLS; t++) {
			if (strcmp(n->service, naptr_service((enum rp_tp)t)))
				continue;
			if ((q->tp_given && (enum rp_tp)t != q->tp) || (q->sips && t != RP_TP_TLS))
				continue;
			if (!best || n->order < best->order ||
			    (n->order == best->order && n->pref < best->pref)) {
				best = n;
				best_tp = (enum rp_tp)t;
			}
		}
	}
	if (!best)
		return -ENOENT;
	ttl_min(r, a.ttl);
	snprintf(srvname, cap, "%s", best->repl);
	*tp = best_tp;
	return 0;
}

void rp_dns_resolve(rp_dns *d, const struct rp_dns_query *q, bool fresh,
	struct rp_dns_result *r)
{
	char srvname[RP_DNS_NAME_MAX + 16];
	enum rp_tp tp = q->tp_given ? q->tp : q->sips ? RP_TP_TLS : RP_TP_UDP;
	rp_addr lit;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ttl = UINT32_MAX;
	r->tp = tp;
	if (rp_addr_parse(q->name, q->port ? q->port : default_port(tp), &lit) == 0) {
		r->t[0].addr = lit;
		r->n = 1;
		r->ttl = 86400;
		return;
	}
	if (q->port || in_hosts(d, q->name)) {
		/* A name of the hosts file has no SRV: its addresses, as
		 * getaddrinfo would give them. */
		r->status = add_host(d, q->name, q->port ? q->port : default_port(tp), fresh,
			0, 0, 0, r);
		goto out;
	}
	/* NAPTR first: the replacement names the SRV record to use. */
	rc = do_naptr(d, q, fresh, srvname, sizeof(srvname), &tp, r);
	if (rc == 0) {
		r->tp = tp;
		rc = do_srv(d, srvname, fresh, r);
		if (rc != -ENOENT) {
			r->status = rc == -ENXIO ? -ENOENT : rc;
			goto out;
		}
	} else if (rc == -ENXIO) {
		/* NXDOMAIN: no SRV or address below or at it either (RFC 8020). */
		r->status = -ENOENT;
		goto out;
	} else if (rc == -ETIMEDOUT) {
		/* Nobody answers: every further step would wait as long. */
		r->status = rc;
		goto out;
	} else if (rc != -ENOENT) {
		/* A server failure for NAPTR (some servers do not know the
		 * type): SRV and A may still answer. */
		rp_debug("dns: NAPTR %s: %s", q->name, strerror(-rc));
	}
	/* No NAPTR: SRV for the transport given, else each one we support. */
	for (int t = RP_TP_UDP; t <= RP_TP_TLS; t++) {
		if (q->tp_given ? (enum rp_tp)t != q->tp : (q->sips && t != RP_TP_TLS))
			continue;
		snprintf(srvname, sizeof(srvname), "%s.%s", srv_prefix((enum rp_tp)t), q->name);
		rc = do_srv(d, srvname, fresh, r);
		if (rc == -ENOENT || (rc == -EIO && !q->tp_given))
			continue;
		r->tp = (enum rp_tp)t;
		r->status = rc == -ENXIO ? -ENOENT : rc;
		goto out;
	}
	/* No SRV: the host's own addresses, default port (§4.2). */
	r->tp = tp;
	r->status = add_host(d, q->name, default_port(tp), fresh, 0, 0, 0, r);
out:
	if (r->ttl == UINT32_MAX || r->status < 0)
		r->ttl = r->status < 0 ? 0 : 86400;
}

/* ---- ordering (RFC 2782) ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rp_dns_order(struct rp_dns_target *t, unsigned n, uint64_t seed)
{
	struct rp_dns_target tmp[RP_DNS_MAX_TARGETS];
	unsigned start[RP_DNS_MAX_TARGETS + 1], ng = 0, out = 0;
	bool used[RP_DNS_MAX_TARGETS] = { false };

	if (n > RP_DNS_MAX_TARGETS || n < 2)
		return;
	/* Groups: runs of one SRV record's addresses (already by priority). */
	for (unsigned i = 0; i < n; i++)
		if (i == 0 || t[i].group != t[i - 1].group)
			start[ng++] = i;
	start[ng] = n;
	for (unsigned g0 = 0; g0 < ng;) {
		unsigned g1 = g0;

		while (g1 < ng && t[start[g1]].prio == t[start[g0]].prio)
			g1++;
		/* Pick among the groups [g0, g1) by running weight sum. */
		for (unsigned left = g1 - g0; left; left--) {
			uint64_t sum = 0, pick;
			unsigned chosen = g1;

			for (unsigned g = g0; g < g1; g++)
				if (!used[g])
					sum += t[start[g]].weight;
			pick = sum ? splitmix(&seed) % (sum + 1) : 0;
			/* Zero-weight groups first in the running sum, as
			 * RFC 2782 orders them, so they win only when pick is 0. */
			for (int pass = 0; pass < 2 && chosen == g1; pass++) {
				uint64_t run = 0;

				for (unsigned g = g0; g < g1; g++) {
					if (used[g] || (t[start[g]].weight == 0) != (pass == 0))
						continue;
					run += t[start[g]].weight;
					if (run >= pick) {
						chosen = g;
						break;
					}
				}
			}
			if (chosen == g1)
				break;
			used[chosen] = true;
			for (unsigned i = start[chosen]; i < start[chosen + 1]; i++)
				tmp[out++] = t[i];
		}
		g0 = g1;
	}
	if (out == n)
		memcpy(t, tmp, n * sizeof(*t));
}

/* ---- one-shot results ---- */

static size_t result_key(const struct rp_dns_query *q, char out[300])
{
	int n = snprintf(out, 300, "%d/%u/%d/%d/", q->tp_given ? (int)q->tp : -1, q->port,
		q->sips, 0);
	size_t at = n < 0 ? 0 : (size_t)n;

	for (const char *p = q->name; *p && at < 299; p++)
		out[at++] = (char)tolower((unsigned char)*p);
	if (at && out[at - 1] == '.')
		at--;
	out[at] = '\0';
	return at;
}

int rp_dns_cached(rp_dns *d, const struct rp_dns_query *q, uint64_t now_ms,
	struct rp_dns_result *out)
{
	char k[300];
	size_t kl = result_key(q, k);
	struct rent *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&d->rmu);
	e = rp_hash_find(d->results, rp_str_make(k, kl));
	if (e && e->expires > now_ms) {
		*out = e->r;
		out->ttl = (uint32_t)((e->expires - now_ms + 999) / 1000);
		rc = 0;
	}
	pthread_mutex_unlock(&d->rmu);
	return rc;
}

static void result_put(rp_dns *d, const struct rp_dns_query *q, const struct rp_dns_result *r)
{
	/* A failure too, briefly: lookups queued behind this one get it at
	 * once instead of waiting out the same timeouts (RFC 2308 §7). */
	uint32_t ttl = r->status == 0 ? r->ttl : NEG_RESULT_TTL;
	size_t max;
	uint64_t now = rp_now_ms();
	struct rent *e, *old;

	if (!ttl || !(e = calloc(1, sizeof(*e))))
		return;
	pthread_mutex_lock(&d->mu);
	max = d->cfg.cache.max_entries ? d->cfg.cache.max_entries : 4096;
	pthread_mutex_unlock(&d->mu);
	e->klen = result_key(q, e->key);
	e->expires = now + (uint64_t)ttl * 1000;
	e->r = *r;
	pthread_mutex_lock(&d->rmu);
	old = rp_hash_remove(d->results, rp_str_make(e->key, e->klen));
	free(old);
	if (rp_hash_count(d->results) >= max) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		rp_hash_iter_init(d->results, &it);
		while (rp_hash_iter_next(&it, &k, &v))
			if (((struct rent *)v)->expires <= now) {
				rp_hash_remove(d->results, k);
				free(v);
			}
	}
	/* Still full of live results: this one is not kept. */
	if (rp_hash_count(d->results) >= max ||
	    rp_hash_insert(d->results, rp_str_make(e->key, e->klen), e) < 0)
		free(e);
	pthread_mutex_unlock(&d->rmu);
}

/* ---- threads ---- */

static void *resolver_main(void *arg)
{
	rp_dns *d = arg;
	bool watcher;

	pthread_mutex_lock(&d->mu);
	/* One thread keeps the watched names (a silent server holds it for
	 * the full timeouts of each); the others serve one-shot lookups only,
	 * so requests never queue behind a background refresh. */
	watcher = d->thr_ids++ == 0;
	while (!d->stop) {
		uint64_t now = rp_now_ms(), next = now + 1000;
		struct watch *w = NULL;

		if (d->jobs) {
			struct job *j = d->jobs;
			struct rp_dns_result r;

			d->jobs = j->next;
			if (!d->jobs)
				d->jtail = &d->jobs;
			d->njobs--;
			pthread_mutex_unlock(&d->mu);
			/* Queued behind a lookup of the same name: its answer. */
			if (rp_dns_cached(d, &j->q, rp_now_ms(), &r) < 0) {
				rp_dns_resolve(d, &j->q, false, &r);
				result_put(d, &j->q, &r);
			}
			j->cb(j->arg, &r);
			free(j);
			pthread_mutex_lock(&d->mu);
			continue;
		}
		for (struct watch *x = watcher ? d->watches : NULL; x; x = x->next) {
			if (x->busy)
				continue;
			if (x->due <= now) {
				w = x;
				break;
			}
			if (x->due < next)
				next = x->due;
		}
		if (w) {
			struct rp_dns_result r;
			rp_dns_watch_cb *cb = d->wcb;
			void *cbarg = d->warg;
			bool had = w->have;

			w->busy = true;
			pthread_mutex_unlock(&d->mu);
			rp_dns_resolve(d, &w->q, true, &r);
			/* A transient failure keeps what we had (serve stale). */
			bool transient = r.status == -ETIMEDOUT || r.status == -EIO;

			if (!(transient && had) && cb)
				cb(cbarg, &w->q, &r);
			if (transient)
				rp_warn("dns: %s: %s%s", w->q.name, r.status == -ETIMEDOUT ?
					"no DNS server answered" : "DNS server failure",
					had ? "; keeping the addresses it had" : "");
			pthread_mutex_lock(&d->mu);
			w->busy = false;
			w->tried = true;
			w->have = w->have || !transient;
			if (transient || r.status < 0) {
				w->due = rp_now_ms() + RETRY_MS;
			} else {
				/* Before the TTL runs out: at 90% of it, at least 1 s on. */
				uint64_t ms = (uint64_t)r.ttl * 900;

				w->due = rp_now_ms() + (ms < 1000 ? 1000 : ms);
			}
			if (w->dead)
				free(w);
			pthread_cond_broadcast(&d->tried_cv);
			continue;
		}
		{
			struct timespec ts;
			uint64_t wait = next > now ? next - now : 1;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int rp_dns_new(const struct rp_dns_cfg *cfg, rp_dns **out)
{
	rp_dns *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (!d)
		return -ENOMEM;
	rc = fix_cfg(cfg, &d->cfg);
	if (rc == 0)
		rc = rp_dnscache_new(&d->cfg.cache, &d->cache);
	if (rc < 0) {
		free(d);
		return rc;
	}
	snprintf(d->hosts_file, sizeof(d->hosts_file), "%s",
		cfg && cfg->hosts_file ? cfg->hosts_file : "/etc/hosts");
	d->jtail = &d->jobs;
	rc = rp_hash_new(64, 0, &d->results);
	if (rc < 0) {
		rp_dnscache_free(d->cache);
		free(d);
		return rc;
	}
	pthread_mutex_init(&d->rmu, NULL);
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_cond_init(&d->tried_cv, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < d->cfg.threads; i++) {
		rc = pthread_create(&d->thr[i], NULL, resolver_main, d);
		if (rc) {
			rp_dns_free(d);
			return -rc;
		}
		d->nthr++;
	}
	*out = d;
	return 0;
}

void rp_dns_free(rp_dns *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (unsigned i = 0; i < d->nthr; i++)
		pthread_join(d->thr[i], NULL);
	while (d->watches) {
		struct watch *w = d->watches;

		d->watches = w->next;
		free(w);
	}
	while (d->jobs) {
		struct job *j = d->jobs;
		struct rp_dns_result r = { .status = -ECANCELED };

		d->jobs = j->next;
		j->cb(j->arg, &r);
		free(j);
	}
	if (d->results) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		rp_hash_iter_init(d->results, &it);
		while (rp_hash_iter_next(&it, &k, &v)) {
			rp_hash_remove(d->results, k);
			free(v);
		}
		rp_hash_free(d->results);
	}
	pthread_mutex_destroy(&d->rmu);
	rp_dnscache_free(d->cache);
	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->tried_cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int rp_dns_reconfigure(rp_dns *d, const struct rp_dns_cfg *cfg)
{
	struct rp_dns_cfg c;
	bool changed;
	int rc = fix_cfg(cfg, &c);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->mu);
	changed = c.nservers != d->cfg.nservers;
	for (unsigned i = 0; !changed && i < c.nservers; i++)
		changed = !rp_addr_eq(&c.servers[i], &d->cfg.servers[i]);
	memcpy(d->cfg.servers, c.servers, sizeof(c.servers));
	d->cfg.nservers = c.nservers;
	d->cfg.timeout_ms = c.timeout_ms;
	d->cfg.attempts = c.attempts;
	d->cfg.cache = c.cache;
	pthread_mutex_unlock(&d->mu);
	rp_dnscache_configure(d->cache, &c.cache);
	if (changed) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		rp_dnscache_clear(d->cache);
		pthread_mutex_lock(&d->rmu);
		rp_hash_iter_init(d->results, &it);
		while (rp_hash_iter_next(&it, &k, &v)) {
			rp_hash_remove(d->results, k);
			free(v);
		}
		pthread_mutex_unlock(&d->rmu);
	}
	return 0;
}

static bool query_eq(const struct rp_dns_query *a, const struct rp_dns_query *b)
{
	return a->port == b->port && a->tp_given == b->tp_given && a->sips == b->sips &&
		(!a->tp_given || a->tp == b->tp) && rp_dnsmsg_name_eq(a->name, b->name);
}

int rp_dns_watch_set(rp_dns *d, const struct rp_dns_query *q, size_t n,
	rp_dns_watch_cb *cb, void *arg)
{
	struct watch *head = NULL, **tail = &head;
	uint64_t now = rp_now_ms();

	for (size_t i = 0; i < n; i++) {
		struct watch *w = calloc(1, sizeof(*w));

		if (!w) {
			while (head) {
				w = head->next;
				free(head);
				head = w;
			}
			return -ENOMEM;
		}
		w->q = q[i];
		w->due = now;
		*tail = w;
		tail = &w->next;
	}
	pthread_mutex_lock(&d->mu);
	d->wcb = cb;
	d->warg = arg;
	/* Keep the state of names already watched (their schedule, their
	 * last result lives with the caller). */
	for (struct watch *w = head; w; w = w->next)
		for (struct watch *o = d->watches; o; o = o->next)
			if (!o->dead && query_eq(&o->q, &w->q)) {
				w->due = o->due;
				w->tried = o->tried;
				w->have = o->have;
				break;
			}
	while (d->watches) {
		struct watch *o = d->watches;

		d->watches = o->next;
		if (o->busy)
			o->dead = true; /* its thread frees it */
		else
			free(o);
	}
	d->watches = head;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

int rp_dns_watch_wait(rp_dns *d, uint32_t timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	for (;;) {
		bool all = true;

		for (struct watch *w = d->watches; w && all; w = w->next)
			all = w->tried;
		if (all)
			break;
		if (pthread_cond_timedwait(&d->tried_cv, &d->mu, &ts) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int rp_dns_lookup(rp_dns *d, const struct rp_dns_query *q, rp_dns_done_cb *cb, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&d->mu);
	if (d->njobs >= RP_DNS_MAX_PENDING) {
		pthread_mutex_unlock(&d->mu);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&d->mu);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->q = *q;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&d->mu);
	*d->jtail = j;
	d->jtail = &j->next;
	d->njobs++;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void rp_dns_get_stats(rp_dns *d, struct rp_dns_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->queries = atomic_load(&d->queries);
	st->answers = atomic_load(&d->answers);
	st->timeouts = atomic_load(&d->timeouts);
	st->errors = atomic_load(&d->errors);
	st->nxdomain = atomic_load(&d->nxdomain);
	st->servfail = atomic_load(&d->servfail);
	st->cache_hits = atomic_load(&d->hits);
	st->cache_misses = atomic_load(&d->misses);
	st->tcp = atomic_load(&d->tcp);
	st->cached = rp_dnscache_count(d->cache);
	pthread_mutex_lock(&d->mu);
	for (struct watch *w = d->watches; w; w = w->next)
		st->watches++;
	st->pending = d->njobs;
	pthread_mutex_unlock(&d->mu);
}
