/* Digest authentication: the RFC 2617 and RFC 7616 examples through the
 * public functions, a full challenge -> client -> verify round trip on real
 * parsed SIP messages and a real loaded config, and one test per failure
 * result. Time is the test's own "now", never the clock. */
#include "auth.h"
#include "cfg_prog.h"
#include "rp_arena.h"
#include "sip_msg.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REALM "rampart"
#define T0 1000000ull

static struct cfg *cfg;
static rp_auth *au;
static rp_arena arena;

static void setup(void)
{
	char ha1m[65], ha1s[65], ho[65], tm[65], ts[65], text[2048];
	int n;

	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_MD5, RP_STR_LIT("md5only"),
		RP_STR_LIT(REALM), RP_STR_LIT("alice-secret"), ho), 0);

	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_MD5, RP_STR_LIT("alice"),
		RP_STR_LIT(REALM), RP_STR_LIT("alice-secret"), ha1m), 0);
	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_SHA256, RP_STR_LIT("alice"),
		RP_STR_LIT(REALM), RP_STR_LIT("alice-secret"), ha1s), 0);
	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_MD5, RP_STR_LIT("pbx"),
		RP_STR_LIT("trunks"), RP_STR_LIT("pbx-secret"), tm), 0);
	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_SHA256, RP_STR_LIT("pbx"),
		RP_STR_LIT("trunks"), RP_STR_LIT("pbx-secret"), ts), 0);
	n = snprintf(text, sizeof(text),
		"realm = \"" REALM "\";\n"
		"listen udp 127.0.0.1:5060;\n"
		"user alice { ha1_md5 = \"%s\"; ha1_sha256 = \"%s\"; }\n"
		"user md5only { ha1_md5 = \"%s\"; }\n"
		"trunk pbx { address = \"10.0.0.30\";\n"
		"  inbound { realm = \"trunks\"; user = \"pbx\"; ha1_md5 = \"%s\"; ha1_sha256 = \"%s\"; } }\n"
		"route request { reply 503; }\n", ha1m, ha1s, ho, tm, ts);
	ck_assert_int_lt(n, (int)sizeof(text));
	ck_assert_int_eq(cfg_load_string("test.conf", text, (size_t)n, &cfg, NULL), 0);
	ck_assert_int_eq(rp_auth_new(&(struct rp_auth_opts){ .nonce_ttl_s = 60 }, &au), 0);
	rp_arena_init(&arena, NULL, 0, 0);
}

static void teardown(void)
{
	rp_arena_fini(&arena);
	au = rp_auth_free(au);
	cfg_free(cfg);
	cfg = NULL;
}

/* ---- helpers ---- */

static struct sip_msg *parse(const char *text)
{
	struct sip_msg *m = NULL;
	struct sip_perr pe;
	char *copy = rp_arena_strndup(&arena, text, strlen(text));

	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(sip_msg_parse(copy, strlen(copy), &arena, NULL, &m, &pe), SIP_OK);
	return m;
}

static struct sip_msg *request(const char *method, const char *ruri,
	const char *authname, const char *authval)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf),
		"%s %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
		"From: <sip:alice@" REALM ">;tag=1\r\n"
		"To: <sip:alice@" REALM ">\r\n"
		"Call-ID: c1\r\n"
		"CSeq: 2 %s\r\n"
		"Contact: <sip:alice@127.0.0.1:5062>\r\n"
		"%s%s%s%s"
		"Content-Length: 0\r\n\r\n",
		method, ruri, method, authname ? authname : "", authname ? ": " : "",
		authname ? authval : "", authname ? "\r\n" : "");

	ck_assert_int_lt(n, (int)sizeof(buf));
	return parse(buf);
}

/* The value of challenge line 'idx' (0 SHA-256, 1 MD5) from a challenge. */
static void chal_value(const char *chal, int idx, char *out, size_t outsz)
{
	const char *p = chal, *colon, *eol;

	for (int i = 0; i < idx; i++)
		p = strstr(p, "\r\n") + 2;
	colon = strchr(p, ':');
	eol = strstr(p, "\r\n");
	ck_assert_ptr_nonnull(colon);
	ck_assert_ptr_nonnull(eol);
	snprintf(out, outsz, "%.*s", (int)(eol - colon - 2), colon + 2);
}

