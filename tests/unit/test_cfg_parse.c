/* Config loading: good configs for each feature, the values they produce,
 * the lookup helpers, the lexer, and the built-in default config. */
#include "cfg_default.h"
#include "cfg_lex.h"
#include "cfg_prog.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define GOOD_DIR RP_TEST_DATA "/cfg/good"

static struct cfg_diag diag;

static struct cfg *load_ok(const char *text)
{
	struct cfg *c = NULL;
	int rc;

	cfg_diag_init(&diag);
	rc = cfg_load_string("t.conf", text, strlen(text), &c, &diag);
	if (rc != 0)
		cfg_diag_print(&diag, stderr);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

static struct sockaddr_storage sa4(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage sa6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	return ss;
}

START_TEST(all_good_files_load_cleanly)
{
	DIR *d = opendir(GOOD_DIR);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char path[512];
		struct cfg *c = NULL;
		int rc;

		if (!strstr(de->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", GOOD_DIR, de->d_name);
		cfg_diag_init(&diag);
		rc = cfg_load_file(path, &c, &diag);
		if (rc != 0 || diag.warnings)
			cfg_diag_print(&diag, stderr);
		ck_assert_msg(rc == 0, "%s: %d", de->d_name, rc);
		ck_assert_msg(diag.warnings == 0, "%s: warnings", de->d_name);
		cfg_free(c);
		n++;
	}
	closedir(d);
	ck_assert_uint_ge(n, 3);
}
END_TEST

START_TEST(default_config_passes_checker)
{
	struct cfg *c = NULL;
	const struct cfg_settings *s;
	const struct cfg_listen *l;
	const struct cfg_user *u;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_default(&c, &diag), 0);
	ck_assert_uint_eq(diag.errors, 0);
	ck_assert_uint_eq(diag.warnings, 0);
	ck_assert_uint_eq(cfg_default_len(), strlen(cfg_default_text));
	s = cfg_settings(c);
	ck_assert_str_eq(s->control_socket, "/run/rampart/proxy.sock");
	ck_assert_str_eq(s->realm, "rampart");
	/* baresip on Debian 12 knows MD5 only and fails on any SHA-256 challenge */
	ck_assert_uint_eq(s->auth_algorithms, CFG_AUTH_ALG_MD5);
	ck_assert_uint_eq(cfg_listen_count(c), 3);
	l = cfg_listen_at(c, 0);
	ck_assert_int_eq(l->transport, CFG_TP_UDP);
	ck_assert_str_eq(l->addr, "127.0.0.1");
	ck_assert_uint_eq(l->port, 5060);
	ck_assert_int_eq(l->media, CFG_MEDIA_ALLOW);
	l = cfg_listen_at(c, 1);
	ck_assert_int_eq(l->transport, CFG_TP_TCP);
	ck_assert_uint_eq(l->port, 5060);
	l = cfg_listen_at(c, 2);
	ck_assert_int_eq(l->transport, CFG_TP_TLS);
	ck_assert_uint_eq(l->port, 5061);
	ck_assert(l->tls.cert_auto);
	ck_assert_int_eq(l->media, CFG_MEDIA_REQUIRE);
	ck_assert_int_eq(l->tls.min_version, CFG_TLS_1_2);
	ck_assert_ptr_null(cfg_listen_at(c, 3));
	/* alice / alice-secret: md5("alice:rampart:alice-secret") */
	u = cfg_user_find(c, RP_STR_LIT("alice"), RP_STR_LIT("RAMPART"));
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->ha1_md5, "d03b1c803d446cc473926ad83d7ff641");
	ck_assert_str_eq(u->ha1_sha256, "78f6005b77ae50abae96c9f4a59c307d3a4584eaf1d817dded0747d1b10ae528");
	ck_assert_ptr_nonnull(cfg_user_find(c, RP_STR_LIT("bob"), RP_STR_LIT("rampart")));
	ck_assert_ptr_null(cfg_user_find(c, RP_STR_LIT("Alice"), RP_STR_LIT("rampart")));
	ck_assert(cfg_is_local_domain(c, RP_STR_LIT("LOCALHOST")));
	ck_assert(!cfg_is_local_domain(c, RP_STR_LIT("example.com")));
	ck_assert(cfg_has_route(c, CFG_ROUTE_REQUEST));
	ck_assert(!cfg_has_route(c, CFG_ROUTE_REPLY));
	ck_assert_ptr_eq(cfg_put(c), NULL);
}
END_TEST

