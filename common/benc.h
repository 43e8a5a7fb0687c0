/* benc: bencode decoder and encoder for the control protocol.
 *
 * Bencode has four types: integers "i-42e", byte strings "4:spam", lists
 * "l...e" and dictionaries "d<key><value>...e" whose keys are byte strings.
 *
 * Decoder: zero-copy and strict. String nodes are rp_str slices into the
 * input (the input must outlive the tree); nodes come from the caller's
 * rp_arena (freed with it). It rejects, with a specific code and the byte
 * offset: truncation, trailing bytes after the top-level value, integers
 * with leading zeros, "-0", empty or out-of-int64 integers, string lengths
 * with leading zeros or beyond the input, non-string dict keys, duplicate
 * dict keys, and anything over the depth / node / size limits. Unsorted dict
 * keys are accepted unless opts.strict_order is set (other encoders, like
 * ours, do not sort). It is iterative: nesting depth never uses C stack.
 *
 * Encoder: benc_put_*() append to an rp_buf in the order called. Dict keys
 * are written in the caller's order (not sorted); our decoder and the
 * rtpengine ng decoders accept any order. benc_encode() re-encodes a decoded
 * tree canonically (keys sorted).
 */
#ifndef BENC_H
#define BENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_arena.h"
#include "rp_buf.h"
#include "rp_str.h"

enum benc_type {
	BENC_INT = 1,
	BENC_STR,
	BENC_LIST,
	BENC_DICT,
};

/* A decoded value. Read the fields directly or through the accessors; do
 * not modify a tree produced by the decoder. */
typedef struct benc_node benc_node;
struct benc_node {
	enum benc_type type;
	uint32_t off;      /* byte offset of the value in the input */
	rp_str key;        /* key, when this node is a dict member */
	benc_node *next;   /* next member of the parent list/dict, or NULL */
	union {
		int64_t i;                 /* BENC_INT */
		rp_str s;                  /* BENC_STR */
		struct {                   /* BENC_LIST, BENC_DICT */
			benc_node *first;
			benc_node *last;
			size_t count;
		} c;
	} u;
	benc_node *parent; /* enclosing list/dict, NULL for the root */
	bool unsorted;     /* dict: keys not in strict byte order */
};

enum benc_err {
	BENC_OK = 0,
	BENC_E_EMPTY,          /* no input */
	BENC_E_TRUNCATED,      /* input ends inside a value */
	BENC_E_SYNTAX,         /* a byte that cannot start or continue a value */
	BENC_E_TRAILING,       /* bytes after the top-level value */
	BENC_E_INT_EMPTY,      /* "ie" or "i-e" */
	BENC_E_INT_LEADING_ZERO,
	BENC_E_INT_NEG_ZERO,   /* "i-0e" */
	BENC_E_INT_RANGE,      /* does not fit int64 */
	BENC_E_LEN_LEADING_ZERO, /* "04:spam" */
	BENC_E_LEN_RANGE,      /* string length larger than the input limit */
	BENC_E_KEY_TYPE,       /* dict key that is not a byte string */
	BENC_E_KEY_DUP,        /* the same key twice in one dict */
	BENC_E_KEY_ORDER,      /* keys not sorted (only with strict_order) */
	BENC_E_DEPTH,          /* nesting deeper than max_depth */
	BENC_E_NODES,          /* more values than max_nodes */
	BENC_E_TOO_BIG,        /* input longer than max_len */
	BENC_E_NOMEM,          /* the arena refused */
};

struct benc_opts {
	unsigned max_depth; /* containers nested; 0 = 32 */
	size_t max_nodes;   /* values in total; 0 = 65536 */
	size_t max_len;     /* input bytes; 0 = 1 MiB */
	bool strict_order;  /* reject dict keys that are not strictly sorted */
};

struct benc_error {
	enum benc_err code;
	size_t off; /* byte offset where the problem was found */
};

/* Decodes exactly one value spanning all of p[0..n). On success *out is the
 * root and 0 (BENC_OK) is returned; if sorted is not NULL it is set to
 * whether every dict had strictly sorted keys (then re-encoding with
 * benc_encode() reproduces the input byte for byte). On failure returns the
 * error code, fills *err (may be NULL) and leaves *out untouched. opts may
 * be NULL for the defaults. */
