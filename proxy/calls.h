/* calls: rampart-proxy's call registry (one record per INVITE dialog) and
 * its audit trail (one CDR per finished call, common/rp_cdr.h).
 *
 * The core feeds it at the SIP points that make a call (docs/cdr.md,
 * "When a call starts and ends"): the initial INVITE relayed (start), the
 * 2xx relayed to the caller (answer), and whatever ends it: BYE from either
 * side, CANCEL, a final failure, a policy refusal (488), a media timeout
 * reported by rampart-mediad, or an operator's 'call.drop'. A call without
 * SDP is a call too; one with SDP also holds a reference on its media call
 * (proxy/media.h) for the SRTP suites and the mediad session id.
 *
 * The record also keeps what an in-dialog BYE from the proxy needs (From,
 * To, Contact, route set and highest CSeq of each side, where each side's
 * signaling goes): rp_core_call_drop() builds the BYEs from it.
 *
 * Threading: every function may be called from any thread. The table is
 * sharded (a mutex per shard, held only to link, unlink or find); each
 * record has its own mutex for the fields that change. Ending a call
 * (which may ask mediad for the final counters and writes the CDR) runs
 * with no lock held. Lock order: shard, then record, then media call.
 *
 * Ownership: records are reference counted. The table holds one reference
 * until the call ends; rp_calls_start/find hand the caller another, which
 * the caller drops with rp_call_put() (returns NULL). The CDR writer and
 * the metric cells in the cfg are the caller's and must outlive the table.
 */
#ifndef RP_CALLS_H
#define RP_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_buf.h"
#include "rp_cdr.h"
#include "rp_str.h"
#include "transport.h"
#include "txn.h"

struct rp_mval;
struct rp_media_call;

typedef struct rp_calls rp_calls;
typedef struct rp_call rp_call;

enum rp_call_side {
	RP_CALL_A = 0, /* the caller's side: where the INVITE came from */
	RP_CALL_B = 1, /* the callee's side */
};

/* Why the media layer refused a call (488): the label of
 * rampart_proxy_calls_refused_total and the tail of the CDR end reason
 * "policy-refused-<name>". */
enum rp_call_refusal {
	RP_REFUSAL_SRTP_REQUIRED,   /* require, and no usable SRTP offered */
	RP_REFUSAL_SRTP_DISABLED,   /* disable, and the offer is SRTP only */
	RP_REFUSAL_NO_CRYPTO,       /* SRTP only, no acceptable crypto line */
	RP_REFUSAL_SDES_INSECURE,   /* keys would go over clear signaling */
	RP_REFUSAL_TLS_REQUIRED,    /* sips:/secure=true over a non-TLS hop */
	RP_REFUSAL_ANSWER,          /* the answer took none of our crypto lines */
	RP_REFUSAL_NO_SUITE,        /* nothing to offer: no suite configured */
	RP_REFUSAL_BAD_SDP,         /* the SDP could not be handled */
	RP_REFUSAL_OTHER,
	RP_REFUSAL_COUNT
};
const char *rp_call_refusal_name(enum rp_call_refusal r);
/* Classifies a refusal from the media layer's result (RP_MEDIA_BAD_SDP or
 * RP_MEDIA_REFUSE) and its rp_media_last_error() text. */
enum rp_call_refusal rp_call_refusal_of(int media_rc, const char *media_err);

/* Final media counters of one leg (mediad's session.query). */
struct rp_call_media_stats {
	uint64_t packets_in, packets_out, bytes_in, bytes_out;
	uint64_t auth_failures, lost, malformed;
};
/* Asks mediad for a session's counters: 0 or a negative errno. */
typedef int (*rp_calls_stats_fn)(void *arg, uint64_t session,
	struct rp_call_media_stats *a, struct rp_call_media_stats *b);

struct rp_calls_cfg {
	rp_cdr *cdr;                 /* NULL: no CDRs */
	/* Counters bumped once per call / per refusal; any may be NULL. */
	struct rp_mval *total;
	struct rp_mval *refused[RP_REFUSAL_COUNT];
	/* Media counters for the CDR (called once per ending call with media,
	 * only when cdr is set). NULL: counters 0. */
	rp_calls_stats_fn stats;
	void *stats_arg;
};

/* buckets: 0 = 4096. Returns 0, -EINVAL or -ENOMEM; *out only on success. */
int rp_calls_new(const struct rp_calls_cfg *cfg, rp_calls **out);
/* Ends nothing, writes nothing: drops the table's references. NULL ok. */
void rp_calls_free(rp_calls *t);

/* Signaling of one leg. */
struct rp_call_sig {
	enum rp_tp tp;
	rp_addr peer;                /* the hop's address */
	rp_str tls_version, tls_cipher, cert_subject; /* empty: unknown / none */
};

/* What the initial INVITE tells (slices copied). */
struct rp_call_start {
	rp_str call_id, from_tag;
	rp_str from_hdr;             /* the From value (with the tag) */
	rp_str to_hdr;               /* the To value (no tag yet) */
	rp_str from_uri, to_uri;     /* for listings and the CDR */
	rp_str contact_a;            /* the caller's Contact value (as received) */
	rp_str route_a;              /* Route values toward A, comma-joined,
	                              * nearest first (the INVITE's Record-Route) */
	uint32_t cseq;               /* the INVITE's CSeq */
	struct rp_call_sig a;        /* caller leg */
	struct rp_txn_dest dest_a;   /* where requests to A go (tls_domain unused) */
	rp_addr local;               /* the address the INVITE arrived on */
	rp_str trunk;                /* the caller leg's trunk (by source), "" none */
	uint64_t now_ms;             /* rp_now_ms() */
};

