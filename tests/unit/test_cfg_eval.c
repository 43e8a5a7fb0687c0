/* Route evaluation against a fake message: the evaluator's input is an
 * interface (struct cfg_ops), so a fake that records every action in a
 * trace string is the real thing's stand-in here. Each test asserts the
 * exact actions a script takes. */
#include "cfg_check.h"
#include "cfg_default.h"
#include "cfg_eval.h"
#include "cfg_regex.h"
#include "cfg_prog.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOOD_DIR RP_TEST_DATA "/cfg/good"

struct kv {
	char name[64];
	char value[8192];
};

struct fake {
	char method[32];
	char scheme[8], user[128], host[128], port[8];
	char full[512];
	struct kv params[8];
	unsigned nparams;
	char from_user[64], from_host[64], to_user[64], to_host[64];
	struct kv hdrs[8];
	unsigned nhdrs;
	struct sockaddr_storage src;
	enum cfg_transport tp;
	const char *tls_subject;
	const char *sans[4];
	unsigned nsans;
	unsigned status;
	int lookup_result;
	int auth_result;
	int reply_error;
	unsigned lookups;
	char trace[16384];
	char uri_out[512], from_out[256], to_out[256];
};

static void tr(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(f->trace);

	va_start(ap, fmt);
	vsnprintf(f->trace + n, sizeof(f->trace) - n, fmt, ap);
	va_end(ap);
}

static void cp(char *dst, size_t n, rp_str s)
{
	snprintf(dst, n, "%.*s", RP_STR_FMT(s));
}

static int f_method(void *m, rp_str *out)
{
	struct fake *f = m;

	*out = rp_str_cstr(f->method);
	return 0;
}

static int f_uri(void *m, enum cfg_uri which, enum cfg_uri_part part, rp_str *out)
{
	struct fake *f = m;

	if (which == CFG_URI_R) {
		switch (part) {
		case CFG_UP_FULL:
			if (f->full[0]) {
				*out = rp_str_cstr(f->full);
				return 0;
			}
			snprintf(f->uri_out, sizeof(f->uri_out), "%s:%s%s%s%s%s", f->scheme, f->user,
				f->user[0] ? "@" : "", f->host, f->port[0] ? ":" : "", f->port);
			*out = rp_str_cstr(f->uri_out);
			return 0;
		case CFG_UP_SCHEME: *out = rp_str_cstr(f->scheme); return 0;
		case CFG_UP_USER: *out = rp_str_cstr(f->user); return 0;
		case CFG_UP_HOST: *out = rp_str_cstr(f->host); return 0;
		case CFG_UP_PORT:
			if (!f->port[0])
				return -ENOENT;
			*out = rp_str_cstr(f->port);
			return 0;
		}
	}
	if (which == CFG_URI_FROM || which == CFG_URI_TO) {
		const char *u = which == CFG_URI_FROM ? f->from_user : f->to_user;
		const char *h = which == CFG_URI_FROM ? f->from_host : f->to_host;
		char *buf = which == CFG_URI_FROM ? f->from_out : f->to_out;

		if (part == CFG_UP_USER) {
			*out = rp_str_cstr(u);
		} else if (part == CFG_UP_HOST) {
			*out = rp_str_cstr(h);
		} else if (part == CFG_UP_FULL) {
			snprintf(buf, 256, "sip:%s@%s", u, h);
			*out = rp_str_cstr(buf);
		} else {
			return -ENOENT;
		}
		return 0;
	}
	return -ENOENT;
}

static struct kv *find_kv(struct kv *v, unsigned n, rp_str name, unsigned idx)
{
	for (unsigned i = 0; i < n; i++)
		if (rp_str_caseeq_cstr(name, v[i].name) && idx-- == 0)
			return &v[i];
	return NULL;
}

static int f_uri_param(void *m, enum cfg_uri which, rp_str name, rp_str *out)
{
	struct fake *f = m;
	struct kv *p = find_kv(f->params, f->nparams, name, 0);

	if (which != CFG_URI_R || !p)
		return -ENOENT;
	*out = rp_str_cstr(p->value);
	return 0;
}

static int f_header(void *m, rp_str name, unsigned idx, rp_str *out)
{
	struct fake *f = m;
	struct kv *h = find_kv(f->hdrs, f->nhdrs, name, idx);

	if (!h)
		return -ENOENT;
	*out = rp_str_cstr(h->value);
	return 0;
}

