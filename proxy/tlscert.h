/* tlscert: reading and checking certificate files, without TLS.
 *
 * Used where a certificate is loaded (proxy/tls.c) to describe it
 * (tls.cert.show) and, before a staged certificate may replace one in use,
 * to validate it: the chain parses, is in order and verifies against the
 * configured CAs, the leaf is inside its validity period and carries the
 * names it must serve. Everything here is pure functions over buffers the
 * caller owns; no state, thread-safe.
 */
#ifndef RP_TLSCERT_H
#define RP_TLSCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_TLSCERT_MAX_SANS 16
#define RP_TLSCERT_MAX_CHAIN 8

/* One certificate as an operator reads it. Plain data (copyable). */
struct rp_tls_cert_info {
	char subject[336];        /* "/O=Rampart Test/CN=sip.test.example" */
	char issuer[336];
	char serial[100];         /* hex bytes joined by ':' */
	char not_before[24];      /* "2026-11-22T00:34:30Z" */
	char not_after[24];
	int64_t not_before_s;     /* Unix seconds */
	int64_t not_after_s;
	char key_type[24];        /* "ECDSA P-256", "RSA 2048", "Ed25519" */
	char sans[RP_TLSCERT_MAX_SANS][160]; /* "DNS:x", "URI:sip:x", "IP:1.2.3.4" */
	size_t n_sans;
	char cn[160];             /* subject CN, "" if none */
	unsigned chain_len;       /* certificates in the PEM, leaf included */
};

/* Reads cert_file and, if chain_file is not NULL, appends chain_file
 * (intermediates) to it. *pem is malloc'd, NUL-terminated; the caller
 * frees it. 0 or -errno with a reason in err. */
int rp_tlscert_read_pem(const char *cert_file, const char *chain_file,
	unsigned char **pem, size_t *len, char *err, size_t errlen);

/* Describes the first certificate of a PEM chain (and counts the chain).
 * 0, or -EINVAL with a reason in err ("no certificate", "not a
 * certificate: ..."). */
int rp_tlscert_info(const unsigned char *pem, size_t len,
	struct rp_tls_cert_info *out, char *err, size_t errlen);

/* Verifies the chain: every certificate is signed by the next one and the
 * last is signed by (or is) a CA from ca_file / ca_dir. Without CAs only
 * the order and signatures inside the chain are checked. 'how' says what
 * was checked ("against ca_file X", "internal order only"). 0 or -EINVAL
 * with a reason in err. */
int rp_tlscert_verify_chain(const unsigned char *pem, size_t len,
	const char *ca_file, const char *ca_dir, char *how, size_t howlen,
	char *err, size_t errlen);

/* 0 when now (Unix seconds) is inside [not_before, not_after]; else
 * -EKEYEXPIRED ("expired on ...") or -EINVAL ("not valid before ..."). */
int rp_tlscert_check_dates(const struct rp_tls_cert_info *ci, int64_t now,
	char *err, size_t errlen);

/* Does the certificate serve 'name' (an SNI host name, or a configured
 * "*.example.net")? DNS SANs, a leftmost "*" label matching exactly one
 * label; the CN only when there are no DNS SANs. */
bool rp_tlscert_covers(const struct rp_tls_cert_info *ci, const char *name);

#endif
