#include "benc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEF_MAX_DEPTH 32
#define DEF_MAX_NODES 65536
#define DEF_MAX_LEN (1u << 20)
/* Offsets are stored in 32 bits. */
#define HARD_MAX_LEN UINT32_MAX
/* benc_encode() recurses; a decoded tree is far shallower than this. */
#define ENCODE_MAX_DEPTH 4096

static const char *const err_names[] = {
	[BENC_OK] = "ok",
	[BENC_E_EMPTY] = "empty input",
	[BENC_E_TRUNCATED] = "truncated input",
	[BENC_E_SYNTAX] = "unexpected byte",
	[BENC_E_TRAILING] = "trailing bytes after the message",
	[BENC_E_INT_EMPTY] = "integer without digits",
	[BENC_E_INT_LEADING_ZERO] = "integer with a leading zero",
	[BENC_E_INT_NEG_ZERO] = "negative zero",
	[BENC_E_INT_RANGE] = "integer out of 64-bit range",
	[BENC_E_LEN_LEADING_ZERO] = "string length with a leading zero",
	[BENC_E_LEN_RANGE] = "string length too large",
	[BENC_E_KEY_TYPE] = "dictionary key is not a string",
	[BENC_E_KEY_DUP] = "duplicate dictionary key",
	[BENC_E_KEY_ORDER] = "dictionary keys not sorted",
	[BENC_E_DEPTH] = "nesting too deep",
	[BENC_E_NODES] = "too many values",
	[BENC_E_TOO_BIG] = "message too large",
	[BENC_E_NOMEM] = "out of memory",
};

const char *benc_err_str(enum benc_err code)
{
	if ((unsigned)code >= sizeof(err_names) / sizeof(err_names[0]) || !err_names[code])
		return "unknown error";
	return err_names[code];
}

int benc_error_fmt(const struct benc_error *err, char *dst, size_t dstsz)
{
	return snprintf(dst, dstsz, "%s at byte %zu", benc_err_str(err->code), err->off);
}

const char *benc_type_name(enum benc_type t)
{
	switch (t) {
	case BENC_INT:
		return "integer";
	case BENC_STR:
		return "string";
	case BENC_LIST:
		return "list";
	case BENC_DICT:
		return "dictionary";
	}
	return "nothing";
}

/* ---- decoder ---- */

struct dec {
	const char *p;
	size_t n;
	size_t pos;
	size_t max_len;
	struct benc_error err;
};

static enum benc_err fail(struct dec *d, enum benc_err code, size_t off)
{
	d->err.code = code;
	d->err.off = off;
	return code;
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "<len>:<bytes>" at d->pos. */
static enum benc_err parse_str(struct dec *d, rp_str *out)
{
	size_t start = d->pos, i = d->pos, len = 0;

	if (d->p[i] == '0' && i + 1 < d->n && is_digit(d->p[i + 1]))
		return fail(d, BENC_E_LEN_LEADING_ZERO, start);
	while (i < d->n && is_digit(d->p[i])) {
		len = len * 10 + (size_t)(d->p[i] - '0');
		/* max_len <= UINT32_MAX, so this cannot wrap a size_t. */
		if (len > d->max_len)
			return fail(d, BENC_E_LEN_RANGE, start);
		i++;
	}
	if (i >= d->n)
		return fail(d, BENC_E_TRUNCATED, d->n);
	if (d->p[i] != ':')
		return fail(d, BENC_E_SYNTAX, i);
	i++;
	if (len > d->n - i)
		return fail(d, BENC_E_TRUNCATED, d->n);
	*out = rp_str_make(d->p + i, len);
	d->pos = i + len;
	return BENC_OK;
}

/* "i<digits>e" at d->pos. */
static enum benc_err parse_int(struct dec *d, int64_t *out)
{
	size_t start = d->pos, i = d->pos + 1;
	bool neg = false;
	uint64_t v = 0, limit;

