// SPDX-License-Identifier: GPL-2.0
/*
 * rampart.ko SRTP (see srtp.h). AES-CM through "ctr(aes)" (sync skcipher,
 * request on the stack), HMAC-SHA1 through "hmac(sha1)" (shash, descriptor
 * on the stack), AES-GCM through a synchronous "gcm(aes)" AEAD whose request
 * is allocated with the context and used under its lock. Keys are derived
 * once, here, with the RFC 3711 AES-CM PRF (key derivation rate 0).
 */
#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <asm/simd.h>
#include <crypto/internal/simd.h>
#include <crypto/skcipher.h>
#include <linux/bitmap.h>
#include <linux/kref.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <asm/unaligned.h>

#include "rtpcheck.h"
#include "srtp.h"

#define RTP_MIN_HDR 12
#define SHA1_LEN 20
#define GCM_TAG_LEN 16
#define SALT_LEN 14		/* AES-CM session salt; GCM uses 12 */

/* SRTP key derivation labels (RFC 3711 4.3.2). */
#define LABEL_RTP_ENC 0x00
#define LABEL_RTP_AUTH 0x01
#define LABEL_RTP_SALT 0x02

struct rampart_srtp {
	struct kref ref;
	spinlock_t lock;	/* index state, replay window, GCM request */
	u32 suite;
	bool inbound;
	bool aead;
	bool null_cipher;
	u8 tag_len;
	u8 salt_len;
	u8 salt[SALT_LEN];
	struct crypto_sync_skcipher *ctr;
	/* The CPU's whole-request CTR (AES-NI: one FPU section, eight blocks
	 * at a time) where there is one; usable only when the FPU is
	 * (crypto_simd_usable()), else ctr above does the packet. */
	struct crypto_sync_skcipher *ctr_simd;
	struct crypto_shash *hmac;
	struct crypto_aead *gcm;
	struct aead_request *req;	/* GCM only; under lock */
	/* RFC 3711 3.3.1 state: highest index so far = roc << 16 | seq. */
	bool started;		/* false: the first packet fixes the index */
	u32 roc;
	u16 seq;
	u32 window;		/* inbound only; bit i of replay = index highest - i */
	DECLARE_BITMAP(replay, RAMPART_REPLAY_WINDOW_MAX);
};

/* out = AES-CM PRF keystream of @outlen bytes for @label from the master
 * salt (RFC 3711 4.3.1/4.3.3, KDR 0): IV = (salt XOR label << 48) << 16.
 * @tfm is keyed with the master key. @out must not be on the stack (it
 * goes through a scatterlist). */
static int prf(struct crypto_sync_skcipher *tfm, const u8 *msalt,
	       unsigned int slen, u8 label, u8 *out, unsigned int outlen)
{
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, tfm);
	struct scatterlist sg;
	u8 iv[16] = { 0 };
	int ret;

	/* A 96-bit (GCM) master salt is zero-padded on the right to 112. */
	memcpy(iv, msalt, slen);
	iv[7] ^= label;
	memset(out, 0, outlen);
	sg_init_one(&sg, out, outlen);
	skcipher_request_set_sync_tfm(req, tfm);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg, &sg, outlen, iv);
	ret = crypto_skcipher_encrypt(req);
	skcipher_request_zero(req);
	return ret;
}

static void srtp_free(struct rampart_srtp *s)
{
	if (s->req)
		aead_request_free(s->req);
	if (!IS_ERR_OR_NULL(s->gcm))
		crypto_free_aead(s->gcm);
	if (!IS_ERR_OR_NULL(s->ctr))
		crypto_free_sync_skcipher(s->ctr);
	if (s->ctr_simd)
		crypto_free_sync_skcipher(s->ctr_simd);
	if (!IS_ERR_OR_NULL(s->hmac))
		crypto_free_shash(s->hmac);
	kfree_sensitive(s);
}

