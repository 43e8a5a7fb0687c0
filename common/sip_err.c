#include "sip_err.h"

static const char *const reasons[SIP_E__COUNT] = {
	[SIP_OK] = "OK",
	[SIP_E_BAD_REQUEST_LINE] = "Bad Request-Line",
	[SIP_E_BAD_STATUS_LINE] = "Bad Status-Line",
	[SIP_E_BAD_VERSION] = "Bad SIP Version",
	[SIP_E_BAD_METHOD] = "Bad Method",
	[SIP_E_BAD_URI] = "Bad URI",
	[SIP_E_BAD_HEADER] = "Bad Header",
	[SIP_E_BAD_VIA] = "Bad Via",
	[SIP_E_BAD_CSEQ] = "Bad CSeq",
	[SIP_E_CSEQ_MISMATCH] = "CSeq Method Mismatch",
	[SIP_E_BAD_MAX_FORWARDS] = "Bad Max-Forwards",
	[SIP_E_BAD_CONTENT_LENGTH] = "Bad Content-Length",
	[SIP_E_BAD_NAME_ADDR] = "Bad Address",
	[SIP_E_BAD_CALL_ID] = "Bad Call-ID",
	[SIP_E_BAD_PARAM] = "Bad Parameter",
	[SIP_E_MISSING_HEADER] = "Missing Header",
	[SIP_E_DUP_HEADER] = "Duplicate Header",
	[SIP_E_CLEN_MISMATCH] = "Content-Length Mismatch",
	[SIP_E_MISSING_CLEN] = "Missing Content-Length",
	[SIP_E_TOO_MANY_HEADERS] = "Too Many Headers",
	[SIP_E_TOO_LARGE] = "Message Too Large",
	[SIP_E_NUL_BYTE] = "NUL Byte",
	[SIP_E_TRUNCATED] = "Truncated Message",
	[SIP_E_NOMEM] = "Out Of Memory",
	[SIP_E_NOSPACE] = "No Space",
	[SIP_E_INVALID_ARG] = "Invalid Argument",
};

static const char *const names[SIP_E__COUNT] = {
#define N(x) [x] = #x
	N(SIP_OK), N(SIP_E_BAD_REQUEST_LINE), N(SIP_E_BAD_STATUS_LINE),
	N(SIP_E_BAD_VERSION), N(SIP_E_BAD_METHOD), N(SIP_E_BAD_URI),
	N(SIP_E_BAD_HEADER), N(SIP_E_BAD_VIA), N(SIP_E_BAD_CSEQ),
	N(SIP_E_CSEQ_MISMATCH), N(SIP_E_BAD_MAX_FORWARDS),
	N(SIP_E_BAD_CONTENT_LENGTH), N(SIP_E_BAD_NAME_ADDR),
	N(SIP_E_BAD_CALL_ID), N(SIP_E_BAD_PARAM), N(SIP_E_MISSING_HEADER),
	N(SIP_E_DUP_HEADER), N(SIP_E_CLEN_MISMATCH), N(SIP_E_MISSING_CLEN),
	N(SIP_E_TOO_MANY_HEADERS), N(SIP_E_TOO_LARGE), N(SIP_E_NUL_BYTE),
	N(SIP_E_TRUNCATED), N(SIP_E_NOMEM), N(SIP_E_NOSPACE),
	N(SIP_E_INVALID_ARG),
#undef N
};

const char *sip_err_reason(enum sip_err e)
{
	if ((unsigned)e >= SIP_E__COUNT)
		return "Bad Request";
	return reasons[e];
}

const char *sip_err_name(enum sip_err e)
{
	if ((unsigned)e >= SIP_E__COUNT)
		return "SIP_E_UNKNOWN";
	return names[e];
}
