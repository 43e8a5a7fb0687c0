#include "sipout.h"

#include <errno.h>
#include <string.h>

#include "sip_hdr.h"

const char *rp_sipout_reason(unsigned code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 181: return "Call Is Being Forwarded";
	case 182: return "Queued";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Moved Temporarily";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 423: return "Interval Too Brief";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 482: return "Loop Detected";
	case 483: return "Too Many Hops";
	case 484: return "Address Incomplete";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 491: return "Request Pending";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	case 604: return "Does Not Exist Anywhere";
	case 606: return "Not Acceptable";
	default: return "Unknown";
	}
}

static void put_hdr(rp_buf *b, const char *name, rp_str value)
{
	rp_buf_append_cstr(b, name);
	rp_buf_append_cstr(b, ": ");
	rp_buf_append_str(b, value);
	rp_buf_append_cstr(b, "\r\n");
}

void rp_sipout_top_via(rp_buf *b, const struct sip_msg *req, const rp_addr *src)
{
	const struct sip_via *v = &req->via;
	const struct sip_hdr *h = req->h_via;
	const char *vs = h->value.p, *ve = h->value.p + h->value.n;
	const char *pe = v->raw.p + v->raw.n;
	const char *ps = v->params.n ? v->params.p : pe;
	rp_str it = v->params, name, val;
	char ip[64];
	bool hv;

	if (!src) {
		rp_buf_append_str(b, h->value);
		return;
	}
	/* Copy up to the parameters, then the parameters without any
	 * received/rport the sender put there (we state what we saw). */
	rp_buf_append(b, vs, (size_t)(ps - vs));
	while (sip_hdr_param_next(&it, &name, &val, &hv) == SIP_OK) {
		if (SIP_LIT_CASEEQ(name, "received") || SIP_LIT_CASEEQ(name, "rport"))
			continue;
		rp_buf_append_byte(b, ';');
		rp_buf_append_str(b, name);
		if (hv) {
			rp_buf_append_byte(b, '=');
			rp_buf_append_str(b, val);
		}
	}
	rp_addr_host(src, ip, sizeof(ip));
	if (!rp_str_eq_cstr(v->host, ip) || v->has_rport) {
		rp_buf_append_cstr(b, ";received=");
		rp_buf_append_cstr(b, ip);
	}
	if (v->has_rport) {
		rp_buf_append_cstr(b, ";rport=");
		rp_buf_append_u64(b, rp_addr_port(src));
	}
	rp_buf_append(b, pe, (size_t)(ve - pe));
}

void rp_sipout_response(rp_buf *b, const struct sip_msg *req, const rp_addr *src,
	unsigned code, rp_str reason, rp_str to_tag, const rp_str *extra,
	unsigned nextra, rp_str server)
{
	rp_buf_append_cstr(b, "SIP/2.0 ");
	rp_buf_append_u64(b, code);
	rp_buf_append_byte(b, ' ');
	if (reason.n)
		rp_buf_append_str(b, reason);
	else
		rp_buf_append_cstr(b, rp_sipout_reason(code));
	rp_buf_append_cstr(b, "\r\n");
	for (size_t i = 0; i < req->nhdrs; i++) {
		const struct sip_hdr *h = &req->hdrs[i];

		switch (h->id) {
		case SIP_HDR_VIA:
			if (h == req->h_via) {
				rp_buf_append_cstr(b, "Via: ");
				rp_sipout_top_via(b, req, src);
				rp_buf_append_cstr(b, "\r\n");
			} else {
				put_hdr(b, "Via", h->value);
			}
			break;
		case SIP_HDR_FROM:
			put_hdr(b, "From", h->value);
			break;
		case SIP_HDR_TO:
			if (h != req->h_to)
				break;
			rp_buf_append_cstr(b, "To: ");
			rp_buf_append_str(b, h->value);
			if (!req->to.has_tag && code > 100 && to_tag.n) {
				rp_buf_append_cstr(b, ";tag=");
				rp_buf_append_str(b, to_tag);
			}
			rp_buf_append_cstr(b, "\r\n");
			break;
		case SIP_HDR_CALL_ID:
			put_hdr(b, "Call-ID", h->value);
			break;
		case SIP_HDR_CSEQ:
			put_hdr(b, "CSeq", h->value);
			break;
		default:
			break;
		}
	}
	for (unsigned i = 0; i < nextra; i++) {
		rp_buf_append_str(b, extra[i]);
		rp_buf_append_cstr(b, "\r\n");
	}
	if (server.n)
		put_hdr(b, "Server", server);
	rp_buf_append_cstr(b, "Content-Length: 0\r\n\r\n");
}

