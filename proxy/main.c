/* rampart-proxy: start-up, signals, control socket, and the hand-off of
 * every received message to the proxy core (core.h). With --no-core (or if
 * the core cannot start) a minimal built-in responder answers instead:
 * OPTIONS to the proxy itself gets 200, a request the parser refuses gets
 * 400 with the parser's reason, other requests get 404 / 501, unparsable
 * responses are dropped (RFC 3261 18.1.2 / 16.3).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_check.h"
#include "cfg_default.h"
#include "cfg_diag.h"
#include "calls_ctl.h"
#include "cfg_prog.h"
#include "core.h"
#include "ctl.h"
#include "media.h"
#include "mediactl.h"
#include "mediaev.h"
#include "probe.h"
#include "registrar.h"
#include "rp_time.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_cdr.h"
#include "rp_hash.h"
#include "rp_httpd.h"
#include "rp_log.h"
#include "rp_metrics.h"
#include "rp_version.h"
#include "sip_msg.h"
#include "sipout.h"
#include "tls.h"
#include "tlsctl.h"
#include "transport.h"
#include "worker.h"

#define MAX_DOMAINS 16

/* Key for To tags: random per process (set once in main). */
static uint8_t tag_key[16];

/* Which --tls-* options the command line gave (they win over the config). */
struct tls_cli {
	bool cert, ca, ca_dir, ciphers, verify;
};

struct proxy {
	struct rp_transport_cfg tcfg;
	const char *domains[MAX_DOMAINS];
	size_t n_domains;
	char hostname[256];
	uint8_t tag_key[16];
	rp_workers *ws;
	rp_tlsctl *tlsctl;          /* TLS stores, tls.* commands, TLS metrics */
	/* The config's listen line behind each tcfg.listen[i] (NULL: --listen). */
	const struct cfg_listen *lcfg[RP_MAX_LISTEN];
	/* A config reload compares against these: each listen line as
	 * configured (port 0 unresolved; from_cfg false: --listen), each TLS
	 * listener's and the outbound settings as built (rp_tls_cfg_sig). */
	struct rp_listen lconf[RP_MAX_LISTEN];
	bool from_cfg[RP_MAX_LISTEN];
	char *tls_sig[RP_MAX_LISTEN];
	char *client_sig;
	struct tls_cli tcli;
	const char *auto_cert, *auto_key; /* generated for cert = auto; NULL: none */
	_Atomic(rp_core *) core;    /* NULL: the built-in minimal responder */
	struct media_link *media;   /* rampart-mediad; NULL: media not relayed */
	/* Control-socket state, touched only by the main thread. */
	const char *config_path;    /* --config made absolute (ours); NULL: default */
	struct cfg *cfg;            /* the config in force (one reference) */
	uint64_t start_ms;          /* rp_now_ms() at start, for uptime-s */
	rp_metrics *metrics;        /* NULL: no --metrics-listen */
	struct rp_core_metrics mx;  /* cells in 'metrics' the core bumps */
	rp_cdr *cdr;                /* NULL: no cdr_file */
	rp_mediaev *mev;            /* mediad's timeout events; NULL: no media */
	bool log_cli;               /* --log-level given: it wins over log_level */
};

/* The core's media backend: rampart-mediad through one rp_mediactl,
 * opened lazily so the proxy starts (and calls without SDP work) while
 * mediad is down; once open, mediactl reconnects by itself. */
struct media_link {
	pthread_mutex_t mu;
	char path[256];
	rp_mediactl *mc;
	bool warned;                /* the failure to connect was logged */
	struct rp_media_backend be;
};

static rp_mediactl *media_link_get(struct media_link *l)
{
	rp_mediactl *mc;
	int rc = 0;

	bool log_down = false, log_up = false;

	pthread_mutex_lock(&l->mu);
	if (!l->mc) {
		rc = rp_mediactl_open(l->path, 2000, &l->mc);
		/* Once per outage: the core logs each refused call anyway. */
		log_down = rc < 0 && !l->warned;
		log_up = rc == 0 && l->warned;
		l->warned = rc < 0;
	}
	mc = l->mc;
	pthread_mutex_unlock(&l->mu);
	if (log_down)
		rp_warn("rampart-mediad unreachable at %s (%s): calls with SDP are "
			"refused with 503", l->path, strerror(-rc));
	if (log_up)
		rp_notice("media relay: connected to rampart-mediad at %s", l->path);
	return mc;
}

static int ml_create(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
	struct rp_mediactl_local *a, struct rp_mediactl_local *b)
{
	rp_mediactl *mc = media_link_get(arg);

	return mc ? rp_mediactl_create(mc, label, ip6_a, ip6_b, id, a, b) : -ECONNREFUSED;
}

static int ml_update(void *arg, uint64_t id, const struct rp_mediactl_leg *leg)
{
	rp_mediactl *mc = media_link_get(arg);

	return mc ? rp_mediactl_leg_update(mc, id, leg) : -ECONNREFUSED;
}

static int ml_update2(void *arg, uint64_t id, const struct rp_mediactl_leg *a,
	const struct rp_mediactl_leg *b)
{
	rp_mediactl *mc = media_link_get(arg);

	return mc ? rp_mediactl_session_update(mc, id, a, b) : -ECONNREFUSED;
}

static int ml_del(void *arg, uint64_t id)
{
	rp_mediactl *mc = media_link_get(arg);

	return mc ? rp_mediactl_delete(mc, id) : -ECONNREFUSED;
}

/* The call registry's final counters for a CDR (calls.h). */
static int ml_stats(void *arg, uint64_t id, struct rp_call_media_stats *a,
	struct rp_call_media_stats *b)
{
	struct rp_mediactl_leg_state s[2];
	rp_mediactl *mc = media_link_get(arg);
	int rc = mc ? rp_mediactl_query(mc, id, &s[0], &s[1]) : -ECONNREFUSED;

	for (int i = 0; rc == 0 && i < 2; i++) {
		struct rp_call_media_stats *o = i ? b : a;

		o->packets_in = s[i].packets_in;
		o->packets_out = s[i].packets_out;
		o->bytes_in = s[i].bytes_in;
		o->bytes_out = s[i].bytes_out;
		o->auth_failures = s[i].auth_failures;
		o->lost = s[i].packets_lost;
		o->malformed = s[i].malformed;
	}
	return rc;
}

static void media_link_free(struct media_link *l)
{
	if (!l)
		return;
	rp_mediactl_close(l->mc);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* The media link for the core, or NULL when media is not relayed
 * (mediad_socket = "none": signaling only, SDP passes unchanged). Without
 * that explicit setting an unreachable mediad means 503 for calls with SDP:
 * passing SDP through silently could carry keys where they must not go. */
static struct media_link *media_link_new(const struct cfg *cfg)
{
	const char *path = cfg_settings(cfg)->mediad_socket;
	struct media_link *l;
	int rc;

	if (!path || !*path || !strcmp(path, "none")) {
		rp_notice("mediad_socket = none: SDP bodies pass unchanged (no media relay)");
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l || strlen(path) >= sizeof(l->path)) {
		free(l);
		rp_err("mediad_socket: cannot use '%s'", path);
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	snprintf(l->path, sizeof(l->path), "%s", path);
	rc = rp_mediactl_open(l->path, 2000, &l->mc);
	if (rc < 0) {
		rp_warn("rampart-mediad not reachable at %s (%s): calls with SDP get 503 "
			"until it is", path, strerror(-rc));
		l->warned = true;
	}
	else
		rp_notice("media relay: rampart-mediad at %s", path);
	l->be.create = ml_create;
	l->be.update = ml_update;
	l->be.update2 = ml_update2;
	l->be.del = ml_del;
	l->be.arg = l;
	return l;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: rampart-proxy [options]\n"
"  (no options)           run the embedded default: UDP+TCP 127.0.0.1:5060,\n"
"                         TLS 127.0.0.1:5061 with a generated self-signed cert\n"
"  --config FILE          run with a configuration file\n"
"  --check FILE           check a configuration file and exit (0 ok, 1 errors)\n"
"  --listen PROTO:ADDR[:PORT]  listener (udp|tcp|tls; repeatable; replaces\n"
"                         the configuration's listeners)\n"
"  --workers N            worker threads (default: one per CPU)\n"
"  --tls-cert FILE --tls-key FILE   server certificate chain and key (PEM)\n"
"  --tls-ca FILE --tls-ca-dir DIR   CAs for client certificates\n"
"  --tls-ciphers LIST     TLS 1.2 cipher list\n"
"  --tls-verify-client    mutual TLS: require a client certificate\n"
"  --domain NAME          a domain that is this proxy (repeatable)\n"
"  --state-dir DIR        where a generated certificate goes (/run/rampart)\n"
"  --control PATH         control socket (default /run/rampart/proxy.sock;\n"
"                         'none' for no control socket)\n"
"  --idle-timeout SEC --max-conns N --max-conns-per-ip N --handshake-timeout SEC\n"
"  --log-level err|warn|notice|info|debug\n"
"  --metrics-listen ADDR:PORT  serve Prometheus text at http://ADDR:PORT/metrics\n"
"                         (numeric address; port 0 = any free one, logged;\n"
"                         default: no metrics server)\n"
"  --no-core              answer with the built-in minimal responder only\n"
"                         (OPTIONS 200 / 400 / 404 / 501), no routing\n"
"  --version, --help\n"
"Signals: SIGTERM/SIGINT stop; SIGHUP reloads the configuration file (routing\n"
"program, trunks, users; calls in progress keep theirs; a bad file changes\n"
"nothing) and the TLS certificate, key and CAs, and reopens the CDR file\n"
"(cdr_file, after logrotate renamed it).\n");
}

/* ---- SIP answers ---- */

static bool is_self(const struct proxy *p, const struct rp_msg_info *mi,
	const struct sip_uri *u)
{
	char lh[64];
	bool host_ok = false, port_ok = !u->has_port;

	if (u->host_type == SIP_HOST_NONE)
		return false;
	rp_addr_host(&mi->local, lh, sizeof(lh));
	if (rp_str_caseeq_cstr(u->host, lh) || rp_str_caseeq_cstr(u->host, "localhost") ||
	    (p->hostname[0] && rp_str_caseeq_cstr(u->host, p->hostname)))
		host_ok = true;
	for (size_t i = 0; i < p->n_domains && !host_ok; i++)
		host_ok = rp_str_caseeq_cstr(u->host, p->domains[i]);
	for (size_t i = 0; i < p->tcfg.n_listen; i++) {
		const struct rp_listen *l = &p->tcfg.listen[i];

		rp_addr_host(&l->addr, lh, sizeof(lh));
		if (!host_ok && rp_str_caseeq_cstr(u->host, lh))
			host_ok = true;
		if (u->has_port && u->port == rp_addr_port(&l->addr))
			port_ok = true;
	}
	return host_ok && port_ok;
}

/* Top Via with received= / rport= set per RFC 3261 18.2.1 and RFC 3581. */
static void put_top_via(rp_buf *b, const struct sip_msg *m, const struct sip_hdr *h,
	const struct rp_msg_info *mi)
{
	const struct sip_via *v = &m->via;
	const char *vs = h->value.p, *ve = h->value.p + h->value.n;
	const char *pe = v->raw.p + v->raw.n; /* end of the first via-parm */
	const char *ps = v->params.n ? v->params.p : pe;
	char ip[64];
	rp_str it = v->params, name, val;
	bool hv;

	rp_addr_host(&mi->peer, ip, sizeof(ip));
	rp_buf_append_cstr(b, "Via: ");
	rp_buf_append(b, vs, (size_t)(ps - vs));
	while (sip_hdr_param_next(&it, &name, &val, &hv) == SIP_OK) {
		if (rp_str_caseeq_cstr(name, "received") || rp_str_caseeq_cstr(name, "rport"))
			continue;
		rp_buf_append_byte(b, ';');
		rp_buf_append_str(b, name);
		if (hv) {
			rp_buf_append_byte(b, '=');
			rp_buf_append_str(b, val);
		}
	}
	if (!rp_str_eq_cstr(v->host, ip) || v->has_rport)
		rp_buf_printf(b, ";received=%s", ip);
	if (v->has_rport)
		rp_buf_printf(b, ";rport=%u", rp_addr_port(&mi->peer));
	rp_buf_append(b, pe, (size_t)(ve - pe));
	rp_buf_append_cstr(b, "\r\n");
}

static void put_to_tag(const struct proxy *p, rp_buf *b, const struct sip_msg *m,
	const struct sip_hdr *h)
{
	rp_buf_append_cstr(b, "To: ");
	rp_buf_append_str(b, h->value);
	if (!m->to.has_tag) {
		/* Same request (a retransmission) -> same tag. */
		uint64_t t = rp_siphash13(p->tag_key, m->call_id.p, m->call_id.n) ^
			rp_siphash13(p->tag_key, m->from.tag.p, m->from.tag.n) ^ m->cseq.num;

		rp_buf_printf(b, ";tag=rp%016llx", (unsigned long long)t);
	}
	rp_buf_append_cstr(b, "\r\n");
}

/* UDP answers go where RFC 3261 18.2.2 / RFC 3581 say: the source IP, at
 * the source port with rport, else the Via sent-by port (5060 default). */
static void send_response(const struct rp_msg_info *mi, const struct sip_msg *m,
	const char *data, size_t len)
{
	struct rp_msg_info to = *mi;
	int rc;

	if (mi->tp == RP_TP_UDP && m && !m->via.has_rport)
		rp_addr_set_port(&to.peer, m->via.has_port ? m->via.port : 5060);
	rc = rp_reply(&to, data, len);
	if (rc < 0 && rc != -ENOBUFS) {
		char a[64];

		rp_addr_fmt(&to.peer, a, sizeof(a));
		rp_debug("response to %s not sent: %s", a, strerror(-rc));
	}
}

static void respond(const struct proxy *p, const struct rp_msg_info *mi,
	const struct sip_msg *m, unsigned code, const char *reason, bool options_ok)
{
	rp_buf b;
	bool first_via = true;

	rp_buf_init(&b, 65536);
	rp_buf_printf(&b, "SIP/2.0 %u %s\r\n", code, reason);
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		switch (h->id) {
		case SIP_HDR_VIA:
			if (first_via) {
				put_top_via(&b, m, h, mi);
				first_via = false;
			} else {
				rp_buf_append_cstr(&b, "Via: ");
				rp_buf_append_str(&b, h->value);
				rp_buf_append_cstr(&b, "\r\n");
			}
			break;
		case SIP_HDR_FROM:
			rp_buf_append_cstr(&b, "From: ");
			rp_buf_append_str(&b, h->value);
			rp_buf_append_cstr(&b, "\r\n");
			break;
		case SIP_HDR_TO:
			if (h == m->h_to)
				put_to_tag(p, &b, m, h);
			break;
		case SIP_HDR_CALL_ID:
			rp_buf_append_cstr(&b, "Call-ID: ");
			rp_buf_append_str(&b, h->value);
			rp_buf_append_cstr(&b, "\r\n");
			break;
		case SIP_HDR_CSEQ:
			rp_buf_append_cstr(&b, "CSeq: ");
			rp_buf_append_str(&b, h->value);
			rp_buf_append_cstr(&b, "\r\n");
			break;
		default:
			break;
		}
	}
	if (options_ok)
		rp_buf_append_cstr(&b, "Allow: OPTIONS\r\nAccept: application/sdp\r\n");
	rp_buf_append_cstr(&b, "Server: rampart-proxy/" RAMPART_VERSION "\r\n"
		"Content-Length: 0\r\n\r\n");
	if (rp_buf_error(&b) == 0)
		send_response(mi, m, b.p, b.len);
	rp_buf_free(&b);
}

