/* Unit tests for the common/ utilities: rp_buf, rp_hash, rp_time, rp_json,
 * rp_log. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_buf.h"
#include "rp_hash.h"
#include "rp_json.h"
#include "rp_log.h"
#include "rp_time.h"

/* ------------------------------------------------------------------ buf */

START_TEST(test_buf_append)
{
	rp_buf b;

	rp_buf_init(&b, 0);
	ck_assert_str_eq(rp_buf_cstr(&b), "");
	ck_assert_int_eq(rp_buf_append(&b, "ab", 2), 0);
	ck_assert_int_eq(rp_buf_append_cstr(&b, "cd"), 0);
	ck_assert_int_eq(rp_buf_append_byte(&b, 'e'), 0);
	ck_assert_int_eq(rp_buf_append_str(&b, RP_STR_LIT("fg")), 0);
	ck_assert_int_eq(rp_buf_append_u64(&b, 0), 0);
	ck_assert_int_eq(rp_buf_append_u64(&b, UINT64_MAX), 0);
	ck_assert_int_eq(rp_buf_append_i64(&b, INT64_MIN), 0);
	ck_assert_int_eq(rp_buf_append_i64(&b, -7), 0);
	ck_assert_int_eq(rp_buf_append_i64(&b, 42), 0);
	ck_assert_str_eq(rp_buf_cstr(&b),
			 "abcdefg018446744073709551615-9223372036854775808-742");
	ck_assert_uint_eq(b.len, strlen(rp_buf_cstr(&b)));
	/* Binary content including NUL. */
	rp_buf_reset(&b);
	ck_assert_int_eq(rp_buf_append(&b, "a\0b", 3), 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert(rp_str_eq(rp_buf_str(&b), rp_str_make("a\0b", 3)));
	rp_buf_free(&b);
	ck_assert_ptr_null(b.p);
}
END_TEST

START_TEST(test_buf_grow_many)
{
	rp_buf b = RP_BUF_INIT;

	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(rp_buf_append_byte(&b, (char)('a' + i % 26)), 0);
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_uint_gt(b.cap, b.len);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(b.p[i], 'a' + i % 26);
	ck_assert_int_eq(b.p[b.len], '\0');
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_buf_printf)
{
	rp_buf b;
	char big[5000];

	rp_buf_init(&b, 0);
	ck_assert_int_eq(rp_buf_printf(&b, "%s=%d", "x", 5), 0);
	ck_assert_str_eq(rp_buf_cstr(&b), "x=5");
	/* Longer than the spare room: must take the second pass. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(rp_buf_printf(&b, "[%s]", big), 0);
	ck_assert_uint_eq(b.len, 3 + 2 + 4999);
	ck_assert_int_eq(b.p[3], '[');
	ck_assert_int_eq(b.p[b.len - 1], ']');
	ck_assert_int_eq(b.p[b.len], '\0');
	ck_assert_int_eq(rp_buf_printf(&b, "%s", ""), 0);
	ck_assert_uint_eq(b.len, 3 + 2 + 4999);
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_buf_max_sticky)
{
	rp_buf b;

	rp_buf_init(&b, 10);
	ck_assert_int_eq(rp_buf_append(&b, "0123456789", 10), 0);
	ck_assert_int_eq(rp_buf_append_byte(&b, 'x'), -EMSGSIZE);
	/* Content unchanged, error sticky. */
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(rp_buf_cstr(&b), "0123456789");
	ck_assert_int_eq(rp_buf_error(&b), -EMSGSIZE);
	ck_assert_int_eq(rp_buf_append(&b, "", 0), -EMSGSIZE);
	ck_assert_ptr_null(rp_buf_steal(&b, NULL));
	rp_buf_reset(&b);
	ck_assert_int_eq(rp_buf_error(&b), 0);
	ck_assert_int_eq(rp_buf_printf(&b, "%s", "0123456789a"), -EMSGSIZE);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(rp_buf_cstr(&b), "");
	rp_buf_reset(&b);
	ck_assert_int_eq(rp_buf_printf(&b, "%s", "0123456789"), 0);
	ck_assert_int_eq(rp_buf_reserve(&b, 1), -EMSGSIZE);
	/* Cap does not make it allocate beyond max + NUL. */
	ck_assert_uint_le(b.cap, 11);
	rp_buf_free(&b);
	/* Sizes that would overflow are refused, not wrapped. */
	rp_buf_init(&b, 0);
	ck_assert_int_eq(rp_buf_append(&b, "ab", 2), 0);
	ck_assert_int_eq(rp_buf_reserve(&b, SIZE_MAX - 1), -ENOMEM);
	ck_assert_uint_eq(b.len, 2);
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_buf_truncate_consume_steal)
{
	rp_buf b;
	size_t n = 0;
	char *p;

	rp_buf_init(&b, 0);
	rp_buf_set_secure(&b, true);
	rp_buf_append_cstr(&b, "hello world");
	rp_buf_truncate(&b, 5);
	ck_assert_str_eq(rp_buf_cstr(&b), "hello");
	/* Wiped after the cut. */
	ck_assert_int_eq(b.p[6], 0);
	rp_buf_truncate(&b, 50);
	ck_assert_uint_eq(b.len, 5);
	rp_buf_consume(&b, 2);
	ck_assert_str_eq(rp_buf_cstr(&b), "llo");
	rp_buf_consume(&b, 99);
	ck_assert_uint_eq(b.len, 0);
	rp_buf_append_cstr(&b, "key");
	p = rp_buf_steal(&b, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(p, "key");
	free(p);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
	/* Reusable after steal; steal of an empty buffer gives "". */
	p = rp_buf_steal(&b, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(p, "");
	free(p);
	/* Secure growth keeps the content across reallocation. */
	for (int i = 0; i < 1000; i++)
		rp_buf_append_byte(&b, 'k');
	ck_assert_uint_eq(b.len, 1000);
	ck_assert_int_eq(b.p[999], 'k');
	rp_buf_free(&b);
}
END_TEST

/* ----------------------------------------------------------------- hash */

START_TEST(test_siphash_vectors)
{
	/* Reference vectors from the SipHash paper: key 00..0f. */
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	ck_assert(rp_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	ck_assert(rp_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	/* 1-3 differs from 2-4 and depends on the key and every byte. */
	ck_assert(rp_siphash13(key, msg, 15) != rp_siphash24(key, msg, 15));
	uint64_t h = rp_siphash13(key, msg, 20);
	msg[19] ^= 1;
	ck_assert(rp_siphash13(key, msg, 20) != h);
	msg[19] ^= 1;
	key[0] ^= 1;
	ck_assert(rp_siphash13(key, msg, 20) != h);
}
END_TEST

START_TEST(test_hash_basic)
{
	rp_hash *h = NULL;
	int v1 = 1, v2 = 2, v3 = 3;

	ck_assert_int_eq(rp_hash_new(0, 0, &h), 0);
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_LIT("a84b4c76e66710"), &v1), 0);
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_LIT("z9hG4bK776asdhds"), &v2), 0);
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_NULL, &v3), 0);
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_LIT("a84b4c76e66710"), &v3), -EEXIST);
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_LIT("x"), NULL), -EINVAL);
	ck_assert_uint_eq(rp_hash_count(h), 3);
	ck_assert_ptr_eq(rp_hash_find(h, RP_STR_LIT("a84b4c76e66710")), &v1);
	ck_assert_ptr_eq(rp_hash_find(h, RP_STR_LIT("z9hG4bK776asdhds")), &v2);
	ck_assert_ptr_eq(rp_hash_find(h, RP_STR_NULL), &v3);
	ck_assert_ptr_null(rp_hash_find(h, RP_STR_LIT("a84b4c76e6671")));
	ck_assert_ptr_null(rp_hash_find(h, RP_STR_LIT("A84b4c76e66710")));
	/* Binary keys: same prefix up to a NUL are different keys. */
	ck_assert_int_eq(rp_hash_insert(h, rp_str_make("k\0a", 3), &v1), 0);
	ck_assert_int_eq(rp_hash_insert(h, rp_str_make("k\0b", 3), &v2), 0);
	ck_assert_ptr_eq(rp_hash_find(h, rp_str_make("k\0b", 3)), &v2);
	ck_assert_ptr_eq(rp_hash_remove(h, RP_STR_LIT("a84b4c76e66710")), &v1);
	ck_assert_ptr_null(rp_hash_remove(h, RP_STR_LIT("a84b4c76e66710")));
	ck_assert_ptr_null(rp_hash_find(h, RP_STR_LIT("a84b4c76e66710")));
	ck_assert_uint_eq(rp_hash_count(h), 4);
	rp_hash_free(h);
	rp_hash_free(NULL);
}
END_TEST

