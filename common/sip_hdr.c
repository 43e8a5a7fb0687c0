#include "sip_hdr.h"

#include <string.h>

struct hdr_info {
	const char *name;
	char compact;
	bool list;
};

static const struct hdr_info hdr_info[SIP_HDR__COUNT] = {
	[SIP_HDR_OTHER] = { "", 0, false },
	[SIP_HDR_ACCEPT] = { "Accept", 0, true },
	[SIP_HDR_ACCEPT_CONTACT] = { "Accept-Contact", 'a', true },
	[SIP_HDR_ACCEPT_ENCODING] = { "Accept-Encoding", 0, true },
	[SIP_HDR_ACCEPT_LANGUAGE] = { "Accept-Language", 0, true },
	[SIP_HDR_ALERT_INFO] = { "Alert-Info", 0, true },
	[SIP_HDR_ALLOW] = { "Allow", 0, true },
	[SIP_HDR_ALLOW_EVENTS] = { "Allow-Events", 'u', true },
	[SIP_HDR_AUTHENTICATION_INFO] = { "Authentication-Info", 0, false },
	[SIP_HDR_AUTHORIZATION] = { "Authorization", 0, false },
	[SIP_HDR_CALL_ID] = { "Call-ID", 'i', false },
	[SIP_HDR_CALL_INFO] = { "Call-Info", 0, true },
	[SIP_HDR_CONTACT] = { "Contact", 'm', true },
	[SIP_HDR_CONTENT_DISPOSITION] = { "Content-Disposition", 0, false },
	[SIP_HDR_CONTENT_ENCODING] = { "Content-Encoding", 'e', true },
	[SIP_HDR_CONTENT_LANGUAGE] = { "Content-Language", 0, true },
	[SIP_HDR_CONTENT_LENGTH] = { "Content-Length", 'l', false },
	[SIP_HDR_CONTENT_TYPE] = { "Content-Type", 'c', false },
	[SIP_HDR_CSEQ] = { "CSeq", 0, false },
	[SIP_HDR_DATE] = { "Date", 0, false },
	[SIP_HDR_ERROR_INFO] = { "Error-Info", 0, true },
	[SIP_HDR_EVENT] = { "Event", 'o', false },
	[SIP_HDR_EXPIRES] = { "Expires", 0, false },
	[SIP_HDR_FROM] = { "From", 'f', false },
	[SIP_HDR_IDENTITY] = { "Identity", 'y', false },
	[SIP_HDR_IDENTITY_INFO] = { "Identity-Info", 'n', false },
	[SIP_HDR_IN_REPLY_TO] = { "In-Reply-To", 0, true },
	[SIP_HDR_MAX_FORWARDS] = { "Max-Forwards", 0, false },
	[SIP_HDR_MIME_VERSION] = { "MIME-Version", 0, false },
	[SIP_HDR_MIN_EXPIRES] = { "Min-Expires", 0, false },
	[SIP_HDR_MIN_SE] = { "Min-SE", 0, false },
	[SIP_HDR_ORGANIZATION] = { "Organization", 0, false },
	[SIP_HDR_P_ASSERTED_IDENTITY] = { "P-Asserted-Identity", 0, true },
	[SIP_HDR_P_PREFERRED_IDENTITY] = { "P-Preferred-Identity", 0, true },
	[SIP_HDR_PATH] = { "Path", 0, true },
	[SIP_HDR_PRIORITY] = { "Priority", 0, false },
	[SIP_HDR_PRIVACY] = { "Privacy", 0, false },
	[SIP_HDR_PROXY_AUTHENTICATE] = { "Proxy-Authenticate", 0, false },
	[SIP_HDR_PROXY_AUTHORIZATION] = { "Proxy-Authorization", 0, false },
	[SIP_HDR_PROXY_REQUIRE] = { "Proxy-Require", 0, true },
	[SIP_HDR_RACK] = { "RAck", 0, false },
	[SIP_HDR_REASON] = { "Reason", 0, true },
	[SIP_HDR_RECORD_ROUTE] = { "Record-Route", 0, true },
	[SIP_HDR_REFER_TO] = { "Refer-To", 'r', false },
	[SIP_HDR_REFERRED_BY] = { "Referred-By", 'b', false },
	[SIP_HDR_REJECT_CONTACT] = { "Reject-Contact", 'j', true },
	[SIP_HDR_REPLACES] = { "Replaces", 0, false },
	[SIP_HDR_REPLY_TO] = { "Reply-To", 0, false },
	[SIP_HDR_REQUEST_DISPOSITION] = { "Request-Disposition", 'd', true },
	[SIP_HDR_REQUIRE] = { "Require", 0, true },
	[SIP_HDR_RETRY_AFTER] = { "Retry-After", 0, false },
	[SIP_HDR_ROUTE] = { "Route", 0, true },
	[SIP_HDR_RSEQ] = { "RSeq", 0, false },
	[SIP_HDR_SERVER] = { "Server", 0, false },
	[SIP_HDR_SESSION_EXPIRES] = { "Session-Expires", 'x', false },
	[SIP_HDR_SUBJECT] = { "Subject", 's', false },
	[SIP_HDR_SUBSCRIPTION_STATE] = { "Subscription-State", 0, false },
	[SIP_HDR_SUPPORTED] = { "Supported", 'k', true },
	[SIP_HDR_TIMESTAMP] = { "Timestamp", 0, false },
	[SIP_HDR_TO] = { "To", 't', false },
	[SIP_HDR_UNSUPPORTED] = { "Unsupported", 0, true },
	[SIP_HDR_USER_AGENT] = { "User-Agent", 0, false },
	[SIP_HDR_VIA] = { "Via", 'v', true },
	[SIP_HDR_WARNING] = { "Warning", 0, true },
	[SIP_HDR_WWW_AUTHENTICATE] = { "WWW-Authenticate", 0, false },
};