/* Challenge for realm, answered by a client for user/password. */
static void answer(const char *realm, bool proxy, int which, uint64_t now,
	const char *user, const char *pass, const char *method, const char *uri,
	char *out, size_t outsz, struct rp_auth_client *cl)
{
	char chal[1024], val[512];
	size_t n;
	struct rp_auth_creds cr = { .username = user, .password = pass };

	ck_assert_int_eq(rp_auth_challenge(au, rp_str_cstr(realm), proxy, false, now,
		chal, sizeof(chal), &n), 0);
	chal_value(chal, which, val, sizeof(val));
	ck_assert_int_eq(rp_auth_client_set(cl, rp_str_cstr(val), proxy), 0);
	ck_assert_int_eq(rp_auth_client_authorize(cl, &cr, rp_str_cstr(method),
		rp_str_cstr(uri), NULL, out, outsz, &n), 0);
	ck_assert_uint_eq(n, strlen(out));
}

static enum rp_auth_result verify_req(const char *method, const char *ruri,
	const char *hdr, const char *val, bool proxy, uint64_t now,
	struct rp_auth_info *info)
{
	struct sip_msg *m = request(method, ruri, hdr, val);

	return rp_auth_verify(au, m, RP_STR_LIT(REALM), proxy, cfg, now, info);
}

/* ---- RFC examples ---- */

START_TEST(rfc2617_example)
{
	char ha1[65], resp[65], out[1024];
	struct rp_auth_client cl;
	struct rp_auth_creds cr = { .username = "Mufasa", .password = "Circle Of Life" };
	size_t n;

	ck_assert_int_eq(rp_digest_ha1(RP_DIGEST_MD5, RP_STR_LIT("Mufasa"),
		RP_STR_LIT("testrealm@host.com"), RP_STR_LIT("Circle Of Life"), ha1), 0);
	ck_assert_str_eq(ha1, "939e7578ed9e3c518a452acee763bce9");
	ck_assert_int_eq(rp_digest_response(RP_DIGEST_MD5, rp_str_cstr(ha1),
		RP_STR_LIT("GET"), RP_STR_LIT("/dir/index.html"),
		RP_STR_LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"), RP_STR_LIT("00000001"),
		RP_STR_LIT("0a4f113b"), RP_STR_LIT("auth"), resp), 0);
	ck_assert_str_eq(resp, "6629fae49393a05397450978507c4ef1");

	/* The same through the client side, from the RFC's challenge. */
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(
		"Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
		"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
		"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), false), 0);
	ck_assert_int_eq(cl.alg, RP_DIGEST_MD5);
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("GET"),
		RP_STR_LIT("/dir/index.html"), "0a4f113b", out, sizeof(out), &n), 0);
	ck_assert_ptr_nonnull(strstr(out, "response=\"6629fae49393a05397450978507c4ef1\""));
	ck_assert_ptr_nonnull(strstr(out, "nc=00000001"));
	ck_assert_ptr_nonnull(strstr(out, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
	ck_assert_ptr_nonnull(strstr(out, "qop=auth"));
	/* A stored HA1 gives the same answer without the password; nc counts. */
	cr.password = NULL;
	cr.ha1_md5 = ha1;
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("GET"),
		RP_STR_LIT("/dir/index.html"), "0a4f113b", out, sizeof(out), &n), 0);
	ck_assert_ptr_nonnull(strstr(out, "nc=00000002"));
	ck_assert_ptr_null(strstr(out, "6629fae49393a05397450978507c4ef1"));
	rp_auth_client_wipe(&cl);
}
END_TEST

START_TEST(rfc7616_example)
{
	static const char chal_sha[] = "Digest realm=\"http-auth@example.org\", "
		"qop=\"auth, auth-int\", algorithm=SHA-256, "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
		"opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	static const char chal_md5[] = "Digest realm=\"http-auth@example.org\", "
		"qop=\"auth, auth-int\", algorithm=MD5, "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
		"opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	static const char cnonce[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
	struct rp_auth_creds cr = { .username = "Mufasa", .password = "Circle of Life" };
	struct rp_auth_client cl;
	char out[1024];
	size_t n;

	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(chal_sha), false), 0);
	ck_assert_int_eq(cl.alg, RP_DIGEST_SHA256);
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("GET"),
		RP_STR_LIT("/dir/index.html"), cnonce, out, sizeof(out), &n), 0);
	ck_assert_ptr_nonnull(strstr(out,
		"response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
	ck_assert_ptr_nonnull(strstr(out, "algorithm=SHA-256"));

	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(chal_md5), false), 0);
	ck_assert_int_eq(cl.nc, 0);
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("GET"),
		RP_STR_LIT("/dir/index.html"), cnonce, out, sizeof(out), &n), 0);
	ck_assert_ptr_nonnull(strstr(out, "response=\"8ca523f5e9506fed4657c9700eebdbec\""));
}
END_TEST