/* A request the parser refused: answer 400 with the parser's reason if
 * the fields a response needs can be found by a plain line scan. */
static void respond_400_raw(const struct rp_msg_info *mi, const char *msg,
	size_t len, const char *reason)
{
	char tag[24];
	int n;
	rp_buf b;

	/* A final response needs a To tag (RFC 3261 8.2.6.2): one derived
	 * from the message, so a retransmission gets the same. */
	n = snprintf(tag, sizeof(tag), "rp400%08x", (unsigned)rp_siphash13(tag_key, msg, len));
	rp_buf_init(&b, 65536);
	if (rp_sipout_400_raw(&b, msg, len, reason, rp_str_make(tag, (size_t)n),
		RP_STR_LIT("rampart-proxy/" RAMPART_VERSION)) == 0 && rp_buf_error(&b) == 0)
		send_response(mi, NULL, b.p, b.len);
	rp_buf_free(&b);
}

static void on_message(const struct rp_msg_info *mi, const char *msg, size_t len,
	void *arg)
{
	struct proxy *p = arg;
	rp_core *core = atomic_load(&p->core);
	char store[16384], a[64];
	struct sip_parse_opts o = { .stream = mi->tp != RP_TP_UDP };
	struct sip_msg *m = NULL;
	struct sip_perr e = { 0 };
	enum sip_err r;
	rp_arena ar;

	if (core) {
		rp_core_handle(core, mi, msg, len);
		return;
	}
	rp_arena_init(&ar, store, sizeof(store), 1u << 20);
	r = sip_msg_parse(msg, len, &ar, &o, &m, &e);
	if (r != SIP_OK) {
		rp_addr_fmt(&mi->peer, a, sizeof(a));
		if (len >= 4 && !memcmp(msg, "SIP/", 4)) {
			/* A broken response: nobody to tell (RFC 3261 18.1.2). */
			rp_info_rl("dropped malformed response from %s/%s: %s at byte %zu",
				rp_tp_name(mi->tp), a, sip_err_reason(r), e.off);
		} else {
			rp_info_rl("malformed request from %s/%s: %s at byte %zu",
				rp_tp_name(mi->tp), a, sip_err_reason(r), e.off);
			respond_400_raw(mi, msg, len, sip_err_reason(r));
		}
		goto out;
	}
	if (!m->is_request)
		goto out; /* no transactions to match yet */
	if (mi->conn && m->via.host_type != SIP_HOST_FQDN &&
	    sip_hdr_param_find(m->via.params, "alias", NULL)) {
		/* RFC 5923: requests to the sent-by may reuse this connection. */
		char h[64];
		rp_addr sb;

		if (rp_str_copy(m->via.host, h, sizeof(h)) == 0 &&
		    rp_addr_parse(h, m->via.has_port ? m->via.port :
			    (mi->tp == RP_TP_TLS ? 5061 : 5060), &sb) == 0)
			(void)rp_reply_alias(mi, &sb);
	}
	if (m->method == SIP_METHOD_ACK)
		goto out;
	if (m->method == SIP_METHOD_OPTIONS) {
		if (is_self(p, mi, &m->ruri))
			respond(p, mi, m, 200, "OK", true);
		else
			respond(p, mi, m, 404, "Not Found", false);
	} else {
		respond(p, mi, m, 501, "Not Implemented", false);
	}
out:
	rp_arena_fini(&ar);
}

/* ---- control socket ---- */

static int tls_reload(struct proxy *p, char *err, size_t n)
{
	return rp_tlsctl_reload(p->tlsctl, err, n);
}

static int cmd_stats(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;
	struct rp_workers_stats st;

	rp_workers_get_stats(p->ws, &st);
	/* rampartctl status reads its uptime from here. */
	benc_put_kv_int(resp, "uptime-s", (int64_t)((rp_now_ms() - p->start_ms) / 1000));
	benc_put_kv_int(resp, "workers", rp_workers_count(p->ws));
	benc_put_kv_int(resp, "connections", st.conns);
	benc_put_kv_int(resp, "accepted", (int64_t)st.accepted);
	benc_put_kv_int(resp, "refused", (int64_t)st.refused);
	benc_put_kv_int(resp, "closed", (int64_t)st.closed);
	benc_put_kv_int(resp, "udp-messages", (int64_t)st.udp_msgs);
	benc_put_kv_int(resp, "stream-messages", (int64_t)st.stream_msgs);
	benc_put_kv_int(resp, "frame-errors", (int64_t)st.frame_errors);
	benc_put_kv_int(resp, "dropped-slow", (int64_t)st.dropped_slow);
	benc_put_kv_int(resp, "outbound-opened", (int64_t)st.opened);
	benc_put_kv_int(resp, "worker-rounds", (int64_t)st.rounds);
	benc_put_kv_int(resp, "batch-sleeps", (int64_t)st.batch_sleeps);
	benc_put_kv_cstr(resp, "udp-steering", st.udp_one ? "worker-0" : "hash");
	benc_put_kv_int(resp, "udp-steering-changes", (int64_t)st.udp_steer_changes);
	benc_put_kv_list(resp, "worker-udp-messages");
	for (unsigned i = 0; i < rp_workers_count(p->ws) && i < RP_STATS_WORKERS; i++)
		benc_put_int(resp, (int64_t)st.worker_udp_msgs[i]);
	benc_put_end(resp);
	if (atomic_load(&p->core)) {
		struct rp_core_stats cs;

		rp_core_get_stats(atomic_load(&p->core), &cs);
		benc_put_kv_int(resp, "requests", (int64_t)cs.requests);
		benc_put_kv_int(resp, "responses", (int64_t)cs.responses);
		benc_put_kv_int(resp, "malformed", (int64_t)cs.malformed);
		benc_put_kv_int(resp, "forwarded", (int64_t)cs.forwarded);
		benc_put_kv_int(resp, "local-replies", (int64_t)cs.local_replies);
		benc_put_kv_int(resp, "server-transactions", (int64_t)cs.server_txns);
		benc_put_kv_int(resp, "client-transactions", (int64_t)cs.client_txns);

		struct rp_core_dns_stats ds;

		rp_core_get_dns_stats(atomic_load(&p->core), &ds);
		benc_put_kv_int(resp, "dns-queries", (int64_t)ds.resolver.queries);
		benc_put_kv_int(resp, "dns-answers", (int64_t)ds.resolver.answers);
		benc_put_kv_int(resp, "dns-timeouts", (int64_t)ds.resolver.timeouts);
		benc_put_kv_int(resp, "dns-errors", (int64_t)ds.resolver.errors);
		benc_put_kv_int(resp, "dns-nxdomain", (int64_t)ds.resolver.nxdomain);
		benc_put_kv_int(resp, "dns-servfail", (int64_t)ds.resolver.servfail);
		benc_put_kv_int(resp, "dns-tcp", (int64_t)ds.resolver.tcp);
		benc_put_kv_int(resp, "dns-cache-hits", (int64_t)ds.resolver.cache_hits);
		benc_put_kv_int(resp, "dns-cache-misses", (int64_t)ds.resolver.cache_misses);
		benc_put_kv_int(resp, "dns-cache-entries", (int64_t)ds.resolver.cached);
		benc_put_kv_int(resp, "dns-lookups-queued", (int64_t)ds.resolver.pending);
		benc_put_kv_int(resp, "dns-requests-waiting", (int64_t)ds.waiting);
		benc_put_kv_int(resp, "dns-trunk-names", (int64_t)ds.trunk_names);
	}
	rp_tlsctl_put_stats(p->tlsctl, resp);
	return rp_buf_error(resp);
}