/* Generated: slot = (len*1 + first*17 + mid*44 + last) & 511 over the
 * lower-cased name (mid = name[len/2]); one id per slot, verified by
 * a full compare. */
#define HDR_HASH(n, f, m, l) (((n) * 1u + (f) * 17u + (m) * 44u + (l)) & 511u)
static const unsigned char hdr_slot[512] = {
	[24] = SIP_HDR_ROUTE,
	[25] = SIP_HDR_TO,
	[26] = SIP_HDR_REQUIRE,
	[31] = SIP_HDR_REQUEST_DISPOSITION,
	[38] = SIP_HDR_SUBSCRIPTION_STATE,
	[41] = SIP_HDR_CONTENT_LENGTH,
	[56] = SIP_HDR_PRIVACY,
	[57] = SIP_HDR_REQUEST_DISPOSITION,
	[67] = SIP_HDR_ACCEPT_ENCODING,
	[70] = SIP_HDR_VIA,
	[71] = SIP_HDR_ACCEPT,
	[75] = SIP_HDR_FROM,
	[76] = SIP_HDR_ALLOW_EVENTS,
	[86] = SIP_HDR_SUBJECT,
	[87] = SIP_HDR_ALLOW_EVENTS,
	[91] = SIP_HDR_MIN_EXPIRES,
	[99] = SIP_HDR_SERVER,
	[100] = SIP_HDR_CSEQ,
	[102] = SIP_HDR_CONTENT_ENCODING,
	[103] = SIP_HDR_CONTACT,
	[119] = SIP_HDR_CONTENT_ENCODING,
	[138] = SIP_HDR_EVENT,
	[149] = SIP_HDR_VIA,
	[165] = SIP_HDR_IDENTITY_INFO,
	[166] = SIP_HDR_ALERT_INFO,
	[179] = SIP_HDR_IN_REPLY_TO,
	[181] = SIP_HDR_FROM,
	[185] = SIP_HDR_REPLACES,
	[197] = SIP_HDR_CONTENT_LENGTH,
	[199] = SIP_HDR_CALL_INFO,
	[209] = SIP_HDR_ORGANIZATION,
	[213] = SIP_HDR_REPLY_TO,
	[227] = SIP_HDR_EVENT,
	[234] = SIP_HDR_ERROR_INFO,
	[239] = SIP_HDR_USER_AGENT,
	[244] = SIP_HDR_CONTENT_TYPE,
	[248] = SIP_HDR_AUTHORIZATION,
	[253] = SIP_HDR_DATE,
	[254] = SIP_HDR_CONTACT,
	[261] = SIP_HDR_RACK,
	[273] = SIP_HDR_SESSION_EXPIRES,
	[275] = SIP_HDR_MIME_VERSION,
	[280] = SIP_HDR_REJECT_CONTACT,
	[288] = SIP_HDR_CONTENT_DISPOSITION,
	[292] = SIP_HDR_SUPPORTED,
	[300] = SIP_HDR_P_ASSERTED_IDENTITY,
	[301] = SIP_HDR_P_PREFERRED_IDENTITY,
	[313] = SIP_HDR_TO,
	[315] = SIP_HDR_EXPIRES,
	[317] = SIP_HDR_WARNING,
	[335] = SIP_HDR_IDENTITY,
	[340] = SIP_HDR_MAX_FORWARDS,
	[355] = SIP_HDR_RSEQ,
	[356] = SIP_HDR_MIN_SE,
	[357] = SIP_HDR_IDENTITY_INFO,
	[362] = SIP_HDR_IDENTITY,
	[367] = SIP_HDR_CALL_ID,
	[372] = SIP_HDR_UNSUPPORTED,
	[373] = SIP_HDR_ACCEPT_LANGUAGE,
	[378] = SIP_HDR_PROXY_REQUIRE,
	[381] = SIP_HDR_ALLOW,
	[383] = SIP_HDR_ACCEPT_CONTACT,
	[393] = SIP_HDR_PRIORITY,
	[398] = SIP_HDR_CALL_ID,
	[408] = SIP_HDR_CONTENT_LANGUAGE,
	[413] = SIP_HDR_REFER_TO,
	[415] = SIP_HDR_AUTHENTICATION_INFO,
	[417] = SIP_HDR_REFER_TO,
	[429] = SIP_HDR_REJECT_CONTACT,
	[430] = SIP_HDR_REFERRED_BY,
	[440] = SIP_HDR_WWW_AUTHENTICATE,
	[445] = SIP_HDR_REFERRED_BY,
	[447] = SIP_HDR_RECORD_ROUTE,
	[455] = SIP_HDR_PROXY_AUTHENTICATE,
	[458] = SIP_HDR_REASON,
	[459] = SIP_HDR_RETRY_AFTER,
	[460] = SIP_HDR_PATH,
	[465] = SIP_HDR_PROXY_AUTHORIZATION,
	[475] = SIP_HDR_SUBJECT,
	[481] = SIP_HDR_SESSION_EXPIRES,
	[491] = SIP_HDR_SUPPORTED,
	[497] = SIP_HDR_TIMESTAMP,
	[503] = SIP_HDR_ACCEPT_CONTACT,
	[507] = SIP_HDR_CONTENT_TYPE,
};

