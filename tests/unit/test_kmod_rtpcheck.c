/* kmod/rtpcheck.h (the module's RTP header checks) held against
 * mediad/rtpcheck.h (mediad's): an offloaded direction must forward
 * exactly what mediad would, so both must give the same verdict and the
 * same header length on every packet. The kernel header is plain inline C
 * over (pointer, length); here it is compiled in userspace with the
 * kernel's u8/bool supplied.
 *
 * Every version-2 first octet (P, X, CC) over lengths 12..100 with chosen
 * extension lengths and last octets, then 100,000 random packets; every
 * call reads from a heap copy exactly as long as the module makes readable
 * (min(len, RAMPART_RTP_PEEK) bytes, or 12 when neither CC nor X is set),
 * so ASan catches a read past what the hook pulled. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtpcheck.h"

typedef uint8_t u8;
#include "../../kmod/rtpcheck.h"

/* The module's verdict as the hook and srtp.c combine it: header, then
 * padding (the last octet read on its own, as the hook copies it). */
static int kmod_verdict(const uint8_t *pkt, size_t len, unsigned int *hlen)
{
	size_t avail = (pkt[0] & 0x1f) ? (len < RAMPART_RTP_PEEK ? len : RAMPART_RTP_PEEK) : 12;
	uint8_t *peek = malloc(avail);
	int ok;

	ck_assert_ptr_nonnull(peek);
	memcpy(peek, pkt, avail);
	*hlen = rampart_rtp_hdr_len(peek, (unsigned int)len);
	ok = *hlen && rampart_rtp_pad_ok(peek[0], pkt[len - 1], (unsigned int)len, *hlen);
	free(peek);
	return ok;
}

static void same(const uint8_t *pkt, size_t len)
{
	int h = mrtp_hdr_len(pkt, len), full = mrtp_check(pkt, len);
	unsigned int kh;
	int kok = kmod_verdict(pkt, len, &kh);

	ck_assert_msg((full == MRTP_OK) == (kok != 0),
		"len %zu first %02x: mediad %s, module %s", len, pkt[0], mrtp_check_name(full),
		kok ? "ok" : "bad");
	/* A header both accept has the same length in both. */
	if (h >= 0)
		ck_assert_msg(kh == (unsigned int)h, "len %zu first %02x: header %d vs %u", len,
			pkt[0], h, kh);
	else
		ck_assert_uint_eq(kh, 0);
}

START_TEST(test_systematic)
{
	static const uint16_t extlens[] = { 0, 1, 2, 3, 5, 17, 0x100, 0xffff };
	uint8_t pkt[128];
	unsigned long n = 0, bad = 0;

	for (unsigned first = 0x80; first < 0xc0; first++) {
		for (size_t len = 12; len <= 100; len++) {
			for (size_t e = 0; e < sizeof(extlens) / sizeof(extlens[0]); e++) {
				size_t h = 12 + 4u * (first & 0x0f);
				int lasts[] = { 0, 1, 2, 3, 4, (int)len - (int)h, (int)len - (int)h + 1,
					(int)len - (int)h - 1, 255 };

				for (size_t l = 0; l < sizeof(lasts) / sizeof(lasts[0]); l++) {
					memset(pkt, 0x5a, sizeof(pkt));
					pkt[0] = (uint8_t)first;
					if (h + 4 <= sizeof(pkt)) {
						pkt[h + 2] = (uint8_t)(extlens[e] >> 8);
						pkt[h + 3] = (uint8_t)extlens[e];
					}
					pkt[len - 1] = (uint8_t)lasts[l];
					same(pkt, len);
					bad += mrtp_check(pkt, len) != MRTP_OK;
					n++;
				}
			}
		}
	}
	/* The grid holds both kinds in numbers. */
	ck_assert_uint_gt(bad, n / 10);
	ck_assert_uint_gt(n - bad, n / 10);
}
END_TEST

START_TEST(test_random)
{
	uint8_t pkt[304]; /* filled 8 bytes at a time */
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (int i = 0; i < 100000; i++) {
		size_t len;

		for (size_t k = 0; k < sizeof(pkt); k += 8) {
			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(pkt + k, &x, 8);
		}
		len = 12 + (size_t)(pkt[1] % 200);
		pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3f));
		/* Short extension lengths often enough to fit. */
		if (i & 1) {
			size_t h = 12 + 4u * (pkt[0] & 0x0f);
			if (h + 4 <= len) {
				pkt[h + 2] = 0;
				pkt[h + 3] = (uint8_t)(pkt[h + 3] & 0x1f);
			}
		}
		same(pkt, len);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod_rtpcheck");
	TCase *tc = tcase_create("kmod_rtpcheck");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_systematic);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
