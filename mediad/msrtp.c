/* msrtp: SRTP/SRTCP contexts over libsrtp2 (see msrtp.h). */

/* The compact HMAC below uses libcrypto's low-level SHA-1, deprecated (not
 * removed) in OpenSSL 3.0: it is the only interface that lets a key be 40
 * bytes of precomputed state. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "msrtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Without libcrypto's headers (the Debian backend does not need them
 * otherwise) libsrtp keeps its own HMAC and ciphers. */
#if __has_include(<openssl/evp.h>)
#define MSRTP_LEAN_CRYPTO 1
#include <openssl/evp.h>
#include <openssl/sha.h>
#endif
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include "rp_log.h"

#ifndef MSRTP_SRTP_BACKEND
#define MSRTP_SRTP_BACKEND "unknown"
#endif

/* Streams (SSRCs) one context keeps. A leg normally has one or two; the cap
 * bounds memory when a peer keeps changing SSRC. Least recently switched-to
 * goes first. */
#define MSRTP_MAX_STREAMS 16
#define MSRTP_MAX_MKI 4
#define MSRTP_KEYBUF 46 /* largest key || salt: 32 + 14 */

struct suite_info {
	const char *name;
	uint8_t key_len, salt_len, rtp_tag, rtcp_tag;
};

/* rtcp_tag includes the 4-byte E|SRTCP index; the _32 suites still use an
 * 80-bit tag on SRTCP (RFC 4568 section 6.2). */
static const struct suite_info suites[MSRTP_SUITE_COUNT] = {
	[MSRTP_AES_CM_128_HMAC_SHA1_80] = {"AES_CM_128_HMAC_SHA1_80", 16, 14, 10, 14},
	[MSRTP_AES_CM_128_HMAC_SHA1_32] = {"AES_CM_128_HMAC_SHA1_32", 16, 14, 4, 14},
	[MSRTP_AES_192_CM_HMAC_SHA1_80] = {"AES_192_CM_HMAC_SHA1_80", 24, 14, 10, 14},
	[MSRTP_AES_192_CM_HMAC_SHA1_32] = {"AES_192_CM_HMAC_SHA1_32", 24, 14, 4, 14},
	[MSRTP_AES_256_CM_HMAC_SHA1_80] = {"AES_256_CM_HMAC_SHA1_80", 32, 14, 10, 14},
	[MSRTP_AES_256_CM_HMAC_SHA1_32] = {"AES_256_CM_HMAC_SHA1_32", 32, 14, 4, 14},
	[MSRTP_AEAD_AES_128_GCM] = {"AEAD_AES_128_GCM", 16, 12, 16, 20},
	[MSRTP_AEAD_AES_256_GCM] = {"AEAD_AES_256_GCM", 32, 12, 16, 20},
	[MSRTP_NULL_HMAC_SHA1_80] = {"NULL_HMAC_SHA1_80", 16, 14, 10, 14},
	[MSRTP_NULL_HMAC_SHA1_32] = {"NULL_HMAC_SHA1_32", 16, 14, 4, 14},
};

/* Spellings seen in the field: DTLS-SRTP profile names (RFC 5764/7714) and
 * the AES_CM_<bits> order some SDES implementations use for RFC 6188. */
static const struct {
	const char *name;
	enum msrtp_suite suite;
} aliases[] = {
	{"SRTP_AES128_CM_HMAC_SHA1_80", MSRTP_AES_CM_128_HMAC_SHA1_80},
	{"SRTP_AES128_CM_SHA1_80", MSRTP_AES_CM_128_HMAC_SHA1_80},
	{"SRTP_AES128_CM_HMAC_SHA1_32", MSRTP_AES_CM_128_HMAC_SHA1_32},
	{"SRTP_AES128_CM_SHA1_32", MSRTP_AES_CM_128_HMAC_SHA1_32},
	{"AES_CM_192_HMAC_SHA1_80", MSRTP_AES_192_CM_HMAC_SHA1_80},
	{"AES_CM_192_HMAC_SHA1_32", MSRTP_AES_192_CM_HMAC_SHA1_32},
	{"AES_CM_256_HMAC_SHA1_80", MSRTP_AES_256_CM_HMAC_SHA1_80},
	{"AES_CM_256_HMAC_SHA1_32", MSRTP_AES_256_CM_HMAC_SHA1_32},
	{"SRTP_AEAD_AES_128_GCM", MSRTP_AEAD_AES_128_GCM},
	{"SRTP_AEAD_AES_256_GCM", MSRTP_AEAD_AES_256_GCM},
	{"SRTP_NULL_HMAC_SHA1_80", MSRTP_NULL_HMAC_SHA1_80},
	{"SRTP_NULL_HMAC_SHA1_32", MSRTP_NULL_HMAC_SHA1_32},
};

struct evp_share;

/* One SSRC libsrtp holds a stream for. */
struct slot {
	uint32_t ssrc;
	uint32_t used; /* tick of the last switch to it (serial arithmetic) */
	/* Highest RTP sequence number that passed (serial arithmetic): with
	 * libsrtp's ROC it is the stream's index for a fast-path handoff. */
	uint16_t hi_seq;
	bool hi_valid;
	/* msrtp_set_anchor(): where the kernel fast path left the stream,
	 * (anc_roc, hi_seq), until an RTP packet passes from there. */
	bool anc;
	uint32_t anc_roc;
};

/* Slots kept inside the context: most legs never have more SSRCs. */
#define MSRTP_INLINE_SLOTS 2

/* Small on purpose (see docs/srtp.md, memory): a busy mediad holds up to
 * four per session. */
struct msrtp {
	srtp_t s;
	struct evp_share *evp; /* the EVP context its ciphers share, or NULL */
	struct slot *slots;    /* inline[] or, past MSRTP_INLINE_SLOTS, the heap */
	/* Only for protect calls whose buffer lacks MSRTP_TRAILER_ROOM. */
	uint8_t *scratch;
	size_t scratch_cap;

	/* Fast path: the SSRC of the last packet that succeeded, its slot. */
	uint32_t last_ssrc;
	/* params.roc, until the first SSRC has its stream. */
	uint32_t init_roc;
	uint32_t tick;
	uint16_t window;
	uint8_t dir;          /* enum msrtp_dir */
	uint8_t suite;        /* enum msrtp_suite */
	uint8_t mki_len;
	uint8_t rtp_trailer;  /* tag + MKI */
	uint8_t rtcp_trailer; /* E|index + tag + MKI */
	uint8_t last_slot;
	uint8_t nstreams, cap;
	uint8_t nanc;         /* slots with an anchor: their RTP takes the slow path */
	bool have_last;
	bool init_roc_pending;

	/* Kept to add per-SSRC streams (set_roc); wiped in msrtp_free. */
	uint8_t key[MSRTP_KEYBUF];
	uint8_t mki[MSRTP_MAX_MKI];
	struct slot inline_slots[MSRTP_INLINE_SLOTS];
};

/* ---- suites ------------------------------------------------------------ */

static bool suite_ok(enum msrtp_suite s)
{
	return (unsigned)s < MSRTP_SUITE_COUNT;
}

