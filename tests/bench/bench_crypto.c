/* bench_crypto: SRTP cost per packet, in packets per CPU-second.
 *
 * A 172-byte RTP packet (12-byte header + 160 bytes, one 20 ms G.711 frame):
 *  - the floor: OpenSSL libcrypto used directly, AES-128-CTR with the
 *    per-packet IV SRTP computes + HMAC-SHA1 truncated to 80 bits (and
 *    AES-128-GCM with the RFC 7714 IV), no SRTP bookkeeping;
 *  - msrtp (the libsrtp2 mediad links) with 1 session and with 1,000
 *    sessions used round-robin (what a busy mediad does to the caches).
 * CPU time is CLOCK_PROCESS_CPUTIME_ID around the measured calls only
 * (unprotect inputs are made untimed in batches). Every loop is bounded in
 * iterations and in CPU time. A program, not a test: it asserts nothing
 * about speed, it exits non-zero only if a packet fails to round-trip.
 *
 * Also heap bytes per msrtp context (mallinfo2() around 1,000 contexts, each
 * with its first RTP and RTCP packet, so the per-SSRC stream exists).
 *
 * Environment: RAMPART_BENCH_SECONDS (CPU seconds per figure, default 0.5).
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <srtp2/srtp.h>

#include "msrtp.h"

#define PAYLOAD 160
#define PKT (12 + PAYLOAD)
#define BUFSZ (PKT + MSRTP_TRAILER_ROOM)
#define NSESS 1000
#define BATCH 4000          /* unprotect inputs made per untimed round */
#define MAX_ITERS 50000000L /* hard bound per figure */

static double budget_s = 0.5;

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_crypto: %s\n", what);
	exit(1);
}

static void make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq)
{
	b[0] = 0x80;
	b[1] = 0x00; /* PCMU */
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	uint32_t ts = (uint32_t)seq * 160u;
	b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
	memset(b + 12, 0xd5, PAYLOAD); /* G.711 silence */
}

/* ---- the floor: libcrypto directly -------------------------------------- */

struct floor_cm {
	EVP_CIPHER_CTX *enc;
	EVP_MD_CTX *inner, *outer, *work; /* HMAC as keyed ipad/opad states */
	uint8_t salt[14];
};

static void floor_cm_init(struct floor_cm *f, const uint8_t key[16], const uint8_t auth[20],
			  const uint8_t salt[14])
{
	uint8_t pad[64];
	f->enc = EVP_CIPHER_CTX_new();
	f->inner = EVP_MD_CTX_new();
	f->outer = EVP_MD_CTX_new();
	f->work = EVP_MD_CTX_new();
	if (!f->enc || !f->inner || !f->outer || !f->work ||
	    !EVP_EncryptInit_ex(f->enc, EVP_aes_128_ctr(), NULL, key, NULL))
		die("libcrypto init failed");
	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < 20; i++)
		pad[i] ^= auth[i];
	if (!EVP_DigestInit_ex(f->inner, EVP_sha1(), NULL) || !EVP_DigestUpdate(f->inner, pad, 64))
		die("sha1 init failed");
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < 20; i++)
		pad[i] ^= auth[i];
	if (!EVP_DigestInit_ex(f->outer, EVP_sha1(), NULL) || !EVP_DigestUpdate(f->outer, pad, 64))
		die("sha1 init failed");
	memcpy(f->salt, salt, 14);
}

static void floor_cm_free(struct floor_cm *f)
{
	EVP_CIPHER_CTX_free(f->enc);
	EVP_MD_CTX_free(f->inner);
	EVP_MD_CTX_free(f->outer);
	EVP_MD_CTX_free(f->work);
}