static int cmd_listeners(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;

	benc_put_kv_list(resp, "listeners");
	for (size_t i = 0; i < p->tcfg.n_listen; i++) {
		char a[64], l[80];

		rp_addr_fmt(&p->tcfg.listen[i].addr, a, sizeof(a));
		snprintf(l, sizeof(l), "%s:%s", rp_tp_name(p->tcfg.listen[i].tp), a);
		benc_put_cstr(resp, l);
	}
	benc_put_end(resp);
	return rp_buf_error(resp);
}

/* The tls.* commands live in tlsctl.c; these only pick its object. */
static int cmd_tls_connections(ctl_req *req, rp_buf *resp, void *arg)
{
	return rp_tlsctl_cmd_connections(req, resp, ((struct proxy *)arg)->tlsctl);
}

static int cmd_tls_cert_show(ctl_req *req, rp_buf *resp, void *arg)
{
	return rp_tlsctl_cmd_cert_show(req, resp, ((struct proxy *)arg)->tlsctl);
}

static int cmd_tls_cert_stage(ctl_req *req, rp_buf *resp, void *arg)
{
	return rp_tlsctl_cmd_cert_stage(req, resp, ((struct proxy *)arg)->tlsctl);
}

static int cmd_tls_cert_commit(ctl_req *req, rp_buf *resp, void *arg)
{
	return rp_tlsctl_cmd_cert_commit(req, resp, ((struct proxy *)arg)->tlsctl);
}

static int cmd_tls_cert_abort(ctl_req *req, rp_buf *resp, void *arg)
{
	return rp_tlsctl_cmd_cert_abort(req, resp, ((struct proxy *)arg)->tlsctl);
}

static int cmd_tls_reload(ctl_req *req, rp_buf *resp, void *arg)
{
	char err[320];

	if (tls_reload(arg, err, sizeof(err)) < 0)
		return ctl_req_error(req, "TLS reload failed: %s", err);
	return 0;
}


static int cmd_status(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;

	(void)req;
	benc_put_kv_cstr(resp, "version", RAMPART_VERSION);
	benc_put_kv_int(resp, "uptime-s", (int64_t)((rp_now_ms() - p->start_ms) / 1000));
	benc_put_kv_int(resp, "workers", rp_workers_count(p->ws));
	benc_put_kv_int(resp, "listeners", (int64_t)p->tcfg.n_listen);
	benc_put_kv_cstr(resp, "core", atomic_load(&p->core) ? "on" : "off");
	benc_put_kv_cstr(resp, "media", p->media ? p->media->path : "none");
	benc_put_kv_cstr(resp, "config", p->config_path ? p->config_path : "<default>");
	return rp_buf_error(resp);
}

static int cmd_registrations(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;
	rp_core *core = atomic_load(&p->core);
	struct rp_reg_list *l = NULL;
	int rc;

	if (!core)
		return ctl_req_error(req, "no proxy core (--no-core): no registrar");
	/* Bounded so the answer fits one control message. */
	rc = rp_registrar_list(rp_core_registrar(core), rp_now_ms(), 1000, &l);
	if (rc < 0)
		return ctl_req_error(req, "registrar list: %s", strerror(-rc));
	benc_put_kv_list(resp, "registrations");
	for (size_t i = 0; i < l->count; i++) {
		const struct rp_reg_contact *c = &l->v[i];
		char a[64];

		rp_addr_fmt(&c->source, a, sizeof(a));
		benc_put_dict(resp);
		benc_put_kv_cstr(resp, "aor", c->aor);
		benc_put_kv_cstr(resp, "contact", c->uri);
		benc_put_kv_int(resp, "expires-in", c->expires_in);
		benc_put_kv_cstr(resp, "transport", rp_tp_name(c->tp));
		benc_put_kv_cstr(resp, "source", a);
		benc_put_kv_int(resp, "nat", c->nat);
		if (c->user_agent)
			benc_put_kv_cstr(resp, "user-agent", c->user_agent);
		benc_put_end(resp);
	}
	benc_put_end(resp);
	rp_reg_list_free(l);
	return rp_buf_error(resp);
}

/* Per address of one trunk: what probing found (docs/control-protocol.md). */
static const char *put_probes(rp_buf *resp, rp_core *core, const char *trunk)
{
	struct rp_probe_info pi[32];
	size_t n = core ? rp_probe_list(rp_core_probe(core), trunk, pi, 32) : 0;
	unsigned up = 0, down = 0;
	uint64_t now = rp_now_ms();

	benc_put_kv_list(resp, "probes");
	for (size_t i = 0; i < n && i < 32; i++) {
		char a[64];

		rp_addr_fmt(&pi[i].addr, a, sizeof(a));
		benc_put_dict(resp);
		benc_put_kv_cstr(resp, "address", a);
		benc_put_kv_cstr(resp, "host", pi[i].host);
		benc_put_kv_cstr(resp, "transport", rp_tp_name(pi[i].tp));
		benc_put_kv_cstr(resp, "state", rp_probe_state_name(pi[i].state));
		benc_put_kv_cstr(resp, "last-result", pi[i].last);
		benc_put_kv_int(resp, "rtt-ms", pi[i].rtt_ms);
		benc_put_kv_int(resp, "last-probe-s-ago", pi[i].last_ms ?
			(int64_t)((now - pi[i].last_ms) / 1000) : -1);
		benc_put_kv_int(resp, "failures-in-row", pi[i].fails);
		benc_put_kv_int(resp, "successes-in-row", pi[i].oks);
		benc_put_kv_int(resp, "probes", (int64_t)pi[i].probes);
		benc_put_kv_int(resp, "failures", (int64_t)pi[i].failures);
		benc_put_end(resp);
		up += pi[i].state == RP_PROBE_UP;
		down += pi[i].state == RP_PROBE_DOWN;
	}
	benc_put_end(resp);
	if (!n || (!up && !down))
		return "unknown";
	if (!down && up == n)
		return "up";
	if (!up && down == n)
		return "down";
	return up ? "partial" : "unknown";
}

static int cmd_trunks(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;
	size_t n = cfg_trunk_count(p->cfg);
	rp_core *core = atomic_load(&p->core);

	(void)req;
	benc_put_kv_list(resp, "trunks");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_trunk *t = cfg_trunk_at(p->cfg, i);

		benc_put_dict(resp);
		benc_put_kv_cstr(resp, "name", t->name);
		benc_put_kv_cstr(resp, "transport", cfg_transport_name(t->transport));
		benc_put_kv_cstr(resp, "media", cfg_media_enc_name(t->media));
		benc_put_kv_list(resp, "addresses");
		for (unsigned k = 0; k < t->naddrs; k++) {
			char hp[300];
			bool v6 = strchr(t->addrs[k].host, ':') != NULL;

			if (t->addrs[k].port)
				snprintf(hp, sizeof(hp), v6 ? "[%s]:%u" : "%s:%u",
					t->addrs[k].host, t->addrs[k].port);
			else
				snprintf(hp, sizeof(hp), "%s", t->addrs[k].host);
			benc_put_cstr(resp, hp);
		}
		benc_put_end(resp);
		if (t->probe_interval_s)
			benc_put_kv_int(resp, "probe-interval-s", t->probe_interval_s);
		/* Not known is said, never assumed. */
		benc_put_kv_cstr(resp, "reachability", put_probes(resp, core, t->name));
		benc_put_end(resp);
	}
	benc_put_end(resp);
	return rp_buf_error(resp);
}

/* Optional "file" argument; else the file the proxy runs with. */
static int cfg_arg_path(ctl_req *req, const struct proxy *p, char *path, size_t n)
{
	rp_str f;

	if (benc_get_str(ctl_req_args(req), "file", &f, NULL) == 0) {
		if (f.n == 0 || f.n >= n || memchr(f.p, 0, f.n))
			return -EINVAL;
		memcpy(path, f.p, f.n);
		path[f.n] = 0;
		return 0;
	}
	if (!p->config_path)
		return -ENOENT;
	snprintf(path, n, "%s", p->config_path);
	return 0;
}

static int cmd_config_check(ctl_req *req, rp_buf *resp, void *arg)
{
	char path[512];
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;
	int rc;

	if (cfg_arg_path(req, arg, path, sizeof(path)) < 0)
		return ctl_req_error(req, "give file=PATH (the proxy runs with the built-in default)");
	f = open_memstream(&text, &tlen);
	if (!f)
		return ctl_req_error(req, "out of memory");
	rc = cfg_check_file(path, f);
	fclose(f);
	/* A bad file is an error answer, so scripts see a non-zero exit. */
	while (tlen && text[tlen - 1] == '\n')
		text[--tlen] = 0;
	if (rc != 0) {
		/* error-reason is one line: the diagnostics joined by " | ". */
		char one[1024];
		size_t o = 0;

		for (size_t i = 0; text && i < tlen && o + 4 < sizeof(one); i++) {
			if (text[i] == '\n') {
				memcpy(one + o, " | ", 3);
				o += 3;
			} else {
				one[o++] = text[i];
			}
		}
		one[o] = 0;
		rc = ctl_req_error(req, "%s", o ? one : "check failed");
		free(text);
		return rc;
	}
	benc_put_kv_cstr(resp, "file", path);
	benc_put_kv_int(resp, "valid", 1);
	benc_put_kv_str(resp, "text", rp_str_make(text, tlen));
	free(text);
	return rp_buf_error(resp);
}

static int trunk_tls_set(struct proxy *p, const struct cfg *cfg, char *err, size_t errlen);

/* The TLS part of a config reload, prepared (every new store built and
 * checked) before anything changes, then applied or dropped. */
struct tls_plan {
	const struct cfg_listen *nl[RP_MAX_LISTEN]; /* listener i in the new config */
	rp_tls_staged *st[RP_MAX_LISTEN];           /* new settings of listener i */
	char *sig[RP_MAX_LISTEN];
	rp_tls_staged *client;                      /* new outbound settings */
	char *client_sig;
	bool client_new;      /* outbound TLS was off: make its store on apply */
};
static int tls_prepare(struct proxy *p, const struct cfg *nc, struct tls_plan *pl,
	char *why, size_t whysz, char *restart, size_t restartsz);
static void tls_plan_drop(struct tls_plan *pl);
static void tls_apply(struct proxy *p, const struct cfg *nc, struct tls_plan *pl);

/* Loads and checks the file the proxy runs with and, only if it has no
 * errors, installs it for new transactions (those in progress keep
 * theirs). On failure nothing changes, the reason (file:line:col:
 * message, joined by "; ") is logged and left in why. SIGHUP and
 * config.reload. */
