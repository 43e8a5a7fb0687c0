#include "core.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "dns.h"
#include "fork.h"
#include "calls.h"
#include "cfg_eval.h"
#include "media.h"
#include "registrar.h"
#include "rp_metrics.h"
#include "rp_buf.h"
#include "rp_hash.h"
#include "rp_log.h"
#include "rp_rand.h"
#include "rp_time.h"
#include "sip_body.h"
#include "sip_edit.h"
#include "sipout.h"
#include "probe.h"
#include "trunk.h"
#include "worker.h"

#define MAX_TARGETS 8
#define DNS_WAIT_MAX_MS 2000     /* a config install waits on DNS at most */
#define MAX_PARKED 1024          /* requests waiting on DNS at most */
#define STATELESS_PREFIX "z9hG4bKrs"
#define BYE_MAX 65536            /* our own BYE, as any message we relay */

struct stat_ctr {
	atomic_uint_fast64_t requests, responses, malformed, retransmissions, forwarded,
		relayed_responses, local_replies, timeouts, failovers, loops, cancels,
		stateless, overload;
};

struct rp_core {
	struct cfg_holder holder;
	rp_txl *txl;
	pthread_mutex_t lmu;            /* guards the listener list */
	struct rp_listen listen[RP_MAX_LISTEN];
	char lhost[RP_MAX_LISTEN][64];  /* their hosts as text, formatted once */
	bool lwild[RP_MAX_LISTEN];      /* 0.0.0.0 / :: */
	size_t nlisten;
	_Atomic(rp_workers *) ws;
	int (*send)(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len);
	void *send_arg;
	rp_media_calls *media;          /* NULL: no media layer */
	rp_calls *calls;                /* the call registry (calls.h) */
	rp_registrar *reg;
	rp_auth *auth;
	rp_trunk_dlgs *tdlg;            /* dialogs whose CSeq we map (trunk.h) */
	rp_probe *probe;                /* trunk addresses' reachability (probe.h) */
	pthread_mutex_t pn_mu;
	rp_hash *pnames;                /* host names probed over TLS: interned for
	                                 * the transactions' tls_domain */
	struct rp_core_metrics mx;      /* all NULL: no metrics */
	struct rp_tls_store *(*trunk_tls)(void *arg, const char *trunk);
	void *trunk_tls_arg;
	rp_dns *resolver;               /* run-time DNS (dns.h) */
	pthread_rwlock_t dns_mu;
	rp_hash *dns;                   /* dns_key() -> struct dns_ent: exactly
	                                 * the trunk names of the installed
	                                 * config (resolve_trunks) */
	unsigned dns_gen;               /* resolve_trunks' current mark (dns_mu) */
	pthread_mutex_t probe_mu;       /* probe_configure: one at a time */
	/* Requests waiting for a Request-URI/Route host name (id -> struct
	 * parked). Lock order: the transaction's shard, then park_mu. */
	pthread_mutex_t park_mu;
	rp_hash *parked;
	uint64_t park_next;
	_Atomic uint64_t next_sweep;
	uint8_t key[16];
	atomic_size_t ntxns;            /* server transactions alive */
	size_t max_txns;
	pthread_t thr;
	bool thr_started;
	atomic_bool stop;
	struct stat_ctr st;
};

/* A trunk address given as a name, as the resolver last located it
 * (RFC 3263: NAPTR/SRV/A/AAAA; dns.h). The resolver's threads replace it
 * before its TTL runs out; workers only read it. */
struct dns_ent {
	char key[300];
	unsigned gen;                   /* the config install that wants it */
	bool resolved;                  /* false: a placeholder, no answer yet */
	unsigned n;
	struct rp_dns_target t[RP_DNS_MAX_TARGETS];
};

/* The key of a trunk address: transport, port as configured (0: none,
 * SRV applies) and host. */
static rp_str dns_key(enum rp_tp tp, uint16_t port, const char *host, char out[300])
{
	int n = snprintf(out, 300, "%d/%u/%s", (int)tp, port, host);

	return rp_str_make(out, n < 0 ? 0 : n >= 300 ? 299 : (size_t)n);
}

struct target {
	struct rp_txn_dest d;
	char host[64];                  /* TLS: the name to verify */
};

/* A registered contact lookup() found (parallel forking, fork.h). */
struct fork_tg {
	struct rp_txn_dest d;
	unsigned q;
	rp_str uri;                     /* in the request's arena */
};

/* The proxy's state of one request: the user area of its server
 * transaction. */
struct pctx {
	struct cfg *cfg;                /* reference while the transaction lives */
	enum sip_method method;
	rp_addr src;                    /* where the request came from */
	/* The addresses to try: tg1 alone for almost every request; a second
	 * one moves them to MAX_TARGETS of them on the heap (tg_at), kept
	 * until the transaction goes (a client transaction's dest borrows a
	 * target's host, so neither is moved or freed before). */
	struct target *tg;              /* &tg1 or malloc */
	struct target tg1;
	unsigned ntg, next;
	char *fwd;                      /* the forwarded request; branch at br_off */
	size_t fwd_len, br_off;
	rp_txn_cli *cur;                /* the live branch */
	bool cancelled, cancel_sent;
	unsigned best_code;             /* best final so far; 0 none */
	char *best;                     /* its bytes (Via popped), NULL = make one */
	size_t best_len;
	char tag[24];                   /* To tag of the responses we make */
	enum cfg_media_enc media;
	enum rp_tp in_tp;               /* how the request came in */
	rp_addr local;                  /* the address it arrived on */
	unsigned failure_runs;          /* 'route failure' runs so far */
	/* Media (a reference on the call while the transaction lives). */
	rp_media_call *mc;
	enum rp_media_side mside;       /* the side this request came from */
	bool m_initial;                 /* the dialog-creating INVITE */
	bool m_req_sdp;                 /* the request carried an offer/answer */
	char *m_key;                    /* Call-ID NUL caller's tag (malloc) */
	size_t m_cid_len, m_tag_len;
	/* An initial INVITE without SDP: the call is made only when an SDP
	 * shows up (late offer in a 18x/2xx), so SDP-less calls cost no
	 * media call object (a large one). */
	bool m_pending;
	struct rp_media_leg_cfg *m_legs;  /* [0] A, [1] B (malloc) while m_pending */
	/* Answering the trunk's 401/407 (trunk.h): the caller's CSeq and the
	 * one sent now; the trunk whose credentials answer. */
	const struct cfg_trunk *auth_trunk;
	rp_trunk_auth *ta;
	uint32_t cseq_orig, cseq_sent;
	bool t_initial, t_rr;           /* no To tag; we record-routed */
	int m_rc;                       /* the media layer's last refusal */
	/* The call of an initial INVITE (a reference while the transaction
	 * lives), NULL for any other request. */
	rp_call *call;
	bool call_rr;                   /* we record-routed it: BYE comes our way */
	/* Parallel forking to several contacts (fork.h); NULL otherwise. */
	struct rp_fork *fork;
	/* Waiting for DNS (park_request): its id, and the address family
	 * the forwarded request was written for; when we listen on both
	 * families, also written for the other one (park_alt: branch at
	 * park_alt_off), in case the name has only such addresses. */
	uint64_t park_id;
	sa_family_t park_fam, park_alt_fam;
	char *park_alt;
	size_t park_alt_len, park_alt_off;
};

/* A request waiting for DNS: found again by id when the answer comes, if
 * its transaction still exists (srv_gone removes it). */
struct parked {
	uint64_t id;
	rp_txn_srv *s;
};

/* The resolver's callback argument of a parked request. */
struct park_ref {
	rp_core *c;
	uint64_t id;
	unsigned shard;
	char host[256];                 /* for the log */
};

/* The message info of the response being handled on this thread, for the
 * reply route's getters (the transaction callbacks do not carry it). */
static _Thread_local const struct rp_msg_info *cur_mi;

/* Everything about the request being processed (stack). */
struct req {
	rp_core *core;
	const struct rp_msg_info *mi;
	struct sip_msg *m;
	rp_arena *a;
	struct sip_edit *e;
	struct cfg *cfg;
	rp_txn_srv *stx;
	struct pctx *pc;
	uint64_t now;
	unsigned shard;
	rp_str ruri;                    /* current Request-URI */
	struct sip_uri ruri_p;
	bool ruri_changed, rr, replied, relay;
	bool have_dst;                  /* lookup(): where the contact registered from */
	bool is_resp;                   /* reply route: m is a response */
	unsigned status;                /* reply / failure route: the status */
	struct rp_txn_dest dst;
	const struct cfg_trunk *trunk;
	/* Route values of ours to remove: (header index, nth value). */
	size_t route_rm[2][2];
	unsigned nroute_rm;
	bool have_route;                /* a Route value is left after ours */
	struct sip_nameaddr route0;     /* the first one left */
	enum cfg_media_enc media;
	/* The account that authenticated this request (authenticate), so
	 * that save() lets it register only its own AOR. */
	const struct cfg_user *auth_user;
	rp_str new_body;                /* media: the rewritten SDP to forward */
	bool set_body;
	uint64_t lh;                    /* loop_hash(m), once have_lh */
	bool have_lh;
	/* lookup(): every contact to fork to, best first (in the arena), when
	 * there are several; lk_ruri is the Request-URI lookup() set (the
	 * script changing it afterwards turns forking off). */
	struct fork_tg *ftg;
	unsigned nftg;
	rp_str lk_ruri;
	bool keep_body;                 /* build_forward: new_body is used again */
	/* targets() returned -EINPROGRESS: the name to locate. */
	struct rp_dns_query dq;
};

static rp_str server_name(const struct cfg *c)
{
	const struct cfg_settings *s = cfg_settings(c);

	return rp_str_cstr(s->user_agent ? s->user_agent : "Rampart");
}

/* Max-Forwards minus one (the parser bounds it to 0..255), in decimal:
 * the length. snprintf cost ~800 instructions a message for this. */
static size_t mf_dec(char out[4], int v)
{
	size_t n = 0;

	if (v >= 100)
		out[n++] = (char)('0' + v / 100);
	if (v >= 10)
		out[n++] = (char)('0' + v / 10 % 10);
	out[n++] = (char)('0' + v % 10);
	return n;
}

/* 16 lowercase hex digits of h, no terminator. */
static void hex16(char *out, uint64_t h)
{
	static const char hx[] = "0123456789abcdef";

	for (int k = 15; k >= 0; k--, h >>= 4)
		out[k] = hx[h & 15];
}

/* ---- sending ---- */

static int ws_send(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len)
{
	rp_core *c = arg;
	rp_workers *ws = atomic_load(&c->ws);

	if (!ws)
		return -ENOTCONN;

	/* Responses and stateless forwards: nobody acts on a send error, so
	 * they may wait for the worker's batched send. A request of a client
	 * transaction goes out now: its error fails the branch at once. */
	if (d->tp == RP_TP_UDP && (d->reply || d->nowait))
		return rp_workers_send_later(ws, d->tp, &d->addr, buf, len);
	if (d->reply || d->flow || d->tp == RP_TP_UDP)
		return rp_workers_send(ws, d->tp, &d->addr, buf, len);
	return rp_workers_send_to_tls(ws, d->tp, &d->addr, d->tls_domain, d->tls_store,
		(enum rp_conn_reuse)d->reuse, buf, len);
}

static int core_send(rp_core *c, const struct rp_txn_dest *d, const char *buf, size_t len)
{
	return c->send(c->send_arg, d, buf, len);
}

/* Metrics: a response we sent or relayed. */
static inline void count_resp(rp_core *c, unsigned code)
{
	unsigned k = code / 100;

	if (k < 7 && c->mx.resp[k])
		rp_mval_inc(c->mx.resp[k]);
}

static void reply_dest(const struct rp_msg_info *mi, const struct sip_msg *m,
	struct rp_txn_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->tp = mi->tp;
	d->reply = true;
	rp_sipout_resp_addr(&m->via, mi->tp, &mi->peer, &d->addr);
}

/* A response no transaction keeps (stateless: 4xx to bad requests, 200 to
 * CANCEL, ...). The To tag is derived from the request so a retransmission
 * gets the same answer. */
static void reply_stateless(rp_core *c, const struct rp_msg_info *mi,
	const struct sip_msg *m, const struct cfg *cfg, unsigned code, const char *reason,
	const rp_str *extra, unsigned nextra)
{
	struct rp_txn_dest d;
	char tag[24];
	rp_buf b;
	uint64_t h = rp_siphash13(c->key, m->call_id.p, m->call_id.n) ^
		rp_siphash13(c->key, m->via.branch.p ? m->via.branch.p : "", m->via.branch.n) ^
		m->cseq.num;

	snprintf(tag, sizeof(tag), "rp%016llx", (unsigned long long)h);
	rp_buf_init(&b, 65536);
	rp_sipout_response(&b, m, &mi->peer, code, rp_str_cstr(reason), rp_str_cstr(tag),
		extra, nextra, server_name(cfg));
	reply_dest(mi, m, &d);
	if (rp_buf_error(&b) == 0 && core_send(c, &d, b.p, b.len) == 0)
		count_resp(c, code);
	rp_buf_free(&b);
	atomic_fetch_add(&c->st.local_replies, 1);
}

static void media_end(rp_core *c, struct pctx *pc);
static void call_failed(rp_core *c, struct pctx *pc, unsigned code);

/* A response made by us to 'm', the request of server transaction 's'. */
static int reply_msg(rp_core *c, rp_txn_srv *s, const struct sip_msg *m, unsigned code,
	rp_str reason, const rp_str *extra, unsigned nextra, uint64_t now)
{
	struct pctx *pc = rp_txn_srv_user(s);
	rp_buf b;
	int rc;

	rp_buf_init(&b, 65536);
	/* One allocation for a typical response instead of doubling from 64
	 * bytes; a failure stays in b and is checked below. */
	(void)rp_buf_reserve(&b, 1024);
	rp_sipout_response(&b, m, &pc->src, code, reason, rp_str_cstr(pc->tag),
		extra, nextra, server_name(pc->cfg));
	rc = rp_buf_error(&b);
	if (rc == 0)
		rc = rp_txn_srv_respond(c->txl, s, code, b.p, b.len, now);
	if (rc == 0)
		count_resp(c, code);
	else   /* logged here: most callers have nothing else to do about it */
		rp_warn_rl("call %.*s: our %u response not sent: %s", RP_STR_FMT(m->call_id),
			code, strerror(-rc));
	rp_buf_free(&b);
	atomic_fetch_add(&c->st.local_replies, 1);
	if (code >= 300) {
		call_failed(c, pc, code);
		media_end(c, pc);
	}
	return rc;
}

/* The request bytes the transaction keeps, copied into 'a' (the
 * transaction frees its own with the final response, which a reply made
 * from the parsed copy sends), or NULL. */
static const char *srv_request_copy(rp_txn_srv *s, rp_arena *a, size_t *len)
{
	const char *req = rp_txn_srv_request(s, len);
	char *p;

	if (!req || !(p = rp_arena_alloc(a, *len ? *len : 1)))
		return NULL;
	memcpy(p, req, *len);
	return p;
}

/* The same later on, from the request bytes the transaction keeps. A
 * failure is logged (reply_msg); a final failure ends the call and its
 * media even when the response could not be made. */
static void reply_txn(rp_core *c, rp_txn_srv *s, unsigned code, rp_str reason,
	const rp_str *extra, unsigned nextra, uint64_t now)
{
	char store[8192];
	rp_arena a;
	struct sip_msg *m = NULL;
	/* As on receipt (rp_core_handle_at): From/To URIs the request was
	 * accepted with unparsed (RFC 3261 16.3) must not fail it now. The
	 * same for every re-parse of a kept request or response below. */
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	size_t len;
	const char *req;

	if (rp_txn_srv_final(s))
		return;   /* its final response went already: nothing left to do */
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if ((req = srv_request_copy(s, &a, &len)) &&
	    sip_msg_parse(req, len, &a, &o, &m, NULL) == SIP_OK) {
		(void)reply_msg(c, s, m, code, reason, extra, nextra, now);   /* logs */
	} else {
		struct pctx *pc = rp_txn_srv_user(s);

		rp_warn_rl("our %u response not sent: the request kept by its transaction "
			"could not be copied or does not parse again", code);
		if (code >= 300) {
			call_failed(c, pc, code);
			media_end(c, pc);
		}
	}
	rp_arena_fini(&a);
}

/* ---- who we are ---- */

static bool host_is_listener(rp_core *c, rp_str host, bool has_port, uint16_t port)
{
	bool host_ok = false, port_ok = !has_port;

	pthread_mutex_lock(&c->lmu);
	for (size_t i = 0; i < c->nlisten; i++) {
		if (rp_str_caseeq_cstr(host, c->lhost[i]))
			host_ok = true;
		if (has_port && port == rp_addr_port(&c->listen[i].addr))
			port_ok = true;
	}
	pthread_mutex_unlock(&c->lmu);
	return host_ok && port_ok;
}

/* A URI that names this proxy: one of our listener addresses (Route,
 * Record-Route), or with 'domains' also a local domain / localhost. */
static bool uri_is_us(rp_core *c, const struct cfg *cfg, const struct sip_uri *u,
	bool domains)
{
	if (u->host_type == SIP_HOST_NONE)
		return false;
	if (host_is_listener(c, u->host, u->has_port, u->port))
		return true;
	if (!domains)
		return false;
	return SIP_LIT_CASEEQ(u->host, "localhost") || cfg_is_local_domain(cfg, u->host);
}

/* Our address for a transport and family: the first listener that fits
 * (a wildcard one takes the address the message arrived on). */
static int local_for(rp_core *c, enum rp_tp tp, sa_family_t fam,
	const struct rp_msg_info *mi, rp_addr *out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&c->lmu);
	for (size_t i = 0; i < c->nlisten; i++) {
		const struct rp_listen *l = &c->listen[i];

		if (l->tp != tp || l->addr.u.sa.sa_family != fam)
			continue;
		*out = l->addr;
		if (c->lwild[i]) {
			if (mi->local.u.sa.sa_family != fam)
				continue;
			*out = mi->local;
			rp_addr_set_port(out, rp_addr_port(&l->addr));
		}
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&c->lmu);
	return rc;
}

/* ---- loops (§16.3 item 4) ---- */

/* Keyed hash of each part, chained: no buffer to build. */
static uint64_t lh_mix(const rp_core *c, uint64_t h, rp_str part)
{
	h = (h << 13 | h >> 51) * 0x9e3779b97f4a7c15ull;
	return h ^ rp_siphash13(c->key, part.p ? part.p : "", part.n);
}

static uint64_t loop_hash(rp_core *c, const struct sip_msg *m)
{
	static const enum sip_hdr_id ids[] = { SIP_HDR_PROXY_REQUIRE,
		SIP_HDR_PROXY_AUTHORIZATION, SIP_HDR_ROUTE };
	struct sip_hdr_iter it;
	rp_str v;
	uint64_t h = m->cseq.num;

	h = lh_mix(c, h, m->ruri_str);
	h = lh_mix(c, h, m->to.tag);
	h = lh_mix(c, h, m->from.tag);
	h = lh_mix(c, h, m->call_id);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sip_hdr_iter_init(&it, m, ids[i]);
		while (sip_hdr_iter_next(&it, &v))
			h = lh_mix(c, h, v);
		h = lh_mix(c, h, RP_STR_LIT("|"));
	}
	return h;
}

/* The request's loop hash, computed once (the loop check and the branch
 * both need it; m does not change in between). */
static uint64_t req_loop_hash(struct req *r)
{
	if (!r->have_lh) {
		r->lh = loop_hash(r->core, r->m);
		r->have_lh = true;
	}
	return r->lh;
}

static bool is_loop(rp_core *c, const struct sip_msg *m, uint64_t lh)
{
	struct sip_hdr_iter it;
	struct sip_via v;
	uint64_t seen;

	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	for (;;) {
		rp_str val;

		if (!sip_hdr_iter_next(&it, &val))
			break;
		/* Only a value with our branch prefix can be a loop: no parse
		 * for the others (every Via of every request). */
		if (!val.n || !memmem(val.p, val.n, RP_TXN_BRANCH_PREFIX,
			sizeof(RP_TXN_BRANCH_PREFIX) - 1))
			continue;
		if (sip_via_parse(val, &v, NULL) != SIP_OK)
			break;
		if (!rp_txn_branch_loop(v.branch, &seen))
			continue;
		if (seen == lh && host_is_listener(c, v.host, true, v.has_port ? v.port : 5060))
			return true;
	}
	return false;
}

/* ---- Route (§16.4) ---- */

/* Drops the Route values that name us at the top of the set (one, or two
 * after a double Record-Route) and notes the first one left. -EINVAL when a
 * value up to that one is not a name-addr: the request cannot be routed
 * (it used to be taken as having no Route and sent to the Request-URI). */
static int route_preprocess(struct req *r)
{
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	enum sip_err e;

	sip_hdr_iter_init(&it, r->m, SIP_HDR_ROUTE);
	size_t nth = 0, last_hdr = SIZE_MAX;
	while ((e = sip_hdr_iter_next_nameaddr(&it, &na, NULL)) == SIP_OK) {
		if (it.cur != last_hdr) {
			nth = 0;
			last_hdr = it.cur;
		}
		if (r->nroute_rm < 2 && !r->have_route &&
		    uri_is_us(r->core, r->cfg, &na.uri, false)) {
			r->route_rm[r->nroute_rm][0] = it.cur;
			r->route_rm[r->nroute_rm][1] = nth;
			r->nroute_rm++;
		} else if (!r->have_route) {
			r->route0 = na;
			r->have_route = true;
			break;
		}
		nth++;
	}
	return e == SIP_OK || e == SIP_E__COUNT ? 0 : -EINVAL;
}

