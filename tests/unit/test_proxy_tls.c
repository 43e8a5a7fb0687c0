/* proxy/tls: handshakes between the module's own server and client sides
 * over loopback TCP, with a test PKI made by openssl at run time. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"

static char pki[256];

static const char *f(const char *name)
{
	static char buf[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

static void make_pki(void)
{
	char cmd[PATH_MAX * 2 + 64];
	char tmpl[] = "/tmp/rp-tls-test-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(pki, sizeof(pki), "%s", tmpl);
	snprintf(cmd, sizeof(cmd), "sh %s/../../integration/proxy_mkcerts.sh %s >/dev/null",
		RP_TEST_DATA, pki);
	ck_assert_int_eq(system(cmd), 0);
}

static void rm_pki(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	(void)system(cmd);
}

/* A connected, non-blocking TCP pair over 127.0.0.1 (port picked by the
 * kernel). */
static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(l, NULL, NULL);
	ck_assert_int_ge(*b, 0);
	close(l);
	fcntl(*a, F_SETFL, O_NONBLOCK);
	fcntl(*b, F_SETFL, O_NONBLOCK);
}

/* Runs both handshakes until each is done or failed (bounded). */
static void run_hs(rp_tls_sess *srv, rp_tls_sess *cli, enum rp_tls_status *ss,
	enum rp_tls_status *cs)
{
	*ss = *cs = RP_TLS_WANT_READ;
	for (int i = 0; i < 2000; i++) {
		if (*ss > 0)
			*ss = rp_tls_handshake(srv);
		if (*cs > 0)
			*cs = rp_tls_handshake(cli);
		if (*ss <= 0 && *cs <= 0)
			return;
		if ((*ss <= 0 || *ss == RP_TLS_CLOSED) && (*cs <= 0 || *cs == RP_TLS_CLOSED))
			return;
		if (*ss == RP_TLS_CLOSED || *cs == RP_TLS_CLOSED)
			return;
		poll(NULL, 0, 1);
	}
}

struct pair {
	int sfd, cfd;
	rp_tls_sess *srv, *cli;
	enum rp_tls_status ss, cs;
};

static void connect_pair(struct pair *p, rp_tls_ctx *sctx, rp_tls_ctx *cctx,
	const char *domain)
{
	tcp_pair(&p->cfd, &p->sfd);
	ck_assert_int_eq(rp_tls_sess_new(sctx, p->sfd, NULL, &p->srv), 0);
	ck_assert_int_eq(rp_tls_sess_new(cctx, p->cfd, domain, &p->cli), 0);
	run_hs(p->srv, p->cli, &p->ss, &p->cs);
}

static void close_pair(struct pair *p)
{
	rp_tls_sess_free(p->srv);
	rp_tls_sess_free(p->cli);
	close(p->sfd);
	close(p->cfd);
}

static rp_tls_ctx *server_ctx(const char *cert, const char *key, bool mtls)
{
	struct rp_tls_cfg c = { .cert_file = cert, .key_file = key,
		.ca_file = f("ca.pem"), .verify_client = mtls, .require_client_cert = mtls };
	char err[256] = "";
	rp_tls_ctx *ctx = NULL;
	int rc = rp_tls_ctx_new(RP_TLS_SERVER, &c, &ctx, err, sizeof(err));

	ck_assert_msg(rc == 0, "server ctx: %s", err);
	return ctx;
}

static rp_tls_ctx *client_ctx(bool with_cert, bool wild)
{
	struct rp_tls_cfg c = { .ca_file = f("ca.pem"), .allow_wildcards = wild };
	char err[256] = "";
	rp_tls_ctx *ctx = NULL;

	if (with_cert) {
		c.cert_file = f("client.pem");
		c.key_file = f("client.key");
	}
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_CLIENT, &c, &ctx, err, sizeof(err)) == 0,
		"client ctx: %s", err);
	return ctx;
}

/* Sends 'msg' one way and checks it arrives intact. */
static void roundtrip(rp_tls_sess *from, rp_tls_sess *to, const char *msg)
{
	enum rp_tls_status st;
	char buf[256];
	size_t got = 0, n = strlen(msg);

	ck_assert_uint_eq(rp_tls_write(from, msg, n, &st), n);
	for (int i = 0; i < 1000 && got < n; i++) {
		size_t r = rp_tls_read(to, buf + got, sizeof(buf) - got, &st);

		got += r;
		if (!r) {
			ck_assert_int_gt(st, 0);
			poll(NULL, 0, 1);
		}
	}
	ck_assert_uint_eq(got, n);
	ck_assert_int_eq(memcmp(buf, msg, n), 0);
}