/* Lower-case full names, for the compare after the hash. */
static const char *const hdr_lname[SIP_HDR__COUNT] = {
	[SIP_HDR_ACCEPT] = "accept",
	[SIP_HDR_ACCEPT_CONTACT] = "accept-contact",
	[SIP_HDR_ACCEPT_ENCODING] = "accept-encoding",
	[SIP_HDR_ACCEPT_LANGUAGE] = "accept-language",
	[SIP_HDR_ALERT_INFO] = "alert-info",
	[SIP_HDR_ALLOW] = "allow",
	[SIP_HDR_ALLOW_EVENTS] = "allow-events",
	[SIP_HDR_AUTHENTICATION_INFO] = "authentication-info",
	[SIP_HDR_AUTHORIZATION] = "authorization",
	[SIP_HDR_CALL_ID] = "call-id",
	[SIP_HDR_CALL_INFO] = "call-info",
	[SIP_HDR_CONTACT] = "contact",
	[SIP_HDR_CONTENT_DISPOSITION] = "content-disposition",
	[SIP_HDR_CONTENT_ENCODING] = "content-encoding",
	[SIP_HDR_CONTENT_LANGUAGE] = "content-language",
	[SIP_HDR_CONTENT_LENGTH] = "content-length",
	[SIP_HDR_CONTENT_TYPE] = "content-type",
	[SIP_HDR_CSEQ] = "cseq",
	[SIP_HDR_DATE] = "date",
	[SIP_HDR_ERROR_INFO] = "error-info",
	[SIP_HDR_EVENT] = "event",
	[SIP_HDR_EXPIRES] = "expires",
	[SIP_HDR_FROM] = "from",
	[SIP_HDR_IDENTITY] = "identity",
	[SIP_HDR_IDENTITY_INFO] = "identity-info",
	[SIP_HDR_IN_REPLY_TO] = "in-reply-to",
	[SIP_HDR_MAX_FORWARDS] = "max-forwards",
	[SIP_HDR_MIME_VERSION] = "mime-version",
	[SIP_HDR_MIN_EXPIRES] = "min-expires",
	[SIP_HDR_MIN_SE] = "min-se",
	[SIP_HDR_ORGANIZATION] = "organization",
	[SIP_HDR_P_ASSERTED_IDENTITY] = "p-asserted-identity",
	[SIP_HDR_P_PREFERRED_IDENTITY] = "p-preferred-identity",
	[SIP_HDR_PATH] = "path",
	[SIP_HDR_PRIORITY] = "priority",
	[SIP_HDR_PRIVACY] = "privacy",
	[SIP_HDR_PROXY_AUTHENTICATE] = "proxy-authenticate",
	[SIP_HDR_PROXY_AUTHORIZATION] = "proxy-authorization",
	[SIP_HDR_PROXY_REQUIRE] = "proxy-require",
	[SIP_HDR_RACK] = "rack",
	[SIP_HDR_REASON] = "reason",
	[SIP_HDR_RECORD_ROUTE] = "record-route",
	[SIP_HDR_REFER_TO] = "refer-to",
	[SIP_HDR_REFERRED_BY] = "referred-by",
	[SIP_HDR_REJECT_CONTACT] = "reject-contact",
	[SIP_HDR_REPLACES] = "replaces",
	[SIP_HDR_REPLY_TO] = "reply-to",
	[SIP_HDR_REQUEST_DISPOSITION] = "request-disposition",
	[SIP_HDR_REQUIRE] = "require",
	[SIP_HDR_RETRY_AFTER] = "retry-after",
	[SIP_HDR_ROUTE] = "route",
	[SIP_HDR_RSEQ] = "rseq",
	[SIP_HDR_SERVER] = "server",
	[SIP_HDR_SESSION_EXPIRES] = "session-expires",
	[SIP_HDR_SUBJECT] = "subject",
	[SIP_HDR_SUBSCRIPTION_STATE] = "subscription-state",
	[SIP_HDR_SUPPORTED] = "supported",
	[SIP_HDR_TIMESTAMP] = "timestamp",
	[SIP_HDR_TO] = "to",
	[SIP_HDR_UNSUPPORTED] = "unsupported",
	[SIP_HDR_USER_AGENT] = "user-agent",
	[SIP_HDR_VIA] = "via",
	[SIP_HDR_WARNING] = "warning",
	[SIP_HDR_WWW_AUTHENTICATE] = "www-authenticate",
};