static int apply_route_removal(struct req *r)
{
	/* Our values are a prefix of the Route set: per header line, drop
	 * the line when all its values go, else keep it from the first
	 * value that stays (two cuts in one line would overlap). */
	for (unsigned i = 0; i < r->nroute_rm;) {
		size_t idx = r->route_rm[i][0], k = 0, nvals = 0;
		const struct sip_hdr *h = &r->m->hdrs[idx];
		rp_str it = h->value, v, keep = RP_STR_NULL;

		while (i < r->nroute_rm && r->route_rm[i][0] == idx) {
			k++;
			i++;
		}
		while (sip_hdr_list_next(&it, &v)) {
			if (nvals == k)
				keep = rp_str_make(v.p, (size_t)(h->value.p + h->value.n - v.p));
			nvals++;
		}
		if (nvals <= k) {
			if (sip_edit_remove_header(r->e, idx) != SIP_OK)
				return -EINVAL;
		} else if (sip_edit_replace_value(r->e, idx, keep) != SIP_OK) {
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- cfg_ops over a request ---- */

static int op_method(void *mv, rp_str *out)
{
	struct req *r = mv;

	*out = r->is_resp ? r->m->cseq.method_str : r->m->method_str;
	return 0;
}

static const struct sip_uri *which_uri(struct req *r, enum cfg_uri which)
{
	switch (which) {
	case CFG_URI_R: return r->is_resp ? NULL : &r->ruri_p;
	case CFG_URI_FROM:
	case CFG_URI_TO: {
		/* A response's From/To URIs are parsed only when asked for
		 * (lazy_resp_addr_uri); the message is this core's own, in its
		 * arena, const only by interface. */
		struct sip_nameaddr *na = (struct sip_nameaddr *)(which == CFG_URI_FROM ?
			&r->m->from : &r->m->to);
		struct sip_perr e;

		return sip_nameaddr_parse_uri(na, &e) == SIP_OK ? &na->uri : NULL;
	}
	}
	return NULL;
}

static int op_uri(void *mv, enum cfg_uri which, enum cfg_uri_part part, rp_str *out)
{
	struct req *r = mv;
	const struct sip_uri *u = which_uri(r, which);

	if (!u)
		return -ENOENT;
	switch (part) {
	case CFG_UP_FULL: *out = u->raw; break;
	case CFG_UP_SCHEME: *out = u->scheme_str; break;
	case CFG_UP_USER: *out = u->user; break;
	case CFG_UP_HOST:
		*out = u->host;
		if (u->host_type == SIP_HOST_IPV6)
			*out = rp_str_make(u->host.p - 1, u->host.n + 2);
		break;
	case CFG_UP_PORT:
		if (!u->has_port)
			return -ENOENT;
		*out = rp_str_make(u->hostport.p + u->hostport.n, 0);
		{
			ptrdiff_t colon = -1;

			for (size_t i = u->hostport.n; i-- > 0;)
				if (u->hostport.p[i] == ':') {
					colon = (ptrdiff_t)i;
					break;
				}
			if (colon < 0)
				return -ENOENT;
			*out = rp_str_make(u->hostport.p + colon + 1,
				u->hostport.n - (size_t)colon - 1);
		}
		break;
	}
	return out->n ? 0 : -ENOENT;
}

static int op_uri_param(void *mv, enum cfg_uri which, rp_str name, rp_str *out)
{
	struct req *r = mv;
	const struct sip_uri *u = which_uri(r, which);
	char n[64];

	if (!u || rp_str_copy(name, n, sizeof(n)) < 0)
		return -ENOENT;
	return sip_uri_param_find(u->params, n, out) ? 0 : -ENOENT;
}

static int op_header(void *mv, rp_str name, unsigned idx, rp_str *out)
{
	struct req *r = mv;
	struct sip_hdr_iter it;
	rp_str v;

	sip_hdr_iter_init_name(&it, r->m, name);
	for (unsigned i = 0; sip_hdr_iter_next(&it, &v); i++)
		if (i == idx) {
			*out = v;
			return 0;
		}
	return -ENOENT;
}

static int op_source(void *mv, struct sockaddr_storage *out)
{
	struct req *r = mv;

	if (!r->mi)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	memset(out, 0, sizeof(*out));
	memcpy(out, &r->mi->peer.u, r->mi->peer.len <= sizeof(r->mi->peer.u) ?
		r->mi->peer.len : sizeof(r->mi->peer.u));
	return 0;
}

static enum cfg_transport op_transport(void *mv)
{
	struct req *r = mv;

	if (!r->mi)
		return CFG_TP_NONE;
	switch (r->mi->tp) {
	case RP_TP_UDP: return CFG_TP_UDP;
	case RP_TP_TCP: return CFG_TP_TCP;
	case RP_TP_TLS: return CFG_TP_TLS;
	}
	return CFG_TP_NONE;
}

/* The TLS peer's certificate, but only on a listener that verifies client
 * certificates: an unverified subject must never identify anybody. */
static const struct rp_tls_peer *verified_peer(struct req *r)
{
	const struct rp_msg_info *mi = r->mi;
	const struct rp_tls_peer *p;
	rp_tls_sess *ts;
	bool verifies = false;
	char lh[64];

	if (!mi || mi->tp != RP_TP_TLS || !mi->conn)
		return NULL;
	rp_addr_host(&mi->local, lh, sizeof(lh));
	for (size_t i = 0; i < cfg_listen_count(r->cfg); i++) {
		const struct cfg_listen *l = cfg_listen_at(r->cfg, i);

		if (l->transport == CFG_TP_TLS && l->port == rp_addr_port(&mi->local) &&
		    (!strcmp(l->addr, lh) || !strcmp(l->addr, "0.0.0.0") || !strcmp(l->addr, "::")))
			verifies = l->tls.verify_client;
	}
	ts = verifies ? rp_conn_tls(mi->conn) : NULL;
	p = ts ? rp_tls_sess_peer(ts) : NULL;
	return p && p->present ? p : NULL;
}

/* "/C=DE/O=Carrier/CN=sip.carrier.example" as "C=DE, O=Carrier,
 * CN=sip.carrier.example", the form the config's cert_subject uses. */
static int op_tls_subject(void *mv, rp_str *out)
{
	struct req *r = mv;
	const struct rp_tls_peer *p = verified_peer(r);
	const char *sub;
	size_t n, k = 0;
	char *d;

	if (!p || !p->subject)
		return -ENOENT;
	sub = p->subject[0] == '/' ? p->subject + 1 : p->subject;
	n = strlen(sub);
	d = rp_arena_alloc(r->a, 2 * n + 1);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (sub[i] == '/') {
			d[k++] = ',';
			d[k++] = ' ';
		} else {
			d[k++] = sub[i];
		}
	}
	*out = rp_str_make(d, k);
	return 0;
}

/* subjectAltNames without their "DNS:" / "URI:" kind. */
static int op_tls_san(void *mv, unsigned idx, rp_str *out)
{
	struct req *r = mv;
	const struct rp_tls_peer *p = verified_peer(r);
	unsigned seen = 0;

	for (size_t i = 0; p && i < p->n_sans; i++) {
		const char *e = p->sans[i];

		if (strncmp(e, "DNS:", 4) && strncmp(e, "URI:", 4))
			continue;
		if (seen++ == idx) {
			*out = rp_str_cstr(e + 4);
			return 0;
		}
	}
	return -ENOENT;
}

static unsigned op_status(void *mv)
{
	struct req *r = mv;

	return r->status;
}

static int op_reply(void *mv, unsigned code, rp_str reason, const rp_str *hdrs,
	unsigned nhdrs)
{
	struct req *r = mv;
	int rc;

	if (r->replied)
		return -EALREADY;
	rc = reply_msg(r->core, r->stx, r->m, code, reason, hdrs, nhdrs, r->now);
	if (rc < 0 && rc != -EALREADY && rc != -ENOTCONN && rc != -ECONNREFUSED)
		rp_debug("reply %u: %s", code, strerror(-rc));
	if (code >= 200)
		r->replied = true;
	return 0;
}

/* Replies with extra header lines given as one CRLF-terminated block. */
static void reply_lines(struct req *r, unsigned code, rp_str reason, const char *blk,
	size_t n)
{
	rp_str lines[16];
	unsigned nl = 0;
	size_t i = 0;

	while (i < n && nl < 16) {
		const char *e = memmem(blk + i, n - i, "\r\n", 2);
		size_t len = e ? (size_t)(e - (blk + i)) : n - i;

		if (len)
			lines[nl++] = rp_str_make(blk + i, len);
		i += len + 2;
	}
	op_reply(r, code, reason, lines, nl);
}

static int op_relay(void *mv, const struct cfg_trunk *trunk)
{
	struct req *r = mv;

	r->relay = true;
	r->trunk = trunk;
	return 0;
}

/* Rebuilds the Request-URI from parts; 'part' replaced by 'value', or with
 * the params string 'params' when part is -1. */
static int set_ruri(struct req *r, rp_str s)
{
	struct sip_uri u;
	char *p;

	if (sip_uri_parse(s, &u, NULL) != SIP_OK)
		return -EINVAL;
	p = rp_arena_strndup(r->a, s.p, s.n);
	if (!p)
		return -ENOMEM;
	s.p = p;
	if (sip_uri_parse(s, &r->ruri_p, NULL) != SIP_OK)
		return -EINVAL;
	r->ruri = s;
	r->ruri_changed = true;
	return 0;
}

static void put_uri(rp_buf *b, const struct sip_uri *u, int part, rp_str value,
	rp_str params)
{
	rp_buf_append_str(b, part == CFG_UP_SCHEME ? value : u->scheme_str);
	rp_buf_append_byte(b, ':');
	rp_str user = part == CFG_UP_USER ? value : u->user;
	if (user.n) {
		rp_buf_append_str(b, user);
		if (u->has_password) {
			rp_buf_append_byte(b, ':');
			rp_buf_append_str(b, u->password);
		}
		rp_buf_append_byte(b, '@');
	}
	if (part == CFG_UP_HOST) {
		rp_buf_append_str(b, value);
	} else if (u->host_type == SIP_HOST_IPV6) {
		rp_buf_append_byte(b, '[');
		rp_buf_append_str(b, u->host);
		rp_buf_append_byte(b, ']');
	} else {
		rp_buf_append_str(b, u->host);
	}
	if (part == CFG_UP_PORT) {
		if (value.n) {
			rp_buf_append_byte(b, ':');
			rp_buf_append_str(b, value);
		}
	} else if (u->has_port) {
		rp_buf_append_byte(b, ':');
		rp_buf_append_u64(b, u->port);
	}
	rp_buf_append_str(b, part == -1 ? params : u->params);
	if (u->has_headers) {
		rp_buf_append_byte(b, '?');
		rp_buf_append_str(b, u->headers);
	}
}

static int op_set_uri(void *mv, enum cfg_uri_part part, rp_str value)
{
	struct req *r = mv;
	rp_buf b;
	int rc;

	if (part == CFG_UP_FULL)
		return set_ruri(r, value);
	if (r->ruri_p.scheme == SIP_SCHEME_TEL || r->ruri_p.scheme == SIP_SCHEME_OTHER)
		return -EINVAL;
	rp_buf_init(&b, 8192);
	put_uri(&b, &r->ruri_p, (int)part, value, RP_STR_NULL);
	rc = rp_buf_error(&b);
	if (rc == 0)
		rc = set_ruri(r, rp_buf_str(&b));
	rp_buf_free(&b);
	return rc;
}

static int op_set_uri_param(void *mv, rp_str name, rp_str value)
{
	struct req *r = mv;
	rp_str it = r->ruri_p.params, n, v;
	rp_buf ps, b;
	int rc;

	if (r->ruri_p.scheme == SIP_SCHEME_TEL || r->ruri_p.scheme == SIP_SCHEME_OTHER)
		return -EINVAL;
	rp_buf_init(&ps, 8192);
	while (sip_uri_param_next(&it, &n, &v)) {
		if (rp_str_caseeq(n, name))
			continue;
		rp_buf_append_byte(&ps, ';');
		rp_buf_append_str(&ps, n);
		if (v.n) {
			rp_buf_append_byte(&ps, '=');
			rp_buf_append_str(&ps, v);
		}
	}
	if (value.p) {
		rp_buf_append_byte(&ps, ';');
		rp_buf_append_str(&ps, name);
		if (value.n) {
			rp_buf_append_byte(&ps, '=');
			rp_buf_append_str(&ps, value);
		}
	}
	rp_buf_init(&b, 8192);
	put_uri(&b, &r->ruri_p, -1, RP_STR_NULL, rp_buf_str(&ps));
	rc = rp_buf_error(&ps) ? rp_buf_error(&ps) : rp_buf_error(&b);
	if (rc == 0)
		rc = set_ruri(r, rp_buf_str(&b));
	rp_buf_free(&b);
	rp_buf_free(&ps);
	return rc;
}

static int op_add_header(void *mv, rp_str name, rp_str value)
{
	struct req *r = mv;

	return sip_edit_add_header(r->e, SIP_EDIT_BOTTOM, 0, name, value) == SIP_OK ?
		0 : -EINVAL;
}

static int op_remove_header(void *mv, rp_str name)
{
	struct req *r = mv;
	long i = 0;

	while ((i = sip_msg_find_name(r->m, name, (size_t)i)) >= 0) {
		if (sip_edit_remove_header(r->e, (size_t)i) != SIP_OK)
			return -EINVAL;
		i++;
	}
	return 0;
}

static int op_record_route(void *mv)
{
	struct req *r = mv;

	r->rr = true;
	return 0;
}

/* Digest authentication (auth.h): 1 when the credentials are good, else
 * the challenge / refusal is sent and 0 returned. */
static int op_authenticate(void *mv, enum cfg_auth kind, rp_str realm)
{
	struct req *r = mv;
	bool reg = r->m->method == SIP_METHOD_REGISTER;
	bool proxy = kind == CFG_AUTH_PROXY || (kind == CFG_AUTH_AUTO && !reg);
	enum rp_auth_result res = RP_AUTH_NO_CREDENTIALS;
	struct rp_auth_info info = { 0 };
	char buf[2048];
	size_t n = 0;
	unsigned code;

	if (!realm.n)
		realm = rp_str_cstr(cfg_settings(r->cfg)->realm ?
			cfg_settings(r->cfg)->realm : "rampart");
	if (kind == CFG_AUTH_AUTO) {
		res = rp_auth_verify(r->core->auth, r->m, realm, proxy, r->cfg, r->now, &info);
		if (res == RP_AUTH_OK) {
			r->auth_user = info.user;
			return 1;
		}
		rp_info_rl("%.*s from %.*s: authentication failed (%s)", RP_STR_FMT(r->m->method_str),
			RP_STR_FMT(r->m->from.uri_str), rp_auth_result_name(res));
	}
	code = kind == CFG_AUTH_AUTO ? rp_auth_result_status(res, reg) : proxy ? 407 : 401;
	if (code == 401 || code == 407) {
		/* After NO_HASH offer only what the account has a HA1 for, or a UA
		 * that prefers the other algorithm is challenged forever. */
		unsigned algs = cfg_settings(r->cfg)->auth_algorithms;
		unsigned allowed = ((algs & CFG_AUTH_ALG_SHA256) ? RP_AUTH_OFFER_SHA256 : 0) |
			((algs & CFG_AUTH_ALG_MD5) ? RP_AUTH_OFFER_MD5 : 0);
		unsigned offer = res == RP_AUTH_NO_HASH ? info.offer & allowed : 0;

		/* auth_algorithms: some UAs (libre before 2.x: Debian 12's
		 * baresip) abandon the whole challenge when any header names an
		 * algorithm they lack, instead of using the one they know. */
		if (!offer)
			offer = allowed;

		if (rp_auth_challenge_offer(r->core->auth, realm, code == 407,
			rp_auth_result_stale(res), offer, r->now, buf, sizeof(buf), &n) < 0) {
			op_reply(r, 500, RP_STR_NULL, NULL, 0);
			return 0;
		}
	}
	reply_lines(r, code, kind == CFG_AUTH_AUTO && rp_auth_result_reason(res) ?
		rp_str_cstr(rp_auth_result_reason(res)) : RP_STR_NULL, buf, n);
	return 0;
}

static bool require_ok(const struct sip_msg *m, enum sip_hdr_id id, const char *known,
	rp_buf *unsup);

/* 420 through the transaction when Require names what we lack. */
static bool require_refused(struct req *r, const char *known)
{
	rp_buf u;
	bool refused = false;

	rp_buf_init(&u, 4096);
	if (!require_ok(r->m, SIP_HDR_REQUIRE, known, &u)) {
		rp_str h = rp_buf_str(&u);

		op_reply(r, 420, RP_STR_NULL, rp_buf_error(&u) ? NULL : &h,
			rp_buf_error(&u) ? 0 : 1);
		refused = true;
	}
	rp_buf_free(&u);
	return refused;
}

/* REGISTER (registrar.h): the binding keeps where the REGISTER came from,
 * so requests to a UA behind NAT go back to that address and flow. */
static int op_save(void *mv)
{
	struct req *r = mv;
	struct rp_reg_source src = { .tp = r->mi->tp, .addr = r->mi->peer };
	struct rp_reg_save_info info = { 0 };
	char buf[4096];
	enum rp_reg_result res;
	unsigned code;

	if (r->m->method != SIP_METHOD_REGISTER) {
		op_reply(r, 405, RP_STR_NULL, NULL, 0);
		return 0;
	}
	if (require_refused(r, "path"))
		return 0;
	if (r->auth_user)
		src.auth_user = rp_str_cstr(r->auth_user->name);
	res = rp_registrar_save(r->core->reg, r->m, &src, r->now, buf, sizeof(buf), &info);
	code = rp_reg_result_status(res);
	if (res == RP_REG_OK) {
		reply_lines(r, 200, RP_STR_NULL, buf, info.hdr_len);
	} else if (res == RP_REG_INTERVAL_TOO_BRIEF) {
		int k = snprintf(buf, sizeof(buf), "Min-Expires: %u\r\n", info.min_expires);

		reply_lines(r, code, RP_STR_NULL, buf, (size_t)k);
	} else {
		const char *why = info.reason ? info.reason : rp_reg_result_reason(res);

		rp_info_rl("REGISTER for %.*s refused: %u %s (at byte %zu)",
			RP_STR_FMT(r->m->to.uri_str), code, why, info.err_off);
		op_reply(r, code, rp_str_cstr(why), NULL, 0);
	}
	return 0;
}

static int op_lookup(void *mv)
{
	struct req *r = mv;
	struct rp_reg_list *l = NULL;
	int rc, found = 0;

	rc = rp_registrar_lookup(r->core->reg, &r->ruri_p, r->now, &l);
	if (rc < 0)
		return rc == -EINVAL ? 0 : rc;
	r->ftg = NULL;
	r->nftg = 0;
	if (l->count) {
		const struct rp_reg_contact *b = &l->v[0];
		unsigned maxb = cfg_settings(r->cfg)->max_branches;
		size_t n;

		if (!maxb || maxb > RP_FORK_MAX_BRANCHES)
			maxb = 8;
		n = l->count < maxb ? l->count : maxb;

		rc = set_ruri(r, rp_str_cstr(b->uri));
		if (rc == 0) {
			/* Send to where it registered from (NAT), over its flow. */
			memset(&r->dst, 0, sizeof(r->dst));
			r->dst.tp = b->tp;
			r->dst.addr = b->source;
			r->have_dst = true;
			r->lk_ruri = r->ruri;
			found = 1;
		}
		/* Several contacts: all of them (registrar order: best q first). */
		if (rc == 0 && n > 1 && (r->ftg = rp_arena_zalloc(r->a, n * sizeof(*r->ftg)))) {
			for (size_t i = 0; i < n; i++) {
				struct fork_tg *g = &r->ftg[r->nftg];
				const char *u = l->v[i].uri;

				g->uri.p = rp_arena_strndup(r->a, u, strlen(u));
				if (!g->uri.p)
					break;
				g->uri.n = strlen(u);
				g->q = l->v[i].q;
				g->d.tp = l->v[i].tp;
				g->d.addr = l->v[i].source;
				g->d.flow = g->d.tp != RP_TP_UDP;
				r->nftg++;
			}
		}
	}
	rp_reg_list_free(l);
	return rc < 0 ? rc : found;
}

static int op_set_media(void *mv, enum cfg_media_enc enc)
{
	struct req *r = mv;

	r->media = enc;
	return 0;
}

/* What 'route reply' may do (the config checker allows no more). */
static const struct cfg_ops resp_ops = {
	.method = op_method,
	.uri = op_uri,
	.uri_param = op_uri_param,
	.header = op_header,
	.source = op_source,
	.transport = op_transport,
	.status = op_status,
	.add_header = op_add_header,
	.remove_header = op_remove_header,
};

static const struct cfg_ops req_ops = {
	.method = op_method,
	.uri = op_uri,
	.uri_param = op_uri_param,
	.header = op_header,
	.source = op_source,
	.transport = op_transport,
	.tls_subject = op_tls_subject,
	.tls_san = op_tls_san,
	.status = op_status,
	.reply = op_reply,
	.relay = op_relay,
	.set_uri = op_set_uri,
	.set_uri_param = op_set_uri_param,
	.add_header = op_add_header,
	.remove_header = op_remove_header,
	.record_route = op_record_route,
	.authenticate = op_authenticate,
	.save = op_save,
	.lookup = op_lookup,
	.set_media = op_set_media,
};

/* ---- forwarding requests ---- */

static enum rp_tp tp_of_cfg(enum cfg_transport t)
{
	switch (t) {
	case CFG_TP_TCP: return RP_TP_TCP;
	case CFG_TP_TLS: return RP_TP_TLS;
	default: return RP_TP_UDP;
	}
}

/* ---- media (docs/media-policy.md "How the core calls it") ---- */

static enum rp_media_transport media_tp(enum rp_tp tp)
{
	switch (tp) {
	case RP_TP_TCP: return RP_MEDIA_TP_TCP;
	case RP_TP_TLS: return RP_MEDIA_TP_TLS;
	default: return RP_MEDIA_TP_UDP;
	}
}

static enum rp_media_side other_side(enum rp_media_side s)
{
	return s == RP_MEDIA_A ? RP_MEDIA_B : RP_MEDIA_A;
}

/* The SDP the media layer must see: the whole body when it is
 * application/sdp or has no Content-Type (never forwarded unread: it could
 * carry a peer's key), or the SDP part of a multipart body (a carrier's
 * SIP-I INVITE: SDP next to ISUP, RFC 3204 / RFC 5621). SIP_BODY_NO_SDP for
 * other bodies, which pass as they are; an error (sip_body.h) for a
 * multipart we cannot read, which must not pass unread either. */
static int body_sdp(const struct sip_msg *m, rp_str *sdp)
{
	if (!m->body.n)
		return SIP_BODY_NO_SDP;
	if (!m->h_content_type) {
		*sdp = m->body;
		return SIP_BODY_SDP;
	}
	return sip_body_find_sdp(m->h_content_type->value, m->body, sdp);
}

static bool has_sdp(const struct sip_msg *m)
{
	rp_str sdp;

	return body_sdp(m, &sdp) != SIP_BODY_NO_SDP;
}

/* The body to forward: m's body with its SDP slice replaced by nsdp (the
 * other parts of a multipart byte for byte). */
static int body_splice(const struct sip_msg *m, rp_str sdp, rp_str nsdp, rp_arena *a,
	rp_str *out)
{
	size_t pre = (size_t)(sdp.p - m->body.p), post = m->body.n - pre - sdp.n;
	char *p;

	if (!pre && !post) {
		*out = nsdp;
		return RP_MEDIA_OK;
	}
	p = rp_arena_alloc(a, pre + nsdp.n + post);
	if (!p)
		return RP_MEDIA_NOMEM;
	memcpy(p, m->body.p, pre);
	memcpy(p + pre, nsdp.p, nsdp.n);
	memcpy(p + pre + nsdp.n, sdp.p + sdp.n, post);
	*out = rp_str_make(p, pre + nsdp.n + post);
	return RP_MEDIA_OK;
}

/* Side A: the hop the INVITE came in on. Its trunk (by source address),
 * else the listener's default policy; TLS version/cipher of the flow. */
static void media_leg_in(struct req *r, struct rp_media_leg_cfg *l)
{
	const struct rp_msg_info *mi = r->mi;
	const struct cfg_trunk *t = cfg_trunk_by_source(r->cfg, &mi->peer.u.sa);
	rp_tls_sess *ts;

	rp_media_leg_cfg_init(l, media_tp(mi->tp));
	if (t) {
		rp_media_leg_cfg_trunk(l, t);
	} else {
		char lh[64];

		rp_addr_host(&mi->local, lh, sizeof(lh));
		for (size_t i = 0; i < cfg_listen_count(r->cfg); i++) {
			const struct cfg_listen *cl = cfg_listen_at(r->cfg, i);

			if (tp_of_cfg(cl->transport) == mi->tp &&
			    cl->port == rp_addr_port(&mi->local) &&
			    (!strcmp(cl->addr, lh) || !strcmp(cl->addr, "0.0.0.0") ||
			     !strcmp(cl->addr, "::")))
				rp_media_leg_cfg_override(l, cl->media);
		}
	}
	if (mi->tp == RP_TP_TLS && mi->conn && (ts = rp_conn_tls(mi->conn)) != NULL) {
		const char *v = rp_tls_sess_version(ts), *ci = rp_tls_sess_cipher(ts);

		snprintf(l->tls_version, sizeof(l->tls_version), "%s", v ? v : "");
		snprintf(l->tls_cipher, sizeof(l->tls_cipher), "%s", ci ? ci : "");
	}
}

/* Side B: the trunk relayed to (its policy, suites, insecure flag), the
 * transport really chosen, the script's set_media and sips:/secure=true. */
static void media_leg_out(struct req *r, enum rp_tp out_tp, struct rp_media_leg_cfg *l)
{
	rp_media_leg_cfg_init(l, media_tp(out_tp));
	if (r->trunk) {
		rp_media_leg_cfg_trunk(l, r->trunk);
	} else if (r->have_dst && r->dst.tp == out_tp) {
		/* A registered contact reached over the flow it registered on
		 * gets the policy it would have calling in on that listener:
		 * 'require' for TLS, so a phone that insists on SRTP (baresip's
		 * srtp-mand) is offered RTP/SAVP, not optimistic RTP/AVP. */
		for (size_t i = 0; i < cfg_listen_count(r->cfg); i++) {
			const struct cfg_listen *cl = cfg_listen_at(r->cfg, i);

			if (tp_of_cfg(cl->transport) == out_tp) {
				rp_media_leg_cfg_override(l, cl->media);
				break;
			}
		}
	}
	rp_media_leg_cfg_override(l, r->media);
	rp_media_leg_cfg_uri(l, r->ruri);
}

/* The call of an in-dialog message and the side its sender is on: the
 * caller's tag is the From tag of A's requests and the To tag of B's. */
static rp_media_call *media_find(rp_core *c, const struct sip_msg *m,
	enum rp_media_side *side)
{
	rp_media_call *mc = rp_media_calls_find(c->media, m->call_id, m->from.tag);

	*side = RP_MEDIA_A;
	if (!mc && m->to.tag.n) {
		mc = rp_media_calls_find(c->media, m->call_id, m->to.tag);
		*side = RP_MEDIA_B;
	}
	return mc;
}

/* Remembers the call's key in pc so any end path can remove it. */
static int media_keep_key(struct pctx *pc, rp_str cid, rp_str tag)
{
	pc->m_key = malloc(cid.n + tag.n + 2);
	if (!pc->m_key)
		return -ENOMEM;
	memcpy(pc->m_key, cid.p, cid.n);
	pc->m_key[cid.n] = 0;
	if (tag.n)
		memcpy(pc->m_key + cid.n + 1, tag.p, tag.n);
	pc->m_key[cid.n + 1 + tag.n] = 0;
	pc->m_cid_len = cid.n;
	pc->m_tag_len = tag.n;
	return 0;
}

/* The call's media out of the table and its mediad sessions deleted
 * (mc: also when it is not in the table; NULL: the table's only). One that
 * mediad did not delete (refused, no answer in time) is logged: it stays
 * until mediad's own timeout, and the operator should know why. */
static void media_end_call(rp_core *c, rp_media_call *mc, rp_str call_id, rp_str tag)
{
	int rc = rp_media_calls_remove(c->media, call_id, tag);

	if (rc == -ENOENT)
		rc = 0;
	if (mc) {
		int r2 = rp_media_end(mc);   /* idempotent: 0 if the table's did it */

		if (rc == 0)
			rc = r2;
	}
	if (rc < 0)
		rp_warn_rl("call %.*s: mediad session not deleted (%s): it stays until mediad's "
			"delete timeout", RP_STR_FMT(call_id), strerror(-rc));
}

/* rp_media_end through the table (mediad's sessions go now, the memory
 * with the last reference): the dialog-creating INVITE failed or was
 * cancelled. */
static void media_end(rp_core *c, struct pctx *pc)
{
	if (!c->media || !pc->mc || !pc->m_initial || !pc->m_key)
		return;
	media_end_call(c, pc->mc, rp_str_make(pc->m_key, pc->m_cid_len),
		rp_str_make(pc->m_key + pc->m_cid_len + 1, pc->m_tag_len));
}

/* An offer (answer=false) or answer from 'from'; logs why it failed. */
/* How media_sdp takes a body: an offer, an answer, or an answer that may
 * be an offer (a 2xx relayed without a transaction: the answer to the
 * INVITE's offer, or a late offer). */
enum sdp_role { SDP_OFFER, SDP_ANSWER, SDP_ANSWER_OR_OFFER };

/* The offer/answer step for m's SDP (the body, or its SDP part: the other
 * parts are kept); *nb is the body to forward. */
static int media_sdp(rp_media_call *mc, enum rp_media_side from, enum sdp_role role,
	rp_str to_tag, rp_arena *a, rp_str *nb, const struct sip_msg *m)
{
	rp_str sdp = RP_STR_NULL, nsdp = RP_STR_NULL;
	int br = body_sdp(m, &sdp), rc;

	if (br < 0) {
		rp_notice_rl("call %.*s: SDP from side %c not accepted: %s",
			RP_STR_FMT(m->call_id), from == RP_MEDIA_A ? 'A' : 'B',
			sip_body_strerror(br));
		return RP_MEDIA_BAD_SDP;
	}
	if (role == SDP_OFFER) {
		rc = rp_media_offer(mc, from, sdp, a, &nsdp);
	} else {
		rc = rp_media_answer(mc, from, to_tag, sdp, a, &nsdp);
		if (rc == RP_MEDIA_STATE && role == SDP_ANSWER_OR_OFFER) {
			role = SDP_OFFER;
			rc = rp_media_offer(mc, from, sdp, a, &nsdp);
		}
	}
	if (rc == RP_MEDIA_RELAY)
		rp_warn_rl("call %.*s: media relay (rampart-mediad) unavailable: %s",
			RP_STR_FMT(m->call_id), rp_media_last_error(mc));
	else if (rc != RP_MEDIA_OK && role != SDP_ANSWER_OR_OFFER)
		rp_notice_rl("call %.*s: SDP %s from side %c not accepted: %s",
			RP_STR_FMT(m->call_id), role == SDP_ANSWER ? "answer" : "offer",
			from == RP_MEDIA_A ? 'A' : 'B', rp_media_last_error(mc));
	if (rc == RP_MEDIA_OK)
		rc = body_splice(m, sdp, nsdp, a, nb);
	return rc;
}

/* The call of an initial INVITE, in the table (a retransmission through
 * another transaction finds the existing one). */
static int media_create(rp_core *c, struct pctx *pc, rp_str cid, rp_str tag,
	const struct rp_media_leg_cfg *la, const struct rp_media_leg_cfg *lb)
{
	int rc = rp_media_calls_add(c->media, cid, tag, la, lb, &pc->mc);

	if (rc == 0 && pc->call)
		rp_call_set_media(pc->call, pc->mc);
	if (rc == -EEXIST)
		rc = 0;
	if (rc == 0 && media_keep_key(pc, cid, tag) < 0)
		rc = -ENOMEM;
	if (rc < 0)
		pc->mc = rp_media_call_free(pc->mc);
	return rc;
}

/* The media step of a request about to be relayed (do_relay): creates the
 * call on an initial INVITE, finds it for in-dialog requests, rewrites an
 * SDP body into r->new_body, ends the call on BYE. 0, or the status to
 * reply with (488 with Reason, 503, 500): the request is not forwarded. */
static unsigned media_request(struct req *r, enum rp_tp out_tp)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	const struct sip_msg *m = r->m;
	enum sip_method meth = m->method;
	struct rp_media_leg_cfg la, lb;
	bool sdp = has_sdp(m), answer = false;
	int rc;

	if (!c->media)
		return 0;
	if (!pc->mc) {
		if (meth == SIP_METHOD_INVITE && !m->to.tag.n) {
			if (pc->m_pending) {
				/* route failure relayed elsewhere: B is a new hop. */
				media_leg_out(r, out_tp, &pc->m_legs[1]);
				return 0;
			}
			media_leg_in(r, &la);
			media_leg_out(r, out_tp, &lb);
			pc->mside = RP_MEDIA_A;
			pc->m_initial = true;
			if (!sdp) {
				pc->m_legs = malloc(2 * sizeof(*pc->m_legs));
				if (!pc->m_legs)
					return 500;
				pc->m_legs[0] = la;
				pc->m_legs[1] = lb;
				pc->m_pending = true;
				return 0;
			}
			if (media_create(c, pc, m->call_id, m->from.tag, &la, &lb) < 0)
				return 500;
		} else if (m->to.tag.n && meth != SIP_METHOD_CANCEL) {
			pc->mc = media_find(c, m, &pc->mside);
		}
		if (!pc->mc)
			return 0;
	} else if (pc->m_initial) {
		/* route failure relayed elsewhere: B is a new hop. */
		media_leg_out(r, out_tp, &lb);
		rp_media_call_set_leg(pc->mc, RP_MEDIA_B, &lb);
	}
	if (meth == SIP_METHOD_BYE) {
		rp_str tag = pc->mside == RP_MEDIA_A ? m->from.tag : m->to.tag;

		media_end_call(c, pc->mc, m->call_id, tag);
		return 0;
	}
	if (!sdp || (meth != SIP_METHOD_INVITE && meth != SIP_METHOD_UPDATE &&
		     meth != SIP_METHOD_PRACK))
		return 0;
	if (meth == SIP_METHOD_PRACK) {
		/* The answer to an offer in a reliable 18x, or a new offer. */
		struct rp_media_info inf;

		rp_media_call_info(pc->mc, &inf);
		answer = inf.state == (pc->mside == RP_MEDIA_A ? RP_MEDIA_ST_OFFER_FROM_B :
			RP_MEDIA_ST_OFFER_FROM_A);
	}
	pc->m_req_sdp = true;
	rc = media_sdp(pc->mc, pc->mside, answer ? SDP_ANSWER : SDP_OFFER, RP_STR_NULL, r->a,
		&r->new_body, m);
	pc->m_rc = rc;
	switch (rc) {
	case RP_MEDIA_OK:
		r->set_body = true;
		return 0;
	case RP_MEDIA_REFUSE:
	case RP_MEDIA_BAD_SDP:
		return 488;
	case RP_MEDIA_RELAY:
		return 503;
	default:
		return 500;
	}
}

/* The media step of a response relayed by its server transaction (18x,
 * 2xx): the answer to the request's offer, or a late offer in an INVITE's
 * 2xx. Rewrites the body in 'e'; false when it must not be forwarded. */
static bool media_response(rp_core *c, struct pctx *pc, const struct sip_msg *resp,
	struct sip_edit *e, rp_arena *a)
{
	enum rp_media_side from = other_side(pc->mside);
	rp_str nb = RP_STR_NULL;
	int rc;

	if (!c->media || !has_sdp(resp) || resp->status < 180 ||
	    (pc->method != SIP_METHOD_INVITE && pc->method != SIP_METHOD_UPDATE &&
	     pc->method != SIP_METHOD_PRACK))
		return true;
	if (!pc->mc && pc->m_pending) {
		/* Late offer: the call starts with the first SDP. */
		if (media_create(c, pc, resp->call_id, resp->from.tag, &pc->m_legs[0],
		    &pc->m_legs[1]) < 0)
			return false;
		pc->m_pending = false;
		free(pc->m_legs);
		pc->m_legs = NULL;
	}
	if (!pc->mc)
		return true;
	if (pc->m_req_sdp)
		rc = media_sdp(pc->mc, from, SDP_ANSWER, resp->to.tag, a, &nb, resp);
	else if (pc->method == SIP_METHOD_INVITE)
		rc = media_sdp(pc->mc, from, SDP_OFFER, RP_STR_NULL, a, &nb, resp);
	else
		rc = media_sdp(pc->mc, from, SDP_ANSWER, resp->to.tag, a, &nb, resp);
	if (rc != RP_MEDIA_OK)
		return false;
	return sip_edit_set_body(e, nb) == SIP_OK;
}

/* A message forwarded without a transaction (ACK of a 2xx, 2xx
 * retransmission): same offer/answer step, found by the dialog. The same
 * body again gives the same rewritten body (media.h). */
static bool media_stateless(rp_core *c, const struct sip_msg *m, struct sip_edit *e,
	rp_arena *a)
{
	enum rp_media_side side;
	rp_media_call *mc;
	rp_str nb = RP_STR_NULL;
	int rc;

	if (!c->media || !has_sdp(m))
		return true;
	mc = media_find(c, m, &side);
	if (!mc) {
		/* Nobody to rewrite it for: never pass a peer's SDP (its key)
		 * through unread. */
		rp_info_rl("%.*s with SDP for unknown call %.*s: not forwarded",
			RP_STR_FMT(m->is_request ? m->method_str : m->cseq.method_str),
			RP_STR_FMT(m->call_id));
		return false;
	}
	if (m->is_request) {
		rc = media_sdp(mc, side, SDP_ANSWER, RP_STR_NULL, a, &nb, m);
	} else {
		/* side is the requester's; the response comes from the other. */
		rc = media_sdp(mc, other_side(side), SDP_ANSWER_OR_OFFER, m->to.tag, a, &nb, m);
	}
	rp_media_call_free(mc);
	return rc == RP_MEDIA_OK && sip_edit_set_body(e, nb) == SIP_OK;
}

/* ---- calls (calls.h: registry, CDRs, drop) ---- */

/* TLS version / cipher of a stream's connection, and the subject of a
 * verified peer certificate (NULL mi or not TLS: all empty). */
static void call_tls(const struct rp_msg_info *mi, const struct rp_tls_peer *vp,
	struct rp_call_sig *sg)
{
	rp_tls_sess *ts;

	if (!mi || mi->tp != RP_TP_TLS || !mi->conn || !(ts = rp_conn_tls(mi->conn)))
		return;
	sg->tls_version = rp_str_cstr(rp_tls_sess_version(ts) ? rp_tls_sess_version(ts) : "");
	sg->tls_cipher = rp_str_cstr(rp_tls_sess_cipher(ts) ? rp_tls_sess_cipher(ts) : "");
	if (vp && vp->subject)
		sg->cert_subject = rp_str_cstr(vp->subject);
}

/* The Record-Route header values of m joined with ", ", as received (no
 * parsing on the call path: only a BYE of ours reads them). */
static rp_str rr_raw(const struct sip_msg *m, rp_arena *a)
{
	size_t len = 0, off = 0;
	char *d;

	for (size_t i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].id == SIP_HDR_RECORD_ROUTE)
			len += m->hdrs[i].value.n + 2;
	if (!len || !(d = rp_arena_alloc(a, len)))
		return RP_STR_NULL;
	for (size_t i = 0; i < m->nhdrs; i++) {
		rp_str v = m->hdrs[i].value;

		if (m->hdrs[i].id != SIP_HDR_RECORD_ROUTE)
			continue;
		if (off) {
			d[off++] = ',';
			d[off++] = ' ';
		}
		memcpy(d + off, v.p, v.n);
		off += v.n;
	}
	return rp_str_make(d, off);
}