START_TEST(name_matching_rfc5922)
{
	const char *dns[] = { "sip.example.com", "*.example.net" };
	const char *uris[] = { "sip:trunk.example.org", "sip:user@evil.example",
		"https://web.example" };

	ck_assert(rp_tls_name_match("sip.example.com", dns, 2, NULL, 0, NULL, false));
	ck_assert(rp_tls_name_match("SIP.Example.COM", dns, 2, NULL, 0, NULL, false));
	ck_assert(!rp_tls_name_match("a.example.net", dns, 2, NULL, 0, NULL, false));
	ck_assert(rp_tls_name_match("a.example.net", dns, 2, NULL, 0, NULL, true));
	/* A wildcard is one label only, never the bare parent. */
	ck_assert(!rp_tls_name_match("a.b.example.net", dns, 2, NULL, 0, NULL, true));
	ck_assert(!rp_tls_name_match("example.net", dns, 2, NULL, 0, NULL, true));
	ck_assert(rp_tls_name_match("trunk.example.org", NULL, 0, uris, 3, NULL, false));
	ck_assert(!rp_tls_name_match("evil.example", NULL, 0, uris, 3, NULL, false));
	ck_assert(!rp_tls_name_match("web.example", NULL, 0, uris, 3, NULL, false));
	/* CN counts only when there are no SANs at all. */
	ck_assert(rp_tls_name_match("cn.example", NULL, 0, NULL, 0, "cn.example", false));
	ck_assert(!rp_tls_name_match("cn.example", dns, 2, NULL, 0, "cn.example", false));
}
END_TEST

