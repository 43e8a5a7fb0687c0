/* Unit tests for common/benc: one test per decoder rule, round trips,
 * hostile inputs, accessors and the encoder. */
#include <check.h>
#include <stdalign.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benc.h"

static rp_arena arena;

static void setup(void)
{
	rp_arena_init(&arena, NULL, 0, 64u << 20);
}

static void teardown(void)
{
	rp_arena_fini(&arena);
}

/* Decodes a literal (length from sizeof, so embedded NULs work). */
#define DEC(lit, out) dec(lit, sizeof(lit) - 1, NULL, out, NULL)

static enum benc_err dec(const char *p, size_t n, const struct benc_opts *o,
			 benc_node **out, struct benc_error *e)
{
	benc_node *dummy;
	struct benc_error tmp;

	return benc_decode(p, n, &arena, o, out ? out : &dummy, NULL, e ? e : &tmp);
}

/* Expects decoding to fail with 'code' at byte 'off'. */
static void expect_err(const char *p, size_t n, const struct benc_opts *o,
		       enum benc_err code, size_t off)
{
	benc_node *out = (benc_node *)0x1;
	struct benc_error e = { 0, 0 };
	enum benc_err rc = dec(p, n, o, &out, &e);

	ck_assert_msg(rc == code, "input '%.*s': got %s, want %s", (int)n, p,
		      benc_err_str(rc), benc_err_str(code));
	ck_assert_msg(e.code == code && e.off == off, "input '%.*s': offset %zu, want %zu",
		      (int)n, p, e.off, off);
	/* *out is untouched on failure. */
	ck_assert_ptr_eq(out, (benc_node *)0x1);
}
#define EXPECT_ERR(lit, code, off) expect_err(lit, sizeof(lit) - 1, NULL, code, off)

/* -------------------------------------------------------------- decoding */

START_TEST(test_int_valid)
{
	benc_node *n;

	ck_assert_int_eq(DEC("i0e", &n), BENC_OK);
	ck_assert_int_eq(n->type, BENC_INT);
	ck_assert(n->u.i == 0);
	ck_assert_int_eq(DEC("i-42e", &n), BENC_OK);
	ck_assert(n->u.i == -42);
	ck_assert_int_eq(DEC("i9223372036854775807e", &n), BENC_OK);
	ck_assert(n->u.i == INT64_MAX);
	ck_assert_int_eq(DEC("i-9223372036854775808e", &n), BENC_OK);
	ck_assert(n->u.i == INT64_MIN);
	ck_assert_int_eq(DEC("i10e", &n), BENC_OK);
	ck_assert(n->u.i == 10);
}
END_TEST

START_TEST(test_int_leading_zero)
{
	EXPECT_ERR("i03e", BENC_E_INT_LEADING_ZERO, 0);
	EXPECT_ERR("i00e", BENC_E_INT_LEADING_ZERO, 0);
	EXPECT_ERR("li1ei007ee", BENC_E_INT_LEADING_ZERO, 4);
}
END_TEST

START_TEST(test_int_negative_zero)
{
	EXPECT_ERR("i-0e", BENC_E_INT_NEG_ZERO, 0);
	EXPECT_ERR("i-05e", BENC_E_INT_NEG_ZERO, 0);
}
END_TEST

START_TEST(test_int_empty_and_syntax)
{
	EXPECT_ERR("ie", BENC_E_INT_EMPTY, 0);
	EXPECT_ERR("i-e", BENC_E_INT_EMPTY, 0);
	EXPECT_ERR("i+1e", BENC_E_SYNTAX, 1);
	EXPECT_ERR("i1.5e", BENC_E_SYNTAX, 2);
	EXPECT_ERR("i 1e", BENC_E_SYNTAX, 1);
	EXPECT_ERR("i--1e", BENC_E_SYNTAX, 2);
	EXPECT_ERR("i0x", BENC_E_SYNTAX, 2);
}
END_TEST

START_TEST(test_int_range)
{
	EXPECT_ERR("i9223372036854775808e", BENC_E_INT_RANGE, 0);
	EXPECT_ERR("i-9223372036854775809e", BENC_E_INT_RANGE, 0);
	EXPECT_ERR("i99999999999999999999999999999e", BENC_E_INT_RANGE, 0);
}
END_TEST