/* Route toward the callee from its 2xx's Record-Route list: the values
 * above ours (downstream of us), nearest first (reversed), into b. More
 * than ROUTE_BELOW_MAX of them is -E2BIG: a BYE with part of its route
 * would go to the wrong hop (the list used to be cut at 16, silently). */
#define ROUTE_BELOW_MAX 64
static int route_below(rp_core *c, const struct cfg *cfg, rp_str rr, rp_buf *b)
{
	rp_str it = rr, e, v[ROUTE_BELOW_MAX];
	unsigned n = 0;
	struct sip_nameaddr na;

	while (sip_hdr_list_next(&it, &e)) {
		if (!e.n || sip_nameaddr_parse(e, &na, NULL) != SIP_OK)
			continue;
		if (uri_is_us(c, cfg, &na.uri, false))
			break;
		if (n == ROUTE_BELOW_MAX)
			return -E2BIG;
		v[n++] = e;
	}
	for (unsigned i = n; i-- > 0;) {
		rp_buf_append_str(b, v[i]);
		if (i)
			rp_buf_append_cstr(b, ", ");
	}
	return 0;
}

/* The Contact value as received: parsed only if a BYE of ours needs it. */
static rp_str contact_raw(const struct sip_msg *m)
{
	return m->h_contact ? m->h_contact->value : RP_STR_NULL;
}

/* The live call an in-dialog request belongs to, and the side it came
 * from (the caller's tag is A's From tag and B's To tag). */
static rp_call *call_find(rp_core *c, const struct sip_msg *m, enum rp_call_side *side)
{
	rp_call *call = rp_calls_find(c->calls, m->call_id, m->from.tag);

	*side = RP_CALL_A;
	if (!call && m->to.tag.n) {
		call = rp_calls_find(c->calls, m->call_id, m->to.tag);
		*side = RP_CALL_B;
	}
	return call;
}

/* A request about to be relayed: an initial INVITE starts a call; BYE
 * ends one; any other in-dialog request moves its side's CSeq. */
static void call_request(struct req *r)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	const struct sip_msg *m = r->m;
	const struct rp_msg_info *mi = r->mi;

	if (m->method == SIP_METHOD_INVITE && !m->to.tag.n) {
		struct rp_call_start st = {
			.call_id = m->call_id, .from_tag = m->from.tag,
			.from_hdr = m->h_from ? m->h_from->value : RP_STR_NULL,
			.to_hdr = m->h_to ? m->h_to->value : RP_STR_NULL,
			.from_uri = m->from.uri_str, .to_uri = m->to.uri_str,
			.contact_a = contact_raw(m),
			.route_a = rr_raw(m, r->a),
			.cseq = m->cseq.num,
			.a = { .tp = mi->tp, .peer = mi->peer },
			.dest_a = { .tp = mi->tp, .addr = mi->peer, .flow = mi->tp != RP_TP_UDP },
			.local = mi->local,
			.now_ms = r->now,
		};
		const struct cfg_trunk *t;

		if (pc->call)
			return;   /* route failure relaying again: the same call */
		call_tls(mi, verified_peer(r), &st.a);
		t = cfg_trunk_by_source(r->cfg, &mi->peer.u.sa);
		if (t && t->name)
			st.trunk = rp_str_cstr(t->name);
		if (rp_calls_start(c->calls, &st, &pc->call) < 0 && !pc->call)
			rp_warn_rl("call %.*s: not in the call registry (out of memory)",
				RP_STR_FMT(m->call_id));
		if (pc->call)
			rp_call_set_owner(pc->call, r->stx);
		return;
	}
	/* A BYE ends the call in call_bye(), once it has somewhere to go. */
	if (m->to.tag.n && m->method != SIP_METHOD_CANCEL && m->method != SIP_METHOD_ACK &&
	    m->method != SIP_METHOD_BYE) {
		enum rp_call_side side;
		rp_call *call = call_find(c, m, &side);

		if (!call)
			return;
		rp_call_saw_cseq(call, side, m->cseq.num);
		rp_call_put(call);
	}
}

/* A BYE in a dialog whose targets are known: the call ends here, where its
 * media goes (media_request). Ended before targets() had a destination, a
 * BYE answered 404 (a Route of urn:service:sos) took the call out of the
 * registry while the dialog and its mediad session went on, owned by no
 * call (found by sipfuzz.py). */
static void call_bye(struct req *r)
{
	const struct sip_msg *m = r->m;
	enum rp_call_side side;
	rp_call *call;

	if (m->method != SIP_METHOD_BYE || !m->to.tag.n)
		return;
	call = call_find(r->core, m, &side);
	if (!call)
		return;
	rp_calls_end(r->core->calls, call, 0, side == RP_CALL_A ? "caller-bye" : "callee-bye");
	rp_call_put(call);
}

/* The targets are known: B is the first of them (until a 2xx says which). */
static void call_target(struct req *r)
{
	struct pctx *pc = r->pc;
	struct rp_call_sig b = { 0 };

	if (!pc->call || !pc->ntg)
		return;
	pc->call_rr = r->rr;
	b.tp = pc->tg[0].d.tp;
	b.peer = pc->tg[0].d.addr;
	rp_call_set_b(pc->call, &b, &pc->tg[0].d,
		rp_str_cstr(r->trunk && r->trunk->name ? r->trunk->name : ""));
}

/* A 2xx to the initial INVITE went to the caller: the callee's dialog
 * (To tag, Contact, the Record-Route values below us, reversed: nearest
 * first) and the branch that answered. */
static void call_answered(rp_core *c, struct pctx *pc, const struct sip_msg *resp,
	rp_txn_cli *cl, rp_arena *a)
{
	const struct rp_txn_dest *d = cl ? rp_txn_cli_dest(cl) : NULL;
	struct rp_call_sig b = { 0 };

	if (resp->status >= 300)
		return;
	if (d) {
		const struct rp_tls_peer *sp = NULL;
		rp_tls_sess *ts;

		b.tp = d->tp;
		b.peer = d->addr;
		/* Our TLS client always verifies the server, and a listener asks
		 * for a client certificate only to verify it: a certificate
		 * present on the 2xx's connection is a verified one. */
		if (cur_mi && cur_mi->tp == RP_TP_TLS && cur_mi->conn &&
		    (ts = rp_conn_tls(cur_mi->conn)) != NULL)
			sp = rp_tls_sess_peer(ts);
		call_tls(cur_mi, sp && sp->present ? sp : NULL, &b);
		rp_call_set_b(pc->call, &b, d, RP_STR_NULL);
	}
	rp_call_answered(pc->call, resp->status, resp->h_to ? resp->h_to->value : RP_STR_NULL,
		contact_raw(resp), rr_raw(resp, a));
	/* Without our Record-Route the dialog's BYE bypasses us: the record
	 * would stay forever, so the CDR is written now and says why. */
	if (!pc->call_rr)
		rp_calls_end(c->calls, pc->call, 0, "answered-not-record-routed");
}

/* The initial INVITE got a final failure: the call ends with it. */
static void call_failed(rp_core *c, struct pctx *pc, unsigned code)
{
	char why[32];

	if (!pc->call)
		return;
	if (pc->cancelled)
		snprintf(why, sizeof(why), "cancel");
	else if (code == 408 && pc->best_code == 408 && !pc->best)
		snprintf(why, sizeof(why), "timeout");   /* nobody answered at all */
	else
		snprintf(why, sizeof(why), "rejected-%u", code);
	rp_calls_end(c->calls, pc->call, code, why);
}

/* call_send_bye()'s work; info (isz bytes) takes the dialog's strings. */
static int call_send_bye_in(rp_core *c, rp_call *call, enum rp_call_side to, const char *why,
	char *info, size_t isz)
{
	struct rp_call_bye bi;
	struct sip_nameaddr contact;
	struct rp_msg_info mi = { .udp_fd = -1 };
	char br[RP_TXN_BRANCH_LEN];
	rp_addr lout;
	unsigned shard;
	rp_txn_cli *cl;
	rp_buf b;
	int rc = rp_call_bye_info(call, to, info, isz, &bi);

	if (rc < 0)
		return rc;
	if (sip_nameaddr_parse(rp_str_cstr(bi.ruri), &contact, NULL) != SIP_OK)
		return -EBADMSG;   /* no usable Contact: nowhere to send the BYE */
	if (to == RP_CALL_B) {
		/* A trunk's challenge made us send the INVITE with a higher
		 * CSeq than the caller's (trunk.h): the callee counts from it. */
		char st[1024];
		rp_arena a;
		struct rp_trunk_dlg dl;

		rp_arena_init(&a, st, sizeof(st), 1u << 16);
		if (rp_trunk_dlg_get(c->tdlg, rp_str_cstr(bi.call_id), rp_str_cstr(bi.caller_tag),
			rp_now_ms(), &a, &dl))
			bi.cseq += dl.delta;
		rp_arena_fini(&a);
	}
	mi.local = bi.local;
	if (local_for(c, bi.dest.tp, bi.dest.addr.u.sa.sa_family, &mi, &lout) < 0)
		return -EHOSTUNREACH;
	shard = rp_txn_shard_of(c->txl, rp_str_cstr(bi.call_id));
	/* As large as any message we relay (its Contact and Route came in
	 * one); a larger one is -EMSGSIZE. */
	rp_buf_init(&b, BYE_MAX);
	rp_txn_lock(c->txl, shard);
	rc = rp_txn_branch(c->txl, shard, 0, br);
	if (rc == 0) {
		rp_buf_append_cstr(&b, "BYE ");
		rp_buf_append_str(&b, contact.uri_str);
		rp_buf_append_cstr(&b, " SIP/2.0\r\nVia: ");
		rp_sipout_via(&b, bi.dest.tp, &lout, rp_str_make(br, sizeof(br)));
		rp_buf_append_cstr(&b, "\r\nMax-Forwards: 70\r\n");
		if (bi.route[0]) {
			struct cfg *cfg = cfg_holder_get(&c->holder);
			rp_buf rt;

			rp_buf_init(&rt, BYE_MAX);
			if (to == RP_CALL_A)
				rp_buf_append_cstr(&rt, bi.route);
			else if (cfg)
				rc = route_below(c, cfg, rp_str_cstr(bi.route), &rt);
			cfg_put(cfg);
			if (rc == 0)   /* never a BYE with part of its route */
				rc = rp_buf_error(&rt);
			if (rc == 0 && rt.len) {   /* nothing below us: no Route header */
				rp_buf_append_cstr(&b, "Route: ");
				rp_buf_append_str(&b, rp_buf_str(&rt));
				rp_buf_append_cstr(&b, "\r\n");
			}
			rp_buf_free(&rt);
		}
		rp_buf_printf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u BYE\r\n"
			"Reason: SIP;cause=200;text=\"%s\"\r\nContent-Length: 0\r\n\r\n",
			bi.from, bi.to, bi.call_id, (unsigned)bi.cseq, why);
		if (rc == 0)
			rc = rp_buf_error(&b);
	}
	if (rc == 0)
		rc = rp_txn_cli_new(c->txl, shard, NULL, SIP_METHOD_BYE,
			rp_str_make(br, sizeof(br)), &bi.dest, b.p, b.len, 0, rp_now_ms(), &cl);
	rp_txn_unlock(c->txl, shard);
	rp_buf_free(&b);
	if (rc == 0)
		rp_call_saw_cseq(call, to == RP_CALL_A ? RP_CALL_B : RP_CALL_A, bi.cseq);
	return rc;
}

/* One BYE toward 'to', on a client transaction of its own (its answer is
 * absorbed by cli_event: no parent). 0 or why none went: -EMSGSIZE (over
 * BYE_MAX), -EBADMSG (no usable Contact), -EHOSTUNREACH, -ENOMEM ... */
