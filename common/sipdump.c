/* rampart-sipdump: print the structure of one SIP message.
 *
 *   rampart-sipdump [--json] [--stream] [--show-keys] [FILE|-]
 *
 * Reads the message from FILE (or stdin), parses it with the same codecs the
 * daemons use, and prints the start line, every header, the top-level
 * fields, the SDP body and each decoded a=crypto attribute. Exit status: 0
 * when the message parses, 1 when it is rejected (the error and its byte
 * offset are printed), 2 on a usage or I/O error.
 *
 * SRTP master keys are not printed unless --show-keys is given: dumps end up
 * in tickets and chat logs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"
#include "rp_base64.h"
#include "rp_buf.h"
#include "rp_json.h"
#include "rp_version.h"
#include "sdes.h"
#include "sdp.h"
#include "sip_msg.h"

#define SIPDUMP_MAX_INPUT (1024 * 1024)

struct dump_opts {
	bool json;
	bool stream;
	bool show_keys;
};

static const char *transport_name(enum sip_transport t)
{
	switch (t) {
	case SIP_TP_UDP: return "UDP";
	case SIP_TP_TCP: return "TCP";
	case SIP_TP_TLS: return "TLS";
	case SIP_TP_SCTP: return "SCTP";
	case SIP_TP_WS: return "WS";
	case SIP_TP_WSS: return "WSS";
	case SIP_TP_OTHER: break;
	}
	return "other";
}

static const char *host_type_name(enum sip_host_type t)
{
	switch (t) {
	case SIP_HOST_FQDN: return "fqdn";
	case SIP_HOST_IPV4: return "ipv4";
	case SIP_HOST_IPV6: return "ipv6";
	case SIP_HOST_NONE: break;
	}
	return "none";
}

static const char *scheme_name(enum sip_scheme s)
{
	switch (s) {
	case SIP_SCHEME_SIP: return "sip";
	case SIP_SCHEME_SIPS: return "sips";
	case SIP_SCHEME_TEL: return "tel";
	case SIP_SCHEME_OTHER: break;
	}
	return "other";
}

static int read_all(FILE *f, rp_buf *b)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (rp_buf_append(b, chunk, n) < 0)
			return b->err ? b->err : -ENOMEM;
	}
	return ferror(f) ? -EIO : 0;
}

/* 1-based line and column of byte 'off', for people reading the error. */
static void line_col(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void json_uri(rp_json *j, const struct sip_uri *u)
{
	rp_json_obj_begin(j);
	rp_json_kv_str(j, "raw", u->raw);
	rp_json_kv_cstr(j, "scheme", scheme_name(u->scheme));
	if (u->scheme == SIP_SCHEME_OTHER) {
		rp_json_kv_str(j, "opaque", u->opaque);
		rp_json_obj_end(j);
		return;
	}
	if (u->has_userinfo || u->scheme == SIP_SCHEME_TEL)
		rp_json_kv_str(j, "user", u->user);
	if (u->has_password)
		rp_json_kv_str(j, "password", u->password);
	if (u->host_type != SIP_HOST_NONE) {
		rp_json_kv_str(j, "host", u->host);
		rp_json_kv_cstr(j, "host_type", host_type_name(u->host_type));
	}
	if (u->has_port)
		rp_json_kv_uint(j, "port", u->port);
	rp_json_key(j, "params");
	rp_json_obj_begin(j);
	rp_str it = u->params, name, value;
	while (sip_uri_param_next(&it, &name, &value)) {
		rp_json_key_str(j, name);
		rp_json_str(j, value);
	}
	rp_json_obj_end(j);
	if (u->has_headers) {
		rp_json_key(j, "headers");
		rp_json_obj_begin(j);
		it = u->headers;
		while (sip_uri_header_next(&it, &name, &value)) {
			rp_json_key_str(j, name);
			rp_json_str(j, value);
		}
		rp_json_obj_end(j);
	}
	rp_json_obj_end(j);
}

static void json_nameaddr(rp_json *j, const struct sip_nameaddr *na)
{
	rp_json_obj_begin(j);
	if (na->star) {
		rp_json_kv_bool(j, "star", true);
		rp_json_obj_end(j);
		return;
	}
	if (na->display.n)
		rp_json_kv_str(j, "display", na->display);
	rp_json_key(j, "uri");
	json_uri(j, &na->uri);
	if (na->has_tag)
		rp_json_kv_str(j, "tag", na->tag);
	if (na->params.n)
		rp_json_kv_str(j, "params", na->params);
	rp_json_obj_end(j);
}

static void json_via(rp_json *j, const struct sip_via *v)
{
	rp_json_obj_begin(j);
	rp_json_kv_cstr(j, "transport", v->transport == SIP_TP_OTHER ? "" : transport_name(v->transport));
	if (v->transport == SIP_TP_OTHER)
		rp_json_kv_str(j, "transport_token", v->transport_str);
	rp_json_kv_str(j, "host", v->host);
	rp_json_kv_cstr(j, "host_type", host_type_name(v->host_type));
	if (v->has_port)
		rp_json_kv_uint(j, "port", v->port);
	if (v->has_branch)
		rp_json_kv_str(j, "branch", v->branch);
	if (v->has_received)
		rp_json_kv_str(j, "received", v->received);
	if (v->has_rport) {
		if (v->rport >= 0)
			rp_json_kv_int(j, "rport", v->rport);
		else
			rp_json_kv_bool(j, "rport", true);
	}
	if (v->has_maddr)
		rp_json_kv_str(j, "maddr", v->maddr);
	if (v->ttl >= 0)
		rp_json_kv_int(j, "ttl", v->ttl);
	rp_json_obj_end(j);
}

static void json_key(rp_json *j, const struct sdes_key *k, enum sdes_suite suite,
		     const struct dump_opts *o)
{
	rp_json_obj_begin(j);
	rp_json_kv_uint(j, "key_len", sdes_suite_key_len(suite));
	rp_json_kv_uint(j, "salt_len", sdes_suite_salt_len(suite));
	if (o->show_keys) {
		char b64[128];
		size_t n = 0;

		if (rp_base64_encode(k->key_salt, k->key_salt_len, b64, sizeof(b64), &n) == 0)
			rp_json_kv_str(j, "inline", rp_str_make(b64, n));
		explicit_bzero(b64, sizeof(b64));
	}
	switch (k->lifetime_form) {
	case SDES_LIFETIME_POW2:
		rp_json_key(j, "lifetime");
		{
			char t[16];
			int n = snprintf(t, sizeof(t), "2^%u", (unsigned)k->lifetime_exp);

			rp_json_str(j, rp_str_make(t, (size_t)n));
		}
		break;
	case SDES_LIFETIME_DECIMAL:
		rp_json_kv_uint(j, "lifetime", k->lifetime);
		break;
	case SDES_LIFETIME_NONE:
		break;
	}
	if (k->has_mki) {
		rp_json_kv_uint(j, "mki", k->mki);
		rp_json_kv_uint(j, "mki_len", k->mki_len);
	}
	rp_json_obj_end(j);
}

static void json_crypto(rp_json *j, rp_str value, const struct dump_opts *o)
{
	struct sdes_crypto c;
	size_t off = 0;
	int rc = sdes_parse(value, &c, &off);

	rp_json_obj_begin(j);
	if (rc != SDES_OK) {
		/* The raw value may hold a key: show it only on request. */
		if (o->show_keys)
			rp_json_kv_str(j, "raw", value);
		rp_json_kv_cstr(j, "error", sdes_strerror(rc));
		rp_json_kv_uint(j, "offset", off);
		rp_json_obj_end(j);
		return;
	}
	const struct sdes_suite_info *si = sdes_suite_info(c.suite);

	rp_json_kv_uint(j, "tag", c.tag);
	rp_json_kv_cstr(j, "suite", sdes_suite_name(c.suite));
	rp_json_kv_bool(j, "supported", si && si->supported);
	rp_json_key(j, "keys");
	rp_json_arr_begin(j);
	for (unsigned i = 0; i < c.n_keys; i++)
		json_key(j, &c.keys[i], c.suite, o);
	rp_json_arr_end(j);
	if (c.has_kdr)
		rp_json_kv_uint(j, "kdr", c.kdr);
	if (c.unencrypted_srtp)
		rp_json_kv_bool(j, "unencrypted_srtp", true);
	if (c.unencrypted_srtcp)
		rp_json_kv_bool(j, "unencrypted_srtcp", true);
	if (c.unauthenticated_srtp)
		rp_json_kv_bool(j, "unauthenticated_srtp", true);
	if (c.fec_order != SDES_FEC_ORDER_NONE)
		rp_json_kv_cstr(j, "fec_order", c.fec_order == SDES_FEC_SRTP ? "FEC_SRTP" : "SRTP_FEC");
	if (c.n_fec_keys) {
		rp_json_key(j, "fec_keys");
		rp_json_arr_begin(j);
		for (unsigned i = 0; i < c.n_fec_keys; i++)
			json_key(j, &c.fec_keys[i], c.suite, o);
		rp_json_arr_end(j);
	}
	if (c.has_wsh)
		rp_json_kv_uint(j, "wsh", c.wsh);
	if (c.n_unknown) {
		rp_json_key(j, "unknown_params");
		rp_json_arr_begin(j);
		for (unsigned i = 0; i < c.n_unknown; i++)
			rp_json_str(j, c.unknown[i]);
		rp_json_arr_end(j);
	}
	rp_json_obj_end(j);
	sdes_crypto_wipe(&c);
}

static void json_conn(rp_json *j, const struct sdp_conn *c)
{
	rp_json_obj_begin(j);
	rp_json_kv_str(j, "nettype", c->nettype);
	rp_json_kv_str(j, "addrtype", c->addrtype);
	rp_json_kv_str(j, "address", c->address);
	if (c->suffix.n)
		rp_json_kv_str(j, "suffix", c->suffix);
	rp_json_obj_end(j);
}

static void json_attrs(rp_json *j, const struct sdp *s, const struct sdp_media *m,
		       const struct dump_opts *o)
{
	const struct sdp_line *l = NULL;

	rp_json_key(j, "attributes");
	rp_json_arr_begin(j);
	while ((l = sdp_attr_next(s, m, l)) != NULL) {
		rp_json_obj_begin(j);
		rp_json_kv_str(j, "name", l->name);
		if (l->has_value) {
			if (rp_str_eq_cstr(l->name, "crypto") && !o->show_keys)
				rp_json_kv_cstr(j, "value", "(decoded below)");
			else
				rp_json_kv_str(j, "value", l->value);
		}
		rp_json_obj_end(j);
	}
	rp_json_arr_end(j);

	rp_json_key(j, "crypto");
	rp_json_arr_begin(j);
	l = NULL;
	while ((l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), l)) != NULL)
		json_crypto(j, l->value, o);
	rp_json_arr_end(j);
}

