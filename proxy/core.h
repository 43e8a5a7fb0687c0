/* core: the SIP proxy logic of rampart-proxy (RFC 3261 §16), on top of the
 * transaction layer (txn.h) and the routing script (cfg_eval.h).
 *
 * For every received message the worker calls rp_core_handle() (or passes
 * rp_core_on_message as its rp_msg_handler). The core parses it once, and:
 *  - answers what it must refuse itself: 400 (parser's reason; unparsable
 *    responses are dropped), 483 (Max-Forwards 0), 482 (loop, §16.3 item
 *    4), 420 (Proxy-Require), 481 (CANCEL without a transaction);
 *  - absorbs retransmissions and the ACK of our non-2xx answers;
 *  - answers CANCEL with 200 and cancels the pending branch (487 back);
 *  - runs the script's 'request' route for a new request and carries out
 *    its verdict: reply, relay (to the Request-URI / Route set or to a
 *    trunk's addresses with serial failover on timeout or 5xx), drop;
 *  - forwards requests statefully (our Via with a fresh branch, received/
 *    rport on the previous hop's Via, Max-Forwards, Record-Route (double
 *    when transport or interface change), loose routing) and responses
 *    back by the server transaction; the ACK of a 2xx and stray 2xx
 *    retransmissions are forwarded statelessly;
 *  - with a media backend, keeps one rp_media_call per INVITE dialog
 *    (Call-ID + caller's tag) and rewrites every SDP body it forwards.
 *
 * Threading: rp_core_handle() may run on any number of threads at once;
 * the transaction state is sharded (txn.h). Timers run on the core's own
 * timer thread (rp_core_start_timers) or whoever calls rp_core_tick().
 *
 * Ownership: rp_core_new() takes a reference to the config (dropped by
 * rp_core_free); every transaction holds a reference to the config it
 * started with, so a reload does not change calls in progress.
 */
#ifndef RP_CORE_H
#define RP_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "calls.h"
#include "cfg_prog.h"
#include "dns.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "sip_msg.h"
#include "transport.h"
#include "txn.h"
#include "worker.h"

typedef struct rp_core rp_core;

struct rp_media_backend;

struct rp_mval;
struct rp_metric;
struct rp_probe;
/* Metric cells (common/rp_metrics.h) the core bumps on its paths: one
 * relaxed atomic add each. Any pointer may be NULL. Owned by the caller's
 * registry, which must outlive the core. */
struct rp_core_metrics {
	struct rp_mval *req[SIP_METHOD_UPDATE + 1]; /* by enum sip_method; [0] other */
	struct rp_mval *resp[7];                    /* sent or relayed, by code / 100 */
	struct rp_mval *calls_total;                /* calls started (calls.h) */
	struct rp_mval *refused[RP_REFUSAL_COUNT];  /* 488 by the media policy */
	/* gauge_vec {trunk, address}: 1 up, 0 down, set when probing decides */
	struct rp_metric *trunk_up;
};

struct rp_core_cfg {
	struct cfg *cfg;                /* required; a reference is taken */
	const struct rp_listen *listen; /* our listeners as bound (copied) */
	size_t nlisten;
	unsigned shards;                /* 0: 16 */
	uint32_t t1_ms, t2_ms, t4_ms;   /* 0: the config's timer_t1/t2/t4 */
	uint32_t timer_c_ms;            /* 0: 180 s */
	/* Server transactions alive at most; a new request beyond it gets
	 * 503 with Retry-After (a flood cannot take all memory). 0: 262144. */
	size_t max_txns;
	/* How messages leave. NULL: rp_workers_send (responses, UDP) /
	 * rp_workers_send_to (requests over TCP/TLS) on 'ws'. */
	int (*send)(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len);
	void *send_arg;
	/* The media layer (proxy/media.h): every SDP offer/answer of an
	 * INVITE dialog (INVITE, re-INVITE, UPDATE, PRACK, 18x/2xx, ACK) is
	 * rewritten through rampart-mediad as docs/media-policy.md says;
	 * refusals get 488 + Reason: Q.850;cause=88, a mediad failure 503.
	 * Copied; its arg must outlive the core. NULL: bodies pass unchanged. */
	const struct rp_media_backend *media;
	/* Copied; NULL: no metrics. */
	const struct rp_core_metrics *metrics;
	/* The call registry's CDR writer and mediad counters (calls.h);
	 * copied (its metric cells come from 'metrics'). NULL: no CDRs. */
	const struct rp_calls_cfg *calls;
	/* The client TLS context of a trunk with TLS settings of its own
	 * (cfg_trunk.own_tls), by trunk name, for its relays and probes; NULL
	 * (or a NULL callback): the global one. Called from any thread; what
	 * it returns must live as long as the core. */
	struct rp_tls_store *(*trunk_tls)(void *arg, const char *trunk);
	void *trunk_tls_arg;
};

