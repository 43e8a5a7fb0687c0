#include "sip_edit.h"

#include <stdio.h>
#include <string.h>

/* One change: bytes [start, end) of the original are replaced by 'text'
 * (start == end: pure insert; empty text: pure delete). */
struct edit_op {
	size_t start, end;
	rp_str text;
	size_t seq;
};

struct sip_edit {
	const struct sip_msg *m;
	rp_arena *a;
	struct edit_op *ops; /* kept sorted by (start, seq) */
	size_t nops, cap;
	size_t seq;
	bool body_set;
};

enum sip_err sip_edit_new(const struct sip_msg *m, rp_arena *a, struct sip_edit **out)
{
	struct sip_edit *e;

	if (!m || !a || !out)
		return SIP_E_INVALID_ARG;
	e = rp_arena_zalloc(a, sizeof(*e));
	if (!e)
		return SIP_E_NOMEM;
	e->m = m;
	e->a = a;
	*out = e;
	return SIP_OK;
}

/* Adds an op; ranges may not overlap (touching is fine), and an insert may
 * not land strictly inside a replaced range. */
static enum sip_err add_op(struct sip_edit *e, size_t start, size_t end, rp_str text,
			   bool copy)
{
	size_t i;

	if (start > end || end > e->m->len)
		return SIP_E_INVALID_ARG;
	for (i = 0; i < e->nops; i++) {
		const struct edit_op *o = &e->ops[i];

		if (start < end && o->start < o->end) {
			if (start < o->end && o->start < end)
				return SIP_E_INVALID_ARG;
		} else if (start == end) {
			if (start > o->start && start < o->end)
				return SIP_E_INVALID_ARG;
		} else if (o->start > start && o->start < end) {
			return SIP_E_INVALID_ARG;
		}
	}
	if (copy && text.n) {
		char *c = rp_arena_alloc(e->a, text.n);

		if (!c)
			return SIP_E_NOMEM;
		memcpy(c, text.p, text.n);
		text.p = c;
	}
	if (e->nops == e->cap) {
		size_t ncap = e->cap ? 2 * e->cap : 8;
		struct edit_op *n = rp_arena_realloc(e->a, e->ops, e->cap * sizeof(*n),
						     ncap * sizeof(*n));
		if (!n)
			return SIP_E_NOMEM;
		e->ops = n;
		e->cap = ncap;
	}
	/* Insertion sort by start; equal starts keep the order of the calls,
	 * except that a pure insert goes before a replace at the same place. */
	for (i = e->nops; i > 0; i--) {
		const struct edit_op *o = &e->ops[i - 1];

		if (o->start < start || (o->start == start && (o->start == o->end || start != end)))
			break;
		e->ops[i] = e->ops[i - 1];
	}
	e->ops[i] = (struct edit_op){ start, end, text, e->seq++ };
	e->nops++;
	return SIP_OK;
}

static size_t hdr_off(const struct sip_edit *e, size_t idx)
{
	return sip_msg_off(e->m, e->m->hdrs[idx].raw);
}

static size_t hdr_end(const struct sip_edit *e, size_t idx)
{
	return hdr_off(e, idx) + e->m->hdrs[idx].raw.n;
}

/* A value may go on over several lines only by folding (CRLF then SP or
 * HTAB, RFC 3261 7.3.1), as a received value may (a proxy copies the top
 * Via, a Route line it shortens). Any other CR or LF would end the header
 * and start one of the caller's choosing; a continuation line of white
 * space only is refused too (some parsers take it for the end of the
 * headers). */
static bool value_ok(rp_str v)
{
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] == '\n')
			return false;
		if (v.p[i] == '\r') {
			if (v.n - i < 3 || v.p[i + 1] != '\n' ||
			    (v.p[i + 2] != ' ' && v.p[i + 2] != '\t'))
				return false;
			for (i += 3; i < v.n && (v.p[i] == ' ' || v.p[i] == '\t'); i++)
				;
			if (i == v.n || v.p[i] == '\r' || v.p[i] == '\n')
				return false;
		}
	}
	return true;
}

enum sip_err sip_edit_add_header(struct sip_edit *e, enum sip_edit_where where,
				 size_t ref, rp_str name, rp_str value)
{
	const struct sip_msg *m = e->m;
	size_t at, n;
	char *t;

	switch (where) {
	case SIP_EDIT_TOP:
		at = m->nhdrs ? hdr_off(e, 0) : m->hdr_end;
		break;
	case SIP_EDIT_BOTTOM:
		at = m->hdr_end;
		break;
	case SIP_EDIT_BEFORE:
		if (ref >= m->nhdrs)
			return SIP_E_INVALID_ARG;
		at = hdr_off(e, ref);
		break;
	case SIP_EDIT_AFTER:
		if (ref >= m->nhdrs)
			return SIP_E_INVALID_ARG;
		at = hdr_end(e, ref);
		break;
	default:
		return SIP_E_INVALID_ARG;
	}
	if (!sip_is_token(name) || !value_ok(value))
		return SIP_E_INVALID_ARG;
	n = name.n + 2 + value.n + 2;
	t = rp_arena_alloc(e->a, n);
	if (!t)
		return SIP_E_NOMEM;
	memcpy(t, name.p, name.n);
	memcpy(t + name.n, ": ", 2);
	if (value.n)
		memcpy(t + name.n + 2, value.p, value.n);
	memcpy(t + n - 2, "\r\n", 2);
	return add_op(e, at, at, rp_str_make(t, n), false);
}