static const uint8_t test_seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

START_TEST(test_hash_many_grow_shrink)
{
	enum { N = 20000 };
	rp_hash *h = NULL;
	char (*keys)[24] = malloc(N * sizeof(*keys));
	int *vals = malloc(N * sizeof(int));

	ck_assert_int_eq(rp_hash_new_seeded(0, 0, test_seed, &h), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "call-%d@10.0.0.1", i);
		vals[i] = i;
		ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(keys[i]), &vals[i]), 0);
	}
	ck_assert_uint_eq(rp_hash_count(h), N);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_eq(rp_hash_find(h, rp_str_cstr(keys[i])), &vals[i]);
	/* Remove the even ones; the odd ones must all remain findable. */
	for (int i = 0; i < N; i += 2)
		ck_assert_ptr_eq(rp_hash_remove(h, rp_str_cstr(keys[i])), &vals[i]);
	for (int i = 0; i < N; i++) {
		void *v = rp_hash_find(h, rp_str_cstr(keys[i]));

		if (i % 2)
			ck_assert_ptr_eq(v, &vals[i]);
		else
			ck_assert_ptr_null(v);
	}
	/* Churn: many insert/remove cycles reuse tombstones and rebuild. */
	for (int r = 0; r < 5; r++) {
		for (int i = 0; i < N; i += 2)
			ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(keys[i]), &vals[i]), 0);
		for (int i = 0; i < N; i += 2)
			ck_assert_ptr_eq(rp_hash_remove(h, rp_str_cstr(keys[i])), &vals[i]);
	}
	ck_assert_uint_eq(rp_hash_count(h), N / 2);
	for (int i = 1; i < N; i += 2)
		ck_assert_ptr_eq(rp_hash_remove(h, rp_str_cstr(keys[i])), &vals[i]);
	ck_assert_uint_eq(rp_hash_count(h), 0);
	ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(keys[5]), &vals[5]), 0);
	ck_assert_ptr_eq(rp_hash_find(h, rp_str_cstr(keys[5])), &vals[5]);
	rp_hash_free(h);
	free(keys);
	free(vals);
}
END_TEST

