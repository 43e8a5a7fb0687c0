/* sip_frame: stream and datagram framing, keep-alives, hostile input. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sip_frame.h"

#define OPT_MSG "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n" \
	"Content-Length: 5\r\n\r\nhello"

/* Feeds 'in' to a framer in pieces of 'step' bytes (keeping unconsumed
 * bytes like a connection would) and records what came out. */
struct fed {
	int msgs, pings, pongs, err;
	size_t msg_len[8], body_len[8];
	char first_body[64];
};

static struct fed feed(const char *in, size_t n, size_t step,
	const struct sip_frame_limits *lim, bool expect_pong)
{
	struct fed r;
	sip_framer f;
	char *buf = malloc(n + 1);
	size_t have = 0, pos = 0;

	memset(&r, 0, sizeof(r));
	sip_framer_init(&f, lim);
	sip_framer_set_expect_pong(&f, expect_pong);
	for (int guard = 0; guard < 1000000 && (pos < n || have); guard++) {
		struct sip_frame fr;
		enum sip_frame_result res;
		size_t take = n - pos < step ? n - pos : step;

		memcpy(buf + have, in + pos, take);
		have += take;
		pos += take;
		for (;;) {
			res = sip_framer_next(&f, buf, have, &fr);
			if (res == SIP_FRAME_NEED_MORE)
				break;
			if (res < 0) {
				r.err = res;
				free(buf);
				return r;
			}
			if (res == SIP_FRAME_MSG) {
				if (r.msgs < 8) {
					r.msg_len[r.msgs] = fr.len;
					r.body_len[r.msgs] = fr.body_len;
				}
				if (r.msgs == 0 && fr.body_len < sizeof(r.first_body))
					memcpy(r.first_body, buf + fr.off + fr.hdr_len, fr.body_len);
				r.msgs++;
			} else if (res == SIP_FRAME_PING) {
				r.pings++;
			} else if (res == SIP_FRAME_PONG) {
				r.pongs++;
			}
			ck_assert_uint_gt(fr.consumed, 0);
			memmove(buf, buf + fr.consumed, have - fr.consumed);
			have -= fr.consumed;
		}
		if (pos == n)
			break;
	}
	free(buf);
	return r;
}

START_TEST(whole_message)
{
	struct fed r = feed(OPT_MSG, strlen(OPT_MSG), 4096, NULL, false);

	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.msgs, 1);
	ck_assert_uint_eq(r.msg_len[0], strlen(OPT_MSG));
	ck_assert_uint_eq(r.body_len[0], 5);
	ck_assert_str_eq(r.first_body, "hello");
}
END_TEST

START_TEST(byte_at_a_time)
{
	const char *in = "\r\n\r\n" OPT_MSG "\r\n\r\n" OPT_MSG;
	struct fed r = feed(in, strlen(in), 1, NULL, false);

	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.msgs, 2);
	ck_assert_int_eq(r.pings, 2);
	ck_assert_int_eq(r.pongs, 0);
	ck_assert_str_eq(r.first_body, "hello");
}
END_TEST

START_TEST(every_split_point)
{
	const char *in = OPT_MSG OPT_MSG;
	size_t n = strlen(in);

	for (size_t step = 1; step <= n; step++) {
		struct fed r = feed(in, n, step, NULL, false);

		ck_assert_int_eq(r.err, 0);
		ck_assert_int_eq(r.msgs, 2);
		ck_assert_uint_eq(r.msg_len[1], strlen(OPT_MSG));
	}
}
END_TEST

START_TEST(pipelined)
{
	const char *in = "INVITE sip:x SIP/2.0\r\nl: 3\r\n\r\nabc"
		"BYE sip:x SIP/2.0\r\ncontent-length:0\r\n\r\n"
		"SIP/2.0 200 OK\r\nContent-Length :  2 \r\n\r\nok";
	struct fed r = feed(in, strlen(in), 4096, NULL, false);

	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.msgs, 3);
	ck_assert_uint_eq(r.body_len[0], 3);
	ck_assert_uint_eq(r.body_len[1], 0);
	ck_assert_uint_eq(r.body_len[2], 2);
	ck_assert_str_eq(r.first_body, "abc");
}
END_TEST

