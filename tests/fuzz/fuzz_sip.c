/* libFuzzer target for the SIP codec: parse (datagram and stream), walk
 * every header with the standalone parsers, check that an empty edit
 * writes the message back byte for byte and that a real edit re-parses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip_edit.h"
#include "sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_uri(const struct sip_uri *u)
{
	rp_str it = u->params, n, v;
	char buf[256];
	int k = 0;

	while (sip_uri_param_next(&it, &n, &v) && k++ < 1000)
		(void)sip_unescape(v, buf, sizeof(buf));
	it = u->headers;
	while (sip_uri_header_next(&it, &n, &v) && k++ < 2000)
		(void)sip_unescape(v, buf, sizeof(buf));
	(void)sip_unescape(u->user, buf, sizeof(buf));
	(void)sip_uri_part_eq(u->user, u->password);
}

static void walk_params(rp_str params)
{
	rp_str it = params, n, v;
	bool hv;
	int k = 0;

	while (sip_hdr_param_next(&it, &n, &v, &hv) == SIP_OK && k++ < 1000)
		;
}

static void walk(const struct sip_msg *m)
{
	for (size_t i = 0; i < m->nhdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		rp_str it = h->value, e;
		struct sip_via v;
		struct sip_nameaddr na;
		struct sip_cseq cs;
		uint32_t n;
		int k = 0;

		switch (h->id) {
		case SIP_HDR_VIA:
			while (sip_hdr_list_next(&it, &e) && k++ < 1000)
				if (sip_via_parse(e, &v, NULL) == SIP_OK)
					walk_params(v.params);
			break;
		case SIP_HDR_FROM:
		case SIP_HDR_TO:
		case SIP_HDR_REPLY_TO:
		case SIP_HDR_REFER_TO:
		case SIP_HDR_REFERRED_BY:
			if (sip_nameaddr_parse(h->value, &na, NULL) == SIP_OK) {
				walk_uri(&na.uri);
				walk_params(na.params);
			}
			break;
		case SIP_HDR_CONTACT:
		case SIP_HDR_ROUTE:
		case SIP_HDR_RECORD_ROUTE:
		case SIP_HDR_PATH:
		case SIP_HDR_P_ASSERTED_IDENTITY:
			while (sip_hdr_list_next(&it, &e) && k++ < 1000)
				if (sip_nameaddr_parse(e, &na, NULL) == SIP_OK) {
					walk_uri(&na.uri);
					walk_params(na.params);
				}
			break;
		case SIP_HDR_CSEQ:
			(void)sip_cseq_parse(h->value, &cs, NULL);
			break;
		case SIP_HDR_MAX_FORWARDS:
			(void)sip_max_forwards_parse(h->value, &n, NULL);
			break;
		case SIP_HDR_CONTENT_LENGTH:
			(void)sip_content_length_parse(h->value, &n, NULL);
			break;
		case SIP_HDR_CALL_ID:
			(void)sip_call_id_parse(h->value, &e, NULL);
			break;
		case SIP_HDR_DATE:
			(void)sip_date_parse(h->value, NULL);
			break;
		default:
			if (sip_hdr_is_list(h->id))
				while (sip_hdr_list_next(&it, &e) && k++ < 1000)
					;
			break;
		}
	}
	if (m->is_request)
		walk_uri(&m->ruri);
}

static void one(const char *buf, size_t len, bool stream)
{
	char store[8192];
	rp_arena a;
	struct sip_parse_opts o = { .stream = stream, .max_headers = 512 };
	struct sip_msg *m = NULL, *m2 = NULL;
	struct sip_perr err;
	struct sip_edit *e;
	rp_str out;

	rp_arena_init(&a, store, sizeof(store), 8 << 20);
	if (sip_msg_parse(buf, len, &a, &o, &m, &err) != SIP_OK) {
		if (err.off > len)
			abort();
		rp_arena_fini(&a);
		return;
	}
	if (m->len > len || m->buf < buf || m->buf + m->len > buf + len)
		abort();
	walk(m);
	if (sip_edit_new(m, &a, &e) != SIP_OK || sip_edit_write_arena(e, &a, &out) != SIP_OK)
		abort();
	if (out.n != m->len || memcmp(out.p, m->buf, out.n) != 0)
		abort();
	/* A real edit must still give a parseable message. */
	if (sip_edit_new(m, &a, &e) != SIP_OK)
		abort();
	if (sip_edit_add_header(e, SIP_EDIT_TOP, 0, RP_STR_LIT("X-Fuzz"), RP_STR_LIT("1")) != SIP_OK ||
	    sip_edit_set_body(e, RP_STR_LIT("xyz")) != SIP_OK ||
	    sip_edit_write_arena(e, &a, &out) != SIP_OK)
		abort();
	if (out.n != sip_edit_len(e))
		abort();
	o.stream = false;
	if (sip_msg_parse(out.p, out.n, &a, &o, &m2, &err) != SIP_OK) {
		fprintf(stderr, "re-parse failed: %s at %zu\n", sip_err_name(err.code), err.off);
		abort();
	}
	if (m2->body.n != 3 || m2->nhdrs != m->nhdrs + 1 + !m->has_content_length)
		abort();
	rp_arena_fini(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copy: ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	struct sip_uri u;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	one(buf, size, false);
	one(buf, size, true);
	if (size < 512)
		(void)sip_uri_parse(rp_str_make(buf, size), &u, NULL);
	free(buf);
	return 0;
}