static int f_source(void *m, struct sockaddr_storage *out)
{
	struct fake *f = m;

	*out = f->src;
	return 0;
}

static enum cfg_transport f_transport(void *m)
{
	return ((struct fake *)m)->tp;
}

static int f_tls_subject(void *m, rp_str *out)
{
	struct fake *f = m;

	if (!f->tls_subject)
		return -ENOENT;
	*out = rp_str_cstr(f->tls_subject);
	return 0;
}

static int f_tls_san(void *m, unsigned idx, rp_str *out)
{
	struct fake *f = m;

	if (idx >= f->nsans)
		return -ENOENT;
	*out = rp_str_cstr(f->sans[idx]);
	return 0;
}

static unsigned f_status(void *m)
{
	return ((struct fake *)m)->status;
}

static int f_reply(void *m, unsigned code, rp_str reason, const rp_str *hdrs, unsigned n)
{
	struct fake *f = m;

	if (f->reply_error)
		return f->reply_error;
	tr(f, "reply %u %.*s", code, RP_STR_FMT(reason));
	for (unsigned i = 0; i < n; i++)
		tr(f, " [%.*s]", RP_STR_FMT(hdrs[i]));
	tr(f, ";");
	return 0;
}

static int f_relay(void *m, const struct cfg_trunk *t)
{
	tr(m, "relay %s;", t ? t->name : "ruri");
	return 0;
}

static int f_set_uri(void *m, enum cfg_uri_part part, rp_str v)
{
	struct fake *f = m;
	static const char *const names[] = { "full", "scheme", "user", "host", "port" };

	tr(f, "set %s %.*s;", names[part], RP_STR_FMT(v));
	switch (part) {
	case CFG_UP_FULL: cp(f->full, sizeof(f->full), v); break;
	case CFG_UP_USER: cp(f->user, sizeof(f->user), v); break;
	case CFG_UP_HOST: cp(f->host, sizeof(f->host), v); break;
	case CFG_UP_PORT: cp(f->port, sizeof(f->port), v); break;
	case CFG_UP_SCHEME: cp(f->scheme, sizeof(f->scheme), v); break;
	}
	return 0;
}

static int f_set_uri_param(void *m, rp_str name, rp_str v)
{
	struct fake *f = m;
	struct kv *p = find_kv(f->params, f->nparams, name, 0);

	if (!v.p) {
		tr(f, "param-del %.*s;", RP_STR_FMT(name));
		if (p)
			*p = f->params[--f->nparams];
		return 0;
	}
	tr(f, "param %.*s=%.*s;", RP_STR_FMT(name), RP_STR_FMT(v));
	if (!p)
		p = &f->params[f->nparams++];
	cp(p->name, sizeof(p->name), name);
	cp(p->value, sizeof(p->value), v);
	return 0;
}

static int f_add_header(void *m, rp_str name, rp_str v)
{
	struct fake *f = m;

	tr(f, "hdr+ %.*s: %.*s;", RP_STR_FMT(name), RP_STR_FMT(v));
	cp(f->hdrs[f->nhdrs].name, sizeof(f->hdrs[0].name), name);
	cp(f->hdrs[f->nhdrs].value, sizeof(f->hdrs[0].value), v);
	f->nhdrs++;
	return 0;
}

static int f_remove_header(void *m, rp_str name)
{
	tr(m, "hdr- %.*s;", RP_STR_FMT(name));
	return 0;
}

static int f_record_route(void *m)
{
	tr(m, "record_route;");
	return 0;
}

static int f_authenticate(void *m, enum cfg_auth kind, rp_str realm)
{
	struct fake *f = m;
	static const char *const k[] = { "auto", "www", "proxy" };

	tr(f, "auth %s %.*s;", k[kind], RP_STR_FMT(realm));
	return kind == CFG_AUTH_AUTO ? f->auth_result : 0;
}

static int f_save(void *m)
{
	tr(m, "save;");
	return 0;
}

static int f_lookup(void *m)
{
	struct fake *f = m;

	f->lookups++;
	tr(f, "lookup;");
	if (f->lookup_result == 1) /* the contact replaces the R-URI */
		snprintf(f->full, sizeof(f->full), "sip:%s@192.0.2.99:5062", f->user);
	return f->lookup_result;
}

static int f_set_media(void *m, enum cfg_media_enc e)
{
	tr(m, "media %s;", cfg_media_enc_name(e));
	return 0;
}

static void f_log(void *m, enum rp_log_level lvl, rp_str text)
{
	tr(m, "log %s %.*s;", rp_log_level_name(lvl), RP_STR_FMT(text));
}

