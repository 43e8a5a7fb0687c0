#include "sip_msg.h"

#include <string.h>

#define INITIAL_HDRS 32

static bool is_version_20(rp_str v)
{
	return v.n == 7 && SIP_LIT_CASEEQ(v, "sip/2.0");
}

static enum sip_err parse_request_line(struct sip_msg *m, rp_str line, size_t base,
				       struct sip_perr *err)
{
	const char *p = line.p, *end = line.p + line.n, *sp1, *sp2;
	struct sip_perr uerr;

	sp1 = memchr(p, ' ', line.n);
	if (!sp1 || sp1 == p)
		return sip_perr_set(err, SIP_E_BAD_REQUEST_LINE, base);
	m->method_str = rp_str_make(p, (size_t)(sp1 - p));
	if (!sip_is_token(m->method_str))
		return sip_perr_set(err, SIP_E_BAD_METHOD, base);
	m->method = sip_method_from_str(m->method_str);
	sp2 = memrchr(sp1, ' ', (size_t)(end - sp1));
	/* Exactly one SP on each side of the Request-URI, none inside, none
	 * trailing (RFC 4475 lwsruri, lwsstart, trws). */
	if (sp2 == sp1 || sp2 + 1 == end)
		return sip_perr_set(err, SIP_E_BAD_REQUEST_LINE, base + (size_t)(sp2 - p));
	m->ruri_str = rp_str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (memchr(m->ruri_str.p, ' ', m->ruri_str.n))
		return sip_perr_set(err, SIP_E_BAD_REQUEST_LINE,
				    base + (size_t)((const char *)memchr(m->ruri_str.p, ' ',
									m->ruri_str.n) - p));
	m->version = rp_str_make(sp2 + 1, (size_t)(end - sp2 - 1));
	if (!is_version_20(m->version)) {
		bool looks = m->version.n > 4 && rp_str_has_prefix_case(m->version, "SIP/");
		return sip_perr_set(err, looks ? SIP_E_BAD_VERSION : SIP_E_BAD_REQUEST_LINE,
				    base + (size_t)(sp2 + 1 - p));
	}
	if (sip_uri_parse(m->ruri_str, &m->ruri, &uerr) != SIP_OK)
		return sip_perr_set(err, SIP_E_BAD_URI, base + (size_t)(sp1 + 1 - p) + uerr.off);
	/* Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table;
	 * RFC 4475 escruri). */
	if (m->ruri.has_headers)
		return sip_perr_set(err, SIP_E_BAD_URI,
				    base + (size_t)(m->ruri.headers.p - 1 - p));
	return SIP_OK;
}

static enum sip_err parse_status_line(struct sip_msg *m, rp_str line, size_t base,
				      struct sip_perr *err)
{
	const char *p = line.p, *end = line.p + line.n, *sp;
	unsigned st = 0;

	sp = memchr(p, ' ', line.n);
	if (!sp)
		return sip_perr_set(err, SIP_E_BAD_STATUS_LINE, base + line.n);
	m->version = rp_str_make(p, (size_t)(sp - p));
	if (!is_version_20(m->version))
		return sip_perr_set(err, SIP_E_BAD_VERSION, base);
	p = sp + 1;
	for (int i = 0; i < 3; i++) {
		if (p + i >= end || p[i] < '0' || p[i] > '9')
			return sip_perr_set(err, SIP_E_BAD_STATUS_LINE, base + (size_t)(p - line.p));
		st = st * 10 + (unsigned)(p[i] - '0');
	}
	if (st < 100)
		return sip_perr_set(err, SIP_E_BAD_STATUS_LINE, base + (size_t)(p - line.p));
	p += 3;
	if (p < end && *p != ' ')
		return sip_perr_set(err, SIP_E_BAD_STATUS_LINE, base + (size_t)(p - line.p));
	if (p < end)
		p++;
	/* reason-phrase: anything printable, UTF-8, SP and HTAB. */
	for (const char *q = p; q < end; q++) {
		unsigned char c = (unsigned char)*q;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return sip_perr_set(err, SIP_E_BAD_STATUS_LINE,
					    base + (size_t)(q - line.p));
	}
	m->status = st;
	m->reason = rp_str_make(p, (size_t)(end - p));
	return SIP_OK;
}