static const unsigned char hdr_llen[SIP_HDR__COUNT] = {
	[SIP_HDR_ACCEPT] = 6,
	[SIP_HDR_ACCEPT_CONTACT] = 14,
	[SIP_HDR_ACCEPT_ENCODING] = 15,
	[SIP_HDR_ACCEPT_LANGUAGE] = 15,
	[SIP_HDR_ALERT_INFO] = 10,
	[SIP_HDR_ALLOW] = 5,
	[SIP_HDR_ALLOW_EVENTS] = 12,
	[SIP_HDR_AUTHENTICATION_INFO] = 19,
	[SIP_HDR_AUTHORIZATION] = 13,
	[SIP_HDR_CALL_ID] = 7,
	[SIP_HDR_CALL_INFO] = 9,
	[SIP_HDR_CONTACT] = 7,
	[SIP_HDR_CONTENT_DISPOSITION] = 19,
	[SIP_HDR_CONTENT_ENCODING] = 16,
	[SIP_HDR_CONTENT_LANGUAGE] = 16,
	[SIP_HDR_CONTENT_LENGTH] = 14,
	[SIP_HDR_CONTENT_TYPE] = 12,
	[SIP_HDR_CSEQ] = 4,
	[SIP_HDR_DATE] = 4,
	[SIP_HDR_ERROR_INFO] = 10,
	[SIP_HDR_EVENT] = 5,
	[SIP_HDR_EXPIRES] = 7,
	[SIP_HDR_FROM] = 4,
	[SIP_HDR_IDENTITY] = 8,
	[SIP_HDR_IDENTITY_INFO] = 13,
	[SIP_HDR_IN_REPLY_TO] = 11,
	[SIP_HDR_MAX_FORWARDS] = 12,
	[SIP_HDR_MIME_VERSION] = 12,
	[SIP_HDR_MIN_EXPIRES] = 11,
	[SIP_HDR_MIN_SE] = 6,
	[SIP_HDR_ORGANIZATION] = 12,
	[SIP_HDR_P_ASSERTED_IDENTITY] = 19,
	[SIP_HDR_P_PREFERRED_IDENTITY] = 20,
	[SIP_HDR_PATH] = 4,
	[SIP_HDR_PRIORITY] = 8,
	[SIP_HDR_PRIVACY] = 7,
	[SIP_HDR_PROXY_AUTHENTICATE] = 18,
	[SIP_HDR_PROXY_AUTHORIZATION] = 19,
	[SIP_HDR_PROXY_REQUIRE] = 13,
	[SIP_HDR_RACK] = 4,
	[SIP_HDR_REASON] = 6,
	[SIP_HDR_RECORD_ROUTE] = 12,
	[SIP_HDR_REFER_TO] = 8,
	[SIP_HDR_REFERRED_BY] = 11,
	[SIP_HDR_REJECT_CONTACT] = 14,
	[SIP_HDR_REPLACES] = 8,
	[SIP_HDR_REPLY_TO] = 8,
	[SIP_HDR_REQUEST_DISPOSITION] = 19,
	[SIP_HDR_REQUIRE] = 7,
	[SIP_HDR_RETRY_AFTER] = 11,
	[SIP_HDR_ROUTE] = 5,
	[SIP_HDR_RSEQ] = 4,
	[SIP_HDR_SERVER] = 6,
	[SIP_HDR_SESSION_EXPIRES] = 15,
	[SIP_HDR_SUBJECT] = 7,
	[SIP_HDR_SUBSCRIPTION_STATE] = 18,
	[SIP_HDR_SUPPORTED] = 9,
	[SIP_HDR_TIMESTAMP] = 9,
	[SIP_HDR_TO] = 2,
	[SIP_HDR_UNSUPPORTED] = 11,
	[SIP_HDR_USER_AGENT] = 10,
	[SIP_HDR_VIA] = 3,
	[SIP_HDR_WARNING] = 7,
	[SIP_HDR_WWW_AUTHENTICATE] = 16,
};

static inline unsigned char lower(unsigned char c)
{
	return (unsigned)(c - 'A') < 26u ? (unsigned char)(c + 32) : c;
}

enum sip_hdr_id sip_hdr_lookup(rp_str name)
{
	const char *p = name.p;
	size_t n = name.n;
	unsigned char f, m, l, id;

	/* No known name is longer than 19 bytes. */
	if (n == 0 || n > 20)
		return SIP_HDR_OTHER;
	f = lower((unsigned char)p[0]);
	m = lower((unsigned char)p[n / 2]);
	l = lower((unsigned char)p[n - 1]);
	id = hdr_slot[HDR_HASH((unsigned)n, f, m, l)];
	if (id == SIP_HDR_OTHER)
		return SIP_HDR_OTHER;
	if (n == 1)
		return hdr_info[id].compact == (char)f ? (enum sip_hdr_id)id : SIP_HDR_OTHER;
	return sip_lit_caseeq(name, hdr_lname[id], hdr_llen[id]) ?
	       (enum sip_hdr_id)id : SIP_HDR_OTHER;
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT)
		return "";
	return hdr_info[id].name;
}