static void json_sdp(rp_json *j, rp_str body, rp_arena *a, const struct dump_opts *o)
{
	struct sdp *s = NULL;
	size_t off = 0;
	int rc = sdp_parse(body.p, body.n, a, NULL, &s, &off);

	rp_json_key(j, "sdp");
	rp_json_obj_begin(j);
	if (rc != SDP_OK) {
		rp_json_kv_cstr(j, "error", sdp_strerror(rc));
		rp_json_kv_uint(j, "offset", off);
		rp_json_obj_end(j);
		return;
	}
	const struct sdp_origin *og = sdp_origin(s);
	if (og->line) {
		rp_json_key(j, "origin");
		rp_json_obj_begin(j);
		rp_json_kv_str(j, "username", og->username);
		rp_json_kv_str(j, "sess_id", og->sess_id);
		rp_json_kv_str(j, "sess_version", og->sess_version);
		rp_json_kv_str(j, "address", og->address);
		rp_json_obj_end(j);
	}
	const struct sdp_conn *sc = sdp_session_conn(s);
	if (sc->line) {
		rp_json_key(j, "connection");
		json_conn(j, sc);
	}
	json_attrs(j, s, NULL, o);
	rp_json_key(j, "media");
	rp_json_arr_begin(j);
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
		rp_json_obj_begin(j);
		rp_json_kv_str(j, "media", m->media);
		rp_json_kv_uint(j, "port", m->port);
		if (m->has_port_count)
			rp_json_kv_uint(j, "port_count", m->port_count);
		rp_json_kv_str(j, "proto", m->proto);
		rp_json_kv_str(j, "fmts", m->fmts);
		const struct sdp_conn *mc = sdp_media_conn(s, m);
		if (mc->line) {
			rp_json_key(j, "connection");
			json_conn(j, mc);
		}
		json_attrs(j, s, m, o);
		rp_json_obj_end(j);
	}
	rp_json_arr_end(j);
	rp_json_obj_end(j);
}

