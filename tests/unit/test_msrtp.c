/* Unit tests for mediad/msrtp: known-answer vectors (RFC 3711 Appendix B,
 * RFC 7714 sections 16/17, libsrtp's own validation packets), a
 * cross-check of every suite against an independent SRTP built here on
 * libcrypto, and the behaviour mediad relies on: replay window, SSRC
 * change, ROC wrap and takeover, MKI, SRTCP index, bounds. */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msrtp.h"

#if __has_include(<openssl/evp.h>)
#define HAVE_LIBCRYPTO 1
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

/* ---- helpers ----------------------------------------------------------- */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			ck_assert_uint_lt(n, cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	ck_assert_int_eq(hi, -1);
	return n;
}

static void assert_mem(const uint8_t *got, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(got[i] == want[i], "byte %zu: got %02x want %02x", i, got[i], want[i]);
}

static struct msrtp *mk(enum msrtp_dir dir, enum msrtp_suite s, const uint8_t *key,
			const uint8_t *salt, const uint8_t *mki, size_t mki_len,
			unsigned window, uint32_t roc)
{
	struct msrtp_params p = {
		.suite = s, .key = key, .salt = salt, .mki = mki, .mki_len = mki_len,
		.window = window, .roc = roc,
	};
	struct msrtp *c = NULL;
	int rc = msrtp_new(dir, &p, &c);
	ck_assert_msg(rc == 0, "msrtp_new(%s) = %d", msrtp_suite_name(s), rc);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Deterministic key material per suite. */
static void keys_for(enum msrtp_suite s, uint8_t key[32], uint8_t salt[14], uint8_t fill)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(fill + 7 * i);
	for (int i = 0; i < 14; i++)
		salt[i] = (uint8_t)(0xa5 ^ (fill + 3 * i));
	(void)s;
}

static size_t rtp_pkt(uint8_t *b, uint32_t ssrc, uint16_t seq, size_t payload, uint8_t fill)
{
	b[0] = 0x80;
	b[1] = 0x00;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	uint32_t ts = (uint32_t)seq * 160u;
	b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < payload; i++)
		b[12 + i] = (uint8_t)(fill + i);
	return 12 + payload;
}

/* An RTCP receiver report with one report block (32 bytes). */
static size_t rtcp_pkt(uint8_t *b, uint32_t ssrc, uint8_t fill)
{
	b[0] = 0x81;
	b[1] = 201;
	b[2] = 0;
	b[3] = 7;
	b[4] = (uint8_t)(ssrc >> 24), b[5] = (uint8_t)(ssrc >> 16), b[6] = (uint8_t)(ssrc >> 8), b[7] = (uint8_t)ssrc;
	for (int i = 8; i < 32; i++)
		b[i] = (uint8_t)(fill + i);
	return 32;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_gcm(enum msrtp_suite s)
{
	return s == MSRTP_AEAD_AES_128_GCM || s == MSRTP_AEAD_AES_256_GCM;
}

static bool is_null(enum msrtp_suite s)
{
	return s == MSRTP_NULL_HMAC_SHA1_80 || s == MSRTP_NULL_HMAC_SHA1_32;
}

/* Only the Debian (system) libsrtp2 may lack a suite, and only AES-192,
 * whose key derivation it gets wrong; then msrtp_new refuses it. */
static bool unsupported(enum msrtp_suite s)
{
	if (msrtp_suite_supported(s))
		return false;
	ck_assert_msg(s == MSRTP_AES_192_CM_HMAC_SHA1_80 || s == MSRTP_AES_192_CM_HMAC_SHA1_32,
		      "%s unsupported", msrtp_suite_name(s));
	ck_assert_str_eq(msrtp_backend_name(), "system");
	uint8_t key[32] = {0}, salt[14] = {0};
	struct msrtp_params p = {.suite = s, .key = key, .salt = salt};
	struct msrtp *c = NULL;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -ENOTSUP);
	ck_assert_ptr_null(c);
	return true;
}

/* ---- an independent SRTP on libcrypto ---------------------------------- */
#ifdef HAVE_LIBCRYPTO

static const EVP_CIPHER *ctr_for(size_t klen)
{
	return klen == 16 ? EVP_aes_128_ctr() : klen == 24 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
}

static void aes_ctr(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in,
		    uint8_t *out, size_t n)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int ol = 0, fl = 0;
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_EncryptInit_ex(x, ctr_for(klen), NULL, key, iv), 1);
	if (n)
		ck_assert_int_eq(EVP_EncryptUpdate(x, out, &ol, in, (int)n), 1);
	ck_assert_int_eq(EVP_EncryptFinal_ex(x, out + ol, &fl), 1);
	EVP_CIPHER_CTX_free(x);
}

/* RFC 3711 section 4.3 key derivation (key_derivation_rate 0), with the
 * RFC 7714 rule that a 96-bit master salt is padded to 112 bits. */
static void kdf(const uint8_t *mkey, size_t klen, const uint8_t *msalt, size_t slen,
		uint8_t label, uint8_t *out, size_t n)
{
	uint8_t iv[16] = {0}, zero[64] = {0};
	memcpy(iv, msalt, slen);
	iv[7] ^= label;
	ck_assert_uint_le(n, sizeof(zero));
	aes_ctr(mkey, klen, iv, zero, out, n);
}

static void hmac_sha1(const uint8_t key[20], const uint8_t *a, size_t an, const uint8_t *b,
		      size_t bn, uint8_t out[20])
{
	uint8_t buf[2048];
	unsigned ol = 0;
	ck_assert_uint_le(an + bn, sizeof(buf));
	memcpy(buf, a, an);
	if (bn)
		memcpy(buf + an, b, bn);
	ck_assert_ptr_nonnull(HMAC(EVP_sha1(), key, 20, buf, an + bn, out, &ol));
	ck_assert_uint_eq(ol, 20);
}

