/* oom_inject.h: allocation failure as a test mode (STYLE practice 10).
 *
 * Included by exactly one .c of a test executable: it replaces malloc,
 * calloc, realloc and free for the whole binary, counts the blocks our code
 * holds while 'oom_armed', and fails the allocation after 'oom_countdown'
 * more. Only allocations whose caller lies in the executable's own text
 * (our code and the static rp_* libraries) are failed: libc's internal
 * allocations (e.g. regcomp's) are counted but never failed, since their
 * leaks on failure are not ours to fix.
 *
 * Sanitizers bring their own allocator: there OOM_INJECT is left undefined
 * and the tests that need it are not registered.
 */
#ifndef OOM_INJECT_H
#define OOM_INJECT_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_INJECT_UNAVAILABLE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OOM_INJECT_UNAVAILABLE 1
#endif
#endif

#ifndef OOM_INJECT_UNAVAILABLE
#define OOM_INJECT 1

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern const char __executable_start[], etext[];

static bool oom_armed;
static long oom_countdown; /* allocations left before the one that fails */
static long oom_live;      /* blocks allocated minus freed while armed */

static bool oom_ours(const void *caller)
{
	return (const char *)caller >= __executable_start && (const char *)caller < etext;
}

#define OOM_FAIL_NOW() \
	(oom_armed && oom_ours(__builtin_return_address(0)) && oom_countdown-- == 0)

void *malloc(size_t n)
{
	void *p;

	if (OOM_FAIL_NOW())
		return NULL;
	p = __libc_malloc(n);
	if (p && oom_armed)
		oom_live++;
	return p;
}

void *calloc(size_t n, size_t m)
{
	void *p;

	if (OOM_FAIL_NOW())
		return NULL;
	p = __libc_calloc(n, m);
	if (p && oom_armed)
		oom_live++;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	if (OOM_FAIL_NOW())
		return NULL;
	p = __libc_realloc(old, n);
	if (p && !old && oom_armed)
		oom_live++;
	return p;
}

void free(void *p)
{
	if (p && oom_armed)
		oom_live--;
	__libc_free(p);
}
#endif
#endif
