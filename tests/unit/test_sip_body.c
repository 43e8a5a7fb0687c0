/* sip_body: finding the SDP in a body (RFC 5621), table-driven: a SIP-I
 * INVITE's multipart/mixed (RFC 3204), quoted and odd boundaries, preamble
 * and epilogue, nested multipart, and every refusal. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sip_body.h"

#define SDP "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" \
	"m=audio 4000 RTP/AVP 0\r\n"
#define ISUP "\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03"

struct bcase {
	const char *name;
	const char *ctype;
	const char *body;
	size_t body_len;      /* 0: strlen */
	int want;
	const char *sdp;      /* the slice expected for SIP_BODY_SDP */
};

#define SIPI_BODY "--b1\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--b1\r\n" \
	"Content-Type: application/isup; version=itu-t92+\r\n" \
	"Content-Disposition: signal; handling=optional\r\n\r\n" ISUP "\r\n--b1--\r\n"

static const struct bcase cases[] = {
	{ "plain SDP", "application/sdp", SDP, 0, SIP_BODY_SDP, SDP },
	{ "SDP type any case, with a parameter", " Application/SDP ; charset=utf-8", SDP, 0,
	  SIP_BODY_SDP, SDP },
	{ "not SDP: application/sdpx", "application/sdpx", SDP, 0, SIP_BODY_NO_SDP, NULL },
	{ "text/plain", "text/plain", "hello", 0, SIP_BODY_NO_SDP, NULL },
	{ "SIP-I: SDP then ISUP (NUL bytes in it)", "multipart/mixed;boundary=b1", SIPI_BODY,
	  sizeof(SIPI_BODY) - 1, SIP_BODY_SDP, SDP },
	{ "ISUP first, quoted boundary, preamble, epilogue, padding",
	  "multipart/mixed; boundary=\"=_a b:c\"",
	  "this is a preamble\r\n--=_a b:c  \r\nContent-Type: application/isup\r\n\r\nXX\r\n"
	  "--=_a b:c\r\ncontent-type:application/sdp\r\nContent-Disposition: session\r\n\r\n"
	  SDP "\r\n--=_a b:c--\r\nepilogue", 0, SIP_BODY_SDP, SDP },
	{ "folded part Content-Type", "multipart/mixed;boundary=x",
	  "--x\r\nContent-Type:\r\n application/sdp\r\n\r\n" SDP "\r\n--x--", 0, SIP_BODY_SDP, SDP },
	{ "a longer boundary-like line inside is not a delimiter", "multipart/mixed;boundary=b",
	  "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--bb\r\n\r\n--b\r\nContent-Type: "
	  "application/sdp\r\n\r\n" SDP "\r\n--b--\r\n", 0, SIP_BODY_SDP, SDP },
	{ "nested multipart/alternative", "multipart/mixed;boundary=o",
	  "--o\r\nContent-Type: multipart/alternative;boundary=i\r\n\r\n--i\r\nContent-Type: "
	  "application/sdp\r\n\r\n" SDP "\r\n--i--\r\n\r\n--o\r\nContent-Type: application/isup\r\n"
	  "\r\nY\r\n--o--\r\n", 0, SIP_BODY_SDP, SDP },
	{ "multipart without SDP passes", "multipart/mixed;boundary=b1",
	  "--b1\r\nContent-Type: application/isup\r\n\r\nX\r\n--b1\r\n\r\nno headers: text\r\n"
	  "--b1--\r\n", 0, SIP_BODY_NO_SDP, NULL },
	{ "SDP part in 8bit", "multipart/mixed;boundary=b",
	  "--b\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" SDP
	  "\r\n--b--\r\n", 0, SIP_BODY_SDP, SDP },
	{ "no boundary parameter", "multipart/mixed", SIPI_BODY, sizeof(SIPI_BODY) - 1,
	  SIP_BODY_E_BOUNDARY, NULL },
	{ "empty boundary", "multipart/mixed;boundary=\"\"", SIPI_BODY, sizeof(SIPI_BODY) - 1,
	  SIP_BODY_E_BOUNDARY, NULL },
	{ "boundary of 71 characters", "multipart/mixed;boundary="
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", 0,
	  SIP_BODY_E_BOUNDARY, NULL },
	{ "boundary never appears", "multipart/mixed;boundary=zz", SIPI_BODY,
	  sizeof(SIPI_BODY) - 1, SIP_BODY_E_FRAMING, NULL },
	{ "no closing delimiter", "multipart/mixed;boundary=b",
	  "--b\r\nContent-Type: application/sdp\r\n\r\n" SDP, 0, SIP_BODY_E_FRAMING, NULL },
	{ "part without its empty line", "multipart/mixed;boundary=b",
	  "--b\r\nContent-Type: application/sdp\r\n--b--\r\n", 0, SIP_BODY_E_FRAMING, NULL },
	{ "two SDP parts", "multipart/alternative;boundary=b",
	  "--b\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--b\r\nContent-Type: "
	  "application/sdp\r\n\r\n" SDP "\r\n--b--\r\n", 0, SIP_BODY_E_MANY, NULL },
	{ "SDP part in base64", "multipart/mixed;boundary=b",
	  "--b\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	  "dj0wDQo=\r\n--b--\r\n", 0, SIP_BODY_E_ENCODING, NULL },
	{ "nested 5 deep", "multipart/mixed;boundary=a",
	  "--a\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n"
	  "--b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n"
	  "--c\r\nContent-Type: multipart/mixed;boundary=d\r\n\r\n"
	  "--d\r\nContent-Type: multipart/mixed;boundary=e\r\n\r\n"
	  "--e\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--e--\r\n"
	  "\r\n--d--\r\n\r\n--c--\r\n\r\n--b--\r\n\r\n--a--\r\n", 0, SIP_BODY_E_DEPTH, NULL },
};

START_TEST(find_sdp_table)
{
	const struct bcase *c = &cases[_i];
	size_t n = c->body_len ? c->body_len : strlen(c->body);
	rp_str sdp = rp_str_make(NULL, 0);
	int rc = sip_body_find_sdp(rp_str_cstr(c->ctype), rp_str_make(c->body, n), &sdp);

	ck_assert_msg(rc == c->want, "%s: got %d (%s), want %d", c->name, rc,
		sip_body_strerror(rc), c->want);
	if (c->want == SIP_BODY_SDP) {
		/* The slice lies inside the body and is exactly the SDP text. */
		ck_assert_msg(sdp.p >= c->body && sdp.p + sdp.n <= c->body + n, "%s", c->name);
		ck_assert_msg(sdp.n == strlen(c->sdp) && !memcmp(sdp.p, c->sdp, sdp.n),
			"%s: got '%.*s'", c->name, (int)sdp.n, sdp.p);
	}
}
END_TEST

START_TEST(strerror_names_every_error)
{
	for (int rc = SIP_BODY_E_DEPTH; rc <= SIP_BODY_NO_SDP; rc++)
		ck_assert_str_ne(sip_body_strerror(rc), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sip_body");
	TCase *tc = tcase_create("find");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, find_sdp_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, strerror_names_every_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