/* AES-CM / NULL + HMAC-SHA1 SRTP of a 12-byte-header RTP packet. */
static size_t ref_srtp_cm(enum msrtp_suite s, const uint8_t *mkey, const uint8_t *msalt,
			  const uint8_t *pkt, size_t n, uint32_t roc, uint8_t *out)
{
	size_t klen = msrtp_key_len(s), tag = msrtp_rtp_tag_len(s);
	uint8_t ke[32], ks[14], ka[20], iv[16] = {0}, mac[20], rocb[4];
	kdf(mkey, klen, msalt, 14, 0, ke, klen);
	kdf(mkey, klen, msalt, 14, 2, ks, 14);
	kdf(mkey, klen, msalt, 14, 1, ka, 20);
	memcpy(iv, ks, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= pkt[8 + i];
	uint64_t idx = (uint64_t)roc << 16 | (uint64_t)(pkt[2] << 8 | pkt[3]);
	for (int i = 0; i < 6; i++)
		iv[8 + i] ^= (uint8_t)(idx >> (8 * (5 - i)));
	memcpy(out, pkt, 12);
	if (is_null(s))
		memcpy(out + 12, pkt + 12, n - 12);
	else
		aes_ctr(ke, klen, iv, pkt + 12, out + 12, n - 12);
	rocb[0] = (uint8_t)(roc >> 24), rocb[1] = (uint8_t)(roc >> 16), rocb[2] = (uint8_t)(roc >> 8), rocb[3] = (uint8_t)roc;
	hmac_sha1(ka, out, n, rocb, 4, mac);
	memcpy(out + n, mac, tag);
	return n + tag;
}

/* The same for SRTCP with SRTCP index 'index'. */
static size_t ref_srtcp_cm(enum msrtp_suite s, const uint8_t *mkey, const uint8_t *msalt,
			   const uint8_t *pkt, size_t n, uint32_t index, uint8_t *out)
{
	size_t klen = msrtp_key_len(s);
	uint8_t ke[32], ks[14], ka[20], iv[16] = {0}, mac[20], ei[4];
	kdf(mkey, klen, msalt, 14, 3, ke, klen);
	kdf(mkey, klen, msalt, 14, 5, ks, 14);
	kdf(mkey, klen, msalt, 14, 4, ka, 20);
	memcpy(iv, ks, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= pkt[4 + i];
	for (int i = 0; i < 4; i++)
		iv[10 + i] ^= (uint8_t)(index >> (8 * (3 - i)));
	memcpy(out, pkt, 8);
	uint32_t e = is_null(s) ? 0 : 0x80000000u;
	if (is_null(s))
		memcpy(out + 8, pkt + 8, n - 8);
	else
		aes_ctr(ke, klen, iv, pkt + 8, out + 8, n - 8);
	uint32_t w = e | index;
	ei[0] = (uint8_t)(w >> 24), ei[1] = (uint8_t)(w >> 16), ei[2] = (uint8_t)(w >> 8), ei[3] = (uint8_t)w;
	memcpy(out + n, ei, 4);
	hmac_sha1(ka, out, n + 4, NULL, 0, mac);
	memcpy(out + n + 4, mac, 10);
	return n + 4 + 10;
}

static void gcm(const uint8_t *key, size_t klen, const uint8_t iv[12], const uint8_t *aad,
		size_t aadn, const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int ol = 0;
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_EncryptInit_ex(x, klen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(),
					    NULL, key, iv), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(x, NULL, &ol, aad, (int)aadn), 1);
	if (n)
		ck_assert_int_eq(EVP_EncryptUpdate(x, out, &ol, in, (int)n), 1);
	ck_assert_int_eq(EVP_EncryptFinal_ex(x, out + n, &ol), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(x);
}

/* RFC 7714 section 8/9 with session key and salt given directly. */
static size_t ref_srtp_gcm_session(const uint8_t *key, size_t klen, const uint8_t salt[12],
				   const uint8_t *pkt, size_t n, uint32_t roc, uint8_t *out)
{
	uint8_t iv[12] = {0};
	memcpy(iv + 2, pkt + 8, 4);
	iv[6] = (uint8_t)(roc >> 24), iv[7] = (uint8_t)(roc >> 16), iv[8] = (uint8_t)(roc >> 8), iv[9] = (uint8_t)roc;
	iv[10] = pkt[2], iv[11] = pkt[3];
	for (int i = 0; i < 12; i++)
		iv[i] ^= salt[i];
	memcpy(out, pkt, 12);
	gcm(key, klen, iv, pkt, 12, pkt + 12, n - 12, out + 12, out + n);
	return n + 16;
}

static size_t ref_srtcp_gcm_session(const uint8_t *key, size_t klen, const uint8_t salt[12],
				    const uint8_t *pkt, size_t n, uint32_t index, uint8_t *out)
{
	uint8_t iv[12] = {0}, aad[12];
	memcpy(iv + 2, pkt + 4, 4);
	iv[8] = (uint8_t)(index >> 24), iv[9] = (uint8_t)(index >> 16), iv[10] = (uint8_t)(index >> 8), iv[11] = (uint8_t)index;
	for (int i = 0; i < 12; i++)
		iv[i] ^= salt[i];
	uint32_t w = 0x80000000u | index;
	memcpy(aad, pkt, 8);
	aad[8] = (uint8_t)(w >> 24), aad[9] = (uint8_t)(w >> 16), aad[10] = (uint8_t)(w >> 8), aad[11] = (uint8_t)w;
	memcpy(out, pkt, 8);
	gcm(key, klen, iv, aad, 12, pkt + 8, n - 8, out + 8, out + n);
	memcpy(out + n + 16, aad + 8, 4);
	return n + 20;
}

/* The same from a master key and 96-bit master salt (RFC 7714 section 11). */
static size_t ref_srtp_gcm(const uint8_t *mkey, size_t klen, const uint8_t msalt[12],
			   const uint8_t *pkt, size_t n, uint32_t roc, uint8_t *out)
{
	uint8_t k[32], s[12];
	kdf(mkey, klen, msalt, 12, 0, k, klen);
	kdf(mkey, klen, msalt, 12, 2, s, 12);
	return ref_srtp_gcm_session(k, klen, s, pkt, n, roc, out);
}

static size_t ref_srtcp_gcm(const uint8_t *mkey, size_t klen, const uint8_t msalt[12],
			    const uint8_t *pkt, size_t n, uint32_t index, uint8_t *out)
{
	uint8_t k[32], s[12];
	kdf(mkey, klen, msalt, 12, 3, k, klen);
	kdf(mkey, klen, msalt, 12, 5, s, 12);
	return ref_srtcp_gcm_session(k, klen, s, pkt, n, index, out);
}

/* RFC 3711 B.2: the AES-CM keystream for the given session key and salt. */
START_TEST(test_rfc3711_b2_keystream)
{
	uint8_t key[16], salt[14], iv[16] = {0}, zero[48] = {0}, ks[48], want[48];
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof(key));
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt, sizeof(salt));
	memcpy(iv, salt, 14);
	aes_ctr(key, 16, iv, zero, ks, 48);
	unhex("E03EAD0935C95E80E166B16DD92B4EB4"
	      "D23513162B02D0F72A43A2FE4A5F97AB"
	      "41E95B3BB0A2E8DD477901E4FCA894C0", want, sizeof(want));
	assert_mem(ks, want, 48);
}
END_TEST

/* RFC 3711 B.3: session keys derived from the master key of the known
 * packets below. */
START_TEST(test_rfc3711_b3_kdf)
{
	uint8_t mk[16], ms[14], out[20], want[20];
	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof(mk));
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof(ms));
	kdf(mk, 16, ms, 14, 0, out, 16);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof(want));
	assert_mem(out, want, 16);
	kdf(mk, 16, ms, 14, 2, out, 14);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof(want));
	assert_mem(out, want, 14);
	kdf(mk, 16, ms, 14, 1, out, 20);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want, sizeof(want));
	assert_mem(out, want, 20);
}
END_TEST

/* RFC 6188 sections 7.2 (AES-256) and 7.4 (AES-192) key derivation. */
START_TEST(test_rfc6188_kdf)
{
	uint8_t mk[32], ms[14], out[32], want[32];
	unhex("73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1", mk, sizeof(mk));
	unhex("c8522f3acd4ce86d5add78edbb11", ms, sizeof(ms));
	kdf(mk, 24, ms, 14, 0, out, 24);
	unhex("31874736a8f1143870c26e4857d8a5b2c4a354407faadabb", want, sizeof(want));
	assert_mem(out, want, 24);
	kdf(mk, 24, ms, 14, 2, out, 14);
	unhex("2372b82d639b6d8503a47adc0a6c", want, sizeof(want));
	assert_mem(out, want, 14);
	kdf(mk, 24, ms, 14, 1, out, 20);
	unhex("355b10973cd95b9eacf4061c7e1a7151e7cfbfcb", want, sizeof(want));
	assert_mem(out, want, 20);

	unhex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6", mk, sizeof(mk));
	unhex("3b04803de51ee7c96423ab5b78d2", ms, sizeof(ms));
	kdf(mk, 32, ms, 14, 0, out, 32);
	unhex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4", want, sizeof(want));
	assert_mem(out, want, 32);
	kdf(mk, 32, ms, 14, 2, out, 14);
	unhex("fa31791685ca444a9e07c6c64e93", want, sizeof(want));
	assert_mem(out, want, 14);
	kdf(mk, 32, ms, 14, 1, out, 20);
	unhex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05", want, sizeof(want));
	assert_mem(out, want, 20);
}
END_TEST

/* The AES-192 packet msrtp's start-up self-test expects is what the
 * RFC 6188 reference computes. */
START_TEST(test_aes192_selftest_vector)
{
	uint8_t mk[24], ms[14], pt[64], out[64], want[64];
	unhex("73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1", mk, sizeof(mk));
	unhex("c8522f3acd4ce86d5add78edbb11", ms, sizeof(ms));
	size_t n = unhex("800f1234decafbadcafebabe abababababababababababababababab", pt, sizeof(pt));
	size_t wn = unhex("800f1234decafbadcafebabe1e84e1395a55cc6cd7b80db939a83a78e3e7e10bf579c261e5c6",
			  want, sizeof(want));
	ck_assert_uint_eq(ref_srtp_cm(MSRTP_AES_192_CM_HMAC_SHA1_80, mk, ms, pt, n, 0, out), wn);
	assert_mem(out, want, wn);
}
END_TEST

/* RFC 7714 sections 16.1, 16.2, 17.1, 17.2 (session keys given directly, so
 * they pin the AEAD reference that the wrapper is compared with below). */
static const char rfc7714_rtp[] =
	"8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973"
	"20646976 69736120 696e2070 61727465 73207472 6573";
static const char rfc7714_rtcp[] =
	"81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
	"deadbeef deadbeef deadbeef deadbeef deadbeef";

