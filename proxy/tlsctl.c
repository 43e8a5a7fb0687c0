#include "tlsctl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "benc.h"
#include "rp_log.h"

#define MAX_STORES 16
/* tls.connections stops adding connections past this many bytes, so the
 * answer fits one control message (CTL_DEFAULT_MAX_MSG). */
#define CONN_LIST_BUDGET (CTL_DEFAULT_MAX_MSG - 8192)

/* A trunk's own outbound TLS: 'sig' is its settings as text, to see
 * whether a reload changed them. */
struct trunk_store {
	char name[65];
	char *sig;
	rp_tls_store *s;
};

struct rp_tlsctl {
	rp_tls_reg *reg;
	rp_tls_store *listeners[MAX_STORES];
	size_t n_listeners;
	rp_tls_store *client;
	pthread_mutex_t tmu;            /* trunks[] (looked up from any thread) */
	struct trunk_store trunks[MAX_STORES];
	size_t n_trunks;
	rp_tls_store **retired;         /* replaced trunk stores */
	size_t n_retired;
	/* Metric cells, refreshed from reg when Prometheus scrapes. */
	rp_mval *m_hs[2], *m_resumed[2], *m_fail[2][RP_TLS_FAIL_COUNT];
};

static const char *const dir_names[2] = { "inbound", "outbound" };

int rp_tlsctl_new(rp_tlsctl **out)
{
	rp_tlsctl *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	rc = rp_tls_reg_new(&t->reg);
	if (rc < 0) {
		free(t);
		return rc;
	}
	pthread_mutex_init(&t->tmu, NULL);
	*out = t;
	return 0;
}

void rp_tlsctl_free(rp_tlsctl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_listeners; i++)
		rp_tls_store_free(t->listeners[i]);
	rp_tls_store_free(t->client);
	for (size_t i = 0; i < t->n_trunks; i++) {
		rp_tls_store_free(t->trunks[i].s);
		free(t->trunks[i].sig);
	}
	for (size_t i = 0; i < t->n_retired; i++)
		rp_tls_store_free(t->retired[i]);
	free(t->retired);
	pthread_mutex_destroy(&t->tmu);
	rp_tls_reg_free(t->reg);
	free(t);
}

static char *trunk_sig(const struct rp_tls_cfg *c)
{
	char *s = NULL;

	if (asprintf(&s, "%s|%s|%s|%s|%s|%d|%d|%d", c->cert_file ? c->cert_file : "",
		c->key_file ? c->key_file : "", c->ca_file ? c->ca_file : "",
		c->ca_dir ? c->ca_dir : "", c->ciphers ? c->ciphers : "", c->tls13_only,
		c->no_verify, c->allow_wildcards) < 0)
		return NULL;
	return s;
}