char sip_hdr_compact(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT)
		return 0;
	return hdr_info[id].compact;
}

bool sip_hdr_is_list(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT)
		return false;
	return hdr_info[id].list;
}

static const char *const method_names[] = {
	[SIP_METHOD_UNKNOWN] = "",
	[SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",
	[SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_OPTIONS] = "OPTIONS",
	[SIP_METHOD_REGISTER] = "REGISTER",
	[SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_PUBLISH] = "PUBLISH",
	[SIP_METHOD_INFO] = "INFO",
	[SIP_METHOD_REFER] = "REFER",
	[SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_UPDATE] = "UPDATE",
};

#define MEQ(s, lit) ((s).n == sizeof(lit) - 1 && memcmp((s).p, lit, sizeof(lit) - 1) == 0)

enum sip_method sip_method_from_str(rp_str s)
{
	if (s.n < 3)
		return SIP_METHOD_UNKNOWN;
	switch (s.p[0]) {
	case 'I':
		if (MEQ(s, "INVITE"))
			return SIP_METHOD_INVITE;
		if (MEQ(s, "INFO"))
			return SIP_METHOD_INFO;
		break;
	case 'A':
		if (MEQ(s, "ACK"))
			return SIP_METHOD_ACK;
		break;
	case 'B':
		if (MEQ(s, "BYE"))
			return SIP_METHOD_BYE;
		break;
	case 'C':
		if (MEQ(s, "CANCEL"))
			return SIP_METHOD_CANCEL;
		break;
	case 'O':
		if (MEQ(s, "OPTIONS"))
			return SIP_METHOD_OPTIONS;
		break;
	case 'R':
		if (MEQ(s, "REGISTER"))
			return SIP_METHOD_REGISTER;
		if (MEQ(s, "REFER"))
			return SIP_METHOD_REFER;
		break;
	case 'P':
		if (MEQ(s, "PRACK"))
			return SIP_METHOD_PRACK;
		if (MEQ(s, "PUBLISH"))
			return SIP_METHOD_PUBLISH;
		break;
	case 'S':
		if (MEQ(s, "SUBSCRIBE"))
			return SIP_METHOD_SUBSCRIBE;
		break;
	case 'N':
		if (MEQ(s, "NOTIFY"))
			return SIP_METHOD_NOTIFY;
		break;
	case 'M':
		if (MEQ(s, "MESSAGE"))
			return SIP_METHOD_MESSAGE;
		break;
	case 'U':
		if (MEQ(s, "UPDATE"))
			return SIP_METHOD_UPDATE;
		break;
	}
	return SIP_METHOD_UNKNOWN;
}

const char *sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= sizeof(method_names) / sizeof(method_names[0]))
		return "";
	return method_names[m];
}

bool sip_is_token(rp_str s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!sip_cis(s.p[i], SIP_C_TOKEN))
			return false;
	return true;
}

static inline bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_lws(const char *p, const char *end)
{
	while (p < end && is_lws(*p))
		p++;
	return p;
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && sip_cis(*p, SIP_C_TOKEN))
		p++;
	return p;
}

/* p at '"'; returns the byte after the closing quote, or NULL. */
static const char *scan_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c == '\\') {
			if (p + 1 >= end || p[1] == '\r' || p[1] == '\n')
				return NULL;
			p++;
		} else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
			return NULL;
		}
	}
	return NULL;
}

/* Bytes that change the list scanner's state: quote, backslash (only
 * inside quotes), angle brackets, comma. Everything else is skipped in a
 * tight loop: the scan runs over every Via/Route/Record-Route value of
 * every message. */
static const unsigned char list_special[256] = {
	['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, [','] = 1,
};

bool sip_hdr_list_next(rp_str *it, rp_str *elem)
{
	const char *p, *end, *start;
	bool quoted = false;
	int angle = 0;

	/* Before any arithmetic: NULL + 0 is undefined behaviour (UBSan). */
	if (it->n == 0 || it->p == NULL)
		return false;
	p = it->p;
	end = it->p + it->n;
	start = p;
	for (; p < end; p++) {
		char c;

		while (p < end && !list_special[(unsigned char)*p])
			p++;
		if (p == end)
			break;
		c = *p;
		if (quoted) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '<') {
			angle = 1;
		} else if (c == '>') {
			angle = 0;
		} else if (c == ',' && !angle) {
			break;
		}
	}
	*elem = rp_str_trim(rp_str_make(start, (size_t)(p - start)));
	if (p < end)
		*it = rp_str_make(p + 1, (size_t)(end - p - 1));
	else
		*it = rp_str_make(NULL, 0);
	return true;
}

