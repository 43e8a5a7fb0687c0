/* sip_body: finds the SDP in a SIP message body.
 *
 * A body is SDP when its Content-Type is application/sdp. A carrier's
 * SIP-I/SIP-T INVITE (RFC 3204, RFC 3372) carries the SDP as one part of a
 * multipart/mixed body next to the ISUP message (RFC 5621, RFC 2046 5.1);
 * a media relay must rewrite that part and keep the others byte for byte.
 *
 * Results are slices into the caller's body: nothing is allocated or freed.
 */
#ifndef SIP_BODY_H
#define SIP_BODY_H

#include "rp_str.h"

enum sip_body_result {
	SIP_BODY_SDP = 0,         /* *sdp is the SDP (the body or one part) */
	SIP_BODY_NO_SDP = 1,      /* no SDP anywhere in it */
	/* Errors: the body may hold SDP we cannot find; never pass it on unread. */
	SIP_BODY_E_BOUNDARY = -1, /* multipart without a usable boundary parameter */
	SIP_BODY_E_FRAMING = -2,  /* no opening/closing delimiter, or a part without its empty line */
	SIP_BODY_E_MANY = -3,     /* more than one SDP part */
	SIP_BODY_E_ENCODING = -4, /* an SDP part in base64 or quoted-printable */
	SIP_BODY_E_DEPTH = -5,    /* multipart nested more than 3 deep */
};

/* 'ctype' is the Content-Type value (trimmed or not). Returns SIP_BODY_SDP
 * with *sdp set, SIP_BODY_NO_SDP (a body of another type, or a multipart
 * without an application/sdp part) or an error. A part's content ends
 * before the CRLF that starts the next delimiter (RFC 2046 5.1.1). */
int sip_body_find_sdp(rp_str ctype, rp_str body, rp_str *sdp);

/* A short English reason for an error result. Static storage. */
const char *sip_body_strerror(int rc);

#endif
