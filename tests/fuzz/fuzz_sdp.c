/* libFuzzer: sdp_parse on anything; on success, the unchanged serialise
 * must give the input back byte for byte, and the proxy's rewrite must give
 * text that parses again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"
#include "sdes.h"
#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_exact(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	char *p = malloc(size ? size : 1);

	if (p && size)
		memcpy(p, data, size);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char mem[8192];
	rp_arena a;
	struct sdp *s = NULL;
	struct sdp_parse_opts opts = { .max_lines = 4096 };
	size_t off, n;
	char *in = dup_exact(data, size);
	char *out;

	if (!in)
		return 0;
	rp_arena_init(&a, mem, sizeof(mem), 8 << 20);
	if (sdp_parse(in, size, &a, &opts, &s, &off) != SDP_OK) {
		if (off > size)
			abort();
		goto done;
	}

	n = sdp_serialized_len(s);
	if (n != size)
		abort();
	out = malloc(n ? n : 1);
	if (!out)
		goto done;
	if (sdp_serialize(s, out, n, &n) != SDP_OK || n != size ||
	    memcmp(out, in, size) != 0)
		abort();
	free(out);

	/* Every crypto line, through the SDES codec. */
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
		for (struct sdp_line *l = sdp_attr_find(s, m, RP_STR_LIT("crypto"),
			     NULL);
		     l; l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), l)) {
			struct sdes_crypto c;

			if (sdes_parse(l->value, &c, &off) == SDES_OK)
				sdes_crypto_wipe(&c);
		}
	}

	/* The typical rewrite. */
	static const char val[] = "1 AES_CM_128_HMAC_SHA1_80 "
		"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
	rp_str v = RP_STR_LIT(val);
	int i = 0;

	if (sdp_set_conn(s, NULL, SDP_ADDR_IP4, RP_STR_LIT("192.0.2.1")) < 0)
		abort();
	(void)sdp_bump_origin_version(s);
	(void)sdp_set_origin_addr(s, SDP_ADDR_IP6, RP_STR_LIT("2001:db8::9"));
	{
		/* Session attributes: drop the first, add one after the next. */
		struct sdp_line *first = sdp_attr_next(s, NULL, NULL);

		if (first) {
			struct sdp_line *second = sdp_attr_next(s, NULL, first);

			if (sdp_remove_line(s, first) < 0 ||
			    sdp_insert_attr(s, NULL, second, RP_STR_LIT("x-rp"), NULL,
				    NULL) < 0)
				abort();
		}
	}
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next, i++) {
		if (sdp_set_conn(s, m, (i & 1) ? SDP_ADDR_IP6 : SDP_ADDR_IP4,
			(i & 1) ? RP_STR_LIT("2001:db8::1") :
				  RP_STR_LIT("198.51.100.1")) < 0 ||
		    sdp_media_set_port(s, m, (uint16_t)(30000 + 2 * i)) < 0 ||
		    sdp_media_set_proto(s, m, RP_STR_LIT("RTP/SAVP")) < 0 ||
		    sdp_remove_attrs(s, m, RP_STR_LIT("crypto")) < 0 ||
		    sdp_insert_attr(s, m, sdp_attr_find(s, m,
			    RP_STR_LIT("rtpmap"), NULL), RP_STR_LIT("crypto"), &v,
			    NULL) < 0)
			abort();
	}
	n = sdp_serialized_len(s);
	out = malloc(n ? n : 1);
	if (!out)
		goto done;
	if (sdp_serialize(s, out, n, &n) != SDP_OK)
		abort();
	{
		rp_arena b;
		struct sdp *s2 = NULL;

		rp_arena_init(&b, NULL, 0, 8 << 20);
		opts.max_lines = 4096 + 4096;
		if (sdp_parse(out, n, &b, &opts, &s2, &off) != SDP_OK ||
		    sdp_media_count(s2) != sdp_media_count(s))
			abort();
		for (struct sdp_media *m = sdp_media_first(s2); m; m = m->next) {
			if (!rp_str_eq_cstr(m->proto, "RTP/SAVP") ||
			    m->port != 30000 + 2 * m->index || !m->conn.line)
				abort();
		}
		rp_arena_fini(&b);
	}
	free(out);
done:
	rp_arena_fini(&a);
	free(in);
	return 0;
}