/* One generic-param; p at ';'. */
static bool gparam(const char **pp, const char *end, rp_str *name, rp_str *value,
		   bool *has_value)
{
	const char *p = *pp + 1, *q;

	p = skip_lws(p, end);
	q = skip_token(p, end);
	if (q == p)
		return false;
	*name = rp_str_make(p, (size_t)(q - p));
	*value = rp_str_make(q, 0);
	*has_value = false;
	p = skip_lws(q, end);
	if (p < end && *p == '=') {
		p = skip_lws(p + 1, end);
		if (p < end && *p == '"') {
			q = scan_quoted(p, end);
			if (!q)
				return false;
		} else if (p < end && *p == '[') {
			q = memchr(p, ']', (size_t)(end - p));
			if (!q)
				return false;
			q++;
		} else {
			/* token / host; ':' too, for Via received=IPv6address. */
			q = p;
			while (q < end && (sip_cis(*q, SIP_C_TOKEN) || *q == ':'))
				q++;
			if (q == p)
				return false;
		}
		*value = rp_str_make(p, (size_t)(q - p));
		*has_value = true;
		p = skip_lws(q, end);
	}
	*pp = p;
	return true;
}

enum sip_err sip_hdr_param_next(rp_str *it, rp_str *name, rp_str *value,
				bool *has_value)
{
	const char *p, *end;

	if (it->n == 0)
		return SIP_E__COUNT;
	p = skip_lws(it->p, it->p + it->n);
	end = it->p + it->n;
	if (p == end) {
		*it = rp_str_make(end, 0);
		return SIP_E__COUNT;
	}
	if (*p != ';' || !gparam(&p, end, name, value, has_value))
		return SIP_E_BAD_PARAM;
	*it = rp_str_make(p, (size_t)(end - p));
	return SIP_OK;
}

bool sip_hdr_param_find(rp_str params, const char *pname, rp_str *value)
{
	rp_str it = params, n, v;
	bool hv;

	while (sip_hdr_param_next(&it, &n, &v, &hv) == SIP_OK) {
		if (rp_str_caseeq_cstr(n, pname)) {
			if (value)
				*value = v;
			return true;
		}
	}
	return false;
}

static bool digits_u64(const char *p, const char *end, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static enum sip_transport transport_of(rp_str t)
{
	switch (t.n) {
	case 2:
		if (SIP_LIT_CASEEQ(t, "ws"))
			return SIP_TP_WS;
		break;
	case 3:
		if (SIP_LIT_CASEEQ(t, "udp"))
			return SIP_TP_UDP;
		if (SIP_LIT_CASEEQ(t, "tcp"))
			return SIP_TP_TCP;
		if (SIP_LIT_CASEEQ(t, "tls"))
			return SIP_TP_TLS;
		if (SIP_LIT_CASEEQ(t, "wss"))
			return SIP_TP_WSS;
		break;
	case 4:
		if (SIP_LIT_CASEEQ(t, "sctp"))
			return SIP_TP_SCTP;
		break;
	}
	return SIP_TP_OTHER;
}

#define FAIL(code, at) return sip_perr_set(err, (code), (size_t)((at) - s.p))

enum sip_err sip_via_parse_into(rp_str s, struct sip_via *v, struct sip_perr *err)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	size_t bad;

	memset(v, 0, sizeof(*v));
	v->rport = -1;
	v->ttl = -1;
	p = skip_lws(p, end);
	v->raw = rp_str_trim(rp_str_make(p, (size_t)(end - p)));
	/* sent-protocol: name SLASH version SLASH transport, SWS around '/'. */
	rp_str *parts[3] = { &v->proto_name, &v->proto_version, &v->transport_str };
	for (int i = 0; i < 3; i++) {
		if (i) {
			p = skip_lws(p, end);
			if (p == end || *p != '/')
				FAIL(SIP_E_BAD_VIA, p);
			p = skip_lws(p + 1, end);
		}
		q = skip_token(p, end);
		if (q == p)
			FAIL(SIP_E_BAD_VIA, p);
		*parts[i] = rp_str_make(p, (size_t)(q - p));
		p = q;
	}
	v->transport = transport_of(v->transport_str);
	q = skip_lws(p, end);
	if (q == p)
		FAIL(SIP_E_BAD_VIA, p);
	p = q;
	/* sent-by: host [ COLON port ], SWS allowed around ':'. */
	if (p < end && *p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if (!q)
			FAIL(SIP_E_BAD_VIA, p);
		q++;
	} else {
		q = p;
		while (q < end && sip_cis(*q, SIP_C_HOST))
			q++;
	}
	uint16_t dummy_port;
	bool dummy_hp;
	if (sip_hostport_parse(rp_str_make(p, (size_t)(q - p)), &v->host, &v->host_type,
			       &dummy_port, &dummy_hp, &bad) != SIP_OK || dummy_hp)
		FAIL(SIP_E_BAD_VIA, p + bad);
	p = skip_lws(q, end);
	if (p < end && *p == ':') {
		uint64_t port;

		p = skip_lws(p + 1, end);
		q = p;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		if (!digits_u64(p, q, 65535, &port))
			FAIL(SIP_E_BAD_VIA, p);
		v->port = (uint16_t)port;
		v->has_port = true;
		p = skip_lws(q, end);
	}
	v->params = rp_str_make(p, (size_t)(end - p));
	while (p < end) {
		const char *at = p;
		rp_str name, val;
		bool hv;
		uint64_t n;

		if (*p != ';' || !gparam(&p, end, &name, &val, &hv))
			FAIL(SIP_E_BAD_VIA, at);
		if (SIP_LIT_CASEEQ(name, "branch")) {
			if (!hv || val.p[0] == '"')
				FAIL(SIP_E_BAD_VIA, at);
			v->branch = val;
			v->has_branch = true;
		} else if (SIP_LIT_CASEEQ(name, "received")) {
			/* received = IPv4address / IPv6address (brackets tolerated) */
			rp_str ip = val;

			if (ip.n >= 2 && ip.p[0] == '[' && ip.p[ip.n - 1] == ']')
				ip = rp_str_make(ip.p + 1, ip.n - 2);
			if (!hv || (!sip_ipv4_valid(ip) && !sip_ipv6_valid(ip)))
				FAIL(SIP_E_BAD_VIA, at);
			v->received = val;
			v->has_received = true;
		} else if (SIP_LIT_CASEEQ(name, "rport")) {
			v->has_rport = true;
			if (hv) {
				if (!digits_u64(val.p, val.p + val.n, 65535, &n))
					FAIL(SIP_E_BAD_VIA, at);
				v->rport = (int32_t)n;
			}
		} else if (SIP_LIT_CASEEQ(name, "maddr")) {
			if (!hv)
				FAIL(SIP_E_BAD_VIA, at);
			v->maddr = val;
			v->has_maddr = true;
		} else if (SIP_LIT_CASEEQ(name, "ttl")) {
			if (!hv || !digits_u64(val.p, val.p + val.n, 255, &n))
				FAIL(SIP_E_BAD_VIA, at);
			v->ttl = (int)n;
		}
	}
		return SIP_OK;
}