START_TEST(body_with_crlfcrlf_not_split)
{
	/* The body contains CRLFCRLF: only Content-Length decides. */
	const char *in = "MESSAGE sip:x SIP/2.0\r\nContent-Length: 8\r\n\r\n\r\n\r\nab\r\n"
		"BYE sip:x SIP/2.0\r\nl:0\r\n\r\n";
	struct fed r = feed(in, strlen(in), 1, NULL, false);

	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.msgs, 2);
	ck_assert_uint_eq(r.body_len[0], 8);
}
END_TEST

START_TEST(keepalive_ping_pong)
{
	sip_framer f;
	struct sip_frame fr;

	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, "\r\n\r\n", 4, &fr), SIP_FRAME_PING);
	ck_assert_uint_eq(fr.consumed, 4);
	/* Accepted flow: a lone CRLF may be half a ping, so wait. */
	ck_assert_int_eq(sip_framer_next(&f, "\r\n", 2, &fr), SIP_FRAME_NEED_MORE);
	ck_assert_uint_eq(fr.consumed, 0);
	ck_assert_int_eq(sip_framer_next(&f, "\r\n\r", 3, &fr), SIP_FRAME_NEED_MORE);
	/* Leading CRLF before a message: skipped (reported as a pong). */
	ck_assert_int_eq(sip_framer_next(&f, "\r\nBYE", 5, &fr), SIP_FRAME_PONG);
	ck_assert_uint_eq(fr.consumed, 2);
	/* Outbound flow: a lone CRLF is the pong, right away. */
	sip_framer_set_expect_pong(&f, true);
	ck_assert_int_eq(sip_framer_next(&f, "\r\n", 2, &fr), SIP_FRAME_PONG);
	ck_assert_uint_eq(fr.consumed, 2);
	ck_assert_int_eq(sip_framer_next(&f, "", 0, &fr), SIP_FRAME_NEED_MORE);
}
END_TEST

START_TEST(leading_crlfs_then_message)
{
	const char *in = "\r\n\r\n\r\n" OPT_MSG;
	struct fed r = feed(in, strlen(in), 4096, NULL, false);

	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.pings, 1);
	ck_assert_int_eq(r.pongs, 1);
	ck_assert_int_eq(r.msgs, 1);
}
END_TEST

START_TEST(missing_content_length)
{
	sip_framer f;
	struct sip_frame fr;
	const char *in = "OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n";

	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, in, strlen(in), &fr), SIP_FRAME_E_NO_CLEN);
	ck_assert_uint_eq(fr.err_off, strlen(in));
	ck_assert_uint_eq(fr.hdr_len, strlen(in)); /* whole: answerable */
}
END_TEST

START_TEST(lies_and_bad_numbers)
{
	sip_framer f;
	struct sip_frame fr;
	const char *neg = "A sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n";
	const char *hex = "A sip:x SIP/2.0\r\nContent-Length: 0x10\r\n\r\n";
	const char *empty = "A sip:x SIP/2.0\r\nContent-Length:\r\n\r\n";
	const char *dup = "A sip:x SIP/2.0\r\nContent-Length: 0\r\nl: 5\r\n\r\n";
	const char *nocolon = "A sip:x SIP/2.0\r\nContent-Length 5\r\n\r\n";
	/* A Content-Length lookalike in the start line or inside another
	 * header's value is not the header. */
	const char *look = "A sip:x;l:9 SIP/2.0\r\nSubject: l: 7\r\nl: 1\r\n\r\nZ";

	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, neg, strlen(neg), &fr), SIP_FRAME_E_BAD_CLEN);
	ck_assert_uint_eq(fr.err_off, strstr(neg, "-1") - neg);
	ck_assert_uint_eq(fr.hdr_len, strlen(neg)); /* whole: answerable */
	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, hex, strlen(hex), &fr), SIP_FRAME_E_BAD_CLEN);
	ck_assert_uint_eq(fr.err_off, strstr(hex, "x10") - hex);
	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, empty, strlen(empty), &fr), SIP_FRAME_E_BAD_CLEN);
	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, dup, strlen(dup), &fr), SIP_FRAME_E_DUP_CLEN);
	ck_assert_uint_eq(fr.err_off, strstr(dup, "l: 5") - dup);
	ck_assert_uint_eq(fr.hdr_len, strlen(dup));
	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, nocolon, strlen(nocolon), &fr), SIP_FRAME_E_BAD_CLEN);
	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, look, strlen(look), &fr), SIP_FRAME_MSG);
	ck_assert_uint_eq(fr.body_len, 1);
	ck_assert_uint_eq(fr.len, strlen(look));
}
END_TEST

