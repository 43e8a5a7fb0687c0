/* sdp: real offers parse and round-trip byte for byte; each edit; the
 * proxy's typical SRTP rewrite end to end; hostile input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_arena.h"
#include "sdes.h"
#include "sdp.h"

static char arena_mem[16384];
static rp_arena A;

static void setup(void)
{
	rp_arena_init(&A, arena_mem, sizeof(arena_mem), 1 << 20);
}

static void teardown(void)
{
	rp_arena_fini(&A);
}

static char *load(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf = malloc(65536);

	snprintf(path, sizeof(path), "%s/sdp/%s", RP_TEST_DATA, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "open %s", path);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static struct sdp *parse_ok(const char *buf, size_t len)
{
	struct sdp *s = NULL;
	size_t off = 12345;
	int rc = sdp_parse(buf, len, &A, NULL, &s, &off);

	ck_assert_msg(rc == SDP_OK, "parse: %s at %zu", sdp_strerror(rc), off);
	ck_assert_ptr_nonnull(s);
	return s;
}

static int parse_err(const char *buf, size_t len, size_t *off)
{
	struct sdp *s = NULL;
	int rc;

	*off = 99999;
	rc = sdp_parse(buf, len, &A, NULL, &s, off);
	ck_assert_ptr_null(s);
	return rc;
}

/* Serialises into a malloc'd NUL-terminated string. */
static char *ser(const struct sdp *s, size_t *len)
{
	size_t need = sdp_serialized_len(s), n = 0;
	char *out = malloc(need + 1);

	ck_assert_int_eq(sdp_serialize(s, out, need, &n), SDP_OK);
	ck_assert_uint_eq(n, need);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

static void assert_roundtrip(const char *buf, size_t len)
{
	struct sdp *s = parse_ok(buf, len);
	size_t n;
	char *out = ser(s, &n);

	ck_assert_uint_eq(n, len);
	ck_assert(memcmp(out, buf, len) == 0);
	free(out);
}

static unsigned count_attrs(const struct sdp *s, const struct sdp_media *m,
	const char *name)
{
	unsigned n = 0;

	for (struct sdp_line *l = sdp_attr_find(s, m, rp_str_cstr(name), NULL);
	     l; l = sdp_attr_find(s, m, rp_str_cstr(name), l))
		n++;
	return n;
}

START_TEST(test_baresip_offer)
{
	size_t len;
	char *buf = load("baresip_offer.sdp", &len);
	struct sdp *s = parse_ok(buf, len);
	struct sdp_media *m = sdp_media_first(s);
	const struct sdp_origin *o = sdp_origin(s);

	ck_assert(sdp_uses_crlf(s));
	ck_assert_uint_eq(sdp_media_count(s), 2);
	ck_assert(rp_str_eq_cstr(o->username, "-"));
	ck_assert(rp_str_eq_cstr(o->sess_id, "1180453546"));
	ck_assert(rp_str_eq_cstr(o->sess_version, "2419137409"));
	ck_assert(rp_str_eq_cstr(o->address, "192.168.1.20"));
	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->address, "192.168.1.20"));
	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->addrtype, "IP4"));

	ck_assert(rp_str_eq_cstr(m->media, "audio"));
	ck_assert_uint_eq(m->port, 10712);
	ck_assert(!m->has_port_count);
	ck_assert(rp_str_eq_cstr(m->proto, "RTP/SAVP"));
	ck_assert(rp_str_eq_cstr(m->fmts, "96 0 8 101"));
	ck_assert_ptr_null(m->conn.line);
	ck_assert_ptr_eq(sdp_media_conn(s, m), sdp_session_conn(s));
	ck_assert_uint_eq(count_attrs(s, m, "crypto"), 5);
	ck_assert_uint_eq(count_attrs(s, m, "rtpmap"), 4);
	ck_assert_uint_eq(count_attrs(s, NULL, "crypto"), 0);

	/* Every crypto line of the offer decodes. */
	unsigned seen = 0;
	for (struct sdp_line *l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), NULL);
	     l; l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), l)) {
		struct sdes_crypto c;
		size_t off;

		ck_assert(l->has_value);
		ck_assert_int_eq(sdes_parse(l->value, &c, &off), SDES_OK);
		ck_assert_uint_eq(c.tag, ++seen);
		sdes_crypto_wipe(&c);
	}
	struct sdp_line *f = sdp_attr_find(s, m, RP_STR_LIT("fmtp"), NULL);
	ck_assert(rp_str_eq_cstr(f->value, "96 stereo=1;sprop-stereo=1"));
	struct sdp_line *sr = sdp_attr_find(s, m, RP_STR_LIT("sendrecv"), NULL);
	ck_assert_ptr_nonnull(sr);
	ck_assert(!sr->has_value);

	struct sdp_media *v = m->next;
	ck_assert(rp_str_eq_cstr(v->media, "video"));
	ck_assert_uint_eq(v->index, 1);
	ck_assert_uint_eq(count_attrs(s, v, "crypto"), 1);
	ck_assert_ptr_null(v->next);
	assert_roundtrip(buf, len);
	free(buf);
}
END_TEST

