/* libFuzzer target for Digest authentication text from the network:
 * rp_digest_parse + rp_digest_unquote on every field (Authorization and
 * WWW-Authenticate values), the server check rp_auth_verify_value against
 * the default configuration's users, and the client side that copies a
 * trunk's challenge (rp_auth_client_set) and answers it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cfg_default.h"
#include "cfg_diag.h"
#include "cfg_prog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cfg *cfg;
static rp_auth *auth;

static void unquote_all(const struct rp_digest_params *p)
{
	const rp_str f[] = { p->username, p->realm, p->nonce, p->uri, p->response,
		p->algorithm, p->cnonce, p->opaque, p->qop, p->nc, p->stale, p->domain,
		p->userhash };
	char small[8], big[512];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		long n = rp_digest_unquote(f[i], small, sizeof(small));

		if (n >= (long)sizeof(small) || (n >= 0 && small[n] != '\0'))
			abort();
		n = rp_digest_unquote(f[i], big, sizeof(big));
		if (n >= (long)sizeof(big) || (n >= 0 && (size_t)n > f[i].n))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rp_digest_params p;
	struct rp_auth_client c;
	struct rp_auth_info info;
	static const struct rp_auth_creds cr = { .username = "alice",
		.password = "alice-secret" };
	char *in, out[2048];
	size_t off = 0, n;

	if (!cfg) {
		struct cfg_diag d;

		cfg_diag_init(&d);
		if (cfg_load_default(&cfg, &d) != 0 || rp_auth_new(NULL, &auth) != 0)
			abort();
	}
	/* A copy of exactly 'size' bytes: ASan sees any read past the end. */
	in = malloc(size ? size : 1);
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);
	rp_str v = rp_str_make(in, size);

	if (rp_digest_parse(v, &p, &off) == 0)
		unquote_all(&p);
	else if (off > size)
		abort();
	memset(&info, 0, sizeof(info));
	(void)rp_auth_verify_value(auth, v, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:127.0.0.1"), RP_STR_LIT("rampart"), cfg, 1000, &info);
	if (info.err_off > size)
		abort();
	memset(&c, 0, sizeof(c));
	if (rp_auth_client_set(&c, v, size & 1) == 0) {
		for (int i = 0; i < 3; i++)
			if (rp_auth_client_authorize(&c, &cr, RP_STR_LIT("INVITE"),
				RP_STR_LIT("sip:bob@example.com"), "0a4f113b", out,
				sizeof(out), &n) == 0 && n >= sizeof(out))
				abort();
	}
	rp_auth_client_wipe(&c);
	free(in);
	return 0;
}