	if (i < d->n && d->p[i] == '-') {
		neg = true;
		i++;
	}
	if (i >= d->n)
		return fail(d, BENC_E_TRUNCATED, d->n);
	if (d->p[i] == 'e')
		return fail(d, BENC_E_INT_EMPTY, start);
	if (!is_digit(d->p[i]))
		return fail(d, BENC_E_SYNTAX, i);
	if (d->p[i] == '0' && i + 1 < d->n && d->p[i + 1] != 'e') {
		if (neg)
			return fail(d, BENC_E_INT_NEG_ZERO, start);
		return fail(d, is_digit(d->p[i + 1]) ? BENC_E_INT_LEADING_ZERO : BENC_E_SYNTAX,
			    is_digit(d->p[i + 1]) ? start : i + 1);
	}
	if (neg && d->p[i] == '0')
		return fail(d, BENC_E_INT_NEG_ZERO, start);
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	while (i < d->n && is_digit(d->p[i])) {
		unsigned dig = (unsigned)(d->p[i] - '0');

		if (v > (limit - dig) / 10)
			return fail(d, BENC_E_INT_RANGE, start);
		v = v * 10 + dig;
		i++;
	}
	if (i >= d->n)
		return fail(d, BENC_E_TRUNCATED, d->n);
	if (d->p[i] != 'e')
		return fail(d, BENC_E_SYNTAX, i);
	/* Two's complement: -(2^63) is representable; convert without UB. */
	*out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	d->pos = i + 1;
	return BENC_OK;
}

static int key_cmp(rp_str a, rp_str b)
{
	size_t m = a.n < b.n ? a.n : b.n;
	int c = m ? memcmp(a.p, b.p, m) : 0;

	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

static size_t key_off(const struct dec *d, rp_str key)
{
	/* Back from the key bytes over "<len>:" to where the key starts. */
	size_t digits = 1;

	for (size_t v = key.n; v >= 10; v /= 10)
		digits++;
	return (size_t)(key.p - d->p) - 1 - digits;
}

static int member_cmp(const void *a, const void *b)
{
	const benc_node *x = *(const benc_node *const *)a;
	const benc_node *y = *(const benc_node *const *)b;
	int c = key_cmp(x->key, y->key);

	if (c)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* A dict whose keys arrived out of order: sort a copy of its members to
 * find a repeated key in O(k log k) instead of comparing all pairs. */
static enum benc_err check_dups(struct dec *d, const benc_node *dict, rp_arena *a)
{
	const benc_node **v;
	size_t i = 0;

	if (dict->u.c.count < 2)
		return BENC_OK;
	v = rp_arena_alloc(a, dict->u.c.count * sizeof(*v));
	if (!v)
		return fail(d, BENC_E_NOMEM, dict->off);
	for (const benc_node *m = dict->u.c.first; m; m = m->next)
		v[i++] = m;
	qsort(v, i, sizeof(*v), member_cmp);
	for (size_t k = 1; k < i; k++)
		if (key_cmp(v[k - 1]->key, v[k]->key) == 0)
			return fail(d, BENC_E_KEY_DUP, key_off(d, v[k]->key));
	return BENC_OK;
}

static void append_child(benc_node *parent, benc_node *child)
{
	child->parent = parent;
	if (parent->u.c.last)
		parent->u.c.last->next = child;
	else
		parent->u.c.first = child;
	parent->u.c.last = child;
	parent->u.c.count++;
}

enum benc_err benc_decode(const char *p, size_t n, rp_arena *a,
			  const struct benc_opts *opts, benc_node **out,
			  bool *sorted, struct benc_error *err)
{
	struct dec d = { .p = p, .n = n };
	unsigned max_depth = opts && opts->max_depth ? opts->max_depth : DEF_MAX_DEPTH;
	size_t max_nodes = opts && opts->max_nodes ? opts->max_nodes : DEF_MAX_NODES;
	bool strict = opts && opts->strict_order;
	benc_node *cur = NULL, *root = NULL;
	unsigned depth = 0;
	size_t nodes = 0;
	bool have_key = false, all_sorted = true;
	rp_str key = RP_STR_NULL;
	enum benc_err rc;

	d.max_len = opts && opts->max_len ? opts->max_len : DEF_MAX_LEN;
	if (d.max_len > HARD_MAX_LEN)
		d.max_len = HARD_MAX_LEN;
	if (n == 0) {
		rc = fail(&d, BENC_E_EMPTY, 0);
		goto out;
	}
	if (n > d.max_len) {
		rc = fail(&d, BENC_E_TOO_BIG, d.max_len);
		goto out;
	}

	for (;;) {
		benc_node *node;
		char c;

		if (d.pos >= n) {
			rc = fail(&d, BENC_E_TRUNCATED, n);
			goto out;
		}
		c = p[d.pos];

		if (cur && c == 'e') {
			if (have_key) {
				/* A key with no value. */
				rc = fail(&d, BENC_E_SYNTAX, d.pos);
				goto out;
			}
			if (cur->type == BENC_DICT && cur->unsorted) {
				all_sorted = false;
				rc = check_dups(&d, cur, a);
				if (rc)
					goto out;
			}
			d.pos++;
			depth--;
			cur = cur->parent;
			if (!cur)
				break;
			continue;
		}

		if (cur && cur->type == BENC_DICT && !have_key) {
			const benc_node *last = cur->u.c.last;
			size_t kstart = d.pos;

			if (!is_digit(c)) {
				rc = fail(&d, c == 'i' || c == 'l' || c == 'd' ? BENC_E_KEY_TYPE
									   : BENC_E_SYNTAX, d.pos);
				goto out;
			}
			rc = parse_str(&d, &key);
			if (rc)
				goto out;
			if (last) {
				int cmp = key_cmp(last->key, key);

				if (cmp == 0) {
					rc = fail(&d, BENC_E_KEY_DUP, kstart);
					goto out;
				}
				if (cmp > 0) {
					if (strict) {
						rc = fail(&d, BENC_E_KEY_ORDER, kstart);
						goto out;
					}
					cur->unsorted = true;
				}
			}
			have_key = true;
			continue;
		}

		if (++nodes > max_nodes) {
			rc = fail(&d, BENC_E_NODES, d.pos);
			goto out;
		}
		node = rp_arena_zalloc(a, sizeof(*node));
		if (!node) {
			rc = fail(&d, BENC_E_NOMEM, d.pos);
			goto out;
		}
		node->off = (uint32_t)d.pos;
		if (have_key) {
			node->key = key;
			have_key = false;
		}

		if (c == 'i') {
			node->type = BENC_INT;
			rc = parse_int(&d, &node->u.i);
		} else if (is_digit(c)) {
			node->type = BENC_STR;
			rc = parse_str(&d, &node->u.s);
		} else if (c == 'l' || c == 'd') {
			if (depth >= max_depth) {
				rc = fail(&d, BENC_E_DEPTH, d.pos);
				goto out;
			}
			node->type = c == 'l' ? BENC_LIST : BENC_DICT;
			rc = BENC_OK;
		} else {
			rc = fail(&d, BENC_E_SYNTAX, d.pos);
		}
		if (rc)
			goto out;

		if (cur)
			append_child(cur, node);
		else
			root = node;
		if (node->type == BENC_LIST || node->type == BENC_DICT) {
			d.pos++;
			depth++;
			cur = node;
		} else if (!cur) {
			break;
		}
	}

	if (d.pos != n) {
		rc = fail(&d, BENC_E_TRAILING, d.pos);
		goto out;
	}
	*out = root;
	if (sorted)
		*sorted = all_sorted;
	rc = BENC_OK;
out:
	if (rc && err)
		*err = d.err;
	return rc;
}

/* ---- accessors ---- */

const benc_node *benc_dict_get_str(const benc_node *d, rp_str key)
{
	if (!d || d->type != BENC_DICT)
		return NULL;
	for (const benc_node *m = d->u.c.first; m; m = m->next)
		if (rp_str_eq(m->key, key))
			return m;
	return NULL;
}

const benc_node *benc_dict_get(const benc_node *d, const char *key)
{
	return benc_dict_get_str(d, rp_str_cstr(key));
}

bool benc_str_eq(const benc_node *node, const char *s)
{
	return node && node->type == BENC_STR && rp_str_eq_cstr(node->u.s, s);
}

static int typed_get(const benc_node *d, const char *key, enum benc_type want,
		     const benc_node **out, struct benc_field_err *fe)
{
	const benc_node *m = benc_dict_get(d, key);
	struct benc_field_err e = { key, want, 0 };

	if (m && m->type == want) {
		*out = m;
		return 0;
	}
	if (m)
		e.got = m->type;
	if (fe)
		*fe = e;
	return m ? -EINVAL : -ENOENT;
}

int benc_get_str(const benc_node *d, const char *key, rp_str *out,
		 struct benc_field_err *fe)
{
	const benc_node *m;
	int rc = typed_get(d, key, BENC_STR, &m, fe);

	if (rc == 0)
		*out = m->u.s;
	return rc;
}

int benc_get_int(const benc_node *d, const char *key, int64_t min, int64_t max,
		 int64_t *out, struct benc_field_err *fe)
{
	const benc_node *m;
	int rc = typed_get(d, key, BENC_INT, &m, fe);

	if (rc)
		return rc;
	if (m->u.i < min || m->u.i > max) {
		/* got == want marks "right type, bad value". */
		if (fe)
			*fe = (struct benc_field_err){ key, BENC_INT, BENC_INT };
		return -EINVAL;
	}
	*out = m->u.i;
	return 0;
}

int benc_get_list(const benc_node *d, const char *key, const benc_node **out,
		  struct benc_field_err *fe)
{
	return typed_get(d, key, BENC_LIST, out, fe);
}

int benc_get_dict(const benc_node *d, const char *key, const benc_node **out,
		  struct benc_field_err *fe)
{
	return typed_get(d, key, BENC_DICT, out, fe);
}

int benc_field_err_fmt(const struct benc_field_err *fe, char *dst, size_t dstsz)
{
	const char *f = fe->field ? fe->field : "?";

	if (fe->got == 0)
		return snprintf(dst, dstsz, "missing field '%s'", f);
	if (fe->got == fe->want)
		return snprintf(dst, dstsz, "field '%s' is out of range", f);
	return snprintf(dst, dstsz, "field '%s' must be a%s %s, not a%s %s", f,
			fe->want == BENC_INT ? "n" : "", benc_type_name(fe->want),
			fe->got == BENC_INT ? "n" : "", benc_type_name(fe->got));
}

/* ---- encoder ---- */

int benc_put_int(rp_buf *b, int64_t v)
{
	rp_buf_append_byte(b, 'i');
	rp_buf_append_i64(b, v);
	return rp_buf_append_byte(b, 'e');
}

int benc_put_str(rp_buf *b, rp_str s)
{
	rp_buf_append_u64(b, s.n);
	rp_buf_append_byte(b, ':');
	return rp_buf_append(b, s.p, s.n);
}

int benc_put_cstr(rp_buf *b, const char *s)
{
	return benc_put_str(b, rp_str_cstr(s));
}

int benc_put_dict(rp_buf *b)
{
	return rp_buf_append_byte(b, 'd');
}

int benc_put_list(rp_buf *b)
{
	return rp_buf_append_byte(b, 'l');
}

int benc_put_end(rp_buf *b)
{
	return rp_buf_append_byte(b, 'e');
}

int benc_put_kv_str(rp_buf *b, const char *key, rp_str v)
{
	benc_put_cstr(b, key);
	return benc_put_str(b, v);
}

int benc_put_kv_cstr(rp_buf *b, const char *key, const char *v)
{
	benc_put_cstr(b, key);
	return benc_put_cstr(b, v);
}

int benc_put_kv_int(rp_buf *b, const char *key, int64_t v)
{
	benc_put_cstr(b, key);
	return benc_put_int(b, v);
}

int benc_put_kv_dict(rp_buf *b, const char *key)
{
	benc_put_cstr(b, key);
	return benc_put_dict(b);
}

int benc_put_kv_list(rp_buf *b, const char *key)
{
	benc_put_cstr(b, key);
	return benc_put_list(b);
}

int benc_put_raw(rp_buf *b, rp_str encoded)
{
	return rp_buf_append(b, encoded.p, encoded.n);
}

static int encode_rec(const benc_node *node, rp_arena *scratch, rp_buf *b,
		      unsigned depth)
{
	if (depth > ENCODE_MAX_DEPTH)
		return -ELOOP;
	switch (node->type) {
	case BENC_INT:
		return benc_put_int(b, node->u.i);
	case BENC_STR:
		return benc_put_str(b, node->u.s);
	case BENC_LIST:
		benc_put_list(b);
		for (const benc_node *m = node->u.c.first; m; m = m->next) {
			int rc = encode_rec(m, scratch, b, depth + 1);

			if (rc)
				return rc;
		}
		return benc_put_end(b);
	case BENC_DICT: {
		size_t k = node->u.c.count, i = 0;
		const benc_node **v = NULL;

		if (k) {
			v = rp_arena_alloc(scratch, k * sizeof(*v));
			if (!v)
				return -ENOMEM;
			for (const benc_node *m = node->u.c.first; m && i < k; m = m->next)
				v[i++] = m;
			qsort(v, i, sizeof(*v), member_cmp);
		}
		benc_put_dict(b);
		for (size_t j = 0; j < i; j++) {
			int rc;

			benc_put_str(b, v[j]->key);
			rc = encode_rec(v[j], scratch, b, depth + 1);
			if (rc)
				return rc;
		}
		return benc_put_end(b);
	}
	}
	return -EINVAL;
}

int benc_encode(const benc_node *node, rp_arena *scratch, rp_buf *b)
{
	int rc;

	if (!node)
		return -EINVAL;
	rc = encode_rec(node, scratch, b, 0);
	return rc ? rc : rp_buf_error(b);
}
