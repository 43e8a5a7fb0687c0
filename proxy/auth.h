/* auth: SIP digest authentication (RFC 3261 §22, RFC 2617 qop=auth,
 * RFC 7616 / RFC 8760 SHA-256), server and client side.
 *
 * Server: rp_auth_challenge() writes the WWW-Authenticate (401, REGISTER) or
 * Proxy-Authenticate (407, everything else) header lines, SHA-256 first and
 * MD5 second as RFC 8760 §2.4 asks. Nonces are stateless: base64 of a
 * timestamp (the caller's rp_now_ms() clock), a random salt and an
 * HMAC-SHA256 over both and the realm, keyed with a per-process random
 * secret. rp_auth_verify() checks the request's credentials against the
 * config's users and trunks' inbound digest (stored HA1 only, never a
 * password): realm, nonce MAC and age (stale), uri against the Request-URI,
 * response (constant-time), and nc replay in a bounded per-nonce window.
 *
 * Client: rp_auth_client_pick() chooses the best challenge of a carrier's
 * 401/407 (SHA-256 before MD5), rp_auth_client_authorize() builds the
 * Authorization / Proxy-Authorization value, counting nc per nonce.
 *
 * Thread safety: one rp_auth is shared by all workers; verify and challenge
 * may run concurrently (the nc table is locked per shard).
 */
#ifndef RP_AUTH_H
#define RP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_prog.h"
#include "rp_str.h"
#include "sip_msg.h"

enum rp_digest_alg {
	RP_DIGEST_MD5 = 0,
	RP_DIGEST_SHA256,
	RP_DIGEST_MD5_SESS,     /* client side only */
	RP_DIGEST_SHA256_SESS,  /* client side only */
	RP_DIGEST_UNKNOWN,
};

/* "MD5", "SHA-256", "MD5-sess", "SHA-256-sess", "unknown". */
const char *rp_digest_alg_name(enum rp_digest_alg a);
/* Hex digits of a hash of the algorithm: 32 or 64 (0 for unknown). */
size_t rp_digest_hex_len(enum rp_digest_alg a);

#define RP_DIGEST_HEX_MAX 64

/* HA1 = H(user:realm:password) as lowercase hex + NUL into out[65].
 * Returns 0, -EINVAL (unknown/sess algorithm) or -EIO (libcrypto failed). */
int rp_digest_ha1(enum rp_digest_alg alg, rp_str user, rp_str realm,
	rp_str password, char out[RP_DIGEST_HEX_MAX + 1]);

/* The request-digest of RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1 from HA1 (hex,
 * of the session algorithm's base hash for -sess: this function derives
 * the session HA1 itself). qop empty: the RFC 2069 form without nc/cnonce.
 * Only qop "auth" (or none) is supported: -ENOTSUP for others. Writes
 * lowercase hex + NUL to out[65]. Returns 0 or a negative errno. */
int rp_digest_response(enum rp_digest_alg alg, rp_str ha1_hex, rp_str method,
	rp_str uri, rp_str nonce, rp_str nc, rp_str cnonce, rp_str qop,
	char out[RP_DIGEST_HEX_MAX + 1]);

/* Parameters of one Digest challenge or credentials header value. Every
 * slice points into the parsed value; quoted values are given without the
 * quotes, with any backslash escapes still in (see rp_digest_unquote). */
struct rp_digest_params {
	rp_str username, realm, nonce, uri, response, algorithm, cnonce,
		opaque, qop, nc, stale, domain, userhash;
	bool has_username, has_realm, has_nonce, has_uri, has_response,
		has_algorithm, has_cnonce, has_opaque, has_qop, has_nc;
	bool escaped; /* some quoted value had a backslash escape */
};

/* Parses `Digest auth-param *("," auth-param)` (scheme case-insensitive,
 * LWS anywhere it is allowed, unknown params skipped, a param twice is an
 * error). Returns 0, or -EINVAL with *err_off (may be NULL) set to the
 * offset into 'v' where parsing failed, or -ENOTSUP if the scheme is not
 * Digest. Writes *out only on success. */
int rp_digest_parse(rp_str v, struct rp_digest_params *out, size_t *err_off);

/* Copies a quoted-string's content with its escapes removed into dst (with
 * a NUL). Returns the length, or -ENOSPC. */
long rp_digest_unquote(rp_str s, char *dst, size_t dstsz);

/* ---- server side ---- */