static int config_reload(struct proxy *p, char *why, size_t whysz, char *restart,
	size_t restartsz)
{
	struct cfg_diag *d;
	struct cfg *nc = NULL;
	rp_core *core = atomic_load(&p->core);
	struct tls_plan pl;
	int rc;

	why[0] = 0;
	restart[0] = 0;
	if (!p->config_path) {
		snprintf(why, whysz, "no configuration file (started without --config)");
		return -ENOENT;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		snprintf(why, whysz, "out of memory");
		return -ENOMEM;
	}
	cfg_diag_init(d);
	rc = cfg_load_file(p->config_path, &nc, d);
	if (rc < 0) {
		size_t off = 0;

		for (size_t i = 0; i < d->n && off < whysz - 1; i++) {
			int w = cfg_diag_format(&d->msg[i], why + off, whysz - off);

			if (w < 0)
				break;
			off += (size_t)w < whysz - off ? (size_t)w : whysz - off - 1;
			if (off < whysz - 2 && i + 1 < d->n)
				why[off++] = ';', why[off++] = ' ', why[off] = 0;
		}
		free(d);
		if (!why[0])
			snprintf(why, whysz, "%s", strerror(-rc));
		rp_err("config reload of %s refused, nothing changed: %s", p->config_path, why);
		return rc;
	}
	free(d);
	/* Every changed TLS store (listeners, outbound) is built and checked
	 * before anything changes. */
	rc = tls_prepare(p, nc, &pl, why, whysz, restart, restartsz);
	if (rc < 0) {
		rp_err("config reload of %s refused, nothing changed: %s", p->config_path, why);
		cfg_put(nc);
		return rc;
	}
	/* A trunk's TLS files too; this is the last step that may fail. */
	if (core && (rc = trunk_tls_set(p, nc, why, whysz)) < 0) {
		rp_err("config reload of %s refused, nothing changed: %s", p->config_path, why);
		tls_plan_drop(&pl);
		cfg_put(nc);
		return rc;
	}
	tls_apply(p, nc, &pl);
	/* New transactions use the new config; those in progress keep theirs. */
	if (core)
		rp_core_set_cfg(core, nc);
	cfg_put(p->cfg);
	p->cfg = nc;
	rp_log_rl_set(cfg_settings(nc)->log_rate_burst, cfg_settings(nc)->log_rate_interval_ms);
	if (!p->log_cli)
		rp_log_set_level(cfg_settings(nc)->log_level);
	rp_workers_set_batch_wait(p->ws, cfg_settings(nc)->batch_wait_us);
	rp_workers_set_udp_steering(p->ws, !cfg_settings(nc)->udp_steering_hash);
	rp_notice("configuration %s reloaded: new transactions use it, those in progress "
		"keep theirs (listeners, workers, sockets need a restart)", p->config_path);
	if (restart[0])
		rp_warn("config reload of %s: not applied, needs a restart: %s",
			p->config_path, restart);
	return 0;
}

static int cmd_config_reload(ctl_req *req, rp_buf *resp, void *arg)
{
	struct proxy *p = arg;
	char why[512], terr[320], restart[512];
	int rc = config_reload(p, why, sizeof(why), restart, sizeof(restart));

	/* (-ENOENT also comes from a missing TLS file: test the cause.) */
	if (rc < 0 && !p->config_path)
		return ctl_req_error(req, "%s", why);
	if (rc < 0)
		return ctl_req_error(req, "%s: %s; nothing changed", p->config_path, why);
	/* Like SIGHUP: the certificates too (each store logs its outcome). */
	rc = tls_reload(p, terr, sizeof(terr));
	benc_put_kv_cstr(resp, "tls", rc == 0 ? "reloaded" : terr);
	benc_put_kv_cstr(resp, "file", p->config_path);
	if (restart[0])
		benc_put_kv_cstr(resp, "needs-restart", restart);
	benc_put_kv_cstr(resp, "applied", "routes, trunks, users, domains and settings used "
		"per transaction; TLS settings of listeners (cert, key, chain, ca_file, ca_dir, "
		"ciphers, sni_cert) and of outbound TLS (tls {})");
	benc_put_kv_cstr(resp, "not-applied", "listeners, workers, control sockets, mediad socket, metrics address (restart)");
	return rp_buf_error(resp);
}

static const struct ctl_command ctl_cmds[] = {
	{ "status", cmd_status, "", "version, uptime, workers, listeners",
		CTL_ACCESS_READ, NULL },
	{ "registrations", cmd_registrations, "", "live registrar bindings (at most 1000)",
		CTL_ACCESS_READ, NULL },
	{ "trunks", cmd_trunks, "", "configured trunks; each address's reachability from OPTIONS probing",
		CTL_ACCESS_READ, NULL },
	{ "config.check", cmd_config_check, "file?",
		"check a configuration file (default: the one in use) without applying it",
		CTL_ACCESS_READ, NULL },
	{ "config.reload", cmd_config_reload, "",
		"like SIGHUP: load and check the configuration file, use it for new "
		"transactions; reload the TLS certificates",
		CTL_ACCESS_ADMIN, NULL },
	{ "stats", cmd_stats, "", "transport counters: connections, messages, drops",
		CTL_ACCESS_READ, NULL },
	{ "listeners", cmd_listeners, "", "the addresses the proxy listens on",
		CTL_ACCESS_READ, NULL },
	{ "tls-reload", cmd_tls_reload, "",
		"re-read TLS certificate, key and CAs (like SIGHUP); old connections keep theirs",
		CTL_ACCESS_ADMIN, NULL },
	{ "tls.connections", cmd_tls_connections, "[max=N]",
		"open TLS connections: peer, listener, version, cipher, SNI, peer certificate, age, idle",
		CTL_ACCESS_READ, NULL },
	{ "tls.cert.show", cmd_tls_cert_show, "",
		"each TLS listener's certificates in use and staged: subject, SANs, issuer, dates, key",
		CTL_ACCESS_READ, NULL },
	{ "tls.cert.stage", cmd_tls_cert_stage,
		"file=CERT key=KEY [chain=FILE] [name=SNI-NAME] [listener=tls:ADDR:PORT]",
		"validate a certificate and key and keep them staged (nothing in use changes)",
		CTL_ACCESS_ADMIN, NULL },
	{ "tls.cert.commit", cmd_tls_cert_commit, "",
		"new TLS connections use the staged certificate; established ones keep theirs",
		CTL_ACCESS_ADMIN, NULL },
	{ "tls.cert.abort", cmd_tls_cert_abort, "", "drop the staged certificate",
		CTL_ACCESS_ADMIN, NULL },
};

static ctl_server *ctl_start(struct proxy *p, const char *path, uint32_t mode,
	const char *group, bool read_only)
{
	struct ctl_server_opts o = { .name = "rampart-proxy",
		.software = RAMPART_VERSION, .read_only = read_only, .start_ms = p->start_ms,
		/* Members of the configured group are the operators. */
		.group_access = group ? CTL_ACCESS_ADMIN : CTL_ACCESS_READ };
	gid_t gid = (gid_t)-1;
	struct ctl_command cmds[sizeof(ctl_cmds) / sizeof(ctl_cmds[0])];
	ctl_server *s = NULL;
	int rc;

	if (!path || !strcmp(path, "none"))
		return NULL;
	{
		/* The directory is ours (/run/rampart); create it private. */
		char dir[256];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			(void)mkdir(dir, 0750);
		}
	}
	if (group) {
		struct group *g = getgrnam(group);

		if (!g) {
			rp_warn("control socket %s: no group '%s'; running without it", path, group);
			return NULL;
		}
		gid = g->gr_gid;
	}
	rc = ctl_server_listen(path, (mode_t)mode, gid, &o, &s);
	if (rc < 0) {
		rp_warn("control socket %s: %s; running without it", path, strerror(-rc));
		return NULL;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		cmds[i] = ctl_cmds[i];
		cmds[i].arg = p;
	}
	rc = ctl_server_register(s, cmds, sizeof(cmds) / sizeof(cmds[0]));
	if (rc == 0)
		rc = rp_calls_ctl_register(s, &p->core);
	if (rc < 0) {
		rp_warn("control socket: cannot register commands: %s", strerror(-rc));
		ctl_server_free(s);
		return NULL;
	}
	rp_notice("%s control socket %s (mode %04o%s%s)", read_only ? "read-only" : "admin",
		path, (unsigned)mode, group ? ", group " : "", group ? group : "");
	return s;
}

/* ---- metrics (docs/metrics.md) ---- */

/* Scrape-time values: read from counters the proxy keeps anyway, so the
 * SIP path pays nothing for them. */
static struct rp_core_stats core_stats_now(struct proxy *p)
{
	struct rp_core_stats cs = { 0 };
	rp_core *core = atomic_load(&p->core);

	if (core)
		rp_core_get_stats(core, &cs);
	return cs;
}

static int64_t m_txns(void *arg)
{
	struct rp_core_stats cs = core_stats_now(arg);

	return (int64_t)(cs.server_txns + cs.client_txns);
}

static int64_t m_malformed(void *arg) { return (int64_t)core_stats_now(arg).malformed; }
static int64_t m_retrans(void *arg) { return (int64_t)core_stats_now(arg).retransmissions; }
static int64_t m_timeouts(void *arg) { return (int64_t)core_stats_now(arg).timeouts; }
static int64_t m_failovers(void *arg) { return (int64_t)core_stats_now(arg).failovers; }
static int64_t m_overload(void *arg) { return (int64_t)core_stats_now(arg).overload; }

static struct rp_core_dns_stats dns_stats_now(struct proxy *p)
{
	struct rp_core_dns_stats ds = { 0 };
	rp_core *core = atomic_load(&p->core);

	if (core)
		rp_core_get_dns_stats(core, &ds);
	return ds;
}

static int64_t m_dns_queries(void *arg) { return (int64_t)dns_stats_now(arg).resolver.queries; }
static int64_t m_dns_answers(void *arg) { return (int64_t)dns_stats_now(arg).resolver.answers; }
static int64_t m_dns_timeouts(void *arg) { return (int64_t)dns_stats_now(arg).resolver.timeouts; }
static int64_t m_dns_errors(void *arg) { return (int64_t)dns_stats_now(arg).resolver.errors; }
static int64_t m_dns_nxdomain(void *arg) { return (int64_t)dns_stats_now(arg).resolver.nxdomain; }
static int64_t m_dns_servfail(void *arg) { return (int64_t)dns_stats_now(arg).resolver.servfail; }
static int64_t m_dns_hits(void *arg) { return (int64_t)dns_stats_now(arg).resolver.cache_hits; }
static int64_t m_dns_misses(void *arg) { return (int64_t)dns_stats_now(arg).resolver.cache_misses; }
static int64_t m_dns_cached(void *arg) { return (int64_t)dns_stats_now(arg).resolver.cached; }
static int64_t m_dns_tcp(void *arg) { return (int64_t)dns_stats_now(arg).resolver.tcp; }
static int64_t m_dns_queued(void *arg) { return (int64_t)dns_stats_now(arg).resolver.pending; }
static int64_t m_dns_waiting(void *arg) { return (int64_t)dns_stats_now(arg).waiting; }
static int64_t m_dns_trunk_names(void *arg) { return (int64_t)dns_stats_now(arg).trunk_names; }

static int64_t m_calls_active(void *arg)
{
	struct proxy *p = arg;
	rp_core *core = atomic_load(&p->core);

	return core ? (int64_t)rp_core_calls_active(core) : 0;
}

