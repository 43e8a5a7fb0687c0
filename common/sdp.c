#include "sdp.h"

#include <errno.h>
#include <string.h>

#define SDP_DEFAULT_MAX_LINES 1024

struct sdp {
	rp_arena *arena;
	struct sdp_line *first;
	struct sdp_line *session_last; /* last line before the first m= */
	struct sdp_origin origin;
	struct sdp_conn conn;
	struct sdp_media *media, *media_tail;
	unsigned n_media;
	bool crlf;
	rp_str trailer; /* blank lines at the very end, kept verbatim */
};

const char *sdp_strerror(int rc)
{
	switch (rc) {
	case SDP_OK: return "ok";
	case SDP_E_EMPTY: return "empty description";
	case SDP_E_VERSION: return "first line is not v=0";
	case SDP_E_LINE: return "line is not <type>=<value>";
	case SDP_E_CHAR: return "NUL or stray CR";
	case SDP_E_ORDER: return "line out of place";
	case SDP_E_ORIGIN: return "malformed o= line";
	case SDP_E_CONN: return "malformed c= line";
	case SDP_E_MEDIA: return "malformed m= line";
	case SDP_E_PORT: return "bad m= port";
	case SDP_E_PROTO: return "bad m= protocol";
	case SDP_E_TIME: return "malformed t= line";
	case SDP_E_BANDWIDTH: return "malformed b= line";
	case SDP_E_ATTR: return "malformed a= line";
	case SDP_E_TOO_MANY_LINES: return "too many lines";
	case SDP_E_NOMEM: return "out of memory";
	case SDP_E_SPACE: return "output buffer too small";
	case SDP_E_INVAL: return "invalid argument";
	case SDP_E_NOT_FOUND: return "line not found";
	}
	return "unknown error";
}

/* ---- lexical helpers ---------------------------------------------------- */

/* RFC 8866 token-char: visible ASCII except "()/:;<=>?@[\]," and '"'. */
static const bool not_token[128] = {
	['"'] = true, ['('] = true, [')'] = true, [','] = true, ['/'] = true,
	[':'] = true, [';'] = true, ['<'] = true, ['='] = true, ['>'] = true,
	['?'] = true, ['@'] = true, ['['] = true, ['\\'] = true, [']'] = true,
};

static bool is_token_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && !not_token[c];
}

/* Decimal text of v into buf (>= 20 bytes); returns its length. */
static size_t u64_to_dec(uint64_t v, char *buf)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static bool is_token(rp_str s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!is_token_char((unsigned char)s.p[i]))
			return false;
	return s.n > 0;
}

/* proto = token *("/" token) */
static bool is_proto(rp_str s)
{
	size_t start = 0;

	for (size_t i = 0; i <= s.n; i++) {
		if (i == s.n || s.p[i] == '/') {
			if (i == start)
				return false;
			start = i + 1;
		} else if (!is_token_char((unsigned char)s.p[i])) {
			return false;
		}
	}
	return s.n > 0;
}

static bool all_digits(rp_str s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return s.n > 0;
}

/* Splits the next SP-separated field off *s (runs of SP tolerated). */
static rp_str next_field(rp_str *s)
{
	size_t i = 0, j;

	while (i < s->n && s->p[i] == ' ')
		i++;
	j = i;
	while (j < s->n && s->p[j] != ' ')
		j++;
	rp_str f = rp_str_make(s->p + i, j - i);
	*s = rp_str_make(s->p + j, s->n - j);
	return f;
}

static rp_str skip_spaces(rp_str s)
{
	while (s.n && s.p[0] == ' ') {
		s.p++;
		s.n--;
	}
	return s;
}

/* ---- per-type line parsers (shared by sdp_parse and the edits) ----------- */

/* Each returns 0 or an error with *bad pointing at the offending byte. */