enum rp_auth_result {
	RP_AUTH_OK = 0,
	RP_AUTH_NO_CREDENTIALS,  /* no Authorization / Proxy-Authorization: challenge */
	RP_AUTH_WRONG_REALM,     /* credentials only for other realms: challenge */
	RP_AUTH_MALFORMED,       /* unparsable or missing a required param: 400 */
	RP_AUTH_UNKNOWN_ALGORITHM, /* not MD5 / SHA-256: challenge */
	RP_AUTH_BAD_QOP,         /* qop missing or not "auth": challenge */
	RP_AUTH_UNKNOWN_USER,    /* no such user in the realm: 403 */
	RP_AUTH_BAD_NONCE,       /* not one of ours (tampered, other process): challenge */
	RP_AUTH_STALE_NONCE,     /* ours but expired or its nc state lost: challenge with stale=true */
	RP_AUTH_NC_REPLAY,       /* nc already seen for this nonce: challenge */
	RP_AUTH_BAD_OPAQUE,      /* opaque given and not ours: challenge */
	RP_AUTH_URI_MISMATCH,    /* uri param is not the Request-URI: 400 */
	RP_AUTH_BAD_RESPONSE,    /* wrong password: 403 */
	RP_AUTH_NO_HASH,         /* user has no HA1 for this algorithm: challenge */
	RP_AUTH_INTERNAL,        /* crypto or memory failure: 500 */
	RP_AUTH__COUNT
};

/* "ok", "missing credentials", "bad response", ...: for log lines. */
const char *rp_auth_result_name(enum rp_auth_result r);
/* The reply the core sends for a failure: 401 (REGISTER) / 407 (others)
 * with a new challenge for the "challenge" results above, 403, 400 or 500.
 * 0 for RP_AUTH_OK. */
unsigned rp_auth_result_status(enum rp_auth_result r, bool is_register);
/* The reason phrase for a 400 that names the problem ("Malformed
 * Credentials", "Digest URI Mismatch"), or NULL for the default phrase. */
const char *rp_auth_result_reason(enum rp_auth_result r);
/* True if the reply should carry stale=true (RP_AUTH_STALE_NONCE). */
static inline bool rp_auth_result_stale(enum rp_auth_result r)
{
	return r == RP_AUTH_STALE_NONCE;
}

struct rp_auth_opts {
	uint32_t nonce_ttl_s;     /* nonce lifetime; 0 = 300 s */
	uint32_t nc_slots;        /* nonces whose nc state is kept; 0 = 16384 */
};

typedef struct rp_auth rp_auth;

/* Creates the server side with a fresh random secret (rp_rand). opts may be
 * NULL. Returns 0, -ENOMEM or the rp_rand error. Free with rp_auth_free(). */
int rp_auth_new(const struct rp_auth_opts *opts, rp_auth **out);
/* Wipes the secret and frees (NULL ok). Returns NULL. */
rp_auth *rp_auth_free(rp_auth *a);

/* Writes the challenge header lines, CRLF-terminated, into buf:
 *   WWW-Authenticate: Digest realm="r", nonce="...", opaque="...",
 *     algorithm=SHA-256, qop="auth"[, stale=true]
 *   WWW-Authenticate: Digest ... algorithm=MD5 ...
 * (Proxy-Authenticate when 'proxy'). now_ms is on the rp_now_ms() clock.
 * Returns 0 with *outlen set, -EINVAL (realm with '"', '\\', CR or LF),
 * -ENOSPC (512 bytes plus twice the realm are always enough), -EIO. */
int rp_auth_challenge(rp_auth *a, rp_str realm, bool proxy, bool stale,
	uint64_t now_ms, char *buf, size_t bufsz, size_t *outlen);

/* Algorithms a challenge offers (bit set). */
enum {
	RP_AUTH_OFFER_SHA256 = 1 << 0,
	RP_AUTH_OFFER_MD5 = 1 << 1,
	RP_AUTH_OFFER_ALL = RP_AUTH_OFFER_SHA256 | RP_AUTH_OFFER_MD5,
};

/* rp_auth_challenge() offering only the algorithms in 'offer' (SHA-256
 * still first). After RP_AUTH_NO_HASH, pass info.offer: a UA that prefers
 * SHA-256 for an account with only an MD5 HA1 would otherwise be sent the
 * same two challenges again and again. offer 0 means all. */
