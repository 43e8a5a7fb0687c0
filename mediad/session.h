/* msess: one call's media session (two legs) and the per-packet logic.
 *
 * This module has no I/O: given a packet received on one of a session's
 * sockets it decides (and does, in place) what happens to it: check the
 * source, check the RTP/RTCP header's consistency (rtpcheck.h: the same rule
 * on plain and SRTP legs), unprotect with the receiving leg's 'in' SRTP
 * context, latch,
 * protect with the other leg's 'out' context, count, and say from which
 * socket to which address to send it. The engines do the I/O; unit tests
 * drive msess_packet() directly.
 *
 * Threading: a session belongs to one worker; only that thread touches it.
 *
 * Ownership: msess_new() returns a session the caller frees with
 * msess_free(), which frees the SRTP contexts it holds (wiping keys) but
 * does not close sockets (the engine that watches them does). SRTP
 * contexts passed in struct mleg_update become the session's.
 */
#ifndef MSESS_H
#define MSESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stats.h"

struct msrtp;
struct msess;

union maddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Length to pass to sendmsg for a, 0 if a is unset (family 0). */
socklen_t maddr_len(const union maddr *a);
/* Same family, address and port. */
bool maddr_eq(const union maddr *a, const union maddr *b);
/* From any sockaddr of family AF_INET/AF_INET6; -EAFNOSUPPORT otherwise. */
int maddr_from(union maddr *dst, const struct sockaddr *sa, socklen_t len);
/* "1.2.3.4:5" / "[::1]:5" into buf; returns buf. */
const char *maddr_str(const union maddr *a, char *buf, size_t sz);

enum mleg_latch {
	MLEG_LATCH_OFF,    /* send to the control-plane address; accept any source */
	MLEG_LATCH_ON,     /* learn the remote from the first valid packet */
	MLEG_LATCH_STRICT, /* learn once, then drop packets from anywhere else */
};
const char *mleg_latch_name(enum mleg_latch l);

/* One of the sockets a session owns; the engines use it as the handle
 * they get back with each received packet. */
struct msock {
	struct msess *sess; /* first: with fd next, no padding (16 bytes) */
	int fd;             /* -1 = none */
	uint8_t leg;        /* 0 = A, 1 = B */
	uint8_t rtcp;       /* 1 = the port+1 RTCP socket */
	uint8_t eng_state;  /* engine-private */
	uint8_t eng_flags;  /* engine-private */
};

/* The master key and salt of an SRTP context, kept for the kernel fast
 * path (kernel.h: the module derives its own session keys from them).
 * Wiped when replaced and when the session is freed. */
struct mleg_keys {
	bool set;
	bool mki;              /* an MKI is in use (the module has none) */
	uint8_t suite;         /* enum msrtp_suite */
	uint8_t key_len, salt_len;
	uint8_t key[32], salt[14];
};

/* Fields are ordered by alignment (8, 4, 2, 1) so the leg has no padding:
 * two of them sit in every session (docs/mediad.md, Memory). */
struct mleg {
	struct msock rtp, rtcp;
	struct msrtp *in, *out;     /* NULL = plain RTP that way */
	struct mstats_leg st;
	int family;                 /* AF_INET / AF_INET6 of the local sockets */
	enum mleg_latch latch;
	union maddr remote_rtp;     /* where RTP goes; family 0 = unknown */
	union maddr remote_rtcp;    /* where RTCP goes (unused when muxed) */
	struct mstats_seq seq;      /* RTP received here: loss count (st.lost) */
	uint16_t port;              /* local RTP port */
	bool latched_rtp, latched_rtcp;
	bool rtcp_mux;
	/* The kernel fast path (kernel.h), in one byte (Memory budget). */
	bool koff : 1;              /* packets arriving here: offload asked of mkern */
	/* SRTP on this direction was in the module and mediad's contexts may
	 * not yet be where it has (or left) the stream: every packet
	 * arriving here asks mkern first (mkern_sync_get). */
	bool ksync : 1;
	unsigned kskip : 2;         /* 1: 'in', 2: the other leg's 'out' replaced since */
	unsigned kepoch : 4;        /* offload requests posted here, mod 16 (one runs at a time) */
	struct mleg_keys kin, kout; /* keys of in/out (set = false: none) */
};

