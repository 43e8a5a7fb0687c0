/* sdes + rp_rand: RFC 4568 and RFC 7714 examples, the suite table, every
 * suite's exact key length, lifetimes, MKIs, session parameters, hostile
 * input, and generate -> format -> parse round trips with fresh keys. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rp_base64.h"
#include "rp_rand.h"
#include "sdes.h"

static int parse(const char *s, struct sdes_crypto *c, size_t *off)
{
	return sdes_parse(rp_str_cstr(s), c, off);
}

/* "<tag> <suite> inline:<base64 of n bytes 0,1,2...>" + extra */
static void make_line(char *buf, size_t cap, const char *suite, size_t n,
	bool pad, const char *extra)
{
	uint8_t key[64];
	char b64[100];
	size_t bn;

	for (size_t i = 0; i < n; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(rp_base64_encode(key, n, b64, sizeof(b64), &bn), 0);
	while (!pad && bn && b64[bn - 1] == '=')
		bn--;
	snprintf(buf, cap, "1 %s inline:%.*s%s", suite, (int)bn, b64, extra);
}

START_TEST(test_rfc4568_offer_and_answer)
{
	struct sdes_crypto c;
	size_t off;

	/* RFC 4568 §8.1 offer, first attribute. */
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 "
		"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 "
		"FEC_ORDER=FEC_SRTP", &c, &off), SDES_OK);
	ck_assert_uint_eq(c.tag, 1);
	ck_assert_int_eq(c.suite, SDES_AES_CM_128_HMAC_SHA1_80);
	ck_assert_uint_eq(c.n_keys, 1);
	ck_assert_uint_eq(c.keys[0].key_salt_len, 30);
	ck_assert(memcmp(c.keys[0].key_salt, "YS___semctl () {\t220;}\n}\nunles",
		30) == 0);
	ck_assert_int_eq(c.keys[0].lifetime_form, SDES_LIFETIME_POW2);
	ck_assert_uint_eq(c.keys[0].lifetime_exp, 20);
	ck_assert(c.keys[0].has_mki);
	ck_assert_uint_eq(c.keys[0].mki, 1);
	ck_assert_uint_eq(c.keys[0].mki_len, 4);
	ck_assert_int_eq(c.fec_order, SDES_FEC_SRTP);
	ck_assert_uint_eq(c.n_unknown, 0);

	/* Second attribute: F8 with two keys told apart by MKI. */
	ck_assert_int_eq(parse("2 F8_128_HMAC_SHA1_80 "
		"inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
		"inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 "
		"FEC_ORDER=FEC_SRTP", &c, &off), SDES_OK);
	ck_assert_uint_eq(c.tag, 2);
	ck_assert_int_eq(c.suite, SDES_F8_128_HMAC_SHA1_80);
	ck_assert(!sdes_suite_info(c.suite)->supported);
	ck_assert_uint_eq(c.n_keys, 2);
	ck_assert(memcmp(c.keys[0].key_salt, "123456789ABCDE0123456789ABcdef",
		30) == 0);
	ck_assert(memcmp(c.keys[1].key_salt, "ABcdef123456789ABCDE0123456789",
		30) == 0);
	ck_assert_uint_eq(c.keys[1].mki, 2);

	/* The answer. */
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 "
		"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
		&c, &off), SDES_OK);
	ck_assert_uint_eq(c.keys[0].key_salt[0], '=');
	ck_assert_uint_eq(c.keys[0].key_salt[29], 'Q');

	/* Decimal lifetime given without an MKI is read as a lifetime; with a
	 * colon it is an MKI (RFC 4568 §6.1 example "1066:4"). */
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 "
		"inline:YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2|1066:4",
		&c, &off), SDES_OK);
	ck_assert(memcmp(c.keys[0].key_salt, "aBCdefghiJKLmoPQrsTuVwyz123456",
		30) == 0);
	ck_assert_int_eq(c.keys[0].lifetime_form, SDES_LIFETIME_NONE);
	ck_assert_uint_eq(c.keys[0].mki, 1066);
	ck_assert_uint_eq(c.keys[0].mki_len, 4);
	sdes_crypto_wipe(&c);
}
END_TEST

