#include "cfg_regex.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfg_regex {
	regex_t re;
};

int cfg_regex_new(rp_str pattern, bool icase, struct cfg_regex **out,
	char *errbuf, size_t errsz)
{
	struct cfg_regex *r;
	char *pat;
	int rc;

	if (memchr(pattern.p ? pattern.p : "", '\0', pattern.n)) {
		snprintf(errbuf, errsz, "NUL byte in pattern");
		return -EINVAL;
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