static bool is_aead(enum msrtp_suite s)
{
	return s == MSRTP_AEAD_AES_128_GCM || s == MSRTP_AEAD_AES_256_GCM;
}

const char *msrtp_suite_name(enum msrtp_suite s)
{
	return suite_ok(s) ? suites[s].name : "unknown";
}

int msrtp_suite_from_name(const char *name, size_t len, enum msrtp_suite *out)
{
	if (!name || !out)
		return -EINVAL;
	for (unsigned i = 0; i < MSRTP_SUITE_COUNT; i++) {
		if (strlen(suites[i].name) == len && !strncasecmp(suites[i].name, name, len)) {
			*out = (enum msrtp_suite)i;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strlen(aliases[i].name) == len && !strncasecmp(aliases[i].name, name, len)) {
			*out = aliases[i].suite;
			return 0;
		}
	}
	return -EINVAL;
}

size_t msrtp_key_len(enum msrtp_suite s)
{
	return suite_ok(s) ? suites[s].key_len : 0;
}

size_t msrtp_salt_len(enum msrtp_suite s)
{
	return suite_ok(s) ? suites[s].salt_len : 0;
}

size_t msrtp_rtp_tag_len(enum msrtp_suite s)
{
	return suite_ok(s) ? suites[s].rtp_tag : 0;
}

size_t msrtp_rtcp_tag_len(enum msrtp_suite s)
{
	return suite_ok(s) ? suites[s].rtcp_tag : 0;
}

#ifdef MSRTP_LEAN_CRYPTO
/* ---- compact HMAC-SHA1 for libsrtp ------------------------------------ */

/* libsrtp keeps one HMAC-SHA1 per session key: two per context (RTP and
 * RTCP). Its OpenSSL one is an EVP_MAC (~750 bytes of libcrypto contexts per
 * key), Debian's NSS one ~7 KiB. This one, installed in place of libsrtp's
 * with srtp_replace_auth_type() (public API; libsrtp runs its own HMAC
 * known-answer tests on it first), keeps the SHA-1 chaining values after the
 * ipad and opad blocks: one 72-byte allocation; the running hash is per
 * thread.
 * Low-level SHA1_Update runs the same block code (SHA-NI where present) as
 * EVP without the EVP_MAC re-init per packet, so it is not slower. */
struct lean_hmac {
	srtp_auth_t a;         /* first: dealloc gets &a back */
	SHA_LONG ih[5], oh[5]; /* state after key^ipad / key^opad */
};

/* The running hash lives per thread, not per key: libsrtp calls start,
 * update and compute of one HMAC within one protect/unprotect call, with no
 * other HMAC in between, and a context is used by one thread at a time. */
static _Thread_local SHA_CTX hmac_work;

#define HMAC_BLOCK 64

static void hmac_load(SHA_CTX *c, const SHA_LONG h[5])
{
	c->h0 = h[0], c->h1 = h[1], c->h2 = h[2], c->h3 = h[3], c->h4 = h[4];
	c->Nl = HMAC_BLOCK * 8; /* one block hashed, nothing buffered */
	c->Nh = 0;
	c->num = 0;
}

static void hmac_save(const SHA_CTX *c, SHA_LONG h[5])
{
	h[0] = c->h0, h[1] = c->h1, h[2] = c->h2, h[3] = c->h3, h[4] = c->h4;
}

static srtp_err_status_t hmac_alloc(srtp_auth_t **ap, int key_len, int out_len);