/* ---- server round trip ---- */

START_TEST(challenge_format)
{
	char buf[1024], small[64];
	size_t n;

	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT(REALM), false, false, T0,
		buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, strlen(buf));
	/* Two WWW-Authenticate lines, SHA-256 first (RFC 8760 §2.4). */
	ck_assert(strncmp(buf, "WWW-Authenticate: Digest realm=\"rampart\"", 40) == 0);
	ck_assert_ptr_nonnull(strstr(buf, "algorithm=SHA-256"));
	ck_assert(strstr(buf, "algorithm=SHA-256") < strstr(buf, "algorithm=MD5"));
	ck_assert_ptr_nonnull(strstr(strstr(buf, "\r\n"), "WWW-Authenticate: Digest"));
	ck_assert_ptr_nonnull(strstr(buf, "qop=\"auth\""));
	ck_assert_ptr_null(strstr(buf, "stale"));
	ck_assert(buf[n - 2] == '\r' && buf[n - 1] == '\n');

	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT(REALM), true, true, T0,
		buf, sizeof(buf), &n), 0);
	ck_assert(strncmp(buf, "Proxy-Authenticate: Digest", 26) == 0);
	ck_assert_ptr_nonnull(strstr(buf, "stale=true"));

	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT("a\"b"), false, false, T0,
		buf, sizeof(buf), &n), -EINVAL);
	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT("a\r\nX: y"), false, false, T0,
		buf, sizeof(buf), &n), -EINVAL);
	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT(REALM), false, false, T0,
		small, sizeof(small), &n), -ENOSPC);
}
END_TEST

START_TEST(round_trip_sha256_and_md5)
{
	struct rp_auth_client cl;
	struct rp_auth_info info;
	char val[1024];

	memset(&cl, 0, sizeof(cl));
	for (int which = 0; which < 2; which++) {
		answer(REALM, false, which, T0, "alice", "alice-secret", "REGISTER",
			"sip:" REALM, val, sizeof(val), &cl);
		ck_assert_int_eq(cl.alg, which ? RP_DIGEST_MD5 : RP_DIGEST_SHA256);
		ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
			false, T0 + 5000, &info), RP_AUTH_OK);
		ck_assert_int_eq(info.alg, which ? RP_DIGEST_MD5 : RP_DIGEST_SHA256);
		ck_assert_ptr_nonnull(info.user);
		ck_assert_str_eq(info.user->name, "alice");
		ck_assert_uint_eq(info.offer, RP_AUTH_OFFER_ALL);
		ck_assert(rp_str_eq_cstr(info.username, "alice"));
		/* The same nonce again with the next nc is fine. */
		ck_assert_int_eq(rp_auth_client_authorize(&cl,
			&(struct rp_auth_creds){ .username = "alice", .password = "alice-secret" },
			RP_STR_LIT("REGISTER"), RP_STR_LIT("sip:" REALM), NULL, val,
			sizeof(val), &(size_t){ 0 }), 0);
		ck_assert_ptr_nonnull(strstr(val, "nc=00000002"));
		ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
			false, T0 + 6000, &info), RP_AUTH_OK);
	}
}
END_TEST