START_TEST(test_rtpengine_offer_lf)
{
	size_t len;
	char *buf = load("rtpengine_offer_lf.sdp", &len);
	struct sdp *s = parse_ok(buf, len);
	struct sdp_media *m = sdp_media_first(s);

	ck_assert(!sdp_uses_crlf(s));
	ck_assert_ptr_null(sdp_session_conn(s)->line);
	ck_assert_ptr_nonnull(m->conn.line);
	ck_assert(rp_str_eq_cstr(m->conn.address, "198.51.100.1"));
	ck_assert_uint_eq(count_attrs(s, m, "crypto"), 11);
	/* Unpadded keys of every suite decode, F8 included. */
	for (struct sdp_line *l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), NULL);
	     l; l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), l)) {
		struct sdes_crypto c;
		size_t off;

		ck_assert_msg(sdes_parse(l->value, &c, &off) == SDES_OK, "%.*s",
			RP_STR_FMT(l->value));
	}
	assert_roundtrip(buf, len);
	free(buf);
}
END_TEST

START_TEST(test_ipv6_offer)
{
	size_t len;
	char *buf = load("ipv6_offer.sdp", &len);
	struct sdp *s = parse_ok(buf, len);

	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->addrtype, "IP6"));
	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->address, "2001:db8::10"));
	ck_assert(rp_str_eq_cstr(sdp_origin(s)->addrtype, "IP6"));
	assert_roundtrip(buf, len);
	free(buf);
}
END_TEST

START_TEST(test_hold_offer_keeps_other_lines)
{
	size_t len;
	char *buf = load("hold_offer.sdp", &len);
	struct sdp *s = parse_ok(buf, len);
	struct sdp_media *m = sdp_media_first(s);
	char types[64];
	size_t nt = 0;

	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->address, "0.0.0.0"));
	ck_assert_ptr_nonnull(sdp_attr_find(s, m, RP_STR_LIT("sendonly"), NULL));
	for (struct sdp_line *l = sdp_first_line(s); l && nt < 63; l = l->next)
		types[nt++] = l->type;
	types[nt] = '\0';
	ck_assert_str_eq(types, "vosiuepcbtrzkmiaaaaaaay");
	/* The unknown y= line belongs to the media section. */
	ck_assert_int_eq(m->last->type, 'y');
	assert_roundtrip(buf, len);
	free(buf);
}
END_TEST