/* Creates the core. 'ws' may be NULL (set it later with
 * rp_core_set_workers; until then sends fail with -ENOTCONN) unless
 * c->send is set. Returns 0, -EINVAL or -ENOMEM; *out only on success. */
int rp_core_new(const struct rp_core_cfg *c, rp_workers *ws, rp_core **out);
/* Stops the timer thread, frees every transaction and the core. NULL ok. */
void rp_core_free(rp_core *core);

/* The workers to send through (when c->send was NULL); set once, before
 * or after the workers start. */
void rp_core_set_workers(rp_core *core, rp_workers *ws);
/* Installs a new config for new transactions (takes a reference). */
void rp_core_set_cfg(rp_core *core, struct cfg *c);
/* Our listeners changed (e.g. ports resolved after start). */
void rp_core_set_listeners(rp_core *core, const struct rp_listen *l, size_t n);

/* Processes one framed message received as 'mi' says. */
void rp_core_handle(rp_core *core, const struct rp_msg_info *mi, const char *msg,
	size_t len);
/* Same, with the caller's clock (tests). */
void rp_core_handle_at(rp_core *core, const struct rp_msg_info *mi, const char *msg,
	size_t len, uint64_t now_ms);
/* rp_msg_handler shape: arg is the rp_core. */
void rp_core_on_message(const struct rp_msg_info *mi, const char *msg, size_t len,
	void *arg);

/* Fires every due transaction timer (now_ms on the rp_now_ms clock). */
void rp_core_tick(rp_core *core, uint64_t now_ms);
/* Starts a thread that calls rp_core_tick every 20 ms until rp_core_free. */
int rp_core_start_timers(rp_core *core);

struct rp_core_stats {
	uint64_t requests, responses, malformed, retransmissions, forwarded,
		relayed_responses, local_replies, timeouts, failovers, loops,
		cancels, stateless, overload;
	size_t server_txns, client_txns;
};
void rp_core_get_stats(rp_core *core, struct rp_core_stats *st);

/* Run-time DNS: the resolver's counters, requests waiting for a name
 * (parked in their transaction) and trunk names kept located (one per
 * distinct name/port/transport of the installed config's trunks). */
struct rp_core_dns_stats {
	struct rp_dns_stats resolver;
	size_t waiting, trunk_names;
};
void rp_core_get_dns_stats(rp_core *core, struct rp_core_dns_stats *st);

/* One line per live transaction (at most 'max', 0 = all) appended to b:
 * for a control-socket command (see rp_txn_dump). Returns the count. */
size_t rp_core_dump_txns(rp_core *core, rp_buf *b, size_t max);
/* The core's registrar (for the control socket's 'registrations'); owned
 * by the core, valid until rp_core_free. */
struct rp_registrar *rp_core_registrar(rp_core *core);
/* Reachability of the trunks' addresses from OPTIONS probing (probe.h);
 * owned by the core, valid until rp_core_free. */
struct rp_probe *rp_core_probe(rp_core *core);
/* Calls in the registry now (set up or answered, not ended). */
size_t rp_core_calls_active(rp_core *core);
/* The call registry (owned by the core, valid until rp_core_free). */
rp_calls *rp_core_calls(rp_core *core);
/* Ends a call from the proxy: an answered one with an in-dialog BYE to
 * both sides (with 'why' in a Reason header), one still being set up as a
 * CANCEL would (CANCEL toward the callee, 487 to the caller); CDR with end
 * reason 'why' ("operator-drop", "media-timeout"), mediad session deleted.
 * By registry id or by mediad session id. 0, -ENOENT (no such live call),
 * -EAGAIN (its final response or a CANCEL is already under way).
 * A BYE that cannot be sent (say -EMSGSIZE) does not stop the drop: the
 * call still ends (0); bye_rc (NULL: not wanted) gets 0 or that error per
 * side, [RP_CALL_A] the caller's, [RP_CALL_B] the callee's (1: no BYE was
 * due, the call was cancelled). */
int rp_core_call_drop(rp_core *core, uint64_t id, const char *why, int bye_rc[2]);
int rp_core_call_drop_session(rp_core *core, uint64_t session, const char *why);

#endif