static srtp_err_status_t hmac_dealloc(srtp_auth_t *a)
{
	struct lean_hmac *h = (struct lean_hmac *)a;
	explicit_bzero(h, sizeof(*h));
	free(h);
	return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
	struct lean_hmac *h = state;
	uint8_t pad[HMAC_BLOCK];
	SHA_CTX w;
	/* libsrtp's keys are 20 bytes; longer than a block would need hashing. */
	if (key_len < 0 || key_len > HMAC_BLOCK || (key_len && !key))
		return srtp_err_status_bad_param;
	memset(pad, 0x36, sizeof(pad));
	for (int i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	if (!SHA1_Init(&w) || !SHA1_Update(&w, pad, sizeof(pad)))
		goto fail;
	hmac_save(&w, h->ih);
	memset(pad, 0x5c, sizeof(pad));
	for (int i = 0; i < key_len; i++)
		pad[i] ^= key[i];
	if (!SHA1_Init(&w) || !SHA1_Update(&w, pad, sizeof(pad)))
		goto fail;
	hmac_save(&w, h->oh);
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(&w, sizeof(w));
	return srtp_err_status_ok;
fail:
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(&w, sizeof(w));
	return srtp_err_status_init_fail;
}

static srtp_err_status_t hmac_start(void *state)
{
	struct lean_hmac *h = state;
	hmac_load(&hmac_work, h->ih);
	return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *msg, int n)
{
	(void)state;
	if (n < 0)
		return srtp_err_status_bad_param;
	return SHA1_Update(&hmac_work, msg, (size_t)n) ? srtp_err_status_ok : srtp_err_status_auth_fail;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *msg, int n, int tag_len,
				      uint8_t *tag)
{
	struct lean_hmac *h = state;
	uint8_t d[SHA_DIGEST_LENGTH];
	if (n < 0 || tag_len < 0 || tag_len > SHA_DIGEST_LENGTH)
		return srtp_err_status_bad_param;
	if (!SHA1_Update(&hmac_work, msg, (size_t)n) || !SHA1_Final(d, &hmac_work))
		return srtp_err_status_auth_fail;
	hmac_load(&hmac_work, h->oh);
	if (!SHA1_Update(&hmac_work, d, sizeof(d)) || !SHA1_Final(d, &hmac_work))
		return srtp_err_status_auth_fail;
	memcpy(tag, d, (size_t)tag_len);
	return srtp_err_status_ok;
}

/* RFC 2202 test case 1 (20-byte key, as SRTP uses). */
static const uint8_t hmac_tc_key[20] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t hmac_tc_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t hmac_tc_tag[20] = {
	0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
	0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
static const srtp_auth_test_case_t hmac_tc = {
	sizeof(hmac_tc_key), hmac_tc_key, sizeof(hmac_tc_data), hmac_tc_data,
	sizeof(hmac_tc_tag), hmac_tc_tag, NULL};

static const srtp_auth_type_t lean_hmac_type = {
	hmac_alloc, hmac_dealloc, hmac_init, hmac_compute, hmac_update, hmac_start,
	"HMAC-SHA1 (rampart msrtp, precomputed pads)", &hmac_tc, SRTP_HMAC_SHA1,
};

static srtp_err_status_t hmac_alloc(srtp_auth_t **ap, int key_len, int out_len)
{
	if (key_len < 0 || key_len > HMAC_BLOCK || out_len < 0 || out_len > SHA_DIGEST_LENGTH)
		return srtp_err_status_bad_param;
	struct lean_hmac *h = calloc(1, sizeof(*h));
	if (!h)
		return srtp_err_status_alloc_fail;
	h->a.type = &lean_hmac_type;
	h->a.state = h;
	h->a.out_len = out_len;
	h->a.key_len = key_len;
	h->a.prefix_len = 0;
	*ap = &h->a;
	return srtp_err_status_ok;
}

/* ---- AES-CM and AES-GCM for libsrtp: one EVP context per msrtp context -- */

/* libsrtp gives every session key its own cipher: RTP and RTCP each hold an
 * EVP_CIPHER_CTX (~650 bytes of libcrypto state for AES-CTR, ~1.1 KiB for
 * GCM; Debian's NSS build ~8 KiB), and key derivation makes one more for a
 * moment. These ciphers (installed with srtp_replace_cipher_type(), public
 * API; libsrtp runs its own known-answer tests on them first) keep only the
 * key (and salt) per cipher and let the ciphers made for one msrtp context
 * share one EVP context, re-keyed when a different cipher uses it: RTP keeps
 * it keyed, so that happens twice per RTCP packet (every few seconds), not
 * per RTP packet. Ciphers made outside msrtp_new/set_roc get an EVP context
 * of their own. The Debian (NSS) build gets libcrypto's AES this way too. */
struct evp_share {
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *evp;   /* the algorithm ctx is set up for, or NULL */
	const void *keyed;       /* the cipher whose key ctx holds, or NULL */
	struct evp_share **home; /* the msrtp's pointer to it, cleared on free */
	unsigned refs;           /* ciphers using it */
};

enum lean_kind { LK_ICM, LK_GCM };

struct lean_cipher {
	srtp_cipher_t c; /* first: dealloc gets &c back */
	struct evp_share *sh;
	uint8_t kind;     /* enum lean_kind */
	uint8_t key_size; /* AES key bytes */
	uint8_t tag_len;  /* GCM */
	uint8_t enc;      /* GCM: 1 encrypt, 0 decrypt, 2 not set */
	uint8_t key[32];
	uint8_t salt[14]; /* AES-CM: the counter offset */
};

/* Set by msrtp around the libsrtp calls that make ciphers for one context. */
static _Thread_local struct evp_share **evp_hint;

static void evp_share_put(struct evp_share *sh)
{
	if (sh && --sh->refs == 0) {
		if (sh->home)
			*sh->home = NULL;
		EVP_CIPHER_CTX_free(sh->ctx); /* clears its key schedule */
		free(sh);
	}
}

static struct evp_share *evp_share_get(void)
{
	if (evp_hint && *evp_hint) {
		(*evp_hint)->refs++;
		return *evp_hint;
	}
	struct evp_share *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return NULL;
	if (!(sh->ctx = EVP_CIPHER_CTX_new())) {
		free(sh);
		return NULL;
	}
	sh->refs = 1;
	if (evp_hint) {
		/* Not a reference: the context's pointer is cleared when its
		 * last cipher goes. */
		*evp_hint = sh;
		sh->home = evp_hint;
	}
	return sh;
}

static const srtp_cipher_type_t lean_types[5];
enum { LT_ICM128, LT_ICM192, LT_ICM256, LT_GCM128, LT_GCM256 };

static srtp_err_status_t lean_alloc(srtp_cipher_t **cp, int key_len, int tag_len)
{
	unsigned t;
	switch (key_len) {
	case SRTP_AES_ICM_128_KEY_LEN_WSALT: t = LT_ICM128; break;
	case SRTP_AES_ICM_192_KEY_LEN_WSALT: t = LT_ICM192; break;
	case SRTP_AES_ICM_256_KEY_LEN_WSALT: t = LT_ICM256; break;
	case SRTP_AES_GCM_128_KEY_LEN_WSALT: t = LT_GCM128; break;
	case SRTP_AES_GCM_256_KEY_LEN_WSALT: t = LT_GCM256; break;
	default: return srtp_err_status_bad_param;
	}
	bool gcm = t >= LT_GCM128;
	if (gcm && tag_len != 16 && tag_len != 8)
		return srtp_err_status_bad_param;
	struct lean_cipher *m = calloc(1, sizeof(*m));
	if (!m)
		return srtp_err_status_alloc_fail;
	if (!(m->sh = evp_share_get())) {
		free(m);
		return srtp_err_status_alloc_fail;
	}
	m->c.type = &lean_types[t];
	m->c.state = m;
	m->c.key_len = key_len;
	m->c.algorithm = lean_types[t].id;
	m->kind = gcm ? LK_GCM : LK_ICM;
	m->key_size = (uint8_t)(key_len - (gcm ? SRTP_AEAD_SALT_LEN : SRTP_SALT_LEN));
	m->tag_len = gcm ? (uint8_t)tag_len : 0;
	m->enc = 2;
	*cp = &m->c;
	return srtp_err_status_ok;
}

static srtp_err_status_t lean_dealloc(srtp_cipher_t *c)
{
	struct lean_cipher *m = (struct lean_cipher *)c;
	if (!m)
		return srtp_err_status_bad_param;
	if (m->sh->keyed == m)
		m->sh->keyed = NULL; /* a later cipher may get this address */
	evp_share_put(m->sh);
	explicit_bzero(m, sizeof(*m));
	free(m);
	return srtp_err_status_ok;
}

static srtp_err_status_t lean_init(void *state, const uint8_t *key)
{
	struct lean_cipher *m = state;
	memcpy(m->key, key, m->key_size);
	if (m->kind == LK_ICM)
		memcpy(m->salt, key + m->key_size, SRTP_SALT_LEN);
	m->enc = 2;
	if (m->sh->keyed == m)
		m->sh->keyed = NULL;
	return srtp_err_status_ok;
}

static const EVP_CIPHER *lean_evp(const struct lean_cipher *m)
{
	if (m->kind == LK_GCM)
		return m->key_size == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	return m->key_size == 16 ? EVP_aes_128_ctr() :
	       m->key_size == 24 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
}

/* Key the shared context for m (if another cipher used it last) and set
 * the IV and direction. */
static int lean_start(struct lean_cipher *m, const uint8_t *iv, int enc)
{
	if (m->sh->keyed == m)
		return EVP_CipherInit_ex(m->sh->ctx, NULL, NULL, NULL, iv, enc);
	m->sh->keyed = NULL;
	/* Naming the algorithm again would rebuild libcrypto's context; with
	 * the same one a new key is all it needs (~60 ns instead of ~450). */
	const EVP_CIPHER *e = lean_evp(m);
	bool same = m->sh->evp == e;
	m->sh->evp = NULL;
	if (!EVP_CipherInit_ex(m->sh->ctx, same ? NULL : e, NULL, m->key, NULL, enc))
		return 0;
	m->sh->evp = e;
	/* GCM's default IV length is SRTP's 12 bytes. */
	if (!EVP_CipherInit_ex(m->sh->ctx, NULL, NULL, NULL, iv, enc))
		return 0;
	m->sh->keyed = m;
	return 1;
}

static srtp_err_status_t lean_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir)
{
	struct lean_cipher *m = state;
	if (m->kind == LK_GCM) {
		if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
			return srtp_err_status_bad_param;
		m->enc = dir == srtp_direction_encrypt;
		/* RFC 7714: libsrtp passes the 12-byte IV already salted. */
		return lean_start(m, iv, m->enc) ? srtp_err_status_ok : srtp_err_status_init_fail;
	}
	/* AES-CM, RFC 3711 4.1.1: counter = (salt * 2^16) XOR iv; libsrtp's
	 * iv has the block counter (0) in its last two bytes. Counter mode is
	 * the same either way. */
	uint8_t ctr[16];
	for (unsigned i = 0; i < SRTP_SALT_LEN; i++)
		ctr[i] = m->salt[i] ^ iv[i];
	ctr[14] = iv[14];
	ctr[15] = iv[15];
	return lean_start(m, ctr, 1) ? srtp_err_status_ok : srtp_err_status_cipher_fail;
}

static srtp_err_status_t lean_set_aad(void *state, const uint8_t *aad, uint32_t len)
{
	struct lean_cipher *m = state;
	if (m->kind != LK_GCM || m->enc > 1 || m->sh->keyed != m || len > INT_MAX)
		return srtp_err_status_bad_param;
	if (len == 0)
		return srtp_err_status_ok; /* EVP_Cipher(NULL, NULL, 0) would finish */
	if (!m->enc) {
		/* libcrypto wants a tag set before AAD when decrypting; decrypt
		 * sets the real one. */
		uint8_t dummy[16] = {0};
		if (!EVP_CIPHER_CTX_ctrl(m->sh->ctx, EVP_CTRL_GCM_SET_TAG, m->tag_len, dummy))
			return srtp_err_status_algo_fail;
	}
	int rv = EVP_Cipher(m->sh->ctx, NULL, aad, len);
	return rv >= 0 && (uint32_t)rv == len ? srtp_err_status_ok : srtp_err_status_algo_fail;
}

static srtp_err_status_t lean_encrypt(void *state, uint8_t *buf, unsigned int *len)
{
	struct lean_cipher *m = state;
	if (*len > INT_MAX || m->sh->keyed != m)
		return srtp_err_status_cipher_fail;
	if (m->kind == LK_GCM) {
		if (m->enc != 1 || EVP_Cipher(m->sh->ctx, buf, buf, *len) < 0)
			return srtp_err_status_cipher_fail;
		return srtp_err_status_ok;
	}
	/* CTR is a stream mode: Update does it all, Final adds nothing. */
	int out = 0;
	if (!EVP_EncryptUpdate(m->sh->ctx, buf, &out, buf, (int)*len))
		return srtp_err_status_cipher_fail;
	*len = (unsigned)out;
	return srtp_err_status_ok;
}

/* GCM: ciphertext || tag in, plaintext out; the tag is checked. */
static srtp_err_status_t lean_decrypt(void *state, uint8_t *buf, unsigned int *len)
{
	struct lean_cipher *m = state;
	if (m->kind != LK_GCM)
		return lean_encrypt(state, buf, len);
	if (*len > INT_MAX || *len < m->tag_len || m->enc != 0 || m->sh->keyed != m)
		return srtp_err_status_bad_param;
	unsigned n = *len - m->tag_len;
	if (!EVP_CIPHER_CTX_ctrl(m->sh->ctx, EVP_CTRL_GCM_SET_TAG, m->tag_len, buf + n))
		return srtp_err_status_auth_fail;
	if (EVP_Cipher(m->sh->ctx, buf, buf, n) < 0 || EVP_Cipher(m->sh->ctx, NULL, NULL, 0) != 0)
		return srtp_err_status_auth_fail;
	*len = n;
	return srtp_err_status_ok;
}

static srtp_err_status_t lean_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
	struct lean_cipher *m = state;
	if (m->kind != LK_GCM || m->enc != 1 || m->sh->keyed != m)
		return srtp_err_status_bad_param;
	if (EVP_Cipher(m->sh->ctx, NULL, NULL, 0) < 0 ||
	    !EVP_CIPHER_CTX_ctrl(m->sh->ctx, EVP_CTRL_GCM_GET_TAG, m->tag_len, tag))
		return srtp_err_status_algo_fail;
	*len = m->tag_len;
	return srtp_err_status_ok;
}

