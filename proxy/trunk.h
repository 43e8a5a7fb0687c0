/* trunk: rampart-proxy answering an outbound trunk's 401 / 407 challenges
 * (RFC 3261 §22.2 / §22.3, RFC 8760) with the trunk's `outbound`
 * credentials, and the CSeq mapping that answering makes necessary.
 *
 * Why CSeq changes: the retried request is a new transaction toward the
 * trunk and, as RFC 3261 §22.2 asks of the UAC that resubmits, carries
 * CSeq + 1 (a UAS that still holds the challenged transaction would take
 * the same Call-ID/From tag/CSeq with a new branch for a merged request,
 * §8.2.2.2, and answer 482). The caller knows nothing of it, so the proxy
 * maps: toward the trunk CSeq = the caller's + delta, toward the caller
 * the caller's own number again. A dialog created by such a request keeps
 * its delta for every later request of the caller's side (ACK of the 2xx,
 * BYE, re-INVITE, ...), and the ACK of the 2xx carries the same
 * credentials as the INVITE (§22.1 / §13.2.2.4). Requests from the trunk's
 * side are numbered in the trunk's own CSeq space and pass unchanged.
 *
 * Two objects:
 *  - rp_trunk_auth: the state of one forwarded request (kept by its server
 *    transaction once the first challenge came): the request as forwarded
 *    before any credentials, the credential lines added so far (one per
 *    realm and kind; at most RP_TRUNK_AUTH_MAX) and which realms were
 *    answered at the current address. A realm that challenges again after
 *    it was answered gets its challenge passed back to the caller.
 *  - rp_trunk_dlgs: dialogs (Call-ID + the caller's From tag) with a CSeq
 *    delta, their trunk's name and credential lines; shared by all workers
 *    (one mutex), bounded in count, entries idle longer than the limit
 *    dropped when new ones are added.
 */
#ifndef RP_TRUNK_H
#define RP_TRUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_prog.h"
#include "rp_arena.h"
#include "rp_str.h"
#include "sip_msg.h"

#define RP_TRUNK_AUTH_MAX 2     /* credential lines per request (realm x kind) */
#define RP_TRUNK_AUTH_ANSWERS 4 /* challenges answered per request at most */

typedef struct rp_trunk_auth rp_trunk_auth;

/* Answers the challenge 'chal' (a 401 or 407) to the request 'fwd'
 * [0..fwd_len) (as it was last sent: our Via on top) with trunk t's
 * outbound credentials. *st is NULL before the first challenge of the
 * request and is allocated here (the caller frees it with
 * rp_trunk_auth_free). On success *out is a new malloc'd request (the
 * caller owns it and should wipe it before freeing: it may hold our SDP
 * keys) with the credential line added (or replacing ours for the same
 * realm and kind) and CSeq one higher; *cseq gets its new number.
 * Returns 0, -ENOENT (no usable challenge, or t has no credentials),
 * -EALREADY (this realm was answered already at this address, or
 * RP_TRUNK_AUTH_ANSWERS reached: pass the challenge back), -ENOSPC (a
 * third realm), -EINVAL (malformed), -EOVERFLOW (CSeq at 2^31-1),
 * -ENOMEM. */
int rp_trunk_auth_answer(rp_trunk_auth **st, const struct cfg_trunk *t,
	const struct sip_msg *chal, const char *fwd, size_t fwd_len,
	char **out, size_t *out_len, uint32_t *cseq);
/* The request moves on to the next address (failover): realms may be
 * answered once more there. NULL ok. */
void rp_trunk_auth_next_address(rp_trunk_auth *st);
/* The credential lines added so far ("Name: value\r\n" each), for the ACK
 * of a 2xx; empty when none. Valid until the next answer or free. */
rp_str rp_trunk_auth_lines(const rp_trunk_auth *st);
/* Wipes and frees. NULL ok. Returns NULL. */
rp_trunk_auth *rp_trunk_auth_free(rp_trunk_auth *st);

/* Rewrites the CSeq number of message 'm' (the value keeps its method):
 * the replacement text is built in 'a'. For use with sip_edit. Returns the
 * new value in *val; -EOVERFLOW past 2^31-1. */
int rp_trunk_cseq_value(const struct sip_msg *m, uint32_t num, rp_arena *a, rp_str *val);

/* ---- dialogs with a CSeq delta ---- */

typedef struct rp_trunk_dlgs rp_trunk_dlgs;

struct rp_trunk_dlg {
	uint32_t delta;  /* added to the caller's CSeq toward the trunk */
	rp_str trunk;    /* trunk name (for challenges inside the dialog) */
	rp_str lines;    /* credential lines for the ACK of a 2xx */
	uint32_t lines_cseq; /* the CSeq (toward the trunk) they were sent with */
};

/* max: dialogs kept at most (0 = 65536); idle_ms: an entry not used for
 * that long may be dropped (0 = 24 h). Returns 0 or -ENOMEM; *out only on
 * success. Free with rp_trunk_dlgs_free. */
int rp_trunk_dlgs_new(size_t max, uint64_t idle_ms, rp_trunk_dlgs **out);
void rp_trunk_dlgs_free(rp_trunk_dlgs *d);
/* Sets (adds or replaces) the dialog of Call-ID 'cid' and caller From tag
 * 'ftag'. Strings are copied. Returns 0, -ENOSPC (table full), -EINVAL
 * (empty tag), -ENOMEM. */
int rp_trunk_dlg_set(rp_trunk_dlgs *d, rp_str cid, rp_str ftag,
	const struct rp_trunk_dlg *v, uint64_t now_ms);
/* Finds the dialog; its strings are copied into 'a'. True when found.
 * Cheap when the table is empty (no lock taken). */
bool rp_trunk_dlg_get(rp_trunk_dlgs *d, rp_str cid, rp_str ftag, uint64_t now_ms,
	rp_arena *a, struct rp_trunk_dlg *out);
/* Removes the dialog (if present). */
void rp_trunk_dlg_del(rp_trunk_dlgs *d, rp_str cid, rp_str ftag);
size_t rp_trunk_dlgs_count(rp_trunk_dlgs *d);

#endif