enum sip_err sip_edit_remove_header(struct sip_edit *e, size_t idx)
{
	if (idx >= e->m->nhdrs)
		return SIP_E_INVALID_ARG;
	return add_op(e, hdr_off(e, idx), hdr_end(e, idx), RP_STR_NULL, false);
}

enum sip_err sip_edit_remove_value(struct sip_edit *e, size_t idx, size_t nth)
{
	const struct sip_hdr *h;
	rp_str it, v, prev = RP_STR_NULL, target = RP_STR_NULL, next = RP_STR_NULL;
	size_t i = 0, count = 0;

	if (idx >= e->m->nhdrs)
		return SIP_E_INVALID_ARG;
	h = &e->m->hdrs[idx];
	it = h->value;
	while (sip_hdr_list_next(&it, &v)) {
		if (i + 1 == nth)
			prev = v;
		else if (i == nth)
			target = v;
		else if (i == nth + 1)
			next = v;
		i++;
		count++;
		if (next.p)
			break; /* what follows changes nothing below */
	}
	if (nth >= count)
		return SIP_E_INVALID_ARG;
	if (count == 1)
		return sip_edit_remove_header(e, idx);
	/* Cut from this value to the next one (first/middle), or from the end
	 * of the previous one (last), so the commas stay right. */
	size_t s, t;
	if (next.p) {
		s = sip_msg_off(e->m, target);
		t = sip_msg_off(e->m, next);
	} else {
		s = sip_msg_off(e->m, prev) + prev.n;
		t = sip_msg_off(e->m, target) + target.n;
	}
	return add_op(e, s, t, RP_STR_NULL, false);
}

enum sip_err sip_edit_pop_via(struct sip_edit *e)
{
	long i = sip_msg_find(e->m, SIP_HDR_VIA, 0);

	if (i < 0)
		return SIP_E_INVALID_ARG;
	return sip_edit_remove_value(e, (size_t)i, 0);
}

enum sip_err sip_edit_replace_value(struct sip_edit *e, size_t idx, rp_str value)
{
	const struct sip_hdr *h;

	if (idx >= e->m->nhdrs)
		return SIP_E_INVALID_ARG;
	if (!value_ok(value))
		return SIP_E_INVALID_ARG;
	h = &e->m->hdrs[idx];
	size_t s = sip_msg_off(e->m, h->value);
	return add_op(e, s, s + h->value.n, value, true);
}

enum sip_err sip_edit_set_ruri(struct sip_edit *e, rp_str uri)
{
	if (!e->m->is_request || uri.n == 0 || memchr(uri.p, ' ', uri.n) ||
	    memchr(uri.p, '\r', uri.n) || memchr(uri.p, '\n', uri.n))
		return SIP_E_INVALID_ARG;
	size_t s = sip_msg_off(e->m, e->m->ruri_str);
	return add_op(e, s, s + e->m->ruri_str.n, uri, true);
}

enum sip_err sip_edit_set_body(struct sip_edit *e, rp_str body)
{
	const struct sip_msg *m = e->m;
	char num[24];
	int n;
	enum sip_err rc;

	if (e->body_set)
		return SIP_E_INVALID_ARG;
	n = snprintf(num, sizeof(num), "%zu", body.n);
	if (m->h_content_length)
		rc = sip_edit_replace_value(e, (size_t)(m->h_content_length - m->hdrs),
					    rp_str_make(num, (size_t)n));
	else
		rc = sip_edit_add_header(e, SIP_EDIT_BOTTOM, 0, RP_STR_LIT("Content-Length"),
					 rp_str_make(num, (size_t)n));
	if (rc != SIP_OK)
		return rc;
	rc = add_op(e, m->body_off, m->len, body, true);
	if (rc == SIP_OK)
		e->body_set = true;
	return rc;
}

void sip_edit_mark(const struct sip_edit *e, struct sip_edit_mark *mk)
{
	mk->seq = e->seq;
	mk->body_set = e->body_set;
}

void sip_edit_undo(struct sip_edit *e, const struct sip_edit_mark *mk)
{
	size_t k = 0;

	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].seq < mk->seq)
			e->ops[k++] = e->ops[i];
	e->nops = k;
	e->seq = mk->seq;
	e->body_set = mk->body_set;
}

size_t sip_edit_len(const struct sip_edit *e)
{
	size_t n = e->m->len;

	for (size_t i = 0; i < e->nops; i++)
		n = n - (e->ops[i].end - e->ops[i].start) + e->ops[i].text.n;
	return n;
}

enum sip_err sip_edit_write(const struct sip_edit *e, char *out, size_t outsz,
			    size_t *outlen)
{
	const char *src = e->m->buf;
	size_t cur = 0, o = 0, need = sip_edit_len(e);

	if (need > outsz)
		return SIP_E_NOSPACE;
	for (size_t i = 0; i < e->nops; i++) {
		const struct edit_op *op = &e->ops[i];

		memcpy(out + o, src + cur, op->start - cur);
		o += op->start - cur;
		if (op->text.n)
			memcpy(out + o, op->text.p, op->text.n);
		o += op->text.n;
		cur = op->end;
	}
	memcpy(out + o, src + cur, e->m->len - cur);
	o += e->m->len - cur;
	*outlen = o;
	return SIP_OK;
}

enum sip_err sip_edit_write_arena(const struct sip_edit *e, rp_arena *a, rp_str *out)
{
	size_t n = sip_edit_len(e), got;
	char *p = rp_arena_alloc(a, n ? n : 1);
	enum sip_err rc;

	if (!p)
		return SIP_E_NOMEM;
	rc = sip_edit_write(e, p, n, &got);
	if (rc == SIP_OK)
		*out = rp_str_make(p, got);
	return rc;
}
