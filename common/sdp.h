/* sdp: zero-copy SDP codec (RFC 8866) with in-place editing for the proxy.
 *
 * sdp_parse() splits a body into lines and parses v= o= s= c= t= b= m= a=
 * into rp_str slices that point into the caller's buffer; every other line
 * (i= u= e= p= z= k= r=, unknown letters) is kept as is. Both CRLF and
 * bare LF line endings are accepted, per line.
 *
 * Edits (sdp_set_conn(), sdp_media_set_port(), sdp_media_set_proto(),
 * sdp_remove_attrs(), sdp_insert_attr(), sdp_set_origin_version(), ...)
 * rebuild only the line they touch, in the arena; sdp_serialize() then
 * copies every line out. A line no edit touched is written byte for byte
 * as it came in (with its own line ending), so parse + serialise with no
 * edit gives back the input exactly. New lines use the ending of the first
 * line of the input.
 *
 * The proxy's usual rewrite of an offer is one parse, per media section
 * sdp_set_conn() + sdp_media_set_port() + sdp_media_set_proto() +
 * sdp_remove_attrs("crypto") + sdp_insert_attr("crypto", ...), one
 * sdp_serialize().
 *
 * Ownership: everything (struct sdp, its lines and media, the text of
 * edited lines) is allocated from the caller's rp_arena and lives until the
 * arena is reset; nothing is freed on its own. Slices point either into the
 * input buffer (which must outlive the struct sdp) or into the arena. Edit
 * functions copy the strings they are given, so the caller's strings need
 * not outlive the call. One struct sdp is used by one thread at a time.
 *
 * The structs below are read-only for callers: change them only through the
 * functions here, or the serialised text will not match the fields.
 */
#ifndef SDP_H
#define SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_arena.h"
#include "rp_str.h"

enum sdp_result {
	SDP_OK = 0,
	SDP_E_EMPTY = -1,          /* no input */
	SDP_E_VERSION = -2,        /* first line is not "v=0" */
	SDP_E_LINE = -3,           /* not "<letter>=", or a blank line inside */
	SDP_E_CHAR = -4,           /* NUL byte or CR not followed by LF */
	SDP_E_ORDER = -5,          /* second v=/o=/s=, or o=/s= in a media section */
	SDP_E_ORIGIN = -6,         /* malformed o= */
	SDP_E_CONN = -7,           /* malformed c= */
	SDP_E_MEDIA = -8,          /* malformed m= (fields missing) */
	SDP_E_PORT = -9,           /* m= port not 0..65535, or bad port count */
	SDP_E_PROTO = -10,         /* m= proto not a token *("/" token) */
	SDP_E_TIME = -11,          /* malformed t= */
	SDP_E_BANDWIDTH = -12,     /* malformed b= */
	SDP_E_ATTR = -13,          /* malformed a= (empty or bad name) */
	SDP_E_TOO_MANY_LINES = -14,/* more lines than opts.max_lines */
	SDP_E_NOMEM = -15,         /* arena exhausted */
	SDP_E_SPACE = -16,         /* output buffer too small */
	SDP_E_INVAL = -17,         /* bad argument to an edit function */
	SDP_E_NOT_FOUND = -18,     /* the line to edit is not there */
};

const char *sdp_strerror(int rc);

/* One line. For a=: name is the attribute name and value what follows the
 * first ':' (has_value false for a property attribute like a=sendrecv).
 * For any other type, value is everything after "x=". */
struct sdp_line {
	struct sdp_line *next;
	rp_str raw;     /* the line without its line ending */
	rp_str name;
	rp_str value;
	char type;      /* 'v', 'o', 'a', ... */
	uint8_t eol;    /* line ending: 2 CRLF, 1 LF, 0 none (end of input) */
	bool has_value;
	bool removed;   /* dropped by an edit; skipped by iterators */
	bool built;     /* raw was written into the arena by an edit */
};

/* c=<nettype> <addrtype> <address>[/<suffix>] */
struct sdp_conn {
	struct sdp_line *line; /* NULL: no c= here */
	rp_str nettype;        /* "IN" */
	rp_str addrtype;       /* "IP4" / "IP6" */
	rp_str address;        /* without the /ttl/count suffix */
	rp_str suffix;         /* after the first '/', or empty */
};

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> */
struct sdp_origin {
	struct sdp_line *line; /* NULL: no o= */
	rp_str username, sess_id, sess_version, nettype, addrtype, address;
};

struct sdp_media {
	struct sdp_media *next;
	struct sdp_line *mline;   /* the m= line */
	struct sdp_line *last;    /* last line of the section (maybe mline) */
	unsigned index;           /* 0-based position among the m= sections */
	rp_str media;             /* "audio", "video", ... */
	uint16_t port;
	bool has_port_count;
	uint32_t port_count;      /* m=<media> <port>/<count> */
	rp_str proto;             /* "RTP/AVP", "RTP/SAVP", ... */
	rp_str fmts;              /* the format list as written, maybe empty */
	struct sdp_conn conn;     /* the section's first c= */
};

