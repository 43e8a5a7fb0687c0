#include "sip_frame.h"

#include <stdint.h>
#include <string.h>

#include "rp_str.h"

void sip_framer_init(sip_framer *f, const struct sip_frame_limits *lim)
{
	memset(f, 0, sizeof(*f));
	if (lim) {
		f->lim = *lim;
	} else {
		f->lim.max_hdr = SIP_FRAME_DEFAULT_MAX_HDR;
		f->lim.max_body = SIP_FRAME_DEFAULT_MAX_BODY;
	}
}

void sip_framer_set_expect_pong(sip_framer *f, bool on)
{
	f->expect_pong = on;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Finds the end of the line starting at i inside [0, n): index of its CR
 * (followed by LF), or n if the block has no CRLF after i. */
static size_t line_end(const char *b, size_t i, size_t n)
{
	while (i + 1 < n) {
		const char *cr = memchr(b + i, '\r', n - 1 - i);

		if (!cr)
			return n;
		i = (size_t)(cr - b);
		if (b[i + 1] == '\n')
			return i;
		i++;
	}
	return n;
}

/* "Content-Length" or its compact form "l", any case. */
static bool is_clen_name(const char *p, size_t n)
{
	if (n == 1)
		return p[0] == 'l' || p[0] == 'L';
	return n == 14 && (p[0] == 'c' || p[0] == 'C') &&
	       rp_str_caseeq_cstr(rp_str_make(p, n), "content-length");
}

/* Scans the header block b[0, n) (n includes the final CRLFCRLF) for
 * Content-Length / l. Returns 0 with found and clen set, or an error with
 * *err_off. Folded values (continuation lines) are part of the value.
 * With 'end' (datagrams, n then only a limit), also where the block ends
 * (just past its empty line), or 0 if no empty line came before n. */
static enum sip_frame_result find_clen(const char *b, size_t n,
	size_t max_body, bool *found, size_t *clen, size_t *err_off, size_t *end)
{
	size_t i = line_end(b, 0, n);

	*found = false;
	if (end)
		*end = 0;
	if (i >= n)
		return SIP_FRAME_MSG; /* start line only: no headers */
	i += 2;
	while (i < n) {
		size_t e = line_end(b, i, n), name_end, v0, v1;
		rp_str val;
		uint64_t v;
		int rc;

		if (e == i) {
			if (end && i + 1 < n)
				*end = i + 2;
			break; /* the empty line that ends the block */
		}
		/* A continuation line belongs to the previous header. */
		if (is_ws(b[i])) {
			i = e + 2;
			continue;
		}
		name_end = i;
		while (name_end < e && b[name_end] != ':' && !is_ws(b[name_end]))
			name_end++;
		if (!is_clen_name(b + i, name_end - i)) {
			i = e + 2;
			continue;
		}
		v0 = name_end;
		while (v0 < e && is_ws(b[v0]))
			v0++;
		if (v0 >= e || b[v0] != ':') {
			*err_off = v0;
			return SIP_FRAME_E_BAD_CLEN;
		}
		v0++;
		/* Extend over continuation lines. */
		v1 = e;
		while (v1 + 2 < n && is_ws(b[v1 + 2]))
			v1 = line_end(b, v1 + 2, n);
		val = rp_str_trim(rp_str_make(b + v0, v1 - v0));
		if (*found) {
			*err_off = i;
			return SIP_FRAME_E_DUP_CLEN;
		}
		rc = rp_str_to_u64(val, SIZE_MAX, &v);
		if (rc == 0 && v > max_body) {
			*err_off = (size_t)(val.p - b);
			return SIP_FRAME_E_BODY_TOO_BIG;
		}
		if (rc != 0) {
			size_t k = 0;

			/* Overflowing digits are a size, just a very big one. */
			while (k < val.n && val.p[k] >= '0' && val.p[k] <= '9')
				k++;
			*err_off = (size_t)(val.p - b) + (val.n ? k : 0);
			if (val.n && k == val.n)
				return SIP_FRAME_E_BODY_TOO_BIG;
			if (!val.n)
				*err_off = v0;
			return SIP_FRAME_E_BAD_CLEN;
		}
		*found = true;
		*clen = (size_t)v;
		i = v1 + 2;
	}
	return SIP_FRAME_MSG;
}

static void frame_reset(sip_framer *f)
{
	f->scan = 0;
	f->total = 0;
	f->hdr_len = 0;
	f->have_hdr = false;
}

/* Keep-alive check at a message boundary: >0 result when buf starts with
 * CRLFs, SIP_FRAME_MSG when a message starts here. */
static enum sip_frame_result keepalive(const char *buf, size_t len,
	bool lone_is_pong, size_t *consumed)
{
	*consumed = 0;
	if (len == 0)
		return SIP_FRAME_NEED_MORE;
	if (buf[0] != '\r')
		return SIP_FRAME_MSG;
	if (len < 2)
		return SIP_FRAME_NEED_MORE;
	if (buf[1] != '\n')
		return SIP_FRAME_MSG; /* garbage start; the parser will say so */
	if (len == 2) {
		if (!lone_is_pong)
			return SIP_FRAME_NEED_MORE;
		*consumed = 2;
		return SIP_FRAME_PONG;
	}
	if (buf[2] == '\r') {
		if (len == 3)
			return SIP_FRAME_NEED_MORE;
		if (buf[3] == '\n') {
			*consumed = 4;
			return SIP_FRAME_PING;
		}
	}
	*consumed = 2;
	return SIP_FRAME_PONG;
}

enum sip_frame_result sip_framer_next(sip_framer *f, const char *buf,
	size_t len, struct sip_frame *out)
{
	enum sip_frame_result r;
	size_t k;

	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return SIP_FRAME_E_ARG;
	if (!f->have_hdr && f->scan == 0) {
		r = keepalive(buf, len, f->expect_pong, &k);
		if (r != SIP_FRAME_MSG) {
			out->consumed = k;
			return r;
		}
	}
	if (!f->have_hdr) {
		size_t start = f->scan >= 3 ? f->scan - 3 : 0;
		size_t lim = len < f->lim.max_hdr ? len : f->lim.max_hdr;
		const char *e = NULL;

		if (lim > start)
			e = memmem(buf + start, lim - start, "\r\n\r\n", 4);
		if (!e) {
			if (len >= f->lim.max_hdr) {
				out->err_off = f->lim.max_hdr;
				return SIP_FRAME_E_HDR_TOO_BIG;
			}
			f->scan = len;
			return SIP_FRAME_NEED_MORE;
		}
		{
			size_t hl = (size_t)(e - buf) + 4, clen = 0;
			bool found;

			r = find_clen(buf, hl, f->lim.max_body, &found, &clen,
				&out->err_off, NULL);
			if (r == SIP_FRAME_MSG && !found) {
				out->err_off = hl;
				r = SIP_FRAME_E_NO_CLEN;
			}
			if (r != SIP_FRAME_MSG) {
				/* The header block is whole: the caller can still
				 * answer it (400) before it closes the stream. */
				out->hdr_len = hl;
				return r;
			}
			f->have_hdr = true;
			f->hdr_len = hl;
			f->total = hl + clen;
			f->scan = hl;
		}
	}
	if (len < f->total)
		return SIP_FRAME_NEED_MORE;
	out->consumed = f->total;
	out->off = 0;
	out->len = f->total;
	out->hdr_len = f->hdr_len;
	out->body_len = f->total - f->hdr_len;
	frame_reset(f);
	return SIP_FRAME_MSG;
}

enum sip_frame_result sip_frame_datagram(const struct sip_frame_limits *lim,
	const char *buf, size_t len, struct sip_frame *out)
{
	struct sip_frame_limits def = { SIP_FRAME_DEFAULT_MAX_HDR,
		SIP_FRAME_DEFAULT_MAX_BODY };
	size_t s = 0, hl, clen = 0, avail, hlim;
	const char *e;
	enum sip_frame_result r;
	bool found;

	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return SIP_FRAME_E_ARG;
	if (!lim)
		lim = &def;
	out->consumed = len;
	while (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
		s += 2;
	if (s == len && len > 0)
		return s >= 4 ? SIP_FRAME_PING : SIP_FRAME_PONG;
	if (len == 0) {
		out->err_off = 0;
		return SIP_FRAME_E_TRUNCATED;
	}
	hlim = len - s < lim->max_hdr ? len - s : lim->max_hdr;
	/* One pass finds both the end of the header block and Content-Length
	 * (the common case); anything odd (no end, a bad Content-Length) is
	 * looked at again the long way, so its error is the same as ever. */
	r = find_clen(buf + s, hlim, lim->max_body, &found, &clen, &out->err_off, &hl);
	if (r == SIP_FRAME_MSG && hl)
		goto have_block;
	e = hlim >= 4 ? memmem(buf + s, hlim, "\r\n\r\n", 4) : NULL;
	if (!e) {
		if (len - s > lim->max_hdr) {
			out->err_off = s + lim->max_hdr;
			return SIP_FRAME_E_HDR_TOO_BIG;
		}
		out->err_off = len;
		return SIP_FRAME_E_TRUNCATED;
	}
	hl = (size_t)(e - (buf + s)) + 4;
	r = find_clen(buf + s, hl, lim->max_body, &found, &clen, &out->err_off, NULL);
	if (r != SIP_FRAME_MSG) {
		out->err_off += s;
		return r;
	}
have_block:
	avail = len - s - hl;
	if (!found) {
		if (avail > lim->max_body) {
			out->err_off = s + hl + lim->max_body;
			return SIP_FRAME_E_BODY_TOO_BIG;
		}
		clen = avail;
	} else if (clen > avail) {
		out->err_off = len;
		return SIP_FRAME_E_TRUNCATED;
	}
	out->off = s;
	out->hdr_len = hl;
	out->body_len = clen;
	out->len = hl + clen;
	return SIP_FRAME_MSG;
}

const char *sip_frame_strerror(enum sip_frame_result r)
{
	switch (r) {
	case SIP_FRAME_MSG: return "message";
	case SIP_FRAME_NEED_MORE: return "incomplete";
	case SIP_FRAME_PING: return "keep-alive ping";
	case SIP_FRAME_PONG: return "keep-alive pong";
	case SIP_FRAME_E_HDR_TOO_BIG: return "header block too large";
	case SIP_FRAME_E_BODY_TOO_BIG: return "Content-Length too large";
	case SIP_FRAME_E_NO_CLEN: return "Content-Length missing on a stream";
	case SIP_FRAME_E_BAD_CLEN: return "Content-Length not a number";
	case SIP_FRAME_E_DUP_CLEN: return "Content-Length repeated";
	case SIP_FRAME_E_TRUNCATED: return "message shorter than its Content-Length";
	case SIP_FRAME_E_ARG: return "bad argument";
	}
	return "unknown";
}
