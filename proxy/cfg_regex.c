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

struct re_scan {
	const char *p;
	size_t n, i;
	bool too_deep;
	uint64_t rep;   /* weight under repetition operators */
};

static uint64_t re_alt(struct re_scan *s, int depth);

static uint64_t re_cap(uint64_t v)
{
	return v > RE_MAX_WEIGHT ? RE_MAX_WEIGHT + 1 : v;
}

static uint64_t re_atom(struct re_scan *s, int depth)
{
	const char *p = s->p;
	uint64_t w = 1;

	if (p[s->i] == '(') {
		s->i++;
		if (depth >= RE_MAX_DEPTH) {
			s->too_deep = true;
			s->i = s->n;
			return RE_MAX_WEIGHT + 1;
		}
		w = re_alt(s, depth + 1);
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
	s->i += p[s->i] == '\\' ? 2 : 1;
	return 1;
}

/* {m}, {m,}, {m,n}: the most copies regcomp makes (0 if not a bound). */
static uint64_t re_bound(struct re_scan *s)
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
	if (hi)
		return n > m ? n : m;
	return comma ? m + 1 : m;
}

static uint64_t re_seq(struct re_scan *s, int depth)
{
	uint64_t sum = 0;

	while (s->i < s->n && s->p[s->i] != '|' && s->p[s->i] != ')') {
		uint64_t w = re_atom(s, depth);
		bool repeated = false;

		for (;;) {
			char q = s->i < s->n ? s->p[s->i] : '\0';
			uint64_t b;

			if (q == '*' || q == '?') {
				s->i++;
			} else if (q == '+') {
				s->i++;
				w = re_cap(w * 2);
			} else if (q == '{' && (b = re_bound(s)) != 0) {
				w = re_cap(w * b);
			} else {
				break;
			}
			repeated = true;
		}
		if (repeated)
			s->rep = re_cap(s->rep + w);
		sum = re_cap(sum + w);
	}
	return sum;
}

static uint64_t re_alt(struct re_scan *s, int depth)
{
	uint64_t sum = re_seq(s, depth);

	while (s->i < s->n && s->p[s->i] == '|') {
		s->i++;
		sum = re_cap(sum + re_seq(s, depth));
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

		/* A stray ')' at the top level ends re_alt early: go on past it. */
		while (sc.i < sc.n) {
			w = re_cap(w + re_alt(&sc, 0));
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