START_TEST(global_settings)
{
	struct cfg *c = load_ok(
		"log_level = debug; workers = 8; user_agent = \"Edge/1\"; max_message_size = 4096;\n"
		"control_socket = '/tmp/p.sock'; mediad_socket = \"/tmp/m.sock\"; realm = r.example;\n"
		"domain = a.example, \"b.example\"; timer_t1 = 250; timer_t2 = 8000; timer_t4 = 9000;\n"
		"registration_min_expires = 30; registration_max_expires = 7200;\n"
		"registration_default_expires = 600; tcp_idle_timeout = 90;\n"
		"tcp_keepalive_interval = 25;\n"
		"auth_algorithms = md5, sha256;\n"
		"tls { min_version = 1.3; ciphers = \"TLS_AES_256_GCM_SHA384\"; ca_dir = \"/etc/ssl/certs\"; }\n"
		"listen udp 127.0.0.1:5060;\n"
		"route request { drop; }\n");
	const struct cfg_settings *s = cfg_settings(c);

	ck_assert_int_eq(s->log_level, RP_LOG_DEBUG);
	ck_assert_uint_eq(s->workers, 8);
	ck_assert_str_eq(s->user_agent, "Edge/1");
	ck_assert_uint_eq(s->max_message_size, 4096);
	ck_assert_str_eq(s->control_socket, "/tmp/p.sock");
	ck_assert_str_eq(s->mediad_socket, "/tmp/m.sock");
	ck_assert_str_eq(s->realm, "r.example");
	ck_assert_uint_eq(s->ndomains, 2);
	ck_assert_str_eq(s->domains[1], "b.example");
	ck_assert_uint_eq(s->timer_t1_ms, 250);
	ck_assert_uint_eq(s->timer_t2_ms, 8000);
	ck_assert_uint_eq(s->timer_t4_ms, 9000);
	ck_assert_uint_eq(s->reg_min_expires, 30);
	ck_assert_uint_eq(s->reg_max_expires, 7200);
	ck_assert_uint_eq(s->reg_default_expires, 600);
	ck_assert_uint_eq(s->tcp_idle_timeout, 90);
	ck_assert_uint_eq(s->tcp_keepalive_interval, 25);
	ck_assert_uint_eq(s->auth_algorithms, CFG_AUTH_ALG_MD5 | CFG_AUTH_ALG_SHA256);
	ck_assert_int_eq(s->tls.min_version, CFG_TLS_1_3);
	ck_assert_str_eq(s->tls.ciphers, "TLS_AES_256_GCM_SHA384");
	cfg_free(c);
}
END_TEST

START_TEST(defaults_when_unset)
{
	struct cfg *c = load_ok("route request { drop; }");
	const struct cfg_settings *s = cfg_settings(c);

	ck_assert_int_eq(s->log_level, RP_LOG_INFO);
	ck_assert_uint_eq(s->workers, 0);
	ck_assert_uint_eq(s->max_message_size, 65535);
	ck_assert_uint_eq(s->timer_t1_ms, 500);
	ck_assert_uint_eq(s->timer_t2_ms, 4000);
	ck_assert_str_eq(s->control_socket, "/run/rampart/proxy.sock");
	ck_assert(s->tls.verify_server);
	/* a config without listeners loads, with a warning */
	ck_assert_uint_eq(diag.warnings, 1);
	cfg_free(c);
}
END_TEST