START_TEST(test_rfc7714_gcm)
{
	/* RFC 7714 §16 test vectors: key 00..0f / 00..1f, salt "Quid pro quo". */
	static const uint8_t salt[12] = "Quid pro quo";
	uint8_t ks[44];
	char b64[64], line[160], out[256];
	size_t n, on, off;
	struct sdes_crypto c;

	for (int i = 0; i < 32; i++)
		ks[i] = (uint8_t)i;
	memcpy(ks + 16, salt, 12);
	ck_assert_int_eq(rp_base64_encode(ks, 28, b64, sizeof(b64), &n), 0);
	snprintf(line, sizeof(line), "1 AEAD_AES_128_GCM inline:%.*s", (int)n, b64);
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(c.suite, SDES_AEAD_AES_128_GCM);
	ck_assert(memcmp(sdes_key_master(&c.keys[0]), ks, 16) == 0);
	ck_assert(memcmp(sdes_key_salt(&c.keys[0], c.suite), salt, 12) == 0);
	ck_assert_int_eq(sdes_format(&c, out, sizeof(out), &on), SDES_OK);
	ck_assert_uint_eq(on, strlen(line));
	ck_assert(memcmp(out, line, on) == 0);

	for (int i = 0; i < 32; i++)
		ks[i] = (uint8_t)i;
	memcpy(ks + 32, salt, 12);
	ck_assert_int_eq(rp_base64_encode(ks, 44, b64, sizeof(b64), &n), 0);
	snprintf(line, sizeof(line), "1 AEAD_AES_256_GCM inline:%.*s", (int)n, b64);
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(c.suite, SDES_AEAD_AES_256_GCM);
	ck_assert(memcmp(sdes_key_salt(&c.keys[0], c.suite), salt, 12) == 0);
	ck_assert(sdes_suite_info(c.suite)->aead);
	ck_assert_uint_eq(sdes_suite_info(c.suite)->srtp_tag_len, 16);
	sdes_crypto_wipe(&c);
}
END_TEST

START_TEST(test_suite_table)
{
	static const struct {
		const char *name;
		unsigned key, salt, tag;
		bool supported;
	} want[SDES_SUITE_COUNT] = {
		{ "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, true },
		{ "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, true },
		{ "AES_192_CM_HMAC_SHA1_80", 24, 14, 10, true },
		{ "AES_192_CM_HMAC_SHA1_32", 24, 14, 4, true },
		{ "AES_256_CM_HMAC_SHA1_80", 32, 14, 10, true },
		{ "AES_256_CM_HMAC_SHA1_32", 32, 14, 4, true },
		{ "AEAD_AES_128_GCM", 16, 12, 16, true },
		{ "AEAD_AES_256_GCM", 32, 12, 16, true },
		{ "NULL_HMAC_SHA1_80", 16, 14, 10, true },
		{ "NULL_HMAC_SHA1_32", 16, 14, 4, true },
		{ "F8_128_HMAC_SHA1_80", 16, 14, 10, false },
	};
	enum sdes_suite s;

	for (int i = 0; i < SDES_SUITE_COUNT; i++) {
		const struct sdes_suite_info *si = sdes_suite_info(i);

		ck_assert_ptr_nonnull(si);
		ck_assert_str_eq(si->name, want[i].name);
		ck_assert_str_eq(sdes_suite_name(i), want[i].name);
		ck_assert_int_eq(si->suite, i);
		ck_assert_uint_eq(si->key_len, want[i].key);
		ck_assert_uint_eq(sdes_suite_key_len(i), want[i].key);
		ck_assert_uint_eq(si->salt_len, want[i].salt);
		ck_assert_uint_eq(sdes_suite_salt_len(i), want[i].salt);
		ck_assert_uint_eq(si->srtp_tag_len, want[i].tag);
		ck_assert_uint_eq(si->srtcp_tag_len, want[i].tag == 16 ? 16 : 10);
		ck_assert(si->supported == want[i].supported);
		ck_assert_int_eq(sdes_suite_from_name(rp_str_cstr(want[i].name),
			&s), 0);
		ck_assert_int_eq(s, i);
	}
	ck_assert(!sdes_suite_info(SDES_NULL_HMAC_SHA1_80)->encrypts);
	ck_assert_ptr_null(sdes_suite_info(SDES_SUITE_COUNT));
	ck_assert_str_eq(sdes_suite_name(SDES_SUITE_COUNT), "?");
	ck_assert_uint_eq(sdes_suite_key_len(SDES_SUITE_COUNT), 0);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("AES_CM_256_HMAC_SHA1_80"),
		&s), 0);
	ck_assert_int_eq(s, SDES_AES_256_CM_HMAC_SHA1_80);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("AES_CM_256_HMAC_SHA1_32"),
		&s), 0);
	ck_assert_int_eq(s, SDES_AES_256_CM_HMAC_SHA1_32);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("AES_CM_192_HMAC_SHA1_80"),
		&s), 0);
	ck_assert_int_eq(s, SDES_AES_192_CM_HMAC_SHA1_80);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("AES_CM_192_HMAC_SHA1_32"),
		&s), 0);
	ck_assert_int_eq(s, SDES_AES_192_CM_HMAC_SHA1_32);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("aes_cm_128_hmac_sha1_80"),
		&s), -ENOENT);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_LIT("AES_CM_128_HMAC_SHA1_8"),
		&s), -ENOENT);
	ck_assert_int_eq(sdes_suite_from_name(RP_STR_NULL, &s), -ENOENT);
}
END_TEST