static const struct cfg_ops ops = {
	.method = f_method, .uri = f_uri, .uri_param = f_uri_param, .header = f_header,
	.source = f_source, .transport = f_transport, .tls_subject = f_tls_subject,
	.tls_san = f_tls_san, .status = f_status,
	.reply = f_reply, .relay = f_relay, .set_uri = f_set_uri,
	.set_uri_param = f_set_uri_param, .add_header = f_add_header,
	.remove_header = f_remove_header, .record_route = f_record_route,
	.authenticate = f_authenticate, .save = f_save, .lookup = f_lookup,
	.set_media = f_set_media, .log = f_log,
};

static void set_src(struct fake *f, const char *ip, unsigned port)
{
	memset(&f->src, 0, sizeof(f->src));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&f->src;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&f->src;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	}
}

/* A request "METHOD sip:user@host" from alice@host at src:5060 over udp. */
static void fake_init(struct fake *f, const char *method, const char *user, const char *host,
	const char *src)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->method, sizeof(f->method), "%s", method);
	strcpy(f->scheme, "sip");
	snprintf(f->user, sizeof(f->user), "%s", user);
	snprintf(f->host, sizeof(f->host), "%s", host);
	strcpy(f->from_user, "alice");
	snprintf(f->from_host, sizeof(f->from_host), "%s", host);
	snprintf(f->to_user, sizeof(f->to_user), "%s", user);
	snprintf(f->to_host, sizeof(f->to_host), "%s", host);
	strcpy(f->hdrs[0].name, "Call-ID");
	strcpy(f->hdrs[0].value, "abc@x");
	f->nhdrs = 1;
	set_src(f, src, 5060);
	f->tp = CFG_TP_UDP;
	f->auth_result = 1;
}

static void add_hdr(struct fake *f, const char *name, const char *value)
{
	snprintf(f->hdrs[f->nhdrs].name, sizeof(f->hdrs[0].name), "%s", name);
	snprintf(f->hdrs[f->nhdrs].value, sizeof(f->hdrs[0].value), "%s", value);
	f->nhdrs++;
}

static struct cfg *load(const char *text)
{
	struct cfg_diag d;
	struct cfg *c = NULL;
	int rc;

	cfg_diag_init(&d);
	rc = cfg_load_string("e.conf", text, strlen(text), &c, &d);
	if (rc)
		cfg_diag_print(&d, stderr);
	ck_assert_int_eq(rc, 0);
	return c;
}

static struct cfg *load_default(void)
{
	struct cfg *c = NULL;

	ck_assert_int_eq(cfg_load_default(&c, NULL), 0);
	return c;
}

static struct cfg *load_edge(void)
{
	struct cfg *c = NULL;

	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/carrier_edge.conf", &c, NULL), 0);
	return c;
}

#define EVAL(c, f, verdict, expect_trace) do { \
	int rc_ = cfg_eval((c), CFG_ROUTE_REQUEST, &ops, (f)); \
	ck_assert_msg(rc_ == (verdict), "verdict %d (%s), want %d; trace: %s", rc_, \
		cfg_verdict_name(rc_), (verdict), (f)->trace); \
	ck_assert_str_eq((f)->trace, (expect_trace)); \
} while (0)

/* ---- the default config ---- */

START_TEST(default_options_to_self)
{
	struct cfg *c = load_default();
	struct fake f;

	fake_init(&f, "OPTIONS", "", "127.0.0.1", "127.0.0.1");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 200 OK;");
	/* OPTIONS for a user is not answered by the proxy itself */
	fake_init(&f, "OPTIONS", "bob", "127.0.0.1", "127.0.0.1");
	f.lookup_result = 1;
	EVAL(c, &f, CFG_EV_RELAYED, "record_route;lookup;"
		"log info OPTIONS from sip:alice@127.0.0.1 (127.0.0.1) to sip:bob@192.0.2.99:5062;relay ruri;");
	cfg_put(c);
}
END_TEST

START_TEST(default_register)
{
	struct cfg *c = load_default();
	struct fake f;

	fake_init(&f, "REGISTER", "", "127.0.0.1", "127.0.0.1");
	f.auth_result = 0;
	EVAL(c, &f, CFG_EV_CHALLENGED, "auth auto ;");
	fake_init(&f, "REGISTER", "", "localhost", "127.0.0.1");
	EVAL(c, &f, CFG_EV_SAVED, "auth auto ;save;");
	cfg_put(c);
}
END_TEST

