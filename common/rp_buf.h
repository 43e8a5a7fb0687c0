/* rp_buf: a growable byte buffer.
 *
 * Used to build outgoing messages (SIP, bencode, JSON). The struct is public
 * so it can live on the stack or inside another object, but its fields are
 * read-only for callers: change them only through these functions.
 *
 * Ownership: the buffer owns 'p' (heap). rp_buf_free() releases it;
 * rp_buf_steal() hands it to the caller, who then free()s it.
 *
 * Errors are sticky: the first failure is kept in 'err' and every later
 * append is a no-op returning the same error, so a writer can append many
 * pieces and check once (rp_buf_error()). rp_buf_reset() clears it.
 *
 * A buffer flagged secure (rp_buf_set_secure) wipes every byte it lets go of
 * (on growth, reset, truncate, free): use it for messages that carry keys.
 *
 * Not thread-safe; one owner at a time.
 */
#ifndef RP_BUF_H
#define RP_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"

typedef struct rp_buf {
	char *p;     /* data; NUL-terminated after len when cap > 0 */
	size_t len;  /* bytes used */
	size_t cap;  /* bytes allocated (the NUL takes one) */
	size_t max;  /* max len; 0 = no cap */
	int err;     /* first error (negative errno), or 0 */
	bool secure; /* wipe released bytes */
} rp_buf;

#define RP_BUF_INIT { NULL, 0, 0, 0, 0, false }

/* Sets up an empty buffer that may hold at most 'max' bytes (0 = no cap
 * other than memory). Allocates nothing. */
void rp_buf_init(rp_buf *b, size_t max);
/* Wipe every byte the buffer lets go of from now on. */
void rp_buf_set_secure(rp_buf *b, bool secure);

/* Makes room for 'extra' more bytes without further allocation.
 * Returns 0, -ENOMEM (allocation failed) or -EMSGSIZE (over 'max'). */
int rp_buf_reserve(rp_buf *b, size_t extra);

/* Appenders: 0 or the (sticky) negative errno, -ENOMEM / -EMSGSIZE.
 * On failure the buffer's content is unchanged. */
int rp_buf_append(rp_buf *b, const void *data, size_t n);
int rp_buf_append_str(rp_buf *b, rp_str s);
int rp_buf_append_cstr(rp_buf *b, const char *s);
int rp_buf_append_byte(rp_buf *b, char c);
/* Decimal, no padding. */
int rp_buf_append_u64(rp_buf *b, uint64_t v);
int rp_buf_append_i64(rp_buf *b, int64_t v);
int rp_buf_printf(rp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int rp_buf_vprintf(rp_buf *b, const char *fmt, va_list ap);

/* First error or 0. */
static inline int rp_buf_error(const rp_buf *b)
{
	return b->err;
}

static inline rp_str rp_buf_str(const rp_buf *b)
{
	return (rp_str){ b->p, b->len };
}

/* The content as a C string (never NULL; "" when empty). The pointer is
 * valid until the next change to the buffer. */
const char *rp_buf_cstr(const rp_buf *b);

/* Shortens the content to 'len' bytes (no-op if already shorter). Keeps the
 * error state: use it to roll back a partly written item. */
void rp_buf_truncate(rp_buf *b, size_t len);
/* Drops the first n bytes (e.g. a stream frame that has been consumed). */
void rp_buf_consume(rp_buf *b, size_t n);
/* Empties the buffer and clears the error; keeps the memory. */
void rp_buf_reset(rp_buf *b);

/* Hands the memory to the caller without copying: returns the
 * NUL-terminated content (caller free()s it) and stores its length in *len
 * (may be NULL); the buffer is left empty and reusable. Returns NULL, and
 * leaves the buffer as it was, when the buffer is in error (its content is
 * incomplete) or when an empty buffer cannot allocate its one byte. */
char *rp_buf_steal(rp_buf *b, size_t *len);

/* Releases the memory (wiped first if secure); the buffer is left empty and
 * may be used again. */
void rp_buf_free(rp_buf *b);

#endif
