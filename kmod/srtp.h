/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rampart.ko SRTP (RFC 3711, RFC 6188, RFC 7714) for one direction of one
 * flow: key derivation at setup, then protect / unprotect of RTP packets in
 * the packet path with the per-flow transforms allocated here.
 *
 * Lifetime: rampart_srtp_new() (process context, may sleep) returns a
 * context holding one reference; rampart_srtp_get()/put() share it between
 * successive flow configurations (UPDATE keeps a transform it is not given,
 * with its rollover counter and replay window). The last put frees the
 * crypto transforms and wipes the session keys: it must run in process
 * context (flow.c defers it to a workqueue after the RCU grace period).
 *
 * Packet functions run in softirq / BH-disabled context; they serialise on
 * the context's spinlock (one flow's packets arrive in order anyway) and
 * never allocate or sleep.
 */
#ifndef _RAMPART_SRTP_H
#define _RAMPART_SRTP_H

#include <linux/types.h>

#include "flow.h"

struct rampart_srtp;

enum rampart_srtp_res {
	RAMPART_SRTP_OK = 0,
	RAMPART_SRTP_PASS,	/* cannot handle (too short, RTCP, ...): to mediad */
	RAMPART_SRTP_AUTH,	/* authentication failed: drop, count */
	RAMPART_SRTP_REPLAY,	/* replayed or too old: drop, count */
	RAMPART_SRTP_MALFORMED,	/* authentic, but its padding count is
				 * inconsistent (rtpcheck.h): to mediad */
};

/* Builds a context for @xf (suite != NONE) and derives its session keys.
 * @inbound: unprotect with a replay window of xf->replay_window packets.
 * Returns 0 and *out, or -EINVAL (suite), -ENOMEM, -ENOENT (no such
 * kernel algorithm) and the like; *out untouched on error. */
int rampart_srtp_new(const struct rampart_xf *xf, bool inbound,
		     struct rampart_srtp **out);
void rampart_srtp_get(struct rampart_srtp *s);
/* Process context only. NULL is allowed. */
void rampart_srtp_put(struct rampart_srtp *s);

/* Bytes protect appends (the tag). */
unsigned int rampart_srtp_overhead(const struct rampart_srtp *s);

/* Unprotects the SRTP packet @pkt of @len bytes in place; on OK *newlen is
 * the RTP length. On AUTH / REPLAY the bytes may be changed (GCM decrypts
 * before it verifies): drop the packet. On PASS nothing was changed. On
 * MALFORMED (padding count checked on the plain text, rtpcheck.h) the
 * packet is put back as it arrived, byte for byte, and the index state is
 * left as if it had never come, so that mediad's own context unprotects it
 * and counts it. */
enum rampart_srtp_res rampart_srtp_unprotect(struct rampart_srtp *s, u8 *pkt,
					     unsigned int len,
					     unsigned int *newlen);
/* Protects the RTP packet @pkt of @len bytes in place; @cap >= len +
 * overhead is the room available. On OK *newlen is the SRTP length. */
enum rampart_srtp_res rampart_srtp_protect(struct rampart_srtp *s, u8 *pkt,
					   unsigned int len, unsigned int cap,
					   unsigned int *newlen);

/* The rollover counter and highest sequence number so far (for FLOW_GET:
 * mediad takes the stream back from there). */
void rampart_srtp_state(struct rampart_srtp *s, u32 *roc, u16 *seq);

/* Checks the RFC 3711 B.3 key derivation vectors through the same PRF the
 * flows use; run once at module load. 0 if they hold. Until it has passed,
 * rampart_srtp_new() refuses (-EOPNOTSUPP). */
int rampart_srtp_selftest(void);
/* Whether the self test ran and passed (VERSION reports it in FEATURES). */
bool rampart_srtp_kdf_verified(void);

#endif /* _RAMPART_SRTP_H */