START_TEST(round_trip_proxy_and_trunk)
{
	struct rp_auth_client cl;
	struct rp_auth_info info;
	struct sip_msg *m;
	char val[1024];

	memset(&cl, 0, sizeof(cl));
	answer(REALM, true, 0, T0, "alice", "alice-secret", "INVITE",
		"sip:bob@" REALM, val, sizeof(val), &cl);
	ck_assert(cl.proxy);
	/* Proxy-Authorization is what counts for 407; Authorization is ignored. */
	ck_assert_int_eq(verify_req("INVITE", "sip:bob@" REALM, "Authorization", val,
		true, T0, &info), RP_AUTH_NO_CREDENTIALS);
	ck_assert_int_eq(verify_req("INVITE", "sip:bob@" REALM, "Proxy-Authorization",
		val, true, T0, &info), RP_AUTH_OK);

	/* A trunk's inbound digest credentials. */
	answer("trunks", true, 0, T0, "pbx", "pbx-secret", "INVITE",
		"sip:+4930123@" REALM, val, sizeof(val), &cl);
	m = request("INVITE", "sip:+4930123@" REALM, "Proxy-Authorization", val);
	ck_assert_int_eq(rp_auth_verify(au, m, RP_STR_LIT("trunks"), true, cfg, T0, &info),
		RP_AUTH_OK);
	ck_assert_ptr_null(info.user);
	ck_assert_ptr_nonnull(info.trunk);
	ck_assert_str_eq(info.trunk->name, "pbx");
}
END_TEST

START_TEST(client_pick_prefers_sha256)
{
	char chal[1024], resp[2048], val[1024];
	struct rp_auth_client cl;
	struct sip_msg *m;
	size_t n;

	ck_assert_int_eq(rp_auth_challenge(au, RP_STR_LIT(REALM), true, false, T0,
		chal, sizeof(chal), &n), 0);
	/* MD5 line first in the message: the pick still takes SHA-256. */
	{
		char l0[512], l1[512];

		chal_value(chal, 0, l0, sizeof(l0));
		chal_value(chal, 1, l1, sizeof(l1));
		snprintf(resp, sizeof(resp),
			"SIP/2.0 407 Proxy Authentication Required\r\n"
			"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
			"From: <sip:alice@" REALM ">;tag=1\r\nTo: <sip:bob@" REALM ">;tag=2\r\n"
			"Call-ID: c1\r\nCSeq: 2 INVITE\r\n"
			"Proxy-Authenticate: Basic realm=\"x\"\r\n"
			"Proxy-Authenticate: %s\r\nProxy-Authenticate: %s\r\n"
			"Content-Length: 0\r\n\r\n", l1, l0);
	}
	m = parse(resp);
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(rp_auth_client_pick(m, &cl), 0);
	ck_assert_int_eq(cl.alg, RP_DIGEST_SHA256);
	ck_assert(cl.proxy);
	ck_assert_str_eq(cl.realm, REALM);
	ck_assert_int_eq(rp_auth_client_authorize(&cl,
		&(struct rp_auth_creds){ .username = "alice", .password = "alice-secret" },
		RP_STR_LIT("INVITE"), RP_STR_LIT("sip:bob@" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_int_eq(verify_req("INVITE", "sip:bob@" REALM, "Proxy-Authorization",
		val, true, T0, NULL), RP_AUTH_OK);

	/* Only auth-int, only an unknown algorithm: nothing we can answer. */
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(
		"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""), false), -ENOTSUP);
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(
		"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"), false), -ENOTSUP);
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(
		"Digest realm=\"r\", qop=\"auth\""), false), -EINVAL);
	/* RFC 2069 style (no qop): no nc / cnonce in the answer. */
	ck_assert_int_eq(rp_auth_client_set(&cl, RP_STR_LIT(
		"Digest realm=\"r\", nonce=\"abc\""), false), 0);
	ck_assert_int_eq(rp_auth_client_authorize(&cl,
		&(struct rp_auth_creds){ .username = "u", .password = "p" },
		RP_STR_LIT("INVITE"), RP_STR_LIT("sip:x@y"), NULL, val, sizeof(val), &n), 0);
	ck_assert_ptr_null(strstr(val, "nc="));
	ck_assert_ptr_null(strstr(val, "cnonce"));
	/* No password and no HA1 for the algorithm: refused. */
	ck_assert_int_eq(rp_auth_client_authorize(&cl,
		&(struct rp_auth_creds){ .username = "u", .ha1_sha256 = "00" },
		RP_STR_LIT("INVITE"), RP_STR_LIT("sip:x@y"), NULL, val, sizeof(val), &n), -EINVAL);
}
END_TEST

/* ---- every failure ---- */