static int64_t m_regs(void *arg)
{
	struct proxy *p = arg;
	rp_core *core = atomic_load(&p->core);
	struct rp_reg_stats rs = { 0 };

	if (core)
		rp_registrar_stats(rp_core_registrar(core), &rs);
	return (int64_t)rs.bindings;
}

static int64_t m_conns(void *arg)
{
	struct proxy *p = arg;
	struct rp_workers_stats st;

	rp_workers_get_stats(p->ws, &st);
	return st.conns;
}

static int64_t m_refused(void *arg)
{
	struct proxy *p = arg;
	struct rp_workers_stats st;

	rp_workers_get_stats(p->ws, &st);
	return (int64_t)st.refused;
}

static int64_t m_uptime(void *arg)
{
	struct proxy *p = arg;

	return (int64_t)((rp_now_ms() - p->start_ms) / 1000);
}

/* Registers every metric; the cells the core bumps go into p->mx. */
static int metrics_setup(struct proxy *p)
{
	static const char *const classes[] = { NULL, "1xx", "2xx", "3xx", "4xx", "5xx", "6xx" };
	rp_metric *req = NULL, *resp = NULL, *refused = NULL;
	rp_metrics *m = NULL;
	int rc = rp_metrics_new(&m);

	if (rc < 0)
		return rc;
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_sip_requests_total",
			"SIP requests received, by method (other: any other method)", 1,
			(const char *[]){ "method" }, 16, &req);
	for (unsigned i = 0; !rc && i <= SIP_METHOD_UPDATE; i++) {
		const char *name = i ? sip_method_name((enum sip_method)i) : "other";

		rc = rp_metric_with(req, (const char *[]){ name }, &p->mx.req[i]);
	}
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_sip_responses_total",
			"SIP responses sent or relayed by the proxy, by status class", 1,
			(const char *[]){ "class" }, 8, &resp);
	for (unsigned i = 1; !rc && i < 7; i++)
		rc = rp_metric_with(resp, (const char *[]){ classes[i] }, &p->mx.resp[i]);
	if (!rc)
		rc = rp_metrics_counter(m, "rampart_proxy_calls_total",
			"Calls started (initial INVITEs relayed) since start", &p->mx.calls_total);
	if (!rc)
		rc = rp_metrics_counter_vec(m, "rampart_proxy_calls_refused_total",
			"Calls refused with 488 by the media-encryption policy, by reason", 1,
			(const char *[]){ "reason" }, RP_REFUSAL_COUNT, &refused);
	for (unsigned i = 0; !rc && i < RP_REFUSAL_COUNT; i++)
		rc = rp_metric_with(refused, (const char *[]){ rp_call_refusal_name(i) },
			&p->mx.refused[i]);
	/* Set by the core when probing decides (docs/proxy.md "Trunk probing"). */
	if (!rc)
		rc = rp_metrics_gauge_vec(m, "rampart_proxy_trunk_address_up",
			"Trunk address reachability from OPTIONS probing: 1 up, 0 down "
			"(absent until probing decided)", 2, (const char *[]){ "trunk", "address" },
			1024, &p->mx.trunk_up);
	/* Everything else is read when Prometheus scrapes. */
	static const struct {
		bool counter;
		const char *name, *help;
		rp_metric_fn fn;
	} scraped[] = {
		{ false, "rampart_proxy_calls_active", "Calls set up or answered, not yet ended",
		  m_calls_active },
		{ false, "rampart_proxy_transactions_active", "Server and client transactions alive",
		  m_txns },
		{ false, "rampart_proxy_registrations_active", "Registrar bindings held", m_regs },
		{ true, "rampart_sip_malformed_total",
		  "SIP messages that failed to parse and were answered 400 or dropped", m_malformed },
		{ true, "rampart_sip_retransmissions_total",
		  "Retransmitted requests absorbed by a transaction", m_retrans },
		{ true, "rampart_proxy_timeouts_total",
		  "Client transactions that timed out (Timer B/F)", m_timeouts },
		{ true, "rampart_proxy_failovers_total",
		  "Requests retried on another address or trunk", m_failovers },
		{ true, "rampart_proxy_overload_total",
		  "Requests refused with 503 because the transaction limit was reached", m_overload },
		{ false, "rampart_proxy_stream_connections_active", "Open TCP and TLS connections",
		  m_conns },
		{ true, "rampart_tcp_connections_refused_total",
		  "TCP/TLS connections refused at accept (connection limits)", m_refused },
		{ false, "rampart_proxy_uptime_seconds", "Seconds since rampart-proxy started",
		  m_uptime },
		{ true, "rampart_proxy_dns_queries_total",
		  "DNS questions sent to a server (one per attempt)", m_dns_queries },
		{ true, "rampart_proxy_dns_answers_total",
		  "DNS replies received (NXDOMAIN and SERVFAIL included)", m_dns_answers },
		{ true, "rampart_proxy_dns_timeouts_total",
		  "DNS questions no server answered in time", m_dns_timeouts },
		{ true, "rampart_proxy_dns_errors_total",
		  "DNS questions that failed without a reply (bad message, socket error)",
		  m_dns_errors },
		{ true, "rampart_proxy_dns_nxdomain_total", "DNS replies saying the name does not exist",
		  m_dns_nxdomain },
		{ true, "rampart_proxy_dns_servfail_total",
		  "DNS replies saying the server failed (SERVFAIL, REFUSED, other codes)",
		  m_dns_servfail },
		{ true, "rampart_proxy_dns_cache_hits_total",
		  "DNS questions answered from the resolver's cache", m_dns_hits },
		{ true, "rampart_proxy_dns_cache_misses_total",
		  "DNS questions the cache could not answer (asked the servers)", m_dns_misses },
		{ false, "rampart_proxy_dns_cache_entries", "Answers held in the resolver's cache",
		  m_dns_cached },
		{ true, "rampart_proxy_dns_tcp_total",
		  "DNS questions asked again over TCP after a truncated UDP reply", m_dns_tcp },
		{ false, "rampart_proxy_dns_lookups_queued",
		  "Lookups waiting for a resolver thread or a server's reply", m_dns_queued },
		{ false, "rampart_proxy_dns_requests_waiting",
		  "SIP requests waiting in their transaction for a host name to be located",
		  m_dns_waiting },
		{ false, "rampart_proxy_dns_trunk_names",
		  "Trunk host names kept located for the installed config", m_dns_trunk_names },
	};
	for (size_t i = 0; !rc && i < sizeof(scraped) / sizeof(scraped[0]); i++)
		rc = scraped[i].counter ?
			rp_metrics_counter_fn(m, scraped[i].name, scraped[i].help, scraped[i].fn, p) :
			rp_metrics_gauge_fn(m, scraped[i].name, scraped[i].help, scraped[i].fn, p);
	if (!rc)
		rc = rp_tlsctl_metrics(p->tlsctl, m);
	if (rc < 0) {
		memset(&p->mx, 0, sizeof(p->mx));
		rp_metrics_free(m);
		return rc;
	}
	p->metrics = m;
	return 0;
}

/* "127.0.0.1:9464" or "[::1]:9464" into a numeric host and a port. */
static int parse_hostport(const char *s, char *host, size_t n, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long v;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= n)
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || v > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)v;
	return 0;
}

/* ---- configuration ---- */

static enum rp_tp tp_from_cfg(enum cfg_transport t)
{
	return t == CFG_TP_TLS ? RP_TP_TLS : t == CFG_TP_TCP ? RP_TP_TCP : RP_TP_UDP;
}

/* Copies listeners, TLS settings and limits from a loaded config. Each TLS
 * listener of the config gets its own store (tls_listener_cfg); the first
 * one's settings are also the base for --listen tls:... listeners. */
static int apply_cfg(struct proxy *p, const struct cfg *c, bool keep_listen,
	bool *cert_auto)
{
	const struct cfg_settings *st = cfg_settings(c);
	bool have_tls = false;

	rp_log_rl_set(st->log_rate_burst, st->log_rate_interval_ms);
	if (!p->log_cli)
		rp_log_set_level(st->log_level);
	if (st->workers)
		p->tcfg.workers = st->workers;
	if (st->tcp_idle_timeout)
		p->tcfg.idle_timeout_ms = st->tcp_idle_timeout * 1000u;
	p->tcfg.keepalive_ms = st->tcp_keepalive_interval * 1000u;
	if (st->max_message_size) {
		/* One message must fit the receive buffer with room to spare
		 * for the start of the next one. Its header block may be as
		 * large as the message (as over UDP): a legal 20 KB of headers
		 * on TCP/TLS closed the connection at the framer's 16 KiB. */
		p->tcfg.frame.max_body = st->max_message_size;
		p->tcfg.frame.max_hdr = st->max_message_size;
		p->tcfg.conn_rbuf = (size_t)st->max_message_size + SIP_FRAME_DEFAULT_MAX_HDR;
	}
	for (unsigned i = 0; i < st->ndomains && p->n_domains < MAX_DOMAINS; i++)
		p->domains[p->n_domains++] = st->domains[i];
	for (size_t i = 0; i < cfg_listen_count(c); i++) {
		const struct cfg_listen *l = cfg_listen_at(c, i);
		struct rp_listen rl;

		if (l->transport == CFG_TP_TLS && !have_tls) {
			have_tls = true;
			*cert_auto = l->tls.cert_auto || !l->tls.cert;
			if (!*cert_auto) {
				p->tcfg.tls.cert_file = l->tls.cert;
				p->tcfg.tls.key_file = l->tls.key;
			}
			p->tcfg.tls.ca_file = l->tls.ca_file;
			p->tcfg.tls.ca_dir = l->tls.ca_dir;
			p->tcfg.tls.ciphers = l->tls.ciphers;
			p->tcfg.tls.verify_client = l->tls.verify_client;
			p->tcfg.tls.require_client_cert = l->tls.require_client_cert;
			p->tcfg.tls.tls13_only = l->tls.min_version == CFG_TLS_1_3;
		}
		if (keep_listen)
			continue;
		if (p->tcfg.n_listen >= RP_MAX_LISTEN)
			return -E2BIG;
		memset(&rl, 0, sizeof(rl));
		rl.tp = tp_from_cfg(l->transport);
		if (rp_addr_parse(l->addr, l->port ? l->port :
			    (rl.tp == RP_TP_TLS ? 5061 : 5060), &rl.addr) < 0)
			return -EINVAL;
		p->lcfg[p->tcfg.n_listen] = l;
		p->lconf[p->tcfg.n_listen] = rl;
		p->from_cfg[p->tcfg.n_listen] = true;
		p->tcfg.listen[p->tcfg.n_listen++] = rl;
	}
	return 0;
}

/* "tls:127.0.0.1:5061", the name tls.cert.* and tls.connections use. */
static void listener_label(const struct rp_listen *l, char *buf, size_t n)
{
	char a[64];

	rp_addr_fmt(&l->addr, a, sizeof(a));
	snprintf(buf, n, "%s:%s", rp_tp_name(l->tp), a);
}

/* The TLS settings of listener i: its own listen block's, with the command
 * line's --tls-* on top. base: p->tcfg.tls, which holds the command line's
 * values (and the first TLS listen block's, for --listen listeners). */