int rampart_srtp_new(const struct rampart_xf *xf, bool inbound,
		     struct rampart_srtp **out)
{
	struct crypto_sync_skcipher *kdf;
	struct rampart_srtp *s;
	u8 *buf;
	int ret;

	/* Never run SRTP on a kernel whose AES-CM PRF failed the vectors. */
	if (!rampart_srtp_kdf_verified())
		return -EOPNOTSUPP;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	kref_init(&s->ref);
	spin_lock_init(&s->lock);
	s->suite = xf->suite;
	s->inbound = inbound;
	s->window = inbound ? xf->replay_window : 0;
	if (inbound && (s->window < RAMPART_REPLAY_WINDOW_MIN ||
			s->window > RAMPART_REPLAY_WINDOW_MAX)) {
		kfree(s);
		return -EINVAL;
	}
	s->salt_len = SALT_LEN;
	switch (xf->suite) {
	case RAMPART_SUITE_AES_CM_128_HMAC_SHA1_80:
	case RAMPART_SUITE_AES_192_CM_HMAC_SHA1_80:
	case RAMPART_SUITE_AES_256_CM_HMAC_SHA1_80:
		s->tag_len = 10;
		break;
	case RAMPART_SUITE_AES_CM_128_HMAC_SHA1_32:
	case RAMPART_SUITE_AES_192_CM_HMAC_SHA1_32:
	case RAMPART_SUITE_AES_256_CM_HMAC_SHA1_32:
		s->tag_len = 4;
		break;
	case RAMPART_SUITE_NULL_HMAC_SHA1_80:
		s->null_cipher = true;
		s->tag_len = 10;
		break;
	case RAMPART_SUITE_NULL_HMAC_SHA1_32:
		s->null_cipher = true;
		s->tag_len = 4;
		break;
	case RAMPART_SUITE_AEAD_AES_128_GCM:
	case RAMPART_SUITE_AEAD_AES_256_GCM:
		s->aead = true;
		s->tag_len = GCM_TAG_LEN;
		s->salt_len = 12;
		break;
	default:
		kfree(s);
		return -EINVAL;
	}
	if (xf->key_len > RAMPART_MASTER_KEY_MAX || xf->salt_len > SALT_LEN) {
		kfree(s);
		return -EINVAL;
	}
	if (xf->has_seq) {
		s->started = true;
		s->roc = xf->roc;
		s->seq = xf->seq;
		/* mediad's context accepted that index and may have accepted
		 * any before it: all of the window counts as seen, so nothing
		 * userspace took gets in again here (late packets from before
		 * the hand-over are dropped as replays; few, and safe). */
		if (inbound)
			bitmap_fill(s->replay, s->window);
	} else {
		s->roc = xf->roc;
	}

	/* Heap scratch: the PRF output goes through a scatterlist. */
	buf = kzalloc(64, GFP_KERNEL);
	if (!buf) {
		kfree(s);
		return -ENOMEM;
	}
	kdf = crypto_alloc_sync_skcipher("ctr(aes)", 0, 0);
	if (IS_ERR(kdf)) {
		ret = PTR_ERR(kdf);
		kdf = NULL;
		goto out;
	}
	ret = crypto_sync_skcipher_setkey(kdf, xf->key, xf->key_len);
	if (ret)
		goto out;

	/* Session salt. */
	ret = prf(kdf, xf->salt, xf->salt_len, LABEL_RTP_SALT, buf, s->salt_len);
	if (ret)
		goto out;
	memcpy(s->salt, buf, s->salt_len);

	/* Authentication key (HMAC-SHA1 suites). */
	if (!s->aead) {
		s->hmac = crypto_alloc_shash("hmac(sha1)", 0, 0);
		if (IS_ERR(s->hmac)) {
			ret = PTR_ERR(s->hmac);
			goto out;
		}
		ret = prf(kdf, xf->salt, xf->salt_len, LABEL_RTP_AUTH, buf, SHA1_LEN);
		if (!ret)
			ret = crypto_shash_setkey(s->hmac, buf, SHA1_LEN);
		if (ret)
			goto out;
	}