int rp_tlsctl_set_trunks(rp_tlsctl *t, const char *const *names,
	const struct rp_tls_cfg *cfgs, size_t n, char *err, size_t errlen)
{
	struct trunk_store nt[MAX_STORES];
	rp_tls_store **ret;
	size_t nret = 0;
	int rc = 0;

	if (n > MAX_STORES) {
		snprintf(err, errlen, "more than %d trunks with TLS settings of their own",
			MAX_STORES);
		return -E2BIG;
	}
	memset(nt, 0, sizeof(nt));
	ret = calloc(t->n_trunks + 1, sizeof(*ret));
	if (!ret)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct rp_tls_cfg c = cfgs[i];
		char label[80], why[320];

		snprintf(nt[i].name, sizeof(nt[i].name), "%s", names[i]);
		nt[i].sig = trunk_sig(&cfgs[i]);
		if (!nt[i].sig) {
			rc = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < t->n_trunks; k++)
			if (!strcmp(t->trunks[k].name, names[i]) &&
			    !strcmp(t->trunks[k].sig, nt[i].sig))
				nt[i].s = t->trunks[k].s;   /* unchanged: kept */
		if (nt[i].s)
			continue;
		snprintf(label, sizeof(label), "trunk %s", names[i]);
		c.label = label;
		c.reg = t->reg;
		rc = rp_tls_store_new(RP_TLS_CLIENT, &c, &nt[i].s, why, sizeof(why));
		if (rc < 0)
			snprintf(err, errlen, "trunk %s: %s", names[i], why);
	}
	if (rc < 0) {
		/* Only the stores made here go. */
		for (size_t i = 0; i < n; i++) {
			bool old = false;

			for (size_t k = 0; k < t->n_trunks; k++)
				old |= nt[i].s && t->trunks[k].s == nt[i].s;
			if (!old)
				rp_tls_store_free(nt[i].s);
			free(nt[i].sig);
		}
		free(ret);
		return rc;
	}
	for (size_t k = 0; k < t->n_trunks; k++) {
		bool kept = false;

		for (size_t i = 0; i < n; i++)
			kept |= nt[i].s == t->trunks[k].s;
		if (!kept)
			ret[nret++] = t->trunks[k].s;
		free(t->trunks[k].sig);
	}
	if (nret) {
		rp_tls_store **r = realloc(t->retired, (t->n_retired + nret) * sizeof(*r));

		if (!r) {
			/* Cannot keep them for later: keeping them forever is
			 * the safe leak (a transaction may point to one). */
			rp_warn("%zu replaced trunk TLS contexts leaked (out of memory)", nret);
		} else {
			memcpy(r + t->n_retired, ret, nret * sizeof(*r));
			t->retired = r;
			t->n_retired += nret;
		}
	}
	free(ret);
	pthread_mutex_lock(&t->tmu);
	memcpy(t->trunks, nt, n * sizeof(nt[0]));
	t->n_trunks = n;
	pthread_mutex_unlock(&t->tmu);
	return 0;
}

rp_tls_store *rp_tlsctl_trunk(rp_tlsctl *t, const char *name)
{
	rp_tls_store *s = NULL;

	pthread_mutex_lock(&t->tmu);
	for (size_t i = 0; i < t->n_trunks && !s; i++)
		if (!strcmp(t->trunks[i].name, name))
			s = t->trunks[i].s;
	pthread_mutex_unlock(&t->tmu);
	return s;
}

rp_tls_reg *rp_tlsctl_reg(rp_tlsctl *t)
{
	return t->reg;
}

int rp_tlsctl_add_listener(rp_tlsctl *t, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen)
{
	struct rp_tls_cfg c = *cfg;
	int rc;

	if (t->n_listeners >= MAX_STORES) {
		snprintf(err, errlen, "more than %d TLS listeners", MAX_STORES);
		return -E2BIG;
	}
	c.reg = t->reg;
	rc = rp_tls_store_new(RP_TLS_SERVER, &c, &t->listeners[t->n_listeners], err, errlen);
	if (rc < 0)
		return rc;
	*out = t->listeners[t->n_listeners++];
	return 0;
}

int rp_tlsctl_set_client(rp_tlsctl *t, const struct rp_tls_cfg *cfg,
	rp_tls_store **out, char *err, size_t errlen)
{
	struct rp_tls_cfg c = *cfg;
	rp_tls_store *s;
	int rc;

	c.reg = t->reg;
	if (!c.label)
		c.label = "outbound";
	rc = rp_tls_store_new(RP_TLS_CLIENT, &c, &s, err, errlen);
	if (rc < 0)
		return rc;
	rp_tls_store_free(t->client);
	t->client = s;
	*out = s;
	return 0;
}

rp_tls_store *rp_tlsctl_client(rp_tlsctl *t)
{
	return t->client;
}

size_t rp_tlsctl_listener_count(const rp_tlsctl *t)
{
	return t->n_listeners;
}