START_TEST(test_hash_copy_keys)
{
	rp_hash *h = NULL;
	char key[16];
	int v = 1;
	rp_hash_iter it;
	rp_str k;

	ck_assert_int_eq(rp_hash_new(4, RP_HASH_COPY_KEYS, &h), 0);
	strcpy(key, "transient");
	ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(key), &v), 0);
	/* The caller's buffer is reused: the table's copy must still match. */
	strcpy(key, "different");
	ck_assert_ptr_null(rp_hash_find(h, rp_str_cstr(key)));
	ck_assert_ptr_eq(rp_hash_find(h, RP_STR_LIT("transient")), &v);
	rp_hash_iter_init(h, &it);
	ck_assert(rp_hash_iter_next(&it, &k, NULL));
	ck_assert(rp_str_eq_cstr(k, "transient"));
	ck_assert_ptr_ne(k.p, key);
	/* Entries left in the table are freed with it (ASan checks). */
	ck_assert_int_eq(rp_hash_insert(h, RP_STR_LIT("second"), &v), 0);
	ck_assert_ptr_eq(rp_hash_remove(h, RP_STR_LIT("transient")), &v);
	rp_hash_free(h);
}
END_TEST

START_TEST(test_hash_iterate_remove)
{
	enum { N = 1000 };
	rp_hash *h = NULL;
	static char keys[N][12];
	static int vals[N];
	static unsigned char seen[N];
	rp_hash_iter it;
	rp_str k;
	void *v;
	size_t visited = 0;

	ck_assert_int_eq(rp_hash_new(0, 0, &h), 0);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		vals[i] = i;
		ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(keys[i]), &vals[i]), 0);
	}
	memset(seen, 0, sizeof(seen));
	/* Remove every visited entry divisible by 3, and also, from inside the
	 * loop, entries that may not have been visited yet (i+1 when i%3==1). */
	rp_hash_iter_init(h, &it);
	while (rp_hash_iter_next(&it, &k, &v)) {
		int i = *(int *)v;

		ck_assert_uint_eq(seen[i], 0);
		seen[i] = 1;
		visited++;
		if (i % 3 == 0)
			ck_assert_ptr_eq(rp_hash_remove(h, k), v);
		if (i % 3 == 1 && i + 1 < N && !seen[i + 1])
			ck_assert_ptr_eq(rp_hash_remove(h, rp_str_cstr(keys[i + 1])), &vals[i + 1]);
	}
	ck_assert(!rp_hash_iter_broken(&it));
	/* Each entry still present was visited exactly once; those removed
	 * behind the iterator's back (i%3==2, unseen) are gone. */
	for (int i = 0; i < N; i++) {
		void *f = rp_hash_find(h, rp_str_cstr(keys[i]));

		if (i % 3 == 0)
			ck_assert(seen[i] && f == NULL);
		else if (i % 3 == 1)
			ck_assert(seen[i] && f == &vals[i]);
		else
			ck_assert(seen[i] ? f == &vals[i] : f == NULL);
	}
	ck_assert_uint_ge(visited, N * 2 / 3);

	/* Inserting during iteration until a rebuild: the iterator stops and
	 * says it is broken instead of visiting stale slots. */
	enum { M = 8192 };
	char (*more)[12] = malloc(M * sizeof(*more));
	int added = 0;
	rp_hash_iter_init(h, &it);
	while (rp_hash_iter_next(&it, NULL, NULL) && added < M) {
		for (int r = 0; r < 64 && added < M; r++, added++) {
			snprintf(more[added], sizeof(more[added]), "m%d", added);
			ck_assert_int_eq(rp_hash_insert(h, rp_str_cstr(more[added]), &vals[0]), 0);
		}
	}
	ck_assert(rp_hash_iter_broken(&it));
	ck_assert_uint_lt((unsigned)added, M);
	rp_hash_free(h);
	free(more);
}
END_TEST