/* Right length accepted, one byte short or long rejected, for every suite
 * and its aliases; padded and unpadded base64. */
START_TEST(test_key_lengths_every_suite)
{
	static const struct {
		const char *name;
		size_t len;
	} names[] = {
		{ "AES_CM_128_HMAC_SHA1_80", 30 }, { "AES_CM_128_HMAC_SHA1_32", 30 },
		{ "AES_192_CM_HMAC_SHA1_80", 38 }, { "AES_192_CM_HMAC_SHA1_32", 38 },
		{ "AES_CM_192_HMAC_SHA1_80", 38 }, { "AES_CM_192_HMAC_SHA1_32", 38 },
		{ "AES_256_CM_HMAC_SHA1_80", 46 }, { "AES_256_CM_HMAC_SHA1_32", 46 },
		{ "AES_CM_256_HMAC_SHA1_80", 46 }, { "AES_CM_256_HMAC_SHA1_32", 46 },
		{ "AEAD_AES_128_GCM", 28 }, { "AEAD_AES_256_GCM", 44 },
		{ "NULL_HMAC_SHA1_80", 30 }, { "NULL_HMAC_SHA1_32", 30 },
		{ "F8_128_HMAC_SHA1_80", 30 },
	};
	char line[200];
	struct sdes_crypto c;
	size_t off;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (int pad = 0; pad < 2; pad++) {
			make_line(line, sizeof(line), names[i].name, names[i].len,
				pad, "");
			ck_assert_msg(parse(line, &c, &off) == SDES_OK, "%s", line);
			ck_assert_uint_eq(c.keys[0].key_salt_len, names[i].len);
			ck_assert_uint_eq(c.keys[0].key_salt[0], 1);
			ck_assert_uint_eq(c.keys[0].key_salt[names[i].len - 1],
				(uint8_t)((names[i].len - 1) * 7 + 1));
			make_line(line, sizeof(line), names[i].name,
				names[i].len - 1, pad, "");
			ck_assert_int_eq(parse(line, &c, &off), SDES_E_KEY_LEN);
			ck_assert_uint_eq(off, strlen(names[i].name) + 3 + 7);
			make_line(line, sizeof(line), names[i].name,
				names[i].len + 1, pad, "");
			ck_assert_int_eq(parse(line, &c, &off), SDES_E_KEY_LEN);
			/* A failed parse leaves no key bytes behind. */
			for (size_t k = 0; k < sizeof(c.keys[0].key_salt); k++)
				ck_assert_uint_eq(c.keys[0].key_salt[k], 0);
		}
	}
}
END_TEST