START_TEST(test_rfc7714_vectors)
{
	uint8_t k128[16], k256[32], salt[12], pt[128], out[160], want[160];
	unhex("000102030405060708090a0b0c0d0e0f", k128, sizeof(k128));
	unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", k256, sizeof(k256));
	unhex("517569642070726f2071756f", salt, sizeof(salt));

	size_t n = unhex(rfc7714_rtp, pt, sizeof(pt));
	size_t wn = unhex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
			  "be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1"
			  "6a9152cf 765ee439 0cce", want, sizeof(want));
	ck_assert_uint_eq(ref_srtp_gcm_session(k128, 16, salt, pt, n, 0, out), wn);
	assert_mem(out, want, wn);
	wn = unhex("8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa"
		   "b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff"
		   "d6b0f9bb 7878d7a7 6c13", want, sizeof(want));
	ck_assert_uint_eq(ref_srtp_gcm_session(k256, 32, salt, pt, n, 0, out), wn);
	assert_mem(out, want, wn);

	n = unhex(rfc7714_rtcp, pt, sizeof(pt));
	wn = unhex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7"
		   "6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458"
		   "96cf4d2f c5abf872 45d9eade 800005d4", want, sizeof(want));
	ck_assert_uint_eq(ref_srtcp_gcm_session(k128, 16, salt, pt, n, 0x5d4, out), wn);
	assert_mem(out, want, wn);
	wn = unhex("81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d"
		   "bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c"
		   "4446839f 57ff6f6c b26ac3be 800005d4", want, sizeof(want));
	ck_assert_uint_eq(ref_srtcp_gcm_session(k256, 32, salt, pt, n, 0x5d4, out), wn);
	assert_mem(out, want, wn);
}
END_TEST

/* Every suite through the wrapper equals the reference, for RTP at three
 * ROCs-worth of sequence numbers and for SRTCP indexes 1..3. */
START_TEST(test_all_suites_match_reference)
{
	enum msrtp_suite s = (enum msrtp_suite)_i;
	uint8_t key[32], salt[14];
	if (unsupported(s))
		return;
	keys_for(s, key, salt, (uint8_t)(0x11 * (_i + 1)));
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	uint8_t pt[512], buf[512], want[512];
	/* 65534, 65535, 0, 1: the last two are ROC 1. */
	const uint16_t seqs[] = {65534, 65535, 0, 1};
	for (unsigned i = 0; i < 4; i++) {
		size_t n = rtp_pkt(pt, 0x01020304, seqs[i], 20 + 37 * i, (uint8_t)i);
		uint32_t roc = i >= 2 ? 1 : 0;
		size_t wn = is_gcm(s) ? ref_srtp_gcm(key, msrtp_key_len(s), salt, pt, n, roc, want)
				      : ref_srtp_cm(s, key, salt, pt, n, roc, want);
		memcpy(buf, pt, n);
		size_t len = n;
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, wn);
		assert_mem(buf, want, wn);
	}
	for (uint32_t idx = 1; idx <= 3; idx++) {
		size_t n = rtcp_pkt(pt, 0x01020304, (uint8_t)idx);
		size_t wn = is_gcm(s) ? ref_srtcp_gcm(key, msrtp_key_len(s), salt, pt, n, idx, want)
				      : ref_srtcp_cm(s, key, salt, pt, n, idx, want);
		memcpy(buf, pt, n);
		size_t len = n;
		ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, wn);
		assert_mem(buf, want, wn);
	}
	msrtp_free(tx);
}
END_TEST

/* msrtp lets the AES-CM ciphers of one context share one libcrypto context
 * and re-keys it when another of them (RTCP, a second SSRC's stream, another
 * context) takes a turn: every packet must still equal the reference, and
 * unprotect must give the plaintext back, in any interleaving. */
START_TEST(test_interleaved_match_reference)
{
	enum msrtp_suite s = (enum msrtp_suite)_i;
	uint8_t key[32], salt[14], key2[32], salt2[14];
	if (unsupported(s))
		return;
	keys_for(s, key, salt, (uint8_t)(0x21 * (_i + 1)));
	keys_for(s, key2, salt2, (uint8_t)(0x35 * (_i + 1)));
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *other = mk(MSRTP_PROTECT, s, key2, salt2, NULL, 0, 0, 0);
	/* SSRC B gets a stream of its own (own ciphers), A uses the template's. */
	ck_assert_int_eq(msrtp_set_roc(tx, 0xB, 0), 0);
	ck_assert_int_eq(msrtp_set_roc(rx, 0xB, 0), 0);
	uint8_t pt[512], buf[512], want[512];
	uint32_t rtcp_idx[2] = {0, 0};
	for (unsigned i = 0; i < 24; i++) {
		unsigned which = (i / 2) % 2; /* A A B B A A ... */
		uint32_t ssrc = which ? 0xB : 0xA;
		bool rtcp = i % 3 == 2;
		size_t n, wn, len;
		if (rtcp) {
			uint32_t idx = ++rtcp_idx[which];
			n = rtcp_pkt(pt, ssrc, (uint8_t)i);
			wn = is_gcm(s) ? ref_srtcp_gcm(key, msrtp_key_len(s), salt, pt, n, idx, want)
				       : ref_srtcp_cm(s, key, salt, pt, n, idx, want);
		} else {
			n = rtp_pkt(pt, ssrc, (uint16_t)(1000 + i), 40 + i, (uint8_t)i);
			wn = is_gcm(s) ? ref_srtp_gcm(key, msrtp_key_len(s), salt, pt, n, 0, want)
				       : ref_srtp_cm(s, key, salt, pt, n, 0, want);
		}
		memcpy(buf, pt, n);
		len = n;
		ck_assert_int_eq(rtcp ? msrtp_protect_rtcp(tx, buf, &len, sizeof(buf))
				      : msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, wn);
		assert_mem(buf, want, wn);
		/* Another context in between (the other leg of a session). */
		uint8_t ob[512];
		size_t on = rtp_pkt(ob, 0xC, (uint16_t)(7 + i), 60, 1);
		ck_assert_int_eq(msrtp_protect_rtp(other, ob, &on, sizeof(ob)), MSRTP_OK);
		ck_assert_int_eq(rtcp ? msrtp_unprotect_rtcp(rx, buf, &len)
				      : msrtp_unprotect_rtp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
	}
	msrtp_free(tx);
	msrtp_free(rx);
	msrtp_free(other);
}
END_TEST
#endif /* HAVE_LIBCRYPTO */

/* ---- known packets ----------------------------------------------------- */

/* libsrtp's validation packets: RFC 3711 B.3's master key, SSRC cafebabe. */
static const char known_rtp_pt[] = "800f1234decafbadcafebabe abababababababababababababababab";
static const char known_rtcp_pt[] = "81c8000bcafebabe abababababababababababababababab";

static void check_known(enum msrtp_suite s, const char *key_hex, const char *salt_hex,
			const char *srtp_hex, const char *srtcp_hex)
{
	uint8_t key[32], salt[14], pt[64], buf[256], want[64];
	if (unsupported(s))
		return;
	ck_assert_uint_eq(unhex(key_hex, key, sizeof(key)), msrtp_key_len(s));
	ck_assert_uint_eq(unhex(salt_hex, salt, sizeof(salt)), msrtp_salt_len(s));
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);

	size_t n = unhex(known_rtp_pt, pt, sizeof(pt)), wn = unhex(srtp_hex, want, sizeof(want));
	memcpy(buf, pt, n);
	size_t len = n;
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_uint_eq(len, wn);
	assert_mem(buf, want, wn);
	ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &len), MSRTP_OK);
	ck_assert_uint_eq(len, n);
	assert_mem(buf, pt, n);

	if (srtcp_hex) {
		n = unhex(known_rtcp_pt, pt, sizeof(pt));
		wn = unhex(srtcp_hex, want, sizeof(want));
		memcpy(buf, pt, n);
		len = n;
		ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, wn);
		assert_mem(buf, want, wn);
		ck_assert_int_eq(msrtp_unprotect_rtcp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
	}
	msrtp_free(tx);
	msrtp_free(rx);
}

START_TEST(test_known_aes_cm_128)
{
	check_known(MSRTP_AES_CM_128_HMAC_SHA1_80, "e1f97a0d3e018be0d64fa32c06de4139",
		    "0ec675ad498afeebb6960b3aabe6",
		    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
		    "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798");
}
END_TEST

START_TEST(test_known_aes_cm_256)
{
	check_known(MSRTP_AES_256_CM_HMAC_SHA1_80,
		    "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6",
		    "3b04803de51ee7c96423ab5b78d2",
		    "800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40da08d9d9a5b3a55d8873b",
		    NULL);
}
END_TEST

