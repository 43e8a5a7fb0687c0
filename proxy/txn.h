/* txn: the RFC 3261 §17 transaction layer of the proxy.
 *
 * Server transactions (a request we received) and client transactions (a
 * request we sent), INVITE and non-INVITE, with timers A-K as §17 gives
 * them (T1/T2/T4 configurable), retransmission on UDP only, absorption of
 * request retransmissions (§17.2.3 matching with the z9hG4bK branch, the
 * RFC 2543 fallback otherwise), hop-by-hop ACK of non-2xx final responses,
 * an RFC 6026 "accepted" state for INVITE server transactions that sent a
 * 2xx, and proxy Timer C (§16.6 item 11) on INVITE client transactions.
 *
 * Threading: transactions live in S shards; each shard has one mutex, one
 * hash table of server and one of client transactions, and one rp_timers
 * heap. A request is in the shard of its Call-ID (so INVITE, CANCEL and
 * ACK of one transaction meet); our branches carry the shard number, so a
 * response received on any worker finds its client transaction. Every
 * function below except rp_txn_layer_*, rp_txn_shard_of(), rp_txn_expire()
 * and rp_txn_lock()/unlock() must be called with the shard lock held; the
 * ops callbacks are called with it held too (they must not take it again).
 *
 * Time is always given by the caller ("now", ms on the rp_now_ms() clock),
 * so tests drive the real state machines with a made-up clock.
 *
 * Ownership: the layer owns every transaction. A server transaction is
 * freed when it has terminated and no client transaction names it as its
 * parent any more; ops->srv_gone / ops->cli_gone are called just before a
 * transaction is freed, so the owner of the user area can release what it
 * holds there.
 */
#ifndef RP_TXN_H
#define RP_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"
#include "sip_msg.h"
#include "transport.h"

typedef struct rp_txl rp_txl;
typedef struct rp_txn_srv rp_txn_srv;
typedef struct rp_txn_cli rp_txn_cli;

enum rp_txn_state {
	RP_TXN_TRYING,      /* non-INVITE, nothing sent / received yet */
	RP_TXN_CALLING,     /* INVITE client, no response yet */
	RP_TXN_PROCEEDING,  /* provisional seen / sent */
	RP_TXN_COMPLETED,   /* final non-2xx (INVITE) or any final (non-INVITE) */
	RP_TXN_CONFIRMED,   /* INVITE server: ACK received */
	RP_TXN_ACCEPTED,    /* INVITE server: 2xx sent (RFC 6026) */
	RP_TXN_TERMINATED,
};
const char *rp_txn_state_name(enum rp_txn_state s);

/* Where a message goes. tls_domain (TLS only) is the name the server's
 * certificate must match (RFC 5922); it is borrowed and must outlive the
 * transaction. tls_store (TLS only, opaque here: proxy/tls.h) is the
 * client TLS context of a trunk with settings of its own, NULL for the
 * global one; borrowed, it lives as long as the process. 'reply' says the message is a response, 'flow' that it is a
 * request to a UA over the connection it registered on: both must go over
 * an existing connection and never open one. 'nowait' (a request sent
 * without a transaction) lets a UDP send be batched like a response's
 * (rp_workers_send_later): no send error is reported for either. 'reuse'
 * (enum rp_conn_reuse, proxy/conn.h; 0 = RP_REUSE_SAME_TLS, the strictest)
 * says which open connection a request that may open one accepts. */
struct rp_tls_store;
struct rp_txn_dest {
	enum rp_tp tp;
	rp_addr addr;
	const char *tls_domain;
	struct rp_tls_store *tls_store;
	bool reply;
	bool flow;
	bool nowait;
	unsigned char reuse;
};

struct rp_txn_cfg {
	uint32_t t1_ms, t2_ms, t4_ms; /* 0: 500, 4000, 5000 */
	uint32_t timer_c_ms;          /* 0: 180000 */
	unsigned shards;              /* 1..256; 0: 16 */
};