START_TEST(listeners)
{
	struct cfg *c = load_ok(
		"tls { ca_file = \"/ca.pem\"; ciphers = \"HIGH\"; }\n"
		"listen udp [::1]:5070;\n"
		"listen tcp 0.0.0.0;\n"
		"listen tls [2001:db8::5] {\n"
		"  cert = \"/c.pem\"; key = \"/k.pem\"; verify_client = yes; require_client_cert = on;\n"
		"  sni = \"a.example\", \"b.example\"; min_version = 1.3; media_encryption = allow;\n"
		"}\n"
		"route request { drop; }\n");
	const struct cfg_listen *l;

	ck_assert_uint_eq(cfg_listen_count(c), 3);
	l = cfg_listen_at(c, 0);
	ck_assert_str_eq(l->addr, "::1");
	ck_assert_int_eq(l->family, AF_INET6);
	ck_assert_uint_eq(l->port, 5070);
	l = cfg_listen_at(c, 1);
	ck_assert_str_eq(l->addr, "0.0.0.0");
	ck_assert_int_eq(l->family, AF_INET);
	ck_assert_uint_eq(l->port, 5060);
	ck_assert_uint_eq(l->line, 3);
	l = cfg_listen_at(c, 2);
	ck_assert_int_eq(l->transport, CFG_TP_TLS);
	ck_assert_uint_eq(l->port, 5061);
	ck_assert_str_eq(l->tls.cert, "/c.pem");
	ck_assert_str_eq(l->tls.key, "/k.pem");
	ck_assert(!l->tls.cert_auto);
	ck_assert(l->tls.verify_client);
	ck_assert(l->tls.require_client_cert);
	ck_assert_uint_eq(l->tls.nsni, 2);
	ck_assert_str_eq(l->tls.sni[1], "b.example");
	ck_assert_int_eq(l->tls.min_version, CFG_TLS_1_3);
	/* inherited from the global tls block */
	ck_assert_str_eq(l->tls.ca_file, "/ca.pem");
	ck_assert_str_eq(l->tls.ciphers, "HIGH");
	ck_assert_int_eq(l->media, CFG_MEDIA_ALLOW);
	cfg_free(c);
}
END_TEST