static void tls_listener_cfg(const struct proxy *p, const struct cfg_listen *l,
	const struct tls_cli *cli, const struct rp_tls_cfg *base, struct rp_tls_cfg *out)
{
	const struct cfg_tls *t;

	*out = *base;
	if (!l)
		return;
	t = &l->tls;
	if (!cli->cert) {
		out->cert_file = t->cert_auto || !t->cert ? p->auto_cert : t->cert;
		out->key_file = t->cert_auto || !t->cert ? p->auto_key : t->key;
	}
	if (!cli->ca)
		out->ca_file = t->ca_file;
	if (!cli->ca_dir)
		out->ca_dir = t->ca_dir;
	if (!cli->ciphers)
		out->ciphers = t->ciphers;
	if (!cli->verify) {
		out->verify_client = t->verify_client;
		out->require_client_cert = t->require_client_cert;
	}
	out->tls13_only = t->min_version == CFG_TLS_1_3;
	out->n_names = 0;
	for (unsigned k = 0; k < t->nsni && k < RP_TLS_SNI_NAMES; k++)
		out->names[out->n_names++] = t->sni[k];
	out->n_sni = 0;
	for (unsigned k = 0; k < t->n_sni_certs && k < RP_TLS_MAX_SNI; k++) {
		const struct cfg_sni_cert *sc = &t->sni_certs[k];
		struct rp_tls_sni_cert *o = &out->sni[out->n_sni++];

		memset(o, 0, sizeof(*o));
		for (unsigned j = 0; j < sc->nnames && j < RP_TLS_SNI_NAMES; j++)
			o->names[o->n_names++] = sc->names[j];
		o->cert_file = sc->cert;
		o->key_file = sc->key;
		o->chain_file = sc->chain;
	}
}

