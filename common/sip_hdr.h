/* sip_hdr: header names and the parsers of individual header values
 * (Via, name-addr, CSeq, numbers, Call-ID, Date, generic parameters).
 *
 * Every parser here works on one rp_str (a header value, or one element of
 * a comma-separated list) and is usable on its own. Values may contain
 * folded lines (CRLF followed by SP/HTAB): the parsers treat CR and LF as
 * linear white space. Results are slices into the input: nothing is
 * allocated or freed. Error offsets are relative to the start of the input.
 */
#ifndef SIP_HDR_H
#define SIP_HDR_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_str.h"
#include "sip_err.h"
#include "sip_uri.h"

enum sip_hdr_id {
	SIP_HDR_OTHER = 0, /* unknown: kept as-is */
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_CONTACT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALERT_INFO,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID,
	SIP_HDR_CALL_INFO,
	SIP_HDR_CONTACT,
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING,
	SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_ERROR_INFO,
	SIP_HDR_EVENT,
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM,
	SIP_HDR_IDENTITY,
	SIP_HDR_IDENTITY_INFO,
	SIP_HDR_IN_REPLY_TO,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIME_VERSION,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_MIN_SE,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_P_ASSERTED_IDENTITY,
	SIP_HDR_P_PREFERRED_IDENTITY,
	SIP_HDR_PATH,
	SIP_HDR_PRIORITY,
	SIP_HDR_PRIVACY,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_RACK,
	SIP_HDR_REASON,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO,
	SIP_HDR_REFERRED_BY,
	SIP_HDR_REJECT_CONTACT,
	SIP_HDR_REPLACES,
	SIP_HDR_REPLY_TO,
	SIP_HDR_REQUEST_DISPOSITION,
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_RSEQ,
	SIP_HDR_SERVER,
	SIP_HDR_SESSION_EXPIRES,
	SIP_HDR_SUBJECT,
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_SUPPORTED,
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA,
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR__COUNT
};

/* Header id from a name as received (full or compact, any case). */
enum sip_hdr_id sip_hdr_lookup(rp_str name);
/* Canonical full name ("Call-ID"); "" for SIP_HDR_OTHER. Static storage. */
const char *sip_hdr_name(enum sip_hdr_id id);
/* Compact form letter ('i' for Call-ID) or 0. */
char sip_hdr_compact(enum sip_hdr_id id);
/* True for headers whose value is a comma-separated list (Via, Contact,
 * Route, Allow, ...) so several values may share one line. */
bool sip_hdr_is_list(enum sip_hdr_id id);

enum sip_method {
	SIP_METHOD_UNKNOWN = 0, /* any other token: compare method_str */
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_REGISTER,
	SIP_METHOD_PRACK,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_INFO,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_UPDATE,
};
/* Method names are case-sensitive (RFC 3261 §7.1). */
enum sip_method sip_method_from_str(rp_str s);
const char *sip_method_name(enum sip_method m); /* "" for UNKNOWN */

/* Is every byte of s a token char (and s non-empty)? */
bool sip_is_token(rp_str s);

/* Splits a comma-separated header value: commas inside quoted strings and
 * <...> do not split. '*it' starts as the whole value; each call yields the
 * next element with LWS trimmed (possibly empty, e.g. for ",,") and returns
 * false when nothing is left. */
bool sip_hdr_list_next(rp_str *it, rp_str *elem);

/* Iterates ';'-separated generic-params of a header (LWS allowed around ';'
 * and '='; values are token, host or quoted-string, the quotes kept).
 * '*it' starts at the params slice (from a struct below). Returns SIP_OK
 * with a param, SIP_E__COUNT at the end, SIP_E_BAD_PARAM on bad syntax. */
enum sip_err sip_hdr_param_next(rp_str *it, rp_str *name, rp_str *value,
				bool *has_value);
/* Finds a generic-param by name (case-insensitive). */
bool sip_hdr_param_find(rp_str params, const char *name, rp_str *value);