START_TEST(test_str_valid)
{
	benc_node *n;
	const char in[] = "5:a\0b:e";

	ck_assert_int_eq(DEC("0:", &n), BENC_OK);
	ck_assert_int_eq(n->type, BENC_STR);
	ck_assert_uint_eq(n->u.s.n, 0);
	ck_assert_int_eq(benc_decode(in, sizeof(in) - 1, &arena, NULL, &n, NULL, NULL), BENC_OK);
	/* Zero-copy: the slice points into the input. */
	ck_assert_ptr_eq(n->u.s.p, in + 2);
	ck_assert(rp_str_eq(n->u.s, rp_str_make("a\0b:e", 5)));
}
END_TEST

START_TEST(test_str_len_leading_zero)
{
	EXPECT_ERR("04:spam", BENC_E_LEN_LEADING_ZERO, 0);
	EXPECT_ERR("00:", BENC_E_LEN_LEADING_ZERO, 0);
}
END_TEST

START_TEST(test_str_len_huge)
{
	/* Larger than any allowed message: range, not an attempt to read. */
	EXPECT_ERR("99999999999999999999999999:x", BENC_E_LEN_RANGE, 0);
	EXPECT_ERR("18446744073709551615:x", BENC_E_LEN_RANGE, 0);
	EXPECT_ERR("l4294967296:xe", BENC_E_LEN_RANGE, 1);
	/* Within the limit but past the end of the input: truncated. */
	EXPECT_ERR("1000:abc", BENC_E_TRUNCATED, 8);
	struct benc_opts o = { .max_len = 100 };
	expect_err("101:x", 5, &o, BENC_E_LEN_RANGE, 0);
}
END_TEST

START_TEST(test_str_syntax)
{
	EXPECT_ERR("3x:abc", BENC_E_SYNTAX, 1);
	EXPECT_ERR("3", BENC_E_TRUNCATED, 1);
	EXPECT_ERR("3:ab", BENC_E_TRUNCATED, 4);
	EXPECT_ERR("-3:abc", BENC_E_SYNTAX, 0);
}
END_TEST

START_TEST(test_truncated)
{
	static const char *const cases[] = {
		"i", "i1", "i-", "l", "li1e", "d", "d3:key", "d3:keyi1e",
		"d3:key5:va", "ll", "lde", "d1:ad",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i]);

		expect_err(cases[i], n, NULL, BENC_E_TRUNCATED, n);
	}
	EXPECT_ERR("", BENC_E_EMPTY, 0);
}
END_TEST

START_TEST(test_trailing)
{
	EXPECT_ERR("i1ei2e", BENC_E_TRAILING, 3);
	EXPECT_ERR("dee", BENC_E_TRAILING, 2);
	EXPECT_ERR("4:spam\n", BENC_E_TRAILING, 6);
	EXPECT_ERR("le ", BENC_E_TRAILING, 2);
}
END_TEST

START_TEST(test_syntax_bad_start)
{
	EXPECT_ERR("x", BENC_E_SYNTAX, 0);
	EXPECT_ERR("e", BENC_E_SYNTAX, 0);
	EXPECT_ERR("lxe", BENC_E_SYNTAX, 1);
	EXPECT_ERR(" i1e", BENC_E_SYNTAX, 0);
	/* A key with no value. */
	EXPECT_ERR("d1:ae", BENC_E_SYNTAX, 4);
}
END_TEST

START_TEST(test_dict_key_type)
{
	EXPECT_ERR("di1ei2ee", BENC_E_KEY_TYPE, 1);
	EXPECT_ERR("dlei1ee", BENC_E_KEY_TYPE, 1);
	EXPECT_ERR("d1:ai1edei1ee", BENC_E_KEY_TYPE, 7);
	EXPECT_ERR("d1:ai1ex", BENC_E_SYNTAX, 7);
}
END_TEST