START_TEST(wrong_password_user_realm)
{
	struct rp_auth_client cl;
	struct rp_auth_info info;
	char val[1024];

	memset(&cl, 0, sizeof(cl));
	answer(REALM, false, 0, T0, "alice", "wrong", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, &info), RP_AUTH_BAD_RESPONSE);
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_BAD_RESPONSE, true), 403);

	answer(REALM, false, 0, T0, "mallory", "x", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, &info), RP_AUTH_UNKNOWN_USER);
	ck_assert(rp_str_eq_cstr(info.username, "mallory"));

	/* Credentials for another realm only: challenge again. */
	answer("elsewhere", false, 0, T0, "alice", "alice-secret", "REGISTER",
		"sip:" REALM, val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, &info), RP_AUTH_WRONG_REALM);
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_WRONG_REALM, true), 401);
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_WRONG_REALM, false), 407);

	/* A user with only an MD5 HA1 answering the SHA-256 challenge. */
	answer(REALM, false, 0, T0, "md5only", "alice-secret", "REGISTER",
		"sip:" REALM, val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, &info), RP_AUTH_NO_HASH);
	/* The next challenge offers only what the account has. */
	ck_assert_uint_eq(info.offer, RP_AUTH_OFFER_MD5);
	{
		char chal[1024];
		size_t n;

		ck_assert_int_eq(rp_auth_challenge_offer(au, RP_STR_LIT(REALM), false, false,
			info.offer, T0, chal, sizeof(chal), &n), 0);
		ck_assert_ptr_null(strstr(chal, "SHA-256"));
		ck_assert_ptr_nonnull(strstr(chal, "algorithm=MD5"));
		ck_assert_ptr_null(strstr(strstr(chal, "\r\n") + 2, "WWW-Authenticate"));
		ck_assert_uint_eq(n, strlen(chal));
	}
	answer(REALM, false, 1, T0, "md5only", "alice-secret", "REGISTER",
		"sip:" REALM, val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, &info), RP_AUTH_OK);

	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, NULL, NULL, false, T0,
		&info), RP_AUTH_NO_CREDENTIALS);
}
END_TEST

START_TEST(wrong_uri)
{
	struct rp_auth_client cl;
	char val[1024];

	memset(&cl, 0, sizeof(cl));
	answer(REALM, true, 0, T0, "alice", "alice-secret", "INVITE", "sip:bob@" REALM,
		val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("INVITE", "sip:carol@" REALM, "Proxy-Authorization",
		val, true, T0, NULL), RP_AUTH_URI_MISMATCH);
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_URI_MISMATCH, false), 400);
	/* Same URI, host in other case: the same resource. */
	answer(REALM, true, 0, T0, "alice", "alice-secret", "INVITE", "sip:bob@RAMPART",
		val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("INVITE", "sip:bob@" REALM, "Proxy-Authorization",
		val, true, T0, NULL), RP_AUTH_OK);
}
END_TEST

START_TEST(expired_nonce_is_stale)
{
	struct rp_auth_client cl;
	char val[1024];

	memset(&cl, 0, sizeof(cl));
	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	/* ttl is 60 s in this suite */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0 + 61000, NULL), RP_AUTH_STALE_NONCE);
	ck_assert(rp_auth_result_stale(RP_AUTH_STALE_NONCE));
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_STALE_NONCE, true), 401);
	/* Stale even with a wrong password? No: staleness is only said for a
	 * nonce that is ours; the password is not checked on a stale nonce,
	 * which is what RFC 7616 §3.3 wants (the UA retries silently). */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0 + 59000, NULL), RP_AUTH_OK);
}
END_TEST