static int call_send_bye(rp_core *c, rp_call *call, enum rp_call_side to, const char *why)
{
	size_t isz = rp_call_bye_info_size(call, to);
	char *info;
	int rc;

	if (!isz)
		return -ENOENT;
	/* Sized to fit: a 40 KB Contact accepted on the INVITE did not fit
	 * 8 KB, and the operator's drop sent no BYE to that side. */
	info = malloc(isz);
	if (!info)
		return -ENOMEM;
	rc = call_send_bye_in(c, call, to, why, info, isz);
	free(info);
	return rc;
}

static void send_cancel(rp_core *c, rp_txn_cli *cl, const char *reason, uint64_t now);
static void fork_cancel_all(rp_core *c, rp_txn_srv *s, struct pctx *pc, const char *reason,
	uint64_t now);

/* A call still being set up, ended from the proxy as if the caller had
 * sent CANCEL: CANCEL to the callee's branch (at once if it answered
 * provisionally, else at its first provisional response), 487 to the
 * caller (relayed from the callee, or ours when no branch is up), CDR,
 * media. -EAGAIN when it got its final response meanwhile. */
static int call_cancel(rp_core *c, rp_call *call, const char *why)
{
	struct rp_call_bye bi;
	unsigned shard;
	rp_txn_srv *s;
	int rc = 0;
	/* Only the Call-ID is wanted here (it picks the transaction shard);
	 * sized to fit, a long Call-ID is legal. */
	char *buf = malloc(rp_call_ids_size(call));

	if (!buf)
		return -ENOMEM;
	if (rp_call_ids(call, buf, rp_call_ids_size(call), &bi) < 0) {
		free(buf);
		return -ENOSPC;
	}
	shard = rp_txn_shard_of(c->txl, rp_str_cstr(bi.call_id));
	free(buf);
	rp_txn_lock(c->txl, shard);
	s = rp_call_owner(call);
	if (!s || rp_txn_srv_final(s) || ((struct pctx *)rp_txn_srv_user(s))->cancelled) {
		rc = -EAGAIN;
	} else {
		struct pctx *pc = rp_txn_srv_user(s);

		pc->cancelled = true;
		rp_calls_end(c->calls, call, 487, why);
		media_end(c, pc);
		if (pc->fork) {
			fork_cancel_all(c, s, pc, NULL, rp_now_ms());
		} else if (pc->cur) {
			if (rp_txn_cli_state(pc->cur) == RP_TXN_PROCEEDING)
				send_cancel(c, pc->cur, NULL, rp_now_ms());
		} else {
			reply_txn(c, s, 487, RP_STR_NULL, NULL, 0, rp_now_ms());
		}
	}
	rp_txn_unlock(c->txl, shard);
	if (rc == 0)
		rp_notice("call %" PRIu64 " cancelled by the proxy (%s)", rp_call_id(call), why);
	return rc;
}

/* Ends an answered call from the proxy: BYE to both sides, the CDR, then
 * the media. A BYE that cannot go out does not keep the call: it ends here
 * anyway (that side is told nothing; bye_rc says why, and the log). */
static int call_drop(rp_core *c, rp_call *call, const char *why, int bye_rc[2])
{
	struct rp_call_bye bi;
	char *key;
	int rc[2];

	if (!call)
		return -ENOENT;
	if (rp_call_ended(call))
		return -ENOENT;
	if (!rp_call_answered_p(call) && call_cancel(c, call, why) == 0)
		return 0;
	if (!rp_call_answered_p(call))
		return -EAGAIN;
	rc[RP_CALL_A] = call_send_bye(c, call, RP_CALL_A, why);
	rc[RP_CALL_B] = call_send_bye(c, call, RP_CALL_B, why);
	for (int i = 0; i < 2; i++)
		if (rc[i] < 0)
			rp_warn("call %" PRIu64 ": no BYE sent to the %s (%s): the call ends "
				"without it", rp_call_id(call), i == RP_CALL_A ? "caller" : "callee",
				strerror(-rc[i]));
	/* CDR first: it asks mediad for the counters of the session. */
	if (!rp_calls_end(c->calls, call, 0, why))
		return -ENOENT;
	/* Only the ids, in a buffer that fits them: the whole BYE info of
	 * a caller with a 40 KB Contact did not fit 1 KB, and the mediad
	 * session was left behind with no call (found by sipfuzz.py). */
	key = malloc(rp_call_ids_size(call));
	if (key && rp_call_ids(call, key, rp_call_ids_size(call), &bi) == 0) {
		if (c->media)
			media_end_call(c, NULL, rp_str_cstr(bi.call_id),
				rp_str_cstr(bi.caller_tag));
		rp_trunk_dlg_del(c->tdlg, rp_str_cstr(bi.call_id), rp_str_cstr(bi.caller_tag));
	} else {
		rp_err("call %" PRIu64 ": media not released: out of memory", rp_call_id(call));
	}
	free(key);
	rp_notice("call %" PRIu64 " ended by the proxy (%s): BYE %s", rp_call_id(call), why,
		rc[0] == 0 && rc[1] == 0 ? "sent to both sides" :
		rc[0] == 0 ? "sent to the caller only" :
		rc[1] == 0 ? "sent to the callee only" : "sent to neither side");
	if (bye_rc) {
		bye_rc[RP_CALL_A] = rc[RP_CALL_A];
		bye_rc[RP_CALL_B] = rc[RP_CALL_B];
	}
	return 0;
}

int rp_core_call_drop(rp_core *c, uint64_t id, const char *why, int bye_rc[2])
{
	rp_call *call = rp_calls_find_id(c->calls, id);
	int rc;

	if (bye_rc)
		bye_rc[0] = bye_rc[1] = 1;   /* no BYE due (a cancel) */
	rc = call_drop(c, call, why, bye_rc);
	rp_call_put(call);
	return rc;
}

int rp_core_call_drop_session(rp_core *c, uint64_t session, const char *why)
{
	rp_call *call = rp_calls_find_session(c->calls, session);
	int rc = call_drop(c, call, why, NULL);

	rp_call_put(call);
	return rc;
}

rp_calls *rp_core_calls(rp_core *c)
{
	return c->calls;
}

/* The client TLS context of a TLS trunk with settings of its own. */
static struct rp_tls_store *trunk_tls(rp_core *c, const struct cfg_trunk *t, enum rp_tp tp)
{
	if (tp != RP_TP_TLS || !t->own_tls || !c->trunk_tls || !t->name)
		return NULL;
	return c->trunk_tls(c->trunk_tls_arg, t->name);
}

/* Target i (< MAX_TARGETS) to fill, NULL when memory is short. */
static struct target *tg_at(struct pctx *pc, unsigned i)
{
	struct target *t;

	if (i == 0 || pc->tg != &pc->tg1)
		return &pc->tg[i];
	t = calloc(MAX_TARGETS, sizeof(*t));
	if (!t)
		return NULL;
	t[0] = pc->tg1;
	if (t[0].d.tls_domain == pc->tg1.host)
		t[0].d.tls_domain = t[0].host;
	pc->tg = t;
	return &t[i];
}

/* pc->tg from a located Request-URI/Route host: tg[0] holds the transport
 * and the TLS name; only addresses of family 'fam' (0: any) are kept.
 * Returns how many. */
static unsigned uri_targets(struct pctx *pc, const struct rp_dns_result *res, sa_family_t fam)
{
	struct rp_dns_target dt[RP_DNS_MAX_TARGETS];
	struct target g0 = pc->tg[0];
	unsigned n = 0;
	static _Thread_local uint64_t ctr;

	if (res->status < 0)
		return 0;
	memcpy(dt, res->t, res->n * sizeof(dt[0]));
	rp_dns_order(dt, res->n, (uint64_t)(uintptr_t)pc ^ (++ctr * 0x9e3779b97f4a7c15ull));
	for (unsigned i = 0; i < res->n && n < MAX_TARGETS; i++) {
		struct target *g;

		if (fam && dt[i].addr.u.sa.sa_family != fam)
			continue;
		if (!(g = tg_at(pc, n)))
			break;
		*g = g0;
		g->d.addr = dt[i].addr;
		g->d.tls_domain = g->host;
		g->d.tls_store = NULL;
		g->d.flow = false;
		n++;
	}
	pc->ntg = n;
	pc->next = 0;
	return n;
}

/* The address family to send a located name's request in: IPv4 when it
 * has IPv4 addresses and we can send tp that way, else IPv6 likewise;
 * with no listener for any of its families, the family it has (the
 * caller then says which listener is missing). One family per request:
 * the Via and Record-Route are written for it, so failover never crosses
 * to the other. */
static sa_family_t uri_family(rp_core *c, enum rp_tp tp, const struct rp_dns_result *res,
	const struct rp_msg_info *mi)
{
	bool has4 = false, has6 = false;
	rp_addr l;

	for (unsigned i = 0; i < res->n; i++) {
		has4 |= res->t[i].addr.u.sa.sa_family == AF_INET;
		has6 |= res->t[i].addr.u.sa.sa_family == AF_INET6;
	}
	if (has4 && local_for(c, tp, AF_INET, mi, &l) == 0)
		return AF_INET;
	if (has6 && local_for(c, tp, AF_INET6, mi, &l) == 0)
		return AF_INET6;
	return has4 ? AF_INET : AF_INET6;
}

/* Randomness for the SRV weights of one request: cheap, per thread. */
static uint64_t req_seed(struct req *r)
{
	static _Thread_local uint64_t ctr;

	return (uint64_t)(uintptr_t)r->pc ^ (++ctr * 0x9e3779b97f4a7c15ull) ^ r->now;
}

/* Which open connection a request routed by its Request-URI or Route set
 * may ride (proxy/conn.h): in a dialog, the one to that address whichever
 * it is (the dialog's own, as a rule); out of a dialog, a UA's own
 * connection or one opened with the global settings for that host. */
static unsigned char uri_reuse(const struct sip_msg *m)
{
	return m->to.tag.n ? RP_REUSE_ANY : RP_REUSE_OR_FLOW;
}

/* Fills pc->tg from the trunk or the Route set / Request-URI. */
static int targets(struct req *r)
{
	struct pctx *pc = r->pc;

	pc->ntg = pc->next = 0;
	if (r->trunk) {
		const struct cfg_trunk *t = r->trunk;
		enum rp_tp tp = tp_of_cfg(t->transport);
		struct rp_tls_store *ts = trunk_tls(r->core, t, tp);

		for (unsigned i = 0; i < t->naddrs && pc->ntg < MAX_TARGETS; i++) {
			struct target *g = tg_at(pc, pc->ntg);
			uint16_t port = t->addrs[i].port ? t->addrs[i].port :
				(tp == RP_TP_TLS ? 5061 : 5060);

			if (!g)
				break;
			g->d.tp = tp;
			g->d.tls_store = ts;
			g->d.reuse = RP_REUSE_SAME_TLS;
			g->d.tls_domain = t->tls.server_name ? t->tls.server_name :
				t->addrs[i].host;
			if (rp_addr_parse(t->addrs[i].host, port, &g->d.addr) == 0) {
				pc->ntg++;
				continue;
			}
			/* A name: every address it was located at, SRV priorities
			 * in order and weights drawn for this request (RFC 2782). */
			struct rp_dns_target dt[RP_DNS_MAX_TARGETS];
			struct dns_ent *de;
			unsigned nd = 0;
			char kb[300];

			pthread_rwlock_rdlock(&r->core->dns_mu);
			de = rp_hash_find(r->core->dns, dns_key(tp, t->addrs[i].port,
				t->addrs[i].host, kb));
			if (de) {
				nd = de->n;
				memcpy(dt, de->t, nd * sizeof(dt[0]));
			}
			pthread_rwlock_unlock(&r->core->dns_mu);
			if (!nd) {
				rp_warn_rl("trunk %s: %s did not resolve; skipped", t->name,
					t->addrs[i].host);
				continue;
			}
			rp_dns_order(dt, nd, req_seed(r));
			for (unsigned k = 0; k < nd && pc->ntg < MAX_TARGETS; k++) {
				if (!(g = tg_at(pc, pc->ntg)))
					break;
				pc->ntg++;
				g->d.tp = tp;
				g->d.tls_store = ts;
				g->d.reuse = RP_REUSE_SAME_TLS;
				g->d.tls_domain = t->tls.server_name ? t->tls.server_name :
					t->addrs[i].host;
				g->d.addr = dt[k].addr;
			}
		}
		/* Serial failover skips addresses probing found down, unless
		 * all are: then they are tried anyway (the probe may be stale). */
		unsigned up = 0;

		for (unsigned i = 0; i < pc->ntg; i++)
			if (!rp_probe_is_down(r->core->probe, t->name, pc->tg[i].d.tp,
				&pc->tg[i].d.addr))
				pc->tg[up++] = pc->tg[i];
		if (up)
			pc->ntg = up;
		return pc->ntg ? 0 : -EHOSTUNREACH;
	}
	const struct sip_uri *u = r->have_route ? &r->route0.uri : &r->ruri_p;
	struct target *g = &pc->tg[0];

	if (r->have_dst && !r->have_route) {
		g->d = r->dst;
		g->d.tls_domain = NULL;
		g->d.flow = g->d.tp != RP_TP_UDP;  /* back over the UA's own connection */
		pc->ntg = 1;
		return 0;
	}

	if (u->scheme != SIP_SCHEME_SIP && u->scheme != SIP_SCHEME_SIPS)
		return -EHOSTUNREACH;
	g->d.reuse = uri_reuse(r->m);
	g->d.tp = rp_sipout_uri_tp(u);
	/* The certificate must match the host we were asked to reach. */
	if (rp_str_copy(u->host, g->host, sizeof(g->host)) < 0)
		return -EHOSTUNREACH;
	g->d.tls_domain = g->host;
	if (rp_sipout_uri_addr(u, g->d.tp, &g->d.addr) == 0) {
		pc->ntg = 1;
		return 0;
	}
	/* A host name (RFC 3263 §4): the transport as the URI says (UDP when
	 * it says nothing, as the script and media policy already assumed),
	 * SRV without a port, A/AAAA with one. */
	struct rp_dns_result res;
	struct rp_dns_query *q = &r->dq;

	memset(q, 0, sizeof(*q));
	if (rp_str_copy(u->host, q->name, sizeof(q->name)) < 0 || !q->name[0] ||
	    q->name[0] == '[')
		return -EHOSTUNREACH;
	q->port = u->has_port ? u->port : 0;
	q->tp = g->d.tp;
	q->tp_given = true;
	q->sips = u->scheme == SIP_SCHEME_SIPS;
	/* Not known yet, or known to fail: the resolver answers (a failure
	 * from its cache at once) and the request says why. */
	if (rp_dns_cached(r->core->resolver, q, rp_now_ms(), &res) < 0 || res.status < 0)
		return -EINPROGRESS;
	return uri_targets(pc, &res, uri_family(r->core, g->d.tp, &res, r->mi)) ? 0 :
		-EHOSTUNREACH;
}

static int build_forward(struct req *r, enum rp_tp out_tp, const rp_addr *to,
	rp_str branch)
{
	struct pctx *pc = r->pc;
	const struct sip_msg *m = r->m;
	rp_addr lout, lin;
	rp_buf b;
	rp_str out;
	int rc;
	char mf[8];

	if (local_for(r->core, out_tp, to->u.sa.sa_family, r->mi, &lout) < 0) {
		rp_warn_rl("no %s listener for the %s family: cannot forward",
			rp_tp_name(out_tp), to->u.sa.sa_family == AF_INET6 ? "IPv6" : "IPv4");
		return -EHOSTUNREACH;
	}
	if (r->ruri_changed && sip_edit_set_ruri(r->e, r->ruri) != SIP_OK)
		return -EINVAL;
	if (m->h_max_forwards) {
		size_t n = mf_dec(mf, m->max_forwards - 1);

		if (sip_edit_replace_value(r->e, (size_t)(m->h_max_forwards - m->hdrs),
			rp_str_make(mf, n)) != SIP_OK)
			return -EINVAL;
	} else if (sip_edit_add_header(r->e, SIP_EDIT_BOTTOM, 0,
		RP_STR_LIT("Max-Forwards"), RP_STR_LIT("70")) != SIP_OK) {
		return -EINVAL;
	}
	if (apply_route_removal(r) < 0)
		return -EINVAL;

	rp_buf_init(&b, 65536);
	(void)rp_buf_reserve(&b, 256); /* a Via or Record-Route; error kept in b */
	/* received/rport on the previous hop's Via (§18.2.1, RFC 3581). */
	rp_sipout_top_via(&b, m, &r->mi->peer);
	rc = rp_buf_error(&b);
	/* Refused: the sender's Via holds a line break the editor will not
	 * write back (a fold on a bare LF; a bare CR the parser already
	 * refuses): its fault, -EBADMSG (400), not ours (500). */
	if (rc == 0 && sip_edit_replace_value(r->e, (size_t)(m->h_via - m->hdrs),
		rp_buf_str(&b)) != SIP_OK)
		rc = -EBADMSG;
	if (rc == 0 && r->rr) {
		size_t at = m->h_record_route ? (size_t)(m->h_record_route - m->hdrs) :
			(size_t)(m->h_via - m->hdrs);
		enum sip_edit_where w = m->h_record_route ? SIP_EDIT_BEFORE : SIP_EDIT_AFTER;
		bool dbl;

		if (local_for(r->core, r->mi->tp, r->mi->peer.u.sa.sa_family, r->mi, &lin) < 0)
			lin = r->mi->local;
		dbl = r->mi->tp != out_tp || !rp_addr_eq(&lin, &lout);
		/* Top entry faces the next hop, the second the previous one:
		 * each side's route set then starts at the interface it talks to. */
		rp_buf_reset(&b);
		rp_sipout_rr(&b, out_tp, &lout);
		rc = rp_buf_error(&b);
		if (rc == 0 && sip_edit_add_header(r->e, w, at, RP_STR_LIT("Record-Route"),
			rp_buf_str(&b)) != SIP_OK)
			rc = -EINVAL;
		if (rc == 0 && dbl) {
			rp_buf_reset(&b);
			rp_sipout_rr(&b, r->mi->tp, &lin);
			rc = rp_buf_error(&b);
			if (rc == 0 && sip_edit_add_header(r->e, w, at,
				RP_STR_LIT("Record-Route"), rp_buf_str(&b)) != SIP_OK)
				rc = -EINVAL;
		}
	}
	if (rc == 0) {
		rp_buf_reset(&b);
		rp_sipout_via(&b, out_tp, &lout, branch);
		rc = rp_buf_error(&b);
		if (rc == 0 && sip_edit_add_header(r->e, SIP_EDIT_TOP, 0, RP_STR_LIT("Via"),
			rp_buf_str(&b)) != SIP_OK)
			rc = -EINVAL;
	}
	rp_buf_free(&b);
	if (rc < 0)
		return rc;
	if (r->set_body && sip_edit_set_body(r->e, r->new_body) != SIP_OK)
		return -EINVAL;
	if (sip_edit_write_arena(r->e, r->a, &out) != SIP_OK)
		return -ENOMEM;
	const char *bp = memmem(out.p, out.n, branch.p, branch.n);
	if (!bp)
		return -EINVAL;
	pc->fwd = malloc(out.n);
	if (!pc->fwd)
		return -ENOMEM;
	memcpy(pc->fwd, out.p, out.n);
	if (r->set_body) {
		/* Our keys: only pc->fwd keeps them (wiped when it goes). */
		explicit_bzero((char *)out.p, out.n);
		if (!r->keep_body)
			explicit_bzero((char *)r->new_body.p, r->new_body.n);
	}
	pc->fwd_len = out.n;
	pc->br_off = (size_t)(bp - out.p);
	return 0;
}

/* Starts the next target's branch; false when none could be started. */
static bool start_branch(rp_core *c, rp_txn_srv *s, struct pctx *pc, uint64_t now)
{
	unsigned shard = rp_txn_srv_shard(s);

	while (pc->next < pc->ntg) {
		struct target *g = &pc->tg[pc->next++];
		char br[RP_TXN_BRANCH_LEN];
		uint64_t lh = 0;
		rp_txn_cli *cl;

		rp_txn_branch_loop(rp_str_make(pc->fwd + pc->br_off, RP_TXN_BRANCH_LEN), &lh);
		if (rp_txn_branch(c->txl, shard, lh, br) < 0)
			return false;
		memcpy(pc->fwd + pc->br_off, br, RP_TXN_BRANCH_LEN);
		if (rp_txn_cli_new(c->txl, shard, s, pc->method,
			rp_str_make(pc->fwd + pc->br_off, RP_TXN_BRANCH_LEN), &g->d,
			pc->fwd, pc->fwd_len, 0, now, &cl) == 0) {
			pc->cur = cl;
			atomic_fetch_add(&c->st.forwarded, 1);
			return true;
		}
	}
	return false;
}

/* ---- the trunk's 401/407 (trunk.h) ---- */

/* Before a request is forwarded: whose credentials answer a challenge,
 * and the CSeq delta of a dialog of the caller's side that had one. */
static int trunk_prepare(struct req *r)
{
	struct pctx *pc = r->pc;
	const struct sip_msg *m = r->m;
	struct rp_trunk_dlg dl;
	rp_str v;

	pc->ta = rp_trunk_auth_free(pc->ta);
	pc->cseq_orig = pc->cseq_sent = m->cseq.num;
	pc->auth_trunk = r->trunk && r->trunk->out_username ? r->trunk : NULL;
	pc->t_initial = !m->to.tag.n;
	pc->t_rr = r->rr;
	if (m->to.tag.n && rp_trunk_dlg_get(r->core->tdlg, m->call_id, m->from.tag, r->now,
		r->a, &dl)) {
		if (!pc->auth_trunk) {
			const struct cfg_trunk *t = cfg_trunk_find(pc->cfg, dl.trunk);

			pc->auth_trunk = t && t->out_username ? t : NULL;
		}
		if (dl.delta) {
			if (rp_trunk_cseq_value(m, m->cseq.num + dl.delta, r->a, &v) < 0 ||
			    sip_edit_replace_value(r->e, (size_t)(m->h_cseq - m->hdrs), v) !=
			    SIP_OK)
				return -EINVAL;
			pc->cseq_sent = m->cseq.num + dl.delta;
		}
	}
	if (m->method == SIP_METHOD_BYE && m->to.tag.n) {
		rp_trunk_dlg_del(r->core->tdlg, m->call_id, m->from.tag);
		rp_trunk_dlg_del(r->core->tdlg, m->call_id, m->to.tag);
	}
	return 0;
}

/* A response on its way to the caller: the caller's own CSeq number. */
static bool trunk_cseq_back(const struct pctx *pc, const struct sip_msg *resp,
	struct sip_edit *e, rp_arena *a)
{
	rp_str v;

	if (pc->cseq_sent == pc->cseq_orig || !resp->h_cseq)
		return true;
	return rp_trunk_cseq_value(resp, pc->cseq_orig, a, &v) == 0 &&
		sip_edit_replace_value(e, (size_t)(resp->h_cseq - resp->hdrs), v) == SIP_OK;
}

static bool dialog_method(enum sip_method m)
{
	return m == SIP_METHOD_INVITE || m == SIP_METHOD_SUBSCRIBE;
}

/* The trunk challenged the request: answer with its credentials, once per
 * realm at this address (a new branch to the same address, CSeq + 1).
 * True when the request went out again. */
