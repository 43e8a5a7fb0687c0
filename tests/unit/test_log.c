/* Unit tests for rp_log's rate limiter (issue #3): a made-up clock decides
 * the intervals, so nothing here depends on how fast the machine is. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_log.h"

static uint64_t fake_ms;

static uint64_t fake_clock(void)
{
	return fake_ms;
}

/* Runs with stderr going to a fresh temporary file; returns its fd. */
static int capture_begin(int *saved)
{
	char path[] = "/tmp/rp_log_rl_XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	*saved = dup(STDERR_FILENO);
	ck_assert_int_ge(*saved, 0);
	dup2(fd, STDERR_FILENO);
	return fd;
}

/* Restores stderr; returns what was written (malloc'd, NUL-terminated). */
static char *capture_end(int fd, int saved)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *s = malloc((size_t)len + 1);

	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pread(fd, s, (size_t)len, 0), len);
	s[len] = '\0';
	close(fd);
	return s;
}

static unsigned count_lines(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *l = s; *l; ) {
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);

		if (memmem(l, ll, needle, strlen(needle)))
			n++;
		l += ll + (e ? 1 : 0);
	}
	return n;
}

static void setup(void)
{
	fake_ms = 1000000;
	rp_log_rl_set_clock(fake_clock);
	rp_log_rl_set(3, 1000);
	rp_log_open(RP_LOG_STDERR, "rltest", RP_LOG_INFO);
}

static void teardown(void)
{
	rp_log_rl_set_clock(NULL);
	rp_log_rl_set(RP_LOG_RL_BURST_DEFAULT, RP_LOG_RL_INTERVAL_MS_DEFAULT);
}

START_TEST(test_admit_burst_then_summary)
{
	struct rp_log_rl rl = { 0 };
	uint64_t sum = 99;
	unsigned ok = 0;

	for (int i = 0; i < 10; i++) {
		ok += rp_log_rl_admit(&rl, 5000, &sum);
		ck_assert_uint_eq(sum, 0);
	}
	ck_assert_uint_eq(ok, 3);
	/* Still the same interval one ms before its end. */
	ck_assert(!rp_log_rl_admit(&rl, 5999, &sum));
	ck_assert_uint_eq(sum, 0);
	/* The next interval: admitted, with the 8 suppressed lines to report. */
	ck_assert(rp_log_rl_admit(&rl, 6000, &sum));
	ck_assert_uint_eq(sum, 8);
	ck_assert(rp_log_rl_admit(&rl, 6001, &sum));
	ck_assert_uint_eq(sum, 0);
	ck_assert(rp_log_rl_admit(&rl, 6002, &sum));
	ck_assert(!rp_log_rl_admit(&rl, 6003, &sum));
	/* A quiet interval in between: the one suppressed line is still due. */
	ck_assert(rp_log_rl_admit(&rl, 60000, &sum));
	ck_assert_uint_eq(sum, 1);
	ck_assert(rp_log_rl_admit(&rl, 60000, &sum));
	ck_assert_uint_eq(sum, 0);
}
END_TEST

START_TEST(test_admit_off_and_settings)
{
	struct rp_log_rl rl = { 0 };
	unsigned b, iv;
	uint64_t sum;

	rp_log_rl_set(0, 1000);
	for (int i = 0; i < 1000; i++)
		ck_assert(rp_log_rl_admit(&rl, 5000, &sum));
	rp_log_rl_get(&b, &iv);
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(iv, 1000);
	/* interval 0 is taken as 1 ms rather than "never limit". */
	rp_log_rl_set(1, 0);
	rp_log_rl_get(&b, &iv);
	ck_assert_uint_eq(b, 1);
	ck_assert_uint_eq(iv, 1);
	ck_assert(rp_log_rl_admit(&rl, 9000, &sum));
	ck_assert(!rp_log_rl_admit(&rl, 9000, &sum));
	ck_assert(rp_log_rl_admit(&rl, 9001, &sum));
	ck_assert_uint_eq(sum, 1);
}
END_TEST

START_TEST(test_admit_sites_apart_and_clock_back)
{
	struct rp_log_rl a = { 0 }, b = { 0 };
	uint64_t sum;

	for (int i = 0; i < 3; i++)
		ck_assert(rp_log_rl_admit(&a, 7000, &sum));
	ck_assert(!rp_log_rl_admit(&a, 7000, &sum));
	/* Another site has its own budget. */
	ck_assert(rp_log_rl_admit(&b, 7000, &sum));
	/* A clock that went back (a test's, or a bad one) does not silence
	 * the site until it catches up: it starts a new interval. */
	ck_assert(rp_log_rl_admit(&a, 100, &sum));
	ck_assert_uint_eq(sum, 1);
}
END_TEST

