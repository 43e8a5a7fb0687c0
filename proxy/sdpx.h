/* sdpx: reading an SDP body for the media layer and rewriting it for one
 * direction (toward the other side of the call), on top of common/sdp.h
 * and common/sdes.h.
 *
 * sdpx_read() parses a body and summarises each m= section (protocol,
 * address, port, hold, its a=crypto lines). sdpx_pick_crypto() chooses the
 * line to use from an offer by a suite preference list, skipping what we
 * cannot run (RFC 4568 §6: unusable lines are ignored, not fatal).
 * sdpx_write() applies one direction's rewrite: c=/m= to the relay's
 * address and port, the protocol per leg, the peer's a=crypto replaced by
 * ours, and attributes that name the peer's transport addresses (a=rtcp,
 * a=rtcp-mux, ICE) removed, ours (a=rtcp-mux, a=rtcp) written where asked,
 * then serialises.
 *
 * Ownership: everything lives in the caller's arena, and slices point into
 * the input body (which must outlive the sdpx_desc). A body written by
 * sdpx_write() holds keys: the caller wipes it (and calls sdp_wipe() on
 * d->sdp) before the arena is reset.
 */
#ifndef RP_SDPX_H
#define RP_SDPX_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_arena.h"
#include "rp_str.h"
#include "sdes.h"
#include "sdp.h"

#define SDPX_MAX_STREAMS 8
#define SDPX_MAX_CRYPTO 8

enum sdpx_result {
	SDPX_OK = 0,
	SDPX_E_PARSE = -1,   /* the body is not SDP (sdp_parse failed) */
	SDPX_E_STREAMS = -2, /* more than SDPX_MAX_STREAMS m= sections */
	SDPX_E_NOMEM = -3,
	SDPX_E_EDIT = -4,    /* an sdp edit failed */
	SDPX_E_NOCRYPTO = -5,/* sdpx_pick_crypto: no usable line */
};

enum sdpx_proto {
	SDPX_PROTO_OTHER, /* not RTP (UDP/TLS/RTP/SAVP, udptl, ...): not relayed */
	SDPX_PROTO_AVP,
	SDPX_PROTO_SAVP,
	SDPX_PROTO_AVPF,
	SDPX_PROTO_SAVPF,
};

struct sdpx_stream {
	struct sdp_media *m;
	rp_str media;               /* "audio" */
	uint16_t port;              /* 0: disabled */
	enum sdpx_proto proto;
	rp_str addr;                /* the c= that applies (empty if none) */
	bool ip6;
	bool hold_addr;             /* c= 0.0.0.0 / :: (RFC 2543 hold) */
	bool addr_ok;               /* addr is a unicast IP literal of its c=
				     * address type, or a hold address: media
				     * can be sent there */
	unsigned ncrypto;
	rp_str crypto[SDPX_MAX_CRYPTO]; /* a=crypto values, in order */
	bool rtcp_mux;              /* a=rtcp-mux in this section (RFC 5761) */
};

struct sdpx_desc {
	struct sdp *sdp;
	unsigned nstreams;
	struct sdpx_stream s[SDPX_MAX_STREAMS];
};

/* Parses body[0..len). *err_off gets the offset of a parse error. */
int sdpx_read(const char *body, size_t len, rp_arena *a, struct sdpx_desc *d,
	size_t *err_off);

/* true for RTP/SAVP and RTP/SAVPF. */
static inline bool sdpx_proto_secure(enum sdpx_proto p)
{
	return p == SDPX_PROTO_SAVP || p == SDPX_PROTO_SAVPF;
}
/* The protocol string for a leg: feedback kept (AVPF/SAVPF), SRTP as
 * asked. */
const char *sdpx_proto_name(bool feedback, bool srtp);
static inline bool sdpx_proto_feedback(enum sdpx_proto p)
{
	return p == SDPX_PROTO_AVPF || p == SDPX_PROTO_SAVPF;
}

/* What a side accepts in an a=crypto line besides the suite. */
struct sdpx_crypto_opts {
	bool allow_mki;      /* MKI of at most 4 bytes (mediad's limit) */
};

/* Why a line was skipped (for logs), or SDPX_SKIP_NONE. */
enum sdpx_skip {
	SDPX_SKIP_NONE,
	SDPX_SKIP_PARSE,     /* sdes_parse failed (unknown suite, bad key, ...) */
	SDPX_SKIP_SUITE,     /* suite not in the allowed list / not supported */
	SDPX_SKIP_MKI,       /* MKI not allowed, > 4 bytes, or several keys */
	SDPX_SKIP_LIFETIME,  /* key lifetime above 2^48 packets (RFC 3711 9.2) */
	SDPX_SKIP_PARAM,     /* session parameter we cannot honour */
};
const char *sdpx_skip_name(enum sdpx_skip s);

/* Checks one crypto line value; SDPX_SKIP_NONE and *out filled if usable
 * (the caller wipes *out), else the reason (and *out wiped). */
enum sdpx_skip sdpx_check_crypto(rp_str value, const struct sdpx_crypto_opts *o,
	struct sdes_crypto *out);

/* Picks, from stream s's crypto lines, the usable one whose suite comes
 * first in prefs[0..nprefs) (ties: the offer's order). prefs NULL: any
 * supported suite that encrypts (not the NULL suites), the offer's first.
 * *out gets it (the caller wipes it). Returns SDPX_OK or SDPX_E_NOCRYPTO. */
int sdpx_pick_crypto(const struct sdpx_stream *s, const enum sdes_suite *prefs,
	unsigned nprefs, const struct sdpx_crypto_opts *o, struct sdes_crypto *out);

/* One stream's rewrite. */
struct sdpx_out {
	bool disable;        /* set port 0 (stream refused / not relayed); its
			      * a=crypto, a=rtcp, ICE/DTLS lines are removed too */
	bool keep_conn;      /* leave c= as is (hold with 0.0.0.0) */
	bool ip6;
	const char *addr;    /* relay address for c= */
	uint16_t port;       /* relay port for m= */
	const char *proto;   /* NULL: unchanged */
	unsigned ncrypto;    /* our a=crypto lines (0: none) */
	const struct sdes_crypto *crypto;
	bool rtcp_mux;       /* write a=rtcp-mux (offered, or accepted in an answer) */
	uint16_t rtcp_port;  /* write a=rtcp:<port> (our RTCP port), 0: none */
};

/* Applies outs[i] to d->s[i] for every stream and serialises into the
 * arena: *body. */
int sdpx_write(struct sdpx_desc *d, const struct sdpx_out *outs, rp_arena *a,
	rp_str *body);

#endif
