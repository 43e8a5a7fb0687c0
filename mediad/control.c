#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "msrtp.h"
#include "pool.h"
#include "rp_log.h"
#include "rp_version.h"
#include "worker.h"

#define MAX_WORKERS 256
#define EVQ_MAX 4096 /* events kept when no one reads them fast enough */

struct evq_item {
	struct mevent ev;
	struct evq_item *next;
};

struct mcontrol {
	struct mcfg cfg;
	struct mpool *pool;
	struct mworker *w[MAX_WORKERS];
	unsigned nw;
	uint64_t next_seq;
	uint64_t port_exhausted;
	/* worker -> control events */
	pthread_mutex_t evlock;
	struct evq_item *evhead, *evtail;
	unsigned evcount;
	uint64_t ev_dropped;
	int ev_fd;
	void *server; /* the ctl server, see the transport section below */
};

/* ---------------- events ---------------- */

static void on_event(void *ctx, const struct mevent *ev)
{
	struct mcontrol *c = ctx;
	struct evq_item *it = malloc(sizeof(*it));
	uint64_t one = 1;

	pthread_mutex_lock(&c->evlock);
	if (!it || c->evcount >= EVQ_MAX) {
		c->ev_dropped++;
		pthread_mutex_unlock(&c->evlock);
		free(it);
		return;
	}
	it->ev = *ev;
	it->next = NULL;
	if (c->evtail)
		c->evtail->next = it;
	else
		c->evhead = it;
	c->evtail = it;
	c->evcount++;
	pthread_mutex_unlock(&c->evlock);
	if (write(c->ev_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rp_warn("control: eventfd write: %s", strerror(errno));
}

static struct evq_item *ev_pop(struct mcontrol *c)
{
	struct evq_item *it;

	pthread_mutex_lock(&c->evlock);
	it = c->evhead;
	if (it) {
		c->evhead = it->next;
		if (!c->evhead)
			c->evtail = NULL;
		c->evcount--;
	}
	pthread_mutex_unlock(&c->evlock);
	return it;
}

/* ---------------- helpers ---------------- */

static void put_counters(void *ctx, const char *name, uint64_t v)
{
	rp_buf *b = ctx;

	benc_put_kv_int(b, name, (int64_t)v);
}

static void put_leg_stats(rp_buf *b, const struct mstats_leg *st)
{
	benc_put_dict(b);
	mstats_leg_visit(st, put_counters, b);
	benc_put_end(b);
}

static const struct mcfg_addr *adv_addr(const struct mcontrol *c, int family)
{
	if (family == AF_INET)
		return c->cfg.advertise4.family ? &c->cfg.advertise4 : &c->cfg.listen4;
	return c->cfg.advertise6.family ? &c->cfg.advertise6 : &c->cfg.listen6;
}

static const char *family_name(int f)
{
	return f == AF_INET6 ? "IP6" : "IP4";
}

static struct mworker *worker_of(struct mcontrol *c, uint64_t id)
{
	return c->w[id % c->nw];
}

static int field_error(const struct benc_field_err *fe, char *why, size_t whysz, int rc)
{
	benc_field_err_fmt(fe, why, whysz);
	return rc;
}

/* Optional field: -ENOENT means "absent", which is fine. */
static int opt_int(const benc_node *req, const char *key, int64_t min, int64_t max,
	int64_t *out, bool *have, char *why, size_t whysz)
{
	struct benc_field_err fe;
	int rc = benc_get_int(req, key, min, max, out, &fe);

	*have = rc == 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return field_error(&fe, why, whysz, rc);
	return 0;
}

static int opt_str(const benc_node *req, const char *key, rp_str *out, bool *have,
	char *why, size_t whysz)
{
	struct benc_field_err fe;
	int rc = benc_get_str(req, key, out, &fe);

	*have = rc == 0;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return field_error(&fe, why, whysz, rc);
	return 0;
}

static int get_session_id(const benc_node *req, uint64_t *id, char *why, size_t whysz)
{
	struct benc_field_err fe;
	int64_t v;
	int rc = benc_get_int(req, "session", 1, INT64_MAX, &v, &fe);

	if (rc < 0)
		return field_error(&fe, why, whysz, rc);
	*id = (uint64_t)v;
	return 0;
}

static int parse_family(rp_str s, const struct mcontrol *c, int *out, const char *field,
	char *why, size_t whysz)
{
	if (rp_str_caseeq_cstr(s, "IP4") || rp_str_caseeq_cstr(s, "ipv4"))
		*out = AF_INET;
	else if (rp_str_caseeq_cstr(s, "IP6") || rp_str_caseeq_cstr(s, "ipv6"))
		*out = AF_INET6;
	else {
		snprintf(why, whysz, "field '%s' must be IP4 or IP6", field);
		return -EINVAL;
	}
	if ((*out == AF_INET && !c->cfg.listen4.family) ||
	    (*out == AF_INET6 && !c->cfg.listen6.family)) {
		snprintf(why, whysz, "field '%s': no %s listen address configured", field,
			family_name(*out));
		return -EAFNOSUPPORT;
	}
	return 0;
}

static void put_addr(rp_buf *b, const char *key, const union maddr *a)
{
	char s[80];

	if (!a->sa.sa_family)
		return;
	benc_put_kv_cstr(b, key, maddr_str(a, s, sizeof(s)));
}

static void put_info(struct mcontrol *c, rp_buf *b, const struct msess_info *in)
{
	benc_put_kv_int(b, "session", (int64_t)in->id);
	if (in->label[0])
		benc_put_kv_cstr(b, "label", in->label);
	benc_put_kv_int(b, "idle-ms", (int64_t)in->idle_ms);
	benc_put_kv_int(b, "age-ms", (int64_t)in->age_ms);
	benc_put_kv_int(b, "timeout-reported", in->timeout_reported);
	for (int i = 0; i < 2; i++) {
		const struct mcfg_addr *adv = adv_addr(c, in->leg[i].family);
		benc_put_kv_dict(b, i ? "b" : "a");
		benc_put_kv_cstr(b, "family", family_name(in->leg[i].family));
		benc_put_kv_cstr(b, "address", adv->text);
		benc_put_kv_int(b, "port", in->leg[i].port);
		put_addr(b, "remote", &in->leg[i].remote_rtp);
		if (!in->leg[i].rtcp_mux)
			put_addr(b, "remote-rtcp", &in->leg[i].remote_rtcp);
		benc_put_kv_int(b, "latched", in->leg[i].latched_rtp);
		benc_put_kv_cstr(b, "latch", mleg_latch_name(in->leg[i].latch));
		benc_put_kv_int(b, "rtcp-mux", in->leg[i].rtcp_mux);
		benc_put_kv_int(b, "srtp-in", in->leg[i].srtp_in);
		benc_put_kv_int(b, "srtp-out", in->leg[i].srtp_out);
		benc_put_str(b, RP_STR_LIT("stats"));
		put_leg_stats(b, &in->leg[i].st);
		benc_put_end(b);
	}
}

/* ---------------- commands ---------------- */

static int cmd_ping(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	benc_put_kv_cstr(out, "name", "rampart-mediad");
	benc_put_kv_cstr(out, "software-version", RAMPART_VERSION);
	benc_put_kv_cstr(out, "engine", mworker_engine_name(c->w[0]));
	return 0;
}

static int alloc_leg(struct mcontrol *c, int family, bool rtcp, struct mpool_ports *pp)
{
	union maddr a;
	const struct mcfg_addr *l = family == AF_INET ? &c->cfg.listen4 : &c->cfg.listen6;

	memset(&a, 0, sizeof(a));
	a.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		a.in.sin_addr = l->u.v4;
	else
		a.in6.sin6_addr = l->u.v6;
	return mpool_alloc(c->pool, &a.sa, rtcp, pp);
}

static void free_leg(struct mcontrol *c, struct mpool_ports *pp)
{
	close(pp->fd_rtp);
	if (pp->fd_rtcp >= 0)
		close(pp->fd_rtcp);
	mpool_release(c->pool, pp->port);
}

static int cmd_create(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	int fam[2], rc;
	rp_str s, label = RP_STR_NULL;
	bool have, mux = false;
	int64_t v, mt = c->cfg.media_timeout, dt = c->cfg.delete_timeout;
	char lbuf[48] = "";
	struct mpool_ports pp[2];
	struct msess *sess;
	struct mcmd cmd;
	uint64_t id;
	unsigned widx;

	fam[0] = fam[1] = c->cfg.listen4.family ? AF_INET : AF_INET6;
	if ((rc = opt_str(req, "family", &s, &have, why, whysz)) < 0)
		return rc;
	if (have && (rc = parse_family(s, c, &fam[0], "family", why, whysz)) < 0)
		return rc;
	fam[1] = fam[0];
	if ((rc = opt_str(req, "family-a", &s, &have, why, whysz)) < 0)
		return rc;
	if (have && (rc = parse_family(s, c, &fam[0], "family-a", why, whysz)) < 0)
		return rc;
	if ((rc = opt_str(req, "family-b", &s, &have, why, whysz)) < 0)
		return rc;
	if (have && (rc = parse_family(s, c, &fam[1], "family-b", why, whysz)) < 0)
		return rc;
	if ((rc = opt_int(req, "rtcp-mux", 0, 1, &v, &have, why, whysz)) < 0)
		return rc;
	if (have)
		mux = v != 0;
	if ((rc = opt_int(req, "media-timeout", 1, 86400, &mt, &have, why, whysz)) < 0)
		return rc;
	if ((rc = opt_int(req, "delete-timeout", 1, 86400, &dt, &have, why, whysz)) < 0)
		return rc;
	if (dt < mt) {
		snprintf(why, whysz, "field 'delete-timeout' is shorter than 'media-timeout'");
		return -EINVAL;
	}
	if ((rc = opt_str(req, "label", &label, &have, why, whysz)) < 0)
		return rc;
	if (have && rp_str_copy(label, lbuf, sizeof(lbuf)) < 0) {
		snprintf(why, whysz, "field 'label' is longer than %zu bytes", sizeof(lbuf) - 1);
		return -EINVAL;
	}
	if (have && memchr(label.p, '\0', label.n)) {
		snprintf(why, whysz, "field 'label' contains a NUL byte");
		return -EINVAL;
	}

	/* Everything is valid: now take resources. */
	if ((rc = alloc_leg(c, fam[0], !mux, &pp[0])) < 0)
		goto err_ports;
	if ((rc = alloc_leg(c, fam[1], !mux, &pp[1])) < 0) {
		free_leg(c, &pp[0]);
		goto err_ports;
	}
	/* The shard is chosen by port; the id carries it so later commands
	 * go straight to the right worker. */
	widx = (pp[0].port / 2u) % c->nw;
	id = ++c->next_seq * c->nw + widx;
	rc = msess_new(id, lbuf, mworker_now_ms(), &sess);
	if (rc < 0) {
		free_leg(c, &pp[0]);
		free_leg(c, &pp[1]);
		snprintf(why, whysz, "out of memory");
		return rc;
	}
	for (int i = 0; i < 2; i++)
		msess_leg_set_sockets(sess, i, fam[i], pp[i].port, pp[i].fd_rtp, pp[i].fd_rtcp);
	sess->media_timeout_ms = (uint32_t)mt * 1000u;
	sess->delete_timeout_ms = (uint32_t)dt * 1000u;
	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = MCMD_ADD;
	cmd.sess = sess; /* the worker's from now on, even on failure */
	rc = mworker_call(c->w[widx], &cmd);
	if (rc < 0) {
		snprintf(why, whysz, "worker refused the session: %s", strerror(-rc));
		return rc;
	}
	benc_put_kv_int(out, "session", (int64_t)id);
	for (int i = 0; i < 2; i++) {
		benc_put_kv_dict(out, i ? "b" : "a");
		benc_put_kv_cstr(out, "family", family_name(fam[i]));
		benc_put_kv_cstr(out, "address", adv_addr(c, fam[i])->text);
		benc_put_kv_int(out, "port", pp[i].port);
		if (!mux)
			benc_put_kv_int(out, "rtcp-port", pp[i].port + 1);
		benc_put_end(out);
	}
	rp_info("session %" PRIu64 " created%s%s: A port %u, B port %u", id,
		lbuf[0] ? " for " : "", lbuf, pp[0].port, pp[1].port);
	return 0;
err_ports:
	if (rc == -ENOSPC) {
		c->port_exhausted++;
		snprintf(why, whysz, "no free ports: port range %u-%u exhausted",
			c->cfg.port_min, c->cfg.port_max);
	} else {
		snprintf(why, whysz, "cannot bind a media port: %s", strerror(-rc));
	}
	return rc;
}

/* srtp-in / srtp-out: a dict {suite, key, salt[, mki]} or the string "none". */
static int parse_srtp(const benc_node *req, const char *field, enum msrtp_dir dir,
	bool *have, struct msrtp **ctx, char *why, size_t whysz)
{
	const benc_node *n = benc_dict_get(req, field);
	struct benc_field_err fe;
	struct msrtp_params p;
	rp_str suite, key, salt, mki = RP_STR_NULL;
	int rc;

	*have = false;
	*ctx = NULL;
	if (!n)
		return 0;
	*have = true;
	if (n->type == BENC_STR && rp_str_eq_cstr(n->u.s, "none"))
		return 0;
	if (n->type != BENC_DICT) {
		snprintf(why, whysz, "field '%s' must be a dictionary or \"none\"", field);
		return -EINVAL;
	}
	if ((rc = benc_get_str(n, "suite", &suite, &fe)) < 0 ||
	    (rc = benc_get_str(n, "key", &key, &fe)) < 0 ||
	    (rc = benc_get_str(n, "salt", &salt, &fe)) < 0) {
		char sub[160];
		benc_field_err_fmt(&fe, sub, sizeof(sub));
		snprintf(why, whysz, "%s: %s", field, sub);
		return rc;
	}
	rc = benc_get_str(n, "mki", &mki, &fe);
	if (rc < 0 && rc != -ENOENT) {
		snprintf(why, whysz, "field '%s.mki' must be a string", field);
		return rc;
	}
	memset(&p, 0, sizeof(p));
	if (msrtp_suite_from_name(suite.p, suite.n, &p.suite) < 0) {
		snprintf(why, whysz, "field '%s.suite': unknown suite '%.*s'", field,
			(int)(suite.n > 40 ? 40 : suite.n), suite.p);
		return -EINVAL;
	}
	if (!msrtp_suite_supported(p.suite)) {
		snprintf(why, whysz, "field '%s.suite': %s is not supported by this build",
			field, msrtp_suite_name(p.suite));
		return -EOPNOTSUPP;
	}
	if (key.n != msrtp_key_len(p.suite)) {
		snprintf(why, whysz, "field '%s.key' must be %zu bytes for %s, not %zu", field,
			msrtp_key_len(p.suite), msrtp_suite_name(p.suite), key.n);
		return -EINVAL;
	}
	if (salt.n != msrtp_salt_len(p.suite)) {
		snprintf(why, whysz, "field '%s.salt' must be %zu bytes for %s, not %zu", field,
			msrtp_salt_len(p.suite), msrtp_suite_name(p.suite), salt.n);
		return -EINVAL;
	}
	if (mki.n > 4) {
		snprintf(why, whysz, "field '%s.mki' is longer than 4 bytes", field);
		return -EINVAL;
	}
	p.key = (const uint8_t *)key.p;
	p.salt = (const uint8_t *)salt.p;
	p.mki = mki.n ? (const uint8_t *)mki.p : NULL;
	p.mki_len = mki.n;
	rc = msrtp_new(dir, &p, ctx);
	if (rc < 0) {
		snprintf(why, whysz, "field '%s': SRTP context: %s", field, strerror(-rc));
		return rc;
	}
	return 0;
}

static int parse_remote(const benc_node *req, const char *afield, const char *pfield,
	bool need_addr, const union maddr *base, union maddr *out, bool *have,
	char *why, size_t whysz)
{
	rp_str s;
	int64_t port;
	bool ha, hp;
	struct mcfg_addr ip;
	int rc;

	*have = false;
	if ((rc = opt_str(req, afield, &s, &ha, why, whysz)) < 0)
		return rc;
	if ((rc = opt_int(req, pfield, 1, 65535, &port, &hp, why, whysz)) < 0)
		return rc;
	if (!ha && !hp)
		return 0;
	if (!hp) {
		snprintf(why, whysz, "field '%s' needs '%s'", afield, pfield);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (ha) {
		if (mcfg_addr_parse(s.p, s.n, &ip) < 0) {
			snprintf(why, whysz, "field '%s' is not an IP address", afield);
			return -EINVAL;
		}
	} else if (need_addr || !base || !base->sa.sa_family) {
		snprintf(why, whysz, "field '%s' needs '%s'", pfield, afield);
		return -EINVAL;
	} else {
		*out = *base;
		if (out->sa.sa_family == AF_INET)
			out->in.sin_port = htons((uint16_t)port);
		else
			out->in6.sin6_port = htons((uint16_t)port);
		*have = true;
		return 0;
	}
	out->sa.sa_family = (sa_family_t)ip.family;
	if (ip.family == AF_INET) {
		out->in.sin_addr = ip.u.v4;
		out->in.sin_port = htons((uint16_t)port);
	} else {
		out->in6.sin6_addr = ip.u.v6;
		out->in6.sin6_port = htons((uint16_t)port);
	}
	*have = true;
	return 0;
}

static int cmd_update(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	struct mcmd cmd;
	struct benc_field_err fe;
	rp_str s;
	bool have;
	int64_t v;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = MCMD_UPDATE;
	if ((rc = get_session_id(req, &cmd.id, why, whysz)) < 0)
		return rc;
	if ((rc = benc_get_str(req, "leg", &s, &fe)) < 0)
		return field_error(&fe, why, whysz, rc);
	if (rp_str_caseeq_cstr(s, "a"))
		cmd.leg = 0;
	else if (rp_str_caseeq_cstr(s, "b"))
		cmd.leg = 1;
	else {
		snprintf(why, whysz, "field 'leg' must be \"a\" or \"b\"");
		return -EINVAL;
	}
	if ((rc = parse_remote(req, "address", "port", true, NULL, &cmd.upd.remote, &have,
		     why, whysz)) < 0)
		return rc;
	if (have)
		cmd.upd.set |= MLEG_SET_REMOTE;
	if ((rc = parse_remote(req, "rtcp-address", "rtcp-port", false,
		     have ? &cmd.upd.remote : NULL, &cmd.upd.remote_rtcp, &have, why, whysz)) < 0)
		return rc;
	if (have)
		cmd.upd.set |= MLEG_SET_REMOTE_RTCP;
	if ((rc = opt_str(req, "latch", &s, &have, why, whysz)) < 0)
		return rc;
	if (have) {
		if (rp_str_eq_cstr(s, "off"))
			cmd.upd.latch = MLEG_LATCH_OFF;
		else if (rp_str_eq_cstr(s, "on"))
			cmd.upd.latch = MLEG_LATCH_ON;
		else if (rp_str_eq_cstr(s, "strict"))
			cmd.upd.latch = MLEG_LATCH_STRICT;
		else {
			snprintf(why, whysz, "field 'latch' must be off, on or strict");
			return -EINVAL;
		}
		cmd.upd.set |= MLEG_SET_LATCH;
	}
	if ((rc = opt_int(req, "rtcp-mux", 0, 1, &v, &have, why, whysz)) < 0)
		return rc;
	if (have) {
		cmd.upd.rtcp_mux = v != 0;
		cmd.upd.set |= MLEG_SET_MUX;
	}
	/* Crypto last: the contexts are the only thing to undo on error. */
	if ((rc = parse_srtp(req, "srtp-in", MSRTP_UNPROTECT, &have, &cmd.upd.in, why, whysz)) < 0)
		return rc;
	if (have)
		cmd.upd.set |= MLEG_SET_IN;
	if ((rc = parse_srtp(req, "srtp-out", MSRTP_PROTECT, &have, &cmd.upd.out, why, whysz)) < 0) {
		cmd.upd.in = msrtp_free(cmd.upd.in);
		return rc;
	}
	if (have)
		cmd.upd.set |= MLEG_SET_OUT;
	rc = mworker_call(worker_of(c, cmd.id), &cmd); /* contexts: the worker's now */
	if (rc == -ENOENT) {
		snprintf(why, whysz, "field 'session': no session %" PRIu64, cmd.id);
		return rc;
	}
	if (rc == -EAFNOSUPPORT) {
		snprintf(why, whysz, "field 'address': address family differs from leg %c's",
			cmd.leg ? 'b' : 'a');
		return rc;
	}
	if (rc < 0) {
		snprintf(why, whysz, "update failed: %s", strerror(-rc));
		return rc;
	}
	put_info(c, out, &cmd.info);
	return 0;
}

static int cmd_by_id(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz, enum mcmd_kind kind)
{
	struct mcmd cmd;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = kind;
	if ((rc = get_session_id(req, &cmd.id, why, whysz)) < 0)
		return rc;
	rc = mworker_call(worker_of(c, cmd.id), &cmd);
	if (rc == -ENOENT) {
		snprintf(why, whysz, "field 'session': no session %" PRIu64, cmd.id);
		return rc;
	}
	if (rc < 0) {
		snprintf(why, whysz, "failed: %s", strerror(-rc));
		return rc;
	}
	put_info(c, out, &cmd.info);
	if (kind == MCMD_DELETE)
		rp_info("session %" PRIu64 " deleted", cmd.id);
	return 0;
}

static int cmd_list(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	uint64_t total = 0;

	benc_put_kv_list(out, "sessions");
	for (unsigned i = 0; i < c->nw; i++) {
		struct mcmd cmd;
		int rc;

		memset(&cmd, 0, sizeof(cmd));
		cmd.kind = MCMD_LIST;
		rc = mworker_call(c->w[i], &cmd);
		if (rc < 0) {
			snprintf(why, whysz, "worker %u: %s", i, strerror(-rc));
			return rc;
		}
		for (size_t k = 0; k < cmd.nids; k++)
			benc_put_int(out, (int64_t)cmd.ids[k]);
		total += cmd.nids;
		free(cmd.ids);
	}
	benc_put_end(out);
	benc_put_kv_int(out, "count", (int64_t)total);
	return 0;
}

static int cmd_stats(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	struct mstats_total t;

	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < c->nw; i++) {
		struct mcmd cmd;

		memset(&cmd, 0, sizeof(cmd));
		cmd.kind = MCMD_STATS;
		mworker_call(c->w[i], &cmd);
		mstats_total_add(&t, &cmd.total);
	}
	t.port_exhausted = c->port_exhausted;
	benc_put_kv_cstr(out, "engine", mworker_engine_name(c->w[0]));
	benc_put_kv_int(out, "workers", c->nw);
	benc_put_kv_int(out, "ports-total", mpool_capacity(c->pool));
	benc_put_kv_int(out, "ports-in-use", mpool_in_use(c->pool));
	pthread_mutex_lock(&c->evlock);
	benc_put_kv_int(out, "events-dropped", (int64_t)c->ev_dropped);
	pthread_mutex_unlock(&c->evlock);
	mstats_total_visit(&t, put_counters, out);
	return 0;
}

struct mcontrol_cmd {
	const char *name;
	int (*fn)(struct mcontrol *, const benc_node *, rp_buf *, char *, size_t);
	enum mcmd_kind kind; /* for cmd_by_id */
	const char *usage;
	bool admin;          /* changes state */
};

static int cmd_query(struct mcontrol *c, const benc_node *req, rp_buf *out, char *w, size_t n)
{
	return cmd_by_id(c, req, out, w, n, MCMD_QUERY);
}

static int cmd_delete(struct mcontrol *c, const benc_node *req, rp_buf *out, char *w, size_t n)
{
	return cmd_by_id(c, req, out, w, n, MCMD_DELETE);
}

/* The one table: dispatch, help and docs/mediad.md follow it. */
static const struct mcontrol_cmd commands[] = {
	{ "ping", cmd_ping, 0, "-> name, software-version, engine (the envelope carries the protocol version)", false },
	{ "session.create", cmd_create, 0,
		"[label] [family|family-a|family-b IP4/IP6] [rtcp-mux 0/1] "
		"[media-timeout s] [delete-timeout s] -> session, a{address,port,rtcp-port}, b{...}",
		true },
	{ "leg.update", cmd_update, 0,
		"session, leg a/b, [address+port] [rtcp-address/rtcp-port] "
		"[srtp-in/srtp-out {suite,key,salt[,mki]} or \"none\"] [latch off/on/strict] "
		"[rtcp-mux 0/1] -> session state",
		true },
	{ "session.delete", cmd_delete, 0, "session -> final state and counters", true },
	{ "session.query", cmd_query, 0, "session -> state and counters", false },
	{ "session.list", cmd_list, 0, "-> sessions (ids), count", false },
	{ "stats", cmd_stats, 0, "-> global counters", false },
};

int mcontrol_dispatch(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	struct benc_field_err fe;
	rp_str name;
	int rc;

	if ((rc = benc_get_str(req, "command", &name, &fe)) < 0)
		return field_error(&fe, why, whysz, rc);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (rp_str_eq_cstr(name, commands[i].name))
			return commands[i].fn(c, req, out, why, whysz);
	snprintf(why, whysz, "unknown command '%.*s'", (int)(name.n > 40 ? 40 : name.n), name.p);
	return -ENOENT;
}

/* ---------------- transport ----------------
 *
 * SOCK_SEQPACKET: one bencode dict per datagram. This is a small local
 * server until common/ctl takes its place; it keeps the envelope of
 * docs/control-protocol.md: 'command' + 'cookie' in, 'cookie' + 'result'
 * (+ 'error-reason') out, events as {event, ...} to clients that sent
 * 'subscribe'. */

#define MSG_MAX 65536
#define MAX_CLIENTS 256
#define PROTO_VERSION 1

struct mclient {
	int fd;
	bool subscribed;
};

struct mserver {
	int lfd, epfd;
	struct mclient cl[MAX_CLIENTS];
	char rx[MSG_MAX];
};

static void client_close(struct mserver *s, struct mclient *cl)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	cl->fd = -1;
	cl->subscribed = false;
}

static void send_msg(struct mserver *s, struct mclient *cl, const rp_buf *b)
{
	/* A client that does not read gets dropped, never waited for: the
	 * control thread must not block on one client. */
	if (send(cl->fd, b->p, b->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		rp_warn("control: client fd %d: send: %s; closing", cl->fd, strerror(errno));
		client_close(s, cl);
	}
}

static void reply_error(rp_buf *b, const benc_node *cookie, const char *reason)
{
	benc_put_dict(b);
	if (cookie && cookie->type == BENC_STR)
		benc_put_kv_str(b, "cookie", cookie->u.s);
	benc_put_kv_cstr(b, "result", "error");
	benc_put_kv_cstr(b, "error-reason", reason);
	benc_put_end(b);
}

static void handle_request(struct mcontrol *c, struct mserver *s, struct mclient *cl,
	size_t n)
{
	char arena_mem[8192], why[256] = "";
	rp_arena a;
	benc_node *req = NULL;
	struct benc_error be;
	rp_buf out, fields;
	const benc_node *cookie = NULL, *ver;
	int rc;

	rp_arena_init(&a, arena_mem, sizeof(arena_mem), 1u << 20);
	rp_buf_init(&out, MSG_MAX);
	rp_buf_init(&fields, MSG_MAX);
	if (benc_decode(s->rx, n, &a, NULL, &req, NULL, &be) != BENC_OK) {
		char e[128];
		benc_error_fmt(&be, e, sizeof(e));
		snprintf(why, sizeof(why), "malformed bencode: %s", e);
		reply_error(&out, NULL, why);
		goto send;
	}
	if (req->type != BENC_DICT) {
		reply_error(&out, NULL, "a request must be a dictionary");
		goto send;
	}
	cookie = benc_dict_get(req, "cookie");
	if (!cookie || cookie->type != BENC_STR) {
		reply_error(&out, NULL, cookie ? "field 'cookie' must be a string"
					       : "missing field 'cookie'");
		goto send;
	}
	ver = benc_dict_get(req, "version");
	if (ver && (ver->type != BENC_INT || ver->u.i != PROTO_VERSION)) {
		snprintf(why, sizeof(why), "unsupported protocol version (this is %d)",
			PROTO_VERSION);
		reply_error(&out, cookie, why);
		goto send;
	}
	if (benc_str_eq(benc_dict_get(req, "command"), "subscribe")) {
		cl->subscribed = true;
		rc = 0;
	} else {
		rc = mcontrol_dispatch(c, req, &fields, why, sizeof(why));
	}
	if (rc == 0 && rp_buf_error(&fields) < 0) {
		snprintf(why, sizeof(why), "reply too large");
		rc = rp_buf_error(&fields);
	}
	if (rc < 0) {
		reply_error(&out, cookie, why[0] ? why : strerror(-rc));
		goto send;
	}
	benc_put_dict(&out);
	benc_put_kv_str(&out, "cookie", cookie->u.s);
	benc_put_kv_cstr(&out, "result", "ok");
	benc_put_kv_int(&out, "version", PROTO_VERSION);
	if (fields.len)
		benc_put_raw(&out, rp_buf_str(&fields));
	benc_put_end(&out);
send:
	if (rp_buf_error(&out) == 0)
		send_msg(s, cl, &out);
	/* Requests carry SRTP keys: do not leave them in our buffers. */
	explicit_bzero(s->rx, n);
	rp_arena_fini(&a);
	rp_buf_free(&out);
	rp_buf_free(&fields);
}

static void broadcast_events(struct mcontrol *c, struct mserver *s)
{
	struct evq_item *it;
	uint64_t v;

	if (read(c->ev_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rp_warn("control: eventfd read: %s", strerror(errno));
	while ((it = ev_pop(c))) {
		rp_buf b;

		rp_buf_init(&b, MSG_MAX);
		benc_put_dict(&b);
		benc_put_kv_cstr(&b, "event", "timeout");
		benc_put_kv_int(&b, "session", (int64_t)it->ev.id);
		if (it->ev.label[0])
			benc_put_kv_cstr(&b, "label", it->ev.label);
		benc_put_kv_int(&b, "idle-ms", (int64_t)it->ev.idle_ms);
		benc_put_kv_int(&b, "deleted", it->ev.deleted);
		benc_put_str(&b, RP_STR_LIT("a"));
		put_leg_stats(&b, &it->ev.leg[0]);
		benc_put_str(&b, RP_STR_LIT("b"));
		put_leg_stats(&b, &it->ev.leg[1]);
		benc_put_end(&b);
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (s->cl[i].fd >= 0 && s->cl[i].subscribed && !rp_buf_error(&b))
				send_msg(s, &s->cl[i], &b);
		rp_buf_free(&b);
		free(it);
	}
}

static int server_listen(struct mcontrol *c, struct mserver *s)
{
	struct sockaddr_un sun;
	struct stat st;
	struct epoll_event ev;
	const char *path = c->cfg.control_path;
	char dir[MCFG_PATH_MAX], *slash;
	int rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	/* Create the directory (e.g. /run/rampart) if it is missing. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			rp_err("control: mkdir %s: %s", dir, strerror(errno));
			return rc;
		}
	}
	/* Remove a stale socket, but never some other kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rp_err("control: %s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	s->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	if (bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, c->cfg.control_mode) < 0 || listen(s->lfd, 64) < 0) {
		rc = -errno;
		rp_err("control: %s: %s", path, strerror(errno));
		close(s->lfd);
		return rc;
	}
	if (c->cfg.control_group[0]) {
		struct group *g = getgrnam(c->cfg.control_group);
		if (!g || chown(path, (uid_t)-1, g->gr_gid) < 0) {
			rp_err("control: group '%s' for %s: %s", c->cfg.control_group, path,
				g ? strerror(errno) : "no such group");
			close(s->lfd);
			unlink(path);
			return -EINVAL;
		}
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		rc = -errno;
		close(s->lfd);
		return rc;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = UINT64_MAX;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
	ev.data.u64 = UINT64_MAX - 1;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->ev_fd, &ev);
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	return 0;
}

static void server_accept(struct mserver *s)
{
	for (int n = 0; n < 64; n++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev;
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < MAX_CLIENTS && s->cl[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			rp_warn("control: too many clients; refusing one");
			close(fd);
			continue;
		}
		s->cl[i].fd = fd;
		s->cl[i].subscribed = false;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)i;
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void server_client(struct mcontrol *c, struct mserver *s, struct mclient *cl)
{
	ssize_t n = recv(cl->fd, s->rx, sizeof(s->rx), MSG_TRUNC | MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(s, cl); /* gone (or crashed): nothing else changes */
		return;
	}
	if (n < 0)
		return;
	if ((size_t)n > sizeof(s->rx)) {
		rp_buf b;
		char why[96];

		explicit_bzero(s->rx, sizeof(s->rx));
		rp_buf_init(&b, 4096);
		snprintf(why, sizeof(why), "message of %zd bytes is over the %d-byte limit",
			n, MSG_MAX);
		reply_error(&b, NULL, why);
		send_msg(s, cl, &b);
		rp_buf_free(&b);
		return;
	}
	handle_request(c, s, cl, (size_t)n);
}

int mcontrol_run(struct mcontrol *c, volatile sig_atomic_t *stop)
{
	struct mserver *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	if ((rc = server_listen(c, s)) < 0) {
		free(s);
		return rc;
	}
	c->server = s;
	rp_notice("control socket %s ready", c->cfg.control_path);
	while (!*stop) {
		struct epoll_event ev[32];
		int n = epoll_wait(s->epfd, ev, 32, 500);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t k = ev[i].data.u64;
			if (k == UINT64_MAX)
				server_accept(s);
			else if (k == UINT64_MAX - 1)
				broadcast_events(c, s);
			else if (k < MAX_CLIENTS && s->cl[k].fd >= 0)
				server_client(c, s, &s->cl[k]);
		}
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			client_close(s, &s->cl[i]);
	close(s->epfd);
	close(s->lfd);
	unlink(c->cfg.control_path);
	c->server = NULL;
	free(s);
	return rc < 0 ? rc : 0;
}

/* ---------------- life cycle ---------------- */

int mcontrol_new(const struct mcfg *cfg, struct mcontrol **out)
{
	struct mcontrol *c = calloc(1, sizeof(*c));
	long ncpu;
	int rc;

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	pthread_mutex_init(&c->evlock, NULL);
	c->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->ev_fd < 0) {
		rc = -errno;
		goto err;
	}
	if ((rc = msrtp_global_init()) < 0) {
		rp_err("SRTP library initialisation failed");
		goto err;
	}
	if ((rc = mpool_new(cfg->port_min, cfg->port_max, &c->pool)) < 0) {
		rp_err("port range %u-%u: %s", cfg->port_min, cfg->port_max, strerror(-rc));
		goto err;
	}
	c->nw = cfg->workers;
	if (c->nw == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->nw = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (c->nw > MAX_WORKERS)
		c->nw = MAX_WORKERS;
	for (unsigned i = 0; i < c->nw; i++) {
		struct mworker_cfg wc = {
			.idx = i,
			.engine = cfg->engine,
			.ring_buffers = cfg->ring_buffers,
			.pool = c->pool,
			.on_event = on_event,
			.event_ctx = c,
		};
		if ((rc = mworker_new(&wc, &c->w[i])) < 0) {
			rp_err("worker %u: cannot start the %s engine: %s", i,
				mcfg_engine_name(cfg->engine), strerror(-rc));
			goto err;
		}
	}
	rp_notice("rampart-mediad %s: %u worker(s), engine %s, ports %u-%u on %s%s%s",
		RAMPART_VERSION, c->nw, mworker_engine_name(c->w[0]), cfg->port_min,
		cfg->port_max, cfg->listen4.family ? cfg->listen4.text : "",
		cfg->listen4.family && cfg->listen6.family ? " and " : "",
		cfg->listen6.family ? cfg->listen6.text : "");
	*out = c;
	return 0;
err:
	mcontrol_free(c);
	return rc;
}

void mcontrol_free(struct mcontrol *c)
{
	struct evq_item *it;

	if (!c)
		return;
	for (unsigned i = 0; i < c->nw; i++)
		mworker_free(c->w[i]);
	while ((it = ev_pop(c)))
		free(it);
	mpool_free(c->pool);
	if (c->ev_fd >= 0)
		close(c->ev_fd);
	pthread_mutex_destroy(&c->evlock);
	free(c);
}
