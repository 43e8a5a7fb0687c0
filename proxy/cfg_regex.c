#include "cfg_regex.h"

#include "rp_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfg_regex {
	regex_t re;
	size_t max_subject;
};

/* glibc's regcomp copies a bounded repetition's atom once per count, and
 * past some ten thousand copies (a{20000}, (a{100}){100}{2}) it runs for
 * minutes: the checker would hang on one line. So we bound what the
 * pattern expands to before compiling it: a piece weighs its atom times
 * every bound after it, a group the sum of its branches. */
#define RE_MAX_WEIGHT 10000u
#define RE_MAX_DEPTH 256

/* Matching is the other cost: glibc's regexec follows every NFA state a
 * subject can be in, and optional or repeated atoms are what make many of
 * them live at once ('.{0,500}b', 500 'a?' in a row: tens of ms, then
 * seconds with nested counts, on a 256-byte subject). Literal alternatives
 * cost little. So the atoms under ?, *, + or a bound (times the bound) are
 * added up and limited to this; measured in docs/config.md "Limits". */
#define RE_MAX_REPEAT_WEIGHT 128u

/* The third cost is exponential compile time: glibc copies the operand of
 * '+' and of a bound and follows every empty path through the copies when
 * it builds epsilon closures, so copying something that can already match
 * nothing, near an anchor, multiplies the work per operator ('^C*+++++'
 * 9 s, '\w\B(){2}*{3,5}{1,3}' 1.6 s, '^(()+()+()+()+()+()+)++' over 20 s;
 * fuzz_cfg found the first). Such copies rarely change what matches ('(X)+'
 * is '(X)*' when X can be empty), so they are refused outright. */

struct re_scan {
	const char *p;
	size_t n, i;
	bool too_deep;
	bool copies_empty;  /* '+' or a bound copies a nullable operand */
	size_t copies_empty_at;
	uint64_t rep;   /* weight under repetition operators */
};

static uint64_t re_alt(struct re_scan *s, int depth, bool *nullable);

static uint64_t re_cap(uint64_t v)
{
	return v > RE_MAX_WEIGHT ? RE_MAX_WEIGHT + 1 : v;
}

/* Zero-width atoms: the anchors, and (to be safe) a back-reference, which
 * matches nothing when its group did. */
static bool re_zero_width(const char *p, size_t i, size_t n)
{
	if (p[i] == '^' || p[i] == '$')
		return true;
	return p[i] == '\\' && i + 1 < n && p[i + 1] != '\0' && strchr("bB<>`'123456789", p[i + 1]) != NULL;
}

/* One atom; *nullable says whether it can match the empty string. */
static uint64_t re_atom(struct re_scan *s, int depth, bool *nullable)
{
	const char *p = s->p;
	uint64_t w = 1;

	*nullable = false;
	if (p[s->i] == '(') {
		s->i++;
		if (depth >= RE_MAX_DEPTH) {
			s->too_deep = true;
			s->i = s->n;
			return RE_MAX_WEIGHT + 1;
		}
		w = re_alt(s, depth + 1, nullable);
		if (s->i < s->n && p[s->i] == ')')
			s->i++;
		return w ? w : 1;
	}
	if (p[s->i] == '[') {
		s->i++;
		if (s->i < s->n && p[s->i] == '^')
			s->i++;
		if (s->i < s->n && p[s->i] == ']')
			s->i++;
		while (s->i < s->n && p[s->i] != ']') {
			if (p[s->i] == '[' && s->i + 1 < s->n &&
			    (p[s->i + 1] == ':' || p[s->i + 1] == '.' || p[s->i + 1] == '=')) {
				char end = p[s->i + 1];

				s->i += 2;
				while (s->i + 1 < s->n && !(p[s->i] == end && p[s->i + 1] == ']'))
					s->i++;
				s->i += 2;
				continue;
			}
			s->i++;
		}
		s->i++;
		return 1;
	}
	*nullable = re_zero_width(p, s->i, s->n);
	s->i += p[s->i] == '\\' ? 2 : 1;
	return 1;
}

/* {m}, {m,}, {m,n}: the most copies regcomp makes (0 if not a bound);
 * *lo is m and *open whether there is no n. */
static uint64_t re_bound(struct re_scan *s, uint64_t *lo, bool *open)
{
	uint64_t m = 0, n = 0;
	size_t j = s->i + 1;
	bool comma = false, hi = false;

	if (j >= s->n || s->p[j] < '0' || s->p[j] > '9')
		return 0;
	while (j < s->n && s->p[j] >= '0' && s->p[j] <= '9')
		m = re_cap(m * 10 + (uint64_t)(s->p[j++] - '0'));
	if (j < s->n && s->p[j] == ',') {
		comma = true;
		j++;
		while (j < s->n && s->p[j] >= '0' && s->p[j] <= '9') {
			hi = true;
			n = re_cap(n * 10 + (uint64_t)(s->p[j++] - '0'));
		}
	}
	if (j >= s->n || s->p[j] != '}')
		return 0;
	s->i = j + 1;
	*lo = m;
	*open = comma && !hi;
	if (hi)
		return n > m ? n : m;
	return comma ? m + 1 : m;
}

static void re_copies_empty(struct re_scan *s, size_t at)
{
	if (!s->copies_empty) {
		s->copies_empty = true;
		s->copies_empty_at = at;
	}
}

