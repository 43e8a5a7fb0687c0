/* mrtp: consistency checks of RTP and RTCP headers (RFC 3550) for mediad's
 * packet path.
 *
 * A relay between an untrusted access side and the core must not forward a
 * packet the far side may mis-parse: a CSRC count, a header extension length
 * or a padding count that runs past the end of the datagram. libsrtp
 * refuses such packets on SRTP legs; these checks give plain legs the same
 * rule and name the reason. They look at the header only: RFC 8285 one- and
 * two-byte extensions are the generic extension block to them, and the
 * payload (RFC 4733 events or anything else) is never read.
 *
 * Cost: mrtp_hdr_len() is a handful of compares and is inline, since every
 * RTP packet goes through it; RTCP (a few packets per second per stream)
 * takes a call.
 *
 * Pure functions over (pointer, length); they never read past len.
 */
#ifndef MRTP_CHECK_H
#define MRTP_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum mrtp_check {
	MRTP_OK = 0,
	MRTP_E_SHORT = -1,    /* shorter than the fixed header (RTP 12, RTCP 4 bytes) */
	MRTP_E_VERSION = -2,  /* version is not 2 */
	MRTP_E_CSRC = -3,     /* 12 + 4 * CC runs past the end */
	MRTP_E_EXT = -4,      /* the extension header or its length runs past the end */
	MRTP_E_PAD = -5,      /* padding count 0, or longer than the payload */
	MRTP_E_RTCP_LEN = -6, /* an RTCP length field runs past the end, or the
	                       * compound packet does not end where the datagram does */
};
const char *mrtp_check_name(int rc);

#define MRTP_FIXED_HDR 12u

/* Length of the RTP header of p (fixed part, CSRCs, extension block), or a
 * negative enum mrtp_check. Padding is not looked at: on an SRTP leg the
 * padding count is in the encrypted payload (see mrtp_pad_check()). */
static inline int mrtp_hdr_len(const uint8_t *p, size_t len)
{
	size_t h;

	if (len < MRTP_FIXED_HDR)
		return MRTP_E_SHORT;
	if ((p[0] & 0xc0) != 0x80)
		return MRTP_E_VERSION;
	h = MRTP_FIXED_HDR + 4u * (p[0] & 0x0fu);
	if (h > len)
		return MRTP_E_CSRC;
	if (p[0] & 0x10) {
		/* 16 bits profile-defined, 16 bits length in 32-bit words. */
		if (h + 4 > len)
			return MRTP_E_EXT;
		h += 4 + 4u * ((size_t)p[h + 2] << 8 | p[h + 3]);
		if (h > len)
			return MRTP_E_EXT;
	}
	return (int)h;
}

/* With P set, the last octet counts the padding including itself: it must
 * be at least 1 and fit after the hdr_len-byte header. 0 or MRTP_E_PAD. */
static inline int mrtp_pad_check(const uint8_t *p, size_t len, size_t hdr_len)
{
	if (!(p[0] & 0x20))
		return MRTP_OK;
	if (len <= hdr_len || p[len - 1] == 0 || p[len - 1] > len - hdr_len)
		return MRTP_E_PAD;
	return MRTP_OK;
}

/* The whole RTP check of a plain packet: header, then padding. */
static inline int mrtp_check(const uint8_t *p, size_t len)
{
	int h = mrtp_hdr_len(p, len);

	return h < 0 ? h : mrtp_pad_check(p, len, (size_t)h);
}

/* RTCP (RFC 3550 6.4 and A.2, minimal): a compound packet of one or more
 * packets, each version 2 with its length field ((length + 1) * 4 bytes)
 * inside the datagram, ending exactly at its end. Packet types and report
 * contents are not checked (RFC 5506 reduced-size RTCP passes). 0 or a
 * negative enum mrtp_check. */
int mrtp_rtcp_check(const uint8_t *p, size_t len);

#endif