enum sip_err sip_via_parse(rp_str s, struct sip_via *out, struct sip_perr *err)
{
	struct sip_via tmp;
	enum sip_err rc = sip_via_parse_into(s, &tmp, err);

	if (rc == SIP_OK)
		*out = tmp;
	return rc;
}

bool sip_via_branch_is_rfc3261(const struct sip_via *v)
{
	return v->has_branch && v->branch.n > 7 &&
	       memcmp(v->branch.p, "z9hG4bK", 7) == 0;
}

static enum sip_err nameaddr_parse(rp_str s, struct sip_nameaddr *na,
				    struct sip_perr *err, bool parse_uri)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	struct sip_perr uerr;

	memset(na, 0, sizeof(*na));
	p = skip_lws(p, end);
	na->raw = rp_str_trim(rp_str_make(p, (size_t)(end - p)));
	if (p == end)
		FAIL(SIP_E_BAD_NAME_ADDR, p);
	if (*p == '*') {
		if (skip_lws(p + 1, end) != end)
			FAIL(SIP_E_BAD_NAME_ADDR, p);
		na->star = true;
				return SIP_OK;
	}
	if (*p == '"') {
		q = scan_quoted(p, end);
		if (!q)
			FAIL(SIP_E_BAD_NAME_ADDR, p);
		na->display = rp_str_make(p, (size_t)(q - p));
		na->display_quoted = true;
		p = skip_lws(q, end);
		if (p == end || *p != '<')
			FAIL(SIP_E_BAD_NAME_ADDR, p);
	} else if (*p != '<') {
		q = p;
		while (q < end && (sip_cis(*q, SIP_C_TOKEN) || is_lws(*q)))
			q++;
		if (q < end && *q == '<') {
			na->display = rp_str_trim(rp_str_make(p, (size_t)(q - p)));
			p = q;
		}
	}
	if (*p == '<') {
		p++;
		q = memchr(p, '>', (size_t)(end - p));
		if (!q)
			FAIL(SIP_E_BAD_NAME_ADDR, p - 1);
		na->uri_str = rp_str_make(p, (size_t)(q - p));
		na->bracketed = true;
		if (parse_uri && sip_uri_parse_into(na->uri_str, &na->uri, &uerr) != SIP_OK)
			FAIL(SIP_E_BAD_URI, p + uerr.off);
		p = skip_lws(q + 1, end);
	} else {
		/* addr-spec: a URI with ';', ',' or '?' must be in <>, so the
		 * URI ends at the first ';' or LWS. */
		q = p;
		while (q < end && *q != ';' && !is_lws(*q)) {
			if (*q == '?' || *q == ',')
				FAIL(SIP_E_BAD_NAME_ADDR, q);
			q++;
		}
		na->uri_str = rp_str_make(p, (size_t)(q - p));
		if (parse_uri && sip_uri_parse_into(na->uri_str, &na->uri, &uerr) != SIP_OK)
			FAIL(SIP_E_BAD_URI, p + uerr.off);
		p = skip_lws(q, end);
	}
	na->params = rp_str_make(p, (size_t)(end - p));
	while (p < end) {
		const char *at = p;
		rp_str name, val;
		bool hv;

		if (*p != ';' || !gparam(&p, end, &name, &val, &hv))
			FAIL(SIP_E_BAD_NAME_ADDR, at);
		if (name.n == 3 && SIP_LIT_CASEEQ(name, "tag")) {
			if (!hv || val.p[0] == '"' || val.p[0] == '[' || na->has_tag)
				FAIL(SIP_E_BAD_NAME_ADDR, at);
			na->tag = val;
			na->has_tag = true;
		}
	}
		return SIP_OK;
}