START_TEST(test_known_aes_192_cm)
{
	check_known(MSRTP_AES_192_CM_HMAC_SHA1_80, "73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1",
		    "c8522f3acd4ce86d5add78edbb11",
		    "800f1234decafbadcafebabe1e84e1395a55cc6cd7b80db939a83a78e3e7e10bf579c261e5c6",
		    NULL);
}
END_TEST

START_TEST(test_known_aead_aes_128_gcm)
{
	check_known(MSRTP_AEAD_AES_128_GCM, "000102030405060708090a0b0c0d0e0f",
		    "a0a1a2a3a4a5a6a7a8a9aaab",
		    "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392",
		    "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001");
}
END_TEST

/* ---- suites table and parameters --------------------------------------- */

START_TEST(test_suite_table)
{
	enum msrtp_suite s;
	ck_assert_str_eq(msrtp_suite_name(MSRTP_AES_CM_128_HMAC_SHA1_80), "AES_CM_128_HMAC_SHA1_80");
	ck_assert_str_eq(msrtp_suite_name(MSRTP_AEAD_AES_256_GCM), "AEAD_AES_256_GCM");
	for (unsigned i = 0; i < MSRTP_SUITE_COUNT; i++) {
		const char *n = msrtp_suite_name((enum msrtp_suite)i);
		ck_assert_int_eq(msrtp_suite_from_name(n, strlen(n), &s), 0);
		ck_assert_uint_eq(s, i);
	}
	ck_assert_int_eq(msrtp_suite_from_name("aes_cm_128_hmac_sha1_32", 23, &s), 0);
	ck_assert_uint_eq(s, MSRTP_AES_CM_128_HMAC_SHA1_32);
	ck_assert_int_eq(msrtp_suite_from_name("AES_CM_256_HMAC_SHA1_80", 23, &s), 0);
	ck_assert_uint_eq(s, MSRTP_AES_256_CM_HMAC_SHA1_80);
	ck_assert_int_eq(msrtp_suite_from_name("SRTP_AEAD_AES_128_GCM", 21, &s), 0);
	ck_assert_uint_eq(s, MSRTP_AEAD_AES_128_GCM);
	/* Not NUL-terminated: only len bytes count. */
	ck_assert_int_eq(msrtp_suite_from_name("AEAD_AES_128_GCMxyz", 16, &s), 0);
	ck_assert_uint_eq(s, MSRTP_AEAD_AES_128_GCM);
	s = MSRTP_NULL_HMAC_SHA1_32;
	ck_assert_int_eq(msrtp_suite_from_name("AES_CM_128_HMAC_SHA1_8", 22, &s), -EINVAL);
	ck_assert_int_eq(msrtp_suite_from_name("F8_128_HMAC_SHA1_80", 19, &s), -EINVAL);
	ck_assert_uint_eq(s, MSRTP_NULL_HMAC_SHA1_32);

	ck_assert_uint_eq(msrtp_key_len(MSRTP_AES_192_CM_HMAC_SHA1_32), 24);
	ck_assert_uint_eq(msrtp_salt_len(MSRTP_AEAD_AES_256_GCM), 12);
	ck_assert_uint_eq(msrtp_salt_len(MSRTP_AES_CM_128_HMAC_SHA1_80), 14);
	ck_assert_uint_eq(msrtp_rtp_tag_len(MSRTP_AES_CM_128_HMAC_SHA1_32), 4);
	ck_assert_uint_eq(msrtp_rtp_tag_len(MSRTP_AES_CM_128_HMAC_SHA1_80), 10);
	ck_assert_uint_eq(msrtp_rtp_tag_len(MSRTP_AEAD_AES_128_GCM), 16);
	ck_assert_uint_eq(msrtp_rtcp_tag_len(MSRTP_AES_CM_128_HMAC_SHA1_32), 14);
	ck_assert_uint_eq(msrtp_rtcp_tag_len(MSRTP_AEAD_AES_256_GCM), 20);
	ck_assert_uint_eq(msrtp_key_len(MSRTP_SUITE_COUNT), 0);
	ck_assert_str_eq(msrtp_suite_name(MSRTP_SUITE_COUNT), "unknown");
}
END_TEST

START_TEST(test_bad_params)
{
	uint8_t key[32] = {1}, salt[14] = {2}, mki[5] = {3};
	struct msrtp *c = (struct msrtp *)&c; /* must stay untouched */
	struct msrtp *const sentinel = c;
	struct msrtp_params p = {.suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = key, .salt = salt};

	ck_assert_int_eq(msrtp_global_init(), 0);
	ck_assert_int_eq(msrtp_global_init(), 0);
	ck_assert(!strcmp(msrtp_backend_name(), "openssl") || !strcmp(msrtp_backend_name(), "system"));

	p.mki = mki, p.mki_len = 5;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -EINVAL);
	p.mki = NULL, p.mki_len = 2;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -EINVAL);
	p.mki_len = 0, p.window = 63;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -EINVAL);
	p.window = 0x8000;
	ck_assert_int_eq(msrtp_new(MSRTP_UNPROTECT, &p, &c), -EINVAL);
	p.window = 0, p.key = NULL;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -EINVAL);
	p.key = key, p.suite = MSRTP_SUITE_COUNT;
	ck_assert_int_eq(msrtp_new(MSRTP_PROTECT, &p, &c), -EINVAL);
	p.suite = MSRTP_AES_CM_128_HMAC_SHA1_80;
	ck_assert_int_eq(msrtp_new((enum msrtp_dir)7, &p, &c), -EINVAL);
	ck_assert_ptr_eq(c, sentinel);
	ck_assert_ptr_null(msrtp_free(NULL));

	p.window = 64;
	ck_assert_int_eq(msrtp_new(MSRTP_UNPROTECT, &p, &c), 0);
	ck_assert_ptr_ne(c, sentinel);
	ck_assert_ptr_null(msrtp_free(c));
}
END_TEST

/* ---- round trips, tampering, replay ------------------------------------ */

/* Every suite, with and without MKI: RTP and RTCP round trip, lengths grow by
 * exactly tag (+ MKI), a flipped bit anywhere is an auth failure, a replay
 * is a replay, and a good packet still passes after the failures. */
START_TEST(test_roundtrip_tamper_replay)
{
	enum msrtp_suite s = (enum msrtp_suite)(_i / 2);
	size_t mki_len = (_i % 2) ? 4 : 0;
	uint8_t key[32], salt[14], mki[4] = {0xde, 0xad, 0xbe, 0xef};
	if (unsupported(s))
		return;
	keys_for(s, key, salt, (uint8_t)_i);
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, mki, mki_len, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, mki, mki_len, 0, 0);
	uint8_t pt[300], buf[512], bad[512];

	for (unsigned i = 0; i < 40; i++) {
		size_t n = rtp_pkt(pt, 0x5eed0001, (uint16_t)(1000 + i), i * 7, (uint8_t)i), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + msrtp_rtp_tag_len(s) + mki_len);
		if (mki_len)
			assert_mem(buf + n + (is_gcm(s) ? 16 : 0), mki, mki_len);
		if (!is_null(s) && i * 7 >= 8)
			ck_assert(memcmp(buf + 12, pt + 12, 8) != 0); /* encrypted */
		if (i % 5 == 0) {
			/* Flip one bit: in the header, payload or tag. */
			size_t at = (i / 5) % 3 == 0 ? 3 : (i / 5) % 3 == 1 ? len / 2 : len - 1;
			size_t bl = len;
			memcpy(bad, buf, len);
			bad[at] ^= 0x10;
			ck_assert_int_eq(msrtp_unprotect_rtp(rx, bad, &bl), MSRTP_E_AUTH);
			ck_assert_uint_eq(bl, len);
		}
		memcpy(bad, buf, len);
		size_t bl = len;
		ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx, bad, &bl), MSRTP_E_REPLAY);
	}
	for (unsigned i = 0; i < 5; i++) {
		size_t n = rtcp_pkt(pt, 0x5eed0001, (uint8_t)i), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + msrtp_rtcp_tag_len(s) + mki_len);
		/* MKI: after E|index (AES-CM), last (AEAD, RFC 7714). */
		if (mki_len)
			assert_mem(buf + (is_gcm(s) ? len - mki_len : n + 4), mki, mki_len);
		memcpy(bad, buf, len);
		bad[10] ^= 1;
		size_t bl = len;
		ck_assert_int_eq(msrtp_unprotect_rtcp(rx, bad, &bl), MSRTP_E_AUTH);
		memcpy(bad, buf, len);
		bl = len;
		ck_assert_int_eq(msrtp_unprotect_rtcp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
		ck_assert_int_eq(msrtp_unprotect_rtcp(rx, bad, &bl), MSRTP_E_REPLAY);
	}
	/* The wrong key never verifies. */
	uint8_t key2[32];
	memcpy(key2, key, sizeof(key2));
	key2[0] ^= 1;
	struct msrtp *rx2 = mk(MSRTP_UNPROTECT, s, key2, salt, mki, mki_len, 0, 0);
	size_t n = rtp_pkt(pt, 0x5eed0001, 2000, 50, 9), len = n;
	memcpy(buf, pt, n);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_int_eq(msrtp_unprotect_rtp(rx2, buf, &len), MSRTP_E_AUTH);
	msrtp_free(rx2);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

