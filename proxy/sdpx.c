/* sdpx: SDP read + one-direction rewrite for the media layer (sdpx.h). */
#include "sdpx.h"

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

static enum sdpx_proto proto_of(rp_str p)
{
	if (rp_str_eq_cstr(p, "RTP/AVP"))
		return SDPX_PROTO_AVP;
	if (rp_str_eq_cstr(p, "RTP/SAVP"))
		return SDPX_PROTO_SAVP;
	if (rp_str_eq_cstr(p, "RTP/AVPF"))
		return SDPX_PROTO_AVPF;
	if (rp_str_eq_cstr(p, "RTP/SAVPF"))
		return SDPX_PROTO_SAVPF;
	return SDPX_PROTO_OTHER;
}

const char *sdpx_proto_name(bool feedback, bool srtp)
{
	if (feedback)
		return srtp ? "RTP/SAVPF" : "RTP/AVPF";
	return srtp ? "RTP/SAVP" : "RTP/AVP";
}

static bool is_hold_addr(rp_str a)
{
	return rp_str_eq_cstr(a, "0.0.0.0") || rp_str_eq_cstr(a, "::");
}

/* RFC 4566 also allows a host name or a multicast group with TTL in c=;
 * a relay sends media to one host it can name without DNS, so only a
 * unicast IPv4/IPv6 literal (of the family the line says) will do. */
static bool is_unicast_literal(rp_str a, bool ip6)
{
	unsigned char b[16];
	char buf[48];

	if (a.n == 0 || a.n >= sizeof(buf) || memchr(a.p, '\0', a.n))
		return false;
	memcpy(buf, a.p, a.n);
	buf[a.n] = '\0';
	if (inet_pton(ip6 ? AF_INET6 : AF_INET, buf, b) != 1)
		return false;
	if (!ip6)
		return b[0] < 224 && !(b[0] == 0 && !b[1] && !b[2] && !b[3]);
	return b[0] != 0xff && memcmp(b, (const unsigned char[16]){ 0 }, 16) != 0;
}

int sdpx_read(const char *body, size_t len, rp_arena *a, struct sdpx_desc *d,
	size_t *err_off)
{
	struct sdp *s;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = sdp_parse(body, len, a, NULL, &s, err_off);
	if (rc == SDP_E_NOMEM)
		return SDPX_E_NOMEM;
	if (rc < 0)
		return SDPX_E_PARSE;
	if (sdp_media_count(s) > SDPX_MAX_STREAMS)
		return SDPX_E_STREAMS;
	d->sdp = s;
	for (struct sdp_media *m = sdp_media_first(s); m; m = m->next) {
		struct sdpx_stream *st = &d->s[d->nstreams++];
		const struct sdp_conn *c = sdp_media_conn(s, m);
		const struct sdp_line *l = NULL;

		st->m = m;
		st->media = m->media;
		st->port = m->port;
		st->proto = proto_of(m->proto);
		if (c && c->line) {
			st->addr = c->address;
			st->ip6 = rp_str_eq_cstr(c->addrtype, "IP6");
			st->hold_addr = is_hold_addr(c->address);
			st->addr_ok = st->hold_addr || is_unicast_literal(c->address, st->ip6);
		}
		st->rtcp_mux = sdp_attr_find(s, m, RP_STR_LIT("rtcp-mux"), NULL) != NULL;
		while ((l = sdp_attr_find(s, m, RP_STR_LIT("crypto"), l)) != NULL) {
			if (st->ncrypto < SDPX_MAX_CRYPTO && l->has_value)
				st->crypto[st->ncrypto++] = l->value;
		}
	}
	return SDPX_OK;
}

const char *sdpx_skip_name(enum sdpx_skip s)
{
	switch (s) {
	case SDPX_SKIP_NONE: return "usable";
	case SDPX_SKIP_PARSE: return "unparsable or unknown suite";
	case SDPX_SKIP_SUITE: return "suite not allowed";
	case SDPX_SKIP_MKI: return "MKI not usable";
	case SDPX_SKIP_LIFETIME: return "key lifetime above 2^48 packets";
	case SDPX_SKIP_PARAM: return "session parameter not supported";
	}
	return "?";
}

