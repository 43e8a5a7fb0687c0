/* sip_err: result codes of the SIP codec (sip_uri, sip_hdr, sip_msg,
 * sip_edit) and a short reason text for each, usable as the reason phrase
 * of the 400 a proxy sends back ("Bad CSeq").
 */
#ifndef SIP_ERR_H
#define SIP_ERR_H

#include <stddef.h>

enum sip_err {
	SIP_OK = 0,
	SIP_E_BAD_REQUEST_LINE,  /* method SP Request-URI SP SIP-Version */
	SIP_E_BAD_STATUS_LINE,   /* SIP-Version SP 3DIGIT SP reason */
	SIP_E_BAD_VERSION,       /* not SIP/2.0 */
	SIP_E_BAD_METHOD,        /* method is not a token */
	SIP_E_BAD_URI,
	SIP_E_BAD_HEADER,        /* header line not name ":" value */
	SIP_E_BAD_VIA,
	SIP_E_BAD_CSEQ,
	SIP_E_CSEQ_MISMATCH,     /* CSeq method differs from request method */
	SIP_E_BAD_MAX_FORWARDS,
	SIP_E_BAD_CONTENT_LENGTH,
	SIP_E_BAD_NAME_ADDR,     /* From/To/Contact/Route... */
	SIP_E_BAD_CALL_ID,
	SIP_E_BAD_PARAM,         /* header or URI parameter */
	SIP_E_MISSING_HEADER,    /* Via, From, To, Call-ID or CSeq absent */
	SIP_E_DUP_HEADER,        /* a single-instance header twice */
	SIP_E_CLEN_MISMATCH,     /* Content-Length more than the bytes there */
	SIP_E_MISSING_CLEN,      /* stream transport without Content-Length */
	SIP_E_TOO_MANY_HEADERS,
	SIP_E_TOO_LARGE,         /* message over the size limit */
	SIP_E_NUL_BYTE,
	SIP_E_TRUNCATED,         /* no end of headers, or body incomplete */
	SIP_E_NOMEM,             /* arena exhausted */
	SIP_E_NOSPACE,           /* output buffer too small */
	SIP_E_INVALID_ARG,       /* API misuse (bad index, bad edit) */
	SIP_E__COUNT
};

/* Where and why a parse failed. 'off' is a byte offset into the input given
 * to the function that failed (the whole message for sip_msg_parse). */
struct sip_perr {
	enum sip_err code;
	size_t off;
};

/* Short human reason ("Bad CSeq"), never NULL; static storage. */
const char *sip_err_reason(enum sip_err e);
/* Symbolic name ("SIP_E_BAD_CSEQ"), never NULL; static storage. */
const char *sip_err_name(enum sip_err e);

/* Records an error if 'err' is not NULL; returns 'code' for tail calls. */
static inline enum sip_err sip_perr_set(struct sip_perr *err, enum sip_err code,
					size_t off)
{
	if (err) {
		err->code = code;
		err->off = off;
	}
	return code;
}

#endif
