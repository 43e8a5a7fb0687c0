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

/* lower-cased name of length n -> id (generated: switch on length, then
 * first byte, then memcmp). */
static enum sip_hdr_id lookup_lower(const char *s, size_t n)
{
	switch (n) {
	case 1:
		switch (s[0]) {
		case 'a':
			return SIP_HDR_ACCEPT_CONTACT;
		case 'b':
			return SIP_HDR_REFERRED_BY;
		case 'c':
			return SIP_HDR_CONTENT_TYPE;
		case 'd':
			return SIP_HDR_REQUEST_DISPOSITION;
		case 'e':
			return SIP_HDR_CONTENT_ENCODING;
		case 'f':
			return SIP_HDR_FROM;
		case 'i':
			return SIP_HDR_CALL_ID;
		case 'j':
			return SIP_HDR_REJECT_CONTACT;
		case 'k':
			return SIP_HDR_SUPPORTED;
		case 'l':
			return SIP_HDR_CONTENT_LENGTH;
		case 'm':
			return SIP_HDR_CONTACT;
		case 'n':
			return SIP_HDR_IDENTITY_INFO;
		case 'o':
			return SIP_HDR_EVENT;
		case 'r':
			return SIP_HDR_REFER_TO;
		case 's':
			return SIP_HDR_SUBJECT;
		case 't':
			return SIP_HDR_TO;
		case 'u':
			return SIP_HDR_ALLOW_EVENTS;
		case 'v':
			return SIP_HDR_VIA;
		case 'x':
			return SIP_HDR_SESSION_EXPIRES;
		case 'y':
			return SIP_HDR_IDENTITY;
		}
		break;
	case 2:
		switch (s[0]) {
		case 't':
			if (memcmp(s + 1, "o", 1) == 0)
				return SIP_HDR_TO;
			break;
		}
		break;
	case 3:
		switch (s[0]) {
		case 'v':
			if (memcmp(s + 1, "ia", 2) == 0)
				return SIP_HDR_VIA;
			break;
		}
		break;
	case 4:
		switch (s[0]) {
		case 'c':
			if (memcmp(s + 1, "seq", 3) == 0)
				return SIP_HDR_CSEQ;
			break;
		case 'd':
			if (memcmp(s + 1, "ate", 3) == 0)
				return SIP_HDR_DATE;
			break;
		case 'f':
			if (memcmp(s + 1, "rom", 3) == 0)
				return SIP_HDR_FROM;
			break;
		case 'p':
			if (memcmp(s + 1, "ath", 3) == 0)
				return SIP_HDR_PATH;
			break;
		case 'r':
			if (memcmp(s + 1, "ack", 3) == 0)
				return SIP_HDR_RACK;
			if (memcmp(s + 1, "seq", 3) == 0)
				return SIP_HDR_RSEQ;
			break;
		}
		break;
	case 5:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "llow", 4) == 0)
				return SIP_HDR_ALLOW;
			break;
		case 'e':
			if (memcmp(s + 1, "vent", 4) == 0)
				return SIP_HDR_EVENT;
			break;
		case 'r':
			if (memcmp(s + 1, "oute", 4) == 0)
				return SIP_HDR_ROUTE;
			break;
		}
		break;
	case 6:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "ccept", 5) == 0)
				return SIP_HDR_ACCEPT;
			break;
		case 'm':
			if (memcmp(s + 1, "in-se", 5) == 0)
				return SIP_HDR_MIN_SE;
			break;
		case 'r':
			if (memcmp(s + 1, "eason", 5) == 0)
				return SIP_HDR_REASON;
			break;
		case 's':
			if (memcmp(s + 1, "erver", 5) == 0)
				return SIP_HDR_SERVER;
			break;
		}
		break;
	case 7:
		switch (s[0]) {
		case 'c':
			if (memcmp(s + 1, "all-id", 6) == 0)
				return SIP_HDR_CALL_ID;
			if (memcmp(s + 1, "ontact", 6) == 0)
				return SIP_HDR_CONTACT;
			break;
		case 'e':
			if (memcmp(s + 1, "xpires", 6) == 0)
				return SIP_HDR_EXPIRES;
			break;
		case 'p':
			if (memcmp(s + 1, "rivacy", 6) == 0)
				return SIP_HDR_PRIVACY;
			break;
		case 'r':
			if (memcmp(s + 1, "equire", 6) == 0)
				return SIP_HDR_REQUIRE;
			break;
		case 's':
			if (memcmp(s + 1, "ubject", 6) == 0)
				return SIP_HDR_SUBJECT;
			break;
		case 'w':
			if (memcmp(s + 1, "arning", 6) == 0)
				return SIP_HDR_WARNING;
			break;
		}
		break;
	case 8:
		switch (s[0]) {
		case 'i':
			if (memcmp(s + 1, "dentity", 7) == 0)
				return SIP_HDR_IDENTITY;
			break;
		case 'p':
			if (memcmp(s + 1, "riority", 7) == 0)
				return SIP_HDR_PRIORITY;
			break;
		case 'r':
			if (memcmp(s + 1, "efer-to", 7) == 0)
				return SIP_HDR_REFER_TO;
			if (memcmp(s + 1, "eplaces", 7) == 0)
				return SIP_HDR_REPLACES;
			if (memcmp(s + 1, "eply-to", 7) == 0)
				return SIP_HDR_REPLY_TO;
			break;
		}
		break;
	case 9:
		switch (s[0]) {
		case 'c':
			if (memcmp(s + 1, "all-info", 8) == 0)
				return SIP_HDR_CALL_INFO;
			break;
		case 's':
			if (memcmp(s + 1, "upported", 8) == 0)
				return SIP_HDR_SUPPORTED;
			break;
		case 't':
			if (memcmp(s + 1, "imestamp", 8) == 0)
				return SIP_HDR_TIMESTAMP;
			break;
		}
		break;
	case 10:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "lert-info", 9) == 0)
				return SIP_HDR_ALERT_INFO;
			break;
		case 'e':
			if (memcmp(s + 1, "rror-info", 9) == 0)
				return SIP_HDR_ERROR_INFO;
			break;
		case 'u':
			if (memcmp(s + 1, "ser-agent", 9) == 0)
				return SIP_HDR_USER_AGENT;
			break;
		}
		break;
	case 11:
		switch (s[0]) {
		case 'i':
			if (memcmp(s + 1, "n-reply-to", 10) == 0)
				return SIP_HDR_IN_REPLY_TO;
			break;
		case 'm':
			if (memcmp(s + 1, "in-expires", 10) == 0)
				return SIP_HDR_MIN_EXPIRES;
			break;
		case 'r':
			if (memcmp(s + 1, "eferred-by", 10) == 0)
				return SIP_HDR_REFERRED_BY;
			if (memcmp(s + 1, "etry-after", 10) == 0)
				return SIP_HDR_RETRY_AFTER;
			break;
		case 'u':
			if (memcmp(s + 1, "nsupported", 10) == 0)
				return SIP_HDR_UNSUPPORTED;
			break;
		}
		break;
	case 12:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "llow-events", 11) == 0)
				return SIP_HDR_ALLOW_EVENTS;
			break;
		case 'c':
			if (memcmp(s + 1, "ontent-type", 11) == 0)
				return SIP_HDR_CONTENT_TYPE;
			break;
		case 'm':
			if (memcmp(s + 1, "ax-forwards", 11) == 0)
				return SIP_HDR_MAX_FORWARDS;
			if (memcmp(s + 1, "ime-version", 11) == 0)
				return SIP_HDR_MIME_VERSION;
			break;
		case 'o':
			if (memcmp(s + 1, "rganization", 11) == 0)
				return SIP_HDR_ORGANIZATION;
			break;
		case 'r':
			if (memcmp(s + 1, "ecord-route", 11) == 0)
				return SIP_HDR_RECORD_ROUTE;
			break;
		}
		break;
	case 13:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "uthorization", 12) == 0)
				return SIP_HDR_AUTHORIZATION;
			break;
		case 'i':
			if (memcmp(s + 1, "dentity-info", 12) == 0)
				return SIP_HDR_IDENTITY_INFO;
			break;
		case 'p':
			if (memcmp(s + 1, "roxy-require", 12) == 0)
				return SIP_HDR_PROXY_REQUIRE;
			break;
		}
		break;
	case 14:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "ccept-contact", 13) == 0)
				return SIP_HDR_ACCEPT_CONTACT;
			break;
		case 'c':
			if (memcmp(s + 1, "ontent-length", 13) == 0)
				return SIP_HDR_CONTENT_LENGTH;
			break;
		case 'r':
			if (memcmp(s + 1, "eject-contact", 13) == 0)
				return SIP_HDR_REJECT_CONTACT;
			break;
		}
		break;
	case 15:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "ccept-encoding", 14) == 0)
				return SIP_HDR_ACCEPT_ENCODING;
			if (memcmp(s + 1, "ccept-language", 14) == 0)
				return SIP_HDR_ACCEPT_LANGUAGE;
			break;
		case 's':
			if (memcmp(s + 1, "ession-expires", 14) == 0)
				return SIP_HDR_SESSION_EXPIRES;
			break;
		}
		break;
	case 16:
		switch (s[0]) {
		case 'c':
			if (memcmp(s + 1, "ontent-encoding", 15) == 0)
				return SIP_HDR_CONTENT_ENCODING;
			if (memcmp(s + 1, "ontent-language", 15) == 0)
				return SIP_HDR_CONTENT_LANGUAGE;
			break;
		case 'w':
			if (memcmp(s + 1, "ww-authenticate", 15) == 0)
				return SIP_HDR_WWW_AUTHENTICATE;
			break;
		}
		break;
	case 18:
		switch (s[0]) {
		case 'p':
			if (memcmp(s + 1, "roxy-authenticate", 17) == 0)
				return SIP_HDR_PROXY_AUTHENTICATE;
			break;
		case 's':
			if (memcmp(s + 1, "ubscription-state", 17) == 0)
				return SIP_HDR_SUBSCRIPTION_STATE;
			break;
		}
		break;
	case 19:
		switch (s[0]) {
		case 'a':
			if (memcmp(s + 1, "uthentication-info", 18) == 0)
				return SIP_HDR_AUTHENTICATION_INFO;
			break;
		case 'c':
			if (memcmp(s + 1, "ontent-disposition", 18) == 0)
				return SIP_HDR_CONTENT_DISPOSITION;
			break;
		case 'p':
			if (memcmp(s + 1, "-asserted-identity", 18) == 0)
				return SIP_HDR_P_ASSERTED_IDENTITY;
			if (memcmp(s + 1, "roxy-authorization", 18) == 0)
				return SIP_HDR_PROXY_AUTHORIZATION;
			break;
		case 'r':
			if (memcmp(s + 1, "equest-disposition", 18) == 0)
				return SIP_HDR_REQUEST_DISPOSITION;
			break;
		}
		break;
	case 20:
		switch (s[0]) {
		case 'p':
			if (memcmp(s + 1, "-preferred-identity", 19) == 0)
				return SIP_HDR_P_PREFERRED_IDENTITY;
			break;
		}
		break;
	}
	return SIP_HDR_OTHER;
}