static bool body_is_sdp(const struct sip_msg *m)
{
	if (!m->body.n)
		return false;
	if (!m->h_content_type)
		return false;
	rp_str ct = rp_str_trim(m->h_content_type->value);
	return rp_str_has_prefix_case(ct, "application/sdp");
}

static int dump_json(const struct sip_msg *m, rp_arena *a, const struct dump_opts *o,
		     rp_buf *out)
{
	rp_json j;

	rp_json_init(&j, out, RP_JSON_PRETTY);
	rp_json_obj_begin(&j);
	rp_json_kv_cstr(&j, "type", m->is_request ? "request" : "response");
	if (m->is_request) {
		rp_json_kv_str(&j, "method", m->method_str);
		rp_json_key(&j, "request_uri");
		json_uri(&j, &m->ruri);
	} else {
		rp_json_kv_uint(&j, "status", m->status);
		rp_json_kv_str(&j, "reason", m->reason);
	}
	rp_json_kv_str(&j, "version", m->version);

	rp_json_key(&j, "headers");
	rp_json_arr_begin(&j);
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];

		rp_json_obj_begin(&j);
		rp_json_kv_str(&j, "name", h->name);
		if (h->id != SIP_HDR_OTHER)
			rp_json_kv_cstr(&j, "canonical", sip_hdr_name(h->id));
		rp_json_kv_str(&j, "value", h->value);
		rp_json_obj_end(&j);
	}
	rp_json_arr_end(&j);

	struct sip_hdr_iter it;
	struct sip_via v;
	struct sip_perr perr;
	enum sip_err e;

	rp_json_key(&j, "via");
	rp_json_arr_begin(&j);
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	while ((e = sip_hdr_iter_next_via(&it, &v, &perr)) == SIP_OK)
		json_via(&j, &v);
	if (e != SIP_E__COUNT) {
		rp_json_obj_begin(&j);
		rp_json_kv_cstr(&j, "error", sip_err_reason(e));
		rp_json_kv_uint(&j, "offset", perr.off);
		rp_json_obj_end(&j);
	}
	rp_json_arr_end(&j);

	rp_json_key(&j, "from");
	json_nameaddr(&j, &m->from);
	rp_json_key(&j, "to");
	json_nameaddr(&j, &m->to);
	rp_json_kv_str(&j, "call_id", m->call_id);
	rp_json_key(&j, "cseq");
	rp_json_obj_begin(&j);
	rp_json_kv_uint(&j, "num", m->cseq.num);
	rp_json_kv_str(&j, "method", m->cseq.method_str);
	rp_json_obj_end(&j);
	if (m->max_forwards >= 0)
		rp_json_kv_int(&j, "max_forwards", m->max_forwards);
	if (m->has_content_length)
		rp_json_kv_uint(&j, "content_length", m->content_length);

	struct sip_nameaddr na;
	if (m->h_contact) {
		rp_json_key(&j, "contact");
		rp_json_arr_begin(&j);
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		while ((e = sip_hdr_iter_next_nameaddr(&it, &na, &perr)) == SIP_OK)
			json_nameaddr(&j, &na);
		rp_json_arr_end(&j);
	}
	static const struct { enum sip_hdr_id id; const char *key; } lists[] = {
		{ SIP_HDR_ROUTE, "route" },
		{ SIP_HDR_RECORD_ROUTE, "record_route" },
	};
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++) {
		if (sip_msg_find(m, lists[k].id, 0) < 0)
			continue;
		rp_json_key(&j, lists[k].key);
		rp_json_arr_begin(&j);
		sip_hdr_iter_init(&it, m, lists[k].id);
		while ((e = sip_hdr_iter_next_nameaddr(&it, &na, &perr)) == SIP_OK)
			json_nameaddr(&j, &na);
		rp_json_arr_end(&j);
	}

	rp_json_kv_uint(&j, "body_length", m->body.n);
	if (body_is_sdp(m))
		json_sdp(&j, m->body, a, o);
	rp_json_obj_end(&j);
	return rp_json_finish(&j);
}