/* Parses the eagerly-wanted headers; 'h' is the header just added. */
static enum sip_err eager(struct sip_msg *m, struct sip_hdr *h, size_t hoff,
			  bool lazy_uri, struct sip_perr *err)
{
	struct sip_perr e;
	enum sip_err rc = SIP_OK;
	size_t voff = hoff + (size_t)(h->value.p - h->raw.p);

	switch (h->id) {
	case SIP_HDR_VIA:
		if (!m->h_via) {
			rp_str it = h->value, first;

			m->h_via = h;
			/* Most Via lines hold one value: skip the list split. */
			if (!memchr(h->value.p, ',', h->value.n) ||
			    !sip_hdr_list_next(&it, &first))
				first = h->value;
			rc = sip_via_parse_into(first, &m->via, &e);
			if (rc != SIP_OK)
				return sip_perr_set(err, rc,
						    voff + (size_t)(first.p - h->value.p) + e.off);
		}
		return SIP_OK;
	case SIP_HDR_FROM:
	case SIP_HDR_TO: {
		bool from = h->id == SIP_HDR_FROM;

		if (from ? m->h_from != NULL : m->h_to != NULL)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		rc = lazy_uri ? sip_nameaddr_parse_into_lazy(h->value, from ? &m->from : &m->to, &e)
			      : sip_nameaddr_parse_into(h->value, from ? &m->from : &m->to, &e);
		if (rc == SIP_OK && (from ? m->from.star : m->to.star))
			rc = sip_perr_set(&e, SIP_E_BAD_NAME_ADDR, 0);
		if (rc != SIP_OK)
			return sip_perr_set(err, rc, voff + e.off);
		if (from)
			m->h_from = h;
		else
			m->h_to = h;
		return SIP_OK;
	}
	case SIP_HDR_CALL_ID:
		if (m->h_call_id)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		m->h_call_id = h;
		rc = sip_call_id_parse(h->value, &m->call_id, &e);
		break;
	case SIP_HDR_CSEQ:
		if (m->h_cseq)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		m->h_cseq = h;
		rc = sip_cseq_parse(h->value, &m->cseq, &e);
		break;
	case SIP_HDR_MAX_FORWARDS: {
		uint32_t v = 0;

		if (m->h_max_forwards)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		m->h_max_forwards = h;
		rc = sip_max_forwards_parse(h->value, &v, &e);
		m->max_forwards = (int)v;
		break;
	}
	case SIP_HDR_CONTENT_LENGTH:
		/* Two Content-Lengths make the framing ambiguous (RFC 4475
		 * mcl01): refuse even if they agree. */
		if (m->h_content_length)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		m->h_content_length = h;
		m->has_content_length = true;
		rc = sip_content_length_parse(h->value, &m->content_length, &e);
		break;
	case SIP_HDR_CONTENT_TYPE:
		if (m->h_content_type)
			return sip_perr_set(err, SIP_E_DUP_HEADER, hoff);
		m->h_content_type = h;
		break;
	case SIP_HDR_CONTACT:
		if (!m->h_contact)
			m->h_contact = h;
		break;
	case SIP_HDR_ROUTE:
		if (!m->h_route)
			m->h_route = h;
		break;
	case SIP_HDR_RECORD_ROUTE:
		if (!m->h_record_route)
			m->h_record_route = h;
		break;
	default:
		break;
	}
	if (rc != SIP_OK)
		return sip_perr_set(err, rc, voff + e.off);
	return SIP_OK;
}

static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum sip_err sip_msg_parse(const char *buf, size_t len, rp_arena *a,
			   const struct sip_parse_opts *opts, struct sip_msg **out,
			   struct sip_perr *err)
{
	size_t max_hdrs = SIP_PARSE_DEFAULT_MAX_HEADERS;
	size_t max_size = SIP_PARSE_DEFAULT_MAX_SIZE;
	bool stream = false, lazy_resp = false, lazy_req = false, lazy_uri;
	size_t skip = 0, lim, cap = INITIAL_HDRS, pos;
	struct sip_msg *m;
	const char *p, *nl;
	enum sip_err rc;
	struct sip_perr scratch;

