/* media: the proxy's media layer for one call — SDP offer/answer through
 * rampart-mediad, a=crypto rewriting and the secure-media policy
 * (docs/media-policy.md says which function the core calls at which SIP
 * event).
 *
 * A call has two sides: A (the caller's, where the INVITE came from) and B
 * (the callee's, where it goes). Each side has a leg configuration: its
 * policy (disable/allow/require), the signaling transport of the hop toward
 * it, the trunk's SRTP suites in preference order and whether SDES over
 * insecure signaling is allowed. An offer can come from either side (A in
 * an INVITE, B in a late-offer 200 or a callee re-INVITE); the answer comes
 * from the other. For every relayed m= section the call holds one mediad
 * session (leg a = side A, leg b = side B).
 *
 * Ownership: rp_media_call_new() returns a call the caller frees with
 * rp_media_call_free(), which deletes its mediad sessions (if not done yet)
 * and wipes every key. Bodies returned are allocated in the caller's arena
 * and hold our keys: wipe them (explicit_bzero) before the arena is reset.
 * A call has its own mutex: any worker may use it, one at a time.
 */
#ifndef RP_MEDIA_H
#define RP_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg_prog.h"
#include "mediactl.h"
#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_str.h"
#include "sdes.h"

enum rp_media_side {
	RP_MEDIA_A = 0, /* caller side */
	RP_MEDIA_B = 1, /* callee side */
};

enum rp_media_transport {
	RP_MEDIA_TP_UDP,
	RP_MEDIA_TP_TCP,
	RP_MEDIA_TP_TLS,
};
const char *rp_media_transport_name(enum rp_media_transport t);

/* What 'allow' sends toward a side: optimistic SRTP (RFC 8643: RTP/AVP with
 * a=crypto, the answer may take it or not) or plain RTP. */
enum rp_media_allow_mode {
	RP_MEDIA_ALLOW_OPTIMISTIC = 0,
	RP_MEDIA_ALLOW_PLAIN,
};

struct rp_media_leg_cfg {
	enum cfg_media_enc policy;     /* UNSET behaves as ALLOW */
	enum rp_media_allow_mode allow_mode;
	enum rp_media_transport transport; /* the hop toward this side */
	char tls_version[16];          /* "TLSv1.3" when known, else "" */
	char tls_cipher[64];
	/* Preference order. nsuites 0: we offer AES_CM_128_HMAC_SHA1_80 and
	 * _32 and accept any supported suite that encrypts (offer's order). */
	enum sdes_suite suites[SDES_SUITE_COUNT];
	unsigned nsuites;
	bool allow_sdes_over_insecure;
	bool allow_mki;                /* accept an MKI (<= 4 bytes) from this side */
	bool require_tls;              /* secure=true / sips: TLS + SRTP or refuse */
	char trunk[48];                /* name for log lines; "" if none */
	/* Address family of mediad's leg toward this side when the other side
	 * makes the first offer: 0 = the offerer's, 4 = IPv4, 6 = IPv6 (a v6
	 * access network bridged to a v4 core). */
	int family;
};

/* Defaults: policy ALLOW, optimistic, the given transport, default suites
 * (nsuites 0), MKI allowed. */
void rp_media_leg_cfg_init(struct rp_media_leg_cfg *c, enum rp_media_transport tp);
/* Policy, suites, allow_sdes_over_insecure and name from a trunk (the
 * trunk's transport is not copied: set what the hop really is). */
void rp_media_leg_cfg_trunk(struct rp_media_leg_cfg *c, const struct cfg_trunk *t);
/* The script's per-call override (CFG_MEDIA_UNSET: no change). */
void rp_media_leg_cfg_override(struct rp_media_leg_cfg *c, enum cfg_media_enc p);
/* A request URI with scheme sips: or the parameter secure=true asks for TLS
 * + SRTP toward that side: sets policy REQUIRE and require_tls. Returns
 * true if it did. ruri is the whole URI ("sip:bob@x;secure=true"). */
bool rp_media_leg_cfg_uri(struct rp_media_leg_cfg *c, rp_str ruri);

/* How the call reaches mediad; rp_media_backend_mediactl() fills it for a
 * real rp_mediactl. Unit tests plug in a recording relay. */
struct rp_media_backend {
	int (*create)(void *arg, const char *label, bool ip6_a, bool ip6_b, uint64_t *id,
		struct rp_mediactl_local *a, struct rp_mediactl_local *b);
	int (*update)(void *arg, uint64_t id, const struct rp_mediactl_leg *l);
	int (*del)(void *arg, uint64_t id);
	void *arg;
	/* Optional: both legs in one call (mediad's session.update: one round
	 * trip instead of two at every answer). NULL: update() per leg. */
	int (*update2)(void *arg, uint64_t id, const struct rp_mediactl_leg *a,
		const struct rp_mediactl_leg *b);
};
void rp_media_backend_mediactl(rp_mediactl *c, struct rp_media_backend *out);

typedef struct rp_media_call rp_media_call;

/* Results of rp_media_offer/answer. */
enum rp_media_result {
	RP_MEDIA_OK = 0,
	RP_MEDIA_REFUSE = -1, /* policy: answer 488 with RP_MEDIA_REASON */
	RP_MEDIA_BAD_SDP = -2,/* body is not SDP we can handle: 488 too */
	RP_MEDIA_RELAY = -3,  /* mediad failed: 500 (or 503) */
	RP_MEDIA_NOMEM = -4,
	RP_MEDIA_STATE = -5,  /* an answer with no offer pending */
};
/* The Reason header value that goes with a policy 488. */
#define RP_MEDIA_REASON "Q.850;cause=88"

