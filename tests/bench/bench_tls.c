/* bench_tls: what the proxy's wolfSSL costs per TLS record and per handshake.
 *
 *  - record crypto: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 sealing
 *    1,400-byte records (a SIP request over TLS), in MB per CPU-second,
 *    through wolfCrypt as the TLS layer calls it (13-byte AAD);
 *  - full handshakes (no resumption) over an in-memory transport, server
 *    and client in this thread, TLS 1.3 and 1.2, with an ECDSA P-256 and an
 *    RSA-2048 server certificate (generated at start): the server's CPU time
 *    per handshake (CLOCK_THREAD_CPUTIME_ID around wolfSSL_accept only), what
 *    a TLS edge pays per new connection.
 * Prints which wolfSSL it links (RP_WOLFSSL_BACKEND from meson) and whether
 * AES-NI is in use (wolfCrypt's own per-key flag). Every loop is bounded in
 * iterations and CPU time. A program, not a test: it asserts nothing about
 * speed; it exits non-zero only if a handshake or a record fails.
 *
 * Environment: RAMPART_BENCH_SECONDS (CPU seconds per figure, default 0.5).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#define RECORD 1400
#define MAX_ITERS 20000000L
#define MAX_HANDSHAKES 20000L

static double budget_s = 0.5;

static double cpu_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_tls: %s\n", what);
	exit(1);
}

/* ---- record crypto ------------------------------------------------------ */

enum aead { AES128GCM, AES256GCM, CHACHAPOLY };

static int aesni_in_use = -1;

static void bench_aead(enum aead which, const char *name)
{
	static unsigned char in[RECORD], out[RECORD];
	unsigned char key[32], iv[12], aad[13], tag[16];
	Aes aes;
	long n = 0;
	double t0, t1;

	memset(key, 0x42, sizeof(key));
	memset(iv, 0x24, sizeof(iv));
	memset(aad, 0x17, sizeof(aad));
	memset(in, 0x5a, sizeof(in));
	if (which != CHACHAPOLY) {
		if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0 ||
		    wc_AesGcmSetKey(&aes, key, which == AES128GCM ? 16 : 32) != 0)
			die("AES-GCM key set-up failed");
#ifdef WOLFSSL_AESNI
		aesni_in_use = aes.use_aesni;
#else
		aesni_in_use = 0;
#endif
	}
	t0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	do {
		for (int i = 0; i < 256; i++, n++) {
			int r;

			iv[11] = (unsigned char)n;
			if (which == CHACHAPOLY)
				r = wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof(aad), in,
					RECORD, out, tag);
			else
				r = wc_AesGcmEncrypt(&aes, out, in, RECORD, iv, sizeof(iv), tag,
					sizeof(tag), aad, sizeof(aad));
			if (r != 0)
				die("record sealing failed");
		}
		t1 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	} while (t1 - t0 < budget_s && n < MAX_ITERS);
	if (which != CHACHAPOLY)
		wc_AesFree(&aes);
	printf("bench: tls_record_%s_mb_per_cpu_s rampart=%.0f records_per_cpu_s=%.0f\n",
	       name, (double)n * RECORD / (t1 - t0) / 1e6, (double)n / (t1 - t0));
}

/* ---- certificates ------------------------------------------------------- */

struct cred {
	unsigned char cert[4096], key[4096];
	int cert_len, key_len;
};

static void make_ecdsa(WC_RNG *rng, struct cred *c)
{
	ecc_key key;
	Cert cert;

	if (wc_ecc_init(&key) != 0 || wc_ecc_make_key(rng, 32, &key) != 0)
		die("P-256 key generation failed");
	wc_InitCert(&cert);
	strcpy(cert.subject.commonName, "bench.invalid");
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = 2;
	if (wc_MakeCert_ex(&cert, c->cert, sizeof(c->cert), ECC_TYPE, &key, rng) < 0 ||
	    (c->cert_len = wc_SignCert_ex(cert.bodySz, cert.sigType, c->cert,
		sizeof(c->cert), ECC_TYPE, &key, rng)) < 0 ||
	    (c->key_len = wc_EccKeyToDer(&key, c->key, sizeof(c->key))) < 0)
		die("ECDSA certificate failed");
	wc_ecc_free(&key);
}

static void make_rsa(WC_RNG *rng, struct cred *c)
{
	RsaKey key;
	Cert cert;

	if (wc_InitRsaKey(&key, NULL) != 0 ||
	    wc_MakeRsaKey(&key, 2048, WC_RSA_EXPONENT, rng) != 0)
		die("RSA-2048 key generation failed");
	wc_InitCert(&cert);
	strcpy(cert.subject.commonName, "bench.invalid");
	cert.sigType = CTC_SHA256wRSA;
	cert.daysValid = 2;
	if (wc_MakeCert(&cert, c->cert, sizeof(c->cert), &key, NULL, rng) < 0 ||
	    (c->cert_len = wc_SignCert(cert.bodySz, cert.sigType, c->cert,
		sizeof(c->cert), &key, NULL, rng)) < 0 ||
	    (c->key_len = wc_RsaKeyToDer(&key, c->key, sizeof(c->key))) < 0)
		die("RSA certificate failed");
	wc_FreeRsaKey(&key);
}