enum sdpx_skip sdpx_check_crypto(rp_str value, const struct sdpx_crypto_opts *o,
	struct sdes_crypto *out)
{
	const struct sdes_suite_info *si;
	const struct sdes_key *k;
	enum sdpx_skip why = SDPX_SKIP_NONE;

	if (sdes_parse(value, out, NULL) != SDES_OK)
		return SDPX_SKIP_PARSE;
	si = sdes_suite_info(out->suite);
	k = &out->keys[0];
	if (!si || !si->supported)
		why = SDPX_SKIP_SUITE;
	/* mediad takes one key per direction and an MKI of up to 4 bytes. */
	else if (out->n_keys != 1 || (k->has_mki && (!o || !o->allow_mki || k->mki_len > 4)))
		why = SDPX_SKIP_MKI;
	/* Any lifetime RFC 4568 allows is usable: it binds the key's
	 * sender, who rekeys with a new offer (re-INVITE/UPDATE), which we
	 * relay. Above 2^48 packets no SRTP key may go (RFC 3711 9.2). */
	else if (sdes_key_lifetime(k) > SDES_LIFETIME_MAX)
		why = SDPX_SKIP_LIFETIME;
	else if (out->unencrypted_srtp || out->unencrypted_srtcp ||
		 out->unauthenticated_srtp || (out->has_kdr && out->kdr != 0) ||
		 out->n_fec_keys > 0)
		why = SDPX_SKIP_PARAM;
	else {
		/* RFC 4568 §6.3.7: an unknown parameter is ignorable only if
		 * it starts with '-'. */
		for (unsigned i = 0; i < out->n_unknown; i++) {
			if (out->unknown[i].n == 0 || out->unknown[i].p[0] != '-') {
				why = SDPX_SKIP_PARAM;
				break;
			}
		}
	}
	if (why != SDPX_SKIP_NONE)
		sdes_crypto_wipe(out);
	return why;
}

int sdpx_pick_crypto(const struct sdpx_stream *s, const enum sdes_suite *prefs,
	unsigned nprefs, const struct sdpx_crypto_opts *o, struct sdes_crypto *out)
{
	unsigned best_rank = ~0u;
	int best = -1;
	struct sdes_crypto tmp;

	for (unsigned i = 0; i < s->ncrypto; i++) {
		unsigned rank = ~0u;
		if (sdpx_check_crypto(s->crypto[i], o, &tmp) != SDPX_SKIP_NONE)
			continue;
		if (!prefs && sdes_suite_info(tmp.suite)->encrypts)
			rank = 0;
		for (unsigned j = 0; prefs && j < nprefs; j++) {
			if (prefs[j] == tmp.suite) {
				rank = j;
				break;
			}
		}
		sdes_crypto_wipe(&tmp);
		if (rank < best_rank) {
			best_rank = rank;
			best = (int)i;
		}
	}
	if (best < 0)
		return SDPX_E_NOCRYPTO;
	if (sdpx_check_crypto(s->crypto[best], o, out) != SDPX_SKIP_NONE)
		return SDPX_E_NOCRYPTO;
	return SDPX_OK;
}

static const char *const drop_attrs[] = {
	"crypto", "rtcp", "rtcp-mux", "candidate", "remote-candidates",
	"ice-ufrag", "ice-pwd", "ice-options", "ice-lite", "end-of-candidates",
	"fingerprint", "setup",
};

/* An sdp edit's failure as ours: out of arena memory stays that. */
static int edit_err(int rc)
{
	return rc == SDP_E_NOMEM ? SDPX_E_NOMEM : SDPX_E_EDIT;
}