START_TEST(test_line_endings)
{
	/* Mixed endings, no final newline, trailing blank lines: all exact. */
	static const char *cases[] = {
		"v=0\r\no=- 1 2 IN IP4 1.2.3.4\ns=-\r\nt=0 0\nm=audio 1 RTP/AVP 0\r\n",
		"v=0\no=- 1 2 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0",
		"v=0\r\ns=-\r\nt=0 0\r\n\r\n",
		"v=0\r\ns=-\r\nt=0 0\r\n\n\r\n",
		"v=0",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_roundtrip(cases[i], strlen(cases[i]));

	/* Inserting after a last line that had no newline adds one. */
	const char *in = "v=0\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0";
	struct sdp *s = parse_ok(in, strlen(in));
	ck_assert_int_eq(sdp_insert_attr(s, sdp_media_first(s), NULL,
		RP_STR_LIT("sendrecv"), NULL, NULL), SDP_OK);
	char *out = ser(s, NULL);
	ck_assert_str_eq(out, "v=0\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\na=sendrecv\n");
	free(out);
}
END_TEST

static const char basic[] =
	"v=0\r\n"
	"o=- 100 199 IN IP4 10.0.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 10.0.0.1/127\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0\r\n"
	"m=audio 4000 RTP/SAVP 0 8\r\n"
	"i=main audio\r\n"
	"b=AS:64\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
	"a=sendrecv\r\n"
	"m=video 5000/2 RTP/AVP 31\r\n";

START_TEST(test_edit_conn)
{
	struct sdp *s = parse_ok(basic, strlen(basic));
	struct sdp_media *m = sdp_media_first(s);
	char *out;

	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->suffix, "127"));
	/* Session c=: replaced in place, the /ttl dropped, IP6 detected. */
	ck_assert_int_eq(sdp_set_conn(s, NULL, SDP_ADDR_AUTO,
		RP_STR_LIT("2001:db8::1")), SDP_OK);
	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->addrtype, "IP6"));
	ck_assert(rp_str_eq_cstr(sdp_session_conn(s)->address, "2001:db8::1"));
	ck_assert_uint_eq(sdp_session_conn(s)->suffix.n, 0);
	/* Media c=: inserted after m= and i=. */
	ck_assert_int_eq(sdp_set_conn(s, m, SDP_ADDR_IP4,
		RP_STR_LIT("203.0.113.5")), SDP_OK);
	ck_assert(rp_str_eq_cstr(m->conn.address, "203.0.113.5"));
	ck_assert_ptr_eq(sdp_media_conn(s, m), &m->conn);
	/* Video has only its m= line: c= goes right after it and ends it. */
	struct sdp_media *v = m->next;
	ck_assert_int_eq(sdp_set_conn(s, v, SDP_ADDR_AUTO,
		RP_STR_LIT("198.51.100.7")), SDP_OK);
	ck_assert_ptr_eq(v->last, v->conn.line);
	/* Setting it again rewrites the same line. */
	ck_assert_int_eq(sdp_set_conn(s, v, SDP_ADDR_IP4,
		RP_STR_LIT("198.51.100.8")), SDP_OK);
	ck_assert_int_eq(sdp_set_conn(s, v, SDP_ADDR_IP4, RP_STR_LIT("")),
		SDP_E_INVAL);
	ck_assert_int_eq(sdp_set_conn(s, v, SDP_ADDR_IP4, RP_STR_LIT("1.2.3.4 x")),
		SDP_E_INVAL);
	out = ser(s, NULL);
	ck_assert_str_eq(out,
		"v=0\r\n"
		"o=- 100 199 IN IP4 10.0.0.1\r\n"
		"s=-\r\n"
		"c=IN IP6 2001:db8::1\r\n"
		"t=0 0\r\n"
		"a=group:BUNDLE 0\r\n"
		"m=audio 4000 RTP/SAVP 0 8\r\n"
		"i=main audio\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"b=AS:64\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
		"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
		"a=sendrecv\r\n"
		"m=video 5000/2 RTP/AVP 31\r\n"
		"c=IN IP4 198.51.100.8\r\n");
	free(out);
}
END_TEST

START_TEST(test_edit_session_conn_insert)
{
	const char *in = "v=0\no=- 1 1 IN IP4 h\ns=x\ni=info\nt=0 0\na=tool:x\n"
		"m=audio 9 RTP/AVP 0\nc=IN IP4 1.1.1.1\n";
	struct sdp *s = parse_ok(in, strlen(in));
	char *out;

	ck_assert_ptr_null(sdp_session_conn(s)->line);
	ck_assert_int_eq(sdp_set_conn(s, NULL, SDP_ADDR_IP6,
		RP_STR_LIT("::1")), SDP_OK);
	out = ser(s, NULL);
	ck_assert_str_eq(out, "v=0\no=- 1 1 IN IP4 h\ns=x\ni=info\nc=IN IP6 ::1\n"
		"t=0 0\na=tool:x\nm=audio 9 RTP/AVP 0\nc=IN IP4 1.1.1.1\n");
	free(out);
}
END_TEST