int rp_tlsctl_reload(rp_tlsctl *t, char *err, size_t errlen)
{
	char why[320];
	int rc = 0;

	if (!t->n_listeners && !t->client) {
		snprintf(err, errlen, "no TLS listener");
		return -ENOENT;
	}
	for (size_t i = 0; i < t->n_listeners; i++) {
		const char *l = rp_tls_store_label(t->listeners[i]);

		if (rp_tls_store_reload(t->listeners[i], why, sizeof(why)) < 0) {
			rp_err("TLS reload failed for %s, keeping its current certificate: %s", l, why);
			if (rc == 0)
				snprintf(err, errlen, "%s: %s", l, why);
			rc = -EINVAL;
		} else {
			rp_notice("TLS certificate, key and CAs of %s reloaded; established "
				"connections keep theirs", l);
		}
	}
	if (t->client && rp_tls_store_reload(t->client, why, sizeof(why)) < 0)
		rp_warn("outbound TLS CA reload failed, keeping the current CAs: %s", why);
	for (size_t i = 0; i < t->n_trunks; i++)
		if (rp_tls_store_reload(t->trunks[i].s, why, sizeof(why)) < 0)
			rp_warn("outbound TLS reload of trunk %s failed, keeping its current "
				"settings: %s", t->trunks[i].name, why);
	return rc;
}

/* ---- tls.connections ---- */

struct conn_out {
	rp_buf *b;
	size_t listed, left_out;
};

static void put_conn(const struct rp_tls_conn_view *v, void *arg)
{
	struct conn_out *o = arg;
	rp_buf *b = o->b;

	if (b->len > CONN_LIST_BUDGET) {
		o->left_out++;
		return;
	}
	o->listed++;
	benc_put_dict(b);
	benc_put_kv_cstr(b, "direction", dir_names[v->dir]);
	benc_put_kv_cstr(b, "state", v->state);
	benc_put_kv_cstr(b, "peer", v->peer);
	benc_put_kv_cstr(b, "local", v->local);
	benc_put_kv_cstr(b, "listener", v->label);
	benc_put_kv_cstr(b, "tls-version", v->version);
	benc_put_kv_cstr(b, "cipher", v->cipher);
	benc_put_kv_cstr(b, "sni", v->sni);
	benc_put_kv_cstr(b, "certificate", v->cert_subject);
	benc_put_kv_cstr(b, "peer-subject",
		v->peer_cert && v->peer_cert->present ? v->peer_cert->subject : "");
	benc_put_kv_list(b, "peer-sans");
	for (size_t i = 0; v->peer_cert && i < v->peer_cert->n_sans; i++)
		if (strncmp(v->peer_cert->sans[i], "CN:", 3) != 0)
			benc_put_cstr(b, v->peer_cert->sans[i]);
	benc_put_end(b);
	benc_put_kv_int(b, "resumed", v->resumed);
	benc_put_kv_int(b, "generation", v->generation);
	benc_put_kv_int(b, "age-ms", (int64_t)v->age_ms);
	benc_put_kv_int(b, "idle-ms", (int64_t)v->idle_ms);
	benc_put_end(b);
}

int rp_tlsctl_cmd_connections(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_tlsctl *t = arg;
	struct conn_out o = { .b = resp };
	int64_t max = 1000;
	size_t total;

	if (benc_dict_get(ctl_req_args(req), "max") &&
	    benc_get_int(ctl_req_args(req), "max", 0, 100000, &max, NULL) < 0)
		return ctl_req_error(req, "max: a number of connections, 0..100000");
	benc_put_kv_list(resp, "connections");
	total = rp_tls_reg_each(t->reg, (size_t)max, put_conn, &o);
	benc_put_end(resp);
	benc_put_kv_int(resp, "total", (int64_t)total);
	benc_put_kv_int(resp, "listed", (int64_t)o.listed);
	return rp_buf_error(resp);
}

/* ---- tls.cert.* ---- */