static int parse_conn(const struct sdp_line *l, struct sdp_conn *c,
	const char **bad)
{
	rp_str v = l->value;
	rp_str nt = next_field(&v), at = next_field(&v), addr = next_field(&v);
	ptrdiff_t slash;

	if (!is_token(nt)) {
		*bad = nt.n ? nt.p : l->value.p;
		return SDP_E_CONN;
	}
	if (!is_token(at)) {
		*bad = at.p;
		return SDP_E_CONN;
	}
	if (addr.n == 0 || skip_spaces(v).n != 0) {
		*bad = addr.n ? v.p : at.p + at.n;
		return SDP_E_CONN;
	}
	slash = rp_str_chr(addr, '/');
	if (slash == 0) {
		*bad = addr.p;
		return SDP_E_CONN;
	}
	c->line = (struct sdp_line *)l;
	c->nettype = nt;
	c->addrtype = at;
	if (slash > 0) {
		c->address = rp_str_make(addr.p, (size_t)slash);
		c->suffix = rp_str_make(addr.p + slash + 1,
			addr.n - (size_t)slash - 1);
	} else {
		c->address = addr;
		c->suffix = RP_STR_NULL;
	}
	return 0;
}

static int parse_origin(const struct sdp_line *l, struct sdp_origin *o,
	const char **bad)
{
	rp_str v = l->value;
	rp_str f[6];

	for (int i = 0; i < 6; i++) {
		f[i] = next_field(&v);
		if (f[i].n == 0) {
			*bad = f[i].p ? f[i].p : l->raw.p;
			return SDP_E_ORIGIN;
		}
	}
	if (skip_spaces(v).n != 0) {
		*bad = v.p;
		return SDP_E_ORIGIN;
	}
	if (!all_digits(f[2])) {
		*bad = f[2].p;
		return SDP_E_ORIGIN;
	}
	for (int i = 3; i < 5; i++) {
		if (!is_token(f[i])) {
			*bad = f[i].p;
			return SDP_E_ORIGIN;
		}
	}
	o->line = (struct sdp_line *)l;
	o->username = f[0];
	o->sess_id = f[1];
	o->sess_version = f[2];
	o->nettype = f[3];
	o->addrtype = f[4];
	o->address = f[5];
	return 0;
}

static int parse_mline(const struct sdp_line *l, struct sdp_media *m,
	const char **bad)
{
	rp_str v = l->value;
	rp_str media = next_field(&v), port = next_field(&v);
	rp_str proto = next_field(&v);
	ptrdiff_t slash;
	uint64_t n;

	if (!is_token(media)) {
		*bad = media.n ? media.p : l->value.p;
		return SDP_E_MEDIA;
	}
	if (port.n == 0) {
		*bad = port.p;
		return SDP_E_MEDIA;
	}
	slash = rp_str_chr(port, '/');
	rp_str pnum = slash < 0 ? port : rp_str_make(port.p, (size_t)slash);
	if (!all_digits(pnum) || pnum.n > 5 ||
	    rp_str_to_u64(pnum, 65535, &n) < 0) {
		*bad = port.p;
		return SDP_E_PORT;
	}
	m->port = (uint16_t)n;
	m->has_port_count = false;
	m->port_count = 0;
	if (slash >= 0) {
		rp_str cnt = rp_str_make(port.p + slash + 1,
			port.n - (size_t)slash - 1);

		if (!all_digits(cnt) || cnt.n > 10 ||
		    rp_str_to_u64(cnt, UINT32_MAX, &n) < 0 || n == 0) {
			*bad = cnt.p;
			return SDP_E_PORT;
		}
		m->has_port_count = true;
		m->port_count = (uint32_t)n;
	}
	if (proto.n == 0) {
		*bad = proto.p;
		return SDP_E_MEDIA;
	}
	if (!is_proto(proto)) {
		*bad = proto.p;
		return SDP_E_PROTO;
	}
	m->mline = (struct sdp_line *)l;
	m->media = media;
	m->proto = proto;
	m->fmts = skip_spaces(v);
	return 0;
}