START_TEST(test_edit_port_proto)
{
	struct sdp *s = parse_ok(basic, strlen(basic));
	struct sdp_media *m = sdp_media_first(s), *v = m->next;
	char *out;

	ck_assert_int_eq(sdp_media_set_port(s, m, 30000), SDP_OK);
	ck_assert_uint_eq(m->port, 30000);
	ck_assert_int_eq(sdp_media_set_proto(s, m, RP_STR_LIT("RTP/AVP")), SDP_OK);
	ck_assert(rp_str_eq_cstr(m->proto, "RTP/AVP"));
	ck_assert(rp_str_eq_cstr(m->fmts, "0 8"));
	ck_assert_int_eq(sdp_media_set_port(s, v, 0), SDP_OK);
	ck_assert(v->has_port_count);
	ck_assert_uint_eq(v->port_count, 2);
	ck_assert_int_eq(sdp_media_set_proto(s, v, RP_STR_LIT("UDP/TLS/RTP/SAVPF")),
		SDP_OK);
	ck_assert_int_eq(sdp_media_set_proto(s, v, RP_STR_LIT("RTP//AVP")),
		SDP_E_INVAL);
	ck_assert_int_eq(sdp_media_set_proto(s, v, RP_STR_LIT("RTP/AVP 0")),
		SDP_E_INVAL);
	ck_assert_int_eq(sdp_media_set_proto(s, v, RP_STR_LIT("")), SDP_E_INVAL);
	out = ser(s, NULL);
	ck_assert_ptr_nonnull(strstr(out, "\r\nm=audio 30000 RTP/AVP 0 8\r\ni=main"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nm=video 0/2 UDP/TLS/RTP/SAVPF 31\r\n"));
	free(out);
}
END_TEST

START_TEST(test_edit_remove_insert_attrs)
{
	struct sdp *s = parse_ok(basic, strlen(basic));
	struct sdp_media *m = sdp_media_first(s);
	struct sdp_line *rtpmap, *ins = NULL;
	rp_str val = RP_STR_LIT("99 telephone-event/8000");
	char *out;

	ck_assert_int_eq(sdp_remove_attrs(s, m, RP_STR_LIT("crypto")), 2);
	ck_assert_int_eq(sdp_remove_attrs(s, m, RP_STR_LIT("crypto")), 0);
	ck_assert_uint_eq(count_attrs(s, m, "crypto"), 0);
	/* The session attribute is untouched by a media-level removal. */
	ck_assert_int_eq(sdp_remove_attrs(s, m, RP_STR_LIT("group")), 0);
	rtpmap = sdp_attr_find(s, m, RP_STR_LIT("rtpmap"), NULL);
	ck_assert_int_eq(sdp_insert_attr(s, m, rtpmap, RP_STR_LIT("rtpmap"), &val,
		&ins), SDP_OK);
	ck_assert_ptr_eq(rtpmap->next, ins);
	ck_assert(rp_str_eq_cstr(ins->name, "rtpmap"));
	ck_assert(rp_str_eq(ins->value, val));
	ck_assert_int_eq(sdp_insert_attr(s, m, NULL, RP_STR_LIT("rtcp-mux"), NULL,
		NULL), SDP_OK);
	ck_assert_int_eq(sdp_insert_attr(s, NULL, NULL, RP_STR_LIT("ice-lite"),
		NULL, NULL), SDP_OK);
	/* Bad names/values and an 'after' from another section are refused. */
	rp_str crlf = RP_STR_LIT("x\r\na=evil");
	ck_assert_int_eq(sdp_insert_attr(s, m, NULL, RP_STR_LIT("x"), &crlf, NULL),
		SDP_E_INVAL);
	ck_assert_int_eq(sdp_insert_attr(s, m, NULL, RP_STR_LIT("a:b"), NULL,
		NULL), SDP_E_INVAL);
	ck_assert_int_eq(sdp_insert_attr(s, m->next, rtpmap, RP_STR_LIT("x"), NULL,
		NULL), SDP_E_INVAL);
	/* Removing one line. */
	ck_assert_int_eq(sdp_remove_line(s, sdp_attr_find(s, NULL,
		RP_STR_LIT("group"), NULL)), SDP_OK);
	ck_assert_int_eq(sdp_remove_line(s, m->mline), SDP_E_INVAL);
	out = ser(s, NULL);
	ck_assert_str_eq(out,
		"v=0\r\n"
		"o=- 100 199 IN IP4 10.0.0.1\r\n"
		"s=-\r\n"
		"c=IN IP4 10.0.0.1/127\r\n"
		"t=0 0\r\n"
		"a=ice-lite\r\n"
		"m=audio 4000 RTP/SAVP 0 8\r\n"
		"i=main audio\r\n"
		"b=AS:64\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:99 telephone-event/8000\r\n"
		"a=sendrecv\r\n"
		"a=rtcp-mux\r\n"
		"m=video 5000/2 RTP/AVP 31\r\n");
	free(out);
}
END_TEST

START_TEST(test_edit_origin)
{
	struct sdp *s = parse_ok(basic, strlen(basic));
	char *out;

	ck_assert_int_eq(sdp_bump_origin_version(s), SDP_OK);
	ck_assert(rp_str_eq_cstr(sdp_origin(s)->sess_version, "200"));
	ck_assert_int_eq(sdp_set_origin_version(s, 999), SDP_OK);
	ck_assert_int_eq(sdp_bump_origin_version(s), SDP_OK);
	ck_assert(rp_str_eq_cstr(sdp_origin(s)->sess_version, "1000"));
	ck_assert_int_eq(sdp_set_origin_addr(s, SDP_ADDR_AUTO,
		RP_STR_LIT("192.0.2.1")), SDP_OK);
	out = ser(s, NULL);
	ck_assert_ptr_nonnull(strstr(out, "\r\no=- 100 1000 IN IP4 192.0.2.1\r\ns=-"));
	free(out);

	/* Past 64 bits the increment still works on the text. */
	const char *big = "v=0\no=u 1 99999999999999999999999 IN IP4 a\ns=-\n";
	s = parse_ok(big, strlen(big));
	ck_assert_int_eq(sdp_bump_origin_version(s), SDP_OK);
	ck_assert(rp_str_eq_cstr(sdp_origin(s)->sess_version,
		"100000000000000000000000"));
	const char *noo = "v=0\ns=-\n";
	s = parse_ok(noo, strlen(noo));
	ck_assert_int_eq(sdp_bump_origin_version(s), SDP_E_NOT_FOUND);
}
END_TEST

/* The proxy's typical rewrite of an SRTP offer toward a plain-RTP core. */
START_TEST(test_typical_rewrite)
{
	size_t len;
	char *buf = load("baresip_offer.sdp", &len);
	struct sdp *s = parse_ok(buf, len);
	char *out;

	ck_assert_int_eq(sdp_set_conn(s, NULL, SDP_ADDR_IP4,
		RP_STR_LIT("10.1.1.1")), SDP_OK);
	ck_assert_int_eq(sdp_bump_origin_version(s), SDP_OK);
	uint16_t port = 40000;
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
		ck_assert_int_eq(sdp_media_set_port(s, m, port), SDP_OK);
		port += 2;
		ck_assert_int_eq(sdp_media_set_proto(s, m, RP_STR_LIT("RTP/AVP")),
			SDP_OK);
		ck_assert_int_ge(sdp_remove_attrs(s, m, RP_STR_LIT("crypto")), 1);
	}
	out = ser(s, NULL);
	ck_assert_str_eq(out,
		"v=0\r\n"
		"o=- 1180453546 2419137410 IN IP4 192.168.1.20\r\n"
		"s=-\r\n"
		"c=IN IP4 10.1.1.1\r\n"
		"t=0 0\r\n"
		"m=audio 40000 RTP/AVP 96 0 8 101\r\n"
		"b=AS:96\r\n"
		"a=rtpmap:96 opus/48000/2\r\n"
		"a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=sendrecv\r\n"
		"a=label:1\r\n"
		"a=ptime:20\r\n"
		"a=rtcp-mux\r\n"
		"m=video 40002 RTP/AVP 96\r\n"
		"b=AS:1000\r\n"
		"a=rtpmap:96 H264/90000\r\n"
		"a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n"
		"a=sendrecv\r\n"
		"a=rtcp-mux\r\n");
	free(out);
	free(buf);
}
END_TEST

/* And the other direction: plain offer from the core, SRTP toward the
 * trunk with our own fresh key, inserted where the offerer's were. */
START_TEST(test_rewrite_with_new_crypto)
{
	size_t len;
	char *buf = load("rtpengine_offer_lf.sdp", &len);
	struct sdp *s = parse_ok(buf, len);
	struct sdp_media *m = sdp_media_first(s);
	struct sdes_crypto c, back;
	char val[SDES_FORMAT_MAX];
	size_t vn, off;
	struct sdp_line *after, *ins;

	ck_assert_int_eq(sdp_set_conn(s, m, SDP_ADDR_IP6, RP_STR_LIT("2001:db8::5")),
		SDP_OK);
	ck_assert_int_eq(sdp_media_set_port(s, m, 50000), SDP_OK);
	after = sdp_attr_find(s, m, RP_STR_LIT("rtcp"), NULL);
	ck_assert_int_eq(sdp_remove_attrs(s, m, RP_STR_LIT("crypto")), 11);
	ck_assert_int_eq(sdes_generate(1, SDES_AEAD_AES_256_GCM, NULL, &c), SDES_OK);
	ck_assert_int_eq(sdes_format(&c, val, sizeof(val), &vn), SDES_OK);
	rp_str v = rp_str_make(val, vn);
	ck_assert_int_eq(sdp_insert_attr(s, m, after, RP_STR_LIT("crypto"), &v,
		&ins), SDP_OK);
	explicit_bzero(val, sizeof(val)); /* the line holds its own copy */
	char *out = ser(s, NULL);
	ck_assert_ptr_nonnull(strstr(out, "m=audio 50000 RTP/SAVP 0 8 101\n"
		"c=IN IP6 2001:db8::5\n"));
	char *cl = strstr(out, "a=rtcp:2001\na=crypto:1 AEAD_AES_256_GCM inline:");
	ck_assert_ptr_nonnull(cl);
	ck_assert_ptr_nonnull(strstr(cl, "\na=ptime:20\n"));
	/* What was written parses back to our key. */
	struct sdp *s2 = parse_ok(out, strlen(out));
	struct sdp_line *l = sdp_attr_find(s2, sdp_media_first(s2),
		RP_STR_LIT("crypto"), NULL);
	ck_assert_int_eq(sdes_parse(l->value, &back, &off), SDES_OK);
	ck_assert(memcmp(back.keys[0].key_salt, c.keys[0].key_salt, 44) == 0);
	ck_assert_ptr_null(sdp_attr_find(s2, sdp_media_first(s2),
		RP_STR_LIT("crypto"), l));
	sdes_crypto_wipe(&c);
	sdes_crypto_wipe(&back);
	/* Our key text in the arena goes before the arena is reused. */
	const char *text = ins->raw.p;
	size_t tn = ins->raw.n;
	sdp_wipe(s);
	for (size_t i = 0; i < tn; i++)
		ck_assert_int_eq(text[i], 0);
	free(out);
	free(buf);
}
END_TEST

START_TEST(test_serialize_space)
{
	struct sdp *s = parse_ok(basic, strlen(basic));
	char out[sizeof(basic)];
	size_t n = 0;

	ck_assert_int_eq(sdp_serialize(s, out, sizeof(basic) - 2, &n), SDP_E_SPACE);
	ck_assert_int_eq(sdp_serialize(s, out, sizeof(basic) - 1, &n), SDP_OK);
	ck_assert_uint_eq(n, sizeof(basic) - 1);
}
END_TEST

START_TEST(test_hostile)
{
	static const struct {
		const char *in;
		int rc;
		size_t off;
	} cases[] = {
		{ "", SDP_E_EMPTY, 0 },
		{ "v=1\r\n", SDP_E_VERSION, 0 },
		{ "v=0 \r\n", SDP_E_VERSION, 0 },
		{ "s=-\r\nv=0\r\n", SDP_E_VERSION, 0 },
		{ "\r\nv=0\r\n", SDP_E_VERSION, 0 },
		{ "v=0\r\nx\r\n", SDP_E_LINE, 5 },
		{ "v=0\r\n=x\r\n", SDP_E_LINE, 5 },
		{ "v=0\r\na =x\r\n", SDP_E_LINE, 5 },
		{ "v=0\r\n1=x\r\n", SDP_E_LINE, 5 },
		{ "v=0\r\ns=-\r\n\r\nt=0 0\r\n", SDP_E_LINE, 10 },
		{ "v=0\r\ns=a\rb\r\n", SDP_E_CHAR, 8 },
		{ "v=0\r\ns=-\r\n\r", SDP_E_CHAR, 10 },
		{ "v=0\r\nv=0\r\n", SDP_E_ORDER, 5 },
		{ "v=0\ns=a\ns=b\n", SDP_E_ORDER, 8 },
		{ "v=0\nm=audio 1 RTP/AVP 0\no=- 1 1 IN IP4 a\n", SDP_E_ORDER, 24 },
		{ "v=0\no=- 1 1 IN IP4\n", SDP_E_ORIGIN, 18 },
		{ "v=0\no=- 1 x IN IP4 a\n", SDP_E_ORIGIN, 10 },
		{ "v=0\no=- 1 1 IN IP4 a b\n", SDP_E_ORIGIN, 20 },
		{ "v=0\nc=IN IP4\n", SDP_E_CONN, 12 },
		{ "v=0\nc=IN IP4 /1\n", SDP_E_CONN, 13 },
		{ "v=0\nc=\n", SDP_E_CONN, 6 },
		{ "v=0\nm=audio\n", SDP_E_MEDIA, 11 },
		{ "v=0\nm=audio 65536 RTP/AVP 0\n", SDP_E_PORT, 12 },
		{ "v=0\nm=audio 12a RTP/AVP 0\n", SDP_E_PORT, 12 },
		{ "v=0\nm=audio -1 RTP/AVP 0\n", SDP_E_PORT, 12 },
		{ "v=0\nm=audio 99999999999999999999 RTP/AVP 0\n", SDP_E_PORT, 12 },
		{ "v=0\nm=audio 1/0 RTP/AVP 0\n", SDP_E_PORT, 14 },
		{ "v=0\nm=audio 1/ RTP/AVP 0\n", SDP_E_PORT, 14 },
		{ "v=0\nm=audio 1\n", SDP_E_MEDIA, 13 },
		{ "v=0\nm=audio 1 RTP//AVP 0\n", SDP_E_PROTO, 14 },
		{ "v=0\nm=audio 1 RTP/AVP/ 0\n", SDP_E_PROTO, 14 },
		{ "v=0\nm=audio 1 RTP:AVP 0\n", SDP_E_PROTO, 14 },
		{ "v=0\nt=0\n", SDP_E_TIME, 7 },
		{ "v=0\nt=a 0\n", SDP_E_TIME, 6 },
		{ "v=0\nb=AS\n", SDP_E_BANDWIDTH, 6 },
		{ "v=0\nb=AS:x\n", SDP_E_BANDWIDTH, 6 },
		{ "v=0\na=\n", SDP_E_ATTR, 6 },
		{ "v=0\na=:x\n", SDP_E_ATTR, 6 },
		{ "v=0\na=x y:z\n", SDP_E_ATTR, 6 },
	};
	size_t off;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_err(cases[i].in, strlen(cases[i].in), &off);

		ck_assert_msg(rc == cases[i].rc && off == cases[i].off,
			"case %zu: got %d at %zu, want %d at %zu", i, rc, off,
			cases[i].rc, cases[i].off);
	}
	ck_assert_int_eq(parse_err(NULL, 10, &off), SDP_E_EMPTY);

	/* Trailing blanks after a property attribute are tolerated and kept. */
	static const char blank[] = "v=0\r\nm=audio 1 RTP/AVP 0\r\na=sendonly \t\r\n";
	struct sdp *s = parse_ok(blank, sizeof(blank) - 1);
	ck_assert_ptr_nonnull(sdp_attr_find(s, sdp_media_first(s),
		RP_STR_LIT("sendonly"), NULL));
	assert_roundtrip(blank, sizeof(blank) - 1);

	/* NUL bytes. */
	static const char nul[] = "v=0\r\ns=a\0b\r\n";
	ck_assert_int_eq(parse_err(nul, sizeof(nul) - 1, &off), SDP_E_CHAR);
	ck_assert_uint_eq(off, 8);
	/* Only the given length is read: the NUL after it is never seen. */
	ck_assert_int_eq(parse_ok(nul, 8) != NULL, 1);
}
END_TEST

