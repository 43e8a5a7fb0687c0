#include "sip_body.h"

#include <stdbool.h>
#include <string.h>

#include "sip_hdr.h"

#define BOUNDARY_MAX 70 /* RFC 2046 5.1.1 */
#define DEPTH_MAX 3

/* "type/subtype" at the start of a media type, then nothing, ';' or LWS. */
static bool is_type(rp_str ct, const char *type)
{
	size_t n = strlen(type);

	if (!rp_str_has_prefix_case(ct, type))
		return false;
	return ct.n == n || ct.p[n] == ';' || ct.p[n] == ' ' || ct.p[n] == '\t' ||
	       ct.p[n] == '\r' || ct.p[n] == '\n';
}

static const char *find(const char *p, const char *end, const char *needle, size_t n)
{
	return p <= end ? memmem(p, (size_t)(end - p), needle, n) : NULL;
}

/* The value of a part header (name without the colon) or an empty slice;
 * a folded value (CRLF followed by SP/HTAB) continues. */
static bool part_header(rp_str hdrs, const char *name, rp_str *out)
{
	const char *p = hdrs.p, *end = hdrs.p + hdrs.n;
	size_t nl = strlen(name);

	while (p < end) {
		const char *eol = p;

		/* The line's end: a CRLF not followed by white space. */
		for (;;) {
			eol = find(eol, end, "\r\n", 2);
			if (!eol) {
				eol = end;
				break;
			}
			if (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
				eol += 2;
				continue;
			}
			break;
		}
		if ((size_t)(eol - p) > nl && rp_str_has_prefix_case(rp_str_make(p, nl + 1), name)) {
			const char *c = p + nl;

			while (c < eol && (*c == ' ' || *c == '\t'))
				c++;
			if (c < eol && *c == ':') {
				*out = rp_str_trim(rp_str_make(c + 1, (size_t)(eol - c - 1)));
				return true;
			}
		}
		p = eol + 2;
	}
	*out = rp_str_make(NULL, 0);
	return false;
}

static int find_sdp(rp_str ct, rp_str body, rp_str *sdp, unsigned depth, unsigned *nfound);

/* One body part: its headers (up to the empty line) and its content. */
static int part(rp_str p, rp_str *sdp, unsigned depth, unsigned *nfound)
{
	const char *end = p.p + p.n, *hend;
	rp_str hdrs, content, ct, cte;

	if (p.n >= 2 && p.p[0] == '\r' && p.p[1] == '\n') {
		/* No headers: text/plain (RFC 2046 5.1.1). */
		return SIP_BODY_NO_SDP;
	}
	hend = find(p.p, end, "\r\n\r\n", 4);
	if (!hend)
		return SIP_BODY_E_FRAMING;
	hdrs = rp_str_make(p.p, (size_t)(hend - p.p) + 2);
	content = rp_str_make(hend + 4, (size_t)(end - hend - 4));
	if (!part_header(hdrs, "Content-Type", &ct))
		return SIP_BODY_NO_SDP;
	if (is_type(ct, "application/sdp") &&
	    part_header(hdrs, "Content-Transfer-Encoding", &cte) &&
	    !rp_str_caseeq_cstr(cte, "7bit") && !rp_str_caseeq_cstr(cte, "8bit") &&
	    !rp_str_caseeq_cstr(cte, "binary"))
		return SIP_BODY_E_ENCODING;
	return find_sdp(ct, content, sdp, depth + 1, nfound);
}

/* At q (just after "--boundary"): the close delimiter ("--"), or the
 * transport padding and CRLF before a part. Returns the part's start,
 * 'end' for the close delimiter, or NULL when this is no delimiter. */
static const char *after_delim(const char *q, const char *end, bool *close)
{
	*close = false;
	if (end - q >= 2 && q[0] == '-' && q[1] == '-') {
		*close = true;
		return end;
	}
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (end - q >= 2 && q[0] == '\r' && q[1] == '\n')
		return q + 2;
	return NULL;
}

static int multipart(rp_str ct, rp_str body, rp_str *sdp, unsigned depth, unsigned *nfound)
{
	char delim[2 + 2 + BOUNDARY_MAX];
	rp_str params, b;
	ptrdiff_t semi = rp_str_chr(ct, ';');
	const char *p = body.p, *end = body.p + body.n, *q, *start = NULL;
	size_t dn;
	bool close = false;

	if (depth > DEPTH_MAX)
		return SIP_BODY_E_DEPTH;
	if (semi < 0)
		return SIP_BODY_E_BOUNDARY;
	params = rp_str_make(ct.p + semi, ct.n - (size_t)semi);
	if (!sip_hdr_param_find(params, "boundary", &b))
		return SIP_BODY_E_BOUNDARY;
	if (b.n >= 2 && b.p[0] == '"' && b.p[b.n - 1] == '"') {
		b.p++;
		b.n -= 2;
	}
	if (b.n == 0 || b.n > BOUNDARY_MAX || memchr(b.p, '\\', b.n))
		return SIP_BODY_E_BOUNDARY;
	/* "\r\n--boundary"; the first may also open the body (no preamble). */
	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, b.p, b.n);
	dn = 4 + b.n;
	if (body.n >= dn - 2 && !memcmp(p, delim + 2, dn - 2))
		start = after_delim(p + dn - 2, end, &close);
	while (!start) {
		q = find(p, end, delim, dn);
		if (!q)
			return SIP_BODY_E_FRAMING;
		start = after_delim(q + dn, end, &close);
		p = q + dn;
	}
	while (!close) {
		const char *s = start;
		int rc;

		start = NULL;
		for (p = s; !start;) {
			q = find(p, end, delim, dn);
			if (!q)
				return SIP_BODY_E_FRAMING; /* no closing delimiter */
			start = after_delim(q + dn, end, &close);
			p = q + dn;
		}
		rc = part(rp_str_make(s, (size_t)(q - s)), sdp, depth, nfound);
		if (rc < 0)
			return rc;
	}
	return *nfound ? SIP_BODY_SDP : SIP_BODY_NO_SDP;
}

static int find_sdp(rp_str ct, rp_str body, rp_str *sdp, unsigned depth, unsigned *nfound)
{
	ct = rp_str_trim(ct);
	if (is_type(ct, "application/sdp")) {
		if (++*nfound > 1)
			return SIP_BODY_E_MANY;
		*sdp = body;
		return SIP_BODY_SDP;
	}
	if (rp_str_has_prefix_case(ct, "multipart/"))
		return multipart(ct, body, sdp, depth, nfound);
	return SIP_BODY_NO_SDP;
}

int sip_body_find_sdp(rp_str ctype, rp_str body, rp_str *sdp)
{
	unsigned nfound = 0;
	rp_str found = rp_str_make(NULL, 0);
	int rc = find_sdp(ctype, body, &found, 0, &nfound);

	if (rc < 0)
		return rc;
	if (!nfound)
		return SIP_BODY_NO_SDP;
	*sdp = found;
	return SIP_BODY_SDP;
}

const char *sip_body_strerror(int rc)
{
	switch (rc) {
	case SIP_BODY_SDP: return "SDP";
	case SIP_BODY_NO_SDP: return "no SDP";
	case SIP_BODY_E_BOUNDARY: return "multipart body without a usable boundary";
	case SIP_BODY_E_FRAMING: return "multipart body without its delimiters";
	case SIP_BODY_E_MANY: return "more than one SDP part";
	case SIP_BODY_E_ENCODING: return "SDP part in a transfer encoding";
	case SIP_BODY_E_DEPTH: return "multipart nested too deep";
	default: return "?";
	}
}
