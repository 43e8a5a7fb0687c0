/* Unit tests for common/rp_str: slices are binary, never NUL-terminated. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rp_str.h"

START_TEST(test_eq)
{
	ck_assert(rp_str_eq(RP_STR_LIT("abc"), rp_str_make("abcdef", 3)));
	ck_assert(!rp_str_eq(RP_STR_LIT("abc"), RP_STR_LIT("abd")));
	ck_assert(!rp_str_eq(RP_STR_LIT("abc"), RP_STR_LIT("ab")));
	ck_assert(rp_str_eq(RP_STR_NULL, rp_str_make("x", 0)));
	ck_assert(rp_str_eq_cstr(RP_STR_LIT("INVITE"), "INVITE"));
	ck_assert(!rp_str_eq_cstr(RP_STR_LIT("INVITE"), "invite"));
	ck_assert(rp_str_eq_cstr(RP_STR_NULL, ""));
	ck_assert(rp_str_eq_cstr(RP_STR_NULL, NULL));
	/* Embedded NUL bytes are data. */
	ck_assert(!rp_str_eq(rp_str_make("a\0b", 3), rp_str_make("a\0c", 3)));
}
END_TEST

START_TEST(test_caseeq)
{
	ck_assert(rp_str_caseeq(RP_STR_LIT("Call-ID"), RP_STR_LIT("call-id")));
	ck_assert(rp_str_caseeq_cstr(RP_STR_LIT("VIA"), "via"));
	ck_assert(!rp_str_caseeq_cstr(RP_STR_LIT("Via"), "Vib"));
	ck_assert(!rp_str_caseeq_cstr(RP_STR_LIT("Via"), "Vi"));
	ck_assert(rp_str_caseeq(RP_STR_NULL, RP_STR_NULL));
	/* Bug fixed: strncasecmp() stopped at the NUL and called these equal. */
	ck_assert(!rp_str_caseeq(rp_str_make("a\0X", 3), rp_str_make("a\0Y", 3)));
	ck_assert(rp_str_caseeq(rp_str_make("a\0X", 3), rp_str_make("A\0x", 3)));
	/* Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by 0x20. */
	ck_assert(!rp_str_caseeq_cstr(RP_STR_LIT("@"), "`"));
	ck_assert(!rp_str_caseeq_cstr(RP_STR_LIT("["), "{"));
	/* Bytes >= 0x80 are compared exactly (no locale folding). */
	ck_assert(!rp_str_caseeq(rp_str_make("\xc4", 1), rp_str_make("\xe4", 1)));
}
END_TEST

START_TEST(test_prefix)
{
	ck_assert(rp_str_has_prefix_case(RP_STR_LIT("sips:alice@x"), "SIPS:"));
	ck_assert(!rp_str_has_prefix_case(RP_STR_LIT("sip:alice@x"), "sips:"));
	ck_assert(!rp_str_has_prefix_case(RP_STR_LIT("si"), "sip"));
	/* Empty prefix on an empty (NULL) slice: true, and no NULL to libc. */
	ck_assert(rp_str_has_prefix_case(RP_STR_NULL, ""));
	ck_assert(!rp_str_has_prefix_case(rp_str_make("s\0p:", 4), "sip:"));
}
END_TEST

START_TEST(test_trim)
{
	rp_str t = rp_str_trim(RP_STR_LIT(" \t value \r\n"));

	ck_assert(rp_str_eq_cstr(t, "value"));
	t = rp_str_trim(RP_STR_LIT(" \t\r\n "));
	ck_assert_uint_eq(t.n, 0);
	t = rp_str_trim(RP_STR_NULL);
	ck_assert_uint_eq(t.n, 0);
	t = rp_str_trim(RP_STR_LIT("a b"));
	ck_assert(rp_str_eq_cstr(t, "a b"));
}
END_TEST

START_TEST(test_chr)
{
	ck_assert_int_eq(rp_str_chr(RP_STR_LIT("user@host"), '@'), 4);
	ck_assert_int_eq(rp_str_chr(RP_STR_LIT("userhost"), '@'), -1);
	ck_assert_int_eq(rp_str_chr(RP_STR_NULL, '@'), -1);
	/* Must not look past n even if the memory continues. */
	ck_assert_int_eq(rp_str_chr(rp_str_make("abc@", 3), '@'), -1);
}
END_TEST