START_TEST(test_hash_seeds_differ)
{
	rp_hash *a = NULL, *b = NULL;

	/* Two tables keyed from getrandom() place keys differently: probe a
	 * key's first slot through the public API is not possible, so compare
	 * iteration orders over the same key set. */
	ck_assert_int_eq(rp_hash_new(64, 0, &a), 0);
	ck_assert_int_eq(rp_hash_new(64, 0, &b), 0);
	static char keys[40][8];
	int one = 1;
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof(keys[i]), "c%d", i);
		rp_hash_insert(a, rp_str_cstr(keys[i]), &one);
		rp_hash_insert(b, rp_str_cstr(keys[i]), &one);
	}
	rp_hash_iter ia, ib;
	rp_str ka, kb;
	int same = 0;
	rp_hash_iter_init(a, &ia);
	rp_hash_iter_init(b, &ib);
	while (rp_hash_iter_next(&ia, &ka, NULL) && rp_hash_iter_next(&ib, &kb, NULL))
		same += rp_str_eq(ka, kb);
	/* Same order for all 40 keys would mean the same seed. */
	ck_assert_int_lt(same, 40);
	rp_hash_free(a);
	rp_hash_free(b);
}
END_TEST

/* ----------------------------------------------------------------- time */

START_TEST(test_clocks)
{
	uint64_t ns = rp_now_ns(), us = rp_now_us(), ms = rp_now_ms();
	char out[32];

	ck_assert_uint_gt(ns, 0);
	/* Same clock, different units: within a generous second of each other. */
	ck_assert_uint_le(ns / 1000000, ms);
	ck_assert_uint_le(ms - ns / 1000000, 1000);
	ck_assert_uint_le(us - ns / 1000, 1000000);
	ck_assert_uint_ge(rp_now_ns(), ns);
	/* Realtime is after 2020-01-01. */
	ck_assert_uint_gt(rp_realtime_ns(), 1577836800ULL * 1000000000ULL);
	ck_assert_int_eq(rp_time_fmt_utc(1700000000123456789ULL, out, sizeof(out)), 24);
	ck_assert_str_eq(out, "2023-11-14T22:13:20.123Z");
	ck_assert_int_eq(rp_time_fmt_utc(0, out, 25), 24);
	ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
	ck_assert_int_eq(rp_time_fmt_utc(0, out, 24), -ENOSPC);
	ck_assert_str_eq(out, "");
}
END_TEST

struct fired_log {
	int order[64];
	int n;
};

struct tobj {
	rp_timer t;
	int id;
	struct fired_log *log;
	rp_timers *ts;
	int rearm_ms; /* re-arm itself this far ahead, once */
};

static void on_fire(rp_timer *t, void *arg)
{
	struct tobj *o = arg;

	ck_assert_ptr_eq(t, &o->t);
	ck_assert(!rp_timer_armed(t));
	if (o->log->n < 64)
		o->log->order[o->log->n++] = o->id;
	if (o->rearm_ms) {
		int d = o->rearm_ms;

		o->rearm_ms = 0;
		ck_assert_int_eq(rp_timers_add(o->ts, t, rp_timer_expires(t) + (uint64_t)d), 0);
	}
}