static bool trunk_retry(rp_core *c, rp_txn_srv *s, struct pctx *pc,
	const struct sip_msg *resp, uint64_t now)
{
	const char *tn;
	char *nf = NULL;
	size_t nl = 0;
	uint32_t cseq = 0;
	const char *bp;
	int rc;

	if (!pc->auth_trunk || pc->cancelled || !pc->fwd || !pc->next)
		return false;
	tn = pc->auth_trunk->name;
	if (pc->t_initial && !pc->t_rr && dialog_method(pc->method)) {
		/* Its ACK and later requests would not pass through us to get
		 * the CSeq they need: the caller gets the challenge. */
		rp_info_rl("trunk %s: %u to %.*s not answered: the dialog is not record-routed",
			tn, resp->status, RP_STR_FMT(resp->cseq.method_str));
		return false;
	}
	rc = rp_trunk_auth_answer(&pc->ta, pc->auth_trunk, resp, pc->fwd, pc->fwd_len,
		&nf, &nl, &cseq);
	if (rc < 0) {
		rp_info_rl("trunk %s: %u to %.*s goes back to the caller: %s", tn, resp->status,
			RP_STR_FMT(resp->cseq.method_str), rc == -EALREADY ?
			"credentials already answered for that realm" : strerror(-rc));
		return false;
	}
	bp = memmem(nf, nl, pc->fwd + pc->br_off, RP_TXN_BRANCH_LEN);
	if (!bp) {
		explicit_bzero(nf, nl);
		free(nf);
		return false;
	}
	explicit_bzero(pc->fwd, pc->fwd_len);
	free(pc->fwd);
	pc->fwd = nf;
	pc->fwd_len = nl;
	pc->br_off = (size_t)(bp - nf);
	pc->cseq_sent = cseq;
	if (pc->method != SIP_METHOD_BYE && (!pc->t_initial || dialog_method(pc->method))) {
		struct rp_trunk_dlg dl = { .delta = cseq - pc->cseq_orig,
			.trunk = rp_str_cstr(tn), .lines = rp_trunk_auth_lines(pc->ta),
			.lines_cseq = cseq };

		rc = rp_trunk_dlg_set(c->tdlg, resp->call_id, resp->from.tag, &dl, now);
		if (rc < 0)
			rp_warn_rl("trunk %s: call %.*s: CSeq mapping not kept (%s): its later "
				"requests will be refused", tn, RP_STR_FMT(resp->call_id),
				strerror(-rc));
	}
	rp_info("trunk %s: answered %u to %.*s (CSeq %u toward the trunk, %u for the caller)",
		tn, resp->status, RP_STR_FMT(resp->cseq.method_str), cseq, pc->cseq_orig);
	pc->next--;     /* the same address again */
	return start_branch(c, s, pc, now);
}

/* A dialog-creating request that failed: forget its CSeq mapping. */
static void trunk_dlg_end(rp_core *c, struct pctx *pc, const struct sip_msg *resp)
{
	char store[8192];
	rp_arena a;
	struct sip_msg *m = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };

	if (!pc->ta || !pc->t_initial)
		return;
	if (resp) {
		rp_trunk_dlg_del(c->tdlg, resp->call_id, resp->from.tag);
		return;
	}
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_msg_parse(pc->fwd, pc->fwd_len, &a, &o, &m, NULL) == SIP_OK)
		rp_trunk_dlg_del(c->tdlg, m->call_id, m->from.tag);
	rp_arena_fini(&a);
}

/* A stateless request of the caller's side of a mapped dialog (the ACK of
 * a 2xx): the trunk's CSeq and, for the ACK of a request we answered a
 * challenge for, the same credentials (RFC 3261 §13.2.2.4, §22.1). */
static bool trunk_stateless_req(struct req *r)
{
	const struct sip_msg *m = r->m;
	struct rp_trunk_dlg dl;
	rp_str v, l;

	if (!m->to.tag.n || !rp_trunk_dlg_get(r->core->tdlg, m->call_id, m->from.tag, r->now,
		r->a, &dl))
		return true;
	if (dl.delta && (rp_trunk_cseq_value(m, m->cseq.num + dl.delta, r->a, &v) < 0 ||
	    sip_edit_replace_value(r->e, (size_t)(m->h_cseq - m->hdrs), v) != SIP_OK))
		return false;
	if (m->method != SIP_METHOD_ACK || m->cseq.num + dl.delta != dl.lines_cseq)
		return true;
	/* l.p is tested too: gcc -fsanitize cannot prove n > 0 implies p != NULL. */
	for (l = dl.lines; l.n && l.p;) {
		const char *crlf = memmem(l.p, l.n, "\r\n", 2);
		size_t ll = crlf ? (size_t)(crlf - l.p) : l.n;
		const char *col = memchr(l.p, ':', ll);

		if (col && sip_edit_add_header(r->e, SIP_EDIT_BOTTOM, 0,
			rp_str_make(l.p, (size_t)(col - l.p)),
			rp_str_trim(rp_str_make(col + 1, ll - (size_t)(col + 1 - l.p)))) != SIP_OK)
			return false;
		l.p += crlf ? ll + 2 : ll;
		l.n -= crlf ? ll + 2 : ll;
	}
	return true;
}

/* A 2xx retransmission (stateless) to the caller of a mapped dialog. */
static bool trunk_stateless_resp(rp_core *c, const struct sip_msg *m, struct sip_edit *e,
	rp_arena *a)
{
	struct rp_trunk_dlg dl;
	rp_str v;

	if (!rp_trunk_dlg_get(c->tdlg, m->call_id, m->from.tag, rp_now_ms(), a, &dl) ||
	    !dl.delta || m->cseq.num <= dl.delta)
		return true;
	return rp_trunk_cseq_value(m, m->cseq.num - dl.delta, a, &v) == 0 &&
		sip_edit_replace_value(e, (size_t)(m->h_cseq - m->hdrs), v) == SIP_OK;
}

/* ---- parallel forking (fork.h) ---- */

/* The least protected transport of the forked targets: the one SDP body
 * goes to all of them, so its keys must suit the weakest hop. */
static enum rp_tp fork_weakest_tp(const struct req *r)
{
	enum rp_tp tp = r->ftg[0].d.tp;

	for (unsigned i = 1; i < r->nftg; i++) {
		enum rp_tp t = r->ftg[i].d.tp;

		if (t == RP_TP_UDP || (t == RP_TP_TCP && tp == RP_TP_TLS))
			tp = t;
	}
	return tp;
}

/* Starts the branches [from, group_end) of the fork; the number started. */
static unsigned fork_start(rp_core *c, rp_txn_srv *s, struct pctx *pc, unsigned from,
	uint64_t now)
{
	struct rp_fork *f = pc->fork;
	unsigned started = 0;

	for (unsigned i = from; i < f->group_end; i++) {
		struct rp_fork_branch *b = &f->b[i];
		rp_txn_cli *cl;
		int rc = rp_txn_cli_new(c->txl, rp_txn_srv_shard(s), s, pc->method,
			rp_str_make(b->req + b->br_off, RP_TXN_BRANCH_LEN), &b->d, b->req,
			b->req_len, 0, now, &cl);

		if (rc < 0) {
			b->st = RP_FORK_BR_DONE;
			b->code = 503;
			b->ours = true;
			continue;
		}
		b->cl = cl;
		b->st = RP_FORK_BR_CALLING;
		started++;
		atomic_fetch_add(&c->st.forwarded, 1);
	}
	return started;
}

/* The offer/answer step of a forwarded request (toward out_tp): when the
 * media layer refuses it (488 by policy, 503 without mediad), the caller
 * is answered here, the call record says why, and true is returned. */
/* build_forward() (or what comes before it) failed: the status for the
 * sender. A Via the editor refused is the sender's (it got 500 Server
 * Internal Error; found by sipfuzz.py). */
static void reply_forward_error(struct req *r, int rc)
{
	if (rc == -EBADMSG) {
		rp_info_rl("%.*s %.*s: top Via holds a line break we cannot write back: 400",
			RP_STR_FMT(r->m->method_str), RP_STR_FMT(r->m->call_id));
		reply_msg(r->core, r->stx, r->m, 400, RP_STR_LIT("Bad Via"), NULL, 0, r->now);
		return;
	}
	reply_msg(r->core, r->stx, r->m, rc == -EPROTO ? 488 : 500, RP_STR_NULL, NULL, 0, r->now);
}

static bool media_refused(struct req *r, enum rp_tp out_tp)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	unsigned mcode = media_request(r, out_tp);
	static const rp_str reason = RP_STR_LIT("Reason: " RP_MEDIA_REASON);
	static const rp_str retry = RP_STR_LIT("Retry-After: 5");

	if (mcode == 488 && pc->call)
		rp_calls_refuse(c->calls, pc->call, rp_call_refusal_of(pc->m_rc,
			pc->mc ? rp_media_last_error(pc->mc) : NULL));
	if (!mcode)
		return false;
	reply_msg(c, r->stx, r->m, mcode, mcode == 503 ?
		RP_STR_LIT("Media Relay Unavailable") : RP_STR_NULL,
		mcode == 488 ? &reason : mcode == 503 ? &retry : NULL,
		mcode == 488 || mcode == 503 ? 1 : 0, r->now);
	return true;
}

/* lookup() found several contacts: one branch each (RFC 3261 §16.6), each
 * with its own Request-URI and, when transports differ, its own Via and
 * Record-Route. The highest q group starts now, in parallel. */
static void do_fork(struct req *r)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	struct sip_edit_mark mk;
	unsigned q[RP_FORK_MAX_BRANCHES];
	struct rp_fork *f = NULL;
	int rc;

	call_request(r);
	if (targets(r) < 0) {
		reply_msg(c, r->stx, r->m, 404, RP_STR_LIT("No Usable Destination"), NULL, 0, r->now);
		return;
	}
	call_target(r);
	call_bye(r);
	if (media_refused(r, fork_weakest_tp(r)))
		return;
	rc = trunk_prepare(r);
	if (rc == 0)
		rc = rp_fork_new(r->nftg, &f);
	sip_edit_mark(r->e, &mk);
	r->keep_body = true;
	for (unsigned i = 0; rc == 0 && i < r->nftg; i++) {
		const struct fork_tg *g = &r->ftg[i];
		char br[RP_TXN_BRANCH_LEN];

		sip_edit_undo(r->e, &mk);
		r->ruri = g->uri;
		r->ruri_changed = true;
		rc = rp_txn_branch(c->txl, r->shard, req_loop_hash(r), br);
		if (rc == 0)
			rc = build_forward(r, g->d.tp, &g->d.addr, rp_str_make(br, sizeof(br)));
		if (rc == 0) {
			rc = rp_fork_branch_set_request(f, i, pc->fwd, pc->fwd_len, pc->br_off);
			pc->fwd = NULL;
		}
		f->b[i].d = g->d;
		f->b[i].q = q[i] = g->q;
	}
	r->keep_body = false;
	if (r->set_body)
		explicit_bzero((char *)r->new_body.p, r->new_body.n);
	if (rc < 0) {
		rp_fork_free(f);
		reply_forward_error(r, rc);
		return;
	}
	pc->media = r->media;
	pc->fork = f;
	f->group_end = rp_fork_group_end(q, f->n, 0);
	rp_debug("call %.*s: forking to %u contacts, %u in the first group",
		RP_STR_FMT(r->m->call_id), f->n, f->group_end);
	if (pc->method == SIP_METHOD_INVITE && !pc->failure_runs)
		reply_msg(c, r->stx, r->m, 100, RP_STR_NULL, NULL, 0, r->now);
	for (unsigned from = 0; !fork_start(c, r->stx, pc, from, r->now);) {
		/* None of the group could be sent: the next group. */
		if (f->group_end >= f->n) {
			reply_msg(c, r->stx, r->m, 503, RP_STR_NULL, NULL, 0, r->now);
			return;
		}
		from = f->group_end;
		f->group_end = rp_fork_group_end(q, f->n, from);
	}
}

/* ---- Request-URI / Route names (RFC 3263 §4) ---- */

static rp_str park_key(const struct parked *pk)
{
	return rp_str_make((const char *)&pk->id, sizeof(pk->id));
}

static void park_alt_free(struct pctx *pc)
{
	if (pc->park_alt)
		explicit_bzero(pc->park_alt, pc->park_alt_len);
	free(pc->park_alt);
	pc->park_alt = NULL;
}

/* The located name of a parked request (its shard lock held): the
 * branch starts now, or the caller learns why not. */
static void park_resume(rp_core *c, rp_txn_srv *s, const struct rp_dns_result *res,
	const char *host, uint64_t now)
{
	struct pctx *pc = rp_txn_srv_user(s);
	static const rp_str retry = RP_STR_LIT("Retry-After: 5");

	pc->park_id = 0;
	if (rp_txn_srv_final(s) || pc->cancelled)
		goto out;
	/* Only addresses of the other family: the request as written for it,
	 * if we listen there. */
	if (res->status == 0 && !uri_targets(pc, res, pc->park_fam) && pc->park_alt &&
	    uri_targets(pc, res, pc->park_alt_fam)) {
		explicit_bzero(pc->fwd, pc->fwd_len);
		free(pc->fwd);
		pc->fwd = pc->park_alt;
		pc->fwd_len = pc->park_alt_len;
		pc->br_off = pc->park_alt_off;
		pc->park_alt = NULL;
	}
	if (res->status < 0 || !pc->ntg) {
		unsigned code = 503;
		rp_str why;

		if (res->status == -ENOENT) {
			code = 404;
			why = RP_STR_LIT("No Usable Destination: Name Not Resolved");
		} else if (res->status == 0) {
			why = pc->park_fam == AF_INET ? RP_STR_LIT("No Listener For IPv6") :
				RP_STR_LIT("No Listener For IPv4");
		} else if (res->status == -ETIMEDOUT) {
			why = RP_STR_LIT("DNS Timeout");
		} else {
			why = RP_STR_LIT("DNS Failure");
		}
		rp_info("request to %s: %.*s", host, RP_STR_FMT(why));
		reply_txn(c, s, code, why, code == 503 ? &retry : NULL, code == 503 ? 1 : 0, now);
		goto out;
	}
	if (pc->call) {
		struct rp_call_sig b = { .tp = pc->tg[0].d.tp, .peer = pc->tg[0].d.addr };

		pc->call_rr = pc->t_rr;
		rp_call_set_b(pc->call, &b, &pc->tg[0].d, rp_str_cstr(""));
	}
	if (!start_branch(c, s, pc, now))
		reply_txn(c, s, 503, RP_STR_NULL, NULL, 0, now);
out:
	park_alt_free(pc);
}

/* The resolver's answer for a parked request (a resolver thread). */
static void on_uri_resolved(void *arg, const struct rp_dns_result *res)
{
	struct park_ref *ref = arg;
	rp_core *c = ref->c;
	struct parked key = { .id = ref->id }, *pk;

	/* The core is being freed: its transactions go with it. */
	if (res->status == -ECANCELED) {
		free(ref);
		return;
	}
	rp_txn_lock(c->txl, ref->shard);
	pthread_mutex_lock(&c->park_mu);
	pk = rp_hash_remove(c->parked, park_key(&key));
	pthread_mutex_unlock(&c->park_mu);
	if (pk)
		park_resume(c, pk->s, res, ref->host, rp_now_ms());
	rp_txn_unlock(c->txl, ref->shard);
	free(pk);
	free(ref);
}

/* A Request-URI/Route host that is a name not located yet: the request is
 * written now (media offer included) for the transport the URI gives and
 * IPv4 if we can send it so, and waits in its server transaction
 * (retransmissions absorbed, 100 Trying for INVITE) until the resolver
 * answers; no worker waits. */
static void park_request(struct req *r)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	enum rp_tp tp = pc->tg[0].d.tp;
	static const rp_str retry = RP_STR_LIT("Retry-After: 5");
	char br[RP_TXN_BRANCH_LEN];
	struct parked *pk = NULL;
	struct park_ref *ref = NULL;
	struct sip_edit_mark mk;
	rp_addr lout, guess;
	sa_family_t fam, alt;
	size_t n;
	int rc;

	pthread_mutex_lock(&c->park_mu);
	n = rp_hash_count(c->parked);
	pthread_mutex_unlock(&c->park_mu);
	if (n >= MAX_PARKED) {
		rp_warn("request to %s: %zu requests already wait for DNS; 503", r->dq.name, n);
		reply_msg(c, r->stx, r->m, 503, RP_STR_LIT("DNS Busy"), &retry, 1, r->now);
		return;
	}
	fam = local_for(c, tp, AF_INET, r->mi, &lout) == 0 ? AF_INET : AF_INET6;
	alt = fam == AF_INET && local_for(c, tp, AF_INET6, r->mi, &lout) == 0 ? AF_INET6 : 0;
	memset(&guess, 0, sizeof(guess));
	guess.u.sa.sa_family = fam;
	guess.len = fam == AF_INET ? sizeof(guess.u.in4) : sizeof(guess.u.in6);
	call_bye(r);
	if (media_refused(r, tp))
		return;
	rc = trunk_prepare(r);
	if (rc == 0)
		rc = rp_txn_branch(c->txl, r->shard, req_loop_hash(r), br);
	sip_edit_mark(r->e, &mk);
	r->keep_body = alt != 0;
	if (rc == 0)
		rc = build_forward(r, tp, &guess, rp_str_make(br, sizeof(br)));
	r->keep_body = false;
	if (rc == 0 && alt) {
		/* The same request for IPv6 (its Via and Record-Route): kept in
		 * case the name has no IPv4 address. */
		char *v4 = pc->fwd;
		size_t v4_len = pc->fwd_len, v4_off = pc->br_off;

		sip_edit_undo(r->e, &mk);
		guess.u.sa.sa_family = alt;
		guess.len = sizeof(guess.u.in6);
		rc = build_forward(r, tp, &guess, rp_str_make(br, sizeof(br)));
		if (rc == 0) {
			pc->park_alt = pc->fwd;
			pc->park_alt_len = pc->fwd_len;
			pc->park_alt_off = pc->br_off;
			pc->park_alt_fam = alt;
		} else {
			explicit_bzero(v4, v4_len);
			free(v4);
			v4 = NULL;
		}
		pc->fwd = v4;
		pc->fwd_len = v4_len;
		pc->br_off = v4_off;
	}
	if (r->set_body)
		explicit_bzero((char *)r->new_body.p, r->new_body.n);
	if (rc == -EHOSTUNREACH) {
		reply_msg(c, r->stx, r->m, 503, RP_STR_LIT("No Listener For The Transport"),
			NULL, 0, r->now);
		return;
	}
	if (rc < 0) {
		reply_forward_error(r, rc);
		return;
	}
	pc->media = r->media;
	pk = calloc(1, sizeof(*pk));
	ref = calloc(1, sizeof(*ref));
	rc = pk && ref ? 0 : -ENOMEM;
	if (rc == 0) {
		pk->s = r->stx;
		ref->c = c;
		ref->shard = r->shard;
		snprintf(ref->host, sizeof(ref->host), "%s", r->dq.name);
		pthread_mutex_lock(&c->park_mu);
		pk->id = ref->id = ++c->park_next;
		/* Counted again under the lock: another worker may have
		 * parked one since the first look (then DNS Busy below). */
		rc = rp_hash_count(c->parked) >= MAX_PARKED ? -EAGAIN :
			rp_hash_insert(c->parked, park_key(pk), pk);
		pthread_mutex_unlock(&c->park_mu);
	}
	if (rc == 0) {
		pc->park_id = pk->id;
		pc->park_fam = fam;
		/* The answer waits for our shard lock: it cannot overtake us. */
		rc = rp_dns_lookup(c->resolver, &r->dq, on_uri_resolved, ref);
		if (rc < 0) {
			pthread_mutex_lock(&c->park_mu);
			rp_hash_remove(c->parked, park_key(pk));
			pthread_mutex_unlock(&c->park_mu);
			pc->park_id = 0;
		}
	}
	if (rc < 0) {
		free(pk);
		free(ref);
		park_alt_free(pc);
		reply_msg(c, r->stx, r->m, 503, RP_STR_LIT("DNS Busy"), &retry, 1, r->now);
		return;
	}
	if (pc->method == SIP_METHOD_INVITE && !pc->failure_runs)
		reply_msg(c, r->stx, r->m, 100, RP_STR_NULL, NULL, 0, r->now);
}

static void do_relay(struct req *r)
{
	rp_core *c = r->core;
	struct pctx *pc = r->pc;
	char br[RP_TXN_BRANCH_LEN];
	int rc;

	/* Forking needs the contacts lookup() found, untouched since. */
	if (r->nftg > 1 && !r->trunk && !r->have_route && !pc->fork &&
	    r->ruri.p == r->lk_ruri.p && r->ruri.n == r->lk_ruri.n) {
		do_fork(r);
		return;
	}
	call_request(r);
	rc = targets(r);
	if (rc == -EINPROGRESS) {
		park_request(r);
		return;
	}
	if (rc < 0) {
		reply_msg(c, r->stx, r->m, 404, RP_STR_LIT("No Usable Destination"), NULL, 0, r->now);
		return;
	}
	call_target(r);
	call_bye(r);
	if (media_refused(r, pc->tg[0].d.tp))
		return;
	rc = trunk_prepare(r);
	if (rc == 0)
		rc = rp_txn_branch(c->txl, r->shard, req_loop_hash(r), br);
	if (rc == 0)
		rc = build_forward(r, pc->tg[0].d.tp, &pc->tg[0].d.addr,
			rp_str_make(br, sizeof(br)));
	if (rc == -EHOSTUNREACH) {
		/* Not our fault and not the caller's: say which way we cannot go
		 * (was 500 Server Internal Error). */
		reply_msg(c, r->stx, r->m, 503, pc->tg[0].d.addr.u.sa.sa_family == AF_INET6 ?
			RP_STR_LIT("No Listener For IPv6") : RP_STR_LIT("No Listener For IPv4"),
			NULL, 0, r->now);
		return;
	}
	if (rc < 0) {
		reply_forward_error(r, rc);
		return;
	}
	pc->media = r->media;
	/* The template carries the branch made above; start_branch makes a
	 * fresh one per attempt. */
	if (pc->method == SIP_METHOD_INVITE && !pc->failure_runs)
		reply_msg(c, r->stx, r->m, 100, RP_STR_NULL, NULL, 0, r->now);
	if (!start_branch(c, r->stx, pc, r->now))
		reply_msg(c, r->stx, r->m, 503, RP_STR_NULL, NULL, 0, r->now);
}

/* ---- CANCEL (§16.10) ---- */

/* CANCEL of the branch 'cl' (§16.10), with a Reason header (RFC 3326)
 * when 'reason' is set. */
static void send_cancel(rp_core *c, rp_txn_cli *cl, const char *reason, uint64_t now)
{
	rp_txn_srv *s = rp_txn_cli_parent(cl);
	struct pctx *pc = rp_txn_srv_user(s);
	char store[8192];
	rp_arena a;
	struct sip_msg *m = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	size_t len;
	const char *req = rp_txn_cli_request(cl, &len);
	rp_txn_cli *cc;
	rp_buf b;

	pc->cancel_sent = true;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_msg_parse(req, len, &a, &o, &m, NULL) == SIP_OK) {
		rp_buf_init(&b, 65536);
		rp_sipout_cancel(&b, m);
		if (reason && rp_buf_error(&b) == 0 && b.len >= 4) {
			/* Before the blank line that ends the headers. */
			b.len -= 2;
			rp_buf_append_cstr(&b, "Reason: ");
			rp_buf_append_cstr(&b, reason);
			rp_buf_append_cstr(&b, "\r\n\r\n");
		}
		int rc = rp_buf_error(&b);

		if (rc == 0)
			rc = rp_txn_cli_new(c->txl, rp_txn_srv_shard(s), s, SIP_METHOD_CANCEL,
				rp_txn_cli_branch(cl), rp_txn_cli_dest(cl), b.p, b.len, 0,
				now, &cc);
		if (rc < 0)
			rp_warn_rl("CANCEL not sent: %s", strerror(-rc));
		rp_buf_free(&b);
	}
	rp_arena_fini(&a);
}

static void handle_cancel(struct req *r, rp_txn_srv *s)
{
	rp_core *c = r->core;
	struct pctx *pc = rp_txn_srv_user(s);

	atomic_fetch_add(&c->st.cancels, 1);
	reply_stateless(c, r->mi, r->m, r->cfg, 200, NULL, NULL, 0);
	if (rp_txn_srv_final(s) || pc->cancelled)
		return;
	pc->cancelled = true;
	/* The call and its media end with the final answer (487, or any
	 * failure: call_failed() says "cancel"), not here: a callee that
	 * answered 2xx before our CANCEL reached it has a call with the
	 * caller, whose media (a late offer in that 2xx) then went to a mediad
	 * session no call owned (sipfuzz seed 14). */
	if (pc->fork) {
		fork_cancel_all(c, s, pc, NULL, r->now);
	} else if (pc->cur) {
		/* A branch that has not answered yet is cancelled once it
		 * sends a provisional response (§9.1). */
		if (rp_txn_cli_state(pc->cur) == RP_TXN_PROCEEDING)
			send_cancel(c, pc->cur, NULL, r->now);
	} else {
		reply_txn(c, s, 487, RP_STR_NULL, NULL, 0, r->now);
	}
}

/* ---- responses ---- */

/* The callee answered with a 2xx whose SDP the media layer refused: the
 * caller gets 488, so the callee's dialog must end too. We ACK its 2xx and
 * send BYE (a client transaction of its own) to the hop the INVITE went
 * to, along the route set below us (the Record-Route values above ours,
 * reversed) to its Contact (RFC 3261 §12.1.2, §13.2.2.4). */
