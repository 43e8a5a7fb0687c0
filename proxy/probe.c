#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pent {
	struct rp_probe_info i;
	uint32_t interval_ms, down_after, up_after;
	uint64_t next_ms, sent_ms;
	uint32_t id;              /* of the probe in flight; 0 none */
};

struct rp_probe {
	pthread_mutex_t mu;
	struct pent *e;
	size_t n;
	atomic_size_t count;      /* n, read without the lock by rp_probe_is_down */
	uint32_t next_id;
};

const char *rp_probe_state_name(enum rp_probe_state s)
{
	switch (s) {
	case RP_PROBE_UP: return "up";
	case RP_PROBE_DOWN: return "down";
	case RP_PROBE_UNKNOWN: break;
	}
	return "unknown";
}

int rp_probe_new(rp_probe **out)
{
	rp_probe *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	p->next_id = 1;
	*out = p;
	return 0;
}

void rp_probe_free(rp_probe *p)
{
	if (!p)
		return;
	free(p->e);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static bool same(const struct pent *e, const char *trunk, enum rp_tp tp, const rp_addr *a)
{
	return e->i.tp == tp && rp_addr_eq(&e->i.addr, a) && !strcmp(e->i.trunk, trunk);
}

int rp_probe_set(rp_probe *p, const struct rp_probe_addr *a, size_t n, uint64_t now)
{
	struct pent *ne = n ? calloc(n, sizeof(*ne)) : NULL;

	if (n && !ne)
		return -ENOMEM;
	pthread_mutex_lock(&p->mu);
	for (size_t k = 0; k < n; k++) {
		struct pent *e = &ne[k];
		const struct pent *old = NULL;

		for (size_t j = 0; j < p->n && !old; j++)
			if (same(&p->e[j], a[k].trunk, a[k].tp, &a[k].addr))
				old = &p->e[j];
		if (old) {
			/* Its state, counters and probe in flight stay. */
			*e = *old;
		} else {
			e->i.state = RP_PROBE_UNKNOWN;
			e->i.rtt_ms = -1;
			snprintf(e->i.last, sizeof(e->i.last), "not probed yet");
			e->next_ms = now;
		}
		snprintf(e->i.trunk, sizeof(e->i.trunk), "%s", a[k].trunk);
		snprintf(e->i.host, sizeof(e->i.host), "%s", a[k].host);
		e->i.port = a[k].port;
		e->i.tp = a[k].tp;
		e->i.addr = a[k].addr;
		e->interval_ms = a[k].interval_ms ? a[k].interval_ms : 30000;
		e->down_after = a[k].down_after ? a[k].down_after : 1;
		e->up_after = a[k].up_after ? a[k].up_after : 1;
		/* A shorter interval than before applies from now. */
		if (e->next_ms > now + e->interval_ms)
			e->next_ms = now + e->interval_ms;
	}
	free(p->e);
	p->e = ne;
	p->n = n;
	atomic_store(&p->count, n);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

size_t rp_probe_due(rp_probe *p, uint64_t now, struct rp_probe_send *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t j = 0; j < p->n && k < max; j++) {
		struct pent *e = &p->e[j];

		if (e->id || now < e->next_ms)
			continue;
		e->id = p->next_id++;
		if (!p->next_id)
			p->next_id = 1;   /* 0 means "none" */
		e->sent_ms = now;
		e->next_ms = now + e->interval_ms;
		e->i.probes++;
		out[k].id = e->id;
		out[k].tp = e->i.tp;
		out[k].addr = e->i.addr;
		out[k].port = e->i.port;
		snprintf(out[k].host, sizeof(out[k].host), "%s", e->i.host);
		snprintf(out[k].trunk, sizeof(out[k].trunk), "%s", e->i.trunk);
		k++;
	}
	pthread_mutex_unlock(&p->mu);
	return k;
}

int rp_probe_result(rp_probe *p, uint32_t id, unsigned status, const char *what,
	uint64_t now, struct rp_probe_info *info)
{
	int changed = -1;
	bool ok = status >= 200 && status != 408 && status != 503;

	if (!id)
		return -1;
	pthread_mutex_lock(&p->mu);
	for (size_t j = 0; j < p->n; j++) {
		struct pent *e = &p->e[j];
		enum rp_probe_state was;

		if (e->id != id)
			continue;
		e->id = 0;
		was = e->i.state;
		e->i.last_ms = now;
		snprintf(e->i.last, sizeof(e->i.last), "%s", what ? what : "");
		if (status)
			e->i.rtt_ms = (int64_t)(now - e->sent_ms);
		if (ok) {
			e->i.fails = 0;
			e->i.oks++;
			if (e->i.oks >= e->up_after)
				e->i.state = RP_PROBE_UP;
		} else {
			e->i.oks = 0;
			e->i.fails++;
			e->i.failures++;
			if (e->i.fails >= e->down_after)
				e->i.state = RP_PROBE_DOWN;
		}
		if (e->i.state != was) {
			changed = (int)e->i.state;
			if (info)
				*info = e->i;
		}
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return changed;
}

bool rp_probe_is_down(rp_probe *p, const char *trunk, enum rp_tp tp, const rp_addr *a)
{
	bool down = false;

	/* Relays to trunks without probing pay no lock. */
	if (!p || !atomic_load_explicit(&p->count, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&p->mu);
	for (size_t j = 0; j < p->n; j++)
		if (same(&p->e[j], trunk, tp, a)) {
			down = p->e[j].i.state == RP_PROBE_DOWN;
			break;
		}
	pthread_mutex_unlock(&p->mu);
	return down;
}

size_t rp_probe_list(rp_probe *p, const char *trunk, struct rp_probe_info *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t j = 0; j < p->n; j++) {
		if (trunk && strcmp(p->e[j].i.trunk, trunk))
			continue;
		if (k < max)
			out[k] = p->e[j].i;
		k++;
	}
	pthread_mutex_unlock(&p->mu);
	return k;
}