START_TEST(carrier_edge_trunks_and_users)
{
	struct cfg *c = NULL;
	const struct cfg_trunk *t;
	const struct cfg_user *u;
	struct sockaddr_storage ss;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/carrier_edge.conf", &c, &diag), 0);
	ck_assert_uint_eq(cfg_trunk_count(c), 3);
	t = cfg_trunk_find(c, RP_STR_LIT("carrier"));
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->index, 0);
	ck_assert_uint_eq(t->naddrs, 2);
	ck_assert_str_eq(t->addrs[0].host, "sip1.carrier.example");
	ck_assert_uint_eq(t->addrs[0].port, 5061);
	ck_assert_str_eq(t->addrs[1].host, "sip2.carrier.example");
	ck_assert_int_eq(t->transport, CFG_TP_TLS);
	ck_assert_uint_eq(t->nsources, 2);
	ck_assert_uint_eq(t->sources[0].prefix, 24);
	ck_assert_str_eq(t->cert_subject, "CN=sip.carrier.example");
	ck_assert_str_eq(t->out_username, "edge01");
	/* '$' in a setting is literal: no interpolation outside routes */
	ck_assert_str_eq(t->out_password, "s3cret$pass");
	ck_assert_int_eq(t->media, CFG_MEDIA_REQUIRE);
	ck_assert_uint_eq(t->nsuites, 2);
	ck_assert_int_eq(t->suites[0], CFG_SRTP_AEAD_AES_256_GCM);
	ck_assert_int_eq(t->suites[1], CFG_SRTP_AES_CM_128_HMAC_SHA1_80);
	ck_assert_str_eq(cfg_srtp_suite_name(t->suites[0]), "AEAD_AES_256_GCM");
	ck_assert(!t->allow_sdes_over_insecure);
	ck_assert_str_eq(t->tls.server_name, "sip.carrier.example");
	ck_assert(t->tls.verify_server);
	ck_assert_str_eq(t->tls.ca_file, "/etc/rampart/ca.pem");

	t = cfg_trunk_find(c, RP_STR_LIT("legacy_pbx"));
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->transport, CFG_TP_UDP);
	ck_assert_uint_eq(t->addrs[0].port, 0);
	ck_assert_str_eq(t->auth_user, "pbx");
	/* HA1 stored lowercase */
	ck_assert_str_eq(t->auth_ha1_md5, "0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(t->media, CFG_MEDIA_DISABLE);
	/* default suites when none are listed */
	ck_assert_uint_eq(t->nsuites, 4);
	ck_assert_int_eq(t->suites[0], CFG_SRTP_AES_CM_128_HMAC_SHA1_80);
	ck_assert_ptr_null(cfg_trunk_find(c, RP_STR_LIT("nope")));

	/* inbound identification by source */
	ss = sa4("198.51.100.77");
	ck_assert_str_eq(cfg_trunk_by_source(c, (struct sockaddr *)&ss)->name, "carrier");
	ss = sa6("2001:db8:100:ffff::1");
	ck_assert_str_eq(cfg_trunk_by_source(c, (struct sockaddr *)&ss)->name, "carrier");
	ss = sa6("::ffff:10.0.0.99"); /* IPv4 on a dual-stack socket */
	ck_assert_str_eq(cfg_trunk_by_source(c, (struct sockaddr *)&ss)->name, "core");
	ss = sa4("10.0.1.1");
	ck_assert_ptr_null(cfg_trunk_by_source(c, (struct sockaddr *)&ss));

	/* numbers: longest prefix wins, '*' catches the rest */
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("+493012345"))->name, "core");
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("+4940"))->name, "core");
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("+331234"))->name, "carrier");
	ck_assert(cfg_trunk_has_number(cfg_trunk_find(c, RP_STR_LIT("core")), RP_STR_LIT("+4930")));
	ck_assert(!cfg_trunk_has_number(cfg_trunk_find(c, RP_STR_LIT("core")), RP_STR_LIT("+4950")));

	/* users from the block and from users_file (relative to the config) */
	ck_assert_uint_eq(cfg_user_count(c), 4);
	u = cfg_user_find(c, RP_STR_LIT("alice"), RP_STR_LIT("sbc.example.net"));
	ck_assert_ptr_nonnull(u);
	u = cfg_user_find(c, RP_STR_LIT("bob"), RP_STR_LIT("sbc.example.net"));
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->ha1_md5, "820367d3f25dd3df38a521fbb501da71");
	ck_assert_ptr_null(u->ha1_sha256);
	u = cfg_user_find(c, RP_STR_LIT("carol"), RP_STR_LIT("sbc.example.net"));
	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_null(u->ha1_md5);
	ck_assert_uint_eq(strlen(u->ha1_sha256), 64);
	ck_assert_ptr_nonnull(cfg_user_find(c, RP_STR_LIT("dave"), RP_STR_LIT("other.realm")));
	ck_assert_ptr_null(cfg_user_find(c, RP_STR_LIT("dave"), RP_STR_LIT("sbc.example.net")));
	ck_assert(cfg_has_route(c, CFG_ROUTE_REPLY));
	ck_assert(cfg_has_route(c, CFG_ROUTE_FAILURE));
	cfg_free(c);
}
END_TEST

START_TEST(failover_trunks)
{
	struct cfg *c = NULL;
	const struct cfg_trunk *t;

	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/failover_trunks.conf", &c, NULL), 0);
	t = cfg_trunk_find(c, RP_STR_LIT("national"));
	ck_assert_int_eq(t->transport, CFG_TP_TCP);
	ck_assert_uint_eq(t->naddrs, 3);
	ck_assert_str_eq(t->addrs[2].host, "2001:db8::7");
	ck_assert_uint_eq(t->addrs[2].port, 5060);
	ck_assert_int_eq(t->media, CFG_MEDIA_DISABLE);
	t = cfg_trunk_find(c, RP_STR_LIT("international"));
	ck_assert_str_eq(t->out_password, "pa\"ss\\word");
	ck_assert_uint_eq(t->nsuites, 3);
	ck_assert_int_eq(t->suites[0], CFG_SRTP_AES_256_CM_HMAC_SHA1_80);
	ck_assert_int_eq(t->suites[2], CFG_SRTP_NULL_HMAC_SHA1_80);
	ck_assert_int_eq(t->tls.min_version, CFG_TLS_1_2);
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("+4989"))->name, "national");
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("004989"))->name, "national");
	ck_assert_str_eq(cfg_trunk_by_number(c, RP_STR_LIT("+1555"))->name, "international");
	cfg_free(c);
}
END_TEST

