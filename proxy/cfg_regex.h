/* cfg_regex: the routing script's regular expressions (POSIX ERE),
 * compiled once at load and matched against rp_str slices without copying
 * (glibc's REG_STARTEND), so subjects need no NUL terminator.
 */
#ifndef CFG_REGEX_H
#define CFG_REGEX_H

#include "rp_str.h"

#include <stdbool.h>
#include <stddef.h>

struct cfg_regex;

/* Compiles 'pattern' (POSIX extended syntax; 'icase' for case-insensitive).
 * On failure returns a negative errno (-EINVAL for a bad pattern, with the
 * regerror() text in errbuf; -ENOMEM) and leaves *out alone. The caller
 * frees the result with cfg_regex_free(). Safe to match from many threads. */
int cfg_regex_new(rp_str pattern, bool icase, struct cfg_regex **out,
	char *errbuf, size_t errsz);

/* True if the regex matches anywhere in s. */
bool cfg_regex_match(const struct cfg_regex *re, rp_str s);

/* NULL-safe; returns NULL. */
struct cfg_regex *cfg_regex_free(struct cfg_regex *re);

#endif
