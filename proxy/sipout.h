/* sipout: the messages the proxy writes itself (RFC 3261 §8.2.6, §9.1,
 * §16.6, §17.1.1.3, §18.2): responses to a request, the hop-by-hop ACK of
 * a non-2xx final response, CANCEL, our Via, Record-Route values, and where
 * a response must go.
 *
 * Every writer appends to a caller-owned rp_buf (errors are sticky in the
 * buffer: check rp_buf_error() once) and reads the request through its
 * parsed sip_msg; nothing here keeps a pointer after it returns.
 */
#ifndef RP_SIPOUT_H
#define RP_SIPOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "rp_buf.h"
#include "rp_str.h"
#include "sip_msg.h"
#include "transport.h"

/* Standard reason phrase for a status code ("Request Timeout"); "Unknown"
 * for codes it does not know. Static storage. */
const char *rp_sipout_reason(unsigned code);

/* Writes the first Via header value of 'req' with received= (when the
 * sent-by host is not the source IP, or rport was asked for) and rport=
 * (when asked for, RFC 3581) set from 'src'; the other values of that
 * header line follow unchanged. Without a source, the value is copied. */
void rp_sipout_top_via(rp_buf *b, const struct sip_msg *req, const rp_addr *src);

/* Writes a whole response to 'req' (RFC 3261 §8.2.6): every Via (top one
 * via rp_sipout_top_via), From, To (with ";tag=" to_tag added when the
 * request's To has no tag, code > 100 and to_tag is not empty), Call-ID,
 * CSeq, the 'extra' header lines ("Name: value", no CRLF), Server: server
 * (when not empty), Content-Length: 0. reason empty = the standard one. */
void rp_sipout_response(rp_buf *b, const struct sip_msg *req, const rp_addr *src,
	unsigned code, rp_str reason, rp_str to_tag, const rp_str *extra,
	unsigned nextra, rp_str server);

/* A 400 for a request the parser refused: the Via, From, To, Call-ID and
 * CSeq lines are found by a plain line scan of msg[0..len) and copied when
 * present (a request that lacks Call-ID or CSeq still learns why it was
 * refused). Returns 0, or -EINVAL when the response could not be routed
 * (no Via found) and must not be sent. */
int rp_sipout_400_raw(rp_buf *b, const char *msg, size_t len, const char *reason,
	rp_str to_tag, rp_str server);

/* The same with another 4xx-6xx status (code) in place of 400. */
int rp_sipout_error_raw(rp_buf *b, unsigned code, const char *msg, size_t len,
	const char *reason, rp_str to_tag, rp_str server);

/* The ACK a client transaction sends for a non-2xx final response to the
 * INVITE 'req' it sent (RFC 3261 §17.1.1.3): same Request-URI, top Via,
 * Route set, From, Call-ID and CSeq number as req, To of 'resp'. */
void rp_sipout_ack(rp_buf *b, const struct sip_msg *req, const struct sip_msg *resp);

/* CANCEL for the request 'req' we sent (RFC 3261 §9.1): same Request-URI,
 * top Via (so the same branch), Route set, From, To, Call-ID, CSeq number. */
void rp_sipout_cancel(rp_buf *b, const struct sip_msg *req);

/* Our Via value: "SIP/2.0/UDP 192.0.2.1:5060;branch=...;rport". */
void rp_sipout_via(rp_buf *b, enum rp_tp tp, const rp_addr *local, rp_str branch);

/* A Record-Route value for one of our interfaces:
 * "<sip:192.0.2.1:5060;transport=tcp;lr>" (no transport= for UDP). */
void rp_sipout_rr(rp_buf *b, enum rp_tp tp, const rp_addr *local);

/* Where a response to a request that arrived with top Via 'via' from 'src'
 * over 'tp' goes (RFC 3261 §18.2.2, RFC 3581): stream transports back to
 * the source; UDP to the source IP at the rport (when asked for) or the
 * sent-by port (5060 when absent). */
void rp_sipout_resp_addr(const struct sip_via *via, enum rp_tp tp, const rp_addr *src,
	rp_addr *out);

/* Where a response must go by its Via 'via' alone (stateless forwarding,
 * RFC 3261 §18.2.2): received= (else the sent-by host, which must be an IP
 * literal) at rport= (else the sent-by port, else 5060). Returns 0, or
 * -EINVAL when the address cannot be had without DNS. */
int rp_sipout_via_addr(const struct sip_via *via, enum rp_tp *tp, rp_addr *out);

/* Transport of a URI: sips: or ;transport=tls -> TLS, ;transport=tcp ->
 * TCP, otherwise UDP. */
enum rp_tp rp_sipout_uri_tp(const struct sip_uri *u);

/* Address of a URI whose host is an IP literal (maddr ignored); the port
 * defaults to 5060 (5061 for TLS). -EINVAL when the host is a name. */
int rp_sipout_uri_addr(const struct sip_uri *u, enum rp_tp tp, rp_addr *out);

#endif
