#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "kernel.h"
#include "msrtp.h"
#include "pool.h"
#include "rp_httpd.h"
#include "rp_log.h"
#include "rp_metrics.h"
#include "rp_sdnotify.h"
#include "rp_version.h"
#include "worker.h"

#define MAX_WORKERS 256
#define EVQ_MAX 4096 /* events kept when no one reads them fast enough */

struct evq_item {
	struct mevent ev;
	struct evq_item *next;
};

/* SRTP suite per leg and direction, as last set by leg.update: the workers
 * report only on/off. Control thread only (commands and event emission). */
#define SUITE_BUCKETS 1024
struct suite_ent {
	uint64_t id;
	int16_t suite[2][2]; /* [leg][0 in, 1 out]: enum msrtp_suite, -1 = none */
	struct suite_ent *next;
};

/* What one scrape reads: gathered once by the first scrape-time callback
 * (families render in registration order), read by the others. Touched
 * only on the scraping thread with the registry lock held. */
struct msnap {
	struct mstats_total t;
	uint64_t kernel_pkts, kernel_flows, ports_total, ports_in_use;
	uint64_t other_drops; /* parse errors + no remote + protect errors */
};

struct mcontrol;
/* One scrape-time metric: which snapshot field it reads. */
struct mfield {
	struct mcontrol *c;
	size_t off; /* into struct msnap */
};
#define MF_MAX 20

struct mcontrol {
	struct mcfg cfg;
	uint64_t start_ms;       /* CLOCK_MONOTONIC at start: uptime-s */
	struct suite_ent *suites[SUITE_BUCKETS];
	rp_metrics *metrics;     /* NULL without metrics-listen */
	rp_httpd *httpd;
	struct msnap snap;
	struct mfield mf[MF_MAX]; /* the callbacks' arguments */
	struct mpool *pool;
	struct mworker *w[MAX_WORKERS];
	unsigned nw;
	struct mkern *kern;      /* kernel fast path; freed after the workers */
	uint64_t next_seq;
	uint64_t port_exhausted;
	/* worker -> control events */
	pthread_mutex_t evlock;
	struct evq_item *evhead, *evtail;
	unsigned evcount;
	uint64_t ev_dropped;
	int ev_fd;
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct suite_ent **suite_slot(struct mcontrol *c, uint64_t id)
{
	struct suite_ent **pp = &c->suites[id % SUITE_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Records a leg.update's suites (dir < 0: unchanged). Out of memory only
 * loses the names (the reply then says "srtp"), never the keys. */
static void suite_set(struct mcontrol *c, uint64_t id, int leg, int in, int out)
{
	struct suite_ent **pp = suite_slot(c, id), *e = *pp;

	if (!e) {
		if (!(e = malloc(sizeof(*e))))
			return;
		e->id = id;
		for (int i = 0; i < 2; i++)
			e->suite[i][0] = e->suite[i][1] = -1;
		e->next = NULL;
		*pp = e;
	}
	if (in != -2)
		e->suite[leg][0] = (int16_t)in;
	if (out != -2)
		e->suite[leg][1] = (int16_t)out;
}

static void suite_forget(struct mcontrol *c, uint64_t id)
{
	struct suite_ent **pp = suite_slot(c, id), *e = *pp;

	if (e) {
		*pp = e->next;
		free(e);
	}
}

static const char *suite_name(struct mcontrol *c, uint64_t id, int leg, int dir, bool on)
{
	struct suite_ent *e = *suite_slot(c, id);

	if (!on)
		return "plain";
	if (!e || e->suite[leg][dir] < 0)
		return "srtp"; /* keys set, name not known (cannot happen today) */
	return msrtp_suite_name((enum msrtp_suite)e->suite[leg][dir]);
}

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

/* brief=1 (leg.update, session.delete): the reply carries the session id
 * only. The proxy needs nothing else, and two legs' state and counters
 * were most of the control traffic of a call: encoding them here and
 * decoding them there, three times a call. */
static int opt_brief(const benc_node *req, bool *brief, char *why, size_t whysz)
{
	int64_t v = 0;
	bool have;
	int rc = opt_int(req, "brief", 0, 1, &v, &have, why, whysz);

	*brief = rc == 0 && have && v == 1;
	return rc;
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
		benc_put_kv_cstr(b, "srtp-suite-in", suite_name(c, in->id, i, 0, in->leg[i].srtp_in));
		benc_put_kv_cstr(b, "srtp-suite-out",
			suite_name(c, in->id, i, 1, in->leg[i].srtp_out));
		benc_put_kv_int(b, "kernel", in->leg[i].kernel);
		benc_put_kv_int(b, "kernel-packets-in", (int64_t)in->leg[i].kernel_pkts_in);
		benc_put_str(b, RP_STR_LIT("stats"));
		put_leg_stats(b, &in->leg[i].st);
		benc_put_end(b);
	}
}

/* ---------------- commands ---------------- */

/* Counters are the sum of both paths: adds what the module forwarded (and
 * with remove, deletes the session's flows, reading their final counters). */
static void add_kernel(struct mcontrol *c, struct msess_info *info, bool remove)
{
	struct mstats_leg kl[2];
	bool off[2];

	memset(kl, 0, sizeof(kl));
	mkern_session(c->kern, info->id, remove, kl, off);
	for (int i = 0; i < 2; i++) {
		mstats_leg_add(&info->leg[i].st, &kl[i]);
		info->leg[i].kernel = off[i];
		info->leg[i].kernel_pkts_in = kl[i].pkts_in;
	}
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
	/* Hashed: sessions take ports in steps of 4 (two legs), so a plain
	 * modulo of the port would put them all on one worker. */
	widx = (unsigned)(((uint32_t)pp[0].port * 2654435761u) >> 16) % c->nw;
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
		__atomic_fetch_add(&c->port_exhausted, 1, __ATOMIC_RELAXED); /* read by scrapes */
		snprintf(why, whysz, "no free ports: port range %u-%u exhausted",
			c->cfg.port_min, c->cfg.port_max);
	} else {
		snprintf(why, whysz, "cannot bind a media port: %s", strerror(-rc));
	}
	return rc;
}

/* srtp-in / srtp-out: a dict {suite, key, salt[, mki]} or the string "none". */
static int parse_srtp(const benc_node *req, const char *field, enum msrtp_dir dir,
	bool *have, struct msrtp **ctx, struct mleg_keys *keys, char *why, size_t whysz)
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
	/* Kept for the kernel fast path; the caller wipes what is not used. */
	keys->set = true;
	keys->mki = mki.n > 0;
	keys->suite = (uint8_t)p.suite;
	keys->key_len = (uint8_t)key.n;
	keys->salt_len = (uint8_t)salt.n;
	memcpy(keys->key, key.p, key.n);
	memcpy(keys->salt, salt.p, salt.n);
	return 0;
}