/* The text form is the JSON document laid out YAML-style for a terminal:
 * one walk builds both, so both forms always show the same facts. The input
 * is our own writer's output, hence well-formed. */
struct text_rd {
	const char *p, *end;
};

static void text_skip_ws(struct text_rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == ','))
		r->p++;
}

static void text_indent(int depth)
{
	for (int d = 0; d < depth; d++)
		fputs("  ", stdout);
}

/* Prints a JSON string's content: common escapes decoded, control
 * characters kept visible as escapes. */
static void text_string(struct text_rd *r)
{
	r->p++; /* opening quote */
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' && r->p + 1 < r->end) {
			char e = r->p[1];

			if (e == '"' || e == '\\' || e == '/') {
				putchar(e);
				r->p += 2;
				continue;
			}
			/* \r, \n, \t, \uXXXX stay escaped: they are part of what
			 * the message really holds. */
			putchar(*r->p++);
			putchar(*r->p++);
			continue;
		}
		putchar(*r->p++);
	}
	r->p++; /* closing quote */
}

static void text_value(struct text_rd *r, int depth, bool in_list);

static void text_object(struct text_rd *r, int depth, bool first_inline)
{
	bool first = true;

	r->p++; /* { */
	for (;;) {
		text_skip_ws(r);
		if (r->p >= r->end || *r->p == '}') {
			r->p++;
			return;
		}
		if (!(first && first_inline))
			text_indent(depth);
		first = false;
		text_string(r);
		text_skip_ws(r);
		r->p++; /* : */
		text_skip_ws(r);
		putchar(':');
		text_value(r, depth, false);
	}
}

