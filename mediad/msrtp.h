/* msrtp: one direction of SRTP/SRTCP for one media leg, over libsrtp2.
 *
 * A leg has up to two contexts: 'in' (the peer's key; unprotect) and 'out'
 * (our key; protect). Each context accepts any SSRC (libsrtp's ssrc_any_*),
 * so an SSRC change needs no new context. Packets are transformed in place.
 *
 * Ownership: msrtp_new() returns a context the caller owns and releases with
 * msrtp_free(), which wipes the key material. A context is used by one
 * thread at a time (the I/O worker that owns the leg); no locking inside.
 */
#ifndef MSRTP_H
#define MSRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msrtp;

/* Free room after the packet that lets protect work in place: libsrtp's
 * documented worst-case trailer (tag + 128-byte MKI) plus the SRTCP index.
 * With less (but enough for the real tag + MKI) protect goes through a copy. */
#define MSRTP_TRAILER_ROOM 148

enum msrtp_suite {
	MSRTP_AES_CM_128_HMAC_SHA1_80,
	MSRTP_AES_CM_128_HMAC_SHA1_32,
	MSRTP_AES_192_CM_HMAC_SHA1_80,
	MSRTP_AES_192_CM_HMAC_SHA1_32,
	MSRTP_AES_256_CM_HMAC_SHA1_80,
	MSRTP_AES_256_CM_HMAC_SHA1_32,
	MSRTP_AEAD_AES_128_GCM,
	MSRTP_AEAD_AES_256_GCM,
	MSRTP_NULL_HMAC_SHA1_80, /* no encryption, authenticated */
	MSRTP_NULL_HMAC_SHA1_32,
	MSRTP_SUITE_COUNT
};

enum msrtp_dir {
	MSRTP_PROTECT,   /* out: RTP -> SRTP */
	MSRTP_UNPROTECT, /* in:  SRTP -> RTP */
};

/* Result codes of the packet functions (negative). */
enum msrtp_result {
	MSRTP_OK = 0,
	MSRTP_E_AUTH = -1,   /* authentication tag did not verify: drop, count */
	MSRTP_E_REPLAY = -2, /* replayed or too old: drop, count */
	MSRTP_E_PARSE = -3,  /* too short / not RTP(/RTCP): drop, count */
	MSRTP_E_SPACE = -4,  /* buffer too small for the tag/MKI */
	MSRTP_E_OTHER = -5,  /* anything else libsrtp reports */
};

struct msrtp_params {
	enum msrtp_suite suite;
	const uint8_t *key;  /* master key, msrtp_key_len(suite) bytes */
	const uint8_t *salt; /* master salt, msrtp_salt_len(suite) bytes */
	const uint8_t *mki;  /* NULL or mki_len bytes */
	size_t mki_len;      /* 0..4 (RFC 4568 allows up to 128; we cap at 4) */
	unsigned window;     /* replay window in packets; 0 = default (128) */
	uint32_t roc;        /* initial rollover counter (rekey/takeover); 0 normally */
};

/* Static facts per suite; name is the RFC 4568/7714 spelling. */
const char *msrtp_suite_name(enum msrtp_suite s);
/* Accepts the RFC names and common aliases; -EINVAL if unknown. */
int msrtp_suite_from_name(const char *name, size_t len, enum msrtp_suite *out);
size_t msrtp_key_len(enum msrtp_suite s);
size_t msrtp_salt_len(enum msrtp_suite s);
size_t msrtp_rtp_tag_len(enum msrtp_suite s);  /* bytes appended to RTP */
size_t msrtp_rtcp_tag_len(enum msrtp_suite s); /* bytes appended to RTCP (incl. E|index) */

/* Initialise libsrtp once per process (idempotent, thread-safe). Returns 0
 * or -EIO; msrtp_new() calls it too. It also replaces libsrtp's HMAC-SHA1
 * and AES-CM with msrtp's smaller ones (libcrypto; docs/srtp.md, memory),
 * for every libsrtp user in the process. */
int msrtp_global_init(void);
/* "openssl" (third_party/libsrtp2-openssl) or "system" (Debian, NSS). */
const char *msrtp_backend_name(void);
/* Whether this libsrtp2 does suite s correctly (checked once at init: the
 * Debian build gets AES-192 key derivation wrong, so it says no to the
 * AES_192_CM suites). Offer only supported suites; msrtp_new() returns
 * -ENOTSUP for the others. */
bool msrtp_suite_supported(enum msrtp_suite s);

/* Creates a context. Returns 0 or a negative errno (-EINVAL for bad
 * lengths, -ENOTSUP for a suite this libsrtp cannot do, -ENOMEM, -EIO for a
 * libsrtp failure). window: 64..32767 packets (0 = 128). */
int msrtp_new(enum msrtp_dir dir, const struct msrtp_params *p, struct msrtp **out);
/* Wipes keys and frees; NULL is allowed. Returns NULL for x = msrtp_free(x). */
struct msrtp *msrtp_free(struct msrtp *c);

/* RTP: *len is the packet length in, the new length out. 'cap' is the
 * buffer size (protect grows the packet by tag + MKI). Return MSRTP_OK or a
 * negative msrtp_result. On MSRTP_E_PARSE / MSRTP_E_SPACE the packet is
 * untouched; after any other failure its bytes are unspecified (AEAD
 * decrypts before the tag check): drop it. The sender side answers
 * MSRTP_E_REPLAY to a sequence number it already protected. */
int msrtp_protect_rtp(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap);
int msrtp_unprotect_rtp(struct msrtp *c, uint8_t *pkt, size_t *len);
/* RTCP likewise (SRTCP index handled by libsrtp). */
int msrtp_protect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap);
int msrtp_unprotect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len);

/* The rollover counter libsrtp holds for 'ssrc' (for handing a stream to the
 * kernel fast path and back). get: -ENOENT if the SSRC has not been seen.
 * set: takes effect with the next packet of that SSRC, whose sequence number
 * then fixes the index (roc << 16 | seq) and restarts the replay window; for
 * an SSRC not seen yet it creates its stream. -EIO on a libsrtp failure.
 * params.roc applies like set_roc to the first SSRC the context sees. */
int msrtp_get_roc(struct msrtp *c, uint32_t ssrc, uint32_t *roc);
int msrtp_set_roc(struct msrtp *c, uint32_t ssrc, uint32_t roc);
/* The highest RTP index that passed for 'ssrc' as (roc, seq): where the
 * kernel fast path continues the stream (hand back with msrtp_set_roc).
 * -ENOENT if no RTP packet of that SSRC passed since its stream was made. */
int msrtp_get_index(struct msrtp *c, uint32_t ssrc, uint32_t *roc, uint16_t *seq);
/* Where the kernel fast path left the RTP stream of 'ssrc': its highest
 * index (roc, seq) as the module had it. The next RTP packet of that SSRC
 * takes its ROC from there (RFC 3711 index guessing), whatever userspace
 * saw last, and one at or before it is a replay (MSRTP_E_REPLAY, no
 * crypto): the module carried it already; outbound, a sequence number
 * the module protected is refused likewise (no index used twice). The
 * stream itself is kept (its SRTCP index and replay state go on). An
 * anchor at or behind where the context already is changes nothing. Until
 * a packet passes, msrtp_get_index() reports the anchor. Costs nothing
 * per packet otherwise: anchored SSRCs take the slow path. Returns 0,
 * -ENOMEM or -EIO. */
int msrtp_set_anchor(struct msrtp *c, uint32_t ssrc, uint32_t roc, uint16_t seq);

#endif