START_TEST(folded_content_length)
{
	sip_framer f;
	struct sip_frame fr;
	const char *in = "A sip:x SIP/2.0\r\nContent-Length:\r\n  3\r\nX: y\r\n\r\nabc";

	sip_framer_init(&f, NULL);
	ck_assert_int_eq(sip_framer_next(&f, in, strlen(in), &fr), SIP_FRAME_MSG);
	ck_assert_uint_eq(fr.body_len, 3);
}
END_TEST

START_TEST(hostile_sizes)
{
	struct sip_frame_limits lim = { 64, 100 };
	sip_framer f;
	struct sip_frame fr;
	const char *big = "A sip:x SIP/2.0\r\nContent-Length: 101\r\n\r\n";
	const char *huge = "A sip:x SIP/2.0\r\nl: 99999999999999999999999999\r\n\r\n";
	const char *ok = "A sip:x SIP/2.0\r\nContent-Length: 100\r\n\r\n";
	char longhdr[200];

	sip_framer_init(&f, &lim);
	ck_assert_int_eq(sip_framer_next(&f, big, strlen(big), &fr), SIP_FRAME_E_BODY_TOO_BIG);
	ck_assert_uint_eq(fr.err_off, strstr(big, "101") - big);
	sip_framer_init(&f, &lim);
	ck_assert_int_eq(sip_framer_next(&f, huge, strlen(huge), &fr), SIP_FRAME_E_BODY_TOO_BIG);
	sip_framer_init(&f, &lim);
	ck_assert_int_eq(sip_framer_next(&f, ok, strlen(ok), &fr), SIP_FRAME_NEED_MORE);

	/* Header block that never ends: refused once it reaches max_hdr,
	 * whether it comes in one piece or byte by byte. */
	memset(longhdr, 'a', sizeof(longhdr));
	sip_framer_init(&f, &lim);
	ck_assert_int_eq(sip_framer_next(&f, longhdr, sizeof(longhdr), &fr), SIP_FRAME_E_HDR_TOO_BIG);
	ck_assert_uint_eq(fr.err_off, 64);
	{
		struct fed r = feed(longhdr, sizeof(longhdr), 1, &lim, false);

		ck_assert_int_eq(r.err, SIP_FRAME_E_HDR_TOO_BIG);
		ck_assert_int_eq(r.msgs, 0);
	}
}
END_TEST

START_TEST(datagrams)
{
	struct sip_frame fr;
	const char *m = "\r\nOPTIONS sip:x SIP/2.0\r\nl: 2\r\n\r\nokEXTRA";
	const char *nocl = "OPTIONS sip:x SIP/2.0\r\nVia: v\r\n\r\nbody";
	const char *shortb = "OPTIONS sip:x SIP/2.0\r\nl: 20\r\n\r\nbody";
	const char *nohdr = "OPTIONS sip:x SIP/2.0\r\nVia: v\r\n";

	ck_assert_int_eq(sip_frame_datagram(NULL, m, strlen(m), &fr), SIP_FRAME_MSG);
	ck_assert_uint_eq(fr.off, 2);
	ck_assert_uint_eq(fr.body_len, 2);
	ck_assert_int_eq(memcmp(m + fr.off + fr.hdr_len, "ok", 2), 0);
	ck_assert_uint_eq(fr.len, strlen(m) - 2 - 5);
	ck_assert_int_eq(sip_frame_datagram(NULL, nocl, strlen(nocl), &fr), SIP_FRAME_MSG);
	ck_assert_uint_eq(fr.body_len, 4);
	ck_assert_int_eq(sip_frame_datagram(NULL, shortb, strlen(shortb), &fr), SIP_FRAME_E_TRUNCATED);
	ck_assert_int_eq(sip_frame_datagram(NULL, nohdr, strlen(nohdr), &fr), SIP_FRAME_E_TRUNCATED);
	ck_assert_int_eq(sip_frame_datagram(NULL, "\r\n\r\n", 4, &fr), SIP_FRAME_PING);
	ck_assert_int_eq(sip_frame_datagram(NULL, "\r\n", 2, &fr), SIP_FRAME_PONG);
	ck_assert_int_eq(sip_frame_datagram(NULL, "", 0, &fr), SIP_FRAME_E_TRUNCATED);
	ck_assert_int_eq(sip_frame_datagram(NULL, NULL, 5, &fr), SIP_FRAME_E_ARG);
	ck_assert_str_eq(sip_frame_strerror(SIP_FRAME_E_NO_CLEN), "Content-Length missing on a stream");
}
END_TEST

