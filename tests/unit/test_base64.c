/* rp_base64: RFC 4648 §10 vectors, unpadded input, rejection of malformed
 * input with the right offset, output bounds. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rp_base64.h"

static const struct {
	const char *plain, *b64, *unpadded;
} vec[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

START_TEST(test_rfc4648_vectors)
{
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char enc[16];
		uint8_t dec[16];
		size_t n = 99;
		size_t plen = strlen(vec[i].plain);

		ck_assert_int_eq(rp_base64_encode((const uint8_t *)vec[i].plain,
			plen, enc, sizeof(enc), &n), 0);
		ck_assert_uint_eq(n, strlen(vec[i].b64));
		ck_assert_uint_eq(n, rp_base64_encoded_len(plen));
		ck_assert(memcmp(enc, vec[i].b64, n) == 0);

		ck_assert_int_eq(rp_base64_decode(rp_str_cstr(vec[i].b64), dec,
			sizeof(dec), &n, NULL), 0);
		ck_assert_uint_eq(n, plen);
		ck_assert(memcmp(dec, vec[i].plain, n) == 0);

		ck_assert_int_eq(rp_base64_decode(rp_str_cstr(vec[i].unpadded),
			dec, sizeof(dec), &n, NULL), 0);
		ck_assert_uint_eq(n, plen);
		ck_assert(memcmp(dec, vec[i].plain, n) == 0);
	}
}
END_TEST

START_TEST(test_all_bytes_roundtrip)
{
	uint8_t src[256], dec[256];
	char enc[400];
	size_t n, m;

	for (int i = 0; i < 256; i++)
		src[i] = (uint8_t)(255 - i);
	for (size_t len = 0; len <= sizeof(src); len += 7) {
		ck_assert_int_eq(rp_base64_encode(src, len, enc, sizeof(enc), &n), 0);
		ck_assert_int_eq(rp_base64_decode(rp_str_make(enc, n), dec,
			sizeof(dec), &m, NULL), 0);
		ck_assert_uint_eq(m, len);
		ck_assert(memcmp(src, dec, len) == 0);
	}
}
END_TEST

static int dec_err(const char *s, size_t *off)
{
	uint8_t out[64];
	size_t n;

	*off = 999;
	return rp_base64_decode(rp_str_cstr(s), out, sizeof(out), &n, off);
}

START_TEST(test_rejects_malformed)
{
	size_t off;

	ck_assert_int_eq(dec_err("Zm9v!mFy", &off), -EINVAL);
	ck_assert_uint_eq(off, 4);
	ck_assert_int_eq(dec_err("Zm9v YmFy", &off), -EINVAL);
	ck_assert_uint_eq(off, 4);
	ck_assert_int_eq(dec_err("Zm9-", &off), -EINVAL); /* url alphabet */
	ck_assert_uint_eq(off, 3);
	ck_assert_int_eq(dec_err("Z", &off), -EINVAL);      /* 6 bits */
	ck_assert_int_eq(dec_err("Zm9vY", &off), -EINVAL);
	ck_assert_int_eq(dec_err("Zg=", &off), -EINVAL);    /* half padding */
	ck_assert_int_eq(dec_err("Zg===", &off), -EINVAL);
	ck_assert_int_eq(dec_err("Z===", &off), -EINVAL);
	ck_assert_int_eq(dec_err("====", &off), -EINVAL);
	ck_assert_int_eq(dec_err("Zg==Zg==", &off), -EINVAL); /* pad inside */
	ck_assert_uint_eq(off, 2);
	/* "Zh==" has non-zero bits after the one byte: not canonical. */
	ck_assert_int_eq(dec_err("Zh==", &off), -EINVAL);
	ck_assert_int_eq(dec_err("Zm9=", &off), -EINVAL);
	ck_assert_int_eq(dec_err("Zm8=", &off), 0);
}
END_TEST

START_TEST(test_nul_and_high_bytes)
{
	const char in[] = { 'Z', 'm', '\0', 'v' };
	const char hi[] = { 'Z', 'm', '9', (char)0xc3 };
	uint8_t out[8];
	size_t n, off = 0;

	ck_assert_int_eq(rp_base64_decode(rp_str_make(in, sizeof(in)), out,
		sizeof(out), &n, &off), -EINVAL);
	ck_assert_uint_eq(off, 2);
	ck_assert_int_eq(rp_base64_decode(rp_str_make(hi, sizeof(hi)), out,
		sizeof(out), &n, &off), -EINVAL);
	ck_assert_uint_eq(off, 3);
}
END_TEST

START_TEST(test_bounds)
{
	char enc[8];
	uint8_t out[3];
	size_t n = 77;

	/* 6 bytes need 8 chars: 7 is too few, and nothing is written. */
	memset(enc, 'x', sizeof(enc));
	ck_assert_int_eq(rp_base64_encode((const uint8_t *)"foobar", 6, enc, 7,
		&n), -ENOSPC);
	ck_assert_uint_eq(n, 77);
	ck_assert_int_eq(enc[0], 'x');
	ck_assert_int_eq(rp_base64_decode(RP_STR_LIT("Zm9vYg=="), out,
		sizeof(out), &n, NULL), -ENOSPC);
	ck_assert_int_eq(rp_base64_decode(RP_STR_LIT("Zm9v"), out, sizeof(out),
		&n, NULL), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(rp_base64_decoded_max(4), 3);
	/* Empty input decodes to nothing, even with a NULL pointer. */
	ck_assert_int_eq(rp_base64_decode(RP_STR_NULL, out, 0, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_rfc4648_vectors);
	tcase_add_test(tc, test_all_bytes_roundtrip);
	tcase_add_test(tc, test_rejects_malformed);
	tcase_add_test(tc, test_nul_and_high_bytes);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
