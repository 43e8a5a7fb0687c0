/* sdes: the SDP crypto attribute of RFC 4568 (SDES-SRTP), with the AEAD
 * suites of RFC 7714.
 *
 *   a=crypto:<tag> <suite> <key-params> [<session-param> ...]
 *   key-params  = key-param *(";" key-param)
 *   key-param   = "inline:" base64(key || salt) ["|" lifetime] ["|" MKI ":" len]
 *
 * sdes_parse() takes the attribute value (what follows "a=crypto:") and
 * decodes it into a caller-provided struct sdes_crypto. That struct holds
 * the decoded master keys, so:
 *
 *   Ownership / wiping: struct sdes_crypto (and struct sdes_key inside it)
 *   is plain caller memory, usually on the stack. The CALLER wipes it with
 *   sdes_crypto_wipe() (or a single key with sdes_key_wipe()) as soon as it
 *   has handed the key on, and before the memory is reused or freed. The
 *   functions here wipe whatever they wrote when they fail, and wipe their
 *   own temporaries (e.g. the base64 text of a key) before returning.
 *
 * The only slices into the input are the unknown session parameters
 * (sdes_crypto.unknown[]): they are valid as long as the parsed buffer.
 *
 * Suite names are matched case-sensitively (RFC 4568 tokens); the aliases
 * AES_CM_192_HMAC_SHA1_* and AES_CM_256_HMAC_SHA1_* that some peers send
 * are accepted. sdes_format() always writes the RFC spelling and padded
 * base64.
 */
#ifndef SDES_H
#define SDES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"

struct rp_rand_pool;

/* The first ten values are in the same order as mediad's enum msrtp_suite,
 * so a supported suite converts by value. */
enum sdes_suite {
	SDES_AES_CM_128_HMAC_SHA1_80,
	SDES_AES_CM_128_HMAC_SHA1_32,
	SDES_AES_192_CM_HMAC_SHA1_80,
	SDES_AES_192_CM_HMAC_SHA1_32,
	SDES_AES_256_CM_HMAC_SHA1_80,
	SDES_AES_256_CM_HMAC_SHA1_32,
	SDES_AEAD_AES_128_GCM,
	SDES_AEAD_AES_256_GCM,
	SDES_NULL_HMAC_SHA1_80,      /* authentication only, no encryption */
	SDES_NULL_HMAC_SHA1_32,
	SDES_F8_128_HMAC_SHA1_80,    /* parsed, not supported for media */
	SDES_SUITE_COUNT
};

/* Static facts about one suite. */
struct sdes_suite_info {
	const char *name;      /* RFC spelling */
	enum sdes_suite suite;
	uint8_t key_len;       /* master key bytes */
	uint8_t salt_len;      /* master salt bytes */
	uint8_t srtp_tag_len;  /* authentication tag bytes on SRTP */
	uint8_t srtcp_tag_len; /* authentication tag bytes on SRTCP */
	bool aead;             /* RFC 7714 GCM */
	bool encrypts;         /* false for the NULL suites */
	bool supported;        /* mediad can run it (F8: no) */
};

/* NULL if s is out of range. */
const struct sdes_suite_info *sdes_suite_info(enum sdes_suite s);
/* RFC spelling, or "?" if s is out of range. */
const char *sdes_suite_name(enum sdes_suite s);
/* Name (RFC spelling or alias) to suite: 0, or -ENOENT if unknown. */
int sdes_suite_from_name(rp_str name, enum sdes_suite *out);
/* 0 if s is out of range. */
size_t sdes_suite_key_len(enum sdes_suite s);
size_t sdes_suite_salt_len(enum sdes_suite s);

#define SDES_MAX_KEY_SALT 46 /* 32-byte key + 14-byte salt */
#define SDES_MAX_KEYS 8      /* key-params per attribute (and per FEC_KEY) */
#define SDES_MAX_UNKNOWN 8   /* unknown session parameters kept */
#define SDES_TAG_MAX 999999999u
#define SDES_MKI_LEN_MAX 128

enum sdes_lifetime_form {
	SDES_LIFETIME_NONE,    /* not given: the SRTP default applies */
	SDES_LIFETIME_POW2,    /* "2^n": lifetime_exp = n */
	SDES_LIFETIME_DECIMAL, /* lifetime = the number */
};

/* One key-param. key_salt holds the master key followed by the salt. */
struct sdes_key {
	uint8_t key_salt[SDES_MAX_KEY_SALT];
	uint8_t key_salt_len;
	enum sdes_lifetime_form lifetime_form;
	uint8_t lifetime_exp;  /* POW2: 0..64 */
	uint64_t lifetime;     /* DECIMAL */
	bool has_mki;
	uint8_t mki_len;       /* 1..128 bytes */
	uint64_t mki;          /* value; must fit in mki_len bytes */
};

enum sdes_fec_order {
	SDES_FEC_ORDER_NONE,
	SDES_FEC_SRTP, /* FEC then SRTP (the default) */
	SDES_SRTP_FEC,
};

