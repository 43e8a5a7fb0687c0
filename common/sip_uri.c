#include "sip_uri.h"

#include <errno.h>
#include <string.h>

/* Generated from the RFC 3261 §25 character sets (one flag per class). */
const uint16_t sip_ctab[256] = {
	[33] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[34] = SIP_C_WORD,
	[35] = SIP_C_TEL,
	[36] = SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_TEL,
	[37] = SIP_C_TOKEN | SIP_C_WORD,
	[38] = SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_TEL,
	[39] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[40] = SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[41] = SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[42] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[43] = SIP_C_TOKEN | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_SCHEME | SIP_C_TEL,
	[44] = SIP_C_USER | SIP_C_PASS | SIP_C_TEL,
	[45] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[46] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[47] = SIP_C_USER | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[48] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[49] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[50] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[51] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[52] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[53] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[54] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[55] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[56] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[57] = SIP_C_DIGIT | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[58] = SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[59] = SIP_C_USER,
	[60] = SIP_C_WORD,
	[61] = SIP_C_USER | SIP_C_PASS | SIP_C_TEL,
	[62] = SIP_C_WORD,
	[63] = SIP_C_USER | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[65] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[66] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[67] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[68] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[69] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[70] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[71] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[72] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[73] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[74] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[75] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[76] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[77] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[78] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[79] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[80] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[81] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[82] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[83] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[84] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[85] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[86] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[87] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[88] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[89] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[90] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[91] = SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[92] = SIP_C_WORD,
	[93] = SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[95] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
	[96] = SIP_C_TOKEN | SIP_C_WORD,
	[97] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[98] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[99] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[100] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[101] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[102] = SIP_C_ALPHA | SIP_C_HEX | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[103] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[104] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[105] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[106] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[107] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[108] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[109] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[110] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[111] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[112] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[113] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[114] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[115] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[116] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[117] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[118] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[119] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[120] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[121] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[122] = SIP_C_ALPHA | SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_HOST | SIP_C_SCHEME | SIP_C_TEL,
	[123] = SIP_C_WORD,
	[125] = SIP_C_WORD,
	[126] = SIP_C_TOKEN | SIP_C_UNRES | SIP_C_USER | SIP_C_PASS | SIP_C_PARAM | SIP_C_HNV | SIP_C_WORD | SIP_C_TEL,
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Length of the prefix of p[0..n) made of class 'cls' chars or %HH escapes. */
static size_t span_esc(const char *p, size_t n, unsigned cls)
{
	size_t i = 0;

	while (i < n) {
		if (sip_cis(p[i], cls)) {
			i++;
		} else if (p[i] == '%' && i + 2 < n &&
			   sip_cis(p[i + 1], SIP_C_HEX) && sip_cis(p[i + 2], SIP_C_HEX)) {
			i += 3;
		} else {
			break;
		}
	}
	return i;
}

static bool all_esc(rp_str s, unsigned cls, size_t *bad)
{
	size_t k = span_esc(s.p, s.n, cls);

	if (k != s.n) {
		*bad = k;
		return false;
	}
	return true;
}

static bool ipv4_valid(const char *p, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
		while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return i == n;
}

static bool ipv6_valid(const char *p, size_t n)
{
	int groups = 0;
	bool dcolon = false;
	size_t i = 0;

	if (n < 2)
		return false;
	if (p[0] == ':') {
		if (p[1] != ':')
			return false;
		dcolon = true;
		i = 2;
		if (i == n)
			return true;
	}
	while (i < n) {
		size_t start = i;
		int hex = 0;

		while (i < n && hex < 5 && sip_cis(p[i], SIP_C_HEX)) {
			i++;
			hex++;
		}
		if (i < n && p[i] == '.') {
			/* Embedded IPv4 ends the address and counts as two groups. */
			if (!ipv4_valid(p + start, n - start))
				return false;
			groups += 2;
			i = n;
			break;
		}
		if (hex == 0 || hex > 4)
			return false;
		groups++;
		if (i == n)
			break;
		if (p[i] != ':')
			return false;
		i++;
		if (i < n && p[i] == ':') {
			if (dcolon)
				return false;
			dcolon = true;
			i++;
			if (i == n)
				break;
		} else if (i == n) {
			return false; /* trailing single ':' */
		}
	}
	return dcolon ? groups < 8 : groups == 8;
}

bool sip_ipv4_valid(rp_str s)
{
	return s.n && ipv4_valid(s.p, s.n);
}

bool sip_ipv6_valid(rp_str s)
{
	return s.n && ipv6_valid(s.p, s.n);
}

enum sip_err sip_hostport_parse(rp_str s, rp_str *host, enum sip_host_type *type,
				uint16_t *port, bool *has_port, size_t *erroff)
{
	size_t i, hend;
	enum sip_host_type t;
	rp_str h;

	if (s.n == 0) {
		*erroff = 0;
		return SIP_E_BAD_URI;
	}
	if (s.p[0] == '[') {
		const char *rb = memchr(s.p, ']', s.n);

		if (!rb || !ipv6_valid(s.p + 1, (size_t)(rb - s.p) - 1)) {
			*erroff = 1;
			return SIP_E_BAD_URI;
		}
		h = rp_str_make(s.p + 1, (size_t)(rb - s.p) - 1);
		t = SIP_HOST_IPV6;
		hend = (size_t)(rb - s.p) + 1;
	} else {
		/* One pass: hostname = *(domainlabel ".") toplabel ["."], or an
		 * IPv4address when it is all digits and dots. */
		size_t label = 0, prev_label = 0;
		bool numeric = true;
		char last = 0;

		for (i = 0; i < s.n; i++) {
			char c = s.p[i];

			if (c == ':')
				break;
			if (c == '.') {
				if (i == label || last == '-')
					goto bad_at_i;
				prev_label = label;
				label = i + 1;
			} else if (c >= '0' && c <= '9') {
				/* fine */
			} else if (sip_cis(c, SIP_C_ALPHA)) {
				numeric = false;
			} else if (c == '-') {
				if (i == label)
					goto bad_at_i;
				numeric = false;
			} else {
				goto bad_at_i;
			}
			last = c;
		}
		hend = i;
		h = rp_str_make(s.p, hend);
		if (hend == 0) {
			*erroff = 0;
			return SIP_E_BAD_URI;
		}
		if (numeric) {
			if (!ipv4_valid(h.p, h.n)) {
				*erroff = 0;
				return SIP_E_BAD_URI;
			}
			t = SIP_HOST_IPV4;
		} else {
			size_t top = label == hend ? prev_label : label;

			if (last == '-' || !sip_cis(s.p[top], SIP_C_ALPHA)) {
				*erroff = last == '-' ? hend - 1 : top;
				return SIP_E_BAD_URI;
			}
			t = SIP_HOST_FQDN;
		}
		goto host_done;
bad_at_i:
		*erroff = i;
		return SIP_E_BAD_URI;
	}
host_done:;
	uint32_t pv = 0;
	bool hp = false;
	if (hend < s.n) {
		if (s.p[hend] != ':' || hend + 1 == s.n || s.n - hend - 1 > 5) {
			*erroff = hend;
			return SIP_E_BAD_URI;
		}
		for (i = hend + 1; i < s.n; i++) {
			if (s.p[i] < '0' || s.p[i] > '9') {
				*erroff = i;
				return SIP_E_BAD_URI;
			}
			pv = pv * 10 + (uint32_t)(s.p[i] - '0');
		}
		if (pv > 65535) {
			*erroff = hend + 1;
			return SIP_E_BAD_URI;
		}
		hp = true;
	}
	*host = h;
	*type = t;
	*port = (uint16_t)pv;
	*has_port = hp;
	return SIP_OK;
}

/* Next "name[=value]" element of a list separated by 'sep' (URI
 * parameters use ';', URI headers '&'); empty elements are skipped. */
static bool kv_next(rp_str *it, char sep, rp_str *name, rp_str *value)
{
	const char *p = it->p, *end = it->p + it->n, *q, *eq;

	while (p < end && *p == sep)
		p++;
	if (p >= end) {
		*it = rp_str_make(end, 0);
		return false;
	}
	q = memchr(p, sep, (size_t)(end - p));
	if (!q)
		q = end;
	eq = memchr(p, '=', (size_t)(q - p));
	if (eq) {
		*name = rp_str_make(p, (size_t)(eq - p));
		*value = rp_str_make(eq + 1, (size_t)(q - eq - 1));
	} else {
		*name = rp_str_make(p, (size_t)(q - p));
		*value = rp_str_make(q, 0);
	}
	*it = rp_str_make(q, (size_t)(end - q));
	return true;
}

bool sip_uri_param_next(rp_str *it, rp_str *name, rp_str *value)
{
	return kv_next(it, ';', name, value);
}

bool sip_uri_param_find(rp_str params, const char *name, rp_str *value)
{
	rp_str n, v, it = params;

	while (sip_uri_param_next(&it, &n, &v)) {
		if (rp_str_caseeq_cstr(n, name)) {
			if (value)
				*value = v;
			return true;
		}
	}
	return false;
}

bool sip_uri_header_next(rp_str *it, rp_str *name, rp_str *value)
{
	return kv_next(it, '&', name, value);
}

long sip_unescape(rp_str in, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < in.n; i++) {
		char c = in.p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= in.n)
				return -EINVAL;
			hi = hexval(in.p[i + 1]);
			lo = hexval(in.p[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o >= outsz)
			return -ENOSPC;
		out[o++] = c;
	}
	return (long)o;
}

