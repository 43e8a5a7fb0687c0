/* The wolfSSL the proxy links computes the same AES-GCM, ChaCha20-Poly1305,
 * SHA-2 and P-256 results whichever CPU features it finds, and picks its
 * assembly from CPUID at run time: scripts/build-wolfssl.sh builds it with
 * AES-NI/AVX/SP assembly, and a binary built that way must still run on a CPU
 * without them (docs/tls.md).
 *
 * The "masked" case hides AES-NI, PCLMULQDQ, AVX, AVX2, BMI1/2, ADX, SHA-NI,
 * AVX-512, VAES and RDRAND/RDSEED from CPUID (Linux CPUID faulting,
 * arch_prctl(ARCH_SET_CPUID): every CPUID traps to SIGSEGV and the handler
 * answers with the bits cleared), so wolfSSL takes the code paths of an old
 * CPU; each result is compared with OpenSSL's libcrypto. The emulated CPUID
 * is only what wolfSSL sees: the instructions still exist on this CPU, so
 * the case proves the dispatch, not the absence of a stray instruction (that
 * needs a VM with an older CPU model: docs/tls.md). Each Check test runs in
 * its own forked process, so wolfSSL's cached CPUID results start empty. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <sys/syscall.h>

#include <openssl/evp.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

/* ---- CPUID masking ------------------------------------------------------ */

static volatile sig_atomic_t cpuid_traps;

static int set_cpuid(int enabled)
{
	return (int)syscall(SYS_arch_prctl, ARCH_SET_CPUID, (unsigned long)enabled);
}

static void cpuid_raw(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)g[REG_RIP];
	uint32_t r[4];

	(void)si;
	if (ip[0] != 0x0f || ip[1] != 0xa2) {
		/* A real fault: die of it. */
		signal(sig, SIG_DFL);
		return;
	}
	set_cpuid(1);
	cpuid_raw((uint32_t)g[REG_RAX], (uint32_t)g[REG_RCX], r);
	set_cpuid(0);
	if ((uint32_t)g[REG_RAX] == 1) {
		/* ECX: PCLMULQDQ 1, FMA 12, AES 25, AVX 28, RDRAND 30. */
		r[2] &= ~((1u << 1) | (1u << 12) | (1u << 25) | (1u << 28) | (1u << 30));
	} else if ((uint32_t)g[REG_RAX] == 7 && (uint32_t)g[REG_RCX] == 0) {
		/* EBX: BMI1 3, AVX2 5, BMI2 8, AVX512F 16, RDSEED 18, ADX 19,
		 * SHA 29; ECX: VAES 9, VPCLMULQDQ 10. */
		r[1] &= ~((1u << 3) | (1u << 5) | (1u << 8) | (1u << 16) | (1u << 18) |
			  (1u << 19) | (1u << 29));
		r[2] &= ~((1u << 9) | (1u << 10));
	}
	g[REG_RAX] = r[0];
	g[REG_RBX] = r[1];
	g[REG_RCX] = r[2];
	g[REG_RDX] = r[3];
	g[REG_RIP] += 2;
	cpuid_traps++;
}

/* 0 when CPUID is masked from now on in this process, -errno if the kernel
 * or CPU has no CPUID faulting. */
static int mask_cpu_features(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		return -errno;
	if (set_cpuid(0) != 0)
		return -errno;
	return 0;
}

static int cpuid_faulting_available(void)
{
	long r = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0UL);

	/* ARCH_GET_CPUID: 1 = CPUID enabled; setting needs CPU support. */
	if (r < 0)
		return 0;
	if (set_cpuid(0) != 0)
		return 0;
	set_cpuid(1);
	return 1;
}

static int cpu_has_aesni(void)
{
	uint32_t r[4];

	cpuid_raw(1, 0, r);
	return (r[2] >> 25) & 1;
}