/* Replay window, table-driven (window 64: accepted back to highest - 63). */
START_TEST(test_replay_window_table)
{
	static const struct {
		uint16_t seq;
		int want;
	} rows[] = {
		{1, MSRTP_OK},          /* first */
		{2, MSRTP_OK},          /* in order */
		{2, MSRTP_E_REPLAY},    /* duplicate */
		{5, MSRTP_OK},          /* gap */
		{3, MSRTP_OK},          /* out of order inside the window */
		{4, MSRTP_OK},
		{3, MSRTP_E_REPLAY},    /* duplicate of a late one */
		{100, MSRTP_OK},        /* ahead */
		{37, MSRTP_OK},         /* 100 - 63: oldest still in the window */
		{36, MSRTP_E_REPLAY},   /* 100 - 64: older than the window */
		{37, MSRTP_E_REPLAY},
		{99, MSRTP_OK},
		{100, MSRTP_E_REPLAY},
		{30000, MSRTP_OK},      /* far jump ahead (< 2^15) */
		{99, MSRTP_E_REPLAY},   /* now far behind */
		{29937, MSRTP_OK},      /* 30000 - 63 */
		{29936, MSRTP_E_REPLAY},
		{30001, MSRTP_OK},
	};
	const size_t nrows = sizeof(rows) / sizeof(rows[0]);
	uint8_t key[32], salt[14];
	keys_for(MSRTP_AES_CM_128_HMAC_SHA1_80, key, salt, 0x42);
	struct msrtp *tx = mk(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, key, salt, NULL, 0, 64, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, MSRTP_AES_CM_128_HMAC_SHA1_80, key, salt, NULL, 0, 64, 0);

	/* The sender protects every sequence number once, in increasing order. */
	static uint8_t wire[18][128];
	size_t wlen[18];
	uint16_t done[18];
	size_t ndone = 0;
	for (;;) {
		int next = -1;
		for (size_t r = 0; r < nrows; r++) {
			bool have = false;
			for (size_t d = 0; d < ndone; d++)
				have |= done[d] == rows[r].seq;
			if (!have && (next < 0 || rows[r].seq < next))
				next = rows[r].seq;
		}
		if (next < 0)
			break;
		ck_assert_uint_lt(ndone, 18);
		wlen[ndone] = rtp_pkt(wire[ndone], 0xabcd0001, (uint16_t)next, 40, (uint8_t)next);
		ck_assert_int_eq(msrtp_protect_rtp(tx, wire[ndone], &wlen[ndone], sizeof(wire[0])), MSRTP_OK);
		done[ndone++] = (uint16_t)next;
	}
	for (size_t r = 0; r < nrows; r++) {
		size_t d = 0;
		while (done[d] != rows[r].seq)
			d++;
		uint8_t buf[128];
		size_t len = wlen[d];
		memcpy(buf, wire[d], len);
		int rc = msrtp_unprotect_rtp(rx, buf, &len);
		ck_assert_msg(rc == rows[r].want, "row %zu seq %u: got %d want %d", r,
			      rows[r].seq, rc, rows[r].want);
		if (rc == MSRTP_OK) {
			ck_assert_uint_eq(len, 52);
			ck_assert_uint_eq((unsigned)(buf[2] << 8 | buf[3]), rows[r].seq);
			ck_assert_uint_eq(buf[12], (uint8_t)rows[r].seq);
		}
	}
	/* The sender refuses to reuse an index (keystream reuse). */
	uint8_t buf[128];
	size_t len = rtp_pkt(buf, 0xabcd0001, 30001, 40, 0);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_E_REPLAY);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

/* ---- SSRC, ROC, MKI, SRTCP index --------------------------------------- */

static void send_recv(struct msrtp *tx, struct msrtp *rx, uint32_t ssrc, uint16_t seq, int want_rx)
{
	uint8_t pt[128], buf[256];
	size_t n = rtp_pkt(pt, ssrc, seq, 33, (uint8_t)(seq ^ ssrc)), len = n;
	memcpy(buf, pt, n);
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
	int rc = msrtp_unprotect_rtp(rx, buf, &len);
	ck_assert_msg(rc == want_rx, "ssrc %08x seq %u: got %d want %d", ssrc, seq, rc, want_rx);
	if (rc == MSRTP_OK) {
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
	}
}