enum sip_hdr_id sip_hdr_lookup(rp_str name)
{
	char low[24];

	/* No known name is longer than 20 bytes. */
	if (name.n == 0 || name.n > sizeof(low))
		return SIP_HDR_OTHER;
	for (size_t i = 0; i < name.n; i++) {
		unsigned char c = (unsigned char)name.p[i];

		low[i] = (char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
	}
	return lookup_lower(low, name.n);
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

bool sip_hdr_list_next(rp_str *it, rp_str *elem)
{
	const char *p = it->p, *end = it->p + it->n, *start;
	bool quoted = false;
	int angle = 0;

	if (it->n == 0 || it->p == NULL)
		return false;
	start = p;
	for (; p < end; p++) {
		char c = *p;

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
		if (rp_str_caseeq_cstr(t, "WS"))
			return SIP_TP_WS;
		break;
	case 3:
		if (rp_str_caseeq_cstr(t, "UDP"))
			return SIP_TP_UDP;
		if (rp_str_caseeq_cstr(t, "TCP"))
			return SIP_TP_TCP;
		if (rp_str_caseeq_cstr(t, "TLS"))
			return SIP_TP_TLS;
		if (rp_str_caseeq_cstr(t, "WSS"))
			return SIP_TP_WSS;
		break;
	case 4:
		if (rp_str_caseeq_cstr(t, "SCTP"))
			return SIP_TP_SCTP;
		break;
	}
	return SIP_TP_OTHER;
}

#define FAIL(code, at) return sip_perr_set(err, (code), (size_t)((at) - s.p))

enum sip_err sip_via_parse(rp_str s, struct sip_via *out, struct sip_perr *err)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	struct sip_via v;
	size_t bad;

	memset(&v, 0, sizeof(v));
	v.rport = -1;
	v.ttl = -1;
	p = skip_lws(p, end);
	v.raw = rp_str_trim(rp_str_make(p, (size_t)(end - p)));
	/* sent-protocol: name SLASH version SLASH transport, SWS around '/'. */
	rp_str *parts[3] = { &v.proto_name, &v.proto_version, &v.transport_str };
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
	v.transport = transport_of(v.transport_str);
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
	if (sip_hostport_parse(rp_str_make(p, (size_t)(q - p)), &v.host, &v.host_type,
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
		v.port = (uint16_t)port;
		v.has_port = true;
		p = skip_lws(q, end);
	}
	v.params = rp_str_make(p, (size_t)(end - p));
	while (p < end) {
		const char *at = p;
		rp_str name, val;
		bool hv;
		uint64_t n;

		if (*p != ';' || !gparam(&p, end, &name, &val, &hv))
			FAIL(SIP_E_BAD_VIA, at);
		if (rp_str_caseeq_cstr(name, "branch")) {
			if (!hv || val.p[0] == '"')
				FAIL(SIP_E_BAD_VIA, at);
			v.branch = val;
			v.has_branch = true;
		} else if (rp_str_caseeq_cstr(name, "received")) {
			/* received = IPv4address / IPv6address (brackets tolerated) */
			rp_str ip = val;

			if (ip.n >= 2 && ip.p[0] == '[' && ip.p[ip.n - 1] == ']')
				ip = rp_str_make(ip.p + 1, ip.n - 2);
			if (!hv || (!sip_ipv4_valid(ip) && !sip_ipv6_valid(ip)))
				FAIL(SIP_E_BAD_VIA, at);
			v.received = val;
			v.has_received = true;
		} else if (rp_str_caseeq_cstr(name, "rport")) {
			v.has_rport = true;
			if (hv) {
				if (!digits_u64(val.p, val.p + val.n, 65535, &n))
					FAIL(SIP_E_BAD_VIA, at);
				v.rport = (int32_t)n;
			}
		} else if (rp_str_caseeq_cstr(name, "maddr")) {
			if (!hv)
				FAIL(SIP_E_BAD_VIA, at);
			v.maddr = val;
			v.has_maddr = true;
		} else if (rp_str_caseeq_cstr(name, "ttl")) {
			if (!hv || !digits_u64(val.p, val.p + val.n, 255, &n))
				FAIL(SIP_E_BAD_VIA, at);
			v.ttl = (int)n;
		}
	}
	*out = v;
	return SIP_OK;
}

bool sip_via_branch_is_rfc3261(const struct sip_via *v)
{
	return v->has_branch && v->branch.n > 7 &&
	       memcmp(v->branch.p, "z9hG4bK", 7) == 0;
}

enum sip_err sip_nameaddr_parse(rp_str s, struct sip_nameaddr *out,
				struct sip_perr *err)
{
	const char *p = s.p, *end = s.p + s.n, *q;
	struct sip_nameaddr na;
	struct sip_perr uerr;

	memset(&na, 0, sizeof(na));
	p = skip_lws(p, end);
	na.raw = rp_str_trim(rp_str_make(p, (size_t)(end - p)));
	if (p == end)
		FAIL(SIP_E_BAD_NAME_ADDR, p);
	if (*p == '*') {
		if (skip_lws(p + 1, end) != end)
			FAIL(SIP_E_BAD_NAME_ADDR, p);
		na.star = true;
		*out = na;
		return SIP_OK;
	}
	if (*p == '"') {
		q = scan_quoted(p, end);
		if (!q)
			FAIL(SIP_E_BAD_NAME_ADDR, p);
		na.display = rp_str_make(p, (size_t)(q - p));
		na.display_quoted = true;
		p = skip_lws(q, end);
		if (p == end || *p != '<')
			FAIL(SIP_E_BAD_NAME_ADDR, p);
	} else if (*p != '<') {
		q = p;
		while (q < end && (sip_cis(*q, SIP_C_TOKEN) || is_lws(*q)))
			q++;
		if (q < end && *q == '<') {
			na.display = rp_str_trim(rp_str_make(p, (size_t)(q - p)));
			p = q;
		}
	}
	if (*p == '<') {
		p++;
		q = memchr(p, '>', (size_t)(end - p));
		if (!q)
			FAIL(SIP_E_BAD_NAME_ADDR, p - 1);
		na.uri_str = rp_str_make(p, (size_t)(q - p));
		na.bracketed = true;
		if (sip_uri_parse(na.uri_str, &na.uri, &uerr) != SIP_OK)
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
		na.uri_str = rp_str_make(p, (size_t)(q - p));
		if (sip_uri_parse(na.uri_str, &na.uri, &uerr) != SIP_OK)
			FAIL(SIP_E_BAD_URI, p + uerr.off);
		p = skip_lws(q, end);
	}
	na.params = rp_str_make(p, (size_t)(end - p));
	while (p < end) {
		const char *at = p;
		rp_str name, val;
		bool hv;

		if (*p != ';' || !gparam(&p, end, &name, &val, &hv))
			FAIL(SIP_E_BAD_NAME_ADDR, at);
		if (name.n == 3 && rp_str_caseeq_cstr(name, "tag")) {
			if (!hv || val.p[0] == '"' || val.p[0] == '[' || na.has_tag)
				FAIL(SIP_E_BAD_NAME_ADDR, at);
			na.tag = val;
			na.has_tag = true;
		}
	}
	*out = na;
	return SIP_OK;
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
