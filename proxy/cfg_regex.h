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

/* The subject is hostile (a peer's Request-URI or header) and glibc's
 * regexec takes time quadratic in its length for most unanchored patterns
 * ('a+b' against 64 KiB of 'a': seconds): a longer subject is not matched
 * at all (docs/config.md, regex_max_subject). */
#define CFG_REGEX_MAX_SUBJECT_DEFAULT 512u
#define CFG_REGEX_MAX_SUBJECT_LIMIT 8192u

/* Compiles 'pattern' (POSIX extended syntax; 'icase' for case-insensitive);
 * subjects longer than max_subject bytes will not match (0: the default).
 * On failure returns a negative errno (-EINVAL for a bad pattern, with the
 * reason in errbuf: regerror()'s text, or why it would cost too much to
 * compile or to match; -ENOMEM) and leaves *out alone. The caller frees the
 * result with cfg_regex_free(). Safe to match from many threads. */
int cfg_regex_new(rp_str pattern, bool icase, size_t max_subject, struct cfg_regex **out,
	char *errbuf, size_t errsz);

/* True if the regex matches anywhere in s. A subject longer than the
 * regex's max_subject does not match (a rate-limited warn says so). */
bool cfg_regex_match(const struct cfg_regex *re, rp_str s);

/* NULL-safe; returns NULL. */
struct cfg_regex *cfg_regex_free(struct cfg_regex *re);

#endif