static int next_unesc(rp_str s, size_t *i)
{
	int c = (unsigned char)s.p[*i];

	if (c == '%' && *i + 2 < s.n) {
		int hi = hexval(s.p[*i + 1]), lo = hexval(s.p[*i + 2]);

		if (hi >= 0 && lo >= 0) {
			*i += 3;
			return hi * 16 + lo;
		}
	}
	(*i)++;
	return c;
}

bool sip_uri_part_eq(rp_str a, rp_str b)
{
	size_t i = 0, j = 0;

	while (i < a.n && j < b.n) {
		if (next_unesc(a, &i) != next_unesc(b, &j))
			return false;
	}
	return i == a.n && j == b.n;
}

/* Validates a ';'-list of URI params and notes the well-known ones. */
static enum sip_err parse_params(rp_str params, struct sip_uri *u, size_t base,
				 struct sip_perr *err)
{
	const char *p = params.p, *end = params.p + params.n;

	while (p < end) {
		/* p points at ';' */
		const char *start = ++p, *q;
		size_t k;

		q = memchr(p, ';', (size_t)(end - p));
		if (!q)
			q = end;
		k = span_esc(p, (size_t)(q - p), SIP_C_PARAM);
		if (k == 0)
			return sip_perr_set(err, SIP_E_BAD_URI, base + (size_t)(p - params.p));
		rp_str name = rp_str_make(p, k), value = RP_STR_NULL;
		if (k < (size_t)(q - p)) {
			const char *v = p + k;
			size_t vk;

			if (*v != '=')
				return sip_perr_set(err, SIP_E_BAD_URI,
						    base + (size_t)(v - params.p));
			v++;
			vk = span_esc(v, (size_t)(q - v), SIP_C_PARAM);
			if (vk != (size_t)(q - v) || vk == 0)
				return sip_perr_set(err, SIP_E_BAD_URI,
						    base + (size_t)(v + vk - params.p));
			value = rp_str_make(v, vk);
		}
		(void)start;
		switch (name.n) {
		case 2:
			if (SIP_LIT_CASEEQ(name, "lr"))
				u->lr = true;
			break;
		case 3:
			if (SIP_LIT_CASEEQ(name, "ttl")) {
				uint64_t t;

				if (rp_str_to_u64(value, 255, &t) != 0)
					return sip_perr_set(err, SIP_E_BAD_URI,
							    base + (size_t)(p - params.p));
				u->ttl = (int)t;
				u->ttl_str = value;
			}
			break;
		case 4:
			if (SIP_LIT_CASEEQ(name, "user"))
				u->user_param = value;
			break;
		case 5:
			if (SIP_LIT_CASEEQ(name, "maddr"))
				u->maddr = value;
			break;
		case 6:
			if (SIP_LIT_CASEEQ(name, "method"))
				u->method = value;
			else if (SIP_LIT_CASEEQ(name, "secure"))
				u->secure = true;
			break;
		case 9:
			if (SIP_LIT_CASEEQ(name, "transport"))
				u->transport = value;
			break;
		}
		p = q;
	}
	return SIP_OK;
}