static void media_reject_2xx(rp_core *c, struct pctx *pc, const struct sip_msg *resp,
	rp_txn_cli *cl, unsigned shard, const char *reason, uint64_t now)
{
	char store[8192];
	rp_arena a;
	struct sip_msg *req = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	struct sip_hdr_iter it;
	struct sip_nameaddr na, contact;
	rp_str below[8];
	unsigned nb = 0;
	const struct rp_txn_dest *to = rp_txn_cli_dest(cl);
	rp_addr lout;
	rp_buf b;
	size_t fwd_len = pc->fwd_len;
	const char *fwd = pc->fwd ? pc->fwd : rp_txn_cli_request(cl, &fwd_len);

	if (!fwd || !resp->h_contact || !cur_mi ||
	    sip_nameaddr_parse(resp->h_contact->value, &contact, NULL) != SIP_OK ||
	    local_for(c, to->tp, to->addr.u.sa.sa_family, cur_mi, &lout) < 0)
		return;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_msg_parse(fwd, fwd_len, &a, &o, &req, NULL) != SIP_OK)
		goto out;
	sip_hdr_iter_init(&it, resp, SIP_HDR_RECORD_ROUTE);
	while (nb < 8 && sip_hdr_iter_next_nameaddr(&it, &na, NULL) == SIP_OK) {
		if (uri_is_us(c, pc->cfg, &na.uri, false))
			break;
		below[nb++] = na.raw;
	}
	rp_buf_init(&b, 8192);
	for (int pass = 0; pass < 2; pass++) {
		const char *meth = pass ? "BYE" : "ACK";
		char br[RP_TXN_BRANCH_LEN];
		rp_txn_cli *bye;

		if (rp_txn_branch(c->txl, shard, 0, br) < 0)
			break;
		rp_buf_reset(&b);
		rp_buf_append_cstr(&b, meth);
		rp_buf_append_byte(&b, ' ');
		rp_buf_append_str(&b, contact.uri_str);
		rp_buf_append_cstr(&b, " SIP/2.0\r\nVia: ");
		rp_sipout_via(&b, to->tp, &lout, rp_str_make(br, sizeof(br)));
		rp_buf_append_cstr(&b, "\r\nMax-Forwards: 70\r\n");
		for (unsigned i = nb; i-- > 0;) {
			rp_buf_append_cstr(&b, "Route: ");
			rp_buf_append_str(&b, below[i]);
			rp_buf_append_cstr(&b, "\r\n");
		}
		rp_buf_append_cstr(&b, "From: ");
		rp_buf_append_str(&b, req->h_from->value);
		rp_buf_append_cstr(&b, "\r\nTo: ");
		rp_buf_append_str(&b, resp->h_to->value);
		rp_buf_append_cstr(&b, "\r\nCall-ID: ");
		rp_buf_append_str(&b, req->call_id);
		rp_buf_append_cstr(&b, "\r\nCSeq: ");
		rp_buf_append_u64(&b, req->cseq.num + (uint32_t)pass);
		rp_buf_append_byte(&b, ' ');
		rp_buf_append_cstr(&b, meth);
		if (pass) {
			rp_buf_append_cstr(&b, "\r\nReason: ");
			rp_buf_append_cstr(&b, reason);
		}
		rp_buf_append_cstr(&b, "\r\nContent-Length: 0\r\n\r\n");
		if (rp_buf_error(&b))
			break;
		if (!pass)
			core_send(c, to, b.p, b.len);
		else if (rp_txn_cli_new(c->txl, shard, NULL, SIP_METHOD_BYE,
			rp_str_make(br, sizeof(br)), to, b.p, b.len, 0, now, &bye) < 0)
			rp_warn_rl("call %.*s: BYE to the callee not sent", RP_STR_FMT(resp->call_id));
	}
	rp_buf_free(&b);
out:
	rp_arena_fini(&a);
}

/* Pops our Via and sends the response through the server transaction. */
static void relay_response(rp_core *c, rp_txn_srv *s, rp_txn_cli *cl,
	const struct sip_msg *resp, uint64_t now)
{
	char store[8192];
	rp_arena a;
	struct sip_edit *e;
	rp_str out;

	struct pctx *pc = rp_txn_srv_user(s);

	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_edit_new(resp, &a, &e) != SIP_OK)
		goto out;
	if (cfg_has_route(pc->cfg, CFG_ROUTE_REPLY)) {
		struct req r = { .core = c, .mi = cur_mi, .m = (struct sip_msg *)resp, .a = &a,
			.e = e, .cfg = pc->cfg, .stx = s, .pc = pc, .now = now,
			.is_resp = true, .status = resp->status };
		int v = cfg_eval(pc->cfg, CFG_ROUTE_REPLY, &resp_ops, &r);

		if (v < 0)
			rp_warn_rl("route reply failed for %u: %s", resp->status, strerror(-v));
		if (v == CFG_EV_DROPPED && resp->status < 200)
			goto out;   /* a final response cannot be dropped */
	}
	if (!media_response(c, pc, resp, e, &a)) {
		if (resp->status >= 200) {
			/* Never the callee's SDP unread: the caller gets the
			 * error, the callee ACK + BYE (initial INVITE). */
			static const rp_str reason = RP_STR_LIT("Reason: " RP_MEDIA_REASON);

			rp_warn_rl("call %.*s: %u from the callee refused by the media layer",
				RP_STR_FMT(resp->call_id), resp->status);
			if (pc->call && pc->mc)
				rp_calls_refuse(c->calls, pc->call, rp_call_refusal_of(
					RP_MEDIA_REFUSE, rp_media_last_error(pc->mc)));
			if (pc->method == SIP_METHOD_INVITE && pc->m_initial)
				media_reject_2xx(c, pc, resp, cl, rp_txn_srv_shard(s),
					RP_MEDIA_REASON, now);
			reply_txn(c, s, 488, RP_STR_NULL, &reason, 1, now);
			/* The call is over even if the 488 could not be made:
			 * its mediad session goes with it (idempotent). */
			media_end(c, pc);
		}
		goto out;
	}
	if (trunk_cseq_back(pc, resp, e, &a) && sip_edit_pop_via(e) == SIP_OK &&
	    sip_edit_write_arena(e, &a, &out) == SIP_OK) {
		rp_txn_srv_respond(c->txl, s, resp->status, out.p, out.n, now);
		atomic_fetch_add(&c->st.relayed_responses, 1);
		count_resp(c, resp->status);
		if (pc->call && resp->status >= 200)
			call_answered(c, pc, resp, cl, &a);
		if (pc->mc && has_sdp(resp))
			explicit_bzero((char *)out.p, out.n);
	}
out:
	rp_arena_fini(&a);
}

static int route_preprocess(struct req *r);
static int strict_route_fixup(struct req *r);

/* 'route failure' (§16.7 item 6 taken to the script): the request failed
 * on every address. The route may reply, relay elsewhere (a new target
 * set) or do nothing (the best response goes back). True when it took
 * over. Runs at most 4 times per transaction. */
static bool run_failure_route(rp_core *c, rp_txn_srv *s, struct pctx *pc, uint64_t now)
{
	char store[16384];
	rp_arena a;
	struct sip_msg *m = NULL;
	struct sip_parse_opts o = { .stream = false, .lazy_resp_addr_uri = true,
		.lazy_req_addr_uri = true };
	struct rp_msg_info mi = { .tp = pc->in_tp, .peer = pc->src, .local = pc->local,
		.udp_fd = -1 };
	size_t len;
	const char *req;
	bool took = false;
	int v;

	if (pc->failure_runs >= 4 || !cfg_has_route(pc->cfg, CFG_ROUTE_FAILURE))
		return false;
	pc->failure_runs++;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (!(req = srv_request_copy(s, &a, &len)) ||
	    sip_msg_parse(req, len, &a, &o, &m, NULL) != SIP_OK)
		goto out;
	struct req r = { .core = c, .mi = &mi, .m = m, .a = &a, .cfg = pc->cfg, .stx = s,
		.pc = pc, .now = now, .shard = rp_txn_srv_shard(s), .ruri = m->ruri_str,
		.ruri_p = m->ruri, .status = pc->best_code };
	if (sip_edit_new(m, &a, &r.e) != SIP_OK || strict_route_fixup(&r) < 0 ||
	    route_preprocess(&r) < 0)
		goto out;
	v = cfg_eval(pc->cfg, CFG_ROUTE_FAILURE, &req_ops, &r);
	if (v < 0)
		rp_warn_rl("route failure failed: %s", strerror(-v));
	if (r.replied) {
		took = true;
	} else if (v >= 0 && r.relay) {
		free(pc->fwd);
		pc->fwd = NULL;
		do_relay(&r);
		took = true;
	}
out:
	rp_arena_fini(&a);
	return took;
}

static unsigned cls(unsigned code)
{
	return code / 100;
}

/* §16.7 item 6: 6xx first, else the lowest class (the latest of a class). */
static bool better(unsigned code, unsigned best)
{
	if (!best)
		return true;
	if (cls(best) == 6)
		return false;
	if (cls(code) == 6)
		return true;
	return cls(code) <= cls(best);
}

static void keep_best(struct pctx *pc, const struct sip_msg *resp, unsigned code)
{
	char store[8192];
	rp_arena a;
	struct sip_edit *e;
	rp_str out;

	if (!better(code, pc->best_code))
		return;
	free(pc->best);
	pc->best = NULL;
	pc->best_len = 0;
	pc->best_code = code;
	if (!resp)
		return;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_edit_new(resp, &a, &e) == SIP_OK && trunk_cseq_back(pc, resp, e, &a) &&
	    sip_edit_pop_via(e) == SIP_OK && sip_edit_write_arena(e, &a, &out) == SIP_OK) {
		pc->best = malloc(out.n);
		if (pc->best) {
			memcpy(pc->best, out.p, out.n);
			pc->best_len = out.n;
		}
	}
	rp_arena_fini(&a);
}

static void probe_event(rp_core *c, rp_txn_cli *cl, const struct sip_msg *resp,
	unsigned code, uint64_t now);

/* CANCEL of branch i: now if it answered provisionally, else at its first
 * provisional response (§9.1). Only an INVITE is cancelled (§9): other
 * requests run to their final response. */
static void fork_cancel(rp_core *c, struct pctx *pc, unsigned i, const char *reason,
	uint64_t now)
{
	struct rp_fork_branch *b = &pc->fork->b[i];

	if (b->cancel_sent || !b->cl || pc->method != SIP_METHOD_INVITE)
		return;
	if (b->st == RP_FORK_BR_RINGING) {
		b->cancel_sent = true;
		send_cancel(c, b->cl, reason, now);
	} else if (b->st == RP_FORK_BR_CALLING) {
		b->cancel_wanted = true;
	}
}

/* Every pending branch is cancelled, no later group starts; with nothing
 * pending the caller gets 487 at once. */
static void fork_cancel_all(rp_core *c, rp_txn_srv *s, struct pctx *pc, const char *reason,
	uint64_t now)
{
	struct rp_fork *f = pc->fork;

	f->cancelling = true;
	for (unsigned i = 0; i < f->n; i++)
		fork_cancel(c, pc, i, reason, now);
	if (!rp_fork_pending(f) && !rp_txn_srv_final(s))
		reply_txn(c, s, 487, RP_STR_NULL, NULL, 0, now);
}

/* A failure response as the caller would get it (our Via popped, the
 * caller's CSeq), malloc'd; NULL when it cannot be made. */
static char *resp_copy(struct pctx *pc, const struct sip_msg *resp, size_t *len)
{
	char store[8192];
	rp_arena a;
	struct sip_edit *e;
	rp_str out;
	char *p = NULL;

	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_edit_new(resp, &a, &e) == SIP_OK && trunk_cseq_back(pc, resp, e, &a) &&
	    sip_edit_pop_via(e) == SIP_OK && sip_edit_write_arena(e, &a, &out) == SIP_OK &&
	    (p = malloc(out.n ? out.n : 1)) != NULL) {
		memcpy(p, out.p, out.n);
		*len = out.n;
	}
	rp_arena_fini(&a);
	return p;
}

/* Every branch ended without a 2xx (§16.7 step 6): the best response goes
 * to the caller, after 'route failure' had its say. */
static void fork_finish(rp_core *c, rp_txn_srv *s, struct pctx *pc, uint64_t now)
{
	struct rp_fork *f = pc->fork;
	unsigned codes[RP_FORK_MAX_BRANCHES];
	bool ours[RP_FORK_MAX_BRANCHES];
	struct rp_fork_branch *b;
	unsigned code, out;
	char *txt = NULL;
	size_t txt_len = 0;
	int i;

	for (unsigned k = 0; k < f->n; k++) {
		codes[k] = f->b[k].st == RP_FORK_BR_DONE ? f->b[k].code : 0;
		ours[k] = f->b[k].ours || !f->b[k].resp;
	}
	i = rp_fork_pick(codes, ours, f->n);
	code = i < 0 ? 408 : codes[i];
	if (pc->cancelled && (i < 0 || ours[i]))
		code = 487;
	pc->best_code = code;
	if (!pc->cancelled) {
		/* The script may relay elsewhere (a new fork or target set). */
		pc->fork = NULL;
		if (run_failure_route(c, s, pc, now)) {
			rp_fork_free(f);
			return;
		}
		if (!pc->fork) {
			pc->fork = f;
		} else {
			rp_fork_free(f);
			return;
		}
	}
	out = rp_fork_status_out(code);
	b = i >= 0 && !ours[i] ? &f->b[i] : NULL;
	if (b && (out != code || ((code == 401 || code == 407) && f->auth)))
		rp_fork_final_text(b->resp, b->resp_len, out, out != code ?
			"Server Internal Error" : NULL,
			(code == 401 || code == 407) ? f->auth : NULL, f->auth_len, &txt, &txt_len);
	if (b && !txt) {
		txt = b->resp;
		txt_len = b->resp_len;
		b->resp = NULL;
	}
	if (txt) {
		rp_txn_srv_respond(c->txl, s, out, txt, txt_len, now);
		atomic_fetch_add(&c->st.relayed_responses, 1);
		count_resp(c, out);
		call_failed(c, pc, out);
		media_end(c, pc);
		free(txt);
	} else {
		reply_txn(c, s, out, RP_STR_NULL, NULL, 0, now);
	}
}

/* A client transaction of a fork passes something up (§16.7). */
static void fork_event(rp_core *c, rp_txn_srv *s, struct pctx *pc, rp_txn_cli *cl,
	const struct sip_msg *resp, unsigned code, uint64_t now)
{
	struct rp_fork *f = pc->fork;
	int i = rp_fork_branch_of(f, cl);
	struct rp_fork_branch *b;
	const char *why = f->answered ? RP_FORK_REASON_ELSEWHERE : NULL;

	if (i < 0)
		return;
	b = &f->b[i];
	if (!resp && code == 0) {
		/* Timer C: this branch took too long. */
		if (b->st == RP_FORK_BR_CALLING)
			b->st = RP_FORK_BR_RINGING;   /* CANCEL it now all the same */
		fork_cancel(c, pc, (unsigned)i, NULL, now);
		return;
	}
	if (resp && code < 200) {
		if (b->st == RP_FORK_BR_CALLING)
			b->st = RP_FORK_BR_RINGING;
		if (b->cancel_wanted || pc->cancelled || f->cancelling) {
			fork_cancel(c, pc, (unsigned)i, why, now);
			return;
		}
		if (rp_fork_on_response(code, f->answered) == RP_FORK_RELAY)
			relay_response(c, s, cl, resp, now);
		return;
	}
	b->st = RP_FORK_BR_DONE;
	b->cl = NULL;
	b->code = code;
	b->ours = !resp;
	if (!resp && code == 408)
		atomic_fetch_add(&c->st.timeouts, 1);
	switch (rp_fork_on_response(code, f->answered)) {
	case RP_FORK_RELAY_CANCEL:
		f->answered = true;
		relay_response(c, s, cl, resp, now);
		f->cancelling = true;
		for (unsigned k = 0; k < f->n; k++)
			fork_cancel(c, pc, k, RP_FORK_REASON_ELSEWHERE, now);
		return;
	case RP_FORK_ABSORB_2XX:
		/* The caller has its dialog (and mediad its answer) from the
		 * first 2xx: this callee's dialog ends here, it is not relayed.
		 * A non-INVITE's second 2xx just stays here (one final answer). */
		if (pc->method != SIP_METHOD_INVITE)
			return;
		rp_notice_rl("call %.*s: a second 2xx (branch %d) ACKed and ended with BYE",
			RP_STR_FMT(resp->call_id), i);
		media_reject_2xx(c, pc, resp, cl, rp_txn_srv_shard(s), RP_FORK_REASON_ELSEWHERE,
			now);
		return;
	case RP_FORK_CANCEL_STORE:
		if (!f->answered) {
			f->cancelling = true;
			for (unsigned k = 0; k < f->n; k++)
				fork_cancel(c, pc, k, NULL, now);
		}
		break;
	default:
		break;
	}
	if (resp && !f->answered) {
		b->resp = resp_copy(pc, resp, &b->resp_len);
		if (b->resp && (code == 401 || code == 407) &&
		    rp_fork_auth_collect(f, resp) < 0)
			rp_warn_rl("call %.*s: challenge of branch %d not kept (out of memory)",
				RP_STR_FMT(resp->call_id), i);
	}
	if (rp_fork_pending(f) || f->answered || rp_txn_srv_final(s))
		return;
	if (!f->cancelling && !pc->cancelled) {
		/* This q group failed: the next one. */
		unsigned q[RP_FORK_MAX_BRANCHES];

		for (unsigned k = 0; k < f->n; k++)
			q[k] = f->b[k].q;
		while (f->group_end < f->n) {
			unsigned from = f->group_end;

			f->group_end = rp_fork_group_end(q, f->n, from);
			if (fork_start(c, s, pc, from, now))
				return;
		}
	}
	fork_finish(c, s, pc, now);
}

/* The call's reference of the server transaction 's' goes. */
static void pctx_call_put(rp_core *c, rp_txn_srv *s, struct pctx *pc)
{
	if (pc->call && rp_call_owner(pc->call) == s)
		rp_call_set_owner(pc->call, NULL);
	if (pc->call && !rp_call_answered_p(pc->call))
		rp_calls_end(c->calls, pc->call, 0, "error"); /* no final response went out */
	pc->call = rp_call_put(pc->call);
}

/* The final response went out and no branch is left (nor a fork, nor a
 * DNS answer awaited): what only forwarding and the call's setup needed
 * goes now, not when the transaction ends (Timer J or L: 32 s over UDP,
 * during which it only absorbs retransmissions). */
static void pctx_trim(rp_core *c, rp_txn_srv *s, struct pctx *pc)
{
	if (!rp_txn_srv_final(s) || pc->cur || pc->fork || pc->park_id)
		return;
	if (pc->fwd)
		explicit_bzero(pc->fwd, pc->fwd_len);
	free(pc->fwd);
	pc->fwd = NULL;
	pc->fwd_len = 0;
	park_alt_free(pc);
	free(pc->best);
	pc->best = NULL;
	pc->best_len = 0;
	pctx_call_put(c, s, pc);
}

static void cli_event1(rp_core *c, rp_txn_cli *cl, const struct sip_msg *resp,
	unsigned code, uint64_t now);

static void cli_event(void *arg, rp_txn_cli *cl, const struct sip_msg *resp, unsigned code,
	uint64_t now)
{
	rp_core *c = arg;
	rp_txn_srv *s = rp_txn_cli_parent(cl);

	cli_event1(c, cl, resp, code, now);
	if (s)
		pctx_trim(c, s, rp_txn_srv_user(s));
}

static void cli_event1(rp_core *c, rp_txn_cli *cl, const struct sip_msg *resp,
	unsigned code, uint64_t now)
{
	rp_txn_srv *s = rp_txn_cli_parent(cl);
	struct pctx *pc;

	if (!s && rp_txn_cli_method(cl) == SIP_METHOD_OPTIONS) {
		probe_event(c, cl, resp, code, now);
		return;
	}
	if (!s || rp_txn_cli_method(cl) == SIP_METHOD_CANCEL)
		return;
	pc = rp_txn_srv_user(s);
	if (pc->fork) {
		fork_event(c, s, pc, cl, resp, code, now);
		return;
	}
	if (pc->cur != cl)
		return;
	if (!resp && code == 0) {
		if (!pc->cancel_sent)
			send_cancel(c, cl, NULL, now);       /* Timer C */
		return;
	}
	if (resp && code < 200) {
		if (pc->cancelled && !pc->cancel_sent)
			send_cancel(c, cl, NULL, now);
		if (code > 100)
			relay_response(c, s, cl, resp, now);
		return;
	}
	if (resp && code < 300) {
		pc->cur = NULL;
		relay_response(c, s, cl, resp, now);
		return;
	}
	/* A failure: try the next address, or answer with the best. */
	pc->cur = NULL;
	if (resp && (code == 401 || code == 407) && trunk_retry(c, s, pc, resp, now))
		return;
	if (!resp && code == 408)
		atomic_fetch_add(&c->st.timeouts, 1);
	keep_best(pc, resp, code);
	if (!pc->cancelled && (code == 408 || (code >= 500 && code < 600)) &&
	    pc->next < pc->ntg) {
		atomic_fetch_add(&c->st.failovers, 1);
		rp_trunk_auth_next_address(pc->ta);
		if (start_branch(c, s, pc, now))
			return;
	}
	if (!pc->cancelled && run_failure_route(c, s, pc, now))
		return;
	trunk_dlg_end(c, pc, resp);
	/* §16.7 step 6: a 503 the proxy would forward goes up as 500 (the
	 * caller must not take it as this proxy being unavailable); same
	 * rule as a fork's (rp_fork_status_out). */
	unsigned out = rp_fork_status_out(pc->best_code);

	if (pc->best && out != pc->best_code) {
		char *txt = NULL;
		size_t txt_len = 0;

		if (rp_fork_final_text(pc->best, pc->best_len, out, "Server Internal Error",
		    NULL, 0, &txt, &txt_len) == 0) {
			free(pc->best);
			pc->best = txt;
			pc->best_len = txt_len;
		} else {
			free(pc->best);     /* we make a plain 500 instead */
			pc->best = NULL;
			pc->best_len = 0;
		}
		pc->best_code = out;
	}
	if (pc->best) {
		rp_txn_srv_respond(c->txl, s, pc->best_code, pc->best, pc->best_len, now);
		atomic_fetch_add(&c->st.relayed_responses, 1);
		count_resp(c, pc->best_code);
		call_failed(c, pc, pc->best_code);
		media_end(c, pc);
	} else {
		reply_txn(c, s, pc->cancelled ? 487 : out, RP_STR_NULL, NULL, 0, now);
	}
}

static void cli_gone(void *arg, rp_txn_cli *cl)
{
	rp_txn_srv *s = rp_txn_cli_parent(cl);
	struct pctx *pc;

	(void)arg;
	if (!s)
		return;
	pc = rp_txn_srv_user(s);
	if (pc->cur == cl)
		pc->cur = NULL;
	if (pc->fork) {
		int i = rp_fork_branch_of(pc->fork, cl);

		if (i >= 0)
			pc->fork->b[i].cl = NULL;
	}
}

static void srv_gone(void *arg, rp_txn_srv *s)
{
	struct pctx *pc = rp_txn_srv_user(s);
	rp_core *c = arg;

	atomic_fetch_sub(&c->ntxns, 1);
	if (pc->park_id) {
		struct parked key = { .id = pc->park_id };

		pthread_mutex_lock(&c->park_mu);
		free(rp_hash_remove(c->parked, park_key(&key)));
		pthread_mutex_unlock(&c->park_mu);
	}
	if (pc->fwd)
		explicit_bzero(pc->fwd, pc->fwd_len);
	free(pc->fwd);
	park_alt_free(pc);
	free(pc->best);
	free(pc->m_key);
	free(pc->m_legs);
	if (pc->tg != &pc->tg1)
		free(pc->tg);
	pc->fork = rp_fork_free(pc->fork);
	pc->ta = rp_trunk_auth_free(pc->ta);
	pctx_call_put(c, s, pc);
	pc->mc = rp_media_call_free(pc->mc);
	cfg_put(pc->cfg);
}

static int txl_send(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len)
{
	return core_send(arg, d, buf, len);
}

static const struct rp_txn_ops txl_ops = {
	.send = txl_send,
	.cli_event = cli_event,
	.srv_gone = srv_gone,
	.cli_gone = cli_gone,
};