START_TEST(test_dict_dup_keys)
{
	/* Adjacent duplicate. */
	EXPECT_ERR("d1:ai1e1:ai2ee", BENC_E_KEY_DUP, 7);
	/* Non-adjacent duplicate in an unsorted dict: found at the close. */
	EXPECT_ERR("d1:bi1e1:ai2e1:bi3ee", BENC_E_KEY_DUP, 13);
	/* Nested dict duplicates are found too. */
	EXPECT_ERR("d1:xd1:ci1e1:ai1e1:ci1eee", BENC_E_KEY_DUP, 17);
	/* Same bytes, different lengths are different keys. */
	benc_node *n;
	ck_assert_int_eq(DEC("d1:ai1e2:aai2ee", &n), BENC_OK);
	ck_assert_uint_eq(n->u.c.count, 2);
}
END_TEST

START_TEST(test_dict_order)
{
	benc_node *n;
	bool sorted = true;
	const char unsorted[] = "d1:bi1e1:ai2ee";
	struct benc_opts strict = { .strict_order = true };

	/* Lenient by default, and says the input was not canonical. */
	ck_assert_int_eq(benc_decode(unsorted, sizeof(unsorted) - 1, &arena, NULL, &n,
				     &sorted, NULL), BENC_OK);
	ck_assert(!sorted);
	ck_assert_uint_eq(n->u.c.count, 2);
	/* Insertion order preserved for walking. */
	ck_assert(rp_str_eq_cstr(n->u.c.first->key, "b"));
	expect_err(unsorted, sizeof(unsorted) - 1, &strict, BENC_E_KEY_ORDER, 7);
	ck_assert_int_eq(benc_decode("d1:ai1e1:bi2ee", 14, &arena, &strict, &n, &sorted,
				     NULL), BENC_OK);
	ck_assert(sorted);
	/* Byte order: "a" < "aa" < "b"; "\xff" after ASCII. */
	ck_assert_int_eq(benc_decode("d1:ai0e2:aai0e1:bi0e1:\xffi0ee", 27, &arena, &strict,
				     &n, &sorted, NULL), BENC_OK);
	ck_assert(sorted);
}
END_TEST

START_TEST(test_depth_limit)
{
	struct benc_opts o = { .max_depth = 3 };
	benc_node *n;

	ck_assert_int_eq(dec("llleee", 6, &o, &n, NULL), BENC_OK);
	expect_err("lllleeee", 8, &o, BENC_E_DEPTH, 3);
	/* Default limit is 32. */
	char deep[66];
	memset(deep, 'l', 32);
	memset(deep + 32, 'e', 32);
	ck_assert_int_eq(dec(deep, 64, NULL, &n, NULL), BENC_OK);
	memset(deep, 'l', 33);
	memset(deep + 33, 'e', 33);
	expect_err(deep, 66, NULL, BENC_E_DEPTH, 32);
}
END_TEST

START_TEST(test_deep_nesting_hostile)
{
	/* 10,000 levels: rejected at the limit without using C stack, and
	 * decodable when the limit allows it (iterative decoder). */
	enum { D = 10000 };
	char *p = malloc(2 * D);
	benc_node *n;
	struct benc_opts o = { .max_depth = D };

	memset(p, 'l', D);
	memset(p + D, 'e', D);
	expect_err(p, 2 * D, NULL, BENC_E_DEPTH, 32);
	ck_assert_int_eq(dec(p, 2 * D, &o, &n, NULL), BENC_OK);
	/* Walk down to the innermost list. */
	int levels = 1;
	while (n->u.c.first) {
		n = n->u.c.first;
		levels++;
	}
	ck_assert_int_eq(levels, D);
	/* Unclosed 10,000 levels: truncated. */
	expect_err(p, D, &o, BENC_E_TRUNCATED, D);
	/* Dicts too. */
	for (int i = 0; i < D; i++) {
		p[i] = 'd';
	}
	expect_err(p, 2 * D, NULL, BENC_E_KEY_TYPE, 1);
	free(p);
}
END_TEST

START_TEST(test_node_and_size_limits)
{
	struct benc_opts o = { .max_nodes = 4 };
	benc_node *n;

	ck_assert_int_eq(dec("li1ei2ei3ee", 11, &o, &n, NULL), BENC_OK);
	expect_err("li1ei2ei3ei4ee", 14, &o, BENC_E_NODES, 10);
	o = (struct benc_opts){ .max_len = 10 };
	expect_err("li1ei2ei3ee", 11, &o, BENC_E_TOO_BIG, 10);
	/* Arena limit reached: out of memory, reported, no crash. */
	rp_arena small;
	alignas(16) char storage[64];
	rp_arena_init(&small, storage, sizeof(storage), 1);
	struct benc_error e;
	ck_assert_int_eq(benc_decode("li1ei2ei3ei4ei5ei6ei7ei8ee", 26, &small, NULL, &n,
				     NULL, &e), BENC_E_NOMEM);
	rp_arena_fini(&small);
}
END_TEST