START_TEST(test_timers_order_cancel)
{
	rp_timers *ts = NULL;
	struct fired_log log = { .n = 0 };
	struct tobj o[6];
	static const uint64_t at[6] = { 500, 100, 300, 100, 4000, 200 };

	ck_assert_int_eq(rp_timers_new(2, &ts), 0);
	ck_assert_int_eq(rp_timers_timeout_ms(ts, 0), -1);
	ck_assert(rp_timers_next(ts) == UINT64_MAX);
	for (int i = 0; i < 6; i++) {
		o[i] = (struct tobj){ .id = i, .log = &log, .ts = ts };
		rp_timer_init(&o[i].t, on_fire, &o[i]);
		ck_assert(!rp_timer_armed(&o[i].t));
		ck_assert_int_eq(rp_timers_add(ts, &o[i].t, at[i]), 0);
		ck_assert(rp_timer_armed(&o[i].t));
	}
	ck_assert_uint_eq(rp_timers_count(ts), 6);
	ck_assert_uint_eq(rp_timers_next(ts), 100);
	ck_assert_int_eq(rp_timers_timeout_ms(ts, 40), 60);
	ck_assert_int_eq(rp_timers_timeout_ms(ts, 150), 0);
	/* Cancel one (200), re-arm another (500 -> 250), cancel twice is ok. */
	rp_timers_cancel(ts, &o[5].t);
	rp_timers_cancel(ts, &o[5].t);
	ck_assert(!rp_timer_armed(&o[5].t));
	ck_assert_int_eq(rp_timers_add(ts, &o[0].t, 250), 0);
	ck_assert_uint_eq(rp_timers_count(ts), 5);
	/* Nothing due yet. */
	ck_assert_uint_eq(rp_timers_expire(ts, 99, 0), 0);
	/* Due at 300: 1 and 3 (same time, armed in that order), 0 (250), 2. */
	ck_assert_uint_eq(rp_timers_expire(ts, 300, 0), 4);
	ck_assert_int_eq(log.n, 4);
	ck_assert_int_eq(log.order[0], 1);
	ck_assert_int_eq(log.order[1], 3);
	ck_assert_int_eq(log.order[2], 0);
	ck_assert_int_eq(log.order[3], 2);
	ck_assert_uint_eq(rp_timers_count(ts), 1);
	ck_assert_int_eq(rp_timers_timeout_ms(ts, 300), 3700);
	/* Far future clamps instead of overflowing an int. */
	rp_timers_cancel(ts, &o[4].t);
	ck_assert_int_eq(rp_timers_add(ts, &o[5].t, UINT64_MAX - 1), 0);
	ck_assert_int_eq(rp_timers_timeout_ms(ts, 5000), INT32_MAX);
	ck_assert_int_eq(rp_timers_add(ts, &o[4].t, 4000), 0);
	rp_timers_free(ts);
	/* Freeing the heap disarms what was left. */
	ck_assert(!rp_timer_armed(&o[4].t));
	ck_assert(!rp_timer_armed(&o[5].t));
}
END_TEST

START_TEST(test_timers_rearm_in_callback_and_bound)
{
	rp_timers *ts = NULL;
	struct fired_log log = { .n = 0 };
	struct tobj o[3];

	ck_assert_int_eq(rp_timers_new(0, &ts), 0);
	for (int i = 0; i < 3; i++) {
		o[i] = (struct tobj){ .id = i, .log = &log, .ts = ts };
		rp_timer_init(&o[i].t, on_fire, &o[i]);
	}
	/* Retransmission style: 0 fires at 10 and re-arms for 10+500. */
	o[0].rearm_ms = 500;
	rp_timers_add(ts, &o[0].t, 10);
	rp_timers_add(ts, &o[1].t, 20);
	rp_timers_add(ts, &o[2].t, 30);
	/* Bound of 2 per call. */
	ck_assert_uint_eq(rp_timers_expire(ts, 1000, 2), 2);
	ck_assert_uint_eq(rp_timers_expire(ts, 1000, 2), 2);
	ck_assert_uint_eq(rp_timers_expire(ts, 1000, 2), 0);
	ck_assert_int_eq(log.n, 4);
	ck_assert_int_eq(log.order[0], 0);
	ck_assert_int_eq(log.order[1], 1);
	ck_assert_int_eq(log.order[2], 2);
	ck_assert_int_eq(log.order[3], 0);
	rp_timers_free(ts);
}
END_TEST

static void count_fire(rp_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
}