	if (!err)
		err = &scratch;
	if (opts) {
		if (opts->max_headers)
			max_hdrs = opts->max_headers;
		if (opts->max_size)
			max_size = opts->max_size;
		stream = opts->stream;
		lazy_resp = opts->lazy_resp_addr_uri;
		lazy_req = opts->lazy_req_addr_uri;
	}
	if (!buf && len)
		return sip_perr_set(err, SIP_E_INVALID_ARG, 0);
	while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	if (!stream && len - skip > max_size)
		return sip_perr_set(err, SIP_E_TOO_LARGE, skip + max_size);
	p = buf + skip;
	lim = len - skip;
	if (lim > max_size)
		lim = max_size; /* stream: never look further than one message may be */
	if (lim == 0)
		return sip_perr_set(err, SIP_E_TRUNCATED, skip);

	m = rp_arena_alloc(a, sizeof(*m));
	if (!m)
		return sip_perr_set(err, SIP_E_NOMEM, skip);
	memset(m, 0, sizeof(*m));
	m->max_forwards = -1;
	m->buf = p;
	m->hdrs = rp_arena_alloc(a, cap * sizeof(*m->hdrs));
	if (!m->hdrs)
		return sip_perr_set(err, SIP_E_NOMEM, skip);

	/* Offsets below are relative to p; errors add 'skip'. */
	nl = memchr(p, '\n', lim);
	if (!nl)
		return sip_perr_set(err, lim == max_size && len - skip > lim ? SIP_E_TOO_LARGE
				    : SIP_E_TRUNCATED, skip + lim);
	{
		size_t ln = (size_t)(nl - p);
		const char *z;

		if (ln && p[ln - 1] == '\r')
			ln--;
		m->start_line = rp_str_make(p, ln);
		z = memchr(p, 0, ln);
		if (z)
			return sip_perr_set(err, SIP_E_NUL_BYTE, skip + (size_t)(z - p));
		if (ln > 4 && memcmp(p, "SIP/", 4) == 0) {
			m->is_request = false;
			rc = parse_status_line(m, m->start_line, skip, err);
		} else {
			m->is_request = true;
			rc = parse_request_line(m, m->start_line, skip, err);
		}
		if (rc != SIP_OK)
			return rc;
	}
	lazy_uri = m->is_request ? lazy_req : lazy_resp;
	pos = (size_t)(nl - p) + 1;
	const char *nul = pos < lim ? memchr(p + pos, 0, lim - pos) : NULL;