int rp_sipout_400_raw(rp_buf *b, const char *msg, size_t len, const char *reason,
	rp_str to_tag, rp_str server)
{
	return rp_sipout_error_raw(b, 400, msg, len, reason, to_tag, server);
}

int rp_sipout_error_raw(rp_buf *b, unsigned code, const char *msg, size_t len,
	const char *reason, rp_str to_tag, rp_str server)
{
	static const struct { const char *name, *cname, *out; } keep[] = {
		{ "via", "v", "Via" }, { "from", "f", "From" }, { "to", "t", "To" },
		{ "call-id", "i", "Call-ID" }, { "cseq", NULL, "CSeq" } };
	bool have[5] = { false };
	size_t i = 0;

	while (i + 1 < len && !(msg[i] == '\r' && msg[i + 1] == '\n'))
		i++;
	i += 2;
	rp_buf_printf(b, "SIP/2.0 %03u ", code % 1000);
	rp_buf_append_cstr(b, reason);
	rp_buf_append_cstr(b, "\r\n");
	while (i < len) {
		size_t e = i, c;

		while (e + 1 < len && !(msg[e] == '\r' && msg[e + 1] == '\n'))
			e++;
		if (e + 1 >= len || e == i)
			break;
		for (c = i; c < e && msg[c] != ':'; c++)
			;
		if (c < e) {
			rp_str name = rp_str_trim(rp_str_make(msg + i, c - i));
			rp_str val = rp_str_trim(rp_str_make(msg + c + 1, e - c - 1));
			bool clean = true;

			/* Only printable header text goes back out. */
			for (size_t q = 0; q < val.n; q++)
				if ((unsigned char)val.p[q] < 0x20 && val.p[q] != '\t')
					clean = false;
			for (size_t k = 0; k < 5 && clean; k++) {
				if (!rp_str_caseeq_cstr(name, keep[k].name) &&
				    !(keep[k].cname && rp_str_caseeq_cstr(name, keep[k].cname)))
					continue;
				if (k != 0 && have[k])
					break;
				have[k] = true;
				rp_buf_append_cstr(b, keep[k].out);
				rp_buf_append_cstr(b, ": ");
				rp_buf_append_str(b, val);
				if (k == 2 && !memmem(val.p, val.n, "tag=", 4) && to_tag.n) {
					rp_buf_append_cstr(b, ";tag=");
					rp_buf_append_str(b, to_tag);
				}
				rp_buf_append_cstr(b, "\r\n");
				break;
			}
		}
		i = e + 2;
	}
	if (server.n)
		put_hdr(b, "Server", server);
	rp_buf_append_cstr(b, "Content-Length: 0\r\n\r\n");
	return have[0] ? 0 : -EINVAL;
}

/* The request line, top Via, Route set, From, Call-ID of a request we
 * sent; shared by ACK and CANCEL. */
static void put_hop_start(rp_buf *b, const char *method, const struct sip_msg *req)
{
	struct sip_hdr_iter it;
	rp_str v;

	rp_buf_append_cstr(b, method);
	rp_buf_append_byte(b, ' ');
	rp_buf_append_str(b, req->ruri_str);
	rp_buf_append_cstr(b, " SIP/2.0\r\nVia: ");
	rp_buf_append_str(b, req->via.raw);
	rp_buf_append_cstr(b, "\r\n");
	sip_hdr_iter_init(&it, req, SIP_HDR_ROUTE);
	while (sip_hdr_iter_next(&it, &v))
		put_hdr(b, "Route", v);
	put_hdr(b, "From", req->h_from->value);
}