START_TEST(ctx_errors_are_reported)
{
	char err[256] = "";
	rp_tls_ctx *ctx = NULL;
	struct rp_tls_cfg none = { 0 };
	struct rp_tls_cfg missing = { .cert_file = "/nonexistent.pem",
		.key_file = "/nonexistent.key" };
	struct rp_tls_cfg mismatch = { .cert_file = f("server.pem"),
		.key_file = f("client.key") };
	struct rp_tls_cfg badcipher = { .cert_file = f("server.pem"),
		.key_file = f("server.key"), .ciphers = "NOPE-NOT-A-CIPHER" };

	ck_assert_int_lt(rp_tls_ctx_new(RP_TLS_SERVER, &none, &ctx, err, sizeof(err)), 0);
	ck_assert_ptr_null(ctx);
	ck_assert_int_lt(rp_tls_ctx_new(RP_TLS_SERVER, &missing, &ctx, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent.pem"));
	ck_assert_int_lt(rp_tls_ctx_new(RP_TLS_SERVER, &mismatch, &ctx, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
	ck_assert_int_lt(rp_tls_ctx_new(RP_TLS_SERVER, &badcipher, &ctx, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "cipher"));
	/* Outbound without CAs would be unverified: refused. */
	ck_assert_int_lt(rp_tls_ctx_new(RP_TLS_CLIENT, &none, &ctx, err, sizeof(err)), 0);
	ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(handshake_and_identity)
{
	rp_tls_ctx *s = server_ctx(f("server.pem"), f("server.key"), false);
	rp_tls_ctx *c = client_ctx(false, false);
	struct pair p;

	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_msg(p.cs == RP_TLS_OK, "client: %s", rp_tls_sess_error(p.cli));
	ck_assert_int_eq(p.ss, RP_TLS_OK);
	ck_assert(strcmp(rp_tls_sess_version(p.cli), "TLSv1.3") == 0 ||
		strcmp(rp_tls_sess_version(p.cli), "TLSv1.2") == 0);
	roundtrip(p.cli, p.srv, "OPTIONS sip:x SIP/2.0\r\n");
	roundtrip(p.srv, p.cli, "SIP/2.0 200 OK\r\n");
	{
		const struct rp_tls_peer *pe = rp_tls_sess_peer(p.cli);
		bool dns = false, uri = false;

		ck_assert(pe->present);
		ck_assert_ptr_nonnull(strstr(pe->subject, "sip.test.example"));
		for (size_t i = 0; i < pe->n_sans; i++) {
			dns |= strcmp(pe->sans[i], "DNS:sip.test.example") == 0;
			uri |= strcmp(pe->sans[i], "URI:sip:sip.test.example") == 0;
		}
		ck_assert(dns);
		ck_assert(uri);
	}
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

START_TEST(wrong_name_refused)
{
	rp_tls_ctx *s = server_ctx(f("wrong.pem"), f("wrong.key"), false);
	rp_tls_ctx *c = client_ctx(false, false);
	struct pair p;

	/* CN says sip.test.example but the SAN does not: CN is ignored. */
	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_ERROR);
	ck_assert_msg(strstr(rp_tls_sess_error(p.cli), "name mismatch") &&
		strstr(rp_tls_sess_error(p.cli), "DNS:other.example"),
		"%s", rp_tls_sess_error(p.cli));
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

START_TEST(wildcard_only_when_allowed)
{
	rp_tls_ctx *s = server_ctx(f("wild.pem"), f("wild.key"), false);
	rp_tls_ctx *strict = client_ctx(false, false);
	rp_tls_ctx *lax = client_ctx(false, true);
	struct pair p;

	connect_pair(&p, s, strict, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_ERROR);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_error(p.cli), "wildcards not allowed"));
	close_pair(&p);
	connect_pair(&p, s, lax, "sip.test.example");
	ck_assert_msg(p.cs == RP_TLS_OK, "%s", rp_tls_sess_error(p.cli));
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(strict);
	rp_tls_ctx_put(lax);
}
END_TEST

START_TEST(untrusted_chain_refused)
{
	struct rp_tls_cfg cc = { .ca_file = f("other-ca.pem") };
	rp_tls_ctx *s = server_ctx(f("server.pem"), f("server.key"), false);
	rp_tls_ctx *c = NULL;
	char err[256];
	struct pair p;

	ck_assert_int_eq(rp_tls_ctx_new(RP_TLS_CLIENT, &cc, &c, err, sizeof(err)), 0);
	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_ERROR);
	ck_assert_msg(strstr(rp_tls_sess_error(p.cli), "not trusted") != NULL,
		"%s", rp_tls_sess_error(p.cli));
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

START_TEST(mutual_tls)
{
	rp_tls_ctx *s = server_ctx(f("server.pem"), f("server.key"), true);
	rp_tls_ctx *anon = client_ctx(false, false);
	rp_tls_ctx *withcert = client_ctx(true, false);
	struct pair p;

	connect_pair(&p, s, anon, "sip.test.example");
	ck_assert_int_ne(p.ss, RP_TLS_OK);
	ck_assert_msg(strstr(rp_tls_sess_error(p.srv), "no certificate") != NULL,
		"%s", rp_tls_sess_error(p.srv));
	close_pair(&p);

	connect_pair(&p, s, withcert, "sip.test.example");
	ck_assert_msg(p.ss == RP_TLS_OK, "%s", rp_tls_sess_error(p.srv));
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	{
		const struct rp_tls_peer *pe = rp_tls_sess_peer(p.srv);
		bool uri = false;

		ck_assert(pe->present);
		ck_assert_ptr_nonnull(strstr(pe->subject, "client.test.example"));
		for (size_t i = 0; i < pe->n_sans; i++)
			uri |= strcmp(pe->sans[i], "URI:sip:client.test.example") == 0;
		ck_assert(uri);
	}
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(anon);
	rp_tls_ctx_put(withcert);
}
END_TEST

START_TEST(reload_keeps_old_connections)
{
	char live_cert[PATH_MAX], live_key[PATH_MAX], cmd[PATH_MAX * 3], err[256];
	struct rp_tls_cfg sc;
	rp_tls_store *store = NULL;
	rp_tls_ctx *c = client_ctx(false, false), *cur;
	struct pair p1, p2;

	snprintf(live_cert, sizeof(live_cert), "%s", f("live.pem"));
	snprintf(live_key, sizeof(live_key), "%s", f("live.key"));
	snprintf(cmd, sizeof(cmd), "cp %s %s && cp %s %s", f("server.pem"), live_cert,
		f("server.key"), live_key);
	ck_assert_int_eq(system(cmd), 0);
	sc = (struct rp_tls_cfg){ .cert_file = live_cert, .key_file = live_key };
	ck_assert_int_eq(rp_tls_store_new(RP_TLS_SERVER, &sc, &store, err, sizeof(err)), 0);

	cur = rp_tls_store_acquire(store);
	connect_pair(&p1, cur, c, "sip.test.example");
	cur = rp_tls_ctx_put(cur);
	ck_assert_int_eq(p1.cs, RP_TLS_OK);
	ck_assert_uint_eq(rp_tls_sess_generation(p1.srv), 0);

	/* Broken files: reload refused, the old context stays. */
	snprintf(cmd, sizeof(cmd), "echo garbage > %s", live_cert);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_lt(rp_tls_store_reload(store, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, live_cert));
	cur = rp_tls_store_acquire(store);
	ck_assert_uint_eq(rp_tls_ctx_generation(cur), 0);
	cur = rp_tls_ctx_put(cur);

	/* New good files: new connections get the new certificate. */
	snprintf(cmd, sizeof(cmd), "cp %s %s && cp %s %s", f("server2.pem"), live_cert,
		f("server2.key"), live_key);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(rp_tls_store_reload(store, err, sizeof(err)) == 0, "%s", err);
	cur = rp_tls_store_acquire(store);
	ck_assert_uint_eq(rp_tls_ctx_generation(cur), 1);
	connect_pair(&p2, cur, c, "sip.test.example");
	cur = rp_tls_ctx_put(cur);
	ck_assert_int_eq(p2.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p2.cli)->subject, "sip2.test.example"));

	/* The old connection still works on the old context. */
	roundtrip(p1.cli, p1.srv, "still here");
	roundtrip(p1.srv, p1.cli, "yes");
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p1.cli)->subject, "CN=sip.test.example"));

	close_pair(&p1);
	close_pair(&p2);
	rp_tls_store_free(store);
	rp_tls_ctx_put(c);
}
END_TEST