static int load_cfg(const char *path, struct cfg **out)
{
	struct cfg_diag *d = malloc(sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	cfg_diag_init(d);
	rc = path ? cfg_load_file(path, out, d) : cfg_load_default(out, d);
	if (rc < 0 || d->n)
		cfg_diag_print(d, stderr);
	free(d);
	return rc;
}

/* Generates the self-signed certificate for "cert = auto" / no cert. */
static int auto_cert(struct proxy *p, const char *state_dir, char *cert, char *key,
	size_t n)
{
	char err[256];
	const char *dir = state_dir;
	char fallback[64];
	int rc;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(fallback, sizeof(fallback), "/tmp/rampart-%u", (unsigned)getuid());
		rp_warn("cannot use %s (%s); using %s", dir, strerror(errno), fallback);
		dir = fallback;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	snprintf(cert, n, "%s/proxy-selfsigned.pem", dir);
	snprintf(key, n, "%s/proxy-selfsigned.key", dir);
	rc = rp_tls_gen_selfsigned(cert, key, "localhost", 365, err, sizeof(err));
	if (rc < 0) {
		rp_err("self-signed certificate: %s", err);
		return rc;
	}
	rp_notice("generated a self-signed ECDSA P-256 certificate for localhost: %s", cert);
	p->auto_cert = cert;
	p->auto_key = key;
	return 0;
}

/* The outbound settings of the tls {} block: the configured CAs, else the
 * system bundle. */
static void client_tls_cfg(const struct cfg *cfg, struct rp_tls_cfg *cc)
{
	const struct cfg_tls *t = &cfg_settings(cfg)->tls;

	*cc = (struct rp_tls_cfg){ .ca_file = t->ca_file, .ca_dir = t->ca_dir,
		.ciphers = t->ciphers, .tls13_only = t->min_version == CFG_TLS_1_3,
		.no_verify = !t->verify_server };
	if (!cc->no_verify && !cc->ca_file && !cc->ca_dir) {
		if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
			cc->ca_file = "/etc/ssl/certs/ca-certificates.crt";
		else
			cc->ca_dir = "/etc/ssl/certs";
	}
}

/* Outbound TLS (the global context, for trunks without their own). */
static void start_client_tls(struct proxy *p, const struct cfg *cfg)
{
	struct rp_tls_cfg cc;
	char err[320];
	rp_tls_store *client = NULL;

	client_tls_cfg(cfg, &cc);
	if (cc.no_verify)
		rp_warn("tls { verify_server = no; }: outbound TLS does not check servers' "
			"certificates (anyone on the path can pose as them)");
	free(p->client_sig);
	p->client_sig = rp_tls_cfg_sig(&cc);
	if (rp_tlsctl_set_client(p->tlsctl, &cc, &client, err, sizeof(err)) < 0) {
		rp_warn("outbound TLS disabled: %s", err);
		return;
	}
	rp_workers_set_client_tls(p->ws, client);
}

/* Outbound TLS of the trunks with client TLS settings of their own: all
 * built and validated first, nothing changes if one fails (err names it).
 * At start and at every config load. */
static int trunk_tls_set(struct proxy *p, const struct cfg *cfg, char *err, size_t errlen)
{
	const char *names[16];
	struct rp_tls_cfg cc[16];
	size_t n = 0;

	for (size_t i = 0; i < cfg_trunk_count(cfg); i++) {
		const struct cfg_trunk *t = cfg_trunk_at(cfg, i);
		struct rp_tls_cfg *c = &cc[n];

		if (!t->own_tls || t->transport != CFG_TP_TLS)
			continue;
		if (n == sizeof(cc) / sizeof(cc[0])) {
			snprintf(err, errlen, "more than %zu trunks with TLS settings of their own", n);
			return -E2BIG;
		}
		*c = (struct rp_tls_cfg){ .cert_file = t->tls.cert, .key_file = t->tls.key,
			.ca_file = t->tls.ca_file, .ca_dir = t->tls.ca_dir,
			.ciphers = t->tls.ciphers, .tls13_only = t->tls.min_version == CFG_TLS_1_3,
			.no_verify = !t->tls.verify_server };
		if (c->no_verify)
			rp_warn("trunk %s: verify_server = no: its servers' certificates are not "
				"checked (anyone on the path can pose as them)", t->name);
		else if (!c->ca_file && !c->ca_dir)
			c->ca_file = "/etc/ssl/certs/ca-certificates.crt";
		names[n++] = t->name;
	}
	return rp_tlsctl_set_trunks(p->tlsctl, names, cc, n, err, errlen);
}

/* Appends "; "-separated text to buf. */
static void note_add(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_add(char *buf, size_t n, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off && off + 2 < n)
		off += (size_t)snprintf(buf + off, n - off, "; ");
	if (off >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + off, n - off, fmt, ap);
	va_end(ap);
}

static bool listen_same(const struct rp_listen *a, const struct rp_listen *b)
{
	char x[80], y[80];

	listener_label(a, x, sizeof(x));
	listener_label(b, y, sizeof(y));
	return !strcmp(x, y);
}

/* The listen line of the new config as a listener (port defaulted). */
static int listen_of(const struct cfg_listen *l, struct rp_listen *out)
{
	memset(out, 0, sizeof(*out));
	out->tp = tp_from_cfg(l->transport);
	return rp_addr_parse(l->addr, l->port ? l->port : (out->tp == RP_TP_TLS ? 5061 : 5060),
		&out->addr);
}

static void tls_plan_drop(struct tls_plan *pl)
{
	for (size_t i = 0; i < RP_MAX_LISTEN; i++) {
		rp_tls_staged_free(pl->st[i]);
		free(pl->sig[i]);
	}
	rp_tls_staged_free(pl->client);
	free(pl->client_sig);
	memset(pl, 0, sizeof(*pl));
}

/* Listen lines cannot change without a restart (the sockets are bound by
 * the workers): each one added, removed or changed is named in 'restart'.
 * A TLS listener whose settings changed gets its new store built and
 * checked, and so does outbound TLS; the first failure refuses the reload
 * (why names the file, the line and the block) and nothing changes. */
static int tls_prepare(struct proxy *p, const struct cfg *nc, struct tls_plan *pl,
	char *why, size_t whysz, char *restart, size_t restartsz)
{
	bool used[RP_MAX_LISTEN * 4] = { 0 };
	size_t nn = cfg_listen_count(nc), gone[RP_MAX_LISTEN], ngone = 0;
	bool any_cfg = false;
	struct rp_tls_cfg cc;
	char err[400];
	int rc;

	memset(pl, 0, sizeof(*pl));
	for (size_t i = 0; i < p->tcfg.n_listen; i++)
		any_cfg |= p->from_cfg[i];
	/* With --listen on the command line the config's listen lines are
	 * not used: nothing to compare. */
	for (size_t i = 0; any_cfg && i < p->tcfg.n_listen; i++) {
		for (size_t j = 0; j < nn && j < sizeof(used) / sizeof(used[0]) && !pl->nl[i]; j++) {
			struct rp_listen nl;

			if (!used[j] && listen_of(cfg_listen_at(nc, j), &nl) == 0 &&
			    listen_same(&nl, &p->lconf[i])) {
				used[j] = true;
				pl->nl[i] = cfg_listen_at(nc, j);
			}
		}
		if (!pl->nl[i] && p->from_cfg[i])
			gone[ngone++] = i;
	}
	/* Lines new to the config, paired in order with the ones gone:
	 * "changed to"; the rest "added" or "removed". */
	size_t g = 0;

	for (size_t j = 0; any_cfg && j < nn && j < sizeof(used) / sizeof(used[0]); j++) {
		const struct cfg_listen *l = cfg_listen_at(nc, j);
		char now[80], was[80];
		struct rp_listen nl;

		if (used[j])
			continue;
		if (listen_of(l, &nl) < 0)
			snprintf(now, sizeof(now), "%s", l->addr);
		else
			listener_label(&nl, now, sizeof(now));
		if (g < ngone) {
			listener_label(&p->lconf[gone[g++]], was, sizeof(was));
			note_add(restart, restartsz, "listen %s changed to %s (line %u): needs a restart",
				was, now, l->line);
		} else {
			note_add(restart, restartsz, "listen %s added (line %u): needs a restart",
				now, l->line);
		}
	}
	for (; g < ngone; g++) {
		char was[80];

		listener_label(&p->lconf[gone[g]], was, sizeof(was));
		note_add(restart, restartsz, "listen %s removed: needs a restart", was);
	}
	/* Settings read once at start: a change is named, not silently kept. */
	{
		const struct cfg_settings *o = cfg_settings(p->cfg), *n = cfg_settings(nc);
		const struct { const char *name; const char *a, *b; } strs[] = {
			{ "control_socket", o->control_socket, n->control_socket },
			{ "control_socket_ro", o->control_socket_ro, n->control_socket_ro },
			{ "metrics_listen", o->metrics_listen, n->metrics_listen },
			{ "mediad_socket", o->mediad_socket, n->mediad_socket },
			{ "cdr_file", o->cdr_file, n->cdr_file },
		};
		const struct { const char *name; unsigned long a, b; } nums[] = {
			{ "workers", o->workers, n->workers },
			{ "max_message_size", o->max_message_size, n->max_message_size },
			{ "tcp_idle_timeout", o->tcp_idle_timeout, n->tcp_idle_timeout },
			{ "tcp_keepalive_interval", o->tcp_keepalive_interval,
				n->tcp_keepalive_interval },
		};

		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			if (strcmp(strs[k].a ? strs[k].a : "", strs[k].b ? strs[k].b : ""))
				note_add(restart, restartsz, "%s changed: needs a restart", strs[k].name);
		for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
			if (nums[k].a != nums[k].b)
				note_add(restart, restartsz, "%s %lu changed to %lu: needs a restart",
					nums[k].name, nums[k].a, nums[k].b);
	}
	for (size_t i = 0; i < p->tcfg.n_listen; i++) {
		rp_tls_store *s = p->tcfg.listen[i].tls;
		struct rp_tls_cfg lc;

		if (!s || !pl->nl[i])
			continue;
		tls_listener_cfg(p, pl->nl[i], &p->tcli, &p->tcfg.tls, &lc);
		pl->sig[i] = rp_tls_cfg_sig(&lc);
		if (!pl->sig[i]) {
			snprintf(why, whysz, "out of memory");
			tls_plan_drop(pl);
			return -ENOMEM;
		}
		if (p->tls_sig[i] && !strcmp(pl->sig[i], p->tls_sig[i]))
			continue;   /* unchanged: the store keeps its (committed) files */
		rc = rp_tls_store_prepare_cfg(s, &lc, &pl->st[i], err, sizeof(err));
		if (rc < 0) {
			snprintf(why, whysz, "%s:%u: listen %s: %s", p->config_path, pl->nl[i]->line,
				rp_tls_store_label(s), err);
			tls_plan_drop(pl);
			return rc;
		}
	}
	client_tls_cfg(nc, &cc);
	pl->client_sig = rp_tls_cfg_sig(&cc);
	if (!pl->client_sig) {
		snprintf(why, whysz, "out of memory");
		tls_plan_drop(pl);
		return -ENOMEM;
	}
	if (!p->client_sig || strcmp(pl->client_sig, p->client_sig)) {
		rp_tls_store *s = rp_tlsctl_client(p->tlsctl);

		if (!s) {
			pl->client_new = true;
		} else if ((rc = rp_tls_store_prepare_cfg(s, &cc, &pl->client, err,
				sizeof(err))) < 0) {
			snprintf(why, whysz, "%s: tls { } (outbound TLS): %s", p->config_path, err);
			tls_plan_drop(pl);
			return rc;
		}
	}
	return 0;
}

/* Publishes what tls_prepare built; new handshakes use it, established
 * connections keep their sessions. */
static void tls_apply(struct proxy *p, const struct cfg *nc, struct tls_plan *pl)
{
	for (size_t i = 0; i < p->tcfg.n_listen; i++) {
		rp_tls_store *s = p->tcfg.listen[i].tls;

		if (p->from_cfg[i])
			p->lcfg[i] = pl->nl[i];   /* the old config goes away */
		if (!pl->sig[i])
			continue;
		free(p->tls_sig[i]);
		p->tls_sig[i] = pl->sig[i];
		pl->sig[i] = NULL;
		if (!pl->st[i])
			continue;
		rp_tls_store_apply_cfg(s, pl->st[i]);
		pl->st[i] = NULL;
		rp_notice("TLS listener %s: new settings from %s in use for new connections; "
			"established ones keep theirs", rp_tls_store_label(s), p->config_path);
	}
	if (pl->client) {
		rp_tls_store_apply_cfg(rp_tlsctl_client(p->tlsctl), pl->client);
		pl->client = NULL;
		rp_notice("outbound TLS: new settings from %s in use for new connections",
			p->config_path);
	}
	if (pl->client_new && atomic_load(&p->core))
		start_client_tls(p, nc);   /* was off; logs if it stays off */
	else if (pl->client_sig) {
		free(p->client_sig);
		p->client_sig = pl->client_sig;
		pl->client_sig = NULL;
	}
	tls_plan_drop(pl);
}

static struct rp_tls_store *trunk_tls_of(void *arg, const char *trunk)
{
	return rp_tlsctl_trunk(((struct proxy *)arg)->tlsctl, trunk);
}

/* mediad saw no media for media-timeout: the call ends (BYE both sides). */
static void on_media_timeout(void *arg, uint64_t session, bool deleted)
{
	struct proxy *p = arg;
	rp_core *core = atomic_load(&p->core);
	int rc;

	if (!core)
		return;
	rc = rp_core_call_drop_session(core, session, "media-timeout");
	if (rc == 0)
		rp_notice("mediad session %" PRIu64 " had no media%s: call ended", session,
			deleted ? " (deleted)" : "");
	else if (rc != -ENOENT)
		rp_info("mediad session %" PRIu64 " timed out; call not ended: %s", session,
			strerror(-rc));
}

/* The audit trail (docs/cdr.md): refuse to run without it once asked for. */
static int cdr_open(struct proxy *p, const struct cfg *cfg)
{
	const struct cfg_settings *st = cfg_settings(cfg);
	rp_cdr_cfg cc = { .path = st->cdr_file, .fsync_lines = st->cdr_fsync_lines,
		.fsync_ms = st->cdr_fsync_ms, .hash = (enum rp_cdr_hash)st->cdr_hash };
	uint8_t secret[257];
	ssize_t n = 0;
	int rc, fd;

	if (!st->cdr_file)
		return 0;
	if (cc.hash == RP_CDR_HASH_HMAC) {
		fd = open(st->cdr_secret_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (n = read(fd, secret, sizeof(secret))) < 16 || n > 256) {
			rp_err("cdr_secret_file %s: %s", st->cdr_secret_file, fd < 0 ?
				strerror(errno) : "want 16..256 bytes");
			if (fd >= 0)
				close(fd);
			explicit_bzero(secret, sizeof(secret));
			return -EINVAL;
		}
		close(fd);
		cc.secret = secret;
		cc.secret_len = (size_t)n;
	}
	rc = rp_cdr_open(&cc, &p->cdr);
	explicit_bzero(secret, sizeof(secret));
	if (rc < 0)
		rp_err("cdr_file %s: %s", st->cdr_file, strerror(-rc));
	else
		rp_notice("call detail records to %s", st->cdr_file);
	return rc;
}

static void start_core(struct proxy *p, struct cfg *cfg)
{
	struct rp_core_cfg cc = { .cfg = cfg, .listen = p->tcfg.listen,
		.nlisten = p->tcfg.n_listen };
	rp_core *core = NULL;
	int rc;

	struct rp_calls_cfg kc = { .cdr = p->cdr };

	start_client_tls(p, cfg);
	p->media = media_link_new(cfg);
	cc.media = p->media ? &p->media->be : NULL;
	cc.metrics = p->metrics ? &p->mx : NULL;
	if (p->media) {
		kc.stats = ml_stats;
		kc.stats_arg = p->media;
	}
	cc.calls = &kc;
	cc.trunk_tls = trunk_tls_of;
	cc.trunk_tls_arg = p;
	rc = rp_core_new(&cc, p->ws, &core);
	if (rc == 0)
		rc = rp_core_start_timers(core);
	if (rc < 0) {
		rp_err("proxy core not started (%s): answering with the minimal responder",
			strerror(-rc));
		rp_core_free(core);
		return;
	}
	atomic_store(&p->core, core);
	if (p->media && rp_mediaev_start(p->media->path, on_media_timeout, p, &p->mev) < 0)
		rp_warn("mediad timeout events not followed: calls without media stay up");
}

enum {
	O_CONFIG = 256, O_CHECK, O_LISTEN, O_WORKERS, O_CERT, O_KEY, O_CA, O_CADIR,
	O_CIPHERS, O_VERIFY, O_DOMAIN, O_STATE, O_IDLE, O_MAXC, O_MAXIP, O_HS,
	O_LOG, O_VERSION, O_HELP, O_CONTROL, O_NOCORE, O_METRICS,
};

static unsigned long num_arg(const char *s, const char *opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v > 1000000000ul) {
		fprintf(stderr, "rampart-proxy: %s: bad number '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "check", required_argument, NULL, O_CHECK },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_KEY },
		{ "tls-ca", required_argument, NULL, O_CA },
		{ "tls-ca-dir", required_argument, NULL, O_CADIR },
		{ "tls-ciphers", required_argument, NULL, O_CIPHERS },
		{ "tls-verify-client", no_argument, NULL, O_VERIFY },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "max-conns", required_argument, NULL, O_MAXC },
		{ "max-conns-per-ip", required_argument, NULL, O_MAXIP },
		{ "handshake-timeout", required_argument, NULL, O_HS },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "control", required_argument, NULL, O_CONTROL },
		{ "no-core", no_argument, NULL, O_NOCORE },
		{ "metrics-listen", required_argument, NULL, O_METRICS },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static struct proxy P;
	struct proxy *p = &P;
	struct rp_listen cli_listen[RP_MAX_LISTEN];
	size_t n_cli_listen = 0;
	const char *config = NULL, *state_dir = "/run/rampart", *control = NULL;
	const char *metrics_listen = NULL;
	rp_httpd *httpd = NULL;
	ctl_server *ctl = NULL, *ctl_ro = NULL;
	int sfd;
	const char *cert = NULL, *key = NULL, *ca = NULL, *cadir = NULL, *ciphers = NULL;
	bool verify = false, cert_auto = true, need_tls = false, no_core = false;
	bool need_auto = false;
	struct tls_cli tcli = { 0 };
	enum rp_log_level lvl = RP_LOG_NOTICE;
	long idle = -1, maxc = -1, maxip = -1, hs = -1, workers = -1;
	char gcert[300], gkey[300];
	struct cfg *cfg = NULL;
	rp_tls_store *tls = NULL;
	sigset_t set;
	int c, rc, exit_code = 0;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: config = optarg; break;
		case O_CHECK:
			return cfg_check_file(optarg, stdout);
		case O_LISTEN:
			if (n_cli_listen >= RP_MAX_LISTEN ||
			    rp_listen_parse(optarg, &cli_listen[n_cli_listen]) < 0) {
				fprintf(stderr, "rampart-proxy: bad --listen '%s' "
					"(want udp|tcp|tls:ADDR[:PORT])\n", optarg);
				return 2;
			}
			n_cli_listen++;
			break;
		case O_WORKERS: workers = (long)num_arg(optarg, "--workers"); break;
		case O_CERT: cert = optarg; break;
		case O_KEY: key = optarg; break;
		case O_CA: ca = optarg; break;
		case O_CADIR: cadir = optarg; break;
		case O_CIPHERS: ciphers = optarg; break;
		case O_VERIFY: verify = true; break;
		case O_DOMAIN:
			if (p->n_domains < MAX_DOMAINS)
				p->domains[p->n_domains++] = optarg;
			break;
		case O_STATE: state_dir = optarg; break;
		case O_CONTROL: control = optarg; break;
		case O_NOCORE: no_core = true; break;
		case O_METRICS: metrics_listen = optarg; break;
		case O_IDLE: idle = (long)num_arg(optarg, "--idle-timeout"); break;
		case O_MAXC: maxc = (long)num_arg(optarg, "--max-conns"); break;
		case O_MAXIP: maxip = (long)num_arg(optarg, "--max-conns-per-ip"); break;
		case O_HS: hs = (long)num_arg(optarg, "--handshake-timeout"); break;
		case O_LOG:
			if (rp_log_level_parse(optarg, &lvl) < 0) {
				fprintf(stderr, "rampart-proxy: bad --log-level '%s'\n", optarg);
				return 2;
			}
			p->log_cli = true;
			break;
		case 'V':
		case O_VERSION:
			printf("rampart-proxy %s\n", RAMPART_VERSION);
			return 0;
		case 'h':
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	rp_log_open(RP_LOG_STDERR, "rampart-proxy", lvl);
	rp_transport_cfg_defaults(&p->tcfg);
	if (gethostname(p->hostname, sizeof(p->hostname) - 1) < 0)
		p->hostname[0] = 0;
	if (getrandom(p->tag_key, sizeof(p->tag_key), 0) != sizeof(p->tag_key) ||
	    getrandom(tag_key, sizeof(tag_key), 0) != sizeof(tag_key)) {
		rp_err("getrandom failed");
		return 1;
	}

	rc = load_cfg(config, &cfg);
	if (rc < 0) {
		rp_err("%s: cannot load configuration: %s", config ? config : "<default>",
			strerror(-rc));
		return 1;
	}
	rc = apply_cfg(p, cfg, n_cli_listen > 0, &cert_auto);
	if (rc < 0) {
		rp_err("configuration: unusable listener (%s)", strerror(-rc));
		return 1;
	}
	for (size_t i = 0; i < n_cli_listen; i++)
		p->tcfg.listen[p->tcfg.n_listen++] = cli_listen[i];
	if (workers >= 0)
		p->tcfg.workers = (unsigned)workers;
	if (idle >= 0)
		p->tcfg.idle_timeout_ms = (uint32_t)idle * 1000u;
	if (maxc >= 0)
		p->tcfg.max_conns = (unsigned)maxc;
	if (maxip >= 0)
		p->tcfg.max_conns_per_ip = (unsigned)maxip;
	if (hs >= 0)
		p->tcfg.tls_handshake_timeout_ms = (uint32_t)hs * 1000u;
	if (cert || key) {
		p->tcfg.tls.cert_file = cert;
		p->tcfg.tls.key_file = key;
		cert_auto = false;
		tcli.cert = true;
	}
	tcli.ca = ca != NULL;
	tcli.ca_dir = cadir != NULL;
	tcli.ciphers = ciphers != NULL;
	tcli.verify = verify;
	p->tcli = tcli;
	if (ca)
		p->tcfg.tls.ca_file = ca;
	if (cadir)
		p->tcfg.tls.ca_dir = cadir;
	if (ciphers)
		p->tcfg.tls.ciphers = ciphers;
	if (verify) {
		p->tcfg.tls.verify_client = true;
		p->tcfg.tls.require_client_cert = true;
	}

	for (size_t i = 0; i < p->tcfg.n_listen; i++) {
		const struct cfg_listen *l = p->lcfg[i];

		if (p->tcfg.listen[i].tp != RP_TP_TLS)
			continue;
		need_tls = true;
		/* Generated once if any TLS listener is left without a certificate. */
		if (!tcli.cert && (l ? l->tls.cert_auto || !l->tls.cert : cert_auto))
			need_auto = true;
	}
	if (rp_tls_global_init() < 0) {
		rp_err("wolfSSL init failed");
		return 1;
	}
	if (rp_tlsctl_new(&p->tlsctl) < 0) {
		rp_err("out of memory");
		return 1;
	}
	if (need_tls) {
		char err[400], label[80];

		if (need_auto && auto_cert(p, state_dir, gcert, gkey, sizeof(gcert)) < 0)
			return 1;
		if (!p->tcfg.tls.cert_file) {
			p->tcfg.tls.cert_file = p->auto_cert;
			p->tcfg.tls.key_file = p->auto_key;
		}
		for (size_t i = 0; i < p->tcfg.n_listen; i++) {
			struct rp_tls_cfg lc;

			if (p->tcfg.listen[i].tp != RP_TP_TLS)
				continue;
			tls_listener_cfg(p, p->lcfg[i], &tcli, &p->tcfg.tls, &lc);
			p->tls_sig[i] = rp_tls_cfg_sig(&lc);
			listener_label(&p->tcfg.listen[i], label, sizeof(label));
			lc.label = label;
			rc = rp_tlsctl_add_listener(p->tlsctl, &lc, &p->tcfg.listen[i].tls,
				err, sizeof(err));
			if (rc < 0) {
				rp_err("TLS (%s): %s", label, err);
				return 1;
			}
			if (!tls)
				tls = p->tcfg.listen[i].tls;
		}
	}

	/* Signals are taken by this thread only, through a signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		rp_err("signalfd: %s", strerror(errno));
		return 1;
	}
	rc = rp_workers_start(&p->tcfg, tls, on_message, p, &p->ws);
	if (rc < 0) {
		rp_err("cannot start: %s", strerror(-rc));
		rp_tlsctl_free(p->tlsctl);
		return 1;
	}
	rp_workers_set_batch_wait(p->ws, cfg_settings(cfg)->batch_wait_us);
	rp_workers_set_udp_steering(p->ws, !cfg_settings(cfg)->udp_steering_hash);
	{
		const struct rp_listen *ls;
		size_t n = rp_workers_listeners(p->ws, &ls);

		/* The bound ports (port 0 resolved) are the listeners from now on. */
		for (size_t i = 0; i < n; i++) {
			char a[64];

			p->tcfg.listen[i] = ls[i];
			rp_addr_fmt(&ls[i].addr, a, sizeof(a));
			rp_notice("listening on %s:%s", rp_tp_name(ls[i].tp), a);
			if (ls[i].tls) {
				/* Port 0 is resolved now: name the listener by it. */
				char label[80], err[400];

				listener_label(&ls[i], label, sizeof(label));
				if (rp_tls_store_set_label(ls[i].tls, label, err, sizeof(err)) < 0)
					rp_warn("TLS listener %s: %s", label, err);
			}
		}
	}
	p->start_ms = rp_now_ms();
	char mcfg[80];
	if (!metrics_listen && cfg_settings(cfg)->metrics_listen) {
		const char *m = cfg_settings(cfg)->metrics_listen;

		/* A bare port: loopback only. */
		if (!strchr(m, ':'))
			snprintf(mcfg, sizeof(mcfg), "127.0.0.1:%s", m);
		else
			snprintf(mcfg, sizeof(mcfg), "%s", m);
		metrics_listen = mcfg;
	}
	if (metrics_listen) {
		char mhost[64];
		uint16_t mport;
		rp_httpd_cfg hc = { 0 };

		rc = parse_hostport(metrics_listen, mhost, sizeof(mhost), &mport);
		if (rc == 0)
			rc = metrics_setup(p);
		if (rc == 0) {
			hc.addr = mhost;
			hc.port = mport;
			hc.metrics = p->metrics;
			rc = rp_httpd_start(&hc, &httpd);
		}
		if (rc < 0) {
			/* Like any other listener: refuse to start without it. */
			rp_err("metrics address %s (--metrics-listen / metrics_listen): %s", metrics_listen,
				strerror(-rc));
			rp_workers_stop(p->ws);
			rp_metrics_free(p->metrics);
			cfg_put(cfg);
			return 1;
		}
		rp_notice("metrics on http://%s%s%s:%u/metrics", strchr(mhost, ':') ? "[" : "",
			mhost, strchr(mhost, ':') ? "]" : "", rp_httpd_port(httpd));
	}
	char tls_err[320];

	if (!no_core && trunk_tls_set(p, cfg, tls_err, sizeof(tls_err)) < 0) {
		rp_err("outbound TLS of a trunk: %s", tls_err);
		rp_workers_stop(p->ws);
		rp_httpd_stop(httpd);
		rp_metrics_free(p->metrics);
		cfg_put(cfg);
		return 1;
	}
	if (!no_core && cdr_open(p, cfg) < 0) {
		rp_workers_stop(p->ws);
		rp_httpd_stop(httpd);
		rp_metrics_free(p->metrics);
		cfg_put(cfg);
		return 1;
	}
	if (!no_core)
		start_core(p, cfg);
	if (!control)
		control = cfg_settings(cfg)->control_socket ?
			cfg_settings(cfg)->control_socket : "/run/rampart/proxy.sock";
	/* Absolute, so 'config reload' reads the same file whatever the cwd. */
	p->config_path = config ? realpath(config, NULL) : NULL;
	if (config && !p->config_path)
		p->config_path = strdup(config);
	p->cfg = cfg;
	cfg = NULL;
	{
		const struct cfg_settings *st = cfg_settings(p->cfg);

		ctl = ctl_start(p, control, st->control_mode, st->control_group, false);
		if (st->control_socket_ro && strcmp(st->control_socket_ro, "none"))
			ctl_ro = ctl_start(p, st->control_socket_ro, st->control_ro_mode,
				st->control_ro_group, true);
	}
	rp_notice("rampart-proxy %s running with %u workers", RAMPART_VERSION,
		rp_workers_count(p->ws));
	for (;;) {
		struct pollfd pf[3] = { { .fd = sfd, .events = POLLIN },
			{ .fd = ctl ? ctl_server_fd(ctl) : -1, .events = POLLIN },
			{ .fd = ctl_ro ? ctl_server_fd(ctl_ro) : -1, .events = POLLIN } };
		struct signalfd_siginfo si;

		/* A 1 s wake-up applies the CDR fsync time bound when calls are
		 * quiet and writes the summaries of rate-limited log lines. */
		int pr = poll(pf, 3, 1000);

		if (p->cdr)
			(void)rp_cdr_tick(p->cdr);
		(void)rp_log_rl_flush(false);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			rp_err("poll: %s", strerror(errno));
			exit_code = 1;
			break;
		}
		if (ctl && (pf[1].revents & POLLIN) && ctl_server_handle(ctl) < 0) {
			rp_warn("control socket failed; closing it");
			ctl_server_free(ctl);
			ctl = NULL;
		}
		if (ctl_ro && (pf[2].revents & POLLIN) && ctl_server_handle(ctl_ro) < 0) {
			rp_warn("read-only control socket failed; closing it");
			ctl_server_free(ctl_ro);
			ctl_ro = NULL;
		}
		if (!(pf[0].revents & POLLIN) ||
		    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			char err[512], restart[512];

			/* logrotate renamed the CDR file: write to a new one. */
			if (p->cdr && rp_cdr_reopen(p->cdr) < 0)
				rp_err("SIGHUP: cannot reopen %s; CDRs keep going to the old file",
					cfg_settings(p->cfg)->cdr_file);
			else if (p->cdr)
				rp_notice("SIGHUP: CDR file reopened");

			/* Each logs its own outcome; a bad file changes nothing. */
			if (p->config_path)
				(void)config_reload(p, err, sizeof(err), restart, sizeof(restart));
			else
				rp_notice("SIGHUP: built-in configuration, nothing to re-read");
			if (tls)
				(void)tls_reload(p, err, sizeof(err));
			/* The reload logs each listener's outcome. */
			continue;
		}
		rp_notice("%s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	(void)rp_log_rl_flush(true);
	ctl_server_free(ctl_ro);
	ctl_server_free(ctl);
	/* The metrics server reads the core through its callbacks: stop it first. */
	rp_httpd_stop(httpd);
	close(sfd);
	/* Workers halted and the mediad event thread stopped first: nothing
	 * calls into the core after this. The core's timer and resolver
	 * threads send through the workers' sockets until rp_core_free has
	 * joined them, so the workers are freed only after it. */
	rp_mediaev_stop(p->mev);
	rp_workers_halt(p->ws);
	rp_core_free(atomic_load(&p->core));
	rp_workers_stop(p->ws);
	rp_cdr_close(p->cdr);
	media_link_free(p->media);
	/* After the workers: the stores outlive every TLS session. */
	rp_tlsctl_free(p->tlsctl);
	rp_tls_global_fini();
	for (size_t i = 0; i < RP_MAX_LISTEN; i++)
		free(p->tls_sig[i]);
	free(p->client_sig);
	cfg_put(p->cfg);
	rp_metrics_free(p->metrics);
	free((char *)p->config_path);
	return exit_code;
}