START_TEST(test_alias_formats_rfc_spelling)
{
	char line[200], out[300];
	struct sdes_crypto c;
	size_t off, n;

	make_line(line, sizeof(line), "AES_CM_256_HMAC_SHA1_80", 46, false, "");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(sdes_format(&c, out, sizeof(out), &n), SDES_OK);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, " AES_256_CM_HMAC_SHA1_80 inline:"));
	/* 46 bytes: 64 chars, no padding needed; 44 bytes (GCM-256) padded. */
	make_line(line, sizeof(line), "AEAD_AES_256_GCM", 44, false, "");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(sdes_format(&c, out, sizeof(out), &n), SDES_OK);
	ck_assert_int_eq(out[n - 1], '=');
	ck_assert_uint_eq(n, strlen(line) + 1);
}
END_TEST

START_TEST(test_lifetimes)
{
	char line[200];
	struct sdes_crypto c;
	size_t off;

	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true, "|2^20");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(c.keys[0].lifetime_form, SDES_LIFETIME_POW2);
	ck_assert_uint_eq(c.keys[0].lifetime_exp, 20);
	ck_assert(!c.keys[0].has_mki);
	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true, "|2^31");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_uint_eq(c.keys[0].lifetime_exp, 31);
	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true,
		"|1048576");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_int_eq(c.keys[0].lifetime_form, SDES_LIFETIME_DECIMAL);
	ck_assert_uint_eq(c.keys[0].lifetime, 1048576);
	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true,
		"|18446744073709551615");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_uint_eq(c.keys[0].lifetime, UINT64_MAX);

	static const char *bad[] = { "|2^", "|2^65", "|2^100", "|0", "|x",
		"|18446744073709551616", "|2^20|2^20", "|", "|3^4", "|2^-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30,
			true, bad[i]);
		int rc = parse(line, &c, &off);

		ck_assert_msg(rc == SDES_E_LIFETIME || rc == SDES_E_SYNTAX,
			"%s -> %d", bad[i], rc);
		ck_assert_uint_ge(off, 34 + 40);
	}
}
END_TEST

START_TEST(test_mki_forms)
{
	char line[200];
	struct sdes_crypto c;
	size_t off;
	static const struct {
		const char *extra;
		int rc;
		uint64_t mki;
		unsigned len;
	} cases[] = {
		{ "|1:4", SDES_OK, 1, 4 },
		{ "|2^20|1:4", SDES_OK, 1, 4 },
		{ "|255:1", SDES_OK, 255, 1 },
		{ "|256:1", SDES_E_MKI, 0, 0 },
		{ "|65535:2", SDES_OK, 65535, 2 },
		{ "|1:128", SDES_OK, 1, 128 },
		{ "|1:129", SDES_E_MKI, 0, 0 },
		{ "|1:0", SDES_E_MKI, 0, 0 },
		{ "|1:", SDES_E_MKI, 0, 0 },
		{ "|:4", SDES_E_MKI, 0, 0 },
		{ "|a:4", SDES_E_MKI, 0, 0 },
		{ "|1:4|2^20", SDES_E_LIFETIME, 0, 0 }, /* wrong order */
		{ "|1:4|2:4", SDES_E_MKI, 0, 0 },
		{ "|2^20|1:4|7", SDES_E_SYNTAX, 0, 0 },
		{ "|1:0004", SDES_E_MKI, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30,
			true, cases[i].extra);
		ck_assert_msg(parse(line, &c, &off) == cases[i].rc, "%s",
			cases[i].extra);
		if (cases[i].rc == SDES_OK) {
			ck_assert(c.keys[0].has_mki);
			ck_assert_uint_eq(c.keys[0].mki, cases[i].mki);
			ck_assert_uint_eq(c.keys[0].mki_len, cases[i].len);
		}
	}
}
END_TEST