START_TEST(test_ssrc_change)
{
	uint8_t key[32], salt[14];
	keys_for(MSRTP_AEAD_AES_128_GCM, key, salt, 0x77);
	struct msrtp *tx = mk(MSRTP_PROTECT, MSRTP_AEAD_AES_128_GCM, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, MSRTP_AEAD_AES_128_GCM, key, salt, NULL, 0, 0, 0);
	uint32_t roc;
	ck_assert_int_eq(msrtp_get_roc(rx, 0x1111, &roc), -ENOENT);
	for (uint16_t q = 10; q < 20; q++)
		send_recv(tx, rx, 0x1111, q, MSRTP_OK);
	/* New SSRC mid-stream (e.g. after a transfer) with its own numbering:
	 * lower sequence numbers are not replays of the old stream. */
	for (uint16_t q = 3; q < 13; q++)
		send_recv(tx, rx, 0x2222, q, MSRTP_OK);
	/* And back, interleaved. */
	for (uint16_t q = 20; q < 30; q++) {
		send_recv(tx, rx, 0x1111, q, MSRTP_OK);
		send_recv(tx, rx, 0x2222, (uint16_t)(q - 7), MSRTP_OK);
	}
	ck_assert_int_eq(msrtp_get_roc(tx, 0x1111, &roc), 0);
	ck_assert_int_eq(msrtp_get_roc(rx, 0x2222, &roc), 0);
	ck_assert_uint_eq(roc, 0);
	ck_assert_int_eq(msrtp_get_roc(rx, 0x3333, &roc), -ENOENT);
	/* Each SSRC keeps its own index. */
	uint16_t seq;
	ck_assert_int_eq(msrtp_get_index(rx, 0x1111, &roc, &seq), 0);
	ck_assert_uint_eq(seq, 29);
	ck_assert_int_eq(msrtp_get_index(rx, 0x2222, &roc, &seq), 0);
	ck_assert_uint_eq(seq, 22);
	ck_assert_int_eq(msrtp_get_index(tx, 0x2222, &roc, &seq), 0);
	ck_assert_uint_eq(seq, 22);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

/* Many SSRCs: all work, and old streams are dropped, not kept forever. */
START_TEST(test_many_ssrcs_bounded)
{
	uint8_t key[32], salt[14];
	keys_for(MSRTP_AES_CM_128_HMAC_SHA1_32, key, salt, 0x99);
	struct msrtp *tx = mk(MSRTP_PROTECT, MSRTP_AES_CM_128_HMAC_SHA1_32, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, MSRTP_AES_CM_128_HMAC_SHA1_32, key, salt, NULL, 0, 0, 0);
	for (uint32_t k = 0; k < 40; k++)
		for (uint16_t q = 0; q < 3; q++)
			send_recv(tx, rx, 0x70000000u + k, (uint16_t)(100 + q), MSRTP_OK);
	uint32_t roc;
	ck_assert_int_eq(msrtp_get_roc(rx, 0x70000000u, &roc), -ENOENT);
	ck_assert_int_eq(msrtp_get_roc(tx, 0x70000000u, &roc), -ENOENT);
	ck_assert_int_eq(msrtp_get_roc(rx, 0x70000000u + 39, &roc), 0);
	ck_assert_int_eq(msrtp_get_roc(tx, 0x70000000u + 39, &roc), 0);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

/* The kernel fast path carried a stream past two wraps, far past the 2^15
 * packets index guessing bridges: the contexts mediad kept continue from
 * the module's (ROC, SEQ) with msrtp_set_anchor, both ways, across the
 * next wrap; what the module carried is a replay; the stream is kept (its
 * SRTCP replay window too). The peers' contexts are started at the
 * module's index with set_roc rather than run through 130,000 packets. */
START_TEST(test_anchor_after_kernel)
{
	const enum msrtp_suite s = (enum msrtp_suite)_i;
	const uint32_t ssrc = 0xa1c40001;
	const uint32_t in_last = 2u << 16 | 65500, out_last = 2u << 16 | 65530;
	uint8_t key[32], salt[14], rtcp1[128];
	if (unsupported(s))
		return;
	keys_for(s, key, salt, 0x47);
	struct msrtp *peer_tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *peer_tx2 = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *med_rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *stale_rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *med_tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *peer_rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *peer_rx2 = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	uint8_t pt[128], buf[256];
	size_t n, len, rtcp1_len;
	uint32_t roc, q;
	uint16_t seq;

	/* In userspace first, RTCP too. */
	for (q = 65000; q < 65010; q++) {
		send_recv(peer_tx, med_rx, ssrc, (uint16_t)q, MSRTP_OK);
		send_recv(med_tx, peer_rx, ssrc, (uint16_t)q, MSRTP_OK);
	}
	for (q = 65000; q < 65010; q++)
		send_recv(peer_tx2, stale_rx, ssrc, (uint16_t)q, MSRTP_OK);
	n = rtcp_pkt(pt, ssrc, 1), len = n;
	memcpy(buf, pt, n);
	ck_assert_int_eq(msrtp_protect_rtcp(peer_tx, buf, &len, sizeof(buf)), MSRTP_OK);
	memcpy(rtcp1, buf, len);
	rtcp1_len = len;
	ck_assert_int_eq(msrtp_unprotect_rtcp(med_rx, buf, &len), MSRTP_OK);

	/* The module carried the stream to in_last: the peer sends on from
	 * there. A context without the anchor fails (ROC 0 against 2). */
	ck_assert_int_eq(msrtp_set_roc(peer_tx2, ssrc, in_last >> 16), 0);
	send_recv(peer_tx2, stale_rx, ssrc, (uint16_t)(in_last + 1), MSRTP_E_AUTH);
	ck_assert_int_eq(msrtp_set_anchor(med_rx, ssrc, in_last >> 16, (uint16_t)in_last), 0);
	ck_assert_int_eq(msrtp_get_index(med_rx, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, in_last >> 16);
	ck_assert_uint_eq(seq, (uint16_t)in_last);
	/* What the module accepted is a replay, refused before any crypto. */
	for (uint32_t back = 0; back < 3; back++) {
		n = rtp_pkt(buf, ssrc, (uint16_t)(in_last - back * 1000), 33, 2);
		len = n + msrtp_rtp_tag_len(s);
		ck_assert_int_eq(msrtp_unprotect_rtp(med_rx, buf, &len), MSRTP_E_REPLAY);
	}
	/* A forged packet does not end the anchor. */
	n = rtp_pkt(buf, ssrc, (uint16_t)(in_last + 1), 33, 2);
	len = n + msrtp_rtp_tag_len(s);
	ck_assert_int_eq(msrtp_unprotect_rtp(med_rx, buf, &len), MSRTP_E_AUTH);
	/* The genuine ones go on, across the next wrap (no ROC stays pending). */
	for (q = in_last + 2; q < (3u << 16) + 5; q++)
		send_recv(peer_tx2, med_rx, ssrc, (uint16_t)q, MSRTP_OK);
	ck_assert_int_eq(msrtp_get_index(med_rx, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 3);
	ck_assert_uint_eq(seq, 4);
	/* The stream was kept: the first SRTCP packet is still a replay, the
	 * next SRTCP index passes. */
	len = rtcp1_len;
	memcpy(buf, rtcp1, len);
	ck_assert_int_eq(msrtp_unprotect_rtcp(med_rx, buf, &len), MSRTP_E_REPLAY);
	n = rtcp_pkt(pt, ssrc, 3), len = n;
	memcpy(buf, pt, n);
	ck_assert_int_eq(msrtp_protect_rtcp(peer_tx, buf, &len, sizeof(buf)), MSRTP_OK);
	ck_assert_int_eq(msrtp_unprotect_rtcp(med_rx, buf, &len), MSRTP_OK);
	assert_mem(buf, pt, n);
	/* An anchor behind where the context is changes nothing. */
	ck_assert_int_eq(msrtp_set_anchor(med_rx, ssrc, 2, 5), 0);
	send_recv(peer_tx2, med_rx, ssrc, 5, MSRTP_OK);

	/* Outbound: the module protected up to out_last; the peer's receiver
	 * is there (a context whose first packet takes ROC 2). No index the
	 * module used is used again; then on across the wrap. */
	ck_assert_int_eq(msrtp_set_roc(peer_rx2, ssrc, out_last >> 16), 0);
	ck_assert_int_eq(msrtp_set_anchor(med_tx, ssrc, out_last >> 16, (uint16_t)out_last), 0);
	n = rtp_pkt(pt, ssrc, (uint16_t)out_last, 33, 4), len = n;
	ck_assert_int_eq(msrtp_protect_rtp(med_tx, pt, &len, sizeof(pt)), MSRTP_E_REPLAY);
	for (q = out_last + 1; q < out_last + 20; q++)
		send_recv(med_tx, peer_rx2, ssrc, (uint16_t)q, MSRTP_OK);
	ck_assert_int_eq(msrtp_get_index(med_tx, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 3);
	ck_assert_uint_eq(seq, (uint16_t)(out_last + 19));

	msrtp_free(peer_tx);
	msrtp_free(peer_tx2);
	msrtp_free(med_rx);
	msrtp_free(stale_rx);
	msrtp_free(med_tx);
	msrtp_free(peer_rx);
	msrtp_free(peer_rx2);
}
END_TEST

START_TEST(test_roc_wrap_and_takeover)
{
	const enum msrtp_suite s = (enum msrtp_suite)_i;
	const uint32_t ssrc = 0xc0ffee01;
	uint8_t key[32], salt[14];
	if (unsupported(s))
		return;
	keys_for(s, key, salt, 0x31);
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	uint32_t roc = 99;
	for (uint32_t q = 65530; q < 65536 + 6; q++)
		send_recv(tx, rx, ssrc, (uint16_t)q, MSRTP_OK);
	ck_assert_int_eq(msrtp_get_roc(tx, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_int_eq(msrtp_get_roc(rx, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 1);
	/* seq 65529 (ROC 0) was never sent and is inside the window: a late
	 * packet from before the wrap still decrypts at ROC 0. */
	struct msrtp *late = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	send_recv(late, rx, ssrc, 65529, MSRTP_OK);
	msrtp_free(late);
	/* The index to hand over is still the highest: ROC 1, seq 5. */
	uint16_t seq = 0;
	ck_assert_int_eq(msrtp_get_index(rx, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_uint_eq(seq, 5);
	ck_assert_int_eq(msrtp_get_index(tx, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_uint_eq(seq, 5);
	ck_assert_int_eq(msrtp_get_index(rx, ssrc + 1, &roc, &seq), -ENOENT);

	/* Receiver takeover: a new context told roc=1 continues the stream... */
	struct msrtp *rx_new = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 1);
	/* ...and is not fooled by a forged first packet from another SSRC. */
	{
		uint8_t junk[64] = {0};
		size_t jl = rtp_pkt(junk, 0xbadbad00, 7, 20, 0) + msrtp_rtp_tag_len(s);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx_new, junk, &jl), MSRTP_E_AUTH);
	}
	struct msrtp *rx_set = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	ck_assert_int_eq(msrtp_set_roc(rx_set, ssrc, 1), 0);
	/* The stream exists now, but no packet has fixed its index yet. */
	ck_assert_int_eq(msrtp_get_index(rx_set, ssrc, &roc, &seq), -ENOENT);
	struct msrtp *rx_zero = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	for (uint16_t q = 6; q < 12; q++) {
		uint8_t pt[128], buf[256], c1[256], c2[256];
		size_t n = rtp_pkt(pt, ssrc, q, 40, (uint8_t)q), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		size_t l1 = len, l2 = len, l3 = len;
		memcpy(c1, buf, len);
		memcpy(c2, buf, len);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &l1), MSRTP_OK);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx_new, c1, &l2), MSRTP_OK);
		assert_mem(c1, pt, n);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx_set, c2, &l3), MSRTP_OK);
		assert_mem(c2, pt, n);
	}
	ck_assert_int_eq(msrtp_get_roc(rx_new, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_int_eq(msrtp_get_roc(rx_set, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_int_eq(msrtp_get_index(rx_set, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 1);
	ck_assert_uint_eq(seq, 11);
	{
		/* The same stream without the ROC (a context that missed the
		 * wrap) fails authentication. */
		uint8_t pt[128], buf[256];
		size_t n = rtp_pkt(pt, ssrc, 12, 40, 12), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx_zero, buf, &len), MSRTP_E_AUTH);
	}

	/* Sender takeover: a new sender told roc=1 continues where tx left. */
	struct msrtp *tx_new = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 1);
	for (uint16_t q = 20; q < 25; q++)
		send_recv(tx_new, rx, ssrc, q, MSRTP_OK);
	struct msrtp *tx_set = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	ck_assert_int_eq(msrtp_set_roc(tx_set, ssrc, 1), 0);
	for (uint16_t q = 30; q < 35; q++)
		send_recv(tx_set, rx, ssrc, q, MSRTP_OK);
	/* ...and its own wrap keeps counting: 65535 -> 0 is ROC 2. */
	ck_assert_int_eq(msrtp_set_roc(tx_set, ssrc, 1), 0);
	ck_assert_int_eq(msrtp_set_roc(rx, ssrc, 1), 0);
	for (uint32_t q = 65534; q < 65536 + 3; q++)
		send_recv(tx_set, rx, ssrc, (uint16_t)q, MSRTP_OK);
	ck_assert_int_eq(msrtp_get_roc(tx_set, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 2);
	ck_assert_int_eq(msrtp_get_index(tx_set, ssrc, &roc, &seq), 0);
	ck_assert_uint_eq(roc, 2);
	ck_assert_uint_eq(seq, 2);
	ck_assert_int_eq(msrtp_get_roc(rx, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 2);
	/* Back to ROC 0 on a live stream works too. */
	ck_assert_int_eq(msrtp_set_roc(tx_set, ssrc, 0), 0);
	ck_assert_int_eq(msrtp_set_roc(rx, ssrc, 0), 0);
	send_recv(tx_set, rx, ssrc, 500, MSRTP_OK);
	ck_assert_int_eq(msrtp_get_roc(rx, ssrc, &roc), 0);
	ck_assert_uint_eq(roc, 0);

	msrtp_free(tx_set);
	msrtp_free(tx_new);
	msrtp_free(rx_zero);
	msrtp_free(rx_set);
	msrtp_free(rx_new);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

START_TEST(test_mki)
{
	const enum msrtp_suite s = MSRTP_AES_CM_128_HMAC_SHA1_80;
	uint8_t key[32], salt[14], mki[4] = {0x01, 0x02, 0x03, 0x04}, other[4] = {0x01, 0x02, 0x03, 0x05};
	keys_for(s, key, salt, 0x55);
	for (size_t ml = 1; ml <= 4; ml++) {
		struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, mki, ml, 0, 0);
		struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, mki, ml, 0, 0);
		struct msrtp *rx_other = mk(MSRTP_UNPROTECT, s, key, salt, other, 4, 0, 0);
		struct msrtp *rx_none = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
		uint8_t pt[128], buf[256], copy[256];
		size_t n = rtp_pkt(pt, 0x4d4b4900, 77, 60, 1), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + ml + 10);
		/* RFC 3711 layout: payload, MKI, tag. */
		assert_mem(buf + n, mki, ml);
		size_t l2 = len, l3 = len;
		memcpy(copy, buf, len);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx_none, copy, &l3), MSRTP_E_AUTH);
		memcpy(copy, buf, len);
		if (ml == 4)
			ck_assert_int_eq(msrtp_unprotect_rtp(rx_other, copy, &l2), MSRTP_E_AUTH);
		ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);

		n = rtcp_pkt(pt, 0x4d4b4900, 3), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + 4 + ml + 10);
		ck_assert_uint_eq(be32(buf + n), 0x80000001u);
		assert_mem(buf + n + 4, mki, ml);
		ck_assert_int_eq(msrtp_unprotect_rtcp(rx, buf, &len), MSRTP_OK);
		ck_assert_uint_eq(len, n);
		assert_mem(buf, pt, n);
		msrtp_free(tx);
		msrtp_free(rx);
		msrtp_free(rx_other);
		msrtp_free(rx_none);
	}
}
END_TEST

START_TEST(test_srtcp_index)
{
	const enum msrtp_suite s = (enum msrtp_suite)_i;
	uint8_t key[32], salt[14];
	if (unsupported(s))
		return;
	keys_for(s, key, salt, 0x13);
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	uint8_t pt[64], buf[128], keep[3][128];
	size_t keep_len[3];
	for (uint32_t i = 1; i <= 3; i++) {
		size_t n = rtcp_pkt(pt, 0x5c5c5c5c, (uint8_t)i), len = n;
		memcpy(buf, pt, n);
		ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_OK);
		ck_assert_uint_eq(len, n + msrtp_rtcp_tag_len(s));
		/* E|index: after the tag for AEAD (RFC 7714), before it otherwise. */
		size_t at = is_gcm(s) ? len - 4 : n;
		ck_assert_uint_eq(be32(buf + at), (is_null(s) ? 0u : 0x80000000u) | i);
		memcpy(keep[i - 1], buf, len);
		keep_len[i - 1] = len;
	}
	/* Out of order inside the window is fine; a repeat is a replay. */
	size_t len = keep_len[2];
	ck_assert_int_eq(msrtp_unprotect_rtcp(rx, keep[2], &len), MSRTP_OK);
	len = keep_len[0];
	ck_assert_int_eq(msrtp_unprotect_rtcp(rx, keep[0], &len), MSRTP_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(keep[0][31], (uint8_t)(1 + 31));
	len = keep_len[2];
	memcpy(buf, keep[1], keep_len[1]);
	size_t l1 = keep_len[1];
	ck_assert_int_eq(msrtp_unprotect_rtcp(rx, keep[1], &l1), MSRTP_OK);
	l1 = keep_len[1];
	ck_assert_int_eq(msrtp_unprotect_rtcp(rx, buf, &l1), MSRTP_E_REPLAY);
	msrtp_free(tx);
	msrtp_free(rx);
}
END_TEST

/* ---- bounds ------------------------------------------------------------ */

START_TEST(test_space_and_parse)
{
	const enum msrtp_suite s = MSRTP_AES_CM_128_HMAC_SHA1_80;
	uint8_t key[32], salt[14];
	keys_for(s, key, salt, 0x66);
	struct msrtp *tx = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *tx2 = mk(MSRTP_PROTECT, s, key, salt, NULL, 0, 0, 0);
	struct msrtp *rx = mk(MSRTP_UNPROTECT, s, key, salt, NULL, 0, 0, 0);
	uint8_t pt[64], buf[64 + MSRTP_TRAILER_ROOM], tight[64 + 10];
	size_t n = rtp_pkt(pt, 0x0badcafe, 1, 40, 4), len;

	/* No room for the tag: refused, untouched. */
	memcpy(tight, pt, n);
	len = n;
	ck_assert_int_eq(msrtp_protect_rtp(tx, tight, &len, n + 9), MSRTP_E_SPACE);
	ck_assert_uint_eq(len, n);
	assert_mem(tight, pt, n);
	/* Exactly the tag: works (through the copy) and equals in-place. */
	ck_assert_int_eq(msrtp_protect_rtp(tx, tight, &len, n + 10), MSRTP_OK);
	ck_assert_uint_eq(len, n + 10);
	memcpy(buf, pt, n);
	size_t len2 = n;
	ck_assert_int_eq(msrtp_protect_rtp(tx2, buf, &len2, sizeof(buf)), MSRTP_OK);
	ck_assert_uint_eq(len2, len);
	assert_mem(tight, buf, len);
	ck_assert_int_eq(msrtp_unprotect_rtp(rx, tight, &len), MSRTP_OK);
	assert_mem(tight, pt, n);
	/* RTCP the same. */
	n = rtcp_pkt(pt, 0x0badcafe, 1);
	memcpy(tight, pt, n);
	len = n;
	ck_assert_int_eq(msrtp_protect_rtcp(tx, tight, &len, n + 13), MSRTP_E_SPACE);
	ck_assert_int_eq(msrtp_protect_rtcp(tx, tight, &len, n + 14), MSRTP_OK);
	ck_assert_int_eq(msrtp_unprotect_rtcp(rx, tight, &len), MSRTP_OK);
	assert_mem(tight, pt, n);

	/* Not RTP / too short. */
	n = rtp_pkt(pt, 0x0badcafe, 2, 10, 4);
	memcpy(buf, pt, n);
	len = 11;
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_E_PARSE);
	buf[0] = 0x40; /* version 1 */
	len = n;
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_E_PARSE);
	ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &len), MSRTP_E_PARSE);
	buf[0] = 0x80;
	len = 12 + 9; /* shorter than header + tag */
	ck_assert_int_eq(msrtp_unprotect_rtp(rx, buf, &len), MSRTP_E_PARSE);
	len = 7;
	ck_assert_int_eq(msrtp_protect_rtcp(tx, buf, &len, sizeof(buf)), MSRTP_E_PARSE);
	/* CSRC count claims more than the packet holds. */
	memcpy(buf, pt, n);
	buf[0] = 0x8f;
	len = n;
	ck_assert_int_eq(msrtp_protect_rtp(tx, buf, &len, sizeof(buf)), MSRTP_E_PARSE);
	/* Wrong direction. */
	memcpy(buf, pt, n);
	len = n;
	ck_assert_int_eq(msrtp_unprotect_rtp(tx, buf, &len), MSRTP_E_OTHER);
	ck_assert_int_eq(msrtp_protect_rtp(rx, buf, &len, sizeof(buf)), MSRTP_E_OTHER);
	msrtp_free(tx);
	msrtp_free(tx2);
	msrtp_free(rx);
}
END_TEST