static int parse_time(const struct sdp_line *l, const char **bad)
{
	rp_str v = l->value;
	rp_str a = next_field(&v), b = next_field(&v);

	if (!all_digits(a) || a.n > 20) {
		*bad = a.n ? a.p : l->value.p;
		return SDP_E_TIME;
	}
	if (!all_digits(b) || b.n > 20 || skip_spaces(v).n != 0) {
		*bad = b.n ? b.p : a.p + a.n;
		return SDP_E_TIME;
	}
	return 0;
}

static int parse_bandwidth(const struct sdp_line *l, const char **bad)
{
	ptrdiff_t colon = rp_str_chr(l->value, ':');

	if (colon <= 0 ||
	    !is_token(rp_str_make(l->value.p, (size_t)colon)) ||
	    !all_digits(rp_str_make(l->value.p + colon + 1,
		    l->value.n - (size_t)colon - 1))) {
		*bad = l->value.p;
		return SDP_E_BANDWIDTH;
	}
	return 0;
}

/* Fills name/value of an a= line. */
static int parse_attr(struct sdp_line *l, const char **bad)
{
	ptrdiff_t colon = rp_str_chr(l->value, ':');

	if (colon < 0) {
		/* "a=sendrecv " is seen in the wild: the name ends at the
		 * trailing blanks (the raw line keeps them). */
		l->name = l->value;
		while (l->name.n && (l->name.p[l->name.n - 1] == ' ' ||
			l->name.p[l->name.n - 1] == '\t'))
			l->name.n--;
		l->has_value = false;
		l->value = RP_STR_NULL;
	} else {
		l->name = rp_str_make(l->value.p, (size_t)colon);
		l->has_value = true;
		l->value = rp_str_make(l->value.p + colon + 1,
			l->value.n - (size_t)colon - 1);
	}
	if (!is_token(l->name)) {
		*bad = l->raw.p + 2;
		return SDP_E_ATTR;
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static int fail(size_t *err_off, size_t off, int rc)
{
	if (err_off)
		*err_off = off;
	return rc;
}

int sdp_parse(const char *buf, size_t len, rp_arena *a,
	const struct sdp_parse_opts *opts, struct sdp **out, size_t *err_off)
{
	size_t max_lines = opts && opts->max_lines ? opts->max_lines :
		SDP_DEFAULT_MAX_LINES;
	struct sdp *s;
	struct sdp_line **tail, *prev = NULL;
	struct sdp_media *cur = NULL;
	size_t pos = 0, nlines = 0;
	bool seen_o = false, seen_s = false;

	if (!buf || len == 0)
		return fail(err_off, 0, SDP_E_EMPTY);
	s = rp_arena_zalloc(a, sizeof(*s));
	if (!s)
		return fail(err_off, 0, SDP_E_NOMEM);
	s->arena = a;
	tail = &s->first;

	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t next = nl ? end + 1 : len;
		uint8_t eol = nl ? 1 : 0;
		const char *bad = NULL;
		struct sdp_line *l;
		int rc = 0;

		if (nl && end > pos && buf[end - 1] == '\r') {
			end--;
			eol = 2;
		}
		if (end == pos) {
			/* Blank lines are allowed only at the very end. */
			if (nlines == 0)
				return fail(err_off, pos, SDP_E_VERSION);
			for (size_t i = pos; i < len; i++) {
				if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
					continue;
				if (buf[i] == '\r')
					return fail(err_off, i, SDP_E_CHAR);
				if (buf[i] != '\n')
					return fail(err_off, pos, SDP_E_LINE);
			}
			s->trailer = rp_str_make(start, len - pos);
			break;
		}
		{
			const char *z = memchr(start, '\0', end - pos);
			const char *cr = memchr(start, '\r', end - pos);

			if (z || cr) {
				const char *f = !z ? cr : !cr ? z : z < cr ? z : cr;

				return fail(err_off, (size_t)(f - buf), SDP_E_CHAR);
			}
		}
		if (++nlines > max_lines)
			return fail(err_off, pos, SDP_E_TOO_MANY_LINES);
		if (end - pos < 2 || buf[pos + 1] != '=' ||
		    !((buf[pos] >= 'a' && buf[pos] <= 'z') ||
			(buf[pos] >= 'A' && buf[pos] <= 'Z')))
			return fail(err_off, pos, nlines == 1 ? SDP_E_VERSION :
				SDP_E_LINE);

		l = rp_arena_alloc(a, sizeof(*l));
		if (!l)
			return fail(err_off, pos, SDP_E_NOMEM);
		l->next = NULL;
		l->raw = rp_str_make(start, end - pos);
		l->name = RP_STR_NULL;
		l->value = rp_str_make(start + 2, end - pos - 2);
		l->type = start[0];
		l->eol = eol;
		l->has_value = false;
		l->removed = false;
		l->built = false;

		if (nlines == 1) {
			if (!rp_str_eq_cstr(l->raw, "v=0"))
				return fail(err_off, pos, SDP_E_VERSION);
			s->crlf = eol == 2;
		}
		switch (l->type) {
		case 'v':
			if (nlines != 1)
				return fail(err_off, pos, SDP_E_ORDER);
			break;
		case 'o':
			if (cur || seen_o)
				return fail(err_off, pos, SDP_E_ORDER);
			seen_o = true;
			rc = parse_origin(l, &s->origin, &bad);
			break;
		case 's':
			if (cur || seen_s)
				return fail(err_off, pos, SDP_E_ORDER);
			seen_s = true;
			break;
		case 'c': {
			/* The first c= of a section is the one edits act on; later
			 * ones (layered multicast) are checked and kept. */
			struct sdp_conn *c = cur ? &cur->conn : &s->conn, tmp;

			rc = parse_conn(l, c->line ? &tmp : c, &bad);
			break;
		}
		case 't':
			rc = parse_time(l, &bad);
			break;
		case 'b':
			rc = parse_bandwidth(l, &bad);
			break;
		case 'a':
			rc = parse_attr(l, &bad);
			break;
		case 'm': {
			struct sdp_media *m = rp_arena_zalloc(a, sizeof(*m));

			if (!m)
				return fail(err_off, pos, SDP_E_NOMEM);
			rc = parse_mline(l, m, &bad);
			if (rc < 0)
				break;
			if (!cur)
				s->session_last = prev;
			else
				cur->last = prev;
			m->index = s->n_media++;
			m->last = l;
			if (s->media_tail)
				s->media_tail->next = m;
			else
				s->media = m;
			s->media_tail = m;
			cur = m;
			break;
		}
		default:
			break; /* kept verbatim */
		}
		if (rc < 0)
			return fail(err_off, bad ? (size_t)(bad - buf) : pos, rc);
		*tail = l;
		tail = &l->next;
		prev = l;
		pos = next;
	}
	if (cur)
		cur->last = prev;
	else
		s->session_last = prev;
	*out = s;
	return SDP_OK;
}

/* ---- accessors ---------------------------------------------------------- */

struct sdp_media *sdp_media_first(const struct sdp *s)
{
	return s->media;
}

unsigned sdp_media_count(const struct sdp *s)
{
	return s->n_media;
}

const struct sdp_origin *sdp_origin(const struct sdp *s)
{
	return &s->origin;
}

const struct sdp_conn *sdp_session_conn(const struct sdp *s)
{
	return &s->conn;
}

const struct sdp_conn *sdp_media_conn(const struct sdp *s,
	const struct sdp_media *m)
{
	return m->conn.line ? &m->conn : &s->conn;
}

bool sdp_uses_crlf(const struct sdp *s)
{
	return s->crlf;
}

struct sdp_line *sdp_first_line(const struct sdp *s)
{
	return s->first;
}

/* First and last line of a section's body (after the m= line). */
static struct sdp_line *section_begin(const struct sdp *s,
	const struct sdp_media *m)
{
	return m ? m->mline->next : s->first;
}

static const struct sdp_line *section_last(const struct sdp *s,
	const struct sdp_media *m)
{
	return m ? m->last : s->session_last;
}

struct sdp_line *sdp_attr_next(const struct sdp *s, const struct sdp_media *m,
	const struct sdp_line *prev)
{
	const struct sdp_line *last = section_last(s, m);
	struct sdp_line *l;

	if (prev == last || (m && last == m->mline))
		return NULL;
	l = prev ? prev->next : section_begin(s, m);
	for (; l; l = l->next) {
		if (l->type == 'a' && !l->removed)
			return l;
		if (l == last)
			break;
	}
	return NULL;
}

struct sdp_line *sdp_attr_find(const struct sdp *s, const struct sdp_media *m,
	rp_str name, const struct sdp_line *prev)
{
	struct sdp_line *l = sdp_attr_next(s, m, prev);

	while (l && !rp_str_eq(l->name, name))
		l = sdp_attr_next(s, m, l);
	return l;
}

/* ---- editing ------------------------------------------------------------ */

/* Builds "<type>=" + parts into the arena as the new raw text of l. */
static int line_build(struct sdp *s, struct sdp_line *l, char type,
	const rp_str *parts, size_t nparts)
{
	size_t n = 2;
	char *p, *q;

	for (size_t i = 0; i < nparts; i++)
		n += parts[i].n;
	p = rp_arena_alloc(s->arena, n);
	if (!p)
		return SDP_E_NOMEM;
	q = p;
	*q++ = type;
	*q++ = '=';
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].n)
			memcpy(q, parts[i].p, parts[i].n);
		q += parts[i].n;
	}
	l->built = true;
	l->type = type;
	l->raw = rp_str_make(p, n);
	l->value = rp_str_make(p + 2, n - 2);
	l->name = RP_STR_NULL;
	l->has_value = false;
	return 0;
}