START_TEST(default_invite)
{
	struct cfg *c = load_default();
	struct fake f;

	fake_init(&f, "INVITE", "bob", "127.0.0.1", "127.0.0.1");
	f.lookup_result = 0;
	EVAL(c, &f, CFG_EV_REPLIED, "auth auto ;record_route;lookup;reply 404 Not Found;");
	fake_init(&f, "INVITE", "bob", "example.com", "127.0.0.1");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 403 Relaying Denied;");
	fake_init(&f, "BYE", "bob", "example.com", "127.0.0.1");
	add_hdr(&f, "Route", "<sip:127.0.0.1;lr>");
	EVAL(c, &f, CFG_EV_RELAYED, "relay ruri;");
	fake_init(&f, "ACK", "bob", "example.com", "127.0.0.1");
	EVAL(c, &f, CFG_EV_RELAYED, "relay ruri;");
	cfg_put(c);
}
END_TEST

/* ---- the carrier edge example of docs/config.md ---- */

START_TEST(edge_from_carrier)
{
	struct cfg *c = load_edge();
	struct fake f;

	/* a carrier call for a number not registered here goes to the core */
	fake_init(&f, "INVITE", "+493055501", "sbc.example.net", "198.51.100.20");
	f.tp = CFG_TP_TLS;
	EVAL(c, &f, CFG_EV_RELAYED, "lookup;media allow;relay core;");
	/* a registered user is found */
	fake_init(&f, "INVITE", "alice", "sbc.example.net", "198.51.100.20");
	f.lookup_result = 1;
	EVAL(c, &f, CFG_EV_RELAYED, "lookup;record_route;relay ruri;");
	/* identified by certificate instead of address */
	fake_init(&f, "INVITE", "+4930", "203.0.113.10", "192.0.2.1");
	f.tls_subject = "CN=sip.carrier.example";
	EVAL(c, &f, CFG_EV_RELAYED, "lookup;media allow;relay core;");
	cfg_put(c);
}
END_TEST

START_TEST(edge_from_core)
{
	struct cfg *c = load_edge();
	struct fake f;

	fake_init(&f, "INVITE", "+331234", "sbc.example.net", "10.0.0.20");
	EVAL(c, &f, CFG_EV_RELAYED, "media require;record_route;relay carrier;");
	fake_init(&f, "INVITE", "33-12", "sbc.example.net", "10.0.0.20");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 484 Address Incomplete;");
	cfg_put(c);
}
END_TEST

START_TEST(edge_registered_users)
{
	struct cfg *c = load_edge();
	struct fake f;

	fake_init(&f, "REGISTER", "", "sbc.example.net", "203.0.113.50");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 403 Register over TLS;");
	f.trace[0] = '\0';
	f.tp = CFG_TP_TLS;
	EVAL(c, &f, CFG_EV_SAVED, "auth auto ;save;");
	fake_init(&f, "INVITE", "+494012", "sbc.example.net", "203.0.113.50");
	EVAL(c, &f, CFG_EV_RELAYED, "auth auto ;relay core;");
	fake_init(&f, "INVITE", "zed", "elsewhere.example", "203.0.113.50");
	EVAL(c, &f, CFG_EV_REPLIED, "auth auto ;log notice no route for sip:zed@elsewhere.example "
		"from 203.0.113.50;reply 404 Not Found;");
	fake_init(&f, "OPTIONS", "", "203.0.113.10", "203.0.113.50");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 200 OK;");
	cfg_put(c);
}
END_TEST

START_TEST(edge_reply_and_failure_routes)
{
	struct cfg *c = load_edge();
	struct fake f;

	fake_init(&f, "INVITE", "x", "sbc.example.net", "10.0.0.20");
	f.status = 180;
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REPLY, &ops, &f), CFG_EV_END);
	ck_assert_str_eq(f.trace, "hdr- X-Internal;");
	f.trace[0] = '\0';
	f.status = 503;
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_FAILURE, &ops, &f), CFG_EV_END);
	ck_assert_str_eq(f.trace, "log warn carrier failed with 503, call abc@x;");
	f.trace[0] = '\0';
	f.status = 486;
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_FAILURE, &ops, &f), CFG_EV_END);
	ck_assert_str_eq(f.trace, "");
	cfg_put(c);
}
END_TEST