enum sip_err sip_nameaddr_parse_into(rp_str s, struct sip_nameaddr *na,
				struct sip_perr *err)
{
	enum sip_err rc = nameaddr_parse(s, na, err, true);

	if (rc == SIP_OK)
		na->uri_parsed = true;
	return rc;
}

enum sip_err sip_nameaddr_parse_into_lazy(rp_str s, struct sip_nameaddr *na,
				struct sip_perr *err)
{
	return nameaddr_parse(s, na, err, false);
}

enum sip_err sip_nameaddr_parse_uri(struct sip_nameaddr *na, struct sip_perr *err)
{
	if (na->uri_parsed || na->star)
		return SIP_OK;
	if (sip_uri_parse_into(na->uri_str, &na->uri, err) != SIP_OK)
		return SIP_E_BAD_URI;
	na->uri_parsed = true;
	return SIP_OK;
}

enum sip_err sip_nameaddr_parse(rp_str s, struct sip_nameaddr *out, struct sip_perr *err)
{
	struct sip_nameaddr tmp;
	enum sip_err rc = sip_nameaddr_parse_into(s, &tmp, err);

	if (rc == SIP_OK)
		*out = tmp;
	return rc;
}

enum sip_err sip_cseq_parse(rp_str s, struct sip_cseq *out, struct sip_perr *err)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	uint64_t n;
	struct sip_cseq c;

	p = skip_lws(p, end);
	q = p;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	if (!digits_u64(p, q, 0x7fffffffu, &n))
		FAIL(SIP_E_BAD_CSEQ, p);
	c.num = (uint32_t)n;
	p = skip_lws(q, end);
	if (p == q)
		FAIL(SIP_E_BAD_CSEQ, p);
	q = skip_token(p, end);
	if (q == p)
		FAIL(SIP_E_BAD_CSEQ, p);
	c.method_str = rp_str_make(p, (size_t)(q - p));
	c.method = sip_method_from_str(c.method_str);
	if (skip_lws(q, end) != end)
		FAIL(SIP_E_BAD_CSEQ, q);
	*out = c;
	return SIP_OK;
}

static enum sip_err number(rp_str s, uint64_t max, uint32_t *out, enum sip_err code,
			   struct sip_perr *err)
{
	rp_str t = rp_str_trim(s);
	uint64_t n;

	if (!digits_u64(t.p, t.p + t.n, max, &n))
		return sip_perr_set(err, code, t.p ? (size_t)(t.p - s.p) : 0);
	*out = (uint32_t)n;
	return SIP_OK;
}

enum sip_err sip_max_forwards_parse(rp_str s, uint32_t *out, struct sip_perr *err)
{
	return number(s, 255, out, SIP_E_BAD_MAX_FORWARDS, err);
}

enum sip_err sip_content_length_parse(rp_str s, uint32_t *out, struct sip_perr *err)
{
	return number(s, UINT32_MAX, out, SIP_E_BAD_CONTENT_LENGTH, err);
}

enum sip_err sip_call_id_parse(rp_str s, rp_str *out, struct sip_perr *err)
{
	rp_str t = rp_str_trim(s);
	size_t i = 0;
	bool at = false;

	if (t.n == 0)
		return sip_perr_set(err, SIP_E_BAD_CALL_ID, 0);
	for (i = 0; i < t.n; i++) {
		char c = t.p[i];

		if (sip_cis(c, SIP_C_WORD))
			continue;
		/* one '@' with a word on each side */
		if (c == '@' && !at && i > 0 && i + 1 < t.n) {
			at = true;
			continue;
		}
		return sip_perr_set(err, SIP_E_BAD_CALL_ID, (size_t)(t.p - s.p) + i);
	}
	*out = t;
	return SIP_OK;
}

static bool in_list(const char *p, const char *list)
{
	for (; *list; list += 3)
		if (memcmp(p, list, 3) == 0)
			return true;
	return false;
}

enum sip_err sip_date_parse(rp_str s, struct sip_perr *err)
{
	rp_str t = rp_str_trim(s);
	const char *p = t.p;
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	static const char pat[] = "www, dd mmm yyyy dd:dd:dd GMT";
	size_t base = t.p ? (size_t)(t.p - s.p) : 0;

	if (t.n != sizeof(pat) - 1)
		return sip_perr_set(err, SIP_E_BAD_HEADER, base);
	for (size_t i = 0; i < t.n; i++) {
		char pc = pat[i];

		if (pc == 'd' || pc == 'y') {
			if (p[i] < '0' || p[i] > '9')
				return sip_perr_set(err, SIP_E_BAD_HEADER, base + i);
		} else if (pc == 'w' || pc == 'm') {
			continue;
		} else if (p[i] != pc) {
			return sip_perr_set(err, SIP_E_BAD_HEADER, base + i);
		}
	}
	if (!in_list(p, "MonTueWedThuFriSatSun"))
		return sip_perr_set(err, SIP_E_BAD_HEADER, base);
	if (!in_list(p + 8, "JanFebMarAprMayJunJulAugSepOctNovDec"))
		return sip_perr_set(err, SIP_E_BAD_HEADER, base + 8);
	return SIP_OK;
}