	/* Encryption key, same length as the master key (RFC 3711, 6188, 7714). */
	if (!s->null_cipher) {
		ret = prf(kdf, xf->salt, xf->salt_len, LABEL_RTP_ENC, buf, xf->key_len);
		if (ret)
			goto out;
		if (s->aead) {
			/* Mask ASYNC: a synchronous implementation, usable in
			 * the hook without completion callbacks. */
			s->gcm = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
			if (IS_ERR(s->gcm)) {
				ret = PTR_ERR(s->gcm);
				goto out;
			}
			ret = crypto_aead_setkey(s->gcm, buf, xf->key_len);
			if (!ret)
				ret = crypto_aead_setauthsize(s->gcm, GCM_TAG_LEN);
			if (ret)
				goto out;
			s->req = aead_request_alloc(s->gcm, GFP_KERNEL);
			if (!s->req) {
				ret = -ENOMEM;
				goto out;
			}
		} else {
			/* The PRF's transform becomes the session one. */
			ret = crypto_sync_skcipher_setkey(kdf, buf, xf->key_len);
			if (ret)
				goto out;
			s->ctr = kdf;
			kdf = NULL;
			s->ctr_simd = crypto_alloc_sync_skcipher("__ctr(aes)",
					CRYPTO_ALG_INTERNAL, CRYPTO_ALG_INTERNAL);
			if (IS_ERR(s->ctr_simd)) {
				s->ctr_simd = NULL;	/* optional */
			} else if (crypto_sync_skcipher_setkey(s->ctr_simd, buf,
							       xf->key_len)) {
				crypto_free_sync_skcipher(s->ctr_simd);
				s->ctr_simd = NULL;
			}
		}
	}
	ret = 0;
out:
	kfree_sensitive(buf);
	if (kdf)
		crypto_free_sync_skcipher(kdf);
	if (ret) {
		srtp_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void rampart_srtp_get(struct rampart_srtp *s)
{
	kref_get(&s->ref);
}

static void srtp_release(struct kref *ref)
{
	srtp_free(container_of(ref, struct rampart_srtp, ref));
}

void rampart_srtp_put(struct rampart_srtp *s)
{
	if (s)
		kref_put(&s->ref, srtp_release);
}

unsigned int rampart_srtp_overhead(const struct rampart_srtp *s)
{
	return s->tag_len;
}

void rampart_srtp_state(struct rampart_srtp *s, u32 *roc, u16 *seq)
{
	spin_lock_bh(&s->lock);
	*roc = s->roc;
	*seq = s->seq;
	spin_unlock_bh(&s->lock);
}

/* RTP header length incl. CSRCs and extension; 0 if not RTP v2 or longer
 * than @len (the hook has checked this already; here it guards the
 * context's own reads). */
static unsigned int rtp_hdr_len(const u8 *p, unsigned int len)
{
	if (len < RTP_MIN_HDR || (p[0] >> 6) != 2)
		return 0;
	return rampart_rtp_hdr_len(p, len);
}

/* RFC 3711 3.3.1: the packet index guessed from @seq and the highest index
 * so far; the ROC it implies goes to *v. Negative: before index 0. */
static s64 guess_index(const struct rampart_srtp *s, u16 seq, s64 *v)
{
	s64 roc = s->roc;

	if (!s->started) {
		*v = roc;
	} else if (s->seq < 32768) {
		*v = (seq > s->seq && seq - s->seq > 32768) ? roc - 1 : roc;
	} else {
		*v = (seq < s->seq - 32768) ? roc + 1 : roc;
	}
	return *v * 65536 + seq;
}

static s64 highest_index(const struct rampart_srtp *s)
{
	return (s64)s->roc * 65536 + s->seq;
}

/* Replay check of @idx (lock held): true if it must be dropped. */
static bool replayed(const struct rampart_srtp *s, s64 idx)
{
	s64 delta;

	if (idx < 0 || idx > 0xffffffffffffLL)
		return true;
	if (!s->started)
		return false;
	delta = idx - highest_index(s);
	if (delta > 0)
		return false;
	if (-delta >= s->window)
		return true;
	return test_bit(-delta, s->replay);
}

/* Moves the highest index to @idx if it is higher; records it as seen
 * (inbound). Lock held. */
static void advance(struct rampart_srtp *s, s64 idx)
{
	s64 delta = s->started ? idx - highest_index(s) : 1;

	if (delta > 0) {
		if (s->inbound) {
			if (!s->started || delta >= s->window)
				bitmap_zero(s->replay, s->window);
			else
				bitmap_shift_left(s->replay, s->replay, delta,
						  s->window);
			__set_bit(0, s->replay);
		}
		s->started = true;
		s->roc = (u32)(idx >> 16);
		s->seq = (u16)idx;
	} else if (s->inbound) {
		__set_bit(-delta, s->replay);
	}
}

/* HMAC-SHA1 over the @len bytes at @pkt followed by the ROC (RFC 3711
 * 4.2), in one digest call: the caller has put the ROC at pkt + len (the
 * tag's place), so the hash runs over one contiguous buffer with one
 * FPU section for the inner hash instead of init/update/update/final. */
static int hmac_tag(struct rampart_srtp *s, const u8 *pkt, unsigned int len,
		    u8 *out)
{
	SHASH_DESC_ON_STACK(desc, s->hmac);
	int ret;

	desc->tfm = s->hmac;
	ret = crypto_shash_digest(desc, pkt, len + 4, out);
	shash_desc_zero(desc);
	return ret;
}

/* AES-CM (RFC 3711 4.1.1): IV = salt << 16 XOR SSRC << 64 XOR index << 16;
 * encryption and decryption are the same. */
static int cm_crypt(struct rampart_srtp *s, const u8 *hdr, u8 *data,
		    unsigned int len, s64 idx)
{
	struct crypto_sync_skcipher *tfm =
		s->ctr_simd && crypto_simd_usable() ? s->ctr_simd : s->ctr;
	SYNC_SKCIPHER_REQUEST_ON_STACK(req, tfm);
	struct scatterlist sg;
	u8 iv[16] = { 0 };
	int i, ret;

	if (!len)
		return 0;
	memcpy(iv, s->salt, SALT_LEN);
	for (i = 0; i < 4; i++)
		iv[4 + i] ^= hdr[8 + i];		/* SSRC */
	for (i = 0; i < 6; i++)
		iv[8 + i] ^= (u8)(idx >> (40 - 8 * i));	/* 48-bit index */
	sg_init_one(&sg, data, len);
	skcipher_request_set_sync_tfm(req, tfm);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg, &sg, len, iv);
	ret = crypto_skcipher_encrypt(req);
	skcipher_request_zero(req);
	return ret;
}

/* AES-GCM (RFC 7714 8): IV = (00 00 || SSRC || ROC || SEQ) XOR salt, the
 * RTP header is the associated data. @cryptlen includes the tag when
 * decrypting. Lock held (the request is the context's). */
static int gcm_crypt(struct rampart_srtp *s, u8 *pkt, unsigned int hlen,
		     unsigned int cryptlen, unsigned int sglen, u32 roc,
		     bool enc)
{
	struct scatterlist sg;
	u8 iv[12];
	int i;

	iv[0] = 0;
	iv[1] = 0;
	memcpy(iv + 2, pkt + 8, 4);
	put_unaligned_be32(roc, iv + 6);
	memcpy(iv + 10, pkt + 2, 2);
	for (i = 0; i < 12; i++)
		iv[i] ^= s->salt[i];
	sg_init_one(&sg, pkt, sglen);
	aead_request_set_tfm(s->req, s->gcm);
	aead_request_set_callback(s->req, 0, NULL, NULL);
	aead_request_set_ad(s->req, hlen);
	aead_request_set_crypt(s->req, &sg, &sg, cryptlen, iv);
	return enc ? crypto_aead_encrypt(s->req) : crypto_aead_decrypt(s->req);
}

/* Undoes an unprotect that authenticated (lock held): the ciphertext and
 * the tag as they arrived. The keystream is the same both ways for AES-CM;
 * GCM encryption of the plain text under the same IV and header gives back
 * the ciphertext and the very tag that was verified. Non-zero only if the
 * crypto API fails, which leaves the packet fit only to be dropped. */
static int restore(struct rampart_srtp *s, u8 *pkt, unsigned int len,
		   unsigned int hlen, unsigned int body, s64 idx, u32 roc,
		   const u8 *tag)
{
	if (s->aead)
		return gcm_crypt(s, pkt, hlen, body - hlen, len, roc, true);
	memcpy(pkt + body, tag, s->tag_len);
	return s->null_cipher ? 0 : cm_crypt(s, pkt, pkt + hlen, body - hlen, idx);
}

enum rampart_srtp_res rampart_srtp_unprotect(struct rampart_srtp *s, u8 *pkt,
					     unsigned int len,
					     unsigned int *newlen)
{
	enum rampart_srtp_res res = RAMPART_SRTP_OK;
	u8 tag[SHA1_LEN], want[SHA1_LEN];
	unsigned int hlen, body;
	s64 idx, v;

	hlen = rtp_hdr_len(pkt, len);
	if (!hlen || len < hlen + s->tag_len)
		return RAMPART_SRTP_PASS;
	body = len - s->tag_len;

	spin_lock_bh(&s->lock);
	idx = guess_index(s, get_unaligned_be16(pkt + 2), &v);
	if (replayed(s, idx)) {
		res = RAMPART_SRTP_REPLAY;
		goto out;
	}
	if (s->aead) {
		if (gcm_crypt(s, pkt, hlen, len - hlen, len, (u32)v, false)) {
			res = RAMPART_SRTP_AUTH;
			goto out;
		}
	} else {
		/* The tag's first bytes make room for the ROC (the packet is
		 * dropped or trimmed to @body after this either way). */
		memcpy(want, pkt + body, s->tag_len);
		put_unaligned_be32((u32)v, pkt + body);
		if (hmac_tag(s, pkt, body, tag) ||
		    crypto_memneq(tag, want, s->tag_len)) {
			res = RAMPART_SRTP_AUTH;
			goto out;
		}
		if (!s->null_cipher &&
		    cm_crypt(s, pkt, pkt + hlen, body - hlen, idx)) {
			res = RAMPART_SRTP_AUTH;
			goto out;
		}
	}
	/* The padding count is encrypted: checked on the plain text. Rare
	 * (only an authentic packet from the keyed peer gets here), so the
	 * cost of putting it back falls on the bad packet alone. */
	if (unlikely(!rampart_rtp_pad_ok(pkt[0], pkt[body - 1], body, hlen))) {
		res = restore(s, pkt, len, hlen, body, idx, (u32)v, want) ?
			RAMPART_SRTP_AUTH : RAMPART_SRTP_MALFORMED;
		goto out;
	}
	advance(s, idx);
	*newlen = body;
out:
	spin_unlock_bh(&s->lock);
	memzero_explicit(tag, sizeof(tag));
	return res;
}

enum rampart_srtp_res rampart_srtp_protect(struct rampart_srtp *s, u8 *pkt,
					   unsigned int len, unsigned int cap,
					   unsigned int *newlen)
{
	enum rampart_srtp_res res = RAMPART_SRTP_OK;
	u8 tag[SHA1_LEN];
	unsigned int hlen;
	s64 idx, v;

	hlen = rtp_hdr_len(pkt, len);
	if (!hlen || cap < len + s->tag_len)
		return RAMPART_SRTP_PASS;

	spin_lock_bh(&s->lock);
	idx = guess_index(s, get_unaligned_be16(pkt + 2), &v);
	if (idx < 0 || idx > 0xffffffffffffLL) {
		res = RAMPART_SRTP_PASS;	/* mediad decides */
		goto out;
	}
	if (s->aead) {
		if (gcm_crypt(s, pkt, hlen, len - hlen, len + s->tag_len,
			      (u32)v, true)) {
			res = RAMPART_SRTP_PASS;
			goto out;
		}
	} else {
		if (!s->null_cipher &&
		    cm_crypt(s, pkt, pkt + hlen, len - hlen, idx)) {
			res = RAMPART_SRTP_PASS;
			goto out;
		}
		/* The ROC goes where the tag will be (cap has room). */
		put_unaligned_be32((u32)v, pkt + len);
		if (hmac_tag(s, pkt, len, tag)) {
			res = RAMPART_SRTP_PASS;
			goto out;
		}
		memcpy(pkt + len, tag, s->tag_len);
	}
	advance(s, idx);
	*newlen = len + s->tag_len;
out:
	spin_unlock_bh(&s->lock);
	memzero_explicit(tag, sizeof(tag));
	return res;
}

/* ---- self test: RFC 3711 B.3 -------------------------------------------- */

static const u8 b3_key[16] = {
	0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
	0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39 };
static const u8 b3_salt[14] = {
	0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb,
	0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6 };
static const u8 b3_enc[16] = {
	0xc6, 0x1e, 0x7a, 0x93, 0x74, 0x4f, 0x39, 0xee,
	0x10, 0x73, 0x4a, 0xfe, 0x3f, 0xf7, 0xa0, 0x87 };
static const u8 b3_ssalt[14] = {
	0x30, 0xcb, 0xbc, 0x08, 0x86, 0x3d, 0x8c, 0x85,
	0xd4, 0x9d, 0xb3, 0x4a, 0x9a, 0xe1 };
static const u8 b3_auth[20] = {
	0xce, 0xbe, 0x32, 0x1f, 0x6f, 0xf7, 0x71, 0x6b,
	0x6f, 0xd4, 0xab, 0x49, 0xaf, 0x25, 0x6a, 0x15,
	0x6d, 0x38, 0xba, 0xa4 };

static bool kdf_verified;

bool rampart_srtp_kdf_verified(void)
{
	return READ_ONCE(kdf_verified);
}

int rampart_srtp_selftest(void)
{
	struct crypto_sync_skcipher *kdf;
	u8 *buf;
	int ret;

	buf = kzalloc(32, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	kdf = crypto_alloc_sync_skcipher("ctr(aes)", 0, 0);
	if (IS_ERR(kdf)) {
		kfree(buf);
		return PTR_ERR(kdf);
	}
	ret = crypto_sync_skcipher_setkey(kdf, b3_key, sizeof(b3_key));
	if (!ret)
		ret = prf(kdf, b3_salt, 14, LABEL_RTP_ENC, buf, 16);
	if (!ret && memcmp(buf, b3_enc, 16))
		ret = -EBADMSG;
	if (!ret)
		ret = prf(kdf, b3_salt, 14, LABEL_RTP_SALT, buf, 14);
	if (!ret && memcmp(buf, b3_ssalt, 14))
		ret = -EBADMSG;
	if (!ret)
		ret = prf(kdf, b3_salt, 14, LABEL_RTP_AUTH, buf, 20);
	if (!ret && memcmp(buf, b3_auth, 20))
		ret = -EBADMSG;
	crypto_free_sync_skcipher(kdf);
	kfree_sensitive(buf);
	WRITE_ONCE(kdf_verified, ret == 0);
	return ret;
}
