/* Reload: cfg_holder publishes a config; a transaction keeps the config it
 * started with (its reference) while reloads swap in new ones, and the old
 * one goes away with its last reference. Run under ASan this also proves no
 * reader ever touches a freed config. */
#include "cfg_eval.h"
#include "cfg_parse.h"
#include "cfg_prog.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <time.h>

static struct cfg *load_agent(const char *ua)
{
	char text[256];
	struct cfg *c = NULL;

	snprintf(text, sizeof(text), "user_agent = \"%s\";\nlisten udp 127.0.0.1:5060;\n"
		"route request { reply 200 \"%s\"; }\n", ua, ua);
	ck_assert_int_eq(cfg_load_string("r.conf", text, strlen(text), &c, NULL), 0);
	return c;
}

static unsigned refs(struct cfg *c)
{
	return atomic_load(&c->refs);
}

struct capture {
	char reason[64];
};

static int cap_reply(void *m, unsigned code, rp_str reason, const rp_str *h, unsigned n)
{
	struct capture *cp = m;

	snprintf(cp->reason, sizeof(cp->reason), "%.*s", RP_STR_FMT(reason));
	return 0;
}

static const struct cfg_ops cap_ops = { .reply = cap_reply };

START_TEST(old_program_stays_valid_while_referenced)
{
	struct cfg_holder h;
	struct cfg *v1 = load_agent("v1"), *v2 = load_agent("v2"), *txn, *now;
	struct capture cp;

	cfg_holder_init(&h, v1);
	txn = cfg_holder_get(&h); /* a transaction starts on v1 */
	ck_assert_ptr_eq(txn, v1);
	ck_assert_uint_eq(refs(v1), 2);

	cfg_holder_swap(&h, v2); /* reload */
	ck_assert_uint_eq(refs(v1), 1); /* only the transaction holds v1 */
	now = cfg_holder_get(&h);
	ck_assert_ptr_eq(now, v2);

	/* the transaction finishes on the program it started with */
	ck_assert_str_eq(cfg_settings(txn)->user_agent, "v1");
	ck_assert_int_eq(cfg_eval(txn, CFG_ROUTE_REQUEST, &cap_ops, &cp), CFG_EV_REPLIED);
	ck_assert_str_eq(cp.reason, "v1");
	ck_assert_int_eq(cfg_eval(now, CFG_ROUTE_REQUEST, &cap_ops, &cp), CFG_EV_REPLIED);
	ck_assert_str_eq(cp.reason, "v2");

	ck_assert_ptr_null(cfg_put(txn)); /* v1 freed here (ASan checks the rest) */
	ck_assert_uint_eq(refs(v2), 2);
	now = cfg_put(now);
	cfg_holder_fini(&h);
	ck_assert_ptr_null(cfg_holder_get(&h));
}
END_TEST

START_TEST(failed_reload_keeps_current)
{
	struct cfg_holder h;
	struct cfg *v1 = load_agent("v1"), *bad = NULL, *c;
	static const char broken[] = "route request { relai; }";

	cfg_holder_init(&h, v1);
	/* the caller only swaps after a successful load */
	ck_assert_int_eq(cfg_load_string("b.conf", broken, sizeof(broken) - 1, &bad, NULL), -EINVAL);
	ck_assert_ptr_null(bad);
	c = cfg_holder_get(&h);
	ck_assert_ptr_eq(c, v1);
	cfg_put(c);
	cfg_holder_fini(&h);
}
END_TEST

#define READERS 4
#define READS 20000
#define SWAPS 200

struct shared {
	struct cfg_holder h;
	atomic_int stop;
	atomic_uint evals;
	atomic_uint bad;
};

static void *reader(void *arg)
{
	struct shared *s = arg;

	/* a minimum of reads, so that they overlap the swaps */
	for (unsigned i = 0; i < READS && (i < 500 || !atomic_load(&s->stop)); i++) {
		struct cfg *c = cfg_holder_get(&s->h);
		struct capture cp;

		if (cfg_eval(c, CFG_ROUTE_REQUEST, &cap_ops, &cp) != CFG_EV_REPLIED ||
		    strcmp(cp.reason, cfg_settings(c)->user_agent) != 0)
			atomic_fetch_add(&s->bad, 1);
		atomic_fetch_add(&s->evals, 1);
		cfg_put(c);
	}
	return NULL;
}

START_TEST(concurrent_swaps_and_readers)
{
	static struct shared s;
	pthread_t th[READERS];

	cfg_holder_init(&s.h, load_agent("gen0"));
	atomic_init(&s.stop, 0);
	atomic_init(&s.evals, 0);
	atomic_init(&s.bad, 0);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &s), 0);
	/* wait (at most 10 s) until the readers run, then swap under them */
	for (time_t end = time(NULL) + 10; atomic_load(&s.evals) < READERS && time(NULL) < end;)
		sched_yield();
	for (int i = 1; i <= SWAPS; i++) {
		char ua[32];

		snprintf(ua, sizeof(ua), "gen%d", i);
		cfg_holder_swap(&s.h, load_agent(ua));
		sched_yield();
	}
	atomic_store(&s.stop, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(atomic_load(&s.bad), 0);
	ck_assert_uint_ge(atomic_load(&s.evals), READERS * 500);
	{
		struct cfg *c = cfg_holder_get(&s.h);

		ck_assert_str_eq(cfg_settings(c)->user_agent, "gen200");
		ck_assert_uint_eq(refs(c), 2);
		cfg_put(c);
	}
	cfg_holder_fini(&s.h);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cfg_reload");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, old_program_stays_valid_while_referenced);
	tcase_add_test(tc, failed_reload_keeps_current);
	tcase_add_test(tc, concurrent_swaps_and_readers);
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
