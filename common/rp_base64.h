/* rp_base64: standard base64 (RFC 4648 §4, '+' '/' alphabet).
 *
 * Encoding always writes '=' padding. Decoding accepts input with or without
 * the padding (peers send both for SDES keys), rejects any other byte,
 * embedded whitespace and non-zero trailing bits, and never reads past the
 * given length. No allocation; the caller owns every buffer.
 */
#ifndef RP_BASE64_H
#define RP_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"

/* Characters rp_base64_encode() writes for n input bytes (no NUL). */
static inline size_t rp_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Upper bound of the bytes rp_base64_decode() writes for n input chars. */
static inline size_t rp_base64_decoded_max(size_t n)
{
	return (n + 3) / 4 * 3;
}

/* Writes the padded encoding of src[0..n) to dst (no NUL) and its length to
 * *outlen. Returns 0, or -ENOSPC if dstsz < rp_base64_encoded_len(n) (dst
 * then untouched). */
int rp_base64_encode(const uint8_t *src, size_t n, char *dst, size_t dstsz,
	size_t *outlen);

/* Decodes 'in' into dst. Returns 0 with *outlen set, -EINVAL for malformed
 * input (*err_off, if not NULL, gets the offset of the offending char),
 * or -ENOSPC if dst is too small. On error dst may hold partial output:
 * callers decoding key material wipe it. */
int rp_base64_decode(rp_str in, uint8_t *dst, size_t dstsz, size_t *outlen,
	size_t *err_off);

#endif