/* ---- the checks, each against libcrypto --------------------------------- */

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static void ossl_aead(const EVP_CIPHER *c, const unsigned char *key,
		      const unsigned char *iv, size_t ivlen,
		      const unsigned char *aad, size_t aadlen,
		      const unsigned char *in, size_t len,
		      unsigned char *out, unsigned char tag[16])
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_EncryptInit_ex(x, c, NULL, NULL, NULL), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, (int)ivlen, NULL), 1);
	ck_assert_int_eq(EVP_EncryptInit_ex(x, NULL, NULL, key, iv), 1);
	if (aadlen)
		ck_assert_int_eq(EVP_EncryptUpdate(x, NULL, &n, aad, (int)aadlen), 1);
	if (len)
		ck_assert_int_eq(EVP_EncryptUpdate(x, out, &n, in, (int)len), 1);
	ck_assert_int_eq(EVP_EncryptFinal_ex(x, out + n, &n), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(x);
}

/* Lengths around the 1-, 4- and 8-block loops of the assembly, up to a
 * full TLS record. */
static const size_t lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129,
	255, 256, 257, 1000, 1400, 4096, 16384 };

static void check_aes_gcm(int expect_aesni)
{
	enum { MAX = 16384 };
	unsigned char *in = malloc(MAX), *out = malloc(MAX), *ref = malloc(MAX),
		*back = malloc(MAX);
	unsigned char key[32], iv[12], aad[13], tag[16], reftag[16];
	Aes aes;

	ck_assert(in && out && ref && back);
	for (int kl = 16; kl <= 32; kl += 16) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			size_t n = lens[i];

			fill(key, sizeof(key), (unsigned)(i + kl));
			fill(iv, sizeof(iv), (unsigned)i + 1);
			fill(aad, sizeof(aad), (unsigned)i + 2);
			fill(in, n, (unsigned)i + 3);
			ck_assert_int_eq(wc_AesInit(&aes, NULL, INVALID_DEVID), 0);
			ck_assert_int_eq(wc_AesGcmSetKey(&aes, key, (word32)kl), 0);
#ifdef WOLFSSL_AESNI
			ck_assert_int_eq(aes.use_aesni, expect_aesni);
#else
			(void)expect_aesni;
#endif
			ck_assert_int_eq(wc_AesGcmEncrypt(&aes, out, in, (word32)n, iv,
				sizeof(iv), tag, sizeof(tag), aad, sizeof(aad)), 0);
			ossl_aead(kl == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), key,
				  iv, sizeof(iv), aad, sizeof(aad), in, n, ref, reftag);
			ck_assert_msg(memcmp(out, ref, n) == 0, "AES-%d-GCM ciphertext, %zu bytes",
				      kl * 8, n);
			ck_assert_msg(memcmp(tag, reftag, 16) == 0, "AES-%d-GCM tag, %zu bytes",
				      kl * 8, n);
			ck_assert_int_eq(wc_AesGcmDecrypt(&aes, back, out, (word32)n, iv,
				sizeof(iv), tag, sizeof(tag), aad, sizeof(aad)), 0);
			ck_assert(memcmp(back, in, n) == 0);
			tag[0] ^= 1;
			ck_assert_int_ne(wc_AesGcmDecrypt(&aes, back, out, (word32)n, iv,
				sizeof(iv), tag, sizeof(tag), aad, sizeof(aad)), 0);
			wc_AesFree(&aes);
		}
	}
	free(in);
	free(out);
	free(ref);
	free(back);
}

static void check_chacha_poly(void)
{
	enum { MAX = 16384 };
	unsigned char *in = malloc(MAX), *out = malloc(MAX), *ref = malloc(MAX);
	unsigned char key[32], iv[12], aad[13], tag[16], reftag[16];

	ck_assert(in && out && ref);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		fill(key, sizeof(key), (unsigned)i);
		fill(iv, sizeof(iv), (unsigned)i + 1);
		fill(aad, sizeof(aad), (unsigned)i + 2);
		fill(in, n, (unsigned)i + 3);
		ck_assert_int_eq(wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof(aad),
			in, (word32)n, out, tag), 0);
		ossl_aead(EVP_chacha20_poly1305(), key, iv, sizeof(iv), aad, sizeof(aad),
			  in, n, ref, reftag);
		ck_assert_msg(memcmp(out, ref, n) == 0 && memcmp(tag, reftag, 16) == 0,
			      "ChaCha20-Poly1305, %zu bytes", n);
	}
	free(in);
	free(out);
	free(ref);
}

