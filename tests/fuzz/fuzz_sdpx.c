/* libFuzzer target for the proxy's SDP offer/answer rewrite (proxy/sdpx):
 * read an offer, check and pick among its a=crypto lines, rewrite every
 * stream toward the relay (some disabled, some with our own key, IPv4 and
 * IPv6) and require that what we wrote reads back with the same streams. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdpx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum sdes_suite prefs[] = { SDES_AEAD_AES_256_GCM,
		SDES_AES_CM_128_HMAC_SHA1_80, SDES_AES_CM_128_HMAC_SHA1_32 };
	struct sdpx_crypto_opts co = { .allow_mki = size & 1 };
	struct sdpx_out outs[SDPX_MAX_STREAMS];
	struct sdes_crypto picked[SDPX_MAX_STREAMS], ours;
	struct sdpx_desc d, d2;
	char *in, store[16384];
	size_t off = 0;
	rp_arena a;
	rp_str body;

	in = malloc(size ? size : 1);
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	rp_arena_init(&a, store, sizeof(store), 4u << 20);
	if (sdpx_read(in, size, &a, &d, &off) != SDPX_OK) {
		if (off > size)
			abort();
		goto out;
	}
	if (d.nstreams > SDPX_MAX_STREAMS)
		abort();
	if (sdes_generate(1, SDES_AES_CM_128_HMAC_SHA1_80, NULL, &ours) != SDES_OK)
		abort();
	memset(outs, 0, sizeof(outs));
	for (unsigned i = 0; i < d.nstreams; i++) {
		const struct sdpx_stream *s = &d.s[i];
		struct sdes_crypto c;

		if (s->ncrypto > SDPX_MAX_CRYPTO)
			abort();
		for (unsigned k = 0; k < s->ncrypto; k++) {
			if (sdpx_check_crypto(s->crypto[k], &co, &c) == SDPX_SKIP_NONE &&
			    (!sdes_suite_info(c.suite) || !sdes_suite_info(c.suite)->supported))
				abort();
			sdes_crypto_wipe(&c);
		}
		if (sdpx_pick_crypto(s, i & 1 ? prefs : NULL, i & 1 ? 3 : 0, &co,
			&picked[i]) == SDPX_OK)
			sdes_crypto_wipe(&picked[i]);
		outs[i].disable = s->port == 0 || s->proto == SDPX_PROTO_OTHER || (i % 3) == 2;
		outs[i].keep_conn = s->hold_addr;
		outs[i].ip6 = i & 1;
		outs[i].addr = i & 1 ? "2001:db8::5" : "203.0.113.5";
		outs[i].port = (uint16_t)(20000 + 2 * i);
		outs[i].proto = sdpx_proto_name(sdpx_proto_feedback(s->proto), i & 1);
		outs[i].ncrypto = i & 1;
		outs[i].crypto = &ours;
	}
	if (sdpx_write(&d, outs, &a, &body) == SDPX_OK) {
		if (sdpx_read(body.p, body.n, &a, &d2, &off) != SDPX_OK ||
		    d2.nstreams != d.nstreams)
			abort();
		for (unsigned i = 0; i < d2.nstreams; i++)
			if (!outs[i].disable && d2.s[i].port != outs[i].port)
				abort();
		sdp_wipe(d2.sdp);
		explicit_bzero((char *)body.p, body.n);
	}
	sdp_wipe(d.sdp);
	sdes_crypto_wipe(&ours);
out:
	rp_arena_fini(&a);
	free(in);
	return 0;
}