/* ---- handshakes over memory --------------------------------------------- */

struct pipe_buf {
	unsigned char buf[32768];
	size_t len;
};
struct end {
	struct pipe_buf *in, *out;
};

static int mem_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct end *e = arg;
	size_t n = e->in->len < (size_t)sz ? e->in->len : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	memcpy(buf, e->in->buf, n);
	memmove(e->in->buf, e->in->buf + n, e->in->len - n);
	e->in->len -= n;
	return (int)n;
}

static int mem_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct end *e = arg;
	size_t room = sizeof(e->out->buf) - e->out->len;
	size_t n = room < (size_t)sz ? room : (size_t)sz;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(e->out->buf + e->out->len, buf, n);
	e->out->len += n;
	return (int)n;
}

static int step(WOLFSSL *s, int server, double *cpu)
{
	double t0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	int r = server ? wolfSSL_accept(s) : wolfSSL_connect(s);

	if (cpu)
		*cpu += cpu_now(CLOCK_THREAD_CPUTIME_ID) - t0;
	if (r == WOLFSSL_SUCCESS)
		return 1;
	r = wolfSSL_get_error(s, r);
	if (r == WOLFSSL_ERROR_WANT_READ || r == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	return -1;
}

static void bench_handshake(const struct cred *c, int tls13, const char *name)
{
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(tls13 ? wolfTLSv1_3_server_method() :
		wolfTLSv1_2_server_method());
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(tls13 ? wolfTLSv1_3_client_method() :
		wolfTLSv1_2_client_method());
	struct pipe_buf *p = calloc(2, sizeof(*p));
	double server_cpu = 0, total0, total1;
	long n = 0;
	char cipher[64] = "";

	if (!sctx || !cctx || !p ||
	    wolfSSL_CTX_use_certificate_buffer(sctx, c->cert, c->cert_len,
		WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_buffer(sctx, c->key, c->key_len,
		WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
		die("handshake context set-up failed");
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_SetIORecv(sctx, mem_recv);
	wolfSSL_SetIOSend(sctx, mem_send);
	wolfSSL_SetIORecv(cctx, mem_recv);
	wolfSSL_SetIOSend(cctx, mem_send);
	total0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		struct end se = { &p[0], &p[1] }, ce = { &p[1], &p[0] };
		WOLFSSL *s = wolfSSL_new(sctx), *cl = wolfSSL_new(cctx);
		int sd = 0, cd = 0;

		if (!s || !cl)
			die("wolfSSL_new failed");
		p[0].len = p[1].len = 0;
		wolfSSL_SetIOReadCtx(s, &se);
		wolfSSL_SetIOWriteCtx(s, &se);
		wolfSSL_SetIOReadCtx(cl, &ce);
		wolfSSL_SetIOWriteCtx(cl, &ce);
		for (int i = 0; i < 50 && !(sd && cd); i++) {
			int r;

			if (!cd && (r = step(cl, 0, NULL)) != 0) {
				if (r < 0)
					die("client handshake failed");
				cd = 1;
			}
			if (!sd && (r = step(s, 1, &server_cpu)) != 0) {
				if (r < 0)
					die("server handshake failed");
				sd = 1;
			}
		}
		if (!sd || !cd)
			die("handshake did not finish");
		if (n == 0)
			snprintf(cipher, sizeof(cipher), "%s", wolfSSL_get_cipher_name(s));
		wolfSSL_free(s);
		wolfSSL_free(cl);
		n++;
		total1 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	} while (total1 - total0 < budget_s * 2 && n < MAX_HANDSHAKES);
	printf("bench: tls_handshake_%s_server_us rampart=%.0f client_us=%.0f "
	       "handshakes_per_cpu_s_server=%.0f cipher=%s n=%ld\n", name,
	       server_cpu / (double)n * 1e6,
	       ((total1 - total0) - server_cpu) / (double)n * 1e6,
	       (double)n / server_cpu, cipher, n);
	wolfSSL_CTX_free(sctx);
	wolfSSL_CTX_free(cctx);
	free(p);
}

int main(void)
{
	const char *e = getenv("RAMPART_BENCH_SECONDS");
	static struct cred ecdsa, rsa;
	WC_RNG rng;

	if (e && atof(e) > 0)
		budget_s = atof(e);
	if (wolfSSL_Init() != WOLFSSL_SUCCESS || wc_InitRng(&rng) != 0)
		die("wolfSSL init failed");
	bench_aead(AES128GCM, "aes128gcm");
	bench_aead(AES256GCM, "aes256gcm");
	bench_aead(CHACHAPOLY, "chacha20poly1305");
	printf("bench: tls_wolfssl backend=%s aesni_in_use=%s\n", RP_WOLFSSL_BACKEND,
	       aesni_in_use > 0 ? "yes" : "no");
	make_ecdsa(&rng, &ecdsa);
	make_rsa(&rng, &rsa);
	bench_handshake(&ecdsa, 1, "tls13_ecdsa_p256");
	bench_handshake(&rsa, 1, "tls13_rsa2048");
	bench_handshake(&ecdsa, 0, "tls12_ecdsa_p256");
	bench_handshake(&rsa, 0, "tls12_rsa2048");
	wc_FreeRng(&rng);
	wolfSSL_Cleanup();
	return 0;
}