struct rp_txn_ops {
	/* Puts bytes on the wire; 0 or a negative errno. */
	int (*send)(void *arg, const struct rp_txn_dest *d, const char *buf, size_t len);
	/* A client transaction passes something up: a response (provisional,
	 * or the first copy of a final; code = its status), or resp NULL with
	 * code 408 (Timer B/F), 503 (could not be sent), or 0 (Timer C fired:
	 * the proxy should CANCEL the branch; the transaction times out with
	 * 408 64*T1 later if no final response comes). */
	void (*cli_event)(void *arg, rp_txn_cli *c, const struct sip_msg *resp, unsigned code,
		uint64_t now);
	/* Just before a transaction is freed (NULL: nothing to do). */
	void (*srv_gone)(void *arg, rp_txn_srv *s);
	void (*cli_gone)(void *arg, rp_txn_cli *c);
};

/* Creates the layer; 'ops' and 'arg' are borrowed. Returns 0, -EINVAL or
 * -ENOMEM; *out only on success. */
int rp_txn_layer_new(const struct rp_txn_cfg *cfg, const struct rp_txn_ops *ops,
	void *arg, rp_txl **out);
/* Frees every transaction (srv_gone/cli_gone are called) and the layer.
 * NULL ok. No other thread may use the layer any more. */
void rp_txn_layer_free(rp_txl *l);

unsigned rp_txn_shards(const rp_txl *l);
/* Shard of a Call-ID. */
unsigned rp_txn_shard_of(const rp_txl *l, rp_str call_id);
void rp_txn_lock(rp_txl *l, unsigned shard);
void rp_txn_unlock(rp_txl *l, unsigned shard);

/* Fires every due timer of every shard (each under its lock). */
void rp_txn_expire(rp_txl *l, uint64_t now);
/* Earliest armed deadline over all shards, UINT64_MAX when none. */
uint64_t rp_txn_next_deadline(rp_txl *l);
/* Transactions alive (all shards; takes the locks). */
void rp_txn_count(rp_txl *l, size_t *srv, size_t *cli);

/* Appends one line per live transaction (at most 'max'; 0 = all) to b,
 * for the control socket: "srv INVITE proceeding udp 192.0.2.1:5060
 * <key>" / "cli INVITE calling udp 192.0.2.9:5060 <branch>". Takes each
 * shard lock in turn. Returns the number of lines. */
struct rp_buf;
size_t rp_txn_dump(rp_txl *l, struct rp_buf *b, size_t max);

/* ---- branches ---- */

/* "z9hG4bK" "rp" + 2 hex (shard) + 16 hex (loop hash) + 16 hex (random). */
#define RP_TXN_BRANCH_LEN 43
#define RP_TXN_BRANCH_PREFIX "z9hG4bKrp"
/* Writes a fresh branch for 'shard' into out (no NUL). 0 or -errno. */
int rp_txn_branch(rp_txl *l, unsigned shard, uint64_t loop_hash,
	char out[RP_TXN_BRANCH_LEN]);
/* Shard number of one of our branches, or -1 when it is not ours. */
int rp_txn_branch_shard(const rp_txl *l, rp_str branch);
/* Loop hash of one of our branches; false when it is not ours. */
bool rp_txn_branch_loop(rp_str branch, uint64_t *loop_hash);

/* ---- server transactions ---- */

/* The server transaction a request belongs to (§17.2.3): 'as_invite'
 * matches a CANCEL (or anything) against the INVITE of the same branch;
 * ACK always matches its INVITE. NULL when none. */
rp_txn_srv *rp_txn_srv_find(rp_txl *l, unsigned shard, const struct sip_msg *req,
	bool as_invite);

enum rp_txn_absorb {
	RP_TXN_ABSORBED,       /* a retransmission: the last response was resent */
	RP_TXN_ACK_ABSORBED,   /* the ACK of our non-2xx final response */
	RP_TXN_ACK_PASS,       /* an ACK the transaction does not take (2xx ACK) */
};
/* A request (retransmission or ACK) that matched 's'. */
enum rp_txn_absorb rp_txn_srv_absorb(rp_txl *l, rp_txn_srv *s,
	const struct sip_msg *req, uint64_t now);