int rp_auth_challenge_offer(rp_auth *a, rp_str realm, bool proxy, bool stale,
	unsigned offer, uint64_t now_ms, char *buf, size_t bufsz, size_t *outlen);

/* What rp_auth_verify() found, for the log line and the core. */
struct rp_auth_info {
	rp_str username;               /* slice into the message; may be empty */
	enum rp_digest_alg alg;
	const struct cfg_user *user;   /* the account that matched, or NULL */
	const struct cfg_trunk *trunk; /* or the trunk whose inbound digest matched */
	size_t err_off;                /* RP_AUTH_MALFORMED: offset in the message */
	unsigned offer;                /* RP_AUTH_OFFER_* the account has a HA1 for
	                                * (0 when no account was found) */
};

/* Checks the request's Authorization (or Proxy-Authorization when 'proxy')
 * credentials for 'realm' against cfg's users (cfg_user_find) and then the
 * trunks' inbound digest (auth_user/auth_realm). Headers for other realms
 * are skipped (RFC 3261 §22.3). A successful check records the nc, so the
 * same credentials are refused the second time (RP_AUTH_NC_REPLAY).
 * 'info' may be NULL. */
enum rp_auth_result rp_auth_verify(rp_auth *a, const struct sip_msg *m,
	rp_str realm, bool proxy, const struct cfg *cfg, uint64_t now_ms,
	struct rp_auth_info *info);

/* The same for one header value (tests, or a core that found the header
 * itself): 'method' and 'ruri' of the request. info->err_off is relative
 * to 'value'. */
enum rp_auth_result rp_auth_verify_value(rp_auth *a, rp_str value,
	rp_str method, rp_str ruri, rp_str realm, const struct cfg *cfg,
	uint64_t now_ms, struct rp_auth_info *info);

/* ---- client side (outbound trunks) ---- */

#define RP_AUTH_CLIENT_STR 256

/* A copied challenge plus the nc counter for its nonce. Plain data: keep
 * one per trunk/request; rp_auth_client_wipe() before dropping it. */
struct rp_auth_client {
	enum rp_digest_alg alg;
	bool proxy;        /* from Proxy-Authenticate: answer Proxy-Authorization */
	bool qop_auth;     /* challenge offered qop=auth (else RFC 2069 form) */
	bool has_opaque;
	uint32_t nc;       /* last nc sent for this nonce */
	char realm[RP_AUTH_CLIENT_STR];
	char nonce[RP_AUTH_CLIENT_STR];
	char opaque[RP_AUTH_CLIENT_STR];
	char cnonce[65];   /* the last one sent */
};

/* Picks the best Digest challenge of a 401 / 407 response (WWW-Authenticate
 * and Proxy-Authenticate headers; SHA-256 preferred, then MD5, -sess
 * variants after those; qop must offer "auth" if present) and copies it
 * into *c with nc = 0. Returns 0, -ENOENT (no usable challenge; -ENOTSUP
 * when only unsupported algorithms or qop=auth-int were offered), -EINVAL
 * (malformed), -ENAMETOOLONG (a value over 255 bytes). */
int rp_auth_client_pick(const struct sip_msg *resp, struct rp_auth_client *c);

/* Same from one header value. */
int rp_auth_client_set(struct rp_auth_client *c, rp_str value, bool proxy);

/* Credentials: a password, or a stored HA1 for the challenge's algorithm. */
struct rp_auth_creds {
	const char *username;
	const char *password;   /* or NULL */
	const char *ha1_md5;    /* hex, or NULL */
	const char *ha1_sha256; /* hex, or NULL */
};

/* Builds the credentials value (without the header name; the name is
 * "Proxy-Authorization" when c->proxy, else "Authorization") for one
 * request: increments c->nc, draws a fresh cnonce from rp_rand (or uses
 * 'cnonce' when not NULL: for test vectors). Returns 0 with *outlen, or
 * -EINVAL (no usable credentials for the algorithm, bad text), -ENOSPC,
 * -EOVERFLOW (nc exhausted), or the rp_rand error. */
int rp_auth_client_authorize(struct rp_auth_client *c,
	const struct rp_auth_creds *cr, rp_str method, rp_str uri,
	const char *cnonce, char *buf, size_t bufsz, size_t *outlen);

/* Wipes the copied challenge and derived key material. */
void rp_auth_client_wipe(struct rp_auth_client *c);

#endif