/* A datagram's header end and Content-Length come from one scan; what
 * that scan cannot settle gets the same answer as the two-step one. */
START_TEST(datagram_one_pass)
{
	struct sip_frame_limits lim = { 64, 100 };
	struct sip_frame fr;
	const char *cases[] = {
		"A\r\nCONTENT-length: 3\r\n\r\nabcde",          /* any case */
		"A\r\nL: 3\r\n\r\nabcde",                       /* compact */
		"A\r\nContent-Lengthx: 1\r\nl: 3\r\n\r\nabcde",  /* not a prefix */
		"A\r\nContent-Length:\r\n 3\r\n\r\nabcde",        /* folded value */
		"A\r\nX: a\r\r\n\r\nabcde",                     /* lone CR before CRLF */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(sip_frame_datagram(NULL, cases[i], strlen(cases[i]), &fr),
			SIP_FRAME_MSG);
		ck_assert_uint_eq(fr.body_len, i == 4 ? 5 : 3);
		ck_assert_uint_eq(fr.hdr_len, strlen(cases[i]) - 5);
	}
	/* A bad Content-Length in a block that never ends: truncated, as
	 * before the one-pass scan (the end is looked for first). */
	ck_assert_int_eq(sip_frame_datagram(NULL, "A\r\nl: x\r\n", 10, &fr),
		SIP_FRAME_E_TRUNCATED);
	ck_assert_int_eq(sip_frame_datagram(NULL, "A\r\nl: x\r\n\r\n", 12, &fr),
		SIP_FRAME_E_BAD_CLEN);
	ck_assert_uint_eq(fr.err_off, 6);
	ck_assert_int_eq(sip_frame_datagram(NULL, "A\r\nl: 1\r\nl: 1\r\n\r\nx", 19, &fr),
		SIP_FRAME_E_DUP_CLEN);
	ck_assert_int_eq(sip_frame_datagram(&lim, "A\r\nl: 101\r\n\r\n", 14, &fr),
		SIP_FRAME_E_BODY_TOO_BIG);
	/* The empty line must end inside max_hdr. */
	{
		char big[128];

		memset(big, 'x', sizeof(big));
		memcpy(big, "A\r\nX: ", 6);
		memcpy(big + 62, "\r\n\r\n", 4);
		ck_assert_int_eq(sip_frame_datagram(&lim, big, 66, &fr), SIP_FRAME_E_HDR_TOO_BIG);
		ck_assert_uint_eq(fr.err_off, 64);
		memcpy(big + 60, "\r\n\r\n", 4);
		ck_assert_int_eq(sip_frame_datagram(&lim, big, 64, &fr), SIP_FRAME_MSG);
		ck_assert_uint_eq(fr.hdr_len, 64);
	}
}
END_TEST

START_TEST(no_read_past_len)
{
	/* Exact-size heap copies so ASan catches any over-read. */
	const char *cases[] = { "A", "\r", "\r\n", "\r\n\r", "A\r\n\r", "A\r\nl:",
		"A\r\nl: 1\r\n\r", "A\r\nContent-Length: 1\r\n \r\n\r\n" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i]);
		char *p = malloc(n ? n : 1);
		sip_framer f;
		struct sip_frame fr;

		memcpy(p, cases[i], n);
		sip_framer_init(&f, NULL);
		(void)sip_framer_next(&f, p, n, &fr);
		(void)sip_frame_datagram(NULL, p, n, &fr);
		free(p);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sip_frame");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, whole_message);
	tcase_add_test(tc, byte_at_a_time);
	tcase_add_test(tc, every_split_point);
	tcase_add_test(tc, pipelined);
	tcase_add_test(tc, body_with_crlfcrlf_not_split);
	tcase_add_test(tc, keepalive_ping_pong);
	tcase_add_test(tc, leading_crlfs_then_message);
	tcase_add_test(tc, missing_content_length);
	tcase_add_test(tc, lies_and_bad_numbers);
	tcase_add_test(tc, folded_content_length);
	tcase_add_test(tc, hostile_sizes);
	tcase_add_test(tc, datagrams);
	tcase_add_test(tc, datagram_one_pass);
	tcase_add_test(tc, no_read_past_len);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