static void put_slot(rp_buf *b, const char *listener, const char *state,
	const rp_tls_ctx *c, size_t i, int64_t now)
{
	struct rp_tls_slot_view v;
	const struct rp_tls_cert_info *ci;

	if (rp_tls_ctx_slot(c, i, &v) < 0)
		return;
	ci = v.info;
	benc_put_dict(b);
	benc_put_kv_cstr(b, "listener", listener);
	benc_put_kv_cstr(b, "state", state);
	benc_put_kv_cstr(b, "slot", i == 0 ? "default" : "sni");
	benc_put_kv_list(b, "names");
	for (size_t k = 0; k < v.n_names; k++)
		benc_put_cstr(b, v.names[k]);
	benc_put_end(b);
	benc_put_kv_cstr(b, "subject", ci->subject);
	benc_put_kv_list(b, "sans");
	for (size_t k = 0; k < ci->n_sans; k++)
		benc_put_cstr(b, ci->sans[k]);
	benc_put_end(b);
	benc_put_kv_cstr(b, "issuer", ci->issuer);
	benc_put_kv_cstr(b, "serial", ci->serial);
	benc_put_kv_cstr(b, "not-before", ci->not_before);
	benc_put_kv_cstr(b, "not-after", ci->not_after);
	benc_put_kv_int(b, "expires-in-days", (ci->not_after_s - now) / 86400);
	benc_put_kv_cstr(b, "key-type", ci->key_type);
	benc_put_kv_int(b, "chain-length", ci->chain_len);
	benc_put_kv_cstr(b, "chain-check", v.chain_check);
	benc_put_kv_cstr(b, "cert-file", v.cert_file ? v.cert_file : "");
	benc_put_kv_cstr(b, "key-file", v.key_file ? v.key_file : "");
	if (v.chain_file)
		benc_put_kv_cstr(b, "chain-file", v.chain_file);
	benc_put_kv_int(b, "generation", rp_tls_ctx_generation(c));
	benc_put_end(b);
}

int rp_tlsctl_cmd_cert_show(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_tlsctl *t = arg;
	int64_t now = (int64_t)time(NULL);

	if (!t->n_listeners)
		return ctl_req_error(req, "no TLS listener");
	benc_put_kv_list(resp, "certificates");
	for (size_t i = 0; i < t->n_listeners; i++) {
		rp_tls_store *s = t->listeners[i];
		const char *l = rp_tls_store_label(s);
		rp_tls_ctx *cur = rp_tls_store_acquire(s);
		rp_tls_ctx *st = rp_tls_store_acquire_staged(s);

		for (size_t k = 0; k < rp_tls_ctx_slots(cur); k++)
			put_slot(resp, l, "in-use", cur, k, now);
		/* Only the slot that changes is worth showing as staged. */
		for (size_t k = 0; st && k < rp_tls_ctx_slots(st); k++) {
			struct rp_tls_slot_view a, b;

			if (rp_tls_ctx_slot(cur, k, &a) == 0 && rp_tls_ctx_slot(st, k, &b) == 0 &&
			    a.info->serial[0] && !strcmp(a.info->serial, b.info->serial) &&
			    !strcmp(a.info->issuer, b.info->issuer) &&
			    !strcmp(a.cert_file ? a.cert_file : "", b.cert_file ? b.cert_file : ""))
				continue;
			put_slot(resp, l, "staged", st, k, now);
		}
		rp_tls_ctx_put(st);
		rp_tls_ctx_put(cur);
	}
	benc_put_end(resp);
	return rp_buf_error(resp);
}

/* A string argument as a C string in the request's arena; NULL if absent. */
static const char *str_arg(ctl_req *req, const char *key, bool *bad)
{
	rp_str v;
	char *s;

	if (!benc_dict_get(ctl_req_args(req), key))
		return NULL;
	if (benc_get_str(ctl_req_args(req), key, &v, NULL) < 0 || v.n == 0 || v.n > 4096 ||
	    memchr(v.p, 0, v.n)) {
		*bad = true;
		return NULL;
	}
	s = rp_arena_strndup(ctl_req_arena(req), v.p, v.n);
	if (!s)
		*bad = true;
	return s;
}