START_TEST(test_timers_heap_property_random)
{
	enum { N = 5000 };
	rp_timers *ts = NULL;
	static rp_timer t[N];
	int fired = 0;
	uint64_t x = 88172645463325252ULL, last = 0;

	ck_assert_int_eq(rp_timers_new(1, &ts), 0);
	for (int i = 0; i < N; i++) {
		rp_timer_init(&t[i], count_fire, &fired);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ck_assert_int_eq(rp_timers_add(ts, &t[i], x % 100000), 0);
	}
	/* Cancel and re-arm a pseudo-random third. */
	for (int i = 0; i < N; i += 3) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x & 1)
			rp_timers_cancel(ts, &t[i]);
		else
			ck_assert_int_eq(rp_timers_add(ts, &t[i], x % 100000), 0);
	}
	size_t armed = rp_timers_count(ts);
	/* Pop in steps; deadlines must come out non-decreasing. */
	for (uint64_t now = 0; now <= 100000 && rp_timers_count(ts); now += 997) {
		uint64_t next = rp_timers_next(ts);

		ck_assert_uint_ge(next, last);
		last = next;
		rp_timers_expire(ts, now, 0);
		if (rp_timers_count(ts))
			ck_assert_uint_gt(rp_timers_next(ts), now);
	}
	rp_timers_expire(ts, UINT64_MAX, 0);
	ck_assert_uint_eq((size_t)fired, armed);
	ck_assert_uint_eq(rp_timers_count(ts), 0);
	rp_timers_free(ts);
}
END_TEST

/* Firing order is exactly (deadline, arming order), also with many equal
 * deadlines and re-arms in between: the heap compares the keys it keeps
 * beside each entry, which must follow every re-arm. */
struct fire_log {
	uint64_t exp[3000], seq[3000];
	size_t n;
};

static void log_fire(rp_timer *t, void *arg)
{
	struct fire_log *l = arg;

	l->exp[l->n] = t->expires;
	l->seq[l->n] = t->seq;
	l->n++;
}

START_TEST(test_timers_exact_order_with_ties)
{
	enum { N = 3000 };
	static rp_timer t[N];
	static struct fire_log lg;
	rp_timers *ts = NULL;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	size_t armed;

	lg.n = 0;
	ck_assert_int_eq(rp_timers_new(4, &ts), 0);
	for (int i = 0; i < N; i++) {
		rp_timer_init(&t[i], log_fire, &lg);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ck_assert_int_eq(rp_timers_add(ts, &t[i], 1000 + x % 50), 0);
	}
	for (int round = 0; round < 3; round++)
		for (int i = round; i < N; i += 2) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 5 == 0)
				rp_timers_cancel(ts, &t[i]);
			else
				ck_assert_int_eq(rp_timers_add(ts, &t[i], 1000 + x % 50), 0);
		}
	armed = rp_timers_count(ts);
	ck_assert_uint_eq(rp_timers_expire(ts, 1024, 0) + rp_timers_expire(ts, UINT64_MAX, 0),
		armed);
	ck_assert_uint_eq(lg.n, armed);
	for (size_t i = 1; i < lg.n; i++)
		ck_assert(lg.exp[i - 1] < lg.exp[i] ||
			(lg.exp[i - 1] == lg.exp[i] && lg.seq[i - 1] < lg.seq[i]));
	rp_timers_free(ts);
}
END_TEST

/* ----------------------------------------------------------------- json */

START_TEST(test_json_compact)
{
	rp_buf b;
	rp_json j;

	rp_buf_init(&b, 0);
	rp_json_init(&j, &b, 0);
	rp_json_obj_begin(&j);
	rp_json_kv_cstr(&j, "method", "INVITE");
	rp_json_kv_int(&j, "cseq", -12);
	rp_json_kv_uint(&j, "big", UINT64_MAX);
	rp_json_kv_bool(&j, "tls", true);
	rp_json_key(&j, "none");
	rp_json_null(&j);
	rp_json_key(&j, "list");
	rp_json_arr_begin(&j);
	rp_json_int(&j, 1);
	rp_json_bool(&j, false);
	rp_json_arr_begin(&j);
	rp_json_arr_end(&j);
	rp_json_obj_begin(&j);
	rp_json_obj_end(&j);
	rp_json_double(&j, 0.1);
	rp_json_double(&j, NAN);
	rp_json_arr_end(&j);
	rp_json_obj_end(&j);
	ck_assert_int_eq(rp_json_finish(&j), 0);
	ck_assert_str_eq(rp_buf_cstr(&b),
			 "{\"method\":\"INVITE\",\"cseq\":-12,\"big\":18446744073709551615,"
			 "\"tls\":true,\"none\":null,\"list\":[1,false,[],{},0.1,null]}");
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_json_pretty)
{
	rp_buf b;
	rp_json j;

	rp_buf_init(&b, 0);
	rp_json_init(&j, &b, RP_JSON_PRETTY);
	rp_json_obj_begin(&j);
	rp_json_kv_cstr(&j, "a", "x");
	rp_json_key(&j, "b");
	rp_json_arr_begin(&j);
	rp_json_int(&j, 1);
	rp_json_int(&j, 2);
	rp_json_arr_end(&j);
	rp_json_key(&j, "c");
	rp_json_obj_begin(&j);
	rp_json_obj_end(&j);
	rp_json_obj_end(&j);
	ck_assert_int_eq(rp_json_finish(&j), 0);
	ck_assert_str_eq(rp_buf_cstr(&b),
			 "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}\n");
	rp_buf_free(&b);
}
END_TEST