START_TEST(test_many_keys_unsorted_dup_is_fast)
{
	/* 20,000 keys in reverse order then a duplicate of the first: must be
	 * found (by sorting) rather than by comparing all pairs. */
	enum { K = 20000 };
	rp_buf b;
	benc_node *n;
	struct benc_error e;

	rp_buf_init(&b, 0);
	benc_put_dict(&b);
	for (int i = K; i > 0; i--) {
		char k[16];

		snprintf(k, sizeof(k), "k%06d", i);
		benc_put_kv_int(&b, k, i);
	}
	ck_assert_int_eq(benc_put_end(&b), 0);
	ck_assert_int_eq(benc_decode(b.p, b.len, &arena, NULL, &n, NULL, NULL), BENC_OK);
	ck_assert_uint_eq(n->u.c.count, K);
	rp_buf_truncate(&b, b.len - 1);
	size_t dup_off = b.len;
	benc_put_kv_int(&b, "k010000", 0);
	benc_put_end(&b);
	ck_assert_int_eq(benc_decode(b.p, b.len, &arena, NULL, &n, NULL, &e), BENC_E_KEY_DUP);
	ck_assert_uint_eq(e.off, dup_off);
	rp_buf_free(&b);
}
END_TEST

START_TEST(test_alloc_failure_mode)
{
	/* Every arena budget gives either a complete tree or BENC_E_NOMEM,
	 * never a crash or a half-built success. */
	rp_buf b;
	bool saw_nomem = false, saw_ok = false;

	rp_buf_init(&b, 0);
	benc_put_dict(&b);
	benc_put_kv_list(&b, "legs");
	for (int i = 0; i < 300; i++) {
		benc_put_dict(&b);
		benc_put_kv_int(&b, "port", 20000 + i);
		benc_put_kv_cstr(&b, "address", "192.0.2.1");
		benc_put_end(&b);
	}
	benc_put_end(&b);
	benc_put_end(&b);
	for (size_t limit = 1; limit < (1u << 17); limit += 997) {
		rp_arena a;
		benc_node *n = NULL;
		struct benc_error e;

		rp_arena_init(&a, NULL, 0, limit);
		enum benc_err rc = benc_decode(b.p, b.len, &a, NULL, &n, NULL, &e);
		if (rc == BENC_OK) {
			saw_ok = true;
			ck_assert_uint_eq(benc_dict_get(n, "legs")->u.c.count, 300);
		} else {
			ck_assert_int_eq(rc, BENC_E_NOMEM);
			ck_assert_ptr_null(n);
			saw_nomem = true;
		}
		rp_arena_fini(&a);
	}
	ck_assert(saw_ok && saw_nomem);
	rp_buf_free(&b);
}
END_TEST

/* --------------------------------------------------------- round trips */

static void roundtrip_canonical(const char *in, size_t n)
{
	benc_node *root;
	bool sorted = false;
	rp_buf out;
	rp_arena scratch;

	ck_assert_int_eq(benc_decode(in, n, &arena, NULL, &root, &sorted, NULL), BENC_OK);
	ck_assert(sorted);
	rp_buf_init(&out, 0);
	rp_arena_init(&scratch, NULL, 0, 0);
	ck_assert_int_eq(benc_encode(root, &scratch, &out), 0);
	ck_assert_uint_eq(out.len, n);
	ck_assert_int_eq(memcmp(out.p, in, n), 0);
	rp_arena_fini(&scratch);
	rp_buf_free(&out);
}

