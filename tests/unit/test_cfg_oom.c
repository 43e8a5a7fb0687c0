/* Allocation failure as a test mode: load configs with the Nth allocation
 * failing, for every N until a load succeeds; each attempt must either
 * succeed or fail with -ENOMEM, and leave no block behind (this binary
 * counts live blocks through its own malloc/free). The counting allocator
 * cannot sit under ASan, so these tests only run in a plain build.
 *
 * Only allocations our own code asks for are failed: glibc's regcomp
 * leaks a block when one of its internal allocations fails (seen with
 * glibc 2.36), which is not ours to fix; its allocations are still
 * counted. */
#include "cfg_default.h"
#include "cfg_eval.h"
#include "cfg_prog.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oom_inject.h"
#ifdef OOM_INJECT

static const char *const texts[] = {
	NULL, /* the default config */
	"listen udp 127.0.0.1:5060;\n"
	"trunk t { address = \"a.example\", \"b.example\"; outbound { username = \"u\"; password = \"p\"; } "
	"inbound { source = 10.0.0.0/8; } srtp_suites = AEAD_AES_256_GCM; }\n"
	"user alice { ha1_md5 = \"d03b1c803d446cc473926ad83d7ff641\"; }\n"
	"route request { if (ruri.user =~ '^\\+49[0-9]+$' && src.ip in (10.0.0.0/8, ::1)) { "
	"log(\"$ru ${header.X}\"); route(x); relay t; } reply 404 \"No\"; }\n"
	"route x { if (method !~ 'INV(ITE)?') { return; } media_encryption = require; }\n",
	/* errors: the failure path must free as well */
	"route request { relai; if (x =~ '(') { drop; } }\n",
};

static int load(unsigned i, struct cfg **c)
{
	if (!texts[i])
		return cfg_load_default(c, NULL);
	return cfg_load_string("oom.conf", texts[i], strlen(texts[i]), c, NULL);
}

START_TEST(every_allocation_may_fail)
{
	unsigned i = (unsigned)_i;
	int expect_ok = i < 2;
	long n;

	for (n = 0; n < 100000; n++) {
		struct cfg *c = NULL;
		int rc;

		oom_live = 0;
		oom_countdown = n;
		oom_armed = true;
		rc = load(i, &c);
		if (rc == 0)
			cfg_put(c);
		oom_armed = false;
		ck_assert_msg(oom_live == 0, "text %u, failing allocation %ld: %ld blocks leaked", i, n, oom_live);
		if (oom_countdown >= 0) /* the load needed fewer than n allocations: done */
			break;
		ck_assert_msg(rc == -ENOMEM || (!expect_ok && rc == -EINVAL),
			"text %u, failing allocation %ld: rc %d", i, n, rc);
	}
	ck_assert_msg(n >= 3, "text %u: only %ld allocations?", i, n);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("cfg_oom");
	TCase *tc = tcase_create("core");

#ifdef OOM_INJECT
	tcase_add_loop_test(tc, every_allocation_may_fail, 0, 3);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