static struct sdp_line *line_new(struct sdp *s)
{
	struct sdp_line *l = rp_arena_zalloc(s->arena, sizeof(*l));

	if (l)
		l->eol = s->crlf ? 2 : 1;
	return l;
}

static void section_insert_after(struct sdp *s, struct sdp_media *m,
	struct sdp_line *after, struct sdp_line *l)
{
	l->next = after->next;
	after->next = l;
	if (m) {
		if (m->last == after)
			m->last = l;
	} else if (s->session_last == after) {
		s->session_last = l;
	}
}

static bool is_clean_value(rp_str v)
{
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == '\0')
			return false;
	return true;
}

static rp_str addrtype_str(enum sdp_addrtype type, rp_str addr)
{
	if (type == SDP_ADDR_AUTO)
		type = rp_str_chr(addr, ':') >= 0 ? SDP_ADDR_IP6 : SDP_ADDR_IP4;
	return type == SDP_ADDR_IP6 ? RP_STR_LIT("IP6") : RP_STR_LIT("IP4");
}

static bool is_address(rp_str addr)
{
	if (addr.n == 0 || rp_str_chr(addr, '/') >= 0)
		return false;
	for (size_t i = 0; i < addr.n; i++) {
		unsigned char c = (unsigned char)addr.p[i];

		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

/* Where a new c= goes: after the m= line and its i= lines, or in the
 * session after v o s i u e p (RFC 8866 §5 order). */
static struct sdp_line *conn_insert_point(struct sdp *s, struct sdp_media *m)
{
	struct sdp_line *at, *l;

	if (m) {
		at = m->mline;
		while (at != m->last && at->next->type == 'i')
			at = at->next;
		return at;
	}
	at = s->first;
	for (l = s->first; l; l = l->next) {
		if (strchr("vosiuep", l->type))
			at = l;
		if (l == s->session_last)
			break;
	}
	return at;
}

int sdp_set_conn(struct sdp *s, struct sdp_media *m, enum sdp_addrtype type,
	rp_str addr)
{
	struct sdp_conn *c = m ? &m->conn : &s->conn;
	struct sdp_line *l = c->line;
	const char *bad;
	bool fresh = false;
	int rc;

	if (!is_address(addr) || type > SDP_ADDR_IP6)
		return SDP_E_INVAL;
	if (!l) {
		l = line_new(s);
		if (!l)
			return SDP_E_NOMEM;
		fresh = true;
	}
	rp_str parts[] = {
		fresh ? RP_STR_LIT("IN") : c->nettype, RP_STR_LIT(" "),
		addrtype_str(type, addr), RP_STR_LIT(" "), addr,
	};
	rc = line_build(s, l, 'c', parts, 5);
	if (rc < 0)
		return rc;
	if (fresh)
		section_insert_after(s, m, conn_insert_point(s, m), l);
	return parse_conn(l, c, &bad);
}

static int mline_rebuild(struct sdp *s, struct sdp_media *m, uint16_t port,
	rp_str proto)
{
	char pbuf[24];
	size_t pn;
	const char *bad;
	struct sdp_line *l = m->mline;
	rp_str media = m->media, fmts = m->fmts;
	int rc;

	pn = u64_to_dec(port, pbuf);
	if (m->has_port_count) {
		pbuf[pn++] = '/';
		pn += u64_to_dec(m->port_count, pbuf + pn);
	}
	rp_str parts[] = {
		media, RP_STR_LIT(" "), rp_str_make(pbuf, pn),
		RP_STR_LIT(" "), proto, fmts.n ? RP_STR_LIT(" ") : RP_STR_NULL,
		fmts,
	};
	rc = line_build(s, l, 'm', parts, 7);
	if (rc < 0)
		return rc;
	return parse_mline(l, m, &bad);
}

int sdp_media_set_port(struct sdp *s, struct sdp_media *m, uint16_t port)
{
	return mline_rebuild(s, m, port, m->proto);
}

int sdp_media_set_proto(struct sdp *s, struct sdp_media *m, rp_str proto)
{
	if (!is_proto(proto))
		return SDP_E_INVAL;
	return mline_rebuild(s, m, m->port, proto);
}

int sdp_remove_line(struct sdp *s, struct sdp_line *line)
{
	if (!line || line->type == 'v' || line->type == 'm')
		return SDP_E_INVAL;
	if (line->removed)
		return SDP_E_NOT_FOUND;
	line->removed = true;
	if (line == s->origin.line)
		memset(&s->origin, 0, sizeof(s->origin));
	if (line == s->conn.line)
		memset(&s->conn, 0, sizeof(s->conn));
	for (struct sdp_media *m = s->media; m; m = m->next)
		if (line == m->conn.line)
			memset(&m->conn, 0, sizeof(m->conn));
	return 0;
}

int sdp_remove_attrs(struct sdp *s, struct sdp_media *m, rp_str name)
{
	struct sdp_line *l = sdp_attr_find(s, m, name, NULL);
	int n = 0;

	while (l) {
		l->removed = true;
		n++;
		l = sdp_attr_find(s, m, name, l);
	}
	return n;
}

static bool in_section(const struct sdp *s, const struct sdp_media *m,
	const struct sdp_line *x)
{
	const struct sdp_line *last = section_last(s, m);

	if (m && last == m->mline)
		return false;
	for (const struct sdp_line *l = section_begin(s, m); l; l = l->next) {
		if (l == x)
			return true;
		if (l == last)
			break;
	}
	return false;
}

int sdp_insert_attr(struct sdp *s, struct sdp_media *m,
	struct sdp_line *after, rp_str name, const rp_str *value,
	struct sdp_line **out)
{
	struct sdp_line *l;
	const char *bad;
	int rc;

	if (!is_token(name) || (value && !is_clean_value(*value)))
		return SDP_E_INVAL;
	if (after && (after->type != 'a' || !in_section(s, m, after)))
		return SDP_E_INVAL;
	if (!after)
		after = (struct sdp_line *)section_last(s, m);
	l = line_new(s);
	if (!l)
		return SDP_E_NOMEM;
	rp_str parts[] = { name, value ? RP_STR_LIT(":") : RP_STR_NULL,
		value ? *value : RP_STR_NULL };
	rc = line_build(s, l, 'a', parts, 3);
	if (rc < 0)
		return rc;
	rc = parse_attr(l, &bad);
	if (rc < 0)
		return SDP_E_INVAL;
	section_insert_after(s, m, after, l);
	if (out)
		*out = l;
	return 0;
}

static int oline_rebuild(struct sdp *s, rp_str version, rp_str addrtype,
	rp_str addr)
{
	struct sdp_origin *o = &s->origin;
	const char *bad;
	rp_str sp = RP_STR_LIT(" ");
	int rc;

	rp_str parts[] = { o->username, sp, o->sess_id, sp, version, sp,
		o->nettype, sp, addrtype, sp, addr };
	rc = line_build(s, o->line, 'o', parts, 11);
	if (rc < 0)
		return rc;
	return parse_origin(o->line, o, &bad);
}

int sdp_set_origin_version(struct sdp *s, uint64_t v)
{
	char buf[24];

	if (!s->origin.line)
		return SDP_E_NOT_FOUND;
	return oline_rebuild(s, rp_str_make(buf, u64_to_dec(v, buf)),
		s->origin.addrtype, s->origin.address);
}

int sdp_bump_origin_version(struct sdp *s)
{
	rp_str v = s->origin.sess_version;
	char *p;
	size_t i;

	if (!s->origin.line)
		return SDP_E_NOT_FOUND;
	/* Decimal increment on the text: sess-version may exceed 64 bits. */
	p = rp_arena_alloc(s->arena, v.n + 1);
	if (!p)
		return SDP_E_NOMEM;
	p[0] = '0';
	memcpy(p + 1, v.p, v.n);
	for (i = v.n; ; i--) {
		if (p[i] != '9') {
			p[i]++;
			break;
		}
		p[i] = '0';
	}
	rp_str nv = p[0] == '0' ? rp_str_make(p + 1, v.n) :
		rp_str_make(p, v.n + 1);
	return oline_rebuild(s, nv, s->origin.addrtype, s->origin.address);
}

int sdp_set_origin_addr(struct sdp *s, enum sdp_addrtype type, rp_str addr)
{
	if (!s->origin.line)
		return SDP_E_NOT_FOUND;
	if (!is_address(addr) || type > SDP_ADDR_IP6)
		return SDP_E_INVAL;
	return oline_rebuild(s, s->origin.sess_version, addrtype_str(type, addr),
		addr);
}

void sdp_wipe(struct sdp *s)
{
	for (struct sdp_line *l = s->first; l; l = l->next) {
		if (l->built) {
			explicit_bzero((char *)l->raw.p, l->raw.n);
			l->raw.n = 0;
			l->value.n = 0;
			l->name.n = 0;
		}
	}
}

/* ---- serialising -------------------------------------------------------- */

static size_t eol_len(const struct sdp *s, const struct sdp_line *l,
	bool more)
{
	if (l->eol)
		return l->eol;
	return more ? (s->crlf ? 2 : 1) : 0;
}

static const struct sdp_line *next_live(const struct sdp_line *l)
{
	for (l = l->next; l && l->removed; l = l->next)
		;
	return l;
}

size_t sdp_serialized_len(const struct sdp *s)
{
	size_t n = 0;

	for (const struct sdp_line *l = s->first; l; l = l->next) {
		if (l->removed)
			continue;
		n += l->raw.n + eol_len(s, l, next_live(l) != NULL);
	}
	return n + s->trailer.n;
}

int sdp_serialize(const struct sdp *s, char *buf, size_t cap, size_t *outlen)
{
	size_t o = 0;

	for (const struct sdp_line *l = s->first; l; l = l->next) {
		size_t e;

		if (l->removed)
			continue;
		e = eol_len(s, l, next_live(l) != NULL);
		if (cap - o < l->raw.n + e)
			return SDP_E_SPACE;
		memcpy(buf + o, l->raw.p, l->raw.n);
		o += l->raw.n;
		if (e == 2)
			buf[o++] = '\r';
		if (e)
			buf[o++] = '\n';
	}
	if (cap - o < s->trailer.n)
		return SDP_E_SPACE;
	if (s->trailer.n)
		memcpy(buf + o, s->trailer.p, s->trailer.n);
	*outlen = o + s->trailer.n;
	return SDP_OK;
}