static int write_stream(struct sdp *s, struct sdpx_stream *st, const struct sdpx_out *o)
{
	char buf[SDES_FORMAT_MAX];
	size_t n;
	int rc = 0;

	if (!o->addr && !o->disable)
		return SDPX_OK; /* untouched */
	/* Keys and the peer's transport addresses never pass through, not
	 * even on a refused stream. */
	for (size_t i = 0; i < sizeof(drop_attrs) / sizeof(drop_attrs[0]); i++)
		if ((rc = sdp_remove_attrs(s, st->m, rp_str_cstr(drop_attrs[i]))) < 0)
			return edit_err(rc);
	if (o->disable)
		return (rc = sdp_media_set_port(s, st->m, 0)) < 0 ? edit_err(rc) : SDPX_OK;
	if (!o->keep_conn &&
	    (rc = sdp_set_conn(s, st->m, o->ip6 ? SDP_ADDR_IP6 : SDP_ADDR_IP4,
		rp_str_cstr(o->addr))) < 0)
		return edit_err(rc);
	if ((rc = sdp_media_set_port(s, st->m, o->port)) < 0)
		return edit_err(rc);
	if (o->proto && (rc = sdp_media_set_proto(s, st->m, rp_str_cstr(o->proto))) < 0)
		return edit_err(rc);
	/* RFC 5761: our relay port muxes RTCP when asked; a=rtcp (RFC 3605)
	 * names our RTCP port for a peer that does not mux. */
	if (o->rtcp_port) {
		char pb[8];
		int pn = snprintf(pb, sizeof(pb), "%u", (unsigned)o->rtcp_port);
		rp_str v = rp_str_make(pb, (size_t)pn);
		if ((rc = sdp_insert_attr(s, st->m, NULL, RP_STR_LIT("rtcp"), &v, NULL)) < 0)
			return edit_err(rc);
	}
	if (o->rtcp_mux &&
	    (rc = sdp_insert_attr(s, st->m, NULL, RP_STR_LIT("rtcp-mux"), NULL, NULL)) < 0)
		return edit_err(rc);
	rc = 0;
	for (unsigned i = 0; i < o->ncrypto && rc == 0; i++) {
		rp_str v;
		if (sdes_format(&o->crypto[i], buf, sizeof(buf), &n) != SDES_OK) {
			rc = SDPX_E_EDIT;
			break;
		}
		v = rp_str_make(buf, n);
		if ((rc = sdp_insert_attr(s, st->m, NULL, RP_STR_LIT("crypto"), &v, NULL)) < 0)
			rc = edit_err(rc);
	}
	explicit_bzero(buf, sizeof(buf));
	return rc < 0 ? rc : SDPX_OK;
}

int sdpx_write(struct sdpx_desc *d, const struct sdpx_out *outs, rp_arena *a,
	rp_str *body)
{
	struct sdp *s = d->sdp;
	bool session_conn_set = false;
	size_t len;
	char *p;
	int rc;

	for (unsigned i = 0; i < d->nstreams; i++) {
		if ((rc = write_stream(s, &d->s[i], &outs[i])) < 0)
			return rc;
		/* The session c= names the peer too: point it at the relay
		 * (the first relayed stream's family and address). */
		if (!session_conn_set && outs[i].addr && !outs[i].disable &&
		    !outs[i].keep_conn && sdp_session_conn(s)->line) {
			if ((rc = sdp_set_conn(s, NULL, outs[i].ip6 ? SDP_ADDR_IP6 : SDP_ADDR_IP4,
				rp_str_cstr(outs[i].addr))) < 0)
				return edit_err(rc);
			session_conn_set = true;
		}
	}
	/* Session-level ICE/DTLS attributes describe the peer, not us. */
	for (size_t i = 0; i < sizeof(drop_attrs) / sizeof(drop_attrs[0]); i++)
		if ((rc = sdp_remove_attrs(s, NULL, rp_str_cstr(drop_attrs[i]))) < 0)
			return edit_err(rc);
	len = sdp_serialized_len(s);
	p = rp_arena_alloc(a, len ? len : 1);
	if (!p)
		return SDPX_E_NOMEM;
	if (sdp_serialize(s, p, len, &len) < 0)
		return SDPX_E_EDIT;
	*body = rp_str_make(p, len);
	return SDPX_OK;
}