static int floor_cm_crypt(struct floor_cm *f, uint8_t *p, uint32_t roc)
{
	uint8_t iv[16] = {0};
	int ol;
	memcpy(iv, f->salt, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= p[8 + i];
	iv[8] ^= (uint8_t)(roc >> 24), iv[9] ^= (uint8_t)(roc >> 16);
	iv[10] ^= (uint8_t)(roc >> 8), iv[11] ^= (uint8_t)roc;
	iv[12] ^= p[2], iv[13] ^= p[3];
	if (!EVP_EncryptInit_ex(f->enc, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(f->enc, p + 12, &ol, p + 12, PAYLOAD))
		return -1;
	return 0;
}

static int floor_cm_mac(struct floor_cm *f, const uint8_t *p, size_t n, uint32_t roc, uint8_t out[20])
{
	uint8_t r[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc};
	uint8_t ih[20];
	unsigned l;
	if (!EVP_MD_CTX_copy_ex(f->work, f->inner) || !EVP_DigestUpdate(f->work, p, n) ||
	    !EVP_DigestUpdate(f->work, r, 4) || !EVP_DigestFinal_ex(f->work, ih, &l) ||
	    !EVP_MD_CTX_copy_ex(f->work, f->outer) || !EVP_DigestUpdate(f->work, ih, 20) ||
	    !EVP_DigestFinal_ex(f->work, out, &l))
		return -1;
	return 0;
}

static int floor_cm_protect(struct floor_cm *f, uint8_t *p, size_t *len)
{
	uint8_t mac[20];
	if (floor_cm_crypt(f, p, 0) || floor_cm_mac(f, p, PKT, 0, mac))
		return -1;
	memcpy(p + PKT, mac, 10);
	*len = PKT + 10;
	return 0;
}

static int floor_cm_unprotect(struct floor_cm *f, uint8_t *p, size_t *len)
{
	uint8_t mac[20];
	if (*len != PKT + 10 || floor_cm_mac(f, p, PKT, 0, mac) || CRYPTO_memcmp(mac, p + PKT, 10))
		return -1;
	if (floor_cm_crypt(f, p, 0))
		return -1;
	*len = PKT;
	return 0;
}

struct floor_gcm {
	EVP_CIPHER_CTX *enc, *dec;
	uint8_t salt[12];
};

static void floor_gcm_init(struct floor_gcm *f, const uint8_t key[16], const uint8_t salt[12])
{
	f->enc = EVP_CIPHER_CTX_new();
	f->dec = EVP_CIPHER_CTX_new();
	if (!f->enc || !f->dec || !EVP_EncryptInit_ex(f->enc, EVP_aes_128_gcm(), NULL, key, NULL) ||
	    !EVP_DecryptInit_ex(f->dec, EVP_aes_128_gcm(), NULL, key, NULL))
		die("libcrypto gcm init failed");
	memcpy(f->salt, salt, 12);
}

static void floor_gcm_free(struct floor_gcm *f)
{
	EVP_CIPHER_CTX_free(f->enc);
	EVP_CIPHER_CTX_free(f->dec);
}

static void gcm_iv(const struct floor_gcm *f, const uint8_t *p, uint8_t iv[12])
{
	memcpy(iv, f->salt, 12);
	for (int i = 0; i < 4; i++)
		iv[2 + i] ^= p[8 + i];
	/* ROC 0: bytes 6..9 unchanged */
	iv[10] ^= p[2], iv[11] ^= p[3];
}

static int floor_gcm_protect(struct floor_gcm *f, uint8_t *p, size_t *len)
{
	uint8_t iv[12];
	int ol;
	gcm_iv(f, p, iv);
	if (!EVP_EncryptInit_ex(f->enc, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(f->enc, NULL, &ol, p, 12) ||
	    !EVP_EncryptUpdate(f->enc, p + 12, &ol, p + 12, PAYLOAD) ||
	    !EVP_EncryptFinal_ex(f->enc, p + PKT, &ol) ||
	    !EVP_CIPHER_CTX_ctrl(f->enc, EVP_CTRL_GCM_GET_TAG, 16, p + PKT))
		return -1;
	*len = PKT + 16;
	return 0;
}

static int floor_gcm_unprotect(struct floor_gcm *f, uint8_t *p, size_t *len)
{
	uint8_t iv[12];
	int ol;
	if (*len != PKT + 16)
		return -1;
	gcm_iv(f, p, iv);
	if (!EVP_DecryptInit_ex(f->dec, NULL, NULL, NULL, iv) ||
	    !EVP_DecryptUpdate(f->dec, NULL, &ol, p, 12) ||
	    !EVP_DecryptUpdate(f->dec, p + 12, &ol, p + 12, PAYLOAD) ||
	    !EVP_CIPHER_CTX_ctrl(f->dec, EVP_CTRL_GCM_SET_TAG, 16, p + PKT) ||
	    EVP_DecryptFinal_ex(f->dec, p + PKT, &ol) <= 0)
		return -1;
	*len = PKT;
	return 0;
}

/* ---- measurement -------------------------------------------------------- */

/* One side of a measurement: n sessions of one kind, protect or unprotect. */
enum impl { FLOOR_CM, FLOOR_GCM, MSRTP, LIBSRTP };

struct side {
	enum impl impl;
	unsigned n;
	struct floor_cm *cm;
	struct floor_gcm *gcm;
	struct msrtp **ms;
	srtp_t *raw; /* libsrtp called directly: the wrapper's overhead */
	uint8_t (*rawkey)[46];
};

static void key_for(unsigned i, uint8_t key[32], size_t klen, uint8_t salt[14], size_t slen)
{
	for (size_t k = 0; k < klen && k < 32; k++)
		key[k] = (uint8_t)(i * 31 + k * 7 + 1);
	for (size_t k = 0; k < slen && k < 14; k++)
		salt[k] = (uint8_t)(i * 17 + k * 3 + 0x55);
}

static void side_new(struct side *s, enum impl impl, enum msrtp_suite suite, unsigned n,
		     enum msrtp_dir dir)
{
	memset(s, 0, sizeof(*s));
	s->impl = impl;
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t key[32], salt[14], auth[20];
		if (impl == FLOOR_CM) {
			if (!s->cm && !(s->cm = calloc(n, sizeof(*s->cm))))
				die("out of memory");
			key_for(i, key, 16, salt, 14);
			for (int k = 0; k < 20; k++)
				auth[k] = (uint8_t)(i * 13 + k * 5 + 3);
			floor_cm_init(&s->cm[i], key, auth, salt);
		} else if (impl == FLOOR_GCM) {
			if (!s->gcm && !(s->gcm = calloc(n, sizeof(*s->gcm))))
				die("out of memory");
			key_for(i, key, 16, salt, 12);
			floor_gcm_init(&s->gcm[i], key, salt);
		} else if (impl == LIBSRTP) {
			if (!s->raw && (!(s->raw = calloc(n, sizeof(*s->raw))) ||
					!(s->rawkey = calloc(n, sizeof(*s->rawkey)))))
				die("out of memory");
			key_for(i, key, 16, salt, 14);
			memcpy(s->rawkey[i], key, 16);
			memcpy(s->rawkey[i] + 16, salt, 14);
			srtp_policy_t pol;
			memset(&pol, 0, sizeof(pol));
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
			srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
			pol.ssrc.type = dir == MSRTP_PROTECT ? ssrc_any_outbound : ssrc_any_inbound;
			pol.key = s->rawkey[i];
			pol.window_size = 128;
			if (srtp_create(&s->raw[i], &pol) != srtp_err_status_ok)
				die("srtp_create failed");
		} else {
			if (!s->ms && !(s->ms = calloc(n, sizeof(*s->ms))))
				die("out of memory");
			key_for(i, key, msrtp_key_len(suite), salt, msrtp_salt_len(suite));
			struct msrtp_params p = {.suite = suite, .key = key, .salt = salt};
			if (msrtp_new(dir, &p, &s->ms[i]))
				die("msrtp_new failed");
		}
	}
}

static void side_free(struct side *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (s->cm)
			floor_cm_free(&s->cm[i]);
		if (s->gcm)
			floor_gcm_free(&s->gcm[i]);
		if (s->ms)
			msrtp_free(s->ms[i]);
		if (s->raw)
			srtp_dealloc(s->raw[i]);
	}
	free(s->raw);
	free(s->rawkey);
	free(s->cm);
	free(s->gcm);
	free(s->ms);
}

static int side_protect(struct side *s, unsigned i, uint8_t *p, size_t *len)
{
	switch (s->impl) {
	case FLOOR_CM: return floor_cm_protect(&s->cm[i], p, len);
	case FLOOR_GCM: return floor_gcm_protect(&s->gcm[i], p, len);
	case MSRTP: return msrtp_protect_rtp(s->ms[i], p, len, BUFSZ);
	case LIBSRTP: {
		int l = (int)*len;
		if (srtp_protect(s->raw[i], p, &l) != srtp_err_status_ok)
			return -1;
		*len = (size_t)l;
		return 0;
	}
	}
	return -1;
}

static int side_unprotect(struct side *s, unsigned i, uint8_t *p, size_t *len)
{
	switch (s->impl) {
	case FLOOR_CM: return floor_cm_unprotect(&s->cm[i], p, len);
	case FLOOR_GCM: return floor_gcm_unprotect(&s->gcm[i], p, len);
	case MSRTP: return msrtp_unprotect_rtp(s->ms[i], p, len);
	case LIBSRTP: {
		int l = (int)*len;
		if (srtp_unprotect(s->raw[i], p, &l) != srtp_err_status_ok)
			return -1;
		*len = (size_t)l;
		return 0;
	}
	}
	return -1;
}

/* Packets per CPU-second of protect over n sessions round-robin. Sequence
 * numbers advance per session (the floor's IV ignores the ROC, so it stays
 * under 65536 packets per session; msrtp keeps counting). */
static double run_protect(enum impl impl, enum msrtp_suite suite, unsigned n)
{
	struct side tx;
	side_new(&tx, impl, suite, n, MSRTP_PROTECT);
	static uint8_t buf[BUFSZ];
	uint16_t *seq = calloc(n, sizeof(*seq));
	if (!seq)
		die("out of memory");
	long done = 0;
	double cpu = 0;
	while (cpu < budget_s && done < MAX_ITERS) {
		double t0 = cpu_now();
		for (int k = 0; k < BATCH; k++, done++) {
			unsigned i = (unsigned)(done % n);
			make_rtp(buf, 0x10000000u + i, seq[i]++);
			size_t len = PKT;
			if (side_protect(&tx, i, buf, &len))
				die("protect failed");
		}
		cpu += cpu_now() - t0;
	}
	free(seq);
	side_free(&tx);
	return (double)done / cpu;
}

/* Unprotect: each round makes BATCH protected packets untimed, then times
 * their unprotect (which must restore the plaintext length). */
static double run_unprotect(enum impl impl, enum msrtp_suite suite, unsigned n)
{
	struct side tx, rx;
	side_new(&tx, impl, suite, n, MSRTP_PROTECT);
	side_new(&rx, impl, suite, n, MSRTP_UNPROTECT);
	uint8_t(*pk)[BUFSZ] = malloc(sizeof(*pk) * BATCH);
	size_t *pl = malloc(sizeof(*pl) * BATCH);
	uint16_t *seq = calloc(n, sizeof(*seq));
	if (!pk || !pl || !seq)
		die("out of memory");
	long done = 0;
	double cpu = 0;
	while (cpu < budget_s && done < MAX_ITERS) {
		for (int k = 0; k < BATCH; k++) {
			unsigned i = (unsigned)((done + k) % n);
			make_rtp(pk[k], 0x10000000u + i, seq[i]++);
			pl[k] = PKT;
			if (side_protect(&tx, i, pk[k], &pl[k]))
				die("protect failed");
		}
		double t0 = cpu_now();
		for (int k = 0; k < BATCH; k++) {
			unsigned i = (unsigned)((done + k) % n);
			if (side_unprotect(&rx, i, pk[k], &pl[k]) || pl[k] != PKT)
				die("unprotect failed");
		}
		cpu += cpu_now() - t0;
		done += BATCH;
	}
	free(pk);
	free(pl);
	free(seq);
	side_free(&tx);
	side_free(&rx);
	return (double)done / cpu;
}

/* Heap bytes per context: n protect + n unprotect contexts, each after one
 * RTP and one RTCP packet (so libsrtp has made the SSRC's stream). */
static double mem_per_context(enum msrtp_suite suite)
{
	enum { N = NSESS };
	struct msrtp **tx = calloc(N, sizeof(*tx)), **rx = calloc(N, sizeof(*rx));
	uint8_t buf[BUFSZ];
	if (!tx || !rx)
		die("out of memory");
	long before = (long)mallinfo2().uordblks;
	for (unsigned i = 0; i < N; i++) {
		uint8_t key[32], salt[14];
		key_for(i, key, msrtp_key_len(suite), salt, msrtp_salt_len(suite));
		struct msrtp_params p = {.suite = suite, .key = key, .salt = salt};
		if (msrtp_new(MSRTP_PROTECT, &p, &tx[i]) || msrtp_new(MSRTP_UNPROTECT, &p, &rx[i]))
			die("msrtp_new failed");
		make_rtp(buf, 0x20000000u + i, 1);
		size_t len = PKT;
		if (msrtp_protect_rtp(tx[i], buf, &len, BUFSZ) || msrtp_unprotect_rtp(rx[i], buf, &len))
			die("memory: rtp round trip failed");
		/* A receiver report: header + SSRC + one report block. */
		memset(buf, 0, 32);
		buf[0] = 0x81, buf[1] = 201, buf[3] = 7;
		buf[4] = 0x20, buf[6] = (uint8_t)(i >> 8), buf[7] = (uint8_t)i;
		len = 32;
		if (msrtp_protect_rtcp(tx[i], buf, &len, BUFSZ) || msrtp_unprotect_rtcp(rx[i], buf, &len))
			die("memory: rtcp round trip failed");
	}
	double per = (double)((long)mallinfo2().uordblks - before) / (2.0 * N);
	for (unsigned i = 0; i < N; i++) {
		msrtp_free(tx[i]);
		msrtp_free(rx[i]);
	}
	free(tx);
	free(rx);
	return per;
}

struct fig {
	const char *name;
	double v;
	const char *ref; /* figure this one is compared with, or NULL */
};

int main(void)
{
	const char *e = getenv("RAMPART_BENCH_SECONDS");
	if (e && atof(e) > 0)
		budget_s = atof(e);
	if (msrtp_global_init())
		die("msrtp_global_init failed");

	/* Memory first, before the timed runs fragment the heap. */
	double mem_cm = mem_per_context(MSRTP_AES_CM_128_HMAC_SHA1_80);
	double mem_gcm = mem_per_context(MSRTP_AEAD_AES_128_GCM);

	struct fig f[] = {
		{"crypto_floor_protect_per_cpu_s", run_protect(FLOOR_CM, 0, 1), NULL},
		{"crypto_floor_unprotect_per_cpu_s", run_unprotect(FLOOR_CM, 0, 1), NULL},
		{"crypto_floor_gcm_protect_per_cpu_s", run_protect(FLOOR_GCM, 0, 1), NULL},
		{"crypto_floor_gcm_unprotect_per_cpu_s", run_unprotect(FLOOR_GCM, 0, 1), NULL},
		{"crypto_floor_protect_1000_sessions_per_cpu_s", run_protect(FLOOR_CM, 0, NSESS), NULL},
		{"msrtp_protect_per_cpu_s", run_protect(MSRTP, MSRTP_AES_CM_128_HMAC_SHA1_80, 1),
		 "crypto_floor_protect_per_cpu_s"},
		{"msrtp_unprotect_per_cpu_s", run_unprotect(MSRTP, MSRTP_AES_CM_128_HMAC_SHA1_80, 1),
		 "crypto_floor_unprotect_per_cpu_s"},
		{"msrtp_protect_1000_sessions_per_cpu_s",
		 run_protect(MSRTP, MSRTP_AES_CM_128_HMAC_SHA1_80, NSESS),
		 "crypto_floor_protect_1000_sessions_per_cpu_s"},
		{"msrtp_unprotect_1000_sessions_per_cpu_s",
		 run_unprotect(MSRTP, MSRTP_AES_CM_128_HMAC_SHA1_80, NSESS),
		 "crypto_floor_unprotect_per_cpu_s"},
		{"libsrtp_direct_protect_per_cpu_s", run_protect(LIBSRTP, 0, 1), NULL},
		{"libsrtp_direct_unprotect_per_cpu_s", run_unprotect(LIBSRTP, 0, 1), NULL},
		{"msrtp_gcm_protect_per_cpu_s", run_protect(MSRTP, MSRTP_AEAD_AES_128_GCM, 1),
		 "crypto_floor_gcm_protect_per_cpu_s"},
		{"msrtp_gcm_unprotect_per_cpu_s", run_unprotect(MSRTP, MSRTP_AEAD_AES_128_GCM, 1),
		 "crypto_floor_gcm_unprotect_per_cpu_s"},
		{"msrtp_gcm_protect_1000_sessions_per_cpu_s",
		 run_protect(MSRTP, MSRTP_AEAD_AES_128_GCM, NSESS),
		 "crypto_floor_gcm_protect_per_cpu_s"},
	};
	const size_t nf = sizeof(f) / sizeof(f[0]);

	printf("bench_crypto: %d-byte RTP packets, libsrtp2 backend %s (%s), %.2f CPU-s per figure\n",
	       PKT, msrtp_backend_name(), OpenSSL_version(OPENSSL_VERSION), budget_s);
	for (size_t i = 0; i < nf; i++) {
		double ref = 0;
		for (size_t j = 0; f[i].ref && j < nf; j++)
			if (!strcmp(f[j].name, f[i].ref))
				ref = f[j].v;
		if (ref > 0)
			printf("bench: %s rampart=%.0f floor=%.0f ratio=%.2f\n", f[i].name, f[i].v, ref,
			       f[i].v / ref);
		else
			printf("bench: %s rampart=%.0f\n", f[i].name, f[i].v);
	}
	printf("bench: msrtp_heap_bytes_per_context rampart=%.0f\n", mem_cm);
	printf("bench: msrtp_gcm_heap_bytes_per_context rampart=%.0f\n", mem_gcm);
	return 0;
}
