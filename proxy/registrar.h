/* registrar: the in-memory location service (RFC 3261 §10.3) with RFC 5626
 * flow data and NAT detection.
 *
 * rp_registrar_save() processes one parsed REGISTER: the AOR is the To URI,
 * Contact values (or '*' with Expires: 0), per-contact ;expires or the
 * Expires header or the default, ;q, the Call-ID/CSeq ordering of §10.3
 * step 7, min/max expires (423 with Min-Expires), a per-AOR contact limit
 * and a global binding limit. Every check is made before anything changes:
 * a REGISTER is applied whole or not at all.
 *
 * A binding keeps the contact URI, where the REGISTER came from (address,
 * transport, an opaque flow id naming the TCP/TLS connection, so requests
 * go back over it as RFC 5626 wants), Path, +sip.instance/reg-id,
 * User-Agent, Call-ID/CSeq, q, and its expiry on the caller's monotonic
 * millisecond clock (rp_now_ms()). "now" is always passed in, so tests and
 * the core control time.
 *
 * AOR normalisation (save and lookup alike): "sip:" user "@" host with the
 * user's %-escapes decoded and kept case-sensitive, the host lower-cased,
 * port and parameters dropped; sips: is the same AOR as sip: unless
 * opts.sips_distinct.
 *
 * Thread safety: every function may be called from any thread. The table is
 * sharded by a keyed SipHash of the AOR, one mutex per shard; results are
 * copied out (rp_reg_list), so nothing returned points into the table.
 */
#ifndef RP_REGISTRAR_H
#define RP_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_str.h"
#include "sip_msg.h"
#include "transport.h"

struct rp_reg_opts {
	uint32_t min_expires;      /* s; shorter non-zero requests get 423; 0 = 60 */
	uint32_t max_expires;      /* s; longer ones are cut; 0 = 3600 */
	uint32_t default_expires;  /* s; when the REGISTER names none; 0 = 3600 */
	unsigned max_contacts;     /* bindings per AOR; 0 = 10 */
	size_t max_bindings;       /* in the whole table; 0 = 1000000 */
	bool sips_distinct;        /* sips:alice@x is not sip:alice@x */
};

typedef struct rp_registrar rp_registrar;

/* Creates an empty table; opts may be NULL (defaults). Returns 0, -EINVAL
 * (min > max, default outside [min, max]), -ENOMEM or the rp_rand error.
 * Free with rp_registrar_free(). */
int rp_registrar_new(const struct rp_reg_opts *opts, rp_registrar **out);
/* Frees every binding and the table (NULL ok). Returns NULL. */
rp_registrar *rp_registrar_free(rp_registrar *r);
/* New expires limits (after a config reload); same checks as _new. */
int rp_registrar_set_expires(rp_registrar *r, uint32_t min_s, uint32_t max_s,
	uint32_t default_s);

/* Where the REGISTER came from. */
struct rp_reg_source {
	enum rp_tp tp;
	rp_addr addr;        /* source address and port */
	uint64_t flow_id;    /* the core's id of the TCP/TLS connection; 0 for UDP */
	/* The digest user that authenticated the REGISTER (rp_auth_info.username
	 * unquoted), or empty: when given, the To user must be this user
	 * (RFC 3261 §10.3 step 3), else RP_REG_FORBIDDEN. */
	rp_str auth_user;
};

enum rp_reg_result {
	RP_REG_OK = 0,             /* 200; contacts in the info */
	RP_REG_BAD_REQUEST,        /* 400: bad Contact, Expires, q, '*' misuse */
	RP_REG_BAD_AOR,            /* 416 (To is not sip:/sips:) or 400 */
	RP_REG_INTERVAL_TOO_BRIEF, /* 423 with Min-Expires: info.min_expires */
	RP_REG_OUT_OF_ORDER,       /* 500: same Call-ID, CSeq not higher (§10.3 7) */
	RP_REG_TOO_MANY_CONTACTS,  /* 403: over the per-AOR limit */
	RP_REG_TABLE_FULL,         /* 503: over the global limit */
	RP_REG_NOMEM,              /* 500 */
	RP_REG_FORBIDDEN,          /* 403: auth_user may not register this AOR */
	RP_REG__COUNT
};

const char *rp_reg_result_name(enum rp_reg_result r);
/* Status code and reason phrase for the reply. */
unsigned rp_reg_result_status(enum rp_reg_result r);
const char *rp_reg_result_reason(enum rp_reg_result r);

