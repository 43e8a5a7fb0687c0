/* rp_str: pointer+length slices into a buffer someone else owns.
 *
 * Every parser in common/ returns rp_str slices that point into the input
 * buffer: nothing is copied, nothing is freed. A slice is valid exactly as
 * long as the buffer it points into.
 */
#ifndef RP_STR_H
#define RP_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rp_str {
	const char *p; /* not NUL-terminated; may be NULL when n == 0 */
	size_t n;
} rp_str;

#define RP_STR_NULL ((rp_str){ NULL, 0 })
/* Slice of a string literal, without its NUL. */
#define RP_STR_LIT(s) ((rp_str){ (s), sizeof(s) - 1 })
/* For printf("%.*s", RP_STR_FMT(x)). */
#define RP_STR_FMT(s) (int)(s).n, (s).p

static inline rp_str rp_str_make(const char *p, size_t n)
{
	return (rp_str){ p, n };
}

static inline rp_str rp_str_cstr(const char *s)
{
	return (rp_str){ s, s ? strlen(s) : 0 };
}

static inline bool rp_str_empty(rp_str s)
{
	return s.n == 0;
}

/* Byte-exact comparison. */
bool rp_str_eq(rp_str a, rp_str b);
/* ASCII case-insensitive comparison (SIP header names, tokens). */
bool rp_str_caseeq(rp_str a, rp_str b);
bool rp_str_caseeq_cstr(rp_str a, const char *b);
bool rp_str_eq_cstr(rp_str a, const char *b);
bool rp_str_has_prefix_case(rp_str s, const char *prefix);

/* Strip SP/HTAB (and CR/LF) from both ends. */
rp_str rp_str_trim(rp_str s);

/* Index of the first c in s, or -1. */
ptrdiff_t rp_str_chr(rp_str s, char c);

/* Parses an unsigned decimal that fits in *out (digits only, no sign, no
 * spaces, at most 'max' in value). Returns 0 or -EINVAL / -ERANGE. */
int rp_str_to_u64(rp_str s, uint64_t max, uint64_t *out);
int rp_str_to_u32(rp_str s, uint32_t *out);

/* Copies s into dst (size dstsz) with a NUL; returns -ENOSPC if it does not
 * fit (dst then holds an empty string). */
int rp_str_copy(rp_str s, char *dst, size_t dstsz);

/* Length of the valid UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF) at s[0..n) that starts with a byte
 * >= 0x80, or 0 if there is none. */
size_t rp_str_utf8_seq(const unsigned char *s, size_t n);

/* Copies s into dst (size dstsz > 0, NUL-terminated) as valid UTF-8 text
 * of one line: each byte that is not part of a valid UTF-8 sequence, and
 * each control character (C0, DEL), becomes the four characters "\xNN"
 * (lower-case hex). Cut short at a character boundary when it does not
 * fit. For text that came from a peer and goes to a person or a program
 * that expects UTF-8 (a control error-reason). Returns the length. */
size_t rp_str_utf8_safe(rp_str s, char *dst, size_t dstsz);

#endif