/* Media goes only to one host: never to a multicast group, the limited
 * broadcast address or the unspecified address (which an SDP may name). */
static bool v4_unicast(uint32_t v)
{
	return v != 0 && v != 0xffffffffu && (v >> 28) != 0xe;
}

static bool addr_unicast(const struct mcfg_addr *a)
{
	const uint8_t *b = a->u.v6.s6_addr;

	if (a->family == AF_INET)
		return v4_unicast(ntohl(a->u.v4.s_addr));
	if (IN6_IS_ADDR_V4MAPPED(&a->u.v6))
		return v4_unicast((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			(uint32_t)b[14] << 8 | b[15]);
	return !IN6_IS_ADDR_MULTICAST(&a->u.v6) && !IN6_IS_ADDR_UNSPECIFIED(&a->u.v6);
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
		if (!addr_unicast(&ip)) {
			snprintf(why, whysz, "field '%s' must be a unicast address, not %s",
				afield, ip.text);
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

/* One leg's update, all or nothing, in three steps: update_parse() reads
 * the fields from 'req' (the leg.update request itself, or a session.update
 * 'a'/'b' dictionary) into *cmd, making the SRTP contexts; the worker runs
 * it (the contexts are the worker's from then on, whatever the result);
 * update_finish() reports. update_discard() frees a parsed command that
 * never reached the worker. */
static int update_parse(uint64_t id, int leg, const benc_node *req, struct mcmd *pc,
	int suites[2], char *why, size_t whysz)
{
	struct mcmd cmd;
	rp_str s;
	bool have;
	int64_t v;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = MCMD_UPDATE;
	cmd.id = id;
	cmd.leg = leg;
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
	if ((rc = parse_srtp(req, "srtp-in", MSRTP_UNPROTECT, &have, &cmd.upd.in,
		     &cmd.upd.in_keys, why, whysz)) < 0)
		return rc;
	if (have)
		cmd.upd.set |= MLEG_SET_IN;
	if ((rc = parse_srtp(req, "srtp-out", MSRTP_PROTECT, &have, &cmd.upd.out,
		     &cmd.upd.out_keys, why, whysz)) < 0) {
		cmd.upd.in = msrtp_free(cmd.upd.in);
		explicit_bzero(&cmd.upd.in_keys, sizeof(cmd.upd.in_keys));
		return rc;
	}
	if (have)
		cmd.upd.set |= MLEG_SET_OUT;
	/* Read now: the worker takes the keys (kernel fast path) and wipes
	 * them. -2 unchanged, -1 "none", else the suite. */
	suites[0] = !(cmd.upd.set & MLEG_SET_IN) ? -2
		: cmd.upd.in_keys.set ? cmd.upd.in_keys.suite : -1;
	suites[1] = !(cmd.upd.set & MLEG_SET_OUT) ? -2
		: cmd.upd.out_keys.set ? cmd.upd.out_keys.suite : -1;
	*pc = cmd;
	explicit_bzero(&cmd, sizeof(cmd));
	return 0;
}

static void update_discard(struct mcmd *cmd)
{
	cmd->upd.in = msrtp_free(cmd->upd.in);
	cmd->upd.out = msrtp_free(cmd->upd.out);
	explicit_bzero(&cmd->upd.in_keys, sizeof(cmd->upd.in_keys));
	explicit_bzero(&cmd->upd.out_keys, sizeof(cmd->upd.out_keys));
}

/* rc: the worker's result. On success *info is the session's state. */
static int update_finish(struct mcontrol *c, struct mcmd *cmd, const int suites[2], int rc,
	struct msess_info *info, char *why, size_t whysz)
{
	if (rc == 0)
		suite_set(c, cmd->id, cmd->leg, suites[0], suites[1]);
	explicit_bzero(&cmd->upd.in_keys, sizeof(cmd->upd.in_keys));
	explicit_bzero(&cmd->upd.out_keys, sizeof(cmd->upd.out_keys));
	if (rc == -ENOENT) {
		snprintf(why, whysz, "field 'session': no session %" PRIu64, cmd->id);
		return rc;
	}
	if (rc == -EAFNOSUPPORT) {
		snprintf(why, whysz, "field 'address': address family differs from leg %c's",
			cmd->leg ? 'b' : 'a');
		return rc;
	}
	if (rc < 0) {
		snprintf(why, whysz, "update failed: %s", strerror(-rc));
		return rc;
	}
	/* Also runs the worker's take-back now: no packet may follow the old
	 * flow to the old remote once the reply is out. */
	add_kernel(c, &cmd->info, false);
	*info = cmd->info;
	return 0;
}

static int update_leg(struct mcontrol *c, uint64_t id, int leg, const benc_node *req,
	struct msess_info *info, char *why, size_t whysz)
{
	struct mcmd cmd;
	int suites[2], rc;

	if ((rc = update_parse(id, leg, req, &cmd, suites, why, whysz)) < 0)
		return rc;
	rc = mworker_call(worker_of(c, id), &cmd);
	return update_finish(c, &cmd, suites, rc, info, why, whysz);
}

static int cmd_update(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	struct benc_field_err fe;
	struct msess_info info;
	uint64_t id;
	rp_str s;
	bool brief;
	int leg, rc;

	if ((rc = get_session_id(req, &id, why, whysz)) < 0)
		return rc;
	if ((rc = opt_brief(req, &brief, why, whysz)) < 0)
		return rc;
	if ((rc = benc_get_str(req, "leg", &s, &fe)) < 0)
		return field_error(&fe, why, whysz, rc);
	if (rp_str_caseeq_cstr(s, "a"))
		leg = 0;
	else if (rp_str_caseeq_cstr(s, "b"))
		leg = 1;
	else {
		snprintf(why, whysz, "field 'leg' must be \"a\" or \"b\"");
		return -EINVAL;
	}
	if ((rc = update_leg(c, id, leg, req, &info, why, whysz)) < 0)
		return rc;
	if (brief)
		benc_put_kv_int(out, "session", (int64_t)id);
	else
		put_info(c, out, &info);
	return 0;
}

/* Both legs in one request (the proxy programs a and b at every answer):
 * one round trip instead of two, and one hand-off to the worker instead of
 * two (thread switches were most of mediad's CPU per call). Both legs are
 * read first (a field error changes nothing); the worker then runs a, then
 * b, each all or nothing on its own; an error names the leg, and the other
 * leg's change stays. */
static int cmd_session_update(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz)
{
	const benc_node *legs[2] = { benc_dict_get(req, "a"), benc_dict_get(req, "b") };
	struct mcmd cmd[2], *run[2];
	int suites[2][2];
	struct msess_info info;
	char sub[224];
	unsigned n = 0;
	uint64_t id;
	bool brief;
	int rc, first = 0;

	if ((rc = get_session_id(req, &id, why, whysz)) < 0)
		return rc;
	if ((rc = opt_brief(req, &brief, why, whysz)) < 0)
		return rc;
	if (!legs[0] && !legs[1]) {
		snprintf(why, whysz, "field 'a' or 'b' is required");
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		if (legs[i] && legs[i]->type != BENC_DICT) {
			snprintf(why, whysz, "field '%c' must be a dictionary", 'a' + i);
			return -EINVAL;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (!legs[i])
			continue;
		sub[0] = '\0';
		if ((rc = update_parse(id, i, legs[i], &cmd[n], suites[n], sub, sizeof(sub))) < 0) {
			for (unsigned k = 0; k < n; k++)
				update_discard(run[k]);
			snprintf(why, whysz, "leg %c: %s", 'a' + i, sub[0] ? sub : strerror(-rc));
			return rc;
		}
		run[n] = &cmd[n];
		n++;
	}
	if ((rc = mworker_call_n(worker_of(c, id), run, n)) < 0) {
		for (unsigned k = 0; k < n; k++)
			update_discard(run[k]);
		snprintf(why, whysz, "update failed: %s", strerror(-rc));
		return rc;
	}
	for (unsigned k = 0; k < n; k++) {
		struct msess_info li;

		sub[0] = '\0';
		rc = update_finish(c, run[k], suites[k], run[k]->result, &li, sub, sizeof(sub));
		if (rc < 0 && first == 0) {
			first = rc;
			snprintf(why, whysz, "leg %c: %s", 'a' + run[k]->leg,
				sub[0] ? sub : strerror(-rc));
		}
		if (rc == 0)
			info = li;
	}
	if (first < 0)
		return first;
	if (brief)
		benc_put_kv_int(out, "session", (int64_t)id);
	else
		put_info(c, out, &info);
	return 0;
}

static int cmd_by_id(struct mcontrol *c, const benc_node *req, rp_buf *out,
	char *why, size_t whysz, enum mcmd_kind kind)
{
	struct mcmd cmd;
	bool brief = false;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.kind = kind;
	if ((rc = get_session_id(req, &cmd.id, why, whysz)) < 0)
		return rc;
	if (kind == MCMD_DELETE && (rc = opt_brief(req, &brief, why, whysz)) < 0)
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
	/* After the worker's delete: no offload request for this session can
	 * follow the removal. */
	add_kernel(c, &cmd.info, kind == MCMD_DELETE);
	if (brief)
		benc_put_kv_int(out, "session", (int64_t)cmd.id);
	else
		put_info(c, out, &cmd.info);
	if (kind == MCMD_DELETE)
		suite_forget(c, cmd.id);
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
	mkern_add_totals(c->kern, &t.pkt);
	benc_put_kv_cstr(out, "engine", mworker_engine_name(c->w[0]));
	{
		struct mkern_info ki;
		mkern_get_info(c->kern, &ki);
		benc_put_kv_dict(out, "kernel");
		benc_put_kv_cstr(out, "mode", mkern_mode_name(c->cfg.kernel));
		benc_put_kv_int(out, "module", ki.present);
		benc_put_kv_int(out, "abi", ki.abi);
		benc_put_kv_cstr(out, "release", ki.present ? ki.release : "");
		benc_put_kv_int(out, "features", ki.features);
		benc_put_kv_int(out, "flows", (int64_t)ki.flows);
		benc_put_kv_int(out, "offloads", (int64_t)ki.offloads);
		benc_put_kv_int(out, "takebacks", (int64_t)ki.takebacks);
		benc_put_end(out);
	}
	benc_put_kv_int(out, "workers", c->nw);
	benc_put_kv_int(out, "uptime-s", (int64_t)((now_ms() - c->start_ms) / 1000));
	{
		/* One line for rampartctl status; the 'kernel' dict has the parts. */
		struct mkern_info ki;
		char kf[96];

		mkern_get_info(c->kern, &ki);
		if (c->cfg.kernel == MKERN_OFF)
			snprintf(kf, sizeof(kf), "off");
		else if (!ki.present)
			snprintf(kf, sizeof(kf), "%s, no module", mkern_mode_name(c->cfg.kernel));
		else
			snprintf(kf, sizeof(kf), "%s, module %.31s, %" PRIu64 " flows",
				mkern_mode_name(c->cfg.kernel), ki.release[0] ? ki.release : "?",
				ki.flows);
		benc_put_kv_cstr(out, "kernel-fastpath", kf);
	}
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
	const char *usage;
	const char *help;
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
	{ "session.create", cmd_create,
		"session.create [label=<string>] [family|family-a|family-b=IP4|IP6] "
		"[rtcp-mux=0|1] [media-timeout=<s>] [delete-timeout=<s>]",
		"allocate ports for legs A and B; returns session, a/b {family, address, "
		"port, rtcp-port}", true },
	{ "leg.update", cmd_update,
		"leg.update session=<int> leg=a|b [address=<ip> port=<int>] "
		"[rtcp-address=<ip>] [rtcp-port=<int>] [srtp-in=<dict>|none] "
		"[srtp-out=<dict>|none] [latch=off|on|strict] [rtcp-mux=0|1] [brief=0|1]",
		"set a leg's remote, SRTP keys ({suite, key, salt, mki}), latching, rtcp-mux; "
		"all or nothing; returns the session's state (brief=1: its id only)", true },
	{ "session.update", cmd_session_update,
		"session.update session=<int> [a=<dict>] [b=<dict>] [brief=0|1]",
		"leg.update for both legs in one request: a and b hold leg.update's fields; "
		"a first, then b, each all or nothing", true },
	{ "session.delete", cmd_delete, "session.delete session=<int> [brief=0|1]",
		"delete a session; returns its final state and counters (brief=1: its id "
		"only)", true },
	{ "session.query", cmd_query, "session.query session=<int>",
		"a session's state and per-leg counters", false },
	{ "session.list", cmd_list, "session.list", "ids of all sessions", false },
	{ "stats", cmd_stats, "stats", "global counters, engine, workers, ports", false },
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

/* ---------------- transport: common/ctl ---------------- */

#define MSG_MAX (256 * 1024) /* session.list of many thousands of ids */

struct binding {
	struct mcontrol *c;
	int (*fn)(struct mcontrol *, const benc_node *, rp_buf *, char *, size_t);
};

static struct binding bindings[sizeof(commands) / sizeof(commands[0])];

static int on_ctl_request(ctl_req *req, rp_buf *resp, void *arg)
{
	struct binding *bd = arg;
	char why[256] = "";
	int rc = bd->fn(bd->c, ctl_req_args(req), resp, why, sizeof(why));

	if (rc < 0)
		return ctl_req_error(req, "%s", why[0] ? why : strerror(-rc));
	return rp_buf_error(resp);
}

static void emit_events(struct mcontrol *c, ctl_server *srv)
{
	struct evq_item *it;
	uint64_t v;

	if (read(c->ev_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rp_warn("control: eventfd read: %s", strerror(errno));
	while ((it = ev_pop(c))) {
		rp_buf b;

		rp_buf_init(&b, MSG_MAX);
		benc_put_kv_int(&b, "session", (int64_t)it->ev.id);
		if (it->ev.label[0])
			benc_put_kv_cstr(&b, "label", it->ev.label);
		benc_put_kv_int(&b, "idle-ms", (int64_t)it->ev.idle_ms);
		benc_put_kv_int(&b, "deleted", it->ev.deleted);
		benc_put_str(&b, RP_STR_LIT("a"));
		put_leg_stats(&b, &it->ev.leg[0]);
		benc_put_str(&b, RP_STR_LIT("b"));
		put_leg_stats(&b, &it->ev.leg[1]);
		if (rp_buf_error(&b) == 0 && ctl_server_emit(srv, "timeout", &b) < 0)
			rp_warn_rl("control: cannot emit timeout event for session %" PRIu64,
				it->ev.id);
		rp_buf_free(&b);
		if (it->ev.deleted)
			suite_forget(c, it->ev.id);
		free(it);
	}
}

static int make_run_dir(const char *path)
{
	char dir[MCFG_PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	/* e.g. /run/rampart: private to the daemon and its group */
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		int rc = -errno;
		rp_err("control: mkdir %s: %s", dir, strerror(errno));
		return rc;
	}
	return 0;
}

static int server_start(struct mcontrol *c, const char *path, mode_t mode,
	const char *group, bool read_only, ctl_server **out)
{
	struct ctl_server_opts o;
	struct ctl_command cmds[sizeof(commands) / sizeof(commands[0])];
	gid_t gid = (gid_t)-1;
	ctl_server *srv;
	int rc;

	if ((rc = make_run_dir(path)) < 0)
		return rc;
	if (group[0]) {
		struct group *g = getgrnam(group);
		if (!g) {
			rp_err("%s '%s': no such group", read_only ? "control-readonly-group" :
				"control-group", group);
			return -EINVAL;
		}
		gid = g->gr_gid;
	}
	memset(&o, 0, sizeof(o));
	o.name = "rampart-mediad";
	o.software = RAMPART_VERSION;
	o.max_msg = MSG_MAX;
	/* The socket's group is the list of who may drive media (the proxy
	 * runs as a member): they need state-changing commands. */
	o.group_access = CTL_ACCESS_ADMIN;
	/* Monitoring: everyone on it only looks, whatever their uid. */
	o.read_only = read_only;
	o.start_ms = c->start_ms;   /* both CLOCK_MONOTONIC (rp_now_ms) */
	rc = ctl_server_listen(path, mode, gid, &o, &srv);
	if (rc < 0) {
		rp_err("control socket %s: %s", path, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		bindings[i].c = c;
		bindings[i].fn = commands[i].fn;
		cmds[i] = (struct ctl_command){
			.name = commands[i].name,
			.fn = on_ctl_request,
			.usage = commands[i].usage,
			.help = commands[i].help,
			.access = commands[i].admin ? CTL_ACCESS_ADMIN : CTL_ACCESS_READ,
			.arg = &bindings[i],
		};
	}
	if ((rc = ctl_server_register(srv, cmds, sizeof(cmds) / sizeof(cmds[0]))) < 0 ||
	    (rc = ctl_server_add_event(srv, "timeout",
		     "a session had no media for media-timeout (deleted=0) or "
		     "delete-timeout (deleted=1, it is gone)")) < 0) {
		rp_err("control: registering commands: %s", strerror(-rc));
		ctl_server_free(srv);
		return rc;
	}
	*out = srv;
	return 0;
}

int mcontrol_run(struct mcontrol *c, volatile sig_atomic_t *stop)
{
	ctl_server *srv, *ro = NULL;
	struct epoll_event ev;
	int epfd, rc;

	if ((rc = server_start(c, c->cfg.control_path, c->cfg.control_mode,
		c->cfg.control_group, false, &srv)) < 0)
		return rc;
	if (c->cfg.control_ro_path[0] &&
	    (rc = server_start(c, c->cfg.control_ro_path, c->cfg.control_ro_mode,
		c->cfg.control_ro_group, true, &ro)) < 0) {
		ctl_server_free(srv);
		return rc;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		rc = -errno;
		ctl_server_free(ro);
		ctl_server_free(srv);
		return rc;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = 0;
	epoll_ctl(epfd, EPOLL_CTL_ADD, ctl_server_fd(srv), &ev);
	ev.data.u32 = 1;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->ev_fd, &ev);
	if (ro) {
		ev.data.u32 = 2;
		epoll_ctl(epfd, EPOLL_CTL_ADD, ctl_server_fd(ro), &ev);
		rp_notice("read-only control socket %s ready", c->cfg.control_ro_path);
	}
	rp_notice("control socket %s ready", c->cfg.control_path);
	/* Ready = the proxy can create sessions now (Type=notify units). */
	if ((rc = rp_sdnotify_ready()) < 0)
		rp_warn("sd_notify READY: %s", strerror(-rc));
	rc = 0;
	while (!*stop) {
		struct epoll_event evs[4];
		int n = epoll_wait(epfd, evs, 4, 500);

		/* Summaries of rate-limited lines whose flood stopped. */
		(void)rp_log_rl_flush(false);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 1) {
				emit_events(c, srv);
			} else if (evs[i].data.u32 == 2) {
				/* A broken read-only socket is not worth stopping for. */
				if (ro && ctl_server_handle(ro) < 0) {
					rp_warn("read-only control socket failed; closing it");
					epoll_ctl(epfd, EPOLL_CTL_DEL, ctl_server_fd(ro), NULL);
					ctl_server_free(ro);
					ro = NULL;
				}
			} else if ((rc = ctl_server_handle(srv)) < 0) {
				rp_err("control: server failed: %s", strerror(-rc));
				break;
			}
		}
		if (rc < 0)
			break;
	}
	(void)rp_sdnotify_stopping(); /* best effort: systemd times out anyway */
	(void)rp_log_rl_flush(true);
	close(epfd);
	ctl_server_free(ro);
	ctl_server_free(srv);
	return rc;
}

/* ---------------- metrics (scrape time only: nothing on the packet path) ---------------- */

static void snap_take(struct mcontrol *c)
{
	struct msnap *s = &c->snap;
	struct mstats_leg kl;
	struct mkern_info ki;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < c->nw; i++) {
		struct mcmd cmd;

		memset(&cmd, 0, sizeof(cmd));
		cmd.kind = MCMD_STATS;
		if (mworker_call(c->w[i], &cmd) == 0)
			mstats_total_add(&s->t, &cmd.total);
	}
	memset(&kl, 0, sizeof(kl));
	mkern_add_totals(c->kern, &kl);
	mstats_leg_add(&s->t.pkt, &kl);
	s->kernel_pkts = kl.pkts_in;
	mkern_get_info(c->kern, &ki);
	s->kernel_flows = ki.flows;
	s->other_drops = s->t.pkt.parse_err + s->t.pkt.no_remote + s->t.pkt.protect_err;
	s->ports_total = mpool_capacity(c->pool);
	s->ports_in_use = mpool_in_use(c->pool);
	/* control-thread counter; a torn read is impossible on 64-bit */
	s->t.port_exhausted = __atomic_load_n(&c->port_exhausted, __ATOMIC_RELAXED);
}

static int64_t mf_read(void *arg)
{
	const struct mfield *f = arg;

	return (int64_t)*(const uint64_t *)((const char *)&f->c->snap + f->off);
}

/* The first family rendered: refreshes the snapshot for all the others. */
static int64_t mf_first(void *arg)
{
	struct mfield *f = arg;

	snap_take(f->c);
	return mf_read(arg);
}

#define SNAP(field) offsetof(struct msnap, field)

static int metrics_start(struct mcontrol *c)
{
	static const struct {
		bool counter;
		const char *name, *help;
		size_t off;
	} defs[] = {
		{ false, "rampart_media_sessions_active", "Media sessions (calls) alive",
		  SNAP(t.sessions_active) },
		{ true, "rampart_media_sessions_total", "Media sessions created since start",
		  SNAP(t.sessions_created) },
		{ true, "rampart_media_sessions_timed_out_total",
		  "Sessions deleted because no media arrived for delete-timeout",
		  SNAP(t.sessions_timed_out) },
		{ true, "rampart_media_packets_received_total",
		  "RTP/RTCP packets received and accepted, all legs", SNAP(t.pkt.pkts_in) },
		{ true, "rampart_media_packets_sent_total", "RTP/RTCP packets sent, all legs",
		  SNAP(t.pkt.pkts_out) },
		{ true, "rampart_media_received_bytes_total",
		  "Bytes of accepted RTP/RTCP packets received, all legs", SNAP(t.pkt.bytes_in) },
		{ true, "rampart_media_sent_bytes_total", "Bytes of RTP/RTCP packets sent, all legs",
		  SNAP(t.pkt.bytes_out) },
		{ true, "rampart_media_srtp_auth_failures_total",
		  "SRTP/SRTCP packets dropped because authentication failed", SNAP(t.pkt.auth_fail) },
		{ true, "rampart_media_srtp_replay_drops_total",
		  "SRTP/SRTCP packets dropped by the replay check", SNAP(t.pkt.replay) },
		{ true, "rampart_media_source_mismatch_total",
		  "Packets dropped because they came from an address other than the latched one",
		  SNAP(t.pkt.src_mismatch) },
		{ true, "rampart_media_dropped_total",
		  "Other drops: not RTP/RTCP, no remote yet, protect failures", SNAP(other_drops) },
		{ true, "rampart_media_malformed_total",
		  "RTP/RTCP packets dropped because their header contradicts itself (CSRC count, "
		  "extension or padding past the end, RTCP lengths)", SNAP(t.pkt.malformed) },
		{ true, "rampart_media_send_errors_total", "sendmsg/sendmmsg failures",
		  SNAP(t.send_err) },
		{ true, "rampart_media_rx_overflows_total", "Times the receive buffer ring ran empty",
		  SNAP(t.rx_overflow) },
		{ false, "rampart_media_ports",
		  "Media port pairs (even RTP ports) in the configured range",
		  SNAP(ports_total) },
		{ false, "rampart_media_ports_in_use",
		  "Media port pairs bound by session legs",
		  SNAP(ports_in_use) },
		{ true, "rampart_media_port_exhausted_total",
		  "Session creations refused because no port pair was free", SNAP(t.port_exhausted) },
		{ false, "rampart_media_kernel_streams_active",
		  "Streams offloaded to the rampart kernel module", SNAP(kernel_flows) },
		{ true, "rampart_media_kernel_packets_total",
		  "Packets forwarded by the kernel module (read from it at scrape time)",
		  SNAP(kernel_pkts) },
	};
	_Static_assert(sizeof(defs) / sizeof(defs[0]) <= MF_MAX, "mf[] too small");
	rp_httpd_cfg hc;
	int rc;

	if (!c->cfg.metrics_on)
		return 0;
	if ((rc = rp_metrics_new(&c->metrics)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		rp_metric_fn fn = i == 0 ? mf_first : mf_read;

		c->mf[i] = (struct mfield){ .c = c, .off = defs[i].off };
		rc = defs[i].counter
			? rp_metrics_counter_fn(c->metrics, defs[i].name, defs[i].help, fn, &c->mf[i])
			: rp_metrics_gauge_fn(c->metrics, defs[i].name, defs[i].help, fn, &c->mf[i]);
		if (rc < 0) {
			rp_err("metrics: %s: %s", defs[i].name, strerror(-rc));
			return rc;
		}
	}
	memset(&hc, 0, sizeof(hc));
	hc.addr = c->cfg.metrics_addr.text;
	hc.port = c->cfg.metrics_port;
	hc.metrics = c->metrics;
	if ((rc = rp_httpd_start(&hc, &c->httpd)) < 0) {
		rp_err("metrics-listen %s port %u: %s", c->cfg.metrics_addr.text,
			c->cfg.metrics_port, strerror(-rc));
		return rc;
	}
	rp_notice("metrics on http://%s%s%s:%u/metrics",
		c->cfg.metrics_addr.family == AF_INET6 ? "[" : "", c->cfg.metrics_addr.text,
		c->cfg.metrics_addr.family == AF_INET6 ? "]" : "", rp_httpd_port(c->httpd));
	return 0;
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
	{
		char kerr[200] = "";
		if ((rc = mkern_new(cfg->kernel, kerr, sizeof(kerr), &c->kern)) < 0) {
			rp_err("%s", kerr[0] ? kerr : strerror(-rc));
			goto err;
		}
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
			.batch_wait_us = cfg->batch_wait_us,
			.batch_size = cfg->batch_size,
			.socket_rcvbuf = cfg->socket_rcvbuf,
			.pool = c->pool,
			.on_event = on_event,
			.event_ctx = c,
			.kern = cfg->kernel == MKERN_OFF ? NULL : c->kern,
		};
		if ((rc = mworker_new(&wc, &c->w[i])) < 0) {
			rp_err("worker %u: cannot start the %s engine: %s", i,
				mcfg_engine_name(cfg->engine), strerror(-rc));
			goto err;
		}
	}
	c->start_ms = now_ms();
	if ((rc = metrics_start(c)) < 0)
		goto err;
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
	/* The scraper asks the workers: it goes first. */
	rp_httpd_stop(c->httpd);
	rp_metrics_free(c->metrics);
	for (unsigned i = 0; i < c->nw; i++)
		mworker_free(c->w[i]);
	mkern_free(c->kern); /* workers gone: nothing posts to it any more */
	while ((it = ev_pop(c)))
		free(it);
	for (unsigned b = 0; b < SUITE_BUCKETS; b++)
		while (c->suites[b])
			suite_forget(c, c->suites[b]->id);
	mpool_free(c->pool);
	if (c->ev_fd >= 0)
		close(c->ev_fd);
	pthread_mutex_destroy(&c->evlock);
	free(c);
}