/* ---- memory and threads ------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define MSRTP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MSRTP_TEST_ASAN 1
#endif
#endif

/* Heap bytes per context (new + first RTP and RTCP each way), averaged over
 * many contexts. The bounds are what docs/srtp.md promises with margin; a
 * context was 4.7 KB (AES-CM) / 3.9 KB (GCM) with the OpenSSL build and
 * ~31 KB / ~19 KB with Debian's NSS build before msrtp replaced libsrtp's
 * HMAC and ciphers. Skipped where mallinfo2() does not see the heap (ASan,
 * valgrind). */
START_TEST(test_memory_per_context)
{
	/* msrtp's lean HMAC and ciphers exist only where libcrypto does. */
#if defined(MSRTP_TEST_ASAN) || !defined(HAVE_LIBCRYPTO)
	return;
#else
	static const struct {
		enum msrtp_suite s;
		long max_bytes;
	} cases[] = {
		{MSRTP_AES_CM_128_HMAC_SHA1_80, 2400},
		{MSRTP_AES_256_CM_HMAC_SHA1_32, 2400},
		{MSRTP_AEAD_AES_128_GCM, 3000},
		{MSRTP_NULL_HMAC_SHA1_80, 1500},
	};
	enum { N = 64 };
	static struct msrtp *tx[N], *rx[N];
	/* Under valgrind (or another malloc) mallinfo2() does not see the heap. */
	long probe0 = (long)mallinfo2().uordblks;
	void *volatile probe = malloc(8192);
	long probe1 = (long)mallinfo2().uordblks;
	free(probe);
	if (probe1 - probe0 < 8192)
		return;
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint8_t key[32], salt[14], buf[512];
		keys_for(cases[k].s, key, salt, (uint8_t)k);
		/* Warm up: first-use allocations of libcrypto and libsrtp. */
		struct msrtp *w = mk(MSRTP_PROTECT, cases[k].s, key, salt, NULL, 0, 0, 0);
		size_t len = rtp_pkt(buf, 1, 1, 160, 0);
		ck_assert_int_eq(msrtp_protect_rtp(w, buf, &len, sizeof(buf)), MSRTP_OK);
		msrtp_free(w);
		long before = (long)mallinfo2().uordblks;
		for (unsigned i = 0; i < N; i++) {
			tx[i] = mk(MSRTP_PROTECT, cases[k].s, key, salt, NULL, 0, 0, 0);
			rx[i] = mk(MSRTP_UNPROTECT, cases[k].s, key, salt, NULL, 0, 0, 0);
			len = rtp_pkt(buf, 100 + i, 5, 160, 0);
			ck_assert_int_eq(msrtp_protect_rtp(tx[i], buf, &len, sizeof(buf)), MSRTP_OK);
			ck_assert_int_eq(msrtp_unprotect_rtp(rx[i], buf, &len), MSRTP_OK);
			len = rtcp_pkt(buf, 100 + i, 0);
			ck_assert_int_eq(msrtp_protect_rtcp(tx[i], buf, &len, sizeof(buf)), MSRTP_OK);
			ck_assert_int_eq(msrtp_unprotect_rtcp(rx[i], buf, &len), MSRTP_OK);
		}
		long per = ((long)mallinfo2().uordblks - before) / (2 * N);
		for (unsigned i = 0; i < N; i++) {
			msrtp_free(tx[i]);
			msrtp_free(rx[i]);
		}
		ck_assert_msg(per > 0 && per <= cases[k].max_bytes, "%s (%s): %ld bytes per context",
			      msrtp_suite_name(cases[k].s), msrtp_backend_name(), per);
	}
