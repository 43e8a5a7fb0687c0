/* rp_json: a streaming JSON writer into an rp_buf.
 *
 * For tools that print (rampart-sipdump, rampartctl) and for stats output.
 * The writer tracks nesting and commas, so callers just emit in order:
 *
 *	rp_json j;
 *	rp_json_init(&j, &buf, RP_JSON_PRETTY);
 *	rp_json_obj_begin(&j);
 *	rp_json_key(&j, "call-id"); rp_json_str(&j, callid);
 *	rp_json_key(&j, "legs");    rp_json_uint(&j, 2);
 *	rp_json_obj_end(&j);
 *	if (rp_json_finish(&j)) ... error
 *
 * Strings are byte slices and need not be valid UTF-8: quote, backslash and
 * control characters are escaped, DEL is escaped as \u007f, valid UTF-8 is
 * copied as is, and every byte of an invalid sequence (bad lead or
 * continuation byte, overlong form, surrogate, beyond U+10FFFF, truncated)
 * becomes \ufffd. The output is therefore always valid UTF-8 JSON.
 *
 * Errors are sticky (like rp_buf): misuse (a value where a key is due, an
 * unbalanced end, nesting deeper than RP_JSON_MAX_DEPTH) gives -EINVAL,
 * running out of room the rp_buf error. Check rp_json_finish() once.
 *
 * The writer does not own the rp_buf. Not thread-safe.
 */
#ifndef RP_JSON_H
#define RP_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_buf.h"
#include "rp_str.h"

#define RP_JSON_MAX_DEPTH 64

enum {
	RP_JSON_PRETTY = 1 << 0, /* newlines and two-space indentation */
};

typedef struct rp_json {
	rp_buf *b;
	unsigned flags;
	unsigned depth;
	int err;
	bool want_key;   /* inside an object, a key is due */
	bool after_key;  /* a key was written, its value is due */
	bool done;       /* a top-level value is complete */
	/* Per level: 1 = object, 0 = array; and whether it has items yet. */
	uint8_t is_obj[RP_JSON_MAX_DEPTH];
	uint8_t has_items[RP_JSON_MAX_DEPTH];
} rp_json;

/* Starts writing one JSON value (usually an object) at the end of b. */
void rp_json_init(rp_json *j, rp_buf *b, unsigned flags);

int rp_json_obj_begin(rp_json *j);
int rp_json_obj_end(rp_json *j);
int rp_json_arr_begin(rp_json *j);
int rp_json_arr_end(rp_json *j);

/* Object member name; must be followed by exactly one value. */
int rp_json_key(rp_json *j, const char *key);
int rp_json_key_str(rp_json *j, rp_str key);

int rp_json_str(rp_json *j, rp_str s);
int rp_json_cstr(rp_json *j, const char *s); /* NULL writes null */
int rp_json_int(rp_json *j, int64_t v);
int rp_json_uint(rp_json *j, uint64_t v);
/* A form that reads back to the same double (%.15g, else %.17g); NaN and infinities, which JSON cannot
 * express, are written as null. */
int rp_json_double(rp_json *j, double v);
int rp_json_bool(rp_json *j, bool v);
int rp_json_null(rp_json *j);

/* Key + value shorthands. */
int rp_json_kv_str(rp_json *j, const char *key, rp_str v);
int rp_json_kv_cstr(rp_json *j, const char *key, const char *v);
int rp_json_kv_int(rp_json *j, const char *key, int64_t v);
int rp_json_kv_uint(rp_json *j, const char *key, uint64_t v);
int rp_json_kv_bool(rp_json *j, const char *key, bool v);

/* 0 when one complete value was written without error (a trailing newline is
 * added in pretty mode); else the first error, or -EINVAL if containers are
 * still open or nothing was written. */
int rp_json_finish(rp_json *j);

/* Appends s as a quoted, escaped JSON string to b (no writer state). */
int rp_json_escape(rp_buf *b, rp_str s);

#endif