START_TEST(test_roundtrip)
{
	static const char *const cases[] = {
		"i0e", "i-1e", "0:", "4:spam", "le", "de", "li1e4:spame",
		"d3:cow3:moo4:spam4:eggse",
		"d4:spaml1:a1:bee",
		("d7:call-id12:a84b4c76e6677:command5:offer6:cookie5:1234a5:flagsl7:trusted"
		 "e7:versioni1ee"),
		"lli1eeld1:ai-9223372036854775808eeee",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		roundtrip_canonical(cases[i], strlen(cases[i]));
	/* Binary string with NUL and high bytes. */
	roundtrip_canonical("d3:key6:\x00\xff\x01:e\x80" "e", 15);
}
END_TEST

START_TEST(test_encoder_sorts_unsorted)
{
	const char in[] = "d1:bi1e1:ad1:zi0e1:yi0eee";
	benc_node *root;
	rp_buf out;

	ck_assert_int_eq(DEC(in, &root), BENC_OK);
	rp_buf_init(&out, 0);
	ck_assert_int_eq(benc_encode(root, &arena, &out), 0);
	ck_assert_str_eq(rp_buf_cstr(&out), "d1:ad1:yi0e1:zi0ee1:bi1ee");
	rp_buf_free(&out);
}
END_TEST

START_TEST(test_put_helpers)
{
	rp_buf b;
	benc_node *root;
	rp_str s;
	int64_t v;

	rp_buf_init(&b, 0);
	benc_put_dict(&b);
	benc_put_kv_cstr(&b, "command", "ping");
	benc_put_kv_int(&b, "neg", INT64_MIN);
	benc_put_kv_str(&b, "bin", rp_str_make("\0\1", 2));
	benc_put_kv_list(&b, "flags");
	benc_put_cstr(&b, "a");
	benc_put_int(&b, 0);
	benc_put_end(&b);
	benc_put_kv_dict(&b, "sub");
	benc_put_cstr(&b, "k");
	benc_put_raw(&b, RP_STR_LIT("le"));
	benc_put_end(&b);
	ck_assert_int_eq(benc_put_end(&b), 0);
	ck_assert_int_eq(benc_decode(b.p, b.len, &arena, NULL, &root, NULL, NULL), BENC_OK);
	ck_assert_int_eq(benc_get_str(root, "command", &s, NULL), 0);
	ck_assert(rp_str_eq_cstr(s, "ping"));
	ck_assert_int_eq(benc_get_int(root, "neg", INT64_MIN, 0, &v, NULL), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(benc_get_str(root, "bin", &s, NULL), 0);
	ck_assert(rp_str_eq(s, rp_str_make("\0\1", 2)));
	/* Encoder errors come from the buffer cap. */
	rp_buf_free(&b);
	rp_buf_init(&b, 5);
	ck_assert_int_eq(benc_put_kv_cstr(&b, "key", "value"), -EMSGSIZE);
	rp_buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------- accessors */

START_TEST(test_accessors_and_field_errors)
{
	const char in[] = "d7:command5:offer6:cookie3:abc4:porti70000e5:flagsl1:ae3:subd1:xi1eee";
	benc_node *root;
	const benc_node *l, *d;
	struct benc_field_err fe;
	char msg[128];
	rp_str s = RP_STR_LIT("untouched");
	int64_t v = 7;

	ck_assert_int_eq(DEC(in, &root), BENC_OK);
	ck_assert_ptr_nonnull(benc_dict_get(root, "cookie"));
	ck_assert_ptr_null(benc_dict_get(root, "cooki"));
	ck_assert_ptr_null(benc_dict_get(NULL, "cookie"));
	ck_assert(benc_str_eq(benc_dict_get(root, "command"), "offer"));
	ck_assert(!benc_str_eq(benc_dict_get(root, "port"), "offer"));

	ck_assert_int_eq(benc_get_str(root, "missing", &s, &fe), -ENOENT);
	ck_assert(rp_str_eq_cstr(s, "untouched"));
	benc_field_err_fmt(&fe, msg, sizeof(msg));
	ck_assert_str_eq(msg, "missing field 'missing'");

	ck_assert_int_eq(benc_get_str(root, "port", &s, &fe), -EINVAL);
	benc_field_err_fmt(&fe, msg, sizeof(msg));
	ck_assert_str_eq(msg, "field 'port' must be a string, not an integer");

	ck_assert_int_eq(benc_get_int(root, "cookie", 0, 10, &v, &fe), -EINVAL);
	benc_field_err_fmt(&fe, msg, sizeof(msg));
	ck_assert_str_eq(msg, "field 'cookie' must be an integer, not a string");

	ck_assert_int_eq(benc_get_int(root, "port", 1, 65535, &v, &fe), -EINVAL);
	ck_assert(v == 7);
	benc_field_err_fmt(&fe, msg, sizeof(msg));
	ck_assert_str_eq(msg, "field 'port' is out of range");
	ck_assert_int_eq(benc_get_int(root, "port", 1, 100000, &v, &fe), 0);
	ck_assert(v == 70000);

	ck_assert_int_eq(benc_get_list(root, "flags", &l, &fe), 0);
	ck_assert_uint_eq(l->u.c.count, 1);
	ck_assert_int_eq(benc_get_list(root, "sub", &l, &fe), -EINVAL);
	benc_field_err_fmt(&fe, msg, sizeof(msg));
	ck_assert_str_eq(msg, "field 'sub' must be a list, not a dictionary");
	ck_assert_int_eq(benc_get_dict(root, "sub", &d, &fe), 0);
	ck_assert_int_eq(benc_get_int(d, "x", 0, 1, &v, NULL), 0);
	/* Lookup in something that is not a dict: missing. */
	ck_assert_int_eq(benc_get_str(l, "x", &s, &fe), -ENOENT);

	int count = 0;
	BENC_FOREACH(m, root) {
		ck_assert_uint_gt(m->key.n, 0);
		count++;
	}
	ck_assert_int_eq(count, 5);
	ck_assert_ptr_null(benc_first(benc_dict_get(root, "port")));
}
END_TEST

START_TEST(test_error_strings)
{
	struct benc_error e = { BENC_E_TRUNCATED, 12 };
	char msg[64];

	benc_error_fmt(&e, msg, sizeof(msg));
	ck_assert_str_eq(msg, "truncated input at byte 12");
	for (int c = BENC_OK; c <= BENC_E_NOMEM; c++)
		ck_assert_str_ne(benc_err_str((enum benc_err)c), "unknown error");
	ck_assert_str_eq(benc_err_str((enum benc_err)999), "unknown error");
	ck_assert_str_eq(benc_type_name(BENC_DICT), "dictionary");
}
END_TEST

START_TEST(test_no_read_past_len)
{
	/* The bytes after n must not influence the result. */
	const char in[] = "4:spamXXXX";
	benc_node *n;

	ck_assert_int_eq(benc_decode(in, 6, &arena, NULL, &n, NULL, NULL), BENC_OK);
	ck_assert(rp_str_eq_cstr(n->u.s, "spam"));
	/* A heap copy with no slack so ASan catches any over-read. */
	for (size_t len = 1; len <= 6; len++) {
		char *p = malloc(len);

		memcpy(p, "i1234e", len);
		enum benc_err rc = benc_decode(p, len, &arena, NULL, &n, NULL, NULL);
		ck_assert_int_eq(rc, len == 6 ? BENC_OK : BENC_E_TRUNCATED);
		free(p);
	}
}
END_TEST

static Suite *benc_suite(void)
{
	Suite *s = suite_create("benc");
	TCase *tc = tcase_create("decode");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_int_valid);
	tcase_add_test(tc, test_int_leading_zero);
	tcase_add_test(tc, test_int_negative_zero);
	tcase_add_test(tc, test_int_empty_and_syntax);
	tcase_add_test(tc, test_int_range);
	tcase_add_test(tc, test_str_valid);
	tcase_add_test(tc, test_str_len_leading_zero);
	tcase_add_test(tc, test_str_len_huge);
	tcase_add_test(tc, test_str_syntax);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_trailing);
	tcase_add_test(tc, test_syntax_bad_start);
	tcase_add_test(tc, test_dict_key_type);
	tcase_add_test(tc, test_dict_dup_keys);
	tcase_add_test(tc, test_dict_order);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_deep_nesting_hostile);
	tcase_add_test(tc, test_node_and_size_limits);
	tcase_add_test(tc, test_many_keys_unsorted_dup_is_fast);
	tcase_add_test(tc, test_no_read_past_len);
	tcase_add_test(tc, test_alloc_failure_mode);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_encoder_sorts_unsorted);
	tcase_add_test(tc, test_put_helpers);
	tcase_add_test(tc, test_accessors_and_field_errors);
	tcase_add_test(tc, test_error_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(benc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