struct msess {
	uint64_t id;
	struct mleg leg[2];
	uint64_t created_ms;        /* also reset by leg.update */
	uint32_t media_timeout_ms, delete_timeout_ms;
	bool timeout_reported;
	bool dying;                 /* deleted; waiting for the engine to let go */
	uint8_t pending;            /* engine references still outstanding */
	char label[48];             /* optional caller label (call-id), NUL-terminated */
	struct msess *hnext;        /* worker's id hash chain */
	struct msess *prev, *next;  /* worker's session list */
};

/* New session with id and label (may be NULL); legs have no sockets yet
 * (fd -1), no remote, latching ON, no SRTP. Returns 0 or -ENOMEM. */
int msess_new(uint64_t id, const char *label, uint64_t now_ms, struct msess **out);
/* Frees SRTP contexts (wiping keys) and the session; NULL allowed. */
void msess_free(struct msess *s);

/* Attaches sockets to leg i: fd_rtcp may be -1 (muxed). */
void msess_leg_set_sockets(struct msess *s, int i, int family, uint16_t port,
	int fd_rtp, int fd_rtcp);

enum {
	MLEG_SET_REMOTE = 1u << 0,      /* remote_rtp (and derived RTCP) */
	MLEG_SET_REMOTE_RTCP = 1u << 1, /* explicit RTCP address */
	MLEG_SET_IN = 1u << 2,          /* replace 'in' (NULL = plain) */
	MLEG_SET_OUT = 1u << 3,         /* replace 'out' (NULL = plain) */
	MLEG_SET_LATCH = 1u << 4,
	MLEG_SET_MUX = 1u << 5,
};

/* A fully validated change to one leg: applying it cannot fail. */
struct mleg_update {
	unsigned set;               /* MLEG_SET_* */
	union maddr remote, remote_rtcp;
	struct msrtp *in, *out;     /* ownership passes to the session */
	struct mleg_keys in_keys, out_keys; /* with MLEG_SET_IN/OUT; wiped by apply */
	enum mleg_latch latch;
	bool rtcp_mux;
};

/* Applies u to leg i. A new remote address forgets what was latched. Old
 * SRTP contexts being replaced are freed. Any context in u whose MLEG_SET_*
 * bit is not set is freed too, so the caller never leaks one. */
void msess_leg_apply(struct msess *s, int i, struct mleg_update *u, uint64_t now_ms);

enum msess_verdict {
	MSESS_FORWARD = 0,
	MSESS_DROP_PARSE,    /* not RTP/RTCP v2 */
	MSESS_DROP_MALFORMED, /* v2, but the header contradicts itself (rtpcheck.h) */
	MSESS_DROP_AUTH,     /* SRTP authentication failed */
	MSESS_DROP_REPLAY,   /* SRTP replay */
	MSESS_DROP_SOURCE,   /* strict latching: wrong source */
	MSESS_DROP_NOREMOTE, /* the other leg has nowhere to send yet */
	MSESS_DROP_PROTECT,  /* protecting for the other leg failed */
};
const char *msess_verdict_name(enum msess_verdict v);

struct mfwd {
	int fd;                  /* socket to send from */
	const union maddr *dst;  /* where to (points into the session) */
	socklen_t dstlen;
};

/* The packet path: 'pkt' (len bytes, buffer cap bytes) arrived on socket
 * 'in' from 'src'. Transforms it in place, updates *len and counters, and
 * on MSESS_FORWARD fills *fwd. Never reads past len; never writes past cap. */
enum msess_verdict msess_packet(struct msess *s, const struct msock *in,
	const union maddr *src, uint8_t *pkt, size_t *len, size_t cap,
	uint64_t now_ms, struct mfwd *fwd);

/* Last time media arrived on either leg (or creation/update time). */
uint64_t msess_last_activity(const struct msess *s);

/* True if the packet looks like RTCP (RFC 5761 section 4: PT 192..223 in
 * the second byte). */
bool msess_is_rtcp(const uint8_t *pkt, size_t len);

#endif