struct hammer {
	struct rp_log_rl *rl;
	unsigned admitted;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	uint64_t sum;

	for (int i = 0; i < 20000; i++)
		if (rp_log_rl_admit(h->rl, 42000, &sum))
			h->admitted++;
	return NULL;
}

/* Lock-free but exact: from four threads at once, exactly 'burst' lines in
 * an interval, and every other one counted for the summary. */
START_TEST(test_admit_threads_exact)
{
	struct rp_log_rl rl = { 0 };
	struct hammer h[4];
	pthread_t t[4];
	unsigned total = 0;
	uint64_t sum;

	rp_log_rl_set(50, 1000);
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .rl = &rl };
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += h[i].admitted;
	}
	ck_assert_uint_eq(total, 50);
	ck_assert(rp_log_rl_admit(&rl, 43000, &sum));
	ck_assert_uint_eq(sum, 4 * 20000 - 50);
}
END_TEST

static void flood(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rp_warn_rl("bad packet %u from %s", i, "192.0.2.1");
}

/* The macro end to end: lines on stderr, one summary with the count. */
START_TEST(test_macro_lines_and_summary)
{
	int saved, fd = capture_begin(&saved);
	char *out;

	flood(1000);
	fake_ms += 1000;
	flood(1);
	out = capture_end(fd, saved);
	ck_assert_uint_eq(count_lines(out, "warn: bad packet "), 4);
	ck_assert_ptr_nonnull(strstr(out, "warn: bad packet 0 from 192.0.2.1\n"));
	ck_assert_ptr_nonnull(strstr(out, "warn: bad packet 2 from 192.0.2.1\n"));
	ck_assert_ptr_null(strstr(out, "bad packet 3 "));
	ck_assert_uint_eq(count_lines(out, "similar message"), 1);
	ck_assert_ptr_nonnull(strstr(out, "warn: 997 similar messages suppressed "
		"(test_log.c:"));
	ck_assert_ptr_nonnull(strstr(out, "\"bad packet %u from %s\")\n"));
	/* The summary comes just before the line that starts the new
	 * interval (flood(1) writes "bad packet 0" again). */
	{
		const char *sum = strstr(out, "997 similar");
		const char *next = strchr(sum, '\n') + 1;

		ck_assert_ptr_nonnull(strstr(next, "warn: bad packet 0 from"));
	}
	free(out);
}
END_TEST

static void flood_info(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rp_info_rl("info flood %u", i);
}

/* rp_log_rl_flush() reports a flood that stopped; levels not logged are
 * neither written nor counted. */
START_TEST(test_flush)
{
	int saved, fd = capture_begin(&saved);
	char *out;

	flood_info(10);
	ck_assert_uint_eq(rp_log_rl_flush(false), 0);     /* interval not over */
	fake_ms += 999;
	ck_assert_uint_eq(rp_log_rl_flush(false), 0);
	fake_ms += 1;
	ck_assert_uint_eq(rp_log_rl_flush(false), 1);
	ck_assert_uint_eq(rp_log_rl_flush(false), 0);     /* written once */
	flood_info(5);                                    /* new interval: 3 + 2 */
	ck_assert_uint_eq(rp_log_rl_flush(true), 1);      /* at exit: at once */
	rp_log_set_level(RP_LOG_NOTICE);
	fake_ms += 5000;
	flood_info(100);
	rp_log_set_level(RP_LOG_INFO);
	ck_assert_uint_eq(rp_log_rl_flush(true), 0);
	out = capture_end(fd, saved);
	ck_assert_uint_eq(count_lines(out, "info: info flood "), 6);
	ck_assert_uint_eq(count_lines(out, "info: 7 similar messages suppressed"), 1);
	ck_assert_uint_eq(count_lines(out, "info: 2 similar messages suppressed"), 1);
	ck_assert_uint_eq(count_lines(out, "similar"), 2);
	free(out);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("ratelimit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_admit_burst_then_summary);
	tcase_add_test(tc, test_admit_off_and_settings);
	tcase_add_test(tc, test_admit_sites_apart_and_clock_back);
	tcase_add_test(tc, test_admit_threads_exact);
	tcase_add_test(tc, test_macro_lines_and_summary);
	tcase_add_test(tc, test_flush);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