START_TEST(test_to_u64)
{
	uint64_t v = 7;
	uint32_t v32 = 7;

	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("0"), 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("18446744073709551615"), UINT64_MAX, &v), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("18446744073709551616"), UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("100"), 99, &v), -ERANGE);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("99"), 99, &v), 0);
	ck_assert_uint_eq(v, 99);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("5"), 4, &v), -ERANGE);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT(""), 10, &v), -EINVAL);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("-1"), 10, &v), -EINVAL);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("+1"), 10, &v), -EINVAL);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT(" 1"), 10, &v), -EINVAL);
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("1a"), 10, &v), -EINVAL);
	/* Only n bytes are read: "12" out of "123". */
	ck_assert_int_eq(rp_str_to_u64(rp_str_make("123", 2), 1000, &v), 0);
	ck_assert_uint_eq(v, 12);
	/* *out untouched on failure. */
	v = 42;
	ck_assert_int_eq(rp_str_to_u64(RP_STR_LIT("x"), 10, &v), -EINVAL);
	ck_assert_uint_eq(v, 42);

	ck_assert_int_eq(rp_str_to_u32(RP_STR_LIT("4294967295"), &v32), 0);
	ck_assert_uint_eq(v32, UINT32_MAX);
	ck_assert_int_eq(rp_str_to_u32(RP_STR_LIT("4294967296"), &v32), -ERANGE);
	ck_assert_uint_eq(v32, UINT32_MAX);
}
END_TEST

START_TEST(test_copy)
{
	char dst[6];

	ck_assert_int_eq(rp_str_copy(RP_STR_LIT("hello"), dst, sizeof(dst)), 0);
	ck_assert_str_eq(dst, "hello");
	ck_assert_int_eq(rp_str_copy(RP_STR_LIT("hello!"), dst, sizeof(dst)), -ENOSPC);
	ck_assert_str_eq(dst, "");
	ck_assert_int_eq(rp_str_copy(RP_STR_NULL, dst, sizeof(dst)), 0);
	ck_assert_str_eq(dst, "");
	ck_assert_int_eq(rp_str_copy(RP_STR_LIT("a"), dst, 0), -ENOSPC);
}
END_TEST

START_TEST(test_cstr_and_macros)
{
	rp_str s = rp_str_cstr("abc");
	char out[8];

	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(rp_str_cstr(NULL).n, 0);
	ck_assert(rp_str_empty(RP_STR_NULL));
	ck_assert(!rp_str_empty(s));
	ck_assert_uint_eq(RP_STR_LIT("abcd").n, 4);
	snprintf(out, sizeof(out), "%.*s", RP_STR_FMT(rp_str_make("xyz123", 3)));
	ck_assert_str_eq(out, "xyz");
}
END_TEST

/* Valid UTF-8 is kept, everything else escaped (RFC 3629 section 4 for
 * what is valid); a cut never splits a character or an escape. */
START_TEST(test_utf8_safe)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} t[] = {
		{ "plain", 5, "plain" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xff\xfe", 2, "\\xff\\xfe" },
		{ "a\xc3", 2, "a\\xc3" },                     /* cut sequence */
		{ "\xc0\xaf", 2, "\\xc0\\xaf" },               /* overlong '/' */
		{ "\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf" },         /* overlong */
		{ "\xed\xa0\x80", 3, "\\xed\\xa0\\x80" },         /* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80" },   /* > U+10FFFF */
		{ "l1\nl2\r\x1b[0m\x7f", 11, "l1\\x0al2\\x0d\\x1b[0m\\x7f" },
		{ "a\0b", 3, "a\\x00b" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = rp_str_utf8_safe(rp_str_make(t[i].in, t[i].n), out, sizeof(out));

		ck_assert_str_eq(out, t[i].out);
		ck_assert_uint_eq(n, strlen(t[i].out));
	}
	/* Cut short between characters only: 5 bytes hold "ab" + NUL, not
	 * half of the euro sign or of the escape. */
	ck_assert_uint_eq(rp_str_utf8_safe(rp_str_make("ab\xe2\x82\xac", 5), out, 5), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(rp_str_utf8_safe(rp_str_make("ab\xff", 3), out, 6), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(rp_str_utf8_safe(rp_str_make("ab\xff", 3), out, 7), 6);
	ck_assert_str_eq(out, "ab\\xff");
	ck_assert_uint_eq(rp_str_utf8_safe(rp_str_make("xyz", 3), out, 1), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *str_suite(void)
{
	Suite *s = suite_create("rp_str");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_eq);
	tcase_add_test(tc, test_caseeq);
	tcase_add_test(tc, test_prefix);
	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_chr);
	tcase_add_test(tc, test_to_u64);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_cstr_and_macros);
	tcase_add_test(tc, test_utf8_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(str_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