START_TEST(sni_picks_certificate)
{
	struct rp_tls_cfg sc = { .cert_file = f("server.pem"), .key_file = f("server.key"),
		.n_sni = 1 };
	rp_tls_ctx *s = NULL, *c = client_ctx(false, false);
	char err[256];
	struct pair p;

	sc.sni[0] = (struct rp_tls_sni_cert){ .names = { "sip2.test.example" }, .n_names = 1,
		.cert_file = f("server2.pem"), .key_file = f("server2.key") };
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_SERVER, &sc, &s, err, sizeof(err)) == 0, "%s", err);
	connect_pair(&p, s, c, "sip2.test.example");
	ck_assert_msg(p.cs == RP_TLS_OK, "%s", rp_tls_sess_error(p.cli));
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "sip2.test.example"));
	close_pair(&p);
	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "CN=sip.test.example"));
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

/* Staging: every kind of bad replacement is refused with a reason and
 * changes nothing; a good one is only used after commit, and then a reload
 * re-reads the new files. */
/* A config reload's new settings for a store: a bad one changes nothing;
 * a good one replaces the files (and the SNI slots) for new contexts, the
 * label stays, a staged certificate is dropped, the settings' signature
 * tells a change from none. */
START_TEST(prepare_cfg_then_apply)
{
	/* f() hands out 8 rotating buffers: these need their own. */
	char ac[512], ak[512], bc[512], bk[512], ec[512], ek[512], nc[512];
	struct rp_tls_cfg a = { .cert_file = ac, .key_file = ak, .label = "tls:a" };
	struct rp_tls_cfg b = { .cert_file = bc, .key_file = bk, .label = "ignored", .n_sni = 1 };
	struct rp_tls_cfg bad = { .cert_file = nc, .key_file = ak };
	struct rp_tls_stage_req rq = { .cert_file = bc, .key_file = bk };
	rp_tls_store *st = NULL;
	rp_tls_staged *pl = NULL;
	struct rp_tls_slot_view v;
	rp_tls_ctx *c;
	char err[400], *sa, *sa2, *sb;

	snprintf(ac, sizeof(ac), "%s", f("server.pem"));
	snprintf(ak, sizeof(ak), "%s", f("server.key"));
	snprintf(bc, sizeof(bc), "%s", f("server2.pem"));
	snprintf(bk, sizeof(bk), "%s", f("server2.key"));
	snprintf(ec, sizeof(ec), "%s", f("edge.pem"));
	snprintf(ek, sizeof(ek), "%s", f("edge.key"));
	snprintf(nc, sizeof(nc), "%s", f("nosuch.pem"));
	b.sni[0] = (struct rp_tls_sni_cert){ .names = { "edge.test.example" }, .n_names = 1,
		.cert_file = ec, .key_file = ek };
	ck_assert_msg(rp_tls_store_new(RP_TLS_SERVER, &a, &st, err, sizeof(err)) == 0, "%s", err);
	sa = rp_tls_cfg_sig(&a);
	sa2 = rp_tls_cfg_sig(&(struct rp_tls_cfg){ .cert_file = ac, .key_file = ak,
		.label = "other" });
	sb = rp_tls_cfg_sig(&b);
	ck_assert_str_eq(sa, sa2);          /* the label is not a setting */
	ck_assert_str_ne(sa, sb);
	free(sa);
	free(sa2);
	free(sb);

	err[0] = 0;
	ck_assert_int_lt(rp_tls_store_prepare_cfg(st, &bad, &pl, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "nosuch.pem"));
	c = rp_tls_store_acquire(st);
	ck_assert_int_eq(rp_tls_ctx_slots(c), 1);
	ck_assert_int_eq(rp_tls_ctx_slot(c, 0, &v), 0);
	ck_assert_str_eq(v.info->cn, "sip.test.example");
	unsigned gen = rp_tls_ctx_generation(c);
	rp_tls_ctx_put(c);

	ck_assert_int_eq(rp_tls_store_stage(st, &rq, err, sizeof(err)), 0);
	ck_assert_msg(rp_tls_store_prepare_cfg(st, &b, &pl, err, sizeof(err)) == 0, "%s", err);
	c = rp_tls_store_acquire(st);       /* nothing in use changed yet */
	ck_assert_int_eq(rp_tls_ctx_slots(c), 1);
	rp_tls_ctx_put(c);
	rp_tls_store_apply_cfg(st, pl);
	c = rp_tls_store_acquire(st);
	ck_assert_uint_gt(rp_tls_ctx_generation(c), gen);
	ck_assert_int_eq(rp_tls_ctx_slots(c), 2);
	ck_assert_int_eq(rp_tls_ctx_slot(c, 0, &v), 0);
	ck_assert_str_eq(v.info->cn, "sip2.test.example");
	ck_assert_int_eq(rp_tls_ctx_slot(c, 1, &v), 0);
	ck_assert_str_eq(v.info->cn, "edge.test.example");
	rp_tls_ctx_put(c);
	ck_assert_str_eq(rp_tls_store_label(st), "tls:a");
	ck_assert_ptr_null(rp_tls_store_acquire_staged(st));
	/* A reload re-reads the new files. */
	ck_assert_msg(rp_tls_store_reload(st, err, sizeof(err)) == 0, "%s", err);
	c = rp_tls_store_acquire(st);
	ck_assert_int_eq(rp_tls_ctx_slots(c), 2);
	rp_tls_ctx_put(c);
	rp_tls_store_free(st);
}
END_TEST

