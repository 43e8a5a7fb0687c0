#include "rp_str.h"

#include <errno.h>

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
