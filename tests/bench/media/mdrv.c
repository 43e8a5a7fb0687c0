#include "mdrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "benc.h"
#include "ctl.h"
#include "rp_arena.h"
#include "rp_base64.h"
#include "rp_buf.h"
#include "rp_rand.h"
#include "rp_str.h"

#define SUITE "AES_CM_128_HMAC_SHA1_80"
#define CALL_TIMEOUT_MS 5000
#define NG_TRIES 3

enum kind { RAMPART, RTPENGINE };

struct mdrv {
	enum kind kind;
	ctl_client *cl;     /* rampart */
	int ng;             /* rtpengine: connected UDP socket */
	uint64_t cookie;
	rp_arena arena;
	uint8_t rx[65536];
};

static void reason_copy(rp_str s, char *why, size_t whysz)
{
	size_t n = s.n < whysz - 1 ? s.n : whysz - 1;

	memcpy(why, s.p, n);
	why[n] = '\0';
}

int mdrv_rampart_new(const char *ctl_path, struct mdrv **out)
{
	struct mdrv *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->kind = RAMPART;
	d->ng = -1;
	rc = ctl_client_connect(ctl_path, 256 * 1024, &d->cl);
	if (rc < 0) {
		free(d);
		return rc;
	}
	rp_arena_init(&d->arena, NULL, 0, 8u << 20);
	*out = d;
	return 0;
}

int mdrv_rtpengine_new(const char *ng_addr, struct mdrv **out)
{
	struct sockaddr_in a;
	char host[64];
	const char *colon = strrchr(ng_addr, ':');
	struct mdrv *d;
	int fd;

	if (!colon || (size_t)(colon - ng_addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, ng_addr, (size_t)(colon - ng_addr));
	host[colon - ng_addr] = '\0';
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || !a.sin_port)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->kind = RTPENGINE;
	d->ng = fd;
	rp_arena_init(&d->arena, NULL, 0, 8u << 20);
	*out = d;
	return 0;
}

void mdrv_free(struct mdrv *d)
{
	if (!d)
		return;
	if (d->cl)
		ctl_client_close(d->cl);
	if (d->ng >= 0)
		close(d->ng);
	rp_arena_fini(&d->arena);
	explicit_bzero(d->rx, sizeof(d->rx)); /* the last reply may hold a key */
	free(d);
}

const char *mdrv_name(const struct mdrv *d)
{
	return d->kind == RAMPART ? "rampart" : "rtpengine";
}

/* ---- rampart-mediad ---- */

static void put_srtp(rp_buf *b, const char *key, const uint8_t *k)
{
	benc_put_kv_dict(b, key);
	benc_put_kv_cstr(b, "suite", SUITE);
	benc_put_kv_str(b, "key", rp_str_make((const char *)k, 16));
	benc_put_kv_str(b, "salt", rp_str_make((const char *)k + 16, 14));
	benc_put_end(b);
}

static int rp_call(struct mdrv *d, const char *cmd, rp_buf *args, const benc_node **resp,
		   char *why, size_t whysz)
{
	int rc;

	rp_arena_reset(&d->arena);
	rc = ctl_call(d->cl, cmd, args, &d->arena, resp, CALL_TIMEOUT_MS);
	if (rc == -EREMOTEIO)
		reason_copy(ctl_resp_reason(*resp), why, whysz);
	else if (rc < 0)
		snprintf(why, whysz, "%s: %s", cmd, strerror(-rc));
	return rc;
}

