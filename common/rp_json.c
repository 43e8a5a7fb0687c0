#include "rp_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp_json_init(rp_json *j, rp_buf *b, unsigned flags)
{
	memset(j, 0, sizeof(*j));
	j->b = b;
	j->flags = flags;
}

static int jfail(rp_json *j, int err)
{
	if (!j->err)
		j->err = err;
	return j->err;
}

static int jcheck(rp_json *j)
{
	int rc = rp_buf_error(j->b);

	return rc ? jfail(j, rc) : j->err;
}

static void newline_indent(rp_json *j, unsigned level)
{
	static const char spaces[] = "                                ";

	if (!(j->flags & RP_JSON_PRETTY))
		return;
	rp_buf_append_byte(j->b, '\n');
	for (unsigned n = level * 2; n;) {
		unsigned k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		rp_buf_append(j->b, spaces, k);
		n -= k;
	}
}

/* Separator and state checks before any value. */
static int pre_value(rp_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth == 0)
		return j->done ? jfail(j, -EINVAL) : 0;
	if (j->is_obj[j->depth - 1]) {
		if (!j->after_key)
			return jfail(j, -EINVAL);
		j->after_key = false;
		return 0;
	}
	if (j->has_items[j->depth - 1])
		rp_buf_append_byte(j->b, ',');
	j->has_items[j->depth - 1] = 1;
	newline_indent(j, j->depth);
	return 0;
}

static int post_value(rp_json *j)
{
	if (j->depth == 0)
		j->done = true;
	return jcheck(j);
}

int rp_json_escape(rp_buf *b, rp_str s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, run = 0;

	rp_buf_append_byte(b, '"');
	while (i < s.n) {
		unsigned char c = p[i];
		size_t len = 1;
		char esc[6];
		const char *out = NULL;
		size_t outn = 2;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			len = rp_str_utf8_seq(p + i, s.n - i);
			if (len) {
				i += len;
				continue;
			}
			len = 1;
			out = "\\ufffd";
			outn = 6;
		} else if (c == '"') {
			out = "\\\"";
		} else if (c == '\\') {
			out = "\\\\";
		} else if (c == '\n') {
			out = "\\n";
		} else if (c == '\r') {
			out = "\\r";
		} else if (c == '\t') {
			out = "\\t";
		} else if (c == '\b') {
			out = "\\b";
		} else if (c == '\f') {
			out = "\\f";
		} else {
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			out = esc;
			outn = 6;
		}
		/* Flush the plain bytes before this one, then the escape. */
		rp_buf_append(b, s.p + run, i - run);
		rp_buf_append(b, out, outn);
		i += len;
		run = i;
	}
	if (s.n > run)   /* an empty string may have p == NULL: no NULL + 0 */
		rp_buf_append(b, s.p + run, s.n - run);
	return rp_buf_append_byte(b, '"');
}

static int open_container(rp_json *j, bool obj)
{
	if (pre_value(j))
		return j->err;
	if (j->depth >= RP_JSON_MAX_DEPTH)
		return jfail(j, -EINVAL);
	rp_buf_append_byte(j->b, obj ? '{' : '[');
	j->is_obj[j->depth] = obj;
	j->has_items[j->depth] = 0;
	j->depth++;
	return jcheck(j);
}

static int close_container(rp_json *j, bool obj)
{
	if (j->err)
		return j->err;
	if (j->depth == 0 || j->is_obj[j->depth - 1] != obj || j->after_key)
		return jfail(j, -EINVAL);
	j->depth--;
	if (j->has_items[j->depth])
		newline_indent(j, j->depth);
	rp_buf_append_byte(j->b, obj ? '}' : ']');
	return post_value(j);
}

int rp_json_obj_begin(rp_json *j)
{
	return open_container(j, true);
}

int rp_json_obj_end(rp_json *j)
{
	return close_container(j, true);
}

int rp_json_arr_begin(rp_json *j)
{
	return open_container(j, false);
}

int rp_json_arr_end(rp_json *j)
{
	return close_container(j, false);
}

int rp_json_key_str(rp_json *j, rp_str key)
{
	if (j->err)
		return j->err;
	if (j->depth == 0 || !j->is_obj[j->depth - 1] || j->after_key)
		return jfail(j, -EINVAL);
	if (j->has_items[j->depth - 1])
		rp_buf_append_byte(j->b, ',');
	j->has_items[j->depth - 1] = 1;
	newline_indent(j, j->depth);
	rp_json_escape(j->b, key);
	if (j->flags & RP_JSON_PRETTY)
		rp_buf_append(j->b, ": ", 2);
	else
		rp_buf_append_byte(j->b, ':');
	j->after_key = true;
	return jcheck(j);
}

int rp_json_key(rp_json *j, const char *key)
{
	return rp_json_key_str(j, rp_str_cstr(key));
}

int rp_json_str(rp_json *j, rp_str s)
{
	if (pre_value(j))
		return j->err;
	rp_json_escape(j->b, s);
	return post_value(j);
}

int rp_json_cstr(rp_json *j, const char *s)
{
	return s ? rp_json_str(j, rp_str_cstr(s)) : rp_json_null(j);
}

int rp_json_int(rp_json *j, int64_t v)
{
	if (pre_value(j))
		return j->err;
	rp_buf_append_i64(j->b, v);
	return post_value(j);
}

int rp_json_uint(rp_json *j, uint64_t v)
{
	if (pre_value(j))
		return j->err;
	rp_buf_append_u64(j->b, v);
	return post_value(j);
}

int rp_json_double(rp_json *j, double v)
{
	if (!isfinite(v))
		return rp_json_null(j);
	if (pre_value(j))
		return j->err;
	{
		char tmp[32];

		/* %.15g when it reads back exactly (0.1 stays "0.1"), else the
		 * 17 digits that always do. */
		snprintf(tmp, sizeof(tmp), "%.15g", v);
		if (strtod(tmp, NULL) != v)
			snprintf(tmp, sizeof(tmp), "%.17g", v);
		rp_buf_append_cstr(j->b, tmp);
	}
	return post_value(j);
}

int rp_json_bool(rp_json *j, bool v)
{
	if (pre_value(j))
		return j->err;
	rp_buf_append_cstr(j->b, v ? "true" : "false");
	return post_value(j);
}

int rp_json_null(rp_json *j)
{
	if (pre_value(j))
		return j->err;
	rp_buf_append(j->b, "null", 4);
	return post_value(j);
}

int rp_json_kv_str(rp_json *j, const char *key, rp_str v)
{
	rp_json_key(j, key);
	return rp_json_str(j, v);
}

int rp_json_kv_cstr(rp_json *j, const char *key, const char *v)
{
	rp_json_key(j, key);
	return rp_json_cstr(j, v);
}

int rp_json_kv_int(rp_json *j, const char *key, int64_t v)
{
	rp_json_key(j, key);
	return rp_json_int(j, v);
}

int rp_json_kv_uint(rp_json *j, const char *key, uint64_t v)
{
	rp_json_key(j, key);
	return rp_json_uint(j, v);
}

int rp_json_kv_bool(rp_json *j, const char *key, bool v)
{
	rp_json_key(j, key);
	return rp_json_bool(j, v);
}

int rp_json_finish(rp_json *j)
{
	if (jcheck(j))
		return j->err;
	if (j->depth != 0 || !j->done)
		return jfail(j, -EINVAL);
	if (j->flags & RP_JSON_PRETTY)
		rp_buf_append_byte(j->b, '\n');
	return jcheck(j);
}
