/* cfg_ck: helpers shared by the two halves of the config checker,
 * cfg_check.c (settings, listeners, trunks, users) and cfg_script.c (the
 * routing script). Internal to the cfg_* modules.
 */
#ifndef CFG_CK_H
#define CFG_CK_H

#include "cfg_parse.h"

#include <stdbool.h>
#include <stddef.h>

/* One check run. */
struct cfg_ck {
	struct cfg *c;
	struct cfg_diag *d;
	unsigned errors;
	bool nomem;
};

/* For "%.*s" of user text, cut to 60 bytes. */
#define SHOWN(s) (int)((s).n > 60 ? 60 : (s).n), (s).p

void cfg_ck_err(struct cfg_ck *k, struct cfg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cfg_ck_warn(struct cfg_ck *k, struct cfg_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Zeroed arena memory / arena copy; NULL (and k->nomem set) on failure. */
void *cfg_ck_alloc(struct cfg_ck *k, size_t n);
const char *cfg_ck_strdup(struct cfg_ck *k, rp_str s);

/* "did you mean": feed candidates, then the hint text (or ""). */
struct cfg_suggest {
	rp_str word;
	const char *best;
	size_t best_len;
	unsigned dist;
};
void cfg_ck_suggest_init(struct cfg_suggest *s, rp_str word);
void cfg_ck_suggest_try(struct cfg_suggest *s, const char *cand, size_t n);
const char *cfg_ck_suggest_text(const struct cfg_suggest *s, char *buf, size_t n);

/* Index of v in the NULL-terminated 'names', or -1 with an error reported. */
int cfg_ck_enum(struct cfg_ck *k, const struct cfg_value *v, const char *what,
	const char *const *names);
extern const char *const cfg_ck_media_names[]; /* disable, allow, require */

bool cfg_ck_valid_name(rp_str s);
bool cfg_ck_parse_cidr(rp_str s, struct cfg_cidr *out);

/* cfg_script.c: resolves and checks every route block. */
void cfg_ck_script(struct cfg_ck *k);

#endif
