#include "tlscert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/rsa.h>

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"
#define DER_MAX 16384

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int read_all(const char *path, unsigned char **buf, size_t *len, char *err,
	size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	size_t n = 0, cap = 0;

	if (!f) {
		int e = errno;

		seterr(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	for (;;) {
		size_t r;

		if (cap - n < 4096) {
			unsigned char *nb;

			if (cap > (1u << 20)) {
				fclose(f);
				free(b);
				seterr(err, errlen, "%s: larger than 1 MiB, not a certificate file", path);
				return -EFBIG;
			}
			nb = realloc(b, cap + 16384 + 1);
			if (!nb) {
				fclose(f);
				free(b);
				seterr(err, errlen, "out of memory");
				return -ENOMEM;
			}
			b = nb;
			cap += 16384;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(b);
		seterr(err, errlen, "%s: read error", path);
		return -EIO;
	}
	fclose(f);
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

int rp_tlscert_read_pem(const char *cert_file, const char *chain_file,
	unsigned char **pem, size_t *len, char *err, size_t errlen)
{
	unsigned char *a = NULL, *b = NULL, *all;
	size_t al = 0, bl = 0;
	int rc = read_all(cert_file, &a, &al, err, errlen);

	if (rc < 0)
		return rc;
	if (!chain_file) {
		*pem = a;
		*len = al;
		return 0;
	}
	rc = read_all(chain_file, &b, &bl, err, errlen);
	if (rc < 0) {
		free(a);
		return rc;
	}
	all = malloc(al + bl + 2);
	if (!all) {
		free(a);
		free(b);
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(all, a, al);
	/* The leaf file may not end with a newline. */
	all[al] = '\n';
	memcpy(all + al + 1, b, bl);
	all[al + 1 + bl] = 0;
	*pem = all;
	*len = al + 1 + bl;
	free(a);
	free(b);
	return 0;
}

/* The i-th PEM certificate block of buf as DER into der (DER_MAX bytes).
 * Returns the DER length, 0 when there is no such block, or -1 with err
 * set when the block does not decode. */
static int nth_der(const unsigned char *buf, size_t len, unsigned i, unsigned char *der,
	char *err, size_t errlen)
{
	const char *p = (const char *)buf, *end = (const char *)buf + len;

	for (unsigned k = 0;; k++) {
		const char *b = memmem(p, (size_t)(end - p), PEM_BEGIN, strlen(PEM_BEGIN));
		const char *e;
		int n;

		if (!b)
			return 0;
		e = memmem(b, (size_t)(end - b), PEM_END, strlen(PEM_END));
		if (!e) {
			seterr(err, errlen, "certificate %u: no '%s' line", k + 1, PEM_END);
			return -1;
		}
		e += strlen(PEM_END);
		if (k < i) {
			p = e;
			continue;
		}
		n = wc_CertPemToDer((const unsigned char *)b, (int)(e - b), der, DER_MAX,
			CERT_TYPE);
		if (n <= 0) {
			seterr(err, errlen, "certificate %u: bad PEM/base64 (%d)", k + 1, n);
			return -1;
		}
		return n;
	}
}

static unsigned count_pem(const unsigned char *buf, size_t len)
{
	const char *p = (const char *)buf, *end = (const char *)buf + len;
	unsigned n = 0;

	while ((p = memmem(p, (size_t)(end - p), PEM_BEGIN, strlen(PEM_BEGIN)))) {
		n++;
		p += strlen(PEM_BEGIN);
	}
	return n;
}

/* ASN.1 UTCTime "YYMMDDHHMMSSZ" or GeneralizedTime "YYYYMMDDHHMMSSZ"; the
 * pointer may include the tag and length bytes. */
static int64_t asn_time(const unsigned char *d, int len)
{
	char s[20];
	struct tm tm = { 0 };
	int off = 0;

	if (!d || len < 13)
		return INT64_MIN;
	if ((d[0] == 0x17 || d[0] == 0x18) && d[1] == len - 2) {
		d += 2;
		len -= 2;
	}
	if (len != 13 && len != 15)
		return INT64_MIN;
	memcpy(s, d, (size_t)len);
	s[len] = 0;
	for (int i = 0; i < len - 1; i++)
		if (s[i] < '0' || s[i] > '9')
			return INT64_MIN;
#define DIG2(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
	if (len == 13) {
		tm.tm_year = DIG2(0);
		if (tm.tm_year < 50) /* RFC 5280 4.1.2.5.1 */
			tm.tm_year += 100;
	} else {
		tm.tm_year = DIG2(0) * 100 + DIG2(2) - 1900;
		off = 2;
	}
	tm.tm_mon = DIG2(2 + off) - 1;
	tm.tm_mday = DIG2(4 + off);
	tm.tm_hour = DIG2(6 + off);
	tm.tm_min = DIG2(8 + off);
	tm.tm_sec = DIG2(10 + off);
#undef DIG2
	return (int64_t)timegm(&tm);
}

static void fmt_time(int64_t t, char *dst, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == INT64_MIN || !gmtime_r(&tt, &tm)) {
		snprintf(dst, n, "unknown");
		return;
	}
	strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void key_type(const DecodedCert *dc, char *dst, size_t n)
{
	switch (dc->keyOID) {
	case ECDSAk: {
		const char *curve = dc->pkCurveOID == ECC_SECP256R1_OID ? "P-256" :
			dc->pkCurveOID == ECC_SECP384R1_OID ? "P-384" :
			dc->pkCurveOID == ECC_SECP521R1_OID ? "P-521" : "other curve";

		snprintf(dst, n, "ECDSA %s", curve);
		return;
	}
	case RSAk:
	case RSAPSSk: {
		RsaKey rsa;
		word32 idx = 0;
		int bits = 0;

		if (wc_InitRsaKey(&rsa, NULL) == 0) {
			if (wc_RsaPublicKeyDecode(dc->publicKey, &idx, &rsa, dc->pubKeySize) == 0)
				bits = wc_RsaEncryptSize(&rsa) * 8;
			wc_FreeRsaKey(&rsa);
		}
		snprintf(dst, n, "%s %d", dc->keyOID == RSAk ? "RSA" : "RSA-PSS", bits);
		return;
	}
	case ED25519k:
		snprintf(dst, n, "Ed25519");
		return;
	default:
		snprintf(dst, n, "other (%u)", (unsigned)dc->keyOID);
	}
}

static void fill_info(const DecodedCert *dc, struct rp_tls_cert_info *o)
{
	size_t off = 0;

	snprintf(o->subject, sizeof(o->subject), "%s", dc->subject);
	snprintf(o->issuer, sizeof(o->issuer), "%s", dc->issuer);
	for (int i = 0; i < dc->serialSz && off + 4 < sizeof(o->serial); i++)
		off += (size_t)snprintf(o->serial + off, sizeof(o->serial) - off, "%s%02x",
			i ? ":" : "", dc->serial[i]);
	o->not_before_s = asn_time(dc->beforeDate, dc->beforeDateLen);
	o->not_after_s = asn_time(dc->afterDate, dc->afterDateLen);
	fmt_time(o->not_before_s, o->not_before, sizeof(o->not_before));
	fmt_time(o->not_after_s, o->not_after, sizeof(o->not_after));
	key_type(dc, o->key_type, sizeof(o->key_type));
	if (dc->subjectCN && dc->subjectCNLen > 0)
		snprintf(o->cn, sizeof(o->cn), "%.*s", dc->subjectCNLen, dc->subjectCN);
	for (const DNS_entry *e = dc->altNames; e && o->n_sans < RP_TLSCERT_MAX_SANS;
	     e = e->next) {
		char *s = o->sans[o->n_sans];

		if (e->type == ASN_DNS_TYPE)
			snprintf(s, sizeof(o->sans[0]), "DNS:%.*s", e->len, e->name);
		else if (e->type == ASN_URI_TYPE)
			snprintf(s, sizeof(o->sans[0]), "URI:%.*s", e->len, e->name);
		else if (e->type == ASN_IP_TYPE && e->ipString)
			snprintf(s, sizeof(o->sans[0]), "IP:%s", e->ipString);
		else
			continue;
		o->n_sans++;
	}
}

int rp_tlscert_info(const unsigned char *pem, size_t len,
	struct rp_tls_cert_info *out, char *err, size_t errlen)
{
	unsigned char *der = malloc(DER_MAX);
	DecodedCert dc;
	int n, rc;

	memset(out, 0, sizeof(*out));
	if (!der) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = nth_der(pem, len, 0, der, err, errlen);
	if (n <= 0) {
		if (n == 0)
			seterr(err, errlen, "no PEM certificate in the file");
		free(der);
		return -EINVAL;
	}
	wc_InitDecodedCert(&dc, der, (word32)n, NULL);
	rc = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
	if (rc == 0)
		fill_info(&dc, out);
	else
		seterr(err, errlen, "not a valid X.509 certificate: %s",
			wc_GetErrorString(rc));
	wc_FreeDecodedCert(&dc);
	free(der);
	if (rc != 0)
		return -EINVAL;
	out->chain_len = count_pem(pem, len);
	return 0;
}

int rp_tlscert_verify_chain(const unsigned char *pem, size_t len,
	const char *ca_file, const char *ca_dir, char *how, size_t howlen,
	char *err, size_t errlen)
{
	unsigned char *der[RP_TLSCERT_MAX_CHAIN] = { 0 };
	int dlen[RP_TLSCERT_MAX_CHAIN];
	unsigned n = count_pem(pem, len), first_ca;
	WOLFSSL_CERT_MANAGER *cm = NULL;
	int rc = -EINVAL, r;

	if (n == 0) {
		seterr(err, errlen, "no PEM certificate in the file");
		return -EINVAL;
	}
	if (n > RP_TLSCERT_MAX_CHAIN) {
		seterr(err, errlen, "chain of %u certificates (at most %d)", n,
			RP_TLSCERT_MAX_CHAIN);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		der[i] = malloc(DER_MAX);
		if (!der[i]) {
			seterr(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		dlen[i] = nth_der(pem, len, i, der[i], err, errlen);
		if (dlen[i] <= 0)
			goto out;
	}
	cm = wolfSSL_CertManagerNew();
	if (!cm) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (ca_file || ca_dir) {
		r = wolfSSL_CertManagerLoadCA(cm, ca_file, ca_dir);
		if (r != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "cannot load the configured CAs (%s%s%s): %s",
				ca_file ? ca_file : "", ca_file && ca_dir ? ", " : "",
				ca_dir ? ca_dir : "", wolfSSL_ERR_reason_error_string((unsigned long)r));
			goto out;
		}
		first_ca = n; /* every certificate of the chain must verify */
		seterr(how, howlen, "verified against %s%s%s", ca_file ? ca_file : "",
			ca_file && ca_dir ? " and " : "", ca_dir ? ca_dir : "");
	} else if (n > 1) {
		/* No trust anchor configured: the top of the chain stands in for
		 * one, which still proves the order and every signature below. */
		first_ca = n - 1;
		r = wolfSSL_CertManagerLoadCABuffer(cm, der[n - 1], dlen[n - 1],
			WOLFSSL_FILETYPE_ASN1);
		if (r != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "certificate %u of the chain is not a usable CA: %s", n,
				wolfSSL_ERR_reason_error_string((unsigned long)r));
			goto out;
		}
		seterr(how, howlen, "chain order and signatures only (no ca_file/ca_dir configured)");
	} else {
		seterr(how, howlen, "not verified (a single certificate and no ca_file/ca_dir configured)");
		rc = 0;
		goto out;
	}
	/* From the top down: each verified intermediate becomes a CA for the
	 * certificate below it. */
	for (unsigned i = first_ca; i-- > 0;) {
		r = wolfSSL_CertManagerVerifyBuffer(cm, der[i], dlen[i], WOLFSSL_FILETYPE_ASN1);
		if (r != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "chain does not verify at certificate %u (%s): %s", i + 1,
				i == 0 ? "the leaf" : "an intermediate",
				wolfSSL_ERR_reason_error_string((unsigned long)r));
			goto out;
		}
		if (i > 0 && wolfSSL_CertManagerLoadCABuffer(cm, der[i], dlen[i],
			    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
			seterr(err, errlen, "certificate %u of the chain is not a usable CA", i + 1);
			goto out;
		}
	}
	rc = 0;
out:
	if (cm)
		wolfSSL_CertManagerFree(cm);
	for (unsigned i = 0; i < n && i < RP_TLSCERT_MAX_CHAIN; i++)
		free(der[i]);
	return rc;
}

int rp_tlscert_check_dates(const struct rp_tls_cert_info *ci, int64_t now,
	char *err, size_t errlen)
{
	if (ci->not_after_s == INT64_MIN || ci->not_before_s == INT64_MIN) {
		seterr(err, errlen, "cannot read the validity dates");
		return -EINVAL;
	}
	if (now > ci->not_after_s) {
		seterr(err, errlen, "certificate expired on %s", ci->not_after);
		return -EKEYEXPIRED;
	}
	if (now < ci->not_before_s) {
		seterr(err, errlen, "certificate not valid before %s", ci->not_before);
		return -EINVAL;
	}
	return 0;
}

/* pat from the certificate, name asked for: '*' stands for one label. */
static bool dns_covers(const char *pat, const char *name)
{
	const char *dot;

	if (strcasecmp(pat, name) == 0)
		return true;
	if (strncmp(pat, "*.", 2) != 0 || strncmp(name, "*.", 2) == 0)
		return false;
	dot = strchr(name, '.');
	return dot && dot != name && strcasecmp(pat + 1, dot) == 0 &&
		strchr(pat + 2, '.') != NULL;
}

bool rp_tlscert_covers(const struct rp_tls_cert_info *ci, const char *name)
{
	bool any_dns = false;

	for (size_t i = 0; i < ci->n_sans; i++) {
		if (strncmp(ci->sans[i], "DNS:", 4) != 0)
			continue;
		any_dns = true;
		if (dns_covers(ci->sans[i] + 4, name))
			return true;
	}
	return !any_dns && ci->cn[0] && dns_covers(ci->cn, name);
}