/* Sends a message by the Via under ours, no transaction (§16.11). */
static void forward_response_stateless(rp_core *c, const struct sip_msg *m)
{
	struct sip_hdr_iter it;
	struct sip_via v;
	struct rp_txn_dest d = { .reply = true };
	char store[8192];
	rp_arena a;
	struct sip_edit *e;
	rp_str out;

	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	if (sip_hdr_iter_next_via(&it, &v, NULL) != SIP_OK ||
	    sip_hdr_iter_next_via(&it, &v, NULL) != SIP_OK ||
	    rp_sipout_via_addr(&v, &d.tp, &d.addr) < 0)
		return;
	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	if (sip_edit_new(m, &a, &e) == SIP_OK && media_stateless(c, m, e, &a) &&
	    trunk_stateless_resp(c, m, e, &a) && sip_edit_pop_via(e) == SIP_OK && sip_edit_write_arena(e, &a, &out) == SIP_OK) {
		core_send(c, &d, out.p, out.n);
		atomic_fetch_add(&c->st.stateless, 1);
		if (c->media && has_sdp(m))
			explicit_bzero((char *)out.p, out.n);
	}
	rp_arena_fini(&a);
}

/* A 2xx without a transaction in a call whose 2xx already went to the
 * caller from another callee dialog (a fork's second 2xx we ended,
 * retransmitted because our ACK was lost): never relayed, its SDP never
 * given to the media layer (it would move the call's media there). */
static bool other_dialog_2xx(rp_core *c, const struct sip_msg *m)
{
	struct rp_call_bye bi;
	struct sip_nameaddr to;
	rp_call *call;
	size_t n;
	char *buf = NULL;
	bool other = false;

	if (!m->to.tag.n || !(call = rp_calls_find(c->calls, m->call_id, m->from.tag)))
		return false;
	/* Sized to fit: with a 4 KB buffer a first 2xx of over 4 KB (long
	 * Contact, many Record-Routes) made every other dialog's 2xx look
	 * like a retransmission of it, relayed with its SDP. */
	if (rp_call_answered_p(call) && (n = rp_call_bye_info_size(call, RP_CALL_B)) > 0) {
		buf = malloc(n);
		if (!buf)   /* cannot tell: not relayed, as a 2xx we cannot place */
			other = true;
		else if (rp_call_bye_info(call, RP_CALL_B, buf, n, &bi) == 0 &&
		    sip_nameaddr_parse(rp_str_cstr(bi.to), &to, NULL) == SIP_OK && to.has_tag &&
		    !rp_str_eq(to.tag, m->to.tag))
			other = true;
	}
	rp_call_put(call);
	if (other)
		rp_info_rl("call %.*s: 2xx of another dialog (To tag %.*s)%s not relayed",
			RP_STR_FMT(m->call_id), RP_STR_FMT(m->to.tag),
			buf ? "" : " or a retransmission (out of memory to tell)");
	free(buf);
	return other;
}

static void handle_response(rp_core *c, const struct rp_msg_info *mi, struct sip_msg *m,
	uint64_t now)
{
	int shard;
	rp_txn_cli *cl;

	atomic_fetch_add(&c->st.responses, 1);
	if (rp_str_has_prefix_case(m->via.branch, STATELESS_PREFIX)) {
		forward_response_stateless(c, m);
		return;
	}
	shard = rp_txn_branch_shard(c->txl, m->via.branch);
	if (shard < 0 || !host_is_listener(c, m->via.host, true,
		m->via.has_port ? m->via.port : 5060)) {
		rp_debug("response with a top Via that is not ours: dropped");
		return;
	}
	rp_txn_lock(c->txl, (unsigned)shard);
	cl = rp_txn_cli_find(c->txl, (unsigned)shard, m);
	if (cl) {
		cur_mi = mi;
		rp_txn_cli_response(c->txl, cl, m, now);
		cur_mi = NULL;
	}
	else if (m->cseq.method == SIP_METHOD_INVITE && m->status >= 200 && m->status < 300 &&
		 !other_dialog_2xx(c, m))
		forward_response_stateless(c, m);   /* a 2xx retransmission */
	rp_txn_unlock(c->txl, (unsigned)shard);
}

/* ---- requests ---- */

static void dns_warmed(void *arg, const struct rp_dns_result *res)
{
	(void)arg;
	(void)res;
}

/* A stateless request (ACK of a 2xx) to a host name: where the resolver
 * last located it (the INVITE's lookup, usually), never waiting; if it
 * does not know, it is asked for the next copy and this one is dropped. */
static int ack_by_name(rp_core *c, const struct sip_uri *u, enum rp_tp tp, rp_addr *out)
{
	struct rp_dns_query q = { .port = u->has_port ? u->port : 0, .tp = tp,
		.tp_given = true, .sips = u->scheme == SIP_SCHEME_SIPS };
	struct rp_dns_result res;

	if (rp_str_copy(u->host, q.name, sizeof(q.name)) < 0 || !q.name[0] || q.name[0] == '[')
		return -EINVAL;
	if (rp_dns_cached(c->resolver, &q, rp_now_ms(), &res) < 0) {
		(void)rp_dns_lookup(c->resolver, &q, dns_warmed, NULL);
		return -EAGAIN;
	}
	if (res.status < 0 || !res.n)
		return -ENOENT;
	*out = res.t[0].addr;
	return 0;
}

/* ACK of a 2xx (and anything else no transaction takes): along the Route
 * set or to the Request-URI, no state (§16.11). */
static void forward_request_stateless(struct req *r)
{
	rp_core *c = r->core;
	const struct sip_msg *m = r->m;
	struct sip_nameaddr na;
	const struct sip_uri *u;
	struct rp_txn_dest d = { .reply = false, .nowait = true };
	rp_addr lout;
	rp_buf b;
	rp_str out;
	char mf[8], br[40], host[256];
	uint64_t h;

	if (strict_route_fixup(r) < 0 || route_preprocess(r) < 0) {
		rp_info_rl("ACK for %.*s dropped: its Route does not parse",
			RP_STR_FMT(m->ruri_str));
		return;
	}
	if (r->have_route) {
		na = r->route0;
		u = &na.uri;
	} else {
		u = &r->ruri_p;
		/* After our own Route values the Request-URI is the remote
		 * target (a Contact), which may well sit on a host in 'domain'
		 * (UAs on the proxy's host): only a listener of ours is us. */
		if (uri_is_us(c, r->cfg, u, r->nroute_rm == 0))
			return;   /* for us and nobody else: nothing to do */
	}
	if (m->max_forwards == 0)
		return;
	d.tp = rp_sipout_uri_tp(u);
	if (rp_sipout_uri_addr(u, d.tp, &d.addr) < 0 && ack_by_name(c, u, d.tp, &d.addr) < 0)
		return;
	if (local_for(c, d.tp, d.addr.u.sa.sa_family, r->mi, &lout) < 0)
		return;
	/* TLS: an existing connection (or its alias) is used; a new one must
	 * verify the host we were asked to reach. */
	if (rp_str_copy(u->host, host, sizeof(host)) < 0)
		return;
	d.tls_domain = host;
	d.reuse = uri_reuse(m);
	if (apply_route_removal(r) < 0)
		return;
	if (r->ruri_changed && sip_edit_set_ruri(r->e, r->ruri) != SIP_OK)
		return;
	if (!media_stateless(c, m, r->e, r->a) || !trunk_stateless_req(r))
		return;
	if (m->h_max_forwards) {
		size_t n = mf_dec(mf, m->max_forwards - 1);

		if (sip_edit_replace_value(r->e, (size_t)(m->h_max_forwards - m->hdrs),
			rp_str_make(mf, n)) != SIP_OK)
			return;
	}
	/* Same branch for every copy of this ACK (retransmissions of the
	 * 2xx bring retransmitted ACKs). */
	h = rp_siphash13(c->key, m->via.branch.p ? m->via.branch.p : "", m->via.branch.n) ^
		rp_siphash13(c->key, m->call_id.p, m->call_id.n);
	memcpy(br, STATELESS_PREFIX, sizeof(STATELESS_PREFIX) - 1);
	hex16(br + sizeof(STATELESS_PREFIX) - 1, h);
	br[sizeof(STATELESS_PREFIX) - 1 + 16] = 0;
	rp_buf_init(&b, 65536);
	rp_sipout_top_via(&b, m, &r->mi->peer);
	if (rp_buf_error(&b) || sip_edit_replace_value(r->e, (size_t)(m->h_via - m->hdrs),
		rp_buf_str(&b)) != SIP_OK)
		goto out;
	rp_buf_reset(&b);
	rp_sipout_via(&b, d.tp, &lout, rp_str_cstr(br));
	if (rp_buf_error(&b) || sip_edit_add_header(r->e, SIP_EDIT_TOP, 0, RP_STR_LIT("Via"),
		rp_buf_str(&b)) != SIP_OK)
		goto out;
	if (sip_edit_write_arena(r->e, r->a, &out) == SIP_OK) {
		core_send(c, &d, out.p, out.n);
		atomic_fetch_add(&c->st.stateless, 1);
		if (c->media && has_sdp(m))
			explicit_bzero((char *)out.p, out.n);
	}
out:
	rp_buf_free(&b);
}

/* Proxy-Require (as a proxy) or Require (where we are the UAS) options we
 * do not support, listed into 'unsup' as an Unsupported header line. */
static bool require_ok(const struct sip_msg *m, enum sip_hdr_id id, const char *known,
	rp_buf *unsup)
{
	struct sip_hdr_iter it;
	rp_str v;
	bool ok = true;

	sip_hdr_iter_init(&it, m, id);
	while (sip_hdr_iter_next(&it, &v)) {
		if (!v.n || (known && rp_str_caseeq_cstr(v, known)))
			continue;
		rp_buf_append_cstr(unsup, ok ? "Unsupported: " : ", ");
		rp_buf_append_str(unsup, v);
		ok = false;
	}
	return ok;
}

/* Strict router before us (§16.4): it put our Record-Route URI in the
 * Request-URI and the real one in the last Route value. */
static int strict_route_fixup(struct req *r)
{
	struct sip_hdr_iter it;
	rp_str v, last = RP_STR_NULL;
	size_t last_hdr = 0, nth = 0, last_nth = 0, cur = SIZE_MAX;
	struct sip_nameaddr na;

	if (!r->m->ruri.lr || !uri_is_us(r->core, r->cfg, &r->m->ruri, false))
		return 0;
	sip_hdr_iter_init(&it, r->m, SIP_HDR_ROUTE);
	while (sip_hdr_iter_next(&it, &v)) {
		if (it.cur != cur) {
			cur = it.cur;
			nth = 0;
		}
		last = v;
		last_hdr = it.cur;
		last_nth = nth++;
	}
	if (!last.n || sip_nameaddr_parse(last, &na, NULL) != SIP_OK)
		return 0;
	if (sip_edit_remove_value(r->e, last_hdr, last_nth) != SIP_OK)
		return -EINVAL;
	return set_ruri(r, na.uri_str);
}

/* A UA on a stream transport often listens nowhere at its Via sent-by and
 * Contact (baresip over TLS without a certificate of its own): what we send
 * there later (the ACK and BYE of a call it answered, calls to its
 * registration) must reuse the connection it opened. RFC 5923's alias
 * without the parameter, which such UAs do not send: kept to the
 * connection's own IP (rp_conn_table_alias refuses others) and to requests
 * that create registrations and dialogs. */
static void stream_alias(const rp_core *c, const struct rp_msg_info *mi,
	const struct sip_msg *m)
{
	char h[64];
	rp_addr sb;

	if (c->send != ws_send || !mi->conn || !mi->w || mi->tp == RP_TP_UDP ||
	    m->via.host_type == SIP_HOST_FQDN ||
	    (m->method != SIP_METHOD_REGISTER && m->method != SIP_METHOD_INVITE &&
	     m->method != SIP_METHOD_SUBSCRIBE))
		return;
	if (rp_str_copy(m->via.host, h, sizeof(h)) != 0 ||
	    rp_addr_parse(h, m->via.has_port ? m->via.port :
		    (mi->tp == RP_TP_TLS ? 5061 : 5060), &sb) != 0 ||
	    rp_addr_port(&sb) == rp_addr_port(&mi->peer))
		return;
	(void)rp_reply_alias(mi, &sb);
}

static void handle_request(rp_core *c, const struct rp_msg_info *mi, struct sip_msg *m,
	rp_arena *a, uint64_t now)
{
	struct req r = { .core = c, .mi = mi, .m = m, .a = a, .now = now };
	rp_txn_srv *s;
	struct pctx *pc;
	struct rp_txn_dest d;
	rp_buf unsup;
	int v;

	atomic_fetch_add(&c->st.requests, 1);
	if ((unsigned)m->method <= SIP_METHOD_UPDATE && c->mx.req[m->method])
		rp_mval_inc(c->mx.req[m->method]);
	r.cfg = cfg_holder_get(&c->holder);
	if (!r.cfg)
		return;
	r.ruri = m->ruri_str;
	r.ruri_p = m->ruri;
	if (sip_edit_new(m, a, &r.e) != SIP_OK)
		goto out;
	r.shard = rp_txn_shard_of(c->txl, m->call_id);
	stream_alias(c, mi, m);

	if (m->method == SIP_METHOD_ACK) {
		rp_txn_lock(c->txl, r.shard);
		s = rp_txn_srv_find(c->txl, r.shard, m, true);
		v = s ? (int)rp_txn_srv_absorb(c->txl, s, m, now) : (int)RP_TXN_ACK_PASS;
		rp_txn_unlock(c->txl, r.shard);
		if (v == RP_TXN_ACK_PASS)
			forward_request_stateless(&r);
		else
			atomic_fetch_add(&c->st.retransmissions, 1);
		goto out;
	}
	rp_txn_lock(c->txl, r.shard);
	if (m->method == SIP_METHOD_CANCEL) {
		s = rp_txn_srv_find(c->txl, r.shard, m, true);
		if (s)
			handle_cancel(&r, s);
		else
			reply_stateless(c, mi, m, r.cfg, 481, NULL, NULL, 0);
		goto unlock;
	}
	s = rp_txn_srv_find(c->txl, r.shard, m, false);
	if (s) {
		rp_txn_srv_absorb(c->txl, s, m, now);
		atomic_fetch_add(&c->st.retransmissions, 1);
		goto unlock;
	}
	if (m->max_forwards == 0) {
		/* §16.3 item 3; OPTIONS may be answered by the proxy itself, but
		 * only one to us with no user and no Route is (below): one to a
		 * user of our domain was relayed with Max-Forwards 0 (zeromf). */
		if (m->method != SIP_METHOD_OPTIONS || m->ruri.user.n ||
		    sip_msg_find(m, SIP_HDR_ROUTE, 0) >= 0 ||
		    !uri_is_us(c, r.cfg, &m->ruri, true)) {
			reply_stateless(c, mi, m, r.cfg, 483, NULL, NULL, 0);
			goto unlock;
		}
	}
	if (is_loop(c, m, req_loop_hash(&r))) {
		atomic_fetch_add(&c->st.loops, 1);
		reply_stateless(c, mi, m, r.cfg, 482, NULL, NULL, 0);
		goto unlock;
	}
	rp_buf_init(&unsup, 4096);
	/* We implement no extension that needs a proxy's support. */
	if (!require_ok(m, SIP_HDR_PROXY_REQUIRE, NULL, &unsup)) {
		rp_str h = rp_buf_str(&unsup);

		reply_stateless(c, mi, m, r.cfg, 420, NULL, rp_buf_error(&unsup) ? NULL : &h,
			rp_buf_error(&unsup) ? 0 : 1);
		rp_buf_free(&unsup);
		goto unlock;
	}
	rp_buf_free(&unsup);

	if (atomic_load(&c->ntxns) >= c->max_txns) {
		static const rp_str ra = RP_STR_LIT("Retry-After: 5");

		atomic_fetch_add(&c->st.overload, 1);
		reply_stateless(c, mi, m, r.cfg, 503, "Server Overloaded", &ra, 1);
		goto unlock;
	}
	reply_dest(mi, m, &d);
	int rc = rp_txn_srv_new(c->txl, r.shard, m, &d, sizeof(struct pctx), now, &s);

	if (rc == -E2BIG) {
		/* A 3,000-byte Via host or branch: the sender's fault, not ours
		 * (it got 500 Server Internal Error; found by sipfuzz.py). */
		rp_info_rl("%.*s from %s: Via branch and sent-by over the transaction key "
			"limit: 400", RP_STR_FMT(m->method_str), rp_tp_name(mi->tp));
		reply_stateless(c, mi, m, r.cfg, 400, "Transaction Key Too Long", NULL, 0);
		goto unlock;
	}
	if (rc < 0) {
		reply_stateless(c, mi, m, r.cfg, 500, NULL, NULL, 0);
		goto unlock;
	}
	atomic_fetch_add(&c->ntxns, 1);
	pc = rp_txn_srv_user(s);
	pc->tg = &pc->tg1;
	pc->cfg = cfg_get(r.cfg);
	pc->method = m->method;
	pc->src = mi->peer;
	pc->in_tp = mi->tp;
	pc->local = mi->local;
	{
		/* Keyed hash of what makes the transaction unique: no syscall,
		 * and nobody without the key can predict it. */
		static const char hx[] = "0123456789abcdef";
		uint64_t t = rp_siphash13(c->key, m->via.raw.p, m->via.raw.n) ^
			rp_siphash13(c->key, m->call_id.p, m->call_id.n) ^ m->cseq.num;

		pc->tag[0] = 'r';
		pc->tag[1] = 'p';
		for (int k = 17; k >= 2; k--, t >>= 4)
			pc->tag[k] = hx[t & 15];
		pc->tag[18] = 0;
	}
	r.stx = s;
	r.pc = pc;

	if (strict_route_fixup(&r) < 0 || route_preprocess(&r) < 0) {
		rp_info_rl("%.*s from %s: Route does not parse: 400 Bad Route",
			RP_STR_FMT(m->method_str), rp_tp_name(mi->tp));
		reply_msg(c, s, m, 400, RP_STR_LIT("Bad Route"), NULL, 0, now);
		goto unlock;
	}
	if (m->method == SIP_METHOD_OPTIONS && !r.have_route && !r.ruri_p.user.n &&
	    uri_is_us(c, r.cfg, &r.ruri_p, true)) {
		static const rp_str allow[] = {
			RP_STR_LIT("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, "
				"UPDATE, INFO, REFER, MESSAGE, SUBSCRIBE, NOTIFY"),
			RP_STR_LIT("Accept: application/sdp"),
		};
		if (!require_refused(&r, NULL))
			reply_msg(c, s, m, 200, RP_STR_NULL, allow, 2, now);
		goto unlock;
	}
	/* §16.3 item 2: a Request-URI scheme we do not understand (RFC 4475
	 * unkscm, novelsc) gets 416, also when the script would send it to a
	 * trunk. urn: stays routable (RFC 5031 urn:service:sos to an ESRP). */
	if (r.ruri_p.scheme == SIP_SCHEME_OTHER &&
	    !rp_str_caseeq_cstr(r.ruri_p.scheme_str, "urn")) {
		rp_info_rl("%.*s from %s: Request-URI scheme %.*s not supported: 416",
			RP_STR_FMT(m->method_str), rp_tp_name(mi->tp),
			(int)(r.ruri_p.scheme_str.n > 32 ? 32 : r.ruri_p.scheme_str.n),
			r.ruri_p.scheme_str.p);
		reply_msg(c, s, m, 416, RP_STR_NULL, NULL, 0, now);
		goto unlock;
	}
	v = cfg_eval(r.cfg, CFG_ROUTE_REQUEST, &req_ops, &r);
	if (v < 0) {
		rp_warn_rl("routing script failed for %.*s %.*s: %s",
			RP_STR_FMT(m->method_str), RP_STR_FMT(m->ruri_str), strerror(-v));
		if (!r.replied)
			reply_msg(c, s, m, 500, RP_STR_LIT("Routing Script Error"), NULL, 0, now);
	} else if (r.relay && !r.replied) {
		do_relay(&r);
	} else if (!r.replied && rp_txn_srv_final(s) == 0) {
		/* END / drop: like Kamailio, falling off the route drops it. */
		rp_debug("%.*s dropped by the routing script (%s)",
			RP_STR_FMT(m->method_str), cfg_verdict_name(v));
		rp_txn_srv_terminate(c->txl, s);
	}
unlock:
	rp_txn_unlock(c->txl, r.shard);
out:
	cfg_put(r.cfg);
}

void rp_core_handle_at(rp_core *c, const struct rp_msg_info *mi, const char *msg,
	size_t len, uint64_t now)
{
	char store[16384];
	struct sip_parse_opts o = { .stream = mi->tp != RP_TP_UDP,
		.lazy_resp_addr_uri = true, .lazy_req_addr_uri = true };
	struct sip_msg *m = NULL;
	struct sip_perr e = { 0 };
	enum sip_err r;
	rp_arena a;

	rp_arena_init(&a, store, sizeof(store), 1u << 20);
	r = sip_msg_parse(msg, len, &a, &o, &m, &e);
	if (r != SIP_OK) {
		char who[64];

		atomic_fetch_add(&c->st.malformed, 1);
		rp_addr_fmt(&mi->peer, who, sizeof(who));
		if (len >= 4 && !memcmp(msg, "SIP/", 4)) {
			/* Nobody to tell about a broken response (§18.1.2). */
			rp_info_rl("dropped malformed response from %s/%s: %s at byte %zu",
				rp_tp_name(mi->tp), who, sip_err_reason(r), e.off);
		} else {
			struct cfg *cfg = cfg_holder_get(&c->holder);
			struct rp_txn_dest d = { .tp = mi->tp, .addr = mi->peer, .reply = true };
			char tag[24];
			rp_buf b;

			rp_info_rl("malformed request from %s/%s: %s at byte %zu",
				rp_tp_name(mi->tp), who, sip_err_reason(r), e.off);
			snprintf(tag, sizeof(tag), "rp400%016llx",
				(unsigned long long)rp_siphash13(c->key, msg, len));
			rp_buf_init(&b, 65536);
			/* SIP/7.0: 505, not 400 (RFC 4475 badvers). */
			bool ver = r == SIP_E_BAD_VERSION;

			if (rp_sipout_error_raw(&b, ver ? 505 : 400, msg, len, ver ?
				"Version Not Supported" : sip_err_reason(r), rp_str_cstr(tag),
				cfg ? server_name(cfg) : RP_STR_LIT("Rampart")) == 0 &&
			    rp_buf_error(&b) == 0)
				core_send(c, &d, b.p, b.len);
			rp_buf_free(&b);
			cfg_put(cfg);
		}
		goto out;
	}
	if (m->is_request)
		handle_request(c, mi, m, &a, now);
	else
		handle_response(c, mi, m, now);
out:
	rp_arena_fini(&a);
}

void rp_core_handle(rp_core *c, const struct rp_msg_info *mi, const char *msg, size_t len)
{
	rp_core_handle_at(c, mi, msg, len, rp_now_ms());
}

void rp_core_on_message(const struct rp_msg_info *mi, const char *msg, size_t len,
	void *arg)
{
	rp_core_handle(arg, mi, msg, len);
}

/* ---- trunk names ---- */

static void probe_configure(rp_core *c, const struct cfg *cfg, uint64_t now);

static bool same_targets(const struct dns_ent *a, const struct rp_dns_result *r)
{
	if (a->n != r->n)
		return false;
	for (unsigned i = 0; i < r->n; i++)
		if (!rp_addr_eq(&a->t[i].addr, &r->t[i].addr) || a->t[i].prio != r->t[i].prio ||
		    a->t[i].weight != r->t[i].weight)
			return false;
	return true;
}

/* A trunk name located again (a resolver thread): its entry replaced, the
 * probes following the addresses. */
