/* Unit tests for common/rp_arena. */
#include <check.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"

static bool aligned(const void *p)
{
	return ((uintptr_t)p % alignof(max_align_t)) == 0;
}

START_TEST(test_stack_storage_first)
{
	alignas(max_align_t) char storage[1024];
	rp_arena a;
	char *p, *q;

	rp_arena_init(&a, storage, sizeof(storage), 0);
	p = rp_arena_alloc(&a, 100);
	q = rp_arena_alloc(&a, 100);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	/* Both come from the caller's storage: no heap yet. */
	ck_assert(p >= storage && p + 100 <= storage + sizeof(storage));
	ck_assert(q >= storage && q + 100 <= storage + sizeof(storage));
	ck_assert(p + 100 <= q);
	ck_assert(aligned(p) && aligned(q));
	ck_assert_uint_eq(a.heap_bytes, 0);
	/* Overflowing the storage spills to the heap. */
	p = rp_arena_alloc(&a, 2000);
	ck_assert_ptr_nonnull(p);
	ck_assert(!(p >= storage && p < storage + sizeof(storage)));
	ck_assert_uint_ge(a.heap_bytes, 2000);
	memset(p, 0xab, 2000);
	rp_arena_fini(&a);
	ck_assert_uint_eq(a.heap_bytes, 0);
}
END_TEST