static const char *escaped(rp_buf *b, rp_str s)
{
	rp_buf_reset(b);
	ck_assert_int_eq(rp_json_escape(b, s), 0);
	return rp_buf_cstr(b);
}

START_TEST(test_json_escape)
{
	rp_buf b;

	rp_buf_init(&b, 0);
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("plain")), "\"plain\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("q\"b\\s/")), "\"q\\\"b\\\\s/\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\r\n\t\b\f")), "\"\\r\\n\\t\\b\\f\"");
	ck_assert_str_eq(escaped(&b, rp_str_make("\x00\x01\x1f\x7f", 4)),
			 "\"\\u0000\\u0001\\u001f\\u007f\"");
	/* Valid UTF-8 passes through: é, €, U+1F600. */
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80")),
			 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* Invalid: lone continuation, overlong '/', surrogate, > U+10FFFF,
	 * truncated sequence at the end, bytes C0/F5/FF. */
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("a\x80z")), "\"a\\ufffdz\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xc0\xaf")), "\"\\ufffd\\ufffd\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xe0\x80\xaf")), "\"\\ufffd\\ufffd\\ufffd\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xed\xa0\x80")), "\"\\ufffd\\ufffd\\ufffd\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xf4\x90\x80\x80")),
			 "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("ok\xe2\x82")), "\"ok\\ufffd\\ufffd\"");
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xf5\xff")), "\"\\ufffd\\ufffd\"");
	/* Highest valid code points of each length still pass. */
	ck_assert_str_eq(escaped(&b, RP_STR_LIT("\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf")),
			 "\"\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
	/* Reads only n bytes. */
	ck_assert_str_eq(escaped(&b, rp_str_make("abc\"", 3)), "\"abc\"");
	ck_assert_str_eq(escaped(&b, RP_STR_NULL), "\"\"");
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_json_misuse)
{
	rp_buf b;
	rp_json j;

	rp_buf_init(&b, 0);
	/* Value without a key inside an object. */
	rp_json_init(&j, &b, 0);
	rp_json_obj_begin(&j);
	ck_assert_int_eq(rp_json_int(&j, 1), -EINVAL);
	ck_assert_int_eq(rp_json_finish(&j), -EINVAL);
	/* Key inside an array. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_arr_begin(&j);
	ck_assert_int_eq(rp_json_key(&j, "k"), -EINVAL);
	/* Mismatched end. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_arr_begin(&j);
	ck_assert_int_eq(rp_json_obj_end(&j), -EINVAL);
	/* Unclosed. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_obj_begin(&j);
	ck_assert_int_eq(rp_json_finish(&j), -EINVAL);
	/* Key with no value before end. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_obj_begin(&j);
	rp_json_key(&j, "k");
	ck_assert_int_eq(rp_json_obj_end(&j), -EINVAL);
	/* Two top-level values. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_int(&j, 1);
	ck_assert_int_eq(rp_json_int(&j, 2), -EINVAL);
	/* Nothing written. */
	rp_json_init(&j, &b, 0);
	ck_assert_int_eq(rp_json_finish(&j), -EINVAL);
	/* Too deep. */
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	for (int i = 0; i < RP_JSON_MAX_DEPTH; i++)
		ck_assert_int_eq(rp_json_arr_begin(&j), 0);
	ck_assert_int_eq(rp_json_arr_begin(&j), -EINVAL);
	rp_buf_free(&b);
	/* Buffer cap reaches the writer as the buffer's error. */
	rp_buf_init(&b, 8);
	rp_json_init(&j, &b, 0);
	rp_json_obj_begin(&j);
	rp_json_kv_cstr(&j, "long-key", "long value");
	rp_json_obj_end(&j);
	ck_assert_int_eq(rp_json_finish(&j), -EMSGSIZE);
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_json_scalar_top)
{
	rp_buf b;
	rp_json j;

	rp_buf_init(&b, 0);
	rp_json_init(&j, &b, 0);
	rp_json_str(&j, RP_STR_LIT("x"));
	ck_assert_int_eq(rp_json_finish(&j), 0);
	ck_assert_str_eq(rp_buf_cstr(&b), "\"x\"");
	rp_buf_reset(&b);
	rp_json_init(&j, &b, 0);
	rp_json_arr_begin(&j);
	rp_json_double(&j, 1e300);
	rp_json_double(&j, -2.5);
	rp_json_double(&j, INFINITY);
	rp_json_cstr(&j, NULL);
	rp_json_arr_end(&j);
	ck_assert_int_eq(rp_json_finish(&j), 0);
	ck_assert_str_eq(rp_buf_cstr(&b), "[1e+300,-2.5,null,null]");
	rp_buf_free(&b);
}
END_TEST

