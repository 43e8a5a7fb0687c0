/* fork: parallel forking of one request to several targets (RFC 3261
 * §16.5-16.7), as lookup() + relay does for a user with several
 * registered contacts.
 *
 * The core keeps one rp_fork per server transaction that forked (in its
 * pctx): one branch per target, each with its own forwarded request (its
 * Request-URI, Via branch and transport) and, once started, its client
 * transaction. Targets come ordered by q (highest first); the targets of
 * equal q form a group. The first group is tried in parallel; the next
 * group starts only when every branch of the current one failed (§16.6
 * allows groups in sequence).
 *
 * This module holds the state and the response-context decisions (§16.7);
 * the core sends, cancels and relays. The decisions are pure functions so
 * the unit tests can drive them from tables.
 *
 * Threading: an rp_fork belongs to its server transaction and is used
 * under that transaction's shard lock only.
 *
 * Ownership: rp_fork_new returns an rp_fork the caller frees with
 * rp_fork_free (NULL ok), which wipes and frees every branch's request
 * (it may carry our SDES keys). rp_fork_branch_set_request takes the
 * buffer it is given.
 */
#ifndef RP_FORK_H
#define RP_FORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"
#include "sip_msg.h"
#include "txn.h"

/* Hard ceiling of the config's max_branches. */
#define RP_FORK_MAX_BRANCHES 16

/* Reason of the CANCELs sent to the other branches once one answered
 * with a 2xx (RFC 3326; phones show "answered elsewhere"). */
#define RP_FORK_REASON_ELSEWHERE "SIP;cause=200;text=\"Call completed elsewhere\""

enum rp_fork_br_state {
	RP_FORK_BR_WAITING,   /* not started (a later q group) */
	RP_FORK_BR_CALLING,   /* request sent, nothing back */
	RP_FORK_BR_RINGING,   /* a provisional response came */
	RP_FORK_BR_DONE,      /* final response, timeout or send failure */
};
const char *rp_fork_br_state_name(enum rp_fork_br_state s);

struct rp_fork_branch {
	struct rp_txn_dest d;         /* where it goes (tls_domain NULL) */
	unsigned q;                   /* 0..1000 */
	char *req;                    /* the request to send (owned) */
	size_t req_len, br_off;       /* our Via branch at br_off */
	rp_txn_cli *cl;               /* live client transaction or NULL */
	enum rp_fork_br_state st;
	unsigned code;                /* final status (408 timeout, 503 unsent) */
	bool ours;                    /* code is ours (no response came) */
	char *resp;                   /* a failure response as the caller gets it */
	size_t resp_len;
	bool cancel_wanted;           /* CANCEL at its first provisional (§9.1) */
	bool cancel_sent;
};

struct rp_fork {
	unsigned n;                   /* branches */
	unsigned group_end;           /* branches [0, group_end) were started */
	bool answered;                /* a 2xx went to the caller */
	bool cancelling;              /* no new branch: CANCEL, 2xx or 6xx */
	/* WWW-/Proxy-Authenticate lines of every 401/407 ("Name: value\r\n"
	 * each), merged into the 401/407 forwarded (§16.7 item 7). */
	char *auth;
	size_t auth_len;
	struct rp_fork_branch b[];
};

/* A fork of n (1..RP_FORK_MAX_BRANCHES) empty branches. 0, -EINVAL or
 * -ENOMEM; *out only on success. */
int rp_fork_new(unsigned n, struct rp_fork **out);
/* Wipes the branches' requests and frees everything. Returns NULL. */
struct rp_fork *rp_fork_free(struct rp_fork *f);
/* Gives branch i its request (malloc'd; taken, also on error). 0 or -EINVAL. */
int rp_fork_branch_set_request(struct rp_fork *f, unsigned i, char *req, size_t len,
	size_t br_off);
/* The branch of a client transaction, or -1. */
int rp_fork_branch_of(const struct rp_fork *f, const rp_txn_cli *cl);

/* ---- decisions (pure) ---- */

/* End of the q group that starts at 'from' in q[0..n) (sorted, highest
 * first): the first index whose q differs, or n. */
unsigned rp_fork_group_end(const unsigned *q, unsigned n, unsigned from);

/* §16.7 step 6: which stored final response goes to the caller, among
 * codes[0..n) (0: no final response from that branch: skipped). A 6xx
 * (the lowest index); else the lowest class; within a class a response a
 * peer sent rather than our 408 timeout or 503 send failure ('ours' marks
 * those; NULL: none), then 401/407 (the caller can answer them; the
 * challenges of every branch are merged), then the lowest index (the
 * better contact). -1 when there is none. */
int rp_fork_pick(const unsigned *codes, const bool *ours, unsigned n);

/* The status the caller gets for the chosen one: 503 becomes 500
 * (§16.7 item 6: the 503 is about us, not about the caller's request). */
unsigned rp_fork_status_out(unsigned code);

enum rp_fork_verdict {
	RP_FORK_RELAY,        /* forward it to the caller now */
	RP_FORK_RELAY_CANCEL, /* forward it and CANCEL every other branch (first 2xx) */
	RP_FORK_ABSORB_2XX,   /* a 2xx after another one was forwarded */
	RP_FORK_CANCEL_STORE, /* 6xx: CANCEL the others, store it (it will win) */
	RP_FORK_STORE,        /* a failure: store it, wait for the others */
	RP_FORK_DROP,         /* 100: hop-by-hop only */
};
/* What the response context does with a response 'code' of a branch,
 * given whether a 2xx already went to the caller. */
enum rp_fork_verdict rp_fork_on_response(unsigned code, bool answered);

/* True when no branch is pending any more and none waits in a later group
 * (the best response can go). */
bool rp_fork_all_done(const struct rp_fork *f);
/* Branches still pending (CALLING/RINGING). */
unsigned rp_fork_pending(const struct rp_fork *f);

/* ---- message text ---- */

/* Appends the WWW-Authenticate / Proxy-Authenticate lines of a 401/407 to
 * f->auth. 0 or -ENOMEM. */
int rp_fork_auth_collect(struct rp_fork *f, const struct sip_msg *resp);
/* The response resp[0..len) with its status line set to 'code' and
 * 'reason' (NULL: the status line kept) and, when 'auth' is set, its own WWW-/Proxy-
 * Authenticate lines replaced by auth[0..auth_len). *out is malloc'd.
 * 0, -EINVAL (not a response), -ENOMEM. */
int rp_fork_final_text(const char *resp, size_t len, unsigned code, const char *reason,
	const char *auth, size_t auth_len, char **out, size_t *out_len);

#endif