/* A trunk's own client TLS (own_tls: its outbound connections get a TLS
 * context of their own) and max_branches (lookup() forking). */
START_TEST(trunk_own_tls_and_max_branches)
{
	struct cfg *c = load_ok(
		"max_branches = 3;\n"
		"tls { ca_file = \"/global-ca.pem\"; }\n"
		"listen udp 127.0.0.1;\n"
		"trunk plain { address = \"192.0.2.1\"; transport = tls; server_name = \"x\";\n"
		"  inbound { source = 192.0.2.1; } }\n"
		"trunk ca { address = \"192.0.2.2\"; transport = tls; ca_file = \"/carrier-ca.pem\";\n"
		"  inbound { source = 192.0.2.2; } }\n"
		"trunk mtls { address = \"192.0.2.3\"; transport = tls;\n"
		"  cert = \"/c.pem\"; key = \"/c.key\"; inbound { source = 192.0.2.3; } }\n"
		"trunk noverify { address = \"192.0.2.4\"; transport = tls; verify_server = no;\n"
		"  inbound { source = 192.0.2.4; } }\n"
		"route request { drop; }");
	const struct cfg_trunk *t;
	struct cfg *bad = NULL;
	static const char cert_only[] =
		"listen udp 127.0.0.1;\n"
		"trunk m { address = \"192.0.2.3\"; transport = tls; cert = \"/c.pem\";\n"
		"  inbound { source = 192.0.2.3; } }\nroute request { drop; }";

	ck_assert_uint_eq(cfg_settings(c)->max_branches, 3);
	t = cfg_trunk_find(c, RP_STR_LIT("plain"));
	ck_assert(!t->own_tls);      /* server_name alone: the global context */
	ck_assert_str_eq(t->tls.ca_file, "/global-ca.pem");
	t = cfg_trunk_find(c, RP_STR_LIT("ca"));
	ck_assert(t->own_tls);
	ck_assert_str_eq(t->tls.ca_file, "/carrier-ca.pem");
	t = cfg_trunk_find(c, RP_STR_LIT("mtls"));
	ck_assert(t->own_tls);
	ck_assert_str_eq(t->tls.cert, "/c.pem");
	ck_assert_str_eq(t->tls.ca_file, "/global-ca.pem");   /* inherited */
	t = cfg_trunk_find(c, RP_STR_LIT("noverify"));
	ck_assert(t->own_tls);
	ck_assert(!t->tls.verify_server);
	cfg_free(c);
	ck_assert_uint_eq(cfg_settings(c = load_ok("route request { drop; }"))->max_branches, 8);
	cfg_free(c);
	/* A client certificate needs its key; max_branches is 1..16. */
	cfg_diag_init(&diag);
	ck_assert_int_lt(cfg_load_string("t.conf", cert_only, strlen(cert_only), &bad, &diag), 0);
	ck_assert_ptr_nonnull(strstr(diag.msg[0].text, "needs both 'cert' and 'key'"));
	cfg_diag_init(&diag);
	static const char too_many[] = "max_branches = 17; route request { drop; }";

	ck_assert_int_lt(cfg_load_string("t.conf", too_many, strlen(too_many), &bad, &diag), 0);
	ck_assert_ptr_null(bad);
}
END_TEST

START_TEST(registrar_settings_and_realms)
{
	struct cfg *c = NULL;
	const struct cfg_settings *s;
	const struct cfg_user *u;

	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/registrar.conf", &c, NULL), 0);
	s = cfg_settings(c);
	ck_assert_uint_eq(s->reg_min_expires, 120);
	ck_assert_uint_eq(s->reg_max_expires, 600);
	ck_assert_uint_eq(s->reg_default_expires, 300);
	ck_assert_str_eq(s->users_file, "users.htdigest");
	ck_assert_uint_eq(cfg_user_count(c), 5);
	/* the same name in two realms is two accounts */
	u = cfg_user_find(c, RP_STR_LIT("zoe"), RP_STR_LIT("voip.example"));
	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_null(u->ha1_md5);
	u = cfg_user_find(c, RP_STR_LIT("zoe"), RP_STR_LIT("other.example"));
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->ha1_md5, "820367d3f25dd3df38a521fbb501da71");
	ck_assert_ptr_nonnull(cfg_user_at(c, 4));
	ck_assert_ptr_null(cfg_user_at(c, 5));
	cfg_free(c);
}
END_TEST

