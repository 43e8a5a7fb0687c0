/* bench_regex (scripts/bench regex): CPU per routing-script regex match
 * against hostile subjects (issue #4). glibc's regexec is quadratic in the
 * subject for most unanchored patterns and grows with the number of NFA
 * states a pattern keeps alive; this prints, per pattern and subject
 * length, the first match (which also builds glibc's state cache) and the
 * median and maximum of the next ones, in thread CPU time. Patterns the
 * config checker refuses are named with its reason. Nothing is asserted.
 *
 *   bench: regex '<pattern>' n=<bytes> first_us=<> median_us=<> max_us=<>
 */
#include "cfg_regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 15

static double cpu_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Subjects that never match: 'a' runs (the patterns below look for a 'b',
 * an 'x' or a digit after many 'a's) with a few 'c's sprinkled in,
 * different each round so that glibc's cache of states does not make every
 * round after the first free. */
static void fill(char *s, size_t n, unsigned round)
{
	memset(s, 'a', n);
	for (unsigned k = 0; round && k < 3; k++)
		s[(round * 7919u + k * 104729u) % n] = 'c';
}

/* Returns false if the pattern is refused (said once). */
static bool run(const char *pat, size_t n)
{
	struct cfg_regex *re;
	char err[256];
	double t[ROUNDS];
	char *s;
	int rc;

	/* No subject cap here: what the cap protects from is measured. */
	rc = cfg_regex_new(rp_str_make(pat, strlen(pat)), false, 1u << 20, &re, err, sizeof(err));
	if (rc < 0) {
		printf("bench: regex '%s' refused: %s\n", pat, err);
		return false;
	}
	s = malloc(n);
	if (!s) {
		cfg_regex_free(re);
		return true;
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		double t0;

		fill(s, n, r);
		t0 = cpu_us();
		(void)cfg_regex_match(re, rp_str_make(s, n));
		t[r] = cpu_us() - t0;
	}
	qsort(t + 1, ROUNDS - 1, sizeof(t[0]), cmp);
	printf("bench: regex '%s' n=%zu first_us=%.0f median_us=%.0f max_us=%.0f\n", pat, n,
		t[0], t[1 + (ROUNDS - 1) / 2], t[ROUNDS - 1]);
	fflush(stdout);
	free(s);
	cfg_regex_free(re);
	return true;
}

int main(int argc, char **argv)
{
	static const char *const pats[] = {
		"a+b", "[a-z]+[0-9]", "(a*)*b", "(.*)*x", "((a+)+)+b", ".{0,128}b",
		"^\\+?[0-9]{6,15}$",
		/* refused since issue #4 */
		".{0,500}b", "(.{0,8}){32}x", "(.{0,100}){50}x",
		/* refused since fuzz_cfg found '^C*+++++' (9 s to compile): '+'
		 * or a bound copying something that can match nothing */
		"(a|a?)+b", "(.{0,8}){14}x", "(.{0,4}){30}x", "(.?){120}x", "^C*+++++",
	};
	static const size_t lens[] = { 256, 512, 1024, 4096 };
	bool big = argc > 1 && strcmp(argv[1], "--big") == 0;

	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++)
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			if (!run(pats[p], lens[l]))
				break;
	/* The old worst cases: 64 KiB subjects take seconds a match. */
	if (big) {
		(void)run("a+b", 65535);
		(void)run("[a-z]+[0-9]", 65535);
	}
	return 0;
}