int rp_tlsctl_cmd_cert_stage(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_tlsctl *t = arg;
	bool bad = false;
	struct rp_tls_stage_req rq = {
		.cert_file = str_arg(req, "file", &bad),
		.key_file = str_arg(req, "key", &bad),
		.chain_file = str_arg(req, "chain", &bad),
		.sni_name = str_arg(req, "name", &bad),
	};
	const char *listener = str_arg(req, "listener", &bad);
	rp_tls_staged *prep[MAX_STORES] = { 0 };
	rp_tls_store *target[MAX_STORES];
	size_t n = 0;
	char err[400];
	int rc = 0;

	if (bad)
		return ctl_req_error(req, "file, key, chain, name and listener are non-empty strings");
	if (!rq.cert_file || !rq.key_file)
		return ctl_req_error(req, "usage: tls.cert.stage file=CERT.pem key=KEY.pem "
			"[chain=INTERMEDIATES.pem] [name=SNI-NAME] [listener=tls:ADDR:PORT]");
	if (!t->n_listeners)
		return ctl_req_error(req, "no TLS listener");
	/* Every listener concerned is prepared first; only when all of them
	 * accept the files is anything staged (all or nothing). */
	for (size_t i = 0; i < t->n_listeners; i++) {
		rp_tls_store *s = t->listeners[i];

		if (listener && strcmp(listener, rp_tls_store_label(s)) != 0)
			continue;
		rc = rp_tls_store_prepare(s, &rq, &prep[n], err, sizeof(err));
		if (rc == -ENOENT && !listener)
			continue; /* this listener has no sni_cert for that name */
		if (rc < 0)
			break;
		target[n++] = s;
	}
	if (rc == 0 && n == 0) {
		if (listener)
			snprintf(err, sizeof(err), "no TLS listener '%s' (tls.cert.show lists them)",
				listener);
		else
			snprintf(err, sizeof(err), "no TLS listener has an sni_cert serving '%s'",
				rq.sni_name ? rq.sni_name : "");
		rc = -ENOENT;
	}
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			rp_tls_staged_free(prep[i]);
		rp_warn("tls.cert.stage of %s refused, nothing changed: %s", rq.cert_file, err);
		return ctl_req_error(req, "%s; nothing staged", err);
	}
	benc_put_kv_list(resp, "staged");
	for (size_t i = 0; i < n; i++) {
		rp_tls_store_set_staged(target[i], prep[i]);
		benc_put_cstr(resp, rp_tls_store_label(target[i]));
	}
	benc_put_end(resp);
	benc_put_kv_cstr(resp, "slot", rq.sni_name ? rq.sni_name : "default");
	rp_notice("tls.cert.stage: %s (key %s) staged for %zu listener(s), slot %s; "
		"'tls.cert.commit' puts it in use", rq.cert_file, rq.key_file, n,
		rq.sni_name ? rq.sni_name : "default");
	/* The answer describes what was staged, like tls.cert.show. */
	return rp_tlsctl_cmd_cert_show(req, resp, arg);
}

int rp_tlsctl_cmd_cert_commit(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_tlsctl *t = arg;
	size_t n = 0;

	benc_put_kv_list(resp, "committed");
	for (size_t i = 0; i < t->n_listeners; i++)
		if (rp_tls_store_commit(t->listeners[i]) == 0) {
			benc_put_cstr(resp, rp_tls_store_label(t->listeners[i]));
			n++;
		}
	benc_put_end(resp);
	if (!n)
		return ctl_req_error(req, "nothing staged ('tls.cert.stage' first)");
	rp_notice("tls.cert.commit: the staged certificate is in use on %zu listener(s) for "
		"new connections; established connections keep theirs", n);
	return rp_buf_error(resp);
}