static void text_value(struct text_rd *r, int depth, bool in_list)
{
	(void)in_list;
	if (*r->p == '{') {
		const char *q = r->p + 1;

		while (q < r->end && (*q == ' ' || *q == '\n'))
			q++;
		if (*q == '}') {
			fputs(" {}\n", stdout);
			r->p = q + 1;
			return;
		}
		putchar('\n');
		text_object(r, depth + 1, false);
		return;
	}
	if (*r->p == '[') {
		bool any = false;

		r->p++;
		for (;;) {
			text_skip_ws(r);
			if (r->p >= r->end || *r->p == ']') {
				r->p++;
				break;
			}
			if (!any)
				putchar('\n');
			any = true;
			text_indent(depth + 1);
			fputs("-", stdout);
			if (*r->p == '{') {
				putchar(' ');
				text_object(r, depth + 2, true);
			} else {
				text_value(r, depth + 1, true);
			}
		}
		if (!any)
			fputs(" []\n", stdout);
		return;
	}
	putchar(' ');
	if (*r->p == '"') {
		text_string(r);
	} else {
		while (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
		       *r->p != '}' && *r->p != ']')
			putchar(*r->p++);
	}
	putchar('\n');
}

static void print_text(const char *json, size_t len)
{
	struct text_rd r = { json, json + len };

	text_skip_ws(&r);
	if (r.p < r.end && *r.p == '{')
		text_object(&r, 0, false);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rampart-sipdump [--json] [--stream] [--show-keys] [FILE|-]\n"
		"  Parses one SIP message (default: stdin) and prints its structure.\n"
		"  --json       print one JSON document\n"
		"  --stream     parse as from TCP/TLS (Content-Length required)\n"
		"  --show-keys  also print SRTP master keys from a=crypto lines\n"
		"  --version    print the version\n"
		"Exit status: 0 accepted, 1 rejected (error and byte offset printed), 2 usage/I/O.\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "stream", no_argument, NULL, 's' },
		{ "show-keys", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct dump_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "jskhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 's': o.stream = true; break;
		case 'k': o.show_keys = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("rampart-sipdump %s\n", RAMPART_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 2;
	}

	const char *path = optind < argc ? argv[optind] : "-";
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "rampart-sipdump: %s: %s\n", path, strerror(errno));
		return 2;
	}
	rp_buf in;
	rp_buf_init(&in, SIPDUMP_MAX_INPUT);
	int rc = read_all(f, &in);
	if (f != stdin)
		fclose(f);
	if (rc < 0) {
		fprintf(stderr, "rampart-sipdump: %s: %s\n", path,
			rc == -ENOSPC || rc == -EMSGSIZE ? "input larger than 1 MiB" : strerror(-rc));
		rp_buf_free(&in);
		return 2;
	}

	rp_arena a;
	rp_arena_init(&a, NULL, 0, 16 * 1024 * 1024);
	struct sip_parse_opts popts = { .stream = o.stream, .max_size = SIPDUMP_MAX_INPUT };
	struct sip_msg *m = NULL;
	struct sip_perr perr = { 0 };
	enum sip_err e = sip_msg_parse(in.p ? in.p : "", in.len, &a, &popts, &m, &perr);
	int status = 0;

	if (e != SIP_OK) {
		size_t line, col;

		line_col(in.p, in.len, perr.off, &line, &col);
		if (o.json) {
			rp_buf out;
			rp_json j;

			rp_buf_init(&out, 0);
			rp_json_init(&j, &out, RP_JSON_PRETTY);
			rp_json_obj_begin(&j);
			rp_json_kv_cstr(&j, "error", sip_err_reason(e));
			rp_json_kv_cstr(&j, "code", sip_err_name(e));
			rp_json_kv_uint(&j, "offset", perr.off);
			rp_json_kv_uint(&j, "line", line);
			rp_json_kv_uint(&j, "column", col);
			rp_json_obj_end(&j);
			if (rp_json_finish(&j) == 0)
				fwrite(out.p, 1, out.len, stdout);
			rp_buf_free(&out);
		} else {
			printf("rejected: %s (%s) at byte %zu (line %zu, column %zu)\n",
			       sip_err_reason(e), sip_err_name(e), perr.off, line, col);
		}
		status = 1;
	} else {
		rp_buf out;

		rp_buf_init(&out, 0);
		rp_buf_set_secure(&out, o.show_keys); /* keys must not linger */
		rc = dump_json(m, &a, &o, &out);
		if (rc < 0) {
			fprintf(stderr, "rampart-sipdump: output: %s\n", strerror(-rc));
			status = 2;
		} else if (o.json) {
			fwrite(out.p, 1, out.len, stdout);
		} else {
			print_text(out.p, out.len);
		}
		rp_buf_free(&out);
	}
	rp_arena_fini(&a);
	rp_buf_free(&in);
	if (fflush(stdout) != 0)
		return 2;
	return status;
}