START_TEST(test_many_lines_bounded)
{
	const size_t nlines = 10000;
	char *buf = malloc(16 + nlines * 6);
	size_t n = 0, off;
	struct sdp *s = NULL;
	struct sdp_parse_opts opts = { .max_lines = 20000 };

	n += (size_t)sprintf(buf, "v=0\r\n");
	for (size_t i = 0; i < nlines; i++) {
		memcpy(buf + n, "a=x\r\n", 5);
		n += 5;
	}
	/* Default limit: refused at the first line over it. */
	ck_assert_int_eq(parse_err(buf, n, &off), SDP_E_TOO_MANY_LINES);
	ck_assert_uint_eq(off, 5 + 1023 * 5);
	/* A caller that allows more gets them all, and the arena limit holds. */
	rp_arena big;
	rp_arena_init(&big, NULL, 0, 0);
	ck_assert_int_eq(sdp_parse(buf, n, &big, &opts, &s, &off), SDP_OK);
	ck_assert_uint_eq(sdp_serialized_len(s), n);
	rp_arena_fini(&big);
	rp_arena small;
	rp_arena_init(&small, NULL, 0, 8192);
	s = NULL;
	ck_assert_int_eq(sdp_parse(buf, n, &small, &opts, &s, &off), SDP_E_NOMEM);
	ck_assert_ptr_null(s);
	rp_arena_fini(&small);
	free(buf);
}
END_TEST


