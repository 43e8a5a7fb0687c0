#include "rp_base64.h"

#include <errno.h>

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value + 1 for alphabet bytes, 0 for anything else ('=' is handled
 * separately). */
static const uint8_t b64_value[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
	53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
	 0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
	42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

int rp_base64_encode(const uint8_t *src, size_t n, char *dst, size_t dstsz,
	size_t *outlen)
{
	size_t need = rp_base64_encoded_len(n);
	size_t i = 0, o = 0;

	if (n > (SIZE_MAX / 4) * 3 - 2 || dstsz < need)
		return -ENOSPC;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
			src[i + 2];

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = b64_alphabet[(v >> 6) & 63];
		dst[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = b64_alphabet[(v >> 6) & 63];
		dst[o++] = '=';
	}
	*outlen = o;
	return 0;
}

static int fail(size_t *err_off, size_t off, int rc)
{
	if (err_off)
		*err_off = off;
	return rc;
}

int rp_base64_decode(rp_str in, uint8_t *dst, size_t dstsz, size_t *outlen,
	size_t *err_off)
{
	size_t n = in.n, data = n, o = 0, i;
	const unsigned char *s = (const unsigned char *)in.p;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* Padding, if present, completes the last quantum exactly. */
	if (n > 0 && s[n - 1] == '=') {
		data = n - 1;
		if (data > 0 && s[data - 1] == '=')
			data--;
		if (n % 4 != 0)
			return fail(err_off, data, -EINVAL);
	}
	for (i = 0; i < data; i++) {
		uint8_t v = b64_value[s[i]];

		if (v == 0)
			return fail(err_off, i, -EINVAL);
		acc = acc << 6 | (uint32_t)(v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == dstsz)
				return -ENOSPC;
			dst[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* A lone char in the last quantum carries only 6 bits. */
	if (data % 4 == 1)
		return fail(err_off, data - 1, -EINVAL);
	/* Leftover bits must be zero, or two encodings would decode alike. */
	if (acc != 0)
		return fail(err_off, data - 1, -EINVAL);
	*outlen = o;
	return 0;
}
