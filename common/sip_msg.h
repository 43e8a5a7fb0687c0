/* sip_msg: zero-copy SIP message parser (RFC 3261 §7, §18.3, §20).
 *
 * sip_msg_parse() splits the start line and every header in one pass over
 * the caller's buffer and parses eagerly only what routing needs at once:
 * Request-URI, top Via, From, To, Call-ID, CSeq, Max-Forwards and
 * Content-Length (From/To URIs optionally on demand, see
 * lazy_resp_addr_uri and lazy_req_addr_uri). Everything else stays as raw slices and is parsed on
 * demand with the sip_hdr / sip_uri parsers or the iterators below.
 *
 * Ownership: the struct sip_msg and its header array live in the caller's
 * arena; every rp_str points into the caller's buffer. Both the buffer and
 * the arena must outlive the message; nothing is freed on its own (reset or
 * fini the arena).
 */
#ifndef SIP_MSG_H
#define SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_arena.h"
#include "rp_str.h"
#include "sip_err.h"
#include "sip_hdr.h"
#include "sip_uri.h"

#define SIP_PARSE_DEFAULT_MAX_HEADERS 256
#define SIP_PARSE_DEFAULT_MAX_SIZE 65535

struct sip_parse_opts {
	size_t max_headers;   /* 0 = default (256) */
	size_t max_size;      /* bytes of one message; 0 = default (65535) */
	/* Stream transports (TCP/TLS/WS): Content-Length is mandatory and the
	 * buffer may hold more than one message (msg->len says how much this
	 * one used). Datagrams: Content-Length is optional (the body is the
	 * rest of the datagram) and a smaller one truncates the body
	 * (RFC 3261 §18.3). */
	bool stream;
	/* Responses only: From and To are split (tag, URI text) but their URIs
	 * are not parsed (from.uri_parsed false; sip_nameaddr_parse_uri() on
	 * demand). A proxy relays a response by its Via and matches it by
	 * branch and tags; the URIs were a third of parsing a response. */
	bool lazy_resp_addr_uri;
	/* The same for requests. A proxy forwards From and To untouched and
	 * RFC 3261 §16.3 says what it does not use SHOULD be ignored,
	 * well-formed or not; a user of the URIs (a registrar's To) parses
	 * them then and refuses a bad one. */
	bool lazy_req_addr_uri;
};

struct sip_hdr {
	enum sip_hdr_id id;
	rp_str name;          /* as received (may be compact, any case) */
	rp_str value;         /* LWS-trimmed; may contain folded lines */
	rp_str raw;           /* whole field: name to the CRLF, CRLF included */
};

struct sip_msg {
	const char *buf;      /* start of the start line */
	size_t len;           /* bytes of this message from buf: start line to end of body */
	bool is_request;
	rp_str start_line;    /* without CRLF */

	/* request */
	rp_str method_str;
	enum sip_method method;
	rp_str ruri_str;
	struct sip_uri ruri;
	/* response */
	unsigned status;
	rp_str reason;
	rp_str version;       /* "SIP/2.0" as written */

	struct sip_hdr *hdrs; /* in order received */
	size_t nhdrs;

	/* First header of each kind, or NULL. */
	const struct sip_hdr *h_via, *h_from, *h_to, *h_call_id, *h_cseq,
		*h_max_forwards, *h_content_length, *h_contact, *h_route,
		*h_record_route, *h_content_type;

	/* Eagerly parsed values. */
	struct sip_via via;            /* the topmost via-parm */
	struct sip_nameaddr from, to;
	rp_str call_id;
	struct sip_cseq cseq;
	int max_forwards;              /* -1 when absent */
	uint32_t content_length;
	bool has_content_length;

	size_t hdr_end;       /* offset (from buf) of the empty line ending the headers */
	size_t body_off;      /* offset of the body */
	rp_str body;
};

/* Parses one message from buf[0..len). 'opts' may be NULL (datagram,
 * defaults). On success writes *out (allocated in 'a') and returns SIP_OK.
 * On failure returns the error, fills *err (may be NULL) with the code and
 * the byte offset into buf, and leaves *out alone. Leading CRLFs
 * (keep-alives) before the start line are skipped. */
enum sip_err sip_msg_parse(const char *buf, size_t len, rp_arena *a,
			   const struct sip_parse_opts *opts, struct sip_msg **out,
			   struct sip_perr *err);

/* Offset of a slice of the message from msg->buf. */
static inline size_t sip_msg_off(const struct sip_msg *m, rp_str s)
{
	return (size_t)(s.p - m->buf);
}

/* Index of the first header with 'id' at or after index 'from', or -1.
 * For SIP_HDR_OTHER use sip_msg_find_name(). */
long sip_msg_find(const struct sip_msg *m, enum sip_hdr_id id, size_t from);
/* Same, by name (case-insensitive; compact forms of known headers match). */
long sip_msg_find_name(const struct sip_msg *m, rp_str name, size_t from);

/* Iterates every value of one header kind across all its lines, splitting
 * comma lists for list headers (Via, Contact, Route, ...). */
struct sip_hdr_iter {
	const struct sip_msg *m;
	enum sip_hdr_id id;
	rp_str name;          /* for SIP_HDR_OTHER */
	size_t next;          /* next header index to look at */
	size_t cur;           /* index of the header the last value came from */
	rp_str rest;          /* unread part of the current list value */
	bool split;
};
void sip_hdr_iter_init(struct sip_hdr_iter *it, const struct sip_msg *m,
		       enum sip_hdr_id id);
void sip_hdr_iter_init_name(struct sip_hdr_iter *it, const struct sip_msg *m,
			    rp_str name);
/* Next value (trimmed); false at the end. it->cur tells which header. */
bool sip_hdr_iter_next(struct sip_hdr_iter *it, rp_str *value);
/* Typed walks: SIP_OK with a value, SIP_E__COUNT at the end, or the parse
 * error (err->off relative to msg->buf). */
enum sip_err sip_hdr_iter_next_via(struct sip_hdr_iter *it, struct sip_via *v,
				   struct sip_perr *err);
enum sip_err sip_hdr_iter_next_nameaddr(struct sip_hdr_iter *it,
					struct sip_nameaddr *na,
					struct sip_perr *err);

#endif