START_TEST(tls_peer_identity)
{
	struct cfg *c = NULL;
	struct fake f;

	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/tls_client_auth.conf", &c, NULL), 0);
	fake_init(&f, "INVITE", "u", "h", "2001:db8::1");
	f.tp = CFG_TP_TLS;
	EVAL(c, &f, CFG_EV_REPLIED, "reply 403 Unknown peer;");
	fake_init(&f, "INVITE", "u", "h", "2001:db8::1");
	f.tls_subject = "CN=pbx7.example.net";
	f.sans[0] = "other.example.org";
	f.sans[1] = "pbx7.example.net";
	f.nsans = 2;
	EVAL(c, &f, CFG_EV_RELAYED, "media require;relay ruri;");
	fake_init(&f, "INVITE", "u", "h", "2001:db8::1");
	f.tls_subject = "CN=phone.example.net";
	f.sans[0] = "phone.example.net";
	f.nsans = 1;
	EVAL(c, &f, CFG_EV_CHALLENGED, "auth proxy example.net;");
	cfg_put(c);
}
END_TEST

START_TEST(failover_number_routing)
{
	struct cfg *c = NULL;
	struct fake f;

	ck_assert_int_eq(cfg_load_file(GOOD_DIR "/failover_trunks.conf", &c, NULL), 0);
	fake_init(&f, "INVITE", "+498912345", "10.0.0.1", "10.0.0.50");
	EVAL(c, &f, CFG_EV_RELAYED, "set user 00+498912345;relay national;");
	fake_init(&f, "INVITE", "+15551234", "10.0.0.1", "10.0.0.50");
	EVAL(c, &f, CFG_EV_RELAYED, "relay international;");
	cfg_put(c);
}
END_TEST

/* ---- regex subject length (issue #4) ---- */

/* glibc's regexec is quadratic in the subject for patterns like 'a+b': a
 * subject over regex_max_subject does not match (so !~ is true) instead of
 * costing seconds. */
static void long_subject_case(const char *settings, size_t limit)
{
	char script[512];
	struct cfg *c;
	struct fake f;
	char *v = malloc(limit + 2);

	ck_assert_ptr_nonnull(v);
	snprintf(script, sizeof(script), "%sroute request {\n"
		"  if (header.X-Long =~ 'a+b$') { log(\"hit\"); }\n"
		"  if (header.X-Long !~ 'a+b$') { log(\"miss\"); }\n"
		"  exit;\n}\n", settings);
	c = load(script);
	/* exactly the limit: matched */
	memset(v, 'a', limit - 1);
	v[limit - 1] = 'b';
	v[limit] = '\0';
	fake_init(&f, "INVITE", "bob", "example.com", "10.1.2.3");
	add_hdr(&f, "X-Long", v);
	EVAL(c, &f, CFG_EV_END, "log info hit;");
	/* one byte more: not matched, whatever the pattern */
	memset(v, 'a', limit);
	v[limit] = 'b';
	v[limit + 1] = '\0';
	fake_init(&f, "INVITE", "bob", "example.com", "10.1.2.3");
	add_hdr(&f, "X-Long", v);
	EVAL(c, &f, CFG_EV_END, "log info miss;");
	cfg_put(c);
	free(v);
}

START_TEST(regex_subject_over_the_limit_does_not_match)
{
	long_subject_case("", CFG_REGEX_MAX_SUBJECT_DEFAULT);
	long_subject_case("regex_max_subject = 4000;\n", 4000);
	long_subject_case("regex_max_subject = 16;\n", 16);
}
END_TEST

/* Patterns glibc compiles in exponential time ('+' or a bound copying
 * something that can match nothing, near an anchor) are refused before
 * regcomp sees them; ordinary ones with optional parts still load. */
START_TEST(regex_copies_of_empty_refused)
{
	static const char *const bad[] = { "^C*+++++", "^C*+", "\\b()+", "(^|x)+",
		"^(()+()+)++", "\\w\\B(){2}*{3,5}{1,3}", "a{0,}{1,}", "^(C*|D){2}", "(a?)+",
		"^x(\\1)+" };
	static const char *const good[] = { "^\\+?[0-9]+$", "^(\\+?[0-9]+)?$", "^sip:(.*)?@",
		"^(a|b)+$", "^([0-9]{1,3}\\.){3}[0-9]{1,3}$", "^C*{0,1}", "(a?){1}", "^(a*)*$",
		"^pbx[0-9]+\\.example\\.net$", "^[+]?49" };
	struct cfg_regex *re;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		re = NULL;
		err[0] = '\0';
		ck_assert_msg(cfg_regex_new(rp_str_cstr(bad[i]), false, 0, &re, err, sizeof(err)) ==
			-EINVAL, "%s accepted", bad[i]);
		ck_assert_ptr_null(re);
		ck_assert_msg(strstr(err, "can match the empty string"), "%s: %s", bad[i], err);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		re = NULL;
		ck_assert_msg(cfg_regex_new(rp_str_cstr(good[i]), false, 0, &re, err, sizeof(err)) ==
			0, "%s refused: %s", good[i], err);
		cfg_regex_free(re);
	}
}
END_TEST