	for (;;) {
		const char *line, *colon, *e, *q, *ne;
		struct sip_hdr *h;

		if (pos >= lim)
			goto truncated;
		line = p + pos;
		if (*line == '\n' || (*line == '\r' && pos + 1 < lim && line[1] == '\n')) {
			m->hdr_end = pos;
			pos += *line == '\n' ? 1 : 2;
			break;
		}
		if (*line == '\r' && pos + 1 == lim)
			goto truncated;
		if (*line == ' ' || *line == '\t' || *line == '\r')
			return sip_perr_set(err, SIP_E_BAD_HEADER, skip + pos);
		nl = memchr(line, '\n', lim - pos);
		if (!nl)
			goto truncated;
		/* Folded lines: a line starting with SP/HTAB continues the field. */
		while ((size_t)(nl + 1 - p) < lim && (nl[1] == ' ' || nl[1] == '\t')) {
			nl = memchr(nl + 1, '\n', lim - (size_t)(nl + 1 - p));
			if (!nl)
				goto truncated;
		}
		e = nl;
		if (e > line && e[-1] == '\r')
			e--;
		/* A CR not followed by LF has no place in a field (RFC 3261 25.1):
		 * a next hop that ends lines at a bare CR would read what follows
		 * as a header of its own (header smuggling), so it is refused. */
		for (const char *cr = memchr(line, '\r', (size_t)(e - line)); cr;
		     cr = memchr(cr + 1, '\r', (size_t)(e - cr - 1)))
			if (cr[1] != '\n')
				return sip_perr_set(err, SIP_E_BAD_HEADER, skip + (size_t)(cr - p));
		/* A NUL is tolerated only as the second byte of a quoted-pair
		 * (RFC 3261 §25.1, RFC 4475 intmeth). One memchr finds the next
		 * NUL for the whole message. */
		while (nul && nul < e) {
			if (nul == line || nul[-1] != '\\')
				return sip_perr_set(err, SIP_E_NUL_BYTE, skip + (size_t)(nul - p));
			nul = memchr(nul + 1, 0, lim - (size_t)(nul + 1 - p));
		}
		/* name HCOLON: token *(SP / HTAB) ":" in one pass. */
		q = line;
		while (q < e && sip_cis(*q, SIP_C_TOKEN))
			q++;
		if (q == line)
			return sip_perr_set(err, SIP_E_BAD_HEADER, skip + pos);
		ne = q;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (q == e || *q != ':')
			return sip_perr_set(err, SIP_E_BAD_HEADER, skip + (size_t)(ne - p));
		colon = q;
		if (m->nhdrs == max_hdrs)
			return sip_perr_set(err, SIP_E_TOO_MANY_HEADERS, skip + pos);
		if (m->nhdrs == cap) {
			const struct sip_hdr **ptrs[] = {
				&m->h_via, &m->h_from, &m->h_to, &m->h_call_id, &m->h_cseq,
				&m->h_max_forwards, &m->h_content_length, &m->h_contact,
				&m->h_route, &m->h_record_route, &m->h_content_type,
			};
			long idx[sizeof(ptrs) / sizeof(ptrs[0])];

			/* The array may move: remember the first-of-kind pointers
			 * as indexes. */
			for (size_t k = 0; k < sizeof(ptrs) / sizeof(ptrs[0]); k++)
				idx[k] = *ptrs[k] ? *ptrs[k] - m->hdrs : -1;
			struct sip_hdr *nh = rp_arena_realloc(a, m->hdrs, cap * sizeof(*nh),
							      2 * cap * sizeof(*nh));
			if (!nh)
				return sip_perr_set(err, SIP_E_NOMEM, skip + pos);
			m->hdrs = nh;
			cap *= 2;
			for (size_t k = 0; k < sizeof(ptrs) / sizeof(ptrs[0]); k++)
				*ptrs[k] = idx[k] >= 0 ? &nh[idx[k]] : NULL;
		}
		h = &m->hdrs[m->nhdrs];
		h->name = rp_str_make(line, (size_t)(ne - line));
		{
			const char *vs = colon + 1, *ve = e;

			while (vs < ve && is_lws(*vs))
				vs++;
			while (ve > vs && is_lws(ve[-1]))
				ve--;
			h->value = rp_str_make(vs, (size_t)(ve - vs));
		}
		h->raw = rp_str_make(line, (size_t)(nl + 1 - line));
		h->id = sip_hdr_lookup(h->name);
		m->nhdrs++;
		rc = eager(m, h, pos, lazy_uri, err);
		if (rc != SIP_OK) {
			err->off += skip;
			return rc;
		}
		pos = (size_t)(nl + 1 - p);
	}
	m->body_off = pos;

	if (!m->h_via || !m->h_from || !m->h_to || !m->h_call_id || !m->h_cseq)
		return sip_perr_set(err, SIP_E_MISSING_HEADER, skip + m->hdr_end);
	if (m->is_request && !rp_str_eq(m->cseq.method_str, m->method_str))
		return sip_perr_set(err, SIP_E_CSEQ_MISMATCH,
				    skip + sip_msg_off(m, m->h_cseq->raw));