#endif
}
END_TEST

/* The HMAC's running state is per thread: contexts used by different
 * threads at the same time must not disturb each other. */
struct thr_arg {
	uint8_t fill;
	int failures;
};

static void *thr_roundtrips(void *p)
{
	struct thr_arg *a = p;
	uint8_t key[32], salt[14], pt[256], buf[256];
	keys_for(MSRTP_AES_CM_128_HMAC_SHA1_80, key, salt, a->fill);
	struct msrtp_params prm = {.suite = MSRTP_AES_CM_128_HMAC_SHA1_80, .key = key, .salt = salt};
	struct msrtp *tx = NULL, *rx = NULL;
	if (msrtp_new(MSRTP_PROTECT, &prm, &tx) || msrtp_new(MSRTP_UNPROTECT, &prm, &rx)) {
		a->failures = -1;
		goto out;
	}
	for (unsigned i = 0; i < 3000; i++) {
		size_t n = rtp_pkt(pt, a->fill, (uint16_t)i, 100 + i % 50, a->fill), len = n;
		memcpy(buf, pt, n);
		if (msrtp_protect_rtp(tx, buf, &len, sizeof(buf)) != MSRTP_OK ||
		    msrtp_unprotect_rtp(rx, buf, &len) != MSRTP_OK || len != n || memcmp(buf, pt, n))
			a->failures++;
	}
out:
	msrtp_free(tx);
	msrtp_free(rx);
	return NULL;
}

START_TEST(test_threads)
{
	enum { T = 4 };
	pthread_t th[T];
	struct thr_arg a[T];
	for (unsigned i = 0; i < T; i++) {
		a[i] = (struct thr_arg){.fill = (uint8_t)(0x40 + i), .failures = 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, thr_roundtrips, &a[i]), 0);
	}
	for (unsigned i = 0; i < T; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(a[i].failures, 0);
	}
}
END_TEST

static Suite *msrtp_suite(void)
{
	Suite *s = suite_create("msrtp");
	TCase *tc = tcase_create("vectors");
#ifdef HAVE_LIBCRYPTO
	tcase_add_test(tc, test_rfc3711_b2_keystream);
	tcase_add_test(tc, test_rfc3711_b3_kdf);
	tcase_add_test(tc, test_rfc6188_kdf);
	tcase_add_test(tc, test_aes192_selftest_vector);
	tcase_add_test(tc, test_rfc7714_vectors);
	tcase_add_loop_test(tc, test_all_suites_match_reference, 0, MSRTP_SUITE_COUNT);
	tcase_add_loop_test(tc, test_interleaved_match_reference, 0, MSRTP_SUITE_COUNT);
#endif
	tcase_add_test(tc, test_known_aes_cm_128);
	tcase_add_test(tc, test_known_aes_cm_256);
	tcase_add_test(tc, test_known_aes_192_cm);
	tcase_add_test(tc, test_known_aead_aes_128_gcm);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_suite_table);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_space_and_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("streams");
	tcase_add_loop_test(tc, test_roundtrip_tamper_replay, 0, 2 * MSRTP_SUITE_COUNT);
	tcase_add_test(tc, test_replay_window_table);
	tcase_add_test(tc, test_ssrc_change);
	tcase_add_test(tc, test_many_ssrcs_bounded);
	tcase_add_loop_test(tc, test_roc_wrap_and_takeover, 0, MSRTP_SUITE_COUNT);
	tcase_add_loop_test(tc, test_anchor_after_kernel, 0, MSRTP_SUITE_COUNT);
	tcase_add_test(tc, test_mki);
	tcase_add_loop_test(tc, test_srtcp_index, 0, MSRTP_SUITE_COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("resources");
	tcase_add_test(tc, test_memory_per_context);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msrtp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