/* RFC 3711 B.2: AES-CM keystream. GCM: the all-zero case of the GCM
 * specification (test case 2: zero key, IV and block). libsrtp also runs
 * its own vectors for each key size when we replace its cipher. */
static const uint8_t icm_tc_key[30] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
	0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static uint8_t tc_zero_iv[16];
static const uint8_t tc_zero[32];
static const uint8_t icm_tc_ks[32] = {
	0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
	0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const srtp_cipher_test_case_t icm_tc = {
	sizeof(icm_tc_key), icm_tc_key, tc_zero_iv, sizeof(tc_zero), tc_zero,
	sizeof(icm_tc_ks), icm_tc_ks, 0, NULL, 0, NULL};
static const uint8_t gcm_tc_ct[32] = {
	0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78,
	0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf};
static const srtp_cipher_test_case_t gcm_tc = {
	SRTP_AES_GCM_128_KEY_LEN_WSALT, tc_zero, tc_zero_iv, 16, tc_zero,
	sizeof(gcm_tc_ct), gcm_tc_ct, 0, NULL, 16, NULL};

#define LEAN_TYPE(desc, tc, type_id)                                                    \
	{lean_alloc, lean_dealloc, lean_init, lean_set_aad, lean_encrypt, lean_decrypt, \
	 lean_set_iv, lean_get_tag, desc, tc, type_id}
static const srtp_cipher_type_t lean_types[5] = {
	[LT_ICM128] = LEAN_TYPE("AES-128-CM (rampart msrtp, libcrypto)", &icm_tc, SRTP_AES_ICM_128),
	[LT_ICM192] = LEAN_TYPE("AES-192-CM (rampart msrtp, libcrypto)", &icm_tc, SRTP_AES_ICM_192),
	[LT_ICM256] = LEAN_TYPE("AES-256-CM (rampart msrtp, libcrypto)", &icm_tc, SRTP_AES_ICM_256),
	[LT_GCM128] = LEAN_TYPE("AES-128-GCM (rampart msrtp, libcrypto)", &gcm_tc, SRTP_AES_GCM_128),
	[LT_GCM256] = LEAN_TYPE("AES-256-GCM (rampart msrtp, libcrypto)", &gcm_tc, SRTP_AES_GCM_256),
};

#endif /* MSRTP_LEAN_CRYPTO */

/* Ciphers libsrtp makes while this is set share the context's EVP context. */
static void share_begin(struct msrtp *c)
{
#ifdef MSRTP_LEAN_CRYPTO
	evp_hint = &c->evp;
#else
	(void)c;
#endif
}

static void share_end(void)
{
#ifdef MSRTP_LEAN_CRYPTO
	evp_hint = NULL;
#endif
}

/* ---- library ----------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status;
static bool suite_usable[MSRTP_SUITE_COUNT];

static void srtp_log_cb(srtp_log_level_t level, const char *msg, void *data)
{
	(void)data;
	enum rp_log_level l = RP_LOG_DEBUG;
	switch (level) {
	case srtp_log_level_error: l = RP_LOG_ERR; break;
	case srtp_log_level_warning: l = RP_LOG_WARN; break;
	case srtp_log_level_info: l = RP_LOG_INFO; break;
	case srtp_log_level_debug: l = RP_LOG_DEBUG; break;
	}
	/* libsrtp's event reporter writes per packet (SSRC collision, key
	 * usage limits): all but errors are rate-limited. */
	if (l == RP_LOG_ERR)
		rp_log(l, "libsrtp: %s", msg);
	else
		rp_log_ratelimited(l, "libsrtp: %s", msg);
}