struct sdes_crypto {
	uint32_t tag;                      /* 0..999999999 (1*9DIGIT) */
	enum sdes_suite suite;
	unsigned n_keys;                   /* 1..SDES_MAX_KEYS */
	struct sdes_key keys[SDES_MAX_KEYS];

	/* Session parameters; has_* false when absent. */
	bool has_kdr;
	uint8_t kdr;                       /* KDR=n, 0..24 (rate 2^n) */
	bool unencrypted_srtp;
	bool unencrypted_srtcp;
	bool unauthenticated_srtp;
	enum sdes_fec_order fec_order;
	unsigned n_fec_keys;               /* FEC_KEY=key-params */
	struct sdes_key fec_keys[SDES_MAX_KEYS];
	bool has_wsh;
	uint32_t wsh;                      /* WSH=n, >= 64 */

	/* Session parameters this code does not know, verbatim (slices into
	 * the parsed buffer). RFC 4568 §6.3 lets a receiver decide what to do
	 * with them; the proxy's policy decides, this codec only reports. */
	unsigned n_unknown;
	rp_str unknown[SDES_MAX_UNKNOWN];
};

enum sdes_result {
	SDES_OK = 0,
	SDES_E_SYNTAX = -1,        /* missing field, bad separator, empty */
	SDES_E_TAG = -2,           /* not 1..9 digits / out of range */
	SDES_E_SUITE = -3,         /* unknown crypto-suite (RFC: ignore line) */
	SDES_E_KEY_METHOD = -4,    /* not "inline:" */
	SDES_E_BASE64 = -5,        /* bad base64 in the key */
	SDES_E_KEY_LEN = -6,       /* decoded length != key_len + salt_len */
	SDES_E_LIFETIME = -7,      /* bad lifetime */
	SDES_E_MKI = -8,           /* bad MKI, or lengths differ between keys */
	SDES_E_SESSION_PARAM = -9, /* known session parameter, bad value */
	SDES_E_TOO_MANY = -10,     /* > SDES_MAX_KEYS keys or > SDES_MAX_UNKNOWN */
	SDES_E_SPACE = -11,        /* output buffer too small */
	SDES_E_UNSUPPORTED = -12,  /* asked to generate an unsupported suite */
	SDES_E_RAND = -13,         /* the CSPRNG failed */
	SDES_E_INVAL = -14,        /* bad argument */
};

const char *sdes_strerror(int rc);

/* Parses an attribute value ("1 AES_CM_128_HMAC_SHA1_80 inline:..."),
 * without the "a=crypto:" prefix. Fields are separated by one or more
 * SP/HTAB; leading and trailing whitespace is ignored. Returns SDES_OK, or
 * an sdes_result with *err_off (if not NULL) set to the offset in 'value'
 * of the offending field. On failure *out is wiped. */
int sdes_parse(rp_str value, struct sdes_crypto *out, size_t *err_off);

/* Writes the attribute value (no "a=crypto:", no CRLF, no NUL) into buf.
 * Returns SDES_OK with *outlen set, SDES_E_SPACE, or SDES_E_INVAL for a
 * struct that would not parse back (bad tag, suite, key length). The
 * unknown session parameters are written back verbatim. Worst-case length
 * is bounded by SDES_FORMAT_MAX only when n_unknown == 0. */
int sdes_format(const struct sdes_crypto *c, char *buf, size_t cap,
	size_t *outlen);
#define SDES_FORMAT_MAX 2048

/* Sets *out to a fresh attribute: 'tag', 'suite', one key-param with a new
 * random key and salt, no lifetime, MKI or session parameters. Randomness
 * comes from 'pool' (NULL: getrandom directly). Returns SDES_OK,
 * SDES_E_TAG, SDES_E_UNSUPPORTED, or SDES_E_RAND (then *out is wiped).
 * The caller wipes *out with sdes_crypto_wipe() when done. */
int sdes_generate(uint32_t tag, enum sdes_suite suite,
	struct rp_rand_pool *pool, struct sdes_crypto *out);

/* Master key / salt of one key-param (pointers into k; lengths from the
 * suite table). */
static inline const uint8_t *sdes_key_master(const struct sdes_key *k)
{
	return k->key_salt;
}
const uint8_t *sdes_key_salt(const struct sdes_key *k, enum sdes_suite s);

/* A key-param's lifetime in packets: 0 when none is given (the suite's
 * default applies), 2^n for "2^n" (UINT64_MAX for n >= 64), else the
 * decimal number. */
uint64_t sdes_key_lifetime(const struct sdes_key *k);
/* RFC 3711 section 9.2 / RFC 4568 section 6.2: an SRTP master key may
 * protect at most 2^48 SRTP packets (and 2^31 SRTCP packets). */
#define SDES_LIFETIME_MAX (UINT64_C(1) << 48)

/* explicit_bzero of the whole struct. */
void sdes_key_wipe(struct sdes_key *k);
void sdes_crypto_wipe(struct sdes_crypto *c);

#endif