/* A branch: nullable if every piece is. */
static uint64_t re_seq(struct re_scan *s, int depth, bool *nullable)
{
	uint64_t sum = 0;

	*nullable = true;
	while (s->i < s->n && s->p[s->i] != '|' && s->p[s->i] != ')') {
		bool null;
		uint64_t w = re_atom(s, depth, &null);
		bool repeated = false;

		for (;;) {
			char q = s->i < s->n ? s->p[s->i] : '\0';
			size_t at = s->i;
			uint64_t b, lo = 0;
			bool open = false;

			if (q == '*' || q == '?') {
				s->i++;
				null = true;
			} else if (q == '+') {
				s->i++;
				if (null)
					re_copies_empty(s, at);
				w = re_cap(w * 2);
			} else if (q == '{' && (b = re_bound(s, &lo, &open)) != 0) {
				if (null && (b > 1 || (open && lo > 0)))
					re_copies_empty(s, at);
				null = null || lo == 0;
				w = re_cap(w * b);
			} else {
				break;
			}
			repeated = true;
		}
		if (repeated)
			s->rep = re_cap(s->rep + w);
		sum = re_cap(sum + w);
		*nullable = *nullable && null;
	}
	return sum;
}

/* Branches: nullable if any is. */
static uint64_t re_alt(struct re_scan *s, int depth, bool *nullable)
{
	uint64_t sum = re_seq(s, depth, nullable);

	while (s->i < s->n && s->p[s->i] == '|') {
		bool null;

		s->i++;
		sum = re_cap(sum + re_seq(s, depth, &null));
		*nullable = *nullable || null;
	}
	return sum;
}

int cfg_regex_new(rp_str pattern, bool icase, size_t max_subject, struct cfg_regex **out,
	char *errbuf, size_t errsz)
{
	struct cfg_regex *r;
	char *pat;
	int rc;

	if (memchr(pattern.p ? pattern.p : "", '\0', pattern.n)) {
		snprintf(errbuf, errsz, "NUL byte in pattern");
		return -EINVAL;
	}
	{
		struct re_scan sc = { .p = pattern.p ? pattern.p : "", .n = pattern.n };
		uint64_t w = 0;
		bool null;

		/* A stray ')' at the top level ends re_alt early: go on past it. */
		while (sc.i < sc.n) {
			w = re_cap(w + re_alt(&sc, 0, &null));
			if (sc.i < sc.n)
				sc.i++;
		}
		if (sc.too_deep) {
			snprintf(errbuf, errsz, "groups nested more than %d deep", RE_MAX_DEPTH);
			return -EINVAL;
		}
		if (w > RE_MAX_WEIGHT) {
			snprintf(errbuf, errsz, "repetition too large: the pattern expands to "
				"more than %u atoms", RE_MAX_WEIGHT);
			return -EINVAL;
		}
		if (sc.rep > RE_MAX_REPEAT_WEIGHT) {
			snprintf(errbuf, errsz, "too costly to match: %s%" PRIu64 " atoms under "
				"?, *, + or {m,n} (at most %u; each one counted as often as "
				"it may repeat)", sc.rep > RE_MAX_WEIGHT ? "more than " : "",
				sc.rep > RE_MAX_WEIGHT ? (uint64_t)RE_MAX_WEIGHT : sc.rep,
				RE_MAX_REPEAT_WEIGHT);
			return -EINVAL;
		}
		if (sc.copies_empty) {
			snprintf(errbuf, errsz, "'%c' at offset %zu repeats something that can "
				"match the empty string (like (a*)+ or (b?){2}): too costly to compile",
				sc.p[sc.copies_empty_at], sc.copies_empty_at);
			return -EINVAL;
		}
	}
	pat = malloc(pattern.n + 1);
	if (!pat)
		return -ENOMEM;
	if (pattern.n)
		memcpy(pat, pattern.p, pattern.n);
	pat[pattern.n] = '\0';
	r = malloc(sizeof(*r));
	if (!r) {
		free(pat);
		return -ENOMEM;
	}
	r->max_subject = max_subject ? max_subject : CFG_REGEX_MAX_SUBJECT_DEFAULT;
	rc = regcomp(&r->re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
	free(pat);
	if (rc != 0) {
		if (errbuf && errsz)
			regerror(rc, &r->re, errbuf, errsz);
		/* regfree after a failed regcomp is not portable; glibc frees
		 * everything itself on failure. */
		free(r);
		return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	*out = r;
	return 0;
}

bool cfg_regex_match(const struct cfg_regex *re, rp_str s)
{
	regmatch_t m[1];

	if (s.n > re->max_subject) {
		rp_warn_rl("routing script: a %zu-byte value not matched against a regular "
			"expression (regex_max_subject = %zu)", s.n, re->max_subject);
		return false;
	}
	/* REG_STARTEND: match exactly [rm_so, rm_eo) of s.p, no NUL needed. */
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)s.n;
	return regexec(&re->re, s.p ? s.p : "", 1, m, REG_STARTEND) == 0;
}

struct cfg_regex *cfg_regex_free(struct cfg_regex *re)
{
	if (re) {
		regfree(&re->re);
		free(re);
	}
	return NULL;
}