/* Allocation failure at every point: parse and every edit either succeed
 * or report SDP_E_NOMEM, and whatever succeeded serialises consistently. */
START_TEST(test_arena_exhaustion)
{
	size_t len;
	char *buf = load("baresip_offer.sdp", &len);
	unsigned ok_parse = 0, full = 0;

	for (size_t limit = 16; limit <= 24576; limit += 16) {
		rp_arena a;
		struct sdp *s = NULL;
		size_t off;
		int rc;

		rp_arena_init(&a, NULL, 0, limit);
		rc = sdp_parse(buf, len, &a, NULL, &s, &off);
		ck_assert_msg(rc == SDP_OK || rc == SDP_E_NOMEM, "rc %d", rc);
		if (rc == SDP_OK) {
			bool all = true;
			rp_str v = RP_STR_LIT("1 AES_CM_128_HMAC_SHA1_80 "
				"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");

			ok_parse++;
			for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
				int r[5];

				r[0] = sdp_set_conn(s, m, SDP_ADDR_IP4,
					RP_STR_LIT("10.9.9.9"));
				r[1] = sdp_media_set_port(s, m, 1234);
				r[2] = sdp_media_set_proto(s, m, RP_STR_LIT("RTP/AVP"));
				r[3] = sdp_insert_attr(s, m, NULL, RP_STR_LIT("crypto"),
					&v, NULL);
				r[4] = sdp_bump_origin_version(s);
				for (int i = 0; i < 5; i++) {
					ck_assert_msg(r[i] == SDP_OK || r[i] == SDP_E_NOMEM,
						"edit %d -> %d", i, r[i]);
					all = all && r[i] == SDP_OK;
				}
			}
			/* Whatever state it is in, it serialises and parses. */
			size_t n;
			char *out = ser(s, &n);
			struct sdp *s2 = NULL;
			rp_arena_reset(&A);
			ck_assert_int_eq(sdp_parse(out, n, &A, NULL, &s2, &off), SDP_OK);
			ck_assert_uint_eq(sdp_media_count(s2), 2);
			if (all) {
				full++;
				ck_assert_ptr_nonnull(strstr(out,
					"m=video 1234 RTP/AVP 96\r\nc=IN IP4 10.9.9.9\r\n"));
			}
			free(out);
		}
		rp_arena_fini(&a);
	}
	ck_assert_uint_gt(ok_parse, 0);
	ck_assert_uint_gt(full, 0);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sdp");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_baresip_offer);
	tcase_add_test(tc, test_rtpengine_offer_lf);
	tcase_add_test(tc, test_ipv6_offer);
	tcase_add_test(tc, test_hold_offer_keeps_other_lines);
	tcase_add_test(tc, test_line_endings);
	tcase_add_test(tc, test_edit_conn);
	tcase_add_test(tc, test_edit_session_conn_insert);
	tcase_add_test(tc, test_edit_port_proto);
	tcase_add_test(tc, test_edit_remove_insert_attrs);
	tcase_add_test(tc, test_edit_origin);
	tcase_add_test(tc, test_typical_rewrite);
	tcase_add_test(tc, test_rewrite_with_new_crypto);
	tcase_add_test(tc, test_serialize_space);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_many_lines_bounded);
	tcase_add_test(tc, test_arena_exhaustion);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
