/* Fuzzes sip_frame: the same bytes framed as one datagram, as one stream
 * chunk and as a stream fed in pieces whose sizes come from the input;
 * checks the results agree with each other and stay inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(enum sip_frame_result r, const struct sip_frame *fr,
	size_t len)
{
	if (r == SIP_FRAME_MSG) {
		if (fr->off + fr->len > len || fr->hdr_len + fr->body_len != fr->len)
			abort();
	}
	if (r < 0 && fr->err_off > len)
		abort();
	if (fr->consumed > len)
		abort();
}

/* Runs a stream; records up to 64 message lengths in 'lens'. */
static int run_stream(const char *in, size_t n, const uint8_t *steps,
	size_t nsteps, const struct sip_frame_limits *lim, size_t *lens)
{
	sip_framer f;
	char *buf = malloc(n ? n : 1);
	size_t have = 0, pos = 0, si = 0;
	int msgs = 0;

	sip_framer_init(&f, lim);
	while (pos < n) {
		size_t step = nsteps ? (size_t)steps[si++ % nsteps] + 1 : n;
		size_t take = n - pos < step ? n - pos : step;

		memcpy(buf + have, in + pos, take);
		have += take;
		pos += take;
		for (;;) {
			struct sip_frame fr;
			/* An exact-size copy so ASan sees any read past 'have'. */
			char *view = malloc(have ? have : 1);
			enum sip_frame_result r;

			memcpy(view, buf, have);
			r = sip_framer_next(&f, view, have, &fr);
			free(view);
			check_frame(r, &fr, have);
			if (r == SIP_FRAME_NEED_MORE)
				break;
			if (r < 0) {
				free(buf);
				return -1 - msgs;
			}
			if (fr.consumed == 0)
				abort(); /* no progress would loop forever */
			if (r == SIP_FRAME_MSG && msgs < 64)
				lens[msgs] = fr.len;
			if (r == SIP_FRAME_MSG)
				msgs++;
			memmove(buf, buf + fr.consumed, have - fr.consumed);
			have -= fr.consumed;
		}
	}
	free(buf);
	return msgs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_frame_limits lim = { 512, 1024 };
	struct sip_frame fr;
	size_t nsteps = 0, lens_a[64], lens_b[64];
	const uint8_t *steps = data;
	const char *in;
	size_t n;
	char *dg;
	int a, b;

	/* First byte: how many of the next bytes are chunk sizes. */
	if (size > 0) {
		nsteps = data[0] % 8;
		if (nsteps + 1 > size)
			nsteps = size - 1;
		steps = data + 1;
		in = (const char *)data + 1 + nsteps;
		n = size - 1 - nsteps;
	} else {
		in = (const char *)data;
		n = 0;
	}

	dg = malloc(n ? n : 1);
	memcpy(dg, in, n);
	check_frame(sip_frame_datagram(&lim, dg, n, &fr), &fr, n);
	free(dg);

	/* Chunking must not change what is found. */
	a = run_stream(in, n, steps, nsteps, &lim, lens_a);
	b = run_stream(in, n, NULL, 0, &lim, lens_b);
	if (a != b)
		abort();
	for (int i = 0; i < (a < 0 ? -1 - a : a) && i < 64; i++)
		if (lens_a[i] != lens_b[i])
			abort();
	return 0;
}
