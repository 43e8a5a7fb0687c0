/* sip_frame: finds SIP message boundaries in byte streams and datagrams.
 *
 * Streams (TCP, TLS): bytes arrive in arbitrary pieces. The caller keeps
 * the unconsumed bytes in one contiguous buffer and calls
 * sip_framer_next() each time more arrive; the framer remembers how far it
 * has scanned, so the total work is O(n) even when bytes come one at a time.
 * The header block ends at the first CRLFCRLF; Content-Length (or its
 * compact form 'l') gives the body size and is mandatory on a stream
 * (RFC 3261 18.3). CRLF keep-alives follow RFC 5626 3.5.1: a CRLFCRLF
 * "ping" is reported so the caller can answer a CRLF "pong"; a lone CRLF
 * (a pong, or a leading CRLF that RFC 3261 7.5 says to skip) is reported
 * and consumed.
 *
 * Datagrams (UDP): one message per datagram, see sip_frame_datagram().
 *
 * Nothing is copied or allocated; the framer never reads past 'len' and
 * needs no NUL terminator. Errors carry the byte offset that caused them.
 */
#ifndef SIP_FRAME_H
#define SIP_FRAME_H

#include <stdbool.h>
#include <stddef.h>

enum sip_frame_result {
	SIP_FRAME_MSG = 0,        /* a whole message: out->off, out->len */
	SIP_FRAME_NEED_MORE = 1,  /* keep the bytes, call again with more */
	SIP_FRAME_PING = 2,       /* CRLFCRLF keep-alive: answer "\r\n" */
	SIP_FRAME_PONG = 3,       /* a single CRLF: keep-alive answer/filler */
	/* Errors: a stream cannot be resynchronised after one; close it. */
	SIP_FRAME_E_HDR_TOO_BIG = -1,  /* no CRLFCRLF within max_hdr bytes */
	SIP_FRAME_E_BODY_TOO_BIG = -2, /* Content-Length above max_body */
	SIP_FRAME_E_NO_CLEN = -3,      /* stream message without Content-Length */
	SIP_FRAME_E_BAD_CLEN = -4,     /* not a decimal number */
	SIP_FRAME_E_DUP_CLEN = -5,     /* more than one Content-Length */
	SIP_FRAME_E_TRUNCATED = -6,    /* datagram shorter than it claims */
	SIP_FRAME_E_ARG = -7,          /* bad call (NULL buffer with len > 0) */
};

/* Sizes a framer refuses to exceed. max_hdr counts the start line and the
 * headers including the final CRLFCRLF. */
struct sip_frame_limits {
	size_t max_hdr;
	size_t max_body;
};

#define SIP_FRAME_DEFAULT_MAX_HDR  16384u
#define SIP_FRAME_DEFAULT_MAX_BODY 65536u

/* What a call found. For SIP_FRAME_MSG the message is buf[off, off+len)
 * with its body at buf[off+hdr_len, off+len). 'consumed' is always the
 * number of bytes the caller must drop from the front of its buffer before
 * the next call (0 for NEED_MORE). For errors, err_off is the offset in
 * buf of the offending byte, and on a stream hdr_len is the length of the
 * header block when it was whole (a Content-Length error: the caller may
 * answer the headers before closing), else 0. */
struct sip_frame {
	size_t consumed;
	size_t off;
	size_t len;
	size_t hdr_len;
	size_t body_len;
	size_t err_off;
};

/* Incremental state for one stream. Plain struct: embed it, no free. */
typedef struct sip_framer {
	struct sip_frame_limits lim;
	size_t scan;      /* bytes of the header block already searched */
	size_t total;     /* hdr + body once the header block is complete */
	size_t hdr_len;
	bool have_hdr;
	bool expect_pong; /* outbound flow: a lone CRLF is a pong, report now */
} sip_framer;

/* Initialises f; lim == NULL takes the defaults above. */
void sip_framer_init(sip_framer *f, const struct sip_frame_limits *lim);

/* On a flow we opened (we send pings) a lone CRLF is reported as a pong at
 * once; on an accepted flow a lone CRLF may be the first half of a ping, so
 * the framer waits for the next byte. Default: false (accepted flow). */
void sip_framer_set_expect_pong(sip_framer *f, bool on);

/* Looks for the next item at the start of buf (all unconsumed bytes of
 * the stream, the same bytes as the previous call plus any new ones). */
enum sip_frame_result sip_framer_next(sip_framer *f, const char *buf,
	size_t len, struct sip_frame *out);

/* Frames one datagram: skips leading CRLFs, requires the CRLFCRLF end of
 * headers, and takes Content-Length bytes of body if the header is present
 * (extra bytes are ignored per RFC 3261 18.3; fewer is E_TRUNCATED) or the
 * rest of the datagram if not. A datagram of only CRLFs is a keep-alive:
 * PING for CRLFCRLF (or more), PONG for one CRLF. */
enum sip_frame_result sip_frame_datagram(const struct sip_frame_limits *lim,
	const char *buf, size_t len, struct sip_frame *out);

/* Short English text for a result ("Content-Length missing", ...). */
const char *sip_frame_strerror(enum sip_frame_result r);

#endif