static enum sip_err parse_headers(rp_str h, size_t base, struct sip_perr *err)
{
	const char *p = h.p, *end = h.p + h.n;

	if (h.n == 0)
		return sip_perr_set(err, SIP_E_BAD_URI, base);
	while (p <= end) {
		const char *q = memchr(p, '&', (size_t)(end - p));
		size_t k;

		if (!q)
			q = end;
		k = span_esc(p, (size_t)(q - p), SIP_C_HNV);
		if (k == 0 || k == (size_t)(q - p) || p[k] != '=')
			return sip_perr_set(err, SIP_E_BAD_URI, base + (size_t)(p + k - h.p));
		size_t vk = span_esc(p + k + 1, (size_t)(q - p - k - 1), SIP_C_HNV);
		if (vk != (size_t)(q - p - k - 1))
			return sip_perr_set(err, SIP_E_BAD_URI,
					    base + (size_t)(p + k + 1 + vk - h.p));
		if (q == end)
			break;
		p = q + 1;
	}
	return SIP_OK;
}

static enum sip_err parse_sip(rp_str s, size_t off, struct sip_uri *u,
			      struct sip_perr *err)
{
	const char *p = s.p + off, *end = s.p + s.n, *at, *hp_end, *q;
	size_t bad;

	/* userinfo: '@' cannot appear unescaped in params or headers, so the
	 * first one ends the userinfo. */
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		rp_str user = rp_str_make(p, (size_t)((colon ? colon : at) - p));

