#include "rp_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

void rp_buf_init(rp_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void rp_buf_set_secure(rp_buf *b, bool secure)
{
	b->secure = secure;
}

static int buf_fail(rp_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/* Grows cap so that 'need' bytes plus the NUL fit. */
static int buf_grow(rp_buf *b, size_t need)
{
	size_t ncap;
	char *np;

	if (b->max && need > b->max)
		return buf_fail(b, -EMSGSIZE);
	if (need >= SIZE_MAX / 2)
		return buf_fail(b, -ENOMEM);
	if (need < b->cap)
		return 0;
	ncap = b->cap ? b->cap : BUF_MIN_CAP;
	while (ncap <= need)
		ncap *= 2;
	/* Do not allocate far past the cap only to refuse the bytes later. */
	if (b->max && ncap > b->max + 1)
		ncap = b->max + 1;
	if (b->secure) {
		/* realloc() could leave a copy of the old bytes in freed memory. */
		np = malloc(ncap);
		if (!np)
			return buf_fail(b, -ENOMEM);
		if (b->p) {
			memcpy(np, b->p, b->len + 1);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
	} else {
		np = realloc(b->p, ncap);
		if (!np)
			return buf_fail(b, -ENOMEM);
	}
	if (!b->p)
		np[0] = '\0';
	b->p = np;
	b->cap = ncap;
	return 0;
}

int rp_buf_reserve(rp_buf *b, size_t extra)
{
	if (b->err)
		return b->err;
	if (extra > SIZE_MAX - b->len)
		return buf_fail(b, -ENOMEM);
	return buf_grow(b, b->len + extra);
}

int rp_buf_append(rp_buf *b, const void *data, size_t n)
{
	int rc = rp_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	if (b->p)
		b->p[b->len] = '\0';
	return 0;
}

int rp_buf_append_str(rp_buf *b, rp_str s)
{
	return rp_buf_append(b, s.p, s.n);
}

int rp_buf_append_cstr(rp_buf *b, const char *s)
{
	return rp_buf_append(b, s, strlen(s));
}

int rp_buf_append_byte(rp_buf *b, char c)
{
	return rp_buf_append(b, &c, 1);
}

/* Writes v in decimal ending at 'end'; returns the first digit. */
static char *fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

int rp_buf_append_u64(rp_buf *b, uint64_t v)
{
	char tmp[20];
	char *s = fmt_u64(tmp + sizeof(tmp), v);

	return rp_buf_append(b, s, (size_t)(tmp + sizeof(tmp) - s));
}

int rp_buf_append_i64(rp_buf *b, int64_t v)
{
	char tmp[21];
	/* Negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
	char *s = fmt_u64(tmp + sizeof(tmp), v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--s = '-';
	return rp_buf_append(b, s, (size_t)(tmp + sizeof(tmp) - s));
}

int rp_buf_vprintf(rp_buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap2;
	int n;
	int rc;

	if (b->err)
		return b->err;
	/* First try in the spare room; most lines fit and need one pass. */
	va_copy(ap2, ap);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		rc = -EINVAL;
		goto fail;
	}
	if (b->max && (size_t)n > b->max - b->len) {
		rc = -EMSGSIZE;
		goto fail;
	}
	if ((size_t)n >= room) {
		rc = rp_buf_reserve(b, (size_t)n);
		if (rc)
			goto fail;
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
	return 0;
fail:
	if (room) {
		if (b->secure)
			explicit_bzero(b->p + b->len, room);
		b->p[b->len] = '\0';
	}
	return buf_fail(b, rc);
}

int rp_buf_printf(rp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = rp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *rp_buf_cstr(const rp_buf *b)
{
	return b->p ? b->p : "";
}

void rp_buf_truncate(rp_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	if (b->secure)
		explicit_bzero(b->p + len, b->len - len);
	b->len = len;
	b->p[len] = '\0';
}

void rp_buf_consume(rp_buf *b, size_t n)
{
	if (n >= b->len) {
		rp_buf_truncate(b, 0);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	if (b->secure)
		explicit_bzero(b->p + b->len - n, n);
	b->len -= n;
	b->p[b->len] = '\0';
}

void rp_buf_reset(rp_buf *b)
{
	rp_buf_truncate(b, 0);
	b->err = 0;
}

char *rp_buf_steal(rp_buf *b, size_t *len)
{
	char *p;

	if (b->err)
		return NULL;
	if (!b->p && buf_grow(b, 0))
		return NULL;
	p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void rp_buf_free(rp_buf *b)
{
	if (b->p && b->secure)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = 0;
}