START_TEST(tampered_or_foreign_nonce)
{
	struct rp_auth_client cl;
	rp_auth *other;
	char val[1024], *p;
	char chal[1024], cv[512];
	size_t n;

	memset(&cl, 0, sizeof(cl));
	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	p = strstr(val, "nonce=\"") + 7 + 10; /* inside the timestamp/salt */
	*p = *p == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_BAD_NONCE);

	/* A nonce made by another process (other secret). */
	ck_assert_int_eq(rp_auth_new(NULL, &other), 0);
	ck_assert_int_eq(rp_auth_challenge(other, RP_STR_LIT(REALM), false, false, T0,
		chal, sizeof(chal), &n), 0);
	chal_value(chal, 0, cv, sizeof(cv));
	ck_assert_int_eq(rp_auth_client_set(&cl, rp_str_cstr(cv), false), 0);
	ck_assert_int_eq(rp_auth_client_authorize(&cl,
		&(struct rp_auth_creds){ .username = "alice", .password = "alice-secret" },
		RP_STR_LIT("REGISTER"), RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_BAD_NONCE);
	other = rp_auth_free(other);

	/* A nonce for another realm does not verify in ours. */
	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	{
		struct sip_msg *m = request("REGISTER", "sip:" REALM, "Authorization", val);

		ck_assert_int_eq(rp_auth_verify(au, m, RP_STR_LIT("trunks"), false, cfg, T0,
			NULL), RP_AUTH_WRONG_REALM);
	}
	/* opaque changed */
	p = strstr(val, "opaque=\"") + 8;
	*p = *p == 'a' ? 'b' : 'a';
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_BAD_OPAQUE);
}
END_TEST

static void set_nc(char *val, const char *nc)
{
	char *p = strstr(val, "nc=");

	ck_assert_ptr_nonnull(p);
	memcpy(p + 3, nc, 8);
}

START_TEST(nc_replay)
{
	struct rp_auth_client cl;
	struct rp_auth_creds cr = { .username = "alice", .password = "alice-secret" };
	char val[1024];
	size_t n;

	memset(&cl, 0, sizeof(cl));
	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_OK);
	/* The very same credentials again: a replay. */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_NC_REPLAY);

	/* Out of order inside the window is accepted once each: nc 3, then 2. */
	cl.nc = 2;
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_ptr_nonnull(strstr(val, "nc=00000003"));
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_OK);
	cl.nc = 1;
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_OK);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_NC_REPLAY);
	/* Far ahead, then something older than the 64-wide window. */
	cl.nc = 199;
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_OK);
	cl.nc = 99;
	ck_assert_int_eq(rp_auth_client_authorize(&cl, &cr, RP_STR_LIT("REGISTER"),
		RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n), 0);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_NC_REPLAY);
	/* nc changed by an attacker without recomputing: bad response. */
	set_nc(val, "00000105");
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_BAD_RESPONSE);
	set_nc(val, "00000000");
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_MALFORMED);
}
END_TEST

START_TEST(nc_table_eviction_never_allows_replay)
{
	struct rp_auth_client cl[300];
	char val[300][1024];
	int ok_again = 0;

	au = rp_auth_free(au);
	/* 64 slots in all: 300 nonces evict most of them. */
	ck_assert_int_eq(rp_auth_new(&(struct rp_auth_opts){ .nc_slots = 64 }, &au), 0);
	memset(cl, 0, sizeof(cl));
	for (int i = 0; i < 300; i++) {
		answer(REALM, false, 0, T0 + (uint64_t)i, "alice", "alice-secret",
			"REGISTER", "sip:" REALM, val[i], sizeof(val[i]), &cl[i]);
		ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization",
			val[i], false, T0 + 300, NULL), RP_AUTH_OK);
	}
	for (int i = 0; i < 300; i++) {
		enum rp_auth_result r = verify_req("REGISTER", "sip:" REALM,
			"Authorization", val[i], false, T0 + 300, NULL);

		ck_assert(r == RP_AUTH_NC_REPLAY || r == RP_AUTH_STALE_NONCE);
		ok_again += r == RP_AUTH_OK;
	}
	ck_assert_int_eq(ok_again, 0);
}
END_TEST