		if (user.n == 0)
			return sip_perr_set(err, SIP_E_BAD_URI, off);
		if (!all_esc(user, SIP_C_USER, &bad))
			return sip_perr_set(err, SIP_E_BAD_URI, off + bad);
		u->user = user;
		u->has_userinfo = true;
		if (colon) {
			rp_str pw = rp_str_make(colon + 1, (size_t)(at - colon - 1));

			if (!all_esc(pw, SIP_C_PASS, &bad))
				return sip_perr_set(err, SIP_E_BAD_URI,
						    (size_t)(pw.p - s.p) + bad);
			u->password = pw;
			u->has_password = true;
		}
		p = at + 1;
	}
	/* hostport ends at ';' or '?'. */
	hp_end = p;
	while (hp_end < end && *hp_end != ';' && *hp_end != '?')
		hp_end++;
	u->hostport = rp_str_make(p, (size_t)(hp_end - p));
	if (sip_hostport_parse(u->hostport, &u->host, &u->host_type, &u->port,
			       &u->has_port, &bad) != SIP_OK)
		return sip_perr_set(err, SIP_E_BAD_URI, (size_t)(p - s.p) + bad);
	q = hp_end;
	while (q < end && *q != '?')
		q++;
	u->params = rp_str_make(hp_end, (size_t)(q - hp_end));
	if (parse_params(u->params, u, (size_t)(hp_end - s.p), err) != SIP_OK)
		return SIP_E_BAD_URI;
	if (q < end) {
		u->headers = rp_str_make(q + 1, (size_t)(end - q - 1));
		u->has_headers = true;
		if (parse_headers(u->headers, (size_t)(q + 1 - s.p), err) != SIP_OK)
			return SIP_E_BAD_URI;
	}
	return SIP_OK;
}

static enum sip_err parse_tel(rp_str s, size_t off, struct sip_uri *u,
			      struct sip_perr *err)
{
	const char *p = s.p + off, *end = s.p + s.n, *q;
	size_t k;

	q = memchr(p, ';', (size_t)(end - p));
	if (!q)
		q = end;
	/* RFC 3966 numbers: digits, hex digits, visual separators, '*', '#',
	 * leading '+'. Escapes are allowed. */
	k = span_esc(p, (size_t)(q - p), SIP_C_HEX | SIP_C_TEL);
	if (k == 0 || k != (size_t)(q - p))
		return sip_perr_set(err, SIP_E_BAD_URI, off + k);
	u->user = rp_str_make(p, k);
	u->params = rp_str_make(q, (size_t)(end - q));
	if (parse_params(u->params, u, (size_t)(q - s.p), err) != SIP_OK)
		return SIP_E_BAD_URI;
	return SIP_OK;
}

enum sip_err sip_uri_parse_into(rp_str s, struct sip_uri *u, struct sip_perr *err)
{
	size_t i;
	enum sip_err rc;

	memset(u, 0, sizeof(*u));
	u->raw = s;
	u->ttl = -1;
	if (s.n == 0 || !sip_cis(s.p[0], SIP_C_ALPHA))
		return sip_perr_set(err, SIP_E_BAD_URI, 0);
	for (i = 1; i < s.n && sip_cis(s.p[i], SIP_C_SCHEME); i++)
		;
	if (i >= s.n || s.p[i] != ':')
		return sip_perr_set(err, SIP_E_BAD_URI, i);
	u->scheme_str = rp_str_make(s.p, i);
	i++;
	if (i == s.n)
		return sip_perr_set(err, SIP_E_BAD_URI, i);
	if (u->scheme_str.n == 3 && SIP_LIT_CASEEQ(u->scheme_str, "sip")) {
		u->scheme = SIP_SCHEME_SIP;
		rc = parse_sip(s, i, u, err);
	} else if (u->scheme_str.n == 4 && SIP_LIT_CASEEQ(u->scheme_str, "sips")) {
		u->scheme = SIP_SCHEME_SIPS;
		rc = parse_sip(s, i, u, err);
	} else if (u->scheme_str.n == 3 && SIP_LIT_CASEEQ(u->scheme_str, "tel")) {
		u->scheme = SIP_SCHEME_TEL;
		rc = parse_tel(s, i, u, err);
	} else {
		/* absoluteURI: opaque, but only printable non-space chars and
		 * none that would end a name-addr or start a quoted string. */
		u->scheme = SIP_SCHEME_OTHER;
		u->opaque = rp_str_make(s.p + i, s.n - i);
		for (size_t j = i; j < s.n; j++) {
			unsigned char c = (unsigned char)s.p[j];

			if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
				return sip_perr_set(err, SIP_E_BAD_URI, j);
		}
		rc = SIP_OK;
	}
	return rc;
}

enum sip_err sip_uri_parse(rp_str s, struct sip_uri *out, struct sip_perr *err)
{
	struct sip_uri u;
	enum sip_err rc = sip_uri_parse_into(s, &u, err);

	if (rc == SIP_OK)
		*out = u;
	return rc;
}
