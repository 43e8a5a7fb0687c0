/* cfg_check: semantic checks and compilation of a parsed config.
 *
 * Turns the generic item tree into typed settings / listeners / trunks /
 * users (unknown keys, bad values, numbers out of range, duplicates, bad
 * CIDRs are errors), and resolves the routing script: variable, action,
 * function, trunk and route names (with "did you mean" hints), regular
 * expressions precompiled (bad ones reported with regerror's text),
 * recursion between routes rejected, unreachable statements warned about.
 */
#ifndef CFG_CHECK_H
#define CFG_CHECK_H

#include "cfg_diag.h"

#include <stdio.h>

struct cfg;

/* Maximum depth of route() calls (checked at load and at run time). */
#define CFG_MAX_CALL_DEPTH 16

/* Internal step of cfg_load_*: checks the parsed config 'c' in place.
 * Returns 0, -EINVAL (errors in diag) or -ENOMEM. */
int cfg_check(struct cfg *c, struct cfg_diag *diag);

/* For `rampart-proxy --check FILE`: loads FILE, prints every diagnostic
 * and a one-line summary to 'out'. Returns 0 if the config is usable
 * (warnings allowed), 1 if it has errors, 2 if it cannot be read. */
int cfg_check_file(const char *path, FILE *out);

/* Edit distance with a cap, for "did you mean" (exported for tests). */
unsigned cfg_edit_distance(const char *a, size_t an, const char *b, size_t bn);

#endif