START_TEST(test_unaligned_storage)
{
	alignas(max_align_t) char storage[64];
	rp_arena a;
	char *p;

	/* Misaligned caller storage still yields aligned pointers. */
	rp_arena_init(&a, storage + 1, sizeof(storage) - 1, 0);
	p = rp_arena_alloc(&a, 8);
	ck_assert(aligned(p));
	ck_assert(p >= storage + 1 && p + 8 <= storage + sizeof(storage));
	/* Too little left after alignment: must not return memory past the end. */
	rp_arena_init(&a, storage + 1, 15, 0);
	p = rp_arena_alloc(&a, 8);
	ck_assert(!(p >= storage && p < storage + sizeof(storage)));
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_heap_only_and_alignment)
{
	rp_arena a;

	rp_arena_init(&a, NULL, 0, 0);
	for (int i = 1; i < 2000; i += 7) {
		char *p = rp_arena_alloc(&a, (size_t)i);

		ck_assert_ptr_nonnull(p);
		ck_assert(aligned(p));
		memset(p, i & 0xff, (size_t)i);
	}
	/* Zero-size allocations are distinct valid pointers. */
	char *z1 = rp_arena_alloc(&a, 0), *z2 = rp_arena_alloc(&a, 0);
	ck_assert_ptr_nonnull(z1);
	ck_assert_ptr_ne(z1, z2);
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_zalloc_strndup)
{
	rp_arena a;
	unsigned char *z;
	char *s;

	rp_arena_init(&a, NULL, 0, 0);
	z = rp_arena_alloc(&a, 64);
	memset(z, 0xff, 64);
	rp_arena_reset(&a);
	z = rp_arena_zalloc(&a, 64);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(z[i], 0);
	s = rp_arena_strndup(&a, "hello world", 5);
	ck_assert_str_eq(s, "hello");
	s = rp_arena_strndup(&a, NULL, 0);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_null(rp_arena_strndup(&a, "x", SIZE_MAX));
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_limit)
{
	rp_arena a;
	size_t total = 0;

	rp_arena_init(&a, NULL, 0, 10000);
	ck_assert_ptr_null(rp_arena_alloc(&a, 10001));
	for (int i = 0; i < 100; i++) {
		void *p = rp_arena_alloc(&a, 1000);

		if (!p)
			break;
		total += 1000;
	}
	/* Never more heap than the limit, and the limit is usable. */
	ck_assert_uint_le(a.heap_bytes, 10000);
	ck_assert_uint_ge(total, 8000);
	ck_assert_uint_le(total, 10000);
	ck_assert_ptr_null(rp_arena_alloc(&a, 5000));
	/* Huge sizes fail cleanly instead of wrapping. */
	ck_assert_ptr_null(rp_arena_alloc(&a, SIZE_MAX));
	rp_arena_reset(&a);
	ck_assert_ptr_nonnull(rp_arena_alloc(&a, 5000));
	rp_arena_fini(&a);

	rp_arena_init(&a, NULL, 0, 0);
	ck_assert_ptr_null(rp_arena_alloc(&a, SIZE_MAX));
	ck_assert_ptr_null(rp_arena_alloc(&a, SIZE_MAX - 8));
	ck_assert_ptr_null(rp_arena_strndup(&a, "x", SIZE_MAX - 1));
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_realloc)
{
	alignas(max_align_t) char storage[256];
	rp_arena a;
	char *p, *q, *r;

	rp_arena_init(&a, storage, sizeof(storage), 0);
	p = rp_arena_alloc(&a, 16);
	memcpy(p, "0123456789abcdef", 16);
	/* Last allocation grows in place. */
	q = rp_arena_realloc(&a, p, 16, 64);
	ck_assert_ptr_eq(p, q);
	ck_assert_int_eq(memcmp(q, "0123456789abcdef", 16), 0);
	/* Not the last one any more: moves and keeps the content. */
	r = rp_arena_alloc(&a, 8);
	ck_assert_ptr_nonnull(r);
	q = rp_arena_realloc(&a, p, 64, 128);
	ck_assert_ptr_ne(q, p);
	ck_assert_int_eq(memcmp(q, "0123456789abcdef", 16), 0);
	/* Shrinking is a no-op. */
	ck_assert_ptr_eq(rp_arena_realloc(&a, q, 128, 10), q);
	/* Growing past the storage spills to the heap, content kept. */
	r = rp_arena_realloc(&a, q, 128, 5000);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(memcmp(r, "0123456789abcdef", 16), 0);
	/* NULL behaves like alloc. */
	ck_assert_ptr_nonnull(rp_arena_realloc(&a, NULL, 0, 32));
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_reset_reuses_storage)
{
	alignas(max_align_t) char storage[512];
	rp_arena a;
	char *first, *again;

	rp_arena_init(&a, storage, sizeof(storage), 0);
	first = rp_arena_alloc(&a, 32);
	for (int i = 0; i < 50; i++)
		ck_assert_ptr_nonnull(rp_arena_alloc(&a, 1000));
	ck_assert_uint_gt(a.heap_bytes, 0);
	rp_arena_reset(&a);
	ck_assert_uint_eq(a.heap_bytes, 0);
	ck_assert_ptr_null(a.head);
	again = rp_arena_alloc(&a, 32);
	ck_assert_ptr_eq(first, again);
	/* Many reset cycles do not leak (checked under ASan/valgrind). */
	for (int r = 0; r < 100; r++) {
		for (int i = 0; i < 20; i++)
			ck_assert_ptr_nonnull(rp_arena_alloc(&a, 300));
		rp_arena_reset(&a);
	}
	rp_arena_fini(&a);
}
END_TEST

START_TEST(test_geometric_growth)
{
	rp_arena a;

	rp_arena_init(&a, NULL, 0, 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_ptr_nonnull(rp_arena_alloc(&a, 100));
	/* ~1.1 MB asked for (with alignment): doubling chunks waste at most
	 * about as much again. */
	ck_assert_uint_ge(a.heap_bytes, 10000 * 100);
	ck_assert_uint_le(a.heap_bytes, 4 * 10000 * 112);
	rp_arena_fini(&a);
}
END_TEST

static Suite *arena_suite(void)
{
	Suite *s = suite_create("rp_arena");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_stack_storage_first);
	tcase_add_test(tc, test_unaligned_storage);
	tcase_add_test(tc, test_heap_only_and_alignment);
	tcase_add_test(tc, test_zalloc_strndup);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_realloc);
	tcase_add_test(tc, test_reset_reuses_storage);
	tcase_add_test(tc, test_geometric_growth);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(arena_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