int rp_tlsctl_cmd_cert_abort(ctl_req *req, rp_buf *resp, void *arg)
{
	rp_tlsctl *t = arg;
	size_t n = 0;

	for (size_t i = 0; i < t->n_listeners; i++)
		n += rp_tls_store_abort(t->listeners[i]);
	if (!n)
		return ctl_req_error(req, "nothing staged");
	rp_notice("tls.cert.abort: staged certificate dropped (%zu listener(s))", n);
	benc_put_kv_int(resp, "aborted", (int64_t)n);
	return rp_buf_error(resp);
}

/* ---- stats and metrics ---- */

void rp_tlsctl_put_stats(rp_tlsctl *t, rp_buf *resp)
{
	struct rp_tls_counts c;
	uint64_t fail = 0;

	rp_tls_reg_counts(t->reg, &c);
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < RP_TLS_FAIL_COUNT; i++)
			fail += c.failures[d][i];
	benc_put_kv_int(resp, "tls-connections", (int64_t)rp_tls_reg_each(t->reg, 0, NULL, NULL));
	benc_put_kv_int(resp, "tls-handshakes", (int64_t)(c.handshakes[0] + c.handshakes[1]));
	benc_put_kv_int(resp, "tls-handshake-failures", (int64_t)fail);
	benc_put_kv_int(resp, "tls-resumed", (int64_t)(c.resumed[0] + c.resumed[1]));
	benc_put_kv_dict(resp, "tls-failures");
	for (int i = 0; i < RP_TLS_FAIL_COUNT; i++)
		benc_put_kv_int(resp, rp_tls_fail_name((enum rp_tls_fail)i),
			(int64_t)(c.failures[0][i] + c.failures[1][i]));
	benc_put_end(resp);
}

/* Registered before the labelled TLS families, so the registry calls it
 * first in a scrape: it copies the registry's counters into their cells
 * (the handshake path keeps one set of atomics, not two). */
static int64_t m_tls_conns(void *arg)
{
	rp_tlsctl *t = arg;
	struct rp_tls_counts c;

	rp_tls_reg_counts(t->reg, &c);
	for (int d = 0; d < 2; d++) {
		rp_mval_set(t->m_hs[d], (int64_t)c.handshakes[d]);
		rp_mval_set(t->m_resumed[d], (int64_t)c.resumed[d]);
		for (int i = 0; i < RP_TLS_FAIL_COUNT; i++)
			rp_mval_set(t->m_fail[d][i], (int64_t)c.failures[d][i]);
	}
	return (int64_t)rp_tls_reg_each(t->reg, 0, NULL, NULL);
}

int rp_tlsctl_metrics(rp_tlsctl *t, rp_metrics *m)
{
	rp_metric *hs = NULL, *fail = NULL, *res = NULL;
	int rc;

	rc = rp_metrics_gauge_fn(m, "rampart_proxy_tls_connections_active",
		"TLS connections open (handshaking or established), inbound and outbound",
		m_tls_conns, t);
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_proxy_tls_handshakes_total",
			"TLS handshakes finished, successful or failed, by direction", 1,
			(const char *[]){ "direction" }, 2, &hs);
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_proxy_tls_handshake_failures_total",
			"TLS handshakes that failed, by direction and reason", 2,
			(const char *[]){ "direction", "reason" }, 2 * RP_TLS_FAIL_COUNT, &fail);
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_proxy_tls_resumed_total",
			"TLS handshakes that resumed an earlier session, by direction", 1,
			(const char *[]){ "direction" }, 2, &res);
	for (int d = 0; !rc && d < 2; d++) {
		rc = rp_metric_with(hs, (const char *[]){ dir_names[d] }, &t->m_hs[d]);
		if (!rc)
			rc = rp_metric_with(res, (const char *[]){ dir_names[d] }, &t->m_resumed[d]);
		for (int i = 0; !rc && i < RP_TLS_FAIL_COUNT; i++)
			rc = rp_metric_with(fail, (const char *[]){ dir_names[d],
				rp_tls_fail_name((enum rp_tls_fail)i) }, &t->m_fail[d][i]);
	}
	return rc;
}