static void on_resolved(void *arg, const struct rp_dns_query *q, const struct rp_dns_result *r)
{
	rp_core *c = arg;
	struct dns_ent *de = calloc(1, sizeof(*de)), *old;
	rp_str k;
	bool changed;

	if (!de) {
		rp_warn("dns: %s: out of memory, addresses unchanged", q->name);
		return;
	}
	k = dns_key(q->tp, q->port, q->name, de->key);
	de->resolved = true;
	de->n = r->n;
	memcpy(de->t, r->t, r->n * sizeof(r->t[0]));
	pthread_rwlock_wrlock(&c->dns_mu);
	old = rp_hash_remove(c->dns, k);
	/* No entry: a reload removed the name while it was being resolved
	 * (resolve_trunks places one for every name it wants). */
	if (!old) {
		pthread_rwlock_unlock(&c->dns_mu);
		free(de);
		return;
	}
	de->gen = old->gen;
	changed = !old->resolved || !same_targets(old, r);
	if (rp_hash_insert(c->dns, rp_str_make(de->key, k.n), de) < 0) {
		/* Keep the old answer (its slot was just freed) over losing the
		 * name until the next reload. */
		free(de);
		de = old;
		old = NULL;
		changed = false;
		if (rp_hash_insert(c->dns, rp_str_make(de->key, k.n), de) < 0) {
			free(de);
			changed = true;
		}
	}
	pthread_rwlock_unlock(&c->dns_mu);
	free(old);
	if (!changed)
		return;
	if (r->status < 0) {
		rp_warn("dns: %s: %s; its trunk addresses are skipped", q->name,
			r->status == -ENOENT ? "no such name or no address" : strerror(-r->status));
	} else {
		char first[64] = "";

		if (r->n)
			rp_addr_fmt(&r->t[0].addr, first, sizeof(first));
		rp_info("dns: %s (%s) located at %u address(es), first %s, for %u s", q->name,
			rp_tp_name(q->tp), r->n, first, r->ttl);
	}
	/* Probes follow the addresses (their state is kept per address). */
	struct cfg *cfg = cfg_holder_get(&c->holder);

	if (cfg) {
		pthread_mutex_lock(&c->probe_mu);
		probe_configure(c, cfg, rp_now_ms());
		pthread_mutex_unlock(&c->probe_mu);
		cfg_put(cfg);
	}
}

/* Settings to resolver configuration (servers are numeric: checked). */
static void dns_cfg_of(const struct cfg_settings *st, struct rp_dns_cfg *dc)
{
	memset(dc, 0, sizeof(*dc));
	for (unsigned i = 0; i < st->ndns_servers && dc->nservers < RP_DNS_MAX_SERVERS; i++)
		if (rp_addr_parse(st->dns_servers[i], st->dns_ports[i],
			&dc->servers[dc->nservers]) == 0)
			dc->nservers++;
	dc->timeout_ms = st->dns_timeout_ms;
	dc->attempts = st->dns_attempts;
	dc->cache.min_ttl = st->dns_min_ttl;
	dc->cache.max_ttl = st->dns_max_ttl;
	dc->cache.max_entries = st->dns_cache_size;
}

/* Hands the trunk addresses of 'cfg' given as names to the resolver, which
 * keeps them located (dns.h), and waits for the new ones a bounded time
 * (the thread installing a config, never a worker): a name still
 * unresolved then is skipped by failover until its answer arrives. */
static void resolve_trunks(rp_core *c, const struct cfg *cfg)
{
	struct rp_dns_query *q = NULL;
	size_t n = 0, cap = 0;
	const struct cfg_settings *st = cfg_settings(cfg);
	uint64_t wait;

	for (size_t i = 0; i < cfg_trunk_count(cfg); i++) {
		const struct cfg_trunk *t = cfg_trunk_at(cfg, i);

		for (unsigned k = 0; k < t->naddrs; k++) {
			const char *host = t->addrs[k].host;
			rp_addr probe;

			if (rp_addr_parse(host, 5060, &probe) == 0 || strlen(host) >= sizeof(q->name))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				struct rp_dns_query *nq = realloc(q, nc * sizeof(*q));

				if (!nq) {
					rp_warn("trunk names: out of memory, not resolved");
					free(q);
					return;
				}
				q = nq;
				cap = nc;
			}
			memset(&q[n], 0, sizeof(q[n]));
			snprintf(q[n].name, sizeof(q[n].name), "%s", host);
			q[n].port = t->addrs[k].port;
			q[n].tp = tp_of_cfg(t->transport);
			q[n].tp_given = true;
			n++;
		}
	}
	/* Every wanted name gets its entry (a placeholder until answered)
	 * before the resolver may answer; entries of names no longer wanted
	 * go once the resolver stopped watching them. */
	pthread_rwlock_wrlock(&c->dns_mu);
	c->dns_gen++;
	for (size_t i = 0; i < n; i++) {
		struct dns_ent *de;
		char kb[300];
		rp_str k = dns_key(q[i].tp, q[i].port, q[i].name, kb);

		de = rp_hash_find(c->dns, k);
		if (!de && (de = calloc(1, sizeof(*de))) != NULL) {
			memcpy(de->key, kb, k.n + 1);
			if (rp_hash_insert(c->dns, rp_str_make(de->key, k.n), de) < 0) {
				free(de);
				de = NULL;
			}
		}
		if (de)
			de->gen = c->dns_gen;
		else
			rp_warn("trunk names: out of memory, %s not resolved", q[i].name);
	}
	pthread_rwlock_unlock(&c->dns_mu);
	if (rp_dns_watch_set(c->resolver, q, n, on_resolved, c) < 0) {
		rp_warn("trunk names: out of memory, the previous names are kept");
	} else {
		rp_hash_iter it;
		rp_str k;
		void *v;

		pthread_rwlock_wrlock(&c->dns_mu);
		rp_hash_iter_init(c->dns, &it);
		while (rp_hash_iter_next(&it, &k, &v))
			if (((struct dns_ent *)v)->gen != c->dns_gen) {
				rp_hash_remove(c->dns, k);
				free(v);
			}
		pthread_rwlock_unlock(&c->dns_mu);
	}
	free(q);
	wait = (uint64_t)st->dns_timeout_ms * st->dns_attempts *
		(st->ndns_servers ? st->ndns_servers : 1) * 4 + 200;
	if (n && rp_dns_watch_wait(c->resolver, (uint32_t)(wait < DNS_WAIT_MAX_MS ? wait :
		DNS_WAIT_MAX_MS)) < 0)
		rp_warn("trunk names: DNS is slow; the config is installed, names not yet "
			"resolved are skipped until they are");
}

/* ---- trunk probing (probe.h) ---- */

#define PROBE_MAGIC 0x70726f62u

/* The user area of a probe's client transaction. */
struct probe_ref {
	uint32_t magic;
	uint32_t id;
};

/* The addresses of the config's probed trunks (names as resolved). */
static void probe_configure(rp_core *c, const struct cfg *cfg, uint64_t now)
{
	struct rp_probe_addr *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < cfg_trunk_count(cfg); i++) {
		const struct cfg_trunk *t = cfg_trunk_at(cfg, i);
		enum rp_tp tp = tp_of_cfg(t->transport);

		if (!t->probe_interval_s)
			continue;
		for (unsigned k = 0; k < t->naddrs; k++) {
			uint16_t port = t->addrs[k].port ? t->addrs[k].port :
				(tp == RP_TP_TLS ? 5061 : 5060);
			rp_addr a[RP_DNS_MAX_TARGETS];
			unsigned na = 0;
			char kb[300];

			if (rp_addr_parse(t->addrs[k].host, port, &a[0]) == 0) {
				na = 1;
			} else {
				struct dns_ent *de;

				pthread_rwlock_rdlock(&c->dns_mu);
				de = rp_hash_find(c->dns, dns_key(tp, t->addrs[k].port,
					t->addrs[k].host, kb));
				for (unsigned j = 0; de && j < de->n; j++)
					a[na++] = de->t[j].addr;
				pthread_rwlock_unlock(&c->dns_mu);
			}
			for (unsigned j = 0; j < na; j++) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 16;
					struct rp_probe_addr *nv = realloc(v, nc * sizeof(*v));

					if (!nv) {
						rp_warn("trunk probing: out of memory, probes unchanged");
						free(v);
						return;
					}
					v = nv;
					cap = nc;
				}
				v[n++] = (struct rp_probe_addr){ .trunk = t->name,
					.host = t->tls.server_name && tp == RP_TP_TLS ?
						t->tls.server_name : t->addrs[k].host,
					.port = rp_addr_port(&a[j]), .tp = tp, .addr = a[j],
					.interval_ms = t->probe_interval_s * 1000u,
					.down_after = t->probe_down_after,
					.up_after = t->probe_up_after };
			}
		}
	}
	if (rp_probe_set(c->probe, v, n, now) < 0)
		rp_warn("trunk probing: out of memory, probes unchanged");
	free(v);
}

/* A name that lives as long as the core (a transaction's tls_domain is
 * borrowed and may outlive the config the name came from). */
static const char *probe_name(rp_core *c, const char *host)
{
	char *v;

	pthread_mutex_lock(&c->pn_mu);
	v = rp_hash_find(c->pnames, rp_str_cstr(host));
	if (!v && rp_hash_count(c->pnames) < 4096 && (v = strdup(host)) &&
	    rp_hash_insert(c->pnames, rp_str_cstr(v), v) < 0) {
		free(v);
		v = NULL;
	}
	pthread_mutex_unlock(&c->pn_mu);
	return v;
}

/* Sends one OPTIONS on its own client transaction (no parent). */
static void probe_send(rp_core *c, const struct rp_probe_send *ps, uint64_t now)
{
	struct cfg *cfg = cfg_holder_get(&c->holder);
	struct rp_msg_info mi = { .tp = ps->tp, .udp_fd = -1 };
	struct rp_txn_dest d = { .tp = ps->tp, .addr = ps->addr };
	char br[RP_TXN_BRANCH_LEN], cid[48], tag[24], host[300];
	const char *why = NULL;
	uint8_t rnd[16];
	rp_addr lout;
	rp_buf b;
	rp_txn_cli *cl = NULL;
	unsigned shard;
	int rc, fd;

	/* The source address the kernel would use, for a wildcard listener. */
	fd = socket(ps->addr.u.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		socklen_t sl = sizeof(mi.local.u);

		if (connect(fd, &ps->addr.u.sa, ps->addr.len) == 0 &&
		    getsockname(fd, &mi.local.u.sa, &sl) == 0)
			mi.local.len = sl;
		close(fd);
	}
	if (local_for(c, ps->tp, ps->addr.u.sa.sa_family, &mi, &lout) < 0) {
		why = "no listener for its transport and family";
		goto fail;
	}
	if (rp_rand_bytes(rnd, sizeof(rnd)) < 0) {
		why = "no randomness";
		goto fail;
	}
	snprintf(cid, sizeof(cid), "rpprobe-%016llx@rampart",
		(unsigned long long)rp_siphash13(c->key, rnd, 8));
	snprintf(tag, sizeof(tag), "rp%016llx",
		(unsigned long long)rp_siphash13(c->key, rnd + 8, 8));
	snprintf(host, sizeof(host), strchr(ps->host, ':') ? "[%s]:%u" : "%s:%u", ps->host,
		ps->port);
	if (ps->tp == RP_TP_TLS && !(d.tls_domain = probe_name(c, ps->host))) {
		why = "out of memory";
		goto fail;
	}
	if (ps->tp == RP_TP_TLS) {
		const struct cfg_trunk *t = cfg_trunk_find(cfg, rp_str_cstr(ps->trunk));

		if (t) {
			d.tls_store = trunk_tls(c, t, ps->tp);
			if (t->tls.server_name && !(d.tls_domain = probe_name(c, t->tls.server_name))) {
				why = "out of memory";
				goto fail;
			}
		}
	}
	shard = rp_txn_shard_of(c->txl, rp_str_cstr(cid));
	if (rp_txn_branch(c->txl, shard, 0, br) < 0) {
		why = "no branch";
		goto fail;
	}
	rp_buf_init(&b, 4096);
	rp_buf_printf(&b, "OPTIONS sip:%s%s%s SIP/2.0\r\nVia: ", host,
		ps->tp == RP_TP_UDP ? "" : ";transport=", ps->tp == RP_TP_UDP ? "" :
		rp_tp_name(ps->tp));
	rp_sipout_via(&b, ps->tp, &lout, rp_str_make(br, sizeof(br)));
	rp_buf_printf(&b, "\r\nMax-Forwards: 70\r\nFrom: <sip:rampart@%s>;tag=%s\r\n"
		"To: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nUser-Agent: %.*s\r\n"
		"Accept: application/sdp\r\nContent-Length: 0\r\n\r\n", host, tag, host, cid,
		RP_STR_FMT(cfg ? server_name(cfg) : RP_STR_LIT("Rampart")));
	rc = rp_buf_error(&b);
	/* The branch as it sits in the message (br has no NUL). */
	const char *bp = rc == 0 ? memmem(b.p, b.len, br, sizeof(br)) : NULL;
	if (rc == 0 && !bp)
		rc = -EINVAL;
	if (rc == 0) {
		rp_txn_lock(c->txl, shard);
		rc = rp_txn_cli_new(c->txl, shard, NULL, SIP_METHOD_OPTIONS,
			rp_str_make(bp, sizeof(br)), &d, b.p, b.len,
			sizeof(struct probe_ref), now, &cl);
		if (rc == 0)
			*(struct probe_ref *)rp_txn_cli_user(cl) =
				(struct probe_ref){ .magic = PROBE_MAGIC, .id = ps->id };
		rp_txn_unlock(c->txl, shard);
	}
	rp_buf_free(&b);
	cfg_put(cfg);
	if (rc < 0) {
		why = strerror(-rc);
		goto fail_nocfg;
	}
	return;
fail:
	cfg_put(cfg);
fail_nocfg:
	rp_debug("probe of %s not sent: %s", ps->host, why);
	(void)rp_probe_result(c->probe, ps->id, 0, "not sent", now, NULL);
}

static void probe_event(rp_core *c, rp_txn_cli *cl, const struct sip_msg *resp,
	unsigned code, uint64_t now)
{
	struct probe_ref *pr = rp_txn_cli_user(cl);
	struct rp_probe_info info;
	char what[48], a[64];
	int st;

	if (!pr || pr->magic != PROBE_MAGIC || (resp && code < 200))
		return;
	pr->magic = 0;
	if (resp)
		snprintf(what, sizeof(what), "%u %.*s", code,
			(int)(resp->reason.n > 30 ? 30 : resp->reason.n), resp->reason.p);
	else
		snprintf(what, sizeof(what), "%s", code == 408 ? "timeout" : "transport error");
	st = rp_probe_result(c->probe, pr->id, resp ? code : 0, what, now, &info);
	if (st < 0)
		return;
	rp_addr_fmt(&info.addr, a, sizeof(a));
	if (st == RP_PROBE_DOWN)
		rp_warn("trunk %s: %s (%s) is down: %u probe(s) failed in a row, last: %s",
			info.trunk, a, info.host, info.fails, info.last);
	else
		rp_notice("trunk %s: %s (%s) is %s (%s)", info.trunk, a, info.host,
			rp_probe_state_name((enum rp_probe_state)st), info.last);
	if (c->mx.trunk_up) {
		const char *lv[2] = { info.trunk, a };
		struct rp_mval *v;

		if (rp_metric_with(c->mx.trunk_up, lv, &v) == 0)
			rp_mval_set(v, st == RP_PROBE_UP);
	}
}

static void probe_tick(rp_core *c, uint64_t now)
{
	struct rp_probe_send ps[16];
	size_t n = rp_probe_due(c->probe, now, ps, 16);

	for (size_t i = 0; i < n; i++)
		probe_send(c, &ps[i], now);
}

rp_probe *rp_core_probe(rp_core *c)
{
	return c->probe;
}

/* ---- life cycle ---- */

void rp_core_set_listeners(rp_core *c, const struct rp_listen *l, size_t n)
{
	pthread_mutex_lock(&c->lmu);
	c->nlisten = n < RP_MAX_LISTEN ? n : RP_MAX_LISTEN;
	memcpy(c->listen, l, c->nlisten * sizeof(*l));
	for (size_t i = 0; i < c->nlisten; i++) {
		rp_addr_host(&c->listen[i].addr, c->lhost[i], sizeof(c->lhost[i]));
		c->lwild[i] = !strcmp(c->lhost[i], "0.0.0.0") || !strcmp(c->lhost[i], "::");
	}
	pthread_mutex_unlock(&c->lmu);
}

int rp_core_new(const struct rp_core_cfg *cc, rp_workers *ws, rp_core **out)
{
	const struct cfg_settings *st;
	struct rp_txn_cfg tc = { 0 };
	rp_core *c;
	int rc;

	if (!cc || !cc->cfg)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	st = cfg_settings(cc->cfg);
	if (cc->metrics)
		c->mx = *cc->metrics;
	tc.t1_ms = cc->t1_ms ? cc->t1_ms : st->timer_t1_ms;
	tc.t2_ms = cc->t2_ms ? cc->t2_ms : st->timer_t2_ms;
	tc.t4_ms = cc->t4_ms ? cc->t4_ms : st->timer_t4_ms;
	tc.timer_c_ms = cc->timer_c_ms;
	tc.shards = cc->shards;
	struct rp_reg_opts ro = { .min_expires = st->reg_min_expires,
		.max_expires = st->reg_max_expires, .default_expires = st->reg_default_expires };
	rc = rp_rand_bytes(c->key, sizeof(c->key));
	if (rc == 0)
		rc = rp_txn_layer_new(&tc, &txl_ops, c, &c->txl);
	if (rc == 0)
		rc = rp_registrar_new(&ro, &c->reg);
	if (rc == 0)
		rc = rp_auth_new(NULL, &c->auth);
	if (rc == 0)
		rc = rp_hash_new(16, 0, &c->dns);
	if (rc == 0)
		rc = rp_hash_new(64, 0, &c->parked);
	if (rc == 0) {
		struct rp_dns_cfg dc;

		dns_cfg_of(st, &dc);
		rc = rp_dns_new(&dc, &c->resolver);
	}
	if (rc == 0)
		rc = rp_trunk_dlgs_new(0, 0, &c->tdlg);
	if (rc == 0)
		rc = rp_probe_new(&c->probe);
	if (rc == 0)
		rc = rp_hash_new(16, 0, &c->pnames);
	if (rc == 0 && cc->media)
		rc = rp_media_calls_new(cc->media, 0, &c->media);
	if (rc == 0) {
		struct rp_calls_cfg kc = { 0 };

		if (cc->calls)
			kc = *cc->calls;
		kc.total = c->mx.calls_total;
		memcpy(kc.refused, c->mx.refused, sizeof(kc.refused));
		rc = rp_calls_new(&kc, &c->calls);
	}
	if (rc < 0) {
		rp_hash_free(c->pnames);
		rp_probe_free(c->probe);
		rp_trunk_dlgs_free(c->tdlg);
		rp_media_calls_free(c->media);
		rp_dns_free(c->resolver);
		rp_hash_free(c->parked);
		rp_hash_free(c->dns);
		rp_auth_free(c->auth);
		rp_registrar_free(c->reg);
		rp_txn_layer_free(c->txl);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->lmu, NULL);
	pthread_rwlock_init(&c->dns_mu, NULL);
	pthread_mutex_init(&c->pn_mu, NULL);
	pthread_mutex_init(&c->probe_mu, NULL);
	pthread_mutex_init(&c->park_mu, NULL);
	cfg_holder_init(&c->holder, cfg_get(cc->cfg));
	resolve_trunks(c, cc->cfg);
	pthread_mutex_lock(&c->probe_mu);
	probe_configure(c, cc->cfg, rp_now_ms());
	pthread_mutex_unlock(&c->probe_mu);
	atomic_init(&c->ws, ws);
	c->trunk_tls = cc->trunk_tls;
	c->trunk_tls_arg = cc->trunk_tls_arg;
	c->send = cc->send ? cc->send : ws_send;
	c->send_arg = cc->send ? cc->send_arg : c;
	c->max_txns = cc->max_txns ? cc->max_txns : 262144;
	if (cc->listen)
		rp_core_set_listeners(c, cc->listen, cc->nlisten);
	*out = c;
	return 0;
}

void rp_core_free(rp_core *c)
{
	if (!c)
		return;
	if (c->thr_started) {
		atomic_store(&c->stop, true);
		pthread_join(c->thr, NULL);
	}
	/* First: its threads call on_resolved. */
	rp_dns_free(c->resolver);
	rp_txn_layer_free(c->txl);      /* srv_gone empties c->parked */
	rp_hash_free(c->parked);
	pthread_mutex_destroy(&c->park_mu);
	rp_calls_free(c->calls);
	rp_media_calls_free(c->media);
	rp_registrar_free(c->reg);
	rp_auth_free(c->auth);
	rp_trunk_dlgs_free(c->tdlg);
	rp_probe_free(c->probe);
	if (c->pnames) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		rp_hash_iter_init(c->pnames, &it);
		while (rp_hash_iter_next(&it, &k, &v)) {
			rp_hash_remove(c->pnames, k);
			free(v);
		}
		rp_hash_free(c->pnames);
	}
	pthread_mutex_destroy(&c->pn_mu);
	if (c->dns) {
		rp_hash_iter it;
		rp_str k;
		void *v;

		rp_hash_iter_init(c->dns, &it);
		while (rp_hash_iter_next(&it, &k, &v)) {
			rp_hash_remove(c->dns, k);
			free(v);
		}
		rp_hash_free(c->dns);
	}
	pthread_rwlock_destroy(&c->dns_mu);
	pthread_mutex_destroy(&c->probe_mu);
	cfg_holder_fini(&c->holder);
	pthread_mutex_destroy(&c->lmu);
	free(c);
}

void rp_core_get_dns_stats(rp_core *c, struct rp_core_dns_stats *st)
{
	rp_dns_get_stats(c->resolver, &st->resolver);
	pthread_mutex_lock(&c->park_mu);
	st->waiting = rp_hash_count(c->parked);
	pthread_mutex_unlock(&c->park_mu);
	pthread_rwlock_rdlock(&c->dns_mu);
	st->trunk_names = rp_hash_count(c->dns);
	pthread_rwlock_unlock(&c->dns_mu);
}

void rp_core_set_workers(rp_core *c, rp_workers *ws)
{
	atomic_store(&c->ws, ws);
}

void rp_core_set_cfg(rp_core *c, struct cfg *cfg)
{
	struct rp_dns_cfg dc;

	dns_cfg_of(cfg_settings(cfg), &dc);
	if (rp_dns_reconfigure(c->resolver, &dc) < 0)
		rp_warn("dns: the new resolver settings are invalid; kept the old ones");
	resolve_trunks(c, cfg);
	cfg_holder_swap(&c->holder, cfg_get(cfg));
	pthread_mutex_lock(&c->probe_mu);
	probe_configure(c, cfg, rp_now_ms());
	pthread_mutex_unlock(&c->probe_mu);
}

void rp_core_tick(rp_core *c, uint64_t now)
{
	uint64_t next = atomic_load(&c->next_sweep);

	rp_txn_expire(c->txl, now);
	probe_tick(c, now);
	if (now >= next && atomic_compare_exchange_strong(&c->next_sweep, &next, now + 1000))
		rp_registrar_sweep(c->reg, now);
}

static void *timer_main(void *arg)
{
	rp_core *c = arg;
	/* 20 ms: SIP's timers are T1 = 500 ms and up, and each tick is a
	 * wake-up of this thread and a pass over every shard (at 5 ms this
	 * thread made a third of the proxy's context switches under load). */
	const struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (!atomic_load(&c->stop)) {
		rp_core_tick(c, rp_now_ms());
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int rp_core_start_timers(rp_core *c)
{
	int rc;

	if (c->thr_started)
		return -EALREADY;
	rc = pthread_create(&c->thr, NULL, timer_main, c);
	if (rc)
		return -rc;
	c->thr_started = true;
	return 0;
}

struct rp_registrar *rp_core_registrar(rp_core *c)
{
	return c->reg;
}

size_t rp_core_calls_active(rp_core *c)
{
	return rp_calls_count(c->calls);
}

void rp_core_get_stats(rp_core *c, struct rp_core_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->requests = atomic_load(&c->st.requests);
	st->responses = atomic_load(&c->st.responses);
	st->malformed = atomic_load(&c->st.malformed);
	st->retransmissions = atomic_load(&c->st.retransmissions);
	st->forwarded = atomic_load(&c->st.forwarded);
	st->relayed_responses = atomic_load(&c->st.relayed_responses);
	st->local_replies = atomic_load(&c->st.local_replies);
	st->timeouts = atomic_load(&c->st.timeouts);
	st->failovers = atomic_load(&c->st.failovers);
	st->loops = atomic_load(&c->st.loops);
	st->cancels = atomic_load(&c->st.cancels);
	st->stateless = atomic_load(&c->st.stateless);
	st->overload = atomic_load(&c->st.overload);
	rp_txn_count(c->txl, &st->server_txns, &st->client_txns);
}

size_t rp_core_dump_txns(rp_core *c, rp_buf *b, size_t max)
{
	return rp_txn_dump(c->txl, b, max);
}