START_TEST(cidr_matching)
{
	struct cfg *c = load_ok(
		"trunk a { address = \"x\"; inbound { source = 10.1.2.3/8, [2001:db8::]/33, 192.0.2.1; } }\n"
		"route request { relay a; }\n");
	const struct cfg_trunk *t = cfg_trunk_find(c, RP_STR_LIT("a"));
	struct sockaddr_storage ss;

	/* host bits in the config are ignored */
	ck_assert_uint_eq(t->sources[0].addr[1], 0);
	ss = sa4("10.200.0.1");
	ck_assert(cfg_cidr_contains(&t->sources[0], (struct sockaddr *)&ss));
	ss = sa4("11.0.0.1");
	ck_assert(!cfg_cidr_contains(&t->sources[0], (struct sockaddr *)&ss));
	ss = sa6("2001:db8:7fff::1");
	ck_assert(cfg_cidr_contains(&t->sources[1], (struct sockaddr *)&ss));
	ss = sa6("2001:db8:8000::1");
	ck_assert(!cfg_cidr_contains(&t->sources[1], (struct sockaddr *)&ss));
	ss = sa4("192.0.2.1");
	ck_assert(cfg_cidr_contains(&t->sources[2], (struct sockaddr *)&ss));
	ss = sa4("192.0.2.2");
	ck_assert(!cfg_cidr_contains(&t->sources[2], (struct sockaddr *)&ss));
	/* a v6 address never matches a v4 network unless v4-mapped */
	ss = sa6("::1");
	ck_assert(!cfg_cidr_contains(&t->sources[2], (struct sockaddr *)&ss));
	cfg_free(c);
}
END_TEST

START_TEST(strings_and_comments)
{
	struct cfg *c = load_ok(
		"# comment at the top\n"
		"user_agent = \"tab\\there \\\"q\\\" back\\\\slash $dollar\"; # trailing comment\n"
		"mediad_socket = 'single $quoted \\n raw';\n"
		"route request { drop; }\n");

	ck_assert_str_eq(cfg_settings(c)->user_agent, "tab\there \"q\" back\\slash $dollar");
	/* (not realm: a backslash cannot go into the challenge's realm="...") */
	ck_assert_str_eq(cfg_settings(c)->mediad_socket, "single $quoted \\n raw");
	cfg_free(c);
}
END_TEST

static void lex_all(const char *src, enum cfg_tok *kinds, rp_str *texts, unsigned *lines,
	unsigned *cols, unsigned max, unsigned *n)
{
	struct cfg_lexer lx;
	struct cfg_token t;

	*n = 0;
	cfg_lex_init(&lx, "x", src, strlen(src));
	do {
		ck_assert_int_eq(cfg_lex_next(&lx, &t), 0);
		ck_assert_uint_lt(*n, max);
		kinds[*n] = t.kind;
		texts[*n] = t.text;
		lines[*n] = t.pos.line;
		cols[*n] = t.pos.col;
		(*n)++;
	} while (t.kind != CFG_T_EOF);
}

