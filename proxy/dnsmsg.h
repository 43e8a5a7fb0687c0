#ifndef RP_DNSMSG_H
#define RP_DNSMSG_H

/* DNS messages: the queries the resolver sends (dns.h) and a defensive
 * parser of the answers, the records the proxy needs for RFC 3263 only
 * (A, AAAA, SRV, NAPTR; CNAME chains inside one answer are followed).
 * Pure functions of their input, no state: fuzzed (tests/fuzz/fuzz_dns.c).
 * Parsing uses libresolv (ns_initparse, ns_parserr, ns_name_uncompress). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rp_dns_type {
	RP_DNS_A = 1,
	RP_DNS_CNAME = 5,
	RP_DNS_SOA = 6,
	RP_DNS_AAAA = 28,
	RP_DNS_SRV = 33,
	RP_DNS_NAPTR = 35,
};

#define RP_DNS_NAME_MAX 256     /* presentation form with its NUL */
#define RP_DNS_MAX_RR 16        /* records kept from one answer */
#define RP_DNS_QUERY_MAX 300

struct rp_dns_srv {
	uint16_t prio, weight, port;
	char target[RP_DNS_NAME_MAX];   /* "." (empty here): no service */
};

struct rp_dns_naptr {
	uint16_t order, pref;
	char flags[16];                 /* lower case */
	char service[32];               /* lower case, e.g. "sip+d2u" */
	char repl[RP_DNS_NAME_MAX];
};

struct rp_dns_rr {
	uint16_t type;
	uint32_t ttl;
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct rp_dns_srv srv;
		struct rp_dns_naptr naptr;
	} u;
};

enum rp_dns_status {
	RP_DNS_OK,          /* records of the type asked for: rr[0..n) */
	RP_DNS_NODATA,      /* the name exists, no record of that type */
	RP_DNS_NXDOMAIN,    /* the name does not exist */
	RP_DNS_SERVFAIL,    /* the server could not answer (any other rcode) */
};

struct rp_dns_answer {
	enum rp_dns_status status;
	bool truncated;                 /* TC: a partial answer */
	/* OK: the smallest TTL of the records kept (and of the CNAMEs that
	 * led to them); NODATA/NXDOMAIN: the negative TTL of RFC 2308 §5
	 * (min of the SOA's TTL and MINIMUM), UINT32_MAX without an SOA. */
	uint32_t ttl;
	unsigned n;
	struct rp_dns_rr rr[RP_DNS_MAX_RR];
};

/* Writes a query for (name, type) with id, recursion desired and an EDNS0
 * OPT record (1232-byte UDP payload) into buf. name: presentation form, a
 * trailing dot allowed. Returns its length, or -EINVAL (bad name) or
 * -ENOSPC. */
int rp_dnsmsg_query(const char *name, uint16_t type, uint16_t id, uint8_t *buf, size_t cap);

/* Parses a response to (qname, qtype) sent with id. Returns 0 and fills
 * *out, or -EBADMSG (malformed, not a response, another id or question).
 * Records of other names or types are ignored; at most RP_DNS_MAX_RR are
 * kept. Never reads outside msg[0..len). */
int rp_dnsmsg_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname,
	uint16_t qtype, struct rp_dns_answer *out);

/* Case-insensitive comparison of two names in presentation form, a
 * trailing dot ignored. */
bool rp_dnsmsg_name_eq(const char *a, const char *b);

#endif