static void set_crypto(enum msrtp_suite s, srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp);

/* RFC 6188 section 7.4's master key and salt on libsrtp's validation packet
 * (800f1234 decafbad cafebabe, 16 x ab); the expected SRTP comes from an
 * RFC-conformant AES-192 PRF (tests/unit/test_msrtp.c cross-checks it).
 * libsrtp <= 2.7 without our fix (the Debian build) derives AES-192 keys with
 * the AES-256 PRF (libsrtp issue 763) and fails this. */
static bool aes192_kdf_ok(void)
{
	static const uint8_t key_salt[38] = {
		0x73, 0xed, 0xc6, 0x6c, 0x4f, 0xa1, 0x57, 0x76, 0xfb, 0x57, 0xf9, 0x50,
		0x5c, 0x17, 0x13, 0x65, 0x50, 0xff, 0xda, 0x71, 0xf3, 0xe8, 0xe5, 0xf1,
		0xc8, 0x52, 0x2f, 0x3a, 0xcd, 0x4c, 0xe8, 0x6d, 0x5a, 0xdd, 0x78, 0xed,
		0xbb, 0x11};
	static const uint8_t want[38] = {
		0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe,
		0x1e, 0x84, 0xe1, 0x39, 0x5a, 0x55, 0xcc, 0x6c, 0xd7, 0xb8, 0x0d, 0xb9,
		0x39, 0xa8, 0x3a, 0x78, 0xe3, 0xe7, 0xe1, 0x0b, 0xf5, 0x79, 0xc2, 0x61,
		0xe5, 0xc6};
	uint8_t key[38], pkt[28 + SRTP_MAX_TRAILER_LEN] = {
		0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe};
	srtp_policy_t pol;
	srtp_t s;
	int n = 28;

	memset(pkt + 12, 0xab, 16);
	memcpy(key, key_salt, sizeof(key));
	memset(&pol, 0, sizeof(pol));
	set_crypto(MSRTP_AES_192_CM_HMAC_SHA1_80, &pol.rtp, &pol.rtcp);
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = key;
	pol.window_size = 128;
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		return false;
	bool ok = srtp_protect(s, pkt, &n) == srtp_err_status_ok && n == (int)sizeof(want) &&
		  memcmp(pkt, want, sizeof(want)) == 0;
	srtp_dealloc(s);
	return ok;
}

/* Which suites this libsrtp can do (and do right). */
static void probe_suites(void)
{
	uint8_t key[MSRTP_KEYBUF] = {0};
	for (unsigned i = 0; i < MSRTP_SUITE_COUNT; i++) {
		srtp_policy_t pol;
		srtp_t s;
		memset(&pol, 0, sizeof(pol));
		set_crypto((enum msrtp_suite)i, &pol.rtp, &pol.rtcp);
		pol.ssrc.type = ssrc_any_outbound;
		pol.key = key;
		pol.window_size = 128;
		suite_usable[i] = srtp_create(&s, &pol) == srtp_err_status_ok;
		if (suite_usable[i])
			srtp_dealloc(s);
	}
	if (suite_usable[MSRTP_AES_192_CM_HMAC_SHA1_80] && !aes192_kdf_ok()) {
		rp_warn("msrtp: this libsrtp2 derives AES-192 keys wrongly (libsrtp issue 763); "
			"AES_192_CM suites disabled. Build the fixed one: scripts/build-libsrtp.sh");
		suite_usable[MSRTP_AES_192_CM_HMAC_SHA1_80] = false;
		suite_usable[MSRTP_AES_192_CM_HMAC_SHA1_32] = false;
	}
}

static void do_init(void)
{
	init_status = srtp_init();
	if (init_status != srtp_err_status_ok)
		return;
	srtp_install_log_handler(srtp_log_cb, NULL);
#ifdef MSRTP_LEAN_CRYPTO
	srtp_err_status_t st = srtp_replace_auth_type(&lean_hmac_type, SRTP_HMAC_SHA1);
	if (st != srtp_err_status_ok)
		rp_warn("msrtp: libsrtp refused the compact HMAC-SHA1 (%d); keeping its own", (int)st);
	for (unsigned i = 0; i < sizeof(lean_types) / sizeof(lean_types[0]); i++) {
		st = srtp_replace_cipher_type(&lean_types[i], lean_types[i].id);
		if (st != srtp_err_status_ok)
			rp_warn("msrtp: libsrtp refused %s (%d); keeping its own",
				lean_types[i].description, (int)st);
	}
#endif
	probe_suites();
}

int msrtp_global_init(void)
{
	if (pthread_once(&init_once, do_init) != 0)
		return -EIO;
	if (init_status != srtp_err_status_ok) {
		rp_err("msrtp: srtp_init failed: %d", (int)init_status);
		return -EIO;
	}
	return 0;
}

const char *msrtp_backend_name(void)
{
	return MSRTP_SRTP_BACKEND;
}

bool msrtp_suite_supported(enum msrtp_suite s)
{
	return suite_ok(s) && msrtp_global_init() == 0 && suite_usable[s];
}

static int map_err(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return MSRTP_OK;
	case srtp_err_status_auth_fail:
	case srtp_err_status_bad_mki: /* unknown key: cannot authenticate */
		return MSRTP_E_AUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
	case srtp_err_status_pkt_idx_old:
		return MSRTP_E_REPLAY;
	case srtp_err_status_parse_err:
	case srtp_err_status_bad_param: /* what packet calls say for short input */
		return MSRTP_E_PARSE;
	default:
		return MSRTP_E_OTHER;
	}
}

/* ---- contexts ---------------------------------------------------------- */

static void set_crypto(enum msrtp_suite s, srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp)
{
	switch (s) {
	case MSRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AES_192_CM_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtp);
		srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AES_192_CM_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(rtp);
		srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AES_256_CM_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp);
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AES_256_CM_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp);
		srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
		break;
	case MSRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
		break;
	case MSRTP_AEAD_AES_256_GCM:
		srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
		break;
	case MSRTP_NULL_HMAC_SHA1_80:
		srtp_crypto_policy_set_null_cipher_hmac_sha1_80(rtp);
		srtp_crypto_policy_set_null_cipher_hmac_sha1_80(rtcp);
		break;
	case MSRTP_NULL_HMAC_SHA1_32:
		/* libsrtp has no preset: the _80 one with a 32-bit RTP tag. */
		srtp_crypto_policy_set_null_cipher_hmac_sha1_80(rtp);
		rtp->auth_tag_len = 4;
		srtp_crypto_policy_set_null_cipher_hmac_sha1_80(rtcp);
		break;
	case MSRTP_SUITE_COUNT:
		break;
	}
}