START_TEST(test_session_params)
{
	char line[400];
	struct sdes_crypto c;
	size_t off;

	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_32", 30, true,
		" KDR=24 UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP"
		" FEC_ORDER=SRTP_FEC WSH=128 X-VENDOR=1 -opt");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert(c.has_kdr);
	ck_assert_uint_eq(c.kdr, 24);
	ck_assert(c.unencrypted_srtp && c.unencrypted_srtcp &&
		c.unauthenticated_srtp);
	ck_assert_int_eq(c.fec_order, SDES_SRTP_FEC);
	ck_assert(c.has_wsh);
	ck_assert_uint_eq(c.wsh, 128);
	ck_assert_uint_eq(c.n_unknown, 2);
	ck_assert(rp_str_eq_cstr(c.unknown[0], "X-VENDOR=1"));
	ck_assert(rp_str_eq_cstr(c.unknown[1], "-opt"));

	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true,
		" KDR=0 FEC_KEY=inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4");
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_uint_eq(c.kdr, 0);
	ck_assert_uint_eq(c.n_fec_keys, 1);
	ck_assert_uint_eq(c.fec_keys[0].key_salt[0], '=');
	ck_assert_uint_eq(c.fec_keys[0].mki_len, 4);

	static const char *bad[] = { " KDR=25", " KDR=", " KDR=1 KDR=2",
		" WSH=63", " WSH=4294967296", " WSH=x", " FEC_ORDER=FEC",
		" FEC_KEY=", " FEC_KEY=inline:AAAA", " FEC_KEY=x:y" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30,
			true, bad[i]);
		int rc = parse(line, &c, &off);

		ck_assert_msg(rc < 0, "%s", bad[i]);
		/* At the parameter, or inside FEC_KEY's key-params. */
		ck_assert_uint_ge(off, 2 + 23 + 8 + 40 + 1);
		ck_assert_uint_le(off, strlen(line));
	}
	/* Unknown parameters are bounded. */
	make_line(line, sizeof(line), "AES_CM_128_HMAC_SHA1_80", 30, true,
		" a b c d e f g h i");
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_TOO_MANY);
}
END_TEST

START_TEST(test_multiple_key_params)
{
	struct sdes_crypto c;
	size_t off;
	const char *k = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
	char line[400];

	snprintf(line, sizeof(line), "7 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4;"
		"inline:%s|2:4;inline:%s|2^31|3:4", k, k, k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_uint_eq(c.n_keys, 3);
	ck_assert_uint_eq(c.keys[2].mki, 3);
	ck_assert_uint_eq(c.keys[2].lifetime_exp, 31);
	ck_assert_int_eq(c.keys[1].lifetime_form, SDES_LIFETIME_NONE);

	/* Several keys need MKIs of one length, all different. */
	snprintf(line, sizeof(line), "7 AES_CM_128_HMAC_SHA1_80 inline:%s;inline:%s",
		k, k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_MKI);
	snprintf(line, sizeof(line),
		"7 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4;inline:%s|2:2", k, k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_MKI);
	snprintf(line, sizeof(line),
		"7 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4;inline:%s|1:4", k, k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_MKI);
	snprintf(line, sizeof(line), "7 AES_CM_128_HMAC_SHA1_80 inline:%s|1:4;", k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_KEY_METHOD);
	ck_assert_uint_eq(off, strlen(line));
}
END_TEST

START_TEST(test_hostile)
{
	struct sdes_crypto c;
	size_t off;
	const char *k = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
	char line[300];

	ck_assert_int_eq(parse("", &c, &off), SDES_E_SYNTAX);
	ck_assert_int_eq(sdes_parse(RP_STR_NULL, &c, &off), SDES_E_SYNTAX);
	ck_assert_int_eq(parse("   ", &c, &off), SDES_E_SYNTAX);
	ck_assert_int_eq(parse("1", &c, &off), SDES_E_SYNTAX);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80", &c, &off),
		SDES_E_SYNTAX);
	ck_assert_uint_eq(off, 25);
	ck_assert_int_eq(parse("1234567890 AES_CM_128_HMAC_SHA1_80 x", &c, &off),
		SDES_E_TAG);
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(parse("99999999999999999999999 X y", &c, &off),
		SDES_E_TAG);
	ck_assert_int_eq(parse("-1 AES_CM_128_HMAC_SHA1_80 x", &c, &off),
		SDES_E_TAG);
	ck_assert_int_eq(parse("1 AES_CM_999 x", &c, &off), SDES_E_SUITE);
	ck_assert_uint_eq(off, 2);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 uri:x", &c, &off),
		SDES_E_KEY_METHOD);
	ck_assert_uint_eq(off, 26);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 inline:", &c, &off),
		SDES_E_BASE64);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 "
		"inline:PS1uQCVeeCFCanVmcjkp*ywjNWhcYD0mXXtxaVBR", &c, &off),
		SDES_E_BASE64);
	ck_assert_uint_eq(off, 26 + 7 + 20);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 "
		"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB=", &c, &off),
		SDES_E_BASE64);
	/* NUL inside the value. */
	snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 inline:%s", k);
	line[10] = '\0';
	ck_assert_int_eq(sdes_parse(rp_str_make(line, 26 + 7 + 40), &c, &off),
		SDES_E_SYNTAX);
	ck_assert_uint_eq(off, 10);
	/* A CR/LF or a high byte is not whitespace. */
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80\r\ninline:x", &c, &off),
		SDES_E_SYNTAX);
	ck_assert_int_eq(parse("1 AES_CM_128_HMAC_SHA1_80 \xc3\xa9", &c, &off),
		SDES_E_SYNTAX);
	/* Leading/trailing whitespace and tabs are tolerated (seen from
	 * WebRTC stacks: "...|2^20|1:32 "). */
	snprintf(line, sizeof(line), "  1\tAES_CM_128_HMAC_SHA1_32  inline:%s|2^20|1:32 ", k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_OK);
	ck_assert_uint_eq(c.keys[0].mki_len, 32);
	/* Only the value is parsed, not "a=crypto:". */
	snprintf(line, sizeof(line), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s", k);
	ck_assert_int_eq(parse(line, &c, &off), SDES_E_TAG);
	ck_assert_int_eq(parse("0 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", &c, &off), SDES_OK);
	ck_assert_int_eq(parse("999999999 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", &c, &off), SDES_OK);
	ck_assert_uint_eq(c.tag, 999999999);
}
END_TEST