struct rp_reg_save_info {
	uint32_t min_expires;  /* for the 423's Min-Expires header */
	size_t err_off;        /* BAD_REQUEST/BAD_AOR: offset in the message */
	const char *reason;    /* BAD_REQUEST: a reason phrase naming what was
	                        * wrong ("Bad Contact Expires"), static; NULL
	                        * when rp_reg_result_reason() says it all */
	unsigned added, refreshed, removed; /* what the REGISTER did */
	unsigned bindings;     /* bindings of the AOR afterwards */
	size_t hdr_len;        /* bytes written to hdr_buf */
	bool hdr_truncated;    /* hdr_buf too small: some Contacts left out */
};

/* Processes a REGISTER (m->method must be REGISTER; To, Call-ID and CSeq
 * come from the parsed message). On RP_REG_OK, and if hdr_buf is not NULL,
 * writes the 200 OK's Contact header lines (every current binding of the
 * AOR, "Contact: <uri>;expires=N[;q=..][;+sip.instance=..;reg-id=..]\r\n")
 * to hdr_buf, complete lines only, with a NUL. 'info' may be NULL. */
enum rp_reg_result rp_registrar_save(rp_registrar *r, const struct sip_msg *m,
	const struct rp_reg_source *src, uint64_t now_ms, char *hdr_buf,
	size_t hdr_bufsz, struct rp_reg_save_info *info);

/* One binding, copied out of the table. */
struct rp_reg_contact {
	const char *aor;         /* normalised AOR */
	const char *uri;         /* Contact URI as registered */
	const char *path;        /* Path header values joined by ",", or NULL */
	const char *instance;    /* +sip.instance value (quotes kept), or NULL */
	const char *user_agent;  /* or NULL */
	const char *call_id;
	uint32_t cseq;
	uint32_t reg_id;         /* 0 when absent */
	unsigned q;              /* 0..1000 (q=1.0 is 1000); 1000 when absent */
	uint64_t expires_ms;     /* absolute, rp_now_ms() clock */
	uint32_t expires_in;     /* seconds left at the 'now' of the call */
	uint64_t updated_ms;     /* last REGISTER that touched it */
	uint64_t updated_seq;    /* table-wide order of updates: breaks ties
	                          * between REGISTERs in the same millisecond */
	enum rp_tp tp;           /* transport the REGISTER came over */
	rp_addr source;          /* where it came from: send requests here */
	uint64_t flow_id;        /* TCP/TLS: the connection to reuse */
	bool nat;                /* Contact host/port differ from the source */
};

/* A copied list of bindings; every string lives inside it. */
struct rp_reg_list {
	size_t count;
	struct rp_reg_contact *v;
};

/* Bindings of the AOR named by 'uri' (a Request-URI: sip/sips), best first:
 * higher q, then the most recently updated. Expired bindings are dropped
 * on the way. Returns 0 with *out (count may be 0; free with
 * rp_reg_list_free), -EINVAL (not a sip/sips URI with a host), -ENOMEM. */
int rp_registrar_lookup(rp_registrar *r, const struct sip_uri *uri,
	uint64_t now_ms, struct rp_reg_list **out);
/* Same from URI text ("sip:alice@example.net"). */
int rp_registrar_lookup_str(rp_registrar *r, rp_str uri, uint64_t now_ms,
	struct rp_reg_list **out);

/* Every live binding (for `rampartctl registrations`), at most 'max'
 * (0 = all), grouped by AOR in no particular order. Same return values. */
int rp_registrar_list(rp_registrar *r, uint64_t now_ms, size_t max,
	struct rp_reg_list **out);

/* Frees a list (NULL ok). Returns NULL. */
struct rp_reg_list *rp_reg_list_free(struct rp_reg_list *l);

/* Removes every binding expired at now_ms; returns how many. The core calls
 * it periodically (lookup and save also drop expired bindings they meet). */
size_t rp_registrar_sweep(rp_registrar *r, uint64_t now_ms);

struct rp_reg_stats {
	size_t aors;            /* AORs with at least one binding */
	size_t bindings;        /* bindings, expired-but-not-swept included */
	uint64_t saves;         /* successful REGISTERs */
	uint64_t rejected;      /* REGISTERs refused */
	uint64_t expired;       /* bindings removed by expiry */
};
void rp_registrar_stats(rp_registrar *r, struct rp_reg_stats *st);

/* The normalised AOR of a sip/sips URI into buf (with a NUL). Returns its
 * length, -EINVAL or -ENOSPC. */
long rp_registrar_aor(const rp_registrar *r, const struct sip_uri *uri,
	char *buf, size_t bufsz);

#endif