START_TEST(lexer_tokens_and_positions)
{
	enum cfg_tok k[32];
	rp_str s[32];
	unsigned l[32], col[32], n;

	lex_all("if ($rU=~'^1'&&!x) {\n  a = [::1]:5060; ${ruri.user} != \"s\\\"\" || y == 10.0.0.0/8,\n}",
		k, s, l, col, 32, &n);
	ck_assert_uint_eq(n, 24);
	ck_assert_int_eq(k[0], CFG_T_WORD);
	ck_assert_int_eq(k[1], CFG_T_LPAREN);
	ck_assert_int_eq(k[2], CFG_T_VAR);
	ck_assert(rp_str_eq_cstr(s[2], "rU"));
	ck_assert_int_eq(k[3], CFG_T_MATCH);
	ck_assert_int_eq(k[4], CFG_T_RAW);
	ck_assert(rp_str_eq_cstr(s[4], "^1"));
	ck_assert_int_eq(k[5], CFG_T_AND);
	ck_assert_int_eq(k[6], CFG_T_NOT);
	ck_assert_int_eq(k[9], CFG_T_LBRACE);
	ck_assert_uint_eq(col[9], 20);
	ck_assert_int_eq(k[10], CFG_T_WORD);
	ck_assert_uint_eq(l[10], 2);
	ck_assert_uint_eq(col[10], 3);
	ck_assert_int_eq(k[11], CFG_T_ASSIGN);
	ck_assert_int_eq(k[12], CFG_T_WORD);
	ck_assert(rp_str_eq_cstr(s[12], "[::1]:5060"));
	ck_assert_int_eq(k[13], CFG_T_SEMI);
	ck_assert_int_eq(k[14], CFG_T_VAR);
	ck_assert(rp_str_eq_cstr(s[14], "ruri.user"));
	ck_assert_int_eq(k[15], CFG_T_NE);
	ck_assert_int_eq(k[16], CFG_T_STRING);
	ck_assert(rp_str_eq_cstr(s[16], "s\\\""));
	ck_assert_int_eq(k[17], CFG_T_OR);
	ck_assert_int_eq(k[20], CFG_T_WORD);
	ck_assert(rp_str_eq_cstr(s[20], "10.0.0.0/8"));
	ck_assert_int_eq(k[21], CFG_T_COMMA);
	ck_assert_int_eq(k[22], CFG_T_RBRACE);
	ck_assert_uint_eq(l[22], 3);
	ck_assert_int_eq(k[23], CFG_T_EOF);
}
END_TEST

START_TEST(lexer_never_reads_past_length)
{
	/* the buffer is not NUL-terminated where the length ends */
	static const char src[] = "\"abc\" $x 'q";
	struct cfg_lexer lx;
	struct cfg_token t;

	cfg_lex_init(&lx, "x", src, 4); /* "abc without its quote */
	ck_assert_int_eq(cfg_lex_next(&lx, &t), -EINVAL);
	ck_assert_str_eq(lx.err, "unterminated string");
	cfg_lex_init(&lx, "x", src + 6, 1); /* "$" alone */
	ck_assert_int_eq(cfg_lex_next(&lx, &t), -EINVAL);
	cfg_lex_init(&lx, "x", src + 6, 2);
	ck_assert_int_eq(cfg_lex_next(&lx, &t), 0);
	ck_assert_int_eq(t.kind, CFG_T_VAR);
	ck_assert_uint_eq(t.text.n, 1);
}
END_TEST

START_TEST(refcount)
{
	struct cfg *c = load_ok("route request { drop; }");

	ck_assert_ptr_eq(cfg_get(c), c);
	ck_assert_ptr_null(cfg_put(c)); /* one reference left */
	ck_assert_uint_eq(cfg_listen_count(c), 0);
	ck_assert_ptr_null(cfg_put(c));
	ck_assert_ptr_null(cfg_put(NULL));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cfg_parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, all_good_files_load_cleanly);
	tcase_add_test(tc, default_config_passes_checker);
	tcase_add_test(tc, global_settings);
	tcase_add_test(tc, defaults_when_unset);
	tcase_add_test(tc, listeners);
	tcase_add_test(tc, carrier_edge_trunks_and_users);
	tcase_add_test(tc, failover_trunks);
	tcase_add_test(tc, trunk_own_tls_and_max_branches);
	tcase_add_test(tc, registrar_settings_and_realms);
	tcase_add_test(tc, cidr_matching);
	tcase_add_test(tc, strings_and_comments);
	tcase_add_test(tc, lexer_tokens_and_positions);
	tcase_add_test(tc, lexer_never_reads_past_length);
	tcase_add_test(tc, refcount);
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