/* The policy for this context's streams (ssrc left for the caller). pol
 * points into c, mk and mkp. */
static void make_policy(const struct msrtp *c, srtp_policy_t *pol, srtp_master_key_t *mk,
			srtp_master_key_t **mkp)
{
	memset(pol, 0, sizeof(*pol));
	set_crypto((enum msrtp_suite)c->suite, &pol->rtp, &pol->rtcp);
	pol->window_size = c->window;
	pol->allow_repeat_tx = 0; /* same index twice = keystream reuse */
	if (c->mki_len) {
		mk->key = (uint8_t *)c->key;
		mk->mki_id = (uint8_t *)c->mki;
		mk->mki_size = c->mki_len;
		mkp[0] = mk;
		pol->keys = mkp;
		pol->num_master_keys = 1;
	} else {
		pol->key = (uint8_t *)c->key;
	}
}

int msrtp_new(enum msrtp_dir dir, const struct msrtp_params *p, struct msrtp **out)
{
	if (!p || !out || !suite_ok(p->suite) ||
	    (dir != MSRTP_PROTECT && dir != MSRTP_UNPROTECT))
		return -EINVAL;
	if (!p->key || !p->salt || p->mki_len > MSRTP_MAX_MKI || (p->mki_len && !p->mki))
		return -EINVAL;
	unsigned window = p->window ? p->window : 128;
	/* libsrtp's bounds for the replay window. */
	if (window < 64 || window >= 0x8000)
		return -EINVAL;
	int rc = msrtp_global_init();
	if (rc)
		return rc;
	if (!suite_usable[p->suite])
		return -ENOTSUP;

	struct msrtp *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	const struct suite_info *si = &suites[p->suite];
	c->slots = c->inline_slots;
	c->cap = MSRTP_INLINE_SLOTS;
	c->dir = (uint8_t)dir;
	c->suite = (uint8_t)p->suite;
	c->window = (uint16_t)window;
	c->mki_len = (uint8_t)p->mki_len;
	c->rtp_trailer = (uint8_t)(si->rtp_tag + p->mki_len);
	c->rtcp_trailer = (uint8_t)(si->rtcp_tag + p->mki_len);
	c->init_roc = p->roc;
	c->init_roc_pending = p->roc != 0;

	/* libsrtp takes the master key and salt as one buffer. */
	memcpy(c->key, p->key, si->key_len);
	memcpy(c->key + si->key_len, p->salt, si->salt_len);
	if (p->mki_len)
		memcpy(c->mki, p->mki, p->mki_len);

	srtp_policy_t pol;
	srtp_master_key_t mk, *mkp[1];
	make_policy(c, &pol, &mk, mkp);
	pol.ssrc.type = dir == MSRTP_PROTECT ? ssrc_any_outbound : ssrc_any_inbound;
	share_begin(c);
	srtp_err_status_t st = srtp_create(&c->s, &pol);
	share_end();
	explicit_bzero(&pol, sizeof(pol));
	explicit_bzero(&mk, sizeof(mk));
	if (st != srtp_err_status_ok) {
		rp_warn("msrtp: srtp_create(%s) failed: %d", si->name, (int)st);
		c->s = NULL;
		msrtp_free(c);
		return st == srtp_err_status_alloc_fail ? -ENOMEM : -EIO;
	}
	*out = c;
	return 0;
}