static int rp_leg_port(const benc_node *r, const char *leg, uint16_t *port)
{
	const benc_node *l;
	int64_t v;

	if (benc_get_dict(r, leg, &l, NULL) < 0 || benc_get_int(l, "port", 1, 65535, &v, NULL) < 0)
		return -EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

static int rampart_create(struct mdrv *d, uint64_t tag, struct mdrv_call *c, char *why,
			  size_t whysz)
{
	const benc_node *r;
	rp_buf b;
	int64_t id;
	char label[40];
	int rc;

	if ((rc = rp_rand_bytes(c->relay_key, MDRV_KEYLEN)) < 0) {
		snprintf(why, whysz, "getrandom: %s", strerror(-rc));
		return rc;
	}
	snprintf(label, sizeof(label), "bench-%" PRIu64, tag);
	rp_buf_init(&b, 4096);
	benc_put_kv_cstr(&b, "label", label);
	/* Long enough that no timeout fires inside a benchmark. */
	benc_put_kv_int(&b, "media-timeout", 3600);
	benc_put_kv_int(&b, "delete-timeout", 3600);
	rc = rp_call(d, "session.create", &b, &r, why, whysz);
	rp_buf_free(&b);
	if (rc < 0)
		return rc;
	if (benc_get_int(r, "session", 1, INT64_MAX, &id, NULL) < 0 ||
	    rp_leg_port(r, "a", &c->relay_port[0]) < 0 || rp_leg_port(r, "b", &c->relay_port[1]) < 0) {
		snprintf(why, whysz, "session.create: reply lacks session/a.port/b.port");
		return -EBADMSG;
	}
	c->id = (uint64_t)id;
	for (int leg = 0; leg < 2; leg++) {
		rp_buf_init(&b, 4096);
		rp_buf_set_secure(&b, true); /* carries keys */
		benc_put_kv_int(&b, "session", id);
		benc_put_kv_cstr(&b, "leg", leg ? "b" : "a");
		benc_put_kv_cstr(&b, "address", "127.0.0.1");
		benc_put_kv_int(&b, "port", c->gen_port[leg]);
		benc_put_kv_cstr(&b, "latch", "on");
		if (leg == 0) {
			put_srtp(&b, "srtp-in", c->a_key);
			put_srtp(&b, "srtp-out", c->relay_key);
		}
		rc = rp_call(d, "leg.update", &b, &r, why, whysz);
		rp_buf_free(&b);
		if (rc < 0) {
			mdrv_call_delete(d, c);
			return rc;
		}
	}
	return 0;
}

static int rampart_delete(struct mdrv *d, struct mdrv_call *c)
{
	const benc_node *r;
	char why[200];
	rp_buf b;
	int rc;

	rp_buf_init(&b, 256);
	benc_put_kv_int(&b, "session", (int64_t)c->id);
	rc = rp_call(d, "session.delete", &b, &r, why, sizeof(why));
	rp_buf_free(&b);
	return rc;
}

static uint64_t counter(const benc_node *r, const char *key)
{
	int64_t v = 0;

	benc_get_int(r, key, 0, INT64_MAX, &v, NULL);
	return (uint64_t)v;
}

int mdrv_counters(struct mdrv *d, struct mdrv_counters *out)
{
	static const char *drops[] = { "auth-failures", "replay-drops", "parse-errors", "malformed",
				       "no-remote-drops", "protect-errors" };
	const benc_node *r;
	char why[200];
	int rc;

	if (d->kind != RAMPART)
		return -ENOTSUP;
	if ((rc = rp_call(d, "stats", NULL, &r, why, sizeof(why))) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->pkts_in = counter(r, "packets-in");
	out->pkts_out = counter(r, "packets-out");
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
		out->drops += counter(r, drops[i]);
	out->send_errors = counter(r, "send-errors");
	out->rx_overflows = counter(r, "rx-buffer-overflows");
	return 0;
}

/* ---- rtpengine ng ---- */

/* Sends "<cookie> <dict>" and waits for the reply with that cookie,
 * resending the same cookie on silence (rtpengine answers a repeated
 * cookie from its cache, so a retry does not redo the command). */
static int ng_call(struct mdrv *d, rp_buf *dict, const benc_node **resp, char *why, size_t whysz)
{
	char ck[32];
	rp_buf msg;
	int n = snprintf(ck, sizeof(ck), "b%" PRIu64 " ", ++d->cookie);
	int rc = -ETIMEDOUT;

	rp_buf_init(&msg, 65536);
	rp_buf_set_secure(&msg, true); /* an offer carries the caller's key */
	rp_buf_append(&msg, ck, (size_t)n);
	rp_buf_append_str(&msg, rp_buf_str(dict));
	if (rp_buf_error(&msg)) {
		rp_buf_free(&msg);
		snprintf(why, whysz, "ng request too large");
		return -EMSGSIZE;
	}
	for (int t = 0; t < NG_TRIES && rc == -ETIMEDOUT; t++) {
		rp_str m = rp_buf_str(&msg);
		if (send(d->ng, m.p, m.n, 0) < 0) {
			rc = -errno;
			break;
		}
		for (int w = 0; w < 100; w++) { /* skip stale replies; bounded */
			struct pollfd p = { .fd = d->ng, .events = POLLIN };
			if (poll(&p, 1, CALL_TIMEOUT_MS / NG_TRIES) <= 0)
				break;
			ssize_t r = recv(d->ng, d->rx, sizeof(d->rx), 0);
			if (r < 0) {
				rc = -errno;
				break;
			}
			if ((size_t)r < (size_t)n || memcmp(d->rx, ck, (size_t)n) != 0)
				continue;
			struct benc_error be;
			benc_node *root;
			rp_arena_reset(&d->arena);
			if (benc_decode((const char *)d->rx + n, (size_t)r - (size_t)n, &d->arena, NULL,
					&root, NULL, &be) != BENC_OK) {
				snprintf(why, whysz, "ng reply is not bencode");
				rc = -EBADMSG;
				break;
			}
			*resp = root;
			if (!benc_str_eq(benc_dict_get(root, "result"), "ok")) {
				rp_str s = RP_STR_NULL;
				benc_get_str(root, "error-reason", &s, NULL);
				reason_copy(s.n ? s : RP_STR_LIT("result is not ok"), why, whysz);
				rc = -EREMOTEIO;
			} else {
				rc = 0;
			}
			break;
		}
	}
	if (rc == -ETIMEDOUT)
		snprintf(why, whysz, "no ng reply from rtpengine");
	rp_buf_free(&msg);
	return rc;
}

/* The port of the first m= line of an SDP. */
static int sdp_port(rp_str sdp, uint16_t *port)
{
	for (size_t i = 0; i + 8 < sdp.n; i++) {
		if ((i == 0 || sdp.p[i - 1] == '\n') && memcmp(sdp.p + i, "m=audio ", 8) == 0) {
			unsigned v = 0;
			size_t j = i + 8;
			for (; j < sdp.n && sdp.p[j] >= '0' && sdp.p[j] <= '9' && v < 70000; j++)
				v = v * 10 + (unsigned)(sdp.p[j] - '0');
			if (j == i + 8 || v == 0 || v > 65535)
				return -EBADMSG;
			*port = (uint16_t)v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* The inline key of the first a=crypto line with our suite. */
static int sdp_key(rp_str sdp, uint8_t key[MDRV_KEYLEN])
{
	static const char want[] = "a=crypto:";
	static const char suite[] = " " SUITE " inline:";

	for (size_t i = 0; i + sizeof(want) < sdp.n; i++) {
		if ((i && sdp.p[i - 1] != '\n') || memcmp(sdp.p + i, want, sizeof(want) - 1))
			continue;
		size_t j = i + sizeof(want) - 1;
		while (j < sdp.n && sdp.p[j] >= '0' && sdp.p[j] <= '9')
			j++;
		if (sdp.n - j < sizeof(suite) - 1 || memcmp(sdp.p + j, suite, sizeof(suite) - 1))
			continue;
		j += sizeof(suite) - 1;
		size_t e = j;
		while (e < sdp.n && sdp.p[e] != '|' && sdp.p[e] != ' ' && sdp.p[e] != '\r' &&
		       sdp.p[e] != '\n')
			e++;
		uint8_t tmp[64];
		size_t n = 0;
		int rc = rp_base64_decode(rp_str_make(sdp.p + j, e - j), tmp, sizeof(tmp), &n, NULL);
		if (rc == 0 && n == MDRV_KEYLEN)
			memcpy(key, tmp, MDRV_KEYLEN);
		explicit_bzero(tmp, sizeof(tmp));
		return rc < 0 ? rc : n == MDRV_KEYLEN ? 0 : -EBADMSG;
	}
	return -ENOENT;
}

static int rtpe_create(struct mdrv *d, uint64_t tag, struct mdrv_call *c, char *why, size_t whysz)
{
	char sdp[1024], b64[64];
	size_t bl;
	const benc_node *r;
	rp_str s;
	rp_buf b;
	int rc;

	snprintf(c->call_id, sizeof(c->call_id), "rpbench-%" PRIu64, tag);
	if (rp_base64_encode(c->a_key, MDRV_KEYLEN, b64, sizeof(b64) - 1, &bl) < 0)
		return -EINVAL;
	b64[bl] = '\0';
	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- %" PRIu64 " 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
		 "a=crypto:1 " SUITE " inline:%s\r\na=sendrecv\r\n",
		 tag, c->gen_port[0], b64);
	explicit_bzero(b64, sizeof(b64));
	rp_buf_init(&b, 8192);
	rp_buf_set_secure(&b, true);
	benc_put_dict(&b);
	benc_put_kv_cstr(&b, "command", "offer");
	benc_put_kv_cstr(&b, "call-id", c->call_id);
	benc_put_kv_cstr(&b, "from-tag", "ft");
	benc_put_kv_cstr(&b, "sdp", sdp);
	benc_put_kv_cstr(&b, "transport-protocol", "RTP/AVP");
	benc_put_kv_cstr(&b, "ICE", "remove");
	benc_put_kv_list(&b, "flags");
	benc_put_cstr(&b, "pad-crypto");
	benc_put_end(&b);
	benc_put_kv_list(&b, "replace");
	benc_put_cstr(&b, "origin");
	benc_put_cstr(&b, "session-connection");
	benc_put_end(&b);
	benc_put_end(&b);
	explicit_bzero(sdp, sizeof(sdp));
	rc = ng_call(d, &b, &r, why, whysz);
	rp_buf_free(&b);
	if (rc < 0)
		return rc;
	if (benc_get_str(r, "sdp", &s, NULL) < 0 || sdp_port(s, &c->relay_port[1]) < 0) {
		snprintf(why, whysz, "offer reply: no sdp / m= port");
		mdrv_call_delete(d, c);
		return -EBADMSG;
	}

	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- %" PRIu64 " 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
		 tag + 1, c->gen_port[1]);
	rp_buf_init(&b, 8192);
	benc_put_dict(&b);
	benc_put_kv_cstr(&b, "command", "answer");
	benc_put_kv_cstr(&b, "call-id", c->call_id);
	benc_put_kv_cstr(&b, "from-tag", "ft");
	benc_put_kv_cstr(&b, "to-tag", "tt");
	benc_put_kv_cstr(&b, "sdp", sdp);
	benc_put_kv_cstr(&b, "ICE", "remove");
	benc_put_kv_list(&b, "flags");
	benc_put_cstr(&b, "pad-crypto");
	benc_put_end(&b);
	benc_put_kv_list(&b, "replace");
	benc_put_cstr(&b, "origin");
	benc_put_cstr(&b, "session-connection");
	benc_put_end(&b);
	benc_put_end(&b);
	rc = ng_call(d, &b, &r, why, whysz);
	rp_buf_free(&b);
	if (rc < 0) {
		mdrv_call_delete(d, c);
		return rc;
	}
	if (benc_get_str(r, "sdp", &s, NULL) < 0 || sdp_port(s, &c->relay_port[0]) < 0 ||
	    sdp_key(s, c->relay_key) < 0) {
		snprintf(why, whysz, "answer reply: no sdp / m= port / a=crypto " SUITE);
		mdrv_call_delete(d, c);
		return -EBADMSG;
	}
	return 0;
}

static int rtpe_delete(struct mdrv *d, struct mdrv_call *c)
{
	const benc_node *r;
	char why[200];
	rp_buf b;
	int rc;

	rp_buf_init(&b, 1024);
	benc_put_dict(&b);
	benc_put_kv_cstr(&b, "command", "delete");
	benc_put_kv_cstr(&b, "call-id", c->call_id);
	benc_put_kv_cstr(&b, "from-tag", "ft");
	benc_put_end(&b);
	rc = ng_call(d, &b, &r, why, sizeof(why));
	rp_buf_free(&b);
	return rc;
}

int mdrv_call_create(struct mdrv *d, uint64_t tag, struct mdrv_call *c, char *why, size_t whysz)
{
	why[0] = '\0';
	return d->kind == RAMPART ? rampart_create(d, tag, c, why, whysz)
				  : rtpe_create(d, tag, c, why, whysz);
}

int mdrv_call_delete(struct mdrv *d, struct mdrv_call *c)
{
	return d->kind == RAMPART ? rampart_delete(d, c) : rtpe_delete(d, c);
}