/* ------------------------------------------------------------------ log */

START_TEST(test_log_levels)
{
	enum rp_log_level l;

	ck_assert_int_eq(rp_log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, RP_LOG_DEBUG);
	ck_assert_int_eq(rp_log_level_parse("warning", &l), 0);
	ck_assert_int_eq(l, RP_LOG_WARN);
	ck_assert_int_eq(rp_log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, RP_LOG_ERR);
	ck_assert_int_eq(rp_log_level_parse("loud", &l), -EINVAL);
	ck_assert_str_eq(rp_log_level_name(RP_LOG_NOTICE), "notice");
	ck_assert_str_eq(rp_log_level_name((enum rp_log_level)99), "?");
	rp_log_set_level(RP_LOG_WARN);
	ck_assert_int_eq(rp_log_get_level(), RP_LOG_WARN);
	ck_assert(rp_log_enabled(RP_LOG_ERR));
	ck_assert(!rp_log_enabled(RP_LOG_INFO));
}
END_TEST

START_TEST(test_log_output)
{
	char path[] = "/tmp/rp_log_test_XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	char line[4096];
	ssize_t n;
	char *big = malloc(5000);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(saved, 0);
	unlink(path);
	dup2(fd, STDERR_FILENO);
	rp_log_open(RP_LOG_STDERR, "rptest", RP_LOG_INFO);
	rp_info("hello %d", 42);
	rp_debug("hidden %d", 1);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	rp_warn("%s", big);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, line, sizeof(line) - 1, 0);
	close(fd);
	free(big);
	ck_assert_int_gt(n, 0);
	line[n] = '\0';
	/* One line per call, with ident, level and message; debug suppressed;
	 * an over-long message is cut but still ends with a newline. */
	ck_assert_ptr_nonnull(strstr(line, "rptest["));
	ck_assert_ptr_nonnull(strstr(line, "info: hello 42\n"));
	ck_assert_ptr_null(strstr(line, "hidden"));
	char *second = strchr(line, '\n') + 1;
	ck_assert_ptr_nonnull(strstr(second, "warn: xxxx"));
	ck_assert_uint_le(strlen(second), 2047);
	ck_assert_int_eq(line[n - 1], '\n');
	ck_assert_ptr_eq(strchr(second, '\n'), line + n - 1);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc;

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_append);
	tcase_add_test(tc, test_buf_grow_many);
	tcase_add_test(tc, test_buf_printf);
	tcase_add_test(tc, test_buf_max_sticky);
	tcase_add_test(tc, test_buf_truncate_consume_steal);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_test(tc, test_siphash_vectors);
	tcase_add_test(tc, test_hash_basic);
	tcase_add_test(tc, test_hash_many_grow_shrink);
	tcase_add_test(tc, test_hash_copy_keys);
	tcase_add_test(tc, test_hash_iterate_remove);
	tcase_add_test(tc, test_hash_seeds_differ);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_clocks);
	tcase_add_test(tc, test_timers_order_cancel);
	tcase_add_test(tc, test_timers_rearm_in_callback_and_bound);
	tcase_add_test(tc, test_timers_heap_property_random);
	tcase_add_test(tc, test_timers_exact_order_with_ties);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_compact);
	tcase_add_test(tc, test_json_pretty);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_json_misuse);
	tcase_add_test(tc, test_json_scalar_top);
	suite_add_tcase(s, tc);

	tc = tcase_create("log");
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_log_output);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