	size_t avail = len - skip - pos;
	if (m->has_content_length) {
		if (m->content_length > avail) {
			if (stream)
				return sip_perr_set(err, pos + m->content_length > max_size ?
						    SIP_E_TOO_LARGE : SIP_E_TRUNCATED, len);
			return sip_perr_set(err, SIP_E_CLEN_MISMATCH,
					    skip + sip_msg_off(m, m->h_content_length->value));
		}
		if (stream && pos + m->content_length > max_size)
			return sip_perr_set(err, SIP_E_TOO_LARGE, skip + max_size);
		m->body = rp_str_make(p + pos, m->content_length);
	} else {
		if (stream)
			return sip_perr_set(err, SIP_E_MISSING_CLEN, skip + m->hdr_end);
		m->body = rp_str_make(p + pos, avail);
	}
	m->len = pos + m->body.n;
	*out = m;
	return SIP_OK;

truncated:
	if (len - skip > lim)
		return sip_perr_set(err, SIP_E_TOO_LARGE, skip + lim);
	return sip_perr_set(err, SIP_E_TRUNCATED, len);
}

long sip_msg_find(const struct sip_msg *m, enum sip_hdr_id id, size_t from)
{
	for (size_t i = from; i < m->nhdrs; i++)
		if (m->hdrs[i].id == id)
			return (long)i;
	return -1;
}

long sip_msg_find_name(const struct sip_msg *m, rp_str name, size_t from)
{
	enum sip_hdr_id id = sip_hdr_lookup(name);

	if (id != SIP_HDR_OTHER)
		return sip_msg_find(m, id, from);
	for (size_t i = from; i < m->nhdrs; i++)
		if (m->hdrs[i].id == SIP_HDR_OTHER && rp_str_caseeq(m->hdrs[i].name, name))
			return (long)i;
	return -1;
}

void sip_hdr_iter_init(struct sip_hdr_iter *it, const struct sip_msg *m,
		       enum sip_hdr_id id)
{
	memset(it, 0, sizeof(*it));
	it->m = m;
	it->id = id;
	it->split = sip_hdr_is_list(id);
}

void sip_hdr_iter_init_name(struct sip_hdr_iter *it, const struct sip_msg *m,
			    rp_str name)
{
	sip_hdr_iter_init(it, m, sip_hdr_lookup(name));
	it->name = name;
}

bool sip_hdr_iter_next(struct sip_hdr_iter *it, rp_str *value)
{
	for (;;) {
		if (it->split && it->rest.n && sip_hdr_list_next(&it->rest, value))
			return true;
		long i = it->id == SIP_HDR_OTHER ?
			sip_msg_find_name(it->m, it->name, it->next) :
			sip_msg_find(it->m, it->id, it->next);
		if (i < 0)
			return false;
		it->cur = (size_t)i;
		it->next = (size_t)i + 1;
		if (!it->split) {
			*value = it->m->hdrs[i].value;
			return true;
		}
		it->rest = it->m->hdrs[i].value;
		if (it->rest.n == 0) {
			*value = it->rest; /* an empty list header yields one empty value */
			return true;
		}
	}
}

enum sip_err sip_hdr_iter_next_via(struct sip_hdr_iter *it, struct sip_via *v,
				   struct sip_perr *err)
{
	rp_str val;
	struct sip_perr e;
	enum sip_err rc;

	if (!sip_hdr_iter_next(it, &val))
		return SIP_E__COUNT;
	rc = sip_via_parse(val, v, &e);
	if (rc != SIP_OK)
		return sip_perr_set(err, rc, sip_msg_off(it->m, val) + e.off);
	return SIP_OK;
}

enum sip_err sip_hdr_iter_next_nameaddr(struct sip_hdr_iter *it,
					struct sip_nameaddr *na,
					struct sip_perr *err)
{
	rp_str val;
	struct sip_perr e;
	enum sip_err rc;

	if (!sip_hdr_iter_next(it, &val))
		return SIP_E__COUNT;
	rc = sip_nameaddr_parse(val, na, &e);
	if (rc != SIP_OK)
		return sip_perr_set(err, rc, sip_msg_off(it->m, val) + e.off);
	return SIP_OK;
}