struct sdp;

struct sdp_parse_opts {
	size_t max_lines; /* lines accepted before SDP_E_TOO_MANY_LINES; 0 = 1024 */
};

/* Parses buf[0..len). On success *out is a struct sdp in arena 'a' that
 * points into buf. On failure returns an sdp_result, sets *err_off (if not
 * NULL) to the byte offset in buf of the problem, and leaves *out alone
 * (arena memory used so far is reclaimed when the arena is reset).
 * opts may be NULL for defaults. */
int sdp_parse(const char *buf, size_t len, rp_arena *a,
	const struct sdp_parse_opts *opts, struct sdp **out, size_t *err_off);

/* Accessors. */
struct sdp_media *sdp_media_first(const struct sdp *s);
unsigned sdp_media_count(const struct sdp *s);
const struct sdp_origin *sdp_origin(const struct sdp *s);
/* Session-level c= (conn->line NULL if none). */
const struct sdp_conn *sdp_session_conn(const struct sdp *s);
/* The c= that applies to m: its own, else the session's (line NULL if
 * neither). */
const struct sdp_conn *sdp_media_conn(const struct sdp *s,
	const struct sdp_media *m);
/* True if the input's first line ended in CRLF (new lines use the same). */
bool sdp_uses_crlf(const struct sdp *s);
/* First line of the description (v=); walk ->next, skip ->removed. */
struct sdp_line *sdp_first_line(const struct sdp *s);

/* Attributes of a section: m == NULL means the session section. 'prev' ==
 * NULL starts at the beginning. Removed lines are skipped. */
struct sdp_line *sdp_attr_next(const struct sdp *s, const struct sdp_media *m,
	const struct sdp_line *prev);
/* Next attribute named 'name' (case-sensitive, RFC 8866 §5.13). */
struct sdp_line *sdp_attr_find(const struct sdp *s, const struct sdp_media *m,
	rp_str name, const struct sdp_line *prev);

enum sdp_addrtype {
	SDP_ADDR_AUTO, /* IP6 if the address has a ':', else IP4 */
	SDP_ADDR_IP4,
	SDP_ADDR_IP6,
};

/* Sets the c= of the session (m == NULL) or of media section m to
 * "IN <addrtype> <addr>" (any /ttl suffix is dropped; the nettype of an
 * existing line is kept). Inserts a c= line where RFC 8866 puts it if the
 * section has none. */
int sdp_set_conn(struct sdp *s, struct sdp_media *m, enum sdp_addrtype type,
	rp_str addr);
/* Sets the port of m (a port count stays as it was). */
int sdp_media_set_port(struct sdp *s, struct sdp_media *m, uint16_t port);
/* Sets the transport protocol of m, e.g. "RTP/AVP"; must be a token
 * *("/" token), else SDP_E_INVAL. */
int sdp_media_set_proto(struct sdp *s, struct sdp_media *m, rp_str proto);

/* Removes every attribute named 'name' from the section (m NULL: session).
 * Returns how many were removed (>= 0). */
int sdp_remove_attrs(struct sdp *s, struct sdp_media *m, rp_str name);
/* Removes one line (any type but v= and m=). */
int sdp_remove_line(struct sdp *s, struct sdp_line *line);

/* Inserts "a=<name>" (value NULL) or "a=<name>:<value>" into the section:
 * after 'after' (an attribute of that section) or, if after is NULL, at the
 * end of the section. *out (if not NULL) gets the new line. The name must
 * be a token; the value may not contain CR, LF or NUL. */
int sdp_insert_attr(struct sdp *s, struct sdp_media *m,
	struct sdp_line *after, rp_str name, const rp_str *value,
	struct sdp_line **out);

/* o= edits: version set to v, or incremented by one (decimal, any length);
 * address as for sdp_set_conn(). SDP_E_NOT_FOUND if there is no o=. */
int sdp_set_origin_version(struct sdp *s, uint64_t v);
int sdp_bump_origin_version(struct sdp *s);
int sdp_set_origin_addr(struct sdp *s, enum sdp_addrtype type, rp_str addr);

/* Wipes (explicit_bzero) the text of every line an edit wrote into the
 * arena, e.g. an inserted a=crypto with our key. Call it before resetting
 * the arena when such lines were added; the struct sdp must not be used
 * afterwards. The input buffer and the serialised output are the caller's
 * to wipe. */
void sdp_wipe(struct sdp *s);

/* Bytes sdp_serialize() will write. */
size_t sdp_serialized_len(const struct sdp *s);
/* Writes the description to buf (no NUL). Returns SDP_OK with *outlen set,
 * or SDP_E_SPACE (nothing useful written) if cap is too small. */
int sdp_serialize(const struct sdp *s, char *buf, size_t cap, size_t *outlen);

#endif