START_TEST(malformed_and_unknown_algorithm)
{
	struct rp_auth_client cl;
	struct rp_auth_info info;
	char val[1024], *p;
	struct sip_msg *m;

	memset(&cl, 0, sizeof(cl));
	/* Unterminated quote: malformed, with the offset inside the message. */
	m = request("REGISTER", "sip:" REALM, "Authorization",
		"Digest username=\"alice, realm=\"rampart\"");
	ck_assert_int_eq(rp_auth_verify(au, m, RP_STR_LIT(REALM), false, cfg, T0, &info),
		RP_AUTH_MALFORMED);
	ck_assert_uint_gt(info.err_off, (size_t)(strstr(m->buf, "Authorization") - m->buf));
	ck_assert_uint_eq(rp_auth_result_status(RP_AUTH_MALFORMED, true), 400);
	/* Our realm, but no nonce / response. */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization",
		"Digest username=\"alice\", realm=\"rampart\", uri=\"sip:rampart\"",
		false, T0, NULL), RP_AUTH_MALFORMED);
	/* A parameter twice. */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization",
		"Digest username=\"alice\", username=\"bob\", realm=\"rampart\"",
		false, T0, NULL), RP_AUTH_MALFORMED);

	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	p = strstr(val, "algorithm=SHA-256");
	memcpy(p, "algorithm=SHA-512", 17);
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization", val,
		false, T0, NULL), RP_AUTH_UNKNOWN_ALGORITHM);

	/* No qop: the RFC 2069 form has no replay protection, refused. */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization",
		"Digest username=\"alice\", realm=\"rampart\", nonce=\"x\", "
		"uri=\"sip:rampart\", response=\"00000000000000000000000000000000\"",
		false, T0, NULL), RP_AUTH_BAD_QOP);
	/* Basic is not Digest: as if there were no credentials. */
	ck_assert_int_eq(verify_req("REGISTER", "sip:" REALM, "Authorization",
		"Basic YWxpY2U6eA==", false, T0, NULL), RP_AUTH_NO_CREDENTIALS);
}
END_TEST

START_TEST(parser)
{
	struct rp_digest_params d;
	char buf[64];
	size_t off = 99;

	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT(
		"digest  username = \"a\\\"b\" ,realm=\"r\",nc=00000001 , qop=auth, x=\"y,z\""),
		&d, &off), 0);
	ck_assert(d.has_username && d.has_realm && d.has_nc && d.has_qop);
	ck_assert(d.escaped);
	ck_assert(rp_str_eq_cstr(d.nc, "00000001"));
	ck_assert(rp_str_eq_cstr(d.qop, "auth"));
	ck_assert_int_eq(rp_digest_unquote(d.username, buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "a\"b");
	ck_assert_int_eq(rp_digest_unquote(d.username, buf, 3), -ENOSPC);

	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Basic abc"), &d, &off), -ENOTSUP);
	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Digest realm=\"r\" nonce=\"n\""),
		&d, &off), -EINVAL);
	ck_assert_uint_eq(off, 17);
	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Digest realm=\"r"), &d, &off), -EINVAL);
	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Digest realm="), &d, &off), -EINVAL);
	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Digest"), &d, &off), -EINVAL);
	ck_assert_int_eq(rp_digest_parse(RP_STR_LIT("Digest realm=\"a\r\nb\""), &d, &off),
		-EINVAL);
	/* Never reads past the length: the value is cut inside a quote. */
	ck_assert_int_eq(rp_digest_parse(rp_str_make("Digest realm=\"abc\"", 16), &d, &off),
		-EINVAL);
}
END_TEST

struct thr {
	int ok;
};

static void *verify_thread(void *arg)
{
	struct thr *t = arg;
	struct rp_auth_client cl;
	char chal[1024], cv[512], val[1024], msg[2048];

	memset(&cl, 0, sizeof(cl));
	for (int i = 0; i < 200; i++) {
		size_t n;
		rp_arena a;
		struct sip_msg *m = NULL;

		if (rp_auth_challenge(au, RP_STR_LIT(REALM), false, false, T0, chal,
				sizeof(chal), &n))
			continue;
		chal_value(chal, i & 1, cv, sizeof(cv));
		if (rp_auth_client_set(&cl, rp_str_cstr(cv), false) ||
		    rp_auth_client_authorize(&cl, &(struct rp_auth_creds){ .username = "alice",
				.password = "alice-secret" }, RP_STR_LIT("REGISTER"),
				RP_STR_LIT("sip:" REALM), NULL, val, sizeof(val), &n))
			continue;
		n = (size_t)snprintf(msg, sizeof(msg),
			"REGISTER sip:" REALM " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
			"From: <sip:alice@" REALM ">;tag=1\r\nTo: <sip:alice@" REALM ">\r\n"
			"Call-ID: c\r\nCSeq: 1 REGISTER\r\nAuthorization: %s\r\n"
			"Content-Length: 0\r\n\r\n", val);
		rp_arena_init(&a, NULL, 0, 0);
		if (sip_msg_parse(msg, n, &a, NULL, &m, NULL) == SIP_OK &&
		    rp_auth_verify(au, m, RP_STR_LIT(REALM), false, cfg, T0, NULL) == RP_AUTH_OK &&
		    rp_auth_verify(au, m, RP_STR_LIT(REALM), false, cfg, T0, NULL) ==
			    RP_AUTH_NC_REPLAY)
			t->ok++;
		rp_arena_fini(&a);
	}
	return NULL;
}

