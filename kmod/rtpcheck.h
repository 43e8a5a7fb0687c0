/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rampart.ko: the RTP header checks mediad applies (mediad/rtpcheck.h,
 * docs/mediad.md "Header checks"), so that an offloaded direction forwards
 * exactly what mediad would: 12 + 4 * CC bytes within the packet; with X,
 * the extension header and its length within it; with P, a padding count
 * of 1 .. the bytes after the header. The version (2) and the 12-byte
 * minimum are the hook's own tests, made before these.
 *
 * A packet that fails goes up to mediad's socket untouched (NF_ACCEPT),
 * where the same rule drops it and counts it as 'malformed': one place
 * counts, whether the direction is offloaded or not.
 *
 * Pure inline functions over the packet's first bytes, no skb, so that a
 * userspace test holds them against mediad's (tests/unit/test_kmod_rtpcheck.c).
 */
#ifndef _RAMPART_RTPCHECK_H
#define _RAMPART_RTPCHECK_H

#ifdef __KERNEL__
#include <linux/types.h>
#endif

#define RAMPART_RTP_FIXED 12u
/* The most rampart_rtp_hdr_len() reads: fixed header, 15 CSRCs, the
 * extension header. */
#define RAMPART_RTP_PEEK (RAMPART_RTP_FIXED + 60u + 4u)

/* Header length (fixed part, CSRCs, extension block) of the RTP packet of
 * @len >= 12 bytes at @p, or 0 if it runs past the end. Reads p[0], and
 * only when CC or X is set, up to min(@len, RAMPART_RTP_PEEK) bytes. */
static inline unsigned int rampart_rtp_hdr_len(const u8 *p, unsigned int len)
{
	unsigned int h = RAMPART_RTP_FIXED + 4u * (p[0] & 0x0fu);

	if (h > len)
		return 0;
	if (p[0] & 0x10) {
		/* 16 bits profile-defined, 16 bits length in 32-bit words. */
		if (h + 4 > len)
			return 0;
		h += 4 + 4u * ((unsigned int)p[h + 2] << 8 | p[h + 3]);
		if (h > len)
			return 0;
	}
	return h;
}

/* With P set in @first (the first octet), @last (the packet's last octet)
 * counts the padding including itself: at least 1, at most the @len -
 * @hlen bytes after the @hlen-byte header. */
static inline bool rampart_rtp_pad_ok(u8 first, u8 last, unsigned int len,
				      unsigned int hlen)
{
	return !(first & 0x20) || (len > hlen && last && last <= len - hlen);
}

#endif /* _RAMPART_RTPCHECK_H */