/* label: the Call-ID (for mediad and logs); from_tag identifies the
 * dialog with it. The cfgs are copied. */
int rp_media_call_new(const struct rp_media_backend *be, rp_str call_id,
	rp_str from_tag, const struct rp_media_leg_cfg *a,
	const struct rp_media_leg_cfg *b, rp_media_call **out);
/* Reference counting: a new call has one reference. rp_media_call_ref()
 * takes another (returns c); rp_media_call_free() drops one, and the last
 * one ends the call (rp_media_end) and frees it. NULL ok. Returns NULL, so
 * 'c = rp_media_call_free(c)' leaves nothing dangling. */
rp_media_call *rp_media_call_ref(rp_media_call *c);
rp_media_call *rp_media_call_free(rp_media_call *c);
/* Replaces one side's configuration (e.g. B once routing chose the trunk
 * and the connection). Takes effect for the next offer. */
void rp_media_call_set_leg(rp_media_call *c, enum rp_media_side side,
	const struct rp_media_leg_cfg *cfg);

/* An SDP offer from 'from' (INVITE/re-INVITE/UPDATE body, or a late offer
 * in a 2xx). On RP_MEDIA_OK *out is the body to forward. The same body
 * again (a retransmission) gives the same output and changes nothing. */
int rp_media_offer(rp_media_call *c, enum rp_media_side from, rp_str body,
	rp_arena *a, rp_str *out);
/* The SDP answer from 'from' to the pending offer (18x/2xx with SDP, or the
 * ACK/PRACK of a late offer). to_tag tells forked early dialogs apart (the
 * latest answer is what mediad forwards to). Programs mediad with both
 * legs. On RP_MEDIA_OK *out is the body to forward. */
int rp_media_answer(rp_media_call *c, enum rp_media_side from, rp_str to_tag,
	rp_str body, rp_arena *a, rp_str *out);
/* Deletes the call's mediad sessions (BYE, CANCEL, error final response,
 * timeout). Idempotent. Returns 0 or the first backend error. */
int rp_media_end(rp_media_call *c);

/* Why the last call on c failed (one line for the log and the CDR). */
const char *rp_media_last_error(rp_media_call *c);

/* Per side, what the call ended up with (CLI / CDR). */
struct rp_media_leg_info {
	enum rp_media_transport transport;
	char tls_version[16];
	char tls_cipher[64];
	bool srtp;                  /* false: plain RTP */
	enum sdes_suite suite;      /* when srtp */
	uint16_t relay_port;        /* mediad port of the first stream, 0 if none */
};
/* Where the offer/answer exchange stands. An offer may follow any state
 * but ENDED (re-INVITE/UPDATE); after an answer, more answers to the same
 * offer (forks, retransmissions) are still taken. */
enum rp_media_state {
	RP_MEDIA_ST_IDLE,         /* no offer yet */
	RP_MEDIA_ST_OFFER_FROM_A, /* offer from A forwarded, no answer yet */
	RP_MEDIA_ST_OFFER_FROM_B,
	RP_MEDIA_ST_ANSWERED,     /* mediad programmed with both legs */
	RP_MEDIA_ST_ENDED,        /* mediad sessions deleted */
};
const char *rp_media_state_name(enum rp_media_state st);

struct rp_media_info {
	enum rp_media_state state;
	struct rp_media_leg_info leg[2];
	unsigned streams;           /* relayed m= sections */
	uint64_t session;           /* mediad id of the first stream, 0 if none */
	bool answered;
};
void rp_media_call_info(rp_media_call *c, struct rp_media_info *out);
/* One line for a CDR or the CLI, appended to b:
 * "state=answered a=TLS(TLSv1.3,TLS_AES_128_GCM_SHA256) srtp=AES_CM_128_HMAC_SHA1_80
 *  b=UDP rtp session=4". Returns rp_buf's error (0 or negative errno). */
int rp_media_info_format(const struct rp_media_info *in, rp_buf *b);

/* A table of calls by Call-ID + from-tag, for a core that keeps no media
 * pointer in its own dialog state. Thread-safe. The table holds one
 * reference per call; find/add hand the caller another, which the caller
 * drops with rp_media_call_free() when done with this message. */
typedef struct rp_media_calls rp_media_calls;
/* buckets: expected calls (rounded up to a power of two; 0 = 4096). */
int rp_media_calls_new(const struct rp_media_backend *be, size_t buckets,
	rp_media_calls **out);
/* Ends every call in the table and drops the table's references. NULL ok. */
void rp_media_calls_free(rp_media_calls *t);
/* The call with a new reference, or NULL. */
rp_media_call *rp_media_calls_find(rp_media_calls *t, rp_str call_id, rp_str from_tag);
/* Creates the call (cfgs copied) and returns it referenced: 0; or -EEXIST
 * with the existing call referenced in *out (a retransmitted INVITE); or a
 * negative errno. */
int rp_media_calls_add(rp_media_calls *t, rp_str call_id, rp_str from_tag,
	const struct rp_media_leg_cfg *a, const struct rp_media_leg_cfg *b,
	rp_media_call **out);
/* Takes the call out of the table and deletes its mediad sessions now
 * (BYE, CANCEL, error final response, timeout); its memory goes with the
 * last reference. 0, -ENOENT (not in the table) or rp_media_end()'s
 * backend error (the call is out of the table all the same). */
int rp_media_calls_remove(rp_media_calls *t, rp_str call_id, rp_str from_tag);
size_t rp_media_calls_count(rp_media_calls *t);

#endif
