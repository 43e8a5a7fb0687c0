#include "rp_str.h"

#include <errno.h>
#include <string.h>

bool rp_str_eq(rp_str a, rp_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static inline unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Not strncasecmp(): it stops at a NUL, so "a\0x" would equal "a\0y", and
 * it follows the locale; slices are binary and SIP tokens are ASCII. */
static bool caseeq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

bool rp_str_caseeq(rp_str a, rp_str b)
{
	return a.n == b.n && caseeq_n(a.p, b.p, a.n);
}

bool rp_str_caseeq_cstr(rp_str a, const char *b)
{
	return rp_str_caseeq(a, rp_str_cstr(b));
}

bool rp_str_eq_cstr(rp_str a, const char *b)
{
	return rp_str_eq(a, rp_str_cstr(b));
}

bool rp_str_has_prefix_case(rp_str s, const char *prefix)
{
	size_t n = strlen(prefix);

	return s.n >= n && caseeq_n(s.p, prefix, n);
}

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

rp_str rp_str_trim(rp_str s)
{
	while (s.n && is_lws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_lws(s.p[s.n - 1]))
		s.n--;
	return s;
}

ptrdiff_t rp_str_chr(rp_str s, char c)
{
	const char *q = s.n ? memchr(s.p, c, s.n) : NULL;

	return q ? q - s.p : -1;
}

int rp_str_to_u64(rp_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0)
		return -EINVAL;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int rp_str_to_u32(rp_str s, uint32_t *out)
{
	uint64_t v;
	int rc = rp_str_to_u64(s, UINT32_MAX, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

int rp_str_copy(rp_str s, char *dst, size_t dstsz)
{
	if (dstsz == 0)
		return -ENOSPC;
	if (s.n >= dstsz) {
		dst[0] = '\0';
		return -ENOSPC;
	}
	if (s.n)
		memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

size_t rp_str_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs, surrogates and code
	 * points above U+10FFFF (RFC 3629 section 4). */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

size_t rp_str_utf8_safe(rp_str s, char *dst, size_t dstsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, o = 0;

	while (i < s.n) {
		size_t len = 1;

		if (p[i] >= 0x80)
			len = rp_str_utf8_seq(p + i, s.n - i);
		if (len && (p[i] >= 0x80 || (p[i] >= 0x20 && p[i] != 0x7f))) {
			if (o + len >= dstsz)
				break;
			memcpy(dst + o, p + i, len);
			o += len;
			i += len;
			continue;
		}
		if (o + 4 >= dstsz)
			break;
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[p[i] >> 4];
		dst[o++] = hex[p[i] & 15];
		i++;
	}
	dst[o] = 0;
	return o;
}