START_TEST(test_thousand_key_params)
{
	const char *kp = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4;";
	size_t kl = strlen(kp), n = 0;
	char *buf = malloc(64 + 1000 * kl);
	struct sdes_crypto c;
	size_t off;

	ck_assert_ptr_nonnull(buf);
	n = (size_t)sprintf(buf, "1 AES_CM_128_HMAC_SHA1_80 ");
	for (int i = 0; i < 1000; i++) {
		memcpy(buf + n, kp, kl);
		n += kl;
	}
	n--; /* drop the last ';' */
	ck_assert_int_eq(sdes_parse(rp_str_make(buf, n), &c, &off),
		SDES_E_TOO_MANY);
	ck_assert_uint_eq(off, 26 + SDES_MAX_KEYS * kl);
	free(buf);
}
END_TEST

static void check_same(const struct sdes_crypto *a, const struct sdes_crypto *b)
{
	ck_assert_uint_eq(a->tag, b->tag);
	ck_assert_int_eq(a->suite, b->suite);
	ck_assert_uint_eq(a->n_keys, b->n_keys);
	for (unsigned i = 0; i < a->n_keys; i++) {
		ck_assert_uint_eq(a->keys[i].key_salt_len, b->keys[i].key_salt_len);
		ck_assert(memcmp(a->keys[i].key_salt, b->keys[i].key_salt,
			a->keys[i].key_salt_len) == 0);
	}
}