struct msrtp *msrtp_free(struct msrtp *c)
{
	if (!c)
		return NULL;
	if (c->s)
		srtp_dealloc(c->s); /* zeroes libsrtp's session keys */
	/* c->evp went with the last cipher using it. */
	if (c->slots != c->inline_slots)
		free(c->slots);
	if (c->scratch) {
		explicit_bzero(c->scratch, c->scratch_cap);
		free(c->scratch);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

/* ---- per-SSRC streams -------------------------------------------------- */

static bool stream_exists(struct msrtp *c, uint32_t ssrc)
{
	uint32_t roc;
	return srtp_get_stream_roc(c->s, ssrc, &roc) == srtp_err_status_ok;
}

static int slot_of(const struct msrtp *c, uint32_t ssrc)
{
	for (unsigned i = 0; i < c->nstreams; i++)
		if (c->slots[i].ssrc == ssrc)
			return (int)i;
	return -1;
}

/* Records that libsrtp holds a stream for ssrc; over the cap, drops the
 * stream switched to least recently (never ssrc itself). */
static unsigned track(struct msrtp *c, uint32_t ssrc)
{
	int i = slot_of(c, ssrc);
	if (i < 0 && c->nstreams == c->cap && c->cap < MSRTP_MAX_STREAMS) {
		struct slot *big = malloc(MSRTP_MAX_STREAMS * sizeof(*big));
		if (big) { /* else: evict within the inline slots */
			memcpy(big, c->slots, c->nstreams * sizeof(*big));
			c->slots = big;
			c->cap = MSRTP_MAX_STREAMS;
		}
	}
	if (i < 0) {
		if (c->nstreams == c->cap) {
			unsigned old = 0;
			for (unsigned j = 1; j < c->nstreams; j++)
				if ((int32_t)(c->slots[j].used - c->slots[old].used) < 0)
					old = j;
			srtp_remove_stream(c->s, htonl(c->slots[old].ssrc));
			if (c->have_last && c->last_ssrc == c->slots[old].ssrc)
				c->have_last = false;
			if (c->slots[old].anc)
				c->nanc--;
			i = (int)old;
		} else {
			i = (int)c->nstreams++;
		}
		c->slots[i].ssrc = ssrc;
		c->slots[i].hi_valid = false;
		c->slots[i].anc = false;
	}
	c->slots[i].used = ++c->tick;
	return (unsigned)i;
}

static void untrack(struct msrtp *c, uint32_t ssrc)
{
	int i = slot_of(c, ssrc);
	if (i < 0)
		return;
	if (c->slots[i].anc)
		c->nanc--;
	c->nstreams--;
	c->slots[i] = c->slots[c->nstreams];
	if (c->have_last && c->last_ssrc == ssrc)
		c->have_last = false;
	else if (c->have_last && c->last_slot == c->nstreams)
		c->last_slot = (uint8_t)i;
}

/* A fresh stream for ssrc whose first packet takes its index from roc (and
 * its sequence number). Any old stream for ssrc goes: its replay state would
 * fight the new index (libsrtp keeps a "pending" ROC that never clears
 * unless the index jumps). */
static int fresh_stream(struct msrtp *c, uint32_t ssrc, uint32_t roc)
{
	if (stream_exists(c, ssrc)) {
		srtp_remove_stream(c->s, htonl(ssrc));
		untrack(c, ssrc);
	}
	srtp_policy_t pol;
	srtp_master_key_t mk, *mkp[1];
	make_policy(c, &pol, &mk, mkp);
	pol.ssrc.type = ssrc_specific;
	pol.ssrc.value = ssrc;
	share_begin(c);
	srtp_err_status_t st = srtp_add_stream(c->s, &pol);
	share_end();
	explicit_bzero(&pol, sizeof(pol));
	explicit_bzero(&mk, sizeof(mk));
	if (st != srtp_err_status_ok)
		return st == srtp_err_status_alloc_fail ? -ENOMEM : -EIO;
	if (roc && srtp_set_stream_roc(c->s, ssrc, roc) != srtp_err_status_ok) {
		srtp_remove_stream(c->s, htonl(ssrc));
		return -EIO;
	}
	(void)track(c, ssrc);
	return 0;
}

/* Slow path, taken when the SSRC differs from the last good packet's. Returns
 * true if it created a stream the packet may have to give back on failure. */
static bool before_packet(struct msrtp *c, uint32_t ssrc, int *err)
{
	*err = 0;
	if (!c->init_roc_pending || stream_exists(c, ssrc))
		return false;
	*err = fresh_stream(c, ssrc, c->init_roc);
	return *err == 0;
}

static void after_packet(struct msrtp *c, uint32_t ssrc, bool created, int rc)
{
	if (rc == MSRTP_OK) {
		if (created)
			c->init_roc_pending = false;
		c->last_ssrc = ssrc;
		c->last_slot = (uint8_t)track(c, ssrc);
		/* An anchored SSRC stays on the slow path until RTP passes (an
		 * SRTCP packet of it may get here first). */
		c->have_last = !c->slots[c->last_slot].anc;
		return;
	}
	/* A packet that failed on its new stream must not pin params.roc to a
	 * forged SSRC: drop the stream and keep the ROC for the next one. */
	if (created && c->dir == MSRTP_UNPROTECT) {
		srtp_remove_stream(c->s, htonl(ssrc));
		untrack(c, ssrc);
	} else if (created) {
		c->init_roc_pending = false;
	} else if (stream_exists(c, ssrc)) {
		(void)track(c, ssrc); /* libsrtp cloned it from the template anyway */
	}
}

static void note_seq(struct msrtp *c, uint16_t seq)
{
	struct slot *sl = &c->slots[c->last_slot];
	if (!sl->hi_valid || (int16_t)(uint16_t)(seq - sl->hi_seq) > 0) {
		sl->hi_seq = seq;
		sl->hi_valid = true;
	}
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- anchors (kernel fast path hand-back) ------------------------------ */

/* RFC 3711 3.3.1: the ROC of sequence number seq, guessed from the highest
 * index (roc, hi). -1 (as int64) when it lies before ROC 0. */
static int64_t guess_roc(uint32_t roc, uint16_t hi, uint16_t seq)
{
	if (hi < 0x8000)
		return seq > hi && seq - hi > 0x8000 ? (int64_t)roc - 1 : (int64_t)roc;
	return hi - 0x8000 > seq ? (int64_t)roc + 1 : (int64_t)roc;
}

/* Slow path, RTP: if ssrc has an anchor, tells libsrtp the ROC of this
 * packet (a pending ROC: libsrtp's own guess starts from where userspace
 * last had the stream, maybe 2^15 or more packets back). A packet at or
 * before the anchor was carried by the kernel already: a replay, refused
 * before any crypto. Returns the slot, -1 without an anchor, or a
 * negative msrtp_result - 1 to fail the packet with. */
static int anchor_before(struct msrtp *c, uint32_t ssrc, const uint8_t *pkt)
{
	int i = slot_of(c, ssrc);
	if (i < 0 || !c->slots[i].anc)
		return -1;
	const struct slot *sl = &c->slots[i];
	uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
	int64_t v = guess_roc(sl->anc_roc, sl->hi_seq, seq);
	if (v < 0 || ((uint64_t)v << 16 | seq) <= ((uint64_t)sl->anc_roc << 16 | sl->hi_seq))
		return MSRTP_E_REPLAY - 1;
	/* 0 means "none pending" to libsrtp; with v = 0 the anchor's ROC is 0
	 * too and libsrtp's guess from its older index agrees. */
	if (srtp_set_stream_roc(c->s, ssrc, (uint32_t)v) != srtp_err_status_ok)
		return MSRTP_E_OTHER - 1;
	return i;
}

/* After the anchored packet: no pending ROC stays behind (libsrtp keeps it
 * until the index jumps by more than 2^15, and would apply it to every
 * later packet); a packet that passed ends the anchor. */
static void anchor_after(struct msrtp *c, uint32_t ssrc, int rc)
{
	(void)srtp_set_stream_roc(c->s, ssrc, 0);
	int i = slot_of(c, ssrc);
	if (rc == MSRTP_OK && i >= 0 && c->slots[i].anc) {
		c->slots[i].anc = false;
		c->nanc--;
	}
}

/* ---- packets ----------------------------------------------------------- */

enum kind { K_RTP, K_RTCP };

static srtp_err_status_t call_protect(struct msrtp *c, enum kind k, uint8_t *pkt, int *n)
{
	unsigned use_mki = c->mki_len ? 1 : 0;
	if (k == K_RTP)
		return srtp_protect_mki(c->s, pkt, n, use_mki, 0);
	return srtp_protect_rtcp_mki(c->s, pkt, n, use_mki, 0);
}

static int protect(struct msrtp *c, enum kind k, uint8_t *pkt, size_t *len, size_t cap)
{
	if (!c || !pkt || !len || c->dir != MSRTP_PROTECT)
		return MSRTP_E_OTHER;
	size_t n = *len, min = k == K_RTP ? 12 : 8;
	size_t trailer = k == K_RTP ? c->rtp_trailer : c->rtcp_trailer;
	if (n < min || (pkt[0] >> 6) != 2)
		return MSRTP_E_PARSE;
	if (n > (size_t)INT_MAX - MSRTP_TRAILER_ROOM)
		return MSRTP_E_PARSE;
	if (cap < n || cap - n < trailer)
		return MSRTP_E_SPACE;

	uint32_t ssrc = rd32(pkt + (k == K_RTP ? 8 : 4));
	bool created = false, slow = !c->have_last || ssrc != c->last_ssrc;
	int anc = -1;
	if (slow) {
		int err;
		if (c->nanc && k == K_RTP && (anc = anchor_before(c, ssrc, pkt)) < -1)
			return anc + 1;
		created = before_packet(c, ssrc, &err);
		if (err)
			return MSRTP_E_OTHER;
	}

	int in = (int)n, out = in;
	srtp_err_status_t st;
	if (cap - n >= MSRTP_TRAILER_ROOM) {
		st = call_protect(c, k, pkt, &out);
	} else {
		/* libsrtp may write up to its worst-case trailer: go via a copy. */
		size_t need = n + MSRTP_TRAILER_ROOM;
		if (c->scratch_cap < need) {
			uint8_t *b = malloc(need);
			if (b && c->scratch) {
				explicit_bzero(c->scratch, c->scratch_cap);
				free(c->scratch);
			}
			if (b) {
				c->scratch = b;
				c->scratch_cap = need;
			}
		}
		if (c->scratch_cap < need) {
			st = srtp_err_status_alloc_fail;
		} else {
			memcpy(c->scratch, pkt, n);
			st = call_protect(c, k, c->scratch, &out);
		}
		if (st == srtp_err_status_ok) {
			if (out < in || (size_t)out > cap)
				st = srtp_err_status_fail;
			else
				memcpy(pkt, c->scratch, (size_t)out);
		}
	}
	int rc = map_err(st);
	if (rc == MSRTP_OK && (out < in || (size_t)out > cap))
		rc = MSRTP_E_OTHER; /* cannot happen with a sane libsrtp */
	if (anc >= 0)
		anchor_after(c, ssrc, rc);
	if (slow)
		after_packet(c, ssrc, created, rc);
	if (rc == MSRTP_OK) {
		*len = (size_t)out;
		if (k == K_RTP)
			note_seq(c, (uint16_t)(pkt[2] << 8 | pkt[3]));
	}
	return rc;
}

static int unprotect(struct msrtp *c, enum kind k, uint8_t *pkt, size_t *len)
{
	if (!c || !pkt || !len || c->dir != MSRTP_UNPROTECT)
		return MSRTP_E_OTHER;
	size_t n = *len, min = k == K_RTP ? 12 : 8;
	size_t trailer = k == K_RTP ? c->rtp_trailer : c->rtcp_trailer;
	if (n < min + trailer || (pkt[0] >> 6) != 2 || n > INT_MAX)
		return MSRTP_E_PARSE;

	uint32_t ssrc = rd32(pkt + (k == K_RTP ? 8 : 4));
	bool created = false, slow = !c->have_last || ssrc != c->last_ssrc;
	int anc = -1;
	if (slow) {
		int err;
		if (c->nanc && k == K_RTP && (anc = anchor_before(c, ssrc, pkt)) < -1)
			return anc + 1;
		created = before_packet(c, ssrc, &err);
		if (err)
			return MSRTP_E_OTHER;
	}
	int out = (int)n;
	unsigned use_mki = c->mki_len ? 1 : 0;
	srtp_err_status_t st;
	if (k == K_RTP) {
		st = srtp_unprotect_mki(c->s, pkt, &out, use_mki);
	} else if (use_mki && !is_aead(c->suite)) {
		/* libsrtp 2.5 looks for the SRTCP MKI before the *RTP* tag, which
		 * is wrong for the _32 suites. The MKI is not authenticated and
		 * there is one key: check it here and hand libsrtp the packet
		 * without it. */
		size_t t = c->rtcp_trailer - c->mki_len - 4, m = c->mki_len;
		uint8_t *at = pkt + n - t - m;
		if (memcmp(at, c->mki, m) != 0) {
			st = srtp_err_status_bad_mki;
		} else {
			memmove(at, at + m, t);
			out = (int)(n - m);
			st = srtp_unprotect_rtcp_mki(c->s, pkt, &out, 0);
			if (st != srtp_err_status_ok) {
				memmove(at + m, at, t);
				memcpy(at, c->mki, m);
				out = (int)n;
			}
		}
	} else {
		st = srtp_unprotect_rtcp_mki(c->s, pkt, &out, use_mki);
	}
	int rc = map_err(st);
	if (rc == MSRTP_OK && (out < 0 || (size_t)out > n))
		rc = MSRTP_E_OTHER;
	if (anc >= 0)
		anchor_after(c, ssrc, rc);
	if (slow)
		after_packet(c, ssrc, created, rc);
	if (rc == MSRTP_OK) {
		*len = (size_t)out;
		if (k == K_RTP)
			note_seq(c, (uint16_t)(pkt[2] << 8 | pkt[3]));
	}
	return rc;
}

int msrtp_protect_rtp(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap)
{
	return protect(c, K_RTP, pkt, len, cap);
}

int msrtp_unprotect_rtp(struct msrtp *c, uint8_t *pkt, size_t *len)
{
	return unprotect(c, K_RTP, pkt, len);
}

int msrtp_protect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap)
{
	return protect(c, K_RTCP, pkt, len, cap);
}

int msrtp_unprotect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len)
{
	return unprotect(c, K_RTCP, pkt, len);
}

/* ---- rollover counter -------------------------------------------------- */

int msrtp_get_roc(struct msrtp *c, uint32_t ssrc, uint32_t *roc)
{
	if (!c || !roc)
		return -EINVAL;
	uint32_t r;
	if (srtp_get_stream_roc(c->s, ssrc, &r) != srtp_err_status_ok)
		return -ENOENT;
	*roc = r;
	return 0;
}

int msrtp_get_index(struct msrtp *c, uint32_t ssrc, uint32_t *roc, uint16_t *seq)
{
	if (!c || !roc || !seq)
		return -EINVAL;
	uint32_t r;
	int i = slot_of(c, ssrc);
	if (i >= 0 && c->slots[i].anc) {
		*roc = c->slots[i].anc_roc;
		*seq = c->slots[i].hi_seq;
		return 0;
	}
	if (i < 0 || !c->slots[i].hi_valid ||
	    srtp_get_stream_roc(c->s, ssrc, &r) != srtp_err_status_ok)
		return -ENOENT;
	*roc = r;
	*seq = c->slots[i].hi_seq;
	return 0;
}

int msrtp_set_anchor(struct msrtp *c, uint32_t ssrc, uint32_t roc, uint16_t seq)
{
	uint32_t r;
	uint16_t q;

	if (!c)
		return -EINVAL;
	/* Never backwards: where userspace already is needs no anchor. */
	if (msrtp_get_index(c, ssrc, &r, &q) == 0 &&
	    ((uint64_t)roc << 16 | seq) <= ((uint64_t)r << 16 | q))
		return 0;
	int i = slot_of(c, ssrc);
	if (i < 0 || !stream_exists(c, ssrc)) {
		/* Not seen yet (or evicted): a stream of its own, so that the
		 * pending ROC has somewhere to go. */
		int rc = fresh_stream(c, ssrc, 0);
		if (rc < 0)
			return rc;
		i = slot_of(c, ssrc);
		if (i < 0)
			return -EIO;
	}
	struct slot *sl = &c->slots[i];
	if (!sl->anc)
		c->nanc++;
	sl->anc = true;
	sl->anc_roc = roc;
	sl->hi_seq = seq;
	sl->hi_valid = true;
	c->init_roc_pending = false; /* the caller says where the stream is */
	if (c->have_last && c->last_ssrc == ssrc)
		c->have_last = false;
	return 0;
}

int msrtp_set_roc(struct msrtp *c, uint32_t ssrc, uint32_t roc)
{
	if (!c)
		return -EINVAL;
	int rc = fresh_stream(c, ssrc, roc);
	if (rc == 0 && c->init_roc_pending)
		c->init_roc_pending = false; /* the caller now says which ROC */
	if (rc == 0 && c->have_last && c->last_ssrc == ssrc)
		c->have_last = false;
	return rc;
}