/* ---- expressions ---- */

static const char *expr_script =
	"trunk t { address = \"x\"; inbound { source = 192.0.2.0/24; cert_subject = \"CN=peer\"; } numbers = \"+49\"; }\n"
	"route request {\n"
	"  if (ruri.user =~ '^\\+49[0-9]+$') { log(\"re\"); }\n"
	"  if (ruri.user !~ '^\\+49') { log(\"nre\"); }\n"
	"  if (src.ip in (10.0.0.0/8, 2001:db8::/32)) { log(\"net\"); }\n"
	"  if (header.X-Addr in 172.16.0.0/12) { log(\"hdrnet\"); }\n"
	"  if (\"$fU@$fd\" == \"alice@example.com\") { log(\"interp\"); }\n"
	"  if (method != \"INVITE\") { log(\"notinvite\"); }\n"
	"  if (tls.san == \"b.example\") { log(\"san\"); }\n"
	"  if (tls.san =~ '^c\\.') { log(\"sanre\"); }\n"
	"  if (from_trunk(t)) { log(\"trunk ${src.trunk}\"); }\n"
	"  if (has_header(\"X-Addr\")) { log(\"has\"); }\n"
	"  if (ruri.param.transport == \"tls\") { log(\"param\"); }\n"
	"  if (transport == \"tcp\" && src.port == 5090) { log(\"tcp5090\"); }\n"
	"  if (method == \"X\" && lookup()) { log(\"never\"); }\n"
	"  if (method == \"INVITE\" || lookup()) { log(\"or\"); }\n"
	"  if (!(ruri.port == \"\")) { log(\"port $rp\"); }\n"
	"  if (number_of(t, ruri.user)) { log(\"num\"); }\n"
	"  if (is_local(ruri.host)) { log(\"local\"); }\n"
	"  exit;\n"
	"}\n";

START_TEST(expressions_true)
{
	struct cfg *c = load(expr_script);
	struct fake f;

	fake_init(&f, "INVITE", "+4930123", "example.com", "10.1.2.3");
	add_hdr(&f, "X-Addr", "[172.20.0.1]");
	strcpy(f.params[0].name, "transport");
	strcpy(f.params[0].value, "tls");
	f.nparams = 1;
	f.sans[0] = "a.example";
	f.sans[1] = "b.example";
	f.nsans = 2;
	f.tp = CFG_TP_TCP;
	set_src(&f, "10.1.2.3", 5090);
	strcpy(f.port, "5070");
	EVAL(c, &f, CFG_EV_END, "log info re;log info net;log info hdrnet;log info interp;"
		"log info san;log info has;log info param;log info tcp5090;log info or;"
		"log info port 5070;log info num;");
	ck_assert_uint_eq(f.lookups, 0); /* && and || short-circuit */
	cfg_put(c);
}
END_TEST

START_TEST(expressions_false)
{
	struct cfg *c = load(expr_script);
	struct fake f;

	fake_init(&f, "MESSAGE", "bob", "example.com", "2001:db9::1");
	strcpy(f.from_user, "alice");
	strcpy(f.from_host, "example.org");
	f.sans[0] = "c.example";
	f.nsans = 1;
	f.lookup_result = 0;
	EVAL(c, &f, CFG_EV_END, "log info nre;log info notinvite;log info sanre;lookup;");
	ck_assert_uint_eq(f.lookups, 1);
	/* from a trunk by address, then by certificate subject */
	fake_init(&f, "MESSAGE", "bob", "example.com", "192.0.2.9");
	strcpy(f.from_host, "example.org");
	EVAL(c, &f, CFG_EV_END, "log info nre;log info notinvite;log info trunk t;lookup;");
	fake_init(&f, "MESSAGE", "bob", "example.com", "::1");
	strcpy(f.from_host, "example.org");
	f.tls_subject = "CN=peer";
	EVAL(c, &f, CFG_EV_END, "log info nre;log info notinvite;log info trunk ;lookup;");
	cfg_put(c);
}
END_TEST