enum benc_err benc_decode(const char *p, size_t n, rp_arena *a,
			  const struct benc_opts *opts, benc_node **out,
			  bool *sorted, struct benc_error *err);

/* Short English description of an error code ("truncated input"). */
const char *benc_err_str(enum benc_err code);
/* "truncated input at byte 12" into dst; returns snprintf's result. */
int benc_error_fmt(const struct benc_error *err, char *dst, size_t dstsz);
/* "integer", "string", "list", "dictionary". */
const char *benc_type_name(enum benc_type t);

/* ---- accessors ---- */

/* Member of a dict by key, or NULL (absent, or d is not a dict / NULL).
 * Linear in the dict's size: control messages have a few dozen keys. */
const benc_node *benc_dict_get(const benc_node *d, const char *key);
const benc_node *benc_dict_get_str(const benc_node *d, rp_str key);

/* First member of a list or dict, or NULL; then follow ->next. */
static inline const benc_node *benc_first(const benc_node *c)
{
	return c && (c->type == BENC_LIST || c->type == BENC_DICT) ? c->u.c.first : NULL;
}

#define BENC_FOREACH(it, container) \
	for (const benc_node *it = benc_first(container); it; it = it->next)

/* Why a typed lookup failed: enough to tell the sender which field was
 * wrong. 'field' points at the caller's key string. */
struct benc_field_err {
	const char *field;
	enum benc_type want;
	enum benc_type got; /* 0 when the field is missing */
};

/* Typed lookups in dict d. Return 0, -ENOENT (missing; also when d is not a
 * dict) or -EINVAL (present with another type; for benc_get_int, also a
 * value outside [min, max]). On failure *fe (may be NULL) says why and
 * *out is untouched. */
int benc_get_str(const benc_node *d, const char *key, rp_str *out,
		 struct benc_field_err *fe);
int benc_get_int(const benc_node *d, const char *key, int64_t min, int64_t max,
		 int64_t *out, struct benc_field_err *fe);
int benc_get_list(const benc_node *d, const char *key, const benc_node **out,
		  struct benc_field_err *fe);
int benc_get_dict(const benc_node *d, const char *key, const benc_node **out,
		  struct benc_field_err *fe);
/* "missing field 'cookie'", "field 'cookie' must be a string, not an
 * integer", "field 'port' is out of range". Returns snprintf's result. */
int benc_field_err_fmt(const struct benc_field_err *fe, char *dst, size_t dstsz);

/* True if node is a string equal to the C string s. */
bool benc_str_eq(const benc_node *node, const char *s);

/* ---- encoder ---- */

/* Each appends to b and returns 0 or b's sticky error (-ENOMEM, -EMSGSIZE).
 * Containers: benc_put_dict()/benc_put_list() ... benc_put_end(). Inside a
 * dict, alternate a key (benc_put_str/cstr) and a value, or use the
 * benc_put_kv_*() pairs. */
int benc_put_int(rp_buf *b, int64_t v);
int benc_put_str(rp_buf *b, rp_str s);
int benc_put_cstr(rp_buf *b, const char *s);
int benc_put_dict(rp_buf *b);
int benc_put_list(rp_buf *b);
int benc_put_end(rp_buf *b);
int benc_put_kv_str(rp_buf *b, const char *key, rp_str v);
int benc_put_kv_cstr(rp_buf *b, const char *key, const char *v);
int benc_put_kv_int(rp_buf *b, const char *key, int64_t v);
/* Key followed by the caller's open container. */
int benc_put_kv_dict(rp_buf *b, const char *key);
int benc_put_kv_list(rp_buf *b, const char *key);
/* Appends an already encoded value verbatim (e.g. a field copied from a
 * request). The caller vouches that it is valid bencode. */
int benc_put_raw(rp_buf *b, rp_str encoded);

/* Encodes a tree canonically (dict keys in byte order). A scratch arena is
 * needed for sorting; it is reset by the caller. Returns 0, -ENOMEM, or b's
 * error; -EINVAL for a node of unknown type. */
int benc_encode(const benc_node *node, rp_arena *scratch, rp_buf *b);

#endif