START_TEST(stage_validates_and_commit_swaps)
{
	struct rp_tls_cfg sc = { .cert_file = f("server.pem"), .key_file = f("server.key"),
		.ca_file = f("ca.pem"), .names = { "sip.test.example" }, .n_names = 1,
		.n_sni = 1, .label = "tls:test" };
	static const struct {
		const char *cert, *key, *chain, *name, *why;
		int rc;
	} bad[] = {
		{ "nosuch.pem", "server.key", NULL, NULL, "No such file", -ENOENT },
		{ "server.key", "server.key", NULL, NULL, "no PEM certificate", -EINVAL },
		{ "server2.pem", "server.key", NULL, NULL, "does not match", -EINVAL },
		{ "expired.pem", "expired.key", NULL, NULL, "expired on 2020-01-02", -EKEYEXPIRED },
		{ "wrong.pem", "wrong.key", NULL, NULL, "does not cover the name 'sip.test.example'", -EINVAL },
		{ "other.pem", "other.key", NULL, NULL, "chain does not verify", -EINVAL },
		{ "leaf3.pem", "leaf3.key", NULL, NULL, "chain does not verify", -EINVAL },
		{ "edge2.pem", "edge2.key", NULL, "nosuch.example", "serves 'nosuch.example'", -ENOENT },
	};
	rp_tls_store *st = NULL;
	rp_tls_ctx *c, *cli = client_ctx(false, false);
	struct rp_tls_slot_view v;
	char err[400];
	struct pair p;

	sc.sni[0] = (struct rp_tls_sni_cert){ .names = { "edge.test.example" }, .n_names = 1,
		.cert_file = f("edge.pem"), .key_file = f("edge.key") };
	ck_assert_msg(rp_tls_store_new(RP_TLS_SERVER, &sc, &st, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rp_tls_stage_req rq = { .cert_file = f(bad[i].cert), .key_file = f(bad[i].key),
			.chain_file = bad[i].chain ? f(bad[i].chain) : NULL, .sni_name = bad[i].name };
		int rc;

		err[0] = 0;
		rc = rp_tls_store_stage(st, &rq, err, sizeof(err));
		ck_assert_msg(rc == bad[i].rc && strstr(err, bad[i].why),
			"%s: rc %d, '%s'", bad[i].cert, rc, err);
		ck_assert_ptr_null(rp_tls_store_acquire_staged(st));
		ck_assert_int_eq(rp_tls_store_commit(st), -ENOENT);
	}
	/* An intermediate in chain= makes leaf3 verify against the CA. */
	{
		struct rp_tls_stage_req rq = { .cert_file = f("leaf3.pem"), .key_file = f("leaf3.key"),
			.chain_file = f("inter.pem") };

		ck_assert_msg(rp_tls_store_stage(st, &rq, err, sizeof(err)) == 0, "%s", err);
		c = rp_tls_store_acquire_staged(st);
		ck_assert_int_eq(rp_tls_ctx_slot(c, 0, &v), 0);
		ck_assert_int_eq(v.info->chain_len, 2);
		ck_assert_ptr_nonnull(strstr(v.chain_check, "verified against"));
		rp_tls_ctx_put(c);
		ck_assert(rp_tls_store_abort(st));
		ck_assert(!rp_tls_store_abort(st));
	}
	{
		struct rp_tls_stage_req rq = { .cert_file = f("server2.pem"),
			.key_file = f("server2.key") };

		ck_assert_msg(rp_tls_store_stage(st, &rq, err, sizeof(err)) == 0, "%s", err);
	}
	/* Staged, not in use: a handshake still gets the old certificate. */
	c = rp_tls_store_acquire(st);
	connect_pair(&p, c, cli, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "CN=sip.test.example"));
	ck_assert_int_eq(rp_tls_store_commit(st), 0);
	rp_tls_ctx_put(c);
	c = rp_tls_store_acquire(st);
	ck_assert_uint_eq(rp_tls_ctx_generation(c), 1);
	ck_assert_int_eq(rp_tls_ctx_slot(c, 0, &v), 0);
	ck_assert_str_eq(v.cert_file, f("server2.pem"));
	ck_assert_ptr_nonnull(strstr(v.info->subject, "CN=sip2.test.example"));
	ck_assert_int_eq(rp_tls_ctx_slot(c, 1, &v), 0);
	ck_assert_str_eq(v.names[0], "edge.test.example");
	/* The session from before the commit still works on the old context. */
	{
		enum rp_tls_status s1, s2;
		char buf[8];

		ck_assert_int_eq(rp_tls_write(p.cli, "ping", 4, &s1), 4);
		for (int i = 0; i < 200; i++) {
			if (rp_tls_read(p.srv, buf, sizeof(buf), &s2) == 4)
				break;
			poll(NULL, 0, 2);
		}
		ck_assert_int_eq(s2, RP_TLS_OK);
		ck_assert_uint_eq(rp_tls_sess_generation(p.srv), 0);
	}
	close_pair(&p);
	connect_pair(&p, c, cli, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "CN=sip2.test.example"));
	close_pair(&p);
	rp_tls_ctx_put(c);
	/* A reload re-reads the committed files. */
	ck_assert_int_eq(rp_tls_store_reload(st, err, sizeof(err)), 0);
	c = rp_tls_store_acquire(st);
	ck_assert_int_eq(rp_tls_ctx_slot(c, 0, &v), 0);
	ck_assert_ptr_nonnull(strstr(v.info->subject, "CN=sip2.test.example"));
	rp_tls_ctx_put(c);
	rp_tls_store_free(st);
	rp_tls_ctx_put(cli);
}
END_TEST