static void check_sha2(void)
{
	enum { MAX = 16384 };
	unsigned char *in = malloc(MAX);
	unsigned char d[64], ref[64];
	unsigned int rl;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];

		fill(in, n, (unsigned)i);
		ck_assert_int_eq(wc_Sha256Hash(in, (word32)n, d), 0);
		ck_assert_int_eq(EVP_Digest(in, n, ref, &rl, EVP_sha256(), NULL), 1);
		ck_assert_msg(memcmp(d, ref, 32) == 0, "SHA-256, %zu bytes", n);
		ck_assert_int_eq(wc_Sha384Hash(in, (word32)n, d), 0);
		ck_assert_int_eq(EVP_Digest(in, n, ref, &rl, EVP_sha384(), NULL), 1);
		ck_assert_msg(memcmp(d, ref, 48) == 0, "SHA-384, %zu bytes", n);
	}
	free(in);
}

/* P-256 as a TLS handshake uses it: ECDHE agreement and an ECDSA signature. */
static void check_p256(void)
{
	WC_RNG rng;
	ecc_key a, b;
	unsigned char s1[32], s2[32], hash[32], sig[80];
	word32 l1 = sizeof(s1), l2 = sizeof(s2), sl = sizeof(sig);
	int ok = 0;

	ck_assert_int_eq(wc_InitRng(&rng), 0);
	ck_assert_int_eq(wc_ecc_init(&a), 0);
	ck_assert_int_eq(wc_ecc_init(&b), 0);
	ck_assert_int_eq(wc_ecc_make_key_ex(&rng, 32, &a, ECC_SECP256R1), 0);
	ck_assert_int_eq(wc_ecc_make_key_ex(&rng, 32, &b, ECC_SECP256R1), 0);
#ifdef ECC_TIMING_RESISTANT
	ck_assert_int_eq(wc_ecc_set_rng(&a, &rng), 0);
	ck_assert_int_eq(wc_ecc_set_rng(&b, &rng), 0);
#endif
	ck_assert_int_eq(wc_ecc_shared_secret(&a, &b, s1, &l1), 0);
	ck_assert_int_eq(wc_ecc_shared_secret(&b, &a, s2, &l2), 0);
	ck_assert_uint_eq(l1, 32);
	ck_assert(l1 == l2 && memcmp(s1, s2, l1) == 0);
	fill(hash, sizeof(hash), 9);
	ck_assert_int_eq(wc_ecc_sign_hash(hash, sizeof(hash), sig, &sl, &rng, &a), 0);
	ck_assert_int_eq(wc_ecc_verify_hash(sig, sl, hash, sizeof(hash), &ok, &a), 0);
	ck_assert_int_eq(ok, 1);
	hash[0] ^= 1;
	ck_assert_int_eq(wc_ecc_verify_hash(sig, sl, hash, sizeof(hash), &ok, &a), 0);
	ck_assert_int_eq(ok, 0);
	wc_ecc_free(&a);
	wc_ecc_free(&b);
	wc_FreeRng(&rng);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_native)
{
	/* With the CPU as it is: AES-NI in use exactly when the library was
	 * built with it and the CPU has it. */
	check_aes_gcm(cpu_has_aesni());
	check_chacha_poly();
	check_sha2();
	check_p256();
}
END_TEST

START_TEST(test_masked)
{
	ck_assert_int_eq(mask_cpu_features(), 0);
	check_aes_gcm(0);
	check_chacha_poly();
	check_sha2();
	check_p256();
	/* The masking was in force (the library asked CPUID). */
#ifdef WOLFSSL_AESNI
	ck_assert_int_gt(cpuid_traps, 0);
#endif
}
END_TEST

START_TEST(test_backend_name)
{
	/* meson says which library this is; the name must match its headers. */
#ifdef WOLFSSL_AESNI
	ck_assert_str_eq(RP_WOLFSSL_BACKEND, "aesni");
#else
	ck_assert_str_eq(RP_WOLFSSL_BACKEND, "system");
#endif
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wolfssl_cpu");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	int masked = cpuid_faulting_available();

	tcase_add_test(tc, test_native);
	tcase_add_test(tc, test_backend_name);
	if (masked)
		tcase_add_test(tc, test_masked);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* test_masked relies on a fresh process per test. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (!masked) {
		/* Not a pass: the run-time dispatch was not exercised. */
		printf("wolfssl_cpu: no CPUID faulting here (arch_prctl ARCH_SET_CPUID); "
		       "the masked-CPU case did not run\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