/* Creates the server transaction of 'req' (not ACK): copies the request
 * bytes (see rp_txn_srv_request) and reserves 'user_size' zeroed bytes for
 * the caller (rp_txn_srv_user). Responses go to 'to'. Returns 0, -EEXIST
 * (one exists: find it instead), -E2BIG (its key, branch + sent-by or the
 * RFC 2543 fields, is over 2048 bytes: the sender's fault), -EINVAL or
 * -ENOMEM. */
int rp_txn_srv_new(rp_txl *l, unsigned shard, const struct sip_msg *req,
	const struct rp_txn_dest *to, size_t user_size, uint64_t now, rp_txn_srv **out);

/* Sends a response through the transaction and moves it on: 1xx keeps it
 * proceeding; 2xx to INVITE: accepted (64*T1, absorbing retransmissions);
 * other finals: completed (Timer G/H for INVITE, J for non-INVITE). The
 * bytes are copied for retransmission, except a 2xx to an INVITE's (never
 * resent: RFC 6026). -EALREADY after a final response
 * (nothing sent), -ENOMEM, or the send error. */
int rp_txn_srv_respond(rp_txl *l, rp_txn_srv *s, unsigned code, const char *buf,
	size_t len, uint64_t now);
/* Ends the transaction now, without sending anything (request dropped). */
void rp_txn_srv_terminate(rp_txl *l, rp_txn_srv *s);

enum rp_txn_state rp_txn_srv_state(const rp_txn_srv *s);
/* Final status sent, or 0. */
unsigned rp_txn_srv_final(const rp_txn_srv *s);
/* The request bytes; NULL (*len 0) once a final response was sent: they
 * are freed then, the transaction only lingers to absorb retransmissions. */
const char *rp_txn_srv_request(const rp_txn_srv *s, size_t *len);
const struct rp_txn_dest *rp_txn_srv_dest(const rp_txn_srv *s);
void *rp_txn_srv_user(rp_txn_srv *s);
unsigned rp_txn_srv_shard(const rp_txn_srv *s);

/* ---- client transactions ---- */

/* Creates a client transaction for the request buf[0..len) (copied) whose
 * top Via has 'branch' (ours, from rp_txn_branch) and sends it to 'to'.
 * 'parent' (may be NULL) stays alive while the client transaction does.
 * A send failure is reported as a 503 event from the next rp_txn_expire,
 * not here. Returns 0, -EEXIST, -EINVAL or -ENOMEM. */
int rp_txn_cli_new(rp_txl *l, unsigned shard, rp_txn_srv *parent,
	enum sip_method method, rp_str branch, const struct rp_txn_dest *to,
	const char *buf, size_t len, size_t user_size, uint64_t now, rp_txn_cli **out);

/* The client transaction of a response: its top Via branch and CSeq
 * method. NULL when none. */
rp_txn_cli *rp_txn_cli_find(rp_txl *l, unsigned shard, const struct sip_msg *resp);

/* A response for 'c': drives the state machine (ACK for non-2xx finals of
 * an INVITE; retransmitted finals absorbed) and calls ops->cli_event for
 * what goes up. 'c' may be freed when this returns. */
void rp_txn_cli_response(rp_txl *l, rp_txn_cli *c, const struct sip_msg *resp,
	uint64_t now);

enum rp_txn_state rp_txn_cli_state(const rp_txn_cli *c);
enum sip_method rp_txn_cli_method(const rp_txn_cli *c);
rp_txn_srv *rp_txn_cli_parent(const rp_txn_cli *c);
rp_str rp_txn_cli_branch(const rp_txn_cli *c);
const char *rp_txn_cli_request(const rp_txn_cli *c, size_t *len);
const struct rp_txn_dest *rp_txn_cli_dest(const rp_txn_cli *c);
void *rp_txn_cli_user(rp_txn_cli *c);

#endif