/* Registers a call: 0 and a referenced record in *out; -EEXIST (a call
 * with this Call-ID and caller tag is up: *out is that one, referenced);
 * -ENOMEM. Counts it in cfg.total. */
int rp_calls_start(rp_calls *t, const struct rp_call_start *s, rp_call **out);
/* The live call of Call-ID + caller tag, referenced, or NULL. */
rp_call *rp_calls_find(rp_calls *t, rp_str call_id, rp_str caller_tag);
/* The live call with this id / mediad session id, referenced, or NULL. */
rp_call *rp_calls_find_id(rp_calls *t, uint64_t id);
rp_call *rp_calls_find_session(rp_calls *t, uint64_t session);
size_t rp_calls_count(rp_calls *t);

rp_call *rp_call_ref(rp_call *c);
rp_call *rp_call_put(rp_call *c);

uint64_t rp_call_id(const rp_call *c);
bool rp_call_ended(rp_call *c);
/* A 2xx was relayed (rp_call_answered). */
bool rp_call_answered_p(rp_call *c);
/* An opaque pointer the core keeps with the call (its server transaction
 * of the initial INVITE while it lives; NULL after). The caller serialises
 * setting it and using what it points to (the core: the transaction shard
 * lock of the Call-ID). */
void rp_call_set_owner(rp_call *c, void *owner);
void *rp_call_owner(rp_call *c);

/* The callee side is known (the branch now in use): its signaling and
 * where its requests go; trunk: the callee leg's trunk, which also becomes
 * the call's (the CDR's 'trunk'); "" keeps what is set. */
void rp_call_set_b(rp_call *c, const struct rp_call_sig *b, const struct rp_txn_dest *dest_b,
	rp_str trunk);
/* The TLS details of a leg once known (an outbound TLS connection). */
void rp_call_set_tls(rp_call *c, enum rp_call_side side, rp_str version, rp_str cipher,
	rp_str cert_subject);
/* The call's media (a reference is taken; NULL drops it). */
void rp_call_set_media(rp_call *c, struct rp_media_call *mc);
/* A 2xx to the INVITE was relayed: the callee's To (with its tag),
 * Contact value (as received) and its Record-Route values (comma-joined,
 * as received: the BYE's builder takes those below the proxy, reversed).
 * The first one counts as the answer time. */
void rp_call_answered(rp_call *c, unsigned code, rp_str to_hdr, rp_str contact_b,
	rp_str route_b);
/* An in-dialog request from 'side' with this CSeq (the proxy's own BYE
 * toward the other side must go above it). */
void rp_call_saw_cseq(rp_call *c, enum rp_call_side side, uint32_t cseq);

/* Everything a BYE toward 'to' needs, copied into buf (NUL-terminated
 * strings pointing into it). -ENOENT when that side's dialog is not
 * known (not answered), -ENOSPC when buf is too small. */
struct rp_call_bye {
	const char *call_id;
	const char *from;            /* From value of the BYE (the other side's) */
	const char *to;              /* To value (the receiver's) */
	const char *ruri;            /* the receiver's Contact value (parse it) */
	const char *route;           /* toward A: Route values, nearest first;
	                              * toward B: the 2xx's Record-Route list */
	uint32_t cseq;
	struct rp_txn_dest dest;
	rp_addr local;               /* our address the call came in on */
	const char *caller_tag;
};
int rp_call_bye_info(rp_call *c, enum rp_call_side to, char *buf, size_t bufsz,
	struct rp_call_bye *out);
/* The bufsz that rp_call_bye_info() needs toward 'to' (fixed once the call
 * is answered: the dialog is the first 2xx's); 0 when not answered. The
 * pieces are as long as the peers sent them (a 40 KB Contact is legal):
 * size the buffer with this, never with a constant. */
size_t rp_call_bye_info_size(rp_call *c, enum rp_call_side to);
/* Only call_id and caller_tag of out (any time, answered or not).
 * -ENOSPC when buf is too small; rp_call_ids_size() bytes always do (a
 * Call-ID may be as long as the largest message allowed). */
int rp_call_ids(rp_call *c, char *buf, size_t bufsz, struct rp_call_bye *out);
size_t rp_call_ids_size(const rp_call *c);

/* Ends the call: out of the table, final code (0 = keep), reason
 * ("caller-bye", "callee-bye", "cancel", "rejected-486",
 * "policy-refused-srtp-required", "timeout", "media-timeout",
 * "operator-drop", ...), CDR written. Only the first end counts: true if
 * this call ended it. */
bool rp_calls_end(rp_calls *t, rp_call *c, unsigned code, const char *reason);
/* Ends a policy refusal: counts it in cfg.refused[r] too. */
bool rp_calls_refuse(rp_calls *t, rp_call *c, enum rp_call_refusal r);

/* Control socket: one bencode dict per call (id, call-id, age-ms, state,
 * from, to, trunk, start, answer, a/b: transport, peer, tls-version,
 * tls-cipher, cert-subject, media, session), as a list under key "calls"
 * (at most max, 0 = all). Returns how many, or rp_buf's error. */
int rp_calls_put_list(rp_calls *t, rp_buf *b, size_t max);
/* The same dict for one call into b (after a key). */
int rp_call_put_info(rp_call *c, rp_buf *b);

#endif