START_TEST(test_generate_format_parse)
{
	struct rp_rand_pool *pool = NULL;

	ck_assert_int_eq(rp_rand_pool_new(&pool), 0);
	for (int s = 0; s < SDES_SUITE_COUNT; s++) {
		struct sdes_crypto g, g2, p;
		char buf[SDES_FORMAT_MAX];
		size_t n, off;
		const struct sdes_suite_info *si = sdes_suite_info(s);

		if (!si->supported) {
			ck_assert_int_eq(sdes_generate(1, s, pool, &g),
				SDES_E_UNSUPPORTED);
			continue;
		}
		ck_assert_int_eq(sdes_generate(42, s, pool, &g), SDES_OK);
		ck_assert_int_eq(sdes_generate(42, s, NULL, &g2), SDES_OK);
		ck_assert_uint_eq(g.keys[0].key_salt_len, si->key_len + si->salt_len);
		/* Two fresh keys differ (2^-128 chance of a false failure). */
		ck_assert(memcmp(g.keys[0].key_salt, g2.keys[0].key_salt,
			g.keys[0].key_salt_len) != 0);
		ck_assert_int_eq(sdes_format(&g, buf, sizeof(buf), &n), SDES_OK);
		ck_assert_int_eq(sdes_parse(rp_str_make(buf, n), &p, &off), SDES_OK);
		check_same(&g, &p);
		ck_assert(strncmp(buf, "42 ", 3) == 0);
		ck_assert(memcmp(buf + 3, si->name, strlen(si->name)) == 0);
		/* Always padded. */
		ck_assert_uint_eq(n, 3 + strlen(si->name) + 8 +
			rp_base64_encoded_len(si->key_len + si->salt_len));
		/* Too small a buffer: error, and no key text left behind. */
		ck_assert_int_eq(sdes_format(&g, buf, n - 1, &n), SDES_E_SPACE);
		for (size_t i = 0; i < n - 1; i++)
			ck_assert_int_eq(buf[i], 0);
		sdes_crypto_wipe(&g);
		sdes_crypto_wipe(&g2);
		sdes_crypto_wipe(&p);
		for (size_t i = 0; i < sizeof(g); i++)
			ck_assert_int_eq(((unsigned char *)&g)[i], 0);
	}
	struct sdes_crypto g;
	ck_assert_int_eq(sdes_generate(SDES_TAG_MAX + 1, SDES_AEAD_AES_128_GCM,
		pool, &g), SDES_E_TAG);
	pool = rp_rand_pool_free(pool);
	ck_assert_ptr_null(pool);
}
END_TEST

START_TEST(test_format_roundtrip_full)
{
	const char *in = "12 AES_256_CM_HMAC_SHA1_32 "
		"inline:AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PA==|2^48|1:4;"
		"inline:AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PA==|1000|2:4"
		" KDR=3 UNENCRYPTED_SRTCP FEC_ORDER=FEC_SRTP"
		" FEC_KEY=inline:AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PA=="
		" WSH=64 FOO=bar";
	struct sdes_crypto c, d;
	char out[SDES_FORMAT_MAX];
	size_t n, off;

	ck_assert_int_eq(parse(in, &c, &off), SDES_OK);
	ck_assert_int_eq(sdes_format(&c, out, sizeof(out), &n), SDES_OK);
	ck_assert_uint_eq(n, strlen(in));
	ck_assert(memcmp(out, in, n) == 0);
	ck_assert_int_eq(sdes_parse(rp_str_make(out, n), &d, &off), SDES_OK);
	check_same(&c, &d);
	ck_assert_uint_eq(d.keys[1].lifetime, 1000);
	/* A struct that would not parse back is refused. */
	c.keys[0].key_salt_len = 30;
	ck_assert_int_eq(sdes_format(&c, out, sizeof(out), &n), SDES_E_INVAL);
}
END_TEST