enum sip_transport {
	SIP_TP_OTHER = 0,
	SIP_TP_UDP,
	SIP_TP_TCP,
	SIP_TP_TLS,
	SIP_TP_SCTP,
	SIP_TP_WS,
	SIP_TP_WSS,
};

/* One via-parm (one element of a Via value). */
struct sip_via {
	rp_str raw;             /* the element as given, trimmed */
	rp_str proto_name;      /* "SIP" */
	rp_str proto_version;   /* "2.0" */
	rp_str transport_str;
	enum sip_transport transport;
	rp_str host;            /* IPv6 without [] */
	enum sip_host_type host_type;
	uint16_t port;          /* 0 when absent */
	bool has_port;
	rp_str params;          /* from the first ';' to the end */
	rp_str branch, received, maddr;
	bool has_branch, has_received, has_maddr;
	bool has_rport;         /* "rport" present, with or without a value */
	int32_t rport;          /* its value, or -1 when it had none */
	int ttl;                /* -1 when absent */
};
enum sip_err sip_via_parse(rp_str s, struct sip_via *out, struct sip_perr *err);
/* In-place variant (no copy; *out unspecified on failure). */
enum sip_err sip_via_parse_into(rp_str s, struct sip_via *out, struct sip_perr *err);
/* True if the branch starts with the RFC 3261 magic cookie "z9hG4bK" and
 * has something after it. */
bool sip_via_branch_is_rfc3261(const struct sip_via *v);

/* ( name-addr / addr-spec / "*" ) *( ";" generic-param ): From, To,
 * Contact, Route, Record-Route, Reply-To, Refer-To, P-Asserted-Identity. */
struct sip_nameaddr {
	rp_str raw;
	bool star;              /* Contact: * */
	rp_str display;         /* as written: quotes and escapes kept */
	bool display_quoted;
	bool bracketed;         /* <uri> form */
	rp_str uri_str;
	struct sip_uri uri;
	rp_str params;          /* from the first ';' after the URI */
	rp_str tag;
	bool has_tag;
	bool uri_parsed;        /* 'uri' is filled (see sip_nameaddr_parse_uri) */
};
enum sip_err sip_nameaddr_parse(rp_str s, struct sip_nameaddr *out,
				struct sip_perr *err);
/* In-place variant (no copy; *out unspecified on failure). */
enum sip_err sip_nameaddr_parse_into(rp_str s, struct sip_nameaddr *out,
				     struct sip_perr *err);
/* Like sip_nameaddr_parse_into, but the URI is only delimited (uri_str),
 * not parsed: 'uri' stays zeroed and uri_parsed false. For a caller that
 * needs only the tag and the text. */
enum sip_err sip_nameaddr_parse_into_lazy(rp_str s, struct sip_nameaddr *out,
				struct sip_perr *err);
/* Parses na->uri_str into na->uri unless done (or '*'). SIP_OK or
 * SIP_E_BAD_URI with err->off relative to uri_str. */
enum sip_err sip_nameaddr_parse_uri(struct sip_nameaddr *na, struct sip_perr *err);

struct sip_cseq {
	uint32_t num;           /* <= 2^31 - 1 */
	rp_str method_str;
	enum sip_method method;
};
enum sip_err sip_cseq_parse(rp_str s, struct sip_cseq *out, struct sip_perr *err);

/* Max-Forwards: 1*DIGIT, at most 255. */
enum sip_err sip_max_forwards_parse(rp_str s, uint32_t *out, struct sip_perr *err);
/* Content-Length: 1*DIGIT, at most UINT32_MAX. */
enum sip_err sip_content_length_parse(rp_str s, uint32_t *out, struct sip_perr *err);
/* Call-ID: word [ "@" word ]; 'out' gets the trimmed value. */
enum sip_err sip_call_id_parse(rp_str s, rp_str *out, struct sip_perr *err);
/* Date: rfc1123-date, which must say GMT (RFC 3261 §20.17). */
enum sip_err sip_date_parse(rp_str s, struct sip_perr *err);

#endif
