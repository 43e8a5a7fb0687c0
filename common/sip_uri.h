/* sip_uri: zero-copy parser for sip:, sips: and tel: URIs (RFC 3261 §19.1
 * and §25, RFC 3966), plus the character classes the rest of the SIP codec
 * shares.
 *
 * Every rp_str in a struct sip_uri points into the string given to
 * sip_uri_parse(); nothing is allocated, nothing needs freeing. Escapes are
 * validated but kept as they are; sip_unescape() decodes a slice on demand.
 */
#ifndef SIP_URI_H
#define SIP_URI_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_str.h"
#include "sip_err.h"

/* Character classes of RFC 3261 §25 (one bit each; see sip_uri.c). */
enum {
	SIP_C_DIGIT = 1 << 0,
	SIP_C_ALPHA = 1 << 1,
	SIP_C_HEX = 1 << 2,
	SIP_C_TOKEN = 1 << 3,   /* token */
	SIP_C_UNRES = 1 << 4,   /* unreserved */
	SIP_C_USER = 1 << 5,    /* unreserved / user-unreserved */
	SIP_C_PASS = 1 << 6,    /* password chars except escapes */
	SIP_C_PARAM = 1 << 7,   /* paramchar except escapes */
	SIP_C_HNV = 1 << 8,     /* hname/hvalue chars except escapes */
	SIP_C_WORD = 1 << 9,    /* word (Call-ID) */
	SIP_C_HOST = 1 << 10,   /* alphanum / "-" / "." */
	SIP_C_SCHEME = 1 << 11, /* alphanum / "+" / "-" / "." */
	SIP_C_TEL = 1 << 12,    /* lenient tel: subscriber chars */
};
extern const uint16_t sip_ctab[256];

static inline bool sip_cis(char c, unsigned cls)
{
	return (sip_ctab[(unsigned char)c] & cls) != 0;
}

/* ASCII case-insensitive compare of s with a lower-case literal of length
 * n (cheaper than strncasecmp for the short names parsers look for). */
static inline bool sip_lit_caseeq(rp_str s, const char *lit, size_t n)
{
	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if ((unsigned)(c - 'A') < 26u)
			c = (unsigned char)(c + 32);
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}
#define SIP_LIT_CASEEQ(s, lit) sip_lit_caseeq((s), (lit), sizeof(lit) - 1)

enum sip_scheme {
	SIP_SCHEME_SIP,
	SIP_SCHEME_SIPS,
	SIP_SCHEME_TEL,
	SIP_SCHEME_OTHER, /* absoluteURI we do not know: kept opaque */
};

enum sip_host_type {
	SIP_HOST_NONE, /* tel: and opaque URIs */
	SIP_HOST_FQDN,
	SIP_HOST_IPV4,
	SIP_HOST_IPV6, /* 'host' is without the brackets */
};

struct sip_uri {
	rp_str raw;            /* the whole URI */
	enum sip_scheme scheme;
	rp_str scheme_str;
	rp_str user;           /* sip/sips user, tel number; escapes kept */
	rp_str password;
	bool has_userinfo;     /* an '@' was there */
	bool has_password;
	rp_str host;           /* IPv6 without [] */
	rp_str hostport;       /* as written, [] included */
	enum sip_host_type host_type;
	uint16_t port;         /* 0 when absent */
	bool has_port;
	rp_str params;         /* ";a=b;lr" after hostport (tel: after number), ';' included; empty if none */
	rp_str headers;        /* "a=b&c=d" after '?', '?' excluded */
	bool has_headers;
	rp_str opaque;         /* SIP_SCHEME_OTHER: all after "scheme:" */
	/* Well-known parameters, found while validating the list. */
	rp_str transport, maddr, user_param, method, ttl_str;
	int ttl;               /* -1 when absent */
	bool lr, secure;
};

/* Parses one URI that is exactly 's' (no surrounding LWS or <>). Returns
 * SIP_OK or SIP_E_BAD_URI with err->off relative to s.p. 'out' is written
 * only on success. */
enum sip_err sip_uri_parse(rp_str s, struct sip_uri *out, struct sip_perr *err);
/* Same, parsing straight into *out (no copy); *out is unspecified on
 * failure. For parsers that fill a larger struct they own. */
enum sip_err sip_uri_parse_into(rp_str s, struct sip_uri *out, struct sip_perr *err);

/* Validates host [":" port] (Via sent-by and URI hostport). */
enum sip_err sip_hostport_parse(rp_str s, rp_str *host, enum sip_host_type *type,
				uint16_t *port, bool *has_port, size_t *erroff);

/* Address checks (IPv6 without the brackets). */
bool sip_ipv4_valid(rp_str s);
bool sip_ipv6_valid(rp_str s);

/* Iterates ';'-separated URI parameters. '*it' starts as the params slice
 * (uri->params); returns false at the end. 'value' is empty when absent. */
bool sip_uri_param_next(rp_str *it, rp_str *name, rp_str *value);
/* Finds the URI parameter 'name' (case-insensitive) in a params slice. */
bool sip_uri_param_find(rp_str params, const char *name, rp_str *value);
/* Iterates '&'-separated URI headers (uri->headers). */
bool sip_uri_header_next(rp_str *it, rp_str *name, rp_str *value);

/* Decodes %HH escapes of 'in' into 'out' (no NUL added). Returns the decoded
 * length, -EINVAL on a bad escape, -ENOSPC if 'outsz' is too small. */
long sip_unescape(rp_str in, char *out, size_t outsz);

/* Compares two URI parts as RFC 3261 §19.1.4 does for user/password:
 * escapes decoded, case-sensitive. */
bool sip_uri_part_eq(rp_str a, rp_str b);

#endif