struct seen {
	int n, nout;
	char sni[64], state[16], version[16], subject[128];
	char out_sni[64], out_subject[128];
};

static void note_conn(const struct rp_tls_conn_view *v, void *arg)
{
	struct seen *s = arg;

	if (v->dir != RP_TLS_IN) {
		s->nout++;
		snprintf(s->out_sni, sizeof(s->out_sni), "%s", v->sni);
		snprintf(s->out_subject, sizeof(s->out_subject), "%s",
			v->peer_cert && v->peer_cert->present ? v->peer_cert->subject : "");
		return;
	}
	s->n++;
	snprintf(s->sni, sizeof(s->sni), "%s", v->sni);
	snprintf(s->state, sizeof(s->state), "%s", v->state);
	snprintf(s->version, sizeof(s->version), "%s", v->version);
	snprintf(s->subject, sizeof(s->subject), "%s",
		v->peer_cert && v->peer_cert->present ? v->peer_cert->subject : "");
}

/* The registry lists live sessions with what the handshake found and
 * counts outcomes by reason. */
START_TEST(registry_lists_and_counts)
{
	rp_tls_reg *reg = NULL;
	struct rp_tls_cfg sc = { .cert_file = f("server.pem"), .key_file = f("server.key"),
		.ca_file = f("ca.pem"), .verify_client = true, .require_client_cert = true };
	struct rp_tls_cfg cc = { .ca_file = f("ca.pem"), .cert_file = f("client.pem"),
		.key_file = f("client.key") };
	struct rp_tls_cfg nocert = { .ca_file = f("ca.pem") };
	rp_tls_ctx *s = NULL, *c = NULL, *c2 = NULL;
	struct rp_tls_counts n;
	struct seen seen = { 0 };
	char err[256];
	struct pair p;

	ck_assert_int_eq(rp_tls_reg_new(&reg), 0);
	sc.reg = cc.reg = nocert.reg = reg;
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_SERVER, &sc, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_CLIENT, &cc, &c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_CLIENT, &nocert, &c2, err, sizeof(err)) == 0, "%s", err);
	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_int_eq(p.ss, RP_TLS_OK);
	ck_assert_uint_eq(rp_tls_reg_each(reg, 100, note_conn, &seen), 2);
	ck_assert_int_eq(seen.n, 1);
	ck_assert_str_eq(seen.state, "established");
	ck_assert_str_eq(seen.sni, "sip.test.example");
	ck_assert(!strcmp(seen.version, "TLSv1.3") || !strcmp(seen.version, "TLSv1.2"));
	ck_assert_ptr_nonnull(strstr(seen.subject, "client.test.example"));
	/* The outbound side: the name we sent and the server's certificate. */
	ck_assert_int_eq(seen.nout, 1);
	ck_assert_str_eq(seen.out_sni, "sip.test.example");
	ck_assert_ptr_nonnull(strstr(seen.out_subject, "CN=sip.test.example"));
	close_pair(&p);
	ck_assert_uint_eq(rp_tls_reg_each(reg, 100, note_conn, &seen), 0);
	connect_pair(&p, s, c2, "sip.test.example");
	ck_assert_int_ne(p.ss, RP_TLS_OK);
	close_pair(&p);
	rp_tls_reg_counts(reg, &n);
	ck_assert_uint_eq(n.handshakes[RP_TLS_IN], 2);
	ck_assert_uint_eq(n.failures[RP_TLS_IN][RP_TLS_FAIL_NO_CERT], 1);
	ck_assert_uint_eq(n.handshakes[RP_TLS_OUT], 2);
	ck_assert_str_eq(rp_tls_fail_name(RP_TLS_FAIL_NO_CERT), "no-client-cert");
	/* A session that never finished its handshake, closed by the owner's
	 * timeout, counts as "timeout". */
	{
		int a, b;
		rp_tls_sess *t = NULL;

		tcp_pair(&a, &b);
		ck_assert_int_eq(rp_tls_sess_new(s, b, NULL, &t), 0);
		ck_assert_int_eq(rp_tls_handshake(t), RP_TLS_WANT_READ);
		rp_tls_sess_note_timeout(t);
		rp_tls_sess_free(t);
		close(a);
		close(b);
		rp_tls_reg_counts(reg, &n);
		ck_assert_uint_eq(n.failures[RP_TLS_IN][RP_TLS_FAIL_TIMEOUT], 1);
		ck_assert_uint_eq(n.handshakes[RP_TLS_IN], 3);
	}
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
	rp_tls_ctx_put(c2);
	rp_tls_reg_free(reg);
}
END_TEST