START_TEST(assignments_are_visible_to_later_reads)
{
	struct cfg *c = load(
		"route request {\n"
		"  ruri.user = \"+49${ruri.user}\";\n"
		"  $rd = \"gw.example\";\n"
		"  ruri.port = 5080;\n"
		"  ruri.param.transport = \"tls\";\n"
		"  ruri.param.lr = \"\";\n"
		"  remove_uri_param user;\n"
		"  add_header(\"X-Src\", \"$si:$sp via $pr\");\n"
		"  remove_header X-Secret;\n"
		"  media_encryption = require;\n"
		"  log(debug, \"now $ru ;transport=${ruri.param.transport} [${header.X-Src}]\");\n"
		"  $ru = \"sip:final@example.net\";\n"
		"  log(err, \"$ru\");\n"
		"  relay;\n"
		"}\n");
	struct fake f;

	fake_init(&f, "INVITE", "301234", "old.example", "192.0.2.5");
	strcpy(f.params[0].name, "user");
	strcpy(f.params[0].value, "phone");
	f.nparams = 1;
	EVAL(c, &f, CFG_EV_RELAYED,
		"set user +49301234;set host gw.example;set port 5080;param transport=tls;param lr=;"
		"param-del user;hdr+ X-Src: 192.0.2.5:5060 via udp;hdr- X-Secret;media require;"
		"log debug now sip:+49301234@gw.example:5080 ;transport=tls [192.0.2.5:5060 via udp];"
		"set full sip:final@example.net;log err sip:final@example.net;relay ruri;");
	ck_assert_uint_eq(f.nparams, 2);
	cfg_put(c);
}
END_TEST

START_TEST(reply_with_headers)
{
	struct cfg *c = load("route request { reply(486, \"Busy $tU\", \"Retry-After: 60\", \"X-Who: $fU\"); }");
	struct fake f;

	fake_init(&f, "INVITE", "bob", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_REPLIED, "reply 486 Busy bob [Retry-After: 60] [X-Who: alice];");
	cfg_put(c);
}
END_TEST

START_TEST(route_calls_return_exit_drop)
{
	struct cfg *c = load(
		"route request {\n"
		"  route(a);\n"
		"  log(\"after a\");\n"
		"  if (method == \"BYE\") { route(b); }\n"
		"  if (method == \"ACK\") { route(d); }\n"
		"  log(\"end\");\n"
		"}\n"
		"route a { log(\"in a\"); if (method != \"X\") { return; } log(\"not here\"); }\n"
		"route b { log(\"in b\"); exit; }\n"
		"route d { drop; }\n");
	struct fake f;

	fake_init(&f, "INVITE", "u", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_END, "log info in a;log info after a;log info end;");
	fake_init(&f, "BYE", "u", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_END, "log info in a;log info after a;log info in b;");
	fake_init(&f, "ACK", "u", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_DROPPED, "log info in a;log info after a;");
	cfg_put(c);
}
END_TEST

START_TEST(challenges)
{
	struct cfg *c = load(
		"route request {\n"
		"  if (method == \"REGISTER\") { www_challenge \"reg.example\"; }\n"
		"  if (method == \"INVITE\") { proxy_challenge; }\n"
		"  authenticate \"$fd\";\n"
		"  log(\"authenticated\");\n"
		"}\n");
	struct fake f;

	fake_init(&f, "REGISTER", "", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_CHALLENGED, "auth www reg.example;");
	fake_init(&f, "INVITE", "", "h", "192.0.2.5");
	EVAL(c, &f, CFG_EV_CHALLENGED, "auth proxy ;");
	fake_init(&f, "MESSAGE", "", "dom.example", "192.0.2.5");
	EVAL(c, &f, CFG_EV_END, "auth auto dom.example;log info authenticated;");
	fake_init(&f, "MESSAGE", "", "dom.example", "192.0.2.5");
	f.auth_result = 0;
	EVAL(c, &f, CFG_EV_CHALLENGED, "auth auto dom.example;");
	cfg_put(c);
}
END_TEST

/* ---- limits and errors ---- */