START_TEST(test_rand_basic)
{
	uint8_t a[32], b[32], z[32] = { 0 }, big[10000];
	struct rp_rand_pool *p;

	ck_assert_int_eq(rp_rand_bytes(a, sizeof(a)), 0);
	ck_assert_int_eq(rp_rand_bytes(b, sizeof(b)), 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	ck_assert(memcmp(a, z, sizeof(a)) != 0);
	ck_assert_int_eq(rp_rand_bytes(big, sizeof(big)), 0);
	ck_assert_int_eq(rp_rand_bytes(a, 0), 0);

	ck_assert_int_eq(rp_rand_pool_new(&p), 0);
	/* Many draws across several refills: no two the same. */
	static uint8_t draws[400][30];
	for (int i = 0; i < 400; i++)
		ck_assert_int_eq(rp_rand_pool_bytes(p, draws[i], 30), 0);
	for (int i = 0; i < 400; i++)
		for (int j = 0; j < i; j++)
			ck_assert(memcmp(draws[i], draws[j], 30) != 0);
	ck_assert_int_eq(rp_rand_pool_bytes(p, big, sizeof(big)), 0);
	ck_assert_int_eq(rp_rand_pool_bytes(NULL, a, sizeof(a)), 0);
	p = rp_rand_pool_free(p);
	ck_assert_ptr_null(rp_rand_pool_free(NULL));
}
END_TEST

/* A forked child must not hand out the bytes its parent will. */
START_TEST(test_rand_pool_fork)
{
	struct rp_rand_pool *p;
	uint8_t mine[32], theirs[32];
	int fds[2];
	pid_t pid;
	int status;

	ck_assert_int_eq(rp_rand_pool_new(&p), 0);
	ck_assert_int_eq(rp_rand_pool_bytes(p, mine, 16), 0); /* fill it */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t k[32];

		close(fds[0]);
		if (rp_rand_pool_bytes(p, k, sizeof(k)) != 0 ||
		    write(fds[1], k, sizeof(k)) != (ssize_t)sizeof(k))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(rp_rand_pool_bytes(p, mine, sizeof(mine)), 0);
	ck_assert_int_eq(read(fds[0], theirs, sizeof(theirs)), sizeof(theirs));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(memcmp(mine, theirs, sizeof(mine)) != 0);
	rp_rand_pool_free(p);
}
END_TEST


/* The largest struct sdes_format() accepts fits SDES_FORMAT_MAX. */
START_TEST(test_format_max)
{
	struct sdes_crypto c;
	char buf[SDES_FORMAT_MAX];
	size_t n;

	memset(&c, 0, sizeof(c));
	c.tag = SDES_TAG_MAX;
	c.suite = SDES_AES_256_CM_HMAC_SHA1_80;
	c.n_keys = c.n_fec_keys = SDES_MAX_KEYS;
	for (unsigned i = 0; i < SDES_MAX_KEYS; i++) {
		struct sdes_key *k[2] = { &c.keys[i], &c.fec_keys[i] };

		for (int j = 0; j < 2; j++) {
			memset(k[j]->key_salt, 0xff, sizeof(k[j]->key_salt));
			k[j]->key_salt_len = 46;
			k[j]->lifetime_form = SDES_LIFETIME_DECIMAL;
			k[j]->lifetime = UINT64_MAX;
			k[j]->has_mki = true;
			k[j]->mki = UINT64_MAX - i;
			k[j]->mki_len = SDES_MKI_LEN_MAX;
		}
	}
	c.has_kdr = true;
	c.kdr = 24;
	c.unencrypted_srtp = c.unencrypted_srtcp = c.unauthenticated_srtp = true;
	c.fec_order = SDES_FEC_SRTP;
	c.has_wsh = true;
	c.wsh = UINT32_MAX;
	ck_assert_int_eq(sdes_format(&c, buf, sizeof(buf), &n), SDES_OK);
	ck_assert_uint_gt(n, 1900);
	struct sdes_crypto d;
	size_t off;
	ck_assert_int_eq(sdes_parse(rp_str_make(buf, n), &d, &off), SDES_OK);
	ck_assert_uint_eq(d.fec_keys[7].mki, UINT64_MAX - 7);
	ck_assert_uint_eq(d.wsh, UINT32_MAX);
	sdes_crypto_wipe(&c);
	sdes_crypto_wipe(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sdes");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_rfc4568_offer_and_answer);
	tcase_add_test(tc, test_rfc7714_gcm);
	tcase_add_test(tc, test_suite_table);
	tcase_add_test(tc, test_key_lengths_every_suite);
	tcase_add_test(tc, test_alias_formats_rfc_spelling);
	tcase_add_test(tc, test_lifetimes);
	tcase_add_test(tc, test_mki_forms);
	tcase_add_test(tc, test_session_params);
	tcase_add_test(tc, test_multiple_key_params);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_thousand_key_params);
	tcase_add_test(tc, test_generate_format_parse);
	tcase_add_test(tc, test_format_roundtrip_full);
	tcase_add_test(tc, test_format_max);
	tcase_add_test(tc, test_rand_basic);
	tcase_add_test(tc, test_rand_pool_fork);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