START_TEST(sni_wildcard_names)
{
	struct rp_tls_cfg sc = { .cert_file = f("server.pem"), .key_file = f("server.key"),
		.n_sni = 1 };
	rp_tls_ctx *s = NULL, *c = client_ctx(false, true);
	char err[256];
	struct pair p;

	sc.sni[0] = (struct rp_tls_sni_cert){ .names = { "*.test.example" }, .n_names = 1,
		.cert_file = f("wild.pem"), .key_file = f("wild.key") };
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_SERVER, &sc, &s, err, sizeof(err)) == 0, "%s", err);
	connect_pair(&p, s, c, "a.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "CN=wild"));
	close_pair(&p);
	/* Two labels do not match "*.test.example": the default. */
	connect_pair(&p, s, c, "localhost");
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_ptr_nonnull(strstr(rp_tls_sess_peer(p.cli)->subject, "CN=sip.test.example"));
	close_pair(&p);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

START_TEST(selfsigned_generation)
{
	char err[256];
	rp_tls_ctx *ctx = NULL;
	struct rp_tls_cfg sc = { .cert_file = f("self.pem"), .key_file = f("self.key") };

	ck_assert_msg(rp_tls_gen_selfsigned(f("self.pem"), f("self.key"), "localhost",
		30, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(rp_tls_ctx_new(RP_TLS_SERVER, &sc, &ctx, err, sizeof(err)) == 0, "%s", err);
	rp_tls_ctx_put(ctx);
}
END_TEST

/* What connection reuse checks (proxy/conn.c): a session covers the name it
 * was opened for, another name only when its verified certificate proves
 * it too, any name when the context does not verify; never a failed
 * session or a server one. Store ids: kept by a reload of the same files,
 * new with new settings, unique across stores. */
START_TEST(reuse_identity)
{
	rp_tls_ctx *s = server_ctx(f("server.pem"), f("server.key"), false);
	rp_tls_ctx *c = client_ctx(false, false), *bad;
	struct rp_tls_cfg nv = { .no_verify = true }, cc = { .ca_file = f("ca.pem") };
	struct rp_tls_cfg oc = { .ca_file = f("other-ca.pem") };
	rp_tls_store *st1 = NULL, *st2 = NULL;
	rp_tls_staged *pl = NULL;
	uint64_t id1, id1b, id1c, id2;
	bool v1, v2;
	struct pair p;
	char err[256];

	connect_pair(&p, s, c, "sip.test.example");
	ck_assert_msg(p.cs == RP_TLS_OK, "client: %s", rp_tls_sess_error(p.cli));
	ck_assert(rp_tls_sess_covers(p.cli, "sip.test.example"));
	ck_assert(rp_tls_sess_covers(p.cli, "SIP.Test.Example"));
	ck_assert(rp_tls_sess_covers(p.cli, "localhost"));     /* a SAN of server.pem */
	ck_assert(!rp_tls_sess_covers(p.cli, "other.example"));
	ck_assert(!rp_tls_sess_covers(p.cli, "sip2.test.example"));
	ck_assert(!rp_tls_sess_covers(p.srv, "sip.test.example"));
	ck_assert_uint_eq(rp_tls_sess_store_id(p.cli), 0);     /* no store */
	close_pair(&p);

	/* A failed handshake covers nothing, not even its own name. */
	bad = server_ctx(f("wrong.pem"), f("wrong.key"), false);
	connect_pair(&p, bad, c, "sip.test.example");
	ck_assert_int_eq(p.cs, RP_TLS_ERROR);
	ck_assert(!rp_tls_sess_covers(p.cli, "sip.test.example"));
	close_pair(&p);

	/* verify_server = no: any name (nothing is proved either way). */
	ck_assert_int_eq(rp_tls_store_new(RP_TLS_CLIENT, &nv, &st1, err, sizeof(err)), 0);
	rp_tls_store_identity(st1, &id1, &v1);
	ck_assert(!v1);
	ck_assert_uint_ne(id1, 0);
	{
		rp_tls_ctx *nc = rp_tls_store_acquire(st1);

		connect_pair(&p, bad, nc, "sip.test.example");
		rp_tls_ctx_put(nc);
	}
	ck_assert_int_eq(p.cs, RP_TLS_OK);
	ck_assert_uint_eq(rp_tls_sess_store_id(p.cli), id1);
	ck_assert(rp_tls_sess_covers(p.cli, "anything.example"));
	close_pair(&p);

	ck_assert_int_eq(rp_tls_store_new(RP_TLS_CLIENT, &cc, &st2, err, sizeof(err)), 0);
	rp_tls_store_identity(st2, &id2, &v2);
	ck_assert(v2);
	ck_assert_uint_ne(id1, id2);
	ck_assert_int_eq(rp_tls_store_reload(st2, err, sizeof(err)), 0);
	rp_tls_store_identity(st2, &id1b, &v2);
	ck_assert_uint_eq(id1b, id2);                /* same files: same settings */
	ck_assert_msg(rp_tls_store_prepare_cfg(st2, &oc, &pl, err, sizeof(err)) == 0, "%s", err);
	rp_tls_store_apply_cfg(st2, pl);
	rp_tls_store_identity(st2, &id1c, &v2);
	ck_assert_uint_ne(id1c, id2);                /* other settings: a new id */
	ck_assert_uint_ne(id1c, id1);
	{
		rp_tls_ctx *nc = rp_tls_store_acquire(st2);

		tcp_pair(&p.cfd, &p.sfd);
		ck_assert_int_eq(rp_tls_sess_new(nc, p.cfd, "sip.test.example", &p.cli), 0);
		ck_assert_uint_eq(rp_tls_sess_store_id(p.cli), id1c);
		/* Before its handshake: only the name it was opened for. */
		ck_assert(rp_tls_sess_covers(p.cli, "sip.test.example"));
		ck_assert(!rp_tls_sess_covers(p.cli, "localhost"));
		rp_tls_sess_free(p.cli);
		close(p.cfd);
		close(p.sfd);
		rp_tls_ctx_put(nc);
	}
	rp_tls_store_free(st1);
	rp_tls_store_free(st2);
	rp_tls_ctx_put(bad);
	rp_tls_ctx_put(s);
	rp_tls_ctx_put(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("proxy_tls");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, make_pki, rm_pki);
	tcase_add_test(tc, name_matching_rfc5922);
	tcase_add_test(tc, ctx_errors_are_reported);
	tcase_add_test(tc, handshake_and_identity);
	tcase_add_test(tc, wrong_name_refused);
	tcase_add_test(tc, wildcard_only_when_allowed);
	tcase_add_test(tc, untrusted_chain_refused);
	tcase_add_test(tc, mutual_tls);
	tcase_add_test(tc, reload_keeps_old_connections);
	tcase_add_test(tc, sni_picks_certificate);
	tcase_add_test(tc, selfsigned_generation);
	tcase_add_test(tc, stage_validates_and_commit_swaps);
	tcase_add_test(tc, prepare_cfg_then_apply);
	tcase_add_test(tc, registry_lists_and_counts);
	tcase_add_test(tc, sni_wildcard_names);
	tcase_add_test(tc, reuse_identity);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	rp_tls_global_init();
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rp_tls_global_fini();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