static void put_hop_end(rp_buf *b, const char *method, const struct sip_msg *req)
{
	put_hdr(b, "Call-ID", req->call_id);
	rp_buf_append_cstr(b, "CSeq: ");
	rp_buf_append_u64(b, req->cseq.num);
	rp_buf_append_byte(b, ' ');
	rp_buf_append_cstr(b, method);
	rp_buf_append_cstr(b, "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
}

void rp_sipout_ack(rp_buf *b, const struct sip_msg *req, const struct sip_msg *resp)
{
	put_hop_start(b, "ACK", req);
	put_hdr(b, "To", resp->h_to->value);
	put_hop_end(b, "ACK", req);
}

void rp_sipout_cancel(rp_buf *b, const struct sip_msg *req)
{
	put_hop_start(b, "CANCEL", req);
	put_hdr(b, "To", req->h_to->value);
	put_hop_end(b, "CANCEL", req);
}

void rp_sipout_via(rp_buf *b, enum rp_tp tp, const rp_addr *local, rp_str branch)
{
	char a[80];

	rp_addr_fmt(local, a, sizeof(a));
	rp_buf_append_cstr(b, "SIP/2.0/");
	rp_buf_append_cstr(b, rp_tp_via(tp));
	rp_buf_append_byte(b, ' ');
	rp_buf_append_cstr(b, a);
	rp_buf_append_cstr(b, ";branch=");
	rp_buf_append_str(b, branch);
	rp_buf_append_cstr(b, ";rport");
}

void rp_sipout_rr(rp_buf *b, enum rp_tp tp, const rp_addr *local)
{
	char a[80];

	rp_addr_fmt(local, a, sizeof(a));
	rp_buf_append_cstr(b, "<sip:");
	rp_buf_append_cstr(b, a);
	if (tp != RP_TP_UDP) {
		rp_buf_append_cstr(b, ";transport=");
		rp_buf_append_cstr(b, rp_tp_name(tp));
	}
	rp_buf_append_cstr(b, ";lr>");
}

void rp_sipout_resp_addr(const struct sip_via *via, enum rp_tp tp, const rp_addr *src,
	rp_addr *out)
{
	*out = *src;
	if (tp != RP_TP_UDP || via->has_rport)
		return;
	rp_addr_set_port(out, via->has_port ? via->port : 5060);
}

static int host_addr(rp_str host, uint16_t port, rp_addr *out)
{
	char h[64];

	if (rp_str_copy(host, h, sizeof(h)) < 0)
		return -EINVAL;
	return rp_addr_parse(h, port, out);
}

int rp_sipout_via_addr(const struct sip_via *via, enum rp_tp *tp, rp_addr *out)
{
	uint16_t port = via->has_port ? via->port : 5060;

	switch (via->transport) {
	case SIP_TP_UDP: *tp = RP_TP_UDP; break;
	case SIP_TP_TCP: *tp = RP_TP_TCP; break;
	case SIP_TP_TLS:
		*tp = RP_TP_TLS;
		if (!via->has_port)
			port = 5061;
		break;
	default: return -EINVAL;
	}
	if (via->has_rport && via->rport > 0)
		port = (uint16_t)via->rport;
	if (via->has_received && via->received.n)
		return host_addr(via->received, port, out);
	if (via->host_type != SIP_HOST_IPV4 && via->host_type != SIP_HOST_IPV6)
		return -EINVAL;
	return host_addr(via->host, port, out);
}

enum rp_tp rp_sipout_uri_tp(const struct sip_uri *u)
{
	if (u->scheme == SIP_SCHEME_SIPS || SIP_LIT_CASEEQ(u->transport, "tls"))
		return RP_TP_TLS;
	if (SIP_LIT_CASEEQ(u->transport, "tcp"))
		return RP_TP_TCP;
	return RP_TP_UDP;
}

int rp_sipout_uri_addr(const struct sip_uri *u, enum rp_tp tp, rp_addr *out)
{
	uint16_t port = u->has_port ? u->port : (tp == RP_TP_TLS ? 5061 : 5060);

	if (u->host_type != SIP_HOST_IPV4 && u->host_type != SIP_HOST_IPV6)
		return -EINVAL;
	return host_addr(u->host, port, out);
}