START_TEST(step_limit_stops_runaway_scripts)
{
	/* every route calls the next one three times: 3^12 calls, no loop,
	 * yet far more work than a request deserves */
	char t[4096] = "route request { route(r0); }\n";
	struct cfg *c;
	struct fake f;
	unsigned steps = 0;
	int i;

	for (i = 0; i < 12; i++)
		sprintf(t + strlen(t), "route r%d { route(r%d); route(r%d); route(r%d); }\n", i,
			i + 1, i + 1, i + 1);
	sprintf(t + strlen(t), "route r%d { log(debug, \"leaf\"); }\n", i);
	c = load(t);
	fake_init(&f, "INVITE", "u", "h", "192.0.2.5");
	ck_assert_int_eq(cfg_eval_steps(c, CFG_ROUTE_REQUEST, &ops, &f, &steps), -ETIMEDOUT);
	ck_assert_uint_eq(steps, CFG_EVAL_MAX_STEPS + 1);
	cfg_put(c);
}
END_TEST

START_TEST(text_longer_than_scratch)
{
	struct cfg *c = load("route request { log(\"${header.X-Big} ${header.X-Big}\"); exit; }");
	struct fake f;

	fake_init(&f, "INVITE", "u", "h", "192.0.2.5");
	add_hdr(&f, "X-Big", "");
	memset(f.hdrs[1].value, 'b', 5000);
	f.hdrs[1].value[5000] = '\0';
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), -ENOSPC);
	ck_assert_str_eq(f.trace, "");
	/* one copy fits */
	f.hdrs[1].value[4000] = '\0';
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), CFG_EV_END);
	ck_assert_uint_eq(strlen(f.trace), strlen("log info ;") + 8001);
	cfg_put(c);
}
END_TEST

START_TEST(no_header_injection_from_message_text)
{
	struct cfg *c = load("route request { add_header(\"X-Copy\", \"${header.X-In}\"); "
		"reply 400 \"Bad $rU\"; }");
	struct fake f;

	fake_init(&f, "INVITE", "u", "h", "192.0.2.5");
	add_hdr(&f, "X-In", "ok");
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), CFG_EV_REPLIED);
	ck_assert_str_eq(f.trace, "hdr+ X-Copy: ok;reply 400 Bad u;");
	fake_init(&f, "INVITE", "u", "h", "192.0.2.5");
	add_hdr(&f, "X-In", "a\r\nVia: SIP/2.0/UDP evil");
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), -EBADMSG);
	ck_assert_str_eq(f.trace, "");
	fake_init(&f, "INVITE", "u\n", "h", "192.0.2.5");
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), -EBADMSG);
	cfg_put(c);
}
END_TEST

START_TEST(missing_callbacks_and_action_errors)
{
	struct cfg *c = load("route request { if (method == \"A\") { log(\"a\"); } reply 500 \"x\"; }");
	struct cfg_ops none = { 0 };
	struct fake f;

	fake_init(&f, "A", "u", "h", "192.0.2.5");
	/* no getters: everything reads as empty; no reply action: ENOTSUP */
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &none, &f), -ENOTSUP);
	f.reply_error = -EIO;
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REQUEST, &ops, &f), -EIO);
	ck_assert_str_eq(f.trace, "log info a;");
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_REPLY, &ops, &f), -ENOENT);
	ck_assert_int_eq(cfg_eval(c, CFG_ROUTE_FAILURE, &ops, &f), -ENOENT);
	ck_assert_str_eq(cfg_verdict_name(CFG_EV_RELAYED), "relayed");
	cfg_put(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cfg_eval");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, default_options_to_self);
	tcase_add_test(tc, default_register);
	tcase_add_test(tc, default_invite);
	tcase_add_test(tc, edge_from_carrier);
	tcase_add_test(tc, edge_from_core);
	tcase_add_test(tc, edge_registered_users);
	tcase_add_test(tc, edge_reply_and_failure_routes);
	tcase_add_test(tc, tls_peer_identity);
	tcase_add_test(tc, failover_number_routing);
	tcase_add_test(tc, expressions_true);
	tcase_add_test(tc, expressions_false);
	tcase_add_test(tc, assignments_are_visible_to_later_reads);
	tcase_add_test(tc, reply_with_headers);
	tcase_add_test(tc, route_calls_return_exit_drop);
	tcase_add_test(tc, challenges);
	tcase_add_test(tc, step_limit_stops_runaway_scripts);
	tcase_add_test(tc, text_longer_than_scratch);
	tcase_add_test(tc, no_header_injection_from_message_text);
	tcase_add_test(tc, missing_callbacks_and_action_errors);
	tcase_add_test(tc, regex_subject_over_the_limit_does_not_match);
	tcase_add_test(tc, regex_copies_of_empty_refused);
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