START_TEST(concurrent_verify)
{
	pthread_t th[4];
	struct thr t[4];

	/* All 800 nonces carry the same timestamp T0: one set of 4 ways
	 * drawing a 5th evicts, which makes every later T0 nonce of that shard
	 * stale (by design: no replay through eviction). With the default
	 * 16,384 slots that happens in ~1% of runs; 2^18 slots make it
	 * vanishingly rare, so a failure here means a real race. */
	au = rp_auth_free(au);
	ck_assert_int_eq(rp_auth_new(&(struct rp_auth_opts){ .nonce_ttl_s = 60,
		.nc_slots = 1u << 18 }, &au), 0);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, verify_thread, &t[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].ok, 200);
	}
}
END_TEST

/* Deterministic mutations of a valid credentials value: every byte in an
 * exactly-sized heap copy (so ASan sees any over-read). A change inside the
 * response, nonce or cnonce must never verify. */
static uint32_t lcg(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return *st >> 8;
}

START_TEST(mutated_credentials)
{
	static const char alphabet[] = "\"\\,= \t\r\naZ09/+:;@<>";
	struct rp_auth_client cl;
	char val[1024];
	uint32_t st = 12345;
	size_t len, resp_off;

	memset(&cl, 0, sizeof(cl));
	answer(REALM, false, 0, T0, "alice", "alice-secret", "REGISTER", "sip:" REALM,
		val, sizeof(val), &cl);
	len = strlen(val);
	resp_off = (size_t)(strstr(val, "response=\"") - val) + 10;
	for (int i = 0; i < 20000; i++) {
		char *copy = malloc(len);
		size_t pos = lcg(&st) % len, cut = len;
		struct rp_digest_params d;
		enum rp_auth_result r;
		int kind = (int)(lcg(&st) % 3);

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, val, len);
		if (kind == 0)
			copy[pos] = alphabet[lcg(&st) % (sizeof(alphabet) - 1)];
		else if (kind == 1)
			copy[pos] = (char)(copy[pos] ^ (1 << (lcg(&st) % 8)));
		else
			cut = pos;
		(void)rp_digest_parse(rp_str_make(copy, cut), &d, NULL);
		r = rp_auth_verify_value(au, rp_str_make(copy, cut), RP_STR_LIT("REGISTER"),
			RP_STR_LIT("sip:" REALM), RP_STR_LIT(REALM), cfg, T0, NULL);
		ck_assert_int_lt(r, RP_AUTH__COUNT);
		if (kind != 2 && pos >= resp_off && pos < resp_off + 64 && copy[pos] != val[pos] &&
		    !((val[pos] ^ copy[pos]) == 0x20 && ((val[pos] | 0x20) >= 'a' && (val[pos] | 0x20) <= 'f')))
			ck_assert_int_ne(r, RP_AUTH_OK);
		free(copy);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_auth");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rfc2617_example);
	tcase_add_test(tc, rfc7616_example);
	tcase_add_test(tc, challenge_format);
	tcase_add_test(tc, round_trip_sha256_and_md5);
	tcase_add_test(tc, round_trip_proxy_and_trunk);
	tcase_add_test(tc, client_pick_prefers_sha256);
	tcase_add_test(tc, wrong_password_user_realm);
	tcase_add_test(tc, wrong_uri);
	tcase_add_test(tc, expired_nonce_is_stale);
	tcase_add_test(tc, tampered_or_foreign_nonce);
	tcase_add_test(tc, nc_replay);
	tcase_add_test(tc, nc_table_eviction_never_allows_replay);
	tcase_add_test(tc, malformed_and_unknown_algorithm);
	tcase_add_test(tc, parser);
	tcase_add_test(tc, concurrent_verify);
	tcase_add_test(tc, mutated_credentials);
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
