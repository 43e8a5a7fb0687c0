/* libFuzzer: sdes_parse on anything; on success, format it, parse that
 * again and require the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sdes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_keys(const struct sdes_key *a, const struct sdes_key *b,
	unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (a[i].key_salt_len != b[i].key_salt_len ||
		    memcmp(a[i].key_salt, b[i].key_salt, a[i].key_salt_len) ||
		    a[i].lifetime_form != b[i].lifetime_form ||
		    a[i].lifetime_exp != b[i].lifetime_exp ||
		    a[i].lifetime != b[i].lifetime ||
		    a[i].has_mki != b[i].has_mki || a[i].mki != b[i].mki ||
		    a[i].mki_len != b[i].mki_len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdes_crypto a, b;
	char *in = malloc(size ? size : 1);
	char out[SDES_FORMAT_MAX + 1024];
	size_t off = 0, n;

	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	if (sdes_parse(rp_str_make(in, size), &a, &off) != SDES_OK) {
		if (off > size)
			abort();
		free(in);
		return 0;
	}
	if (sdes_format(&a, out, sizeof(out), &n) != SDES_OK)
		abort();
	if (sdes_parse(rp_str_make(out, n), &b, &off) != SDES_OK)
		abort();
	if (a.tag != b.tag || a.suite != b.suite || a.n_keys != b.n_keys ||
	    a.has_kdr != b.has_kdr || a.kdr != b.kdr ||
	    a.unencrypted_srtp != b.unencrypted_srtp ||
	    a.unencrypted_srtcp != b.unencrypted_srtcp ||
	    a.unauthenticated_srtp != b.unauthenticated_srtp ||
	    a.fec_order != b.fec_order || a.n_fec_keys != b.n_fec_keys ||
	    a.has_wsh != b.has_wsh || a.wsh != b.wsh ||
	    a.n_unknown != b.n_unknown)
		abort();
	same_keys(a.keys, b.keys, a.n_keys);
	same_keys(a.fec_keys, b.fec_keys, a.n_fec_keys);
	for (unsigned i = 0; i < a.n_unknown; i++)
		if (!rp_str_eq(a.unknown[i], b.unknown[i]))
			abort();
	sdes_crypto_wipe(&a);
	sdes_crypto_wipe(&b);
	free(in);
	return 0;
}
